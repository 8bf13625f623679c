/* CPU resampling of NCHW maps (nearest and bilinear, PyTorch's index rules): one (n, c) plane per OpenMP
 * task, written once for float and once for double through the macros below. Backward scatters into its own
 * plane, so planes never race. Positions are computed in the tensor's dtype (float for f32), as PyTorch does,
 * so that rounding at window edges picks the same source pixels. */
#include <math.h>
#include <string.h>

#include "backend/kernels_dense.h"
#include "prior/device.h"
#include "prior/ops_pool.h"

#define PLANES(t) ((t)->shape[0] * (t)->shape[1])
#define DIM_H(t) ((t)->shape[2])
#define DIM_W(t) ((t)->shape[3])

/* ---- interpolation --------------------------------------------------------------------------------------- */

/* PyTorch's 'nearest' source index: floor(dst * in / out) computed in float, clamped to the last input. */
static inline int64_t nearest_index(int64_t o, int64_t in, int64_t out) {
  if (in == out) return o;
  float scale = (float)in / (float)out;
  int64_t i = (int64_t)floorf((float)o * scale);
  return i < in - 1 ? i : in - 1;
}

/* Bilinear source position along one axis, computed in T as PyTorch does: i0, i1 (= i0 + 1, or i0 at the
 * border) and the weight of i1. align_corners maps the corner pixels' centres onto each other; otherwise
 * pixel centres are matched (the half-pixel offset) and positions left of the first centre clamp to it. */
#define LINEAR_INDEX(T)                                                                                        \
  static inline void linear_index_##T(int64_t o, int64_t in, int64_t out, int align, int64_t *i0, int64_t *i1, \
                                      T *l1) {                                                                 \
    T src;                                                                                                     \
    if (align) {                                                                                               \
      T scale = out > 1 ? (T)(in - 1) / (T)(out - 1) : (T)0;                                                   \
      src = scale * (T)o;                                                                                      \
    } else {                                                                                                   \
      T scale = (T)in / (T)out;                                                                                \
      src = scale * ((T)o + (T)0.5) - (T)0.5;                                                                  \
      if (src < 0) src = 0;                                                                                    \
    }                                                                                                          \
    *i0 = (int64_t)src;                                                                                        \
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);                                                                        \
    *l1 = src - (T)*i0;                                                                                        \
  }
LINEAR_INDEX(float)
LINEAR_INDEX(double)

#define INTERP(T)                                                                                              \
  static void interp_##T(T *dst, const T *src, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,   \
                         int mode, int align, int backward) {                                                  \
    if (backward) memset(dst, 0, sizeof(T) * planes * H * W);                                                  \
    _Pragma("omp parallel for") for (int64_t pl = 0; pl < planes; pl++) {                                      \
      for (int64_t oh = 0; oh < OH; oh++) {                                                                    \
        int64_t h0, h1, w0, w1;                                                                                \
        T lh = 0, lw = 0;                                                                                      \
        if (mode == PRIOR_INTERP_NEAREST) h0 = h1 = nearest_index(oh, H, OH);                                  \
        else linear_index_##T(oh, H, OH, align, &h0, &h1, &lh);                                                \
        for (int64_t ow = 0; ow < OW; ow++) {                                                                  \
          if (mode == PRIOR_INTERP_NEAREST) w0 = w1 = nearest_index(ow, W, OW);                                \
          else linear_index_##T(ow, W, OW, align, &w0, &w1, &lw);                                              \
          T c00 = (1 - lh) * (1 - lw), c01 = (1 - lh) * lw, c10 = lh * (1 - lw), c11 = lh * lw;                \
          int64_t o = (pl * OH + oh) * OW + ow;                                                                \
          if (!backward) {                                                                                     \
            const T *sp = src + pl * H * W;                                                                    \
            if (mode == PRIOR_INTERP_NEAREST) dst[o] = sp[h0 * W + w0];                                        \
            else                                                                                               \
              dst[o] = c00 * sp[h0 * W + w0] + c01 * sp[h0 * W + w1] + c10 * sp[h1 * W + w0] +                 \
                       c11 * sp[h1 * W + w1];                                                                  \
          } else {                                                                                             \
            T *dp = dst + pl * H * W, g = src[o];                                                              \
            if (mode == PRIOR_INTERP_NEAREST) {                                                                \
              dp[h0 * W + w0] += g;                                                                            \
            } else {                                                                                           \
              dp[h0 * W + w0] += c00 * g;                                                                      \
              dp[h0 * W + w1] += c01 * g;                                                                      \
              dp[h1 * W + w0] += c10 * g;                                                                      \
              dp[h1 * W + w1] += c11 * g;                                                                      \
            }                                                                                                  \
          }                                                                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }
INTERP(float)
INTERP(double)

/* Nearest doubling (the CCR image decoder's up-sampling), f32: the general loop's result, computed without its
 * per-pixel index arithmetic and scattered adds. PyTorch's source index floor(o * 0.5f) is exactly o / 2, so output
 * row 2h and 2h + 1 both repeat input row h, each pixel twice. Backward sums each 2 x 2 block in the order the
 * general loop accumulates it (row 2h left, right, then row 2h + 1), so both paths give the same bits. */
static void nearest_double_fwd(float *dst, const float *src, int64_t planes, int64_t H, int64_t W) {
  int64_t OW = 2 * W;
#pragma omp parallel for
  for (int64_t r = 0; r < planes * H; r++) { /* one input row -> two output rows */
    const float *in = src + r * W;
    float *o0 = dst + 2 * r * OW, *o1 = o0 + OW;
    for (int64_t w = 0; w < W; w++) o0[2 * w] = o0[2 * w + 1] = in[w];
    memcpy(o1, o0, sizeof(float) * (size_t)OW);
  }
}

static void nearest_double_bwd(float *dst, const float *src, int64_t planes, int64_t H, int64_t W) {
  int64_t OW = 2 * W;
#pragma omp parallel for
  for (int64_t r = 0; r < planes * H; r++) {
    const float *g0 = src + 2 * r * OW, *g1 = g0 + OW;
    float *out = dst + r * W;
    for (int64_t w = 0; w < W; w++) out[w] = ((g0[2 * w] + g0[2 * w + 1]) + g1[2 * w]) + g1[2 * w + 1];
  }
}

static prior_status interp_dispatch(const char *op, prior_tensor *dst, const prior_tensor *src, int mode, int align,
                                    int backward) {
  const prior_tensor *in = backward ? dst : src, *out = backward ? src : dst;
  int64_t planes = PLANES(in), H = DIM_H(in), W = DIM_W(in), OH = DIM_H(out), OW = DIM_W(out);
  if (dst->dtype == PRIOR_F32 && mode == PRIOR_INTERP_NEAREST && OH == 2 * H && OW == 2 * W) {
    (backward ? nearest_double_bwd : nearest_double_fwd)(prior_tensor_data(dst), prior_tensor_data(src), planes, H, W);
    return PRIOR_OK;
  }
  if (dst->dtype == PRIOR_F32)
    interp_float(prior_tensor_data(dst), prior_tensor_data(src), planes, H, W, OH, OW, mode, align, backward);
  else if (dst->dtype == PRIOR_F64)
    interp_double(prior_tensor_data(dst), prior_tensor_data(src), planes, H, W, OH, OW, mode, align, backward);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "%s: CPU kernel takes f32 or f64, got %s", op,
                           prior_dtype_name((prior_dtype)dst->dtype));
  return PRIOR_OK;
}

static prior_status cpu_interp_fwd(prior_tensor *out, const prior_tensor *x, int mode, int align) {
  return interp_dispatch("interpolate", out, x, mode, align, 0);
}
static prior_status cpu_interp_bwd(prior_tensor *gx, const prior_tensor *g, int mode, int align) {
  return interp_dispatch("interpolate backward", gx, g, mode, align, 1);
}

__attribute__((constructor)) static void register_interpolate_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "interpolate_forward", (prior_kernel_fn)cpu_interp_fwd);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "interpolate_backward", (prior_kernel_fn)cpu_interp_bwd);
}
