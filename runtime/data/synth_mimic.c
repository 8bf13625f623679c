/* The MIMIC-CXR-JPG 2.0.0 tree (with the reports archive's text files alongside the images).
 *
 * Subjects have 1-3 studies; a study has one frontal image (PA or AP), sometimes a second frontal image and
 * often a lateral one. All images of a study show the same findings, repositioned; the report and the
 * chexpert.csv row belong to the study and agree with each other. */
#include <stdio.h>
#include <string.h>

#include "data/synth_internal.h"

prior_status synth_check_config(const prior_synth_config *cfg, const char *root) {
  if (!cfg || !root || !root[0]) return prior_error_set(PRIOR_ERR_ARGUMENT, "synthetic tree: NULL config or root");
  if (cfg->image_size < 32 || cfg->image_size > 2048)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "synthetic tree: image_size %d is outside 32..2048", cfg->image_size);
  if (cfg->mimic_subjects < 0 || cfg->mimic_subjects > 200000 || cfg->chexpert_train_patients < 0 ||
      cfg->chexpert_clean_per_class < 0 || cfg->chexpert_valid_patients < 0 || cfg->rsna_images < 0 ||
      cfg->siim_images < 0 || cfg->chexpert_train_patients + 5 * cfg->chexpert_clean_per_class > 99999 ||
      cfg->chexpert_valid_patients > 99999)
    return prior_error_set(PRIOR_ERR_ARGUMENT,
                           "synthetic tree: counts out of range (mimic_subjects %d of at most 200000, chexpert "
                           "patients %d + 5 x %d clean of at most 99999, valid %d, rsna %d, siim %d)",
                           cfg->mimic_subjects, cfg->chexpert_train_patients, cfg->chexpert_clean_per_class,
                           cfg->chexpert_valid_patients, cfg->rsna_images, cfg->siim_images);
  return synth_mkdirs(root);
}

void synth_hex_id(char *buf, size_t cap, uint64_t seed, uint64_t key, int uuid) {
  uint64_t a = synth_mix64(seed ^ synth_mix64(key)), b = synth_mix64(a ^ 0x5bd1e995ULL);
  if (uuid) /* 8-4-4-4-12, as RSNA patient ids */
    snprintf(buf, cap, "%08llx-%04llx-%04llx-%04llx-%012llx", (unsigned long long)(a >> 32),
             (unsigned long long)((a >> 16) & 0xffff), (unsigned long long)(a & 0xffff),
             (unsigned long long)(b >> 48), (unsigned long long)(b & 0xffffffffffffULL));
  else /* 8-8-8-8-8, as MIMIC dicom ids */
    snprintf(buf, cap, "%08llx-%08llx-%08llx-%08llx-%08llx", (unsigned long long)(a >> 32),
             (unsigned long long)(a & 0xffffffff), (unsigned long long)(b >> 32),
             (unsigned long long)(b & 0xffffffff), (unsigned long long)(synth_mix64(b) >> 32));
}

static const char *const chexpert_value[] = {"0.0", "1.0", ""};

/* Label cell as the real chexpert.csv writes it: 1.0, 0.0, -1.0 or blank. */
static const char *cell(int v) {
  if (v == PRIOR_SYNTH_UNCERTAIN) return "-1.0";
  if (v == PRIOR_SYNTH_POSITIVE) return chexpert_value[1];
  if (v == PRIOR_SYNTH_NEGATIVE) return chexpert_value[0];
  return chexpert_value[2];
}

/* Date and time of a study (shifted into the future, as MIMIC's de-identification does). */
typedef struct when {
  int year, month, day, hh, mm, ss, ms;
} when;

static void metadata_row(synth_text *m, const char *dicom_id, long subject, long study, int view, int size,
                         const when *w, synth_rng *r) {
  const char *proc = view == PRIOR_SYNTH_AP ? "CHEST (PORTABLE AP)" : "CHEST (PA AND LAT)";
  const char *pos = view == PRIOR_SYNTH_AP ? "AP" : view == PRIOR_SYNTH_PA ? "PA" : "LATERAL";
  const char *code = view == PRIOR_SYNTH_AP ? "antero-posterior" : view == PRIOR_SYNTH_PA ? "postero-anterior" : "lateral";
  const char *orient = view == PRIOR_SYNTH_AP ? (synth_bern(r, 0.5f) ? "Recumbent" : "") : "Erect";
  synth_text_printf(m, "%s,%ld,%ld,%s,%s,%d,%d,%04d%02d%02d,%02d%02d%02d.%03d,%s,%s,%s\n", dicom_id, subject, study,
                    proc, pos, size, size, w->year, w->month, w->day, w->hh, w->mm, w->ss, w->ms, proc, code, orient);
}

prior_status prior_synth_write_mimic(const prior_synth_config *cfg, const char *root) {
  PRIOR_TRY(synth_check_config(cfg, root));
  int size = cfg->image_size;
  synth_text meta = {0}, split = {0}, chex = {0};
  synth_text_printf(&meta, "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,"
                           "Columns,StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,"
                           "ViewCodeSequence_CodeMeaning,PatientOrientationCodeSequence_CodeMeaning\n");
  synth_text_printf(&split, "dicom_id,study_id,subject_id,split\n");
  synth_text_printf(&chex, "subject_id,study_id");
  for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) synth_text_printf(&chex, ",%s", prior_synth_label_name(l));
  synth_text_printf(&chex, "\n");

  synth_queue q;
  prior_status s = synth_queue_init(&q, size, cfg->jpeg_quality, 0, NULL, NULL);
  if (s != PRIOR_OK) goto done;
  prior_synth_profile prof = cfg->profile;
  prof.lateral_fraction = 0.0f; /* laterals are added per study below */
  char path[1100], report[8192];
  for (int subj = 0; subj < cfg->mimic_subjects && s == PRIOR_OK; subj++) {
    uint64_t skey = SYNTH_STREAM(SYNTH_TREE_MIMIC) + ((uint64_t)subj << 8);
    synth_rng r = synth_rng_make(cfg->seed, skey);
    long subject_id = 10000000L + 13L * subj + (long)synth_int(&r, 13);
    int u = synth_int(&r, 100);
    const char *split_name = u < 90 ? "train" : u < 95 ? "validate" : "test";
    int nstudies = 1 + synth_int(&r, 3);
    for (int st = 0; st < nstudies && s == PRIOR_OK; st++) {
      uint64_t key = skey + (uint64_t)st * 16;
      long study_id = 50000000L + 5L * (8L * subj + st) + (long)synth_int(&r, 5);
      prior_synth_truth study;
      if ((s = prior_synth_sample(cfg, &prof, key, &study)) != PRIOR_OK) break;
      prior_synth_report_info info;
      if ((s = prior_synth_report(&study, cfg->broken_report_fraction, report, sizeof report, &info)) != PRIOR_OK) break;
      /* pXX: the first two digits of the subject id. */
      snprintf(path, sizeof path, "%s/files/p%ld/p%ld/s%ld.txt", root, subject_id / 1000000L, subject_id, study_id);
      if ((s = synth_mkdirs_parent(path)) != PRIOR_OK) break;
      if ((s = synth_write_atomic(path, report, strlen(report))) != PRIOR_OK) break;
      synth_text_printf(&chex, "%ld,%ld", subject_id, study_id);
      for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) synth_text_printf(&chex, ",%s", cell(info.labels[l]));
      synth_text_printf(&chex, "\n");

      when w = {2110 + synth_int(&r, 90), 1 + synth_int(&r, 12), 1 + synth_int(&r, 28), synth_int(&r, 24),
                synth_int(&r, 60), synth_int(&r, 60), synth_int(&r, 1000)};
      /* Images: the frontal one, maybe a second frontal, maybe a lateral. */
      int views[3], nv = 0;
      views[nv++] = study.view;
      if (synth_bern(&r, 0.12f)) views[nv++] = study.view;
      if (synth_bern(&r, study.view == PRIOR_SYNTH_PA ? 0.85f : 0.25f)) views[nv++] = PRIOR_SYNTH_LATERAL;
      for (int k = 0; k < nv && s == PRIOR_OK; k++) {
        synth_image_job *j = synth_queue_next(&q);
        if (k == 0)
          j->truth = study;
        else if ((s = prior_synth_sample_view(&study, key + 1 + (uint64_t)k, views[k], &j->truth)) != PRIOR_OK)
          break;
        char dicom_id[64];
        synth_hex_id(dicom_id, sizeof dicom_id, cfg->seed, key + 1 + (uint64_t)k, 0);
        snprintf(j->path, sizeof j->path, "%s/files/p%ld/p%ld/s%ld/%s.jpg", root, subject_id / 1000000L, subject_id,
                 study_id, dicom_id);
        if (strlen(j->path) >= sizeof j->path - 1) {
          s = prior_error_set(PRIOR_ERR_ARGUMENT, "synthetic MIMIC tree: root path too long: %s", root);
          break;
        }
        metadata_row(&meta, dicom_id, subject_id, study_id, views[k], size, &w, &r);
        synth_text_printf(&split, "%s,%ld,%ld,%s\n", dicom_id, study_id, subject_id, split_name);
        s = synth_queue_commit(&q);
      }
    }
  }
  if (s == PRIOR_OK) s = synth_queue_flush(&q);
  synth_queue_free(&q);
  if (s == PRIOR_OK) {
    snprintf(path, sizeof path, "%s/mimic-cxr-2.0.0-metadata.csv", root);
    s = synth_text_write(&meta, path);
  }
  if (s == PRIOR_OK) {
    snprintf(path, sizeof path, "%s/mimic-cxr-2.0.0-split.csv", root);
    s = synth_text_write(&split, path);
  }
  if (s == PRIOR_OK) {
    snprintf(path, sizeof path, "%s/mimic-cxr-2.0.0-chexpert.csv", root);
    s = synth_text_write(&chex, path);
  }
done:
  synth_text_free(&meta);
  synth_text_free(&split);
  synth_text_free(&chex);
  if (s != PRIOR_OK) prior_error_context("writing the synthetic MIMIC-CXR tree under %s", root);
  return s;
}
