/* CPU reductions. The input is viewed with the kept dims first and the reduced dims last, copied to be
 * contiguous when it is not, and reduced row by row (rows in parallel; one long row split across threads);
 * sums whose reduced dims are outermost in memory add whole slabs instead (slab_sums). */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "backend/kernels.h"
#include "core/bf16.h"

static double reduce_row_f64(const double *x, int64_t r, int op, int64_t *index) {
  switch (op) {
    case PRIOR_REDUCE_SUM:
    case PRIOR_REDUCE_MEAN: {
      double acc = 0;
      for (int64_t i = 0; i < r; i++) acc += x[i];
      return op == PRIOR_REDUCE_MEAN ? acc / (double)r : acc;
    }
    case PRIOR_REDUCE_PROD: {
      double acc = 1;
      for (int64_t i = 0; i < r; i++) acc *= x[i];
      return acc;
    }
    case PRIOR_REDUCE_NORM2: {
      double acc = 0;
      for (int64_t i = 0; i < r; i++) acc += x[i] * x[i];
      return sqrt(acc);
    }
    case PRIOR_REDUCE_LOGSUMEXP: {
      double m = -INFINITY;
      for (int64_t i = 0; i < r; i++) m = x[i] > m ? x[i] : m;
      if (isinf(m)) return m;
      double acc = 0;
      for (int64_t i = 0; i < r; i++) acc += exp(x[i] - m);
      return m + log(acc);
    }
    case PRIOR_REDUCE_MAX:
    case PRIOR_REDUCE_ARGMAX: {
      int64_t best = 0;
      for (int64_t i = 1; i < r; i++)
        if (x[i] > x[best] || (isnan(x[i]) && !isnan(x[best]))) best = i;
      *index = best;
      return x[best];
    }
    case PRIOR_REDUCE_MIN:
    case PRIOR_REDUCE_ARGMIN: {
      int64_t best = 0;
      for (int64_t i = 1; i < r; i++)
        if (x[i] < x[best] || (isnan(x[i]) && !isnan(x[best]))) best = i;
      *index = best;
      return x[best];
    }
  }
  return NAN;
}

/* f32 rows accumulate in double: sums of many floats stay accurate. */
static double reduce_row_f32(const float *x, int64_t r, int op, int64_t *index) {
  switch (op) {
    case PRIOR_REDUCE_SUM:
    case PRIOR_REDUCE_MEAN: {
      double acc = 0;
      for (int64_t i = 0; i < r; i++) acc += x[i];
      return op == PRIOR_REDUCE_MEAN ? acc / (double)r : acc;
    }
    case PRIOR_REDUCE_NORM2: {
      double acc = 0;
      for (int64_t i = 0; i < r; i++) acc += (double)x[i] * x[i];
      return sqrt(acc);
    }
    case PRIOR_REDUCE_LOGSUMEXP: {
      float m = -INFINITY;
      for (int64_t i = 0; i < r; i++) m = x[i] > m ? x[i] : m;
      if (isinf(m)) return m;
      double acc = 0;
      for (int64_t i = 0; i < r; i++) acc += expf(x[i] - m);
      return m + log(acc);
    }
    case PRIOR_REDUCE_PROD: {
      double acc = 1;
      for (int64_t i = 0; i < r; i++) acc *= x[i];
      return acc;
    }
    case PRIOR_REDUCE_MAX:
    case PRIOR_REDUCE_ARGMAX: {
      int64_t best = 0;
      for (int64_t i = 1; i < r; i++)
        if (x[i] > x[best] || (isnan(x[i]) && !isnan(x[best]))) best = i;
      *index = best;
      return x[best];
    }
    case PRIOR_REDUCE_MIN:
    case PRIOR_REDUCE_ARGMIN: {
      int64_t best = 0;
      for (int64_t i = 1; i < r; i++)
        if (x[i] < x[best] || (isnan(x[i]) && !isnan(x[best]))) best = i;
      *index = best;
      return x[best];
    }
  }
  return NAN;
}

static double reduce_row(const prior_tensor *t, const char *row, int64_t r, int op, int64_t *index) {
  if (t->dtype == PRIOR_F32) return reduce_row_f32((const float *)row, r, op, index);
  if (t->dtype == PRIOR_F64) return reduce_row_f64((const double *)row, r, op, index);
  /* integer inputs: convert the row (rare: counts, masks) */
  double *tmp = malloc((size_t)(r ? r : 1) * sizeof *tmp);
  if (!tmp) return NAN;
  for (int64_t i = 0; i < r; i++) {
    switch (t->dtype) {
      case PRIOR_I32: tmp[i] = ((const int32_t *)row)[i]; break;
      case PRIOR_I64: tmp[i] = (double)((const int64_t *)row)[i]; break;
      default: tmp[i] = ((const uint8_t *)row)[i]; break;
    }
  }
  double v = reduce_row_f64(tmp, r, op, index);
  free(tmp);
  return v;
}

static void store(prior_tensor *out, int64_t i, double v) {
  switch (out->dtype) {
    case PRIOR_F32: ((float *)prior_tensor_data(out))[i] = (float)v; break;
    case PRIOR_F64: ((double *)prior_tensor_data(out))[i] = v; break;
    case PRIOR_I32: ((int32_t *)prior_tensor_data(out))[i] = (int32_t)v; break;
    case PRIOR_I64: ((int64_t *)prior_tensor_data(out))[i] = (int64_t)v; break;
    default: ((uint8_t *)prior_tensor_data(out))[i] = (uint8_t)v; break;
  }
}

/* Sums (or means) over "slabs": when the reduced dims are the outermost in memory and the kept dims a dense block
 * of m elements (in any order), the input is r slabs of m elements and each output adds one position down the
 * slabs. A bias gradient (a contiguous [r, m] block summed over its rows) is the commonest case of a training
 * step; a broadcast operand's gradient laid out transposed ([B, k, n] with k contiguous, summed over B) another.
 * Columns are summed in place, in blocks of doubles, instead of transposing the input so that each output's
 * values become a row; the slabs are added in the reduced dims' logical order, as the row-by-row path adds them,
 * so both give the same bits. */
#define COLUMN_BLOCK 256

typedef struct slab_layout {
  int64_t *offsets;                 /* r slab offsets (elements), in the reduced dims' logical order */
  int identity;                     /* the kept block is in the output's (logical, row-major) order */
  int n_kept;                       /* kept dims of size > 1, by decreasing stride */
  int64_t stride[PRIOR_MAX_DIMS];   /* their strides in the input (= within the block) */
  int64_t out_step[PRIOR_MAX_DIMS]; /* and their strides in the (row-major) output */
} slab_layout;

/* Sorts dims (indices into t) by increasing stride. */
static void sort_by_stride(const prior_tensor *t, int *dims, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && t->strides[dims[j]] < t->strides[dims[j - 1]]; j--) {
      int tmp = dims[j];
      dims[j] = dims[j - 1], dims[j - 1] = tmp;
    }
}

/* Fills `l` (offsets: r entries, caller's) when in has that layout; 0 otherwise. */
static int find_slab_layout(const prior_tensor *in, uint32_t mask, int64_t r, slab_layout *l) {
  int kept[PRIOR_MAX_DIMS], red[PRIOR_MAX_DIMS], nk = 0, nr = 0;
  for (int d = 0; d < in->ndim; d++) {
    if (in->shape[d] == 1) continue;
    if (mask & (1u << d)) red[nr++] = d;
    else kept[nk++] = d;
  }
  sort_by_stride(in, kept, nk);
  sort_by_stride(in, red, nr);
  int64_t expect = 1;
  for (int i = 0; i < nk; i++) {
    if (in->strides[kept[i]] != expect) return 0;
    expect *= in->shape[kept[i]];
  }
  for (int i = 0; i < nr; i++) {
    if (in->strides[red[i]] != expect) return 0;
    expect *= in->shape[red[i]];
  }
  /* the output is row-major over the kept dims in logical order */
  int64_t step = 1, out_step_of_dim[PRIOR_MAX_DIMS];
  for (int d = in->ndim - 1; d >= 0; d--)
    if (!(mask & (1u << d))) out_step_of_dim[d] = step, step *= in->shape[d];
  l->identity = 1;
  l->n_kept = nk;
  for (int i = 0; i < nk; i++) {
    int d = kept[nk - 1 - i];
    l->stride[i] = in->strides[d], l->out_step[i] = out_step_of_dim[d];
    if (l->stride[i] != l->out_step[i]) l->identity = 0;
  }
  /* slab offsets: walk the reduced dims (all of them, logical order) like an odometer */
  int64_t idx[PRIOR_MAX_DIMS] = {0}, off = 0;
  for (int64_t j = 0; j < r; j++) {
    l->offsets[j] = off;
    for (int d = in->ndim - 1; d >= 0; d--) {
      if (!(mask & (1u << d))) continue;
      off += in->strides[d];
      if (++idx[d] < in->shape[d]) break;
      off -= in->strides[d] * in->shape[d];
      idx[d] = 0;
    }
  }
  return 1;
}

/* The output index of the kept block's p-th element. */
static int64_t output_index(const slab_layout *l, int64_t p) {
  if (l->identity) return p;
  int64_t i = 0;
  for (int t = 0; t < l->n_kept; t++) {
    i += (p / l->stride[t]) * l->out_step[t];
    p %= l->stride[t];
  }
  return i;
}

static void slab_sums(prior_tensor *out, const prior_tensor *in, const slab_layout *l, int64_t r, int64_t m, int mean) {
  const float *xf = in->dtype == PRIOR_F32 ? prior_tensor_data(in) : NULL;
  const double *xd = in->dtype == PRIOR_F64 ? prior_tensor_data(in) : NULL;
#pragma omp parallel for schedule(static) if (r * m > 32768)
  for (int64_t jb = 0; jb < m; jb += COLUMN_BLOCK) {
    double acc[COLUMN_BLOCK] = {0};
    int64_t w = m - jb < COLUMN_BLOCK ? m - jb : COLUMN_BLOCK;
    for (int64_t i = 0; i < r; i++) {
      if (xf) {
        const float *row = xf + l->offsets[i] + jb;
#pragma omp simd
        for (int64_t j = 0; j < w; j++) acc[j] += row[j];
      } else {
        const double *row = xd + l->offsets[i] + jb;
#pragma omp simd
        for (int64_t j = 0; j < w; j++) acc[j] += row[j];
      }
    }
    for (int64_t j = 0; j < w; j++) store(out, output_index(l, jb + j), mean ? acc[j] / (double)r : acc[j]);
  }
}

/* The slab sums of a contiguous [r, m] block (identity layout) and its bf16 copy, one pass over g. */
static prior_status cpu_bf16_copy_column_sums(prior_tensor *copy, prior_tensor *sums, const prior_tensor *g) {
  int64_t r = g->shape[0], m = g->shape[1];
  const float *x = prior_tensor_data(g);
  uint16_t *c = prior_tensor_data(copy);
  float *out = prior_tensor_data(sums);
#pragma omp parallel for schedule(static) if (r * m > 32768)
  for (int64_t jb = 0; jb < m; jb += COLUMN_BLOCK) {
    double acc[COLUMN_BLOCK] = {0};
    int64_t w = m - jb < COLUMN_BLOCK ? m - jb : COLUMN_BLOCK;
    for (int64_t i = 0; i < r; i++) {
      const float *row = x + i * m + jb;
      uint16_t *crow = c + i * m + jb;
#pragma omp simd
      for (int64_t j = 0; j < w; j++) {
        acc[j] += row[j];
        crow[j] = prior_bf16_round(row[j]);
      }
    }
    for (int64_t j = 0; j < w; j++) out[jb + j] = (float)acc[j];
  }
  return PRIOR_OK;
}

static prior_status cpu_reduce(prior_tensor *out, prior_tensor *indices, const prior_tensor *in, uint32_t mask, int op) {
  int64_t shape[PRIOR_MAX_DIMS], strides[PRIOR_MAX_DIMS];
  int k = 0;
  int64_t m = 1, r = 1;
  for (int d = 0; d < in->ndim; d++)
    if (!(mask & (1u << d))) {
      shape[k] = in->shape[d], strides[k++] = in->strides[d];
      m *= in->shape[d];
    }
  for (int d = 0; d < in->ndim; d++)
    if (mask & (1u << d)) {
      shape[k] = in->shape[d], strides[k++] = in->strides[d];
      r *= in->shape[d];
    }
  if (r == 0 && op != PRIOR_REDUCE_SUM && op != PRIOR_REDUCE_PROD && op != PRIOR_REDUCE_NORM2)
    return prior_error_set(PRIOR_ERR_SHAPE, "reduction over an empty dimension has no %s",
                           op == PRIOR_REDUCE_MEAN ? "mean" : "maximum/minimum");
  if (m > 1 && r > 1 && (op == PRIOR_REDUCE_SUM || op == PRIOR_REDUCE_MEAN) &&
      (in->dtype == PRIOR_F32 || in->dtype == PRIOR_F64)) {
    slab_layout l;
    l.offsets = malloc((size_t)r * sizeof *l.offsets);
    if (!l.offsets) return prior_error_set(PRIOR_ERR_MEMORY, "reduce: out of memory for %lld slab offsets", (long long)r);
    int slabs = find_slab_layout(in, mask, r, &l);
    if (slabs) slab_sums(out, in, &l, r, m, op == PRIOR_REDUCE_MEAN);
    free(l.offsets);
    if (slabs) return PRIOR_OK;
  }
  prior_tensor *view = prior_tensor_as_strided(in, in->ndim, shape, strides, in->offset);
  if (!view) return prior_error_code();
  prior_tensor *rows = prior_tensor_contiguous_raw(view);
  prior_tensor_free(view);
  if (!rows) return prior_error_code();
  const char *base = prior_tensor_data(rows);
  size_t row_bytes = (size_t)r * prior_dtype_size(rows->dtype);
  int64_t *idx = indices ? prior_tensor_data(indices) : NULL;
  int want_index = op == PRIOR_REDUCE_ARGMAX || op == PRIOR_REDUCE_ARGMIN;
  if (m == 1 && r > 65536 && (op == PRIOR_REDUCE_SUM || op == PRIOR_REDUCE_MEAN) && rows->dtype == PRIOR_F32) {
    /* one long row: split the sum across threads */
    const float *x = (const float *)base;
    double acc = 0;
#pragma omp parallel for reduction(+ : acc) schedule(static)
    for (int64_t i = 0; i < r; i++) acc += x[i];
    store(out, 0, op == PRIOR_REDUCE_MEAN ? acc / (double)r : acc);
  } else {
#pragma omp parallel for schedule(static) if (m * r > 32768 && m > 1)
    for (int64_t i = 0; i < m; i++) {
      int64_t where = 0;
      double v = reduce_row(rows, base + (size_t)i * row_bytes, r, op, &where);
      store(out, i, want_index ? (double)where : v);
      if (idx) idx[i] = where;
    }
  }
  prior_tensor_free(rows);
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_cpu_reduce(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "reduce", (prior_kernel_fn)cpu_reduce);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "bf16_copy_column_sums", (prior_kernel_fn)cpu_bf16_copy_column_sums);
}
