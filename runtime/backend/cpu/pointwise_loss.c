/* CPU elementwise losses (l1, mse, smooth l1, bce with logits, kl divergence) and their gradients with
 * respect to input, target and bce's pos_weight, on contiguous same-shape arrays. Arithmetic is in double
 * per element; the reductions are done by the op layer. */
#include <math.h>
#include <omp.h>

#include "backend/kernels_nn.h"
#include "prior/device.h"

/* log(1 + exp(-x)) without overflow. */
static double softplus_neg(double x) { return (x > 0 ? 0 : -x) + log1p(exp(-fabs(x))); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double sgn(double v) { return (double)((v > 0) - (v < 0)); }

static double loss_value(int op, double x, double y, double w, double beta) {
  double d = x - y;
  switch (op) {
    case PRIOR_LOSS_L1: return fabs(d);
    case PRIOR_LOSS_MSE: return d * d;
    case PRIOR_LOSS_SMOOTH_L1: return fabs(d) < beta ? 0.5 * d * d / beta : fabs(d) - 0.5 * beta;
    case PRIOR_LOSS_BCE_LOGITS: return (1 - y) * x + (1 + (w - 1) * y) * softplus_neg(x);
    case PRIOR_LOSS_KL: return y == 0 ? 0.0 : y * (log(y) - x);
    case PRIOR_LOSS_KL_LOG: return exp(y) * (y - x);
  }
  return NAN;
}

/* d loss / d x, d y, d w at one element. */
static void loss_grad(int op, double x, double y, double w, double beta, double *gx, double *gy, double *gw) {
  double d = x - y;
  *gw = 0;
  switch (op) {
    case PRIOR_LOSS_L1: *gx = sgn(d); *gy = -*gx; break;
    case PRIOR_LOSS_MSE: *gx = 2 * d; *gy = -*gx; break;
    case PRIOR_LOSS_SMOOTH_L1: *gx = fabs(d) < beta ? d / beta : sgn(d); *gy = -*gx; break;
    case PRIOR_LOSS_BCE_LOGITS: {
      double sp = softplus_neg(x), wy = 1 + (w - 1) * y;
      *gx = (1 - y) - wy * sigmoid(-x);
      *gy = -x + (w - 1) * sp;
      *gw = y * sp;
      break;
    }
    case PRIOR_LOSS_KL:
      *gx = -y;
      *gy = y == 0 ? 0.0 : log(y) + 1 - x;
      break;
    case PRIOR_LOSS_KL_LOG:
      *gx = -exp(y);
      *gy = exp(y) * (y - x + 1);
      break;
    default: *gx = *gy = NAN;
  }
}

#define DEFINE_PW(T, SUF)                                                                                     \
  static void pw_##SUF(T *out, const T *x, const T *y, const T *w, int64_t n, int op, double beta) {          \
    _Pragma("omp parallel for schedule(static) if (n > 32768)")                                               \
    for (int64_t i = 0; i < n; i++) out[i] = (T)loss_value(op, x[i], y[i], w ? (double)w[i] : 1.0, beta);     \
  }                                                                                                           \
  static void pw_backward_##SUF(T *dx, T *dy, T *dw, const T *g, const T *x, const T *y, const T *w,          \
                                int64_t n, int op, double beta) {                                             \
    _Pragma("omp parallel for schedule(static) if (n > 32768)")                                               \
    for (int64_t i = 0; i < n; i++) {                                                                         \
      double gx, gy, gw;                                                                                      \
      loss_grad(op, x[i], y[i], w ? (double)w[i] : 1.0, beta, &gx, &gy, &gw);                                 \
      if (dx) dx[i] = (T)(g[i] * gx);                                                                         \
      if (dy) dy[i] = (T)(g[i] * gy);                                                                         \
      if (dw) dw[i] = (T)(g[i] * gw);                                                                         \
    }                                                                                                         \
  }

DEFINE_PW(float, f32)
DEFINE_PW(double, f64)

#define DATA(t) ((t) ? prior_tensor_data(t) : NULL)

static prior_status cpu_pointwise_loss(prior_tensor *out, const prior_tensor *x, const prior_tensor *y,
                                       const prior_tensor *w, int op, double param) {
  int64_t n = prior_tensor_numel(x);
  if (x->dtype == PRIOR_F32)
    pw_f32(DATA(out), DATA(x), DATA(y), DATA(w), n, op, param);
  else if (x->dtype == PRIOR_F64)
    pw_f64(DATA(out), DATA(x), DATA(y), DATA(w), n, op, param);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "loss: no CPU kernel for %s", prior_dtype_name(x->dtype));
  return PRIOR_OK;
}

static prior_status cpu_pointwise_loss_backward(prior_tensor *dx, prior_tensor *dy, prior_tensor *dw,
                                                const prior_tensor *g, const prior_tensor *x, const prior_tensor *y,
                                                const prior_tensor *w, int op, double param) {
  int64_t n = prior_tensor_numel(x);
  if (x->dtype == PRIOR_F32)
    pw_backward_f32(DATA(dx), DATA(dy), DATA(dw), DATA(g), DATA(x), DATA(y), DATA(w), n, op, param);
  else if (x->dtype == PRIOR_F64)
    pw_backward_f64(DATA(dx), DATA(dy), DATA(dw), DATA(g), DATA(x), DATA(y), DATA(w), n, op, param);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "loss backward: no CPU kernel for %s", prior_dtype_name(x->dtype));
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_cpu_pointwise_loss(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "pointwise_loss", (prior_kernel_fn)cpu_pointwise_loss);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "pointwise_loss_backward",
                                (prior_kernel_fn)cpu_pointwise_loss_backward);
}
