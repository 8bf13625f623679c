/* The dataset object: construction helpers for the readers, accessors, subsets. */
#include "data/dataset_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prior/rle.h"
#include "prior/rng.h"

prior_dataset *prior_ds_new(const char *kind, prior_image_format format, int nlabels, const char *const *names) {
  prior_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) {
    prior_error_set(PRIOR_ERR_MEMORY, "dataset %s: out of memory", kind);
    return NULL;
  }
  snprintf(ds->kind, sizeof ds->kind, "%s", kind);
  ds->format = format;
  if (nlabels > 0) {
    ds->label_names = calloc((size_t)nlabels, sizeof *ds->label_names);
    if (!ds->label_names) goto oom;
    ds->nlabels = nlabels;
    for (int i = 0; i < nlabels; i++)
      if (!(ds->label_names[i] = strdup(names[i]))) goto oom;
  }
  return ds;
oom:
  prior_dataset_free(ds);
  prior_error_set(PRIOR_ERR_MEMORY, "dataset %s: out of memory", kind);
  return NULL;
}

static void free_strings(char **list, int n) {
  for (int i = 0; i < n; i++) free(list[i]);
  free(list);
}

static void sample_clear(prior_ds_sample *s) {
  free(s->id);
  free_strings(s->images, s->nimages);
  free_strings(s->sentences, s->nsentences);
  free_strings(s->rles, s->nrles);
  free(s->labels);
  free(s->boxes);
  memset(s, 0, sizeof *s);
}

void prior_dataset_free(prior_dataset *ds) {
  if (!ds) return;
  for (int64_t i = 0; i < ds->n; i++) sample_clear(&ds->samples[i]);
  free(ds->samples);
  free_strings(ds->label_names, ds->nlabels);
  free(ds);
}

prior_ds_sample *prior_ds_push(prior_dataset *ds, const char *id) {
  if (ds->n == ds->cap) {
    int64_t ncap = ds->cap ? ds->cap * 2 : 256;
    prior_ds_sample *ns = realloc(ds->samples, (size_t)ncap * sizeof *ns);
    if (!ns) {
      prior_error_set(PRIOR_ERR_MEMORY, "dataset %s: out of memory at %lld samples", ds->kind, (long long)ds->n);
      return NULL;
    }
    ds->samples = ns;
    ds->cap = ncap;
  }
  prior_ds_sample *s = &ds->samples[ds->n];
  memset(s, 0, sizeof *s);
  s->id = strdup(id);
  s->labels = calloc((size_t)(ds->nlabels > 0 ? ds->nlabels : 1), sizeof(float));
  if (!s->id || !s->labels) {
    sample_clear(s);
    prior_error_set(PRIOR_ERR_MEMORY, "dataset %s: out of memory", ds->kind);
    return NULL;
  }
  ds->n++;
  return s;
}

void prior_ds_pop(prior_dataset *ds) {
  if (ds->n > 0) sample_clear(&ds->samples[--ds->n]);
}

prior_status prior_ds_add_string(char ***list, int *n, const char *s) {
  char **nl = realloc(*list, (size_t)(*n + 1) * sizeof *nl);
  if (!nl) return prior_error_set(PRIOR_ERR_MEMORY, "dataset: out of memory");
  *list = nl;
  if (!(nl[*n] = strdup(s))) return prior_error_set(PRIOR_ERR_MEMORY, "dataset: out of memory");
  (*n)++;
  return PRIOR_OK;
}

prior_status prior_ds_add_box(prior_ds_sample *s, const float box[4]) {
  float *nb = realloc(s->boxes, (size_t)(s->nboxes + 1) * 4 * sizeof(float));
  if (!nb) return prior_error_set(PRIOR_ERR_MEMORY, "dataset: out of memory");
  s->boxes = nb;
  memcpy(nb + 4 * s->nboxes, box, 4 * sizeof(float));
  s->nboxes++;
  return PRIOR_OK;
}

prior_status prior_ds_join(char *buf, const char *a, const char *b) {
  int n = snprintf(buf, PRIOR_DS_PATH_MAX, "%s/%s", a, b);
  if (n < 0 || n >= PRIOR_DS_PATH_MAX)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "path %s/%s is longer than %d bytes", a, b, PRIOR_DS_PATH_MAX - 1);
  return PRIOR_OK;
}

int prior_ds_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int prior_ds_dir_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

prior_status prior_ds_column(const prior_csv *csv, const char *file, const char *name, int *col) {
  *col = prior_csv_column(csv, name);
  if (*col < 0) return prior_error_set(PRIOR_ERR_FORMAT, "file %s: no column '%s' in the header", file, name);
  return PRIOR_OK;
}

prior_status prior_ds_label(const prior_csv *csv, int64_t row, int col, int uncertain, float *out) {
  double v;
  PRIOR_TRY(prior_csv_double(csv, row, col, &v));
  if (isnan(v)) v = 0;
  else if (v == -1.0) v = uncertain == PRIOR_UNCERTAIN_ONE ? 1.0 : uncertain == PRIOR_UNCERTAIN_KEEP ? -1.0 : 0.0;
  *out = (float)v;
  return PRIOR_OK;
}

prior_status prior_ds_write_atomic_begin(const char *path, char *tmp_path, prior_csv_writer **w) {
  int n = snprintf(tmp_path, PRIOR_DS_PATH_MAX, "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || n >= PRIOR_DS_PATH_MAX) return prior_error_set(PRIOR_ERR_ARGUMENT, "path %s is too long", path);
  return prior_csv_writer_open(tmp_path, w);
}

prior_status prior_ds_write_atomic_end(const char *path, const char *tmp_path, prior_csv_writer *w, prior_status s) {
  prior_status c = prior_csv_writer_close(w);
  if (s == PRIOR_OK) s = c;
  if (s == PRIOR_OK && rename(tmp_path, path) != 0)
    s = prior_error_set(PRIOR_ERR_IO, "file %s: cannot rename %s to it: %s", path, tmp_path, strerror(errno));
  if (s != PRIOR_OK) remove(tmp_path);
  return s;
}

prior_status prior_ds_shuffle(int64_t *perm, int64_t n, uint64_t seed, uint64_t offset) {
  if (n < 2) return PRIOR_OK;
  double *u = malloc((size_t)n * sizeof *u);
  if (!u) return prior_error_set(PRIOR_ERR_MEMORY, "shuffle of %lld items: out of memory", (long long)n);
  prior_philox_uniform_f64(seed, offset, u, n);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(u[i] * (double)(i + 1));
    if (j > i) j = i;
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  free(u);
  return PRIOR_OK;
}

/* ---- accessors ------------------------------------------------------------------------------------------ */

static const prior_ds_sample *sample_at(const prior_dataset *ds, int64_t i) {
  if (!ds || i < 0 || i >= ds->n) {
    prior_error_set(PRIOR_ERR_INDEX, "dataset: sample %lld out of range [0, %lld)", (long long)i,
                    ds ? (long long)ds->n : 0LL);
    return NULL;
  }
  return &ds->samples[i];
}

int64_t prior_dataset_size(const prior_dataset *ds) { return ds ? ds->n : 0; }
const char *prior_dataset_kind(const prior_dataset *ds) { return ds ? ds->kind : NULL; }
prior_image_format prior_dataset_image_format(const prior_dataset *ds) { return ds ? ds->format : PRIOR_IMAGE_JPEG; }
int prior_dataset_label_count(const prior_dataset *ds) { return ds ? ds->nlabels : 0; }
int prior_dataset_has_masks(const prior_dataset *ds) { return ds ? ds->has_masks : 0; }

void prior_dataset_get_drops(const prior_dataset *ds, prior_dataset_drops *out) {
  if (ds) *out = ds->drops;
  else memset(out, 0, sizeof *out);
}

char *prior_dataset_drops_str(const prior_dataset *ds, char *buf, int cap) {
  if (!buf || cap <= 0) return buf;
  buf[0] = 0;
  if (!ds) return buf;
  const prior_dataset_drops *d = &ds->drops;
  const struct { const char *name; int64_t v; } f[] = {
      {"lateral", d->lateral},           {"lateral_only", d->lateral_only},
      {"other_split", d->other_split},   {"missing_report", d->missing_report},
      {"unreadable_report", d->unreadable_report}, {"no_sections", d->no_sections},
      {"short_report", d->short_report}, {"missing_image", d->missing_image},
      {"no_image", d->no_image},         {"unlabeled", d->unlabeled}};
  int used = 0;
  for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
    if (!f[k].v) continue;
    int n = snprintf(buf + used, (size_t)(cap - used), "%s%s %lld", used ? ", " : "", f[k].name, (long long)f[k].v);
    if (n < 0 || n >= cap - used) break;
    used += n;
  }
  return buf;
}

const char *prior_dataset_label_name(const prior_dataset *ds, int label) {
  return ds && label >= 0 && label < ds->nlabels ? ds->label_names[label] : NULL;
}

const char *prior_dataset_id(const prior_dataset *ds, int64_t i) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s ? s->id : NULL;
}

int64_t prior_dataset_find(const prior_dataset *ds, const char *id) {
  if (!ds || !id) return -1;
  for (int64_t i = 0; i < ds->n; i++)
    if (strcmp(ds->samples[i].id, id) == 0) return i;
  return -1;
}

int prior_dataset_image_count(const prior_dataset *ds, int64_t i) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s ? s->nimages : 0;
}

const char *prior_dataset_image_path(const prior_dataset *ds, int64_t i, int image) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s && image >= 0 && image < s->nimages ? s->images[image] : NULL;
}

int prior_dataset_sentence_count(const prior_dataset *ds, int64_t i) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s ? s->nsentences : 0;
}

const char *prior_dataset_sentence(const prior_dataset *ds, int64_t i, int sentence) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s && sentence >= 0 && sentence < s->nsentences ? s->sentences[sentence] : NULL;
}

prior_status prior_dataset_labels(const prior_dataset *ds, int64_t i, float *out) {
  const prior_ds_sample *s = sample_at(ds, i);
  if (!s) return prior_error_code();
  if (ds->nlabels) memcpy(out, s->labels, (size_t)ds->nlabels * sizeof(float));
  return PRIOR_OK;
}

int prior_dataset_box_count(const prior_dataset *ds, int64_t i) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s ? s->nboxes : 0;
}

prior_status prior_dataset_box(const prior_dataset *ds, int64_t i, int box, float out[4]) {
  const prior_ds_sample *s = sample_at(ds, i);
  if (!s) return prior_error_code();
  if (box < 0 || box >= s->nboxes)
    return prior_error_set(PRIOR_ERR_INDEX, "dataset %s sample %s: box %d out of range [0, %d)", ds->kind, s->id,
                           box, s->nboxes);
  memcpy(out, s->boxes + 4 * box, 4 * sizeof(float));
  return PRIOR_OK;
}

int prior_dataset_rle_count(const prior_dataset *ds, int64_t i) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s ? s->nrles : 0;
}

const char *prior_dataset_rle(const prior_dataset *ds, int64_t i, int k) {
  const prior_ds_sample *s = sample_at(ds, i);
  return s && k >= 0 && k < s->nrles ? s->rles[k] : NULL;
}

prior_status prior_dataset_mask(const prior_dataset *ds, int64_t i, int width, int height, uint8_t *mask) {
  const prior_ds_sample *s = sample_at(ds, i);
  if (!s) return prior_error_code();
  if (!mask || width <= 0 || height <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "dataset mask: need a buffer and a positive size, got %dx%d", width,
                           height);
  memset(mask, 0, (size_t)width * (size_t)height);
  for (int k = 0; k < s->nrles; k++) {
    prior_status st = prior_rle_decode(s->rles[k], width, height, mask);
    if (st != PRIOR_OK) return prior_error_context("sample %s (%dx%d image)", s->id, width, height);
  }
  return PRIOR_OK;
}

/* ---- subsets ---------------------------------------------------------------------------------------------- */

static prior_status copy_strings(char ***dst, int *nd, char *const *src, int n) {
  for (int k = 0; k < n; k++) PRIOR_TRY(prior_ds_add_string(dst, nd, src[k]));
  return PRIOR_OK;
}

prior_status prior_dataset_subset(const prior_dataset *ds, const int64_t *indices, int64_t n, prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_dataset_subset: out is NULL");
  *out = NULL;
  if (!ds || n < 0 || (n > 0 && !indices))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_dataset_subset: need a dataset and %lld indices", (long long)n);
  prior_dataset *sub = prior_ds_new(ds->kind, ds->format, ds->nlabels, (const char *const *)ds->label_names);
  if (!sub) return prior_error_code();
  sub->has_masks = ds->has_masks;
  sub->drops = ds->drops;
  for (int64_t k = 0; k < n; k++) {
    const prior_ds_sample *s = sample_at(ds, indices[k]);
    prior_ds_sample *d = s ? prior_ds_push(sub, s->id) : NULL;
    prior_status st = d ? PRIOR_OK : prior_error_code();
    if (st == PRIOR_OK) st = copy_strings(&d->images, &d->nimages, s->images, s->nimages);
    if (st == PRIOR_OK) st = copy_strings(&d->sentences, &d->nsentences, s->sentences, s->nsentences);
    if (st == PRIOR_OK) st = copy_strings(&d->rles, &d->nrles, s->rles, s->nrles);
    for (int b = 0; st == PRIOR_OK && b < s->nboxes; b++) st = prior_ds_add_box(d, s->boxes + 4 * b);
    if (st != PRIOR_OK) {
      prior_dataset_free(sub);
      return st;
    }
    if (ds->nlabels) memcpy(d->labels, s->labels, (size_t)ds->nlabels * sizeof(float));
  }
  *out = sub;
  return PRIOR_OK;
}
