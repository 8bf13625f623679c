/* Without a GPU (every CI machine) a cuda tensor is a clean error and nothing else changes: build info,
 * device count, prior/cuda.h and the autocast switch behave as documented in both CPU and CUDA builds.
 * On a machine that has a GPU this test checks only what holds there too. */
#include <string.h>

#include "check.h"
#include "prior/alloc.h"
#include "prior/amp.h"
#include "prior/build_info.h"
#include "prior/cuda.h"
#include "prior/tensor.h"

int main(void) {
  const char *info = prior_build_info();
  int n = prior_device_count(PRIOR_DEVICE_CUDA);
  CHECK(n == prior_cuda_device_count());
  CHECK(prior_cuda_available() == (n > 0));
#ifdef PRIOR_WITH_CUDA
  CHECK_MSG(strncmp(info, "cuda ", 5) == 0 && strstr(info, "sm_"), "build info '%s'", info);
  CHECK_MSG(strstr(info, n == 1 ? "1 device" : "devices") != NULL, "build info '%s'", info);
#else
  CHECK_MSG(strcmp(info, "cpu") == 0, "build info '%s'", info);
  CHECK(n == 0);
  CHECK_ERR(prior_cuda_synchronize(0), PRIOR_ERR_UNSUPPORTED, "without CUDA");
  CHECK(prior_cuda_host_alloc(16) == NULL);
#endif
  prior_device cuda = {PRIOR_DEVICE_CUDA, 0};
  int64_t shape[2] = {2, 3};
  if (n == 0) {
    /* "no CUDA device" in a CUDA build; "no such device in this build" in a CPU build */
    CHECK_ERR(prior_tensor_empty(2, shape, PRIOR_F32, cuda), PRIOR_ERR_DEVICE, "cuda:0");
#ifdef PRIOR_WITH_CUDA
    CHECK_ERR(prior_tensor_zeros(2, shape, PRIOR_F32, cuda), PRIOR_ERR_DEVICE, "no CUDA device");
    CHECK_ERR(prior_cuda_synchronize(0), PRIOR_ERR_DEVICE, "no CUDA device");
#endif
    prior_tensor *host = prior_tensor_ones(2, shape, PRIOR_F32, prior_cpu());
    CHECK_ERR(prior_tensor_to_device(host, cuda), PRIOR_ERR_DEVICE, "cuda:0");
    prior_tensor_free(host);
  }
  /* moving in place: a no-op to the same device; to a missing GPU an error that leaves the tensor usable */
  prior_tensor *m = prior_tensor_full(2, shape, 1.5, PRIOR_F32, prior_cpu());
  CHECK_OK(prior_tensor_move_(m, prior_cpu()));
  if (n == 0) {
    CHECK_ERR(prior_tensor_move_(m, cuda), PRIOR_ERR_DEVICE, "cuda:0");
    CHECK(m->device.type == PRIOR_DEVICE_CPU);
    double got = 0;
    CHECK_OK(prior_tensor_get(m, (int64_t[]){1, 1}, &got));
    CHECK(got == 1.5);
  }
  prior_tensor_free(m);
  prior_device far = {PRIOR_DEVICE_CUDA, 99};
  CHECK_ERR(prior_tensor_empty(2, shape, PRIOR_F32, far), PRIOR_ERR_DEVICE, "cuda:99");
  /* CPU tensors and stats are untouched by all this */
  prior_tensor *t = prior_tensor_full(2, shape, 2.5, PRIOR_F32, prior_cpu());
  double v = 0;
  CHECK_OK(prior_tensor_get(t, (int64_t[]){1, 2}, &v));
  CHECK(v == 2.5);
  prior_tensor_free(t);
  prior_memory_stats st;
  CHECK_OK(prior_memory_stats_get(cuda, &st));
  CHECK(st.bytes_in_use == 0);
  /* autocast */
  CHECK(!prior_autocast_enabled() && prior_autocast_dtype() == PRIOR_F32);
  CHECK_ERR(prior_autocast_set(1, PRIOR_F16), PRIOR_ERR_UNSUPPORTED, "f16");
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  CHECK(prior_autocast_enabled() && prior_autocast_dtype() == PRIOR_BF16);
  CHECK_OK(prior_autocast_set(0, PRIOR_F32));
  CHECK(!prior_autocast_enabled());
  return check_summary("test_cuda_absent");
}
