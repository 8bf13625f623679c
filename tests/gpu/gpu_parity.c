/* The CUDA backend's parity suite: every op whose kernel the CUDA backend registers runs on the CPU and on
 * the GPU from the same inputs, forward and backward, with contiguous and non-contiguous inputs, and the
 * results are compared by normalised error max|gpu - cpu| / max(max|cpu|, 1e-3). Whole networks (a narrow
 * ResNet and a small BERT, training mode: batch statistics, dropout from the shared Philox stream) compare
 * their output and every parameter gradient, in f32 and under bf16 autocast. Kernels called directly
 * write into outputs with guard zones before and after them, which must come back untouched. Ops of
 * families not in this build (looked up at run time) are reported as skipped, not failed.
 *
 *   gpu_parity [--quick]      exit 0 when everything compared passed; one line per case on stdout.
 *   gpu_parity --self-test    the same harness with the CPU standing in for the GPU (every error must be 0):
 *                             checks the suite itself on a machine without a GPU. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/kernels.h"
#include "backend/kernels_nn.h"
#include "prior/alloc.h"
#include "prior/amp.h"
#include "prior/autograd.h"
#include "prior/build_info.h"
#include "prior/cuda.h"
#include "prior/nn_bert.h"
#include "prior/nn_params.h"
#include "prior/nn_resnet.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_index.h"
#include "prior/ops_loss.h"
#include "prior/ops_nn.h"
#include "prior/ops_norm.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"
#include "prior/rng.h"
#include "prior/tensor.h"

static int n_pass, n_fail, n_skip;
static prior_device GPU = {PRIOR_DEVICE_CUDA, 0};
static prior_device_type GPU_TYPE = PRIOR_DEVICE_CUDA; /* PRIOR_DEVICE_CPU in --self-test */

/* ---- inputs ---------------------------------------------------------------------------------------- */

enum { DOM_NORMAL, DOM_POSITIVE, DOM_INDEX, DOM_MASK, DOM_PROB };

typedef struct spec {
  int ndim;
  int64_t shape[4];
  int domain;
  int64_t range;    /* DOM_INDEX: values in [0, range) */
  int requires_grad; /* floating inputs of ops with a backward */
} spec;

static uint64_t lcg_state = 88172645463325252ull;
static double lcg_uniform(void) {
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return ((lcg_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double lcg_normal(void) { return sqrt(-2 * log(lcg_uniform())) * cos(2 * M_PI * lcg_uniform()); }

static int64_t numel_of(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  return n;
}

/* A pair of identical inputs, CPU and GPU. Non-contiguous: every other element of a base twice as long in
 * the last dim (the same view on both devices). */
typedef struct pair {
  prior_tensor *cpu, *gpu;
} pair;

static pair make_input(const spec *s, int noncontig) {
  pair p = {NULL, NULL};
  int nd = s->ndim;
  int64_t base_shape[4];
  for (int d = 0; d < nd; d++) base_shape[d] = s->shape[d];
  int strided = noncontig && nd > 0 && s->domain != DOM_INDEX && s->domain != DOM_MASK;
  if (strided) base_shape[nd - 1] *= 2;
  int64_t n = numel_of(nd, base_shape);
  prior_dtype dtype = s->domain == DOM_INDEX ? PRIOR_I64 : s->domain == DOM_MASK ? PRIOR_BOOL : PRIOR_F32;
  double *host = malloc((size_t)(n ? n : 1) * sizeof *host);
  for (int64_t i = 0; i < n; i++) {
    switch (s->domain) {
      case DOM_NORMAL: host[i] = lcg_normal(); break;
      case DOM_POSITIVE: host[i] = 0.5 + 1.5 * lcg_uniform(); break;
      case DOM_INDEX: host[i] = floor(lcg_uniform() * (double)s->range); break;
      case DOM_MASK: host[i] = lcg_uniform() < 0.3; break;
      default: host[i] = 0.05 + 0.9 * lcg_uniform(); break;
    }
  }
  prior_tensor *base64 = prior_tensor_from_data(host, nd, base_shape, PRIOR_F64, prior_cpu());
  free(host);
  prior_tensor *base = prior_tensor_to_dtype_raw(base64, dtype);
  prior_tensor *gbase = prior_tensor_to_device(base, GPU);
  prior_tensor_free(base64);
  if (!base || !gbase) {
    prior_free_all(2, base, gbase);
    return p;
  }
  if (strided) {
    int64_t strides[4];
    for (int d = 0; d < nd; d++) strides[d] = base->strides[d];
    strides[nd - 1] = 2;
    p.cpu = prior_tensor_as_strided(base, nd, s->shape, strides, 0);
    p.gpu = prior_tensor_as_strided(gbase, nd, s->shape, strides, 0);
  } else {
    p.cpu = prior_tensor_retain(base);
    p.gpu = prior_tensor_retain(gbase);
  }
  prior_free_all(2, base, gbase);
  if (s->requires_grad && p.cpu && p.gpu) {
    prior_tensor_set_requires_grad(p.cpu, 1);
    prior_tensor_set_requires_grad(p.gpu, 1);
  }
  return p;
}

/* ---- comparison ------------------------------------------------------------------------------------ */

/* Normalised error of gpu against cpu; +inf when shapes differ or a copy fails. */
static double norm_error(const prior_tensor *cpu, const prior_tensor *gpu) {
  if (!cpu || !gpu || !prior_tensor_same_shape(cpu, gpu)) return INFINITY;
  int64_t n = prior_tensor_numel(cpu);
  double *a = malloc((size_t)(n ? n : 1) * sizeof *a), *b = malloc((size_t)(n ? n : 1) * sizeof *b);
  double err = INFINITY;
  if (prior_tensor_to_f64_array(cpu, a) == PRIOR_OK && prior_tensor_to_f64_array(gpu, b) == PRIOR_OK) {
    double diff = 0, scale = 1e-3;
    for (int64_t i = 0; i < n; i++) {
      if (isnan(a[i]) != isnan(b[i])) diff = INFINITY;
      if (isnan(a[i]) || isnan(b[i])) continue;
      if (isinf(a[i]) || isinf(b[i])) {
        if (a[i] != b[i]) diff = INFINITY;
        continue;
      }
      double d = fabs(a[i] - b[i]);
      if (d > diff) diff = d;
      if (fabs(a[i]) > scale) scale = fabs(a[i]);
    }
    err = diff / scale;
  }
  free(a);
  free(b);
  return err;
}

static void report(const char *name, const char *what, double err, double tol) {
  int ok = err <= tol;
  printf("%-5s %-34s %-26s err %.3g (tol %.1g)\n", ok ? "ok" : "FAIL", name, what, err, tol);
  if (ok)
    n_pass++;
  else
    n_fail++;
}

static void fail(const char *name, const char *what) {
  printf("FAIL  %-34s %-26s %s\n", name, what, prior_error_message());
  n_fail++;
  prior_error_clear();
}

/* A kernel that faults poisons the CUDA context: every later result would be noise. Stop there, naming the
 * case that was running. */
static void device_healthy_after(const char *name) {
  if (GPU_TYPE != PRIOR_DEVICE_CUDA || prior_cuda_synchronize(0) == PRIOR_OK) return;
  printf("FAIL  %-34s the device reported: %s\n", name, prior_error_message());
  printf("gpu_parity: stopped after %d passed, %d failed (+1): the CUDA context is unusable\n", n_pass, n_fail);
  exit(1);
}

static void skip(const char *name, const char *why) {
  printf("skip  %-34s %s\n", name, why);
  n_skip++;
}

/* ---- op cases ------------------------------------------------------------------------------------- */

typedef prior_tensor *(*op_fn)(prior_tensor **in);

typedef struct op_case {
  const char *name;
  const char *kernel; /* the CUDA kernel it needs; skipped when absent */
  int n_in;
  spec in[4];
  double tol;
  int backward;
  op_fn fn;
} op_case;

/* Runs one case on both devices (contiguous or not) and compares the output and every input gradient. */
static void run_case(const op_case *c, int noncontig) {
  char what[64];
  pair in[4] = {{0}};
  prior_tensor *cin[4], *gin[4];
  int ok = 1;
  for (int i = 0; i < c->n_in; i++) {
    in[i] = make_input(&c->in[i], noncontig);
    if (!in[i].cpu || !in[i].gpu) ok = 0;
    cin[i] = in[i].cpu, gin[i] = in[i].gpu;
  }
  const char *layout = noncontig ? "strided" : "contiguous";
  if (!ok) {
    snprintf(what, sizeof what, "%s inputs", layout);
    fail(c->name, what);
    goto done;
  }
  uint64_t seed = 1234;
  prior_rng_seed(seed);
  prior_tensor *yc = c->fn(cin);
  prior_rng_seed(seed); /* dropout: the same mask on both devices */
  prior_tensor *yg = yc ? c->fn(gin) : NULL;
  snprintf(what, sizeof what, "%s forward", layout);
  if (!yc || !yg) {
    fail(c->name, what);
    prior_free_all(2, yc, yg);
    goto done;
  }
  report(c->name, what, norm_error(yc, yg), c->tol);
  if (c->backward && yc->requires_grad) {
    spec gs = {yc->ndim, {0}, DOM_NORMAL, 0, 0};
    for (int d = 0; d < yc->ndim && d < 4; d++) gs.shape[d] = yc->shape[d];
    pair g = make_input(&gs, 0);
    prior_status sc = prior_backward(yc, g.cpu, 0), sg = sc == PRIOR_OK ? prior_backward(yg, g.gpu, 0) : sc;
    snprintf(what, sizeof what, "%s backward", layout);
    if (sc != PRIOR_OK || sg != PRIOR_OK) {
      fail(c->name, what);
    } else {
      for (int i = 0; i < c->n_in; i++) {
        if (!c->in[i].requires_grad) continue;
        snprintf(what, sizeof what, "%s grad of input %d", layout, i);
        report(c->name, what, norm_error(cin[i]->grad, gin[i]->grad), c->tol * 4);
      }
    }
    prior_free_all(2, g.cpu, g.gpu);
  }
  prior_free_all(2, yc, yg);
done:
  for (int i = 0; i < c->n_in; i++) prior_free_all(2, in[i].cpu, in[i].gpu);
}

#define UNARY(NAME, CALL)                                       \
  static prior_tensor *NAME(prior_tensor **x) { return CALL; }
UNARY(f_neg, prior_neg(x[0]))
UNARY(f_exp, prior_exp(x[0]))
UNARY(f_log, prior_log(x[0]))
UNARY(f_sqrt, prior_sqrt(x[0]))
UNARY(f_rsqrt, prior_rsqrt(x[0]))
UNARY(f_abs, prior_abs(x[0]))
UNARY(f_sigmoid, prior_sigmoid(x[0]))
UNARY(f_tanh, prior_tanh(x[0]))
UNARY(f_relu, prior_relu(x[0]))
UNARY(f_gelu, prior_gelu(x[0]))
UNARY(f_square, prior_square(x[0]))
UNARY(f_sign, prior_sign(x[0]))
UNARY(f_clamp, prior_clamp(x[0], -0.5, 0.7))
UNARY(f_pow_scalar, prior_pow_scalar(x[0], 1.7))
UNARY(f_affine, prior_add_scalar(x[0], 0.25))
UNARY(f_add, prior_add(x[0], x[1]))
UNARY(f_sub, prior_sub(x[0], x[1]))
UNARY(f_mul, prior_mul(x[0], x[1]))
UNARY(f_div, prior_div(x[0], x[1]))
UNARY(f_pow, prior_pow(x[0], x[1]))
UNARY(f_maximum, prior_maximum(x[0], x[1]))
UNARY(f_minimum, prior_minimum(x[0], x[1]))
UNARY(f_lt, prior_lt(x[0], x[1]))
UNARY(f_ge, prior_ge(x[0], x[1]))
UNARY(f_eq, prior_eq(x[0], x[0]))
UNARY(f_where, prior_where(x[0], x[1], x[2]))
UNARY(f_sum01, prior_sum(x[0], 2, (int64_t[]){0, 1}, 0))
UNARY(f_sum_last, prior_sum(x[0], 1, (int64_t[]){-1}, 1))
UNARY(f_mean0, prior_mean(x[0], 1, (int64_t[]){0}, 0))
UNARY(f_lse, prior_logsumexp(x[0], 1, (int64_t[]){1}, 0))
UNARY(f_norm, prior_norm(x[0], 1, (int64_t[]){2}, 0))
UNARY(f_max, prior_max(x[0], 1, 0, NULL))
UNARY(f_min, prior_min(x[0], 0, 1, NULL))
UNARY(f_argmax, prior_argmax(x[0], 2, 0))
UNARY(f_argmin, prior_argmin(x[0], 0, 0))
UNARY(f_max_all, prior_max_all(x[0]))
UNARY(f_softmax_last, prior_softmax(x[0], -1))
UNARY(f_softmax_mid, prior_softmax(x[0], 1))
UNARY(f_log_softmax, prior_log_softmax(x[0], -1))
UNARY(f_layer_norm, prior_layer_norm(x[0], 1, x[1], x[2], 1e-5))
UNARY(f_layer_norm2, prior_layer_norm(x[0], 2, NULL, NULL, 1e-12))
UNARY(f_ce, prior_cross_entropy(x[0], x[1], PRIOR_REDUCTION_MEAN, -100, 0.0))
UNARY(f_ce_ls, prior_cross_entropy(x[0], x[1], PRIOR_REDUCTION_SUM, 3, 0.1))
UNARY(f_bce, prior_bce_with_logits(x[0], x[1], NULL, PRIOR_REDUCTION_MEAN))
UNARY(f_l1, prior_l1_loss(x[0], x[1], PRIOR_REDUCTION_SUM))
UNARY(f_smooth_l1, prior_smooth_l1_loss(x[0], x[1], PRIOR_REDUCTION_MEAN, 0.5))
UNARY(f_mse, prior_mse_loss(x[0], x[1], PRIOR_REDUCTION_NONE))
UNARY(f_kl, prior_kl_div(x[0], x[1], PRIOR_REDUCTION_SUM, 0))
UNARY(f_index_select, prior_index_select(x[0], 1, x[1]))
UNARY(f_gather, prior_gather(x[0], 1, x[1]))
UNARY(f_scatter_add, prior_scatter_add(x[0], 1, x[1], x[2]))
UNARY(f_embedding, prior_embedding(x[0], x[1], 2))
UNARY(f_masked_fill, prior_masked_fill(x[0], x[1], -1e4))
UNARY(f_dropout, prior_dropout(x[0], 0.3, 1))
UNARY(f_cosine, prior_cosine_similarity(x[0], x[1], 1, 1e-8))

static prior_tensor *f_to_bf16_and_back(prior_tensor **x) {
  prior_tensor *h = prior_to_dtype(x[0], PRIOR_BF16);
  prior_tensor *y = prior_to_dtype(h, PRIOR_F32);
  prior_tensor_free(h);
  return y;
}

static prior_tensor *f_transpose_mul(prior_tensor **x) {
  prior_tensor *t = prior_transpose(x[0], 0, 1);
  prior_tensor *y = prior_mul(t, x[1]);
  prior_tensor_free(t);
  return y;
}
UNARY(f_cat, prior_cat(2, (prior_tensor *[]){x[0], x[1]}, 1))

#define S(ND, ...) {ND, {__VA_ARGS__}, DOM_NORMAL, 0, 1}
#define SP(ND, ...) {ND, {__VA_ARGS__}, DOM_POSITIVE, 0, 1}
#define SPROB(ND, ...) {ND, {__VA_ARGS__}, DOM_PROB, 0, 0}
#define SI(R, ND, ...) {ND, {__VA_ARGS__}, DOM_INDEX, R, 0}
#define SM(ND, ...) {ND, {__VA_ARGS__}, DOM_MASK, 0, 0}
#define SN(ND, ...) {ND, {__VA_ARGS__}, DOM_NORMAL, 0, 0}

static const op_case cases[] = {
    {"neg", "unary", 1, {S(3, 4, 5, 6)}, 1e-6, 1, f_neg},
    {"exp", "unary", 1, {S(3, 4, 5, 6)}, 1e-5, 1, f_exp},
    {"log", "unary", 1, {SP(3, 4, 5, 6)}, 1e-5, 1, f_log},
    {"sqrt", "unary", 1, {SP(2, 33, 17)}, 1e-5, 1, f_sqrt},
    {"rsqrt", "unary", 1, {SP(2, 33, 17)}, 1e-5, 1, f_rsqrt},
    {"abs", "unary", 1, {S(2, 33, 17)}, 1e-6, 1, f_abs},
    {"sigmoid", "unary", 1, {S(2, 33, 17)}, 1e-5, 1, f_sigmoid},
    {"tanh", "unary", 1, {S(2, 33, 17)}, 1e-5, 1, f_tanh},
    {"relu", "unary", 1, {S(2, 33, 17)}, 1e-6, 1, f_relu},
    {"gelu", "unary", 1, {S(2, 33, 17)}, 1e-5, 1, f_gelu},
    {"square", "unary", 1, {S(2, 33, 17)}, 1e-6, 1, f_square},
    {"sign", "unary", 1, {S(2, 33, 17)}, 0, 0, f_sign},
    {"clamp", "unary", 1, {S(2, 33, 17)}, 1e-6, 1, f_clamp},
    {"pow_scalar", "unary", 1, {SP(2, 33, 17)}, 1e-5, 1, f_pow_scalar},
    {"add_scalar", "unary", 1, {S(2, 33, 17)}, 1e-6, 1, f_affine},
    {"add (broadcast)", "binary", 2, {S(3, 4, 1, 6), S(2, 5, 6)}, 1e-6, 1, f_add},
    {"sub", "binary", 2, {S(2, 7, 9), S(2, 7, 9)}, 1e-6, 1, f_sub},
    {"mul (broadcast)", "binary", 2, {S(3, 3, 5, 7), S(1, 7)}, 1e-6, 1, f_mul},
    {"div", "binary", 2, {S(2, 7, 9), SP(2, 7, 9)}, 1e-5, 1, f_div},
    {"pow", "binary", 2, {SP(2, 7, 9), S(2, 7, 9)}, 1e-5, 1, f_pow},
    {"maximum", "binary", 2, {S(2, 7, 9), S(2, 7, 9)}, 1e-6, 1, f_maximum},
    {"minimum", "binary", 2, {S(2, 7, 9), S(2, 1, 9)}, 1e-6, 1, f_minimum},
    {"lt", "binary", 2, {SN(2, 7, 9), SN(2, 7, 9)}, 0, 0, f_lt},
    {"ge (broadcast)", "binary", 2, {SN(2, 7, 9), SN(1, 9)}, 0, 0, f_ge},
    {"eq", "binary", 1, {SN(2, 7, 9)}, 0, 0, f_eq},
    {"where", "where", 3, {SM(2, 6, 10), S(2, 6, 10), S(1, 10)}, 1e-6, 1, f_where},
    {"f32 -> bf16 -> f32", "copy", 1, {SN(3, 5, 7, 11)}, 0, 0, f_to_bf16_and_back},
    {"transpose * x", "binary", 2, {S(2, 9, 6), S(2, 6, 9)}, 1e-6, 1, f_transpose_mul},
    {"cat", "copy", 2, {S(2, 4, 5), S(2, 4, 3)}, 0, 1, f_cat},
    {"sum over 0,1", "reduce", 1, {S(3, 6, 7, 300)}, 1e-5, 1, f_sum01},
    {"sum last keepdim", "reduce", 1, {S(3, 6, 7, 1000)}, 1e-5, 1, f_sum_last},
    {"mean over 0", "reduce", 1, {S(2, 2000, 3)}, 1e-5, 1, f_mean0},
    {"logsumexp", "reduce", 1, {S(3, 4, 300, 5)}, 1e-5, 1, f_lse},
    {"norm", "reduce", 1, {S(3, 4, 5, 70)}, 1e-5, 1, f_norm},
    {"max over 1", "reduce", 1, {S(3, 4, 500, 3)}, 0, 1, f_max},
    {"min over 0", "reduce", 1, {S(2, 100, 9)}, 0, 1, f_min},
    {"argmax", "reduce", 1, {SN(3, 4, 5, 700)}, 0, 0, f_argmax},
    {"argmin", "reduce", 1, {SN(2, 3000, 2)}, 0, 0, f_argmin},
    {"max_all", "reduce", 1, {S(2, 300, 301)}, 0, 1, f_max_all},
    {"softmax last", "softmax", 1, {S(3, 4, 8, 300)}, 1e-5, 1, f_softmax_last},
    {"softmax middle", "softmax", 1, {S(3, 4, 40, 6)}, 1e-5, 1, f_softmax_mid},
    {"log_softmax", "softmax", 1, {S(2, 16, 1000)}, 1e-5, 1, f_log_softmax},
    {"layer_norm", "layer_norm", 3, {S(3, 4, 6, 768), S(1, 768), S(1, 768)}, 1e-5, 1, f_layer_norm},
    {"layer_norm no affine", "layer_norm", 1, {S(3, 5, 3, 50)}, 1e-5, 1, f_layer_norm2},
    {"cross_entropy", "cross_entropy", 2, {S(2, 64, 1000), SI(1000, 1, 64)}, 1e-5, 1, f_ce},
    {"cross_entropy spatial ls", "cross_entropy", 2, {S(3, 4, 5, 9), SI(5, 2, 4, 9)}, 1e-5, 1, f_ce_ls},
    {"bce_with_logits", "pointwise_loss", 2, {S(2, 8, 14), SPROB(2, 8, 14)}, 1e-5, 1, f_bce},
    {"l1_loss", "pointwise_loss", 2, {S(2, 8, 14), S(2, 8, 14)}, 1e-5, 1, f_l1},
    {"smooth_l1_loss", "pointwise_loss", 2, {S(2, 8, 14), S(2, 8, 14)}, 1e-5, 1, f_smooth_l1},
    {"mse_loss", "pointwise_loss", 2, {S(2, 8, 14), S(2, 8, 14)}, 1e-5, 1, f_mse},
    {"kl_div", "pointwise_loss", 2, {S(2, 8, 14), SPROB(2, 8, 14)}, 1e-5, 1, f_kl},
    {"index_select", "index_select", 2, {S(3, 3, 50, 7), SI(50, 1, 80)}, 0, 1, f_index_select},
    {"gather", "gather", 2, {S(3, 4, 30, 6), SI(30, 3, 4, 12, 6)}, 0, 1, f_gather},
    {"scatter_add", "scatter_add", 3, {S(3, 4, 30, 6), SI(30, 3, 4, 12, 6), S(3, 4, 12, 6)}, 1e-6, 1, f_scatter_add},
    {"embedding", "index_select", 2, {S(2, 100, 32), SI(100, 2, 8, 16)}, 0, 1, f_embedding},
    {"masked_fill", "where", 2, {S(3, 2, 7, 7), SM(3, 2, 7, 7)}, 0, 1, f_masked_fill},
    {"dropout (same Philox stream)", "random_fill", 1, {S(2, 64, 129)}, 1e-6, 1, f_dropout},
    {"cosine_similarity", "reduce", 2, {S(2, 16, 64), S(2, 16, 64)}, 1e-5, 1, f_cosine},
};

/* ---- dense ops, looked up at run time (they may not be in this build) -------------------------------- */

typedef prior_tensor *(*matmul_fn)(prior_tensor *, prior_tensor *);
typedef prior_tensor *(*linear_fn)(prior_tensor *, prior_tensor *, prior_tensor *);
typedef prior_tensor *(*conv_fn)(prior_tensor *, prior_tensor *, prior_tensor *, int64_t, int64_t, int64_t, int64_t,
                                 int64_t, int64_t, int64_t);
typedef prior_tensor *(*bn_fn)(prior_tensor *, prior_tensor *, prior_tensor *, prior_tensor *, prior_tensor *, int,
                               double, double);
typedef prior_tensor *(*pool_fn)(prior_tensor *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
typedef prior_tensor *(*adaptive_fn)(prior_tensor *, int64_t, int64_t);
typedef prior_tensor *(*interp_fn)(prior_tensor *, int64_t, int64_t, int, int);

static void *op_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

static prior_tensor *f_matmul(prior_tensor **x) { return ((matmul_fn)op_symbol("prior_matmul"))(x[0], x[1]); }
static prior_tensor *f_matmul_t(prior_tensor **x) {
  prior_tensor *bt = prior_transpose(x[1], 0, 1);
  prior_tensor *y = ((matmul_fn)op_symbol("prior_matmul"))(x[0], bt);
  prior_tensor_free(bt);
  return y;
}
static prior_tensor *f_bmm(prior_tensor **x) { return ((matmul_fn)op_symbol("prior_bmm"))(x[0], x[1]); }
static prior_tensor *f_linear(prior_tensor **x) { return ((linear_fn)op_symbol("prior_linear"))(x[0], x[1], x[2]); }
static prior_tensor *f_conv(prior_tensor **x) {
  return ((conv_fn)op_symbol("prior_conv2d"))(x[0], x[1], x[2], 2, 2, 1, 1, 1, 1, 1);
}
static prior_tensor *f_conv_grouped(prior_tensor **x) {
  return ((conv_fn)op_symbol("prior_conv2d"))(x[0], x[1], NULL, 1, 1, 2, 2, 2, 2, 4);
}
static prior_tensor *f_bn(prior_tensor **x) {
  return ((bn_fn)op_symbol("prior_batch_norm2d"))(x[0], NULL, NULL, x[1], x[2], 1, 0.1, 1e-5);
}
static prior_tensor *f_maxpool(prior_tensor **x) {
  return ((pool_fn)op_symbol("prior_max_pool2d"))(x[0], 3, 3, 2, 2, 1, 1);
}
static prior_tensor *f_avgpool(prior_tensor **x) {
  return ((pool_fn)op_symbol("prior_avg_pool2d"))(x[0], 2, 2, 2, 2, 0, 0);
}
static prior_tensor *f_adaptive(prior_tensor **x) {
  return ((adaptive_fn)op_symbol("prior_adaptive_avg_pool2d"))(x[0], 1, 1);
}
static prior_tensor *f_interp(prior_tensor **x) {
  return ((interp_fn)op_symbol("prior_interpolate"))(x[0], 13, 9, 1, 0);
}

typedef struct dense_case {
  op_case c;
  const char *symbol;
} dense_case;

static const dense_case dense_cases[] = {
    {{"matmul", "matmul", 2, {S(2, 64, 96), S(2, 96, 80)}, 1e-5, 1, f_matmul}, "prior_matmul"},
    {{"matmul b transposed", "matmul", 2, {S(2, 64, 96), S(2, 80, 96)}, 1e-5, 1, f_matmul_t}, "prior_matmul"},
    {{"bmm", "matmul", 2, {S(3, 6, 33, 40), S(3, 6, 40, 17)}, 1e-5, 1, f_bmm}, "prior_bmm"},
    {{"linear", "matmul", 3, {S(3, 4, 9, 64), S(2, 48, 64), S(1, 48)}, 1e-5, 1, f_linear}, "prior_linear"},
    {{"conv2d stride 2", "conv2d_forward", 3, {S(4, 2, 8, 15, 15), S(4, 16, 8, 3, 3), S(1, 16)}, 1e-4, 1, f_conv},
     "prior_conv2d"},
    {{"conv2d grouped dilated", "conv2d_forward", 2, {S(4, 2, 8, 12, 12), S(4, 8, 2, 3, 3)}, 1e-4, 1, f_conv_grouped},
     "prior_conv2d"},
    {{"batch_norm2d train", "batch_norm_forward", 3, {S(4, 4, 6, 7, 7), S(1, 6), S(1, 6)}, 1e-4, 1, f_bn},
     "prior_batch_norm2d"},
    {{"max_pool2d", "max_pool2d_forward", 1, {S(4, 2, 3, 11, 11)}, 0, 1, f_maxpool}, "prior_max_pool2d"},
    {{"avg_pool2d", "avg_pool2d_forward", 1, {S(4, 2, 3, 10, 10)}, 1e-6, 1, f_avgpool}, "prior_avg_pool2d"},
    {{"adaptive_avg_pool2d", "adaptive_avg_pool2d_forward", 1, {S(4, 2, 5, 7, 7)}, 1e-6, 1, f_adaptive},
     "prior_adaptive_avg_pool2d"},
    {{"interpolate bilinear", "interpolate_forward", 1, {S(4, 2, 3, 6, 5)}, 1e-5, 1, f_interp}, "prior_interpolate"},
};

/* ---- direct kernel calls with guard zones ------------------------------------------------------------ */

#define GUARD 64          /* elements before and after the output */
#define SENTINEL 12345.25 /* exactly representable in f32 */

/* A contiguous output of `shape` inside a larger storage whose other elements hold SENTINEL. */
static prior_tensor *guarded(int ndim, const int64_t *shape, prior_dtype dtype, prior_device dev, prior_tensor **base) {
  int64_t n = numel_of(ndim, shape), total = n + 2 * GUARD;
  *base = prior_tensor_full(1, &total, SENTINEL, dtype, dev);
  if (!*base) return NULL;
  int64_t strides[PRIOR_MAX_DIMS], s = 1;
  for (int d = ndim - 1; d >= 0; d--) strides[d] = s, s *= shape[d];
  return prior_tensor_as_strided(*base, ndim, shape, strides, GUARD);
}

static int guards_intact(const prior_tensor *base) {
  int64_t total = prior_tensor_numel(base);
  double *h = malloc((size_t)total * sizeof *h), want = 0;
  /* the sentinel as the base's dtype stores it (integers truncate it, bf16 rounds it) */
  prior_tensor *one = prior_tensor_full(0, NULL, SENTINEL, (prior_dtype)base->dtype, prior_cpu());
  int ok = one && prior_tensor_item(one, &want) == PRIOR_OK && prior_tensor_to_f64_array(base, h) == PRIOR_OK;
  prior_tensor_free(one);
  for (int64_t i = 0; ok && i < GUARD; i++) ok = h[i] == want && h[total - 1 - i] == want;
  free(h);
  return ok;
}

static void guard_report(const char *name, prior_tensor *cpu_out, prior_tensor *gpu_out, prior_tensor *gbase,
                         prior_status s, double tol) {
  if (s != PRIOR_OK) {
    fail(name, "guarded kernel call");
    return;
  }
  report(name, "guarded output", norm_error(cpu_out, gpu_out), tol);
  int ok = guards_intact(gbase);
  printf("%-5s %-34s %-26s\n", ok ? "ok" : "FAIL", name, "guard zones untouched");
  ok ? n_pass++ : n_fail++;
}

static void guarded_kernels(void) {
  int64_t shape[3] = {5, 7, 129};
  spec sx = {3, {5, 7, 129}, DOM_NORMAL, 0, 0};
  for (int noncontig = 0; noncontig <= 1; noncontig++) {
    pair x = make_input(&sx, noncontig), y = make_input(&sx, noncontig);
    const char *tag = noncontig ? "strided" : "contiguous";
    char name[64];
    /* unary, binary: out of x's shape */
    prior_unary_kernel uc = (prior_unary_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "unary");
    prior_unary_kernel ug = (prior_unary_kernel)prior_backend_kernel(GPU_TYPE, "unary");
    prior_binary_kernel bc = (prior_binary_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "binary");
    prior_binary_kernel bg = (prior_binary_kernel)prior_backend_kernel(GPU_TYPE, "binary");
    prior_reduce_kernel rc = (prior_reduce_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "reduce");
    prior_reduce_kernel rg = (prior_reduce_kernel)prior_backend_kernel(GPU_TYPE, "reduce");
    for (int op = PRIOR_UNARY_NEG; op <= PRIOR_UNARY_CLAMP_MASK; op++) {
      if (op == PRIOR_UNARY_LOG || op == PRIOR_UNARY_SQRT || op == PRIOR_UNARY_RSQRT || op == PRIOR_UNARY_POW_SCALAR ||
          op == PRIOR_UNARY_LOG1P)
        continue; /* NaN on negative inputs: covered by the op cases on positive inputs */
      double params[2] = {-0.3, 0.8};
      prior_tensor *oc = prior_tensor_empty(3, shape, PRIOR_F32, prior_cpu()), *gb;
      prior_tensor *og = guarded(3, shape, PRIOR_F32, GPU, &gb);
      prior_status s = uc(oc, x.cpu, op, params);
      if (s == PRIOR_OK) s = ug(og, x.gpu, op, params);
      snprintf(name, sizeof name, "kernel unary op %d %s", op, tag);
      guard_report(name, oc, og, gb, s, 1e-5);
      prior_free_all(3, oc, og, gb);
    }
    for (int op = PRIOR_BINARY_ADD; op <= PRIOR_BINARY_SIGN_MUL; op++) {
      if (op == PRIOR_BINARY_POW) continue;
      int cmp = op >= PRIOR_BINARY_EQ && op <= PRIOR_BINARY_GE;
      prior_dtype od = cmp ? PRIOR_BOOL : PRIOR_F32;
      prior_tensor *oc = prior_tensor_empty(3, shape, od, prior_cpu()), *gb;
      prior_tensor *og = guarded(3, shape, od, GPU, &gb);
      prior_status s = bc(oc, x.cpu, y.cpu, op);
      if (s == PRIOR_OK) s = bg(og, x.gpu, y.gpu, op);
      snprintf(name, sizeof name, "kernel binary op %d %s", op, tag);
      if (cmp) { /* a bool output's guard holds the SENTINEL converted to bool: 1 */
        report(name, "guarded output", s == PRIOR_OK ? norm_error(oc, og) : INFINITY, 0);
      } else {
        guard_report(name, oc, og, gb, s, 1e-5);
      }
      prior_free_all(3, oc, og, gb);
    }
    for (int op = PRIOR_REDUCE_SUM; op <= PRIOR_REDUCE_PROD; op++) {
      int single = op == PRIOR_REDUCE_MAX || op == PRIOR_REDUCE_MIN || op == PRIOR_REDUCE_ARGMAX ||
                   op == PRIOR_REDUCE_ARGMIN;
      uint32_t mask = single ? 4u : 5u; /* dim 2, or dims 0 and 2 */
      int64_t oshape[3] = {single ? 5 : 1, 7, 1};
      prior_dtype od = (op == PRIOR_REDUCE_ARGMAX || op == PRIOR_REDUCE_ARGMIN) ? PRIOR_I64 : PRIOR_F32;
      prior_tensor *oc = prior_tensor_empty(3, oshape, od, prior_cpu()), *gb;
      prior_tensor *og = guarded(3, oshape, od, GPU, &gb);
      prior_tensor *ic = NULL, *ig = NULL, *ib = NULL;
      if (op == PRIOR_REDUCE_MAX || op == PRIOR_REDUCE_MIN) {
        ic = prior_tensor_empty(3, oshape, PRIOR_I64, prior_cpu());
        ig = guarded(3, oshape, PRIOR_I64, GPU, &ib);
      }
      prior_tensor *xin_c = x.cpu, *xin_g = x.gpu;
      if (op == PRIOR_REDUCE_PROD) { /* a product of 645 normals under- or overflows: use a narrow slice */
        xin_c = prior_tensor_as_strided(x.cpu, 3, (int64_t[]){5, 7, 3}, x.cpu->strides, x.cpu->offset);
        xin_g = prior_tensor_as_strided(x.gpu, 3, (int64_t[]){5, 7, 3}, x.gpu->strides, x.gpu->offset);
      }
      prior_status s = rc(oc, ic, xin_c, mask, op);
      if (s == PRIOR_OK) s = rg(og, ig, xin_g, mask, op);
      snprintf(name, sizeof name, "kernel reduce op %d %s", op, tag);
      guard_report(name, oc, og, gb, s, 1e-5);
      if (ic && s == PRIOR_OK) guard_report(name, ic, ig, ib, s, 0);
      if (op == PRIOR_REDUCE_PROD) prior_free_all(2, xin_c, xin_g);
      prior_free_all(6, oc, og, gb, ic, ig, ib);
    }
    /* softmax and layer norm kernels take contiguous tensors */
    if (!noncontig) {
      prior_softmax_kernel sc = (prior_softmax_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "softmax");
      prior_softmax_kernel sg = (prior_softmax_kernel)prior_backend_kernel(GPU_TYPE, "softmax");
      for (int log_mode = 0; log_mode <= 1; log_mode++) {
        prior_tensor *oc = prior_tensor_empty(3, shape, PRIOR_F32, prior_cpu()), *gb;
        prior_tensor *og = guarded(3, shape, PRIOR_F32, GPU, &gb);
        prior_status s = sc(oc, x.cpu, 5, 7, 129, log_mode);
        if (s == PRIOR_OK) s = sg(og, x.gpu, 5, 7, 129, log_mode);
        guard_report(log_mode ? "kernel log_softmax (inner 129)" : "kernel softmax (inner 129)", oc, og, gb, s, 1e-5);
        prior_free_all(3, oc, og, gb);
      }
      prior_layer_norm_kernel lc = (prior_layer_norm_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "layer_norm");
      prior_layer_norm_kernel lg = (prior_layer_norm_kernel)prior_backend_kernel(GPU_TYPE, "layer_norm");
      int64_t rows = 35;
      prior_tensor *oc = prior_tensor_empty(3, shape, PRIOR_F32, prior_cpu()), *gb, *mb, *rb;
      prior_tensor *og = guarded(3, shape, PRIOR_F32, GPU, &gb);
      prior_tensor *mc = prior_tensor_empty(1, &rows, PRIOR_F32, prior_cpu()), *mg = guarded(1, &rows, PRIOR_F32, GPU, &mb);
      prior_tensor *rsc = prior_tensor_empty(1, &rows, PRIOR_F32, prior_cpu()), *rsg = guarded(1, &rows, PRIOR_F32, GPU, &rb);
      prior_status s = lc(oc, mc, rsc, x.cpu, NULL, NULL, rows, 129, 1e-5);
      if (s == PRIOR_OK) s = lg(og, mg, rsg, x.gpu, NULL, NULL, rows, 129, 1e-5);
      guard_report("kernel layer_norm y", oc, og, gb, s, 1e-5);
      guard_report("kernel layer_norm mean", mc, mg, mb, s, 1e-5);
      guard_report("kernel layer_norm rstd", rsc, rsg, rb, s, 1e-5);
      prior_free_all(9, oc, og, gb, mc, mg, mb, rsc, rsg, rb);
    }
    /* copy with conversion into a guarded destination, and fill */
    for (int dt = PRIOR_F32; dt <= PRIOR_F16; dt++) {
      if (dt == PRIOR_U8 || dt == PRIOR_BOOL) continue;
      prior_tensor *oc = prior_tensor_empty(3, shape, (prior_dtype)dt, prior_cpu()), *gb;
      prior_tensor *og = guarded(3, shape, (prior_dtype)dt, GPU, &gb);
      prior_status s = prior_tensor_copy_(oc, x.cpu);
      if (s == PRIOR_OK) s = prior_tensor_copy_(og, x.gpu);
      snprintf(name, sizeof name, "copy f32 -> %s %s", prior_dtype_name((prior_dtype)dt), tag);
      guard_report(name, oc, og, gb, s, 0);
      prior_free_all(3, oc, og, gb);
    }
    prior_free_all(4, x.cpu, x.gpu, y.cpu, y.gpu);
  }
  /* random fills: the same numbers on both devices for the same seed and offset */
  const char *kinds[4] = {"uniform_", "normal_", "bernoulli_", "gumbel_"};
  for (int kind = 0; kind < 4; kind++) {
    int64_t rshape[2] = {257, 33};
    prior_tensor *c = prior_tensor_empty(2, rshape, PRIOR_F32, prior_cpu()), *gb;
    prior_tensor *g = guarded(2, rshape, PRIOR_F32, GPU, &gb);
    prior_status s = PRIOR_OK;
    for (int dev = 0; dev < 2 && s == PRIOR_OK; dev++) {
      prior_tensor *t = dev ? g : c;
      prior_rng_seed(77);
      switch (kind) {
        case 0: s = prior_tensor_uniform_(t, -2, 3); break;
        case 1: s = prior_tensor_normal_(t, 1, 2); break;
        case 2: s = prior_tensor_bernoulli_(t, 0.3); break;
        default: s = prior_tensor_gumbel_(t); break;
      }
    }
    char name[64];
    snprintf(name, sizeof name, "random %s f32 (exact)", kinds[kind]);
    guard_report(name, c, g, gb, s, 0);
    prior_free_all(3, c, g, gb);
  }
}

/* ---- autocast: bf16 matmul against the f32 CPU result ---------------------------------------------- */

static void autocast_cases(void) {
  if (GPU_TYPE != PRIOR_DEVICE_CUDA || !prior_backend_supports(GPU_TYPE, "matmul")) {
    skip("autocast matmul", "no CUDA matmul kernel");
    return;
  }
  spec sa = {2, {128, 768}, DOM_NORMAL, 0, 0}, sb = {2, {768, 96}, DOM_NORMAL, 0, 0};
  pair a = make_input(&sa, 0), b = make_input(&sb, 0);
  int64_t oshape[2] = {128, 96};
  prior_tensor *oc = prior_tensor_zeros(2, oshape, PRIOR_F32, prior_cpu());
  prior_tensor *og = prior_tensor_empty(2, oshape, PRIOR_F32, GPU);
  typedef prior_status (*matmul_kernel)(prior_tensor *, const prior_tensor *, const prior_tensor *);
  matmul_kernel mc = (matmul_kernel)prior_backend_kernel(PRIOR_DEVICE_CPU, "matmul");
  prior_status s = PRIOR_OK;
  if (mc) {
    s = mc(oc, a.cpu, b.cpu);
  } else { /* no CPU matmul kernel in this build: the reference by hand */
    float *A = prior_tensor_data(a.cpu), *B = prior_tensor_data(b.cpu), *C = prior_tensor_data(oc);
    for (int i = 0; i < 128; i++)
      for (int j = 0; j < 96; j++) {
        double acc = 0;
        for (int k = 0; k < 768; k++) acc += (double)A[i * 768 + k] * B[k * 96 + j];
        C[i * 96 + j] = (float)acc;
      }
  }
  for (int bf16 = 0; bf16 <= 1 && s == PRIOR_OK; bf16++) {
    prior_autocast_set(bf16, PRIOR_BF16);
    s = prior_cuda_matmul(og, a.gpu, b.gpu);
    prior_autocast_set(0, PRIOR_F32);
    if (s == PRIOR_OK) report(bf16 ? "matmul autocast bf16" : "matmul strict f32", "output f32", norm_error(oc, og),
                              bf16 ? 2e-2 : 1e-5);
  }
  if (s != PRIOR_OK) fail("autocast matmul", "call");
  prior_free_all(6, a.cpu, a.gpu, b.cpu, b.gpu, oc, og);
}

/* ---- whole networks ---------------------------------------------------------------------------------- */

typedef struct net_run {
  prior_params *params;
  prior_tensor *out;
} net_run;

/* Worst normalised error over the output and every parameter gradient; per-tensor failures printed. */
static void compare_nets(const char *name, net_run *c, net_run *g, double tol_out, double tol_grad) {
  char what[96];
  report(name, "output", norm_error(c->out, g->out), tol_out);
  int n = prior_params_count(c->params), bad = 0;
  double worst = 0;
  const char *worst_name = "";
  for (int i = 0; i < n; i++) {
    prior_tensor *tc = prior_params_tensor(c->params, i), *tg = prior_params_tensor(g->params, i);
    if (prior_params_is_buffer(c->params, i)) { /* running statistics of batch norm */
      double e = norm_error(tc, tg);
      if (e > tol_grad) {
        snprintf(what, sizeof what, "buffer %s", prior_params_name(c->params, i));
        report(name, what, e, tol_grad), bad++;
      }
      continue;
    }
    double e = (tc->grad || tg->grad) ? norm_error(tc->grad, tg->grad) : 0;
    if (e > worst) worst = e, worst_name = prior_params_name(c->params, i);
    if (e > tol_grad) {
      snprintf(what, sizeof what, "grad %s", prior_params_name(c->params, i));
      report(name, what, e, tol_grad), bad++;
    }
  }
  snprintf(what, sizeof what, "%d param grads (worst %s)", n, worst_name);
  if (!bad) report(name, what, worst, tol_grad);
}

/* Forward (training), loss = sum(out * w) with a fixed random w, backward. */
static prior_status net_step(net_run *r, prior_tensor *(*forward)(void *, prior_tensor **), void *net,
                             prior_tensor **inputs, uint64_t seed) {
  prior_rng_seed(seed);
  r->out = forward(net, inputs);
  if (!r->out) return prior_error_code();
  spec ws = {r->out->ndim, {0}, DOM_NORMAL, 0, 0};
  for (int d = 0; d < r->out->ndim && d < 4; d++) ws.shape[d] = r->out->shape[d];
  lcg_state = seed; /* the same weights on both devices */
  pair w = make_input(&ws, 0);
  prior_tensor *wt = r->out->device.type == PRIOR_DEVICE_CPU ? w.cpu : w.gpu;
  prior_tensor *prod = prior_mul(r->out, wt);
  prior_tensor *loss = prod ? prior_sum(prod, 0, NULL, 0) : NULL;
  prior_status s = loss ? prior_backward(loss, NULL, 0) : prior_error_code();
  prior_free_all(4, prod, loss, w.cpu, w.gpu);
  return s;
}

static prior_tensor *resnet_fwd(void *net, prior_tensor **in) {
  return prior_resnet_forward((prior_resnet *)net, in[0], 1, NULL, NULL);
}

static prior_tensor *bert_fwd(void *net, prior_tensor **in) {
  return prior_bert_forward((prior_bert *)net, in[0], in[1], NULL, 1, NULL);
}

static void network_cases(int quick) {
  for (int bf16 = 0; bf16 <= 1; bf16++) {
    if (bf16 && GPU_TYPE != PRIOR_DEVICE_CUDA) {
      skip("networks under bf16 autocast", "needs the GPU");
      break;
    }
    char name[64];
    /* a narrow ResNet (Bottleneck v1.5, every stage) on 64x64 RGB */
    snprintf(name, sizeof name, "ResNet narrow %s", bf16 ? "bf16" : "f32");
    prior_resnet_config rc = {{1, 1, 1, 1}, quick ? 4 : 8, 3};
    prior_rng_seed(5);
    prior_resnet *rn_c = prior_resnet_new(&rc);
    prior_rng_seed(5);
    prior_resnet *rn_g = prior_resnet_new(&rc);
    spec xs = {4, {4, 3, 64, 64}, DOM_NORMAL, 0, 0};
    pair x = make_input(&xs, 0);
    net_run c = {rn_c ? prior_resnet_params(rn_c) : NULL, NULL}, g = {rn_g ? prior_resnet_params(rn_g) : NULL, NULL};
    prior_status s = rn_c && rn_g && x.cpu ? prior_params_to_device(g.params, GPU) : prior_error_code();
    if (s == PRIOR_OK) s = prior_params_set_requires_grad(c.params, 1);
    if (s == PRIOR_OK) s = prior_params_set_requires_grad(g.params, 1);
    if (s == PRIOR_OK) s = net_step(&c, resnet_fwd, rn_c, &x.cpu, 11);
    prior_autocast_set(bf16, PRIOR_BF16);
    if (s == PRIOR_OK) s = net_step(&g, resnet_fwd, rn_g, &x.gpu, 11);
    prior_autocast_set(0, PRIOR_F32);
    if (s == PRIOR_OK)
      compare_nets(name, &c, &g, bf16 ? 5e-2 : 1e-4, bf16 ? 1e-1 : 1e-3);
    else
      fail(name, "forward/backward");
    prior_free_all(4, c.out, g.out, x.cpu, x.gpu);
    prior_resnet_free(rn_c);
    prior_resnet_free(rn_g);

    /* a small BERT with padding in the mask and dropout on */
    snprintf(name, sizeof name, "BERT small %s", bf16 ? "bf16" : "f32");
    prior_bert_config bc = prior_bert_base_config(1000);
    bc.hidden = 64, bc.layers = 2, bc.heads = 4, bc.intermediate = 128, bc.max_positions = 64;
    prior_rng_seed(6);
    prior_bert *b_c = prior_bert_new(&bc);
    prior_rng_seed(6);
    prior_bert *b_g = prior_bert_new(&bc);
    spec is = {2, {3, 24}, DOM_INDEX, 1000, 0};
    pair ids = make_input(&is, 0);
    double maskv[3 * 24];
    for (int i = 0; i < 3 * 24; i++) maskv[i] = (i % 24) < 24 - 5 * (i / 24); /* 24, 19, 14 tokens */
    int64_t ms[2] = {3, 24};
    prior_tensor *mask_c = prior_tensor_from_data(maskv, 2, ms, PRIOR_F64, prior_cpu());
    prior_tensor *mask_c64 = mask_c, *mask_g = NULL;
    mask_c = prior_tensor_to_dtype_raw(mask_c64, PRIOR_I64);
    prior_tensor_free(mask_c64);
    mask_g = mask_c ? prior_tensor_to_device(mask_c, GPU) : NULL;
    net_run bcr = {b_c ? prior_bert_params(b_c) : NULL, NULL}, bgr = {b_g ? prior_bert_params(b_g) : NULL, NULL};
    s = b_c && b_g && ids.cpu && mask_g ? prior_params_to_device(bgr.params, GPU) : prior_error_code();
    if (s == PRIOR_OK) s = prior_params_set_requires_grad(bcr.params, 1);
    if (s == PRIOR_OK) s = prior_params_set_requires_grad(bgr.params, 1);
    prior_tensor *in_c[2] = {ids.cpu, mask_c}, *in_g[2] = {ids.gpu, mask_g};
    if (s == PRIOR_OK) s = net_step(&bcr, bert_fwd, b_c, in_c, 12);
    prior_autocast_set(bf16, PRIOR_BF16);
    if (s == PRIOR_OK) s = net_step(&bgr, bert_fwd, b_g, in_g, 12);
    prior_autocast_set(0, PRIOR_F32);
    if (s == PRIOR_OK)
      compare_nets(name, &bcr, &bgr, bf16 ? 5e-2 : 1e-4, bf16 ? 1e-1 : 1e-3);
    else
      fail(name, "forward/backward");
    prior_free_all(6, bcr.out, bgr.out, ids.cpu, ids.gpu, mask_c, mask_g);
    prior_bert_free(b_c);
    prior_bert_free(b_g);
  }
}

int main(int argc, char **argv) {
  int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  int self = argc > 1 && strcmp(argv[1], "--self-test") == 0;
  printf("# %s\n", prior_build_info());
  if (self) {
    GPU = prior_cpu();
    GPU_TYPE = PRIOR_DEVICE_CPU;
    printf("# self-test: the CPU stands in for the GPU\n");
  } else if (!prior_cuda_available()) {
    printf("no CUDA device: nothing to compare\n");
    return 2;
  }
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (!prior_backend_supports(GPU_TYPE, cases[i].kernel)) {
      skip(cases[i].name, "no CUDA kernel");
      continue;
    }
    for (int nc = 0; nc <= (quick ? 0 : 1); nc++) run_case(&cases[i], nc);
    device_healthy_after(cases[i].name);
  }
  for (size_t i = 0; i < sizeof dense_cases / sizeof dense_cases[0]; i++) {
    const dense_case *d = &dense_cases[i];
    if (!op_symbol(d->symbol)) {
      skip(d->c.name, "op not in this build");
    } else if (!prior_backend_supports(GPU_TYPE, d->c.kernel)) {
      skip(d->c.name, "no CUDA kernel");
    } else {
      for (int nc = 0; nc <= (quick ? 0 : 1); nc++) run_case(&d->c, nc);
      device_healthy_after(d->c.name);
    }
  }
  guarded_kernels();
  device_healthy_after("guarded kernels");
  autocast_cases();
  device_healthy_after("autocast matmul");
  network_cases(quick || self); /* narrow networks when the CPU does both sides */
  prior_memory_stats st;
  prior_memory_stats_get(GPU, &st);
  printf("# GPU memory: %.1f MiB in use, %.1f MiB cached, peak %.1f MiB, %lld cudaMalloc calls\n",
         st.bytes_in_use / 1048576.0, st.bytes_cached / 1048576.0, st.peak_bytes_in_use / 1048576.0,
         (long long)st.n_system_allocations);
  printf("gpu_parity: %d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
  return n_fail ? 1 : 0;
}
