/* Internal: kernel signatures of the neural-network op families (softmax, layer norm, losses, indexing).
 *
 * Unless a comment says otherwise, every tensor a kernel receives is CONTIGUOUS: the op layer makes inputs
 * contiguous (prior_tensor_contiguous_raw) and allocates outputs, so kernels only walk flat arrays. Floating
 * tensors are f32 or f64 (one dtype per call); index tensors are i32 or i64. Kernels that can meet bad
 * input (an index out of range) return an error with a message; the others only compute. */
#ifndef PRIOR_BACKEND_KERNELS_NN_H
#define PRIOR_BACKEND_KERNELS_NN_H

#include "prior/tensor.h"

/* "softmax" / "softmax_backward": x viewed as [outer, n, inner], normalised over n.
 * log: log-softmax instead of softmax. Backward takes the forward's output y and the incoming gradient g:
 * softmax: dx = y * (g - sum(g * y)); log-softmax: dx = g - exp(y) * sum(g). */
typedef prior_status (*prior_softmax_kernel)(prior_tensor *y, const prior_tensor *x, int64_t outer, int64_t n,
                                             int64_t inner, int log);
typedef prior_status (*prior_softmax_backward_kernel)(prior_tensor *dx, const prior_tensor *g, const prior_tensor *y,
                                                      int64_t outer, int64_t n, int64_t inner, int log);

/* "scaled_masked_softmax": y = softmax over the last dim of x * scale + mask, for x [B, H, Q, K] (attention
 * scores); mask NULL or of x's shape with any strides (0 where broadcast), not necessarily contiguous.
 * "scaled_softmax_backward": dx = scale * the softmax backward of g through y (any shape, softmax over the last
 * dim). The values are those of the composite x * scale, + mask, softmax, and their backward. */
typedef prior_status (*prior_scaled_masked_softmax_kernel)(prior_tensor *y, const prior_tensor *x, double scale,
                                                           const prior_tensor *mask);
typedef prior_status (*prior_scaled_softmax_backward_kernel)(prior_tensor *dx, const prior_tensor *g,
                                                             const prior_tensor *y, double scale);
/* Those two with dropout after the softmax (attention probabilities): "scaled_masked_softmax_dropout" also
 * writes out = y * (bit set ? keep : 0) (bits as for "dropout_apply", element i of x's rows in order), and
 * "scaled_softmax_dropout_backward" takes g for out, applying the mask to it on the way in. The values are those
 * of the softmax kernels and "dropout_apply" one after the other. On the CPU, out may be bf16 for f32 x: those
 * values rounded (the operand of a product under autocast). */
typedef prior_status (*prior_scaled_masked_softmax_dropout_kernel)(prior_tensor *y, prior_tensor *out,
                                                                   const prior_tensor *x, double scale,
                                                                   const prior_tensor *mask, const prior_tensor *bits,
                                                                   double keep);
typedef prior_status (*prior_scaled_softmax_dropout_backward_kernel)(prior_tensor *dx, const prior_tensor *g,
                                                                     const prior_tensor *y, const prior_tensor *bits,
                                                                     double keep, double scale);

/* "layer_norm" / "layer_norm_backward": x viewed as [rows, d]; weight/bias [d] or NULL. mean and rstd [rows]
 * (x's dtype) are written by the forward and read by the backward. dweight/dbias may be NULL (not wanted). */
typedef prior_status (*prior_layer_norm_kernel)(prior_tensor *y, prior_tensor *mean, prior_tensor *rstd,
                                                const prior_tensor *x, const prior_tensor *weight,
                                                const prior_tensor *bias, int64_t rows, int64_t d, double eps);
typedef prior_status (*prior_layer_norm_backward_kernel)(prior_tensor *dx, prior_tensor *dweight, prior_tensor *dbias,
                                                         const prior_tensor *g, const prior_tensor *x,
                                                         const prior_tensor *mean, const prior_tensor *rstd,
                                                         const prior_tensor *weight, int64_t rows, int64_t d);

/* "cross_entropy" / "cross_entropy_backward": logits viewed as [n, c, s] (s = product of the trailing dims),
 * target [n, s]. Per position: loss = (1 - ls) * (lse - x_t) + ls / c * sum_k (lse - x_k), 0 where the target
 * equals ignore_index (which may be negative). The forward writes loss [n, s], lse [n, s] and the number of
 * non-ignored positions; targets outside [0, c) other than ignore_index are an error naming the value.
 * Backward: dlogits = g * (softmax - (1 - ls) * onehot(t) - ls / c), zero at ignored positions. */
typedef prior_status (*prior_cross_entropy_kernel)(prior_tensor *loss, prior_tensor *lse, int64_t *n_valid,
                                                   const prior_tensor *logits, const prior_tensor *target, int64_t n,
                                                   int64_t c, int64_t s, int64_t ignore_index, double ls);
typedef prior_status (*prior_cross_entropy_backward_kernel)(prior_tensor *dlogits, const prior_tensor *g,
                                                            const prior_tensor *logits, const prior_tensor *target,
                                                            const prior_tensor *lse, int64_t n, int64_t c, int64_t s,
                                                            int64_t ignore_index, double ls);

/* "pointwise_loss" / "pointwise_loss_backward": an elementwise loss of input x and target y (same shape), w
 * (same shape, may be NULL) an extra weight (bce's pos_weight). Backward writes dx/dy/dw (any may be NULL)
 * from g (same shape). */
typedef enum prior_pointwise_loss {
  PRIOR_LOSS_L1,         /* |x - y| */
  PRIOR_LOSS_MSE,        /* (x - y)^2 */
  PRIOR_LOSS_SMOOTH_L1,  /* 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; param = beta > 0 */
  PRIOR_LOSS_BCE_LOGITS, /* (1 - y) x + (1 + (w - 1) y) softplus(-x); w = 1 when NULL */
  PRIOR_LOSS_KL,         /* y (log y - x), 0 where y == 0 */
  PRIOR_LOSS_KL_LOG      /* exp(y) (y - x) */
} prior_pointwise_loss;
typedef prior_status (*prior_pointwise_loss_kernel)(prior_tensor *out, const prior_tensor *x, const prior_tensor *y,
                                                    const prior_tensor *w, int op, double param);
typedef prior_status (*prior_pointwise_loss_backward_kernel)(prior_tensor *dx, prior_tensor *dy, prior_tensor *dw,
                                                             const prior_tensor *g, const prior_tensor *x,
                                                             const prior_tensor *y, const prior_tensor *w, int op,
                                                             double param);

/* "index_select" / "index_add": x viewed as [outer, n, inner], index [m] (already bounds-checked).
 * index_select: out[o, i, :] = x[o, index[i], :] (any dtype, by element size).
 * index_add: acc[o, index[i], :] += src[o, i, :] for f32/f64, skipping i where index[i] == skip (use -1 for
 * none). Columns are split across threads, so no two threads touch one element and sums are deterministic. */
typedef prior_status (*prior_index_select_kernel)(prior_tensor *out, const prior_tensor *x, const prior_tensor *index,
                                                  int64_t outer, int64_t n, int64_t inner);
typedef prior_status (*prior_index_add_kernel)(prior_tensor *acc, const prior_tensor *src, const prior_tensor *index,
                                               int64_t outer, int64_t n, int64_t inner, int64_t skip);

/* "gather" / "scatter_add": along dim, index of x's rank with index.shape[d] <= x.shape[d] (d != dim).
 * gather: out (index's shape) [p] = x[p with p[dim] = index[p]] (any dtype). scatter_add: acc[p with
 * p[dim] = index[p]] += src[p] over index's positions (f32/f64; src at least index's shape). Out-of-range
 * index values are an error naming the value. */
typedef prior_status (*prior_gather_kernel)(prior_tensor *out, const prior_tensor *x, int dim,
                                            const prior_tensor *index);
typedef prior_status (*prior_scatter_add_kernel)(prior_tensor *acc, int dim, const prior_tensor *index,
                                                 const prior_tensor *src);

/* "dropout_apply": out = in * (bit i % 8 of bits[i / 8] set ? scale : 0) over n elements; bits is a u8 tensor
 * of (n + 7) / 8 bytes on the device (the packed mask of prior_philox_bernoulli_bits). The product is taken
 * even where the bit is clear (so an Inf or NaN input stays NaN, as a multiplication by a 0/scale mask). */
typedef prior_status (*prior_dropout_apply_kernel)(prior_tensor *out, const prior_tensor *in, const prior_tensor *bits,
                                                   double scale);
/* "relu_bits": out = in > 0 ? in : 0 and bits (a u8 tensor of (n + 7) / 8 bytes) the mask in > 0.
 * "select_bits": out = in where the bit is set, else 0 (ReLU's backward from those bits). */
typedef prior_status (*prior_relu_bits_kernel)(prior_tensor *out, prior_tensor *bits, const prior_tensor *in);
typedef prior_status (*prior_select_bits_kernel)(prior_tensor *out, const prior_tensor *in, const prior_tensor *bits);

#endif
