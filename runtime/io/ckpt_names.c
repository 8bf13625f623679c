/* Editable name lists over checkpoint records, and the RGB-to-gray kernel helper. Every edit computes the new
 * list completely, checks it for collisions, and only then replaces the old one. */
#include "prior/ckpt_names.h"

#include <stdlib.h>
#include <string.h>

#include "io/ckpt_names_internal.h"

void prior_ckpt_names_free(prior_ckpt_names *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) free(m->names[i]);
  free(m->names);
  free(m->source);
  free(m->by_name);
  free(m);
}

static _Thread_local char *const *tls_names;

static int by_name(const void *a, const void *b) {
  return strcmp(tls_names[*(const size_t *)a], tls_names[*(const size_t *)b]);
}

/* Sorted positions of `names`; NULL when out of memory. *dup receives a repeated position or -1. */
static size_t *sort_names(char *const *names, size_t n, long long *dup) {
  size_t *idx = malloc((n ? n : 1) * sizeof *idx);
  if (!idx) return NULL;
  for (size_t i = 0; i < n; i++) idx[i] = i;
  tls_names = names;
  qsort(idx, n, sizeof *idx, by_name);
  *dup = -1;
  for (size_t i = 1; i < n && *dup < 0; i++)
    if (strcmp(names[idx[i - 1]], names[idx[i]]) == 0) *dup = (long long)idx[i];
  return idx;
}

prior_status prior_ckpt_names_new(const prior_ckpt_tensor *tensors, size_t n, prior_ckpt_names **out) {
  if (!out || (n && !tensors)) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_ckpt_names_new: NULL argument");
  *out = NULL;
  prior_ckpt_names *m = calloc(1, sizeof *m);
  if (!m) return prior_error_set(PRIOR_ERR_MEMORY, "checkpoint names: out of memory");
  m->tensors = tensors;
  m->names = calloc(n + 1, sizeof *m->names);
  m->source = calloc(n + 1, sizeof *m->source);
  prior_status s = m->names && m->source ? PRIOR_OK : PRIOR_ERR_MEMORY;
  for (size_t i = 0; i < n && s == PRIOR_OK; i++) {
    if (!tensors[i].name) {
      s = prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: record %zu has no name", i);
      break;
    }
    if (!(m->names[i] = strdup(tensors[i].name))) s = PRIOR_ERR_MEMORY;
    m->source[i] = i;
    m->n = i + 1;
  }
  long long dup = -1;
  if (s == PRIOR_OK && !(m->by_name = sort_names(m->names, m->n, &dup))) s = PRIOR_ERR_MEMORY;
  if (s == PRIOR_OK && dup >= 0)
    s = prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: \"%s\" appears twice", m->names[dup]);
  if (s == PRIOR_ERR_MEMORY) prior_error_set(PRIOR_ERR_MEMORY, "checkpoint names: out of memory");
  if (s != PRIOR_OK) {
    prior_ckpt_names_free(m);
    return s;
  }
  *out = m;
  return PRIOR_OK;
}

size_t prior_ckpt_names_count(const prior_ckpt_names *m) { return m ? m->n : 0; }
const char *prior_ckpt_names_name(const prior_ckpt_names *m, size_t i) { return m && i < m->n ? m->names[i] : NULL; }
const prior_ckpt_tensor *prior_ckpt_names_tensor(const prior_ckpt_names *m, size_t i) {
  return m && i < m->n ? &m->tensors[m->source[i]] : NULL;
}

long long prior_ckpt_names_lookup(const prior_ckpt_names *m, const char *name) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(m->names[m->by_name[mid]], name);
    if (c == 0) return (long long)m->by_name[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

const prior_ckpt_tensor *prior_ckpt_names_find(const prior_ckpt_names *m, const char *name) {
  if (!m || !name) return NULL;
  long long i = prior_ckpt_names_lookup(m, name);
  return i < 0 ? NULL : &m->tensors[m->source[i]];
}

/* ---- edits ------------------------------------------------------------------------------------------- */

/* Rewrites one name: returns 0 to keep it unchanged, 1 with *out set to a new malloc'd name, 2 to drop it,
 * -1 when out of memory. */
typedef int (*name_edit)(const char *name, const void *arg, char **out);

static prior_status apply(prior_ckpt_names *m, name_edit edit, const void *arg, const char *what, size_t *changed) {
  if (!m) return prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: NULL list");
  char **names = calloc(m->n + 1, sizeof *names);
  size_t *source = calloc(m->n + 1, sizeof *source);
  size_t n = 0, count = 0;
  prior_status s = names && source ? PRIOR_OK : PRIOR_ERR_MEMORY;
  for (size_t i = 0; i < m->n && s == PRIOR_OK; i++) {
    char *renamed = NULL;
    int r = edit(m->names[i], arg, &renamed);
    if (r < 0 || (r == 0 && !(renamed = strdup(m->names[i])))) {
      s = PRIOR_ERR_MEMORY;
      break;
    }
    if (r) count++;
    if (r == 2) continue;
    names[n] = renamed;
    source[n++] = m->source[i];
  }
  long long dup = -1;
  size_t *idx = s == PRIOR_OK ? sort_names(names, n, &dup) : NULL;
  if (s == PRIOR_OK && !idx) s = PRIOR_ERR_MEMORY;
  if (s == PRIOR_OK && dup >= 0) {
    /* Name both originals so the user sees which records collided. */
    const char *first = NULL;
    for (size_t i = 0; i < n && !first; i++)
      if ((long long)i != dup && strcmp(names[i], names[dup]) == 0) first = m->tensors[source[i]].name;
    s = prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: %s would give \"%s\" and \"%s\" the same name \"%s\"",
                        what, first ? first : "?", m->tensors[source[dup]].name, names[dup]);
  }
  if (s == PRIOR_ERR_MEMORY) prior_error_set(PRIOR_ERR_MEMORY, "checkpoint names: out of memory");
  if (s != PRIOR_OK) {
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
    free(source);
    free(idx);
    return s;
  }
  for (size_t i = 0; i < m->n; i++) free(m->names[i]);
  free(m->names);
  free(m->source);
  free(m->by_name);
  m->names = names;
  m->source = source;
  m->by_name = idx;
  m->n = n;
  if (changed) *changed = count;
  return PRIOR_OK;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

static char *concat(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b);
  char *s = malloc(an + bn + 1);
  if (!s) return NULL;
  memcpy(s, a, an);
  memcpy(s + an, b, bn + 1);
  return s;
}

static int edit_strip(const char *name, const void *arg, char **out) {
  const char *prefix = arg;
  if (!starts_with(name, prefix)) return 0;
  return (*out = strdup(name + strlen(prefix))) ? 1 : -1;
}

static int edit_add(const char *name, const void *arg, char **out) {
  const char *prefix = arg;
  return (*out = concat(prefix, strlen(prefix), name)) ? 1 : -1;
}

static int edit_drop(const char *name, const void *prefix, char **out) { return starts_with(name, prefix) ? 2 : 0; }

static int edit_drop_counter(const char *name, const void *unused, char **out) {
  return strcmp(name, "num_batches_tracked") == 0 || ends_with(name, ".num_batches_tracked") ? 2 : 0;
}

static int edit_gamma_beta(const char *name, const void *unused, char **out) {
  size_t n = strlen(name);
  if (ends_with(name, "LayerNorm.gamma")) return (*out = concat(name, n - 5, "weight")) ? 1 : -1;
  if (ends_with(name, "LayerNorm.beta")) return (*out = concat(name, n - 4, "bias")) ? 1 : -1;
  return 0;
}

/* A renaming rule: `from` matches the start of a name, each '*' one non-empty dotted component; the k-th '*' of
 * `to` receives what the k-th '*' of `from` matched, and the rest of the name follows unchanged. */
#define RENAME_MAX_STARS 8
typedef struct rename_rule {
  const char *from, *to;
} rename_rule;

/* Length of `name` that `from` matches as a prefix, or -1; caps/cap_len receive the '*' matches. */
static long match_rule(const char *name, const char *from, const char **caps, size_t *cap_len) {
  size_t i = 0;
  int k = 0;
  for (const char *f = from; *f; f++) {
    if (*f == '*') {
      size_t start = i;
      while (name[i] && name[i] != '.') i++;
      if (i == start || k == RENAME_MAX_STARS) return -1;
      caps[k] = name + start;
      cap_len[k++] = i - start;
    } else if (name[i] == *f) {
      i++;
    } else {
      return -1;
    }
  }
  return (long)i;
}

static int edit_rename(const char *name, const void *arg, char **out) {
  const rename_rule *r = arg;
  const char *caps[RENAME_MAX_STARS];
  size_t cap_len[RENAME_MAX_STARS];
  long matched = match_rule(name, r->from, caps, cap_len);
  if (matched < 0) return 0;
  size_t len = strlen(name + matched) + 1;
  int k = 0;
  for (const char *t = r->to; *t; t++) len += *t == '*' ? cap_len[k++] : 1;
  char *s = malloc(len);
  if (!s) return -1;
  size_t n = 0;
  k = 0;
  for (const char *t = r->to; *t; t++) {
    if (*t == '*') {
      memcpy(s + n, caps[k], cap_len[k]);
      n += cap_len[k++];
    } else {
      s[n++] = *t;
    }
  }
  strcpy(s + n, name + matched);
  if (strcmp(s, name) == 0) { /* a rule that maps a name to itself changes nothing */
    free(s);
    return 0;
  }
  *out = s;
  return 1;
}

static int count_stars(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '*';
  return n;
}

prior_status prior_ckpt_names_rename(prior_ckpt_names *m, const char *from, const char *to, size_t *changed) {
  if (!from || !from[0] || !to) return prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: empty renaming rule");
  int nf = count_stars(from), nt = count_stars(to);
  if (nf > RENAME_MAX_STARS || nt > nf)
    return prior_error_set(PRIOR_ERR_ARGUMENT,
                           "checkpoint names: rule '%s' -> '%s' has %d '*' in the target for %d in the source (at most %d)",
                           from, to, nt, nf, RENAME_MAX_STARS);
  rename_rule r = {from, to};
  return apply(m, edit_rename, &r, "renaming", changed);
}

prior_status prior_ckpt_names_strip_prefix(prior_ckpt_names *m, const char *prefix, size_t *changed) {
  if (!prefix || !prefix[0]) return prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: empty prefix to strip");
  return apply(m, edit_strip, prefix, "stripping the prefix", changed);
}

prior_status prior_ckpt_names_add_prefix(prior_ckpt_names *m, const char *prefix, size_t *changed) {
  if (!prefix) return prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: NULL prefix");
  return apply(m, edit_add, prefix, "adding the prefix", changed);
}

prior_status prior_ckpt_names_drop_prefix(prior_ckpt_names *m, const char *prefix, size_t *changed) {
  if (!prefix || !prefix[0]) return prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint names: empty prefix to drop");
  return apply(m, edit_drop, prefix, "dropping", changed);
}

prior_status prior_ckpt_names_drop_num_batches_tracked(prior_ckpt_names *m, size_t *changed) {
  return apply(m, edit_drop_counter, NULL, "dropping", changed);
}

prior_status prior_ckpt_names_layernorm_gamma_beta(prior_ckpt_names *m, size_t *changed) {
  return apply(m, edit_gamma_beta, NULL, "renaming gamma/beta", changed);
}

/* ---- RGB kernels ------------------------------------------------------------------------------------- */

prior_status prior_ckpt_sum_rgb_kernel(const prior_ckpt_tensor *in, void *out, size_t out_nbytes) {
  if (!in || !out) return prior_error_set(PRIOR_ERR_ARGUMENT, "sum_rgb_kernel: NULL argument");
  char sh[128];
  if (in->ndim != 4 || in->shape[1] != 3)
    return prior_error_set(PRIOR_ERR_SHAPE, "sum_rgb_kernel: %s has shape %s, expected [out, 3, kh, kw]",
                           in->name ? in->name : "kernel", prior_shape_str(sh, sizeof sh, in->ndim, in->shape));
  if (in->dtype != PRIOR_CKPT_F32 && in->dtype != PRIOR_CKPT_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "sum_rgb_kernel: %s is %s; only F32 and F64 kernels are summed",
                           in->name ? in->name : "kernel", prior_ckpt_dtype_name(in->dtype));
  size_t esize = prior_ckpt_dtype_size(in->dtype);
  size_t o = (size_t)in->shape[0], hw = (size_t)(in->shape[2] * in->shape[3]);
  if (in->nbytes != o * 3 * hw * esize || (in->nbytes && !in->data))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "sum_rgb_kernel: %s: record holds %zu bytes, its shape needs %zu",
                           in->name ? in->name : "kernel", in->nbytes, o * 3 * hw * esize);
  if (out_nbytes < o * hw * esize)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "sum_rgb_kernel: output holds %zu bytes, %zu needed", out_nbytes,
                           o * hw * esize);
  for (size_t i = 0; i < o; i++)
    for (size_t k = 0; k < hw; k++) {
      if (in->dtype == PRIOR_CKPT_F32) {
        const float *w = (const float *)in->data + i * 3 * hw + k;
        ((float *)out)[i * hw + k] = w[0] + w[hw] + w[2 * hw];
      } else {
        const double *w = (const double *)in->data + i * 3 * hw + k;
        ((double *)out)[i * hw + k] = w[0] + w[hw] + w[2 * hw];
      }
    }
  return PRIOR_OK;
}
