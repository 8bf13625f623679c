/* ResNet (Bottleneck v1.5) with torchvision's parameter names and initialisation. */
#include "prior/nn_resnet.h"

#include <stdio.h>
#include <stdlib.h>

#include "prior/ops_elementwise.h"
#include "prior/ops_pool.h"

typedef struct bottleneck {
  prior_conv2d_layer conv1, conv2, conv3, down_conv;
  prior_batch_norm_layer bn1, bn2, bn3, down_bn;
  int has_downsample;
} bottleneck;

struct prior_resnet {
  prior_resnet_config config;
  prior_params *params;
  prior_conv2d_layer conv1;
  prior_batch_norm_layer bn1;
  bottleneck *blocks[4];
};

prior_resnet_config prior_resnet50_config(int64_t in_channels) {
  prior_resnet_config c = {{3, 4, 6, 3}, 64, in_channels};
  return c;
}

static prior_status bottleneck_init(bottleneck *b, prior_params *p, const char *prefix, int64_t inplanes,
                                    int64_t planes, int64_t stride) {
  char name[96];
  int64_t out = planes * 4;
#define SUB(x) (snprintf(name, sizeof name, "%s" x, prefix), name)
  PRIOR_TRY(prior_conv2d_layer_init(&b->conv1, p, SUB("conv1."), inplanes, planes, 1, 1, 0, 0, PRIOR_INIT_KAIMING_FAN_OUT));
  PRIOR_TRY(prior_batch_norm_layer_init(&b->bn1, p, SUB("bn1."), planes));
  PRIOR_TRY(prior_conv2d_layer_init(&b->conv2, p, SUB("conv2."), planes, planes, 3, stride, 1, 0, PRIOR_INIT_KAIMING_FAN_OUT));
  PRIOR_TRY(prior_batch_norm_layer_init(&b->bn2, p, SUB("bn2."), planes));
  PRIOR_TRY(prior_conv2d_layer_init(&b->conv3, p, SUB("conv3."), planes, out, 1, 1, 0, 0, PRIOR_INIT_KAIMING_FAN_OUT));
  PRIOR_TRY(prior_batch_norm_layer_init(&b->bn3, p, SUB("bn3."), out));
  b->has_downsample = stride != 1 || inplanes != out;
  if (b->has_downsample) {
    PRIOR_TRY(prior_conv2d_layer_init(&b->down_conv, p, SUB("downsample.0."), inplanes, out, 1, stride, 0, 0,
                                      PRIOR_INIT_KAIMING_FAN_OUT));
    PRIOR_TRY(prior_batch_norm_layer_init(&b->down_bn, p, SUB("downsample.1."), out));
  }
#undef SUB
  return PRIOR_OK;
}

/* conv -> bn (-> relu, fused with the bn): one step of a block. */
static prior_tensor *conv_bn(prior_conv2d_layer *conv, prior_batch_norm_layer *bn, prior_tensor *x, int training,
                             int relu) {
  prior_tensor *c = prior_conv2d_layer_forward(conv, x);
  prior_tensor *n = c ? (relu ? prior_batch_norm_layer_forward_relu : prior_batch_norm_layer_forward)(bn, c, training)
                      : NULL;
  prior_tensor_free(c);
  return n;
}

static prior_tensor *bottleneck_forward(bottleneck *b, prior_tensor *x, int training) {
  prior_tensor *h1 = conv_bn(&b->conv1, &b->bn1, x, training, 1);
  prior_tensor *h2 = h1 ? conv_bn(&b->conv2, &b->bn2, h1, training, 1) : NULL;
  prior_tensor *h3 = h2 ? conv_bn(&b->conv3, &b->bn3, h2, training, 0) : NULL;
  prior_tensor *identity = b->has_downsample ? (h3 ? conv_bn(&b->down_conv, &b->down_bn, x, training, 0) : NULL)
                                             : prior_tensor_retain(x);
  prior_tensor *sum = (h3 && identity) ? prior_add(h3, identity) : NULL;
  prior_tensor *out = sum ? prior_relu(sum) : NULL;
  prior_free_all(5, h1, h2, h3, identity, sum);
  return out;
}

prior_resnet *prior_resnet_new(const prior_resnet_config *config) {
  if (!config || config->width <= 0 || (config->in_channels != 1 && config->in_channels != 3)) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "resnet: width must be positive and in_channels 1 or 3 (got %lld, %lld)",
                    config ? (long long)config->width : 0LL, config ? (long long)config->in_channels : 0LL);
    return NULL;
  }
  prior_resnet *net = calloc(1, sizeof *net);
  if (!net) {
    prior_error_set(PRIOR_ERR_MEMORY, "out of memory creating a resnet");
    return NULL;
  }
  net->config = *config;
  net->params = prior_params_new();
  prior_status s = net->params ? PRIOR_OK : prior_error_code();
  if (s == PRIOR_OK)
    s = prior_conv2d_layer_init(&net->conv1, net->params, "conv1.", config->in_channels, config->width, 7, 2, 3, 0,
                                PRIOR_INIT_KAIMING_FAN_OUT);
  if (s == PRIOR_OK) s = prior_batch_norm_layer_init(&net->bn1, net->params, "bn1.", config->width);
  int64_t inplanes = config->width;
  for (int stage = 0; stage < 4 && s == PRIOR_OK; stage++) {
    int n = config->blocks[stage];
    if (n <= 0) {
      s = prior_error_set(PRIOR_ERR_ARGUMENT, "resnet: stage %d has %d blocks", stage + 1, n);
      break;
    }
    net->blocks[stage] = calloc((size_t)n, sizeof(bottleneck));
    if (!net->blocks[stage]) {
      s = prior_error_set(PRIOR_ERR_MEMORY, "out of memory creating resnet blocks");
      break;
    }
    int64_t planes = config->width << stage;
    for (int i = 0; i < n && s == PRIOR_OK; i++) {
      char prefix[64];
      snprintf(prefix, sizeof prefix, "layer%d.%d.", stage + 1, i);
      int64_t stride = (i == 0 && stage > 0) ? 2 : 1;
      s = bottleneck_init(&net->blocks[stage][i], net->params, prefix, inplanes, planes, stride);
      inplanes = planes * 4;
    }
  }
  if (s != PRIOR_OK) {
    prior_resnet_free(net);
    return NULL;
  }
  return net;
}

void prior_resnet_free(prior_resnet *net) {
  if (!net) return;
  for (int s = 0; s < 4; s++) free(net->blocks[s]);
  prior_params_free(net->params);
  free(net);
}

prior_params *prior_resnet_params(prior_resnet *net) { return net ? net->params : NULL; }
int64_t prior_resnet_out_channels(const prior_resnet *net) { return net->config.width * 8 * 4; }

prior_tensor *prior_resnet_forward(prior_resnet *net, prior_tensor *x, int training, prior_tensor **stages,
                                   prior_tensor **stem) {
  if (!net) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "resnet_forward: network is NULL");
    return NULL;
  }
  if (prior_check_ndim("resnet_forward", "x", x, 4) != PRIOR_OK) return NULL;
  if (x->shape[1] != net->config.in_channels) {
    char buf[128];
    prior_error_set(PRIOR_ERR_SHAPE, "resnet_forward: input of shape %s has %lld channels; the network takes %lld",
                    prior_tensor_shape_str(x, buf, sizeof buf), (long long)x->shape[1],
                    (long long)net->config.in_channels);
    return NULL;
  }
  if (stages)
    for (int i = 0; i < 4; i++) stages[i] = NULL;
  prior_tensor *h = conv_bn(&net->conv1, &net->bn1, x, training, 1);
  if (stem && h) *stem = prior_tensor_retain(h);
  prior_tensor *pooled = h ? prior_max_pool2d(h, 3, 3, 2, 2, 1, 1) : NULL;
  prior_tensor_free(h);
  h = pooled;
  for (int stage = 0; stage < 4 && h; stage++) {
    for (int i = 0; i < net->config.blocks[stage] && h; i++) {
      prior_tensor *next = bottleneck_forward(&net->blocks[stage][i], h, training);
      prior_tensor_free(h);
      h = next;
      if (h && prior_interrupt_check() != PRIOR_OK) {
        prior_tensor_free(h);
        h = NULL;
      }
    }
    if (stages && h) stages[stage] = prior_tensor_retain(h);
  }
  if (!h && stages)
    for (int i = 0; i < 4; i++) {
      prior_tensor_free(stages[i]);
      stages[i] = NULL;
    }
  return h;
}
