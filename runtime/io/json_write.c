/* JSON writer: builds compact text in a growing buffer, tracking the open containers so that commas, colons and
 * misuse (a value where a key is due) are handled here instead of by every caller. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_internal.h"
#include "prior/json.h"

typedef struct {
  char kind;        /* '{' or '[' */
  size_t count;     /* values written so far */
  int key_pending;  /* object: a key was written and its value is due */
} open_container;

struct prior_json_writer {
  char *buf;
  size_t len, cap;
  open_container stack[PRIOR_JSON_MAX_DEPTH];
  int depth;
  size_t top_values;
};

prior_json_writer *prior_json_writer_new(void) {
  prior_json_writer *w = calloc(1, sizeof *w);
  if (!w) prior_error_set(PRIOR_ERR_MEMORY, "JSON writer: out of memory");
  return w;
}

void prior_json_writer_free(prior_json_writer *w) {
  if (!w) return;
  free(w->buf);
  free(w);
}

static prior_status append(prior_json_writer *w, const char *s, size_t n) {
  if (w->cap - w->len < n + 1) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n + 1) cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) return prior_error_set(PRIOR_ERR_MEMORY, "JSON writer: out of memory");
    w->buf = b;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
  return PRIOR_OK;
}

/* Called before every value: checks that a value may come here and writes the separating comma. */
static prior_status before_value(prior_json_writer *w) {
  if (!w) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer is NULL");
  if (w->depth == 0) {
    if (w->top_values) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: a second top-level value");
    w->top_values++;
    return PRIOR_OK;
  }
  open_container *c = &w->stack[w->depth - 1];
  if (c->kind == '{') {
    if (!c->key_pending) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: object value written without a key");
    c->key_pending = 0;
    c->count++;
    return PRIOR_OK;
  }
  if (c->count++) return append(w, ",", 1);
  return PRIOR_OK;
}

static prior_status write_escaped(prior_json_writer *w, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  PRIOR_TRY(append(w, "\"", 1));
  size_t run = 0; /* bytes copied verbatim are appended in runs */
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    const char *esc = NULL;
    char ubuf[8];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      default:
        if (c < 0x20) {
          snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
          esc = ubuf;
        }
    }
    if (esc) {
      PRIOR_TRY(append(w, s + i - run, run));
      run = 0;
      PRIOR_TRY(append(w, esc, strlen(esc)));
      i++;
      continue;
    }
    size_t k = prior_json_utf8_seq_len(p + i, n - i);
    if (!k) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: string has invalid UTF-8 at byte %zu", i);
    i += k;
    run += k;
  }
  PRIOR_TRY(append(w, s + n - run, run));
  return append(w, "\"", 1);
}

prior_status prior_json_begin_object(prior_json_writer *w) {
  PRIOR_TRY(before_value(w));
  if (w->depth == PRIOR_JSON_MAX_DEPTH)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: nesting deeper than %d levels", PRIOR_JSON_MAX_DEPTH);
  w->stack[w->depth++] = (open_container){'{', 0, 0};
  return append(w, "{", 1);
}

prior_status prior_json_begin_array(prior_json_writer *w) {
  PRIOR_TRY(before_value(w));
  if (w->depth == PRIOR_JSON_MAX_DEPTH)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: nesting deeper than %d levels", PRIOR_JSON_MAX_DEPTH);
  w->stack[w->depth++] = (open_container){'[', 0, 0};
  return append(w, "[", 1);
}

static prior_status end_container(prior_json_writer *w, char kind) {
  if (!w) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer is NULL");
  if (w->depth == 0 || w->stack[w->depth - 1].kind != kind)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: end of %s without a matching begin",
                           kind == '{' ? "object" : "array");
  if (w->stack[w->depth - 1].key_pending)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: object closed after a key without a value");
  w->depth--;
  return append(w, kind == '{' ? "}" : "]", 1);
}

prior_status prior_json_end_object(prior_json_writer *w) { return end_container(w, '{'); }
prior_status prior_json_end_array(prior_json_writer *w) { return end_container(w, '['); }

prior_status prior_json_key(prior_json_writer *w, const char *key) {
  if (!w || !key) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: NULL key");
  if (w->depth == 0 || w->stack[w->depth - 1].kind != '{')
    return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: key \"%s\" outside an object", key);
  open_container *c = &w->stack[w->depth - 1];
  if (c->key_pending) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: key \"%s\" follows a key", key);
  if (c->count) PRIOR_TRY(append(w, ",", 1));
  PRIOR_TRY(write_escaped(w, key, strlen(key)));
  c->key_pending = 1;
  return append(w, ":", 1);
}

prior_status prior_json_write_string_n(prior_json_writer *w, const char *s, size_t len) {
  if (!s && len) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: NULL string");
  PRIOR_TRY(before_value(w));
  return write_escaped(w, s ? s : "", len);
}

prior_status prior_json_write_string(prior_json_writer *w, const char *s) {
  if (!s) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: NULL string");
  return prior_json_write_string_n(w, s, strlen(s));
}

/* The shortest of %.15g..%.17g that reads back exactly; %.17g always does for IEEE doubles. Written with '.'
 * whatever the locale says. */
prior_status prior_json_write_number(prior_json_writer *w, double x) {
  if (!isfinite(x)) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: %g cannot be written as JSON", x);
  PRIOR_TRY(before_value(w));
  char buf[40];
  const char *dp = localeconv()->decimal_point;
  char local_dp = dp && dp[0] && !dp[1] ? dp[0] : '.';
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  for (char *c = buf; *c; c++)
    if (*c == local_dp) *c = '.';
  return append(w, buf, strlen(buf));
}

prior_status prior_json_write_int64(prior_json_writer *w, long long x) {
  PRIOR_TRY(before_value(w));
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", x);
  return append(w, buf, strlen(buf));
}

prior_status prior_json_write_bool(prior_json_writer *w, int b) {
  PRIOR_TRY(before_value(w));
  return b ? append(w, "true", 4) : append(w, "false", 5);
}

prior_status prior_json_write_null(prior_json_writer *w) {
  PRIOR_TRY(before_value(w));
  return append(w, "null", 4);
}

prior_status prior_json_write_value(prior_json_writer *w, const prior_json *v) {
  if (!v) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: NULL value");
  long long i;
  switch (prior_json_kind(v)) {
    case PRIOR_JSON_NULL: return prior_json_write_null(w);
    case PRIOR_JSON_BOOL: return prior_json_write_bool(w, prior_json_bool(v));
    case PRIOR_JSON_NUMBER:
      /* Integers keep their exact digits; 1e400-style literals that overflowed to inf cannot be kept. */
      if (prior_json_int64(v, &i)) return prior_json_write_int64(w, i);
      return prior_json_write_number(w, prior_json_number(v));
    case PRIOR_JSON_STRING: return prior_json_write_string_n(w, prior_json_string(v), prior_json_len(v));
    case PRIOR_JSON_ARRAY:
      PRIOR_TRY(prior_json_begin_array(w));
      for (size_t k = 0; k < prior_json_len(v); k++) PRIOR_TRY(prior_json_write_value(w, prior_json_at(v, k)));
      return prior_json_end_array(w);
    case PRIOR_JSON_OBJECT:
      PRIOR_TRY(prior_json_begin_object(w));
      for (size_t k = 0; k < prior_json_len(v); k++) {
        PRIOR_TRY(prior_json_key(w, prior_json_key_at(v, k)));
        PRIOR_TRY(prior_json_write_value(w, prior_json_at(v, k)));
      }
      return prior_json_end_object(w);
  }
  return prior_error_set(PRIOR_ERR_INTERNAL, "JSON writer: unknown value type");
}

prior_status prior_json_writer_result(const prior_json_writer *w, const char **text, size_t *len) {
  if (!w) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer is NULL");
  if (w->depth) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: %d containers still open", w->depth);
  if (!w->top_values) return prior_error_set(PRIOR_ERR_ARGUMENT, "JSON writer: nothing written");
  if (text) *text = w->buf;
  if (len) *len = w->len;
  return PRIOR_OK;
}
