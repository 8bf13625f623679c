/* SIIM-ACR Pneumothorax run-length masks (train-rle.csv, column EncodedPixels).
 *
 * The text is pairs "offset length" of decimal integers separated by spaces. Runs are relative: a position p starts
 * at 0; for each pair p += offset, `length` pixels from p are set, p += length. The flat index runs down the columns
 * of the image (index = col * height + row). "-1" (or a blank cell) is an empty mask. Masks are uint8_t row-major
 * [height, width] with 1 inside. */
#ifndef PRIOR_RLE_H
#define PRIOR_RLE_H

#include <stdint.h>

#include "prior/error.h"

/* Sets to 1 the pixels of `mask` that the runs cover, leaving the others as they are, so that the several rows of
 * one image are OR-ed by decoding them into the same mask (zero it first). Errors (mask left partly written): a
 * token that is not a non-negative integer, an odd number of tokens, a run past the end of the image. */
prior_status prior_rle_decode(const char *rle, int width, int height, uint8_t *mask);

/* Encodes the non-zero pixels of a mask; "-1" when there are none. The string is released with prior_rle_free. */
prior_status prior_rle_encode(const uint8_t *mask, int width, int height, char **rle);
void prior_rle_free(char *rle);

#endif
