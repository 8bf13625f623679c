/* Internal: moving 4-D activations between our NCHW layout and the channels-last (NHWC) layout that the AMX
 * convolutions read and write, as cache-blocked transposes of each image's C x HW matrix. They replace
 * oneDNN 2.6's generic reorders for exactly these two cases, which ran at about half the speed (measured in
 * docs/performance.md); the values are the same (a transpose; f32 -> bf16 rounds to nearest even). */
#ifndef PRIOR_BACKEND_CPU_CHANNELS_LAST_H
#define PRIOR_BACKEND_CPU_CHANNELS_LAST_H

#include <stdint.h>

/* src [N, C, HW] f32 -> dst [N, HW, C], f32 or (bf16) rounded to bf16. */
void prior_nchw_to_nhwc_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw);
void prior_nchw_to_nhwc_bf16(const float *src, uint16_t *dst, int64_t n, int64_t c, int64_t hw);
/* src [N, HW, C] f32 -> dst [N, C, HW] f32. */
void prior_nhwc_to_nchw_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw);

#endif
