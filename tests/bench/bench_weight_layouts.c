/* Convolution weights between our OIHW f32 and the blocked layouts the AMX convolutions pick, ours
 * (blocked_weights.c) against oneDNN's reorder, over the weights of one paper-preset step: every 3x3 and 1x1
 * weight of ResNet50 and the image decoder, into the forward layout (AcdB16b32a2b / AcdB16b64a2b, bf16), the
 * backward-data layout (ABcd16a16b2a, bf16) and back from the f32 gradient layout (ABcd16b16a). Prints the
 * median time of each pass over all weights and its speed in GB/s (bytes read + written).
 * Usage: bench_weight_layouts [repeats] */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/blocked_weights.h"
#include "bench_util.h"

typedef struct shape {
  int64_t o, i, k, count;
} shape;

/* ResNet50's convolutions (stem and downsampling included) and the image decoder's, with how often each occurs. */
static const shape shapes[] = {
    {64, 1, 7, 1},     {64, 64, 1, 1},     {64, 64, 3, 3},    {256, 64, 1, 4},   {64, 256, 1, 2},   {128, 256, 1, 1},
    {128, 128, 3, 4},  {512, 128, 1, 4},   {128, 512, 1, 3},  {512, 256, 1, 1},  {256, 512, 1, 1},  {256, 256, 3, 6},
    {1024, 256, 1, 6}, {256, 1024, 1, 5},  {1024, 512, 1, 1}, {512, 1024, 1, 1}, {512, 512, 3, 3},  {2048, 512, 1, 3},
    {512, 2048, 1, 2}, {2048, 1024, 1, 1}, {768, 1536, 3, 1}, {768, 768, 3, 1},  {384, 768, 3, 1},  {384, 384, 3, 1},
    {192, 384, 3, 1},  {192, 192, 3, 1},   {96, 192, 3, 1},   {96, 96, 3, 1},    {48, 96, 3, 1},    {48, 48, 3, 1},
    {1, 48, 3, 1}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

typedef struct pass {
  const char *name;
  dnnl_format_tag_t tag, tag_1x1; /* the forward layout differs for 1x1 kernels */
  dnnl_data_type_t dt;
  int to_blocked;
} pass;

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static void reorder(const dnnl_memory_desc_t *from_md, void *from, const dnnl_memory_desc_t *to_md, void *to) {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_memory_t a, b;
  dnnl_reorder_primitive_desc_create(&pd, from_md, engine, to_md, engine, NULL);
  dnnl_primitive_create(&prim, pd);
  dnnl_primitive_desc_destroy(pd);
  dnnl_memory_create(&a, from_md, engine, from);
  dnnl_memory_create(&b, to_md, engine, to);
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, b}};
  dnnl_primitive_execute(prim, stream, 2, args);
  dnnl_stream_wait(stream);
  dnnl_memory_destroy(a), dnnl_memory_destroy(b), dnnl_primitive_destroy(prim);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1 || reps > 64) reps = 7;
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success || dnnl_stream_create(&stream, engine, 0) != dnnl_success)
    return fprintf(stderr, "no oneDNN CPU engine\n"), 1;
  const pass passes[] = {{"OIHW f32 -> forward bf16", dnnl_AcdB16b32a2b, dnnl_AcdB16b64a2b, dnnl_bf16, 1},
                         {"OIHW f32 -> backward-data bf16", dnnl_ABcd16a16b2a, dnnl_ABcd16a16b2a, dnnl_bf16, 1},
                         {"gradient f32 ABcd16b16a -> OIHW", dnnl_ABcd16b16a, dnnl_ABcd16b16a, dnnl_f32, 0}};
  /* every weight instance gets its own buffers, so the passes stream through memory as in a step */
  int64_t n_weights = 0;
  for (size_t s = 0; s < N_SHAPES; s++) n_weights += shapes[s].count;
  float **plain = calloc((size_t)n_weights, sizeof *plain);
  void **blocked = calloc((size_t)n_weights, sizeof *blocked);
  dnnl_memory_desc_t *plain_md = calloc((size_t)n_weights, sizeof *plain_md), *blocked_md = calloc((size_t)n_weights, sizeof *blocked_md);
  printf("%-34s %10s %10s %12s %12s\n", "pass over 45M weights (64 tensors)", "ours_ms", "onednn_ms", "ours_GB/s", "onednn_GB/s");
  for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
    double bytes = 0;
    int64_t w = 0;
    for (size_t s = 0; s < N_SHAPES; s++)
      for (int64_t c = 0; c < shapes[s].count; c++, w++) {
        dnnl_dims_t dims = {shapes[s].o, shapes[s].i, shapes[s].k, shapes[s].k};
        dnnl_memory_desc_init_by_tag(&plain_md[w], 4, dims, dnnl_f32, dnnl_abcd);
        dnnl_memory_desc_init_by_tag(&blocked_md[w], 4, dims, passes[p].dt, shapes[s].k == 1 ? passes[p].tag_1x1 : passes[p].tag);
        size_t pb = dnnl_memory_desc_get_size(&plain_md[w]), bb = dnnl_memory_desc_get_size(&blocked_md[w]);
        plain[w] = realloc(plain[w], pb);
        blocked[w] = realloc(blocked[w], bb);
        for (size_t e = 0; e < pb / 4; e++) plain[w][e] = (float)(e % 1013) * 0.001f;
        memset(blocked[w], 0, bb);
        bytes += (double)(pb + bb);
      }
    double ours[64], theirs[64];
    for (int r = -1; r < reps; r++) {
      double t0 = now_ms();
      for (int64_t i = 0; i < n_weights; i++) {
        prior_blocked_weights l;
        prior_blocked_weights_layout(&blocked_md[i], &l);
        if (passes[p].to_blocked) prior_weights_to_blocked(plain[i], blocked[i], passes[p].dt == dnnl_bf16, &l);
        else prior_weights_from_blocked(blocked[i], plain[i], &l);
      }
      double t1 = now_ms();
      for (int64_t i = 0; i < n_weights; i++) {
        if (passes[p].to_blocked) reorder(&plain_md[i], plain[i], &blocked_md[i], blocked[i]);
        else reorder(&blocked_md[i], blocked[i], &plain_md[i], plain[i]);
      }
      double t2 = now_ms();
      if (r >= 0) ours[r] = t1 - t0, theirs[r] = t2 - t1;
    }
    double o = median(ours, reps), t = median(theirs, reps);
    printf("%-34s %10.2f %10.2f %12.1f %12.1f\n", passes[p].name, o, t, bytes / (o * 1e6), bytes / (t * 1e6));
  }
  for (int64_t i = 0; i < n_weights; i++) free(plain[i]), free(blocked[i]);
  free(plain), free(blocked), free(plain_md), free(blocked_md);
  return 0;
}
