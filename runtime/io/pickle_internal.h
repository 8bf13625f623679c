/* The pickle VM's state and the hooks between its opcode loop (pickle.c) and its allowlisted globals
 * (pickle_globals.c). */
#ifndef PRIOR_IO_PICKLE_INTERNAL_H
#define PRIOR_IO_PICKLE_INTERNAL_H

#include "io/pickle.h"

struct prior_pickle {
  const unsigned char *data;
  size_t len, pos, op_pos; /* op_pos: where the opcode being run starts, for messages */
  const char *source;
  prior_pk **stack;
  size_t sp, stack_cap;
  size_t *marks; /* stack heights at each MARK */
  size_t n_marks, marks_cap;
  prior_pk **memo;
  size_t memo_cap, memo_next;
  prior_pk **all; /* every value, for freeing */
  size_t n_all, cap_all;
  prior_pk **storages;
  size_t n_storages, cap_storages;
};

prior_pk *prior_pk_new(prior_pickle *vm, prior_pk_type type); /* NULL when out of memory */
prior_status prior_pk_append(prior_pickle *vm, prior_pk *container, prior_pk *item);
/* Sets an error "<source>: byte N: <what>" and returns PRIOR_ERR_FORMAT. */
prior_status prior_pk_fail(prior_pickle *vm, const char *what);

/* GLOBAL: an allowlisted name becomes a GLOBAL value; anything else is refused with an error naming it. */
prior_status prior_pk_global(prior_pickle *vm, const char *module, const char *name, prior_pk **out);
/* REDUCE / NEWOBJ: applies an allowlisted callable to a tuple of arguments. */
prior_status prior_pk_call(prior_pickle *vm, prior_pk *callable, prior_pk *args, prior_pk **out);
/* BINPERSID: turns PyTorch's ('storage', type, key, location, numel[, view]) tuple into a storage value. */
prior_status prior_pk_persistent(prior_pickle *vm, prior_pk *pid, prior_pk **out);

#endif
