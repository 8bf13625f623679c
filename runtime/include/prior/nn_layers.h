/* Parameterised layers that the networks are built from. Each layer registers its tensors in a
 * prior_params list under PyTorch's names (prefix + "weight", ...); the layer keeps borrowed pointers,
 * the list owns them. A layer's `_forward` returns a new tensor or NULL with an error. */
#ifndef PRIOR_NN_LAYERS_H
#define PRIOR_NN_LAYERS_H

#include "prior/nn_params.h"

typedef enum prior_init_kind {
  PRIOR_INIT_TORCH_DEFAULT = 0, /* nn.Linear / nn.Conv2d defaults: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
  PRIOR_INIT_NORMAL = 1,        /* weight N(0, std^2), bias zero (BERT: std 0.02) */
  PRIOR_INIT_KAIMING_FAN_OUT = 2 /* torchvision ResNet convs: N(0, 2/fan_out), no bias */
} prior_init_kind;

typedef struct prior_linear_layer {
  prior_tensor *weight; /* [out, in] */
  prior_tensor *bias;   /* [out] or NULL */
} prior_linear_layer;

prior_status prior_linear_layer_init(prior_linear_layer *l, prior_params *p, const char *prefix, int64_t in_features,
                                     int64_t out_features, int bias, prior_init_kind init, double std);
prior_tensor *prior_linear_layer_forward(const prior_linear_layer *l, prior_tensor *x);

typedef struct prior_conv2d_layer {
  prior_tensor *weight, *bias;
  int64_t stride, padding, dilation, groups;
} prior_conv2d_layer;

prior_status prior_conv2d_layer_init(prior_conv2d_layer *l, prior_params *p, const char *prefix, int64_t in_channels,
                                     int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, int bias,
                                     prior_init_kind init);
prior_tensor *prior_conv2d_layer_forward(const prior_conv2d_layer *l, prior_tensor *x);

typedef struct prior_batch_norm_layer {
  prior_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
  double momentum, eps;
} prior_batch_norm_layer;

prior_status prior_batch_norm_layer_init(prior_batch_norm_layer *l, prior_params *p, const char *prefix, int64_t channels);
/* In training, batch statistics and a running-stat update (and num_batches_tracked += 1). */
prior_tensor *prior_batch_norm_layer_forward(prior_batch_norm_layer *l, prior_tensor *x, int training);
/* The layer followed by a ReLU (prior_batch_norm2d_relu; the two ops with synchronised statistics). */
prior_tensor *prior_batch_norm_layer_forward_relu(prior_batch_norm_layer *l, prior_tensor *x, int training);

typedef struct prior_layer_norm_layer {
  prior_tensor *weight, *bias;
  double eps;
} prior_layer_norm_layer;

prior_status prior_layer_norm_layer_init(prior_layer_norm_layer *l, prior_params *p, const char *prefix, int64_t dim,
                                         double eps);
prior_tensor *prior_layer_norm_layer_forward(const prior_layer_norm_layer *l, prior_tensor *x);

typedef struct prior_embedding_layer {
  prior_tensor *weight;
  int64_t padding_idx; /* -1: none */
} prior_embedding_layer;

prior_status prior_embedding_layer_init(prior_embedding_layer *l, prior_params *p, const char *prefix, int64_t num,
                                        int64_t dim, int64_t padding_idx, double std);
prior_tensor *prior_embedding_layer_forward(const prior_embedding_layer *l, prior_tensor *indices);

#endif
