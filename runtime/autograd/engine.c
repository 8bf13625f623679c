/* The backward engine: graph traversal, gradient accumulation, grad mode, detach. */
#include <stdlib.h>
#include <string.h>

#include "core/strided.h"
#include "prior/autograd.h"

static _Thread_local int grad_disabled = 0;
static int64_t traversal_counter = 0;

int prior_grad_enabled(void) { return !grad_disabled; }

int prior_set_grad_enabled(int enabled) {
  int previous = !grad_disabled;
  grad_disabled = !enabled;
  return previous;
}

int prior_autograd_needed(int n, prior_tensor *const *inputs) {
  if (grad_disabled) return 0;
  for (int i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->requires_grad) return 1;
  return 0;
}

prior_node *prior_node_retain(prior_node *node) {
  if (node) __atomic_add_fetch(&node->refcount, 1, __ATOMIC_RELAXED);
  return node;
}

static void node_release_saved(prior_node *node) {
  for (int i = 0; i < node->n_saved; i++) {
    prior_tensor_free(node->saved[i]);
    node->saved[i] = NULL;
  }
  node->n_saved = 0;
  if (node->release_ctx && node->ctx) node->release_ctx(node->ctx);
  node->ctx = NULL;
  node->released = 1;
}

void prior_node_release(prior_node *node) {
  /* Iterative, so that freeing a long chain (a 1000-step loop at the REPL) cannot overflow the C stack. */
  prior_node **stack = NULL;
  size_t depth = 0, cap = 0;
  while (node) {
    if (__atomic_sub_fetch(&node->refcount, 1, __ATOMIC_ACQ_REL) == 0) {
      node_release_saved(node);
      prior_tensor_free(node->grad_accum);
      for (int i = 0; i < node->n_inputs; i++) {
        prior_tensor_free(node->inputs[i].leaf);
        if (node->inputs[i].fn) {
          if (depth == cap) {
            cap = cap ? cap * 2 : 64;
            prior_node **grown = realloc(stack, cap * sizeof *stack);
            PRIOR_ASSERT(grown != NULL);
            stack = grown;
          }
          stack[depth++] = node->inputs[i].fn;
        }
      }
      free(node->inputs);
      free(node->needs_grad);
      free(node);
    }
    node = depth ? stack[--depth] : NULL;
  }
  free(stack);
}

prior_node *prior_node_new(const char *name, prior_backward_fn backward, int n_inputs, prior_tensor *const *inputs) {
  prior_node *node = calloc(1, sizeof *node);
  if (!node) {
    prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory recording an autograd node", name);
    return NULL;
  }
  node->refcount = 1;
  node->name = name;
  node->backward = backward;
  node->n_inputs = n_inputs;
  node->inputs = calloc((size_t)(n_inputs > 0 ? n_inputs : 1), sizeof *node->inputs);
  node->needs_grad = calloc((size_t)(n_inputs > 0 ? n_inputs : 1), 1);
  if (!node->inputs || !node->needs_grad) {
    free(node->inputs);
    free(node->needs_grad);
    free(node);
    prior_error_set(PRIOR_ERR_MEMORY, "%s: out of memory recording an autograd node", name);
    return NULL;
  }
  for (int i = 0; i < n_inputs; i++) {
    prior_tensor *t = inputs[i];
    if (!t || !t->requires_grad) continue;
    node->needs_grad[i] = 1;
    if (t->grad_fn)
      node->inputs[i].fn = prior_node_retain(t->grad_fn);
    else
      node->inputs[i].leaf = prior_tensor_retain(t);
  }
  return node;
}

int prior_node_save(prior_node *node, const prior_tensor *t) {
  if (node->n_saved >= PRIOR_NODE_MAX_SAVED) {
    prior_error_set(PRIOR_ERR_INTERNAL, "%s: more than %d saved tensors", node->name, PRIOR_NODE_MAX_SAVED);
    return -1;
  }
  prior_tensor *d = prior_detach(t);
  if (!d) return -1;
  node->saved[node->n_saved] = d;
  return node->n_saved++;
}

prior_status prior_node_attach(prior_node *node, prior_tensor *out) {
  PRIOR_ASSERT(node && out && !out->grad_fn);
  out->grad_fn = node;
  out->requires_grad = 1;
  node->out_ndim = out->ndim;
  node->out_dtype = out->dtype;
  memcpy(node->out_shape, out->shape, sizeof out->shape);
  return PRIOR_OK;
}

prior_tensor *prior_detach(const prior_tensor *t) {
  if (prior_check_tensor("detach", "tensor", t) != PRIOR_OK) return NULL;
  prior_tensor *d = prior_tensor_as_strided(t, t->ndim, t->shape, t->strides, t->offset);
  if (d) d->is_view = t->is_view;
  return d;
}

prior_status prior_tensor_set_requires_grad(prior_tensor *t, int requires_grad) {
  PRIOR_TRY(prior_check_tensor("requires_grad_", "tensor", t));
  if (t->grad_fn && !requires_grad)
    return prior_error_set(PRIOR_ERR_AUTOGRAD,
                           "requires_grad_(false) on a tensor computed by '%s': use detach() instead", t->grad_fn->name);
  if (requires_grad && t->dtype != PRIOR_F32 && t->dtype != PRIOR_F64 && t->dtype != PRIOR_BF16 && t->dtype != PRIOR_F16)
    return prior_error_set(PRIOR_ERR_DTYPE, "requires_grad_: only floating tensors can require grad, got %s",
                           prior_dtype_name(t->dtype));
  t->requires_grad = requires_grad ? 1 : 0;
  return PRIOR_OK;
}

void prior_tensor_zero_grad(prior_tensor *t) {
  if (!t) return;
  prior_tensor_free(t->grad);
  t->grad = NULL;
}

/* ---- accumulation ---------------------------------------------------------------------------------------- */

typedef struct add_ctx {
  prior_dtype dtype;
} add_ctx;

static void add_loop(char **p, const int64_t *s, int64_t n, void *vctx) {
  const add_ctx *c = vctx;
  if (c->dtype == PRIOR_F32 && s[0] == 4 && s[1] == 4 && s[2] == 4) { /* the usual case, vectorised */
    float *o = (float *)p[0];
    const float *a = (const float *)p[1], *b = (const float *)p[2];
    for (int64_t i = 0; i < n; i++) o[i] = a[i] + b[i];
  } else if (c->dtype == PRIOR_F32) {
    for (int64_t i = 0; i < n; i++)
      *(float *)(p[0] + i * s[0]) = *(const float *)(p[1] + i * s[1]) + *(const float *)(p[2] + i * s[2]);
  } else {
    for (int64_t i = 0; i < n; i++)
      *(double *)(p[0] + i * s[0]) = *(const double *)(p[1] + i * s[1]) + *(const double *)(p[2] + i * s[2]);
  }
}

/* Whether an accumulated gradient can take the next one in place: nothing else refers to it or its memory. */
static int owned_alone(const prior_tensor *t) {
  return t->device.type == PRIOR_DEVICE_CPU && t->refcount == 1 && t->storage->refcount == 1 && !t->storage->external &&
         !t->grad_fn && prior_tensor_is_contiguous(t);
}

/* Returns a + b (same shape and dtype): a itself with b added when `in_place` (a owned alone), else a new tensor. */
static prior_tensor *grad_sum(prior_tensor *a, const prior_tensor *b, int in_place) {
  if (a->device.type != PRIOR_DEVICE_CPU) {
    typedef prior_tensor *(*sum_kernel)(const prior_tensor *, const prior_tensor *);
    sum_kernel k = (sum_kernel)prior_backend_kernel(a->device.type, "grad_sum");
    if (!k) {
      prior_error_set(PRIOR_ERR_DEVICE, "backward: no grad_sum kernel on %s", prior_device_name(a->device));
      return NULL;
    }
    return k(a, b);
  }
  if (a->dtype != PRIOR_F32 && a->dtype != PRIOR_F64) {
    prior_error_set(PRIOR_ERR_DTYPE, "backward: cannot accumulate gradients of dtype %s", prior_dtype_name(a->dtype));
    return NULL;
  }
  prior_tensor *out = in_place ? prior_tensor_retain(a) : prior_tensor_empty(a->ndim, a->shape, (prior_dtype)a->dtype, a->device);
  if (!out) return NULL;
  prior_tensor *ops[3] = {out, a, (prior_tensor *)b};
  prior_strided it;
  prior_strided_init(&it, out->ndim, out->shape, 3, ops);
  add_ctx ctx = {(prior_dtype)a->dtype};
  prior_strided_run(&it, add_loop, &ctx, 1);
  return out;
}

static prior_status check_grad_shape(const char *where, const prior_tensor *g, int ndim, const int64_t *shape) {
  int same = g->ndim == ndim;
  for (int d = 0; same && d < ndim; d++) same = g->shape[d] == shape[d];
  if (!same) {
    char a[128], b[128];
    return prior_error_set(PRIOR_ERR_INTERNAL, "backward of %s produced a gradient of shape %s for a tensor of shape %s",
                           where, prior_tensor_shape_str(g, a, sizeof a),
                           prior_shape_str(b, sizeof b, ndim, (const long long *)shape));
  }
  return PRIOR_OK;
}

/* Adds g into *slot (a gradient accumulator), keeping a reference or making a sum. */
static prior_status accumulate(prior_tensor **slot, prior_tensor *g) {
  if (!*slot) {
    *slot = prior_tensor_retain(g);
    return PRIOR_OK;
  }
  prior_tensor *sum = grad_sum(*slot, g, owned_alone(*slot) && (*slot)->dtype == g->dtype);
  if (!sum) return prior_error_code();
  prior_tensor_free(*slot);
  *slot = sum;
  return PRIOR_OK;
}

static prior_status accumulate_leaf(prior_tensor *leaf, prior_tensor *g) {
  PRIOR_TRY(check_grad_shape("a leaf", g, leaf->ndim, leaf->shape));
  if (!leaf->grad) {
    /* A gradient nothing else refers to becomes the leaf's .grad as it is (as PyTorch steals it): copying
     * every parameter's gradient would cost a model-sized copy per step. Otherwise a fresh contiguous copy:
     * g may alias another tensor's memory (add passes its gradient through). */
    if (g->refcount == 1 && g->storage->refcount == 1 && !g->storage->external && !g->grad_fn &&
        g->dtype == leaf->dtype && prior_tensor_is_contiguous(g)) {
      leaf->grad = prior_detach(g);
      return leaf->grad ? PRIOR_OK : prior_error_code();
    }
    leaf->grad = prior_tensor_clone_raw(g);
    if (leaf->grad && leaf->grad->dtype != leaf->dtype) {
      prior_tensor *converted = prior_tensor_to_dtype_raw(leaf->grad, (prior_dtype)leaf->dtype);
      prior_tensor_free(leaf->grad);
      leaf->grad = converted;
    }
    return leaf->grad ? PRIOR_OK : prior_error_code();
  }
  prior_tensor *sum = grad_sum(leaf->grad, g, 0);
  if (!sum) return prior_error_code();
  prior_tensor_free(leaf->grad);
  leaf->grad = sum;
  return PRIOR_OK;
}

/* ---- backward ---------------------------------------------------------------------------------------------- */

typedef struct node_list {
  prior_node **items;
  size_t n, cap;
} node_list;

static prior_status list_push(node_list *l, prior_node *node) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    prior_node **grown = realloc(l->items, cap * sizeof *grown);
    if (!grown) return prior_error_set(PRIOR_ERR_MEMORY, "backward: out of memory walking the graph");
    l->items = grown;
    l->cap = cap;
  }
  l->items[l->n++] = node;
  return PRIOR_OK;
}

/* The leaves a backward reaches, each with the number of graph edges into it still to be processed: sorted by
 * address so that an edge finds its leaf by binary search. Only kept when somebody waits for leaves to be ready. */
typedef struct leaf_count {
  prior_tensor *leaf;
  int64_t pending;
} leaf_count;

typedef struct leaf_table {
  leaf_count *items;
  size_t n, cap;
} leaf_table;

static prior_status leaf_table_push(leaf_table *t, prior_tensor *leaf) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    leaf_count *grown = realloc(t->items, cap * sizeof *grown);
    if (!grown) return prior_error_set(PRIOR_ERR_MEMORY, "backward: out of memory listing the leaves");
    t->items = grown;
    t->cap = cap;
  }
  t->items[t->n++] = (leaf_count){leaf, 1};
  return PRIOR_OK;
}

static int leaf_order(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const leaf_count *)a)->leaf, y = (uintptr_t)((const leaf_count *)b)->leaf;
  return x < y ? -1 : x > y;
}

/* One entry per leaf, its pending count the number of edges into it. */
static void leaf_table_merge(leaf_table *t) {
  if (!t->n) return;
  qsort(t->items, t->n, sizeof *t->items, leaf_order);
  size_t w = 0;
  for (size_t r = 1; r < t->n; r++) {
    if (t->items[r].leaf == t->items[w].leaf) t->items[w].pending++;
    else t->items[++w] = t->items[r];
  }
  t->n = w + 1;
}

/* One edge into `leaf` is done; when it was the last, the leaf is ready. */
static prior_status leaf_edge_done(leaf_table *t, prior_tensor *leaf, prior_leaf_ready_fn on_ready, void *ctx) {
  leaf_count key = {leaf, 0};
  leaf_count *c = bsearch(&key, t->items, t->n, sizeof *t->items, leaf_order);
  PRIOR_ASSERT(c && c->pending > 0);
  if (--c->pending > 0) return PRIOR_OK;
  prior_status s = on_ready(leaf, ctx);
  if (s != PRIOR_OK) prior_error_context("backward: the leaf-ready callback");
  return s;
}

/* Finds every node reachable from root and counts, for each, the edges that reach it from other reachable nodes;
 * lists the edges into leaves when `leaves` is given. */
static prior_status collect(prior_node *root, int64_t mark, node_list *all, leaf_table *leaves) {
  node_list stack = {0};
  prior_status s = PRIOR_OK;
  root->visit_mark = mark;
  root->pending = 0;
  if ((s = list_push(all, root)) != PRIOR_OK || (s = list_push(&stack, root)) != PRIOR_OK) goto done;
  while (stack.n) {
    prior_node *node = stack.items[--stack.n];
    for (int i = 0; i < node->n_inputs; i++) {
      prior_node *next = node->inputs[i].fn;
      if (leaves && node->inputs[i].leaf && (s = leaf_table_push(leaves, node->inputs[i].leaf)) != PRIOR_OK) goto done;
      if (!next) continue;
      if (next->visit_mark != mark) {
        next->visit_mark = mark;
        next->pending = 0;
        if ((s = list_push(all, next)) != PRIOR_OK || (s = list_push(&stack, next)) != PRIOR_OK) goto done;
      }
      next->pending++;
    }
  }
done:
  free(stack.items);
  if (s == PRIOR_OK && leaves) leaf_table_merge(leaves);
  return s;
}

prior_status prior_backward(prior_tensor *root, prior_tensor *grad, int retain_graph) {
  return prior_backward_ex(root, grad, retain_graph, NULL, NULL);
}

prior_status prior_backward_ex(prior_tensor *root, prior_tensor *grad, int retain_graph, prior_leaf_ready_fn on_leaf_ready,
                               void *ctx) {
  PRIOR_TRY(prior_check_tensor("backward", "root", root));
  if (!root->requires_grad)
    return prior_error_set(PRIOR_ERR_AUTOGRAD,
                           "backward: the tensor does not require grad and has no graph (was it computed in no_grad mode, "
                           "or from inputs that do not require grad?)");
  prior_tensor *seed = NULL;
  if (grad) {
    if (!prior_tensor_same_shape(grad, root)) {
      char a[128], b[128];
      return prior_error_set(PRIOR_ERR_SHAPE, "backward: gradient of shape %s for a tensor of shape %s",
                             prior_tensor_shape_str(grad, a, sizeof a), prior_tensor_shape_str(root, b, sizeof b));
    }
    seed = prior_tensor_retain(grad);
  } else {
    if (prior_tensor_numel(root) != 1) {
      char a[128];
      return prior_error_set(PRIOR_ERR_AUTOGRAD,
                             "backward: the tensor has shape %s; without a gradient argument it must have one element",
                             prior_tensor_shape_str(root, a, sizeof a));
    }
    seed = prior_tensor_ones(root->ndim, root->shape, (prior_dtype)root->dtype, root->device);
    if (!seed) return prior_error_code();
  }
  if (!root->grad_fn) { /* a leaf: its gradient is the seed */
    prior_status s = accumulate_leaf(root, seed);
    prior_tensor_free(seed);
    if (s == PRIOR_OK && on_leaf_ready) {
      s = on_leaf_ready(root, ctx);
      if (s != PRIOR_OK) prior_error_context("backward: the leaf-ready callback");
    }
    return s;
  }

  int previous_mode = prior_set_grad_enabled(0);
  int64_t mark = __atomic_add_fetch(&traversal_counter, 1, __ATOMIC_RELAXED);
  node_list all = {0}, ready = {0};
  leaf_table leaves = {0};
  prior_status s = collect(root->grad_fn, mark, &all, on_leaf_ready ? &leaves : NULL);
  prior_node *root_fn = root->grad_fn;
  if (s == PRIOR_OK) {
    root_fn->grad_accum = seed;
    seed = NULL;
    s = list_push(&ready, root_fn);
  }
  while (s == PRIOR_OK && ready.n) {
    prior_node *node = ready.items[--ready.n];
    prior_tensor *g = node->grad_accum;
    node->grad_accum = NULL;
    if (node->released) {
      s = prior_error_set(PRIOR_ERR_AUTOGRAD,
                          "backward through '%s' a second time: its saved tensors were freed after the first backward "
                          "(pass retain_graph=true the first time)", node->name);
      prior_tensor_free(g);
      break;
    }
    if ((s = check_grad_shape(node->name, g, node->out_ndim, node->out_shape)) != PRIOR_OK) {
      prior_tensor_free(g);
      break;
    }
    prior_tensor *small[8] = {0};
    prior_tensor **grads = node->n_inputs <= 8 ? small : calloc((size_t)node->n_inputs, sizeof *grads);
    if (!grads) {
      s = prior_error_set(PRIOR_ERR_MEMORY, "backward: out of memory");
      prior_tensor_free(g);
      break;
    }
    s = node->backward(node, g, grads);
    if (s != PRIOR_OK) prior_error_context("backward of %s", node->name);
    prior_tensor_free(g);
    for (int i = 0; i < node->n_inputs; i++) {
      prior_edge *e = &node->inputs[i];
      if (s == PRIOR_OK && grads[i] && node->needs_grad[i]) {
        if (e->fn) {
          s = accumulate(&e->fn->grad_accum, grads[i]);
        } else if (e->leaf) {
          s = accumulate_leaf(e->leaf, grads[i]);
        }
      }
      if (s == PRIOR_OK && e->fn && --e->fn->pending == 0) s = list_push(&ready, e->fn);
      prior_tensor_free(grads[i]);
      if (s == PRIOR_OK && e->leaf && on_leaf_ready) s = leaf_edge_done(&leaves, e->leaf, on_leaf_ready, ctx);
    }
    if (grads != small) free(grads);
    if (!retain_graph) node_release_saved(node);
  }
  /* On failure, drop any gradients left waiting in the graph. */
  for (size_t i = 0; i < all.n; i++) {
    prior_tensor_free(all.items[i]->grad_accum);
    all.items[i]->grad_accum = NULL;
  }
  prior_tensor_free(seed);
  free(all.items);
  free(ready.items);
  free(leaves.items);
  prior_set_grad_enabled(previous_mode);
  return s;
}
