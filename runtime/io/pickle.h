/* A pickle virtual machine for the subset of protocol 2-5 that PyTorch state dicts use.
 *
 * It never executes code: a GLOBAL opcode naming anything outside a short allowlist (the tensor and parameter
 * rebuild functions, storage types, OrderedDict, torch.device/Size/dtypes, _codecs.encode) fails at once with an
 * error naming the global. Allowlisted callables are interpreted here: _rebuild_tensor_v2 becomes a tensor value
 * that refers to a storage value produced by the persistent-id opcode, OrderedDict becomes a dict.
 *
 * Internal to the checkpoint readers. All values belong to the VM and are freed with it; one VM may load
 * several pickles in a row (the legacy PyTorch format is a sequence of pickles). */
#ifndef PRIOR_IO_PICKLE_H
#define PRIOR_IO_PICKLE_H

#include <stddef.h>

#include "prior/ckpt.h"
#include "prior/error.h"

typedef enum prior_pk_type {
  PRIOR_PK_NONE,
  PRIOR_PK_BOOL,
  PRIOR_PK_INT,
  PRIOR_PK_FLOAT,
  PRIOR_PK_STR,
  PRIOR_PK_BYTES,
  PRIOR_PK_TUPLE,
  PRIOR_PK_LIST,
  PRIOR_PK_DICT,
  PRIOR_PK_GLOBAL,  /* an allowlisted global: `i` says which, `s` holds "module.name" */
  PRIOR_PK_OBJECT,  /* a harmless object we do not model (torch.device(...)); `s` names its type */
  PRIOR_PK_STORAGE, /* a storage reference from a persistent id */
  PRIOR_PK_TENSOR
} prior_pk_type;

typedef struct prior_pk prior_pk;
struct prior_pk {
  prior_pk_type type;
  long long i;       /* INT and BOOL value; GLOBAL kind */
  double f;          /* FLOAT */
  char *s;           /* STR, BYTES (not NUL-safe: use len), GLOBAL and OBJECT names */
  size_t len;
  prior_pk **items;  /* TUPLE, LIST: n items. DICT: n/2 pairs stored key, value, key, value... */
  size_t n, cap;
  /* STORAGE: the element type, the key of its bytes, its size in elements, and for a legacy storage view the
   * element offset into the root storage named by `key`. */
  prior_ckpt_dtype dtype;
  char *key;
  long long numel, view_offset;
  /* TENSOR: a strided view of `storage` (bounds already checked against the storage's numel). */
  prior_pk *storage;
  long long offset;
  int ndim;
  long long shape[PRIOR_CKPT_MAX_DIMS], stride[PRIOR_CKPT_MAX_DIMS];
};

typedef struct prior_pickle prior_pickle;

prior_pickle *prior_pickle_new(void); /* NULL when out of memory (error set) */
void prior_pickle_free(prior_pickle *vm);

/* Runs one pickle from data[0..len) up to its STOP opcode. `source` names it in errors ("file x.pt: data.pkl").
 * *consumed receives the number of bytes read (the next pickle in a stream starts there). */
prior_status prior_pickle_load(prior_pickle *vm, const unsigned char *data, size_t len, const char *source,
                               prior_pk **result, size_t *consumed);

/* Every storage value created so far, in order (the legacy format needs their dtypes by key). */
size_t prior_pickle_storage_count(const prior_pickle *vm);
prior_pk *prior_pickle_storage_at(const prior_pickle *vm, size_t i);

#endif
