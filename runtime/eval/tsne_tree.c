/* The Barnes-Hut tree for t-SNE's repulsive forces: a quad-tree (2-D) or oct-tree (3-D) of cubic cells.
 *
 * Built fresh each iteration from Morton codes: the points are radix-sorted by code, so every node is a
 * contiguous range of the sorted points and its children split the range by the next code digit. Chains
 * of one-child levels are skipped (a node's cell is the smallest one holding its points), and points
 * that fall in one finest cell share a leaf but stay individual.
 *
 * Forces are evaluated per group of nearby points (a subtree of at most TSNE_GROUP points): one walk of
 * the tree per group collects an interaction list (far cells as centre of mass and count, near points as
 * themselves), then a vectorised loop applies the list to each point of the group. The opening test
 * uses the distance from a cell's centre of mass to the group's bounding box, which is never more than
 * the distance to any point in the group, so each point gets at least the accuracy of the classic
 * per-point test width^2 < theta^2 dist^2. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "eval/tsne_internal.h"

#define TSNE_LEVELS 21 /* bits per coordinate in a Morton code */
#define TSNE_GROUP 32  /* most points sharing one interaction list */

typedef struct node {
  double com[3];  /* centre of mass */
  double width2;  /* squared side of the cell */
  int32_t start;  /* first point, in sorted order */
  int32_t count;  /* number of points */
  int32_t child;  /* first child (children are contiguous), -1 for a leaf */
  int32_t nchild; /* number of non-empty children */
} node;

typedef struct group {
  int32_t node;
  float lo[3], hi[3]; /* bounding box of the group's points */
} group;

/* One thread's interaction list, structure-of-arrays for the vectorised loop. */
typedef struct ilist {
  float *x, *y, *z, *c;
  int64_t cap;
} ilist;

struct tsne_tree {
  int dims;
  int64_t n, cap_n;
  uint64_t *code, *code_tmp;
  int32_t *perm, *perm_tmp;
  float *sx, *sy, *sz; /* positions in sorted order */
  node *nodes;
  int64_t len, cap;
  group *groups;
  int64_t ngroups, cap_groups;
  ilist *lists;
  int nlists;
  int64_t list_cap;
};

tsne_tree *tsne_tree_new(int dims) {
  tsne_tree *t = calloc(1, sizeof *t);
  if (t) t->dims = dims;
  return t;
}

static void free_lists(tsne_tree *t) {
  for (int k = 0; k < t->nlists; k++) {
    free(t->lists[k].x), free(t->lists[k].y), free(t->lists[k].z), free(t->lists[k].c);
  }
  free(t->lists);
  t->lists = NULL;
  t->nlists = 0;
}

void tsne_tree_free(tsne_tree *t) {
  if (!t) return;
  free(t->code), free(t->code_tmp), free(t->perm), free(t->perm_tmp);
  free(t->sx), free(t->sy), free(t->sz);
  free(t->nodes), free(t->groups);
  free_lists(t);
  free(t);
}

/* Spreads the low 21 bits of v so that dims - 1 zero bits separate them. */
static uint64_t spread2(uint64_t v) {
  v &= 0x1fffff;
  v = (v | v << 16) & 0x0000ffff0000ffffull;
  v = (v | v << 8) & 0x00ff00ff00ff00ffull;
  v = (v | v << 4) & 0x0f0f0f0f0f0f0f0full;
  v = (v | v << 2) & 0x3333333333333333ull;
  return (v | v << 1) & 0x5555555555555555ull;
}

static uint64_t spread3(uint64_t v) {
  v &= 0x1fffff;
  v = (v | v << 32) & 0x001f00000000ffffull;
  v = (v | v << 16) & 0x001f0000ff0000ffull;
  v = (v | v << 8) & 0x100f00f00f00f00full;
  v = (v | v << 4) & 0x10c30c30c30c30c3ull;
  return (v | v << 2) & 0x1249249249249249ull;
}

/* LSD radix sort of (code, perm) on the low `bits` bits, 8 bits a pass; passes where every key has the
 * same digit are skipped. */
static void radix_sort(tsne_tree *t, int bits) {
  int64_t n = t->n;
  for (int shift = 0; shift < bits; shift += 8) {
    int64_t count[257] = {0};
    for (int64_t i = 0; i < n; i++) count[((t->code[i] >> shift) & 0xff) + 1]++;
    int skip = 0;
    for (int b = 1; b <= 256; b++) skip |= count[b] == n;
    if (skip) continue;
    for (int b = 0; b < 256; b++) count[b + 1] += count[b];
    for (int64_t i = 0; i < n; i++) {
      int64_t at = count[(t->code[i] >> shift) & 0xff]++;
      t->code_tmp[at] = t->code[i];
      t->perm_tmp[at] = t->perm[i];
    }
    uint64_t *c = t->code;
    t->code = t->code_tmp, t->code_tmp = c;
    int32_t *p = t->perm;
    t->perm = t->perm_tmp, t->perm_tmp = p;
  }
}

static int64_t new_nodes(tsne_tree *t, int k) {
  if (t->len + k > t->cap) {
    int64_t cap = t->cap ? 2 * t->cap : 1024;
    while (cap < t->len + k) cap *= 2;
    node *nodes = realloc(t->nodes, sizeof(node) * (size_t)cap);
    if (!nodes) return -1;
    t->nodes = nodes;
    t->cap = cap;
  }
  int64_t first = t->len;
  t->len += k;
  return first;
}

static int add_group(tsne_tree *t, int64_t at) {
  if (t->ngroups == t->cap_groups) {
    int64_t cap = t->cap_groups ? 2 * t->cap_groups : 256;
    group *g = realloc(t->groups, sizeof(group) * (size_t)cap);
    if (!g) return 0;
    t->groups = g;
    t->cap_groups = cap;
  }
  group *g = &t->groups[t->ngroups++];
  const node *nd = &t->nodes[at];
  g->node = (int32_t)at;
  const float *s[3] = {t->sx, t->sy, t->sz};
  for (int k = 0; k < t->dims; k++) {
    float lo = INFINITY, hi = -INFINITY;
    for (int32_t i = nd->start; i < nd->start + nd->count; i++) {
      lo = s[k][i] < lo ? s[k][i] : lo;
      hi = s[k][i] > hi ? s[k][i] : hi;
    }
    g->lo[k] = lo, g->hi[k] = hi;
  }
  return 1;
}

/* Fills node `at` (its range already set) and its subtree. root_w is the root cell's side. */
static int build_node(tsne_tree *t, int64_t at, double root_w, int in_group) {
  const int dims = t->dims, bits = dims * TSNE_LEVELS;
  node *nd = &t->nodes[at];
  int32_t start = nd->start, count = nd->count;
  uint64_t first = t->code[start], last = t->code[start + count - 1];
  /* Levels shared by every point of the range: the node's cell is the one at that depth. */
  int level = first == last ? TSNE_LEVELS : (__builtin_clzll(first ^ last) - (64 - bits)) / dims;
  double w = root_w / (double)(1u << level);
  nd->width2 = w * w;
  const float *s[3] = {t->sx, t->sy, t->sz};
  double com[3] = {0, 0, 0};
  for (int k = 0; k < dims; k++) {
    for (int32_t i = start; i < start + count; i++) com[k] += s[k][i];
    nd->com[k] = com[k] / count;
  }
  if (!in_group && count <= TSNE_GROUP) {
    if (!add_group(t, at)) return 0;
    in_group = 1;
  }
  if (count == 1 || level == TSNE_LEVELS) {
    nd->child = -1;
    nd->nchild = 0;
    return 1;
  }
  /* Children: runs of equal digit at `level` (the codes are sorted, so runs are contiguous). */
  int shift = (TSNE_LEVELS - 1 - level) * dims, mask = (1 << dims) - 1;
  int32_t bounds[9];
  int nchild = 0;
  int prev = -1;
  for (int32_t i = start; i < start + count; i++) {
    int digit = (int)((t->code[i] >> shift) & (uint64_t)mask);
    if (digit != prev) bounds[nchild++] = i, prev = digit;
  }
  bounds[nchild] = start + count;
  int64_t c0 = new_nodes(t, nchild);
  if (c0 < 0) return 0;
  nd = &t->nodes[at]; /* the array may have moved */
  nd->child = (int32_t)c0;
  nd->nchild = nchild;
  for (int c = 0; c < nchild; c++) {
    t->nodes[c0 + c].start = bounds[c];
    t->nodes[c0 + c].count = bounds[c + 1] - bounds[c];
  }
  for (int c = 0; c < nchild; c++)
    if (!build_node(t, c0 + c, root_w, in_group)) return 0;
  return 1;
}

static int ensure_points(tsne_tree *t, int64_t n) {
  if (n <= t->cap_n) return 1;
  free(t->code), free(t->code_tmp), free(t->perm), free(t->perm_tmp);
  free(t->sx), free(t->sy), free(t->sz);
  t->code = malloc(sizeof(uint64_t) * (size_t)n);
  t->code_tmp = malloc(sizeof(uint64_t) * (size_t)n);
  t->perm = malloc(sizeof(int32_t) * (size_t)n);
  t->perm_tmp = malloc(sizeof(int32_t) * (size_t)n);
  t->sx = malloc(sizeof(float) * (size_t)n);
  t->sy = malloc(sizeof(float) * (size_t)n);
  t->sz = calloc((size_t)n, sizeof(float));
  t->cap_n = n;
  return t->code && t->code_tmp && t->perm && t->perm_tmp && t->sx && t->sy && t->sz;
}

prior_status tsne_tree_build(tsne_tree *t, const double *y, int64_t n) {
  const int dims = t->dims;
  t->n = n;
  if (!ensure_points(t, n)) {
    t->cap_n = 0;
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for a tree of %lld points", (long long)n);
  }
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < dims; k++) {
      double v = y[i * dims + k];
      lo[k] = v < lo[k] ? v : lo[k];
      hi[k] = v > hi[k] ? v : hi[k];
    }
  double w = 0.0;
  for (int k = 0; k < dims; k++) w = hi[k] - lo[k] > w ? hi[k] - lo[k] : w;
  w = w * (1.0 + 1e-6) + 1e-12; /* keeps the largest coordinate inside the last cell */
  const double scale = (double)(1u << TSNE_LEVELS) / w;
  const uint64_t qmax = (1u << TSNE_LEVELS) - 1;
  for (int64_t i = 0; i < n; i++) {
    uint64_t code = 0;
    for (int k = 0; k < dims; k++) {
      double q = (y[i * dims + k] - lo[k]) * scale;
      uint64_t qi = q <= 0.0 ? 0 : (uint64_t)q > qmax ? qmax : (uint64_t)q;
      code |= (dims == 2 ? spread2(qi) : spread3(qi)) << k;
    }
    t->code[i] = code;
    t->perm[i] = (int32_t)i;
  }
  radix_sort(t, dims * TSNE_LEVELS);
  float *s[3] = {t->sx, t->sy, t->sz};
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < dims; k++) s[k][i] = (float)y[(int64_t)t->perm[i] * dims + k];
  t->len = 0;
  t->ngroups = 0;
  int64_t root = new_nodes(t, 1);
  if (root < 0) return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory building the tree");
  t->nodes[root].start = 0;
  t->nodes[root].count = (int32_t)n;
  if (!build_node(t, root, w, 0)) return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory building the tree");
  return PRIOR_OK;
}

static int ensure_lists(tsne_tree *t, int threads) {
  int64_t need = t->n + t->len;
  if (t->nlists >= threads && t->list_cap >= need) return 1;
  free_lists(t);
  t->lists = calloc((size_t)threads, sizeof(ilist));
  if (!t->lists) return 0;
  t->nlists = threads;
  t->list_cap = need + need / 2;
  for (int k = 0; k < threads; k++) {
    ilist *l = &t->lists[k];
    l->x = malloc(sizeof(float) * (size_t)t->list_cap);
    l->y = malloc(sizeof(float) * (size_t)t->list_cap);
    l->z = calloc((size_t)t->list_cap, sizeof(float));
    l->c = malloc(sizeof(float) * (size_t)t->list_cap);
    if (!l->x || !l->y || !l->z || !l->c) return 0;
    l->cap = t->list_cap;
  }
  return 1;
}

/* Walks the tree for one group and fills its interaction list; returns the list length. */
static int64_t collect(const tsne_tree *t, const group *g, double theta2, ilist *l) {
  const int dims = t->dims;
  const node *nodes = t->nodes, *gn = &nodes[g->node];
  const int32_t gs = gn->start, ge = gn->start + gn->count;
  int32_t stack[512];
  int sp = 0;
  int64_t m = 0;
  stack[sp++] = 0;
  while (sp > 0) {
    const node *nd = &nodes[stack[--sp]];
    int holds_group = nd->start <= gs && ge <= nd->start + nd->count;
    if (!holds_group) {
      double d2 = 0.0;
      for (int k = 0; k < dims; k++) {
        double c = nd->com[k], gap = c < g->lo[k] ? g->lo[k] - c : c > g->hi[k] ? c - g->hi[k] : 0.0;
        d2 += gap * gap;
      }
      if (nd->width2 < theta2 * d2) {
        l->x[m] = (float)nd->com[0];
        l->y[m] = (float)nd->com[1];
        if (dims == 3) l->z[m] = (float)nd->com[2];
        l->c[m++] = (float)nd->count;
        continue;
      }
    }
    if (nd->child < 0) {
      for (int32_t i = nd->start; i < nd->start + nd->count; i++) {
        l->x[m] = t->sx[i];
        l->y[m] = t->sy[i];
        if (dims == 3) l->z[m] = t->sz[i];
        l->c[m++] = 1.0f;
      }
    } else {
      for (int c = nd->nchild - 1; c >= 0; c--) stack[sp++] = nd->child + c;
    }
  }
  return m;
}

prior_status tsne_tree_repulsion(tsne_tree *t, int64_t n, double theta, int threads, double *neg, double *zrow,
                                 double *z_out) {
  const int dims = t->dims;
  const double theta2 = theta * theta;
  if (!ensure_lists(t, threads))
    return prior_error_set(PRIOR_ERR_MEMORY, "tsne: out of memory for interaction lists of %lld entries",
                           (long long)(t->n + t->len));
#pragma omp parallel num_threads(threads)
  {
    ilist *l = &t->lists[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
    for (int64_t gi = 0; gi < t->ngroups; gi++) {
      const group *g = &t->groups[gi];
      const node *gn = &t->nodes[g->node];
      const int64_t m = collect(t, g, theta2, l);
      const float *lx = l->x, *ly = l->y, *lz = l->z, *lcnt = l->c;
      for (int32_t i = gn->start; i < gn->start + gn->count; i++) {
        const float px = t->sx[i], py = t->sy[i], pz = t->sz[i];
        float z = 0.0f, fx = 0.0f, fy = 0.0f, fz = 0.0f;
        if (dims == 2) {
#pragma omp simd reduction(+ : z, fx, fy)
          for (int64_t k = 0; k < m; k++) {
            float dx = px - lx[k], dy = py - ly[k];
            float w = 1.0f / (1.0f + dx * dx + dy * dy);
            float cw = lcnt[k] * w, cww = cw * w;
            z += cw;
            fx += cww * dx;
            fy += cww * dy;
          }
        } else {
#pragma omp simd reduction(+ : z, fx, fy, fz)
          for (int64_t k = 0; k < m; k++) {
            float dx = px - lx[k], dy = py - ly[k], dz = pz - lz[k];
            float w = 1.0f / (1.0f + dx * dx + dy * dy + dz * dz);
            float cw = lcnt[k] * w, cww = cw * w;
            z += cw;
            fx += cww * dx;
            fy += cww * dy;
            fz += cww * dz;
          }
        }
        int64_t p = t->perm[i];
        /* The list holds the point itself (distance 0, weight 1); it does not repel itself. */
        zrow[p] = (double)z - 1.0;
        neg[p * dims] = fx;
        neg[p * dims + 1] = fy;
        if (dims == 3) neg[p * dims + 2] = fz;
      }
    }
  }
  double z = 0.0;
  for (int64_t i = 0; i < n; i++) z += zrow[i]; /* fixed order: results do not depend on threads */
  *z_out = z;
  return PRIOR_OK;
}
