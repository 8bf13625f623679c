/* Unicode lookups, UTF-8 and Python's str.lower / NFD / NFC over the generated tables (see unicode.h). */
#include "data/unicode.h"

#include <stdlib.h>
#include <string.h>

/* ---- lookups ---- */
uint8_t prior_unicode_flags_slow(uint32_t cp) {
  if (cp >= 0x110000) return PRIOR_UNI_CONTROL; /* not a code point; never produced by the decoder */
  /* The last range starting at or before cp. */
  int lo = 0, hi = prior_unicode_prop_count - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (prior_unicode_prop_start[mid] <= cp) lo = mid;
    else hi = mid - 1;
  }
  return prior_unicode_prop_flags[lo];
}

uint32_t prior_unicode_lower_simple(uint32_t cp) {
  if (cp < 128) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  int lo = 0, hi = prior_unicode_lower_count - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const prior_unicode_lower_run *r = &prior_unicode_lower_runs[mid];
    if (cp < r->first) hi = mid - 1;
    else if (cp > r->last) lo = mid + 1;
    else return (cp - r->first) % (uint32_t)r->stride == 0 ? (uint32_t)((int32_t)cp + r->delta) : cp;
  }
  return cp;
}

int prior_unicode_ccc(uint32_t cp) {
  if (cp < 0x300) return 0;
  int lo = 0, hi = prior_unicode_ccc_count - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const prior_unicode_ccc_run *r = &prior_unicode_ccc_runs[mid];
    if (cp < r->first) hi = mid - 1;
    else if (cp > r->last) lo = mid + 1;
    else return r->ccc;
  }
  return 0;
}

static const prior_unicode_decomp *find_decomp(uint32_t cp) {
  int lo = 0, hi = prior_unicode_decomp_count - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    uint32_t c = prior_unicode_decomps[mid].cp;
    if (cp < c) hi = mid - 1;
    else if (cp > c) lo = mid + 1;
    else return &prior_unicode_decomps[mid];
  }
  return NULL;
}

/* Hangul syllables decompose and compose by arithmetic (Unicode chapter 3.12). */
enum {
  HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
  HANGUL_LCOUNT = 19, HANGUL_VCOUNT = 21, HANGUL_TCOUNT = 28,
  HANGUL_NCOUNT = HANGUL_VCOUNT * HANGUL_TCOUNT, HANGUL_SCOUNT = HANGUL_LCOUNT * HANGUL_NCOUNT
};

static uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LCOUNT && b >= HANGUL_V && b < HANGUL_V + HANGUL_VCOUNT)
    return HANGUL_S + ((a - HANGUL_L) * HANGUL_VCOUNT + (b - HANGUL_V)) * HANGUL_TCOUNT;
  if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SCOUNT && (a - HANGUL_S) % HANGUL_TCOUNT == 0 && b > HANGUL_T &&
      b < HANGUL_T + HANGUL_TCOUNT)
    return a + (b - HANGUL_T);
  uint64_t key = ((uint64_t)a << 21) | b;
  int lo = 0, hi = prior_unicode_comp_count - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    uint64_t k = prior_unicode_comps[mid].key;
    if (key < k) hi = mid - 1;
    else if (key > k) lo = mid + 1;
    else return prior_unicode_comps[mid].cp;
  }
  return 0;
}

/* ---- UTF-8 ---- */
/* Decodes the sequence at s[0..n) (n >= 1): returns the bytes consumed and sets *cp, or U+FFFD and *bad = 1 for
 * a maximal invalid subsequence. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *out, int *bad) {
  unsigned c = s[0];
  *bad = 0;
  if (c < 0x80) {
    *out = c;
    return 1;
  }
  int need;
  uint32_t cp;
  unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) need = 1, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 2, cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;      /* overlong */
    else if (c == 0xED) hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3, cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;      /* overlong */
    else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
  } else {
    *out = 0xFFFD; /* a continuation byte or a byte that never starts a sequence */
    *bad = 1;
    return 1;
  }
  size_t j = 1;
  int got = 0;
  while (got < need && j < n) {
    unsigned b = s[j];
    unsigned blo = got == 0 ? lo : 0x80, bhi = got == 0 ? hi : 0xBF;
    if (b < blo || b > bhi) break;
    cp = (cp << 6) | (b & 0x3F);
    got++, j++;
  }
  /* An incomplete sequence is one replacement for its valid prefix; the breaking byte starts afresh. */
  *bad = got != need;
  *out = *bad ? 0xFFFD : cp;
  return j;
}

size_t prior_utf8_decode(const unsigned char *s, size_t n, uint32_t *out) {
  size_t i = 0, k = 0;
  int bad;
  while (i < n) {
    if (s[i] < 0x80) {
      out[k++] = s[i++];
      continue;
    }
    i += utf8_next(s + i, n - i, &out[k++], &bad);
  }
  return k;
}

int prior_utf8_valid(const unsigned char *s, size_t n) {
  uint32_t cp;
  int bad;
  for (size_t i = 0; i < n;) {
    i += utf8_next(s + i, n - i, &cp, &bad);
    if (bad) return 0;
  }
  return 1;
}

int prior_utf8_encode(uint32_t cp, unsigned char *out) {
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* ---- buffers ---- */
prior_status prior_u32buf_reserve(prior_u32buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return PRIOR_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra) cap *= 2;
  uint32_t *d = realloc(b->data, cap * sizeof *d);
  if (!d) return prior_error_set(PRIOR_ERR_MEMORY, "unicode buffer: cannot grow to %zu code points", cap);
  b->data = d;
  b->cap = cap;
  return PRIOR_OK;
}

void prior_u32buf_free(prior_u32buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ---- NFD ---- */
/* Appends the full canonical decomposition of cp (recursive; at most a few code points). */
static prior_status decompose_into(uint32_t cp, prior_u32buf *out) {
  if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SCOUNT) {
    uint32_t s = cp - HANGUL_S, t = s % HANGUL_TCOUNT;
    PRIOR_TRY(prior_u32buf_reserve(out, 3));
    prior_u32buf_push_unchecked(out, HANGUL_L + s / HANGUL_NCOUNT);
    prior_u32buf_push_unchecked(out, HANGUL_V + (s % HANGUL_NCOUNT) / HANGUL_TCOUNT);
    if (t) prior_u32buf_push_unchecked(out, HANGUL_T + t);
    return PRIOR_OK;
  }
  const prior_unicode_decomp *d = cp < prior_unicode_nfd_stable_below ? NULL : find_decomp(cp);
  if (!d) {
    PRIOR_TRY(prior_u32buf_reserve(out, 1));
    prior_u32buf_push_unchecked(out, cp);
    return PRIOR_OK;
  }
  PRIOR_TRY(decompose_into(d->first, out));
  if (d->second) PRIOR_TRY(decompose_into(d->second, out));
  return PRIOR_OK;
}

/* Canonical ordering: within each run of non-starters, a stable sort by combining class. Runs are short, so
 * insertion sort. */
static void canonical_order(uint32_t *s, size_t n) {
  for (size_t i = 1; i < n; i++) {
    int c = prior_unicode_ccc(s[i]);
    if (c == 0) continue;
    uint32_t v = s[i];
    size_t j = i;
    while (j > 0) {
      int p = prior_unicode_ccc(s[j - 1]);
      if (p <= c) break; /* also stops at a starter (class 0) */
      s[j] = s[j - 1];
      j--;
    }
    s[j] = v;
  }
}

prior_status prior_unicode_nfd(const uint32_t *s, size_t n, prior_u32buf *out) {
  size_t start = out->len;
  PRIOR_TRY(prior_u32buf_reserve(out, n));
  for (size_t i = 0; i < n; i++) PRIOR_TRY(decompose_into(s[i], out));
  canonical_order(out->data + start, out->len - start);
  return PRIOR_OK;
}

/* ---- NFC ---- */
prior_status prior_unicode_nfc(const uint32_t *s, size_t n, prior_u32buf *out) {
  size_t start = out->len;
  PRIOR_TRY(prior_unicode_nfd(s, n, out));
  /* Canonical composition in place: a character joins the last starter unless a character between them is a
   * starter or has a combining class >= its own (then it is "blocked"). */
  uint32_t *d = out->data + start;
  size_t len = out->len - start, w = 0;
  long starter = -1;
  int last_ccc = 0;
  for (size_t i = 0; i < len; i++) {
    uint32_t c = d[i];
    int ccc = prior_unicode_ccc(c);
    if (starter >= 0) {
      int adjacent = (size_t)starter == w - 1;
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        uint32_t comp = compose_pair(d[starter], c);
        if (comp) {
          d[starter] = comp;
          continue;
        }
      }
    }
    if (ccc == 0) starter = (long)w;
    last_ccc = ccc;
    d[w++] = c;
  }
  out->len = start + w;
  return PRIOR_OK;
}

/* ---- lower ---- */
/* Python's Final_Sigma: a cased letter before (skipping case-ignorables), none after (skipping case-ignorables). */
static int final_sigma(const uint32_t *s, size_t n, size_t i) {
  size_t j = i;
  uint8_t f = 0;
  while (j > 0) {
    f = prior_unicode_flags(s[--j]);
    if (!(f & PRIOR_UNI_IGNORABLE)) break;
  }
  if (j == i || (f & PRIOR_UNI_IGNORABLE) || !(f & PRIOR_UNI_CASED)) return 0;
  for (j = i + 1; j < n; j++) {
    f = prior_unicode_flags(s[j]);
    if (!(f & PRIOR_UNI_IGNORABLE)) return !(f & PRIOR_UNI_CASED);
  }
  return 1;
}

prior_status prior_unicode_lower(const uint32_t *s, size_t n, prior_u32buf *out) {
  PRIOR_TRY(prior_u32buf_reserve(out, n + 8));
  for (size_t i = 0; i < n; i++) {
    uint32_t c = s[i];
    if (c == 0x130) { /* LATIN CAPITAL LETTER I WITH DOT ABOVE: the one one-to-many mapping */
      PRIOR_TRY(prior_u32buf_reserve(out, 2));
      prior_u32buf_push_unchecked(out, 'i');
      prior_u32buf_push_unchecked(out, 0x307);
    } else if (c == 0x3A3) {
      PRIOR_TRY(prior_u32buf_reserve(out, 1));
      prior_u32buf_push_unchecked(out, final_sigma(s, n, i) ? 0x3C2 : 0x3C3);
    } else {
      PRIOR_TRY(prior_u32buf_reserve(out, 1));
      prior_u32buf_push_unchecked(out, prior_unicode_lower_simple(c));
    }
  }
  return PRIOR_OK;
}
