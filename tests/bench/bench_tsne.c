/* t-SNE benchmark: embeds a matrix read from a file and writes the embedding, for bench_tsne_py.py to
 * compare against scikit-learn and openTSNE on the same data.
 *
 * usage: bench_tsne IN.bin OUT.bin [perplexity=30] [n_iter=1000] [init=pca|random] [method=bh|exact]
 * Both files: int64 rows, int64 cols, then rows*cols little-endian float64, row-major.
 * Threads come from OMP_NUM_THREADS. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prior/tsne.h"

static double *read_matrix(const char *path, int64_t *rows, int64_t *cols) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  double *m = NULL;
  if (fread(rows, 8, 1, f) == 1 && fread(cols, 8, 1, f) == 1 && *rows > 0 && *cols > 0 && *rows < (1 << 26) &&
      *cols < (1 << 20)) {
    m = malloc(sizeof(double) * (size_t)(*rows * *cols));
    if (m && fread(m, sizeof(double), (size_t)(*rows * *cols), f) != (size_t)(*rows * *cols)) {
      free(m);
      m = NULL;
    }
  }
  fclose(f);
  return m;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s IN.bin OUT.bin [perplexity] [n_iter] [pca|random] [bh|exact]\n", argv[0]);
    return 2;
  }
  int64_t n, d;
  double *x = read_matrix(argv[1], &n, &d);
  if (!x) {
    fprintf(stderr, "bench_tsne: cannot read %s\n", argv[1]);
    return 1;
  }
  prior_tsne_options o;
  prior_tsne_options_default(&o);
  if (argc > 3) o.perplexity = atof(argv[3]);
  if (argc > 4) o.n_iter = atoi(argv[4]);
  if (argc > 5 && strcmp(argv[5], "random") == 0) o.init = PRIOR_TSNE_INIT_RANDOM;
  o.method = argc > 6 && strcmp(argv[6], "exact") == 0 ? PRIOR_TSNE_EXACT : PRIOR_TSNE_BARNES_HUT;
  double *y = malloc(sizeof(double) * (size_t)(n * 2));
  prior_tsne_stats st = {0};
  double t0 = omp_get_wtime();
  prior_status s = prior_tsne_f64(x, n, d, &o, y, &st);
  double t = omp_get_wtime() - t0;
  if (s != PRIOR_OK) {
    fprintf(stderr, "bench_tsne: %s\n", prior_error_message());
    return 1;
  }
  printf("bench_tsne n=%lld d=%lld threads=%d method=%s time=%.3f affinities=%.3f optimise=%.3f kl=%.5f\n",
         (long long)n, (long long)d, omp_get_max_threads(), st.method == PRIOR_TSNE_EXACT ? "exact" : "bh", t,
         st.seconds_affinities, st.seconds_optimise, st.kl);
  FILE *f = fopen(argv[2], "wb");
  int64_t hdr[2] = {n, 2};
  if (!f || fwrite(hdr, 8, 2, f) != 2 || fwrite(y, sizeof(double), (size_t)(n * 2), f) != (size_t)(n * 2)) {
    fprintf(stderr, "bench_tsne: cannot write %s\n", argv[2]);
    return 1;
  }
  fclose(f);
  free(x);
  free(y);
  return 0;
}
