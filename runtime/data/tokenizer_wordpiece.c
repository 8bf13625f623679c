/* WordPiece: split one piece greedily, longest vocabulary match first, continuations marked "##"; a piece that
 * cannot be covered, or one longer than max_chars_per_word characters, is one [UNK]. */
#include <stdlib.h>

#include "data/tokenizer_internal.h"

prior_status prior_i32buf_push(prior_i32buf *b, int32_t v) {
  if (b->len == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    int32_t *d = realloc(b->data, cap * sizeof *d);
    if (!d) return prior_error_set(PRIOR_ERR_MEMORY, "tokenizer: cannot grow the id list to %zu", cap);
    b->data = d;
    b->cap = cap;
  }
  b->data[b->len++] = v;
  return PRIOR_OK;
}

void prior_tok_ws_free(prior_tok_ws *ws) {
  prior_u32buf_free(&ws->text);
  prior_u32buf_free(&ws->clean);
  prior_u32buf_free(&ws->norm);
  prior_u32buf_free(&ws->low);
  prior_u32buf_free(&ws->nfd);
  prior_u32buf_free(&ws->piece);
  free(ws->bytes);
  free(ws->offs);
  free(ws->hash);
  free(ws->power);
  free(ws->ids.data);
  *ws = (prior_tok_ws){0};
}

static prior_status reserve_piece(prior_tok_ws *ws, size_t chars) {
  size_t bytes = 4 * chars + 1;
  if (bytes <= ws->piece_cap) return PRIOR_OK;
  size_t cap = ws->piece_cap ? ws->piece_cap : 256;
  while (cap < bytes) cap *= 2;
  unsigned char *b = realloc(ws->bytes, cap);
  if (b) ws->bytes = b;
  uint32_t *o = realloc(ws->offs, (cap + 1) * sizeof *o);
  if (o) ws->offs = o;
  uint64_t *h = realloc(ws->hash, (cap + 1) * sizeof *h);
  if (h) ws->hash = h;
  uint64_t *p = realloc(ws->power, (cap + 1) * sizeof *p);
  if (p) ws->power = p;
  if (!b || !o || !h || !p) return prior_error_set(PRIOR_ERR_MEMORY, "tokenizer: out of memory for a %zu-character word", chars);
  ws->piece_cap = cap;
  return PRIOR_OK;
}

prior_status prior_tok_wordpiece(const prior_tokenizer *tok, prior_tok_ws *ws, const uint32_t *cp, size_t n) {
  if (n == 0) return PRIOR_OK;
  if (n > (size_t)tok->opt.max_chars_per_word) return prior_i32buf_push(&ws->ids, tok->special[PRIOR_TOKEN_UNK]);
  PRIOR_TRY(reserve_piece(ws, n));
  /* UTF-8 of the piece, the byte offset of each character, prefix hashes and powers of the multiplier. */
  unsigned char *b = ws->bytes;
  uint32_t *off = ws->offs;
  uint64_t *H = ws->hash, *P = ws->power;
  size_t nb = 0;
  for (size_t i = 0; i < n; i++) {
    off[i] = (uint32_t)nb;
    nb += (size_t)prior_utf8_encode(cp[i], b + nb);
  }
  off[n] = (uint32_t)nb;
  H[0] = 0;
  P[0] = 1;
  for (size_t i = 0; i < nb; i++) {
    H[i + 1] = prior_tok_hash_step(H[i], b[i]);
    P[i + 1] = P[i] * PRIOR_TOK_HASH_MUL;
  }
  const uint64_t hash_hashes = prior_tok_hash_step(prior_tok_hash_step(0, '#'), '#');

  size_t first = ws->ids.len, start = 0;
  while (start < n) {
    int prefixed = start > 0;
    int32_t found = -1;
    size_t end = n;
    /* Skip the ends whose substring is longer than any vocabulary entry. */
    while (end > start && off[end] - off[start] + (prefixed ? 2u : 0u) > (uint32_t)tok->max_bytes) end--;
    for (; end > start; end--) {
      size_t a = off[start], len = off[end] - a;
      uint64_t h = H[off[end]] - H[a] * P[len];
      if (prefixed) h += hash_hashes * P[len];
      found = prior_tok_vocab_find(tok, prefixed, b + a, len, h);
      if (found >= 0) break;
    }
    if (found < 0) {
      ws->ids.len = first; /* the whole piece is unknown */
      return prior_i32buf_push(&ws->ids, tok->special[PRIOR_TOKEN_UNK]);
    }
    PRIOR_TRY(prior_i32buf_push(&ws->ids, found));
    start = end;
  }
  return PRIOR_OK;
}
