/* Checkpoint dtype table and shape arithmetic shared by the readers and the writer. */
#include "prior/ckpt.h"

#include <string.h>

static const struct {
  prior_ckpt_dtype dtype;
  const char *name;
  size_t size;
} dtype_table[] = {
    {PRIOR_CKPT_F32, "F32", 4}, {PRIOR_CKPT_F64, "F64", 8}, {PRIOR_CKPT_I32, "I32", 4},
    {PRIOR_CKPT_I64, "I64", 8}, {PRIOR_CKPT_U8, "U8", 1},   {PRIOR_CKPT_BOOL, "BOOL", 1},
    {PRIOR_CKPT_BF16, "BF16", 2}, {PRIOR_CKPT_F16, "F16", 2}, {PRIOR_CKPT_I8, "I8", 1},
    {PRIOR_CKPT_I16, "I16", 2},
};
#define DTYPE_COUNT (sizeof dtype_table / sizeof dtype_table[0])

size_t prior_ckpt_dtype_size(prior_ckpt_dtype dtype) {
  for (size_t i = 0; i < DTYPE_COUNT; i++)
    if (dtype_table[i].dtype == dtype) return dtype_table[i].size;
  return 0;
}

const char *prior_ckpt_dtype_name(prior_ckpt_dtype dtype) {
  for (size_t i = 0; i < DTYPE_COUNT; i++)
    if (dtype_table[i].dtype == dtype) return dtype_table[i].name;
  return "?";
}

int prior_ckpt_dtype_from_name(const char *name) {
  if (!name) return -1;
  for (size_t i = 0; i < DTYPE_COUNT; i++)
    if (strcmp(dtype_table[i].name, name) == 0) return (int)dtype_table[i].dtype;
  return -1;
}

/* Bounded by 2^59 so that numel * element size (at most 8) cannot overflow. */
long long prior_ckpt_numel(int ndim, const long long *shape) {
  if (ndim < 0 || ndim > PRIOR_CKPT_MAX_DIMS) return -1;
  long long n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] && n > (long long)(((unsigned long long)1 << 59) / (unsigned long long)shape[i])) return -1;
    n *= shape[i];
  }
  return n;
}
