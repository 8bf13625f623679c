/* Internal: 1x1 convolutions under CPU autocast as matrix products over NCHW (conv_pointwise.c). Used by the
 * CPU conv2d kernels when the op hands x and the output gradient over as contiguous NCHW bf16 copies, which
 * it does exactly for the convolutions prior_conv2d_is_pointwise accepts (kernels_dense.h) that have no bias. */
#ifndef PRIOR_BACKEND_CPU_CONV_POINTWISE_H
#define PRIOR_BACKEND_CPU_CONV_POINTWISE_H

#include "backend/kernels_dense.h"

/* Whether t is such an operand: bf16, 4-D, contiguous NCHW. */
int prior_conv_pointwise_operand(const prior_tensor *t);

/* out [N, O, H, W] f32 from x [N, C, H, W] bf16 and w [O, C, 1, 1] f32. */
prior_status prior_conv_pointwise_forward(prior_tensor *out, const prior_tensor *x, const prior_tensor *w);
/* gx [N, C, H, W] f32 from g [N, O, H, W] bf16 and w. */
prior_status prior_conv_pointwise_backward_data(prior_tensor *gx, const prior_tensor *g, const prior_tensor *w);
/* gw [O, C, 1, 1] f32 from x and g (both bf16). */
prior_status prior_conv_pointwise_backward_weights(prior_tensor *gw, const prior_tensor *x, const prior_tensor *g);

#endif
