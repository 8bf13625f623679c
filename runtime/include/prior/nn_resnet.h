/* ResNet with Bottleneck v1.5 blocks (torchvision's: the stride sits on the 3x3 conv), sized by a config so one
 * code path serves ResNet50 ({3,4,6,3}, width 64) and narrow variants for tests and the tiny preset. Stops after
 * layer4 (no pooling, no fc): PRIOR uses the final feature map. Parameter names are torchvision's. */
#ifndef PRIOR_NN_RESNET_H
#define PRIOR_NN_RESNET_H

#include "prior/nn_layers.h"

typedef struct prior_resnet_config {
  int32_t blocks[4];   /* Bottleneck blocks per stage: {3, 4, 6, 3} for ResNet50 */
  int64_t width;       /* channels after conv1; stage s has width * 2^s planes, x4 out: 64 for ResNet50 */
  int64_t in_channels; /* 1 (radiographs) or 3 */
} prior_resnet_config;

typedef struct prior_resnet prior_resnet;

prior_resnet_config prior_resnet50_config(int64_t in_channels);
prior_resnet *prior_resnet_new(const prior_resnet_config *config);
void prior_resnet_free(prior_resnet *net);
prior_params *prior_resnet_params(prior_resnet *net); /* borrowed */
int64_t prior_resnet_out_channels(const prior_resnet *net); /* width * 8 * 4: 2048 for ResNet50 */
/* x [N, in_channels, H, W] -> layer4's map [N, out_channels, H/32, W/32]. When stages is not NULL, stages[0..3]
 * receive new references to the outputs of layer1..layer4 (for U-Net and FPN); stem (may be NULL) the output of
 * relu(bn1(conv1)) before max pooling. training selects batch statistics in batch norm. */
prior_tensor *prior_resnet_forward(prior_resnet *net, prior_tensor *x, int training, prior_tensor **stages,
                                   prior_tensor **stem);

#endif
