/* Shared between the JSON parser and writer. */
#ifndef PRIOR_IO_JSON_INTERNAL_H
#define PRIOR_IO_JSON_INTERNAL_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (at most `avail` bytes available), or 0 when it is invalid. */
size_t prior_json_utf8_seq_len(const unsigned char *p, size_t avail);

#endif
