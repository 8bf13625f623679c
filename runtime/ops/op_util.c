#include "ops/op_util.h"

#include "core/bf16.h"
#include "core/strided.h"

#include "prior/amp.h"
#include "prior/ops_reduce.h"

prior_kernel_fn prior_op_kernel(const char *op, const char *name, const prior_tensor *t) {
  prior_kernel_fn k = prior_backend_kernel((prior_device_type)t->device.type, name);
  if (!k)
    prior_error_set(PRIOR_ERR_UNSUPPORTED, "%s: no '%s' kernel for device %s in this build", op, name,
                    prior_device_name(t->device));
  return k;
}

prior_tensor *prior_sum_to_shape(prior_tensor *g, int ndim, const int64_t *shape) {
  if (!g) return NULL;
  int lead = g->ndim - ndim;
  if (lead < 0) {
    prior_error_set(PRIOR_ERR_INTERNAL, "sum_to_shape: gradient has fewer dims than its target");
    return NULL;
  }
  int64_t dims[PRIOR_MAX_DIMS];
  int n = 0;
  for (int d = 0; d < g->ndim; d++) {
    if (d < lead || (shape[d - lead] == 1 && g->shape[d] != 1)) dims[n++] = d;
  }
  if (n == 0 && lead == 0) return prior_tensor_retain(g);
  prior_tensor *summed = prior_sum(g, n, dims, 1);
  if (!summed) return NULL;
  /* keepdim kept g's rank; drop the leading dims by viewing with the target shape (it is contiguous). */
  int64_t strides[PRIOR_MAX_DIMS];
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  prior_tensor *out = prior_tensor_as_strided(summed, ndim, shape, strides, summed->offset);
  prior_tensor_free(summed);
  return out;
}

prior_tensor *prior_unary_raw(const char *op_name, prior_tensor *x, int op, double p0, double p1) {
  if (prior_check_tensor(op_name, "input", x) != PRIOR_OK) return NULL;
  return prior_unary_raw_to(op_name, x, op, p0, p1, (prior_dtype)x->dtype);
}

prior_tensor *prior_unary_raw_to(const char *op_name, prior_tensor *x, int op, double p0, double p1, prior_dtype dtype) {
  if (prior_check_tensor(op_name, "input", x) != PRIOR_OK) return NULL;
  prior_unary_kernel k = (prior_unary_kernel)prior_op_kernel(op_name, "unary", x);
  if (!k) return NULL;
  prior_tensor *out = prior_tensor_empty(x->ndim, x->shape, dtype, x->device);
  if (!out) return NULL;
  double params[2] = {p0, p1};
  if (k(out, x, op, params) != PRIOR_OK) {
    prior_error_context("%s", op_name);
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

prior_tensor *prior_binary_raw(const char *op_name, prior_tensor *a, prior_tensor *b, int op) {
  if (prior_check_tensor(op_name, "a", a) != PRIOR_OK || prior_check_tensor(op_name, "b", b) != PRIOR_OK) return NULL;
  if (prior_check_same_device(op_name, a, b) != PRIOR_OK || prior_check_same_dtype(op_name, a, b) != PRIOR_OK)
    return NULL;
  int ndim;
  int64_t shape[PRIOR_MAX_DIMS];
  if (prior_broadcast_shapes(op_name, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape) != PRIOR_OK) return NULL;
  prior_binary_kernel k = (prior_binary_kernel)prior_op_kernel(op_name, "binary", a);
  if (!k) return NULL;
  int is_compare = op >= PRIOR_BINARY_EQ && op <= PRIOR_BINARY_GE;
  prior_tensor *out = prior_tensor_empty(ndim, shape, is_compare ? PRIOR_BOOL : (prior_dtype)a->dtype, a->device);
  if (!out) return NULL;
  if (k(out, a, b, op) != PRIOR_OK) {
    prior_error_context("%s", op_name);
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

int prior_op_lowers_to_bf16(const prior_tensor *t) {
  return t->dtype == PRIOR_F32 && t->device.type == PRIOR_DEVICE_CPU && prior_autocast_enabled() &&
         prior_autocast_native(t->device);
}

/* A bf16 copy of t laid out in t's own memory order (dims sorted by stride; a transposed view stays transposed,
 * so the copy is one streaming pass), broadcast dims (stride 0) kept broadcast. */
prior_tensor *prior_op_bf16_copy(prior_tensor *t) {
  int nd = t->ndim;
  int64_t shape[PRIOR_MAX_DIMS] = {0}, strides[PRIOR_MAX_DIMS] = {0};
  for (int d = 0; d < nd; d++) shape[d] = t->strides[d] == 0 ? 1 : t->shape[d];
  int64_t step = prior_same_order_strides(nd, shape, t->strides, strides);
  int dense_source = 1; /* t is a permutation of a dense block: the copy is one flat pass */
  for (int d = 0; d < nd; d++)
    if (t->strides[d] != 0 && shape[d] > 1 && t->strides[d] != strides[d]) dense_source = 0;
  prior_tensor *base = prior_tensor_empty(1, &step, PRIOR_BF16, t->device);
  prior_tensor *dense = base ? prior_tensor_as_strided(base, nd, shape, strides, 0) : NULL;
  prior_tensor_free(base);
  if (!dense) return NULL;
  prior_status s = PRIOR_OK;
  if (dense_source) {
    const float *src = prior_tensor_data(t);
    uint16_t *dst = prior_tensor_data(dense);
#pragma omp parallel for simd if (step > 32768)
    for (int64_t i = 0; i < step; i++) dst[i] = prior_bf16_round(src[i]);
  } else {
    prior_tensor *src = prior_tensor_as_strided(t, nd, shape, t->strides, t->offset);
    s = src ? prior_tensor_copy_(dense, src) : prior_error_code();
    prior_tensor_free(src);
  }
  for (int d = 0; d < nd; d++) strides[d] = t->strides[d] == 0 ? 0 : strides[d];
  prior_tensor *view = s == PRIOR_OK ? prior_tensor_as_strided(dense, nd, t->shape, strides, 0) : NULL;
  prior_tensor_free(dense);
  return view;
}
