/* "unary", "binary", "where" and "grad_sum" on the GPU, mirroring runtime/backend/cpu/elementwise.c op for op
 * (the same formulas, in the tensor's own precision). Operands broadcast to out's shape with any strides;
 * one kernel per dtype walks them through cu_strided, with a flat path when everything is contiguous. */
#include "backend/cuda/cuda_internal.cuh"

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

template <typename T>
__device__ __forceinline__ T unary_float(int op, T x, T p0, T p1) {
  switch (op) {
    case PRIOR_UNARY_NEG: return -x;
    case PRIOR_UNARY_EXP: return exp(x);
    case PRIOR_UNARY_LOG: return log(x);
    case PRIOR_UNARY_SQRT: return sqrt(x);
    case PRIOR_UNARY_RSQRT: return (T)1 / sqrt(x);
    case PRIOR_UNARY_ABS: return fabs(x);
    case PRIOR_UNARY_SIGMOID: return (T)1 / ((T)1 + exp(-x));
    case PRIOR_UNARY_TANH: return tanh(x);
    case PRIOR_UNARY_RELU: return x > 0 ? x : (T)0;
    case PRIOR_UNARY_GELU: return (T)0.5 * x * ((T)1 + erf(x * (T)INV_SQRT2));
    case PRIOR_UNARY_CLAMP: return x < p0 ? p0 : (x > p1 ? p1 : x);
    case PRIOR_UNARY_POW_SCALAR: return pow(x, p0);
    case PRIOR_UNARY_SIGN: return (T)((x > 0) - (x < 0));
    case PRIOR_UNARY_SQUARE: return x * x;
    case PRIOR_UNARY_RECIPROCAL: return (T)1 / x;
    case PRIOR_UNARY_LOG1P: return log1p(x);
    case PRIOR_UNARY_EXPM1: return expm1(x);
    case PRIOR_UNARY_AFFINE: return x * p0 + p1;
    case PRIOR_UNARY_CLAMP_MASK: return (T)(x >= p0 && x <= p1);
  }
  return x;
}

template <typename T>
__device__ __forceinline__ T unary_int(int op, T x, double p0, double p1) {
  switch (op) {
    case PRIOR_UNARY_NEG: return -x;
    case PRIOR_UNARY_ABS: return x < 0 ? -x : x;
    case PRIOR_UNARY_SIGN: return (T)((x > 0) - (x < 0));
    case PRIOR_UNARY_SQUARE: return x * x;
    case PRIOR_UNARY_RELU: return x > 0 ? x : (T)0;
    case PRIOR_UNARY_CLAMP: return x < (T)p0 ? (T)p0 : (x > (T)p1 ? (T)p1 : x);
    case PRIOR_UNARY_AFFINE: return (T)(x * p0 + p1);
  }
  return x;
}

template <typename T, bool FLOAT>
__global__ void unary_kernel(cu_strided it, int op, double p0, double p1) {
  CU_GRID_LOOP(i, it.numel) {
    const T *src = it.contiguous ? (const T *)it.data[1] + i : (const T *)(it.data[1] + cu_offset(it, 1, i));
    T *dst = it.contiguous ? (T *)it.data[0] + i : (T *)(it.data[0] + cu_offset(it, 0, i));
    if constexpr (FLOAT)
      *dst = unary_float<T>(op, *src, (T)p0, (T)p1);
    else
      *dst = unary_int<T>(op, *src, p0, p1);
  }
}

static int unary_int_supported(int op) {
  return op == PRIOR_UNARY_NEG || op == PRIOR_UNARY_ABS || op == PRIOR_UNARY_SIGN || op == PRIOR_UNARY_SQUARE ||
         op == PRIOR_UNARY_RELU || op == PRIOR_UNARY_CLAMP || op == PRIOR_UNARY_AFFINE;
}

static prior_status cuda_unary(prior_tensor *out, const prior_tensor *in, int op, const double *params) {
  int is_float = in->dtype == PRIOR_F32 || in->dtype == PRIOR_F64;
  int is_int = (in->dtype == PRIOR_I32 || in->dtype == PRIOR_I64) && unary_int_supported(op);
  if ((!is_float && !is_int) || out->dtype != in->dtype || op < 0 || op > PRIOR_UNARY_CLAMP_MASK)
    return prior_error_set(PRIOR_ERR_DTYPE, "unary op %d is not implemented for dtype %s on cuda", op,
                           prior_dtype_name((prior_dtype)in->dtype));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(out->device, &stream));
  prior_tensor *ops[2] = {out, (prior_tensor *)in};
  cu_strided it;
  cu_strided_init(&it, out->ndim, out->shape, 2, ops);
  if (it.numel == 0) return PRIOR_OK;
  double p0 = params ? params[0] : 0, p1 = params ? params[1] : 0;
  const int threads = 256;
  int blocks = cu_blocks(it.numel, threads);
  switch (in->dtype) {
    case PRIOR_F32: unary_kernel<float, true><<<blocks, threads, 0, stream>>>(it, op, p0, p1); break;
    case PRIOR_F64: unary_kernel<double, true><<<blocks, threads, 0, stream>>>(it, op, p0, p1); break;
    case PRIOR_I32: unary_kernel<int32_t, false><<<blocks, threads, 0, stream>>>(it, op, p0, p1); break;
    default: unary_kernel<int64_t, false><<<blocks, threads, 0, stream>>>(it, op, p0, p1); break;
  }
  return cu_check_launch("unary op on the GPU");
}

/* ---- binary ---- */

template <typename T>
__device__ __forceinline__ T binary_float(int op, T a, T b) {
  switch (op) {
    case PRIOR_BINARY_ADD: return a + b;
    case PRIOR_BINARY_SUB: return a - b;
    case PRIOR_BINARY_MUL: return a * b;
    case PRIOR_BINARY_DIV: return a / b;
    case PRIOR_BINARY_POW: return pow(a, b);
    case PRIOR_BINARY_MAXIMUM: return (a >= b || a != a) ? a : b;
    case PRIOR_BINARY_MINIMUM: return (a <= b || a != a) ? a : b;
    case PRIOR_BINARY_RELU_BACKWARD: return b > 0 ? a : (T)0;
    case PRIOR_BINARY_GELU_BACKWARD:
      return a * ((T)0.5 * ((T)1 + erf(b * (T)INV_SQRT2)) + b * (T)INV_SQRT_2PI * exp((T)-0.5 * b * b));
    case PRIOR_BINARY_SIGMOID_BACKWARD: return a * b * ((T)1 - b);
    case PRIOR_BINARY_TANH_BACKWARD: return a * ((T)1 - b * b);
    case PRIOR_BINARY_SIGN_MUL: return a * (T)((b > 0) - (b < 0));
  }
  return a;
}

template <typename T>
__device__ __forceinline__ T binary_int(int op, T a, T b) {
  switch (op) {
    case PRIOR_BINARY_ADD: return a + b;
    case PRIOR_BINARY_SUB: return a - b;
    case PRIOR_BINARY_MUL: return a * b;
    case PRIOR_BINARY_DIV: return b != 0 ? a / b : 0;
    case PRIOR_BINARY_MAXIMUM: return a >= b ? a : b;
    case PRIOR_BINARY_MINIMUM: return a <= b ? a : b;
  }
  return a;
}

template <typename T>
__device__ __forceinline__ uint8_t compare(int op, T a, T b) {
  switch (op) {
    case PRIOR_BINARY_EQ: return a == b;
    case PRIOR_BINARY_NE: return a != b;
    case PRIOR_BINARY_LT: return a < b;
    case PRIOR_BINARY_LE: return a <= b;
    case PRIOR_BINARY_GT: return a > b;
    default: return a >= b;
  }
}

template <typename T, bool FLOAT>
__global__ void binary_kernel(cu_strided it, int op) {
  bool cmp = op >= PRIOR_BINARY_EQ && op <= PRIOR_BINARY_GE;
  CU_GRID_LOOP(i, it.numel) {
    T a = *(const T *)(it.data[1] + cu_offset(it, 1, i));
    T b = *(const T *)(it.data[2] + cu_offset(it, 2, i));
    char *dst = it.data[0] + cu_offset(it, 0, i);
    if (cmp)
      *(uint8_t *)dst = compare<T>(op, a, b);
    else if constexpr (FLOAT)
      *(T *)dst = binary_float<T>(op, a, b);
    else
      *(T *)dst = binary_int<T>(op, a, b);
  }
}

/* The common case (same shapes, contiguous): no index arithmetic. */
template <typename T>
__global__ void binary_flat_kernel(T *out, const T *a, const T *b, int64_t n, int op) {
  CU_GRID_LOOP(i, n) out[i] = binary_float<T>(op, a[i], b[i]);
}

static prior_status cuda_binary(prior_tensor *out, const prior_tensor *a, const prior_tensor *b, int op) {
  int is_int = a->dtype == PRIOR_I32 || a->dtype == PRIOR_I64 || a->dtype == PRIOR_U8 || a->dtype == PRIOR_BOOL;
  int is_float = a->dtype == PRIOR_F32 || a->dtype == PRIOR_F64;
  if (is_int && (op == PRIOR_BINARY_POW || op >= PRIOR_BINARY_RELU_BACKWARD)) is_int = 0;
  if ((!is_int && !is_float) || a->dtype != b->dtype || op < 0 || op > PRIOR_BINARY_SIGN_MUL)
    return prior_error_set(PRIOR_ERR_DTYPE, "binary op %d is not implemented for dtypes %s and %s on cuda", op,
                           prior_dtype_name((prior_dtype)a->dtype), prior_dtype_name((prior_dtype)b->dtype));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(out->device, &stream));
  prior_tensor *ops[3] = {out, (prior_tensor *)a, (prior_tensor *)b};
  cu_strided it;
  cu_strided_init(&it, out->ndim, out->shape, 3, ops);
  if (it.numel == 0) return PRIOR_OK;
  const int threads = 256;
  int blocks = cu_blocks(it.numel, threads);
  int cmp = op >= PRIOR_BINARY_EQ && op <= PRIOR_BINARY_GE;
  if (it.contiguous && !cmp && a->dtype == PRIOR_F32)
    binary_flat_kernel<float><<<blocks, threads, 0, stream>>>((float *)it.data[0], (const float *)it.data[1],
                                                              (const float *)it.data[2], it.numel, op);
  else
    switch (a->dtype) {
      case PRIOR_F32: binary_kernel<float, true><<<blocks, threads, 0, stream>>>(it, op); break;
      case PRIOR_F64: binary_kernel<double, true><<<blocks, threads, 0, stream>>>(it, op); break;
      case PRIOR_I32: binary_kernel<int32_t, false><<<blocks, threads, 0, stream>>>(it, op); break;
      case PRIOR_I64: binary_kernel<int64_t, false><<<blocks, threads, 0, stream>>>(it, op); break;
      default: binary_kernel<uint8_t, false><<<blocks, threads, 0, stream>>>(it, op); break;
    }
  return cu_check_launch("binary op on the GPU");
}

/* ---- where ---- */

template <typename T>
__global__ void where_kernel(cu_strided it) {
  CU_GRID_LOOP(i, it.numel) {
    bool c = *(const uint8_t *)(it.data[1] + cu_offset(it, 1, i)) != 0;
    *(T *)(it.data[0] + cu_offset(it, 0, i)) =
        c ? *(const T *)(it.data[2] + cu_offset(it, 2, i)) : *(const T *)(it.data[3] + cu_offset(it, 3, i));
  }
}

static prior_status cuda_where(prior_tensor *out, const prior_tensor *cond, const prior_tensor *a,
                               const prior_tensor *b) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(out->device, &stream));
  prior_tensor *ops[4] = {out, (prior_tensor *)cond, (prior_tensor *)a, (prior_tensor *)b};
  cu_strided it;
  cu_strided_init(&it, out->ndim, out->shape, 4, ops);
  if (it.numel == 0) return PRIOR_OK;
  const int threads = 256;
  int blocks = cu_blocks(it.numel, threads);
  switch (prior_dtype_size((prior_dtype)out->dtype)) {
    case 1: where_kernel<uint8_t><<<blocks, threads, 0, stream>>>(it); break;
    case 2: where_kernel<uint16_t><<<blocks, threads, 0, stream>>>(it); break;
    case 4: where_kernel<uint32_t><<<blocks, threads, 0, stream>>>(it); break;
    default: where_kernel<uint64_t><<<blocks, threads, 0, stream>>>(it); break;
  }
  return cu_check_launch("where on the GPU");
}

/* ---- grad_sum: gradient accumulation in backward ---- */

static prior_tensor *cuda_grad_sum(const prior_tensor *a, const prior_tensor *b) {
  if (a->dtype != PRIOR_F32 && a->dtype != PRIOR_F64) {
    prior_error_set(PRIOR_ERR_DTYPE, "backward: cannot accumulate gradients of dtype %s",
                    prior_dtype_name((prior_dtype)a->dtype));
    return NULL;
  }
  prior_tensor *bb = b->dtype == a->dtype ? prior_tensor_retain((prior_tensor *)b)
                                          : prior_tensor_to_dtype_raw(b, (prior_dtype)a->dtype);
  prior_tensor *out = bb ? prior_tensor_empty(a->ndim, a->shape, (prior_dtype)a->dtype, a->device) : NULL;
  if (out && cuda_binary(out, a, bb, PRIOR_BINARY_ADD) != PRIOR_OK) {
    prior_tensor_free(out);
    out = NULL;
  }
  prior_tensor_free(bb);
  return out;
}

#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_unary), prior_unary_kernel>::value, "cuda_unary");
static_assert(std::is_same<decltype(&cuda_binary), prior_binary_kernel>::value, "cuda_binary");
static_assert(std::is_same<decltype(&cuda_where), prior_where_kernel>::value, "cuda_where");
static_assert(std::is_same<decltype(&cuda_grad_sum), prior_grad_sum_kernel>::value, "cuda_grad_sum");

__attribute__((constructor)) static void register_cuda_elementwise(void) {
  cu_register("unary", (prior_kernel_fn)cuda_unary);
  cu_register("binary", (prior_kernel_fn)cuda_binary);
  cu_register("where", (prior_kernel_fn)cuda_where);
  cu_register("grad_sum", (prior_kernel_fn)cuda_grad_sum);
}
