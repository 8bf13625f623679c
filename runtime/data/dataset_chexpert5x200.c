/* The CheXpert 5x200 zero-shot selection: built from train.csv with a seed, written as CSV, read back from that
 * CSV or from the reference's JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_chexpert_internal.h"
#include "prior/json.h"

#define NCLASS 5
static const char *const classes[NCLASS] = {"Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
                                            "Pleural Effusion"};

const char *prior_chexpert5x200_class(int i) { return i >= 0 && i < NCLASS ? classes[i] : NULL; }

static int obs_index(const char *name) {
  for (int k = 0; k < PRIOR_CHEXPERT_NOBS; k++)
    if (strcmp(prior_chexpert_observations[k], name) == 0) return k;
  return -1;
}

/* The folder image paths are resolved against: the dataset folder under root when there is one. */
static void paths_dir(const char *root, char *dir) {
  static const char *const names[] = {"CheXpert-v1.0-small", "CheXpert-v1.0"};
  snprintf(dir, PRIOR_DS_PATH_MAX, "%s", root);
  char sub[PRIOR_DS_PATH_MAX], probe[PRIOR_DS_PATH_MAX];
  if (prior_ds_join(probe, root, "train") == PRIOR_OK && prior_ds_dir_exists(probe)) return;
  for (int k = 0; k < 2; k++)
    if (prior_ds_join(sub, root, names[k]) == PRIOR_OK && prior_ds_dir_exists(sub)) {
      snprintf(dir, PRIOR_DS_PATH_MAX, "%s", sub);
      return;
    }
}

static prior_status push_selected(prior_dataset *ds, const char *dir, const char *rel, int label) {
  char path[PRIOR_DS_PATH_MAX];
  PRIOR_TRY(prior_chexpert_resolve(dir, rel, path));
  prior_ds_sample *s = prior_ds_push(ds, rel);
  if (!s) return prior_error_code();
  s->labels[label] = 1;
  return prior_ds_add_string(&s->images, &s->nimages, path);
}

prior_status prior_chexpert5x200_build(const char *root, int per_class, uint64_t seed, const char *out_csv,
                                       prior_dataset **out) {
  if (out) *out = NULL;
  if (!root || !out_csv || per_class <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "CheXpert 5x200: need a root, an output file and per_class > 0 "
                                               "(got %d)", per_class);
  prior_chexpert_options opt;
  prior_chexpert_options_default(&opt);
  opt.root = root;
  opt.uncertain = PRIOR_UNCERTAIN_KEEP; /* "exactly 0" must not take uncertain rows */
  prior_dataset *train = NULL, *sel = NULL;
  PRIOR_TRY(prior_chexpert_open(&opt, &train));
  char dir[PRIOR_DS_PATH_MAX];
  paths_dir(root, dir);

  int64_t *cand = malloc((size_t)(train->n > 0 ? train->n : 1) * sizeof *cand);
  prior_status st = cand ? PRIOR_OK : prior_error_set(PRIOR_ERR_MEMORY, "CheXpert 5x200: out of memory");
  int no_finding = obs_index("No Finding");
  sel = st == PRIOR_OK ? prior_ds_new("chexpert5x200", PRIOR_IMAGE_JPEG, NCLASS, classes) : NULL;
  if (st == PRIOR_OK && !sel) st = prior_error_code();
  for (int c = 0; st == PRIOR_OK && c < NCLASS; c++) {
    int oc = obs_index(classes[c]);
    int64_t nc = 0;
    for (int64_t i = 0; i < train->n; i++) {
      const float *l = train->samples[i].labels;
      int ok = l[oc] == 1.0f;
      for (int k = 0; ok && k < PRIOR_CHEXPERT_NOBS; k++)
        if (k != oc && k != no_finding && l[k] != 0.0f) ok = 0;
      if (ok) cand[nc++] = i;
    }
    if (nc < per_class) {
      st = prior_error_set(PRIOR_ERR_ARGUMENT, "CheXpert 5x200: class %s has %lld eligible frontal train rows, "
                                               "fewer than the %d asked for", classes[c], (long long)nc, per_class);
      break;
    }
    /* Each class draws from its own stretch of the Philox stream, so classes do not depend on each other. */
    st = prior_ds_shuffle(cand, nc, seed, (uint64_t)c << 40);
    for (int k = 0; st == PRIOR_OK && k < per_class; k++) st = push_selected(sel, dir, train->samples[cand[k]].id, c);
  }
  free(cand);
  prior_dataset_free(train);

  if (st == PRIOR_OK) {
    char tmp[PRIOR_DS_PATH_MAX];
    prior_csv_writer *w = NULL;
    st = prior_ds_write_atomic_begin(out_csv, tmp, &w);
    if (st == PRIOR_OK) {
      const char *header[3] = {"path", "label_index", "class"};
      prior_status ws = prior_csv_writer_row(w, 3, header);
      for (int64_t i = 0; ws == PRIOR_OK && i < sel->n; i++) {
        int c = 0;
        while (c < NCLASS - 1 && sel->samples[i].labels[c] != 1.0f) c++;
        char idx[8];
        snprintf(idx, sizeof idx, "%d", c);
        const char *row[3] = {sel->samples[i].id, idx, classes[c]};
        ws = prior_csv_writer_row(w, 3, row);
      }
      st = prior_ds_write_atomic_end(out_csv, tmp, w, ws);
    }
  }
  if (st != PRIOR_OK || !out) prior_dataset_free(sel);
  else *out = sel;
  return st;
}

prior_status prior_chexpert5x200_read(const char *csv_path, const char *root, prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_chexpert5x200_read: out is NULL");
  *out = NULL;
  if (!csv_path || !root)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_chexpert5x200_read: need a file and a root");
  prior_csv *csv = NULL;
  PRIOR_TRY(prior_csv_read(csv_path, &csv));
  char dir[PRIOR_DS_PATH_MAX];
  paths_dir(root, dir);
  int c_path, c_label, c_class;
  prior_dataset *ds = NULL;
  prior_status st = prior_ds_column(csv, csv_path, "path", &c_path);
  if (st == PRIOR_OK) st = prior_ds_column(csv, csv_path, "label_index", &c_label);
  if (st == PRIOR_OK) st = prior_ds_column(csv, csv_path, "class", &c_class);
  if (st == PRIOR_OK && !(ds = prior_ds_new("chexpert5x200", PRIOR_IMAGE_JPEG, NCLASS, classes)))
    st = prior_error_code();
  for (int64_t r = 0; st == PRIOR_OK && r < prior_csv_rows(csv); r++) {
    double v;
    if ((st = prior_csv_double(csv, r, c_label, &v)) != PRIOR_OK) break;
    int c = (int)v;
    if (!(v >= 0 && v < NCLASS && v == c) || strcmp(prior_csv_cell(csv, r, c_class), classes[c]) != 0) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: label_index '%s' and class '%s' do not agree "
                           "(0..4 = Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion)", csv_path,
                           prior_csv_line(csv, r), prior_csv_cell(csv, r, c_label), prior_csv_cell(csv, r, c_class));
      break;
    }
    st = push_selected(ds, dir, prior_csv_cell(csv, r, c_path), c);
  }
  prior_csv_free(csv);
  if (st != PRIOR_OK) {
    prior_dataset_free(ds);
    return st;
  }
  *out = ds;
  return PRIOR_OK;
}

prior_status prior_chexpert5x200_read_json(const char *json_path, const char *root, prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_chexpert5x200_read_json: out is NULL");
  *out = NULL;
  if (!json_path || !root)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_chexpert5x200_read_json: need a file and a root");
  prior_json_doc *doc = NULL;
  PRIOR_TRY(prior_json_parse_file(json_path, &doc));
  const prior_json *top = prior_json_root(doc);
  char dir[PRIOR_DS_PATH_MAX];
  paths_dir(root, dir);
  prior_dataset *ds = NULL;
  prior_status st = PRIOR_OK;
  if (prior_json_kind(top) != PRIOR_JSON_OBJECT)
    st = prior_error_set(PRIOR_ERR_FORMAT, "file %s: expected an object of {image_path, label} entries, found %s",
                         json_path, prior_json_type_name(prior_json_kind(top)));
  if (st == PRIOR_OK && !(ds = prior_ds_new("chexpert5x200", PRIOR_IMAGE_JPEG, NCLASS, classes)))
    st = prior_error_code();
  for (size_t i = 0; st == PRIOR_OK && i < prior_json_len(top); i++) {
    const char *key = prior_json_key_at(top, i);
    const prior_json *e = prior_json_at(top, i);
    const prior_json *p = prior_json_get(e, "image_path"), *l = prior_json_get(e, "label");
    if (!p || prior_json_kind(p) != PRIOR_JSON_STRING || !l || prior_json_kind(l) != PRIOR_JSON_ARRAY ||
        prior_json_len(l) != NCLASS) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s entry '%s': expected image_path (a string) and label (an "
                           "array of 5 numbers)", json_path, key);
      break;
    }
    int c = -1, ones = 0;
    for (int k = 0; k < NCLASS; k++) {
      double v = prior_json_number(prior_json_at(l, (size_t)k));
      if (v == 1.0) {
        c = k;
        ones++;
      } else if (v != 0.0) {
        ones = -1;
        break;
      }
    }
    if (ones != 1) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s entry '%s': label is not one-hot", json_path, key);
      break;
    }
    st = push_selected(ds, dir, prior_json_string(p), c);
  }
  prior_json_free(doc);
  if (st != PRIOR_OK) {
    prior_dataset_free(ds);
    return st;
  }
  *out = ds;
  return PRIOR_OK;
}
