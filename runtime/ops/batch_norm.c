/* Batch normalisation of [N, C, H, W] maps (PyTorch's F.batch_norm), alone or followed by a ReLU in one kernel:
 * argument checks and autograd. The kernel updates the running statistics in place during training; backward
 * gets the statistics the forward used (and, after a ReLU, the per-channel map that tells where it passed). */
#include "backend/kernels_dense.h"
#include "ops/op_util.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_norm.h"

static prior_status bn_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *x = node->saved[0], *mean = node->saved[1], *var = node->saved[2];
  prior_tensor *w = node->ints[1] ? node->saved[3] : NULL;
  prior_tensor *affine = node->ints[2] ? node->saved[node->n_saved - 1] : NULL; /* the fused ReLU's */
  const char *op = affine ? "batch_norm2d_relu backward" : "batch_norm2d backward";
  prior_kernel_fn k = prior_op_kernel(op, affine ? "batch_norm_relu_backward" : "batch_norm_backward", x);
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
  else if (affine)
    s = ((prior_batch_norm_relu_backward_kernel)k)(gi[0], gi[1], gi[2], gc, x, w, mean, var, affine,
                                                   (int)node->ints[0], node->scalars[0]);
  else
    s = ((prior_batch_norm_backward_kernel)k)(gi[0], gi[1], gi[2], gc, x, w, mean, var, (int)node->ints[0],
                                              node->scalars[0]);
  prior_tensor_free(gc);
  return s;
}

static prior_status check_channel_vec(const char *op, const char *arg, const prior_tensor *x, const prior_tensor *v) {
  if (!v) return PRIOR_OK;
  PRIOR_TRY(prior_check_tensor(op, arg, v));
  PRIOR_TRY(prior_check_same_device(op, x, v));
  PRIOR_TRY(prior_check_same_dtype(op, x, v));
  if (v->ndim != 1 || v->shape[0] != x->shape[1]) {
    char sx[96], sv[96];
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: %s %s does not match input %s's %lld channels", op, arg,
                           prior_tensor_shape_str(v, sv, sizeof sv), prior_tensor_shape_str(x, sx, sizeof sx),
                           (long long)x->shape[1]);
  }
  return PRIOR_OK;
}

static prior_status check_args(const char *op, prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                               prior_tensor *weight, prior_tensor *bias, int training, double momentum, double eps) {
  PRIOR_TRY(prior_check_tensor(op, "input", x));
  PRIOR_TRY(prior_check_floating(op, "input", x));
  PRIOR_TRY(prior_check_ndim(op, "input", x, 4));
  PRIOR_TRY(check_channel_vec(op, "weight", x, weight));
  PRIOR_TRY(check_channel_vec(op, "bias", x, bias));
  PRIOR_TRY(check_channel_vec(op, "running_mean", x, running_mean));
  PRIOR_TRY(check_channel_vec(op, "running_var", x, running_var));
  if (!training && (!running_mean || !running_var))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: eval mode needs running_mean and running_var", op);
  if ((running_mean == NULL) != (running_var == NULL))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: give both running_mean and running_var, or neither", op);
  if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: eps = %g must be > 0 and momentum = %g in [0, 1]", op, eps, momentum);
  if (training && x->shape[0] * x->shape[2] * x->shape[3] <= 1) {
    char sx[96];
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: training needs more than 1 value per channel, input is %s", op,
                           prior_tensor_shape_str(x, sx, sizeof sx));
  }
  return PRIOR_OK;
}

/* relu: the fused kernels, which the caller has checked exist for x's device. */
static prior_tensor *batch_norm(const char *op, prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                prior_tensor *weight, prior_tensor *bias, int training, double momentum, double eps,
                                int relu) {
  if (check_args(op, x, running_mean, running_var, weight, bias, training, momentum, eps) != PRIOR_OK) return NULL;
  prior_kernel_fn k = prior_op_kernel(op, relu ? "batch_norm_relu_forward" : "batch_norm_forward", x);
  if (!k) return NULL;
  int64_t C = x->shape[1], affine_shape[2] = {4, C};
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *wc = weight ? prior_tensor_contiguous_raw(weight) : NULL;
  prior_tensor *bc = bias ? prior_tensor_contiguous_raw(bias) : NULL;
  prior_tensor *mean = prior_tensor_empty(1, &C, (prior_dtype)x->dtype, x->device);
  prior_tensor *var = prior_tensor_empty(1, &C, (prior_dtype)x->dtype, x->device);
  prior_tensor *affine = relu ? prior_tensor_empty(2, affine_shape, (prior_dtype)x->dtype, x->device) : NULL;
  prior_tensor *out = NULL;
  if (xc && (wc || !weight) && (bc || !bias) && mean && var && (affine || !relu))
    out = prior_tensor_empty(4, x->shape, (prior_dtype)x->dtype, x->device);
  prior_status s = PRIOR_OK;
  if (out && relu)
    s = ((prior_batch_norm_relu_forward_kernel)k)(out, mean, var, affine, xc, wc, bc, running_mean, running_var,
                                                  training != 0, momentum, eps);
  else if (out)
    s = ((prior_batch_norm_forward_kernel)k)(out, mean, var, xc, wc, bc, running_mean, running_var, training != 0,
                                             momentum, eps);
  if (s != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    out = NULL;
  }
  prior_tensor *inputs[3] = {x, weight, bias};
  if (out && prior_autograd_needed(3, inputs)) {
    prior_node *node = prior_node_new(op, bn_backward, 3, inputs);
    if (!node || prior_node_save(node, xc) < 0 || prior_node_save(node, mean) < 0 || prior_node_save(node, var) < 0 ||
        (wc && prior_node_save(node, wc) < 0) || (affine && prior_node_save(node, affine) < 0)) {
      prior_node_release(node);
      prior_tensor_free(out);
      out = NULL;
    } else {
      node->ints[0] = training != 0;
      node->ints[1] = wc != NULL;
      node->ints[2] = relu;
      node->scalars[0] = eps;
      prior_node_attach(node, out);
    }
  }
  prior_free_all(6, xc, wc, bc, mean, var, affine);
  return out;
}

prior_tensor *prior_batch_norm2d(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                 prior_tensor *weight, prior_tensor *bias, int training, double momentum, double eps) {
  return batch_norm("batch_norm2d", x, running_mean, running_var, weight, bias, training, momentum, eps, 0);
}

prior_tensor *prior_batch_norm2d_relu(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                      prior_tensor *weight, prior_tensor *bias, int training, double momentum,
                                      double eps) {
  if (x && prior_backend_supports((prior_device_type)x->device.type, "batch_norm_relu_forward"))
    return batch_norm("batch_norm2d_relu", x, running_mean, running_var, weight, bias, training, momentum, eps, 1);
  /* a device without the fused kernels: the two ops */
  prior_tensor *n = prior_batch_norm2d(x, running_mean, running_var, weight, bias, training, momentum, eps);
  prior_tensor *y = n ? prior_relu(n) : NULL;
  prior_tensor_free(n);
  return y;
}
