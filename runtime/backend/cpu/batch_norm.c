/* CPU batch normalisation of NCHW maps, alone or followed by a ReLU in the same pass (which saves the ReLU's
 * own pass over the map forward and backward): per-channel loops, channels in parallel. f64 (and the f32 backward with
 * constant statistics): plain loops with double accumulators, the reference the f32 path is tested against.
 * f32: vectorised plane loops. They replaced oneDNN 2.6's primitive, whose NCHW ("ncsp") implementation took
 * about 270 ms of the paper-preset training step where these take about 80 ms (measured with perf). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/batch_norm_planes.h"
#include "backend/kernels_dense.h"
#include "prior/device.h"

/* ---- reference loops ------------------------------------------------------------------------------------- */

/* The normalised value of x: ((x - hi) - lo) * scale + shift, with the mean carried as hi + lo (see
 * batch_norm_planes.h), as one fused multiply-add so that backward recomputes exactly what the forward's ReLU
 * saw. */
#define BN_PRE(T, x, hi, lo, scale, shift) _Generic((T)0, float: fmaf, default: fma)(((x) - (hi)) - (lo), (scale), (shift))
#define RELU(v) ((v) > 0 ? (v) : 0)

/* f64 reference. training: computes mean/var (biased) into mean/var; else reads them. relu: out = max(0, .).
 * affine (may be NULL): [4, C] receives mean, 0, scale and shift (the BN_PRE form). */
static void bn_fwd_double(double *y, double *mean, double *var, double *affine, const double *x, const double *w,
                          const double *b, int64_t N, int64_t C, int64_t HW, int training, int relu, double eps) {
#pragma omp parallel for
  for (int64_t c = 0; c < C; c++) {
    double m, v;
    if (training) {
      double s = 0, ss = 0;
      for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
      m = s / (double)(N * HW);
      for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < HW; i++) {
          double d = x[(n * C + c) * HW + i] - m;
          ss += d * d;
        }
      v = ss / (double)(N * HW);
      mean[c] = m, var[c] = v;
    } else {
      m = mean[c], v = var[c];
    }
    double scale = (w ? w[c] : 1.0) / sqrt(v + eps), shift = b ? b[c] : 0.0;
    if (affine) affine[c] = m, affine[C + c] = 0, affine[2 * C + c] = scale, affine[3 * C + c] = shift;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) {
        double o = BN_PRE(double, x[(n * C + c) * HW + i], m, 0.0, scale, shift);
        y[(n * C + c) * HW + i] = relu ? RELU(o) : o;
      }
  }
}

/* Reference backward (f64, and f32 with constant statistics). affine (may be NULL): the forward's, when a ReLU
 * followed it; g is then zeroed where the normalised value was not positive. */
#define BN_BWD(T)                                                                                              \
  static void bn_bwd_##T(T *gx, T *gw, T *gb, const T *g, const T *x, const T *w, const T *mean, const T *var, \
                         const T *affine, int64_t N, int64_t C, int64_t HW, int training, double eps) {        \
    _Pragma("omp parallel for") for (int64_t c = 0; c < C; c++) {                                              \
      double m = mean[c], invstd = 1.0 / sqrt((double)var[c] + eps), sg = 0, sgx = 0;                         \
      T hi = 0, lo = 0, scale = 0, shift = 0;                                                                  \
      if (affine) hi = affine[c], lo = affine[C + c], scale = affine[2 * C + c], shift = affine[3 * C + c];    \
      for (int64_t n = 0; n < N; n++)                                                                          \
        for (int64_t i = 0; i < HW; i++) {                                                                     \
          int64_t j = (n * C + c) * HW + i;                                                                    \
          double gv = affine && !(BN_PRE(T, x[j], hi, lo, scale, shift) > 0) ? 0.0 : g[j];                     \
          sg += gv;                                                                                            \
          sgx += gv * (x[j] - m) * invstd;                                                                     \
        }                                                                                                      \
      if (gw) gw[c] = (T)sgx;                                                                                  \
      if (gb) gb[c] = (T)sg;                                                                                   \
      if (!gx) continue;                                                                                       \
      double k = (w ? w[c] : 1.0) * invstd, cnt = (double)(N * HW);                                            \
      for (int64_t n = 0; n < N; n++)                                                                          \
        for (int64_t i = 0; i < HW; i++) {                                                                     \
          int64_t j = (n * C + c) * HW + i;                                                                    \
          double gv = affine && !(BN_PRE(T, x[j], hi, lo, scale, shift) > 0) ? 0.0 : g[j];                     \
          if (training) gv -= (sg + (x[j] - m) * invstd * sgx) / cnt;                                          \
          gx[j] = (T)(k * gv);                                                                                 \
        }                                                                                                      \
    }                                                                                                          \
  }
BN_BWD(float)
BN_BWD(double)

/* ---- f32 loops --------------------------------------------------------------------------------------- */
/* Each plane (one image, one channel) is a contiguous run of HW floats, summed with vector lanes and the planes'
 * sums added in double; channels run in parallel. */

/* training: computes the batch mean and (biased) variance into mean/var; else reads them. relu and affine as
 * in bn_fwd_double (affine: hi, lo, scale, shift). */
static void bn_fwd_f32(float *y, float *mean, float *var, float *affine, const float *x, const float *w,
                       const float *b, int64_t N, int64_t C, int64_t HW, int training, int relu, double eps) {
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < C; c++) {
    double m = mean[c], v = var[c];
    if (training) {
      double s = 0, ss = 0, cnt = (double)(N * HW);
      for (int64_t n = 0; n < N; n++) s += plane_sum(x + (n * C + c) * HW, HW);
      m = s / cnt;
      float hi = (float)m, lo = (float)(m - hi);
      for (int64_t n = 0; n < N; n++) ss += plane_sq_dev(x + (n * C + c) * HW, HW, hi, lo);
      v = ss / cnt;
      mean[c] = hi, var[c] = (float)v;
    }
    float hi = (float)m, lo = (float)(m - hi);
    float scale = (float)((w ? w[c] : 1.0) / sqrt(v + eps)), shift = (float)(b ? b[c] : 0.0);
    if (affine) affine[c] = hi, affine[C + c] = lo, affine[2 * C + c] = scale, affine[3 * C + c] = shift;
    for (int64_t n = 0; n < N; n++) {
      const float *xp = x + (n * C + c) * HW;
      float *yp = y + (n * C + c) * HW;
      if (relu) {
#pragma omp simd
        for (int64_t i = 0; i < HW; i++) {
          float o = fmaf((xp[i] - hi) - lo, scale, shift);
          yp[i] = RELU(o);
        }
      } else {
#pragma omp simd
        for (int64_t i = 0; i < HW; i++) yp[i] = fmaf((xp[i] - hi) - lo, scale, shift);
      }
    }
  }
}

/* The mean is summed again from x rather than read from the saved f32 statistic, for the same reason as in the
 * forward: the gradient's (x - mean) terms need it to below a float ulp. With a ReLU after the forward (affine
 * not NULL) its hi + lo pair is there already, and g is zeroed where the ReLU did not pass. */
static void bn_train_bwd_f32(float *gx, float *gw, float *gb, const float *g, const float *x, const float *w,
                             const float *var, const float *affine, int64_t N, int64_t C, int64_t HW, double eps) {
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < C; c++) {
    double s = 0, cnt = (double)(N * HW);
    float hi, lo, scale = 0, shift = 0;
    if (affine) {
      hi = affine[c], lo = affine[C + c], scale = affine[2 * C + c], shift = affine[3 * C + c];
    } else {
      for (int64_t n = 0; n < N; n++) s += plane_sum(x + (n * C + c) * HW, HW);
      hi = (float)(s / cnt), lo = (float)(s / cnt - hi);
    }
    double invstd = 1.0 / sqrt((double)var[c] + eps), sg = 0, sgd = 0;
    for (int64_t n = 0; n < N; n++) {
      const float *gp = g + (n * C + c) * HW, *xp = x + (n * C + c) * HW;
      float a = 0, d = 0;
      if (affine) {
#pragma omp simd reduction(+ : a, d)
        for (int64_t i = 0; i < HW; i++) {
          float gm = fmaf((xp[i] - hi) - lo, scale, shift) > 0 ? gp[i] : 0.0f;
          a += gm, d += gm * ((xp[i] - hi) - lo);
        }
      } else {
#pragma omp simd reduction(+ : a, d)
        for (int64_t i = 0; i < HW; i++) a += gp[i], d += gp[i] * ((xp[i] - hi) - lo);
      }
      sg += a, sgd += d;
    }
    if (gw) gw[c] = (float)(sgd * invstd);
    if (gb) gb[c] = (float)sg;
    /* gx = k (g - sg / cnt - (x - m) invstd^2 sgd / cnt), k = w invstd */
    double k = (w ? w[c] : 1.0) * invstd;
    float kf = (float)k, off = (float)(k * sg / cnt), slope = (float)(k * invstd * invstd * sgd / cnt);
    for (int64_t n = 0; n < N; n++) {
      const float *gp = g + (n * C + c) * HW, *xp = x + (n * C + c) * HW;
      float *op = gx + (n * C + c) * HW;
      if (affine) {
#pragma omp simd
        for (int64_t i = 0; i < HW; i++) {
          float gm = fmaf((xp[i] - hi) - lo, scale, shift) > 0 ? gp[i] : 0.0f;
          op[i] = kf * gm - off - slope * ((xp[i] - hi) - lo);
        }
      } else {
#pragma omp simd
        for (int64_t i = 0; i < HW; i++) op[i] = kf * gp[i] - off - slope * ((xp[i] - hi) - lo);
      }
    }
  }
}

/* ---- kernels ---------------------------------------------------------------------------------------------- */

static const void *data_or_null(const prior_tensor *t) { return t ? prior_tensor_data(t) : NULL; }

/* running = (1 - momentum) * running + momentum * stat (stat from a contiguous [C] tensor), any dtype/stride. */
static prior_status update_running(prior_tensor *running, const prior_tensor *stat, double momentum, double factor) {
  if (!running) return PRIOR_OK;
  for (int64_t c = 0; c < stat->shape[0]; c++) {
    double r, s;
    PRIOR_TRY(prior_tensor_get(running, &c, &r));
    PRIOR_TRY(prior_tensor_get(stat, &c, &s));
    PRIOR_TRY(prior_tensor_set(running, &c, (1.0 - momentum) * r + momentum * s * factor));
  }
  return PRIOR_OK;
}

/* Batch norm, followed by a ReLU when `affine` is given (it then receives hi, lo, scale, shift per channel). */
static prior_status bn_forward(prior_tensor *out, prior_tensor *save_mean, prior_tensor *save_var, prior_tensor *affine,
                               const prior_tensor *x, const prior_tensor *weight, const prior_tensor *bias,
                               prior_tensor *running_mean, prior_tensor *running_var, int training, double momentum,
                               double eps) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int relu = affine != NULL;
  if (!training) { /* the statistics are the running ones */
    PRIOR_TRY(prior_tensor_copy_(save_mean, running_mean));
    PRIOR_TRY(prior_tensor_copy_(save_var, running_var));
  }
  if (x->dtype == PRIOR_F64) {
    bn_fwd_double(prior_tensor_data(out), prior_tensor_data(save_mean), prior_tensor_data(save_var),
                  relu ? prior_tensor_data(affine) : NULL, prior_tensor_data(x), data_or_null(weight),
                  data_or_null(bias), N, C, H * W, training, relu, eps);
  } else if (x->dtype == PRIOR_F32) {
    if (prior_tensor_numel(x) == 0) return PRIOR_OK;
    bn_fwd_f32(prior_tensor_data(out), prior_tensor_data(save_mean), prior_tensor_data(save_var),
               relu ? prior_tensor_data(affine) : NULL, prior_tensor_data(x), data_or_null(weight), data_or_null(bias),
               N, C, H * W, training, relu, eps);
  } else {
    return prior_error_set(PRIOR_ERR_DTYPE, "batch_norm2d: CPU kernel takes f32 or f64, got %s",
                           prior_dtype_name((prior_dtype)x->dtype));
  }
  if (training) {
    double n = (double)(N * H * W);
    PRIOR_TRY(update_running(running_mean, save_mean, momentum, 1.0));
    PRIOR_TRY(update_running(running_var, save_var, momentum, n > 1 ? n / (n - 1) : 1.0));
  }
  return PRIOR_OK;
}

static prior_status bn_backward(prior_tensor *gx, prior_tensor *gw, prior_tensor *gb, const prior_tensor *g,
                                const prior_tensor *x, const prior_tensor *weight, const prior_tensor *mean,
                                const prior_tensor *var, const prior_tensor *affine, int training, double eps) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  if (x->dtype == PRIOR_F64) {
    bn_bwd_double(gx ? prior_tensor_data(gx) : NULL, gw ? prior_tensor_data(gw) : NULL,
                  gb ? prior_tensor_data(gb) : NULL, prior_tensor_data(g), prior_tensor_data(x), data_or_null(weight),
                  prior_tensor_data(mean), prior_tensor_data(var), data_or_null(affine), N, C, H * W, training, eps);
    return PRIOR_OK;
  }
  if (x->dtype != PRIOR_F32)
    return prior_error_set(PRIOR_ERR_DTYPE, "batch_norm2d backward: CPU kernel takes f32 or f64, got %s",
                           prior_dtype_name((prior_dtype)x->dtype));
  if (!training || prior_tensor_numel(x) == 0 || !gx) { /* constants statistics: a cheap per-element loop */
    bn_bwd_float(gx ? prior_tensor_data(gx) : NULL, gw ? prior_tensor_data(gw) : NULL,
                 gb ? prior_tensor_data(gb) : NULL, prior_tensor_data(g), prior_tensor_data(x), data_or_null(weight),
                 prior_tensor_data(mean), prior_tensor_data(var), data_or_null(affine), N, C, H * W, training, eps);
    return PRIOR_OK;
  }
  bn_train_bwd_f32(prior_tensor_data(gx), gw ? prior_tensor_data(gw) : NULL, gb ? prior_tensor_data(gb) : NULL,
                   prior_tensor_data(g), prior_tensor_data(x), data_or_null(weight), prior_tensor_data(var),
                   data_or_null(affine), N, C, H * W, eps);
  return PRIOR_OK;
}

static prior_status cpu_bn_forward(prior_tensor *out, prior_tensor *save_mean, prior_tensor *save_var,
                                   const prior_tensor *x, const prior_tensor *weight, const prior_tensor *bias,
                                   prior_tensor *running_mean, prior_tensor *running_var, int training,
                                   double momentum, double eps) {
  return bn_forward(out, save_mean, save_var, NULL, x, weight, bias, running_mean, running_var, training, momentum, eps);
}

static prior_status cpu_bn_backward(prior_tensor *gx, prior_tensor *gw, prior_tensor *gb, const prior_tensor *g,
                                    const prior_tensor *x, const prior_tensor *weight, const prior_tensor *mean,
                                    const prior_tensor *var, int training, double eps) {
  return bn_backward(gx, gw, gb, g, x, weight, mean, var, NULL, training, eps);
}

__attribute__((constructor)) static void register_batch_norm_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "batch_norm_forward", (prior_kernel_fn)cpu_bn_forward);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "batch_norm_backward", (prior_kernel_fn)cpu_bn_backward);
  /* the ReLU variants have the same arguments plus affine (kernels_dense.h) */
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "batch_norm_relu_forward", (prior_kernel_fn)bn_forward);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "batch_norm_relu_backward", (prior_kernel_fn)bn_backward);
}
