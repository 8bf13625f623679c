/* The whole public C API. */
#ifndef PRIOR_PRIOR_H
#define PRIOR_PRIOR_H

#include "prior/error.h"
#include "prior/dtype.h"
#include "prior/device.h"
#include "prior/alloc.h"
#include "prior/rng.h"
#include "prior/tensor.h"
#include "prior/autograd.h"
#include "prior/ops_elementwise.h"
#include "prior/ops_reduce.h"
#include "prior/ops_shape.h"
#include "prior/ops_linalg.h"
#include "prior/ops_conv.h"
#include "prior/ops_norm.h"
#include "prior/ops_pool.h"
#include "prior/ops_nn.h"
#include "prior/ops_index.h"
#include "prior/ops_loss.h"
#include "prior/optim.h"

#endif
