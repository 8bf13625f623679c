/* JSON: a strict parser into a read-only DOM, and a streaming writer.
 *
 * Strict means RFC 8259 and nothing more: no comments, no trailing commas, no NaN/Infinity, no duplicate keys in
 * one object, UTF-8 only. Errors name the source (a file name or a description given by the caller) and the byte
 * offset of the problem. Nesting deeper than PRIOR_JSON_MAX_DEPTH is refused so a hostile file cannot exhaust
 * the stack. Strings are UTF-8 (\uXXXX escapes and surrogate pairs are decoded); a string may hold "\u0000", so
 * its length is prior_json_len(), not strlen(). */
#ifndef PRIOR_JSON_H
#define PRIOR_JSON_H

#include <stddef.h>

#include "prior/error.h"

#define PRIOR_JSON_MAX_DEPTH 256

typedef enum prior_json_type {
  PRIOR_JSON_NULL = 0,
  PRIOR_JSON_BOOL = 1,
  PRIOR_JSON_NUMBER = 2,
  PRIOR_JSON_STRING = 3,
  PRIOR_JSON_ARRAY = 4,
  PRIOR_JSON_OBJECT = 5
} prior_json_type;

typedef struct prior_json prior_json;         /* one value inside a document */
typedef struct prior_json_doc prior_json_doc; /* owns every value parsed from one text */

/* Parses `len` bytes of `text`. `source` names the text in error messages ("file config.json"). */
prior_status prior_json_parse(const char *text, size_t len, const char *source, prior_json_doc **out);
prior_status prior_json_parse_file(const char *path, prior_json_doc **out);
void prior_json_free(prior_json_doc *doc);
const prior_json *prior_json_root(const prior_json_doc *doc);

prior_json_type prior_json_kind(const prior_json *v);
const char *prior_json_type_name(prior_json_type type);
/* Element count of an array or object, byte length of a string, 0 otherwise. */
size_t prior_json_len(const prior_json *v);
/* Array element or object member value by position; NULL when out of range or not a container. */
const prior_json *prior_json_at(const prior_json *v, size_t i);
/* Object member key by position (NUL-terminated); NULL when out of range or not an object. */
const char *prior_json_key_at(const prior_json *v, size_t i);
/* Object member by key; NULL when absent or `v` is not an object. */
const prior_json *prior_json_get(const prior_json *v, const char *key);
/* String bytes (NUL-terminated), or NULL when `v` is not a string. */
const char *prior_json_string(const prior_json *v);
/* The number as a double; 0 when not a number. */
double prior_json_number(const prior_json *v);
/* 1 and *out set when `v` is a number with an exact int64 value (large integers are exact, not rounded through
 * double); 0 otherwise. */
int prior_json_int64(const prior_json *v, long long *out);
/* 1 for true, 0 for false or any other type. */
int prior_json_bool(const prior_json *v);

/* The writer builds text in memory. Commas and key/value separators are placed for the caller; calls that do not
 * fit the structure (a value where a key is due, an unbalanced end) fail with PRIOR_ERR_ARGUMENT. Doubles are
 * written with the fewest digits that read back to the same value. */
typedef struct prior_json_writer prior_json_writer;

prior_json_writer *prior_json_writer_new(void); /* NULL (and an error set) when out of memory */
void prior_json_writer_free(prior_json_writer *w);
prior_status prior_json_begin_object(prior_json_writer *w);
prior_status prior_json_end_object(prior_json_writer *w);
prior_status prior_json_begin_array(prior_json_writer *w);
prior_status prior_json_end_array(prior_json_writer *w);
prior_status prior_json_key(prior_json_writer *w, const char *key);
prior_status prior_json_write_string(prior_json_writer *w, const char *s);
prior_status prior_json_write_string_n(prior_json_writer *w, const char *s, size_t len);
prior_status prior_json_write_number(prior_json_writer *w, double x); /* NaN and infinities are refused */
prior_status prior_json_write_int64(prior_json_writer *w, long long x);
prior_status prior_json_write_bool(prior_json_writer *w, int b);
prior_status prior_json_write_null(prior_json_writer *w);
/* Writes a parsed value (and everything under it). */
prior_status prior_json_write_value(prior_json_writer *w, const prior_json *v);
/* The text so far (NUL-terminated) and its length; the writer keeps ownership. Fails unless every container
 * has been closed and exactly one top-level value written. */
prior_status prior_json_writer_result(const prior_json_writer *w, const char **text, size_t *len);

#endif
