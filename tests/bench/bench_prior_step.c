/* Times one PRIOR training step (forward, backward of the stage's total loss, Adam update) at a chosen preset size.
 * usage: bench_prior_step [tiny|paper] [batch] [stage] [repeats] [f32|bf16]
 * bf16: autocast (matmuls and convolutions with bf16 operands, f32 accumulation; prior/amp.h). */
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

int main(int argc, char **argv) {
  const char *preset = argc > 1 ? argv[1] : "tiny";
  int64_t batch = argc > 2 ? atoll(argv[2]) : 16;
  int stage = argc > 3 ? atoi(argv[3]) : 3;
  int repeats = argc > 4 ? atoi(argv[4]) : 5;
  int bf16 = argc > 5 && strcmp(argv[5], "bf16") == 0;
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
  b.attention_mask = prior_tensor_ones(2, tshape, PRIOR_I64, prior_cpu());
  b.sentence_index = prior_tensor_empty(2, tshape, PRIOR_I64, prior_cpu());
  for (int64_t i = 0; i < batch * length; i++)
    ((int64_t *)prior_tensor_data(b.sentence_index))[i] = (i % length) == 0 || (i % length) == length - 1 ? -1 : 1 + (i % length) * sentences / length;
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
  double times[64];
  for (int r = 0; r < repeats + 1 && r < 64; r++) {
    double t0 = now();
    prior_losses l;
    if (prior_model_step(m, &b, stage, 0.5, 1, NULL, &l) != PRIOR_OK || prior_backward(l.total, NULL, 0) != PRIOR_OK) {
      fprintf(stderr, "%s\n", prior_error_message());
      return 1;
    }
    prior_losses_free(&l);
    for (int32_t i = 0; i < np; i++) {
      prior_tensor *p = prior_params_tensor(params, i);
      if (m1[i] && p->grad && prior_adam_step(p, p->grad, m1[i], m2[i], r + 1, 1e-5, 0.9, 0.999, 1e-8, 1e-6, 0) != PRIOR_OK) {
        fprintf(stderr, "%s\n", prior_error_message());
        return 1;
      }
    }
    prior_params_zero_grad(prior_model_params(m));
    times[r] = now() - t0;
  }
  qsort(times + 1, (size_t)repeats, sizeof(double), cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  prior_memory_stats ms;
  prior_memory_stats_get(prior_cpu(), &ms);
  printf("prior step (%s%s): preset %s batch %lld stage %d params %.2fM: median %.3f s (first %.3f s), peak RSS %.0f MiB, "
         "tensor peak %.0f MiB\n", bf16 ? "bf16 autocast" : "f32",
         bf16 && !prior_autocast_native(prior_cpu()) ? ", no native bf16: ran f32" : "", preset, (long long)batch, stage, prior_params_numel(prior_model_params(m)) / 1e6,
         times[1 + repeats / 2], times[0], ru.ru_maxrss / 1024.0, ms.peak_bytes_in_use / 1048576.0);
  return 0;
}
