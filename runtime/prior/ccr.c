/* Cross-modality conditional reconstruction: image decoder, prototype decoder, Hungarian reordering. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "prior/hungarian.h"
#include "prior/prior.h"
#include "prior/prior_ccr.h"

prior_status prior_ccr_image_decoder_init(prior_ccr_image_decoder *dec, prior_params *p, const char *prefix, int64_t d,
                                          double channel_dropout, int conv_bias) {
  if (d < 16 || d % 16)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "ccr image decoder: width %lld must be a multiple of 16", (long long)d);
  dec->channel_dropout = channel_dropout;
  char name[128];
  int64_t in = 2 * d;
  for (int b = 0; b < 5; b++) {
    int64_t out = d >> b;
    for (int c = 0; c < 2; c++) {
      snprintf(name, sizeof name, "%sblocks.%d.conv%d.", prefix, b, c + 1);
      PRIOR_TRY(prior_conv2d_layer_init(&dec->conv[b][c], p, name, c ? out : in, out, 3, 1, 1, conv_bias ? 1 : 0,
                                               PRIOR_INIT_TORCH_DEFAULT));
      snprintf(name, sizeof name, "%sblocks.%d.bn%d.", prefix, b, c + 1);
      PRIOR_TRY(prior_batch_norm_layer_init(&dec->bn[b][c], p, name, out));
    }
    in = out;
  }
  snprintf(name, sizeof name, "%shead.", prefix);
  return prior_conv2d_layer_init(&dec->head, p, name, in, 1, 3, 1, 1, 1, PRIOR_INIT_TORCH_DEFAULT);
}

/* [B, h*w, D] tokens -> [B, D, h, w] map */
static prior_tensor *tokens_to_map(prior_tensor *tokens, int64_t h, int64_t w) {
  prior_tensor *t = prior_transpose(tokens, 1, 2); /* [B, D, hw] */
  prior_tensor *m = t ? prior_reshape(t, 4, (int64_t[]){tokens->shape[0], tokens->shape[2], h, w}) : NULL;
  prior_tensor_free(t);
  return m;
}

prior_tensor *prior_ccr_image_decode(prior_ccr_image_decoder *dec, prior_tensor *tokens, prior_tensor *text_context,
                                     int64_t h, int64_t w, int training, prior_tensor *channel_mask) {
  if (prior_check_ndim("ccr_image_decode", "tokens", tokens, 3) || prior_check_ndim("ccr_image_decode", "text_context", text_context, 3))
    return NULL;
  if (tokens->shape[1] != h * w || !prior_tensor_same_shape(tokens, text_context)) {
    char a[64], b[64];
    prior_error_set(PRIOR_ERR_SHAPE, "ccr_image_decode: tokens %s and context %s must both be [B, %lld, D]",
                    prior_tensor_shape_str(tokens, a, sizeof a), prior_tensor_shape_str(text_context, b, sizeof b),
                    (long long)(h * w));
    return NULL;
  }
  prior_tensor *image_map = tokens_to_map(tokens, h, w);
  prior_tensor *masked = NULL;
  if (image_map && channel_mask) {
    prior_tensor *m4 = prior_reshape(channel_mask, 4, (int64_t[]){tokens->shape[0], tokens->shape[2], 1, 1});
    masked = m4 ? prior_mul(image_map, m4) : NULL;
    prior_tensor_free(m4);
  } else if (image_map) {
    masked = prior_dropout2d(image_map, dec->channel_dropout, training);
  }
  prior_tensor *ctx_map = tokens_to_map(text_context, h, w);
  prior_tensor *parts[2] = {masked, ctx_map};
  prior_tensor *x = (masked && ctx_map) ? prior_cat(2, parts, 1) : NULL;
  prior_free_all(3, image_map, masked, ctx_map);
  for (int b = 0; b < 5 && x; b++) {
    for (int c = 0; c < 2 && x; c++) {
      /* each block doubles the map, then convolves: one op for the first conv (prior_upsample2x_conv2d) */
      const prior_conv2d_layer *l = &dec->conv[b][c];
      prior_tensor *conv = c ? prior_conv2d_layer_forward(l, x) : prior_upsample2x_conv2d(x, l->weight, l->bias, l->padding);
      prior_tensor_free(x);
      x = conv ? prior_batch_norm_layer_forward_relu(&dec->bn[b][c], conv, training) : NULL;
      prior_tensor_free(conv);
    }
  }
  prior_tensor *out = x ? prior_conv2d_layer_forward(&dec->head, x) : NULL;
  prior_tensor_free(x);
  return out;
}

prior_status prior_ccr_text_decoder_init(prior_ccr_text_decoder *dec, prior_params *p, const char *prefix,
                                         const prior_bert_config *layers_config, int64_t num_queries, int causal,
                                         int embeddings) {
  if (num_queries <= 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "ccr text decoder: %lld queries", (long long)num_queries);
  if (embeddings && num_queries > layers_config->max_positions)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "ccr text decoder: %lld queries exceed max_positions %lld",
                           (long long)num_queries, (long long)layers_config->max_positions);
  prior_bert_config c = *layers_config;
  c.with_embeddings = embeddings ? 1 : 0;
  c.add_pooler = 0;
  c.cross_attention = 1;
  dec->decoder = prior_bert_new(&c);
  if (!dec->decoder) return prior_error_code();
  dec->num_queries = num_queries;
  dec->causal = causal;
  dec->embeddings = embeddings ? 1 : 0;
  char name[128];
  snprintf(name, sizeof name, "%sdecoder.", prefix);
  PRIOR_TRY(prior_params_extend(p, name, prior_bert_params(dec->decoder)));
  prior_tensor *q = prior_tensor_randn(2, (int64_t[]){num_queries, c.hidden}, PRIOR_F32, prior_cpu());
  if (!q) return prior_error_code();
  prior_status s = prior_params_add(p, prefix, "queries", q, 0);
  dec->queries = q;
  prior_tensor_free(q);
  return s;
}

void prior_ccr_text_decoder_free(prior_ccr_text_decoder *dec) {
  if (dec) prior_bert_free(dec->decoder);
}

prior_tensor *prior_ccr_text_decode(prior_ccr_text_decoder *dec, prior_tensor *image_tokens, int training) {
  if (prior_check_ndim("ccr_text_decode", "image_tokens", image_tokens, 3) != PRIOR_OK) return NULL;
  int64_t b = image_tokens->shape[0];
  prior_tensor *q = prior_unsqueeze(dec->queries, 0);
  prior_tensor *qb = q ? prior_expand(q, 3, (int64_t[]){b, dec->num_queries, dec->queries->shape[1]}) : NULL;
  /* the reference feeds the queries to a BertModel as inputs_embeds: positions, token type 0 and LayerNorm first */
  prior_tensor *h = (qb && dec->embeddings) ? prior_bert_embed_inputs(dec->decoder, qb, training)
                                            : (qb ? prior_tensor_retain(qb) : NULL);
  prior_tensor *out = h ? prior_bert_layers(dec->decoder, h, NULL, dec->causal, image_tokens, NULL, training) : NULL;
  prior_free_all(3, q, qb, h);
  return out;
}

prior_tensor *prior_hungarian_reorder(prior_tensor *pred, prior_tensor *target) {
  if (prior_check_ndim("hungarian_reorder", "pred", pred, 3) || !prior_tensor_same_shape(pred, target)) {
    if (prior_error_code() == PRIOR_OK) prior_error_set(PRIOR_ERR_SHAPE, "hungarian_reorder: pred and target shapes differ");
    return NULL;
  }
  int64_t b = pred->shape[0], q = pred->shape[1], d = pred->shape[2];
  double *p = malloc((size_t)(b * q * d) * sizeof *p), *t = malloc((size_t)(b * q * d) * sizeof *t);
  double *cost = malloc((size_t)(q * q) * sizeof *cost);
  int64_t *assign = malloc((size_t)q * sizeof *assign);
  prior_tensor *index = prior_tensor_empty(3, (int64_t[]){b, q, d}, PRIOR_I64, pred->device);
  prior_status s = (p && t && cost && assign && index) ? PRIOR_OK : prior_error_set(PRIOR_ERR_MEMORY, "hungarian_reorder: out of memory");
  if (s == PRIOR_OK) s = prior_tensor_to_f64_array(pred, p);
  if (s == PRIOR_OK) s = prior_tensor_to_f64_array(target, t);
  int64_t *idx = s == PRIOR_OK ? prior_tensor_data(index) : NULL;
  for (int64_t s_i = 0; s == PRIOR_OK && s_i < b; s_i++) {
    /* cost[j][i]: L1 distance from target row j to prediction i; the assignment gives each target a prediction */
    for (int64_t j = 0; j < q; j++)
      for (int64_t i = 0; i < q; i++) {
        double acc = 0;
        const double *tj = t + (s_i * q + j) * d, *pi = p + (s_i * q + i) * d;
        for (int64_t k = 0; k < d; k++) acc += fabs(tj[k] - pi[k]);
        cost[j * q + i] = acc;
      }
    s = prior_hungarian(cost, q, q, assign, NULL);
    for (int64_t j = 0; s == PRIOR_OK && j < q; j++)
      for (int64_t k = 0; k < d; k++) idx[(s_i * q + j) * d + k] = assign[j];
  }
  prior_tensor *out = s == PRIOR_OK ? prior_gather(pred, 1, index) : NULL;
  free(p), free(t), free(cost), free(assign);
  prior_tensor_free(index);
  return out;
}

prior_tensor *prior_pad_rows(prior_tensor *x, int64_t q) {
  if (prior_check_tensor("pad_rows", "x", x) != PRIOR_OK) return NULL;
  if (x->ndim < 2) {
    prior_error_set(PRIOR_ERR_SHAPE, "pad_rows: needs [B, M, ...]");
    return NULL;
  }
  int64_t m = x->shape[1];
  if (m >= q) return prior_narrow(x, 1, 0, q);
  /* F.pad order: last dim first; rows are dim 1 */
  int64_t pads[PRIOR_MAX_DIMS * 2] = {0};
  int n_pads = 2 * (x->ndim - 1);
  pads[n_pads - 1] = q - m;
  return prior_pad(x, n_pads, pads, 0.0);
}
