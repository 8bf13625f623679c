/* t-SNE: clusters come out separated, KL falls, runs repeat exactly, exact and Barnes-Hut agree, bad
 * arguments are refused with a message. Sizes are small so the whole test takes about a second. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "prior/tsne.h"

/* Gaussian blobs: `k` clusters of `per` points in `d` dims, centres `sep` apart on the axes, unit noise. */
static double *blobs(int k, int per, int d, double sep, uint64_t seed, int *labels) {
  double *x = malloc(sizeof(double) * (size_t)(k * per * d));
  uint64_t s = seed * 2654435761u + 1;
  for (int c = 0; c < k; c++)
    for (int i = 0; i < per; i++) {
      int row = c * per + i;
      if (labels) labels[row] = c;
      for (int j = 0; j < d; j++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((s >> 11) + 1.0) * 0x1.0p-53;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (s >> 11) * 0x1.0p-53;
        double g = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        x[row * d + j] = g + (j == c % d ? sep : 0.0) + (j == (c + 1) % d && c >= d ? sep : 0.0);
      }
    }
  return x;
}

/* Smallest distance between cluster centroids divided by the largest RMS spread inside a cluster. */
static double separation(const double *y, const int *labels, int n, int k, int dims) {
  double cen[16][3] = {{0}}, spread[16] = {0};
  int cnt[16] = {0};
  for (int i = 0; i < n; i++) {
    cnt[labels[i]]++;
    for (int a = 0; a < dims; a++) cen[labels[i]][a] += y[i * dims + a];
  }
  for (int c = 0; c < k; c++)
    for (int a = 0; a < dims; a++) cen[c][a] /= cnt[c];
  for (int i = 0; i < n; i++)
    for (int a = 0; a < dims; a++) {
      double t = y[i * dims + a] - cen[labels[i]][a];
      spread[labels[i]] += t * t;
    }
  double max_spread = 0.0, min_dist = INFINITY;
  for (int c = 0; c < k; c++) {
    double s = sqrt(spread[c] / cnt[c]);
    max_spread = s > max_spread ? s : max_spread;
    for (int e = c + 1; e < k; e++) {
      double d2 = 0.0;
      for (int a = 0; a < dims; a++) d2 += (cen[c][a] - cen[e][a]) * (cen[c][a] - cen[e][a]);
      min_dist = sqrt(d2) < min_dist ? sqrt(d2) : min_dist;
    }
  }
  return min_dist / max_spread;
}

int main(void) {
  enum { K = 4, PER = 40, N = K * PER, D = 10 };
  int labels[N];
  double *x = blobs(K, PER, D, 8.0, 1, labels);
  double y[N * 3], y2[N * 3];

  /* Exact method, default schedule: separated clusters, KL falling after the exaggeration phase. */
  prior_tsne_options o;
  prior_tsne_options_default(&o);
  o.perplexity = 15;
  o.kl_every = 50;
  double trace[32];
  prior_tsne_stats st = {0};
  st.kl_trace = trace;
  st.kl_trace_cap = 32;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y, &st));
  CHECK(st.method == PRIOR_TSNE_EXACT);
  CHECK(st.n_iter == 1000);
  CHECK(st.kl_trace_len == 20);
  CHECK_NEAR(st.learning_rate, 50.0, 1e-12);
  double sep_exact = separation(y, labels, N, K, 2);
  CHECK_MSG(sep_exact > 4.0, "exact: centroid distance / spread = %g", sep_exact);
  CHECK_MSG(st.kl > 0.0 && st.kl < 1.5, "exact final KL %g", st.kl);
  CHECK_MSG(trace[5] > trace[19], "KL at 300 (%g) should exceed KL at 1000 (%g)", trace[5], trace[19]);
  CHECK_NEAR(trace[19], st.kl, 1e-12);
  int rising = 0;
  for (int t = 6; t < 20; t++) rising += trace[t] > trace[t - 1] + 1e-3;
  CHECK_MSG(rising == 0, "KL rose %d times after the exaggeration phase", rising);
  double kl_exact = st.kl;

  /* Determinism: same seed, same result, whatever the thread count. */
  o.init = PRIOR_TSNE_INIT_RANDOM;
  o.seed = 42;
  o.kl_every = 0;
  o.n_iter = 300;
  o.n_threads = 2;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y, NULL));
  o.n_threads = 1;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y2, NULL));
  CHECK(memcmp(y, y2, sizeof(double) * N * 2) == 0);
  o.seed = 43;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y2, NULL));
  CHECK(memcmp(y, y2, sizeof(double) * N * 2) != 0);
  o.n_threads = 0;

  /* Barnes-Hut on the same data: separated too, KL close to the exact method's. */
  prior_tsne_options_default(&o);
  o.perplexity = 15;
  o.method = PRIOR_TSNE_BARNES_HUT;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y, &st));
  CHECK(st.method == PRIOR_TSNE_BARNES_HUT);
  double sep_bh = separation(y, labels, N, K, 2);
  CHECK_MSG(sep_bh > 4.0, "BH: centroid distance / spread = %g", sep_bh);
  CHECK_MSG(fabs(st.kl - kl_exact) < 0.15 * kl_exact, "BH KL %g vs exact KL %g", st.kl, kl_exact);
  /* Barnes-Hut runs repeat exactly as well (the tree walk is parallel, the sums are ordered). */
  o.n_iter = 200;
  o.n_threads = 2;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y, NULL));
  o.n_threads = 1;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y2, NULL));
  CHECK(memcmp(y, y2, sizeof(double) * N * 2) == 0);

  /* 3-D output through the oct-tree, and through the exact method; float entry point. */
  prior_tsne_options_default(&o);
  o.perplexity = 15;
  o.no_dims = 3;
  o.method = PRIOR_TSNE_BARNES_HUT;
  o.n_iter = 500;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y, &st));
  CHECK_MSG(separation(y, labels, N, K, 3) > 4.0, "3-D BH separation %g", separation(y, labels, N, K, 3));
  o.method = PRIOR_TSNE_EXACT;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y, &st));
  CHECK_MSG(separation(y, labels, N, K, 3) > 4.0, "3-D exact separation %g", separation(y, labels, N, K, 3));
  float xf[N * D], yf[N * 2];
  for (int t = 0; t < N * D; t++) xf[t] = (float)x[t];
  prior_tsne_options_default(&o);
  o.perplexity = 15;
  o.n_iter = 500;
  CHECK_OK(prior_tsne_f32(xf, N, D, &o, yf, &st));
  for (int t = 0; t < N * 2; t++) y[t] = yf[t];
  CHECK(separation(y, labels, N, K, 2) > 4.0);

  /* Exact duplicates (a quarter of the rows repeat one point) must not break the tree. */
  for (int i = 0; i < N / 4; i++)
    for (int j = 0; j < D; j++) x[(4 * i) * D + j] = x[j];
  prior_tsne_options_default(&o);
  o.perplexity = 10;
  o.method = PRIOR_TSNE_BARNES_HUT;
  o.n_iter = 300;
  CHECK_OK(prior_tsne_f64(x, N, D, &o, y, &st));
  int finite = 1;
  for (int t = 0; t < N * 2; t++) finite &= isfinite(y[t]);
  CHECK(finite && isfinite(st.kl));

  /* Bad arguments. */
  prior_tsne_options_default(&o);
  CHECK_ERR(prior_tsne_f64(x, 1, D, &o, y, NULL), PRIOR_ERR_ARGUMENT, "at least 2 points");
  CHECK_ERR(prior_tsne_f64(x, 20, D, &o, y, NULL), PRIOR_ERR_ARGUMENT, "perplexity 30 is too large for 20 points");
  o.perplexity = -1;
  CHECK_ERR(prior_tsne_f64(x, N, D, &o, y, NULL), PRIOR_ERR_ARGUMENT, "perplexity must be a positive");
  prior_tsne_options_default(&o);
  o.no_dims = 4;
  CHECK_ERR(prior_tsne_f64(x, N, D, &o, y, NULL), PRIOR_ERR_ARGUMENT, "no_dims must be 2 or 3");
  prior_tsne_options_default(&o);
  CHECK_ERR(prior_tsne_f64(NULL, N, D, &o, y, NULL), PRIOR_ERR_ARGUMENT, "must not be NULL");
  CHECK_ERR(prior_tsne_f64(x, N, 0, &o, y, NULL), PRIOR_ERR_ARGUMENT, "dimension must be >= 1");
  x[17 * D + 3] = NAN;
  CHECK_ERR(prior_tsne_f64(x, N, D, &o, y, NULL), PRIOR_ERR_FORMAT, "non-finite value (nan) at row 17, column 3");
  xf[5] = INFINITY;
  CHECK_ERR(prior_tsne_f32(xf, N, D, &o, yf, NULL), PRIOR_ERR_FORMAT, "at row 0, column 5");
  x[17 * D + 3] = 0.0;

  /* Ctrl-C: the run stops at the next iteration with PRIOR_ERR_INTERRUPTED. */
  o.perplexity = 15;
  prior_interrupt_raise();
  CHECK_ERR(prior_tsne_f64(x, N, D, &o, y, &st), PRIOR_ERR_INTERRUPTED, "");
  CHECK(st.n_iter == 0);
  CHECK(!prior_interrupt_pending());

  free(x);
  return check_summary("test_tsne");
}
