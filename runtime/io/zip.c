/* Zip central-directory reader. Every offset and length read from the archive is checked against the archive's
 * size before it is used, so a truncated or lying file gives an error, never an out-of-bounds read. */
#include "io/zip.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOCATOR 0x07064b50u

struct prior_zip {
  const unsigned char *data;
  size_t size;
  const char *path;
  prior_zip_entry *entries;
  size_t n;
};

static unsigned long long le(const unsigned char *p, int n) {
  unsigned long long v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static prior_status bad(const char *path, const char *what) {
  return prior_error_set(PRIOR_ERR_FORMAT, "file %s: zip archive: %s", path, what);
}

/* The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes. */
static long long find_eocd(const unsigned char *d, size_t size) {
  if (size < 22) return -1;
  size_t stop = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (size_t pos = size - 22;; pos--) {
    if (le(d + pos, 4) == SIG_EOCD && pos + 22 + le(d + pos + 20, 2) == size) return (long long)pos;
    if (pos == stop) return -1;
  }
}

/* Where the central directory is and how many entries it has, from the classic end record or, when that says
 * 0xFFFF/0xFFFFFFFF, from the ZIP64 end record it points to through the locator just before it. */
static prior_status locate_directory(prior_zip *z, unsigned long long *offset, unsigned long long *bytes,
                                     unsigned long long *count) {
  const unsigned char *d = z->data;
  long long eocd = find_eocd(d, z->size);
  if (eocd < 0) return bad(z->path, "no end-of-central-directory record (not a zip file, or truncated)");
  *count = le(d + eocd + 10, 2);
  *bytes = le(d + eocd + 12, 4);
  *offset = le(d + eocd + 16, 4);
  if (*count != 0xffff && *bytes != 0xffffffffu && *offset != 0xffffffffu) return PRIOR_OK;
  if (eocd < 20 || le(d + eocd - 20, 4) != SIG_EOCD64_LOCATOR)
    return bad(z->path, "end record needs ZIP64 values but the ZIP64 locator is missing");
  unsigned long long rec = le(d + eocd - 20 + 8, 8);
  if (rec > z->size || z->size - rec < 56 || le(d + rec, 4) != SIG_EOCD64)
    return bad(z->path, "ZIP64 end-of-central-directory record is missing or out of bounds");
  *count = le(d + rec + 32, 8);
  *bytes = le(d + rec + 40, 8);
  *offset = le(d + rec + 48, 8);
  return PRIOR_OK;
}

/* ZIP64 extended information (extra field 0x0001) holds, in this order, exactly those of size, compressed size
 * and local header offset whose 32-bit fields read 0xFFFFFFFF. */
static prior_status apply_zip64_extra(prior_zip *z, prior_zip_entry *e, const unsigned char *extra, size_t len) {
  int need_size = e->size == 0xffffffffu, need_csize = e->compressed_size == 0xffffffffu,
      need_offset = e->local_offset == 0xffffffffu;
  for (size_t pos = 0; pos + 4 <= len;) {
    unsigned id = (unsigned)le(extra + pos, 2);
    size_t n = (size_t)le(extra + pos + 2, 2);
    if (pos + 4 + n > len) return bad(z->path, "extra field runs past its entry");
    if (id == 0x0001) {
      const unsigned char *f = extra + pos + 4;
      size_t k = 0;
      if (need_size) {
        if (k + 8 > n) return bad(z->path, "ZIP64 extra field is too short");
        e->size = le(f + k, 8), k += 8, need_size = 0;
      }
      if (need_csize) {
        if (k + 8 > n) return bad(z->path, "ZIP64 extra field is too short");
        e->compressed_size = le(f + k, 8), k += 8, need_csize = 0;
      }
      if (need_offset) {
        if (k + 8 > n) return bad(z->path, "ZIP64 extra field is too short");
        e->local_offset = le(f + k, 8), k += 8, need_offset = 0;
      }
    }
    pos += 4 + n;
  }
  if (need_size || need_csize || need_offset)
    return bad(z->path, "entry needs ZIP64 sizes but has no ZIP64 extra field");
  return PRIOR_OK;
}

static prior_status read_directory(prior_zip *z) {
  unsigned long long offset = 0, bytes = 0, count = 0;
  PRIOR_TRY(locate_directory(z, &offset, &bytes, &count));
  if (offset > z->size || bytes > z->size - offset)
    return bad(z->path, "central directory lies outside the file (truncated?)");
  if (count > bytes / 46) return bad(z->path, "central directory claims more entries than it has room for");
  z->entries = calloc(count ? count : 1, sizeof *z->entries);
  if (!z->entries) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", z->path);
  const unsigned char *p = z->data + offset, *end = p + bytes;
  for (unsigned long long i = 0; i < count; i++) {
    if (end - p < 46 || le(p, 4) != SIG_CENTRAL) return bad(z->path, "corrupt central directory entry");
    size_t name_len = (size_t)le(p + 28, 2), extra_len = (size_t)le(p + 30, 2), comment_len = (size_t)le(p + 32, 2);
    if ((size_t)(end - p) < 46 + name_len + extra_len + comment_len)
      return bad(z->path, "central directory entry runs past its end");
    prior_zip_entry *e = &z->entries[z->n];
    if (!(e->name = malloc(name_len + 1))) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", z->path);
    z->n++;
    memcpy(e->name, p + 46, name_len);
    e->name[name_len] = '\0';
    if (le(p + 8, 2) & 1)
      return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: zip entry %s is encrypted", z->path, e->name);
    e->method = (int)le(p + 10, 2);
    e->crc32 = (uint32_t)le(p + 16, 4);
    e->compressed_size = le(p + 20, 4);
    e->size = le(p + 24, 4);
    e->local_offset = le(p + 42, 4);
    PRIOR_TRY(apply_zip64_extra(z, e, p + 46 + name_len, extra_len));
    p += 46 + name_len + extra_len + comment_len;
  }
  return PRIOR_OK;
}

prior_status prior_zip_open(const unsigned char *data, size_t size, const char *path, prior_zip **out) {
  *out = NULL;
  prior_zip *z = calloc(1, sizeof *z);
  if (!z) return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", path);
  z->data = data;
  z->size = size;
  z->path = path;
  prior_status s = read_directory(z);
  if (s != PRIOR_OK) {
    prior_zip_close(z);
    return s;
  }
  *out = z;
  return PRIOR_OK;
}

void prior_zip_close(prior_zip *z) {
  if (!z) return;
  for (size_t i = 0; i < z->n; i++) free(z->entries[i].name);
  free(z->entries);
  free(z);
}

size_t prior_zip_count(const prior_zip *z) { return z ? z->n : 0; }
const prior_zip_entry *prior_zip_entry_at(const prior_zip *z, size_t i) {
  return z && i < z->n ? &z->entries[i] : NULL;
}

const prior_zip_entry *prior_zip_find(const prior_zip *z, const char *name) {
  for (size_t i = 0; z && i < z->n; i++)
    if (strcmp(z->entries[i].name, name) == 0) return &z->entries[i];
  return NULL;
}

prior_status prior_zip_read(const prior_zip *z, const prior_zip_entry *e, int verify_crc, const unsigned char **data,
                            size_t *size) {
  if (e->method != 0) {
    if (e->method == 8)
      return prior_error_set(PRIOR_ERR_UNSUPPORTED,
                             "file %s: zip entry %s is deflate-compressed; only stored entries are read "
                             "(torch.save writes them uncompressed: re-save the checkpoint with torch.save)",
                             z->path, e->name);
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: zip entry %s uses compression method %d", z->path, e->name,
                           e->method);
  }
  /* The local header repeats the name and has its own extra field (torch pads it to align the data). */
  unsigned long long off = e->local_offset;
  if (off > z->size || z->size - off < 30 || le(z->data + off, 4) != SIG_LOCAL)
    return prior_error_set(PRIOR_ERR_FORMAT,
                           "file %s: zip entry %s: local header missing or out of bounds (truncated?)", z->path,
                           e->name);
  unsigned long long start = off + 30 + le(z->data + off + 26, 2) + le(z->data + off + 28, 2);
  if (e->compressed_size != e->size)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: zip entry %s is stored but its two sizes differ", z->path,
                           e->name);
  if (start > z->size || z->size - start < e->size)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: zip entry %s: %llu bytes at offset %llu run past the end of the "
                           "%zu-byte file (truncated?)",
                           z->path, e->name, e->size, start, z->size);
  *data = z->data + start;
  *size = (size_t)e->size;
  if (verify_crc && prior_crc32(*data, *size) != e->crc32)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: zip entry %s fails its CRC-32 check (corrupt file)", z->path,
                           e->name);
  return PRIOR_OK;
}

uint32_t prior_crc32(const unsigned char *p, size_t n) {
  static uint32_t table[256];
  static _Atomic int ready = 0;
  if (!ready) { /* idempotent: racing threads compute the same table */
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1;
  }
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}
