/* Encoding: special tokens cut out of the text, single texts, fixed-length batches, and PRIOR's reports (a list
 * of sentences -> one row with a per-token sentence index). */
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_internal.h"

static prior_status segment(const prior_tokenizer *tok, prior_tok_ws *ws, const char *s, size_t n) {
  if (n == 0) return PRIOR_OK;
  ws->text.len = 0;
  PRIOR_TRY(prior_u32buf_reserve(&ws->text, n));
  ws->text.len = prior_utf8_decode((const unsigned char *)s, n, ws->text.data);
  return prior_tok_basic(tok, ws, ws->text.data, ws->text.len);
}

/* The Python tokenizer first cuts the special tokens' texts out of the raw text (case-sensitive) and tokenizes
 * the pieces between them on their own. They are ASCII and none is a prefix of another, so a byte scan for the
 * leftmost match is the same as its trie on the decoded text. */
prior_status prior_tok_text(const prior_tokenizer *tok, prior_tok_ws *ws, const char *text, size_t len) {
  size_t seg = 0, i = 0;
  while (i < len) {
    const char *hit = text[i] == '[' ? memchr(text + i, ']', len - i < 8 ? len - i : 8) : NULL;
    int k = PRIOR_TOK_NSPECIAL;
    if (hit) {
      size_t slen = (size_t)(hit - (text + i)) + 1;
      for (k = 0; k < PRIOR_TOK_NSPECIAL; k++) {
        const char *s = prior_tok_special_text[k];
        if (strlen(s) == slen && memcmp(text + i, s, slen) == 0) break;
      }
      if (k < PRIOR_TOK_NSPECIAL) {
        PRIOR_TRY(segment(tok, ws, text + seg, i - seg));
        PRIOR_TRY(prior_i32buf_push(&ws->ids, tok->special[k]));
        i += slen;
        seg = i;
        continue;
      }
    }
    i++;
  }
  return segment(tok, ws, text + seg, len - seg);
}

static size_t text_len(const char *text, int64_t len) { return len < 0 ? strlen(text) : (size_t)len; }

static prior_status copy_out(const prior_tok_ws *ws, int32_t *ids, int64_t cap, int64_t *n) {
  size_t m = ws->ids.len < (size_t)(cap > 0 ? cap : 0) ? ws->ids.len : (size_t)(cap > 0 ? cap : 0);
  if (m) memcpy(ids, ws->ids.data, m * sizeof *ids);
  *n = (int64_t)ws->ids.len;
  return PRIOR_OK;
}

static prior_status check_text_args(const char *fn, const prior_tokenizer *tok, const char *text, int32_t *ids,
                                    int64_t cap, int64_t *n) {
  if (!tok || !text || !n || (cap > 0 && !ids))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: tokenizer, text, n, and ids when cap > 0, must not be NULL", fn);
  return PRIOR_OK;
}

prior_status prior_tokenizer_tokenize(const prior_tokenizer *tok, const char *text, int64_t len, int32_t *ids,
                                      int64_t cap, int64_t *n) {
  PRIOR_TRY(check_text_args("prior_tokenizer_tokenize", tok, text, ids, cap, n));
  prior_tok_ws ws = {0};
  prior_status s = prior_tok_text(tok, &ws, text, text_len(text, len));
  if (s == PRIOR_OK) s = copy_out(&ws, ids, cap, n);
  prior_tok_ws_free(&ws);
  return s;
}

prior_status prior_tokenizer_encode(const prior_tokenizer *tok, const char *text, int64_t len, int32_t *ids,
                                    int64_t cap, int64_t *n) {
  PRIOR_TRY(check_text_args("prior_tokenizer_encode", tok, text, ids, cap, n));
  prior_tok_ws ws = {0};
  prior_status s = prior_i32buf_push(&ws.ids, tok->special[PRIOR_TOKEN_CLS]);
  if (s == PRIOR_OK) s = prior_tok_text(tok, &ws, text, text_len(text, len));
  if (s == PRIOR_OK) s = prior_i32buf_push(&ws.ids, tok->special[PRIOR_TOKEN_SEP]);
  if (s == PRIOR_OK) s = copy_out(&ws, ids, cap, n);
  prior_tok_ws_free(&ws);
  return s;
}

/* ---- fixed-length rows ---- */
static inline void put(void *a, int elem_size, int64_t i, int64_t v) {
  if (elem_size == 4) ((int32_t *)a)[i] = (int32_t)v;
  else ((int64_t *)a)[i] = v;
}

typedef struct row_out {
  int elem_size;
  int64_t length;
  void *ids, *mask, *sentence;
} row_out;

/* Writes row b from n body ids (sent: their sentence numbers, or NULL): [CLS] body [SEP] [PAD]..., cut as asked. */
static void write_row(const prior_tokenizer *tok, const row_out *o, int64_t b, const int32_t *body,
                      const int32_t *sent, int64_t n, prior_report_cut cut) {
  int64_t L = o->length, base = b * L, keep = n, sep = 1, p = 0;
  if (n + 2 > L) {
    keep = cut == PRIOR_REPORT_CUT_REFERENCE ? L - 1 : L - 2;
    sep = cut != PRIOR_REPORT_CUT_REFERENCE;
  }
  put(o->ids, o->elem_size, base + p++, tok->special[PRIOR_TOKEN_CLS]);
  for (int64_t k = 0; k < keep; k++) put(o->ids, o->elem_size, base + p++, body[k]);
  if (sep) put(o->ids, o->elem_size, base + p++, tok->special[PRIOR_TOKEN_SEP]);
  int64_t used = p;
  for (; p < L; p++) put(o->ids, o->elem_size, base + p, tok->special[PRIOR_TOKEN_PAD]);
  if (o->mask) {
    for (p = 0; p < L; p++) put(o->mask, o->elem_size, base + p, p < used);
  }
  if (o->sentence) {
    for (p = 0; p < L; p++) {
      int64_t k = p - 1; /* index into body */
      put(o->sentence, o->elem_size, base + p, (k >= 0 && k < keep && sent) ? sent[k] : -1);
    }
  }
}

static prior_status check_rows(const char *fn, const prior_tokenizer *tok, const void *list, int64_t batch,
                               int64_t length, int elem_size, const void *ids) {
  if (!tok || (batch > 0 && (!list || !ids)))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: tokenizer, inputs and ids must not be NULL", fn);
  if (batch < 0) return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: batch %lld < 0", fn, (long long)batch);
  if (length < 2)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: length %lld leaves no room for [CLS] and [SEP] (want >= 2)",
                           fn, (long long)length);
  if (elem_size != 4 && elem_size != 8)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: elem_size %d (want 4 for int32 or 8 for int64)", fn, elem_size);
  return PRIOR_OK;
}

prior_status prior_tokenizer_encode_batch(const prior_tokenizer *tok, const char *const *texts, const int64_t *lens,
                                          int64_t batch, int64_t length, int elem_size, void *ids,
                                          void *attention_mask, int64_t *full_lengths) {
  const char *fn = "prior_tokenizer_encode_batch";
  PRIOR_TRY(check_rows(fn, tok, texts, batch, length, elem_size, ids));
  row_out o = {elem_size, length, ids, attention_mask, NULL};
  prior_tok_ws ws = {0};
  prior_status s = PRIOR_OK;
  for (int64_t b = 0; b < batch && s == PRIOR_OK; b++) {
    if (!texts[b]) {
      s = prior_error_set(PRIOR_ERR_ARGUMENT, "%s: text %lld is NULL", fn, (long long)b);
      break;
    }
    if ((b & 255) == 255 && (s = prior_interrupt_check()) != PRIOR_OK) break;
    ws.ids.len = 0;
    s = prior_tok_text(tok, &ws, texts[b], text_len(texts[b], lens ? lens[b] : -1));
    if (s != PRIOR_OK) break;
    write_row(tok, &o, b, ws.ids.data, NULL, (int64_t)ws.ids.len, PRIOR_REPORT_CUT_KEEP_SEP);
    if (full_lengths) full_lengths[b] = (int64_t)ws.ids.len + 2;
  }
  prior_tok_ws_free(&ws);
  return s;
}

prior_status prior_tokenizer_encode_reports(const prior_tokenizer *tok, const char *const *sentences,
                                            const int64_t *lens, const int64_t *sentence_counts, int64_t batch,
                                            int64_t length, prior_report_cut cut, int elem_size, void *ids,
                                            void *attention_mask, void *sentence_index, int64_t *full_lengths) {
  const char *fn = "prior_tokenizer_encode_reports";
  PRIOR_TRY(check_rows(fn, tok, sentence_counts, batch, length, elem_size, ids));
  if (cut != PRIOR_REPORT_CUT_KEEP_SEP && cut != PRIOR_REPORT_CUT_REFERENCE)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: unknown cut mode %d", fn, (int)cut);
  for (int64_t b = 0; b < batch; b++) {
    if (sentence_counts[b] < 0)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: report %lld has %lld sentences", fn, (long long)b,
                             (long long)sentence_counts[b]);
    if (sentence_counts[b] > 0 && !sentences)
      return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: sentences is NULL", fn);
  }
  row_out o = {elem_size, length, ids, attention_mask, sentence_index};
  prior_tok_ws ws = {0};
  prior_i32buf sent = {0};
  prior_status s = PRIOR_OK;
  int64_t next = 0; /* index of the report's first sentence in the flat list */
  for (int64_t b = 0; b < batch && s == PRIOR_OK; b++) {
    if ((b & 255) == 255 && (s = prior_interrupt_check()) != PRIOR_OK) break;
    ws.ids.len = 0;
    sent.len = 0;
    for (int64_t k = 0; k < sentence_counts[b] && s == PRIOR_OK; k++, next++) {
      if (!sentences[next]) {
        s = prior_error_set(PRIOR_ERR_ARGUMENT, "%s: report %lld sentence %lld is NULL", fn, (long long)b,
                            (long long)k);
        break;
      }
      s = prior_tok_text(tok, &ws, sentences[next], text_len(sentences[next], lens ? lens[next] : -1));
      while (s == PRIOR_OK && sent.len < ws.ids.len) s = prior_i32buf_push(&sent, (int32_t)(k + 1));
    }
    if (s != PRIOR_OK) break;
    write_row(tok, &o, b, ws.ids.data, sent.data, (int64_t)ws.ids.len, cut);
    if (full_lengths) full_lengths[b] = (int64_t)ws.ids.len + 2;
  }
  free(sent.data);
  prior_tok_ws_free(&ws);
  return s;
}
