/* NCHW <-> NHWC transposes in tiles of TILE channels x TILE pixels: each tile's reads and writes are runs of
 * TILE contiguous elements, so both sides stream through whole cache lines. */
#include "backend/cpu/channels_last.h"

#include "backend/kernels_dense.h"
#include "core/bf16.h"
#include "prior/device.h"

#define TILE 16

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#if defined(__AVX512F__)
#include <immintrin.h>

/* Whole 16 x 16 tiles go through registers: sixteen 64-byte loads, a transpose by unpacks and lane shuffles,
 * sixteen 64-byte stores (the element loops below do one scalar load per element, latency-bound). */
#define VECTOR_TILES 1

/* r[i][j] -> r[j][i] */
static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}

/* Loads rows src + i * stride (16 floats each), transposes, stores row j to dst + j * dst_stride. */
static inline void tile_f32(const float *src, int64_t stride, float *dst, int64_t dst_stride) {
  __m512 r[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * stride);
  transpose16(r);
  for (int j = 0; j < 16; j++) _mm512_storeu_ps(dst + j * dst_stride, r[j]);
}

/* prior_bf16_round on 16 lanes (round to nearest even, NaN kept quiet; subnormals rounded, not flushed, which is
 * why this is not the hardware's VCVTNEPS2BF16). */
static inline __m256i bf16_round16(__m512 v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
  __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
}

static inline void tile_bf16(const float *src, int64_t stride, uint16_t *dst, int64_t dst_stride) {
  __m512 r[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * stride);
  transpose16(r);
  for (int j = 0; j < 16; j++) _mm256_storeu_si256((__m256i *)(dst + j * dst_stride), bf16_round16(r[j]));
}
#else
#define VECTOR_TILES 0
static inline void tile_f32(const float *src, int64_t stride, float *dst, int64_t dst_stride) {
  (void)src, (void)stride, (void)dst, (void)dst_stride;
}
static inline void tile_bf16(const float *src, int64_t stride, uint16_t *dst, int64_t dst_stride) {
  (void)src, (void)stride, (void)dst, (void)dst_stride;
}
#endif

/* The loops over pixel blocks (to NHWC) or channel blocks (to NCHW) are split over threads, so every thread
 * writes whole rows of its own. */
#define TO_NHWC(TD, CONVERT, TILE_FN)                                                    \
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
          if (VECTOR_TILES && p1 - p0 == TILE && c1 - c0 == TILE) {                      \
            TILE_FN(s + c0 * hw + p0, hw, d + p0 * c + c0, c);                           \
            continue;                                                                    \
          }                                                                              \
          for (int64_t p = p0; p < p1; p++)                                              \
            for (int64_t k = c0; k < c1; k++) d[p * c + k] = CONVERT(s[k * hw + p]);     \
        }                                                                                \
      }                                                                                  \
  } while (0)

#define SAME(x) (x)

void prior_nchw_to_nhwc_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw) {
  TO_NHWC(float, SAME, tile_f32);
}

void prior_nchw_to_nhwc_bf16(const float *src, uint16_t *dst, int64_t n, int64_t c, int64_t hw) {
  TO_NHWC(uint16_t, prior_bf16_round, tile_bf16);
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
        if (VECTOR_TILES && p1 - p0 == TILE && c1 - c0 == TILE) {
          tile_f32(s + p0 * c + c0, c, d + c0 * hw + p0, hw);
          continue;
        }
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
