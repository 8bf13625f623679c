/* Elementwise ops with NumPy broadcasting, forward and backward. Inputs of a binary op must have the same
 * dtype and device; results are new contiguous tensors. Integer dtypes support the arithmetic and
 * comparisons but carry no gradient. */
#ifndef PRIOR_OPS_ELEMENTWISE_H
#define PRIOR_OPS_ELEMENTWISE_H

#include "prior/tensor.h"

prior_tensor *prior_add(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_sub(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_mul(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_div(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_pow(prior_tensor *a, prior_tensor *b); /* a > 0 where b's gradient is wanted */
prior_tensor *prior_maximum(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_minimum(prior_tensor *a, prior_tensor *b);

/* With a scalar on the right (the scalar takes a's dtype). */
prior_tensor *prior_add_scalar(prior_tensor *a, double s);
prior_tensor *prior_mul_scalar(prior_tensor *a, double s);
prior_tensor *prior_pow_scalar(prior_tensor *a, double exponent);
prior_tensor *prior_rsub_scalar(prior_tensor *a, double s); /* s - a */
prior_tensor *prior_rdiv_scalar(prior_tensor *a, double s); /* s / a */

/* Comparisons give bool tensors (no gradient). */
prior_tensor *prior_eq(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_ne(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_lt(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_le(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_gt(prior_tensor *a, prior_tensor *b);
prior_tensor *prior_ge(prior_tensor *a, prior_tensor *b);

prior_tensor *prior_neg(prior_tensor *x);
prior_tensor *prior_exp(prior_tensor *x);
prior_tensor *prior_log(prior_tensor *x);
prior_tensor *prior_sqrt(prior_tensor *x);
prior_tensor *prior_rsqrt(prior_tensor *x);
prior_tensor *prior_abs(prior_tensor *x);
prior_tensor *prior_sigmoid(prior_tensor *x);
prior_tensor *prior_tanh(prior_tensor *x);
prior_tensor *prior_relu(prior_tensor *x);
prior_tensor *prior_gelu(prior_tensor *x); /* exact: x * Phi(x) with erf */
/* GELU whose result only feeds a product (a feed-forward layer's activation): under CPU autocast it is written as
 * the bf16 copy the product would make, one pass instead of two; the same values, and gelu's gradient. Without
 * autocast, prior_gelu. */
prior_tensor *prior_gelu_for_product(prior_tensor *x);
prior_tensor *prior_square(prior_tensor *x);
prior_tensor *prior_sign(prior_tensor *x);
/* min or max may be NaN to leave that side open. */
prior_tensor *prior_clamp(prior_tensor *x, double min, double max);

/* cond ? a : b, all three broadcast together; cond is bool or u8. Gradient flows to a and b. */
prior_tensor *prior_where(prior_tensor *cond, prior_tensor *a, prior_tensor *b);

/* Casts (gradient flows between floating dtypes). */
prior_tensor *prior_to_dtype(prior_tensor *x, prior_dtype dtype);

#endif
