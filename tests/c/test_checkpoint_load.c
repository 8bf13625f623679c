/* Loading and saving parameters: a saved list loads back exactly; a missing file, a missing name, an unexpected
 * name and a shape mismatch are errors naming them, and a failed strict load leaves the parameters untouched;
 * lenient loading takes what matches and reports the rest; a truncated file is refused. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "prior/nn_checkpoint.h"
#include "prior/nn_layers.h"
#include "prior/prior.h"

static prior_params *make(int64_t in, int64_t out) {
  prior_params *p = prior_params_new();
  prior_linear_layer l;
  prior_linear_layer_init(&l, p, "proj.", in, out, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
  return p;
}

static double first(prior_params *p, const char *name) {
  double v = 0;
  int64_t idx[2] = {0, 0};
  prior_tensor_get(prior_params_tensor(p, prior_params_find(p, name)), idx, &v);
  return v;
}

int main(void) {
  char dir[] = "/tmp/prior_ckptload_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256], bad[256];
  snprintf(path, sizeof path, "%s/a.safetensors", dir);
  snprintf(bad, sizeof bad, "%s/truncated.safetensors", dir);
  prior_rng_seed(1);
  prior_params *a = make(4, 3);
  CHECK_OK(prior_params_save(a, path, 0, NULL, NULL));

  prior_params *b = make(4, 3); /* different random init */
  prior_load_report rep;
  CHECK_OK(prior_params_load(b, path, NULL, &rep));
  CHECK(rep.loaded == 2 && rep.missing == 0 && rep.unexpected == 0);
  CHECK(first(a, "proj.weight") == first(b, "proj.weight"));

  CHECK_ERR(prior_params_load(b, "/nonexistent/x.safetensors", NULL, NULL), PRIOR_ERR_IO, "cannot open");

  /* shape mismatch: strict fails and touches nothing; lenient loads nothing of that name and says so */
  prior_params *c = make(5, 3);
  double before = first(c, "proj.weight");
  CHECK_ERR(prior_params_load(c, path, NULL, &rep), PRIOR_ERR_SHAPE, "proj.weight");
  CHECK(first(c, "proj.weight") == before);
  prior_load_options o = prior_load_options_default();
  o.lenient = 1;
  CHECK_OK(prior_params_load(c, path, &o, &rep));
  CHECK(rep.mismatched == 1 && rep.loaded == 1 && strstr(rep.summary, "proj.weight"));
  CHECK(first(c, "proj.weight") == before);

  /* names: a model expecting another prefix misses both; prefix mapping fixes it */
  prior_params *d = prior_params_new();
  prior_linear_layer l;
  prior_linear_layer_init(&l, d, "head.", 4, 3, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
  CHECK_ERR(prior_params_load(d, path, NULL, &rep), PRIOR_ERR_FORMAT, "head.weight");
  o = prior_load_options_default();
  o.strip_prefixes = "proj.";
  o.add_prefix = "head.";
  CHECK_OK(prior_params_load(d, path, &o, &rep));
  CHECK(first(d, "head.weight") == first(a, "proj.weight"));

  /* rename rules and loading a part of the model only */
  prior_params *e = prior_params_new();
  prior_linear_layer le, lo;
  prior_linear_layer_init(&le, e, "enc.", 4, 3, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
  prior_linear_layer_init(&lo, e, "other.", 2, 2, 1, PRIOR_INIT_TORCH_DEFAULT, 0);
  double other = first(e, "other.weight");
  o = prior_load_options_default();
  o.rename = "proj.=enc.";
  CHECK_ERR(prior_params_load(e, path, &o, &rep), PRIOR_ERR_FORMAT, "2 missing (other.weight, other.bias)");
  o.only_prefixes = "enc.,nothing.";
  CHECK_OK(prior_params_load(e, path, &o, &rep));
  CHECK(rep.loaded == 2 && rep.missing == 0 && first(e, "enc.weight") == first(a, "proj.weight"));
  CHECK(first(e, "other.weight") == other);
  o.only_prefixes = "absent.";
  CHECK_ERR(prior_params_load(e, path, &o, &rep), PRIOR_ERR_ARGUMENT, "no entries under 'absent.'");
  o.only_prefixes = "enc.";
  o.rename = "proj";
  CHECK_ERR(prior_params_load(e, path, &o, &rep), PRIOR_ERR_ARGUMENT, "not of the form from=to");
  /* a [1, 3, 4] tensor for a [3, 4] parameter: refused unless squeezed */
  char path3[256];
  snprintf(path3, sizeof path3, "%s/lead.safetensors", dir);
  prior_params *f = prior_params_new();
  prior_tensor *w3 = prior_tensor_randn(3, (int64_t[]){1, 3, 4}, PRIOR_F32, prior_cpu());
  CHECK(w3 && prior_params_add(f, "enc.", "weight", w3, 0) == PRIOR_OK);
  CHECK_OK(prior_params_save(f, path3, 0, NULL, NULL));
  o = prior_load_options_default();
  o.only_prefixes = "enc.weight";
  CHECK_ERR(prior_params_load(e, path3, &o, &rep), PRIOR_ERR_SHAPE, "enc.weight model [3, 4] checkpoint [1, 3, 4]");
  o.squeeze_leading_ones = 1;
  CHECK_OK(prior_params_load(e, path3, &o, &rep));
  double v = 0;
  CHECK_OK(prior_tensor_get(w3, (int64_t[]){0, 0, 0}, &v));
  CHECK(rep.loaded == 1 && first(e, "enc.weight") == v);
  prior_tensor_free(w3);
  prior_params_free(e), prior_params_free(f);
  remove(path3);

  /* a truncated file is refused, not read past its end */
  FILE *in = fopen(path, "rb"), *out = fopen(bad, "wb");
  char buf[64];
  size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
  if (out) fwrite(buf, 1, n, out);
  if (in) fclose(in);
  if (out) fclose(out);
  prior_error_clear();
  CHECK(prior_params_load(b, bad, NULL, NULL) != PRIOR_OK && strstr(prior_error_message(), "truncated.safetensors"));

  prior_params_free(a), prior_params_free(b), prior_params_free(c), prior_params_free(d);
  remove(path), remove(bad), rmdir(dir);
  return check_summary("test_checkpoint_load");
}
