/* PCA initialisation for t-SNE and the private random stream.
 *
 * The leading principal components come from randomised subspace iteration (Halko, Martinsson & Tropp
 * 2011): a few power iterations on a block of k + 8 random vectors, then Rayleigh-Ritz on the small
 * projected problem. It never forms the d x d covariance, so it is cheap for wide inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/tsne_internal.h"

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void tsne_rng_seed(tsne_rng *r, uint64_t seed) {
  r->s = seed;
  r->has_spare = 0;
  r->spare = 0.0;
}

double tsne_rng_normal(tsne_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  /* Box-Muller on two uniforms in (0, 1]. */
  double u1 = ((splitmix64(&r->s) >> 11) + 1.0) * 0x1.0p-53;
  double u2 = (splitmix64(&r->s) >> 11) * 0x1.0p-53;
  double rad = sqrt(-2.0 * log(u1)), ang = 6.283185307179586 * u2;
  r->spare = rad * sin(ang);
  r->has_spare = 1;
  return rad * cos(ang);
}

/* Orthonormalises the p columns of a [m, p] (row-major) by modified Gram-Schmidt. A column that
 * vanishes (rank-deficient input) is left as zeros. */
static void orthonormalise(double *a, int64_t m, int p) {
  for (int c = 0; c < p; c++) {
    for (int b = 0; b < c; b++) {
      double dot = 0.0;
      for (int64_t i = 0; i < m; i++) dot += a[i * p + b] * a[i * p + c];
      for (int64_t i = 0; i < m; i++) a[i * p + c] -= dot * a[i * p + b];
    }
    double norm = 0.0;
    for (int64_t i = 0; i < m; i++) norm += a[i * p + c] * a[i * p + c];
    norm = sqrt(norm);
    double inv = norm > 1e-300 ? 1.0 / norm : 0.0;
    for (int64_t i = 0; i < m; i++) a[i * p + c] *= inv;
  }
}

/* out [n, p] = xc [n, d] @ v [d, p] */
static void mul_xv(const double *xc, int64_t n, int64_t d, const double *v, int p, double *out, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    double acc[64] = {0};
    for (int64_t k = 0; k < d; k++) {
      double xv = xc[i * d + k];
      for (int c = 0; c < p; c++) acc[c] += xv * v[k * p + c];
    }
    memcpy(out + i * p, acc, sizeof(double) * (size_t)p);
  }
}

/* out [d, p] = xc^T [d, n] @ q [n, p] */
static void mul_xtq(const double *xc, int64_t n, int64_t d, const double *q, int p, double *out, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t k = 0; k < d; k++) {
    double acc[64] = {0};
    for (int64_t i = 0; i < n; i++) {
      double xv = xc[i * d + k];
      for (int c = 0; c < p; c++) acc[c] += xv * q[i * p + c];
    }
    memcpy(out + k * p, acc, sizeof(double) * (size_t)p);
  }
}

/* Cyclic Jacobi on a symmetric [p, p] matrix: eigenvalues on a's diagonal, eigenvectors in v's columns. */
static void jacobi_eigen(double *a, double *v, int p) {
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) v[i * p + j] = i == j;
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0.0;
    for (int i = 0; i < p; i++)
      for (int j = i + 1; j < p; j++) off += a[i * p + j] * a[i * p + j];
    if (off < 1e-30) break;
    for (int r = 0; r < p; r++)
      for (int s = r + 1; s < p; s++) {
        double ars = a[r * p + s];
        if (fabs(ars) < 1e-300) continue;
        double tau = (a[s * p + s] - a[r * p + r]) / (2.0 * ars);
        double tn = (tau >= 0 ? 1.0 : -1.0) / (fabs(tau) + sqrt(1.0 + tau * tau));
        double c = 1.0 / sqrt(1.0 + tn * tn), sn = tn * c;
        for (int k = 0; k < p; k++) { /* columns r, s */
          double akr = a[k * p + r], aks = a[k * p + s];
          a[k * p + r] = c * akr - sn * aks;
          a[k * p + s] = sn * akr + c * aks;
        }
        for (int k = 0; k < p; k++) { /* rows r, s */
          double ark = a[r * p + k], ask = a[s * p + k];
          a[r * p + k] = c * ark - sn * ask;
          a[s * p + k] = sn * ark + c * ask;
        }
        for (int k = 0; k < p; k++) {
          double vkr = v[k * p + r], vks = v[k * p + s];
          v[k * p + r] = c * vkr - sn * vks;
          v[k * p + s] = sn * vkr + c * vks;
        }
      }
  }
}

prior_status tsne_pca(const double *x, int64_t n, int64_t d, int k, uint64_t seed, int threads, double *y) {
  int p = k + 8;
  if (p > d) p = (int)d;
  if (p > n) p = (int)n;
  if (p < k) p = k; /* fewer directions than components: the extra ones come out as zero */
  double *xc = malloc(sizeof(double) * (size_t)(n * d));
  double *q = malloc(sizeof(double) * (size_t)(n * p));
  double *z = malloc(sizeof(double) * (size_t)(d * p));
  double *mean = calloc((size_t)d, sizeof(double));
  if (!xc || !q || !z || !mean) {
    free(xc), free(q), free(z), free(mean);
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for PCA of [%lld, %lld]", (long long)n,
                           (long long)d);
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (int64_t j = 0; j < d; j++) mean[j] /= (double)n;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) xc[i * d + j] = x[i * d + j] - mean[j];

  tsne_rng rng;
  tsne_rng_seed(&rng, seed ^ 0x5ca1ab1eull);
  for (int64_t t = 0; t < d * p; t++) z[t] = tsne_rng_normal(&rng);
  mul_xv(xc, n, d, z, p, q, threads);
  orthonormalise(q, n, p);
  for (int it = 0; it < 7; it++) {
    mul_xtq(xc, n, d, q, p, z, threads);
    orthonormalise(z, d, p);
    mul_xv(xc, n, d, z, p, q, threads);
    orthonormalise(q, n, p);
  }
  /* Rayleigh-Ritz: B = Q^T Xc, M = B B^T = Q^T Xc Xc^T Q; scores = Q U sqrt(lambda). */
  mul_xtq(xc, n, d, q, p, z, threads); /* z = Xc^T Q = B^T [d, p] */
  double m[64 * 64], u[64 * 64];
  for (int a = 0; a < p; a++)
    for (int b = 0; b < p; b++) {
      double s = 0.0;
      for (int64_t j = 0; j < d; j++) s += z[j * p + a] * z[j * p + b];
      m[a * p + b] = s;
    }
  jacobi_eigen(m, u, p);
  int order[64];
  for (int a = 0; a < p; a++) order[a] = a;
  for (int a = 0; a < p; a++) /* descending eigenvalues */
    for (int b = a + 1; b < p; b++)
      if (m[order[b] * p + order[b]] > m[order[a] * p + order[a]]) {
        int tmp = order[a];
        order[a] = order[b];
        order[b] = tmp;
      }
  for (int c = 0; c < k; c++) {
    int e = order[c];
    double lam = m[e * p + e] > 0 ? m[e * p + e] : 0.0, s = sqrt(lam);
    for (int64_t i = 0; i < n; i++) {
      double acc = 0.0;
      for (int a = 0; a < p; a++) acc += q[i * p + a] * u[a * p + e];
      y[i * k + c] = acc * s;
    }
  }
  free(xc), free(q), free(z), free(mean);
  return PRIOR_OK;
}
