/* CPU indexing kernels: index_select / index_add over [outer, n, inner] views, gather / scatter_add along a
 * dim. All tensors contiguous. Accumulating kernels split work so that no two threads ever write the same
 * element (index_add: by column; scatter_add: by every position except the one along dim), which keeps them
 * race-free and their sums deterministic without atomics. */
#include <omp.h>
#include <string.h>

#include "backend/kernels_nn.h"
#include "prior/device.h"

static int64_t idx_at(const prior_tensor *index, int64_t i) {
  const void *p = prior_tensor_data(index);
  return index->dtype == PRIOR_I64 ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

static prior_status cpu_index_select(prior_tensor *out, const prior_tensor *x, const prior_tensor *index,
                                     int64_t outer, int64_t n, int64_t inner) {
  int64_t m = prior_tensor_numel(index);
  size_t es = prior_dtype_size((prior_dtype)x->dtype), row = (size_t)inner * es;
  const char *src = prior_tensor_data(x);
  char *dst = prior_tensor_data(out);
#pragma omp parallel for schedule(static) if (outer * m * inner > 65536)
  for (int64_t p = 0; p < outer * m; p++) {
    int64_t o = p / m, i = p % m;
    memcpy(dst + (size_t)p * row, src + ((size_t)(o * n + idx_at(index, i))) * row, row);
  }
  return PRIOR_OK;
}

#define DEFINE_INDEX_ADD(T, SUF)                                                                              \
  static void index_add_##SUF(T *acc, const T *src, const prior_tensor *index, int64_t outer, int64_t n,     \
                              int64_t inner, int64_t skip) {                                                  \
    int64_t m = prior_tensor_numel(index);                                                                    \
    /* blocks of 64 columns: each (outer, block) pair belongs to one thread */                                \
    int64_t nblk = (inner + 63) / 64;                                                                         \
    _Pragma("omp parallel for schedule(static) if (outer * m * inner > 65536)")                               \
    for (int64_t q = 0; q < outer * nblk; q++) {                                                              \
      int64_t o = q / nblk, k0 = (q % nblk) * 64, k1 = k0 + 64 < inner ? k0 + 64 : inner;                     \
      for (int64_t i = 0; i < m; i++) {                                                                       \
        int64_t r = idx_at(index, i);                                                                         \
        if (r == skip) continue;                                                                              \
        T *a = acc + (o * n + r) * inner;                                                                     \
        const T *s = src + (o * m + i) * inner;                                                               \
        for (int64_t k = k0; k < k1; k++) a[k] += s[k];                                                       \
      }                                                                                                       \
    }                                                                                                         \
  }

DEFINE_INDEX_ADD(float, f32)
DEFINE_INDEX_ADD(double, f64)

static prior_status cpu_index_add(prior_tensor *acc, const prior_tensor *src, const prior_tensor *index,
                                  int64_t outer, int64_t n, int64_t inner, int64_t skip) {
  if (acc->dtype == PRIOR_F32)
    index_add_f32(prior_tensor_data(acc), prior_tensor_data(src), index, outer, n, inner, skip);
  else if (acc->dtype == PRIOR_F64)
    index_add_f64(prior_tensor_data(acc), prior_tensor_data(src), index, outer, n, inner, skip);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "index_add: no CPU kernel for %s", prior_dtype_name(acc->dtype));
  return PRIOR_OK;
}

/* Walks index's positions as [lines, len] with the dim moved last: line l's elements differ only along dim.
 * offsets of the line's first element in index, x-like (strides xs) and src-like (strides ss) tensors. */
typedef struct {
  int ndim, dim;
  const int64_t *ishape;
} walk;

static void line_start(const walk *w, int64_t line, const int64_t *is, const int64_t *xs, const int64_t *ss,
                       int64_t *io, int64_t *xo, int64_t *so) {
  *io = *xo = *so = 0;
  for (int d = w->ndim - 1; d >= 0; d--) {
    if (d == w->dim) continue;
    int64_t c = line % w->ishape[d];
    line /= w->ishape[d];
    *io += c * is[d];
    *xo += c * xs[d];
    if (ss) *so += c * ss[d];
  }
}

static prior_status check_range(const char *op, const prior_tensor *index, int dim, int64_t size) {
  int64_t m = prior_tensor_numel(index);
  for (int64_t i = 0; i < m; i++) {
    int64_t v = idx_at(index, i);
    if (v < 0 || v >= size)
      return prior_error_set(PRIOR_ERR_INDEX, "%s: index %lld is out of range for dim %d of size %lld", op,
                             (long long)v, dim, (long long)size);
  }
  return PRIOR_OK;
}

static prior_status cpu_gather(prior_tensor *out, const prior_tensor *x, int dim, const prior_tensor *index) {
  PRIOR_TRY(check_range("gather", index, dim, x->shape[dim]));
  int64_t len = index->shape[dim], numel = prior_tensor_numel(index);
  int64_t lines = len ? numel / len : 0;
  walk w = {index->ndim, dim, index->shape};
  size_t es = prior_dtype_size((prior_dtype)x->dtype);
  const char *src = prior_tensor_data(x);
  char *dst = prior_tensor_data(out);
#pragma omp parallel for schedule(static) if (numel > 65536)
  for (int64_t l = 0; l < lines; l++) {
    int64_t io, xo, so;
    line_start(&w, l, index->strides, x->strides, NULL, &io, &xo, &so);
    for (int64_t k = 0; k < len; k++) {
      int64_t v = idx_at(index, io + k * index->strides[dim]);
      memcpy(dst + (size_t)(io + k * index->strides[dim]) * es, src + (size_t)(xo + v * x->strides[dim]) * es, es);
    }
  }
  return PRIOR_OK;
}

#define DEFINE_SCATTER_ADD(T, SUF)                                                                            \
  static void scatter_add_##SUF(T *acc, const prior_tensor *a, int dim, const prior_tensor *index,           \
                                const T *src, const prior_tensor *s) {                                        \
    int64_t len = index->shape[dim], numel = prior_tensor_numel(index);                                       \
    int64_t lines = len ? numel / len : 0;                                                                     \
    walk w = {index->ndim, dim, index->shape};                                                                \
    _Pragma("omp parallel for schedule(static) if (numel > 65536)")                                           \
    for (int64_t l = 0; l < lines; l++) {                                                                     \
      int64_t io, ao, so;                                                                                     \
      line_start(&w, l, index->strides, a->strides, s->strides, &io, &ao, &so);                               \
      for (int64_t k = 0; k < len; k++) {                                                                     \
        int64_t v = idx_at(index, io + k * index->strides[dim]);                                              \
        acc[ao + v * a->strides[dim]] += src[so + k * s->strides[dim]];                                       \
      }                                                                                                       \
    }                                                                                                         \
  }

DEFINE_SCATTER_ADD(float, f32)
DEFINE_SCATTER_ADD(double, f64)

static prior_status cpu_scatter_add(prior_tensor *acc, int dim, const prior_tensor *index, const prior_tensor *src) {
  PRIOR_TRY(check_range("scatter_add", index, dim, acc->shape[dim]));
  if (acc->dtype == PRIOR_F32)
    scatter_add_f32(prior_tensor_data(acc), acc, dim, index, prior_tensor_data(src), src);
  else if (acc->dtype == PRIOR_F64)
    scatter_add_f64(prior_tensor_data(acc), acc, dim, index, prior_tensor_data(src), src);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "scatter_add: no CPU kernel for %s", prior_dtype_name(acc->dtype));
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_cpu_index(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "index_select", (prior_kernel_fn)cpu_index_select);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "index_add", (prior_kernel_fn)cpu_index_add);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "gather", (prior_kernel_fn)cpu_gather);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "scatter_add", (prior_kernel_fn)cpu_scatter_add);
}
