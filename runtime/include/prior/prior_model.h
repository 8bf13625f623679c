/* The whole PRIOR model: encoders, projections, SPB, LAM, CCR decoders, and one step function per training
 * stage returning every loss term. Defaults follow the paper (MODEL.md); switches reproduce the reference. */
#ifndef PRIOR_PRIOR_MODEL_H
#define PRIOR_PRIOR_MODEL_H

#include "prior/nn_attention.h"
#include "prior/nn_bert.h"
#include "prior/loader.h"
#include "prior/nn_resnet.h"
#include "prior/prior_ccr.h"
#include "prior/prior_modules.h"

typedef struct prior_model_config {
  prior_resnet_config resnet;
  prior_bert_config bert;
  int64_t image_size;         /* 224 */
  int64_t embed_dim;          /* 768: the joint space, equal to the BERT hidden size */
  int64_t pool_heads;         /* 8: both attention pools */
  int64_t num_prototypes;     /* 512 */
  int32_t spb_l1_normalize;   /* 1 (seed); 0 = reference init */
  int64_t num_queries;        /* 16 */
  int64_t decoder_layers;     /* 6 (seed); reference 8 */
  int32_t decoder_causal;     /* 0; 1 reproduces the reference's HF decoder */
  int32_t decoder_embeddings; /* 0: queries enter the decoder layers as they are; 1: the reference's (HF BertModel fed
                               * inputs_embeds) adds position and token-type embeddings and a LayerNorm first */
  int32_t ccr_conv_bias;      /* 1: the CCR image decoder's convs have a bias; 0: none, as the reference's conv-BN */
  int32_t lam_activation;     /* prior_lam_activation */
  int32_t local_tokens_reference; /* 0: permute NCHW to tokens; 1: the reference's buffer reinterpretation */
  int32_t proj_mlp;           /* 0: Linear projections; 1: Linear-ReLU-Linear */
  int32_t sentence_pool;      /* prior_sentence_pool */
  double ccr_channel_dropout; /* 0.5 */
  double logit_scale_init;    /* log(1 / 0.01) */
  /* loss weights */
  double w_global, w_local_image, w_local_text, w_proto, w_rec_image, w_spg, w_kl, w_gpa;
} prior_model_config;

/* The paper's sizes: ResNet50 on one channel, BioClinicalBERT (vocab 28996), 224x224, 512 prototypes. */
prior_model_config prior_model_config_paper(void);

typedef struct prior_model prior_model;

prior_model *prior_model_new(const prior_model_config *config);
void prior_model_free(prior_model *m);
prior_params *prior_model_params(prior_model *m); /* borrowed; every tensor under its checkpoint name */
const prior_model_config *prior_model_get_config(const prior_model *m);

typedef struct prior_losses {
  prior_tensor *total;
  prior_tensor *global, *local_image, *local_text, *proto, *rec_image, *spg, *kl, *gpa; /* NULL when not in the stage */
} prior_losses;

void prior_losses_free(prior_losses *l);

/* Randomness a step would draw, given explicitly (tests, reproductions); any field may be NULL to draw it. */
typedef struct prior_step_noise {
  prior_tensor *gumbel;           /* [B, M, K]: the SPB query of the report's sentences */
  prior_tensor *gumbel_gpa;       /* [B, Q, K]: the SPB query of the predicted prototypes (GPA) */
  prior_tensor *ccr_channel_mask; /* [B, D]: the CCR image decoder's channel dropout, as multipliers (0 or 1/(1-p)) */
} prior_step_noise;

/* One forward pass of stage 1, 2 or 3 on a batch (the loader's: images [B, 1, H, W] normalised, input_ids,
 * attention_mask and sentence_index [B, L]; the other fields are not used); losses->total is ready for prior_backward. tau: the SPB
 * temperature for this step (stages 2-3). noise may be NULL. */
prior_status prior_model_step(prior_model *m, const prior_batch *batch, int stage, double tau, int training,
                              const prior_step_noise *noise, prior_losses *losses);

/* Inference pieces (no loss): image -> global [B, D] and local tokens [B, N, D] (projected); text -> global
 * [B, D], sentences [B, M, D] (through the SPB when use_spb, with no noise) and their mask [B, M]. */
prior_status prior_model_encode_image(prior_model *m, prior_tensor *images, prior_tensor **global, prior_tensor **local);
prior_status prior_model_encode_text(prior_model *m, prior_tensor *ids, prior_tensor *attention_mask,
                                     prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **global,
                                     prior_tensor **sentences, prior_tensor **sentence_mask);

/* Local (LAM) similarity of every image to every text: for image b and text p, the sentences of p attend to b's
 * tokens (text-to-image cross attention), and the score is the mean over p's real sentences of the cosine between
 * each sentence and its image context. image_local [B, N, D]; sents [P, M, D] with mask [P, M]; scores: [B, P]. */
prior_status prior_model_local_scores(prior_model *m, prior_tensor *image_local, prior_tensor *sents,
                                      prior_tensor *sent_mask, prior_tensor **scores);

/* Inspection for figures (eval mode, no noise, no autograd graph). The text goes through the SPB when use_spb (tau as
 * in prior_model_encode_text). Image tokens are indexed y*w + x on the final feature map (w = image_size / 32). */
/* LAM text-to-image attention A1 [B, M, N]: how much each sentence of the report attends to each image token. */
prior_status prior_model_attention_maps(prior_model *m, prior_tensor *images, prior_tensor *ids, prior_tensor *attention_mask,
                                        prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **t2i_weights);
/* The CCR image decoder's reconstruction [B, 1, H, W] of each image from its tokens and its report's context
 * (no channel dropout). The decoder works on normalised images: compare with the normalised input. */
prior_status prior_model_reconstruct(prior_model *m, prior_tensor *images, prior_tensor *ids, prior_tensor *attention_mask,
                                     prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **reconstruction);
/* The CCR text decoder's predicted sentence prototypes [B, Q, D] for each image. */
prior_status prior_model_predict_prototypes(prior_model *m, prior_tensor *images, prior_tensor **predictions);
/* Distribution over the SPB's prototypes of vectors x [..., D]: softmax(x E^T / tau) [..., K]; tau = 1 is what the
 * KL term of stage 3 compares (report sentences vs CCR predictions), the SPB query's temperature its (noise-free)
 * query weights. */
prior_status prior_model_spb_distribution(prior_model *m, prior_tensor *x, double tau, prior_tensor **distribution);

#endif
