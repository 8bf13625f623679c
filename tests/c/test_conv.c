/* conv2d: gradient checks for every option (stride, padding, dilation, groups, bias or not, a permuted input),
 * the f32 oneDNN path (forward, backward data, backward weights, bias) against the f64 reference loops, a
 * PyTorch fixture, and error paths. */
#include <pthread.h>

#include "dense_util.h"

typedef struct conv_cfg {
  int64_t stride[2], pad[2], dil[2], groups;
} conv_cfg;

static prior_tensor *apply_conv(prior_tensor *const *in, void *ctx) {
  const conv_cfg *c = ctx;
  return prior_conv2d(in[0], in[1], in[2], c->stride[0], c->stride[1], c->pad[0], c->pad[1], c->dil[0], c->dil[1],
                      c->groups);
}

/* x given as [N, H, W, C] and permuted to NCHW: a non-contiguous input */
static prior_tensor *apply_conv_nhwc(prior_tensor *const *in, void *ctx) {
  int64_t order[4] = {0, 3, 1, 2};
  prior_tensor *x = prior_permute(in[0], 4, order);
  prior_tensor *in2[3] = {x, in[1], in[2]};
  prior_tensor *y = apply_conv(in2, ctx);
  prior_tensor_free(x);
  return y;
}

static void run_case(const char *label, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw,
                     conv_cfg cfg, int with_bias, int grad, double f32_tol) {
  int64_t sx[4] = {n, c, h, w}, sw[4] = {o, c / cfg.groups, kh, kw}, sb[1] = {o};
  prior_tensor *x = leaf_uniform(4, sx, -1, 1), *wt = leaf_uniform(4, sw, -1, 1);
  prior_tensor *b = with_bias ? leaf_uniform(1, sb, -1, 1) : NULL;
  prior_tensor *in[3] = {x, wt, b};
  if (grad) GRADCHECK(label, apply_conv, &cfg, 3, in);
  if (f32_tol > 0) check_f32_vs_f64(label, apply_conv, &cfg, 3, in, f32_tol);
  prior_free_all(3, x, wt, b);
}

static void check_fixture(void) {
  /* tests/fixtures/dense/make_dense_fixtures.py: stride (2, 1), padding (1, 2), dilation (2, 1), groups 2 */
  prior_tensor *x = load_fixture("conv_x"), *w = load_fixture("conv_w"), *b = load_fixture("conv_b");
  prior_tensor *expect = load_fixture("conv_y");
  if (x && w && b && expect) {
    prior_tensor *y = prior_conv2d(x, w, b, 2, 1, 1, 2, 2, 1, 2);
    CHECK_MSG(y && max_rel_diff(y, expect) < 1e-12, "conv2d vs PyTorch: %s", y ? "values differ" : prior_error_message());
    prior_tensor *x32 = prior_tensor_to_dtype_raw(x, PRIOR_F32), *w32 = prior_tensor_to_dtype_raw(w, PRIOR_F32);
    prior_tensor *b32 = prior_tensor_to_dtype_raw(b, PRIOR_F32);
    prior_tensor *y32 = prior_conv2d(x32, w32, b32, 2, 1, 1, 2, 2, 1, 2);
    CHECK_MSG(y32 && max_rel_diff(y32, expect) < 1e-5, "conv2d f32 vs PyTorch");
    prior_free_all(5, y, x32, w32, b32, y32);
  }
  prior_free_all(4, x, w, b, expect);
}

/* Two threads run the same new f32 shape at once: both create the primitive, one of them is cached, and both
 * results must match the f64 reference. */
typedef struct thread_job {
  prior_tensor *x, *w, *y;
} thread_job;

static void *conv_thread(void *arg) {
  thread_job *j = arg;
  for (int i = 0; i < 3; i++) {
    prior_tensor_free(j->y);
    j->y = prior_conv2d(j->x, j->w, NULL, 1, 1, 1, 1, 1, 1, 1);
  }
  return NULL;
}

static void check_threads(void) {
  int64_t sx[4] = {2, 8, 10, 9}, sw[4] = {12, 8, 3, 3};
  prior_tensor *x = prior_tensor_empty(4, sx, PRIOR_F64, prior_cpu()), *w = prior_tensor_empty(4, sw, PRIOR_F64, prior_cpu());
  prior_tensor_uniform_(x, -1, 1);
  prior_tensor_uniform_(w, -1, 1);
  prior_tensor *ref = prior_conv2d(x, w, NULL, 1, 1, 1, 1, 1, 1, 1);
  thread_job jobs[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    jobs[i].x = prior_tensor_to_dtype_raw(x, PRIOR_F32), jobs[i].w = prior_tensor_to_dtype_raw(w, PRIOR_F32), jobs[i].y = NULL;
    pthread_create(&th[i], NULL, conv_thread, &jobs[i]);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    CHECK_MSG(jobs[i].y && max_rel_diff(jobs[i].y, ref) < 1e-5, "conv2d from thread %d", i);
    prior_free_all(3, jobs[i].x, jobs[i].w, jobs[i].y);
  }
  prior_free_all(3, x, w, ref);
}

static void check_errors(void) {
  int64_t sx[4] = {1, 4, 5, 5}, sw[4] = {6, 4, 3, 3}, sw2[4] = {6, 2, 3, 3}, sw7[4] = {2, 4, 7, 7}, sb[1] = {5};
  prior_tensor *x = leaf_uniform(4, sx, -1, 1), *w = leaf_uniform(4, sw, -1, 1), *w2 = leaf_uniform(4, sw2, -1, 1);
  prior_tensor *w7 = leaf_uniform(4, sw7, -1, 1), *b = leaf_uniform(1, sb, -1, 1);
  prior_tensor *x3 = prior_tensor_zeros(3, sx + 1, PRIOR_F64, prior_cpu());
  prior_tensor *x32 = prior_tensor_zeros(4, sx, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_conv2d(x, w2, NULL, 1, 1, 0, 0, 1, 1, 1), PRIOR_ERR_SHAPE, "4 channels");
  CHECK_ERR(prior_conv2d(x, w, NULL, 1, 1, 0, 0, 1, 1, 3), PRIOR_ERR_ARGUMENT, "groups = 3");
  CHECK_ERR(prior_conv2d(x, w7, NULL, 1, 1, 0, 0, 1, 1, 1), PRIOR_ERR_SHAPE, "larger than the padded input");
  CHECK_ERR(prior_conv2d(x, w, NULL, 1, 1, 0, 0, 3, 3, 1), PRIOR_ERR_SHAPE, "dilated extent 7");
  CHECK_ERR(prior_conv2d(x3, w, NULL, 1, 1, 0, 0, 1, 1, 1), PRIOR_ERR_SHAPE, "");
  CHECK_ERR(prior_conv2d(x, w, b, 1, 1, 0, 0, 1, 1, 1), PRIOR_ERR_SHAPE, "bias");
  CHECK_ERR(prior_conv2d(x, w, NULL, 0, 1, 0, 0, 1, 1, 1), PRIOR_ERR_ARGUMENT, "stride");
  CHECK_ERR(prior_conv2d(x, w, NULL, 1, 1, -1, 0, 1, 1, 1), PRIOR_ERR_ARGUMENT, "padding");
  CHECK_ERR(prior_conv2d(x32, w, NULL, 1, 1, 0, 0, 1, 1, 1), PRIOR_ERR_DTYPE, "");
  CHECK_ERR(prior_conv2d(x, NULL, NULL, 1, 1, 0, 0, 1, 1, 1), PRIOR_ERR_ARGUMENT, "weight");
  prior_free_all(7, x, w, w2, w7, b, x3, x32);

  /* prior_upsample2x_conv2d: wrong arguments get the composition's messages, with autocast off and on (where the
   * fused path declines them) */
  int64_t ux[4] = {1, 4, 3, 3}, uw[4] = {6, 4, 3, 3}, uw2[4] = {6, 2, 3, 3}, ub[1] = {5};
  prior_tensor *xf = prior_tensor_randn(4, ux, PRIOR_F32, prior_cpu()), *wf = prior_tensor_randn(4, uw, PRIOR_F32, prior_cpu());
  prior_tensor *wf2 = prior_tensor_randn(4, uw2, PRIOR_F32, prior_cpu()), *bf = prior_tensor_randn(1, ub, PRIOR_F32, prior_cpu());
  prior_tensor *xf3 = prior_tensor_randn(3, ux + 1, PRIOR_F32, prior_cpu());
  for (int amp = 0; amp < 2; amp++) {
    CHECK_OK(prior_autocast_set(amp, PRIOR_BF16));
    CHECK_ERR(prior_upsample2x_conv2d(xf, wf2, NULL, 1), PRIOR_ERR_SHAPE, "4 channels");
    CHECK_ERR(prior_upsample2x_conv2d(xf, wf, bf, 1), PRIOR_ERR_SHAPE, "bias");
    CHECK_ERR(prior_upsample2x_conv2d(xf, wf, NULL, -1), PRIOR_ERR_ARGUMENT, "padding");
    CHECK_ERR(prior_upsample2x_conv2d(xf3, wf, NULL, 1), PRIOR_ERR_SHAPE, "");
    CHECK_ERR(prior_upsample2x_conv2d(xf, NULL, NULL, 1), PRIOR_ERR_ARGUMENT, "weight");
    CHECK_ERR(prior_upsample2x_conv2d(NULL, wf, NULL, 1), PRIOR_ERR_ARGUMENT, "input");
    prior_tensor *y = prior_upsample2x_conv2d(xf, wf, NULL, 1); /* and a valid call: [1, 6, 6, 6] */
    CHECK_MSG(y && y->shape[1] == 6 && y->shape[2] == 6 && y->shape[3] == 6, "upsample2x_conv2d output shape");
    prior_tensor_free(y);
  }
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  prior_free_all(5, xf, wf, wf2, bf, xf3);
}

int main(void) {
  conv_cfg plain = {{1, 1}, {0, 0}, {1, 1}, 1}, pad1 = {{1, 1}, {1, 1}, {1, 1}, 1};
  conv_cfg stride2 = {{2, 2}, {1, 1}, {1, 1}, 1}, asym = {{2, 1}, {0, 2}, {1, 1}, 1};
  conv_cfg dil = {{1, 1}, {2, 1}, {2, 3}, 1}, groups = {{1, 1}, {1, 1}, {1, 1}, 2};
  conv_cfg depthwise = {{2, 2}, {1, 1}, {1, 1}, 4};
  /* f64 gradient checks on small shapes */
  run_case("conv plain", 2, 3, 5, 5, 4, 3, 3, plain, 1, 1, 0);
  run_case("conv pad 1", 1, 2, 4, 5, 3, 3, 3, pad1, 1, 1, 0);
  run_case("conv stride 2", 2, 2, 6, 5, 3, 3, 3, stride2, 1, 1, 0);
  run_case("conv stride (2,1) pad (0,2)", 1, 2, 5, 4, 2, 2, 3, asym, 0, 1, 0);
  run_case("conv dilation (2,3)", 1, 2, 7, 8, 2, 3, 2, dil, 1, 1, 0);
  run_case("conv groups 2", 2, 4, 5, 5, 6, 3, 3, groups, 1, 1, 0);
  run_case("conv depthwise", 1, 4, 6, 6, 4, 3, 3, depthwise, 0, 1, 0);
  run_case("conv 1x1", 2, 3, 3, 4, 5, 1, 1, plain, 1, 1, 0);
  {
    int64_t sx[4] = {2, 5, 4, 3}, sw[4] = {4, 3, 3, 3}, sb[1] = {4}; /* x as NHWC, permuted */
    prior_tensor *x = leaf_uniform(4, sx, -1, 1), *w = leaf_uniform(4, sw, -1, 1), *b = leaf_uniform(1, sb, -1, 1);
    prior_tensor *in[3] = {x, w, b};
    GRADCHECK("conv permuted input", apply_conv_nhwc, &pad1, 3, in);
    prior_free_all(3, x, w, b);
  }
  /* f32 oneDNN against the f64 loops: forward, backward data, weights and bias */
  run_case("conv f32 3x3", 2, 16, 12, 12, 32, 3, 3, pad1, 1, 0, 1e-5);
  run_case("conv f32 stride 2", 2, 8, 13, 11, 16, 3, 3, stride2, 1, 0, 1e-5);
  run_case("conv f32 7x7/2 C=1", 2, 1, 20, 20, 8, 7, 7, (conv_cfg){{2, 2}, {3, 3}, {1, 1}, 1}, 0, 0, 1e-5);
  run_case("conv f32 1x1", 2, 32, 7, 7, 24, 1, 1, plain, 0, 0, 1e-5);
  /* 1x1 over maps of 28 x 28 and up run on NCHW rather than the blocked format */
  run_case("conv f32 1x1 large map", 2, 8, 28, 30, 16, 1, 1, plain, 1, 0, 1e-5);
  run_case("conv f32 1x1/2 large map", 1, 8, 29, 28, 12, 1, 1, (conv_cfg){{2, 2}, {0, 0}, {1, 1}, 1}, 0, 0, 1e-5);
  run_case("conv f32 groups", 2, 8, 9, 9, 12, 3, 3, groups, 1, 0, 1e-5);
  run_case("conv f32 dilated", 1, 4, 11, 12, 6, 3, 3, dil, 1, 0, 1e-5);
  run_case("conv f32 depthwise", 2, 4, 8, 8, 4, 3, 3, depthwise, 1, 0, 1e-5);
  /* the same shape again is served from the primitive cache */
  run_case("conv f32 3x3 cached", 2, 16, 12, 12, 32, 3, 3, pad1, 1, 0, 1e-5);
  check_fixture();
  check_threads();
  check_errors();
  return check_summary("test_conv");
}
