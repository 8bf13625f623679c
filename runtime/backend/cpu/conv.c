/* CPU 2-D convolution. f32: oneDNN primitives (forward, backward data, backward weights), cached per shape;
 * under autocast x and the output gradient may arrive already as bf16 channels-last (kernels_dense.h).
 * Most primitives choose their memory formats (format_tag any: blocked nChw16c and friends on AVX-512) and
 * our NCHW tensors are reordered in and out around each call; 1x1 convs over large maps work on NCHW
 * directly (see use_plain_formats and docs/performance.md for the measurements behind the choice). f64: direct loops, the reference the f32 path is tested against. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv_pointwise.h"
#include "backend/cpu/dnnl_util.h"
#include "backend/kernels_dense.h"
#include "prior/device.h"

/* ---- f64 reference ------------------------------------------------------------------------------------- */

typedef struct conv_dims {
  int64_t N, C, H, W, O, KH, KW, OH, OW, G, Cg, Og;
} conv_dims;

static conv_dims dims_of(const prior_tensor *x, const prior_tensor *w, const prior_tensor *y, int64_t groups) {
  conv_dims d = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[2], w->shape[3],
                 y->shape[2], y->shape[3], groups, x->shape[1] / groups, w->shape[0] / groups};
  return d;
}

static void forward_f64(double *y, const double *x, const double *w, const double *b, conv_dims d,
                        const prior_conv2d_params *p) {
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < d.N; n++) {
    for (int64_t o = 0; o < d.O; o++) {
      int64_t g = o / d.Og;
      for (int64_t oh = 0; oh < d.OH; oh++) {
        for (int64_t ow = 0; ow < d.OW; ow++) {
          double acc = b ? b[o] : 0.0;
          for (int64_t c = 0; c < d.Cg; c++) {
            const double *xp = x + ((n * d.C + g * d.Cg + c) * d.H) * d.W;
            const double *wp = w + ((o * d.Cg + c) * d.KH) * d.KW;
            for (int64_t kh = 0; kh < d.KH; kh++) {
              int64_t ih = oh * p->stride[0] - p->pad[0] + kh * p->dilation[0];
              if (ih < 0 || ih >= d.H) continue;
              for (int64_t kw = 0; kw < d.KW; kw++) {
                int64_t iw = ow * p->stride[1] - p->pad[1] + kw * p->dilation[1];
                if (iw < 0 || iw >= d.W) continue;
                acc += xp[ih * d.W + iw] * wp[kh * d.KW + kw];
              }
            }
          }
          y[((n * d.O + o) * d.OH + oh) * d.OW + ow] = acc;
        }
      }
    }
  }
}

static void backward_data_f64(double *gx, const double *g, const double *w, conv_dims d, const prior_conv2d_params *p) {
  memset(gx, 0, sizeof(double) * d.N * d.C * d.H * d.W);
#pragma omp parallel for
  for (int64_t n = 0; n < d.N; n++) { /* each image's gradient is written by one thread */
    for (int64_t o = 0; o < d.O; o++) {
      int64_t g0 = o / d.Og;
      for (int64_t oh = 0; oh < d.OH; oh++) {
        for (int64_t ow = 0; ow < d.OW; ow++) {
          double gv = g[((n * d.O + o) * d.OH + oh) * d.OW + ow];
          for (int64_t c = 0; c < d.Cg; c++) {
            double *xp = gx + ((n * d.C + g0 * d.Cg + c) * d.H) * d.W;
            const double *wp = w + ((o * d.Cg + c) * d.KH) * d.KW;
            for (int64_t kh = 0; kh < d.KH; kh++) {
              int64_t ih = oh * p->stride[0] - p->pad[0] + kh * p->dilation[0];
              if (ih < 0 || ih >= d.H) continue;
              for (int64_t kw = 0; kw < d.KW; kw++) {
                int64_t iw = ow * p->stride[1] - p->pad[1] + kw * p->dilation[1];
                if (iw < 0 || iw >= d.W) continue;
                xp[ih * d.W + iw] += gv * wp[kh * d.KW + kw];
              }
            }
          }
        }
      }
    }
  }
}

static void backward_weights_f64(double *gw, double *gb, const double *x, const double *g, conv_dims d,
                                 const prior_conv2d_params *p) {
#pragma omp parallel for
  for (int64_t o = 0; o < d.O; o++) { /* each output channel's weights are written by one thread */
    int64_t g0 = o / d.Og;
    double *wp = gw + o * d.Cg * d.KH * d.KW;
    for (int64_t i = 0; i < d.Cg * d.KH * d.KW; i++) wp[i] = 0;
    double bsum = 0;
    for (int64_t n = 0; n < d.N; n++) {
      for (int64_t oh = 0; oh < d.OH; oh++) {
        for (int64_t ow = 0; ow < d.OW; ow++) {
          double gv = g[((n * d.O + o) * d.OH + oh) * d.OW + ow];
          bsum += gv;
          for (int64_t c = 0; c < d.Cg; c++) {
            const double *xp = x + ((n * d.C + g0 * d.Cg + c) * d.H) * d.W;
            for (int64_t kh = 0; kh < d.KH; kh++) {
              int64_t ih = oh * p->stride[0] - p->pad[0] + kh * p->dilation[0];
              if (ih < 0 || ih >= d.H) continue;
              for (int64_t kw = 0; kw < d.KW; kw++) {
                int64_t iw = ow * p->stride[1] - p->pad[1] + kw * p->dilation[1];
                if (iw < 0 || iw >= d.W) continue;
                wp[(c * d.KH + kh) * d.KW + kw] += gv * xp[ih * d.W + iw];
              }
            }
          }
        }
      }
    }
    if (gb) gb[o] = bsum;
  }
}

/* ---- f32 through oneDNN ------------------------------------------------------------------------------------ */

enum { CONV_FWD = 1, CONV_BWD_DATA = 2, CONV_BWD_WEIGHTS = 3 };

/* Everything a cached primitive depends on; zero-filled before use so padding bytes compare equal. */
typedef struct conv_key {
  int64_t kind, with_bias, plain, bf16;
  int64_t src_nhwc_bf16, ddst_nhwc_bf16; /* we hand x / the output gradient over as bf16 channels-last */
  int64_t dsrc_nhwc_f32;                 /* the data gradient is wanted in f32 channels-last */
  conv_dims d;
  int64_t stride[2], pad[2], dilation[2];
} conv_key;

/* Whether the primitive works on NCHW directly (1) or picks its own format with reorders around it (0).
 * PRIOR_DNNL_CONV_PLAIN=1 / =0 forces one or the other; by default 1x1 convs over large maps (28 x 28 and up)
 * run on NCHW, where oneDNN does them as GEMMs and the reorders would cost more than the blocked kernel saves,
 * and everything else (3x3, 7x7, small maps) in the blocked format (measured in docs/performance.md). */
static int use_plain_formats(const conv_dims *d) {
  static int forced = -2;
  if (forced == -2) {
    const char *e = getenv("PRIOR_DNNL_CONV_PLAIN");
    forced = e && e[0] == '1' ? 1 : e && e[0] == '0' ? 0 : -1;
  }
  if (forced >= 0) return forced;
  return d->KH == 1 && d->KW == 1 && d->H * d->W >= 28 * 28;
}

typedef struct conv_mds {
  dnnl_memory_desc_t src, wei, bias, dst;         /* our layouts */
  dnnl_memory_desc_t src_p, wei_p, bias_p, dst_p; /* what the primitive is told */
} conv_mds;

/* Under autocast (bf16) the primitive reads its inputs in bf16 and writes f32: src and weights forward; the
 * output gradient and weights for the data gradient; src and output gradient for the weight gradient. The
 * plan's reorders do the f32 -> bf16 conversion on the way in. `for_kind` picks the dtypes of that pass. */
static void make_mds(conv_mds *m, const conv_key *k, int64_t for_kind) {
  const conv_dims *d = &k->d;
  dnnl_dims_t src = {d->N, d->C, d->H, d->W}, dst = {d->N, d->O, d->OH, d->OW}, bias = {d->O};
  dnnl_dims_t wei = {d->O, d->Cg, d->KH, d->KW}, wei_g = {d->G, d->Og, d->Cg, d->KH, d->KW};
  int grouped = d->G > 1;
  dnnl_data_type_t low = k->bf16 ? dnnl_bf16 : dnnl_f32;
  dnnl_data_type_t src_t = for_kind == CONV_BWD_DATA ? dnnl_f32 : low;
  dnnl_data_type_t wei_t = for_kind == CONV_BWD_WEIGHTS ? dnnl_f32 : low;
  dnnl_data_type_t dst_t = for_kind == CONV_FWD ? dnnl_f32 : low;
  if (k->src_nhwc_bf16) dnnl_memory_desc_init_by_tag(&m->src, 4, src, dnnl_bf16, dnnl_nhwc);
  else dnnl_memory_desc_init_by_tag(&m->src, 4, src, dnnl_f32, k->dsrc_nhwc_f32 ? dnnl_nhwc : dnnl_nchw);
  if (k->ddst_nhwc_bf16 && for_kind != CONV_FWD) dnnl_memory_desc_init_by_tag(&m->dst, 4, dst, dnnl_bf16, dnnl_nhwc);
  else dnnl_memory_desc_init_by_tag(&m->dst, 4, dst, dnnl_f32, dnnl_nchw);
  dnnl_memory_desc_init_by_tag(&m->bias, 1, bias, dnnl_f32, dnnl_a);
  if (grouped) dnnl_memory_desc_init_by_tag(&m->wei, 5, wei_g, dnnl_f32, dnnl_goihw);
  else dnnl_memory_desc_init_by_tag(&m->wei, 4, wei, dnnl_f32, dnnl_oihw);
  m->bias_p = m->bias;
  dnnl_format_tag_t src_tag = k->plain ? dnnl_nchw : dnnl_format_tag_any;
  dnnl_format_tag_t wei_tag = k->plain ? (grouped ? dnnl_goihw : dnnl_oihw) : dnnl_format_tag_any;
  dnnl_memory_desc_init_by_tag(&m->src_p, 4, src, src_t, src_tag);
  dnnl_memory_desc_init_by_tag(&m->dst_p, 4, dst, dst_t, src_tag);
  dnnl_memory_desc_init_by_tag(&m->wei_p, grouped ? 5 : 4, grouped ? wei_g : wei, wei_t, wei_tag);
}

static dnnl_status_t forward_pd(dnnl_primitive_desc_t *pd, const conv_mds *m, const conv_key *k, int with_bias) {
  dnnl_convolution_desc_t cd;
  dnnl_dims_t strides = {k->stride[0], k->stride[1]}, pad = {k->pad[0], k->pad[1]};
  dnnl_dims_t dil = {k->dilation[0] - 1, k->dilation[1] - 1}; /* oneDNN counts the gaps */
  dnnl_status_t st = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                                                &m->src_p, &m->wei_p, with_bias ? &m->bias_p : NULL,
                                                                &m->dst_p, strides, dil, pad, pad);
  return st == dnnl_success ? dnnl_primitive_desc_create(pd, &cd, NULL, prior_dnnl_engine(), NULL) : st;
}

static prior_dnnl_plan *build_plan(const char *op, const conv_key *k) {
  if (!prior_dnnl_engine()) return NULL;
  conv_mds m, hint;
  make_mds(&m, k, k->kind);
  /* the backward passes are created with a forward primitive as a hint; under autocast it takes their dtypes */
  make_mds(&hint, k, k->bf16 ? CONV_FWD : k->kind);
  if (k->bf16 && k->kind != CONV_FWD) hint.dst_p.data_type = dnnl_bf16;
  dnnl_primitive_desc_t fwd = NULL, pd = NULL;
  dnnl_status_t st = forward_pd(&fwd, k->kind == CONV_FWD ? &m : &hint, k, k->kind == CONV_FWD && k->with_bias);
  if (st != dnnl_success) return prior_dnnl_error(op, "convolution descriptor", st), NULL;
  dnnl_dims_t strides = {k->stride[0], k->stride[1]}, pad = {k->pad[0], k->pad[1]};
  dnnl_dims_t dil = {k->dilation[0] - 1, k->dilation[1] - 1};
  dnnl_convolution_desc_t cd;
  int ids[4], out[4], n = 0;
  dnnl_memory_desc_t user[4];
  if (k->kind == CONV_FWD) {
    pd = fwd, fwd = NULL;
    ids[0] = DNNL_ARG_SRC, ids[1] = DNNL_ARG_WEIGHTS, ids[2] = DNNL_ARG_DST, ids[3] = DNNL_ARG_BIAS;
    user[0] = m.src, user[1] = m.wei, user[2] = m.dst, user[3] = m.bias;
    out[0] = 0, out[1] = 0, out[2] = 1, out[3] = 0;
    n = k->with_bias ? 4 : 3;
  } else if (k->kind == CONV_BWD_DATA) {
    st = dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &m.src_p, &m.wei_p, &m.dst_p,
                                                          strides, dil, pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &cd, NULL, prior_dnnl_engine(), fwd);
    ids[0] = DNNL_ARG_DIFF_DST, ids[1] = DNNL_ARG_WEIGHTS, ids[2] = DNNL_ARG_DIFF_SRC;
    user[0] = m.dst, user[1] = m.wei, user[2] = m.src;
    out[0] = 0, out[1] = 0, out[2] = 1;
    n = 3;
  } else {
    st = dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &m.src_p, &m.wei_p,
                                                             k->with_bias ? &m.bias_p : NULL, &m.dst_p, strides, dil,
                                                             pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &cd, NULL, prior_dnnl_engine(), fwd);
    ids[0] = DNNL_ARG_SRC, ids[1] = DNNL_ARG_DIFF_DST, ids[2] = DNNL_ARG_DIFF_WEIGHTS, ids[3] = DNNL_ARG_DIFF_BIAS;
    user[0] = m.src, user[1] = m.dst, user[2] = m.wei, user[3] = m.bias;
    out[0] = 0, out[1] = 0, out[2] = 1, out[3] = 1;
    n = k->with_bias ? 4 : 3;
  }
  if (fwd) dnnl_primitive_desc_destroy(fwd);
  if (st != dnnl_success) return prior_dnnl_error(op, "convolution backward descriptor", st), NULL;
  return prior_dnnl_plan_create(op, pd, n, ids, user, out);
}

static prior_status run_f32(const char *op, int kind, const conv_dims *d, const prior_conv2d_params *p, int with_bias,
                            const prior_tensor *x, const prior_tensor *g, int gx_channels_last, void *const *ptrs) {
  conv_key k;
  memset(&k, 0, sizeof k);
  k.kind = kind, k.with_bias = with_bias, k.d = *d, k.dsrc_nhwc_f32 = gx_channels_last;
  k.src_nhwc_bf16 = x && x->dtype == PRIOR_BF16, k.ddst_nhwc_bf16 = g && g->dtype == PRIOR_BF16;
  k.bf16 = k.src_nhwc_bf16 || k.ddst_nhwc_bf16 || prior_cpu_autocast_bf16();
  k.plain = k.bf16 ? 0 : use_plain_formats(d); /* the bf16 (AMX) kernels want blocked formats */
  for (int i = 0; i < 2; i++) k.stride[i] = p->stride[i], k.pad[i] = p->pad[i], k.dilation[i] = p->dilation[i];
  prior_dnnl_plan *plan = prior_dnnl_cache_get(&k, sizeof k);
  int owned = 0;
  if (!plan) {
    plan = build_plan(op, &k);
    if (!plan) return prior_error_code();
    plan = prior_dnnl_cache_put(&k, sizeof k, plan, prior_dnnl_plan_destroy, &owned);
  }
  prior_status s = prior_dnnl_plan_execute(op, plan, ptrs);
  if (owned) prior_dnnl_plan_destroy(plan);
  return s;
}

/* ---- kernels ---------------------------------------------------------------------------------------------- */

static prior_status bad_dtype(const char *op, const prior_tensor *t) {
  return prior_error_set(PRIOR_ERR_DTYPE, "%s: CPU kernel takes f32 or f64, got %s", op,
                         prior_dtype_name((prior_dtype)t->dtype));
}

/* [N, C, H, W] with strides {H W C, 1, W C, C} */
static int channels_last(const prior_tensor *t) {
  const int64_t *s = t->shape;
  return t->strides[1] == 1 && t->strides[3] == s[1] && t->strides[2] == s[3] * s[1] && t->strides[0] == s[2] * s[3] * s[1];
}

/* x or g may come as bf16 in channels-last order (see kernels_dense.h) */
static prior_status check_operand(const char *op, const prior_tensor *t) {
  if (t->dtype != PRIOR_BF16 || channels_last(t)) return PRIOR_OK;
  return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: a bf16 operand must be channels-last (or NCHW for a 1x1 conv with "
                         "stride 1, no padding, one group and no bias), got strides (%lld, %lld, %lld, %lld)",
                         op, (long long)t->strides[0], (long long)t->strides[1], (long long)t->strides[2],
                         (long long)t->strides[3]);
}

/* Whether a pass goes to conv_pointwise.c: a 1x1 conv without bias whose bf16 operands are NCHW. For a 1 x 1
 * map both layouts are the same memory, so either path gives the same values. */
static int pointwise(const prior_tensor *a, const prior_tensor *b, const prior_tensor *w, const prior_conv2d_params *p,
                     int with_bias) {
  return !with_bias && prior_conv2d_is_pointwise(w, p) && prior_conv_pointwise_operand(a) &&
         (!b || prior_conv_pointwise_operand(b));
}

static prior_status cpu_conv2d_forward(prior_tensor *out, const prior_tensor *x, const prior_tensor *w,
                                       const prior_tensor *bias, const prior_conv2d_params *p) {
  conv_dims d = dims_of(x, w, out, p->groups);
  if (prior_tensor_numel(out) == 0) return PRIOR_OK;
  if (out->dtype == PRIOR_F64) {
    forward_f64(prior_tensor_data(out), prior_tensor_data(x), prior_tensor_data(w),
                bias ? prior_tensor_data(bias) : NULL, d, p);
    return PRIOR_OK;
  }
  if (out->dtype != PRIOR_F32) return bad_dtype("conv2d", out);
  if (pointwise(x, NULL, w, p, bias != NULL)) return prior_conv_pointwise_forward(out, x, w);
  PRIOR_TRY(check_operand("conv2d", x));
  void *ptrs[4] = {prior_tensor_data(x), prior_tensor_data(w), prior_tensor_data(out),
                   bias ? prior_tensor_data(bias) : NULL};
  return run_f32("conv2d", CONV_FWD, &d, p, bias != NULL, x, NULL, 0, ptrs);
}

static prior_status cpu_conv2d_backward_data(prior_tensor *gx, const prior_tensor *g, const prior_tensor *w,
                                             const prior_conv2d_params *p) {
  conv_dims d = dims_of(gx, w, g, p->groups);
  if (prior_tensor_numel(gx) == 0) return PRIOR_OK;
  if (prior_tensor_numel(g) == 0) return prior_tensor_fill_(gx, 0.0);
  if (gx->dtype == PRIOR_F64) {
    backward_data_f64(prior_tensor_data(gx), prior_tensor_data(g), prior_tensor_data(w), d, p);
    return PRIOR_OK;
  }
  if (gx->dtype != PRIOR_F32) return bad_dtype("conv2d backward", gx);
  int gx_channels_last = !prior_tensor_is_contiguous(gx) && channels_last(gx);
  if (!gx_channels_last && pointwise(g, NULL, w, p, 0)) return prior_conv_pointwise_backward_data(gx, g, w);
  PRIOR_TRY(check_operand("conv2d backward", g));
  if (!gx_channels_last && !prior_tensor_is_contiguous(gx))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "conv2d backward: the data gradient must be NCHW or channels-last");
  void *ptrs[3] = {prior_tensor_data(g), prior_tensor_data(w), prior_tensor_data(gx)};
  return run_f32("conv2d backward", CONV_BWD_DATA, &d, p, 0, NULL, g, gx_channels_last, ptrs);
}

static prior_status cpu_conv2d_backward_weights(prior_tensor *gw, prior_tensor *gb, const prior_tensor *x,
                                                const prior_tensor *g, const prior_conv2d_params *p) {
  conv_dims d = dims_of(x, gw, g, p->groups);
  if (prior_tensor_numel(g) == 0) {
    PRIOR_TRY(prior_tensor_fill_(gw, 0.0));
    return gb ? prior_tensor_fill_(gb, 0.0) : PRIOR_OK;
  }
  if (gw->dtype == PRIOR_F64) {
    backward_weights_f64(prior_tensor_data(gw), gb ? prior_tensor_data(gb) : NULL, prior_tensor_data(x),
                         prior_tensor_data(g), d, p);
    return PRIOR_OK;
  }
  if (gw->dtype != PRIOR_F32) return bad_dtype("conv2d backward", gw);
  if (pointwise(x, g, gw, p, gb != NULL)) return prior_conv_pointwise_backward_weights(gw, x, g);
  PRIOR_TRY(check_operand("conv2d backward", x));
  PRIOR_TRY(check_operand("conv2d backward", g));
  void *ptrs[4] = {prior_tensor_data(x), prior_tensor_data(g), prior_tensor_data(gw),
                   gb ? prior_tensor_data(gb) : NULL};
  return run_f32("conv2d backward", CONV_BWD_WEIGHTS, &d, p, gb != NULL, x, g, 0, ptrs);
}

__attribute__((constructor)) static void register_conv_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "conv2d_forward", (prior_kernel_fn)cpu_conv2d_forward);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "conv2d_backward_data", (prior_kernel_fn)cpu_conv2d_backward_data);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "conv2d_backward_weights",
                                (prior_kernel_fn)cpu_conv2d_backward_weights);
}
