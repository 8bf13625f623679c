/* The match report: which of a model's parameters a checkpoint fills, and what is missing, left over or of
 * another shape. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/ckpt_names_internal.h"

typedef struct {
  char **items;
  size_t n, cap;
} str_list;

struct prior_ckpt_match {
  str_list missing, unexpected, mismatch;
  str_list mismatch_detail; /* "name model [a, b] checkpoint [c]", for the error text */
  const prior_ckpt_tensor **source; /* per expected entry */
  size_t n_expected;
  char *summary;
  size_t summary_len, summary_cap;
};

static int list_add(str_list *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    char **items = realloc(l->items, cap * sizeof *items);
    if (!items) return -1;
    l->items = items;
    l->cap = cap;
  }
  if (!(l->items[l->n] = strdup(s))) return -1;
  l->n++;
  return 0;
}

static void list_free(str_list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
}

static int summary_add(prior_ckpt_match *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int summary_add(prior_ckpt_match *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  if (r->summary_cap - r->summary_len < (size_t)n + 1) {
    size_t cap = r->summary_cap ? r->summary_cap : 256;
    while (cap - r->summary_len < (size_t)n + 1) cap *= 2;
    char *s = realloc(r->summary, cap);
    if (!s) return -1;
    r->summary = s;
    r->summary_cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(r->summary + r->summary_len, r->summary_cap - r->summary_len, fmt, ap);
  va_end(ap);
  r->summary_len += (size_t)n;
  return 0;
}

void prior_ckpt_match_free(prior_ckpt_match *r) {
  if (!r) return;
  list_free(&r->missing);
  list_free(&r->unexpected);
  list_free(&r->mismatch);
  list_free(&r->mismatch_detail);
  free(r->source);
  free(r->summary);
  free(r);
}

static int same_shape(const prior_ckpt_expect *e, const prior_ckpt_tensor *t) {
  if (e->ndim != t->ndim) return 0;
  for (int d = 0; d < e->ndim; d++)
    if (e->shape[d] != t->shape[d]) return 0;
  return 1;
}

static prior_status build(prior_ckpt_match *r, const prior_ckpt_expect *expected, size_t n_expected,
                          const prior_ckpt_names *names) {
  char *used = calloc(names->n + 1, 1);
  r->source = calloc(n_expected + 1, sizeof *r->source);
  r->n_expected = n_expected;
  int err = !used || !r->source || summary_add(r, "%s", "");
  for (size_t i = 0; i < n_expected && !err; i++) {
    const prior_ckpt_expect *e = &expected[i];
    long long k = prior_ckpt_names_lookup(names, e->name);
    if (k < 0) {
      err = list_add(&r->missing, e->name) || summary_add(r, "missing: %s\n", e->name);
      continue;
    }
    if (used[k]) {
      free(used);
      return prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint match: the model lists \"%s\" twice", e->name);
    }
    used[k] = 1;
    const prior_ckpt_tensor *t = &names->tensors[names->source[k]];
    if (same_shape(e, t)) {
      r->source[i] = t;
      continue;
    }
    char a[128], b[128], detail[512];
    prior_shape_str(a, sizeof a, e->ndim, e->shape);
    prior_shape_str(b, sizeof b, t->ndim, t->shape);
    snprintf(detail, sizeof detail, "%s model %s checkpoint %s", e->name, a, b);
    err = list_add(&r->mismatch, e->name) || list_add(&r->mismatch_detail, detail) ||
          summary_add(r, "shape: %s\n", detail);
  }
  for (size_t k = 0; k < names->n && !err; k++)
    if (!used[k])
      err = list_add(&r->unexpected, names->names[k]) || summary_add(r, "unexpected: %s\n", names->names[k]);
  free(used);
  return err ? prior_error_set(PRIOR_ERR_MEMORY, "checkpoint match: out of memory") : PRIOR_OK;
}

prior_status prior_ckpt_match_new(const prior_ckpt_expect *expected, size_t n_expected, const prior_ckpt_names *names,
                                  prior_ckpt_match **out) {
  if (!out || !names || (n_expected && !expected))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_ckpt_match_new: NULL argument");
  *out = NULL;
  for (size_t i = 0; i < n_expected; i++)
    if (!expected[i].name || expected[i].ndim < 0 || expected[i].ndim > PRIOR_CKPT_MAX_DIMS)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "checkpoint match: expected entry %zu has no name or a bad ndim", i);
  prior_ckpt_match *r = calloc(1, sizeof *r);
  if (!r) return prior_error_set(PRIOR_ERR_MEMORY, "checkpoint match: out of memory");
  prior_status s = build(r, expected, n_expected, names);
  if (s != PRIOR_OK) {
    prior_ckpt_match_free(r);
    return s;
  }
  *out = r;
  return PRIOR_OK;
}

/* Appends "label (a, b, c and 4 more)" to buf, keeping within its capacity. */
static void list_text(char *buf, size_t cap, const char *label, const str_list *l) {
  if (!l->n) return;
  size_t len = strlen(buf);
  len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%zu %s (", len ? ", " : "", l->n, label);
  size_t shown = 0;
  for (; shown < l->n && shown < 6; shown++)
    len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", shown ? ", " : "", l->items[shown]);
  if (shown < l->n) len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, " and %zu more", l->n - shown);
  snprintf(buf + len, len < cap ? cap - len : 0, ")");
}

prior_status prior_ckpt_match_require(const prior_ckpt_match *r, const char *source) {
  if (!r) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_ckpt_match_require: NULL report");
  if (!r->missing.n && !r->unexpected.n && !r->mismatch.n) return PRIOR_OK;
  char text[720] = "";
  list_text(text, sizeof text, "missing", &r->missing);
  list_text(text, sizeof text, "unexpected", &r->unexpected);
  list_text(text, sizeof text, "of another shape", &r->mismatch_detail);
  prior_status code = r->missing.n || r->unexpected.n ? PRIOR_ERR_FORMAT : PRIOR_ERR_SHAPE;
  return prior_error_set(code, "%s: checkpoint does not fit the model: %s", source ? source : "checkpoint", text);
}

prior_status prior_ckpt_match_check(const prior_ckpt_expect *expected, size_t n_expected, const prior_ckpt_names *names,
                                    int lenient, const char *source, prior_ckpt_match **out) {
  PRIOR_TRY(prior_ckpt_match_new(expected, n_expected, names, out));
  if (lenient) return PRIOR_OK;
  prior_status s = prior_ckpt_match_require(*out, source);
  if (s != PRIOR_OK) {
    prior_ckpt_match_free(*out);
    *out = NULL;
  }
  return s;
}

size_t prior_ckpt_match_missing_count(const prior_ckpt_match *r) { return r ? r->missing.n : 0; }
size_t prior_ckpt_match_unexpected_count(const prior_ckpt_match *r) { return r ? r->unexpected.n : 0; }
size_t prior_ckpt_match_mismatch_count(const prior_ckpt_match *r) { return r ? r->mismatch.n : 0; }
const char *prior_ckpt_match_missing(const prior_ckpt_match *r, size_t i) {
  return r && i < r->missing.n ? r->missing.items[i] : NULL;
}
const char *prior_ckpt_match_unexpected(const prior_ckpt_match *r, size_t i) {
  return r && i < r->unexpected.n ? r->unexpected.items[i] : NULL;
}
const char *prior_ckpt_match_mismatch(const prior_ckpt_match *r, size_t i) {
  return r && i < r->mismatch.n ? r->mismatch.items[i] : NULL;
}
const prior_ckpt_tensor *prior_ckpt_match_source(const prior_ckpt_match *r, size_t i) {
  return r && i < r->n_expected ? r->source[i] : NULL;
}
const char *prior_ckpt_match_summary(const prior_ckpt_match *r) { return r && r->summary ? r->summary : ""; }
