/* CPU batch normalisation of NCHW maps. f32: oneDNN (training forward, inference forward, training backward)
 * on NCHW directly; f64 and the f32 eval-mode backward: per-channel loops (channels in parallel) with double
 * accumulators, the reference the oneDNN path is tested against. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/dnnl_util.h"
#include "backend/kernels_dense.h"
#include "prior/alloc.h"
#include "prior/device.h"

/* ---- reference loops ------------------------------------------------------------------------------------- */

#define BN_FWD(T)                                                                                              \
  /* training: computes mean/var (biased) into mean/var; else reads them */                                    \
  static void bn_fwd_##T(T *y, T *mean, T *var, const T *x, const T *w, const T *b, int64_t N, int64_t C,      \
                         int64_t HW, int training, double eps) {                                               \
    _Pragma("omp parallel for") for (int64_t c = 0; c < C; c++) {                                              \
      double m, v;                                                                                             \
      if (training) {                                                                                          \
        double s = 0, ss = 0;                                                                                  \
        for (int64_t n = 0; n < N; n++)                                                                        \
          for (int64_t i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];                                       \
        m = s / (double)(N * HW);                                                                              \
        for (int64_t n = 0; n < N; n++)                                                                        \
          for (int64_t i = 0; i < HW; i++) {                                                                   \
            double d = x[(n * C + c) * HW + i] - m;                                                            \
            ss += d * d;                                                                                       \
          }                                                                                                    \
        v = ss / (double)(N * HW);                                                                             \
        mean[c] = (T)m, var[c] = (T)v;                                                                         \
      } else {                                                                                                 \
        m = mean[c], v = var[c];                                                                               \
      }                                                                                                        \
      double scale = (w ? w[c] : 1.0) / sqrt(v + eps), shift = (b ? b[c] : 0.0) - m * scale;                   \
      for (int64_t n = 0; n < N; n++)                                                                          \
        for (int64_t i = 0; i < HW; i++) y[(n * C + c) * HW + i] = (T)(x[(n * C + c) * HW + i] * scale + shift); \
    }                                                                                                          \
  }
#define BN_BWD(T)                                                                                              \
  static void bn_bwd_##T(T *gx, T *gw, T *gb, const T *g, const T *x, const T *w, const T *mean, const T *var, \
                         int64_t N, int64_t C, int64_t HW, int training, double eps) {                         \
    _Pragma("omp parallel for") for (int64_t c = 0; c < C; c++) {                                              \
      double m = mean[c], invstd = 1.0 / sqrt((double)var[c] + eps), sg = 0, sgx = 0;                         \
      for (int64_t n = 0; n < N; n++)                                                                          \
        for (int64_t i = 0; i < HW; i++) {                                                                     \
          double gv = g[(n * C + c) * HW + i];                                                                 \
          sg += gv;                                                                                            \
          sgx += gv * (x[(n * C + c) * HW + i] - m) * invstd;                                                  \
        }                                                                                                      \
      if (gw) gw[c] = (T)sgx;                                                                                  \
      if (gb) gb[c] = (T)sg;                                                                                   \
      if (!gx) continue;                                                                                       \
      double k = (w ? w[c] : 1.0) * invstd, cnt = (double)(N * HW);                                            \
      for (int64_t n = 0; n < N; n++)                                                                          \
        for (int64_t i = 0; i < HW; i++) {                                                                     \
          int64_t j = (n * C + c) * HW + i;                                                                    \
          double gv = g[j];                                                                                    \
          if (training) gv -= (sg + (x[j] - m) * invstd * sgx) / cnt;                                          \
          gx[j] = (T)(k * gv);                                                                                 \
        }                                                                                                      \
    }                                                                                                          \
  }
BN_FWD(double)
BN_BWD(float)
BN_BWD(double)

/* ---- oneDNN -------------------------------------------------------------------------------------------------- */

enum { BN_TRAIN = 1, BN_EVAL = 2, BN_BACKWARD = 3 };

typedef struct bn_key {
  int64_t kind, N, C, H, W;
  double eps;
} bn_key;

static prior_dnnl_plan *bn_plan(const char *op, const bn_key *k) {
  dnnl_engine_t eng = prior_dnnl_engine();
  if (!eng) return NULL;
  dnnl_dims_t dims = {k->N, k->C, k->H, k->W}, cdims = {k->C};
  dnnl_memory_desc_t data, chan;
  dnnl_memory_desc_init_by_tag(&data, 4, dims, dnnl_f32, dnnl_nchw);
  dnnl_memory_desc_init_by_tag(&chan, 1, cdims, dnnl_f32, dnnl_a);
  unsigned flags = dnnl_use_scale | dnnl_use_shift;
  dnnl_batch_normalization_desc_t d;
  dnnl_primitive_desc_t pd = NULL, fwd = NULL;
  dnnl_status_t st;
  if (k->kind == BN_EVAL) {
    st = dnnl_batch_normalization_forward_desc_init(&d, dnnl_forward_inference, &data, (float)k->eps,
                                                    flags | dnnl_use_global_stats);
  } else {
    st = dnnl_batch_normalization_forward_desc_init(&d, dnnl_forward_training, &data, (float)k->eps, flags);
  }
  if (st == dnnl_success) st = dnnl_primitive_desc_create(&fwd, &d, NULL, eng, NULL);
  if (st == dnnl_success && k->kind == BN_BACKWARD) {
    st = dnnl_batch_normalization_backward_desc_init(&d, dnnl_backward, &data, &data, (float)k->eps, flags);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &d, NULL, eng, fwd);
    dnnl_primitive_desc_destroy(fwd);
  } else {
    pd = fwd;
  }
  if (st != dnnl_success) {
    if (pd) dnnl_primitive_desc_destroy(pd);
    return prior_dnnl_error(op, "batch normalization descriptor", st), NULL;
  }
  if (k->kind == BN_BACKWARD) {
    /* oneDNN 2.6 wants the shift among the inputs although the gradient does not depend on it */
    int ids[9] = {DNNL_ARG_SRC,      DNNL_ARG_MEAN,     DNNL_ARG_VARIANCE,   DNNL_ARG_SCALE,      DNNL_ARG_SHIFT,
                  DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT};
    int out[9] = {0, 0, 0, 0, 0, 0, 1, 1, 1};
    dnnl_memory_desc_t user[9] = {data, chan, chan, chan, chan, data, data, chan, chan};
    return prior_dnnl_plan_create(op, pd, 9, ids, user, out);
  }
  int ids[6] = {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DST};
  int out_train[6] = {0, 1, 1, 0, 0, 1}, out_eval[6] = {0, 0, 0, 0, 0, 1};
  dnnl_memory_desc_t u6[6] = {data, chan, chan, chan, chan, data};
  return prior_dnnl_plan_create(op, pd, 6, ids, u6, k->kind == BN_TRAIN ? out_train : out_eval);
}

static prior_status bn_run(const char *op, const bn_key *key, void *const *ptrs) {
  bn_key k = *key;
  prior_dnnl_plan *plan = prior_dnnl_cache_get(&k, sizeof k);
  int owned = 0;
  if (!plan) {
    if (!(plan = bn_plan(op, &k))) return prior_error_code();
    plan = prior_dnnl_cache_put(&k, sizeof k, plan, prior_dnnl_plan_destroy, &owned);
  }
  prior_status s = prior_dnnl_plan_execute(op, plan, ptrs);
  if (owned) prior_dnnl_plan_destroy(plan);
  return s;
}

/* ---- kernels ---------------------------------------------------------------------------------------------- */

static const void *data_or_null(const prior_tensor *t) { return t ? prior_tensor_data(t) : NULL; }

/* A [C] f32 buffer of ones or zeros standing in for a missing weight or bias (oneDNN always wants both). */
static float *filled(int64_t C, float v) {
  float *p = prior_alloc(prior_cpu(), sizeof(float) * (size_t)(C ? C : 1));
  for (int64_t i = 0; p && i < C; i++) p[i] = v;
  return p;
}

/* running = (1 - momentum) * running + momentum * stat (stat from a contiguous [C] tensor), any dtype/stride. */
static prior_status update_running(prior_tensor *running, const prior_tensor *stat, double momentum, double factor) {
  if (!running) return PRIOR_OK;
  for (int64_t c = 0; c < stat->shape[0]; c++) {
    double r, s;
    PRIOR_TRY(prior_tensor_get(running, &c, &r));
    PRIOR_TRY(prior_tensor_get(stat, &c, &s));
    PRIOR_TRY(prior_tensor_set(running, &c, (1.0 - momentum) * r + momentum * s * factor));
  }
  return PRIOR_OK;
}

static prior_status cpu_bn_forward(prior_tensor *out, prior_tensor *save_mean, prior_tensor *save_var,
                                   const prior_tensor *x, const prior_tensor *weight, const prior_tensor *bias,
                                   prior_tensor *running_mean, prior_tensor *running_var, int training,
                                   double momentum, double eps) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  if (!training) { /* the statistics are the running ones */
    PRIOR_TRY(prior_tensor_copy_(save_mean, running_mean));
    PRIOR_TRY(prior_tensor_copy_(save_var, running_var));
  }
  if (x->dtype == PRIOR_F64) {
    bn_fwd_double(prior_tensor_data(out), prior_tensor_data(save_mean), prior_tensor_data(save_var),
                  prior_tensor_data(x), data_or_null(weight), data_or_null(bias), N, C, H * W, training, eps);
  } else if (x->dtype == PRIOR_F32) {
    if (prior_tensor_numel(x) == 0) return PRIOR_OK;
    float *ones = weight ? NULL : filled(C, 1.0f), *zeros = bias ? NULL : filled(C, 0.0f);
    prior_status s = PRIOR_OK;
    if ((!weight && !ones) || (!bias && !zeros)) {
      s = prior_error_code();
    } else {
      bn_key k = {training ? BN_TRAIN : BN_EVAL, N, C, H, W, eps};
      void *ptrs[6] = {prior_tensor_data(x), prior_tensor_data(save_mean), prior_tensor_data(save_var),
                       weight ? prior_tensor_data(weight) : ones, bias ? prior_tensor_data(bias) : zeros,
                       prior_tensor_data(out)};
      s = bn_run("batch_norm2d", &k, ptrs);
    }
    if (ones) prior_free(prior_cpu(), ones, sizeof(float) * (size_t)(C ? C : 1));
    if (zeros) prior_free(prior_cpu(), zeros, sizeof(float) * (size_t)(C ? C : 1));
    PRIOR_TRY(s);
  } else {
    return prior_error_set(PRIOR_ERR_DTYPE, "batch_norm2d: CPU kernel takes f32 or f64, got %s",
                           prior_dtype_name((prior_dtype)x->dtype));
  }
  if (training) {
    double n = (double)(N * H * W);
    PRIOR_TRY(update_running(running_mean, save_mean, momentum, 1.0));
    PRIOR_TRY(update_running(running_var, save_var, momentum, n > 1 ? n / (n - 1) : 1.0));
  }
  return PRIOR_OK;
}

static prior_status cpu_bn_backward(prior_tensor *gx, prior_tensor *gw, prior_tensor *gb, const prior_tensor *g,
                                    const prior_tensor *x, const prior_tensor *weight, const prior_tensor *mean,
                                    const prior_tensor *var, int training, double eps) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  if (x->dtype == PRIOR_F64) {
    bn_bwd_double(gx ? prior_tensor_data(gx) : NULL, gw ? prior_tensor_data(gw) : NULL,
                  gb ? prior_tensor_data(gb) : NULL, prior_tensor_data(g), prior_tensor_data(x), data_or_null(weight),
                  prior_tensor_data(mean), prior_tensor_data(var), N, C, H * W, training, eps);
    return PRIOR_OK;
  }
  if (x->dtype != PRIOR_F32)
    return prior_error_set(PRIOR_ERR_DTYPE, "batch_norm2d backward: CPU kernel takes f32 or f64, got %s",
                           prior_dtype_name((prior_dtype)x->dtype));
  if (!training || prior_tensor_numel(x) == 0 || !gx) { /* constants statistics: a cheap per-element loop */
    bn_bwd_float(gx ? prior_tensor_data(gx) : NULL, gw ? prior_tensor_data(gw) : NULL,
                 gb ? prior_tensor_data(gb) : NULL, prior_tensor_data(g), prior_tensor_data(x), data_or_null(weight),
                 prior_tensor_data(mean), prior_tensor_data(var), N, C, H * W, training, eps);
    return PRIOR_OK;
  }
  size_t cb = sizeof(float) * (size_t)C;
  float *ones = weight ? NULL : filled(C, 1.0f);
  float *dscale = gw ? NULL : prior_alloc(prior_cpu(), cb), *dshift = gb ? NULL : prior_alloc(prior_cpu(), cb);
  prior_status s;
  if ((!weight && !ones) || (!gw && !dscale) || (!gb && !dshift)) {
    s = prior_error_code();
  } else {
    bn_key k = {BN_BACKWARD, N, C, H, W, eps};
    void *scale = weight ? prior_tensor_data(weight) : ones;
    void *ptrs[9] = {prior_tensor_data(x), prior_tensor_data(mean), prior_tensor_data(var), scale, scale,
                     prior_tensor_data(g), prior_tensor_data(gx),
                     gw ? prior_tensor_data(gw) : dscale, gb ? prior_tensor_data(gb) : dshift};
    s = bn_run("batch_norm2d backward", &k, ptrs);
  }
  if (ones) prior_free(prior_cpu(), ones, cb);
  if (dscale) prior_free(prior_cpu(), dscale, cb);
  if (dshift) prior_free(prior_cpu(), dshift, cb);
  return s;
}

__attribute__((constructor)) static void register_batch_norm_kernels(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "batch_norm_forward", (prior_kernel_fn)cpu_bn_forward);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "batch_norm_backward", (prior_kernel_fn)cpu_bn_backward);
}
