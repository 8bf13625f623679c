/* "copy" and "fill" on the GPU.
 *
 * Device-to-device copies of any strides, broadcasting and dtype conversion run one strided kernel that
 * converts through double exactly like the CPU's copy. Host<->device copies move contiguous bytes with one
 * cudaMemcpy; anything else is staged: the host side is made contiguous in its own dtype, crosses the bus,
 * and the device kernel (or the CPU copy) does the strides and the conversion. */
#include <string.h>

#include "backend/cuda/cuda_internal.cuh"

template <typename T>
__global__ void copy_same_kernel(cu_strided it) {
  CU_GRID_LOOP(i, it.numel) {
    *(T *)(it.data[0] + cu_offset(it, 0, i)) = *(const T *)(it.data[1] + cu_offset(it, 1, i));
  }
}

__global__ void copy_convert_kernel(cu_strided it, int dst_dtype, int src_dtype) {
  CU_GRID_LOOP(i, it.numel) {
    cu_store(it.data[0] + cu_offset(it, 0, i), dst_dtype, cu_load(it.data[1] + cu_offset(it, 1, i), src_dtype));
  }
}

__global__ void f32_to_bf16_kernel(uint16_t *dst, const float *src, int64_t n) {
  CU_GRID_LOOP(i, n) dst[i] = cu_f32_to_bf16(src[i]);
}

__global__ void bf16_to_f32_kernel(float *dst, const uint16_t *src, int64_t n) {
  CU_GRID_LOOP(i, n) dst[i] = cu_bf16_to_f32(src[i]);
}

/* dst <- src, both on the same GPU. */
static prior_status device_copy(prior_tensor *dst, const prior_tensor *src) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(dst->device, &stream));
  prior_tensor *ops[2] = {dst, (prior_tensor *)src};
  cu_strided it;
  cu_strided_init(&it, dst->ndim, dst->shape, 2, ops);
  if (it.numel == 0) return PRIOR_OK;
  size_t esize = prior_dtype_size((prior_dtype)dst->dtype);
  const int threads = 256;
  int blocks = cu_blocks(it.numel, threads);
  if (dst->dtype == src->dtype && it.contiguous) {
    return cu_check(cudaMemcpyAsync(it.data[0], it.data[1], (size_t)it.numel * esize, cudaMemcpyDeviceToDevice, stream),
                    "copy on the GPU");
  }
  if (it.contiguous && dst->dtype == PRIOR_BF16 && src->dtype == PRIOR_F32) {
    f32_to_bf16_kernel<<<blocks, threads, 0, stream>>>((uint16_t *)it.data[0], (const float *)it.data[1], it.numel);
  } else if (it.contiguous && dst->dtype == PRIOR_F32 && src->dtype == PRIOR_BF16) {
    bf16_to_f32_kernel<<<blocks, threads, 0, stream>>>((float *)it.data[0], (const uint16_t *)it.data[1], it.numel);
  } else if (dst->dtype == src->dtype) {
    switch (esize) {
      case 1: copy_same_kernel<uint8_t><<<blocks, threads, 0, stream>>>(it); break;
      case 2: copy_same_kernel<uint16_t><<<blocks, threads, 0, stream>>>(it); break;
      case 4: copy_same_kernel<uint32_t><<<blocks, threads, 0, stream>>>(it); break;
      default: copy_same_kernel<uint64_t><<<blocks, threads, 0, stream>>>(it); break;
    }
  } else {
    copy_convert_kernel<<<blocks, threads, 0, stream>>>(it, dst->dtype, src->dtype);
  }
  return cu_check_launch("copy on the GPU");
}

static int plain_bytes(const prior_tensor *dst, const prior_tensor *src) {
  return dst->dtype == src->dtype && prior_tensor_same_shape(dst, src) && prior_tensor_is_contiguous(dst) &&
         prior_tensor_is_contiguous(src);
}

static prior_status host_to_device(prior_tensor *dst, const prior_tensor *src) {
  const prior_backend_memory *m = prior_backend_memory_of(PRIOR_DEVICE_CUDA);
  if (plain_bytes(dst, src))
    return m->copy(cu_data(dst), prior_tensor_data(src), prior_tensor_nbytes(dst), PRIOR_COPY_HOST_TO_DEVICE,
                   dst->device.index);
  /* stage: contiguous on the host in src's dtype and shape, upload, then convert/broadcast on the device */
  prior_tensor *host = prior_tensor_contiguous_raw(src);
  prior_tensor *dev = host ? prior_tensor_empty(host->ndim, host->shape, (prior_dtype)host->dtype, dst->device) : NULL;
  prior_status s = dev ? m->copy(cu_data(dev), prior_tensor_data(host), prior_tensor_nbytes(host),
                                 PRIOR_COPY_HOST_TO_DEVICE, dst->device.index)
                       : prior_error_code();
  if (s == PRIOR_OK) s = device_copy(dst, dev);
  prior_free_all(2, host, dev);
  return s;
}

static prior_status device_to_host(prior_tensor *dst, const prior_tensor *src) {
  const prior_backend_memory *m = prior_backend_memory_of(PRIOR_DEVICE_CUDA);
  if (plain_bytes(dst, src))
    return m->copy(prior_tensor_data(dst), cu_data(src), prior_tensor_nbytes(dst), PRIOR_COPY_DEVICE_TO_HOST,
                   src->device.index);
  /* stage: contiguous on the device in src's dtype and shape, download, then the CPU copy does the rest */
  prior_tensor *dev = prior_tensor_contiguous_raw(src);
  prior_tensor *host = dev ? prior_tensor_empty(dev->ndim, dev->shape, (prior_dtype)dev->dtype, prior_cpu()) : NULL;
  prior_status s = host ? m->copy(prior_tensor_data(host), cu_data(dev), prior_tensor_nbytes(dev),
                                  PRIOR_COPY_DEVICE_TO_HOST, src->device.index)
                        : prior_error_code();
  if (s == PRIOR_OK) s = prior_tensor_copy_(dst, host);
  prior_free_all(2, host, dev);
  return s;
}

static prior_status cuda_copy(prior_tensor *dst, const prior_tensor *src) {
  int dst_gpu = dst->device.type == PRIOR_DEVICE_CUDA, src_gpu = src->device.type == PRIOR_DEVICE_CUDA;
  if (dst_gpu && src_gpu) {
    if (dst->device.index == src->device.index) return device_copy(dst, src);
    /* between GPUs: through the host (rare; no peer access is set up) */
    prior_tensor *host = prior_tensor_to_device(src, prior_cpu());
    if (!host) return prior_error_code();
    prior_status s = host_to_device(dst, host);
    prior_tensor_free(host);
    return s;
  }
  if (dst_gpu) return host_to_device(dst, src);
  return device_to_host(dst, src);
}

/* ---- fill ---- */

template <typename T>
__global__ void fill_kernel(cu_strided it, T value) {
  if (it.contiguous) {
    CU_GRID_LOOP(i, it.numel)((T *)it.data[0])[i] = value;
  } else {
    CU_GRID_LOOP(i, it.numel) * (T *)(it.data[0] + cu_offset(it, 0, i)) = value;
  }
}

static prior_status cuda_fill(prior_tensor *t, double value) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(t->device, &stream));
  /* the element's bytes, converted on the host exactly as the CPU fill converts */
  prior_tensor *one = prior_tensor_full(0, NULL, value, (prior_dtype)t->dtype, prior_cpu());
  if (!one) return prior_error_code();
  uint64_t bits = 0;
  memcpy(&bits, prior_tensor_data(one), prior_dtype_size((prior_dtype)t->dtype));
  prior_tensor_free(one);
  prior_tensor *ops[1] = {t};
  cu_strided it;
  cu_strided_init(&it, t->ndim, t->shape, 1, ops);
  if (it.numel == 0) return PRIOR_OK;
  const int threads = 256;
  int blocks = cu_blocks(it.numel, threads);
  switch (prior_dtype_size((prior_dtype)t->dtype)) {
    case 1: fill_kernel<uint8_t><<<blocks, threads, 0, stream>>>(it, (uint8_t)bits); break;
    case 2: fill_kernel<uint16_t><<<blocks, threads, 0, stream>>>(it, (uint16_t)bits); break;
    case 4: fill_kernel<uint32_t><<<blocks, threads, 0, stream>>>(it, (uint32_t)bits); break;
    default: fill_kernel<uint64_t><<<blocks, threads, 0, stream>>>(it, bits); break;
  }
  return cu_check_launch("fill on the GPU");
}

#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_copy), prior_copy_kernel>::value, "cuda_copy");
static_assert(std::is_same<decltype(&cuda_fill), prior_fill_kernel>::value, "cuda_fill");

__attribute__((constructor)) static void register_cuda_copy(void) {
  cu_register("copy", (prior_kernel_fn)cuda_copy);
  cu_register("fill", (prior_kernel_fn)cuda_fill);
}
