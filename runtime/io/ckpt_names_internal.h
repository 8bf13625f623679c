/* The name list's layout, shared by the edits (ckpt_names.c) and the match report (ckpt_match.c). */
#ifndef PRIOR_IO_CKPT_NAMES_INTERNAL_H
#define PRIOR_IO_CKPT_NAMES_INTERNAL_H

#include "prior/ckpt_names.h"

struct prior_ckpt_names {
  const prior_ckpt_tensor *tensors; /* the caller's records */
  char **names;                     /* current names */
  size_t *source;                   /* names[i] belongs to tensors[source[i]] */
  size_t *by_name;                  /* positions sorted by current name */
  size_t n;
};

/* Position of `name` in the list, or -1. */
long long prior_ckpt_names_lookup(const prior_ckpt_names *m, const char *name);

#endif
