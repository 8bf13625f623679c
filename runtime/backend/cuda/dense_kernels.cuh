/* Internal: the dense-family kernel signatures (conv2d, batch norm, pooling, resampling) as the CUDA backend
 * registers them. When the op layer's runtime/backend/kernels_dense.h is in the tree it is used instead, and
 * the kernels are checked against its typedefs at compile time; until then these copies of its declarations
 * keep the backend compiling. */
#ifndef PRIOR_CUDA_DENSE_KERNELS_CUH
#define PRIOR_CUDA_DENSE_KERNELS_CUH

#if __has_include("backend/kernels_dense.h")
extern "C" {
#include "backend/kernels_dense.h"
}
#define PRIOR_HAVE_KERNELS_DENSE 1
#else
extern "C" {
#include "prior/tensor.h"
}
typedef struct prior_conv2d_params {
  int64_t stride[2], pad[2], dilation[2];
  int64_t groups;
} prior_conv2d_params;
typedef struct prior_pool2d_params {
  int64_t kernel[2], stride[2], pad[2];
} prior_pool2d_params;
#define PRIOR_HAVE_KERNELS_DENSE 0
#endif

#endif
