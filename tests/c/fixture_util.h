/* Helpers for tests against PyTorch fixtures (safetensors files written by tests/fixtures/.../make_*.py):
 * load a record as a tensor, copy fixture parameters into a network, and compare tensors with a per-tensor
 * relative tolerance (max |ours - ref| / max |ref|), printing the worst element when a check fails. */
#ifndef PRIOR_TEST_FIXTURE_UTIL_H
#define PRIOR_TEST_FIXTURE_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "prior/nn_params.h"
#include "prior/prior.h"
#include "prior/safetensors.h"

/* A new tensor holding a copy of the named record (converted to dtype unless dtype < 0), or NULL. */
static inline prior_tensor *fixture_tensor(const prior_safetensors *st, const char *name, int dtype) {
  const prior_ckpt_tensor *r = prior_safetensors_find(st, name);
  if (!r) {
    fprintf(stderr, "fixture has no tensor '%s'\n", name);
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS];
  for (int d = 0; d < r->ndim; d++) shape[d] = r->shape[d];
  prior_tensor *t = prior_tensor_from_data(r->data, r->ndim, shape, (prior_dtype)r->dtype, prior_cpu());
  if (t && dtype >= 0 && t->dtype != dtype) {
    prior_tensor *c = prior_tensor_to_dtype_raw(t, (prior_dtype)dtype);
    prior_tensor_free(t);
    t = c;
  }
  return t;
}

/* Copies every "param.<name>" of the fixture into the same-named tensor of p; every name of p must be found.
 * Returns the number of tensors copied, -1 on a mismatch (reported). */
static inline int fixture_load_params(const prior_safetensors *st, prior_params *p) {
  int copied = 0;
  for (int32_t i = 0; i < prior_params_count(p); i++) {
    char key[256];
    snprintf(key, sizeof key, "param.%s", prior_params_name(p, i));
    prior_tensor *src = fixture_tensor(st, key, -1);
    prior_tensor *dst = prior_params_tensor(p, i);
    if (!src || !prior_tensor_same_shape(src, dst)) {
      char a[64] = "?", b[64];
      if (src) prior_tensor_shape_str(src, a, sizeof a);
      fprintf(stderr, "parameter %s: fixture shape %s, ours %s\n", key, a, prior_tensor_shape_str(dst, b, sizeof b));
      prior_tensor_free(src);
      return -1;
    }
    prior_tensor_copy_(dst, src);
    prior_tensor_free(src);
    copied++;
  }
  return copied;
}

/* max |a - ref| / max(max |ref|, 1e-12); also reports the element. A tensor whose true value is zero (the
 * gradient of a softmax-invariant bias) holds only rounding noise on both sides: FIXTURE_ATOL covers it. */
#define FIXTURE_ATOL 1e-6
static inline double fixture_rel_error(const prior_tensor *a, const prior_tensor *ref, int64_t *worst) {
  int64_t n = prior_tensor_numel(ref);
  if (!a || prior_tensor_numel(a) != n) return INFINITY;
  double *x = malloc((size_t)(n ? n : 1) * sizeof *x), *y = malloc((size_t)(n ? n : 1) * sizeof *y);
  prior_tensor_to_f64_array(a, x);
  prior_tensor_to_f64_array(ref, y);
  double max_ref = 0, max_diff = 0;
  for (int64_t i = 0; i < n; i++) {
    if (fabs(y[i]) > max_ref) max_ref = fabs(y[i]);
    double d = fabs(x[i] - y[i]);
    if (!(d <= max_diff)) max_diff = d, *worst = i; /* NaN counts as worst */
  }
  free(x);
  free(y);
  if (max_diff <= FIXTURE_ATOL) return 0.0;
  return max_diff / (max_ref > 1e-12 ? max_ref : 1e-12);
}

#define CHECK_CLOSE_TO_FIXTURE(label, ours, ref, tol)                                                   \
  do {                                                                                                  \
    int64_t cw_ = -1;                                                                                   \
    double ce_ = fixture_rel_error((ours), (ref), &cw_);                                               \
    CHECK_MSG(ce_ <= (tol), "%s: relative error %.3g > %.3g (worst element %lld)", (label), ce_,       \
              (double)(tol), (long long)cw_);                                                           \
  } while (0)

#endif
