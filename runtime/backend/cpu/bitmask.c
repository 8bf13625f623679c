/* CPU kernels over packed masks (one bit per element, bit i % 8 of byte i / 8): dropout's keep-mask and ReLU's
 * positive-mask. Forward and backward read the same bits, so backward keeps 1/32 of an f32 input's bytes. The
 * loops walk whole bytes (f32 with AVX-512: pairs of bytes as vector lane masks), so every thread writes bytes
 * of its own. */
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "backend/kernels_nn.h"
#include "prior/device.h"
#include "prior/error.h"

#define BYTE_LOOP(BODY)                                                                   \
  _Pragma("omp parallel for schedule(static) if (n > 65536)")                             \
  for (int64_t k = first / 8; k < (n + 7) / 8; k++) {                                     \
    int64_t end = 8 * k + 8 < n ? 8 * k + 8 : n;                                          \
    BODY                                                                                  \
  }

/* dropout: x * (kept ? scale : 0), a product even where dropped (NaN stays NaN) */
#define DROPOUT_LOOP(T)                                                                   \
  do {                                                                                    \
    T *o = (T *)prior_tensor_data(out);                                                   \
    const T *x = (const T *)prior_tensor_data(in);                                        \
    const T keep = (T)scale, drop = (T)0;                                                 \
    BYTE_LOOP(unsigned byte = m[k];                                                       \
              for (int64_t i = 8 * k; i < end; i++) o[i] = x[i] * ((byte >> (i - 8 * k)) & 1u ? keep : drop);) \
  } while (0)

/* ReLU: out = x > 0 ? x : 0 (the unary kernel's expression) and bit = x > 0 */
#define RELU_LOOP(T)                                                                      \
  do {                                                                                    \
    T *o = (T *)prior_tensor_data(out);                                                   \
    const T *x = (const T *)prior_tensor_data(in);                                        \
    BYTE_LOOP(unsigned byte = 0; for (int64_t i = 8 * k; i < end; i++) {                  \
      byte |= (unsigned)(x[i] > 0) << (i - 8 * k);                                        \
      o[i] = x[i] > 0 ? x[i] : (T)0;                                                      \
    } m[k] = (uint8_t)byte;)                                                              \
  } while (0)

/* ReLU backward: g where the bit is set, else exactly 0 (the relu_backward binary kernel's values) */
#define SELECT_LOOP(T)                                                                    \
  do {                                                                                    \
    T *o = (T *)prior_tensor_data(out);                                                   \
    const T *x = (const T *)prior_tensor_data(in);                                        \
    BYTE_LOOP(unsigned byte = m[k];                                                       \
              for (int64_t i = 8 * k; i < end; i++) o[i] = (byte >> (i - 8 * k)) & 1u ? x[i] : (T)0;) \
  } while (0)

static prior_status bad_dtype(const char *op, const prior_tensor *t) {
  return prior_error_set(PRIOR_ERR_DTYPE, "%s: CPU kernel takes f32 or f64, got %s", op,
                         prior_dtype_name((prior_dtype)t->dtype));
}

#if defined(__AVX512F__)
/* The f32 loops sixteen elements (two mask bytes, one lane mask) at a time, the same values as the byte loops;
 * the tail (fewer than sixteen) by those. Each thread still writes mask bytes of its own. */
#define F32_CHUNKS(BODY)                                                                  \
  _Pragma("omp parallel for schedule(static) if (n > 65536)")                             \
  for (int64_t c = 0; c < n / 16; c++) {                                                  \
    int64_t i = 16 * c;                                                                   \
    BODY                                                                                  \
  }

static void dropout_f32(float *o, const float *x, const uint8_t *m, int64_t n, float keep) {
  const __m512 kv = _mm512_set1_ps(keep), zv = _mm512_setzero_ps();
  F32_CHUNKS(__mmask16 k = (__mmask16)(m[2 * c] | (unsigned)m[2 * c + 1] << 8);
             _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_mask_blend_ps(k, zv, kv)));)
}

static void relu_f32(float *o, uint8_t *m, const float *x, int64_t n) {
  const __m512 zv = _mm512_setzero_ps();
  F32_CHUNKS(__m512 v = _mm512_loadu_ps(x + i); __mmask16 k = _mm512_cmp_ps_mask(v, zv, _CMP_GT_OQ);
             _mm512_storeu_ps(o + i, _mm512_maskz_mov_ps(k, v)); m[2 * c] = (uint8_t)k;
             m[2 * c + 1] = (uint8_t)(k >> 8);)
}

static void select_f32(float *o, const float *x, const uint8_t *m, int64_t n) {
  F32_CHUNKS(__mmask16 k = (__mmask16)(m[2 * c] | (unsigned)m[2 * c + 1] << 8);
             _mm512_storeu_ps(o + i, _mm512_maskz_mov_ps(k, _mm512_loadu_ps(x + i)));)
}
#endif

/* The whole-chunk part by the vector loops where built; returns the element they stopped at. */
static int64_t vector_part(int kind, prior_tensor *out, prior_tensor *bits_out, const prior_tensor *in,
                           const uint8_t *m, double scale) {
#if defined(__AVX512F__)
  int64_t n = prior_tensor_numel(in);
  if (in->dtype != PRIOR_F32 || n < 16) return 0;
  float *o = prior_tensor_data(out);
  const float *x = prior_tensor_data(in);
  if (kind == 0) dropout_f32(o, x, m, n, (float)scale);
  else if (kind == 1) relu_f32(o, prior_tensor_data(bits_out), x, n);
  else select_f32(o, x, m, n);
  return n / 16 * 16;
#else
  (void)kind, (void)out, (void)bits_out, (void)in, (void)m, (void)scale;
  return 0;
#endif
}

static prior_status cpu_dropout_apply(prior_tensor *out, const prior_tensor *in, const prior_tensor *bits,
                                      double scale) {
  int64_t n = prior_tensor_numel(in);
  const uint8_t *m = (const uint8_t *)prior_tensor_data(bits);
  int64_t first = vector_part(0, out, NULL, in, m, scale); /* where the byte loops take over */
  if (in->dtype == PRIOR_F32) DROPOUT_LOOP(float);
  else if (in->dtype == PRIOR_F64) DROPOUT_LOOP(double);
  else return bad_dtype("dropout", in);
  return PRIOR_OK;
}

static prior_status cpu_relu_bits(prior_tensor *out, prior_tensor *bits, const prior_tensor *in) {
  int64_t n = prior_tensor_numel(in);
  uint8_t *m = (uint8_t *)prior_tensor_data(bits);
  int64_t first = vector_part(1, out, bits, in, m, 0);
  if (in->dtype == PRIOR_F32) RELU_LOOP(float);
  else if (in->dtype == PRIOR_F64) RELU_LOOP(double);
  else return bad_dtype("relu", in);
  return PRIOR_OK;
}

static prior_status cpu_select_bits(prior_tensor *out, const prior_tensor *in, const prior_tensor *bits) {
  int64_t n = prior_tensor_numel(in);
  const uint8_t *m = (const uint8_t *)prior_tensor_data(bits);
  int64_t first = vector_part(2, out, NULL, in, m, 0);
  if (in->dtype == PRIOR_F32) SELECT_LOOP(float);
  else if (in->dtype == PRIOR_F64) SELECT_LOOP(double);
  else return bad_dtype("relu backward", in);
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_bitmask_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "dropout_apply", (prior_kernel_fn)cpu_dropout_apply);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "relu_bits", (prior_kernel_fn)cpu_relu_bits);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "select_bits", (prior_kernel_fn)cpu_select_bits);
}
