/* Attention building blocks: CLIP-style attention pooling and BERT's multi-head attention. */
#ifndef PRIOR_NN_ATTENTION_H
#define PRIOR_NN_ATTENTION_H

#include "prior/nn_layers.h"

/* CLIP's AttentionPool2d generalised to a set of tokens: prepend the (masked) mean of the tokens, add a learned
 * positional embedding when the pool has one, attend from the mean token to all of them with separate q/k/v
 * projections (q scaled by 1/sqrt(head_dim) after its bias), project with c_proj, and return the mean token's
 * output. Names: positional_embedding, q_proj, k_proj, v_proj, c_proj. */
typedef struct prior_attention_pool {
  prior_linear_layer q_proj, k_proj, v_proj, c_proj;
  prior_tensor *positional_embedding; /* [n_tokens + 1, embed_dim], or NULL */
  int64_t embed_dim, num_heads, output_dim, n_tokens;
} prior_attention_pool;

/* n_tokens > 0 gives a positional embedding for exactly that many tokens (49 for a 7x7 map); 0 gives none
 * (the sentence pool, where reports have any number of sentences). */
prior_status prior_attention_pool_init(prior_attention_pool *pool, prior_params *p, const char *prefix,
                                       int64_t embed_dim, int64_t num_heads, int64_t output_dim, int64_t n_tokens);
/* tokens [N, L, C]; mask [N, L] (f32 or bool: nonzero = real token) or NULL. Returns [N, output_dim]; when
 * weights is not NULL it receives the attention of the mean token, [N, heads, L + 1]. */
prior_tensor *prior_attention_pool_forward(const prior_attention_pool *pool, prior_tensor *tokens, prior_tensor *mask,
                                           prior_tensor **weights);
/* A feature map [N, C, H, W] as H*W tokens (index h*W + w). */
prior_tensor *prior_attention_pool_map(const prior_attention_pool *pool, prior_tensor *map);

/* BERT self- or cross-attention with its output block: names query/key/value (prefix "self."), and
 * output.dense / output.LayerNorm. */
typedef struct prior_bert_attention {
  prior_linear_layer query, key, value, out_dense;
  prior_layer_norm_layer out_norm;
  int64_t hidden, heads;
  double dropout;
} prior_bert_attention;

prior_status prior_bert_attention_init(prior_bert_attention *a, prior_params *p, const char *prefix, int64_t hidden,
                                       int64_t heads, double dropout, double ln_eps, double init_std);
/* hidden [N, Lq, H]; context [N, Lk, H] (NULL: self-attention over hidden); additive_mask broadcastable to
 * [N, heads, Lq, Lk] or NULL. Returns LayerNorm(hidden + dense(attention)). */
prior_tensor *prior_bert_attention_forward(const prior_bert_attention *a, prior_tensor *hidden, prior_tensor *context,
                                           prior_tensor *additive_mask, int training);

/* The additive mask BERT uses: (1 - mask) * -10000 as [N, 1, 1, L] from a [N, L] 0/1 mask (any dtype), with
 * optional causal masking ([N, 1, L, L]). */
prior_tensor *prior_bert_additive_mask(prior_tensor *mask, int causal, prior_dtype dtype);

#endif
