/* Gradient-norm clipping over many tensors (torch.nn.utils.clip_grad_norm_ with the L2 norm). */
#include <math.h>

#include "prior/optim.h"

#include "optim/optim_check.h"
#include "prior/error.h"

prior_status prior_clip_grad_norm(int n, prior_tensor *const *grads, double max_norm, double *total_norm) {
  if (n < 0 || (n > 0 && grads == NULL))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "clip_grad_norm: %d gradients but no array", n);
  if (!(max_norm >= 0)) return prior_error_set(PRIOR_ERR_ARGUMENT, "clip_grad_norm: max_norm must be >= 0, got %g", max_norm);
  double sumsq = 0;
  for (int k = 0; k < n; k++) {
    const prior_tensor *g = grads[k];
    if (g == NULL) continue;
    PRIOR_TRY(prior_optim_check("clip_grad_norm", "a gradient", g, g, 0));
    int64_t m = prior_tensor_numel(g);
    if (g->dtype == PRIOR_F32) {
      const float *d = (const float *)prior_tensor_data(g);
      for (int64_t i = 0; i < m; i++) sumsq += (double)d[i] * (double)d[i];
    } else {
      const double *d = (const double *)prior_tensor_data(g);
      for (int64_t i = 0; i < m; i++) sumsq += d[i] * d[i];
    }
  }
  double total = sqrt(sumsq);
  if (total_norm != NULL) *total_norm = total;
  double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return PRIOR_OK;
  for (int k = 0; k < n; k++) {
    prior_tensor *g = grads[k];
    if (g == NULL) continue;
    int64_t m = prior_tensor_numel(g);
    if (g->dtype == PRIOR_F32) {
      float *d = (float *)prior_tensor_data(g);
      for (int64_t i = 0; i < m; i++) d[i] = (float)((double)d[i] * coef);
    } else {
      double *d = (double *)prior_tensor_data(g);
      for (int64_t i = 0; i < m; i++) d[i] *= coef;
    }
  }
  return PRIOR_OK;
}
