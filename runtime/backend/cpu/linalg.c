/* CPU matrix products. f32: oneDNN's sgemm, one call per matrix of the batch; operands are passed with their
 * own strides whenever one of the two matrix strides is 1 (a transposed view costs nothing). Under autocast
 * (prior/amp.h) on a CPU with native bf16: oneDNN's matmul primitive with bf16 operands and f32 results, the
 * whole batch in one call. f64: a plain loop, the reference the f32 path is tested
 * against. */
#include <omp.h>
#include <string.h>

#include "backend/cpu/dnnl_util.h"
#include "core/strided.h"
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

/* ---- bf16 operands under autocast ------------------------------------------------------------------------ */

/* Everything a cached bf16 matmul plan depends on; zero-filled so padding bytes compare equal. */
typedef struct bf16_key {
  int64_t ndim, a_bf16, b_bf16; /* whether the operand is already bf16 (autocast's saved copies) */
  int64_t bias;                 /* an f32 bias [m] added to every row (2-D products only) */
  int64_t out_dims[PRIOR_MAX_DIMS];
  int64_t a_dims[PRIOR_MAX_DIMS], a_strides[PRIOR_MAX_DIMS];
  int64_t b_dims[PRIOR_MAX_DIMS], b_strides[PRIOR_MAX_DIMS];
} bf16_key;

/* An operand as oneDNN sees it: out's batch dims with the operand's strides, and 1 where the operand is
 * broadcast (stride 0), which oneDNN's matmul broadcasts itself; then its own matrix dims. */
static void operand_dims(const prior_tensor *t, const prior_tensor *out, int64_t rows, int64_t cols, int64_t *dims,
                         int64_t *strides) {
  int nd = out->ndim;
  for (int d = 0; d < nd - 2; d++) {
    dims[d] = t->strides[d] == 0 ? 1 : out->shape[d];
    strides[d] = t->strides[d];
  }
  dims[nd - 2] = rows, dims[nd - 1] = cols;
  strides[nd - 2] = t->strides[nd - 2], strides[nd - 1] = t->strides[nd - 1];
}

/* A dense bf16 layout with the dims in the same memory order as `strides` (a transposed operand stays
 * transposed): converting into it is one streaming pass, where a reordering conversion (into oneDNN's
 * preferred blocked layout, or from a transposed view into a row-major one) costs several times more, and the
 * AMX matmul packs its operands itself either way. */
static void same_order_md(dnnl_memory_desc_t *md, int nd, const dnnl_dim_t *dims, const dnnl_dim_t *strides) {
  int64_t shape[PRIOR_MAX_DIMS], in[PRIOR_MAX_DIMS], dense[PRIOR_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = dims[d], in[d] = strides[d];
  prior_same_order_strides(nd, shape, in, dense);
  dnnl_dims_t out;
  for (int d = 0; d < nd; d++) out[d] = dense[d];
  dnnl_memory_desc_init_by_strides(md, nd, dims, dnnl_bf16, out);
}

/* A plan for the whole batched product: our f32 operands, read with their strides (permuted heads, transposes,
 * broadcasts), are reordered into bf16 in whatever layout the primitive prefers; the output is f32 row-major. */
static prior_dnnl_plan *bf16_plan(const bf16_key *key) {
  if (!prior_dnnl_engine()) return NULL;
  int nd = (int)key->ndim;
  dnnl_dims_t ad, as, bd, bs, od, os;
  for (int d = 0; d < nd; d++) {
    ad[d] = key->a_dims[d], as[d] = key->a_strides[d], bd[d] = key->b_dims[d], bs[d] = key->b_strides[d];
    od[d] = key->out_dims[d];
  }
  os[nd - 1] = 1;
  for (int d = nd - 2; d >= 0; d--) os[d] = os[d + 1] * od[d + 1];
  dnnl_memory_desc_t user[4], prim_a, prim_b;
  dnnl_memory_desc_init_by_strides(&user[0], nd, ad, key->a_bf16 ? dnnl_bf16 : dnnl_f32, as);
  dnnl_memory_desc_init_by_strides(&user[1], nd, bd, key->b_bf16 ? dnnl_bf16 : dnnl_f32, bs);
  dnnl_memory_desc_init_by_strides(&user[2], nd, od, dnnl_f32, os);
  if (key->bias) { /* [1, m]: one row broadcast over the product's rows */
    dnnl_dims_t bias_dims = {1, od[1]}, bias_strides = {od[1], 1};
    dnnl_memory_desc_init_by_strides(&user[3], 2, bias_dims, dnnl_f32, bias_strides);
  }
  same_order_md(&prim_a, nd, ad, as);
  same_order_md(&prim_b, nd, bd, bs);
  dnnl_matmul_desc_t md;
  dnnl_primitive_desc_t pd;
  dnnl_status_t st = dnnl_matmul_desc_init(&md, &prim_a, &prim_b, key->bias ? &user[3] : NULL, &user[2]);
  if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &md, NULL, prior_dnnl_engine(), NULL);
  if (st != dnnl_success) return prior_dnnl_error("matmul", "bf16 matmul descriptor", st), NULL;
  static const int ids[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS}, outs[4] = {0, 0, 1, 0};
  return prior_dnnl_plan_create("matmul", pd, key->bias ? 4 : 3, ids, user, outs);
}

/* out = a x b (+ bias, a row vector, when not NULL) with bf16 operands and f32 accumulation. */
static prior_status matmul_bf16(prior_tensor *out, const prior_tensor *a, const prior_tensor *b,
                                const prior_tensor *bias) {
  int nd = out->ndim;
  int64_t n = out->shape[nd - 2], m = out->shape[nd - 1], k = a->shape[nd - 1];
  bf16_key key;
  memset(&key, 0, sizeof key);
  key.ndim = nd;
  key.a_bf16 = a->dtype == PRIOR_BF16, key.b_bf16 = b->dtype == PRIOR_BF16;
  key.bias = bias != NULL;
  for (int d = 0; d < nd; d++) key.out_dims[d] = out->shape[d];
  operand_dims(a, out, n, k, key.a_dims, key.a_strides);
  operand_dims(b, out, k, m, key.b_dims, key.b_strides);
  prior_dnnl_plan *plan = prior_dnnl_cache_get(&key, sizeof key);
  int owned = 0;
  if (!plan) {
    if (!(plan = bf16_plan(&key))) return prior_error_code();
    plan = prior_dnnl_cache_put(&key, sizeof key, plan, prior_dnnl_plan_destroy, &owned);
  }
  void *ptrs[4] = {(void *)prior_tensor_data(a), (void *)prior_tensor_data(b), prior_tensor_data(out),
                   bias ? (void *)prior_tensor_data(bias) : NULL};
  prior_status s = prior_dnnl_plan_execute("matmul", plan, ptrs);
  if (owned) prior_dnnl_plan_destroy(plan);
  return s;
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
    case PRIOR_F32: /* bf16 operands (kept by autocast for backward) take the bf16 path whatever the switch says now */
      if (a->dtype == PRIOR_BF16 || b->dtype == PRIOR_BF16) return matmul_bf16(out, a, b, NULL);
      if (prior_cpu_autocast_bf16() && 
          !prior_matmul_stays_f32(out->shape[out->ndim - 2], a->shape[a->ndim - 1], out->shape[out->ndim - 1]))
        return matmul_bf16(out, a, b, NULL);
      return matmul_f32(out, a, b);
    case PRIOR_F64: return matmul_f64(out, a, b);
    default: return prior_error_set(PRIOR_ERR_DTYPE, "matmul: CPU kernel takes f32 or f64, got %s",
                                    prior_dtype_name((prior_dtype)out->dtype));
  }
}

static prior_status cpu_matmul_bias(prior_tensor *out, const prior_tensor *a, const prior_tensor *b,
                                    const prior_tensor *bias) {
  if (out->ndim != 2 || a->dtype != PRIOR_BF16 || b->dtype != PRIOR_BF16 || out->dtype != PRIOR_F32 ||
      bias->dtype != PRIOR_F32 || bias->ndim != 1 || bias->shape[0] != out->shape[1] || !prior_tensor_is_contiguous(bias))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "matmul_bias: takes 2-D bf16 operands, an f32 product and a contiguous "
                                               "f32 bias of the product's columns");
  if (prior_tensor_numel(out) == 0) return PRIOR_OK;
  return matmul_bf16(out, a, b, bias);
}

__attribute__((constructor)) static void register_linalg_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "matmul", (prior_kernel_fn)cpu_matmul);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "matmul_bias", (prior_kernel_fn)cpu_matmul_bias);
}
