/* Reductions: forward through the backend's "reduce" kernel; backward broadcasts the gradient back. */
#include <math.h>

#include "ops/op_util.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

prior_status prior_normalize_dim(const char *op, int64_t dim, int ndim, int *out) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= (ndim > 0 ? ndim : 1))
    return prior_error_set(PRIOR_ERR_INDEX, "%s: dim %lld out of range for a tensor with %d dimensions", op,
                           (long long)dim, ndim);
  *out = (int)d;
  return PRIOR_OK;
}

static prior_status dims_to_mask(const char *op, const prior_tensor *x, int n_dims, const int64_t *dims, uint32_t *mask) {
  *mask = 0;
  if (n_dims == 0) {
    *mask = x->ndim ? (1u << x->ndim) - 1 : 0;
    return PRIOR_OK;
  }
  for (int i = 0; i < n_dims; i++) {
    int d;
    PRIOR_TRY(prior_normalize_dim(op, dims[i], x->ndim, &d));
    if (*mask & (1u << d)) return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: dim %d listed twice", op, d);
    *mask |= 1u << d;
  }
  return PRIOR_OK;
}

static void reduced_shape(const prior_tensor *x, uint32_t mask, int keepdim, int *ndim, int64_t *shape) {
  int n = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (mask & (1u << d)) {
      if (keepdim) shape[n++] = 1;
    } else {
      shape[n++] = x->shape[d];
    }
  }
  *ndim = n;
}

/* A view of g (reduced shape, keepdim or not) broadcast to x_shape: reduced dims get stride 0. */
static prior_tensor *expand_back(prior_tensor *g, int x_ndim, const int64_t *x_shape, uint32_t mask) {
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  if (!gc) return NULL;
  int64_t strides[PRIOR_MAX_DIMS];
  int64_t s = 1;
  for (int d = x_ndim - 1; d >= 0; d--) {
    if (mask & (1u << d)) {
      strides[d] = 0;
    } else {
      strides[d] = s;
      s *= x_shape[d];
    }
  }
  prior_tensor *v = prior_tensor_as_strided(gc, x_ndim, x_shape, strides, gc->offset);
  prior_tensor_free(gc);
  return v;
}

static int64_t reduced_count(const int64_t *shape, int ndim, uint32_t mask) {
  int64_t r = 1;
  for (int d = 0; d < ndim; d++)
    if (mask & (1u << d)) r *= shape[d];
  return r;
}

/* node->ints: [0] op, [1] mask, [2] x ndim, [3..10] x shape */
static prior_status reduce_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  int op = (int)node->ints[0];
  uint32_t mask = (uint32_t)node->ints[1];
  int x_ndim = (int)node->ints[2];
  const int64_t *x_shape = &node->ints[3];
  prior_tensor *ge = expand_back(g, x_ndim, x_shape, mask);
  if (!ge) return prior_error_code();
  prior_tensor *x = node->saved[0], *out = node->saved[1], *t1 = NULL, *t2 = NULL;
  switch (op) {
    case PRIOR_REDUCE_SUM: gi[0] = prior_tensor_contiguous_raw(ge); break;
    case PRIOR_REDUCE_MEAN: gi[0] = prior_mul_scalar(ge, 1.0 / (double)reduced_count(x_shape, x_ndim, mask)); break;
    case PRIOR_REDUCE_LOGSUMEXP: /* g * exp(x - out) */
      t1 = expand_back(out, x_ndim, x_shape, mask);
      t2 = prior_sub(x, t1);
      prior_tensor_free(t1);
      t1 = prior_exp(t2);
      gi[0] = prior_mul(ge, t1);
      break;
    case PRIOR_REDUCE_NORM2: { /* g * x / out, 0 where out == 0 */
      t1 = expand_back(out, x_ndim, x_shape, mask);
      prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)x->dtype, x->device);
      prior_tensor *is_zero = prior_eq(t1, zero);
      prior_tensor *one = prior_tensor_ones(0, NULL, (prior_dtype)x->dtype, x->device);
      prior_tensor *safe = prior_where(is_zero, one, t1);
      t2 = prior_div(x, safe);
      gi[0] = prior_mul(ge, t2);
      prior_free_all(4, zero, is_zero, one, safe);
      break;
    }
    case PRIOR_REDUCE_MAX:
    case PRIOR_REDUCE_MIN: { /* the gradient goes to the recorded position along the dim */
      prior_tensor *idx = node->saved[1];
      int dim = __builtin_ctz(mask);
      prior_tensor *positions = prior_tensor_arange(0, (double)x_shape[dim], 1, PRIOR_I64, x->device);
      int64_t pstrides[PRIOR_MAX_DIMS] = {0};
      pstrides[dim] = 1;
      t1 = positions ? prior_tensor_as_strided(positions, x_ndim, x_shape, pstrides, 0) : NULL;
      t2 = expand_back(idx, x_ndim, x_shape, mask);
      prior_tensor *hit = t1 && t2 ? prior_eq(t1, t2) : NULL;
      prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)g->dtype, g->device);
      gi[0] = hit ? prior_where(hit, ge, zero) : NULL;
      prior_free_all(3, positions, hit, zero);
      break;
    }
    default: prior_tensor_free(ge); return prior_error_set(PRIOR_ERR_INTERNAL, "reduce backward: op %d", op);
  }
  prior_free_all(3, ge, t1, t2);
  return gi[0] ? PRIOR_OK : prior_error_code();
}

static prior_tensor *reduce(const char *name, prior_tensor *x, uint32_t mask, int keepdim, int op, prior_tensor **indices) {
  int ndim;
  int64_t shape[PRIOR_MAX_DIMS];
  reduced_shape(x, mask, keepdim, &ndim, shape);
  prior_reduce_kernel k = (prior_reduce_kernel)prior_op_kernel(name, "reduce", x);
  if (!k) return NULL;
  int is_index = op == PRIOR_REDUCE_ARGMAX || op == PRIOR_REDUCE_ARGMIN;
  int floating_out = op == PRIOR_REDUCE_MEAN || op == PRIOR_REDUCE_LOGSUMEXP || op == PRIOR_REDUCE_NORM2;
  prior_dtype out_dtype = is_index ? PRIOR_I64 : (prior_dtype)x->dtype;
  if (floating_out && !prior_dtype_is_floating(x->dtype)) {
    prior_error_set(PRIOR_ERR_DTYPE, "%s: needs a floating tensor, got %s", name, prior_dtype_name(x->dtype));
    return NULL;
  }
  if (!is_index && (x->dtype == PRIOR_BOOL || x->dtype == PRIOR_U8) && op == PRIOR_REDUCE_SUM) out_dtype = PRIOR_I64;
  prior_tensor *out = prior_tensor_empty(ndim, shape, out_dtype, x->device);
  prior_tensor *idx = NULL;
  int need_idx = (op == PRIOR_REDUCE_MAX || op == PRIOR_REDUCE_MIN) && (indices || prior_autograd_needed(1, &x));
  if (out && need_idx) idx = prior_tensor_empty(ndim, shape, PRIOR_I64, x->device);
  if (!out || (need_idx && !idx) || k(out, idx, x, mask, op) != PRIOR_OK) {
    prior_error_context("%s", name);
    prior_free_all(2, out, idx);
    return NULL;
  }
  if (!is_index && prior_autograd_needed(1, &x) && prior_dtype_is_floating(out->dtype)) {
    prior_node *node = prior_node_new(name, reduce_backward, 1, &x);
    int ok = node && prior_node_save(node, x) == 0;
    if (ok) ok = prior_node_save(node, idx ? idx : out) == 1;
    if (!ok) {
      prior_node_release(node);
      prior_free_all(2, out, idx);
      return NULL;
    }
    node->ints[0] = op;
    node->ints[1] = mask;
    node->ints[2] = x->ndim;
    for (int d = 0; d < x->ndim; d++) node->ints[3 + d] = x->shape[d];
    prior_node_attach(node, out);
  }
  if (indices)
    *indices = idx;
  else
    prior_tensor_free(idx);
  return out;
}

static prior_tensor *reduce_dims(const char *name, prior_tensor *x, int n_dims, const int64_t *dims, int keepdim, int op) {
  if (prior_check_tensor(name, "input", x) != PRIOR_OK) return NULL;
  uint32_t mask;
  if (dims_to_mask(name, x, n_dims, dims, &mask) != PRIOR_OK) return NULL;
  return reduce(name, x, mask, keepdim, op, NULL);
}

prior_tensor *prior_sum(prior_tensor *x, int n, const int64_t *dims, int keepdim) {
  return reduce_dims("sum", x, n, dims, keepdim, PRIOR_REDUCE_SUM);
}
prior_tensor *prior_mean(prior_tensor *x, int n, const int64_t *dims, int keepdim) {
  return reduce_dims("mean", x, n, dims, keepdim, PRIOR_REDUCE_MEAN);
}
prior_tensor *prior_logsumexp(prior_tensor *x, int n, const int64_t *dims, int keepdim) {
  return reduce_dims("logsumexp", x, n, dims, keepdim, PRIOR_REDUCE_LOGSUMEXP);
}
prior_tensor *prior_norm(prior_tensor *x, int n, const int64_t *dims, int keepdim) {
  return reduce_dims("norm", x, n, dims, keepdim, PRIOR_REDUCE_NORM2);
}

static prior_tensor *reduce_one_dim(const char *name, prior_tensor *x, int64_t dim, int keepdim, int op,
                                    prior_tensor **indices) {
  if (prior_check_tensor(name, "input", x) != PRIOR_OK) return NULL;
  if (x->ndim == 0) return reduce(name, x, 0, keepdim, op, indices);
  int d;
  if (prior_normalize_dim(name, dim, x->ndim, &d) != PRIOR_OK) return NULL;
  if (x->shape[d] == 0) {
    prior_error_set(PRIOR_ERR_SHAPE, "%s: dim %d has size 0", name, d);
    return NULL;
  }
  return reduce(name, x, 1u << d, keepdim, op, indices);
}

prior_tensor *prior_max(prior_tensor *x, int64_t dim, int keepdim, prior_tensor **indices) {
  return reduce_one_dim("max", x, dim, keepdim, PRIOR_REDUCE_MAX, indices);
}
prior_tensor *prior_min(prior_tensor *x, int64_t dim, int keepdim, prior_tensor **indices) {
  return reduce_one_dim("min", x, dim, keepdim, PRIOR_REDUCE_MIN, indices);
}
prior_tensor *prior_argmax(prior_tensor *x, int64_t dim, int keepdim) {
  return reduce_one_dim("argmax", x, dim, keepdim, PRIOR_REDUCE_ARGMAX, NULL);
}
prior_tensor *prior_argmin(prior_tensor *x, int64_t dim, int keepdim) {
  return reduce_one_dim("argmin", x, dim, keepdim, PRIOR_REDUCE_ARGMIN, NULL);
}

/* Over all elements: flatten (a differentiable reshape) then reduce dim 0. */
static prior_tensor *reduce_all_extreme(const char *name, prior_tensor *x, int op) {
  if (prior_check_tensor(name, "input", x) != PRIOR_OK) return NULL;
  int64_t n = -1;
  prior_tensor *flat = prior_reshape(x, 1, &n);
  if (!flat) return NULL;
  prior_tensor *out = reduce_one_dim(name, flat, 0, 0, op, NULL);
  prior_tensor_free(flat);
  return out;
}

prior_tensor *prior_max_all(prior_tensor *x) { return reduce_all_extreme("max_all", x, PRIOR_REDUCE_MAX); }
prior_tensor *prior_min_all(prior_tensor *x) { return reduce_all_extreme("min_all", x, PRIOR_REDUCE_MIN); }
