/* "interpolate_forward" / "interpolate_backward" on the GPU: nearest and bilinear resampling of NCHW maps
 * with the CPU kernel's (PyTorch's) index rules, positions computed in the tensor's dtype with each product
 * rounded on its own (no fused multiply-add, which could move a position across a pixel edge). Forward: a
 * thread per output; backward: each output adds its weighted gradient to its (up to four) sources with
 * atomic adds, as PyTorch's CUDA kernel does, so the order of those additions is not fixed. */
#include <math.h>

#include "backend/cuda/cuda_internal.cuh"
#include "backend/cuda/dense_kernels.cuh"

extern "C" {
#include "prior/ops_pool.h"
}

__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

__device__ __forceinline__ int64_t nearest_index(int64_t o, int64_t in, int64_t out) {
  if (in == out) return o;
  float scale = (float)in / (float)out;
  int64_t i = (int64_t)floorf(__fmul_rn((float)o, scale));
  return i < in - 1 ? i : in - 1;
}

template <typename T>
__device__ __forceinline__ void linear_index(int64_t o, int64_t in, int64_t out, int align, int64_t *i0, int64_t *i1,
                                             T *l1) {
  T src;
  if (align) {
    T scale = out > 1 ? (T)(in - 1) / (T)(out - 1) : (T)0;
    src = mul_rn(scale, (T)o);
  } else {
    T scale = (T)in / (T)out;
    src = mul_rn(scale, (T)o + (T)0.5) - (T)0.5;
    if (src < 0) src = 0;
  }
  *i0 = (int64_t)src;
  *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
  *l1 = src - (T)*i0;
}

template <typename T>
__global__ void interp_kernel(T *dst, const T *src, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                              int mode, int align, int backward) {
  CU_GRID_LOOP(o, planes * OH * OW) {
    int64_t ow = o % OW, oh = (o / OW) % OH, pl = o / (OW * OH);
    int64_t h0, h1, w0, w1;
    T lh = 0, lw = 0;
    if (mode == PRIOR_INTERP_NEAREST) {
      h0 = h1 = nearest_index(oh, H, OH);
      w0 = w1 = nearest_index(ow, W, OW);
    } else {
      linear_index<T>(oh, H, OH, align, &h0, &h1, &lh);
      linear_index<T>(ow, W, OW, align, &w0, &w1, &lw);
    }
    T c00 = (1 - lh) * (1 - lw), c01 = (1 - lh) * lw, c10 = lh * (1 - lw), c11 = lh * lw;
    if (!backward) {
      const T *sp = src + pl * H * W;
      dst[o] = mode == PRIOR_INTERP_NEAREST ? sp[h0 * W + w0]
                                            : c00 * sp[h0 * W + w0] + c01 * sp[h0 * W + w1] + c10 * sp[h1 * W + w0] +
                                                  c11 * sp[h1 * W + w1];
    } else {
      T *dp = dst + pl * H * W, g = src[o];
      if (mode == PRIOR_INTERP_NEAREST) {
        atomicAdd(&dp[h0 * W + w0], g);
      } else {
        atomicAdd(&dp[h0 * W + w0], c00 * g);
        atomicAdd(&dp[h0 * W + w1], c01 * g);
        atomicAdd(&dp[h1 * W + w0], c10 * g);
        atomicAdd(&dp[h1 * W + w1], c11 * g);
      }
    }
  }
}

static prior_status interp_dispatch(prior_tensor *dst, const prior_tensor *src, int mode, int align, int backward) {
  if (dst->dtype != PRIOR_F32 && dst->dtype != PRIOR_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "interpolate: no CUDA kernel for %s",
                           prior_dtype_name((prior_dtype)dst->dtype));
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(dst->device, &stream));
  const prior_tensor *in = backward ? dst : src, *out = backward ? src : dst;
  int64_t planes = in->shape[0] * in->shape[1], H = in->shape[2], W = in->shape[3], OH = out->shape[2],
          OW = out->shape[3];
  if (backward) PRIOR_TRY(prior_tensor_fill_(dst, 0.0));
  int64_t n = planes * OH * OW;
  if (n == 0) return PRIOR_OK;
  int blocks = cu_blocks(n, 256);
  if (dst->dtype == PRIOR_F32)
    interp_kernel<float><<<blocks, 256, 0, stream>>>((float *)cu_data(dst), (const float *)cu_data(src), planes, H, W,
                                                     OH, OW, mode, align, backward);
  else
    interp_kernel<double><<<blocks, 256, 0, stream>>>((double *)cu_data(dst), (const double *)cu_data(src), planes, H,
                                                      W, OH, OW, mode, align, backward);
  return cu_check_launch("interpolate on the GPU");
}

static prior_status cuda_interpolate_forward(prior_tensor *dst, const prior_tensor *src, int mode, int align_corners) {
  return interp_dispatch(dst, src, mode, align_corners, 0);
}
static prior_status cuda_interpolate_backward(prior_tensor *dst, const prior_tensor *src, int mode, int align_corners) {
  return interp_dispatch(dst, src, mode, align_corners, 1);
}

#if PRIOR_HAVE_KERNELS_DENSE
#include <type_traits>
static_assert(std::is_same<decltype(&cuda_interpolate_forward), prior_interpolate_kernel>::value, "interpolate");
#endif

__attribute__((constructor)) static void register_cuda_interpolate(void) {
  cu_register("interpolate_forward", (prior_kernel_fn)cuda_interpolate_forward);
  cu_register("interpolate_backward", (prior_kernel_fn)cuda_interpolate_backward);
}
