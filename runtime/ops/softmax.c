/* softmax and log_softmax over one dim, with fused backward kernels. The input is made contiguous and viewed
 * as [outer, n, inner]; the output (saved for backward) is contiguous. */
#include "backend/kernels_nn.h"
#include "ops/op_util.h"
#include "prior/ops_nn.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

static void split_dims(const prior_tensor *x, int dim, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = *inner = 1;
  *n = x->ndim ? x->shape[dim] : 1;
  for (int d = 0; d < dim; d++) *outer *= x->shape[d];
  for (int d = dim + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

/* ints: [0] dim, [1] log */
static prior_status softmax_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *y = node->saved[0];
  const char *name = node->ints[1] ? "log_softmax backward" : "softmax backward";
  prior_softmax_backward_kernel k = (prior_softmax_backward_kernel)prior_op_kernel(name, "softmax_backward", y);
  if (!k) return prior_error_code();
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  prior_tensor *dx = gc ? prior_tensor_empty(y->ndim, y->shape, (prior_dtype)y->dtype, y->device) : NULL;
  if (!dx) return prior_tensor_free(gc), prior_error_code();
  int64_t outer, n, inner;
  split_dims(y, (int)node->ints[0], &outer, &n, &inner);
  prior_status s = k(dx, gc, y, outer, n, inner, (int)node->ints[1]);
  prior_tensor_free(gc);
  if (s != PRIOR_OK) return prior_tensor_free(dx), s;
  gi[0] = dx;
  return PRIOR_OK;
}

static prior_tensor *softmax_op(const char *name, prior_tensor *x, int64_t dim, int log) {
  if (prior_check_floating(name, "input", x)) return NULL;
  int d = 0;
  if (x->ndim > 0 && prior_normalize_dim(name, dim, x->ndim, &d) != PRIOR_OK) return NULL;
  prior_softmax_kernel k = (prior_softmax_kernel)prior_op_kernel(name, "softmax", x);
  if (!k) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *y = xc ? prior_tensor_empty(x->ndim, x->shape, (prior_dtype)x->dtype, x->device) : NULL;
  if (!y) return prior_tensor_free(xc), NULL;
  int64_t outer, n, inner;
  split_dims(x, d, &outer, &n, &inner);
  prior_status s = k(y, xc, outer, n, inner, log);
  prior_tensor_free(xc);
  if (s != PRIOR_OK) {
    prior_error_context("%s", name);
    prior_tensor_free(y);
    return NULL;
  }
  if (prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new(name, softmax_backward, 1, &x);
    if (!node || prior_node_save(node, y) < 0) {
      prior_node_release(node);
      prior_tensor_free(y);
      return NULL;
    }
    node->ints[0] = d;
    node->ints[1] = log;
    prior_node_attach(node, y);
  }
  return y;
}

prior_tensor *prior_softmax(prior_tensor *x, int64_t dim) { return softmax_op("softmax", x, dim, 0); }
prior_tensor *prior_log_softmax(prior_tensor *x, int64_t dim) { return softmax_op("log_softmax", x, dim, 1); }

/* ---- softmax(x * scale + mask) over the last dim: attention scores -------------------------------------- */

static prior_status scaled_softmax_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *y = node->saved[0];
  const char *name = "scaled_masked_softmax backward";
  prior_scaled_softmax_backward_kernel k =
      (prior_scaled_softmax_backward_kernel)prior_op_kernel(name, "scaled_softmax_backward", y);
  prior_tensor *gc = k ? prior_tensor_contiguous_raw(g) : NULL;
  prior_tensor *dx = gc ? prior_tensor_empty(y->ndim, y->shape, (prior_dtype)y->dtype, y->device) : NULL;
  prior_status s = dx ? k(dx, gc, y, node->scalars[0]) : prior_error_code();
  prior_tensor_free(gc);
  if (s != PRIOR_OK) return prior_tensor_free(dx), s;
  gi[0] = dx;
  return PRIOR_OK;
}

/* The three ops one by one: what devices without the fused kernel, other ranks and a mask that needs a
 * gradient get. */
static prior_tensor *scaled_masked_softmax_composite(prior_tensor *x, double scale, prior_tensor *mask) {
  prior_tensor *scores = prior_mul_scalar(x, scale);
  if (scores && mask) {
    prior_tensor *masked = prior_add(scores, mask);
    prior_tensor_free(scores);
    scores = masked;
  }
  prior_tensor *y = scores ? prior_softmax(scores, -1) : NULL;
  prior_tensor_free(scores);
  return y;
}

prior_tensor *prior_scaled_masked_softmax(prior_tensor *x, double scale, prior_tensor *mask) {
  const char *name = "scaled_masked_softmax";
  if (prior_check_floating(name, "scores", x)) return NULL;
  if (mask && (prior_check_same_dtype(name, x, mask) || prior_check_same_device(name, x, mask))) return NULL;
  int fused = x->ndim == 4 && x->shape[3] > 0 && (!mask || !mask->requires_grad) &&
              prior_backend_supports(x->device.type, "scaled_masked_softmax");
  if (!fused) return scaled_masked_softmax_composite(x, scale, mask);
  prior_scaled_masked_softmax_kernel k =
      (prior_scaled_masked_softmax_kernel)prior_op_kernel(name, "scaled_masked_softmax", x);
  prior_tensor *mx = mask ? prior_expand(mask, 4, x->shape) : NULL; /* broadcast dims get stride 0 */
  if (mask && !mx) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *y = xc ? prior_tensor_empty(4, x->shape, (prior_dtype)x->dtype, x->device) : NULL;
  prior_status s = y ? k(y, xc, scale, mx) : prior_error_code();
  prior_free_all(2, xc, mx);
  if (s != PRIOR_OK) {
    prior_error_context("%s", name);
    prior_tensor_free(y);
    return NULL;
  }
  if (prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new(name, scaled_softmax_backward, 1, &x);
    if (!node || prior_node_save(node, y) < 0) {
      prior_node_release(node);
      prior_tensor_free(y);
      return NULL;
    }
    node->scalars[0] = scale;
    prior_node_attach(node, y);
  }
  return y;
}

/* ---- with dropout after it (attention probabilities) ---------------------------------------------------- */

/* saved[0] = y (the softmax), saved[1] = the keep bits; scalars: the softmax scale, the dropout scale */
static prior_status scaled_softmax_dropout_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  const char *name = "scaled_masked_softmax_dropout backward";
  prior_tensor *y = node->saved[0];
  prior_scaled_softmax_dropout_backward_kernel k =
      (prior_scaled_softmax_dropout_backward_kernel)prior_op_kernel(name, "scaled_softmax_dropout_backward", y);
  prior_tensor *gc = k ? prior_tensor_contiguous_raw(g) : NULL;
  prior_tensor *dx = gc ? prior_tensor_empty(y->ndim, y->shape, (prior_dtype)y->dtype, y->device) : NULL;
  prior_status s = dx ? k(dx, gc, y, node->saved[1], node->scalars[1], node->scalars[0]) : prior_error_code();
  prior_tensor_free(gc);
  if (s != PRIOR_OK) return prior_tensor_free(dx), s;
  gi[0] = dx;
  return PRIOR_OK;
}

/* for_product: under CPU autocast, the dropped probabilities are written as bf16 (see
 * prior_scaled_masked_softmax_dropout_for_product). */
static prior_tensor *softmax_dropout(prior_tensor *x, double scale, prior_tensor *mask, double p, int training,
                                     int for_product) {
  const char *name = "scaled_masked_softmax_dropout";
  if (prior_check_floating(name, "scores", x)) return NULL;
  if (mask && (prior_check_same_dtype(name, x, mask) || prior_check_same_device(name, x, mask))) return NULL;
  int fused = training && p > 0 && p <= 1 && x->ndim == 4 && x->shape[3] > 0 && (!mask || !mask->requires_grad) &&
              x->device.type == PRIOR_DEVICE_CPU && (x->dtype == PRIOR_F32 || x->dtype == PRIOR_F64) &&
              prior_backend_supports(x->device.type, "scaled_masked_softmax_dropout") &&
              prior_backend_supports(x->device.type, "scaled_softmax_dropout_backward");
  if (!fused) { /* the two ops (dropout checks p and passes the probabilities through when not training) */
    prior_tensor *probs = prior_scaled_masked_softmax(x, scale, mask);
    prior_tensor *out = probs ? prior_dropout(probs, p, training) : NULL;
    prior_tensor_free(probs);
    return out;
  }
  prior_scaled_masked_softmax_dropout_kernel k =
      (prior_scaled_masked_softmax_dropout_kernel)prior_op_kernel(name, "scaled_masked_softmax_dropout", x);
  prior_tensor *mx = mask ? prior_expand(mask, 4, x->shape) : NULL; /* broadcast dims get stride 0 */
  if (!k || (mask && !mx)) return prior_tensor_free(mx), NULL;
  double keep = 0;
  prior_tensor *bits = prior_op_dropout_bits(prior_tensor_numel(x), p, &keep);
  prior_tensor *xc = bits ? prior_tensor_contiguous_raw(x) : NULL;
  prior_tensor *y = xc ? prior_tensor_empty(4, x->shape, (prior_dtype)x->dtype, x->device) : NULL;
  prior_dtype out_dtype = for_product && prior_op_lowers_to_bf16(x) ? PRIOR_BF16 : (prior_dtype)x->dtype;
  prior_tensor *out = y ? prior_tensor_empty(4, x->shape, out_dtype, x->device) : NULL;
  prior_status s = out ? k(y, out, xc, scale, mx, bits, keep) : prior_error_code();
  prior_free_all(2, xc, mx);
  if (s == PRIOR_OK && prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new(name, scaled_softmax_dropout_backward, 1, &x);
    if (!node || prior_node_save(node, y) < 0 || prior_node_save(node, bits) < 0) {
      prior_node_release(node);
      s = prior_error_code();
    } else {
      node->scalars[0] = scale, node->scalars[1] = keep;
      prior_node_attach(node, out);
    }
  }
  prior_free_all(2, y, bits);
  if (s != PRIOR_OK) {
    prior_error_context("%s", name);
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

prior_tensor *prior_scaled_masked_softmax_dropout(prior_tensor *x, double scale, prior_tensor *mask, double p,
                                                  int training) {
  return softmax_dropout(x, scale, mask, p, training, 0);
}

prior_tensor *prior_scaled_masked_softmax_dropout_for_product(prior_tensor *x, double scale, prior_tensor *mask,
                                                              double p, int training) {
  return softmax_dropout(x, scale, mask, p, training, 1);
}
