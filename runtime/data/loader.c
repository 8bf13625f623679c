/* The loader's threads and queue: workers claim whole batches in order, at most `prefetch` ahead of the consumer,
 * and park each finished batch in slot (batch % prefetch) of a ring; the consumer takes them in order. */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/loader_internal.h"
#include "prior/rng.h"
#include "data/dataset_internal.h"

enum { PURPOSE_ORDER = 1, PURPOSE_SAMPLE = 2, PURPOSE_SENTENCES = 3 };
enum { SLOT_EMPTY = 0, SLOT_BUSY = 1, SLOT_READY = 2 };

typedef struct slot {
  int state;
  prior_batch *batch;
  prior_status status;
  prior_status code;
  char *message; /* the worker's error message (errors are per thread) */
} slot;

struct prior_loader {
  const prior_dataset *ds;
  prior_loader_options o;
  int64_t n, nbatches;
  int has_masks, has_boxes;

  pthread_mutex_t mu;
  pthread_cond_t work_cv, ready_cv;
  pthread_mutex_t log_mu;
  pthread_t *threads;
  int nthreads, stop;

  /* current epoch (guarded by mu) */
  int64_t epoch;
  int epoch_started, epoch_active;
  int64_t *order;
  int64_t next_claim, next_deliver, inflight;
  slot *slots;

  atomic_uchar *bad;
  atomic_llong failed;
  prior_loader_stats stats;
};

void prior_loader_options_default(prior_loader_options *o) {
  memset(o, 0, sizeof *o);
  o->batch_size = 32;
  o->workers = 2;
  o->prefetch = 4;
  o->shuffle = 1;
  o->drop_last = 1;
  o->shards = 1;
  o->shard = 0;
  o->height = o->width = 224;
  o->augment = 1;
  o->degrees = 5;
  o->scale_min = o->scale_max = 1;
  o->mean = 0.4755f;
  o->std = 0.3011f;
  o->max_length = 256;
  o->cut = PRIOR_REPORT_CUT_REFERENCE;
  o->shuffle_sentences = 1;
  o->masks = 1;
  o->max_fail_fraction = 0.01;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void prior_batch_free(prior_batch *b) {
  if (!b) return;
  prior_free_all(9, b->images, b->input_ids, b->attention_mask, b->sentence_index, b->labels, b->masks, b->boxes,
                 b->box_counts, b->sample_indices);
  free(b);
}

static void log_skip(prior_loader *l, int64_t idx, const char *path, const char *why) {
  char line[2048];
  /* Reader messages already name the file; add it when one does not. */
  if (path && !strstr(why, path))
    snprintf(line, sizeof line, "loader: skipping sample %s (%s): %s", prior_dataset_id(l->ds, idx), path, why);
  else
    snprintf(line, sizeof line, "loader: skipping sample %s: %s", prior_dataset_id(l->ds, idx), why);
  pthread_mutex_lock(&l->log_mu);
  if (l->o.log) l->o.log(l->o.log_ctx, line);
  else fprintf(stderr, "%s\n", line);
  pthread_mutex_unlock(&l->log_mu);
}

/* Tokenizes the rows' reports (sentences in drawn order) into the batch's text tensors. */
static prior_status add_text(prior_loader *l, int64_t epoch, const int64_t *rows, int64_t B, prior_batch *b) {
  const prior_loader_options *o = &l->o;
  int64_t total = 0;
  for (int64_t k = 0; k < B; k++) total += prior_dataset_sentence_count(l->ds, rows[k]);
  const char **sent = malloc(sizeof(char *) * (size_t)(total > 0 ? total : 1));
  int64_t *counts = malloc(sizeof(int64_t) * (size_t)B);
  int64_t *perm = NULL;
  prior_status st = sent && counts ? PRIOR_OK : prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory");
  int64_t at = 0;
  uint64_t sseed = prior_loader_stream(o->seed, epoch, PURPOSE_SENTENCES);
  for (int64_t k = 0; st == PRIOR_OK && k < B; k++) {
    int ns = prior_dataset_sentence_count(l->ds, rows[k]);
    counts[k] = ns;
    free(perm);
    perm = malloc(sizeof(int64_t) * (size_t)(ns > 0 ? ns : 1));
    if (!perm) {
      st = prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory");
      break;
    }
    for (int i = 0; i < ns; i++) perm[i] = i;
    if (o->shuffle_sentences) st = prior_ds_shuffle(perm, ns, sseed, (uint64_t)rows[k] << 20);
    for (int i = 0; i < ns; i++) sent[at++] = prior_dataset_sentence(l->ds, rows[k], (int)perm[i]);
  }
  free(perm);
  int64_t L = o->max_length, shape[2] = {B, L};
  if (st == PRIOR_OK) {
    b->input_ids = prior_tensor_empty(2, shape, PRIOR_I64, prior_cpu());
    b->attention_mask = prior_tensor_empty(2, shape, PRIOR_I64, prior_cpu());
    b->sentence_index = prior_tensor_empty(2, shape, PRIOR_I64, prior_cpu());
    if (!b->input_ids || !b->attention_mask || !b->sentence_index) st = prior_error_code();
  }
  if (st == PRIOR_OK)
    st = prior_tokenizer_encode_reports(o->tokenizer, sent, NULL, counts, B, L, (prior_report_cut)o->cut, 8,
                                        prior_tensor_data(b->input_ids), prior_tensor_data(b->attention_mask),
                                        prior_tensor_data(b->sentence_index), NULL);
  free(sent);
  free(counts);
  return st;
}

/* Builds one batch. With `order` (replace mode), row k starts at order[start + k] and a failing sample is replaced
 * by the next one in the order; otherwise rows are `indices` and a failure is an error. */
static prior_status build_batch(prior_loader *l, int64_t epoch, const int64_t *order, int64_t start,
                                const int64_t *indices, int64_t B, prior_batch **out) {
  const prior_loader_options *o = &l->o;
  const int64_t H = o->height, W = o->width, HW = H * W;
  *out = NULL;
  prior_batch *b = calloc(1, sizeof *b);
  int64_t *rows = malloc(sizeof(int64_t) * (size_t)B);
  prior_loader_boxes boxes = {0};
  int64_t *box_counts = calloc((size_t)B, sizeof(int64_t));
  if (!b || !rows || !box_counts) {
    free(b), free(rows), free(box_counts);
    return prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory for a batch of %lld", (long long)B);
  }
  b->size = B;
  b->epoch = epoch;
  prior_status st = PRIOR_OK;
  int64_t ishape[4] = {B, 1, H, W};
  b->images = prior_tensor_empty(4, ishape, PRIOR_F32, prior_cpu());
  if (l->has_masks) b->masks = prior_tensor_empty(4, ishape, PRIOR_F32, prior_cpu());
  if (!b->images || (l->has_masks && !b->masks)) st = prior_error_code();
  float *img = b->images ? prior_tensor_data(b->images) : NULL;
  float *msk = b->masks ? prior_tensor_data(b->masks) : NULL;
  uint64_t useed = prior_loader_stream(o->seed, epoch, PURPOSE_SAMPLE);

  for (int64_t k = 0; st == PRIOR_OK && k < B; k++) {
    for (int64_t t = 0;; t++) {
      int64_t idx;
      if (order) {
        if (t >= l->n) {
          st = prior_error_set(PRIOR_ERR_IO, "loader: every sample of dataset %s failed to load",
                               prior_dataset_kind(l->ds));
          break;
        }
        idx = order[(start + k + t) % l->n];
        if (atomic_load(&l->bad[idx])) continue;
      } else {
        idx = indices[k];
      }
      double u[PRIOR_LOADER_DRAWS];
      prior_philox_uniform_f64(useed, (uint64_t)idx * (PRIOR_LOADER_DRAWS / 4), u, PRIOR_LOADER_DRAWS);
      const char *path = NULL;
      int64_t nb = boxes.n;
      prior_status s = prior_loader_sample(l->ds, o, idx, u, img + k * HW, msk ? msk + k * HW : NULL,
                                           l->has_boxes ? &boxes : NULL, &path);
      if (s == PRIOR_OK) {
        rows[k] = idx;
        box_counts[k] = boxes.n - nb;
        break;
      }
      boxes.n = nb;
      if (!order || s == PRIOR_ERR_MEMORY) {
        st = s;
        break;
      }
      if (!atomic_exchange(&l->bad[idx], 1)) {
        atomic_fetch_add(&l->failed, 1);
        log_skip(l, idx, path, prior_error_message());
      }
    }
  }
  int64_t one[1] = {B};
  if (st == PRIOR_OK) {
    b->sample_indices = prior_tensor_from_data(rows, 1, one, PRIOR_I64, prior_cpu());
    if (!b->sample_indices) st = prior_error_code();
  }
  int C = prior_dataset_label_count(l->ds);
  if (st == PRIOR_OK && C > 0) {
    int64_t lshape[2] = {B, C};
    b->labels = prior_tensor_empty(2, lshape, PRIOR_F32, prior_cpu());
    if (!b->labels) st = prior_error_code();
    for (int64_t k = 0; st == PRIOR_OK && k < B; k++)
      st = prior_dataset_labels(l->ds, rows[k], (float *)prior_tensor_data(b->labels) + k * C);
  }
  if (st == PRIOR_OK && l->has_boxes) {
    int64_t bshape[2] = {boxes.n, 4};
    b->boxes = boxes.n ? prior_tensor_from_data(boxes.xywh, 2, bshape, PRIOR_F32, prior_cpu())
                       : prior_tensor_empty(2, bshape, PRIOR_F32, prior_cpu());
    b->box_counts = prior_tensor_from_data(box_counts, 1, one, PRIOR_I64, prior_cpu());
    if (!b->boxes || !b->box_counts) st = prior_error_code();
  }
  if (st == PRIOR_OK && o->tokenizer) st = add_text(l, epoch, rows, B, b);
  free(rows);
  free(box_counts);
  free(boxes.xywh);
  if (st != PRIOR_OK) {
    prior_batch_free(b);
    return st;
  }
  *out = b;
  return PRIOR_OK;
}

/* Where batch bi of this shard starts in the epoch's order, and how many rows it has. */
static int64_t batch_start(const prior_loader *l, int64_t bi) {
  return (bi * l->o.shards + l->o.shard) * l->o.batch_size;
}
static int64_t batch_rows(const prior_loader *l, int64_t bi) {
  int64_t left = l->n - batch_start(l, bi);
  return left < l->o.batch_size ? left : l->o.batch_size;
}

static void *worker_main(void *arg) {
  prior_loader *l = arg;
  /* Workers are the parallelism: OpenMP regions inside the transforms would oversubscribe the cores (each pthread
   * has its own OpenMP settings, so this does not affect the training thread). */
  omp_set_num_threads(1);
  pthread_mutex_lock(&l->mu);
  while (!l->stop) {
    if (l->epoch_active && l->next_claim < l->nbatches && l->next_claim < l->next_deliver + l->o.prefetch) {
      int64_t bi = l->next_claim++, epoch = l->epoch;
      int64_t ahead = l->next_claim - l->next_deliver;
      if (ahead > l->stats.max_ready) l->stats.max_ready = ahead;
      slot *s = &l->slots[bi % l->o.prefetch];
      s->state = SLOT_BUSY;
      l->inflight++;
      pthread_mutex_unlock(&l->mu);
      prior_batch *b = NULL;
      prior_status st = build_batch(l, epoch, l->order, batch_start(l, bi), NULL, batch_rows(l, bi), &b);
      char *msg = st != PRIOR_OK ? strdup(prior_error_message()) : NULL;
      if (b) b->index = bi;
      pthread_mutex_lock(&l->mu);
      s->batch = b;
      s->status = st;
      s->message = msg;
      s->state = SLOT_READY;
      l->inflight--;
      pthread_cond_broadcast(&l->ready_cv);
    } else {
      pthread_cond_wait(&l->work_cv, &l->mu);
    }
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

static void clear_slots(prior_loader *l) {
  for (int k = 0; k < l->o.prefetch; k++) {
    prior_batch_free(l->slots[k].batch);
    free(l->slots[k].message);
    memset(&l->slots[k], 0, sizeof(slot));
  }
}

prior_status prior_loader_create(const prior_dataset *ds, const prior_loader_options *opt, prior_loader **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_loader_create: out is NULL");
  *out = NULL;
  if (!ds) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_loader_create: dataset is NULL");
  prior_loader_options o;
  if (opt) o = *opt;
  else prior_loader_options_default(&o);
  if (o.batch_size <= 0 || o.workers < 0 || o.workers > 256 || o.prefetch <= 0 || o.height <= 0 || o.width <= 0 ||
      !(o.std > 0) || !(o.max_fail_fraction >= 0) || !(o.scale_min > 0 && o.scale_max >= o.scale_min) ||
      (o.tokenizer && o.max_length < 2))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "loader options: batch_size %d, workers %d (0..256), prefetch %d, size "
                           "%dx%d, std %g, scale [%g, %g], max_length %d, max_fail_fraction %g out of range",
                           o.batch_size, o.workers, o.prefetch, o.height, o.width, o.std, o.scale_min, o.scale_max,
                           o.max_length, o.max_fail_fraction);
  if (o.shards < 1 || o.shard < 0 || o.shard >= o.shards || (o.shards > 1 && !o.drop_last))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "loader options: shard %d of %d (several shards need drop_last, so that "
                           "every shard has the same number of full batches)", o.shard, o.shards);
  prior_loader *l = calloc(1, sizeof *l);
  if (!l) return prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory");
  l->ds = ds;
  l->o = o;
  l->n = prior_dataset_size(ds);
  int64_t global_batch = (int64_t)o.batch_size * o.shards;
  l->nbatches = o.drop_last ? l->n / global_batch : (l->n + o.batch_size - 1) / o.batch_size;
  l->has_masks = o.masks && prior_dataset_has_masks(ds);
  for (int64_t i = 0; i < l->n && !l->has_boxes; i++) l->has_boxes = prior_dataset_box_count(ds, i) > 0;
  if (!l->has_boxes) l->has_boxes = !strcmp(prior_dataset_kind(ds), "rsna");
  l->order = malloc(sizeof(int64_t) * (size_t)(l->n > 0 ? l->n : 1));
  l->bad = calloc((size_t)(l->n > 0 ? l->n : 1), sizeof(atomic_uchar));
  l->slots = calloc((size_t)o.prefetch, sizeof(slot));
  l->threads = calloc((size_t)(o.workers > 0 ? o.workers : 1), sizeof(pthread_t));
  if (!l->order || !l->bad || !l->slots || !l->threads) {
    int64_t n = l->n;
    free(l->order), free(l->bad), free(l->slots), free(l->threads), free(l);
    return prior_error_set(PRIOR_ERR_MEMORY, "loader: out of memory for %lld samples", (long long)n);
  }
  atomic_init(&l->failed, 0);
  pthread_mutex_init(&l->mu, NULL);
  pthread_mutex_init(&l->log_mu, NULL);
  pthread_cond_init(&l->work_cv, NULL);
  pthread_cond_init(&l->ready_cv, NULL);
  for (int t = 0; t < o.workers; t++) {
    if (pthread_create(&l->threads[t], NULL, worker_main, l) != 0) {
      prior_loader_free(l);
      return prior_error_set(PRIOR_ERR_INTERNAL, "loader: could not start worker thread %d", t);
    }
    l->nthreads++;
  }
  *out = l;
  return PRIOR_OK;
}

void prior_loader_free(prior_loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->work_cv);
  pthread_mutex_unlock(&l->mu);
  for (int t = 0; t < l->nthreads; t++) pthread_join(l->threads[t], NULL);
  clear_slots(l);
  pthread_mutex_destroy(&l->mu);
  pthread_mutex_destroy(&l->log_mu);
  pthread_cond_destroy(&l->work_cv);
  pthread_cond_destroy(&l->ready_cv);
  free(l->threads);
  free(l->slots);
  free(l->order);
  free(l->bad);
  free(l);
}

int64_t prior_loader_batches_per_epoch(const prior_loader *l) { return l ? l->nbatches : 0; }

prior_status prior_loader_start_epoch(prior_loader *l, int64_t epoch) {
  if (!l) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_loader_start_epoch: loader is NULL");
  if (epoch < 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "loader: epoch %lld is negative", (long long)epoch);
  pthread_mutex_lock(&l->mu);
  /* Let batches in progress finish before the order they read is replaced. */
  l->epoch_active = 0;
  while (l->inflight > 0) pthread_cond_wait(&l->ready_cv, &l->mu);
  clear_slots(l);
  for (int64_t i = 0; i < l->n; i++) l->order[i] = i;
  prior_status st = PRIOR_OK;
  if (l->o.shuffle) st = prior_ds_shuffle(l->order, l->n, prior_loader_stream(l->o.seed, epoch, PURPOSE_ORDER), 0);
  l->epoch = epoch;
  l->next_claim = l->next_deliver = 0;
  l->epoch_started = 1;
  l->epoch_active = st == PRIOR_OK;
  pthread_cond_broadcast(&l->work_cv);
  pthread_mutex_unlock(&l->mu);
  return st;
}

static prior_status check_failures(prior_loader *l) {
  long long failed = atomic_load(&l->failed);
  if ((double)failed > l->o.max_fail_fraction * (double)l->n)
    return prior_error_set(PRIOR_ERR_IO, "loader: %lld of %lld samples of dataset %s failed to load, more than the "
                           "allowed fraction %g (see the skipped files logged above)", failed, (long long)l->n,
                           prior_dataset_kind(l->ds), l->o.max_fail_fraction);
  return PRIOR_OK;
}

prior_status prior_loader_next(prior_loader *l, prior_batch **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_loader_next: out is NULL");
  *out = NULL;
  if (!l) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_loader_next: loader is NULL");
  if (!l->epoch_started) PRIOR_TRY(prior_loader_start_epoch(l, 0));
  if (l->nthreads == 0) {
    if (l->next_deliver >= l->nbatches) return PRIOR_OK;
    int64_t bi = l->next_deliver++;
    prior_batch *b = NULL;
    PRIOR_TRY(build_batch(l, l->epoch, l->order, batch_start(l, bi), NULL, batch_rows(l, bi), &b));
    b->index = bi;
    l->stats.batches++;
    l->stats.samples += b->size;
    prior_status st = check_failures(l);
    if (st != PRIOR_OK) {
      prior_batch_free(b);
      return st;
    }
    *out = b;
    return PRIOR_OK;
  }
  pthread_mutex_lock(&l->mu);
  if (l->next_deliver >= l->nbatches) {
    pthread_mutex_unlock(&l->mu);
    return PRIOR_OK;
  }
  slot *s = &l->slots[l->next_deliver % l->o.prefetch];
  if (s->state != SLOT_READY) {
    double t0 = now_s();
    while (s->state != SLOT_READY) pthread_cond_wait(&l->ready_cv, &l->mu);
    double dt = now_s() - t0;
    l->stats.waits++;
    l->stats.wait_seconds += dt;
    if (dt > l->stats.max_wait_seconds) l->stats.max_wait_seconds = dt;
  }
  prior_batch *b = s->batch;
  prior_status st = s->status;
  char *msg = s->message;
  memset(s, 0, sizeof *s);
  l->next_deliver++;
  if (b) {
    l->stats.batches++;
    l->stats.samples += b->size;
  }
  pthread_cond_broadcast(&l->work_cv);
  pthread_mutex_unlock(&l->mu);
  if (st != PRIOR_OK) {
    prior_error_set(st, "%s", msg ? msg : "loader: a batch failed");
    free(msg);
    return st;
  }
  free(msg);
  st = check_failures(l);
  if (st != PRIOR_OK) {
    prior_batch_free(b);
    return st;
  }
  *out = b;
  return PRIOR_OK;
}

prior_status prior_loader_make_batch(prior_loader *l, int64_t epoch, const int64_t *indices, int64_t n,
                                     prior_batch **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_loader_make_batch: out is NULL");
  *out = NULL;
  if (!l || !indices || n <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_loader_make_batch: need a loader and n > 0 indices");
  for (int64_t k = 0; k < n; k++)
    if (indices[k] < 0 || indices[k] >= l->n)
      return prior_error_set(PRIOR_ERR_INDEX, "prior_loader_make_batch: index %lld out of range [0, %lld)",
                             (long long)indices[k], (long long)l->n);
  PRIOR_TRY(build_batch(l, epoch, NULL, 0, indices, n, out));
  (*out)->index = -1;
  return PRIOR_OK;
}

void prior_loader_stats_get(const prior_loader *l, prior_loader_stats *out) {
  memset(out, 0, sizeof *out);
  if (!l) return;
  pthread_mutex_lock((pthread_mutex_t *)&l->mu);
  *out = l->stats;
  pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
  out->failed = atomic_load((atomic_llong *)&l->failed);
}

char *prior_loader_stats_str(const prior_loader_stats *s, char *buf, int cap) {
  if (!buf || cap <= 0) return buf;
  if (!s) {
    buf[0] = 0;
    return buf;
  }
  snprintf(buf, (size_t)cap, "loader: %lld samples in %lld batches, %lld samples skipped (unreadable files), consumer "
           "waited %.2f s in %lld batches (longest %.2f s)", (long long)s->samples, (long long)s->batches,
           (long long)s->failed, s->wait_seconds, (long long)s->waits, s->max_wait_seconds);
  return buf;
}
