/* Mixed precision: a global autocast switch.
 *
 * When enabled with PRIOR_BF16, the device backends run matrix multiplications and convolutions of f32
 * tensors with bf16 operands and f32 accumulation, and write f32 outputs: weights, gradients, optimizer
 * state and reductions stay f32 ("master weights"). Disabled (the default), everything runs in the tensors'
 * own dtype: pure f32. The CPU backend follows the switch where the processor computes bf16 natively
 * (AVX-512 BF16, AMX) and stays f32 elsewhere. */
#ifndef PRIOR_AMP_H
#define PRIOR_AMP_H

#include "prior/device.h"
#include "prior/dtype.h"
#include "prior/error.h"

/* dtype must be PRIOR_BF16 (the only one supported) when enabled; ignored when disabling. */
prior_status prior_autocast_set(int enabled, prior_dtype dtype);
int prior_autocast_enabled(void);
prior_dtype prior_autocast_dtype(void); /* PRIOR_F32 when disabled */
/* 1 when autocast on `device` really computes in bf16 (the CPU needs AVX-512 BF16 or AMX), 0 when it would stay f32. */
int prior_autocast_native(prior_device device);


#endif
