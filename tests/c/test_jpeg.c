/* JPEG: encode/decode round trip, scaled decoding sizes and values, float output, 16-bit conversion, and broken
 * files (truncated, a PNG named .jpg, empty, missing). */
#include <stdint.h>
#include <stdlib.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "check.h"
#include "prior/jpeg.h"

static uint8_t *gradient(int w, int h) {
  uint8_t *px = malloc((size_t)w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) px[(size_t)y * w + x] = (uint8_t)((x * 200 / w + y * 50 / h) & 255);
  return px;
}

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (len) fwrite(data, 1, len, f);
  fclose(f);
}

static void test_scaled_size(void) {
  int w, h;
  CHECK_OK(prior_jpeg_scaled_size(2500, 3000, 224, &w, &h));
  CHECK(w == 313 && h == 375);
  CHECK_OK(prior_jpeg_scaled_size(1000, 1000, 224, &w, &h));
  CHECK(w == 250 && h == 250);
  CHECK_OK(prior_jpeg_scaled_size(500, 1000, 224, &w, &h));
  CHECK(w == 250 && h == 500);
  CHECK_OK(prior_jpeg_scaled_size(300, 300, 224, &w, &h));
  CHECK(w == 300 && h == 300);
  CHECK_OK(prior_jpeg_scaled_size(1792, 1792, 224, &w, &h));
  CHECK(w == 224 && h == 224);
  CHECK_OK(prior_jpeg_scaled_size(1784, 1792, 224, &w, &h));
  CHECK(w == 446 && h == 448);
  CHECK_OK(prior_jpeg_scaled_size(2500, 3000, 0, &w, &h));
  CHECK(w == 2500 && h == 3000);
  CHECK_ERR(prior_jpeg_scaled_size(0, 3000, 224, &w, &h), PRIOR_ERR_ARGUMENT, "bad size 0x3000");
}

static void test_roundtrip(void) {
  int W = 320, H = 256;
  uint8_t *src = gradient(W, H);
  char path[] = "/tmp/prior_jpeg_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  CHECK_OK(prior_jpeg_write(path, src, W, H, 95));
  uint8_t *px = NULL;
  int w = 0, h = 0;
  CHECK_OK(prior_jpeg_read(path, 0, &px, &w, &h));
  CHECK(w == W && h == H);
  int maxdiff = 0;
  for (int i = 0; px && i < W * H; i++) {
    int d = abs((int)px[i] - (int)src[i]);
    if (d > maxdiff) maxdiff = d;
  }
  CHECK_MSG(maxdiff <= 3, "max difference %d after quality-95 round trip", maxdiff);
  prior_jpeg_free(px);

  /* Scaled: 320x256 with min side 64 decodes at 1/4 = 80x64; each pixel is about a 4x4 block mean. */
  CHECK_OK(prior_jpeg_read(path, 64, &px, &w, &h));
  CHECK(w == 80 && h == 64);
  double worst = 0;
  for (int y = 0; px && y < h; y++)
    for (int x = 0; x < w; x++) {
      double mean = 0;
      for (int dy = 0; dy < 4; dy++)
        for (int dx = 0; dx < 4; dx++) mean += src[(size_t)(4 * y + dy) * W + 4 * x + dx];
      double d = fabs(px[(size_t)y * w + x] - mean / 16);
      if (d > worst) worst = d;
    }
  CHECK_MSG(worst <= 3.0, "scaled decode differs from block means by %g", worst);
  prior_jpeg_free(px);

  float *fp = NULL;
  CHECK_OK(prior_jpeg_read_float(path, 0, &fp, &w, &h));
  uint8_t *ref = NULL;
  CHECK_OK(prior_jpeg_read(path, 0, &ref, &w, &h));
  int same = fp && ref;
  for (int i = 0; same && i < W * H; i++) same = fabsf(fp[i] - ref[i] / 255.0f) < 1e-7f;
  CHECK(same);
  prior_jpeg_free(fp);
  prior_jpeg_free(ref);

  /* Header-only size. */
  uint8_t *data;
  size_t len;
  CHECK_OK(prior_jpeg_encode(src, W, H, 80, &data, &len));
  CHECK_OK(prior_jpeg_size(data, len, "mem.jpg", &w, &h));
  CHECK(w == W && h == H);

  /* Broken: truncated stream, cut header, PNG bytes, empty file, missing file. */
  CHECK_ERR(prior_jpeg_decode(data, len / 2, "cut.jpg", 0, &px, &w, &h), PRIOR_ERR_FORMAT,
            "file cut.jpg: corrupt or truncated JPEG");
  CHECK(px == NULL);
  CHECK_ERR(prior_jpeg_decode(data, 20, "head.jpg", 0, &px, &w, &h), PRIOR_ERR_FORMAT, "file head.jpg: ");
  data[len / 3] ^= 0xFF; /* flip bits in the entropy-coded data: must not crash; may or may not be detected */
  prior_error_clear();
  if (prior_jpeg_decode(data, len, "flip.jpg", 0, &px, &w, &h) == PRIOR_OK) prior_jpeg_free(px);
  prior_jpeg_free(data);
  const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  write_bytes(path, png, sizeof png);
  CHECK_ERR(prior_jpeg_read(path, 0, &px, &w, &h), PRIOR_ERR_FORMAT, "not a JPEG: starts with 89 50, not ff d8 (it is a PNG file)");
  CHECK(strstr(prior_error_message(), path) != NULL);
  write_bytes(path, "", 0);
  CHECK_ERR(prior_jpeg_read(path, 0, &px, &w, &h), PRIOR_ERR_FORMAT, "empty file, not a JPEG");
  CHECK(strstr(prior_error_message(), path) != NULL);
  float *fbad = (float *)1;
  CHECK_ERR(prior_jpeg_read_float(path, 0, &fbad, &w, &h), PRIOR_ERR_FORMAT, "empty file");
  CHECK(fbad == NULL);
  remove(path);
  CHECK_ERR(prior_jpeg_read(path, 0, &px, &w, &h), PRIOR_ERR_IO, "cannot open");
  CHECK_ERR(prior_jpeg_encode(src, W, H, 0, &data, &len), PRIOR_ERR_ARGUMENT, "quality 0");
  CHECK_ERR(prior_jpeg_write("/no/such/dir/a.jpg", src, W, H, 90), PRIOR_ERR_IO, "cannot create");
  free(src);
}

static void test_colour_source(void) {
  /* A colour JPEG is read as its luminance. */
  int W = 64, H = 48;
  uint8_t *rgb = malloc((size_t)W * H * 3);
  for (int i = 0; i < W * H; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(i % W * 3);
  tjhandle t = tjInitCompress();
  unsigned char *buf = NULL;
  unsigned long size = 0;
  CHECK(tjCompress2(t, rgb, W, 0, H, TJPF_RGB, &buf, &size, TJSAMP_444, 95, 0) == 0);
  tjDestroy(t);
  uint8_t *px = NULL;
  int w, h;
  CHECK_OK(prior_jpeg_decode(buf, size, "rgb.jpg", 0, &px, &w, &h));
  int maxdiff = 0;
  for (int i = 0; px && i < W * H; i++) {
    int d = abs((int)px[i] - (int)rgb[3 * i]);
    if (d > maxdiff) maxdiff = d;
  }
  CHECK_MSG(px && maxdiff <= 3, "grey from colour JPEG differs by %d", maxdiff);
  prior_jpeg_free(px);
  tjFree(buf);
  free(rgb);
}

static void test_gray16(void) {
  uint16_t src[5] = {0, 2048, 4095, 4096, 65535};
  float dst[5];
  CHECK_OK(prior_gray16_to_float(src, 5, 12, dst));
  CHECK(dst[0] == 0.0f);
  CHECK_NEAR(dst[1], 2048.0 / 4095.0, 1e-7);
  CHECK(dst[2] == 1.0f && dst[3] == 1.0f && dst[4] == 1.0f);
  CHECK_OK(prior_gray16_to_float(src, 5, 16, dst));
  CHECK(dst[4] == 1.0f);
  CHECK_NEAR(dst[1], 2048.0 / 65535.0, 1e-7);
  CHECK_ERR(prior_gray16_to_float(src, 5, 17, dst), PRIOR_ERR_ARGUMENT, "bit depth 17");
  CHECK_ERR(prior_gray16_to_float(src, 5, 0, dst), PRIOR_ERR_ARGUMENT, "bit depth 0");
}

int main(void) {
  test_scaled_size();
  test_roundtrip();
  test_colour_source();
  test_gray16();
  return check_summary("test_jpeg");
}
