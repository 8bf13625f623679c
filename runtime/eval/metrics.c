/* Classification, ranking, retrieval and segmentation metrics. */
#include "prior/metrics.h"

#include <math.h>
#include <stdlib.h>

prior_status prior_classification_metrics_compute(const int64_t *truth, const int64_t *pred, int64_t n, int64_t n_classes,
                                                  prior_classification_metrics *out, int64_t *confusion) {
  if (!truth || !pred || !out || n <= 0 || n_classes <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "classification metrics: %lld samples, %lld classes", (long long)n,
                           (long long)n_classes);
  int64_t *cm = calloc((size_t)(n_classes * n_classes), sizeof *cm);
  if (!cm) return prior_error_set(PRIOR_ERR_MEMORY, "classification metrics: out of memory");
  for (int64_t i = 0; i < n; i++) {
    if (truth[i] < 0 || truth[i] >= n_classes || pred[i] < 0 || pred[i] >= n_classes) {
      free(cm);
      return prior_error_set(PRIOR_ERR_INDEX, "classification metrics: sample %lld has class %lld / %lld outside [0, %lld)",
                             (long long)i, (long long)truth[i], (long long)pred[i], (long long)n_classes);
    }
    cm[truth[i] * n_classes + pred[i]]++;
  }
  double correct = 0, p_sum = 0, r_sum = 0, f_sum = 0, chance = 0;
  for (int64_t c = 0; c < n_classes; c++) {
    double tp = (double)cm[c * n_classes + c], row = 0, col = 0;
    for (int64_t k = 0; k < n_classes; k++) row += (double)cm[c * n_classes + k], col += (double)cm[k * n_classes + c];
    correct += tp;
    double precision = col > 0 ? tp / col : 0, recall = row > 0 ? tp / row : 0;
    p_sum += precision;
    r_sum += recall;
    f_sum += (precision + recall) > 0 ? 2 * precision * recall / (precision + recall) : 0;
    chance += (row / (double)n) * (col / (double)n);
  }
  out->accuracy = correct / (double)n;
  out->macro_precision = p_sum / (double)n_classes;
  out->macro_recall = r_sum / (double)n_classes;
  out->macro_f1 = f_sum / (double)n_classes;
  out->kappa = chance < 1 ? (out->accuracy - chance) / (1 - chance) : 0;
  if (confusion)
    for (int64_t k = 0; k < n_classes * n_classes; k++) confusion[k] = cm[k];
  free(cm);
  return PRIOR_OK;
}

typedef struct scored {
  double score;
  uint8_t label;
} scored;

static int by_score_desc(const void *a, const void *b) {
  double x = ((const scored *)a)->score, y = ((const scored *)b)->score;
  return (x < y) - (x > y);
}

prior_status prior_auc_roc(const double *scores, const uint8_t *labels, int64_t n, double *auc) {
  if (!scores || !labels || !auc || n <= 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "auc_roc: empty input");
  scored *s = malloc((size_t)n * sizeof *s);
  if (!s) return prior_error_set(PRIOR_ERR_MEMORY, "auc_roc: out of memory");
  double pos = 0, neg = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(scores[i])) {
      free(s);
      return prior_error_set(PRIOR_ERR_ARGUMENT, "auc_roc: score %lld is NaN", (long long)i);
    }
    s[i].score = scores[i];
    s[i].label = labels[i] ? 1 : 0;
    if (s[i].label)
      pos++;
    else
      neg++;
  }
  if (pos == 0 || neg == 0) {
    free(s);
    return prior_error_set(PRIOR_ERR_ARGUMENT, "auc_roc: only one class present (%g positives, %g negatives)", pos, neg);
  }
  qsort(s, (size_t)n, sizeof *s, by_score_desc);
  /* walk thresholds from high to low; tied scores form one step of the curve (trapezoid) */
  double tp = 0, fp = 0, area = 0;
  for (int64_t i = 0; i < n;) {
    double tp0 = tp, fp0 = fp;
    int64_t j = i;
    while (j < n && s[j].score == s[i].score) {
      if (s[j].label)
        tp++;
      else
        fp++;
      j++;
    }
    area += (fp - fp0) * (tp + tp0) / 2;
    i = j;
  }
  *auc = area / (pos * neg);
  free(s);
  return PRIOR_OK;
}

typedef struct ranked {
  double score;
  int64_t index;
} ranked;

static int by_rank(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->score != y->score) return (x->score < y->score) - (x->score > y->score);
  return (x->index > y->index) - (x->index < y->index); /* ties: earlier items first */
}

prior_status prior_precision_at_k(const double *scores, int64_t n_queries, int64_t n_items, const int64_t *query_class,
                                  const int64_t *item_class, int64_t k, double *out) {
  if (!scores || !query_class || !item_class || !out || n_queries <= 0 || n_items <= 0 || k <= 0 || k > n_items)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "precision_at_k: k=%lld with %lld items and %lld queries", (long long)k,
                           (long long)n_items, (long long)n_queries);
  ranked *r = malloc((size_t)n_items * sizeof *r);
  if (!r) return prior_error_set(PRIOR_ERR_MEMORY, "precision_at_k: out of memory");
  double total = 0;
  for (int64_t q = 0; q < n_queries; q++) {
    for (int64_t i = 0; i < n_items; i++) r[i].score = scores[q * n_items + i], r[i].index = i;
    qsort(r, (size_t)n_items, sizeof *r, by_rank);
    int64_t hits = 0;
    for (int64_t i = 0; i < k; i++) hits += item_class[r[i].index] == query_class[q];
    total += (double)hits / (double)k;
  }
  free(r);
  *out = total / (double)n_queries;
  return PRIOR_OK;
}

double prior_dice(const uint8_t *pred, const uint8_t *truth, int64_t n) {
  double inter = 0, sum = 0;
  for (int64_t i = 0; i < n; i++) {
    int p = pred[i] != 0, t = truth[i] != 0;
    inter += p && t;
    sum += p + t;
  }
  return sum == 0 ? 1.0 : 2 * inter / sum;
}
