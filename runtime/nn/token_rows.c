/* Packing padded sequences into their real tokens' rows (token_rows.h). */
#include "nn/token_rows.h"

#include <stdlib.h>

#include "prior/ops_index.h"
#include "prior/ops_shape.h"

prior_status prior_token_rows_init(prior_token_rows *r, const prior_tensor *mask) {
  *r = (prior_token_rows){0};
  PRIOR_TRY(prior_check_ndim("token rows", "mask", mask, 2));
  r->n = mask->shape[0], r->l = mask->shape[1];
  prior_tensor *m = prior_tensor_to_dtype_raw(mask, PRIOR_F64); /* a contiguous host copy to read */
  if (!m) return prior_error_code();
  const double *v = prior_tensor_data(m);
  int64_t total = r->n * r->l;
  for (int64_t i = 0; i < total; i++) r->t += v[i] != 0;
  int64_t t_shape = r->t > 0 ? r->t : 1;
  r->real = prior_tensor_empty(1, &t_shape, PRIOR_I64, prior_cpu());
  r->source = r->real ? prior_tensor_empty(1, &total, PRIOR_I64, prior_cpu()) : NULL;
  r->first = calloc((size_t)(r->n ? r->n : 1), sizeof *r->first);
  r->count = calloc((size_t)(r->n ? r->n : 1), sizeof *r->count);
  if (!r->source || !r->first || !r->count) {
    if (r->source) prior_error_set(PRIOR_ERR_MEMORY, "token rows: out of memory for %lld sequences", (long long)r->n);
    prior_tensor_free(m);
    prior_token_rows_free(r);
    return prior_error_code();
  }
  int64_t *real = prior_tensor_data(r->real), *source = prior_tensor_data(r->source);
  for (int64_t i = 0, row = 0; i < total; i++) {
    source[i] = v[i] != 0 ? row : r->t;
    if (i % r->l == 0) r->first[i / r->l] = row;
    if (v[i] != 0) real[row++] = i, r->count[i / r->l]++;
  }
  prior_tensor_free(m);
  if (r->t == 0) { /* no real token: position 0 stands in as sequence 0's one row, never read back */
    real[0] = 0;
    r->t = 1;
    r->first[0] = 0, r->count[0] = 1;
    for (int64_t i = 0; i < total; i++) source[i] = 1;
  }
  return PRIOR_OK;
}

void prior_token_rows_free(prior_token_rows *r) {
  prior_free_all(2, r->real, r->source);
  free(r->first);
  free(r->count);
  r->real = r->source = NULL;
  r->first = r->count = NULL;
}

prior_tensor *prior_token_rows_pack(const prior_token_rows *r, prior_tensor *x) {
  int64_t flat[2] = {r->n * r->l, x->shape[x->ndim - 1]};
  prior_tensor *x2 = prior_reshape(x, 2, flat);
  prior_tensor *rows = x2 ? prior_index_select(x2, 0, r->real) : NULL;
  prior_tensor_free(x2);
  return rows;
}

prior_tensor *prior_token_rows_unpack(const prior_token_rows *r, prior_tensor *x) {
  int64_t zshape[2] = {1, x->shape[1]}, shape[3] = {r->n, r->l, x->shape[1]};
  prior_tensor *zero = prior_tensor_zeros(2, zshape, (prior_dtype)x->dtype, x->device);
  prior_tensor *parts[2] = {x, zero};
  prior_tensor *with_zero = zero ? prior_cat(2, parts, 0) : NULL;
  prior_tensor *flat = with_zero ? prior_index_select(with_zero, 0, r->source) : NULL;
  prior_tensor *out = flat ? prior_reshape(flat, 3, shape) : NULL;
  prior_free_all(3, zero, with_zero, flat);
  return out;
}
