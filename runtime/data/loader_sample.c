/* One sample: decode, resize, augment, normalise; the mask and boxes follow the image's geometry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader_internal.h"
#include "prior/dicom.h"
#include "prior/jpeg.h"
#include "prior/transform.h"

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t prior_loader_stream(uint64_t seed, int64_t epoch, int purpose) {
  return splitmix64(splitmix64(splitmix64(seed) ^ (uint64_t)epoch) ^ (uint64_t)purpose);
}

/* The image as floats in [0,1] at its stored size (JPEGs shrunk by the decoder while both sides stay >= min_side). */
static prior_status decode(const prior_dataset *ds, const char *path, int min_side, float **px, int *w, int *h) {
  *px = NULL;
  if (prior_dataset_image_format(ds) == PRIOR_IMAGE_JPEG) {
    float *p = NULL;
    PRIOR_TRY(prior_jpeg_read_float(path, min_side, &p, w, h));
    /* Hand back malloc memory so one free() releases either kind. */
    *px = malloc(sizeof(float) * (size_t)*w * (size_t)*h);
    if (*px) memcpy(*px, p, sizeof(float) * (size_t)*w * (size_t)*h);
    prior_jpeg_free(p);
    if (!*px) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory for a %dx%d image", path, *w, *h);
    return PRIOR_OK;
  }
  prior_dicom_image *img = NULL;
  PRIOR_TRY(prior_dicom_read(path, &img));
  *w = img->cols;
  *h = img->rows;
  *px = malloc(sizeof(float) * (size_t)*w * (size_t)*h);
  prior_status st = *px ? prior_dicom_normalize(img, 0, *px)
                        : prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory for a %dx%d image", path, *w, *h);
  prior_dicom_free(img);
  if (st != PRIOR_OK) {
    free(*px);
    *px = NULL;
  }
  return st;
}

/* The affine's forward map for a point of the output frame (x right, y down, pixels): torchvision's affine shows
 * input point q at p = c + scale * R(angle) (q - c) + t, R clockwise on screen. */
static void affine_point(float x, float y, float cx, float cy, float c, float s, float scale, float tx, float ty,
                         float *ox, float *oy) {
  float dx = x - cx, dy = y - cy;
  *ox = cx + scale * (c * dx - s * dy) + tx;
  *oy = cy + scale * (s * dx + c * dy) + ty;
}

static prior_status add_box(prior_loader_boxes *b, const float xywh[4]) {
  if (b->n == b->cap) {
    int64_t ncap = b->cap ? b->cap * 2 : 16;
    float *nx = realloc(b->xywh, (size_t)ncap * 4 * sizeof(float));
    if (!nx) return prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory for boxes");
    b->xywh = nx;
    b->cap = ncap;
  }
  memcpy(b->xywh + 4 * b->n, xywh, 4 * sizeof(float));
  b->n++;
  return PRIOR_OK;
}

prior_status prior_loader_sample(const prior_dataset *ds, const prior_loader_options *o, int64_t index,
                                 const double *u, float *img, float *mask, prior_loader_boxes *boxes,
                                 const char **path) {
  const int H = o->height, W = o->width;
  int nimg = prior_dataset_image_count(ds, index);
  *path = NULL;
  if (nimg <= 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "sample %lld has no image", (long long)index);
  int pick = (int)(u[0] * nimg);
  if (pick >= nimg) pick = nimg - 1;
  const char *p = prior_dataset_image_path(ds, index, pick);
  *path = p;

  float *src = NULL, *tmp = NULL, *msrc = NULL, *mtmp = NULL;
  uint8_t *m8 = NULL;
  int w = 0, h = 0;
  prior_status st = decode(ds, p, H > W ? H : W, &src, &w, &h);
  if (st != PRIOR_OK) goto done;
  tmp = malloc(sizeof(float) * (size_t)H * W);
  if (!tmp) {
    st = prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory");
    goto done;
  }
  if ((st = prior_image_resize(src, h, w, tmp, H, W, 1)) != PRIOR_OK) goto done;
  if (mask) {
    m8 = malloc((size_t)w * h);
    msrc = malloc(sizeof(float) * (size_t)w * h);
    mtmp = malloc(sizeof(float) * (size_t)H * W);
    if (!m8 || !msrc || !mtmp) {
      st = prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory");
      goto done;
    }
    /* The RLE counts pixels of the stored image, so it is decoded at that size and then resized like the image. */
    if ((st = prior_dataset_mask(ds, index, w, h, m8)) != PRIOR_OK) {
      prior_error_context("file %s", p);
      goto done;
    }
    for (size_t i = 0; i < (size_t)w * h; i++) msrc[i] = m8[i];
    if ((st = prior_image_resize(msrc, h, w, mtmp, H, W, 1)) != PRIOR_OK) goto done;
  }

  float angle = 0, tx = 0, ty = 0, scale = 1;
  if (o->augment) {
    angle = (float)((2 * u[1] - 1) * o->degrees);
    tx = (float)nearbyint((2 * u[2] - 1) * o->translate * W);
    ty = (float)nearbyint((2 * u[3] - 1) * o->translate * H);
    scale = (float)(o->scale_min + u[4] * (o->scale_max - o->scale_min));
    if ((st = prior_image_affine(tmp, H, W, img, angle, tx, ty, scale, 0.0f)) != PRIOR_OK) goto done;
    if (mask && (st = prior_image_affine(mtmp, H, W, mask, angle, tx, ty, scale, 0.0f)) != PRIOR_OK) goto done;
  } else {
    memcpy(img, tmp, sizeof(float) * (size_t)H * W);
    if (mask) memcpy(mask, mtmp, sizeof(float) * (size_t)H * W);
  }
  int flip = o->hflip && u[5] < 0.5;
  if (flip) {
    prior_image_hflip(img, H, W, img);
    if (mask) prior_image_hflip(mask, H, W, mask);
  }
  if ((st = prior_image_zscore(img, (size_t)H * W, o->mean, o->std)) != PRIOR_OK) goto done;
  if (mask)
    for (size_t i = 0; i < (size_t)H * W; i++) mask[i] = mask[i] >= 0.5f ? 1.0f : 0.0f;

  if (boxes) {
    const float rad = angle * 3.14159265358979323846f / 180.0f, c = cosf(rad), s = sinf(rad);
    const float cx = W * 0.5f, cy = H * 0.5f;
    for (int k = 0; k < prior_dataset_box_count(ds, index); k++) {
      float b[4];
      prior_dataset_box(ds, index, k, b);
      float x0 = b[0] * W, y0 = b[1] * H, x1 = (b[0] + b[2]) * W, y1 = (b[1] + b[3]) * H;
      float lo_x = INFINITY, lo_y = INFINITY, hi_x = -INFINITY, hi_y = -INFINITY;
      const float cx4[4] = {x0, x1, x0, x1}, cy4[4] = {y0, y0, y1, y1};
      for (int q = 0; q < 4; q++) {
        float ox, oy;
        affine_point(cx4[q], cy4[q], cx, cy, c, s, scale, tx, ty, &ox, &oy);
        lo_x = fminf(lo_x, ox), hi_x = fmaxf(hi_x, ox), lo_y = fminf(lo_y, oy), hi_y = fmaxf(hi_y, oy);
      }
      lo_x = fmaxf(lo_x, 0), lo_y = fmaxf(lo_y, 0), hi_x = fminf(hi_x, (float)W), hi_y = fminf(hi_y, (float)H);
      if (hi_x <= lo_x || hi_y <= lo_y) continue; /* moved out of the picture */
      if (flip) {
        float t = W - hi_x;
        hi_x = W - lo_x;
        lo_x = t;
      }
      const float out[4] = {lo_x, lo_y, hi_x - lo_x, hi_y - lo_y};
      if ((st = add_box(boxes, out)) != PRIOR_OK) goto done;
    }
  }
done:
  free(src);
  free(tmp);
  free(m8);
  free(msrc);
  free(mtmp);
  return st;
}
