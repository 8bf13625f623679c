/* Matrix products (oneDNN on CPU for f32; a plain reference loop for f64), forward and backward. */
#ifndef PRIOR_OPS_LINALG_H
#define PRIOR_OPS_LINALG_H

#include "prior/tensor.h"

/* torch.matmul semantics: 1-D x 1-D dot, 2-D x 2-D, batched with broadcasting of the batch dims
 * ([..., n, k] x [..., k, m]); 1-D operands are promoted and the added dim removed. */
prior_tensor *prior_matmul(prior_tensor *a, prior_tensor *b);
/* [B, n, k] x [B, k, m] -> [B, n, m], no broadcasting. */
prior_tensor *prior_bmm(prior_tensor *a, prior_tensor *b);
/* x [..., in] times weight [out, in] transposed, plus bias [out] (bias may be NULL): PyTorch's F.linear. */
prior_tensor *prior_linear(prior_tensor *x, prior_tensor *weight, prior_tensor *bias);

/* Under CPU autocast (prior/amp.h) every f32 operand of a product is converted to bf16 for it. An input of several
 * products (the hidden states under an attention's query, key and value projections) can be converted once:
 * prior_autocast_operand(x) is that bf16 copy, differentiable (its gradient is x's), and the products above take a
 * bf16 operand with an f32 one while autocast is on (the bias stays f32). Without autocast it returns x itself
 * (retained). The products' values are the same either way. */
prior_tensor *prior_autocast_operand(prior_tensor *x);

#endif
