/* Reads a whole file into memory (internal to the readers in this folder). */
#ifndef PRIOR_IO_SLURP_H
#define PRIOR_IO_SLURP_H

#include <stddef.h>

#include "prior/error.h"

/* Reads all of `path` into a malloc'ed buffer with one extra NUL byte after the data (so text parsers may stop at
 * it); *len excludes that byte. Errors name the file and the system's reason. */
prior_status prior_slurp_file(const char *path, unsigned char **data, size_t *len);

#endif
