/* Normalisation layers, forward and backward. */
#ifndef PRIOR_OPS_NORM_H
#define PRIOR_OPS_NORM_H

#include "prior/tensor.h"

/* x [N, C, H, W]. training: batch statistics, and running_mean/var (may be NULL) updated in place with
 * momentum (unbiased variance, as PyTorch); eval: the running statistics. weight/bias [C] may be NULL. */
prior_tensor *prior_batch_norm2d(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                 prior_tensor *weight, prior_tensor *bias, int training, double momentum, double eps);
/* relu(batch_norm2d(...)) with the same arguments, in one pass where the device has the fused kernels (the CPU):
 * the same values and gradients as the two ops, without the ReLU's own pass over the map or its saved mask. */
prior_tensor *prior_batch_norm2d_relu(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                      prior_tensor *weight, prior_tensor *bias, int training, double momentum,
                                      double eps);
/* Normalises over the last `n_normalized` dims; weight/bias of those dims' shape, may be NULL. */
prior_tensor *prior_layer_norm(prior_tensor *x, int n_normalized, prior_tensor *weight, prior_tensor *bias, double eps);

#endif
