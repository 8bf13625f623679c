/* Cross-modality conditional reconstruction (stage 3): the image decoder that rebuilds the radiograph from
 * channel-dropped image tokens plus their text context, and the prototype decoder that predicts a report's
 * sentence prototypes from the image tokens, matched to the targets with the Hungarian method. */
#ifndef PRIOR_PRIOR_CCR_H
#define PRIOR_PRIOR_CCR_H

#include "prior/nn_bert.h"
#include "prior/prior_modules.h"

typedef struct prior_ccr_image_decoder {
  prior_conv2d_layer conv[5][2];
  prior_batch_norm_layer bn[5][2];
  prior_conv2d_layer head;
  double channel_dropout;
} prior_ccr_image_decoder;

/* in_channels = 2 * D; the five blocks have D, D/2, D/4, D/8, D/16 channels (768 ... 48 for D = 768). conv_bias 0
 * leaves the block convs without bias (the reference's conv-BN pairs; the BN shift makes a bias redundant). */
prior_status prior_ccr_image_decoder_init(prior_ccr_image_decoder *dec, prior_params *p, const char *prefix, int64_t d,
                                          double channel_dropout, int conv_bias);
/* tokens and text_context [B, h*w, D] (token index = y*w + x) -> image [B, 1, 32h, 32w]: channel dropout on the
 * tokens' map, concatenation with the context map, five (nearest x2, conv-BN-ReLU x2) blocks, a 3x3 head.
 * channel_mask [B, D] (may be NULL) replaces the random dropout by given multipliers. */
prior_tensor *prior_ccr_image_decode(prior_ccr_image_decoder *dec, prior_tensor *tokens, prior_tensor *text_context,
                                     int64_t h, int64_t w, int training, prior_tensor *channel_mask);

typedef struct prior_ccr_text_decoder {
  prior_tensor *queries; /* [Q, D] */
  prior_bert *decoder;   /* layers with cross-attention, no embeddings */
  int64_t num_queries;
  int32_t causal;
  int32_t embeddings;    /* queries pass through BERT's embeddings (positions, token type 0, LayerNorm) first */
} prior_ccr_text_decoder;

/* embeddings 1 gives the decoder BERT's embedding block (word, position and token-type tables and LayerNorm; the
 * word table is never read, it exists because the reference's checkpoints hold one) and sends the queries through it
 * as Hugging Face's inputs_embeds; num_queries must then not exceed max_positions. */
prior_status prior_ccr_text_decoder_init(prior_ccr_text_decoder *dec, prior_params *p, const char *prefix,
                                         const prior_bert_config *layers_config, int64_t num_queries, int causal,
                                         int embeddings);
void prior_ccr_text_decoder_free(prior_ccr_text_decoder *dec);
/* image tokens [B, N, D] -> predicted sentence prototypes [B, Q, D]. */
prior_tensor *prior_ccr_text_decode(prior_ccr_text_decoder *dec, prior_tensor *image_tokens, int training);

/* Reorders pred [B, Q, D] to best match target [B, Q, D] row by row (minimum total L1 distance per sample,
 * exact Hungarian assignment): out[b, j] = pred[b, perm_b[j]]. Differentiable with respect to pred. */
prior_tensor *prior_hungarian_reorder(prior_tensor *pred, prior_tensor *target);

/* Truncates or zero-pads [B, M, D] rows (and the [B, M] mask) to exactly q rows. */
prior_tensor *prior_pad_rows(prior_tensor *x, int64_t q);

#endif
