/* Helpers for the dataset and loader tests: hand-made trees in a temporary folder. */
#ifndef PRIOR_TEST_DS_UTIL_H
#define PRIOR_TEST_DS_UTIL_H

#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prior/dicom.h"
#include "prior/jpeg.h"

/* mkdir -p of the folder part of `path` (everything before the last '/'). */
static inline void ds_mkdirs_for(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0755);
    *p = '/';
  }
}

static inline void ds_write_text(const char *path, const char *text) {
  ds_mkdirs_for(path);
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
  fputs(text, f);
  fclose(f);
}

/* A small gradient image, distinct per `seed`, as JPEG. */
static inline void ds_write_jpeg(const char *path, int w, int h, int seed) {
  ds_mkdirs_for(path);
  uint8_t *px = malloc((size_t)w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) px[y * w + x] = (uint8_t)((x * 7 + y * 3 + seed * 31) & 255);
  if (prior_jpeg_write(path, px, w, h, 90) != PRIOR_OK) {
    fprintf(stderr, "%s\n", prior_error_message());
    exit(1);
  }
  free(px);
}

static inline void ds_write_dicom(const char *path, int w, int h, int seed) {
  ds_mkdirs_for(path);
  uint8_t *px = malloc((size_t)w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) px[y * w + x] = (uint8_t)((x * 5 + y * 11 + seed * 17) & 255);
  if (prior_dicom_write(path, px, h, w, 8, "1.2.3.4", "anon") != PRIOR_OK) {
    fprintf(stderr, "%s\n", prior_error_message());
    exit(1);
  }
  free(px);
}

static inline int ds_rm_one(const char *p, const struct stat *s, int flag, struct FTW *f) {
  (void)s, (void)flag, (void)f;
  return remove(p);
}

static inline void ds_rm_rf(const char *dir) { nftw(dir, ds_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* A fresh temporary folder; its path is written to buf. */
static inline void ds_tmpdir(char *buf, size_t cap, const char *tag) {
  const char *base = getenv("TMPDIR");
  snprintf(buf, cap, "%s/prior_%s_XXXXXX", base && base[0] ? base : "/tmp", tag);
  if (!mkdtemp(buf)) {
    fprintf(stderr, "mkdtemp failed: %s\n", strerror(errno));
    exit(1);
  }
}

static inline int prior_ds_file_exists_test(const char *path) {
  struct stat st;
  return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static inline const char *ds_path(char *buf, const char *root, const char *rel) {
  snprintf(buf, 4096, "%s/%s", root, rel);
  return buf;
}

#endif
