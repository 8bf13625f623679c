/* The caching allocator, one per device.
 *
 * Freed blocks go to a free list of their size class instead of back to the system, so a training loop that
 * allocates the same shapes every step stops calling malloc/cudaMalloc after the first step. Statistics say
 * how much is in use, how much is cached, and the peak; `prior_empty_cache` returns cached blocks. */
#ifndef PRIOR_ALLOC_H
#define PRIOR_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "prior/device.h"

typedef struct prior_memory_stats {
  int64_t bytes_in_use;      /* handed out to tensors (rounded to the size class) */
  int64_t bytes_cached;      /* held in free lists, ready for reuse */
  int64_t peak_bytes_in_use; /* the largest bytes_in_use since start or the last reset */
  int64_t n_allocations;     /* calls that were served */
  int64_t n_cache_hits;      /* of those, served from a free list */
  int64_t n_system_allocations;
} prior_memory_stats;

/* Returns 64-byte aligned memory of at least nbytes, or NULL with an error naming the size and device. */
void *prior_alloc(prior_device device, size_t nbytes);
void prior_free(prior_device device, void *ptr, size_t nbytes);

prior_status prior_memory_stats_get(prior_device device, prior_memory_stats *out);
void prior_memory_reset_peak(prior_device device);
/* Returns every cached block of the device to the system. */
void prior_empty_cache(prior_device device);

/* Testing hook: the n-th system allocation from now fails (0 = never). Lets tests prove that an allocation
 * failure becomes an error, not a crash. */
void prior_alloc_fail_after(int64_t n);

#endif
