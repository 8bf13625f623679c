/* layer_norm: gradient checks (with and without weight/bias, over 1 and 2 dims, strided input), forward
 * against a naive loop, f32 against f64, PyTorch fixture with BERT's eps 1e-12, and error paths. */
#include "../fixtures/nn/nn_fixtures.h"
#include "nn_test_util.h"

typedef struct {
  int n;
  double eps;
  int with_w, with_b;
} ln_case;

static prior_tensor *apply_ln(prior_tensor *const *in, void *vctx) {
  const ln_case *c = vctx;
  return prior_layer_norm(in[0], c->n, c->with_w ? in[1] : NULL, c->with_b ? in[2] : NULL, c->eps);
}

static void naive_ln(const double *x, const double *w, const double *b, double *y, int64_t rows, int64_t d, double eps) {
  for (int64_t r = 0; r < rows; r++) {
    double m = 0, v = 0;
    for (int64_t k = 0; k < d; k++) m += x[r * d + k];
    m /= (double)d;
    for (int64_t k = 0; k < d; k++) v += (x[r * d + k] - m) * (x[r * d + k] - m);
    v /= (double)d;
    for (int64_t k = 0; k < d; k++)
      y[r * d + k] = (x[r * d + k] - m) / sqrt(v + eps) * (w ? w[k] : 1) + (b ? b[k] : 0);
  }
}

int main(void) {
  prior_rng_seed(5);
  int64_t shape[3] = {3, 4, 5};
  prior_tensor *x = leaf_uniform(3, shape, -2, 2), *xs = leaf_uniform_strided(3, shape, -2, 2);
  prior_tensor *w1 = leaf_uniform(1, &shape[2], 0.5, 1.5), *b1 = leaf_uniform(1, &shape[2], -1, 1);
  prior_tensor *w2 = leaf_uniform_strided(2, &shape[1], 0.5, 1.5), *b2 = leaf_uniform(2, &shape[1], -1, 1);
  for (int wb = 0; wb < 4; wb++) {
    ln_case c1 = {1, 1e-5, wb & 1, wb >> 1}, c2 = {2, 1e-12, wb & 1, wb >> 1};
    prior_tensor *in1[3] = {x, w1, b1}, *in1s[3] = {xs, w1, b1}, *in2[3] = {xs, w2, b2};
    GRADCHECK("layer_norm last dim", apply_ln, &c1, 3, in1);
    GRADCHECK("layer_norm last dim strided", apply_ln, &c1, 3, in1s);
    GRADCHECK("layer_norm two dims eps 1e-12", apply_ln, &c2, 3, in2);
  }
  /* forward against a naive loop (strided input, f64) and f32 against it */
  double xv[60], wv[5], bv[5], ref[60];
  prior_tensor_to_f64_array(xs, xv);
  prior_tensor_to_f64_array(w1, wv);
  prior_tensor_to_f64_array(b1, bv);
  naive_ln(xv, wv, bv, ref, 12, 5, 1e-5);
  prior_tensor *y = prior_layer_norm(xs, 1, w1, b1, 1e-5);
  CHECK_MSG(max_diff(y, ref, 60) < 1e-12, "layer_norm vs naive: %g", max_diff(y, ref, 60));
  prior_tensor *xf = to_f32(xs), *wf = to_f32(w1), *bf = to_f32(b1);
  prior_tensor *yf = prior_layer_norm(xf, 1, wf, bf, 1e-5);
  CHECK(yf && yf->dtype == PRIOR_F32);
  CHECK_MSG(max_diff(yf, ref, 60) < 5e-6, "layer_norm f32: %g", max_diff(yf, ref, 60));
  /* f32 backward against f64 backward */
  prior_tensor_set_requires_grad(xf, 1);
  prior_tensor_set_requires_grad(wf, 1);
  prior_tensor *yf2 = prior_layer_norm(xf, 1, wf, NULL, 1e-5);
  prior_tensor *gy = prior_tensor_full(3, shape, 0.25, PRIOR_F32, prior_cpu());
  CHECK_OK(prior_backward(yf2, gy, 0));
  prior_tensor_zero_grad(xs);
  prior_tensor_zero_grad(w1);
  prior_tensor *y64 = prior_layer_norm(xs, 1, w1, NULL, 1e-5);
  prior_tensor *gy64 = prior_tensor_full(3, shape, 0.25, PRIOR_F64, prior_cpu());
  CHECK_OK(prior_backward(y64, gy64, 0));
  CHECK(max_diff_t(xf->grad, xs->grad) < 1e-5 && max_diff_t(wf->grad, w1->grad) < 1e-5);
  /* a long f32 row (the vectorised path, with a tail) against f64 */
  {
    prior_tensor *ld = leaf_uniform(2, (int64_t[]){4, 77}, -3, 5);
    prior_tensor *lf = to_f32(ld);
    prior_tensor *yd = prior_layer_norm(ld, 1, NULL, NULL, 1e-12), *yl = prior_layer_norm(lf, 1, NULL, NULL, 1e-12);
    CHECK_MSG(max_diff_t(yl, yd) < 2e-6, "long-row layer_norm f32 vs f64: %g", max_diff_t(yl, yd));
    prior_free_all(4, ld, lf, yd, yl);
  }
  /* PyTorch fixture, eps 1e-12, a row with mean 1000 and spread 7e-4 */
  int64_t ls[2] = {3, 8}, l8 = 8;
  prior_tensor *lx = t_f64(ln_x, 2, ls, 1), *lw = t_f64(ln_w, 1, &l8, 1), *lb = t_f64(ln_b, 1, &l8, 1);
  prior_tensor *ly = prior_layer_norm(lx, 1, lw, lb, 1e-12);
  CHECK_MSG(max_diff(ly, ln_y, 24) < 1e-8, "layer_norm eps 1e-12 vs torch: %g", max_diff(ly, ln_y, 24));
  double gv[24];
  for (int i = 0; i < 24; i++) gv[i] = -1 + 2.0 * i / 23;
  prior_tensor *g = t_f64(gv, 2, ls, 0);
  CHECK_OK(prior_backward(ly, g, 0));
  CHECK_MSG(max_diff(lx->grad, ln_gx, 24) < 1e-4 && max_diff(lw->grad, ln_gw, 8) < 1e-8 &&
                max_diff(lb->grad, ln_gb, 8) < 1e-12,
            "layer_norm grads vs torch: %g %g %g", max_diff(lx->grad, ln_gx, 24), max_diff(lw->grad, ln_gw, 8),
            max_diff(lb->grad, ln_gb, 8));
  /* errors */
  CHECK_ERR(prior_layer_norm(x, 1, w2, NULL, 1e-5), PRIOR_ERR_SHAPE, "[4, 5]");
  CHECK_ERR(prior_layer_norm(x, 4, NULL, NULL, 1e-5), PRIOR_ERR_ARGUMENT, "last 4 dims");
  CHECK_ERR(prior_layer_norm(x, 1, wf, NULL, 1e-5), PRIOR_ERR_DTYPE, "");
  prior_tensor *ints = prior_tensor_zeros(3, shape, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_layer_norm(ints, 1, NULL, NULL, 1e-5), PRIOR_ERR_DTYPE, "i64");
  prior_free_all(10, x, xs, w1, b1, w2, b2, y, xf, wf, bf);
  prior_free_all(10, yf, yf2, gy, y64, gy64, lx, lw, lb, ly, g);
  prior_tensor_free(ints);
  return check_summary("test_layer_norm");
}
