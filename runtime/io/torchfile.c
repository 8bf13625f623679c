/* PyTorch checkpoint reader: finds the pickle and the storages in either container format, runs the pickle
 * through the restricted VM, then flattens the resulting dicts into contiguous tensor records. */
#include "prior/torchfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/ckpt_internal.h"
#include "io/pickle.h"
#include "io/zip.h"

#define MAX_NESTING 64
#define MAX_NAME 4096

typedef struct {
  const char *key;
  const unsigned char *data;
  size_t nbytes;
} legacy_storage;

struct prior_torchfile {
  char *path;
  prior_mapped_file map;
  int is_zip;
  prior_zip *zip;
  char *prefix; /* zip: "<archive>/" in front of data.pkl and data/<key> */
  legacy_storage *legacy;
  size_t n_legacy;
  prior_ckpt_tensor *tensors;
  size_t n, cap;
  size_t *by_name;
  void **owned; /* names and copied tensor bytes */
  size_t n_owned, cap_owned;
};

static prior_status oom(const prior_torchfile *tf) {
  return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", tf->path);
}

static void *own(prior_torchfile *tf, void *p) {
  if (!p) return NULL;
  if (tf->n_owned == tf->cap_owned) {
    size_t cap = tf->cap_owned ? tf->cap_owned * 2 : 64;
    void **o = realloc(tf->owned, cap * sizeof *o);
    if (!o) {
      free(p);
      return NULL;
    }
    tf->owned = o;
    tf->cap_owned = cap;
  }
  tf->owned[tf->n_owned++] = p;
  return p;
}

void prior_torchfile_close(prior_torchfile *tf) {
  if (!tf) return;
  for (size_t i = 0; i < tf->n_owned; i++) free(tf->owned[i]);
  free(tf->owned);
  free(tf->tensors);
  free(tf->by_name);
  free(tf->legacy);
  free(tf->prefix);
  prior_zip_close(tf->zip);
  prior_unmap_file(&tf->map);
  free(tf->path);
  free(tf);
}

/* ---- storages ---------------------------------------------------------------------------------------- */

static prior_status storage_bytes(prior_torchfile *tf, const prior_pk *s, const unsigned char **data, size_t *n) {
  if (tf->is_zip) {
    char name[MAX_NAME];
    snprintf(name, sizeof name, "%sdata/%s", tf->prefix, s->key);
    const prior_zip_entry *e = prior_zip_find(tf->zip, name);
    if (!e) return prior_error_set(PRIOR_ERR_FORMAT, "file %s: storage %s is missing from the archive", tf->path, name);
    return prior_zip_read(tf->zip, e, 0, data, n);
  }
  for (size_t i = 0; i < tf->n_legacy; i++)
    if (strcmp(tf->legacy[i].key, s->key) == 0) {
      *data = tf->legacy[i].data;
      *n = tf->legacy[i].nbytes;
      return PRIOR_OK;
    }
  return prior_error_set(PRIOR_ERR_FORMAT, "file %s: storage %s is missing from the file", tf->path, s->key);
}

/* ---- records ----------------------------------------------------------------------------------------- */

/* Copies a strided view into contiguous row-major order, one element at a time with an N-d counter. */
static void gather(unsigned char *dst, const unsigned char *base, const prior_pk *t, size_t esize, long long numel) {
  long long idx[PRIOR_CKPT_MAX_DIMS] = {0};
  long long src = 0; /* element offset of idx */
  for (long long k = 0; k < numel; k++) {
    memcpy(dst + (size_t)k * esize, base + (size_t)src * esize, esize);
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (++idx[d] < t->shape[d]) {
        src += t->stride[d];
        break;
      }
      src -= (idx[d] - 1) * t->stride[d];
      idx[d] = 0;
    }
  }
}

static int is_contiguous(const prior_pk *t) {
  long long expect = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != expect) return 0;
    expect *= t->shape[d];
  }
  return 1;
}

static prior_status add_tensor(prior_torchfile *tf, const char *name, const prior_pk *t) {
  if (tf->n == tf->cap) {
    size_t cap = tf->cap ? tf->cap * 2 : 64;
    prior_ckpt_tensor *r = realloc(tf->tensors, cap * sizeof *r);
    if (!r) return oom(tf);
    tf->tensors = r;
    tf->cap = cap;
  }
  prior_ckpt_tensor *r = &tf->tensors[tf->n];
  memset(r, 0, sizeof *r);
  if (!(r->name = own(tf, strdup(name)))) return oom(tf);
  const prior_pk *s = t->storage;
  size_t esize = prior_ckpt_dtype_size(s->dtype);
  r->dtype = s->dtype;
  r->ndim = t->ndim;
  memcpy(r->shape, t->shape, sizeof r->shape);
  memcpy(r->source_strides, t->stride, sizeof r->source_strides);
  r->source_offset = t->offset;
  long long numel = prior_ckpt_numel(t->ndim, t->shape);
  r->nbytes = (size_t)numel * esize;
  tf->n++;
  if (numel == 0) return PRIOR_OK;

  const unsigned char *bytes;
  size_t have;
  PRIOR_TRY(storage_bytes(tf, s, &bytes, &have));
  unsigned long long need = ((unsigned long long)s->view_offset + (unsigned long long)s->numel) * esize;
  if (have < need)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: tensor %s: storage %s holds %zu bytes, the checkpoint says %llu",
                           tf->path, name, s->key, have, need);
  const unsigned char *base = bytes + (size_t)s->view_offset * esize;
  const unsigned char *start = base + (size_t)t->offset * esize;
  /* Point into the mapping when the bytes are already in order and aligned for their type. */
  if (is_contiguous(t) && (uintptr_t)start % esize == 0) {
    r->data = start;
    return PRIOR_OK;
  }
  unsigned char *copy = own(tf, malloc(r->nbytes));
  if (!copy) return oom(tf);
  if (is_contiguous(t)) memcpy(copy, start, r->nbytes);
  else gather(copy, start, t, esize, numel);
  r->data = copy;
  return PRIOR_OK;
}

/* Walks dicts (and lists, as nn.ModuleList names them) joining keys with '.'; non-tensor leaves are skipped. */
static prior_status flatten(prior_torchfile *tf, const prior_pk *v, char *name, size_t len, int depth) {
  if (v->type == PRIOR_PK_TENSOR) {
    if (len == 0)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: the checkpoint is a bare tensor, not a dict", tf->path);
    return add_tensor(tf, name, v);
  }
  int is_dict = v->type == PRIOR_PK_DICT, is_seq = v->type == PRIOR_PK_LIST || v->type == PRIOR_PK_TUPLE;
  if (!is_dict && !is_seq) return PRIOR_OK;
  if (depth >= MAX_NESTING)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: dicts nested deeper than %d levels at %s", tf->path, MAX_NESTING,
                           name);
  size_t step = is_dict ? 2 : 1;
  for (size_t i = 0; i + step <= v->n; i += step) {
    char part[64];
    const char *key = part;
    if (!is_dict) snprintf(part, sizeof part, "%zu", i);
    else if (v->items[i]->type == PRIOR_PK_STR) key = v->items[i]->s;
    else if (v->items[i]->type == PRIOR_PK_INT) snprintf(part, sizeof part, "%lld", v->items[i]->i);
    else continue; /* tuple or None keys name no parameter */
    const prior_pk *child = v->items[i + step - 1];
    size_t klen = strlen(key), n = len + (len ? 1 : 0) + klen;
    if (n >= MAX_NAME)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: tensor name longer than %d bytes", tf->path, MAX_NAME);
    if (len) name[len] = '.';
    memcpy(name + (len ? len + 1 : 0), key, klen + 1);
    PRIOR_TRY(flatten(tf, child, name, n, depth + 1));
    name[len] = '\0';
  }
  return PRIOR_OK;
}

static const prior_pk *dict_get(const prior_pk *d, const char *key) {
  if (d->type != PRIOR_PK_DICT) return NULL;
  for (size_t i = 0; i + 1 < d->n; i += 2)
    if (d->items[i]->type == PRIOR_PK_STR && strcmp(d->items[i]->s, key) == 0) return d->items[i + 1];
  return NULL;
}

static prior_status select_root(prior_torchfile *tf, const prior_pk *obj, const char *root_key, const prior_pk **out) {
  *out = obj;
  if (root_key && !root_key[0]) return PRIOR_OK;
  if (root_key) {
    const prior_pk *v = dict_get(obj, root_key);
    if (!v || v->type != PRIOR_PK_DICT)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: the checkpoint has no dict under key \"%s\"", tf->path,
                             root_key);
    *out = v;
    return PRIOR_OK;
  }
  static const char *usual[] = {"state_dict", "model_state_dict", "model"};
  for (size_t i = 0; i < 3; i++) {
    const prior_pk *v = dict_get(obj, usual[i]);
    if (v && v->type == PRIOR_PK_DICT) {
      *out = v;
      return PRIOR_OK;
    }
  }
  return PRIOR_OK;
}

/* ---- containers -------------------------------------------------------------------------------------- */

static prior_status open_zip(prior_torchfile *tf, prior_pickle *vm, prior_pk **obj) {
  PRIOR_TRY(prior_zip_open(tf->map.data, tf->map.size, tf->path, &tf->zip));
  /* torch.save names the archive's top folder after the file; the pickle is "<folder>/data.pkl". */
  const prior_zip_entry *pkl = NULL;
  for (size_t i = 0; i < prior_zip_count(tf->zip) && !pkl; i++) {
    const prior_zip_entry *e = prior_zip_entry_at(tf->zip, i);
    const char *slash = strchr(e->name, '/');
    if (slash && strcmp(slash + 1, "data.pkl") == 0) pkl = e;
  }
  if (!pkl)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: zip archive has no <archive>/data.pkl: not a torch.save file",
                           tf->path);
  size_t plen = (size_t)(strchr(pkl->name, '/') - pkl->name) + 1;
  if (!(tf->prefix = malloc(plen + 1))) return oom(tf);
  memcpy(tf->prefix, pkl->name, plen);
  tf->prefix[plen] = '\0';

  char name[MAX_NAME];
  snprintf(name, sizeof name, "%sbyteorder", tf->prefix);
  const prior_zip_entry *bo = prior_zip_find(tf->zip, name);
  const unsigned char *data;
  size_t n;
  if (bo) {
    PRIOR_TRY(prior_zip_read(tf->zip, bo, 1, &data, &n));
    if (n != 6 || memcmp(data, "little", 6) != 0)
      return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: big-endian checkpoints are not supported", tf->path);
  }
  PRIOR_TRY(prior_zip_read(tf->zip, pkl, 1, &data, &n));
  char source[MAX_NAME + 16];
  snprintf(source, sizeof source, "file %s: %s", tf->path, pkl->name);
  return prior_pickle_load(vm, data, n, source, obj, NULL);
}

/* The legacy format is five pickles in a row (magic number, protocol, system info, the object, the storage keys)
 * followed by each storage as an 8-byte element count and its raw bytes. */
static prior_status open_legacy(prior_torchfile *tf, prior_pickle *vm, prior_pk **obj) {
  static const unsigned char magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                        0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  const unsigned char *p = tf->map.data;
  size_t left = tf->map.size, used;
  if (left < sizeof magic || memcmp(p, magic, sizeof magic) != 0)
    return prior_error_set(PRIOR_ERR_FORMAT,
                           "file %s: not a PyTorch checkpoint (no zip signature, no legacy magic number)", tf->path);
  p += sizeof magic, left -= sizeof magic;
  char source[MAX_NAME + 32];
  snprintf(source, sizeof source, "file %s: legacy header", tf->path);
  prior_pk *version = NULL, *info = NULL, *keys = NULL;
  PRIOR_TRY(prior_pickle_load(vm, p, left, source, &version, &used));
  p += used, left -= used;
  if (version->type != PRIOR_PK_INT || version->i != 1001)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: legacy checkpoint protocol is not 1001", tf->path);
  PRIOR_TRY(prior_pickle_load(vm, p, left, source, &info, &used));
  p += used, left -= used;
  const prior_pk *little = dict_get(info, "little_endian");
  if (little && little->type == PRIOR_PK_BOOL && !little->i)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "file %s: big-endian checkpoints are not supported", tf->path);
  snprintf(source, sizeof source, "file %s: legacy pickle", tf->path);
  PRIOR_TRY(prior_pickle_load(vm, p, left, source, obj, &used));
  p += used, left -= used;
  PRIOR_TRY(prior_pickle_load(vm, p, left, source, &keys, &used));
  p += used, left -= used;
  if (keys->type != PRIOR_PK_LIST)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: legacy storage key list is missing", tf->path);
  if (!(tf->legacy = calloc(keys->n + 1, sizeof *tf->legacy))) return oom(tf);
  for (size_t i = 0; i < keys->n; i++) {
    const prior_pk *k = keys->items[i];
    if (k->type != PRIOR_PK_STR)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: legacy storage key is not a string", tf->path);
    size_t esize = 0;
    for (size_t j = 0; j < prior_pickle_storage_count(vm) && !esize; j++)
      if (strcmp(prior_pickle_storage_at(vm, j)->key, k->s) == 0)
        esize = prior_ckpt_dtype_size(prior_pickle_storage_at(vm, j)->dtype);
    if (!esize)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: legacy storage %s is used by no tensor", tf->path, k->s);
    if (left < 8)
      return prior_error_set(PRIOR_ERR_FORMAT, "file %s: legacy storage %s is missing (truncated file?)", tf->path,
                             k->s);
    unsigned long long count = 0;
    for (int b = 7; b >= 0; b--) count = (count << 8) | p[b];
    p += 8, left -= 8;
    if (count > left / esize)
      return prior_error_set(PRIOR_ERR_FORMAT,
                             "file %s: legacy storage %s of %llu elements runs past the end (truncated file?)",
                             tf->path, k->s, count);
    tf->legacy[i] = (legacy_storage){k->s, p, (size_t)count * esize};
    p += count * esize, left -= count * esize;
  }
  tf->n_legacy = keys->n;
  return PRIOR_OK;
}

static prior_status load(prior_torchfile *tf, const char *root_key) {
  PRIOR_TRY(prior_map_file(tf->path, &tf->map));
  prior_pickle *vm = prior_pickle_new();
  if (!vm) return oom(tf);
  prior_pk *obj = NULL;
  const prior_pk *root = NULL;
  tf->is_zip = tf->map.size >= 4 && memcmp(tf->map.data, "PK\x03\x04", 4) == 0;
  prior_status s = tf->is_zip ? open_zip(tf, vm, &obj) : open_legacy(tf, vm, &obj);
  if (s == PRIOR_OK) s = select_root(tf, obj, root_key, &root);
  char name[MAX_NAME] = "";
  if (s == PRIOR_OK) s = flatten(tf, root, name, 0, 0);
  /* Legacy storage keys point into the VM's strings; they are not needed once the records exist. */
  tf->n_legacy = 0;
  prior_pickle_free(vm);
  if (s != PRIOR_OK) return s;
  long long dup = -1;
  if (!(tf->by_name = prior_ckpt_index_build(tf->tensors, tf->n, &dup))) return oom(tf);
  if (dup >= 0)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s: two tensors flatten to the same name %s", tf->path,
                           tf->tensors[dup].name);
  return PRIOR_OK;
}

prior_status prior_torchfile_open(const char *path, const char *root_key, prior_torchfile **out) {
  if (!path || !out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_torchfile_open: NULL argument");
  *out = NULL;
  prior_torchfile *tf = calloc(1, sizeof *tf);
  if (!tf || !(tf->path = strdup(path))) {
    free(tf);
    return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", path);
  }
  prior_status s = load(tf, root_key);
  if (s != PRIOR_OK) {
    prior_torchfile_close(tf);
    return s;
  }
  *out = tf;
  return PRIOR_OK;
}

size_t prior_torchfile_count(const prior_torchfile *tf) { return tf ? tf->n : 0; }
const prior_ckpt_tensor *prior_torchfile_tensors(const prior_torchfile *tf) { return tf ? tf->tensors : NULL; }
const prior_ckpt_tensor *prior_torchfile_tensor(const prior_torchfile *tf, size_t i) {
  return tf && i < tf->n ? &tf->tensors[i] : NULL;
}
const prior_ckpt_tensor *prior_torchfile_find(const prior_torchfile *tf, const char *name) {
  return tf ? prior_ckpt_index_find(tf->tensors, tf->by_name, tf->n, name) : NULL;
}
int prior_torchfile_is_zip(const prior_torchfile *tf) { return tf ? tf->is_zip : 0; }
