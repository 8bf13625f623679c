/* "softmax", "softmax_backward", "layer_norm", "layer_norm_backward" on the GPU (kernels_nn.h), following
 * runtime/backend/cpu/softmax.c and layer_norm.c: a thread block per row, sums in double, two-pass mean and
 * variance. The layer-norm weight and bias gradients are column sums taken by one thread per column in row
 * order, so they are deterministic. */
#include <math.h>

extern "C" {
#include "backend/kernels_nn.h"
}
#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_internal.cuh"

#define ROW_THREADS 128

/* Lines of a [outer, n, inner] view: line l = (o, j) starts at o * n * inner + j, steps by inner. */
template <typename T>
__global__ void softmax_kernel(T *y, const T *x, int64_t outer, int64_t n, int64_t inner, int log_mode) {
  for (int64_t l = blockIdx.x; l < outer * inner; l += gridDim.x) {
    int64_t o = l / inner, j = l % inner;
    const T *xr = x + o * n * inner + j;
    T *yr = y + o * n * inner + j;
    T m = -INFINITY;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) m = xr[k * inner] > m ? xr[k * inner] : m;
    m = cu_block_reduce(m, cu_max_op());
    if (isinf(m) && m < 0) m = 0; /* an all -inf row: avoid inf - inf */
    double sum = 0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) sum += (double)exp(xr[k * inner] - m);
    sum = cu_block_reduce(sum, cu_sum_op());
    if (log_mode) {
      T lse = (T)(m + log((T)sum));
      for (int64_t k = threadIdx.x; k < n; k += blockDim.x) yr[k * inner] = xr[k * inner] - lse;
    } else {
      T inv = (T)(1.0 / sum);
      for (int64_t k = threadIdx.x; k < n; k += blockDim.x) yr[k * inner] = exp(xr[k * inner] - m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_backward_kernel(T *dx, const T *g, const T *y, int64_t outer, int64_t n, int64_t inner,
                                        int log_mode) {
  for (int64_t l = blockIdx.x; l < outer * inner; l += gridDim.x) {
    int64_t base = (l / inner) * n * inner + l % inner;
    double s = 0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x)
      s += log_mode ? (double)g[base + k * inner] : (double)g[base + k * inner] * y[base + k * inner];
    s = cu_block_reduce(s, cu_sum_op());
    T ts = (T)s;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      int64_t i = base + k * inner;
      dx[i] = log_mode ? g[i] - exp(y[i]) * ts : y[i] * (g[i] - ts);
    }
  }
}

static prior_status float_only(const char *op, const prior_tensor *t) {
  if (t->dtype == PRIOR_F32 || t->dtype == PRIOR_F64) return PRIOR_OK;
  return prior_error_set(PRIOR_ERR_DTYPE, "%s: no CUDA kernel for %s", op, prior_dtype_name((prior_dtype)t->dtype));
}

static prior_status cuda_softmax(prior_tensor *y, const prior_tensor *x, int64_t outer, int64_t n, int64_t inner,
                                 int log_mode) {
  PRIOR_TRY(float_only("softmax", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  if (outer * inner == 0 || n == 0) return PRIOR_OK;
  int blocks = cu_blocks(outer * inner, 1);
  if (x->dtype == PRIOR_F32)
    softmax_kernel<float><<<blocks, ROW_THREADS, 0, stream>>>((float *)cu_data(y), (const float *)cu_data(x), outer, n,
                                                              inner, log_mode);
  else
    softmax_kernel<double><<<blocks, ROW_THREADS, 0, stream>>>((double *)cu_data(y), (const double *)cu_data(x), outer,
                                                               n, inner, log_mode);
  return cu_check_launch("softmax on the GPU");
}

static prior_status cuda_softmax_backward(prior_tensor *dx, const prior_tensor *g, const prior_tensor *y, int64_t outer,
                                          int64_t n, int64_t inner, int log_mode) {
  PRIOR_TRY(float_only("softmax_backward", y));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(y->device, &stream));
  if (outer * inner == 0 || n == 0) return PRIOR_OK;
  int blocks = cu_blocks(outer * inner, 1);
  if (y->dtype == PRIOR_F32)
    softmax_backward_kernel<float><<<blocks, ROW_THREADS, 0, stream>>>(
        (float *)cu_data(dx), (const float *)cu_data(g), (const float *)cu_data(y), outer, n, inner, log_mode);
  else
    softmax_backward_kernel<double><<<blocks, ROW_THREADS, 0, stream>>>(
        (double *)cu_data(dx), (const double *)cu_data(g), (const double *)cu_data(y), outer, n, inner, log_mode);
  return cu_check_launch("softmax backward on the GPU");
}

/* ---- layer norm ---- */

template <typename T>
__global__ void layer_norm_kernel(T *y, T *mean, T *rstd, const T *x, const T *w, const T *b, int64_t rows, int64_t d,
                                  double eps) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *xr = x + r * d;
    T *yr = y + r * d;
    double s = 0;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) s += xr[k];
    double mu = cu_block_reduce(s, cu_sum_op()) / (double)d;
    double v = 0;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) v += ((double)xr[k] - mu) * ((double)xr[k] - mu);
    v = cu_block_reduce(v, cu_sum_op());
    double rs = 1.0 / sqrt(v / (double)d + eps);
    if (threadIdx.x == 0) mean[r] = (T)mu, rstd[r] = (T)rs;
    T tm = (T)mu, tr = (T)rs;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
      T h = (xr[k] - tm) * tr;
      if (w) h = h * w[k];
      if (b) h = h + b[k];
      yr[k] = h;
    }
  }
}

template <typename T>
__global__ void layer_norm_dx_kernel(T *dx, const T *g, const T *x, const T *mean, const T *rstd, const T *w,
                                     int64_t rows, int64_t d) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *gr = g + r * d, *xr = x + r * d;
    double mu = mean[r], rs = rstd[r], sg = 0, sgx = 0;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
      double gw = w ? (double)gr[k] * w[k] : (double)gr[k];
      sg += gw;
      sgx += gw * (xr[k] - mu) * rs;
    }
    sg = cu_block_reduce(sg, cu_sum_op());
    sgx = cu_block_reduce(sgx, cu_sum_op());
    T a = (T)(sg / (double)d), c = (T)(sgx / (double)d), tm = (T)mu, tr = (T)rs;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
      T gw = w ? gr[k] * w[k] : gr[k];
      dx[r * d + k] = tr * (gw - a - (xr[k] - tm) * tr * c);
    }
  }
}

template <typename T>
__global__ void layer_norm_dwb_kernel(T *dw, T *db, const T *g, const T *x, const T *mean, const T *rstd, int64_t rows,
                                      int64_t d) {
  CU_GRID_LOOP(k, d) {
    double sw = 0, sb = 0;
    for (int64_t r = 0; r < rows; r++) {
      double gv = g[r * d + k];
      sw += gv * (((double)x[r * d + k] - (double)mean[r]) * (double)rstd[r]);
      sb += gv;
    }
    if (dw) dw[k] = (T)sw;
    if (db) db[k] = (T)sb;
  }
}

#define DPTR(T, t) ((t) ? (T *)cu_data(t) : (T *)NULL)

template <typename T>
static void launch_layer_norm(cudaStream_t stream, prior_tensor *y, prior_tensor *mean, prior_tensor *rstd,
                              const prior_tensor *x, const prior_tensor *w, const prior_tensor *b, int64_t rows,
                              int64_t d, double eps) {
  layer_norm_kernel<T><<<cu_blocks(rows, 1), ROW_THREADS, 0, stream>>>(DPTR(T, y), DPTR(T, mean), DPTR(T, rstd),
                                                                       DPTR(T, x), DPTR(T, w), DPTR(T, b), rows, d,
                                                                       eps);
}

static prior_status cuda_layer_norm(prior_tensor *y, prior_tensor *mean, prior_tensor *rstd, const prior_tensor *x,
                                    const prior_tensor *weight, const prior_tensor *bias, int64_t rows, int64_t d,
                                    double eps) {
  PRIOR_TRY(float_only("layer_norm", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  if (rows == 0 || d == 0) return PRIOR_OK;
  if (x->dtype == PRIOR_F32)
    launch_layer_norm<float>(stream, y, mean, rstd, x, weight, bias, rows, d, eps);
  else
    launch_layer_norm<double>(stream, y, mean, rstd, x, weight, bias, rows, d, eps);
  return cu_check_launch("layer_norm on the GPU");
}

template <typename T>
static void launch_layer_norm_backward(cudaStream_t stream, prior_tensor *dx, prior_tensor *dw, prior_tensor *db,
                                       const prior_tensor *g, const prior_tensor *x, const prior_tensor *mean,
                                       const prior_tensor *rstd, const prior_tensor *w, int64_t rows, int64_t d) {
  if (dx)
    layer_norm_dx_kernel<T><<<cu_blocks(rows, 1), ROW_THREADS, 0, stream>>>(
        DPTR(T, dx), DPTR(T, g), DPTR(T, x), DPTR(T, mean), DPTR(T, rstd), DPTR(T, w), rows, d);
  if (dw || db)
    layer_norm_dwb_kernel<T><<<cu_blocks(d, 128), 128, 0, stream>>>(DPTR(T, dw), DPTR(T, db), DPTR(T, g), DPTR(T, x),
                                                                     DPTR(T, mean), DPTR(T, rstd), rows, d);
}

static prior_status cuda_layer_norm_backward(prior_tensor *dx, prior_tensor *dweight, prior_tensor *dbias,
                                             const prior_tensor *g, const prior_tensor *x, const prior_tensor *mean,
                                             const prior_tensor *rstd, const prior_tensor *weight, int64_t rows,
                                             int64_t d) {
  PRIOR_TRY(float_only("layer_norm_backward", x));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(x->device, &stream));
  if (d == 0) return PRIOR_OK;
  if (rows == 0) { /* empty batch: zero gradients for the parameters */
    if (dweight) PRIOR_TRY(prior_tensor_fill_(dweight, 0.0));
    if (dbias) PRIOR_TRY(prior_tensor_fill_(dbias, 0.0));
    return PRIOR_OK;
  }
  if (x->dtype == PRIOR_F32)
    launch_layer_norm_backward<float>(stream, dx, dweight, dbias, g, x, mean, rstd, weight, rows, d);
  else
    launch_layer_norm_backward<double>(stream, dx, dweight, dbias, g, x, mean, rstd, weight, rows, d);
  return cu_check_launch("layer_norm backward on the GPU");
}

#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_softmax), prior_softmax_kernel>::value, "cuda_softmax");
static_assert(std::is_same<decltype(&cuda_softmax_backward), prior_softmax_backward_kernel>::value, "cuda_softmax_backward");
static_assert(std::is_same<decltype(&cuda_layer_norm), prior_layer_norm_kernel>::value, "cuda_layer_norm");
static_assert(std::is_same<decltype(&cuda_layer_norm_backward), prior_layer_norm_backward_kernel>::value, "cuda_layer_norm_backward");

__attribute__((constructor)) static void register_cuda_softmax_norm(void) {
  cu_register("softmax", (prior_kernel_fn)cuda_softmax);
  cu_register("softmax_backward", (prior_kernel_fn)cuda_softmax_backward);
  cu_register("layer_norm", (prior_kernel_fn)cuda_layer_norm);
  cu_register("layer_norm_backward", (prior_kernel_fn)cuda_layer_norm_backward);
}
