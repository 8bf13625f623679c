/* Losses: gradient checks in f64 for every reduction and option (ignore_index, label smoothing, spatial
 * targets, pos_weight, beta, log_target), strided inputs, f32 against f64, PyTorch fixtures for the subtle
 * semantics, and error paths. */
#include "../fixtures/nn/nn_fixtures.h"
#include "nn_test_util.h"

typedef struct {
  int which;
  prior_reduction red;
  int64_t ignore;
  double ls;  /* label smoothing, or beta */
  int flag;   /* log_target */
  prior_tensor *target;
} loss_case;

static prior_tensor *apply(prior_tensor *const *in, void *vctx) {
  const loss_case *c = vctx;
  switch (c->which) {
    case 0: return prior_cross_entropy(in[0], c->target, c->red, c->ignore, c->ls);
    case 1: return prior_bce_with_logits(in[0], in[1], NULL, c->red);
    case 2: return prior_bce_with_logits(in[0], in[1], in[2], c->red);
    case 3: return prior_l1_loss(in[0], in[1], c->red);
    case 4: return prior_smooth_l1_loss(in[0], in[1], c->red, c->ls);
    case 5: return prior_mse_loss(in[0], in[1], c->red);
    default: return prior_kl_div(in[0], in[1], c->red, c->flag);
  }
}

static const char *red_name[3] = {"none", "mean", "sum"};

static void check_cross_entropy(void) {
  /* [N, C] with an ignored target (-100) and the spatial [N, C, d1, d2] form with ignore_index = class 1 */
  prior_tensor *x = leaf_uniform(2, (int64_t[]){5, 4}, -2, 2);
  prior_tensor *xs = leaf_uniform_strided(2, (int64_t[]){5, 4}, -2, 2);
  prior_tensor *t = t_i64((int64_t[]){3, -100, 0, 1, 3}, 1, (int64_t[]){5});
  prior_tensor *x4 = leaf_uniform(4, (int64_t[]){2, 3, 2, 2}, -2, 2);
  prior_tensor *t4 = t_i64((int64_t[]){0, 1, 2, 2, 1, 1, 0, 2}, 3, (int64_t[]){2, 2, 2});
  for (int r = 0; r < 3; r++)
    for (int k = 0; k < 2; k++) {
      double ls = k ? 0.15 : 0.0;
      loss_case c = {0, (prior_reduction)r, -100, ls, 0, t};
      char label[96];
      snprintf(label, sizeof label, "cross_entropy %s ls %g", red_name[r], ls);
      GRADCHECK(label, apply, &c, 1, &x);
      GRADCHECK(label, apply, &c, 1, &xs);
      loss_case c4 = {0, (prior_reduction)r, 1, ls, 0, t4};
      snprintf(label, sizeof label, "cross_entropy spatial %s ls %g ignore 1", red_name[r], ls);
      GRADCHECK(label, apply, &c4, 1, &x4);
    }
  /* forward: a naive log-softmax + nll on the [N, C] case, no ignore */
  prior_tensor *t_all = t_i64((int64_t[]){3, 2, 0, 1, 3}, 1, (int64_t[]){5});
  prior_tensor *ce = prior_cross_entropy(xs, t_all, PRIOR_REDUCTION_NONE, -100, 0);
  double xv[20], ref[5];
  prior_tensor_to_f64_array(xs, xv);
  const int64_t tv[5] = {3, 2, 0, 1, 3};
  for (int i = 0; i < 5; i++) {
    double m = -INFINITY, s = 0;
    for (int k = 0; k < 4; k++) m = fmax(m, xv[i * 4 + k]);
    for (int k = 0; k < 4; k++) s += exp(xv[i * 4 + k] - m);
    ref[i] = m + log(s) - xv[i * 4 + tv[i]];
  }
  CHECK_MSG(max_diff(ce, ref, 5) < 1e-12, "cross_entropy vs naive: %g", max_diff(ce, ref, 5));
  /* f32 against f64, forward and backward */
  prior_tensor *xf = to_f32(xs);
  prior_tensor_set_requires_grad(xf, 1);
  prior_tensor *cef = prior_cross_entropy(xf, t, PRIOR_REDUCTION_MEAN, -100, 0.1);
  prior_tensor *ced = prior_cross_entropy(xs, t, PRIOR_REDUCTION_MEAN, -100, 0.1);
  CHECK(cef && cef->dtype == PRIOR_F32 && fabs(item(cef) - item(ced)) < 1e-6);
  prior_tensor_zero_grad(xs);
  CHECK_OK(prior_backward(cef, NULL, 0));
  CHECK_OK(prior_backward(ced, NULL, 0));
  CHECK(max_diff_t(xf->grad, xs->grad) < 1e-6);
  /* long f32 rows (the vectorised path, with a tail) against f64, forward and backward */
  {
    prior_tensor *ld = leaf_uniform(2, (int64_t[]){16, 45}, -20, 20);
    prior_tensor *lf = to_f32(ld);
    prior_tensor_set_requires_grad(lf, 1);
    int64_t tv16[16];
    for (int i = 0; i < 16; i++) tv16[i] = i == 5 ? -100 : (i * 7) % 45;
    prior_tensor *t16 = t_i64(tv16, 1, (int64_t[]){16});
    prior_tensor *ed = prior_cross_entropy(ld, t16, PRIOR_REDUCTION_SUM, -100, 0.2);
    prior_tensor *ef = prior_cross_entropy(lf, t16, PRIOR_REDUCTION_SUM, -100, 0.2);
    CHECK_MSG(fabs(item(ef) - item(ed)) < 1e-4 * fabs(item(ed)), "long-row cross_entropy f32 %g vs f64 %g", item(ef),
              item(ed));
    CHECK_OK(prior_backward(ed, NULL, 0));
    CHECK_OK(prior_backward(ef, NULL, 0));
    CHECK_MSG(max_diff_t(lf->grad, ld->grad) < 1e-5, "long-row cross_entropy grad: %g", max_diff_t(lf->grad, ld->grad));
    prior_free_all(5, ld, lf, t16, ed, ef);
  }
  /* PyTorch fixtures: ignore_index together with label smoothing, each reduction, and the gradient */
  prior_tensor *fx = t_f64(ce_x, 2, (int64_t[]){6, 5}, 1), *ft = t_i64(ce_t, 1, (int64_t[]){6});
  const double *want[2][3] = {{ce_ls0_none, ce_ls0_mean, ce_ls0_sum}, {ce_ls1_none, ce_ls1_mean, ce_ls1_sum}};
  const double *want_grad[2] = {ce_ls0_mean_grad, ce_ls1_mean_grad};
  for (int k = 0; k < 2; k++) {
    for (int r = 0; r < 3; r++) {
      prior_tensor *l = prior_cross_entropy(fx, ft, (prior_reduction)r, -100, k ? 0.1 : 0.0);
      CHECK_MSG(max_diff(l, want[k][r], r ? 1 : 6) < 1e-12, "cross_entropy vs torch ls %d %s: %g", k, red_name[r],
                max_diff(l, want[k][r], r ? 1 : 6));
      if (r == PRIOR_REDUCTION_MEAN) {
        prior_tensor_zero_grad(fx);
        CHECK_OK(prior_backward(l, NULL, 0));
        CHECK_MSG(max_diff(fx->grad, want_grad[k], 30) < 1e-12, "cross_entropy grad vs torch ls %d", k);
      }
      prior_tensor_free(l);
    }
  }
  prior_tensor *fx3 = t_f64(ce3_x, 3, (int64_t[]){2, 4, 3}, 0), *ft3 = t_i64(ce3_t, 2, (int64_t[]){2, 3});
  prior_tensor *l3m = prior_cross_entropy(fx3, ft3, PRIOR_REDUCTION_MEAN, 2, 0.2);
  prior_tensor *l3n = prior_cross_entropy(fx3, ft3, PRIOR_REDUCTION_NONE, 2, 0.2);
  CHECK_MSG(max_diff(l3m, ce3_mean, 1) < 1e-12 && max_diff(l3n, ce3_none, 6) < 1e-12, "spatial cross_entropy vs torch");
  CHECK(l3n && l3n->ndim == 2 && l3n->shape[0] == 2 && l3n->shape[1] == 3);
  /* spatial f32 (the strided kernel) against f64, and i32 targets */
  {
    prior_tensor *x4f = to_f32(x4);
    prior_tensor *ed = prior_cross_entropy(x4, t4, PRIOR_REDUCTION_NONE, 1, 0.3);
    prior_tensor *ef = prior_cross_entropy(x4f, t4, PRIOR_REDUCTION_NONE, 1, 0.3);
    CHECK_MSG(ef && ef->dtype == PRIOR_F32 && max_diff_t(ef, ed) < 1e-6, "spatial cross_entropy f32 vs f64");
    int32_t t32v[8] = {0, 1, 2, 2, 1, 1, 0, 2};
    prior_tensor *t32 = prior_tensor_from_data(t32v, 3, (int64_t[]){2, 2, 2}, PRIOR_I32, prior_cpu());
    prior_tensor *e32 = prior_cross_entropy(x4, t32, PRIOR_REDUCTION_NONE, 1, 0.3);
    CHECK(e32 && max_diff_t(e32, ed) == 0);
    prior_free_all(5, x4f, ed, ef, t32, e32);
  }
  /* all ignored: mean is NaN as in PyTorch */
  prior_tensor *tign = t_i64((int64_t[]){-100, -100, -100, -100, -100}, 1, (int64_t[]){5});
  prior_tensor *lnan = prior_cross_entropy(xs, tign, PRIOR_REDUCTION_MEAN, -100, 0);
  CHECK(lnan && isnan(item(lnan)));
  /* errors */
  prior_tensor *tbad = t_i64((int64_t[]){3, 4, 0, 1, 3}, 1, (int64_t[]){5});
  CHECK_ERR(prior_cross_entropy(xs, tbad, PRIOR_REDUCTION_MEAN, -100, 0), PRIOR_ERR_INDEX, "target 4 at position 1 is out of range for 4 classes");
  prior_tensor *tneg = t_i64((int64_t[]){3, -1, 0, 1, 3}, 1, (int64_t[]){5});
  CHECK_ERR(prior_cross_entropy(xs, tneg, PRIOR_REDUCTION_MEAN, -100, 0), PRIOR_ERR_INDEX, "target -1");
  prior_tensor *tshape = t_i64((int64_t[]){0, 1, 2, 3}, 1, (int64_t[]){4});
  CHECK_ERR(prior_cross_entropy(xs, tshape, PRIOR_REDUCTION_MEAN, -100, 0), PRIOR_ERR_SHAPE, "do not fit");
  prior_tensor *tf = prior_tensor_zeros(1, (int64_t[]){5}, PRIOR_F64, prior_cpu());
  CHECK_ERR(prior_cross_entropy(xs, tf, PRIOR_REDUCTION_MEAN, -100, 0), PRIOR_ERR_DTYPE, "class indices");
  CHECK_ERR(prior_cross_entropy(xs, t, PRIOR_REDUCTION_MEAN, -100, 1.0), PRIOR_ERR_ARGUMENT, "label_smoothing 1");
  CHECK_ERR(prior_cross_entropy(t, t, PRIOR_REDUCTION_MEAN, -100, 0), PRIOR_ERR_DTYPE, "logits");
  prior_free_all(10, x, xs, t, x4, t4, t_all, ce, xf, cef, ced);
  prior_free_all(10, fx, ft, fx3, ft3, l3m, l3n, tign, lnan, tbad, tneg);
  prior_free_all(2, tshape, tf);
}

static void check_pointwise(void) {
  int64_t shape[2] = {3, 4};
  prior_tensor *x = leaf_uniform(2, shape, -2, 2), *xs = leaf_uniform_strided(2, shape, -2, 2);
  prior_tensor *y = leaf_uniform(2, shape, -2, 2);
  prior_tensor *p = leaf_uniform_strided(2, shape, 0.05, 0.95); /* probabilities for bce targets */
  prior_tensor *pw = leaf_uniform(1, &shape[1], 0.5, 3);
  /* kl: log-probabilities as input, probabilities / log-probabilities as target */
  prior_tensor *logq = leaf_uniform(2, shape, -3, -0.1), *tp = leaf_uniform(2, shape, 0.05, 1);
  prior_tensor *tlog = leaf_uniform_strided(2, shape, -3, 0);
  for (int r = 0; r < 3; r++) {
    loss_case c = {.red = (prior_reduction)r};
    char label[96];
    prior_tensor *xy[2] = {xs, y}, *xp[2] = {x, p}, *xpw[3] = {xs, p, pw}, *kl[2] = {logq, tp}, *kll[2] = {logq, tlog};
#define GC(which_, name_, n_, in_)                                            \
  do {                                                                        \
    c.which = (which_);                                                       \
    snprintf(label, sizeof label, "%s %s", (name_), red_name[r]);             \
    GRADCHECK(label, apply, &c, (n_), (in_));                                 \
  } while (0)
    GC(1, "bce_with_logits", 2, xp);
    GC(2, "bce_with_logits pos_weight", 3, xpw);
    GC(3, "l1_loss", 2, xy);
    c.ls = 0.5;
    GC(4, "smooth_l1_loss beta 0.5", 2, xy);
    c.ls = 0;
    GC(4, "smooth_l1_loss beta 0", 2, xy);
    GC(5, "mse_loss", 2, xy);
    c.flag = 0;
    GC(6, "kl_div", 2, kl);
    c.flag = 1;
    GC(6, "kl_div log_target", 2, kll);
#undef GC
  }
  /* naive values, f32 against f64 */
  double xv[12], yv[12];
  prior_tensor_to_f64_array(xs, xv);
  prior_tensor_to_f64_array(y, yv);
  double l1 = 0, mse = 0;
  for (int i = 0; i < 12; i++) l1 += fabs(xv[i] - yv[i]), mse += (xv[i] - yv[i]) * (xv[i] - yv[i]);
  prior_tensor *a = prior_l1_loss(xs, y, PRIOR_REDUCTION_SUM), *b = prior_mse_loss(xs, y, PRIOR_REDUCTION_MEAN);
  CHECK_NEAR(item(a), l1, 1e-12);
  CHECK_NEAR(item(b), mse / 12, 1e-12);
  prior_tensor *xf = to_f32(xs), *yf = to_f32(y), *pf = to_f32(p), *pwf = to_f32(pw);
  prior_tensor *bf = prior_bce_with_logits(xf, pf, pwf, PRIOR_REDUCTION_NONE);
  prior_tensor *bd = prior_bce_with_logits(xs, p, pw, PRIOR_REDUCTION_NONE);
  CHECK(bf && bf->dtype == PRIOR_F32 && max_diff_t(bf, bd) < 1e-6);
  prior_tensor *sf = prior_smooth_l1_loss(xf, yf, PRIOR_REDUCTION_NONE, 0.7);
  prior_tensor *sd = prior_smooth_l1_loss(xs, y, PRIOR_REDUCTION_NONE, 0.7);
  CHECK(sf && max_diff_t(sf, sd) < 1e-6);
  /* PyTorch fixtures */
  int64_t s34[2] = {3, 4}, s45[2] = {4, 5}, s43[2] = {4, 3}, n3 = 3;
  prior_tensor *si = t_f64(sl1_in, 2, s34, 0), *st = t_f64(sl1_t, 2, s34, 0);
  const double betas[3] = {0.5, 0.0, 2.0};
  const double *sl_none[3] = {sl1_b05_none, sl1_b0_none, sl1_b2_none}, *sl_mean[3] = {sl1_b05_mean, sl1_b0_mean, sl1_b2_mean};
  for (int k = 0; k < 3; k++) {
    prior_tensor *ln = prior_smooth_l1_loss(si, st, PRIOR_REDUCTION_NONE, betas[k]);
    prior_tensor *lm = prior_smooth_l1_loss(si, st, PRIOR_REDUCTION_MEAN, betas[k]);
    CHECK_MSG(max_diff(ln, sl_none[k], 12) < 1e-12 && max_diff(lm, sl_mean[k], 1) < 1e-12, "smooth_l1 beta %g vs torch",
              betas[k]);
    prior_free_all(2, ln, lm);
  }
  prior_tensor *ki = t_f64(kl_in, 2, s45, 1), *kt = t_f64(kl_t, 2, s45, 0), *klt = t_f64(kl_logt, 2, s45, 0);
  prior_tensor *kbm = prior_kl_div(ki, kt, PRIOR_REDUCTION_MEAN, 0), *ks = prior_kl_div(ki, kt, PRIOR_REDUCTION_SUM, 0);
  prior_tensor *kn = prior_kl_div(ki, kt, PRIOR_REDUCTION_NONE, 0), *klog = prior_kl_div(ki, klt, PRIOR_REDUCTION_MEAN, 1);
  CHECK_MSG(max_diff(kbm, kl_batchmean, 1) < 1e-12 && max_diff(ks, kl_sum, 1) < 1e-12 && max_diff(kn, kl_none, 20) < 1e-12,
            "kl_div vs torch");
  CHECK_MSG(max_diff(klog, kl_log_batchmean, 1) < 1e-12, "kl_div log_target batchmean vs torch");
  CHECK_OK(prior_backward(kbm, NULL, 0));
  CHECK_MSG(max_diff(ki->grad, kl_batchmean_grad, 20) < 1e-12, "kl_div batchmean grad vs torch");
  prior_tensor *bx = t_f64(bce_x, 2, s43, 1), *bt = t_f64(bce_t, 2, s43, 0), *bpw = t_f64(bce_pw, 1, &n3, 0);
  const double *bw[3] = {bce_pw_none, bce_pw_mean, bce_pw_sum};
  for (int r = 0; r < 3; r++) {
    prior_tensor *l = prior_bce_with_logits(bx, bt, bpw, (prior_reduction)r);
    CHECK_MSG(max_diff(l, bw[r], r ? 1 : 12) < 1e-11, "bce pos_weight %s vs torch: %g", red_name[r],
              max_diff(l, bw[r], r ? 1 : 12));
    if (r == PRIOR_REDUCTION_SUM) {
      CHECK_OK(prior_backward(l, NULL, 0));
      CHECK_MSG(max_diff(bx->grad, bce_pw_sum_grad, 12) < 1e-12, "bce pos_weight grad vs torch");
    }
    prior_tensor_free(l);
  }
  prior_tensor *bm = prior_bce_with_logits(bx, bt, NULL, PRIOR_REDUCTION_MEAN);
  CHECK_MSG(max_diff(bm, bce_mean, 1) < 1e-12, "bce vs torch");
  /* errors */
  prior_tensor *wrong = leaf_uniform(2, (int64_t[]){4, 3}, -1, 1);
  CHECK_ERR(prior_mse_loss(x, wrong, PRIOR_REDUCTION_MEAN), PRIOR_ERR_SHAPE, "input [3, 4] and target [4, 3]");
  CHECK_ERR(prior_l1_loss(x, yf, PRIOR_REDUCTION_MEAN), PRIOR_ERR_DTYPE, "");
  CHECK_ERR(prior_smooth_l1_loss(x, y, PRIOR_REDUCTION_MEAN, -1), PRIOR_ERR_ARGUMENT, "beta -1");
  CHECK_ERR(prior_bce_with_logits(x, p, bpw, PRIOR_REDUCTION_MEAN), PRIOR_ERR_SHAPE, "pos_weight [3]");
  CHECK_ERR(prior_kl_div(x, y, (prior_reduction)7, 0), PRIOR_ERR_ARGUMENT, "reduction 7");
  prior_tensor *ints = prior_tensor_zeros(2, shape, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_mse_loss(ints, ints, PRIOR_REDUCTION_MEAN), PRIOR_ERR_DTYPE, "i64");
  prior_free_all(10, x, xs, y, p, pw, logq, tp, tlog, a, b);
  prior_free_all(10, xf, yf, pf, pwf, bf, bd, sf, sd, si, st);
  prior_free_all(10, ki, kt, klt, kbm, ks, kn, klog, bx, bt, bpw);
  prior_free_all(3, bm, wrong, ints);
}

int main(void) {
  prior_rng_seed(9);
  check_cross_entropy();
  check_pointwise();
  return check_summary("test_losses");
}
