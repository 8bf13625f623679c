/* Internal helpers shared by the indexing ops (index_select, embedding, gather, scatter_add). */
#ifndef PRIOR_OPS_INDEX_UTIL_H
#define PRIOR_OPS_INDEX_UTIL_H

#include "prior/tensor.h"

/* Checks that index is an i32/i64 tensor (on x's device) and, when size >= 0, that every value lies in
 * [0, size); the error names op, the first bad value and `what` ("dim 0 of size 5", "5 rows"). */
prior_status prior_check_index_values(const char *op, const prior_tensor *index, int64_t size, const char *what);

/* Rows of x along dim at the (validated, contiguous, 1-D) index: shape x with shape[dim] = numel(index).
 * Backward adds the gradient back with the index_add kernel, skipping positions whose index equals skip
 * (embedding's padding_idx; -1 for none). */
prior_tensor *prior_index_rows(const char *op, prior_tensor *x, int dim, prior_tensor *index, int64_t skip);

#endif
