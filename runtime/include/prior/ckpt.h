/* Tensor records: the neutral form in which checkpoint readers (safetensors, PyTorch files) hand out tensors and
 * the safetensors writer takes them. A record is a name, a dtype, a shape and contiguous row-major bytes; it
 * does not own its bytes (the file handle that produced it does, or the caller when writing). */
#ifndef PRIOR_CKPT_H
#define PRIOR_CKPT_H

#include <stddef.h>

#include "prior/error.h"

#define PRIOR_CKPT_MAX_DIMS 8

/* Values 0..7 equal the runtime's prior_dtype, so a record's dtype converts by a cast. I8 and I16 exist in
 * checkpoints but not as runtime dtypes; their values lie outside prior_dtype's range on purpose. */
typedef enum prior_ckpt_dtype {
  PRIOR_CKPT_F32 = 0,
  PRIOR_CKPT_F64 = 1,
  PRIOR_CKPT_I32 = 2,
  PRIOR_CKPT_I64 = 3,
  PRIOR_CKPT_U8 = 4,
  PRIOR_CKPT_BOOL = 5,
  PRIOR_CKPT_BF16 = 6,
  PRIOR_CKPT_F16 = 7,
  PRIOR_CKPT_I8 = 16,
  PRIOR_CKPT_I16 = 17
} prior_ckpt_dtype;

typedef struct prior_ckpt_tensor {
  const char *name;
  prior_ckpt_dtype dtype;
  int ndim;                               /* 0 for a scalar */
  long long shape[PRIOR_CKPT_MAX_DIMS];
  const void *data;                       /* contiguous row-major, aligned to the element size; NULL if nbytes is 0 */
  size_t nbytes;                          /* product of shape * element size */
  /* How a PyTorch checkpoint stored the tensor: element strides and offset into its storage (which other
   * tensors may share). `data` is always the contiguous copy or, when the stored view was already contiguous,
   * a pointer straight into the file. Zero for safetensors. */
  long long source_strides[PRIOR_CKPT_MAX_DIMS];
  long long source_offset;
} prior_ckpt_tensor;

/* Element size in bytes; 0 for a value that is not a prior_ckpt_dtype. */
size_t prior_ckpt_dtype_size(prior_ckpt_dtype dtype);
/* The safetensors name ("F32", "BF16", "BOOL", ...); "?" for an unknown value. */
const char *prior_ckpt_dtype_name(prior_ckpt_dtype dtype);
/* Parses a safetensors dtype name; -1 when unknown. */
int prior_ckpt_dtype_from_name(const char *name);
/* Element count of a shape, or -1 when a dimension is negative or the product exceeds 2^59. */
long long prior_ckpt_numel(int ndim, const long long *shape);

#endif
