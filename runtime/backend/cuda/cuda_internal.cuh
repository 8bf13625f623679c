/* Internal to the CUDA backend: the device stream, error checks, launch shapes, a strided-operand
 * description kernels index with, and dtype loads/stores that convert exactly as the CPU does. */
#ifndef PRIOR_CUDA_INTERNAL_CUH
#define PRIOR_CUDA_INTERNAL_CUH

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "backend/kernels.h"
#include "core/strided.h"
#include "prior/alloc.h"
#include "prior/cuda.h"
#include "prior/device.h"
#include "prior/dtype.h"
#include "prior/error.h"
#include "prior/tensor.h"
}

#define PRIOR_CUDA_MAX_DEVICES 16

/* The stream all work of a device runs on (created on first use), after making the device current.
 * Returns PRIOR_OK or an error naming the device. */
prior_status cu_enter(prior_device device, cudaStream_t *stream);
/* Turns a CUDA error into a prior error naming what failed; clears CUDA's last error. */
prior_status cu_check(cudaError_t err, const char *what);
/* Checks the launch of a kernel just queued. */
prior_status cu_check_launch(const char *what);
/* Registers a kernel of the CUDA backend. */
void cu_register(const char *op, prior_kernel_fn fn);

/* Up to 4 operands over one shape, byte strides, after merging dims contiguous in all of them. */
#define CU_MAX_OPERANDS 4
struct cu_strided {
  int ndim, n_operands;
  int64_t numel;
  int64_t shape[PRIOR_MAX_DIMS];
  int64_t strides[CU_MAX_OPERANDS][PRIOR_MAX_DIMS];
  char *data[CU_MAX_OPERANDS];
  int contiguous; /* every operand dense in order: byte offset k = i * element size k */
};
/* Operands broadcast to shape (ndim). */
void cu_strided_init(cu_strided *it, int ndim, const int64_t *shape, int n, prior_tensor *const *operands);

/* Byte offset of linear index i of operand k. */
__device__ __forceinline__ int64_t cu_offset(const cu_strided &it, int k, int64_t i) {
  int64_t off = 0;
  for (int d = it.ndim - 1; d >= 0; d--) {
    int64_t q = i / it.shape[d];
    off += (i - q * it.shape[d]) * it.strides[k][d];
    i = q;
  }
  return off;
}

static inline int cu_blocks(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  if (b > 65535LL * 16) b = 65535LL * 16; /* grid-stride loops cover the rest */
  return (int)(b < 1 ? 1 : b);
}

#define CU_GRID_LOOP(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

/* ---- dtype conversion as the CPU does it (tensor.c load_as_double / store_double, dtype.c) ---- */
__device__ __forceinline__ float cu_bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
__device__ __forceinline__ uint16_t cu_f32_to_bf16(float f) {
  uint32_t bits = __float_as_uint(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u); /* quiet NaN */
  bits += 0x7fffu + ((bits >> 16) & 1u);                                             /* round to nearest even */
  return (uint16_t)(bits >> 16);
}
/* f16 through the hardware conversions: round to nearest even like dtype.c; NaN payloads may differ. */
__device__ __forceinline__ float cu_f16_to_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ uint16_t cu_f32_to_f16(float f) { return __half_as_ushort(__float2half_rn(f)); }

__device__ __forceinline__ double cu_load(const char *p, int dtype) {
  switch (dtype) {
    case PRIOR_F32: return *(const float *)p;
    case PRIOR_F64: return *(const double *)p;
    case PRIOR_I32: return *(const int32_t *)p;
    case PRIOR_I64: return (double)*(const int64_t *)p;
    case PRIOR_U8: return *(const uint8_t *)p;
    case PRIOR_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    case PRIOR_BF16: return cu_bf16_to_f32(*(const uint16_t *)p);
    case PRIOR_F16: return cu_f16_to_f32(*(const uint16_t *)p);
    default: return 0.0 / 0.0;
  }
}

__device__ __forceinline__ void cu_store(char *p, int dtype, double v) {
  switch (dtype) {
    case PRIOR_F32: *(float *)p = (float)v; break;
    case PRIOR_F64: *(double *)p = v; break;
    case PRIOR_I32: *(int32_t *)p = (int32_t)v; break;
    case PRIOR_I64: *(int64_t *)p = (int64_t)v; break;
    case PRIOR_U8: *(uint8_t *)p = (uint8_t)v; break;
    case PRIOR_BOOL: *(uint8_t *)p = v != 0.0; break;
    case PRIOR_BF16: *(uint16_t *)p = cu_f32_to_bf16((float)v); break;
    case PRIOR_F16: *(uint16_t *)p = cu_f32_to_f16((float)v); break;
    default: break;
  }
}

/* A device tensor's element 0. */
static inline char *cu_data(const prior_tensor *t) { return (char *)prior_tensor_data(t); }

#endif
