/* Element types. f64 exists for gradient checks on CPU; bf16 and f16 are storage types for checkpoints and
 * (later) mixed precision: they convert to and from f32 but have no arithmetic kernels. */
#ifndef PRIOR_DTYPE_H
#define PRIOR_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum prior_dtype {
  PRIOR_F32 = 0,
  PRIOR_F64 = 1,
  PRIOR_I32 = 2,
  PRIOR_I64 = 3,
  PRIOR_U8 = 4,
  PRIOR_BOOL = 5,
  PRIOR_BF16 = 6,
  PRIOR_F16 = 7,
  PRIOR_DTYPE_COUNT = 8
} prior_dtype;

size_t prior_dtype_size(prior_dtype dtype);
const char *prior_dtype_name(prior_dtype dtype);
/* Parses "f32", "float32", "float", "f64", "double", "i64", "long", ... ; returns -1 when unknown. */
int prior_dtype_from_name(const char *name);
int prior_dtype_is_floating(prior_dtype dtype); /* f32, f64, bf16, f16 */
int prior_dtype_valid(int dtype);

float prior_bf16_to_f32(uint16_t h);
uint16_t prior_f32_to_bf16(float f); /* round to nearest even */
float prior_f16_to_f32(uint16_t h);
uint16_t prior_f32_to_f16(float f);  /* round to nearest even */

#endif
