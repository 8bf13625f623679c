/* Whole encoders, timed: ResNet50 (one input channel, 224 x 224, batch 16) and BERT-base (batch 8, sequence 256),
 * each forward + backward in training mode and forward alone in inference mode (no graph).
 * usage: bench_encoders [repeats=3]   (threads: OMP_NUM_THREADS)
 * Output: one line per row, "name  median_ms  gflop_per_s" (FLOPs counted as 2 per multiply-add of the convolutions
 * and matmuls, x3 for forward + backward); tests/bench/bench_encoders_torch.py prints the same rows for PyTorch. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "prior/prior.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(const char *name, double *t, int n, double gflop) {
  qsort(t, (size_t)n, sizeof *t, cmp);
  double med = t[n / 2];
  printf("%-24s %10.1f %8.1f\n", name, med * 1e3, gflop / med);
  fflush(stdout);
}

static void die(void) {
  fprintf(stderr, "bench_encoders: %s\n", prior_error_message());
  exit(1);
}

/* sum(out) as the loss, its backward, then drop the gradients */
static void train_step(prior_tensor *out, prior_params *p) {
  prior_tensor *s = prior_sum(out, 0, NULL, 0);
  if (!s || prior_backward(s, NULL, 0) != PRIOR_OK) die();
  prior_tensor_free(s);
  prior_params_zero_grad(p);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 3;
  double t[16];
  prior_rng_seed(0);
  /* ResNet50: 4.1 GFLOP per 224 x 224 RGB image forward; one channel removes 2/3 of conv1's 0.118 */
  double resnet_fwd = 16 * (4.089 - 0.079);
  prior_resnet_config rc = prior_resnet50_config(1);
  prior_resnet *net = prior_resnet_new(&rc);
  if (!net) die();
  prior_params_set_requires_grad(prior_resnet_params(net), 1);
  int64_t xs[4] = {16, 1, 224, 224};
  prior_tensor *x = prior_tensor_randn(4, xs, PRIOR_F32, prior_cpu());
  for (int r = 0; r <= reps; r++) {
    double t0 = now();
    prior_tensor *y = prior_resnet_forward(net, x, 1, NULL, NULL);
    if (!y) die();
    train_step(y, prior_resnet_params(net));
    prior_tensor_free(y);
    if (r) t[r - 1] = now() - t0;
  }
  report("resnet50_train_b16", t, reps, 3 * resnet_fwd);
  int prev = prior_set_grad_enabled(0);
  for (int r = 0; r <= reps; r++) {
    double t0 = now();
    prior_tensor *y = prior_resnet_forward(net, x, 0, NULL, NULL);
    if (!y) die();
    prior_tensor_free(y);
    if (r) t[r - 1] = now() - t0;
  }
  report("resnet50_infer_b16", t, reps, resnet_fwd);
  prior_set_grad_enabled(prev);
  prior_tensor_free(x);
  prior_resnet_free(net);

  /* BERT-base: per token 12 layers x (4 H^2 + 2 H F) multiply-adds + attention 2 L H per layer */
  int64_t b = 8, l = 256, h = 768, f = 3072;
  double bert_fwd = 2.0 * b * l * 12 * (4.0 * h * h + 2.0 * h * f + 2.0 * l * h) / 1e9;
  prior_bert_config bc = prior_bert_base_config(30522);
  prior_bert *bert = prior_bert_new(&bc);
  if (!bert) die();
  prior_params_set_requires_grad(prior_bert_params(bert), 1);
  int64_t is[2] = {b, l};
  prior_tensor *ids = prior_tensor_empty(2, is, PRIOR_I64, prior_cpu());
  for (int64_t i = 0; i < b * l; i++) ((int64_t *)prior_tensor_data(ids))[i] = 1000 + (i * 7919) % 20000;
  prior_tensor *mask = prior_tensor_ones(2, is, PRIOR_F32, prior_cpu());
  for (int r = 0; r <= reps; r++) {
    double t0 = now();
    prior_tensor *y = prior_bert_forward(bert, ids, mask, NULL, 1, NULL);
    if (!y) die();
    train_step(y, prior_bert_params(bert));
    prior_tensor_free(y);
    if (r) t[r - 1] = now() - t0;
  }
  report("bert_base_train_b8_l256", t, reps, 3 * bert_fwd);
  prior_set_grad_enabled(0);
  for (int r = 0; r <= reps; r++) {
    double t0 = now();
    prior_tensor *y = prior_bert_forward(bert, ids, mask, NULL, 0, NULL);
    if (!y) die();
    prior_tensor_free(y);
    if (r) t[r - 1] = now() - t0;
  }
  report("bert_base_infer_b8_l256", t, reps, bert_fwd);
  prior_free_all(2, ids, mask);
  prior_bert_free(bert);
  return 0;
}
