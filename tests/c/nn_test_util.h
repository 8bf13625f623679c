/* Helpers shared by the nn / index / loss op tests: tensors from arrays, comparisons against arrays and
 * between the f32 and f64 paths of an op. */
#ifndef PRIOR_TEST_NN_TEST_UTIL_H
#define PRIOR_TEST_NN_TEST_UTIL_H

#include <stdlib.h>

#include "grad_util.h"

/* An f64 tensor holding `data` (contiguous), optionally requiring grad. */
static inline prior_tensor *t_f64(const double *data, int ndim, const int64_t *shape, int requires_grad) {
  prior_tensor *t = prior_tensor_from_data(data, ndim, shape, PRIOR_F64, prior_cpu());
  if (t && requires_grad) prior_tensor_set_requires_grad(t, 1);
  return t;
}

static inline prior_tensor *t_i64(const int64_t *data, int ndim, const int64_t *shape) {
  return prior_tensor_from_data(data, ndim, shape, PRIOR_I64, prior_cpu());
}

/* Largest |t - ref| over all elements (t in any dtype, any strides); +inf when t is NULL or sizes differ. */
static inline double max_diff(const prior_tensor *t, const double *ref, int64_t n) {
  if (!t || prior_tensor_numel(t) != n) return INFINITY;
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  prior_tensor_to_f64_array(t, v);
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(v[i] - ref[i]);
    if (!(d <= m)) m = d; /* NaN propagates as the maximum */
  }
  free(v);
  return m;
}

/* Largest |a - b| between two tensors of the same numel (converted to double). */
static inline double max_diff_t(const prior_tensor *a, const prior_tensor *b) {
  if (!a || !b || prior_tensor_numel(a) != prior_tensor_numel(b)) return INFINITY;
  int64_t n = prior_tensor_numel(b);
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  prior_tensor_to_f64_array(b, v);
  double m = max_diff(a, v, n);
  free(v);
  return m;
}

/* A detached f32 copy of an f64 tensor. */
static inline prior_tensor *to_f32(const prior_tensor *t) { return prior_tensor_to_dtype_raw(t, PRIOR_F32); }

/* Backward from y with a gradient of ones (of y's dtype). */
static inline prior_status backward_ones(prior_tensor *y) {
  if (!y) return prior_error_code();
  prior_tensor *g = prior_tensor_ones(y->ndim, y->shape, (prior_dtype)y->dtype, y->device);
  prior_status s = prior_backward(y, g, 0);
  prior_tensor_free(g);
  return s;
}

static inline double item(const prior_tensor *t) {
  double v = NAN;
  if (t) prior_tensor_item(t, &v);
  return v;
}

#endif
