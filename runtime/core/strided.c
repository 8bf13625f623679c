#include "core/strided.h"

#include <omp.h>
#include <string.h>

#define CHUNK_MIN 32768 /* elements per parallel chunk: below this, threads cost more than they save */

static void coalesce(prior_strided *it) {
  if (it->ndim <= 1) return;
  int out = 0;
  for (int d = 1; d < it->ndim; d++) {
    int mergeable = 1;
    for (int k = 0; k < it->n_operands; k++)
      if (it->strides[k][out] != it->strides[k][d] * it->shape[d]) mergeable = 0;
    if (it->shape[d] == 1) continue; /* size-1 dims merge with anything */
    if (it->shape[out] == 1) {
      it->shape[out] = it->shape[d];
      for (int k = 0; k < it->n_operands; k++) it->strides[k][out] = it->strides[k][d];
      continue;
    }
    if (mergeable) {
      it->shape[out] *= it->shape[d];
      for (int k = 0; k < it->n_operands; k++) it->strides[k][out] = it->strides[k][d];
    } else {
      out++;
      it->shape[out] = it->shape[d];
      for (int k = 0; k < it->n_operands; k++) it->strides[k][out] = it->strides[k][d];
    }
  }
  it->ndim = out + 1;
}

void prior_strided_init_raw(prior_strided *it, int ndim, const int64_t *shape, int n_operands, char *const *data,
                            const int64_t *const *elem_strides, const size_t *elem_sizes) {
  PRIOR_ASSERT(n_operands <= PRIOR_STRIDED_MAX_OPERANDS && ndim <= PRIOR_MAX_DIMS);
  memset(it, 0, sizeof *it);
  it->n_operands = n_operands;
  it->ndim = ndim;
  for (int d = 0; d < ndim; d++) it->shape[d] = shape[d];
  for (int k = 0; k < n_operands; k++) {
    it->data[k] = data[k];
    for (int d = 0; d < ndim; d++) it->strides[k][d] = elem_strides[k][d] * (int64_t)elem_sizes[k];
  }
  if (ndim == 0) { /* a scalar is a loop of one */
    it->ndim = 1;
    it->shape[0] = 1;
    for (int k = 0; k < n_operands; k++) it->strides[k][0] = 0;
  }
  coalesce(it);
}

void prior_strided_init(prior_strided *it, int ndim, const int64_t *shape, int n_operands,
                        prior_tensor *const *operands) {
  char *data[PRIOR_STRIDED_MAX_OPERANDS];
  int64_t strides[PRIOR_STRIDED_MAX_OPERANDS][PRIOR_MAX_DIMS];
  const int64_t *stride_ptrs[PRIOR_STRIDED_MAX_OPERANDS];
  size_t sizes[PRIOR_STRIDED_MAX_OPERANDS];
  for (int k = 0; k < n_operands; k++) {
    int ok = prior_broadcast_strides(operands[k], ndim, shape, strides[k]);
    PRIOR_ASSERT(ok);
    data[k] = (char *)prior_tensor_data(operands[k]);
    stride_ptrs[k] = strides[k];
    sizes[k] = prior_dtype_size(operands[k]->dtype);
  }
  prior_strided_init_raw(it, ndim, shape, n_operands, data, stride_ptrs, sizes);
}

int64_t prior_strided_numel(const prior_strided *it) {
  int64_t n = 1;
  for (int d = 0; d < it->ndim; d++) n *= it->shape[d];
  return n;
}

/* Runs the linear index range [begin, end). */
static void run_range(const prior_strided *it, int64_t begin, int64_t end, prior_strided_fn fn, void *ctx) {
  int nd = it->ndim, inner = nd - 1;
  int64_t idx[PRIOR_MAX_DIMS];
  int64_t rem = begin;
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = rem % it->shape[d];
    rem /= it->shape[d];
  }
  int64_t inner_strides[PRIOR_STRIDED_MAX_OPERANDS];
  for (int k = 0; k < it->n_operands; k++) inner_strides[k] = it->strides[k][inner];
  int64_t pos = begin;
  while (pos < end) {
    char *ptrs[PRIOR_STRIDED_MAX_OPERANDS];
    for (int k = 0; k < it->n_operands; k++) {
      char *p = it->data[k];
      for (int d = 0; d < nd; d++) p += idx[d] * it->strides[k][d];
      ptrs[k] = p;
    }
    int64_t run = it->shape[inner] - idx[inner];
    if (run > end - pos) run = end - pos;
    fn(ptrs, inner_strides, run, ctx);
    pos += run;
    idx[inner] += run;
    for (int d = inner; d > 0 && idx[d] >= it->shape[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
    }
  }
}

void prior_strided_run(const prior_strided *it, prior_strided_fn fn, void *ctx, int allow_parallel) {
  int64_t n = prior_strided_numel(it);
  if (n == 0) return;
  int threads = allow_parallel ? omp_get_max_threads() : 1;
  if (threads <= 1 || n < 2 * CHUNK_MIN || omp_in_parallel()) {
    run_range(it, 0, n, fn, ctx);
    return;
  }
  int64_t chunks = n / CHUNK_MIN;
  if (chunks > threads * 4) chunks = threads * 4;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; c++) {
    int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    run_range(it, begin, end, fn, ctx);
  }
}

int prior_broadcast_strides(const prior_tensor *t, int ndim, const int64_t *shape, int64_t *strides_out) {
  if (t->ndim > ndim) return 0;
  int lead = ndim - t->ndim;
  for (int d = 0; d < ndim; d++) {
    if (d < lead) {
      strides_out[d] = 0;
      continue;
    }
    int64_t size = t->shape[d - lead];
    if (size == shape[d]) {
      strides_out[d] = size == 1 ? 0 : t->strides[d - lead];
    } else if (size == 1) {
      strides_out[d] = 0;
    } else {
      return 0;
    }
  }
  return 1;
}

int64_t prior_same_order_strides(int ndim, const int64_t *shape, const int64_t *strides, int64_t *dense_out) {
  int order[PRIOR_MAX_DIMS]; /* dims from the outermost (largest stride) to the innermost */
  for (int d = 0; d < ndim; d++) order[d] = d;
  for (int i = 1; i < ndim; i++) /* insertion sort, stable */
    for (int j = i; j > 0 && strides[order[j]] > strides[order[j - 1]]; j--) {
      int t = order[j];
      order[j] = order[j - 1], order[j - 1] = t;
    }
  int64_t step = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    dense_out[order[i]] = step;
    step *= shape[order[i]];
  }
  return step;
}
