/* Elementwise ops: forward through the backend's unary/binary/where kernels, backward by composing ops. */
#include <math.h>

#include "backend/kernels_nn.h"
#include "ops/op_util.h"
#include "prior/ops_elementwise.h"

/* ---- binary ------------------------------------------------------------------------------------------------ */

/* A binary node keeps its inputs' shapes in ints (op, then ndim and dims of a, then of b) and only the input
 * tensors its backward reads: add and sub none, mul each one for the other's gradient. Keeping an input alive
 * for its shape alone (a linear's pre-bias output, both sides of a residual add, a dropout's input) would hold
 * a whole activation per op until backward. */
enum { SHAPE_A = 1, SHAPE_B = 1 + 1 + PRIOR_MAX_DIMS };

static void keep_shape(prior_node *node, int at, const prior_tensor *t) {
  node->ints[at] = t->ndim;
  for (int d = 0; d < t->ndim; d++) node->ints[at + 1 + d] = t->shape[d];
}

static prior_tensor *reduce_to(prior_tensor *g, const prior_node *node, int at) {
  int64_t shape[PRIOR_MAX_DIMS];
  int nd = (int)node->ints[at];
  for (int d = 0; d < nd; d++) shape[d] = node->ints[at + 1 + d];
  return prior_sum_to_shape(g, nd, shape);
}

static prior_status binary_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *a = node->saved[0], *b = node->saved[1];
  int op = (int)node->ints[0];
  prior_tensor *ga = NULL, *gb = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL;
  switch (op) {
    case PRIOR_BINARY_ADD:
      ga = prior_tensor_retain(g);
      gb = prior_tensor_retain(g);
      break;
    case PRIOR_BINARY_SUB:
      ga = prior_tensor_retain(g);
      gb = node->needs_grad[1] ? prior_neg(g) : NULL;
      break;
    case PRIOR_BINARY_MUL:
      ga = node->needs_grad[0] ? prior_mul(g, b) : NULL;
      gb = node->needs_grad[1] ? prior_mul(g, a) : NULL;
      break;
    case PRIOR_BINARY_DIV:
      ga = node->needs_grad[0] ? prior_div(g, b) : NULL;
      if (node->needs_grad[1]) { /* -g * a / b^2 */
        t1 = prior_mul(g, a);
        t2 = prior_mul(b, b);
        t3 = prior_div(t1, t2);
        gb = prior_neg(t3);
      }
      break;
    case PRIOR_BINARY_POW: {
      prior_tensor *out = node->saved[2];
      if (node->needs_grad[0]) { /* g * b * a^(b-1) = g * b * out / a */
        t1 = prior_mul(g, b);
        t2 = prior_mul(t1, out);
        ga = prior_div(t2, a);
        prior_free_all(2, t1, t2);
        t1 = t2 = NULL;
      }
      if (node->needs_grad[1]) { /* g * out * log(a) */
        t1 = prior_log(a);
        t2 = prior_mul(g, out);
        gb = prior_mul(t2, t1);
      }
      break;
    }
    case PRIOR_BINARY_MAXIMUM:
    case PRIOR_BINARY_MINIMUM: {
      /* ties send the gradient to a */
      prior_tensor *pick_a = op == PRIOR_BINARY_MAXIMUM ? prior_ge(a, b) : prior_le(a, b);
      prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)g->dtype, g->device);
      ga = node->needs_grad[0] ? prior_where(pick_a, g, zero) : NULL;
      gb = node->needs_grad[1] ? prior_where(pick_a, zero, g) : NULL;
      prior_free_all(2, pick_a, zero);
      break;
    }
    default:
      return prior_error_set(PRIOR_ERR_INTERNAL, "binary backward: op %d has no gradient", op);
  }
  prior_free_all(3, t1, t2, t3);
  if (node->needs_grad[0]) {
    gi[0] = ga ? reduce_to(ga, node, SHAPE_A) : NULL;
    if (!gi[0]) return prior_free_all(2, ga, gb), prior_error_code();
  }
  if (node->needs_grad[1]) {
    gi[1] = gb ? reduce_to(gb, node, SHAPE_B) : NULL;
    if (!gi[1]) return prior_free_all(2, ga, gb), prior_error_code();
  }
  prior_free_all(2, ga, gb);
  return PRIOR_OK;
}

static prior_tensor *binary(const char *name, prior_tensor *a, prior_tensor *b, int op) {
  prior_tensor *out = prior_binary_raw(name, a, b, op);
  if (!out) return NULL;
  prior_tensor *inputs[2] = {a, b};
  if (prior_autograd_needed(2, inputs) && prior_dtype_is_floating(out->dtype)) {
    prior_node *node = prior_node_new(name, binary_backward, 2, inputs);
    int keep_a = 1, keep_b = 1;
    if (node && (op == PRIOR_BINARY_ADD || op == PRIOR_BINARY_SUB)) keep_a = keep_b = 0;
    if (node && op == PRIOR_BINARY_MUL) keep_a = node->needs_grad[1], keep_b = node->needs_grad[0];
    if (node && op == PRIOR_BINARY_DIV) keep_a = node->needs_grad[1];
    /* slots are fixed: saved[0] = a, saved[1] = b (either may be empty), saved[2] = out for pow */
    int ok = node != NULL;
    if (ok) ok = keep_a ? prior_node_save(node, a) == 0 : (node->n_saved = 1, 1);
    if (ok) ok = keep_b ? prior_node_save(node, b) == 1 : (node->n_saved = 2, 1);
    if (ok && op == PRIOR_BINARY_POW) ok = prior_node_save(node, out) == 2;
    if (!ok) {
      prior_node_release(node);
      prior_tensor_free(out);
      return NULL;
    }
    node->ints[0] = op;
    keep_shape(node, SHAPE_A, a);
    keep_shape(node, SHAPE_B, b);
    prior_node_attach(node, out);
  }
  return out;
}

prior_tensor *prior_add(prior_tensor *a, prior_tensor *b) { return binary("add", a, b, PRIOR_BINARY_ADD); }
prior_tensor *prior_sub(prior_tensor *a, prior_tensor *b) { return binary("sub", a, b, PRIOR_BINARY_SUB); }
prior_tensor *prior_mul(prior_tensor *a, prior_tensor *b) { return binary("mul", a, b, PRIOR_BINARY_MUL); }
prior_tensor *prior_div(prior_tensor *a, prior_tensor *b) { return binary("div", a, b, PRIOR_BINARY_DIV); }
prior_tensor *prior_pow(prior_tensor *a, prior_tensor *b) { return binary("pow", a, b, PRIOR_BINARY_POW); }
prior_tensor *prior_maximum(prior_tensor *a, prior_tensor *b) { return binary("maximum", a, b, PRIOR_BINARY_MAXIMUM); }
prior_tensor *prior_minimum(prior_tensor *a, prior_tensor *b) { return binary("minimum", a, b, PRIOR_BINARY_MINIMUM); }
prior_tensor *prior_eq(prior_tensor *a, prior_tensor *b) { return prior_binary_raw("eq", a, b, PRIOR_BINARY_EQ); }
prior_tensor *prior_ne(prior_tensor *a, prior_tensor *b) { return prior_binary_raw("ne", a, b, PRIOR_BINARY_NE); }
prior_tensor *prior_lt(prior_tensor *a, prior_tensor *b) { return prior_binary_raw("lt", a, b, PRIOR_BINARY_LT); }
prior_tensor *prior_le(prior_tensor *a, prior_tensor *b) { return prior_binary_raw("le", a, b, PRIOR_BINARY_LE); }
prior_tensor *prior_gt(prior_tensor *a, prior_tensor *b) { return prior_binary_raw("gt", a, b, PRIOR_BINARY_GT); }
prior_tensor *prior_ge(prior_tensor *a, prior_tensor *b) { return prior_binary_raw("ge", a, b, PRIOR_BINARY_GE); }

/* ---- unary ------------------------------------------------------------------------------------------------- */

/* What a unary op's backward needs: its input x (saved[0]) and/or its output y (saved[1]). */
enum { SAVE_X = 1, SAVE_Y = 2 };

static prior_status unary_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  int op = (int)node->ints[0];
  prior_tensor *x = node->saved[0], *y = node->saved[1];
  double p0 = node->scalars[0], p1 = node->scalars[1];
  prior_tensor *t = NULL;
  switch (op) {
    case PRIOR_UNARY_NEG: gi[0] = prior_neg(g); break;
    case PRIOR_UNARY_EXP: gi[0] = prior_mul(g, y); break;
    case PRIOR_UNARY_LOG: gi[0] = prior_div(g, x); break;
    case PRIOR_UNARY_SQRT: /* g / (2 y) */
      t = prior_div(g, y);
      gi[0] = prior_mul_scalar(t, 0.5);
      break;
    case PRIOR_UNARY_RSQRT: /* -0.5 g y^3 */
      t = prior_pow_scalar(y, 3.0);
      gi[0] = prior_mul(g, t);
      prior_tensor_free(t);
      t = gi[0];
      gi[0] = prior_mul_scalar(t, -0.5);
      break;
    case PRIOR_UNARY_ABS: gi[0] = prior_binary_raw("abs backward", g, x, PRIOR_BINARY_SIGN_MUL); break;
    case PRIOR_UNARY_SIGMOID: gi[0] = prior_binary_raw("sigmoid backward", g, y, PRIOR_BINARY_SIGMOID_BACKWARD); break;
    case PRIOR_UNARY_TANH: gi[0] = prior_binary_raw("tanh backward", g, y, PRIOR_BINARY_TANH_BACKWARD); break;
    case PRIOR_UNARY_RELU: gi[0] = prior_binary_raw("relu backward", g, x, PRIOR_BINARY_RELU_BACKWARD); break;
    case PRIOR_UNARY_GELU: gi[0] = prior_binary_raw("gelu backward", g, x, PRIOR_BINARY_GELU_BACKWARD); break;
    case PRIOR_UNARY_SQUARE:
      t = prior_mul(g, x);
      gi[0] = prior_mul_scalar(t, 2.0);
      break;
    case PRIOR_UNARY_SIGN: gi[0] = prior_tensor_zeros(g->ndim, g->shape, (prior_dtype)g->dtype, g->device); break;
    case PRIOR_UNARY_CLAMP:
      t = prior_unary_raw("clamp backward", x, PRIOR_UNARY_CLAMP_MASK, p0, p1);
      gi[0] = prior_mul(g, t);
      break;
    case PRIOR_UNARY_POW_SCALAR: /* g * p x^(p-1) */
      t = prior_pow_scalar(x, p0 - 1.0);
      gi[0] = prior_mul(g, t);
      prior_tensor_free(t);
      t = gi[0];
      gi[0] = prior_mul_scalar(t, p0);
      break;
    case PRIOR_UNARY_RECIPROCAL: /* -g y^2 */
      t = prior_mul(y, y);
      gi[0] = prior_mul(g, t);
      prior_tensor_free(t);
      t = gi[0];
      gi[0] = prior_neg(t);
      break;
    case PRIOR_UNARY_AFFINE: gi[0] = prior_unary_raw("affine backward", g, PRIOR_UNARY_AFFINE, p0, 0.0); break;
    default: return prior_error_set(PRIOR_ERR_INTERNAL, "unary backward: op %d has no gradient", op);
  }
  prior_tensor_free(t);
  return gi[0] ? PRIOR_OK : prior_error_code();
}

static prior_tensor *unary_to(const char *name, prior_tensor *x, int op, double p0, double p1, int save,
                              prior_dtype dtype) {
  prior_tensor *y = prior_unary_raw_to(name, x, op, p0, p1, dtype);
  if (!y) return NULL;
  if (prior_autograd_needed(1, &x) && prior_dtype_is_floating(y->dtype)) {
    prior_node *node = prior_node_new(name, unary_backward, 1, &x);
    int ok = node != NULL;
    /* slots are fixed: saved[0] = x, saved[1] = y, either may be empty */
    if (ok) ok = (save & SAVE_X) ? prior_node_save(node, x) == 0 : (node->n_saved = 1, 1);
    if (ok && (save & SAVE_Y)) ok = prior_node_save(node, y) == 1;
    if (!ok) {
      prior_node_release(node);
      prior_tensor_free(y);
      return NULL;
    }
    node->ints[0] = op;
    node->scalars[0] = p0;
    node->scalars[1] = p1;
    prior_node_attach(node, y);
  }
  return y;
}

static prior_tensor *unary(const char *name, prior_tensor *x, int op, double p0, double p1, int save) {
  if (prior_check_tensor(name, "input", x) != PRIOR_OK) return NULL;
  return unary_to(name, x, op, p0, p1, save, (prior_dtype)x->dtype);
}

prior_tensor *prior_neg(prior_tensor *x) { return unary("neg", x, PRIOR_UNARY_NEG, 0, 0, 0); }
prior_tensor *prior_exp(prior_tensor *x) { return unary("exp", x, PRIOR_UNARY_EXP, 0, 0, SAVE_Y); }
prior_tensor *prior_log(prior_tensor *x) { return unary("log", x, PRIOR_UNARY_LOG, 0, 0, SAVE_X); }
prior_tensor *prior_sqrt(prior_tensor *x) { return unary("sqrt", x, PRIOR_UNARY_SQRT, 0, 0, SAVE_Y); }
prior_tensor *prior_rsqrt(prior_tensor *x) { return unary("rsqrt", x, PRIOR_UNARY_RSQRT, 0, 0, SAVE_Y); }
prior_tensor *prior_abs(prior_tensor *x) { return unary("abs", x, PRIOR_UNARY_ABS, 0, 0, SAVE_X); }
prior_tensor *prior_sigmoid(prior_tensor *x) { return unary("sigmoid", x, PRIOR_UNARY_SIGMOID, 0, 0, SAVE_Y); }
prior_tensor *prior_tanh(prior_tensor *x) { return unary("tanh", x, PRIOR_UNARY_TANH, 0, 0, SAVE_Y); }

/* ReLU on the CPU keeps the mask x > 0 packed, one bit per element, for backward instead of x: every ReLU input
 * (a batch norm's or a residual sum's output) is then freed after the forward, and backward reads 1/32 of the
 * bytes. Values as the unary kernel and relu_backward give. Elsewhere, and without a graph, the unary op. */
static prior_status relu_bits_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_select_bits_kernel k = (prior_select_bits_kernel)prior_op_kernel("relu backward", "select_bits", g);
  prior_tensor *gc = k ? prior_tensor_contiguous_raw(g) : NULL;
  gi[0] = gc ? prior_tensor_empty(g->ndim, g->shape, (prior_dtype)g->dtype, g->device) : NULL;
  prior_status s = gi[0] ? k(gi[0], gc, node->saved[0]) : prior_error_code();
  prior_tensor_free(gc);
  return s;
}

static prior_tensor *relu_bits(prior_tensor *x) {
  prior_relu_bits_kernel k = (prior_relu_bits_kernel)prior_op_kernel("relu", "relu_bits", x);
  int64_t nbytes = (prior_tensor_numel(x) + 7) / 8;
  prior_tensor *xc = k ? prior_tensor_contiguous_raw(x) : NULL;
  prior_tensor *bits = xc ? prior_tensor_empty(1, &nbytes, PRIOR_U8, x->device) : NULL;
  prior_tensor *y = bits ? prior_tensor_empty(x->ndim, x->shape, (prior_dtype)x->dtype, x->device) : NULL;
  if (y && k(y, bits, xc) != PRIOR_OK) {
    prior_tensor_free(y);
    y = NULL;
  }
  prior_node *node = y ? prior_node_new("relu", relu_bits_backward, 1, &x) : NULL;
  if (node && prior_node_save(node, bits) == 0) {
    prior_node_attach(node, y);
  } else if (y) {
    prior_node_release(node);
    prior_tensor_free(y);
    y = NULL;
  }
  prior_free_all(2, xc, bits);
  return y;
}

prior_tensor *prior_relu(prior_tensor *x) {
  if (x && x->device.type == PRIOR_DEVICE_CPU && (x->dtype == PRIOR_F32 || x->dtype == PRIOR_F64) &&
      prior_autograd_needed(1, &x) && prior_backend_supports(PRIOR_DEVICE_CPU, "relu_bits"))
    return relu_bits(x);
  return unary("relu", x, PRIOR_UNARY_RELU, 0, 0, SAVE_X);
}
prior_tensor *prior_gelu(prior_tensor *x) { return unary("gelu", x, PRIOR_UNARY_GELU, 0, 0, SAVE_X); }

prior_tensor *prior_gelu_for_product(prior_tensor *x) {
  if (prior_check_tensor("gelu", "input", x) != PRIOR_OK) return NULL;
  if (!prior_op_lowers_to_bf16(x)) return prior_gelu(x);
  return unary_to("gelu", x, PRIOR_UNARY_GELU, 0, 0, SAVE_X, PRIOR_BF16); /* backward: gelu's, from x */
}
prior_tensor *prior_square(prior_tensor *x) { return unary("square", x, PRIOR_UNARY_SQUARE, 0, 0, SAVE_X); }
prior_tensor *prior_sign(prior_tensor *x) { return unary("sign", x, PRIOR_UNARY_SIGN, 0, 0, 0); }
prior_tensor *prior_pow_scalar(prior_tensor *x, double e) { return unary("pow", x, PRIOR_UNARY_POW_SCALAR, e, 0, SAVE_X); }
prior_tensor *prior_add_scalar(prior_tensor *x, double s) { return unary("add", x, PRIOR_UNARY_AFFINE, 1.0, s, 0); }
prior_tensor *prior_mul_scalar(prior_tensor *x, double s) { return unary("mul", x, PRIOR_UNARY_AFFINE, s, 0.0, 0); }
prior_tensor *prior_rsub_scalar(prior_tensor *x, double s) { return unary("rsub", x, PRIOR_UNARY_AFFINE, -1.0, s, 0); }

prior_tensor *prior_rdiv_scalar(prior_tensor *x, double s) {
  prior_tensor *r = unary("reciprocal", x, PRIOR_UNARY_RECIPROCAL, 0, 0, SAVE_Y);
  prior_tensor *out = prior_mul_scalar(r, s);
  prior_tensor_free(r);
  return out;
}

prior_tensor *prior_clamp(prior_tensor *x, double min, double max) {
  double lo = isnan(min) ? -INFINITY : min, hi = isnan(max) ? INFINITY : max;
  if (lo > hi) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "clamp: min %g is greater than max %g", min, max);
    return NULL;
  }
  return unary("clamp", x, PRIOR_UNARY_CLAMP, lo, hi, SAVE_X);
}

/* ---- where ------------------------------------------------------------------------------------------------- */

static prior_status where_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *cond = node->saved[0];
  prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)g->dtype, g->device);
  if (!zero) return prior_error_code();
  for (int i = 1; i <= 2; i++) {
    if (!node->needs_grad[i]) continue;
    prior_tensor *masked = i == 1 ? prior_where(cond, g, zero) : prior_where(cond, zero, g);
    int base = 9 * (i - 1); /* ints[base] = ndim, ints[base + 1 ...] = shape */
    gi[i] = prior_sum_to_shape(masked, (int)node->ints[base], &node->ints[base + 1]);
    prior_tensor_free(masked);
    if (!gi[i]) return prior_tensor_free(zero), prior_error_code();
  }
  prior_tensor_free(zero);
  return PRIOR_OK;
}

prior_tensor *prior_where(prior_tensor *cond, prior_tensor *a, prior_tensor *b) {
  const char *op = "where";
  if (prior_check_tensor(op, "cond", cond) || prior_check_tensor(op, "a", a) || prior_check_tensor(op, "b", b) ||
      prior_check_same_dtype(op, a, b) || prior_check_same_device(op, a, b) || prior_check_same_device(op, cond, a))
    return NULL;
  if (cond->dtype != PRIOR_BOOL && cond->dtype != PRIOR_U8) {
    prior_error_set(PRIOR_ERR_DTYPE, "where: cond must be bool or u8, got %s", prior_dtype_name(cond->dtype));
    return NULL;
  }
  int nd1, nd;
  int64_t s1[PRIOR_MAX_DIMS], shape[PRIOR_MAX_DIMS];
  if (prior_broadcast_shapes(op, a->ndim, a->shape, b->ndim, b->shape, &nd1, s1) ||
      prior_broadcast_shapes(op, cond->ndim, cond->shape, nd1, s1, &nd, shape))
    return NULL;
  prior_where_kernel k = (prior_where_kernel)prior_op_kernel(op, "where", a);
  if (!k) return NULL;
  prior_tensor *out = prior_tensor_empty(nd, shape, (prior_dtype)a->dtype, a->device);
  if (!out) return NULL;
  if (k(out, cond, a, b) != PRIOR_OK) {
    prior_tensor_free(out);
    return NULL;
  }
  prior_tensor *inputs[3] = {cond, a, b};
  if (prior_autograd_needed(3, inputs)) {
    prior_node *node = prior_node_new(op, where_backward, 3, inputs);
    if (!node || prior_node_save(node, cond) < 0) {
      prior_node_release(node);
      prior_tensor_free(out);
      return NULL;
    }
    node->needs_grad[0] = 0;
    /* shapes of a and b for sum_to_shape: ints[0] = ndim of a, ints[1..8] its shape; ints[9], ints[10..17] for b */
    node->ints[0] = a->ndim;
    node->ints[9] = b->ndim;
    for (int d = 0; d < a->ndim; d++) node->ints[1 + d] = a->shape[d];
    for (int d = 0; d < b->ndim; d++) node->ints[10 + d] = b->shape[d];
    prior_node_attach(node, out);
  }
  return out;
}

/* ---- casts ------------------------------------------------------------------------------------------------- */

static prior_status cast_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  gi[0] = prior_to_dtype(g, (prior_dtype)node->ints[0]);
  return gi[0] ? PRIOR_OK : prior_error_code();
}

prior_tensor *prior_to_dtype(prior_tensor *x, prior_dtype dtype) {
  if (prior_check_tensor("to_dtype", "input", x) != PRIOR_OK) return NULL;
  if (!prior_dtype_valid(dtype)) {
    prior_error_set(PRIOR_ERR_DTYPE, "to_dtype: invalid dtype %d", (int)dtype);
    return NULL;
  }
  prior_tensor *out = prior_tensor_to_dtype_raw(x, dtype);
  if (out && prior_autograd_needed(1, &x) && prior_dtype_is_floating(dtype)) {
    prior_node *node = prior_node_new("to_dtype", cast_backward, 1, &x);
    if (!node) {
      prior_tensor_free(out);
      return NULL;
    }
    node->ints[0] = x->dtype;
    prior_node_attach(node, out);
  }
  return out;
}
