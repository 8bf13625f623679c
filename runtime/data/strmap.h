/* A string-keyed hash map to int64 values (internal to the dataset readers): joins CSVs by id. */
#ifndef PRIOR_DATA_STRMAP_H
#define PRIOR_DATA_STRMAP_H

#include <stdint.h>

#include "prior/error.h"

typedef struct prior_strmap {
  char **keys;     /* owned copies; NULL marks an empty slot */
  int64_t *values;
  int64_t cap;     /* a power of two, kept at least twice the count */
  int64_t count;
} prior_strmap;

void prior_strmap_init(prior_strmap *m);
void prior_strmap_free(prior_strmap *m);
/* 1 and *value set when key is present, else 0. */
int prior_strmap_get(const prior_strmap *m, const char *key, int64_t *value);
/* Inserts or overwrites. */
prior_status prior_strmap_put(prior_strmap *m, const char *key, int64_t value);

#endif
