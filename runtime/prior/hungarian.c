/* Hungarian method via shortest augmenting paths with row/column potentials (the e-maxx formulation).
 * Works on n <= m; a tall matrix is solved transposed. */
#include "prior/hungarian.h"

#include <math.h>
#include <stdlib.h>

/* Solves n <= m; cost(i, j) read through the strides so the transposed case needs no copy. */
static prior_status solve(const double *cost, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride,
                          int64_t *assign_row_to_col) {
  /* 1-based arrays as in the textbook formulation; index 0 is the virtual start column. */
  double *u = calloc((size_t)n + 1, sizeof *u), *v = calloc((size_t)m + 1, sizeof *v);
  double *minv = malloc(((size_t)m + 1) * sizeof *minv);
  int64_t *p = calloc((size_t)m + 1, sizeof *p), *way = calloc((size_t)m + 1, sizeof *way);
  char *used = malloc((size_t)m + 1);
  if (!u || !v || !minv || !p || !way || !used) {
    free(u), free(v), free(minv), free(p), free(way), free(used);
    return prior_error_set(PRIOR_ERR_MEMORY, "hungarian: out of memory for a %lld x %lld problem", (long long)n,
                           (long long)m);
  }
  for (int64_t i = 1; i <= n; i++) {
    p[0] = i;
    int64_t j0 = 0;
    for (int64_t j = 0; j <= m; j++) minv[j] = INFINITY, used[j] = 0;
    do {
      used[j0] = 1;
      int64_t i0 = p[j0], j1 = 0;
      double delta = INFINITY;
      for (int64_t j = 1; j <= m; j++) {
        if (used[j]) continue;
        double cur = cost[(i0 - 1) * row_stride + (j - 1) * col_stride] - u[i0] - v[j];
        if (cur < minv[j]) minv[j] = cur, way[j] = j0;
        if (minv[j] < delta) delta = minv[j], j1 = j;
      }
      for (int64_t j = 0; j <= m; j++) {
        if (used[j])
          u[p[j]] += delta, v[j] -= delta;
        else
          minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] != 0);
    do { /* flip the augmenting path */
      int64_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  for (int64_t i = 0; i < n; i++) assign_row_to_col[i] = -1;
  for (int64_t j = 1; j <= m; j++)
    if (p[j]) assign_row_to_col[p[j] - 1] = j - 1;
  free(u), free(v), free(minv), free(p), free(way), free(used);
  return PRIOR_OK;
}

prior_status prior_hungarian(const double *cost, int64_t rows, int64_t cols, int64_t *row_to_col, double *total) {
  if (!cost || !row_to_col || rows < 0 || cols < 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "hungarian: bad arguments (%lld x %lld)", (long long)rows, (long long)cols);
  for (int64_t k = 0; k < rows * cols; k++)
    if (!isfinite(cost[k]))
      return prior_error_set(PRIOR_ERR_ARGUMENT, "hungarian: cost[%lld][%lld] = %g is not finite", (long long)(k / cols),
                             (long long)(k % cols), cost[k]);
  if (rows == 0 || cols == 0) {
    for (int64_t r = 0; r < rows; r++) row_to_col[r] = -1;
    if (total) *total = 0;
    return PRIOR_OK;
  }
  if (rows <= cols) {
    PRIOR_TRY(solve(cost, rows, cols, cols, 1, row_to_col));
  } else { /* solve the transpose: each column picks a row */
    int64_t *col_to_row = malloc((size_t)cols * sizeof *col_to_row);
    if (!col_to_row) return prior_error_set(PRIOR_ERR_MEMORY, "hungarian: out of memory");
    prior_status s = solve(cost, cols, rows, 1, cols, col_to_row);
    if (s == PRIOR_OK) {
      for (int64_t r = 0; r < rows; r++) row_to_col[r] = -1;
      for (int64_t c = 0; c < cols; c++) row_to_col[col_to_row[c]] = c;
    }
    free(col_to_row);
    PRIOR_TRY(s);
  }
  if (total) {
    double sum = 0;
    for (int64_t r = 0; r < rows; r++)
      if (row_to_col[r] >= 0) sum += cost[r * cols + row_to_col[r]];
    *total = sum;
  }
  return PRIOR_OK;
}
