/* t-SNE: embeds N points of dimension D into 2 or 3 dimensions (van der Maaten & Hinton 2008).
 *
 * Two gradient methods: exact (full N x N affinities, O(N^2) per iteration) and Barnes-Hut
 * (affinities on the 3*perplexity nearest neighbours, repulsion through a quad/oct-tree, O(N log N)).
 * The schedule follows the reference implementation: early exaggeration for the first iterations with
 * momentum 0.5, then momentum 0.8, per-coordinate gains (+0.2 / *0.8, floor 0.01). The learning rate
 * and the PCA initialisation follow scikit-learn, so results are comparable with its TSNE.
 * Inputs and outputs are dense row-major arrays: x is [n, d], y is [n, no_dims]. */
#ifndef PRIOR_TSNE_H
#define PRIOR_TSNE_H

#include <stdint.h>

#include "prior/error.h"

typedef enum prior_tsne_method {
  PRIOR_TSNE_AUTO = 0,       /* exact below 1000 points, Barnes-Hut from there on */
  PRIOR_TSNE_EXACT = 1,
  PRIOR_TSNE_BARNES_HUT = 2
} prior_tsne_method;

typedef enum prior_tsne_init {
  PRIOR_TSNE_INIT_PCA = 0,    /* first principal components, scaled so that the first has std 1e-4 */
  PRIOR_TSNE_INIT_RANDOM = 1, /* N(0, 1e-4^2) from the seed */
  PRIOR_TSNE_INIT_GIVEN = 2   /* start from the values already in y */
} prior_tsne_init;

typedef struct prior_tsne_options {
  int no_dims;               /* 2 or 3 */
  double perplexity;         /* effective number of neighbours; 0 < perplexity < n - 1 */
  double early_exaggeration; /* P is multiplied by this during the first exaggeration_iters */
  int exaggeration_iters;    /* also the iteration where momentum switches from 0.5 to 0.8 */
  double learning_rate;      /* <= 0 means auto: max(n / early_exaggeration / 4, 50) */
  int n_iter;                /* total gradient steps */
  double theta;              /* Barnes-Hut opening angle; 0 makes the tree exact (slow) */
  prior_tsne_method method;
  prior_tsne_init init;
  uint64_t seed;             /* random initialisation and PCA's power iterations */
  int n_threads;             /* 0: OpenMP's default */
  int kl_every;              /* record the KL divergence every kl_every iterations (0: never) */
} prior_tsne_options;

typedef struct prior_tsne_stats {
  double kl;                 /* KL(P || Q) after the last iteration (without exaggeration) */
  int n_iter;                /* iterations run */
  int method;                /* the prior_tsne_method actually used (exact or Barnes-Hut) */
  double learning_rate;      /* the learning rate actually used */
  double seconds_affinities; /* neighbours + perplexity calibration */
  double seconds_optimise;   /* gradient descent */
  /* Optional KL trace: the caller points kl_trace at kl_trace_cap doubles; entry k is the KL after
   * iteration (k + 1) * kl_every, computed with the P in use then (exaggerated in the first phase). */
  double *kl_trace;
  int kl_trace_cap;
  int kl_trace_len;
} prior_tsne_stats;

/* Fills the defaults: 2 dims, perplexity 30, exaggeration 12 for 250 iterations, auto learning rate,
 * 1000 iterations, theta 0.5, auto method, PCA init, seed 0, default threads, no KL trace. */
void prior_tsne_options_default(prior_tsne_options *opt);

/* Runs t-SNE on x [n, d] and writes y [n, opt->no_dims]. opt may be NULL (defaults); stats may be NULL.
 * Returns PRIOR_ERR_ARGUMENT for bad sizes or options, PRIOR_ERR_FORMAT for NaN/Inf input,
 * PRIOR_ERR_INTERRUPTED if Ctrl-C was pressed (y then holds the embedding so far). */
prior_status prior_tsne_f64(const double *x, int64_t n, int64_t d, const prior_tsne_options *opt,
                            double *y, prior_tsne_stats *stats);
prior_status prior_tsne_f32(const float *x, int64_t n, int64_t d, const prior_tsne_options *opt,
                            float *y, prior_tsne_stats *stats);

#endif
