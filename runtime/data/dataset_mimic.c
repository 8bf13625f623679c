/* MIMIC-CXR-JPG: metadata, split and CheXpert-label CSVs joined by dicom_id and (subject_id, study_id); frontal
 * images grouped per study; the study's report parsed and filtered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "data/strmap.h"
#include "prior/report.h"

#define METADATA_CSV "mimic-cxr-2.0.0-metadata.csv"
#define SPLIT_CSV "mimic-cxr-2.0.0-split.csv"
#define LABEL_CSV "mimic-cxr-2.0.0-chexpert.csv"

void prior_mimic_options_default(prior_mimic_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->min_sentences = PRIOR_REPORT_MIN_SENTENCES;
  opt->check_images = 1;
  opt->uncertain = PRIOR_UNCERTAIN_ZERO;
}

typedef struct study {
  const char *subject, *study; /* cells of the metadata CSV */
  char **images;
  int nimages;
  int listed_frontal; /* frontal images in the CSV, found on disk or not */
} study;

/* The real archive ships the CSVs gzipped; say so instead of a bare "cannot open". */
static prior_status read_csv(const char *root, const char *name, prior_csv **csv, char *path) {
  PRIOR_TRY(prior_ds_join(path, root, name));
  if (!prior_ds_file_exists(path)) {
    char gz[PRIOR_DS_PATH_MAX + 4];
    snprintf(gz, sizeof gz, "%s.gz", path);
    if (prior_ds_file_exists(gz))
      return prior_error_set(PRIOR_ERR_IO, "file %s: not found, but %s is: decompress it (gunzip -k)", path, gz);
  }
  return prior_csv_read(path, csv);
}

static int is_frontal(const char *view) { return strcmp(view, "PA") == 0 || strcmp(view, "AP") == 0; }

/* Reads the study's report; returns 1 and fills the sample's sentences when it passes the filters, else 0 with the
 * reason counted (or -1 with an error set for out-of-memory). */
static int add_report(prior_dataset *ds, prior_ds_sample *s, const char *path, int min_sentences) {
  if (!prior_ds_file_exists(path)) {
    ds->drops.missing_report++;
    return 0;
  }
  prior_report *r = NULL;
  prior_sentences *sent = NULL;
  if (prior_report_read(path, &r) != PRIOR_OK || prior_report_sentences(r, &sent) != PRIOR_OK) {
    prior_report_free(r);
    ds->drops.unreadable_report++;
    return 0;
  }
  int n = prior_sentences_count(sent), ok = 1;
  if (n == 0) {
    ds->drops.no_sections++;
    ok = 0;
  } else if (!prior_sentences_enough(sent, min_sentences)) {
    ds->drops.short_report++;
    ok = 0;
  }
  for (int k = 0; ok && k < n; k++)
    if (prior_ds_add_string(&s->sentences, &s->nsentences, prior_sentences_get(sent, k)) != PRIOR_OK) ok = -1;
  prior_sentences_free(sent);
  prior_report_free(r);
  return ok;
}

prior_status prior_mimic_open(const prior_mimic_options *opt, prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_mimic_open: out is NULL");
  *out = NULL;
  if (!opt || !opt->root) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_mimic_open: options need a root");
  const char *split = opt->split && opt->split[0] ? opt->split : NULL;
  if (split && strcmp(split, "train") && strcmp(split, "validate") && strcmp(split, "test"))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "MIMIC-CXR split '%s': expected train, validate or test", split);
  const char *reports_root = opt->reports_root ? opt->reports_root : opt->root;

  prior_csv *meta = NULL, *spl = NULL, *lab = NULL;
  prior_strmap split_of, labels_of, study_of;
  prior_strmap_init(&split_of);
  prior_strmap_init(&labels_of);
  prior_strmap_init(&study_of);
  study *studies = NULL;
  int64_t nstudies = 0;
  prior_dataset *ds = NULL;
  char meta_path[PRIOR_DS_PATH_MAX], split_path[PRIOR_DS_PATH_MAX], label_path[PRIOR_DS_PATH_MAX];
  char path[PRIOR_DS_PATH_MAX], key[256];
  prior_status st;

  int c_dicom, c_subject, c_study, c_view, s_dicom = -1, s_split = -1, l_subject, l_study;
  if ((st = read_csv(opt->root, METADATA_CSV, &meta, meta_path)) != PRIOR_OK) goto done;
  if ((st = prior_ds_column(meta, meta_path, "dicom_id", &c_dicom)) != PRIOR_OK ||
      (st = prior_ds_column(meta, meta_path, "subject_id", &c_subject)) != PRIOR_OK ||
      (st = prior_ds_column(meta, meta_path, "study_id", &c_study)) != PRIOR_OK ||
      (st = prior_ds_column(meta, meta_path, "ViewPosition", &c_view)) != PRIOR_OK)
    goto done;
  if (split) {
    if ((st = read_csv(opt->root, SPLIT_CSV, &spl, split_path)) != PRIOR_OK) goto done;
    if ((st = prior_ds_column(spl, split_path, "dicom_id", &s_dicom)) != PRIOR_OK ||
        (st = prior_ds_column(spl, split_path, "split", &s_split)) != PRIOR_OK)
      goto done;
    for (int64_t r = 0; r < prior_csv_rows(spl); r++)
      if ((st = prior_strmap_put(&split_of, prior_csv_cell(spl, r, s_dicom), r)) != PRIOR_OK) goto done;
  }
  if ((st = read_csv(opt->root, LABEL_CSV, &lab, label_path)) != PRIOR_OK) goto done;
  if ((st = prior_ds_column(lab, label_path, "subject_id", &l_subject)) != PRIOR_OK ||
      (st = prior_ds_column(lab, label_path, "study_id", &l_study)) != PRIOR_OK)
    goto done;
  for (int64_t r = 0; r < prior_csv_rows(lab); r++) {
    snprintf(key, sizeof key, "%s/%s", prior_csv_cell(lab, r, l_subject), prior_csv_cell(lab, r, l_study));
    if ((st = prior_strmap_put(&labels_of, key, r)) != PRIOR_OK) goto done;
  }
  /* Labels: every column but the two ids, in file order. */
  int nlab = 0, lab_cols[64];
  const char *lab_names[64];
  for (int c = 0; c < prior_csv_cols(lab) && nlab < 64; c++) {
    if (c == l_subject || c == l_study) continue;
    lab_cols[nlab] = c;
    lab_names[nlab++] = prior_csv_header(lab, c);
  }
  if (!(ds = prior_ds_new("mimic", PRIOR_IMAGE_JPEG, nlab, lab_names))) {
    st = prior_error_code();
    goto done;
  }

  /* Images grouped by study, in metadata order. */
  int64_t nrows = prior_csv_rows(meta);
  studies = calloc((size_t)(nrows > 0 ? nrows : 1), sizeof *studies);
  if (!studies) {
    st = prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", meta_path);
    goto done;
  }
  for (int64_t r = 0; r < nrows; r++) {
    const char *dicom = prior_csv_cell(meta, r, c_dicom), *subject = prior_csv_cell(meta, r, c_subject);
    const char *stud = prior_csv_cell(meta, r, c_study), *view = prior_csv_cell(meta, r, c_view);
    if (split) {
      int64_t sr;
      if (!prior_strmap_get(&split_of, dicom, &sr) || strcmp(prior_csv_cell(spl, sr, s_split), split) != 0) {
        ds->drops.other_split++;
        continue;
      }
    }
    if (strlen(subject) < 2) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: subject_id '%s' is too short for the pXX folder",
                           meta_path, prior_csv_line(meta, r), subject);
      goto done;
    }
    snprintf(key, sizeof key, "%s/%s", subject, stud);
    int64_t si;
    if (!prior_strmap_get(&study_of, key, &si)) {
      si = nstudies++;
      studies[si].subject = subject;
      studies[si].study = stud;
      if ((st = prior_strmap_put(&study_of, key, si)) != PRIOR_OK) goto done;
    }
    if (!is_frontal(view)) {
      ds->drops.lateral++;
      continue;
    }
    studies[si].listed_frontal++;
    char rel[1024];
    snprintf(rel, sizeof rel, "files/p%.2s/p%s/s%s/%s.jpg", subject, subject, stud, dicom);
    if ((st = prior_ds_join(path, opt->root, rel)) != PRIOR_OK) goto done;
    if (opt->check_images && !prior_ds_file_exists(path)) {
      ds->drops.missing_image++;
      continue;
    }
    if ((st = prior_ds_add_string(&studies[si].images, &studies[si].nimages, path)) != PRIOR_OK) goto done;
  }

  for (int64_t si = 0; si < nstudies; si++) {
    study *S = &studies[si];
    if (S->nimages == 0) {
      if (S->listed_frontal) ds->drops.no_image++;
      else ds->drops.lateral_only++;
      continue;
    }
    char id[256], rel[1024];
    snprintf(id, sizeof id, "s%s", S->study);
    snprintf(rel, sizeof rel, "files/p%.2s/p%s/s%s.txt", S->subject, S->subject, S->study);
    if ((st = prior_ds_join(path, reports_root, rel)) != PRIOR_OK) goto done;
    prior_ds_sample *s = prior_ds_push(ds, id);
    if (!s) {
      st = prior_error_code();
      goto done;
    }
    int ok = add_report(ds, s, path, opt->min_sentences);
    if (ok < 0) {
      st = prior_error_code();
      goto done;
    }
    if (!ok) {
      prior_ds_pop(ds);
      continue;
    }
    /* The sample takes over the study's image list. */
    s->images = S->images;
    s->nimages = S->nimages;
    S->images = NULL;
    S->nimages = 0;
    snprintf(key, sizeof key, "%s/%s", S->subject, S->study);
    int64_t lr;
    if (!prior_strmap_get(&labels_of, key, &lr)) {
      ds->drops.unlabeled++;
      continue;
    }
    for (int k = 0; k < nlab; k++)
      if ((st = prior_ds_label(lab, lr, lab_cols[k], opt->uncertain, &s->labels[k])) != PRIOR_OK) goto done;
  }
  st = PRIOR_OK;

done:
  if (studies)
    for (int64_t si = 0; si < nstudies; si++) {
      for (int k = 0; k < studies[si].nimages; k++) free(studies[si].images[k]);
      free(studies[si].images);
    }
  free(studies);
  prior_strmap_free(&split_of);
  prior_strmap_free(&labels_of);
  prior_strmap_free(&study_of);
  prior_csv_free(meta);
  prior_csv_free(spl);
  prior_csv_free(lab);
  if (st != PRIOR_OK) {
    prior_dataset_free(ds);
    return st;
  }
  *out = ds;
  return PRIOR_OK;
}
