/* BERT encoder (embeddings + post-LN layers + optional pooler) and BERT decoder layers with cross-attention,
 * with Hugging Face's parameter names (embeddings.word_embeddings.weight, encoder.layer.3.attention.self.query.weight,
 * encoder.layer.0.crossattention.output.dense.weight, pooler.dense.weight). BioClinicalBERT, MiniLM (6 x 384) and
 * tiny test sizes are configs. */
#ifndef PRIOR_NN_BERT_H
#define PRIOR_NN_BERT_H

#include "prior/nn_attention.h"

typedef struct prior_bert_config {
  int64_t vocab_size;        /* 28996 BioClinicalBERT, 30522 uncased */
  int64_t hidden;            /* 768 */
  int64_t layers;            /* 12 */
  int64_t heads;             /* 12 */
  int64_t intermediate;      /* 3072 */
  int64_t max_positions;     /* 512 */
  int64_t type_vocab_size;   /* 2 */
  int64_t pad_token_id;      /* 0 */
  double layer_norm_eps;     /* 1e-12 */
  double hidden_dropout;     /* 0.1 */
  double attention_dropout;  /* 0.1 */
  double initializer_range;  /* 0.02 */
  int32_t add_pooler;        /* pooler.dense + tanh on [CLS] */
  int32_t cross_attention;   /* decoder layers: self-attention, cross-attention to encoder states, FFN */
  int32_t with_embeddings;   /* 0 for a stack of layers fed with embeddings by the caller */
} prior_bert_config;

typedef struct prior_bert prior_bert;

prior_bert_config prior_bert_base_config(int64_t vocab_size); /* BioClinicalBERT / bert-base sizes */
prior_bert *prior_bert_new(const prior_bert_config *config);
void prior_bert_free(prior_bert *bert);
prior_params *prior_bert_params(prior_bert *bert); /* borrowed */
const prior_bert_config *prior_bert_get_config(const prior_bert *bert);

/* ids [N, L] (i64 or i32) -> LayerNorm(word + position + token type embeddings), dropout. token_types may be NULL (0). */
prior_tensor *prior_bert_embed(prior_bert *bert, prior_tensor *ids, prior_tensor *token_types, int training);
/* inputs_embeds [N, L, H] in place of word embeddings (Hugging Face's inputs_embeds). */
prior_tensor *prior_bert_embed_inputs(prior_bert *bert, prior_tensor *inputs_embeds, int training);
/* The layer stack. mask [N, L] (1 = token, 0 = padding) or NULL; causal applies a causal mask to self-attention;
 * encoder_states [N, Le, H] and encoder_mask [N, Le] (or NULL) are for decoder layers. */
prior_tensor *prior_bert_layers(prior_bert *bert, prior_tensor *hidden, prior_tensor *mask, int causal,
                                prior_tensor *encoder_states, prior_tensor *encoder_mask, int training);
/* embed + layers: last hidden state [N, L, H]. pooled (may be NULL) receives tanh(dense(h[:, 0])) when the
 * model has a pooler. */
prior_tensor *prior_bert_forward(prior_bert *bert, prior_tensor *ids, prior_tensor *mask, prior_tensor *token_types,
                                 int training, prior_tensor **pooled);
/* The last hidden state at the real tokens only (mask [N, L] nonzero), for callers that read nothing else (PRIOR's
 * sentences): the per-token layers run on the real tokens' rows, skipping the padding (a report of 100 tokens
 * padded to 256 costs 100 rows, not 256); the attention still sees every real token of its sequence. The values
 * at real tokens are prior_bert_forward's (up to summation order; with dropout, from other draws of the random
 * stream); padded positions hold zeros. Without padding, or on a device other than the CPU, it is
 * prior_bert_forward. */
prior_tensor *prior_bert_forward_tokens(prior_bert *bert, prior_tensor *ids, prior_tensor *mask,
                                        prior_tensor *token_types, int training);

#endif
