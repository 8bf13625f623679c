/* Tokenizer unit tests: vocabulary files (good and broken), options, invalid UTF-8, fixed-length batches, report
 * rows with sentence indices and both cut modes, argument errors, Ctrl-C, and use from several threads. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "prior/tokenizer.h"

#define SMALL "tests/fixtures/tokenizer/vocab_small.txt"

static char tmp_path[256];

static const char *write_tmp(const char *data, size_t n) {
  const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(tmp_path, sizeof tmp_path, "%s/prior_test_vocab_%d.txt", dir, (int)getpid());
  FILE *f = fopen(tmp_path, "wb");
  if (f) {
    fwrite(data, 1, n, f);
    fclose(f);
  }
  return tmp_path;
}

#define SPECIALS "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"

static void test_vocab_files(void) {
  CHECK_ERR(prior_tokenizer_load("no/such/vocab.txt", NULL), PRIOR_ERR_IO, "no/such/vocab.txt");
  CHECK_ERR(prior_tokenizer_load(write_tmp("", 0), NULL), PRIOR_ERR_FORMAT, "empty vocabulary");
  const char dup[] = SPECIALS "lung\nheart\nlung\n";
  CHECK_ERR(prior_tokenizer_load(write_tmp(dup, sizeof dup - 1), NULL), PRIOR_ERR_FORMAT,
            "line 8: duplicate token 'lung' (first on line 6)");
  CHECK(strstr(prior_error_message(), tmp_path) != NULL);
  const char nocls[] = "[PAD]\n[UNK]\n[SEP]\n[MASK]\n";
  CHECK_ERR(prior_tokenizer_load(write_tmp(nocls, sizeof nocls - 1), NULL), PRIOR_ERR_FORMAT,
            "special token [CLS] is missing");
  const char bad[] = SPECIALS "ok\nbad\xff\n";
  CHECK_ERR(prior_tokenizer_load(write_tmp(bad, sizeof bad - 1), NULL), PRIOR_ERR_FORMAT, "line 7: not valid UTF-8");
  const char truncated[] = SPECIALS "lung\ncaf\xc3";
  CHECK_ERR(prior_tokenizer_load(write_tmp(truncated, sizeof truncated - 1), NULL), PRIOR_ERR_FORMAT,
            "line 7: not valid UTF-8");
  const char surrogate[] = SPECIALS "\xed\xa0\x80\n";
  CHECK_ERR(prior_tokenizer_load(write_tmp(surrogate, sizeof surrogate - 1), NULL), PRIOR_ERR_FORMAT, "line 6");
  prior_tokenizer_options opt;
  prior_tokenizer_options_default(&opt);
  opt.strip_accents = 2;
  CHECK_ERR(prior_tokenizer_load(SMALL, &opt), PRIOR_ERR_ARGUMENT, "strip_accents 2");
  CHECK_ERR(prior_tokenizer_load(NULL, NULL), PRIOR_ERR_ARGUMENT, "NULL");

  /* Universal newlines as Python reads text files: \r\n, \r and \n; a last line without newline counts; an
   * empty line is a token (""). */
  const char mixed[] = "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\n\n[MASK]\nfoo";
  prior_tokenizer *tok = prior_tokenizer_load(write_tmp(mixed, sizeof mixed - 1), NULL);
  CHECK_MSG(tok != NULL, "%s", prior_error_message());
  if (tok) {
    CHECK(prior_tokenizer_vocab_size(tok) == 7);
    CHECK(prior_tokenizer_token_id(tok, "[UNK]") == 1);
    CHECK(prior_tokenizer_token_id(tok, "[CLS]") == 2);
    CHECK(prior_tokenizer_token_id(tok, "") == 4);
    CHECK(prior_tokenizer_token_id(tok, "foo") == 6);
    CHECK(prior_tokenizer_token_id(tok, "fo") == -1);
    CHECK(strcmp(prior_tokenizer_id_token(tok, 5), "[MASK]") == 0);
    CHECK(prior_tokenizer_id_token(tok, 7) == NULL && prior_tokenizer_id_token(tok, -1) == NULL);
    CHECK(prior_tokenizer_special_id(tok, PRIOR_TOKEN_MASK) == 5);
    CHECK(prior_tokenizer_special_id(tok, (prior_special_token)9) == -1);
    prior_tokenizer_free(tok);
  }
  remove(tmp_path);
}

static int32_t id(const prior_tokenizer *tok, const char *s) { return prior_tokenizer_token_id(tok, s); }

static int ids_equal(const prior_tokenizer *tok, const char *text, int64_t len, const int32_t *want, int64_t n) {
  int32_t got[64];
  int64_t m = -1;
  if (prior_tokenizer_tokenize(tok, text, len, got, 64, &m) != PRIOR_OK || m != n) return 0;
  for (int64_t i = 0; i < n; i++)
    if (got[i] != want[i]) return 0;
  return 1;
}

static void test_tokenize(void) {
  prior_tokenizer *tok = prior_tokenizer_load(SMALL, NULL);
  CHECK_MSG(tok != NULL, "%s", prior_error_message());
  if (!tok) return;
  int32_t unk = prior_tokenizer_special_id(tok, PRIOR_TOKEN_UNK);
  int32_t w1[] = {id(tok, "pleural"), id(tok, "effusion"), id(tok, ".")};
  CHECK(ids_equal(tok, "Pleural EFFUSION.", -1, w1, 3));
  /* Invalid UTF-8 decodes to U+FFFD, which cleaning removes: the word closes up as in Python. */
  int32_t w2[] = {id(tok, "lung")};
  CHECK(ids_equal(tok, "lu\xffng", -1, w2, 1));
  CHECK(ids_equal(tok, "lu\xe2\x82ng", -1, w2, 1));
  CHECK(ids_equal(tok, "\xc0lung\x80", -1, w2, 1));
  /* An explicit length covers NUL bytes (removed by cleaning). */
  CHECK(ids_equal(tok, "lu\0ng", 5, w2, 1));
  /* Special tokens in the text, accents stripped (lowercase), CJK spaced out. */
  int32_t w3[] = {id(tok, "[SEP]"), id(tok, "c"), id(tok, "##a"), id(tok, "##f"), id(tok, "##e"), id(tok, "肺"),
                  id(tok, "炎")};
  CHECK(ids_equal(tok, "[SEP]Café肺炎", -1, w3, 7));
  int32_t w4[] = {unk};
  CHECK(ids_equal(tok, "qqqq\xe2\x82\xac", -1, w4, 1)); /* "€" is not in the vocabulary: the whole word is [UNK] */
  /* Measuring: cap 0 returns the count only. */
  int64_t n = -1;
  CHECK_OK(prior_tokenizer_tokenize(tok, "no effusion", -1, NULL, 0, &n));
  CHECK(n == 2);
  int32_t two[2] = {-7, -7};
  CHECK_OK(prior_tokenizer_encode(tok, "no effusion", -1, two, 1, &n));
  CHECK(n == 4 && two[0] == prior_tokenizer_special_id(tok, PRIOR_TOKEN_CLS) && two[1] == -7);
  CHECK_ERR(prior_tokenizer_tokenize(tok, NULL, -1, two, 2, &n), PRIOR_ERR_ARGUMENT, "NULL");
  prior_tokenizer_free(tok);

  /* Options: case kept; a shorter word limit. */
  prior_tokenizer_options opt;
  prior_tokenizer_options_default(&opt);
  opt.lowercase = 0;
  opt.max_chars_per_word = 5;
  tok = prior_tokenizer_load(SMALL, &opt);
  CHECK_MSG(tok != NULL, "%s", prior_error_message());
  if (!tok) return;
  prior_tokenizer_get_options(tok, &opt);
  CHECK(opt.strip_accents == 0); /* unset follows lowercase */
  int32_t w5[] = {id(tok, "Heart"), unk, id(tok, "lung")};
  CHECK(ids_equal(tok, "Heart effusion lung", -1, w5, 3));
  prior_tokenizer_free(tok);
}

static void test_batch(void) {
  prior_tokenizer *tok = prior_tokenizer_load(SMALL, NULL);
  if (!tok) return;
  int32_t CLS = prior_tokenizer_special_id(tok, PRIOR_TOKEN_CLS), SEP = prior_tokenizer_special_id(tok, PRIOR_TOKEN_SEP);
  int32_t PAD = prior_tokenizer_special_id(tok, PRIOR_TOKEN_PAD);
  const char *texts[3] = {"no effusion.", "the heart is normal size and the lungs are clear", ""};
  int32_t ids[3][8], mask[3][8];
  int64_t full[3];
  CHECK_OK(prior_tokenizer_encode_batch(tok, texts, NULL, 3, 8, 4, ids, mask, full));
  int32_t r0[8] = {CLS, id(tok, "no"), id(tok, "effusion"), id(tok, "."), SEP, PAD, PAD, PAD};
  int32_t m0[8] = {1, 1, 1, 1, 1, 0, 0, 0};
  CHECK(memcmp(ids[0], r0, sizeof r0) == 0 && memcmp(mask[0], m0, sizeof m0) == 0);
  CHECK(full[0] == 5 && full[1] == 16 && full[2] == 2);
  CHECK(ids[1][0] == CLS && ids[1][5] == id(tok, "size") && ids[1][7] == SEP && mask[1][7] == 1);
  CHECK(ids[2][0] == CLS && ids[2][1] == SEP && ids[2][2] == PAD && mask[2][1] == 1 && mask[2][2] == 0);
  int64_t ids64[3][8], lens[3] = {2, -1, 0};
  CHECK_OK(prior_tokenizer_encode_batch(tok, texts, lens, 3, 8, 8, ids64, NULL, NULL));
  CHECK(ids64[0][1] == id(tok, "no") && ids64[0][2] == SEP && ids64[1][7] == SEP);
  CHECK_ERR(prior_tokenizer_encode_batch(tok, texts, NULL, 3, 1, 4, ids, NULL, NULL), PRIOR_ERR_ARGUMENT, "length 1");
  CHECK_ERR(prior_tokenizer_encode_batch(tok, texts, NULL, 3, 8, 2, ids, NULL, NULL), PRIOR_ERR_ARGUMENT, "elem_size 2");
  const char *holes[2] = {"a", NULL};
  CHECK_ERR(prior_tokenizer_encode_batch(tok, holes, NULL, 2, 8, 4, ids, NULL, NULL), PRIOR_ERR_ARGUMENT, "text 1");
  CHECK_OK(prior_tokenizer_encode_batch(tok, NULL, NULL, 0, 8, 4, NULL, NULL, NULL));

  /* Ctrl-C stops a long batch at a safe point. */
  enum { N = 600 };
  static const char *many[N];
  static int32_t big[N][4];
  for (int i = 0; i < N; i++) many[i] = "lung";
  prior_interrupt_raise();
  CHECK_ERR(prior_tokenizer_encode_batch(tok, many, NULL, N, 4, 4, big, NULL, NULL), PRIOR_ERR_INTERRUPTED, "");
  CHECK_OK(prior_tokenizer_encode_batch(tok, many, NULL, N, 4, 4, big, NULL, NULL));
  prior_tokenizer_free(tok);
}

static void test_reports(void) {
  prior_tokenizer *tok = prior_tokenizer_load(SMALL, NULL);
  if (!tok) return;
  int32_t CLS = prior_tokenizer_special_id(tok, PRIOR_TOKEN_CLS), SEP = prior_tokenizer_special_id(tok, PRIOR_TOKEN_SEP);
  int32_t PAD = prior_tokenizer_special_id(tok, PRIOR_TOKEN_PAD);
  int32_t no = id(tok, "no"), dot = id(tok, "."), heart = id(tok, "heart"), normal = id(tok, "normal");
  int32_t is = id(tok, "is");
  /* Report 0: two sentences; report 1: no sentences; report 2: three sentences, too long for 8. */
  const char *sents[] = {"No effusion is seen.", "Heart normal.", "Heart is normal.", "No lung.", "Heart."};
  int64_t counts[3] = {2, 0, 3};
  int32_t ids[3][8], mask[3][8], sidx[3][8];
  int64_t full[3];
  CHECK_OK(prior_tokenizer_encode_reports(tok, sents, NULL, counts, 3, 8, PRIOR_REPORT_CUT_KEEP_SEP, 4, ids, mask,
                                          sidx, full));
  int32_t r0[8] = {CLS, no, id(tok, "effusion"), is, id(tok, "seen"), dot, heart, normal};
  int32_t s0[8] = {-1, 1, 1, 1, 1, 1, 2, 2};
  CHECK(full[0] == 10); /* 8 pieces + [CLS] + [SEP]: two too many */
  CHECK(memcmp(ids[0], r0, 7 * sizeof(int32_t)) == 0 && ids[0][7] == SEP);
  CHECK(memcmp(sidx[0], s0, 7 * sizeof(int32_t)) == 0 && sidx[0][7] == -1);
  int32_t r1[8] = {CLS, SEP, PAD, PAD, PAD, PAD, PAD, PAD}, m1[8] = {1, 1, 0, 0, 0, 0, 0, 0};
  CHECK(memcmp(ids[1], r1, sizeof r1) == 0 && memcmp(mask[1], m1, sizeof m1) == 0 && full[1] == 2);
  for (int p = 0; p < 8; p++) CHECK(sidx[1][p] == -1);
  int32_t r2[8] = {CLS, heart, is, normal, dot, no, id(tok, "lung"), SEP};
  int32_t s2[8] = {-1, 1, 1, 1, 1, 2, 2, -1};
  CHECK(memcmp(ids[2], r2, sizeof r2) == 0 && memcmp(sidx[2], s2, sizeof s2) == 0 && full[2] == 11);

  /* The reference cut: pad first, then cut to L, which loses [SEP] and keeps one more piece. */
  int64_t ids64[3][8], sidx64[3][8], mask64[3][8];
  CHECK_OK(prior_tokenizer_encode_reports(tok, sents, NULL, counts, 3, 8, PRIOR_REPORT_CUT_REFERENCE, 8, ids64,
                                          mask64, sidx64, NULL));
  CHECK(ids64[0][7] == normal && sidx64[0][7] == 2 && mask64[0][7] == 1);
  CHECK(ids64[2][7] == dot && sidx64[2][7] == 2);
  CHECK(ids64[1][1] == SEP && sidx64[1][1] == -1);
  /* Rows that fit are the same in both modes. */
  int64_t one = 2;
  int32_t a[16], b[16];
  CHECK_OK(prior_tokenizer_encode_reports(tok, sents, NULL, &one, 1, 16, PRIOR_REPORT_CUT_KEEP_SEP, 4, a, NULL, NULL, NULL));
  CHECK_OK(prior_tokenizer_encode_reports(tok, sents, NULL, &one, 1, 16, PRIOR_REPORT_CUT_REFERENCE, 4, b, NULL, NULL, NULL));
  CHECK(memcmp(a, b, sizeof a) == 0 && a[9] == SEP && a[10] == PAD);

  int64_t negative = -1;
  CHECK_ERR(prior_tokenizer_encode_reports(tok, sents, NULL, &negative, 1, 8, PRIOR_REPORT_CUT_KEEP_SEP, 4, ids,
                                           NULL, NULL, NULL), PRIOR_ERR_ARGUMENT, "-1 sentences");
  CHECK_ERR(prior_tokenizer_encode_reports(tok, sents, NULL, counts, 1, 8, (prior_report_cut)5, 4, ids, NULL, NULL,
                                           NULL), PRIOR_ERR_ARGUMENT, "cut mode 5");
  const char *hole[2] = {"a", NULL};
  CHECK_ERR(prior_tokenizer_encode_reports(tok, hole, NULL, &one, 1, 8, PRIOR_REPORT_CUT_KEEP_SEP, 4, ids, NULL,
                                           NULL, NULL), PRIOR_ERR_ARGUMENT, "sentence 1 is NULL");
  prior_tokenizer_free(tok);
}

/* Random bytes (mostly invalid UTF-8, controls, brackets) never fail or overrun (run under the sanitizers), and
 * a count measured with cap 0 equals the count written. */
static void test_random_bytes(void) {
  prior_tokenizer *tok = prior_tokenizer_load(SMALL, NULL);
  if (!tok) return;
  static const unsigned char alphabet[] = "aZ.[]#SEPCLS \t\n\x01\x80\xbf\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xcc\x81\xce\xa3\xff";
  uint32_t x = 12345;
  int ok = 1;
  for (int iter = 0; iter < 3000 && ok; iter++) {
    unsigned char text[400];
    int n = (int)((x = x * 1103515245u + 12345u) >> 16) % (int)sizeof text;
    for (int i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      text[i] = (x >> 24) & 1 ? alphabet[(x >> 16) % (sizeof alphabet - 1)] : (unsigned char)(x >> 8);
    }
    int64_t measured = -1, written = -1;
    int32_t ids[512];
    ok = prior_tokenizer_tokenize(tok, (const char *)text, n, NULL, 0, &measured) == PRIOR_OK &&
         prior_tokenizer_tokenize(tok, (const char *)text, n, ids, 512, &written) == PRIOR_OK &&
         measured == written && written <= n;
    for (int64_t i = 0; ok && i < written; i++) ok = ids[i] >= 0 && ids[i] < prior_tokenizer_vocab_size(tok);
  }
  CHECK_MSG(ok, "random bytes: %s", prior_error_message());
  prior_tokenizer_free(tok);
}

/* Threads share one tokenizer; each must get exactly the single-threaded result. */
enum { NT = 4, NTEXT = 6, ROUNDS = 200, LEN = 24 };
static const char *thread_texts[NTEXT] = {
    "The heart size is normal. No pleural effusion.", "Café naïve über señor 肺炎 😀",
    "[CLS] glued[SEP]tokens and Σ ΟΔΟΣ", "Nodule 1.5 cm x 3x4 mm — stable “quoted”.",
    "\x01\x02control\tchars\r\n", "Pneumonoultramicroscopicsilicovolcanoconiosis-and-more"};
typedef struct {
  const prior_tokenizer *tok;
  const int32_t *want;
  int ok;
} thread_arg;

static void *thread_main(void *p) {
  thread_arg *a = p;
  int32_t got[NTEXT][LEN];
  a->ok = 1;
  for (int r = 0; r < ROUNDS && a->ok; r++) {
    if (prior_tokenizer_encode_batch(a->tok, thread_texts, NULL, NTEXT, LEN, 4, got, NULL, NULL) != PRIOR_OK ||
        memcmp(got, a->want, sizeof got) != 0)
      a->ok = 0;
  }
  return NULL;
}

static void test_threads(void) {
  prior_tokenizer *tok = prior_tokenizer_load(SMALL, NULL);
  if (!tok) return;
  static int32_t want[NTEXT][LEN];
  CHECK_OK(prior_tokenizer_encode_batch(tok, thread_texts, NULL, NTEXT, LEN, 4, want, NULL, NULL));
  pthread_t th[NT];
  thread_arg args[NT];
  for (int i = 0; i < NT; i++) {
    args[i] = (thread_arg){tok, &want[0][0], 0};
    CHECK(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
  }
  for (int i = 0; i < NT; i++) {
    pthread_join(th[i], NULL);
    CHECK_MSG(args[i].ok, "thread %d saw a different encoding", i);
  }
  prior_tokenizer_free(tok);
}

int main(void) {
  test_vocab_files();
  test_tokenize();
  test_batch();
  test_reports();
  test_random_bytes();
  test_threads();
  return check_summary("test_tokenizer");
}
