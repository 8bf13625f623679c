/* matmul, bmm and linear: gradient checks (1-D operands, batch broadcasting, strided operands, bias or not),
 * forward against a naive product, the f32 oneDNN path against the f64 reference, and error paths. */
#include "dense_util.h"

static prior_tensor *apply_matmul(prior_tensor *const *in, void *ctx) { return prior_matmul(in[0], in[1]); }
static prior_tensor *apply_bmm(prior_tensor *const *in, void *ctx) { return prior_bmm(in[0], in[1]); }
static prior_tensor *apply_linear(prior_tensor *const *in, void *ctx) { return prior_linear(in[0], in[1], in[2]); }
/* linear on a permuted input: x [a, b, in] given as [b, a, in] and permuted back */
static prior_tensor *apply_linear_permuted(prior_tensor *const *in, void *ctx) {
  int64_t order[3] = {1, 0, 2};
  prior_tensor *xp = prior_permute(in[0], 3, order);
  prior_tensor *y = prior_linear(xp, in[1], in[2]);
  prior_tensor_free(xp);
  return y;
}

static void grad_matmul(const char *label, int na, const int64_t *sa, int nb, const int64_t *sb, int strided_a) {
  prior_tensor *a = strided_a ? leaf_uniform_strided(na, sa, -1, 1) : leaf_uniform(na, sa, -1, 1);
  prior_tensor *b = leaf_uniform(nb, sb, -1, 1);
  prior_tensor *in[2] = {a, b};
  GRADCHECK(label, apply_matmul, NULL, 2, in);
  prior_free_all(2, a, b);
}

/* out[i, j] = sum_p a[i, p] b[p, j] for 2-D a, b. */
static void check_forward_naive(void) {
  int64_t sa[2] = {3, 4}, sb[2] = {4, 5};
  prior_tensor *a = leaf_uniform_strided(2, sa, -1, 1), *b = leaf_uniform(2, sb, -1, 1);
  prior_tensor *y = prior_matmul(a, b);
  CHECK(y && y->ndim == 2 && y->shape[0] == 3 && y->shape[1] == 5);
  double max_err = 0;
  for (int64_t i = 0; y && i < 3; i++)
    for (int64_t j = 0; j < 5; j++) {
      double acc = 0, av, bv, yv;
      for (int64_t p = 0; p < 4; p++) {
        int64_t ia[2] = {i, p}, ib[2] = {p, j};
        prior_tensor_get(a, ia, &av);
        prior_tensor_get(b, ib, &bv);
        acc += av * bv;
      }
      int64_t iy[2] = {i, j};
      prior_tensor_get(y, iy, &yv);
      if (fabs(yv - acc) > max_err) max_err = fabs(yv - acc);
    }
  CHECK_NEAR(max_err, 0, 1e-12);
  /* 1-D x 1-D is a 0-dim dot product */
  int64_t s4[1] = {4};
  prior_tensor *u = leaf_uniform(1, s4, -1, 1), *v = leaf_uniform(1, s4, -1, 1);
  prior_tensor *dot = prior_matmul(u, v);
  CHECK(dot && dot->ndim == 0);
  prior_free_all(6, a, b, y, u, v, dot);
}

static void check_shapes(void) {
  int64_t s234[3] = {2, 3, 4}, s4[1] = {4}, s3[1] = {3}, s5243[4] = {5, 2, 4, 3};
  prior_tensor *a = leaf_uniform(3, s234, -1, 1), *v = leaf_uniform(1, s4, -1, 1), *w = leaf_uniform(1, s3, -1, 1);
  prior_tensor *c = leaf_uniform(4, s5243, -1, 1);
  prior_tensor *y1 = prior_matmul(a, v); /* [2, 3] */
  CHECK(y1 && y1->ndim == 2 && y1->shape[0] == 2 && y1->shape[1] == 3);
  prior_tensor *y2 = prior_matmul(w, a); /* [2, 4] */
  CHECK(y2 && y2->ndim == 2 && y2->shape[0] == 2 && y2->shape[1] == 4);
  prior_tensor *y3 = prior_matmul(a, c); /* [5, 2, 3, 3] */
  CHECK(y3 && y3->ndim == 4 && y3->shape[0] == 5 && y3->shape[1] == 2 && y3->shape[2] == 3 && y3->shape[3] == 3);
  /* an empty inner dim gives zeros, an empty outer dim an empty result */
  int64_t s20[2] = {2, 0}, s03[2] = {0, 3}, s04[2] = {0, 4}, s45[2] = {4, 5};
  prior_tensor *e1 = prior_tensor_zeros(2, s20, PRIOR_F32, prior_cpu()), *e2 = prior_tensor_zeros(2, s03, PRIOR_F32, prior_cpu());
  prior_tensor *e3 = prior_tensor_zeros(2, s04, PRIOR_F32, prior_cpu()), *m45 = prior_tensor_ones(2, s45, PRIOR_F32, prior_cpu());
  prior_tensor *z = prior_matmul(e1, e2), *z2 = prior_matmul(e3, m45);
  double zs[6] = {1, 1, 1, 1, 1, 1};
  CHECK(z && z->shape[0] == 2 && z->shape[1] == 3 && prior_tensor_to_f64_array(z, zs) == PRIOR_OK);
  CHECK(zs[0] == 0 && zs[5] == 0);
  CHECK(z2 && z2->shape[0] == 0 && z2->shape[1] == 5);
  prior_free_all(13, a, v, w, c, y1, y2, y3, e1, e2, e3, m45, z, z2);
}

static void check_errors(void) {
  int64_t s23[2] = {2, 3}, s43[2] = {4, 3}, s234[3] = {2, 3, 4}, s254[3] = {2, 5, 4}, s3[1] = {3};
  prior_tensor *a = leaf_uniform(2, s23, -1, 1), *b = leaf_uniform(2, s43, -1, 1);
  prior_tensor *c = leaf_uniform(3, s234, -1, 1), *d = leaf_uniform(3, s254, -1, 1), *bias = leaf_uniform(1, s3, -1, 1);
  prior_tensor *f = prior_tensor_zeros(2, s43, PRIOR_F32, prior_cpu());
  prior_tensor *s = prior_tensor_zeros(0, NULL, PRIOR_F64, prior_cpu());
  CHECK_ERR(prior_matmul(a, b), PRIOR_ERR_SHAPE, "[2, 3] and [4, 3]");
  CHECK_ERR(prior_matmul(a, s), PRIOR_ERR_SHAPE, "at least 1 dim");
  CHECK_ERR(prior_bmm(a, c), PRIOR_ERR_SHAPE, "3");
  CHECK_ERR(prior_bmm(c, d), PRIOR_ERR_SHAPE, "cannot be multiplied");
  CHECK_ERR(prior_matmul(a, f), PRIOR_ERR_DTYPE, "");
  prior_tensor *wt = prior_transpose(b, 0, 1); /* [3, 4]: in_features 4 against the input's 3 */
  CHECK_ERR(prior_linear(a, wt, NULL), PRIOR_ERR_SHAPE, "in_features");
  prior_tensor_free(wt);
  CHECK_ERR(prior_linear(a, b, bias), PRIOR_ERR_SHAPE, "bias");
  CHECK_ERR(prior_linear(a, c, NULL), PRIOR_ERR_SHAPE, "weight");
  prior_free_all(7, a, b, c, d, bias, f, s);
}

static void check_f32(void) {
  /* plain, transposed (strided) operand, broadcast batch, many small matrices, linear */
  int64_t sa[2] = {64, 96}, sb[2] = {96, 80}, sc[4] = {3, 1, 33, 40}, sd[3] = {4, 40, 17};
  int64_t se[3] = {40, 20, 24}, sf[3] = {40, 24, 12}, sx[3] = {2, 5, 64}, sw[2] = {48, 64}, sbias[1] = {48};
  prior_tensor *a = leaf_uniform(2, sa, -1, 1), *at = leaf_uniform_strided(2, sa, -1, 1), *b = leaf_uniform(2, sb, -1, 1);
  prior_tensor *in1[2] = {a, b}, *in2[2] = {at, b};
  check_f32_vs_f64("matmul f32", apply_matmul, NULL, 2, in1, 1e-5);
  check_f32_vs_f64("matmul f32 strided", apply_matmul, NULL, 2, in2, 1e-5);
  prior_tensor *c = leaf_uniform(4, sc, -1, 1), *d = leaf_uniform(3, sd, -1, 1);
  prior_tensor *in3[2] = {c, d};
  check_f32_vs_f64("matmul f32 broadcast", apply_matmul, NULL, 2, in3, 1e-5);
  prior_tensor *e = leaf_uniform(3, se, -1, 1), *f = leaf_uniform(3, sf, -1, 1);
  prior_tensor *in4[2] = {e, f};
  check_f32_vs_f64("bmm f32", apply_bmm, NULL, 2, in4, 1e-5);
  prior_tensor *x = leaf_uniform(3, sx, -1, 1), *w = leaf_uniform(2, sw, -1, 1), *bias = leaf_uniform(1, sbias, -1, 1);
  prior_tensor *in5[3] = {x, w, bias};
  check_f32_vs_f64("linear f32", apply_linear, NULL, 3, in5, 1e-5);
  prior_free_all(10, a, at, b, c, d, e, f, x, w, bias);
}

int main(void) {
  int64_t s34[2] = {3, 4}, s45[2] = {4, 5}, s4[1] = {4}, s234[3] = {2, 3, 4}, s2143[4] = {2, 1, 4, 3};
  int64_t s343[3] = {3, 4, 3}, s53[2] = {5, 3};
  grad_matmul("matmul 2-D", 2, s34, 2, s45, 0);
  grad_matmul("matmul 2-D strided a", 2, s34, 2, s45, 1);
  grad_matmul("matmul 1-D x 1-D", 1, s4, 1, s4, 0);
  grad_matmul("matmul 1-D x 2-D", 1, s4, 2, s45, 0);
  grad_matmul("matmul 3-D x 1-D", 3, s234, 1, s4, 0);
  grad_matmul("matmul 1-D x 3-D", 1, s4, 3, s343, 0);
  grad_matmul("matmul broadcast [2,3,4] x [2,1,4,3]", 3, s234, 4, s2143, 1);
  grad_matmul("matmul broadcast [3,4] x [3,4,3]", 2, s34, 3, s343, 0);

  int64_t sb1[3] = {2, 3, 4}, sb2[3] = {2, 4, 5};
  prior_tensor *p = leaf_uniform_strided(3, sb1, -1, 1), *q = leaf_uniform(3, sb2, -1, 1);
  prior_tensor *inb[2] = {p, q};
  GRADCHECK("bmm", apply_bmm, NULL, 2, inb);

  int64_t sx[3] = {2, 3, 3}, sw[2] = {5, 3}, sbias[1] = {5}, sx1[1] = {3};
  prior_tensor *x = leaf_uniform(3, sx, -1, 1), *w = leaf_uniform(2, sw, -1, 1), *bias = leaf_uniform(1, sbias, -1, 1);
  prior_tensor *x1 = leaf_uniform(1, sx1, -1, 1), *ws = leaf_uniform_strided(2, sw, -1, 1);
  prior_tensor *inl[3] = {x, w, bias}, *inl2[3] = {x, ws, NULL}, *inl3[3] = {x1, w, bias};
  GRADCHECK("linear with bias", apply_linear, NULL, 3, inl);
  GRADCHECK("linear no bias, strided weight", apply_linear, NULL, 3, inl2);
  GRADCHECK("linear 1-D input", apply_linear, NULL, 3, inl3);
  GRADCHECK("linear permuted input", apply_linear_permuted, NULL, 3, inl);
  (void)s53;

  check_forward_naive();
  check_shapes();
  check_errors();
  check_f32();
  prior_free_all(7, p, q, x, w, bias, x1, ws);
  return check_summary("test_linalg");
}
