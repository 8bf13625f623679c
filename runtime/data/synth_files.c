/* File writing for the synthetic trees: folders, atomic writes, JPEG and DICOM encoding, text buffers, and
 * the parallel image writer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "data/synth_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

prior_status synth_mkdirs(const char *path) {
  char buf[1024];
  size_t n = strlen(path);
  if (n == 0) return PRIOR_OK;
  if (n >= sizeof buf) return prior_error_set(PRIOR_ERR_ARGUMENT, "path too long: %s", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char c = buf[i];
    buf[i] = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return prior_error_set(PRIOR_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
    buf[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return prior_error_set(PRIOR_ERR_IO, "%s exists and is not a folder", path);
  return PRIOR_OK;
}

prior_status synth_mkdirs_parent(const char *path) {
  char buf[1024];
  size_t n = strlen(path);
  if (n >= sizeof buf) return prior_error_set(PRIOR_ERR_ARGUMENT, "path too long: %s", path);
  memcpy(buf, path, n + 1);
  char *slash = strrchr(buf, '/');
  if (!slash || slash == buf) return PRIOR_OK;
  *slash = 0;
  return synth_mkdirs(buf);
}

prior_status synth_write_atomic(const char *path, const void *data, size_t n) {
  char tmp[1100];
  int thread = 0;
#ifdef _OPENMP
  thread = omp_get_thread_num();
#endif
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%d", path, (long)getpid(), thread);
  FILE *f = fopen(tmp, "wb");
  if (!f) return prior_error_set(PRIOR_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  size_t w = n ? fwrite(data, 1, n, f) : 0;
  int bad = w != n;
  if (fclose(f) != 0) bad = 1;
  if (bad) {
    remove(tmp);
    return prior_error_set(PRIOR_ERR_IO, "writing %s failed (disk full?)", path);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return prior_error_set(PRIOR_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  return PRIOR_OK;
}

prior_status synth_write_jpeg(const char *path, const uint8_t *pixels, int width, int height, int quality) {
  tjhandle h = tjInitCompress();
  if (!h) return prior_error_set(PRIOR_ERR_INTERNAL, "TurboJPEG: cannot create a compressor for %s", path);
  unsigned char *jpeg = NULL;
  unsigned long size = 0;
  int rc = tjCompress2(h, pixels, width, 0, height, TJPF_GRAY, &jpeg, &size, TJSAMP_GRAY, quality, TJFLAG_ACCURATEDCT);
  prior_status s = PRIOR_OK;
  if (rc != 0)
    s = prior_error_set(PRIOR_ERR_INTERNAL, "TurboJPEG: encoding %s failed: %s", path, tjGetErrorStr2(h));
  else
    s = synth_write_atomic(path, jpeg, size);
  tjFree(jpeg);
  tjDestroy(h);
  return s;
}

/* ---- DICOM -------------------------------------------------------------------------------------------------- */

typedef struct bytes {
  uint8_t *p;
  size_t n, cap;
  int failed;
} bytes;

static void b_put(bytes *b, const void *d, size_t n) {
  if (b->failed) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void b_u16(bytes *b, unsigned v) {
  uint8_t x[2] = {(uint8_t)(v & 0xff), (uint8_t)(v >> 8)};
  b_put(b, x, 2);
}

static void b_u32(bytes *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  b_put(b, x, 4);
}

/* One explicit-VR little-endian element. Values are padded to even length (UI with NUL, text with space). */
static void elem(bytes *b, unsigned group, unsigned el, const char vr[2], const void *val, size_t n) {
  int long_form = !memcmp(vr, "OB", 2) || !memcmp(vr, "OW", 2) || !memcmp(vr, "SQ", 2) || !memcmp(vr, "UN", 2) ||
                  !memcmp(vr, "UT", 2);
  size_t padded = n + (n & 1);
  b_u16(b, group);
  b_u16(b, el);
  b_put(b, vr, 2);
  if (long_form) {
    b_u16(b, 0);
    b_u32(b, (uint32_t)padded);
  } else {
    b_u16(b, (unsigned)padded);
  }
  b_put(b, val, n);
  if (n & 1) {
    uint8_t pad = !memcmp(vr, "UI", 2) || !memcmp(vr, "OB", 2) ? 0 : ' ';
    b_put(b, &pad, 1);
  }
}

static void elem_str(bytes *b, unsigned group, unsigned el, const char vr[2], const char *s) {
  elem(b, group, el, vr, s, strlen(s));
}

static void elem_us(bytes *b, unsigned group, unsigned el, unsigned v) {
  uint8_t x[2] = {(uint8_t)(v & 0xff), (uint8_t)(v >> 8)};
  elem(b, group, el, "US", x, 2);
}

#define SECONDARY_CAPTURE "1.2.840.10008.5.1.4.1.1.7"
#define EXPLICIT_LE "1.2.840.10008.1.2.1"
#define IMPL_UID "1.2.826.0.1.3680043.10.1234.1"

prior_status synth_write_dicom(const char *path, const uint8_t *pixels, int width, int height,
                               const synth_dicom_meta *m) {
  bytes meta = {0}, b = {0};
  /* File meta group, measured first so that its group length can lead it. */
  static const uint8_t version[2] = {0, 1};
  elem(&meta, 0x0002, 0x0001, "OB", version, 2);
  elem_str(&meta, 0x0002, 0x0002, "UI", SECONDARY_CAPTURE);
  elem_str(&meta, 0x0002, 0x0003, "UI", m->sop_uid);
  elem_str(&meta, 0x0002, 0x0010, "UI", EXPLICIT_LE);
  elem_str(&meta, 0x0002, 0x0012, "UI", IMPL_UID);
  static const uint8_t zeros[128] = {0};
  b_put(&b, zeros, 128);
  b_put(&b, "DICM", 4);
  uint8_t glen[4] = {(uint8_t)meta.n, (uint8_t)(meta.n >> 8), (uint8_t)(meta.n >> 16), (uint8_t)(meta.n >> 24)};
  elem(&b, 0x0002, 0x0000, "UL", glen, 4);
  if (meta.failed) b.failed = 1;
  else b_put(&b, meta.p, meta.n);
  free(meta.p);
  /* Data set, tags ascending. */
  char tmp[64];
  elem_str(&b, 0x0008, 0x0016, "UI", SECONDARY_CAPTURE);
  elem_str(&b, 0x0008, 0x0018, "UI", m->sop_uid);
  elem_str(&b, 0x0008, 0x0020, "DA", "19010101");
  elem_str(&b, 0x0008, 0x0060, "CS", "CR");
  elem_str(&b, 0x0008, 0x0064, "CS", "WSD");
  snprintf(tmp, sizeof tmp, "view: %s", m->view_position);
  elem_str(&b, 0x0008, 0x103e, "LO", tmp);
  elem_str(&b, 0x0010, 0x0010, "PN", m->patient_id);
  elem_str(&b, 0x0010, 0x0020, "LO", m->patient_id);
  elem_str(&b, 0x0010, 0x0040, "CS", m->female ? "F" : "M");
  snprintf(tmp, sizeof tmp, "%03dY", m->age);
  elem_str(&b, 0x0010, 0x1010, "AS", tmp);
  elem_str(&b, 0x0018, 0x0015, "CS", "CHEST");
  elem_str(&b, 0x0018, 0x5101, "CS", m->view_position);
  elem_str(&b, 0x0020, 0x000d, "UI", m->study_uid);
  elem_str(&b, 0x0020, 0x000e, "UI", m->series_uid);
  elem_str(&b, 0x0020, 0x0010, "SH", "");
  elem_str(&b, 0x0020, 0x0011, "IS", "1");
  elem_str(&b, 0x0020, 0x0013, "IS", "1");
  elem_us(&b, 0x0028, 0x0002, 1);
  elem_str(&b, 0x0028, 0x0004, "CS", "MONOCHROME2");
  elem_us(&b, 0x0028, 0x0010, (unsigned)height);
  elem_us(&b, 0x0028, 0x0011, (unsigned)width);
  double spacing = 0.168 * 1024.0 / (double)width; /* the real 1024-pixel films are ~0.17 mm per pixel */
  snprintf(tmp, sizeof tmp, "%.6g\\%.6g", spacing, spacing);
  elem_str(&b, 0x0028, 0x0030, "DS", tmp);
  elem_us(&b, 0x0028, 0x0100, 8);
  elem_us(&b, 0x0028, 0x0101, 8);
  elem_us(&b, 0x0028, 0x0102, 7);
  elem_us(&b, 0x0028, 0x0103, 0);
  elem(&b, 0x7fe0, 0x0010, "OB", pixels, (size_t)width * height);
  prior_status s;
  if (b.failed)
    s = prior_error_set(PRIOR_ERR_MEMORY, "DICOM %s: out of memory", path);
  else
    s = synth_write_atomic(path, b.p, b.n);
  free(b.p);
  return s;
}

/* ---- text --------------------------------------------------------------------------------------------------- */

void synth_text_printf(synth_text *t, const char *fmt, ...) {
  if (t->failed) return;
  for (;;) {
    size_t room = t->cap - t->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if (t->data && (size_t)n < room) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + (size_t)n + 1) cap *= 2;
    char *d = realloc(t->data, cap);
    if (!d) {
      t->failed = 1;
      return;
    }
    t->data = d;
    t->cap = cap;
  }
}

void synth_text_free(synth_text *t) {
  free(t->data);
  memset(t, 0, sizeof *t);
}

prior_status synth_text_write(synth_text *t, const char *path) {
  prior_status s;
  if (t->failed)
    s = prior_error_set(PRIOR_ERR_MEMORY, "building %s: out of memory", path);
  else
    s = synth_write_atomic(path, t->data ? t->data : "", t->len);
  synth_text_free(t);
  return s;
}

void synth_to_u8(const float *image, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i++) {
    float v = image[i] * 255.0f + 0.5f;
    out[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
  }
}

void synth_uid(char *buf, size_t cap, int level, uint64_t a, uint64_t b) {
  snprintf(buf, cap, "1.2.276.0.7230010.3.1.%d.8323329.%llu.%llu", level, (unsigned long long)a,
           (unsigned long long)(1517870000000ULL + b % 10000000ULL));
}

/* ---- parallel image writing ---------------------------------------------------------------------------------- */

prior_status synth_write_images(synth_image_job *jobs, size_t n, int quality) {
  if (quality < 1 || quality > 100) quality = 95;
  char first_error[1024] = "";
  prior_status first_code = PRIOR_OK;
  long long failed_at = -1;
#pragma omp parallel
  {
    float *img = NULL;
    uint8_t *px = NULL;
    int have = 0;
#pragma omp for schedule(dynamic, 4)
    for (long long i = 0; i < (long long)n; i++) {
      int stop;
#pragma omp atomic read
      stop = first_code;
      if (stop != PRIOR_OK || prior_interrupt_pending()) continue;
      synth_image_job *j = &jobs[i];
      int sz = j->truth.size;
      if (sz > have) {
        free(img);
        free(px);
        img = malloc((size_t)sz * sz * sizeof *img);
        px = malloc((size_t)sz * sz);
        have = img && px ? sz : 0;
      }
      prior_status s;
      if (!have)
        s = prior_error_set(PRIOR_ERR_MEMORY, "image %s: out of memory", j->path);
      else if ((s = synth_mkdirs_parent(j->path)) == PRIOR_OK &&
               (s = prior_synth_render_truth(&j->truth, img, j->mask, NULL)) == PRIOR_OK) {
        synth_to_u8(img, (size_t)sz * sz, px);
        if (j->dicom) {
          j->meta.patient_id = j->patient_id;
          j->meta.study_uid = j->study_uid;
          j->meta.series_uid = j->series_uid;
          j->meta.sop_uid = j->sop_uid;
          s = synth_write_dicom(j->path, px, sz, sz, &j->meta);
        } else {
          s = synth_write_jpeg(j->path, px, sz, sz, quality);
        }
      }
      if (s != PRIOR_OK) {
#pragma omp critical(synth_first_error)
        {
          if (failed_at < 0 || i < failed_at) {
            failed_at = i;
            snprintf(first_error, sizeof first_error, "%s", prior_error_message());
          }
#pragma omp atomic write
          first_code = s;
        }
      }
    }
    free(img);
    free(px);
  }
  if (first_code != PRIOR_OK) return prior_error_set(first_code, "%s", first_error);
  return prior_interrupt_check();
}

/* ---- job queue ---------------------------------------------------------------------------------------------- */

prior_status synth_queue_init(synth_queue *q, int image_size, int quality, int masks,
                              prior_status (*on_done)(synth_image_job *job, void *ud), void *ud) {
  memset(q, 0, sizeof *q);
  /* Chunks bounded by memory: ~64 MB of masks, at most 2048 jobs. */
  size_t px = (size_t)image_size * image_size;
  size_t cap = masks ? (size_t)(64u << 20) / px : 2048;
  if (cap > 2048) cap = 2048;
  if (cap < 8) cap = 8;
  q->jobs = calloc(cap, sizeof *q->jobs);
  q->masks = masks ? malloc(cap * px) : NULL;
  if (!q->jobs || (masks && !q->masks)) {
    free(q->jobs);
    free(q->masks);
    return prior_error_set(PRIOR_ERR_MEMORY, "synthetic writer: out of memory for %zu jobs", cap);
  }
  q->cap = cap;
  q->quality = quality;
  q->px = px;
  q->on_done = on_done;
  q->ud = ud;
  return PRIOR_OK;
}

synth_image_job *synth_queue_next(synth_queue *q) {
  synth_image_job *j = &q->jobs[q->n];
  memset(j, 0, sizeof *j);
  j->mask = q->masks ? q->masks + q->n * q->px : NULL;
  return j;
}

prior_status synth_queue_flush(synth_queue *q) {
  if (q->n == 0) return PRIOR_OK;
  prior_status s = synth_write_images(q->jobs, q->n, q->quality);
  for (size_t i = 0; i < q->n && s == PRIOR_OK && q->on_done; i++) s = q->on_done(&q->jobs[i], q->ud);
  q->n = 0;
  return s;
}

prior_status synth_queue_commit(synth_queue *q) {
  q->n++;
  return q->n == q->cap ? synth_queue_flush(q) : PRIOR_OK;
}

void synth_queue_free(synth_queue *q) {
  free(q->jobs);
  free(q->masks);
  memset(q, 0, sizeof *q);
}
