/* The model's inspection calls (used by the figure scripts): shapes of the LAM attention maps, the CCR
 * reconstruction and prototype predictions, SPB distributions that sum to one, results without an autograd graph,
 * the same output twice (eval mode: no dropout, no noise), and shape errors naming the problem. */
#include <math.h>

#include "check.h"
#include "prior/prior.h"
#include "prior/prior_model.h"

static prior_model_config tiny_config(void) {
  prior_model_config c = prior_model_config_paper();
  c.resnet = (prior_resnet_config){{1, 1, 1, 1}, 4, 1};
  c.bert = prior_bert_base_config(120);
  c.bert.hidden = 32, c.bert.layers = 1, c.bert.heads = 4, c.bert.intermediate = 64, c.bert.max_positions = 64;
  c.image_size = 64;
  c.embed_dim = 32;
  c.pool_heads = 4;
  c.num_prototypes = 16;
  c.num_queries = 4;
  c.decoder_layers = 1;
  return c;
}

/* 2 reports of 2 and 3 sentences over 12 tokens. */
static void make_text(prior_tensor **ids, prior_tensor **mask, prior_tensor **sidx) {
  int64_t shape[2] = {2, 12};
  *ids = prior_tensor_zeros(2, shape, PRIOR_I64, prior_cpu());
  *mask = prior_tensor_zeros(2, shape, PRIOR_I64, prior_cpu());
  *sidx = prior_tensor_full(2, shape, -1, PRIOR_I64, prior_cpu());
  int counts[2] = {2, 3};
  for (int64_t r = 0; r < 2; r++) {
    int64_t pos = 0;
    prior_tensor_set(*ids, (int64_t[]){r, pos}, 2);
    prior_tensor_set(*mask, (int64_t[]){r, pos++}, 1);
    for (int s = 1; s <= counts[r]; s++)
      for (int t = 0; t < 2; t++) {
        prior_tensor_set(*ids, (int64_t[]){r, pos}, 5 + (r * 7 + s * 3 + t) % 99);
        prior_tensor_set(*mask, (int64_t[]){r, pos}, 1);
        prior_tensor_set(*sidx, (int64_t[]){r, pos++}, s);
      }
    prior_tensor_set(*ids, (int64_t[]){r, pos}, 3);
    prior_tensor_set(*mask, (int64_t[]){r, pos}, 1);
  }
}

static double at(prior_tensor *t, int64_t *index) {
  double v = NAN;
  prior_tensor_get(t, index, &v);
  return v;
}

static int same(prior_tensor *a, prior_tensor *b) {
  prior_tensor *d = prior_sub(a, b), *ad = d ? prior_abs(d) : NULL, *mx = ad ? prior_max_all(ad) : NULL;
  double v = 1;
  if (mx) prior_tensor_item(mx, &v);
  prior_free_all(3, d, ad, mx);
  return v == 0;
}

int main(void) {
  prior_rng_seed(3);
  prior_model_config cfg = tiny_config();
  prior_model *m = prior_model_new(&cfg);
  CHECK_MSG(m != NULL, "%s", prior_error_message());
  if (!m) return check_summary("test_prior_model_viz");
  prior_params_set_requires_grad(prior_model_params(m), 1);
  prior_tensor *images = prior_tensor_randn(4, (int64_t[]){2, 1, 64, 64}, PRIOR_F32, prior_cpu());
  prior_tensor *ids, *mask, *sidx;
  make_text(&ids, &mask, &sidx);

  /* attention: [B, M, N] = [2, 3, 4] (a 2x2 map at 64 pixels), sigmoid weights in (0, 1), 0 on padded sentences */
  prior_tensor *a1 = NULL, *a1b = NULL;
  CHECK_OK(prior_model_attention_maps(m, images, ids, mask, sidx, 1, 0.5, &a1));
  if (a1) {
    CHECK(a1->ndim == 3 && a1->shape[0] == 2 && a1->shape[1] == 3 && a1->shape[2] == 4);
    CHECK(a1->grad_fn == NULL);
    double v = at(a1, (int64_t[]){1, 2, 3});
    CHECK_MSG(v > 0 && v < 1, "A1 = %g", v);
    CHECK_OK(prior_model_attention_maps(m, images, ids, mask, sidx, 1, 0.5, &a1b));
    if (a1b) CHECK(same(a1, a1b));
  }

  /* reconstruction: the input's size, deterministic in eval mode */
  prior_tensor *rec = NULL, *rec2 = NULL;
  CHECK_OK(prior_model_reconstruct(m, images, ids, mask, sidx, 1, 0.5, &rec));
  CHECK_OK(prior_model_reconstruct(m, images, ids, mask, sidx, 1, 0.5, &rec2));
  if (rec && rec2) {
    CHECK(rec->ndim == 4 && rec->shape[0] == 2 && rec->shape[1] == 1 && rec->shape[2] == 64 && rec->shape[3] == 64);
    CHECK(rec->grad_fn == NULL);
    CHECK(same(rec, rec2));
  }

  /* prototypes: [B, Q, D], their distribution over the K prototypes sums to 1 */
  prior_tensor *pred = NULL, *dist = NULL;
  CHECK_OK(prior_model_predict_prototypes(m, images, &pred));
  if (pred) CHECK(pred->ndim == 3 && pred->shape[0] == 2 && pred->shape[1] == 4 && pred->shape[2] == 32);
  if (pred) CHECK_OK(prior_model_spb_distribution(m, pred, 1.0, &dist));
  if (dist) {
    CHECK(dist->ndim == 3 && dist->shape[2] == 16);
    double total = 0;
    for (int64_t k = 0; k < 16; k++) total += at(dist, (int64_t[]){1, 3, k});
    CHECK_NEAR(total, 1.0, 1e-5);
    prior_tensor *sharp = NULL;
    CHECK_OK(prior_model_spb_distribution(m, pred, 0.01, &sharp));
    if (sharp) {
      double top1 = 0, top2 = 0;
      for (int64_t k = 0; k < 16; k++) {
        top1 = fmax(top1, at(dist, (int64_t[]){0, 0, k}));
        top2 = fmax(top2, at(sharp, (int64_t[]){0, 0, k}));
      }
      CHECK_MSG(top2 > top1, "tau 0.01 top %g vs tau 1 top %g", top2, top1);
    }
    prior_tensor_free(sharp);
  }

  /* errors */
  prior_tensor *one = prior_tensor_randn(4, (int64_t[]){1, 1, 64, 64}, PRIOR_F32, prior_cpu());
  prior_tensor *bad = NULL;
  CHECK_ERR(prior_model_attention_maps(m, one, ids, mask, sidx, 1, 0.5, &bad), PRIOR_ERR_SHAPE, "1 images but 2 reports");
  CHECK_ERR(prior_model_reconstruct(m, one, ids, mask, sidx, 0, 0.5, &bad), PRIOR_ERR_SHAPE, "reconstruct");
  CHECK_ERR(prior_model_spb_distribution(m, images, 1.0, &bad), PRIOR_ERR_SHAPE, "vectors of size 64");
  if (pred) CHECK_ERR(prior_model_spb_distribution(m, pred, 0.0, &bad), PRIOR_ERR_ARGUMENT, "temperature 0");
  CHECK(bad == NULL);
  CHECK(prior_grad_enabled() == 1);

  prior_free_all(12, images, ids, mask, sidx, a1, a1b, rec, rec2, pred, dist, one, bad);
  prior_model_free(m);
  return check_summary("test_prior_model_viz");
}
