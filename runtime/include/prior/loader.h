/* The loader: worker threads decode and transform samples of a dataset (prior/dataset.h) ahead of the training loop
 * into a bounded queue of ready batches.
 *
 * Determinism: an epoch's order is a seeded shuffle of (seed, epoch); every random choice for a sample (which of a
 * study's frontal images, affine angle/shift/scale, flip, sentence order) is drawn from (seed, epoch, sample index).
 * Each batch is built by one worker from those draws alone, so the same seed gives the same batches whatever the
 * number of workers.
 *
 * Bad files: a sample whose image cannot be read or decoded (missing, truncated, not a JPEG, an unsupported DICOM
 * transfer syntax, a mask past the image) is skipped with one log line naming the file and the reason, counted,
 * and replaced by the next sample of the epoch's order (deterministically). When more than max_fail_fraction of
 * the dataset has failed, prior_loader_next returns an error. prior_loader_stats gives the count for the end-of-run
 * report.
 *
 * Per sample: image decoded (JPEG with scaled decoding to at least the output size; DICOM normalised to [0,1] over
 * its representable range), resized (antialiased bilinear) to height x width, augmented (random affine, optional
 * flip), z-scored. Masks follow the same geometry and are thresholded back to 0/1; boxes follow the affine (the
 * bounding box of the moved corners, clipped to the image) and the flip. */
#ifndef PRIOR_LOADER_H
#define PRIOR_LOADER_H

#include <stdint.h>

#include "prior/dataset.h"
#include "prior/error.h"
#include "prior/tensor.h"
#include "prior/tokenizer.h"

typedef struct prior_loader prior_loader;

/* Called from worker threads (one at a time) with one line, no newline; NULL logs to stderr. */
typedef void (*prior_loader_log_fn)(void *ctx, const char *line);

typedef struct prior_loader_options {
  int batch_size;           /* 32 */
  int workers;              /* 2; 0 builds batches in the calling thread */
  int prefetch;             /* 4: ready (or in-progress) batches held ahead of the consumer */
  int shuffle;              /* 1 */
  int drop_last;            /* 1: an incomplete last batch is not produced */
  int shards, shard;        /* 1, 0: with several processes, each epoch's global batch b is rows
                             * [b * batch_size * shards, (b + 1) * batch_size * shards) of the seeded order, and shard s
                             * takes its s-th slice of batch_size rows (so the global batch equals a one-process batch of
                             * batch_size * shards); needs drop_last */
  uint64_t seed;            /* 0 */
  int height, width;        /* 224 x 224 */
  int augment;              /* 1: random affine as below */
  float degrees;            /* 5: angle ~ U(-degrees, degrees) */
  float translate;          /* 0: shift ~ U(-translate, translate) * size, rounded, per axis */
  float scale_min, scale_max; /* 1, 1: scale ~ U(min, max) */
  int hflip;                /* 0: flip with probability 1/2 (contradicts report laterality, hence off) */
  float mean, std;          /* 0.4755, 0.3011 (MIMIC-CXR) */
  const prior_tokenizer *tokenizer; /* NULL: no text tensors; the loader does not own it */
  int max_length;           /* 256 */
  int cut;                  /* prior_report_cut, PRIOR_REPORT_CUT_REFERENCE */
  int shuffle_sentences;    /* 1: sentence order shuffled per draw, as the reference does */
  int masks;                /* 1: mask tensors when the dataset has masks */
  double max_fail_fraction; /* 0.01 */
  prior_loader_log_fn log;  /* NULL: stderr */
  void *log_ctx;
} prior_loader_options;

/* A collated batch. Tensors are CPU tensors owned by the batch; absent parts are NULL. */
typedef struct prior_batch {
  int64_t size;                  /* B */
  int64_t epoch, index;          /* which batch of which epoch */
  prior_tensor *images;          /* [B, 1, H, W] f32 */
  prior_tensor *input_ids;       /* [B, L] i64 */
  prior_tensor *attention_mask;  /* [B, L] i64 */
  prior_tensor *sentence_index;  /* [B, L] i64: 1-based sentence of each token, -1 at [CLS], [SEP], padding */
  prior_tensor *labels;          /* [B, C] f32 */
  prior_tensor *masks;           /* [B, 1, H, W] f32 in {0, 1} */
  prior_tensor *boxes;           /* [N, 4] f32: x, y, w, h in output pixels, samples' boxes one after another */
  prior_tensor *box_counts;      /* [B] i64: boxes of each sample */
  prior_tensor *sample_indices;  /* [B] i64: dataset index of each row (after replacements) */
} prior_batch;

typedef struct prior_loader_stats {
  int64_t batches;          /* delivered */
  int64_t samples;          /* delivered */
  int64_t failed;           /* distinct samples that could not be loaded */
  int64_t waits;            /* prior_loader_next calls that found their batch not ready */
  double wait_seconds;      /* total time the consumer waited */
  double max_wait_seconds;
  int64_t max_ready;        /* most batches held ahead of the consumer at once (<= prefetch) */
} prior_loader_stats;

void prior_loader_options_default(prior_loader_options *opt);
/* The dataset must outlive the loader. */
prior_status prior_loader_create(const prior_dataset *ds, const prior_loader_options *opt, prior_loader **out);
/* Stops the workers and frees everything the loader holds (not batches already handed out). */
void prior_loader_free(prior_loader *l);
int64_t prior_loader_batches_per_epoch(const prior_loader *l);

/* Starts (or restarts) epoch `epoch`: any batches of the previous epoch not yet taken are dropped. */
prior_status prior_loader_start_epoch(prior_loader *l, int64_t epoch);
/* The next batch of the current epoch, or *out = NULL at its end. Starts epoch 0 when none was started. */
prior_status prior_loader_next(prior_loader *l, prior_batch **out);
void prior_batch_free(prior_batch *b);

/* One batch built in the calling thread from explicit dataset indices, with the randomness of `epoch` (for looking
 * at samples, and for tests). A sample that fails is an error here, not replaced. */
prior_status prior_loader_make_batch(prior_loader *l, int64_t epoch, const int64_t *indices, int64_t n,
                                     prior_batch **out);

void prior_loader_stats_get(const prior_loader *l, prior_loader_stats *out);
/* The end-of-run line: "loader: 40 samples in 10 batches, 0 samples skipped (unreadable files), consumer waited
 * 0.12 s in 3 batches (longest 0.05 s)"; returns buf. */
char *prior_loader_stats_str(const prior_loader_stats *s, char *buf, int cap);

#endif
