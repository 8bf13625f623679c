/* Minimal DICOM writer (see prior/dicom.h): enough for synthetic RSNA/SIIM-style files that any DICOM reader opens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prior/dicom.h"

#define SECONDARY_CAPTURE "1.2.840.10008.5.1.4.1.1.7"
#define EXPLICIT_LE "1.2.840.10008.1.2.1"
/* A UUID-derived root (2.25.<128-bit number>), which needs no registration. */
#define IMPLEMENTATION_UID "2.25.330946458063281748085281052612247870131"

typedef struct {
  uint8_t *d;
  size_t n, cap;
  int failed;
} bytes;

static void put(bytes *b, const void *src, size_t len) {
  if (b->failed) return;
  if (b->n + len > b->cap) {
    size_t ncap = (b->n + len) * 2 + 256;
    uint8_t *nd = realloc(b->d, ncap);
    if (!nd) {
      b->failed = 1;
      return;
    }
    b->d = nd;
    b->cap = ncap;
  }
  memcpy(b->d + b->n, src, len);
  b->n += len;
}

static void put16(bytes *b, unsigned v) {
  uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  put(b, p, 2);
}

static void put32(bytes *b, uint32_t v) {
  uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(b, p, 4);
}

/* One explicit-VR little-endian element; odd-length values are padded (NUL for UI and OB, space for text). */
static void element(bytes *b, unsigned group, unsigned elem, const char *vr, const void *value, size_t len) {
  int is_long = strcmp(vr, "OB") == 0 || strcmp(vr, "OW") == 0;
  size_t padded = len + (len & 1);
  put16(b, group);
  put16(b, elem);
  put(b, vr, 2);
  if (is_long) {
    put16(b, 0);
    put32(b, (uint32_t)padded);
  } else {
    put16(b, (unsigned)padded);
  }
  put(b, value, len);
  if (len & 1) {
    uint8_t pad = (strcmp(vr, "UI") == 0 || strcmp(vr, "OB") == 0) ? 0 : ' ';
    put(b, &pad, 1);
  }
}

static void text(bytes *b, unsigned group, unsigned elem, const char *vr, const char *s) {
  element(b, group, elem, vr, s, strlen(s));
}

static void us(bytes *b, unsigned group, unsigned elem, unsigned v) {
  uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  element(b, group, elem, "US", p, 2);
}

static int valid_uid(const char *uid) {
  size_t n = strlen(uid);
  if (n == 0 || n > 64 || uid[0] == '.' || uid[n - 1] == '.') return 0;
  for (size_t i = 0; i < n; i++)
    if (!(uid[i] == '.' || (uid[i] >= '0' && uid[i] <= '9'))) return 0;
  return 1;
}

prior_status prior_dicom_write(const char *path, const void *pixels, int rows, int cols, int bits,
                               const char *sop_instance_uid, const char *patient_id) {
  if (!path || !pixels || !sop_instance_uid)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_dicom_write: NULL argument");
  if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "dicom %s: image size %dx%d is outside 1..65535", path, rows, cols);
  if (bits != 8 && bits != 16)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "dicom %s: %d bits per pixel (only 8 or 16 are written)", path, bits);
  if (!valid_uid(sop_instance_uid))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "dicom %s: '%s' is not a UID (digits and dots, at most 64)", path,
                           sop_instance_uid);
  if (patient_id && strlen(patient_id) > 64)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "dicom %s: patient id longer than 64 characters", path);

  bytes meta = {0}, out = {0};
  static const uint8_t version[2] = {0, 1};
  element(&meta, 0x0002, 0x0001, "OB", version, 2);
  text(&meta, 0x0002, 0x0002, "UI", SECONDARY_CAPTURE);
  text(&meta, 0x0002, 0x0003, "UI", sop_instance_uid);
  text(&meta, 0x0002, 0x0010, "UI", EXPLICIT_LE);
  text(&meta, 0x0002, 0x0012, "UI", IMPLEMENTATION_UID);

  static const uint8_t preamble[128] = {0};
  put(&out, preamble, sizeof preamble);
  put(&out, "DICM", 4);
  uint8_t group_length[4] = {(uint8_t)meta.n, (uint8_t)(meta.n >> 8), (uint8_t)(meta.n >> 16),
                             (uint8_t)(meta.n >> 24)};
  element(&out, 0x0002, 0x0000, "UL", group_length, 4);
  put(&out, meta.d, meta.n);
  text(&out, 0x0008, 0x0016, "UI", SECONDARY_CAPTURE);
  text(&out, 0x0008, 0x0018, "UI", sop_instance_uid);
  text(&out, 0x0008, 0x0060, "CS", "CR");
  if (patient_id) text(&out, 0x0010, 0x0020, "LO", patient_id);
  us(&out, 0x0028, 0x0002, 1);
  text(&out, 0x0028, 0x0004, "CS", "MONOCHROME2");
  us(&out, 0x0028, 0x0010, (unsigned)rows);
  us(&out, 0x0028, 0x0011, (unsigned)cols);
  us(&out, 0x0028, 0x0100, (unsigned)bits);
  us(&out, 0x0028, 0x0101, (unsigned)bits);
  us(&out, 0x0028, 0x0102, (unsigned)bits - 1);
  us(&out, 0x0028, 0x0103, 0);
  size_t count = (size_t)rows * cols;
  if (bits == 8) {
    element(&out, 0x7FE0, 0x0010, "OB", pixels, count);
  } else {
    /* Little endian on every host. */
    bytes px = {0};
    const uint16_t *p16 = pixels;
    for (size_t i = 0; i < count; i++) put16(&px, p16[i]);
    element(&out, 0x7FE0, 0x0010, "OW", px.d, px.n);
    out.failed |= px.failed;
    free(px.d);
  }
  free(meta.d);
  if (out.failed || meta.failed) {
    free(out.d);
    return prior_error_set(PRIOR_ERR_MEMORY, "dicom %s: out of memory", path);
  }
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(out.d);
    return prior_error_set(PRIOR_ERR_IO, "file %s: cannot create", path);
  }
  size_t wrote = fwrite(out.d, 1, out.n, f);
  int bad = fclose(f) != 0 || wrote != out.n;
  size_t total = out.n;
  free(out.d);
  if (bad) return prior_error_set(PRIOR_ERR_IO, "file %s: write failed after %zu of %zu bytes", path, wrote, total);
  return PRIOR_OK;
}
