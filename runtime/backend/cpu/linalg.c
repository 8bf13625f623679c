/* CPU matrix products. f32: oneDNN's sgemm, one call per matrix of the batch; operands are passed with their
 * own strides whenever one of the two matrix strides is 1 (a transposed view costs nothing). f64: a plain
 * loop, the reference the f32 path is tested against. */
#include <omp.h>
#include <string.h>

#include "backend/cpu/dnnl_util.h"
#include "backend/kernels_dense.h"
#include "prior/device.h"

/* How sgemm can read a rows x cols matrix with strides (sr, sc): 'N' (row-major, ld = sr) or 'T' (column-
 * major, ld = sc); 0 when neither fits and the operand must be copied. */
static char gemm_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, int64_t *ld) {
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= (cols > 1 ? cols : 1))) {
    *ld = rows == 1 ? (cols > 1 ? cols : 1) : sr;
    return 'N';
  }
  if ((rows == 1 || sr == 1) && (cols == 1 || sc >= (rows > 1 ? rows : 1))) {
    *ld = cols == 1 ? (rows > 1 ? rows : 1) : sc;
    return 'T';
  }
  return 0;
}

/* Offset of batch `b` (a flat index over out's batch dims) in a tensor with the same batch dims. */
static int64_t batch_offset(const prior_tensor *t, const prior_tensor *out, int64_t b) {
  int64_t off = 0;
  for (int d = out->ndim - 3; d >= 0; d--) {
    int64_t i = b % out->shape[d];
    b /= out->shape[d];
    off += i * t->strides[d];
  }
  return off;
}

/* Matrices below this many multiply-adds are run one per thread rather than each split across threads. */
#define SMALL_GEMM_MACS (1 << 20)

static prior_status matmul_f32(prior_tensor *out, const prior_tensor *a, const prior_tensor *b) {
  int nd = out->ndim;
  int64_t n = out->shape[nd - 2], m = out->shape[nd - 1], k = a->shape[nd - 1];
  int64_t batch = prior_tensor_numel(out) / (n * m);
  prior_tensor *ac = NULL, *bc = NULL;
  int64_t lda, ldb;
  char ta = gemm_layout(n, k, a->strides[nd - 2], a->strides[nd - 1], &lda);
  char tb = gemm_layout(k, m, b->strides[nd - 2], b->strides[nd - 1], &ldb);
  if (!ta) {
    if (!(ac = prior_tensor_clone_raw(a))) return prior_error_code();
    a = ac;
    ta = gemm_layout(n, k, a->strides[nd - 2], a->strides[nd - 1], &lda);
  }
  if (!tb) {
    if (!(bc = prior_tensor_clone_raw(b))) return prior_free_all(1, ac), prior_error_code();
    b = bc;
    tb = gemm_layout(k, m, b->strides[nd - 2], b->strides[nd - 1], &ldb);
  }
  const float *pa = prior_tensor_data(a), *pb = prior_tensor_data(b);
  float *po = prior_tensor_data(out);
  int small = n * m * k < SMALL_GEMM_MACS && batch >= omp_get_max_threads();
  int failed = 0;
  if (small) {
    /* Inside a parallel region oneDNN's sgemm runs on the calling thread alone. */
#pragma omp parallel for schedule(dynamic) reduction(| : failed)
    for (int64_t i = 0; i < batch; i++)
      failed |= dnnl_sgemm(ta, tb, n, m, k, 1.0f, pa + batch_offset(a, out, i), lda, pb + batch_offset(b, out, i), ldb,
                           0.0f, po + i * n * m, m) != dnnl_success;
  } else {
    /* Outside any parallel region, so that each product uses every thread. */
    for (int64_t i = 0; i < batch; i++)
      failed |= dnnl_sgemm(ta, tb, n, m, k, 1.0f, pa + batch_offset(a, out, i), lda, pb + batch_offset(b, out, i), ldb,
                           0.0f, po + i * n * m, m) != dnnl_success;
  }
  prior_free_all(2, ac, bc);
  if (failed) return prior_error_set(PRIOR_ERR_INTERNAL, "matmul: oneDNN sgemm failed at [%lld x %lld] x [%lld x %lld]",
                                     (long long)n, (long long)k, (long long)k, (long long)m);
  return PRIOR_OK;
}

static prior_status matmul_f64(prior_tensor *out, const prior_tensor *a, const prior_tensor *b) {
  int nd = out->ndim;
  int64_t n = out->shape[nd - 2], m = out->shape[nd - 1], k = a->shape[nd - 1];
  int64_t batch = prior_tensor_numel(out) / (n * m);
  int64_t as0 = a->strides[nd - 2], as1 = a->strides[nd - 1], bs0 = b->strides[nd - 2], bs1 = b->strides[nd - 1];
  const double *pa = prior_tensor_data(a), *pb = prior_tensor_data(b);
  double *po = prior_tensor_data(out);
#pragma omp parallel for collapse(2)
  for (int64_t bi = 0; bi < batch; bi++) {
    for (int64_t i = 0; i < n; i++) {
      const double *ar = pa + batch_offset(a, out, bi) + i * as0;
      const double *bb = pb + batch_offset(b, out, bi);
      double *orow = po + (bi * n + i) * m;
      for (int64_t j = 0; j < m; j++) orow[j] = 0;
      for (int64_t p = 0; p < k; p++) {
        double av = ar[p * as1];
        const double *br = bb + p * bs0;
        for (int64_t j = 0; j < m; j++) orow[j] += av * br[j * bs1];
      }
    }
  }
  return PRIOR_OK;
}

static prior_status cpu_matmul(prior_tensor *out, const prior_tensor *a, const prior_tensor *b) {
  int64_t nm = out->shape[out->ndim - 2] * out->shape[out->ndim - 1];
  if (prior_tensor_numel(out) == 0) return PRIOR_OK;
  if (a->shape[a->ndim - 1] == 0 || nm == 0) return prior_tensor_fill_(out, 0.0);
  switch (out->dtype) {
    case PRIOR_F32: return matmul_f32(out, a, b);
    case PRIOR_F64: return matmul_f64(out, a, b);
    default: return prior_error_set(PRIOR_ERR_DTYPE, "matmul: CPU kernel takes f32 or f64, got %s",
                                    prior_dtype_name((prior_dtype)out->dtype));
  }
}

__attribute__((constructor)) static void register_linalg_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "matmul", (prior_kernel_fn)cpu_matmul);
}
