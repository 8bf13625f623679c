/* prior/cuda.h in a build without the CUDA backend: nothing is available, every call says so. */
#ifndef PRIOR_WITH_CUDA
#include "prior/cuda.h"

static prior_status not_built(const char *what) {
  return prior_error_set(PRIOR_ERR_UNSUPPORTED, "%s: libprior was built without CUDA (configure with -DPRIOR_CUDA=ON)",
                         what);
}

int prior_cuda_available(void) { return 0; }
int prior_cuda_device_count(void) { return 0; }
prior_status prior_cuda_synchronize(int device_index) { return not_built("cuda.synchronize"); }
void *prior_cuda_host_alloc(size_t nbytes) {
  not_built("cuda.host_alloc");
  return NULL;
}
void prior_cuda_host_free(void *ptr) {}
prior_status prior_cuda_memcpy_pinned(prior_tensor *dst, const void *host_src, size_t nbytes) {
  return not_built("cuda.memcpy_pinned");
}
prior_cuda_event *prior_cuda_event_create(int device_index) {
  not_built("cuda.event");
  return NULL;
}
prior_status prior_cuda_event_record(prior_cuda_event *e) { return not_built("cuda.event_record"); }
prior_status prior_cuda_event_synchronize(prior_cuda_event *e) { return not_built("cuda.event_synchronize"); }
int prior_cuda_event_done(prior_cuda_event *e) { return 1; }
prior_status prior_cuda_event_elapsed_ms(prior_cuda_event *start, prior_cuda_event *end, float *ms) {
  return not_built("cuda.event_elapsed_ms");
}
void prior_cuda_event_free(prior_cuda_event *e) {}
prior_status prior_cuda_matmul(prior_tensor *out, const prior_tensor *a, const prior_tensor *b) {
  return not_built("cuda.matmul");
}
#else
typedef int prior_cuda_stubs_unused; /* ISO C wants a non-empty file */
#endif
