/* JSON parser and writer: values, lookups, escapes, exact integers, round trips, and broken inputs. */
#include <stdlib.h>

#include "check.h"
#include "prior/json.h"

static prior_json_doc *parse(const char *text) {
  prior_json_doc *doc = NULL;
  CHECK_OK(prior_json_parse(text, strlen(text), "test", &doc));
  return doc;
}

/* Parses text that must fail with a format error whose message holds `needle`. */
static void expect_bad(const char *text, const char *needle) {
  prior_json_doc *doc = (prior_json_doc *)1;
  prior_error_clear();
  prior_status s = prior_json_parse(text, strlen(text), "file bad.json", &doc);
  CHECK_MSG(s == PRIOR_ERR_FORMAT && doc == NULL, "'%s' parsed", text);
  CHECK_MSG(strstr(prior_error_message(), needle) && strstr(prior_error_message(), "file bad.json"),
            "'%s': message '%s' lacks '%s'", text, prior_error_message(), needle);
}

static void test_values(void) {
  prior_json_doc *doc = parse(" {\"a\": [1, -2.5, true, false, null], \"b\": {\"c\": \"x\"}, \"e\": [] , \"f\": {}} ");
  const prior_json *r = prior_json_root(doc);
  CHECK(prior_json_kind(r) == PRIOR_JSON_OBJECT && prior_json_len(r) == 4);
  CHECK(strcmp(prior_json_key_at(r, 0), "a") == 0 && strcmp(prior_json_key_at(r, 3), "f") == 0);
  const prior_json *a = prior_json_get(r, "a");
  CHECK(prior_json_kind(a) == PRIOR_JSON_ARRAY && prior_json_len(a) == 5);
  long long i = 0;
  CHECK(prior_json_int64(prior_json_at(a, 0), &i) && i == 1);
  CHECK(prior_json_number(prior_json_at(a, 1)) == -2.5 && !prior_json_int64(prior_json_at(a, 1), &i));
  CHECK(prior_json_bool(prior_json_at(a, 2)) == 1 && prior_json_kind(prior_json_at(a, 3)) == PRIOR_JSON_BOOL);
  CHECK(prior_json_bool(prior_json_at(a, 3)) == 0 && prior_json_kind(prior_json_at(a, 4)) == PRIOR_JSON_NULL);
  CHECK(prior_json_at(a, 5) == NULL && prior_json_get(a, "x") == NULL);
  CHECK(strcmp(prior_json_string(prior_json_get(prior_json_get(r, "b"), "c")), "x") == 0);
  CHECK(prior_json_get(r, "zz") == NULL && prior_json_string(a) == NULL);
  CHECK(prior_json_len(prior_json_get(r, "e")) == 0 && prior_json_len(prior_json_get(r, "f")) == 0);
  prior_json_free(doc);

  /* Lookup in an object bigger than a handful of members (the binary search path). */
  char big[8192];
  size_t n = 0;
  n += (size_t)snprintf(big + n, sizeof big - n, "{");
  for (int k = 0; k < 300; k++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", k ? "," : "", 299 - k, k);
  snprintf(big + n, sizeof big - n, "}");
  doc = parse(big);
  for (int k = 0; k < 300; k += 7) {
    char key[16];
    snprintf(key, sizeof key, "k%d", k);
    CHECK(prior_json_int64(prior_json_get(prior_json_root(doc), key), &i) && i == 299 - k);
  }
  prior_json_free(doc);
}

static void test_numbers(void) {
  prior_json_doc *doc = parse("[9007199254740993, -9223372036854775808, 9223372036854775807, 9223372036854775808,"
                              " 0, -0, 1e3, 1.5E-3, 0.1, 12345678901234567890123]");
  const prior_json *a = prior_json_root(doc);
  long long i = 0;
  CHECK(prior_json_int64(prior_json_at(a, 0), &i) && i == 9007199254740993LL); /* not representable as double */
  CHECK(prior_json_int64(prior_json_at(a, 1), &i) && i == (-9223372036854775807LL - 1));
  CHECK(prior_json_int64(prior_json_at(a, 2), &i) && i == 9223372036854775807LL);
  CHECK(!prior_json_int64(prior_json_at(a, 3), &i) && prior_json_number(prior_json_at(a, 3)) == 9223372036854775808.0);
  CHECK(prior_json_int64(prior_json_at(a, 4), &i) && i == 0);
  CHECK(prior_json_int64(prior_json_at(a, 5), &i) && i == 0);
  CHECK(prior_json_int64(prior_json_at(a, 6), &i) && i == 1000);
  CHECK(prior_json_number(prior_json_at(a, 7)) == 1.5e-3);
  CHECK(prior_json_number(prior_json_at(a, 8)) == 0.1);
  CHECK(!prior_json_int64(prior_json_at(a, 9), &i) && prior_json_number(prior_json_at(a, 9)) > 1.2e22);
  prior_json_free(doc);
}

static void test_strings(void) {
  prior_json_doc *doc = parse(
      "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u4e2d\", \"\\ud83d\\ude00\", \"x\\u0000y\","
      " \"\xc3\xa9\xf0\x9f\x98\x80\"]");
  const prior_json *a = prior_json_root(doc);
  CHECK(strcmp(prior_json_string(prior_json_at(a, 0)), "a\"b\\c/d\b\f\n\r\t") == 0);
  CHECK(strcmp(prior_json_string(prior_json_at(a, 1)), "\xc3\xa9\xe4\xb8\xad") == 0);
  CHECK(strcmp(prior_json_string(prior_json_at(a, 2)), "\xf0\x9f\x98\x80") == 0);
  CHECK(prior_json_len(prior_json_at(a, 3)) == 3 && memcmp(prior_json_string(prior_json_at(a, 3)), "x\0y", 3) == 0);
  CHECK(strcmp(prior_json_string(prior_json_at(a, 4)), "\xc3\xa9\xf0\x9f\x98\x80") == 0);
  prior_json_free(doc);
}

static void test_broken(void) {
  expect_bad("", "expected a value");
  expect_bad("   ", "byte 3");
  expect_bad("{\"a\":1", "expected ',' or '}'");
  expect_bad("{\"a\" 1}", "expected ':'");
  expect_bad("{a:1}", "expected a string key");
  expect_bad("[1,]", "expected a value");
  expect_bad("[1 2]", "expected ',' or ']'");
  expect_bad("{\"a\":1,}", "expected a string key");
  expect_bad("{\"a\":1,\"a\":2}", "duplicate object key \"a\"");
  expect_bad("[01]", "leading zeros");
  expect_bad("[1.]", "digit after '.'");
  expect_bad("[1e]", "exponent");
  expect_bad("[-]", "expected a digit");
  expect_bad("[+1]", "expected a value");
  expect_bad("[NaN]", "expected a value");
  expect_bad("[tru]", "unknown literal");
  expect_bad("\"abc", "unterminated string");
  expect_bad("\"a\tb\"", "control character");
  expect_bad("\"\\x\"", "invalid escape");
  expect_bad("\"\\u12G4\"", "four hex digits");
  expect_bad("\"\\ud83d\"", "high surrogate");
  expect_bad("\"\\ud83d\\u0041\"", "high surrogate");
  expect_bad("\"\\ude00\"", "unpaired low surrogate");
  expect_bad("\"\xc3\"", "invalid UTF-8");
  expect_bad("\"\xc0\xaf\"", "invalid UTF-8");     /* overlong '/' */
  expect_bad("\"\xed\xa0\x80\"", "invalid UTF-8"); /* a surrogate encoded in UTF-8 */
  expect_bad("{} x", "unexpected text after");
  expect_bad("[1] [2]", "byte 4");
  expect_bad("// c\n{}", "expected a value");

  /* Deep nesting is refused before it can exhaust the stack. */
  char deep[2 * PRIOR_JSON_MAX_DEPTH + 8];
  memset(deep, '[', PRIOR_JSON_MAX_DEPTH + 1);
  memset(deep + PRIOR_JSON_MAX_DEPTH + 1, ']', PRIOR_JSON_MAX_DEPTH + 1);
  deep[2 * PRIOR_JSON_MAX_DEPTH + 2] = 0;
  expect_bad(deep, "nesting deeper than 256");
  deep[2 * PRIOR_JSON_MAX_DEPTH + 1] = 0; /* exactly the limit: fine */
  prior_json_doc *doc = NULL;
  CHECK_OK(prior_json_parse(deep + 1, strlen(deep + 1), "deep", &doc));
  prior_json_free(doc);

  /* Text not NUL-terminated: only `len` bytes are read. */
  CHECK_OK(prior_json_parse("[1]garbage", 3, "slice", &doc));
  prior_json_free(doc);
  CHECK_ERR(prior_json_parse_file("tests/fixtures/no/such.json", &doc), PRIOR_ERR_IO, "no/such.json");
}

static void test_writer(void) {
  prior_json_writer *w = prior_json_writer_new();
  CHECK_OK(prior_json_begin_object(w));
  CHECK_OK(prior_json_key(w, "s"));
  CHECK_OK(prior_json_write_string_n(w, "q\"\\\n\x01\0\xc3\xa9", 8));
  CHECK_OK(prior_json_key(w, "n"));
  CHECK_OK(prior_json_begin_array(w));
  double values[] = {0.1, 1.0 / 3.0, -2.5e-300, 1e300, 123456789.0, 5e-324};
  for (int k = 0; k < 6; k++) CHECK_OK(prior_json_write_number(w, values[k]));
  CHECK_OK(prior_json_write_int64(w, -9223372036854775807LL - 1));
  CHECK_OK(prior_json_write_bool(w, 1));
  CHECK_OK(prior_json_write_null(w));
  CHECK_OK(prior_json_end_array(w));
  CHECK_OK(prior_json_end_object(w));
  const char *text;
  size_t len;
  CHECK_OK(prior_json_writer_result(w, &text, &len));
  CHECK(strstr(text, "\"s\":\"q\\\"\\\\\\n\\u0001\\u0000\xc3\xa9\"") != NULL);
  CHECK(strstr(text, "0.1,") != NULL);

  prior_json_doc *doc = NULL;
  CHECK_OK(prior_json_parse(text, len, "written", &doc));
  const prior_json *n = prior_json_get(prior_json_root(doc), "n");
  for (int k = 0; k < 6; k++) CHECK_MSG(prior_json_number(prior_json_at(n, k)) == values[k], "value %d", k);
  long long i = 0;
  CHECK(prior_json_int64(prior_json_at(n, 6), &i) && i == -9223372036854775807LL - 1);
  CHECK(prior_json_len(prior_json_get(prior_json_root(doc), "s")) == 8);

  /* Writing the DOM back gives the same text. */
  prior_json_writer *w2 = prior_json_writer_new();
  CHECK_OK(prior_json_write_value(w2, prior_json_root(doc)));
  const char *text2;
  CHECK_OK(prior_json_writer_result(w2, &text2, NULL));
  CHECK(strcmp(text, text2) == 0);
  prior_json_writer_free(w2);
  prior_json_free(doc);
  prior_json_writer_free(w);

  /* Misuse. */
  w = prior_json_writer_new();
  CHECK_ERR(prior_json_writer_result(w, &text, &len), PRIOR_ERR_ARGUMENT, "nothing written");
  CHECK_ERR(prior_json_key(w, "k"), PRIOR_ERR_ARGUMENT, "outside an object");
  CHECK_OK(prior_json_begin_object(w));
  CHECK_ERR(prior_json_write_int64(w, 1), PRIOR_ERR_ARGUMENT, "without a key");
  CHECK_ERR(prior_json_end_array(w), PRIOR_ERR_ARGUMENT, "without a matching begin");
  CHECK_OK(prior_json_key(w, "k"));
  CHECK_ERR(prior_json_key(w, "k2"), PRIOR_ERR_ARGUMENT, "follows a key");
  CHECK_ERR(prior_json_end_object(w), PRIOR_ERR_ARGUMENT, "without a value");
  CHECK_ERR(prior_json_write_number(w, NAN), PRIOR_ERR_ARGUMENT, "cannot be written");
  CHECK_ERR(prior_json_write_string(w, "\xff"), PRIOR_ERR_ARGUMENT, "invalid UTF-8");
  CHECK_ERR(prior_json_writer_result(w, &text, &len), PRIOR_ERR_ARGUMENT, "still open");
  prior_json_writer_free(w);
  w = prior_json_writer_new();
  CHECK_OK(prior_json_write_null(w));
  CHECK_ERR(prior_json_write_null(w), PRIOR_ERR_ARGUMENT, "second top-level");
  prior_json_writer_free(w);
}

int main(void) {
  test_values();
  test_numbers();
  test_strings();
  test_broken();
  test_writer();
  return check_summary("test_json");
}
