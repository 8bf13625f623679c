/* 2-D convolution (oneDNN on CPU for f32; a reference loop for f64), forward and backward. */
#ifndef PRIOR_OPS_CONV_H
#define PRIOR_OPS_CONV_H

#include "prior/tensor.h"

/* x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or NULL. PyTorch's F.conv2d. */
prior_tensor *prior_conv2d(prior_tensor *x, prior_tensor *weight, prior_tensor *bias, int64_t stride_h,
                           int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
                           int64_t groups);

/* conv2d(interpolate(x, 2H, 2W, nearest), weight, bias, stride 1, padding pad, dilation 1, one group): the CCR
 * image decoder's up-sampling block. Under CPU autocast one op that never writes the up-sampled map in f32 nor
 * transposes it (the same values as the two ops); elsewhere the two ops. */
prior_tensor *prior_upsample2x_conv2d(prior_tensor *x, prior_tensor *weight, prior_tensor *bias, int64_t pad);

#endif
