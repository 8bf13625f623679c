/* OIHW <-> oneDNN's blocked weight layouts. Each direction writes its destination in order and gathers from
 * the source through a small table of offsets; layouts with tiles cut by the end of O or I (padding) take
 * per-element loops (only small weights have them: the first and last convolutions). */
#include "backend/cpu/blocked_weights.h"

#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"

int prior_blocked_weights_layout(const dnnl_memory_desc_t *md, prior_blocked_weights *out) {
  if (md->ndims != 4 || md->format_kind != dnnl_blocked || md->offset0 != 0 || md->extra.flags != 0) return 0;
  if (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16) return 0;
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  int64_t block[2] = {1, 1};
  for (int k = 0; k < b->inner_nblks; k++) {
    if (b->inner_idxs[k] > 1) return 0;
    block[b->inner_idxs[k]] *= b->inner_blks[k];
  }
  if (block[0] * block[1] > PRIOR_BLOCKED_MAX_TILE) return 0;
  for (int d = 0; d < 4; d++) {
    int64_t blk = d < 2 ? block[d] : 1;
    if (md->padded_offsets[d] != 0 || md->padded_dims[d] != (md->dims[d] + blk - 1) / blk * blk) return 0;
    out->dims[d] = md->dims[d];
    out->stride[d] = b->strides[d];
  }
  out->tile_o = block[0];
  out->tile_i = block[1];
  out->size = (int64_t)(dnnl_memory_desc_get_size(md) / (md->data_type == dnnl_f32 ? 4 : 2));
  /* Inside a tile the innermost block takes the lowest digits of its dim's index (oneDNN's convention). */
  for (int64_t o = 0; o < block[0]; o++)
    for (int64_t i = 0; i < block[1]; i++) {
      int64_t rest[2] = {o, i}, offset = 0, scale = 1;
      for (int k = b->inner_nblks - 1; k >= 0; k--) {
        int d = (int)b->inner_idxs[k];
        offset += rest[d] % b->inner_blks[k] * scale;
        rest[d] /= b->inner_blks[k];
        scale *= b->inner_blks[k];
      }
      out->tile[o * block[1] + i] = (int32_t)offset;
    }
  return 1;
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* For every (output channel, input channel) of every tile, BODY runs with `s` the offset of its H x W
 * kernel in OIHW and `t` the offset of its (0, 0) element in the blocked buffer. Tiles are split over threads. */
#define FOR_EACH_TILE_ROW(l, BODY)                                                                  \
  do {                                                                                              \
    int64_t O = (l)->dims[0], I = (l)->dims[1], hw = (l)->dims[2] * (l)->dims[3];                   \
    int64_t n_o = (O + (l)->tile_o - 1) / (l)->tile_o, n_i = (I + (l)->tile_i - 1) / (l)->tile_i;   \
    _Pragma("omp parallel for collapse(2) schedule(static)")                                        \
    for (int64_t ot = 0; ot < n_o; ot++)                                                            \
      for (int64_t it = 0; it < n_i; it++) {                                                        \
        int64_t o0 = ot * (l)->tile_o, i0 = it * (l)->tile_i;                                       \
        int64_t o_n = min64((l)->tile_o, O - o0), i_n = min64((l)->tile_i, I - i0);                 \
        for (int64_t o = 0; o < o_n; o++)                                                           \
          for (int64_t i = 0; i < i_n; i++) {                                                       \
            int64_t s = ((o0 + o) * I + i0 + i) * hw;                                               \
            int64_t t = ot * (l)->stride[0] + it * (l)->stride[1] + (l)->tile[o * (l)->tile_i + i]; \
            BODY                                                                                    \
          }                                                                                         \
      }                                                                                             \
  } while (0)

/* The kernel's H x W values: k runs over them in OIHW order, `at` is the blocked offset of value k. */
#define FOR_EACH_TAP(l, BODY)                                                       \
  for (int64_t kh = 0, k = 0; kh < (l)->dims[2]; kh++)                              \
    for (int64_t kw = 0; kw < (l)->dims[3]; kw++, k++) {                            \
      int64_t at = t + kh * (l)->stride[2] + kw * (l)->stride[3];                   \
      BODY                                                                          \
    }

/* In the blocked buffer's order: each tile of one kernel tap is a contiguous run of the buffer, gathered from
 * OIHW through a table of source offsets (a gather the compiler vectorises). A layout with any tile cut short
 * (O or I not a multiple of the tile) is zeroed and filled by the per-element loops above instead. */
void prior_weights_to_blocked(const float *src, void *dst, int to_bf16, const prior_blocked_weights *l) {
  int64_t O = l->dims[0], I = l->dims[1], H = l->dims[2], W = l->dims[3], hw = H * W;
  int64_t tile_size = l->tile_o * l->tile_i, full_o = O / l->tile_o, full_i = I / l->tile_i;
  if (full_o < (O + l->tile_o - 1) / l->tile_o || full_i < (I + l->tile_i - 1) / l->tile_i) {
    memset(dst, 0, (size_t)l->size * (to_bf16 ? 2 : 4)); /* tiles' unused channels are zero */
    if (to_bf16) {
      uint16_t *d = dst;
      FOR_EACH_TILE_ROW(l, FOR_EACH_TAP(l, d[at] = prior_bf16_round(src[s + k]);));
    } else {
      float *d = dst;
      FOR_EACH_TILE_ROW(l, FOR_EACH_TAP(l, d[at] = src[s + k];));
    }
    return;
  }
  int32_t from[PRIOR_BLOCKED_MAX_TILE];
  for (int64_t o = 0; o < l->tile_o; o++)
    for (int64_t i = 0; i < l->tile_i; i++) from[l->tile[o * l->tile_i + i]] = (int32_t)((o * I + i) * hw);
#pragma omp parallel for collapse(3) schedule(static)
  for (int64_t ot = 0; ot < full_o; ot++)
    for (int64_t it = 0; it < full_i; it++)
      for (int64_t kh = 0; kh < H; kh++)
        for (int64_t kw = 0; kw < W; kw++) {
          const float *s = src + (ot * l->tile_o * I + it * l->tile_i) * hw + kh * W + kw;
          int64_t at = ot * l->stride[0] + it * l->stride[1] + kh * l->stride[2] + kw * l->stride[3];
          if (to_bf16) {
            uint16_t *d = (uint16_t *)dst + at;
            for (int64_t j = 0; j < tile_size; j++) d[j] = prior_bf16_round(s[from[j]]);
          } else {
            float *d = (float *)dst + at;
            for (int64_t j = 0; j < tile_size; j++) d[j] = s[from[j]];
          }
        }
}

/* In OIHW order: one output channel's run over a tile's input channels and the kernel's taps is contiguous in
 * OIHW, gathered from the blocked buffer through a table (a tile's offsets split into an output-channel part
 * and an input-channel part). */
void prior_weights_from_blocked(const float *src, float *dst, const prior_blocked_weights *l) {
  int64_t O = l->dims[0], I = l->dims[1], H = l->dims[2], W = l->dims[3], hw = H * W;
  int64_t run = l->tile_i * hw, full_i = I / l->tile_i;
  int32_t *from = full_i > 0 ? malloc(sizeof(int32_t) * (size_t)run) : NULL;
  if (!from) { /* no full tile along I, or no memory for the table: per element */
    FOR_EACH_TILE_ROW(l, FOR_EACH_TAP(l, dst[s + k] = src[at];));
    return;
  }
  for (int64_t i = 0; i < l->tile_i; i++)
    for (int64_t kh = 0; kh < H; kh++)
      for (int64_t kw = 0; kw < W; kw++)
        from[(i * H + kh) * W + kw] = (int32_t)(l->tile[i] + kh * l->stride[2] + kw * l->stride[3]);
  int64_t n_o = (O + l->tile_o - 1) / l->tile_o;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t ot = 0; ot < n_o; ot++)
    for (int64_t it = 0; it < full_i; it++) {
      int64_t o_n = min64(l->tile_o, O - ot * l->tile_o);
      for (int64_t o = 0; o < o_n; o++) {
        const float *s = src + ot * l->stride[0] + it * l->stride[1] + l->tile[o * l->tile_i];
        float *d = dst + ((ot * l->tile_o + o) * I + it * l->tile_i) * hw;
        for (int64_t j = 0; j < run; j++) d[j] = s[from[j]];
      }
    }
  free(from);
  if (full_i * l->tile_i < I) { /* the input channels past the last full tile */
    for (int64_t ot = 0; ot < n_o; ot++)
      for (int64_t o = 0; o < min64(l->tile_o, O - ot * l->tile_o); o++)
        for (int64_t i = full_i * l->tile_i; i < I; i++) {
          int64_t s = ((ot * l->tile_o + o) * I + i) * hw;
          int64_t t = ot * l->stride[0] + full_i * l->stride[1] + l->tile[o * l->tile_i + i - full_i * l->tile_i];
          FOR_EACH_TAP(l, dst[s + k] = src[at];)
        }
  }
}
