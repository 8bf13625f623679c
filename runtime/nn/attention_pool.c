/* CLIP-style attention pooling over a set of tokens. */
#include <math.h>
#include <stdio.h>

#include "prior/nn_attention.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_index.h"
#include "prior/ops_linalg.h"
#include "prior/ops_nn.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"

prior_status prior_attention_pool_init(prior_attention_pool *pool, prior_params *p, const char *prefix,
                                       int64_t embed_dim, int64_t num_heads, int64_t output_dim, int64_t n_tokens) {
  if (embed_dim <= 0 || num_heads <= 0 || embed_dim % num_heads != 0 || output_dim <= 0 || n_tokens < 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT,
                           "attention pool %s: embed_dim %lld must be a positive multiple of num_heads %lld", prefix,
                           (long long)embed_dim, (long long)num_heads);
  pool->embed_dim = embed_dim;
  pool->num_heads = num_heads;
  pool->output_dim = output_dim;
  pool->n_tokens = n_tokens;
  pool->positional_embedding = NULL;
  char name[128];
  if (n_tokens > 0) {
    int64_t shape[2] = {n_tokens + 1, embed_dim};
    prior_tensor *pe = prior_tensor_randn(2, shape, PRIOR_F32, prior_cpu());
    if (!pe) return prior_error_code();
    prior_tensor *scaled = prior_mul_scalar(pe, 1.0 / sqrt((double)embed_dim));
    prior_tensor_free(pe);
    if (!scaled) return prior_error_code();
    prior_status s = prior_params_add(p, prefix, "positional_embedding", scaled, 0);
    pool->positional_embedding = scaled;
    prior_tensor_free(scaled);
    PRIOR_TRY(s);
  }
  /* CLIP registers k, q, v, c in this order */
  snprintf(name, sizeof name, "%sk_proj.", prefix);
  PRIOR_TRY(prior_linear_layer_init(&pool->k_proj, p, name, embed_dim, embed_dim, 1, PRIOR_INIT_TORCH_DEFAULT, 0));
  snprintf(name, sizeof name, "%sq_proj.", prefix);
  PRIOR_TRY(prior_linear_layer_init(&pool->q_proj, p, name, embed_dim, embed_dim, 1, PRIOR_INIT_TORCH_DEFAULT, 0));
  snprintf(name, sizeof name, "%sv_proj.", prefix);
  PRIOR_TRY(prior_linear_layer_init(&pool->v_proj, p, name, embed_dim, embed_dim, 1, PRIOR_INIT_TORCH_DEFAULT, 0));
  snprintf(name, sizeof name, "%sc_proj.", prefix);
  return prior_linear_layer_init(&pool->c_proj, p, name, embed_dim, output_dim, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
}

/* [N, L, C] -> [N, heads, L, C/heads] */
static prior_tensor *split_heads(prior_tensor *x, int64_t heads) {
  int64_t shape[4] = {x->shape[0], x->shape[1], heads, x->shape[2] / heads};
  int64_t order[4] = {0, 2, 1, 3};
  prior_tensor *r = prior_reshape(x, 4, shape);
  prior_tensor *out = r ? prior_permute(r, 4, order) : NULL;
  prior_tensor_free(r);
  return out;
}

prior_tensor *prior_attention_pool_forward(const prior_attention_pool *pool, prior_tensor *tokens, prior_tensor *mask,
                                           prior_tensor **weights) {
  const char *op = "attention_pool";
  if (prior_check_ndim(op, "tokens", tokens, 3) != PRIOR_OK) return NULL;
  int64_t n = tokens->shape[0], l = tokens->shape[1], c = tokens->shape[2];
  if (c != pool->embed_dim || (pool->n_tokens > 0 && l != pool->n_tokens)) {
    char buf[128];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: tokens of shape %s; the pool takes [N, %s, %lld]", op,
                    prior_tensor_shape_str(tokens, buf, sizeof buf), pool->n_tokens ? "n_tokens" : "L",
                    (long long)pool->embed_dim);
    return NULL;
  }
  if (mask && (mask->ndim != 2 || mask->shape[0] != n || mask->shape[1] != l)) {
    char a[128], b[128];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: mask of shape %s for tokens of shape %s", op,
                    prior_tensor_shape_str(mask, a, sizeof a), prior_tensor_shape_str(tokens, b, sizeof b));
    return NULL;
  }
  int64_t one = 1;
  prior_tensor *maskf = NULL, *mean = NULL, *x = NULL, *q = NULL, *k = NULL, *v = NULL, *qh = NULL, *kh = NULL,
               *vh = NULL, *kt = NULL, *scores = NULL, *attn = NULL, *ctx = NULL, *merged = NULL, *out = NULL;
  /* the mean token: over real tokens only when a mask is given */
  if (mask) {
    maskf = prior_to_dtype(mask, (prior_dtype)tokens->dtype);
    prior_tensor *m3 = maskf ? prior_unsqueeze(maskf, -1) : NULL;
    prior_tensor *weighted = m3 ? prior_mul(tokens, m3) : NULL;
    prior_tensor *total = weighted ? prior_sum(weighted, 1, &one, 1) : NULL;
    prior_tensor *count = m3 ? prior_sum(m3, 1, &one, 1) : NULL;
    prior_tensor *safe = count ? prior_clamp(count, 1.0, NAN) : NULL;
    mean = (total && safe) ? prior_div(total, safe) : NULL;
    prior_free_all(5, m3, weighted, total, count, safe);
  } else {
    mean = prior_mean(tokens, 1, &one, 1);
  }
  prior_tensor *parts[2] = {mean, tokens};
  x = mean ? prior_cat(2, parts, 1) : NULL; /* [N, L+1, C] */
  if (x && pool->positional_embedding) {
    prior_tensor *with_pos = prior_add(x, pool->positional_embedding);
    prior_tensor_free(x);
    x = with_pos;
  }
  prior_tensor *first = x ? prior_narrow(x, 1, 0, 1) : NULL;
  q = first ? prior_linear_layer_forward(&pool->q_proj, first) : NULL;
  prior_tensor_free(first);
  k = x ? prior_linear_layer_forward(&pool->k_proj, x) : NULL;
  v = x ? prior_linear_layer_forward(&pool->v_proj, x) : NULL;
  double scale = 1.0 / sqrt((double)(pool->embed_dim / pool->num_heads));
  prior_tensor *qs = q ? prior_mul_scalar(q, scale) : NULL;
  qh = qs ? split_heads(qs, pool->num_heads) : NULL; /* [N, h, 1, d] */
  prior_tensor_free(qs);
  kh = k ? split_heads(k, pool->num_heads) : NULL;
  vh = v ? split_heads(v, pool->num_heads) : NULL;
  kt = kh ? prior_transpose(kh, 2, 3) : NULL;
  scores = (qh && kt) ? prior_matmul(qh, kt) : NULL; /* [N, h, 1, L+1] */
  if (scores && maskf) {
    /* the mean token is always attended to; padded tokens never */
    int64_t ones_shape[2] = {n, 1};
    prior_tensor *lead = prior_tensor_ones(2, ones_shape, (prior_dtype)maskf->dtype, maskf->device);
    prior_tensor *pm[2] = {lead, maskf};
    prior_tensor *full = lead ? prior_cat(2, pm, 1) : NULL; /* [N, L+1] */
    prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)maskf->dtype, maskf->device);
    prior_tensor *pad = (full && zero) ? prior_eq(full, zero) : NULL;
    int64_t shape4[4] = {n, 1, 1, l + 1};
    prior_tensor *pad4 = pad ? prior_reshape(pad, 4, shape4) : NULL;
    prior_tensor *masked = pad4 ? prior_masked_fill(scores, pad4, -INFINITY) : NULL;
    prior_free_all(6, lead, full, zero, pad, pad4, scores);
    scores = masked;
  }
  attn = scores ? prior_softmax(scores, -1) : NULL;
  ctx = (attn && vh) ? prior_matmul(attn, vh) : NULL; /* [N, h, 1, d] */
  int64_t flat_shape[2] = {n, c};
  merged = ctx ? prior_reshape(ctx, 2, flat_shape) : NULL; /* heads are adjacent: [N, h*d] */
  out = merged ? prior_linear_layer_forward(&pool->c_proj, merged) : NULL;
  if (weights) {
    int64_t wshape[3] = {n, pool->num_heads, l + 1};
    *weights = (out && attn) ? prior_reshape(attn, 3, wshape) : NULL;
  }
  prior_free_all(14, maskf, mean, x, q, k, v, qh, kh, vh, kt, scores, attn, ctx, merged);
  return out;
}

prior_tensor *prior_attention_pool_map(const prior_attention_pool *pool, prior_tensor *map) {
  if (prior_check_ndim("attention_pool_map", "map", map, 4) != PRIOR_OK) return NULL;
  prior_tensor *flat = prior_flatten(map, 2, 3); /* [N, C, HW] */
  prior_tensor *tokens = flat ? prior_transpose(flat, 1, 2) : NULL;
  prior_tensor *out = tokens ? prior_attention_pool_forward(pool, tokens, NULL, NULL) : NULL;
  prior_free_all(2, flat, tokens);
  return out;
}
