/* Sentence gathering: token states -> one vector per sentence, batched through a membership matrix. */
#include <math.h>

#include "prior/ops_elementwise.h"
#include "prior/ops_index.h"
#include "prior/ops_linalg.h"
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

prior_tensor *prior_sentence_gather(prior_tensor *hidden, prior_tensor *sentence_index, int64_t max_sentences,
                                    prior_sentence_pool pool, prior_tensor **mask_out) {
  const char *op = "sentence_gather";
  if (mask_out) *mask_out = NULL;
  if (prior_check_ndim(op, "hidden", hidden, 3) != PRIOR_OK ||
      prior_check_ndim(op, "sentence_index", sentence_index, 2) != PRIOR_OK)
    return NULL;
  if (sentence_index->shape[0] != hidden->shape[0] || sentence_index->shape[1] != hidden->shape[1]) {
    char a[64], b[64];
    prior_error_set(PRIOR_ERR_SHAPE, "%s: sentence_index %s does not match hidden %s", op,
                    prior_tensor_shape_str(sentence_index, a, sizeof a), prior_tensor_shape_str(hidden, b, sizeof b));
    return NULL;
  }
  if (max_sentences <= 0) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "%s: max_sentences %lld must be positive", op, (long long)max_sentences);
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
  if (out && mask_out) {
    prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)count->dtype, count->device);
    prior_tensor *present = prior_gt(count, zero);
    prior_tensor *pf = present ? prior_to_dtype(present, (prior_dtype)hidden->dtype) : NULL;
    *mask_out = pf ? prior_squeeze(pf, -1) : NULL;
    prior_free_all(3, zero, present, pf);
    if (!*mask_out) {
      prior_tensor_free(out);
      out = NULL;
    }
  }
  prior_free_all(3, member, memberf, count);
  return out;
}
