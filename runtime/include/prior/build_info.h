/* What this build of libprior contains, for `prior --version` and bug reports. */
#ifndef PRIOR_BUILD_INFO_H
#define PRIOR_BUILD_INFO_H

/* "cpu" for a CPU-only build; "cuda 13.0 (sm_80 sm_90), 1 device" when the CUDA backend is compiled in, with
 * the number of GPUs this machine has right now (0 without a GPU or driver). A static per-thread buffer. */
const char *prior_build_info(void);

#endif
