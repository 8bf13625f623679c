/* Shared by the loader's queue (loader.c) and its per-sample work (loader_sample.c). */
#ifndef PRIOR_DATA_LOADER_INTERNAL_H
#define PRIOR_DATA_LOADER_INTERNAL_H

#include <stdint.h>

#include "prior/loader.h"

/* Uniform draws per sample from (seed, epoch, index): which image, angle, shift x, shift y, scale, flip. */
#define PRIOR_LOADER_DRAWS 8

typedef struct prior_loader_boxes {
  float *xywh; /* 4 per box */
  int64_t n, cap;
} prior_loader_boxes;

/* Seeds derived from the loader seed and the epoch, one per purpose, so streams never overlap. */
uint64_t prior_loader_stream(uint64_t seed, int64_t epoch, int purpose);

/* Decodes and transforms sample `index` with its draws u[PRIOR_LOADER_DRAWS]: image (h*w floats, z-scored) into
 * img, mask (h*w floats in {0,1}) into mask when mask is not NULL, boxes appended to boxes when not NULL. On error
 * the message names the file. *path receives the image path used. */
prior_status prior_loader_sample(const prior_dataset *ds, const prior_loader_options *o, int64_t index,
                                 const double *u, float *img, float *mask, prior_loader_boxes *boxes,
                                 const char **path);

#endif
