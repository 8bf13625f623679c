/* DICOM reader (see prior/dicom.h): walks the data set element by element, keeps the handful of image attributes it
 * needs, skips everything else (sequences included), and decodes the first frame of the pixel data. */
#include "prior/dicom.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/slurp.h"
#include "prior/jpeg.h"

#define UNDEFINED_LENGTH 0xFFFFFFFFu
#define MAX_SEQUENCE_DEPTH 32

#define TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define TS_JPEG_BASELINE "1.2.840.10008.1.2.4.50"

typedef struct {
  const uint8_t *d;
  size_t n;
  const char *name;
} reader;

typedef struct {
  uint16_t group, elem;
  char vr[3];
  uint32_t len;
  size_t value; /* offset of the value */
} element;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* VRs whose explicit encoding has two reserved bytes and a 32-bit length. */
static int long_vr(const char *vr) {
  static const char *const longs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
  for (size_t i = 0; i < sizeof longs / sizeof *longs; i++)
    if (vr[0] == longs[i][0] && vr[1] == longs[i][1]) return 1;
  return 0;
}

static prior_status truncated(const reader *r, size_t pos, const char *what) {
  return prior_error_set(PRIOR_ERR_FORMAT, "file %s: truncated: %s at offset %zu runs past the end (%zu bytes)",
                         r->name, what, pos, r->n);
}

/* Reads the element header at pos. Item and delimiter tags (FFFE,xxxx) never carry a VR. A defined length must fit
 * in the file. */
static prior_status read_element(const reader *r, size_t pos, int explicit_vr, element *e) {
  if (pos + 8 > r->n) return truncated(r, pos, "an element header");
  const uint8_t *p = r->d + pos;
  e->group = rd16(p);
  e->elem = rd16(p + 2);
  e->vr[0] = e->vr[1] = e->vr[2] = 0;
  if (e->group == 0xFFFE || !explicit_vr) {
    e->len = rd32(p + 4);
    e->value = pos + 8;
  } else {
    e->vr[0] = (char)p[4];
    e->vr[1] = (char)p[5];
    if (!isupper((unsigned char)e->vr[0]) || !isupper((unsigned char)e->vr[1]))
      return prior_error_set(PRIOR_ERR_FORMAT,
                             "file %s: element (%04X,%04X) at offset %zu has VR bytes %02x %02x, not letters "
                             "(implicit VR data under an explicit VR transfer syntax?)",
                             r->name, e->group, e->elem, pos, p[4], p[5]);
    if (long_vr(e->vr)) {
      if (pos + 12 > r->n) return truncated(r, pos, "an element header");
      e->len = rd32(p + 8);
      e->value = pos + 12;
    } else {
      e->len = rd16(p + 6);
      e->value = pos + 8;
    }
  }
  if (e->len != UNDEFINED_LENGTH && e->len > r->n - e->value) {
    char what[64];
    snprintf(what, sizeof what, "element (%04X,%04X) of %u bytes", e->group, e->elem, e->len);
    return truncated(r, pos, what);
  }
  return PRIOR_OK;
}

static prior_status skip_sequence(const reader *r, size_t pos, int explicit_vr, int depth, size_t *end);

/* Skips the elements of an undefined-length item up to and including its item delimiter. */
static prior_status skip_item(const reader *r, size_t pos, int explicit_vr, int depth, size_t *end) {
  for (;;) {
    element e = {0};
    PRIOR_TRY(read_element(r, pos, explicit_vr, &e));
    if (e.group == 0xFFFE && e.elem == 0xE00D) {
      *end = e.value;
      return PRIOR_OK;
    }
    if (e.len == UNDEFINED_LENGTH) {
      /* A nested sequence; an undefined-length UN is a sequence encoded in implicit VR. */
      int nested_explicit = explicit_vr && !(e.vr[0] == 'U' && e.vr[1] == 'N');
      PRIOR_TRY(skip_sequence(r, e.value, nested_explicit, depth + 1, &pos));
    } else {
      pos = e.value + e.len;
    }
  }
}

/* Skips the items of an undefined-length sequence up to and including its sequence delimiter. */
static prior_status skip_sequence(const reader *r, size_t pos, int explicit_vr, int depth, size_t *end) {
  if (depth > MAX_SEQUENCE_DEPTH)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: sequences nested deeper than %d at offset %zu", r->name,
                           MAX_SEQUENCE_DEPTH, pos);
  for (;;) {
    element e = {0};
    PRIOR_TRY(read_element(r, pos, 0, &e));
    if (e.group == 0xFFFE && e.elem == 0xE0DD) {
      *end = e.value;
      return PRIOR_OK;
    }
    if (e.group != 0xFFFE || e.elem != 0xE000)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: expected a sequence item at offset %zu, found (%04X,%04X)",
                             r->name, pos, e.group, e.elem);
    if (e.len == UNDEFINED_LENGTH)
      PRIOR_TRY(skip_item(r, e.value, explicit_vr, depth, &pos));
    else
      pos = e.value + e.len;
  }
}

/* ---- attribute values ------------------------------------------------------------------------------------ */

typedef struct {
  int rows, cols, samples, bits_allocated, bits_stored, high_bit, pixel_representation, frames;
  double slope, intercept;
  char photometric[20];
  size_t pixel_pos; /* offset of the pixel data value */
  uint32_t pixel_len;
  int have_pixels;
} attributes;

static prior_status value_us(const reader *r, const element *e, const char *what, int *out) {
  if (e->len != 2)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: %s (%04X,%04X) has %u bytes, an unsigned short needs 2",
                           r->name, what, e->group, e->elem, e->len);
  *out = rd16(r->d + e->value);
  return PRIOR_OK;
}

/* Copies a string value (first of a multi-value, spaces and NUL padding trimmed). */
static void value_string(const reader *r, const element *e, char *out, size_t cap) {
  size_t n = e->len < cap - 1 ? e->len : cap - 1;
  memcpy(out, r->d + e->value, n);
  out[n] = 0;
  char *bs = strchr(out, '\\');
  if (bs) *bs = 0;
  char *s = out;
  while (*s == ' ') s++;
  memmove(out, s, strlen(s) + 1);
  n = strlen(out);
  while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == 0)) out[--n] = 0;
}

static prior_status value_number(const reader *r, const element *e, const char *what, double *out) {
  char text[72], *end;
  value_string(r, e, text, sizeof text);
  if (!text[0]) return PRIOR_OK; /* empty: keep the default */
  double v = strtod(text, &end);
  if (*end || !isfinite(v))
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: %s (%04X,%04X) is '%s', not a number", r->name, what, e->group,
                           e->elem, text);
  *out = v;
  return PRIOR_OK;
}

static prior_status take_attribute(const reader *r, const element *e, attributes *a) {
  if (e->group != 0x0028) return PRIOR_OK;
  double v;
  switch (e->elem) {
    case 0x0002: return value_us(r, e, "SamplesPerPixel", &a->samples);
    case 0x0004: value_string(r, e, a->photometric, sizeof a->photometric); return PRIOR_OK;
    case 0x0008:
      v = 1;
      PRIOR_TRY(value_number(r, e, "NumberOfFrames", &v));
      a->frames = (int)v;
      return PRIOR_OK;
    case 0x0010: return value_us(r, e, "Rows", &a->rows);
    case 0x0011: return value_us(r, e, "Columns", &a->cols);
    case 0x0100: return value_us(r, e, "BitsAllocated", &a->bits_allocated);
    case 0x0101: return value_us(r, e, "BitsStored", &a->bits_stored);
    case 0x0102: return value_us(r, e, "HighBit", &a->high_bit);
    case 0x0103: return value_us(r, e, "PixelRepresentation", &a->pixel_representation);
    case 0x1052: return value_number(r, e, "RescaleIntercept", &a->intercept);
    case 0x1053: return value_number(r, e, "RescaleSlope", &a->slope);
    default: return PRIOR_OK;
  }
}

static const char *syntax_name(const char *uid) {
  static const char *const names[][2] = {
      {"1.2.840.10008.1.2.2", "explicit VR big endian"},
      {"1.2.840.10008.1.2.1.99", "deflated explicit VR little endian"},
      {"1.2.840.10008.1.2.4.51", "JPEG extended (12-bit)"},
      {"1.2.840.10008.1.2.4.57", "JPEG lossless"},
      {"1.2.840.10008.1.2.4.70", "JPEG lossless, first-order prediction"},
      {"1.2.840.10008.1.2.4.80", "JPEG-LS lossless"},
      {"1.2.840.10008.1.2.4.81", "JPEG-LS near-lossless"},
      {"1.2.840.10008.1.2.4.90", "JPEG 2000 lossless"},
      {"1.2.840.10008.1.2.4.91", "JPEG 2000"},
      {"1.2.840.10008.1.2.5", "RLE lossless"},
  };
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strcmp(uid, names[i][0]) == 0) return names[i][1];
  return "unknown";
}

/* Reads the meta header: checks the preamble, finds the transfer syntax; *pos is left at the data set. */
static prior_status read_meta(const reader *r, char *syntax, size_t cap, size_t *pos) {
  if (r->n == 0) return prior_error_set(PRIOR_ERR_FORMAT, "file %s: empty file, not DICOM", r->name);
  if (r->n < 132 || memcmp(r->d + 128, "DICM", 4) != 0)
    return prior_error_set(PRIOR_ERR_FORMAT,
                           "file %s: not a DICOM file: no \"DICM\" after the 128-byte preamble (%zu bytes)", r->name,
                           r->n);
  size_t p = 132;
  syntax[0] = 0;
  while (p + 4 <= r->n && rd16(r->d + p) == 0x0002) {
    element e = {0};
    PRIOR_TRY(read_element(r, p, 1, &e));
    if (e.len == UNDEFINED_LENGTH)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: meta element (0002,%04X) has undefined length", r->name,
                             e.elem);
    if (e.elem == 0x0010) value_string(r, &e, syntax, cap);
    p = e.value + e.len;
  }
  if (!syntax[0])
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: the meta header has no transfer syntax (0002,0010)", r->name);
  *pos = p;
  return PRIOR_OK;
}

/* ---- pixel decoding ----------------------------------------------------------------------------------------- */

/* Concatenates the fragments of the first frame of encapsulated pixel data starting at pos. */
static prior_status first_frame(const reader *r, size_t pos, int frames, uint8_t **out, size_t *out_len) {
  element e = {0};
  PRIOR_TRY(read_element(r, pos, 0, &e));
  if (e.group != 0xFFFE || e.elem != 0xE000 || e.len == UNDEFINED_LENGTH)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: encapsulated pixel data lacks its offset table item", r->name);
  uint32_t next_frame = e.len >= 8 ? rd32(r->d + e.value + 4) : 0; /* offset of frame 2, if the table has it */
  pos = e.value + e.len;
  size_t first = pos, total = 0, cap = 0;
  uint8_t *buf = NULL;
  for (;;) {
    prior_status st = read_element(r, pos, 0, &e);
    if (st != PRIOR_OK) {
      free(buf);
      return st;
    }
    if (e.group == 0xFFFE && e.elem == 0xE0DD) break;
    if (e.group != 0xFFFE || e.elem != 0xE000 || e.len == UNDEFINED_LENGTH) {
      free(buf);
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: bad pixel data fragment (%04X,%04X) at offset %zu", r->name,
                             e.group, e.elem, pos);
    }
    if (frames > 1 && next_frame && pos - first >= next_frame) break;
    if (total + e.len > cap) {
      cap = (total + e.len) * 2;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory for pixel data", r->name);
      }
      buf = nb;
    }
    memcpy(buf + total, r->d + e.value, e.len);
    total += e.len;
    pos = e.value + e.len;
    /* Without an offset table, a frame ends with the fragment that ends its JPEG stream (EOI, maybe padded). */
    if (frames > 1 && !next_frame && total >= 2 &&
        ((buf[total - 2] == 0xFF && buf[total - 1] == 0xD9) ||
         (total >= 3 && buf[total - 3] == 0xFF && buf[total - 2] == 0xD9 && buf[total - 1] == 0)))
      break;
  }
  if (total == 0) {
    free(buf);
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: encapsulated pixel data has no fragments", r->name);
  }
  *out = buf;
  *out_len = total;
  return PRIOR_OK;
}

static prior_status decode_pixels(const reader *r, const attributes *a, int jpeg, prior_dicom_image *img) {
  size_t count = (size_t)a->rows * a->cols;
  img->pixels = malloc(count * sizeof(float));
  if (!img->pixels) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory for %zu pixels", r->name, count);
  int bs = a->bits_stored, shift = a->high_bit - bs + 1;
  uint32_t mask = (uint32_t)((1u << bs) - 1);
  float slope = (float)a->slope, icpt = (float)a->intercept;
  if (jpeg) {
    uint8_t *frame = NULL, *px = NULL;
    size_t flen = 0;
    int w, h;
    PRIOR_TRY(first_frame(r, a->pixel_pos, a->frames, &frame, &flen));
    prior_status st = prior_jpeg_decode(frame, flen, r->name, 0, &px, &w, &h);
    free(frame);
    if (st != PRIOR_OK) return st;
    if (w != a->cols || h != a->rows) {
      prior_jpeg_free(px);
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: the JPEG frame is %dx%d but Rows x Columns say %dx%d",
                             r->name, w, h, a->cols, a->rows);
    }
    for (size_t i = 0; i < count; i++) img->pixels[i] = px[i] * slope + icpt;
    prior_jpeg_free(px);
    return PRIOR_OK;
  }
  size_t bytes = count * (size_t)(a->bits_allocated / 8);
  if (a->pixel_len == UNDEFINED_LENGTH || a->pixel_len < bytes)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: pixel data has %u bytes but %d x %d x %d-bit needs %zu",
                           r->name, a->pixel_len, a->rows, a->cols, a->bits_allocated, bytes);
  const uint8_t *src = r->d + a->pixel_pos;
  for (size_t i = 0; i < count; i++) {
    uint32_t raw = a->bits_allocated == 8 ? src[i] : rd16(src + 2 * i);
    int32_t v = (int32_t)((raw >> shift) & mask);
    if (a->pixel_representation && (v & (1 << (bs - 1)))) v -= 1 << bs;
    img->pixels[i] = (float)v * slope + icpt;
  }
  return PRIOR_OK;
}

/* Checks the image attributes against what this reader supports. */
static prior_status check_attributes(const reader *r, attributes *a, int jpeg) {
  if (!a->have_pixels) return prior_error_set(PRIOR_ERR_FORMAT, "file %s: no pixel data (7FE0,0010)", r->name);
  if (a->rows <= 0 || a->cols <= 0)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: Rows x Columns is %d x %d", r->name, a->rows, a->cols);
  if (a->samples != 1)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: %d samples per pixel (%s); only grayscale is read",
                           r->name, a->samples, a->photometric);
  if (strcmp(a->photometric, "MONOCHROME1") != 0 && strcmp(a->photometric, "MONOCHROME2") != 0)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: photometric interpretation '%s' is not MONOCHROME1/2",
                           r->name, a->photometric);
  if (a->bits_allocated != 8 && a->bits_allocated != 16)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: BitsAllocated %d (only 8 and 16 are read)", r->name,
                           a->bits_allocated);
  if (jpeg && a->bits_allocated != 8)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: JPEG baseline with BitsAllocated %d", r->name,
                           a->bits_allocated);
  if (a->bits_stored <= 0) a->bits_stored = a->bits_allocated;
  if (a->high_bit < 0) a->high_bit = a->bits_stored - 1;
  if (a->bits_stored > a->bits_allocated || a->high_bit >= a->bits_allocated || a->high_bit < a->bits_stored - 1)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: BitsStored %d / HighBit %d do not fit BitsAllocated %d",
                           r->name, a->bits_stored, a->high_bit, a->bits_allocated);
  if (a->pixel_representation != 0 && a->pixel_representation != 1)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: PixelRepresentation %d is neither 0 nor 1", r->name,
                           a->pixel_representation);
  if (a->frames < 1) a->frames = 1;
  if (a->slope == 0) return prior_error_set(PRIOR_ERR_FORMAT, "file %s: RescaleSlope is 0", r->name);
  return PRIOR_OK;
}

void prior_dicom_free(prior_dicom_image *img) {
  if (!img) return;
  free(img->pixels);
  free(img);
}

prior_status prior_dicom_decode(const uint8_t *data, size_t len, const char *name, prior_dicom_image **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_dicom_decode: out is NULL");
  *out = NULL;
  if (!name) name = "<memory>";
  if (!data && len) return prior_error_set(PRIOR_ERR_ARGUMENT, "dicom %s: data is NULL", name);
  reader r = {data, len, name};
  char syntax[68];
  size_t pos;
  PRIOR_TRY(read_meta(&r, syntax, sizeof syntax, &pos));
  int explicit_vr, jpeg = 0;
  if (strcmp(syntax, TS_IMPLICIT_LE) == 0) {
    explicit_vr = 0;
  } else if (strcmp(syntax, TS_EXPLICIT_LE) == 0) {
    explicit_vr = 1;
  } else if (strcmp(syntax, TS_JPEG_BASELINE) == 0) {
    explicit_vr = 1;
    jpeg = 1;
  } else {
    return prior_error_set(PRIOR_ERR_UNSUPPORTED,
                           "file %s: transfer syntax %s (%s) is not supported; convert the file to an uncompressed "
                           "syntax first, e.g. with dcmtk: dcmdjpeg in.dcm out.dcm (JPEG family), dcmdrle (RLE)",
                           name, syntax, syntax_name(syntax));
  }
  attributes a = {0};
  a.samples = 1;
  a.bits_stored = -1;
  a.high_bit = -1;
  a.frames = 1;
  a.slope = 1;
  while (pos < len) {
    element e = {0};
    PRIOR_TRY(read_element(&r, pos, explicit_vr, &e));
    if (e.group == 0x7FE0 && e.elem == 0x0010) {
      if (jpeg != (e.len == UNDEFINED_LENGTH))
        return prior_error_set(PRIOR_ERR_FORMAT, "file %s: pixel data is %s but the transfer syntax is %s", name,
                               e.len == UNDEFINED_LENGTH ? "encapsulated" : "native", syntax);
      a.pixel_pos = e.value;
      a.pixel_len = e.len;
      a.have_pixels = 1;
      break; /* nothing after the pixel data matters */
    }
    if (e.group == 0xFFFE)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: stray item tag (FFFE,%04X) at offset %zu", name, e.elem, pos);
    if (e.len == UNDEFINED_LENGTH) {
      int nested_explicit = explicit_vr && !(e.vr[0] == 'U' && e.vr[1] == 'N');
      PRIOR_TRY(skip_sequence(&r, e.value, nested_explicit, 1, &pos));
      continue;
    }
    PRIOR_TRY(take_attribute(&r, &e, &a));
    pos = e.value + e.len;
  }
  PRIOR_TRY(check_attributes(&r, &a, jpeg));
  prior_dicom_image *img = calloc(1, sizeof *img);
  if (!img) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", name);
  img->rows = a.rows;
  img->cols = a.cols;
  img->bits_allocated = a.bits_allocated;
  img->bits_stored = a.bits_stored;
  img->pixel_representation = a.pixel_representation;
  img->monochrome1 = strcmp(a.photometric, "MONOCHROME1") == 0;
  img->frames = a.frames;
  img->slope = a.slope;
  img->intercept = a.intercept;
  snprintf(img->transfer_syntax, sizeof img->transfer_syntax, "%s", syntax);
  double smin = a.pixel_representation ? -ldexp(1, a.bits_stored - 1) : 0;
  double smax = a.pixel_representation ? ldexp(1, a.bits_stored - 1) - 1 : ldexp(1, a.bits_stored) - 1;
  double lo = smin * a.slope + a.intercept, hi = smax * a.slope + a.intercept;
  img->value_min = (float)(lo < hi ? lo : hi);
  img->value_max = (float)(lo < hi ? hi : lo);
  prior_status st = decode_pixels(&r, &a, jpeg, img);
  if (st != PRIOR_OK) {
    prior_dicom_free(img);
    return st;
  }
  if (img->monochrome1) {
    size_t count = (size_t)a.rows * a.cols;
    float sum = img->value_min + img->value_max;
    for (size_t i = 0; i < count; i++) img->pixels[i] = sum - img->pixels[i];
  }
  *out = img;
  return PRIOR_OK;
}

prior_status prior_dicom_read(const char *path, prior_dicom_image **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_dicom_read: out is NULL");
  *out = NULL;
  uint8_t *data;
  size_t len;
  PRIOR_TRY(prior_slurp_file(path, &data, &len));
  prior_status st = prior_dicom_decode(data, len, path, out);
  free(data);
  return st;
}

prior_status prior_dicom_normalize(const prior_dicom_image *img, int per_image, float *out) {
  if (!img || !out || !img->pixels) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_dicom_normalize: NULL argument");
  size_t count = (size_t)img->rows * img->cols;
  float lo = img->value_min, hi = img->value_max;
  if (per_image) {
    lo = hi = img->pixels[0];
    for (size_t i = 1; i < count; i++) {
      if (img->pixels[i] < lo) lo = img->pixels[i];
      if (img->pixels[i] > hi) hi = img->pixels[i];
    }
  }
  if (hi <= lo) {
    memset(out, 0, count * sizeof *out);
    return PRIOR_OK;
  }
  float scale = 1.0f / (hi - lo);
  for (size_t i = 0; i < count; i++) {
    float v = (img->pixels[i] - lo) * scale;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return PRIOR_OK;
}
