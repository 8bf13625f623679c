/* Pooling, resampling and padding of [N, C, H, W] maps, forward and backward. */
#ifndef PRIOR_OPS_POOL_H
#define PRIOR_OPS_POOL_H

#include "prior/tensor.h"

prior_tensor *prior_max_pool2d(prior_tensor *x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
                               int64_t pad_h, int64_t pad_w);
/* count_include_pad as PyTorch's default (true). */
prior_tensor *prior_avg_pool2d(prior_tensor *x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
                               int64_t pad_h, int64_t pad_w);
prior_tensor *prior_adaptive_avg_pool2d(prior_tensor *x, int64_t out_h, int64_t out_w);

typedef enum prior_interp_mode { PRIOR_INTERP_NEAREST = 0, PRIOR_INTERP_BILINEAR = 1 } prior_interp_mode;
/* F.interpolate to (out_h, out_w); align_corners only for bilinear (PyTorch's semantics for both). */
prior_tensor *prior_interpolate(prior_tensor *x, int64_t out_h, int64_t out_w, prior_interp_mode mode, int align_corners);

/* Constant padding of the last dims: pads = {left, right, top, bottom, ...} as F.pad (last dim first);
 * n_pads even, at most 2 * ndim. Negative pads crop. */
prior_tensor *prior_pad(prior_tensor *x, int n_pads, const int64_t *pads, double value);

#endif
