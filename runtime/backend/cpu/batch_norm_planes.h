/* Per-plane sums of the f32 batch-norm loops (one image's channel is a contiguous run of floats), shared by the
 * CPU kernel (batch_norm.c) and the synchronised batch norm of several processes (dist/sync_batch_norm.c). */
#ifndef PRIOR_BACKEND_CPU_BATCH_NORM_PLANES_H
#define PRIOR_BACKEND_CPU_BATCH_NORM_PLANES_H

#include <stdint.h>

static inline double plane_sum(const float *p, int64_t n) {
  double s = 0; /* in double: the mean must be exact to well below a float ulp (see plane_sq_dev) */
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += p[i];
  return s;
}

/* The mean is carried as a float pair hi + lo (hi = the float nearest the double mean): subtracting a plain
 * float mean leaves an error of half a float ulp of the mean, which is large against the spread of a channel
 * whose mean is large (such channels occur in the CCR decoder), and the normalised values inherit it. */
static inline double plane_sq_dev(const float *p, int64_t n, float hi, float lo) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) {
    float d = (p[i] - hi) - lo;
    s += d * d;
  }
  return s;
}

#endif
