/* Checkpoint I/O timings: opening safetensors and PyTorch files (header/pickle work) and then reading every
 * tensor byte once (page faults from the mapping), plus JSON parse and write throughput.
 *
 *   bench_ckpt_io [file.safetensors | file.pt] ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prior/json.h"
#include "prior/safetensors.h"
#include "prior/torchfile.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads every byte so the mapping is really paged in; the sum keeps the loop from being optimised away. */
static unsigned long long touch(const prior_ckpt_tensor *t, size_t n, size_t *bytes) {
  unsigned long long sum = 0;
  *bytes = 0;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = t[i].data;
    for (size_t k = 0; k < t[i].nbytes; k += 64) sum += p[k];
    *bytes += t[i].nbytes;
  }
  return sum;
}

static void bench_file(const char *path) {
  int is_st = strstr(path, ".safetensors") != NULL;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now();
    prior_safetensors *st = NULL;
    prior_torchfile *tf = NULL;
    prior_status s = is_st ? prior_safetensors_open(path, &st) : prior_torchfile_open(path, NULL, &tf);
    if (s != PRIOR_OK) {
      fprintf(stderr, "%s\n", prior_error_message());
      return;
    }
    double t1 = now();
    size_t bytes, n = is_st ? prior_safetensors_count(st) : prior_torchfile_count(tf);
    unsigned long long sum = touch(is_st ? prior_safetensors_tensors(st) : prior_torchfile_tensors(tf), n, &bytes);
    double t2 = now();
    printf("%s: open %.2f ms (%zu tensors), touch %.1f MB in %.2f ms [%llu]\n", path, (t1 - t0) * 1e3, n, bytes / 1e6,
           (t2 - t1) * 1e3, sum % 10);
    prior_safetensors_close(st);
    prior_torchfile_close(tf);
  }
}

static void bench_json(void) {
  /* A safetensors-like header with 20000 entries. */
  prior_json_writer *w = prior_json_writer_new();
  prior_json_begin_object(w);
  for (int i = 0; i < 20000; i++) {
    char key[64];
    snprintf(key, sizeof key, "encoder.layer.%d.attention.self.query.weight", i);
    prior_json_key(w, key);
    prior_json_begin_object(w);
    prior_json_key(w, "dtype");
    prior_json_write_string(w, "F32");
    prior_json_key(w, "shape");
    prior_json_begin_array(w);
    prior_json_write_int64(w, 768);
    prior_json_write_number(w, 0.1 * i);
    prior_json_end_array(w);
    prior_json_end_object(w);
  }
  prior_json_end_object(w);
  const char *text;
  size_t len;
  prior_json_writer_result(w, &text, &len);
  double t0 = now();
  int reps = 20;
  for (int r = 0; r < reps; r++) {
    prior_json_doc *doc = NULL;
    if (prior_json_parse(text, len, "bench", &doc) != PRIOR_OK) fprintf(stderr, "%s\n", prior_error_message());
    prior_json_free(doc);
  }
  double t1 = now();
  for (int r = 0; r < reps; r++) {
    prior_json_doc *doc = NULL;
    prior_json_parse(text, len, "bench", &doc);
    prior_json_writer *w2 = prior_json_writer_new();
    prior_json_write_value(w2, prior_json_root(doc));
    prior_json_writer_free(w2);
    prior_json_free(doc);
  }
  double t2 = now();
  printf("json: %.1f MB text, parse %.1f MB/s, parse+write %.1f MB/s\n", len / 1e6, len * reps / (t1 - t0) / 1e6,
         len * reps / (t2 - t1) / 1e6);
  prior_json_writer_free(w);
}

int main(int argc, char **argv) {
  bench_json();
  for (int i = 1; i < argc; i++) bench_file(argv[i]);
  return 0;
}
