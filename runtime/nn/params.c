/* The named parameter list. */
#include "prior/nn_params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prior/autograd.h"

prior_params *prior_params_new(void) {
  prior_params *p = calloc(1, sizeof *p);
  if (!p) prior_error_set(PRIOR_ERR_MEMORY, "out of memory creating a parameter list");
  return p;
}

void prior_params_free(prior_params *p) {
  if (!p) return;
  for (int32_t i = 0; i < p->n; i++) {
    free(p->names[i]);
    prior_tensor_free(p->tensors[i]);
  }
  free(p->names);
  free(p->tensors);
  free(p->is_buffer);
  free(p);
}

prior_status prior_params_add(prior_params *p, const char *prefix, const char *name, prior_tensor *t, int is_buffer) {
  if (!p || !name) return prior_error_set(PRIOR_ERR_ARGUMENT, "params_add: NULL list or name");
  PRIOR_TRY(prior_check_tensor("params_add", name, t));
  size_t len = strlen(prefix ? prefix : "") + strlen(name) + 1;
  char *full = malloc(len);
  if (!full) return prior_error_set(PRIOR_ERR_MEMORY, "out of memory naming a parameter");
  snprintf(full, len, "%s%s", prefix ? prefix : "", name);
  if (prior_params_find(p, full) >= 0) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "params_add: '%s' registered twice", full);
    free(full);
    return PRIOR_ERR_ARGUMENT;
  }
  if (p->n == p->cap) {
    int32_t cap = p->cap ? p->cap * 2 : 32;
    char **names = realloc(p->names, (size_t)cap * sizeof *names);
    if (names) p->names = names;
    prior_tensor **tensors = realloc(p->tensors, (size_t)cap * sizeof *tensors);
    if (tensors) p->tensors = tensors;
    uint8_t *flags = realloc(p->is_buffer, (size_t)cap);
    if (flags) p->is_buffer = flags;
    if (!names || !tensors || !flags) {
      free(full);
      return prior_error_set(PRIOR_ERR_MEMORY, "out of memory growing a parameter list");
    }
    p->cap = cap;
  }
  p->names[p->n] = full;
  p->tensors[p->n] = prior_tensor_retain(t);
  p->is_buffer[p->n] = is_buffer ? 1 : 0;
  p->n++;
  return PRIOR_OK;
}

prior_status prior_params_extend(prior_params *dst, const char *prefix, const prior_params *src) {
  for (int32_t i = 0; src && i < src->n; i++)
    PRIOR_TRY(prior_params_add(dst, prefix, src->names[i], src->tensors[i], src->is_buffer[i]));
  return PRIOR_OK;
}

int32_t prior_params_count(const prior_params *p) { return p ? p->n : 0; }
const char *prior_params_name(const prior_params *p, int32_t i) { return (p && i >= 0 && i < p->n) ? p->names[i] : NULL; }
prior_tensor *prior_params_tensor(const prior_params *p, int32_t i) {
  return (p && i >= 0 && i < p->n) ? p->tensors[i] : NULL;
}
int prior_params_is_buffer(const prior_params *p, int32_t i) { return (p && i >= 0 && i < p->n) ? p->is_buffer[i] : 0; }

int32_t prior_params_find(const prior_params *p, const char *name) {
  if (!p || !name) return -1;
  for (int32_t i = 0; i < p->n; i++)
    if (strcmp(p->names[i], name) == 0) return i;
  return -1;
}

int64_t prior_params_numel(const prior_params *p) {
  int64_t n = 0;
  for (int32_t i = 0; p && i < p->n; i++)
    if (!p->is_buffer[i]) n += prior_tensor_numel(p->tensors[i]);
  return n;
}

prior_status prior_params_set_requires_grad(prior_params *p, int requires_grad) {
  for (int32_t i = 0; p && i < p->n; i++)
    if (!p->is_buffer[i]) PRIOR_TRY(prior_tensor_set_requires_grad(p->tensors[i], requires_grad));
  return PRIOR_OK;
}

prior_status prior_params_to_dtype(prior_params *p, prior_dtype dtype) {
  for (int32_t i = 0; p && i < p->n; i++)
    if (prior_dtype_is_floating(p->tensors[i]->dtype)) PRIOR_TRY(prior_tensor_convert_(p->tensors[i], dtype));
  return PRIOR_OK;
}

prior_status prior_params_to_device(prior_params *p, prior_device device) {
  for (int32_t i = 0; p && i < p->n; i++) PRIOR_TRY(prior_tensor_move_(p->tensors[i], device));
  return PRIOR_OK;
}

void prior_params_zero_grad(prior_params *p) {
  for (int32_t i = 0; p && i < p->n; i++) prior_tensor_zero_grad(p->tensors[i]);
}

prior_status prior_init_uniform_fan_in(prior_tensor *t, int64_t fan_in) {
  double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
  return prior_tensor_uniform_(t, -bound, bound);
}

prior_status prior_init_kaiming_normal_fan_out(prior_tensor *t, int64_t fan_out) {
  return prior_tensor_normal_(t, 0.0, fan_out > 0 ? sqrt(2.0 / (double)fan_out) : 0.0);
}

prior_status prior_init_normal(prior_tensor *t, double std) { return prior_tensor_normal_(t, 0.0, std); }
