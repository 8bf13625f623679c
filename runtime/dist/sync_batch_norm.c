/* Synchronised batch normalisation (prior/dist.h), composed from differentiable ops around two all-reduces: the
 * global per-channel sum gives the mean, the global sum of squared deviations from it the (biased) variance, so
 * autograd produces the synchronised backward by itself (the all-reduces' backward sums the ranks' gradients). It
 * runs only with several processes; the single-process path stays the fused kernel of ops/batch_norm.c. */
#include "prior/dist.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"
#include "prior/autograd.h"

static int sync_batch_norm = 1;

int prior_dist_set_sync_batch_norm(int on) {
  int prev = sync_batch_norm;
  sync_batch_norm = on != 0;
  return prev;
}

int prior_dist_sync_batch_norm_active(void) { return sync_batch_norm && prior_dist_size() > 1; }

/* running = (1 - momentum) running + momentum * factor * stat, without autograd. */
static prior_status update_running(prior_tensor *running, prior_tensor *stat, double momentum, double factor) {
  if (!running) return PRIOR_OK;
  int64_t c = running->shape[0];
  prior_tensor *flat = prior_reshape(stat, 1, &c);
  prior_tensor *a = flat ? prior_mul_scalar(running, 1.0 - momentum) : NULL;
  prior_tensor *b = a ? prior_mul_scalar(flat, momentum * factor) : NULL;
  prior_tensor *sum = b ? prior_add(a, b) : NULL;
  prior_status s = sum ? prior_tensor_copy_(running, sum) : prior_error_code();
  prior_free_all(4, flat, a, b, sum);
  return s;
}

prior_tensor *prior_dist_sync_batch_norm2d(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                           prior_tensor *weight, prior_tensor *bias, double momentum, double eps) {
  if (prior_check_tensor("sync_batch_norm2d", "input", x) != PRIOR_OK) return NULL;
  if (x->ndim != 4) {
    char sx[96];
    prior_error_set(PRIOR_ERR_SHAPE, "sync_batch_norm2d: input must be [N, C, H, W], got %s",
                    prior_tensor_shape_str(x, sx, sizeof sx));
    return NULL;
  }
  int64_t C = x->shape[1], dims[3] = {0, 2, 3}, vec[4] = {1, C, 1, 1};
  prior_tensor *const per_channel[4] = {weight, bias, running_mean, running_var};
  const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 0; i < 4; i++)
    if (per_channel[i] && (per_channel[i]->ndim != 1 || per_channel[i]->shape[0] != C)) {
      char sw[96];
      prior_error_set(PRIOR_ERR_SHAPE, "sync_batch_norm2d: %s has shape %s, the input %lld channels", names[i],
                      prior_tensor_shape_str(per_channel[i], sw, sizeof sw), (long long)C);
      return NULL;
    }
  /* the global number of values per channel */
  prior_tensor *n_local = prior_tensor_full(0, NULL, (double)(x->shape[0] * x->shape[2] * x->shape[3]), PRIOR_F64,
                                            prior_cpu());
  double count = 0;
  if (!n_local || prior_dist_all_reduce_sum(n_local) != PRIOR_OK || prior_tensor_item(n_local, &count) != PRIOR_OK) {
    prior_tensor_free(n_local);
    return NULL;
  }
  prior_tensor_free(n_local);
  if (count <= 1) {
    prior_error_set(PRIOR_ERR_SHAPE, "sync_batch_norm2d: training needs more than 1 value per channel over all ranks");
    return NULL;
  }
  prior_tensor *s = prior_sum(x, 3, dims, 1);                    /* [1, C, 1, 1] */
  prior_tensor *S = s ? prior_dist_all_reduce(s) : NULL;
  prior_tensor *mean = S ? prior_mul_scalar(S, 1.0 / count) : NULL;
  prior_tensor *d = mean ? prior_sub(x, mean) : NULL;
  prior_tensor *d2 = d ? prior_mul(d, d) : NULL;
  prior_tensor *q = d2 ? prior_sum(d2, 3, dims, 1) : NULL;
  prior_tensor *Q = q ? prior_dist_all_reduce(q) : NULL;
  prior_tensor *var = Q ? prior_mul_scalar(Q, 1.0 / count) : NULL;
  prior_tensor *ve = var ? prior_add_scalar(var, eps) : NULL;
  prior_tensor *invstd = ve ? prior_rsqrt(ve) : NULL;
  prior_tensor *y = invstd ? prior_mul(d, invstd) : NULL;
  prior_tensor *wv = (y && weight) ? prior_reshape(weight, 4, vec) : NULL;
  prior_tensor *bv = (y && bias) ? prior_reshape(bias, 4, vec) : NULL;
  prior_tensor *yw = wv ? prior_mul(y, wv) : (y ? prior_tensor_retain(y) : NULL);
  prior_tensor *out = (yw && bv) ? prior_add(yw, bv) : (yw ? prior_tensor_retain(yw) : NULL);
  if (out && (running_mean || running_var)) {
    int prev = prior_set_grad_enabled(0);
    prior_status st = update_running(running_mean, mean, momentum, 1.0);
    if (st == PRIOR_OK) st = update_running(running_var, var, momentum, count / (count - 1));
    prior_set_grad_enabled(prev);
    if (st != PRIOR_OK) prior_tensor_free(out), out = NULL;
  }
  prior_free_all(15, s, S, mean, d, d2, q, Q, var, ve, invstd, y, wv, bv, yw, NULL);
  return out;
}
