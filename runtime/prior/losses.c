/* PRIOR's alignment losses, composed from differentiable ops. */
#include <math.h>

#include "prior/prior.h"
#include "prior/prior_modules.h"

/* exp(scale) * norm(a) norm(b)^T over the last dim, batched. */
static prior_tensor *scaled_similarity(prior_tensor *a, prior_tensor *b, prior_tensor *logit_scale) {
  prior_tensor *an = prior_normalize(a, -1, 1e-12), *bn = prior_normalize(b, -1, 1e-12);
  prior_tensor *bt = bn ? prior_transpose(bn, -2, -1) : NULL;
  prior_tensor *sim = (an && bt) ? prior_matmul(an, bt) : NULL;
  prior_tensor *scale = logit_scale ? prior_exp(logit_scale) : NULL;
  prior_tensor *out = (sim && scale) ? prior_mul(sim, scale) : NULL;
  prior_free_all(5, an, bn, bt, sim, scale);
  return out;
}

/* With several processes: this rank's rows against the whole global batch's (all-gathered, as the reference's
 * SyncFunction), labels offset by rank * B; the mean over ranks of this loss is the one-process loss of the global
 * batch. */
static prior_tensor *infonce_gathered(prior_tensor *a, prior_tensor *b, prior_tensor *logit_scale) {
  int64_t n = a->shape[0];
  prior_tensor *a_all = prior_dist_all_gather(a), *b_all = a_all ? prior_dist_all_gather(b) : NULL;
  prior_tensor *ab = b_all ? scaled_similarity(a, b_all, logit_scale) : NULL; /* [B, size * B] */
  prior_tensor *ba = ab ? scaled_similarity(b, a_all, logit_scale) : NULL;
  prior_tensor *labels = prior_tensor_arange((double)(n * prior_dist_rank()), (double)(n * (prior_dist_rank() + 1)), 1,
                                             PRIOR_I64, a->device);
  prior_tensor *l1 = (ba && labels) ? prior_cross_entropy(ab, labels, PRIOR_REDUCTION_MEAN, -1, 0) : NULL;
  prior_tensor *l2 = l1 ? prior_cross_entropy(ba, labels, PRIOR_REDUCTION_MEAN, -1, 0) : NULL;
  prior_tensor *sum = l2 ? prior_add(l1, l2) : NULL;
  prior_tensor *out = sum ? prior_mul_scalar(sum, 0.5) : NULL;
  prior_free_all(8, a_all, b_all, ab, ba, labels, l1, l2, sum);
  return out;
}

prior_tensor *prior_infonce(prior_tensor *a, prior_tensor *b, prior_tensor *logit_scale) {
  if (prior_check_ndim("infonce", "a", a, 2) || prior_check_ndim("infonce", "b", b, 2)) return NULL;
  if (!prior_tensor_same_shape(a, b)) {
    char x[64], y[64];
    prior_error_set(PRIOR_ERR_SHAPE, "infonce: embeddings %s and %s differ", prior_tensor_shape_str(a, x, sizeof x),
                    prior_tensor_shape_str(b, y, sizeof y));
    return NULL;
  }
  if (prior_dist_size() > 1) return infonce_gathered(a, b, logit_scale);
  prior_tensor *logits = scaled_similarity(a, b, logit_scale);
  prior_tensor *labels = prior_tensor_arange(0, (double)a->shape[0], 1, PRIOR_I64, a->device);
  prior_tensor *lt = logits ? prior_transpose(logits, 0, 1) : NULL;
  prior_tensor *l1 = (lt && labels) ? prior_cross_entropy(logits, labels, PRIOR_REDUCTION_MEAN, -1, 0) : NULL;
  prior_tensor *l2 = l1 ? prior_cross_entropy(lt, labels, PRIOR_REDUCTION_MEAN, -1, 0) : NULL;
  prior_tensor *sum = l2 ? prior_add(l1, l2) : NULL;
  prior_tensor *out = sum ? prior_mul_scalar(sum, 0.5) : NULL;
  prior_free_all(6, logits, labels, lt, l1, l2, sum);
  return out;
}

/* Cross-entropy of each real row of logits [B, M, M] (columns of padded sentences masked out) with label m;
 * returns the per-report mean over real rows, [B]. */
static prior_tensor *row_ce(prior_tensor *logits, prior_tensor *mask) {
  int64_t b = logits->shape[0], m = logits->shape[1];
  prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)mask->dtype, mask->device);
  prior_tensor *col_pad = prior_eq(mask, zero);                       /* [B, M] */
  prior_tensor *col_pad3 = col_pad ? prior_unsqueeze(col_pad, 1) : NULL; /* [B, 1, M] */
  prior_tensor *masked = col_pad3 ? prior_masked_fill(logits, col_pad3, -INFINITY) : NULL;
  prior_tensor *logp = masked ? prior_log_softmax(masked, -1) : NULL;
  prior_tensor *eye = prior_tensor_eye(m, m, (prior_dtype)logits->dtype, logits->device);
  prior_tensor *diag_all = (logp && eye) ? prior_mul(logp, eye) : NULL; /* -inf * 0 never happens: diagonal of real rows is finite */
  prior_tensor *row_mask = prior_unsqueeze(mask, -1);                 /* [B, M, 1] */
  prior_tensor *eye_real = (eye && row_mask) ? prior_mul(eye, row_mask) : NULL;
  /* padded rows are all -inf except ... take only the diagonal entries of real rows */
  prior_tensor *nan_safe = NULL;
  if (logp && eye_real) {
    prior_tensor *zf = prior_tensor_zeros(0, NULL, (prior_dtype)logp->dtype, logp->device);
    prior_tensor *keep = prior_gt(eye_real, zf);
    nan_safe = keep ? prior_where(keep, logp, zf) : NULL;
    prior_free_all(2, zf, keep);
  }
  int64_t dims[2] = {1, 2};
  prior_tensor *total = nan_safe ? prior_sum(nan_safe, 2, dims, 0) : NULL; /* [B] sum of log p over real rows */
  int64_t one = 1;
  prior_tensor *count = prior_sum(mask, 1, &one, 0);
  prior_tensor *safe = count ? prior_clamp(count, 1.0, NAN) : NULL;
  prior_tensor *mean = (total && safe) ? prior_div(total, safe) : NULL;
  prior_tensor *out = mean ? prior_neg(mean) : NULL;
  prior_free_all(14, zero, col_pad, col_pad3, masked, logp, eye, diag_all, row_mask, eye_real, nan_safe, total, count,
                 safe, mean);
  (void)b;
  return out;
}

prior_tensor *prior_local_text_infonce(prior_tensor *c, prior_tensor *t, prior_tensor *mask, prior_tensor *logit_scale) {
  if (prior_check_ndim("local_text_infonce", "c", c, 3) || prior_check_ndim("local_text_infonce", "t", t, 3) ||
      prior_check_ndim("local_text_infonce", "mask", mask, 2))
    return NULL;
  prior_tensor *logits = scaled_similarity(c, t, logit_scale); /* [B, M, M] */
  prior_tensor *lt = logits ? prior_transpose(logits, 1, 2) : NULL;
  prior_tensor *a = lt ? row_ce(logits, mask) : NULL, *b = a ? row_ce(lt, mask) : NULL;
  prior_tensor *both = b ? prior_add(a, b) : NULL;
  /* average over reports that have at least one sentence */
  int64_t one = 1;
  prior_tensor *count = prior_sum(mask, 1, &one, 0);
  prior_tensor *zero = prior_tensor_zeros(0, NULL, (prior_dtype)mask->dtype, mask->device);
  prior_tensor *has = count ? prior_gt(count, zero) : NULL;
  prior_tensor *hasf = has ? prior_to_dtype(has, (prior_dtype)c->dtype) : NULL;
  prior_tensor *weighted = (both && hasf) ? prior_mul(both, hasf) : NULL;
  prior_tensor *total = weighted ? prior_sum(weighted, 0, NULL, 0) : NULL;
  prior_tensor *n = hasf ? prior_sum(hasf, 0, NULL, 0) : NULL;
  prior_tensor *n_safe = n ? prior_clamp(n, 1.0, NAN) : NULL;
  prior_tensor *mean = (total && n_safe) ? prior_div(total, n_safe) : NULL;
  prior_tensor *out = mean ? prior_mul_scalar(mean, 0.5) : NULL;
  prior_free_all(14, logits, lt, a, b, both, count, zero, has, hasf, weighted, total, n, n_safe, mean);
  return out;
}

prior_tensor *prior_simsiam_loss(prior_tensor *p_a, prior_tensor *b, prior_tensor *p_b, prior_tensor *a) {
  prior_tensor *sb = prior_detach(b), *sa = prior_detach(a);
  prior_tensor *c1 = sb ? prior_cosine_similarity(p_a, sb, -1, 1e-8) : NULL;
  prior_tensor *c2 = sa ? prior_cosine_similarity(p_b, sa, -1, 1e-8) : NULL;
  prior_tensor *m1 = c1 ? prior_mean(c1, 0, NULL, 0) : NULL, *m2 = c2 ? prior_mean(c2, 0, NULL, 0) : NULL;
  prior_tensor *sum = (m1 && m2) ? prior_add(m1, m2) : NULL;
  prior_tensor *out = sum ? prior_mul_scalar(sum, -0.5) : NULL;
  prior_free_all(7, sb, sa, c1, c2, m1, m2, sum);
  return out;
}

prior_tensor *prior_masked_l1(prior_tensor *a, prior_tensor *b, prior_tensor *mask) {
  prior_tensor *diff = prior_sub(a, b);
  prior_tensor *ab = diff ? prior_abs(diff) : NULL;
  prior_tensor *out = NULL;
  if (ab && !mask) {
    out = prior_mean(ab, 0, NULL, 0);
  } else if (ab) {
    prior_tensor *m = prior_unsqueeze(mask, -1);
    prior_tensor *masked = m ? prior_mul(ab, m) : NULL;
    prior_tensor *total = masked ? prior_sum(masked, 0, NULL, 0) : NULL;
    prior_tensor *count = prior_sum(mask, 0, NULL, 0);
    prior_tensor *denom = count ? prior_mul_scalar(count, (double)a->shape[a->ndim - 1]) : NULL;
    prior_tensor *safe = denom ? prior_clamp(denom, 1.0, NAN) : NULL;
    out = (total && safe) ? prior_div(total, safe) : NULL;
    prior_free_all(6, m, masked, total, count, denom, safe);
  }
  prior_free_all(2, diff, ab);
  return out;
}
