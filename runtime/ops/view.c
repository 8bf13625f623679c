/* View ops with autograd. Every view node stores the input's shape (ints[0] = ndim, ints[1..8] = shape)
 * and the view's parameters after it. */
#include <string.h>

#include "ops/op_util.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

enum { VIEW_RESHAPE, VIEW_PERMUTE, VIEW_NARROW, VIEW_EXPAND, VIEW_COPY };
#define P(node) (&(node)->ints[9]) /* the view's parameters */

static prior_tensor *strided_copy_into_zeros(prior_tensor *g, int ndim, const int64_t *shape, int dim, int64_t start) {
  prior_tensor *z = prior_tensor_zeros(ndim, shape, (prior_dtype)g->dtype, g->device);
  if (!z) return NULL;
  int64_t vshape[PRIOR_MAX_DIMS];
  memcpy(vshape, shape, sizeof(int64_t) * (size_t)ndim);
  vshape[dim] = g->ndim == ndim ? g->shape[dim] : 1;
  prior_tensor *region = prior_tensor_as_strided(z, ndim, vshape, z->strides, start * z->strides[dim]);
  /* g may lack the dim (select): view it with a size-1 dim there */
  prior_tensor *src = g;
  if (g->ndim != ndim) {
    prior_tensor *gc = prior_tensor_contiguous_raw(g);
    int64_t st[PRIOR_MAX_DIMS], s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
      st[d] = s;
      s *= vshape[d];
    }
    src = gc ? prior_tensor_as_strided(gc, ndim, vshape, st, gc->offset) : NULL;
    prior_tensor_free(gc);
  }
  prior_status s = (region && src) ? prior_tensor_copy_(region, src) : prior_error_code();
  prior_tensor_free(region);
  if (src != g) prior_tensor_free(src);
  if (s != PRIOR_OK) {
    prior_tensor_free(z);
    return NULL;
  }
  return z;
}

static prior_status view_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  int ndim = (int)node->ints[0];
  const int64_t *shape = &node->ints[1];
  const int64_t *p = P(node);
  switch (node->ints[17]) { /* the view kind */
    case VIEW_RESHAPE:
      gi[0] = prior_reshape(g, ndim, shape);
      break;
    case VIEW_PERMUTE: {
      int64_t inverse[PRIOR_MAX_DIMS];
      for (int d = 0; d < ndim; d++) inverse[p[d]] = d;
      gi[0] = prior_permute(g, ndim, inverse);
      break;
    }
    case VIEW_NARROW: gi[0] = strided_copy_into_zeros(g, ndim, shape, (int)p[0], p[1]); break;
    case VIEW_EXPAND: gi[0] = prior_sum_to_shape(g, ndim, shape); break;
    case VIEW_COPY: gi[0] = prior_tensor_retain(g); break;
  }
  return gi[0] ? PRIOR_OK : prior_error_code();
}

/* Records a view node for out (a view or copy of x), with `n_params` parameters. */
static prior_tensor *record(const char *name, prior_tensor *x, prior_tensor *out, int kind, int n_params,
                            const int64_t *params) {
  if (!out || !prior_autograd_needed(1, &x)) return out;
  prior_node *node = prior_node_new(name, view_backward, 1, &x);
  if (!node) {
    prior_tensor_free(out);
    return NULL;
  }
  node->ints[0] = x->ndim;
  for (int d = 0; d < x->ndim; d++) node->ints[1 + d] = x->shape[d];
  for (int i = 0; i < n_params && i < 8; i++) P(node)[i] = params[i];
  node->ints[17] = kind;
  prior_node_attach(node, out);
  return out;
}

/* ---- reshape ------------------------------------------------------------------------------------------ */

static prior_status infer_shape(const char *op, const prior_tensor *x, int ndim, const int64_t *shape, int64_t *out) {
  if (ndim < 0 || ndim > PRIOR_MAX_DIMS)
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: %d dimensions (at most %d)", op, ndim, PRIOR_MAX_DIMS);
  int infer = -1;
  int64_t known = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == -1) {
      if (infer >= 0) return prior_error_set(PRIOR_ERR_SHAPE, "%s: more than one -1 in the shape", op);
      infer = d;
    } else if (shape[d] < 0) {
      return prior_error_set(PRIOR_ERR_SHAPE, "%s: negative size %lld", op, (long long)shape[d]);
    } else {
      known *= shape[d];
    }
    out[d] = shape[d];
  }
  int64_t numel = prior_tensor_numel(x);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) goto mismatch;
    out[infer] = numel / known;
  } else if (known != numel) {
    goto mismatch;
  }
  return PRIOR_OK;
mismatch : {
  char a[128], b[128];
  return prior_error_set(PRIOR_ERR_SHAPE, "%s: cannot reshape a tensor of shape %s (%lld elements) to %s", op,
                         prior_tensor_shape_str(x, a, sizeof a), (long long)numel,
                         prior_shape_str(b, sizeof b, ndim, (const long long *)shape));
}
}

/* Strides for viewing x with `shape` without copying, if possible (PyTorch's computeStride rule). */
static int view_strides(const prior_tensor *x, int ndim, const int64_t *shape, int64_t *strides) {
  if (prior_tensor_numel(x) == 0 || prior_tensor_is_contiguous(x)) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
      strides[d] = s;
      s *= shape[d] > 0 ? shape[d] : 1;
    }
    return 1;
  }
  int view_d = ndim - 1;
  int64_t chunk_base_stride = x->ndim ? x->strides[x->ndim - 1] : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int td = x->ndim - 1; td >= 0; td--) {
    tensor_numel *= x->shape[td];
    if (td == 0 || (x->shape[td - 1] != 1 && x->strides[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return 0;
      if (td > 0) {
        chunk_base_stride = x->strides[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

prior_tensor *prior_view(prior_tensor *x, int ndim, const int64_t *shape) {
  if (prior_check_tensor("view", "input", x) != PRIOR_OK) return NULL;
  int64_t full[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS];
  if (infer_shape("view", x, ndim, shape, full) != PRIOR_OK) return NULL;
  if (!view_strides(x, ndim, full, strides)) {
    char a[128], b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "view: a tensor of shape %s with these strides cannot be viewed as %s; use reshape",
                    prior_tensor_shape_str(x, a, sizeof a), prior_shape_str(b, sizeof b, ndim, (const long long *)full));
    return NULL;
  }
  return record("view", x, prior_tensor_as_strided(x, ndim, full, strides, x->offset), VIEW_RESHAPE, 0, NULL);
}

prior_tensor *prior_reshape(prior_tensor *x, int ndim, const int64_t *shape) {
  if (prior_check_tensor("reshape", "input", x) != PRIOR_OK) return NULL;
  int64_t full[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS];
  if (infer_shape("reshape", x, ndim, shape, full) != PRIOR_OK) return NULL;
  prior_tensor *out;
  if (view_strides(x, ndim, full, strides)) {
    out = prior_tensor_as_strided(x, ndim, full, strides, x->offset);
  } else {
    prior_tensor *c = prior_tensor_clone_raw(x);
    if (!c) return NULL;
    view_strides(c, ndim, full, strides);
    out = prior_tensor_as_strided(c, ndim, full, strides, 0);
    prior_tensor_free(c);
  }
  return record("reshape", x, out, VIEW_RESHAPE, 0, NULL);
}

prior_tensor *prior_flatten(prior_tensor *x, int64_t start_dim, int64_t end_dim) {
  if (prior_check_tensor("flatten", "input", x) != PRIOR_OK) return NULL;
  if (x->ndim == 0) {
    int64_t one = 1;
    return prior_reshape(x, 1, &one);
  }
  int s, e;
  if (prior_normalize_dim("flatten", start_dim, x->ndim, &s) || prior_normalize_dim("flatten", end_dim, x->ndim, &e))
    return NULL;
  if (s > e) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "flatten: start_dim %d after end_dim %d", s, e);
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS];
  int n = 0;
  for (int d = 0; d < s; d++) shape[n++] = x->shape[d];
  int64_t merged = 1;
  for (int d = s; d <= e; d++) merged *= x->shape[d];
  shape[n++] = merged;
  for (int d = e + 1; d < x->ndim; d++) shape[n++] = x->shape[d];
  return prior_reshape(x, n, shape);
}

/* ---- permute / transpose -------------------------------------------------------------------------------- */

prior_tensor *prior_permute(prior_tensor *x, int ndim, const int64_t *order) {
  if (prior_check_tensor("permute", "input", x) != PRIOR_OK) return NULL;
  if (ndim != x->ndim) {
    prior_error_set(PRIOR_ERR_SHAPE, "permute: %d dims given for a tensor with %d", ndim, x->ndim);
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS], norm[PRIOR_MAX_DIMS];
  uint32_t seen = 0;
  for (int d = 0; d < ndim; d++) {
    int src;
    if (prior_normalize_dim("permute", order[d], ndim, &src) != PRIOR_OK) return NULL;
    if (seen & (1u << src)) {
      prior_error_set(PRIOR_ERR_ARGUMENT, "permute: dim %d appears twice", src);
      return NULL;
    }
    seen |= 1u << src;
    norm[d] = src;
    shape[d] = x->shape[src];
    strides[d] = x->strides[src];
  }
  return record("permute", x, prior_tensor_as_strided(x, ndim, shape, strides, x->offset), VIEW_PERMUTE, ndim, norm);
}

prior_tensor *prior_transpose(prior_tensor *x, int64_t dim0, int64_t dim1) {
  if (prior_check_tensor("transpose", "input", x) != PRIOR_OK) return NULL;
  int a, b;
  if (prior_normalize_dim("transpose", dim0, x->ndim, &a) || prior_normalize_dim("transpose", dim1, x->ndim, &b))
    return NULL;
  int64_t order[PRIOR_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) order[d] = d;
  order[a] = b;
  order[b] = a;
  return prior_permute(x, x->ndim, order);
}

/* ---- narrow / select ------------------------------------------------------------------------------------- */

prior_tensor *prior_narrow(prior_tensor *x, int64_t dim, int64_t start, int64_t length) {
  if (prior_check_tensor("narrow", "input", x) != PRIOR_OK) return NULL;
  int d;
  if (prior_normalize_dim("narrow", dim, x->ndim, &d) != PRIOR_OK) return NULL;
  if (start < 0) start += x->shape[d];
  if (start < 0 || length < 0 || start + length > x->shape[d]) {
    char a[128];
    prior_error_set(PRIOR_ERR_INDEX, "narrow: range [%lld, %lld) out of bounds for dim %d of shape %s", (long long)start,
                    (long long)(start + length), d, prior_tensor_shape_str(x, a, sizeof a));
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[d] = length;
  int64_t params[2] = {d, start};
  return record("narrow", x, prior_tensor_as_strided(x, x->ndim, shape, x->strides, x->offset + start * x->strides[d]),
                VIEW_NARROW, 2, params);
}

prior_tensor *prior_select(prior_tensor *x, int64_t dim, int64_t index) {
  if (prior_check_tensor("select", "input", x) != PRIOR_OK) return NULL;
  int d;
  if (prior_normalize_dim("select", dim, x->ndim, &d) != PRIOR_OK) return NULL;
  if (index < 0) index += x->shape[d];
  if (index < 0 || index >= x->shape[d]) {
    char a[128];
    prior_error_set(PRIOR_ERR_INDEX, "select: index %lld out of range for dim %d of shape %s", (long long)index, d,
                    prior_tensor_shape_str(x, a, sizeof a));
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < x->ndim; i++)
    if (i != d) shape[n] = x->shape[i], strides[n++] = x->strides[i];
  int64_t params[2] = {d, index};
  return record("select", x, prior_tensor_as_strided(x, n, shape, strides, x->offset + index * x->strides[d]),
                VIEW_NARROW, 2, params);
}

/* ---- expand / squeeze / unsqueeze ---------------------------------------------------------------------- */

prior_tensor *prior_expand(prior_tensor *x, int ndim, const int64_t *shape) {
  if (prior_check_tensor("expand", "input", x) != PRIOR_OK) return NULL;
  if (ndim < x->ndim || ndim > PRIOR_MAX_DIMS) {
    prior_error_set(PRIOR_ERR_SHAPE, "expand: %d target dims for a tensor with %d", ndim, x->ndim);
    return NULL;
  }
  int64_t full[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS];
  int lead = ndim - x->ndim;
  for (int d = 0; d < ndim; d++) {
    int64_t src = d >= lead ? x->shape[d - lead] : 1;
    full[d] = shape[d] == -1 ? src : shape[d];
    if (d < lead && shape[d] == -1) {
      prior_error_set(PRIOR_ERR_SHAPE, "expand: -1 is not allowed for a new leading dim");
      return NULL;
    }
    if (src == full[d]) {
      strides[d] = d >= lead ? x->strides[d - lead] : 0;
    } else if (src == 1) {
      strides[d] = 0;
    } else {
      char a[128], b[128];
      prior_error_set(PRIOR_ERR_SHAPE, "expand: cannot expand shape %s to %s (dim %d: %lld)",
                      prior_tensor_shape_str(x, a, sizeof a), prior_shape_str(b, sizeof b, ndim, (const long long *)shape),
                      d, (long long)src);
      return NULL;
    }
  }
  return record("expand", x, prior_tensor_as_strided(x, ndim, full, strides, x->offset), VIEW_EXPAND, 0, NULL);
}

prior_tensor *prior_squeeze(prior_tensor *x, int64_t dim) {
  if (prior_check_tensor("squeeze", "input", x) != PRIOR_OK) return NULL;
  int d;
  if (prior_normalize_dim("squeeze", dim, x->ndim, &d) != PRIOR_OK) return NULL;
  if (x->shape[d] != 1) {
    char a[128];
    prior_error_set(PRIOR_ERR_SHAPE, "squeeze: dim %d of shape %s has size %lld, not 1", d,
                    prior_tensor_shape_str(x, a, sizeof a), (long long)x->shape[d]);
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < x->ndim; i++)
    if (i != d) shape[n++] = x->shape[i];
  return prior_reshape(x, n, shape);
}

prior_tensor *prior_squeeze_all(prior_tensor *x) {
  if (prior_check_tensor("squeeze", "input", x) != PRIOR_OK) return NULL;
  int64_t shape[PRIOR_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < x->ndim; i++)
    if (x->shape[i] != 1) shape[n++] = x->shape[i];
  return prior_reshape(x, n, shape);
}

prior_tensor *prior_unsqueeze(prior_tensor *x, int64_t dim) {
  if (prior_check_tensor("unsqueeze", "input", x) != PRIOR_OK) return NULL;
  int d;
  if (prior_normalize_dim("unsqueeze", dim, x->ndim + 1, &d) != PRIOR_OK) return NULL;
  if (x->ndim >= PRIOR_MAX_DIMS) {
    prior_error_set(PRIOR_ERR_SHAPE, "unsqueeze: already %d dims", x->ndim);
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS];
  int n = 0;
  for (int i = 0; i <= x->ndim; i++) {
    if (i == d) shape[n++] = 1;
    if (i < x->ndim) shape[n++] = x->shape[i];
  }
  return prior_reshape(x, n, shape);
}

/* ---- copies ------------------------------------------------------------------------------------------------ */

prior_tensor *prior_contiguous(prior_tensor *x) {
  if (prior_check_tensor("contiguous", "input", x) != PRIOR_OK) return NULL;
  if (prior_tensor_is_contiguous(x)) return prior_tensor_retain(x);
  return prior_clone(x);
}

prior_tensor *prior_clone(prior_tensor *x) {
  if (prior_check_tensor("clone", "input", x) != PRIOR_OK) return NULL;
  return record("clone", x, prior_tensor_clone_raw(x), VIEW_COPY, 0, NULL);
}
