/* BERT's basic tokenization of a text segment that holds no special token, in the Python tokenizer's order:
 * clean, space out CJK, NFC, split on whitespace; per word: lowercase, strip accents, split around punctuation;
 * each resulting piece goes to WordPiece. */
#include <string.h>

#include "data/tokenizer_internal.h"

/* A word equal to a special token's text (possible once cleaning removed a control character inside it) is
 * neither lowercased nor split, as in the Python tokenizer's never_split. */
static int is_special_word(const uint32_t *w, size_t n) {
  for (int k = 0; k < PRIOR_TOK_NSPECIAL; k++) {
    const char *s = prior_tok_special_text[k];
    size_t len = strlen(s), i = 0;
    if (len != n) continue;
    while (i < n && w[i] == (unsigned char)s[i]) i++;
    if (i == n) return 1;
  }
  return 0;
}

/* Punctuation characters become pieces of their own; the runs between them are pieces too. */
static prior_status split_on_punct(const prior_tokenizer *tok, prior_tok_ws *ws, const uint32_t *w, size_t n) {
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    if (prior_unicode_flags(w[i]) & PRIOR_UNI_PUNCT) {
      PRIOR_TRY(prior_tok_wordpiece(tok, ws, w + run, i - run));
      PRIOR_TRY(prior_tok_wordpiece(tok, ws, w + i, 1));
      run = i + 1;
    }
  }
  return prior_tok_wordpiece(tok, ws, w + run, n - run);
}

static prior_status process_word(const prior_tokenizer *tok, prior_tok_ws *ws, const uint32_t *w, size_t n) {
  if (is_special_word(w, n)) return prior_tok_wordpiece(tok, ws, w, n);
  uint32_t top = 0;
  for (size_t i = 0; i < n; i++) top = w[i] > top ? w[i] : top;
  if (tok->opt.lowercase) {
    ws->low.len = 0;
    if (top < 128) { /* plain ASCII: no special cases */
      PRIOR_TRY(prior_u32buf_reserve(&ws->low, n));
      for (size_t i = 0; i < n; i++) ws->low.data[i] = (w[i] >= 'A' && w[i] <= 'Z') ? w[i] + 32 : w[i];
      ws->low.len = n;
    } else {
      PRIOR_TRY(prior_unicode_lower(w, n, &ws->low));
      top = 0;
      for (size_t i = 0; i < ws->low.len; i++) top = ws->low.data[i] > top ? ws->low.data[i] : top;
    }
    w = ws->low.data;
    n = ws->low.len;
  }
  if (tok->opt.strip_accents && top >= prior_unicode_nfd_stable_below) {
    ws->nfd.len = 0;
    PRIOR_TRY(prior_unicode_nfd(w, n, &ws->nfd));
    size_t k = 0;
    for (size_t i = 0; i < ws->nfd.len; i++) {
      if (!(prior_unicode_flags(ws->nfd.data[i]) & PRIOR_UNI_MN)) ws->nfd.data[k++] = ws->nfd.data[i];
    }
    ws->nfd.len = k;
    w = ws->nfd.data;
    n = k;
  }
  /* Stripping accents can make a special token's text ("[ĆLS]" with lowercase off); Python keeps it whole. */
  if (is_special_word(w, n)) return prior_tok_wordpiece(tok, ws, w, n);
  return split_on_punct(tok, ws, w, n);
}

prior_status prior_tok_basic(const prior_tokenizer *tok, prior_tok_ws *ws, const uint32_t *cp, size_t n) {
  /* Clean (drop NUL, U+FFFD and controls; whitespace becomes ' ') and space out CJK ideographs in one pass. */
  prior_u32buf *c = &ws->clean;
  c->len = 0;
  PRIOR_TRY(prior_u32buf_reserve(c, 3 * n));
  uint32_t top = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t ch = cp[i];
    uint8_t f = prior_unicode_flags(ch);
    if (ch == 0 || ch == 0xFFFD || (f & PRIOR_UNI_CONTROL)) continue;
    if (f & PRIOR_UNI_WHITESPACE) {
      c->data[c->len++] = ' ';
    } else if ((f & PRIOR_UNI_CJK) && tok->opt.tokenize_cjk) {
      c->data[c->len++] = ' ';
      c->data[c->len++] = ch;
      c->data[c->len++] = ' ';
    } else {
      c->data[c->len++] = ch;
    }
    top = ch > top ? ch : top;
  }
  const uint32_t *t = c->data;
  size_t tn = c->len;
  if (tok->opt.nfc && top >= prior_unicode_nfc_stable_below) {
    ws->norm.len = 0;
    PRIOR_TRY(prior_unicode_nfc(t, tn, &ws->norm));
    t = ws->norm.data;
    tn = ws->norm.len;
  }
  /* Words: maximal runs without str.isspace characters (after cleaning: ' ', U+2028, U+2029). */
  size_t i = 0;
  while (i < tn) {
    while (i < tn && (prior_unicode_flags(t[i]) & PRIOR_UNI_ISSPACE)) i++;
    size_t start = i;
    while (i < tn && !(prior_unicode_flags(t[i]) & PRIOR_UNI_ISSPACE)) i++;
    if (i > start) PRIOR_TRY(process_word(tok, ws, t + start, i - start));
  }
  return PRIOR_OK;
}
