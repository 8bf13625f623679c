/* The PRIOR model: construction (with checkpoint names), encoders, and the per-stage loss computation. */
#include "prior/prior_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "prior/prior.h"

typedef struct projection {
  prior_linear_layer first, second; /* second used only for the MLP variant */
  int mlp;
} projection;

struct prior_model {
  prior_model_config config;
  prior_params *params;
  prior_resnet *resnet;
  prior_attention_pool image_pool;
  prior_bert *bert;
  prior_attention_pool sentence_pool;
  prior_sentence_attention sentence_gather; /* only with the 'attention' sentence pool */
  projection global_image, local_image, local_text;
  prior_spb spb;
  prior_lam lam;
  prior_linear_layer predictor1, predictor2;
  prior_tensor *logit_scale, *local_logit_scale;
  prior_ccr_image_decoder ccr_image;
  prior_ccr_text_decoder ccr_text;
};

prior_model_config prior_model_config_paper(void) {
  prior_model_config c = {0};
  c.resnet = prior_resnet50_config(1);
  c.bert = prior_bert_base_config(28996);
  c.image_size = 224;
  c.embed_dim = 768;
  c.pool_heads = 8;
  c.num_prototypes = 512;
  c.spb_l1_normalize = 1;
  c.num_queries = 16;
  c.decoder_layers = 6;
  c.decoder_causal = 0;
  c.decoder_embeddings = 0;
  c.ccr_conv_bias = 1;
  c.lam_activation = PRIOR_LAM_SIGMOID;
  c.local_tokens_reference = 0;
  c.proj_mlp = 0;
  c.sentence_pool = PRIOR_SENTENCE_AVG;
  c.ccr_channel_dropout = 0.5;
  c.logit_scale_init = log(1 / 0.01);
  c.w_global = 10, c.w_local_image = 1, c.w_local_text = 1, c.w_proto = 10;
  c.w_rec_image = 1, c.w_spg = 10, c.w_kl = 1, c.w_gpa = 1; /* SPG: MODEL.md's "weight 10" */
  return c;
}

static prior_status projection_init(projection *p, prior_params *params, const char *name, int64_t in, int64_t out, int mlp) {
  char prefix[96];
  p->mlp = mlp;
  /* N(0, in^-0.5) as MODEL.md gives for the projections */
  double std = 1.0 / sqrt((double)in);
  snprintf(prefix, sizeof prefix, mlp ? "%s.0." : "%s.", name);
  PRIOR_TRY(prior_linear_layer_init(&p->first, params, prefix, in, out, 1, PRIOR_INIT_NORMAL, std));
  if (!mlp) return PRIOR_OK;
  snprintf(prefix, sizeof prefix, "%s.2.", name);
  return prior_linear_layer_init(&p->second, params, prefix, out, out, 1, PRIOR_INIT_NORMAL, 1.0 / sqrt((double)out));
}

static prior_tensor *projection_forward(const projection *p, prior_tensor *x) {
  prior_tensor *h = prior_linear_layer_forward(&p->first, x);
  if (!p->mlp || !h) return h;
  prior_tensor *r = prior_relu(h);
  prior_tensor *out = r ? prior_linear_layer_forward(&p->second, r) : NULL;
  prior_free_all(2, h, r);
  return out;
}

static prior_tensor *scalar_param(prior_params *p, const char *name, double value) {
  prior_tensor *t = prior_tensor_full(0, NULL, value, PRIOR_F32, prior_cpu());
  if (!t) return NULL;
  prior_status s = prior_params_add(p, "", name, t, 0);
  prior_tensor_free(t);
  return s == PRIOR_OK ? t : NULL;
}

prior_model *prior_model_new(const prior_model_config *config) {
  if (!config) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "prior_model_new: config is NULL");
    return NULL;
  }
  const prior_model_config *c = config;
  if (c->embed_dim != c->bert.hidden) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "prior model: embed_dim %lld must equal the BERT hidden size %lld",
                    (long long)c->embed_dim, (long long)c->bert.hidden);
    return NULL;
  }
  if (c->image_size % 32 != 0 || c->image_size < 32) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "prior model: image_size %lld must be a multiple of 32", (long long)c->image_size);
    return NULL;
  }
  if (c->sentence_pool < PRIOR_SENTENCE_AVG || c->sentence_pool > PRIOR_SENTENCE_ATTENTION) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "prior model: sentence_pool %d is not avg (0), max (1), min (2) or attention (3)",
                    (int)c->sentence_pool);
    return NULL;
  }
  prior_model *m = calloc(1, sizeof *m);
  if (!m) {
    prior_error_set(PRIOR_ERR_MEMORY, "out of memory creating the model");
    return NULL;
  }
  m->config = *c;
  m->params = prior_params_new();
  m->resnet = prior_resnet_new(&c->resnet);
  m->bert = prior_bert_new(&c->bert);
  prior_status s = (m->params && m->resnet && m->bert) ? PRIOR_OK : prior_error_code();
  int64_t channels = m->resnet ? prior_resnet_out_channels(m->resnet) : 0, d = c->embed_dim;
  int64_t side = c->image_size / 32;
  if (s == PRIOR_OK) s = prior_params_extend(m->params, "image_encoder.encoder.", prior_resnet_params(m->resnet));
  if (s == PRIOR_OK)
    s = prior_attention_pool_init(&m->image_pool, m->params, "image_encoder.attnpool.", channels, c->pool_heads,
                                  channels, side * side);
  if (s == PRIOR_OK) s = prior_params_extend(m->params, "text_encoder.encoder.", prior_bert_params(m->bert));
  if (s == PRIOR_OK)
    s = prior_attention_pool_init(&m->sentence_pool, m->params, "text_encoder.sentence_pool.", d, c->pool_heads, d, 0);
  if (s == PRIOR_OK) s = projection_init(&m->global_image, m->params, "global_image_projection", channels, d, c->proj_mlp);
  if (s == PRIOR_OK) s = projection_init(&m->local_image, m->params, "local_image_projection", channels, d, c->proj_mlp);
  if (s == PRIOR_OK) s = projection_init(&m->local_text, m->params, "local_text_projection", d, d, c->proj_mlp);
  if (s == PRIOR_OK) s = prior_spb_init(&m->spb, m->params, "spb.", c->num_prototypes, d, c->spb_l1_normalize);
  if (s == PRIOR_OK) s = prior_lam_init(&m->lam, m->params, "lam.", d, (prior_lam_activation)c->lam_activation);
  if (s == PRIOR_OK)
    s = prior_linear_layer_init(&m->predictor1, m->params, "predictor.0.", d, d / 2, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
  if (s == PRIOR_OK)
    s = prior_linear_layer_init(&m->predictor2, m->params, "predictor.2.", d / 2, d, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
  if (s == PRIOR_OK) {
    m->logit_scale = scalar_param(m->params, "logit_scale", c->logit_scale_init);
    m->local_logit_scale = scalar_param(m->params, "local_logit_scale", c->logit_scale_init);
    if (!m->logit_scale || !m->local_logit_scale) s = prior_error_code();
  }
  if (s == PRIOR_OK) s = prior_ccr_image_decoder_init(&m->ccr_image, m->params, "ccr_image.", d, c->ccr_channel_dropout,
                                                     c->ccr_conv_bias);
  if (s == PRIOR_OK) {
    prior_bert_config dc = c->bert;
    dc.layers = c->decoder_layers;
    s = prior_ccr_text_decoder_init(&m->ccr_text, m->params, "ccr_text.", &dc, c->num_queries, c->decoder_causal,
                                    c->decoder_embeddings);
  }
  /* Last, so that every other parameter draws the same initial values whichever pool is chosen. It pools the
   * projected token states (the reference's item_gather.attention_pool, width embed_dim). */
  if (s == PRIOR_OK && c->sentence_pool == PRIOR_SENTENCE_ATTENTION)
    s = prior_sentence_attention_init(&m->sentence_gather, m->params, "text_encoder.sentence_gather.", d);
  if (s != PRIOR_OK) {
    prior_error_context("creating the PRIOR model");
    prior_model_free(m);
    return NULL;
  }
  return m;
}

void prior_model_free(prior_model *m) {
  if (!m) return;
  prior_ccr_text_decoder_free(&m->ccr_text);
  prior_resnet_free(m->resnet);
  prior_bert_free(m->bert);
  prior_params_free(m->params);
  free(m);
}

prior_params *prior_model_params(prior_model *m) { return m ? m->params : NULL; }
const prior_model_config *prior_model_get_config(const prior_model *m) { return m ? &m->config : NULL; }

void prior_losses_free(prior_losses *l) {
  if (!l) return;
  prior_free_all(9, l->total, l->global, l->local_image, l->local_text, l->proto, l->rec_image, l->spg, l->kl, l->gpa);
  *l = (prior_losses){0};
}

/* ---- encoders ---------------------------------------------------------------------------------------------- */

static prior_status encode_image(prior_model *m, prior_tensor *images, int training, prior_tensor **global,
                                 prior_tensor **local) {
  prior_tensor *f = prior_resnet_forward(m->resnet, images, training, NULL, NULL); /* [B, C, h, w] */
  if (!f) return prior_error_code();
  int64_t b = f->shape[0], c = f->shape[1], hw = f->shape[2] * f->shape[3];
  prior_tensor *pooled = prior_attention_pool_map(&m->image_pool, f);
  prior_tensor *tokens = NULL;
  if (m->config.local_tokens_reference) { /* the reference's .view(B, -1, C) of the NCHW buffer */
    prior_tensor *fc = prior_contiguous(f);
    tokens = fc ? prior_reshape(fc, 3, (int64_t[]){b, hw, c}) : NULL;
    prior_tensor_free(fc);
  } else {
    prior_tensor *flat = prior_flatten(f, 2, 3);
    tokens = flat ? prior_transpose(flat, 1, 2) : NULL; /* token index h*w_size + w */
    prior_tensor_free(flat);
  }
  *global = pooled ? projection_forward(&m->global_image, pooled) : NULL;
  *local = tokens ? projection_forward(&m->local_image, tokens) : NULL;
  prior_free_all(3, f, pooled, tokens);
  if (!*global || !*local) {
    prior_free_all(2, *global, *local);
    *global = *local = NULL;
    return prior_error_code();
  }
  return PRIOR_OK;
}

/* Projected sentence vectors [B, M, D] and mask [B, M]. */
static prior_status encode_sentences(prior_model *m, prior_tensor *ids, prior_tensor *attention_mask,
                                     prior_tensor *sentence_index, int training, prior_tensor **sents, prior_tensor **mask) {
  /* only tokens inside sentences are read below, so BERT's per-token layers skip the padding */
  prior_tensor *h = prior_bert_forward_tokens(m->bert, ids, attention_mask, NULL, training);
  /* projection first, as the reference: the same as gathering first for avg, not for max, min or attention */
  prior_tensor *hp = h ? projection_forward(&m->local_text, h) : NULL;
  int64_t count = prior_sentence_count(sentence_index);
  prior_sentence_pool pool = (prior_sentence_pool)m->config.sentence_pool;
  if (!hp)
    *sents = NULL;
  else if (pool == PRIOR_SENTENCE_ATTENTION)
    *sents = prior_sentence_gather_attention(&m->sentence_gather, hp, sentence_index, count, mask, NULL);
  else
    *sents = prior_sentence_gather(hp, sentence_index, count, pool, mask);
  prior_free_all(2, h, hp);
  return *sents ? PRIOR_OK : prior_error_code();
}

prior_status prior_model_encode_image(prior_model *m, prior_tensor *images, prior_tensor **global, prior_tensor **local) {
  return encode_image(m, images, 0, global, local);
}

prior_status prior_model_encode_text(prior_model *m, prior_tensor *ids, prior_tensor *attention_mask,
                                     prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **global,
                                     prior_tensor **sentences, prior_tensor **sentence_mask) {
  prior_tensor *raw = NULL, *mask = NULL;
  PRIOR_TRY(encode_sentences(m, ids, attention_mask, sentence_index, 0, &raw, &mask));
  prior_tensor *t = raw;
  if (use_spb) {
    prior_tensor *zeros = prior_tensor_zeros(3, (int64_t[]){raw->shape[0], raw->shape[1], m->spb.k}, PRIOR_F32, raw->device);
    t = zeros ? prior_spb_query(&m->spb, raw, tau, zeros, NULL, NULL) : NULL;
    prior_free_all(2, zeros, raw);
  }
  prior_tensor *g = t ? prior_attention_pool_forward(&m->sentence_pool, t, mask, NULL) : NULL;
  if (!g) {
    prior_free_all(2, t, mask);
    return prior_error_code();
  }
  *global = g;
  if (sentences) *sentences = t; else prior_tensor_free(t);
  if (sentence_mask) *sentence_mask = mask; else prior_tensor_free(mask);
  return PRIOR_OK;
}

/* ---- losses of one step -------------------------------------------------------------------------------------- */

/* KL(softmax(a) || softmax(b)) per row over the last dim, summed over rows where mask, / number of such rows. */
static prior_tensor *masked_kl(prior_tensor *a, prior_tensor *b, prior_tensor *mask) {
  prior_tensor *la = prior_log_softmax(a, -1), *lb = prior_log_softmax(b, -1);
  prior_tensor *pa = la ? prior_exp(la) : NULL;
  prior_tensor *diff = (la && lb) ? prior_sub(la, lb) : NULL;
  prior_tensor *terms = (pa && diff) ? prior_mul(pa, diff) : NULL;
  int64_t last = -1;
  prior_tensor *rows = terms ? prior_sum(terms, 1, &last, 0) : NULL; /* [B, Q] */
  prior_tensor *masked = rows ? prior_mul(rows, mask) : NULL;
  prior_tensor *total = masked ? prior_sum(masked, 0, NULL, 0) : NULL;
  prior_tensor *count = prior_sum(mask, 0, NULL, 0);
  prior_tensor *safe = count ? prior_clamp(count, 1.0, NAN) : NULL;
  prior_tensor *out = (total && safe) ? prior_div(total, safe) : NULL;
  prior_free_all(10, la, lb, pa, diff, terms, rows, masked, total, count, safe);
  return out;
}

static prior_tensor *weighted_sum(int n, prior_tensor *const *terms, const double *weights) {
  prior_tensor *total = NULL;
  for (int i = 0; i < n; i++) {
    if (!terms[i]) continue;
    prior_tensor *w = prior_mul_scalar(terms[i], weights[i]);
    prior_tensor *next = total ? prior_add(total, w) : prior_tensor_retain(w);
    prior_free_all(2, w, total);
    total = next;
    if (!total) return NULL;
  }
  return total;
}

static prior_status stage3_losses(prior_model *m, const prior_batch *batch, prior_tensor *img_local, prior_tensor *c2,
                                  prior_tensor *raw, prior_tensor *sents, prior_tensor *mask, prior_tensor *txt_global, double tau,
                                  int training, const prior_step_noise *noise, prior_losses *l) {
  int64_t side = m->config.image_size / 32;
  /* image reconstruction */
  prior_tensor *rec = prior_ccr_image_decode(&m->ccr_image, img_local, c2, side, side, training,
                                             noise ? noise->ccr_channel_mask : NULL);
  prior_tensor *target = NULL;
  if (rec) {
    if (rec->shape[2] == batch->images->shape[2] && rec->shape[3] == batch->images->shape[3])
      target = prior_tensor_retain(batch->images);
    else
      target = prior_interpolate(batch->images, rec->shape[2], rec->shape[3], PRIOR_INTERP_BILINEAR, 0);
  }
  l->rec_image = target ? prior_l1_loss(rec, target, PRIOR_REDUCTION_MEAN) : NULL;
  prior_free_all(2, rec, target);
  if (!l->rec_image) return prior_error_code();
  /* prototype reconstruction: the report's sentence prototypes padded to Q rows are the targets (they keep their
   * gradient: MODEL.md names no stop-gradient there, and the reference's padded copies are differentiable) */
  int64_t q = m->config.num_queries;
  prior_tensor *preds = prior_ccr_text_decode(&m->ccr_text, img_local, training);
  /* padded sentence rows went through the SPB too: zero them so padding targets are zeros, as MODEL.md pads */
  prior_tensor *mask3 = prior_unsqueeze(mask, -1);
  prior_tensor *real = mask3 ? prior_mul(sents, mask3) : NULL;
  prior_tensor *targets = real ? prior_pad_rows(real, q) : NULL;
  prior_free_all(2, mask3, real);
  prior_tensor *tmask = prior_pad_rows(mask, q);
  prior_tensor *ordered = (preds && targets) ? prior_hungarian_reorder(preds, targets) : NULL;
  l->spg = ordered ? prior_l1_loss(ordered, targets, PRIOR_REDUCTION_MEAN) : NULL;
  /* KL(softmax(z E^T) || softmax(pred E^T)) with z the raw sentence vectors, as the reference's
   * F.kl_div(log_softmax(pred E^T), log_softmax(z E^T), log_target=True, reduction='batchmean') */
  prior_tensor *et = prior_transpose(m->spb.prototypes, 0, 1);
  prior_tensor *zq = prior_pad_rows(raw, q);
  prior_tensor *a = (zq && et) ? prior_matmul(zq, et) : NULL, *b = (ordered && et) ? prior_matmul(ordered, et) : NULL;
  l->kl = (a && b && tmask) ? masked_kl(a, b, tmask) : NULL;
  /* global prediction alignment: the predictions through the SPB and the sentence pool, against the text */
  prior_tensor *qp = ordered ? prior_spb_query(&m->spb, ordered, tau, noise ? noise->gumbel_gpa : NULL, NULL, NULL) : NULL;
  prior_tensor *gp = (qp && tmask) ? prior_attention_pool_forward(&m->sentence_pool, qp, tmask, NULL) : NULL;
  l->gpa = gp ? prior_infonce(gp, txt_global, m->logit_scale) : NULL;
  prior_free_all(10, preds, zq, targets, tmask, ordered, et, a, b, qp, gp);
  return (l->spg && l->kl && l->gpa) ? PRIOR_OK : prior_error_code();
}

prior_status prior_model_step(prior_model *m, const prior_batch *batch, int stage, double tau, int training,
                              const prior_step_noise *noise, prior_losses *l) {
  *l = (prior_losses){0};
  if (!m || !batch) return prior_error_set(PRIOR_ERR_ARGUMENT, "model_step: NULL model or batch");
  if (stage < 1 || stage > 3) return prior_error_set(PRIOR_ERR_ARGUMENT, "model_step: stage %d (expected 1, 2 or 3)", stage);
  prior_tensor *img_global = NULL, *img_local = NULL, *raw = NULL, *mask = NULL, *sents = NULL, *txt_global = NULL;
  prior_tensor *c1 = NULL, *c2 = NULL, *p_img = NULL, *p_c2 = NULL, *h1 = NULL, *h2 = NULL;
  prior_status s = encode_image(m, batch->images, training, &img_global, &img_local);
  if (s == PRIOR_OK) s = encode_sentences(m, batch->input_ids, batch->attention_mask, batch->sentence_index, training, &raw, &mask);
  if (s == PRIOR_OK && stage >= 2) {
    sents = prior_spb_query(&m->spb, raw, tau, noise ? noise->gumbel : NULL, NULL, NULL);
    l->proto = sents ? prior_masked_l1(sents, raw, mask) : NULL;
    if (!l->proto) s = prior_error_code();
  } else if (s == PRIOR_OK) {
    sents = prior_tensor_retain(raw);
  }
  if (s == PRIOR_OK) {
    txt_global = prior_attention_pool_forward(&m->sentence_pool, sents, mask, NULL);
    l->global = txt_global ? prior_infonce(img_global, txt_global, m->logit_scale) : NULL;
    if (!l->global) s = prior_error_code();
  }
  if (s == PRIOR_OK) s = prior_lam_forward(&m->lam, img_local, sents, mask, &c1, &c2, NULL, NULL);
  if (s == PRIOR_OK) {
    /* SimSiam predictor on both sides */
    h1 = prior_linear_layer_forward(&m->predictor1, img_local);
    prior_tensor *r1 = h1 ? prior_relu(h1) : NULL;
    p_img = r1 ? prior_linear_layer_forward(&m->predictor2, r1) : NULL;
    h2 = prior_linear_layer_forward(&m->predictor1, c2);
    prior_tensor *r2 = h2 ? prior_relu(h2) : NULL;
    p_c2 = r2 ? prior_linear_layer_forward(&m->predictor2, r2) : NULL;
    prior_free_all(2, r1, r2);
    l->local_image = (p_img && p_c2) ? prior_simsiam_loss(p_img, c2, p_c2, img_local) : NULL;
    l->local_text = prior_local_text_infonce(c1, sents, mask, m->local_logit_scale);
    if (!l->local_image || !l->local_text) s = prior_error_code();
  }
  if (s == PRIOR_OK && stage == 3) s = stage3_losses(m, batch, img_local, c2, raw, sents, mask, txt_global, tau, training, noise, l);
  if (s == PRIOR_OK) {
    const prior_model_config *c = &m->config;
    prior_tensor *terms[8] = {l->global, l->local_image, l->local_text, l->proto, l->rec_image, l->spg, l->kl, l->gpa};
    double weights[8] = {c->w_global, c->w_local_image, c->w_local_text, c->w_proto, c->w_rec_image, c->w_spg, c->w_kl, c->w_gpa};
    l->total = weighted_sum(8, terms, weights);
    if (!l->total) s = prior_error_code();
  }
  prior_free_all(12, img_global, img_local, raw, mask, sents, txt_global, c1, c2, p_img, p_c2, h1, h2);
  if (s != PRIOR_OK) {
    prior_error_context("stage %d step", stage);
    prior_losses_free(l);
  }
  return s;
}

prior_status prior_model_local_scores(prior_model *m, prior_tensor *image_local, prior_tensor *sents,
                                      prior_tensor *sent_mask, prior_tensor **scores) {
  PRIOR_TRY(prior_check_ndim("local_scores", "image_local", image_local, 3));
  PRIOR_TRY(prior_check_ndim("local_scores", "sents", sents, 3));
  PRIOR_TRY(prior_check_ndim("local_scores", "sent_mask", sent_mask, 2));
  int64_t b = image_local->shape[0], n = image_local->shape[1], d = image_local->shape[2];
  int64_t p = sents->shape[0], mm = sents->shape[1];
  /* every (image, text) pair as one row of a batch of B * P */
  prior_tensor *i4 = prior_unsqueeze(image_local, 1);
  prior_tensor *ie = i4 ? prior_expand(i4, 4, (int64_t[]){b, p, n, d}) : NULL;
  prior_tensor *ir = ie ? prior_reshape(ie, 3, (int64_t[]){b * p, n, d}) : NULL;
  prior_tensor *s4 = prior_unsqueeze(sents, 0);
  prior_tensor *se = s4 ? prior_expand(s4, 4, (int64_t[]){b, p, mm, d}) : NULL;
  prior_tensor *sr = se ? prior_reshape(se, 3, (int64_t[]){b * p, mm, d}) : NULL;
  prior_tensor *m3 = prior_unsqueeze(sent_mask, 0);
  prior_tensor *me = m3 ? prior_expand(m3, 3, (int64_t[]){b, p, mm}) : NULL;
  prior_tensor *mr = me ? prior_reshape(me, 2, (int64_t[]){b * p, mm}) : NULL;
  prior_tensor *c1 = NULL;
  prior_status s = (ir && sr && mr) ? prior_lam_forward(&m->lam, ir, sr, mr, &c1, NULL, NULL, NULL) : prior_error_code();
  prior_tensor *cos = s == PRIOR_OK ? prior_cosine_similarity(c1, sr, -1, 1e-8) : NULL; /* [B*P, M] */
  prior_tensor *masked = cos ? prior_mul(cos, mr) : NULL;
  int64_t last = -1;
  prior_tensor *total = masked ? prior_sum(masked, 1, &last, 0) : NULL;
  prior_tensor *count = mr ? prior_sum(mr, 1, &last, 0) : NULL;
  prior_tensor *safe = count ? prior_clamp(count, 1.0, NAN) : NULL;
  prior_tensor *mean = (total && safe) ? prior_div(total, safe) : NULL;
  *scores = mean ? prior_reshape(mean, 2, (int64_t[]){b, p}) : NULL;
  prior_free_all(16, i4, ie, ir, s4, se, sr, m3, me, mr, c1, cos, masked, total, count, safe, mean);
  return *scores ? PRIOR_OK : prior_error_code();
}

/* ---- inspection (figures) ---------------------------------------------------------------------------------------- */

/* The report's sentences as the model sees them at inference: raw, or through the SPB with no noise. */
static prior_status inference_sentences(prior_model *m, prior_tensor *ids, prior_tensor *attention_mask,
                                        prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **sents,
                                        prior_tensor **mask) {
  prior_tensor *raw = NULL;
  PRIOR_TRY(encode_sentences(m, ids, attention_mask, sentence_index, 0, &raw, mask));
  if (!use_spb) {
    *sents = raw;
    return PRIOR_OK;
  }
  prior_tensor *zeros = prior_tensor_zeros(3, (int64_t[]){raw->shape[0], raw->shape[1], m->spb.k}, PRIOR_F32, raw->device);
  *sents = zeros ? prior_spb_query(&m->spb, raw, tau, zeros, NULL, NULL) : NULL;
  prior_free_all(2, zeros, raw);
  if (!*sents) {
    prior_tensor_free(*mask);
    *mask = NULL;
    return prior_error_code();
  }
  return PRIOR_OK;
}

static prior_status check_pair(const char *fn, prior_tensor *images, prior_tensor *ids) {
  PRIOR_TRY(prior_check_ndim(fn, "images", images, 4));
  PRIOR_TRY(prior_check_ndim(fn, "ids", ids, 2));
  if (images->shape[0] != ids->shape[0])
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: %lld images but %lld reports", fn, (long long)images->shape[0],
                           (long long)ids->shape[0]);
  return PRIOR_OK;
}

/* Image tokens, sentences and LAM outputs of a batch of pairs; each output pointer may be NULL. */
static prior_status lam_pairs(prior_model *m, prior_tensor *images, prior_tensor *ids, prior_tensor *attention_mask,
                              prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **tokens,
                              prior_tensor **text_context, prior_tensor **t2i) {
  prior_tensor *g = NULL, *local = NULL, *sents = NULL, *mask = NULL;
  prior_status s = encode_image(m, images, 0, &g, &local);
  if (s == PRIOR_OK) s = inference_sentences(m, ids, attention_mask, sentence_index, use_spb, tau, &sents, &mask);
  if (s == PRIOR_OK) s = prior_lam_forward(&m->lam, local, sents, mask, NULL, text_context, t2i, NULL);
  if (s == PRIOR_OK && tokens) *tokens = prior_tensor_retain(local);
  prior_free_all(4, g, local, sents, mask);
  return s;
}

prior_status prior_model_attention_maps(prior_model *m, prior_tensor *images, prior_tensor *ids, prior_tensor *attention_mask,
                                        prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **t2i_weights) {
  *t2i_weights = NULL;
  if (!m) return prior_error_set(PRIOR_ERR_ARGUMENT, "attention_maps: NULL model");
  PRIOR_TRY(check_pair("attention_maps", images, ids));
  int grad = prior_set_grad_enabled(0);
  prior_status s = lam_pairs(m, images, ids, attention_mask, sentence_index, use_spb, tau, NULL, NULL, t2i_weights);
  prior_set_grad_enabled(grad);
  return s;
}

prior_status prior_model_reconstruct(prior_model *m, prior_tensor *images, prior_tensor *ids, prior_tensor *attention_mask,
                                     prior_tensor *sentence_index, int use_spb, double tau, prior_tensor **reconstruction) {
  *reconstruction = NULL;
  if (!m) return prior_error_set(PRIOR_ERR_ARGUMENT, "reconstruct: NULL model");
  PRIOR_TRY(check_pair("reconstruct", images, ids));
  int grad = prior_set_grad_enabled(0);
  prior_tensor *tokens = NULL, *c2 = NULL;
  prior_status s = lam_pairs(m, images, ids, attention_mask, sentence_index, use_spb, tau, &tokens, &c2, NULL);
  int64_t side = m->config.image_size / 32;
  if (s == PRIOR_OK) {
    *reconstruction = prior_ccr_image_decode(&m->ccr_image, tokens, c2, side, side, 0, NULL);
    if (!*reconstruction) s = prior_error_code();
  }
  prior_free_all(2, tokens, c2);
  prior_set_grad_enabled(grad);
  return s;
}

prior_status prior_model_predict_prototypes(prior_model *m, prior_tensor *images, prior_tensor **predictions) {
  *predictions = NULL;
  if (!m) return prior_error_set(PRIOR_ERR_ARGUMENT, "predict_prototypes: NULL model");
  PRIOR_TRY(prior_check_ndim("predict_prototypes", "images", images, 4));
  int grad = prior_set_grad_enabled(0);
  prior_tensor *g = NULL, *local = NULL;
  prior_status s = encode_image(m, images, 0, &g, &local);
  if (s == PRIOR_OK) {
    *predictions = prior_ccr_text_decode(&m->ccr_text, local, 0);
    if (!*predictions) s = prior_error_code();
  }
  prior_free_all(2, g, local);
  prior_set_grad_enabled(grad);
  return s;
}

prior_status prior_model_spb_distribution(prior_model *m, prior_tensor *x, double tau, prior_tensor **distribution) {
  *distribution = NULL;
  if (!m || !x) return prior_error_set(PRIOR_ERR_ARGUMENT, "spb_distribution: NULL model or tensor");
  if (!(tau > 0)) return prior_error_set(PRIOR_ERR_ARGUMENT, "spb_distribution: temperature %g must be positive", tau);
  int64_t d = m->spb.prototypes->shape[1];
  if (x->ndim < 1 || x->shape[x->ndim - 1] != d)
    return prior_error_set(PRIOR_ERR_SHAPE, "spb_distribution: vectors of size %lld, the prototypes have %lld",
                           (long long)(x->ndim ? x->shape[x->ndim - 1] : 0), (long long)d);
  int grad = prior_set_grad_enabled(0);
  prior_tensor *et = prior_transpose(m->spb.prototypes, 0, 1);
  prior_tensor *logits = et ? prior_matmul(x, et) : NULL;
  prior_tensor *scaled = logits ? prior_mul_scalar(logits, 1.0 / tau) : NULL;
  *distribution = scaled ? prior_softmax(scaled, -1) : NULL;
  prior_free_all(3, et, logits, scaled);
  prior_set_grad_enabled(grad);
  return *distribution ? PRIOR_OK : prior_error_code();
}
