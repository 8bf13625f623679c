/* SIIM run-length masks (see prior/rle.h). */
#include "prior/rle.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses one non-negative decimal token at *s; advances past it. Returns 0 when there is no valid token. */
static int parse_token(const char **s, long long *out) {
  const char *p = *s;
  if (!isdigit((unsigned char)*p)) return 0;
  errno = 0;
  char *end;
  long long v = strtoll(p, &end, 10);
  if (errno == ERANGE || (*end && !isspace((unsigned char)*end))) return 0;
  *out = v;
  *s = end;
  return 1;
}

static int is_empty_mask(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  if (!*s) return 1;
  if (s[0] != '-' || s[1] != '1') return 0;
  s += 2;
  while (isspace((unsigned char)*s)) s++;
  return !*s;
}

prior_status prior_rle_decode(const char *rle, int width, int height, uint8_t *mask) {
  if (!rle || !mask) return prior_error_set(PRIOR_ERR_ARGUMENT, "rle decode: NULL argument");
  if (width <= 0 || height <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "rle decode: image size %dx%d", width, height);
  if (is_empty_mask(rle)) return PRIOR_OK;
  long long total = (long long)width * height, p = 0;
  const char *s = rle;
  for (int token = 0;; token += 2) {
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return PRIOR_OK;
    long long offset, length;
    const char *at = s;
    if (!parse_token(&s, &offset))
      return prior_error_set(PRIOR_ERR_FORMAT, "rle: token %d '%.20s' is not a non-negative integer", token + 1, at);
    while (isspace((unsigned char)*s)) s++;
    if (!*s)
      return prior_error_set(PRIOR_ERR_FORMAT, "rle: odd number of tokens (%d): the last offset has no length",
                             token + 1);
    at = s;
    if (!parse_token(&s, &length))
      return prior_error_set(PRIOR_ERR_FORMAT, "rle: token %d '%.20s' is not a non-negative integer", token + 2, at);
    if (offset > total - p || length > total - p - offset)
      return prior_error_set(PRIOR_ERR_FORMAT,
                             "rle: run %d (offset %lld, length %lld) ends at pixel %llu, past the end of the "
                             "%dx%d image (%lld pixels)",
                             token / 2 + 1, offset, length,
                             (unsigned long long)p + (unsigned long long)offset + (unsigned long long)length, width,
                             height, total);
    p += offset;
    /* Flat index i is column i / height, row i % height. */
    for (long long i = p; i < p + length; i++) mask[(i % height) * width + i / height] = 1;
    p += length;
  }
}

typedef struct {
  char *s;
  size_t n, cap;
} text;

static int append(text *t, long long a, long long b) {
  char tmp[48];
  int k = snprintf(tmp, sizeof tmp, "%s%lld %lld", t->n ? " " : "", a, b);
  if (t->n + (size_t)k + 1 > t->cap) {
    size_t ncap = (t->n + (size_t)k + 1) * 2;
    char *ns = realloc(t->s, ncap);
    if (!ns) return 0;
    t->s = ns;
    t->cap = ncap;
  }
  memcpy(t->s + t->n, tmp, (size_t)k + 1);
  t->n += (size_t)k;
  return 1;
}

prior_status prior_rle_encode(const uint8_t *mask, int width, int height, char **rle) {
  if (!mask || !rle) return prior_error_set(PRIOR_ERR_ARGUMENT, "rle encode: NULL argument");
  *rle = NULL;
  if (width <= 0 || height <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "rle encode: image size %dx%d", width, height);
  long long total = (long long)width * height, end_of_last = 0, run_start = -1;
  text t = {0};
  for (long long i = 0; i <= total; i++) {
    int on = i < total && mask[(i % height) * width + i / height] != 0;
    if (on && run_start < 0) run_start = i;
    if (!on && run_start >= 0) {
      if (!append(&t, run_start - end_of_last, i - run_start)) {
        free(t.s);
        return prior_error_set(PRIOR_ERR_MEMORY, "rle encode: out of memory");
      }
      end_of_last = i;
      run_start = -1;
    }
  }
  if (!t.s) {
    t.s = strdup("-1");
    if (!t.s) return prior_error_set(PRIOR_ERR_MEMORY, "rle encode: out of memory");
  }
  *rle = t.s;
  return PRIOR_OK;
}

void prior_rle_free(char *rle) { free(rle); }
