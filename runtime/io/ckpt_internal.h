/* Helpers shared by the checkpoint readers and writers: read-only file mappings, a by-name index over records
 * and careful whole-buffer writes. */
#ifndef PRIOR_IO_CKPT_INTERNAL_H
#define PRIOR_IO_CKPT_INTERNAL_H

#include <stddef.h>

#include "prior/ckpt.h"
#include "prior/error.h"

typedef struct {
  const unsigned char *data; /* NULL for an empty file */
  size_t size;
} prior_mapped_file;

/* Maps a whole file read-only. Errors name the file. */
prior_status prior_map_file(const char *path, prior_mapped_file *out);
void prior_unmap_file(prior_mapped_file *m);

/* Positions of `t` sorted by name, for prior_ckpt_index_find. NULL when out of memory (n == 0 gives a valid,
 * empty index). If `duplicate` is given it receives the position of a repeated name, or -1. */
size_t *prior_ckpt_index_build(const prior_ckpt_tensor *t, size_t n, long long *duplicate);
const prior_ckpt_tensor *prior_ckpt_index_find(const prior_ckpt_tensor *t, const size_t *index, size_t n,
                                               const char *name);

/* Writes all of buf to fd, retrying short writes and EINTR; 0 on success, -1 with errno set. */
int prior_write_all(int fd, const void *buf, size_t n);

#endif
