/* prior_build_info: the compiled-in backends and the devices present. */
#include "prior/build_info.h"

#include <stdio.h>
#include <string.h>

#include "prior/device.h"

const char *prior_build_info(void) {
  static _Thread_local char buf[160];
#ifdef PRIOR_WITH_CUDA
  /* PRIOR_CUDA_ARCHS is CMake's architecture list with commas: "80,90" */
  char archs[96] = "", list[64], *save = NULL;
  snprintf(list, sizeof list, "%s", PRIOR_CUDA_ARCHS);
  for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    size_t used = strlen(archs);
    snprintf(archs + used, sizeof archs - used, "%ssm_%s", used ? " " : "", tok);
  }
  int n = prior_device_count(PRIOR_DEVICE_CUDA);
  snprintf(buf, sizeof buf, "cuda %s (%s), %d device%s", PRIOR_CUDA_VERSION, archs, n, n == 1 ? "" : "s");
#else
  snprintf(buf, sizeof buf, "cpu");
#endif
  return buf;
}
