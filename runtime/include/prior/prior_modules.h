/* The PRIOR modules (MODEL.md): sentence gathering, the sentence-wise prototype memory bank (SPB), the local
 * alignment module (LAM), and the alignment losses. Everything is batched over reports and over sentences with
 * masks: a batch of reports has M = the largest sentence count, and a [B, M] mask marks real sentences. */
#ifndef PRIOR_PRIOR_MODULES_H
#define PRIOR_PRIOR_MODULES_H

#include "prior/nn_layers.h"

/* ---- sentence gathering ------------------------------------------------------------------------------------ */
typedef enum prior_sentence_pool {
  PRIOR_SENTENCE_AVG = 0,
  PRIOR_SENTENCE_MAX = 1,
  PRIOR_SENTENCE_MIN = 2,
  PRIOR_SENTENCE_ATTENTION = 3 /* learned weights: prior_sentence_gather_attention */
} prior_sentence_pool;

/* hidden [B, L, D]; sentence_index [B, L] (i64/i32: 1-based sentence number, <= 0 for [CLS], [SEP], padding).
 * Returns [B, M, D] sentence vectors (zeros for absent sentences); mask_out (may be NULL) gets [B, M] f32.
 * pool is avg, max or min; the attention pool has parameters and its own function below. */
prior_tensor *prior_sentence_gather(prior_tensor *hidden, prior_tensor *sentence_index, int64_t max_sentences,
                                    prior_sentence_pool pool, prior_tensor **mask_out);

/* The 'attention' pool of the reference: for the N token vectors x of one sentence, q = query(x), k = key(x)
 * (Linear D -> D/8 with bias), weights a = softmax over the N tokens of q_i . sum_j k_j (the row sums of q k^T),
 * sentence vector a^T x. */
typedef struct prior_sentence_attention {
  /* registered as "<prefix>query.weight", ... (nn.Linear's default init); the reference's checkpoints call them
   * "item_gather.attention_pool.query.weight", ... */
  prior_linear_layer query, key;
  int64_t d;
} prior_sentence_attention;

prior_status prior_sentence_attention_init(prior_sentence_attention *a, prior_params *p, const char *prefix, int64_t d);
/* As prior_sentence_gather, with the attention pool, batched over reports and sentences. weights_out (may be NULL)
 * gets the token weights [B, M, L] (each real sentence's row sums to 1 over its tokens; other entries 0). */
prior_tensor *prior_sentence_gather_attention(const prior_sentence_attention *a, prior_tensor *hidden,
                                              prior_tensor *sentence_index, int64_t max_sentences,
                                              prior_tensor **mask_out, prior_tensor **weights_out);
/* The number of sentences of the longest report: max of sentence_index (at least 1). */
int64_t prior_sentence_count(const prior_tensor *sentence_index);

/* ---- SPB --------------------------------------------------------------------------------------------------- */
typedef struct prior_spb {
  prior_tensor *prototypes; /* [K, D], registered as "<prefix>prototypes" */
  int64_t k, d;
} prior_spb;

/* Seed's initialisation: standard Gaussian rows, each L1-normalised (l1_normalize = 0: plain N(0,1), the reference). */
prior_status prior_spb_init(prior_spb *spb, prior_params *p, const char *prefix, int64_t k, int64_t d, int l1_normalize);
/* z [..., D] -> z' = y E with y = softmax((z E^T + g) / tau) (soft Gumbel-softmax over the K prototypes).
 * gumbel: noise of shape [..., K], or NULL to draw it from the global RNG (no noise when tau_noise == 0 is wanted:
 * pass a zero tensor). soft_out and index_out (may be NULL) receive y and argmax y (i64 [...]). */
prior_tensor *prior_spb_query(const prior_spb *spb, prior_tensor *z, double tau, prior_tensor *gumbel,
                              prior_tensor **soft_out, prior_tensor **index_out);

typedef enum prior_tau_schedule { PRIOR_TAU_FIXED = 0, PRIOR_TAU_LINEAR = 1, PRIOR_TAU_EXP = 2 } prior_tau_schedule;
/* Temperature at progress t in [0, 1] of the decay window. */
double prior_spb_temperature(prior_tau_schedule schedule, double tau_start, double tau_end, double t);

/* ---- LAM --------------------------------------------------------------------------------------------------- */
typedef enum prior_lam_activation { PRIOR_LAM_SIGMOID = 0, PRIOR_LAM_SOFTMAX = 1 } prior_lam_activation;

typedef struct prior_lam {
  prior_linear_layer t2i_query, t2i_key, t2i_value; /* sentences attend to image tokens */
  prior_linear_layer i2t_query, i2t_key, i2t_value; /* image tokens attend to sentences */
  int64_t d;
  prior_lam_activation activation;
} prior_lam;

prior_status prior_lam_init(prior_lam *lam, prior_params *p, const char *prefix, int64_t d, prior_lam_activation activation);
/* image [B, N, D] tokens, sents [B, M, D] with sent_mask [B, M]. Outputs (each may be NULL):
 *   image_context  C1 [B, M, D]: for each sentence, A1 V(image), A1 = act(Q(T) K(I)^T / sqrt(D)) [B, M, N]
 *   text_context   C2 [B, N, D]: for each patch,    A2 V(sents), A2 = act(Q(I) K(T)^T / sqrt(D)) [B, N, M]
 *   t2i_weights A1, i2t_weights A2. Padded sentences never contribute to C2 (their weights are 0). */
prior_status prior_lam_forward(const prior_lam *lam, prior_tensor *image, prior_tensor *sents, prior_tensor *sent_mask,
                               prior_tensor **image_context, prior_tensor **text_context, prior_tensor **t2i_weights,
                               prior_tensor **i2t_weights);

/* ---- losses ------------------------------------------------------------------------------------------------ */
/* Symmetric InfoNCE between rows of a [B, D] and b [B, D] (L2-normalised here): logits = exp(logit_scale) a b^T,
 * labels arange(B), mean of the two cross-entropies. logit_scale is a 0-dim or [1] tensor. With several processes
 * (prior/dist.h) the negatives are the whole global batch's: a against every rank's b and b against every rank's a
 * (all-gathered, with a backward), labels rank * B + arange(B). */
prior_tensor *prior_infonce(prior_tensor *a, prior_tensor *b, prior_tensor *logit_scale);
/* Within each report: logits = exp(scale) * norm(c)[m] . norm(t)[m'] over real sentences m, m' (mask [B, M]);
 * mean over real rows of both cross-entropies, averaged over reports that have a sentence. */
prior_tensor *prior_local_text_infonce(prior_tensor *c, prior_tensor *t, prior_tensor *mask, prior_tensor *logit_scale);
/* SimSiam: -1/2 [mean cos(p_a, sg(b)) + mean cos(p_b, sg(a))] over all rows of [.., D]. */
prior_tensor *prior_simsiam_loss(prior_tensor *p_a, prior_tensor *b, prior_tensor *p_b, prior_tensor *a);
/* mean |a - b| over the entries where mask [..] (broadcast over the last dim) is 1; mask may be NULL. */
prior_tensor *prior_masked_l1(prior_tensor *a, prior_tensor *b, prior_tensor *mask);

#endif
