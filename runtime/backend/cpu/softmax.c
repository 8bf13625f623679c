/* CPU softmax and log-softmax over the middle dim of a contiguous [outer, n, inner] view, and their fused
 * backward. Stable: the row maximum is subtracted before exponentiating. inner == 1 (the last dim, the common
 * case) walks rows directly; otherwise each (outer, inner) column is handled with stride `inner`. Sums
 * accumulate in double for f32. */
#include <math.h>
#include <omp.h>

#include "backend/cpu/vec_f32.h"
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

/* f32 over contiguous rows (inner == 1), the attention case: vectorised max, exp and sums. */
static void softmax_rows_f32(float *y, const float *x, int64_t rows, int64_t n, int use_log) {
#pragma omp parallel for schedule(static) if (rows * n > 32768)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
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
}

static void softmax_backward_rows_f32(float *dx, const float *g, const float *y, int64_t rows, int64_t n, int use_log) {
#pragma omp parallel for schedule(static) if (rows * n > 32768)
  for (int64_t r = 0; r < rows; r++) {
    const float *gr = g + r * n, *yr = y + r * n;
    float *dr = dx + r * n;
    if (use_log) {
      float s = (float)vec_sum_f32(gr, n);
      for (int64_t k = 0; k < n; k++) dr[k] = gr[k] - vexpf(yr[k]) * s;
    } else {
      float s = (float)vec_dot_f32(gr, yr, n);
      for (int64_t k = 0; k < n; k++) dr[k] = yr[k] * (gr[k] - s);
    }
  }
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

__attribute__((constructor)) static void register_cpu_softmax(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "softmax", (prior_kernel_fn)cpu_softmax);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "softmax_backward", (prior_kernel_fn)cpu_softmax_backward);
}
