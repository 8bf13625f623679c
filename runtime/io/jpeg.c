/* JPEG decode/encode on the TurboJPEG API (see prior/jpeg.h). */
#include "prior/jpeg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "io/slurp.h"

/* Names what a non-JPEG file most likely is, for the error message. */
static const char *guess_format(const uint8_t *d, size_t n) {
  if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return " (it is a PNG file)";
  if (n >= 132 && memcmp(d + 128, "DICM", 4) == 0) return " (it is a DICOM file)";
  if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) return " (it is a GIF file)";
  if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0)) return " (it is a TIFF file)";
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return " (it looks like a BMP file)";
  return "";
}

static prior_status check_magic(const uint8_t *data, size_t len, const char *name) {
  if (!data || len == 0) return prior_error_set(PRIOR_ERR_FORMAT, "file %s: empty file, not a JPEG", name);
  if (len < 4 || data[0] != 0xFF || data[1] != 0xD8)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: not a JPEG: starts with %02x %02x, not ff d8%s", name,
                           data[0], len > 1 ? data[1] : 0, guess_format(data, len));
  return PRIOR_OK;
}

static prior_status tj_fail(tjhandle h, const char *name, const char *what) {
  prior_status st = prior_error_set(PRIOR_ERR_FORMAT, "file %s: %s: %s", name, what, tjGetErrorStr2(h));
  tjDestroy(h);
  return st;
}

prior_status prior_jpeg_size(const uint8_t *data, size_t len, const char *name, int *width, int *height) {
  if (!name) name = "<memory>";
  if (!width || !height) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_size: NULL output");
  PRIOR_TRY(check_magic(data, len, name));
  tjhandle h = tjInitDecompress();
  if (!h) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: cannot create a JPEG decoder", name);
  int subsamp, colorspace;
  if (tjDecompressHeader3(h, data, (unsigned long)len, width, height, &subsamp, &colorspace) != 0)
    return tj_fail(h, name, "bad JPEG header");
  tjDestroy(h);
  return PRIOR_OK;
}

prior_status prior_jpeg_scaled_size(int width, int height, int min_side, int *sw, int *sh) {
  if (width <= 0 || height <= 0 || !sw || !sh)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_scaled_size: bad size %dx%d", width, height);
  *sw = width;
  *sh = height;
  if (min_side <= 0) return PRIOR_OK;
  /* Largest reduction first; TJSCALED rounds up, as the decoder does. */
  static const int denoms[] = {8, 4, 2};
  for (int i = 0; i < 3; i++) {
    tjscalingfactor f = {1, denoms[i]};
    int w = TJSCALED(width, f), h = TJSCALED(height, f);
    if (w >= min_side && h >= min_side) {
      *sw = w;
      *sh = h;
      return PRIOR_OK;
    }
  }
  return PRIOR_OK;
}

prior_status prior_jpeg_decode(const uint8_t *data, size_t len, const char *name, int min_side, uint8_t **pixels,
                               int *width, int *height) {
  if (!name) name = "<memory>";
  if (!pixels || !width || !height) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_decode: NULL output");
  *pixels = NULL;
  PRIOR_TRY(check_magic(data, len, name));
  tjhandle h = tjInitDecompress();
  if (!h) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: cannot create a JPEG decoder", name);
  int w, hgt, subsamp, colorspace;
  if (tjDecompressHeader3(h, data, (unsigned long)len, &w, &hgt, &subsamp, &colorspace) != 0)
    return tj_fail(h, name, "bad JPEG header");
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    tjDestroy(h);
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: CMYK JPEG cannot be read as grayscale", name);
  }
  int sw, sh;
  prior_status st = prior_jpeg_scaled_size(w, hgt, min_side, &sw, &sh);
  if (st != PRIOR_OK) {
    tjDestroy(h);
    return prior_error_context("file %s", name);
  }
  uint8_t *out = malloc((size_t)sw * sh);
  if (!out) {
    tjDestroy(h);
    return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory for %dx%d pixels", name, sw, sh);
  }
  /* Stop on warnings: a truncated file otherwise "succeeds" with grey rows at the bottom. */
  if (tjDecompress2(h, data, (unsigned long)len, out, sw, 0, sh, TJPF_GRAY, TJFLAG_STOPONWARNING) != 0) {
    free(out);
    return tj_fail(h, name, "corrupt or truncated JPEG");
  }
  tjDestroy(h);
  *pixels = out;
  *width = sw;
  *height = sh;
  return PRIOR_OK;
}

prior_status prior_jpeg_read(const char *path, int min_side, uint8_t **pixels, int *width, int *height) {
  uint8_t *data;
  size_t len;
  if (pixels) *pixels = NULL;
  PRIOR_TRY(prior_slurp_file(path, &data, &len));
  prior_status st = prior_jpeg_decode(data, len, path, min_side, pixels, width, height);
  free(data);
  return st;
}

static prior_status to_float(prior_status st, uint8_t *px, int w, int h, float **pixels) {
  if (st != PRIOR_OK) return st;
  size_t n = (size_t)w * h;
  float *out = malloc(n * sizeof *out);
  if (!out) {
    free(px);
    return prior_error_set(PRIOR_ERR_MEMORY, "jpeg: out of memory for %dx%d floats", w, h);
  }
  for (size_t i = 0; i < n; i++) out[i] = px[i] / 255.0f; /* a division, as ToTensor does: bit-identical */
  free(px);
  *pixels = out;
  return PRIOR_OK;
}

prior_status prior_jpeg_decode_float(const uint8_t *data, size_t len, const char *name, int min_side, float **pixels,
                                     int *width, int *height) {
  if (!pixels) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_decode_float: NULL output");
  *pixels = NULL;
  uint8_t *px = NULL;
  prior_status st = prior_jpeg_decode(data, len, name, min_side, &px, width, height);
  return to_float(st, px, *width, *height, pixels);
}

prior_status prior_jpeg_read_float(const char *path, int min_side, float **pixels, int *width, int *height) {
  if (!pixels) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_read_float: NULL output");
  *pixels = NULL;
  uint8_t *px = NULL;
  prior_status st = prior_jpeg_read(path, min_side, &px, width, height);
  return to_float(st, px, *width, *height, pixels);
}

prior_status prior_jpeg_encode(const uint8_t *pixels, int width, int height, int quality, uint8_t **data,
                               size_t *len) {
  if (!pixels || !data || !len || width <= 0 || height <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_encode: bad arguments (%dx%d image)", width, height);
  if (quality < 1 || quality > 100)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_encode: quality %d is outside 1..100", quality);
  *data = NULL;
  *len = 0;
  tjhandle h = tjInitCompress();
  if (!h) return prior_error_set(PRIOR_ERR_MEMORY, "jpeg: cannot create an encoder");
  unsigned char *buf = NULL;
  unsigned long size = 0;
  if (tjCompress2(h, pixels, width, 0, height, TJPF_GRAY, &buf, &size, TJSAMP_GRAY, quality, 0) != 0) {
    prior_status st = prior_error_set(PRIOR_ERR_INTERNAL, "jpeg: encoding %dx%d failed: %s", width, height,
                                      tjGetErrorStr2(h));
    tjFree(buf);
    tjDestroy(h);
    return st;
  }
  tjDestroy(h);
  /* Hand back a malloc'ed copy so every buffer of this module is released the same way. */
  uint8_t *out = malloc(size ? size : 1);
  if (!out) {
    tjFree(buf);
    return prior_error_set(PRIOR_ERR_MEMORY, "jpeg: out of memory for %lu bytes", size);
  }
  memcpy(out, buf, size);
  tjFree(buf);
  *data = out;
  *len = size;
  return PRIOR_OK;
}

prior_status prior_jpeg_write(const char *path, const uint8_t *pixels, int width, int height, int quality) {
  if (!path) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_jpeg_write: path is NULL");
  uint8_t *data;
  size_t len;
  PRIOR_TRY(prior_jpeg_encode(pixels, width, height, quality, &data, &len));
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(data);
    return prior_error_set(PRIOR_ERR_IO, "file %s: cannot create", path);
  }
  size_t wrote = fwrite(data, 1, len, f);
  int bad = fclose(f) != 0 || wrote != len;
  free(data);
  if (bad) return prior_error_set(PRIOR_ERR_IO, "file %s: write failed after %zu of %zu bytes", path, wrote, len);
  return PRIOR_OK;
}

void prior_jpeg_free(void *buffer) { free(buffer); }

prior_status prior_gray16_to_float(const uint16_t *src, size_t count, int bits, float *dst) {
  if (bits < 1 || bits > 16) return prior_error_set(PRIOR_ERR_ARGUMENT, "gray16: bit depth %d is outside 1..16", bits);
  if (count && (!src || !dst)) return prior_error_set(PRIOR_ERR_ARGUMENT, "gray16: NULL buffer");
  unsigned max = (1u << bits) - 1;
  float scale = 1.0f / (float)max;
  for (size_t i = 0; i < count; i++) dst[i] = (src[i] > max ? max : src[i]) * scale;
  return PRIOR_OK;
}
