/* Pooling, interpolation and padding: gradient checks for each mode and option (padding, strides, non-
 * divisible adaptive sizes, nearest / bilinear with align_corners both ways, up and down, negative pads),
 * non-contiguous inputs, PyTorch fixtures for the subtle index rules, f32 against f64, and error paths. */
#include "dense_util.h"

typedef struct pool_cfg {
  int kind; /* 0 max, 1 avg, 2 adaptive, 3 interpolate */
  int64_t k[2], s[2], p[2];
  int64_t out[2];
  int mode, align;
} pool_cfg;

static prior_tensor *apply_pool(prior_tensor *const *in, void *ctx) {
  const pool_cfg *c = ctx;
  switch (c->kind) {
    case 0: return prior_max_pool2d(in[0], c->k[0], c->k[1], c->s[0], c->s[1], c->p[0], c->p[1]);
    case 1: return prior_avg_pool2d(in[0], c->k[0], c->k[1], c->s[0], c->s[1], c->p[0], c->p[1]);
    case 2: return prior_adaptive_avg_pool2d(in[0], c->out[0], c->out[1]);
    default: return prior_interpolate(in[0], c->out[0], c->out[1], (prior_interp_mode)c->mode, c->align);
  }
}

typedef struct pad_cfg {
  int n;
  int64_t pads[8];
  double value;
} pad_cfg;

static prior_tensor *apply_pad(prior_tensor *const *in, void *ctx) {
  const pad_cfg *c = ctx;
  return prior_pad(in[0], c->n, c->pads, c->value);
}

static void grad_case(const char *label, pool_cfg cfg, int64_t n, int64_t c, int64_t h, int64_t w) {
  int64_t s[4] = {n, c, h, w};
  prior_tensor *x = leaf_uniform(4, s, -1, 1), *xs = leaf_uniform_strided(4, s, -1, 1);
  prior_tensor *in1[1] = {x}, *in2[1] = {xs};
  GRADCHECK(label, apply_pool, &cfg, 1, in1);
  GRADCHECK(label, apply_pool, &cfg, 1, in2);
  check_f32_vs_f64(label, apply_pool, &cfg, 1, in1, 1e-5);
  prior_free_all(2, x, xs);
}

static void fixture_case(const char *label, const char *input, const char *expected, pool_cfg cfg, double tol) {
  prior_tensor *x = load_fixture(input), *e = load_fixture(expected);
  if (x && e) {
    prior_tensor *in[1] = {x};
    prior_tensor *y = apply_pool(in, &cfg);
    CHECK_MSG(y && max_rel_diff(y, e) <= tol, "%s vs PyTorch: %s (err %.3g)", label, y ? "values differ" : prior_error_message(),
              y ? max_rel_diff(y, e) : 0.0);
    /* the f32 kernels follow the same index rules (nearest computes its scale in float, as PyTorch) */
    prior_tensor *x32 = prior_tensor_to_dtype_raw(x, PRIOR_F32);
    prior_tensor *in32[1] = {x32};
    prior_tensor *y32 = apply_pool(in32, &cfg);
    CHECK_MSG(y32 && max_rel_diff(y32, e) <= 1e-6, "%s f32 vs PyTorch", label);
    prior_free_all(3, y, x32, y32);
  }
  prior_free_all(2, x, e);
}

static void check_fixtures(void) {
  fixture_case("max_pool2d padded", "pool_x", "maxpool_y", (pool_cfg){.kind = 0, .k = {3, 2}, .s = {2, 2}, .p = {1, 1}}, 0);
  fixture_case("avg_pool2d padded", "pool_x", "avgpool_y", (pool_cfg){.kind = 1, .k = {3, 3}, .s = {2, 3}, .p = {1, 1}}, 1e-15);
  fixture_case("adaptive 5x4", "pool_x", "adaptive_5x4_y", (pool_cfg){.kind = 2, .out = {5, 4}}, 1e-15);
  fixture_case("adaptive 3x7", "pool_x", "adaptive_3x7_y", (pool_cfg){.kind = 2, .out = {3, 7}}, 1e-15);
  int64_t sizes[3][2] = {{8, 11}, {3, 4}, {10, 14}};
  for (int i = 0; i < 3; i++) {
    char name[64], label[96];
    pool_cfg c = {.kind = 3, .out = {sizes[i][0], sizes[i][1]}, .mode = PRIOR_INTERP_NEAREST};
    snprintf(name, sizeof name, "interp_nearest_%lldx%lld", (long long)sizes[i][0], (long long)sizes[i][1]);
    fixture_case(name, "interp_x", name, c, 0);
    for (int ac = 0; ac < 2; ac++) {
      c.mode = PRIOR_INTERP_BILINEAR, c.align = ac;
      snprintf(name, sizeof name, "interp_bilinear_%lldx%lld_ac%d", (long long)sizes[i][0], (long long)sizes[i][1], ac);
      snprintf(label, sizeof label, "%s", name);
      fixture_case(label, "interp_x", name, c, 1e-14);
    }
  }
}

static void check_pad(void) {
  int64_t s[3] = {2, 4, 5}, s1[1] = {4};
  prior_tensor *x = leaf_uniform(3, s, -1, 1), *xs = leaf_uniform_strided(3, s, -1, 1), *v = leaf_uniform(1, s1, -1, 1);
  pad_cfg last = {2, {1, 2}, 0.5}, two = {4, {2, 0, 1, 3}, -1.0}, crop = {4, {-1, 2, 1, -2}, 0.0};
  pad_cfg all = {6, {0, -2, -1, 1, 1, 0}, 3.0}, none = {0, {0}, 0.0};
  prior_tensor *in[1] = {x}, *ins[1] = {xs}, *inv[1] = {v};
  GRADCHECK("pad last dim", apply_pad, &last, 1, in);
  GRADCHECK("pad two dims, strided", apply_pad, &two, 1, ins);
  GRADCHECK("pad negative (crop)", apply_pad, &crop, 1, in);
  GRADCHECK("pad all dims", apply_pad, &all, 1, ins);
  GRADCHECK("pad 1-D", apply_pad, &last, 1, inv);
  GRADCHECK("pad nothing", apply_pad, &none, 1, in);
  /* values: x [2, 4, 5] padded (2, 0) on W and (1, 3) on H with -1 */
  prior_tensor *y = prior_pad(x, two.n, two.pads, two.value);
  CHECK(y && y->shape[0] == 2 && y->shape[1] == 8 && y->shape[2] == 7);
  double a, b;
  int64_t i0[3] = {1, 0, 3}, i1[3] = {1, 2, 4}, j1[3] = {1, 1, 2}, i2[3] = {0, 7, 6};
  prior_tensor_get(y, i0, &a);
  CHECK_NEAR(a, -1.0, 0);
  prior_tensor_get(y, i1, &a);
  prior_tensor_get(x, j1, &b);
  CHECK_NEAR(a, b, 0);
  prior_tensor_get(y, i2, &a);
  CHECK_NEAR(a, -1.0, 0);
  /* crop: W (-1, 2) -> 6, H (1, -2) -> 3; y[0, 1, 0] = x[0, 0, 1] */
  prior_tensor *z = prior_pad(x, crop.n, crop.pads, 0.0);
  CHECK(z && z->shape[1] == 3 && z->shape[2] == 6);
  int64_t zi[3] = {0, 1, 0}, xi[3] = {0, 0, 1};
  prior_tensor_get(z, zi, &a);
  prior_tensor_get(x, xi, &b);
  CHECK_NEAR(a, b, 0);
  pad_cfg odd = {3, {1, 1, 1}, 0}, toomany = {8, {0}, 0}, tooneg = {2, {-3, -3}, 0};
  CHECK_ERR(apply_pad(in, &odd), PRIOR_ERR_ARGUMENT, "even");
  CHECK_ERR(apply_pad(in, &toomany), PRIOR_ERR_ARGUMENT, "at most 6");
  CHECK_ERR(apply_pad(in, &tooneg), PRIOR_ERR_SHAPE, "below zero");
  prior_free_all(5, x, xs, v, y, z);
}

/* A NaN wins, and with several NaNs the last one (PyTorch's rule "v > max or v is NaN"); its gradient goes there. */
static void check_max_pool_nan(void) {
  double v[4] = {1.0, NAN, 3.0, NAN};
  int64_t s[4] = {1, 1, 2, 2};
  prior_tensor *x = prior_tensor_from_data(v, 4, s, PRIOR_F64, prior_cpu());
  prior_tensor_set_requires_grad(x, 1);
  prior_tensor *y = prior_max_pool2d(x, 2, 2, 2, 2, 0, 0);
  double out = 0, g[4] = {0};
  CHECK(y && prior_tensor_item(y, &out) == PRIOR_OK && isnan(out));
  CHECK_OK(prior_backward(y, NULL, 0));
  CHECK(x->grad && prior_tensor_to_f64_array(x->grad, g) == PRIOR_OK);
  CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 1);
  prior_free_all(2, x, y);
}

/* Nearest doubling in f32 takes its own path (the CCR decoder's up-sampling): it must give the general loop's
 * bits. Forward: each output pixel is input pixel (oh / 2, ow / 2). Backward: the general loop scatters each output
 * gradient into its source pixel in row-major order, starting from zero; the expected values are accumulated
 * that way here, on a non-contiguous gradient as well. */
static void check_nearest_double_f32(void) {
  int64_t n = 2, c = 3, h = 5, w = 7, oh = 10, ow = 14, s[4] = {2, 3, 5, 7}, gs[4] = {2, 3, 14, 10};
  prior_tensor *x = prior_tensor_randn(4, s, PRIOR_F32, prior_cpu());
  prior_tensor_set_requires_grad(x, 1);
  prior_tensor *y = prior_interpolate(x, oh, ow, PRIOR_INTERP_NEAREST, 0);
  prior_tensor *gt = prior_tensor_randn(4, gs, PRIOR_F32, prior_cpu());
  prior_tensor *g = prior_transpose(gt, 2, 3); /* [2, 3, 10, 14], strided */
  CHECK(y && g && !prior_tensor_is_contiguous(g));
  if (!y || !g) return;
  const float *xv = prior_tensor_data(x), *yv = prior_tensor_data(y);
  int exact = 1;
  for (int64_t p = 0; p < n * c; p++)
    for (int64_t i = 0; i < oh; i++)
      for (int64_t j = 0; j < ow; j++) exact &= yv[(p * oh + i) * ow + j] == xv[(p * h + i / 2) * w + j / 2];
  CHECK_MSG(exact, "forward repeats each pixel 2 x 2");
  CHECK_OK(prior_backward(y, g, 0));
  float want[2 * 3 * 5 * 7] = {0};
  const float *gv = prior_tensor_data(gt); /* g[p][i][j] = gt[p][j][i] */
  for (int64_t p = 0; p < n * c; p++)
    for (int64_t i = 0; i < oh; i++)
      for (int64_t j = 0; j < ow; j++) want[(p * h + i / 2) * w + j / 2] += gv[(p * ow + j) * oh + i];
  const float *gx = x->grad ? prior_tensor_data(x->grad) : NULL;
  exact = gx != NULL;
  for (int64_t k = 0; gx && k < n * c * h * w; k++) exact &= gx[k] == want[k];
  CHECK_MSG(exact, "backward sums each 2 x 2 block in the general loop's order");
  prior_free_all(4, x, y, gt, g);
}

static void check_errors(void) {
  int64_t s[4] = {1, 2, 4, 4}, s3[3] = {2, 4, 4};
  prior_tensor *x = leaf_uniform(4, s, -1, 1), *x3 = leaf_uniform(3, s3, -1, 1);
  CHECK_ERR(prior_max_pool2d(x, 7, 7, 1, 1, 1, 1), PRIOR_ERR_SHAPE, "larger than the padded input");
  CHECK_ERR(prior_avg_pool2d(x, 2, 2, 1, 1, 2, 0), PRIOR_ERR_ARGUMENT, "at most half");
  CHECK_ERR(prior_max_pool2d(x, 2, 2, 0, 1, 0, 0), PRIOR_ERR_ARGUMENT, "stride");
  CHECK_ERR(prior_max_pool2d(x3, 2, 2, 1, 1, 0, 0), PRIOR_ERR_SHAPE, "");
  CHECK_ERR(prior_avg_pool2d(x3, 2, 2, 1, 1, 0, 0), PRIOR_ERR_SHAPE, "");
  CHECK_ERR(prior_adaptive_avg_pool2d(x3, 2, 2), PRIOR_ERR_SHAPE, "");
  CHECK_ERR(prior_adaptive_avg_pool2d(x, 0, 2), PRIOR_ERR_SHAPE, "output size");
  CHECK_ERR(prior_interpolate(x3, 2, 2, PRIOR_INTERP_NEAREST, 0), PRIOR_ERR_SHAPE, "");
  CHECK_ERR(prior_interpolate(x, 0, 2, PRIOR_INTERP_BILINEAR, 0), PRIOR_ERR_SHAPE, "output size");
  CHECK_ERR(prior_interpolate(x, 2, 2, (prior_interp_mode)7, 0), PRIOR_ERR_ARGUMENT, "mode");
  CHECK_ERR(prior_interpolate(x, 2, 2, PRIOR_INTERP_NEAREST, 1), PRIOR_ERR_ARGUMENT, "align_corners");
  prior_free_all(2, x, x3);
}

int main(void) {
  check_nearest_double_f32();
  grad_case("max_pool2d 2x2/2", (pool_cfg){.kind = 0, .k = {2, 2}, .s = {2, 2}, .p = {0, 0}}, 2, 2, 4, 6);
  grad_case("max_pool2d 3x3/2 pad 1", (pool_cfg){.kind = 0, .k = {3, 3}, .s = {2, 2}, .p = {1, 1}}, 1, 2, 5, 6);
  grad_case("max_pool2d 3x2 stride (1,2) pad (1,0)", (pool_cfg){.kind = 0, .k = {3, 2}, .s = {1, 2}, .p = {1, 0}}, 1, 3, 4, 5);
  grad_case("avg_pool2d 2x2/2", (pool_cfg){.kind = 1, .k = {2, 2}, .s = {2, 2}, .p = {0, 0}}, 2, 2, 4, 6);
  grad_case("avg_pool2d 3x3/2 pad 1", (pool_cfg){.kind = 1, .k = {3, 3}, .s = {2, 2}, .p = {1, 1}}, 1, 2, 5, 6);
  grad_case("avg_pool2d 3x2 stride (1,2) pad (1,1)", (pool_cfg){.kind = 1, .k = {3, 2}, .s = {1, 2}, .p = {1, 1}}, 1, 3, 4, 5);
  grad_case("adaptive 5x7 -> 3x2", (pool_cfg){.kind = 2, .out = {3, 2}}, 2, 2, 5, 7);
  grad_case("adaptive 3x4 -> 5x6 (up)", (pool_cfg){.kind = 2, .out = {5, 6}}, 1, 2, 3, 4);
  grad_case("adaptive global", (pool_cfg){.kind = 2, .out = {1, 1}}, 2, 3, 4, 5);
  int64_t outs[3][2] = {{7, 9}, {2, 3}, {8, 8}};
  for (int i = 0; i < 3; i++) {
    char label[96];
    snprintf(label, sizeof label, "interpolate nearest 4x5 -> %lldx%lld", (long long)outs[i][0], (long long)outs[i][1]);
    grad_case(label, (pool_cfg){.kind = 3, .out = {outs[i][0], outs[i][1]}, .mode = PRIOR_INTERP_NEAREST}, 1, 2, 4, 5);
    for (int ac = 0; ac < 2; ac++) {
      snprintf(label, sizeof label, "interpolate bilinear ac=%d 4x5 -> %lldx%lld", ac, (long long)outs[i][0],
               (long long)outs[i][1]);
      grad_case(label, (pool_cfg){.kind = 3, .out = {outs[i][0], outs[i][1]}, .mode = PRIOR_INTERP_BILINEAR, .align = ac},
                1, 2, 4, 5);
    }
  }
  grad_case("interpolate bilinear ac=1 to 1x1", (pool_cfg){.kind = 3, .out = {1, 1}, .mode = 1, .align = 1}, 1, 1, 3, 3);
  check_fixtures();
  check_pad();
  check_max_pool_nan();
  check_errors();
  return check_summary("test_pool");
}
