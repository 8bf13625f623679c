/* Caching allocator: size classes of 1/4-octave steps (at most 25% waste), a free list per class per device
 * (type and index: a block of cuda:1 is never handed to cuda:0), and a flush on allocation failure before
 * giving up.
 *
 * Streams: a device backend runs all its work on one stream per device (the CUDA backend does), so a block
 * freed here while kernels that use it are still queued is only handed out again to work queued after them
 * on the same stream: one free list per size class is enough. Work on another stream must synchronise with
 * the device stream before its blocks are freed. */
#include "prior/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N_CLASSES 256
#define MIN_BLOCK 64
#define MAX_DEVICE_INDEX 16 /* devices of one type with their own cache */

typedef struct free_block {
  struct free_block *next;
  void *ptr;
} free_block;

typedef struct device_cache {
  pthread_mutex_t lock;
  free_block *lists[N_CLASSES];
  prior_memory_stats stats;
} device_cache;

static device_cache caches[PRIOR_DEVICE_TYPE_COUNT][MAX_DEVICE_INDEX];
static pthread_once_t caches_once = PTHREAD_ONCE_INIT;
static int64_t fail_countdown = 0;

static void caches_init(void) {
  for (int t = 0; t < PRIOR_DEVICE_TYPE_COUNT; t++)
    for (int i = 0; i < MAX_DEVICE_INDEX; i++) pthread_mutex_init(&caches[t][i].lock, NULL);
}

/* The cache of a device, or NULL for a device type or index outside the table. */
static device_cache *cache_of(prior_device device) {
  if (device.type == PRIOR_DEVICE_CPU) device.index = 0; /* one host */
  if (device.type < 0 || device.type >= PRIOR_DEVICE_TYPE_COUNT || device.index < 0 ||
      device.index >= MAX_DEVICE_INDEX)
    return NULL;
  pthread_once(&caches_once, caches_init);
  return &caches[device.type][device.index];
}

/* Size class: 4 classes per power of two. Returns the class index and the rounded size. */
static int size_class(size_t nbytes, size_t *rounded) {
  if (nbytes < MIN_BLOCK) nbytes = MIN_BLOCK;
  int log2 = 63 - __builtin_clzll((unsigned long long)nbytes);
  size_t base = (size_t)1 << log2;
  size_t step = base >> 2;
  size_t k = (nbytes - base + step - 1) / step; /* 0..4 */
  *rounded = base + k * step;
  return log2 * 4 + (int)k;
}

static void *system_alloc(prior_device_type type, size_t nbytes, int32_t index) {
  if (fail_countdown > 0 && --fail_countdown == 0) return NULL;
  /* aligned_alloc wants a multiple of the alignment */
  if (type == PRIOR_DEVICE_CPU) return aligned_alloc(64, (nbytes + 63) & ~(size_t)63);
  const prior_backend_memory *m = prior_backend_memory_of(type);
  return m ? m->alloc(nbytes, index) : NULL;
}

static void system_free(prior_device_type type, void *ptr, int32_t index) {
  if (type == PRIOR_DEVICE_CPU) {
    free(ptr);
    return;
  }
  const prior_backend_memory *m = prior_backend_memory_of(type);
  if (m) m->free(ptr, index);
}

static void flush_locked(device_cache *c, prior_device device) {
  for (int i = 0; i < N_CLASSES; i++) {
    free_block *b = c->lists[i];
    while (b) {
      free_block *next = b->next;
      system_free(device.type, b->ptr, device.index);
      free(b);
      b = next;
    }
    c->lists[i] = NULL;
  }
  c->stats.bytes_cached = 0;
}

void *prior_alloc(prior_device device, size_t nbytes) {
  device_cache *c = cache_of(device);
  if (!c || (device.type != PRIOR_DEVICE_CPU && !prior_backend_memory_of(device.type))) {
    prior_error_set(PRIOR_ERR_DEVICE, "cannot allocate on %s: no such device in this build",
                    prior_device_name(device));
    return NULL;
  }
  if (device.type != PRIOR_DEVICE_CPU) {
    int count = prior_device_count((prior_device_type)device.type);
    if (device.index >= count) {
      prior_error_set(PRIOR_ERR_DEVICE, "cannot allocate on %s: no %s device (this machine has %d)",
                      prior_device_name(device), device.type == PRIOR_DEVICE_CUDA ? "CUDA" : "such", count);
      return NULL;
    }
  }
  size_t rounded;
  int cls = size_class(nbytes, &rounded);
  if (cls >= N_CLASSES) {
    prior_error_set(PRIOR_ERR_MEMORY, "cannot allocate %zu bytes on %s: too large", nbytes,
                    prior_device_name(device));
    return NULL;
  }
  pthread_mutex_lock(&c->lock);
  void *ptr = NULL;
  free_block *b = c->lists[cls];
  if (b) {
    c->lists[cls] = b->next;
    ptr = b->ptr;
    free(b);
    c->stats.bytes_cached -= (int64_t)rounded;
    c->stats.n_cache_hits++;
  } else {
    ptr = system_alloc(device.type, rounded, device.index);
    if (!ptr && c->stats.bytes_cached > 0) { /* out of memory: give the cache back and try once more */
      flush_locked(c, device);
      ptr = system_alloc(device.type, rounded, device.index);
    }
    if (ptr) c->stats.n_system_allocations++;
  }
  if (ptr) {
    c->stats.n_allocations++;
    c->stats.bytes_in_use += (int64_t)rounded;
    if (c->stats.bytes_in_use > c->stats.peak_bytes_in_use) c->stats.peak_bytes_in_use = c->stats.bytes_in_use;
  }
  pthread_mutex_unlock(&c->lock);
  if (!ptr)
    prior_error_set(PRIOR_ERR_MEMORY, "out of memory allocating %zu bytes on %s", nbytes, prior_device_name(device));
  return ptr;
}

void prior_free(prior_device device, void *ptr, size_t nbytes) {
  if (!ptr) return;
  size_t rounded;
  int cls = size_class(nbytes, &rounded);
  device_cache *c = cache_of(device);
  PRIOR_ASSERT(c); /* ptr came from prior_alloc on this device */
  free_block *b = malloc(sizeof *b);
  pthread_mutex_lock(&c->lock);
  c->stats.bytes_in_use -= (int64_t)rounded;
  if (b) {
    b->ptr = ptr;
    b->next = c->lists[cls];
    c->lists[cls] = b;
    c->stats.bytes_cached += (int64_t)rounded;
  } else {
    system_free(device.type, ptr, device.index);
  }
  pthread_mutex_unlock(&c->lock);
}

prior_status prior_memory_stats_get(prior_device device, prior_memory_stats *out) {
  device_cache *c = cache_of(device);
  if (!c || !out) return prior_error_set(PRIOR_ERR_ARGUMENT, "memory stats: bad device or NULL output");
  pthread_mutex_lock(&c->lock);
  *out = c->stats;
  pthread_mutex_unlock(&c->lock);
  return PRIOR_OK;
}

void prior_memory_reset_peak(prior_device device) {
  device_cache *c = cache_of(device);
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  c->stats.peak_bytes_in_use = c->stats.bytes_in_use;
  pthread_mutex_unlock(&c->lock);
}

void prior_empty_cache(prior_device device) {
  device_cache *c = cache_of(device);
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  flush_locked(c, device);
  pthread_mutex_unlock(&c->lock);
}

void prior_alloc_fail_after(int64_t n) { fail_countdown = n; }
