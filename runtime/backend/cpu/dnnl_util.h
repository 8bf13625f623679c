/* Internal: the CPU backend's shared oneDNN state.
 *
 * One engine and one stream, created on first use. Primitives are expensive to create (oneDNN generates
 * code for each shape), so ops keep them in a process-wide cache keyed by the bytes of a small struct that
 * holds every parameter the primitive depends on (shapes, strides, kind). A cached "plan" is a primitive
 * plus, for each of its arguments, the reorder between our plain layout (NCHW, row-major) and the layout the
 * primitive prefers (blocked formats such as nChw16c); executing a plan reorders inputs into scratch
 * buffers, runs the primitive and reorders outputs back. Between NCHW f32 and NHWC (the AMX convolutions'
 * layout) our own transposes do the reorder, and between OIHW f32 weights and the convolutions' blocked
 * weight layouts our own tile copies (both faster than oneDNN 2.6's generic reorders). */
#ifndef PRIOR_BACKEND_CPU_DNNL_UTIL_H
#define PRIOR_BACKEND_CPU_DNNL_UTIL_H

#include <dnnl.h>
#include <stddef.h>

#include "prior/error.h"

#define PRIOR_DNNL_MAX_ARGS 10

/* The engine and stream, or NULL with an error set. */
dnnl_engine_t prior_dnnl_engine(void);

/* Turns a oneDNN failure into our error: "op: oneDNN <what> failed (status name)". */
prior_status prior_dnnl_error(const char *op, const char *what, dnnl_status_t st);

/* ---- the cache ------------------------------------------------------------------------------------------ */
/* The cached value for key, or NULL. Values are never evicted, so a returned pointer stays valid. */
void *prior_dnnl_cache_get(const void *key, size_t key_len);
/* Stores value under key and returns the value now cached: `value` itself, or the one another thread stored
 * first (then `value` is destroyed). When the cache is full the value is not stored and `value` is returned;
 * the caller then owns it and must destroy it after use (`*owned` is set to 1 in that case). */
void *prior_dnnl_cache_put(const void *key, size_t key_len, void *value, void (*destroy)(void *), int *owned);

/* ---- plans ---------------------------------------------------------------------------------------------- */
typedef struct prior_dnnl_plan_arg {
  int arg;                    /* DNNL_ARG_SRC, ... */
  int output;                 /* written by the primitive */
  dnnl_memory_desc_t user_md; /* our layout */
  dnnl_memory_desc_t prim_md; /* the primitive's */
  dnnl_primitive_t reorder;   /* user -> prim for inputs, prim -> user for outputs; NULL when layouts agree */
  int own_reorder;            /* instead of `reorder`: one of our own conversions (channels_last.h, blocked_weights.h) */
} prior_dnnl_plan_arg;

typedef struct prior_dnnl_plan {
  dnnl_primitive_t prim;
  int n_args;
  prior_dnnl_plan_arg args[PRIOR_DNNL_MAX_ARGS];
} prior_dnnl_plan;

/* Builds a plan from a primitive descriptor (which it destroys). user_mds[i] is the layout of argument
 * arg_ids[i] as we hold it; is_output[i] marks arguments the primitive writes. */
prior_dnnl_plan *prior_dnnl_plan_create(const char *op, dnnl_primitive_desc_t pd, int n, const int *arg_ids,
                                        const dnnl_memory_desc_t *user_mds, const int *is_output);
void prior_dnnl_plan_destroy(void *plan);
/* Runs the plan with ptrs[i] the data of argument i (in the order given at creation). */
prior_status prior_dnnl_plan_execute(const char *op, const prior_dnnl_plan *plan, void *const *ptrs);

/* Whether f32 matmuls and convolutions run with bf16 operands now: autocast is on (prior/amp.h) and the CPU
 * computes bf16 natively (AVX-512 BF16 or AMX). Without native bf16 oneDNN would emulate it at a loss, so
 * such a CPU stays in f32 and says so through prior_autocast_native(). */
int prior_cpu_autocast_bf16(void);

/* A plain row-major f32 memory descriptor of ndim dims. */
dnnl_memory_desc_t prior_dnnl_md_plain(int ndim, const dnnl_dim_t *dims);

#endif
