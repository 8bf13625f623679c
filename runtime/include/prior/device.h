/* Devices and the backend dispatch table.
 *
 * Every op looks its kernel up by name ("conv2d_forward") for the device of its inputs, so a new backend
 * plugs in by registering kernels under the same names; callers never change. `prior_backend_supports`
 * answers whether a backend has a kernel for an op. */
#ifndef PRIOR_DEVICE_H
#define PRIOR_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "prior/error.h"

typedef enum prior_device_type { PRIOR_DEVICE_CPU = 0, PRIOR_DEVICE_CUDA = 1, PRIOR_DEVICE_TYPE_COUNT = 2 } prior_device_type;

typedef struct prior_device {
  int32_t type;  /* prior_device_type */
  int32_t index; /* which GPU; 0 on CPU */
} prior_device;

prior_device prior_cpu(void);
int prior_device_equal(prior_device a, prior_device b);
const char *prior_device_name(prior_device d); /* "cpu", "cuda:0" (a static per-thread buffer) */
/* Parses "cpu", "cuda", "cuda:1". */
prior_status prior_device_parse(const char *text, prior_device *out);

/* A backend's memory functions: raw allocation (the caching allocator sits above them) and copies. */
typedef struct prior_backend_memory {
  void *(*alloc)(size_t nbytes, int32_t device_index);
  void (*free)(void *ptr, int32_t device_index);
  /* dst and src may be on this backend's device or on the host, as `kind` says. */
  prior_status (*copy)(void *dst, const void *src, size_t nbytes, int kind, int32_t device_index);
  /* How many devices of this type the machine has (checked before every allocation); NULL means one. */
  int (*device_count)(void);
} prior_backend_memory;

enum { PRIOR_COPY_HOST_TO_DEVICE = 0, PRIOR_COPY_DEVICE_TO_HOST = 1, PRIOR_COPY_DEVICE_TO_DEVICE = 2 };

typedef void (*prior_kernel_fn)(void);

/* Registration, done by each backend when the library loads. */
void prior_backend_register_memory(prior_device_type type, const prior_backend_memory *memory);
void prior_backend_register_kernel(prior_device_type type, const char *op, prior_kernel_fn fn);

const prior_backend_memory *prior_backend_memory_of(prior_device_type type); /* NULL if absent */
prior_kernel_fn prior_backend_kernel(prior_device_type type, const char *op); /* NULL if absent */
int prior_backend_supports(prior_device_type type, const char *op);
/* Number of devices of a type present (CPU: 1; CUDA: 0 without a GPU or without the CUDA build). */
int prior_device_count(prior_device_type type);

#endif
