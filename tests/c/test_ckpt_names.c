/* Checkpoint name edits, the RGB kernel sum and the match report. */
#include <stdlib.h>

#include "check.h"
#include "prior/ckpt_names.h"
#include "prior/torchfile.h"

static prior_ckpt_tensor rec(const char *name, int ndim, long long s0, long long s1) {
  prior_ckpt_tensor t = {.name = name, .dtype = PRIOR_CKPT_F32, .ndim = ndim, .shape = {s0, s1}};
  return t;
}

static int has(const prior_ckpt_names *m, const char *name) { return prior_ckpt_names_find(m, name) != NULL; }

static void test_edits(void) {
  prior_ckpt_tensor t[] = {
      rec("module.bert.embeddings.LayerNorm.gamma", 1, 8, 0),
      rec("module.bert.embeddings.LayerNorm.beta", 1, 8, 0),
      rec("module.bert.encoder.layer.0.output.dense.weight", 2, 8, 8),
      rec("module.bert.encoder.layer.0.scale.gamma", 1, 8, 0), /* not a LayerNorm: kept */
      rec("module.cls.predictions.bias", 1, 30, 0),
      rec("module.fc.weight", 2, 2, 8),
      rec("module.bn.num_batches_tracked", 0, 0, 0),
      rec("module.bn.weight", 1, 8, 0),
  };
  prior_ckpt_names *m = NULL;
  CHECK_OK(prior_ckpt_names_new(t, 8, &m));
  size_t changed = 99;
  CHECK_OK(prior_ckpt_names_strip_prefix(m, "module.", &changed));
  CHECK(changed == 8 && has(m, "bn.weight") && !has(m, "module.bn.weight"));
  CHECK_OK(prior_ckpt_names_strip_prefix(m, "bert.", &changed));
  CHECK(changed == 4 && has(m, "embeddings.LayerNorm.gamma") && has(m, "cls.predictions.bias"));
  CHECK_OK(prior_ckpt_names_layernorm_gamma_beta(m, &changed));
  CHECK(changed == 2 && has(m, "embeddings.LayerNorm.weight") && has(m, "embeddings.LayerNorm.bias"));
  CHECK(has(m, "encoder.layer.0.scale.gamma"));
  /* A renamed name still leads to its original record. */
  CHECK(strcmp(prior_ckpt_names_find(m, "embeddings.LayerNorm.bias")->name, "module.bert.embeddings.LayerNorm.beta") ==
        0);
  CHECK_OK(prior_ckpt_names_drop_prefix(m, "cls.", &changed));
  CHECK(changed == 1 && !has(m, "cls.predictions.bias"));
  CHECK_OK(prior_ckpt_names_drop_prefix(m, "fc.", &changed));
  CHECK(changed == 1 && prior_ckpt_names_count(m) == 6);
  CHECK_OK(prior_ckpt_names_drop_num_batches_tracked(m, &changed));
  CHECK(changed == 1 && prior_ckpt_names_count(m) == 5 && !has(m, "bn.num_batches_tracked"));
  CHECK_OK(prior_ckpt_names_add_prefix(m, "image_encoder.encoder.", &changed));
  CHECK(changed == 5 && has(m, "image_encoder.encoder.bn.weight"));
  CHECK_OK(prior_ckpt_names_strip_prefix(m, "image_encoder.encoder.", NULL));
  CHECK(has(m, "bn.weight") && prior_ckpt_names_tensor(m, 0) && prior_ckpt_names_tensor(m, 5) == NULL);
  CHECK(prior_ckpt_names_name(m, 99) == NULL);
  CHECK_ERR(prior_ckpt_names_strip_prefix(m, "", NULL), PRIOR_ERR_ARGUMENT, "empty prefix");
  CHECK_ERR(prior_ckpt_names_drop_prefix(m, NULL, NULL), PRIOR_ERR_ARGUMENT, "empty prefix");
  prior_ckpt_names_free(m);

  /* An edit that would make two names equal is refused and leaves the list as it was. */
  prior_ckpt_tensor c[] = {rec("module.a", 1, 1, 0), rec("a", 1, 1, 0), rec("module.b", 1, 1, 0)};
  CHECK_OK(prior_ckpt_names_new(c, 3, &m));
  CHECK_ERR(prior_ckpt_names_strip_prefix(m, "module.", &changed), PRIOR_ERR_ARGUMENT, "the same name \"a\"");
  CHECK(strstr(prior_error_message(), "module.a") != NULL);
  CHECK(prior_ckpt_names_count(m) == 3 && has(m, "module.a") && has(m, "module.b"));
  prior_ckpt_names_free(m);
  prior_ckpt_tensor g[] = {rec("x.LayerNorm.gamma", 1, 1, 0), rec("x.LayerNorm.weight", 1, 1, 0)};
  CHECK_OK(prior_ckpt_names_new(g, 2, &m));
  CHECK_ERR(prior_ckpt_names_layernorm_gamma_beta(m, NULL), PRIOR_ERR_ARGUMENT, "x.LayerNorm.weight");
  prior_ckpt_names_free(m);
  prior_ckpt_tensor d[] = {rec("a", 1, 1, 0), rec("a", 1, 1, 0)};
  CHECK_ERR(prior_ckpt_names_new(d, 2, &m), PRIOR_ERR_ARGUMENT, "\"a\" appears twice");
}

/* Renaming rules with '*' components, as the PRIOR reference's checkpoints need. */
static void test_rename(void) {
  prior_ckpt_tensor t[] = {
      rec("image_decoder.blocks.0.conv1.0.weight", 2, 4, 4),
      rec("image_decoder.blocks.12.conv1.1.running_mean", 1, 4, 0),
      rec("image_decoder.blocks.conv1.0.weight", 2, 4, 4), /* no component where '*' stands: not matched */
      rec("local_cross_attention.query2.weight", 2, 4, 4),
      rec("sentence_bank.embed.weight", 2, 8, 4),
      rec("a.x.b.y.c", 1, 1, 0),
  };
  prior_ckpt_names *m = NULL;
  size_t changed = 99;
  CHECK_OK(prior_ckpt_names_new(t, 6, &m));
  CHECK_OK(prior_ckpt_names_rename(m, "image_decoder.blocks.*.conv1.0.", "ccr_image.blocks.*.conv1.", &changed));
  CHECK(changed == 1 && has(m, "ccr_image.blocks.0.conv1.weight") && has(m, "image_decoder.blocks.conv1.0.weight"));
  CHECK_OK(prior_ckpt_names_rename(m, "image_decoder.blocks.*.conv1.1.", "ccr_image.blocks.*.bn1.", &changed));
  CHECK(changed == 1 && has(m, "ccr_image.blocks.12.bn1.running_mean"));
  CHECK_OK(prior_ckpt_names_rename(m, "local_cross_attention.query2.", "lam.text_to_image.query.", &changed));
  CHECK(changed == 1 && has(m, "lam.text_to_image.query.weight"));
  CHECK_OK(prior_ckpt_names_rename(m, "sentence_bank.embed.weight", "spb.prototypes", &changed));
  CHECK(changed == 1 && has(m, "spb.prototypes"));
  CHECK(strcmp(prior_ckpt_names_find(m, "spb.prototypes")->name, "sentence_bank.embed.weight") == 0);
  /* two stars: the k-th star of the target takes the k-th match */
  CHECK_OK(prior_ckpt_names_rename(m, "a.*.b.*.", "z.*.*.", &changed));
  CHECK(changed == 1 && has(m, "z.x.y.c"));
  /* a rule matching nothing, and a rule mapping names to themselves, change nothing */
  CHECK_OK(prior_ckpt_names_rename(m, "nothing.", "else.", &changed));
  CHECK(changed == 0);
  CHECK_OK(prior_ckpt_names_rename(m, "z.*.", "z.*.", &changed));
  CHECK(changed == 0 && prior_ckpt_names_count(m) == 6);
  /* bad rules and collisions are refused, the list unchanged */
  CHECK_ERR(prior_ckpt_names_rename(m, "", "x.", NULL), PRIOR_ERR_ARGUMENT, "empty renaming rule");
  CHECK_ERR(prior_ckpt_names_rename(m, "a.", "*.", NULL), PRIOR_ERR_ARGUMENT, "has 1 '*' in the target for 0");
  CHECK_ERR(prior_ckpt_names_rename(m, "ccr_image.blocks.*.conv1.", "lam.text_to_image.query.", NULL),
            PRIOR_ERR_ARGUMENT, "the same name \"lam.text_to_image.query.weight\"");
  CHECK(has(m, "ccr_image.blocks.0.conv1.weight") && prior_ckpt_names_count(m) == 6);
  prior_ckpt_names_free(m);
}

static void test_rgb(void) {
  float w[2 * 3 * 1 * 2], out[4] = {0};
  for (int i = 0; i < 12; i++) w[i] = (float)(i + 1);
  prior_ckpt_tensor t = {.name = "conv1.weight", .dtype = PRIOR_CKPT_F32, .ndim = 4, .shape = {2, 3, 1, 2},
                         .data = w, .nbytes = sizeof w};
  CHECK_OK(prior_ckpt_sum_rgb_kernel(&t, out, sizeof out));
  /* o=0: 1+3+5, 2+4+6; o=1: 7+9+11, 8+10+12 */
  CHECK(out[0] == 9 && out[1] == 12 && out[2] == 27 && out[3] == 30);
  double wd[6] = {0.5, 0.25, 0.125, 1, 2, 4}, outd[2];
  prior_ckpt_tensor td = {.name = "k", .dtype = PRIOR_CKPT_F64, .ndim = 4, .shape = {1, 3, 2, 1}, .data = wd,
                          .nbytes = sizeof wd};
  CHECK_OK(prior_ckpt_sum_rgb_kernel(&td, outd, sizeof outd));
  CHECK(outd[0] == 0.5 + 0.125 + 2 && outd[1] == 0.25 + 1 + 4);
  CHECK_ERR(prior_ckpt_sum_rgb_kernel(&t, out, 8), PRIOR_ERR_ARGUMENT, "16 needed");
  t.shape[1] = 1;
  t.shape[2] = 3;
  CHECK_ERR(prior_ckpt_sum_rgb_kernel(&t, out, sizeof out), PRIOR_ERR_SHAPE, "conv1.weight has shape [2, 1, 3, 2]");
  t.shape[1] = 3;
  t.shape[2] = 1;
  t.dtype = PRIOR_CKPT_BF16;
  CHECK_ERR(prior_ckpt_sum_rgb_kernel(&t, out, sizeof out), PRIOR_ERR_DTYPE, "is BF16");
  t.dtype = PRIOR_CKPT_F32;
  t.nbytes = 4;
  CHECK_ERR(prior_ckpt_sum_rgb_kernel(&t, out, sizeof out), PRIOR_ERR_ARGUMENT, "its shape needs 48");
}

static void test_match(void) {
  prior_ckpt_tensor t[] = {rec("a.weight", 2, 3, 4), rec("a.bias", 1, 3, 0), rec("b.weight", 2, 4, 3),
                           rec("extra", 1, 1, 0)};
  prior_ckpt_names *m = NULL;
  CHECK_OK(prior_ckpt_names_new(t, 4, &m));
  prior_ckpt_expect want[] = {
      {"a.weight", 2, {3, 4}}, {"a.bias", 1, {3}}, {"b.weight", 2, {3, 4}}, {"c.weight", 1, {2}}};
  prior_ckpt_match *r = NULL;
  CHECK_OK(prior_ckpt_match_check(want, 4, m, 1, "file x.pt", &r));
  CHECK(prior_ckpt_match_missing_count(r) == 1 && strcmp(prior_ckpt_match_missing(r, 0), "c.weight") == 0);
  CHECK(prior_ckpt_match_unexpected_count(r) == 1 && strcmp(prior_ckpt_match_unexpected(r, 0), "extra") == 0);
  CHECK(prior_ckpt_match_mismatch_count(r) == 1 && strcmp(prior_ckpt_match_mismatch(r, 0), "b.weight") == 0);
  CHECK(prior_ckpt_match_source(r, 0) == &t[0] && prior_ckpt_match_source(r, 1) == &t[1]);
  CHECK(prior_ckpt_match_source(r, 2) == NULL && prior_ckpt_match_source(r, 3) == NULL);
  CHECK(strstr(prior_ckpt_match_summary(r), "shape: b.weight model [3, 4] checkpoint [4, 3]\n") != NULL);
  CHECK(strstr(prior_ckpt_match_summary(r), "missing: c.weight\n") != NULL);
  CHECK_ERR(prior_ckpt_match_require(r, "file x.pt"), PRIOR_ERR_FORMAT,
            "file x.pt: checkpoint does not fit the model: 1 missing (c.weight), 1 unexpected (extra), "
            "1 of another shape (b.weight model [3, 4] checkpoint [4, 3])");
  prior_ckpt_match_free(r);

  CHECK_ERR(prior_ckpt_match_check(want, 4, m, 0, "file x.pt", &r), PRIOR_ERR_FORMAT, "1 missing (c.weight)");
  CHECK(r == NULL);
  /* Only a shape differs: a shape error. */
  CHECK_OK(prior_ckpt_names_drop_prefix(m, "extra", NULL));
  CHECK_ERR(prior_ckpt_match_check(want, 3, m, 0, "file x.pt", &r), PRIOR_ERR_SHAPE,
            "1 of another shape (b.weight model [3, 4] checkpoint [4, 3])");
  want[2].shape[0] = 4;
  want[2].shape[1] = 3;
  CHECK_OK(prior_ckpt_match_check(want, 3, m, 0, "file x.pt", &r));
  CHECK(strcmp(prior_ckpt_match_summary(r), "") == 0);
  prior_ckpt_match_free(r);
  prior_ckpt_expect twice[] = {{"a.bias", 1, {3}}, {"a.bias", 1, {3}}};
  CHECK_ERR(prior_ckpt_match_new(twice, 2, m, &r), PRIOR_ERR_ARGUMENT, "lists \"a.bias\" twice");
  prior_ckpt_names_free(m);

  /* Long lists are shortened in the message but complete in the summary. */
  prior_ckpt_expect many[10];
  char names[10][16];
  for (int i = 0; i < 10; i++) {
    snprintf(names[i], sizeof names[i], "p%d", i);
    many[i] = (prior_ckpt_expect){names[i], 0, {0}};
  }
  CHECK_OK(prior_ckpt_names_new(NULL, 0, &m));
  CHECK_ERR(prior_ckpt_match_check(many, 10, m, 0, "model", &r), PRIOR_ERR_FORMAT,
            "10 missing (p0, p1, p2, p3, p4, p5 and 4 more)");
  CHECK_OK(prior_ckpt_match_new(many, 10, m, &r));
  CHECK(strstr(prior_ckpt_match_summary(r), "missing: p9\n") != NULL);
  prior_ckpt_match_free(r);
  prior_ckpt_names_free(m);
}

/* A Lightning checkpoint's "model." names fitted to the plain state dict of the same model. */
static void test_with_checkpoints(void) {
  prior_torchfile *lightning = NULL, *plain = NULL;
  CHECK_OK(prior_torchfile_open("tests/fixtures/torchfile/lightning.pt", NULL, &lightning));
  CHECK_OK(prior_torchfile_open("tests/fixtures/torchfile/ordered.pt", NULL, &plain));
  if (!lightning || !plain) return;
  size_t n = prior_torchfile_count(plain);
  prior_ckpt_expect *want = calloc(n, sizeof *want);
  for (size_t i = 0; i < n; i++) {
    const prior_ckpt_tensor *t = prior_torchfile_tensor(plain, i);
    want[i].name = t->name;
    want[i].ndim = t->ndim;
    memcpy(want[i].shape, t->shape, sizeof want[i].shape);
  }
  prior_ckpt_names *m = NULL;
  CHECK_OK(prior_ckpt_names_new(prior_torchfile_tensors(lightning), prior_torchfile_count(lightning), &m));
  prior_ckpt_match *r = NULL;
  CHECK_ERR(prior_ckpt_match_check(want, n, m, 0, "file lightning.pt", &r), PRIOR_ERR_FORMAT, "7 missing (0.weight");
  CHECK_OK(prior_ckpt_names_strip_prefix(m, "model.", NULL));
  CHECK_OK(prior_ckpt_match_check(want, n, m, 0, "file lightning.pt", &r));
  CHECK(prior_ckpt_match_source(r, 0) == prior_torchfile_find(lightning, "model.0.weight"));
  prior_ckpt_match_free(r);
  CHECK_OK(prior_ckpt_names_drop_num_batches_tracked(m, NULL));
  CHECK_ERR(prior_ckpt_match_check(want, n, m, 0, "file lightning.pt", &r), PRIOR_ERR_FORMAT,
            "1 missing (1.num_batches_tracked)");
  prior_ckpt_names_free(m);
  free(want);
  prior_torchfile_close(lightning);
  prior_torchfile_close(plain);
}

int main(void) {
  test_edits();
  test_rename();
  test_rgb();
  test_match();
  test_with_checkpoints();
  return check_summary("test_ckpt_names");
}
