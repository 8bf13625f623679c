/* safetensors files: an 8-byte little-endian header length, a JSON header naming every tensor's dtype, shape and
 * byte range, then the tensor bytes.
 *
 * Reading maps the file and parses only the header at open; a tensor's bytes are a pointer into the mapping, so
 * pages are read from disk when first touched. Everything the header claims is checked at open (offsets inside
 * the file, ranges that tile the data region without gaps or overlaps, shape * dtype size == byte length), so a
 * record handed out is always safe to read.
 *
 * Writing is atomic: a temporary file in the same directory is written and fsync'ed, renamed over the target and
 * the directory fsync'ed, so a crash leaves either the old file or the new one. The layout matches the reference
 * writer byte for byte: tensors ordered by dtype (8-byte types first, down to 1-byte ones) then name, so each is
 * aligned to its element size, and the header padded with spaces to a multiple of 8 bytes. */
#ifndef PRIOR_SAFETENSORS_H
#define PRIOR_SAFETENSORS_H

#include <stddef.h>

#include "prior/ckpt.h"
#include "prior/error.h"

typedef struct prior_safetensors prior_safetensors;

prior_status prior_safetensors_open(const char *path, prior_safetensors **out);
void prior_safetensors_close(prior_safetensors *st);

/* Tensors in header order. Records and their bytes live until prior_safetensors_close. */
size_t prior_safetensors_count(const prior_safetensors *st);
const prior_ckpt_tensor *prior_safetensors_tensors(const prior_safetensors *st);
const prior_ckpt_tensor *prior_safetensors_tensor(const prior_safetensors *st, size_t i); /* NULL out of range */
/* NULL when no tensor has that name (no error is set: absence is an answer, not a failure). */
const prior_ckpt_tensor *prior_safetensors_find(const prior_safetensors *st, const char *name);

/* The "__metadata__" string map, in header order. */
size_t prior_safetensors_metadata_count(const prior_safetensors *st);
const char *prior_safetensors_metadata_key(const prior_safetensors *st, size_t i);
const char *prior_safetensors_metadata_value(const prior_safetensors *st, size_t i);
const char *prior_safetensors_metadata_get(const prior_safetensors *st, const char *key); /* NULL if absent */

/* Writes `n` tensors and `n_meta` metadata pairs (both may be 0) to `path`, replacing it atomically. Names must be
 * unique, non-empty and not "__metadata__"; each record's nbytes must equal its shape's element count times the
 * dtype size. */
prior_status prior_safetensors_write(const char *path, const prior_ckpt_tensor *tensors, size_t n,
                                     const char *const *meta_keys, const char *const *meta_values, size_t n_meta);

#endif
