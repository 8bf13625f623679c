/* "index_select", "index_add", "gather", "scatter_add" on the GPU (kernels_nn.h; every tensor contiguous),
 * following runtime/backend/cpu/index.c. The accumulating kernels give each thread the elements the CPU
 * gives one loop (index_add: a column; scatter_add: a line along dim) and add in the same order, so sums
 * are deterministic and equal the CPU's without atomics. gather and scatter_add check their index range on
 * the device and read back the first bad position, which costs one wait for the device. */
extern "C" {
#include "backend/kernels_nn.h"
}
#include <string.h>

#include "backend/cuda/cuda_internal.cuh"

__device__ __forceinline__ int64_t idx_at(const void *index, int is64, int64_t i) {
  return is64 ? ((const int64_t *)index)[i] : (int64_t)((const int32_t *)index)[i];
}

template <typename E>
__global__ void index_select_kernel(E *out, const E *x, const void *index, int is64, int64_t outer, int64_t n,
                                    int64_t m, int64_t inner) {
  CU_GRID_LOOP(e, outer * m * inner) {
    int64_t k = e % inner, i = (e / inner) % m, o = e / (inner * m);
    out[e] = x[(o * n + idx_at(index, is64, i)) * inner + k];
  }
}

static prior_status cuda_index_select(prior_tensor *out, const prior_tensor *x, const prior_tensor *index,
                                      int64_t outer, int64_t n, int64_t inner) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  int64_t m = prior_tensor_numel(index), total = outer * m * inner;
  if (total == 0) return PRIOR_OK;
  int is64 = index->dtype == PRIOR_I64, blocks = cu_blocks(total, 256);
  const void *ix = cu_data(index);
  switch (prior_dtype_size((prior_dtype)x->dtype)) {
    case 1: index_select_kernel<uint8_t><<<blocks, 256, 0, stream>>>((uint8_t *)cu_data(out), (const uint8_t *)cu_data(x), ix, is64, outer, n, m, inner); break;
    case 2: index_select_kernel<uint16_t><<<blocks, 256, 0, stream>>>((uint16_t *)cu_data(out), (const uint16_t *)cu_data(x), ix, is64, outer, n, m, inner); break;
    case 4: index_select_kernel<uint32_t><<<blocks, 256, 0, stream>>>((uint32_t *)cu_data(out), (const uint32_t *)cu_data(x), ix, is64, outer, n, m, inner); break;
    default: index_select_kernel<uint64_t><<<blocks, 256, 0, stream>>>((uint64_t *)cu_data(out), (const uint64_t *)cu_data(x), ix, is64, outer, n, m, inner); break;
  }
  return cu_check_launch("index_select on the GPU");
}

/* One thread per (o, column k), adding the m source rows in order. */
template <typename T>
__global__ void index_add_kernel(T *acc, const T *src, const void *index, int is64, int64_t outer, int64_t n,
                                 int64_t m, int64_t inner, int64_t skip) {
  CU_GRID_LOOP(q, outer * inner) {
    int64_t o = q / inner, k = q % inner;
    for (int64_t i = 0; i < m; i++) {
      int64_t r = idx_at(index, is64, i);
      if (r == skip) continue;
      acc[(o * n + r) * inner + k] += src[(o * m + i) * inner + k];
    }
  }
}

static prior_status cuda_index_add(prior_tensor *acc, const prior_tensor *src, const prior_tensor *index,
                                   int64_t outer, int64_t n, int64_t inner, int64_t skip) {
  if (acc->dtype != PRIOR_F32 && acc->dtype != PRIOR_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "index_add: no CUDA kernel for %s", prior_dtype_name((prior_dtype)acc->dtype));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(acc->device, &stream));
  int64_t m = prior_tensor_numel(index);
  if (outer * inner == 0 || m == 0) return PRIOR_OK;
  int is64 = index->dtype == PRIOR_I64, blocks = cu_blocks(outer * inner, 128);
  if (acc->dtype == PRIOR_F32)
    index_add_kernel<float><<<blocks, 128, 0, stream>>>((float *)cu_data(acc), (const float *)cu_data(src),
                                                        cu_data(index), is64, outer, n, m, inner, skip);
  else
    index_add_kernel<double><<<blocks, 128, 0, stream>>>((double *)cu_data(acc), (const double *)cu_data(src),
                                                         cu_data(index), is64, outer, n, m, inner, skip);
  return cu_check_launch("index_add on the GPU");
}

/* ---- gather / scatter_add along dim ---- */

struct dim_walk {
  int ndim, dim;
  int64_t ishape[PRIOR_MAX_DIMS], istride[PRIOR_MAX_DIMS], astride[PRIOR_MAX_DIMS], sstride[PRIOR_MAX_DIMS];
};

static void walk_init(dim_walk *w, int dim, const prior_tensor *index, const prior_tensor *a, const prior_tensor *s) {
  memset(w, 0, sizeof *w);
  w->ndim = index->ndim, w->dim = dim;
  for (int d = 0; d < index->ndim; d++) {
    w->ishape[d] = index->shape[d], w->istride[d] = index->strides[d], w->astride[d] = a->strides[d];
    w->sstride[d] = s ? s->strides[d] : 0;
  }
}

/* Offsets of the first element of line `line` (the dims other than dim, row-major). */
__device__ __forceinline__ void line_start(const dim_walk &w, int64_t line, int64_t *io, int64_t *ao, int64_t *so) {
  *io = *ao = *so = 0;
  for (int d = w.ndim - 1; d >= 0; d--) {
    if (d == w.dim) continue;
    int64_t c = line % w.ishape[d];
    line /= w.ishape[d];
    *io += c * w.istride[d], *ao += c * w.astride[d], *so += c * w.sstride[d];
  }
}

__global__ void range_kernel(unsigned long long *first_bad, const void *index, int is64, int64_t count, int64_t size) {
  CU_GRID_LOOP(i, count) {
    int64_t v = idx_at(index, is64, i);
    if (v < 0 || v >= size) atomicMin((long long *)first_bad, (long long)i);
  }
}

/* Error naming the first index outside [0, size), as the CPU does. */
static prior_status check_range(const char *op, cudaStream_t stream, const prior_tensor *index, int dim, int64_t size) {
  int64_t count = prior_tensor_numel(index);
  if (count == 0) return PRIOR_OK;
  int is64 = index->dtype == PRIOR_I64;
  int64_t one = 1;
  prior_tensor *flag = prior_tensor_empty(1, &one, PRIOR_I64, index->device);
  if (!flag) return prior_error_code();
  long long host = INT64_MAX;
  prior_status s = cu_check(cudaMemcpyAsync(cu_data(flag), &host, 8, cudaMemcpyHostToDevice, stream), op);
  if (s == PRIOR_OK) {
    range_kernel<<<cu_blocks(count, 256), 256, 0, stream>>>((unsigned long long *)cu_data(flag), cu_data(index), is64,
                                                           count, size);
    s = cu_check_launch(op);
  }
  if (s == PRIOR_OK) s = cu_check(cudaMemcpyAsync(&host, cu_data(flag), 8, cudaMemcpyDeviceToHost, stream), op);
  if (s == PRIOR_OK) s = cu_check(cudaStreamSynchronize(stream), op);
  prior_tensor_free(flag);
  PRIOR_TRY(s);
  if (host == INT64_MAX) return PRIOR_OK;
  int64_t v = 0;
  int32_t v32 = 0;
  PRIOR_TRY(cu_check(cudaMemcpy(is64 ? (void *)&v : (void *)&v32, cu_data(index) + host * (is64 ? 8 : 4), is64 ? 8 : 4,
                                cudaMemcpyDeviceToHost),
                     op));
  if (!is64) v = v32;
  return prior_error_set(PRIOR_ERR_INDEX, "%s: index %lld is out of range for dim %d of size %lld", op, (long long)v,
                         dim, (long long)size);
}

template <typename E>
__global__ void gather_kernel(E *out, const E *x, const void *index, int is64, dim_walk w, int64_t lines, int64_t len) {
  CU_GRID_LOOP(e, lines * len) {
    int64_t l = e / len, k = e % len, io, xo, so;
    line_start(w, l, &io, &xo, &so);
    int64_t at = io + k * w.istride[w.dim];
    out[at] = x[xo + idx_at(index, is64, at) * w.astride[w.dim]];
  }
}

static prior_status cuda_gather(prior_tensor *out, const prior_tensor *x, int dim, const prior_tensor *index) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  PRIOR_TRY(check_range("gather", stream, index, dim, x->shape[dim]));
  int64_t len = index->shape[dim], numel = prior_tensor_numel(index), lines = len ? numel / len : 0;
  if (numel == 0) return PRIOR_OK;
  dim_walk w;
  walk_init(&w, dim, index, x, NULL);
  int is64 = index->dtype == PRIOR_I64, blocks = cu_blocks(numel, 256);
  const void *ix = cu_data(index);
  switch (prior_dtype_size((prior_dtype)x->dtype)) {
    case 1: gather_kernel<uint8_t><<<blocks, 256, 0, stream>>>((uint8_t *)cu_data(out), (const uint8_t *)cu_data(x), ix, is64, w, lines, len); break;
    case 2: gather_kernel<uint16_t><<<blocks, 256, 0, stream>>>((uint16_t *)cu_data(out), (const uint16_t *)cu_data(x), ix, is64, w, lines, len); break;
    case 4: gather_kernel<uint32_t><<<blocks, 256, 0, stream>>>((uint32_t *)cu_data(out), (const uint32_t *)cu_data(x), ix, is64, w, lines, len); break;
    default: gather_kernel<uint64_t><<<blocks, 256, 0, stream>>>((uint64_t *)cu_data(out), (const uint64_t *)cu_data(x), ix, is64, w, lines, len); break;
  }
  return cu_check_launch("gather on the GPU");
}

/* One thread per line along dim, adding in order (the CPU's loop). Lines never share a target element. */
template <typename T>
__global__ void scatter_add_kernel(T *acc, const T *src, const void *index, int is64, dim_walk w, int64_t lines,
                                   int64_t len) {
  CU_GRID_LOOP(l, lines) {
    int64_t io, ao, so;
    line_start(w, l, &io, &ao, &so);
    for (int64_t k = 0; k < len; k++) {
      int64_t v = idx_at(index, is64, io + k * w.istride[w.dim]);
      acc[ao + v * w.astride[w.dim]] += src[so + k * w.sstride[w.dim]];
    }
  }
}

static prior_status cuda_scatter_add(prior_tensor *acc, int dim, const prior_tensor *index, const prior_tensor *src) {
  if (acc->dtype != PRIOR_F32 && acc->dtype != PRIOR_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "scatter_add: no CUDA kernel for %s",
                           prior_dtype_name((prior_dtype)acc->dtype));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(acc->device, &stream));
  PRIOR_TRY(check_range("scatter_add", stream, index, dim, acc->shape[dim]));
  int64_t len = index->shape[dim], numel = prior_tensor_numel(index), lines = len ? numel / len : 0;
  if (numel == 0) return PRIOR_OK;
  dim_walk w;
  walk_init(&w, dim, index, acc, src);
  int is64 = index->dtype == PRIOR_I64, blocks = cu_blocks(lines, 128);
  if (acc->dtype == PRIOR_F32)
    scatter_add_kernel<float><<<blocks, 128, 0, stream>>>((float *)cu_data(acc), (const float *)cu_data(src),
                                                          cu_data(index), is64, w, lines, len);
  else
    scatter_add_kernel<double><<<blocks, 128, 0, stream>>>((double *)cu_data(acc), (const double *)cu_data(src),
                                                           cu_data(index), is64, w, lines, len);
  return cu_check_launch("scatter_add on the GPU");
}

#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_index_select), prior_index_select_kernel>::value, "cuda_index_select");
static_assert(std::is_same<decltype(&cuda_index_add), prior_index_add_kernel>::value, "cuda_index_add");
static_assert(std::is_same<decltype(&cuda_gather), prior_gather_kernel>::value, "cuda_gather");
static_assert(std::is_same<decltype(&cuda_scatter_add), prior_scatter_add_kernel>::value, "cuda_scatter_add");

__attribute__((constructor)) static void register_cuda_index(void) {
  cu_register("index_select", (prior_kernel_fn)cuda_index_select);
  cu_register("index_add", (prior_kernel_fn)cuda_index_add);
  cu_register("gather", (prior_kernel_fn)cuda_gather);
  cu_register("scatter_add", (prior_kernel_fn)cuda_scatter_add);
}
