/* Gradient checks for reductions and view ops; forward values of reductions against naive loops. */
#include "grad_util.h"

typedef struct {
  int n;
  int64_t dims[4];
  int keepdim;
  int which;
} reduce_case;

static prior_tensor *apply_reduce(prior_tensor *const *in, void *vctx) {
  const reduce_case *c = vctx;
  switch (c->which) {
    case 0: return prior_sum(in[0], c->n, c->dims, c->keepdim);
    case 1: return prior_mean(in[0], c->n, c->dims, c->keepdim);
    case 2: return prior_logsumexp(in[0], c->n, c->dims, c->keepdim);
    case 3: return prior_norm(in[0], c->n, c->dims, c->keepdim);
    case 4: return prior_max(in[0], c->dims[0], c->keepdim, NULL);
    case 5: return prior_min(in[0], c->dims[0], c->keepdim, NULL);
    case 6: return prior_max_all(in[0]);
    default: return prior_min_all(in[0]);
  }
}

static void check_reductions(void) {
  const char *names[] = {"sum", "mean", "logsumexp", "norm", "max", "min", "max_all", "min_all"};
  int64_t shape[3] = {3, 4, 5};
  prior_tensor *x = leaf_uniform(3, shape, -1, 1), *xs = leaf_uniform_strided(3, shape, -1, 1);
  reduce_case cases[] = {
      {0, {0}, 0, 0}, {1, {1}, 0, 0}, {2, {0, 2}, 1, 0}, {1, {-1}, 1, 0},
  };
  for (int which = 0; which < 8; which++) {
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      reduce_case c = cases[k];
      c.which = which;
      if (which >= 4 && c.n != 1) continue; /* max/min take one dim */
      if (which >= 6 && k > 0) continue;
      prior_tensor *in1[1] = {x}, *in2[1] = {xs};
      GRADCHECK(names[which], apply_reduce, &c, 1, in1);
      GRADCHECK(names[which], apply_reduce, &c, 1, in2);
    }
  }
  /* forward values against naive loops, f32 */
  prior_tensor *f = prior_tensor_to_dtype_raw(xs, PRIOR_F32);
  int64_t d1 = 1;
  prior_tensor *idx = NULL;
  prior_tensor *s = prior_sum(f, 1, &d1, 0), *m = prior_max(f, 1, 0, &idx), *am = prior_argmax(f, 1, 0);
  CHECK(s && s->ndim == 2 && s->shape[0] == 3 && s->shape[1] == 5 && idx && idx->dtype == PRIOR_I64);
  for (int64_t i = 0; i < 3; i++)
    for (int64_t k = 0; k < 5; k++) {
      double acc = 0, best = -1e30;
      int64_t where = -1;
      for (int64_t j = 0; j < 4; j++) {
        double v;
        int64_t ix[3] = {i, j, k};
        prior_tensor_get(f, ix, &v);
        acc += v;
        if (v > best) best = v, where = j;
      }
      double got, gm, gi, ga;
      int64_t ox[2] = {i, k};
      prior_tensor_get(s, ox, &got);
      prior_tensor_get(m, ox, &gm);
      prior_tensor_get(idx, ox, &gi);
      prior_tensor_get(am, ox, &ga);
      CHECK_NEAR(got, acc, 1e-5);
      CHECK(gm == best && gi == where && ga == where);
    }
  /* a long row summed across threads, and bool counts */
  int64_t big = 1 << 20;
  prior_tensor *ones = prior_tensor_ones(1, &big, PRIOR_F32, prior_cpu());
  prior_tensor *total = prior_sum(ones, 0, NULL, 0);
  double tv;
  prior_tensor_item(total, &tv);
  CHECK(tv == (double)big);
  CHECK_ERR(prior_sum(x, 1, (int64_t[]){3}, 0), PRIOR_ERR_INDEX, "dim 3 out of range");
  CHECK_ERR(prior_mean(x, 2, (int64_t[]){1, 1}, 0), PRIOR_ERR_ARGUMENT, "listed twice");
  prior_free_all(8, x, xs, f, s, m, am, ones, total);
  prior_tensor_free(idx);
}

static prior_tensor *apply_views(prior_tensor *const *in, void *ctx) {
  /* permute -> narrow -> select -> reshape -> expand -> unsqueeze -> squeeze, then multiply by position
   * weights so each element's gradient differs */
  int64_t order[3] = {2, 0, 1};
  prior_tensor *p = prior_permute(in[0], 3, order); /* [5,3,4] */
  prior_tensor *n = prior_narrow(p, 0, 1, 3);       /* [3,3,4] */
  prior_tensor *s = prior_select(n, 1, -1);         /* [3,4] */
  int64_t shape[2] = {2, 6};
  prior_tensor *r = prior_reshape(s, 2, shape);     /* [2,6] (copy: s is not contiguous) */
  int64_t eshape[3] = {3, 2, 6};
  prior_tensor *e = prior_expand(r, 3, eshape);
  prior_tensor *u = prior_unsqueeze(e, 1);
  prior_tensor *q = prior_squeeze(u, 1);
  prior_tensor *t = prior_transpose(q, 0, 2);
  prior_tensor *c = prior_contiguous(t);
  prior_tensor *fl = prior_flatten(c, 0, -1);
  prior_tensor *w = prior_tensor_arange(1, 37, 1, PRIOR_F64, prior_cpu());
  prior_tensor *out = prior_mul(fl, w);
  prior_free_all(12, p, n, s, r, e, u, q, t, c, fl, w, NULL);
  return out;
}

/* f32 sums over permuted layouts (the reduced dims outermost in memory or not, the kept ones in or out of order)
 * equal a sequential double sum of each output's values in the reduced dims' logical order, rounded once to
 * f32: the bits of the row-by-row path, whichever path the layout takes. */
static void check_sum_layouts(void) {
  const int64_t base[3] = {6, 7, 9}; /* memory order of the dense block */
  const int64_t perms[][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {2, 1, 0}, {1, 2, 0}};
  const int64_t dim_sets[][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 1}};
  const int n_dims[] = {1, 1, 1, 2};
  prior_tensor *block = prior_tensor_randn(3, base, PRIOR_F32, prior_cpu());
  for (size_t pi = 0; pi < sizeof perms / sizeof perms[0]; pi++) {
    prior_tensor *x = prior_permute(block, 3, perms[pi]);
    for (size_t di = 0; di < sizeof n_dims / sizeof n_dims[0]; di++) {
      int nd = n_dims[di];
      const int64_t *dims = dim_sets[di];
      prior_tensor *y = prior_sum(x, nd, dims, 0);
      CHECK_MSG(y != NULL, "sum: %s", prior_error_message());
      if (!y) continue;
      int reduced[3] = {0};
      for (int i = 0; i < nd; i++) reduced[dims[i]] = 1;
      const float *px = prior_tensor_data(x);
      const float *py = prior_tensor_data(y);
      int64_t out_i = 0, bad = 0, idx[3];
      for (idx[0] = 0; idx[0] < (reduced[0] ? 1 : x->shape[0]); idx[0]++)
        for (idx[1] = 0; idx[1] < (reduced[1] ? 1 : x->shape[1]); idx[1]++)
          for (idx[2] = 0; idx[2] < (reduced[2] ? 1 : x->shape[2]); idx[2]++, out_i++) {
            double acc = 0;
            int64_t j[3];
            for (j[0] = reduced[0] ? 0 : idx[0]; j[0] < (reduced[0] ? x->shape[0] : idx[0] + 1); j[0]++)
              for (j[1] = reduced[1] ? 0 : idx[1]; j[1] < (reduced[1] ? x->shape[1] : idx[1] + 1); j[1]++)
                for (j[2] = reduced[2] ? 0 : idx[2]; j[2] < (reduced[2] ? x->shape[2] : idx[2] + 1); j[2]++)
                  acc += px[j[0] * x->strides[0] + j[1] * x->strides[1] + j[2] * x->strides[2]];
            if ((float)acc != py[out_i]) bad++;
          }
      CHECK_MSG(bad == 0, "sum over dims %lld%s of permutation (%lld, %lld, %lld): %lld values differ from the "
                "sequential sum", (long long)dims[0], nd == 2 ? " and 1" : "", (long long)perms[pi][0],
                (long long)perms[pi][1], (long long)perms[pi][2], (long long)bad);
      prior_tensor_free(y);
    }
    prior_tensor_free(x);
  }
  prior_tensor_free(block);
}

int main(void) {
  prior_rng_seed(2);
  check_reductions();
  check_sum_layouts();
  int64_t shape[3] = {3, 4, 5};
  prior_tensor *x = leaf_uniform(3, shape, -1, 1), *xs = leaf_uniform_strided(3, shape, -1, 1);
  prior_tensor *in1[1] = {x}, *in2[1] = {xs};
  GRADCHECK("views", apply_views, NULL, 1, in1);
  GRADCHECK("views strided", apply_views, NULL, 1, in2);
  int64_t bad[2] = {7, -1};
  CHECK_ERR(prior_view(xs, 2, bad), PRIOR_ERR_SHAPE, "cannot reshape");
  int64_t flat = -1;
  prior_tensor *pt = prior_permute(x, 3, (int64_t[]){1, 0, 2});
  CHECK_ERR(prior_view(pt, 1, &flat), PRIOR_ERR_SHAPE, "use reshape");
  CHECK_ERR(prior_permute(x, 3, (int64_t[]){0, 0, 1}), PRIOR_ERR_ARGUMENT, "appears twice");
  CHECK_ERR(prior_expand(x, 3, (int64_t[]){3, 4, 6}), PRIOR_ERR_SHAPE, "cannot expand");
  prior_free_all(3, x, xs, pt);
  return check_summary("test_grad_reduce_shape");
}
