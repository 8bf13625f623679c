/* CPU cross entropy fused with its log-softmax: one pass finds the row maximum, one the log-sum-exp and the
 * class sum (for label smoothing), so the [n, c] log-probabilities are never stored. The backward recomputes
 * softmax from the saved log-sum-exp. logits are [n, c, s], classes at stride s (s == 1 for [n, c]). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "backend/cpu/vec_f32.h"
#include "backend/kernels_nn.h"
#include "prior/device.h"

static int64_t target_at(const prior_tensor *target, int64_t i) {
  const void *p = prior_tensor_data(target);
  return target->dtype == PRIOR_I64 ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

#define DEFINE_CE(T, SUF, EXP)                                                                                \
  static void ce_##SUF(T *loss, T *lse_out, const T *x, const prior_tensor *target, int64_t n, int64_t c,      \
                       int64_t s, int64_t ignore, double ls) {                                                \
    _Pragma("omp parallel for schedule(static) if (n * s * c > 32768)")                                       \
    for (int64_t p = 0; p < n * s; p++) {                                                                     \
      int64_t i = p / s, j = p % s;                                                                           \
      const T *xr = x + i * c * s + j;                                                                        \
      int64_t t = target_at(target, p);                                                                       \
      T m = -INFINITY;                                                                                        \
      for (int64_t k = 0; k < c; k++) m = xr[k * s] > m ? xr[k * s] : m;                                      \
      if (isinf(m) && m < 0) m = 0;                                                                           \
      double sum = 0, xsum = 0;                                                                               \
      for (int64_t k = 0; k < c; k++) {                                                                       \
        sum += EXP(xr[k * s] - m);                                                                            \
        xsum += xr[k * s];                                                                                    \
      }                                                                                                       \
      double lse = (double)m + log(sum);                                                                      \
      lse_out[p] = (T)lse;                                                                                    \
      if (t == ignore) {                                                                                      \
        loss[p] = 0;                                                                                          \
        continue;                                                                                             \
      }                                                                                                       \
      double nll = lse - (double)xr[t * s];                                                                   \
      double smooth = (double)c * lse - xsum;                                                                 \
      loss[p] = (T)((1.0 - ls) * nll + ls / (double)c * smooth);                                              \
    }                                                                                                         \
  }                                                                                                           \
  static void ce_backward_##SUF(T *dx, const T *g, const T *x, const prior_tensor *target, const T *lse,       \
                                int64_t n, int64_t c, int64_t s, int64_t ignore, double ls) {                 \
    T off = (T)(ls / (double)c), on = (T)(1.0 - ls);                                                          \
    _Pragma("omp parallel for schedule(static) if (n * s * c > 32768)")                                       \
    for (int64_t p = 0; p < n * s; p++) {                                                                     \
      int64_t i = p / s, j = p % s;                                                                           \
      const T *xr = x + i * c * s + j;                                                                        \
      T *dr = dx + i * c * s + j;                                                                             \
      int64_t t = target_at(target, p);                                                                       \
      if (t == ignore) {                                                                                      \
        for (int64_t k = 0; k < c; k++) dr[k * s] = 0;                                                        \
        continue;                                                                                             \
      }                                                                                                       \
      T gp = g[p], l = lse[p];                                                                                \
      for (int64_t k = 0; k < c; k++) dr[k * s] = gp * (EXP(xr[k * s] - l) - off);                           \
      dr[t * s] -= gp * on;                                                                                   \
    }                                                                                                         \
  }

DEFINE_CE(float, f32, expf)
DEFINE_CE(double, f64, exp)

/* f32 [n, c] (s == 1), the classifier case: vectorised max, exp and sums over each row. */
static void ce_rows_f32(float *loss, float *lse_out, const float *x, const prior_tensor *target, int64_t n, int64_t c,
                        int64_t ignore, double ls) {
#pragma omp parallel for schedule(static) if (n * c > 32768)
  for (int64_t i = 0; i < n; i++) {
    const float *xr = x + i * c;
    float m = vec_max_f32(xr, c);
    if (isinf(m) && m < 0) m = 0;
    double lse = (double)m + log(vec_exp_sum_f32(xr, m, NULL, c));
    lse_out[i] = (float)lse;
    int64_t t = target_at(target, i);
    if (t == ignore) {
      loss[i] = 0;
      continue;
    }
    double smooth = ls > 0 ? (double)c * lse - vec_sum_f32(xr, c) : 0;
    loss[i] = (float)((1.0 - ls) * (lse - (double)xr[t]) + ls / (double)c * smooth);
  }
}

static void ce_backward_rows_f32(float *dx, const float *g, const float *x, const prior_tensor *target,
                                 const float *lse, int64_t n, int64_t c, int64_t ignore, double ls) {
  float off = (float)(ls / (double)c), on = (float)(1.0 - ls);
#pragma omp parallel for schedule(static) if (n * c > 32768)
  for (int64_t i = 0; i < n; i++) {
    const float *xr = x + i * c;
    float *dr = dx + i * c;
    int64_t t = target_at(target, i);
    if (t == ignore) {
      memset(dr, 0, sizeof(float) * (size_t)c);
      continue;
    }
    float gp = g[i], l = lse[i];
    for (int64_t k = 0; k < c; k++) dr[k] = gp * (vexpf(xr[k] - l) - off);
    dr[t] -= gp * on;
  }
}

static prior_status cpu_cross_entropy(prior_tensor *loss, prior_tensor *lse, int64_t *n_valid,
                                      const prior_tensor *logits, const prior_tensor *target, int64_t n, int64_t c,
                                      int64_t s, int64_t ignore_index, double ls) {
  /* Validate targets first, serially, so the error names the first bad value. */
  int64_t valid = 0;
  for (int64_t p = 0; p < n * s; p++) {
    int64_t t = target_at(target, p);
    if (t == ignore_index) continue;
    if (t < 0 || t >= c)
      return prior_error_set(PRIOR_ERR_INDEX, "cross_entropy: target %lld at position %lld is out of range for %lld classes",
                             (long long)t, (long long)p, (long long)c);
    valid++;
  }
  *n_valid = valid;
  if (logits->dtype == PRIOR_F32 && s == 1)
    ce_rows_f32(prior_tensor_data(loss), prior_tensor_data(lse), prior_tensor_data(logits), target, n, c,
                ignore_index, ls);
  else if (logits->dtype == PRIOR_F32)
    ce_f32(prior_tensor_data(loss), prior_tensor_data(lse), prior_tensor_data(logits), target, n, c, s,
           ignore_index, ls);
  else if (logits->dtype == PRIOR_F64)
    ce_f64(prior_tensor_data(loss), prior_tensor_data(lse), prior_tensor_data(logits), target, n, c, s,
           ignore_index, ls);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "cross_entropy: no CPU kernel for %s", prior_dtype_name(logits->dtype));
  return PRIOR_OK;
}

static prior_status cpu_cross_entropy_backward(prior_tensor *dlogits, const prior_tensor *g,
                                               const prior_tensor *logits, const prior_tensor *target,
                                               const prior_tensor *lse, int64_t n, int64_t c, int64_t s,
                                               int64_t ignore_index, double ls) {
  if (logits->dtype == PRIOR_F32 && s == 1)
    ce_backward_rows_f32(prior_tensor_data(dlogits), prior_tensor_data(g), prior_tensor_data(logits), target,
                         prior_tensor_data(lse), n, c, ignore_index, ls);
  else if (logits->dtype == PRIOR_F32)
    ce_backward_f32(prior_tensor_data(dlogits), prior_tensor_data(g), prior_tensor_data(logits), target,
                    prior_tensor_data(lse), n, c, s, ignore_index, ls);
  else if (logits->dtype == PRIOR_F64)
    ce_backward_f64(prior_tensor_data(dlogits), prior_tensor_data(g), prior_tensor_data(logits), target,
                    prior_tensor_data(lse), n, c, s, ignore_index, ls);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "cross_entropy backward: no CPU kernel for %s",
                           prior_dtype_name(logits->dtype));
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_cpu_cross_entropy(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "cross_entropy", (prior_kernel_fn)cpu_cross_entropy);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "cross_entropy_backward",
                                (prior_kernel_fn)cpu_cross_entropy_backward);
}
