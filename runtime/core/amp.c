/* The autocast switch (prior/amp.h): one process-wide setting read by the device kernels at each call. */
#include "prior/amp.h"

static int autocast_on = 0; /* read and written atomically: kernels on other threads read it */

prior_status prior_autocast_set(int enabled, prior_dtype dtype) {
  if (enabled && dtype != PRIOR_BF16)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "autocast: dtype %s is not supported (only bf16)",
                           prior_dtype_name(dtype));
  __atomic_store_n(&autocast_on, enabled ? 1 : 0, __ATOMIC_RELAXED);
  return PRIOR_OK;
}

int prior_autocast_enabled(void) { return __atomic_load_n(&autocast_on, __ATOMIC_RELAXED); }

prior_dtype prior_autocast_dtype(void) { return prior_autocast_enabled() ? PRIOR_BF16 : PRIOR_F32; }
