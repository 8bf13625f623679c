/* PyTorch checkpoint reader: fixtures written by torch.save (tests/fixtures/torchfile/make_torchfile.py) checked
 * value by value against expected.json, then hostile, broken and truncated files. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "prior/json.h"
#include "prior/torchfile.h"

#define FIXTURES "tests/fixtures/torchfile/"

static char tmpdir[256];

/* Compares one record with its expected.json entry: dtype, shape and every element exactly. */
static void check_record(const char *file, const char *name, const prior_ckpt_tensor *t, const prior_json *want) {
  CHECK_MSG(t != NULL, "%s: tensor %s missing", file, name);
  if (!t) return;
  const char *dtype = prior_json_string(prior_json_get(want, "dtype"));
  CHECK_MSG(dtype && strcmp(dtype, prior_ckpt_dtype_name(t->dtype)) == 0, "%s: %s dtype %s, want %s", file, name,
            prior_ckpt_dtype_name(t->dtype), dtype);
  const prior_json *shape = prior_json_get(want, "shape");
  int same = (int)prior_json_len(shape) == t->ndim;
  for (int d = 0; same && d < t->ndim; d++) {
    long long v = -1;
    same = prior_json_int64(prior_json_at(shape, (size_t)d), &v) && v == t->shape[d];
  }
  CHECK_MSG(same, "%s: %s shape differs", file, name);
  const prior_json *values = prior_json_get(want, "values");
  size_t esize = prior_ckpt_dtype_size(t->dtype), n = esize ? t->nbytes / esize : 0;
  CHECK_MSG(prior_json_len(values) == n, "%s: %s has %zu elements, want %zu", file, name, n, prior_json_len(values));
  if (prior_json_len(values) != n) return;
  const unsigned char *p = t->data;
  int bad = -1;
  for (size_t k = 0; k < n && bad < 0; k++) {
    const prior_json *v = prior_json_at(values, k);
    double x = prior_json_number(v);
    long long i = 0;
    int is_int = prior_json_int64(v, &i);
    switch (t->dtype) {
      case PRIOR_CKPT_F32: { float f; memcpy(&f, p + 4 * k, 4); if ((double)f != x) bad = (int)k; break; }
      case PRIOR_CKPT_F64: { double f; memcpy(&f, p + 8 * k, 8); if (f != x) bad = (int)k; break; }
      case PRIOR_CKPT_I64: { int64_t q; memcpy(&q, p + 8 * k, 8); if (!is_int || q != i) bad = (int)k; break; }
      case PRIOR_CKPT_I32: { int32_t q; memcpy(&q, p + 4 * k, 4); if (!is_int || q != i) bad = (int)k; break; }
      case PRIOR_CKPT_I16: { int16_t q; memcpy(&q, p + 2 * k, 2); if (!is_int || q != i) bad = (int)k; break; }
      case PRIOR_CKPT_BF16:
      case PRIOR_CKPT_F16: { uint16_t q; memcpy(&q, p + 2 * k, 2); if (!is_int || q != i) bad = (int)k; break; }
      case PRIOR_CKPT_I8: if (!is_int || (int8_t)p[k] != i) bad = (int)k; break;
      case PRIOR_CKPT_U8:
      case PRIOR_CKPT_BOOL: if (!is_int || p[k] != i) bad = (int)k; break;
    }
  }
  CHECK_MSG(bad < 0, "%s: %s differs at element %d", file, name, bad);
}

static void test_fixtures(void) {
  prior_json_doc *doc = NULL;
  CHECK_OK(prior_json_parse_file(FIXTURES "expected.json", &doc));
  const prior_json *files = prior_json_root(doc);
  CHECK(prior_json_len(files) >= 7);
  for (size_t f = 0; f < prior_json_len(files); f++) {
    char path[512];
    const char *file = prior_json_key_at(files, f);
    const prior_json *tensors = prior_json_at(files, f);
    snprintf(path, sizeof path, FIXTURES "%s", file);
    prior_torchfile *tf = NULL;
    CHECK_OK(prior_torchfile_open(path, NULL, &tf));
    if (!tf) continue;
    CHECK_MSG(prior_torchfile_count(tf) == prior_json_len(tensors), "%s: %zu tensors, want %zu", file,
              prior_torchfile_count(tf), prior_json_len(tensors));
    for (size_t i = 0; i < prior_json_len(tensors); i++) {
      const char *name = prior_json_key_at(tensors, i);
      check_record(file, name, prior_torchfile_find(tf, name), prior_json_at(tensors, i));
    }
    CHECK(prior_torchfile_is_zip(tf) == (strcmp(file, "legacy.pt") != 0));
    prior_torchfile_close(tf);
  }
  prior_json_free(doc);
}

static void test_views_and_roots(void) {
  prior_torchfile *tf = NULL;
  CHECK_OK(prior_torchfile_open(FIXTURES "plain.pt", NULL, &tf));
  const prior_ckpt_tensor *t = prior_torchfile_find(tf, "transposed");
  CHECK(t && t->ndim == 2 && t->shape[0] == 4 && t->shape[1] == 3 && t->source_strides[0] == 1 &&
        t->source_strides[1] == 4);
  t = prior_torchfile_find(tf, "row2");
  CHECK(t && t->source_offset == 8 && t->nbytes == 16);
  t = prior_torchfile_find(tf, "column");
  CHECK(t && t->source_offset == 1 && t->shape[0] == 3 && t->shape[1] == 2);
  t = prior_torchfile_find(tf, "empty");
  CHECK(t && t->nbytes == 0 && t->shape[0] == 0);
  t = prior_torchfile_find(tf, "scalar");
  CHECK(t && t->ndim == 0 && t->nbytes == 4);
  /* Dict order is kept. */
  CHECK(strcmp(prior_torchfile_tensor(tf, 0)->name, "f32") == 0 && prior_torchfile_tensor(tf, 999) == NULL);
  prior_torchfile_close(tf);

  /* The whole Lightning checkpoint: optimizer state and callback tensors appear with dotted names. */
  CHECK_OK(prior_torchfile_open(FIXTURES "lightning.pt", "", &tf));
  CHECK(prior_torchfile_find(tf, "state_dict.model.0.weight") != NULL);
  CHECK(prior_torchfile_find(tf, "optimizer_states.0.state.0.exp_avg") != NULL);
  CHECK(prior_torchfile_find(tf, "callbacks.ModelCheckpoint{'monitor': 'val_loss'}.best_model_score") != NULL);
  CHECK(prior_torchfile_find(tf, "model.0.weight") == NULL);
  prior_torchfile_close(tf);
  CHECK_OK(prior_torchfile_open(FIXTURES "lightning.pt", "state_dict", &tf));
  CHECK(prior_torchfile_find(tf, "model.1.num_batches_tracked") != NULL);
  prior_torchfile_close(tf);
  CHECK_ERR(prior_torchfile_open(FIXTURES "lightning.pt", "nope", &tf), PRIOR_ERR_FORMAT, "no dict under key \"nope\"");
  CHECK_ERR(prior_torchfile_open(FIXTURES "lightning.pt", "epoch", &tf), PRIOR_ERR_FORMAT,
            "no dict under key \"epoch\"");
}

static void test_refusals(void) {
  prior_torchfile *tf = (prior_torchfile *)1;
  CHECK_ERR(prior_torchfile_open(FIXTURES "malicious.pt", NULL, &tf), PRIOR_ERR_FORMAT,
            "refusing to load global posix.system: checkpoints must not execute code");
  CHECK(tf == NULL);
  CHECK(strstr(prior_error_message(), "malicious.pt") != NULL);
  CHECK_ERR(prior_torchfile_open(FIXTURES "badop.pt", NULL, &tf), PRIOR_ERR_FORMAT, "unsupported pickle opcode 0xff");
  CHECK(strstr(prior_error_message(), "plain/data.pkl: byte 2") != NULL);
  CHECK_ERR(prior_torchfile_open(FIXTURES "deflate.pt", NULL, &tf), PRIOR_ERR_UNSUPPORTED, "deflate-compressed");
  CHECK_ERR(prior_torchfile_open(FIXTURES "collide.pt", NULL, &tf), PRIOR_ERR_FORMAT,
            "two tensors flatten to the same name a.b");
  CHECK_ERR(prior_torchfile_open(FIXTURES "expected.json", NULL, &tf), PRIOR_ERR_FORMAT, "not a PyTorch checkpoint");
  CHECK_ERR(prior_torchfile_open(FIXTURES "missing.pt", NULL, &tf), PRIOR_ERR_IO, "missing.pt");
}

static size_t slurp(const char *path, unsigned char **out) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  size_t n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  *out = malloc(n);
  if (fread(*out, 1, n, f) != n) n = 0;
  fclose(f);
  return n;
}

/* Every prefix of a valid file must fail cleanly (never crash, never succeed), naming the file. */
static void truncation_sweep(const char *fixture, size_t step) {
  unsigned char *data = NULL;
  size_t n = slurp(fixture, &data);
  CHECK(n > 0);
  char path[512];
  snprintf(path, sizeof path, "%s/truncated.pt", tmpdir);
  int failures = 0, cases = 0;
  for (size_t k = 0; k < n; k += step) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, k, f);
    fclose(f);
    prior_torchfile *tf = NULL;
    prior_error_clear();
    prior_status s = prior_torchfile_open(path, NULL, &tf);
    cases++;
    if (s == PRIOR_OK || !strstr(prior_error_message(), "truncated.pt")) {
      failures++;
      fprintf(stderr, "%s cut at %zu: status %d, '%s'\n", fixture, k, (int)s, prior_error_message());
    }
    prior_torchfile_close(tf);
  }
  CHECK_MSG(failures == 0, "%s: %d of %d truncations not refused", fixture, failures, cases);
  free(data);
}

/* Runs the VM on a hand-written pickle and expects an error mentioning `needle` (or success when NULL). */
static void pickle_case(const char *bytes, size_t n, const char *needle) {
  prior_pickle *vm = prior_pickle_new();
  prior_pk *r = NULL;
  prior_error_clear();
  prior_status s = prior_pickle_load(vm, (const unsigned char *)bytes, n, "test pickle", &r, NULL);
  if (!needle) CHECK_MSG(s == PRIOR_OK && r, "pickle failed: %s", prior_error_message());
  else
    CHECK_MSG(s != PRIOR_OK && strstr(prior_error_message(), needle), "want '%s', got '%s'", needle,
              prior_error_message());
  prior_pickle_free(vm);
}

static void test_pickle_vm(void) {
  /* Protocol 4 style: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL refused by name. */
  static const char stack_global[] =
      "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93.";
  pickle_case(stack_global, sizeof stack_global - 1, "refusing to load global posix.system");
  static const char builtins_eval[] = "\x80\x02" "cbuiltins\neval\n" "X\x03\x00\x00\x00" "1+1" "\x85R.";
  pickle_case(builtins_eval, sizeof builtins_eval - 1, "refusing to load global builtins.eval");
  pickle_case("\x80\x02}h\x05.", 6, "memo GET of an index never PUT");
  pickle_case("\x80\x02s.", 4, "stack underflow");
  pickle_case("\x80\x02u.", 4, "needs a MARK");
  pickle_case("\x80\x02}", 3, "without a STOP");
  pickle_case("\x80\x02X\xff\x00\x00\x00" "ab.", 10, "runs past the end");
  pickle_case("\x80\x02(K\x01K\x02.", 8, "more or less than one value");
  pickle_case("\x80\x02" "ctorch\nFloatStorage\n" ")R.", 25, "cannot be called");
  pickle_case("\x80\x02" "ctorch\nComplexFloatStorage\n.", 30, "torch.ComplexFloatStorage have no supported dtype");
  /* A list of 1, LONG1 -32768, LONG1 0 (zero bytes), BINFLOAT 1.5. */
  pickle_case("\x80\x02]K\x01" "a\x8a\x02\x00\x80" "a\x8a\x00" "aG?\xf8\x00\x00\x00\x00\x00\x00" "a.", 25, NULL);
  /* A tensor view that reaches beyond its storage: storage of 4 floats, offset 2, size (3,). */
  static const char oob[] = "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n"
                            "((X\x07\x00\x00\x00storage" "ctorch\nFloatStorage\n" "X\x01\x00\x00\x00" "0"
                            "X\x03\x00\x00\x00" "cpu" "K\x04tQK\x02K\x03\x85K\x01\x85\x89NtR.";
  pickle_case(oob, sizeof oob - 1, "reaches past the end of its storage of 4 elements");
  static const char okview[] = "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n"
                               "((X\x07\x00\x00\x00storage" "ctorch\nFloatStorage\n" "X\x01\x00\x00\x00" "0"
                               "X\x03\x00\x00\x00" "cpu" "K\x05tQK\x02K\x03\x85K\x01\x85\x89NtR.";
  pickle_case(okview, sizeof okview - 1, NULL);

  /* Mutating every byte of a real data.pkl must never crash the VM (errors are fine). */
  unsigned char *file = NULL;
  size_t n = slurp(FIXTURES "lightning.pt", &file);
  prior_zip *z = NULL;
  CHECK_OK(prior_zip_open(file, n, "lightning.pt", &z));
  const prior_zip_entry *e = prior_zip_find(z, "lightning/data.pkl");
  const unsigned char *pkl = NULL;
  size_t len = 0;
  CHECK(e && prior_zip_read(z, e, 1, &pkl, &len) == PRIOR_OK);
  unsigned char *copy = malloc(len ? len : 1);
  int runs = 0;
  for (size_t i = 0; i < len; i++) {
    static const unsigned char subst[] = {0x00, 0xff, 'R', 'h', '(', '.', 0x80};
    for (size_t j = 0; j < sizeof subst; j++) {
      memcpy(copy, pkl, len);
      copy[i] = subst[j];
      prior_pickle *vm = prior_pickle_new();
      prior_pk *r;
      (void)prior_pickle_load(vm, copy, len, "mutated", &r, NULL);
      prior_pickle_free(vm);
      runs++;
    }
  }
  CHECK(runs > 1000);
  free(copy);
  prior_zip_close(z);
  free(file);
}

int main(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/prior_tf_XXXXXX", base && base[0] ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  test_fixtures();
  test_views_and_roots();
  test_refusals();
  truncation_sweep(FIXTURES "plain.pt", 3);
  truncation_sweep(FIXTURES "zip64.pt", 5);
  truncation_sweep(FIXTURES "legacy.pt", 1);
  test_pickle_vm();
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return check_summary("test_torchfile");
}
