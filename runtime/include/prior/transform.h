/* Image transforms on single-channel float images, row-major [height, width].
 *
 * Every parameter is explicit: random augmentation draws its angle, shift or flip in the caller and passes it here.
 * Source and destination must not overlap unless a function says otherwise. */
#ifndef PRIOR_TRANSFORM_H
#define PRIOR_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "prior/error.h"

/* Bilinear resize with half-pixel centres (align_corners=False). antialias = 1 follows PIL / torchvision
 * F.resize(..., antialias=True): when shrinking, the triangle filter is widened by the scale factor so every source
 * pixel contributes; when enlarging it equals plain bilinear. antialias = 0 is plain bilinear (2 taps per axis, the
 * same as torch.nn.functional.interpolate(mode="bilinear", align_corners=False)). */
prior_status prior_image_resize(const float *src, int src_h, int src_w, float *dst, int dst_h, int dst_w,
                                int antialias);

/* Affine warp about the image centre, as torchvision F.affine on a tensor with shear 0 and bilinear interpolation:
 * the output pixel at centre-relative position p shows the input at R(-angle) (p - t) / scale, with angle in degrees
 * (positive = clockwise on screen, as torchvision's affine), t = (translate_x, translate_y) in pixels (x to the
 * right, y down). Samples
 * use zero padding, and the result is blended with `fill` by the sampled coverage m of the image:
 * out = sample(img) * m + (1 - m) * fill, exactly as torchvision does when a fill value is given (RandomAffine always
 * gives one; its default is 0). Note torchvision's PIL-image path differs at the borders and rounds to uint8. */
prior_status prior_image_affine(const float *src, int h, int w, float *dst, float angle_deg, float translate_x,
                                float translate_y, float scale, float fill);

/* Mirrors left-right; src == dst is allowed. */
prior_status prior_image_hflip(const float *src, int h, int w, float *dst);
/* Copies the out_h x out_w window at (top, left), which must lie inside the image. */
prior_status prior_image_crop(const float *src, int h, int w, int top, int left, int out_h, int out_w, float *dst);
/* Central window as torchvision center_crop: top = round((h - out_h) / 2) with Python's round-half-to-even, same for
 * left; out_h <= h and out_w <= w. */
prior_status prior_image_center_crop(const float *src, int h, int w, int out_h, int out_w, float *dst);

/* v / 255 for count bytes. */
prior_status prior_image_from_u8(const uint8_t *src, size_t count, float *dst);
/* In place: (v - mean) / std. */
prior_status prior_image_zscore(float *data, size_t count, float mean, float std);

#endif
