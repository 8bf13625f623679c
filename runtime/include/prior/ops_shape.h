/* Shape ops. The view ops return tensors that share the input's storage and record autograd (their
 * backward maps the gradient back onto the input's shape). */
#ifndef PRIOR_OPS_SHAPE_H
#define PRIOR_OPS_SHAPE_H

#include "prior/tensor.h"

/* A view when the strides allow it, else a copy; one entry of shape may be -1 (inferred). */
prior_tensor *prior_reshape(prior_tensor *x, int ndim, const int64_t *shape);
/* Always a view; fails (naming the shapes) when the strides do not allow one. */
prior_tensor *prior_view(prior_tensor *x, int ndim, const int64_t *shape);
prior_tensor *prior_flatten(prior_tensor *x, int64_t start_dim, int64_t end_dim);
prior_tensor *prior_permute(prior_tensor *x, int ndim, const int64_t *order);
prior_tensor *prior_transpose(prior_tensor *x, int64_t dim0, int64_t dim1);
/* Elements start .. start+length-1 along dim. */
prior_tensor *prior_narrow(prior_tensor *x, int64_t dim, int64_t start, int64_t length);
/* Index `index` along dim, removing the dim. Negative index counts from the end. */
prior_tensor *prior_select(prior_tensor *x, int64_t dim, int64_t index);
/* Broadcast to shape (size-1 dims stretch; new leading dims; -1 keeps a size). */
prior_tensor *prior_expand(prior_tensor *x, int ndim, const int64_t *shape);
prior_tensor *prior_squeeze(prior_tensor *x, int64_t dim); /* dim must have size 1 */
prior_tensor *prior_squeeze_all(prior_tensor *x);
prior_tensor *prior_unsqueeze(prior_tensor *x, int64_t dim);
/* x itself (a new reference) when contiguous, else a differentiable contiguous copy. */
prior_tensor *prior_contiguous(prior_tensor *x);
prior_tensor *prior_clone(prior_tensor *x);

#endif
