/* Drawing a synthetic case: which findings, how severe, on which side, and every anatomy and acquisition
 * parameter the renderer needs. Ground truth (boxes, cardiothoracic ratio) is computed here from the same
 * numbers the renderer draws with. */
#include <math.h>
#include <string.h>

#include "data/synth_internal.h"

static const char *const label_names[PRIOR_SYNTH_NUM_LABELS] = {
    "Atelectasis",      "Cardiomegaly",  "Consolidation", "Edema",           "Enlarged Cardiomediastinum",
    "Fracture",         "Lung Lesion",   "Lung Opacity",  "No Finding",      "Pleural Effusion",
    "Pleural Other",    "Pneumonia",     "Pneumothorax",  "Support Devices"};

const char *prior_synth_label_name(int label) {
  return label >= 0 && label < PRIOR_SYNTH_NUM_LABELS ? label_names[label] : NULL;
}

void prior_synth_profile_default(prior_synth_profile *p) {
  memset(p, 0, sizeof *p);
  p->p[PRIOR_SYNTH_ATELECTASIS] = 0.18f;
  p->p[PRIOR_SYNTH_CARDIOMEGALY] = 0.18f;
  p->p[PRIOR_SYNTH_CONSOLIDATION] = 0.08f;
  p->p[PRIOR_SYNTH_EDEMA] = 0.12f;
  p->p[PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM] = 0.04f;
  p->p[PRIOR_SYNTH_FRACTURE] = 0.03f;
  p->p[PRIOR_SYNTH_LUNG_LESION] = 0.04f;
  p->p[PRIOR_SYNTH_LUNG_OPACITY] = 0.10f;
  p->p[PRIOR_SYNTH_PLEURAL_EFFUSION] = 0.18f;
  p->p[PRIOR_SYNTH_PLEURAL_OTHER] = 0.02f;
  p->p[PRIOR_SYNTH_PNEUMONIA] = 0.07f;
  p->p[PRIOR_SYNTH_PNEUMOTHORAX] = 0.05f;
  p->p[PRIOR_SYNTH_SUPPORT_DEVICES] = 0.20f;
  p->ap_fraction = 0.4f;
  p->lateral_fraction = 0.0f;
  p->uncertain_fraction = 0.25f;
  p->bilateral_ptx_fraction = 0.1f;
}

void prior_synth_config_default(prior_synth_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->seed = 0;
  cfg->image_size = 224;
  cfg->jpeg_quality = 95;
  cfg->mimic_subjects = 2000;
  cfg->broken_report_fraction = 0.04f;
  cfg->chexpert_train_patients = 600;
  cfg->chexpert_clean_per_class = 240;
  cfg->chexpert_valid_patients = 50;
  cfg->rsna_images = 1000;
  cfg->siim_images = 1000;
  prior_synth_profile_default(&cfg->profile);
}

static const float deg = 0.017453293f;

void synth_to_pixel(const prior_synth_truth *t, float u, float v, float *x, float *y) {
  float c = cosf(t->rot), s = sinf(t->rot);
  float xn = t->scale * (c * u - s * v) + t->tx;
  float yn = t->scale * (s * u + c * v) + t->ty;
  *x = (xn + 1.0f) * 0.5f * (float)t->size;
  *y = (yn + 1.0f) * 0.5f * (float)t->size;
}

static int draw_severity(synth_rng *r) {
  float x = synth_unif(r);
  return x < 0.45f ? 1 : x < 0.8f ? 2 : 3;
}

static int draw_side(synth_rng *r, float p_bilateral) {
  if (synth_bern(r, p_bilateral)) return PRIOR_SYNTH_BILATERAL;
  return synth_bern(r, 0.5f) ? PRIOR_SYNTH_RIGHT : PRIOR_SYNTH_LEFT;
}

static int draw_zone(synth_rng *r, float upper, float mid) {
  float x = synth_unif(r);
  return x < upper ? PRIOR_SYNTH_UPPER : x < upper + mid ? PRIOR_SYNTH_MID : PRIOR_SYNTH_LOWER;
}

/* Findings only; anatomy comes after so that another view of the study can redraw it. */
static void sample_findings(synth_rng *r, const prior_synth_profile *p, prior_synth_truth *t) {
  int any = 0;
  for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) {
    prior_synth_finding *f = &t->finding[l];
    memset(f, 0, sizeof *f);
    if (l == PRIOR_SYNTH_NO_FINDING) continue;
    if (!synth_bern(r, p->p[l])) continue;
    f->present = 1;
    f->severity = draw_severity(r);
    switch (l) {
      case PRIOR_SYNTH_PLEURAL_EFFUSION: f->side = draw_side(r, 0.35f); break;
      case PRIOR_SYNTH_EDEMA: f->side = PRIOR_SYNTH_BILATERAL; break;
      case PRIOR_SYNTH_PNEUMONIA: f->side = draw_side(r, 0.15f); f->zone = draw_zone(r, 0.2f, 0.3f); break;
      case PRIOR_SYNTH_CONSOLIDATION:
      case PRIOR_SYNTH_LUNG_OPACITY:
      case PRIOR_SYNTH_LUNG_LESION: f->side = draw_side(r, 0.0f); f->zone = draw_zone(r, 0.25f, 0.3f); break;
      case PRIOR_SYNTH_ATELECTASIS: f->side = draw_side(r, 0.15f); f->zone = draw_zone(r, 0.0f, 0.2f); break;
      case PRIOR_SYNTH_PNEUMOTHORAX:
        f->side = synth_bern(r, p->bilateral_ptx_fraction) ? PRIOR_SYNTH_BILATERAL : draw_side(r, 0.0f);
        f->zone = f->severity == 1 ? PRIOR_SYNTH_UPPER : PRIOR_SYNTH_ZONE_NONE;
        break;
      case PRIOR_SYNTH_PLEURAL_OTHER:
      case PRIOR_SYNTH_FRACTURE: f->side = draw_side(r, 0.0f); break;
      default: break;
    }
    /* Only mild parenchymal or pleural findings get hedged, as radiologists do. */
    int hedgeable = l == PRIOR_SYNTH_ATELECTASIS || l == PRIOR_SYNTH_CONSOLIDATION || l == PRIOR_SYNTH_EDEMA ||
                    l == PRIOR_SYNTH_PNEUMONIA || l == PRIOR_SYNTH_PLEURAL_EFFUSION ||
                    l == PRIOR_SYNTH_LUNG_OPACITY || l == PRIOR_SYNTH_CARDIOMEGALY;
    f->uncertain = hedgeable && f->severity == 1 && synth_bern(r, p->uncertain_fraction);
    if (l != PRIOR_SYNTH_SUPPORT_DEVICES) any = 1;
  }
  t->finding[PRIOR_SYNTH_NO_FINDING].present = !any;
  t->devices = 0;
  if (t->finding[PRIOR_SYNTH_SUPPORT_DEVICES].present) {
    while (!t->devices) {
      if (synth_bern(r, 0.5f)) t->devices |= PRIOR_SYNTH_DEV_ET_TUBE;
      if (synth_bern(r, 0.45f)) t->devices |= PRIOR_SYNTH_DEV_NG_TUBE;
      if (synth_bern(r, 0.5f)) t->devices |= PRIOR_SYNTH_DEV_CENTRAL_LINE;
      if (synth_bern(r, 0.25f)) t->devices |= PRIOR_SYNTH_DEV_PACEMAKER;
    }
  }
  t->female = synth_bern(r, 0.5f);
  t->age = 20 + synth_int(r, 71);
}

static int on_side(const prior_synth_finding *f, int s) {
  return f->present && (f->side == PRIOR_SYNTH_BILATERAL || f->side == (s == 0 ? PRIOR_SYNTH_RIGHT : PRIOR_SYNTH_LEFT));
}

static float zone_v(const prior_synth_truth *t, int zone, synth_rng *r) {
  switch (zone) {
    case PRIOR_SYNTH_UPPER: return synth_range(r, -0.42f, -0.3f);
    case PRIOR_SYNTH_MID: return synth_range(r, -0.1f, 0.02f);
    default: return synth_range(r, 0.16f, 0.24f);
  }
}

static void add_blob(prior_synth_truth *t, int label, int side, float cx, float cy, float rx, float ry, float angle,
                     float density, float edge, float patchy) {
  if (t->nblobs >= PRIOR_SYNTH_MAX_BLOBS) return;
  prior_synth_blob *b = &t->blob[t->nblobs++];
  b->label = label;
  b->side = side;
  b->cx = cx;
  b->cy = cy;
  b->rx = rx;
  b->ry = ry;
  b->angle = angle;
  b->density = density;
  b->edge = edge;
  b->patchy = patchy;
}

/* Lateral direction of side s in u: -1 for the patient's right (image left). */
static float lat_sign(int s) { return s == 0 ? -1.0f : 1.0f; }

static void sample_blobs(synth_rng *r, prior_synth_truth *t) {
  t->nblobs = 0;
  static const int order[] = {PRIOR_SYNTH_CONSOLIDATION, PRIOR_SYNTH_PNEUMONIA, PRIOR_SYNTH_LUNG_OPACITY,
                              PRIOR_SYNTH_ATELECTASIS, PRIOR_SYNTH_LUNG_LESION};
  for (int k = 0; k < 5; k++) {
    int l = order[k];
    const prior_synth_finding *f = &t->finding[l];
    if (!f->present) continue;
    int sev = f->severity;
    for (int s = 0; s < 2; s++) {
      if (!on_side(f, s)) continue;
      float lcx = t->lung_cx[s], ls = lat_sign(s);
      if (l == PRIOR_SYNTH_CONSOLIDATION) {
        float rx = (0.1f + 0.035f * sev) * synth_range(r, 0.9f, 1.1f);
        add_blob(t, l, s, lcx + ls * synth_range(r, -0.03f, 0.06f), zone_v(t, f->zone, r), rx,
                 rx * synth_range(r, 0.65f, 0.9f), synth_range(r, -0.4f, 0.4f), 0.6f + 0.1f * sev, 0.035f, 0.4f);
      } else if (l == PRIOR_SYNTH_PNEUMONIA) {
        int n = f->side == PRIOR_SYNTH_BILATERAL ? 1 : 1 + synth_bern(r, 0.5f);
        float cy = zone_v(t, f->zone, r);
        for (int i = 0; i < n; i++) {
          float rx = (0.06f + 0.03f * sev) * synth_range(r, 0.85f, 1.15f);
          add_blob(t, l, s, lcx + ls * synth_range(r, -0.06f, 0.08f), cy + synth_range(r, -0.08f, 0.08f), rx,
                   rx * synth_range(r, 0.7f, 1.0f), synth_range(r, -0.6f, 0.6f), 0.5f + 0.1f * sev, 0.05f, 0.85f);
        }
      } else if (l == PRIOR_SYNTH_LUNG_OPACITY) {
        float rx = (0.09f + 0.035f * sev) * synth_range(r, 0.9f, 1.1f);
        add_blob(t, l, s, lcx + ls * synth_range(r, -0.04f, 0.06f), zone_v(t, f->zone, r), rx,
                 rx * synth_range(r, 0.8f, 1.0f), synth_range(r, -0.5f, 0.5f), 0.25f + 0.08f * sev, 0.08f, 0.15f);
      } else if (l == PRIOR_SYNTH_ATELECTASIS) {
        float base = t->dome_top[s] - synth_range(r, 0.07f, 0.12f);
        if (f->zone == PRIOR_SYNTH_MID) base = synth_range(r, -0.05f, 0.08f);
        if (sev == 1) /* plate-like (discoid) band, nearly horizontal */
          add_blob(t, l, s, lcx + ls * synth_range(r, -0.02f, 0.05f), base, synth_range(r, 0.15f, 0.19f),
                   0.022f, ls * synth_range(r, -0.3f, 0.05f), 0.9f, 0.012f, 0.0f);
        else /* wedge of collapsed lower lobe against the heart border and diaphragm */
          add_blob(t, l, s, lcx - ls * 0.06f, base + 0.04f, synth_range(r, 0.15f, 0.2f), 0.035f + 0.02f * sev,
                   -ls * synth_range(r, 0.35f, 0.6f), 0.85f, 0.02f, 0.1f);
      } else {
        float rad = (0.02f + 0.02f * sev) * synth_range(r, 0.9f, 1.15f);
        add_blob(t, l, s, lcx + ls * synth_range(r, -0.05f, 0.1f), zone_v(t, f->zone, r), rad, rad, 0.0f, 0.95f,
                 0.008f + 0.004f * sev, 0.0f);
      }
    }
  }
}

/* Bounding box in pixels of a rotated ellipse, grown a little for its soft edge. */
static void blob_box(const prior_synth_truth *t, const prior_synth_blob *b, float box[4]) {
  float c = cosf(b->angle), s = sinf(b->angle);
  float ex = sqrtf(b->rx * b->rx * c * c + b->ry * b->ry * s * s) + 0.5f * b->edge;
  float ey = sqrtf(b->rx * b->rx * s * s + b->ry * b->ry * c * c) + 0.5f * b->edge;
  float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
  for (int k = 0; k < 4; k++) {
    float x, y;
    synth_to_pixel(t, b->cx + (k & 1 ? ex : -ex), b->cy + (k & 2 ? ey : -ey), &x, &y);
    x0 = fminf(x0, x);
    y0 = fminf(y0, y);
    x1 = fmaxf(x1, x);
    y1 = fmaxf(y1, y);
  }
  float n = (float)t->size;
  box[0] = fmaxf(0.0f, floorf(x0));
  box[1] = fmaxf(0.0f, floorf(y0));
  box[2] = fminf(n, ceilf(x1)) - box[0];
  box[3] = fminf(n, ceilf(y1)) - box[1];
}

/* One detection box per side holding consolidation or pneumonia (RSNA draws one box per opacity region). */
static void compute_boxes(prior_synth_truth *t) {
  t->nboxes = 0;
  if (t->view == PRIOR_SYNTH_LATERAL) return;
  for (int s = 0; s < 2; s++) {
    float acc[4] = {0}, x1 = 0, y1 = 0;
    int have = 0;
    for (int i = 0; i < t->nblobs; i++) {
      const prior_synth_blob *b = &t->blob[i];
      if (b->side != s || (b->label != PRIOR_SYNTH_CONSOLIDATION && b->label != PRIOR_SYNTH_PNEUMONIA)) continue;
      float bx[4];
      blob_box(t, b, bx);
      if (!have) {
        acc[0] = bx[0];
        acc[1] = bx[1];
        x1 = bx[0] + bx[2];
        y1 = bx[1] + bx[3];
        have = 1;
      } else {
        acc[0] = fminf(acc[0], bx[0]);
        acc[1] = fminf(acc[1], bx[1]);
        x1 = fmaxf(x1, bx[0] + bx[2]);
        y1 = fmaxf(y1, bx[1] + bx[3]);
      }
    }
    if (!have || x1 - acc[0] < 1.0f || y1 - acc[1] < 1.0f) continue;
    float *box = t->box[t->nboxes++];
    box[0] = acc[0];
    box[1] = acc[1];
    box[2] = x1 - acc[0];
    box[3] = y1 - acc[1];
  }
}

/* Everything but the findings: placement, anatomy sized by the findings, acquisition. */
static void sample_geometry(synth_rng *r, prior_synth_truth *t) {
  const prior_synth_finding *F = t->finding;
  int ap = t->view == PRIOR_SYNTH_AP;
  t->rot = synth_range(r, -5.0f, 5.0f) * deg;
  t->scale = synth_range(r, 0.86f, 0.98f);
  t->tx = synth_range(r, -0.05f, 0.05f);
  t->ty = synth_range(r, -0.03f, 0.07f);
  t->body_hw = synth_range(r, 0.8f, 0.9f);
  t->neck_hw = synth_range(r, 0.17f, 0.23f);
  t->body_top = synth_range(r, -0.7f, -0.6f);
  float lx = synth_range(r, 0.36f, 0.39f);
  t->lung_cx[0] = -lx - synth_range(r, 0.0f, 0.015f);
  t->lung_cx[1] = lx;
  t->lung_rx = synth_range(r, 0.28f, 0.31f);
  t->lung_ry = synth_range(r, 0.8f, 0.88f);
  t->lung_cy = synth_range(r, 0.15f, 0.21f);
  t->dome_top[0] = synth_range(r, 0.36f, 0.44f) - (ap ? 0.05f : 0.0f);
  t->dome_top[1] = t->dome_top[0] + synth_range(r, 0.02f, 0.06f);
  t->dome_k = synth_range(r, 1.1f, 1.6f);
  for (int s = 0; s < 2; s++)
    if (on_side(&F[PRIOR_SYNTH_ATELECTASIS], s) && F[PRIOR_SYNTH_ATELECTASIS].severity >= 2)
      t->dome_top[s] -= 0.03f * (float)F[PRIOR_SYNTH_ATELECTASIS].severity; /* volume loss */

  /* Cardiothoracic ratio: normal hearts stay below 0.47, enlarged ones above 0.55, so the 0.5 cut is clear. */
  float thorax = t->lung_cx[1] - t->lung_cx[0] + 2.0f * t->lung_rx;
  float ctr;
  if (F[PRIOR_SYNTH_CARDIOMEGALY].present) {
    int sev = F[PRIOR_SYNTH_CARDIOMEGALY].severity;
    ctr = sev == 1 ? synth_range(r, 0.555f, 0.59f) : sev == 2 ? synth_range(r, 0.59f, 0.64f) : synth_range(r, 0.64f, 0.7f);
  } else {
    ctr = synth_range(r, 0.37f, 0.455f);
  }
  if (ap) ctr *= 1.03f; /* AP films magnify the heart */
  /* The heart is an ellipse tilted with its apex down and to the patient's left; its horizontal extent
   * sqrt(rx^2 cos^2 + ry^2 sin^2) is what the ratio measures, so rx is solved from it. */
  float half = 0.5f * ctr * thorax;
  t->heart_angle = synth_range(r, 0.45f, 0.65f);
  t->heart_ry = synth_range(r, 0.2f, 0.24f) + 0.25f * (half - 0.29f);
  float hc = cosf(t->heart_angle), hs = sinf(t->heart_angle);
  t->heart_rx = sqrtf(fmaxf(half * half - t->heart_ry * t->heart_ry * hs * hs, 0.01f)) / hc;
  t->heart_cx = synth_range(r, 0.06f, 0.1f) + 0.45f * (half - 0.29f);
  /* The heart rests on the diaphragm: its lower part hides in the abdominal shadow, its widest points
   * (where the ratio is measured) stay just above the domes. */
  t->heart_cy = t->dome_top[1] - synth_range(r, 0.03f, 0.07f);
  t->med_hw = synth_range(r, 0.085f, 0.11f);
  t->med_upper_hw = t->med_hw * synth_range(r, 0.85f, 1.0f);
  if (F[PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM].present)
    t->med_upper_hw = t->med_hw + 0.03f + 0.025f * (float)F[PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM].severity;
  t->rib_spacing = synth_range(r, 0.085f, 0.1f);
  t->rib_top = t->lung_cy - t->lung_ry - synth_range(r, 0.0f, 0.06f);
  t->clav_y = synth_range(r, -0.56f, -0.5f) - (ap ? 0.05f : 0.0f);
  t->hilum_v = synth_range(r, -0.06f, 0.03f);
  t->gastric_bubble = synth_bern(r, 0.7f);

  for (int s = 0; s < 2; s++) {
    const prior_synth_finding *e = &F[PRIOR_SYNTH_PLEURAL_EFFUSION];
    t->effusion_h[s] = on_side(e, s) ? (0.03f + 0.13f * (float)e->severity) * synth_range(r, 0.9f, 1.1f) : 0.0f;
    const prior_synth_finding *p = &F[PRIOR_SYNTH_PNEUMOTHORAX];
    static const float collapse[4] = {1.0f, 0.86f, 0.74f, 0.6f};
    t->ptx_f[s] = on_side(p, s) ? collapse[p->severity] * synth_range(r, 0.98f, 1.02f) : 1.0f;
    const prior_synth_finding *o = &F[PRIOR_SYNTH_PLEURAL_OTHER];
    t->pleural_thick[s] = on_side(o, s) ? 0.02f + 0.012f * (float)o->severity : 0.0f;
    const prior_synth_finding *x = &F[PRIOR_SYNTH_FRACTURE];
    t->fracture_v[s] = on_side(x, s) ? synth_range(r, -0.35f, 0.15f) : 0.0f;
  }
  t->edema = F[PRIOR_SYNTH_EDEMA].present ? 0.25f + 0.17f * (float)F[PRIOR_SYNTH_EDEMA].severity : 0.0f;
  sample_blobs(r, t);

  t->exposure = synth_range(r, -0.06f, 0.06f);
  t->contrast = synth_range(r, 0.9f, 1.2f);
  t->gamma = synth_range(r, 0.85f, 1.2f);
  t->noise = synth_range(r, 0.006f, 0.025f);
  t->blur = synth_range(r, 0.0f, 1.5f);

  float px_per_unit = t->scale * 0.5f * (float)t->size;
  t->heart_width_px = 2.0f * half * px_per_unit;
  t->thorax_width_px = thorax * px_per_unit;
  t->ctr = t->heart_width_px / t->thorax_width_px;
  compute_boxes(t);
}

static prior_status check_size(int size) {
  if (size < 32 || size > 2048)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "synthetic image size %d is outside 32..2048", size);
  return PRIOR_OK;
}

prior_status prior_synth_sample(const prior_synth_config *cfg, const prior_synth_profile *profile, uint64_t key,
                                prior_synth_truth *t) {
  if (!cfg || !t) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_sample: NULL config or truth");
  PRIOR_TRY(check_size(cfg->image_size));
  const prior_synth_profile *p = profile ? profile : &cfg->profile;
  memset(t, 0, sizeof *t);
  synth_rng r = synth_rng_make(cfg->seed, key);
  t->seed = synth_next(&r);
  t->size = cfg->image_size;
  sample_findings(&r, p, t);
  if (synth_bern(&r, p->lateral_fraction))
    t->view = PRIOR_SYNTH_LATERAL;
  else
    t->view = synth_bern(&r, p->ap_fraction) ? PRIOR_SYNTH_AP : PRIOR_SYNTH_PA;
  /* Sick patients with devices are mostly imaged supine, AP. */
  if (t->devices && t->view == PRIOR_SYNTH_PA && synth_bern(&r, 0.7f)) t->view = PRIOR_SYNTH_AP;
  sample_geometry(&r, t);
  return PRIOR_OK;
}

prior_status prior_synth_sample_view(const prior_synth_truth *study, uint64_t key, int view, prior_synth_truth *out) {
  if (!study || !out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_sample_view: NULL truth");
  if (view < PRIOR_SYNTH_PA || view > PRIOR_SYNTH_LATERAL)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_sample_view: view %d is not PA, AP or LATERAL", view);
  PRIOR_TRY(check_size(study->size));
  prior_synth_truth t = *study;
  synth_rng r = synth_rng_make(study->seed, key);
  t.seed = synth_next(&r);
  t.view = view;
  sample_geometry(&r, &t);
  *out = t;
  return PRIOR_OK;
}
