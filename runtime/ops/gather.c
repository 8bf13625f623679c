/* gather and scatter_add along a dim (each the other's backward), and masked_fill. Index values are checked
 * against the dim's size before any kernel runs, so a bad index is an error naming the value. */
#include <stdio.h>

#include "backend/kernels_nn.h"
#include "ops/index_util.h"
#include "ops/op_util.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_index.h"
#include "prior/ops_reduce.h"

/* index must have x's rank and fit inside `bound` (x's shape, except along dim when skip_dim). */
static prior_status check_index_shape(const char *op, const char *arg, const prior_tensor *index,
                                      const prior_tensor *bound, int dim, int skip_dim) {
  int ok = index->ndim == bound->ndim;
  for (int d = 0; ok && d < index->ndim; d++)
    if (!(skip_dim && d == dim)) ok = index->shape[d] <= bound->shape[d];
  if (!ok) {
    char a[128], b[128];
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: index of shape %s does not fit %s of shape %s%s", op,
                           prior_tensor_shape_str(index, a, sizeof a), arg, prior_tensor_shape_str(bound, b, sizeof b),
                           skip_dim ? " (outside dim)" : "");
  }
  return PRIOR_OK;
}

/* out = gather(x, dim, index) without autograd; index already validated and contiguous. */
static prior_tensor *gather_raw(const char *op, prior_tensor *x, int dim, prior_tensor *index) {
  prior_gather_kernel k = (prior_gather_kernel)prior_op_kernel(op, "gather", x);
  if (!k) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *out = xc ? prior_tensor_empty(index->ndim, index->shape, (prior_dtype)x->dtype, x->device) : NULL;
  prior_status s = out ? k(out, xc, dim, index) : prior_error_code();
  prior_tensor_free(xc);
  if (s != PRIOR_OK) return prior_tensor_free(out), NULL;
  return out;
}

/* A contiguous copy of base with src added at index along dim, without autograd. */
static prior_tensor *scatter_add_raw(const char *op, prior_tensor *base, int dim, prior_tensor *index, prior_tensor *src) {
  prior_scatter_add_kernel k = (prior_scatter_add_kernel)prior_op_kernel(op, "scatter_add", base);
  if (!k) return NULL;
  prior_tensor *acc = prior_tensor_clone_raw(base);
  prior_tensor *sc = acc ? prior_tensor_contiguous_raw(src) : NULL;
  prior_status s = sc ? k(acc, dim, index, sc) : prior_error_code();
  prior_tensor_free(sc);
  if (s != PRIOR_OK) return prior_tensor_free(acc), NULL;
  return acc;
}

static prior_status index_arg(const char *op, prior_tensor *x, int64_t dim, prior_tensor *index, int *d,
                              prior_tensor **ic) {
  PRIOR_TRY(prior_check_tensor(op, "input", x));
  PRIOR_TRY(prior_check_tensor(op, "index", index));
  PRIOR_TRY(prior_check_same_device(op, x, index));
  if (x->ndim == 0) return prior_error_set(PRIOR_ERR_SHAPE, "%s: input is 0-dimensional", op);
  PRIOR_TRY(prior_normalize_dim(op, dim, x->ndim, d));
  char what[96];
  snprintf(what, sizeof what, "dim %d of size %lld", *d, (long long)x->shape[*d]);
  PRIOR_TRY(prior_check_index_values(op, index, x->shape[*d], what));
  *ic = prior_tensor_contiguous_raw(index);
  return *ic ? PRIOR_OK : prior_error_code();
}

/* gather: saved index; ints [0] dim, [1] x ndim, [2..9] x shape */
static prior_status gather_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  int dim = (int)node->ints[0], ndim = (int)node->ints[1];
  prior_tensor *zeros = prior_tensor_zeros(ndim, &node->ints[2], (prior_dtype)g->dtype, g->device);
  if (!zeros) return prior_error_code();
  gi[0] = scatter_add_raw("gather backward", zeros, dim, node->saved[0], g);
  prior_tensor_free(zeros);
  return gi[0] ? PRIOR_OK : prior_error_code();
}

prior_tensor *prior_gather(prior_tensor *x, int64_t dim, prior_tensor *index) {
  const char *op = "gather";
  int d;
  prior_tensor *ic = NULL;
  if (index_arg(op, x, dim, index, &d, &ic) != PRIOR_OK) return NULL;
  if (check_index_shape(op, "input", ic, x, d, 1) != PRIOR_OK) return prior_tensor_free(ic), NULL;
  prior_tensor *out = gather_raw(op, x, d, ic);
  if (out && prior_autograd_needed(1, &x) && prior_dtype_is_floating(x->dtype)) {
    prior_node *node = prior_node_new(op, gather_backward, 1, &x);
    if (!node || prior_node_save(node, ic) < 0) {
      prior_node_release(node);
      prior_free_all(2, out, ic);
      return NULL;
    }
    node->ints[0] = d;
    node->ints[1] = x->ndim;
    for (int i = 0; i < x->ndim; i++) node->ints[2 + i] = x->shape[i];
    prior_node_attach(node, out);
  }
  prior_tensor_free(ic);
  return out;
}

/* scatter_add: inputs x, src; saved index; ints [0] dim, [1] src ndim, [2..9] src shape */
static prior_status scatter_add_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *index = node->saved[0];
  int dim = (int)node->ints[0], ndim = (int)node->ints[1];
  const int64_t *sshape = &node->ints[2];
  if (node->needs_grad[0]) gi[0] = prior_tensor_retain(g);
  if (!node->needs_grad[1]) return PRIOR_OK;
  prior_tensor *picked = gather_raw("scatter_add backward", g, dim, index);
  if (!picked) return prior_error_code();
  int same = 1;
  for (int d = 0; d < ndim; d++) same = same && sshape[d] == index->shape[d];
  if (same) {
    gi[1] = picked;
    return PRIOR_OK;
  }
  /* src larger than index: its other elements got no gradient */
  prior_tensor *z = prior_tensor_zeros(ndim, sshape, (prior_dtype)g->dtype, g->device);
  prior_tensor *region = z ? prior_tensor_as_strided(z, ndim, index->shape, z->strides, 0) : NULL;
  prior_status s = region ? prior_tensor_copy_(region, picked) : prior_error_code();
  prior_free_all(2, region, picked);
  if (s != PRIOR_OK) return prior_tensor_free(z), s;
  gi[1] = z;
  return PRIOR_OK;
}

prior_tensor *prior_scatter_add(prior_tensor *x, int64_t dim, prior_tensor *index, prior_tensor *src) {
  const char *op = "scatter_add";
  int d;
  prior_tensor *ic = NULL;
  if (prior_check_floating(op, "input", x) || prior_check_tensor(op, "src", src) ||
      prior_check_same_dtype(op, x, src) || prior_check_same_device(op, x, src))
    return NULL;
  if (index_arg(op, x, dim, index, &d, &ic) != PRIOR_OK) return NULL;
  if (check_index_shape(op, "input", ic, x, d, 1) || check_index_shape(op, "src", ic, src, d, 0))
    return prior_tensor_free(ic), NULL;
  prior_tensor *out = scatter_add_raw(op, x, d, ic, src);
  prior_tensor *in[2] = {x, src};
  if (out && prior_autograd_needed(2, in)) {
    prior_node *node = prior_node_new(op, scatter_add_backward, 2, in);
    if (!node || prior_node_save(node, ic) < 0) {
      prior_node_release(node);
      prior_free_all(2, out, ic);
      return NULL;
    }
    node->ints[0] = d;
    node->ints[1] = src->ndim;
    for (int i = 0; i < src->ndim; i++) node->ints[2 + i] = src->shape[i];
    prior_node_attach(node, out);
  }
  prior_tensor_free(ic);
  return out;
}

/* where(mask, value, x): the gradient of x is zero where filled, through where's own backward. */
prior_tensor *prior_masked_fill(prior_tensor *x, prior_tensor *mask, double value) {
  const char *op = "masked_fill";
  if (prior_check_tensor(op, "input", x) || prior_check_tensor(op, "mask", mask) ||
      prior_check_same_device(op, x, mask))
    return NULL;
  if (mask->dtype != PRIOR_BOOL && mask->dtype != PRIOR_U8) {
    prior_error_set(PRIOR_ERR_DTYPE, "masked_fill: mask must be bool or u8, got %s", prior_dtype_name(mask->dtype));
    return NULL;
  }
  int ndim;
  int64_t shape[PRIOR_MAX_DIMS];
  if (prior_broadcast_shapes(op, x->ndim, x->shape, mask->ndim, mask->shape, &ndim, shape) != PRIOR_OK) return NULL;
  int same = ndim == x->ndim;
  for (int d = 0; same && d < ndim; d++) same = shape[d] == x->shape[d];
  if (!same) {
    char a[128], b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "masked_fill: mask of shape %s does not broadcast to input %s",
                    prior_tensor_shape_str(mask, a, sizeof a), prior_tensor_shape_str(x, b, sizeof b));
    return NULL;
  }
  prior_tensor *v = prior_tensor_scalar(value, (prior_dtype)x->dtype, x->device);
  prior_tensor *out = v ? prior_where(mask, v, x) : NULL;
  prior_tensor_free(v);
  return out;
}
