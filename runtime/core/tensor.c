/* Tensor handles, storage, creation and raw views. */
#include "prior/tensor.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/kernels.h"
#include "core/bf16.h"
#include "core/strided.h"
#include "prior/alloc.h"
#include "prior/autograd.h"
#include "prior/rng.h"

/* ---- storage ------------------------------------------------------------------------------------------- */

static prior_storage *storage_new(size_t nbytes, prior_device device) {
  prior_storage *s = calloc(1, sizeof *s);
  if (!s) {
    prior_error_set(PRIOR_ERR_MEMORY, "out of memory allocating a storage header");
    return NULL;
  }
  s->refcount = 1;
  s->device = device;
  s->nbytes = nbytes;
  if (nbytes > 0) {
    s->data = prior_alloc(device, nbytes);
    if (!s->data) {
      free(s);
      return NULL;
    }
  }
  return s;
}

static void storage_release(prior_storage *s) {
  if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
  if (s->external) {
    if (s->release) s->release(s->release_ctx, s->data);
  } else {
    prior_free(s->device, s->data, s->nbytes);
  }
  free(s);
}

/* ---- handles ------------------------------------------------------------------------------------------- */

static prior_status check_shape(const char *what, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > PRIOR_MAX_DIMS)
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: %d dimensions (at most %d)", what, ndim, PRIOR_MAX_DIMS);
  if (ndim > 0 && !shape) return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: shape is NULL", what);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0) {
      char buf[128];
      return prior_error_set(PRIOR_ERR_SHAPE, "%s: negative size in shape %s", what,
                             prior_shape_str(buf, sizeof buf, ndim, (const long long *)shape));
    }
  return PRIOR_OK;
}

static prior_tensor *handle_new(prior_storage *storage, int ndim, const int64_t *shape, const int64_t *strides,
                                int64_t offset, prior_dtype dtype) {
  prior_tensor *t = calloc(1, sizeof *t);
  if (!t) {
    prior_error_set(PRIOR_ERR_MEMORY, "out of memory allocating a tensor header");
    return NULL;
  }
  t->storage = storage;
  t->offset = offset;
  t->ndim = ndim;
  t->dtype = dtype;
  t->device = storage->device;
  t->refcount = 1;
  for (int d = 0; d < ndim; d++) {
    t->shape[d] = shape[d];
    t->strides[d] = strides[d];
  }
  return t;
}

static void contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d] > 0 ? shape[d] : 1;
  }
}

static int64_t shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  return n;
}

prior_tensor *prior_tensor_empty(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device) {
  if (check_shape("empty", ndim, shape) != PRIOR_OK) return NULL;
  if (!prior_dtype_valid(dtype)) {
    prior_error_set(PRIOR_ERR_DTYPE, "empty: invalid dtype %d", (int)dtype);
    return NULL;
  }
  int64_t numel = shape_numel(ndim, shape);
  size_t esize = prior_dtype_size(dtype);
  if (numel > 0 && (uint64_t)numel > (uint64_t)(SIZE_MAX / 2) / esize) {
    prior_error_set(PRIOR_ERR_MEMORY, "empty: %lld elements of %s is too large", (long long)numel,
                    prior_dtype_name(dtype));
    return NULL;
  }
  prior_storage *s = storage_new((size_t)numel * esize, device);
  if (!s) {
    char buf[128];
    prior_error_context("allocating a %s tensor of shape %s", prior_dtype_name(dtype),
                        prior_shape_str(buf, sizeof buf, ndim, (const long long *)shape));
    return NULL;
  }
  int64_t strides[PRIOR_MAX_DIMS];
  contiguous_strides(ndim, shape, strides);
  prior_tensor *t = handle_new(s, ndim, shape, strides, 0, dtype);
  if (!t) storage_release(s);
  return t;
}

prior_tensor *prior_tensor_full(int ndim, const int64_t *shape, double value, prior_dtype dtype, prior_device device) {
  prior_tensor *t = prior_tensor_empty(ndim, shape, dtype, device);
  if (t && prior_tensor_fill_(t, value) != PRIOR_OK) {
    prior_tensor_free(t);
    return NULL;
  }
  return t;
}

prior_tensor *prior_tensor_zeros(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device) {
  return prior_tensor_full(ndim, shape, 0.0, dtype, device);
}

prior_tensor *prior_tensor_ones(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device) {
  return prior_tensor_full(ndim, shape, 1.0, dtype, device);
}

prior_tensor *prior_tensor_scalar(double value, prior_dtype dtype, prior_device device) {
  return prior_tensor_full(0, NULL, value, dtype, device);
}

prior_tensor *prior_tensor_from_data(const void *data, int ndim, const int64_t *shape, prior_dtype dtype,
                                     prior_device device) {
  if (!data && shape_numel(ndim, shape) > 0) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "from_data: data is NULL");
    return NULL;
  }
  prior_tensor *t = prior_tensor_empty(ndim, shape, dtype, device);
  if (!t) return NULL;
  size_t nbytes = prior_tensor_nbytes(t);
  if (nbytes == 0) return t;
  if (device.type == PRIOR_DEVICE_CPU) {
    memcpy(t->storage->data, data, nbytes);
  } else {
    const prior_backend_memory *m = prior_backend_memory_of(device.type);
    if (!m || m->copy(t->storage->data, data, nbytes, PRIOR_COPY_HOST_TO_DEVICE, device.index) != PRIOR_OK) {
      prior_tensor_free(t);
      return NULL;
    }
  }
  return t;
}

prior_tensor *prior_tensor_from_external(void *data, int ndim, const int64_t *shape, prior_dtype dtype,
                                         void (*release)(void *ctx, void *data), void *release_ctx) {
  if (check_shape("from_external", ndim, shape) != PRIOR_OK) return NULL;
  if (!prior_dtype_valid(dtype)) {
    prior_error_set(PRIOR_ERR_DTYPE, "from_external: invalid dtype %d", (int)dtype);
    return NULL;
  }
  prior_storage *s = calloc(1, sizeof *s);
  if (!s) {
    prior_error_set(PRIOR_ERR_MEMORY, "out of memory allocating a storage header");
    return NULL;
  }
  s->refcount = 1;
  s->device = prior_cpu();
  s->data = data;
  s->nbytes = (size_t)shape_numel(ndim, shape) * prior_dtype_size(dtype);
  s->external = 1;
  s->release = release;
  s->release_ctx = release_ctx;
  int64_t strides[PRIOR_MAX_DIMS];
  contiguous_strides(ndim, shape, strides);
  prior_tensor *t = handle_new(s, ndim, shape, strides, 0, dtype);
  if (!t) free(s);
  return t;
}

prior_tensor *prior_tensor_arange(double start, double end, double step, prior_dtype dtype, prior_device device) {
  if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step) || (end - start) / step < 0) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "arange: bad range start=%g end=%g step=%g", start, end, step);
    return NULL;
  }
  int64_t n = (int64_t)ceil((end - start) / step);
  prior_tensor *t = prior_tensor_empty(1, &n, PRIOR_F64, prior_cpu());
  if (!t) return NULL;
  double *p = prior_tensor_data(t);
  for (int64_t i = 0; i < n; i++) p[i] = start + (double)i * step;
  prior_tensor *out = (dtype == PRIOR_F64 && device.type == PRIOR_DEVICE_CPU) ? prior_tensor_retain(t)
                                                                               : prior_tensor_to_dtype_raw(t, dtype);
  prior_tensor_free(t);
  if (out && device.type != PRIOR_DEVICE_CPU) {
    prior_tensor *moved = prior_tensor_to_device(out, device);
    prior_tensor_free(out);
    out = moved;
  }
  return out;
}

prior_tensor *prior_tensor_linspace(double start, double end, int64_t steps, prior_dtype dtype, prior_device device) {
  if (steps < 0) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "linspace: steps=%lld must be >= 0", (long long)steps);
    return NULL;
  }
  prior_tensor *t = prior_tensor_empty(1, &steps, PRIOR_F64, prior_cpu());
  if (!t) return NULL;
  double *p = prior_tensor_data(t);
  for (int64_t i = 0; i < steps; i++) p[i] = steps == 1 ? start : start + (end - start) * (double)i / (double)(steps - 1);
  prior_tensor *out = prior_tensor_to_dtype_raw(t, dtype);
  prior_tensor_free(t);
  if (out && device.type != PRIOR_DEVICE_CPU) {
    prior_tensor *moved = prior_tensor_to_device(out, device);
    prior_tensor_free(out);
    out = moved;
  }
  return out;
}

prior_tensor *prior_tensor_eye(int64_t n, int64_t m, prior_dtype dtype, prior_device device) {
  if (n < 0 || m < 0) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "eye: negative size %lld x %lld", (long long)n, (long long)m);
    return NULL;
  }
  int64_t shape[2] = {n, m};
  prior_tensor *t = prior_tensor_zeros(2, shape, dtype, prior_cpu());
  if (!t) return NULL;
  for (int64_t i = 0; i < n && i < m; i++) {
    int64_t idx[2] = {i, i};
    prior_tensor_set(t, idx, 1.0);
  }
  if (device.type != PRIOR_DEVICE_CPU) {
    prior_tensor *moved = prior_tensor_to_device(t, device);
    prior_tensor_free(t);
    return moved;
  }
  return t;
}

prior_tensor *prior_tensor_rand(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device) {
  prior_tensor *t = prior_tensor_empty(ndim, shape, dtype, device);
  if (t && prior_tensor_uniform_(t, 0.0, 1.0) != PRIOR_OK) {
    prior_tensor_free(t);
    return NULL;
  }
  return t;
}

prior_tensor *prior_tensor_randn(int ndim, const int64_t *shape, prior_dtype dtype, prior_device device) {
  prior_tensor *t = prior_tensor_empty(ndim, shape, dtype, device);
  if (t && prior_tensor_normal_(t, 0.0, 1.0) != PRIOR_OK) {
    prior_tensor_free(t);
    return NULL;
  }
  return t;
}

/* ---- references ---------------------------------------------------------------------------------------- */

prior_tensor *prior_tensor_retain(prior_tensor *t) {
  if (t) __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
  return t;
}

void prior_tensor_free(prior_tensor *t) {
  if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
  prior_tensor_free(t->grad);
  prior_node_release(t->grad_fn);
  storage_release(t->storage);
  free(t);
}

void prior_free_all(int n, ...) {
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) prior_tensor_free(va_arg(ap, prior_tensor *));
  va_end(ap);
}

/* ---- queries ------------------------------------------------------------------------------------------- */

int64_t prior_tensor_numel(const prior_tensor *t) { return shape_numel(t->ndim, t->shape); }

int prior_tensor_is_contiguous(const prior_tensor *t) {
  int64_t expected = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] == 1) continue;
    if (t->strides[d] != expected) return 0;
    expected *= t->shape[d];
  }
  return 1;
}

size_t prior_tensor_nbytes(const prior_tensor *t) {
  return (size_t)prior_tensor_numel(t) * prior_dtype_size(t->dtype);
}

void *prior_tensor_data(const prior_tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)prior_dtype_size(t->dtype);
}

static double load_as_double(const char *p, prior_dtype dtype) {
  switch (dtype) {
    case PRIOR_F32: return *(const float *)p;
    case PRIOR_F64: return *(const double *)p;
    case PRIOR_I32: return *(const int32_t *)p;
    case PRIOR_I64: return (double)*(const int64_t *)p;
    case PRIOR_U8: return *(const uint8_t *)p;
    case PRIOR_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    case PRIOR_BF16: return prior_bf16_to_f32(*(const uint16_t *)p);
    case PRIOR_F16: return prior_f16_to_f32(*(const uint16_t *)p);
    default: return NAN;
  }
}

static void store_double(char *p, prior_dtype dtype, double v) {
  switch (dtype) {
    case PRIOR_F32: *(float *)p = (float)v; break;
    case PRIOR_F64: *(double *)p = v; break;
    case PRIOR_I32: *(int32_t *)p = (int32_t)v; break;
    case PRIOR_I64: *(int64_t *)p = (int64_t)v; break;
    case PRIOR_U8: *(uint8_t *)p = (uint8_t)v; break;
    case PRIOR_BOOL: *(uint8_t *)p = v != 0.0; break;
    case PRIOR_BF16: *(uint16_t *)p = prior_f32_to_bf16((float)v); break;
    case PRIOR_F16: *(uint16_t *)p = prior_f32_to_f16((float)v); break;
    default: break;
  }
}

static prior_status require_cpu(const char *op, const prior_tensor *t) {
  if (t->device.type != PRIOR_DEVICE_CPU)
    return prior_error_set(PRIOR_ERR_DEVICE, "%s: needs a cpu tensor, got one on %s (use :cpu() first)", op,
                           prior_device_name(t->device));
  return PRIOR_OK;
}

prior_status prior_tensor_item(const prior_tensor *t, double *out) {
  PRIOR_TRY(prior_check_tensor("item", "tensor", t));
  if (prior_tensor_numel(t) != 1) {
    char buf[128];
    return prior_error_set(PRIOR_ERR_SHAPE, "item: tensor of shape %s has %lld elements, not 1",
                           prior_tensor_shape_str(t, buf, sizeof buf), (long long)prior_tensor_numel(t));
  }
  if (t->device.type != PRIOR_DEVICE_CPU) {
    prior_tensor *host = prior_tensor_to_device(t, prior_cpu());
    if (!host) return prior_error_code();
    *out = load_as_double(prior_tensor_data(host), host->dtype);
    prior_tensor_free(host);
    return PRIOR_OK;
  }
  *out = load_as_double(prior_tensor_data(t), t->dtype);
  return PRIOR_OK;
}

static prior_status element_pointer(const char *op, const prior_tensor *t, const int64_t *index, char **out) {
  PRIOR_TRY(prior_check_tensor(op, "tensor", t));
  PRIOR_TRY(require_cpu(op, t));
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++) {
    if (index[d] < 0 || index[d] >= t->shape[d]) {
      char buf[128];
      return prior_error_set(PRIOR_ERR_INDEX, "%s: index %lld out of range for dimension %d of shape %s", op,
                             (long long)index[d], d, prior_tensor_shape_str(t, buf, sizeof buf));
    }
    off += index[d] * t->strides[d];
  }
  *out = (char *)t->storage->data + off * (int64_t)prior_dtype_size(t->dtype);
  return PRIOR_OK;
}

prior_status prior_tensor_get(const prior_tensor *t, const int64_t *index, double *out) {
  char *p = NULL;
  PRIOR_TRY(element_pointer("get", t, index, &p));
  *out = load_as_double(p, t->dtype);
  return PRIOR_OK;
}

prior_status prior_tensor_set(prior_tensor *t, const int64_t *index, double value) {
  char *p = NULL;
  PRIOR_TRY(element_pointer("set", t, index, &p));
  store_double(p, t->dtype, value);
  return PRIOR_OK;
}

char *prior_tensor_shape_str(const prior_tensor *t, char *buf, size_t cap) {
  return prior_shape_str(buf, cap, t->ndim, (const long long *)t->shape);
}

int prior_tensor_same_shape(const prior_tensor *a, const prior_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return 0;
  return 1;
}

/* ---- copies -------------------------------------------------------------------------------------------- */

typedef struct convert_ctx {
  prior_dtype dst, src;
} convert_ctx;

static void convert_loop(char **p, const int64_t *s, int64_t n, void *vctx) {
  const convert_ctx *c = vctx;
  char *dst = p[0];
  const char *src = p[1];
  size_t esize = prior_dtype_size(c->dst);
  if (c->dst == c->src && s[0] == (int64_t)esize && s[1] == (int64_t)esize) {
    memcpy(dst, src, (size_t)n * esize);
    return;
  }
  if (c->dst == PRIOR_F32 && c->src == PRIOR_F32) {
    for (int64_t i = 0; i < n; i++) *(float *)(dst + i * s[0]) = *(const float *)(src + i * s[1]);
    return;
  }
  if (c->dst == PRIOR_F64 && c->src == PRIOR_F64) {
    for (int64_t i = 0; i < n; i++) *(double *)(dst + i * s[0]) = *(const double *)(src + i * s[1]);
    return;
  }
  if (c->dst == PRIOR_I64 && c->src == PRIOR_I64) {
    for (int64_t i = 0; i < n; i++) *(int64_t *)(dst + i * s[0]) = *(const int64_t *)(src + i * s[1]);
    return;
  }
  if (c->dst == PRIOR_F32 && c->src == PRIOR_F64) {
    for (int64_t i = 0; i < n; i++) *(float *)(dst + i * s[0]) = (float)*(const double *)(src + i * s[1]);
    return;
  }
  if (c->dst == PRIOR_BF16 && c->src == PRIOR_F32) { /* autocast's operand copies */
    for (int64_t i = 0; i < n; i++) *(uint16_t *)(dst + i * s[0]) = prior_bf16_round(*(const float *)(src + i * s[1]));
    return;
  }
  if (c->dst == PRIOR_F64 && c->src == PRIOR_F32) {
    for (int64_t i = 0; i < n; i++) *(double *)(dst + i * s[0]) = *(const float *)(src + i * s[1]);
    return;
  }
  for (int64_t i = 0; i < n; i++) store_double(dst + i * s[0], c->dst, load_as_double(src + i * s[1], c->src));
}

prior_status prior_tensor_copy_(prior_tensor *dst, const prior_tensor *src) {
  PRIOR_TRY(prior_check_tensor("copy_", "dst", dst));
  PRIOR_TRY(prior_check_tensor("copy_", "src", src));
  int64_t bstrides[PRIOR_MAX_DIMS];
  if (!prior_broadcast_strides(src, dst->ndim, dst->shape, bstrides)) {
    char a[128], b[128];
    return prior_error_set(PRIOR_ERR_SHAPE, "copy_: source of shape %s does not broadcast to destination shape %s",
                           prior_tensor_shape_str(src, a, sizeof a), prior_tensor_shape_str(dst, b, sizeof b));
  }
  if (dst->device.type != PRIOR_DEVICE_CPU || src->device.type != PRIOR_DEVICE_CPU) {
    /* Cross-device or device-side copies go through the device backend's registered copy kernel. */
    typedef prior_status (*copy_kernel)(prior_tensor *, const prior_tensor *);
    prior_device_type type = dst->device.type != PRIOR_DEVICE_CPU ? dst->device.type : src->device.type;
    copy_kernel k = (copy_kernel)prior_backend_kernel(type, "copy");
    if (!k) return prior_error_set(PRIOR_ERR_DEVICE, "copy_: no copy kernel for %s", prior_device_name(dst->device));
    return k(dst, src);
  }
  convert_ctx ctx = {(prior_dtype)dst->dtype, (prior_dtype)src->dtype};
  char *data[2] = {prior_tensor_data(dst), prior_tensor_data(src)};
  const int64_t *strides[2] = {dst->strides, bstrides};
  size_t sizes[2] = {prior_dtype_size(dst->dtype), prior_dtype_size(src->dtype)};
  prior_strided it;
  prior_strided_init_raw(&it, dst->ndim, dst->shape, 2, data, strides, sizes);
  prior_strided_run(&it, convert_loop, &ctx, 1);
  return PRIOR_OK;
}

prior_status prior_tensor_to_f64_array(const prior_tensor *t, double *out) {
  PRIOR_TRY(prior_check_tensor("to_f64_array", "tensor", t));
  prior_tensor *view = prior_tensor_from_external(out, t->ndim, t->shape, PRIOR_F64, NULL, NULL);
  if (!view) return prior_error_code();
  prior_status s = prior_tensor_copy_(view, t);
  prior_tensor_free(view);
  return s;
}

prior_status prior_tensor_to_f32_array(const prior_tensor *t, float *out) {
  PRIOR_TRY(prior_check_tensor("to_f32_array", "tensor", t));
  prior_tensor *view = prior_tensor_from_external(out, t->ndim, t->shape, PRIOR_F32, NULL, NULL);
  if (!view) return prior_error_code();
  prior_status s = prior_tensor_copy_(view, t);
  prior_tensor_free(view);
  return s;
}

/* ---- fills --------------------------------------------------------------------------------------------- */

typedef struct fill_ctx {
  prior_dtype dtype;
  double value;
} fill_ctx;

static void fill_loop(char **p, const int64_t *s, int64_t n, void *vctx) {
  const fill_ctx *c = vctx;
  if (c->dtype == PRIOR_F32) {
    float v = (float)c->value;
    if (s[0] == (int64_t)sizeof(float)) { /* contiguous (zeroing a gradient buffer): a vectorised loop */
      float *q = (float *)p[0];
      for (int64_t i = 0; i < n; i++) q[i] = v;
      return;
    }
    for (int64_t i = 0; i < n; i++) *(float *)(p[0] + i * s[0]) = v;
  } else {
    for (int64_t i = 0; i < n; i++) store_double(p[0] + i * s[0], c->dtype, c->value);
  }
}

prior_status prior_tensor_fill_(prior_tensor *t, double value) {
  PRIOR_TRY(prior_check_tensor("fill_", "tensor", t));
  if (t->device.type != PRIOR_DEVICE_CPU) {
    typedef prior_status (*fill_kernel)(prior_tensor *, double);
    fill_kernel k = (fill_kernel)prior_backend_kernel(t->device.type, "fill");
    if (!k) return prior_error_set(PRIOR_ERR_DEVICE, "fill_: no fill kernel for %s", prior_device_name(t->device));
    return k(t, value);
  }
  fill_ctx ctx = {(prior_dtype)t->dtype, value};
  prior_tensor *ops[1] = {t};
  prior_strided it;
  prior_strided_init(&it, t->ndim, t->shape, 1, ops);
  prior_strided_run(&it, fill_loop, &ctx, 1);
  return PRIOR_OK;
}

/* Random fills draw f64 numbers on the host from the global Philox stream (element i of the tensor in
 * row-major order is number i of the draw), transform them, and copy them in. */
typedef enum { DRAW_UNIFORM, DRAW_NORMAL, DRAW_BERNOULLI, DRAW_GUMBEL } draw_kind;
_Static_assert((int)DRAW_UNIFORM == (int)PRIOR_RANDOM_UNIFORM && (int)DRAW_NORMAL == (int)PRIOR_RANDOM_NORMAL &&
                   (int)DRAW_BERNOULLI == (int)PRIOR_RANDOM_BERNOULLI && (int)DRAW_GUMBEL == (int)PRIOR_RANDOM_GUMBEL,
               "the random_fill kernel's kinds follow draw_kind");

#define RANDOM_CHUNK (1 << 18) /* a multiple of 4: whole Philox blocks */

static prior_status random_fill(prior_tensor *t, draw_kind kind, double a, double b, const char *op) {
  PRIOR_TRY(prior_check_tensor(op, "tensor", t));
  int64_t n = prior_tensor_numel(t);
  if (n == 0) return PRIOR_OK;
  if (t->device.type != PRIOR_DEVICE_CPU) {
    /* A device backend draws the same numbers in place: element i of the draw from block offset + i/4
     * (prior/rng.h); without such a kernel the host draws them and copies them over. */
    prior_random_fill_kernel k = (prior_random_fill_kernel)prior_backend_kernel(t->device.type, "random_fill");
    if (k) {
      prior_rng_state st = prior_rng_get_state();
      uint64_t offset = prior_rng_reserve((uint64_t)(n + 3) / 4);
      return k(t, (int)kind, a, b, st.seed, offset);
    }
  }
  /* The draw goes through a buffer of doubles from the caching allocator (a fresh malloc of a large buffer
   * is a new mapping whose page faults cost more than the draw), a chunk at a time when t is contiguous f32 or
   * f64: element i is always drawn from block offset + i / 4, so chunks of whole blocks give the same numbers. */
  int direct = prior_tensor_is_contiguous(t) && (t->dtype == PRIOR_F32 || t->dtype == PRIOR_F64);
  int64_t chunk = direct ? (n < RANDOM_CHUNK ? n : RANDOM_CHUNK) : n;
  size_t nbytes = (size_t)chunk * sizeof(double);
  double *buf = prior_alloc(prior_cpu(), nbytes);
  if (!buf) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory for %lld random numbers", op, (long long)n);
  prior_rng_state st = prior_rng_get_state();
  uint64_t offset = prior_rng_reserve((uint64_t)(n + 3) / 4);
  prior_status s = PRIOR_OK;
  for (int64_t start = 0; start < n && s == PRIOR_OK; start += chunk) {
    int64_t len = n - start < chunk ? n - start : chunk;
    if (kind == DRAW_NORMAL)
      prior_philox_normal_f64(st.seed, offset + (uint64_t)start / 4, buf, len);
    else
      prior_philox_uniform_f64(st.seed, offset + (uint64_t)start / 4, buf, len);
#pragma omp parallel for if (len > 65536)
    for (int64_t i = 0; i < len; i++) {
      double v = buf[i];
      switch (kind) {
        case DRAW_UNIFORM: v = a + (b - a) * v; break;
        case DRAW_NORMAL: v = a + b * v; break;
        case DRAW_BERNOULLI: v = v < a ? 1.0 : 0.0; break;
        case DRAW_GUMBEL: v = -log(-log(v)); break;
      }
      if (!direct) buf[i] = v;
      else if (t->dtype == PRIOR_F32) ((float *)prior_tensor_data(t))[start + i] = (float)v;
      else ((double *)prior_tensor_data(t))[start + i] = v;
    }
    if (!direct) {
      prior_tensor *src = prior_tensor_from_external(buf, t->ndim, t->shape, PRIOR_F64, NULL, NULL);
      s = src ? prior_tensor_copy_(t, src) : prior_error_code();
      prior_tensor_free(src);
    }
  }
  prior_free(prior_cpu(), buf, nbytes);
  return s;
}

prior_status prior_tensor_uniform_(prior_tensor *t, double low, double high) {
  if (!(low <= high)) return prior_error_set(PRIOR_ERR_ARGUMENT, "uniform_: low=%g > high=%g", low, high);
  return random_fill(t, DRAW_UNIFORM, low, high, "uniform_");
}

prior_status prior_tensor_normal_(prior_tensor *t, double mean, double std) {
  if (!(std >= 0)) return prior_error_set(PRIOR_ERR_ARGUMENT, "normal_: std=%g must be >= 0", std);
  return random_fill(t, DRAW_NORMAL, mean, std, "normal_");
}

prior_status prior_tensor_bernoulli_(prior_tensor *t, double p) {
  if (!(p >= 0 && p <= 1)) return prior_error_set(PRIOR_ERR_ARGUMENT, "bernoulli_: p=%g must be in [0, 1]", p);
  return random_fill(t, DRAW_BERNOULLI, p, 0, "bernoulli_");
}

prior_status prior_tensor_gumbel_(prior_tensor *t) { return random_fill(t, DRAW_GUMBEL, 0, 0, "gumbel_"); }

prior_status prior_tensor_convert_(prior_tensor *t, prior_dtype dtype) {
  PRIOR_TRY(prior_check_tensor("convert_", "tensor", t));
  if (t->grad_fn) return prior_error_set(PRIOR_ERR_AUTOGRAD, "convert_: the tensor was computed by '%s'", "a graph");
  if (t->dtype == dtype) return PRIOR_OK;
  prior_tensor *c = prior_tensor_to_dtype_raw(t, dtype);
  if (!c) return prior_error_code();
  /* take over c's storage and layout */
  prior_storage *old = t->storage;
  t->storage = c->storage;
  c->storage = old;
  t->dtype = dtype;
  t->offset = 0;
  for (int d = 0; d < t->ndim; d++) t->strides[d] = c->strides[d];
  prior_tensor_free(c);
  if (t->grad) { /* a gradient of the old dtype no longer fits */
    prior_tensor_free(t->grad);
    t->grad = NULL;
  }
  return PRIOR_OK;
}

prior_status prior_tensor_move_(prior_tensor *t, prior_device device) {
  PRIOR_TRY(prior_check_tensor("move_", "tensor", t));
  if (t->grad_fn) return prior_error_set(PRIOR_ERR_AUTOGRAD, "move_: the tensor was computed by a graph");
  if (prior_device_equal(t->device, device)) return PRIOR_OK;
  prior_tensor *c = prior_tensor_to_device(t, device);
  if (!c) return prior_error_code();
  prior_storage *old = t->storage; /* take over c's storage and layout */
  t->storage = c->storage;
  c->storage = old;
  t->device = device;
  t->offset = 0;
  for (int d = 0; d < t->ndim; d++) t->strides[d] = c->strides[d];
  prior_tensor_free(c);
  if (t->grad) {
    prior_tensor_free(t->grad);
    t->grad = NULL;
  }
  return PRIOR_OK;
}

/* ---- raw views ----------------------------------------------------------------------------------------- */

prior_tensor *prior_tensor_as_strided(const prior_tensor *t, int ndim, const int64_t *shape, const int64_t *strides,
                                      int64_t offset) {
  if (prior_check_tensor("as_strided", "tensor", t) != PRIOR_OK) return NULL;
  if (check_shape("as_strided", ndim, shape) != PRIOR_OK) return NULL;
  /* Bounds: the lowest and highest element the view can reach must lie inside the storage. */
  int64_t lo = offset, hi = offset;
  int64_t numel = shape_numel(ndim, shape);
  if (numel > 0) {
    for (int d = 0; d < ndim; d++) {
      int64_t span = (shape[d] - 1) * strides[d];
      if (span < 0) lo += span; else hi += span;
    }
    int64_t capacity = (int64_t)(t->storage->nbytes / prior_dtype_size(t->dtype));
    if (lo < 0 || hi >= capacity) {
      char buf[128];
      prior_error_set(PRIOR_ERR_INDEX, "as_strided: view of shape %s at offset %lld reaches outside a storage of %lld elements",
                      prior_shape_str(buf, sizeof buf, ndim, (const long long *)shape), (long long)offset,
                      (long long)capacity);
      return NULL;
    }
  }
  __atomic_add_fetch(&t->storage->refcount, 1, __ATOMIC_RELAXED);
  prior_tensor *v = handle_new(t->storage, ndim, shape, strides, offset, (prior_dtype)t->dtype);
  if (!v) {
    storage_release(t->storage);
    return NULL;
  }
  v->is_view = 1;
  return v;
}

prior_tensor *prior_tensor_clone_raw(const prior_tensor *t) {
  if (prior_check_tensor("clone", "tensor", t) != PRIOR_OK) return NULL;
  prior_tensor *out = prior_tensor_empty(t->ndim, t->shape, (prior_dtype)t->dtype, t->device);
  if (out && prior_tensor_copy_(out, t) != PRIOR_OK) {
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

prior_tensor *prior_tensor_contiguous_raw(const prior_tensor *t) {
  if (prior_check_tensor("contiguous", "tensor", t) != PRIOR_OK) return NULL;
  if (prior_tensor_is_contiguous(t)) return prior_tensor_retain((prior_tensor *)t);
  return prior_tensor_clone_raw(t);
}

prior_tensor *prior_tensor_to_dtype_raw(const prior_tensor *t, prior_dtype dtype) {
  if (prior_check_tensor("to_dtype", "tensor", t) != PRIOR_OK) return NULL;
  prior_tensor *out = prior_tensor_empty(t->ndim, t->shape, dtype, t->device);
  if (out && prior_tensor_copy_(out, t) != PRIOR_OK) {
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

prior_tensor *prior_tensor_to_device(const prior_tensor *t, prior_device device) {
  if (prior_check_tensor("to_device", "tensor", t) != PRIOR_OK) return NULL;
  if (prior_device_equal(t->device, device)) return prior_tensor_clone_raw(t);
  prior_tensor *out = prior_tensor_empty(t->ndim, t->shape, (prior_dtype)t->dtype, device);
  if (out && prior_tensor_copy_(out, t) != PRIOR_OK) {
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

/* ---- checks -------------------------------------------------------------------------------------------- */

prior_status prior_check_tensor(const char *op, const char *arg, const prior_tensor *t) {
  if (!t) return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: argument '%s' is NULL (a previous operation failed?)", op, arg);
  return PRIOR_OK;
}

prior_status prior_check_floating(const char *op, const char *arg, const prior_tensor *t) {
  PRIOR_TRY(prior_check_tensor(op, arg, t));
  if (t->dtype != PRIOR_F32 && t->dtype != PRIOR_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "%s: argument '%s' has dtype %s; expected f32 or f64", op, arg,
                           prior_dtype_name(t->dtype));
  return PRIOR_OK;
}

prior_status prior_check_same_device(const char *op, const prior_tensor *a, const prior_tensor *b) {
  if (!prior_device_equal(a->device, b->device)) {
    char da[32];
    snprintf(da, sizeof da, "%s", prior_device_name(a->device));
    return prior_error_set(PRIOR_ERR_DEVICE, "%s: tensors on different devices (%s and %s)", op, da,
                           prior_device_name(b->device));
  }
  return PRIOR_OK;
}

prior_status prior_check_same_dtype(const char *op, const prior_tensor *a, const prior_tensor *b) {
  if (a->dtype != b->dtype)
    return prior_error_set(PRIOR_ERR_DTYPE, "%s: dtypes differ (%s and %s)", op, prior_dtype_name(a->dtype),
                           prior_dtype_name(b->dtype));
  return PRIOR_OK;
}

prior_status prior_check_ndim(const char *op, const char *arg, const prior_tensor *t, int ndim) {
  PRIOR_TRY(prior_check_tensor(op, arg, t));
  if (t->ndim != ndim) {
    char buf[128];
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: argument '%s' must have %d dimensions, got shape %s", op, arg, ndim,
                           prior_tensor_shape_str(t, buf, sizeof buf));
  }
  return PRIOR_OK;
}

prior_status prior_broadcast_shapes(const char *op, int ndim_a, const int64_t *a, int ndim_b, const int64_t *b,
                                    int *ndim_out, int64_t *out) {
  int nd = ndim_a > ndim_b ? ndim_a : ndim_b;
  for (int d = 0; d < nd; d++) {
    int da = d - (nd - ndim_a), db = d - (nd - ndim_b);
    int64_t sa = da >= 0 ? a[da] : 1, sb = db >= 0 ? b[db] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char bufa[128], bufb[128];
      return prior_error_set(PRIOR_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)", op,
                             prior_shape_str(bufa, sizeof bufa, ndim_a, (const long long *)a),
                             prior_shape_str(bufb, sizeof bufb, ndim_b, (const long long *)b), d, (long long)sa,
                             (long long)sb);
    }
    out[d] = sa == 1 ? sb : sa;
  }
  *ndim_out = nd;
  return PRIOR_OK;
}
