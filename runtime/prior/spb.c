/* The sentence-wise prototype memory bank: a soft Gumbel-softmax query over K learned prototypes. */
#include <math.h>

#include "prior/prior.h"
#include "prior/prior_modules.h"

prior_status prior_spb_init(prior_spb *spb, prior_params *p, const char *prefix, int64_t k, int64_t d, int l1_normalize) {
  if (k <= 0 || d <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "spb: %lld prototypes of width %lld", (long long)k, (long long)d);
  spb->k = k;
  spb->d = d;
  int64_t shape[2] = {k, d};
  prior_tensor *e = prior_tensor_randn(2, shape, PRIOR_F32, prior_cpu());
  if (!e) return prior_error_code();
  if (l1_normalize) { /* each prototype divided by its L1 norm */
    float *x = prior_tensor_data(e);
    for (int64_t i = 0; i < k; i++) {
      double norm = 0;
      for (int64_t j = 0; j < d; j++) norm += fabs(x[i * d + j]);
      for (int64_t j = 0; j < d; j++) x[i * d + j] = (float)(x[i * d + j] / (norm > 0 ? norm : 1));
    }
  }
  prior_status s = prior_params_add(p, prefix, "prototypes", e, 0);
  spb->prototypes = e;
  prior_tensor_free(e);
  return s;
}

prior_tensor *prior_spb_query(const prior_spb *spb, prior_tensor *z, double tau, prior_tensor *gumbel,
                              prior_tensor **soft_out, prior_tensor **index_out) {
  if (soft_out) *soft_out = NULL;
  if (index_out) *index_out = NULL;
  if (prior_check_tensor("spb_query", "z", z) != PRIOR_OK) return NULL;
  if (!(tau > 0)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "spb_query: temperature %g must be positive", tau);
    return NULL;
  }
  if (z->ndim < 1 || z->shape[z->ndim - 1] != spb->d) {
    char buf[64];
    prior_error_set(PRIOR_ERR_SHAPE, "spb_query: z of shape %s; the bank has width %lld",
                    prior_tensor_shape_str(z, buf, sizeof buf), (long long)spb->d);
    return NULL;
  }
  prior_tensor *et = prior_transpose(spb->prototypes, 0, 1);
  prior_tensor *logits = et ? prior_matmul(z, et) : NULL; /* [..., K] */
  prior_tensor *noise = NULL;
  if (logits && !gumbel) {
    noise = prior_tensor_empty(logits->ndim, logits->shape, (prior_dtype)logits->dtype, logits->device);
    if (noise && prior_tensor_gumbel_(noise) != PRIOR_OK) prior_tensor_free(noise), noise = NULL;
  } else if (logits) {
    noise = prior_tensor_retain(gumbel);
  }
  prior_tensor *noisy = noise ? prior_add(logits, noise) : NULL;
  prior_tensor *scaled = noisy ? prior_mul_scalar(noisy, 1.0 / tau) : NULL;
  prior_tensor *y = scaled ? prior_softmax(scaled, -1) : NULL;
  prior_tensor *out = y ? prior_matmul(y, spb->prototypes) : NULL;
  if (out && index_out) *index_out = prior_argmax(y, -1, 0);
  if (out && soft_out) *soft_out = prior_tensor_retain(y);
  prior_free_all(6, et, logits, noise, noisy, scaled, y);
  return out;
}

double prior_spb_temperature(prior_tau_schedule schedule, double tau_start, double tau_end, double t) {
  if (t < 0) t = 0;
  if (t > 1) t = 1;
  switch (schedule) {
    case PRIOR_TAU_LINEAR: return tau_start + (tau_end - tau_start) * t;
    case PRIOR_TAU_EXP: return tau_start * pow(tau_end / tau_start, t);
    default: return tau_start;
  }
}
