/* Tensor core: creation, views, copies, dtype conversion, the allocator, the RNG, and error paths. */
#include <omp.h>

#include "check.h"
#include "prior/prior.h"

static void test_creation_and_views(void) {
  int64_t shape[2] = {2, 3};
  float data[6] = {1, 2, 3, 4, 5, 6};
  prior_tensor *t = prior_tensor_from_data(data, 2, shape, PRIOR_F32, prior_cpu());
  CHECK(t && prior_tensor_numel(t) == 6 && prior_tensor_is_contiguous(t));
  double v;
  int64_t idx[2] = {1, 2};
  CHECK_OK(prior_tensor_get(t, idx, &v));
  CHECK(v == 6);

  prior_tensor *tt = prior_transpose(t, 0, 1);
  CHECK(tt && tt->shape[0] == 3 && tt->shape[1] == 2 && !prior_tensor_is_contiguous(tt));
  int64_t idx2[2] = {2, 1};
  prior_tensor_get(tt, idx2, &v);
  CHECK(v == 6);
  prior_tensor *c = prior_contiguous(tt);
  CHECK(c && prior_tensor_is_contiguous(c) && ((float *)prior_tensor_data(c))[1] == 4);

  int64_t flat = -1;
  prior_tensor *r = prior_reshape(tt, 1, &flat); /* not viewable: copies */
  CHECK(r && r->shape[0] == 6 && ((float *)prior_tensor_data(r))[1] == 4);
  prior_tensor *n = prior_narrow(t, 1, 1, 2);
  CHECK(n && n->shape[1] == 2 && n->offset == 1);
  prior_tensor *s = prior_select(t, 0, -1);
  CHECK(s && s->ndim == 1 && s->offset == 3);
  prior_tensor *u = prior_unsqueeze(s, 0);
  CHECK(u && u->ndim == 2 && u->shape[0] == 1);
  int64_t eshape[3] = {4, 2, 3};
  prior_tensor *e = prior_expand(t, 3, eshape);
  CHECK(e && e->strides[0] == 0 && e->shape[0] == 4);
  prior_tensor *sq = prior_squeeze(u, 0);
  CHECK(sq && sq->ndim == 1 && sq->shape[0] == 3);

  prior_tensor *d = prior_tensor_to_dtype_raw(tt, PRIOR_F64);
  CHECK(d && d->dtype == PRIOR_F64);
  prior_tensor_get(d, idx2, &v);
  CHECK(v == 6);
  prior_tensor *h = prior_tensor_to_dtype_raw(t, PRIOR_BF16);
  prior_tensor *back = prior_tensor_to_dtype_raw(h, PRIOR_F32);
  CHECK(back && ((float *)prior_tensor_data(back))[5] == 6.0f);

  prior_tensor *a = prior_tensor_arange(0, 5, 1, PRIOR_I64, prior_cpu());
  CHECK(a && a->shape[0] == 5 && ((int64_t *)prior_tensor_data(a))[4] == 4);
  prior_tensor *l = prior_tensor_linspace(0, 1, 5, PRIOR_F32, prior_cpu());
  CHECK(l && ((float *)prior_tensor_data(l))[4] == 1.0f && ((float *)prior_tensor_data(l))[2] == 0.5f);
  prior_tensor *eye = prior_tensor_eye(3, 3, PRIOR_F32, prior_cpu());
  CHECK(eye && ((float *)prior_tensor_data(eye))[4] == 1.0f && ((float *)prior_tensor_data(eye))[1] == 0.0f);
  prior_tensor *list[] = {t, tt, c, r, n, s, u, e, sq, d, h, back, a, l, eye};
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) prior_tensor_free(list[i]);
}

static void test_half_conversions(void) {
  CHECK(prior_f16_to_f32(prior_f32_to_f16(1.5f)) == 1.5f);
  CHECK(prior_f16_to_f32(prior_f32_to_f16(65504.0f)) == 65504.0f);
  CHECK(prior_f16_to_f32(prior_f32_to_f16(-0.000061035156f)) == -0.000061035156f); /* smallest normal */
  CHECK(prior_f16_to_f32(prior_f32_to_f16(5.9604645e-08f)) == 5.9604645e-08f);     /* smallest subnormal */
  CHECK(prior_bf16_to_f32(prior_f32_to_bf16(3.0f)) == 3.0f);
  CHECK(prior_f32_to_bf16(1.00390625f) == 0x3f80); /* ties to even */
}

static void test_errors(void) {
  int64_t shape[2] = {2, 3}, bad[2] = {4, 2};
  prior_tensor *t = prior_tensor_zeros(2, shape, PRIOR_F32, prior_cpu());
  prior_tensor *u = prior_tensor_zeros(2, bad, PRIOR_F32, prior_cpu());
  CHECK_ERR(prior_add(t, u), PRIOR_ERR_SHAPE, "[2, 3] and [4, 2]");
  prior_tensor *i = prior_tensor_zeros(2, shape, PRIOR_I64, prior_cpu());
  CHECK_ERR(prior_add(t, i), PRIOR_ERR_DTYPE, "f32 and i64");
  CHECK_ERR(prior_add(t, NULL), PRIOR_ERR_ARGUMENT, "'b' is NULL");
  CHECK_ERR(prior_narrow(t, 1, 2, 5), PRIOR_ERR_INDEX, "out of bounds");
  CHECK_ERR(prior_select(t, 2, 0), PRIOR_ERR_INDEX, "dim 2 out of range");
  int64_t five = 5;
  CHECK_ERR(prior_reshape(t, 1, &five), PRIOR_ERR_SHAPE, "cannot reshape");
  int64_t neg[1] = {-3};
  CHECK_ERR(prior_tensor_empty(1, neg, PRIOR_F32, prior_cpu()), PRIOR_ERR_SHAPE, "negative size");
  prior_device gpu = {PRIOR_DEVICE_CUDA, 0};
  CHECK_ERR(prior_tensor_empty(1, shape, PRIOR_F32, gpu), PRIOR_ERR_DEVICE, "cuda:0");
  double v;
  CHECK_ERR(prior_tensor_item(t, &v), PRIOR_ERR_SHAPE, "has 6 elements");
  CHECK_ERR(prior_backward(t, NULL, 0), PRIOR_ERR_AUTOGRAD, "does not require grad");
  CHECK_ERR(prior_tensor_set_requires_grad(i, 1), PRIOR_ERR_DTYPE, "floating");
  /* an allocation failure is an error, not a crash */
  prior_empty_cache(prior_cpu());
  prior_alloc_fail_after(1);
  int64_t big[1] = {123457};
  CHECK_ERR(prior_tensor_zeros(1, big, PRIOR_F32, prior_cpu()), PRIOR_ERR_MEMORY, "out of memory");
  prior_alloc_fail_after(0);
  prior_tensor_free(t);
  prior_tensor_free(u);
  prior_tensor_free(i);
}

static void test_allocator(void) {
  prior_empty_cache(prior_cpu());
  prior_memory_stats before, during, after;
  prior_memory_stats_get(prior_cpu(), &before);
  int64_t shape[1] = {1000};
  prior_tensor *t = prior_tensor_empty(1, shape, PRIOR_F32, prior_cpu());
  prior_memory_stats_get(prior_cpu(), &during);
  CHECK(during.bytes_in_use >= before.bytes_in_use + 4000);
  CHECK(during.peak_bytes_in_use >= during.bytes_in_use);
  prior_tensor_free(t);
  prior_memory_stats_get(prior_cpu(), &after);
  CHECK(after.bytes_in_use == before.bytes_in_use && after.bytes_cached >= 4000);
  t = prior_tensor_empty(1, shape, PRIOR_F32, prior_cpu()); /* same size: from the cache */
  prior_memory_stats stats;
  prior_memory_stats_get(prior_cpu(), &stats);
  CHECK(stats.n_cache_hits == after.n_cache_hits + 1);
  prior_tensor_free(t);
  prior_empty_cache(prior_cpu());
  prior_memory_stats_get(prior_cpu(), &stats);
  CHECK(stats.bytes_cached == 0);
}

static void test_rng(void) {
  /* Known-answer test from the Random123 distribution (philox4x32_10, counter 0, key 0). */
  uint32_t out[4];
  prior_philox4x32(0, 0, out);
  CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u);

  /* Same numbers regardless of thread count. */
  enum { N = 200003 };
  static double a[N], b[N];
  omp_set_num_threads(1);
  prior_philox_normal_f64(42, 7, a, N);
  omp_set_num_threads(2);
  prior_philox_normal_f64(42, 7, b, N);
  CHECK(memcmp(a, b, sizeof a) == 0);
  double mean = 0, var = 0;
  for (int i = 0; i < N; i++) mean += a[i];
  mean /= N;
  for (int i = 0; i < N; i++) var += (a[i] - mean) * (a[i] - mean);
  var /= N;
  CHECK_NEAR(mean, 0.0, 0.01);
  CHECK_NEAR(var, 1.0, 0.02);

  /* Seeding reproduces tensors; draws advance the stream. */
  int64_t shape[1] = {1000};
  prior_rng_seed(3);
  prior_tensor *x = prior_tensor_rand(1, shape, PRIOR_F32, prior_cpu());
  prior_tensor *y = prior_tensor_rand(1, shape, PRIOR_F32, prior_cpu());
  prior_rng_seed(3);
  prior_tensor *z = prior_tensor_rand(1, shape, PRIOR_F32, prior_cpu());
  CHECK(memcmp(prior_tensor_data(x), prior_tensor_data(z), 4000) == 0);
  CHECK(memcmp(prior_tensor_data(x), prior_tensor_data(y), 4000) != 0);
  prior_tensor *bern = prior_tensor_empty(1, shape, PRIOR_F32, prior_cpu());
  prior_tensor_bernoulli_(bern, 0.3);
  double ones = 0;
  for (int i = 0; i < 1000; i++) ones += ((float *)prior_tensor_data(bern))[i];
  CHECK(ones > 240 && ones < 360);
  prior_tensor *g = prior_tensor_empty(1, shape, PRIOR_F64, prior_cpu());
  prior_tensor_gumbel_(g);
  double gmean = 0;
  for (int i = 0; i < 1000; i++) gmean += ((double *)prior_tensor_data(g))[i];
  CHECK_NEAR(gmean / 1000, 0.5772, 0.1); /* Euler-Mascheroni */
  CHECK_ERR(prior_tensor_bernoulli_(bern, 1.5), PRIOR_ERR_ARGUMENT, "p=1.5");

  /* A large contiguous fill is drawn in chunks; it must equal the stream drawn in one piece (here through a
   * transposed view, which takes the unchunked path) element for element. */
  int64_t big[2] = {700, 1001}, big_t[2] = {1001, 700};
  prior_tensor *chunked = prior_tensor_empty(2, big, PRIOR_F64, prior_cpu());
  prior_tensor *whole = prior_tensor_empty(2, big_t, PRIOR_F64, prior_cpu());
  prior_tensor *whole_t = prior_transpose(whole, 0, 1);
  prior_rng_seed(11);
  CHECK_OK(prior_tensor_normal_(chunked, 0.0, 1.0));
  prior_rng_seed(11);
  CHECK_OK(prior_tensor_normal_(whole_t, 0.0, 1.0));
  int same = 1;
  for (int64_t i = 0; i < 700 && same; i++)
    for (int64_t j = 0; j < 1001; j++)
      if (((double *)prior_tensor_data(chunked))[i * 1001 + j] != ((double *)prior_tensor_data(whole))[j * 700 + i]) {
        same = 0;
        break;
      }
  CHECK_MSG(same, "a chunked draw differs from the same draw in one piece");
  prior_free_all(3, chunked, whole, whole_t);
  prior_tensor_free(x);
  prior_tensor_free(y);
  prior_tensor_free(z);
  prior_tensor_free(bern);
  prior_tensor_free(g);
}

/* The packed Bernoulli draw (sixteen Philox blocks at a time) equals the element-wise rule on
 * prior_philox_uniform_f64's numbers: for offsets whose low counter word wraps inside a group, probabilities at
 * and near 0 and 1, lengths that end mid-byte, and one or two threads. */
static void test_bernoulli_bits(void) {
  enum { N = 4133 };
  static double u[N];
  static uint8_t bits[(N + 7) / 8];
  const uint64_t offsets[] = {0, 7, 0xfffffffaull, 0x1fffffff3ull};
  const double ps[] = {0.0, 1.0, 0.9, 0.5, 1e-12, 1.0 - 1e-12};
  const int64_t lengths[] = {N, 1, 13, 64, 129};
  for (size_t o = 0; o < 4; o++)
    for (size_t q = 0; q < 6; q++)
      for (size_t l = 0; l < 5; l++) {
        int64_t n = lengths[l];
        omp_set_num_threads(1 + (int)((o + l) % 2));
        prior_philox_uniform_f64(99, offsets[o], u, n);
        memset(bits, 0xff, sizeof bits);
        prior_philox_bernoulli_bits(99, offsets[o], ps[q], bits, n);
        int same = 1;
        for (int64_t i = 0; i < n; i++) same &= ((bits[i / 8] >> (i % 8)) & 1) == (u[i] < ps[q]);
        if (n % 8) same &= (bits[n / 8] >> (n % 8)) == 0; /* bits past the end are 0 */
        CHECK_MSG(same, "bernoulli bits differ: offset %llu p %g n %lld", (unsigned long long)offsets[o], ps[q],
                  (long long)n);
      }
  omp_set_num_threads(2);
}

int main(void) {
  test_creation_and_views();
  test_half_conversions();
  test_errors();
  test_allocator();
  test_rng();
  test_bernoulli_bits();
  return check_summary("test_tensor");
}
