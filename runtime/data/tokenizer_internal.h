/* Internals shared by the tokenizer's files: the loaded vocabulary and the per-call workspace. */
#ifndef PRIOR_DATA_TOKENIZER_INTERNAL_H
#define PRIOR_DATA_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "data/unicode.h"
#include "prior/tokenizer.h"

#define PRIOR_TOK_NSPECIAL 5

struct prior_tokenizer {
  prior_tokenizer_options opt;
  char *path;        /* for messages */
  char *blob;        /* every token's bytes, each NUL-terminated */
  int64_t *offset;   /* id -> start of its token in blob */
  int32_t *length;   /* id -> byte length */
  int32_t n;         /* vocabulary size */
  int32_t *slots;    /* open-addressing hash table of ids, -1 = empty */
  uint64_t mask;     /* slot count - 1 */
  int32_t max_bytes; /* longest token, for skipping lookups that cannot hit */
  int32_t special[PRIOR_TOK_NSPECIAL];
};

extern const char *const prior_tok_special_text[PRIOR_TOK_NSPECIAL];

/* Growable int32 list. */
typedef struct prior_i32buf {
  int32_t *data;
  size_t len, cap;
} prior_i32buf;
prior_status prior_i32buf_push(prior_i32buf *b, int32_t v);

/* Scratch memory for one thread's calls; everything grows on demand and is freed by prior_tok_ws_free. */
typedef struct prior_tok_ws {
  prior_u32buf text, clean, norm, low, nfd, piece;
  unsigned char *bytes; /* UTF-8 of the piece being split into word pieces */
  uint32_t *offs;       /* byte offset of each code point of that piece, and the end */
  uint64_t *hash, *power;
  size_t piece_cap;
  prior_i32buf ids; /* the output */
} prior_tok_ws;
void prior_tok_ws_free(prior_tok_ws *ws);

/* Hashing shared by the vocabulary and the word piece search: a polynomial hash, so that the hash of any
 * substring of a word comes from prefix hashes in O(1). */
#define PRIOR_TOK_HASH_MUL 0x100000001b3ull
static inline uint64_t prior_tok_hash_step(uint64_t h, unsigned char b) { return h * PRIOR_TOK_HASH_MUL + b + 1; }
static inline uint64_t prior_tok_hash_slot(uint64_t h) {
  h ^= h >> 31;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}
/* The id of the token whose bytes are ("##" if prefixed) + s[0..len), with hash h, or -1. */
int32_t prior_tok_vocab_find(const prior_tokenizer *tok, int prefixed, const unsigned char *s, size_t len,
                             uint64_t h);

/* Appends the word piece ids of one piece (code points, already cleaned, cased and split) to ws->ids. */
prior_status prior_tok_wordpiece(const prior_tokenizer *tok, prior_tok_ws *ws, const uint32_t *cp, size_t n);
/* Appends the ids of a text segment holding no special token (basic tokenization, then word pieces). */
prior_status prior_tok_basic(const prior_tokenizer *tok, prior_tok_ws *ws, const uint32_t *cp, size_t n);
/* Appends the ids of UTF-8 text: special tokens cut out first, the rest through prior_tok_basic. */
prior_status prior_tok_text(const prior_tokenizer *tok, prior_tok_ws *ws, const char *text, size_t len);

#endif
