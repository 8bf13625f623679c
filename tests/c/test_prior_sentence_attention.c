/* The 'attention' sentence pool: a finite-difference gradient check of the batched version (hidden states and both
 * Linear layers), its match with the reference's per-sentence loop (tests/fixtures/sentence_attention) in f64 and
 * f32, forward and gradients, its errors, and the model's parameters and step with sentence_pool = attention. */
#include <math.h>
#include <string.h>

#include "fixture_util.h"
#include "grad_util.h"
#include "prior/prior_model.h"

/* ---- gradient check ------------------------------------------------------------------------------------------ */

typedef struct gc_ctx {
  prior_tensor *sentence_index;
  int64_t max_sentences;
  int weights; /* 1: return the token weights instead of the sentence vectors */
} gc_ctx;

/* inputs: hidden, query.weight, query.bias, key.weight, key.bias */
static prior_tensor *gather_fn(prior_tensor *const *in, void *ctx) {
  const gc_ctx *c = ctx;
  prior_sentence_attention a = {.query = {in[1], in[2]}, .key = {in[3], in[4]}, .d = in[0]->shape[2]};
  prior_tensor *w = NULL;
  prior_tensor *out = prior_sentence_gather_attention(&a, in[0], c->sentence_index, c->max_sentences, NULL,
                                                      c->weights ? &w : NULL);
  if (!c->weights) return out;
  prior_tensor_free(out);
  return w;
}

static prior_tensor *index_tensor(int64_t b, int64_t l, const int64_t *values) {
  prior_tensor *t = prior_tensor_from_data(values, 2, (int64_t[]){b, l}, PRIOR_I64, prior_cpu());
  return t;
}

static void test_gradcheck(void) {
  prior_rng_seed(11);
  /* report 0: sentences of 2, 1 and 3 tokens; report 1: sentence 2 has no tokens, a 0 in the padding, and a
   * token of sentence 4 beyond max_sentences = 3 (ignored); [CLS], [SEP], padding -1 */
  const int64_t sidx[2 * 9] = {-1, 1, 1, 2, 3, 3, 3, -1, -1,
                               -1, 1, 3, 3, 3, -1, 0, 4, -1};
  prior_tensor *si = index_tensor(2, 9, sidx);
  int64_t d = 16, e = 2;
  prior_tensor *in[5] = {leaf_uniform(3, (int64_t[]){2, 9, d}, -1, 1),
                         leaf_uniform_strided(2, (int64_t[]){e, d}, -0.5, 0.5), leaf_uniform(1, (int64_t[]){e}, -0.5, 0.5),
                         leaf_uniform(2, (int64_t[]){e, d}, -0.5, 0.5), leaf_uniform(1, (int64_t[]){e}, -0.5, 0.5)};
  gc_ctx ctx = {si, 3, 0};
  GRADCHECK("attention gather: sentence vectors", gather_fn, &ctx, 5, in);
  ctx.weights = 1;
  GRADCHECK("attention gather: token weights", gather_fn, &ctx, 5, in);

  /* the weights: rows of present sentences sum to 1 over their own tokens, everything else is exactly 0 */
  prior_sentence_attention a = {.query = {in[1], in[2]}, .key = {in[3], in[4]}, .d = d};
  prior_tensor *mask = NULL, *w = NULL;
  prior_tensor *out = prior_sentence_gather_attention(&a, in[0], si, 3, &mask, &w);
  CHECK_MSG(out && mask && w, "%s", prior_error_message());
  if (out && mask && w) {
    CHECK(out->shape[0] == 2 && out->shape[1] == 3 && out->shape[2] == d);
    double expect_mask[6] = {1, 1, 1, 1, 0, 1};
    for (int64_t b = 0; b < 2; b++)
      for (int64_t m = 0; m < 3; m++) {
        double mv = -1, total = 0;
        prior_tensor_get(mask, (int64_t[]){b, m}, &mv);
        CHECK_NEAR(mv, expect_mask[b * 3 + m], 0);
        for (int64_t l = 0; l < 9; l++) {
          double wv = 0;
          prior_tensor_get(w, (int64_t[]){b, m, l}, &wv);
          if (sidx[b * 9 + l] != m + 1) CHECK_MSG(wv == 0, "weight [%lld,%lld,%lld] = %g outside its sentence",
                                                  (long long)b, (long long)m, (long long)l, wv);
          total += wv;
        }
        CHECK_NEAR(total, expect_mask[b * 3 + m], 1e-12);
      }
    double v = 1;
    for (int64_t j = 0; j < d; j++) {
      prior_tensor_get(out, (int64_t[]){1, 1, j}, &v);
      CHECK_MSG(v == 0, "the empty sentence's vector is %g, not 0", v);
    }
  }
  prior_free_all(3, out, mask, w);
  for (int i = 0; i < 5; i++) prior_tensor_free(in[i]);
  prior_tensor_free(si);
}

/* ---- the reference's per-sentence loop ----------------------------------------------------------------------- */

/* max |a - b| (the fixture check forgives 1e-6 absolute; f64 should be far closer than that) */
static double max_abs_diff(const prior_tensor *a, const prior_tensor *b) {
  int64_t n = prior_tensor_numel(b);
  if (!a || prior_tensor_numel(a) != n) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t ia[PRIOR_MAX_DIMS], ib[PRIOR_MAX_DIMS], ra = i, rb = i;
    for (int d = a->ndim - 1; d >= 0; d--) ia[d] = ra % a->shape[d], ra /= a->shape[d];
    for (int d = b->ndim - 1; d >= 0; d--) ib[d] = rb % b->shape[d], rb /= b->shape[d];
    double x = 0, y = 0;
    prior_tensor_get(a, ia, &x);
    prior_tensor_get(b, ib, &y);
    double e = fabs(x - y);
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

static void test_fixture(prior_dtype dtype) {
  double tol = dtype == PRIOR_F64 ? 1e-6 : 1e-5;
  const char *dn = dtype == PRIOR_F64 ? "f64" : "f32";
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open("tests/fixtures/sentence_attention/sentence_attention.safetensors", &st));
  if (!st) return;
  const char *pn[4] = {"query.weight", "query.bias", "key.weight", "key.bias"};
  prior_tensor *p[4], *hidden = fixture_tensor(st, "input.hidden", dtype);
  prior_tensor *si = fixture_tensor(st, "input.sentence_index", PRIOR_I64);
  prior_tensor *wt = fixture_tensor(st, "input.weight", dtype);
  for (int i = 0; i < 4; i++) {
    char key[64];
    snprintf(key, sizeof key, "param.%s", pn[i]);
    p[i] = fixture_tensor(st, key, dtype);
    prior_tensor_set_requires_grad(p[i], 1);
  }
  prior_tensor_set_requires_grad(hidden, 1);
  prior_sentence_attention a = {.query = {p[0], p[1]}, .key = {p[2], p[3]}, .d = hidden->shape[2]};
  prior_tensor *mask = NULL, *w = NULL;
  int64_t m = prior_sentence_count(si);
  CHECK(m == 3);
  prior_tensor *out = prior_sentence_gather_attention(&a, hidden, si, m, &mask, &w);
  CHECK_MSG(out != NULL, "%s", prior_error_message());
  prior_tensor *prod = out ? prior_mul(out, wt) : NULL;
  prior_tensor *loss = prod ? prior_sum(prod, 0, NULL, 0) : NULL;
  CHECK_OK(loss ? prior_backward(loss, NULL, 0) : prior_error_code());
  char label[96];
  double worst = 0, worst_abs = 0;
  int64_t at = -1;
#define COMPARE(ours_, ref_)                                                 \
  do {                                                                       \
    CHECK_CLOSE_TO_FIXTURE(label, (ours_), (ref_), tol);                     \
    double e_ = fixture_rel_error((ours_), (ref_), &at);                     \
    if (e_ > worst) worst = e_;                                              \
    double a_ = max_abs_diff((ours_), (ref_));                               \
    if (!(a_ <= worst_abs)) worst_abs = a_;                                  \
  } while (0)
  const char *refs[3] = {"out", "mask", "token_weights"};
  prior_tensor *ours[3] = {out, mask, w};
  for (int i = 0; i < 3; i++) {
    prior_tensor *ref = fixture_tensor(st, refs[i], PRIOR_F64);
    snprintf(label, sizeof label, "%s %s", dn, refs[i]);
    COMPARE(ours[i], ref);
    prior_tensor_free(ref);
  }
  prior_tensor *ref = fixture_tensor(st, "grad.hidden", PRIOR_F64);
  snprintf(label, sizeof label, "%s grad hidden", dn);
  COMPARE(hidden->grad, ref);
  prior_tensor_free(ref);
  for (int i = 0; i < 4; i++) {
    char key[64];
    snprintf(key, sizeof key, "grad.param.%s", pn[i]);
    ref = fixture_tensor(st, key, PRIOR_F64);
    snprintf(label, sizeof label, "%s grad %s", dn, pn[i]);
    COMPARE(p[i]->grad, ref);
    prior_tensor_free(ref);
  }
#undef COMPARE
  printf("%s: against the per-sentence loop (forward and gradients): worst relative error %.3g, max abs diff %.3g\n",
         dn, worst, worst_abs);
  if (dtype == PRIOR_F64) CHECK_MSG(worst_abs <= 1e-12, "f64 max abs diff %.3g", worst_abs);
  prior_free_all(9, out, mask, w, prod, loss, hidden, si, wt, p[0]);
  prior_free_all(3, p[1], p[2], p[3]);
  prior_safetensors_close(st);
}

/* ---- errors and parameters ----------------------------------------------------------------------------------- */

static void test_errors(void) {
  prior_params *params = prior_params_new();
  prior_sentence_attention a;
  CHECK_OK(prior_sentence_attention_init(&a, params, "gather.", 16));
  CHECK(prior_params_count(params) == 4);
  const char *names[4] = {"gather.query.weight", "gather.query.bias", "gather.key.weight", "gather.key.bias"};
  for (int i = 0; i < 4; i++) {
    int32_t k = prior_params_find(params, names[i]);
    CHECK_MSG(k >= 0, "no parameter %s", names[i]);
    if (k >= 0) CHECK(prior_params_tensor(params, k)->shape[0] == 2);
  }
  prior_sentence_attention small;
  CHECK_ERR(prior_sentence_attention_init(&small, params, "small.", 4), PRIOR_ERR_ARGUMENT, "below 8");
  prior_tensor *h = prior_tensor_randn(3, (int64_t[]){2, 5, 16}, PRIOR_F32, prior_cpu());
  prior_tensor *h8 = prior_tensor_randn(3, (int64_t[]){2, 5, 8}, PRIOR_F32, prior_cpu());
  prior_tensor *si = prior_tensor_full(2, (int64_t[]){2, 5}, 1, PRIOR_I64, prior_cpu());
  prior_tensor *si4 = prior_tensor_full(2, (int64_t[]){2, 4}, 1, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_sentence_gather_attention(&a, h8, si, 1, NULL, NULL), PRIOR_ERR_SHAPE, "width 16");
  CHECK_ERR(prior_sentence_gather_attention(&a, h, si4, 1, NULL, NULL), PRIOR_ERR_SHAPE, "does not match");
  CHECK_ERR(prior_sentence_gather_attention(&a, h, si, 0, NULL, NULL), PRIOR_ERR_ARGUMENT, "max_sentences 0");
  prior_sentence_attention blank = {0};
  CHECK_ERR(prior_sentence_gather_attention(&blank, h, si, 1, NULL, NULL), PRIOR_ERR_ARGUMENT, "not initialised");
  CHECK_ERR(prior_sentence_gather(h, si, 1, PRIOR_SENTENCE_ATTENTION, NULL), PRIOR_ERR_ARGUMENT,
            "prior_sentence_gather_attention");
  CHECK_ERR(prior_sentence_gather(h, si, 1, (prior_sentence_pool)9, NULL), PRIOR_ERR_ARGUMENT, "pool 9");
  prior_free_all(4, h, h8, si, si4);
  prior_params_free(params);
}

/* ---- the model ----------------------------------------------------------------------------------------------- */

static prior_model_config tiny_config(int pool) {
  prior_model_config c = prior_model_config_paper();
  c.resnet = (prior_resnet_config){{1, 1, 1, 1}, 2, 1};
  c.bert = prior_bert_base_config(50);
  c.bert.hidden = 16, c.bert.layers = 1, c.bert.heads = 2, c.bert.intermediate = 32, c.bert.max_positions = 16;
  c.image_size = 32, c.embed_dim = 16, c.pool_heads = 2, c.num_prototypes = 8, c.num_queries = 2;
  c.decoder_layers = 1;
  c.sentence_pool = pool;
  return c;
}

static void test_model(void) {
  prior_rng_seed(3);
  prior_model_config bad = tiny_config(7);
  CHECK_ERR(prior_model_new(&bad), PRIOR_ERR_ARGUMENT, "sentence_pool 7");
  prior_model_config avg_cfg = tiny_config(PRIOR_SENTENCE_AVG), att_cfg = tiny_config(PRIOR_SENTENCE_ATTENTION);
  prior_rng_seed(3);
  prior_model *avg = prior_model_new(&avg_cfg);
  prior_rng_seed(3);
  prior_model *att = prior_model_new(&att_cfg);
  CHECK_MSG(avg && att, "%s", prior_error_message());
  if (!avg || !att) {
    prior_model_free(avg);
    prior_model_free(att);
    return;
  }
  prior_params *pa = prior_model_params(avg), *pt = prior_model_params(att);
  CHECK(prior_params_count(pt) == prior_params_count(pa) + 4);
  CHECK(prior_params_find(pa, "text_encoder.sentence_gather.query.weight") < 0);
  int32_t qi = prior_params_find(pt, "text_encoder.sentence_gather.query.weight");
  int32_t ki = prior_params_find(pt, "text_encoder.sentence_gather.key.bias");
  CHECK(qi >= 0 && ki >= 0);
  if (qi >= 0) CHECK(prior_params_tensor(pt, qi)->shape[0] == 2 && prior_params_tensor(pt, qi)->shape[1] == 16);
  /* the other parameters start equal: the pool's are registered (and drawn) last */
  int32_t bi = prior_params_find(pt, "text_encoder.encoder.embeddings.word_embeddings.weight");
  CHECK(bi >= 0 && prior_params_find(pa, "text_encoder.encoder.embeddings.word_embeddings.weight") == bi);
  if (bi >= 0) {
    double x = 0, y = 1;
    prior_tensor_get(prior_params_tensor(pa, bi), (int64_t[]){3, 4}, &x);
    prior_tensor_get(prior_params_tensor(pt, bi), (int64_t[]){3, 4}, &y);
    CHECK(x == y);
  }

  /* one stage-1 step and backward: gradients reach the pool's four tensors */
  prior_params_set_requires_grad(pt, 1);
  int64_t l = 12;
  const int64_t sidx[2 * 12] = {-1, 1, 1, 2, 2, 2, 3, -1, -1, -1, -1, -1,
                                -1, 1, 1, 1, 3, 3, -1, -1, -1, -1, -1, -1};
  prior_batch batch = {.images = prior_tensor_randn(4, (int64_t[]){2, 1, 32, 32}, PRIOR_F32, prior_cpu()),
                       .input_ids = prior_tensor_full(2, (int64_t[]){2, l}, 7, PRIOR_I64, prior_cpu()),
                       .attention_mask = prior_tensor_full(2, (int64_t[]){2, l}, 1, PRIOR_I64, prior_cpu()),
                       .sentence_index = index_tensor(2, l, sidx)};
  prior_losses losses;
  prior_status s = prior_model_step(att, &batch, 1, 0.5, 1, NULL, &losses);
  CHECK_MSG(s == PRIOR_OK, "%s", prior_error_message());
  if (s == PRIOR_OK) {
    double v = NAN;
    prior_tensor_item(losses.total, &v);
    CHECK_MSG(isfinite(v), "total %g", v);
    CHECK_OK(prior_backward(losses.total, NULL, 0));
    for (int32_t i = 0; i < prior_params_count(pt); i++) {
      const char *n = prior_params_name(pt, i);
      if (strncmp(n, "text_encoder.sentence_gather.", 29) != 0) continue;
      prior_tensor *g = prior_params_tensor(pt, i)->grad;
      double gn = 0;
      prior_tensor *nrm = g ? prior_norm(g, 0, NULL, 0) : NULL;
      if (nrm) prior_tensor_item(nrm, &gn);
      prior_tensor_free(nrm);
      CHECK_MSG(g && gn > 0 && isfinite(gn), "%s: gradient norm %g", n, gn);
    }
    prior_losses_free(&losses);
  }
  prior_free_all(4, batch.images, batch.input_ids, batch.attention_mask, batch.sentence_index);
  prior_model_free(avg);
  prior_model_free(att);
}

int main(void) {
  test_gradcheck();
  test_fixture(PRIOR_F64);
  test_fixture(PRIOR_F32);
  test_errors();
  test_model();
  return check_summary("test_prior_sentence_attention");
}
