/* The PRIOR model against its plain-PyTorch re-creation (tests/fixtures/prior): one training step of each stage
 * at a tiny size, with the same weights, inputs and injected noise: every loss term, the gradient of every
 * parameter, and the batch-norm running statistics after the step. */
#include "fixture_util.h"
#include "prior/prior_model.h"

static double max_abs(const prior_tensor *t) {
  int64_t n = prior_tensor_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v), m = 0;
  prior_tensor_to_f64_array(t, v);
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
  free(v);
  return m;
}

static prior_model_config fixture_config(void) {
  prior_model_config c = prior_model_config_paper();
  c.resnet = (prior_resnet_config){{1, 1, 1, 1}, 2, 1};
  c.bert = prior_bert_base_config(120);
  c.bert.hidden = 32, c.bert.layers = 2, c.bert.heads = 4, c.bert.intermediate = 64, c.bert.max_positions = 64;
  c.bert.hidden_dropout = c.bert.attention_dropout = 0.0;
  c.image_size = 64, c.embed_dim = 32, c.pool_heads = 4, c.num_prototypes = 16, c.num_queries = 4;
  c.decoder_layers = 1;
  return c;
}

/* dtype: f64 runs the model in double precision like the reference (tight tolerances: a wrong formula cannot
 * hide); f32 is the training precision (tolerances allow for rounding through the tiny decoders). */
static void check_stage(int stage, prior_dtype dtype) {
  /* the fixture stores f32 values of an f64 computation: 1e-6 relative is its own precision */
  double loss_tol = dtype == PRIOR_F64 ? 1e-6 : 2e-5, grad_tol = dtype == PRIOR_F64 ? 1e-5 : 2e-2;
  char path[128], label[300];
  snprintf(path, sizeof path, "tests/fixtures/prior/stage%d.safetensors", stage);
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open(path, &st));
  if (!st) return;
  prior_model_config cfg = fixture_config();
  prior_model *m = prior_model_new(&cfg);
  CHECK_MSG(m != NULL, "%s", prior_error_message());
  if (!m) return;
  prior_params *p = prior_model_params(m);
  CHECK(fixture_load_params(st, p) == prior_params_count(p));
  CHECK_OK(prior_params_to_dtype(p, dtype));
  prior_params_set_requires_grad(p, 1);
  prior_batch batch = {.images = fixture_tensor(st, "input.images", dtype),
                       .input_ids = fixture_tensor(st, "input.ids", PRIOR_I64),
                       .attention_mask = fixture_tensor(st, "input.attention_mask", dtype),
                       .sentence_index = fixture_tensor(st, "input.sentence_index", PRIOR_I64)};
  prior_step_noise noise = {fixture_tensor(st, "input.gumbel", dtype), fixture_tensor(st, "input.gumbel_gpa", dtype),
                            fixture_tensor(st, "input.ccr_channel_mask", dtype)};
  prior_tensor *tau_t = fixture_tensor(st, "input.tau", PRIOR_F64);
  double tau = 0.7;
  prior_tensor_item(tau_t, &tau);
  prior_losses l;
  prior_status s = prior_model_step(m, &batch, stage, tau, 1, &noise, &l);
  CHECK_MSG(s == PRIOR_OK, "stage %d: %s", stage, prior_error_message());
  if (s == PRIOR_OK) {
    const char *names[9] = {"total", "global", "local_image", "local_text", "proto", "rec_image", "spg", "kl", "gpa"};
    prior_tensor *terms[9] = {l.total, l.global, l.local_image, l.local_text, l.proto, l.rec_image, l.spg, l.kl, l.gpa};
    for (int i = 0; i < 9; i++) {
      char key[64];
      snprintf(key, sizeof key, "loss.%s", names[i]);
      int present = prior_safetensors_find(st, key) != NULL;
      CHECK_MSG(present == (terms[i] != NULL), "stage %d %s: present in fixture %d, ours %d", stage, names[i], present,
                terms[i] != NULL);
      if (!present || !terms[i]) continue;
      prior_tensor *ref = fixture_tensor(st, key, PRIOR_F64);
      double ours, theirs;
      prior_tensor_item(terms[i], &ours);
      prior_tensor_item(ref, &theirs);
      CHECK_MSG(fabs(ours - theirs) <= loss_tol * fmax(1.0, fabs(theirs)), "%s stage %d %s: %.10g vs PyTorch %.10g",
                prior_dtype_name(dtype), stage, names[i], ours, theirs);
      prior_tensor_free(ref);
    }
    CHECK_OK(prior_backward(l.total, NULL, 0));
    for (int32_t i = 0; i < prior_params_count(p); i++) {
      char key[256];
      snprintf(key, sizeof key, "grad.%s", prior_params_name(p, i));
      prior_tensor *ours = prior_params_tensor(p, i)->grad;
      snprintf(label, sizeof label, "%s stage %d %s", prior_dtype_name(dtype), stage, key);
      if (prior_params_is_buffer(p, i)) continue;
      if (!prior_safetensors_find(st, key)) { /* PyTorch: unused in this stage */
        CHECK_MSG(ours == NULL, "%s: we have a gradient, PyTorch has none", label);
        continue;
      }
      prior_tensor *ref = fixture_tensor(st, key, PRIOR_F32);
      CHECK_MSG(ours != NULL, "%s: no gradient", label);
      if (ours && dtype == PRIOR_F32 && max_abs(ref) < 1e-9) {
        /* zero in exact arithmetic (a softmax-invariant key bias): f32 leaves rounding noise of the step's
         * gradient scale, up to 1.0e-6 measured (Debug build), beyond FIXTURE_ATOL's 1e-6 for unit tests */
        CHECK_MSG(max_abs(ours) <= 1e-5, "%s: %.3g where the gradient is zero", label, max_abs(ours));
      } else if (ours) {
        CHECK_CLOSE_TO_FIXTURE(label, ours, ref, grad_tol);
      }
      prior_tensor_free(ref);
    }
    for (int32_t i = 0; i < prior_params_count(p); i++) {
      if (!prior_params_is_buffer(p, i)) continue;
      char key[256];
      snprintf(key, sizeof key, "buffer_after.%s", prior_params_name(p, i));
      if (!prior_safetensors_find(st, key)) continue;
      prior_tensor *ref = fixture_tensor(st, key, -1);
      snprintf(label, sizeof label, "%s stage %d %s", prior_dtype_name(dtype), stage, key);
      CHECK_CLOSE_TO_FIXTURE(label, prior_params_tensor(p, i), ref, 1e-4);
      prior_tensor_free(ref);
    }
    prior_losses_free(&l);
  }
  prior_free_all(8, batch.images, batch.input_ids, batch.attention_mask, batch.sentence_index, noise.gumbel, noise.gumbel_gpa,
                 noise.ccr_channel_mask, tau_t);
  prior_model_free(m);
  prior_safetensors_close(st);
}

int main(void) {
  for (int stage = 1; stage <= 3; stage++) {
    check_stage(stage, PRIOR_F64);
    check_stage(stage, PRIOR_F32);
  }
  return check_summary("test_prior_fixtures");
}
