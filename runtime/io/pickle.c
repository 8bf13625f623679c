/* Pickle VM: the opcode loop, the value stack with its marks, and the memo. The allowlisted globals and what
 * calling them means live in pickle_globals.c. */
#include "io/pickle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle_internal.h"

/* ---- values ------------------------------------------------------------------------------------------ */

prior_pk *prior_pk_new(prior_pickle *vm, prior_pk_type type) {
  if (vm->n_all == vm->cap_all) {
    size_t cap = vm->cap_all ? vm->cap_all * 2 : 256;
    prior_pk **all = realloc(vm->all, cap * sizeof *all);
    if (!all) return NULL;
    vm->all = all;
    vm->cap_all = cap;
  }
  prior_pk *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->type = type;
  vm->all[vm->n_all++] = v;
  return v;
}

prior_status prior_pk_append(prior_pickle *vm, prior_pk *container, prior_pk *item) {
  if (container->n == container->cap) {
    size_t cap = container->cap ? container->cap * 2 : 4;
    prior_pk **items = realloc(container->items, cap * sizeof *items);
    if (!items) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source);
    container->items = items;
    container->cap = cap;
  }
  container->items[container->n++] = item;
  return PRIOR_OK;
}

prior_pickle *prior_pickle_new(void) {
  prior_pickle *vm = calloc(1, sizeof *vm);
  if (!vm) prior_error_set(PRIOR_ERR_MEMORY, "pickle: out of memory");
  return vm;
}

void prior_pickle_free(prior_pickle *vm) {
  if (!vm) return;
  for (size_t i = 0; i < vm->n_all; i++) {
    free(vm->all[i]->items);
    free(vm->all[i]->s);
    free(vm->all[i]->key);
    free(vm->all[i]);
  }
  free(vm->all);
  free(vm->stack);
  free(vm->marks);
  free(vm->memo);
  free(vm->storages);
  free(vm);
}

size_t prior_pickle_storage_count(const prior_pickle *vm) { return vm ? vm->n_storages : 0; }
prior_pk *prior_pickle_storage_at(const prior_pickle *vm, size_t i) {
  return vm && i < vm->n_storages ? vm->storages[i] : NULL;
}

/* ---- errors ------------------------------------------------------------------------------------------ */

prior_status prior_pk_fail(prior_pickle *vm, const char *what) {
  return prior_error_set(PRIOR_ERR_FORMAT, "%s: byte %zu: %s", vm->source, vm->op_pos, what);
}

static prior_status oom(prior_pickle *vm) { return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", vm->source); }

/* ---- stack, marks, memo ------------------------------------------------------------------------------ */

static prior_status push(prior_pickle *vm, prior_pk *v) {
  if (!v) return oom(vm);
  if (vm->sp == vm->stack_cap) {
    size_t cap = vm->stack_cap ? vm->stack_cap * 2 : 64;
    prior_pk **s = realloc(vm->stack, cap * sizeof *s);
    if (!s) return oom(vm);
    vm->stack = s;
    vm->stack_cap = cap;
  }
  vm->stack[vm->sp++] = v;
  return PRIOR_OK;
}

static prior_status pop(prior_pickle *vm, prior_pk **out) {
  size_t floor = vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
  if (vm->sp <= floor) return prior_pk_fail(vm, "pickle stack underflow");
  *out = vm->stack[--vm->sp];
  return PRIOR_OK;
}

static prior_status top(prior_pickle *vm, prior_pk **out) {
  size_t floor = vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
  if (vm->sp <= floor) return prior_pk_fail(vm, "pickle stack underflow");
  *out = vm->stack[vm->sp - 1];
  return PRIOR_OK;
}

static prior_status push_mark(prior_pickle *vm) {
  if (vm->n_marks == vm->marks_cap) {
    size_t cap = vm->marks_cap ? vm->marks_cap * 2 : 16;
    size_t *m = realloc(vm->marks, cap * sizeof *m);
    if (!m) return oom(vm);
    vm->marks = m;
    vm->marks_cap = cap;
  }
  vm->marks[vm->n_marks++] = vm->sp;
  return PRIOR_OK;
}

/* Removes everything above the topmost mark and the mark itself; the items stay readable at *first. */
static prior_status pop_mark(prior_pickle *vm, prior_pk ***first, size_t *count) {
  if (!vm->n_marks) return prior_pk_fail(vm, "pickle opcode needs a MARK but none is set");
  size_t m = vm->marks[--vm->n_marks];
  *first = vm->stack + m;
  *count = vm->sp - m;
  vm->sp = m;
  return PRIOR_OK;
}

static prior_status memo_put(prior_pickle *vm, unsigned long long idx) {
  prior_pk *v = NULL;
  PRIOR_TRY(top(vm, &v));
  /* Real pickles number memo entries consecutively; an index far beyond the input size is hostile. */
  if (idx > vm->len) return prior_pk_fail(vm, "pickle memo index is out of all proportion to the input");
  if (idx >= vm->memo_cap) {
    size_t cap = vm->memo_cap ? vm->memo_cap : 64;
    while (cap <= idx) cap *= 2;
    prior_pk **m = realloc(vm->memo, cap * sizeof *m);
    if (!m) return oom(vm);
    memset(m + vm->memo_cap, 0, (cap - vm->memo_cap) * sizeof *m);
    vm->memo = m;
    vm->memo_cap = cap;
  }
  vm->memo[idx] = v;
  if (idx >= vm->memo_next) vm->memo_next = idx + 1;
  return PRIOR_OK;
}

static prior_status memo_get(prior_pickle *vm, unsigned long long idx) {
  if (idx >= vm->memo_cap || !vm->memo[idx]) return prior_pk_fail(vm, "pickle memo GET of an index never PUT");
  return push(vm, vm->memo[idx]);
}

/* ---- reading the input ------------------------------------------------------------------------------- */

static int need(prior_pickle *vm, size_t n) { return vm->len - vm->pos >= n; }

static unsigned long long read_le(prior_pickle *vm, int n) {
  unsigned long long v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | vm->data[vm->pos + (size_t)i];
  vm->pos += (size_t)n;
  return v;
}

static prior_status push_bytes(prior_pickle *vm, prior_pk_type type, unsigned long long n) {
  if (!need(vm, n)) return prior_pk_fail(vm, "string runs past the end of the pickle (truncated?)");
  prior_pk *v = prior_pk_new(vm, type);
  if (!v || !(v->s = malloc(n + 1))) return oom(vm);
  memcpy(v->s, vm->data + vm->pos, n);
  v->s[n] = '\0';
  v->len = (size_t)n;
  vm->pos += n;
  return push(vm, v);
}

static prior_status push_int(prior_pickle *vm, long long x) {
  prior_pk *v = prior_pk_new(vm, PRIOR_PK_INT);
  if (v) v->i = x;
  return push(vm, v);
}

/* LONG1/LONG4: little-endian two's complement of n bytes. Values beyond int64 are not needed by checkpoints. */
static prior_status push_long(prior_pickle *vm, unsigned long long n) {
  if (!need(vm, n)) return prior_pk_fail(vm, "LONG runs past the end of the pickle");
  if (n > 8) return prior_pk_fail(vm, "integer wider than 64 bits");
  unsigned long long v = 0;
  for (size_t i = 0; i < n; i++) v |= (unsigned long long)vm->data[vm->pos + i] << (8 * i);
  if (n && n < 8 && (vm->data[vm->pos + n - 1] & 0x80)) v |= ~0ull << (8 * n); /* sign-extend */
  vm->pos += n;
  return push_int(vm, (long long)v);
}

/* Text form "module\nname\n" of the GLOBAL opcode. */
static prior_status read_line(prior_pickle *vm, char *buf, size_t cap) {
  const unsigned char *nl = memchr(vm->data + vm->pos, '\n', vm->len - vm->pos);
  if (!nl) return prior_pk_fail(vm, "GLOBAL name runs past the end of the pickle");
  size_t n = (size_t)(nl - (vm->data + vm->pos));
  if (n >= cap) return prior_pk_fail(vm, "GLOBAL name is too long");
  memcpy(buf, vm->data + vm->pos, n);
  buf[n] = '\0';
  vm->pos += n + 1;
  return PRIOR_OK;
}

/* ---- container opcodes ------------------------------------------------------------------------------- */

static prior_status make_tuple(prior_pickle *vm, prior_pk **items, size_t n) {
  prior_pk *t = prior_pk_new(vm, PRIOR_PK_TUPLE);
  if (!t) return oom(vm);
  for (size_t i = 0; i < n; i++) PRIOR_TRY(prior_pk_append(vm, t, items[i]));
  return push(vm, t);
}

static prior_status tuple_n(prior_pickle *vm, size_t n) {
  prior_pk *items[3] = {NULL, NULL, NULL};
  for (size_t i = n; i > 0; i--) PRIOR_TRY(pop(vm, &items[i - 1]));
  return make_tuple(vm, items, n);
}

static prior_status set_items(prior_pickle *vm, prior_pk **items, size_t n) {
  prior_pk *d = NULL;
  if (n % 2) return prior_pk_fail(vm, "SETITEMS with an odd number of items");
  PRIOR_TRY(top(vm, &d));
  if (d->type != PRIOR_PK_DICT) return prior_pk_fail(vm, "SETITEM(S) on something that is not a dict");
  for (size_t i = 0; i < n; i++) PRIOR_TRY(prior_pk_append(vm, d, items[i]));
  return PRIOR_OK;
}

static prior_status append_items(prior_pickle *vm, prior_pk **items, size_t n) {
  prior_pk *l = NULL;
  PRIOR_TRY(top(vm, &l));
  if (l->type != PRIOR_PK_LIST) return prior_pk_fail(vm, "APPEND(S)/ADDITEMS on something that is not a list or set");
  for (size_t i = 0; i < n; i++) PRIOR_TRY(prior_pk_append(vm, l, items[i]));
  return PRIOR_OK;
}

/* ---- the opcode loop --------------------------------------------------------------------------------- */

static prior_status step(prior_pickle *vm, int *stop) {
  prior_pk *a = NULL, *b = NULL, **items = NULL;
  size_t n = 0;
  char module[256], name[256];
  vm->op_pos = vm->pos;
  unsigned char op = vm->data[vm->pos++];
#define NEED(k) \
  if (!need(vm, (k))) return prior_pk_fail(vm, "opcode argument runs past the end of the pickle (truncated?)")
  switch (op) {
    case 0x80: /* PROTO */
      NEED(1);
      if (vm->data[vm->pos] > 5) return prior_pk_fail(vm, "pickle protocol above 5");
      vm->pos++;
      return PRIOR_OK;
    case 0x95: /* FRAME: a length hint only */
      NEED(8);
      vm->pos += 8;
      return PRIOR_OK;
    case '.': /* STOP */
      *stop = 1;
      return PRIOR_OK;
    case '(': return push_mark(vm);
    case '0': return pop(vm, &a);
    case '1': return pop_mark(vm, &items, &n);
    case '2': PRIOR_TRY(top(vm, &a)); return push(vm, a);
    case 'N': return push(vm, prior_pk_new(vm, PRIOR_PK_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
      a = prior_pk_new(vm, PRIOR_PK_BOOL);
      if (a) a->i = op == 0x88;
      return push(vm, a);
    case 'J': NEED(4); return push_int(vm, (int32_t)(uint32_t)read_le(vm, 4)); /* BININT */
    case 'K': NEED(1); return push_int(vm, (long long)read_le(vm, 1));        /* BININT1 */
    case 'M': NEED(2); return push_int(vm, (long long)read_le(vm, 2));        /* BININT2 */
    case 0x8a: NEED(1); return push_long(vm, read_le(vm, 1));                /* LONG1 */
    case 0x8b: NEED(4); return push_long(vm, read_le(vm, 4));                /* LONG4 */
    case 'G': { /* BINFLOAT: big-endian double */
      NEED(8);
      uint64_t bits = 0;
      for (int i = 0; i < 8; i++) bits = (bits << 8) | vm->data[vm->pos++];
      a = prior_pk_new(vm, PRIOR_PK_FLOAT);
      if (a) memcpy(&a->f, &bits, sizeof a->f);
      return push(vm, a);
    }
    case 'X': NEED(4); return push_bytes(vm, PRIOR_PK_STR, read_le(vm, 4));    /* BINUNICODE */
    case 0x8c: NEED(1); return push_bytes(vm, PRIOR_PK_STR, read_le(vm, 1));   /* SHORT_BINUNICODE */
    case 0x8d: NEED(8); return push_bytes(vm, PRIOR_PK_STR, read_le(vm, 8));   /* BINUNICODE8 */
    case 'T': NEED(4); return push_bytes(vm, PRIOR_PK_STR, read_le(vm, 4));    /* BINSTRING (Python 2 str) */
    case 'U': NEED(1); return push_bytes(vm, PRIOR_PK_STR, read_le(vm, 1));    /* SHORT_BINSTRING */
    case 'B': NEED(4); return push_bytes(vm, PRIOR_PK_BYTES, read_le(vm, 4));  /* BINBYTES */
    case 'C': NEED(1); return push_bytes(vm, PRIOR_PK_BYTES, read_le(vm, 1));  /* SHORT_BINBYTES */
    case 0x8e: NEED(8); return push_bytes(vm, PRIOR_PK_BYTES, read_le(vm, 8)); /* BINBYTES8 */
    case '}': return push(vm, prior_pk_new(vm, PRIOR_PK_DICT));  /* EMPTY_DICT */
    case ']': return push(vm, prior_pk_new(vm, PRIOR_PK_LIST));  /* EMPTY_LIST */
    case 0x8f: return push(vm, prior_pk_new(vm, PRIOR_PK_LIST)); /* EMPTY_SET: sets are read as lists */
    case ')': return make_tuple(vm, NULL, 0);                    /* EMPTY_TUPLE */
    case 0x85: return tuple_n(vm, 1);
    case 0x86: return tuple_n(vm, 2);
    case 0x87: return tuple_n(vm, 3);
    case 't': PRIOR_TRY(pop_mark(vm, &items, &n)); return make_tuple(vm, items, n);
    case 0x91: PRIOR_TRY(pop_mark(vm, &items, &n)); /* FROZENSET */
      a = prior_pk_new(vm, PRIOR_PK_LIST);
      if (!a) return oom(vm);
      for (size_t i = 0; i < n; i++) PRIOR_TRY(prior_pk_append(vm, a, items[i]));
      return push(vm, a);
    case 'l': /* LIST */
    case 'd': /* DICT */
      PRIOR_TRY(pop_mark(vm, &items, &n));
      if (op == 'd' && n % 2) return prior_pk_fail(vm, "DICT with an odd number of items");
      a = prior_pk_new(vm, op == 'l' ? PRIOR_PK_LIST : PRIOR_PK_DICT);
      if (!a) return oom(vm);
      for (size_t i = 0; i < n; i++) PRIOR_TRY(prior_pk_append(vm, a, items[i]));
      return push(vm, a);
    case 's': { /* SETITEM */
      prior_pk *kv[2] = {NULL, NULL};
      PRIOR_TRY(pop(vm, &kv[1]));
      PRIOR_TRY(pop(vm, &kv[0]));
      return set_items(vm, kv, 2);
    }
    case 'u': PRIOR_TRY(pop_mark(vm, &items, &n)); return set_items(vm, items, n);    /* SETITEMS */
    case 'a': PRIOR_TRY(pop(vm, &a)); return append_items(vm, &a, 1);                 /* APPEND */
    case 'e': /* APPENDS */
    case 0x90: /* ADDITEMS */
      PRIOR_TRY(pop_mark(vm, &items, &n));
      return append_items(vm, items, n);
    case 'q': NEED(1); return memo_put(vm, read_le(vm, 1));  /* BINPUT */
    case 'r': NEED(4); return memo_put(vm, read_le(vm, 4));  /* LONG_BINPUT */
    case 0x94: return memo_put(vm, vm->memo_next);           /* MEMOIZE */
    case 'h': NEED(1); return memo_get(vm, read_le(vm, 1));  /* BINGET */
    case 'j': NEED(4); return memo_get(vm, read_le(vm, 4));  /* LONG_BINGET */
    case 'c': /* GLOBAL */
      PRIOR_TRY(read_line(vm, module, sizeof module));
      PRIOR_TRY(read_line(vm, name, sizeof name));
      PRIOR_TRY(prior_pk_global(vm, module, name, &a));
      return push(vm, a);
    case 0x93: /* STACK_GLOBAL */
      PRIOR_TRY(pop(vm, &b));
      PRIOR_TRY(pop(vm, &a));
      if (a->type != PRIOR_PK_STR || b->type != PRIOR_PK_STR || a->len >= sizeof module || b->len >= sizeof name)
        return prior_pk_fail(vm, "STACK_GLOBAL needs two short strings");
      PRIOR_TRY(prior_pk_global(vm, a->s, b->s, &a));
      return push(vm, a);
    case 'R': /* REDUCE: callable, args */
    case 0x81: /* NEWOBJ: cls, args */
      PRIOR_TRY(pop(vm, &b));
      PRIOR_TRY(pop(vm, &a));
      PRIOR_TRY(prior_pk_call(vm, a, b, &a));
      return push(vm, a);
    case 0x92: { /* NEWOBJ_EX: cls, args, kwargs */
      prior_pk *kw = NULL;
      PRIOR_TRY(pop(vm, &kw));
      PRIOR_TRY(pop(vm, &b));
      PRIOR_TRY(pop(vm, &a));
      if (kw->type != PRIOR_PK_DICT || kw->n) return prior_pk_fail(vm, "NEWOBJ_EX with keyword arguments");
      PRIOR_TRY(prior_pk_call(vm, a, b, &a));
      return push(vm, a);
    }
    case 'b': /* BUILD: object state (a dict's attributes such as _metadata) is not needed; drop it */
      PRIOR_TRY(pop(vm, &b));
      PRIOR_TRY(top(vm, &a));
      return PRIOR_OK;
    case 'Q': /* BINPERSID */
      PRIOR_TRY(pop(vm, &a));
      PRIOR_TRY(prior_pk_persistent(vm, a, &a));
      return push(vm, a);
    default: {
      char what[64];
      snprintf(what, sizeof what, "unsupported pickle opcode 0x%02x", op);
      return prior_pk_fail(vm, what);
    }
  }
#undef NEED
}

prior_status prior_pickle_load(prior_pickle *vm, const unsigned char *data, size_t len, const char *source,
                               prior_pk **result, size_t *consumed) {
  if (!vm || !result) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_pickle_load: NULL argument");
  *result = NULL;
  vm->data = data;
  vm->len = len;
  vm->pos = 0;
  vm->source = source ? source : "pickle";
  vm->sp = vm->n_marks = 0;
  vm->memo_next = 0;
  if (vm->memo) memset(vm->memo, 0, vm->memo_cap * sizeof *vm->memo);
  int stop = 0;
  while (!stop) {
    if (vm->pos >= len) {
      vm->op_pos = vm->pos;
      return prior_pk_fail(vm, "pickle ends without a STOP opcode (truncated?)");
    }
    PRIOR_TRY(step(vm, &stop));
  }
  if (vm->sp != 1 || vm->n_marks) return prior_pk_fail(vm, "STOP with more or less than one value on the stack");
  *result = vm->stack[0];
  if (consumed) *consumed = vm->pos;
  return PRIOR_OK;
}
