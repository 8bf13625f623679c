/* Internal: a batch of padded sequences [N, L, D] as the rows of its real tokens [T, D] and back, so that the
 * per-token layers of a transformer (projections, feed-forward, layer norms, dropout) skip the padding. Both
 * directions are row gathers with autograd (prior_index_select); unpacking gathers from the rows plus one zero
 * row, which every padded position takes. */
#ifndef PRIOR_NN_TOKEN_ROWS_H
#define PRIOR_NN_TOKEN_ROWS_H

#include "prior/tensor.h"

typedef struct prior_token_rows {
  int64_t n, l, t;      /* sequences, padded length, real tokens */
  prior_tensor *real;   /* i64 [T]: flat position n * L + i of each real token */
  prior_tensor *source; /* i64 [N * L]: the row each position takes, T (the zero row) for padding */
  int64_t *first, *count; /* [N]: sequence n's rows are first[n] .. first[n] + count[n] - 1 */
} prior_token_rows;

/* From mask [N, L] (nonzero: a real token; any numeric dtype). */
prior_status prior_token_rows_init(prior_token_rows *r, const prior_tensor *mask);
void prior_token_rows_free(prior_token_rows *r);
prior_tensor *prior_token_rows_pack(const prior_token_rows *r, prior_tensor *x);   /* [N, L, D] -> [T, D] */
prior_tensor *prior_token_rows_unpack(const prior_token_rows *r, prior_tensor *x); /* [T, D] -> [N, L, D] */

/* BERT self-attention (prior/nn_attention.h) on the real tokens' rows [T, H] of padded sequences: the projections
 * and the output block on all rows at once, the attention itself per sequence over its own rows (its real
 * tokens attend to each other; padding takes no part, as under the additive mask). The rows of
 * prior_bert_attention_forward's result at the real tokens. */
struct prior_bert_attention;
prior_tensor *prior_bert_attention_forward_rows(const struct prior_bert_attention *a, prior_tensor *rows,
                                                const prior_token_rows *tokens, int training);

#endif
