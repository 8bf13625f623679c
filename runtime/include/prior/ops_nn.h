/* Neural-network building blocks: softmax, dropout, embedding, similarity; forward and backward. */
#ifndef PRIOR_OPS_NN_H
#define PRIOR_OPS_NN_H

#include "prior/tensor.h"

prior_tensor *prior_softmax(prior_tensor *x, int64_t dim);
prior_tensor *prior_log_softmax(prior_tensor *x, int64_t dim);
/* softmax(x * scale + mask, -1) for attention scores x [B, H, Q, K], mask broadcastable to x (or NULL): the
 * values of the three ops in a row, in one pass each way where the device has the fused kernel. The mask gets
 * no gradient unless it requires one (then the ops run one by one). */
prior_tensor *prior_scaled_masked_softmax(prior_tensor *x, double scale, prior_tensor *mask);
/* dropout(scaled_masked_softmax(x, scale, mask), p, training): attention probabilities with dropout. On the CPU
 * one pass each way, with the same mask draws and values as the two ops. */
prior_tensor *prior_scaled_masked_softmax_dropout(prior_tensor *x, double scale, prior_tensor *mask, double p,
                                                  int training);
/* The same when the probabilities only feed a product (times the values): under CPU autocast, while training with
 * dropout, they are written as the bf16 copy the product would make (the same values, one pass fewer); otherwise
 * f32, as above. */
prior_tensor *prior_scaled_masked_softmax_dropout_for_product(prior_tensor *x, double scale, prior_tensor *mask,
                                                              double p, int training);
/* Zeroes elements with probability p and scales the rest by 1/(1-p); identity when !training or p == 0.
 * The mask comes from the global Philox stream. */
prior_tensor *prior_dropout(prior_tensor *x, double p, int training);
/* Zeroes whole channels of [N, C, ...] (nn.Dropout2d): one draw per (n, c), the rest of the dims share it. */
prior_tensor *prior_dropout2d(prior_tensor *x, double p, int training);
/* weight [V, D], indices (i32/i64, any shape) -> [..., D]. Out-of-range indices are an error naming the value.
 * padding_idx < 0 means none; that row gets no gradient. */
prior_tensor *prior_embedding(prior_tensor *weight, prior_tensor *indices, int64_t padding_idx);
/* x / max(||x||_2 over dim, eps) (F.normalize with p=2). */
prior_tensor *prior_normalize(prior_tensor *x, int64_t dim, double eps);
/* F.cosine_similarity over dim with broadcasting of a and b. */
prior_tensor *prior_cosine_similarity(prior_tensor *a, prior_tensor *b, int64_t dim, double eps);

#endif
