/* "cross_entropy", "cross_entropy_backward", "pointwise_loss", "pointwise_loss_backward" on the GPU
 * (kernels_nn.h), following runtime/backend/cpu/cross_entropy.c and pointwise_loss.c formula for formula.
 * Cross entropy checks its targets on the device and reads back two numbers (the count of used positions,
 * which the op layer needs on the host, and the first bad position), so it waits for the device once. */
#include <math.h>

extern "C" {
#include "backend/kernels_nn.h"
}
#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_internal.cuh"

__device__ __forceinline__ int64_t target_at(const void *t, int is64, int64_t i) {
  return is64 ? ((const int64_t *)t)[i] : (int64_t)((const int32_t *)t)[i];
}

/* stats[0]: positions not ignored; stats[1]: first bad position (INT64_MAX if none). */
__global__ void check_targets_kernel(unsigned long long *stats, const void *target, int is64, int64_t count, int64_t c,
                                     int64_t ignore) {
  CU_GRID_LOOP(p, count) {
    int64_t t = target_at(target, is64, p);
    if (t == ignore) continue;
    if (t < 0 || t >= c)
      atomicMin((long long *)&stats[1], (long long)p);
    else
      atomicAdd(&stats[0], 1ull);
  }
}

template <typename T>
__global__ void ce_kernel(T *loss, T *lse_out, const T *x, const void *target, int is64, int64_t n, int64_t c, int64_t s,
                          int64_t ignore, double ls) {
  for (int64_t p = blockIdx.x; p < n * s; p += gridDim.x) {
    const T *xr = x + (p / s) * c * s + p % s;
    T m = -INFINITY;
    for (int64_t k = threadIdx.x; k < c; k += blockDim.x) m = xr[k * s] > m ? xr[k * s] : m;
    m = cu_block_reduce(m, cu_max_op());
    if (isinf(m) && m < 0) m = 0;
    double sum = 0, xsum = 0;
    for (int64_t k = threadIdx.x; k < c; k += blockDim.x) {
      sum += (double)exp(xr[k * s] - m);
      xsum += (double)xr[k * s];
    }
    sum = cu_block_reduce(sum, cu_sum_op());
    xsum = cu_block_reduce(xsum, cu_sum_op());
    if (threadIdx.x == 0) {
      double lse = (double)m + log(sum);
      lse_out[p] = (T)lse;
      int64_t t = target_at(target, is64, p);
      if (t == ignore) {
        loss[p] = 0;
      } else {
        double nll = lse - (double)xr[t * s], smooth = (double)c * lse - xsum;
        loss[p] = (T)((1.0 - ls) * nll + ls / (double)c * smooth);
      }
    }
  }
}

template <typename T>
__global__ void ce_backward_kernel(T *dx, const T *g, const T *x, const void *target, int is64, const T *lse, int64_t n,
                                   int64_t c, int64_t s, int64_t ignore, double ls) {
  T off = (T)(ls / (double)c), on = (T)(1.0 - ls);
  CU_GRID_LOOP(e, n * c * s) {
    int64_t i = e / (c * s), k = (e / s) % c, j = e % s, p = i * s + j;
    int64_t t = target_at(target, is64, p);
    if (t == ignore) {
      dx[e] = 0;
      continue;
    }
    T gp = g[p];
    T v = gp * (exp(x[e] - lse[p]) - off);
    if (k == t) v -= gp * on;
    dx[e] = v;
  }
}

static prior_status float_only(const char *op, const prior_tensor *t) {
  if (t->dtype == PRIOR_F32 || t->dtype == PRIOR_F64) return PRIOR_OK;
  return prior_error_set(PRIOR_ERR_DTYPE, "%s: no CUDA kernel for %s", op, prior_dtype_name((prior_dtype)t->dtype));
}

static prior_status cuda_cross_entropy(prior_tensor *loss, prior_tensor *lse, int64_t *n_valid,
                                       const prior_tensor *logits, const prior_tensor *target, int64_t n, int64_t c,
                                       int64_t s, int64_t ignore_index, double ls) {
  PRIOR_TRY(float_only("cross_entropy", logits));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(logits->device, &stream));
  int64_t count = n * s;
  *n_valid = 0;
  if (count == 0) return PRIOR_OK;
  int is64 = target->dtype == PRIOR_I64;
  int64_t shape1[1] = {2};
  prior_tensor *stats = prior_tensor_empty(1, shape1, PRIOR_I64, logits->device);
  if (!stats) return prior_error_code();
  unsigned long long host[2] = {0, (unsigned long long)INT64_MAX};
  prior_status st = cu_check(cudaMemcpyAsync(cu_data(stats), host, sizeof host, cudaMemcpyHostToDevice, stream),
                             "cross_entropy");
  if (st == PRIOR_OK) {
    check_targets_kernel<<<cu_blocks(count, 256), 256, 0, stream>>>((unsigned long long *)cu_data(stats),
                                                                     cu_data(target), is64, count, c, ignore_index);
    st = cu_check_launch("cross_entropy target check");
  }
  if (st == PRIOR_OK)
    st = cu_check(cudaMemcpyAsync(host, cu_data(stats), sizeof host, cudaMemcpyDeviceToHost, stream), "cross_entropy");
  if (st == PRIOR_OK) st = cu_check(cudaStreamSynchronize(stream), "cross_entropy");
  prior_tensor_free(stats);
  PRIOR_TRY(st);
  if (host[1] != (unsigned long long)INT64_MAX) {
    int64_t bad_pos = (int64_t)host[1], bad = 0;
    size_t es = is64 ? 8 : 4;
    int32_t v32 = 0;
    PRIOR_TRY(cu_check(cudaMemcpy(is64 ? (void *)&bad : (void *)&v32, cu_data(target) + bad_pos * es, es,
                                  cudaMemcpyDeviceToHost),
                       "cross_entropy"));
    if (!is64) bad = v32;
    return prior_error_set(PRIOR_ERR_INDEX, "cross_entropy: target %lld at position %lld is out of range for %lld classes",
                           (long long)bad, (long long)bad_pos, (long long)c);
  }
  *n_valid = (int64_t)host[0];
  int blocks = cu_blocks(count, 1);
  if (logits->dtype == PRIOR_F32)
    ce_kernel<float><<<blocks, 128, 0, stream>>>((float *)cu_data(loss), (float *)cu_data(lse),
                                                 (const float *)cu_data(logits), cu_data(target), is64, n, c, s,
                                                 ignore_index, ls);
  else
    ce_kernel<double><<<blocks, 128, 0, stream>>>((double *)cu_data(loss), (double *)cu_data(lse),
                                                  (const double *)cu_data(logits), cu_data(target), is64, n, c, s,
                                                  ignore_index, ls);
  return cu_check_launch("cross_entropy on the GPU");
}

static prior_status cuda_cross_entropy_backward(prior_tensor *dlogits, const prior_tensor *g, const prior_tensor *logits,
                                                const prior_tensor *target, const prior_tensor *lse, int64_t n,
                                                int64_t c, int64_t s, int64_t ignore_index, double ls) {
  PRIOR_TRY(float_only("cross_entropy_backward", logits));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(logits->device, &stream));
  int64_t total = n * c * s;
  if (total == 0) return PRIOR_OK;
  int is64 = target->dtype == PRIOR_I64;
  int blocks = cu_blocks(total, 256);
  if (logits->dtype == PRIOR_F32)
    ce_backward_kernel<float><<<blocks, 256, 0, stream>>>((float *)cu_data(dlogits), (const float *)cu_data(g),
                                                          (const float *)cu_data(logits), cu_data(target), is64,
                                                          (const float *)cu_data(lse), n, c, s, ignore_index, ls);
  else
    ce_backward_kernel<double><<<blocks, 256, 0, stream>>>((double *)cu_data(dlogits), (const double *)cu_data(g),
                                                           (const double *)cu_data(logits), cu_data(target), is64,
                                                           (const double *)cu_data(lse), n, c, s, ignore_index, ls);
  return cu_check_launch("cross_entropy backward on the GPU");
}

/* ---- pointwise losses: the CPU's per-element formulas, in double ---- */

__device__ double softplus_neg(double x) { return (x > 0 ? 0 : -x) + log1p(exp(-fabs(x))); }
__device__ double sigmoid_d(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
__device__ double sgn(double v) { return (double)((v > 0) - (v < 0)); }

__device__ double loss_value(int op, double x, double y, double w, double beta) {
  double d = x - y;
  switch (op) {
    case PRIOR_LOSS_L1: return fabs(d);
    case PRIOR_LOSS_MSE: return d * d;
    case PRIOR_LOSS_SMOOTH_L1: return fabs(d) < beta ? 0.5 * d * d / beta : fabs(d) - 0.5 * beta;
    case PRIOR_LOSS_BCE_LOGITS: return (1 - y) * x + (1 + (w - 1) * y) * softplus_neg(x);
    case PRIOR_LOSS_KL: return y == 0 ? 0.0 : y * (log(y) - x);
    case PRIOR_LOSS_KL_LOG: return exp(y) * (y - x);
  }
  return NAN;
}

__device__ void loss_grad(int op, double x, double y, double w, double beta, double *gx, double *gy, double *gw) {
  double d = x - y;
  *gw = 0;
  switch (op) {
    case PRIOR_LOSS_L1: *gx = sgn(d), *gy = -*gx; break;
    case PRIOR_LOSS_MSE: *gx = 2 * d, *gy = -*gx; break;
    case PRIOR_LOSS_SMOOTH_L1: *gx = fabs(d) < beta ? d / beta : sgn(d), *gy = -*gx; break;
    case PRIOR_LOSS_BCE_LOGITS: {
      double sp = softplus_neg(x), wy = 1 + (w - 1) * y;
      *gx = (1 - y) - wy * sigmoid_d(-x);
      *gy = -x + (w - 1) * sp;
      *gw = y * sp;
      break;
    }
    case PRIOR_LOSS_KL: *gx = -y, *gy = y == 0 ? 0.0 : log(y) + 1 - x; break;
    case PRIOR_LOSS_KL_LOG: *gx = -exp(y), *gy = exp(y) * (y - x + 1); break;
    default: *gx = *gy = NAN;
  }
}

template <typename T>
__global__ void pw_kernel(T *out, const T *x, const T *y, const T *w, int64_t n, int op, double beta) {
  CU_GRID_LOOP(i, n) out[i] = (T)loss_value(op, x[i], y[i], w ? (double)w[i] : 1.0, beta);
}

template <typename T>
__global__ void pw_backward_kernel(T *dx, T *dy, T *dw, const T *g, const T *x, const T *y, const T *w, int64_t n,
                                   int op, double beta) {
  CU_GRID_LOOP(i, n) {
    double gx, gy, gw;
    loss_grad(op, x[i], y[i], w ? (double)w[i] : 1.0, beta, &gx, &gy, &gw);
    if (dx) dx[i] = (T)(g[i] * gx);
    if (dy) dy[i] = (T)(g[i] * gy);
    if (dw) dw[i] = (T)(g[i] * gw);
  }
}

#define DPTR(T, t) ((t) ? (T *)cu_data(t) : (T *)NULL)

static prior_status cuda_pointwise_loss(prior_tensor *out, const prior_tensor *x, const prior_tensor *y,
                                        const prior_tensor *w, int op, double param) {
  PRIOR_TRY(float_only("loss", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  int64_t n = prior_tensor_numel(x);
  if (n == 0) return PRIOR_OK;
  int blocks = cu_blocks(n, 256);
  if (x->dtype == PRIOR_F32)
    pw_kernel<float><<<blocks, 256, 0, stream>>>(DPTR(float, out), DPTR(float, x), DPTR(float, y), DPTR(float, w), n,
                                                 op, param);
  else
    pw_kernel<double><<<blocks, 256, 0, stream>>>(DPTR(double, out), DPTR(double, x), DPTR(double, y),
                                                  DPTR(double, w), n, op, param);
  return cu_check_launch("loss on the GPU");
}

static prior_status cuda_pointwise_loss_backward(prior_tensor *dx, prior_tensor *dy, prior_tensor *dw,
                                                 const prior_tensor *g, const prior_tensor *x, const prior_tensor *y,
                                                 const prior_tensor *w, int op, double param) {
  PRIOR_TRY(float_only("loss backward", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  int64_t n = prior_tensor_numel(x);
  if (n == 0) return PRIOR_OK;
  int blocks = cu_blocks(n, 256);
  if (x->dtype == PRIOR_F32)
    pw_backward_kernel<float><<<blocks, 256, 0, stream>>>(DPTR(float, dx), DPTR(float, dy), DPTR(float, dw),
                                                          DPTR(float, g), DPTR(float, x), DPTR(float, y),
                                                          DPTR(float, w), n, op, param);
  else
    pw_backward_kernel<double><<<blocks, 256, 0, stream>>>(DPTR(double, dx), DPTR(double, dy), DPTR(double, dw),
                                                           DPTR(double, g), DPTR(double, x), DPTR(double, y),
                                                           DPTR(double, w), n, op, param);
  return cu_check_launch("loss backward on the GPU");
}

#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_cross_entropy), prior_cross_entropy_kernel>::value, "cuda_cross_entropy");
static_assert(std::is_same<decltype(&cuda_cross_entropy_backward), prior_cross_entropy_backward_kernel>::value, "cuda_cross_entropy_backward");
static_assert(std::is_same<decltype(&cuda_pointwise_loss), prior_pointwise_loss_kernel>::value, "cuda_pointwise_loss");
static_assert(std::is_same<decltype(&cuda_pointwise_loss_backward), prior_pointwise_loss_backward_kernel>::value, "cuda_pointwise_loss_backward");

__attribute__((constructor)) static void register_cuda_loss(void) {
  cu_register("cross_entropy", (prior_kernel_fn)cuda_cross_entropy);
  cu_register("cross_entropy_backward", (prior_kernel_fn)cuda_cross_entropy_backward);
  cu_register("pointwise_loss", (prior_kernel_fn)cuda_pointwise_loss);
  cu_register("pointwise_loss_backward", (prior_kernel_fn)cuda_pointwise_loss_backward);
}
