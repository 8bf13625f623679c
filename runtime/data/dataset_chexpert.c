/* CheXpert train.csv / valid.csv: one sample per row, 14 observations, paths resolved against the dataset folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_chexpert_internal.h"

const char *const prior_chexpert_observations[PRIOR_CHEXPERT_NOBS] = {
    "No Finding",   "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity",     "Lung Lesion",
    "Edema",        "Consolidation",              "Pneumonia",    "Atelectasis",      "Pneumothorax",
    "Pleural Effusion", "Pleural Other",          "Fracture",     "Support Devices"};

void prior_chexpert_options_default(prior_chexpert_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->split = "train";
  opt->frontal_only = 1;
  opt->uncertain = PRIOR_UNCERTAIN_ZERO;
}

prior_status prior_chexpert_find_dir(const char *root, const char *csv_name, char *dir) {
  static const char *const names[] = {"CheXpert-v1.0-small", "CheXpert-v1.0"};
  char path[PRIOR_DS_PATH_MAX];
  PRIOR_TRY(prior_ds_join(path, root, csv_name));
  if (prior_ds_file_exists(path)) {
    snprintf(dir, PRIOR_DS_PATH_MAX, "%s", root);
    return PRIOR_OK;
  }
  for (int k = 0; k < 2; k++) {
    char sub[PRIOR_DS_PATH_MAX];
    PRIOR_TRY(prior_ds_join(sub, root, names[k]));
    PRIOR_TRY(prior_ds_join(path, sub, csv_name));
    if (prior_ds_file_exists(path)) {
      snprintf(dir, PRIOR_DS_PATH_MAX, "%s", sub);
      return PRIOR_OK;
    }
  }
  return prior_error_set(PRIOR_ERR_IO, "CheXpert: no %s in %s nor in its CheXpert-v1.0-small or CheXpert-v1.0 folder",
                         csv_name, root);
}

prior_status prior_chexpert_resolve(const char *dir, const char *rel, char *out) {
  /* "CheXpert-v1.0-small/train/..." is relative to the folder above the dataset; a path that already starts at
   * train/, valid/ or test/ is relative to the dataset itself. */
  const char *rest = rel;
  if (strncmp(rel, "train/", 6) && strncmp(rel, "valid/", 6) && strncmp(rel, "test/", 5)) {
    const char *slash = strchr(rel, '/');
    if (slash) rest = slash + 1;
  }
  if (!*rest) return prior_error_set(PRIOR_ERR_FORMAT, "CheXpert: image path '%s' names no file", rel);
  return prior_ds_join(out, dir, rest);
}

prior_status prior_chexpert_open(const prior_chexpert_options *opt, prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_chexpert_open: out is NULL");
  *out = NULL;
  if (!opt || !opt->root) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_chexpert_open: options need a root");
  const char *split = opt->split && opt->split[0] ? opt->split : "train";
  if (strcmp(split, "train") && strcmp(split, "valid"))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "CheXpert split '%s': expected train or valid", split);
  char csv_name[16], dir[PRIOR_DS_PATH_MAX], csv_path[PRIOR_DS_PATH_MAX], path[PRIOR_DS_PATH_MAX];
  snprintf(csv_name, sizeof csv_name, "%s.csv", split);
  PRIOR_TRY(prior_chexpert_find_dir(opt->root, csv_name, dir));
  PRIOR_TRY(prior_ds_join(csv_path, dir, csv_name));

  prior_csv *csv = NULL;
  PRIOR_TRY(prior_csv_read(csv_path, &csv));
  prior_dataset *ds = NULL;
  int c_path, c_view = -1, c_obs[PRIOR_CHEXPERT_NOBS];
  prior_status st = prior_ds_column(csv, csv_path, "Path", &c_path);
  if (st == PRIOR_OK && opt->frontal_only) st = prior_ds_column(csv, csv_path, "Frontal/Lateral", &c_view);
  for (int k = 0; st == PRIOR_OK && k < PRIOR_CHEXPERT_NOBS; k++)
    st = prior_ds_column(csv, csv_path, prior_chexpert_observations[k], &c_obs[k]);
  if (st == PRIOR_OK && !(ds = prior_ds_new("chexpert", PRIOR_IMAGE_JPEG, PRIOR_CHEXPERT_NOBS,
                                            prior_chexpert_observations)))
    st = prior_error_code();
  for (int64_t r = 0; st == PRIOR_OK && r < prior_csv_rows(csv); r++) {
    const char *rel = prior_csv_cell(csv, r, c_path);
    if (c_view >= 0 && strcmp(prior_csv_cell(csv, r, c_view), "Frontal") != 0) {
      ds->drops.lateral++;
      continue;
    }
    if ((st = prior_chexpert_resolve(dir, rel, path)) != PRIOR_OK) {
      prior_error_context("file %s line %lld", csv_path, prior_csv_line(csv, r));
      break;
    }
    if (opt->check_images && !prior_ds_file_exists(path)) {
      ds->drops.missing_image++;
      ds->drops.no_image++;
      continue;
    }
    prior_ds_sample *s = prior_ds_push(ds, rel);
    if (!s) {
      st = prior_error_code();
      break;
    }
    st = prior_ds_add_string(&s->images, &s->nimages, path);
    for (int k = 0; st == PRIOR_OK && k < PRIOR_CHEXPERT_NOBS; k++)
      st = prior_ds_label(csv, r, c_obs[k], opt->uncertain, &s->labels[k]);
  }
  prior_csv_free(csv);
  if (st != PRIOR_OK) {
    prior_dataset_free(ds);
    return st;
  }
  *out = ds;
  return PRIOR_OK;
}
