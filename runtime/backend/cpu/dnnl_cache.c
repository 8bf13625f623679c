/* The CPU backend's oneDNN engine, stream and primitive cache (see dnnl_util.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/dnnl_util.h"

#include "backend/cpu/blocked_weights.h"
#include "backend/cpu/channels_last.h"
#include "prior/alloc.h"
#include "prior/amp.h"
#include "prior/device.h"

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static dnnl_status_t g_init_status = dnnl_success;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* A oneDNN stream is in-order; executing on it from two threads at once is not promised to be safe, so
 * plans run one at a time (each run is itself parallel over the OpenMP threads). */
static pthread_mutex_t g_exec_lock = PTHREAD_MUTEX_INITIALIZER;

static void init_engine(void) {
  g_init_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
  if (g_init_status == dnnl_success) g_init_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
}

dnnl_engine_t prior_dnnl_engine(void) {
  pthread_once(&g_once, init_engine);
  if (g_init_status != dnnl_success) {
    prior_dnnl_error("oneDNN", "engine creation", g_init_status);
    return NULL;
  }
  return g_engine;
}

static const char *status_name(dnnl_status_t st) {
  switch (st) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
  }
}

prior_status prior_dnnl_error(const char *op, const char *what, dnnl_status_t st) {
  return prior_error_set(st == dnnl_out_of_memory ? PRIOR_ERR_MEMORY : PRIOR_ERR_INTERNAL, "%s: oneDNN %s failed (%s)",
                         op, what, status_name(st));
}

int prior_autocast_native(prior_device device) {
  if (device.type != PRIOR_DEVICE_CPU) return 1; /* the GPU backend takes bf16 on every supported device */
  const dnnl_cpu_isa_t bf16 = dnnl_cpu_isa_avx512_core_bf16; /* ISA values are nested bit sets */
  return (dnnl_get_effective_cpu_isa() & bf16) == bf16;
}

int prior_cpu_autocast_bf16(void) {
  static int native = -1;
  if (!prior_autocast_enabled()) return 0;
  if (native < 0) native = prior_autocast_native(prior_cpu());
  return native;
}

/* ---- the cache: a fixed-size open-addressing table, never evicting ----------------------------------- */

#define CACHE_SLOTS 1024 /* power of two; at most 3/4 full */

typedef struct cache_slot {
  void *key;
  size_t key_len;
  uint64_t hash;
  void *value;
} cache_slot;

static cache_slot g_slots[CACHE_SLOTS];
static int g_used;
static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash_bytes(const void *key, size_t len) { /* FNV-1a */
  const unsigned char *p = key;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static cache_slot *find_slot(const void *key, size_t len, uint64_t h) {
  for (size_t i = 0; i < CACHE_SLOTS; i++) {
    cache_slot *s = &g_slots[(h + i) & (CACHE_SLOTS - 1)];
    if (!s->key) return s;
    if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0) return s;
  }
  return NULL;
}

void *prior_dnnl_cache_get(const void *key, size_t key_len) {
  uint64_t h = hash_bytes(key, key_len);
  pthread_mutex_lock(&g_cache_lock);
  cache_slot *s = find_slot(key, key_len, h);
  void *v = s && s->key ? s->value : NULL;
  pthread_mutex_unlock(&g_cache_lock);
  return v;
}

void *prior_dnnl_cache_put(const void *key, size_t key_len, void *value, void (*destroy)(void *), int *owned) {
  uint64_t h = hash_bytes(key, key_len);
  *owned = 0;
  pthread_mutex_lock(&g_cache_lock);
  cache_slot *s = find_slot(key, key_len, h);
  if (s && s->key) { /* another thread was first */
    void *v = s->value;
    pthread_mutex_unlock(&g_cache_lock);
    destroy(value);
    return v;
  }
  void *copy = g_used < CACHE_SLOTS * 3 / 4 ? malloc(key_len) : NULL;
  if (!s || !copy) {
    pthread_mutex_unlock(&g_cache_lock);
    free(copy);
    *owned = 1;
    return value;
  }
  memcpy(copy, key, key_len);
  s->key = copy;
  s->key_len = key_len;
  s->hash = h;
  s->value = value;
  g_used++;
  pthread_mutex_unlock(&g_cache_lock);
  return value;
}

/* ---- plans ----------------------------------------------------------------------------------------------- */

dnnl_memory_desc_t prior_dnnl_md_plain(int ndim, const dnnl_dim_t *dims) {
  dnnl_memory_desc_t md;
  static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde};
  dnnl_memory_desc_init_by_tag(&md, ndim, dims, dnnl_f32, tags[ndim]);
  return md;
}

void prior_dnnl_plan_destroy(void *p) {
  prior_dnnl_plan *plan = p;
  if (!plan) return;
  if (plan->prim) dnnl_primitive_destroy(plan->prim);
  for (int i = 0; i < plan->n_args; i++)
    if (plan->args[i].reorder) dnnl_primitive_destroy(plan->args[i].reorder);
  free(plan);
}

static dnnl_status_t make_reorder(dnnl_primitive_t *out, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to) {
  dnnl_primitive_desc_t pd;
  dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, from, g_engine, to, g_engine, NULL);
  if (st != dnnl_success) return st;
  st = dnnl_primitive_create(out, pd);
  dnnl_primitive_desc_destroy(pd);
  return st;
}

enum { OWN_NONE, OWN_TO_NHWC_F32, OWN_TO_NHWC_BF16, OWN_TO_NCHW_F32, OWN_TO_BLOCKED, OWN_FROM_BLOCKED };

/* Which of our own conversions moves data between `user` (ours, plain f32) and `prim` (the primitive's) for
 * this argument: the NCHW <-> NHWC transposes for activations (f32 or bf16 in, f32 out), the blocked weight
 * layouts for 4-D weights (f32 or bf16 in, f32 out). OWN_NONE leaves it to a oneDNN reorder. */
static int own_reorder_kind(int arg, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *prim, int output) {
  if (user->ndims != 4 || user->data_type != dnnl_f32) return OWN_NONE;
  dnnl_memory_desc_t nchw, nhwc;
  if (dnnl_memory_desc_init_by_tag(&nchw, 4, user->dims, dnnl_f32, dnnl_abcd) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&nhwc, 4, user->dims, prim->data_type, dnnl_acdb) != dnnl_success)
    return OWN_NONE;
  if (!dnnl_memory_desc_equal(user, &nchw)) return OWN_NONE;
  if (dnnl_memory_desc_equal(prim, &nhwc)) {
    if (output) return prim->data_type == dnnl_f32 ? OWN_TO_NCHW_F32 : OWN_NONE;
    return prim->data_type == dnnl_f32 ? OWN_TO_NHWC_F32 : prim->data_type == dnnl_bf16 ? OWN_TO_NHWC_BF16 : OWN_NONE;
  }
  prior_blocked_weights layout;
  if ((arg != DNNL_ARG_WEIGHTS && arg != DNNL_ARG_DIFF_WEIGHTS) || !prior_blocked_weights_layout(prim, &layout))
    return OWN_NONE;
  if (output) return prim->data_type == dnnl_f32 ? OWN_FROM_BLOCKED : OWN_NONE;
  return OWN_TO_BLOCKED;
}

static void run_own_reorder(const prior_dnnl_plan_arg *a, void *user, void *prim) {
  const dnnl_dim_t *d = a->user_md.dims;
  int64_t n = d[0], c = d[1], hw = d[2] * d[3];
  prior_blocked_weights layout;
  switch (a->own_reorder) {
    case OWN_TO_NHWC_F32: prior_nchw_to_nhwc_f32(user, prim, n, c, hw); break;
    case OWN_TO_NHWC_BF16: prior_nchw_to_nhwc_bf16(user, prim, n, c, hw); break;
    case OWN_TO_NCHW_F32: prior_nhwc_to_nchw_f32(prim, user, n, c, hw); break;
    case OWN_TO_BLOCKED:
      prior_blocked_weights_layout(&a->prim_md, &layout);
      prior_weights_to_blocked(user, prim, a->prim_md.data_type == dnnl_bf16, &layout);
      break;
    case OWN_FROM_BLOCKED:
      prior_blocked_weights_layout(&a->prim_md, &layout);
      prior_weights_from_blocked(prim, user, &layout);
      break;
  }
}

prior_dnnl_plan *prior_dnnl_plan_create(const char *op, dnnl_primitive_desc_t pd, int n, const int *arg_ids,
                                        const dnnl_memory_desc_t *user_mds, const int *is_output) {
  PRIOR_ASSERT(n <= PRIOR_DNNL_MAX_ARGS);
  prior_dnnl_plan *plan = calloc(1, sizeof *plan);
  if (!plan) {
    dnnl_primitive_desc_destroy(pd);
    prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory for a oneDNN plan", op);
    return NULL;
  }
  dnnl_status_t st = dnnl_success;
  plan->n_args = n;
  for (int i = 0; i < n && st == dnnl_success; i++) {
    prior_dnnl_plan_arg *a = &plan->args[i];
    a->arg = arg_ids[i];
    a->output = is_output[i];
    a->user_md = user_mds[i];
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg_ids[i]);
    a->prim_md = md ? *md : user_mds[i];
    a->own_reorder = own_reorder_kind(a->arg, &a->user_md, &a->prim_md, a->output);
    if (!a->own_reorder && !dnnl_memory_desc_equal(&a->prim_md, &a->user_md))
      st = a->output ? make_reorder(&a->reorder, &a->prim_md, &a->user_md)
                     : make_reorder(&a->reorder, &a->user_md, &a->prim_md);
  }
  if (st == dnnl_success) st = dnnl_primitive_create(&plan->prim, pd);
  dnnl_primitive_desc_destroy(pd);
  if (st != dnnl_success) {
    prior_dnnl_plan_destroy(plan);
    prior_dnnl_error(op, "primitive creation", st);
    return NULL;
  }
  return plan;
}

static dnnl_status_t run(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args) {
  dnnl_status_t st = dnnl_primitive_execute(p, g_stream, n, args);
  return st == dnnl_success ? dnnl_stream_wait(g_stream) : st;
}

prior_status prior_dnnl_plan_execute(const char *op, const prior_dnnl_plan *plan, void *const *ptrs) {
  if (!prior_dnnl_engine()) return prior_error_code();
  dnnl_memory_t user_mem[PRIOR_DNNL_MAX_ARGS] = {0}, prim_mem[PRIOR_DNNL_MAX_ARGS] = {0};
  void *scratch[PRIOR_DNNL_MAX_ARGS] = {0};
  size_t scratch_size[PRIOR_DNNL_MAX_ARGS] = {0};
  dnnl_exec_arg_t args[PRIOR_DNNL_MAX_ARGS];
  dnnl_status_t st = dnnl_success;
  prior_status result = PRIOR_OK;
  int n = plan->n_args;
  for (int i = 0; i < n && st == dnnl_success && result == PRIOR_OK; i++) {
    const prior_dnnl_plan_arg *a = &plan->args[i];
    st = dnnl_memory_create(&user_mem[i], &a->user_md, g_engine, ptrs[i]);
    if (st != dnnl_success) break;
    if (a->reorder || a->own_reorder) {
      scratch_size[i] = dnnl_memory_desc_get_size(&a->prim_md);
      scratch[i] = prior_alloc(prior_cpu(), scratch_size[i]);
      if (!scratch[i]) result = prior_error_code();
      else st = dnnl_memory_create(&prim_mem[i], &a->prim_md, g_engine, scratch[i]);
    }
    args[i].arg = a->arg;
    args[i].memory = a->reorder || a->own_reorder ? prim_mem[i] : user_mem[i];
  }
  if (st == dnnl_success && result == PRIOR_OK) {
    pthread_mutex_lock(&g_exec_lock);
    for (int i = 0; i < n && st == dnnl_success; i++) {
      if (plan->args[i].output) continue;
      if (plan->args[i].own_reorder) run_own_reorder(&plan->args[i], ptrs[i], scratch[i]);
      if (!plan->args[i].reorder) continue;
      dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, user_mem[i]}, {DNNL_ARG_TO, prim_mem[i]}};
      st = run(plan->args[i].reorder, 2, r);
    }
    if (st == dnnl_success) st = run(plan->prim, n, args);
    for (int i = 0; i < n && st == dnnl_success; i++) {
      if (!plan->args[i].output) continue;
      if (plan->args[i].own_reorder) run_own_reorder(&plan->args[i], ptrs[i], scratch[i]);
      if (!plan->args[i].reorder) continue;
      dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, prim_mem[i]}, {DNNL_ARG_TO, user_mem[i]}};
      st = run(plan->args[i].reorder, 2, r);
    }
    pthread_mutex_unlock(&g_exec_lock);
  }
  for (int i = 0; i < n; i++) {
    if (user_mem[i]) dnnl_memory_destroy(user_mem[i]);
    if (prim_mem[i]) dnnl_memory_destroy(prim_mem[i]);
    if (scratch[i]) prior_free(prior_cpu(), scratch[i], scratch_size[i]);
  }
  if (st != dnnl_success) return prior_dnnl_error(op, "execution", st);
  return result;
}
