/* Joining, splitting and indexing, forward and backward. Index tensors are i64 (i32 accepted). */
#ifndef PRIOR_OPS_INDEX_H
#define PRIOR_OPS_INDEX_H

#include "prior/tensor.h"

prior_tensor *prior_cat(int n, prior_tensor *const *xs, int64_t dim);
prior_tensor *prior_stack(int n, prior_tensor *const *xs, int64_t dim);
/* Splits into pieces of `size` along dim (the last may be smaller); writes up to max_out views into out and
 * returns how many, or -1 on error. Each piece is a differentiable view (narrow). More pieces than max_out is
 * an error; with out == NULL nothing is made and the count is returned. */
int prior_split(prior_tensor *x, int64_t size, int64_t dim, prior_tensor **out, int max_out);
/* n_chunks pieces as torch.chunk (pieces of ceil(len / n_chunks), so there may be fewer than n_chunks); same
 * return convention. */
int prior_chunk(prior_tensor *x, int64_t n_chunks, int64_t dim, prior_tensor **out, int max_out);
/* Rows of x along dim picked by a 1-D index. */
prior_tensor *prior_index_select(prior_tensor *x, int64_t dim, prior_tensor *index);
/* torch.gather: out[i][j] = x[i][index[i][j]] along dim; index has x's ndim. */
prior_tensor *prior_gather(prior_tensor *x, int64_t dim, prior_tensor *index);
/* Returns a copy of x with src added at index along dim (torch.scatter_add, out of place). */
prior_tensor *prior_scatter_add(prior_tensor *x, int64_t dim, prior_tensor *index, prior_tensor *src);
/* Returns a copy of x with value where mask (bool/u8, broadcast to x) is set. */
prior_tensor *prior_masked_fill(prior_tensor *x, prior_tensor *mask, double value);

#endif
