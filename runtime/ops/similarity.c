/* normalize (F.normalize, p = 2) and cosine_similarity, composed from differentiable ops.
 *
 * F.normalize divides by clamp_min(||x||, eps): where the clamp is active the norm gets no gradient.
 * F.cosine_similarity (PyTorch 2.x, ATen's cosine_similarity) divides each input by its own norm clamped to
 * eps, with the clamp applied in place under no_grad: the forward uses max(||x||, eps) but the gradient flows
 * through the norm as if unclamped. We reproduce that with n + detach(max(n, eps) - n). */
#include <math.h>

#include "ops/op_util.h"
#include "prior/autograd.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_nn.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

prior_tensor *prior_normalize(prior_tensor *x, int64_t dim, double eps) {
  const char *op = "normalize";
  if (prior_check_floating(op, "input", x)) return NULL;
  int d;
  if (prior_normalize_dim(op, dim, x->ndim, &d) != PRIOR_OK) return NULL;
  if (!(eps >= 0)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "normalize: eps %g must be >= 0", eps);
    return NULL;
  }
  int64_t dd = d;
  prior_tensor *n = prior_norm(x, x->ndim ? 1 : 0, &dd, 1);
  prior_tensor *nc = n ? prior_clamp(n, eps, NAN) : NULL;
  prior_tensor *out = nc ? prior_div(x, nc) : NULL;
  prior_free_all(2, n, nc);
  return out;
}

/* ||x|| over dim (keepdim) with the value clamped to eps and the gradient of the unclamped norm. */
static prior_tensor *clamped_norm(prior_tensor *x, int64_t dim, double eps) {
  prior_tensor *n = prior_norm(x, 1, &dim, 1);
  if (!n) return NULL;
  int was = prior_set_grad_enabled(0);
  prior_tensor *c = prior_clamp(n, eps, NAN);
  prior_tensor *delta = c ? prior_sub(c, n) : NULL;
  prior_set_grad_enabled(was);
  prior_tensor *out = delta ? prior_add(n, delta) : NULL;
  prior_free_all(3, n, c, delta);
  return out;
}

prior_tensor *prior_cosine_similarity(prior_tensor *a, prior_tensor *b, int64_t dim, double eps) {
  const char *op = "cosine_similarity";
  if (prior_check_floating(op, "a", a) || prior_check_floating(op, "b", b) || prior_check_same_dtype(op, a, b) ||
      prior_check_same_device(op, a, b))
    return NULL;
  int ndim;
  int64_t shape[PRIOR_MAX_DIMS];
  if (prior_broadcast_shapes(op, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape) != PRIOR_OK) return NULL;
  int d;
  if (ndim == 0) {
    prior_error_set(PRIOR_ERR_SHAPE, "cosine_similarity: inputs are 0-dimensional");
    return NULL;
  }
  if (prior_normalize_dim(op, dim, ndim, &d) != PRIOR_OK) return NULL;
  if (!(eps >= 0)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "cosine_similarity: eps %g must be >= 0", eps);
    return NULL;
  }
  int64_t dd = d;
  prior_tensor *ae = prior_expand(a, ndim, shape), *be = ae ? prior_expand(b, ndim, shape) : NULL;
  prior_tensor *na = be ? clamped_norm(ae, dd, eps) : NULL, *nb = na ? clamped_norm(be, dd, eps) : NULL;
  prior_tensor *ua = nb ? prior_div(ae, na) : NULL, *ub = ua ? prior_div(be, nb) : NULL;
  prior_tensor *prod = ub ? prior_mul(ua, ub) : NULL;
  prior_tensor *out = prod ? prior_sum(prod, 1, &dd, 0) : NULL;
  prior_free_all(7, ae, be, na, nb, ua, ub, prod);
  return out;
}
