/* Internal: the arithmetic of the GPU's random fills, written once for the device and for a host-side
 * emulation test (tests/c/test_cuda_philox_emulation.c) that checks it against the CPU's draws.
 *
 * It repeats rng.c step by step: Philox4x32-10 (integer arithmetic, exact everywhere), 32 bits -> (0, 1) as
 * (x + 0.5) / 2^32 (exact in double), Box-Muller in double, the transform in double, then the conversion to
 * the tensor's dtype. Products and sums are rounded one at a time (no fused multiply-add), as the C
 * expressions in rng.c and tensor.c are written. What can differ from the CPU: the device's double log,
 * cos and sin (CUDA's are accurate to 1-2 ulp, glibc's to < 1 ulp), and a CPU
 * build that contracts a + b * x into an FMA (-march=native). Those reach only the last bits of the double;
 * converted to f32 the numbers agree except when the double lies within an ulp of a rounding boundary. */
#ifndef PRIOR_CUDA_PHILOX_MATH_H
#define PRIOR_CUDA_PHILOX_MATH_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define PRIOR_HD __host__ __device__ __forceinline__
#else
#define PRIOR_HD static inline
#endif

PRIOR_HD void prior_hd_philox(uint64_t seed, uint64_t counter, uint32_t out[4]) {
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

#ifdef __CUDA_ARCH__
#define PRIOR_HD_MUL(a, b) __dmul_rn((a), (b))
#define PRIOR_HD_ADD(a, b) __dadd_rn((a), (b))
#else
#define PRIOR_HD_MUL(a, b) ((a) * (b))
#define PRIOR_HD_ADD(a, b) ((a) + (b))
#endif

PRIOR_HD double prior_hd_open_unit(uint32_t x) { return PRIOR_HD_MUL((double)x + 0.5, 1.0 / 4294967296.0); }

/* Draw i of a fill starting at block `offset`, transformed (kind: prior_random_kind), in double. */
PRIOR_HD double prior_hd_random_value(uint64_t seed, uint64_t offset, int64_t i, int kind, double a, double b) {
  uint32_t r[4];
  prior_hd_philox(seed, offset + (uint64_t)(i / 4), r);
  int j = (int)(i % 4);
  if (kind == 1) { /* normal: pair j/2 of the block, cos for the first of the pair, sin for the second */
    int pair = j / 2;
    double u1 = prior_hd_open_unit(r[2 * pair]), u2 = prior_hd_open_unit(r[2 * pair + 1]);
    double radius = sqrt(PRIOR_HD_MUL(-2.0, log(u1))), angle = PRIOR_HD_MUL(2.0 * M_PI, u2);
    double n = PRIOR_HD_MUL(radius, (j % 2 == 0) ? cos(angle) : sin(angle));
    return PRIOR_HD_ADD(a, PRIOR_HD_MUL(b, n));
  }
  double u = prior_hd_open_unit(r[j]);
  if (kind == 0) return PRIOR_HD_ADD(a, PRIOR_HD_MUL(b - a, u));
  if (kind == 2) return u < a ? 1.0 : 0.0;
  return -log(-log(u)); /* gumbel */
}

#endif
