/* Nearest 2x up-sampling fused with the move to and from the channels-last layout of the AMX convolutions, for
 * prior_upsample2x_conv2d under CPU autocast (the CCR image decoder's blocks). Unfused, each block wrote the
 * up-sampled map in f32, read it again to transpose it into bf16 channels-last, and backward transposed the
 * convolution's input gradient back to NCHW before summing its 2 x 2 blocks: four passes over the large map.
 * Here the transpose runs on the small map and the large one is written once (bf16) and read once (f32).
 * The values are those of the unfused ops: the same bf16 rounding of each input value, and each 2 x 2 block
 * summed in the order nearest_double_bwd (interpolate.c) sums it. */
#include <string.h>

#include "backend/cpu/channels_last.h"
#include "backend/kernels_dense.h"
#include "prior/alloc.h"
#include "prior/device.h"

/* out: bf16 [N, C, 2H, 2W] channels-last; x: contiguous f32 [N, C, H, W]. */
static prior_status cpu_nearest2x_channels_last_bf16(prior_tensor *out, const prior_tensor *x) {
  int64_t n = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3];
  size_t bytes = (size_t)(n * h * w * c) * sizeof(uint16_t);
  uint16_t *small = prior_alloc(prior_cpu(), bytes); /* [N, H, W, C] */
  if (!small) return prior_error_code();
  prior_nchw_to_nhwc_bf16(prior_tensor_data(x), small, n, c, h * w);
  uint16_t *big = prior_tensor_data(out);
  int64_t row = 2 * w * c; /* one output row, in elements */
#pragma omp parallel for
  for (int64_t r = 0; r < n * h; r++) { /* input row r = (image, y) -> output rows 2y and 2y + 1 */
    const uint16_t *in = small + r * w * c;
    uint16_t *o0 = big + 2 * r * row, *o1 = o0 + row;
    for (int64_t j = 0; j < w; j++) {
      memcpy(o0 + 2 * j * c, in + j * c, sizeof(uint16_t) * (size_t)c);
      memcpy(o0 + (2 * j + 1) * c, in + j * c, sizeof(uint16_t) * (size_t)c);
    }
    memcpy(o1, o0, sizeof(uint16_t) * (size_t)row);
  }
  prior_free(prior_cpu(), small, bytes);
  return PRIOR_OK;
}

/* gx: contiguous f32 [N, C, H, W]; g: f32 [N, C, 2H, 2W] channels-last. */
static prior_status cpu_nearest2x_backward_channels_last(prior_tensor *gx, const prior_tensor *g) {
  int64_t n = gx->shape[0], c = gx->shape[1], h = gx->shape[2], w = gx->shape[3];
  size_t bytes = (size_t)(n * h * w * c) * sizeof(float);
  float *small = prior_alloc(prior_cpu(), bytes); /* [N, H, W, C] */
  if (!small) return prior_error_code();
  const float *big = prior_tensor_data(g);
  int64_t row = 2 * w * c;
#pragma omp parallel for
  for (int64_t r = 0; r < n * h; r++) {
    const float *g0 = big + 2 * r * row, *g1 = g0 + row;
    float *o = small + r * w * c;
    for (int64_t j = 0; j < w; j++) {
      const float *a = g0 + 2 * j * c, *b = a + c, *d = g1 + 2 * j * c, *e = d + c;
#pragma omp simd
      for (int64_t k = 0; k < c; k++) o[j * c + k] = ((a[k] + b[k]) + d[k]) + e[k];
    }
  }
  prior_nhwc_to_nchw_f32(small, prior_tensor_data(gx), n, c, h * w);
  prior_free(prior_cpu(), small, bytes);
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_upsample_channels_last_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "nearest2x_channels_last_bf16",
                                (prior_kernel_fn)cpu_nearest2x_channels_last_bf16);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "nearest2x_backward_channels_last",
                                (prior_kernel_fn)cpu_nearest2x_backward_channels_last);
}
