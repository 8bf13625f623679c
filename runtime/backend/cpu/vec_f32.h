/* Internal: f32 row helpers written so that GCC vectorises them without -ffast-math.
 *
 * libm's expf is a scalar call, and a single running sum is bound by the latency of one add per element; both
 * dominate softmax-like kernels. vexpf is a branch-free exp (Cody-Waite range reduction and a degree-6
 * polynomial, within ~2 ulp of expf on [-87, 88]; 0 below -87, inf above 88, NaN kept), and the reductions
 * keep eight independent lanes that the compiler maps onto SIMD registers. */
#ifndef PRIOR_BACKEND_CPU_VEC_F32_H
#define PRIOR_BACKEND_CPU_VEC_F32_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define PRIOR_VEC_LANES 8

static inline float vexpf(float x) {
  float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  /* k = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |k| < 2^22) */
  float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - k * 0.693145751953125f; /* ln 2 split in two for an exact product */
  r = r - k * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = ((int32_t)k + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float e = p * scale;
  e = x < -87.0f ? 0.0f : e;
  e = x > 88.0f ? INFINITY : e;
  return x != x ? x : e;
}

/* 1 + erf(x) for GELU, branch-free: erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x| / 2), with the degree-9
 * Chebyshev fit of Numerical Recipes (relative error below 1.2e-7 for every x); 1 + erf(x) is erfc(|x|) for
 * x < 0, with no cancellation (libm's 1 + erff(x) loses the tail to rounding), and 2 - erfc(x) otherwise. */
static inline float v1perff(float x) {
  float z = fabsf(x);
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float erfc = t * vexpf(-z * z + p);
  return x < 0 ? erfc : 2.0f - erfc;
}

static inline float vec_max_f32(const float *x, int64_t n) {
  float m[PRIOR_VEC_LANES];
  for (int j = 0; j < PRIOR_VEC_LANES; j++) m[j] = -INFINITY;
  int64_t k = 0;
  for (; k + PRIOR_VEC_LANES <= n; k += PRIOR_VEC_LANES)
    for (int j = 0; j < PRIOR_VEC_LANES; j++) m[j] = x[k + j] > m[j] ? x[k + j] : m[j];
  float r = -INFINITY;
  for (int j = 0; j < PRIOR_VEC_LANES; j++) r = m[j] > r ? m[j] : r;
  for (; k < n; k++) r = x[k] > r ? x[k] : r;
  return r;
}

/* sum of exp(x - m); writes the exponentials to y when y is not NULL. */
static inline double vec_exp_sum_f32(const float *x, float m, float *y, int64_t n) {
  float acc[PRIOR_VEC_LANES] = {0};
  int64_t k = 0;
  if (y) {
    for (; k + PRIOR_VEC_LANES <= n; k += PRIOR_VEC_LANES)
      for (int j = 0; j < PRIOR_VEC_LANES; j++) {
        float e = vexpf(x[k + j] - m);
        y[k + j] = e;
        acc[j] += e;
      }
  } else {
    for (; k + PRIOR_VEC_LANES <= n; k += PRIOR_VEC_LANES)
      for (int j = 0; j < PRIOR_VEC_LANES; j++) acc[j] += vexpf(x[k + j] - m);
  }
  double s = 0;
  for (int j = 0; j < PRIOR_VEC_LANES; j++) s += acc[j];
  for (; k < n; k++) {
    float e = vexpf(x[k] - m);
    if (y) y[k] = e;
    s += e;
  }
  return s;
}

/* sum of x (and of a * b when b is not NULL: the dot product), accumulated in double lanes. */
static inline double vec_sum_f32(const float *x, int64_t n) {
  double acc[PRIOR_VEC_LANES] = {0};
  int64_t k = 0;
  for (; k + PRIOR_VEC_LANES <= n; k += PRIOR_VEC_LANES)
    for (int j = 0; j < PRIOR_VEC_LANES; j++) acc[j] += x[k + j];
  double s = 0;
  for (int j = 0; j < PRIOR_VEC_LANES; j++) s += acc[j];
  for (; k < n; k++) s += x[k];
  return s;
}

static inline double vec_dot_f32(const float *a, const float *b, int64_t n) {
  double acc[PRIOR_VEC_LANES] = {0};
  int64_t k = 0;
  for (; k + PRIOR_VEC_LANES <= n; k += PRIOR_VEC_LANES)
    for (int j = 0; j < PRIOR_VEC_LANES; j++) acc[j] += (double)a[k + j] * b[k + j];
  double s = 0;
  for (int j = 0; j < PRIOR_VEC_LANES; j++) s += acc[j];
  for (; k < n; k++) s += (double)a[k] * b[k];
  return s;
}

/* sum of (x - mu)^2 in double lanes. */
static inline double vec_sq_dev_f32(const float *x, double mu, int64_t n) {
  double acc[PRIOR_VEC_LANES] = {0};
  int64_t k = 0;
  for (; k + PRIOR_VEC_LANES <= n; k += PRIOR_VEC_LANES)
    for (int j = 0; j < PRIOR_VEC_LANES; j++) {
      double c = x[k + j] - mu;
      acc[j] += c * c;
    }
  double s = 0;
  for (int j = 0; j < PRIOR_VEC_LANES; j++) s += acc[j];
  for (; k < n; k++) s += (x[k] - mu) * (x[k] - mu);
  return s;
}

#endif
