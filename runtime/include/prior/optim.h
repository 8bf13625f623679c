/* Optimizer update rules, applied in place to one parameter tensor at a time (no autograd).
 *
 * The math is PyTorch's torch.optim (single-tensor, foreach=False path), so a run reproduces a PyTorch run
 * step for step. Parameters, gradients and state tensors must be contiguous, of the same shape, dtype (f32
 * or f64) and device (CPU). Learning-rate schedules are per-step functions on the Lua side. */
#ifndef PRIOR_OPTIM_H
#define PRIOR_OPTIM_H

#include <stdint.h>

#include "prior/tensor.h"

/* SGD: g = grad + weight_decay * param; with momentum, buf = g on the first step, else
 * buf = momentum * buf + (1 - dampening) * g, and g = g + momentum * buf (nesterov) or g = buf;
 * then param -= lr * g. momentum_buf may be NULL when momentum == 0. */
prior_status prior_sgd_step(prior_tensor *param, const prior_tensor *grad, prior_tensor *momentum_buf,
                            int first_step, double lr, double momentum, double dampening, double weight_decay,
                            int nesterov);

/* Adam (decoupled = 0: weight decay added to the gradient, torch.optim.Adam) and AdamW (decoupled = 1:
 * param *= 1 - lr * weight_decay first, torch.optim.AdamW). `step` counts from 1 and gives the bias
 * corrections 1 - beta^step. exp_avg and exp_avg_sq start at zero. */
prior_status prior_adam_step(prior_tensor *param, const prior_tensor *grad, prior_tensor *exp_avg,
                             prior_tensor *exp_avg_sq, int64_t step, double lr, double beta1, double beta2,
                             double eps, double weight_decay, int decoupled);

/* Scales the n gradients (NULL entries are skipped) in place so that their joint L2 norm is at most
 * max_norm, as torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (total + 1e-6), applied only when
 * below 1). Writes the norm before clipping to *total_norm (may be NULL). */
prior_status prior_clip_grad_norm(int n, prior_tensor *const *grads, double max_norm, double *total_norm);

#endif
