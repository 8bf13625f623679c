/* Decode + resize throughput for the image pipeline: a 2500x3000 grayscale JPEG (the size of a MIMIC-CXR-JPG
 * radiograph) to a 224x224 float image, on one thread. Compares TurboJPEG's scaled decoding (1/8 in the DCT, then an
 * antialiased resize of 313x375) with a full-size decode followed by the same resize.
 *
 *   bench_decode [image.jpg] [iterations]
 * Without a file it writes a synthetic radiograph-like JPEG (quality 95) to /tmp/prior_bench_2500x3000.jpg, which
 * tests/bench/bench_decode_pil.py then reads for the PIL + torchvision numbers. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "prior/jpeg.h"
#include "prior/transform.h"

#define OUT 224

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Smooth anatomy-like shapes plus film-like noise, so the JPEG is neither trivially small nor pure noise. */
static int write_synthetic(const char *path, int w, int h) {
  unsigned char *px = malloc((size_t)w * h);
  unsigned seed = 1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double u = (x - w / 2.0) / w, v = (y - h / 2.0) / h;
      double lungs = exp(-pow((fabs(u) - 0.2) / 0.12, 2) - pow(v / 0.3, 2));
      double ribs = 0.1 * sin(y * 0.03 + fabs(u) * 8);
      seed = seed * 1103515245u + 12345u;
      double noise = ((seed >> 16) & 255) / 255.0 - 0.5;
      double val = 200 - 150 * lungs + 40 * ribs + 12 * noise;
      px[(size_t)y * w + x] = (unsigned char)(val < 0 ? 0 : val > 255 ? 255 : val);
    }
  prior_status st = prior_jpeg_write(path, px, w, h, 95);
  free(px);
  if (st != PRIOR_OK) fprintf(stderr, "%s\n", prior_error_message());
  return st == PRIOR_OK;
}

static int run(const char *path, int min_side, int iters, const char *label) {
  float *out = malloc(sizeof(float) * OUT * OUT);
  double best = 1e9, total = 0;
  int w = 0, h = 0;
  for (int i = 0; i < iters + 1; i++) {
    double t0 = now();
    float *img = NULL;
    if (prior_jpeg_read_float(path, min_side, &img, &w, &h) != PRIOR_OK ||
        prior_image_resize(img, h, w, out, OUT, OUT, 1) != PRIOR_OK) {
      fprintf(stderr, "%s\n", prior_error_message());
      return 0;
    }
    prior_jpeg_free(img);
    double dt = now() - t0;
    if (i == 0) continue; /* warm-up: page cache, allocator */
    total += dt;
    if (dt < best) best = dt;
  }
  printf("%-34s decoded %4dx%-4d -> %dx%d: %7.1f images/s (mean %.2f ms, best %.2f ms), 1 thread\n", label, w, h, OUT,
         OUT, iters / total, 1e3 * total / iters, 1e3 * best);
  free(out);
  return 1;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/tmp/prior_bench_2500x3000.jpg";
  int iters = argc > 2 ? atoi(argv[2]) : 30;
  omp_set_num_threads(1);
  if (argc <= 1 && !write_synthetic(path, 2500, 3000)) return 1;
  printf("prior (libjpeg-turbo TurboJPEG + C resize), %s\n", path);
  if (!run(path, OUT, iters, "scaled decode + antialiased resize")) return 1;
  if (!run(path, 0, iters / 3 + 1, "full decode + antialiased resize")) return 1;
  return 0;
}
