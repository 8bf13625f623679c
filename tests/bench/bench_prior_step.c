/* Times one PRIOR training step (forward, backward of the stage's total loss, Adam update) at a chosen preset size.
 * usage: bench_prior_step [tiny|paper] [batch] [stage] [repeats] [f32|bf16] [fused|separate] [padded|full]
 * bf16: autocast (matmuls and convolutions with bf16 operands, f32 accumulation; prior/amp.h).
 * fused (the default, what scripts/pretrain.lua does without gradient clipping): each parameter's Adam update runs
 * during backward as soon as its gradient is complete, and the gradient is freed (Optimizer:backward_step);
 * separate: backward, then the updates, then zero_grad. Both give the same parameters.
 * padded (the default): reports of 8-14 sentences padded to the length, as the PyTorch benchmark's (report_layout);
 * full: every position a token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "prior/prior.h"
#include "prior/prior_model.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Reports as tests/bench/bench_prior_step_torch.py lays them out: report b has 8 + (5b + 3) % 7 sentences, its
 * sentence j 8 + (7b + 5j) % 13 tokens (8-20), after [CLS] and before [SEP], padded to the length; a sentence
 * that would not fit ends the report. At the paper length (256) the four reports of a batch of 4 hold 658 tokens
 * of 1024 positions. */
static void report_layout(prior_tensor *mask, prior_tensor *sentence_index) {
  int64_t batch = mask->shape[0], length = mask->shape[1];
  int64_t *m = prior_tensor_data(mask), *s = prior_tensor_data(sentence_index);
  for (int64_t b = 0; b < batch; b++) {
    int64_t pos = 1, sentences = 8 + (5 * b + 3) % 7;
    for (int64_t j = 0; j < sentences; j++) {
      int64_t n = 8 + (7 * b + 5 * j) % 13;
      if (pos + n >= length - 1) break;
      for (int64_t i = pos; i < pos + n; i++) s[b * length + i] = j + 1;
      pos += n;
    }
    for (int64_t i = 0; i <= pos; i++) m[b * length + i] = 1; /* [CLS] .. [SEP] */
  }
}

/* The Adam state of the step, found by parameter address from the leaf-ready callback. */
typedef struct adam_state {
  prior_params *params;
  prior_tensor **m1, **m2;
  int32_t *by_address; /* parameter indices sorted by tensor address */
  int32_t n;
  int64_t step;
} adam_state;

static adam_state *sort_ctx;
static int by_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)prior_params_tensor(sort_ctx->params, *(const int32_t *)a);
  uintptr_t y = (uintptr_t)prior_params_tensor(sort_ctx->params, *(const int32_t *)b);
  return (x > y) - (x < y);
}

static prior_status adam_update(adam_state *st, int32_t i) {
  prior_tensor *p = prior_params_tensor(st->params, i);
  if (!st->m1[i] || !p->grad) return PRIOR_OK;
  PRIOR_TRY(prior_adam_step(p, p->grad, st->m1[i], st->m2[i], st->step, 1e-5, 0.9, 0.999, 1e-8, 1e-6, 0));
  prior_tensor_zero_grad(p);
  return PRIOR_OK;
}

static prior_status on_leaf_ready(prior_tensor *leaf, void *ctx) {
  adam_state *st = ctx;
  int32_t lo = 0, hi = st->n - 1;
  while (lo <= hi) {
    int32_t mid = (lo + hi) / 2;
    prior_tensor *t = prior_params_tensor(st->params, st->by_address[mid]);
    if (t == leaf) return adam_update(st, st->by_address[mid]);
    if ((uintptr_t)t < (uintptr_t)leaf) lo = mid + 1;
    else hi = mid - 1;
  }
  return PRIOR_OK;
}

int main(int argc, char **argv) {
  const char *preset = argc > 1 ? argv[1] : "tiny";
  int64_t batch = argc > 2 ? atoll(argv[2]) : 16;
  int stage = argc > 3 ? atoi(argv[3]) : 3;
  int repeats = argc > 4 ? atoi(argv[4]) : 5;
  int bf16 = argc > 5 && strcmp(argv[5], "bf16") == 0;
  int fused = !(argc > 6 && strcmp(argv[6], "separate") == 0);
  int full_reports = argc > 7 && strcmp(argv[7], "full") == 0;
  if (bf16 && prior_autocast_set(1, PRIOR_BF16) != PRIOR_OK) {
    fprintf(stderr, "%s\n", prior_error_message());
    return 1;
  }
  prior_model_config c = prior_model_config_paper();
  int64_t length = 256, sentences = 6;
  if (strcmp(preset, "tiny") == 0) {
    c.resnet = (prior_resnet_config){{3, 4, 6, 3}, 8, 1};
    c.bert = prior_bert_base_config(1000);
    c.bert.hidden = 64, c.bert.layers = 2, c.bert.heads = 4, c.bert.intermediate = 128, c.bert.max_positions = 128;
    c.image_size = 64, c.embed_dim = 64, c.pool_heads = 4, c.num_prototypes = 64, c.num_queries = 8, c.decoder_layers = 1;
    length = 96;
  }
  prior_model *m = prior_model_new(&c);
  if (!m) {
    fprintf(stderr, "%s\n", prior_error_message());
    return 1;
  }
  prior_params_set_requires_grad(prior_model_params(m), 1);
  prior_batch b = {0};
  int64_t ishape[4] = {batch, 1, c.image_size, c.image_size}, tshape[2] = {batch, length};
  b.images = prior_tensor_randn(4, ishape, PRIOR_F32, prior_cpu());
  b.input_ids = prior_tensor_full(2, tshape, 5, PRIOR_I64, prior_cpu());
  b.attention_mask = prior_tensor_zeros(2, tshape, PRIOR_I64, prior_cpu());
  b.sentence_index = prior_tensor_full(2, tshape, -1, PRIOR_I64, prior_cpu());
  if (full_reports) { /* every position a token, six sentences */
    for (int64_t i = 0; i < batch * length; i++) {
      ((int64_t *)prior_tensor_data(b.attention_mask))[i] = 1;
      ((int64_t *)prior_tensor_data(b.sentence_index))[i] =
          (i % length) == 0 || (i % length) == length - 1 ? -1 : 1 + (i % length) * sentences / length;
    }
  } else {
    report_layout(b.attention_mask, b.sentence_index);
  }
  /* Adam state, as the reference's step includes its update */
  prior_params *params = prior_model_params(m);
  int32_t np = prior_params_count(params);
  prior_tensor **m1 = calloc((size_t)np, sizeof *m1), **m2 = calloc((size_t)np, sizeof *m2);
  for (int32_t i = 0; i < np; i++) {
    prior_tensor *p = prior_params_tensor(params, i);
    if (prior_params_is_buffer(params, i)) continue;
    m1[i] = prior_tensor_zeros(p->ndim, p->shape, PRIOR_F32, prior_cpu());
    m2[i] = prior_tensor_zeros(p->ndim, p->shape, PRIOR_F32, prior_cpu());
  }
  adam_state st = {params, m1, m2, calloc((size_t)np, sizeof(int32_t)), np, 0};
  for (int32_t i = 0; i < np; i++) st.by_address[i] = i;
  sort_ctx = &st;
  qsort(st.by_address, (size_t)np, sizeof(int32_t), by_address);
  double times[64];
  for (int r = 0; r < repeats + 1 && r < 64; r++) {
    double t0 = now();
    prior_losses l;
    st.step = r + 1;
    prior_status s = prior_model_step(m, &b, stage, 0.5, 1, NULL, &l);
    if (s == PRIOR_OK) s = prior_backward_ex(l.total, NULL, 0, fused ? on_leaf_ready : NULL, &st);
    for (int32_t i = 0; s == PRIOR_OK && !fused && i < np; i++) s = adam_update(&st, i);
    if (s != PRIOR_OK) {
      fprintf(stderr, "%s\n", prior_error_message());
      return 1;
    }
    prior_losses_free(&l);
    prior_params_zero_grad(prior_model_params(m));
    times[r] = now() - t0;
  }
  qsort(times + 1, (size_t)repeats, sizeof(double), cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  prior_memory_stats ms;
  prior_memory_stats_get(prior_cpu(), &ms);
  int64_t tokens = 0;
  for (int64_t i = 0; i < batch * length; i++) tokens += ((const int64_t *)prior_tensor_data(b.attention_mask))[i] != 0;
  printf("prior step (%s%s, %s update): preset %s batch %lld stage %d params %.2fM, %lld of %lld positions tokens: median %.3f s (first %.3f s), peak RSS %.0f MiB, "
         "tensor peak %.0f MiB\n", bf16 ? "bf16 autocast" : "f32",
         bf16 && !prior_autocast_native(prior_cpu()) ? ", no native bf16: ran f32" : "", fused ? "fused" : "separate", preset, (long long)batch, stage, prior_params_numel(prior_model_params(m)) / 1e6,
         (long long)tokens, (long long)(batch * length), times[1 + repeats / 2], times[0], ru.ru_maxrss / 1024.0, ms.peak_bytes_in_use / 1048576.0);
  return 0;
}
