/* safetensors: the reference fixture written by the Python package, our own round trip, and broken files.
 * Set PRIOR_TEST_KEEP_DIR to keep the written file there (ours.safetensors) for the Python cross-check in
 * tests/fixtures/safetensors/make_safetensors.py. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "prior/safetensors.h"

/* The table tests/fixtures/safetensors/make_safetensors.py writes. */
static const float f32_v[] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
static const double f64_v[] = {1.0 / 3.0, -2.5, 1e300};
static const int32_t i32_v[] = {INT32_MIN, 1, 2, INT32_MAX};
static const int64_t i64_v[] = {INT64_MIN, 9007199254740993LL};
static const uint8_t u8_v[] = {0, 1, 128, 255};
static const uint8_t bool_v[] = {1, 0, 1};
static const uint16_t bf16_v[] = {0x3f80, 0xbf00}; /* 1.0, -0.5 */
static const uint16_t f16_v[] = {0x3c00, 0x7bff};  /* 1.0, 65504 */
static const int8_t i8_v[] = {-128, 127};
static const int16_t i16_v[] = {-32768, 32767};
static const float scalar_v[] = {3.25f};

#define REC(n, dt, nd, s0, s1, v) {.name = n, .dtype = dt, .ndim = nd, .shape = {s0, s1}, .data = v, .nbytes = sizeof v}
static const prior_ckpt_tensor table[] = {
    REC("f32", PRIOR_CKPT_F32, 2, 2, 3, f32_v),   REC("f64", PRIOR_CKPT_F64, 1, 3, 0, f64_v),
    REC("i32", PRIOR_CKPT_I32, 2, 2, 2, i32_v),   REC("i64", PRIOR_CKPT_I64, 1, 2, 0, i64_v),
    REC("u8", PRIOR_CKPT_U8, 1, 4, 0, u8_v),      REC("bool", PRIOR_CKPT_BOOL, 1, 3, 0, bool_v),
    REC("bf16", PRIOR_CKPT_BF16, 1, 2, 0, bf16_v), REC("f16", PRIOR_CKPT_F16, 1, 2, 0, f16_v),
    REC("i8", PRIOR_CKPT_I8, 1, 2, 0, i8_v),      REC("i16", PRIOR_CKPT_I16, 1, 2, 0, i16_v),
    REC("scalar", PRIOR_CKPT_F32, 0, 0, 0, scalar_v),
    {.name = "empty", .dtype = PRIOR_CKPT_F32, .ndim = 2, .shape = {0, 4}, .data = NULL, .nbytes = 0},
};
#define TABLE_N (sizeof table / sizeof table[0])
static const char *meta_keys[] = {"format", "note"};
static const char *meta_values[] = {"pt", "caf\xc3\xa9"};

static char tmpdir[256];

static void check_table(const prior_safetensors *st, const char *what) {
  CHECK_MSG(prior_safetensors_count(st) == TABLE_N, "%s: %zu tensors", what, prior_safetensors_count(st));
  for (size_t i = 0; i < TABLE_N; i++) {
    const prior_ckpt_tensor *want = &table[i], *got = prior_safetensors_find(st, want->name);
    CHECK_MSG(got != NULL, "%s: %s missing", what, want->name);
    if (!got) continue;
    int same = got->dtype == want->dtype && got->ndim == want->ndim && got->nbytes == want->nbytes;
    for (int d = 0; same && d < want->ndim; d++) same = got->shape[d] == want->shape[d];
    if (same && want->nbytes) same = memcmp(got->data, want->data, want->nbytes) == 0;
    CHECK_MSG(same, "%s: tensor %s differs", what, want->name);
    /* Element-size alignment within the data region, as the reference writer lays it out. */
    if (got->nbytes)
      CHECK_MSG(((uintptr_t)got->data % prior_ckpt_dtype_size(got->dtype)) == 0, "%s: %s misaligned", what, got->name);
  }
  CHECK(prior_safetensors_find(st, "nope") == NULL);
  CHECK(prior_safetensors_metadata_count(st) == 2);
  CHECK(prior_safetensors_metadata_get(st, "format") &&
        strcmp(prior_safetensors_metadata_get(st, "format"), "pt") == 0);
  CHECK(prior_safetensors_metadata_get(st, "note") &&
        strcmp(prior_safetensors_metadata_get(st, "note"), "caf\xc3\xa9") == 0);
  CHECK(prior_safetensors_metadata_get(st, "absent") == NULL);
}

static void test_reference_fixture(void) {
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open("tests/fixtures/safetensors/reference.safetensors", &st));
  if (st) check_table(st, "reference");
  prior_safetensors_close(st);
}

static void test_round_trip(void) {
  char path[512];
  const char *keep = getenv("PRIOR_TEST_KEEP_DIR");
  snprintf(path, sizeof path, "%s/ours.safetensors", keep ? keep : tmpdir);
  CHECK_OK(prior_safetensors_write(path, table, TABLE_N, meta_keys, meta_values, 2));
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open(path, &st));
  if (st) check_table(st, "ours");
  prior_safetensors_close(st);

  /* The layout matches the reference writer byte for byte (same ordering, offsets and padding). */
  FILE *a = fopen(path, "rb"), *b = fopen("tests/fixtures/safetensors/reference.safetensors", "rb");
  char ba[2048], bb[2048];
  size_t na = a ? fread(ba, 1, sizeof ba, a) : 0, nb = b ? fread(bb, 1, sizeof bb, b) : 1;
  CHECK_MSG(na == nb && memcmp(ba, bb, na) == 0, "our file (%zu bytes) differs from the reference (%zu bytes)", na, nb);
  if (a) fclose(a);
  if (b) fclose(b);

  /* Overwriting is atomic: the target is replaced, and no temporary file stays behind. */
  CHECK_OK(prior_safetensors_write(path, table, 1, NULL, NULL, 0));
  CHECK_OK(prior_safetensors_open(path, &st));
  CHECK(prior_safetensors_count(st) == 1 && prior_safetensors_metadata_count(st) == 0);
  prior_safetensors_close(st);
  DIR *dir = opendir(keep ? keep : tmpdir);
  for (struct dirent *de; dir && (de = readdir(dir));)
    CHECK_MSG(strstr(de->d_name, ".tmp.") == NULL, "temporary file %s was left behind", de->d_name);
  if (dir) closedir(dir);
  if (keep) CHECK_OK(prior_safetensors_write(path, table, TABLE_N, meta_keys, meta_values, 2));

  /* An empty file (no tensors, no metadata) is valid. */
  snprintf(path, sizeof path, "%s/empty.safetensors", tmpdir);
  CHECK_OK(prior_safetensors_write(path, NULL, 0, NULL, NULL, 0));
  CHECK_OK(prior_safetensors_open(path, &st));
  CHECK(prior_safetensors_count(st) == 0);
  prior_safetensors_close(st);
}

static void test_write_errors(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/bad_write.safetensors", tmpdir);
  prior_ckpt_tensor t[2] = {table[0], table[0]};
  CHECK_ERR(prior_safetensors_write(path, t, 2, NULL, NULL, 0), PRIOR_ERR_ARGUMENT, "\"f32\" given twice");
  t[1].name = "other";
  t[1].dtype = PRIOR_CKPT_F64; /* same name in different dtype groups is still caught */
  t[1].nbytes = 48;
  t[1].data = f32_v;
  t[1].name = "f32";
  CHECK_ERR(prior_safetensors_write(path, t, 2, NULL, NULL, 0), PRIOR_ERR_ARGUMENT, "given twice");
  t[1] = table[0];
  t[1].name = "short";
  t[1].nbytes = 20;
  CHECK_ERR(prior_safetensors_write(path, t, 2, NULL, NULL, 0), PRIOR_ERR_SHAPE, "needs 24 bytes, record has 20");
  t[1].nbytes = 24;
  t[1].name = "__metadata__";
  CHECK_ERR(prior_safetensors_write(path, t, 2, NULL, NULL, 0), PRIOR_ERR_ARGUMENT, "__metadata__");
  t[1].name = "bad\xff";
  CHECK_ERR(prior_safetensors_write(path, t, 2, NULL, NULL, 0), PRIOR_ERR_ARGUMENT, "invalid UTF-8");
  t[1].name = "x";
  t[1].dtype = (prior_ckpt_dtype)42;
  CHECK_ERR(prior_safetensors_write(path, t, 2, NULL, NULL, 0), PRIOR_ERR_DTYPE, "unknown dtype 42");
  const char *dk[] = {"a", "a"}, *dv[] = {"1", "2"};
  CHECK_ERR(prior_safetensors_write(path, table, 1, dk, dv, 2), PRIOR_ERR_ARGUMENT, "\"a\" given twice");
  CHECK_ERR(prior_safetensors_write("/nonexistent-dir/x.safetensors", table, 1, NULL, NULL, 0), PRIOR_ERR_IO,
            "/nonexistent-dir/x.safetensors");
  CHECK(access(path, F_OK) != 0); /* nothing written by the failed calls */
}

/* Writes a file made of an 8-byte length (`claimed`, or the real header length when 0), the header text and
 * `data_len` zero bytes. */
static const char *raw_file(const char *name, const char *header, unsigned long long claimed, size_t data_len) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  unsigned long long n = claimed ? claimed : strlen(header);
  for (int i = 0; i < 8; i++) fputc((int)((n >> (8 * i)) & 0xff), f);
  fputs(header, f);
  for (size_t i = 0; i < data_len; i++) fputc(0, f);
  fclose(f);
  return path;
}

static void expect_open_fails(const char *path, const char *needle) {
  prior_safetensors *st = (prior_safetensors *)1;
  prior_error_clear();
  prior_status s = prior_safetensors_open(path, &st);
  CHECK_MSG(s == PRIOR_ERR_FORMAT && st == NULL, "%s opened (needle %s)", path, needle);
  CHECK_MSG(strstr(prior_error_message(), needle) && strstr(prior_error_message(), path),
            "message '%s' lacks '%s' or the file name", prior_error_message(), needle);
}

static void test_broken_files(void) {
  const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  prior_safetensors *st = NULL;
  CHECK_OK(prior_safetensors_open(raw_file("ok.st", ok, 0, 8), &st));
  prior_safetensors_close(st);

  /* A header whose length is not a multiple of 8 leaves the data misaligned; records are still aligned. */
  const char *odd = "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
  CHECK(strlen(odd) % 8 != 0);
  CHECK_OK(prior_safetensors_open(raw_file("odd.st", odd, 0, 8), &st));
  const prior_ckpt_tensor *a = prior_safetensors_find(st, "a");
  CHECK(a && (uintptr_t)a->data % 8 == 0 && *(const double *)a->data == 0.0);
  prior_safetensors_close(st);

  expect_open_fails(raw_file("tiny.st", "", 0, 0) /* 8 bytes of zero length */, "does not start with '{'");
  {
    char path[512];
    snprintf(path, sizeof path, "%s/three_bytes.st", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    expect_open_fails(path, "too short for safetensors");
  }
  expect_open_fails(raw_file("trunc_data.st", ok, 0, 7), "data region holds 7 bytes");
  expect_open_fails(raw_file("long_header.st", ok, 1000, 8), "header length 1000 exceeds");
  expect_open_fails(raw_file("huge_header.st", ok, 0xffffffffffffull, 8), "exceeds");
  expect_open_fails(raw_file("trailing.st", ok, 0, 12), "accounts for 8 data bytes but the file holds 12");
  expect_open_fails(raw_file("lie.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 0, 8),
                    "needs 8 bytes but data_offsets [0, 12] span 12");
  expect_open_fails(raw_file("beyond.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 0, 8),
                    "ends at data byte 16");
  expect_open_fails(raw_file("overlap.st",
                             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                             0, 8),
                    "overlaps tensor \"a\"");
  expect_open_fails(raw_file("gap.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8),
                    "gap in the data region");
  expect_open_fails(raw_file("dtype.st", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0, 2),
                    "unsupported dtype \"F8_E4M3\"");
  expect_open_fails(raw_file("json.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 0, 8),
                    "byte 53: expected ',' or '}'");
  expect_open_fails(raw_file("notobj.st", "[1]", 0, 0), "does not start with '{'");
  expect_open_fails(raw_file("noshape.st", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 0, 8),
                    "missing \"shape\"");
  expect_open_fails(raw_file("negshape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8),
                    "non-negative integers");
  expect_open_fails(raw_file("offs.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8),
                    "0 <= begin <= end");
  expect_open_fails(raw_file("meta.st", "{\"__metadata__\":{\"k\":1}}", 0, 0), "value of \"k\" is not a string");
  expect_open_fails(raw_file("dup.st",
                             "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                             "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                             0, 2),
                    "duplicate object key \"a\"");
  CHECK_ERR(prior_safetensors_open("tests/fixtures/safetensors/missing.safetensors", &st), PRIOR_ERR_IO,
            "missing.safetensors");
}

int main(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/prior_st_XXXXXX", base && base[0] ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  test_reference_fixture();
  test_round_trip();
  test_write_errors();
  test_broken_files();
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return check_summary("test_safetensors");
}
