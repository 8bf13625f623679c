/* Internal: f32 -> bf16 rounding as an inline function, so that conversion loops (autocast's operand copies)
 * vectorise; prior_f32_to_bf16 (prior/dtype.h) is the same function for callers outside the runtime. */
#ifndef PRIOR_CORE_BF16_H
#define PRIOR_CORE_BF16_H

#include <stdint.h>
#include <string.h>

/* Round to nearest even; a NaN stays a (quiet) NaN. */
static inline uint16_t prior_bf16_round(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#endif
