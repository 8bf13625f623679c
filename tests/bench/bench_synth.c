/* Synthetic radiograph throughput on one core: images per second at 64 and 224 pixels (render only, then
 * render + report), and a parallel tree write at 64 pixels.
 * Usage: bench_synth [seconds per measurement, default 1] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "prior/synth.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int measure(int size, int with_report, double seconds, double *rate) {
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = size;
  float *img = malloc(sizeof(float) * (size_t)size * size);
  char report[8192];
  long n = 0;
  double t0 = now(), t = t0;
  while (t - t0 < seconds) {
    for (int k = 0; k < 16; k++, n++) {
      prior_synth_truth truth;
      if (prior_synth_render(&cfg, (uint64_t)n, img, &truth) != PRIOR_OK ||
          (with_report && prior_synth_report(&truth, 0.0f, report, sizeof report, NULL) != PRIOR_OK)) {
        fprintf(stderr, "bench_synth: %s\n", prior_error_message());
        free(img);
        return 1;
      }
    }
    t = now();
  }
  *rate = (double)n / (t - t0);
  free(img);
  return 0;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  if (seconds <= 0) seconds = 1.0;
  static const int sizes[] = {64, 224};
  for (int i = 0; i < 2; i++) {
    double r1, r2;
    if (measure(sizes[i], 0, seconds, &r1) || measure(sizes[i], 1, seconds, &r2)) return 1;
    printf("synth %4dx%-4d render: %8.0f images/s/core   render+report: %8.0f images/s/core\n", sizes[i], sizes[i],
           r1, r2);
  }
  char dir[] = "/tmp/prior_bench_synth_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = 64;
  cfg.mimic_subjects = 500;
  double t0 = now();
  if (prior_synth_write_mimic(&cfg, dir) != PRIOR_OK) {
    fprintf(stderr, "bench_synth: %s\n", prior_error_message());
    return 1;
  }
  double dt = now() - t0;
  printf("MIMIC tree, 500 subjects at 64x64 (JPEG + reports + CSVs), %d threads: %.2f s\n", omp_get_max_threads(), dt);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}
