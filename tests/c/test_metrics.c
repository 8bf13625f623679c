/* Metrics against scikit-learn's values (tests/fixtures/metrics/metrics_cases.txt) and hand-made cases. */
#include <stdlib.h>

#include "check.h"
#include "prior/metrics.h"

static int read_ints(FILE *f, int64_t *out, int n) {
  for (int i = 0; i < n; i++)
    if (fscanf(f, "%lld", (long long *)&out[i]) != 1) return 0;
  return 1;
}

int main(void) {
  FILE *f = fopen("tests/fixtures/metrics/metrics_cases.txt", "r");
  CHECK(f != NULL);
  char kind[8];
  int cases = 0;
  while (f && fscanf(f, "%7s", kind) == 1) {
    if (kind[0] == 'c') {
      int n, c;
      if (fscanf(f, "%d %d", &n, &c) != 2) break;
      int64_t *t = malloc(n * sizeof *t), *p = malloc(n * sizeof *p);
      double want[5];
      CHECK(read_ints(f, t, n) && read_ints(f, p, n));
      for (int i = 0; i < 5; i++) CHECK(fscanf(f, "%lf", &want[i]) == 1);
      prior_classification_metrics m;
      CHECK_OK(prior_classification_metrics_compute(t, p, n, c, &m, NULL));
      CHECK_NEAR(m.accuracy, want[0], 1e-12);
      CHECK_NEAR(m.macro_precision, want[1], 1e-12);
      CHECK_NEAR(m.macro_recall, want[2], 1e-12);
      CHECK_NEAR(m.macro_f1, want[3], 1e-12);
      CHECK_NEAR(m.kappa, want[4], 1e-12);
      free(t), free(p);
    } else {
      int n;
      if (fscanf(f, "%d", &n) != 1) break;
      int64_t *l = malloc(n * sizeof *l);
      uint8_t *lb = malloc(n);
      double *s = malloc(n * sizeof *s), want, auc;
      CHECK(read_ints(f, l, n));
      for (int i = 0; i < n; i++) {
        CHECK(fscanf(f, "%lf", &s[i]) == 1);
        lb[i] = (uint8_t)l[i];
      }
      CHECK(fscanf(f, "%lf", &want) == 1);
      CHECK_OK(prior_auc_roc(s, lb, n, &auc));
      CHECK_NEAR(auc, want, 1e-12);
      free(l), free(lb), free(s);
    }
    cases++;
  }
  CHECK(cases == 10);
  if (f) fclose(f);
  /* precision@k: 2 queries over 4 items */
  double scores[8] = {0.9, 0.1, 0.8, 0.2, /* query of class 1 */ 0.3, 0.7, 0.1, 0.6};
  int64_t qc[2] = {1, 0}, ic[4] = {1, 0, 1, 0}, cm[4];
  double p1, p2;
  CHECK_OK(prior_precision_at_k(scores, 2, 4, qc, ic, 1, &p1));
  CHECK_OK(prior_precision_at_k(scores, 2, 4, qc, ic, 2, &p2));
  CHECK(p1 == 1.0 && p2 == 1.0);
  int64_t t[4] = {0, 0, 1, 1}, p[4] = {0, 1, 1, 1};
  prior_classification_metrics m;
  CHECK_OK(prior_classification_metrics_compute(t, p, 4, 2, &m, cm));
  CHECK(cm[0] == 1 && cm[1] == 1 && cm[2] == 0 && cm[3] == 2);
  uint8_t a[4] = {1, 1, 0, 0}, b[4] = {1, 0, 0, 0}, z[4] = {0};
  CHECK_NEAR(prior_dice(a, b, 4), 2.0 / 3.0, 1e-12);
  CHECK(prior_dice(z, z, 4) == 1.0);
  /* errors */
  int64_t bad[2] = {0, 5};
  CHECK_ERR(prior_classification_metrics_compute(bad, bad, 2, 2, &m, NULL), PRIOR_ERR_INDEX, "outside [0, 2)");
  uint8_t one[2] = {1, 1};
  double sc[2] = {0.1, 0.2}, auc;
  CHECK_ERR(prior_auc_roc(sc, one, 2, &auc), PRIOR_ERR_ARGUMENT, "only one class");
  CHECK_ERR(prior_precision_at_k(scores, 2, 4, qc, ic, 5, &p1), PRIOR_ERR_ARGUMENT, "k=5");
  return check_summary("test_metrics");
}
