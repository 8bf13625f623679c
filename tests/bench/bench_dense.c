/* Dense-op benchmark: SGEMM at several sizes and 2-D convolution (forward, backward data, backward weights)
 * at each distinct conv layer shape of ResNet-50 for a batch of 16 at 224 x 224 (conv1 with 1 input
 * channel), f32 on the CPU through the same kernels the ops call.
 *
 * Usage: bench_dense [--threads N] [--roof GFLOPS] [--section gemm|conv|op|all] [--reps R]
 *   --threads  OpenMP threads (default: OMP_NUM_THREADS, else all cores); printed in the header.
 *   --roof     peak f32 GFLOP/s of the machine for 2 threads (default 470, an AVX-512 2-core part); the roof
 *              used for the %roof column is roof * threads / 2.
 *   --reps     timed repetitions per row (default: 9 for GEMM; for conv 5, 3 for the largest shapes), after
 *              one untimed warm-up that also creates and caches the oneDNN primitives.
 *
 * Output: '#' lines are comments; every other line is one row of whitespace-separated columns:
 *   kind      gemm | conv | op
 *   name      gemm: MxNxK (C[M,N] = A[M,K] B[K,N]), linear_8x256x768x768 (x [8, 256, 768] times a 768 x 768
 *             matrix), bmm_96x197x64x197 (96 products [197, 64] x [64, 197]: ViT-B/16 attention scores for
 *             8 images x 12 heads); conv: <layer>_<kh>x<kw>s<stride>_<cin>-<cout>_<h>
 *             (h = input height = width, batch 16)
 *   count     how many convs of ResNet-50 have this shape (1 for GEMM rows)
 *   fwd_ms    median forward time (conv), '-' for GEMM
 *   bwdd_ms   median backward-data time (conv; '-' for conv1, whose input needs no gradient, and GEMM)
 *   bwdw_ms   median backward-weights time (conv), '-' for GEMM
 *   total_ms  GEMM: median time of one product; conv: fwd_ms + bwdd_ms + bwdw_ms
 *   gflops    useful GFLOP/s over total_ms (2 M N K per GEMM product; 2 N O OH OW C/g KH KW per conv pass)
 *   pct_roof  gflops as a percentage of the roof for this thread count
 * Rows of kind "op" time the other dense ops of a ResNet-50 training step (max pooling, batch norm in training
 * mode, global average pooling) at their batch-16 shapes: fwd_ms, then the backward in bwdd_ms; they have no
 * GFLOP/s ('-').
 * The line "# conv network total ..." weights each conv row by its count: the time of all ResNet-50
 * convs in one training step. */
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/kernels_dense.h"
#include "prior/prior.h"
#include "bench_util.h"

static prior_tensor *rand_f32(int ndim, const int64_t *shape) {
  prior_tensor *t = prior_tensor_empty(ndim, shape, PRIOR_F32, prior_cpu());
  if (!t || prior_tensor_uniform_(t, -1, 1) != PRIOR_OK) {
    fprintf(stderr, "bench_dense: %s\n", prior_error_message());
    exit(1);
  }
  return t;
}

static void die_on(prior_status s) {
  if (s != PRIOR_OK) {
    fprintf(stderr, "bench_dense: %s\n", prior_error_message());
    exit(1);
  }
}

static double g_roof;
static int g_reps;

/* ---- GEMM ----------------------------------------------------------------------------------------------- */

/* batch products of [m, k] x [k, n] (batch 1: one plain GEMM) */
static void bench_gemm(const char *name, int64_t batch, int64_t m, int64_t n, int64_t k) {
  prior_matmul_kernel mm = (prior_matmul_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "matmul");
  int64_t sa[3] = {batch, m, k}, sb[3] = {batch, k, n}, sc[3] = {batch, m, n};
  prior_tensor *a = rand_f32(3, sa), *b = rand_f32(3, sb), *c = prior_tensor_empty(3, sc, PRIOR_F32, prior_cpu());
  double flop = 2.0 * batch * m * n * k;
  int reps = g_reps ? g_reps : (flop < 1e9 ? 25 : 9);
  double t[64];
  die_on(mm(c, a, b));
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    die_on(mm(c, a, b));
    t[r] = now_ms() - t0;
  }
  double ms = median(t, reps), gf = flop / ms * 1e-6;
  printf("gemm  %-28s %5d %9s %9s %9s %10.3f %8.1f %7.1f\n", name, 1, "-", "-", "-", ms, gf, 100 * gf / g_roof);
  fflush(stdout);
  prior_free_all(3, a, b, c);
}

/* ---- convolution ---------------------------------------------------------------------------------------------- */

typedef struct conv_shape {
  const char *layer;
  int64_t cin, cout, h, k, stride, count;
} conv_shape;

/* Every distinct conv of torchvision's ResNet-50 (stride on the 3x3 conv of each stage's first block). */
static const conv_shape k_resnet50[] = {
    {"conv1", 1, 64, 224, 7, 2, 1},
    {"layer1", 64, 64, 56, 1, 1, 1},     {"layer1", 64, 64, 56, 3, 1, 3},    {"layer1", 64, 256, 56, 1, 1, 4},
    {"layer1", 256, 64, 56, 1, 1, 2},
    {"layer2", 256, 128, 56, 1, 1, 1},   {"layer2", 128, 128, 56, 3, 2, 1},  {"layer2", 128, 512, 28, 1, 1, 4},
    {"layer2", 256, 512, 56, 1, 2, 1},   {"layer2", 512, 128, 28, 1, 1, 3},  {"layer2", 128, 128, 28, 3, 1, 3},
    {"layer3", 512, 256, 28, 1, 1, 1},   {"layer3", 256, 256, 28, 3, 2, 1},  {"layer3", 256, 1024, 14, 1, 1, 6},
    {"layer3", 512, 1024, 28, 1, 2, 1},  {"layer3", 1024, 256, 14, 1, 1, 5}, {"layer3", 256, 256, 14, 3, 1, 5},
    {"layer4", 1024, 512, 14, 1, 1, 1},  {"layer4", 512, 512, 14, 3, 2, 1},  {"layer4", 512, 2048, 7, 1, 1, 3},
    {"layer4", 1024, 2048, 14, 1, 2, 1}, {"layer4", 2048, 512, 7, 1, 1, 2},  {"layer4", 512, 512, 7, 3, 1, 2},
};

static double time_median(int reps, prior_status (*step)(void *), void *ctx) {
  double t[64];
  die_on(step(ctx)); /* warm-up: creates and caches the primitive */
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    die_on(step(ctx));
    t[r] = now_ms() - t0;
  }
  return median(t, reps);
}

typedef struct conv_run {
  prior_tensor *x, *w, *y, *gy, *gx, *gw;
  prior_conv2d_params p;
  prior_conv2d_forward_kernel fwd;
  prior_conv2d_backward_data_kernel bwd_data;
  prior_conv2d_backward_weights_kernel bwd_weights;
} conv_run;

static prior_status step_fwd(void *c) {
  conv_run *r = c;
  return r->fwd(r->y, r->x, r->w, NULL, &r->p);
}
static prior_status step_bwd_data(void *c) {
  conv_run *r = c;
  return r->bwd_data(r->gx, r->gy, r->w, &r->p);
}
static prior_status step_bwd_weights(void *c) {
  conv_run *r = c;
  return r->bwd_weights(r->gw, NULL, r->x, r->gy, &r->p);
}

static double bench_conv(const conv_shape *s, int64_t batch) {
  int64_t pad = s->k / 2, oh = (s->h + 2 * pad - s->k) / s->stride + 1;
  int64_t sx[4] = {batch, s->cin, s->h, s->h}, sw[4] = {s->cout, s->cin, s->k, s->k}, sy[4] = {batch, s->cout, oh, oh};
  conv_run r = {0};
  r.x = rand_f32(4, sx), r.w = rand_f32(4, sw), r.gy = rand_f32(4, sy);
  r.y = prior_tensor_empty(4, sy, PRIOR_F32, prior_cpu());
  r.gx = prior_tensor_empty(4, sx, PRIOR_F32, prior_cpu());
  r.gw = prior_tensor_empty(4, sw, PRIOR_F32, prior_cpu());
  r.p = (prior_conv2d_params){{s->stride, s->stride}, {pad, pad}, {1, 1}, 1};
  r.fwd = (prior_conv2d_forward_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "conv2d_forward");
  r.bwd_data = (prior_conv2d_backward_data_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "conv2d_backward_data");
  r.bwd_weights =
      (prior_conv2d_backward_weights_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "conv2d_backward_weights");
  double pass_flop = 2.0 * batch * s->cout * oh * oh * s->cin * s->k * s->k;
  int reps = g_reps ? g_reps : (pass_flop > 3e9 ? 3 : 5);
  int need_data = s->cin > 1; /* conv1's input is the image: no gradient */
  double f = time_median(reps, step_fwd, &r);
  double d = need_data ? time_median(reps, step_bwd_data, &r) : 0;
  double w = time_median(reps, step_bwd_weights, &r);
  double total = f + d + w, gf = pass_flop * (2 + need_data) / total * 1e-6;
  char name[64], dcol[16];
  snprintf(name, sizeof name, "%s_%lldx%llds%lld_%lld-%lld_%lld", s->layer, (long long)s->k, (long long)s->k,
           (long long)s->stride, (long long)s->cin, (long long)s->cout, (long long)s->h);
  if (need_data) snprintf(dcol, sizeof dcol, "%.3f", d);
  else snprintf(dcol, sizeof dcol, "-");
  printf("conv  %-28s %5lld %9.3f %9s %9.3f %10.3f %8.1f %7.1f\n", name, (long long)s->count, f, dcol, w, total, gf,
         100 * gf / g_roof);
  fflush(stdout);
  prior_free_all(6, r.x, r.w, r.y, r.gy, r.gx, r.gw);
  return total * s->count;
}

/* ---- other ops: max pool, batch norm, global average pool ----------------------------------------------------- */

typedef struct op_run {
  prior_tensor *x, *y, *gy, *gx, *idx, *w, *b, *gw, *gb, *mean, *var, *rm, *rv;
  prior_pool2d_params p;
} op_run;

static prior_status step_maxpool_fwd(void *c) {
  op_run *r = c;
  prior_max_pool2d_forward_kernel k = (prior_max_pool2d_forward_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "max_pool2d_forward");
  return k(r->y, r->idx, r->x, &r->p);
}
static prior_status step_maxpool_bwd(void *c) {
  op_run *r = c;
  prior_max_pool2d_backward_kernel k =
      (prior_max_pool2d_backward_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "max_pool2d_backward");
  return k(r->gx, r->gy, r->idx);
}
static prior_status step_bn_fwd(void *c) {
  op_run *r = c;
  prior_batch_norm_forward_kernel k =
      (prior_batch_norm_forward_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "batch_norm_forward");
  return k(r->y, r->mean, r->var, r->x, r->w, r->b, r->rm, r->rv, 1, 0.1, 1e-5);
}
static prior_status step_bn_bwd(void *c) {
  op_run *r = c;
  prior_batch_norm_backward_kernel k =
      (prior_batch_norm_backward_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "batch_norm_backward");
  return k(r->gx, r->gw, r->gb, r->gy, r->x, r->w, r->mean, r->var, 1, 1e-5);
}
static prior_status step_gap_fwd(void *c) {
  op_run *r = c;
  prior_adaptive_pool_kernel k = (prior_adaptive_pool_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "adaptive_avg_pool2d_forward");
  return k(r->y, r->x);
}
static prior_status step_gap_bwd(void *c) {
  op_run *r = c;
  prior_adaptive_pool_kernel k =
      (prior_adaptive_pool_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "adaptive_avg_pool2d_backward");
  return k(r->gx, r->gy);
}

/* Forward first (backward reads what it wrote), then backward; one row. */
static void op_row(const char *name, int reps, prior_status (*fwd)(void *), prior_status (*bwd)(void *), void *ctx) {
  double f = time_median(reps, fwd, ctx);
  double b = time_median(reps, bwd, ctx);
  int count = 1;
  printf("op    %-28s %5d %9.3f %9.3f %9s %10.3f %8s %7s\n", name, count, f, b, "-", f + b, "-", "-");
  fflush(stdout);
}

static void bench_ops(void) {
  int reps = g_reps ? g_reps : 5;
  op_run r = {0};
  int64_t sx[4] = {16, 64, 112, 112}, sp[4] = {16, 64, 56, 56}, sc[1] = {64};
  /* max pool 3x3/2 pad 1 after conv1 */
  r.x = rand_f32(4, sx), r.gx = prior_tensor_empty(4, sx, PRIOR_F32, prior_cpu());
  r.y = prior_tensor_empty(4, sp, PRIOR_F32, prior_cpu()), r.gy = rand_f32(4, sp);
  r.idx = prior_tensor_empty(4, sp, PRIOR_I64, prior_cpu());
  r.p = (prior_pool2d_params){{3, 3}, {2, 2}, {1, 1}};
  op_row("maxpool_3x3s2_64_112", reps, step_maxpool_fwd, step_maxpool_bwd, &r);
  prior_free_all(3, r.y, r.gy, r.idx);
  /* batch norm (training) after conv1 */
  r.y = prior_tensor_empty(4, sx, PRIOR_F32, prior_cpu()), r.gy = rand_f32(4, sx);
  r.w = rand_f32(1, sc), r.b = rand_f32(1, sc), r.rm = rand_f32(1, sc), r.rv = prior_tensor_ones(1, sc, PRIOR_F32, prior_cpu());
  r.mean = prior_tensor_empty(1, sc, PRIOR_F32, prior_cpu()), r.var = prior_tensor_empty(1, sc, PRIOR_F32, prior_cpu());
  r.gw = prior_tensor_empty(1, sc, PRIOR_F32, prior_cpu()), r.gb = prior_tensor_empty(1, sc, PRIOR_F32, prior_cpu());
  op_row("batchnorm_train_64_112", reps, step_bn_fwd, step_bn_bwd, &r);
  prior_free_all(13, r.x, r.gx, r.y, r.gy, r.w, r.b, r.rm, r.rv, r.mean, r.var, r.gw, r.gb, NULL);
  /* global average pool before the classifier */
  int64_t sg[4] = {16, 2048, 7, 7}, so[4] = {16, 2048, 1, 1};
  r.x = rand_f32(4, sg), r.gx = prior_tensor_empty(4, sg, PRIOR_F32, prior_cpu());
  r.y = prior_tensor_empty(4, so, PRIOR_F32, prior_cpu()), r.gy = rand_f32(4, so);
  op_row("avgpool_global_2048_7", reps, step_gap_fwd, step_gap_bwd, &r);
  prior_free_all(4, r.x, r.gx, r.y, r.gy);
}

int main(int argc, char **argv) {
  int threads = 0;
  double roof2 = 470;
  const char *section = "all";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--roof") && i + 1 < argc) roof2 = atof(argv[++i]);
    else if (!strcmp(argv[i], "--section") && i + 1 < argc) section = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) g_reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_dense [--threads N] [--roof GFLOPS] [--section gemm|conv|op|all] [--reps R]\n");
      return 2;
    }
  }
  if (g_reps < 0 || g_reps > 64) g_reps = 64;
  if (threads > 0) omp_set_num_threads(threads);
  threads = omp_get_max_threads();
  g_roof = roof2 * threads / 2.0;
  const dnnl_version_t *v = dnnl_version();
  printf("# bench_dense (prior, oneDNN %d.%d.%d) threads=%d roof=%.0f GFLOP/s conv_formats=%s\n", v->major, v->minor,
         v->patch, threads, g_roof, !getenv("PRIOR_DNNL_CONV_PLAIN")         ? "auto"
                    : getenv("PRIOR_DNNL_CONV_PLAIN")[0] == '1' ? "nchw"
                                                               : "blocked");
  printf("# kind  name                         count    fwd_ms   bwdd_ms   bwdw_ms   total_ms   gflops  %%roof\n");
  if (!strcmp(section, "all") || !strcmp(section, "gemm")) {
    int64_t sq[4] = {256, 512, 1024, 2048};
    for (int i = 0; i < 4; i++) {
      char name[32];
      snprintf(name, sizeof name, "%lldx%lldx%lld", (long long)sq[i], (long long)sq[i], (long long)sq[i]);
      bench_gemm(name, 1, sq[i], sq[i], sq[i]);
    }
    bench_gemm("linear_8x256x768x768", 1, 8 * 256, 768, 768);
    bench_gemm("bmm_96x197x64x197", 96, 197, 197, 64);
  }
  if (!strcmp(section, "all") || !strcmp(section, "conv")) {
    double net = 0, t0 = now_ms();
    for (size_t i = 0; i < sizeof k_resnet50 / sizeof k_resnet50[0]; i++) net += bench_conv(&k_resnet50[i], 16);
    printf("# conv network total (all ResNet-50 convs, one fwd+bwd step, batch 16): %.1f ms; bench wall %.1f s\n", net,
           (now_ms() - t0) * 1e-3);
  }
  if (!strcmp(section, "all") || !strcmp(section, "op")) bench_ops();
  return 0;
}
