/* Fitting a checkpoint's names to a model's: renaming, dropping, and a report of what does not match.
 *
 * Checkpoints from other code rarely use exactly our parameter names: DataParallel adds "module.", a BERT
 * checkpoint says "bert.encoder..." where our text encoder says "encoder...", old TensorFlow-converted BERTs
 * call LayerNorm parameters gamma/beta, classifier heads ("cls.", "fc.") have no counterpart. A prior_ckpt_names
 * is an editable list of current names over a checkpoint's records; each edit applies to the whole list at
 * once and is refused (leaving the list unchanged) if it would give two records the same name. */
#ifndef PRIOR_CKPT_NAMES_H
#define PRIOR_CKPT_NAMES_H

#include <stddef.h>

#include "prior/ckpt.h"
#include "prior/error.h"

typedef struct prior_ckpt_names prior_ckpt_names;

/* Starts from the records' own names. The records are referenced, not copied: keep them alive. */
prior_status prior_ckpt_names_new(const prior_ckpt_tensor *tensors, size_t n, prior_ckpt_names **out);
void prior_ckpt_names_free(prior_ckpt_names *m);
size_t prior_ckpt_names_count(const prior_ckpt_names *m);
const char *prior_ckpt_names_name(const prior_ckpt_names *m, size_t i);              /* current name */
const prior_ckpt_tensor *prior_ckpt_names_tensor(const prior_ckpt_names *m, size_t i); /* its record */
const prior_ckpt_tensor *prior_ckpt_names_find(const prior_ckpt_names *m, const char *name); /* by current name */

/* Each edit reports through `changed` (may be NULL) how many names it renamed or dropped. */
/* "module.encoder.x" -> "encoder.x" for names starting with `prefix`; other names stay as they are. */
prior_status prior_ckpt_names_strip_prefix(prior_ckpt_names *m, const char *prefix, size_t *changed);
/* Puts `prefix` in front of every name. */
prior_status prior_ckpt_names_add_prefix(prior_ckpt_names *m, const char *prefix, size_t *changed);
/* Renames by a rule: names starting with `from` get `to` in place of that start. A '*' in `from` matches one
 * non-empty dotted component ("blocks.*.conv1.0." matches "blocks.3.conv1.0.weight"); the k-th '*' of `to` is
 * replaced by what the k-th '*' of `from` matched ("blocks.*.conv1." gives "blocks.3.conv1.weight"). */
prior_status prior_ckpt_names_rename(prior_ckpt_names *m, const char *from, const char *to, size_t *changed);
/* Removes the names that start with `prefix` ("cls.", "fc."). */
prior_status prior_ckpt_names_drop_prefix(prior_ckpt_names *m, const char *prefix, size_t *changed);
/* Removes BatchNorm's "*.num_batches_tracked" counters, which models that do not track them do not expect. */
prior_status prior_ckpt_names_drop_num_batches_tracked(prior_ckpt_names *m, size_t *changed);
/* Old BERT checkpoints: "*LayerNorm.gamma" -> "*LayerNorm.weight", "*LayerNorm.beta" -> "*LayerNorm.bias".
 * Only LayerNorm parameters are renamed, as transformers does; other gammas and betas are left alone. */
prior_status prior_ckpt_names_layernorm_gamma_beta(prior_ckpt_names *m, size_t *changed);

/* Sums an RGB convolution kernel [O, 3, kh, kw] over its input channels into [O, 1, kh, kw]: how an ImageNet
 * stem is adapted to one-channel X-rays, giving the same response to a gray image (R = G = B). `out` receives
 * O*kh*kw elements of the record's dtype (F32 or F64); `out_nbytes` is its capacity. */
prior_status prior_ckpt_sum_rgb_kernel(const prior_ckpt_tensor *in, void *out, size_t out_nbytes);

/* What a model expects: a parameter name and shape. */
typedef struct prior_ckpt_expect {
  const char *name;
  int ndim;
  long long shape[PRIOR_CKPT_MAX_DIMS];
} prior_ckpt_expect;

typedef struct prior_ckpt_match prior_ckpt_match;

/* Compares the model's expected names and shapes with the checkpoint's current names. Always builds the report
 * (fails only on bad arguments or memory); see prior_ckpt_match_require. */
prior_status prior_ckpt_match_new(const prior_ckpt_expect *expected, size_t n_expected, const prior_ckpt_names *names,
                                  prior_ckpt_match **out);
void prior_ckpt_match_free(prior_ckpt_match *r);
/* PRIOR_OK when nothing is missing, unexpected or of another shape; otherwise an error naming `source` and listing
 * the problems (PRIOR_ERR_SHAPE when only shapes differ, PRIOR_ERR_FORMAT otherwise). */
prior_status prior_ckpt_match_require(const prior_ckpt_match *r, const char *source);
/* new + require: unless `lenient`, a mismatch is an error and *out is left NULL. */
prior_status prior_ckpt_match_check(const prior_ckpt_expect *expected, size_t n_expected, const prior_ckpt_names *names,
                                    int lenient, const char *source, prior_ckpt_match **out);

size_t prior_ckpt_match_missing_count(const prior_ckpt_match *r);    /* expected, absent from the checkpoint */
const char *prior_ckpt_match_missing(const prior_ckpt_match *r, size_t i);
size_t prior_ckpt_match_unexpected_count(const prior_ckpt_match *r); /* in the checkpoint, not expected */
const char *prior_ckpt_match_unexpected(const prior_ckpt_match *r, size_t i);
size_t prior_ckpt_match_mismatch_count(const prior_ckpt_match *r);   /* present in both, shapes differ */
const char *prior_ckpt_match_mismatch(const prior_ckpt_match *r, size_t i);
/* The record that fills expected[i], or NULL when it is missing or of another shape. */
const prior_ckpt_tensor *prior_ckpt_match_source(const prior_ckpt_match *r, size_t expected_index);
/* Every problem, one line each ("missing: x", "unexpected: y", "shape: z model [2] checkpoint [3]"); "" if none. */
const char *prior_ckpt_match_summary(const prior_ckpt_match *r);

#endif
