/* Adam and AdamW (torch.optim.Adam / AdamW, non-amsgrad, single-tensor path).
 *
 * As PyTorch: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= (lr / (1 - b1^t)) m / (sqrt(v) /
 * sqrt(1 - b2^t) + eps). Adam adds weight_decay * p to g first; AdamW multiplies p by 1 - lr * weight_decay. */
#include <math.h>

#include "prior/optim.h"

#include "optim/optim_check.h"
#include "prior/error.h"

#define ADAM_LOOP(T)                                                             \
  do {                                                                           \
    T *p = (T *)prior_tensor_data(param);                                        \
    const T *g = (const T *)prior_tensor_data(grad);                             \
    T *m = (T *)prior_tensor_data(exp_avg);                                      \
    T *v = (T *)prior_tensor_data(exp_avg_sq);                                   \
    for (int64_t i = 0; i < n; i++) {                                            \
      double gi = (double)g[i];                                                  \
      double pi = (double)p[i];                                                  \
      if (decoupled) pi *= 1.0 - lr * weight_decay;                              \
      else gi += weight_decay * pi;                                              \
      double mi = beta1 * (double)m[i] + (1.0 - beta1) * gi;                     \
      double vi = beta2 * (double)v[i] + (1.0 - beta2) * gi * gi;                \
      m[i] = (T)mi;                                                              \
      v[i] = (T)vi;                                                              \
      double denom = sqrt((double)v[i]) / bc2_sqrt + eps;                        \
      p[i] = (T)(pi - step_size * (double)m[i] / denom);                         \
    }                                                                            \
  } while (0)

prior_status prior_adam_step(prior_tensor *param, const prior_tensor *grad, prior_tensor *exp_avg,
                             prior_tensor *exp_avg_sq, int64_t step, double lr, double beta1, double beta2,
                             double eps, double weight_decay, int decoupled) {
  PRIOR_TRY(prior_optim_check("adam_step", "param", param, param, 0));
  PRIOR_TRY(prior_optim_check("adam_step", "grad", grad, param, 0));
  PRIOR_TRY(prior_optim_check("adam_step", "exp_avg", exp_avg, param, 0));
  PRIOR_TRY(prior_optim_check("adam_step", "exp_avg_sq", exp_avg_sq, param, 0));
  if (step < 1) return prior_error_set(PRIOR_ERR_ARGUMENT, "adam_step: step counts from 1, got %lld", (long long)step);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "adam_step: betas must be in [0, 1), got (%g, %g)", beta1, beta2);
  if (lr < 0 || eps < 0 || weight_decay < 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "adam_step: lr (%g), eps (%g) and weight_decay (%g) must be >= 0", lr,
                           eps, weight_decay);
  double bc1 = 1.0 - pow(beta1, (double)step);
  double bc2_sqrt = sqrt(1.0 - pow(beta2, (double)step));
  double step_size = lr / bc1;
  int64_t n = prior_tensor_numel(param);
  if (param->dtype == PRIOR_F32) ADAM_LOOP(float);
  else ADAM_LOOP(double);
  return PRIOR_OK;
}
