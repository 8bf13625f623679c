/* JPEG images (MIMIC-CXR-JPG, CheXpert) through libjpeg-turbo, as 8-bit grayscale row-major [height, width].
 *
 * Decoding can shrink cheaply inside the decoder: with `min_side` > 0 the largest of the reductions 1/2, 1/4, 1/8
 * that keeps both sides >= min_side is applied by the DCT (a 2500x3000 radiograph needed at 224 decodes at 1/8 to
 * 313x375), then a resize brings it to the final size. min_side <= 0 decodes at full size. Colour JPEGs are
 * converted to their luminance. Any decoder warning (a truncated or corrupt stream) is an error naming the file.
 * Buffers returned by this module are released with prior_jpeg_free. */
#ifndef PRIOR_JPEG_H
#define PRIOR_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "prior/error.h"

/* Width and height from the JPEG header (no decoding). `name` is used in messages. */
prior_status prior_jpeg_size(const uint8_t *data, size_t len, const char *name, int *width, int *height);
/* Size after the reduction chosen for min_side (rules above). */
prior_status prior_jpeg_scaled_size(int width, int height, int min_side, int *scaled_width, int *scaled_height);

prior_status prior_jpeg_decode(const uint8_t *data, size_t len, const char *name, int min_side, uint8_t **pixels,
                               int *width, int *height);
prior_status prior_jpeg_read(const char *path, int min_side, uint8_t **pixels, int *width, int *height);
/* As above, with intensities scaled to [0,1] (v / 255). */
prior_status prior_jpeg_decode_float(const uint8_t *data, size_t len, const char *name, int min_side, float **pixels,
                                     int *width, int *height);
prior_status prior_jpeg_read_float(const char *path, int min_side, float **pixels, int *width, int *height);

/* Encodes 8-bit grayscale at `quality` 1..100 (4:0:0, no chroma). */
prior_status prior_jpeg_encode(const uint8_t *pixels, int width, int height, int quality, uint8_t **data,
                               size_t *len);
prior_status prior_jpeg_write(const char *path, const uint8_t *pixels, int width, int height, int quality);

void prior_jpeg_free(void *buffer);

/* 16-bit grayscale with `bits` significant bits (1..16, e.g. 12 for many radiographs) to [0,1]: v / (2^bits - 1);
 * values above 2^bits - 1 are clamped to 1. */
prior_status prior_gray16_to_float(const uint16_t *src, size_t count, int bits, float *dst);

#endif
