/* Pieces of t-SNE shared between its files: affinities, the Barnes-Hut tree, PCA initialisation. */
#ifndef PRIOR_EVAL_TSNE_INTERNAL_H
#define PRIOR_EVAL_TSNE_INTERNAL_H

#include <stdint.h>

#include "prior/error.h"

/* Symmetric sparse affinities in CSR form: row i holds columns col[row[i] .. row[i+1]). */
typedef struct tsne_sparse {
  int64_t n;
  int64_t *row; /* n + 1 offsets */
  int32_t *col;
  double *val;
  float *val32; /* val in single precision, for the vectorised attraction loop */
} tsne_sparse;

/* Conditional Gaussian affinities of one point with perplexity `perplexity` over m squared distances,
 * found by binary search on the precision; writes m probabilities summing to 1. */
void tsne_calibrate_row(const double *d2, int64_t m, double perplexity, double *p);

/* Full joint affinities P [n, n] (zero diagonal, sums to 1) for the exact method. */
prior_status tsne_affinities_exact(const double *x, int64_t n, int64_t d, double perplexity, int threads,
                                   double *p);

/* Sparse joint affinities from the k = min(n - 1, 3 * perplexity) nearest neighbours (exact kNN). */
prior_status tsne_affinities_sparse(const double *x, int64_t n, int64_t d, double perplexity, int threads,
                                    tsne_sparse *out);
void tsne_sparse_free(tsne_sparse *s);

/* Barnes-Hut space-partitioning tree over the embedding (quad-tree in 2-D, oct-tree in 3-D). */
typedef struct tsne_tree tsne_tree;
tsne_tree *tsne_tree_new(int dims);
void tsne_tree_free(tsne_tree *t);
/* Rebuilds the tree over y [n, dims]. */
prior_status tsne_tree_build(tsne_tree *t, const double *y, int64_t n);
/* Repulsive forces on the points of the last build: neg[i] = sum_j w_ij^2 (y_i - y_j) with
 * w_ij = 1 / (1 + |y_i - y_j|^2), cells far enough (width^2 < theta^2 dist^2) summarised by their centre
 * of mass. *z_out = Z = sum_{i != j} w_ij; zrow [n] receives each point's share of Z. */
prior_status tsne_tree_repulsion(tsne_tree *t, int64_t n, double theta, int threads, double *neg, double *zrow,
                                 double *z_out);

/* Scores of x [n, d] on its first k principal components, into y [n, k] (randomised subspace iteration). */
prior_status tsne_pca(const double *x, int64_t n, int64_t d, int k, uint64_t seed, int threads, double *y);

/* The private random stream: splitmix64 for seeding, Box-Muller for normals. */
typedef struct tsne_rng {
  uint64_t s;
  int has_spare;
  double spare;
} tsne_rng;
void tsne_rng_seed(tsne_rng *r, uint64_t seed);
double tsne_rng_normal(tsne_rng *r);

#endif
