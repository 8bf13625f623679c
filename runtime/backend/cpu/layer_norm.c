/* CPU layer norm over the rows of a contiguous [rows, d] view: a fused forward that keeps mean and 1/std per
 * row, and a fused backward giving dx, dweight and dbias in one pass over the data.
 *
 * Statistics use a two-pass mean/variance in double (f32 inputs too): with eps as small as BERT's 1e-12 a
 * one-pass E[x^2] - E[x]^2 would lose the variance of rows with a large mean. The weight and bias gradients
 * are column sums over rows; each thread sums its own rows into a private buffer and the buffers are added
 * in thread order, so results do not depend on scheduling. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "backend/cpu/vec_f32.h"
#include "backend/kernels_nn.h"
#include "prior/device.h"

static double sum_f64(const double *x, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < n; k++) s += x[k];
  return s;
}
static double sq_dev_f64(const double *x, double mu, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < n; k++) s += (x[k] - mu) * (x[k] - mu);
  return s;
}

#define DEFINE_LAYER_NORM(T, SUF, SUM, SQDEV)                                                                           \
  static void layer_norm_##SUF(T *y, T *mean, T *rstd, const T *x, const T *w, const T *b, int64_t rows,     \
                               int64_t d, double eps) {                                                       \
    _Pragma("omp parallel for schedule(static) if (rows * d > 16384)")                                        \
    for (int64_t r = 0; r < rows; r++) {                                                                      \
      const T *xr = x + r * d;                                                                                \
      T *yr = y + r * d;                                                                                      \
      double mu = SUM(xr, d) / (double)d, v = SQDEV(xr, mu, d);                                              \
      double rs = 1.0 / sqrt(v / (double)d + eps);                                                            \
      mean[r] = (T)mu;                                                                                        \
      rstd[r] = (T)rs;                                                                                        \
      T tm = (T)mu, tr = (T)rs;                                                                               \
      if (w && b)                                                                                             \
        for (int64_t k = 0; k < d; k++) yr[k] = (xr[k] - tm) * tr * w[k] + b[k];                              \
      else if (w)                                                                                             \
        for (int64_t k = 0; k < d; k++) yr[k] = (xr[k] - tm) * tr * w[k];                                     \
      else if (b)                                                                                             \
        for (int64_t k = 0; k < d; k++) yr[k] = (xr[k] - tm) * tr + b[k];                                     \
      else                                                                                                    \
        for (int64_t k = 0; k < d; k++) yr[k] = (xr[k] - tm) * tr;                                            \
    }                                                                                                         \
  }                                                                                                           \
  /* dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * weight; dweight = sum g * xhat;          \
   * dbias = sum g. */                                                                                        \
  static int layer_norm_backward_##SUF(T *dx, T *dw, T *db, const T *g, const T *x, const T *mean,           \
                                       const T *rstd, const T *w, int64_t rows, int64_t d) {                  \
    int nt = omp_get_max_threads();                                                                           \
    if (rows * d <= 16384) nt = 1;                                                                            \
    double *partial = NULL;                                                                                   \
    if (dw || db) {                                                                                           \
      partial = calloc((size_t)nt * 2 * (size_t)d, sizeof(double));                                           \
      if (!partial) return -1;                                                                                \
    }                                                                                                         \
    _Pragma("omp parallel num_threads(nt)")                                                                   \
    {                                                                                                         \
      int t = omp_get_thread_num();                                                                           \
      double *pw = partial ? partial + (size_t)t * 2 * (size_t)d : NULL, *pb = pw ? pw + d : NULL;           \
      _Pragma("omp for schedule(static)")                                                                     \
      for (int64_t r = 0; r < rows; r++) {                                                                    \
        const T *gr = g + r * d, *xr = x + r * d;                                                             \
        double mu = mean[r], rs = rstd[r];                                                                    \
        if (dx) {                                                                                             \
          /* eight independent partial sums (vector lanes), added in a fixed order: the same bits on any     \
           * thread count or vector width */                                                                \
          double sg8[8] = {0}, sgx8[8] = {0}, sg = 0, sgx = 0;                                                \
          int64_t k = 0;                                                                                      \
          for (; k + 8 <= d; k += 8)                                                                          \
            for (int j = 0; j < 8; j++) {                                                                     \
              double gw = w ? (double)gr[k + j] * w[k + j] : (double)gr[k + j];                               \
              sg8[j] += gw;                                                                                   \
              sgx8[j] += gw * (xr[k + j] - mu) * rs;                                                          \
            }                                                                                                 \
          for (int j = 0; j < 8; j++) sg += sg8[j], sgx += sgx8[j];                                           \
          for (; k < d; k++) {                                                                                \
            double gw = w ? (double)gr[k] * w[k] : (double)gr[k];                                             \
            sg += gw;                                                                                         \
            sgx += gw * (xr[k] - mu) * rs;                                                                    \
          }                                                                                                   \
          T a = (T)(sg / (double)d), c = (T)(sgx / (double)d), tm = (T)mu, tr = (T)rs;                        \
          T *dr = dx + r * d;                                                                                 \
          for (int64_t k = 0; k < d; k++) {                                                                   \
            T gw = w ? gr[k] * w[k] : gr[k];                                                                  \
            dr[k] = tr * (gw - a - (xr[k] - tm) * tr * c);                                                    \
          }                                                                                                   \
        }                                                                                                     \
        if (pw)                                                                                               \
          for (int64_t k = 0; k < d; k++) {                                                                   \
            pw[k] += (double)gr[k] * ((xr[k] - mu) * rs);                                                    \
            pb[k] += gr[k];                                                                                   \
          }                                                                                                   \
      }                                                                                                       \
    }                                                                                                         \
    if (partial) {                                                                                            \
      for (int64_t k = 0; k < d; k++) {                                                                       \
        double sw = 0, sb = 0;                                                                                \
        for (int t = 0; t < nt; t++) {                                                                        \
          sw += partial[(size_t)t * 2 * (size_t)d + (size_t)k];                                               \
          sb += partial[(size_t)t * 2 * (size_t)d + (size_t)d + (size_t)k];                                   \
        }                                                                                                     \
        if (dw) dw[k] = (T)sw;                                                                                \
        if (db) db[k] = (T)sb;                                                                                \
      }                                                                                                       \
      free(partial);                                                                                          \
    }                                                                                                         \
    return 0;                                                                                                 \
  }

DEFINE_LAYER_NORM(float, f32, vec_sum_f32, vec_sq_dev_f32)
DEFINE_LAYER_NORM(double, f64, sum_f64, sq_dev_f64)

#define DATA(t) ((t) ? prior_tensor_data(t) : NULL)

static prior_status cpu_layer_norm(prior_tensor *y, prior_tensor *mean, prior_tensor *rstd, const prior_tensor *x,
                                   const prior_tensor *weight, const prior_tensor *bias, int64_t rows, int64_t d,
                                   double eps) {
  if (x->dtype == PRIOR_F32)
    layer_norm_f32(DATA(y), DATA(mean), DATA(rstd), DATA(x), DATA(weight), DATA(bias), rows, d, eps);
  else if (x->dtype == PRIOR_F64)
    layer_norm_f64(DATA(y), DATA(mean), DATA(rstd), DATA(x), DATA(weight), DATA(bias), rows, d, eps);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "layer_norm: no CPU kernel for %s", prior_dtype_name(x->dtype));
  return PRIOR_OK;
}

static prior_status cpu_layer_norm_backward(prior_tensor *dx, prior_tensor *dweight, prior_tensor *dbias,
                                            const prior_tensor *g, const prior_tensor *x, const prior_tensor *mean,
                                            const prior_tensor *rstd, const prior_tensor *weight, int64_t rows,
                                            int64_t d) {
  int rc;
  if (x->dtype == PRIOR_F32)
    rc = layer_norm_backward_f32(DATA(dx), DATA(dweight), DATA(dbias), DATA(g), DATA(x), DATA(mean), DATA(rstd),
                                 DATA(weight), rows, d);
  else if (x->dtype == PRIOR_F64)
    rc = layer_norm_backward_f64(DATA(dx), DATA(dweight), DATA(dbias), DATA(g), DATA(x), DATA(mean), DATA(rstd),
                                 DATA(weight), rows, d);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "layer_norm backward: no CPU kernel for %s", prior_dtype_name(x->dtype));
  if (rc) return prior_error_set(PRIOR_ERR_MEMORY, "layer_norm backward: out of memory for %lld columns", (long long)d);
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_cpu_layer_norm(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "layer_norm", (prior_kernel_fn)cpu_layer_norm);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "layer_norm_backward", (prior_kernel_fn)cpu_layer_norm_backward);
}
