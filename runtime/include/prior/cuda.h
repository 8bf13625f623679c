/* The CUDA device: availability, synchronisation, events, and pinned host memory for the data loader.
 *
 * Every call exists in every build. Without the CUDA backend compiled in, prior_cuda_available() is 0,
 * prior_cuda_device_count() is 0 and the others return PRIOR_ERR_UNSUPPORTED ("built without CUDA").
 * All device work of libprior runs on one stream per GPU, in order; host code sees results after copying
 * them to the host (which waits) or after prior_cuda_synchronize. */
#ifndef PRIOR_CUDA_H
#define PRIOR_CUDA_H

#include <stddef.h>

#include "prior/error.h"
#include "prior/tensor.h"

int prior_cuda_available(void);    /* 1 when at least one GPU can be used */
int prior_cuda_device_count(void); /* 0 without a GPU, a driver, or the CUDA build */
/* Waits until every operation queued on the device's stream has finished; reports a failed kernel. */
prior_status prior_cuda_synchronize(int device_index);

/* Page-locked host memory: copies from it run asynchronously at full bus speed. NULL with an error on failure. */
void *prior_cuda_host_alloc(size_t nbytes);
void prior_cuda_host_free(void *ptr);
/* Queues a copy of nbytes from pinned (or any) host memory into a contiguous cuda tensor of exactly nbytes,
 * on the device's stream. The host buffer must stay untouched until the copy is done: record an event after
 * the call and wait for it (or synchronize) before refilling the buffer. */
prior_status prior_cuda_memcpy_pinned(prior_tensor *dst, const void *host_src, size_t nbytes);

/* Events mark a point of a device's stream: for timing and for knowing when queued copies are done. */
typedef struct prior_cuda_event prior_cuda_event;
prior_cuda_event *prior_cuda_event_create(int device_index);
prior_status prior_cuda_event_record(prior_cuda_event *e);
prior_status prior_cuda_event_synchronize(prior_cuda_event *e);
int prior_cuda_event_done(prior_cuda_event *e); /* 1 when the work before the event has finished */
/* Milliseconds between two recorded events (after both are done). */
prior_status prior_cuda_event_elapsed_ms(prior_cuda_event *start, prior_cuda_event *end, float *ms);
void prior_cuda_event_free(prior_cuda_event *e);

/* out[n, m] = a[n, k] x b[k, m] for 2-d f32/f64 cuda tensors (any strides; out contiguous), through cuBLAS,
 * honouring autocast (prior/amp.h). The op layer's matmul reaches the same code through the "matmul"
 * kernel; this entry point serves benchmarks and tests. */
prior_status prior_cuda_matmul(prior_tensor *out, const prior_tensor *a, const prior_tensor *b);

#endif
