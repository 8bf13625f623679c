/* File mapping, name index and write helpers behind the checkpoint formats. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/ckpt_internal.h"

prior_status prior_map_file(const char *path, prior_mapped_file *out) {
  out->data = NULL;
  out->size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return prior_error_set(PRIOR_ERR_IO, "file %s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return prior_error_set(PRIOR_ERR_IO, "file %s: not a regular file", path);
  }
  if (sb.st_size > 0) {
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      close(fd);
      return prior_error_set(PRIOR_ERR_IO, "file %s: cannot map %lld bytes: %s", path, (long long)sb.st_size,
                             strerror(e));
    }
    out->data = p;
    out->size = (size_t)sb.st_size;
  }
  close(fd); /* the mapping stays valid without the descriptor */
  return PRIOR_OK;
}

void prior_unmap_file(prior_mapped_file *m) {
  if (m->data) munmap((void *)m->data, m->size);
  m->data = NULL;
  m->size = 0;
}

/* qsort has no context argument; the array being indexed travels beside it. */
static _Thread_local const prior_ckpt_tensor *tls_index_records;

static int by_name(const void *a, const void *b) {
  const prior_ckpt_tensor *t = tls_index_records;
  return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

size_t *prior_ckpt_index_build(const prior_ckpt_tensor *t, size_t n, long long *duplicate) {
  size_t *index = malloc((n ? n : 1) * sizeof *index);
  if (!index) return NULL;
  for (size_t i = 0; i < n; i++) index[i] = i;
  tls_index_records = t;
  qsort(index, n, sizeof *index, by_name);
  if (duplicate) {
    *duplicate = -1;
    for (size_t i = 1; i < n; i++)
      if (strcmp(t[index[i - 1]].name, t[index[i]].name) == 0) {
        *duplicate = (long long)index[i];
        break;
      }
  }
  return index;
}

const prior_ckpt_tensor *prior_ckpt_index_find(const prior_ckpt_tensor *t, const size_t *index, size_t n,
                                               const char *name) {
  if (!t || !index || !name) return NULL;
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(t[index[mid]].name, name);
    if (c == 0) return &t[index[mid]];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

int prior_write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}
