/* F.interpolate for [N, C, H, W] maps (nearest, bilinear with or without align_corners): argument checks,
 * output shape, autograd. The kernels take a contiguous input; a strided one is copied first. */
#include "backend/kernels_dense.h"
#include "ops/op_util.h"
#include "prior/ops_pool.h"

static prior_status interp_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_interpolate_kernel k =
      (prior_interpolate_kernel)prior_op_kernel("interpolate backward", "interpolate_backward", g);
  prior_tensor *gc = k ? prior_tensor_contiguous_raw(g) : NULL;
  int64_t shape[4] = {node->ints[0], node->ints[1], node->ints[2], node->ints[3]};
  gi[0] = gc ? prior_tensor_empty(4, shape, (prior_dtype)g->dtype, g->device) : NULL;
  prior_status s = gi[0] ? k(gi[0], gc, (int)node->ints[4], (int)node->ints[5]) : prior_error_code();
  prior_tensor_free(gc);
  return s;
}

prior_tensor *prior_interpolate(prior_tensor *x, int64_t out_h, int64_t out_w, prior_interp_mode mode,
                                int align_corners) {
  const char *op = "interpolate";
  if (prior_check_tensor(op, "input", x) != PRIOR_OK || prior_check_floating(op, "input", x) != PRIOR_OK ||
      prior_check_ndim(op, "input", x, 4) != PRIOR_OK)
    return NULL;
  if (mode != PRIOR_INTERP_NEAREST && mode != PRIOR_INTERP_BILINEAR) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: unknown mode %d (nearest = 0, bilinear = 1)", op, (int)mode);
    return NULL;
  }
  if (mode == PRIOR_INTERP_NEAREST && align_corners) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: align_corners applies to bilinear mode only", op);
    return NULL;
  }
  if (out_h < 1 || out_w < 1 || x->shape[2] < 1 || x->shape[3] < 1) {
    char sx[96];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: output size (%lld, %lld) and input %s's spatial dims must be >= 1", op,
                    (long long)out_h, (long long)out_w, prior_tensor_shape_str(x, sx, sizeof sx));
    return NULL;
  }
  prior_interpolate_kernel k = (prior_interpolate_kernel)prior_op_kernel(op, "interpolate_forward", x);
  if (!k) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  int64_t shape[4] = {x->shape[0], x->shape[1], out_h, out_w};
  prior_tensor *out = xc ? prior_tensor_empty(4, shape, (prior_dtype)x->dtype, x->device) : NULL;
  int align = align_corners != 0;
  if (out && k(out, xc, (int)mode, align) != PRIOR_OK) {
    prior_tensor_free(out);
    out = NULL;
  }
  if (out && prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new(op, interp_backward, 1, &x);
    if (!node) {
      prior_tensor_free(out);
      out = NULL;
    } else {
      for (int d = 0; d < 4; d++) node->ints[d] = x->shape[d];
      node->ints[4] = (int64_t)mode, node->ints[5] = align;
      prior_node_attach(node, out);
    }
  }
  prior_tensor_free(xc);
  return out;
}
