/* 1x1 convolutions (stride 1, no padding, one group, no bias) under CPU autocast, as matrix products over the
 * NCHW layout itself: each image's map [C, H W] is a matrix, so
 *   forward         out[n] = W x[n]                 ([O, C] x [C, HW], all images in one batched product)
 *   data gradient   gx[n]  = W^T g[n]               ([C, O] x [O, HW], batched)
 *   weight gradient gw     = sum_n g[n] x[n]^T      ([O, HW] x [HW, C], one product per image, accumulated)
 * with x and g as bf16 copies in their NCHW order (a flat conversion) and f32 results written in NCHW. The
 * oneDNN convolutions would need channels-last operands, i.e. a transpose of x, g and both results around every
 * call, and their AMX backward passes for 1x1 kernels run 2-5x slower than these products (docs/performance.md). */
#include "backend/cpu/conv_pointwise.h"

#include <string.h>

#include "backend/cpu/dnnl_util.h"

enum { PW_FWD = 1, PW_BWD_DATA = 2, PW_BWD_WEIGHTS = 3, PW_BWD_WEIGHTS_ACC = 4 };

/* Everything a cached plan depends on; zero-filled so padding bytes compare equal. */
typedef struct pointwise_key {
  int64_t tag; /* tells these keys apart from other plans' in the shared cache */
  int64_t kind, n, c, o, hw;
} pointwise_key;

#define POINTWISE_TAG 0x31783163 /* "1x1c" */

static void md(dnnl_memory_desc_t *m, int nd, const dnnl_dims_t dims, const dnnl_dims_t strides, dnnl_data_type_t t) {
  dnnl_memory_desc_init_by_strides(m, nd, dims, t, strides);
}

/* The batched products read the weights (f32, converted to bf16 by the plan) broadcast over the images:
 * forward W as [1, O, C], the data gradient W^T as [1, C, O] (the same memory, column-major). */
static prior_dnnl_plan *batched_plan(const pointwise_key *k) {
  int fwd = k->kind == PW_FWD;
  dnnl_dim_t rows = fwd ? k->o : k->c, inner = fwd ? k->c : k->o;
  dnnl_dims_t wd = {1, rows, inner}, ws = {k->o * k->c, fwd ? k->c : 1, fwd ? 1 : k->c};
  dnnl_dims_t bd = {k->n, inner, k->hw}, bs = {inner * k->hw, k->hw, 1};
  dnnl_dims_t od = {k->n, rows, k->hw}, os = {rows * k->hw, k->hw, 1};
  dnnl_memory_desc_t user[3], prim_w;
  md(&user[0], 3, wd, ws, dnnl_f32);
  md(&prim_w, 3, wd, ws, dnnl_bf16);
  md(&user[1], 3, bd, bs, dnnl_bf16);
  md(&user[2], 3, od, os, dnnl_f32);
  dnnl_matmul_desc_t d;
  dnnl_primitive_desc_t pd;
  dnnl_status_t st = dnnl_matmul_desc_init(&d, &prim_w, &user[1], NULL, &user[2]);
  if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &d, NULL, prior_dnnl_engine(), NULL);
  if (st != dnnl_success) return prior_dnnl_error("conv2d 1x1", "matmul descriptor", st), NULL;
  static const int ids[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}, outs[3] = {0, 0, 1};
  return prior_dnnl_plan_create("conv2d 1x1", pd, 3, ids, user, outs);
}

/* One image's share of the weight gradient: g[n] [O, HW] x x[n]^T [HW, C] into gw [O, C], written by the
 * first image and added to (a sum post-op) by the others. */
static prior_dnnl_plan *weights_plan(const pointwise_key *k) {
  dnnl_dims_t gd = {k->o, k->hw}, gs = {k->hw, 1};
  dnnl_dims_t xd = {k->hw, k->c}, xs = {1, k->hw};
  dnnl_dims_t wd = {k->o, k->c}, ws = {k->c, 1};
  dnnl_memory_desc_t user[3];
  md(&user[0], 2, gd, gs, dnnl_bf16);
  md(&user[1], 2, xd, xs, dnnl_bf16);
  md(&user[2], 2, wd, ws, dnnl_f32);
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t post = NULL;
  dnnl_status_t st = dnnl_success;
  if (k->kind == PW_BWD_WEIGHTS_ACC) {
    st = dnnl_post_ops_create(&post);
    if (st == dnnl_success) st = dnnl_post_ops_append_sum(post, 1.0f);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, post);
  }
  dnnl_matmul_desc_t d;
  dnnl_primitive_desc_t pd = NULL;
  if (st == dnnl_success) st = dnnl_matmul_desc_init(&d, &user[0], &user[1], NULL, &user[2]);
  if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &d, attr, prior_dnnl_engine(), NULL);
  if (post) dnnl_post_ops_destroy(post);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (st != dnnl_success) return prior_dnnl_error("conv2d 1x1 backward", "matmul descriptor", st), NULL;
  static const int ids[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}, outs[3] = {0, 0, 1};
  return prior_dnnl_plan_create("conv2d 1x1 backward", pd, 3, ids, user, outs);
}

static prior_status run(int kind, int64_t n, int64_t c, int64_t o, int64_t hw, void *const *ptrs) {
  if (!prior_dnnl_engine()) return prior_error_code();
  pointwise_key k;
  memset(&k, 0, sizeof k);
  k.tag = POINTWISE_TAG, k.kind = kind, k.n = n, k.c = c, k.o = o, k.hw = hw;
  prior_dnnl_plan *plan = prior_dnnl_cache_get(&k, sizeof k);
  int owned = 0;
  if (!plan) {
    plan = kind == PW_FWD || kind == PW_BWD_DATA ? batched_plan(&k) : weights_plan(&k);
    if (!plan) return prior_error_code();
    plan = prior_dnnl_cache_put(&k, sizeof k, plan, prior_dnnl_plan_destroy, &owned);
  }
  prior_status s = prior_dnnl_plan_execute(kind == PW_FWD ? "conv2d 1x1" : "conv2d 1x1 backward", plan, ptrs);
  if (owned) prior_dnnl_plan_destroy(plan);
  return s;
}

int prior_conv_pointwise_operand(const prior_tensor *t) {
  return t->dtype == PRIOR_BF16 && t->ndim == 4 && prior_tensor_is_contiguous(t);
}

prior_status prior_conv_pointwise_forward(prior_tensor *out, const prior_tensor *x, const prior_tensor *w) {
  void *ptrs[3] = {prior_tensor_data(w), prior_tensor_data(x), prior_tensor_data(out)};
  return run(PW_FWD, x->shape[0], x->shape[1], w->shape[0], x->shape[2] * x->shape[3], ptrs);
}

prior_status prior_conv_pointwise_backward_data(prior_tensor *gx, const prior_tensor *g, const prior_tensor *w) {
  void *ptrs[3] = {prior_tensor_data(w), prior_tensor_data(g), prior_tensor_data(gx)};
  return run(PW_BWD_DATA, g->shape[0], w->shape[1], w->shape[0], g->shape[2] * g->shape[3], ptrs);
}

prior_status prior_conv_pointwise_backward_weights(prior_tensor *gw, const prior_tensor *x, const prior_tensor *g) {
  int64_t n = x->shape[0], c = x->shape[1], o = g->shape[1], hw = x->shape[2] * x->shape[3];
  const uint16_t *xs = prior_tensor_data(x), *gs = prior_tensor_data(g);
  for (int64_t i = 0; i < n; i++) {
    void *ptrs[3] = {(void *)(gs + i * o * hw), (void *)(xs + i * c * hw), prior_tensor_data(gw)};
    PRIOR_TRY(run(i == 0 ? PW_BWD_WEIGHTS : PW_BWD_WEIGHTS_ACC, n, c, o, hw, ptrs));
  }
  return PRIOR_OK;
}
