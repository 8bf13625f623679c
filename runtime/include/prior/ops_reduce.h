/* Reductions over chosen dims, forward and backward. `dims` lists dimensions (negative counts from the end);
 * n_dims = 0 reduces over all of them. keepdim keeps reduced dims with size 1. */
#ifndef PRIOR_OPS_REDUCE_H
#define PRIOR_OPS_REDUCE_H

#include "prior/tensor.h"

prior_tensor *prior_sum(prior_tensor *x, int n_dims, const int64_t *dims, int keepdim);
prior_tensor *prior_mean(prior_tensor *x, int n_dims, const int64_t *dims, int keepdim);
prior_tensor *prior_logsumexp(prior_tensor *x, int n_dims, const int64_t *dims, int keepdim);
/* L2 norm: sqrt(sum(x^2)); its gradient at 0 is taken as 0. */
prior_tensor *prior_norm(prior_tensor *x, int n_dims, const int64_t *dims, int keepdim);
/* Max/min along one dim: values (differentiable) and, when indices is not NULL, an i64 tensor of positions. */
prior_tensor *prior_max(prior_tensor *x, int64_t dim, int keepdim, prior_tensor **indices);
prior_tensor *prior_min(prior_tensor *x, int64_t dim, int keepdim, prior_tensor **indices);
/* Max/min of all elements (0-dim, differentiable; ties: the gradient goes to the first). */
prior_tensor *prior_max_all(prior_tensor *x);
prior_tensor *prior_min_all(prior_tensor *x);
prior_tensor *prior_argmax(prior_tensor *x, int64_t dim, int keepdim);
prior_tensor *prior_argmin(prior_tensor *x, int64_t dim, int keepdim);

/* Normalises a dim index against ndim (negative counts from the end); error names the op. */
prior_status prior_normalize_dim(const char *op, int64_t dim, int ndim, int *out);

#endif
