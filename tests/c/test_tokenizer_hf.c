/* The C tokenizer against Hugging Face's Python BertTokenizer: every fixture line under every configuration,
 * and PRIOR reports both the reference way (pad, then cut) and with truncation keeping [SEP].
 * Fixtures: tests/fixtures/tokenizer/{tokenizer_cases,tokenizer_reports}.txt (make_tokenizer_fixtures.py). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "prior/tokenizer.h"

#define DIR "tests/fixtures/tokenizer/"

/* Undoes the fixture's escaping (\xHH) in place; returns the byte length. */
static size_t unescape(char *s) {
  size_t w = 0;
  for (size_t r = 0; s[r] && s[r] != '\n'; r++) {
    if (s[r] == '\\' && s[r + 1] == 'x') {
      char hex[3] = {s[r + 2], s[r + 3], 0};
      s[w++] = (char)strtoul(hex, NULL, 16);
      r += 3;
    } else {
      s[w++] = s[r];
    }
  }
  s[w] = 0;
  return w;
}

static int64_t parse_ints(const char *p, int64_t *out, int64_t cap) {
  int64_t n = 0;
  char *end;
  for (;;) {
    long long v = strtoll(p, &end, 10);
    if (end == p) break;
    if (n < cap) out[n] = v;
    n++;
    p = end;
  }
  return n;
}

static prior_tokenizer *load(const char *vocab, int lowercase, int strip) {
  char path[256];
  snprintf(path, sizeof path, DIR "vocab_%s.txt", vocab);
  prior_tokenizer_options opt;
  prior_tokenizer_options_default(&opt);
  opt.lowercase = lowercase;
  opt.strip_accents = strip;
  prior_tokenizer *tok = prior_tokenizer_load(path, &opt);
  CHECK_MSG(tok != NULL, "%s", prior_error_message());
  return tok;
}

#define MAXTEXTS 512
#define MAXIDS 4096

static void check_cases(void) {
  FILE *f = fopen(DIR "tokenizer_cases.txt", "r");
  CHECK_MSG(f != NULL, "cannot open the cases fixture");
  if (!f) return;
  static char line[1 << 16];
  static char *texts[MAXTEXTS];
  static size_t lens[MAXTEXTS];
  static int64_t want[MAXIDS];
  static int32_t got[MAXIDS];
  int ntexts = 0, cur = 0, compared = 0, configs = 0;
  prior_tokenizer *tok = NULL;
  char config[128] = "";
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "text ", 5) == 0 && ntexts < MAXTEXTS) {
      lens[ntexts] = unescape(line + 5);
      texts[ntexts] = malloc(lens[ntexts] + 1);
      memcpy(texts[ntexts], line + 5, lens[ntexts] + 1);
      ntexts++;
    } else if (strncmp(line, "config ", 7) == 0) {
      char vocab[64];
      int lower, strip;
      CHECK(sscanf(line + 7, "%63s %d %d", vocab, &lower, &strip) == 3);
      prior_tokenizer_free(tok);
      tok = load(vocab, lower, strip);
      snprintf(config, sizeof config, "%s lowercase=%d strip=%d", vocab, lower, strip);
      cur = 0;
      configs++;
    } else if (strncmp(line, "ids ", 4) == 0 && tok && cur < ntexts) {
      int64_t nwant = parse_ints(line + 4, want, MAXIDS), ngot = -1;
      CHECK_OK(prior_tokenizer_encode(tok, texts[cur], (int64_t)lens[cur], got, MAXIDS, &ngot));
      int ok = ngot == nwant;
      for (int64_t i = 0; ok && i < ngot; i++) ok = got[i] == want[i];
      if (!ok) {
        fprintf(stderr, "[%s] line %d: got", config, cur);
        for (int64_t i = 0; i < ngot && i < 64; i++) fprintf(stderr, " %d", got[i]);
        fprintf(stderr, "\n  want");
        for (int64_t i = 0; i < nwant && i < 64; i++) fprintf(stderr, " %lld", (long long)want[i]);
        fprintf(stderr, "\n");
      }
      CHECK_MSG(ok, "[%s] text %d differs from Hugging Face", config, cur);
      cur++;
      compared++;
    }
  }
  fclose(f);
  prior_tokenizer_free(tok);
  for (int i = 0; i < ntexts; i++) free(texts[i]);
  CHECK(ntexts >= 200);
  CHECK(configs >= 6);
  CHECK(compared == ntexts * configs);
  printf("compared %d encodings (%d texts x %d configurations)\n", compared, ntexts, configs);
}

static void check_row(const char *what, int report, const int64_t *want, int64_t nwant, const void *got, int es,
                      int64_t L) {
  int ok = nwant == L;
  for (int64_t i = 0; ok && i < L; i++)
    ok = (es == 4 ? ((const int32_t *)got)[i] : ((const int64_t *)got)[i]) == want[i];
  CHECK_MSG(ok, "report %d: %s differs from the Python reference", report, what);
}

static void check_reports(void) {
  prior_tokenizer *tok = load("uncased", 1, -1);
  FILE *f = fopen(DIR "tokenizer_reports.txt", "r");
  CHECK_MSG(f != NULL, "cannot open the reports fixture");
  if (!f || !tok) {
    if (f) fclose(f);
    prior_tokenizer_free(tok);
    return;
  }
  static char line[1 << 16];
  static char *sents[64];
  static int64_t want[1024];
  int64_t L = 0, count = 0, nsent = 0;
  int report = -1, cut_seen = 0;
  static int32_t ids32[1024], mask32[1024], sidx32[1024];
  static int64_t ids64[1024], mask64[1024], sidx64[1024];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "report ", 7) == 0) {
      for (int64_t k = 0; k < nsent; k++) free(sents[k]);
      nsent = 0;
      long long l, c;
      CHECK(sscanf(line + 7, "%lld %lld", &l, &c) == 2);
      L = l, count = c;
      report++;
      continue;
    }
    if (strncmp(line, "sentence ", 9) == 0 && nsent < 64) {
      size_t n = unescape(line + 9);
      sents[nsent] = malloc(n + 1);
      memcpy(sents[nsent++], line + 9, n + 1);
      continue;
    }
    int reference = strncmp(line, "ref_", 4) == 0;
    if (!reference && strncmp(line, "trunc_", 6) != 0) continue;
    CHECK(nsent == count);
    int64_t full = 0;
    /* The reference rows in int64, the truncated ones in int32, so both element sizes are covered. */
    if (reference) {
      CHECK_OK(prior_tokenizer_encode_reports(tok, (const char *const *)sents, NULL, &count, 1, L,
                                              PRIOR_REPORT_CUT_REFERENCE, 8, ids64, mask64, sidx64, &full));
    } else {
      CHECK_OK(prior_tokenizer_encode_reports(tok, (const char *const *)sents, NULL, &count, 1, L,
                                              PRIOR_REPORT_CUT_KEEP_SEP, 4, ids32, mask32, sidx32, &full));
    }
    if (full > L) cut_seen++;
    char *field = strchr(line, '_') + 1;
    char *val = strchr(field, ' ') + 1;
    int64_t nwant = parse_ints(val, want, 1024);
    int es = reference ? 8 : 4;
    if (strncmp(field, "ids", 3) == 0) check_row(line, report, want, nwant, reference ? (void *)ids64 : ids32, es, L);
    if (strncmp(field, "mask", 4) == 0) check_row(line, report, want, nwant, reference ? (void *)mask64 : mask32, es, L);
    if (strncmp(field, "sidx", 4) == 0) check_row(line, report, want, nwant, reference ? (void *)sidx64 : sidx32, es, L);
  }
  for (int64_t k = 0; k < nsent; k++) free(sents[k]);
  fclose(f);
  prior_tokenizer_free(tok);
  CHECK(report + 1 >= 50);
  CHECK(cut_seen > 0); /* some reports are longer than their row */
}

int main(void) {
  check_cases();
  check_reports();
  return check_summary("test_tokenizer_hf");
}
