/* The random number generator: counter-based Philox4x32-10, keyed by a seed, addressed by an offset.
 *
 * Element i of a draw depends only on (seed, offset at the start of the draw, i), never on how many threads
 * produced it or on the device, so runs reproduce and CPU and GPU draw the same numbers. Every draw advances
 * the global offset by the number of 128-bit Philox blocks it used. */
#ifndef PRIOR_RNG_H
#define PRIOR_RNG_H

#include <stdint.h>

#include "prior/error.h"

typedef struct prior_rng_state {
  uint64_t seed;
  uint64_t offset; /* in Philox blocks of four 32-bit numbers */
} prior_rng_state;

void prior_rng_seed(uint64_t seed);
prior_rng_state prior_rng_get_state(void);
void prior_rng_set_state(prior_rng_state state);
/* Reserves `nblocks` Philox blocks for a draw and returns the offset the draw starts at. */
uint64_t prior_rng_reserve(uint64_t nblocks);

/* One Philox4x32-10 block: four uniformly distributed 32-bit numbers for (seed, counter). */
void prior_philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]);

/* Raw draws into host arrays, element i from block offset + i/4 (uniform) or offset + i/2 (normal, Box-Muller
 * over the block's two pairs). Callers that fill tensors use these with prior_rng_reserve. */
void prior_philox_uniform_f64(uint64_t seed, uint64_t offset, double *out, int64_t n); /* (0, 1) */
void prior_philox_normal_f64(uint64_t seed, uint64_t offset, double *out, int64_t n);
void prior_philox_uniform_f32(uint64_t seed, uint64_t offset, float *out, int64_t n);
void prior_philox_normal_f32(uint64_t seed, uint64_t offset, float *out, int64_t n);
/* Bernoulli draws packed eight to a byte: bit i % 8 of bits[i / 8] is set when uniform draw i (the number
 * prior_philox_uniform_f64 gives for element i) is below p. Same numbers as a bernoulli_ fill of n elements
 * at this offset, in 1/64 of the memory; the unused high bits of the last byte are 0. */
void prior_philox_bernoulli_bits(uint64_t seed, uint64_t offset, double p, uint8_t *bits, int64_t n);

#endif
