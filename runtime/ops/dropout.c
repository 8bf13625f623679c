/* dropout and dropout2d: the input times a mask of 0 and 1/(1-p), drawn with prior_tensor_bernoulli_ from
 * the global Philox stream (so a seed reproduces the mask). The product is an ordinary differentiable mul,
 * so the gradient is exactly mask * scale. */
#include "ops/op_util.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_nn.h"

static prior_tensor *dropout_op(const char *op, prior_tensor *x, double p, int training, int channels) {
  if (prior_check_floating(op, "input", x)) return NULL;
  if (!(p >= 0 && p <= 1)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: probability p=%g must be in [0, 1]", op, p);
    return NULL;
  }
  if (channels && x->ndim < 2) {
    char b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: input must be [N, C, ...], got %s", op, prior_tensor_shape_str(x, b, sizeof b));
    return NULL;
  }
  /* eval or p == 0: the input itself (a new reference; gradients flow unchanged) */
  if (!training || p == 0) return prior_tensor_retain(x);
  int64_t shape[PRIOR_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = channels && d >= 2 ? 1 : x->shape[d];
  prior_tensor *mask = prior_tensor_empty(x->ndim, shape, (prior_dtype)x->dtype, x->device);
  if (!mask) return NULL;
  prior_tensor *scaled = NULL, *out = NULL;
  if (prior_tensor_bernoulli_(mask, 1.0 - p) == PRIOR_OK) {
    /* p == 1 keeps nothing: the mask is all zeros and the scale is irrelevant */
    double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    scaled = prior_unary_raw(op, mask, PRIOR_UNARY_AFFINE, scale, 0.0);
    if (scaled) out = prior_mul(x, scaled);
  }
  prior_free_all(2, mask, scaled);
  return out;
}

prior_tensor *prior_dropout(prior_tensor *x, double p, int training) { return dropout_op("dropout", x, p, training, 0); }
prior_tensor *prior_dropout2d(prior_tensor *x, double p, int training) {
  return dropout_op("dropout2d", x, p, training, 1);
}
