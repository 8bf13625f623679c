/* Tensors: a strided view (shape, strides, offset, dtype, device) over refcounted storage.
 *
 * A prior_tensor is a heap handle with its own reference count; views share the storage. Functions that
 * return a tensor return a new reference (free it with prior_tensor_free) or NULL with an error message
 * (prior/error.h). Functions never take over the caller's references. The struct's fields are public for
 * reading (the Lua binding reads shape and dtype directly); change them only through these functions.
 *
 * Views made here (prior_tensor_as_strided and friends) do not record autograd; the differentiable view ops
 * (reshape, permute, narrow, expand, ...) are in prior/ops_shape.h. */
#ifndef PRIOR_TENSOR_H
#define PRIOR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "prior/device.h"
#include "prior/dtype.h"
#include "prior/error.h"

#define PRIOR_MAX_DIMS 8

typedef struct prior_storage {
  int32_t refcount;
  prior_device device;
  void *data;
  size_t nbytes;
  /* Storage not from the caching allocator (a memory-mapped checkpoint, a caller's buffer): released
   * through `release(release_ctx, data)`; NULL release means the caller keeps ownership. */
  int32_t external;
  void (*release)(void *release_ctx, void *data);
  void *release_ctx;
} prior_storage;

struct prior_node;

typedef struct prior_tensor {
  prior_storage *storage;
  int64_t offset; /* in elements */
  int32_t ndim;
  int32_t dtype;  /* prior_dtype */
  prior_device device;
  int64_t shape[PRIOR_MAX_DIMS];
  int64_t strides[PRIOR_MAX_DIMS]; /* in elements */
  int32_t refcount;
  int32_t requires_grad;
  struct prior_tensor *grad;   /* accumulated gradient of a leaf (or a retained non-leaf) */
  struct prior_node *grad_fn;  /* the node that produced this tensor, NULL for leaves */
  int32_t is_view;
} prior_tensor;

/* ---- creation ---------------------------------------------------------------------------------------- */
prior_tensor *prior_tensor_empty(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device);
prior_tensor *prior_tensor_zeros(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device);
prior_tensor *prior_tensor_ones(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device);
prior_tensor *prior_tensor_full(int ndim, const int64_t *shape, double value, prior_dtype dtype, prior_device device);
/* Copies `data` (host memory of dtype `dtype`, contiguous) into a new tensor. */
prior_tensor *prior_tensor_from_data(const void *data, int ndim, const int64_t *shape, prior_dtype dtype, prior_device device);
/* Wraps host memory without copying; `release` (may be NULL) is called when the last view is freed. */
prior_tensor *prior_tensor_from_external(void *data, int ndim, const int64_t *shape, prior_dtype dtype,
                                         void (*release)(void *ctx, void *data), void *release_ctx);
prior_tensor *prior_tensor_scalar(double value, prior_dtype dtype, prior_device device); /* 0-dim */
prior_tensor *prior_tensor_arange(double start, double end, double step, prior_dtype dtype, prior_device device);
prior_tensor *prior_tensor_linspace(double start, double end, int64_t steps, prior_dtype dtype, prior_device device);
prior_tensor *prior_tensor_eye(int64_t n, int64_t m, prior_dtype dtype, prior_device device);
/* Random tensors from the global Philox stream (prior/rng.h). */
prior_tensor *prior_tensor_rand(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device);  /* U(0,1) */
prior_tensor *prior_tensor_randn(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device); /* N(0,1) */

/* ---- in-place fills (no autograd) ---------------------------------------------------------------------- */
prior_status prior_tensor_fill_(prior_tensor *t, double value);
prior_status prior_tensor_uniform_(prior_tensor *t, double low, double high);
prior_status prior_tensor_normal_(prior_tensor *t, double mean, double std);
prior_status prior_tensor_bernoulli_(prior_tensor *t, double p);   /* 1 with probability p, else 0 */
prior_status prior_tensor_gumbel_(prior_tensor *t);                  /* -log(-log(U)) */
/* Copies src into dst (same shape, or src broadcastable to dst), converting dtype; any strides. */
prior_status prior_tensor_copy_(prior_tensor *dst, const prior_tensor *src);

/* Converts t in place to another dtype (new contiguous storage; every holder of the handle sees the change), as
 * a module's .double() does for its parameters. Not for tensors computed by an autograd graph. */
prior_status prior_tensor_convert_(prior_tensor *t, prior_dtype dtype);
/* Moves t's data to another device in place (a leaf or a tensor without a graph); drops a gradient of the old
 * device. Views of t keep the old storage. */
prior_status prior_tensor_move_(prior_tensor *t, prior_device device);

/* ---- references ---------------------------------------------------------------------------------------- */
prior_tensor *prior_tensor_retain(prior_tensor *t); /* returns t */
void prior_tensor_free(prior_tensor *t);             /* drops one reference; NULL is fine */
/* Frees n tensors (C convenience for temporaries; NULLs are skipped). */
void prior_free_all(int n, ...);

/* ---- queries ------------------------------------------------------------------------------------------- */
int64_t prior_tensor_numel(const prior_tensor *t);
int prior_tensor_is_contiguous(const prior_tensor *t);
size_t prior_tensor_nbytes(const prior_tensor *t); /* numel * element size */
/* Pointer to element 0 of the view (storage data + offset). Host memory only for CPU tensors. */
void *prior_tensor_data(const prior_tensor *t);
/* The value of a one-element tensor, converted to double. */
prior_status prior_tensor_item(const prior_tensor *t, double *out);
/* Element at a multi-index (ndim entries), converted to double; and the setter. */
prior_status prior_tensor_get(const prior_tensor *t, const int64_t *index, double *out);
prior_status prior_tensor_set(prior_tensor *t, const int64_t *index, double value);
/* Copies all elements, converted, into a contiguous host array of doubles / floats of length numel. */
prior_status prior_tensor_to_f64_array(const prior_tensor *t, double *out);
prior_status prior_tensor_to_f32_array(const prior_tensor *t, float *out);
/* "[2, 3]" into buf. */
char *prior_tensor_shape_str(const prior_tensor *t, char *buf, size_t cap);
int prior_tensor_same_shape(const prior_tensor *a, const prior_tensor *b);

/* ---- raw views and copies (no autograd) ---------------------------------------------------------------- */
prior_tensor *prior_tensor_as_strided(const prior_tensor *t, int ndim, const int64_t *shape, const int64_t *strides,
                                      int64_t offset);
/* A copy into fresh contiguous memory (no autograd). */
prior_tensor *prior_tensor_clone_raw(const prior_tensor *t);
/* Returns t itself (a new reference) when contiguous, else a contiguous copy (no autograd). */
prior_tensor *prior_tensor_contiguous_raw(const prior_tensor *t);
/* A copy converted to dtype (no autograd). */
prior_tensor *prior_tensor_to_dtype_raw(const prior_tensor *t, prior_dtype dtype);
/* Copy to another device (no autograd). */
prior_tensor *prior_tensor_to_device(const prior_tensor *t, prior_device device);

/* ---- checks used by ops, with messages naming the op and argument ----------------------------------------- */
prior_status prior_check_tensor(const char *op, const char *arg, const prior_tensor *t);
prior_status prior_check_floating(const char *op, const char *arg, const prior_tensor *t);
prior_status prior_check_same_device(const char *op, const prior_tensor *a, const prior_tensor *b);
prior_status prior_check_same_dtype(const char *op, const prior_tensor *a, const prior_tensor *b);
prior_status prior_check_ndim(const char *op, const char *arg, const prior_tensor *t, int ndim);
/* Broadcast two shapes (NumPy rules) into out; error names both shapes. */
prior_status prior_broadcast_shapes(const char *op, int ndim_a, const int64_t *a, int ndim_b, const int64_t *b,
                                    int *ndim_out, int64_t *out);

#endif
