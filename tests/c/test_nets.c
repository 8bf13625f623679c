/* Whole networks against PyTorch: a narrow ResNet50-topology network (train mode: batch statistics, running-stat
 * update), CLIP-style attention pools, a BERT encoder with pooler and a causal BERT decoder with cross-attention.
 * Each fixture holds the weights, inputs, outputs and every parameter gradient of sum(outputs * w). */
#include "fixture_util.h"
#include "prior/nn_attention.h"
#include "prior/nn_bert.h"
#include "prior/nn_resnet.h"
#include "prior/rng.h"

#define FIXTURES "tests/fixtures/nets/"

/* loss = sum over outputs of sum(out * lossweight.<name>) */
static prior_tensor *weighted_loss(const prior_safetensors *st, int n, const char *const *names, prior_tensor *const *outs) {
  prior_tensor *total = NULL;
  for (int i = 0; i < n; i++) {
    char key[128];
    snprintf(key, sizeof key, "lossweight.%s", names[i]);
    prior_tensor *w = fixture_tensor(st, key, PRIOR_F32);
    prior_tensor *prod = prior_mul(outs[i], w);
    prior_tensor *s = prior_sum(prod, 0, NULL, 0);
    prior_tensor *next = total ? prior_add(total, s) : prior_tensor_retain(s);
    prior_free_all(4, w, prod, s, total);
    total = next;
  }
  return total;
}

static void check_grads(const char *what, const prior_safetensors *st, prior_params *p, double tol) {
  int checked = 0;
  for (int32_t i = 0; i < prior_params_count(p); i++) {
    if (prior_params_is_buffer(p, i)) continue;
    char key[256];
    snprintf(key, sizeof key, "grad.%s", prior_params_name(p, i));
    prior_tensor *ours = prior_params_tensor(p, i)->grad;
    if (!prior_safetensors_find(st, key)) { /* PyTorch computed no gradient: the parameter was unused */
      CHECK_MSG(ours == NULL, "%s %s: we have a gradient, PyTorch has none", what, key);
      continue;
    }
    prior_tensor *ref = fixture_tensor(st, key, PRIOR_F32);
    char label[300];
    snprintf(label, sizeof label, "%s %s", what, key);
    CHECK_MSG(ours != NULL, "%s: no gradient", label);
    if (ours && ref) CHECK_CLOSE_TO_FIXTURE(label, ours, ref, tol);
    prior_tensor_free(ref);
    checked++;
  }
  CHECK(checked > 0);
}

static void check_loss(const char *what, const prior_safetensors *st, prior_tensor *loss) {
  prior_tensor *ref = fixture_tensor(st, "loss", PRIOR_F64);
  double ours = NAN, theirs = NAN;
  prior_tensor_item(loss, &ours);
  prior_tensor_item(ref, &theirs);
  CHECK_MSG(fabs(ours - theirs) <= 1e-4 * fmax(1.0, fabs(theirs)), "%s loss %.8g vs %.8g", what, ours, theirs);
  prior_tensor_free(ref);
}

static void test_resnet(void) {
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open(FIXTURES "resnet_narrow_train.safetensors", &st));
  if (!st) return;
  prior_resnet_config cfg = {{3, 4, 6, 3}, 4, 1};
  prior_resnet *net = prior_resnet_new(&cfg);
  prior_params *p = prior_resnet_params(net);
  CHECK(fixture_load_params(st, p) == prior_params_count(p));
  /* running statistics as they were before the training step; the counter likewise */
  for (int32_t i = 0; i < prior_params_count(p); i++) {
    const char *name = prior_params_name(p, i);
    char key[256];
    snprintf(key, sizeof key, "before.%s", name);
    if (prior_safetensors_find(st, key)) {
      prior_tensor *before = fixture_tensor(st, key, PRIOR_F32);
      prior_tensor_copy_(prior_params_tensor(p, i), before);
      prior_tensor_free(before);
    } else if (strstr(name, "num_batches_tracked")) {
      prior_tensor_fill_(prior_params_tensor(p, i), 0);
    }
  }
  prior_params_set_requires_grad(p, 1);
  prior_tensor *x = fixture_tensor(st, "input.x", PRIOR_F32);
  prior_tensor *stages[4] = {0};
  prior_tensor *out = prior_resnet_forward(net, x, 1, stages, NULL);
  CHECK_MSG(out != NULL, "resnet forward: %s", prior_error_message());
  if (out) {
    prior_tensor *ref4 = fixture_tensor(st, "output.layer4", PRIOR_F32), *ref1 = fixture_tensor(st, "output.layer1", PRIOR_F32);
    CHECK_CLOSE_TO_FIXTURE("resnet layer4", out, ref4, 1e-4);
    CHECK_CLOSE_TO_FIXTURE("resnet layer1", stages[0], ref1, 1e-4);
    const char *names[2] = {"layer1", "layer4"};
    prior_tensor *outs[2] = {stages[0], out};
    prior_tensor *loss = weighted_loss(st, 2, names, outs);
    check_loss("resnet", st, loss);
    CHECK_OK(prior_backward(loss, NULL, 0));
    check_grads("resnet", st, p, 2e-3);
    /* running statistics after the step */
    for (int32_t i = 0; i < prior_params_count(p); i++) {
      if (!prior_params_is_buffer(p, i)) continue;
      char key[256];
      snprintf(key, sizeof key, "param.%s", prior_params_name(p, i));
      prior_tensor *ref = fixture_tensor(st, key, -1);
      CHECK_CLOSE_TO_FIXTURE(key, prior_params_tensor(p, i), ref, 1e-4);
      prior_tensor_free(ref);
    }
    prior_free_all(3, ref4, ref1, loss);
  }
  for (int i = 0; i < 4; i++) prior_tensor_free(stages[i]);
  prior_free_all(2, x, out);
  prior_resnet_free(net);
  prior_safetensors_close(st);
}

static void test_attention_pools(void) {
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open(FIXTURES "attnpool_map.safetensors", &st));
  if (st) {
    prior_params *p = prior_params_new();
    prior_attention_pool pool;
    CHECK_OK(prior_attention_pool_init(&pool, p, "", 16, 4, 12, 9));
    CHECK(fixture_load_params(st, p) == prior_params_count(p));
    prior_params_set_requires_grad(p, 1);
    prior_tensor *map = fixture_tensor(st, "input.map", PRIOR_F32);
    prior_tensor *out = prior_attention_pool_map(&pool, map);
    prior_tensor *ref = fixture_tensor(st, "output.pooled", PRIOR_F32);
    CHECK_CLOSE_TO_FIXTURE("attention pool (map)", out, ref, 1e-5);
    const char *names[1] = {"pooled"};
    prior_tensor *loss = weighted_loss(st, 1, names, &out);
    check_loss("attention pool (map)", st, loss);
    CHECK_OK(prior_backward(loss, NULL, 0));
    check_grads("attention pool (map)", st, p, 1e-4);
    prior_free_all(4, map, out, ref, loss);
    prior_params_free(p);
    prior_safetensors_close(st);
  }
  st = NULL;
  CHECK_OK(prior_safetensors_open(FIXTURES "attnpool_masked.safetensors", &st));
  if (st) {
    prior_params *p = prior_params_new();
    prior_attention_pool pool;
    CHECK_OK(prior_attention_pool_init(&pool, p, "", 16, 4, 16, 0));
    CHECK(fixture_load_params(st, p) == prior_params_count(p));
    prior_params_set_requires_grad(p, 1);
    prior_tensor *tokens = fixture_tensor(st, "input.tokens", PRIOR_F32);
    prior_tensor_set_requires_grad(tokens, 1);
    prior_tensor *mask = fixture_tensor(st, "input.mask", PRIOR_F32);
    prior_tensor *out = prior_attention_pool_forward(&pool, tokens, mask, NULL);
    prior_tensor *ref = fixture_tensor(st, "output.pooled", PRIOR_F32);
    CHECK_CLOSE_TO_FIXTURE("attention pool (masked)", out, ref, 1e-5);
    const char *names[1] = {"pooled"};
    prior_tensor *loss = weighted_loss(st, 1, names, &out);
    CHECK_OK(prior_backward(loss, NULL, 0));
    check_grads("attention pool (masked)", st, p, 1e-4);
    /* padded sentences get no gradient */
    double g;
    CHECK_OK(prior_tensor_get(tokens->grad, (int64_t[]){2, 3, 5}, &g));
    CHECK(g == 0.0);
    prior_free_all(5, tokens, mask, out, ref, loss);
    prior_params_free(p);
    prior_safetensors_close(st);
  }
}

static prior_bert_config tiny_bert(int decoder) {
  prior_bert_config c = prior_bert_base_config(128);
  c.hidden = 32, c.layers = 2, c.heads = 4, c.intermediate = 64, c.max_positions = 40;
  c.hidden_dropout = c.attention_dropout = 0;
  c.add_pooler = !decoder;
  c.cross_attention = decoder;
  return c;
}

/* The tiny encoder with the fixture's parameters, requiring grad. */
static prior_bert *fixture_bert(prior_safetensors *st) {
  prior_bert_config cfg = tiny_bert(0);
  prior_bert *bert = prior_bert_new(&cfg);
  prior_params *p = prior_bert_params(bert);
  CHECK(fixture_load_params(st, p) == prior_params_count(p));
  prior_params_set_requires_grad(p, 1);
  return bert;
}

static void test_bert(void) {
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open(FIXTURES "bert_encoder.safetensors", &st));
  if (st) {
    prior_bert *bert = fixture_bert(st);
    prior_params *p = prior_bert_params(bert);
    prior_tensor *ids = fixture_tensor(st, "input.ids", PRIOR_I64), *mask = fixture_tensor(st, "input.mask", PRIOR_F32);
    prior_tensor *pooled = NULL;
    prior_tensor *h = prior_bert_forward(bert, ids, mask, NULL, 0, &pooled);
    CHECK_MSG(h && pooled, "bert forward: %s", prior_error_message());
    prior_tensor *ref_h = fixture_tensor(st, "output.last_hidden", PRIOR_F32);
    prior_tensor *ref_p = fixture_tensor(st, "output.pooled", PRIOR_F32);
    CHECK_CLOSE_TO_FIXTURE("bert last hidden", h, ref_h, 1e-5);
    CHECK_CLOSE_TO_FIXTURE("bert pooled", pooled, ref_p, 1e-5);
    const char *names[2] = {"last_hidden", "pooled"};
    prior_tensor *outs[2] = {h, pooled};
    prior_tensor *loss = weighted_loss(st, 2, names, outs);
    check_loss("bert", st, loss);
    CHECK_OK(prior_backward(loss, NULL, 0));
    check_grads("bert", st, p, 1e-4);
    prior_free_all(7, ids, mask, pooled, h, ref_h, ref_p, loss);
    prior_bert_free(bert);
    prior_safetensors_close(st);
  }
  st = NULL;
  CHECK_OK(prior_safetensors_open(FIXTURES "bert_decoder_causal.safetensors", &st));
  if (st) {
    prior_bert_config cfg = tiny_bert(1);
    prior_bert *bert = prior_bert_new(&cfg);
    prior_params *p = prior_bert_params(bert);
    CHECK(fixture_load_params(st, p) == prior_params_count(p));
    prior_params_set_requires_grad(p, 1);
    prior_tensor *queries = fixture_tensor(st, "input.queries", PRIOR_F32);
    prior_tensor *enc = fixture_tensor(st, "input.encoder", PRIOR_F32);
    prior_tensor *enc_mask = fixture_tensor(st, "input.encoder_mask", PRIOR_F32);
    prior_tensor *e = prior_bert_embed_inputs(bert, queries, 0);
    prior_tensor *h = e ? prior_bert_layers(bert, e, NULL, 1, enc, enc_mask, 0) : NULL;
    CHECK_MSG(h != NULL, "bert decoder: %s", prior_error_message());
    prior_tensor *ref = fixture_tensor(st, "output.last_hidden", PRIOR_F32);
    CHECK_CLOSE_TO_FIXTURE("bert decoder last hidden", h, ref, 1e-5);
    const char *names[1] = {"last_hidden"};
    prior_tensor *loss = weighted_loss(st, 1, names, &h);
    check_loss("bert decoder", st, loss);
    CHECK_OK(prior_backward(loss, NULL, 0));
    check_grads("bert decoder", st, p, 1e-4);
    prior_free_all(7, queries, enc, enc_mask, e, h, ref, loss);
    prior_bert_free(bert);
    prior_safetensors_close(st);
  }
}

static void test_errors(void) {
  prior_resnet_config bad = {{3, 4, 6, 3}, 4, 2};
  CHECK_ERR(prior_resnet_new(&bad), PRIOR_ERR_ARGUMENT, "in_channels 1 or 3");
  prior_resnet_config cfg = {{1, 1, 1, 1}, 4, 1};
  prior_resnet *net = prior_resnet_new(&cfg);
  int64_t shape[4] = {1, 3, 32, 32};
  prior_tensor *x = prior_tensor_zeros(4, shape, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_resnet_forward(net, x, 0, NULL, NULL), PRIOR_ERR_SHAPE, "3 channels");
  prior_tensor_free(x);
  prior_resnet_free(net);
  prior_bert_config bc = tiny_bert(0);
  bc.heads = 5;
  CHECK_ERR(prior_bert_new(&bc), PRIOR_ERR_ARGUMENT, "bad config");
}

/* prior_bert_forward_tokens (the layers on the real tokens' rows) against prior_bert_forward on the fixture's
 * padded batch: the same hidden states at real tokens, zeros at padding, and the same parameter gradients for a
 * loss that reads only real tokens. */
static void test_bert_tokens(void) {
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open(FIXTURES "bert_encoder.safetensors", &st));
  if (!st) return;
  prior_bert *bert = fixture_bert(st);
  prior_params *p = prior_bert_params(bert);
  prior_tensor *ids = fixture_tensor(st, "input.ids", PRIOR_I64), *mask = fixture_tensor(st, "input.mask", PRIOR_F32);
  int64_t n = mask->shape[0], l = mask->shape[1], real = 0;
  for (int64_t i = 0; i < n * l; i++) real += ((const float *)prior_tensor_data(mask))[i] != 0;
  CHECK_MSG(real > 0 && real < n * l, "the fixture's batch should be padded (%lld of %lld real)", (long long)real,
            (long long)(n * l));
  int64_t m3[3] = {n, l, 1}, rs[3] = {n, l, prior_bert_get_config(bert)->hidden};
  prior_tensor *mask3 = prior_reshape(mask, 3, m3);
  prior_rng_seed(11);
  prior_tensor *r = prior_tensor_randn(3, rs, PRIOR_F32, prior_cpu()); /* a loss whose gradient reaches everything */
  prior_tensor *h[2], *grads[2][64] = {{0}};
  int np = (int)prior_params_count(p);
  CHECK(np <= 64);
  for (int tokens = 0; tokens < 2; tokens++) {
    h[tokens] = tokens ? prior_bert_forward_tokens(bert, ids, mask, NULL, 0) : prior_bert_forward(bert, ids, mask, NULL, 0, NULL);
    CHECK_MSG(h[tokens] != NULL, "bert forward (tokens %d): %s", tokens, prior_error_message());
    if (!h[tokens]) continue;
    prior_tensor *masked = prior_mul(h[tokens], mask3);
    prior_tensor *sq = prior_mul(masked, r);
    prior_tensor *loss = prior_sum(sq, 0, NULL, 0);
    CHECK_OK(prior_backward(loss, NULL, 0));
    for (int i = 0; i < np; i++) {
      prior_tensor *t = prior_params_tensor(p, i);
      grads[tokens][i] = t->grad ? prior_tensor_clone_raw(t->grad) : NULL;
      prior_tensor_zero_grad(t);
    }
    prior_free_all(3, masked, sq, loss);
  }
  if (h[0] && h[1]) {
    prior_tensor *masked = prior_mul(h[0], mask3);
    CHECK_CLOSE_TO_FIXTURE("bert at real tokens", h[1], masked, 1e-5); /* zeros at padding on both sides */
    prior_tensor_free(masked);
    for (int i = 0; i < np; i++) {
      if (!grads[0][i] && !grads[1][i]) continue;
      CHECK_MSG(grads[0][i] && grads[1][i], "parameter %d: a gradient on one side only", i);
      if (grads[0][i] && grads[1][i]) CHECK_CLOSE_TO_FIXTURE(prior_params_name(p, i), grads[1][i], grads[0][i], 1e-4);
    }
  }
  for (int i = 0; i < np; i++) prior_free_all(2, grads[0][i], grads[1][i]);
  prior_free_all(6, ids, mask, mask3, r, h[0], h[1]);
  prior_bert_free(bert);
  prior_safetensors_close(st);
}

/* prior_bert_forward_tokens on masks the fixture lacks: a sequence with holes, one with no token at all, and a batch
 * with no token anywhere (zeros out, no error). */
static void test_bert_tokens_masks(void) {
  prior_bert_config cfg = tiny_bert(0);
  prior_rng_seed(5);
  prior_bert *bert = prior_bert_new(&cfg);
  int64_t shape[2] = {3, 9}, m3[3] = {3, 9, 1};
  prior_tensor *ids = prior_tensor_full(2, shape, 7, PRIOR_I64, prior_cpu());
  for (int64_t i = 0; i < 27; i++) ((int64_t *)prior_tensor_data(ids))[i] = 1 + (i * 37) % 100;
  const float holes[27] = {1, 1, 0, 1, 0, 0, 1, 1, 0, /* holes */ 0, 0, 0, 0, 0, 0, 0, 0, 0, /* none */
                           1, 1, 1, 1, 1, 1, 1, 0, 0};
  prior_tensor *mask = prior_tensor_empty(2, shape, PRIOR_F32, prior_cpu());
  memcpy(prior_tensor_data(mask), holes, sizeof holes);
  prior_tensor *full = prior_bert_forward(bert, ids, mask, NULL, 0, NULL);
  prior_tensor *tokens = prior_bert_forward_tokens(bert, ids, mask, NULL, 0);
  prior_tensor *mask3 = prior_reshape(mask, 3, m3);
  prior_tensor *full_real = full && mask3 ? prior_mul(full, mask3) : NULL;
  CHECK_MSG(tokens != NULL && full_real != NULL, "bert tokens with holes: %s", prior_error_message());
  if (tokens && full_real) CHECK_CLOSE_TO_FIXTURE("bert tokens, holes and an empty sequence", tokens, full_real, 1e-5);
  prior_tensor *none = prior_tensor_zeros(2, shape, PRIOR_F32, prior_cpu());
  prior_tensor *empty = prior_bert_forward_tokens(bert, ids, none, NULL, 0);
  CHECK_MSG(empty != NULL, "bert tokens without any token: %s", prior_error_message());
  double worst = 0, v;
  for (int64_t i = 0; empty && i < prior_tensor_numel(empty); i++) {
    int64_t idx[3] = {i / (9 * cfg.hidden), i / cfg.hidden % 9, i % cfg.hidden};
    prior_tensor_get(empty, idx, &v);
    worst = fmax(worst, fabs(v));
  }
  CHECK_MSG(worst == 0, "bert tokens without any token: %g, want zeros", worst);
  /* bad arguments are reported, as by prior_bert_forward */
  int64_t short_shape[2] = {3, 8};
  prior_tensor *short_mask = prior_tensor_ones(2, short_shape, PRIOR_F32, prior_cpu());
  CHECK(prior_bert_forward_tokens(bert, NULL, mask, NULL, 0) == NULL && prior_error_code() != PRIOR_OK);
  prior_error_clear();
  CHECK(prior_bert_forward_tokens(bert, ids, short_mask, NULL, 0) == NULL && prior_error_code() != PRIOR_OK);
  prior_error_clear();
  prior_tensor_free(short_mask);
  prior_free_all(8, ids, mask, full, tokens, mask3, full_real, none, empty);
  prior_bert_free(bert);
}

int main(void) {
  test_resnet();
  test_attention_pools();
  test_bert();
  test_bert_tokens();
  test_bert_tokens_masks();
  test_errors();
  return check_summary("test_nets");
}
