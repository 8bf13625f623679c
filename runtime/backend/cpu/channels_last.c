/* NCHW <-> NHWC transposes in tiles of TILE channels x TILE pixels: each tile's reads and writes are runs of
 * TILE contiguous elements, so both sides stream through whole cache lines. */
#include "backend/cpu/channels_last.h"

#include "backend/kernels_dense.h"
#include "core/bf16.h"
#include "prior/device.h"

#define TILE 16

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The loops over pixel blocks (to NHWC) or channel blocks (to NCHW) are split over threads, so every thread
 * writes whole rows of its own. */
#define TO_NHWC(TD, CONVERT)                                                             \
  do {                                                                                   \
    int64_t blocks = (hw + TILE - 1) / TILE;                                             \
    _Pragma("omp parallel for collapse(2) schedule(static)")                             \
    for (int64_t b = 0; b < n; b++)                                                      \
      for (int64_t pb = 0; pb < blocks; pb++) {                                          \
        const float *s = src + b * c * hw;                                               \
        TD *d = dst + b * c * hw;                                                        \
        int64_t p0 = pb * TILE, p1 = min64(p0 + TILE, hw);                               \
        for (int64_t c0 = 0; c0 < c; c0 += TILE) {                                       \
          int64_t c1 = min64(c0 + TILE, c);                                              \
          for (int64_t p = p0; p < p1; p++)                                              \
            for (int64_t k = c0; k < c1; k++) d[p * c + k] = CONVERT(s[k * hw + p]);     \
        }                                                                                \
      }                                                                                  \
  } while (0)

#define SAME(x) (x)

void prior_nchw_to_nhwc_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw) { TO_NHWC(float, SAME); }

void prior_nchw_to_nhwc_bf16(const float *src, uint16_t *dst, int64_t n, int64_t c, int64_t hw) {
  TO_NHWC(uint16_t, prior_bf16_round);
}

void prior_nhwc_to_nchw_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw) {
  int64_t blocks = (c + TILE - 1) / TILE;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < n; b++)
    for (int64_t cb = 0; cb < blocks; cb++) {
      const float *s = src + b * c * hw;
      float *d = dst + b * c * hw;
      int64_t c0 = cb * TILE, c1 = min64(c0 + TILE, c);
      for (int64_t p0 = 0; p0 < hw; p0 += TILE) {
        int64_t p1 = min64(p0 + TILE, hw);
        for (int64_t k = c0; k < c1; k++)
          for (int64_t p = p0; p < p1; p++) d[k * hw + p] = s[p * c + k];
      }
    }
}

static prior_status cpu_channels_last_bf16(prior_tensor *out, const prior_tensor *x) {
  prior_nchw_to_nhwc_bf16(prior_tensor_data(x), prior_tensor_data(out), x->shape[0], x->shape[1],
                          x->shape[2] * x->shape[3]);
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_channels_last_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "channels_last_bf16", (prior_kernel_fn)cpu_channels_last_bf16);
}
