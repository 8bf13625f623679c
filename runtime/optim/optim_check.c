/* Argument checks shared by the optimizer update rules. */
#include "optim/optim_check.h"

#include "prior/error.h"

prior_status prior_optim_check(const char *op, const char *arg, const prior_tensor *t, const prior_tensor *ref,
                               int optional) {
  if (t == NULL) {
    if (optional) return PRIOR_OK;
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: %s is NULL", op, arg);
  }
  if (t->device.type != PRIOR_DEVICE_CPU)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "%s: %s is on %s; the update rules run on the CPU", op, arg,
                           prior_device_name(t->device));
  if (t->dtype != PRIOR_F32 && t->dtype != PRIOR_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "%s: %s has dtype %s; f32 or f64 is needed", op, arg,
                           prior_dtype_name((prior_dtype)t->dtype));
  if (!prior_tensor_is_contiguous(t))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: %s must be contiguous", op, arg);
  if (t != ref) {
    if (t->dtype != ref->dtype)
      return prior_error_set(PRIOR_ERR_DTYPE, "%s: %s has dtype %s but the parameter has %s", op, arg,
                             prior_dtype_name((prior_dtype)t->dtype), prior_dtype_name((prior_dtype)ref->dtype));
    if (!prior_tensor_same_shape(t, ref)) {
      char a[96], b[96];
      return prior_error_set(PRIOR_ERR_SHAPE, "%s: %s has shape %s but the parameter has %s", op, arg,
                             prior_tensor_shape_str(t, a, sizeof a), prior_tensor_shape_str(ref, b, sizeof b));
    }
  }
  return PRIOR_OK;
}
