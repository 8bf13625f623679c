/* Gradient checks (f64 central differences) for every elementwise op, with broadcasting and
 * non-contiguous inputs; plus forward values against naive formulas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grad_util.h"

typedef prior_tensor *(*binary_fn)(prior_tensor *, prior_tensor *);
typedef prior_tensor *(*unary_fn)(prior_tensor *);

static prior_tensor *apply_binary(prior_tensor *const *in, void *ctx) { return ((binary_fn)ctx)(in[0], in[1]); }
static prior_tensor *apply_unary(prior_tensor *const *in, void *ctx) { return ((unary_fn)ctx)(in[0]); }
static prior_tensor *apply_clamp(prior_tensor *const *in, void *ctx) { return prior_clamp(in[0], -0.3, 0.4); }
static prior_tensor *apply_pow_scalar(prior_tensor *const *in, void *ctx) { return prior_pow_scalar(in[0], 2.5); }
static prior_tensor *apply_scalars(prior_tensor *const *in, void *ctx) {
  prior_tensor *a = prior_add_scalar(in[0], 2.0);
  prior_tensor *b = prior_mul_scalar(a, -3.0);
  prior_tensor *c = prior_rsub_scalar(b, 1.0);
  prior_tensor *d = prior_rdiv_scalar(c, 2.0);
  prior_free_all(3, a, b, c);
  return d;
}
static prior_tensor *apply_where(prior_tensor *const *in, void *ctx) {
  prior_tensor *zero = prior_tensor_zeros(0, NULL, PRIOR_F64, prior_cpu());
  prior_tensor *cond = prior_gt(in[0], zero);
  prior_tensor *out = prior_where(cond, in[1], in[2]);
  prior_free_all(2, zero, cond);
  return out;
}
static prior_tensor *apply_cast(prior_tensor *const *in, void *ctx) {
  prior_tensor *f = prior_to_dtype(in[0], PRIOR_F32);
  prior_tensor *d = prior_to_dtype(f, PRIOR_F64);
  prior_tensor_free(f);
  return d;
}

static void check_binary(const char *name, binary_fn fn, double lo, double hi) {
  int64_t s23[2] = {2, 3}, s13[2] = {1, 3}, s3[1] = {3}, s4231[4] = {4, 2, 3, 1};
  /* same shape */
  prior_tensor *a = leaf_uniform(2, s23, lo, hi), *b = leaf_uniform(2, s23, lo, hi);
  prior_tensor *in1[2] = {a, b};
  GRADCHECK(name, apply_binary, (void *)fn, 2, in1);
  /* broadcasting both ways, and a non-contiguous operand */
  prior_tensor *c = leaf_uniform(2, s13, lo, hi), *d = leaf_uniform(1, s3, lo, hi);
  prior_tensor *e = leaf_uniform_strided(2, s23, lo, hi);
  prior_tensor *in2[2] = {e, c};
  GRADCHECK(name, apply_binary, (void *)fn, 2, in2);
  prior_tensor *in3[2] = {d, a};
  GRADCHECK(name, apply_binary, (void *)fn, 2, in3);
  prior_tensor *f = leaf_uniform(4, s4231, lo, hi);
  prior_tensor *in4[2] = {f, d}; /* [4,2,3,1] with [3] -> [4,2,3,3] */
  GRADCHECK(name, apply_binary, (void *)fn, 2, in4);
  prior_free_all(6, a, b, c, d, e, f);
}

static void check_unary(const char *name, unary_fn fn, double lo, double hi) {
  int64_t s[3] = {2, 3, 4};
  prior_tensor *a = leaf_uniform(3, s, lo, hi), *b = leaf_uniform_strided(3, s, lo, hi);
  prior_tensor *in1[1] = {a}, *in2[1] = {b};
  GRADCHECK(name, apply_unary, (void *)fn, 1, in1);
  GRADCHECK(name, apply_unary, (void *)fn, 1, in2);
  prior_free_all(2, a, b);
}

static void check_forward_values(void) {
  double xs[5] = {-2.0, -0.5, 0.0, 0.5, 2.0};
  int64_t n = 5;
  prior_tensor *x = prior_tensor_from_data(xs, 1, &n, PRIOR_F64, prior_cpu());
  prior_tensor *g = prior_gelu(x), *s = prior_sigmoid(x), *r = prior_relu(x), *t = prior_tanh(x);
  for (int i = 0; i < 5; i++) {
    double v;
    int64_t idx = i;
    prior_tensor_get(g, &idx, &v);
    CHECK_NEAR(v, 0.5 * xs[i] * (1 + erf(xs[i] / sqrt(2.0))), 1e-15);
    prior_tensor_get(s, &idx, &v);
    CHECK_NEAR(v, 1 / (1 + exp(-xs[i])), 1e-15);
    prior_tensor_get(r, &idx, &v);
    CHECK(v == (xs[i] > 0 ? xs[i] : 0));
    prior_tensor_get(t, &idx, &v);
    CHECK_NEAR(v, tanh(xs[i]), 1e-15);
  }
  /* f32 path of the same ops */
  prior_tensor *xf = prior_tensor_to_dtype_raw(x, PRIOR_F32);
  prior_tensor *gf = prior_gelu(xf);
  CHECK_NEAR(((float *)prior_tensor_data(gf))[4], 0.5 * 2 * (1 + erf(2 / sqrt(2.0))), 1e-6);
  /* f32 GELU and its gradient over [-12, 12], the negative tail included (where 1 + erf(x) is tiny and a plain
   * 1 + erff(x) loses it to rounding): relative error against double wherever the value is a normal float */
  int64_t m = 4801;
  prior_tensor *xs_f = prior_tensor_empty(1, &m, PRIOR_F32, prior_cpu());
  for (int64_t i = 0; i < m; i++) ((float *)prior_tensor_data(xs_f))[i] = (float)(-12.0 + 0.005 * (double)i);
  prior_tensor_set_requires_grad(xs_f, 1);
  prior_tensor *gel = prior_gelu(xs_f), *ones = prior_tensor_ones(1, &m, PRIOR_F32, prior_cpu());
  CHECK_OK(prior_backward(gel, ones, 0));
  double worst = 0, worst_grad = 0;
  for (int64_t i = 0; i < m; i++) {
    double v = ((float *)prior_tensor_data(xs_f))[i], cdf = 0.5 * erfc(-v / sqrt(2.0));
    double want = v * cdf, want_grad = cdf + v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
    double got = ((float *)prior_tensor_data(gel))[i], got_grad = ((float *)prior_tensor_data(xs_f->grad))[i];
    if (fabs(want) > 1e-30) worst = fmax(worst, fabs(got - want) / fabs(want));
    /* the gradient's two terms cancel near x = -0.75: measure against their magnitude */
    double scale = cdf + fabs(v) * exp(-0.5 * v * v) / sqrt(2 * M_PI);
    if (scale > 1e-30) worst_grad = fmax(worst_grad, fabs(got_grad - want_grad) / scale);
  }
  CHECK_MSG(worst < 2e-5, "f32 gelu: relative error %.3g", worst);
  CHECK_MSG(worst_grad < 2e-5, "f32 gelu gradient: relative error %.3g", worst_grad);
  prior_free_all(3, xs_f, gel, ones);

  /* comparisons give bool */
  prior_tensor *zero = prior_tensor_zeros(0, NULL, PRIOR_F64, prior_cpu());
  prior_tensor *gt = prior_gt(x, zero);
  CHECK(gt->dtype == PRIOR_BOOL && ((uint8_t *)prior_tensor_data(gt))[3] == 1 && ((uint8_t *)prior_tensor_data(gt))[2] == 0);
  prior_free_all(8, x, g, s, r, t, xf, gf, zero);
  prior_tensor_free(gt);
}

static void check_graph_mechanics(void) {
  /* y = x*x + x used twice: gradient accumulates from both paths; a second backward without
   * retain_graph fails clearly; no_grad records nothing. */
  int64_t n = 3;
  prior_tensor *x = leaf_uniform(1, &n, -1, 1);
  prior_tensor *sq = prior_mul(x, x);
  prior_tensor *y = prior_add(sq, x);
  prior_tensor *loss = prior_sum(y, 0, NULL, 0);
  CHECK_OK(prior_backward(loss, NULL, 0));
  for (int64_t i = 0; i < 3; i++) {
    double xv, gv;
    prior_tensor_get(x, &i, &xv);
    prior_tensor_get(x->grad, &i, &gv);
    CHECK_NEAR(gv, 2 * xv + 1, 1e-12);
  }
  CHECK_ERR(prior_backward(loss, NULL, 0), PRIOR_ERR_AUTOGRAD, "second time");
  int prev = prior_set_grad_enabled(0);
  prior_tensor *z = prior_mul(x, x);
  CHECK(z && !z->requires_grad && !z->grad_fn);
  prior_set_grad_enabled(prev);
  prior_tensor *det = prior_detach(sq);
  CHECK(det && !det->requires_grad && !det->grad_fn);
  /* a long chain frees without recursion */
  prior_tensor *acc = prior_tensor_retain(x);
  for (int i = 0; i < 100000; i++) {
    prior_tensor *next = prior_add_scalar(acc, 1e-6);
    prior_tensor_free(acc);
    acc = next;
  }
  prior_tensor *s = prior_sum(acc, 0, NULL, 0);
  prior_tensor_zero_grad(x);
  CHECK_OK(prior_backward(s, NULL, 0));
  double g0;
  int64_t i0 = 0;
  prior_tensor_get(x->grad, &i0, &g0);
  CHECK_NEAR(g0, 1.0, 1e-12);
  prior_free_all(8, x, sq, y, loss, z, det, acc, s);
}

/* The leaf-ready callback of prior_backward_ex: each leaf is reported exactly once, after its last contribution
 * (a leaf used on three paths has its whole gradient when reported), also a leaf that gets no gradient; the
 * callback may take the gradient away (as an optimizer applying its update during backward does); a failing
 * callback stops the backward with its message. */
typedef struct leaf_log {
  prior_tensor *leaves[4];
  double grad_at_ready[4];
  int n;
  int fail;
} leaf_log;

static prior_status record_leaf(prior_tensor *leaf, void *ctx) {
  leaf_log *log = ctx;
  if (log->fail) return prior_error_set(PRIOR_ERR_ARGUMENT, "test: refusing leaf %d", log->n);
  int64_t i0 = 0;
  double g = NAN;
  if (leaf->grad) prior_tensor_get(leaf->grad, &i0, &g);
  if (log->n < 4) log->leaves[log->n] = leaf, log->grad_at_ready[log->n] = g;
  log->n++;
  prior_tensor_zero_grad(leaf);
  return PRIOR_OK;
}

static void check_leaf_ready_callback(void) {
  int64_t n = 1;
  prior_tensor *a = leaf_uniform(1, &n, 0.5, 1), *b = leaf_uniform(1, &n, 0.5, 1), *c = leaf_uniform(1, &n, 0.5, 1);
  double av, bv;
  int64_t i0 = 0;
  prior_tensor_get(a, &i0, &av);
  prior_tensor_get(b, &i0, &bv);
  /* loss = a*b + a*a + exp(a) + 0*c: a on three paths, c with a zero gradient */
  prior_tensor *ab = prior_mul(a, b), *aa = prior_mul(a, a), *ea = prior_exp(a);
  prior_tensor *s1 = prior_add(ab, aa), *s2 = prior_add(s1, ea);
  prior_tensor *cm = prior_mul_scalar(c, 0.0);
  prior_tensor *s3 = prior_add(s2, cm);
  prior_tensor *loss = prior_sum(s3, 0, NULL, 0);
  leaf_log log = {0};
  CHECK_OK(prior_backward_ex(loss, NULL, 1, record_leaf, &log));
  CHECK(log.n == 3);
  int seen_a = 0, seen_b = 0, seen_c = 0;
  for (int i = 0; i < 3 && i < log.n; i++) {
    if (log.leaves[i] == a) {
      seen_a++;
      CHECK_NEAR(log.grad_at_ready[i], bv + 2 * av + exp(av), 1e-12);
    }
    if (log.leaves[i] == b) {
      seen_b++;
      CHECK_NEAR(log.grad_at_ready[i], av, 1e-12);
    }
    if (log.leaves[i] == c) {
      seen_c++;
      CHECK_NEAR(log.grad_at_ready[i], 0.0, 1e-12);
    }
  }
  CHECK(seen_a == 1 && seen_b == 1 && seen_c == 1);
  CHECK(!a->grad && !b->grad && !c->grad); /* the callback took them */
  log = (leaf_log){.fail = 1};
  CHECK_ERR(prior_backward_ex(loss, NULL, 0, record_leaf, &log), PRIOR_ERR_ARGUMENT, "refusing leaf 0");
  /* a leaf as the root is ready at once */
  log = (leaf_log){0};
  CHECK_OK(prior_backward_ex(a, NULL, 0, record_leaf, &log));
  CHECK(log.n == 1 && log.leaves[0] == a && log.grad_at_ready[0] == 1.0);
  prior_free_all(11, a, b, c, ab, aa, ea, s1, s2, cm, s3, loss);
}

/* ReLU with a graph keeps a packed mask: its values and gradient must be those of the unary kernel and of
 * relu_backward (exactly 0 where x <= 0, even for a NaN or negative gradient; x = -0 and 0 not kept), for sizes
 * that end mid-byte and one above the parallel threshold, and a transposed input. */
static void check_relu_packed_mask(void) {
  const int64_t shapes[3][2] = {{3, 7}, {301, 677}, {13, 9}};
  for (int c = 0; c < 3; c++) {
    for (int dt = 0; dt < 2; dt++) {
      prior_dtype dtype = dt ? PRIOR_F64 : PRIOR_F32;
      prior_tensor *base = prior_tensor_empty(2, shapes[c], dtype, prior_cpu());
      CHECK_OK(prior_tensor_uniform_(base, -1, 1));
      prior_tensor *x = c == 2 ? prior_transpose(base, 0, 1) : prior_tensor_retain(base);
      int64_t n = prior_tensor_numel(x);
      double *xv = malloc(sizeof(double) * (size_t)n), *gv = malloc(sizeof(double) * (size_t)n);
      double *yv = malloc(sizeof(double) * (size_t)n), *dv = malloc(sizeof(double) * (size_t)n);
      prior_tensor *leaf = prior_tensor_empty(x->ndim, x->shape, dtype, prior_cpu());
      CHECK_OK(prior_tensor_copy_(leaf, x));
      if (dt == 0) { /* exact zeros of both signs */
        ((float *)prior_tensor_data(leaf))[0] = 0.0f, ((float *)prior_tensor_data(leaf))[1] = -0.0f;
      }
      prior_tensor_set_requires_grad(leaf, 1);
      prior_tensor *y = prior_relu(leaf);
      prior_tensor *g = prior_tensor_empty(x->ndim, x->shape, dtype, prior_cpu());
      CHECK_OK(prior_tensor_uniform_(g, -1, 1));
      if (dt == 0) ((float *)prior_tensor_data(g))[2] = NAN;
      CHECK_OK(prior_backward(y, g, 0));
      prior_tensor_to_f64_array(leaf, xv);
      prior_tensor_to_f64_array(g, gv);
      prior_tensor_to_f64_array(y, yv);
      prior_tensor_to_f64_array(leaf->grad, dv);
      int ok = 1;
      for (int64_t i = 0; i < n; i++) {
        double want_y = xv[i] > 0 ? xv[i] : 0.0, want_d = xv[i] > 0 ? gv[i] : 0.0;
        ok &= memcmp(&want_y, &yv[i], 8) == 0;
        ok &= memcmp(&want_d, &dv[i], 8) == 0 || (isnan(want_d) && isnan(dv[i]));
      }
      CHECK_MSG(ok, "packed relu: case %d dtype %d", c, dt);
      free(xv), free(gv), free(yv), free(dv);
      prior_free_all(5, base, x, leaf, y, g);
    }
  }
}

int main(void) {
  prior_rng_seed(1);
  check_leaf_ready_callback();
  check_binary("add", prior_add, -1, 1);
  check_binary("sub", prior_sub, -1, 1);
  check_binary("mul", prior_mul, -1, 1);
  check_binary("div", prior_div, 0.5, 2);
  check_binary("pow", prior_pow, 0.5, 2);
  check_binary("maximum", prior_maximum, -1, 1);
  check_binary("minimum", prior_minimum, -1, 1);
  check_unary("neg", prior_neg, -1, 1);
  check_unary("exp", prior_exp, -1, 1);
  check_unary("log", prior_log, 0.5, 2);
  check_unary("sqrt", prior_sqrt, 0.5, 2);
  check_unary("rsqrt", prior_rsqrt, 0.5, 2);
  check_unary("abs", prior_abs, 0.1, 1); /* away from the kink */
  check_unary("sigmoid", prior_sigmoid, -3, 3);
  check_unary("tanh", prior_tanh, -2, 2);
  check_unary("relu", prior_relu, 0.1, 1);
  check_unary("relu-negative", prior_relu, -1, -0.1);
  check_relu_packed_mask();
  check_unary("gelu", prior_gelu, -3, 3);
  check_unary("square", prior_square, -1, 1);
  int64_t s[2] = {3, 4};
  prior_tensor *a = leaf_uniform(2, s, -1, 1), *b = leaf_uniform(2, s, 0.5, 2);
  prior_tensor *in1[1] = {a}, *in2[1] = {b};
  GRADCHECK("clamp", apply_clamp, NULL, 1, in1);
  GRADCHECK("pow_scalar", apply_pow_scalar, NULL, 1, in2);
  GRADCHECK("scalar ops", apply_scalars, NULL, 1, in2);
  /* casts pass the gradient through, converted back to the input's dtype */
  prior_tensor *cast = apply_cast(in1, NULL), *cast_sum = prior_sum(cast, 0, NULL, 0);
  prior_tensor_zero_grad(a);
  CHECK_OK(prior_backward(cast_sum, NULL, 0));
  CHECK(a->grad && a->grad->dtype == PRIOR_F64 && ((double *)prior_tensor_data(a->grad))[5] == 1.0);
  prior_free_all(2, cast, cast_sum);
  int64_t s1[1] = {4};
  prior_tensor *c = leaf_uniform(2, s, -1, 1), *d = leaf_uniform(1, s1, -1, 1);
  prior_tensor *in3[3] = {a, c, d};
  GRADCHECK("where", apply_where, NULL, 3, in3);
  prior_free_all(4, a, b, c, d);
  check_forward_values();
  check_graph_mechanics();
  return check_summary("test_grad_elementwise");
}
