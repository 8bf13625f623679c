/* The loader: collation, determinism across worker counts, drop_last, epoch reshuffle, sentence shuffling, bad
 * files (truncated JPEG, a PNG named .jpg, a missing file, an unsupported DICOM transfer syntax, an RLE past the
 * image) skipped, logged, counted and replaced, the failure threshold, the queue bound, masks and boxes. */
#include "ds_util.h"

#include <pthread.h>

#include "check.h"
#include "data/dataset_internal.h"
#include "prior/loader.h"
#include "prior/tensor.h"
#include "prior/tokenizer.h"

static char root[1024];
static prior_tokenizer *tok;

typedef struct {
  int lines;
  char text[4096];
  pthread_mutex_t mu;
} log_sink;

static void sink_fn(void *ctx, const char *line) {
  log_sink *s = ctx;
  pthread_mutex_lock(&s->mu);
  s->lines++;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof s->text - n, "%s\n", line);
  pthread_mutex_unlock(&s->mu);
}

static const char *WORDS[] = {"the", "lungs", "are", "clear", "no", "effusion", "heart", "is", "normal", "size",
                              "mild", "edema", "left", "right", "pleural", "."};

static void make_vocab(void) {
  char p[4096];
  FILE *f = fopen(ds_path(p, root, "vocab.txt"), "w");
  fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
  for (size_t k = 0; k < sizeof WORDS / sizeof WORDS[0]; k++) fprintf(f, "%s\n", WORDS[k]);
  fclose(f);
  tok = prior_tokenizer_load(p, NULL);
  if (!tok) {
    fprintf(stderr, "%s\n", prior_error_message());
    exit(1);
  }
}

/* n JPEG samples with 4 or 5 distinct sentences and 2 labels; sample 3 has two images. `broken` adds a truncated
 * JPEG (sample 5), a PNG named .jpg (sample 9) and a missing file (sample 14). */
static prior_dataset *jpeg_dataset(int n, int broken) {
  static const char *const names[2] = {"Edema", "Pleural Effusion"};
  prior_dataset *ds = prior_ds_new("test", PRIOR_IMAGE_JPEG, 2, names);
  char id[32], rel[64], p[4096];
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "s%d", i);
    prior_ds_sample *s = prior_ds_push(ds, id);
    for (int k = 0; k < (i == 3 ? 2 : 1); k++) {
      snprintf(rel, sizeof rel, "img/%d_%d.jpg", i, k);
      ds_write_jpeg(ds_path(p, root, rel), 40 + i % 3, 30 + i % 5, i * 2 + k);
      prior_ds_add_string(&s->images, &s->nimages, p);
    }
    prior_ds_add_string(&s->sentences, &s->nsentences, "The lungs are clear.");
    prior_ds_add_string(&s->sentences, &s->nsentences, i % 2 ? "No effusion." : "Mild edema.");
    prior_ds_add_string(&s->sentences, &s->nsentences, "The heart is normal size.");
    prior_ds_add_string(&s->sentences, &s->nsentences, "Left pleural effusion is clear no.");
    if (i % 3 == 0) prior_ds_add_string(&s->sentences, &s->nsentences, "Right.");
    s->labels[0] = (float)(i % 2);
    s->labels[1] = (float)(i % 3 == 0);
  }
  if (broken) {
    /* Truncated: the first half of a valid JPEG. */
    const char *p5 = ds->samples[5].images[0];
    FILE *f = fopen(p5, "rb");
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(p5, "wb");
    fwrite(buf, 1, len / 2, f);
    fclose(f);
    /* A PNG signature and header under a .jpg name. */
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                        0, 0, 0, 8, 0, 0, 0, 8, 8, 0, 0, 0, 0, 0x4b, 0x6d, 0x29, 0xde};
    f = fopen(ds->samples[9].images[0], "wb");
    fwrite(png, 1, sizeof png, f);
    fclose(f);
    remove(ds->samples[14].images[0]);
  }
  return ds;
}

static void base_options(prior_loader_options *o, int workers) {
  prior_loader_options_default(o);
  o->batch_size = 4;
  o->workers = workers;
  o->prefetch = 2;
  o->height = o->width = 16;
  o->seed = 1234;
  o->tokenizer = tok;
  o->max_length = 24;
  o->translate = 0.1f;
  o->scale_min = 0.9f;
  o->scale_max = 1.1f;
  o->hflip = 1;
}

static int same_tensor(const prior_tensor *a, const prior_tensor *b) {
  if (!a || !b) return a == b;
  return prior_tensor_same_shape(a, b) && a->dtype == b->dtype &&
         memcmp(prior_tensor_data(a), prior_tensor_data(b), prior_tensor_nbytes(a)) == 0;
}

static int same_batch(const prior_batch *a, const prior_batch *b) {
  return a->size == b->size && same_tensor(a->images, b->images) && same_tensor(a->input_ids, b->input_ids) &&
         same_tensor(a->attention_mask, b->attention_mask) && same_tensor(a->sentence_index, b->sentence_index) &&
         same_tensor(a->labels, b->labels) && same_tensor(a->sample_indices, b->sample_indices) &&
         same_tensor(a->masks, b->masks) && same_tensor(a->boxes, b->boxes) &&
         same_tensor(a->box_counts, b->box_counts);
}

/* All batches of epochs 0 and 1. */
static int run_epochs(const prior_dataset *ds, const prior_loader_options *o, prior_batch **out, int cap,
                      prior_loader_stats *stats) {
  prior_loader *l = NULL;
  if (prior_loader_create(ds, o, &l) != PRIOR_OK) return -1;
  int n = 0;
  for (int e = 0; e < 2; e++) {
    if (prior_loader_start_epoch(l, e) != PRIOR_OK) break;
    prior_batch *b;
    while (prior_loader_next(l, &b) == PRIOR_OK && b && n < cap) out[n++] = b;
  }
  if (stats) prior_loader_stats_get(l, stats);
  prior_loader_free(l);
  return n;
}

static void test_collation(void) {
  prior_dataset *ds = jpeg_dataset(8, 0);
  prior_loader_options o;
  base_options(&o, 0);
  o.augment = 0;
  o.hflip = 0;
  o.shuffle_sentences = 0;
  prior_loader *l = NULL;
  CHECK_OK(prior_loader_create(ds, &o, &l));
  int64_t idx[3] = {0, 3, 6};
  prior_batch *b = NULL;
  CHECK_OK(prior_loader_make_batch(l, 0, idx, 3, &b));
  if (b) {
    CHECK(b->size == 3);
    CHECK(b->images->ndim == 4 && b->images->shape[0] == 3 && b->images->shape[1] == 1 &&
          b->images->shape[2] == 16 && b->images->shape[3] == 16 && b->images->dtype == PRIOR_F32);
    CHECK(b->input_ids->dtype == PRIOR_I64 && b->input_ids->shape[1] == 24);
    CHECK(b->sentence_index->dtype == PRIOR_I64 && b->attention_mask->shape[0] == 3);
    CHECK(b->labels->shape[0] == 3 && b->labels->shape[1] == 2);
    CHECK(b->masks == NULL && b->boxes == NULL);
    const int64_t *ids = prior_tensor_data(b->input_ids), *si = prior_tensor_data(b->sentence_index);
    const int64_t *am = prior_tensor_data(b->attention_mask);
    /* Row 0: [CLS] the lungs are clear . mild edema . ... with sentence numbers 1, 1, ..., 2, ... in order. */
    CHECK(ids[0] == 2 && si[0] == -1 && am[0] == 1);
    CHECK(ids[1] == prior_tokenizer_token_id(tok, "the") && si[1] == 1);
    CHECK(ids[6] == prior_tokenizer_token_id(tok, "mild") && si[6] == 2);
    int mono = 1;
    for (int t = 2; t < 24 && si[t] != -1; t++) mono &= si[t] >= si[t - 1];
    CHECK(mono);
    const float *lab = prior_tensor_data(b->labels);
    CHECK(lab[0] == 0 && lab[1] == 1 && lab[2] == 1 && lab[3] == 1);
    const int64_t *rows = prior_tensor_data(b->sample_indices);
    CHECK(rows[0] == 0 && rows[1] == 3 && rows[2] == 6);
    /* Pixels: z-scored with the MIMIC statistics: mean over the image lands in a plausible range. */
    const float *px = prior_tensor_data(b->images);
    double mn = 1e9, mx = -1e9;
    for (int i = 0; i < 3 * 256; i++) mn = px[i] < mn ? px[i] : mn, mx = px[i] > mx ? px[i] : mx;
    CHECK(mn >= (0 - 0.4755) / 0.3011 - 1e-3 && mx <= (1 - 0.4755) / 0.3011 + 1e-3 && mx > mn);
    prior_batch_free(b);
  }
  idx[1] = 8;
  CHECK_ERR(prior_loader_make_batch(l, 0, idx, 3, &b), PRIOR_ERR_INDEX, "index 8");
  prior_loader_free(l);

  /* Sentence order is drawn per epoch; the tokens stay the same. */
  o.shuffle_sentences = 1;
  CHECK_OK(prior_loader_create(ds, &o, &l));
  /* Sample 3 has two frontal images: each draw picks one, and over ten epochs both come up. */
  float first[256];
  int seen_other = 0;
  for (int e = 0; e < 10; e++) {
    int64_t three = 3;
    CHECK_OK(prior_loader_make_batch(l, e, &three, 1, &b));
    if (!b) break;
    const float *px = prior_tensor_data(b->images);
    if (e == 0) memcpy(first, px, sizeof first);
    else if (memcmp(first, px, sizeof first) != 0) seen_other = 1;
    prior_batch_free(b);
  }
  CHECK(seen_other);
  int differs = 0, same_tokens = 1;
  prior_batch *e0 = NULL, *e1 = NULL;
  int64_t all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  CHECK_OK(prior_loader_make_batch(l, 0, all, 8, &e0));
  CHECK_OK(prior_loader_make_batch(l, 1, all, 8, &e1));
  if (e0 && e1) {
    const int64_t *a = prior_tensor_data(e0->input_ids), *c = prior_tensor_data(e1->input_ids);
    for (int r = 0; r < 8; r++) {
      int ha[32] = {0}, hc[32] = {0};
      for (int t = 0; t < 24; t++) ha[a[r * 24 + t] & 31]++, hc[c[r * 24 + t] & 31]++;
      same_tokens &= !memcmp(ha, hc, sizeof ha);
      differs |= memcmp(a + r * 24, c + r * 24, 24 * sizeof(int64_t)) != 0;
    }
    CHECK(same_tokens && differs);
  }
  prior_batch_free(e0);
  prior_batch_free(e1);
  prior_loader_free(l);
  prior_dataset_free(ds);
}

static void test_determinism_and_epochs(void) {
  prior_dataset *ds = jpeg_dataset(23, 0);
  prior_loader_options o;
  prior_batch *r0[16], *r1[16], *r3[16];
  base_options(&o, 0);
  int n0 = run_epochs(ds, &o, r0, 16, NULL);
  o.workers = 1;
  int n1 = run_epochs(ds, &o, r1, 16, NULL);
  o.workers = 3;
  prior_loader_stats st;
  int n3 = run_epochs(ds, &o, r3, 16, &st);
  CHECK(n0 == 10 && n1 == 10 && n3 == 10); /* 23 / 4 = 5 full batches per epoch, drop_last */
  int same = n0 == n1 && n0 == n3;
  for (int i = 0; same && i < n0; i++) same &= same_batch(r0[i], r1[i]) && same_batch(r0[i], r3[i]);
  CHECK(same);
  CHECK(st.batches == 10 && st.samples == 40 && st.failed == 0);
  char line[256];
  CHECK(strstr(prior_loader_stats_str(&st, line, sizeof line), "0 samples skipped") != NULL);
  CHECK(st.max_ready >= 1 && st.max_ready <= 2); /* prefetch 2 */
  CHECK(st.wait_seconds >= 0 && st.max_wait_seconds <= st.wait_seconds + 1e-12);
  /* Epochs are reshuffled: the order of epoch 1 differs from epoch 0, and each epoch has no repeats. */
  int64_t seen0[23] = {0}, order0[20], order1[20];
  for (int b = 0; b < 5; b++)
    for (int k = 0; k < 4; k++) {
      order0[b * 4 + k] = ((const int64_t *)prior_tensor_data(r0[b]->sample_indices))[k];
      order1[b * 4 + k] = ((const int64_t *)prior_tensor_data(r0[5 + b]->sample_indices))[k];
      seen0[order0[b * 4 + k]]++;
    }
  int once = 1;
  for (int i = 0; i < 23; i++) once &= seen0[i] <= 1;
  CHECK(once);
  CHECK(memcmp(order0, order1, sizeof order0) != 0);
  /* Another seed gives another order. */
  o.seed = 99;
  prior_batch *rs[16];
  int ns = run_epochs(ds, &o, rs, 16, NULL);
  CHECK(ns == 10 && !same_batch(rs[0], r0[0]));
  for (int i = 0; i < ns; i++) prior_batch_free(rs[i]);
  for (int i = 0; i < n0; i++) prior_batch_free(r0[i]);
  for (int i = 0; i < n1; i++) prior_batch_free(r1[i]);
  for (int i = 0; i < n3; i++) prior_batch_free(r3[i]);

  /* drop_last off: a last batch of 3; without shuffling, the order is the dataset's. */
  base_options(&o, 2);
  o.drop_last = 0;
  o.shuffle = 0;
  prior_loader *l = NULL;
  CHECK_OK(prior_loader_create(ds, &o, &l));
  CHECK(prior_loader_batches_per_epoch(l) == 6);
  prior_batch *b;
  int nb = 0, last = 0, in_order = 1;
  int64_t expect = 0;
  while (prior_loader_next(l, &b) == PRIOR_OK && b) {
    const int64_t *rows = prior_tensor_data(b->sample_indices);
    for (int k = 0; k < b->size; k++) in_order &= rows[k] == expect++;
    nb++;
    last = (int)b->size;
    prior_batch_free(b);
  }
  CHECK(nb == 6 && last == 3 && in_order);
  /* After the end, next keeps saying "no more" until a new epoch starts. */
  CHECK_OK(prior_loader_next(l, &b));
  CHECK(b == NULL);
  /* Restarting an epoch in the middle drops what was prefetched. */
  CHECK_OK(prior_loader_start_epoch(l, 1));
  CHECK_OK(prior_loader_next(l, &b));
  CHECK(b && b->index == 0 && b->epoch == 1);
  prior_batch_free(b);
  CHECK_OK(prior_loader_start_epoch(l, 2));
  CHECK_OK(prior_loader_next(l, &b));
  CHECK(b && b->index == 0 && b->epoch == 2);
  prior_batch_free(b);
  prior_loader_free(l);
  prior_dataset_free(ds);
}

static void test_bad_files(void) {
  prior_dataset *ds = jpeg_dataset(23, 1);
  prior_loader_options o;
  prior_batch *r1[16], *r3[16];
  log_sink sink = {0};
  pthread_mutex_init(&sink.mu, NULL);
  base_options(&o, 1);
  o.max_fail_fraction = 0.5;
  o.log = sink_fn;
  o.log_ctx = &sink;
  o.drop_last = 0;
  prior_loader_stats st;
  int n1 = run_epochs(ds, &o, r1, 16, &st);
  CHECK(n1 == 12);
  CHECK(st.failed == 3);
  CHECK_MSG(sink.lines == 3, "%d lines:\n%s", sink.lines, sink.text);
  CHECK(strstr(sink.text, "img/5_0.jpg") && strstr(sink.text, "img/9_0.jpg") && strstr(sink.text, "img/14_0.jpg"));
  CHECK(strstr(sink.text, "loader: skipping") != NULL);
  /* Batches stay full: bad samples are replaced by the next ones, the same way with any worker count. */
  int full = 1, clean = 1;
  for (int i = 0; i < n1; i++) {
    full &= r1[i]->size == (i % 6 == 5 ? 3 : 4);
    const int64_t *rows = prior_tensor_data(r1[i]->sample_indices);
    for (int k = 0; k < r1[i]->size; k++) clean &= rows[k] != 5 && rows[k] != 9 && rows[k] != 14;
  }
  CHECK(full && clean);
  o.workers = 3;
  o.log = NULL; /* to stderr: three lines */
  int n3 = run_epochs(ds, &o, r3, 16, &st);
  int same = n1 == n3;
  for (int i = 0; same && i < n1; i++) same &= same_batch(r1[i], r3[i]);
  CHECK(same);
  for (int i = 0; i < n1; i++) prior_batch_free(r1[i]);
  for (int i = 0; i < n3; i++) prior_batch_free(r3[i]);

  /* Threshold: more than 5% of 23 (the second failure) is an error naming the count. */
  o.max_fail_fraction = 0.05;
  o.log = sink_fn;
  for (int w = 0; w <= 2; w += 2) {
    o.workers = w;
    prior_loader *l = NULL;
    CHECK_OK(prior_loader_create(ds, &o, &l));
    prior_batch *b = NULL;
    prior_status s = PRIOR_OK;
    int got = 0;
    while ((s = prior_loader_next(l, &b)) == PRIOR_OK && b) {
      got++;
      prior_batch_free(b);
    }
    CHECK_MSG(s == PRIOR_ERR_IO && strstr(prior_error_message(), "2 of 23 samples"), "%s",
              prior_error_message());
    CHECK(got < 6);
    prior_loader_free(l);
  }
  /* make_batch does not replace: the error names the file. */
  prior_loader *l = NULL;
  CHECK_OK(prior_loader_create(ds, &o, &l));
  int64_t idx[2] = {4, 5};
  prior_batch *b = NULL;
  CHECK_ERR(prior_loader_make_batch(l, 0, idx, 2, &b), PRIOR_ERR_FORMAT, "img/5_0.jpg");
  prior_loader_free(l);
  prior_dataset_free(ds);
  pthread_mutex_destroy(&sink.mu);
}

/* DICOM samples with masks and boxes; one DICOM with an unsupported transfer syntax, one RLE past the image. */
static void test_dicom_masks_boxes(void) {
  static const char *const names[1] = {"Pneumothorax"};
  prior_dataset *ds = prior_ds_new("siim", PRIOR_IMAGE_DICOM, 1, names);
  ds->has_masks = 1;
  char p[4096], rel[64];
  for (int i = 0; i < 6; i++) {
    char id[16];
    snprintf(id, sizeof id, "d%d", i);
    prior_ds_sample *s = prior_ds_push(ds, id);
    snprintf(rel, sizeof rel, "dcm/%d.dcm", i);
    ds_write_dicom(ds_path(p, root, rel), 16, 16, i);
    prior_ds_add_string(&s->images, &s->nimages, p);
    /* Column 2, rows 4..11 of a 16x16 image; sample 4 runs past the image. */
    prior_ds_add_string(&s->rles, &s->nrles, i == 4 ? "250 10" : "36 8");
    float box[4] = {0.25f, 0.5f, 0.25f, 0.125f};
    prior_ds_add_box(s, box);
    s->labels[0] = 1;
  }
  /* Patch sample 2's transfer syntax to RLE Lossless (same length), which the reader does not decode. */
  FILE *f = fopen(ds->samples[2].images[0], "r+b");
  char buf[4096];
  size_t len = fread(buf, 1, sizeof buf, f);
  char *at = NULL;
  for (size_t i = 0; i + 19 < len && !at; i++)
    if (!memcmp(buf + i, "1.2.840.10008.1.2.1", 19)) at = buf + i;
  CHECK(at != NULL);
  if (at) {
    fseek(f, (long)(at - buf), SEEK_SET);
    fwrite("1.2.840.10008.1.2.5", 1, 19, f);
  }
  fclose(f);

  log_sink sink = {0};
  pthread_mutex_init(&sink.mu, NULL);
  prior_loader_options o;
  base_options(&o, 2);
  o.tokenizer = NULL;
  o.augment = 0;
  o.hflip = 0;
  o.shuffle = 0;
  o.batch_size = 3;
  o.max_fail_fraction = 0.5;
  o.log = sink_fn;
  o.log_ctx = &sink;
  prior_loader *l = NULL;
  CHECK_OK(prior_loader_create(ds, &o, &l));
  prior_batch *b = NULL;
  int nb = 0;
  while (prior_loader_next(l, &b) == PRIOR_OK && b) {
    nb++;
    CHECK(b->input_ids == NULL && b->masks && b->boxes && b->box_counts);
    const int64_t *rows = prior_tensor_data(b->sample_indices), *bc = prior_tensor_data(b->box_counts);
    const float *m = prior_tensor_data(b->masks), *bx = prior_tensor_data(b->boxes);
    CHECK(b->boxes->shape[0] == b->size && bc[0] == 1);
    for (int k = 0; k < b->size; k++) {
      CHECK(rows[k] != 2 && rows[k] != 4);
      /* Same size, no augmentation: the mask is exactly the run, the box exactly its fractions. */
      int sum = 0, ok = 1;
      for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
          float v = m[k * 256 + y * 16 + x];
          sum += v == 1.0f;
          ok &= v == 0.0f || v == 1.0f;
          if (v == 1.0f) ok &= x == 2 && y >= 4 && y < 12;
        }
      CHECK(ok && sum == 8);
      CHECK(bx[4 * k] == 4.0f && bx[4 * k + 1] == 8.0f && bx[4 * k + 2] == 4.0f && bx[4 * k + 3] == 2.0f);
    }
    prior_batch_free(b);
  }
  CHECK(nb == 2);
  CHECK(strstr(sink.text, "1.2.840.10008.1.2.5") && strstr(sink.text, "dcm/2.dcm"));
  CHECK(strstr(sink.text, "dcm/4.dcm") && strstr(sink.text, "past the end"));
  prior_loader_free(l);

  /* With augmentation, the box follows the picture: draw the box as a bright block and compare. */
  prior_dataset_free(ds);
  ds = prior_ds_new("rsna", PRIOR_IMAGE_DICOM, 1, names);
  uint8_t px[64 * 64] = {0};
  for (int y = 16; y < 40; y++)
    for (int x = 20; x < 32; x++) px[y * 64 + x] = 255;
  ds_mkdirs_for(ds_path(p, root, "box/x"));
  prior_dicom_write(ds_path(p, root, "box/0.dcm"), px, 64, 64, 8, "1.2.3", "x");
  for (int i = 0; i < 8; i++) {
    char id[16];
    snprintf(id, sizeof id, "b%d", i);
    prior_ds_sample *s = prior_ds_push(ds, id);
    prior_ds_add_string(&s->images, &s->nimages, p);
    float box[4] = {20 / 64.0f, 16 / 64.0f, 12 / 64.0f, 24 / 64.0f};
    prior_ds_add_box(s, box);
  }
  base_options(&o, 0);
  o.tokenizer = NULL;
  o.height = o.width = 64;
  o.degrees = 30;
  o.translate = 0.1f;
  o.hflip = 1;
  o.batch_size = 8;
  CHECK_OK(prior_loader_create(ds, &o, &l));
  CHECK_OK(prior_loader_next(l, &b));
  if (b) {
    const float *im = prior_tensor_data(b->images), *bx = prior_tensor_data(b->boxes);
    int ok = 1;
    for (int k = 0; k < 8; k++) {
      int x0 = 64, y0 = 64, x1 = -1, y1 = -1;
      for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
          if (im[k * 4096 + y * 64 + x] * 0.3011f + 0.4755f > 0.5f) {
            x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
          }
      /* Pixel extents vs. continuous box edges: within 2 pixels. */
      int good = fabsf(bx[4 * k] - x0) <= 2 && fabsf(bx[4 * k + 1] - y0) <= 2 &&
                 fabsf(bx[4 * k] + bx[4 * k + 2] - (x1 + 1)) <= 2 &&
                 fabsf(bx[4 * k + 1] + bx[4 * k + 3] - (y1 + 1)) <= 2;
      CHECK_MSG(good, "sample %d: box %.1f %.1f %.1f %.1f, picture x %d..%d y %d..%d", k, bx[4 * k], bx[4 * k + 1],
                bx[4 * k + 2], bx[4 * k + 3], x0, x1, y0, y1);
      ok &= good;
    }
    CHECK(ok);
    prior_batch_free(b);
  }
  prior_loader_free(l);
  prior_dataset_free(ds);
  pthread_mutex_destroy(&sink.mu);
}

static void test_options(void) {
  prior_dataset *ds = jpeg_dataset(2, 0);
  prior_loader_options o;
  prior_loader *l = NULL;
  base_options(&o, 1);
  o.batch_size = 0;
  CHECK_ERR(prior_loader_create(ds, &o, &l), PRIOR_ERR_ARGUMENT, "batch_size 0");
  base_options(&o, 1);
  o.prefetch = 0;
  CHECK_ERR(prior_loader_create(ds, &o, &l), PRIOR_ERR_ARGUMENT, "prefetch 0");
  CHECK_ERR(prior_loader_create(NULL, &o, &l), PRIOR_ERR_ARGUMENT, "dataset is NULL");
  /* A dataset smaller than a batch with drop_last: an empty epoch, not an error. */
  base_options(&o, 1);
  CHECK_OK(prior_loader_create(ds, &o, &l));
  prior_batch *b = (prior_batch *)1;
  CHECK_OK(prior_loader_next(l, &b));
  CHECK(b == NULL);
  prior_loader_free(l);
  prior_dataset_free(ds);
}

int main(void) {
  ds_tmpdir(root, sizeof root, "loader");
  make_vocab();
  test_collation();
  test_determinism_and_epochs();
  test_bad_files();
  test_dicom_masks_boxes();
  test_options();
  prior_tokenizer_free(tok);
  ds_rm_rf(root);
  return check_summary("test_loader");
}
