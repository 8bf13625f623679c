/* CPU dropout: the input times a packed keep-mask (one bit per element) and the keep scale, in one pass.
 * Forward and backward are the same multiplication, by the same bits. */
#include "backend/kernels_nn.h"
#include "prior/device.h"
#include "prior/error.h"

#define DROPOUT_LOOP(T)                                                                   \
  do {                                                                                    \
    T *o = (T *)prior_tensor_data(out);                                                   \
    const T *x = (const T *)prior_tensor_data(in);                                        \
    const T keep = (T)scale, drop = (T)0;                                                 \
    _Pragma("omp parallel for schedule(static) if (n > 65536)")                           \
    for (int64_t k = 0; k < (n + 7) / 8; k++) {                                           \
      unsigned byte = m[k];                                                               \
      int64_t end = 8 * k + 8 < n ? 8 * k + 8 : n;                                        \
      for (int64_t i = 8 * k; i < end; i++) o[i] = x[i] * ((byte >> (i - 8 * k)) & 1u ? keep : drop); \
    }                                                                                     \
  } while (0)

static prior_status cpu_dropout_apply(prior_tensor *out, const prior_tensor *in, const prior_tensor *bits,
                                      double scale) {
  int64_t n = prior_tensor_numel(in);
  const uint8_t *m = (const uint8_t *)prior_tensor_data(bits);
  if (in->dtype == PRIOR_F32) DROPOUT_LOOP(float);
  else if (in->dtype == PRIOR_F64) DROPOUT_LOOP(double);
  else
    return prior_error_set(PRIOR_ERR_DTYPE, "dropout: CPU kernel takes f32 or f64, got %s",
                           prior_dtype_name((prior_dtype)in->dtype));
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_dropout_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "dropout_apply", (prior_kernel_fn)cpu_dropout_apply);
}
