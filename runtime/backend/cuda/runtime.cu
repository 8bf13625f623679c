/* The CUDA runtime side of the backend: device count, one stream per device, raw memory for the caching
 * allocator (prior/alloc.h), events, pinned host memory, and the strided-operand helper.
 *
 * Nothing touches the driver when the library loads: the device count is asked for on first use, so a
 * machine without a GPU (or without a driver) pays nothing and sees 0 devices; allocating a cuda tensor
 * there fails with "no CUDA device". */
#include <pthread.h>
#include <string.h>

#include "backend/cuda/cuda_internal.cuh"

static pthread_once_t count_once = PTHREAD_ONCE_INIT;
static int n_devices = 0;
static pthread_mutex_t stream_lock = PTHREAD_MUTEX_INITIALIZER;
static cudaStream_t streams[PRIOR_CUDA_MAX_DEVICES];

static void count_devices(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  cudaGetLastError(); /* no driver / no device is an answer, not a pending error */
  n_devices = n > PRIOR_CUDA_MAX_DEVICES ? PRIOR_CUDA_MAX_DEVICES : n;
}

static int device_count(void) {
  pthread_once(&count_once, count_devices);
  return n_devices;
}

prior_status cu_check(cudaError_t err, const char *what) {
  if (err == cudaSuccess) return PRIOR_OK;
  cudaGetLastError();
  return prior_error_set(err == cudaErrorMemoryAllocation ? PRIOR_ERR_MEMORY : PRIOR_ERR_DEVICE, "%s: CUDA error %s (%s)",
                         what, cudaGetErrorName(err), cudaGetErrorString(err));
}

prior_status cu_check_launch(const char *what) { return cu_check(cudaGetLastError(), what); }

static prior_status stream_of(int index, cudaStream_t *out) {
  if (index < 0 || index >= device_count())
    return prior_error_set(PRIOR_ERR_DEVICE, "cuda:%d: no CUDA device (this machine has %d)", index, device_count());
  PRIOR_TRY(cu_check(cudaSetDevice(index), "selecting the CUDA device"));
  pthread_mutex_lock(&stream_lock);
  prior_status s = PRIOR_OK;
  if (!streams[index]) s = cu_check(cudaStreamCreateWithFlags(&streams[index], cudaStreamNonBlocking), "creating a CUDA stream");
  *out = streams[index];
  pthread_mutex_unlock(&stream_lock);
  return s;
}

prior_status cu_enter(prior_device device, cudaStream_t *stream) {
  if (device.type != PRIOR_DEVICE_CUDA)
    return prior_error_set(PRIOR_ERR_DEVICE, "expected a cuda tensor, got one on %s", prior_device_name(device));
  return stream_of(device.index, stream);
}

void cu_register(const char *op, prior_kernel_fn fn) { prior_backend_register_kernel(PRIOR_DEVICE_CUDA, op, fn); }

void cu_strided_init(cu_strided *it, int ndim, const int64_t *shape, int n, prior_tensor *const *operands) {
  prior_strided s;
  prior_strided_init(&s, ndim, shape, n, operands);
  memset(it, 0, sizeof *it);
  it->ndim = s.ndim;
  it->n_operands = n;
  it->numel = prior_strided_numel(&s);
  it->contiguous = s.ndim == 1;
  for (int d = 0; d < s.ndim; d++) it->shape[d] = s.shape[d];
  for (int k = 0; k < n; k++) {
    it->data[k] = s.data[k];
    for (int d = 0; d < s.ndim; d++) it->strides[k][d] = s.strides[k][d];
    if (s.ndim == 1 && s.strides[k][0] != (int64_t)prior_dtype_size((prior_dtype)operands[k]->dtype) && it->numel > 1)
      it->contiguous = 0;
  }
}

/* ---- raw memory for the caching allocator ---- */

static void *raw_alloc(size_t nbytes, int32_t index) {
  cudaStream_t stream;
  if (stream_of(index, &stream) != PRIOR_OK) return NULL;
  void *p = NULL;
  if (cudaMalloc(&p, nbytes) != cudaSuccess) {
    cudaGetLastError(); /* out of memory: the allocator flushes its cache and retries */
    return NULL;
  }
  return p;
}

static void raw_free(void *ptr, int32_t index) {
  if (index >= 0 && index < device_count()) cudaSetDevice(index);
  cudaFree(ptr); /* waits for queued work that may still use the block */
}

static prior_status raw_copy(void *dst, const void *src, size_t nbytes, int kind, int32_t index) {
  cudaStream_t stream;
  PRIOR_TRY(stream_of(index, &stream));
  cudaMemcpyKind k = kind == PRIOR_COPY_HOST_TO_DEVICE   ? cudaMemcpyHostToDevice
                     : kind == PRIOR_COPY_DEVICE_TO_HOST ? cudaMemcpyDeviceToHost
                                                         : cudaMemcpyDeviceToDevice;
  PRIOR_TRY(cu_check(cudaMemcpyAsync(dst, src, nbytes, k, stream), "copying to or from the GPU"));
  /* pageable host memory may be reused by the caller as soon as we return */
  return cu_check(cudaStreamSynchronize(stream), "copying to or from the GPU");
}

static const prior_backend_memory cuda_memory = {raw_alloc, raw_free, raw_copy, device_count};

__attribute__((constructor)) static void register_cuda_memory(void) {
  prior_backend_register_memory(PRIOR_DEVICE_CUDA, &cuda_memory);
}

/* ---- prior/cuda.h ---- */

extern "C" int prior_cuda_available(void) { return device_count() > 0; }
extern "C" int prior_cuda_device_count(void) { return device_count(); }

extern "C" prior_status prior_cuda_synchronize(int device_index) {
  cudaStream_t stream;
  PRIOR_TRY(stream_of(device_index, &stream));
  return cu_check(cudaStreamSynchronize(stream), "cuda.synchronize");
}

extern "C" void *prior_cuda_host_alloc(size_t nbytes) {
  if (device_count() == 0) {
    prior_error_set(PRIOR_ERR_DEVICE, "cuda.host_alloc: no CUDA device");
    return NULL;
  }
  void *p = NULL;
  if (cu_check(cudaMallocHost(&p, nbytes ? nbytes : 1), "cuda.host_alloc") != PRIOR_OK) {
    prior_error_context("pinning %zu bytes: ", nbytes);
    return NULL;
  }
  return p;
}

extern "C" void prior_cuda_host_free(void *ptr) {
  if (ptr) cudaFreeHost(ptr);
}

extern "C" prior_status prior_cuda_memcpy_pinned(prior_tensor *dst, const void *host_src, size_t nbytes) {
  PRIOR_TRY(prior_check_tensor("cuda.memcpy_pinned", "dst", dst));
  if (!host_src && nbytes) return prior_error_set(PRIOR_ERR_ARGUMENT, "cuda.memcpy_pinned: source is NULL");
  if (!prior_tensor_is_contiguous(dst) || prior_tensor_nbytes(dst) != nbytes)
    return prior_error_set(PRIOR_ERR_ARGUMENT,
                           "cuda.memcpy_pinned: destination must be contiguous with %zu bytes (has %zu%s)", nbytes,
                           prior_tensor_nbytes(dst), prior_tensor_is_contiguous(dst) ? "" : ", not contiguous");
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(dst->device, &stream));
  if (!nbytes) return PRIOR_OK;
  return cu_check(cudaMemcpyAsync(cu_data(dst), host_src, nbytes, cudaMemcpyHostToDevice, stream),
                  "cuda.memcpy_pinned");
}

struct prior_cuda_event {
  cudaEvent_t event;
  int device;
};

extern "C" prior_cuda_event *prior_cuda_event_create(int device_index) {
  cudaStream_t stream;
  if (stream_of(device_index, &stream) != PRIOR_OK) return NULL;
  prior_cuda_event *e = (prior_cuda_event *)calloc(1, sizeof *e);
  if (!e) {
    prior_error_set(PRIOR_ERR_MEMORY, "cuda.event: out of memory");
    return NULL;
  }
  e->device = device_index;
  if (cu_check(cudaEventCreate(&e->event), "cuda.event") != PRIOR_OK) {
    free(e);
    return NULL;
  }
  return e;
}

extern "C" prior_status prior_cuda_event_record(prior_cuda_event *e) {
  if (!e) return prior_error_set(PRIOR_ERR_ARGUMENT, "cuda.event_record: event is NULL");
  cudaStream_t stream;
  PRIOR_TRY(stream_of(e->device, &stream));
  return cu_check(cudaEventRecord(e->event, stream), "cuda.event_record");
}

extern "C" prior_status prior_cuda_event_synchronize(prior_cuda_event *e) {
  if (!e) return prior_error_set(PRIOR_ERR_ARGUMENT, "cuda.event_synchronize: event is NULL");
  return cu_check(cudaEventSynchronize(e->event), "cuda.event_synchronize");
}

extern "C" int prior_cuda_event_done(prior_cuda_event *e) {
  if (!e) return 1;
  cudaError_t err = cudaEventQuery(e->event);
  if (err == cudaErrorNotReady) {
    cudaGetLastError();
    return 0;
  }
  return 1;
}

extern "C" prior_status prior_cuda_event_elapsed_ms(prior_cuda_event *start, prior_cuda_event *end, float *ms) {
  if (!start || !end || !ms) return prior_error_set(PRIOR_ERR_ARGUMENT, "cuda.event_elapsed_ms: NULL argument");
  return cu_check(cudaEventElapsedTime(ms, start->event, end->event), "cuda.event_elapsed_ms");
}

extern "C" void prior_cuda_event_free(prior_cuda_event *e) {
  if (!e) return;
  cudaEventDestroy(e->event);
  free(e);
}
