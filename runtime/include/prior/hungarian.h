/* Minimum-cost assignment (the Hungarian method, O(n^3), Jonker-Volgenant style shortest augmenting paths with
 * potentials). Rectangular matrices are allowed: with rows <= cols every row gets a distinct column; with
 * rows > cols every column gets a distinct row. Same answer as scipy.optimize.linear_sum_assignment. */
#ifndef PRIOR_HUNGARIAN_H
#define PRIOR_HUNGARIAN_H

#include <stdint.h>

#include "prior/error.h"

/* cost: row-major [rows, cols], finite values. row_to_col[r] receives the column assigned to row r, or -1 when
 * rows > cols and row r is left out. total (may be NULL) receives the summed cost. */
prior_status prior_hungarian(const double *cost, int64_t rows, int64_t cols, int64_t *row_to_col, double *total);

#endif
