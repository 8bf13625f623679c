/* The RSNA Pneumonia and SIIM-ACR Pneumothorax trees: DICOM images with a box CSV or an RLE mask CSV.
 *
 * RSNA: one row per box, in the 1024x1024 frame of the real images (x * 1024 / image_size); Target 0 rows
 * have empty box cells. A box surrounds the consolidation or pneumonia opacities of one lung.
 * SIIM: `ImageId, EncodedPixels` with the leading space of the real header (and of its values); " -1" for
 * no pneumothorax; masks at image_size, column-major, relative "offset length" pairs. Bilateral
 * pneumothoraces give one row per lung, and some single masks are split in two rows, so readers must OR
 * the rows of an image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth_internal.h"

/* ---- RSNA ----------------------------------------------------------------------------------------------------- */

prior_status prior_synth_write_rsna(const prior_synth_config *cfg, const char *root) {
  PRIOR_TRY(synth_check_config(cfg, root));
  synth_text csv = {0};
  synth_text_printf(&csv, "patientId,x,y,width,height,Target\n");
  synth_queue q;
  prior_status s = synth_queue_init(&q, cfg->image_size, cfg->jpeg_quality, 0, NULL, NULL);
  if (s != PRIOR_OK) {
    synth_text_free(&csv);
    return s;
  }
  prior_synth_profile prof = cfg->profile;
  prof.lateral_fraction = 0.0f;
  prof.p[PRIOR_SYNTH_PNEUMONIA] = 0.22f;
  prof.p[PRIOR_SYNTH_CONSOLIDATION] = 0.1f;
  prof.p[PRIOR_SYNTH_PNEUMOTHORAX] = 0.0f;
  float scale = 1024.0f / (float)cfg->image_size;
  for (int i = 0; i < cfg->rsna_images && s == PRIOR_OK; i++) {
    synth_image_job *j = synth_queue_next(&q);
    uint64_t key = SYNTH_STREAM(SYNTH_TREE_RSNA) + (uint64_t)i;
    if ((s = prior_synth_sample(cfg, &prof, key, &j->truth)) != PRIOR_OK) break;
    synth_hex_id(j->patient_id, sizeof j->patient_id, cfg->seed, key, 1);
    synth_uid(j->study_uid, sizeof j->study_uid, 2, 1000 + (uint64_t)i, synth_mix64(cfg->seed ^ key));
    synth_uid(j->series_uid, sizeof j->series_uid, 3, 1000 + (uint64_t)i, synth_mix64(cfg->seed ^ key) + 1);
    synth_uid(j->sop_uid, sizeof j->sop_uid, 4, 1000 + (uint64_t)i, synth_mix64(cfg->seed ^ key) + 2);
    j->dicom = 1;
    j->meta.view_position = j->truth.view == PRIOR_SYNTH_AP ? "AP" : "PA";
    j->meta.female = j->truth.female;
    j->meta.age = j->truth.age;
    int n = snprintf(j->path, sizeof j->path, "%s/stage_2_train_images/%s.dcm", root, j->patient_id);
    if (n < 0 || (size_t)n >= sizeof j->path) {
      s = prior_error_set(PRIOR_ERR_ARGUMENT, "synthetic RSNA tree: root path too long: %s", root);
      break;
    }
    const prior_synth_truth *t = &j->truth;
    if (t->nboxes == 0) synth_text_printf(&csv, "%s,,,,,0\n", j->patient_id);
    for (int b = 0; b < t->nboxes; b++)
      synth_text_printf(&csv, "%s,%.1f,%.1f,%.1f,%.1f,1\n", j->patient_id, t->box[b][0] * scale, t->box[b][1] * scale,
                        t->box[b][2] * scale, t->box[b][3] * scale);
    s = synth_queue_commit(&q);
  }
  if (s == PRIOR_OK) s = synth_queue_flush(&q);
  synth_queue_free(&q);
  char path[1100];
  snprintf(path, sizeof path, "%s/stage_2_train_labels.csv", root);
  if (s == PRIOR_OK) s = synth_text_write(&csv, path);
  synth_text_free(&csv);
  if (s != PRIOR_OK) prior_error_context("writing the synthetic RSNA tree under %s", root);
  return s;
}

/* ---- SIIM ----------------------------------------------------------------------------------------------------- */

/* Relative column-major RLE of the pixels of `mask` whose column is in [x0, x1) and row in [y0, y1). */
static void rle(synth_text *csv, const uint8_t *mask, int n, int x0, int x1, int y0, int y1) {
  long prev_end = 0;
  for (int x = x0; x < x1; x++) {
    int y = y0;
    while (y < y1) {
      if (!mask[(size_t)y * n + x]) {
        y++;
        continue;
      }
      int start = y;
      while (y < y1 && mask[(size_t)y * n + x]) y++;
      long flat = (long)x * n + start;
      synth_text_printf(csv, " %ld %d", flat - prev_end, y - start);
      prev_end = flat + (y - start);
    }
  }
}

static int any_in(const uint8_t *mask, int n, int x0, int x1, int y0, int y1) {
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      if (mask[(size_t)y * n + x]) return 1;
  return 0;
}

static prior_status siim_rows(synth_image_job *j, void *ud) {
  synth_text *csv = ud;
  const prior_synth_truth *t = &j->truth;
  int n = t->size;
  if (!any_in(j->mask, n, 0, n, 0, n)) {
    synth_text_printf(csv, "%s, -1\n", j->sop_uid);
    return PRIOR_OK;
  }
  /* Parts: the two lungs (split at the midline), and a single mask sometimes cut into upper and lower rows. */
  float mx, my;
  synth_to_pixel(t, 0.0f, 0.0f, &mx, &my);
  int mid = (int)(mx + 0.5f);
  if (mid < 1) mid = 1;
  if (mid > n - 1) mid = n - 1;
  int parts[2][4] = {{0, mid, 0, n}, {mid, n, 0, n}};
  int np = 0, use[2] = {0, 0};
  for (int p = 0; p < 2; p++)
    if (any_in(j->mask, n, parts[p][0], parts[p][1], 0, n)) use[p] = 1, np++;
  if (np == 1 && (j->tag & 1)) {
    int p = use[0] ? 0 : 1, top = n, bottom = 0;
    for (int y = 0; y < n; y++)
      if (any_in(j->mask, n, parts[p][0], parts[p][1], y, y + 1)) {
        if (y < top) top = y;
        bottom = y;
      }
    int cut = (top + bottom + 1) / 2;
    if (cut > top && cut <= bottom) {
      synth_text_printf(csv, "%s,", j->sop_uid);
      rle(csv, j->mask, n, parts[p][0], parts[p][1], 0, cut);
      synth_text_printf(csv, "\n%s,", j->sop_uid);
      rle(csv, j->mask, n, parts[p][0], parts[p][1], cut, n);
      synth_text_printf(csv, "\n");
      return PRIOR_OK;
    }
  }
  for (int p = 0; p < 2; p++) {
    if (!use[p]) continue;
    synth_text_printf(csv, "%s,", j->sop_uid);
    rle(csv, j->mask, n, parts[p][0], parts[p][1], 0, n);
    synth_text_printf(csv, "\n");
  }
  return PRIOR_OK;
}

prior_status prior_synth_write_siim(const prior_synth_config *cfg, const char *root) {
  PRIOR_TRY(synth_check_config(cfg, root));
  synth_text csv = {0};
  synth_text_printf(&csv, "ImageId, EncodedPixels\n");
  synth_queue q;
  prior_status s = synth_queue_init(&q, cfg->image_size, cfg->jpeg_quality, 1, siim_rows, &csv);
  if (s != PRIOR_OK) {
    synth_text_free(&csv);
    return s;
  }
  prior_synth_profile prof = cfg->profile;
  prof.lateral_fraction = 0.0f;
  prof.p[PRIOR_SYNTH_PNEUMOTHORAX] = 0.3f;
  prof.bilateral_ptx_fraction = 0.15f;
  for (int i = 0; i < cfg->siim_images && s == PRIOR_OK; i++) {
    synth_image_job *j = synth_queue_next(&q);
    uint64_t key = SYNTH_STREAM(SYNTH_TREE_SIIM) + (uint64_t)i;
    if ((s = prior_synth_sample(cfg, &prof, key, &j->truth)) != PRIOR_OK) break;
    uint64_t h = synth_mix64(cfg->seed ^ key);
    synth_uid(j->study_uid, sizeof j->study_uid, 2, 1000 + (uint64_t)i, h);
    synth_uid(j->series_uid, sizeof j->series_uid, 3, 1000 + (uint64_t)i, h + 1);
    synth_uid(j->sop_uid, sizeof j->sop_uid, 4, 1000 + (uint64_t)i, h + 2);
    snprintf(j->patient_id, sizeof j->patient_id, "%08llx-%04x", (unsigned long long)(h >> 32), (unsigned)(h & 0xffff));
    j->dicom = 1;
    j->tag = (int)((h >> 20) % 5 == 0); /* split a single mask in two rows */
    j->meta.view_position = j->truth.view == PRIOR_SYNTH_AP ? "AP" : "PA";
    j->meta.female = j->truth.female;
    j->meta.age = j->truth.age;
    int n = snprintf(j->path, sizeof j->path, "%s/dicom-images-train/%s/%s/%s.dcm", root, j->study_uid, j->series_uid,
                     j->sop_uid);
    if (n < 0 || (size_t)n >= sizeof j->path) {
      s = prior_error_set(PRIOR_ERR_ARGUMENT, "synthetic SIIM tree: root path too long: %s", root);
      break;
    }
    s = synth_queue_commit(&q);
  }
  if (s == PRIOR_OK) s = synth_queue_flush(&q);
  synth_queue_free(&q);
  char path[1100];
  snprintf(path, sizeof path, "%s/train-rle.csv", root);
  if (s == PRIOR_OK) s = synth_text_write(&csv, path);
  synth_text_free(&csv);
  if (s != PRIOR_OK) prior_error_context("writing the synthetic SIIM tree under %s", root);
  return s;
}
