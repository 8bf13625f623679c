/* softmax / log_softmax, dropout / dropout2d, embedding, normalize and cosine_similarity: gradient checks in
 * f64 (contiguous and strided inputs), forward values against naive loops, f32 against f64, PyTorch fixtures
 * for the eps semantics, and error paths. */
#include "../fixtures/nn/nn_fixtures.h"
#include "nn_test_util.h"

typedef struct {
  int which;
  int64_t dim;
  double eps;
  int64_t pad;
  prior_tensor *idx;
} nn_case;

static prior_tensor *apply(prior_tensor *const *in, void *vctx) {
  const nn_case *c = vctx;
  switch (c->which) {
    case 0: return prior_softmax(in[0], c->dim);
    case 1: return prior_log_softmax(in[0], c->dim);
    case 2: return prior_normalize(in[0], c->dim, c->eps);
    case 3: return prior_cosine_similarity(in[0], in[1], c->dim, c->eps);
    case 4: return prior_embedding(in[0], c->idx, c->pad);
    default: { /* embedding with padding, positions holding the padding index masked out of the output, so
                * the numeric gradient of the padding row is zero too */
      prior_tensor *e = prior_embedding(in[0], c->idx, c->pad);
      prior_tensor *pad = prior_tensor_scalar((double)c->pad, PRIOR_I64, prior_cpu());
      prior_tensor *is_pad = prior_eq(c->idx, pad);
      prior_tensor *m = prior_unsqueeze(is_pad, -1);
      prior_tensor *out = prior_masked_fill(e, m, 0.0);
      prior_free_all(4, e, pad, is_pad, m);
      return out;
    }
  }
}

/* naive softmax of a [3, 4, 5] tensor along dim, in double */
static void naive_softmax(const double *x, double *y, int dim, int lg) {
  int64_t shape[3] = {3, 4, 5}, st[3] = {20, 5, 1};
  for (int64_t i = 0; i < 60; i++) {
    int64_t pos = (i / st[dim]) % shape[dim];
    int64_t base = i - pos * st[dim];
    double m = -INFINITY, s = 0;
    for (int64_t k = 0; k < shape[dim]; k++) m = fmax(m, x[base + k * st[dim]]);
    for (int64_t k = 0; k < shape[dim]; k++) s += exp(x[base + k * st[dim]] - m);
    y[i] = lg ? x[i] - m - log(s) : exp(x[i] - m) / s;
  }
}

/* softmax(x * scale + mask): gradient check in f64 (mask [B, 1, 1, K] and [B, 1, Q, K], none), and in f32 the
 * same bits as mul_scalar, add and softmax one by one, forward and backward, including a size above the
 * parallel threshold and a transposed input. */
typedef struct scaled_case {
  prior_tensor *mask;
  double scale;
} scaled_case;

static prior_tensor *apply_scaled(prior_tensor *const *in, void *ctx) {
  const scaled_case *c = ctx;
  return prior_scaled_masked_softmax(in[0], c->scale, c->mask);
}

static void check_scaled_masked_softmax(void) {
  const int64_t shapes[3][4] = {{2, 3, 5, 7}, {2, 12, 40, 64}, {2, 2, 6, 9}};
  for (int c = 0; c < 3; c++) {
    const int64_t *sh = shapes[c];
    int64_t key_mask[4] = {sh[0], 1, 1, sh[3]}, full_mask[4] = {sh[0], 1, sh[2], sh[3]};
    for (int mk = 0; mk < 3; mk++) {
      for (int dt = 0; dt < 2; dt++) {
        prior_dtype dtype = dt ? PRIOR_F64 : PRIOR_F32;
        prior_tensor *mask = NULL;
        if (mk) {
          mask = prior_tensor_empty(4, mk == 1 ? key_mask : full_mask, dtype, prior_cpu());
          CHECK_OK(prior_tensor_uniform_(mask, -3, 0));
        }
        scaled_case sc = {mask, 0.3}; /* not a power of two: the product rounds */
        if (dt && c == 0) {
          prior_tensor *x = leaf_uniform(4, sh, -3, 3);
          GRADCHECK("scaled_masked_softmax", apply_scaled, &sc, 1, &x);
          prior_tensor_free(x);
        }
        /* the fused op against the ops one by one, bit for bit */
        int64_t tsh[4] = {sh[0], sh[1], sh[3], sh[2]};
        prior_tensor *base = prior_tensor_empty(4, c == 2 ? tsh : sh, dtype, prior_cpu());
        CHECK_OK(prior_tensor_uniform_(base, -4, 4));
        prior_tensor *xv = c == 2 ? prior_transpose(base, 2, 3) : prior_tensor_retain(base);
        prior_tensor *g = prior_tensor_empty(4, sh, dtype, prior_cpu());
        CHECK_OK(prior_tensor_uniform_(g, -1, 1));
        prior_tensor *grads[2] = {0}, *outs[2] = {0};
        for (int way = 0; way < 2; way++) {
          prior_tensor *x = prior_tensor_empty(4, sh, dtype, prior_cpu());
          CHECK_OK(prior_tensor_copy_(x, xv));
          prior_tensor_set_requires_grad(x, 1);
          prior_tensor *in = prior_tensor_retain(x);
          if (way == 0) {
            outs[0] = prior_scaled_masked_softmax(in, sc.scale, mask);
          } else {
            prior_tensor *s1 = prior_mul_scalar(in, sc.scale), *s2 = mask ? prior_add(s1, mask) : prior_tensor_retain(s1);
            outs[1] = prior_softmax(s2, -1);
            prior_free_all(2, s1, s2);
          }
          CHECK_OK(prior_backward(outs[way], g, 0));
          grads[way] = prior_tensor_retain(x->grad);
          prior_free_all(2, x, in);
        }
        CHECK_MSG(max_diff_t(outs[0], outs[1]) == 0 && max_diff_t(grads[0], grads[1]) == 0,
                  "scaled_masked_softmax vs the ops one by one: case %d mask %d dtype %d", c, mk, dt);
        prior_free_all(8, mask, base, xv, g, outs[0], outs[1], grads[0], grads[1]);
      }
    }
  }
  prior_tensor *x = prior_tensor_zeros(2, (int64_t[]){3, 4}, PRIOR_F32, prior_cpu());
  prior_tensor *bad = prior_tensor_zeros(2, (int64_t[]){3, 5}, PRIOR_F32, prior_cpu());
  prior_tensor *x4 = prior_tensor_zeros(4, (int64_t[]){1, 1, 3, 4}, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_scaled_masked_softmax(x4, 1.0, bad), PRIOR_ERR_SHAPE, "");
  prior_tensor *y2 = prior_scaled_masked_softmax(x, 1.0, NULL); /* not 4-D: the ops one by one */
  CHECK(y2 != NULL);
  prior_free_all(4, x, bad, x4, y2);
}

/* The attention probabilities' softmax + dropout as one op: the same values, mask draws and gradients as the two
 * ops with the same seed, bit for bit (f32 and f64, with a key mask, rows whose length is no multiple of 8 so
 * that rows start mid-byte in the packed mask), the two ops when not training or p == 0, and an f64 gradient
 * check (the mask redrawn from the same seed on every call). */
typedef struct {
  prior_tensor *mask;
  double scale, p;
} softmax_dropout_case;

static prior_tensor *apply_softmax_dropout(prior_tensor *const *in, void *vctx) {
  const softmax_dropout_case *c = vctx;
  prior_rng_seed(5);
  return prior_scaled_masked_softmax_dropout(in[0], c->scale, c->mask, c->p, 1);
}

static void check_scaled_masked_softmax_dropout(void) {
  const int64_t shapes[2][4] = {{2, 3, 5, 7}, {2, 12, 40, 64}};
  for (int c = 0; c < 2; c++)
    for (int dt = 0; dt < 2; dt++)
      for (int mk = 0; mk < 2; mk++) {
        const int64_t *sh = shapes[c];
        prior_dtype dtype = dt ? PRIOR_F64 : PRIOR_F32;
        int64_t key_mask[4] = {sh[0], 1, 1, sh[3]};
        prior_tensor *mask = mk ? prior_tensor_empty(4, key_mask, dtype, prior_cpu()) : NULL;
        if (mask) CHECK_OK(prior_tensor_uniform_(mask, -3, 0));
        prior_tensor *x0 = prior_tensor_empty(4, sh, dtype, prior_cpu()), *g = prior_tensor_empty(4, sh, dtype, prior_cpu());
        CHECK_OK(prior_tensor_uniform_(x0, -4, 4));
        CHECK_OK(prior_tensor_uniform_(g, -1, 1));
        prior_tensor *outs[2] = {0}, *grads[2] = {0};
        for (int way = 0; way < 2; way++) {
          prior_tensor *x = prior_tensor_clone_raw(x0);
          prior_tensor_set_requires_grad(x, 1);
          prior_rng_seed(77);
          if (way == 0) {
            outs[0] = prior_scaled_masked_softmax_dropout(x, 0.3, mask, 0.25, 1);
          } else {
            prior_tensor *probs = prior_scaled_masked_softmax(x, 0.3, mask);
            outs[1] = prior_dropout(probs, 0.25, 1);
            prior_tensor_free(probs);
          }
          CHECK_OK(prior_backward(outs[way], g, 0));
          grads[way] = prior_tensor_retain(x->grad);
          prior_tensor_free(x);
        }
        CHECK_MSG(outs[0] && outs[0]->grad_fn && strcmp(outs[0]->grad_fn->name, "scaled_masked_softmax_dropout") == 0,
                  "softmax + dropout: the fused node was not taken");
        CHECK_MSG(max_diff_t(outs[0], outs[1]) == 0 && max_diff_t(grads[0], grads[1]) == 0,
                  "softmax + dropout vs the two ops: shape %d dtype %d mask %d", c, dt, mk);
        if (c == 0 && dt == 1) {
          softmax_dropout_case sc = {mask, 0.3, 0.4};
          prior_tensor *x = leaf_uniform(4, sh, -3, 3);
          GRADCHECK("scaled_masked_softmax_dropout", apply_softmax_dropout, &sc, 1, &x);
          prior_tensor_free(x);
        }
        prior_free_all(7, mask, x0, g, outs[0], outs[1], grads[0], grads[1]);
      }
  /* not training, or p == 0: the softmax itself */
  prior_tensor *x = prior_tensor_randn(4, (int64_t[]){1, 2, 3, 4}, PRIOR_F32, prior_cpu());
  prior_tensor *y = prior_scaled_masked_softmax(x, 0.5, NULL);
  prior_tensor *e = prior_scaled_masked_softmax_dropout(x, 0.5, NULL, 0.1, 0);
  prior_tensor *z = prior_scaled_masked_softmax_dropout(x, 0.5, NULL, 0.0, 1);
  CHECK_MSG(e && z && max_diff_t(e, y) == 0 && max_diff_t(z, y) == 0, "softmax + dropout in eval / p = 0");
  CHECK_ERR(prior_scaled_masked_softmax_dropout(x, 0.5, NULL, 1.5, 1), PRIOR_ERR_ARGUMENT, "probability");
  prior_tensor *m64 = prior_tensor_zeros(4, (int64_t[]){1, 1, 1, 4}, PRIOR_F64, prior_cpu());
  CHECK_ERR(prior_scaled_masked_softmax_dropout(x, 0.5, m64, 0.1, 1), PRIOR_ERR_DTYPE, "");
  CHECK_ERR(prior_scaled_masked_softmax_dropout(NULL, 0.5, NULL, 0.1, 1), PRIOR_ERR_ARGUMENT, "");
  prior_free_all(5, x, y, e, z, m64);
}

static void check_softmax(void) {
  int64_t shape[3] = {3, 4, 5};
  prior_tensor *x = leaf_uniform(3, shape, -3, 3), *xs = leaf_uniform_strided(3, shape, -3, 3);
  for (int which = 0; which < 2; which++) {
    for (int64_t dim = -1; dim < 3; dim++) {
      nn_case c = {.which = which, .dim = dim};
      GRADCHECK(which ? "log_softmax" : "softmax", apply, &c, 1, &x);
      GRADCHECK(which ? "log_softmax strided" : "softmax strided", apply, &c, 1, &xs);
    }
    /* forward vs naive, every dim, on the strided input; f32 vs f64 */
    prior_tensor *xc = prior_tensor_contiguous_raw(xs);
    double xv[60], ref[60];
    prior_tensor_to_f64_array(xc, xv);
    for (int dim = 0; dim < 3; dim++) {
      naive_softmax(xv, ref, dim, which);
      prior_tensor *y = which ? prior_log_softmax(xs, dim) : prior_softmax(xs, dim);
      CHECK_MSG(max_diff(y, ref, 60) < 1e-12, "softmax dim %d log %d: %g", dim, which, max_diff(y, ref, 60));
      prior_tensor *f = to_f32(xs);
      prior_tensor *yf = which ? prior_log_softmax(f, dim) : prior_softmax(f, dim);
      CHECK(yf && yf->dtype == PRIOR_F32);
      CHECK_MSG(max_diff(yf, ref, 60) < 2e-6, "softmax f32 dim %d: %g", dim, max_diff(yf, ref, 60));
      prior_free_all(3, y, f, yf);
    }
    prior_tensor_free(xc);
  }
  /* long f32 rows (the vectorised path, with a tail) against f64, forward and backward */
  for (int which = 0; which < 2; which++) {
    prior_tensor *xd = leaf_uniform(2, (int64_t[]){6, 203}, -30, 30);
    prior_tensor *xf = to_f32(xd);
    prior_tensor_set_requires_grad(xf, 1);
    prior_tensor *yd = which ? prior_log_softmax(xd, 1) : prior_softmax(xd, 1);
    prior_tensor *yf = which ? prior_log_softmax(xf, 1) : prior_softmax(xf, 1);
    CHECK_MSG(max_diff_t(yf, yd) < (which ? 2e-5 : 1e-6), "long-row softmax f32 vs f64 (log %d): %g", which,
              max_diff_t(yf, yd));
    prior_tensor *gd = prior_tensor_empty(2, xd->shape, PRIOR_F64, prior_cpu());
    prior_tensor_uniform_(gd, -1, 1);
    prior_tensor *gf = to_f32(gd);
    CHECK_OK(prior_backward(yd, gd, 0));
    CHECK_OK(prior_backward(yf, gf, 0));
    CHECK_MSG(max_diff_t(xf->grad, xd->grad) < 1e-5, "long-row softmax grad f32 vs f64: %g", max_diff_t(xf->grad, xd->grad));
    prior_free_all(6, xd, xf, yd, yf, gd, gf);
  }
  /* stability: huge logits, and -inf entries */
  double big[4] = {1000, 1001, -INFINITY, 999};
  int64_t n4 = 4;
  prior_tensor *b = t_f64(big, 1, &n4, 0);
  prior_tensor *sm = prior_softmax(b, 0), *ls = prior_log_softmax(b, 0);
  double z = exp(-1.0) + 1 + exp(-2.0);
  double ref_sm[4] = {exp(-1.0) / z, 1 / z, 0, exp(-2.0) / z};
  double ref_ls[4] = {-1 - log(z), -log(z), -INFINITY, -2 - log(z)};
  CHECK(max_diff(sm, ref_sm, 4) < 1e-15);
  double lsv[4];
  prior_tensor_to_f64_array(ls, lsv);
  CHECK(fabs(lsv[0] - ref_ls[0]) < 1e-12 && fabs(lsv[1] - ref_ls[1]) < 1e-12 && isinf(lsv[2]) && lsv[2] < 0);
  /* errors */
  CHECK_ERR(prior_softmax(x, 3), PRIOR_ERR_INDEX, "dim 3 out of range");
  prior_tensor *ints = prior_tensor_zeros(1, &n4, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_log_softmax(ints, 0), PRIOR_ERR_DTYPE, "i64");
  prior_free_all(6, x, xs, b, sm, ls, ints);
}

static double frac_zero(const prior_tensor *t) {
  int64_t n = prior_tensor_numel(t), z = 0;
  double *v = malloc(sizeof(double) * (size_t)n);
  prior_tensor_to_f64_array(t, v);
  for (int64_t i = 0; i < n; i++) z += v[i] == 0;
  free(v);
  return (double)z / (double)n;
}

static void check_dropout(void) {
  int64_t big = 200000;
  prior_tensor *ones = prior_tensor_ones(1, &big, PRIOR_F32, prior_cpu());
  prior_rng_seed(42);
  prior_tensor *a = prior_dropout(ones, 0.3, 1);
  CHECK_NEAR(frac_zero(a), 0.3, 0.01);
  /* kept values are scaled by 1/(1-p) */
  double *v = malloc(sizeof(double) * (size_t)big);
  prior_tensor_to_f64_array(a, v);
  int scaled_ok = 1;
  for (int64_t i = 0; i < big; i++) scaled_ok &= v[i] == 0 || fabs(v[i] - 1 / 0.7) < 1e-6;
  CHECK(scaled_ok);
  free(v);
  /* same seed -> same mask; a different draw differs */
  prior_rng_seed(42);
  prior_tensor *b = prior_dropout(ones, 0.3, 1);
  prior_tensor *c = prior_dropout(ones, 0.3, 1);
  CHECK(max_diff_t(a, b) == 0);
  CHECK(max_diff_t(a, c) > 0);
  /* eval, p = 0: identity; p = 1: zeros; p outside [0, 1]: error */
  prior_tensor *e = prior_dropout(ones, 0.5, 0), *p0 = prior_dropout(ones, 0.0, 1), *p1 = prior_dropout(ones, 1.0, 1);
  CHECK(max_diff_t(e, ones) == 0 && max_diff_t(p0, ones) == 0);
  CHECK(p1 && frac_zero(p1) == 1.0);
  CHECK_ERR(prior_dropout(ones, 1.5, 1), PRIOR_ERR_ARGUMENT, "p=1.5");
  CHECK_ERR(prior_dropout(ones, -0.1, 1), PRIOR_ERR_ARGUMENT, "must be in [0, 1]");
  /* gradient = mask * scale */
  int64_t shape[2] = {64, 64};
  prior_tensor *x = leaf_uniform(2, shape, 1, 2);
  prior_rng_seed(7);
  prior_tensor *y = prior_dropout(x, 0.25, 1);
  CHECK_OK(backward_ones(y));
  double *yv = malloc(sizeof(double) * 4096), *xv = malloc(sizeof(double) * 4096), *gv = malloc(sizeof(double) * 4096);
  prior_tensor_to_f64_array(y, yv);
  prior_tensor_to_f64_array(x, xv);
  prior_tensor_to_f64_array(x->grad, gv);
  int grad_ok = 1;
  for (int i = 0; i < 4096; i++) grad_ok &= fabs(gv[i] - yv[i] / xv[i]) < 1e-12 && (gv[i] == 0 || fabs(gv[i] - 4.0 / 3) < 1e-12);
  CHECK(grad_ok);
  free(yv), free(xv), free(gv);
  /* dropout2d: whole channels */
  int64_t s4[4] = {8, 32, 5, 5};
  prior_tensor *img = prior_tensor_ones(4, s4, PRIOR_F64, prior_cpu());
  prior_tensor *d2 = prior_dropout2d(img, 0.5, 1);
  int channel_ok = 1;
  double *dv = malloc(sizeof(double) * 8 * 32 * 25);
  prior_tensor_to_f64_array(d2, dv);
  for (int ch = 0; ch < 8 * 32; ch++)
    for (int k = 1; k < 25; k++) channel_ok &= dv[ch * 25 + k] == dv[ch * 25];
  CHECK(channel_ok);
  CHECK_NEAR(frac_zero(d2), 0.5, 0.12);
  free(dv);
  CHECK_ERR(prior_dropout2d(ones, 0.5, 1), PRIOR_ERR_SHAPE, "[N, C, ...]");
  prior_tensor *ints = prior_tensor_zeros(1, &big, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_dropout(ints, 0.5, 1), PRIOR_ERR_DTYPE, "i64");
  prior_free_all(10, ones, a, b, c, e, p0, p1, x, y, img);
  prior_free_all(2, d2, ints);
}

/* The packed-mask dropout keeps exactly the elements a bernoulli_ fill of the input's shape keeps, scales
 * them by the same float, leaves the stream where that fill leaves it, and multiplies (NaN * 0 stays NaN).
 * Sizes not a multiple of 8 (the last mask byte), above the parallel threshold, and a transposed input. */
static void check_dropout_packed_mask(void) {
  int64_t sizes[3][2] = {{7, 143}, {301, 997}, {37, 53}};
  for (int c = 0; c < 3; c++) {
    prior_dtype dt = c == 1 ? PRIOR_F64 : PRIOR_F32;
    prior_tensor *x = prior_tensor_empty(2, sizes[c], dt, prior_cpu());
    CHECK_OK(prior_tensor_uniform_(x, -2, 2));
    if (c == 0) {
      float *d = prior_tensor_data(x);
      d[3] = NAN, d[4] = INFINITY;
    }
    prior_tensor *input = c == 2 ? prior_transpose(x, 0, 1) : prior_tensor_retain(x);
    prior_rng_seed(11 + c);
    prior_tensor *y = prior_dropout(input, 0.1, 1);
    prior_tensor *after = prior_tensor_empty(1, (int64_t[]){5}, PRIOR_F64, prior_cpu());
    CHECK_OK(prior_tensor_uniform_(after, 0, 1));
    prior_rng_seed(11 + c);
    prior_tensor *mask = prior_tensor_empty(input->ndim, input->shape, dt, prior_cpu());
    CHECK_OK(prior_tensor_bernoulli_(mask, 0.9));
    prior_tensor *after_ref = prior_tensor_empty(1, (int64_t[]){5}, PRIOR_F64, prior_cpu());
    CHECK_OK(prior_tensor_uniform_(after_ref, 0, 1));
    int64_t n = prior_tensor_numel(input);
    double *yv = malloc(sizeof(double) * (size_t)n), *xv = malloc(sizeof(double) * (size_t)n);
    double *mv = malloc(sizeof(double) * (size_t)n);
    prior_tensor_to_f64_array(y, yv);
    prior_tensor_to_f64_array(input, xv);
    prior_tensor_to_f64_array(mask, mv);
    int same = 1, kept = 0;
    for (int64_t i = 0; i < n; i++) {
      /* the mask path: mask * scale + 0 (affine), then x * that, in the tensor's precision */
      double want = dt == PRIOR_F32 ? (double)((float)xv[i] * ((float)mv[i] * (float)(1 / 0.9) + 0.0f))
                                    : xv[i] * (mv[i] * (1 / 0.9) + 0.0);
      same &= memcmp(&want, &yv[i], sizeof want) == 0 || (isnan(want) && isnan(yv[i]));
      kept += mv[i] != 0;
    }
    CHECK(same);
    CHECK(kept > 0 && kept < n);
    CHECK(max_diff_t(after, after_ref) == 0);
    if (c == 0) CHECK(isnan(yv[3]) && !isfinite(yv[4]));
    free(yv), free(xv), free(mv);
    prior_free_all(6, x, input, y, after, mask, after_ref);
  }
}

static void check_embedding(void) {
  int64_t wshape[2] = {6, 4};
  prior_tensor *w = leaf_uniform(2, wshape, -1, 1);
  int64_t ishape[2] = {2, 3};
  int64_t iv[6] = {1, 5, 1, 0, 3, 3};
  prior_tensor *idx = t_i64(iv, 2, ishape);
  nn_case c = {.which = 4, .pad = -1, .idx = idx};
  GRADCHECK("embedding", apply, &c, 1, &w);
  c.pad = 3;
  c.which = 5;
  GRADCHECK("embedding padding_idx", apply, &c, 1, &w);
  prior_tensor *ws = leaf_uniform_strided(2, wshape, -1, 1);
  GRADCHECK("embedding strided", apply, &c, 1, &ws);
  /* forward values and the padding row's zero gradient; i32 indices */
  int32_t iv32[6] = {1, 5, 1, 0, 3, 3};
  prior_tensor *idx32 = prior_tensor_from_data(iv32, 2, ishape, PRIOR_I32, prior_cpu());
  prior_tensor *e = prior_embedding(w, idx32, 3);
  CHECK(e && e->ndim == 3 && e->shape[0] == 2 && e->shape[1] == 3 && e->shape[2] == 4);
  int vals_ok = 1;
  for (int64_t i = 0; i < 6; i++)
    for (int64_t k = 0; k < 4; k++) {
      double got, want;
      prior_tensor_get(e, (int64_t[]){i / 3, i % 3, k}, &got);
      prior_tensor_get(w, (int64_t[]){iv[i], k}, &want);
      vals_ok &= got == want;
    }
  CHECK(vals_ok);
  prior_tensor_zero_grad(w);
  CHECK_OK(backward_ones(e));
  double g[24];
  prior_tensor_to_f64_array(w->grad, g);
  CHECK(g[1 * 4] == 2 && g[5 * 4 + 3] == 1 && g[0] == 1 && g[3 * 4] == 0 && g[3 * 4 + 2] == 0 && g[2 * 4] == 0);
  /* a large table: the OpenMP scatter-add must equal the counts */
  int64_t bw[2] = {50, 256}, nidx = 20000;
  prior_tensor *wb = prior_tensor_zeros(2, bw, PRIOR_F32, prior_cpu());
  prior_tensor_set_requires_grad(wb, 1);
  int64_t *many = malloc(sizeof(int64_t) * (size_t)nidx);
  int64_t counts[50] = {0};
  for (int64_t i = 0; i < nidx; i++) many[i] = (i * 7919) % 50, counts[many[i]]++;
  prior_tensor *mi = t_i64(many, 1, &nidx);
  prior_tensor *eb = prior_embedding(wb, mi, -1);
  CHECK_OK(backward_ones(eb));
  int counts_ok = 1;
  for (int64_t r = 0; r < 50; r++)
    for (int64_t k = 0; k < 256; k += 51) {
      double got;
      prior_tensor_get(wb->grad, (int64_t[]){r, k}, &got);
      counts_ok &= got == (double)counts[r];
    }
  CHECK(counts_ok);
  free(many);
  /* errors */
  int64_t bad[3] = {0, 6, 2};
  int64_t n3 = 3;
  prior_tensor *bi = t_i64(bad, 1, &n3);
  CHECK_ERR(prior_embedding(w, bi, -1), PRIOR_ERR_INDEX, "index 6 is out of range for V = 6");
  bad[1] = -1;
  prior_tensor *bn = t_i64(bad, 1, &n3);
  CHECK_ERR(prior_embedding(w, bn, -1), PRIOR_ERR_INDEX, "index -1");
  prior_tensor *fi = prior_tensor_zeros(1, &n3, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_embedding(w, fi, -1), PRIOR_ERR_DTYPE, "i64 or i32");
  CHECK_ERR(prior_embedding(idx, idx, -1), PRIOR_ERR_DTYPE, "weight");
  CHECK_ERR(prior_embedding(w, idx, 6), PRIOR_ERR_INDEX, "padding_idx 6");
  prior_free_all(10, w, idx, ws, idx32, e, wb, mi, eb, bi, bn);
  prior_tensor_free(fi);
}

static void check_similarity(void) {
  int64_t shape[3] = {3, 4, 5};
  prior_tensor *x = leaf_uniform(3, shape, -1, 1), *xs = leaf_uniform_strided(3, shape, -1, 1);
  for (int64_t dim = 0; dim < 3; dim++) {
    nn_case c = {.which = 2, .dim = dim, .eps = 1e-12};
    GRADCHECK("normalize", apply, &c, 1, &x);
    GRADCHECK("normalize strided", apply, &c, 1, &xs);
  }
  /* the eps clamp is active: x / eps, gradient 1/eps */
  int64_t s2[2] = {2, 3};
  double tiny[6] = {1e-4, -2e-4, 1e-4, 0.5, 0.1, -0.3};
  prior_tensor *tt = t_f64(tiny, 2, s2, 1);
  nn_case ce = {.which = 2, .dim = 1, .eps = 1e-2};
  GRADCHECK("normalize clamped", apply, &ce, 1, &tt);
  /* cosine similarity: broadcasting [3,1,5] with [4,5], over dims 2 and -1; strided */
  int64_t sa[3] = {3, 1, 5}, sb[2] = {4, 5};
  prior_tensor *a = leaf_uniform(3, sa, -1, 1), *b = leaf_uniform(2, sb, -1, 1);
  prior_tensor *ab[2] = {a, b}, *xx[2] = {xs, x};
  nn_case cc = {.which = 3, .dim = -1, .eps = 1e-8};
  GRADCHECK("cosine_similarity broadcast", apply, &cc, 2, ab);
  cc.dim = 1;
  GRADCHECK("cosine_similarity strided dim 1", apply, &cc, 2, xx);
  prior_tensor *cs = prior_cosine_similarity(a, b, -1, 1e-8);
  CHECK(cs && cs->ndim == 2 && cs->shape[0] == 3 && cs->shape[1] == 4);
  /* PyTorch fixture: a tiny-norm row (eps clamp per norm), broadcasting b [1, 3], gradients */
  int64_t fa[2] = {4, 3}, fb[2] = {1, 3};
  prior_tensor *ca = t_f64(cos_a, 2, fa, 1), *cb = t_f64(cos_b, 2, fb, 1);
  prior_tensor *co = prior_cosine_similarity(ca, cb, 1, 1e-8);
  CHECK_MSG(max_diff(co, cos_out, 4) < 1e-12, "cosine vs torch: %g", max_diff(co, cos_out, 4));
  double wv[4] = {1, 2, 3, 4};
  int64_t n4 = 4;
  prior_tensor *wt = t_f64(wv, 1, &n4, 0);
  CHECK_OK(prior_backward(co, wt, 0));
  CHECK_MSG(max_diff(ca->grad, cos_ga, 12) < 1e-3 && max_diff(cb->grad, cos_gb, 3) < 1e-9,
            "cosine grads vs torch: %g %g", max_diff(ca->grad, cos_ga, 12), max_diff(cb->grad, cos_gb, 3));
  prior_tensor *cbig = prior_cosine_similarity(ca, cb, 1, 0.5), *nrm = prior_normalize(ca, 1, 1e-8);
  CHECK_MSG(max_diff(cbig, cos_big_eps, 4) < 1e-12, "cosine eps 0.5: %g", max_diff(cbig, cos_big_eps, 4));
  CHECK_MSG(max_diff(nrm, norm_out, 12) < 1e-12, "normalize vs torch: %g", max_diff(nrm, norm_out, 12));
  /* f32 against f64 */
  prior_tensor *af = to_f32(a), *bf = to_f32(b);
  prior_tensor *csf = prior_cosine_similarity(af, bf, -1, 1e-8);
  CHECK(csf && csf->dtype == PRIOR_F32 && max_diff_t(csf, cs) < 1e-6);
  /* errors */
  CHECK_ERR(prior_cosine_similarity(a, tt, -1, 1e-8), PRIOR_ERR_SHAPE, "[2, 3]");
  CHECK_ERR(prior_cosine_similarity(a, bf, -1, 1e-8), PRIOR_ERR_DTYPE, "");
  CHECK_ERR(prior_normalize(x, 5, 1e-12), PRIOR_ERR_INDEX, "dim 5");
  prior_free_all(10, x, xs, tt, a, b, cs, ca, cb, co, wt);
  prior_free_all(6, cbig, nrm, af, bf, csf, NULL);
}

int main(void) {
  prior_rng_seed(11);
  check_softmax();
  check_scaled_masked_softmax();
  check_scaled_masked_softmax_dropout();
  check_dropout();
  check_dropout_packed_mask();
  check_embedding();
  check_similarity();
  return check_summary("test_nn_ops");
}
