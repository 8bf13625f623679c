/* CPU softmax and log-softmax over the middle dim of a contiguous [outer, n, inner] view, and their fused
 * backward. Stable: the row maximum is subtracted before exponentiating. inner == 1 (the last dim, the common
 * case) walks rows directly; otherwise each (outer, inner) column is handled with stride `inner`. Sums
 * accumulate in double for f32. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "backend/cpu/vec_f32.h"
#include "core/bf16.h"
#include "backend/kernels_nn.h"
#include "prior/device.h"

#define DEFINE_SOFTMAX(T, SUF, EXP, LOG)                                                                       \
  static void softmax_##SUF(T *y, const T *x, int64_t outer, int64_t n, int64_t inner, int use_log) {            \
    int64_t cols = outer * inner;                                                                             \
    _Pragma("omp parallel for schedule(static) if (cols * n > 32768)")                                        \
    for (int64_t col = 0; col < cols; col++) {                                                               \
      int64_t o = col / inner, i = col % inner;                                                               \
      const T *xr = x + o * n * inner + i;                                                                    \
      T *yr = y + o * n * inner + i;                                                                          \
      T m = -INFINITY;                                                                                        \
      for (int64_t k = 0; k < n; k++) m = xr[k * inner] > m ? xr[k * inner] : m;                              \
      if (isinf(m) && m < 0) m = 0; /* an all -inf row: avoid inf - inf */                                    \
      double sum = 0;                                                                                         \
      if (use_log) {                                                                                            \
        for (int64_t k = 0; k < n; k++) sum += EXP(xr[k * inner] - m);                                        \
        T lse = (T)(m + LOG((T)sum));                                                                         \
        for (int64_t k = 0; k < n; k++) yr[k * inner] = xr[k * inner] - lse;                                  \
      } else {                                                                                                \
        for (int64_t k = 0; k < n; k++) {                                                                     \
          T e = EXP(xr[k * inner] - m);                                                                       \
          yr[k * inner] = e;                                                                                  \
          sum += e;                                                                                           \
        }                                                                                                     \
        T inv = (T)(1.0 / sum);                                                                               \
        for (int64_t k = 0; k < n; k++) yr[k * inner] *= inv;                                                 \
      }                                                                                                       \
    }                                                                                                         \
  }                                                                                                           \
  static void softmax_backward_##SUF(T *dx, const T *g, const T *y, int64_t outer, int64_t n, int64_t inner, \
                                     int use_log) {                                                           \
    int64_t cols = outer * inner;                                                                             \
    _Pragma("omp parallel for schedule(static) if (cols * n > 32768)")                                        \
    for (int64_t col = 0; col < cols; col++) {                                                               \
      int64_t o = col / inner, i = col % inner;                                                               \
      int64_t base = o * n * inner + i;                                                                       \
      const T *gr = g + base, *yr = y + base;                                                                 \
      T *dr = dx + base;                                                                                      \
      double dot = 0;                                                                                         \
      if (use_log) {                                                                                            \
        for (int64_t k = 0; k < n; k++) dot += gr[k * inner];                                                 \
        T s = (T)dot;                                                                                         \
        for (int64_t k = 0; k < n; k++) dr[k * inner] = gr[k * inner] - EXP(yr[k * inner]) * s;               \
      } else {                                                                                                \
        for (int64_t k = 0; k < n; k++) dot += (double)gr[k * inner] * yr[k * inner];                         \
        T s = (T)dot;                                                                                         \
        for (int64_t k = 0; k < n; k++) dr[k * inner] = yr[k * inner] * (gr[k * inner] - s);                  \
      }                                                                                                       \
    }                                                                                                         \
  }

DEFINE_SOFTMAX(float, f32, expf, logf)
DEFINE_SOFTMAX(double, f64, exp, log)

/* f32 over contiguous rows (inner == 1), the attention case: vectorised max, exp and sums. One row; y may be x. */
static inline void softmax_row_f32(float *yr, const float *xr, int64_t n, int use_log) {
  float m = vec_max_f32(xr, n);
  if (isinf(m) && m < 0) m = 0;
  if (use_log) {
    float lse = m + logf((float)vec_exp_sum_f32(xr, m, NULL, n));
    for (int64_t k = 0; k < n; k++) yr[k] = xr[k] - lse;
  } else {
    float inv = (float)(1.0 / vec_exp_sum_f32(xr, m, yr, n));
    for (int64_t k = 0; k < n; k++) yr[k] *= inv;
  }
}

static inline void softmax_backward_row_f32(float *dr, const float *gr, const float *yr, int64_t n, int use_log) {
  if (use_log) {
    float s = (float)vec_sum_f32(gr, n);
    for (int64_t k = 0; k < n; k++) dr[k] = gr[k] - vexpf(yr[k]) * s;
  } else {
    float s = (float)vec_dot_f32(gr, yr, n);
    for (int64_t k = 0; k < n; k++) dr[k] = yr[k] * (gr[k] - s);
  }
}

static void softmax_rows_f32(float *y, const float *x, int64_t rows, int64_t n, int use_log) {
#pragma omp parallel for schedule(static) if (rows * n > 32768)
  for (int64_t r = 0; r < rows; r++) softmax_row_f32(y + r * n, x + r * n, n, use_log);
}

static void softmax_backward_rows_f32(float *dx, const float *g, const float *y, int64_t rows, int64_t n, int use_log) {
#pragma omp parallel for schedule(static) if (rows * n > 32768)
  for (int64_t r = 0; r < rows; r++) softmax_backward_row_f32(dx + r * n, g + r * n, y + r * n, n, use_log);
}

static prior_status cpu_softmax(prior_tensor *y, const prior_tensor *x, int64_t outer, int64_t n, int64_t inner,
                                int use_log) {
  if (x->dtype == PRIOR_F32 && inner == 1)
    softmax_rows_f32(prior_tensor_data(y), prior_tensor_data(x), outer, n, use_log);
  else if (x->dtype == PRIOR_F32)
    softmax_f32(prior_tensor_data(y), prior_tensor_data(x), outer, n, inner, use_log);
  else if (x->dtype == PRIOR_F64)
    softmax_f64(prior_tensor_data(y), prior_tensor_data(x), outer, n, inner, use_log);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "softmax: no CPU kernel for %s", prior_dtype_name(x->dtype));
  return PRIOR_OK;
}

static prior_status cpu_softmax_backward(prior_tensor *dx, const prior_tensor *g, const prior_tensor *y,
                                         int64_t outer, int64_t n, int64_t inner, int use_log) {
  if (y->dtype == PRIOR_F32 && inner == 1)
    softmax_backward_rows_f32(prior_tensor_data(dx), prior_tensor_data(g), prior_tensor_data(y), outer, n, use_log);
  else if (y->dtype == PRIOR_F32)
    softmax_backward_f32(prior_tensor_data(dx), prior_tensor_data(g), prior_tensor_data(y), outer, n, inner, use_log);
  else if (y->dtype == PRIOR_F64)
    softmax_backward_f64(prior_tensor_data(dx), prior_tensor_data(g), prior_tensor_data(y), outer, n, inner, use_log);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "softmax backward: no CPU kernel for %s", prior_dtype_name(y->dtype));
  return PRIOR_OK;
}

/* ---- softmax(x * scale + mask) over the last dim (attention scores) ------------------------------------- */

/* The scores of one row as the composite ops compute them: x * scale + 0 (the affine kernel's expression, so the
 * same rounding), then + mask. p1 is 0 at run time, which keeps the compiler from fusing the mask into the
 * multiply. */
#define SCORES_ROW(T)                                                                    \
  do {                                                                                   \
    if (mr) {                                                                            \
      for (int64_t k = 0; k < n; k++) {                                                  \
        T a = xr[k] * p0 + p1;                                                           \
        yr[k] = a + mr[k * ms[3]];                                                       \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t k = 0; k < n; k++) yr[k] = xr[k] * p0 + p1;                           \
    }                                                                                    \
  } while (0)

static inline void softmax_row_f64(double *yr, int64_t n) {
  double m = -INFINITY, sum = 0;
  for (int64_t k = 0; k < n; k++) m = yr[k] > m ? yr[k] : m;
  if (isinf(m) && m < 0) m = 0;
  for (int64_t k = 0; k < n; k++) sum += (yr[k] = exp(yr[k] - m));
  double inv = 1.0 / sum;
  for (int64_t k = 0; k < n; k++) yr[k] *= inv;
}

#define SCALED_SOFTMAX(T, ROW)                                                           \
  do {                                                                                   \
    const T *x = prior_tensor_data(xt);                                                  \
    T *y = prior_tensor_data(yt);                                                        \
    const T *mask = mt ? prior_tensor_data(mt) : NULL;                                   \
    const T p0 = (T)scale, p1 = (T)zero;                                                 \
    _Pragma("omp parallel for schedule(static) if (rows * n > 32768)")                   \
    for (int64_t r = 0; r < rows; r++) {                                                 \
      const T *xr = x + r * n;                                                           \
      T *yr = y + r * n;                                                                 \
      int64_t q = r % d[2], h = r / d[2] % d[1], b = r / (d[2] * d[1]);                  \
      const T *mr = mask ? mask + b * ms[0] + h * ms[1] + q * ms[2] : NULL;              \
      SCORES_ROW(T);                                                                     \
      ROW;                                                                               \
    }                                                                                    \
  } while (0)

static prior_status cpu_scaled_masked_softmax(prior_tensor *yt, const prior_tensor *xt, double scale,
                                              const prior_tensor *mt) {
  const int64_t *d = xt->shape, *ms = mt ? mt->strides : NULL;
  int64_t n = d[3], rows = d[0] * d[1] * d[2];
  volatile double zero = 0.0; /* the affine kernel's "+ 0", kept as an addition */
  if (xt->dtype == PRIOR_F32) SCALED_SOFTMAX(float, softmax_row_f32(yr, yr, n, 0));
  else if (xt->dtype == PRIOR_F64) SCALED_SOFTMAX(double, softmax_row_f64(yr, n));
  else return prior_error_set(PRIOR_ERR_DTYPE, "scaled_masked_softmax: no CPU kernel for %s", prior_dtype_name(xt->dtype));
  return PRIOR_OK;
}

/* dx = softmax backward, then * scale + 0 (the affine backward's expression) */
#define SCALED_SOFTMAX_BACKWARD(T, ROW)                                                  \
  do {                                                                                   \
    const T *g = prior_tensor_data(gt), *y = prior_tensor_data(yt);                      \
    T *dx = prior_tensor_data(dxt);                                                      \
    const T p0 = (T)scale, p1 = (T)zero;                                                 \
    _Pragma("omp parallel for schedule(static) if (rows * n > 32768)")                   \
    for (int64_t r = 0; r < rows; r++) {                                                 \
      T *dr = dx + r * n;                                                                \
      ROW;                                                                               \
      for (int64_t k = 0; k < n; k++) dr[k] = dr[k] * p0 + p1;                           \
    }                                                                                    \
  } while (0)

static inline void softmax_backward_row_f64(double *dr, const double *gr, const double *yr, int64_t n) {
  double dot = 0;
  for (int64_t k = 0; k < n; k++) dot += gr[k] * yr[k];
  for (int64_t k = 0; k < n; k++) dr[k] = yr[k] * (gr[k] - dot);
}

static prior_status cpu_scaled_softmax_backward(prior_tensor *dxt, const prior_tensor *gt, const prior_tensor *yt,
                                                double scale) {
  int64_t n = yt->shape[yt->ndim - 1], rows = prior_tensor_numel(yt) / (n ? n : 1);
  volatile double zero = 0.0;
  if (yt->dtype == PRIOR_F32)
    SCALED_SOFTMAX_BACKWARD(float, softmax_backward_row_f32(dr, g + r * n, y + r * n, n, 0));
  else if (yt->dtype == PRIOR_F64)
    SCALED_SOFTMAX_BACKWARD(double, softmax_backward_row_f64(dr, g + r * n, y + r * n, n));
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "scaled_masked_softmax backward: no CPU kernel for %s",
                           prior_dtype_name(yt->dtype));
  return PRIOR_OK;
}

/* ---- with dropout after the softmax -------------------------------------------------------------------- */

/* dst[k] = src[k] * (mask bit start + k set ? keep : 0) for k < n, bit i being bit i % 8 of byte i / 8 (the
 * product even where dropped, as dropout_apply's). Rows that start on a byte take whole bytes of the mask as
 * vector lane masks. */
static inline void mask_row_float(float *dst, const float *src, const uint8_t *bits, int64_t start, int64_t n,
                                  float keep) {
  int64_t k = 0;
#if defined(__AVX512F__)
  if (start % 8 == 0) {
    const uint8_t *b = bits + start / 8;
    const __m512 kv = _mm512_set1_ps(keep), zv = _mm512_setzero_ps();
    for (; k + 16 <= n; k += 16) {
      __mmask16 m = (__mmask16)(b[k / 8] | (unsigned)b[k / 8 + 1] << 8);
      _mm512_storeu_ps(dst + k, _mm512_mul_ps(_mm512_loadu_ps(src + k), _mm512_mask_blend_ps(m, zv, kv)));
    }
  }
#endif
  for (; k < n; k++) {
    int64_t i = start + k;
    dst[k] = src[k] * ((bits[i >> 3] >> (i & 7)) & 1u ? keep : 0.0f);
  }
}

static inline void mask_row_double(double *dst, const double *src, const uint8_t *bits, int64_t start, int64_t n,
                                   double keep) {
  for (int64_t k = 0; k < n; k++) {
    int64_t i = start + k;
    dst[k] = src[k] * ((bits[i >> 3] >> (i & 7)) & 1u ? keep : 0.0);
  }
}

/* The same product rounded to bf16 (out is the operand of a product under autocast): the f32 value of
 * mask_row_float, then prior_bf16_round. */
static inline void mask_row_float_bf16(uint16_t *dst, const float *src, const uint8_t *bits, int64_t start, int64_t n,
                                       float keep) {
  int64_t k = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  if (start % 8 == 0) {
    const uint8_t *b = bits + start / 8;
    const __m512 kv = _mm512_set1_ps(keep), zv = _mm512_setzero_ps();
    for (; k + 16 <= n; k += 16) {
      __mmask16 m = (__mmask16)(b[k / 8] | (unsigned)b[k / 8 + 1] << 8);
      __m512 v = _mm512_mul_ps(_mm512_loadu_ps(src + k), _mm512_mask_blend_ps(m, zv, kv));
      _mm256_storeu_si256((__m256i *)(dst + k), prior_bf16_round16(v));
    }
  }
#endif
  for (; k < n; k++) {
    int64_t i = start + k;
    dst[k] = prior_bf16_round(src[k] * ((bits[i >> 3] >> (i & 7)) & 1u ? keep : 0.0f));
  }
}

static prior_status cpu_scaled_masked_softmax_dropout(prior_tensor *yt, prior_tensor *outt, const prior_tensor *xt,
                                                      double scale, const prior_tensor *mt, const prior_tensor *bt,
                                                      double keep) {
  const int64_t *d = xt->shape, *ms = mt ? mt->strides : NULL;
  int64_t n = d[3], rows = d[0] * d[1] * d[2];
  volatile double zero = 0.0;
  const uint8_t *bits = prior_tensor_data(bt);
  /* each row's softmax as cpu_scaled_masked_softmax computes it, then its dropout while the row is in cache */
#define DROPOUT_ROW(T) mask_row_##T((T *)prior_tensor_data(outt) + r * n, yr, bits, r * n, n, (T)keep)
  if (xt->dtype == PRIOR_F32 && outt->dtype == PRIOR_BF16)
    SCALED_SOFTMAX(float, softmax_row_f32(yr, yr, n, 0);
                   mask_row_float_bf16((uint16_t *)prior_tensor_data(outt) + r * n, yr, bits, r * n, n, (float)keep));
  else if (outt->dtype != xt->dtype)
    return prior_error_set(PRIOR_ERR_DTYPE, "scaled_masked_softmax_dropout: no CPU kernel for %s -> %s",
                           prior_dtype_name(xt->dtype), prior_dtype_name(outt->dtype));
  else if (xt->dtype == PRIOR_F32) SCALED_SOFTMAX(float, softmax_row_f32(yr, yr, n, 0); DROPOUT_ROW(float));
  else if (xt->dtype == PRIOR_F64) SCALED_SOFTMAX(double, softmax_row_f64(yr, n); DROPOUT_ROW(double));
  else return prior_error_set(PRIOR_ERR_DTYPE, "scaled_masked_softmax_dropout: no CPU kernel for %s",
                              prior_dtype_name(xt->dtype));
#undef DROPOUT_ROW
  return PRIOR_OK;
}

/* g through the dropout (into a row buffer), then the scaled softmax backward of that row */
static prior_status cpu_scaled_softmax_dropout_backward(prior_tensor *dxt, const prior_tensor *gt,
                                                        const prior_tensor *yt, const prior_tensor *bt, double keep,
                                                        double scale) {
  int64_t n = yt->shape[yt->ndim - 1], rows = prior_tensor_numel(yt) / (n ? n : 1);
  volatile double zero = 0.0;
  const uint8_t *bits = prior_tensor_data(bt);
  size_t esize = prior_dtype_size((prior_dtype)yt->dtype);
  int nt = omp_get_max_threads();
  char *rowbuf = malloc((size_t)nt * (size_t)(n ? n : 1) * esize);
  if (!rowbuf) return prior_error_set(PRIOR_ERR_MEMORY, "scaled_softmax_dropout backward: out of memory for rows of %lld",
                                      (long long)n);
#define MASKED_G(T)                                                                      \
  T *gm = (T *)(rowbuf + (size_t)omp_get_thread_num() * (size_t)n * sizeof(T));          \
  mask_row_##T(gm, g + r * n, bits, r * n, n, (T)keep);
  if (yt->dtype == PRIOR_F32)
    SCALED_SOFTMAX_BACKWARD(float, MASKED_G(float) softmax_backward_row_f32(dr, gm, y + r * n, n, 0));
  else if (yt->dtype == PRIOR_F64)
    SCALED_SOFTMAX_BACKWARD(double, MASKED_G(double) softmax_backward_row_f64(dr, gm, y + r * n, n));
#undef MASKED_G
  free(rowbuf);
  if (yt->dtype != PRIOR_F32 && yt->dtype != PRIOR_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "scaled_softmax_dropout backward: no CPU kernel for %s",
                           prior_dtype_name(yt->dtype));
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_cpu_softmax(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "scaled_masked_softmax", (prior_kernel_fn)cpu_scaled_masked_softmax);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "scaled_softmax_backward",
                                (prior_kernel_fn)cpu_scaled_softmax_backward);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "scaled_masked_softmax_dropout",
                                (prior_kernel_fn)cpu_scaled_masked_softmax_dropout);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "scaled_softmax_dropout_backward",
                                (prior_kernel_fn)cpu_scaled_softmax_dropout_backward);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "softmax", (prior_kernel_fn)cpu_softmax);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "softmax_backward", (prior_kernel_fn)cpu_softmax_backward);
}
