/* Synchronised batch normalisation (prior/dist.h), the way PyTorch's SyncBatchNorm splits it: this rank's
 * per-channel sums, an all-reduce, the global mean; this rank's sums of squared deviations from it, an all-reduce,
 * the global (biased) variance; then one pass that normalises (the f32 sums are the CPU kernel's vectorised
 * plane sums, the mean a float pair as there).
 * Backward: this rank's per-channel sum(g) and sum(g * xhat), an all-reduce of both (every rank's output depends
 * on this rank's x through the statistics), then one pass for the input gradient; the weight and bias gradients
 * stay this rank's own sums, to be averaged over ranks with every other gradient. Runs only with several
 * processes; the single-process path is ops/batch_norm.c's kernel alone. CPU, f32 or f64, double accumulators. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/batch_norm_planes.h"
#include "prior/autograd.h"
#include "prior/dist.h"
#include "prior/ops_shape.h"

static int sync_batch_norm = 1;

int prior_dist_set_sync_batch_norm(int on) {
  int prev = sync_batch_norm;
  sync_batch_norm = on != 0;
  return prev;
}

int prior_dist_sync_batch_norm_active(void) { return sync_batch_norm && prior_dist_size() > 1; }

static double at(const prior_tensor *t, int64_t i) {
  return t->dtype == PRIOR_F64 ? ((const double *)prior_tensor_data(t))[i] : ((const float *)prior_tensor_data(t))[i];
}

/* Per channel of contiguous x [N, C, HW]: sum[c] (center == NULL) or the sum of (x - center[c])^2. f32 runs the
 * CPU kernel's vectorised plane sums, with the centre as a float pair as there. */
static void channel_sums(const prior_tensor *x, const double *center, double *out) {
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
#pragma omp parallel for
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    if (x->dtype == PRIOR_F32) {
      const float *p = (const float *)prior_tensor_data(x) + c * HW;
      float hi = center ? (float)center[c] : 0.0f, lo = center ? (float)(center[c] - hi) : 0.0f;
      for (int64_t n = 0; n < N; n++) s += center ? plane_sq_dev(p + n * C * HW, HW, hi, lo) : plane_sum(p + n * C * HW, HW);
    } else {
      const double *p = (const double *)prior_tensor_data(x) + c * HW;
      for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < HW; i++) {
          double v = p[n * C * HW + i];
          s += center ? (v - center[c]) * (v - center[c]) : v;
        }
    }
    out[c] = s;
  }
}

/* y = (x - mean) * w / sqrt(var + eps) + b per channel, the mean as a float pair in f32. */
static void normalize(prior_tensor *y, const prior_tensor *x, const double *mean, const double *var,
                      const prior_tensor *w, const prior_tensor *b, double eps) {
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
#pragma omp parallel for
  for (int64_t c = 0; c < C; c++) {
    double scale = (w ? at(w, c) : 1.0) / sqrt(var[c] + eps), shift = b ? at(b, c) : 0.0;
    for (int64_t n = 0; n < N; n++) {
      int64_t base = (n * C + c) * HW;
      if (x->dtype == PRIOR_F32) {
        const float *xp = (const float *)prior_tensor_data(x) + base;
        float *yp = (float *)prior_tensor_data(y) + base;
        float hi = (float)mean[c], lo = (float)(mean[c] - hi), sf = (float)scale, bf = (float)shift;
#pragma omp simd
        for (int64_t i = 0; i < HW; i++) yp[i] = ((xp[i] - hi) - lo) * sf + bf;
      } else {
        const double *xp = (const double *)prior_tensor_data(x) + base;
        double *yp = (double *)prior_tensor_data(y) + base;
        for (int64_t i = 0; i < HW; i++) yp[i] = (xp[i] - mean[c]) * scale + shift;
      }
    }
  }
}

/* A [C] tensor of x's dtype holding v (for the ordinary kernel and for backward). */
static prior_tensor *channel_tensor(const prior_tensor *x, const double *v) {
  int64_t C = x->shape[1];
  prior_tensor *t = prior_tensor_empty(1, &C, (prior_dtype)x->dtype, x->device);
  for (int64_t c = 0; t && c < C; c++) {
    if (t->dtype == PRIOR_F64) ((double *)prior_tensor_data(t))[c] = v[c];
    else ((float *)prior_tensor_data(t))[c] = (float)v[c];
  }
  return t;
}

/* Sums over all ranks of n doubles, in place. */
static prior_status all_reduce_doubles(double *v, int64_t n) {
  prior_tensor *t = prior_tensor_from_external(v, 1, &n, PRIOR_F64, NULL, NULL);
  if (!t) return prior_error_code();
  prior_status s = prior_dist_all_reduce_sum(t);
  prior_tensor_free(t);
  return s;
}

/* running = (1 - momentum) running + momentum * factor * stat. */
static prior_status update_running(prior_tensor *running, const double *stat, double momentum, double factor) {
  for (int64_t c = 0; running && c < running->shape[0]; c++) {
    double r;
    PRIOR_TRY(prior_tensor_get(running, &c, &r));
    PRIOR_TRY(prior_tensor_set(running, &c, (1.0 - momentum) * r + momentum * factor * stat[c]));
  }
  return PRIOR_OK;
}

/* saved: x (contiguous), mean, var (x's dtype), weight (or none); scalars: eps, global count. */
static prior_status sync_bn_backward(prior_node *node, prior_tensor *g_in, prior_tensor **gi) {
  const prior_tensor *x = node->saved[0], *mean = node->saved[1], *var = node->saved[2];
  const prior_tensor *w = node->ints[0] ? node->saved[3] : NULL;
  double eps = node->scalars[0], count = node->scalars[1];
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  prior_tensor *g = prior_tensor_contiguous_raw(g_in);
  double *sums = calloc((size_t)(2 * C), sizeof(double)), *local = calloc((size_t)(2 * C), sizeof(double));
  if (!g || !sums || !local) {
    prior_tensor_free(g), free(sums), free(local);
    return prior_error_set(PRIOR_ERR_MEMORY, "sync_batch_norm2d backward: out of memory");
  }
  int f32 = x->dtype == PRIOR_F32;
#pragma omp parallel for
  for (int64_t c = 0; c < C; c++) { /* sums[c] = sum g, sums[C + c] = sum g * xhat */
    double m = at(mean, c), invstd = 1.0 / sqrt(at(var, c) + eps), sg = 0, sgd = 0;
    float hi = (float)m, lo = (float)(m - hi);
    for (int64_t n = 0; n < N; n++) {
      int64_t base = (n * C + c) * HW;
      if (f32) {
        const float *gp = (const float *)prior_tensor_data(g) + base, *xp = (const float *)prior_tensor_data(x) + base;
        float a = 0, d = 0;
#pragma omp simd reduction(+ : a, d)
        for (int64_t i = 0; i < HW; i++) a += gp[i], d += gp[i] * ((xp[i] - hi) - lo);
        sg += a, sgd += d;
      } else {
        const double *gp = (const double *)prior_tensor_data(g) + base, *xp = (const double *)prior_tensor_data(x) + base;
        for (int64_t i = 0; i < HW; i++) sg += gp[i], sgd += gp[i] * (xp[i] - m);
      }
    }
    sums[c] = local[c] = sg, sums[C + c] = local[C + c] = sgd * invstd;
  }
  prior_status s = node->needs_grad[0] ? all_reduce_doubles(sums, 2 * C) : PRIOR_OK;
  if (s == PRIOR_OK && node->needs_grad[0] && !(gi[0] = prior_tensor_empty(4, x->shape, (prior_dtype)x->dtype, x->device)))
    s = prior_error_code();
  if (s == PRIOR_OK && gi[0]) {
    /* gx = k (g - SG / count - xhat SGX / count), k = w invstd, with the global sums SG, SGX */
#pragma omp parallel for
    for (int64_t c = 0; c < C; c++) {
      double m = at(mean, c), invstd = 1.0 / sqrt(at(var, c) + eps), k = (w ? at(w, c) : 1.0) * invstd;
      double off = k * sums[c] / count, slope = k * invstd * sums[C + c] / count;
      for (int64_t n = 0; n < N; n++) {
        int64_t base = (n * C + c) * HW;
        if (f32) {
          const float *gp = (const float *)prior_tensor_data(g) + base, *xp = (const float *)prior_tensor_data(x) + base;
          float *op = (float *)prior_tensor_data(gi[0]) + base;
          float hi = (float)m, lo = (float)(m - hi), kf = (float)k, of = (float)off, sf = (float)slope;
#pragma omp simd
          for (int64_t i = 0; i < HW; i++) op[i] = kf * gp[i] - of - sf * ((xp[i] - hi) - lo);
        } else {
          const double *gp = (const double *)prior_tensor_data(g) + base, *xp = (const double *)prior_tensor_data(x) + base;
          double *op = (double *)prior_tensor_data(gi[0]) + base;
          for (int64_t i = 0; i < HW; i++) op[i] = k * gp[i] - off - slope * (xp[i] - m);
        }
      }
    }
  }
  if (s == PRIOR_OK && node->needs_grad[1] && !(gi[1] = channel_tensor(x, local + C))) s = prior_error_code();
  if (s == PRIOR_OK && node->needs_grad[2] && !(gi[2] = channel_tensor(x, local))) s = prior_error_code();
  prior_tensor_free(g);
  free(sums), free(local);
  return s;
}

prior_tensor *prior_dist_sync_batch_norm2d(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                           prior_tensor *weight, prior_tensor *bias, double momentum, double eps) {
  if (prior_check_tensor("sync_batch_norm2d", "input", x) != PRIOR_OK) return NULL;
  if (x->ndim != 4 || x->device.type != PRIOR_DEVICE_CPU || (x->dtype != PRIOR_F32 && x->dtype != PRIOR_F64)) {
    char sx[96];
    prior_error_set(PRIOR_ERR_SHAPE, "sync_batch_norm2d: input must be a CPU f32/f64 [N, C, H, W], got %s %s",
                    prior_dtype_name((prior_dtype)x->dtype), prior_tensor_shape_str(x, sx, sizeof sx));
    return NULL;
  }
  int64_t C = x->shape[1];
  prior_tensor *const per_channel[4] = {weight, bias, running_mean, running_var};
  const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 0; i < 4; i++)
    if (per_channel[i] && (per_channel[i]->ndim != 1 || per_channel[i]->shape[0] != C)) {
      char sw[96];
      prior_error_set(PRIOR_ERR_SHAPE, "sync_batch_norm2d: %s has shape %s, the input %lld channels", names[i],
                      prior_tensor_shape_str(per_channel[i], sw, sizeof sw), (long long)C);
      return NULL;
    }
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  double *stats = calloc((size_t)(2 * C + 1), sizeof(double)); /* sums, then squared deviations; the count last */
  if (!xc || !stats) {
    prior_tensor_free(xc), free(stats);
    if (xc) prior_error_set(PRIOR_ERR_MEMORY, "sync_batch_norm2d: out of memory");
    return NULL;
  }
  double *mean = stats, *var = stats + C;
  channel_sums(xc, NULL, mean);
  stats[2 * C] = (double)(x->shape[0] * x->shape[2] * x->shape[3]);
  prior_status s = all_reduce_doubles(mean, C);
  double count = 0;
  if (s == PRIOR_OK) s = all_reduce_doubles(stats + 2 * C, 1), count = stats[2 * C];
  if (s == PRIOR_OK && count <= 1)
    s = prior_error_set(PRIOR_ERR_SHAPE, "sync_batch_norm2d: training needs more than 1 value per channel over all ranks");
  if (s == PRIOR_OK) {
    for (int64_t c = 0; c < C; c++) mean[c] /= count;
    channel_sums(xc, mean, var);
    s = all_reduce_doubles(var, C);
    for (int64_t c = 0; c < C; c++) var[c] /= count;
  }
  prior_tensor *mean_t = s == PRIOR_OK ? channel_tensor(x, mean) : NULL;
  prior_tensor *var_t = mean_t ? channel_tensor(x, var) : NULL;
  /* the per-channel tensors are indexed directly: contiguous copies where they are not */
  prior_tensor *wc = weight ? prior_tensor_contiguous_raw(weight) : NULL, *bc = bias ? prior_tensor_contiguous_raw(bias) : NULL;
  prior_tensor *out = var_t && (wc || !weight) && (bc || !bias)
                          ? prior_tensor_empty(4, x->shape, (prior_dtype)x->dtype, x->device) : NULL;
  if (out) normalize(out, xc, mean, var, wc, bc, eps);
  if (out && (update_running(running_mean, mean, momentum, 1.0) != PRIOR_OK ||
              update_running(running_var, var, momentum, count / (count - 1)) != PRIOR_OK))
    prior_tensor_free(out), out = NULL;
  prior_tensor *inputs[3] = {x, weight, bias};
  if (out && prior_autograd_needed(3, inputs)) {
    prior_node *node = prior_node_new("sync_batch_norm2d", sync_bn_backward, 3, inputs);
    if (!node || prior_node_save(node, xc) < 0 || prior_node_save(node, mean_t) < 0 || prior_node_save(node, var_t) < 0 ||
        (wc && prior_node_save(node, wc) < 0)) {
      prior_node_release(node);
      prior_tensor_free(out), out = NULL;
    } else {
      node->ints[0] = wc != NULL;
      node->scalars[0] = eps;
      node->scalars[1] = count;
      prior_node_attach(node, out);
    }
  }
  prior_free_all(5, xc, mean_t, var_t, wc, bc);
  free(stats);
  return out;
}
