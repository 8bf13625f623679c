/* BERT's multi-head attention block (self or cross) with its output projection and post-LayerNorm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "prior/nn_attention.h"
#include "nn/token_rows.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_index.h"
#include "prior/ops_linalg.h"
#include "prior/ops_nn.h"
#include "prior/ops_shape.h"

prior_status prior_bert_attention_init(prior_bert_attention *a, prior_params *p, const char *prefix, int64_t hidden,
                                       int64_t heads, double dropout, double ln_eps, double init_std) {
  if (hidden <= 0 || heads <= 0 || hidden % heads != 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "bert attention %s: hidden %lld must be a positive multiple of heads %lld",
                           prefix, (long long)hidden, (long long)heads);
  a->hidden = hidden;
  a->heads = heads;
  a->dropout = dropout;
  char name[160];
#define INIT_LINEAR(layer, suffix)                                                                              \
  snprintf(name, sizeof name, "%s" suffix, prefix);                                                             \
  PRIOR_TRY(prior_linear_layer_init(layer, p, name, hidden, hidden, 1, PRIOR_INIT_NORMAL, init_std))
  INIT_LINEAR(&a->query, "self.query.");
  INIT_LINEAR(&a->key, "self.key.");
  INIT_LINEAR(&a->value, "self.value.");
  INIT_LINEAR(&a->out_dense, "output.dense.");
#undef INIT_LINEAR
  snprintf(name, sizeof name, "%soutput.LayerNorm.", prefix);
  return prior_layer_norm_layer_init(&a->out_norm, p, name, hidden, ln_eps);
}

/* [N, L, H] -> [N, heads, L, H/heads] */
static prior_tensor *to_heads(prior_tensor *x, int64_t heads) {
  int64_t shape[4] = {x->shape[0], x->shape[1], heads, x->shape[2] / heads};
  int64_t order[4] = {0, 2, 1, 3};
  prior_tensor *r = prior_reshape(x, 4, shape);
  prior_tensor *out = r ? prior_permute(r, 4, order) : NULL;
  prior_tensor_free(r);
  return out;
}

/* The attention itself: q [N, Lq, H], k and v [N, Lk, H] -> the heads' outputs merged, [N, Lq, H]. */
static prior_tensor *attend(const prior_bert_attention *a, prior_tensor *q, prior_tensor *k, prior_tensor *v,
                            prior_tensor *additive_mask, int training) {
  int64_t n = q->shape[0], lq = q->shape[1];
  prior_tensor *qh = to_heads(q, a->heads), *kh = qh ? to_heads(k, a->heads) : NULL;
  prior_tensor *vh = kh ? to_heads(v, a->heads) : NULL;
  prior_tensor *kt = vh ? prior_transpose(kh, 2, 3) : NULL;
  prior_tensor *raw = kt ? prior_matmul(qh, kt) : NULL; /* [N, h, Lq, Lk] */
  double scale = 1.0 / sqrt((double)(a->hidden / a->heads));
  /* softmax and its dropout: one pass each way */
  prior_tensor *dropped =
      raw ? prior_scaled_masked_softmax_dropout_for_product(raw, scale, additive_mask, a->dropout, training) : NULL;
  prior_tensor *ctx = dropped ? prior_matmul(dropped, vh) : NULL; /* [N, h, Lq, d] */
  prior_tensor *ctx_t = ctx ? prior_transpose(ctx, 1, 2) : NULL;
  int64_t merged_shape[3] = {n, lq, a->hidden};
  prior_tensor *merged = ctx_t ? prior_reshape(ctx_t, 3, merged_shape) : NULL;
  prior_free_all(8, qh, kh, vh, kt, raw, dropped, ctx, ctx_t);
  return merged;
}

/* LayerNorm(residual + dropout(dense(merged))), on [..., H] (padded sequences or packed token rows). */
static prior_tensor *attention_output(const prior_bert_attention *a, prior_tensor *merged, prior_tensor *residual,
                                      int training) {
  prior_tensor *proj = prior_linear_layer_forward(&a->out_dense, merged);
  prior_tensor *proj_d = proj ? prior_dropout(proj, a->dropout, training) : NULL;
  prior_tensor *sum = proj_d ? prior_add(proj_d, residual) : NULL;
  prior_tensor *out = sum ? prior_layer_norm_layer_forward(&a->out_norm, sum) : NULL;
  prior_free_all(3, proj, proj_d, sum);
  return out;
}

prior_tensor *prior_bert_attention_forward(const prior_bert_attention *a, prior_tensor *hidden, prior_tensor *context,
                                           prior_tensor *additive_mask, int training) {
  if (prior_check_ndim("bert_attention", "hidden", hidden, 3) != PRIOR_OK) return NULL;
  prior_tensor *kv_source = context ? context : hidden;
  if (kv_source->ndim != 3 || kv_source->shape[0] != hidden->shape[0] || kv_source->shape[2] != a->hidden ||
      hidden->shape[2] != a->hidden) {
    char x[128], y[128];
    prior_error_set(PRIOR_ERR_SHAPE, "bert_attention: hidden %s and context %s must be [N, L, %lld]",
                    prior_tensor_shape_str(hidden, x, sizeof x), prior_tensor_shape_str(kv_source, y, sizeof y),
                    (long long)a->hidden);
    return NULL;
  }
  /* under autocast the projections' shared inputs are converted to bf16 once (prior_autocast_operand) */
  prior_tensor *hb = prior_autocast_operand(hidden);
  prior_tensor *kvb = !hb ? NULL : context ? prior_autocast_operand(context) : prior_tensor_retain(hb);
  prior_tensor *q = kvb ? prior_linear_layer_forward(&a->query, hb) : NULL;
  prior_tensor *k = q ? prior_linear_layer_forward(&a->key, kvb) : NULL;
  prior_tensor *v = k ? prior_linear_layer_forward(&a->value, kvb) : NULL;
  prior_free_all(2, hb, kvb);
  prior_tensor *merged = v ? attend(a, q, k, v, additive_mask, training) : NULL;
  prior_tensor *out = merged ? attention_output(a, merged, hidden, training) : NULL;
  prior_free_all(4, q, k, v, merged);
  return out;
}

prior_tensor *prior_bert_attention_forward_rows(const prior_bert_attention *a, prior_tensor *rows,
                                                const prior_token_rows *tokens, int training) {
  if (prior_check_ndim("bert_attention", "rows", rows, 2) != PRIOR_OK) return NULL;
  prior_tensor *hb = prior_autocast_operand(rows);
  prior_tensor *q = hb ? prior_linear_layer_forward(&a->query, hb) : NULL;
  prior_tensor *k = q ? prior_linear_layer_forward(&a->key, hb) : NULL;
  prior_tensor *v = k ? prior_linear_layer_forward(&a->value, hb) : NULL;
  prior_tensor_free(hb);
  /* each sequence's attention over its own rows, the results stacked back in row order */
  prior_tensor **merged = v ? calloc((size_t)tokens->n, sizeof *merged) : NULL;
  if (v && !merged) prior_error_set(PRIOR_ERR_MEMORY, "bert_attention: out of memory for %lld sequences", (long long)tokens->n);
  int n_parts = 0, ok = merged != NULL;
  for (int64_t s = 0; ok && s < tokens->n; s++) {
    int64_t len = tokens->count[s], shape[3] = {1, len, a->hidden}, flat[2] = {len, a->hidden};
    if (len == 0) continue;
    prior_tensor *part[3] = {0}, *seq[3] = {0}, *src[3] = {q, k, v};
    for (int i = 0; i < 3 && ok; i++) {
      part[i] = prior_narrow(src[i], 0, tokens->first[s], len);
      seq[i] = part[i] ? prior_reshape(part[i], 3, shape) : NULL;
      ok = seq[i] != NULL;
    }
    prior_tensor *m = ok ? attend(a, seq[0], seq[1], seq[2], NULL, training) : NULL;
    merged[n_parts] = m ? prior_reshape(m, 2, flat) : NULL;
    ok = merged[n_parts++] != NULL;
    prior_free_all(7, part[0], part[1], part[2], seq[0], seq[1], seq[2], m);
  }
  prior_tensor *stacked = ok ? prior_cat(n_parts, merged, 0) : NULL;
  prior_tensor *out = stacked ? attention_output(a, stacked, rows, training) : NULL;
  for (int i = 0; merged && i < n_parts; i++) prior_tensor_free(merged[i]);
  free(merged);
  prior_free_all(4, q, k, v, stacked);
  return out;
}

prior_tensor *prior_bert_additive_mask(prior_tensor *mask, int causal, prior_dtype dtype) {
  if (prior_check_ndim("bert_additive_mask", "mask", mask, 2) != PRIOR_OK) return NULL;
  int64_t n = mask->shape[0], l = mask->shape[1];
  prior_tensor *m = prior_tensor_to_dtype_raw(mask, dtype);
  if (!m) return NULL;
  int64_t shape4[4] = {n, 1, 1, l};
  prior_tensor *m4 = prior_tensor_as_strided(m, 4, shape4, (int64_t[]){l, l, l, 1}, m->offset);
  prior_tensor_free(m);
  if (!m4) return NULL;
  if (causal) { /* [N, 1, L, L]: key j visible from query i when j <= i and the key is not padding */
    int64_t tri_shape[2] = {l, l};
    prior_tensor *tri = prior_tensor_zeros(2, tri_shape, dtype, prior_cpu());
    for (int64_t i = 0; tri && i < l; i++)
      for (int64_t j = 0; j <= i; j++) prior_tensor_set(tri, (int64_t[]){i, j}, 1.0);
    prior_tensor *both = tri ? prior_mul(m4, tri) : NULL;
    prior_free_all(2, tri, m4);
    m4 = both;
    if (!m4) return NULL;
  }
  prior_tensor *scaled = prior_mul_scalar(m4, 10000.0); /* (1 - m) * -10000 = m * 10000 - 10000 */
  prior_tensor *out = scaled ? prior_add_scalar(scaled, -10000.0) : NULL;
  prior_free_all(2, m4, scaled);
  return out;
}
