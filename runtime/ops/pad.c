/* Constant padding (F.pad): the output is filled with the value and the overlapping block of the input is
 * copied in; negative pads crop. Backward copies the same block of the gradient back. Works for any dtype
 * and device through prior_tensor_copy_ on strided views. */
#include "ops/op_util.h"
#include "prior/ops_pool.h"

/* The block shared by input and output: its shape, and where it starts in each. */
typedef struct pad_block {
  int64_t shape[PRIOR_MAX_DIMS];
  int64_t in_start[PRIOR_MAX_DIMS], out_start[PRIOR_MAX_DIMS];
  int empty;
} pad_block;

static void block_of(int ndim, const int64_t *in_shape, const int64_t *out_shape, const int64_t *before,
                     pad_block *b) {
  b->empty = 0;
  for (int d = 0; d < ndim; d++) {
    int64_t l = before[d];
    b->in_start[d] = l < 0 ? -l : 0;
    b->out_start[d] = l > 0 ? l : 0;
    int64_t len = in_shape[d] - b->in_start[d];
    if (out_shape[d] - b->out_start[d] < len) len = out_shape[d] - b->out_start[d];
    b->shape[d] = len > 0 ? len : 0;
    if (b->shape[d] == 0) b->empty = 1;
  }
}

static prior_tensor *block_view(const prior_tensor *t, const pad_block *b, const int64_t *start) {
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++) off += start[d] * t->strides[d];
  return prior_tensor_as_strided(t, t->ndim, b->shape, t->strides, off);
}

/* dst[block at dst_start] = src[block at src_start] */
static prior_status copy_block(prior_tensor *dst, const int64_t *dst_start, const prior_tensor *src,
                               const int64_t *src_start, const pad_block *b) {
  if (b->empty) return PRIOR_OK;
  prior_tensor *dv = block_view(dst, b, dst_start), *sv = block_view(src, b, src_start);
  prior_status s = dv && sv ? prior_tensor_copy_(dv, sv) : prior_error_code();
  prior_free_all(2, dv, sv);
  return s;
}

static prior_status pad_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  int nd = g->ndim;
  int64_t in_shape[PRIOR_MAX_DIMS], before[PRIOR_MAX_DIMS];
  for (int d = 0; d < nd; d++) in_shape[d] = node->ints[d], before[d] = node->ints[PRIOR_MAX_DIMS + d];
  pad_block b;
  block_of(nd, in_shape, g->shape, before, &b);
  gi[0] = prior_tensor_zeros(nd, in_shape, (prior_dtype)g->dtype, g->device);
  if (!gi[0]) return prior_error_code();
  return copy_block(gi[0], b.in_start, g, b.out_start, &b);
}

prior_tensor *prior_pad(prior_tensor *x, int n_pads, const int64_t *pads, double value) {
  const char *op = "pad";
  if (prior_check_tensor(op, "input", x) != PRIOR_OK) return NULL;
  if (n_pads < 0 || n_pads % 2 != 0 || n_pads > 2 * x->ndim || (n_pads > 0 && !pads)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "pad: %d pad values for a %d-dim input: need an even count of at most %d", n_pads,
                    x->ndim, 2 * x->ndim);
    return NULL;
  }
  int nd = x->ndim;
  int64_t shape[PRIOR_MAX_DIMS], before[PRIOR_MAX_DIMS] = {0};
  for (int d = 0; d < nd; d++) shape[d] = x->shape[d];
  for (int i = 0; i < n_pads / 2; i++) { /* pads[2i], pads[2i+1] pad dim nd-1-i (the last dim first) */
    int d = nd - 1 - i;
    before[d] = pads[2 * i];
    shape[d] = x->shape[d] + pads[2 * i] + pads[2 * i + 1];
    if (shape[d] < 0) {
      char sx[96];
      prior_error_set(PRIOR_ERR_SHAPE, "pad: pads (%lld, %lld) crop dim %d of input %s below zero size", (long long)pads[2 * i],
                      (long long)pads[2 * i + 1], d, prior_tensor_shape_str(x, sx, sizeof sx));
      return NULL;
    }
  }
  prior_tensor *out = prior_tensor_full(nd, shape, value, (prior_dtype)x->dtype, x->device);
  if (!out) return NULL;
  pad_block b;
  block_of(nd, x->shape, shape, before, &b);
  if (copy_block(out, b.out_start, x, b.in_start, &b) != PRIOR_OK) {
    prior_tensor_free(out);
    return NULL;
  }
  if (prior_autograd_needed(1, &x) && prior_dtype_is_floating((prior_dtype)x->dtype)) {
    prior_node *node = prior_node_new(op, pad_backward, 1, &x);
    if (!node) {
      prior_tensor_free(out);
      return NULL;
    }
    for (int d = 0; d < nd; d++) node->ints[d] = x->shape[d], node->ints[PRIOR_MAX_DIMS + d] = before[d];
    prior_node_attach(node, out);
  }
  return out;
}
