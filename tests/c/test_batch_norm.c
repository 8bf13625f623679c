/* batch_norm2d and batch_norm2d_relu: gradient checks in training and eval mode (with and without weight/bias, a
 * non-contiguous input), the fused batch norm + ReLU against the two ops bit for bit, the f32 loops against the f64 ones (also on channels whose mean is large against their spread), a PyTorch fixture for the running statistics after a
 * training step (unbiased variance, momentum), and error paths. */
#include "dense_util.h"

typedef struct bn_cfg {
  int training;
  prior_tensor *rm, *rv;
} bn_cfg;

static prior_tensor *apply_bn(prior_tensor *const *in, void *ctx) {
  const bn_cfg *c = ctx;
  return prior_batch_norm2d(in[0], c->rm, c->rv, in[1], in[2], c->training, 0.1, 1e-5);
}

static prior_tensor *apply_bn_relu(prior_tensor *const *in, void *ctx) {
  const bn_cfg *c = ctx;
  return prior_batch_norm2d_relu(in[0], c->rm, c->rv, in[1], in[2], c->training, 0.1, 1e-5);
}

/* eval mode with the running statistics converted to the input's dtype (so f32 and f64 runs share them) */
static prior_tensor *apply_bn_eval_any(prior_tensor *const *in, void *ctx) {
  const bn_cfg *c = ctx;
  prior_tensor *rm = prior_tensor_to_dtype_raw(c->rm, (prior_dtype)in[0]->dtype);
  prior_tensor *rv = prior_tensor_to_dtype_raw(c->rv, (prior_dtype)in[0]->dtype);
  prior_tensor *y = prior_batch_norm2d(in[0], rm, rv, in[1], in[2], 0, 0.1, 1e-5);
  prior_free_all(2, rm, rv);
  return y;
}

/* fixture check for one dtype: a training step, then eval with the updated statistics */
static void check_fixture(prior_dtype dt, double tol) {
  const char *names[] = {"bn_x", "bn_w", "bn_b", "bn_rm0", "bn_rv0", "bn_train_y", "bn_rm1", "bn_rv1", "bn_eval_y"};
  prior_tensor *t[9];
  int ok = 1;
  for (int i = 0; i < 9; i++) ok &= (t[i] = load_fixture(names[i])) != NULL;
  if (ok) {
    prior_tensor *x = prior_tensor_to_dtype_raw(t[0], dt), *w = prior_tensor_to_dtype_raw(t[1], dt);
    prior_tensor *b = prior_tensor_to_dtype_raw(t[2], dt), *rm = prior_tensor_to_dtype_raw(t[3], dt);
    prior_tensor *rv = prior_tensor_to_dtype_raw(t[4], dt);
    prior_tensor *y = prior_batch_norm2d(x, rm, rv, w, b, 1, 0.1, 1e-5);
    CHECK_MSG(y && max_rel_diff(y, t[5]) <= tol, "batch norm train output vs PyTorch (%s)", prior_dtype_name(dt));
    CHECK_MSG(max_rel_diff(rm, t[6]) <= tol, "running_mean vs PyTorch (%s)", prior_dtype_name(dt));
    CHECK_MSG(max_rel_diff(rv, t[7]) <= tol, "running_var vs PyTorch (%s)", prior_dtype_name(dt));
    prior_tensor *ye = prior_batch_norm2d(x, rm, rv, w, b, 0, 0.1, 1e-5);
    CHECK_MSG(ye && max_rel_diff(ye, t[8]) <= tol, "batch norm eval output vs PyTorch (%s)", prior_dtype_name(dt));
    prior_free_all(7, x, w, b, rm, rv, y, ye);
  }
  for (int i = 0; i < 9; i++) prior_tensor_free(t[i]);
}

/* Runs y = fn(x, w, b) on fresh f32 leaves made from the f64 inputs, backward from sum(y * r); fills y and the
 * three gradients. */
static void run_f32(prior_gradcheck_fn fn, void *ctx, prior_tensor *const *in64, const prior_tensor *r, prior_tensor **out) {
  prior_tensor *in[3];
  for (int i = 0; i < 3; i++) {
    in[i] = prior_tensor_to_dtype_raw(in64[i], PRIOR_F32);
    prior_tensor_set_requires_grad(in[i], 1);
  }
  out[0] = fn(in, ctx);
  CHECK_MSG(out[0], "%s", prior_error_message());
  if (out[0]) CHECK_OK(prior_backward(out[0], (prior_tensor *)r, 0));
  for (int i = 0; i < 3; i++) {
    out[1 + i] = in[i]->grad ? prior_tensor_retain(in[i]->grad) : NULL;
    prior_tensor_free(in[i]);
  }
}

static prior_tensor *apply_bn_then_relu(prior_tensor *const *in, void *ctx) {
  prior_tensor *n = apply_bn(in, ctx), *y = n ? prior_relu(n) : NULL;
  prior_tensor_free(n);
  return y;
}

/* The fused batch norm + ReLU is the two ops bit for bit (output, and the gradients of input, weight and bias),
 * in training and eval mode, and it is what the CPU runs (one node, not a ReLU after a batch norm). */
static void check_fused_relu_equals_separate(void) {
  int64_t sx[4] = {4, 16, 9, 7}, sc[1] = {16};
  prior_tensor *in64[3] = {leaf_uniform(4, sx, -2, 3), leaf_uniform(1, sc, 0.5, 1.5), leaf_uniform(1, sc, -1, 1)};
  prior_tensor *rm = prior_tensor_empty(1, sc, PRIOR_F32, prior_cpu()), *rv = prior_tensor_empty(1, sc, PRIOR_F32, prior_cpu());
  prior_tensor_uniform_(rm, -0.5, 0.5);
  prior_tensor_uniform_(rv, 0.5, 2.0);
  prior_tensor *r = prior_tensor_empty(4, sx, PRIOR_F32, prior_cpu());
  prior_tensor_uniform_(r, -1, 1);
  for (int training = 1; training >= 0; training--) {
    bn_cfg cfg = {training, training ? NULL : rm, training ? NULL : rv};
    prior_tensor *fused[4], *separate[4];
    run_f32(apply_bn_relu, &cfg, in64, r, fused);
    run_f32(apply_bn_then_relu, &cfg, in64, r, separate);
    const char *what[4] = {"output", "input gradient", "weight gradient", "bias gradient"};
    for (int i = 0; i < 4; i++) {
      int same = fused[i] && separate[i] && prior_tensor_same_shape(fused[i], separate[i]) &&
                 memcmp(prior_tensor_data(fused[i]), prior_tensor_data(separate[i]),
                        sizeof(float) * (size_t)prior_tensor_numel(fused[i])) == 0;
      CHECK_MSG(same, "bn + relu fused vs separate, %s (%s)", what[i], training ? "training" : "eval");
    }
    CHECK_MSG(fused[0] && fused[0]->grad_fn && strcmp(fused[0]->grad_fn->name, "batch_norm2d_relu") == 0,
              "the CPU runs batch norm + relu fused");
    for (int i = 0; i < 4; i++) prior_free_all(2, fused[i], separate[i]);
  }
  prior_free_all(6, in64[0], in64[1], in64[2], rm, rv, r);
}

static void check_errors(void) {
  int64_t sx[4] = {2, 3, 2, 2}, s3[1] = {3}, s4[1] = {4}, s1[4] = {1, 3, 1, 1}, sx3[3] = {2, 3, 4};
  prior_tensor *x = leaf_uniform(4, sx, -1, 1), *w3 = leaf_uniform(1, s3, -1, 1), *w4 = leaf_uniform(1, s4, -1, 1);
  prior_tensor *x1 = leaf_uniform(4, s1, -1, 1), *x3 = leaf_uniform(3, sx3, -1, 1);
  prior_tensor *w32 = prior_tensor_ones(1, s3, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_batch_norm2d(x, NULL, NULL, w4, NULL, 1, 0.1, 1e-5), PRIOR_ERR_SHAPE, "3 channels");
  CHECK_ERR(prior_batch_norm2d(x, w4, w3, NULL, NULL, 1, 0.1, 1e-5), PRIOR_ERR_SHAPE, "running_mean");
  CHECK_ERR(prior_batch_norm2d(x3, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5), PRIOR_ERR_SHAPE, "");
  CHECK_ERR(prior_batch_norm2d(x, NULL, NULL, NULL, NULL, 0, 0.1, 1e-5), PRIOR_ERR_ARGUMENT, "eval mode");
  CHECK_ERR(prior_batch_norm2d(x, w3, NULL, NULL, NULL, 1, 0.1, 1e-5), PRIOR_ERR_ARGUMENT, "both");
  CHECK_ERR(prior_batch_norm2d(x1, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5), PRIOR_ERR_SHAPE, "more than 1 value");
  CHECK_ERR(prior_batch_norm2d(x, NULL, NULL, w3, NULL, 1, 0.1, 0.0), PRIOR_ERR_ARGUMENT, "eps");
  CHECK_ERR(prior_batch_norm2d(x, NULL, NULL, w32, NULL, 1, 0.1, 1e-5), PRIOR_ERR_DTYPE, "");
  CHECK_ERR(prior_batch_norm2d_relu(x, NULL, NULL, w4, NULL, 1, 0.1, 1e-5), PRIOR_ERR_SHAPE, "batch_norm2d_relu: weight");
  CHECK_ERR(prior_batch_norm2d_relu(x, NULL, NULL, NULL, NULL, 0, 0.1, 1e-5), PRIOR_ERR_ARGUMENT, "eval mode");
  prior_free_all(6, x, w3, w4, x1, x3, w32);
}

int main(void) {
  int64_t sx[4] = {3, 4, 3, 2}, sc[1] = {4};
  prior_tensor *x = leaf_uniform(4, sx, -2, 3), *xs = leaf_uniform_strided(4, sx, -2, 3);
  prior_tensor *w = leaf_uniform(1, sc, 0.5, 1.5), *b = leaf_uniform(1, sc, -1, 1);
  prior_tensor *rm = prior_tensor_empty(1, sc, PRIOR_F64, prior_cpu()), *rv = prior_tensor_empty(1, sc, PRIOR_F64, prior_cpu());
  prior_tensor_uniform_(rm, -0.5, 0.5);
  prior_tensor_uniform_(rv, 0.5, 2.0);
  bn_cfg train = {1, NULL, NULL}, eval = {0, rm, rv};
  prior_tensor *in1[3] = {x, w, b}, *in2[3] = {xs, NULL, NULL}, *in3[3] = {x, w, NULL}, *in4[3] = {xs, NULL, b};
  GRADCHECK("bn train", apply_bn, &train, 3, in1);
  GRADCHECK("bn train no affine, strided", apply_bn, &train, 3, in2);
  GRADCHECK("bn train weight only", apply_bn, &train, 3, in3);
  GRADCHECK("bn train bias only", apply_bn, &train, 3, in4);
  GRADCHECK("bn eval", apply_bn, &eval, 3, in1);
  GRADCHECK("bn eval no affine, strided", apply_bn, &eval, 3, in2);
  GRADCHECK("bn+relu train", apply_bn_relu, &train, 3, in1);
  GRADCHECK("bn+relu train no affine, strided", apply_bn_relu, &train, 3, in2);
  GRADCHECK("bn+relu train bias only", apply_bn_relu, &train, 3, in4);
  GRADCHECK("bn+relu eval", apply_bn_relu, &eval, 3, in1);

  /* f32 against the f64 loops */
  int64_t sbig[4] = {4, 16, 9, 7}, sc16[1] = {16};
  prior_tensor *bx = leaf_uniform(4, sbig, -2, 3), *bw = leaf_uniform(1, sc16, 0.5, 1.5), *bb = leaf_uniform(1, sc16, -1, 1);
  prior_tensor *brm = prior_tensor_zeros(1, sc16, PRIOR_F64, prior_cpu()), *brv = prior_tensor_ones(1, sc16, PRIOR_F64, prior_cpu());
  prior_tensor *brm32 = prior_tensor_zeros(1, sc16, PRIOR_F32, prior_cpu()), *brv32 = prior_tensor_ones(1, sc16, PRIOR_F32, prior_cpu());
  prior_tensor *inb[3] = {bx, bw, bb}, *inb2[3] = {bx, NULL, NULL};
  check_f32_vs_f64("bn f32 train", apply_bn, &train, 3, inb, 1e-5);
  check_f32_vs_f64("bn f32 train no affine", apply_bn, &train, 3, inb2, 1e-5);
  check_f32_vs_f64("bn+relu f32 train", apply_bn_relu, &train, 3, inb, 1e-5);
  bn_cfg eval_big = {0, brm, brv};
  check_f32_vs_f64("bn f32 eval", apply_bn_eval_any, &eval_big, 3, inb, 1e-5);
  /* eval needs running stats of each dtype: compare the two outputs directly */
  prior_tensor *bx32 = prior_tensor_to_dtype_raw(bx, PRIOR_F32), *bw32 = prior_tensor_to_dtype_raw(bw, PRIOR_F32);
  prior_tensor *bb32 = prior_tensor_to_dtype_raw(bb, PRIOR_F32);
  prior_tensor *y64 = prior_batch_norm2d(bx, brm, brv, bw, bb, 1, 0.2, 1e-5);
  prior_tensor *y32 = prior_batch_norm2d(bx32, brm32, brv32, bw32, bb32, 1, 0.2, 1e-5);
  CHECK(y64 && y32 && max_rel_diff(y32, y64) < 1e-5);
  CHECK(max_rel_diff(brm32, brm) < 1e-5 && max_rel_diff(brv32, brv) < 1e-5);
  prior_tensor *e64 = prior_batch_norm2d(bx, brm, brv, bw, bb, 0, 0.2, 1e-5);
  prior_tensor *e32 = prior_batch_norm2d(bx32, brm32, brv32, bw32, bb32, 0, 0.2, 1e-5);
  CHECK(e64 && e32 && max_rel_diff(e32, e64) < 1e-5);

  /* a channel far from zero (mean 1000, spread 0.01): the normalised values must not inherit the mean's rounding */
  prior_tensor *far = prior_tensor_empty(4, sbig, PRIOR_F64, prior_cpu());
  prior_tensor_uniform_(far, 1000.0 - 0.01, 1000.0 + 0.01);
  prior_tensor *far32 = prior_tensor_to_dtype_raw(far, PRIOR_F32); /* f32 values, so both runs see one input */
  prior_tensor_free(far);
  far = prior_tensor_to_dtype_raw(far32, PRIOR_F64);
  prior_tensor_free(far32);
  prior_tensor_set_requires_grad(far, 1);
  prior_tensor *infar[3] = {far, bw, bb};
  check_f32_vs_f64("bn f32 train, large mean", apply_bn, &train, 3, infar, 1e-4);
  prior_tensor_free(far);

  check_fixture(PRIOR_F64, 1e-12);
  check_fixture(PRIOR_F32, 1e-5);
  check_fused_relu_equals_separate();
  check_errors();
  prior_free_all(20, x, xs, w, b, rm, rv, bx, bw, bb, brm, brv, brm32, brv32, bx32, bw32, bb32, y64, y32, e64, e32);
  return check_summary("test_batch_norm");
}
