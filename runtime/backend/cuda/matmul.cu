/* "matmul" on the GPU through cuBLAS: out[..., n, m] = a[..., n, k] x b[..., k, m] as one strided-batched
 * GEMM. Operands keep their strides when cuBLAS can read them directly (row-major or transposed matrices,
 * batch dims that collapse to one stride, or a broadcast batch of stride 0); anything else is made
 * contiguous first. f64 runs in f64; f32 runs in strict f32 (no TF32), or, under autocast (prior/amp.h),
 * with bf16 operands, f32 accumulation and an f32 output. */
#include <cublas_v2.h>
#include <pthread.h>

extern "C" {
#include "prior/amp.h"
}
#include "backend/cuda/cuda_internal.cuh"

static pthread_mutex_t handle_lock = PTHREAD_MUTEX_INITIALIZER;
static cublasHandle_t handles[PRIOR_CUDA_MAX_DEVICES];

static prior_status blas_check(cublasStatus_t st, const char *what) {
  if (st == CUBLAS_STATUS_SUCCESS) return PRIOR_OK;
  return prior_error_set(st == CUBLAS_STATUS_ALLOC_FAILED ? PRIOR_ERR_MEMORY : PRIOR_ERR_DEVICE, "%s: cuBLAS error %s",
                         what, cublasGetStatusString(st));
}

/* The device's cuBLAS handle, bound to its stream. */
static prior_status handle_of(prior_device device, cublasHandle_t *out) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(device, &stream));
  pthread_mutex_lock(&handle_lock);
  prior_status s = PRIOR_OK;
  if (!handles[device.index]) {
    s = blas_check(cublasCreate(&handles[device.index]), "creating the cuBLAS handle");
    if (s == PRIOR_OK) s = blas_check(cublasSetStream(handles[device.index], stream), "binding cuBLAS to the stream");
    /* strict f32: results comparable with the CPU; bf16 autocast is the fast path */
    if (s == PRIOR_OK) s = blas_check(cublasSetMathMode(handles[device.index], CUBLAS_DEFAULT_MATH), "cuBLAS math mode");
  }
  *out = handles[device.index];
  pthread_mutex_unlock(&handle_lock);
  return s;
}

struct operand {
  const char *ptr;
  int trans;  /* 0: row-major rows x cols; 1: column-major */
  int64_t ld; /* leading dimension in elements */
  int64_t batch_stride;
};

/* How cuBLAS can read t (logical [..., rows, cols]) in place; 0 when it cannot. */
static int describe(const prior_tensor *t, operand *d) {
  int nd = t->ndim;
  int64_t R = t->shape[nd - 2], C = t->shape[nd - 1], sr = t->strides[nd - 2], sc = t->strides[nd - 1];
  if ((C == 1 || sc == 1) && (R == 1 || sr >= C)) {
    d->trans = 0;
    d->ld = R == 1 ? C : sr;
  } else if ((R == 1 || sr == 1) && (C == 1 || sc >= R)) {
    d->trans = 1;
    d->ld = C == 1 ? R : sc;
  } else {
    return 0;
  }
  if (d->ld < 1) d->ld = 1;
  /* batch dims: one stride (collapsible) or all broadcast (stride 0) */
  int64_t stride = -1, expect = -1;
  for (int dim = nd - 3; dim >= 0; dim--) {
    if (t->shape[dim] == 1) continue;
    if (stride < 0) {
      stride = t->strides[dim];
      expect = stride * t->shape[dim];
    } else {
      if (t->strides[dim] != expect) return 0;
      expect *= t->shape[dim];
    }
  }
  d->batch_stride = stride < 0 ? 0 : stride;
  d->ptr = cu_data(t);
  return 1;
}

/* A bf16 copy for autocast: only the one matrix when the batch is broadcast. */
static prior_tensor *to_bf16(const prior_tensor *t, const operand *d) {
  int nd = t->ndim;
  if (d->batch_stride == 0 && nd > 2) {
    prior_tensor *slice = prior_tensor_as_strided(t, 2, t->shape + nd - 2, t->strides + nd - 2, t->offset);
    prior_tensor *c = slice ? prior_tensor_to_dtype_raw(slice, PRIOR_BF16) : NULL;
    prior_tensor_free(slice);
    return c;
  }
  return prior_tensor_to_dtype_raw(t, PRIOR_BF16);
}

/* Describes t, replacing it by a contiguous (and, under autocast, bf16) copy when needed; *keep owns it. */
static prior_status prepare(const prior_tensor *t, int bf16, operand *d, prior_tensor **keep) {
  *keep = NULL;
  int ok = describe(t, d);
  if (!ok) {
    *keep = prior_tensor_contiguous_raw(t);
    if (!*keep) return prior_error_code();
    t = *keep;
    ok = describe(t, d);
    PRIOR_ASSERT(ok);
  }
  if (bf16) {
    prior_tensor *c = to_bf16(t, d);
    prior_tensor_free(*keep);
    *keep = c;
    if (!c) return prior_error_code();
    ok = describe(c, d); /* a single converted matrix has batch stride 0 */
    PRIOR_ASSERT(ok);
  }
  return PRIOR_OK;
}

static prior_status cuda_matmul(prior_tensor *out, const prior_tensor *a, const prior_tensor *b) {
  int nd = out->ndim;
  if (nd < 2 || a->ndim != nd || b->ndim != nd)
    return prior_error_set(PRIOR_ERR_SHAPE, "matmul on cuda: operands need the output's rank (>= 2)");
  if (a->dtype != out->dtype || b->dtype != out->dtype || (out->dtype != PRIOR_F32 && out->dtype != PRIOR_F64))
    return prior_error_set(PRIOR_ERR_DTYPE, "matmul on cuda: f32 or f64 operands of one dtype, got %s x %s -> %s",
                           prior_dtype_name((prior_dtype)a->dtype), prior_dtype_name((prior_dtype)b->dtype),
                           prior_dtype_name((prior_dtype)out->dtype));
  int64_t n = out->shape[nd - 2], m = out->shape[nd - 1], k = a->shape[nd - 1], batch = 1;
  for (int d = 0; d < nd - 2; d++) batch *= out->shape[d];
  if (n > INT32_MAX || m > INT32_MAX || k > INT32_MAX || batch > INT32_MAX)
    return prior_error_set(PRIOR_ERR_SHAPE, "matmul on cuda: sizes beyond cuBLAS's 32-bit limits");
  if (!prior_tensor_is_contiguous(out))
    return prior_error_set(PRIOR_ERR_INTERNAL, "matmul on cuda: the output must be contiguous");
  cublasHandle_t h;
  PRIOR_TRY(handle_of(out->device, &h));
  if (n * m * batch == 0) return PRIOR_OK;
  if (k == 0) return prior_tensor_fill_(out, 0.0);
  int bf16 = out->dtype == PRIOR_F32 && prior_autocast_enabled();
  operand da, db;
  prior_tensor *ka = NULL, *kb = NULL;
  prior_status s = prepare(a, bf16, &da, &ka);
  if (s == PRIOR_OK) s = prepare(b, bf16, &db, &kb);
  if (s == PRIOR_OK) {
    /* row-major C = A B is column-major C^T = B^T A^T: cuBLAS's first operand is B. A row-major matrix
     * read column-major is its transpose, so a row-major operand needs no transpose flag. */
    cudaDataType ab_type = bf16 ? CUDA_R_16BF : out->dtype == PRIOR_F64 ? CUDA_R_64F : CUDA_R_32F;
    cudaDataType c_type = out->dtype == PRIOR_F64 ? CUDA_R_64F : CUDA_R_32F;
    cublasComputeType_t compute = out->dtype == PRIOR_F64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
    double one64 = 1.0, zero64 = 0.0;
    float one32 = 1.0f, zero32 = 0.0f;
    const void *alpha = out->dtype == PRIOR_F64 ? (const void *)&one64 : (const void *)&one32;
    const void *beta = out->dtype == PRIOR_F64 ? (const void *)&zero64 : (const void *)&zero32;
    s = blas_check(cublasGemmStridedBatchedEx(h, db.trans ? CUBLAS_OP_T : CUBLAS_OP_N, da.trans ? CUBLAS_OP_T : CUBLAS_OP_N,
                                              (int)m, (int)n, (int)k, alpha, db.ptr, ab_type, (int)db.ld,
                                              db.batch_stride, da.ptr, ab_type, (int)da.ld, da.batch_stride, beta,
                                              cu_data(out), c_type, (int)m, n * m, (int)batch, compute,
                                              CUBLAS_GEMM_DEFAULT),
                   "matmul on cuda");
  }
  prior_free_all(2, ka, kb); /* the stream orders their reuse after the GEMM */
  return s;
}

extern "C" prior_status prior_cuda_matmul(prior_tensor *out, const prior_tensor *a, const prior_tensor *b) {
  PRIOR_TRY(prior_check_tensor("cuda.matmul", "out", out));
  PRIOR_TRY(prior_check_tensor("cuda.matmul", "a", a));
  PRIOR_TRY(prior_check_tensor("cuda.matmul", "b", b));
  PRIOR_TRY(prior_check_ndim("cuda.matmul", "a", a, 2));
  PRIOR_TRY(prior_check_ndim("cuda.matmul", "b", b, 2));
  PRIOR_TRY(prior_check_ndim("cuda.matmul", "out", out, 2));
  PRIOR_TRY(prior_check_same_device("cuda.matmul", out, a));
  PRIOR_TRY(prior_check_same_device("cuda.matmul", out, b));
  if (out->device.type != PRIOR_DEVICE_CUDA)
    return prior_error_set(PRIOR_ERR_DEVICE, "cuda.matmul: tensors are on %s, not a GPU", prior_device_name(out->device));
  if (a->shape[1] != b->shape[0] || out->shape[0] != a->shape[0] || out->shape[1] != b->shape[1])
    return prior_error_set(PRIOR_ERR_SHAPE, "cuda.matmul: [%lld, %lld] x [%lld, %lld] does not give [%lld, %lld]",
                           (long long)a->shape[0], (long long)a->shape[1], (long long)b->shape[0],
                           (long long)b->shape[1], (long long)out->shape[0], (long long)out->shape[1]);
  return cuda_matmul(out, a, b);
}

#include "backend/cuda/dense_kernels.cuh"
#if PRIOR_HAVE_KERNELS_DENSE
#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_matmul), prior_matmul_kernel>::value, "cuda_matmul");
#endif

__attribute__((constructor)) static void register_cuda_matmul(void) {
  cu_register("matmul", (prior_kernel_fn)cuda_matmul);
}
