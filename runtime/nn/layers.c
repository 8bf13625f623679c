/* The basic layers: registration with PyTorch names and default initialisation, and forward. */
#include "prior/dist.h"
#include "prior/nn_layers.h"

#include "prior/ops_conv.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_linalg.h"
#include "prior/ops_nn.h"
#include "prior/ops_norm.h"

/* Creates a f32 tensor, registers it, and returns a borrowed pointer (NULL on error). */
static prior_tensor *make_param(prior_params *p, const char *prefix, const char *name, int ndim, const int64_t *shape,
                                int is_buffer, prior_dtype dtype) {
  prior_tensor *t = prior_tensor_zeros(ndim, shape, dtype, prior_cpu());
  if (!t) return NULL;
  prior_status s = prior_params_add(p, prefix, name, t, is_buffer);
  prior_tensor_free(t); /* the list holds the reference */
  return s == PRIOR_OK ? t : NULL;
}

prior_status prior_linear_layer_init(prior_linear_layer *l, prior_params *p, const char *prefix, int64_t in_features,
                                     int64_t out_features, int bias, prior_init_kind init, double std) {
  if (in_features <= 0 || out_features <= 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "linear %s: sizes %lld -> %lld must be positive", prefix,
                           (long long)in_features, (long long)out_features);
  int64_t wshape[2] = {out_features, in_features};
  l->weight = make_param(p, prefix, "weight", 2, wshape, 0, PRIOR_F32);
  l->bias = bias ? make_param(p, prefix, "bias", 1, &out_features, 0, PRIOR_F32) : NULL;
  if (!l->weight || (bias && !l->bias)) return prior_error_code();
  if (init == PRIOR_INIT_NORMAL) return prior_init_normal(l->weight, std); /* bias stays zero */
  PRIOR_TRY(prior_init_uniform_fan_in(l->weight, in_features));
  return l->bias ? prior_init_uniform_fan_in(l->bias, in_features) : PRIOR_OK;
}

prior_tensor *prior_linear_layer_forward(const prior_linear_layer *l, prior_tensor *x) {
  return prior_linear(x, l->weight, l->bias);
}

prior_status prior_conv2d_layer_init(prior_conv2d_layer *l, prior_params *p, const char *prefix, int64_t in_channels,
                                     int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, int bias,
                                     prior_init_kind init) {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 || padding < 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "conv2d %s: bad sizes (in %lld, out %lld, kernel %lld, stride %lld)",
                           prefix, (long long)in_channels, (long long)out_channels, (long long)kernel,
                           (long long)stride);
  int64_t wshape[4] = {out_channels, in_channels, kernel, kernel};
  l->weight = make_param(p, prefix, "weight", 4, wshape, 0, PRIOR_F32);
  l->bias = bias ? make_param(p, prefix, "bias", 1, &out_channels, 0, PRIOR_F32) : NULL;
  l->stride = stride, l->padding = padding, l->dilation = 1, l->groups = 1;
  if (!l->weight || (bias && !l->bias)) return prior_error_code();
  int64_t fan_in = in_channels * kernel * kernel, fan_out = out_channels * kernel * kernel;
  if (init == PRIOR_INIT_KAIMING_FAN_OUT) {
    PRIOR_TRY(prior_init_kaiming_normal_fan_out(l->weight, fan_out));
    return PRIOR_OK;
  }
  PRIOR_TRY(prior_init_uniform_fan_in(l->weight, fan_in));
  return l->bias ? prior_init_uniform_fan_in(l->bias, fan_in) : PRIOR_OK;
}

prior_tensor *prior_conv2d_layer_forward(const prior_conv2d_layer *l, prior_tensor *x) {
  return prior_conv2d(x, l->weight, l->bias, l->stride, l->stride, l->padding, l->padding, l->dilation, l->dilation,
                      l->groups);
}

prior_status prior_batch_norm_layer_init(prior_batch_norm_layer *l, prior_params *p, const char *prefix, int64_t channels) {
  l->weight = make_param(p, prefix, "weight", 1, &channels, 0, PRIOR_F32);
  l->bias = make_param(p, prefix, "bias", 1, &channels, 0, PRIOR_F32);
  l->running_mean = make_param(p, prefix, "running_mean", 1, &channels, 1, PRIOR_F32);
  l->running_var = make_param(p, prefix, "running_var", 1, &channels, 1, PRIOR_F32);
  l->num_batches_tracked = make_param(p, prefix, "num_batches_tracked", 0, NULL, 1, PRIOR_I64);
  l->momentum = 0.1;
  l->eps = 1e-5;
  if (!l->weight || !l->bias || !l->running_mean || !l->running_var || !l->num_batches_tracked) return prior_error_code();
  PRIOR_TRY(prior_tensor_fill_(l->weight, 1.0));
  return prior_tensor_fill_(l->running_var, 1.0);
}

/* relu: followed by a ReLU, fused where the op can (not with statistics synchronised across processes). */
static prior_tensor *batch_norm_layer(prior_batch_norm_layer *l, prior_tensor *x, int training, int relu) {
  prior_tensor *out;
  if (training && prior_dist_sync_batch_norm_active()) {
    /* with several processes, training statistics are the global batch's (prior/dist.h), as the reference's */
    prior_tensor *n = prior_dist_sync_batch_norm2d(x, l->running_mean, l->running_var, l->weight, l->bias, l->momentum,
                                                   l->eps);
    out = n && relu ? prior_relu(n) : prior_tensor_retain(n);
    prior_tensor_free(n);
  } else if (relu) {
    out = prior_batch_norm2d_relu(x, l->running_mean, l->running_var, l->weight, l->bias, training, l->momentum, l->eps);
  } else {
    out = prior_batch_norm2d(x, l->running_mean, l->running_var, l->weight, l->bias, training, l->momentum, l->eps);
  }
  if (out && training) {
    double n;
    prior_tensor_item(l->num_batches_tracked, &n);
    prior_tensor_fill_(l->num_batches_tracked, n + 1);
  }
  return out;
}

prior_tensor *prior_batch_norm_layer_forward(prior_batch_norm_layer *l, prior_tensor *x, int training) {
  return batch_norm_layer(l, x, training, 0);
}

prior_tensor *prior_batch_norm_layer_forward_relu(prior_batch_norm_layer *l, prior_tensor *x, int training) {
  return batch_norm_layer(l, x, training, 1);
}

prior_status prior_layer_norm_layer_init(prior_layer_norm_layer *l, prior_params *p, const char *prefix, int64_t dim,
                                         double eps) {
  l->weight = make_param(p, prefix, "weight", 1, &dim, 0, PRIOR_F32);
  l->bias = make_param(p, prefix, "bias", 1, &dim, 0, PRIOR_F32);
  l->eps = eps;
  if (!l->weight || !l->bias) return prior_error_code();
  return prior_tensor_fill_(l->weight, 1.0);
}

prior_tensor *prior_layer_norm_layer_forward(const prior_layer_norm_layer *l, prior_tensor *x) {
  return prior_layer_norm(x, 1, l->weight, l->bias, l->eps);
}

prior_status prior_embedding_layer_init(prior_embedding_layer *l, prior_params *p, const char *prefix, int64_t num,
                                        int64_t dim, int64_t padding_idx, double std) {
  int64_t shape[2] = {num, dim};
  l->weight = make_param(p, prefix, "weight", 2, shape, 0, PRIOR_F32);
  l->padding_idx = padding_idx;
  if (!l->weight) return prior_error_code();
  PRIOR_TRY(prior_init_normal(l->weight, std));
  if (padding_idx >= 0 && padding_idx < num) {
    for (int64_t j = 0; j < dim; j++) PRIOR_TRY(prior_tensor_set(l->weight, (int64_t[]){padding_idx, j}, 0.0));
  }
  return PRIOR_OK;
}

prior_tensor *prior_embedding_layer_forward(const prior_embedding_layer *l, prior_tensor *indices) {
  return prior_embedding(l->weight, indices, l->padding_idx);
}
