/* safetensors reader: map the file, parse and check the header, hand out records pointing into the mapping. */
#include "prior/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/ckpt_internal.h"
#include "prior/json.h"

/* The reference implementation refuses headers above 100 MB; so do we, before trusting the length. */
#define MAX_HEADER_BYTES 100000000ull

struct prior_safetensors {
  char *path;
  prior_mapped_file map;
  prior_json_doc *header; /* owns the tensor names and metadata strings */
  prior_ckpt_tensor *tensors;
  size_t n;
  size_t *by_name;
  const char **meta_keys, **meta_values;
  size_t n_meta;
  void **copies; /* aligned copies of misaligned tensors, at most one per tensor */
  size_t n_copies;
};

void prior_safetensors_close(prior_safetensors *st) {
  if (!st) return;
  prior_unmap_file(&st->map);
  prior_json_free(st->header);
  free(st->tensors);
  free(st->by_name);
  free(st->meta_keys);
  free(st->meta_values);
  for (size_t i = 0; i < st->n_copies; i++) free(st->copies[i]);
  free(st->copies);
  free(st->path);
  free(st);
}

static prior_status bad(const prior_safetensors *st, const char *what, const char *name) {
  return prior_error_set(PRIOR_ERR_FORMAT, "file %s: safetensors header: tensor \"%s\": %s", st->path, name, what);
}

static prior_status read_metadata(prior_safetensors *st, const prior_json *meta) {
  if (prior_json_kind(meta) != PRIOR_JSON_OBJECT)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: safetensors header: __metadata__ is a %s, not an object",
                           st->path, prior_json_type_name(prior_json_kind(meta)));
  st->n_meta = prior_json_len(meta);
  st->meta_keys = malloc((st->n_meta + 1) * sizeof *st->meta_keys);
  st->meta_values = malloc((st->n_meta + 1) * sizeof *st->meta_values);
  if (!st->meta_keys || !st->meta_values) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", st->path);
  for (size_t i = 0; i < st->n_meta; i++) {
    st->meta_keys[i] = prior_json_key_at(meta, i);
    st->meta_values[i] = prior_json_string(prior_json_at(meta, i));
    if (!st->meta_values[i])
      return prior_error_set(PRIOR_ERR_FORMAT,
                             "file %s: safetensors header: __metadata__ value of \"%s\" is not a string", st->path,
                             st->meta_keys[i]);
  }
  return PRIOR_OK;
}

/* Reads one tensor entry and checks it against itself; the ranges are checked against each other later. */
static prior_status read_entry(prior_safetensors *st, const char *name, const prior_json *info, prior_ckpt_tensor *t,
                               unsigned long long *begin, unsigned long long *end) {
  if (prior_json_kind(info) != PRIOR_JSON_OBJECT) return bad(st, "entry is not an object", name);
  const char *dtype = prior_json_string(prior_json_get(info, "dtype"));
  if (!dtype) return bad(st, "missing \"dtype\" string", name);
  int d = prior_ckpt_dtype_from_name(dtype);
  if (d < 0) {
    char what[96];
    snprintf(what, sizeof what, "unsupported dtype \"%.40s\"", dtype);
    return bad(st, what, name);
  }
  const prior_json *shape = prior_json_get(info, "shape");
  if (prior_json_kind(shape) != PRIOR_JSON_ARRAY) return bad(st, "missing \"shape\" array", name);
  if (prior_json_len(shape) > PRIOR_CKPT_MAX_DIMS) return bad(st, "more than 8 dimensions", name);
  const prior_json *offsets = prior_json_get(info, "data_offsets");
  if (prior_json_kind(offsets) != PRIOR_JSON_ARRAY || prior_json_len(offsets) != 2)
    return bad(st, "\"data_offsets\" is not an array of two integers", name);

  memset(t, 0, sizeof *t);
  t->name = name;
  t->dtype = (prior_ckpt_dtype)d;
  t->ndim = (int)prior_json_len(shape);
  for (int i = 0; i < t->ndim; i++)
    if (!prior_json_int64(prior_json_at(shape, (size_t)i), &t->shape[i]) || t->shape[i] < 0)
      return bad(st, "shape holds something other than non-negative integers", name);
  long long b, e;
  if (!prior_json_int64(prior_json_at(offsets, 0), &b) || !prior_json_int64(prior_json_at(offsets, 1), &e) || b < 0 ||
      e < b)
    return bad(st, "\"data_offsets\" must be two integers with 0 <= begin <= end", name);
  long long numel = prior_ckpt_numel(t->ndim, t->shape);
  if (numel < 0) return bad(st, "shape is too large", name);
  unsigned long long want = (unsigned long long)numel * prior_ckpt_dtype_size(t->dtype);
  if (want != (unsigned long long)(e - b)) {
    char what[200], sh[128];
    snprintf(what, sizeof what, "shape %s of %s needs %llu bytes but data_offsets [%lld, %lld] span %lld",
             prior_shape_str(sh, sizeof sh, t->ndim, t->shape), dtype, want, b, e, e - b);
    return bad(st, what, name);
  }
  t->nbytes = (size_t)want;
  *begin = (unsigned long long)b;
  *end = (unsigned long long)e;
  return PRIOR_OK;
}

/* Files from writers that do not pad the header to 8 bytes can leave a tensor misaligned for its type; such a
 * tensor is copied once into an aligned buffer so that every record can be read as an array of its dtype. */
static prior_status align_copy(prior_safetensors *st, prior_ckpt_tensor *t) {
  if ((uintptr_t)t->data % prior_ckpt_dtype_size(t->dtype) == 0) return PRIOR_OK;
  void *copy = malloc(t->nbytes);
  if (!copy) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", st->path);
  memcpy(copy, t->data, t->nbytes);
  st->copies[st->n_copies++] = copy;
  t->data = copy;
  return PRIOR_OK;
}

typedef struct {
  unsigned long long begin, end;
  size_t pos;
} range;

static int range_cmp(const void *pa, const void *pb) {
  const range *a = pa, *b = pb;
  if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
  return (a->end > b->end) - (a->end < b->end);
}

/* The ranges must tile [0, data_len) exactly: no gap, no overlap, nothing beyond the end of the file. */
static prior_status check_coverage(prior_safetensors *st, range *r, size_t n, unsigned long long data_len) {
  qsort(r, n, sizeof *r, range_cmp);
  unsigned long long expect = 0;
  for (size_t i = 0; i < n; i++) {
    const char *name = st->tensors[r[i].pos].name;
    if (r[i].end > data_len)
      return prior_error_set(PRIOR_ERR_FORMAT,
                             "file %s: tensor \"%s\" ends at data byte %llu but the data region holds %llu bytes "
                             "(truncated file or lying header)",
                             st->path, name, r[i].end, data_len);
    if (r[i].begin < expect)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: tensor \"%s\" [%llu, %llu) overlaps tensor \"%s\"", st->path,
                             name, r[i].begin, r[i].end, st->tensors[r[i - 1].pos].name);
    if (r[i].begin > expect)
      return prior_error_set(PRIOR_ERR_FORMAT,
                             "file %s: gap in the data region: bytes [%llu, %llu) before tensor \"%s\" "
                             "belong to no tensor",
                             st->path, expect, r[i].begin, name);
    expect = r[i].end;
  }
  if (expect != data_len)
    return prior_error_set(PRIOR_ERR_FORMAT,
                           "file %s: the header accounts for %llu data bytes but the file holds %llu after the header",
                           st->path, expect, data_len);
  return PRIOR_OK;
}

static prior_status parse_header(prior_safetensors *st) {
  const unsigned char *d = st->map.data;
  size_t size = st->map.size;
  if (size < 8)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: %zu bytes is too short for safetensors (no header length)",
                           st->path, size);
  unsigned long long hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | d[i];
  if (hlen > size - 8)
    return prior_error_set(PRIOR_ERR_FORMAT,
                           "file %s: safetensors header length %llu exceeds the %zu bytes after it (truncated file?)",
                           st->path, hlen, size - 8);
  if (hlen > MAX_HEADER_BYTES)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: safetensors header length %llu is over the 100 MB limit",
                           st->path, hlen);
  if (hlen == 0 || d[8] != '{')
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: safetensors header does not start with '{'", st->path);
  char source[600];
  snprintf(source, sizeof source, "file %s: safetensors header", st->path);
  PRIOR_TRY(prior_json_parse((const char *)d + 8, (size_t)hlen, source, &st->header));
  const prior_json *root = prior_json_root(st->header);
  if (prior_json_kind(root) != PRIOR_JSON_OBJECT)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: safetensors header is not a JSON object", st->path);

  size_t members = prior_json_len(root);
  st->tensors = calloc(members + 1, sizeof *st->tensors);
  range *ranges = calloc(members + 1, sizeof *ranges);
  if (!st->tensors || !ranges) {
    free(ranges);
    return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", st->path);
  }
  st->copies = calloc(members + 1, sizeof *st->copies);
  prior_status s = st->copies ? PRIOR_OK : prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", st->path);
  const unsigned char *data = d + 8 + hlen;
  for (size_t i = 0; i < members && s == PRIOR_OK; i++) {
    const char *key = prior_json_key_at(root, i);
    if (strcmp(key, "__metadata__") == 0) {
      s = read_metadata(st, prior_json_at(root, i));
      continue;
    }
    prior_ckpt_tensor *t = &st->tensors[st->n];
    s = read_entry(st, key, prior_json_at(root, i), t, &ranges[st->n].begin, &ranges[st->n].end);
    ranges[st->n].pos = st->n;
    st->n++;
  }
  if (s == PRIOR_OK) s = check_coverage(st, ranges, st->n, size - 8 - hlen);
  if (s == PRIOR_OK)
    for (size_t i = 0; i < st->n; i++) {
      /* Ranges were sorted by check_coverage; `pos` says which record each belongs to. */
      prior_ckpt_tensor *t = &st->tensors[ranges[i].pos];
      t->data = t->nbytes ? data + ranges[i].begin : NULL;
      if (s == PRIOR_OK && t->data) s = align_copy(st, t);
    }
  free(ranges);
  if (s != PRIOR_OK) return s;
  st->by_name = prior_ckpt_index_build(st->tensors, st->n, NULL);
  if (!st->by_name) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", st->path);
  return PRIOR_OK;
}

prior_status prior_safetensors_open(const char *path, prior_safetensors **out) {
  if (!path || !out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_safetensors_open: NULL argument");
  *out = NULL;
  prior_safetensors *st = calloc(1, sizeof *st);
  if (!st || !(st->path = strdup(path))) {
    free(st);
    return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", path);
  }
  prior_status s = prior_map_file(path, &st->map);
  if (s == PRIOR_OK) s = parse_header(st);
  if (s != PRIOR_OK) {
    prior_safetensors_close(st);
    return s;
  }
  *out = st;
  return PRIOR_OK;
}

size_t prior_safetensors_count(const prior_safetensors *st) { return st ? st->n : 0; }
const prior_ckpt_tensor *prior_safetensors_tensors(const prior_safetensors *st) { return st ? st->tensors : NULL; }

const prior_ckpt_tensor *prior_safetensors_tensor(const prior_safetensors *st, size_t i) {
  return st && i < st->n ? &st->tensors[i] : NULL;
}

const prior_ckpt_tensor *prior_safetensors_find(const prior_safetensors *st, const char *name) {
  return st ? prior_ckpt_index_find(st->tensors, st->by_name, st->n, name) : NULL;
}

size_t prior_safetensors_metadata_count(const prior_safetensors *st) { return st ? st->n_meta : 0; }

const char *prior_safetensors_metadata_key(const prior_safetensors *st, size_t i) {
  return st && i < st->n_meta ? st->meta_keys[i] : NULL;
}

const char *prior_safetensors_metadata_value(const prior_safetensors *st, size_t i) {
  return st && i < st->n_meta ? st->meta_values[i] : NULL;
}

const char *prior_safetensors_metadata_get(const prior_safetensors *st, const char *key) {
  if (!st || !key) return NULL;
  for (size_t i = 0; i < st->n_meta; i++)
    if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
  return NULL;
}
