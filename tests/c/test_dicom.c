/* DICOM: real files from pydicom's test data and files written by pydicom (tests/fixtures/dicom/make_dicom.py, whose
 * expected.txt holds pydicom's values), unsupported syntaxes, broken and lying files, and the writer. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "prior/dicom.h"

#define DIR "tests/fixtures/dicom/"

static uint8_t *load(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = malloc((size_t)n + 1);
  *len = fread(d, 1, (size_t)n, f);
  fclose(f);
  return d;
}

static void test_expected(void) {
  FILE *f = fopen(DIR "expected.txt", "r");
  CHECK(f != NULL);
  if (!f) return;
  char line[512];
  int files = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    char name[64];
    int rows, cols, mono1;
    double sum, vmin, vmax, v0, vmid, vlast;
    if (sscanf(line, "%63s %d %d %d %lf %lf %lf %lf %lf %lf", name, &rows, &cols, &mono1, &sum, &vmin, &vmax, &v0,
               &vmid, &vlast) != 10)
      continue;
    files++;
    char path[128];
    snprintf(path, sizeof path, DIR "%s", name);
    prior_dicom_image *img = NULL;
    CHECK_OK(prior_dicom_read(path, &img));
    if (!img) continue;
    CHECK_MSG(img->rows == rows && img->cols == cols, "%s: %dx%d", name, img->rows, img->cols);
    CHECK_MSG(img->monochrome1 == mono1, "%s: monochrome1 %d", name, img->monochrome1);
    if (img->rows != rows || img->cols != cols) {
      prior_dicom_free(img);
      continue;
    }
    double s = 0, lo = img->pixels[0], hi = img->pixels[0];
    for (int i = 0; i < rows * cols; i++) {
      s += img->pixels[i];
      if (img->pixels[i] < lo) lo = img->pixels[i];
      if (img->pixels[i] > hi) hi = img->pixels[i];
    }
    /* Per-pixel values are float32 of the exact rescaled value: keep the tolerance at float precision. */
    CHECK_MSG(fabs(s - sum) <= 1e-6 * fabs(sum) + 0.05, "%s: sum %.6f vs pydicom %.6f", name, s, sum);
    CHECK_NEAR(lo, vmin, 1e-3);
    CHECK_NEAR(hi, vmax, 1e-3);
    CHECK_NEAR(img->pixels[0], v0, 1e-3);
    CHECK_NEAR(img->pixels[(rows / 2) * cols + cols / 2], vmid, 1e-3);
    CHECK_NEAR(img->pixels[rows * cols - 1], vlast, 1e-3);
    /* Normalised values stay in [0,1]; per-image normalisation reaches both ends. */
    float *norm = malloc(sizeof(float) * rows * cols);
    CHECK_OK(prior_dicom_normalize(img, 0, norm));
    int in_range = 1;
    for (int i = 0; i < rows * cols; i++) in_range &= norm[i] >= 0 && norm[i] <= 1;
    CHECK(in_range);
    CHECK_OK(prior_dicom_normalize(img, 1, norm));
    float nlo = 1, nhi = 0;
    for (int i = 0; i < rows * cols; i++) {
      if (norm[i] < nlo) nlo = norm[i];
      if (norm[i] > nhi) nhi = norm[i];
    }
    CHECK(nlo == 0.0f && nhi == 1.0f);
    free(norm);
    prior_dicom_free(img);
  }
  fclose(f);
  CHECK(files == 6);
}

static void test_attributes(void) {
  prior_dicom_image *img = NULL;
  CHECK_OK(prior_dicom_read(DIR "ct_explicit.dcm", &img));
  if (img) {
    CHECK(strcmp(img->transfer_syntax, "1.2.840.10008.1.2.1") == 0);
    CHECK(img->bits_allocated == 16 && img->bits_stored == 16 && img->pixel_representation == 1);
    CHECK(img->slope == 1 && img->intercept == -1024);
    CHECK(img->value_min == -32768 - 1024 && img->value_max == 32767 - 1024);
  }
  prior_dicom_free(img);
  CHECK_OK(prior_dicom_read(DIR "mr_implicit.dcm", &img));
  if (img) CHECK(strcmp(img->transfer_syntax, "1.2.840.10008.1.2") == 0);
  prior_dicom_free(img);
  CHECK_OK(prior_dicom_read(DIR "sc_8bit.dcm", &img));
  if (img) {
    float *norm = malloc(sizeof(float) * img->rows * img->cols);
    CHECK_OK(prior_dicom_normalize(img, 0, norm));
    int ok = 1;
    for (int i = 0; i < img->rows * img->cols; i++) ok &= fabsf(norm[i] - img->pixels[i] / 255.0f) < 1e-6f;
    CHECK(ok); /* an 8-bit image normalises as v / 255 */
    free(norm);
  }
  prior_dicom_free(img);
  CHECK_OK(prior_dicom_read(DIR "jpeg_baseline.dcm", &img));
  if (img) CHECK(strcmp(img->transfer_syntax, "1.2.840.10008.1.2.4.50") == 0);
  prior_dicom_free(img);
}

static void test_unsupported(void) {
  prior_dicom_image *img = (prior_dicom_image *)1;
  CHECK_ERR(prior_dicom_read(DIR "unsupported_rle.dcm", &img), PRIOR_ERR_UNSUPPORTED,
            "transfer syntax 1.2.840.10008.1.2.5 (RLE lossless) is not supported");
  CHECK(img == NULL);
  CHECK(strstr(prior_error_message(), "dcmdjpeg") && strstr(prior_error_message(), "unsupported_rle.dcm"));
  CHECK_ERR(prior_dicom_read(DIR "unsupported_j2k.dcm", &img), PRIOR_ERR_UNSUPPORTED,
            "transfer syntax 1.2.840.10008.1.2.4.91 (JPEG 2000)");
  CHECK_ERR(prior_dicom_read(DIR "rgb_jpeg.dcm", &img), PRIOR_ERR_UNSUPPORTED, "3 samples per pixel");
  CHECK_ERR(prior_dicom_read(DIR "truncated.dcm", &img), PRIOR_ERR_FORMAT, "truncated.dcm: truncated");
  CHECK_ERR(prior_dicom_read(DIR "expected.txt", &img), PRIOR_ERR_FORMAT, "not a DICOM file");
  CHECK_ERR(prior_dicom_read(DIR "nothing.dcm", &img), PRIOR_ERR_IO, "cannot open");
  CHECK_ERR(prior_dicom_decode((const uint8_t *)"", 0, "empty.dcm", &img), PRIOR_ERR_FORMAT, "empty.dcm: empty");
}

/* Finds the first occurrence of a byte pattern. */
static long find(const uint8_t *d, size_t n, const void *pat, size_t m) {
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp(d + i, pat, m) == 0) return (long)i;
  return -1;
}

static void test_broken(void) {
  size_t len;
  prior_dicom_image *img = NULL;
  const char *names[] = {DIR "ct_explicit.dcm", DIR "seq_implicit_mono1.dcm", DIR "jpeg_baseline.dcm"};
  for (int k = 0; k < 3; k++) {
    uint8_t *d = load(names[k], &len);
    CHECK(d != NULL);
    if (!d) continue;
    /* Every truncation fails cleanly (checked under the sanitizers too). */
    int all_failed = 1;
    for (size_t cut = 0; cut < len; cut += (k == 0 ? 211 : 7)) {
      prior_error_clear();
      if (prior_dicom_decode(d, cut, "cut.dcm", &img) == PRIOR_OK) {
        all_failed = 0;
        prior_dicom_free(img);
      } else {
        all_failed &= strstr(prior_error_message(), "cut.dcm") != NULL;
      }
    }
    CHECK_MSG(all_failed, "%s: a truncated copy was accepted or gave a message without the name", names[k]);
    /* Corrupt single bytes: anything may happen except a crash. */
    uint8_t *copy = malloc(len);
    unsigned seed = 12345;
    for (int trial = 0; trial < 300; trial++) {
      memcpy(copy, d, len);
      seed = seed * 1103515245u + 12345u;
      size_t at = 132 + (seed >> 8) % (len - 132);
      copy[at] ^= (uint8_t)(1 + (seed >> 3) % 255);
      if (prior_dicom_decode(copy, len, "flip.dcm", &img) == PRIOR_OK) prior_dicom_free(img);
    }
    free(copy);
    free(d);
  }

  /* A lying header: Rows raised so the pixel data is too short. */
  uint8_t *d = load(DIR "sc_8bit.dcm", &len);
  const uint8_t rows_tag[] = {0x28, 0x00, 0x10, 0x00, 'U', 'S', 0x02, 0x00};
  long at = find(d, len, rows_tag, sizeof rows_tag);
  CHECK(at > 0);
  d[at + 8] = 200;
  CHECK_ERR(prior_dicom_decode(d, len, "lying.dcm", &img), PRIOR_ERR_FORMAT,
            "lying.dcm: pixel data has 1024 bytes but 200 x 32 x 8-bit needs 6400");
  /* Wrong type: Rows with a 4-byte value. */
  d[at + 6] = 4;
  CHECK_ERR(prior_dicom_decode(d, len, "type.dcm", &img), PRIOR_ERR_FORMAT,
            "Rows (0028,0010) has 4 bytes, an unsigned short needs 2");
  free(d);
  /* No transfer syntax in the meta header. */
  d = load(DIR "sc_8bit.dcm", &len);
  const uint8_t ts_tag[] = {0x02, 0x00, 0x10, 0x00, 'U', 'I'};
  at = find(d, len, ts_tag, sizeof ts_tag);
  CHECK(at > 0);
  d[at + 2] = 0x11;
  CHECK_ERR(prior_dicom_decode(d, len, "nots.dcm", &img), PRIOR_ERR_FORMAT, "no transfer syntax (0002,0010)");
  free(d);
  /* Explicit VR declared, implicit VR data: the meta header's UID is replaced by the explicit one (2 bytes longer). */
  d = load(DIR "mr_implicit.dcm", &len);
  const char implicit_uid[] = "1.2.840.10008.1.2\0";
  at = find(d, len, implicit_uid, sizeof implicit_uid - 1);
  CHECK(at > 0 && d[at - 2] == 18);
  uint8_t *mixed = malloc(len + 2);
  memcpy(mixed, d, (size_t)at);
  memcpy(mixed + at, "1.2.840.10008.1.2.1\0", 20);
  memcpy(mixed + at + 20, d + at + 18, len - (size_t)at - 18);
  mixed[at - 2] = 20;
  CHECK_ERR(prior_dicom_decode(mixed, len + 2, "mixed.dcm", &img), PRIOR_ERR_FORMAT,
            "(implicit VR data under an explicit VR transfer syntax?)");
  free(mixed);
  free(d);
}

static void test_writer(void) {
  char path[] = "/tmp/prior_dicom_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  int rows = 5, cols = 7;
  uint8_t p8[35];
  uint16_t p16[35];
  for (int i = 0; i < 35; i++) {
    p8[i] = (uint8_t)(i * 7);
    p16[i] = (uint16_t)(i * 1871);
  }
  prior_dicom_image *img = NULL;
  CHECK_OK(prior_dicom_write(path, p8, rows, cols, 8, "1.2.276.0.7230010.3.1.4.1", "patient-1"));
  CHECK_OK(prior_dicom_read(path, &img));
  if (img) {
    int same = img->rows == rows && img->cols == cols && !img->monochrome1 && img->bits_allocated == 8;
    for (int i = 0; same && i < 35; i++) same = img->pixels[i] == p8[i];
    CHECK(same);
  }
  prior_dicom_free(img);
  CHECK_OK(prior_dicom_write(path, p16, rows, cols, 16, "1.2.3", NULL));
  CHECK_OK(prior_dicom_read(path, &img));
  if (img) {
    int same = img->bits_allocated == 16 && img->value_max == 65535;
    for (int i = 0; same && i < 35; i++) same = img->pixels[i] == p16[i];
    CHECK(same);
  }
  prior_dicom_free(img);
  remove(path);
  CHECK_ERR(prior_dicom_write(path, p8, rows, cols, 12, "1.2.3", NULL), PRIOR_ERR_ARGUMENT, "12 bits");
  CHECK_ERR(prior_dicom_write(path, p8, rows, cols, 8, "1.2.abc", NULL), PRIOR_ERR_ARGUMENT, "is not a UID");
  CHECK_ERR(prior_dicom_write(path, p8, 0, cols, 8, "1.2.3", NULL), PRIOR_ERR_ARGUMENT, "image size 0x7");
  CHECK_ERR(prior_dicom_write("/no/such/dir/x.dcm", p8, rows, cols, 8, "1.2.3", NULL), PRIOR_ERR_IO,
            "cannot create");
}

int main(void) {
  test_expected();
  test_attributes();
  test_unsupported();
  test_broken();
  test_writer();
  return check_summary("test_dicom");
}
