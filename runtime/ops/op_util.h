/* Internal helpers shared by the op families. */
#ifndef PRIOR_OPS_OP_UTIL_H
#define PRIOR_OPS_OP_UTIL_H

#include "backend/kernels.h"
#include "prior/autograd.h"
#include "prior/tensor.h"

/* The kernel `name` for t's device, or NULL with an error naming the op and device. */
prior_kernel_fn prior_op_kernel(const char *op, const char *name, const prior_tensor *t);

/* Sums g down to `shape` (undoing broadcasting): a new reference; g itself (retained) when shapes match. */
prior_tensor *prior_sum_to_shape(prior_tensor *g, int ndim, const int64_t *shape);

/* Backends' elementwise kernels called directly (no autograd), allocating the output. */
prior_tensor *prior_unary_raw(const char *op_name, prior_tensor *x, int op, double p0, double p1);
/* The same with the result written in `dtype` (the CPU kernel also takes f32 in, bf16 out: f(x) rounded). */
prior_tensor *prior_unary_raw_to(const char *op_name, prior_tensor *x, int op, double p0, double p1, prior_dtype dtype);
prior_tensor *prior_binary_raw(const char *op_name, prior_tensor *a, prior_tensor *b, int op);

/* Whether an f32 operand of a matmul or convolution is lowered to bf16 by the op itself (autocast is on and t
 * lives on a CPU with native bf16): such products read bf16 anyway, so converting once in the op and keeping
 * the bf16 copy for backward saves the conversions each backward product would repeat. */
int prior_op_lowers_to_bf16(const prior_tensor *t);

/* A bf16 copy of the f32 CPU tensor t, laid out in t's own memory order (a transposed view stays transposed,
 * so the copy is one streaming pass; a contiguous t gives a contiguous copy), broadcast dims kept broadcast. */
prior_tensor *prior_op_bf16_copy(prior_tensor *t);

/* Dropout's packed keep-mask for n elements (ops/dropout.c): a u8 tensor on the host, bit i set when element i
 * is kept (probability 1 - p), the same draws a bernoulli_ fill of n elements makes; *scale gets 1 / (1 - p). */
prior_tensor *prior_op_dropout_bits(int64_t n, double p, double *scale);

#endif
