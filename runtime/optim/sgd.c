/* SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD). */
#include "prior/optim.h"

#include "optim/optim_check.h"
#include "prior/error.h"

#define SGD_LOOP(T)                                                                    \
  do {                                                                                 \
    T *p = (T *)prior_tensor_data(param);                                              \
    const T *g = (const T *)prior_tensor_data(grad);                                   \
    T *b = momentum_buf ? (T *)prior_tensor_data(momentum_buf) : NULL;                 \
    for (int64_t i = 0; i < n; i++) {                                                  \
      double d = (double)g[i] + weight_decay * (double)p[i];                           \
      if (b != NULL) {                                                                 \
        double m = first_step ? d : momentum * (double)b[i] + (1.0 - dampening) * d;   \
        b[i] = (T)m;                                                                   \
        d = nesterov ? d + momentum * m : m;                                           \
      }                                                                                \
      p[i] = (T)((double)p[i] - lr * d);                                               \
    }                                                                                  \
  } while (0)

prior_status prior_sgd_step(prior_tensor *param, const prior_tensor *grad, prior_tensor *momentum_buf,
                            int first_step, double lr, double momentum, double dampening, double weight_decay,
                            int nesterov) {
  PRIOR_TRY(prior_optim_check("sgd_step", "param", param, param, 0));
  PRIOR_TRY(prior_optim_check("sgd_step", "grad", grad, param, 0));
  PRIOR_TRY(prior_optim_check("sgd_step", "momentum_buf", momentum_buf, param, momentum == 0));
  if (lr < 0 || momentum < 0 || weight_decay < 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "sgd_step: lr (%g), momentum (%g) and weight_decay (%g) must be >= 0",
                           lr, momentum, weight_decay);
  if (nesterov && (momentum <= 0 || dampening != 0))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "sgd_step: nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                           momentum, dampening);
  if (momentum == 0) momentum_buf = NULL;
  int64_t n = prior_tensor_numel(param);
  if (param->dtype == PRIOR_F32) SGD_LOOP(float);
  else SGD_LOOP(double);
  return PRIOR_OK;
}
