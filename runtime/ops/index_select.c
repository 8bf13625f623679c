/* index_select and embedding: picking rows of x along a dim by an index, a gather of whole [inner] rows.
 * The backward is a scatter-add of gradient rows (kernel "index_add"), race-free under OpenMP because the
 * kernel splits work by column, not by index position. */
#include <stdio.h>

#include "backend/kernels_nn.h"
#include "ops/index_util.h"
#include "ops/op_util.h"
#include "prior/ops_index.h"
#include "prior/ops_nn.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

prior_status prior_check_index_values(const char *op, const prior_tensor *index, int64_t size, const char *what) {
  PRIOR_TRY(prior_check_tensor(op, "index", index));
  if (index->dtype != PRIOR_I64 && index->dtype != PRIOR_I32)
    return prior_error_set(PRIOR_ERR_DTYPE, "%s: index must be i64 or i32, got %s", op, prior_dtype_name(index->dtype));
  if (size < 0) return PRIOR_OK;
  prior_tensor *host = index->device.type == PRIOR_DEVICE_CPU ? prior_tensor_contiguous_raw(index)
                                                              : prior_tensor_to_device(index, prior_cpu());
  prior_tensor *hc = host ? prior_tensor_contiguous_raw(host) : NULL;
  prior_tensor_free(host);
  if (!hc) return prior_error_code();
  int64_t n = prior_tensor_numel(hc);
  const void *p = prior_tensor_data(hc);
  prior_status s = PRIOR_OK;
  for (int64_t i = 0; i < n; i++) {
    int64_t v = hc->dtype == PRIOR_I64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
    if (v < 0 || v >= size) {
      s = prior_error_set(PRIOR_ERR_INDEX, "%s: index %lld is out of range for %s", op, (long long)v, what);
      break;
    }
  }
  prior_tensor_free(hc);
  return s;
}

static void outer_inner(const int64_t *shape, int ndim, int dim, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < dim; d++) *outer *= shape[d];
  for (int d = dim + 1; d < ndim; d++) *inner *= shape[d];
}

/* saved: index; ints: [0] dim, [1] skip, [2] x ndim, [3..10] x shape */
static prior_status index_rows_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *index = node->saved[0];
  int dim = (int)node->ints[0], ndim = (int)node->ints[2];
  const int64_t *shape = &node->ints[3];
  prior_index_add_kernel k = (prior_index_add_kernel)prior_op_kernel(node->name, "index_add", g);
  if (!k) return prior_error_code();
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  prior_tensor *acc = gc ? prior_tensor_zeros(ndim, shape, (prior_dtype)g->dtype, g->device) : NULL;
  if (!acc) return prior_tensor_free(gc), prior_error_code();
  int64_t outer, inner;
  outer_inner(shape, ndim, dim, &outer, &inner);
  prior_status s = k(acc, gc, index, outer, shape[dim], inner, node->ints[1]);
  prior_tensor_free(gc);
  if (s != PRIOR_OK) return prior_tensor_free(acc), s;
  gi[0] = acc;
  return PRIOR_OK;
}

prior_tensor *prior_index_rows(const char *op, prior_tensor *x, int dim, prior_tensor *index, int64_t skip) {
  prior_index_select_kernel k = (prior_index_select_kernel)prior_op_kernel(op, "index_select", x);
  if (!k) return NULL;
  int64_t shape[PRIOR_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
  shape[dim] = prior_tensor_numel(index);
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  prior_tensor *out = xc ? prior_tensor_empty(x->ndim, shape, (prior_dtype)x->dtype, x->device) : NULL;
  if (!out) return prior_tensor_free(xc), NULL;
  int64_t outer, inner;
  outer_inner(x->shape, x->ndim, dim, &outer, &inner);
  prior_status s = k(out, xc, index, outer, x->shape[dim], inner);
  prior_tensor_free(xc);
  if (s != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    return NULL;
  }
  if (prior_autograd_needed(1, &x) && prior_dtype_is_floating(x->dtype)) {
    prior_node *node = prior_node_new(op, index_rows_backward, 1, &x);
    if (!node || prior_node_save(node, index) < 0) {
      prior_node_release(node);
      prior_tensor_free(out);
      return NULL;
    }
    node->ints[0] = dim;
    node->ints[1] = skip;
    node->ints[2] = x->ndim;
    for (int d = 0; d < x->ndim; d++) node->ints[3 + d] = x->shape[d];
    prior_node_attach(node, out);
  }
  return out;
}

prior_tensor *prior_index_select(prior_tensor *x, int64_t dim, prior_tensor *index) {
  const char *op = "index_select";
  if (prior_check_tensor(op, "input", x) || prior_check_tensor(op, "index", index)) return NULL;
  int d;
  if (x->ndim == 0) {
    prior_error_set(PRIOR_ERR_SHAPE, "index_select: input is 0-dimensional");
    return NULL;
  }
  if (prior_normalize_dim(op, dim, x->ndim, &d) != PRIOR_OK) return NULL;
  if (index->ndim > 1) {
    char b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "index_select: index must be 1-D, got shape %s",
                    prior_tensor_shape_str(index, b, sizeof b));
    return NULL;
  }
  char what[96];
  snprintf(what, sizeof what, "dim %d of size %lld", d, (long long)x->shape[d]);
  if (prior_check_same_device(op, x, index) || prior_check_index_values(op, index, x->shape[d], what)) return NULL;
  prior_tensor *ic = prior_tensor_contiguous_raw(index);
  prior_tensor *out = ic ? prior_index_rows(op, x, d, ic, -1) : NULL;
  prior_tensor_free(ic);
  return out;
}

prior_tensor *prior_embedding(prior_tensor *weight, prior_tensor *indices, int64_t padding_idx) {
  const char *op = "embedding";
  if (prior_check_floating(op, "weight", weight) || prior_check_tensor(op, "indices", indices)) return NULL;
  if (weight->ndim != 2) {
    char b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "embedding: weight must be [V, D], got %s", prior_tensor_shape_str(weight, b, sizeof b));
    return NULL;
  }
  int64_t v = weight->shape[0], dsz = weight->shape[1];
  if (padding_idx >= v) {
    prior_error_set(PRIOR_ERR_INDEX, "embedding: padding_idx %lld is out of range for V = %lld rows",
                    (long long)padding_idx, (long long)v);
    return NULL;
  }
  if (indices->ndim + 1 > PRIOR_MAX_DIMS) {
    prior_error_set(PRIOR_ERR_SHAPE, "embedding: indices have %d dims; at most %d", indices->ndim, PRIOR_MAX_DIMS - 1);
    return NULL;
  }
  char what[96];
  snprintf(what, sizeof what, "V = %lld rows", (long long)v);
  if (prior_check_same_device(op, weight, indices) || prior_check_index_values(op, indices, v, what)) return NULL;
  prior_tensor *ic = prior_tensor_contiguous_raw(indices);
  prior_tensor *rows = ic ? prior_index_rows(op, weight, 0, ic, padding_idx < 0 ? -1 : padding_idx) : NULL;
  prior_tensor_free(ic);
  if (!rows) return NULL;
  int64_t shape[PRIOR_MAX_DIMS];
  for (int d = 0; d < indices->ndim; d++) shape[d] = indices->shape[d];
  shape[indices->ndim] = dsz;
  prior_tensor *out = prior_reshape(rows, indices->ndim + 1, shape);
  prior_tensor_free(rows);
  return out;
}
