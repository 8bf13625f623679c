/* The GPU's random fills, emulated on the host: runtime/backend/cuda/philox_math.h is the arithmetic the
 * random_fill kernel runs, so running it here against the CPU's prior_tensor_* draws checks that both
 * devices give the same numbers for the same seed and offset. Uniform and Bernoulli must agree bit for bit;
 * normal and Gumbel use log/cos/sin, so they must agree exactly in f32 and to a few ulp in f64 (the CUDA
 * versions of those functions are not glibc's; see philox_math.h). No GPU needed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/philox_math.h"
#include "check.h"
#include "prior/rng.h"
#include "prior/tensor.h"

enum { N = 4099 }; /* not a multiple of 4: the last block is partly used */

/* Draws with the CPU, then emulates the same draw from the state the CPU started at. */
static void compare(int kind, prior_dtype dtype, double a, double b, uint64_t seed, const char *what) {
  prior_rng_seed(seed);
  prior_tensor *warm = prior_tensor_rand(1, (int64_t[]){7}, PRIOR_F32, prior_cpu()); /* a non-zero offset */
  prior_tensor_free(warm);
  prior_rng_state st = prior_rng_get_state();
  int64_t shape[2] = {N, 1};
  prior_tensor *t = prior_tensor_empty(2, shape, dtype, prior_cpu());
  switch (kind) {
    case 0: CHECK_OK(prior_tensor_uniform_(t, a, b)); break;
    case 1: CHECK_OK(prior_tensor_normal_(t, a, b)); break;
    case 2: CHECK_OK(prior_tensor_bernoulli_(t, a)); break;
    default: CHECK_OK(prior_tensor_gumbel_(t)); break;
  }
  CHECK(prior_rng_get_state().offset == st.offset + (N + 3) / 4);
  int64_t exact = 0, worst_ulp = 0;
  for (int64_t i = 0; i < N; i++) {
    double v = prior_hd_random_value(st.seed, st.offset, i, kind, a, b);
    if (dtype == PRIOR_F32) {
      float got = ((float *)prior_tensor_data(t))[i], want = (float)v;
      exact += memcmp(&got, &want, 4) == 0;
    } else {
      double got = ((double *)prior_tensor_data(t))[i];
      int64_t gi, wi;
      memcpy(&gi, &got, 8), memcpy(&wi, &v, 8);
      int64_t ulp = llabs(gi - wi);
      if (ulp > worst_ulp) worst_ulp = ulp;
      exact += ulp == 0;
    }
  }
  int must_be_exact = kind == 0 || kind == 2 || dtype == PRIOR_F32;
  if (must_be_exact)
    CHECK_MSG(exact == N, "%s: %lld of %d draws differ", what, (long long)(N - exact), N);
  else
    CHECK_MSG(worst_ulp <= 4, "%s: %lld ulp apart", what, (long long)worst_ulp);
  prior_tensor_free(t);
}

int main(void) {
  compare(0, PRIOR_F32, 0.0, 1.0, 1, "uniform f32");
  compare(0, PRIOR_F64, 0.0, 1.0, 2, "uniform f64");
  compare(0, PRIOR_F32, -3.0, 5.0, 3, "uniform(-3, 5) f32");
  compare(1, PRIOR_F32, 0.0, 1.0, 4, "normal f32");
  compare(1, PRIOR_F32, 2.0, 0.5, 5, "normal(2, 0.5) f32");
  compare(1, PRIOR_F64, 0.0, 1.0, 6, "normal f64");
  compare(2, PRIOR_F32, 0.9, 0.0, 7, "bernoulli(0.9) f32");
  compare(2, PRIOR_F64, 0.1, 0.0, 8, "bernoulli(0.1) f64");
  compare(3, PRIOR_F32, 0.0, 0.0, 9, "gumbel f32");
  compare(3, PRIOR_F64, 0.0, 0.0, 10, "gumbel f64");
  /* the Philox block itself against the library's */
  for (uint64_t c = 0; c < 64; c++) {
    uint32_t x[4], y[4];
    prior_philox4x32(0x123456789abcdefULL, c * 977, x);
    prior_hd_philox(0x123456789abcdefULL, c * 977, y);
    CHECK(memcmp(x, y, sizeof x) == 0);
  }
  return check_summary("test_cuda_philox_emulation");
}
