/* Synthetic radiographs: determinism, and ground truth that agrees with the picture. */
#include <stdlib.h>

#include "check.h"
#include "prior/synth.h"

/* Cardiothoracic ratio measured on the anatomy map the way radiologists do: the heart's extreme right and
 * left borders (on whatever rows they lie) over the widest inner diameter of the thorax on one row. */
static float measured_ctr(const uint8_t *anat, int n) {
  int h0 = n, h1 = -1, thorax = 0;
  for (int y = 0; y < n; y++) {
    int l0 = n, l1 = -1;
    for (int x = 0; x < n; x++) {
      uint8_t a = anat[(size_t)y * n + x];
      if (a == 2) h0 = x < h0 ? x : h0, h1 = x > h1 ? x : h1;
      if (a == 1) l0 = x < l0 ? x : l0, l1 = x;
    }
    if (l1 >= 0 && l1 - l0 + 1 > thorax) thorax = l1 - l0 + 1;
  }
  return thorax && h1 >= 0 ? (float)(h1 - h0 + 1) / (float)thorax : 0.0f;
}

static double mean_in(const float *img, const uint8_t *sel, int n) {
  double s = 0;
  long c = 0;
  for (long i = 0; i < (long)n * n; i++)
    if (sel[i]) s += img[i], c++;
  return c ? s / (double)c : 0.0;
}

static void test_determinism(void) {
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = 64;
  cfg.seed = 7;
  float a[64 * 64], b[64 * 64];
  prior_synth_truth ta, tb;
  CHECK_OK(prior_synth_render(&cfg, 3, a, &ta));
  CHECK_OK(prior_synth_render(&cfg, 3, b, &tb));
  CHECK(memcmp(a, b, sizeof a) == 0);
  CHECK(memcmp(&ta, &tb, sizeof ta) == 0);
  int inrange = 1;
  for (int i = 0; i < 64 * 64; i++) inrange &= a[i] >= 0.0f && a[i] <= 1.0f;
  CHECK(inrange);
  CHECK_OK(prior_synth_render(&cfg, 4, b, NULL));
  CHECK(memcmp(a, b, sizeof a) != 0);
  cfg.seed = 8;
  CHECK_OK(prior_synth_render(&cfg, 3, b, NULL));
  CHECK(memcmp(a, b, sizeof a) != 0);
}

static void test_errors(void) {
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  float img[64 * 64];
  cfg.image_size = 16;
  CHECK_ERR(prior_synth_render(&cfg, 0, img, NULL), PRIOR_ERR_ARGUMENT, "16");
  cfg.image_size = 64;
  CHECK_ERR(prior_synth_render(&cfg, 0, NULL, NULL), PRIOR_ERR_ARGUMENT, "NULL");
  prior_synth_truth t;
  memset(&t, 0, sizeof t);
  t.size = 64;
  CHECK_ERR(prior_synth_render_truth(&t, img, NULL, NULL), PRIOR_ERR_ARGUMENT, "invalid geometry");
  CHECK_OK(prior_synth_sample(&cfg, NULL, 1, &t));
  CHECK_ERR(prior_synth_sample_view(&t, 2, 7, &t), PRIOR_ERR_ARGUMENT, "view 7");
  CHECK(strcmp(prior_synth_label_name(PRIOR_SYNTH_PLEURAL_EFFUSION), "Pleural Effusion") == 0);
  CHECK(prior_synth_label_name(14) == NULL);
}

/* Many cases with frequent findings: masks, ratios and boxes must agree with the labels. */
static void test_truth_agrees(void) {
  enum { N = 128, CASES = 80 };
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = N;
  cfg.seed = 11;
  prior_synth_profile p;
  prior_synth_profile_default(&p);
  for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) p.p[l] = 0.3f;
  float *img = malloc(sizeof(float) * N * N);
  uint8_t *mask = malloc(N * N), *anat = malloc(N * N);
  int ptx_cases = 0, cardio_cases = 0, box_cases = 0, mask_ok = 1, ctr_ok = 1, box_ok = 1, ctr_close = 1;
  for (int i = 0; i < CASES; i++) {
    prior_synth_truth t;
    CHECK_OK(prior_synth_sample(&cfg, &p, (uint64_t)i, &t));
    CHECK_OK(prior_synth_render_truth(&t, img, mask, anat));
    int ptx = t.finding[PRIOR_SYNTH_PNEUMOTHORAX].present, cardio = t.finding[PRIOR_SYNTH_CARDIOMEGALY].present;
    long area = 0;
    for (int k = 0; k < N * N; k++) area += mask[k];
    if ((area > 0) != ptx) mask_ok = 0, fprintf(stderr, "case %d: ptx %d, mask area %ld\n", i, ptx, area);
    float ctr = measured_ctr(anat, N);
    if ((ctr > 0.5f) != cardio || (t.ctr > 0.5f) != cardio)
      ctr_ok = 0, fprintf(stderr, "case %d: cardiomegaly %d, ctr %.3f (truth %.3f)\n", i, cardio, ctr, t.ctr);
    if (fabsf(ctr - t.ctr) > 0.04f) ctr_close = 0, fprintf(stderr, "case %d: ctr %.3f vs %.3f\n", i, ctr, t.ctr);
    int opac = 0;
    for (int b = 0; b < t.nblobs; b++)
      opac |= t.blob[b].label == PRIOR_SYNTH_CONSOLIDATION || t.blob[b].label == PRIOR_SYNTH_PNEUMONIA;
    if ((t.nboxes > 0) != opac) box_ok = 0;
    for (int b = 0; b < t.nboxes; b++)
      if (t.box[b][0] < 0 || t.box[b][1] < 0 || t.box[b][2] < 1 || t.box[b][3] < 1 || t.box[b][0] + t.box[b][2] > N ||
          t.box[b][1] + t.box[b][3] > N)
        box_ok = 0;
    if (opac && !(t.finding[PRIOR_SYNTH_CONSOLIDATION].present || t.finding[PRIOR_SYNTH_PNEUMONIA].present)) box_ok = 0;
    ptx_cases += ptx;
    cardio_cases += cardio;
    box_cases += t.nboxes > 0;
  }
  CHECK(mask_ok);
  CHECK(ctr_ok);
  CHECK(ctr_close);
  CHECK(box_ok);
  CHECK(ptx_cases > 5 && ptx_cases < CASES - 5);
  CHECK(cardio_cases > 5 && cardio_cases < CASES - 5);
  CHECK(box_cases > 5);
  free(img);
  free(mask);
  free(anat);
}

/* Removing a finding from a truth changes the picture where the finding is: fluid and consolidation are
 * brighter than the lung they replace, pleural air is darker. */
static void test_findings_visible(void) {
  enum { N = 96 };
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = N;
  prior_synth_profile p;
  prior_synth_profile_default(&p);
  for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) p.p[l] = 0.0f;
  p.p[PRIOR_SYNTH_PLEURAL_EFFUSION] = 1.0f;
  p.p[PRIOR_SYNTH_PNEUMOTHORAX] = 1.0f;
  p.p[PRIOR_SYNTH_CONSOLIDATION] = 1.0f;
  p.ap_fraction = 0.0f;
  float *with = malloc(sizeof(float) * N * N), *without = malloc(sizeof(float) * N * N);
  uint8_t *mask = malloc(N * N), *sel = malloc(N * N);
  int brighter = 0, darker = 0, cons = 0, tries = 0;
  for (int i = 0; i < 12; i++) {
    prior_synth_truth t, u;
    CHECK_OK(prior_synth_sample(&cfg, &p, 100 + (uint64_t)i, &t));
    t.noise = 0.0f;
    CHECK_OK(prior_synth_render_truth(&t, with, mask, NULL));
    /* pneumothorax rim: darker than the same lung without it */
    u = t;
    u.ptx_f[0] = u.ptx_f[1] = 1.0f;
    CHECK_OK(prior_synth_render_truth(&u, without, NULL, NULL));
    darker += mean_in(with, mask, N) < mean_in(without, mask, N) - 0.03;
    /* effusion: the lower image rows get brighter */
    u = t;
    u.effusion_h[0] = u.effusion_h[1] = 0.0f;
    CHECK_OK(prior_synth_render_truth(&u, without, NULL, NULL));
    for (int k = 0; k < N * N; k++) sel[k] = with[k] > without[k] + 0.05f;
    long changed = 0;
    for (int k = 0; k < N * N; k++) changed += sel[k];
    brighter += changed > N / 4;
    if (changed <= N / 4) fprintf(stderr, "effusion case %d: %ld brighter pixels (h %.2f %.2f)\n", i, changed,
                                  t.effusion_h[0], t.effusion_h[1]);
    /* consolidation: brighter inside its box */
    u = t;
    u.nblobs = 0;
    CHECK_OK(prior_synth_render_truth(&u, without, NULL, NULL));
    if (t.nboxes > 0) {
      tries++;
      memset(sel, 0, N * N);
      for (int y = (int)t.box[0][1]; y < (int)(t.box[0][1] + t.box[0][3]); y++)
        for (int x = (int)t.box[0][0]; x < (int)(t.box[0][0] + t.box[0][2]); x++) sel[y * N + x] = 1;
      cons += mean_in(with, sel, N) > mean_in(without, sel, N) + 0.03;
    }
  }
  CHECK_MSG(darker == 12, "pneumothorax darker in %d of 12", darker);
  CHECK_MSG(brighter == 12, "effusion brighter in %d of 12", brighter);
  CHECK_MSG(tries > 0 && cons == tries, "consolidation brighter in %d of %d", cons, tries);
  free(with);
  free(without);
  free(mask);
  free(sel);
}

static void test_views(void) {
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = 64;
  prior_synth_truth t, lat;
  float img[64 * 64];
  uint8_t mask[64 * 64];
  CHECK_OK(prior_synth_sample(&cfg, NULL, 5, &t));
  CHECK_OK(prior_synth_sample_view(&t, 99, PRIOR_SYNTH_LATERAL, &lat));
  CHECK(lat.view == PRIOR_SYNTH_LATERAL && lat.nboxes == 0);
  CHECK(memcmp(lat.finding, t.finding, sizeof t.finding) == 0);
  CHECK_OK(prior_synth_render_truth(&lat, img, mask, NULL));
  long area = 0;
  for (int k = 0; k < 64 * 64; k++) area += mask[k];
  CHECK(area == 0);
  /* The lateral profile differs from the frontal picture. */
  float front[64 * 64];
  CHECK_OK(prior_synth_render_truth(&t, front, NULL, NULL));
  CHECK(memcmp(front, img, sizeof img) != 0);
}

int main(void) {
  test_determinism();
  test_errors();
  test_truth_agrees();
  test_findings_visible();
  test_views();
  return check_summary("test_synth_render");
}
