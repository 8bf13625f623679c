/* Internal: moving 4-D convolution weights between our OIHW f32 layout and the blocked layouts oneDNN's
 * convolutions pick (OIhw tiles such as AcdB16b32a2b: outer blocks of O and I, the kernel's rows and columns,
 * and inside each tile a fixed interleaving of 16-64 output by 16-32 input channels). oneDNN 2.6's generic
 * reorders took 131 ms of the paper-preset bf16 step for these, ours about 57 ms (docs/performance.md,
 * tests/bench/bench_weight_layouts.c). The values are the same as oneDNN's reorder (a permutation; f32 -> bf16
 * rounds to nearest even; padding is zero), which test_autocast_cpu checks bit for bit. */
#ifndef PRIOR_BACKEND_CPU_BLOCKED_WEIGHTS_H
#define PRIOR_BACKEND_CPU_BLOCKED_WEIGHTS_H

#include <dnnl.h>
#include <stdint.h>

#define PRIOR_BLOCKED_MAX_TILE 4096 /* output x input channels in one tile */

typedef struct prior_blocked_weights {
  int64_t dims[4];                     /* O, I, H, W */
  int64_t tile_o, tile_i;              /* channels of O and of I in one tile */
  int64_t stride[4];                   /* elements between consecutive O tiles, I tiles, rows, columns */
  int64_t size;                        /* elements of the blocked buffer, padding included */
  int32_t tile[PRIOR_BLOCKED_MAX_TILE]; /* offset of (o, i) inside a tile, at [o * tile_i + i] */
} prior_blocked_weights;

/* Whether `md` is a 4-D blocked layout of this kind (f32 or bf16; inner blocks over O and I only, no offset,
 * no extra flags); if so fills *out. */
int prior_blocked_weights_layout(const dnnl_memory_desc_t *md, prior_blocked_weights *out);

/* OIHW f32 -> the blocked layout, in f32 or rounded to bf16 (dst is float * or uint16_t *). */
void prior_weights_to_blocked(const float *src, void *dst, int to_bf16, const prior_blocked_weights *l);
/* The blocked layout in f32 -> OIHW f32 (the padding is dropped). */
void prior_weights_from_blocked(const float *src, float *dst, const prior_blocked_weights *l);

#endif
