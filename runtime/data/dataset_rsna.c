/* RSNA Pneumonia: stage_2_train_labels.csv (one row per box; Target 0 rows have empty boxes), DICOM images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "data/strmap.h"

void prior_rsna_options_default(prior_rsna_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->box_frame = 1024;
  opt->check_images = 1;
}

prior_status prior_rsna_open(const prior_rsna_options *opt, prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_rsna_open: out is NULL");
  *out = NULL;
  if (!opt || !opt->root) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_rsna_open: options need a root");
  if (!(opt->box_frame > 0))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_rsna_open: box_frame must be positive, got %g", opt->box_frame);
  char csv_path[PRIOR_DS_PATH_MAX], images[PRIOR_DS_PATH_MAX], path[PRIOR_DS_PATH_MAX];
  PRIOR_TRY(prior_ds_join(csv_path, opt->root, "stage_2_train_labels.csv"));
  PRIOR_TRY(prior_ds_join(images, opt->root, "stage_2_train_images"));
  prior_csv *csv = NULL;
  PRIOR_TRY(prior_csv_read(csv_path, &csv));
  static const char *const names[6] = {"patientId", "x", "y", "width", "height", "Target"};
  int col[6];
  prior_status st = PRIOR_OK;
  for (int k = 0; st == PRIOR_OK && k < 6; k++) st = prior_ds_column(csv, csv_path, names[k], &col[k]);
  static const char *const label[1] = {"Pneumonia"};
  prior_dataset *ds = NULL;
  if (st == PRIOR_OK && !(ds = prior_ds_new("rsna", PRIOR_IMAGE_DICOM, 1, label))) st = prior_error_code();
  prior_strmap index_of; /* patientId -> sample index, or -1 when its image is missing */
  prior_strmap_init(&index_of);
  for (int64_t r = 0; st == PRIOR_OK && r < prior_csv_rows(csv); r++) {
    const char *id = prior_csv_cell(csv, r, col[0]);
    double v[5];
    for (int k = 0; st == PRIOR_OK && k < 5; k++) st = prior_csv_double(csv, r, col[k + 1], &v[k]);
    if (st != PRIOR_OK) break;
    if (!(v[4] == 0 || v[4] == 1)) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: Target is %g, expected 0 or 1", csv_path,
                           prior_csv_line(csv, r), v[4]);
      break;
    }
    if (v[4] == 1 && (isnan(v[0]) || isnan(v[1]) || !(v[2] > 0) || !(v[3] > 0))) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: a Target 1 row needs x, y and a positive width "
                           "and height", csv_path, prior_csv_line(csv, r));
      break;
    }
    int64_t si;
    if (!prior_strmap_get(&index_of, id, &si)) {
      char name[1024];
      snprintf(name, sizeof name, "%s.dcm", id);
      if ((st = prior_ds_join(path, images, name)) != PRIOR_OK) break;
      if (opt->check_images && !prior_ds_file_exists(path)) {
        ds->drops.missing_image++;
        ds->drops.no_image++;
        si = -1;
      } else {
        prior_ds_sample *s = prior_ds_push(ds, id);
        if (!s || (st = prior_ds_add_string(&s->images, &s->nimages, path)) != PRIOR_OK) {
          st = prior_error_code();
          break;
        }
        si = ds->n - 1;
      }
      if ((st = prior_strmap_put(&index_of, id, si)) != PRIOR_OK) break;
    }
    if (si < 0) continue;
    prior_ds_sample *s = &ds->samples[si];
    if (v[4] == 1) {
      s->labels[0] = 1;
      float box[4] = {(float)(v[0] / opt->box_frame), (float)(v[1] / opt->box_frame), (float)(v[2] / opt->box_frame),
                      (float)(v[3] / opt->box_frame)};
      st = prior_ds_add_box(s, box);
    }
  }
  prior_strmap_free(&index_of);
  prior_csv_free(csv);
  if (st != PRIOR_OK) {
    prior_dataset_free(ds);
    return st;
  }
  *out = ds;
  return PRIOR_OK;
}
