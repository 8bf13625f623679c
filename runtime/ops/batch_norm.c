/* Batch normalisation of [N, C, H, W] maps (PyTorch's F.batch_norm): argument checks and autograd. The kernel
 * updates the running statistics in place during training; backward gets the statistics the forward used. */
#include "backend/kernels_dense.h"
#include "ops/op_util.h"
#include "prior/ops_norm.h"

static prior_status bn_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *x = node->saved[0], *mean = node->saved[1], *var = node->saved[2];
  prior_tensor *w = node->ints[1] ? node->saved[3] : NULL;
  prior_batch_norm_backward_kernel k =
      (prior_batch_norm_backward_kernel)prior_op_kernel("batch_norm2d backward", "batch_norm_backward", x);
  if (!k) return prior_error_code();
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  if (!gc) return prior_error_code();
  int64_t C = x->shape[1];
  prior_dtype dt = (prior_dtype)x->dtype;
  if (node->needs_grad[0]) gi[0] = prior_tensor_empty(4, x->shape, dt, x->device);
  if (node->needs_grad[1]) gi[1] = prior_tensor_empty(1, &C, dt, x->device);
  if (node->needs_grad[2]) gi[2] = prior_tensor_empty(1, &C, dt, x->device);
  prior_status s;
  if ((node->needs_grad[0] && !gi[0]) || (node->needs_grad[1] && !gi[1]) || (node->needs_grad[2] && !gi[2]))
    s = prior_error_code();
  else
    s = k(gi[0], gi[1], gi[2], gc, x, w, mean, var, (int)node->ints[0], node->scalars[0]);
  prior_tensor_free(gc);
  return s;
}

static prior_status check_channel_vec(const char *arg, const prior_tensor *x, const prior_tensor *v) {
  const char *op = "batch_norm2d";
  if (!v) return PRIOR_OK;
  PRIOR_TRY(prior_check_tensor(op, arg, v));
  PRIOR_TRY(prior_check_same_device(op, x, v));
  PRIOR_TRY(prior_check_same_dtype(op, x, v));
  if (v->ndim != 1 || v->shape[0] != x->shape[1]) {
    char sx[96], sv[96];
    return prior_error_set(PRIOR_ERR_SHAPE, "batch_norm2d: %s %s does not match input %s's %lld channels", arg,
                           prior_tensor_shape_str(v, sv, sizeof sv), prior_tensor_shape_str(x, sx, sizeof sx),
                           (long long)x->shape[1]);
  }
  return PRIOR_OK;
}

prior_tensor *prior_batch_norm2d(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                 prior_tensor *weight, prior_tensor *bias, int training, double momentum, double eps) {
  const char *op = "batch_norm2d";
  if (prior_check_tensor(op, "input", x) != PRIOR_OK || prior_check_floating(op, "input", x) != PRIOR_OK ||
      prior_check_ndim(op, "input", x, 4) != PRIOR_OK || check_channel_vec("weight", x, weight) != PRIOR_OK ||
      check_channel_vec("bias", x, bias) != PRIOR_OK || check_channel_vec("running_mean", x, running_mean) != PRIOR_OK ||
      check_channel_vec("running_var", x, running_var) != PRIOR_OK)
    return NULL;
  if (!training && (!running_mean || !running_var)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "batch_norm2d: eval mode needs running_mean and running_var");
    return NULL;
  }
  if ((running_mean == NULL) != (running_var == NULL)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "batch_norm2d: give both running_mean and running_var, or neither");
    return NULL;
  }
  if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "batch_norm2d: eps = %g must be > 0 and momentum = %g in [0, 1]", eps, momentum);
    return NULL;
  }
  if (training && x->shape[0] * x->shape[2] * x->shape[3] <= 1) {
    char sx[96];
    prior_error_set(PRIOR_ERR_SHAPE, "batch_norm2d: training needs more than 1 value per channel, input is %s",
                    prior_tensor_shape_str(x, sx, sizeof sx));
    return NULL;
  }
  prior_batch_norm_forward_kernel k = (prior_batch_norm_forward_kernel)prior_op_kernel(op, "batch_norm_forward", x);
  if (!k) return NULL;
  int64_t C = x->shape[1];
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *wc = weight ? prior_tensor_contiguous_raw(weight) : NULL;
  prior_tensor *bc = bias ? prior_tensor_contiguous_raw(bias) : NULL;
  prior_tensor *mean = prior_tensor_empty(1, &C, (prior_dtype)x->dtype, x->device);
  prior_tensor *var = prior_tensor_empty(1, &C, (prior_dtype)x->dtype, x->device);
  prior_tensor *out = NULL;
  if (xc && (wc || !weight) && (bc || !bias) && mean && var) out = prior_tensor_empty(4, x->shape, (prior_dtype)x->dtype, x->device);
  if (out && k(out, mean, var, xc, wc, bc, running_mean, running_var, training != 0, momentum, eps) != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    out = NULL;
  }
  prior_tensor *inputs[3] = {x, weight, bias};
  if (out && prior_autograd_needed(3, inputs)) {
    prior_node *node = prior_node_new(op, bn_backward, 3, inputs);
    if (!node || prior_node_save(node, xc) < 0 || prior_node_save(node, mean) < 0 || prior_node_save(node, var) < 0 ||
        (wc && prior_node_save(node, wc) < 0)) {
      prior_node_release(node);
      prior_tensor_free(out);
      out = NULL;
    } else {
      node->ints[0] = training != 0;
      node->ints[1] = wc != NULL;
      node->scalars[0] = eps;
      prior_node_attach(node, out);
    }
  }
  prior_free_all(5, xc, wc, bc, mean, var);
  return out;
}
