/* BERT WordPiece tokenizer with the semantics of Hugging Face's Python BertTokenizer.
 *
 * Text is UTF-8. Invalid byte sequences decode to U+FFFD, which the tokenizer's cleaning step removes, so they
 * vanish as they do in Python when the text was decoded with errors="replace" (or "ignore").
 *
 * Pipeline (per Hugging Face): the special tokens [PAD] [UNK] [CLS] [SEP] [MASK] written in the text are cut out
 * first and map to their ids; the rest is cleaned (NUL, U+FFFD and control characters removed, whitespace made a
 * space), CJK ideographs are spaced out, the text is NFC-normalised, split on whitespace, each word lowercased and
 * stripped of accents (NFD, drop Mn) as configured, split around punctuation, and each piece split greedily
 * longest-match-first into vocabulary entries with "##" marking continuations; a word longer than
 * max_chars_per_word characters, or one that cannot be covered, becomes [UNK].
 *
 * A loaded tokenizer is read-only: any number of threads may use it at once. */
#ifndef PRIOR_TOKENIZER_H
#define PRIOR_TOKENIZER_H

#include <stdint.h>

#include "prior/error.h"

typedef struct prior_tokenizer prior_tokenizer;

typedef struct prior_tokenizer_options {
  int lowercase;          /* 1 (default): lowercase words (Python str.lower) */
  int strip_accents;      /* -1 (default): follow lowercase (Hugging Face's None); 0: never; 1: always */
  int tokenize_cjk;       /* 1 (default): put spaces around CJK ideographs */
  int nfc;                /* 1 (default): NFC-normalise as the Python tokenizer does; 0: skip, as the Rust "fast"
                             tokenizer and older Python versions do */
  int max_chars_per_word; /* 100 (default): longer words become [UNK] */
} prior_tokenizer_options;

typedef enum prior_special_token {
  PRIOR_TOKEN_PAD = 0,
  PRIOR_TOKEN_UNK = 1,
  PRIOR_TOKEN_CLS = 2,
  PRIOR_TOKEN_SEP = 3,
  PRIOR_TOKEN_MASK = 4
} prior_special_token;

/* How a report longer than the row is cut. */
typedef enum prior_report_cut {
  PRIOR_REPORT_CUT_KEEP_SEP = 0, /* [CLS] first L-2 tokens [SEP] (Hugging Face truncation) */
  PRIOR_REPORT_CUT_REFERENCE = 1 /* [CLS] first L-1 tokens, no [SEP]: padding first, then cutting to L */
} prior_report_cut;

void prior_tokenizer_options_default(prior_tokenizer_options *opt);

/* Loads vocab.txt: one token per line, id = line number (0-based); lines end with \n, \r\n or \r. Errors name the
 * file (and line): missing file, invalid UTF-8, a duplicate token, an empty vocabulary, or a missing special
 * token (all five must be present). opt NULL means the defaults. Returns NULL on error. */
prior_tokenizer *prior_tokenizer_load(const char *vocab_path, const prior_tokenizer_options *opt);
void prior_tokenizer_free(prior_tokenizer *tok);

int64_t prior_tokenizer_vocab_size(const prior_tokenizer *tok);
/* The id of a vocabulary entry, or -1 when it is not in the vocabulary. */
int32_t prior_tokenizer_token_id(const prior_tokenizer *tok, const char *token);
/* The text of an id (NUL-terminated), or NULL when out of range. */
const char *prior_tokenizer_id_token(const prior_tokenizer *tok, int32_t id);
int32_t prior_tokenizer_special_id(const prior_tokenizer *tok, prior_special_token which);
void prior_tokenizer_get_options(const prior_tokenizer *tok, prior_tokenizer_options *opt);

/* Text lengths: len < 0 means NUL-terminated. Id outputs: *n receives the full count; at most cap ids are
 * written, so a call with cap 0 measures. */

/* Word piece ids of text, without [CLS]/[SEP]. */
prior_status prior_tokenizer_tokenize(const prior_tokenizer *tok, const char *text, int64_t len, int32_t *ids,
                                      int64_t cap, int64_t *n);
/* [CLS] pieces [SEP], not padded nor cut. */
prior_status prior_tokenizer_encode(const prior_tokenizer *tok, const char *text, int64_t len, int32_t *ids,
                                    int64_t cap, int64_t *n);

/* Batch of texts into rows of `length` >= 2: [CLS] pieces [SEP] then [PAD]; a longer text keeps its first
 * length-2 pieces and its [SEP]. elem_size is 4 (int32 outputs) or 8 (int64). ids [batch, length] is required;
 * attention_mask [batch, length] (1 on tokens, 0 on padding) and full_lengths [batch] (tokens with [CLS] and
 * [SEP] before cutting) may be NULL. lens NULL means all NUL-terminated. */
prior_status prior_tokenizer_encode_batch(const prior_tokenizer *tok, const char *const *texts, const int64_t *lens,
                                          int64_t batch, int64_t length, int elem_size, void *ids,
                                          void *attention_mask, int64_t *full_lengths);

/* Reports as lists of sentences: report b has sentence_counts[b] sentences, taken in order from the flat list
 * `sentences` (lens as above). Each row is [CLS] s1 s2 ... [SEP] then [PAD], each sentence tokenized on its own
 * and the pieces concatenated; sentence_index gets the 1-based sentence number of each token and -1 at [CLS],
 * [SEP] and padding. Over-long reports are cut as `cut` says. attention_mask, sentence_index and full_lengths
 * may be NULL. The PRIOR reference tokenizes the sentences joined without a separator and counts each
 * sentence's tokens separately; both agree whenever sentence boundaries fall between tokens (sentences ending
 * in punctuation), and there the sentence index is exact by construction. */
prior_status prior_tokenizer_encode_reports(const prior_tokenizer *tok, const char *const *sentences,
                                            const int64_t *lens, const int64_t *sentence_counts, int64_t batch,
                                            int64_t length, prior_report_cut cut, int elem_size, void *ids,
                                            void *attention_mask, void *sentence_index, int64_t *full_lengths);

#endif
