/* Sentence gathering: token states -> one vector per sentence, batched through a membership matrix. */
#include <math.h>
#include <stdio.h>

#include "prior/ops_elementwise.h"
#include "prior/ops_index.h"
#include "prior/ops_linalg.h"
#include "prior/ops_nn.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"
#include "prior/prior_modules.h"

int64_t prior_sentence_count(const prior_tensor *sentence_index) {
  if (!sentence_index) return 1;
  int64_t n = prior_tensor_numel(sentence_index), best = 1;
  for (int64_t i = 0; i < n; i++) {
    int64_t idx[PRIOR_MAX_DIMS], rem = i;
    for (int d = sentence_index->ndim - 1; d >= 0; d--) idx[d] = rem % sentence_index->shape[d], rem /= sentence_index->shape[d];
    double v = 0;
    prior_tensor_get(sentence_index, idx, &v);
    if (v > best) best = (int64_t)v;
  }
  return best;
}

/* member [B, M, L] (bool): token l belongs to sentence m + 1. */
static prior_tensor *membership(prior_tensor *sentence_index, int64_t m) {
  prior_tensor *idx64 = prior_to_dtype(sentence_index, PRIOR_I64);
  prior_tensor *idx = idx64 ? prior_unsqueeze(idx64, 1) : NULL; /* [B, 1, L] */
  prior_tensor *ids = prior_tensor_arange(1, (double)m + 1, 1, PRIOR_I64, sentence_index->device);
  prior_tensor *ids3 = ids ? prior_reshape(ids, 3, (int64_t[]){1, m, 1}) : NULL;
  prior_tensor *member = (idx && ids3) ? prior_eq(idx, ids3) : NULL;
  prior_free_all(4, idx64, idx, ids, ids3);
  return member;
}

static prior_status check_inputs(const char *op, prior_tensor *hidden, prior_tensor *sentence_index,
                                 int64_t max_sentences) {
  PRIOR_TRY(prior_check_ndim(op, "hidden", hidden, 3));
  PRIOR_TRY(prior_check_ndim(op, "sentence_index", sentence_index, 2));
  if (sentence_index->shape[0] != hidden->shape[0] || sentence_index->shape[1] != hidden->shape[1]) {
    char a[64], b[64];
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: sentence_index %s does not match hidden %s", op,
                           prior_tensor_shape_str(sentence_index, a, sizeof a),
                           prior_tensor_shape_str(hidden, b, sizeof b));
  }
  if (max_sentences <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: max_sentences %lld must be positive", op, (long long)max_sentences);
  return PRIOR_OK;
}

/* 1 where count [B, M, 1] > 0 (the sentence has tokens), as the dtype of count; [B, M, 1]. */
static prior_tensor *presence(prior_tensor *count) {
  prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)count->dtype, count->device);
  prior_tensor *present = zero ? prior_gt(count, zero) : NULL;
  prior_tensor *pf = present ? prior_to_dtype(present, (prior_dtype)count->dtype) : NULL;
  prior_free_all(2, zero, present);
  return pf;
}

/* The [B, M] mask of present sentences into *mask_out (when asked); frees out and returns NULL if that fails. */
static prior_tensor *with_mask(prior_tensor *out, prior_tensor *count, prior_tensor **mask_out) {
  if (!out || !mask_out) return out;
  prior_tensor *pf = presence(count);
  *mask_out = pf ? prior_squeeze(pf, -1) : NULL;
  prior_tensor_free(pf);
  if (!*mask_out) {
    prior_tensor_free(out);
    return NULL;
  }
  return out;
}

prior_tensor *prior_sentence_gather(prior_tensor *hidden, prior_tensor *sentence_index, int64_t max_sentences,
                                    prior_sentence_pool pool, prior_tensor **mask_out) {
  const char *op = "sentence_gather";
  if (mask_out) *mask_out = NULL;
  if (check_inputs(op, hidden, sentence_index, max_sentences) != PRIOR_OK) return NULL;
  if (pool != PRIOR_SENTENCE_AVG && pool != PRIOR_SENTENCE_MAX && pool != PRIOR_SENTENCE_MIN) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: pool %d is not avg (0), max (1) or min (2)%s", op, (int)pool,
                    pool == PRIOR_SENTENCE_ATTENTION ? "; the attention pool has parameters: prior_sentence_gather_attention" : "");
    return NULL;
  }
  int64_t last = 2;
  prior_tensor *member = membership(sentence_index, max_sentences);            /* [B, M, L] bool */
  prior_tensor *memberf = member ? prior_to_dtype(member, (prior_dtype)hidden->dtype) : NULL;
  prior_tensor *count = memberf ? prior_sum(memberf, 1, &last, 1) : NULL;       /* [B, M, 1] */
  prior_tensor *out = NULL;
  if (count && pool == PRIOR_SENTENCE_AVG) {
    prior_tensor *total = prior_matmul(memberf, hidden); /* [B, M, D] */
    prior_tensor *safe = prior_clamp(count, 1.0, NAN);
    out = (total && safe) ? prior_div(total, safe) : NULL;
    prior_free_all(2, total, safe);
  } else if (count) {
    /* masked max/min over the tokens of each sentence: [B, 1, L, D] against [B, M, L, 1] */
    double fill = pool == PRIOR_SENTENCE_MAX ? -INFINITY : INFINITY;
    prior_tensor *bool_zero = prior_tensor_zeros(0, NULL, PRIOR_BOOL, hidden->device);
    prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)hidden->dtype, hidden->device);
    prior_tensor *m4 = prior_unsqueeze(member, -1);
    prior_tensor *outside = (m4 && bool_zero) ? prior_eq(m4, bool_zero) : NULL; /* not a member */
    prior_tensor *h4 = prior_unsqueeze(hidden, 1);
    int64_t shape[4] = {hidden->shape[0], max_sentences, hidden->shape[1], hidden->shape[2]};
    prior_tensor *h_full = h4 ? prior_expand(h4, 4, shape) : NULL;
    prior_tensor *filled = (h_full && outside) ? prior_masked_fill(h_full, outside, fill) : NULL;
    prior_tensor *ext = !filled ? NULL
                        : pool == PRIOR_SENTENCE_MAX ? prior_max(filled, 2, 0, NULL) : prior_min(filled, 2, 0, NULL);
    /* absent sentences become zeros instead of infinities */
    prior_tensor *present = zero ? prior_gt(count, zero) : NULL;
    out = (ext && present) ? prior_where(present, ext, zero) : NULL;
    prior_free_all(9, bool_zero, zero, m4, outside, h4, h_full, filled, ext, present);
  }
  out = with_mask(out, count, mask_out);
  prior_free_all(3, member, memberf, count);
  return out;
}

/* ---- the attention pool ----------------------------------------------------------------------------------------- */

prior_status prior_sentence_attention_init(prior_sentence_attention *a, prior_params *p, const char *prefix, int64_t d) {
  if (!a || !p || !prefix) return prior_error_set(PRIOR_ERR_ARGUMENT, "sentence attention: NULL argument");
  if (d < 8)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "sentence attention: width %lld is below 8 (the projections are D/8 wide)",
                           (long long)d);
  *a = (prior_sentence_attention){.d = d};
  char name[160];
  snprintf(name, sizeof name, "%squery.", prefix);
  PRIOR_TRY(prior_linear_layer_init(&a->query, p, name, d, d / 8, 1, PRIOR_INIT_TORCH_DEFAULT, 0));
  snprintf(name, sizeof name, "%skey.", prefix);
  return prior_linear_layer_init(&a->key, p, name, d, d / 8, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
}

/* Batched over reports and sentences with the membership matrix P [B, M, L] (P[b,m,l] = 1 when token l is in
 * sentence m+1): K = P k sums the keys of each sentence [B, M, E]; logits K q^T [B, M, L] hold q_l . K_m for every
 * token against every sentence; tokens outside a sentence are masked out of its softmax. A sentence with no tokens
 * keeps its logits (all 0, since its K is 0) so its softmax stays finite (a row of -inf would give NaN in the
 * forward and the backward); multiplying by P then zeroes its weights, and its vector is 0 like the other pools. */
prior_tensor *prior_sentence_gather_attention(const prior_sentence_attention *a, prior_tensor *hidden,
                                              prior_tensor *sentence_index, int64_t max_sentences,
                                              prior_tensor **mask_out, prior_tensor **weights_out) {
  const char *op = "sentence_gather_attention";
  if (mask_out) *mask_out = NULL;
  if (weights_out) *weights_out = NULL;
  if (!a || !a->query.weight || !a->key.weight) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: the pool is not initialised", op);
    return NULL;
  }
  if (check_inputs(op, hidden, sentence_index, max_sentences) != PRIOR_OK) return NULL;
  if (hidden->shape[2] != a->d) {
    char h[64];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: hidden %s must have width %lld", op, prior_tensor_shape_str(hidden, h, sizeof h),
                    (long long)a->d);
    return NULL;
  }
  int64_t last = 2;
  prior_tensor *member = membership(sentence_index, max_sentences);            /* P [B, M, L] bool */
  prior_tensor *memberf = member ? prior_to_dtype(member, (prior_dtype)hidden->dtype) : NULL;
  prior_tensor *count = memberf ? prior_sum(memberf, 1, &last, 1) : NULL;       /* [B, M, 1] */
  prior_tensor *present = count ? presence(count) : NULL;                       /* [B, M, 1] */
  prior_tensor *q = present ? prior_linear_layer_forward(&a->query, hidden) : NULL; /* [B, L, E] */
  prior_tensor *k = q ? prior_linear_layer_forward(&a->key, hidden) : NULL;         /* [B, L, E] */
  prior_tensor *ksum = k ? prior_matmul(memberf, k) : NULL;                          /* [B, M, E] */
  prior_tensor *qt = ksum ? prior_transpose(q, 1, 2) : NULL;                         /* [B, E, L] */
  prior_tensor *logits = qt ? prior_matmul(ksum, qt) : NULL;                         /* [B, M, L] */
  /* present > member: a token outside a sentence that has tokens */
  prior_tensor *outside = logits ? prior_gt(present, memberf) : NULL;
  prior_tensor *masked = outside ? prior_masked_fill(logits, outside, -INFINITY) : NULL;
  prior_tensor *soft = masked ? prior_softmax(masked, -1) : NULL;
  prior_tensor *weights = soft ? prior_mul(soft, memberf) : NULL;
  prior_tensor *out = weights ? prior_matmul(weights, hidden) : NULL; /* [B, M, D] */
  out = with_mask(out, count, mask_out);
  if (out && weights_out) *weights_out = prior_tensor_retain(weights);
  prior_free_all(12, member, memberf, count, present, q, k, ksum, qt, logits, outside, masked, soft);
  prior_tensor_free(weights);
  return out;
}
