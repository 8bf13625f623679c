/* Sentence gathering on f32 at the paper's text sizes: 32 reports of 256 tokens, width 768, 8 sentences of 12
 * tokens each (the rest [CLS], [SEP], padding). Times forward + backward of the avg pool and of the attention pool,
 * batched (prior_sentence_gather_attention), against the attention pool computed the reference's way: a loop over
 * reports and sentences, each sentence's tokens pooled on their own (the same ops, one small graph per sentence).
 * Prints the median of several runs in milliseconds. Usage: bench_sentence_gather [repeats] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "prior/prior.h"
#include "prior/prior_modules.h"
#include "bench_util.h"

enum { B = 32, L = 256, D = 768, M = 8, TOKENS = 12 };

typedef struct bench_ctx {
  prior_sentence_attention *att;
  prior_tensor *sidx;
  prior_tensor *token_index[B][M]; /* i64 positions of each sentence's tokens (the loop version) */
} bench_ctx;

static prior_tensor *gather_avg(prior_tensor *h, bench_ctx *c) {
  return prior_sentence_gather(h, c->sidx, M, PRIOR_SENTENCE_AVG, NULL);
}

static prior_tensor *gather_attention(prior_tensor *h, bench_ctx *c) {
  return prior_sentence_gather_attention(c->att, h, c->sidx, M, NULL, NULL);
}

/* The reference's loop: per report, per sentence, x [N, D] -> softmax_N(q . sum k)^T x; stacked to [B, M, D]. */
static prior_tensor *gather_attention_loop(prior_tensor *h, bench_ctx *c) {
  prior_tensor *rows[B * M];
  int n = 0;
  for (int b = 0; b < B; b++) {
    prior_tensor *hb = prior_select(h, 0, b);
    for (int m = 0; m < M; m++) {
      prior_tensor *x = prior_index_select(hb, 0, c->token_index[b][m]);
      prior_tensor *q = prior_linear_layer_forward(&c->att->query, x);
      prior_tensor *k = prior_linear_layer_forward(&c->att->key, x);
      int64_t dim0 = 0;
      prior_tensor *ks = prior_sum(k, 1, &dim0, 1);         /* [1, E] */
      prior_tensor *kt = prior_transpose(ks, 0, 1);         /* [E, 1] */
      prior_tensor *logit = prior_matmul(q, kt);            /* [N, 1] */
      prior_tensor *a = prior_softmax(logit, 0);
      prior_tensor *at = prior_transpose(a, 0, 1);          /* [1, N] */
      prior_tensor *v = prior_matmul(at, x);                /* [1, D] */
      rows[n++] = prior_squeeze(v, 0);
      prior_free_all(9, x, q, k, ks, kt, logit, a, at, v);
    }
    prior_tensor_free(hb);
  }
  prior_tensor *flat = prior_stack(n, rows, 0);
  for (int i = 0; i < n; i++) prior_tensor_free(rows[i]);
  prior_tensor *out = flat ? prior_reshape(flat, 3, (int64_t[]){B, M, D}) : NULL;
  prior_tensor_free(flat);
  return out;
}

typedef prior_tensor *(*gather_fn)(prior_tensor *h, bench_ctx *c);

static int bench(const char *name, gather_fn f, prior_tensor *h, bench_ctx *c, int reps, prior_tensor *ref) {
  double fb[64];
  for (int r = -1; r < reps; r++) { /* r = -1 warms up */
    double t0 = now_ms();
    prior_tensor *y = f(h, c);
    prior_tensor *s = y ? prior_sum(y, 0, NULL, 0) : NULL;
    prior_status st = s ? prior_backward(s, NULL, 0) : prior_error_code();
    double t1 = now_ms();
    if (st != PRIOR_OK) return fprintf(stderr, "%s: %s\n", name, prior_error_message()), 1;
    if (r == -1 && ref) { /* the loop and the batched version agree */
      prior_tensor *d = prior_sub(y, ref), *ad = d ? prior_abs(d) : NULL, *mx = ad ? prior_max_all(ad) : NULL;
      double v = -1;
      if (mx) prior_tensor_item(mx, &v);
      printf("%-44s max |loop - batched| = %.3g\n", name, v);
      prior_free_all(3, d, ad, mx);
    }
    prior_free_all(2, y, s);
    prior_tensor_zero_grad(h);
    if (r >= 0) fb[r] = t1 - t0;
  }
  printf("%-44s forward+backward %9.2f ms\n", name, median(fb, reps));
  return 0;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 5;
  if (reps < 1 || reps > 64) reps = 5;
  prior_rng_seed(0);
  bench_ctx c = {0};
  prior_params *params = prior_params_new();
  prior_sentence_attention att;
  if (prior_sentence_attention_init(&att, params, "gather.", D) != PRIOR_OK) return fprintf(stderr, "%s\n", prior_error_message()), 1;
  prior_params_set_requires_grad(params, 1);
  c.att = &att;
  int64_t *idx = malloc(sizeof(int64_t) * B * L);
  for (int b = 0; b < B; b++)
    for (int l = 0; l < L; l++) idx[b * L + l] = (l >= 1 && l < 1 + M * TOKENS) ? 1 + (l - 1) / TOKENS : -1;
  c.sidx = prior_tensor_from_data(idx, 2, (int64_t[]){B, L}, PRIOR_I64, prior_cpu());
  for (int b = 0; b < B; b++)
    for (int m = 0; m < M; m++) {
      int64_t pos[TOKENS];
      for (int t = 0; t < TOKENS; t++) pos[t] = 1 + m * TOKENS + t;
      c.token_index[b][m] = prior_tensor_from_data(pos, 1, (int64_t[]){TOKENS}, PRIOR_I64, prior_cpu());
    }
  prior_tensor *h = prior_tensor_randn(3, (int64_t[]){B, L, D}, PRIOR_F32, prior_cpu());
  prior_tensor_set_requires_grad(h, 1);
  printf("sentence gathering, f32: %d reports x %d tokens x %d, %d sentences of %d tokens\n", B, L, D, M, TOKENS);
  prior_tensor *ref = NULL;
  {
    int previous = prior_set_grad_enabled(0);
    ref = gather_attention(h, &c);
    prior_set_grad_enabled(previous);
  }
  int fail = bench("avg (batched)", gather_avg, h, &c, reps, NULL);
  fail |= bench("attention (batched)", gather_attention, h, &c, reps, NULL);
  fail |= bench("attention (loop over reports and sentences)", gather_attention_loop, h, &c, reps, ref);
  for (int b = 0; b < B; b++)
    for (int m = 0; m < M; m++) prior_tensor_free(c.token_index[b][m]);
  prior_free_all(3, h, c.sidx, ref);
  free(idx);
  prior_params_free(params);
  return fail;
}
