/* Reading zip archives held in memory (a file mapping), as torch.save writes them: stored (uncompressed)
 * entries, ZIP64 end records and extra fields for large files. Entry data are pointers into the mapping.
 * Deflate-compressed entries are reported as unsupported with a clear message: torch.save never compresses.
 * Internal to the checkpoint readers. */
#ifndef PRIOR_IO_ZIP_H
#define PRIOR_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "prior/error.h"

typedef struct prior_zip_entry {
  char *name;
  int method;                 /* 0 stored, 8 deflate, ... */
  uint32_t crc32;
  unsigned long long compressed_size, size, local_offset;
} prior_zip_entry;

typedef struct prior_zip prior_zip;

/* Parses the central directory of data[0..size). `path` names the archive in errors. */
prior_status prior_zip_open(const unsigned char *data, size_t size, const char *path, prior_zip **out);
void prior_zip_close(prior_zip *z);
size_t prior_zip_count(const prior_zip *z);
const prior_zip_entry *prior_zip_entry_at(const prior_zip *z, size_t i);
const prior_zip_entry *prior_zip_find(const prior_zip *z, const char *name); /* NULL, no error, when absent */
/* The bytes of a stored entry, checked to lie inside the archive; `verify_crc` also checks its CRC-32. */
prior_status prior_zip_read(const prior_zip *z, const prior_zip_entry *e, int verify_crc, const unsigned char **data,
                            size_t *size);
uint32_t prior_crc32(const unsigned char *p, size_t n);

#endif
