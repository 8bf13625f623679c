/* Microbenchmark of the fused nn kernels on f32: softmax over [8*12, 256, 256] (attention scores), layer
 * norm over [8, 256, 768], GELU over [4, 256, 3072] (BERT's feed-forward at batch 4) and cross entropy over
 * [4096, 1000], forward and forward+backward; and one Adam update of 25M parameters. Prints the median of
 * several runs in milliseconds. Usage: bench_nn_ops [repeats] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "prior/prior.h"
#include "bench_util.h"

typedef prior_tensor *(*forward_fn)(prior_tensor *x, void *ctx);

static prior_tensor *softmax_last(prior_tensor *x, void *ctx) { return prior_softmax(x, -1); }
static prior_tensor *layer_norm_768(prior_tensor *x, void *ctx) {
  prior_tensor **wb = ctx;
  return prior_layer_norm(x, 1, wb[0], wb[1], 1e-12);
}
static prior_tensor *gelu(prior_tensor *x, void *ctx) { return prior_gelu(x); }
static prior_tensor *cross_entropy_mean(prior_tensor *x, void *ctx) {
  return prior_cross_entropy(x, ctx, PRIOR_REDUCTION_MEAN, -100, 0.1);
}

/* Times forward alone and forward + backward (gradient of ones, or of the scalar loss). */
static int bench(const char *name, forward_fn f, prior_tensor *x, void *ctx, int reps) {
  double fw[64], fb[64];
  for (int r = -1; r < reps; r++) { /* r = -1 warms up */
    double t0 = now_ms();
    prior_tensor *y = f(x, ctx);
    double t1 = now_ms();
    if (!y) return fprintf(stderr, "%s: %s\n", name, prior_error_message()), 1;
    prior_tensor_free(y);
    prior_tensor_set_requires_grad(x, 1);
    double t2 = now_ms();
    y = f(x, ctx);
    prior_tensor *g = prior_tensor_numel(y) == 1 ? NULL : prior_tensor_ones(y->ndim, y->shape, PRIOR_F32, prior_cpu());
    prior_status s = y ? prior_backward(y, g, 0) : prior_error_code();
    double t3 = now_ms();
    prior_free_all(2, y, g);
    prior_tensor_zero_grad(x);
    prior_tensor_set_requires_grad(x, 0);
    if (s != PRIOR_OK) return fprintf(stderr, "%s backward: %s\n", name, prior_error_message()), 1;
    if (r >= 0) fw[r] = t1 - t0, fb[r] = t3 - t2;
  }
  printf("%-40s forward %8.2f ms   forward+backward %8.2f ms\n", name, median(fw, reps), median(fb, reps));
  return 0;
}

/* One Adam update of a 25M-parameter f32 tensor: it reads the parameter, gradient and both moments and writes
 * three of them back (28 bytes per parameter), so its speed is that of the memory system. */
static void bench_adam(int reps) {
  int64_t n = 25 * 1000 * 1000;
  prior_tensor *t[4] = {prior_tensor_randn(1, &n, PRIOR_F32, prior_cpu()), prior_tensor_randn(1, &n, PRIOR_F32, prior_cpu()),
                        prior_tensor_zeros(1, &n, PRIOR_F32, prior_cpu()), prior_tensor_zeros(1, &n, PRIOR_F32, prior_cpu())};
  double ms[64];
  for (int r = -1; r < reps; r++) {
    double t0 = now_ms();
    prior_status s = prior_adam_step(t[0], t[1], t[2], t[3], r + 2, 1e-4, 0.9, 0.999, 1e-8, 0, 0);
    if (s != PRIOR_OK) fprintf(stderr, "adam: %s\n", prior_error_message());
    if (r >= 0) ms[r] = now_ms() - t0;
  }
  double m = median(ms, reps);
  printf("%-40s step    %8.2f ms   %.1f GB/s\n", "adam_step 25M f32 parameters", m, 28.0 * (double)n / (m * 1e6));
  prior_free_all(4, t[0], t[1], t[2], t[3]);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1 || reps > 64) reps = 7;
  prior_rng_seed(1);
  int rc = 0;
  prior_tensor *s = prior_tensor_randn(3, (int64_t[]){8 * 12, 256, 256}, PRIOR_F32, prior_cpu());
  rc |= bench("softmax [96, 256, 256] dim -1", softmax_last, s, NULL, reps);
  prior_tensor_free(s);
  prior_tensor *x = prior_tensor_randn(3, (int64_t[]){8, 256, 768}, PRIOR_F32, prior_cpu());
  int64_t d = 768;
  prior_tensor *wb[2] = {prior_tensor_ones(1, &d, PRIOR_F32, prior_cpu()), prior_tensor_zeros(1, &d, PRIOR_F32, prior_cpu())};
  rc |= bench("layer_norm [8, 256, 768] eps 1e-12", layer_norm_768, x, wb, reps);
  prior_free_all(3, x, wb[0], wb[1]);
  prior_tensor *h = prior_tensor_randn(3, (int64_t[]){4, 256, 3072}, PRIOR_F32, prior_cpu());
  rc |= bench("gelu [4, 256, 3072]", gelu, h, NULL, reps);
  prior_tensor_free(h);
  prior_tensor *logits = prior_tensor_randn(2, (int64_t[]){4096, 1000}, PRIOR_F32, prior_cpu());
  int64_t n = 4096;
  prior_tensor *target = prior_tensor_empty(1, &n, PRIOR_I64, prior_cpu());
  for (int64_t i = 0; i < n; i++) prior_tensor_set(target, &i, (double)((i * 7919) % 1000));
  rc |= bench("cross_entropy [4096, 1000] mean ls 0.1", cross_entropy_mean, logits, target, reps);
  prior_free_all(2, logits, target);
  bench_adam(reps);
  return rc;
}
