/* t-SNE input affinities: Gaussian conditionals calibrated to a perplexity, then symmetrised.
 *
 * The exact method uses every pair; Barnes-Hut keeps the 3 * perplexity nearest neighbours of each
 * point (found by brute force, which is exact and, with OpenMP, fast enough for the sizes t-SNE is used
 * on; a metric tree does not prune well in the 50-1000 dimensions t-SNE inputs usually have). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/tsne_internal.h"

/* Squared distances between rows a[0..3] and b[0..3] in one pass over the d columns: 16 running sums
 * share each loaded value four times, which is what makes brute-force kNN on wide inputs fast. */
static void dist_4x4(const double *const a[4], const double *const b[4], int64_t d, double out[16]) {
  const double *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
  const double *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
  double s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
  double s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
#pragma omp simd reduction(+ : s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33)
  for (int64_t k = 0; k < d; k++) {
    double x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
    double y0 = b0[k], y1 = b1[k], y2 = b2[k], y3 = b3[k];
#define TSNE_SQ(s, u, v) s += ((u) - (v)) * ((u) - (v))
    TSNE_SQ(s00, x0, y0); TSNE_SQ(s01, x0, y1); TSNE_SQ(s02, x0, y2); TSNE_SQ(s03, x0, y3);
    TSNE_SQ(s10, x1, y0); TSNE_SQ(s11, x1, y1); TSNE_SQ(s12, x1, y2); TSNE_SQ(s13, x1, y3);
    TSNE_SQ(s20, x2, y0); TSNE_SQ(s21, x2, y1); TSNE_SQ(s22, x2, y2); TSNE_SQ(s23, x2, y3);
    TSNE_SQ(s30, x3, y0); TSNE_SQ(s31, x3, y1); TSNE_SQ(s32, x3, y2); TSNE_SQ(s33, x3, y3);
#undef TSNE_SQ
  }
  out[0] = s00, out[1] = s01, out[2] = s02, out[3] = s03, out[4] = s10, out[5] = s11, out[6] = s12, out[7] = s13;
  out[8] = s20, out[9] = s21, out[10] = s22, out[11] = s23, out[12] = s30, out[13] = s31, out[14] = s32, out[15] = s33;
}

void tsne_calibrate_row(const double *d2, int64_t m, double perplexity, double *p) {
  /* Distances are shifted by their minimum: the normalised probabilities do not change, and exp() no
   * longer underflows to zero for inputs with large distances. */
  double dmin = INFINITY;
  for (int64_t j = 0; j < m; j++) dmin = d2[j] < dmin ? d2[j] : dmin;
  const double target = log(perplexity);
  double beta = 1.0, beta_lo = -INFINITY, beta_hi = INFINITY, sum = 1.0;
  for (int step = 0; step < 200; step++) {
    sum = 0.0;
    double dsum = 0.0;
    for (int64_t j = 0; j < m; j++) {
      double dj = d2[j] - dmin;
      p[j] = exp(-dj * beta);
      sum += p[j];
      dsum += dj * p[j];
    }
    double entropy = log(sum) + beta * dsum / sum;
    double diff = entropy - target;
    if (fabs(diff) < 1e-5) break;
    if (diff > 0) { /* too flat: sharpen */
      beta_lo = beta;
      beta = isinf(beta_hi) ? beta * 2.0 : 0.5 * (beta + beta_hi);
    } else {
      beta_hi = beta;
      beta = isinf(beta_lo) ? beta * 0.5 : 0.5 * (beta + beta_lo);
    }
  }
  for (int64_t j = 0; j < m; j++) p[j] /= sum;
}

prior_status tsne_affinities_exact(const double *x, int64_t n, int64_t d, double perplexity, int threads,
                                   double *p) {
  /* Squared distances first, into p itself, four rows by four at a time. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 2)
  for (int64_t i0 = 0; i0 < n; i0 += 4) {
    const double *a[4], *b[4];
    for (int r = 0; r < 4; r++) a[r] = x + (i0 + r < n ? i0 + r : i0) * d;
    for (int64_t j0 = 0; j0 < n; j0 += 4) {
      for (int c = 0; c < 4; c++) b[c] = x + (j0 + c < n ? j0 + c : j0) * d;
      double dist[16];
      dist_4x4(a, b, d, dist);
      for (int r = 0; r < 4 && i0 + r < n; r++)
        for (int c = 0; c < 4 && j0 + c < n; c++) p[(i0 + r) * n + j0 + c] = dist[r * 4 + c];
    }
  }
  /* Then each row's conditional affinities over the other n - 1 points. */
  prior_status status = PRIOR_OK;
#pragma omp parallel num_threads(threads)
  {
    double *d2 = malloc(sizeof(double) * (size_t)n);
    double *row = malloc(sizeof(double) * (size_t)n);
    if (!d2 || !row) {
#pragma omp atomic write
      status = PRIOR_ERR_MEMORY;
    }
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < n; i++) {
      if (!d2 || !row) continue;
      int64_t m = 0;
      for (int64_t j = 0; j < n; j++)
        if (j != i) d2[m++] = p[i * n + j];
      tsne_calibrate_row(d2, m, perplexity, row);
      m = 0;
      for (int64_t j = 0; j < n; j++) p[i * n + j] = j == i ? 0.0 : row[m++];
    }
    free(d2);
    free(row);
  }
  if (status != PRIOR_OK) return prior_error_set(status, "tsne: out of memory computing affinities of %lld points", (long long)n);
  /* P = (P_cond + P_cond^T) / sum, with the same floor as the reference so that log(p) stays finite. */
  double total = 0.0;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i + 1; j < n; j++) {
      double s = p[i * n + j] + p[j * n + i];
      p[i * n + j] = p[j * n + i] = s;
      total += 2.0 * s;
    }
  const double eps = 2.220446049250313e-16;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      double v = i == j ? 0.0 : p[i * n + j] / total;
      p[i * n + j] = i == j ? 0.0 : (v > eps ? v : eps);
    }
  return PRIOR_OK;
}

/* Max-heap on distance, keeping the k smallest seen. */
static void heap_push(double *hd, int32_t *hi, int64_t *len, int64_t k, double dist, int32_t idx) {
  if (*len < k) {
    int64_t c = (*len)++;
    while (c > 0) {
      int64_t parent = (c - 1) / 2;
      if (hd[parent] >= dist) break;
      hd[c] = hd[parent];
      hi[c] = hi[parent];
      c = parent;
    }
    hd[c] = dist;
    hi[c] = idx;
    return;
  }
  if (dist >= hd[0]) return;
  int64_t c = 0;
  for (;;) {
    int64_t l = 2 * c + 1, r = l + 1, big = c;
    double bd = dist;
    if (l < k && hd[l] > bd) big = l, bd = hd[l];
    if (r < k && hd[r] > bd) big = r;
    if (big == c) break;
    hd[c] = hd[big];
    hi[c] = hi[big];
    c = big;
  }
  hd[c] = dist;
  hi[c] = idx;
}

typedef struct entry {
  int32_t col;
  double val;
} entry;

static int entry_cmp(const void *a, const void *b) {
  int32_t x = ((const entry *)a)->col, y = ((const entry *)b)->col;
  return (x > y) - (x < y);
}

void tsne_sparse_free(tsne_sparse *s) {
  if (!s) return;
  free(s->row);
  free(s->col);
  free(s->val);
  free(s->val32);
  memset(s, 0, sizeof *s);
}

prior_status tsne_affinities_sparse(const double *x, int64_t n, int64_t d, double perplexity, int threads,
                                    tsne_sparse *out) {
  memset(out, 0, sizeof *out);
  int64_t k = (int64_t)(3.0 * perplexity + 1.0);
  if (k > n - 1) k = n - 1;
  int32_t *nn = malloc(sizeof(int32_t) * (size_t)(n * k));
  double *nd = malloc(sizeof(double) * (size_t)(n * k));
  double *pc = malloc(sizeof(double) * (size_t)(n * k));
  int64_t *cnt = calloc((size_t)n + 1, sizeof(int64_t));
  entry *ent = malloc(sizeof(entry) * (size_t)(2 * n * k));
  if (!nn || !nd || !pc || !cnt || !ent) {
    free(nn), free(nd), free(pc), free(cnt), free(ent);
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for %lld x %lld neighbours", (long long)n,
                           (long long)k);
  }
  /* k nearest neighbours and their conditional affinities, four query rows at a time. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 2)
  for (int64_t i0 = 0; i0 < n; i0 += 4) {
    const int64_t rows = n - i0 < 4 ? n - i0 : 4;
    int64_t len[4] = {0, 0, 0, 0};
    const double *a[4];
    for (int r = 0; r < 4; r++) a[r] = x + (i0 + (r < rows ? r : 0)) * d;
    for (int64_t j0 = 0; j0 < n; j0 += 4) {
      const double *b[4];
      for (int c = 0; c < 4; c++) b[c] = x + (j0 + c < n ? j0 + c : j0) * d;
      double dist[16];
      dist_4x4(a, b, d, dist);
      for (int r = 0; r < rows; r++)
        for (int c = 0; c < 4 && j0 + c < n; c++) {
          int64_t i = i0 + r, j = j0 + c;
          if (j == i) continue;
          heap_push(nd + i * k, nn + i * k, &len[r], k, dist[r * 4 + c], (int32_t)j);
        }
    }
    for (int r = 0; r < rows; r++) tsne_calibrate_row(nd + (i0 + r) * k, k, perplexity, pc + (i0 + r) * k);
  }
  /* Symmetrise: row i gets its own k entries plus every (j -> i) entry; duplicates are summed. */
  for (int64_t i = 0; i < n; i++) {
    cnt[i + 1] += k;
    for (int64_t t = 0; t < k; t++) cnt[nn[i * k + t] + 1]++;
  }
  for (int64_t i = 0; i < n; i++) cnt[i + 1] += cnt[i];
  int64_t *fill = malloc(sizeof(int64_t) * (size_t)n);
  if (!fill) {
    free(nn), free(nd), free(pc), free(cnt), free(ent);
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory symmetrising affinities");
  }
  for (int64_t i = 0; i < n; i++) fill[i] = cnt[i];
  for (int64_t i = 0; i < n; i++)
    for (int64_t t = 0; t < k; t++) {
      int32_t j = nn[i * k + t];
      double v = pc[i * k + t];
      ent[fill[i]++] = (entry){j, v};
      ent[fill[j]++] = (entry){(int32_t)i, v};
    }
  free(fill);
  free(nn), free(nd), free(pc);
  /* Sort each row by column and merge duplicates in place. */
  int64_t *row = malloc(sizeof(int64_t) * (size_t)(n + 1));
  int64_t *len = malloc(sizeof(int64_t) * (size_t)n);
  if (!row || !len) {
    free(row), free(len), free(cnt), free(ent);
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory symmetrising affinities");
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
  for (int64_t i = 0; i < n; i++) {
    entry *e = ent + cnt[i];
    int64_t m = cnt[i + 1] - cnt[i], w = 0;
    qsort(e, (size_t)m, sizeof(entry), entry_cmp);
    for (int64_t t = 0; t < m; t++) {
      if (w > 0 && e[w - 1].col == e[t].col) e[w - 1].val += e[t].val;
      else e[w++] = e[t];
    }
    len[i] = w;
  }
  row[0] = 0;
  for (int64_t i = 0; i < n; i++) row[i + 1] = row[i] + len[i];
  int64_t nnz = row[n];
  out->n = n;
  out->row = row;
  out->col = malloc(sizeof(int32_t) * (size_t)nnz);
  out->val = malloc(sizeof(double) * (size_t)nnz);
  out->val32 = malloc(sizeof(float) * (size_t)nnz);
  if (!out->col || !out->val || !out->val32) {
    free(len), free(cnt), free(ent);
    tsne_sparse_free(out);
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for %lld affinities", (long long)nnz);
  }
  double total = 0.0;
  for (int64_t i = 0; i < n; i++)
    for (int64_t t = 0; t < len[i]; t++) {
      out->col[row[i] + t] = ent[cnt[i] + t].col;
      out->val[row[i] + t] = ent[cnt[i] + t].val;
      total += ent[cnt[i] + t].val;
    }
  for (int64_t t = 0; t < nnz; t++) {
    out->val[t] /= total;
    out->val32[t] = (float)out->val[t];
  }
  free(len), free(cnt), free(ent);
  return PRIOR_OK;
}
