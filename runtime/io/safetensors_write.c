/* safetensors writer: header JSON laid out as the reference writer does, written through a temporary file that
 * is renamed over the target only once it is complete and on disk. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/ckpt_internal.h"
#include "prior/json.h"
#include "prior/safetensors.h"

static prior_status check_inputs(const char *path, const prior_ckpt_tensor *t, size_t n, const char *const *mk,
                                 const char *const *mv, size_t n_meta) {
  if (n && !t) return prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: tensor list is NULL", path);
  if (n_meta && (!mk || !mv)) return prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: metadata list is NULL", path);
  for (size_t i = 0; i < n; i++) {
    const char *name = t[i].name;
    if (!name || !name[0]) return prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: tensor %zu has no name", path, i);
    if (strcmp(name, "__metadata__") == 0)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: \"__metadata__\" cannot name a tensor", path);
    size_t esize = prior_ckpt_dtype_size(t[i].dtype);
    if (!esize)
      return prior_error_set(PRIOR_ERR_DTYPE, "file %s: tensor \"%s\": unknown dtype %d", path, name, (int)t[i].dtype);
    long long numel = prior_ckpt_numel(t[i].ndim, t[i].shape);
    if (numel < 0)
      return prior_error_set(PRIOR_ERR_SHAPE, "file %s: tensor \"%s\": invalid shape (ndim %d)", path, name, t[i].ndim);
    if ((unsigned long long)numel * esize != t[i].nbytes) {
      char sh[128];
      return prior_error_set(PRIOR_ERR_SHAPE, "file %s: tensor \"%s\": shape %s of %s needs %llu bytes, record has %zu",
                             path, name, prior_shape_str(sh, sizeof sh, t[i].ndim, t[i].shape),
                             prior_ckpt_dtype_name(t[i].dtype), (unsigned long long)numel * esize, t[i].nbytes);
    }
    if (t[i].nbytes && !t[i].data)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: tensor \"%s\" has no data", path, name);
  }
  for (size_t i = 0; i < n_meta; i++) {
    if (!mk[i] || !mv[i]) return prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: metadata entry %zu is NULL", path, i);
    for (size_t j = 0; j < i; j++)
      if (strcmp(mk[i], mk[j]) == 0)
        return prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: metadata key \"%s\" given twice", path, mk[i]);
  }
  return PRIOR_OK;
}

/* The reference writer orders tensors by its dtype enumeration, descending (I64, F64, F32, I32, BF16, F16, I16,
 * I8, U8, BOOL), then by name. Element sizes never increase along that order, so every tensor starts at a
 * multiple of its element size; following it exactly makes our files byte-identical to the reference's. */
static int layout_rank(prior_ckpt_dtype d) {
  static const prior_ckpt_dtype order[] = {PRIOR_CKPT_I64, PRIOR_CKPT_F64,  PRIOR_CKPT_F32, PRIOR_CKPT_I32,
                                           PRIOR_CKPT_BF16, PRIOR_CKPT_F16, PRIOR_CKPT_I16, PRIOR_CKPT_I8,
                                           PRIOR_CKPT_U8,  PRIOR_CKPT_BOOL};
  for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
    if (order[i] == d) return i;
  return 99;
}

static _Thread_local const prior_ckpt_tensor *tls_records;

static int layout_cmp(const void *pa, const void *pb) {
  const prior_ckpt_tensor *a = &tls_records[*(const size_t *)pa], *b = &tls_records[*(const size_t *)pb];
  int ra = layout_rank(a->dtype), rb = layout_rank(b->dtype);
  if (ra != rb) return ra < rb ? -1 : 1;
  return strcmp(a->name, b->name);
}

static prior_status build_header(prior_json_writer *w, const prior_ckpt_tensor *t, const size_t *order, size_t n,
                                 const char *const *mk, const char *const *mv, size_t n_meta) {
  PRIOR_TRY(prior_json_begin_object(w));
  if (n_meta) {
    PRIOR_TRY(prior_json_key(w, "__metadata__"));
    PRIOR_TRY(prior_json_begin_object(w));
    for (size_t i = 0; i < n_meta; i++) {
      PRIOR_TRY(prior_json_key(w, mk[i]));
      PRIOR_TRY(prior_json_write_string(w, mv[i]));
    }
    PRIOR_TRY(prior_json_end_object(w));
  }
  unsigned long long offset = 0;
  for (size_t k = 0; k < n; k++) {
    const prior_ckpt_tensor *x = &t[order[k]];
    PRIOR_TRY(prior_json_key(w, x->name));
    PRIOR_TRY(prior_json_begin_object(w));
    PRIOR_TRY(prior_json_key(w, "dtype"));
    PRIOR_TRY(prior_json_write_string(w, prior_ckpt_dtype_name(x->dtype)));
    PRIOR_TRY(prior_json_key(w, "shape"));
    PRIOR_TRY(prior_json_begin_array(w));
    for (int d = 0; d < x->ndim; d++) PRIOR_TRY(prior_json_write_int64(w, x->shape[d]));
    PRIOR_TRY(prior_json_end_array(w));
    PRIOR_TRY(prior_json_key(w, "data_offsets"));
    PRIOR_TRY(prior_json_begin_array(w));
    PRIOR_TRY(prior_json_write_int64(w, (long long)offset));
    offset += x->nbytes;
    PRIOR_TRY(prior_json_write_int64(w, (long long)offset));
    PRIOR_TRY(prior_json_end_array(w));
    PRIOR_TRY(prior_json_end_object(w));
  }
  return prior_json_end_object(w);
}

/* Opens a fresh temporary file beside `path` (same directory, so rename is atomic). */
static int open_temp(const char *path, char *tmp, size_t cap) {
  static _Atomic unsigned counter;
  for (int attempt = 0; attempt < 100; attempt++) {
    snprintf(tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

static void fsync_parent_dir(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return; /* the rename happened; a directory that cannot be opened only weakens durability */
  fsync(fd);
  close(fd);
}

static prior_status write_file(const char *path, const char *header, size_t hlen, size_t padded,
                               const prior_ckpt_tensor *t, const size_t *order, size_t n) {
  char tmp[4200];
  int fd = open_temp(path, tmp, sizeof tmp);
  if (fd < 0) return prior_error_set(PRIOR_ERR_IO, "file %s: cannot create a temporary file beside it: %s", path,
                                     strerror(errno));
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((unsigned long long)padded >> (8 * i));
  static const char spaces[8] = "        ";
  int ok = prior_write_all(fd, len8, 8) == 0 && prior_write_all(fd, header, hlen) == 0 &&
           prior_write_all(fd, spaces, padded - hlen) == 0;
  for (size_t k = 0; ok && k < n; k++) ok = prior_write_all(fd, t[order[k]].data, t[order[k]].nbytes) == 0;
  ok = ok && fsync(fd) == 0;
  int e = errno;
  ok = close(fd) == 0 && ok;
  if (ok && rename(tmp, path) != 0) ok = 0, e = errno;
  if (!ok) {
    unlink(tmp);
    return prior_error_set(PRIOR_ERR_IO, "file %s: write failed: %s", path, strerror(e));
  }
  fsync_parent_dir(path);
  return PRIOR_OK;
}

prior_status prior_safetensors_write(const char *path, const prior_ckpt_tensor *tensors, size_t n,
                                     const char *const *meta_keys, const char *const *meta_values, size_t n_meta) {
  if (!path) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_safetensors_write: path is NULL");
  PRIOR_TRY(check_inputs(path, tensors, n, meta_keys, meta_values, n_meta));
  size_t *order = malloc((n ? n : 1) * sizeof *order);
  prior_json_writer *w = prior_json_writer_new();
  if (!order || !w) {
    free(order);
    prior_json_writer_free(w);
    return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", path);
  }
  for (size_t i = 0; i < n; i++) order[i] = i;
  tls_records = tensors;
  qsort(order, n, sizeof *order, layout_cmp);
  prior_status s = PRIOR_OK;
  long long dup = -1;
  size_t *by_name = prior_ckpt_index_build(tensors, n, &dup);
  if (!by_name) s = prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", path);
  else if (dup >= 0)
    s = prior_error_set(PRIOR_ERR_ARGUMENT, "file %s: tensor name \"%s\" given twice", path, tensors[dup].name);
  free(by_name);
  const char *header = NULL;
  size_t hlen = 0;
  if (s == PRIOR_OK) {
    s = build_header(w, tensors, order, n, meta_keys, meta_values, n_meta);
    if (s == PRIOR_OK) s = prior_json_writer_result(w, &header, &hlen);
    if (s != PRIOR_OK) prior_error_context("file %s: header", path); /* e.g. a name that is not UTF-8 */
  }
  if (s == PRIOR_OK) s = write_file(path, header, hlen, (hlen + 7) & ~(size_t)7, tensors, order, n);
  free(order);
  prior_json_writer_free(w);
  return s;
}
