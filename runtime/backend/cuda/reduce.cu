/* "reduce" on the GPU, mirroring runtime/backend/cpu/reduce.c: the input is viewed with the kept dims first
 * and the reduced dims last, made contiguous on the device, and each of the m rows of length r is reduced
 * (a block per row for long rows, a thread per row for short ones). Sums, products, norms and logsumexp
 * accumulate in double as on the CPU; max/min pick the first position of the extreme, a NaN winning. */
#include <math.h>

#include "backend/cuda/cuda_internal.cuh"

#define BLOCK 256

struct acc_t {
  double v;
  int64_t index;
};

__device__ __forceinline__ bool is_max_op(int op) { return op == PRIOR_REDUCE_MAX || op == PRIOR_REDUCE_ARGMAX; }
__device__ __forceinline__ bool is_arg_op(int op) {
  return op == PRIOR_REDUCE_MAX || op == PRIOR_REDUCE_ARGMAX || op == PRIOR_REDUCE_MIN || op == PRIOR_REDUCE_ARGMIN;
}

/* b follows a in the row when b.index > a.index; ties keep the earlier one, a NaN beats any number. */
__device__ __forceinline__ acc_t pick(acc_t a, acc_t b, bool want_max) {
  bool a_nan = a.v != a.v, b_nan = b.v != b.v;
  if (a_nan || b_nan) {
    if (a_nan && b_nan) return a.index <= b.index ? a : b;
    return a_nan ? a : b;
  }
  if (a.v == b.v) return a.index <= b.index ? a : b;
  return (want_max ? b.v > a.v : b.v < a.v) ? b : a;
}

__device__ __forceinline__ acc_t identity(int op) {
  acc_t a;
  a.index = INT64_MAX;
  switch (op) {
    case PRIOR_REDUCE_PROD: a.v = 1; break;
    case PRIOR_REDUCE_MAX:
    case PRIOR_REDUCE_ARGMAX:
    case PRIOR_REDUCE_LOGSUMEXP: a.v = -INFINITY; break;
    case PRIOR_REDUCE_MIN:
    case PRIOR_REDUCE_ARGMIN: a.v = INFINITY; break;
    default: a.v = 0; break;
  }
  return a;
}

__device__ __forceinline__ acc_t combine(acc_t a, acc_t b, int op) {
  switch (op) {
    case PRIOR_REDUCE_PROD: a.v *= b.v; return a;
    case PRIOR_REDUCE_LOGSUMEXP: a.v = fmax(a.v, b.v); return a; /* first pass: the row maximum */
    case PRIOR_REDUCE_SUM:
    case PRIOR_REDUCE_MEAN:
    case PRIOR_REDUCE_NORM2: a.v += b.v; return a;
    default:
      if (a.index == INT64_MAX) return b;
      if (b.index == INT64_MAX) return a;
      return pick(a, b, is_max_op(op));
  }
}

/* One element's contribution. For logsumexp's second pass `m` is the row maximum. */
__device__ __forceinline__ acc_t element(const char *row, int64_t i, int dtype, size_t esize, int op, int pass, double m) {
  acc_t e;
  e.index = i;
  double x = cu_load(row + i * esize, dtype);
  if (op == PRIOR_REDUCE_NORM2) x = x * x;
  if (op == PRIOR_REDUCE_LOGSUMEXP && pass == 1)
    x = dtype == PRIOR_F32 ? (double)expf((float)x - (float)m) : exp(x - m);
  e.v = x;
  return e;
}

__device__ __forceinline__ acc_t block_reduce(acc_t a, int op, int lse_pass) {
  __shared__ double sv[BLOCK];
  __shared__ int64_t si[BLOCK];
  int op_eff = (op == PRIOR_REDUCE_LOGSUMEXP && lse_pass == 1) ? PRIOR_REDUCE_SUM : op;
  sv[threadIdx.x] = a.v, si[threadIdx.x] = a.index;
  __syncthreads();
  for (int s = BLOCK / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      acc_t x = {sv[threadIdx.x], si[threadIdx.x]}, y = {sv[threadIdx.x + s], si[threadIdx.x + s]};
      acc_t z = combine(x, y, op_eff);
      sv[threadIdx.x] = z.v, si[threadIdx.x] = z.index;
    }
    __syncthreads();
  }
  acc_t out = {sv[0], si[0]};
  __syncthreads();
  return out;
}

__device__ __forceinline__ double finish(acc_t a, int op, int64_t r, double m) {
  switch (op) {
    case PRIOR_REDUCE_MEAN: return a.v / (double)r;
    case PRIOR_REDUCE_NORM2: return sqrt(a.v);
    case PRIOR_REDUCE_LOGSUMEXP: return isinf(m) ? m : m + log(a.v);
    case PRIOR_REDUCE_ARGMAX:
    case PRIOR_REDUCE_ARGMIN: return (double)(a.index == INT64_MAX ? 0 : a.index);
    default: return a.v;
  }
}

__device__ __forceinline__ size_t dsize(int dtype) {
  switch (dtype) {
    case PRIOR_F64:
    case PRIOR_I64: return 8;
    case PRIOR_F32:
    case PRIOR_I32: return 4;
    case PRIOR_BF16:
    case PRIOR_F16: return 2;
    default: return 1;
  }
}

/* A block per row. */
__global__ void reduce_rows_block(char *out, int out_dtype, int64_t *indices, const char *in, int dtype, int64_t m,
                                  int64_t r, int op) {
  size_t esize = dsize(dtype), osize = dsize(out_dtype);
  for (int64_t row = blockIdx.x; row < m; row += gridDim.x) {
    const char *x = in + (size_t)row * r * esize;
    int first_op = op == PRIOR_REDUCE_LOGSUMEXP ? PRIOR_REDUCE_MAX : op;
    acc_t a = identity(first_op);
    for (int64_t i = threadIdx.x; i < r; i += BLOCK) a = combine(a, element(x, i, dtype, esize, first_op, 0, 0), first_op);
    a = block_reduce(a, first_op, 0);
    double mx = 0;
    if (op == PRIOR_REDUCE_LOGSUMEXP) {
      mx = a.v;
      acc_t s = identity(PRIOR_REDUCE_SUM);
      if (!isinf(mx))
        for (int64_t i = threadIdx.x; i < r; i += BLOCK) s.v += element(x, i, dtype, esize, op, 1, mx).v;
      a = block_reduce(s, PRIOR_REDUCE_SUM, 0);
    }
    if (threadIdx.x == 0) {
      cu_store(out + (size_t)row * osize, out_dtype, finish(a, op, r, mx));
      if (indices) indices[row] = a.index == INT64_MAX ? 0 : a.index;
    }
  }
}

/* A thread per row (short rows), reading in order like the CPU. */
__global__ void reduce_rows_thread(char *out, int out_dtype, int64_t *indices, const char *in, int dtype, int64_t m,
                                   int64_t r, int op) {
  size_t esize = dsize(dtype), osize = dsize(out_dtype);
  CU_GRID_LOOP(row, m) {
    const char *x = in + (size_t)row * r * esize;
    int first_op = op == PRIOR_REDUCE_LOGSUMEXP ? PRIOR_REDUCE_MAX : op;
    acc_t a = identity(first_op);
    for (int64_t i = 0; i < r; i++) a = combine(a, element(x, i, dtype, esize, first_op, 0, 0), first_op);
    double mx = 0;
    if (op == PRIOR_REDUCE_LOGSUMEXP) {
      mx = a.v;
      a.v = 0;
      if (!isinf(mx))
        for (int64_t i = 0; i < r; i++) a.v += element(x, i, dtype, esize, op, 1, mx).v;
    }
    cu_store(out + (size_t)row * osize, out_dtype, finish(a, op, r, mx));
    if (indices) indices[row] = a.index == INT64_MAX ? 0 : a.index;
  }
}

static prior_status cuda_reduce(prior_tensor *out, prior_tensor *indices, const prior_tensor *in, uint32_t mask,
                                int op) {
  int64_t shape[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS];
  int k = 0;
  int64_t m = 1, r = 1;
  for (int d = 0; d < in->ndim; d++)
    if (!(mask & (1u << d))) shape[k] = in->shape[d], strides[k++] = in->strides[d], m *= in->shape[d];
  for (int d = 0; d < in->ndim; d++)
    if (mask & (1u << d)) shape[k] = in->shape[d], strides[k++] = in->strides[d], r *= in->shape[d];
  if (op < PRIOR_REDUCE_SUM || op > PRIOR_REDUCE_PROD)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "reduce: unknown op %d", op);
  if (r == 0 && op != PRIOR_REDUCE_SUM && op != PRIOR_REDUCE_PROD && op != PRIOR_REDUCE_NORM2)
    return prior_error_set(PRIOR_ERR_SHAPE, "reduction over an empty dimension has no %s",
                           op == PRIOR_REDUCE_MEAN ? "mean" : "maximum/minimum");
  if (in->dtype == PRIOR_BF16 || in->dtype == PRIOR_F16)
    return prior_error_set(PRIOR_ERR_DTYPE, "reduce: dtype %s is storage only", prior_dtype_name((prior_dtype)in->dtype));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(out->device, &stream));
  if (m == 0) return PRIOR_OK;
  prior_tensor *view = prior_tensor_as_strided(in, in->ndim, shape, strides, in->offset);
  if (!view) return prior_error_code();
  prior_tensor *rows = prior_tensor_contiguous_raw(view);
  prior_tensor_free(view);
  if (!rows) return prior_error_code();
  int64_t *idx = indices ? (int64_t *)prior_tensor_data(indices) : NULL;
  if (r >= 64 || m < 1024)
    reduce_rows_block<<<cu_blocks(m, 1), BLOCK, 0, stream>>>(cu_data(out), out->dtype, idx, cu_data(rows),
                                                               rows->dtype, m, r, op);
  else
    reduce_rows_thread<<<cu_blocks(m, 128), 128, 0, stream>>>(cu_data(out), out->dtype, idx, cu_data(rows),
                                                                rows->dtype, m, r, op);
  prior_status s = cu_check_launch("reduction on the GPU");
  prior_tensor_free(rows); /* the stream orders its reuse after the kernel */
  return s;
}

#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_reduce), prior_reduce_kernel>::value, "cuda_reduce");

__attribute__((constructor)) static void register_cuda_reduce(void) {
  cu_register("reduce", (prior_kernel_fn)cuda_reduce);
}
