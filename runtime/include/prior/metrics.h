/* Evaluation metrics on plain arrays: classification (accuracy, macro precision/recall/F1, Cohen's kappa,
 * confusion matrix), ranking (AUC-ROC), retrieval (precision@K), segmentation (Dice). Definitions follow
 * scikit-learn's (zero_division = 0 for undefined precision/recall/F1 of a class). */
#ifndef PRIOR_METRICS_H
#define PRIOR_METRICS_H

#include <stdint.h>

#include "prior/error.h"

typedef struct prior_classification_metrics {
  double accuracy;
  double macro_precision, macro_recall, macro_f1;
  double kappa; /* Cohen's kappa */
} prior_classification_metrics;

/* truth and pred: n class indices in [0, n_classes). confusion (may be NULL): n_classes x n_classes counts,
 * row = truth, column = prediction. */
prior_status prior_classification_metrics_compute(const int64_t *truth, const int64_t *pred, int64_t n, int64_t n_classes,
                                                  prior_classification_metrics *out, int64_t *confusion);
/* Area under the ROC curve of scores for binary labels (ties handled by the trapezoid rule, as sklearn's
 * roc_auc_score). Error when only one class is present. */
prior_status prior_auc_roc(const double *scores, const uint8_t *labels, int64_t n, double *auc);
/* Retrieval: for each of n_queries rows of scores [n_queries, n_items] (higher = better), the fraction of the top k
 * items whose class equals the query's class, averaged over queries. */
prior_status prior_precision_at_k(const double *scores, int64_t n_queries, int64_t n_items, const int64_t *query_class,
                                  const int64_t *item_class, int64_t k, double *out);
/* Dice of binary masks (1 when both are empty, as is conventional for SIIM). */
double prior_dice(const uint8_t *pred, const uint8_t *truth, int64_t n);

#endif
