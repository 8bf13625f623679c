/* Internal: sums and maxima across a thread block (any blockDim.x that is a multiple of 32, at most 1024),
 * through warp shuffles and one shared slot per warp. Every thread gets the result. */
#ifndef PRIOR_CUDA_BLOCK_REDUCE_CUH
#define PRIOR_CUDA_BLOCK_REDUCE_CUH

template <typename T, typename F>
__device__ __forceinline__ T cu_block_reduce(T v, F op) {
  __shared__ T slots[32];
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = blockDim.x / 32;
  __syncthreads(); /* slots may still be read by a previous call */
  if (lane == 0) slots[warp] = v;
  __syncthreads();
  v = slots[0];
  for (int w = 1; w < nwarps; w++) v = op(v, slots[w]);
  return v;
}

struct cu_sum_op {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct cu_max_op {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return b > a ? b : a; }
};

#endif
