/* Hungarian assignment against brute force on small square and rectangular matrices, and a scipy case. */
#include <float.h>
#include <stdlib.h>

#include "check.h"
#include "prior/hungarian.h"

/* Minimum over injective maps from the smaller side into the larger one, by recursion over permutations. */
static double brute(const double *c, int rows, int cols, int r, unsigned used) {
  if (rows <= cols) {
    if (r == rows) return 0;
    double best = DBL_MAX;
    for (int j = 0; j < cols; j++)
      if (!(used & (1u << j))) {
        double v = c[r * cols + j] + brute(c, rows, cols, r + 1, used | (1u << j));
        if (v < best) best = v;
      }
    return best;
  }
  /* tall: assign each column a distinct row */
  if (r == cols) return 0;
  double best = DBL_MAX;
  for (int i = 0; i < rows; i++)
    if (!(used & (1u << i))) {
      double v = c[i * cols + r] + brute(c, rows, cols, r + 1, used | (1u << i));
      if (v < best) best = v;
    }
  return best;
}

int main(void) {
  srand(7);
  for (int trial = 0; trial < 300; trial++) {
    int rows = 1 + rand() % 7, cols = 1 + rand() % 7;
    double c[64];
    for (int k = 0; k < rows * cols; k++) c[k] = (rand() % 1000) / 100.0 - (trial % 3 == 0 ? 5.0 : 0.0);
    int64_t assign[8];
    double total;
    CHECK_OK(prior_hungarian(c, rows, cols, assign, &total));
    CHECK_NEAR(total, brute(c, rows, cols, 0, 0), 1e-9);
    unsigned seen = 0;
    int assigned = 0;
    for (int r = 0; r < rows; r++)
      if (assign[r] >= 0) {
        CHECK(!(seen & (1u << assign[r])));
        seen |= 1u << assign[r];
        assigned++;
      }
    CHECK(assigned == (rows < cols ? rows : cols));
  }
  /* scipy.optimize.linear_sum_assignment([[4,1,3],[2,0,5],[3,2,2]]) -> cols [1,0,2], cost 5 */
  double c3[9] = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  int64_t a3[3];
  double t3;
  CHECK_OK(prior_hungarian(c3, 3, 3, a3, &t3));
  CHECK(a3[0] == 1 && a3[1] == 0 && a3[2] == 2 && t3 == 5);
  double bad[2] = {1, NAN};
  int64_t ab[2];
  CHECK_ERR(prior_hungarian(bad, 1, 2, ab, NULL), PRIOR_ERR_ARGUMENT, "not finite");
  /* a 16 x 16 problem like PRIOR's, well within a millisecond */
  double big[256];
  for (int k = 0; k < 256; k++) big[k] = rand() / (double)RAND_MAX;
  int64_t ag[16];
  CHECK_OK(prior_hungarian(big, 16, 16, ag, NULL));
  return check_summary("test_hungarian");
}
