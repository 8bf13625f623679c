/* Optimizer update rules against PyTorch (tests/fixtures/optim/optim_steps.txt, made by make_optim.py),
 * closed-form first steps, and argument errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prior/prior.h"

#define FIXTURE "tests/fixtures/optim/optim_steps.txt"
#define MAXN 8

static int parse_values(char *s, double *out, int max) {
  int n = 0;
  char *end;
  while (n < max) {
    double v = strtod(s, &end);
    if (end == s) break;
    out[n++] = v;
    s = end;
  }
  return n;
}

static double param_of(const char *line, const char *key, double dflt) {
  char pat[64];
  snprintf(pat, sizeof pat, " %s=", key);
  const char *p = strstr(line, pat);
  return p ? strtod(p + strlen(pat), NULL) : dflt;
}

static prior_tensor *vec(const double *v, int n) {
  int64_t shape[1] = {n};
  return prior_tensor_from_data(v, 1, shape, PRIOR_F64, prior_cpu());
}

/* Replays every `case` of the fixture through prior_sgd_step / prior_adam_step. */
static void test_fixture(void) {
  FILE *f = fopen(FIXTURE, "r");
  CHECK_MSG(f != NULL, "cannot open %s", FIXTURE);
  if (f == NULL) return;
  static char line[8192], header[8192];
  prior_tensor *p = NULL, *buf = NULL, *m = NULL, *v = NULL;
  int step = 0, n = 0, n_cases = 0, n_steps = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "case ", 5) == 0) {
      snprintf(header, sizeof header, "%s", line);
      header[strcspn(header, "\n")] = '\0';
      prior_free_all(4, p, buf, m, v);
      p = buf = m = v = NULL;
      step = 0;
      n_cases++;
    } else if (strncmp(line, "init ", 5) == 0) {
      double x[MAXN];
      n = parse_values(line + 5, x, MAXN);
      p = vec(x, n);
      int64_t shape[1] = {n};
      buf = prior_tensor_zeros(1, shape, PRIOR_F64, prior_cpu());
      m = prior_tensor_zeros(1, shape, PRIOR_F64, prior_cpu());
      v = prior_tensor_zeros(1, shape, PRIOR_F64, prior_cpu());
    } else if (strncmp(line, "step ", 5) == 0 && p != NULL) {
      char *bar = strchr(line, '|');
      double g[MAXN], want[MAXN];
      parse_values(line + 5, g, MAXN);
      parse_values(bar + 1, want, MAXN);
      prior_tensor *gt = vec(g, n);
      step++;
      double lr = param_of(header, "lr", 0), wd = param_of(header, "weight_decay", 0);
      if (strstr(header, "case sgd")) {
        CHECK_OK(prior_sgd_step(p, gt, buf, step == 1, lr, param_of(header, "momentum", 0),
                                param_of(header, "dampening", 0), wd, param_of(header, "nesterov", 0) != 0));
      } else {
        CHECK_OK(prior_adam_step(p, gt, m, v, step, lr, param_of(header, "beta1", 0.9), param_of(header, "beta2", 0.999),
                                 param_of(header, "eps", 1e-8), wd, param_of(header, "decoupled", 0) != 0));
      }
      const double *got = prior_tensor_data(p);
      for (int i = 0; i < n; i++)
        CHECK_MSG(fabs(got[i] - want[i]) <= 1e-12 + 1e-10 * fabs(want[i]), "%s step %d [%d]: %.17g vs torch %.17g",
                  header, step, i, got[i], want[i]);
      prior_tensor_free(gt);
      n_steps++;
    } else if (strncmp(line, "clip ", 5) == 0) {
      double head[2] = {0, 0}, g[MAXN], want[MAXN];
      parse_values(line + 5, head, 2);
      char *bar1 = strchr(line, '|'), *bar2 = strchr(bar1 + 1, '|');
      parse_values(bar1 + 1, g, MAXN);
      parse_values(bar2 + 1, want, MAXN);
      prior_tensor *grads[3] = {vec(g, 3), NULL, vec(g + 3, 2)};
      double total = -1;
      CHECK_OK(prior_clip_grad_norm(3, grads, head[0], &total));
      CHECK_MSG(fabs(total - head[1]) < 1e-12, "clip total %.17g vs torch %.17g", total, head[1]);
      const double *a = prior_tensor_data(grads[0]), *b = prior_tensor_data(grads[2]);
      for (int i = 0; i < 5; i++) {
        double got = i < 3 ? a[i] : b[i - 3];
        CHECK_MSG(fabs(got - want[i]) <= 1e-12, "clip max_norm %g [%d]: %.17g vs %.17g", head[0], i, got, want[i]);
      }
      prior_free_all(2, grads[0], grads[2]);
    }
  }
  prior_free_all(4, p, buf, m, v);
  fclose(f);
  CHECK(n_cases == 5);
  CHECK(n_steps == 20);
}

/* The first Adam step moves every element by lr * g / (|g| + eps): the bias corrections cancel. */
static void test_adam_first_step_f32(void) {
  float pv[3] = {1, -2, 0.5f}, gv[3] = {0.3f, -4, 1e-3f};
  int64_t shape[1] = {3};
  prior_tensor *p = prior_tensor_from_data(pv, 1, shape, PRIOR_F32, prior_cpu());
  prior_tensor *g = prior_tensor_from_data(gv, 1, shape, PRIOR_F32, prior_cpu());
  prior_tensor *m = prior_tensor_zeros(1, shape, PRIOR_F32, prior_cpu());
  prior_tensor *v = prior_tensor_zeros(1, shape, PRIOR_F32, prior_cpu());
  CHECK_OK(prior_adam_step(p, g, m, v, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0));
  const float *d = prior_tensor_data(p);
  for (int i = 0; i < 3; i++) {
    double want = pv[i] - 0.1 * gv[i] / (fabs(gv[i]) + 1e-8);
    CHECK_MSG(fabs(d[i] - want) < 1e-6, "[%d] %g vs %g", i, d[i], want);
  }
  prior_free_all(4, p, g, m, v);
}

/* A tensor large enough to be split over threads, with a length that leaves a partial cache line at the end:
 * every element gets exactly one update per step (a skipped or repeated element would be off by a whole
 * update, about 1e-3 here), against the same rule evaluated in double. Adam and AdamW, three steps. */
static void test_adam_large_f32(void) {
  enum { N = 1000003 };
  int64_t shape[1] = {N};
  prior_tensor *t[4];
  for (int i = 0; i < 4; i++) t[i] = prior_tensor_zeros(1, shape, PRIOR_F32, prior_cpu());
  float *p = prior_tensor_data(t[0]), *g = prior_tensor_data(t[1]), *m = prior_tensor_data(t[2]),
        *v = prior_tensor_data(t[3]);
  double *rp = malloc(N * sizeof *rp), *rm = calloc(N, sizeof *rm), *rv = calloc(N, sizeof *rv);
  uint32_t s = 12345;
  for (int64_t i = 0; i < N; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((s >> 8) * (1.0 / 16777216.0) - 0.5);
    rp[i] = p[i];
  }
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  for (int decoupled = 0; decoupled < 2; decoupled++)
    for (int step = 1; step <= 3; step++) {
      for (int64_t i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        g[i] = (float)(((s >> 8) * (1.0 / 16777216.0) - 0.5) * 0.1);
      }
      CHECK_OK(prior_adam_step(t[0], t[1], t[2], t[3], step, lr, b1, b2, eps, wd, decoupled));
      double bc1 = 1 - pow(b1, step), bc2 = sqrt(1 - pow(b2, step));
      int bad = 0;
      for (int64_t i = 0; i < N; i++) {
        double gi = g[i];
        if (decoupled) rp[i] *= 1 - lr * wd;
        else gi += wd * rp[i];
        rm[i] = b1 * rm[i] + (1 - b1) * gi;
        rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
        rp[i] -= lr / bc1 * rm[i] / (sqrt(rv[i]) / bc2 + eps);
        if (fabs(p[i] - rp[i]) > 1e-5 && bad++ < 3)
          CHECK_MSG(0, "decoupled %d step %d [%lld]: %.9g vs %.9g", decoupled, step, (long long)i, p[i], rp[i]);
        rp[i] = p[i], rm[i] = m[i], rv[i] = v[i]; /* follow our values: each step is checked on its own */
      }
      CHECK_MSG(bad == 0, "decoupled %d step %d: %d elements off", decoupled, step, bad);
    }
  free(rp), free(rm), free(rv);
  prior_free_all(4, t[0], t[1], t[2], t[3]);
}

static void test_errors(void) {
  int64_t s3[1] = {3}, s4[1] = {4}, s22[2] = {2, 2};
  prior_tensor *p = prior_tensor_zeros(1, s3, PRIOR_F32, prior_cpu());
  prior_tensor *g4 = prior_tensor_zeros(1, s4, PRIOR_F32, prior_cpu());
  prior_tensor *g64 = prior_tensor_zeros(1, s3, PRIOR_F64, prior_cpu());
  prior_tensor *gi = prior_tensor_zeros(1, s3, PRIOR_I64, prior_cpu());
  prior_tensor *sq = prior_tensor_zeros(2, s22, PRIOR_F32, prior_cpu());
  prior_tensor *tr = prior_transpose(sq, 0, 1);
  prior_tensor *tr_grad = prior_tensor_zeros(2, s22, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_sgd_step(p, g4, NULL, 1, 0.1, 0, 0, 0, 0), PRIOR_ERR_SHAPE, "grad has shape [4]");
  CHECK_ERR(prior_sgd_step(p, g64, NULL, 1, 0.1, 0, 0, 0, 0), PRIOR_ERR_DTYPE, "grad has dtype f64");
  CHECK_ERR(prior_sgd_step(gi, gi, NULL, 1, 0.1, 0, 0, 0, 0), PRIOR_ERR_DTYPE, "param has dtype i64");
  CHECK_ERR(prior_sgd_step(p, p, NULL, 1, 0.1, 0.9, 0, 0, 0), PRIOR_ERR_ARGUMENT, "momentum_buf is NULL");
  CHECK_ERR(prior_sgd_step(p, p, NULL, 1, 0.1, 0, 0, 0, 1), PRIOR_ERR_ARGUMENT, "nesterov");
  CHECK_ERR(prior_sgd_step(tr, tr_grad, NULL, 1, 0.1, 0, 0, 0, 0), PRIOR_ERR_ARGUMENT, "contiguous");
  CHECK_ERR(prior_adam_step(p, p, p, p, 0, 0.1, 0.9, 0.999, 1e-8, 0, 0), PRIOR_ERR_ARGUMENT, "step counts from 1");
  CHECK_ERR(prior_adam_step(p, p, p, p, 1, 0.1, 1.0, 0.999, 1e-8, 0, 0), PRIOR_ERR_ARGUMENT, "betas");
  CHECK_ERR(prior_adam_step(p, p, NULL, p, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0), PRIOR_ERR_ARGUMENT, "exp_avg is NULL");
  prior_tensor *gs[1] = {p};
  CHECK_ERR(prior_clip_grad_norm(1, gs, -1, NULL), PRIOR_ERR_ARGUMENT, "max_norm");
  double total = -1;
  CHECK_OK(prior_clip_grad_norm(0, NULL, 1.0, &total));
  CHECK(total == 0);
  prior_free_all(7, p, g4, g64, gi, sq, tr, tr_grad);
}

int main(void) {
  test_fixture();
  test_adam_first_step_f32();
  test_adam_large_f32();
  test_errors();
  return check_summary("test_optim");
}
