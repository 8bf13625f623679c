/* Named parameters and buffers of a network, with PyTorch state-dict names ("layer1.0.conv1.weight").
 *
 * Networks in runtime/nn register every tensor they own here; optimizers, checkpoints and the Lua API walk
 * the list. The list holds one reference per tensor. */
#ifndef PRIOR_NN_PARAMS_H
#define PRIOR_NN_PARAMS_H

#include <stdint.h>

#include "prior/tensor.h"

typedef struct prior_params {
  int32_t n, cap;
  char **names;
  prior_tensor **tensors;
  uint8_t *is_buffer; /* running statistics and counters: saved, loaded, never optimised */
} prior_params;

prior_params *prior_params_new(void);
void prior_params_free(prior_params *p);
/* Registers t under `prefix` + `name` ("layer1.0." + "conv1.weight"); keeps its own reference. */
prior_status prior_params_add(prior_params *p, const char *prefix, const char *name, prior_tensor *t, int is_buffer);
/* Adds every entry of src to dst under prefix + its name (sharing the tensors). */
prior_status prior_params_extend(prior_params *dst, const char *prefix, const prior_params *src);
int32_t prior_params_count(const prior_params *p);
const char *prior_params_name(const prior_params *p, int32_t i);
prior_tensor *prior_params_tensor(const prior_params *p, int32_t i); /* borrowed */
int prior_params_is_buffer(const prior_params *p, int32_t i);
/* Index of a name, or -1. */
int32_t prior_params_find(const prior_params *p, const char *name);
/* Total number of elements of the trainable parameters (buffers excluded). */
int64_t prior_params_numel(const prior_params *p);
/* Sets requires_grad on every trainable parameter. */
prior_status prior_params_set_requires_grad(prior_params *p, int requires_grad);
/* Converts every floating parameter and buffer to dtype (f32 <-> f64), in place. */
prior_status prior_params_to_dtype(prior_params *p, prior_dtype dtype);
/* Moves every parameter and buffer to device, in place. */
prior_status prior_params_to_device(prior_params *p, prior_device device);
/* Drops every parameter's .grad. */
void prior_params_zero_grad(prior_params *p);

/* Initialisers matching PyTorch's, drawing from the global RNG. */
prior_status prior_init_uniform_fan_in(prior_tensor *t, int64_t fan_in);             /* U(-1/sqrt(fan_in), +) */
prior_status prior_init_kaiming_normal_fan_out(prior_tensor *t, int64_t fan_out);    /* N(0, 2/fan_out) */
prior_status prior_init_normal(prior_tensor *t, double std);                          /* N(0, std^2) */

#endif
