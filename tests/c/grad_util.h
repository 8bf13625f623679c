/* Helpers for gradient-check tests: random f64 leaves (contiguous or deliberately not) and a check macro
 * that reports the op, the worst error and the runtime's message. */
#ifndef PRIOR_TEST_GRAD_UTIL_H
#define PRIOR_TEST_GRAD_UTIL_H

#include "check.h"
#include "prior/prior.h"

/* A leaf f64 tensor of `shape` with values uniform in [lo, hi], requiring grad. */
static inline prior_tensor *leaf_uniform(int ndim, const int64_t *shape, double lo, double hi) {
  prior_tensor *t = prior_tensor_empty(ndim, shape, PRIOR_F64, prior_cpu());
  prior_tensor_uniform_(t, lo, hi);
  prior_tensor_set_requires_grad(t, 1);
  return t;
}

/* The same, but a non-contiguous view: the transpose of a tensor whose last two dims are swapped
 * (needs ndim >= 2), so strides are not row-major. */
static inline prior_tensor *leaf_uniform_strided(int ndim, const int64_t *shape, double lo, double hi) {
  int64_t swapped[PRIOR_MAX_DIMS];
  for (int d = 0; d < ndim; d++) swapped[d] = shape[d];
  swapped[ndim - 1] = shape[ndim - 2];
  swapped[ndim - 2] = shape[ndim - 1];
  prior_tensor *base = prior_tensor_empty(ndim, swapped, PRIOR_F64, prior_cpu());
  prior_tensor_uniform_(base, lo, hi);
  int64_t strides[PRIOR_MAX_DIMS];
  for (int d = 0; d < ndim; d++) strides[d] = base->strides[d];
  strides[ndim - 1] = base->strides[ndim - 2];
  strides[ndim - 2] = base->strides[ndim - 1];
  prior_tensor *v = prior_tensor_as_strided(base, ndim, shape, strides, 0);
  prior_tensor_free(base);
  prior_tensor_set_requires_grad(v, 1);
  return v;
}

#define GRADCHECK(label, fn, ctx, n, inputs)                                                        \
  do {                                                                                              \
    prior_gradcheck_result gr_;                                                                     \
    prior_status gs_ = prior_gradcheck((fn), (ctx), (n), (inputs), 1e-6, 1e-7, 1e-5, &gr_);        \
    CHECK_MSG(gs_ == PRIOR_OK && gr_.n_checked > 0, "%s: %s (max abs err %.3g over %lld elements)", \
              (label), prior_error_message(), gr_.max_abs_error, (long long)gr_.n_checked);         \
  } while (0)

#endif
