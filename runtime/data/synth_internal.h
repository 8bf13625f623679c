/* Private helpers shared by the synthetic data generator: a small seeded RNG and file writing. */
#ifndef PRIOR_DATA_SYNTH_INTERNAL_H
#define PRIOR_DATA_SYNTH_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "prior/synth.h"

/* splitmix64: one 64-bit state, good enough statistics for drawing, and trivially seeded from (seed, key),
 * which is what makes every image independent of thread count and order. */
typedef struct synth_rng {
  uint64_t s;
} synth_rng;

static inline uint64_t synth_mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline synth_rng synth_rng_make(uint64_t seed, uint64_t key) {
  synth_rng r = {synth_mix64(seed ^ synth_mix64(key + 0x632be59bd9b4e019ULL))};
  return r;
}

static inline uint64_t synth_next(synth_rng *r) {
  r->s += 0x9e3779b97f4a7c15ULL;
  uint64_t z = r->s;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in [0,1). */
static inline float synth_unif(synth_rng *r) { return (float)(synth_next(r) >> 40) * (1.0f / 16777216.0f); }
static inline float synth_range(synth_rng *r, float a, float b) { return a + (b - a) * synth_unif(r); }
static inline int synth_int(synth_rng *r, int n) { return (int)((synth_next(r) >> 33) % (uint64_t)n); }
static inline int synth_bern(synth_rng *r, float p) { return synth_unif(r) < p; }
/* Approximately normal (sum of four uniforms, variance matched). */
static inline float synth_normal(synth_rng *r) {
  uint64_t z = synth_next(r);
  float s = (float)(z & 0xffff) + (float)((z >> 16) & 0xffff) + (float)((z >> 32) & 0xffff) + (float)(z >> 48);
  return (s * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

/* Stream ids: the high bits of a key say which tree an image belongs to. */
#define SYNTH_STREAM(tree) ((uint64_t)(tree) << 48)
enum { SYNTH_TREE_DEFAULT = 0, SYNTH_TREE_MIMIC = 1, SYNTH_TREE_CHEXPERT = 2, SYNTH_TREE_RSNA = 3, SYNTH_TREE_SIIM = 4 };

/* Normalised frame -> pixel coordinates of a truth's image (pixel centres at integer + 0.5). */
void synth_to_pixel(const prior_synth_truth *t, float u, float v, float *x, float *y);

/* Files. All return PRIOR_OK or an error naming the path. */
prior_status synth_mkdirs(const char *path);       /* mkdir -p */
prior_status synth_mkdirs_parent(const char *path); /* mkdir -p of the folder holding path */
/* Writes data to path.tmp.N then renames it onto path. */
prior_status synth_write_atomic(const char *path, const void *data, size_t n);
/* Encodes an 8-bit grayscale image as JPEG and writes it atomically. */
prior_status synth_write_jpeg(const char *path, const uint8_t *pixels, int width, int height, int quality);

typedef struct synth_dicom_meta {
  const char *patient_id;
  const char *study_uid, *series_uid, *sop_uid;
  const char *view_position; /* "PA", "AP" or "" */
  int female, age;
} synth_dicom_meta;
/* An uncompressed 8-bit MONOCHROME2 DICOM file (explicit VR little endian). */
prior_status synth_write_dicom(const char *path, const uint8_t *pixels, int width, int height,
                               const synth_dicom_meta *meta);

/* [0,1] floats -> bytes. */
void synth_to_u8(const float *image, size_t n, uint8_t *out);

/* A growable text buffer for CSV files. */
typedef struct synth_text {
  char *data;
  size_t len, cap;
  int failed;
} synth_text;
void synth_text_printf(synth_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
prior_status synth_text_write(synth_text *t, const char *path); /* writes atomically and frees */
void synth_text_free(synth_text *t);

/* Renders, encodes and writes a list of images in parallel; deterministic per job. */
typedef struct synth_image_job {
  prior_synth_truth truth;
  char path[512];
  int dicom;             /* 0 = JPEG, 1 = DICOM */
  synth_dicom_meta meta; /* strings point into the job's own storage below */
  char patient_id[80], study_uid[80], series_uid[80], sop_uid[80];
  uint8_t *mask; /* when not NULL, receives the pneumothorax mask */
  int tag;       /* the caller's own index */
} synth_image_job;
prior_status synth_write_images(synth_image_job *jobs, size_t n, int jpeg_quality);

/* Jobs gathered in chunks (bounded memory), written in parallel, then handed in order to on_done. */
typedef struct synth_queue {
  synth_image_job *jobs;
  uint8_t *masks;
  size_t n, cap, px;
  int quality;
  prior_status (*on_done)(synth_image_job *job, void *ud);
  void *ud;
} synth_queue;
prior_status synth_queue_init(synth_queue *q, int image_size, int quality, int masks,
                              prior_status (*on_done)(synth_image_job *job, void *ud), void *ud);
synth_image_job *synth_queue_next(synth_queue *q);   /* fill it, then commit */
prior_status synth_queue_commit(synth_queue *q);      /* flushes when full */
prior_status synth_queue_flush(synth_queue *q);
void synth_queue_free(synth_queue *q);

/* Checks a config for the tree writers. */
prior_status synth_check_config(const prior_synth_config *cfg, const char *root);
/* "xxxxxxxx-xxxxxxxx-..." style ids from a 64-bit key. */
void synth_hex_id(char *buf, size_t cap, uint64_t seed, uint64_t key, int uuid);

/* Calls fn on every template and word the report generator can write (for the vocabulary). */
void synth_report_visit_strings(void (*fn)(const char *s, void *ud), void *ud);

/* A DICOM UID made from a seed: "1.2.276.0.7230010.3.1.N.M...". */
void synth_uid(char *buf, size_t cap, int level, uint64_t a, uint64_t b);

#endif
