/* Split files: seeded train/val/test assignment written once and reused, and the 1%/10%/100% training subsets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "data/strmap.h"

/* Python's round() (half to even), which the published split sizes follow. */
static int64_t py_round(double x) { return (int64_t)nearbyint(x); }

static prior_status id_index(const prior_dataset *ds, prior_strmap *m) {
  prior_strmap_init(m);
  for (int64_t i = 0; i < ds->n; i++) {
    if (prior_strmap_get(m, ds->samples[i].id, NULL))
      return prior_error_set(PRIOR_ERR_ARGUMENT, "dataset %s: id '%s' appears twice; a split needs unique ids",
                             ds->kind, ds->samples[i].id);
    PRIOR_TRY(prior_strmap_put(m, ds->samples[i].id, i));
  }
  return PRIOR_OK;
}

static int split_code(const char *s) {
  return !strcmp(s, "train") ? 0 : !strcmp(s, "val") ? 1 : !strcmp(s, "test") ? 2 : -1;
}

/* Reads a split file into order[] (dataset indices in file order) and which[] (0 train, 1 val, 2 test), checking
 * that it lists every sample of ds exactly once. */
static prior_status read_split(const prior_dataset *ds, const char *path, int64_t **order, int **which) {
  *order = NULL;
  *which = NULL;
  prior_csv *csv = NULL;
  PRIOR_TRY(prior_csv_read(path, &csv));
  prior_strmap ids;
  int c_id, c_split;
  int64_t n = prior_csv_rows(csv);
  char *seen = NULL;
  prior_status st = id_index(ds, &ids);
  if (st == PRIOR_OK) st = prior_ds_column(csv, path, "id", &c_id);
  if (st == PRIOR_OK) st = prior_ds_column(csv, path, "split", &c_split);
  if (st == PRIOR_OK && n != ds->n)
    st = prior_error_set(PRIOR_ERR_FORMAT, "split file %s lists %lld samples but dataset %s has %lld; it was made "
                         "for other data (remove it to make a new one)", path, (long long)n, ds->kind,
                         (long long)ds->n);
  if (st == PRIOR_OK) {
    *order = malloc((size_t)(n > 0 ? n : 1) * sizeof **order);
    *which = malloc((size_t)(n > 0 ? n : 1) * sizeof **which);
    seen = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!*order || !*which || !seen) st = prior_error_set(PRIOR_ERR_MEMORY, "split file %s: out of memory", path);
  }
  for (int64_t r = 0; st == PRIOR_OK && r < n; r++) {
    const char *id = prior_csv_cell(csv, r, c_id);
    int64_t i;
    int w = split_code(prior_csv_cell(csv, r, c_split));
    if (w < 0)
      st = prior_error_set(PRIOR_ERR_FORMAT, "split file %s line %lld: split '%s' is not train, val or test", path,
                           prior_csv_line(csv, r), prior_csv_cell(csv, r, c_split));
    else if (!prior_strmap_get(&ids, id, &i))
      st = prior_error_set(PRIOR_ERR_FORMAT, "split file %s line %lld: id '%s' is not in dataset %s (remove the "
                           "file to make a new one)", path, prior_csv_line(csv, r), id, ds->kind);
    else if (seen[i])
      st = prior_error_set(PRIOR_ERR_FORMAT, "split file %s line %lld: id '%s' is listed twice", path,
                           prior_csv_line(csv, r), id);
    else {
      seen[i] = 1;
      (*order)[r] = i;
      (*which)[r] = w;
    }
  }
  free(seen);
  prior_strmap_free(&ids);
  prior_csv_free(csv);
  if (st != PRIOR_OK) {
    free(*order);
    free(*which);
    *order = NULL;
    *which = NULL;
  }
  return st;
}

prior_status prior_split_ensure(const prior_dataset *ds, const char *path, double val_fraction,
                                double test_fraction, uint64_t seed) {
  if (!ds || !path) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_split_ensure: need a dataset and a path");
  if (!(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction <= 1))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "split %s: val %g and test %g must be fractions summing to <= 1", path,
                           val_fraction, test_fraction);
  if (prior_ds_file_exists(path)) {
    int64_t *order;
    int *which;
    PRIOR_TRY(read_split(ds, path, &order, &which));
    free(order);
    free(which);
    return PRIOR_OK;
  }
  prior_strmap ids;
  prior_status st = id_index(ds, &ids); /* refuses duplicate ids before anything is written */
  prior_strmap_free(&ids);
  if (st != PRIOR_OK) return st;
  int64_t n = ds->n, nval = py_round(n * val_fraction), ntest = py_round(n * test_fraction);
  int64_t ntrain = n - nval - ntest;
  if (ntrain < 0) ntrain = 0, ntest = n - nval;
  int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
  if (!perm) return prior_error_set(PRIOR_ERR_MEMORY, "split %s: out of memory", path);
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  st = prior_ds_shuffle(perm, n, seed, 0);
  char tmp[PRIOR_DS_PATH_MAX];
  prior_csv_writer *w = NULL;
  if (st == PRIOR_OK) st = prior_ds_write_atomic_begin(path, tmp, &w);
  if (st == PRIOR_OK) {
    const char *header[2] = {"id", "split"};
    prior_status ws = prior_csv_writer_row(w, 2, header);
    for (int64_t k = 0; ws == PRIOR_OK && k < n; k++) {
      const char *row[2] = {ds->samples[perm[k]].id, k < ntrain ? "train" : k < ntrain + nval ? "val" : "test"};
      ws = prior_csv_writer_row(w, 2, row);
    }
    st = prior_ds_write_atomic_end(path, tmp, w, ws);
  }
  free(perm);
  return st;
}

prior_status prior_split_select(const prior_dataset *ds, const char *path, const char *split, double fraction,
                                prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_split_select: out is NULL");
  *out = NULL;
  if (!ds || !path || !split) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_split_select: NULL argument");
  int want = split_code(split);
  if (want < 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "split '%s': expected train, val or test", split);
  if (want == 0 && !(fraction > 0 && fraction <= 1))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "split %s: training fraction %g must be in (0, 1]", path, fraction);
  int64_t *order;
  int *which;
  PRIOR_TRY(read_split(ds, path, &order, &which));
  int64_t m = 0;
  for (int64_t r = 0; r < ds->n; r++)
    if (which[r] == want) order[m++] = order[r];
  if (want == 0) m = py_round((double)m * fraction);
  prior_status st = prior_dataset_subset(ds, order, m, out);
  free(order);
  free(which);
  return st;
}
