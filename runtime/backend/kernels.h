/* Internal: the kernel signatures every backend implements, registered under the names below.
 *
 * The op layer (runtime/ops) checks arguments, computes output shapes, allocates outputs on the inputs'
 * device and records autograd; a kernel only computes. Inputs come with their own strides; outputs of the
 * elementwise kernels are freshly allocated and contiguous unless said otherwise. */
#ifndef PRIOR_BACKEND_KERNELS_H
#define PRIOR_BACKEND_KERNELS_H

#include "prior/tensor.h"

/* "unary": out = f(in); in broadcasts to out's shape; params carry clamp bounds, powers, slopes. */
typedef enum prior_unary_op {
  PRIOR_UNARY_NEG, PRIOR_UNARY_EXP, PRIOR_UNARY_LOG, PRIOR_UNARY_SQRT, PRIOR_UNARY_RSQRT, PRIOR_UNARY_ABS,
  PRIOR_UNARY_SIGMOID, PRIOR_UNARY_TANH, PRIOR_UNARY_RELU, PRIOR_UNARY_GELU, PRIOR_UNARY_CLAMP,
  PRIOR_UNARY_POW_SCALAR, /* in ^ params[0] */
  PRIOR_UNARY_SIGN, PRIOR_UNARY_SQUARE, PRIOR_UNARY_RECIPROCAL, PRIOR_UNARY_LOG1P, PRIOR_UNARY_EXPM1,
  PRIOR_UNARY_AFFINE,     /* in * params[0] + params[1] */
  PRIOR_UNARY_CLAMP_MASK  /* 1 where params[0] <= in <= params[1], else 0 (clamp's backward) */
} prior_unary_op;
typedef prior_status (*prior_unary_kernel)(prior_tensor *out, const prior_tensor *in, int op, const double *params);

/* "binary": out = a op b with broadcasting (a and b broadcast to out's shape). */
typedef enum prior_binary_op {
  PRIOR_BINARY_ADD, PRIOR_BINARY_SUB, PRIOR_BINARY_MUL, PRIOR_BINARY_DIV, PRIOR_BINARY_POW,
  PRIOR_BINARY_MAXIMUM, PRIOR_BINARY_MINIMUM,
  PRIOR_BINARY_EQ, PRIOR_BINARY_NE, PRIOR_BINARY_LT, PRIOR_BINARY_LE, PRIOR_BINARY_GT, PRIOR_BINARY_GE, /* -> bool */
  /* fused backward helpers: a is the incoming gradient, b the saved input or output */
  PRIOR_BINARY_RELU_BACKWARD,    /* a * (b > 0), b = input */
  PRIOR_BINARY_GELU_BACKWARD,    /* a * gelu'(b), b = input */
  PRIOR_BINARY_SIGMOID_BACKWARD, /* a * b * (1 - b), b = output */
  PRIOR_BINARY_TANH_BACKWARD,    /* a * (1 - b^2), b = output */
  PRIOR_BINARY_SIGN_MUL          /* a * sign(b) */
} prior_binary_op;
typedef prior_status (*prior_binary_kernel)(prior_tensor *out, const prior_tensor *a, const prior_tensor *b, int op);

/* "where": out = cond ? a : b (cond bool/u8; all three broadcast to out). */
typedef prior_status (*prior_where_kernel)(prior_tensor *out, const prior_tensor *cond, const prior_tensor *a,
                                           const prior_tensor *b);

/* "reduce": reduces `in` over the dims flagged in reduce_mask (bit d = dim d) into out, whose shape is in's
 * with those dims removed or set to 1. For ARGMAX/ARGMIN/MAX/MIN exactly one dim is flagged; `indices`
 * (i64, out's shape) receives the positions for MAX/MIN when not NULL. */
typedef enum prior_reduce_op {
  PRIOR_REDUCE_SUM, PRIOR_REDUCE_MEAN, PRIOR_REDUCE_MAX, PRIOR_REDUCE_MIN, PRIOR_REDUCE_ARGMAX, PRIOR_REDUCE_ARGMIN,
  PRIOR_REDUCE_LOGSUMEXP, PRIOR_REDUCE_NORM2, PRIOR_REDUCE_PROD
} prior_reduce_op;
typedef prior_status (*prior_reduce_kernel)(prior_tensor *out, prior_tensor *indices, const prior_tensor *in,
                                            uint32_t reduce_mask, int op);
/* "bf16_copy_column_sums" (CPU autocast, a linear's backward with a fused bias): g contiguous f32 [r, m] to copy
 * (contiguous bf16 [r, m], rounded to nearest even) and its column sums to sums (f32 [m]) in one pass; the sums
 * are the "reduce" kernel's over dim 0, bit for bit. */
typedef prior_status (*prior_bf16_copy_column_sums_kernel)(prior_tensor *copy, prior_tensor *sums, const prior_tensor *g);

/* "random_fill" (device backends only; the CPU draws on the host): fills t (any strides) in place with draw
 * number i going to element i in row-major order, drawn from Philox block offset + i/4 of `seed` exactly as
 * prior_philox_uniform_f64 / prior_philox_normal_f64 do, transformed in double and converted to t's dtype:
 * UNIFORM a + (b - a) u, NORMAL a + b n, BERNOULLI (u < a), GUMBEL -log(-log u). */
typedef enum prior_random_kind {
  PRIOR_RANDOM_UNIFORM, PRIOR_RANDOM_NORMAL, PRIOR_RANDOM_BERNOULLI, PRIOR_RANDOM_GUMBEL
} prior_random_kind;
typedef prior_status (*prior_random_fill_kernel)(prior_tensor *t, int kind, double a, double b, uint64_t seed,
                                                 uint64_t offset);

/* "grad_sum" (device backends only): a new tensor a + b of a's shape and dtype (gradient accumulation). */
typedef prior_tensor *(*prior_grad_sum_kernel)(const prior_tensor *a, const prior_tensor *b);

/* "copy" (device backends only): prior_tensor_copy_ semantics when dst or src is on the device. */
typedef prior_status (*prior_copy_kernel)(prior_tensor *dst, const prior_tensor *src);
/* "fill" (device backends only): every element of t (any strides) becomes value converted to t's dtype. */
typedef prior_status (*prior_fill_kernel)(prior_tensor *t, double value);

#endif
