/* Elementwise losses (l1, mse, smooth l1, bce with logits, kl divergence): one kernel computes the
 * per-element loss and one its gradients for input, target and pos_weight; the reduction is composed from
 * differentiable sum/mean. */
#include "backend/kernels_nn.h"
#include "ops/op_util.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_loss.h"
#include "prior/ops_reduce.h"

/* inputs: x, y, w (w may be NULL); saved: x, y, w expanded to x's shape (all contiguous);
 * ints: [0] op, [1] w ndim, [2..9] w shape; scalars[0] param */
static prior_status pointwise_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *x = node->saved[0], *y = node->saved[1], *w = node->n_saved > 2 ? node->saved[2] : NULL;
  prior_pointwise_loss_backward_kernel k =
      (prior_pointwise_loss_backward_kernel)prior_op_kernel(node->name, "pointwise_loss_backward", x);
  if (!k) return prior_error_code();
  prior_dtype dt = (prior_dtype)x->dtype;
  int want_w = node->n_inputs > 2 && node->needs_grad[2];
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  prior_tensor *dx = node->needs_grad[0] ? prior_tensor_empty(x->ndim, x->shape, dt, x->device) : NULL;
  prior_tensor *dy = node->needs_grad[1] ? prior_tensor_empty(x->ndim, x->shape, dt, x->device) : NULL;
  prior_tensor *dw = want_w ? prior_tensor_empty(x->ndim, x->shape, dt, x->device) : NULL;
  prior_status s;
  if (!gc || (node->needs_grad[0] && !dx) || (node->needs_grad[1] && !dy) || (want_w && !dw))
    s = prior_error_code();
  else
    s = k(dx, dy, dw, gc, x, y, w, (int)node->ints[0], node->scalars[0]);
  prior_tensor_free(gc);
  if (s != PRIOR_OK) return prior_free_all(3, dx, dy, dw), s;
  gi[0] = dx;
  gi[1] = dy;
  if (want_w) {
    gi[2] = prior_sum_to_shape(dw, (int)node->ints[1], &node->ints[2]);
    prior_tensor_free(dw);
    if (!gi[2]) return prior_error_code();
  }
  return PRIOR_OK;
}

static prior_tensor *reduce(prior_tensor *loss, prior_reduction reduction, int batchmean) {
  if (reduction == PRIOR_REDUCTION_NONE) return prior_tensor_retain(loss);
  if (reduction == PRIOR_REDUCTION_SUM) return prior_sum(loss, 0, NULL, 0);
  if (!batchmean) return prior_mean(loss, 0, NULL, 0);
  prior_tensor *total = prior_sum(loss, 0, NULL, 0);
  prior_tensor *out = total ? prior_mul_scalar(total, 1.0 / (double)(loss->ndim ? loss->shape[0] : 1)) : NULL;
  prior_tensor_free(total);
  return out;
}

static prior_tensor *pointwise_loss(const char *op, prior_tensor *x, prior_tensor *y, prior_tensor *w, int kind,
                                    double param, prior_reduction reduction, int batchmean) {
  if (prior_check_floating(op, "input", x) || prior_check_floating(op, "target", y) ||
      prior_check_same_dtype(op, x, y) || prior_check_same_device(op, x, y))
    return NULL;
  if (!prior_tensor_same_shape(x, y)) {
    char a[128], b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: input %s and target %s must have the same shape", op,
                    prior_tensor_shape_str(x, a, sizeof a), prior_tensor_shape_str(y, b, sizeof b));
    return NULL;
  }
  if (reduction < PRIOR_REDUCTION_NONE || reduction > PRIOR_REDUCTION_SUM) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: unknown reduction %d", op, (int)reduction);
    return NULL;
  }
  prior_dtype dt = (prior_dtype)x->dtype;
  prior_tensor *wf = NULL;
  if (w) {
    if (prior_check_floating(op, "pos_weight", w) || prior_check_same_dtype(op, x, w) ||
        prior_check_same_device(op, x, w))
      return NULL;
    int ndim;
    int64_t shape[PRIOR_MAX_DIMS];
    int fits = prior_broadcast_shapes(op, x->ndim, x->shape, w->ndim, w->shape, &ndim, shape) == PRIOR_OK &&
               ndim == x->ndim;
    for (int d = 0; fits && d < ndim; d++) fits = shape[d] == x->shape[d];
    if (!fits) {
      char a[128], b[128];
      prior_error_set(PRIOR_ERR_SHAPE, "%s: pos_weight %s does not broadcast to input %s", op,
                      prior_tensor_shape_str(w, a, sizeof a), prior_tensor_shape_str(x, b, sizeof b));
      return NULL;
    }
    wf = prior_tensor_empty(x->ndim, x->shape, dt, x->device);
    if (!wf || prior_tensor_copy_(wf, w) != PRIOR_OK) return prior_tensor_free(wf), NULL;
  }
  prior_pointwise_loss_kernel k = (prior_pointwise_loss_kernel)prior_op_kernel(op, "pointwise_loss", x);
  prior_tensor *xc = prior_tensor_contiguous_raw(x), *yc = prior_tensor_contiguous_raw(y);
  prior_tensor *loss = prior_tensor_empty(x->ndim, x->shape, dt, x->device);
  prior_status s = k && xc && yc && loss ? k(loss, xc, yc, wf, kind, param) : prior_error_code();
  prior_tensor *in[3] = {x, y, w};
  int n_in = w ? 3 : 2;
  if (s == PRIOR_OK && prior_autograd_needed(n_in, in)) {
    prior_node *node = prior_node_new(op, pointwise_backward, n_in, in);
    if (!node || prior_node_save(node, xc) != 0 || prior_node_save(node, yc) != 1 ||
        (wf && prior_node_save(node, wf) != 2)) {
      prior_node_release(node);
      s = prior_error_code();
    } else {
      node->ints[0] = kind;
      node->scalars[0] = param;
      if (w) {
        node->ints[1] = w->ndim;
        for (int d = 0; d < w->ndim; d++) node->ints[2 + d] = w->shape[d];
      }
      prior_node_attach(node, loss);
    }
  }
  prior_free_all(3, xc, yc, wf);
  prior_tensor *out = s == PRIOR_OK ? reduce(loss, reduction, batchmean) : NULL;
  prior_tensor_free(loss);
  return out;
}

prior_tensor *prior_bce_with_logits(prior_tensor *logits, prior_tensor *target, prior_tensor *pos_weight,
                                    prior_reduction reduction) {
  return pointwise_loss("bce_with_logits", logits, target, pos_weight, PRIOR_LOSS_BCE_LOGITS, 0, reduction, 0);
}

prior_tensor *prior_l1_loss(prior_tensor *input, prior_tensor *target, prior_reduction reduction) {
  return pointwise_loss("l1_loss", input, target, NULL, PRIOR_LOSS_L1, 0, reduction, 0);
}

/* beta == 0 is plain l1 (PyTorch does the same; the quadratic zone would divide by zero). */
prior_tensor *prior_smooth_l1_loss(prior_tensor *input, prior_tensor *target, prior_reduction reduction, double beta) {
  if (!(beta >= 0)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "smooth_l1_loss: beta %g must be >= 0", beta);
    return NULL;
  }
  int kind = beta == 0 ? PRIOR_LOSS_L1 : PRIOR_LOSS_SMOOTH_L1;
  return pointwise_loss("smooth_l1_loss", input, target, NULL, kind, beta, reduction, 0);
}

prior_tensor *prior_mse_loss(prior_tensor *input, prior_tensor *target, prior_reduction reduction) {
  return pointwise_loss("mse_loss", input, target, NULL, PRIOR_LOSS_MSE, 0, reduction, 0);
}

prior_tensor *prior_kl_div(prior_tensor *input, prior_tensor *target, prior_reduction reduction, int log_target) {
  return pointwise_loss("kl_div", input, target, NULL, log_target ? PRIOR_LOSS_KL_LOG : PRIOR_LOSS_KL, 0, reduction, 1);
}
