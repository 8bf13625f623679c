/* Checkpoint loading (safetensors or PyTorch, name fitting, match report) and atomic saving. */
#include "prior/nn_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prior/ckpt_names.h"
#include "prior/safetensors.h"
#include "prior/torchfile.h"

prior_load_options prior_load_options_default(void) {
  prior_load_options o = {0};
  return o;
}

/* Applies fn to each comma-separated item of list. */
static prior_status for_each_item(prior_ckpt_names *names, const char *list,
                                  prior_status (*fn)(prior_ckpt_names *, const char *, size_t *)) {
  if (!list) return PRIOR_OK;
  char item[512];
  const char *p = list;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= sizeof item) return prior_error_set(PRIOR_ERR_ARGUMENT, "load: prefix '%.*s' is too long", (int)len, p);
    memcpy(item, p, len);
    item[len] = '\0';
    if (len) PRIOR_TRY(fn(names, item, NULL));
    p += len + (end ? 1 : 0);
  }
  return PRIOR_OK;
}

/* One "from=to" rule of the rename list. */
static prior_status rename_item(prior_ckpt_names *names, const char *rule, size_t *changed) {
  const char *eq = strchr(rule, '=');
  if (!eq || eq == rule)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "load: rename rule '%s' is not of the form from=to", rule);
  char from[512];
  snprintf(from, sizeof from, "%.*s", (int)(eq - rule), rule);
  return prior_ckpt_names_rename(names, from, eq + 1, changed);
}

/* Whether name starts with one of the comma-separated prefixes of list (NULL or empty: every name). */
static int under_prefixes(const char *name, const char *list) {
  if (!list || !*list) return 1;
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len && strncmp(name, p, len) == 0) return 1;
    p += len + (end ? 1 : 0);
  }
  return 0;
}

/* [1, 1, Q, D] and [Q, D] agree after dropping leading 1s. */
static int same_but_leading_ones(const prior_ckpt_expect *e, const prior_ckpt_tensor *r) {
  int a = 0, b = 0;
  while (a < e->ndim && e->shape[a] == 1) a++;
  while (b < r->ndim && r->shape[b] == 1) b++;
  if (e->ndim - a != r->ndim - b) return 0;
  for (int d = 0; d < e->ndim - a; d++)
    if (e->shape[a + d] != r->shape[b + d]) return 0;
  return 1;
}

static int is_safetensors(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char head[9] = {0};
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  /* 8-byte little-endian header size followed by '{' */
  return n == 9 && head[8] == '{';
}

typedef struct source {
  prior_safetensors *st;
  prior_torchfile *tf;
  const prior_ckpt_tensor *records;
  size_t n;
} source;

static prior_status open_source(const char *path, const prior_load_options *o, source *src) {
  memset(src, 0, sizeof *src);
  FILE *f = fopen(path, "rb");
  if (!f) return prior_error_set(PRIOR_ERR_IO, "load: cannot open checkpoint '%s'", path);
  fclose(f);
  if (is_safetensors(path)) {
    PRIOR_TRY(prior_safetensors_open(path, &src->st));
    src->records = prior_safetensors_tensors(src->st);
    src->n = prior_safetensors_count(src->st);
  } else {
    PRIOR_TRY(prior_torchfile_open(path, o ? o->root_key : NULL, &src->tf));
    src->records = prior_torchfile_tensors(src->tf);
    src->n = prior_torchfile_count(src->tf);
  }
  return PRIOR_OK;
}

static void close_source(source *src) {
  if (src->st) prior_safetensors_close(src->st);
  if (src->tf) prior_torchfile_close(src->tf);
}

/* Copies a record into a parameter (converting dtype). */
static prior_status copy_record(prior_tensor *dst, const prior_ckpt_tensor *r) {
  int64_t shape[PRIOR_MAX_DIMS];
  for (int d = 0; d < r->ndim; d++) shape[d] = r->shape[d];
  if (!prior_dtype_valid((int)r->dtype))
    return prior_error_set(PRIOR_ERR_DTYPE, "load: tensor '%s' has dtype %s, which the runtime does not hold", r->name,
                           prior_ckpt_dtype_name(r->dtype));
  prior_tensor *src = prior_tensor_from_external((void *)r->data, r->ndim, shape, (prior_dtype)r->dtype, NULL, NULL);
  if (!src) return prior_error_code();
  prior_status s = prior_tensor_copy_(dst, src);
  prior_tensor_free(src);
  return s;
}

prior_status prior_params_load(prior_params *p, const char *path, const prior_load_options *options,
                               prior_load_report *report) {
  prior_load_options o = options ? *options : prior_load_options_default();
  if (report) memset(report, 0, sizeof *report);
  if (!p || !path) return prior_error_set(PRIOR_ERR_ARGUMENT, "load: NULL parameters or path");
  source src;
  PRIOR_TRY(open_source(path, &o, &src));
  int32_t n_all = prior_params_count(p), n_params = 0;
  prior_ckpt_tensor *records = malloc((src.n ? src.n : 1) * sizeof *records);
  prior_ckpt_expect *expected = malloc((size_t)(n_all ? n_all : 1) * sizeof *expected);
  int32_t *param_of = malloc((size_t)(n_all ? n_all : 1) * sizeof *param_of); /* expected[i] is parameter param_of[i] */
  void **owned = calloc(src.n ? src.n : 1, sizeof *owned);
  prior_ckpt_names *names = NULL;
  prior_ckpt_match *match = NULL;
  prior_status s = (records && expected && param_of && owned) ? PRIOR_OK
                                                              : prior_error_set(PRIOR_ERR_MEMORY, "load: out of memory");
  if (s == PRIOR_OK) {
    memcpy(records, src.records, src.n * sizeof *records);
    for (int32_t i = 0; i < n_all; i++) {
      if (!under_prefixes(prior_params_name(p, i), o.only_prefixes)) continue;
      prior_tensor *t = prior_params_tensor(p, i);
      prior_ckpt_expect *e = &expected[n_params];
      e->name = prior_params_name(p, i);
      e->ndim = t->ndim;
      for (int d = 0; d < t->ndim; d++) e->shape[d] = t->shape[d];
      param_of[n_params++] = i;
    }
    if (n_params == 0 && n_all > 0)
      s = prior_error_set(PRIOR_ERR_ARGUMENT, "load %s: the model has no entries under '%s'", path, o.only_prefixes);
  }
  if (s == PRIOR_OK) s = prior_ckpt_names_new(records, src.n, &names);
  if (s == PRIOR_OK) s = for_each_item(names, o.strip_prefixes, prior_ckpt_names_strip_prefix);
  if (s == PRIOR_OK && o.add_prefix && *o.add_prefix) s = prior_ckpt_names_add_prefix(names, o.add_prefix, NULL);
  if (s == PRIOR_OK) s = for_each_item(names, o.drop_prefixes, prior_ckpt_names_drop_prefix);
  if (s == PRIOR_OK) s = for_each_item(names, o.rename, rename_item);
  if (s == PRIOR_OK && o.drop_num_batches_tracked) s = prior_ckpt_names_drop_num_batches_tracked(names, NULL);
  if (s == PRIOR_OK && o.gamma_beta) s = prior_ckpt_names_layernorm_gamma_beta(names, NULL);
  if (s == PRIOR_OK && o.sum_rgb_stem) {
    /* a 3-channel kernel where the model has 1 channel: replace the record's bytes by the channel sum */
    for (int32_t i = 0; i < n_params && s == PRIOR_OK; i++) {
      const prior_ckpt_tensor *r = prior_ckpt_names_find(names, expected[i].name);
      if (!r || expected[i].ndim != 4 || r->ndim != 4 || expected[i].shape[1] != 1 || r->shape[1] != 3) continue;
      size_t idx = (size_t)(r - records);
      size_t nbytes = r->nbytes / 3;
      owned[idx] = malloc(nbytes ? nbytes : 1);
      if (!owned[idx]) {
        s = prior_error_set(PRIOR_ERR_MEMORY, "load: out of memory");
        break;
      }
      s = prior_ckpt_sum_rgb_kernel(r, owned[idx], nbytes);
      records[idx].data = owned[idx];
      records[idx].nbytes = nbytes;
      records[idx].shape[1] = 1;
    }
  }
  if (s == PRIOR_OK && o.squeeze_leading_ones) {
    /* the bytes are contiguous and in the same order: only the record's shape changes */
    for (int32_t i = 0; i < n_params; i++) {
      const prior_ckpt_tensor *r = prior_ckpt_names_find(names, expected[i].name);
      if (!r || !same_but_leading_ones(&expected[i], r)) continue;
      prior_ckpt_tensor *w = &records[r - records];
      w->ndim = expected[i].ndim;
      for (int d = 0; d < w->ndim; d++) w->shape[d] = expected[i].shape[d];
    }
  }
  if (s == PRIOR_OK) s = prior_ckpt_match_check(expected, (size_t)n_params, names, 1, path, &match);
  if (s == PRIOR_OK && report) {
    report->missing = (int32_t)prior_ckpt_match_missing_count(match);
    report->unexpected = (int32_t)prior_ckpt_match_unexpected_count(match);
    report->mismatched = (int32_t)prior_ckpt_match_mismatch_count(match);
    snprintf(report->summary, sizeof report->summary, "%s", prior_ckpt_match_summary(match));
  }
  /* strict loading fails on any problem before touching the parameters */
  if (s == PRIOR_OK && !o.lenient) s = prior_ckpt_match_require(match, path);
  if (s == PRIOR_OK) {
    int32_t loaded = 0;
    for (int32_t i = 0; i < n_params && s == PRIOR_OK; i++) {
      const prior_ckpt_tensor *r = prior_ckpt_match_source(match, (size_t)i);
      if (!r) continue;
      s = copy_record(prior_params_tensor(p, param_of[i]), r);
      if (s != PRIOR_OK) prior_error_context("loading %s from %s", expected[i].name, path);
      loaded++;
    }
    if (report) report->loaded = loaded;
  }
  prior_ckpt_match_free(match);
  prior_ckpt_names_free(names);
  for (size_t i = 0; owned && i < src.n; i++) free(owned[i]);
  free(owned);
  free(records);
  free(expected);
  free(param_of);
  close_source(&src);
  return s;
}

prior_status prior_params_save(const prior_params *p, const char *path, int n_meta, const char *const *meta_keys,
                               const char *const *meta_values) {
  if (!p || !path) return prior_error_set(PRIOR_ERR_ARGUMENT, "save: NULL parameters or path");
  int32_t n = prior_params_count(p);
  prior_ckpt_tensor *records = calloc((size_t)(n ? n : 1), sizeof *records);
  prior_tensor **hold = calloc((size_t)(n ? n : 1), sizeof *hold);
  prior_status s = (records && hold) ? PRIOR_OK : prior_error_set(PRIOR_ERR_MEMORY, "save: out of memory");
  for (int32_t i = 0; i < n && s == PRIOR_OK; i++) {
    prior_tensor *t = prior_params_tensor(p, i);
    hold[i] = t->device.type == PRIOR_DEVICE_CPU ? prior_tensor_contiguous_raw(t) : prior_tensor_to_device(t, prior_cpu());
    if (!hold[i]) {
      s = prior_error_code();
      break;
    }
    records[i].name = prior_params_name(p, i);
    records[i].dtype = (prior_ckpt_dtype)hold[i]->dtype;
    records[i].ndim = hold[i]->ndim;
    for (int d = 0; d < hold[i]->ndim; d++) records[i].shape[d] = hold[i]->shape[d];
    records[i].data = prior_tensor_data(hold[i]);
    records[i].nbytes = prior_tensor_nbytes(hold[i]);
  }
  if (s == PRIOR_OK) s = prior_safetensors_write(path, records, (size_t)n, meta_keys, meta_values, (size_t)n_meta);
  for (int32_t i = 0; hold && i < n; i++) prior_tensor_free(hold[i]);
  free(hold);
  free(records);
  return s;
}
