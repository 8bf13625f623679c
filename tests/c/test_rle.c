/* SIIM RLE: hand-computed decodes, OR-ing, round trips on random masks, and broken strings. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "prior/rle.h"

static void test_decode_by_hand(void) {
  /* 4 wide, 3 high: flat index runs down columns. "1 2 3 1": pixels 1,2 then 6 -> (r1,c0) (r2,c0) (r0,c2). */
  uint8_t m[12] = {0};
  CHECK_OK(prior_rle_decode("1 2 3 1", 4, 3, m));
  const uint8_t want[12] = {0, 0, 1, 0, /* row 0 */ 1, 0, 0, 0, /* row 1 */ 1, 0, 0, 0};
  CHECK(memcmp(m, want, 12) == 0);
  /* OR-ing a second row of the same image: " 0 1" sets pixel 0 = (r0,c0); runs reaching the last pixel. */
  CHECK_OK(prior_rle_decode(" 0 1", 4, 3, m));
  CHECK(m[0] == 1 && m[2] == 1 && m[4] == 1);
  uint8_t full[12] = {0};
  CHECK_OK(prior_rle_decode("0 12", 4, 3, full));
  int all = 1;
  for (int i = 0; i < 12; i++) all &= full[i] == 1;
  CHECK(all);
  uint8_t last[12] = {0};
  CHECK_OK(prior_rle_decode("11 1", 4, 3, last)); /* index 11 = column 3, row 2 */
  CHECK(last[11] == 1);
  /* Empty masks: -1 (with SIIM's leading space) and a blank cell. */
  uint8_t e[12] = {0};
  CHECK_OK(prior_rle_decode(" -1", 4, 3, e));
  CHECK_OK(prior_rle_decode("", 4, 3, e));
  CHECK_OK(prior_rle_decode("  ", 4, 3, e));
  int none = 1;
  for (int i = 0; i < 12; i++) none &= e[i] == 0;
  CHECK(none);
}

static void test_encode(void) {
  uint8_t m[12] = {0};
  char *s = NULL;
  CHECK_OK(prior_rle_encode(m, 4, 3, &s));
  CHECK(s && strcmp(s, "-1") == 0);
  prior_rle_free(s);
  m[4] = m[8] = m[2] = 1; /* the mask of "1 2 3 1" */
  CHECK_OK(prior_rle_encode(m, 4, 3, &s));
  CHECK(s && strcmp(s, "1 2 3 1") == 0);
  prior_rle_free(s);
  memset(m, 1, 12); /* a run reaching the end of the image is written too */
  CHECK_OK(prior_rle_encode(m, 4, 3, &s));
  CHECK(s && strcmp(s, "0 12") == 0);
  prior_rle_free(s);
}

static void test_roundtrip(void) {
  unsigned seed = 7;
  int sizes[][2] = {{1, 1}, {5, 3}, {3, 5}, {64, 48}, {128, 128}};
  for (int k = 0; k < 5; k++) {
    int w = sizes[k][0], h = sizes[k][1];
    for (int trial = 0; trial < 20; trial++) {
      uint8_t *m = malloc((size_t)w * h), *back = calloc((size_t)w * h, 1);
      int density = trial % 4; /* empty-ish to full-ish, with blobs */
      for (int i = 0; i < w * h; i++) {
        seed = seed * 1103515245u + 12345u;
        m[i] = (uint8_t)(((seed >> 16) % 4) < (unsigned)density);
      }
      char *s = NULL;
      CHECK_OK(prior_rle_encode(m, w, h, &s));
      CHECK_OK(prior_rle_decode(s, w, h, back));
      CHECK_MSG(memcmp(m, back, (size_t)w * h) == 0, "round trip %dx%d trial %d: %s", w, h, trial, s);
      prior_rle_free(s);
      free(m);
      free(back);
    }
  }
}

static void test_broken(void) {
  uint8_t m[12] = {0};
  CHECK_ERR(prior_rle_decode("1 2 3", 4, 3, m), PRIOR_ERR_FORMAT, "odd number of tokens (3)");
  CHECK_ERR(prior_rle_decode("1 2 10 1", 4, 3, m), PRIOR_ERR_FORMAT,
            "run 2 (offset 10, length 1) ends at pixel 14, past the end of the 4x3 image (12 pixels)");
  CHECK_ERR(prior_rle_decode("0 13", 4, 3, m), PRIOR_ERR_FORMAT, "past the end");
  CHECK_ERR(prior_rle_decode("1 x2", 4, 3, m), PRIOR_ERR_FORMAT, "token 2 'x2' is not a non-negative integer");
  CHECK_ERR(prior_rle_decode("1.5 2", 4, 3, m), PRIOR_ERR_FORMAT, "token 1 '1.5 2'");
  CHECK_ERR(prior_rle_decode("-1 2", 4, 3, m), PRIOR_ERR_FORMAT, "token 1 '-1 2'");
  CHECK_ERR(prior_rle_decode("1 -2", 4, 3, m), PRIOR_ERR_FORMAT, "token 2");
  CHECK_ERR(prior_rle_decode("99999999999999999999 1", 4, 3, m), PRIOR_ERR_FORMAT, "token 1");
  CHECK_ERR(prior_rle_decode("9223372036854775807 9223372036854775807", 4, 3, m), PRIOR_ERR_FORMAT, "past the end");
  CHECK_ERR(prior_rle_decode("1 2", 0, 3, m), PRIOR_ERR_ARGUMENT, "image size 0x3");
  char *s = (char *)1;
  CHECK_ERR(prior_rle_encode(m, 4, -1, &s), PRIOR_ERR_ARGUMENT, "image size 4x-1");
  CHECK(s == NULL);
}

int main(void) {
  test_decode_by_hand();
  test_encode();
  test_roundtrip();
  test_broken();
  return check_summary("test_rle");
}
