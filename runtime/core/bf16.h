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

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>

/* prior_bf16_round on sixteen lanes (the same bits, NaN included), packed into sixteen bf16 values. */
static inline __m256i prior_bf16_round16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v), high = _mm512_srli_epi32(u, 16);
  __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), _mm512_and_si512(high, _mm512_set1_epi32(1))),
      16);
  __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                          _mm512_set1_epi32(0x7f800000));
  rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(high, _mm512_set1_epi32(0x40)));
  return _mm512_cvtepi32_epi16(rounded);
}
#endif

#endif
