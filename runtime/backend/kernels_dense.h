/* Internal: kernel signatures of the dense op families (matmul, conv2d, batch norm, pooling, resampling),
 * registered under the names in quotes. The op layer checks arguments, allocates outputs and records
 * autograd; kernels only compute. Unless said otherwise a kernel takes contiguous tensors (the op layer
 * copies strided inputs first), and supports f32 and f64 (the same dtype for every tensor argument);
 * outputs are contiguous and fully written by the kernel. */
#ifndef PRIOR_BACKEND_KERNELS_DENSE_H
#define PRIOR_BACKEND_KERNELS_DENSE_H

#include "prior/tensor.h"

/* "matmul": out[..., n, m] = a[..., n, k] x b[..., k, m]. a, b and out have the same ndim (>= 2) and the
 * same batch dims; a and b may have ANY strides (a broadcast batch dim has stride 0, a transposed operand
 * swapped strides), so backward passes transposed views without copying. */
typedef prior_status (*prior_matmul_kernel)(prior_tensor *out, const prior_tensor *a, const prior_tensor *b);
/* Under CPU autocast a product of f32 operands with a side under 16 (rows n, inner k or columns m: a projection
 * of 4 pooled vectors, a weight gradient summed over 4 rows) stays f32. The bf16 kernels work in tiles of 16
 * rows and pairs of k, so for such a product converting and re-packing the other operand costs more than the
 * product itself (a [4, 2048] x [2048, 2048] product took 4.7 ms in bf16); f32 is also the more accurate. The
 * op layer applies the same rule, so these products keep f32 operands for backward as well. */
static inline int prior_matmul_stays_f32(int64_t n, int64_t k, int64_t m) {
  return n < 16 || k < 16 || m < 16;
}
/* "matmul_bias" (CPU, bf16 operands only): out[n, m] = a[n, k] x b[k, m] + bias[m] for 2-D bf16 a and b (autocast's
 * copies) and f32 out and bias, the bias added to each f32 sum as it is written: the same values as "matmul"
 * followed by a broadcast add, one pass fewer over out. */
typedef prior_status (*prior_matmul_bias_kernel)(prior_tensor *out, const prior_tensor *a, const prior_tensor *b,
                                                 const prior_tensor *bias);

typedef struct prior_conv2d_params {
  int64_t stride[2], pad[2], dilation[2]; /* {h, w} */
  int64_t groups;
} prior_conv2d_params;
/* "conv2d_forward": out [N, O, OH, OW] from x [N, C, H, W], w [O, C/groups, KH, KW], bias [O] or NULL. */
typedef prior_status (*prior_conv2d_forward_kernel)(prior_tensor *out, const prior_tensor *x, const prior_tensor *w,
                                                    const prior_tensor *bias, const prior_conv2d_params *p);
/* "conv2d_backward_data": gx [N, C, H, W] from the output gradient g and w. */
typedef prior_status (*prior_conv2d_backward_data_kernel)(prior_tensor *gx, const prior_tensor *g,
                                                          const prior_tensor *w, const prior_conv2d_params *p);
/* "conv2d_backward_weights": gw (w's shape) and, when not NULL, gb [O] from x and g. */
typedef prior_status (*prior_conv2d_backward_weights_kernel)(prior_tensor *gw, prior_tensor *gb, const prior_tensor *x,
                                                             const prior_tensor *g, const prior_conv2d_params *p);
/* Under CPU autocast the convolution kernels also take x and g as bf16 in channels-last order ([N, C, H, W] with
 * strides {H W C, 1, W C, C}), the layout their bf16 kernels read, made by "channels_last_bf16": out such a
 * tensor, x contiguous f32 of the same shape (values rounded to nearest even). A 1x1 conv with stride 1, no
 * padding, one group and no bias takes them as contiguous NCHW bf16 instead (a flat conversion): the CPU runs it
 * as matrix products over NCHW, with no transposes at all. */
typedef prior_status (*prior_channels_last_bf16_kernel)(prior_tensor *out, const prior_tensor *x);
/* prior_upsample2x_conv2d under CPU autocast. "nearest2x_channels_last_bf16": out bf16 [N, C, 2H, 2W] in
 * channels-last order, the nearest 2x up-sampling of x (contiguous f32 [N, C, H, W]) rounded to bf16.
 * "nearest2x_backward_channels_last": gx (contiguous f32 [N, C, H, W]) the sum of each 2 x 2 block of g (f32
 * [N, C, 2H, 2W] channels-last), in the order the "interpolate_backward" kernel sums it. The conv2d
 * backward-data kernel writes such a channels-last f32 gx when it is given one. */
typedef prior_status (*prior_nearest2x_channels_last_bf16_kernel)(prior_tensor *out, const prior_tensor *x);
typedef prior_status (*prior_nearest2x_backward_channels_last_kernel)(prior_tensor *gx, const prior_tensor *g);
/* That 1x1 rule without the bias: a 1 x 1 kernel, stride 1, no padding, one group (dilation does not matter). */
static inline int prior_conv2d_is_pointwise(const prior_tensor *w, const prior_conv2d_params *p) {
  return w->shape[2] == 1 && w->shape[3] == 1 && p->stride[0] == 1 && p->stride[1] == 1 && p->pad[0] == 0 &&
         p->pad[1] == 0 && p->groups == 1;
}

/* "batch_norm_forward": x [N, C, H, W]; weight, bias [C] or NULL. training: the batch mean and biased
 * variance go to save_mean/save_var [C], and running_mean/running_var [C] (may be NULL; any stride) become
 * (1 - momentum) * running + momentum * batch statistic, with the unbiased variance. Eval: normalises with
 * the running statistics (save_mean/save_var receive copies of them). */
typedef prior_status (*prior_batch_norm_forward_kernel)(prior_tensor *out, prior_tensor *save_mean,
                                                        prior_tensor *save_var, const prior_tensor *x,
                                                        const prior_tensor *weight, const prior_tensor *bias,
                                                        prior_tensor *running_mean, prior_tensor *running_var,
                                                        int training, double momentum, double eps);
/* "batch_norm_backward": gx, gw, gb (each may be NULL) from g, x, weight (may be NULL) and the statistics the
 * forward used. training: the statistics depend on x (full gradient); eval: they are constants. */
typedef prior_status (*prior_batch_norm_backward_kernel)(prior_tensor *gx, prior_tensor *gw, prior_tensor *gb,
                                                         const prior_tensor *g, const prior_tensor *x,
                                                         const prior_tensor *weight, const prior_tensor *mean,
                                                         const prior_tensor *var, int training, double eps);

/* "batch_norm_relu_forward": out = relu(batch_norm(x)), the values "batch_norm_forward" gives with negatives
 * and NaN set to 0. affine [4, C] (x's dtype) receives per channel the mean as a pair hi + lo, and scale and
 * shift: out = relu(fma((x - hi) - lo, scale, shift)) exactly, so backward can tell where the ReLU passed. */
typedef prior_status (*prior_batch_norm_relu_forward_kernel)(prior_tensor *out, prior_tensor *save_mean,
                                                             prior_tensor *save_var, prior_tensor *affine,
                                                             const prior_tensor *x, const prior_tensor *weight,
                                                             const prior_tensor *bias, prior_tensor *running_mean,
                                                             prior_tensor *running_var, int training, double momentum,
                                                             double eps);
/* "batch_norm_relu_backward": "batch_norm_backward" with g the gradient of the ReLU's output (zeroed where the
 * forward's ReLU did not pass, found from x and affine). */
typedef prior_status (*prior_batch_norm_relu_backward_kernel)(prior_tensor *gx, prior_tensor *gw, prior_tensor *gb,
                                                              const prior_tensor *g, const prior_tensor *x,
                                                              const prior_tensor *weight, const prior_tensor *mean,
                                                              const prior_tensor *var, const prior_tensor *affine,
                                                              int training, double eps);

typedef struct prior_pool2d_params {
  int64_t kernel[2], stride[2], pad[2]; /* {h, w} */
} prior_pool2d_params;
/* "max_pool2d_forward": out and indices (i64, out's shape; the position h * W + w in the input plane, as
 * PyTorch); padding counts as -inf. "max_pool2d_backward": gx from g and the indices. */
typedef prior_status (*prior_max_pool2d_forward_kernel)(prior_tensor *out, prior_tensor *indices, const prior_tensor *x,
                                                        const prior_pool2d_params *p);
typedef prior_status (*prior_max_pool2d_backward_kernel)(prior_tensor *gx, const prior_tensor *g,
                                                         const prior_tensor *indices);
/* "avg_pool2d_forward" / "avg_pool2d_backward": padding counts in the divisor (count_include_pad). */
typedef prior_status (*prior_avg_pool2d_forward_kernel)(prior_tensor *out, const prior_tensor *x,
                                                        const prior_pool2d_params *p);
typedef prior_status (*prior_avg_pool2d_backward_kernel)(prior_tensor *gx, const prior_tensor *g,
                                                         const prior_pool2d_params *p);
/* "adaptive_avg_pool2d_forward" / "_backward": window o covers [floor(o*H/OH), ceil((o+1)*H/OH)). */
typedef prior_status (*prior_adaptive_pool_kernel)(prior_tensor *dst, const prior_tensor *src);
/* "interpolate_forward" / "interpolate_backward": mode is a prior_interp_mode. */
typedef prior_status (*prior_interpolate_kernel)(prior_tensor *dst, const prior_tensor *src, int mode,
                                                 int align_corners);

#endif
