/* CPU pooling of NCHW maps: one (n, c) plane per OpenMP task, written once for float and
 * once for double through the macros below. Backward passes scatter into their own plane, so planes never
 * race. Accumulation is in the tensor's dtype, as PyTorch's CPU kernels do. */
#include <math.h>
#include <string.h>

#include "backend/kernels_dense.h"
#include "prior/device.h"

#define PLANES(t) ((t)->shape[0] * (t)->shape[1])
#define DIM_H(t) ((t)->shape[2])
#define DIM_W(t) ((t)->shape[3])

static prior_status bad_dtype(const char *op, const prior_tensor *t) {
  return prior_error_set(PRIOR_ERR_DTYPE, "%s: CPU kernel takes f32 or f64, got %s", op,
                         prior_dtype_name((prior_dtype)t->dtype));
}

/* ---- max pooling -------------------------------------------------------------------------------------------- */

/* Loop order: for each output row, kernel row, kernel column, then the output columns innermost, so that the
 * compiler vectorises across outputs. Each output still sees its window in row-major order, and the update
 * rule is PyTorch's ("v > max or v is NaN"), so ties and NaNs pick the same index as PyTorch. */
#define MAX_POOL_FWD(T)                                                                                        \
  static void max_pool_fwd_##T(T *y, int64_t *idx, const T *x, int64_t planes, int64_t H, int64_t W,           \
                               int64_t OH, int64_t OW, const prior_pool2d_params *p) {                         \
    int64_t sw = p->stride[1], pw = p->pad[1];                                                                 \
    _Pragma("omp parallel for") for (int64_t pl = 0; pl < planes; pl++) {                                      \
      const T *xp = x + pl * H * W;                                                                            \
      for (int64_t oh = 0; oh < OH; oh++) {                                                                    \
        int64_t h0 = oh * p->stride[0] - p->pad[0], h1 = h0 + p->kernel[0];                                    \
        if (h0 < 0) h0 = 0;                                                                                    \
        if (h1 > H) h1 = H;                                                                                    \
        T *yr = y + (pl * OH + oh) * OW;                                                                       \
        int64_t *ir = idx + (pl * OH + oh) * OW;                                                               \
        for (int64_t ow = 0; ow < OW; ow++) {                                                                  \
          int64_t w0 = ow * sw - pw;                                                                           \
          yr[ow] = -INFINITY;                                                                                  \
          ir[ow] = h0 * W + (w0 < 0 ? 0 : w0);                                                                 \
        }                                                                                                      \
        for (int64_t h = h0; h < h1; h++) {                                                                    \
          const T *xr = xp + h * W;                                                                            \
          for (int64_t kw = 0; kw < p->kernel[1]; kw++) {                                                      \
            /* outputs whose column w = ow * sw - pw + kw lies inside the row */                               \
            int64_t lo = pw - kw > 0 ? (pw - kw + sw - 1) / sw : 0;                                            \
            int64_t hi = (W - 1 + pw - kw) >= 0 ? (W - 1 + pw - kw) / sw + 1 : 0;                              \
            if (hi > OW) hi = OW;                                                                              \
            int64_t off = kw - pw;                                                                             \
            for (int64_t ow = lo; ow < hi; ow++) {                                                             \
              int64_t w = ow * sw + off;                                                                       \
              T v = xr[w];                                                                                     \
              int upd = (v > yr[ow]) | (v != v);                                                               \
              yr[ow] = upd ? v : yr[ow];                                                                       \
              ir[ow] = upd ? h * W + w : ir[ow];                                                               \
            }                                                                                                  \
          }                                                                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }                                                                                                            \
  static void max_pool_bwd_##T(T *gx, const T *g, const int64_t *idx, int64_t planes, int64_t HW, int64_t OHW) { \
    _Pragma("omp parallel for") for (int64_t pl = 0; pl < planes; pl++) {                                      \
      T *gp = gx + pl * HW;                                                                                    \
      memset(gp, 0, sizeof(T) * HW);                                                                           \
      for (int64_t i = 0; i < OHW; i++) gp[idx[pl * OHW + i]] += g[pl * OHW + i];                              \
    }                                                                                                          \
  }
MAX_POOL_FWD(float)
MAX_POOL_FWD(double)

static prior_status cpu_max_pool_fwd(prior_tensor *out, prior_tensor *indices, const prior_tensor *x,
                                     const prior_pool2d_params *p) {
  if (x->dtype == PRIOR_F32)
    max_pool_fwd_float(prior_tensor_data(out), prior_tensor_data(indices), prior_tensor_data(x), PLANES(x), DIM_H(x),
                       DIM_W(x), DIM_H(out), DIM_W(out), p);
  else if (x->dtype == PRIOR_F64)
    max_pool_fwd_double(prior_tensor_data(out), prior_tensor_data(indices), prior_tensor_data(x), PLANES(x), DIM_H(x),
                        DIM_W(x), DIM_H(out), DIM_W(out), p);
  else return bad_dtype("max_pool2d", x);
  return PRIOR_OK;
}

static prior_status cpu_max_pool_bwd(prior_tensor *gx, const prior_tensor *g, const prior_tensor *indices) {
  int64_t hw = DIM_H(gx) * DIM_W(gx), ohw = DIM_H(g) * DIM_W(g);
  if (gx->dtype == PRIOR_F32)
    max_pool_bwd_float(prior_tensor_data(gx), prior_tensor_data(g), prior_tensor_data(indices), PLANES(gx), hw, ohw);
  else if (gx->dtype == PRIOR_F64)
    max_pool_bwd_double(prior_tensor_data(gx), prior_tensor_data(g), prior_tensor_data(indices), PLANES(gx), hw, ohw);
  else return bad_dtype("max_pool2d backward", gx);
  return PRIOR_OK;
}

/* ---- average pooling (count_include_pad) and adaptive average pooling ----------------------------------- */

/* Window o of an average pool: [lo, hi) clipped to the input, and the divisor counting padding. */
static inline void avg_window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t n, int64_t *lo, int64_t *hi,
                              int64_t *span) {
  int64_t a = o * stride - pad, b = a + k;
  if (b > n + pad) b = n + pad;
  *span = b - a;
  *lo = a < 0 ? 0 : a;
  *hi = b > n ? n : b;
}

/* Window o of an adaptive pool over n inputs and m outputs: [floor(o n / m), ceil((o + 1) n / m)). */
static inline void adaptive_window(int64_t o, int64_t n, int64_t m, int64_t *lo, int64_t *hi, int64_t *span) {
  *lo = (o * n) / m;
  *hi = ((o + 1) * n + m - 1) / m;
  *span = *hi - *lo;
}

#define AVG_POOLS(T)                                                                                           \
  /* adaptive != 0: adaptive windows (p unused) */                                                             \
  static void avg_fwd_##T(T *y, const T *x, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,      \
                          const prior_pool2d_params *p, int adaptive) {                                        \
    _Pragma("omp parallel for") for (int64_t pl = 0; pl < planes; pl++) {                                      \
      const T *xp = x + pl * H * W;                                                                            \
      for (int64_t oh = 0; oh < OH; oh++) {                                                                    \
        int64_t h0, h1, sh, w0, w1, sw;                                                                        \
        if (adaptive) adaptive_window(oh, H, OH, &h0, &h1, &sh);                                               \
        else avg_window(oh, p->stride[0], p->pad[0], p->kernel[0], H, &h0, &h1, &sh);                          \
        for (int64_t ow = 0; ow < OW; ow++) {                                                                  \
          if (adaptive) adaptive_window(ow, W, OW, &w0, &w1, &sw);                                             \
          else avg_window(ow, p->stride[1], p->pad[1], p->kernel[1], W, &w0, &w1, &sw);                        \
          T acc = 0;                                                                                           \
          for (int64_t h = h0; h < h1; h++)                                                                    \
            for (int64_t w = w0; w < w1; w++) acc += xp[h * W + w];                                            \
          y[(pl * OH + oh) * OW + ow] = acc / (T)(sh * sw);                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }                                                                                                            \
  static void avg_bwd_##T(T *gx, const T *g, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,     \
                          const prior_pool2d_params *p, int adaptive) {                                        \
    _Pragma("omp parallel for") for (int64_t pl = 0; pl < planes; pl++) {                                      \
      T *gp = gx + pl * H * W;                                                                                 \
      memset(gp, 0, sizeof(T) * H * W);                                                                        \
      for (int64_t oh = 0; oh < OH; oh++) {                                                                    \
        int64_t h0, h1, sh, w0, w1, sw;                                                                        \
        if (adaptive) adaptive_window(oh, H, OH, &h0, &h1, &sh);                                               \
        else avg_window(oh, p->stride[0], p->pad[0], p->kernel[0], H, &h0, &h1, &sh);                          \
        for (int64_t ow = 0; ow < OW; ow++) {                                                                  \
          if (adaptive) adaptive_window(ow, W, OW, &w0, &w1, &sw);                                             \
          else avg_window(ow, p->stride[1], p->pad[1], p->kernel[1], W, &w0, &w1, &sw);                        \
          T v = g[(pl * OH + oh) * OW + ow] / (T)(sh * sw);                                                    \
          for (int64_t h = h0; h < h1; h++)                                                                    \
            for (int64_t w = w0; w < w1; w++) gp[h * W + w] += v;                                              \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }
AVG_POOLS(float)
AVG_POOLS(double)

/* dst is the pooled map for forward, the input gradient for backward. */
static prior_status avg_dispatch(const char *op, prior_tensor *dst, const prior_tensor *src,
                                 const prior_pool2d_params *p, int adaptive, int backward) {
  const prior_tensor *in = backward ? dst : src, *out = backward ? src : dst;
  int64_t planes = PLANES(in), H = DIM_H(in), W = DIM_W(in), OH = DIM_H(out), OW = DIM_W(out);
  if (dst->dtype == PRIOR_F32) {
    if (backward) avg_bwd_float(prior_tensor_data(dst), prior_tensor_data(src), planes, H, W, OH, OW, p, adaptive);
    else avg_fwd_float(prior_tensor_data(dst), prior_tensor_data(src), planes, H, W, OH, OW, p, adaptive);
  } else if (dst->dtype == PRIOR_F64) {
    if (backward) avg_bwd_double(prior_tensor_data(dst), prior_tensor_data(src), planes, H, W, OH, OW, p, adaptive);
    else avg_fwd_double(prior_tensor_data(dst), prior_tensor_data(src), planes, H, W, OH, OW, p, adaptive);
  } else {
    return bad_dtype(op, dst);
  }
  return PRIOR_OK;
}

static prior_status cpu_avg_pool_fwd(prior_tensor *out, const prior_tensor *x, const prior_pool2d_params *p) {
  return avg_dispatch("avg_pool2d", out, x, p, 0, 0);
}
static prior_status cpu_avg_pool_bwd(prior_tensor *gx, const prior_tensor *g, const prior_pool2d_params *p) {
  return avg_dispatch("avg_pool2d backward", gx, g, p, 0, 1);
}
static prior_status cpu_adaptive_fwd(prior_tensor *out, const prior_tensor *x) {
  return avg_dispatch("adaptive_avg_pool2d", out, x, NULL, 1, 0);
}
static prior_status cpu_adaptive_bwd(prior_tensor *gx, const prior_tensor *g) {
  return avg_dispatch("adaptive_avg_pool2d backward", gx, g, NULL, 1, 1);
}

__attribute__((constructor)) static void register_pool_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "max_pool2d_forward", (prior_kernel_fn)cpu_max_pool_fwd);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "max_pool2d_backward", (prior_kernel_fn)cpu_max_pool_bwd);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "avg_pool2d_forward", (prior_kernel_fn)cpu_avg_pool_fwd);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "avg_pool2d_backward", (prior_kernel_fn)cpu_avg_pool_bwd);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "adaptive_avg_pool2d_forward", (prior_kernel_fn)cpu_adaptive_fwd);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "adaptive_avg_pool2d_backward", (prior_kernel_fn)cpu_adaptive_bwd);
}
