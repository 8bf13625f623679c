/* Define-by-run autograd.
 *
 * A differentiable op that sees an input requiring grad (and grad mode on) creates a node: the backward
 * function, the tensors it saved, and one edge per input (to the input's grad_fn, or to the input itself
 * when it is a leaf that requires grad). `prior_backward` walks the nodes reachable from the root in
 * reverse topological order, sums the gradients flowing into each node, and accumulates leaf gradients into
 * `.grad`. Saved tensors are detached (they hold no grad_fn), so graphs never form reference cycles. The graph's
 * saved tensors are freed after backward unless it is retained. Each node has one differentiable output. */
#ifndef PRIOR_AUTOGRAD_H
#define PRIOR_AUTOGRAD_H

#include <stdint.h>

#include "prior/tensor.h"

#define PRIOR_NODE_MAX_SAVED 8
#define PRIOR_NODE_MAX_SCALARS 8
#define PRIOR_NODE_MAX_INTS 24

struct prior_node;
/* Given the gradient of the node's output, sets grad_inputs[i] (new references) for each input i whose
 * `needs_grad[i]` is set; others may stay NULL. Runs with grad mode off. */
typedef prior_status (*prior_backward_fn)(struct prior_node *node, prior_tensor *grad_output,
                                          prior_tensor **grad_inputs);

typedef struct prior_edge {
  struct prior_node *fn; /* the input's grad_fn (a reference), or NULL */
  prior_tensor *leaf;    /* the input itself when it is a leaf requiring grad (a reference), or NULL */
} prior_edge;

typedef struct prior_node {
  int32_t refcount;
  const char *name;
  prior_backward_fn backward;
  int32_t n_inputs;
  prior_edge *inputs;
  uint8_t *needs_grad;
  /* What the op kept for backward. */
  int32_t n_saved;
  prior_tensor *saved[PRIOR_NODE_MAX_SAVED];
  double scalars[PRIOR_NODE_MAX_SCALARS];
  int64_t ints[PRIOR_NODE_MAX_INTS];
  void *ctx;                   /* op-specific data, freed with release_ctx */
  void (*release_ctx)(void *ctx);
  /* The output's metadata, to check and shape the incoming gradient. */
  int32_t out_ndim;
  int32_t out_dtype;
  int64_t out_shape[PRIOR_MAX_DIMS];
  int32_t released; /* saved tensors were freed by a backward without retain_graph */
  /* Bookkeeping of a running backward. */
  int32_t pending;
  int64_t visit_mark;
  prior_tensor *grad_accum;
} prior_node;

/* ---- grad mode ----------------------------------------------------------------------------------------- */
int prior_grad_enabled(void);
/* Sets grad mode for this thread and returns the previous setting. */
int prior_set_grad_enabled(int enabled);

/* ---- building graphs (used by ops) --------------------------------------------------------------------- */
/* Whether an op over these inputs must record a node (grad mode on and some input requires grad). */
int prior_autograd_needed(int n, prior_tensor *const *inputs);
/* A node with one edge per input; NULL inputs are allowed (no edge). */
prior_node *prior_node_new(const char *name, prior_backward_fn backward, int n_inputs, prior_tensor *const *inputs);
/* Keeps a detached reference to t for backward; returns its slot index or -1 on error. */
int prior_node_save(prior_node *node, const prior_tensor *t);
/* Makes `out` the output of `node`: out->grad_fn = node (the reference passes to out), requires_grad = 1. */
prior_status prior_node_attach(prior_node *node, prior_tensor *out);
void prior_node_release(prior_node *node);
prior_node *prior_node_retain(prior_node *node);

/* ---- running backward ---------------------------------------------------------------------------------- */
/* grad may be NULL when root has one element (the gradient is then 1). */
prior_status prior_backward(prior_tensor *root, prior_tensor *grad, int retain_graph);
/* Called during a backward as soon as a leaf's gradient is complete: every edge of the graph into that leaf has
 * been processed (leaf->grad may still be NULL when no gradient reached it). What it is for: applying the
 * optimizer's update to a parameter and dropping its gradient while backward goes on, so that the gradients of
 * all parameters never exist at once (PyTorch's post-accumulate-grad hooks). A non-OK status stops the backward. */
typedef prior_status (*prior_leaf_ready_fn)(prior_tensor *leaf, void *ctx);
/* prior_backward, calling on_leaf_ready (may be NULL) once for each leaf requiring grad that the graph reaches. */
prior_status prior_backward_ex(prior_tensor *root, prior_tensor *grad, int retain_graph, prior_leaf_ready_fn on_leaf_ready,
                               void *ctx);
prior_status prior_tensor_set_requires_grad(prior_tensor *t, int requires_grad);
/* Sets .grad to NULL. */
void prior_tensor_zero_grad(prior_tensor *t);
/* A new handle sharing t's storage, with no grad_fn and requires_grad off. */
prior_tensor *prior_detach(const prior_tensor *t);

/* ---- gradient checking ---------------------------------------------------------------------------------- */
/* Computes an output from the inputs (with autograd recording); returns a new tensor or NULL. */
typedef prior_tensor *(*prior_gradcheck_fn)(prior_tensor *const *inputs, void *ctx);

typedef struct prior_gradcheck_result {
  double max_abs_error;   /* largest |analytic - numeric| over all checked elements */
  double max_rel_error;   /* of those, relative to max(|numeric|, 1) */
  int32_t worst_input;    /* where the largest error was */
  int64_t worst_element;
  int64_t n_checked;
} prior_gradcheck_result;

/* Central differences in f64 against backward of sum(output * w) for a fixed random w. Inputs with
 * requires_grad set are checked (they must be f64). Returns PRIOR_OK when every element satisfies
 * |analytic - numeric| <= atol + rtol * |numeric|, else PRIOR_ERR_AUTOGRAD naming the input and element. */
prior_status prior_gradcheck(prior_gradcheck_fn fn, void *ctx, int n_inputs, prior_tensor *const *inputs,
                             double eps, double atol, double rtol, prior_gradcheck_result *result);

#endif
