/* cat and stack (joining), split and chunk (differentiable narrow views). cat copies each input into its
 * slice of a fresh contiguous output; its backward hands each input the matching slice of the gradient. */
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"
#include "prior/ops_index.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

/* The view of t covering [start, start + len) along dim. */
static prior_tensor *slice(const prior_tensor *t, int dim, int64_t start, int64_t len) {
  int64_t shape[PRIOR_MAX_DIMS];
  memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
  shape[dim] = len;
  return prior_tensor_as_strided(t, t->ndim, shape, t->strides, t->offset + (len ? start * t->strides[dim] : 0));
}

/* ctx: the inputs' sizes along dim; ints[0] = dim */
static prior_status cat_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  const int64_t *sizes = node->ctx;
  int dim = (int)node->ints[0];
  int64_t start = 0;
  for (int i = 0; i < node->n_inputs; i++) {
    if (node->needs_grad[i]) {
      prior_tensor *v = slice(g, dim, start, sizes[i]);
      gi[i] = v ? prior_tensor_contiguous_raw(v) : NULL;
      prior_tensor_free(v);
      if (!gi[i]) return prior_error_code();
    }
    start += sizes[i];
  }
  return PRIOR_OK;
}

prior_tensor *prior_cat(int n, prior_tensor *const *xs, int64_t dim) {
  const char *op = "cat";
  if (n < 1 || !xs) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "cat: needs at least one tensor, got %d", n);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (prior_check_tensor(op, "tensors", xs[i])) return NULL;
  const prior_tensor *x0 = xs[0];
  if (x0->ndim == 0) {
    prior_error_set(PRIOR_ERR_SHAPE, "cat: cannot join 0-dimensional tensors");
    return NULL;
  }
  int d;
  if (prior_normalize_dim(op, dim, x0->ndim, &d) != PRIOR_OK) return NULL;
  int64_t shape[PRIOR_MAX_DIMS];
  memcpy(shape, x0->shape, sizeof(int64_t) * (size_t)x0->ndim);
  shape[d] = 0;
  for (int i = 0; i < n; i++) {
    const prior_tensor *x = xs[i];
    if (prior_check_same_dtype(op, x0, x) || prior_check_same_device(op, x0, x)) return NULL;
    int ok = x->ndim == x0->ndim;
    for (int k = 0; ok && k < x->ndim; k++) ok = k == d || x->shape[k] == x0->shape[k];
    if (!ok) {
      char a[128], b[128];
      prior_error_set(PRIOR_ERR_SHAPE, "cat: tensor %d has shape %s, which does not match tensor 0's %s outside dim %d",
                      i, prior_tensor_shape_str(x, a, sizeof a), prior_tensor_shape_str(x0, b, sizeof b), d);
      return NULL;
    }
    shape[d] += x->shape[d];
  }
  prior_tensor *out = prior_tensor_empty(x0->ndim, shape, (prior_dtype)x0->dtype, x0->device);
  if (!out) return NULL;
  int64_t start = 0;
  for (int i = 0; i < n; i++) {
    prior_tensor *region = slice(out, d, start, xs[i]->shape[d]);
    prior_status s = region ? prior_tensor_copy_(region, xs[i]) : prior_error_code();
    prior_tensor_free(region);
    if (s != PRIOR_OK) return prior_tensor_free(out), NULL;
    start += xs[i]->shape[d];
  }
  if (prior_autograd_needed(n, xs) && prior_dtype_is_floating(out->dtype)) {
    prior_node *node = prior_node_new(op, cat_backward, n, xs);
    int64_t *sizes = node ? malloc(sizeof(int64_t) * (size_t)n) : NULL;
    if (!sizes) {
      if (node) prior_error_set(PRIOR_ERR_MEMORY, "cat: out of memory");
      prior_node_release(node);
      prior_tensor_free(out);
      return NULL;
    }
    for (int i = 0; i < n; i++) sizes[i] = xs[i]->shape[d];
    node->ctx = sizes;
    node->release_ctx = free;
    node->ints[0] = d;
    prior_node_attach(node, out);
  }
  return out;
}

prior_tensor *prior_stack(int n, prior_tensor *const *xs, int64_t dim) {
  const char *op = "stack";
  if (n < 1 || !xs) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "stack: needs at least one tensor, got %d", n);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    if (prior_check_tensor(op, "tensors", xs[i])) return NULL;
    if (!prior_tensor_same_shape(xs[i], xs[0])) {
      char a[128], b[128];
      prior_error_set(PRIOR_ERR_SHAPE, "stack: tensor %d has shape %s but tensor 0 has %s", i,
                      prior_tensor_shape_str(xs[i], a, sizeof a), prior_tensor_shape_str(xs[0], b, sizeof b));
      return NULL;
    }
  }
  if (xs[0]->ndim + 1 > PRIOR_MAX_DIMS) {
    prior_error_set(PRIOR_ERR_SHAPE, "stack: result would have more than %d dims", PRIOR_MAX_DIMS);
    return NULL;
  }
  int d;
  if (prior_normalize_dim(op, dim, xs[0]->ndim + 1, &d) != PRIOR_OK) return NULL;
  /* unsqueeze (a differentiable view) each input, then cat along the new dim */
  prior_tensor **views = calloc((size_t)n, sizeof *views);
  if (!views) {
    prior_error_set(PRIOR_ERR_MEMORY, "stack: out of memory");
    return NULL;
  }
  prior_tensor *out = NULL;
  int i = 0;
  for (; i < n; i++)
    if (!(views[i] = prior_unsqueeze(xs[i], d))) break;
  if (i == n) out = prior_cat(n, views, d);
  for (int k = 0; k < n; k++) prior_tensor_free(views[k]);
  free(views);
  return out;
}

/* Narrow views of x along d with the given piece sizes; checks max_out (out NULL: count only). */
static int pieces(const char *op, prior_tensor *x, int d, int count, int64_t size, prior_tensor **out, int max_out) {
  if (!out) return count;
  if (count > max_out) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: makes %d pieces but there is room for %d", op, count, max_out);
    return -1;
  }
  int64_t len = x->shape[d];
  for (int i = 0; i < count; i++) {
    int64_t start = (int64_t)i * size;
    if (start > len) start = len;
    int64_t piece = len - start < size ? len - start : size;
    out[i] = prior_narrow(x, d, start, piece);
    if (!out[i]) {
      for (int k = 0; k < i; k++) prior_tensor_free(out[k]);
      return -1;
    }
  }
  return count;
}

int prior_split(prior_tensor *x, int64_t size, int64_t dim, prior_tensor **out, int max_out) {
  const char *op = "split";
  int d;
  if (prior_check_tensor(op, "input", x)) return -1;
  if (x->ndim == 0) {
    prior_error_set(PRIOR_ERR_SHAPE, "split: input is 0-dimensional");
    return -1;
  }
  if (prior_normalize_dim(op, dim, x->ndim, &d) != PRIOR_OK) return -1;
  int64_t len = x->shape[d];
  if (size <= 0 && !(size == 0 && len == 0)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "split: piece size %lld must be positive", (long long)size);
    return -1;
  }
  int64_t count = len == 0 ? 1 : (len + size - 1) / size;
  if (count > 1 << 30) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "split: %lld pieces is too many", (long long)count);
    return -1;
  }
  return pieces(op, x, d, (int)count, size, out, max_out);
}

/* torch.chunk: pieces of ceil(len / n_chunks) (the last smaller), so fewer than n_chunks pieces can come
 * back (len 5 in 4 chunks gives 2, 2, 1); an empty dim gives n_chunks empty pieces. */
int prior_chunk(prior_tensor *x, int64_t n_chunks, int64_t dim, prior_tensor **out, int max_out) {
  const char *op = "chunk";
  int d;
  if (prior_check_tensor(op, "input", x)) return -1;
  if (x->ndim == 0) {
    prior_error_set(PRIOR_ERR_SHAPE, "chunk: input is 0-dimensional");
    return -1;
  }
  if (prior_normalize_dim(op, dim, x->ndim, &d) != PRIOR_OK) return -1;
  if (n_chunks <= 0 || n_chunks > 1 << 30) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "chunk: number of chunks %lld must be positive", (long long)n_chunks);
    return -1;
  }
  int64_t len = x->shape[d];
  if (len == 0) return pieces(op, x, d, (int)n_chunks, 0, out, max_out);
  int64_t size = (len + n_chunks - 1) / n_chunks;
  return pieces(op, x, d, (int)((len + size - 1) / size), size, out, max_out);
}
