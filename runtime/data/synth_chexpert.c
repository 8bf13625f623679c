/* The CheXpert-v1.0-small tree.
 *
 * train.csv mixes ordinary patients (findings as in the config's profile, labels read from the study's
 * report: 1.0, 0.0, -1.0 or blank) with "clean" patients whose only finding is one of the five zero-shot
 * classes (Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion), so that a 5 x K selection
 * (class exactly 1, the other 12 observations exactly 0 once blanks read as 0) exists: K =
 * chexpert_clean_per_class. valid.csv holds ground truth as 1.0/0.0, as the real one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth_internal.h"

/* CheXpert's column order, as indices of prior_synth_label. */
static const int chexpert_order[PRIOR_SYNTH_NUM_LABELS] = {
    PRIOR_SYNTH_NO_FINDING,    PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM, PRIOR_SYNTH_CARDIOMEGALY,
    PRIOR_SYNTH_LUNG_OPACITY,  PRIOR_SYNTH_LUNG_LESION,                PRIOR_SYNTH_EDEMA,
    PRIOR_SYNTH_CONSOLIDATION, PRIOR_SYNTH_PNEUMONIA,                  PRIOR_SYNTH_ATELECTASIS,
    PRIOR_SYNTH_PNEUMOTHORAX,  PRIOR_SYNTH_PLEURAL_EFFUSION,           PRIOR_SYNTH_PLEURAL_OTHER,
    PRIOR_SYNTH_FRACTURE,      PRIOR_SYNTH_SUPPORT_DEVICES};

static const int zero_shot[5] = {PRIOR_SYNTH_ATELECTASIS, PRIOR_SYNTH_CARDIOMEGALY, PRIOR_SYNTH_CONSOLIDATION,
                                 PRIOR_SYNTH_EDEMA, PRIOR_SYNTH_PLEURAL_EFFUSION};

static void header(synth_text *t) {
  synth_text_printf(t, "Path,Sex,Age,Frontal/Lateral,AP/PA");
  for (int i = 0; i < PRIOR_SYNTH_NUM_LABELS; i++) synth_text_printf(t, ",%s", prior_synth_label_name(chexpert_order[i]));
  synth_text_printf(t, "\n");
}

static const char *train_cell(int v) {
  return v == PRIOR_SYNTH_POSITIVE ? "1.0" : v == PRIOR_SYNTH_NEGATIVE ? "0.0" : v == PRIOR_SYNTH_UNCERTAIN ? "-1.0" : "";
}

/* One patient: its studies and views, rows into csv, image jobs into q. kind: -1 ordinary, 0..4 clean class. */
static prior_status patient(const prior_synth_config *cfg, synth_queue *q, synth_text *csv, const char *root,
                            const char *split, int valid, int pat, int kind) {
  uint64_t pkey = SYNTH_STREAM(SYNTH_TREE_CHEXPERT) + ((uint64_t)valid << 40) + ((uint64_t)pat << 8);
  synth_rng r = synth_rng_make(cfg->seed, pkey);
  prior_synth_profile prof = cfg->profile;
  prof.lateral_fraction = 0.0f;
  if (kind >= 0) {
    for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) prof.p[l] = 0.0f;
    prof.p[zero_shot[kind]] = 1.0f;
    prof.uncertain_fraction = 0.0f;
  }
  if (valid) prof.uncertain_fraction = 0.0f;
  int nstudies = kind >= 0 || valid ? 1 : 1 + synth_int(&r, 3);
  char rel[256], report[8192];
  for (int st = 0; st < nstudies; st++) {
    uint64_t key = pkey + (uint64_t)st * 16;
    prior_synth_truth study;
    PRIOR_TRY(prior_synth_sample(cfg, &prof, key, &study));
    prior_synth_report_info info;
    PRIOR_TRY(prior_synth_report(&study, 0.0f, report, sizeof report, &info));
    int nviews = kind >= 0 ? 1 : 1 + synth_bern(&r, 0.3f);
    for (int v = 0; v < nviews; v++) {
      synth_image_job *j = synth_queue_next(q);
      int lateral = v > 0;
      if (!lateral)
        j->truth = study;
      else
        PRIOR_TRY(prior_synth_sample_view(&study, key + 1 + (uint64_t)v, PRIOR_SYNTH_LATERAL, &j->truth));
      snprintf(rel, sizeof rel, "CheXpert-v1.0-small/%s/patient%05d/study%d/view%d_%s.jpg", split, pat + 1, st + 1,
               v + 1, lateral ? "lateral" : "frontal");
      int n = snprintf(j->path, sizeof j->path, "%s/%s", root, rel);
      if (n < 0 || (size_t)n >= sizeof j->path)
        return prior_error_set(PRIOR_ERR_ARGUMENT, "synthetic CheXpert tree: root path too long: %s", root);
      synth_text_printf(csv, "%s,%s,%d,%s,%s", rel, study.female ? "Female" : "Male", study.age,
                        lateral ? "Lateral" : "Frontal", lateral ? "" : study.view == PRIOR_SYNTH_AP ? "AP" : "PA");
      for (int i = 0; i < PRIOR_SYNTH_NUM_LABELS; i++) {
        int l = chexpert_order[i];
        if (valid) /* radiologists' ground truth: the picture itself */
          synth_text_printf(csv, ",%s", study.finding[l].present ? "1.0" : "0.0");
        else
          synth_text_printf(csv, ",%s", train_cell(info.labels[l]));
      }
      synth_text_printf(csv, "\n");
      PRIOR_TRY(synth_queue_commit(q));
    }
  }
  return PRIOR_OK;
}

prior_status prior_synth_write_chexpert(const prior_synth_config *cfg, const char *root) {
  PRIOR_TRY(synth_check_config(cfg, root));
  synth_text train = {0}, valid = {0};
  header(&train);
  header(&valid);
  int clean = 5 * cfg->chexpert_clean_per_class, total = cfg->chexpert_train_patients + clean;
  /* Which patients are clean ones: a seeded shuffle, so they are spread through the file. */
  int *kind = malloc((size_t)(total > 0 ? total : 1) * sizeof *kind);
  synth_queue q;
  prior_status s = kind ? synth_queue_init(&q, cfg->image_size, cfg->jpeg_quality, 0, NULL, NULL)
                        : prior_error_set(PRIOR_ERR_MEMORY, "synthetic CheXpert tree: out of memory");
  if (s != PRIOR_OK) {
    free(kind);
    synth_text_free(&train);
    synth_text_free(&valid);
    return s;
  }
  for (int i = 0; i < total; i++) kind[i] = i < clean ? i % 5 : -1;
  synth_rng r = synth_rng_make(cfg->seed, SYNTH_STREAM(SYNTH_TREE_CHEXPERT) + 0xffffffffffULL);
  for (int i = total - 1; i > 0; i--) {
    int j = synth_int(&r, i + 1), x = kind[i];
    kind[i] = kind[j];
    kind[j] = x;
  }
  for (int p = 0; p < total && s == PRIOR_OK; p++) s = patient(cfg, &q, &train, root, "train", 0, p, kind[p]);
  for (int p = 0; p < cfg->chexpert_valid_patients && s == PRIOR_OK; p++)
    s = patient(cfg, &q, &valid, root, "valid", 1, p, -1);
  if (s == PRIOR_OK) s = synth_queue_flush(&q);
  synth_queue_free(&q);
  free(kind);
  char path[1100];
  if (s == PRIOR_OK) {
    snprintf(path, sizeof path, "%s/CheXpert-v1.0-small/train.csv", root);
    s = synth_mkdirs_parent(path);
    if (s == PRIOR_OK) s = synth_text_write(&train, path);
  }
  if (s == PRIOR_OK) {
    snprintf(path, sizeof path, "%s/CheXpert-v1.0-small/valid.csv", root);
    s = synth_text_write(&valid, path);
  }
  synth_text_free(&train);
  synth_text_free(&valid);
  if (s != PRIOR_OK) prior_error_context("writing the synthetic CheXpert tree under %s", root);
  return s;
}
