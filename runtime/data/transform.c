/* Image transforms (see prior/transform.h). Resize is separable: per-axis tap lists are computed once, then a
 * horizontal pass into a temporary and a vertical pass into the output, both parallel over rows. */
#include "prior/transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows of work below which threads cost more than they save. */
#define PARALLEL_MIN_PIXELS (1 << 16)

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct {
  int *start;    /* first source index of each output position */
  int *count;    /* number of taps */
  float *weight; /* taps, max_taps per output position */
  int max_taps;
} taps;

static void taps_free(taps *t) {
  free(t->start);
  free(t->count);
  free(t->weight);
}

/* Tap weights along one axis. With antialias the triangle filter's support is widened to `scale` when shrinking and
 * the weights renormalised (PIL's and PyTorch's _upsample_bilinear2d_aa); otherwise two taps at the half-pixel
 * source position, clamped at the borders (PyTorch's upsample_bilinear2d). */
static int taps_init(taps *t, int in, int out, int antialias) {
  double scale = (double)in / out;
  double support = (antialias && scale >= 1.0) ? scale : 1.0;
  t->max_taps = antialias ? (int)ceil(support) * 2 + 1 : 2;
  t->start = malloc(sizeof(int) * out);
  t->count = malloc(sizeof(int) * out);
  t->weight = calloc((size_t)out * t->max_taps, sizeof(float));
  if (!t->start || !t->count || !t->weight) return 0;
  for (int i = 0; i < out; i++) {
    float *w = t->weight + (size_t)i * t->max_taps;
    if (antialias) {
      double center = scale * (i + 0.5);
      double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
      int lo = (int)(center - support + 0.5);
      if (lo < 0) lo = 0;
      int hi = (int)(center + support + 0.5);
      if (hi > in) hi = in;
      int n = hi - lo;
      if (n > t->max_taps) n = t->max_taps;
      double total = 0;
      for (int j = 0; j < n; j++) {
        double x = fabs((j + lo - center + 0.5) * inv);
        double v = x < 1.0 ? 1.0 - x : 0.0;
        w[j] = (float)v;
        total += v;
      }
      for (int j = 0; j < n && total > 0; j++) w[j] = (float)(w[j] / total);
      t->start[i] = lo;
      t->count[i] = n;
    } else {
      double src = scale * (i + 0.5) - 0.5;
      if (src < 0) src = 0;
      int i0 = (int)src;
      if (i0 > in - 1) i0 = in - 1;
      double lambda = src - i0;
      if (lambda > 1) lambda = 1;
      int i1 = i0 < in - 1 ? i0 + 1 : i0;
      t->start[i] = i0;
      t->count[i] = i1 > i0 ? 2 : 1;
      w[0] = (float)(i1 > i0 ? 1.0 - lambda : 1.0);
      w[1] = (float)(i1 > i0 ? lambda : 0.0);
    }
  }
  return 1;
}

prior_status prior_image_resize(const float *src, int src_h, int src_w, float *dst, int dst_h, int dst_w,
                                int antialias) {
  if (!src || !dst) return prior_error_set(PRIOR_ERR_ARGUMENT, "resize: NULL image");
  if (src_h <= 0 || src_w <= 0 || dst_h <= 0 || dst_w <= 0)
    return prior_error_set(PRIOR_ERR_SHAPE, "resize: [%d, %d] -> [%d, %d] has an empty side", src_h, src_w, dst_h,
                           dst_w);
  taps th = {0}, tv = {0};
  float *tmp = malloc(sizeof(float) * (size_t)src_h * dst_w);
  if (!tmp || !taps_init(&th, src_w, dst_w, antialias) || !taps_init(&tv, src_h, dst_h, antialias)) {
    free(tmp);
    taps_free(&th);
    taps_free(&tv);
    return prior_error_set(PRIOR_ERR_MEMORY, "resize: out of memory for [%d, %d] -> [%d, %d]", src_h, src_w, dst_h,
                           dst_w);
  }
  int par_h = (long long)src_h * dst_w * th.max_taps >= PARALLEL_MIN_PIXELS;
#pragma omp parallel for schedule(static) if (par_h)
  for (int y = 0; y < src_h; y++) {
    const float *row = src + (size_t)y * src_w;
    float *out = tmp + (size_t)y * dst_w;
    for (int x = 0; x < dst_w; x++) {
      const float *w = th.weight + (size_t)x * th.max_taps;
      const float *s = row + th.start[x];
      float acc = 0;
      for (int k = 0; k < th.count[x]; k++) acc += w[k] * s[k];
      out[x] = acc;
    }
  }
  int par_v = (long long)dst_h * dst_w * tv.max_taps >= PARALLEL_MIN_PIXELS;
#pragma omp parallel for schedule(static) if (par_v)
  for (int y = 0; y < dst_h; y++) {
    const float *w = tv.weight + (size_t)y * tv.max_taps;
    float *out = dst + (size_t)y * dst_w;
    for (int x = 0; x < dst_w; x++) out[x] = 0;
    for (int k = 0; k < tv.count[y]; k++) {
      const float *s = tmp + (size_t)(tv.start[y] + k) * dst_w;
      float wk = w[k];
      for (int x = 0; x < dst_w; x++) out[x] += wk * s[x];
    }
  }
  free(tmp);
  taps_free(&th);
  taps_free(&tv);
  return PRIOR_OK;
}

prior_status prior_image_affine(const float *src, int h, int w, float *dst, float angle_deg, float translate_x,
                                float translate_y, float scale, float fill) {
  if (!src || !dst) return prior_error_set(PRIOR_ERR_ARGUMENT, "affine: NULL image");
  if (src == dst) return prior_error_set(PRIOR_ERR_ARGUMENT, "affine: source and destination must differ");
  if (h <= 0 || w <= 0) return prior_error_set(PRIOR_ERR_SHAPE, "affine: image [%d, %d] is empty", h, w);
  if (!(scale > 0) || !isfinite(scale) || !isfinite(angle_deg) || !isfinite(translate_x) || !isfinite(translate_y))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "affine: angle %g, translate (%g, %g), scale %g (scale must be > 0)",
                           angle_deg, translate_x, translate_y, scale);
  /* Inverse map, as torchvision's _get_inverse_affine_matrix with shear 0 and the centre at the image centre. */
  double rot = angle_deg * M_PI / 180.0;
  double m0 = cos(rot) / scale, m1 = sin(rot) / scale, m3 = -sin(rot) / scale, m4 = cos(rot) / scale;
  double m2 = m0 * -translate_x + m1 * -translate_y, m5 = m3 * -translate_x + m4 * -translate_y;
  /* Centre-relative output position (x, y) = (j + 0.5 - w/2, i + 0.5 - h/2); the source pixel coordinate is the
   * mapped position plus (w/2 - 0.5, h/2 - 0.5), as grid_sample(align_corners=False) unnormalises it. */
  double cx = w * 0.5, cy = h * 0.5;
  int par = (long long)h * w >= PARALLEL_MIN_PIXELS / 4;
#pragma omp parallel for schedule(static) if (par)
  for (int i = 0; i < h; i++) {
    double y = i + 0.5 - cy;
    for (int j = 0; j < w; j++) {
      double x = j + 0.5 - cx;
      double sx = m0 * x + m1 * y + m2 + cx - 0.5, sy = m3 * x + m4 * y + m5 + cy - 0.5;
      double fx = floor(sx), fy = floor(sy);
      int x0 = (int)fx, y0 = (int)fy;
      double ax = sx - fx, ay = sy - fy;
      double wts[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
      int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
      double value = 0, coverage = 0;
      if (fx > -2 && fx < w && fy > -2 && fy < h) {
        for (int k = 0; k < 4; k++) {
          if (xs[k] < 0 || xs[k] >= w || ys[k] < 0 || ys[k] >= h) continue;
          value += wts[k] * src[(size_t)ys[k] * w + xs[k]];
          coverage += wts[k];
        }
      }
      dst[(size_t)i * w + j] = (float)(value * coverage + (1.0 - coverage) * fill);
    }
  }
  return PRIOR_OK;
}

prior_status prior_image_hflip(const float *src, int h, int w, float *dst) {
  if (!src || !dst) return prior_error_set(PRIOR_ERR_ARGUMENT, "hflip: NULL image");
  if (h <= 0 || w <= 0) return prior_error_set(PRIOR_ERR_SHAPE, "hflip: image [%d, %d] is empty", h, w);
  for (int i = 0; i < h; i++) {
    const float *s = src + (size_t)i * w;
    float *d = dst + (size_t)i * w;
    /* Swap from both ends so that src == dst works. */
    for (int a = 0, b = w - 1; a <= b; a++, b--) {
      float va = s[a], vb = s[b];
      d[a] = vb;
      d[b] = va;
    }
  }
  return PRIOR_OK;
}

prior_status prior_image_crop(const float *src, int h, int w, int top, int left, int out_h, int out_w, float *dst) {
  if (!src || !dst) return prior_error_set(PRIOR_ERR_ARGUMENT, "crop: NULL image");
  if (out_h <= 0 || out_w <= 0 || top < 0 || left < 0 || top > h - out_h || left > w - out_w)
    return prior_error_set(PRIOR_ERR_SHAPE, "crop: window %dx%d at (top %d, left %d) is not inside the %dx%d image",
                           out_h, out_w, top, left, h, w);
  for (int i = 0; i < out_h; i++)
    memcpy(dst + (size_t)i * out_w, src + (size_t)(top + i) * w + left, sizeof(float) * out_w);
  return PRIOR_OK;
}

/* round(d / 2) with ties to even, as Python's round. */
static int half_round_even(int d) {
  int k = d / 2;
  return (d % 2 && k % 2) ? k + 1 : k;
}

prior_status prior_image_center_crop(const float *src, int h, int w, int out_h, int out_w, float *dst) {
  if (out_h > h || out_w > w || out_h <= 0 || out_w <= 0)
    return prior_error_set(PRIOR_ERR_SHAPE, "center crop: %dx%d does not fit in the %dx%d image", out_h, out_w, h,
                           w);
  return prior_image_crop(src, h, w, half_round_even(h - out_h), half_round_even(w - out_w), out_h, out_w, dst);
}

prior_status prior_image_from_u8(const uint8_t *src, size_t count, float *dst) {
  if (count && (!src || !dst)) return prior_error_set(PRIOR_ERR_ARGUMENT, "from_u8: NULL buffer");
  for (size_t i = 0; i < count; i++) dst[i] = src[i] / 255.0f; /* a division, as ToTensor does: bit-identical */
  return PRIOR_OK;
}

prior_status prior_image_zscore(float *data, size_t count, float mean, float std) {
  if (count && !data) return prior_error_set(PRIOR_ERR_ARGUMENT, "zscore: NULL buffer");
  if (!(std > 0) || !isfinite(std) || !isfinite(mean))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "zscore: mean %g, std %g (std must be > 0)", mean, std);
  float inv = 1.0f / std;
  for (size_t i = 0; i < count; i++) data[i] = (data[i] - mean) * inv;
  return PRIOR_OK;
}
