/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011). */
#include "prior/rng.h"

#include <math.h>
#include <pthread.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

static prior_rng_state global_state = {0x5eed5eedULL, 0};
static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;

void prior_rng_seed(uint64_t seed) {
  pthread_mutex_lock(&rng_lock);
  global_state.seed = seed;
  global_state.offset = 0;
  pthread_mutex_unlock(&rng_lock);
}

prior_rng_state prior_rng_get_state(void) {
  pthread_mutex_lock(&rng_lock);
  prior_rng_state s = global_state;
  pthread_mutex_unlock(&rng_lock);
  return s;
}

void prior_rng_set_state(prior_rng_state state) {
  pthread_mutex_lock(&rng_lock);
  global_state = state;
  pthread_mutex_unlock(&rng_lock);
}

uint64_t prior_rng_reserve(uint64_t nblocks) {
  pthread_mutex_lock(&rng_lock);
  uint64_t start = global_state.offset;
  global_state.offset += nblocks;
  pthread_mutex_unlock(&rng_lock);
  return start;
}

void prior_philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)M0 * c0, p1 = (uint64_t)M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n1 = (uint32_t)p1;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    uint32_t n3 = (uint32_t)p0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += W0, k1 += W1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* Maps 32 random bits to (0, 1): never 0 (log is safe) and never 1. */
static inline double bits_to_open_unit(uint32_t x) { return ((double)x + 0.5) * (1.0 / 4294967296.0); }

void prior_philox_uniform_f64(uint64_t seed, uint64_t offset, double *out, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < (n + 3) / 4; b++) {
    uint32_t r[4];
    prior_philox4x32(seed, offset + (uint64_t)b, r);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) out[b * 4 + j] = bits_to_open_unit(r[j]);
  }
}

void prior_philox_normal_f64(uint64_t seed, uint64_t offset, double *out, int64_t n) {
  /* Box-Muller: each block gives two pairs of uniforms, so two normals per pair -> four per block. */
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < (n + 3) / 4; b++) {
    uint32_t r[4];
    prior_philox4x32(seed, offset + (uint64_t)b, r);
    for (int pair = 0; pair < 2; pair++) {
      double u1 = bits_to_open_unit(r[2 * pair]), u2 = bits_to_open_unit(r[2 * pair + 1]);
      double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * M_PI * u2;
      int64_t i = b * 4 + 2 * pair;
      if (i < n) out[i] = radius * cos(angle);
      if (i + 1 < n) out[i + 1] = radius * sin(angle);
    }
  }
}

void prior_philox_uniform_f32(uint64_t seed, uint64_t offset, float *out, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < (n + 3) / 4; b++) {
    uint32_t r[4];
    prior_philox4x32(seed, offset + (uint64_t)b, r);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
      float v = (float)bits_to_open_unit(r[j]);
      out[b * 4 + j] = v < 1.0f ? v : 0.99999994f; /* rounding to float may reach 1 */
    }
  }
}

/* Sixteen consecutive Philox blocks, counter .. counter + 15: out[j][l] is number j of block counter + l. The
 * same rounds as prior_philox4x32, sixteen lanes at a time on AVX-512 (the 32 x 32 -> 64-bit products as even
 * and odd lanes); elsewhere block by block. */
#define PHILOX_LANES 16
#ifdef __AVX512F__
static inline void mul_hi_lo(__m512i a, __m512i m, __m512i *hi, __m512i *lo) {
  __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  *lo = _mm512_mullo_epi32(a, m);
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

static void philox_x16(uint64_t seed, uint64_t counter, uint32_t out[4][PHILOX_LANES]) {
  const __m512i M0 = _mm512_set1_epi32((int)0xD2511F53u), M1 = _mm512_set1_epi32((int)0xCD9E8D57u);
  const __m512i base_lo = _mm512_set1_epi32((int)(uint32_t)counter);
  const __m512i base_hi = _mm512_set1_epi32((int)(uint32_t)(counter >> 32));
  __m512i c0 = _mm512_add_epi32(base_lo, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __mmask16 carry = _mm512_cmplt_epu32_mask(c0, base_lo); /* the low word wrapped */
  __m512i c1 = _mm512_mask_add_epi32(base_hi, carry, base_hi, _mm512_set1_epi32(1));
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; round++) {
    __m512i hi0, lo0, hi1, lo1;
    mul_hi_lo(c0, M0, &hi0, &lo0);
    mul_hi_lo(c2, M1, &hi1, &lo1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
    c3 = lo0;
    k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
  }
  _mm512_storeu_si512(out[0], c0);
  _mm512_storeu_si512(out[1], c1);
  _mm512_storeu_si512(out[2], c2);
  _mm512_storeu_si512(out[3], c3);
}
#else
static void philox_x16(uint64_t seed, uint64_t counter, uint32_t out[4][PHILOX_LANES]) {
  for (int l = 0; l < PHILOX_LANES; l++) {
    uint32_t r[4];
    prior_philox4x32(seed, counter + (uint64_t)l, r);
    for (int j = 0; j < 4; j++) out[j][l] = r[j];
  }
}
#endif

void prior_philox_bernoulli_bits(uint64_t seed, uint64_t offset, double p, uint8_t *bits, int64_t n) {
  /* bits_to_open_unit(x) < p  <=>  x + 0.5 < p 2^32  <=>  x < ceil(p 2^32 - 0.5): an integer compare, exact
   * since p 2^32 - 0.5 is exact in double for p in [0, 1] */
  double t = p * 4294967296.0 - 0.5;
  uint64_t threshold = t <= 0 ? 0 : (uint64_t)ceil(t);
  /* byte k holds elements 8k .. 8k+7 (Philox blocks 2k and 2k + 1); a group of 8 bytes is 16 blocks */
  int64_t nbytes = (n + 7) / 8, groups = (nbytes + 7) / 8;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t g = 0; g < groups; g++) {
    uint32_t r[4][PHILOX_LANES];
    philox_x16(seed, offset + PHILOX_LANES * (uint64_t)g, r);
    for (int b = 0; b < 8 && 8 * g + b < nbytes; b++) {
      int64_t k = 8 * g + b;
      unsigned byte = 0;
      for (int j = 0; j < 8; j++) byte |= (unsigned)((uint64_t)r[j % 4][2 * b + j / 4] < threshold) << j;
      if (8 * k + 8 > n) byte &= (1u << (n - 8 * k)) - 1; /* past the end: 0 */
      bits[k] = (uint8_t)byte;
    }
  }
}

void prior_philox_normal_f32(uint64_t seed, uint64_t offset, float *out, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < (n + 3) / 4; b++) {
    uint32_t r[4];
    prior_philox4x32(seed, offset + (uint64_t)b, r);
    for (int pair = 0; pair < 2; pair++) {
      double u1 = bits_to_open_unit(r[2 * pair]), u2 = bits_to_open_unit(r[2 * pair + 1]);
      double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * M_PI * u2;
      int64_t i = b * 4 + 2 * pair;
      if (i < n) out[i] = (float)(radius * cos(angle));
      if (i + 1 < n) out[i + 1] = (float)(radius * sin(angle));
    }
  }
}
