/* t-SNE driver: argument checks, initialisation, and the gradient-descent schedule.
 *
 * Gradient of KL(P || Q) for the Student-t kernel w_ij = 1 / (1 + |y_i - y_j|^2), q_ij = w_ij / Z:
 *   dC/dy_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j) = 4 (attraction_i - repulsion_i / Z),
 * attraction_i = sum_j p_ij w_ij (y_i - y_j), repulsion_i = sum_j w_ij^2 (y_i - y_j).
 * The factor 4 is kept (as scikit-learn does) so that its 'auto' learning rate means the same here. */
#include "prior/tsne.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "eval/tsne_internal.h"

/* The reference's floors inside the logarithms of the KL divergence. */
#define TSNE_EPS_EXACT 2.220446049250313e-16
#define TSNE_EPS_BH 1.1754943508222875e-38
/* Above this the exact method's n x n affinity matrix is unreasonable. */
#define TSNE_EXACT_MAX_N 20000

void prior_tsne_options_default(prior_tsne_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->no_dims = 2;
  opt->perplexity = 30.0;
  opt->early_exaggeration = 12.0;
  opt->exaggeration_iters = 250;
  opt->learning_rate = 0.0;
  opt->n_iter = 1000;
  opt->theta = 0.5;
  opt->method = PRIOR_TSNE_AUTO;
  opt->init = PRIOR_TSNE_INIT_PCA;
}

static prior_status check_args(const double *x, int64_t n, int64_t d, const prior_tsne_options *o,
                               const void *y) {
  if (!x || !y) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: input and output arrays must not be NULL");
  if (n < 2) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: needs at least 2 points, got n = %lld", (long long)n);
  if (n > INT32_MAX) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: n = %lld points is too many", (long long)n);
  if (d < 1) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: input dimension must be >= 1, got d = %lld", (long long)d);
  if (o->no_dims != 2 && o->no_dims != 3)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: no_dims must be 2 or 3, got %d", o->no_dims);
  if (!(o->perplexity > 0.0) || !isfinite(o->perplexity))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: perplexity must be a positive number, got %g", o->perplexity);
  if (o->perplexity >= (double)(n - 1))
    return prior_error_set(PRIOR_ERR_ARGUMENT,
                           "tsne: perplexity %g is too large for %lld points (it must be less than n - 1 = %lld)",
                           o->perplexity, (long long)n, (long long)(n - 1));
  if (!(o->early_exaggeration > 0.0) || !isfinite(o->early_exaggeration))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: early_exaggeration must be positive, got %g", o->early_exaggeration);
  if (o->exaggeration_iters < 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: exaggeration_iters must be >= 0, got %d", o->exaggeration_iters);
  if (o->n_iter < 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: n_iter must be >= 0, got %d", o->n_iter);
  if (!(o->theta >= 0.0) || !isfinite(o->theta))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: theta must be >= 0, got %g", o->theta);
  if (!isfinite(o->learning_rate))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: learning_rate must be finite, got %g", o->learning_rate);
  if (o->method < PRIOR_TSNE_AUTO || o->method > PRIOR_TSNE_BARNES_HUT)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: unknown method %d", (int)o->method);
  if (o->init < PRIOR_TSNE_INIT_PCA || o->init > PRIOR_TSNE_INIT_GIVEN)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: unknown init %d", (int)o->init);
  if (o->kl_every < 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: kl_every must be >= 0, got %d", o->kl_every);
  if (o->method == PRIOR_TSNE_EXACT && n > TSNE_EXACT_MAX_N)
    return prior_error_set(PRIOR_ERR_ARGUMENT,
                           "tsne: the exact method needs an n x n matrix; n = %lld is above %d, use Barnes-Hut",
                           (long long)n, TSNE_EXACT_MAX_N);
  for (int64_t t = 0; t < n * d; t++)
    if (!isfinite(x[t]))
      return prior_error_set(PRIOR_ERR_FORMAT, "tsne: input [%lld, %lld] has a non-finite value (%g) at row %lld, column %lld",
                             (long long)n, (long long)d, x[t], (long long)(t / d), (long long)(t % d));
  return PRIOR_OK;
}

/* Sums per-point partial sums in index order, so results do not depend on the thread count. */
static double sum_rows(const double *v, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += v[i];
  return s;
}

/* Exact gradient over the full P in one vectorised pass per row: attraction, repulsion and the row's
 * share of Z together (the diagonal adds w_ii = 1 to Z and nothing else, so it is taken out after).
 * soa [3 * n] doubles and att/rep [n * dims] and rowbuf [n] are scratch. Returns KL when want_kl. */
static double grad_exact(const double *p, const double *y, int64_t n, int dims, double exag, int threads,
                         double *grad, double *soa, double *att, double *rep, double *rowbuf, int want_kl) {
  double *yx = soa, *yy = soa + n, *yz = soa + 2 * n;
  for (int64_t i = 0; i < n; i++) {
    yx[i] = y[i * dims];
    yy[i] = y[i * dims + 1];
    yz[i] = dims == 3 ? y[i * dims + 2] : 0.0;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const double px = yx[i], py = yy[i], pz = yz[i];
    const double *pi = p + i * n;
    double ax = 0, ay = 0, az = 0, rx = 0, ry = 0, rz = 0, z = 0;
#pragma omp simd reduction(+ : ax, ay, az, rx, ry, rz, z)
    for (int64_t j = 0; j < n; j++) {
      double dx = px - yx[j], dy = py - yy[j], dz = pz - yz[j];
      double w = 1.0 / (1.0 + dx * dx + dy * dy + dz * dz);
      double pw = pi[j] * w, ww = w * w;
      ax += pw * dx, ay += pw * dy, az += pw * dz;
      rx += ww * dx, ry += ww * dy, rz += ww * dz;
      z += w;
    }
    double a[3] = {ax, ay, az}, r[3] = {rx, ry, rz};
    for (int k = 0; k < dims; k++) {
      att[i * dims + k] = a[k];
      rep[i * dims + k] = r[k];
    }
    rowbuf[i] = z - 1.0;
  }
  const double inv_z = 1.0 / sum_rows(rowbuf, n);
  for (int64_t t = 0; t < n * dims; t++) grad[t] = 4.0 * (exag * att[t] - rep[t] * inv_z);
  if (!want_kl) return 0.0;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    double kl = 0.0;
    for (int64_t j = 0; j < n; j++) {
      if (j == i) continue;
      double dx = yx[i] - yx[j], dy = yy[i] - yy[j], dz = yz[i] - yz[j];
      double q = inv_z / (1.0 + dx * dx + dy * dy + dz * dz), pij = exag * p[i * n + j];
      kl += pij * log((pij > TSNE_EPS_EXACT ? pij : TSNE_EPS_EXACT) / (q > TSNE_EPS_EXACT ? q : TSNE_EPS_EXACT));
    }
    rowbuf[i] = kl;
  }
  return sum_rows(rowbuf, n);
}

/* Attraction sum_j p_ij w_ij (y_i - y_j) over the sparse P for every point, in single precision (as
 * the reference implementations do) so that the row loops vectorise with gathers. soa holds the
 * coordinates as dims arrays of n floats. */
static void attraction(const tsne_sparse *p, const float *soa, int64_t n, int dims, int threads, double *att) {
  const float *yx = soa, *yy = soa + n, *yz = soa + 2 * n;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float px = yx[i], py = yy[i], pz = dims == 3 ? yz[i] : 0.0f;
    float ax = 0.0f, ay = 0.0f, az = 0.0f;
    const int64_t t0 = p->row[i], t1 = p->row[i + 1];
    const int32_t *col = p->col;
    const float *val = p->val32;
    if (dims == 2) {
#pragma omp simd reduction(+ : ax, ay)
      for (int64_t t = t0; t < t1; t++) {
        int32_t j = col[t];
        float dx = px - yx[j], dy = py - yy[j];
        float m = val[t] / (1.0f + dx * dx + dy * dy);
        ax += m * dx;
        ay += m * dy;
      }
    } else {
#pragma omp simd reduction(+ : ax, ay, az)
      for (int64_t t = t0; t < t1; t++) {
        int32_t j = col[t];
        float dx = px - yx[j], dy = py - yy[j], dz = pz - yz[j];
        float m = val[t] / (1.0f + dx * dx + dy * dy + dz * dz);
        ax += m * dx;
        ay += m * dy;
        az += m * dz;
      }
    }
    att[i * dims] = ax;
    att[i * dims + 1] = ay;
    if (dims == 3) att[i * dims + 2] = az;
  }
}

/* KL(P || Q) over the sparse P, with Z from the tree (as the reference does). */
static double kl_sparse(const tsne_sparse *p, const double *y, int64_t n, int dims, double exag, double inv_z,
                        int threads, double *rowbuf) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    double kl = 0.0;
    for (int64_t t = p->row[i]; t < p->row[i + 1]; t++) {
      const double *yi = y + i * dims, *yj = y + (int64_t)p->col[t] * dims;
      double d2 = 0.0;
      for (int k = 0; k < dims; k++) d2 += (yi[k] - yj[k]) * (yi[k] - yj[k]);
      double q = inv_z / (1.0 + d2), pij = exag * p->val[t];
      kl += pij * log((pij > TSNE_EPS_BH ? pij : TSNE_EPS_BH) / (q > TSNE_EPS_BH ? q : TSNE_EPS_BH));
    }
    rowbuf[i] = kl;
  }
  return sum_rows(rowbuf, n);
}

/* Barnes-Hut gradient: exact attraction over the sparse P, tree-approximated repulsion and Z.
 * soa [dims * n] floats and att [n * dims] are scratch. */
static prior_status grad_bh(const tsne_sparse *p, tsne_tree *tree, const double *y, int64_t n, int dims,
                            double exag, double theta, int threads, double *grad, double *neg, double *att,
                            float *soa, double *rowbuf, int want_kl, double *kl_out) {
  PRIOR_TRY(tsne_tree_build(tree, y, n));
  double z;
  PRIOR_TRY(tsne_tree_repulsion(tree, n, theta, threads, neg, rowbuf, &z));
  const double inv_z = 1.0 / z;
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < dims; k++) soa[k * n + i] = (float)y[i * dims + k];
  attraction(p, soa, n, dims, threads, att);
  for (int64_t t = 0; t < n * dims; t++) grad[t] = 4.0 * (exag * att[t] - neg[t] * inv_z);
  *kl_out = want_kl ? kl_sparse(p, y, n, dims, exag, inv_z, threads, rowbuf) : 0.0;
  return PRIOR_OK;
}

static prior_status init_embedding(const double *x, int64_t n, int64_t d, const prior_tsne_options *o, int threads,
                                   double *y) {
  const int dims = o->no_dims;
  if (o->init == PRIOR_TSNE_INIT_GIVEN) {
    for (int64_t t = 0; t < n * dims; t++)
      if (!isfinite(y[t])) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: given initial embedding has a non-finite value at row %lld", (long long)(t / dims));
    return PRIOR_OK;
  }
  if (o->init == PRIOR_TSNE_INIT_PCA) {
    PRIOR_TRY(tsne_pca(x, n, d, dims, o->seed, threads, y));
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < n; i++) mean += y[i * dims];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) var += (y[i * dims] - mean) * (y[i * dims] - mean);
    double sd = sqrt(var / (double)n);
    /* All points identical along every direction: fall back to the random start. */
    if (sd > 0.0) {
      for (int64_t t = 0; t < n * dims; t++) y[t] *= 1e-4 / sd;
      return PRIOR_OK;
    }
  }
  tsne_rng rng;
  tsne_rng_seed(&rng, o->seed);
  for (int64_t t = 0; t < n * dims; t++) y[t] = 1e-4 * tsne_rng_normal(&rng);
  return PRIOR_OK;
}

prior_status prior_tsne_f64(const double *x, int64_t n, int64_t d, const prior_tsne_options *opt, double *y,
                            prior_tsne_stats *stats) {
  prior_tsne_options defaults;
  if (!opt) {
    prior_tsne_options_default(&defaults);
    opt = &defaults;
  }
  PRIOR_TRY(check_args(x, n, d, opt, y));
  const int dims = opt->no_dims;
  const int threads = opt->n_threads > 0 ? opt->n_threads : omp_get_max_threads();
  const int exact = opt->method == PRIOR_TSNE_EXACT || (opt->method == PRIOR_TSNE_AUTO && n < 1000);
  double eta = opt->learning_rate;
  if (eta <= 0.0) {
    eta = (double)n / opt->early_exaggeration / 4.0;
    if (eta < 50.0) eta = 50.0;
  }
  if (stats) {
    stats->kl = NAN;
    stats->n_iter = 0;
    stats->method = exact ? PRIOR_TSNE_EXACT : PRIOR_TSNE_BARNES_HUT;
    stats->learning_rate = eta;
    stats->seconds_affinities = stats->seconds_optimise = 0.0;
    stats->kl_trace_len = 0;
  }

  double t0 = omp_get_wtime();
  double *pfull = NULL;
  tsne_sparse psparse = {0};
  tsne_tree *tree = NULL;
  double *grad = NULL, *upd = NULL, *gains = NULL, *neg = NULL, *att = NULL, *rowbuf = NULL;
  float *soa = NULL;
  double *soa_d = NULL;
  prior_status s = PRIOR_OK;
  if (exact) {
    pfull = malloc(sizeof(double) * (size_t)(n * n));
    if (!pfull) return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for %lld x %lld affinities", (long long)n, (long long)n);
    s = tsne_affinities_exact(x, n, d, opt->perplexity, threads, pfull);
    soa_d = malloc(sizeof(double) * (size_t)(3 * n));
  } else {
    s = tsne_affinities_sparse(x, n, d, opt->perplexity, threads, &psparse);
    tree = tsne_tree_new(dims);
    soa = malloc(sizeof(float) * (size_t)(n * dims));
  }
  neg = malloc(sizeof(double) * (size_t)(n * dims));
  att = malloc(sizeof(double) * (size_t)(n * dims));
  if (s == PRIOR_OK && (!neg || !att || (exact ? !soa_d : (!tree || !soa))))
    s = prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for the gradient of %lld points", (long long)n);
  double t1 = omp_get_wtime();
  if (stats) stats->seconds_affinities = t1 - t0;
  if (s == PRIOR_OK) s = init_embedding(x, n, d, opt, threads, y);
  grad = malloc(sizeof(double) * (size_t)(n * dims));
  upd = calloc((size_t)(n * dims), sizeof(double));
  gains = malloc(sizeof(double) * (size_t)(n * dims));
  rowbuf = malloc(sizeof(double) * (size_t)n);
  if (s == PRIOR_OK && (!grad || !upd || !gains || !rowbuf)) s = prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for the gradient");
  if (s == PRIOR_OK)
    for (int64_t t = 0; t < n * dims; t++) gains[t] = 1.0;

  double kl = NAN;
  int it = 0;
  for (; s == PRIOR_OK && it < opt->n_iter; it++) {
    s = prior_interrupt_check();
    if (s != PRIOR_OK) break;
    const int early = it < opt->exaggeration_iters;
    const double exag = early ? opt->early_exaggeration : 1.0, momentum = early ? 0.5 : 0.8;
    const int last = it == opt->n_iter - 1;
    const int want_kl = last || (opt->kl_every > 0 && (it + 1) % opt->kl_every == 0);
    if (exact) kl = grad_exact(pfull, y, n, dims, exag, threads, grad, soa_d, att, neg, rowbuf, want_kl);
    else s = grad_bh(&psparse, tree, y, n, dims, exag, opt->theta, threads, grad, neg, att, soa, rowbuf, want_kl, &kl);
    if (s != PRIOR_OK) break;
    /* Gains grow where the gradient keeps its direction against the last step, shrink otherwise. */
    double mean[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++)
      for (int k = 0; k < dims; k++) {
        int64_t t = i * dims + k;
        int sg = (grad[t] > 0.0) - (grad[t] < 0.0), su = (upd[t] > 0.0) - (upd[t] < 0.0);
        gains[t] = sg != su ? gains[t] + 0.2 : gains[t] * 0.8;
        if (gains[t] < 0.01) gains[t] = 0.01;
        upd[t] = momentum * upd[t] - eta * gains[t] * grad[t];
        y[t] += upd[t];
        mean[k] += y[t];
      }
    /* Recentre: the objective does not see translations, and a centred layout keeps the tree tight. */
    for (int k = 0; k < dims; k++) mean[k] /= (double)n;
    for (int64_t i = 0; i < n; i++)
      for (int k = 0; k < dims; k++) y[i * dims + k] -= mean[k];
    if (stats && opt->kl_every > 0 && (it + 1) % opt->kl_every == 0 && stats->kl_trace &&
        stats->kl_trace_len < stats->kl_trace_cap)
      stats->kl_trace[stats->kl_trace_len++] = kl;
    if (last && early) { /* the run ended inside the exaggeration phase: report the plain KL */
      double dummy = NAN;
      if (exact) kl = grad_exact(pfull, y, n, dims, 1.0, threads, grad, soa_d, att, neg, rowbuf, 1);
      else s = grad_bh(&psparse, tree, y, n, dims, 1.0, opt->theta, threads, grad, neg, att, soa, rowbuf, 1, &dummy), kl = dummy;
    }
  }
  if (stats) {
    stats->kl = kl;
    stats->n_iter = it;
    stats->seconds_optimise = omp_get_wtime() - t1;
  }
  free(pfull);
  tsne_sparse_free(&psparse);
  tsne_tree_free(tree);
  free(grad), free(upd), free(gains), free(neg), free(att), free(soa), free(soa_d), free(rowbuf);
  return s;
}

prior_status prior_tsne_f32(const float *x, int64_t n, int64_t d, const prior_tsne_options *opt, float *y,
                            prior_tsne_stats *stats) {
  if (!x || !y) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: input and output arrays must not be NULL");
  if (n < 2) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: needs at least 2 points, got n = %lld", (long long)n);
  if (d < 1) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: input dimension must be >= 1, got d = %lld", (long long)d);
  int dims = opt ? opt->no_dims : 2;
  if (dims != 2 && dims != 3) return prior_error_set(PRIOR_ERR_ARGUMENT, "tsne: no_dims must be 2 or 3, got %d", dims);
  double *xd = malloc(sizeof(double) * (size_t)(n * d));
  double *yd = malloc(sizeof(double) * (size_t)(n * dims));
  if (!xd || !yd) {
    free(xd), free(yd);
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory converting [%lld, %lld] to double", (long long)n, (long long)d);
  }
  for (int64_t t = 0; t < n * d; t++) xd[t] = x[t];
  if (opt && opt->init == PRIOR_TSNE_INIT_GIVEN)
    for (int64_t t = 0; t < n * dims; t++) yd[t] = y[t];
  prior_status s = prior_tsne_f64(xd, n, d, opt, yd, stats);
  if (s == PRIOR_OK || s == PRIOR_ERR_INTERRUPTED)
    for (int64_t t = 0; t < n * dims; t++) y[t] = (float)yd[t];
  free(xd), free(yd);
  return s;
}
