/* cat, stack, split, chunk, index_select, gather, scatter_add, masked_fill: gradient checks in f64 (with
 * non-contiguous inputs), forward values against naive loops, torch.chunk's piece sizes from a PyTorch
 * fixture, and error paths (bad indices, mismatched shapes, wrong dtypes). */
#include "../fixtures/nn/nn_fixtures.h"
#include "nn_test_util.h"

typedef struct {
  int which;
  int64_t dim;
  int64_t arg;
  prior_tensor *idx;
  prior_tensor *mask;
} ix_case;

/* Sum of the pieces, each weighted by its position, so every piece's gradient differs. */
static prior_tensor *weighted_concat(int n, prior_tensor **pieces) {
  prior_tensor *acc = NULL;
  for (int i = 0; i < n; i++) {
    prior_tensor *flat = prior_flatten(pieces[i], 0, -1);
    prior_tensor *w = prior_mul_scalar(flat, (double)(i + 1));
    prior_tensor *s = prior_sum(w, 0, NULL, 0);
    prior_tensor *sq = prior_mul(s, s); /* nonlinear so that a wrong split shows */
    prior_tensor *next = acc ? prior_add(acc, sq) : prior_tensor_retain(sq);
    prior_free_all(6, flat, w, s, sq, acc, pieces[i]);
    acc = next;
  }
  return acc;
}

static prior_tensor *apply(prior_tensor *const *in, void *vctx) {
  const ix_case *c = vctx;
  prior_tensor *pieces[16];
  int n;
  switch (c->which) {
    case 0: return prior_cat(3, in, c->dim);
    case 1: return prior_stack(3, in, c->dim);
    case 2:
      n = prior_split(in[0], c->arg, c->dim, pieces, 16);
      return n > 0 ? weighted_concat(n, pieces) : NULL;
    case 3:
      n = prior_chunk(in[0], c->arg, c->dim, pieces, 16);
      return n > 0 ? weighted_concat(n, pieces) : NULL;
    case 4: return prior_index_select(in[0], c->dim, c->idx);
    case 5: return prior_gather(in[0], c->dim, c->idx);
    case 6: return prior_scatter_add(in[0], c->dim, c->idx, in[1]);
    default: return prior_masked_fill(in[0], c->mask, 7.5);
  }
}

static void check_cat_stack(void) {
  /* three inputs of different sizes along the middle dim, one strided */
  prior_tensor *a = leaf_uniform(3, (int64_t[]){2, 1, 4}, -1, 1);
  prior_tensor *b = leaf_uniform_strided(3, (int64_t[]){2, 3, 4}, -1, 1);
  prior_tensor *c = leaf_uniform(3, (int64_t[]){2, 2, 4}, -1, 1);
  prior_tensor *abc[3] = {a, b, c};
  ix_case k = {.which = 0, .dim = 1};
  GRADCHECK("cat middle dim", apply, &k, 3, abc);
  prior_tensor *y = prior_cat(3, abc, 1);
  CHECK(y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 6 && y->shape[2] == 4);
  int ok = 1;
  for (int64_t i = 0; i < 2; i++)
    for (int64_t j = 0; j < 6; j++)
      for (int64_t l = 0; l < 4; l++) {
        prior_tensor *src = j < 1 ? a : j < 4 ? b : c;
        int64_t jj = j < 1 ? j : j < 4 ? j - 1 : j - 4;
        double got, want;
        prior_tensor_get(y, (int64_t[]){i, j, l}, &got);
        prior_tensor_get(src, (int64_t[]){i, jj, l}, &want);
        ok &= got == want;
      }
  CHECK(ok);
  /* only some inputs need grad */
  prior_tensor *cd = prior_tensor_clone_raw(c);
  prior_tensor *mixed[3] = {a, b, cd};
  GRADCHECK("cat with a constant", apply, &k, 3, mixed);
  k.dim = -1;
  prior_tensor *p = leaf_uniform(2, (int64_t[]){2, 3}, -1, 1), *q = leaf_uniform_strided(2, (int64_t[]){2, 5}, -1, 1);
  prior_tensor *r = leaf_uniform(2, (int64_t[]){2, 1}, -1, 1);
  prior_tensor *pqr[3] = {p, q, r};
  GRADCHECK("cat last dim", apply, &k, 3, pqr);
  /* stack: dims 0, 1, 2 (new last) */
  prior_tensor *s1 = leaf_uniform(2, (int64_t[]){3, 2}, -1, 1), *s2 = leaf_uniform_strided(2, (int64_t[]){3, 2}, -1, 1);
  prior_tensor *s3 = leaf_uniform(2, (int64_t[]){3, 2}, -1, 1);
  prior_tensor *sss[3] = {s1, s2, s3};
  for (int64_t d = 0; d < 3; d++) {
    ix_case st = {.which = 1, .dim = d};
    GRADCHECK("stack", apply, &st, 3, sss);
  }
  prior_tensor *sk = prior_stack(3, sss, 1);
  double got, want;
  prior_tensor_get(sk, (int64_t[]){2, 1, 0}, &got);
  prior_tensor_get(s2, (int64_t[]){2, 0}, &want);
  CHECK(sk && sk->shape[0] == 3 && sk->shape[1] == 3 && sk->shape[2] == 2 && got == want);
  /* f32 path */
  prior_tensor *af = to_f32(a), *bf = to_f32(b), *cf = to_f32(c);
  prior_tensor *fff[3] = {af, bf, cf};
  prior_tensor *yf = prior_cat(3, fff, 1);
  CHECK(yf && yf->dtype == PRIOR_F32 && max_diff_t(yf, y) < 1e-7);
  /* errors */
  prior_tensor *bad[3] = {a, p, c};
  CHECK_ERR(prior_cat(3, bad, 1), PRIOR_ERR_SHAPE, "tensor 1 has shape [2, 3]");
  prior_tensor *mixed_dt[2] = {a, af};
  CHECK_ERR(prior_cat(2, mixed_dt, 1), PRIOR_ERR_DTYPE, "");
  CHECK_ERR(prior_cat(3, abc, 3), PRIOR_ERR_INDEX, "dim 3");
  CHECK_ERR(prior_cat(0, abc, 0), PRIOR_ERR_ARGUMENT, "at least one");
  CHECK_ERR(prior_stack(3, abc, 0), PRIOR_ERR_SHAPE, "tensor 1 has shape");
  prior_free_all(10, a, b, c, y, cd, p, q, r, s1, s2);
  prior_free_all(6, s3, sk, af, bf, cf, yf);
}

static void check_split_chunk(void) {
  prior_tensor *x = leaf_uniform_strided(2, (int64_t[]){7, 4}, -1, 1);
  ix_case k = {.which = 2, .dim = 0, .arg = 3};
  GRADCHECK("split dim 0 with a remainder", apply, &k, 1, &x);
  k.dim = 1;
  k.arg = 3;
  GRADCHECK("split dim 1", apply, &k, 1, &x);
  k.which = 3;
  k.dim = 0;
  k.arg = 3; /* 7 in 3 chunks: 3, 3, 1 */
  GRADCHECK("chunk with a remainder", apply, &k, 1, &x);
  k.dim = -1;
  k.arg = 3; /* 4 in 3 chunks: 2, 2 */
  GRADCHECK("chunk last dim", apply, &k, 1, &x);
  /* views share storage with the input */
  prior_tensor *pieces[8];
  int n = prior_split(x, 3, 0, pieces, 8);
  CHECK(n == 3 && pieces[2]->shape[0] == 1 && pieces[2]->storage == x->storage);
  for (int i = 0; i < n; i++) prior_tensor_free(pieces[i]);
  CHECK(prior_split(x, 3, 0, NULL, 0) == 3);
  /* torch.chunk's piece sizes (fixture) */
  for (int c = 0; c < 8; c++) {
    int64_t len = chunk_cases[2 * c], nch = chunk_cases[2 * c + 1];
    prior_tensor *t = prior_tensor_zeros(2, (int64_t[]){2, len}, PRIOR_F32, prior_cpu());
    int got = prior_chunk(t, nch, 1, pieces, 8);
    const int64_t *want = &chunk_sizes[9 * c];
    int ok = got == want[0];
    for (int i = 0; ok && i < got; i++) ok = pieces[i]->shape[1] == want[1 + i] && pieces[i]->shape[0] == 2;
    CHECK_MSG(ok, "chunk of %lld in %lld: got %d pieces, torch %lld", (long long)len, (long long)nch, got,
              (long long)want[0]);
    for (int i = 0; i < got; i++) prior_tensor_free(pieces[i]);
    prior_tensor_free(t);
  }
  CHECK_ERR(prior_split(x, 0, 0, pieces, 8), PRIOR_ERR_ARGUMENT, "must be positive");
  CHECK_ERR(prior_chunk(x, 0, 0, pieces, 8), PRIOR_ERR_ARGUMENT, "must be positive");
  CHECK_ERR(prior_split(x, 1, 0, pieces, 4), PRIOR_ERR_ARGUMENT, "7 pieces but there is room for 4");
  CHECK_ERR(prior_chunk(x, 2, 2, pieces, 8), PRIOR_ERR_INDEX, "dim 2");
  prior_tensor_free(x);
}

static void check_indexing(void) {
  prior_tensor *x = leaf_uniform_strided(3, (int64_t[]){3, 4, 5}, -1, 1);
  prior_tensor *xc = leaf_uniform(3, (int64_t[]){3, 4, 5}, -1, 1);
  /* index_select with repeats, dims 0..2 */
  int64_t iv[5] = {2, 0, 2, 1, 0};
  for (int64_t d = 0; d < 3; d++) {
    int64_t m = d == 0 ? 3 : 5;
    prior_tensor *idx = t_i64(d == 0 ? (int64_t[]){2, 0, 2} : iv, 1, &m);
    ix_case k = {.which = 4, .dim = d, .idx = idx};
    GRADCHECK("index_select", apply, &k, 1, &x);
    prior_tensor *y = prior_index_select(x, d, idx);
    int ok = y != NULL;
    for (int64_t e = 0; ok && e < prior_tensor_numel(y); e++) {
      int64_t pos[3] = {e / (y->shape[1] * y->shape[2]), (e / y->shape[2]) % y->shape[1], e % y->shape[2]};
      double got, want;
      prior_tensor_get(y, pos, &got);
      pos[d] = (d == 0 ? (int64_t[]){2, 0, 2} : iv)[pos[d]];
      prior_tensor_get(x, pos, &want);
      ok = got == want;
    }
    CHECK_MSG(ok, "index_select values along dim %lld", (long long)d);
    prior_free_all(2, idx, y);
  }
  /* gather along dims 0 and 1 with a smaller index; scatter_add along dims 0 and 1 */
  int64_t g0[6] = {2, 0, 1, 1, 2, 2}, g1[6] = {3, 0, 3, 1, 1, 2};
  int64_t gs[3] = {2, 3, 1};
  for (int d = 0; d < 2; d++) {
    prior_tensor *gi = t_i64(d == 0 ? g0 : g1, 3, gs);
    ix_case k = {.which = 5, .dim = d, .idx = gi};
    GRADCHECK(d ? "gather dim 1" : "gather dim 0", apply, &k, 1, &x);
    prior_tensor *y = prior_gather(x, d, gi);
    int ok = y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 1;
    for (int64_t e = 0; ok && e < 6; e++) {
      int64_t pos[3] = {e / 3, e % 3, 0};
      double got, want;
      prior_tensor_get(y, pos, &got);
      pos[d] = (d == 0 ? g0 : g1)[e];
      prior_tensor_get(x, pos, &want);
      ok = got == want;
    }
    CHECK_MSG(ok, "gather values along dim %d", d);
    /* scatter_add: src [2, 4, 2] larger than index */
    prior_tensor *src = leaf_uniform_strided(3, (int64_t[]){2, 4, 2}, -1, 1);
    prior_tensor *in2[2] = {xc, src};
    ix_case s = {.which = 6, .dim = d, .idx = gi};
    GRADCHECK(d ? "scatter_add dim 1" : "scatter_add dim 0", apply, &s, 2, in2);
    prior_tensor *z = prior_scatter_add(xc, d, gi, src);
    double want[60], sv[16];
    prior_tensor_to_f64_array(xc, want);
    prior_tensor_to_f64_array(src, sv);
    for (int64_t e = 0; e < 6; e++) {
      int64_t pos[3] = {e / 3, e % 3, 0};
      pos[d] = (d == 0 ? g0 : g1)[e];
      want[pos[0] * 20 + pos[1] * 5 + pos[2]] += sv[(e / 3) * 8 + (e % 3) * 2];
    }
    CHECK_MSG(max_diff(z, want, 60) < 1e-15, "scatter_add values along dim %d", d);
    prior_free_all(4, gi, y, src, z);
  }
  /* out-of-range and wrongly typed indices, shape mismatches */
  int64_t badv[3] = {0, 4, 1}, n3 = 3;
  prior_tensor *bad = t_i64(badv, 1, &n3);
  CHECK_ERR(prior_index_select(x, 0, bad), PRIOR_ERR_INDEX, "index 4 is out of range for dim 0 of size 3");
  prior_tensor *bad3 = t_i64((int64_t[]){0, 1, 9, 0, 0, 0}, 3, gs);
  CHECK_ERR(prior_gather(x, 1, bad3), PRIOR_ERR_INDEX, "index 9 is out of range for dim 1 of size 4");
  CHECK_ERR(prior_scatter_add(xc, 0, bad3, xc), PRIOR_ERR_INDEX, "index 9");
  prior_tensor *neg = t_i64((int64_t[]){0, -1, 0, 0, 0, 0}, 3, gs);
  CHECK_ERR(prior_gather(x, 0, neg), PRIOR_ERR_INDEX, "index -1");
  prior_tensor *fidx = prior_tensor_zeros(3, gs, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_gather(x, 0, fidx), PRIOR_ERR_DTYPE, "i64 or i32");
  prior_tensor *big = prior_tensor_zeros(3, (int64_t[]){2, 5, 1}, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_gather(x, 0, big), PRIOR_ERR_SHAPE, "does not fit");
  prior_tensor *smallsrc = prior_tensor_zeros(3, (int64_t[]){2, 2, 1}, PRIOR_F64, prior_cpu());
  prior_tensor *okidx = t_i64(g0, 3, gs);
  CHECK_ERR(prior_scatter_add(xc, 0, okidx, smallsrc), PRIOR_ERR_SHAPE, "src of shape [2, 2, 1]");
  prior_tensor_free(okidx);
  prior_tensor *twod = prior_tensor_zeros(2, (int64_t[]){2, 2}, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_index_select(x, 0, twod), PRIOR_ERR_SHAPE, "1-D");
  /* i32 indices work too */
  int32_t i32v[2] = {1, 0};
  int64_t n2 = 2;
  prior_tensor *i32 = prior_tensor_from_data(i32v, 1, &n2, PRIOR_I32, prior_cpu());
  prior_tensor *sel = prior_index_select(xc, 1, i32);
  double sv0, xv0;
  prior_tensor_get(sel, (int64_t[]){1, 0, 2}, &sv0);
  prior_tensor_get(xc, (int64_t[]){1, 1, 2}, &xv0);
  CHECK(sel && sv0 == xv0);
  prior_free_all(10, x, xc, bad, bad3, neg, fidx, big, smallsrc, twod, i32);
  prior_tensor_free(sel);
}

static void check_masked_fill(void) {
  prior_tensor *x = leaf_uniform_strided(3, (int64_t[]){2, 3, 4}, -1, 1);
  uint8_t mv[4] = {1, 0, 0, 1};
  prior_tensor *mask = prior_tensor_from_data(mv, 2, (int64_t[]){1, 4}, PRIOR_BOOL, prior_cpu());
  ix_case k = {.which = 7, .mask = mask};
  GRADCHECK("masked_fill broadcast mask", apply, &k, 1, &x);
  prior_tensor *y = prior_masked_fill(x, mask, 7.5);
  double *yv = malloc(sizeof(double) * 24), *xv = malloc(sizeof(double) * 24);
  prior_tensor_to_f64_array(y, yv);
  prior_tensor_to_f64_array(x, xv);
  int ok = 1;
  for (int i = 0; i < 24; i++) ok &= mv[i % 4] ? yv[i] == 7.5 : yv[i] == xv[i];
  CHECK(ok);
  /* gradient is zero where filled */
  prior_tensor_zero_grad(x);
  prior_tensor *ones = prior_tensor_ones(3, y->shape, PRIOR_F64, prior_cpu());
  CHECK_OK(prior_backward(y, ones, 0));
  prior_tensor_to_f64_array(x->grad, xv);
  ok = 1;
  for (int i = 0; i < 24; i++) ok &= xv[i] == (mv[i % 4] ? 0.0 : 1.0);
  CHECK(ok);
  free(yv), free(xv);
  /* a mask that would broadcast x up is an error; so is a float mask */
  prior_tensor *bigmask = prior_tensor_zeros(4, (int64_t[]){5, 2, 3, 4}, PRIOR_BOOL, prior_cpu());
  CHECK_ERR(prior_masked_fill(x, bigmask, 0), PRIOR_ERR_SHAPE, "does not broadcast to input");
  prior_tensor *fmask = prior_tensor_zeros(1, (int64_t[]){4}, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_masked_fill(x, fmask, 0), PRIOR_ERR_DTYPE, "bool or u8");
  prior_free_all(6, x, mask, y, ones, bigmask, fmask);
}

int main(void) {
  prior_rng_seed(3);
  check_cat_stack();
  check_split_chunk();
  check_indexing();
  check_masked_fill();
  return check_summary("test_index_ops");
}
