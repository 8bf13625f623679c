/* Whole-file reads for the CSV, JPEG and DICOM readers. */
#include "io/slurp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

prior_status prior_slurp_file(const char *path, unsigned char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  if (!path) return prior_error_set(PRIOR_ERR_ARGUMENT, "file path is NULL");
  FILE *f = fopen(path, "rb");
  if (!f) return prior_error_set(PRIOR_ERR_IO, "file %s: cannot open: %s", path, strerror(errno));
  /* Read in growing chunks rather than trusting fseek/ftell, so pipes and /proc files work too. */
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap + 1);
  if (!buf) {
    fclose(f);
    return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", path);
  }
  for (;;) {
    if (n == cap) {
      size_t ncap = cap * 2;
      unsigned char *nb = realloc(buf, ncap + 1);
      if (!nb) {
        free(buf);
        fclose(f);
        return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory after %zu bytes", path, n);
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  int saved = errno;
  fclose(f);
  if (failed) {
    free(buf);
    return prior_error_set(PRIOR_ERR_IO, "file %s: read error: %s", path, strerror(saved));
  }
  buf[n] = 0;
  *data = buf;
  *len = n;
  return PRIOR_OK;
}
