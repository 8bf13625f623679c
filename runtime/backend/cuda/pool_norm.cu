/* Batch norm and pooling on the GPU: "batch_norm_forward", "batch_norm_backward", "max_pool2d_forward",
 * "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward", "adaptive_avg_pool2d_forward",
 * "adaptive_avg_pool2d_backward" (the dense family's signatures, NCHW contiguous), following the CPU
 * reference loops formula for formula.
 *
 * Own kernels rather than cuDNN here: cuDNN's batch norm saves the inverse standard deviation where the op
 * layer wants the biased variance, and its max pooling gives no indices. Batch norm takes a block per
 * channel with double sums. Average pooling backward gathers, for each input element, the outputs whose
 * windows hold it (no atomics, deterministic sums); max pooling backward scatters with atomic adds (see there). */
#include <math.h>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_internal.cuh"
#include "backend/cuda/dense_kernels.cuh"

#define BN_THREADS 256

template <typename T>
__global__ void bn_forward_kernel(T *y, T *save_mean, T *save_var, const T *x, const T *w, const T *b,
                                  const T *use_mean, const T *use_var, int64_t N, int64_t C, int64_t HW, int training,
                                  double eps) {
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    double m, v;
    int64_t cnt = N * HW;
    if (training) {
      double s = 0;
      for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) s += x[((j / HW) * C + c) * HW + j % HW];
      m = cu_block_reduce(s, cu_sum_op()) / (double)cnt;
      double ss = 0;
      for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) {
        double d = x[((j / HW) * C + c) * HW + j % HW] - m;
        ss += d * d;
      }
      v = cu_block_reduce(ss, cu_sum_op()) / (double)cnt;
      if (threadIdx.x == 0) save_mean[c] = (T)m, save_var[c] = (T)v;
    } else {
      m = use_mean[c], v = use_var[c];
    }
    double scale = (w ? (double)w[c] : 1.0) / sqrt(v + eps), shift = (b ? (double)b[c] : 0.0) - m * scale;
    for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) {
      int64_t i = ((j / HW) * C + c) * HW + j % HW;
      y[i] = (T)(x[i] * scale + shift);
    }
  }
}

/* running = (1 - momentum) running + momentum stat factor; running of any float dtype and stride. */
__global__ void running_update_kernel(char *running, int64_t stride, int dtype, const char *stat, int stat_dtype,
                                      int64_t C, double momentum, double factor) {
  size_t rs = dtype == PRIOR_F64 ? 8 : 4, ss = stat_dtype == PRIOR_F64 ? 8 : 4;
  CU_GRID_LOOP(c, C) {
    char *r = running + c * stride * (int64_t)rs;
    cu_store(r, dtype, (1.0 - momentum) * cu_load(r, dtype) + momentum * cu_load(stat + c * ss, stat_dtype) * factor);
  }
}

template <typename T>
__global__ void bn_backward_kernel(T *gx, T *gw, T *gb, const T *g, const T *x, const T *w, const T *mean,
                                   const T *var, int64_t N, int64_t C, int64_t HW, int training, double eps) {
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    int64_t cnt = N * HW;
    double m = mean[c], invstd = 1.0 / sqrt((double)var[c] + eps), sg = 0, sgx = 0;
    for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) {
      int64_t i = ((j / HW) * C + c) * HW + j % HW;
      double gv = g[i];
      sg += gv;
      sgx += gv * (x[i] - m) * invstd;
    }
    sg = cu_block_reduce(sg, cu_sum_op());
    sgx = cu_block_reduce(sgx, cu_sum_op());
    if (threadIdx.x == 0) {
      if (gw) gw[c] = (T)sgx;
      if (gb) gb[c] = (T)sg;
    }
    if (!gx) continue;
    double k = (w ? (double)w[c] : 1.0) * invstd;
    for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) {
      int64_t i = ((j / HW) * C + c) * HW + j % HW;
      double gv = g[i];
      if (training) gv -= (sg + (x[i] - m) * invstd * sgx) / (double)cnt;
      gx[i] = (T)(k * gv);
    }
  }
}

#define DPTR(T, t) ((t) ? (T *)cu_data(t) : (T *)NULL)

static prior_status float_only(const char *op, const prior_tensor *t) {
  if (t->dtype == PRIOR_F32 || t->dtype == PRIOR_F64) return PRIOR_OK;
  return prior_error_set(PRIOR_ERR_DTYPE, "%s: no CUDA kernel for %s", op, prior_dtype_name((prior_dtype)t->dtype));
}

static prior_status running_update(cudaStream_t stream, prior_tensor *running, const prior_tensor *stat,
                                   double momentum, double factor) {
  if (!running) return PRIOR_OK;
  PRIOR_TRY(float_only("batch_norm running statistics", running));
  int64_t C = prior_tensor_numel(running);
  running_update_kernel<<<cu_blocks(C, 128), 128, 0, stream>>>(cu_data(running), running->ndim ? running->strides[0] : 1,
                                                               running->dtype, cu_data(stat), stat->dtype, C, momentum,
                                                               factor);
  return cu_check_launch("batch_norm running statistics");
}

static prior_status cuda_bn_forward(prior_tensor *out, prior_tensor *save_mean, prior_tensor *save_var,
                                    const prior_tensor *x, const prior_tensor *weight, const prior_tensor *bias,
                                    prior_tensor *running_mean, prior_tensor *running_var, int training,
                                    double momentum, double eps) {
  PRIOR_TRY(float_only("batch_norm", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  if (!training) { /* the statistics are the running ones */
    if (!running_mean || !running_var)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "batch_norm on cuda: eval mode needs running statistics");
    PRIOR_TRY(prior_tensor_copy_(save_mean, running_mean));
    PRIOR_TRY(prior_tensor_copy_(save_var, running_var));
  }
  if (C == 0) return PRIOR_OK;
  int blocks = cu_blocks(C, 1);
  if (x->dtype == PRIOR_F32)
    bn_forward_kernel<float><<<blocks, BN_THREADS, 0, stream>>>(
        DPTR(float, out), DPTR(float, save_mean), DPTR(float, save_var), DPTR(float, x), DPTR(float, weight),
        DPTR(float, bias), DPTR(float, save_mean), DPTR(float, save_var), N, C, HW, training, eps);
  else
    bn_forward_kernel<double><<<blocks, BN_THREADS, 0, stream>>>(
        DPTR(double, out), DPTR(double, save_mean), DPTR(double, save_var), DPTR(double, x), DPTR(double, weight),
        DPTR(double, bias), DPTR(double, save_mean), DPTR(double, save_var), N, C, HW, training, eps);
  PRIOR_TRY(cu_check_launch("batch_norm on the GPU"));
  if (!training) return PRIOR_OK;
  double n = (double)(N * HW);
  PRIOR_TRY(running_update(stream, running_mean, save_mean, momentum, 1.0));
  return running_update(stream, running_var, save_var, momentum, n > 1 ? n / (n - 1) : 1.0);
}

static prior_status cuda_bn_backward(prior_tensor *gx, prior_tensor *gw, prior_tensor *gb, const prior_tensor *g,
                                     const prior_tensor *x, const prior_tensor *weight, const prior_tensor *mean,
                                     const prior_tensor *var, int training, double eps) {
  PRIOR_TRY(float_only("batch_norm backward", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  if (C == 0) return PRIOR_OK;
  int blocks = cu_blocks(C, 1);
  if (x->dtype == PRIOR_F32)
    bn_backward_kernel<float><<<blocks, BN_THREADS, 0, stream>>>(DPTR(float, gx), DPTR(float, gw), DPTR(float, gb),
                                                                 DPTR(float, g), DPTR(float, x), DPTR(float, weight),
                                                                 DPTR(float, mean), DPTR(float, var), N, C, HW,
                                                                 training, eps);
  else
    bn_backward_kernel<double><<<blocks, BN_THREADS, 0, stream>>>(
        DPTR(double, gx), DPTR(double, gw), DPTR(double, gb), DPTR(double, g), DPTR(double, x), DPTR(double, weight),
        DPTR(double, mean), DPTR(double, var), N, C, HW, training, eps);
  return cu_check_launch("batch_norm backward on the GPU");
}

/* ---- pooling ---- */

struct pool_geom {
  int64_t planes, H, W, OH, OW, k[2], s[2], p[2];
  int adaptive;
};

/* Window of output o along one axis: [lo, hi) inside the input and the divisor span (padding counted). */
__device__ __forceinline__ void window(const pool_geom &g, int axis, int64_t o, int64_t *lo, int64_t *hi, int64_t *span) {
  int64_t n = axis ? g.W : g.H, m = axis ? g.OW : g.OH;
  if (g.adaptive) {
    *lo = (o * n) / m, *hi = ((o + 1) * n + m - 1) / m, *span = *hi - *lo;
    return;
  }
  int64_t a = o * g.s[axis] - g.p[axis], b = a + g.k[axis];
  if (b > n + g.p[axis]) b = n + g.p[axis];
  *span = b - a;
  *lo = a < 0 ? 0 : a;
  *hi = b > n ? n : b;
}

/* Outputs along one axis whose windows may hold input position i (a superset; callers test membership). */
__device__ __forceinline__ void covering(const pool_geom &g, int axis, int64_t i, int64_t *o0, int64_t *o1) {
  int64_t n = axis ? g.W : g.H, m = axis ? g.OW : g.OH;
  if (g.adaptive) {
    *o0 = (i * m) / n - 1, *o1 = ((i + 1) * m) / n + 1;
  } else { /* o s - p <= i < o s - p + k */
    int64_t s = g.s[axis];
    *o0 = (i + g.p[axis] - g.k[axis] + 1);
    *o0 = *o0 <= 0 ? 0 : (*o0 + s - 1) / s;
    *o1 = (i + g.p[axis]) / s;
  }
  if (*o0 < 0) *o0 = 0;
  if (*o1 > m - 1) *o1 = m - 1;
}

template <typename T>
__global__ void max_pool_fwd_kernel(T *y, int64_t *idx, const T *x, pool_geom g) {
  CU_GRID_LOOP(e, g.planes * g.OH * g.OW) {
    int64_t ow = e % g.OW, oh = (e / g.OW) % g.OH, pl = e / (g.OW * g.OH);
    int64_t h0 = oh * g.s[0] - g.p[0], h1 = h0 + g.k[0], w0 = ow * g.s[1] - g.p[1], w1 = w0 + g.k[1];
    if (h0 < 0) h0 = 0;
    if (h1 > g.H) h1 = g.H;
    const T *xp = x + pl * g.H * g.W;
    T best = -INFINITY;
    int64_t at = h0 * g.W + (w0 < 0 ? 0 : w0);
    for (int64_t h = h0; h < h1; h++)
      for (int64_t w = w0 < 0 ? 0 : w0; w < (w1 > g.W ? g.W : w1); w++) {
        T v = xp[h * g.W + w];
        if (v > best || v != v) best = v, at = h * g.W + w; /* PyTorch's rule: the last NaN wins */
      }
    y[e] = best;
    idx[e] = at;
  }
}

/* The kernel gets no window geometry, so each output adds its gradient to the input it picked. Outputs of
 * overlapping windows may pick the same input: those few additions are atomic, their order not fixed. */
template <typename T>
__global__ void max_pool_bwd_kernel(T *gx, const T *gy, const int64_t *idx, int64_t planes, int64_t HW, int64_t OHW) {
  CU_GRID_LOOP(o, planes * OHW) atomicAdd(&gx[(o / OHW) * HW + idx[o]], gy[o]);
}

template <typename T>
__global__ void avg_pool_fwd_kernel(T *y, const T *x, pool_geom g) {
  CU_GRID_LOOP(e, g.planes * g.OH * g.OW) {
    int64_t ow = e % g.OW, oh = (e / g.OW) % g.OH, pl = e / (g.OW * g.OH);
    int64_t h0, h1, sh, w0, w1, sw;
    window(g, 0, oh, &h0, &h1, &sh);
    window(g, 1, ow, &w0, &w1, &sw);
    const T *xp = x + pl * g.H * g.W;
    T acc = 0;
    for (int64_t h = h0; h < h1; h++)
      for (int64_t w = w0; w < w1; w++) acc += xp[h * g.W + w];
    y[e] = acc / (T)(sh * sw);
  }
}

template <typename T>
__global__ void avg_pool_bwd_kernel(T *gx, const T *gy, pool_geom g) {
  CU_GRID_LOOP(e, g.planes * g.H * g.W) {
    int64_t w = e % g.W, h = (e / g.W) % g.H, pl = e / (g.W * g.H);
    int64_t oh0, oh1, ow0, ow1;
    covering(g, 0, h, &oh0, &oh1);
    covering(g, 1, w, &ow0, &ow1);
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; oh++) {
      int64_t h0, h1, sh;
      window(g, 0, oh, &h0, &h1, &sh);
      if (h < h0 || h >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1; ow++) {
        int64_t w0, w1, sw;
        window(g, 1, ow, &w0, &w1, &sw);
        if (w < w0 || w >= w1) continue;
        acc += gy[(pl * g.OH + oh) * g.OW + ow] / (T)(sh * sw);
      }
    }
    gx[e] = acc;
  }
}

static pool_geom geom_of(const prior_tensor *in, const prior_tensor *out, const prior_pool2d_params *p, int adaptive) {
  pool_geom g;
  memset(&g, 0, sizeof g);
  g.planes = in->shape[0] * in->shape[1], g.H = in->shape[2], g.W = in->shape[3];
  g.OH = out->shape[2], g.OW = out->shape[3], g.adaptive = adaptive;
  if (p)
    for (int a = 0; a < 2; a++) g.k[a] = p->kernel[a], g.s[a] = p->stride[a], g.p[a] = p->pad[a];
  return g;
}

static prior_status cuda_max_pool_fwd(prior_tensor *out, prior_tensor *indices, const prior_tensor *x,
                                      const prior_pool2d_params *p) {
  PRIOR_TRY(float_only("max_pool2d", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  pool_geom g = geom_of(x, out, p, 0);
  int64_t n = prior_tensor_numel(out);
  if (n == 0) return PRIOR_OK;
  if (x->dtype == PRIOR_F32)
    max_pool_fwd_kernel<float><<<cu_blocks(n, 256), 256, 0, stream>>>(DPTR(float, out), DPTR(int64_t, indices),
                                                                       DPTR(float, x), g);
  else
    max_pool_fwd_kernel<double><<<cu_blocks(n, 256), 256, 0, stream>>>(DPTR(double, out), DPTR(int64_t, indices),
                                                                        DPTR(double, x), g);
  return cu_check_launch("max_pool2d on the GPU");
}

static prior_status cuda_max_pool_bwd(prior_tensor *gx, const prior_tensor *gy, const prior_tensor *indices) {
  PRIOR_TRY(float_only("max_pool2d backward", gx));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(gx->device, &stream));
  int64_t planes = gx->shape[0] * gx->shape[1], hw = gx->shape[2] * gx->shape[3], ohw = gy->shape[2] * gy->shape[3];
  PRIOR_TRY(prior_tensor_fill_(gx, 0.0));
  if (planes * ohw == 0) return PRIOR_OK;
  int blocks = cu_blocks(planes * ohw, 256);
  if (gx->dtype == PRIOR_F32)
    max_pool_bwd_kernel<float><<<blocks, 256, 0, stream>>>(DPTR(float, gx), DPTR(float, gy), DPTR(int64_t, indices),
                                                           planes, hw, ohw);
  else
    max_pool_bwd_kernel<double><<<blocks, 256, 0, stream>>>(DPTR(double, gx), DPTR(double, gy),
                                                            DPTR(int64_t, indices), planes, hw, ohw);
  return cu_check_launch("max_pool2d backward on the GPU");
}

static prior_status avg_dispatch(prior_tensor *dst, const prior_tensor *src, const prior_pool2d_params *p,
                                 int adaptive, int backward) {
  PRIOR_TRY(float_only(adaptive ? "adaptive_avg_pool2d" : "avg_pool2d", dst));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(dst->device, &stream));
  const prior_tensor *in = backward ? dst : src, *out = backward ? src : dst;
  pool_geom g = geom_of(in, out, p, adaptive);
  int64_t n = prior_tensor_numel(dst);
  if (n == 0) return PRIOR_OK;
  int blocks = cu_blocks(n, 256);
  if (dst->dtype == PRIOR_F32) {
    if (backward)
      avg_pool_bwd_kernel<float><<<blocks, 256, 0, stream>>>(DPTR(float, dst), DPTR(float, src), g);
    else
      avg_pool_fwd_kernel<float><<<blocks, 256, 0, stream>>>(DPTR(float, dst), DPTR(float, src), g);
  } else {
    if (backward)
      avg_pool_bwd_kernel<double><<<blocks, 256, 0, stream>>>(DPTR(double, dst), DPTR(double, src), g);
    else
      avg_pool_fwd_kernel<double><<<blocks, 256, 0, stream>>>(DPTR(double, dst), DPTR(double, src), g);
  }
  return cu_check_launch("average pooling on the GPU");
}

static prior_status cuda_avg_pool_fwd(prior_tensor *out, const prior_tensor *x, const prior_pool2d_params *p) {
  return avg_dispatch(out, x, p, 0, 0);
}
static prior_status cuda_avg_pool_bwd(prior_tensor *gx, const prior_tensor *g, const prior_pool2d_params *p) {
  return avg_dispatch(gx, g, p, 0, 1);
}
static prior_status cuda_adaptive_fwd(prior_tensor *dst, const prior_tensor *src) {
  return avg_dispatch(dst, src, NULL, 1, 0);
}
static prior_status cuda_adaptive_bwd(prior_tensor *dst, const prior_tensor *src) {
  return avg_dispatch(dst, src, NULL, 1, 1);
}

#if PRIOR_HAVE_KERNELS_DENSE
#include <type_traits>
static_assert(std::is_same<decltype(&cuda_bn_forward), prior_batch_norm_forward_kernel>::value, "bn forward");
static_assert(std::is_same<decltype(&cuda_bn_backward), prior_batch_norm_backward_kernel>::value, "bn backward");
static_assert(std::is_same<decltype(&cuda_max_pool_fwd), prior_max_pool2d_forward_kernel>::value, "max pool");
static_assert(std::is_same<decltype(&cuda_max_pool_bwd), prior_max_pool2d_backward_kernel>::value, "max pool bwd");
static_assert(std::is_same<decltype(&cuda_avg_pool_fwd), prior_avg_pool2d_forward_kernel>::value, "avg pool");
static_assert(std::is_same<decltype(&cuda_avg_pool_bwd), prior_avg_pool2d_backward_kernel>::value, "avg pool bwd");
static_assert(std::is_same<decltype(&cuda_adaptive_fwd), prior_adaptive_pool_kernel>::value, "adaptive pool");
#endif

__attribute__((constructor)) static void register_cuda_pool_norm(void) {
  cu_register("batch_norm_forward", (prior_kernel_fn)cuda_bn_forward);
  cu_register("batch_norm_backward", (prior_kernel_fn)cuda_bn_backward);
  cu_register("max_pool2d_forward", (prior_kernel_fn)cuda_max_pool_fwd);
  cu_register("max_pool2d_backward", (prior_kernel_fn)cuda_max_pool_bwd);
  cu_register("avg_pool2d_forward", (prior_kernel_fn)cuda_avg_pool_fwd);
  cu_register("avg_pool2d_backward", (prior_kernel_fn)cuda_avg_pool_bwd);
  cu_register("adaptive_avg_pool2d_forward", (prior_kernel_fn)cuda_adaptive_fwd);
  cu_register("adaptive_avg_pool2d_backward", (prior_kernel_fn)cuda_adaptive_bwd);
}
