/* BERT: embeddings, post-LN transformer layers (optionally with cross-attention), pooler. */
#include "prior/nn_bert.h"

#include "nn/token_rows.h"

#include <stdio.h>
#include <stdlib.h>

#include "prior/ops_elementwise.h"
#include "prior/ops_nn.h"
#include "prior/ops_shape.h"

typedef struct bert_layer {
  prior_bert_attention attention, crossattention;
  prior_linear_layer intermediate, output;
  prior_layer_norm_layer output_norm;
} bert_layer;

struct prior_bert {
  prior_bert_config config;
  prior_params *params;
  prior_embedding_layer word, position, token_type;
  prior_layer_norm_layer embed_norm;
  bert_layer *layers;
  prior_linear_layer pooler;
};

prior_bert_config prior_bert_base_config(int64_t vocab_size) {
  prior_bert_config c = {vocab_size, 768, 12, 12, 3072, 512, 2, 0, 1e-12, 0.1, 0.1, 0.02, 1, 0, 1};
  return c;
}

static prior_status layer_init(bert_layer *l, prior_params *p, const prior_bert_config *c, int index) {
  char prefix[96];
  double std = c->initializer_range;
  snprintf(prefix, sizeof prefix, "encoder.layer.%d.attention.", index);
  PRIOR_TRY(prior_bert_attention_init(&l->attention, p, prefix, c->hidden, c->heads, c->attention_dropout,
                                      c->layer_norm_eps, std));
  if (c->cross_attention) {
    snprintf(prefix, sizeof prefix, "encoder.layer.%d.crossattention.", index);
    PRIOR_TRY(prior_bert_attention_init(&l->crossattention, p, prefix, c->hidden, c->heads, c->attention_dropout,
                                        c->layer_norm_eps, std));
  }
  snprintf(prefix, sizeof prefix, "encoder.layer.%d.intermediate.dense.", index);
  PRIOR_TRY(prior_linear_layer_init(&l->intermediate, p, prefix, c->hidden, c->intermediate, 1, PRIOR_INIT_NORMAL, std));
  snprintf(prefix, sizeof prefix, "encoder.layer.%d.output.dense.", index);
  PRIOR_TRY(prior_linear_layer_init(&l->output, p, prefix, c->intermediate, c->hidden, 1, PRIOR_INIT_NORMAL, std));
  snprintf(prefix, sizeof prefix, "encoder.layer.%d.output.LayerNorm.", index);
  return prior_layer_norm_layer_init(&l->output_norm, p, prefix, c->hidden, c->layer_norm_eps);
}

prior_bert *prior_bert_new(const prior_bert_config *c) {
  if (!c || c->hidden <= 0 || c->layers < 0 || c->heads <= 0 || c->hidden % c->heads || c->intermediate <= 0 ||
      (c->with_embeddings && (c->vocab_size <= 0 || c->max_positions <= 0 || c->type_vocab_size <= 0))) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "bert: bad config (hidden %lld, heads %lld, layers %lld, vocab %lld)",
                    c ? (long long)c->hidden : 0LL, c ? (long long)c->heads : 0LL, c ? (long long)c->layers : 0LL,
                    c ? (long long)c->vocab_size : 0LL);
    return NULL;
  }
  prior_bert *b = calloc(1, sizeof *b);
  if (!b) {
    prior_error_set(PRIOR_ERR_MEMORY, "out of memory creating a bert");
    return NULL;
  }
  b->config = *c;
  b->params = prior_params_new();
  b->layers = calloc((size_t)(c->layers ? c->layers : 1), sizeof *b->layers);
  prior_status s = (b->params && b->layers) ? PRIOR_OK : prior_error_set(PRIOR_ERR_MEMORY, "out of memory creating a bert");
  double std = c->initializer_range;
  if (s == PRIOR_OK && c->with_embeddings) {
    s = prior_embedding_layer_init(&b->word, b->params, "embeddings.word_embeddings.", c->vocab_size, c->hidden,
                                   c->pad_token_id, std);
    if (s == PRIOR_OK)
      s = prior_embedding_layer_init(&b->position, b->params, "embeddings.position_embeddings.", c->max_positions,
                                     c->hidden, -1, std);
    if (s == PRIOR_OK)
      s = prior_embedding_layer_init(&b->token_type, b->params, "embeddings.token_type_embeddings.",
                                     c->type_vocab_size, c->hidden, -1, std);
    if (s == PRIOR_OK)
      s = prior_layer_norm_layer_init(&b->embed_norm, b->params, "embeddings.LayerNorm.", c->hidden, c->layer_norm_eps);
  }
  for (int i = 0; i < c->layers && s == PRIOR_OK; i++) s = layer_init(&b->layers[i], b->params, c, i);
  if (s == PRIOR_OK && c->add_pooler)
    s = prior_linear_layer_init(&b->pooler, b->params, "pooler.dense.", c->hidden, c->hidden, 1, PRIOR_INIT_NORMAL, std);
  if (s != PRIOR_OK) {
    prior_bert_free(b);
    return NULL;
  }
  return b;
}

void prior_bert_free(prior_bert *b) {
  if (!b) return;
  prior_params_free(b->params);
  free(b->layers);
  free(b);
}

prior_params *prior_bert_params(prior_bert *b) { return b ? b->params : NULL; }
const prior_bert_config *prior_bert_get_config(const prior_bert *b) { return b ? &b->config : NULL; }

/* word-or-given embeddings + positions 0..L-1 + token types, LayerNorm, dropout. */
static prior_tensor *embed_common(prior_bert *b, prior_tensor *words, prior_tensor *token_types, int training) {
  int64_t n = words->shape[0], l = words->shape[1];
  if (l > b->config.max_positions) {
    prior_error_set(PRIOR_ERR_SHAPE, "bert: sequence length %lld exceeds max_positions %lld", (long long)l,
                    (long long)b->config.max_positions);
    return NULL;
  }
  prior_tensor *positions = prior_tensor_arange(0, (double)l, 1, PRIOR_I64, words->device);
  prior_tensor *pos = positions ? prior_embedding_layer_forward(&b->position, positions) : NULL; /* [L, H] */
  prior_tensor *types = token_types ? prior_tensor_retain(token_types)
                                    : prior_tensor_zeros(2, (int64_t[]){n, l}, PRIOR_I64, words->device);
  prior_tensor *type_emb = (pos && types) ? prior_embedding_layer_forward(&b->token_type, types) : NULL;
  prior_tensor *s1 = type_emb ? prior_add(words, type_emb) : NULL;
  prior_tensor *s2 = s1 ? prior_add(s1, pos) : NULL;
  prior_tensor *normed = s2 ? prior_layer_norm_layer_forward(&b->embed_norm, s2) : NULL;
  prior_tensor *out = normed ? prior_dropout(normed, b->config.hidden_dropout, training) : NULL;
  prior_free_all(7, positions, pos, types, type_emb, s1, s2, normed);
  return out;
}

prior_tensor *prior_bert_embed(prior_bert *b, prior_tensor *ids, prior_tensor *token_types, int training) {
  if (!b || !b->config.with_embeddings) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "bert_embed: the model has no embeddings");
    return NULL;
  }
  if (prior_check_ndim("bert_embed", "ids", ids, 2) != PRIOR_OK) return NULL;
  prior_tensor *words = prior_embedding_layer_forward(&b->word, ids);
  prior_tensor *out = words ? embed_common(b, words, token_types, training) : NULL;
  prior_tensor_free(words);
  return out;
}

prior_tensor *prior_bert_embed_inputs(prior_bert *b, prior_tensor *inputs_embeds, int training) {
  if (!b || !b->config.with_embeddings) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "bert_embed_inputs: the model has no embeddings");
    return NULL;
  }
  if (prior_check_ndim("bert_embed_inputs", "inputs_embeds", inputs_embeds, 3) != PRIOR_OK) return NULL;
  return embed_common(b, inputs_embeds, NULL, training);
}

/* The feed-forward block on the attention's output a (consumed): LayerNorm(a + dropout(W2 gelu(W1 a))). */
static prior_tensor *feed_forward(const prior_bert *b, const bert_layer *l, prior_tensor *a, int training) {
  prior_tensor *inter = a ? prior_linear_layer_forward(&l->intermediate, a) : NULL;
  prior_tensor *act = inter ? prior_gelu_for_product(inter) : NULL; /* bf16 under autocast: only a product reads it */
  prior_tensor *o = act ? prior_linear_layer_forward(&l->output, act) : NULL;
  prior_tensor *od = o ? prior_dropout(o, b->config.hidden_dropout, training) : NULL;
  prior_tensor *res = od ? prior_add(od, a) : NULL;
  prior_tensor *out = res ? prior_layer_norm_layer_forward(&l->output_norm, res) : NULL;
  prior_free_all(6, a, inter, act, o, od, res);
  return out;
}

static prior_tensor *layer_forward(const prior_bert *b, const bert_layer *l, prior_tensor *h, prior_tensor *self_mask,
                                   prior_tensor *enc, prior_tensor *enc_mask, int training) {
  prior_tensor *a = prior_bert_attention_forward(&l->attention, h, NULL, self_mask, training);
  if (a && b->config.cross_attention && enc) {
    prior_tensor *c = prior_bert_attention_forward(&l->crossattention, a, enc, enc_mask, training);
    prior_tensor_free(a);
    a = c;
  }
  return feed_forward(b, l, a, training);
}

prior_tensor *prior_bert_layers(prior_bert *b, prior_tensor *hidden, prior_tensor *mask, int causal,
                                prior_tensor *encoder_states, prior_tensor *encoder_mask, int training) {
  if (!b) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "bert_layers: model is NULL");
    return NULL;
  }
  if (prior_check_ndim("bert_layers", "hidden", hidden, 3) != PRIOR_OK) return NULL;
  if (b->config.cross_attention && !encoder_states) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "bert_layers: decoder layers need encoder_states");
    return NULL;
  }
  int64_t n = hidden->shape[0], l = hidden->shape[1];
  prior_tensor *self_mask = NULL, *enc_mask = NULL, *ones = NULL;
  if (mask || causal) {
    ones = mask ? prior_tensor_retain(mask) : prior_tensor_ones(2, (int64_t[]){n, l}, PRIOR_F32, hidden->device);
    self_mask = ones ? prior_bert_additive_mask(ones, causal, (prior_dtype)hidden->dtype) : NULL;
    if (!self_mask) {
      prior_tensor_free(ones);
      return NULL;
    }
  }
  if (encoder_mask) {
    enc_mask = prior_bert_additive_mask(encoder_mask, 0, (prior_dtype)hidden->dtype);
    if (!enc_mask) {
      prior_free_all(2, ones, self_mask);
      return NULL;
    }
  }
  prior_tensor *h = prior_tensor_retain(hidden);
  for (int i = 0; i < b->config.layers && h; i++) {
    prior_tensor *next = layer_forward(b, &b->layers[i], h, self_mask, encoder_states, enc_mask, training);
    prior_tensor_free(h);
    h = next;
    if (h && prior_interrupt_check() != PRIOR_OK) {
      prior_tensor_free(h);
      h = NULL;
    }
  }
  prior_free_all(3, ones, self_mask, enc_mask);
  return h;
}

prior_tensor *prior_bert_forward_tokens(prior_bert *b, prior_tensor *ids, prior_tensor *mask, prior_tensor *token_types,
                                        int training) {
  /* anything else (and every bad argument, which it reports) goes through the padded forward */
  if (!b || !ids || !mask || b->config.cross_attention || ids->device.type != PRIOR_DEVICE_CPU ||
      mask->device.type != PRIOR_DEVICE_CPU || !prior_tensor_same_shape(ids, mask) || ids->ndim != 2)
    return prior_bert_forward(b, ids, mask, token_types, training, NULL);
  prior_token_rows tokens;
  if (prior_token_rows_init(&tokens, mask) != PRIOR_OK) return NULL;
  if (tokens.t == tokens.n * tokens.l || tokens.n * tokens.l == 0) { /* no padding (or no position): nothing to skip */
    prior_token_rows_free(&tokens);
    return prior_bert_forward(b, ids, mask, token_types, training, NULL);
  }
  prior_tensor *e = prior_bert_embed(b, ids, token_types, training);
  prior_tensor *rows = e ? prior_token_rows_pack(&tokens, e) : NULL;
  prior_tensor_free(e);
  for (int i = 0; i < b->config.layers && rows; i++) {
    prior_tensor *a = prior_bert_attention_forward_rows(&b->layers[i].attention, rows, &tokens, training);
    prior_tensor_free(rows);
    rows = a ? feed_forward(b, &b->layers[i], a, training) : NULL;
    if (rows && prior_interrupt_check() != PRIOR_OK) {
      prior_tensor_free(rows);
      rows = NULL;
    }
  }
  prior_tensor *out = rows ? prior_token_rows_unpack(&tokens, rows) : NULL;
  prior_tensor_free(rows);
  prior_token_rows_free(&tokens);
  return out;
}

prior_tensor *prior_bert_forward(prior_bert *b, prior_tensor *ids, prior_tensor *mask, prior_tensor *token_types,
                                 int training, prior_tensor **pooled) {
  if (pooled) *pooled = NULL;
  prior_tensor *e = prior_bert_embed(b, ids, token_types, training);
  prior_tensor *h = e ? prior_bert_layers(b, e, mask, 0, NULL, NULL, training) : NULL;
  prior_tensor_free(e);
  if (h && pooled && b->config.add_pooler) {
    prior_tensor *cls = prior_select(h, 1, 0);
    prior_tensor *d = cls ? prior_linear_layer_forward(&b->pooler, cls) : NULL;
    *pooled = d ? prior_tanh(d) : NULL;
    prior_free_all(2, cls, d);
    if (!*pooled) {
      prior_tensor_free(h);
      return NULL;
    }
  }
  return h;
}
