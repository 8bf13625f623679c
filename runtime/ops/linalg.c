/* Matrix products. Everything reduces to one differentiable core, [..., n, k] x [..., k, m] with equal batch
 * dims: matmul broadcasts its operands to that form with expand (whose backward sums the gradient back),
 * linear flattens the leading dims into one matrix (a single large GEMM instead of many small ones). */
#include "backend/kernels_dense.h"
#include "ops/op_util.h"
#include "prior/amp.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_linalg.h"
#include "prior/ops_shape.h"

/* a x b through the backend kernel, no autograd; a and b may be any strided views, and either may be a bf16
 * copy made under autocast (the product is then f32). */
static prior_tensor *matmul_raw(const char *op, prior_tensor *a, prior_tensor *b) {
  prior_matmul_kernel k = (prior_matmul_kernel)prior_op_kernel(op, "matmul", a);
  if (!k) return NULL;
  int64_t shape[PRIOR_MAX_DIMS];
  int nd = a->ndim;
  for (int d = 0; d < nd - 1; d++) shape[d] = a->shape[d];
  shape[nd - 1] = b->shape[nd - 1];
  prior_dtype dt = a->dtype != PRIOR_BF16   ? (prior_dtype)a->dtype
                   : b->dtype != PRIOR_BF16 ? (prior_dtype)b->dtype
                                            : PRIOR_F32;
  prior_tensor *out = prior_tensor_empty(nd, shape, dt, a->device);
  if (!out) return NULL;
  if (k(out, a, b) != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

/* a x b + bias in one kernel (autocast's bf16 copies a and b, 2-D; see linear). */
static prior_tensor *matmul_bias_raw(const char *op, prior_tensor *a, prior_tensor *b, prior_tensor *bias) {
  prior_matmul_bias_kernel k = (prior_matmul_bias_kernel)prior_op_kernel(op, "matmul_bias", a);
  if (!k) return NULL;
  int64_t shape[2] = {a->shape[0], b->shape[1]};
  prior_tensor *out = prior_tensor_empty(2, shape, PRIOR_F32, a->device);
  if (out && k(out, a, b, bias) != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

/* The transpose of the last two dims as a raw view. */
static prior_tensor *mT(const prior_tensor *t) {
  int64_t shape[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS];
  int nd = t->ndim;
  for (int d = 0; d < nd; d++) shape[d] = t->shape[d], strides[d] = t->strides[d];
  shape[nd - 2] = t->shape[nd - 1], shape[nd - 1] = t->shape[nd - 2];
  strides[nd - 2] = t->strides[nd - 1], strides[nd - 1] = t->strides[nd - 2];
  return prior_tensor_as_strided(t, nd, shape, strides, t->offset);
}

/* ---- CPU autocast: bf16 operand copies, made once ------------------------------------------------------------ */

/* Under autocast on a CPU with native bf16 (prior_op_lowers_to_bf16) each f32 operand is converted once here
 * (prior_op_bf16_copy) and the bf16 copy kept for backward instead of the f32 tensor: three conversions per
 * linear layer become one, and the node holds half the bytes. */

/* Whether t's matrices are stored column by column (a transposed view, e.g. linear's W^T). */
static int column_major(const prior_tensor *t) {
  int nd = t->ndim;
  return t->strides[nd - 2] == 1 && t->strides[nd - 1] != 1 && t->shape[nd - 2] > 1;
}

/* x * y, or (y^T x^T)^T when `transposed`: the same values, laid out column by column. */
static prior_tensor *product(prior_tensor *x, prior_tensor *y, int transposed) {
  if (!transposed) return matmul_raw("matmul backward", x, y);
  prior_tensor *xt = mT(x), *yt = mT(y);
  prior_tensor *p = xt && yt ? matmul_raw("matmul backward", yt, xt) : NULL;
  prior_tensor *out = p ? mT(p) : NULL;
  prior_free_all(3, xt, yt, p);
  return out;
}

/* g's bf16 copy and, in the same pass, its column sums (a fused bias's gradient, *sums). */
static prior_tensor *bias_grad_and_bf16_copy(prior_tensor *g, prior_tensor **sums) {
  prior_bf16_copy_column_sums_kernel k =
      (prior_bf16_copy_column_sums_kernel)prior_op_kernel("linear backward", "bf16_copy_column_sums", g);
  prior_tensor *copy = k ? prior_tensor_empty(2, g->shape, PRIOR_BF16, g->device) : NULL;
  *sums = copy ? prior_tensor_empty(1, &g->shape[1], PRIOR_F32, g->device) : NULL;
  if (*sums && k(copy, *sums, g) == PRIOR_OK) return copy;
  prior_free_all(2, copy, *sums);
  *sums = NULL;
  return NULL;
}

/* Each operand's gradient is laid out like the operand (ints[0], ints[1]): a weight used transposed (linear's
 * W^T) gets a gradient whose transpose is contiguous, so it reaches the parameter's .grad without a copy. */
static prior_status matmul_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *a = node->saved[0], *b = node->saved[1];
  int bias = node->n_inputs == 3 && node->needs_grad[2];
  prior_tensor *gl = NULL; /* under autocast, the bf16 copy of g that both products read */
  if (node->needs_grad[0] && node->needs_grad[1] && (a->dtype == PRIOR_BF16 || b->dtype == PRIOR_BF16) &&
      prior_autocast_native(g->device) && g->dtype == PRIOR_F32 && g->device.type == PRIOR_DEVICE_CPU) {
    if (bias && g->ndim == 2 && prior_tensor_is_contiguous(g)) { /* the copy and the bias gradient in one pass */
      if (!(gl = bias_grad_and_bf16_copy(g, &gi[2]))) return prior_error_code();
      bias = 0;
    } else if (!(gl = prior_op_bf16_copy(g))) {
      return prior_error_code();
    }
  }
  if (bias) { /* a fused bias: the column sums of the f32 gradient */
    if (!(gi[2] = prior_sum_to_shape(g, 1, &node->out_shape[1]))) return prior_free_all(1, gl), prior_error_code();
  }
  if (gl) g = gl;
  prior_status s = PRIOR_OK;
  if (node->needs_grad[0]) { /* g x b^T */
    prior_tensor *bt = mT(b);
    gi[0] = bt ? product(g, bt, (int)node->ints[0]) : NULL;
    prior_tensor_free(bt);
    if (!gi[0]) s = prior_error_code();
  }
  if (s == PRIOR_OK && node->needs_grad[1]) { /* a^T x g */
    prior_tensor *at = mT(a);
    gi[1] = at ? product(at, g, (int)node->ints[1]) : NULL;
    prior_tensor_free(at);
    if (!gi[1]) s = prior_error_code();
  }
  prior_tensor_free(gl);
  return s;
}

/* A product of two f32 operands that prior_matmul_stays_f32 keeps in f32 under autocast: no bf16 copies. */
static int small_product(const prior_tensor *a, const prior_tensor *b) {
  int nd = a->ndim;
  return a->dtype == PRIOR_F32 && b->dtype == PRIOR_F32 &&
         prior_matmul_stays_f32(a->shape[nd - 2], a->shape[nd - 1], b->shape[nd - 1]);
}

/* [..., n, k] x [..., k, m] with identical batch dims, recording autograd. With a bias (2-D products under CPU
 * autocast only, see fused_bias_ok) the bias is added to each row by the product's kernel and is the node's
 * third input. */
static prior_tensor *matmul_core(const char *op, prior_tensor *a, prior_tensor *b, prior_tensor *bias) {
  int keep_f32 = small_product(a, b);
  prior_tensor *al = !keep_f32 && prior_op_lowers_to_bf16(a) ? prior_op_bf16_copy(a) : prior_tensor_retain(a);
  prior_tensor *bl = !al ? NULL : !keep_f32 && prior_op_lowers_to_bf16(b) ? prior_op_bf16_copy(b) : prior_tensor_retain(b);
  prior_tensor *out = !bl ? NULL : bias ? matmul_bias_raw(op, al, bl, bias) : matmul_raw(op, al, bl);
  prior_tensor *inputs[3] = {a, b, bias};
  int n_inputs = bias ? 3 : 2;
  if (out && prior_autograd_needed(n_inputs, inputs)) {
    prior_node *node = prior_node_new(op, matmul_backward, n_inputs, inputs);
    /* each operand is needed only for the other's gradient */
    int ok = node != NULL;
    if (ok) ok = node->needs_grad[1] ? prior_node_save(node, al) == 0 : (node->n_saved = 1, 1);
    if (ok) ok = node->needs_grad[0] ? prior_node_save(node, bl) == 1 : (node->n_saved = 2, 1);
    if (!ok) {
      prior_node_release(node);
      prior_free_all(3, al, bl, out);
      return NULL;
    }
    node->ints[0] = column_major(a), node->ints[1] = column_major(b); /* the gradients' layouts */
    prior_node_attach(node, out);
  }
  prior_free_all(2, al, bl);
  return out;
}

/* Under CPU autocast an operand may already be bf16 (prior_autocast_operand, prior_gelu_for_product, ...) while
 * the other is f32 and about to be converted: the product is the same as with two f32 operands. */
static int autocast_pair(const prior_tensor *a, const prior_tensor *b) {
  return (a->dtype == PRIOR_BF16 && prior_op_lowers_to_bf16(b)) || (b->dtype == PRIOR_BF16 && prior_op_lowers_to_bf16(a));
}

static prior_status check_pair(const char *op, prior_tensor *a, prior_tensor *b) {
  PRIOR_TRY(prior_check_tensor(op, "a", a));
  PRIOR_TRY(prior_check_tensor(op, "b", b));
  PRIOR_TRY(prior_check_same_device(op, a, b));
  if (autocast_pair(a, b)) return PRIOR_OK;
  PRIOR_TRY(prior_check_floating(op, "a", a));
  return prior_check_same_dtype(op, a, b);
}

static prior_status shape_mismatch(const char *op, const prior_tensor *a, const prior_tensor *b) {
  char sa[96], sb[96];
  return prior_error_set(PRIOR_ERR_SHAPE, "%s: shapes %s and %s cannot be multiplied", op,
                         prior_tensor_shape_str(a, sa, sizeof sa), prior_tensor_shape_str(b, sb, sizeof sb));
}

prior_tensor *prior_matmul(prior_tensor *a, prior_tensor *b) {
  const char *op = "matmul";
  if (check_pair(op, a, b) != PRIOR_OK) return NULL;
  if (a->ndim < 1 || b->ndim < 1) {
    prior_error_set(PRIOR_ERR_SHAPE, "matmul: operands need at least 1 dim, got %d and %d", a->ndim, b->ndim);
    return NULL;
  }
  if (a->shape[a->ndim - 1] != b->shape[b->ndim >= 2 ? b->ndim - 2 : 0]) {
    shape_mismatch(op, a, b);
    return NULL;
  }
  /* 1-D operands become a row (left) or a column (right); the added dim is removed at the end. */
  prior_tensor *a2 = a->ndim == 1 ? prior_unsqueeze(a, 0) : prior_tensor_retain(a);
  prior_tensor *b2 = b->ndim == 1 ? prior_unsqueeze(b, 1) : prior_tensor_retain(b);
  prior_tensor *ae = NULL, *be = NULL, *out = NULL, *t = NULL;
  if (!a2 || !b2) goto done;
  int nb;
  int64_t batch[PRIOR_MAX_DIMS], shape[PRIOR_MAX_DIMS];
  if (prior_broadcast_shapes(op, a2->ndim - 2, a2->shape, b2->ndim - 2, b2->shape, &nb, batch) != PRIOR_OK) goto done;
  if (nb + 2 > PRIOR_MAX_DIMS) {
    prior_error_set(PRIOR_ERR_SHAPE, "matmul: result would have more than %d dims", PRIOR_MAX_DIMS);
    goto done;
  }
  for (int d = 0; d < nb; d++) shape[d] = batch[d];
  shape[nb] = a2->shape[a2->ndim - 2], shape[nb + 1] = a2->shape[a2->ndim - 1];
  ae = prior_expand(a2, nb + 2, shape);
  shape[nb] = b2->shape[b2->ndim - 2], shape[nb + 1] = b2->shape[b2->ndim - 1];
  be = prior_expand(b2, nb + 2, shape);
  if (!ae || !be) goto done;
  out = matmul_core(op, ae, be, NULL);
  if (out && b->ndim == 1) {
    t = prior_squeeze(out, -1);
    prior_tensor_free(out);
    out = t;
  }
  if (out && a->ndim == 1) {
    t = prior_squeeze(out, -2 + (b->ndim == 1));
    prior_tensor_free(out);
    out = t;
  }
done:
  prior_free_all(4, a2, b2, ae, be);
  return out;
}

prior_tensor *prior_bmm(prior_tensor *a, prior_tensor *b) {
  const char *op = "bmm";
  if (check_pair(op, a, b) != PRIOR_OK) return NULL;
  if (prior_check_ndim(op, "a", a, 3) != PRIOR_OK || prior_check_ndim(op, "b", b, 3) != PRIOR_OK) return NULL;
  if (a->shape[0] != b->shape[0] || a->shape[2] != b->shape[1]) {
    shape_mismatch(op, a, b);
    return NULL;
  }
  return matmul_core(op, a, b, NULL);
}

/* Whether linear's bias can ride in the product's kernel: both operands become bf16 copies (CPU autocast), the
 * backend has the kernel, and there is a sum to add it to (k > 0). The values are those of the separate add. */
static int fused_bias_ok(const prior_tensor *x2, const prior_tensor *wt, const prior_tensor *bias) {
  return (x2->dtype == PRIOR_BF16 || prior_op_lowers_to_bf16(x2)) && prior_op_lowers_to_bf16(wt) &&
         !small_product(x2, wt) && x2->shape[1] > 0 && bias->ndim == 1 &&
         prior_tensor_is_contiguous(bias) && prior_backend_supports((prior_device_type)x2->device.type, "matmul_bias");
}

prior_tensor *prior_linear(prior_tensor *x, prior_tensor *weight, prior_tensor *bias) {
  const char *op = "linear";
  if (check_pair(op, x, weight) != PRIOR_OK || prior_check_ndim(op, "weight", weight, 2) != PRIOR_OK) return NULL;
  if (bias && (prior_check_tensor(op, "bias", bias) != PRIOR_OK || prior_check_same_dtype(op, weight, bias) != PRIOR_OK ||
               prior_check_same_device(op, x, bias) != PRIOR_OK))
    return NULL;
  char sx[96], sw[96], sb[96];
  if (x->ndim < 1 || x->shape[x->ndim - 1] != weight->shape[1]) {
    prior_error_set(PRIOR_ERR_SHAPE, "linear: input %s does not end in weight %s's in_features",
                    prior_tensor_shape_str(x, sx, sizeof sx), prior_tensor_shape_str(weight, sw, sizeof sw));
    return NULL;
  }
  if (bias && (bias->ndim != 1 || bias->shape[0] != weight->shape[0])) {
    prior_error_set(PRIOR_ERR_SHAPE, "linear: bias %s does not match weight %s's out_features",
                    prior_tensor_shape_str(bias, sb, sizeof sb), prior_tensor_shape_str(weight, sw, sizeof sw));
    return NULL;
  }
  prior_tensor *wt = prior_transpose(weight, 0, 1);
  if (!wt) return NULL;
  prior_tensor *x2 = NULL, *y2 = NULL, *y3 = NULL, *out = NULL;
  if (x->ndim == 1) {
    y2 = prior_matmul(x, wt);
  } else {
    int64_t flat[2] = {-1, x->shape[x->ndim - 1]};
    if (flat[1] == 0) { /* -1 cannot be inferred from 0 elements: the rows are the leading dims' product */
      flat[0] = 1;
      for (int d = 0; d < x->ndim - 1; d++) flat[0] *= x->shape[d];
    }
    x2 = prior_reshape(x, 2, flat);
    if (x2 && bias && fused_bias_ok(x2, wt, bias)) {
      y2 = matmul_core(op, x2, wt, bias);
      bias = NULL; /* added */
    } else {
      y2 = x2 ? matmul_core(op, x2, wt, NULL) : NULL;
    }
  }
  if (y2 && bias) {
    y3 = prior_add(y2, bias);
    prior_tensor_free(y2);
    y2 = y3;
  }
  if (y2 && x->ndim > 2) {
    int64_t shape[PRIOR_MAX_DIMS];
    for (int d = 0; d < x->ndim - 1; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = weight->shape[0];
    out = prior_reshape(y2, x->ndim, shape);
    prior_tensor_free(y2);
  } else {
    out = y2;
  }
  prior_free_all(2, wt, x2);
  return out;
}

/* ---- a bf16 operand shared by several products -------------------------------------------------------------- */

/* The cast's gradient is the incoming one: the products' f32 gradients for the bf16 copy are those of x. */
static prior_status autocast_operand_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  (void)node;
  gi[0] = prior_tensor_retain(g);
  return PRIOR_OK;
}

prior_tensor *prior_autocast_operand(prior_tensor *x) {
  if (prior_check_tensor("autocast_operand", "input", x) != PRIOR_OK) return NULL;
  if (!prior_op_lowers_to_bf16(x)) return prior_tensor_retain(x);
  prior_tensor *copy = prior_op_bf16_copy(x);
  if (copy && prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new("autocast_operand", autocast_operand_backward, 1, &x);
    if (!node) return prior_tensor_free(copy), NULL;
    prior_node_attach(node, copy);
  }
  return copy;
}
