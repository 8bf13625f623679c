/* cross_entropy with class-index targets: log-softmax and negative log-likelihood fused in one kernel that
 * also applies label smoothing and ignore_index, with a fused backward (softmax minus the smoothed one-hot).
 * The kernel produces per-position losses; the reduction is composed from differentiable ops so that
 * 'mean' divides by the number of non-ignored positions, as PyTorch does (also with label smoothing). */
#include <math.h>

#include "backend/kernels_nn.h"
#include "ops/op_util.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_loss.h"
#include "prior/ops_reduce.h"

/* saved: logits (contiguous), target (contiguous), lse; ints: [0] n, [1] c, [2] s, [3] ignore; scalars[0] ls */
static prior_status ce_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *x = node->saved[0], *t = node->saved[1], *lse = node->saved[2];
  prior_cross_entropy_backward_kernel k =
      (prior_cross_entropy_backward_kernel)prior_op_kernel("cross_entropy backward", "cross_entropy_backward", x);
  if (!k) return prior_error_code();
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  prior_tensor *dx = gc ? prior_tensor_empty(x->ndim, x->shape, (prior_dtype)x->dtype, x->device) : NULL;
  if (!dx) return prior_tensor_free(gc), prior_error_code();
  prior_status s = k(dx, gc, x, t, lse, node->ints[0], node->ints[1], node->ints[2], node->ints[3], node->scalars[0]);
  prior_tensor_free(gc);
  if (s != PRIOR_OK) return prior_tensor_free(dx), s;
  gi[0] = dx;
  return PRIOR_OK;
}

static prior_status check_args(const prior_tensor *logits, const prior_tensor *target, prior_reduction reduction,
                               double ls) {
  const char *op = "cross_entropy";
  PRIOR_TRY(prior_check_floating(op, "logits", logits));
  PRIOR_TRY(prior_check_tensor(op, "target", target));
  PRIOR_TRY(prior_check_same_device(op, logits, target));
  if (target->dtype != PRIOR_I64 && target->dtype != PRIOR_I32)
    return prior_error_set(PRIOR_ERR_DTYPE, "cross_entropy: target must hold class indices (i64 or i32), got %s",
                           prior_dtype_name(target->dtype));
  int ok = logits->ndim >= 2 && target->ndim == logits->ndim - 1 && target->shape[0] == logits->shape[0];
  for (int d = 1; ok && d < target->ndim; d++) ok = target->shape[d] == logits->shape[d + 1];
  if (!ok) {
    char a[128], b[128];
    return prior_error_set(PRIOR_ERR_SHAPE, "cross_entropy: logits %s and target %s do not fit ([N, C, d...] and [N, d...])",
                           prior_tensor_shape_str(logits, a, sizeof a), prior_tensor_shape_str(target, b, sizeof b));
  }
  if (!(ls >= 0 && ls < 1))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "cross_entropy: label_smoothing %g must be in [0, 1)", ls);
  if (reduction < PRIOR_REDUCTION_NONE || reduction > PRIOR_REDUCTION_SUM)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "cross_entropy: unknown reduction %d", (int)reduction);
  return PRIOR_OK;
}

prior_tensor *prior_cross_entropy(prior_tensor *logits, prior_tensor *target, prior_reduction reduction,
                                  int64_t ignore_index, double label_smoothing) {
  const char *op = "cross_entropy";
  if (check_args(logits, target, reduction, label_smoothing) != PRIOR_OK) return NULL;
  prior_cross_entropy_kernel k = (prior_cross_entropy_kernel)prior_op_kernel(op, "cross_entropy", logits);
  if (!k) return NULL;
  int64_t n = logits->shape[0], c = logits->shape[1], s = 1;
  for (int d = 2; d < logits->ndim; d++) s *= logits->shape[d];
  prior_dtype dt = (prior_dtype)logits->dtype;
  prior_tensor *xc = prior_tensor_contiguous_raw(logits), *tc = prior_tensor_contiguous_raw(target);
  prior_tensor *loss = prior_tensor_empty(target->ndim, target->shape, dt, logits->device);
  prior_tensor *lse = prior_tensor_empty(target->ndim, target->shape, dt, logits->device);
  int64_t n_valid = 0;
  prior_status st = xc && tc && loss && lse ? PRIOR_OK : prior_error_code();
  if (st == PRIOR_OK) st = k(loss, lse, &n_valid, xc, tc, n, c, s, ignore_index, label_smoothing);
  if (st == PRIOR_OK && prior_autograd_needed(1, &logits)) {
    prior_node *node = prior_node_new(op, ce_backward, 1, &logits);
    if (!node || prior_node_save(node, xc) != 0 || prior_node_save(node, tc) != 1 || prior_node_save(node, lse) != 2) {
      prior_node_release(node);
      st = prior_error_code();
    } else {
      node->ints[0] = n;
      node->ints[1] = c;
      node->ints[2] = s;
      node->ints[3] = ignore_index;
      node->scalars[0] = label_smoothing;
      prior_node_attach(node, loss);
    }
  }
  prior_free_all(3, xc, tc, lse);
  if (st != PRIOR_OK) return prior_tensor_free(loss), NULL;
  if (reduction == PRIOR_REDUCTION_NONE) return loss;
  prior_tensor *total = prior_sum(loss, 0, NULL, 0);
  prior_tensor_free(loss);
  if (reduction == PRIOR_REDUCTION_SUM || !total) return total;
  /* mean over the non-ignored positions; none at all gives 0/0 = NaN, as in PyTorch */
  prior_tensor *mean = prior_mul_scalar(total, n_valid ? 1.0 / (double)n_valid : NAN);
  prior_tensor_free(total);
  return mean;
}
