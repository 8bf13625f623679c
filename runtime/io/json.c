/* Strict JSON parser into an arena-allocated DOM.
 *
 * The parser is recursive descent with an explicit depth limit. Children of the container being parsed are
 * collected on a scratch stack shared by all nesting levels and copied into the arena when the container closes,
 * so each array or object ends up as one contiguous block and no per-node allocation is needed. */
#include "prior/json.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_internal.h"

struct prior_json {
  prior_json_type type;
  int is_int;         /* number with an exact int64 value in `ival` */
  long long ival;
  double num;         /* numbers; also 1/0 for booleans */
  size_t len;         /* string bytes, or array/object element count */
  char *str;          /* string value, NUL-terminated */
  prior_json *items;  /* array elements or object member values */
  char **keys;        /* object member keys, NUL-terminated */
  size_t *key_lens;   /* keys may hold \u0000, so their length is kept */
  size_t *sorted;     /* object member positions in key order, for binary search */
};

typedef struct arena_chunk {
  struct arena_chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} arena_chunk;

struct prior_json_doc {
  arena_chunk *chunks;
  prior_json root;
};

typedef struct {
  prior_json value;
  char *key;
  size_t key_len;
} scratch_item;

typedef struct {
  const unsigned char *p, *begin, *end;
  const char *source;
  prior_json_doc *doc;
  scratch_item *scratch;
  size_t scratch_n, scratch_cap;
  int depth;
} parser;

/* ---- arena ------------------------------------------------------------------------------------------- */

static void *arena_alloc(prior_json_doc *doc, size_t n) {
  n = (n + 15) & ~(size_t)15;
  arena_chunk *c = doc->chunks;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    c = malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = doc->chunks;
    doc->chunks = c;
  }
  void *ptr = c->data + c->used;
  c->used += n;
  return ptr;
}

/* ---- errors ------------------------------------------------------------------------------------------ */

static prior_status fail(parser *ps, const char *what) {
  size_t off = (size_t)(ps->p - ps->begin);
  if (ps->p >= ps->end)
    return prior_error_set(PRIOR_ERR_FORMAT, "%s: byte %zu: %s (the text ends here)", ps->source, off, what);
  unsigned char c = *ps->p;
  if (c >= 0x20 && c < 0x7f)
    return prior_error_set(PRIOR_ERR_FORMAT, "%s: byte %zu: %s (found '%c')", ps->source, off, what, c);
  return prior_error_set(PRIOR_ERR_FORMAT, "%s: byte %zu: %s (found byte 0x%02x)", ps->source, off, what, c);
}

static prior_status out_of_memory(parser *ps) {
  return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory while parsing JSON", ps->source);
}

/* ---- lexing helpers ---------------------------------------------------------------------------------- */

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int match_word(parser *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return 0;
  ps->p += n;
  return 1;
}

/* Length of the valid UTF-8 sequence starting at p (at most `avail` bytes), or 0 when invalid. Rejects overlong
 * forms, UTF-16 surrogates and code points above U+10FFFF. */
size_t prior_json_utf8_seq_len(const unsigned char *p, size_t avail) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp, min;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (avail < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

static int read_hex4(parser *ps, uint32_t *out) {
  if (ps->end - ps->p < 4) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = ps->p[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return 0;
    v = v * 16 + (uint32_t)d;
  }
  ps->p += 4;
  *out = v;
  return 1;
}

/* ---- strings ----------------------------------------------------------------------------------------- */

/* Parses a string starting at the opening quote. Decoded text is never longer than the raw text (every escape
 * shrinks or keeps its size), so one allocation of the raw length suffices. */
static prior_status parse_string(parser *ps, char **out, size_t *out_len) {
  ps->p++; /* opening quote */
  const unsigned char *q = ps->p;
  while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
  if (q >= ps->end) return fail(ps, "unterminated string");
  char *buf = arena_alloc(ps->doc, (size_t)(q - ps->p) + 1);
  if (!buf) return out_of_memory(ps);
  size_t n = 0;
  while (*ps->p != '"') {
    unsigned char c = *ps->p;
    if (c < 0x20) return fail(ps, "control character inside a string must be escaped");
    if (c != '\\') {
      size_t k = prior_json_utf8_seq_len(ps->p, (size_t)(ps->end - ps->p));
      if (!k) return fail(ps, "invalid UTF-8 in string");
      memcpy(buf + n, ps->p, k);
      n += k;
      ps->p += k;
      continue;
    }
    ps->p++;
    c = *ps->p++;
    switch (c) {
      case '"': buf[n++] = '"'; break;
      case '\\': buf[n++] = '\\'; break;
      case '/': buf[n++] = '/'; break;
      case 'b': buf[n++] = '\b'; break;
      case 'f': buf[n++] = '\f'; break;
      case 'n': buf[n++] = '\n'; break;
      case 'r': buf[n++] = '\r'; break;
      case 't': buf[n++] = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!read_hex4(ps, &cp)) return fail(ps, "\\u must be followed by four hex digits");
        if (cp >= 0xdc00 && cp <= 0xdfff) return fail(ps, "unpaired low surrogate in \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t lo;
          if (!match_word(ps, "\\u") || !read_hex4(ps, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return fail(ps, "high surrogate in \\u escape not followed by a low surrogate");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        n += put_utf8(buf + n, cp);
        break;
      }
      default:
        ps->p--;
        return fail(ps, "invalid escape sequence");
    }
  }
  ps->p++; /* closing quote */
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return PRIOR_OK;
}

/* ---- numbers ----------------------------------------------------------------------------------------- */

/* strtod follows LC_NUMERIC; a host program may have set a locale whose decimal point is not '.'. */
static void localize_decimal_point(char *s) {
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && dp[0] != '.' && !dp[1])
    for (; *s; s++)
      if (*s == '.') *s = dp[0];
}

static prior_status parse_number(parser *ps, prior_json *v) {
  const unsigned char *start = ps->p;
  int neg = 0, integral = 1;
  if (*ps->p == '-') neg = 1, ps->p++;
  if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "expected a digit");
  if (*ps->p == '0') {
    ps->p++;
    if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') return fail(ps, "leading zeros are not allowed");
  } else {
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  const unsigned char *int_end = ps->p;
  if (ps->p < ps->end && *ps->p == '.') {
    integral = 0;
    ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "expected a digit after '.'");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    integral = 0;
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "expected a digit in the exponent");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  size_t len = (size_t)(ps->p - start);
  char small[64];
  char *copy = len < sizeof small ? small : malloc(len + 1);
  if (!copy) return out_of_memory(ps);
  memcpy(copy, start, len);
  copy[len] = '\0';
  localize_decimal_point(copy);
  v->type = PRIOR_JSON_NUMBER;
  v->num = strtod(copy, NULL);
  if (copy != small) free(copy);

  /* Exact int64 for integer literals; doubles lose precision above 2^53. */
  v->is_int = 0;
  if (integral) {
    unsigned long long mag = 0, limit = neg ? 9223372036854775808ull : 9223372036854775807ull;
    int overflow = 0;
    for (const unsigned char *d = start + neg; d < int_end; d++) {
      unsigned digit = (unsigned)(*d - '0');
      if (mag > (limit - digit) / 10) {
        overflow = 1;
        break;
      }
      mag = mag * 10 + digit;
    }
    if (!overflow) {
      v->is_int = 1;
      v->ival = neg ? (long long)(0ull - mag) : (long long)mag;
    }
  } else if (v->num >= -9223372036854775808.0 && v->num < 9223372036854775808.0 &&
             v->num == (double)(long long)v->num) {
    v->is_int = 1;
    v->ival = (long long)v->num;
  }
  return PRIOR_OK;
}

/* ---- containers -------------------------------------------------------------------------------------- */

static prior_status scratch_push(parser *ps, const prior_json *value, char *key, size_t key_len) {
  if (ps->scratch_n == ps->scratch_cap) {
    size_t cap = ps->scratch_cap ? ps->scratch_cap * 2 : 64;
    scratch_item *s = realloc(ps->scratch, cap * sizeof *s);
    if (!s) return out_of_memory(ps);
    ps->scratch = s;
    ps->scratch_cap = cap;
  }
  scratch_item *it = &ps->scratch[ps->scratch_n++];
  it->value = *value;
  it->key = key;
  it->key_len = key_len;
  return PRIOR_OK;
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an > bn) - (an < bn);
}

/* qsort has no context argument; the object being sorted is passed beside it. */
static _Thread_local const prior_json *tls_sort_obj;

static int member_cmp(const void *pa, const void *pb) {
  size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
  const prior_json *o = tls_sort_obj;
  return key_cmp(o->keys[a], o->key_lens[a], o->keys[b], o->key_lens[b]);
}

/* Moves the children collected since `start` into the arena as one block. */
static prior_status close_container(parser *ps, prior_json *v, size_t start, int is_object) {
  size_t n = ps->scratch_n - start;
  v->len = n;
  v->items = NULL;
  if (n) {
    v->items = arena_alloc(ps->doc, n * sizeof *v->items);
    if (!v->items) return out_of_memory(ps);
    for (size_t i = 0; i < n; i++) v->items[i] = ps->scratch[start + i].value;
  }
  if (is_object && n) {
    v->keys = arena_alloc(ps->doc, n * sizeof *v->keys);
    v->key_lens = arena_alloc(ps->doc, n * sizeof *v->key_lens);
    v->sorted = arena_alloc(ps->doc, n * sizeof *v->sorted);
    if (!v->keys || !v->key_lens || !v->sorted) return out_of_memory(ps);
    for (size_t i = 0; i < n; i++) {
      v->keys[i] = ps->scratch[start + i].key;
      v->key_lens[i] = ps->scratch[start + i].key_len;
      v->sorted[i] = i;
    }
    tls_sort_obj = v;
    qsort(v->sorted, n, sizeof *v->sorted, member_cmp);
    for (size_t i = 1; i < n; i++) {
      size_t a = v->sorted[i - 1], b = v->sorted[i];
      if (key_cmp(v->keys[a], v->key_lens[a], v->keys[b], v->key_lens[b]) == 0)
        return prior_error_set(PRIOR_ERR_FORMAT, "%s: duplicate object key \"%s\"", ps->source, v->keys[b]);
    }
  }
  ps->scratch_n = start;
  return PRIOR_OK;
}

static prior_status parse_value(parser *ps, prior_json *v);

static prior_status parse_array(parser *ps, prior_json *v) {
  v->type = PRIOR_JSON_ARRAY;
  ps->p++;
  size_t start = ps->scratch_n;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return close_container(ps, v, start, 0);
  }
  for (;;) {
    prior_json item;
    PRIOR_TRY(parse_value(ps, &item));
    PRIOR_TRY(scratch_push(ps, &item, NULL, 0));
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      return close_container(ps, v, start, 0);
    }
    return fail(ps, "expected ',' or ']' in array");
  }
}

static prior_status parse_object(parser *ps, prior_json *v) {
  v->type = PRIOR_JSON_OBJECT;
  ps->p++;
  size_t start = ps->scratch_n;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return close_container(ps, v, start, 1);
  }
  for (;;) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key in object");
    char *key;
    size_t key_len;
    PRIOR_TRY(parse_string(ps, &key, &key_len));
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':' after object key");
    ps->p++;
    prior_json item;
    PRIOR_TRY(parse_value(ps, &item));
    PRIOR_TRY(scratch_push(ps, &item, key, key_len));
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      return close_container(ps, v, start, 1);
    }
    return fail(ps, "expected ',' or '}' in object");
  }
}

static prior_status parse_value(parser *ps, prior_json *v) {
  memset(v, 0, sizeof *v);
  skip_ws(ps);
  if (ps->p >= ps->end) return fail(ps, "expected a value");
  switch (*ps->p) {
    case '{':
    case '[': {
      if (++ps->depth > PRIOR_JSON_MAX_DEPTH)
        return prior_error_set(PRIOR_ERR_FORMAT, "%s: byte %zu: nesting deeper than %d levels", ps->source,
                               (size_t)(ps->p - ps->begin), PRIOR_JSON_MAX_DEPTH);
      prior_status s = *ps->p == '{' ? parse_object(ps, v) : parse_array(ps, v);
      ps->depth--;
      return s;
    }
    case '"':
      v->type = PRIOR_JSON_STRING;
      return parse_string(ps, &v->str, &v->len);
    case 't':
    case 'f':
    case 'n':
      if (match_word(ps, "true")) v->type = PRIOR_JSON_BOOL, v->num = 1;
      else if (match_word(ps, "false")) v->type = PRIOR_JSON_BOOL, v->num = 0;
      else if (match_word(ps, "null")) v->type = PRIOR_JSON_NULL;
      else return fail(ps, "unknown literal (expected true, false or null)");
      return PRIOR_OK;
    default:
      if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps, v);
      return fail(ps, "expected a value");
  }
}

/* ---- public parse API -------------------------------------------------------------------------------- */

prior_status prior_json_parse(const char *text, size_t len, const char *source, prior_json_doc **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_json_parse: out is NULL");
  *out = NULL;
  if (!source) source = "JSON text";
  if (!text && len) return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: text is NULL", source);
  prior_json_doc *doc = calloc(1, sizeof *doc);
  if (!doc) return prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory", source);
  const unsigned char *b = (const unsigned char *)(text ? text : "");
  parser ps = {.p = b, .begin = b, .end = b + len, .source = source, .doc = doc};
  prior_status s = parse_value(&ps, &doc->root);
  if (s == PRIOR_OK) {
    skip_ws(&ps);
    if (ps.p != ps.end) s = fail(&ps, "unexpected text after the JSON value");
  }
  free(ps.scratch);
  if (s != PRIOR_OK) {
    prior_json_free(doc);
    return s;
  }
  *out = doc;
  return PRIOR_OK;
}

prior_status prior_json_parse_file(const char *path, prior_json_doc **out) {
  if (!out || !path) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_json_parse_file: NULL argument");
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return prior_error_set(PRIOR_ERR_IO, "file %s: cannot open for reading", path);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (cap - len < 65536) {
      cap = cap ? cap * 2 : 65536;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory", path);
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return prior_error_set(PRIOR_ERR_IO, "file %s: read error", path);
  }
  char source[600];
  snprintf(source, sizeof source, "file %s", path);
  prior_status s = prior_json_parse(buf, len, source, out);
  free(buf);
  return s;
}

void prior_json_free(prior_json_doc *doc) {
  if (!doc) return;
  for (arena_chunk *c = doc->chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(doc);
}

/* ---- DOM access -------------------------------------------------------------------------------------- */

const prior_json *prior_json_root(const prior_json_doc *doc) { return doc ? &doc->root : NULL; }
prior_json_type prior_json_kind(const prior_json *v) { return v ? v->type : PRIOR_JSON_NULL; }

const char *prior_json_type_name(prior_json_type type) {
  switch (type) {
    case PRIOR_JSON_NULL: return "null";
    case PRIOR_JSON_BOOL: return "boolean";
    case PRIOR_JSON_NUMBER: return "number";
    case PRIOR_JSON_STRING: return "string";
    case PRIOR_JSON_ARRAY: return "array";
    case PRIOR_JSON_OBJECT: return "object";
  }
  return "unknown";
}

size_t prior_json_len(const prior_json *v) {
  if (!v) return 0;
  return v->type == PRIOR_JSON_STRING || v->type == PRIOR_JSON_ARRAY || v->type == PRIOR_JSON_OBJECT ? v->len : 0;
}

const prior_json *prior_json_at(const prior_json *v, size_t i) {
  if (!v || (v->type != PRIOR_JSON_ARRAY && v->type != PRIOR_JSON_OBJECT) || i >= v->len) return NULL;
  return &v->items[i];
}

const char *prior_json_key_at(const prior_json *v, size_t i) {
  if (!v || v->type != PRIOR_JSON_OBJECT || i >= v->len) return NULL;
  return v->keys[i];
}

const prior_json *prior_json_get(const prior_json *v, const char *key) {
  if (!v || !key || v->type != PRIOR_JSON_OBJECT) return NULL;
  size_t klen = strlen(key), lo = 0, hi = v->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2, m = v->sorted[mid];
    int c = key_cmp(v->keys[m], v->key_lens[m], key, klen);
    if (c == 0) return &v->items[m];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

const char *prior_json_string(const prior_json *v) { return v && v->type == PRIOR_JSON_STRING ? v->str : NULL; }
double prior_json_number(const prior_json *v) { return v && v->type == PRIOR_JSON_NUMBER ? v->num : 0.0; }
int prior_json_bool(const prior_json *v) { return v && v->type == PRIOR_JSON_BOOL && v->num != 0; }

int prior_json_int64(const prior_json *v, long long *out) {
  if (!v || v->type != PRIOR_JSON_NUMBER || !v->is_int) return 0;
  if (out) *out = v->ival;
  return 1;
}
