/* The allowlist of globals a checkpoint pickle may name, and what calling each one means.
 *
 * A pickle is a program: a GLOBAL followed by REDUCE calls any importable function. Python's own loader
 * therefore runs arbitrary code (os.system is one REDUCE away). Here only names in the table below exist; each
 * call is interpreted by C code that builds plain values, so loading a checkpoint cannot execute anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle_internal.h"

enum {
  G_ORDERED_DICT,
  G_REBUILD_TENSOR_V2,
  G_REBUILD_TENSOR,
  G_REBUILD_PARAMETER,
  G_REBUILD_PARAMETER_WITH_STATE,
  G_STORAGE_TYPE, /* torch.FloatStorage and friends: `dtype` says which */
  G_DTYPE,        /* torch.float32 and friends: values, not callables */
  G_DEVICE,
  G_SIZE,
  G_CODECS_ENCODE
};

static const struct {
  const char *module, *name;
  int kind;
  prior_ckpt_dtype dtype;
} allowlist[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2, 0},
    {"torch._utils", "_rebuild_tensor", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, 0},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER_WITH_STATE, 0},
    {"torch", "FloatStorage", G_STORAGE_TYPE, PRIOR_CKPT_F32},
    {"torch", "DoubleStorage", G_STORAGE_TYPE, PRIOR_CKPT_F64},
    {"torch", "HalfStorage", G_STORAGE_TYPE, PRIOR_CKPT_F16},
    {"torch", "BFloat16Storage", G_STORAGE_TYPE, PRIOR_CKPT_BF16},
    {"torch", "LongStorage", G_STORAGE_TYPE, PRIOR_CKPT_I64},
    {"torch", "IntStorage", G_STORAGE_TYPE, PRIOR_CKPT_I32},
    {"torch", "ShortStorage", G_STORAGE_TYPE, PRIOR_CKPT_I16},
    {"torch", "CharStorage", G_STORAGE_TYPE, PRIOR_CKPT_I8},
    {"torch", "ByteStorage", G_STORAGE_TYPE, PRIOR_CKPT_U8},
    {"torch", "BoolStorage", G_STORAGE_TYPE, PRIOR_CKPT_BOOL},
    /* Untyped storages count bytes; a tensor on one would need its dtype from elsewhere, which torch.save never
     * writes, so they are read as bytes. */
    {"torch", "UntypedStorage", G_STORAGE_TYPE, PRIOR_CKPT_U8},
    {"torch.storage", "UntypedStorage", G_STORAGE_TYPE, PRIOR_CKPT_U8},
    {"torch", "float32", G_DTYPE, PRIOR_CKPT_F32},
    {"torch", "float64", G_DTYPE, PRIOR_CKPT_F64},
    {"torch", "float16", G_DTYPE, PRIOR_CKPT_F16},
    {"torch", "bfloat16", G_DTYPE, PRIOR_CKPT_BF16},
    {"torch", "int64", G_DTYPE, PRIOR_CKPT_I64},
    {"torch", "int32", G_DTYPE, PRIOR_CKPT_I32},
    {"torch", "int16", G_DTYPE, PRIOR_CKPT_I16},
    {"torch", "int8", G_DTYPE, PRIOR_CKPT_I8},
    {"torch", "uint8", G_DTYPE, PRIOR_CKPT_U8},
    {"torch", "bool", G_DTYPE, PRIOR_CKPT_BOOL},
    {"torch", "device", G_DEVICE, 0},
    {"torch", "Size", G_SIZE, 0},
    {"_codecs", "encode", G_CODECS_ENCODE, 0},
};

prior_status prior_pk_global(prior_pickle *vm, const char *module, const char *name, prior_pk **out) {
  for (size_t i = 0; i < sizeof allowlist / sizeof allowlist[0]; i++) {
    if (strcmp(allowlist[i].module, module) || strcmp(allowlist[i].name, name)) continue;
    prior_pk *g = prior_pk_new(vm, PRIOR_PK_GLOBAL);
    size_t n = strlen(module) + strlen(name) + 2;
    if (!g || !(g->s = malloc(n))) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source);
    snprintf(g->s, n, "%s.%s", module, name);
    g->len = n - 1;
    g->i = allowlist[i].kind;
    g->dtype = allowlist[i].dtype;
    *out = g;
    return PRIOR_OK;
  }
  /* Storage types we cannot represent (complex, float8, unsigned 16-64 bit) are safe but unsupported. */
  size_t nlen = strlen(name);
  if (strcmp(module, "torch") == 0 && nlen > 7 && strcmp(name + nlen - 7, "Storage") == 0)
    return prior_error_set(PRIOR_ERR_UNSUPPORTED, "%s: byte %zu: tensors stored as torch.%s have no supported dtype",
                           vm->source, vm->op_pos, name);
  return prior_error_set(PRIOR_ERR_FORMAT,
                         "%s: byte %zu: refusing to load global %s.%s: checkpoints must not execute code", vm->source,
                         vm->op_pos, module, name);
}

static int is_int(const prior_pk *v) { return v->type == PRIOR_PK_INT || v->type == PRIOR_PK_BOOL; }

/* Reads a tuple of non-negative ints (a shape or strides) into dst. */
static prior_status int_tuple(prior_pickle *vm, const prior_pk *t, long long *dst, int *n, const char *what) {
  if ((t->type != PRIOR_PK_TUPLE && t->type != PRIOR_PK_LIST) || t->n > PRIOR_CKPT_MAX_DIMS) {
    char msg[96];
    snprintf(msg, sizeof msg, "tensor %s is not a tuple of at most %d integers", what, PRIOR_CKPT_MAX_DIMS);
    return prior_pk_fail(vm, msg);
  }
  for (size_t i = 0; i < t->n; i++) {
    if (!is_int(t->items[i]) || t->items[i]->i < 0) {
      char msg[96];
      snprintf(msg, sizeof msg, "tensor %s holds something other than non-negative integers", what);
      return prior_pk_fail(vm, msg);
    }
    dst[i] = t->items[i]->i;
  }
  *n = (int)t->n;
  return PRIOR_OK;
}

/* _rebuild_tensor(_v2)(storage, storage_offset, size, stride, ...): a strided view, checked to lie inside the
 * storage so that later reads cannot run past it. */
static prior_status rebuild_tensor(prior_pickle *vm, prior_pk *args, prior_pk **out) {
  if (args->n < 4) return prior_pk_fail(vm, "_rebuild_tensor needs storage, offset, size and stride");
  prior_pk *storage = args->items[0], *offset = args->items[1];
  if (storage->type != PRIOR_PK_STORAGE) return prior_pk_fail(vm, "_rebuild_tensor's first argument is not a storage");
  if (!is_int(offset) || offset->i < 0) return prior_pk_fail(vm, "tensor storage offset is not a non-negative integer");
  prior_pk *t = prior_pk_new(vm, PRIOR_PK_TENSOR);
  if (!t) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source);
  int nstride = 0;
  PRIOR_TRY(int_tuple(vm, args->items[2], t->shape, &t->ndim, "size"));
  PRIOR_TRY(int_tuple(vm, args->items[3], t->stride, &nstride, "stride"));
  if (nstride != t->ndim) return prior_pk_fail(vm, "tensor size and stride have different lengths");
  t->storage = storage;
  t->offset = offset->i;
  t->dtype = storage->dtype;
  long long numel = prior_ckpt_numel(t->ndim, t->shape);
  if (numel < 0) return prior_pk_fail(vm, "tensor size is too large");
  if (numel > 0) {
    /* Index of the last element: offset + sum (size-1)*stride, checked term by term so nothing overflows. */
    unsigned long long last = (unsigned long long)t->offset, cap = (unsigned long long)storage->numel;
    for (int d = 0; d < t->ndim && last < cap; d++) {
      unsigned long long extent = (unsigned long long)(t->shape[d] - 1), stride = (unsigned long long)t->stride[d];
      if (stride && extent > cap / stride) last = cap;
      else last += extent * stride;
    }
    if (last >= (unsigned long long)storage->numel) {
      char msg[160];
      snprintf(msg, sizeof msg, "tensor view (offset %lld) reaches past the end of its storage of %lld elements",
               t->offset, storage->numel);
      return prior_pk_fail(vm, msg);
    }
  }
  *out = t;
  return PRIOR_OK;
}

/* _codecs.encode(text, "latin1"): how protocol 2 pickles bytes objects. The text is UTF-8 here; every code
 * point must fit one latin-1 byte. */
static prior_status codecs_encode(prior_pickle *vm, prior_pk *args, prior_pk **out) {
  if (args->n != 2 || args->items[0]->type != PRIOR_PK_STR || args->items[1]->type != PRIOR_PK_STR ||
      (strcmp(args->items[1]->s, "latin1") && strcmp(args->items[1]->s, "latin-1")))
    return prior_pk_fail(vm, "_codecs.encode is only read as encode(str, 'latin1')");
  const prior_pk *src = args->items[0];
  prior_pk *b = prior_pk_new(vm, PRIOR_PK_BYTES);
  if (!b || !(b->s = malloc(src->len + 1))) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source);
  const unsigned char *p = (const unsigned char *)src->s;
  size_t n = 0;
  for (size_t i = 0; i < src->len;) {
    if (p[i] < 0x80) b->s[n++] = (char)p[i++];
    else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < src->len && (p[i + 1] & 0xc0) == 0x80) {
      b->s[n++] = (char)(((p[i] & 0x03) << 6) | (p[i + 1] & 0x3f));
      i += 2;
    } else {
      return prior_pk_fail(vm, "_codecs.encode: text does not fit latin-1");
    }
  }
  b->s[n] = '\0';
  b->len = n;
  *out = b;
  return PRIOR_OK;
}

prior_status prior_pk_call(prior_pickle *vm, prior_pk *callable, prior_pk *args, prior_pk **out) {
  if (callable->type != PRIOR_PK_GLOBAL) return prior_pk_fail(vm, "REDUCE/NEWOBJ on a value that is not a global");
  if (args->type != PRIOR_PK_TUPLE) return prior_pk_fail(vm, "REDUCE/NEWOBJ arguments are not a tuple");
  prior_pk *v;
  switch ((int)callable->i) {
    case G_ORDERED_DICT:
      if (args->n) return prior_pk_fail(vm, "OrderedDict called with arguments");
      if (!(v = prior_pk_new(vm, PRIOR_PK_DICT))) break;
      *out = v;
      return PRIOR_OK;
    case G_REBUILD_TENSOR_V2:
    case G_REBUILD_TENSOR:
      return rebuild_tensor(vm, args, out);
    case G_REBUILD_PARAMETER:
    case G_REBUILD_PARAMETER_WITH_STATE:
      /* A Parameter is its tensor plus requires_grad and hooks, which a checkpoint reader does not need. */
      if (args->n < 1 || args->items[0]->type != PRIOR_PK_TENSOR)
        return prior_pk_fail(vm, "_rebuild_parameter's first argument is not a tensor");
      *out = args->items[0];
      return PRIOR_OK;
    case G_DEVICE:
      if (!(v = prior_pk_new(vm, PRIOR_PK_OBJECT)) || !(v->s = strdup("torch.device"))) break;
      v->len = strlen(v->s);
      *out = v;
      return PRIOR_OK;
    case G_SIZE:
      if (args->n != 1 || args->items[0]->type != PRIOR_PK_TUPLE)
        return prior_pk_fail(vm, "torch.Size needs one tuple");
      *out = args->items[0];
      return PRIOR_OK;
    case G_CODECS_ENCODE:
      return codecs_encode(vm, args, out);
    default: {
      char msg[300];
      snprintf(msg, sizeof msg, "%s cannot be called", callable->s);
      return prior_pk_fail(vm, msg);
    }
  }
  return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source);
}

prior_status prior_pk_persistent(prior_pickle *vm, prior_pk *pid, prior_pk **out) {
  if (pid->type != PRIOR_PK_TUPLE || pid->n < 5 || pid->items[0]->type != PRIOR_PK_STR ||
      strcmp(pid->items[0]->s, "storage") != 0)
    return prior_pk_fail(vm, "persistent id is not a ('storage', type, key, location, size) tuple");
  prior_pk *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
  if (type->type != PRIOR_PK_GLOBAL || type->i != G_STORAGE_TYPE)
    return prior_pk_fail(vm, "persistent id does not name a storage type");
  if (key->type != PRIOR_PK_STR || key->len == 0 || key->len > 200 || memchr(key->s, '/', key->len) ||
      strlen(key->s) != key->len)
    return prior_pk_fail(vm, "storage key is not a short plain string");
  if (!is_int(numel) || numel->i < 0) return prior_pk_fail(vm, "storage size is not a non-negative integer");
  prior_pk *s = prior_pk_new(vm, PRIOR_PK_STORAGE);
  if (!s || !(s->key = strdup(key->s))) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source);
  s->dtype = type->dtype;
  s->numel = numel->i;
  /* Legacy files may describe a view of another storage: (view_key, offset, view_size). */
  if (pid->n >= 6 && pid->items[5]->type != PRIOR_PK_NONE) {
    prior_pk *view = pid->items[5];
    if (view->type != PRIOR_PK_TUPLE || view->n != 3 || !is_int(view->items[1]) || !is_int(view->items[2]) ||
        view->items[1]->i < 0 || view->items[2]->i < 0)
      return prior_pk_fail(vm, "storage view metadata is not (key, offset, size)");
    s->view_offset = view->items[1]->i;
    s->numel = view->items[2]->i;
  }
  if (vm->n_storages == vm->cap_storages) {
    size_t cap = vm->cap_storages ? vm->cap_storages * 2 : 16;
    prior_pk **st = realloc(vm->storages, cap * sizeof *st);
    if (!st) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source);
    vm->storages = st;
    vm->cap_storages = cap;
  }
  vm->storages[vm->n_storages++] = s;
  *out = s;
  return PRIOR_OK;
}
