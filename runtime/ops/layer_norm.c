/* layer_norm over the last n dims: one fused forward kernel (keeping per-row mean and 1/std) and one fused
 * backward kernel for dx, dweight and dbias. x is made contiguous and viewed as [rows, d]. */
#include <string.h>

#include "backend/kernels_nn.h"
#include "ops/op_util.h"
#include "prior/ops_norm.h"

/* inputs: x, weight, bias (weight/bias may be NULL); saved: x (contiguous), mean, rstd, weight;
 * ints: [0] rows, [1] d. */
static prior_status layer_norm_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *x = node->saved[0], *mean = node->saved[1], *rstd = node->saved[2];
  prior_tensor *w = node->ints[2] ? node->saved[3] : NULL;
  int64_t rows = node->ints[0], d = node->ints[1];
  prior_layer_norm_backward_kernel k =
      (prior_layer_norm_backward_kernel)prior_op_kernel("layer_norm backward", "layer_norm_backward", x);
  if (!k) return prior_error_code();
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  if (!gc) return prior_error_code();
  prior_dtype dt = (prior_dtype)x->dtype;
  int nw = node->n_inputs > 1 ? (int)node->ints[3] : 0; /* ndim of weight/bias */
  const int64_t *wshape = &x->shape[x->ndim - nw];
  prior_tensor *dx = node->needs_grad[0] ? prior_tensor_empty(x->ndim, x->shape, dt, x->device) : NULL;
  prior_tensor *dw = node->n_inputs > 1 && node->needs_grad[1] ? prior_tensor_empty(nw, wshape, dt, x->device) : NULL;
  prior_tensor *db = node->n_inputs > 2 && node->needs_grad[2] ? prior_tensor_empty(nw, wshape, dt, x->device) : NULL;
  prior_status s = PRIOR_OK;
  if ((node->needs_grad[0] && !dx) || (node->n_inputs > 1 && node->needs_grad[1] && !dw) ||
      (node->n_inputs > 2 && node->needs_grad[2] && !db))
    s = prior_error_code();
  else
    s = k(dx, dw, db, gc, x, mean, rstd, w, rows, d);
  prior_tensor_free(gc);
  if (s != PRIOR_OK) return prior_free_all(3, dx, dw, db), s;
  gi[0] = dx;
  if (node->n_inputs > 1) gi[1] = dw;
  if (node->n_inputs > 2) gi[2] = db;
  return PRIOR_OK;
}

static prior_status check_affine(const char *arg, const prior_tensor *p, const prior_tensor *x, int n) {
  const char *op = "layer_norm";
  PRIOR_TRY(prior_check_floating(op, arg, p));
  PRIOR_TRY(prior_check_same_dtype(op, x, p));
  PRIOR_TRY(prior_check_same_device(op, x, p));
  int ok = p->ndim == n;
  for (int i = 0; ok && i < n; i++) ok = p->shape[i] == x->shape[x->ndim - n + i];
  if (!ok) {
    char a[128], b[128];
    return prior_error_set(PRIOR_ERR_SHAPE, "layer_norm: %s has shape %s; expected the last %d dims of input %s", arg,
                           prior_tensor_shape_str(p, a, sizeof a), n, prior_tensor_shape_str(x, b, sizeof b));
  }
  return PRIOR_OK;
}

prior_tensor *prior_layer_norm(prior_tensor *x, int n_normalized, prior_tensor *weight, prior_tensor *bias, double eps) {
  const char *op = "layer_norm";
  if (prior_check_floating(op, "input", x)) return NULL;
  if (n_normalized < 1 || n_normalized > x->ndim) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "layer_norm: cannot normalise over the last %d dims of a %d-dim input",
                    n_normalized, x->ndim);
    return NULL;
  }
  if (!(eps >= 0)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "layer_norm: eps %g must be >= 0", eps);
    return NULL;
  }
  if ((weight && check_affine("weight", weight, x, n_normalized)) || (bias && check_affine("bias", bias, x, n_normalized)))
    return NULL;
  int64_t d = 1, rows = 1;
  for (int i = 0; i < x->ndim; i++) {
    if (i < x->ndim - n_normalized) rows *= x->shape[i];
    else d *= x->shape[i];
  }
  prior_layer_norm_kernel k = (prior_layer_norm_kernel)prior_op_kernel(op, "layer_norm", x);
  if (!k) return NULL;
  prior_dtype dt = (prior_dtype)x->dtype;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *wc = weight ? prior_tensor_contiguous_raw(weight) : NULL;
  prior_tensor *bc = bias ? prior_tensor_contiguous_raw(bias) : NULL;
  prior_tensor *y = prior_tensor_empty(x->ndim, x->shape, dt, x->device);
  prior_tensor *mean = prior_tensor_empty(1, &rows, dt, x->device), *rstd = prior_tensor_empty(1, &rows, dt, x->device);
  prior_status s = xc && y && mean && rstd && (!weight || wc) && (!bias || bc) ? PRIOR_OK : prior_error_code();
  if (s == PRIOR_OK) s = k(y, mean, rstd, xc, wc, bc, rows, d, eps);
  prior_tensor *in[3] = {x, weight, bias};
  int n_in = bias ? 3 : weight ? 2 : 1;
  if (s == PRIOR_OK && prior_autograd_needed(n_in, in)) {
    prior_node *node = prior_node_new(op, layer_norm_backward, n_in, in);
    int ok = node && prior_node_save(node, xc) == 0 && prior_node_save(node, mean) == 1 &&
             prior_node_save(node, rstd) == 2 && (!wc || prior_node_save(node, wc) == 3);
    if (!ok) {
      prior_node_release(node);
      s = prior_error_code();
    } else {
      node->ints[0] = rows;
      node->ints[1] = d;
      node->ints[2] = wc != NULL;
      node->ints[3] = n_normalized;
      prior_node_attach(node, y);
    }
  }
  prior_free_all(5, xc, wc, bc, mean, rstd);
  if (s != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(y);
    return NULL;
  }
  return y;
}
