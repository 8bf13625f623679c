/* Checkpoint round trips with PyTorch (run by tests/c/run_torch_roundtrip.sh, which has torch make the inputs and
 * check the outputs):
 *   torch_roundtrip load PTH X OUT.safetensors STEM
 * loads a torchvision ResNet50 state dict saved by torch.save (PTH) into our ResNet50 (3 input channels, or 1 with
 * STEM = "gray": the RGB stem summed), runs eval-mode forward on the input X (a safetensors file with "x"), and
 * writes our parameters plus the output ("output.layer4") to OUT, for torch to load with strict=True and compare. */
#include <stdio.h>
#include <string.h>

#include "prior/prior.h"

static int fail(const char *what) {
  fprintf(stderr, "torch_roundtrip: %s: %s\n", what, prior_error_message());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 6 || strcmp(argv[1], "load") != 0) {
    fprintf(stderr, "usage: torch_roundtrip load PTH X OUT.safetensors rgb|gray\n");
    return 2;
  }
  int gray = strcmp(argv[5], "gray") == 0;
  prior_resnet_config cfg = prior_resnet50_config(gray ? 1 : 3);
  prior_resnet *net = prior_resnet_new(&cfg);
  if (!net) return fail("resnet");
  prior_load_options o = prior_load_options_default();
  o.drop_prefixes = "fc.";
  o.sum_rgb_stem = gray;
  prior_load_report rep;
  if (prior_params_load(prior_resnet_params(net), argv[2], &o, &rep) != PRIOR_OK) return fail("loading the .pth");
  printf("loaded %d tensors (missing %d, unexpected %d)\n", rep.loaded, rep.missing, rep.unexpected);
  prior_safetensors *st = NULL;
  if (prior_safetensors_open(argv[3], &st) != PRIOR_OK) return fail("input");
  const prior_ckpt_tensor *r = prior_safetensors_find(st, "x");
  if (!r) {
    fprintf(stderr, "torch_roundtrip: no tensor x in %s\n", argv[3]);
    return 1;
  }
  int64_t shape[4];
  for (int d = 0; d < 4; d++) shape[d] = r->shape[d];
  prior_tensor *x = prior_tensor_from_data(r->data, 4, shape, PRIOR_F32, prior_cpu());
  prior_set_grad_enabled(0);
  prior_tensor *y = x ? prior_resnet_forward(net, x, 0, NULL, NULL) : NULL;
  if (!y) return fail("forward");
  prior_params *out = prior_params_new();
  if (prior_params_extend(out, "", prior_resnet_params(net)) != PRIOR_OK ||
      prior_params_add(out, "", "output.layer4", y, 1) != PRIOR_OK)
    return fail("collecting");
  if (prior_params_save(out, argv[4], 0, NULL, NULL) != PRIOR_OK) return fail("saving");
  prior_params_free(out);
  prior_free_all(2, x, y);
  prior_safetensors_close(st);
  prior_resnet_free(net);
  return 0;
}
