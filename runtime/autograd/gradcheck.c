/* Finite-difference gradient checking in double precision. */
#include <math.h>
#include <stdlib.h>

#include "prior/autograd.h"

/* A private generator for the projection weights, so the check does not move the global RNG stream
 * (the function under test may reseed and draw from it, e.g. dropout). */
static double splitmix_unit(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* sum(fn(inputs) * w) with grad mode off. */
static prior_status projected(prior_gradcheck_fn fn, void *ctx, prior_tensor *const *inputs, const double *w,
                              int64_t n_out, double *out) {
  int previous = prior_set_grad_enabled(0);
  prior_tensor *y = fn(inputs, ctx);
  prior_set_grad_enabled(previous);
  if (!y) return prior_error_code();
  if (prior_tensor_numel(y) != n_out) {
    prior_tensor_free(y);
    return prior_error_set(PRIOR_ERR_INTERNAL, "gradcheck: the output changed size between evaluations");
  }
  double *vals = malloc((size_t)(n_out ? n_out : 1) * sizeof *vals);
  if (!vals) {
    prior_tensor_free(y);
    return prior_error_set(PRIOR_ERR_MEMORY, "gradcheck: out of memory");
  }
  prior_status s = prior_tensor_to_f64_array(y, vals);
  double acc = 0;
  for (int64_t i = 0; i < n_out; i++) acc += vals[i] * w[i];
  *out = acc;
  free(vals);
  prior_tensor_free(y);
  return s;
}

/* Multi-index of the flat (row-major) element e of t. */
static void unravel(const prior_tensor *t, int64_t e, int64_t *index) {
  for (int d = t->ndim - 1; d >= 0; d--) {
    index[d] = e % t->shape[d];
    e /= t->shape[d];
  }
}

prior_status prior_gradcheck(prior_gradcheck_fn fn, void *ctx, int n_inputs, prior_tensor *const *inputs, double eps,
                             double atol, double rtol, prior_gradcheck_result *result) {
  prior_gradcheck_result r = {0};
  r.worst_input = -1;
  for (int i = 0; i < n_inputs; i++) {
    if (inputs[i] && inputs[i]->requires_grad && inputs[i]->dtype != PRIOR_F64)
      return prior_error_set(PRIOR_ERR_DTYPE, "gradcheck: input %d is %s; gradient checks need f64 inputs", i,
                             prior_dtype_name(inputs[i]->dtype));
    if (inputs[i]) prior_tensor_zero_grad(inputs[i]);
  }
  int previous = prior_set_grad_enabled(1);
  prior_tensor *y = fn(inputs, ctx);
  prior_set_grad_enabled(previous);
  if (!y) return prior_error_code();
  int64_t n_out = prior_tensor_numel(y);
  double *w = malloc((size_t)(n_out ? n_out : 1) * sizeof *w);
  prior_tensor *wt = NULL;
  prior_status s = PRIOR_OK;
  if (!w) {
    s = prior_error_set(PRIOR_ERR_MEMORY, "gradcheck: out of memory");
    goto done;
  }
  uint64_t state = 12345;
  for (int64_t i = 0; i < n_out; i++) w[i] = splitmix_unit(&state) * 2.0 - 1.0;
  wt = prior_tensor_from_data(w, y->ndim, y->shape, PRIOR_F64, prior_cpu());
  if (!wt) {
    s = prior_error_code();
    goto done;
  }
  if (y->dtype != PRIOR_F64) {
    s = prior_error_set(PRIOR_ERR_DTYPE, "gradcheck: output is %s; expected f64", prior_dtype_name(y->dtype));
    goto done;
  }
  if (!y->requires_grad) {
    s = prior_error_set(PRIOR_ERR_AUTOGRAD, "gradcheck: the output does not require grad (no graph was recorded)");
    goto done;
  }
  if ((s = prior_backward(y, wt, 0)) != PRIOR_OK) goto done;

  for (int i = 0; i < n_inputs && s == PRIOR_OK; i++) {
    prior_tensor *x = inputs[i];
    if (!x || !x->requires_grad) continue;
    int64_t n = prior_tensor_numel(x);
    for (int64_t e = 0; e < n && s == PRIOR_OK; e++) {
      int64_t index[PRIOR_MAX_DIMS];
      unravel(x, e, index);
      double x0, fplus, fminus, analytic = 0;
      prior_tensor_get(x, index, &x0);
      prior_tensor_set(x, index, x0 + eps);
      s = projected(fn, ctx, inputs, w, n_out, &fplus);
      prior_tensor_set(x, index, x0 - eps);
      if (s == PRIOR_OK) s = projected(fn, ctx, inputs, w, n_out, &fminus);
      prior_tensor_set(x, index, x0);
      if (s != PRIOR_OK) break;
      double numeric = (fplus - fminus) / (2 * eps);
      if (x->grad) prior_tensor_get(x->grad, index, &analytic);
      double err = fabs(analytic - numeric);
      double rel = err / fmax(fabs(numeric), 1.0);
      r.n_checked++;
      if (err > r.max_abs_error) {
        r.max_abs_error = err;
        r.worst_input = i;
        r.worst_element = e;
      }
      if (rel > r.max_rel_error) r.max_rel_error = rel;
      if (!(err <= atol + rtol * fabs(numeric))) {
        s = prior_error_set(PRIOR_ERR_AUTOGRAD,
                            "gradcheck: input %d element %lld: analytic %.10g vs numeric %.10g (|diff| %.3g > atol %.3g + rtol %.3g)",
                            i, (long long)e, analytic, numeric, err, atol, rtol);
      }
    }
  }
done:
  if (result) *result = r;
  free(w);
  prior_tensor_free(wt);
  prior_tensor_free(y);
  return s;
}
