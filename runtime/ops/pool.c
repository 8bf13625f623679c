/* Pooling of [N, C, H, W] maps: argument checks, output shapes, autograd. Kernels take
 * contiguous tensors; strided inputs are copied here first. */
#include "backend/kernels_dense.h"
#include "ops/op_util.h"
#include "prior/ops_pool.h"

static prior_status check_map(const char *op, prior_tensor *x) {
  PRIOR_TRY(prior_check_tensor(op, "input", x));
  PRIOR_TRY(prior_check_floating(op, "input", x));
  PRIOR_TRY(prior_check_ndim(op, "input", x, 4));
  return PRIOR_OK;
}

/* Output size of a pool (kernel k, stride s, padding p) over n: PyTorch's floor rule, with its limits. */
static prior_status pool_out(const char *op, const prior_tensor *x, const prior_pool2d_params *p, int64_t *out) {
  char sx[96];
  prior_tensor_shape_str(x, sx, sizeof sx);
  for (int i = 0; i < 2; i++) {
    int64_t k = p->kernel[i], s = p->stride[i], pad = p->pad[i], n = x->shape[2 + i];
    if (k < 1 || s < 1 || pad < 0)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: kernel (%lld, %lld) and stride (%lld, %lld) must be >= 1, padding "
                             "(%lld, %lld) >= 0", op, (long long)p->kernel[0], (long long)p->kernel[1],
                             (long long)p->stride[0], (long long)p->stride[1], (long long)p->pad[0],
                             (long long)p->pad[1]);
    if (2 * pad > k)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: padding %lld must be at most half the kernel size %lld", op,
                             (long long)pad, (long long)k);
    if (k > n + 2 * pad)
      return prior_error_set(PRIOR_ERR_SHAPE, "%s: kernel (%lld, %lld) is larger than the padded input %s (padding "
                             "%lld, %lld)", op, (long long)p->kernel[0], (long long)p->kernel[1], sx,
                             (long long)p->pad[0], (long long)p->pad[1]);
    out[i] = (n + 2 * pad - k) / s + 1;
  }
  return PRIOR_OK;
}

/* The kernels' work happens on a contiguous copy of x (or x itself) into a new output of shape [N, C, oh, ow]. */
static prior_tensor *new_map(const prior_tensor *x, int64_t oh, int64_t ow, prior_dtype dtype) {
  int64_t shape[4] = {x->shape[0], x->shape[1], oh, ow};
  return prior_tensor_empty(4, shape, dtype, x->device);
}

static void pool_ints(prior_node *node, const prior_pool2d_params *p) {
  for (int i = 0; i < 2; i++) {
    node->ints[i] = p->kernel[i], node->ints[2 + i] = p->stride[i], node->ints[4 + i] = p->pad[i];
  }
}

static prior_pool2d_params pool_params(const prior_node *node) {
  prior_pool2d_params p = {{node->ints[0], node->ints[1]}, {node->ints[2], node->ints[3]},
                           {node->ints[4], node->ints[5]}};
  return p;
}

/* A node saving `a` (and `b` if not NULL) with one input x; out gets it. Frees out on failure. */
static prior_tensor *attach(const char *op, prior_backward_fn fn, prior_tensor *x, prior_tensor *out, prior_tensor *a,
                            prior_tensor *b, const prior_pool2d_params *p, const int64_t *ints, int n_ints) {
  if (!out || !prior_autograd_needed(1, &x)) return out;
  prior_node *node = prior_node_new(op, fn, 1, &x);
  if (!node || (a && prior_node_save(node, a) < 0) || (b && prior_node_save(node, b) < 0)) {
    prior_node_release(node);
    prior_tensor_free(out);
    return NULL;
  }
  if (p) pool_ints(node, p);
  for (int i = 0; i < n_ints; i++) node->ints[8 + i] = ints[i];
  prior_node_attach(node, out);
  return out;
}

/* The gradient of the input (shape saved as ints[8..11]) through a backward kernel taking (gx, g, extra...). */
static prior_tensor *input_grad_like(const prior_node *node, prior_tensor *g) {
  int64_t shape[4] = {node->ints[8], node->ints[9], node->ints[10], node->ints[11]};
  return prior_tensor_empty(4, shape, (prior_dtype)g->dtype, g->device);
}

/* ---- max pooling --------------------------------------------------------------------------------------------- */

static prior_status max_pool_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_max_pool2d_backward_kernel k =
      (prior_max_pool2d_backward_kernel)prior_op_kernel("max_pool2d backward", "max_pool2d_backward", g);
  prior_tensor *gc = k ? prior_tensor_contiguous_raw(g) : NULL;
  gi[0] = gc ? input_grad_like(node, g) : NULL;
  prior_status s = gi[0] ? k(gi[0], gc, node->saved[0]) : prior_error_code();
  prior_tensor_free(gc);
  return s;
}

prior_tensor *prior_max_pool2d(prior_tensor *x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
                               int64_t pad_h, int64_t pad_w) {
  const char *op = "max_pool2d";
  prior_pool2d_params p = {{kernel_h, kernel_w}, {stride_h, stride_w}, {pad_h, pad_w}};
  int64_t o[2];
  if (check_map(op, x) != PRIOR_OK || pool_out(op, x, &p, o) != PRIOR_OK) return NULL;
  prior_max_pool2d_forward_kernel k = (prior_max_pool2d_forward_kernel)prior_op_kernel(op, "max_pool2d_forward", x);
  if (!k) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *out = xc ? new_map(x, o[0], o[1], (prior_dtype)x->dtype) : NULL;
  prior_tensor *idx = out ? new_map(x, o[0], o[1], PRIOR_I64) : NULL;
  if (idx && k(out, idx, xc, &p) == PRIOR_OK) {
    out = attach(op, max_pool_backward, x, out, idx, NULL, &p, x->shape, 4);
  } else {
    prior_tensor_free(out);
    out = NULL;
  }
  prior_free_all(2, xc, idx);
  return out;
}

/* ---- average pooling ------------------------------------------------------------------------------------------- */

static prior_status avg_pool_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_avg_pool2d_backward_kernel k =
      (prior_avg_pool2d_backward_kernel)prior_op_kernel("avg_pool2d backward", "avg_pool2d_backward", g);
  prior_pool2d_params p = pool_params(node);
  prior_tensor *gc = k ? prior_tensor_contiguous_raw(g) : NULL;
  gi[0] = gc ? input_grad_like(node, g) : NULL;
  prior_status s = gi[0] ? k(gi[0], gc, &p) : prior_error_code();
  prior_tensor_free(gc);
  return s;
}

prior_tensor *prior_avg_pool2d(prior_tensor *x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
                               int64_t pad_h, int64_t pad_w) {
  const char *op = "avg_pool2d";
  prior_pool2d_params p = {{kernel_h, kernel_w}, {stride_h, stride_w}, {pad_h, pad_w}};
  int64_t o[2];
  if (check_map(op, x) != PRIOR_OK || pool_out(op, x, &p, o) != PRIOR_OK) return NULL;
  prior_avg_pool2d_forward_kernel k = (prior_avg_pool2d_forward_kernel)prior_op_kernel(op, "avg_pool2d_forward", x);
  if (!k) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *out = xc ? new_map(x, o[0], o[1], (prior_dtype)x->dtype) : NULL;
  if (out && k(out, xc, &p) == PRIOR_OK) {
    out = attach(op, avg_pool_backward, x, out, NULL, NULL, &p, x->shape, 4);
  } else {
    prior_tensor_free(out);
    out = NULL;
  }
  prior_tensor_free(xc);
  return out;
}

/* ---- adaptive average pooling ---------------------------------------------------------------------------------- */

static prior_status adaptive_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_adaptive_pool_kernel k =
      (prior_adaptive_pool_kernel)prior_op_kernel("adaptive_avg_pool2d backward", "adaptive_avg_pool2d_backward", g);
  prior_tensor *gc = k ? prior_tensor_contiguous_raw(g) : NULL;
  gi[0] = gc ? input_grad_like(node, g) : NULL;
  prior_status s = gi[0] ? k(gi[0], gc) : prior_error_code();
  prior_tensor_free(gc);
  return s;
}

prior_tensor *prior_adaptive_avg_pool2d(prior_tensor *x, int64_t out_h, int64_t out_w) {
  const char *op = "adaptive_avg_pool2d";
  if (check_map(op, x) != PRIOR_OK) return NULL;
  if (out_h < 1 || out_w < 1 || x->shape[2] < 1 || x->shape[3] < 1) {
    char sx[96];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: output size (%lld, %lld) and input %s's spatial dims must be >= 1", op,
                    (long long)out_h, (long long)out_w, prior_tensor_shape_str(x, sx, sizeof sx));
    return NULL;
  }
  prior_adaptive_pool_kernel k = (prior_adaptive_pool_kernel)prior_op_kernel(op, "adaptive_avg_pool2d_forward", x);
  if (!k) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *out = xc ? new_map(x, out_h, out_w, (prior_dtype)x->dtype) : NULL;
  if (out && k(out, xc) == PRIOR_OK) {
    out = attach(op, adaptive_backward, x, out, NULL, NULL, NULL, x->shape, 4);
  } else {
    prior_tensor_free(out);
    out = NULL;
  }
  prior_tensor_free(xc);
  return out;
}
