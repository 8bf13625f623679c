/* MIMIC-like free-text reports that say what the synthetic picture shows.
 *
 * Every finding drawn in the image is described (severity, side, zone from the truth) with one of several
 * phrasings; absent findings may be named as pertinent negatives; some sentences say nothing about the
 * image (view, comparison). The labels a CheXpert-style labeller would read from the text come back in
 * the info record, so the label files agree with the report (mentioned-absent = 0, not mentioned = blank,
 * hedged = -1). All words come from the tables below, which the vocabulary writer walks. */
#include <stdio.h>
#include <string.h>

#include "data/synth_internal.h"

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- word tables ---------------------------------------------------------------------------------------
 * Placeholders in templates: {S} side word, {V} severity adjective, {A} severity adverb, {L} lobe,
 * {Z} zone phrase, {N} a small number, {R} rib ordinal. */

static const char *const sev_size[4][3] = {{""}, {"small", "trace", "minimal"}, {"moderate", "moderate-sized", "moderate"},
                                          {"large", "large", "sizable"}};
static const char *const sev_extent[4][2] = {{""}, {"small", "focal"}, {"moderate", "patchy"}, {"large", "dense"}};
static const char *const sev_degree[4][2] = {{""}, {"mild", "slight"}, {"moderate", "moderate"}, {"severe", "marked"}};
static const char *const sev_adverb[4][2] = {{""}, {"mildly", "slightly"}, {"moderately", "moderately"},
                                            {"severely", "markedly"}};
static const char *const lobes[2][4] = {{"", "right upper lobe", "right middle lobe", "right lower lobe"},
                                        {"", "left upper lobe", "lingula", "left lower lobe"}};
static const char *const zones[2][4][3] = {
    {{""}, {"right upper lung", "right apex", "right upper lung zone"},
     {"right mid lung", "right perihilar region", "right mid lung zone"},
     {"right lung base", "right base", "right lower lung"}},
    {{""}, {"left upper lung", "left apex", "left upper lung zone"},
     {"left mid lung", "left perihilar region", "left mid lung zone"},
     {"left lung base", "left base", "left lower lung"}}};
static const char *const ribs_ordinal[] = {"fifth", "sixth", "seventh", "eighth", "ninth"};
static const char *const numbers[] = {"2", "3", "4", "5", "6"};

/* Findings, per label: present (unilateral or any), present bilateral, hedged, impression, negatives. */
static const char *const eff_pos[] = {"There is a {V} {S} pleural effusion.", "A {V} {S} pleural effusion is present.",
                                      "{V} {S} pleural effusion with blunting of the {S} costophrenic angle.",
                                      "Blunting of the {S} costophrenic angle is consistent with a {V} effusion.",
                                      "{V} {S} pleural effusion layers dependently."};
static const char *const eff_bil[] = {"There are {V} bilateral pleural effusions.", "{V} bilateral pleural effusions.",
                                      "{V} bilateral pleural effusions with blunting of both costophrenic angles."};
static const char *const eff_unc[] = {"Blunting of the {S} costophrenic angle may represent a small pleural effusion.",
                                      "Possible small {S} pleural effusion."};
static const char *const eff_imp[] = {"{V} {S} pleural effusion.", "{V} {S} effusion."};
static const char *const eff_imp_bil[] = {"{V} bilateral pleural effusions."};
static const char *const eff_neg[] = {"No pleural effusion.", "There is no pleural effusion.",
                                      "No pleural effusion is seen.", "The costophrenic angles are sharp."};

static const char *const card_pos[] = {"There is {V} cardiomegaly.", "The cardiac silhouette is {A} enlarged.",
                                       "The heart is {A} enlarged.", "Heart size is {A} enlarged.",
                                       "{V} enlargement of the cardiac silhouette."};
static const char *const card_unc[] = {"The heart size is borderline enlarged.", "Possible mild cardiomegaly."};
static const char *const card_imp[] = {"{V} cardiomegaly.", "{V} enlargement of the cardiac silhouette."};
static const char *const card_neg[] = {"Heart size is normal.", "The cardiac silhouette is within normal limits.",
                                       "Normal heart size.", "The heart is not enlarged."};

static const char *const cons_pos[] = {"There is a {V} consolidation in the {L}.", "{V} consolidation in the {L}.",
                                       "Focal consolidation is seen in the {Z}.",
                                       "Dense airspace consolidation in the {L}.",
                                       "Airspace consolidation involving the {L}."};
static const char *const cons_unc[] = {"Subtle opacity in the {L} may represent early consolidation."};
static const char *const cons_imp[] = {"Consolidation in the {L}.", "{L} consolidation."};
static const char *const cons_neg[] = {"No focal consolidation.", "There is no focal consolidation.",
                                       "No consolidation is seen."};

static const char *const pna_pos[] = {"Patchy opacities in the {Z} are concerning for pneumonia.",
                                      "Patchy airspace opacities in the {L} consistent with pneumonia.",
                                      "Findings are compatible with {L} pneumonia.",
                                      "Ill-defined patchy opacity in the {Z} compatible with pneumonia."};
static const char *const pna_bil[] = {"Patchy bilateral airspace opacities consistent with multifocal pneumonia.",
                                      "Multifocal patchy opacities in both lungs concerning for pneumonia."};
static const char *const pna_unc[] = {"Patchy opacity in the {Z} could represent pneumonia."};
static const char *const pna_imp[] = {"{L} pneumonia.", "Pneumonia in the {Z}."};
static const char *const pna_imp_bil[] = {"Multifocal pneumonia."};
static const char *const pna_neg[] = {"No evidence of pneumonia.", "No findings to suggest pneumonia."};

static const char *const atel_plate[] = {"Linear opacity at the {S} base is consistent with plate-like atelectasis.",
                                         "Mild {S} basilar atelectasis.", "Subsegmental atelectasis at the {S} lung base.",
                                         "Discoid atelectasis in the {S} lower lung."};
static const char *const atel_mid[] = {"Linear atelectasis in the {Z}.", "Plate-like atelectasis in the {Z}."};
static const char *const atel_wedge[] = {"{V} {S} lower lobe atelectasis with elevation of the {S} hemidiaphragm.",
                                         "Volume loss in the {S} lower lobe consistent with atelectasis.",
                                         "{V} atelectasis of the {S} lower lobe."};
static const char *const atel_bil[] = {"Bibasilar atelectasis.", "{V} bibasilar atelectasis.",
                                       "Atelectasis at both lung bases."};
static const char *const atel_unc[] = {"Minimal {S} basilar opacity may reflect atelectasis."};
static const char *const atel_imp[] = {"{S} basilar atelectasis.", "Atelectasis at the {S} base."};
static const char *const atel_imp_bil[] = {"Bibasilar atelectasis."};

static const char *const edema_pos[4][2] = {
    {""},
    {"Mild pulmonary vascular congestion and interstitial edema.", "Mild interstitial pulmonary edema."},
    {"Moderate pulmonary edema with perihilar haziness.",
     "Perihilar haziness and vascular indistinctness consistent with moderate pulmonary edema."},
    {"Severe pulmonary edema with bilateral perihilar airspace opacities.",
     "Diffuse bilateral perihilar opacities consistent with severe pulmonary edema."}};
static const char *const edema_unc[] = {"Mild perihilar haziness may represent mild pulmonary edema."};
static const char *const edema_imp[] = {"{V} pulmonary edema.", "{V} interstitial edema."};
static const char *const edema_neg[] = {"No pulmonary edema.", "There is no pulmonary vascular congestion.",
                                        "No evidence of pulmonary edema."};

static const char *const ptx_pos[] = {"There is a {V} {S} pneumothorax with a visible pleural line.",
                                      "A {V} {S} pneumothorax is seen, with the visceral pleural line displaced from "
                                      "the chest wall.",
                                      "{V} {S} pneumothorax."};
static const char *const ptx_apical[] = {"{V} {S} apical pneumothorax.",
                                         "There is a {V} {S} apical pneumothorax."};
static const char *const ptx_large[] = {"Large {S} pneumothorax with partial collapse of the {S} lung."};
static const char *const ptx_bil[] = {"{V} bilateral pneumothoraces.", "There are {V} bilateral pneumothoraces."};
static const char *const ptx_imp[] = {"{V} {S} pneumothorax."};
static const char *const ptx_imp_bil[] = {"Bilateral pneumothoraces."};
static const char *const ptx_neg[] = {"No pneumothorax.", "There is no pneumothorax.", "No pneumothorax is seen."};

static const char *const opac_pos[] = {"Hazy opacity in the {Z}.", "Ill-defined opacity projecting over the {Z}.",
                                       "There is an area of increased opacity in the {Z}."};
static const char *const opac_unc[] = {"Faint opacity in the {Z} may be artifactual."};
static const char *const opac_imp[] = {"Opacity in the {Z}.", "{Z} opacity."};

static const char *const lesion_pos[4][2] = {
    {""},
    {"A small nodule projects over the {Z}.", "There is a small pulmonary nodule in the {L}."},
    {"A nodule measuring approximately {N} cm in the {L}.", "There is a pulmonary nodule in the {Z}."},
    {"A rounded mass in the {L}.", "There is a large mass in the {Z}."}};
static const char *const lesion_imp[] = {"{S} pulmonary nodule, recommend chest CT for further evaluation.",
                                         "Pulmonary lesion in the {L}."};

static const char *const ecm_pos[] = {"The mediastinum is widened.", "Widening of the superior mediastinum.",
                                      "The cardiomediastinal silhouette is enlarged."};
static const char *const ecm_neg[] = {"The mediastinal contours are normal.", "Normal mediastinal contours.",
                                      "The cardiomediastinal silhouette is unremarkable."};

static const char *const frac_pos[] = {"There is an acute fracture of the {S} {R} rib.",
                                       "Displaced fracture of the {S} posterolateral {R} rib."};
static const char *const frac_neg[] = {"No acute osseous abnormality.", "No displaced rib fracture."};

static const char *const pother_pos[] = {"{S} apical pleural thickening.",
                                         "Pleural thickening along the {S} lateral chest wall."};

static const char *const dev_et[] = {"Endotracheal tube terminates approximately {N} cm above the carina.",
                                     "An endotracheal tube is in standard position."};
static const char *const dev_ng[] = {"Enteric tube courses below the diaphragm with tip in the stomach.",
                                     "Nasogastric tube tip is in the stomach."};
static const char *const dev_cl[] = {"Right internal jugular central venous catheter terminates in the mid SVC.",
                                     "Right IJ line tip in the low SVC."};
static const char *const dev_pm[] = {"Left chest wall pacemaker with leads in the right atrium and right ventricle.",
                                     "Dual-chamber pacemaker device is in place."};
static const char *const dev_imp[] = {"Lines and tubes in standard position.", "Support devices as above."};

static const char *const normal_lungs[] = {"The lungs are clear.", "Lungs are well expanded and clear.",
                                           "The lungs are clear without focal consolidation."};
static const char *const normal_imp[] = {"No acute cardiopulmonary process.", "No acute intrathoracic abnormality.",
                                         "Normal chest radiograph."};
static const char *const unrelated_pa[] = {"PA and lateral views of the chest were provided.",
                                           "PA and lateral chest radiographs were obtained."};
static const char *const unrelated_ap[] = {"AP single view of the chest has been obtained.",
                                           "Portable AP upright view of the chest.",
                                           "Evaluation is limited by patient positioning."};
static const char *const unrelated_any[] = {"Comparison is made to the prior study.",
                                            "Comparison is made to prior study from ___.",
                                            "Visualized upper abdomen is unremarkable.",
                                            "Findings were discussed with Dr. ___ at 10:15 by telephone."};
static const char *const bones_ok[] = {"The osseous structures are unremarkable.", "No acute osseous abnormality."};

static const char *const exam_pa[] = {"CHEST (PA AND LAT)"};
static const char *const exam_ap[] = {"CHEST (PORTABLE AP)"};
static const char *const technique[] = {"Chest PA and lateral", "Portable AP chest radiograph"};
static const char *const indication[] = {"shortness of breath", "cough and fever", "chest pain", "hypoxia",
                                         "evaluate for pneumonia", "status post line placement",
                                         "evaluate for interval change", "fall", "tachypnea", "leukocytosis"};
static const char *const patient[] = {"man", "woman"};
static const char *const headers[] = {"FINAL REPORT", "EXAMINATION:", "INDICATION:", "TECHNIQUE:", "COMPARISON:",
                                      "FINDINGS:", "IMPRESSION:", "___ year old", "with", "None."};

/* Every table, for the vocabulary. Tables of rows are listed by their flat storage. */
#define T_(a) {(const char *const *)(a), (int)(sizeof(a) / sizeof(const char *))}
static const struct {
  const char *const *s;
  int n;
} all_tables[] = {T_(sev_size),     T_(sev_extent),   T_(sev_degree),   T_(sev_adverb),    T_(lobes),         T_(zones),
                  T_(ribs_ordinal), T_(numbers),      T_(eff_pos),       T_(eff_bil),       T_(eff_unc),
                  T_(eff_imp),      T_(eff_imp_bil),  T_(eff_neg),       T_(card_pos),      T_(card_unc),
                  T_(card_imp),     T_(card_neg),     T_(cons_pos),      T_(cons_unc),      T_(cons_imp),
                  T_(cons_neg),     T_(pna_pos),      T_(pna_bil),       T_(pna_unc),       T_(pna_imp),
                  T_(pna_imp_bil),  T_(pna_neg),      T_(atel_plate),    T_(atel_mid),      T_(atel_wedge),
                  T_(atel_bil),     T_(atel_unc),     T_(atel_imp),      T_(atel_imp_bil),  T_(edema_pos),
                  T_(edema_unc),    T_(edema_imp),    T_(edema_neg),     T_(ptx_pos),       T_(ptx_apical),
                  T_(ptx_large),    T_(ptx_bil),      T_(ptx_imp),       T_(ptx_imp_bil),   T_(ptx_neg),
                  T_(opac_pos),     T_(opac_unc),     T_(opac_imp),      T_(lesion_pos),    T_(lesion_imp),
                  T_(ecm_pos),      T_(ecm_neg),      T_(frac_pos),      T_(frac_neg),      T_(pother_pos),
                  T_(dev_et),       T_(dev_ng),       T_(dev_cl),        T_(dev_pm),        T_(dev_imp),
                  T_(normal_lungs), T_(normal_imp),   T_(unrelated_pa),  T_(unrelated_ap),  T_(unrelated_any),
                  T_(bones_ok),     T_(exam_pa),      T_(exam_ap),       T_(technique),     T_(indication),
                  T_(patient),      T_(headers)};

void synth_report_visit_strings(void (*fn)(const char *s, void *ud), void *ud) {
  for (int i = 0; i < N_(all_tables); i++)
    for (int k = 0; k < all_tables[i].n; k++)
      if (all_tables[i].s[k]) fn(all_tables[i].s[k], ud);
}

/* ---- sentence building ---------------------------------------------------------------------------------- */

enum { MAX_SENT = 32, SENT_CAP = 192 };

/* Sentences, each tagged with the observation it states (label, value) or label -1. */
typedef struct sents {
  char s[MAX_SENT][SENT_CAP];
  int label[MAX_SENT], value[MAX_SENT];
  int n;
} sents;

typedef struct vars {
  const char *S, *V, *A, *L, *Z, *N, *R;
} vars;

#define PICK(r, a) ((a)[synth_int((r), N_(a))])

/* Expands a template, capitalising the first letter of the sentence. */
static void add_tagged(sents *out, const char *tmpl, const vars *v, int label, int value) {
  if (out->n >= MAX_SENT) return;
  out->label[out->n] = label;
  out->value[out->n] = value;
  char *d = out->s[out->n++];
  size_t k = 0;
  for (const char *p = tmpl; *p && k + 1 < SENT_CAP; p++) {
    if (*p == '{' && p[1] && p[2] == '}') {
      const char *w = NULL;
      switch (p[1]) {
        case 'S': w = v->S; break;
        case 'V': w = v->V; break;
        case 'A': w = v->A; break;
        case 'L': w = v->L; break;
        case 'Z': w = v->Z; break;
        case 'N': w = v->N; break;
        case 'R': w = v->R; break;
      }
      for (; w && *w && k + 1 < SENT_CAP; w++) d[k++] = *w;
      p += 2;
    } else {
      d[k++] = *p;
    }
  }
  d[k] = 0;
  if (d[0] >= 'a' && d[0] <= 'z') d[0] = (char)(d[0] - 'a' + 'A');
}

static void add(sents *out, const char *tmpl, const vars *v) { add_tagged(out, tmpl, v, -1, 0); }

static int side_index(int side) { return side == PRIOR_SYNTH_LEFT ? 1 : 0; }

/* kind: 0 size words (effusion, pneumothorax), 1 degree words (heart, edema), 2 extent words (opacities). */
static vars finding_vars(synth_rng *r, const prior_synth_finding *f, int kind) {
  vars v = {0};
  int sev = f->severity < 1 ? 1 : f->severity > 3 ? 3 : f->severity;
  int si = side_index(f->side);
  int zone = f->zone ? f->zone : PRIOR_SYNTH_LOWER;
  v.S = f->side == PRIOR_SYNTH_LEFT ? "left" : "right";
  v.V = kind == 1 ? sev_degree[sev][synth_int(r, 2)] : kind == 2 ? sev_extent[sev][synth_int(r, 2)]
                                                   : sev_size[sev][synth_int(r, 3)];
  v.A = sev_adverb[sev][synth_int(r, 2)];
  v.L = lobes[si][zone];
  v.Z = zones[si][zone][synth_int(r, 3)];
  v.N = PICK(r, numbers);
  v.R = PICK(r, ribs_ordinal);
  return v;
}

typedef struct built {
  sents findings, impression, negatives;
} built;

/* What a labeller reads from the sentences: positive beats uncertain beats negative. */
static void read_labels(const sents *s, int *labels) {
  for (int i = 0; i < s->n; i++) {
    int l = s->label[i], value = s->value[i];
    if (l < 0) continue;
    int *x = &labels[l];
    if (*x == PRIOR_SYNTH_BLANK || (*x == PRIOR_SYNTH_NEGATIVE && value != PRIOR_SYNTH_NEGATIVE) ||
        (*x == PRIOR_SYNTH_UNCERTAIN && value == PRIOR_SYNTH_POSITIVE))
      *x = value;
  }
}

/* One present finding: a findings sentence, and maybe an impression sentence. */
static void describe(built *b, synth_rng *r, const prior_synth_truth *t, int label) {
  const prior_synth_finding *f = &t->finding[label];
  int bil = f->side == PRIOR_SYNTH_BILATERAL;
  int kind = label == PRIOR_SYNTH_CARDIOMEGALY || label == PRIOR_SYNTH_EDEMA || label == PRIOR_SYNTH_ATELECTASIS ? 1
             : label == PRIOR_SYNTH_PLEURAL_EFFUSION || label == PRIOR_SYNTH_PNEUMOTHORAX                      ? 0
                                                                                                                : 2;
  vars v = finding_vars(r, f, kind);
  int imp = synth_bern(r, 0.7f);
  if (f->uncertain) {
    const char *s = NULL;
    switch (label) {
      case PRIOR_SYNTH_PLEURAL_EFFUSION: s = PICK(r, eff_unc); break;
      case PRIOR_SYNTH_CARDIOMEGALY: s = PICK(r, card_unc); break;
      case PRIOR_SYNTH_CONSOLIDATION: s = PICK(r, cons_unc); break;
      case PRIOR_SYNTH_PNEUMONIA: s = PICK(r, pna_unc); break;
      case PRIOR_SYNTH_ATELECTASIS: s = PICK(r, atel_unc); break;
      case PRIOR_SYNTH_EDEMA: s = PICK(r, edema_unc); break;
      case PRIOR_SYNTH_LUNG_OPACITY: s = PICK(r, opac_unc); break;
    }
    if (s) {
      add_tagged(&b->findings, s, &v, label, PRIOR_SYNTH_UNCERTAIN);
      return;
    }
  }
  int f0 = b->findings.n, i0 = b->impression.n;
  switch (label) {
    case PRIOR_SYNTH_PLEURAL_EFFUSION:
      add(&b->findings, bil ? PICK(r, eff_bil) : PICK(r, eff_pos), &v);
      if (imp) add(&b->impression, bil ? PICK(r, eff_imp_bil) : PICK(r, eff_imp), &v);
      break;
    case PRIOR_SYNTH_CARDIOMEGALY:
      add(&b->findings, PICK(r, card_pos), &v);
      if (imp) add(&b->impression, PICK(r, card_imp), &v);
      break;
    case PRIOR_SYNTH_CONSOLIDATION:
      add(&b->findings, PICK(r, cons_pos), &v);
      if (imp) add(&b->impression, PICK(r, cons_imp), &v);
      break;
    case PRIOR_SYNTH_PNEUMONIA:
      add(&b->findings, bil ? PICK(r, pna_bil) : PICK(r, pna_pos), &v);
      add(&b->impression, bil ? PICK(r, pna_imp_bil) : PICK(r, pna_imp), &v);
      break;
    case PRIOR_SYNTH_ATELECTASIS:
      if (bil)
        add(&b->findings, PICK(r, atel_bil), &v);
      else if (f->zone == PRIOR_SYNTH_MID)
        add(&b->findings, PICK(r, atel_mid), &v);
      else
        add(&b->findings, f->severity == 1 ? PICK(r, atel_plate) : PICK(r, atel_wedge), &v);
      if (imp && f->zone != PRIOR_SYNTH_MID) add(&b->impression, bil ? PICK(r, atel_imp_bil) : PICK(r, atel_imp), &v);
      break;
    case PRIOR_SYNTH_EDEMA:
      add(&b->findings, edema_pos[f->severity < 1 ? 1 : f->severity > 3 ? 3 : f->severity][synth_int(r, 2)], &v);
      if (imp) add(&b->impression, PICK(r, edema_imp), &v);
      break;
    case PRIOR_SYNTH_PNEUMOTHORAX:
      if (bil)
        add(&b->findings, PICK(r, ptx_bil), &v);
      else if (f->severity == 1)
        add(&b->findings, PICK(r, ptx_apical), &v);
      else if (f->severity == 3 && synth_bern(r, 0.5f))
        add(&b->findings, PICK(r, ptx_large), &v);
      else
        add(&b->findings, PICK(r, ptx_pos), &v);
      add(&b->impression, bil ? PICK(r, ptx_imp_bil) : PICK(r, ptx_imp), &v);
      break;
    case PRIOR_SYNTH_LUNG_OPACITY:
      add(&b->findings, PICK(r, opac_pos), &v);
      if (imp) add(&b->impression, PICK(r, opac_imp), &v);
      break;
    case PRIOR_SYNTH_LUNG_LESION:
      add(&b->findings, lesion_pos[f->severity < 1 ? 1 : f->severity > 3 ? 3 : f->severity][synth_int(r, 2)], &v);
      if (imp) add(&b->impression, PICK(r, lesion_imp), &v);
      break;
    case PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM: add(&b->findings, PICK(r, ecm_pos), &v); break;
    case PRIOR_SYNTH_FRACTURE:
      add(&b->findings, PICK(r, frac_pos), &v);
      if (imp) add(&b->impression, PICK(r, frac_pos), &v);
      break;
    case PRIOR_SYNTH_PLEURAL_OTHER: add(&b->findings, PICK(r, pother_pos), &v); break;
  }
  for (int i = f0; i < b->findings.n; i++) b->findings.label[i] = label, b->findings.value[i] = PRIOR_SYNTH_POSITIVE;
  for (int i = i0; i < b->impression.n; i++)
    b->impression.label[i] = label, b->impression.value[i] = PRIOR_SYNTH_POSITIVE;
}

static void describe_devices(built *b, synth_rng *r, const prior_synth_truth *t) {
  vars v = {0};
  v.N = PICK(r, numbers);
  const int l = PRIOR_SYNTH_SUPPORT_DEVICES, P = PRIOR_SYNTH_POSITIVE;
  if (t->devices & PRIOR_SYNTH_DEV_ET_TUBE) add_tagged(&b->findings, PICK(r, dev_et), &v, l, P);
  if (t->devices & PRIOR_SYNTH_DEV_NG_TUBE) add_tagged(&b->findings, PICK(r, dev_ng), &v, l, P);
  if (t->devices & PRIOR_SYNTH_DEV_CENTRAL_LINE) add_tagged(&b->findings, PICK(r, dev_cl), &v, l, P);
  if (t->devices & PRIOR_SYNTH_DEV_PACEMAKER) add_tagged(&b->findings, PICK(r, dev_pm), &v, l, P);
  if (synth_bern(r, 0.3f)) add_tagged(&b->impression, PICK(r, dev_imp), &v, l, P);
}

/* Pertinent negatives, in random order, only for findings that are absent. */
static void negatives(built *b, synth_rng *r, const prior_synth_truth *t) {
  static const int labels[] = {PRIOR_SYNTH_PLEURAL_EFFUSION, PRIOR_SYNTH_PNEUMOTHORAX, PRIOR_SYNTH_CONSOLIDATION,
                               PRIOR_SYNTH_EDEMA,            PRIOR_SYNTH_CARDIOMEGALY, PRIOR_SYNTH_PNEUMONIA,
                               PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM, PRIOR_SYNTH_FRACTURE};
  int order[N_(labels)];
  for (int i = 0; i < N_(labels); i++) order[i] = i;
  for (int i = N_(labels) - 1; i > 0; i--) {
    int j = synth_int(r, i + 1), x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  vars v = {0};
  for (int k = 0; k < N_(labels); k++) {
    int l = labels[order[k]];
    if (t->finding[l].present) continue;
    const char *s = NULL;
    switch (l) {
      case PRIOR_SYNTH_PLEURAL_EFFUSION: s = PICK(r, eff_neg); break;
      case PRIOR_SYNTH_PNEUMOTHORAX: s = PICK(r, ptx_neg); break;
      case PRIOR_SYNTH_CONSOLIDATION: s = PICK(r, cons_neg); break;
      case PRIOR_SYNTH_EDEMA: s = PICK(r, edema_neg); break;
      case PRIOR_SYNTH_CARDIOMEGALY: s = PICK(r, card_neg); break;
      case PRIOR_SYNTH_PNEUMONIA: s = PICK(r, pna_neg); break;
      case PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM: s = PICK(r, ecm_neg); break;
      case PRIOR_SYNTH_FRACTURE: s = PICK(r, frac_neg); break;
    }
    add_tagged(&b->negatives, s, &v, l, PRIOR_SYNTH_NEGATIVE);
  }
}

static int lungs_clear(const prior_synth_truth *t) {
  static const int lung[] = {PRIOR_SYNTH_ATELECTASIS, PRIOR_SYNTH_CONSOLIDATION, PRIOR_SYNTH_EDEMA,
                             PRIOR_SYNTH_LUNG_LESION, PRIOR_SYNTH_LUNG_OPACITY,  PRIOR_SYNTH_PNEUMONIA,
                             PRIOR_SYNTH_PNEUMOTHORAX, PRIOR_SYNTH_PLEURAL_EFFUSION};
  for (int i = 0; i < N_(lung); i++)
    if (t->finding[lung[i]].present) return 0;
  return 1;
}

/* ---- layout ------------------------------------------------------------------------------------------------ */

typedef struct out {
  char *buf;
  size_t cap, len;
  int overflow;
} out;

static void put(out *o, const char *s) {
  size_t n = strlen(s);
  if (o->len + n + 1 > o->cap) {
    o->overflow = 1;
    return;
  }
  memcpy(o->buf + o->len, s, n + 1);
  o->len += n;
}

/* Sentences joined by a space (sometimes two), wrapped at 70 columns, each line indented by one space. */
static void put_wrapped(out *o, synth_rng *r, const sents *s, int from, int to) {
  char line[128];
  size_t col = 0;
  line[0] = 0;
  for (int i = from; i < to; i++) {
    const char *p = s->s[i];
    while (*p) {
      while (*p == ' ') p++;
      const char *e = p;
      while (*e && *e != ' ') e++;
      size_t wl = (size_t)(e - p);
      if (wl == 0) break;
      if (col > 0 && col + 1 + wl > 70) {
        put(o, " ");
        put(o, line);
        put(o, "\n");
        col = 0;
        line[0] = 0;
      }
      if (col > 0) line[col++] = ' ';
      if (wl > 100) wl = 100;
      memcpy(line + col, p, wl);
      col += wl;
      line[col] = 0;
      p = e;
    }
    if (i + 1 < to && col > 0 && col < 69 && synth_bern(r, 0.3f)) line[col++] = ' ', line[col] = 0;
  }
  if (col > 0) {
    put(o, " ");
    put(o, line);
    put(o, "\n");
  }
}

static void copy_sent(sents *dst, const sents *src, int i) {
  if (dst->n >= MAX_SENT) return;
  dst->label[dst->n] = src->label[i];
  dst->value[dst->n] = src->value[i];
  snprintf(dst->s[dst->n++], SENT_CAP, "%s", src->s[i]);
}

prior_status prior_synth_report(const prior_synth_truth *t, float broken_fraction, char *buf, size_t cap,
                                prior_synth_report_info *info) {
  if (!t || !buf) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_report: NULL truth or buffer");
  synth_rng r0 = synth_rng_make(t->seed, 0x7265706f7274ULL), *r = &r0;
  built B;
  memset(&B, 0, sizeof B);

  /* In the order a radiologist reads: lines, heart, lungs, pleura, bones. */
  static const int order[] = {PRIOR_SYNTH_CARDIOMEGALY, PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM, PRIOR_SYNTH_EDEMA,
                              PRIOR_SYNTH_CONSOLIDATION, PRIOR_SYNTH_PNEUMONIA, PRIOR_SYNTH_LUNG_OPACITY,
                              PRIOR_SYNTH_ATELECTASIS, PRIOR_SYNTH_LUNG_LESION, PRIOR_SYNTH_PLEURAL_EFFUSION,
                              PRIOR_SYNTH_PLEURAL_OTHER, PRIOR_SYNTH_PNEUMOTHORAX, PRIOR_SYNTH_FRACTURE};
  int view = t->view;
  sents pre = {0};
  vars none = {0};
  if (synth_bern(r, 0.35f)) add(&pre, view == PRIOR_SYNTH_AP ? PICK(r, unrelated_ap) : PICK(r, unrelated_pa), &none);
  if (synth_bern(r, 0.25f)) add(&pre, PICK(r, unrelated_any), &none);
  if (t->devices) describe_devices(&B, r, t);
  for (int i = 0; i < N_(order); i++)
    if (t->finding[order[i]].present) describe(&B, r, t, order[i]);
  negatives(&B, r, t);
  int no_finding = t->finding[PRIOR_SYNTH_NO_FINDING].present;
  const int NF = PRIOR_SYNTH_NO_FINDING, POS = PRIOR_SYNTH_POSITIVE;

  /* FINDINGS: preamble, devices and findings, "lungs clear", 1-4 negatives, maybe bones. */
  sents F = {0}, I = {0};
  for (int i = 0; i < pre.n; i++) copy_sent(&F, &pre, i);
  for (int i = 0; i < B.findings.n; i++) copy_sent(&F, &B.findings, i);
  if (lungs_clear(t) && synth_bern(r, 0.8f)) add(&F, PICK(r, normal_lungs), &none);
  int want_neg = 1 + synth_int(r, 4);
  for (int i = 0; i < B.negatives.n && i < want_neg; i++) copy_sent(&F, &B.negatives, i);
  if (!t->finding[PRIOR_SYNTH_FRACTURE].present && synth_bern(r, 0.3f))
    add_tagged(&F, PICK(r, bones_ok), &none, PRIOR_SYNTH_FRACTURE, PRIOR_SYNTH_NEGATIVE);
  /* IMPRESSION: the main positives, or a normal statement. */
  for (int i = 0; i < B.impression.n && I.n < 3; i++) copy_sent(&I, &B.impression, i);
  if (I.n == 0) {
    if (no_finding || B.findings.n == 0)
      add_tagged(&I, PICK(r, normal_imp), &none, no_finding ? NF : -1, POS);
    else
      copy_sent(&I, &B.findings, 0);
  }
  /* 4..14 sentences in all: pad with unrelated ones, trim negatives from the end of FINDINGS. */
  while (F.n + I.n < 4) add(&F, PICK(r, unrelated_any), &none);
  while (F.n + I.n > 14 && F.n > 1) F.n--;

  /* The deliberately broken fraction: too short, or no FINDINGS header. */
  int broken = synth_unif(r) < broken_fraction;
  int no_findings_section = 0;
  if (broken) {
    if (synth_bern(r, 0.5f)) {
      int keep = 1 + synth_int(r, 3);
      F.n = 0;
      if (I.n > keep) I.n = keep;
      while (I.n < keep) add(&I, PICK(r, unrelated_any), &none);
    } else {
      no_findings_section = 1;
      sents all = {0};
      for (int i = 0; i < F.n; i++) copy_sent(&all, &F, i);
      for (int i = 0; i < I.n; i++) copy_sent(&all, &I, i);
      I = all;
      F.n = 0;
    }
  }

  out o = {buf, cap, 0, 0};
  buf[0] = 0;
  char tmp[256];
  put(&o, "                                 FINAL REPORT\n");
  snprintf(tmp, sizeof tmp, " EXAMINATION:  %s\n \n", view == PRIOR_SYNTH_AP ? exam_ap[0] : exam_pa[0]);
  put(&o, tmp);
  snprintf(tmp, sizeof tmp, " INDICATION:  ___ year old %s with %s.\n \n", patient[t->female ? 1 : 0],
           PICK(r, indication));
  put(&o, tmp);
  if (synth_bern(r, 0.6f)) {
    snprintf(tmp, sizeof tmp, " TECHNIQUE:  %s\n \n", technique[view == PRIOR_SYNTH_AP ? 1 : 0]);
    put(&o, tmp);
  }
  put(&o, synth_bern(r, 0.6f) ? " COMPARISON:  ___\n \n" : " COMPARISON:  None.\n \n");
  if (F.n > 0 && !no_findings_section) {
    put(&o, " FINDINGS:\n \n");
    put_wrapped(&o, r, &F, 0, F.n);
    put(&o, " \n");
  }
  if (I.n > 0) {
    put(&o, " IMPRESSION:\n \n");
    put_wrapped(&o, r, &I, 0, I.n);
  }
  if (o.overflow)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_report: buffer of %zu bytes is too small", cap);
  if (info) {
    for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) info->labels[l] = PRIOR_SYNTH_BLANK;
    read_labels(&F, info->labels);
    read_labels(&I, info->labels);
    /* "No Finding" is 1 when nothing but devices is positive or hedged, as the CheXpert labeller does. */
    int any = 0;
    for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++)
      if (l != NF && l != PRIOR_SYNTH_SUPPORT_DEVICES &&
          (info->labels[l] == PRIOR_SYNTH_POSITIVE || info->labels[l] == PRIOR_SYNTH_UNCERTAIN))
        any = 1;
    info->labels[NF] = any ? PRIOR_SYNTH_BLANK : PRIOR_SYNTH_POSITIVE;
    info->sentences = F.n + I.n;
    info->has_findings = F.n > 0 && !no_findings_section;
    info->has_impression = I.n > 0;
    info->broken = broken;
  }
  return PRIOR_OK;
}
