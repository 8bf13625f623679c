/* dropout and dropout2d: the input times a mask of 0 and 1/(1-p), drawn from the global Philox stream (so a
 * seed reproduces the mask): element i is kept when uniform draw i is below 1 - p, exactly the mask a
 * bernoulli_ fill of the input's shape would hold.
 *
 * Where the device has the "dropout_apply" kernel, dropout keeps that mask packed (one bit per element: a
 * 768 x 1024 activation's mask is 96 KiB instead of 3 MiB of f32) and multiplies in one pass forward and
 * backward. Elsewhere, and for dropout2d (one draw per channel), the mask is a tensor of the input's dtype and
 * the product an ordinary differentiable mul. Both give the same bits: x * (kept ? scale : 0). */
#include "backend/kernels_nn.h"
#include "ops/op_util.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_nn.h"
#include "prior/rng.h"

/* ---- packed mask --------------------------------------------------------------------------------------- */

static prior_tensor *apply_bits(const char *op, prior_tensor *x, const prior_tensor *bits, double scale) {
  prior_dropout_apply_kernel k = (prior_dropout_apply_kernel)prior_op_kernel(op, "dropout_apply", x);
  prior_tensor *xc = k ? prior_tensor_contiguous_raw(x) : NULL;
  prior_tensor *out = xc ? prior_tensor_empty(x->ndim, x->shape, (prior_dtype)x->dtype, x->device) : NULL;
  if (out && k(out, xc, bits, scale) != PRIOR_OK) {
    prior_error_context("%s", op);
    prior_tensor_free(out);
    out = NULL;
  }
  prior_tensor_free(xc);
  return out;
}

static prior_status dropout_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  gi[0] = apply_bits("dropout backward", g, node->saved[0], node->scalars[0]);
  return gi[0] ? PRIOR_OK : prior_error_code();
}

prior_tensor *prior_op_dropout_bits(int64_t n, double p, double *scale) {
  int64_t nbytes = (n + 7) / 8;
  prior_tensor *bits = prior_tensor_empty(1, &nbytes, PRIOR_U8, prior_cpu());
  if (!bits) return NULL;
  prior_rng_state st = prior_rng_get_state();
  uint64_t offset = prior_rng_reserve((uint64_t)(n + 3) / 4); /* as a bernoulli_ fill of n elements */
  prior_philox_bernoulli_bits(st.seed, offset, 1.0 - p, prior_tensor_data(bits), n);
  /* p == 1 keeps nothing: every bit is clear and the scale is irrelevant */
  *scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
  return bits;
}

static prior_tensor *dropout_packed(const char *op, prior_tensor *x, double p) {
  double scale;
  prior_tensor *bits = prior_op_dropout_bits(prior_tensor_numel(x), p, &scale);
  if (!bits) return NULL;
  prior_tensor *out = apply_bits(op, x, bits, scale);
  if (out && prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new(op, dropout_backward, 1, &x);
    if (!node || prior_node_save(node, bits) < 0) {
      prior_node_release(node);
      prior_tensor_free(out);
      out = NULL;
    } else {
      node->scalars[0] = scale;
      prior_node_attach(node, out);
    }
  }
  prior_tensor_free(bits);
  return out;
}

/* ---- mask tensor --------------------------------------------------------------------------------------- */

static prior_tensor *dropout_mask_tensor(const char *op, prior_tensor *x, double p, int channels) {
  int64_t shape[PRIOR_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = channels && d >= 2 ? 1 : x->shape[d];
  prior_tensor *mask = prior_tensor_empty(x->ndim, shape, (prior_dtype)x->dtype, x->device);
  if (!mask) return NULL;
  prior_tensor *scaled = NULL, *out = NULL;
  if (prior_tensor_bernoulli_(mask, 1.0 - p) == PRIOR_OK) {
    double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    scaled = prior_unary_raw(op, mask, PRIOR_UNARY_AFFINE, scale, 0.0);
    if (scaled) out = prior_mul(x, scaled);
  }
  prior_free_all(2, mask, scaled);
  return out;
}

static prior_tensor *dropout_op(const char *op, prior_tensor *x, double p, int training, int channels) {
  if (prior_check_floating(op, "input", x)) return NULL;
  if (!(p >= 0 && p <= 1)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: probability p=%g must be in [0, 1]", op, p);
    return NULL;
  }
  if (channels && x->ndim < 2) {
    char b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: input must be [N, C, ...], got %s", op, prior_tensor_shape_str(x, b, sizeof b));
    return NULL;
  }
  /* eval or p == 0: the input itself (a new reference; gradients flow unchanged) */
  if (!training || p == 0) return prior_tensor_retain(x);
  /* the packed mask is drawn on the host, where the CPU kernel reads it */
  if (!channels && x->device.type == PRIOR_DEVICE_CPU && (x->dtype == PRIOR_F32 || x->dtype == PRIOR_F64) &&
      prior_backend_supports(x->device.type, "dropout_apply"))
    return dropout_packed(op, x, p);
  return dropout_mask_tensor(op, x, p, channels);
}

prior_tensor *prior_dropout(prior_tensor *x, double p, int training) { return dropout_op("dropout", x, p, training, 0); }
prior_tensor *prior_dropout2d(prior_tensor *x, double p, int training) {
  return dropout_op("dropout2d", x, p, training, 1);
}
