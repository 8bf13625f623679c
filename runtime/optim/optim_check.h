/* Argument checks shared by the optimizer update rules. */
#ifndef PRIOR_OPTIM_OPTIM_CHECK_H
#define PRIOR_OPTIM_OPTIM_CHECK_H

#include "prior/tensor.h"

/* t is a contiguous CPU f32/f64 tensor with ref's shape and dtype (ref itself when t == ref); NULL t passes
 * when `optional`. The message names the op and the argument. */
prior_status prior_optim_check(const char *op, const char *arg, const prior_tensor *t, const prior_tensor *ref,
                               int optional);

#endif
