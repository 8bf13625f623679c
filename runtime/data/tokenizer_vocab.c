/* Loading vocab.txt into a read-only hash table, and the tokenizer's accessors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_internal.h"

const char *const prior_tok_special_text[PRIOR_TOK_NSPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

void prior_tokenizer_options_default(prior_tokenizer_options *opt) {
  opt->lowercase = 1;
  opt->strip_accents = -1;
  opt->tokenize_cjk = 1;
  opt->nfc = 1;
  opt->max_chars_per_word = 100;
}

static prior_status read_file(const char *path, unsigned char **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return prior_error_set(PRIOR_ERR_IO, "vocabulary %s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    unsigned char *grown = realloc(buf, cap * 2);
    if (!grown) free(buf);
    buf = grown;
    cap *= 2;
  }
  int failed = ferror(f);
  fclose(f);
  if (!buf) return prior_error_set(PRIOR_ERR_MEMORY, "vocabulary %s: out of memory reading it", path);
  if (failed) {
    free(buf);
    return prior_error_set(PRIOR_ERR_IO, "vocabulary %s: read error", path);
  }
  *data = buf;
  *size = n;
  return PRIOR_OK;
}

static uint64_t hash_bytes(const unsigned char *s, size_t n) {
  uint64_t h = 0;
  for (size_t i = 0; i < n; i++) h = prior_tok_hash_step(h, s[i]);
  return h;
}

int32_t prior_tok_vocab_find(const prior_tokenizer *tok, int prefixed, const unsigned char *s, size_t len,
                             uint64_t h) {
  size_t want = len + (prefixed ? 2 : 0);
  for (uint64_t i = prior_tok_hash_slot(h) & tok->mask;; i = (i + 1) & tok->mask) {
    int32_t id = tok->slots[i];
    if (id < 0) return -1;
    if ((size_t)tok->length[id] != want) continue;
    const char *t = tok->blob + tok->offset[id];
    if (prefixed && (t[0] != '#' || t[1] != '#')) continue;
    if (memcmp(t + (prefixed ? 2 : 0), s, len) == 0) return id;
  }
}

/* Splits the file into lines the way Python's text mode does (universal newlines) and indexes them. */
static prior_status build(prior_tokenizer *tok, unsigned char *data, size_t size) {
  const char *path = tok->path;
  int64_t lines = 0;
  for (size_t i = 0; i < size; i++) {
    if (data[i] == '\n' || (data[i] == '\r' && !(i + 1 < size && data[i + 1] == '\n'))) lines++;
  }
  if (size > 0 && data[size - 1] != '\n' && data[size - 1] != '\r') lines++; /* a last line without newline */
  if (lines == 0) return prior_error_set(PRIOR_ERR_FORMAT, "vocabulary %s: empty vocabulary", path);
  if (lines > INT32_MAX / 4)
    return prior_error_set(PRIOR_ERR_FORMAT, "vocabulary %s: %lld lines is too many", path, (long long)lines);
  tok->n = (int32_t)lines;
  uint64_t nslots = 16;
  while (nslots < (uint64_t)lines * 2) nslots *= 2;
  tok->mask = nslots - 1;
  tok->blob = malloc(size + (size_t)lines + 1);
  tok->offset = malloc((size_t)lines * sizeof *tok->offset);
  tok->length = malloc((size_t)lines * sizeof *tok->length);
  tok->slots = malloc(nslots * sizeof *tok->slots);
  if (!tok->blob || !tok->offset || !tok->length || !tok->slots)
    return prior_error_set(PRIOR_ERR_MEMORY, "vocabulary %s: out of memory for %lld tokens", path,
                           (long long)lines);
  memset(tok->slots, 0xff, nslots * sizeof *tok->slots);

  size_t pos = 0, w = 0;
  for (int32_t id = 0; id < tok->n; id++) {
    size_t end = pos;
    while (end < size && data[end] != '\n' && data[end] != '\r') end++;
    size_t len = end - pos;
    if (!prior_utf8_valid(data + pos, len)) /* Python reads the file as strict UTF-8 */
      return prior_error_set(PRIOR_ERR_FORMAT, "vocabulary %s line %d: not valid UTF-8", path, id + 1);
    memcpy(tok->blob + w, data + pos, len);
    tok->blob[w + len] = 0;
    tok->offset[id] = (int64_t)w;
    tok->length[id] = (int32_t)len;
    if ((int32_t)len > tok->max_bytes) tok->max_bytes = (int32_t)len;
    uint64_t h = hash_bytes(data + pos, len);
    int32_t prev = prior_tok_vocab_find(tok, 0, data + pos, len, h);
    if (prev >= 0)
      return prior_error_set(PRIOR_ERR_FORMAT, "vocabulary %s line %d: duplicate token '%s' (first on line %d)",
                             path, id + 1, tok->blob + w, prev + 1);
    uint64_t i = prior_tok_hash_slot(h) & tok->mask;
    while (tok->slots[i] >= 0) i = (i + 1) & tok->mask;
    tok->slots[i] = id;
    w += len + 1;
    pos = end;
    if (pos < size) pos += (data[pos] == '\r' && pos + 1 < size && data[pos + 1] == '\n') ? 2 : 1;
  }
  for (int k = 0; k < PRIOR_TOK_NSPECIAL; k++) {
    const char *s = prior_tok_special_text[k];
    tok->special[k] = prior_tok_vocab_find(tok, 0, (const unsigned char *)s, strlen(s),
                                           hash_bytes((const unsigned char *)s, strlen(s)));
    if (tok->special[k] < 0)
      return prior_error_set(PRIOR_ERR_FORMAT, "vocabulary %s: special token %s is missing", path, s);
  }
  return PRIOR_OK;
}

prior_tokenizer *prior_tokenizer_load(const char *vocab_path, const prior_tokenizer_options *opt) {
  if (!vocab_path) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "prior_tokenizer_load: vocabulary path is NULL");
    return NULL;
  }
  prior_tokenizer_options o;
  if (opt) o = *opt;
  else prior_tokenizer_options_default(&o);
  if (o.strip_accents < -1 || o.strip_accents > 1 || o.max_chars_per_word < 1) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "tokenizer options for %s: strip_accents %d (want -1, 0 or 1), "
                    "max_chars_per_word %d (want >= 1)", vocab_path, o.strip_accents, o.max_chars_per_word);
    return NULL;
  }
  unsigned char *data = NULL;
  size_t size = 0;
  if (read_file(vocab_path, &data, &size) != PRIOR_OK) return NULL;
  prior_tokenizer *tok = calloc(1, sizeof *tok);
  if (!tok || !(tok->path = strdup(vocab_path))) {
    free(tok);
    free(data);
    prior_error_set(PRIOR_ERR_MEMORY, "vocabulary %s: out of memory", vocab_path);
    return NULL;
  }
  tok->opt = o;
  if (tok->opt.strip_accents < 0) tok->opt.strip_accents = tok->opt.lowercase ? 1 : 0;
  prior_status s = build(tok, data, size);
  free(data);
  if (s != PRIOR_OK) {
    prior_tokenizer_free(tok);
    return NULL;
  }
  return tok;
}

void prior_tokenizer_free(prior_tokenizer *tok) {
  if (!tok) return;
  free(tok->path);
  free(tok->blob);
  free(tok->offset);
  free(tok->length);
  free(tok->slots);
  free(tok);
}

int64_t prior_tokenizer_vocab_size(const prior_tokenizer *tok) { return tok ? tok->n : 0; }

int32_t prior_tokenizer_token_id(const prior_tokenizer *tok, const char *token) {
  if (!tok || !token) return -1;
  size_t n = strlen(token);
  return prior_tok_vocab_find(tok, 0, (const unsigned char *)token, n, hash_bytes((const unsigned char *)token, n));
}

const char *prior_tokenizer_id_token(const prior_tokenizer *tok, int32_t id) {
  if (!tok || id < 0 || id >= tok->n) return NULL;
  return tok->blob + tok->offset[id];
}

int32_t prior_tokenizer_special_id(const prior_tokenizer *tok, prior_special_token which) {
  if (!tok || (int)which < 0 || (int)which >= PRIOR_TOK_NSPECIAL) return -1;
  return tok->special[which];
}

void prior_tokenizer_get_options(const prior_tokenizer *tok, prior_tokenizer_options *opt) {
  if (tok && opt) *opt = tok->opt;
}
