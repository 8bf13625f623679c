/* 2-D convolution: argument checks, output shape, autograd. The kernels take contiguous NCHW tensors, so
 * strided inputs (a permuted view) are copied once here and the copies are what backward keeps. Under CPU
 * autocast the input is converted here to the bf16 layout the kernels read (and kept so for the weight
 * gradient): channels-last, or NCHW itself for 1x1 convs without bias, which the CPU runs as matrix products
 * over NCHW (kernels_dense.h); backward converts the output gradient once, into the same layout, for both
 * gradients. */
#include "backend/kernels_dense.h"
#include "ops/op_util.h"
#include "prior/ops_conv.h"
#include "prior/ops_pool.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

static void params_to_ints(const prior_conv2d_params *p, int64_t *ints) {
  ints[0] = p->stride[0], ints[1] = p->stride[1], ints[2] = p->pad[0], ints[3] = p->pad[1];
  ints[4] = p->dilation[0], ints[5] = p->dilation[1], ints[6] = p->groups;
}

static prior_conv2d_params params_from_ints(const int64_t *ints) {
  prior_conv2d_params p = {{ints[0], ints[1]}, {ints[2], ints[3]}, {ints[4], ints[5]}, ints[6]};
  return p;
}

/* An [N, C, H, W] bf16 or f32 tensor in channels-last order, uninitialised. */
static prior_tensor *empty_channels_last(const int64_t *shape, prior_dtype dtype, prior_device device) {
  int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
  int64_t strides[4] = {shape[1] * shape[2] * shape[3], 1, shape[3] * shape[1], shape[1]};
  prior_tensor *base = prior_tensor_empty(1, &n, dtype, device);
  prior_tensor *t = base ? prior_tensor_as_strided(base, 4, shape, strides, 0) : NULL;
  prior_tensor_free(base);
  return t;
}

/* x (contiguous f32 [N, C, H, W]) as bf16 in channels-last order, the layout the CPU's bf16 kernels read. */
static prior_tensor *channels_last_bf16(const char *op, prior_tensor *x) {
  prior_channels_last_bf16_kernel k = (prior_channels_last_bf16_kernel)prior_op_kernel(op, "channels_last_bf16", x);
  prior_tensor *out = k ? empty_channels_last(x->shape, PRIOR_BF16, x->device) : NULL;
  if (out && k(out, x) != PRIOR_OK) {
    prior_tensor_free(out);
    out = NULL;
  }
  return out;
}

/* x as the bf16 operand of a conv with weight w: NCHW for a 1x1 conv with stride 1, no padding, one group and
 * no bias (a flat conversion), channels-last otherwise. */
static prior_tensor *bf16_operand(const char *op, prior_tensor *x, const prior_tensor *w, const prior_conv2d_params *p,
                                  int with_bias) {
  return !with_bias && prior_conv2d_is_pointwise(w, p) ? prior_op_bf16_copy(x) : channels_last_bf16(op, x);
}

/* The weight and bias gradients (those the node needs) from the kept input x, the output gradient gc (f32, NCHW)
 * and gk, gc as the kernels read it (gc itself, or its bf16 copy in x's layout). */
static prior_status weight_and_bias_grads(prior_node *node, prior_tensor *x, prior_tensor *w, prior_tensor *gc,
                                          prior_tensor *gk, const prior_conv2d_params *p, prior_tensor **gi) {
  if (node->needs_grad[1]) {
    prior_conv2d_backward_weights_kernel k =
        (prior_conv2d_backward_weights_kernel)prior_op_kernel("conv2d backward", "conv2d_backward_weights", x);
    gi[1] = k ? prior_tensor_empty(w->ndim, w->shape, (prior_dtype)w->dtype, w->device) : NULL;
    if (gi[1] && node->needs_grad[2]) {
      int64_t o = w->shape[0];
      gi[2] = prior_tensor_empty(1, &o, (prior_dtype)w->dtype, w->device);
    }
    if (!gi[1] || (node->needs_grad[2] && !gi[2])) return prior_error_code();
    return k(gi[1], gi[2], x, gk, p);
  }
  if (node->needs_grad[2]) {
    int64_t dims[3] = {0, 2, 3};
    gi[2] = prior_sum(gc, 3, dims, 0);
    if (!gi[2]) return prior_error_code();
  }
  return PRIOR_OK;
}

static prior_status conv2d_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *x = node->saved[0], *w = node->saved[1];
  prior_conv2d_params p = params_from_ints(node->ints);
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  if (!gc) return prior_error_code();
  /* a forward under autocast kept x as a bf16 copy: g is converted once, into the same layout, for both gradients */
  prior_tensor *gk = x->dtype == PRIOR_BF16 ? bf16_operand("conv2d backward", gc, w, &p, node->ints[7])
                                            : prior_tensor_retain(gc);
  if (!gk) {
    prior_tensor_free(gc);
    return prior_error_code();
  }
  prior_status s = PRIOR_OK;
  if (node->needs_grad[0]) {
    prior_conv2d_backward_data_kernel k =
        (prior_conv2d_backward_data_kernel)prior_op_kernel("conv2d backward", "conv2d_backward_data", x);
    gi[0] = k ? prior_tensor_empty(x->ndim, x->shape, (prior_dtype)w->dtype, x->device) : NULL;
    s = gi[0] ? k(gi[0], gk, w, &p) : prior_error_code();
  }
  if (s == PRIOR_OK) s = weight_and_bias_grads(node, x, w, gc, gk, &p, gi);
  prior_free_all(2, gc, gk);
  return s;
}

static prior_status check_args(const char *op, prior_tensor *x, prior_tensor *w, prior_tensor *bias,
                               const prior_conv2d_params *p, int64_t *oh, int64_t *ow) {
  PRIOR_TRY(prior_check_tensor(op, "input", x));
  PRIOR_TRY(prior_check_tensor(op, "weight", w));
  PRIOR_TRY(prior_check_floating(op, "input", x));
  PRIOR_TRY(prior_check_same_device(op, x, w));
  PRIOR_TRY(prior_check_same_dtype(op, x, w));
  PRIOR_TRY(prior_check_ndim(op, "input", x, 4));
  PRIOR_TRY(prior_check_ndim(op, "weight", w, 4));
  char sx[96], sw[96];
  prior_tensor_shape_str(x, sx, sizeof sx);
  prior_tensor_shape_str(w, sw, sizeof sw);
  if (bias) {
    PRIOR_TRY(prior_check_tensor(op, "bias", bias));
    PRIOR_TRY(prior_check_same_device(op, x, bias));
    PRIOR_TRY(prior_check_same_dtype(op, x, bias));
    if (bias->ndim != 1 || bias->shape[0] != w->shape[0]) {
      char sb[96];
      return prior_error_set(PRIOR_ERR_SHAPE, "%s: bias %s does not match weight %s's %lld output channels", op,
                             prior_tensor_shape_str(bias, sb, sizeof sb), sw, (long long)w->shape[0]);
    }
  }
  for (int i = 0; i < 2; i++) {
    if (p->stride[i] < 1 || p->dilation[i] < 1 || p->pad[i] < 0)
      return prior_error_set(PRIOR_ERR_ARGUMENT,
                             "%s: stride (%lld, %lld) and dilation (%lld, %lld) must be >= 1 and padding (%lld, %lld) "
                             ">= 0", op, (long long)p->stride[0], (long long)p->stride[1], (long long)p->dilation[0],
                             (long long)p->dilation[1], (long long)p->pad[0], (long long)p->pad[1]);
  }
  if (p->groups < 1 || x->shape[1] % p->groups != 0 || w->shape[0] % p->groups != 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: groups = %lld must divide the input channels of %s and the output "
                           "channels of weight %s", op, (long long)p->groups, sx, sw);
  if (w->shape[1] * p->groups != x->shape[1])
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: input %s has %lld channels but weight %s expects %lld (x %lld groups)",
                           op, sx, (long long)x->shape[1], sw, (long long)w->shape[1], (long long)p->groups);
  int64_t out[2];
  for (int i = 0; i < 2; i++) {
    int64_t eff = (w->shape[2 + i] - 1) * p->dilation[i] + 1, padded = x->shape[2 + i] + 2 * p->pad[i];
    if (eff > padded)
      return prior_error_set(PRIOR_ERR_SHAPE, "%s: kernel %s (dilated extent %lld) is larger than the padded input %s "
                             "(%lld with padding)", op, sw, (long long)eff, sx, (long long)padded);
    out[i] = (padded - eff) / p->stride[i] + 1;
  }
  *oh = out[0], *ow = out[1];
  return PRIOR_OK;
}

/* Records the node of a convolution's output (when a gradient is needed): it keeps the input as the kernels read
 * it (kept_x) and the contiguous weight, the parameters, and whether there was a bias (the layout backward
 * converts g into depends on it). Returns out, or NULL (out freed) on failure. */
static prior_tensor *record(const char *op, prior_backward_fn backward, prior_tensor *out, prior_tensor *x,
                            prior_tensor *weight, prior_tensor *bias, prior_tensor *kept_x, prior_tensor *wc,
                            const prior_conv2d_params *p) {
  prior_tensor *inputs[3] = {x, weight, bias};
  if (!out || !prior_autograd_needed(3, inputs)) return out;
  prior_node *node = prior_node_new(op, backward, 3, inputs);
  if (!node || prior_node_save(node, kept_x) < 0 || prior_node_save(node, wc) < 0) {
    prior_node_release(node);
    prior_tensor_free(out);
    return NULL;
  }
  params_to_ints(p, node->ints);
  node->ints[7] = bias != NULL;
  prior_node_attach(node, out);
  return out;
}

/* A strided 1x1 conv without padding reads every s-th pixel only: under CPU autocast it is the stride-1 conv of
 * that subsampled view (a reshape and two selects, whose backward scatters the gradient back), which takes the
 * NCHW product path instead of transposing the whole map for the AMX kernels. Maps whose sides the stride
 * divides only (ResNet50's three downsample projections). */
static int strided_pointwise_applies(const prior_tensor *x, const prior_tensor *w, const prior_tensor *bias,
                                     const prior_conv2d_params *p) {
  prior_conv2d_params unit = *p;
  unit.stride[0] = unit.stride[1] = 1;
  return !bias && (p->stride[0] > 1 || p->stride[1] > 1) && x->shape[2] % p->stride[0] == 0 &&
         x->shape[3] % p->stride[1] == 0 && prior_conv2d_is_pointwise(w, &unit) && prior_op_lowers_to_bf16(x);
}

static prior_tensor *strided_pointwise(prior_tensor *x, prior_tensor *w, const prior_conv2d_params *p) {
  int64_t sh = p->stride[0], sw = p->stride[1], h = x->shape[2], wd = x->shape[3];
  int64_t split[6] = {x->shape[0], x->shape[1], h / sh, sh, wd / sw, sw};
  prior_tensor *v = prior_reshape(x, 6, split);
  prior_tensor *cols = v ? prior_select(v, 5, 0) : NULL;  /* [N, C, H/s, s, W/s] */
  prior_tensor *sub = cols ? prior_select(cols, 3, 0) : NULL; /* [N, C, H/s, W/s] */
  prior_tensor *out = sub ? prior_conv2d(sub, w, NULL, 1, 1, 0, 0, p->dilation[0], p->dilation[1], 1) : NULL;
  prior_free_all(3, v, cols, sub);
  if (!out) prior_error_context("conv2d (stride %lld x %lld as a subsampled 1x1)", (long long)sh, (long long)sw);
  return out;
}

prior_tensor *prior_conv2d(prior_tensor *x, prior_tensor *weight, prior_tensor *bias, int64_t stride_h,
                           int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
                           int64_t groups) {
  const char *op = "conv2d";
  prior_conv2d_params p = {{stride_h, stride_w}, {pad_h, pad_w}, {dilation_h, dilation_w}, groups};
  int64_t oh = 0, ow = 0;
  if (check_args(op, x, weight, bias, &p, &oh, &ow) != PRIOR_OK) return NULL;
  if (strided_pointwise_applies(x, weight, bias, &p)) return strided_pointwise(x, weight, &p);
  prior_conv2d_forward_kernel k = (prior_conv2d_forward_kernel)prior_op_kernel(op, "conv2d_forward", x);
  if (!k) return NULL;
  prior_tensor *xc = prior_tensor_contiguous_raw(x), *wc = prior_tensor_contiguous_raw(weight);
  if (xc && prior_op_lowers_to_bf16(xc)) { /* the bf16 copy is what the kernel reads and backward keeps */
    prior_tensor *xl = bf16_operand(op, xc, weight, &p, bias != NULL);
    prior_tensor_free(xc);
    xc = xl;
  }
  prior_tensor *bc = bias ? prior_tensor_contiguous_raw(bias) : NULL;
  int64_t shape[4] = {x->shape[0], weight->shape[0], oh, ow};
  prior_tensor *out = xc && wc && (bc || !bias) ? prior_tensor_empty(4, shape, (prior_dtype)x->dtype, x->device) : NULL;
  if (out && k(out, xc, wc, bc, &p) != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    out = NULL;
  }
  out = record(op, conv2d_backward, out, x, weight, bias, xc, wc, &p);
  prior_free_all(3, xc, wc, bc);
  return out;
}

/* ---- nearest 2x up-sampling, then a convolution --------------------------------------------------------- */

/* saved[0] is the up-sampled input as bf16 channels-last, saved[1] the weight. */
static prior_status upsample2x_conv2d_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  const char *op = "upsample2x_conv2d backward";
  prior_tensor *xu = node->saved[0], *w = node->saved[1];
  prior_conv2d_params p = params_from_ints(node->ints);
  prior_tensor *gc = prior_tensor_contiguous_raw(g);
  prior_tensor *gk = gc ? channels_last_bf16(op, gc) : NULL;
  prior_status s = gk ? PRIOR_OK : prior_error_code();
  if (s == PRIOR_OK && node->needs_grad[0]) { /* the data gradient stays channels-last until the 2 x 2 sums */
    prior_conv2d_backward_data_kernel k =
        (prior_conv2d_backward_data_kernel)prior_op_kernel(op, "conv2d_backward_data", xu);
    prior_nearest2x_backward_channels_last_kernel kb =
        (prior_nearest2x_backward_channels_last_kernel)prior_op_kernel(op, "nearest2x_backward_channels_last", xu);
    prior_tensor *gxu = k && kb ? empty_channels_last(xu->shape, PRIOR_F32, xu->device) : NULL;
    int64_t shape[4] = {xu->shape[0], xu->shape[1], xu->shape[2] / 2, xu->shape[3] / 2};
    gi[0] = gxu ? prior_tensor_empty(4, shape, PRIOR_F32, xu->device) : NULL;
    s = gi[0] ? k(gxu, gk, w, &p) : prior_error_code();
    if (s == PRIOR_OK) s = kb(gi[0], gxu);
    prior_tensor_free(gxu);
  }
  if (s == PRIOR_OK) s = weight_and_bias_grads(node, xu, w, gc, gk, &p, gi);
  prior_free_all(2, gc, gk);
  return s;
}

/* Whether the fused path applies: CPU autocast lowers x, the kernels exist, and the arguments are ones the
 * composition accepts (it checks and reports everything else). */
static int upsample_fused_ok(const prior_tensor *x, const prior_tensor *w, const prior_tensor *b, int64_t pad) {
  if (!x || !w || !prior_op_lowers_to_bf16(x) || x->ndim != 4 || w->ndim != 4 || w->dtype != PRIOR_F32 ||
      w->device.type != PRIOR_DEVICE_CPU || w->shape[1] != x->shape[1] || pad < 0 || prior_tensor_numel(x) == 0 ||
      w->shape[0] == 0 || 2 * x->shape[2] + 2 * pad < w->shape[2] || 2 * x->shape[3] + 2 * pad < w->shape[3])
    return 0;
  if (b && (b->dtype != PRIOR_F32 || b->device.type != PRIOR_DEVICE_CPU || b->ndim != 1 || b->shape[0] != w->shape[0]))
    return 0;
  return prior_backend_supports(PRIOR_DEVICE_CPU, "nearest2x_channels_last_bf16") &&
         prior_backend_supports(PRIOR_DEVICE_CPU, "nearest2x_backward_channels_last");
}

prior_tensor *prior_upsample2x_conv2d(prior_tensor *x, prior_tensor *weight, prior_tensor *bias, int64_t pad) {
  const char *op = "upsample2x_conv2d";
  if (!upsample_fused_ok(x, weight, bias, pad)) {
    if (prior_check_tensor(op, "input", x) != PRIOR_OK || prior_check_ndim(op, "input", x, 4) != PRIOR_OK) return NULL;
    prior_tensor *up = prior_interpolate(x, 2 * x->shape[2], 2 * x->shape[3], PRIOR_INTERP_NEAREST, 0);
    prior_tensor *out = up ? prior_conv2d(up, weight, bias, 1, 1, pad, pad, 1, 1, 1) : NULL;
    prior_tensor_free(up);
    return out;
  }
  prior_conv2d_params p = {{1, 1}, {pad, pad}, {1, 1}, 1};
  prior_nearest2x_channels_last_bf16_kernel ku =
      (prior_nearest2x_channels_last_bf16_kernel)prior_op_kernel(op, "nearest2x_channels_last_bf16", x);
  prior_conv2d_forward_kernel k = (prior_conv2d_forward_kernel)prior_op_kernel(op, "conv2d_forward", x);
  if (!ku || !k) return NULL;
  int64_t up_shape[4] = {x->shape[0], x->shape[1], 2 * x->shape[2], 2 * x->shape[3]};
  int64_t shape[4] = {x->shape[0], weight->shape[0], up_shape[2] + 2 * pad - weight->shape[2] + 1,
                      up_shape[3] + 2 * pad - weight->shape[3] + 1};
  prior_tensor *xc = prior_tensor_contiguous_raw(x), *wc = prior_tensor_contiguous_raw(weight);
  prior_tensor *bc = bias ? prior_tensor_contiguous_raw(bias) : NULL;
  prior_tensor *xu = xc ? empty_channels_last(up_shape, PRIOR_BF16, x->device) : NULL;
  prior_tensor *out = xu && wc && (bc || !bias) ? prior_tensor_empty(4, shape, PRIOR_F32, x->device) : NULL;
  if (out && (ku(xu, xc) != PRIOR_OK || k(out, xu, wc, bc, &p) != PRIOR_OK)) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    out = NULL;
  }
  out = record(op, upsample2x_conv2d_backward, out, x, weight, bias, xu, wc, &p);
  prior_free_all(4, xc, wc, bc, xu);
  return out;
}
