/* The tokenizer's Unicode layer against Python: every code point's BERT classes, str.lower, NFD and NFC (hashed
 * per block of 4096), plus strings for composition, canonical ordering, final sigma and UTF-8 errors.
 * Fixture: tests/fixtures/tokenizer/unicode_checks.txt (make_tokenizer_fixtures.py). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "data/unicode.h"

#define FIXTURE "tests/fixtures/tokenizer/unicode_checks.txt"

static uint64_t fnv(uint64_t h, uint32_t v) {
  for (int k = 0; k < 4; k++) {
    h ^= (v >> (8 * k)) & 0xFF;
    h *= 0x100000001B3ull;
  }
  return h;
}

static uint64_t fnv_buf(uint64_t h, const prior_u32buf *b) {
  for (size_t i = 0; i < b->len; i++) h = fnv(h, b->data[i]);
  return fnv(h, 0xFFFFFFFFu);
}

/* Parses hex code points ("-" for none) up to "->" or the end of the line. */
static size_t parse_cps(char **p, uint32_t *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    while (**p == ' ') (*p)++;
    if (**p == 0 || **p == '\n' || (**p == '-' && (*p)[1] == '>')) break;
    if (**p == '-') {
      (*p)++;
      continue;
    }
    char *end;
    unsigned long v = strtoul(*p, &end, 16);
    if (end == *p) break;
    if (n < cap) out[n++] = (uint32_t)v;
    *p = end;
  }
  return n;
}

static int same(const uint32_t *a, size_t na, const prior_u32buf *b) {
  if (na != b->len) return 0;
  for (size_t i = 0; i < na; i++)
    if (a[i] != b->data[i]) return 0;
  return 1;
}

int main(void) {
  FILE *f = fopen(FIXTURE, "r");
  CHECK_MSG(f != NULL, "cannot open %s", FIXTURE);
  if (!f) return check_summary("test_unicode");
  char line[4096];
  prior_u32buf out = {0};
  int blocks = 0, strings = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    if (strncmp(line, "version ", 8) == 0) {
      line[strcspn(line, "\n")] = 0;
      CHECK_MSG(strcmp(line + 8, prior_unicode_version) == 0, "fixture Unicode %s, tables %s", line + 8,
                prior_unicode_version);
      continue;
    }
    if (strncmp(line, "block ", 6) == 0) {
      unsigned long start;
      unsigned long long want[4];
      CHECK(sscanf(line + 6, "%lx %llx %llx %llx %llx", &start, &want[0], &want[1], &want[2], &want[3]) == 5);
      uint64_t h[4] = {0xCBF29CE484222325ull, 0xCBF29CE484222325ull, 0xCBF29CE484222325ull,
                       0xCBF29CE484222325ull};
      for (uint32_t c = (uint32_t)start; c < start + 0x1000; c++) {
        h[0] = fnv(h[0], prior_unicode_flags(c) & (PRIOR_UNI_WHITESPACE | PRIOR_UNI_CONTROL | PRIOR_UNI_PUNCT |
                                                    PRIOR_UNI_MN | PRIOR_UNI_ISSPACE));
        out.len = 0;
        CHECK_OK(prior_unicode_lower(&c, 1, &out));
        h[1] = fnv_buf(h[1], &out);
        out.len = 0;
        CHECK_OK(prior_unicode_nfd(&c, 1, &out));
        h[2] = fnv_buf(h[2], &out);
        out.len = 0;
        CHECK_OK(prior_unicode_nfc(&c, 1, &out));
        h[3] = fnv_buf(h[3], &out);
      }
      static const char *what[4] = {"classes", "lower", "NFD", "NFC"};
      for (int k = 0; k < 4; k++)
        CHECK_MSG(h[k] == want[k], "block %lx: %s differs from Python", start, what[k]);
      blocks++;
      continue;
    }
    uint32_t in[64], want[64];
    char *p = strchr(line, ' ');
    if (!p) continue;
    size_t nin, nwant;
    if (strncmp(line, "utf8 ", 5) == 0) {
      unsigned char bytes[64];
      size_t nb = 0;
      char *q = p;
      for (;;) {
        while (*q == ' ') q++;
        if (*q == '-') break;
        char *end;
        unsigned long v = strtoul(q, &end, 16);
        if (end == q) break;
        bytes[nb++] = (unsigned char)v;
        q = end;
      }
      q += 2;
      nwant = parse_cps(&q, want, 64);
      uint32_t got[64];
      size_t ngot = prior_utf8_decode(bytes, nb, got);
      int ok = ngot == nwant;
      for (size_t i = 0; ok && i < ngot; i++) ok = got[i] == want[i];
      CHECK_MSG(ok, "utf8 decode of %s", line + 5);
      CHECK(prior_utf8_valid(bytes, nb) == (strstr(line, " fffd") == NULL || strstr(line, "ef bf bd") != NULL));
      strings++;
      continue;
    }
    nin = parse_cps(&p, in, 64);
    CHECK(p[0] == '-' && p[1] == '>');
    p += 2;
    nwant = parse_cps(&p, want, 64);
    out.len = 0;
    if (strncmp(line, "nfd ", 4) == 0) CHECK_OK(prior_unicode_nfd(in, nin, &out));
    else if (strncmp(line, "nfc ", 4) == 0) CHECK_OK(prior_unicode_nfc(in, nin, &out));
    else if (strncmp(line, "lower ", 6) == 0) CHECK_OK(prior_unicode_lower(in, nin, &out));
    else continue;
    CHECK_MSG(same(want, nwant, &out), "%s", line);
    strings++;
  }
  fclose(f);
  prior_u32buf_free(&out);
  CHECK(blocks == 0x110);
  CHECK(strings > 1000);

  /* Encoding round trip over every scalar value. */
  int round = 1;
  for (uint32_t c = 0; c < 0x110000 && round; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    unsigned char b[4];
    uint32_t back;
    int n = prior_utf8_encode(c, b);
    round = prior_utf8_decode(b, (size_t)n, &back) == 1 && back == c && prior_utf8_valid(b, (size_t)n);
  }
  CHECK(round);
  return check_summary("test_unicode");
}
