/* Internal: a loop over several tensors of one shape with their own strides (elementwise kernels, copies).
 *
 * Adjacent dimensions that are contiguous in every operand are merged first, so the common case (all
 * contiguous) becomes one flat loop. The work is cut into chunks of the linear index, run in parallel,
 * and the callback gets runs along the innermost dimension with per-operand byte strides. */
#ifndef PRIOR_CORE_STRIDED_H
#define PRIOR_CORE_STRIDED_H

#include <stdint.h>

#include "prior/tensor.h"

#define PRIOR_STRIDED_MAX_OPERANDS 6

typedef struct prior_strided {
  int n_operands;
  int ndim;
  int64_t shape[PRIOR_MAX_DIMS];
  int64_t strides[PRIOR_STRIDED_MAX_OPERANDS][PRIOR_MAX_DIMS]; /* bytes */
  char *data[PRIOR_STRIDED_MAX_OPERANDS];
} prior_strided;

/* Runs `n` elements starting at ptrs, operand k advancing by strides[k] bytes per element. */
typedef void (*prior_strided_fn)(char **ptrs, const int64_t *strides, int64_t n, void *ctx);

/* Operands must all have `ndim`/`shape` (broadcast inputs first with stride 0). */
void prior_strided_init(prior_strided *it, int ndim, const int64_t *shape, int n_operands, prior_tensor *const *operands);
/* Same, with explicit per-operand element strides (for broadcast views that are not tensors). */
void prior_strided_init_raw(prior_strided *it, int ndim, const int64_t *shape, int n_operands, char *const *data,
                            const int64_t *const *elem_strides, const size_t *elem_sizes);
void prior_strided_run(const prior_strided *it, prior_strided_fn fn, void *ctx, int allow_parallel);
int64_t prior_strided_numel(const prior_strided *it);

/* Strides that broadcast tensor t to shape (ndim): 0 on broadcast dims. Returns 0 if not broadcastable. */
/* Dense strides with the dims in the same memory order as `strides` (largest stride outermost; ties keep the
 * logical order): the layout a copy of a transposed or permuted view takes so that copying it is one streaming
 * pass. Returns the number of elements. */
int64_t prior_same_order_strides(int ndim, const int64_t *shape, const int64_t *strides, int64_t *dense_out);

int prior_broadcast_strides(const prior_tensor *t, int ndim, const int64_t *shape, int64_t *strides_out);

#endif
