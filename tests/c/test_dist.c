/* prior/dist.h. Run alone (ctest c/test_dist) it checks the world of one: every collective is the identity and
 * bad arguments are errors. Run as `mpirun -np N test_dist --mpi` (ctest dist/test_dist_2ranks) it checks the
 * collectives across processes, and that the all-gathered InfoNCE of each rank's slice is the one-process InfoNCE
 * of the global batch: the mean of the ranks' losses equals it, and each rank's gradient (through all_gather's
 * backward), averaged over ranks as data-parallel training does, equals the one-process gradient, in f64. */
#include <stdlib.h>
#include <string.h>

#include "grad_util.h"

static double value(prior_tensor *t, int64_t i) {
  double v = 0;
  prior_tensor *c = prior_tensor_contiguous_raw(t);
  int64_t idx[PRIOR_MAX_DIMS] = {0};
  for (int d = c->ndim - 1, r = (int)i; d >= 0; d--) idx[d] = r % c->shape[d], r /= (int)c->shape[d];
  prior_tensor_get(c, idx, &v);
  prior_tensor_free(c);
  return v;
}

static void check_world_of_one(void) {
  CHECK(prior_dist_rank() == 0 && prior_dist_size() == 1);
  int64_t s[2] = {2, 3};
  prior_tensor *x = leaf_uniform(2, s, -1, 1);
  double before = value(x, 4);
  CHECK_OK(prior_dist_all_reduce_sum(x));
  CHECK_OK(prior_dist_all_reduce_mean(x));
  CHECK_OK(prior_dist_broadcast(x, 0));
  CHECK(value(x, 4) == before);
  prior_tensor *g = prior_dist_all_gather(x);
  CHECK(g == x); /* the same tensor: nothing to gather */
  prior_tensor_free(g);
  CHECK_ERR(prior_dist_broadcast(x, 1), PRIOR_ERR_ARGUMENT, "root 1, but there are 1 ranks");
  prior_tensor *xt = prior_transpose(x, 0, 1);
  CHECK_ERR(prior_dist_all_reduce_sum(xt), PRIOR_ERR_ARGUMENT, "contiguous");
  prior_tensor *ints = prior_tensor_zeros(2, s, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_dist_all_reduce_sum(ints), PRIOR_ERR_DTYPE, "i64");
  CHECK(prior_dist_all_gather(ints) == NULL);
  CHECK_ERR(prior_dist_all_reduce_sum(NULL), PRIOR_ERR_ARGUMENT, "");
  prior_free_all(3, x, xt, ints);
}

/* The one-process symmetric InfoNCE of the global batch, written out from ops (no gathering). */
static prior_tensor *infonce_reference(prior_tensor *a, prior_tensor *b, prior_tensor *scale) {
  prior_tensor *an = prior_normalize(a, -1, 1e-12), *bn = prior_normalize(b, -1, 1e-12);
  prior_tensor *bt = prior_transpose(bn, 0, 1), *sim = prior_matmul(an, bt), *e = prior_exp(scale);
  prior_tensor *logits = prior_mul(sim, e), *lt = prior_transpose(logits, 0, 1);
  prior_tensor *labels = prior_tensor_arange(0, (double)a->shape[0], 1, PRIOR_I64, prior_cpu());
  prior_tensor *l1 = prior_cross_entropy(logits, labels, PRIOR_REDUCTION_MEAN, -1, 0);
  prior_tensor *l2 = prior_cross_entropy(lt, labels, PRIOR_REDUCTION_MEAN, -1, 0);
  prior_tensor *sum = prior_add(l1, l2), *out = prior_mul_scalar(sum, 0.5);
  prior_free_all(12, an, bn, bt, sim, e, logits, lt, labels, l1, l2, sum, NULL);
  return out;
}

static void check_across_ranks(void) {
  int rank = prior_dist_rank(), size = prior_dist_size();
  CHECK(size > 1);
  /* all_reduce, mean, broadcast */
  int64_t s3[1] = {3};
  prior_tensor *v = prior_tensor_full(1, s3, rank + 1, PRIOR_F64, prior_cpu());
  CHECK_OK(prior_dist_all_reduce_sum(v));
  CHECK_NEAR(value(v, 2), size * (size + 1) / 2.0, 0);
  prior_tensor *m = prior_tensor_full(1, s3, rank + 1, PRIOR_F32, prior_cpu());
  CHECK_OK(prior_dist_all_reduce_mean(m));
  CHECK_NEAR(value(m, 0), (size + 1) / 2.0, 1e-6);
  prior_tensor *b = prior_tensor_full(1, s3, 10 * rank + 7, PRIOR_F32, prior_cpu());
  CHECK_OK(prior_dist_broadcast(b, size - 1));
  CHECK_NEAR(value(b, 1), 10 * (size - 1) + 7, 0);
  /* a shape that differs between ranks fails on every rank, naming it */
  int64_t mine[1] = {2 + rank};
  prior_tensor *odd = prior_tensor_zeros(1, mine, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_dist_all_reduce_sum(odd), PRIOR_ERR_SHAPE, "differ in shape");
  prior_free_all(4, v, m, b, odd);

  /* the global batch, the same on every rank (same seed), and this rank's slice of it */
  const int64_t per = 3, dim = 5, n = per * size;
  prior_rng_seed(42);
  int64_t full_shape[2] = {n, dim};
  prior_tensor *a_full = leaf_uniform(2, full_shape, -1, 1), *b_full = leaf_uniform(2, full_shape, -1, 1);
  prior_tensor *scale_full = prior_tensor_full(0, NULL, 1.3, PRIOR_F64, prior_cpu());
  prior_tensor_set_requires_grad(scale_full, 1);
  prior_tensor *a_view = prior_narrow(a_full, 0, rank * per, per), *b_view = prior_narrow(b_full, 0, rank * per, per);
  prior_tensor *a = prior_tensor_clone_raw(a_view), *bb = prior_tensor_clone_raw(b_view);
  prior_tensor *scale = prior_tensor_full(0, NULL, 1.3, PRIOR_F64, prior_cpu());
  prior_tensor_set_requires_grad(a, 1);
  prior_tensor_set_requires_grad(bb, 1);
  prior_tensor_set_requires_grad(scale, 1);

  /* gathered */
  prior_tensor *gathered = prior_dist_all_gather(a);
  CHECK(gathered && gathered->shape[0] == n);
  double worst_rows = 0;
  for (int64_t i = 0; gathered && i < n * dim; i++) worst_rows = fmax(worst_rows, fabs(value(gathered, i) - value(a_full, i)));
  CHECK_MSG(worst_rows == 0, "all_gather puts every rank's rows in rank order (worst %g)", worst_rows);
  prior_tensor *loss = prior_infonce(a, bb, scale);
  CHECK_OK(prior_backward(loss, NULL, 0));
  prior_tensor *ref = infonce_reference(a_full, b_full, scale_full);
  CHECK_OK(prior_backward(ref, NULL, 0));
  int64_t one[1] = {1};
  prior_tensor *mean_loss = prior_tensor_full(1, one, value(loss, 0), PRIOR_F64, prior_cpu());
  CHECK_OK(prior_dist_all_reduce_mean(mean_loss));
  CHECK_MSG(fabs(value(mean_loss, 0) - value(ref, 0)) < 1e-12, "mean of the ranks' losses %.15g, one process %.15g",
            value(mean_loss, 0), value(ref, 0));
  /* data-parallel gradients: each parameter's gradient averaged over ranks; an input's own gradient / size */
  CHECK_OK(prior_dist_all_reduce_mean(scale->grad));
  CHECK_MSG(fabs(value(scale->grad, 0) - value(scale_full->grad, 0)) < 1e-12, "logit scale gradient %.15g vs %.15g",
            value(scale->grad, 0), value(scale_full->grad, 0));
  double worst = 0;
  for (int k = 0; k < 2; k++) {
    prior_tensor *mine_grad = k ? bb->grad : a->grad, *full_grad = k ? b_full->grad : a_full->grad;
    prior_tensor *want = prior_narrow(full_grad, 0, rank * per, per);
    for (int64_t i = 0; i < per * dim; i++) worst = fmax(worst, fabs(value(mine_grad, i) / size - value(want, i)));
    prior_tensor_free(want);
  }
  CHECK_MSG(worst < 1e-14, "embedding gradients through all_gather: worst error %.3g", worst);
  prior_free_all(14, a_full, b_full, scale_full, a_view, b_view, a, bb, scale, gathered, loss, ref, mean_loss, NULL,
                 NULL);
}

/* Synchronised batch norm over each rank's slice of a global batch (in dtype dt) against the fused one-process
 * batch norm of the whole batch (f64): outputs, running statistics, and gradients of the input (this rank's rows of the whole
 * batch's) and of weight and bias (summed over ranks: the loss is a sum over the global batch). */
static void check_sync_batch_norm(prior_dtype dt, double tol) {
  int rank = prior_dist_rank(), size = prior_dist_size();
  const int64_t per = 2, C = 3, H = 4, W = 5;
  int64_t full[4] = {per * size, C, H, W}, cs[1] = {C};
  prior_rng_seed(7);
  prior_tensor *x_full = leaf_uniform(4, full, -2, 3), *probe_full = leaf_uniform(4, full, -1, 1);
  prior_tensor *w_full = leaf_uniform(1, cs, 0.5, 1.5), *b_full = leaf_uniform(1, cs, -0.5, 0.5);
  prior_tensor *rm_full = prior_tensor_zeros(1, cs, PRIOR_F64, prior_cpu()), *rv_full = prior_tensor_ones(1, cs, PRIOR_F64, prior_cpu());
  prior_tensor *xv = prior_narrow(x_full, 0, rank * per, per), *pv = prior_narrow(probe_full, 0, rank * per, per);
  prior_tensor *x = prior_tensor_to_dtype_raw(xv, dt), *probe = prior_tensor_to_dtype_raw(pv, dt);
  prior_tensor *w = prior_tensor_to_dtype_raw(w_full, dt), *b = prior_tensor_to_dtype_raw(b_full, dt);
  prior_tensor *rm = prior_tensor_zeros(1, cs, dt, prior_cpu()), *rv = prior_tensor_ones(1, cs, dt, prior_cpu());
  prior_tensor_set_requires_grad(x, 1);
  prior_tensor_set_requires_grad(w, 1);
  prior_tensor_set_requires_grad(b, 1);

  prior_tensor *y = prior_dist_sync_batch_norm2d(x, rm, rv, w, b, 0.1, 1e-5);
  prior_tensor *yp = y ? prior_mul(y, probe) : NULL;
  prior_tensor *loss = yp ? prior_sum(yp, 0, NULL, 0) : NULL;
  CHECK(loss != NULL);
  if (!loss) return;
  CHECK_OK(prior_backward(loss, NULL, 0));
  prior_tensor *y_ref = prior_batch_norm2d(x_full, rm_full, rv_full, w_full, b_full, 1, 0.1, 1e-5);
  prior_tensor *yp_ref = prior_mul(y_ref, probe_full), *loss_ref = prior_sum(yp_ref, 0, NULL, 0);
  CHECK_OK(prior_backward(loss_ref, NULL, 0));
  prior_tensor *y_want = prior_narrow(y_ref, 0, rank * per, per), *gx_want = prior_narrow(x_full->grad, 0, rank * per, per);
  double ey = 0, egx = 0, estat = 0, egw = 0;
  for (int64_t i = 0; i < per * C * H * W; i++) {
    ey = fmax(ey, fabs(value(y, i) - value(y_want, i)));
    egx = fmax(egx, fabs(value(x->grad, i) - value(gx_want, i)));
  }
  CHECK_OK(prior_dist_all_reduce_sum(w->grad));
  CHECK_OK(prior_dist_all_reduce_sum(b->grad));
  for (int64_t c = 0; c < C; c++) {
    estat = fmax(estat, fmax(fabs(value(rm, c) - value(rm_full, c)), fabs(value(rv, c) - value(rv_full, c))));
    egw = fmax(egw, fmax(fabs(value(w->grad, c) - value(w_full->grad, c)), fabs(value(b->grad, c) - value(b_full->grad, c))));
  }
  const char *name = prior_dtype_name(dt);
  CHECK_MSG(ey < tol, "%s sync batch norm output: worst error %.3g", name, ey);
  CHECK_MSG(estat < tol, "%s running statistics: worst error %.3g", name, estat);
  CHECK_MSG(egx < tol, "%s input gradient: worst error %.3g", name, egx);
  CHECK_MSG(egw < 10 * tol, "%s weight and bias gradients summed over ranks: worst error %.3g", name, egw);
  int64_t c4[1] = {C + 1};
  prior_tensor *bad = prior_tensor_ones(1, c4, PRIOR_F64, prior_cpu());
  CHECK_ERR(prior_dist_sync_batch_norm2d(x, rm, rv, bad, b, 0.1, 1e-5) ? PRIOR_OK : prior_error_code(), PRIOR_ERR_SHAPE,
            "weight has shape [4], the input 3 channels");
  CHECK_ERR(prior_dist_sync_batch_norm2d(NULL, NULL, NULL, NULL, NULL, 0.1, 1e-5) ? PRIOR_OK : prior_error_code(),
            PRIOR_ERR_ARGUMENT, "");
  prior_tensor_free(bad);
  CHECK(prior_dist_sync_batch_norm_active());
  int prev = prior_dist_set_sync_batch_norm(0);
  CHECK(prev == 1 && !prior_dist_sync_batch_norm_active());
  prior_dist_set_sync_batch_norm(prev);
  prior_free_all(20, x_full, probe_full, w_full, b_full, rm_full, rv_full, xv, pv, x, probe, w, b, rm, rv, y, yp, loss,
                 y_ref, yp_ref, loss_ref);
  prior_free_all(2, y_want, gx_want);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--mpi") == 0) {
    if (prior_dist_init() != PRIOR_OK) {
      fprintf(stderr, "%s\n", prior_error_message());
      return 1;
    }
    if (!prior_dist_available() || prior_dist_size() < 2) {
      printf("test_dist: no MPI job to test in (available %d, size %d)\n", prior_dist_available(), prior_dist_size());
      prior_dist_finalize();
      return 77;
    }
    check_across_ranks();
    check_sync_batch_norm(PRIOR_F64, 1e-12);
    check_sync_batch_norm(PRIOR_F32, 2e-5);
    char label[64];
    snprintf(label, sizeof label, "test_dist (rank %d of %d)", prior_dist_rank(), prior_dist_size());
    prior_dist_finalize();
    return check_summary(label);
  }
  check_world_of_one();
  return check_summary("test_dist");
}
