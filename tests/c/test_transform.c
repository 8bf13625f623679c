/* Transforms: resize and affine against torchvision outputs (tests/fixtures/transform/make_transform.py), and
 * flip, crops, scaling and z-score by hand; bad arguments. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "prior/transform.h"

#define DIR "tests/fixtures/transform/"
#define H 37
#define W 53

static float *load_f32(const char *name, size_t count) {
  char path[256];
  snprintf(path, sizeof path, DIR "%s.f32", name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  float *d = malloc(count * sizeof(float) + 1);
  size_t got = fread(d, sizeof(float), count + 1, f);
  fclose(f);
  if (got != count) {
    free(d);
    return NULL;
  }
  return d;
}

static double max_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
  }
  return m;
}

static void test_against_torchvision(void) {
  float *input = load_f32("input", (size_t)H * W);
  CHECK_MSG(input != NULL, "cannot read " DIR "input.f32");
  FILE *f = fopen(DIR "cases.txt", "r");
  CHECK(f != NULL);
  if (!input || !f) {
    free(input);
    if (f) fclose(f);
    return;
  }
  char line[256];
  int cases = 0;
  while (fgets(line, sizeof line, f)) {
    char name[64], kind[16];
    if (line[0] == '#' || sscanf(line, "%63s %15s", name, kind) != 2) continue;
    int oh, ow, aa;
    float angle, tx, ty, scale, fill;
    if (strcmp(kind, "resize") == 0 && sscanf(line, "%*s %*s %d %d %d", &oh, &ow, &aa) == 3) {
      float *want = load_f32(name, (size_t)oh * ow), *got = malloc(sizeof(float) * oh * ow);
      CHECK_MSG(want != NULL, "cannot read %s", name);
      CHECK_OK(prior_image_resize(input, H, W, got, oh, ow, aa));
      double d = want ? max_diff(got, want, (size_t)oh * ow) : INFINITY;
      CHECK_MSG(d <= 1e-5, "%s: max difference %g from torchvision", name, d); /* brief asks 1e-4 */
      free(want);
      free(got);
      cases++;
    } else if (strcmp(kind, "affine") == 0 &&
               sscanf(line, "%*s %*s %d %d %f %f %f %f %f", &oh, &ow, &angle, &tx, &ty, &scale, &fill) == 7) {
      float *want = load_f32(name, (size_t)H * W), *got = malloc(sizeof(float) * H * W);
      CHECK_MSG(want != NULL, "cannot read %s", name);
      CHECK_OK(prior_image_affine(input, H, W, got, angle, tx, ty, scale, fill));
      double d = want ? max_diff(got, want, (size_t)H * W) : INFINITY;
      CHECK_MSG(d <= 1e-4, "%s: max difference %g from torchvision", name, d);
      free(want);
      free(got);
      cases++;
    }
  }
  fclose(f);
  CHECK(cases == 19);
  free(input);
}

static void test_resize_properties(void) {
  /* A constant image stays constant at any size; same size is the identity. */
  float c[6 * 10], out[40 * 3];
  for (int i = 0; i < 60; i++) c[i] = 0.25f;
  for (int aa = 0; aa < 2; aa++) {
    CHECK_OK(prior_image_resize(c, 6, 10, out, 40, 3, aa));
    int ok = 1;
    for (int i = 0; i < 120; i++) ok &= fabsf(out[i] - 0.25f) < 1e-6f;
    CHECK(ok);
  }
  float ramp[12], same[12];
  for (int i = 0; i < 12; i++) ramp[i] = (float)i;
  CHECK_OK(prior_image_resize(ramp, 3, 4, same, 3, 4, 1));
  CHECK(max_diff(ramp, same, 12) == 0);
  /* Shrinking 4 -> 2 with antialias: PIL's triangle widened to support 2. */
  float row[4] = {0, 4, 8, 12}, half[2];
  CHECK_OK(prior_image_resize(row, 1, 4, half, 1, 2, 1));
  /* Output 0: centre 1.0, taps 0..2 at distances 0.25, 0.25, 0.75 of the support -> 0.75, 0.75, 0.25 (sum 1.75);
   * output 1: centre 3.0, taps 1..3 -> 0.25, 0.75, 0.75 (tap 4 is outside the image). */
  CHECK_NEAR(half[0], (0.75 * 0 + 0.75 * 4 + 0.25 * 8) / 1.75, 1e-5);
  CHECK_NEAR(half[1], (0.25 * 4 + 0.75 * 8 + 0.75 * 12) / 1.75, 1e-5);
  /* Without antialias: the two taps around 0.5 and 2.5 -> 2 and 10. */
  CHECK_OK(prior_image_resize(row, 1, 4, half, 1, 2, 0));
  CHECK_NEAR(half[0], 2, 1e-6);
  CHECK_NEAR(half[1], 10, 1e-6);
  CHECK_ERR(prior_image_resize(row, 1, 4, half, 0, 2, 1), PRIOR_ERR_SHAPE, "[1, 4] -> [0, 2]");
  CHECK_ERR(prior_image_resize(NULL, 1, 4, half, 1, 2, 1), PRIOR_ERR_ARGUMENT, "NULL image");
}

static void test_affine_properties(void) {
  float img[5 * 6], out[5 * 6];
  for (int i = 0; i < 30; i++) img[i] = (float)(i % 7) / 7.0f;
  CHECK_OK(prior_image_affine(img, 5, 6, out, 0, 0, 0, 1, 0.5f));
  CHECK(max_diff(img, out, 30) < 1e-6); /* identity */
  /* Integer translation by +1 in x shifts content right; the uncovered column is the fill. */
  CHECK_OK(prior_image_affine(img, 5, 6, out, 0, 1, 0, 1, 0.5f));
  int ok = 1;
  for (int i = 0; i < 5; i++) {
    ok &= fabsf(out[i * 6] - 0.5f) < 1e-6f;
    for (int j = 1; j < 6; j++) ok &= fabsf(out[i * 6 + j] - img[i * 6 + j - 1]) < 1e-6f;
  }
  CHECK(ok);
  /* +90 degrees is clockwise on screen: the top-left pixel goes to the top-right corner. */
  float sq[16] = {1}, rot[16];
  CHECK_OK(prior_image_affine(sq, 4, 4, rot, 90, 0, 0, 1, 0));
  CHECK_NEAR(rot[3], 1, 1e-6);
  CHECK_NEAR(rot[0], 0, 1e-6);
  CHECK_ERR(prior_image_affine(img, 5, 6, out, 0, 0, 0, 0, 0), PRIOR_ERR_ARGUMENT, "scale must be > 0");
  CHECK_ERR(prior_image_affine(img, 5, 6, out, NAN, 0, 0, 1, 0), PRIOR_ERR_ARGUMENT, "angle nan");
  CHECK_ERR(prior_image_affine(img, 5, 6, img, 0, 0, 0, 1, 0), PRIOR_ERR_ARGUMENT, "must differ");
  CHECK_ERR(prior_image_affine(img, 0, 6, out, 0, 0, 0, 1, 0), PRIOR_ERR_SHAPE, "[0, 6] is empty");
}

static void test_simple(void) {
  float img[3 * 4], out[12];
  for (int i = 0; i < 12; i++) img[i] = (float)i;
  CHECK_OK(prior_image_hflip(img, 3, 4, out));
  CHECK(out[0] == 3 && out[3] == 0 && out[4] == 7 && out[11] == 8);
  float odd[3] = {1, 2, 3};
  CHECK_OK(prior_image_hflip(odd, 1, 3, odd)); /* in place, odd width */
  CHECK(odd[0] == 3 && odd[1] == 2 && odd[2] == 1);
  CHECK_OK(prior_image_crop(img, 3, 4, 1, 2, 2, 2, out));
  CHECK(out[0] == 6 && out[1] == 7 && out[2] == 10 && out[3] == 11);
  CHECK_ERR(prior_image_crop(img, 3, 4, 2, 2, 2, 2, out), PRIOR_ERR_SHAPE,
            "window 2x2 at (top 2, left 2) is not inside the 3x4 image");
  CHECK_ERR(prior_image_crop(img, 3, 4, -1, 0, 1, 1, out), PRIOR_ERR_SHAPE, "not inside");
  /* Centre crop offsets follow Python's round: (4-1)/2 = 1.5 -> 2, (3-2)/2 = 0.5 -> 0. */
  CHECK_OK(prior_image_center_crop(img, 3, 4, 2, 1, out));
  CHECK(out[0] == 2 && out[1] == 6);
  float big[7 * 7], c3[9];
  for (int i = 0; i < 49; i++) big[i] = (float)i;
  CHECK_OK(prior_image_center_crop(big, 7, 7, 2, 2, c3)); /* (7-2)/2 = 2.5 -> 2 */
  CHECK(c3[0] == 2 * 7 + 2);
  CHECK_ERR(prior_image_center_crop(img, 3, 4, 4, 1, out), PRIOR_ERR_SHAPE, "4x1 does not fit in the 3x4 image");
  uint8_t u[3] = {0, 51, 255};
  float f[3];
  CHECK_OK(prior_image_from_u8(u, 3, f));
  CHECK(f[0] == 0 && f[1] == 0.2f && f[2] == 1);
  CHECK_OK(prior_image_zscore(f, 3, 0.4755f, 0.3011f));
  CHECK_NEAR(f[2], (1 - 0.4755) / 0.3011, 1e-5);
  CHECK_ERR(prior_image_zscore(f, 3, 0.5f, 0), PRIOR_ERR_ARGUMENT, "std must be > 0");
}

int main(void) {
  test_against_torchvision();
  test_resize_properties();
  test_affine_properties();
  test_simple();
  return check_summary("test_transform");
}
