/* Autocast on the CPU: f32 matmuls and convolutions (forward, backward data, backward weights) with bf16
 * operands and f32 accumulation.
 *
 * Two properties pin it down. With inputs and output gradients that are exactly representable in bf16, the
 * conversion loses nothing, so autocast must agree with the f64 reference to f32-accumulation precision: this
 * catches wrong layouts, strides, batch handling or a wrong argument. With ordinary inputs, autocast must
 * differ from plain f32 by about bf16's rounding (when the CPU computes bf16 natively), which shows the bf16
 * path really ran; on a CPU without native bf16 it must equal plain f32. */
#include "backend/cpu/blocked_weights.h"
#include "backend/cpu/channels_last.h"
#include "core/bf16.h"
#include "dense_util.h"
#include "prior/amp.h"
#include "prior/rng.h"

/* Rounds every element of an f64 tensor to the nearest bf16 value (ties to even), in place. */
static void round_to_bf16(prior_tensor *t) {
  double *p = prior_tensor_data(t);
  for (int64_t i = 0; i < prior_tensor_numel(t); i++) {
    float f = (float)p[i];
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    p[i] = f;
  }
}

typedef struct run_out {
  prior_tensor *y, *grads[3];
} run_out;

/* fn on copies of `in` in dtype dt (leaves requiring grad), backward from sum(y * r). */
static run_out run(prior_gradcheck_fn fn, void *ctx, int n, prior_tensor *const *in, const prior_tensor *r,
                   prior_dtype dt) {
  run_out o = {0};
  prior_tensor *x[3] = {0};
  for (int i = 0; i < n; i++) {
    x[i] = in[i] ? prior_tensor_to_dtype_raw(in[i], dt) : NULL;
    if (x[i]) prior_tensor_set_requires_grad(x[i], 1);
  }
  o.y = fn(x, ctx);
  CHECK_MSG(o.y != NULL, "forward failed: %s", prior_error_message());
  if (o.y) {
    prior_tensor *g = prior_tensor_to_dtype_raw(r, dt);
    CHECK_OK(prior_backward(o.y, g, 0));
    prior_tensor_free(g);
  }
  for (int i = 0; i < n; i++) {
    o.grads[i] = x[i] && x[i]->grad ? prior_tensor_to_dtype_raw(x[i]->grad, PRIOR_F64) : NULL;
    prior_tensor_free(x[i]);
  }
  return o;
}

static void run_free(run_out *o) { prior_free_all(4, o->y, o->grads[0], o->grads[1], o->grads[2]); }

/* Largest relative difference over the output and every gradient. */
static double max_diff(const run_out *a, const run_out *b, int n) {
  double d = max_rel_diff(a->y, b->y);
  for (int i = 0; i < n; i++)
    if (a->grads[i] && b->grads[i]) d = fmax(d, max_rel_diff(a->grads[i], b->grads[i]));
  return d;
}

static void check_case(const char *label, prior_gradcheck_fn fn, void *ctx, int n, const int64_t (*shapes)[4],
                       const int *ndims) {
  prior_tensor *in[3] = {0};
  for (int i = 0; i < n; i++)
    if (ndims[i]) in[i] = leaf_uniform(ndims[i], shapes[i], -1, 1);
  prior_tensor *probe = fn(in, ctx); /* only for the output's shape */
  prior_tensor *r = prior_tensor_empty(probe->ndim, probe->shape, PRIOR_F64, prior_cpu());
  prior_tensor_uniform_(r, -1, 1);
  prior_tensor_free(probe);
  int native = prior_autocast_native(prior_cpu());

  /* ordinary values: bf16 really used (or, without native bf16, exactly f32) */
  run_out f32 = run(fn, ctx, n, in, r, PRIOR_F32);
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  run_out amp = run(fn, ctx, n, in, r, PRIOR_F32);
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  double d = max_diff(&amp, &f32, n);
  if (native) CHECK_MSG(d > 1e-4 && d < 3e-2, "%s: autocast vs f32 differ by %.3g (expected bf16 rounding)", label, d);
  else CHECK_MSG(d == 0, "%s: without native bf16 autocast must stay f32, differs by %.3g", label, d);
  run_free(&f32);
  run_free(&amp);

  /* bf16-exact values: autocast equals the f64 reference up to f32 accumulation */
  for (int i = 0; i < n; i++)
    if (in[i]) round_to_bf16(in[i]);
  round_to_bf16(r);
  run_out ref = run(fn, ctx, n, in, r, PRIOR_F64);
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  amp = run(fn, ctx, n, in, r, PRIOR_F32);
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  d = max_diff(&amp, &ref, n);
  CHECK_MSG(d < 2e-5, "%s: autocast on bf16-exact inputs vs f64 differ by %.3g", label, d);
  run_free(&ref);
  run_free(&amp);
  prior_free_all(4, in[0], in[1], in[2], r);
}

/* ---- matmul ---- */

enum { MM_PLAIN, MM_TRANSPOSED, MM_HEADS };

static prior_tensor *apply_matmul(prior_tensor *const *in, void *ctx) {
  int mode = *(const int *)ctx;
  if (mode == MM_PLAIN) return prior_matmul(in[0], in[1]);
  if (mode == MM_TRANSPOSED) { /* a @ b^T with b given [m, k]: a strided operand read in place */
    prior_tensor *bt = prior_transpose(in[1], -1, -2);
    prior_tensor *y = prior_matmul(in[0], bt);
    prior_tensor_free(bt);
    return y;
  }
  /* attention-style: [B, L, H, d] permuted to [B, H, L, d] times its transpose; no single batch stride */
  int64_t order[4] = {0, 2, 1, 3};
  prior_tensor *q = prior_permute(in[0], 4, order), *k = prior_permute(in[1], 4, order);
  prior_tensor *kt = prior_transpose(k, -1, -2);
  prior_tensor *y = prior_matmul(q, kt);
  prior_free_all(3, q, k, kt);
  return y;
}

/* A product with a side under 16 (prior_matmul_stays_f32) stays f32 under autocast: output and gradients equal
 * plain f32's bit for bit, whichever side is short; at 16 on every side it is bf16 again. */
static void check_small_product(int64_t n, int64_t k, int64_t m, int want_f32) {
  int plain = MM_PLAIN;
  int64_t sa[2] = {n, k}, sb[2] = {k, m}, so[2] = {n, m};
  prior_tensor *in[2] = {leaf_uniform(2, sa, -1, 1), leaf_uniform(2, sb, -1, 1)};
  prior_tensor *r = leaf_uniform(2, so, -1, 1);
  run_out f32 = run(apply_matmul, &plain, 2, in, r, PRIOR_F32);
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  run_out amp = run(apply_matmul, &plain, 2, in, r, PRIOR_F32);
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  double d = max_diff(&amp, &f32, 2);
  if (want_f32 || !prior_autocast_native(prior_cpu()))
    CHECK_MSG(d == 0, "matmul [%lld, %lld] x [%lld, %lld] under autocast: differs from f32 by %.3g, should stay f32",
              (long long)n, (long long)k, (long long)k, (long long)m, d);
  else
    CHECK_MSG(d > 1e-4, "matmul [%lld, %lld] x [%lld, %lld] under autocast: equals f32 (%.3g), should be bf16",
              (long long)n, (long long)k, (long long)k, (long long)m, d);
  run_free(&f32);
  run_free(&amp);
  prior_free_all(3, in[0], in[1], r);
}

static void test_small_products(void) {
  check_small_product(4, 300, 70, 1); /* a projection of 4 pooled vectors */
  check_small_product(15, 70, 45, 1);
  check_small_product(37, 8, 45, 1);
  check_small_product(37, 70, 5, 1);
  check_small_product(16, 16, 16, 0);
}

static void test_matmul(void) {
  int plain = MM_PLAIN, transposed = MM_TRANSPOSED, heads = MM_HEADS;
  const int64_t s2[3][4] = {{37, 70}, {70, 45}};
  const int nd2[3] = {2, 2, 0};
  check_case("matmul 2-D", apply_matmul, &plain, 2, s2, nd2);
  const int64_t sb[3][4] = {{3, 37, 70}, {3, 70, 45}};
  const int ndb[3] = {3, 3, 0};
  check_case("matmul batched", apply_matmul, &plain, 2, sb, ndb);
  const int64_t sbc[3][4] = {{3, 37, 70}, {70, 45}};
  const int ndbc[3] = {3, 2, 0};
  check_case("matmul broadcast weights", apply_matmul, &plain, 2, sbc, ndbc);
  const int64_t st[3][4] = {{4, 37, 70}, {45, 70}};
  check_case("matmul transposed operand", apply_matmul, &transposed, 2, st, ndbc);
  const int64_t sh[3][4] = {{2, 19, 3, 16}, {2, 19, 3, 16}};
  const int ndh[3] = {4, 4, 0};
  check_case("matmul permuted heads", apply_matmul, &heads, 2, sh, ndh);
}

/* ---- linear: the bias added by the product's kernel ---- */

static prior_tensor *apply_linear(prior_tensor *const *in, void *ctx) { return prior_linear(in[0], in[1], in[2]); }

/* linear's bias, fused into the bf16 product under autocast, against the separate add it replaces: the output and
 * all three gradients bit for bit. x [n0, n1, k], weight [m, k]. */
static void check_linear_bias_fused(int64_t n0, int64_t n1, int64_t k, int64_t m) {
  int64_t sx[3] = {n0, n1, k}, sw[2] = {m, k}, sy[3] = {n0, n1, m};
  prior_tensor *in[3] = {prior_tensor_randn(3, sx, PRIOR_F32, prior_cpu()), prior_tensor_randn(2, sw, PRIOR_F32, prior_cpu()),
                         prior_tensor_randn(1, &m, PRIOR_F32, prior_cpu())};
  prior_tensor *r = prior_tensor_randn(3, sy, PRIOR_F32, prior_cpu());
  prior_tensor *y[2], *grads[2][3];
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  for (int fused = 0; fused < 2; fused++) {
    for (int i = 0; i < 3; i++) prior_tensor_set_requires_grad(in[i], 1);
    if (fused) {
      y[fused] = prior_linear(in[0], in[1], in[2]);
    } else {
      prior_tensor *t = prior_linear(in[0], in[1], NULL);
      y[fused] = prior_add(t, in[2]);
      prior_tensor_free(t);
    }
    CHECK_OK(prior_backward(y[fused], r, 0));
    for (int i = 0; i < 3; i++) {
      grads[fused][i] = prior_tensor_clone_raw(in[i]->grad);
      prior_tensor_zero_grad(in[i]);
    }
  }
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  const char *names[3] = {"x", "weight", "bias"};
  CHECK_MSG(max_rel_diff(y[1], y[0]) == 0, "linear [%lld, %lld, %lld] x [%lld]: fused bias output differs by %.3g",
            (long long)n0, (long long)n1, (long long)k, (long long)m, max_rel_diff(y[1], y[0]));
  for (int i = 0; i < 3; i++)
    CHECK_MSG(max_rel_diff(grads[1][i], grads[0][i]) == 0, "linear [%lld, %lld, %lld] x [%lld]: %s gradient differs by %.3g",
              (long long)n0, (long long)n1, (long long)k, (long long)m, names[i], max_rel_diff(grads[1][i], grads[0][i]));
  prior_free_all(10, in[0], in[1], in[2], r, y[0], y[1], grads[0][0], grads[0][1], grads[0][2], grads[1][0]);
  prior_free_all(2, grads[1][1], grads[1][2]);
}

/* Which path a 2-D linear took: with the bias fused its output comes from the "linear" node itself, with the
 * separate add from an "add" node. Under autocast on a CPU with native bf16 it must be fused (otherwise the
 * bit-for-bit comparisons above would compare the separate add with itself). */
static void check_linear_bias_path(void) {
  int64_t sx[2] = {19, 16}, sw[2] = {17, 16}, m = 17;
  prior_tensor *x = prior_tensor_randn(2, sx, PRIOR_F32, prior_cpu()), *w = prior_tensor_randn(2, sw, PRIOR_F32, prior_cpu());
  prior_tensor *b = prior_tensor_randn(1, &m, PRIOR_F32, prior_cpu());
  prior_tensor_set_requires_grad(b, 1);
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  prior_tensor *y = prior_linear(x, w, b);
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  const char *want = prior_autocast_native(prior_cpu()) ? "linear" : "add";
  CHECK_MSG(y && y->grad_fn && strcmp(y->grad_fn->name, want) == 0, "linear with bias under autocast: node %s, want %s",
            y && y->grad_fn ? y->grad_fn->name : "(none)", want);
  prior_free_all(4, x, w, b, y);
}

static void test_linear_bias(void) {
  check_linear_bias_path();
  const int64_t s[3][4] = {{3, 37, 70}, {45, 70}, {45}};
  const int nd[3] = {3, 2, 1};
  check_case("linear with bias", apply_linear, NULL, 3, s, nd);
  check_linear_bias_fused(3, 37, 70, 45);
  check_linear_bias_fused(2, 256, 768, 3072); /* BERT's feed-forward */
  check_linear_bias_fused(2, 256, 3072, 768);
  check_linear_bias_fused(1, 1, 5, 1);
}

/* ---- conv2d ---- */

typedef struct conv_case {
  int64_t stride, pad;
} conv_case;

static prior_tensor *apply_conv(prior_tensor *const *in, void *ctx) {
  const conv_case *c = ctx;
  return prior_conv2d(in[0], in[1], in[2], c->stride, c->stride, c->pad, c->pad, 1, 1, 1);
}

static void test_conv(void) {
  conv_case c3 = {2, 1}, c1 = {1, 0};
  const int64_t s3[3][4] = {{2, 16, 15, 15}, {24, 16, 3, 3}, {24}};
  const int nd[3] = {4, 4, 1};
  check_case("conv 3x3 stride 2 (blocked formats)", apply_conv, &c3, 3, s3, nd);
  const int64_t s1[3][4] = {{2, 16, 28, 28}, {32, 16, 1, 1}, {32}};
  check_case("conv 1x1 on 28x28 (plain formats)", apply_conv, &c1, 3, s1, nd);
  /* channel and pixel counts that leave partial tiles in the NCHW <-> NHWC transposes */
  const int64_t so[3][4] = {{3, 5, 19, 13}, {7, 5, 3, 3}, {7}};
  check_case("conv 3x3 odd channels", apply_conv, &c3, 3, so, nd);
  const int64_t s7[3][4] = {{2, 1, 23, 17}, {18, 1, 7, 7}, {18}};
  conv_case stem = {2, 3};
  check_case("conv 7x7 one input channel", apply_conv, &stem, 3, s7, nd);
}

/* 1x1 convs without bias run as matrix products over NCHW (backend/cpu/conv_pointwise.c): several images (the
 * weight gradient adds one product per image), odd sizes, a 1 x 1 map (where NCHW and channels-last are the
 * same memory) and one input channel. */
static void test_conv_pointwise(void) {
  conv_case c1 = {1, 0};
  const int nd[3] = {4, 4, 0};
  const int64_t cases[][2][4] = {{{3, 16, 28, 28}, {32, 16, 1, 1}},
                                 {{2, 5, 7, 9}, {11, 5, 1, 1}},
                                 {{4, 6, 1, 1}, {9, 6, 1, 1}},
                                 {{3, 1, 4, 5}, {2, 1, 1, 1}}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const int64_t s[3][4] = {{cases[i][0][0], cases[i][0][1], cases[i][0][2], cases[i][0][3]},
                             {cases[i][1][0], cases[i][1][1], 1, 1}};
    char label[96];
    snprintf(label, sizeof label, "conv 1x1 without bias [%lld, %lld, %lld, %lld] (NCHW products)",
             (long long)s[0][0], (long long)s[0][1], (long long)s[0][2], (long long)s[0][3]);
    check_case(label, apply_conv, &c1, 2, s, nd);
  }
  /* stride 2: the 1x1 conv of the subsampled map when the stride divides the sides, oneDNN's otherwise */
  conv_case c1s2 = {2, 0};
  const int64_t even[3][4] = {{2, 8, 6, 10}, {12, 8, 1, 1}}, odd[3][4] = {{2, 8, 7, 9}, {12, 8, 1, 1}};
  check_case("conv 1x1 stride 2 without bias, even sides (subsampled NCHW products)", apply_conv, &c1s2, 2, even, nd);
  check_case("conv 1x1 stride 2 without bias, odd sides (channels-last kernels)", apply_conv, &c1s2, 2, odd, nd);
  /* the path: under native autocast the node keeps x as a contiguous NCHW bf16 copy */
  int64_t sx[4] = {2, 8, 6, 6}, sw[4] = {4, 8, 1, 1};
  prior_tensor *x = prior_tensor_randn(4, sx, PRIOR_F32, prior_cpu()), *w = prior_tensor_randn(4, sw, PRIOR_F32, prior_cpu());
  prior_tensor_set_requires_grad(w, 1);
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  prior_tensor *y = prior_conv2d(x, w, NULL, 1, 1, 0, 0, 1, 1, 1);
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  prior_tensor *kept = y && y->grad_fn ? y->grad_fn->saved[0] : NULL;
  if (prior_autocast_native(prior_cpu()))
    CHECK_MSG(kept && kept->dtype == PRIOR_BF16 && prior_tensor_is_contiguous(kept),
              "1x1 conv under autocast: backward keeps %s x, want a contiguous bf16 copy",
              kept ? prior_dtype_name((prior_dtype)kept->dtype) : "no");
  prior_free_all(3, x, w, y);
}

/* prior_upsample2x_conv2d under autocast against interpolate + conv2d under autocast: the same bf16 operands and
 * the same 2 x 2 sums, so the output and every gradient must agree bit for bit (with and without bias, odd
 * channel and pixel counts, a 1 x 1 kernel); the fused node must be the one taken, and with autocast off the op is
 * the two ops. */
static void check_upsample_conv(const int64_t *sx, const int64_t *sw, int with_bias, int64_t pad) {
  int64_t o = sw[0];
  prior_tensor *in[3] = {prior_tensor_randn(4, sx, PRIOR_F32, prior_cpu()), prior_tensor_randn(4, sw, PRIOR_F32, prior_cpu()),
                         with_bias ? prior_tensor_randn(1, &o, PRIOR_F32, prior_cpu()) : NULL};
  prior_tensor *y[2] = {0}, *grads[2][3] = {{0}};
  prior_tensor *r = NULL;
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  prior_empty_cache(prior_cpu()); /* the fused op, first, gets fresh blocks: none holds the answer already */
  for (int fused = 1; fused >= 0; fused--) {
    for (int i = 0; i < 3; i++)
      if (in[i]) prior_tensor_set_requires_grad(in[i], 1);
    if (fused) {
      y[1] = prior_upsample2x_conv2d(in[0], in[1], in[2], pad);
    } else {
      prior_tensor *up = prior_interpolate(in[0], 2 * sx[2], 2 * sx[3], PRIOR_INTERP_NEAREST, 0);
      y[0] = prior_conv2d(up, in[1], in[2], 1, 1, pad, pad, 1, 1, 1);
      prior_tensor_free(up);
    }
    CHECK_MSG(y[fused] != NULL, "upsample2x_conv2d (fused %d): %s", fused, prior_error_message());
    if (!y[fused]) break;
    if (!r) r = prior_tensor_randn(y[fused]->ndim, y[fused]->shape, PRIOR_F32, prior_cpu());
    CHECK_OK(prior_backward(y[fused], r, 0));
    for (int i = 0; i < 3; i++)
      if (in[i]) {
        grads[fused][i] = prior_tensor_clone_raw(in[i]->grad);
        prior_tensor_zero_grad(in[i]);
      }
  }
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  if (y[0] && y[1]) {
    if (prior_autocast_native(prior_cpu()))
      CHECK_MSG(y[1]->grad_fn && strcmp(y[1]->grad_fn->name, "upsample2x_conv2d") == 0, "upsample2x_conv2d: node %s",
                y[1]->grad_fn ? y[1]->grad_fn->name : "(none)");
    char label[96];
    snprintf(label, sizeof label, "upsample2x_conv2d [%lld, %lld, %lld, %lld] x [%lld, %lld, %lld, %lld]%s",
             (long long)sx[0], (long long)sx[1], (long long)sx[2], (long long)sx[3], (long long)sw[0],
             (long long)sw[1], (long long)sw[2], (long long)sw[3], with_bias ? " + bias" : "");
    CHECK_MSG(max_rel_diff(y[1], y[0]) == 0, "%s: output differs by %.3g", label, max_rel_diff(y[1], y[0]));
    const char *names[3] = {"x", "weight", "bias"};
    for (int i = 0; i < 3; i++)
      if (grads[0][i] || grads[1][i])
        CHECK_MSG(grads[0][i] && grads[1][i] && max_rel_diff(grads[1][i], grads[0][i]) == 0,
                  "%s: %s gradient differs by %.3g", label, names[i],
                  grads[0][i] && grads[1][i] ? max_rel_diff(grads[1][i], grads[0][i]) : -1.0);
  }
  prior_free_all(6, in[0], in[1], in[2], r, y[0], y[1]);
  prior_free_all(6, grads[0][0], grads[0][1], grads[0][2], grads[1][0], grads[1][1], grads[1][2]);
}

static void test_upsample_conv(void) {
  const int64_t x1[4] = {2, 16, 7, 9}, w1[4] = {8, 16, 3, 3};
  check_upsample_conv(x1, w1, 0, 1);
  check_upsample_conv(x1, w1, 1, 1);
  const int64_t x2[4] = {1, 5, 6, 4}, w2[4] = {3, 5, 3, 3};
  check_upsample_conv(x2, w2, 0, 1);
  const int64_t x3[4] = {3, 24, 5, 5}, w3[4] = {40, 24, 1, 1};
  check_upsample_conv(x3, w3, 1, 0);
  const int64_t x4[4] = {2, 1, 3, 3}, w4[4] = {2, 1, 3, 3};
  check_upsample_conv(x4, w4, 0, 1);
  /* autocast off: the two ops (the interpolate node feeds the conv) */
  prior_tensor *x = prior_tensor_randn(4, x1, PRIOR_F32, prior_cpu()), *w = prior_tensor_randn(4, w1, PRIOR_F32, prior_cpu());
  prior_tensor_set_requires_grad(x, 1);
  prior_tensor *y = prior_upsample2x_conv2d(x, w, NULL, 1);
  CHECK_MSG(y && y->grad_fn && strcmp(y->grad_fn->name, "conv2d") == 0, "upsample2x_conv2d without autocast: node %s",
            y && y->grad_fn ? y->grad_fn->name : "(none)");
  prior_free_all(3, x, w, y);
}

/* The transposes that replace oneDNN's NCHW <-> NHWC reorders: every element lands where the index arithmetic
 * says, and the bf16 one rounds as prior_bf16_round (to nearest even, NaN kept, subnormals rounded, overflow to
 * infinity), both in whole 16 x 16 tiles (vector registers) and in the partial tiles at the edges. */
static void test_channels_last_transposes(void) {
  const int64_t sizes[][3] = {{2, 3, 35}, {1, 17, 16}, {3, 64, 49}, {1, 1, 5}, {2, 40, 1}};
  for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
    int64_t n = sizes[t][0], c = sizes[t][1], hw = sizes[t][2], total = n * c * hw;
    float *src = malloc(sizeof(float) * (size_t)total), *nhwc = malloc(sizeof(float) * (size_t)total);
    float *back = malloc(sizeof(float) * (size_t)total);
    uint16_t *b16 = malloc(sizeof(uint16_t) * (size_t)total);
    for (int64_t i = 0; i < total; i++) src[i] = (float)i * 1.0009765625f + 0.3f; /* not bf16-exact */
    src[total / 2] = NAN;
    src[total / 3] = 1.5e-39f;  /* subnormal: rounded, not flushed */
    src[total / 4] = -3.4e38f;  /* rounds up past the largest bf16 to -inf */
    src[total - 1] = -0.0f;
    const uint32_t ties[2] = {0x3f818000u, 0x3f808000u}; /* halfway: rounds up to even, and down to even */
    memcpy(&src[total / 5], &ties[0], 4);
    memcpy(&src[total / 6], &ties[1], 4);
    prior_nchw_to_nhwc_f32(src, nhwc, n, c, hw);
    prior_nchw_to_nhwc_bf16(src, b16, n, c, hw);
    prior_nhwc_to_nchw_f32(nhwc, back, n, c, hw);
    int placed = 1, rounded = 1;
    for (int64_t b = 0; b < n; b++)
      for (int64_t k = 0; k < c; k++)
        for (int64_t p = 0; p < hw; p++) {
          int64_t from = (b * c + k) * hw + p, to = (b * hw + p) * c + k;
          placed &= memcmp(&nhwc[to], &src[from], 4) == 0;
          rounded &= b16[to] == prior_f32_to_bf16(src[from]);
        }
    CHECK_MSG(placed && rounded, "NCHW -> NHWC of [%lld, %lld, %lld]", (long long)n, (long long)c, (long long)hw);
    CHECK_MSG(memcmp(back, src, sizeof(float) * (size_t)total) == 0, "NHWC -> NCHW of [%lld, %lld, %lld]",
              (long long)n, (long long)c, (long long)hw);
    free(src), free(nhwc), free(back), free(b16);
  }
}

/* oneDNN's reorder between OIHW f32 and `to` (a blocked weight layout), as the reference for ours. */
static int dnnl_reorder_weights(const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *to, void *src, void *dst,
                                int to_blocked) {
  static dnnl_engine_t engine;
  static dnnl_stream_t stream;
  if (!engine && (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
                  dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success))
    return 0;
  const dnnl_memory_desc_t *from_md = to_blocked ? plain : to, *to_md = to_blocked ? to : plain;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_memory_t from, dest;
  if (dnnl_reorder_primitive_desc_create(&pd, from_md, engine, to_md, engine, NULL) != dnnl_success) return 0;
  int ok = dnnl_primitive_create(&prim, pd) == dnnl_success;
  dnnl_primitive_desc_destroy(pd);
  ok = ok && dnnl_memory_create(&from, from_md, engine, src) == dnnl_success &&
       dnnl_memory_create(&dest, to_md, engine, dst) == dnnl_success;
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, dest}};
  ok = ok && dnnl_primitive_execute(prim, stream, 2, args) == dnnl_success && dnnl_stream_wait(stream) == dnnl_success;
  dnnl_memory_destroy(from), dnnl_memory_destroy(dest), dnnl_primitive_destroy(prim);
  return ok;
}

/* Our conversions between OIHW f32 weights and the convolutions' blocked layouts (those oneDNN picked in the
 * paper-preset step, and f32's OIhw16i16o) against oneDNN's own reorder, bit for bit, padding included: shapes
 * with whole tiles, output or input channels cut short (padded tiles), 1x1 and 7x7 kernels, one channel. */
static void test_blocked_weight_layouts(void) {
  const struct { dnnl_format_tag_t tag; dnnl_data_type_t dt; const char *name; } formats[] = {
      {dnnl_AcdB16b32a2b, dnnl_bf16, "AcdB16b32a2b bf16"}, {dnnl_AcdB16b64a2b, dnnl_bf16, "AcdB16b64a2b bf16"},
      {dnnl_ABcd16a16b2a, dnnl_bf16, "ABcd16a16b2a bf16"}, {dnnl_AcdB16b16a2b, dnnl_bf16, "AcdB16b16a2b bf16"},
      {dnnl_ABcd16b16a, dnnl_f32, "ABcd16b16a f32"},       {dnnl_Acdb16a, dnnl_bf16, "Acdb16a bf16"}};
  const int64_t shapes[][4] = {{64, 64, 3, 3}, {48, 96, 3, 3}, {128, 256, 1, 1}, {64, 40, 3, 3},
                               {1, 48, 3, 3},  {64, 1, 7, 7},  {33, 17, 2, 3}};
  for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
      dnnl_dims_t dims = {shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3]};
      dnnl_memory_desc_t plain, blocked;
      CHECK(dnnl_memory_desc_init_by_tag(&plain, 4, dims, dnnl_f32, dnnl_abcd) == dnnl_success);
      CHECK(dnnl_memory_desc_init_by_tag(&blocked, 4, dims, formats[f].dt, formats[f].tag) == dnnl_success);
      prior_blocked_weights l;
      CHECK_MSG(prior_blocked_weights_layout(&blocked, &l), "%s is a blocked weight layout", formats[f].name);
      int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
      size_t bytes = dnnl_memory_desc_get_size(&blocked);
      float *w = malloc(sizeof(float) * (size_t)n), *back = malloc(sizeof(float) * (size_t)n);
      float *back_ref = malloc(sizeof(float) * (size_t)n);
      void *ours = malloc(bytes), *ref = malloc(bytes);
      for (int64_t i = 0; i < n; i++) w[i] = (float)(i % 977) * 1.0009765625f - 300.3f; /* not bf16-exact */
      memset(ours, 0x5a, bytes); /* padding must be written, not left */
      prior_weights_to_blocked(w, ours, formats[f].dt == dnnl_bf16, &l);
      CHECK(dnnl_reorder_weights(&plain, &blocked, w, ref, 1));
      CHECK_MSG(memcmp(ours, ref, bytes) == 0, "OIHW -> %s of [%lld, %lld, %lld, %lld]", formats[f].name,
                (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)dims[3]);
      if (formats[f].dt == dnnl_f32) { /* the way back, as diff weights take it */
        for (size_t i = 0; i < bytes / 4; i++) ((float *)ref)[i] = (float)i * 0.5f;
        prior_weights_from_blocked(ref, back, &l);
        CHECK(dnnl_reorder_weights(&plain, &blocked, ref, back_ref, 0));
        CHECK_MSG(memcmp(back, back_ref, sizeof(float) * (size_t)n) == 0, "%s -> OIHW of [%lld, %lld, %lld, %lld]",
                  formats[f].name, (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)dims[3]);
      }
      free(w), free(back), free(back_ref), free(ours), free(ref);
    }
}

/* A graph recorded under autocast keeps bf16 operand copies for backward; turning autocast off before backward
 * must not change the gradients (the kept copies are still read as bf16). */
static void test_backward_after_switch_off(void) {
  int64_t sa[2] = {33, 48}, sb[2] = {48, 20};
  prior_tensor *a = prior_tensor_randn(2, sa, PRIOR_F32, prior_cpu()), *b = prior_tensor_randn(2, sb, PRIOR_F32, prior_cpu());
  prior_tensor_set_requires_grad(a, 1);
  prior_tensor_set_requires_grad(b, 1);
  prior_tensor *ga[2] = {0}, *gb[2] = {0};
  for (int off = 0; off < 2; off++) {
    CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
    prior_tensor *y = prior_matmul(a, b);
    if (off) CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
    prior_tensor *r = prior_tensor_ones(2, y->shape, PRIOR_F32, prior_cpu());
    CHECK_OK(prior_backward(y, r, 0));
    CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
    ga[off] = prior_tensor_clone_raw(a->grad), gb[off] = prior_tensor_clone_raw(b->grad);
    prior_tensor_zero_grad(a);
    prior_tensor_zero_grad(b);
    prior_free_all(2, y, r);
  }
  CHECK_MSG(max_rel_diff(ga[1], ga[0]) == 0 && max_rel_diff(gb[1], gb[0]) == 0,
            "backward after autocast was switched off differs: %.3g / %.3g", max_rel_diff(ga[1], ga[0]),
            max_rel_diff(gb[1], gb[0]));
  prior_free_all(6, a, b, ga[0], ga[1], gb[0], gb[1]);
}

/* ---- bf16 operands made by their producers ---- */

/* Ops that write a product's bf16 operand themselves under autocast (gelu_for_product, the attention
 * probabilities' softmax + dropout, autocast_operand shared by two products) against the f32 op followed by the
 * product's own conversion: the product's output and every leaf's gradient bit for bit, and the operand really
 * bf16 where the CPU computes bf16 natively. */
enum { PRODUCER_GELU, PRODUCER_SOFTMAX_DROPOUT, PRODUCER_SHARED };

typedef struct producer_run {
  prior_tensor *y, *grads[3];
  int operand_bf16;
} producer_run;

static producer_run run_producer(int kind, int fused, prior_tensor *const *leaves, prior_tensor *r) {
  producer_run o = {0};
  prior_tensor *l[3];
  for (int i = 0; i < 3; i++) {
    l[i] = prior_tensor_clone_raw(leaves[i]);
    prior_tensor_set_requires_grad(l[i], 1);
  }
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  prior_tensor *operand = NULL, *y = NULL;
  if (kind == PRODUCER_GELU) { /* x [2, 37, 40], weight [45, 40], bias [45] */
    operand = fused ? prior_gelu_for_product(l[0]) : prior_gelu(l[0]);
    y = prior_linear(operand, l[1], l[2]);
  } else if (kind == PRODUCER_SOFTMAX_DROPOUT) { /* scores [2, 3, 19, 33], values [2, 3, 33, 16], unused */
    int64_t sm[4] = {2, 1, 1, 33};
    prior_tensor *mask = prior_tensor_zeros(4, sm, PRIOR_F32, prior_cpu());
    for (int64_t j = 30; j < 33; j++) prior_tensor_set(mask, (int64_t[]){1, 0, 0, j}, -10000.0);
    prior_rng_seed(7);
    operand = fused ? prior_scaled_masked_softmax_dropout_for_product(l[0], 0.25, mask, 0.1, 1)
                    : prior_scaled_masked_softmax_dropout(l[0], 0.25, mask, 0.1, 1);
    y = prior_matmul(operand, l[1]);
    prior_tensor_free(mask);
  } else { /* x [2, 21, 40] under two projections [30, 40] (with bias [30]) and [30, 40] */
    operand = fused ? prior_autocast_operand(l[0]) : prior_tensor_retain(l[0]);
    prior_tensor *y1 = prior_linear(operand, l[1], l[2]), *y2 = prior_linear(operand, l[1], NULL);
    y = prior_sub(y1, y2);
    prior_free_all(2, y1, y2);
  }
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  CHECK_MSG(y != NULL, "producer %d: forward failed: %s", kind, prior_error_message());
  if (y) CHECK_OK(prior_backward(y, r, 0));
  o.y = y;
  o.operand_bf16 = operand && operand->dtype == PRIOR_BF16;
  for (int i = 0; i < 3; i++) o.grads[i] = l[i]->grad ? prior_tensor_clone_raw(l[i]->grad) : NULL;
  prior_free_all(4, operand, l[0], l[1], l[2]);
  return o;
}

static void check_producer(int kind, const char *label, const int64_t (*shapes)[4], const int *ndims,
                           const int64_t *out_shape, int out_ndim) {
  prior_tensor *leaves[3];
  for (int i = 0; i < 3; i++) leaves[i] = leaf_uniform(ndims[i], shapes[i], -2, 2);
  prior_tensor *r64 = leaf_uniform(out_ndim, out_shape, -1, 1);
  prior_tensor *r = prior_tensor_to_dtype_raw(r64, PRIOR_F32);
  prior_tensor *l32[3];
  for (int i = 0; i < 3; i++) l32[i] = prior_tensor_to_dtype_raw(leaves[i], PRIOR_F32);
  producer_run plain = run_producer(kind, 0, l32, r), fused = run_producer(kind, 1, l32, r);
  CHECK_MSG(!plain.operand_bf16, "%s: the plain op gave a bf16 operand", label);
  CHECK_MSG(fused.operand_bf16 == prior_autocast_native(prior_cpu()), "%s: operand bf16 %d, native bf16 %d", label,
            fused.operand_bf16, prior_autocast_native(prior_cpu()));
  if (plain.y && fused.y)
    CHECK_MSG(max_rel_diff(fused.y, plain.y) == 0, "%s: product differs by %.3g", label, max_rel_diff(fused.y, plain.y));
  for (int i = 0; i < 3; i++)
    if (plain.grads[i] || fused.grads[i])
      CHECK_MSG(plain.grads[i] && fused.grads[i] && max_rel_diff(fused.grads[i], plain.grads[i]) == 0,
                "%s: gradient of leaf %d differs by %.3g", label, i,
                plain.grads[i] && fused.grads[i] ? max_rel_diff(fused.grads[i], plain.grads[i]) : INFINITY);
  for (int i = 0; i < 3; i++) prior_free_all(4, leaves[i], l32[i], plain.grads[i], fused.grads[i]);
  prior_free_all(4, r64, r, plain.y, fused.y);
}

static void test_operand_producers(void) {
  const int64_t sg[3][4] = {{2, 37, 40}, {45, 40}, {45}}, og[3] = {2, 37, 45};
  const int ndg[3] = {3, 2, 1};
  check_producer(PRODUCER_GELU, "gelu_for_product", sg, ndg, og, 3);
  const int64_t ss[3][4] = {{2, 3, 19, 33}, {2, 3, 33, 16}, {1}}, os[4] = {2, 3, 19, 16};
  const int nds[3] = {4, 4, 1};
  check_producer(PRODUCER_SOFTMAX_DROPOUT, "scaled_masked_softmax_dropout_for_product", ss, nds, os, 4);
  const int64_t sh[3][4] = {{2, 21, 40}, {30, 40}, {30}}, oh[3] = {2, 21, 30};
  const int ndh[3] = {3, 2, 1};
  check_producer(PRODUCER_SHARED, "autocast_operand", sh, ndh, oh, 3);

  /* missing inputs are reported */
  CHECK_ERR(prior_autocast_operand(NULL), PRIOR_ERR_ARGUMENT, "autocast_operand");
  CHECK_ERR(prior_gelu_for_product(NULL), PRIOR_ERR_ARGUMENT, "gelu");
  CHECK(prior_scaled_masked_softmax_dropout_for_product(NULL, 1.0, NULL, 0.1, 1) == NULL);

  /* a bf16 operand with an f32 one only while autocast would convert the f32 one */
  int64_t s2[2] = {20, 20};
  prior_tensor *a = prior_tensor_randn(2, s2, PRIOR_F32, prior_cpu()), *b = prior_tensor_randn(2, s2, PRIOR_F32, prior_cpu());
  prior_tensor *ab = prior_tensor_to_dtype_raw(a, PRIOR_BF16), *b64 = prior_tensor_to_dtype_raw(b, PRIOR_F64);
  CHECK(prior_matmul(ab, b) == NULL);
  CHECK_OK(prior_autocast_set(1, PRIOR_BF16));
  CHECK(prior_matmul(ab, b64) == NULL);
  CHECK(prior_linear(ab, b, b64) == NULL); /* the bias must be the weight's dtype */
  prior_tensor *ok = prior_matmul(ab, b);
  CHECK_OK(prior_autocast_set(0, PRIOR_BF16));
  CHECK_MSG(ok != NULL && ok->dtype == PRIOR_F32, "bf16 x f32 under autocast: %s", ok ? "not f32" : prior_error_message());
  prior_free_all(5, a, b, ab, b64, ok);
}

/* The sixteen-lane rounding (core/bf16.h) against the scalar one: every high half with low halves at and around
 * the rounding tie, zero and all ones (ties to even, carries into the exponent, Inf, NaN payloads, denormals). */
static void test_bf16_round16(void) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
  const uint32_t lows[8] = {0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff, 0x4000, 0xc000};
  int64_t wrong = 0;
  for (uint32_t hi = 0; hi < 0x10000; hi += 2) {
    float in[16];
    uint16_t out[16];
    for (int lane = 0; lane < 16; lane++) {
      uint32_t u = ((hi + (uint32_t)(lane >> 3)) << 16) | lows[lane & 7];
      memcpy(&in[lane], &u, 4);
    }
    _mm256_storeu_si256((__m256i *)out, prior_bf16_round16(_mm512_loadu_ps(in)));
    for (int lane = 0; lane < 16; lane++) wrong += out[lane] != prior_bf16_round(in[lane]);
  }
  CHECK_MSG(wrong == 0, "prior_bf16_round16 differs from prior_bf16_round in %lld of 524288 values", (long long)wrong);
#endif
}

static void test_switch(void) {
  CHECK_ERR(prior_autocast_set(1, PRIOR_F16), PRIOR_ERR_UNSUPPORTED, "only bf16");
  CHECK(prior_autocast_enabled() == 0);
}

int main(void) {
  test_switch();
  test_bf16_round16();
  test_matmul();
  test_small_products();
  test_linear_bias();
  test_operand_producers();
  test_conv();
  test_conv_pointwise();
  test_upsample_conv();
  test_channels_last_transposes();
  test_blocked_weight_layouts();
  test_backward_after_switch_off();
  return check_summary("test_autocast_cpu");
}
