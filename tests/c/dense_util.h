/* Helpers for the dense-op tests: comparing the f32 path (oneDNN) against the f64 reference loops, and
 * reading the PyTorch fixtures of tests/fixtures/dense. */
#ifndef PRIOR_TEST_DENSE_UTIL_H
#define PRIOR_TEST_DENSE_UTIL_H

#include <stdlib.h>

#include "grad_util.h"

/* max |a - b| / max(max |b|, 1e-30), both read as f64. */
static inline double max_rel_diff(const prior_tensor *a, const prior_tensor *b) {
  int64_t n = prior_tensor_numel(a);
  if (!prior_tensor_same_shape(a, b)) return INFINITY;
  double *x = malloc(sizeof(double) * (n ? n : 1)), *y = malloc(sizeof(double) * (n ? n : 1));
  prior_tensor_to_f64_array(a, x);
  prior_tensor_to_f64_array(b, y);
  double err = 0, scale = 1e-30;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(x[i] - y[i]);
    if (d > err || isnan(d)) err = d;
    if (fabs(y[i]) > scale) scale = fabs(y[i]);
  }
  free(x);
  free(y);
  return err / scale;
}

/* Runs fn on the f64 inputs and on f32 copies of them, backward from sum(out * r) for a random r, and checks
 * outputs and the gradients of inputs requiring grad agree to tol (relative to each tensor's largest value). */
static inline void check_f32_vs_f64(const char *label, prior_gradcheck_fn fn, void *ctx, int n, prior_tensor *const *in64,
                                    double tol) {
  prior_tensor *in32[8] = {0}, *g64[8] = {0};
  for (int i = 0; i < n; i++) {
    if (!in64[i]) continue;
    in32[i] = prior_tensor_to_dtype_raw(in64[i], PRIOR_F32);
    prior_tensor_set_requires_grad(in32[i], in64[i]->requires_grad);
    prior_tensor_zero_grad(in64[i]);
  }
  prior_tensor *o64 = fn(in64, ctx), *o32 = fn(in32, ctx);
  CHECK_MSG(o64 && o32, "%s: %s", label, prior_error_message());
  if (o64 && o32) {
    double e = max_rel_diff(o32, o64);
    CHECK_MSG(e <= tol, "%s: forward f32 vs f64 relative error %.3g > %.3g", label, e, tol);
    prior_tensor *r64 = prior_tensor_empty(o64->ndim, o64->shape, PRIOR_F64, prior_cpu());
    prior_tensor_uniform_(r64, -1, 1);
    prior_tensor *r32 = prior_tensor_to_dtype_raw(r64, PRIOR_F32);
    int any = 0;
    for (int i = 0; i < n; i++) any |= in64[i] && in64[i]->requires_grad;
    if (any) {
      CHECK_OK(prior_backward(o64, r64, 0));
      CHECK_OK(prior_backward(o32, r32, 0));
      for (int i = 0; i < n; i++) {
        if (!in64[i] || !in64[i]->requires_grad) continue;
        g64[i] = in64[i]->grad;
        CHECK_MSG(g64[i] && in32[i]->grad, "%s: input %d got no gradient", label, i);
        if (g64[i] && in32[i]->grad) {
          double ge = max_rel_diff(in32[i]->grad, g64[i]);
          CHECK_MSG(ge <= tol, "%s: gradient of input %d f32 vs f64 relative error %.3g > %.3g", label, i, ge, tol);
        }
        prior_tensor_zero_grad(in64[i]);
      }
    }
    prior_free_all(2, r64, r32);
  }
  prior_free_all(2, o64, o32);
  for (int i = 0; i < n; i++) prior_tensor_free(in32[i]);
}

/* A fixture: tests/fixtures/dense/<name>.bin, written by make_dense_fixtures.py: a text line
 * "prior-fixture <ndim> <d0> <d1> ...\n" and then the values as little-endian float64. Returns a new f64
 * tensor or NULL (with a failed CHECK). */
static inline prior_tensor *load_fixture(const char *name) {
  char path[256];
  snprintf(path, sizeof path, "tests/fixtures/dense/%s.bin", name);
  FILE *f = fopen(path, "rb");
  CHECK_MSG(f != NULL, "cannot open fixture %s", path);
  if (!f) return NULL;
  int ndim = 0;
  long long d[PRIOR_MAX_DIMS];
  int64_t shape[PRIOR_MAX_DIMS];
  int ok = fscanf(f, "prior-fixture %d", &ndim) == 1 && ndim >= 0 && ndim <= PRIOR_MAX_DIMS;
  int64_t n = 1;
  for (int i = 0; ok && i < ndim; i++) {
    ok = fscanf(f, " %lld", &d[i]) == 1 && d[i] >= 0;
    shape[i] = d[i];
    n *= d[i];
  }
  ok = ok && fgetc(f) == '\n';
  double *buf = ok ? malloc(sizeof(double) * (n ? n : 1)) : NULL;
  ok = ok && buf && fread(buf, sizeof(double), (size_t)n, f) == (size_t)n;
  fclose(f);
  CHECK_MSG(ok, "fixture %s is malformed", path);
  prior_tensor *t = ok ? prior_tensor_from_data(buf, ndim, shape, PRIOR_F64, prior_cpu()) : NULL;
  free(buf);
  return t;
}

#endif
