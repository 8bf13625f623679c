/* The PRIOR model at a tiny size: each stage's step runs forward and backward on a batch with padded reports,
 * every loss term of the stage is finite, and gradients reach exactly the parameters the stage uses. */
#include <math.h>

#include "check.h"
#include "prior/prior.h"
#include "prior/prior_model.h"

static prior_model_config tiny_config(void) {
  prior_model_config c = prior_model_config_paper();
  c.resnet = (prior_resnet_config){{1, 1, 1, 1}, 4, 1};
  c.bert = prior_bert_base_config(120);
  c.bert.hidden = 32, c.bert.layers = 2, c.bert.heads = 4, c.bert.intermediate = 64, c.bert.max_positions = 64;
  c.bert.hidden_dropout = c.bert.attention_dropout = 0.0;
  c.image_size = 64;
  c.embed_dim = 32;
  c.pool_heads = 4;
  c.num_prototypes = 16;
  c.num_queries = 4;
  c.decoder_layers = 1;
  return c;
}

/* 3 reports of 3, 1 and 5 sentences over 16 tokens: [CLS] sentences... [SEP] [PAD]... */
static prior_batch make_batch(void) {
  prior_batch b = {0};
  int64_t ishape[4] = {3, 1, 64, 64}, tshape[2] = {3, 16};
  b.images = prior_tensor_randn(4, ishape, PRIOR_F32, prior_cpu());
  b.input_ids = prior_tensor_zeros(2, tshape, PRIOR_I64, prior_cpu());
  b.attention_mask = prior_tensor_zeros(2, tshape, PRIOR_I64, prior_cpu());
  b.sentence_index = prior_tensor_full(2, tshape, -1, PRIOR_I64, prior_cpu());
  int counts[3] = {3, 1, 5};
  for (int64_t r = 0; r < 3; r++) {
    int64_t pos = 0;
    prior_tensor_set(b.input_ids, (int64_t[]){r, pos}, 101);
    prior_tensor_set(b.attention_mask, (int64_t[]){r, pos++}, 1);
    for (int s = 1; s <= counts[r]; s++)
      for (int t = 0; t < 2; t++) {
        prior_tensor_set(b.input_ids, (int64_t[]){r, pos}, 1 + (r * 7 + s * 3 + t) % 99);
        prior_tensor_set(b.attention_mask, (int64_t[]){r, pos}, 1);
        prior_tensor_set(b.sentence_index, (int64_t[]){r, pos++}, s);
      }
    prior_tensor_set(b.input_ids, (int64_t[]){r, pos}, 102);
    prior_tensor_set(b.attention_mask, (int64_t[]){r, pos}, 1);
  }
  return b;
}

static int has_grad(prior_params *p, const char *prefix) {
  int any = 0;
  for (int32_t i = 0; i < prior_params_count(p); i++)
    if (strncmp(prior_params_name(p, i), prefix, strlen(prefix)) == 0 && prior_params_tensor(p, i)->grad) any = 1;
  return any;
}

int main(void) {
  prior_rng_seed(5);
  prior_model_config cfg = tiny_config();
  prior_model *m = prior_model_new(&cfg);
  CHECK_MSG(m != NULL, "%s", prior_error_message());
  if (!m) return check_summary("test_prior_model");
  prior_params *p = prior_model_params(m);
  prior_params_set_requires_grad(p, 1);
  prior_batch batch = make_batch();
  for (int stage = 1; stage <= 3; stage++) {
    prior_params_zero_grad(p);
    prior_losses l;
    prior_status s = prior_model_step(m, &batch, stage, 0.5, 1, NULL, &l);
    CHECK_MSG(s == PRIOR_OK, "stage %d: %s", stage, prior_error_message());
    if (s != PRIOR_OK) continue;
    prior_tensor *terms[9] = {l.total, l.global, l.local_image, l.local_text, l.proto, l.rec_image, l.spg, l.kl, l.gpa};
    const char *names[9] = {"total", "global", "local_image", "local_text", "proto", "rec_image", "spg", "kl", "gpa"};
    for (int i = 0; i < 9; i++) {
      int expected = i < 4 || (i == 4 && stage >= 2) || (i > 4 && stage == 3);
      CHECK_MSG((terms[i] != NULL) == expected, "stage %d term %s present=%d", stage, names[i], terms[i] != NULL);
      double v = NAN;
      if (terms[i]) prior_tensor_item(terms[i], &v);
      if (terms[i]) CHECK_MSG(isfinite(v), "stage %d %s = %g", stage, names[i], v);
      if (terms[i]) printf("stage %d %-12s %.5f\n", stage, names[i], v);
    }
    CHECK_OK(prior_backward(l.total, NULL, 0));
    CHECK(has_grad(p, "image_encoder.encoder.conv1"));
    CHECK(has_grad(p, "text_encoder.encoder.encoder.layer.0"));
    CHECK(has_grad(p, "lam.image_to_text"));
    CHECK(has_grad(p, "spb.") == (stage >= 2));
    CHECK(has_grad(p, "ccr_image.") == (stage == 3));
    CHECK(has_grad(p, "ccr_text.") == (stage == 3));
    prior_losses_free(&l);
  }
  prior_losses bad;
  CHECK_ERR(prior_model_step(m, &batch, 4, 0.5, 1, NULL, &bad), PRIOR_ERR_ARGUMENT, "stage 4");
  prior_free_all(4, batch.images, batch.input_ids, batch.attention_mask, batch.sentence_index);
  prior_model_free(m);
  return check_summary("test_prior_model");
}
