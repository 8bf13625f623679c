/* The local alignment module: two single-head cross attentions with sigmoid (or softmax) weights. */
#include <math.h>
#include <stdio.h>

#include "prior/prior.h"
#include "prior/prior_modules.h"

prior_status prior_lam_init(prior_lam *lam, prior_params *p, const char *prefix, int64_t d, prior_lam_activation activation) {
  lam->d = d;
  lam->activation = activation;
  char name[128];
  prior_linear_layer *layers[6] = {&lam->t2i_query, &lam->t2i_key, &lam->t2i_value,
                                   &lam->i2t_query, &lam->i2t_key, &lam->i2t_value};
  const char *names[6] = {"text_to_image.query.", "text_to_image.key.", "text_to_image.value.",
                          "image_to_text.query.", "image_to_text.key.", "image_to_text.value."};
  for (int i = 0; i < 6; i++) {
    snprintf(name, sizeof name, "%s%s", prefix, names[i]);
    PRIOR_TRY(prior_linear_layer_init(layers[i], p, name, d, d, 1, PRIOR_INIT_TORCH_DEFAULT, 0));
  }
  return PRIOR_OK;
}

/* act(Q(q_src) K(k_src)^T / sqrt(D)) with key_mask [B, Nk] (1 = real) zeroing padded keys; returns [B, Nq, Nk]. */
static prior_tensor *cross_weights(const prior_lam *lam, const prior_linear_layer *wq, const prior_linear_layer *wk,
                                   prior_tensor *q_src, prior_tensor *k_src, prior_tensor *key_mask) {
  prior_tensor *q = prior_linear_layer_forward(wq, q_src);
  prior_tensor *k = q ? prior_linear_layer_forward(wk, k_src) : NULL;
  prior_tensor *kt = k ? prior_transpose(k, 1, 2) : NULL;
  prior_tensor *raw = kt ? prior_matmul(q, kt) : NULL;
  prior_tensor *scores = raw ? prior_mul_scalar(raw, 1.0 / sqrt((double)lam->d)) : NULL;
  prior_tensor *km = key_mask ? prior_unsqueeze(key_mask, 1) : NULL; /* [B, 1, Nk] */
  prior_tensor *w = NULL;
  if (scores && lam->activation == PRIOR_LAM_SOFTMAX) {
    prior_tensor *masked = scores;
    if (km) {
      prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)km->dtype, km->device);
      prior_tensor *pad = prior_eq(km, zero);
      masked = pad ? prior_masked_fill(scores, pad, -INFINITY) : NULL;
      prior_free_all(2, zero, pad);
    } else {
      prior_tensor_retain(masked);
    }
    w = masked ? prior_softmax(masked, -1) : NULL;
    prior_tensor_free(masked);
  } else if (scores) {
    prior_tensor *s = prior_sigmoid(scores);
    w = (s && km) ? prior_mul(s, km) : prior_tensor_retain(s);
    prior_tensor_free(s);
  }
  prior_free_all(6, q, k, kt, raw, scores, km);
  return w;
}

prior_status prior_lam_forward(const prior_lam *lam, prior_tensor *image, prior_tensor *sents, prior_tensor *sent_mask,
                               prior_tensor **image_context, prior_tensor **text_context, prior_tensor **t2i_weights,
                               prior_tensor **i2t_weights) {
  PRIOR_TRY(prior_check_ndim("lam", "image", image, 3));
  PRIOR_TRY(prior_check_ndim("lam", "sents", sents, 3));
  if (image->shape[0] != sents->shape[0] || image->shape[2] != lam->d || sents->shape[2] != lam->d) {
    char a[64], b[64];
    return prior_error_set(PRIOR_ERR_SHAPE, "lam: image %s and sentences %s must be [B, N, %lld] and [B, M, %lld]",
                           prior_tensor_shape_str(image, a, sizeof a), prior_tensor_shape_str(sents, b, sizeof b),
                           (long long)lam->d, (long long)lam->d);
  }
  prior_tensor *a1 = cross_weights(lam, &lam->t2i_query, &lam->t2i_key, sents, image, NULL);     /* [B, M, N] */
  prior_tensor *a2 = a1 ? cross_weights(lam, &lam->i2t_query, &lam->i2t_key, image, sents, sent_mask) : NULL;
  prior_tensor *vi = a2 ? prior_linear_layer_forward(&lam->t2i_value, image) : NULL;
  prior_tensor *vt = vi ? prior_linear_layer_forward(&lam->i2t_value, sents) : NULL;
  prior_tensor *c1 = vt ? prior_matmul(a1, vi) : NULL; /* [B, M, D] */
  prior_tensor *c2 = c1 ? prior_matmul(a2, vt) : NULL; /* [B, N, D] */
  prior_status s = c2 ? PRIOR_OK : prior_error_code();
  if (s == PRIOR_OK) {
    if (image_context) *image_context = prior_tensor_retain(c1);
    if (text_context) *text_context = prior_tensor_retain(c2);
    if (t2i_weights) *t2i_weights = prior_tensor_retain(a1);
    if (i2t_weights) *i2t_weights = prior_tensor_retain(a2);
  }
  prior_free_all(6, a1, a2, vi, vt, c1, c2);
  return s;
}
