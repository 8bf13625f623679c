/* Losses, forward and backward. Reductions follow PyTorch's `reduction` argument. */
#ifndef PRIOR_OPS_LOSS_H
#define PRIOR_OPS_LOSS_H

#include "prior/tensor.h"

typedef enum prior_reduction { PRIOR_REDUCTION_NONE = 0, PRIOR_REDUCTION_MEAN = 1, PRIOR_REDUCTION_SUM = 2 } prior_reduction;

/* logits [N, C] (or [N, C, d...]), target class indices [N] (or [N, d...]); ignore_index < 0 means none
 * (PyTorch's -100 default is accepted too). label_smoothing in [0, 1). */
prior_tensor *prior_cross_entropy(prior_tensor *logits, prior_tensor *target, prior_reduction reduction,
                                  int64_t ignore_index, double label_smoothing);
/* pos_weight [C] may be NULL. */
prior_tensor *prior_bce_with_logits(prior_tensor *logits, prior_tensor *target, prior_tensor *pos_weight,
                                    prior_reduction reduction);
prior_tensor *prior_l1_loss(prior_tensor *input, prior_tensor *target, prior_reduction reduction);
prior_tensor *prior_smooth_l1_loss(prior_tensor *input, prior_tensor *target, prior_reduction reduction, double beta);
prior_tensor *prior_mse_loss(prior_tensor *input, prior_tensor *target, prior_reduction reduction);
/* input: log-probabilities; target: log-probabilities when log_target, else probabilities.
 * PRIOR_REDUCTION_MEAN here means 'batchmean' (sum / N), as PRIOR uses it. */
prior_tensor *prior_kl_div(prior_tensor *input, prior_tensor *target, prior_reduction reduction, int log_target);

#endif
