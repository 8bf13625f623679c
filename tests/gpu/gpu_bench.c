/* GPU benchmark: achieved TFLOP/s (or GB/s) of the CUDA backend against the H200's peaks, one table.
 *
 * Rows: GEMMs of BERT-base's shapes (batch 32 x seq 256 tokens) and a square 8192 GEMM in strict f32 and in
 * bf16 autocast; a ResNet-50 convolution when the conv op and its CUDA kernel are in this build; copy and
 * elementwise bandwidth; whole networks: ResNet-50 fwd+bwd (batch 64 at 224) and BERT-base fwd+bwd (batch 32,
 * sequence 256) in training mode, counted with the usual model-FLOP formulas (ResNet-50: 4.1 GMAC per image
 * forward; BERT: 2 x non-embedding parameters + 4 x layers x seq x hidden per token forward; backward = 2 x
 * forward).
 *
 *   gpu_bench [table.md]     prints the table and writes it (markdown) to the file when given. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prior/amp.h"
#include "prior/autograd.h"
#include "prior/build_info.h"
#include "prior/cuda.h"
#include "prior/nn_bert.h"
#include "prior/nn_params.h"
#include "prior/nn_resnet.h"
#include "prior/ops_reduce.h"
#include "prior/rng.h"
#include "prior/ops_elementwise.h"
#include "prior/tensor.h"

/* H100/H200 SXM dense peaks (NVIDIA Hopper whitepaper): BF16 tensor core 989.4 TFLOP/s, FP32 (non-tensor)
 * 66.9 TFLOP/s, HBM3e 4.8 TB/s on the H200. The H200 NVL (PCIe) part is lower. */
#define PEAK_BF16 989.4
#define PEAK_F32 66.9
#define PEAK_TBS 4.8

static prior_device GPU = {PRIOR_DEVICE_CUDA, 0};
static FILE *table;

static void row(const char *workload, const char *precision, double ms, double tflops, double peak, const char *unit) {
  char pct[16] = "-";
  if (peak > 0) snprintf(pct, sizeof pct, "%.1f%%", 100.0 * tflops / peak);
  printf("| %-44s | %-10s | %9.3f | %9.2f %-6s | %7s |\n", workload, precision, ms, tflops, unit, pct);
  if (table) fprintf(table, "| %s | %s | %.3f | %.2f %s | %s |\n", workload, precision, ms, tflops, unit, pct);
}

static void note(const char *workload, const char *why) {
  printf("| %-44s | %-10s | %9s | %16s | %7s |  (%s)\n", workload, "-", "-", "-", "-", why);
  if (table) fprintf(table, "| %s | - | - | - | - | (%s) |\n", workload, why);
}

/* Milliseconds per call of fn(ctx), after warm-up, timed with device events. */
typedef prior_status (*work_fn)(void *ctx);
static double time_ms(work_fn fn, void *ctx, int iters) {
  for (int i = 0; i < 3; i++)
    if (fn(ctx) != PRIOR_OK) return -1;
  prior_cuda_event *a = prior_cuda_event_create(0), *b = prior_cuda_event_create(0);
  float ms = -1;
  if (a && b && prior_cuda_event_record(a) == PRIOR_OK) {
    int ok = 1;
    for (int i = 0; i < iters && ok; i++) ok = fn(ctx) == PRIOR_OK;
    if (ok && prior_cuda_event_record(b) == PRIOR_OK && prior_cuda_event_synchronize(b) == PRIOR_OK)
      prior_cuda_event_elapsed_ms(a, b, &ms);
  }
  prior_cuda_event_free(a);
  prior_cuda_event_free(b);
  return ms < 0 ? -1 : ms / iters;
}

typedef struct gemm_ctx {
  prior_tensor *a, *b, *c;
} gemm_ctx;
static prior_status gemm_once(void *v) {
  gemm_ctx *g = v;
  return prior_cuda_matmul(g->c, g->a, g->b);
}

static void gemm_row(const char *name, int64_t m, int64_t k, int64_t n, int bf16) {
  int64_t sa[2] = {m, k}, sb[2] = {k, n}, sc[2] = {m, n};
  gemm_ctx g = {prior_tensor_randn(2, sa, PRIOR_F32, GPU), prior_tensor_randn(2, sb, PRIOR_F32, GPU),
                prior_tensor_empty(2, sc, PRIOR_F32, GPU)};
  prior_autocast_set(bf16, PRIOR_BF16);
  double ms = g.a && g.b && g.c ? time_ms(gemm_once, &g, 20) : -1;
  prior_autocast_set(0, PRIOR_F32);
  char label[96];
  snprintf(label, sizeof label, "%s GEMM %lldx%lldx%lld", name, (long long)m, (long long)k, (long long)n);
  if (ms > 0)
    row(label, bf16 ? "bf16->f32" : "f32", ms, 2.0 * m * k * n / (ms * 1e-3) / 1e12, bf16 ? PEAK_BF16 : PEAK_F32,
        "TFLOP/s");
  else
    note(label, prior_error_message());
  prior_free_all(3, g.a, g.b, g.c);
}

typedef struct copy_ctx {
  prior_tensor *dst, *src;
} copy_ctx;
static prior_status copy_once(void *v) {
  copy_ctx *c = v;
  return prior_tensor_copy_(c->dst, c->src);
}
static prior_status add_once(void *v) {
  copy_ctx *c = v;
  prior_tensor *y = prior_add(c->src, c->src);
  prior_tensor_free(y);
  return y ? PRIOR_OK : prior_error_code();
}

static void bandwidth_rows(void) {
  int64_t n = 256ll << 20; /* 1 GiB of f32 */
  copy_ctx c = {prior_tensor_empty(1, &n, PRIOR_F32, GPU), prior_tensor_randn(1, &n, PRIOR_F32, GPU)};
  double ms = c.dst && c.src ? time_ms(copy_once, &c, 10) : -1;
  if (ms > 0)
    row("copy 1 GiB f32 (read + write)", "f32", ms, 2.0 * n * 4 / (ms * 1e-3) / 1e12, PEAK_TBS, "TB/s");
  else
    note("copy 1 GiB f32", prior_error_message());
  ms = c.src ? time_ms(add_once, &c, 10) : -1;
  if (ms > 0)
    row("add 1 GiB f32 (x + x, 2 reads + 1 write)", "f32", ms, 3.0 * n * 4 / (ms * 1e-3) / 1e12, PEAK_TBS, "TB/s");
  else
    note("add 1 GiB f32", prior_error_message());
  prior_free_all(2, c.dst, c.src);
}

typedef prior_tensor *(*conv_fn)(prior_tensor *, prior_tensor *, prior_tensor *, int64_t, int64_t, int64_t, int64_t,
                                 int64_t, int64_t, int64_t);
typedef struct conv_ctx {
  conv_fn conv;
  prior_tensor *x, *w;
} conv_ctx;
static prior_status conv_once(void *v) {
  conv_ctx *c = v;
  prior_tensor *y = c->conv(c->x, c->w, NULL, 1, 1, 1, 1, 1, 1, 1);
  prior_tensor_free(y);
  return y ? PRIOR_OK : prior_error_code();
}

static void conv_rows(void) {
  conv_fn conv = (conv_fn)dlsym(RTLD_DEFAULT, "prior_conv2d");
  const char *name = "ResNet-50 conv 3x3 64->64 at 56x56, batch 64";
  if (!conv) {
    note(name, "prior_conv2d not in this build");
    return;
  }
  int64_t sx[4] = {64, 64, 56, 56}, sw[4] = {64, 64, 3, 3};
  conv_ctx c = {conv, prior_tensor_randn(4, sx, PRIOR_F32, GPU), prior_tensor_randn(4, sw, PRIOR_F32, GPU)};
  double flops = 2.0 * 64 * 64 * 56 * 56 * 64 * 9;
  for (int bf16 = 0; bf16 <= 1; bf16++) {
    prior_autocast_set(bf16, PRIOR_BF16);
    double ms = c.x && c.w ? time_ms(conv_once, &c, 10) : -1;
    prior_autocast_set(0, PRIOR_F32);
    if (ms > 0)
      row(name, bf16 ? "bf16->f32" : "f32", ms, flops / (ms * 1e-3) / 1e12, bf16 ? PEAK_BF16 : PEAK_F32, "TFLOP/s");
    else
      note(name, prior_error_message());
  }
  prior_free_all(2, c.x, c.w);
}

/* ---- whole networks: one training step (forward, sum of the output, backward) ---- */

typedef struct net_ctx {
  prior_params *params;
  prior_tensor *(*forward)(struct net_ctx *);
  void *net;
  prior_tensor *in[2];
} net_ctx;

static prior_status net_step_once(void *v) {
  net_ctx *c = v;
  prior_params_zero_grad(c->params);
  prior_tensor *y = c->forward(c);
  prior_tensor *loss = y ? prior_sum(y, 0, NULL, 0) : NULL;
  prior_status s = loss ? prior_backward(loss, NULL, 0) : prior_error_code();
  prior_free_all(2, y, loss);
  return s;
}

static prior_tensor *resnet_forward(net_ctx *c) {
  return prior_resnet_forward((prior_resnet *)c->net, c->in[0], 1, NULL, NULL);
}
static prior_tensor *bert_forward(net_ctx *c) {
  return prior_bert_forward((prior_bert *)c->net, c->in[0], c->in[1], NULL, 1, NULL);
}

static void net_row(const char *name, net_ctx *c, double flops, int bf16) {
  prior_status s = c->net && c->in[0] ? prior_params_to_device(c->params, GPU) : prior_error_code();
  if (s == PRIOR_OK) s = prior_params_set_requires_grad(c->params, 1);
  prior_autocast_set(bf16, PRIOR_BF16);
  double ms = s == PRIOR_OK ? time_ms(net_step_once, c, 5) : -1;
  prior_autocast_set(0, PRIOR_F32);
  if (ms > 0)
    row(name, bf16 ? "bf16 amp" : "f32", ms, flops / (ms * 1e-3) / 1e12, bf16 ? PEAK_BF16 : PEAK_F32, "TFLOP/s");
  else
    note(name, prior_error_message());
}

static void resnet_row(int bf16) {
  prior_resnet_config cfg = prior_resnet50_config(3);
  prior_rng_seed(1);
  prior_resnet *net = prior_resnet_new(&cfg);
  int64_t sx[4] = {64, 3, 224, 224};
  net_ctx c = {net ? prior_resnet_params(net) : NULL, resnet_forward, net, {prior_tensor_randn(4, sx, PRIOR_F32, GPU), NULL}};
  net_row("ResNet-50 fwd+bwd, batch 64 at 224", &c, 3.0 * 2.0 * 4.1e9 * 64, bf16);
  prior_tensor_free(c.in[0]);
  prior_resnet_free(net);
}

static void bert_row(int bf16) {
  prior_bert_config cfg = prior_bert_base_config(30522);
  prior_rng_seed(2);
  prior_bert *net = prior_bert_new(&cfg);
  int64_t s2[2] = {32, 256};
  static int64_t host_ids[32 * 256];
  for (int i = 0; i < 32 * 256; i++) host_ids[i] = 1 + (int64_t)i * 7919 % 30521; /* spread over the vocabulary */
  prior_tensor *ids = prior_tensor_from_data(host_ids, 2, s2, PRIOR_I64, GPU);
  prior_tensor *mask = prior_tensor_ones(2, s2, PRIOR_I64, GPU);
  net_ctx c = {net ? prior_bert_params(net) : NULL, bert_forward, net, {ids, mask}};
  double tokens = 32.0 * 256, layer_params = 4.0 * 768 * 768 + 2.0 * 768 * 3072;
  double fwd = tokens * (2.0 * 12 * layer_params + 4.0 * 12 * 256 * 768);
  net_row("BERT-base fwd+bwd, batch 32 seq 256", &c, 3.0 * fwd, bf16);
  prior_free_all(2, ids, mask);
  prior_bert_free(net);
}

int main(int argc, char **argv) {
  printf("# %s\n", prior_build_info());
  if (!prior_cuda_available()) {
    printf("no CUDA device: nothing to measure\n");
    return 2;
  }
  if (argc > 1 && !(table = fopen(argv[1], "w"))) {
    fprintf(stderr, "gpu_bench: cannot write %s\n", argv[1]);
    return 1;
  }
  const char *head = "| workload | precision | ms/iter | achieved | of peak |\n|---|---|---|---|---|\n";
  printf("%s", head);
  if (table) fprintf(table, "%s", head);
  /* BERT-base, 32 x 256 = 8192 tokens: QKV/attention-out projections, the MLP, and a square reference */
  for (int bf16 = 0; bf16 <= 1; bf16++) {
    gemm_row("BERT-base projection", 8192, 768, 768, bf16);
    gemm_row("BERT-base MLP up", 8192, 768, 3072, bf16);
    gemm_row("BERT-base MLP down", 8192, 3072, 768, bf16);
    gemm_row("square", 8192, 8192, 8192, bf16);
  }
  conv_rows();
  bandwidth_rows();
  for (int bf16 = 0; bf16 <= 1; bf16++) {
    resnet_row(bf16);
    bert_row(bf16);
  }
  printf("# peaks: bf16 %.1f TFLOP/s, f32 %.1f TFLOP/s, %.1f TB/s (H200 SXM)\n", PEAK_BF16, PEAK_F32, PEAK_TBS);
  if (table) fclose(table);
  return 0;
}
