/* "random_fill": uniform, normal, Bernoulli (dropout masks) and Gumbel noise drawn on the GPU from the same
 * Philox stream as the CPU (prior/rng.h), element i of the draw to element i of the tensor in row-major
 * order. The arithmetic is philox_math.h, shared with a host-side emulation test. */
#include "backend/cuda/cuda_internal.cuh"
#include "backend/cuda/philox_math.h"

__global__ void random_fill_kernel(cu_strided it, int dtype, int kind, double a, double b, uint64_t seed,
                                   uint64_t offset) {
  CU_GRID_LOOP(i, it.numel) {
    cu_store(it.data[0] + cu_offset(it, 0, i), dtype, prior_hd_random_value(seed, offset, i, kind, a, b));
  }
}

static prior_status cuda_random_fill(prior_tensor *t, int kind, double a, double b, uint64_t seed, uint64_t offset) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(t->device, &stream));
  /* Merging dims keeps the row-major numbering: linear index i of the merged loop is element i of t. */
  prior_tensor *ops[1] = {t};
  cu_strided it;
  cu_strided_init(&it, t->ndim, t->shape, 1, ops);
  if (it.numel == 0) return PRIOR_OK;
  const int threads = 256;
  random_fill_kernel<<<cu_blocks(it.numel, threads), threads, 0, stream>>>(it, t->dtype, kind, a, b, seed, offset);
  return cu_check_launch("random fill on the GPU");
}

#include <type_traits>
/* the kernels have exactly the signatures the op layer calls them with */
static_assert(std::is_same<decltype(&cuda_random_fill), prior_random_fill_kernel>::value, "cuda_random_fill");

__attribute__((constructor)) static void register_cuda_random(void) {
  cu_register("random_fill", (prior_kernel_fn)cuda_random_fill);
}
