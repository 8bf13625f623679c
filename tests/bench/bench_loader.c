/* Loader throughput on MIMIC-sized radiographs: 2500x3000 JPEGs decoded (1/8 in the DCT), resized to 224x224,
 * randomly rotated/shifted, z-scored, collated with their tokenized reports, with 1 and 2 worker threads; how long
 * the consumer waited (queue stalls), with no training step and with a simulated one; and report tokenizing +
 * sentence indexing alone.
 *
 *   bench_loader [images] [vocab.txt]      (run from the repository root; defaults 96 and the BERT vocabulary in
 *                                           tests/fixtures/tokenizer)
 * The JPEGs are written once to a temporary folder (4 distinct files, reused; so the page cache is warm and this
 * measures decoding, not the disk). */
#include "ds_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/dataset_internal.h"
#include "prior/loader.h"
#include "prior/transform.h"
#include "prior/tokenizer.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void write_radiograph(const char *path, int w, int h, int seed) {
  unsigned char *px = malloc((size_t)w * h);
  unsigned s = (unsigned)seed * 2654435761u + 1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double u = (x - w / 2.0) / w, v = (y - h / 2.0) / h;
      double lungs = exp(-pow((fabs(u) - 0.2) / 0.12, 2) - pow(v / 0.3, 2));
      double ribs = 0.1 * sin(y * 0.03 + fabs(u) * 8 + seed);
      s = s * 1103515245u + 12345u;
      double val = 200 - 150 * lungs + 40 * ribs + 12 * (((s >> 16) & 255) / 255.0 - 0.5);
      px[(size_t)y * w + x] = (unsigned char)(val < 0 ? 0 : val > 255 ? 255 : val);
    }
  if (prior_jpeg_write(path, px, w, h, 95) != PRIOR_OK) {
    fprintf(stderr, "%s\n", prior_error_message());
    exit(1);
  }
  free(px);
}

static const char *SENTENCES[] = {
    "The lungs are clear without focal consolidation.", "There is no pleural effusion or pneumothorax.",
    "The cardiomediastinal silhouette is within normal limits.", "Mild pulmonary vascular congestion is noted.",
    "A right internal jugular central venous catheter terminates in the mid SVC.",
    "Small left pleural effusion with adjacent atelectasis.", "No acute cardiopulmonary process.",
    "Comparison is made to the prior study from ___.", "Moderate cardiomegaly is unchanged.",
    "Bibasilar opacities likely reflect atelectasis, though infection cannot be excluded."};

static void run(const prior_dataset *ds, prior_tokenizer *tok, int workers, double step_s) {
  prior_loader_options o;
  prior_loader_options_default(&o);
  o.batch_size = 16;
  o.workers = workers;
  o.prefetch = 4;
  o.tokenizer = tok;
  prior_loader *l = NULL;
  if (prior_loader_create(ds, &o, &l) != PRIOR_OK) {
    fprintf(stderr, "%s\n", prior_error_message());
    exit(1);
  }
  double t0 = now();
  prior_batch *b;
  int64_t n = 0;
  while (prior_loader_next(l, &b) == PRIOR_OK && b) {
    n += b->size;
    prior_batch_free(b);
    if (step_s > 0) {
      struct timespec ts = {(time_t)step_s, (long)((step_s - (time_t)step_s) * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  double dt = now() - t0;
  prior_loader_stats st;
  prior_loader_stats_get(l, &st);
  printf("workers %d, step %3.0f ms: %4lld images in %6.2f s = %6.1f images/s; consumer waited %5.2f s in %lld of "
         "%lld batches (longest %.3f s), at most %lld batches ahead\n",
         workers, step_s * 1e3, (long long)n, dt, n / dt, st.wait_seconds, (long long)st.waits,
         (long long)st.batches, st.max_wait_seconds, (long long)st.max_ready);
  prior_loader_free(l);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 96;
  const char *vocab = argc > 2 ? argv[2] : "tests/fixtures/tokenizer/vocab_uncased.txt";
  prior_tokenizer *tok = prior_tokenizer_load(vocab, NULL);
  if (!tok) {
    fprintf(stderr, "%s\n", prior_error_message());
    return 1;
  }
  char root[1024], p[4096];
  ds_tmpdir(root, sizeof root, "bench_loader");
  double t0 = now();
  for (int k = 0; k < 4; k++) {
    snprintf(p, sizeof p, "%s/r%d.jpg", root, k);
    write_radiograph(p, 2500, 3000, k);
  }
  printf("wrote 4 2500x3000 JPEGs in %.2f s\n", now() - t0);
  prior_dataset *ds = prior_ds_new("bench", PRIOR_IMAGE_JPEG, 0, NULL);
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "s%d", i);
    prior_ds_sample *s = prior_ds_push(ds, id);
    snprintf(p, sizeof p, "%s/r%d.jpg", root, i % 4);
    prior_ds_add_string(&s->images, &s->nimages, p);
    for (int k = 0; k < 6 + i % 5; k++)
      prior_ds_add_string(&s->sentences, &s->nsentences, SENTENCES[(i * 3 + k) % 10]);
  }
  /* Reference in the same run: decode + resize alone, one thread, no loader. */
  {
    float *out = malloc(sizeof(float) * 224 * 224);
    int m = 32;
    double t1 = now();
    for (int i = 0; i < m; i++) {
      float *img = NULL;
      int w, h;
      snprintf(p, sizeof p, "%s/r%d.jpg", root, i % 4);
      if (prior_jpeg_read_float(p, 224, &img, &w, &h) != PRIOR_OK ||
          prior_image_resize(img, h, w, out, 224, 224, 1) != PRIOR_OK) {
        fprintf(stderr, "%s\n", prior_error_message());
        return 1;
      }
      prior_jpeg_free(img);
    }
    double dt1 = now() - t1;
    printf("decode (1/8 scaled) + antialiased resize alone: %d images in %.2f s = %.1f images/s, 1 thread\n", m, dt1,
           m / dt1);
    free(out);
  }
  printf("loader: 2500x3000 JPEG -> 224x224, random affine, z-score, reports tokenized to 256 with sentence "
         "index, batch 16, prefetch 4\n");
  run(ds, tok, 1, 0);
  run(ds, tok, 2, 0);
  run(ds, tok, 2, 0.25);

  /* Reports alone: the loader's text path (sentence lists -> ids, mask, sentence index) on 16-report batches. */
  int R = 20000;
  const char **sent = malloc(sizeof(char *) * (size_t)R * 10);
  int64_t *counts = malloc(sizeof(int64_t) * 16), *ids = malloc(sizeof(int64_t) * 16 * 256);
  int64_t *mask = malloc(sizeof(int64_t) * 16 * 256), *sidx = malloc(sizeof(int64_t) * 16 * 256);
  t0 = now();
  for (int r0 = 0; r0 < R; r0 += 16) {
    int at = 0;
    for (int k = 0; k < 16; k++) {
      counts[k] = 6 + (r0 + k) % 5;
      for (int j = 0; j < counts[k]; j++) sent[at++] = SENTENCES[((r0 + k) * 3 + j) % 10];
    }
    if (prior_tokenizer_encode_reports(tok, sent, NULL, counts, 16, 256, PRIOR_REPORT_CUT_REFERENCE, 8, ids, mask,
                                       sidx, NULL) != PRIOR_OK) {
      fprintf(stderr, "%s\n", prior_error_message());
      return 1;
    }
  }
  double dt = now() - t0;
  printf("reports: %d reports (6-10 sentences) tokenized + sentence-indexed in %.3f s = %.0f reports/s on 1 thread\n",
         R, dt, R / dt);
  free(sent), free(counts), free(ids), free(mask), free(sidx);
  prior_dataset_free(ds);
  prior_tokenizer_free(tok);
  ds_rm_rf(root);
  return 0;
}
