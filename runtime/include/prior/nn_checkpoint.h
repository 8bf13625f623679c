/* Loading checkpoints into a network's parameters, and saving them.
 *
 * Loading reads safetensors or PyTorch files (recognised by content), fits the checkpoint's names to the model's
 * (prefixes stripped/added, heads dropped, names renamed by rules, gamma/beta renamed, RGB stems summed for
 * one-channel input, leading 1-sized dims squeezed), optionally only for a part of the model, reports
 * missing, unexpected and shape-mismatched names, and fails on any of them unless lenient. Values are converted to
 * each parameter's dtype. Saving writes safetensors atomically with the parameters' names. */
#ifndef PRIOR_NN_CHECKPOINT_H
#define PRIOR_NN_CHECKPOINT_H

#include "prior/nn_params.h"

typedef struct prior_load_options {
  const char *root_key;       /* PyTorch files: the dict holding the tensors (NULL: state_dict/model or the top) */
  const char *strip_prefixes; /* comma-separated, applied in order: "module.,bert." */
  const char *add_prefix;     /* then put in front of every name, or NULL */
  const char *drop_prefixes;  /* comma-separated names or prefixes to ignore: "cls.,fc.,embeddings.position_ids" */
  const char *rename;         /* then comma-separated rules "from=to", in order ('*' as in prior_ckpt_names_rename):
                               * "atten_pool.=attnpool.,blocks.*.conv1.0.=blocks.*.conv1." */
  const char *only_prefixes;  /* comma-separated: only the model's entries under these prefixes are loaded and
                               * checked; the others keep their values and are not reported missing (NULL: all) */
  int32_t drop_num_batches_tracked;
  int32_t gamma_beta;         /* LayerNorm gamma/beta -> weight/bias */
  int32_t sum_rgb_stem;       /* a [O, 3, k, k] kernel fills a [O, 1, k, k] parameter by summing its channels */
  int32_t squeeze_leading_ones; /* a tensor whose shape differs from its parameter's only by leading sizes of 1
                                 * ([1, Q, D] for [Q, D]) fills it: same elements, same order */
  int32_t lenient;            /* report problems instead of failing; matching names are still loaded */
} prior_load_options;

typedef struct prior_load_report {
  int32_t loaded, missing, unexpected, mismatched;
  char summary[4096]; /* one line per problem, truncated */
} prior_load_report;

prior_load_options prior_load_options_default(void);
/* report may be NULL. */
prior_status prior_params_load(prior_params *p, const char *path, const prior_load_options *options,
                               prior_load_report *report);
/* Every entry of p (parameters and buffers) under its name, f32/f64/i64 as stored; metadata pairs optional. */
prior_status prior_params_save(const prior_params *p, const char *path, int n_meta, const char *const *meta_keys,
                               const char *const *meta_values);

#endif
