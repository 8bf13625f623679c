/* "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weights" on the GPU through cuDNN.
 *
 * Each (direction, shapes, parameters, data type) gets its algorithm once, from cudnnFind* (which times the
 * candidates), and the choice is cached for the life of the process: a training loop pays the search on its
 * first step only. Workspaces come from the caching allocator. f32 runs in f32 (no TF32: comparable with
 * the CPU); under autocast (prior/amp.h) f32 convolutions run with bf16 inputs, f32 accumulation and a bf16
 * result converted to the f32 output, cuDNN's supported bf16 configuration. f64 runs in f64. */
#include <cudnn.h>
#include <pthread.h>
#include <string.h>

extern "C" {
#include "prior/amp.h"
}
#include "backend/cuda/cuda_internal.cuh"
#include "backend/cuda/dense_kernels.cuh"

static pthread_mutex_t conv_lock = PTHREAD_MUTEX_INITIALIZER;
static cudnnHandle_t handles[PRIOR_CUDA_MAX_DEVICES];

static prior_status dnn_check(cudnnStatus_t st, const char *what) {
  if (st == CUDNN_STATUS_SUCCESS) return PRIOR_OK;
  return prior_error_set(PRIOR_ERR_DEVICE, "%s: cuDNN error %s", what, cudnnGetErrorString(st));
}

static prior_status handle_of(prior_device device, cudnnHandle_t *out) {
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(device, &stream));
  pthread_mutex_lock(&conv_lock);
  prior_status s = PRIOR_OK;
  if (!handles[device.index]) {
    s = dnn_check(cudnnCreate(&handles[device.index]), "creating the cuDNN handle");
    if (s == PRIOR_OK) s = dnn_check(cudnnSetStream(handles[device.index], stream), "binding cuDNN to the stream");
  }
  *out = handles[device.index];
  pthread_mutex_unlock(&conv_lock);
  return s;
}

/* ---- the algorithm cache ---- */

enum { DIR_FORWARD, DIR_DATA, DIR_FILTER };

struct algo_key {
  int dir, device, dtype, bf16;
  int64_t x[4], w[4], y[4], stride[2], pad[2], dilation[2], groups;
};

struct algo_entry {
  algo_key key;
  int algo;
  size_t workspace;
  algo_entry *next;
};

static algo_entry *algo_cache; /* a list: a network has tens of distinct convolutions */

static int lookup(const algo_key *k, int *algo, size_t *ws) {
  pthread_mutex_lock(&conv_lock);
  for (algo_entry *e = algo_cache; e; e = e->next)
    if (memcmp(&e->key, k, sizeof *k) == 0) {
      *algo = e->algo, *ws = e->workspace;
      pthread_mutex_unlock(&conv_lock);
      return 1;
    }
  pthread_mutex_unlock(&conv_lock);
  return 0;
}

static void remember(const algo_key *k, int algo, size_t ws) {
  algo_entry *e = (algo_entry *)calloc(1, sizeof *e);
  if (!e) return; /* searched again next time */
  e->key = *k, e->algo = algo, e->workspace = ws;
  pthread_mutex_lock(&conv_lock);
  e->next = algo_cache;
  algo_cache = e;
  pthread_mutex_unlock(&conv_lock);
}

/* ---- descriptors ---- */

struct conv_descs {
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
};

static void descs_free(conv_descs *d) {
  if (d->x) cudnnDestroyTensorDescriptor(d->x);
  if (d->y) cudnnDestroyTensorDescriptor(d->y);
  if (d->w) cudnnDestroyFilterDescriptor(d->w);
  if (d->conv) cudnnDestroyConvolutionDescriptor(d->conv);
}

static prior_status descs_make(conv_descs *d, const int64_t *x, const int64_t *w, const int64_t *y,
                               const prior_conv2d_params *p, cudnnDataType_t io, cudnnDataType_t compute) {
  memset(d, 0, sizeof *d);
  for (int i = 0; i < 4; i++)
    if (x[i] > INT32_MAX || w[i] > INT32_MAX || y[i] > INT32_MAX)
      return prior_error_set(PRIOR_ERR_SHAPE, "conv2d on cuda: sizes beyond cuDNN's 32-bit limits");
  const char *what = "conv2d on cuda: descriptors";
  PRIOR_TRY(dnn_check(cudnnCreateTensorDescriptor(&d->x), what));
  PRIOR_TRY(dnn_check(cudnnCreateTensorDescriptor(&d->y), what));
  PRIOR_TRY(dnn_check(cudnnCreateFilterDescriptor(&d->w), what));
  PRIOR_TRY(dnn_check(cudnnCreateConvolutionDescriptor(&d->conv), what));
  PRIOR_TRY(dnn_check(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, io, (int)x[0], (int)x[1], (int)x[2], (int)x[3]), what));
  PRIOR_TRY(dnn_check(cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, io, (int)y[0], (int)y[1], (int)y[2], (int)y[3]), what));
  PRIOR_TRY(dnn_check(cudnnSetFilter4dDescriptor(d->w, io, CUDNN_TENSOR_NCHW, (int)w[0], (int)w[1], (int)w[2], (int)w[3]), what));
  PRIOR_TRY(dnn_check(cudnnSetConvolution2dDescriptor(d->conv, (int)p->pad[0], (int)p->pad[1], (int)p->stride[0],
                                                      (int)p->stride[1], (int)p->dilation[0], (int)p->dilation[1],
                                                      CUDNN_CROSS_CORRELATION, compute),
                      what));
  PRIOR_TRY(dnn_check(cudnnSetConvolutionGroupCount(d->conv, (int)p->groups), what));
  /* strict f32 keeps tensor-core math off (TF32); bf16 uses tensor cores */
  PRIOR_TRY(dnn_check(cudnnSetConvolutionMathType(d->conv, io == CUDNN_DATA_BFLOAT16 ? CUDNN_TENSOR_OP_MATH
                                                                                    : CUDNN_FMA_MATH),
                      what));
  return PRIOR_OK;
}

/* A device scratch buffer from the caching allocator (NULL for 0 bytes). */
static prior_tensor *scratch(prior_device dev, size_t bytes) {
  if (!bytes) return NULL;
  int64_t n = (int64_t)bytes;
  return prior_tensor_empty(1, &n, PRIOR_U8, dev);
}

/* Operands converted for the run: bf16 copies under autocast, the tensors themselves otherwise. */
struct run_io {
  prior_tensor *t[3];
  int owned[3];
};

static prior_status run_prepare(run_io *io, const prior_tensor *const *in, int n, int bf16) {
  memset(io, 0, sizeof *io);
  for (int i = 0; i < n; i++) {
    if (!in[i]) continue;
    if (bf16) {
      io->t[i] = prior_tensor_to_dtype_raw(in[i], PRIOR_BF16);
      io->owned[i] = 1;
    } else {
      io->t[i] = (prior_tensor *)in[i];
    }
    if (!io->t[i]) return prior_error_code();
  }
  return PRIOR_OK;
}

static void run_release(run_io *io) {
  for (int i = 0; i < 3; i++)
    if (io->owned[i]) prior_tensor_free(io->t[i]);
}

static int use_bf16(const prior_tensor *t) { return t->dtype == PRIOR_F32 && prior_autocast_enabled(); }

static prior_status check_dtypes(const char *op, const prior_tensor *a, const prior_tensor *b) {
  if ((a->dtype != PRIOR_F32 && a->dtype != PRIOR_F64) || a->dtype != b->dtype)
    return prior_error_set(PRIOR_ERR_DTYPE, "%s on cuda: f32 or f64 tensors of one dtype, got %s and %s", op,
                           prior_dtype_name((prior_dtype)a->dtype), prior_dtype_name((prior_dtype)b->dtype));
  return PRIOR_OK;
}

static algo_key make_key(int dir, const prior_tensor *x, const prior_tensor *w, const prior_tensor *y,
                         const prior_conv2d_params *p, int bf16) {
  algo_key k;
  memset(&k, 0, sizeof k);
  k.dir = dir, k.device = x->device.index, k.dtype = x->dtype, k.bf16 = bf16;
  memcpy(k.x, x->shape, sizeof k.x), memcpy(k.w, w->shape, sizeof k.w), memcpy(k.y, y->shape, sizeof k.y);
  memcpy(k.stride, p->stride, sizeof k.stride), memcpy(k.pad, p->pad, sizeof k.pad);
  memcpy(k.dilation, p->dilation, sizeof k.dilation);
  k.groups = p->groups;
  return k;
}

/* One convolution in direction dir. x, w, y are the shapes' owners: for DIR_DATA y is the output gradient
 * and x the input gradient; for DIR_FILTER w is the weight gradient. */
static prior_status conv_run(int dir, prior_tensor *x, prior_tensor *w, prior_tensor *y, const prior_conv2d_params *p) {
  const char *what = dir == DIR_FORWARD ? "conv2d forward on cuda" : dir == DIR_DATA ? "conv2d backward data on cuda"
                                                                                      : "conv2d backward weights on cuda";
  cudnnHandle_t h;
  PRIOR_TRY(handle_of(x->device, &h));
  if (prior_tensor_numel(x) == 0 || prior_tensor_numel(y) == 0 || prior_tensor_numel(w) == 0) {
    prior_tensor *out = dir == DIR_FORWARD ? y : dir == DIR_DATA ? x : w;
    return prior_tensor_fill_(out, 0.0);
  }
  int bf16 = use_bf16(x);
  cudnnDataType_t io_type = bf16 ? CUDNN_DATA_BFLOAT16 : x->dtype == PRIOR_F64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  cudnnDataType_t compute = x->dtype == PRIOR_F64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  /* inputs of this direction in bf16 under autocast; the output is computed in bf16 and converted */
  const prior_tensor *ins[3] = {dir == DIR_DATA ? NULL : x, dir == DIR_FILTER ? NULL : w, dir == DIR_FORWARD ? NULL : y};
  run_io io;
  prior_status s = run_prepare(&io, ins, 3, bf16);
  prior_tensor *out = dir == DIR_FORWARD ? y : dir == DIR_DATA ? x : w, *out_run = out;
  if (s == PRIOR_OK && bf16) {
    out_run = prior_tensor_empty(out->ndim, out->shape, PRIOR_BF16, out->device);
    if (!out_run) s = prior_error_code();
  }
  conv_descs d;
  memset(&d, 0, sizeof d);
  if (s == PRIOR_OK) s = descs_make(&d, x->shape, w->shape, y->shape, p, io_type, compute);
  algo_key key = make_key(dir, x, w, y, p, bf16);
  int algo = 0;
  size_t ws = 0;
  if (s == PRIOR_OK && !lookup(&key, &algo, &ws)) {
    int found = 0;
    if (dir == DIR_FORWARD) {
      cudnnConvolutionFwdAlgoPerf_t perf[8];
      s = dnn_check(cudnnFindConvolutionForwardAlgorithm(h, d.x, d.w, d.conv, d.y, 8, &found, perf), what);
      for (int i = 0; s == PRIOR_OK && i < found; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) {
          algo = perf[i].algo, ws = perf[i].memory;
          break;
        }
    } else if (dir == DIR_DATA) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[8];
      s = dnn_check(cudnnFindConvolutionBackwardDataAlgorithm(h, d.w, d.y, d.conv, d.x, 8, &found, perf), what);
      for (int i = 0; s == PRIOR_OK && i < found; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) {
          algo = perf[i].algo, ws = perf[i].memory;
          break;
        }
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[8];
      s = dnn_check(cudnnFindConvolutionBackwardFilterAlgorithm(h, d.x, d.y, d.conv, d.w, 8, &found, perf), what);
      for (int i = 0; s == PRIOR_OK && i < found; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) {
          algo = perf[i].algo, ws = perf[i].memory;
          break;
        }
    }
    if (s == PRIOR_OK && !found) s = prior_error_set(PRIOR_ERR_UNSUPPORTED, "%s: cuDNN has no algorithm", what);
    if (s == PRIOR_OK) remember(&key, algo, ws);
  }
  prior_tensor *work = NULL;
  if (s == PRIOR_OK && ws) {
    work = scratch(x->device, ws);
    if (!work) s = prior_error_code();
  }
  if (s == PRIOR_OK) {
    double one64 = 1, zero64 = 0;
    float one32 = 1, zero32 = 0;
    const void *one = x->dtype == PRIOR_F64 ? (const void *)&one64 : (const void *)&one32;
    const void *zero = x->dtype == PRIOR_F64 ? (const void *)&zero64 : (const void *)&zero32;
    void *wsp = work ? cu_data(work) : NULL;
    if (dir == DIR_FORWARD)
      s = dnn_check(cudnnConvolutionForward(h, one, d.x, cu_data(io.t[0]), d.w, cu_data(io.t[1]), d.conv,
                                            (cudnnConvolutionFwdAlgo_t)algo, wsp, ws, zero, d.y, cu_data(out_run)),
                    what);
    else if (dir == DIR_DATA)
      s = dnn_check(cudnnConvolutionBackwardData(h, one, d.w, cu_data(io.t[1]), d.y, cu_data(io.t[2]), d.conv,
                                                 (cudnnConvolutionBwdDataAlgo_t)algo, wsp, ws, zero, d.x,
                                                 cu_data(out_run)),
                    what);
    else
      s = dnn_check(cudnnConvolutionBackwardFilter(h, one, d.x, cu_data(io.t[0]), d.y, cu_data(io.t[2]), d.conv,
                                                   (cudnnConvolutionBwdFilterAlgo_t)algo, wsp, ws, zero, d.w,
                                                   cu_data(out_run)),
                    what);
  }
  if (s == PRIOR_OK && out_run != out) s = prior_tensor_copy_(out, out_run);
  descs_free(&d);
  run_release(&io);
  if (out_run != out) prior_tensor_free(out_run);
  prior_tensor_free(work);
  return s;
}

/* ---- bias: added per output channel, and its gradient summed over N, H, W ---- */

template <typename T>
__global__ void add_bias_kernel(T *y, const T *b, int64_t n, int64_t channels, int64_t plane) {
  CU_GRID_LOOP(i, n) y[i] += b[(i / plane) % channels];
}

static prior_status cuda_conv2d_forward(prior_tensor *out, const prior_tensor *x, const prior_tensor *w,
                                        const prior_tensor *bias, const prior_conv2d_params *p) {
  PRIOR_TRY(check_dtypes("conv2d", x, w));
  PRIOR_TRY(conv_run(DIR_FORWARD, (prior_tensor *)x, (prior_tensor *)w, out, p));
  if (!bias) return PRIOR_OK;
  cudaStream_t stream;
  PRIOR_TRY(cu_enter(out->device, &stream));
  int64_t n = prior_tensor_numel(out), plane = out->shape[2] * out->shape[3];
  if (n == 0) return PRIOR_OK;
  if (out->dtype == PRIOR_F32)
    add_bias_kernel<float><<<cu_blocks(n, 256), 256, 0, stream>>>((float *)cu_data(out), (const float *)cu_data(bias),
                                                                  n, out->shape[1], plane);
  else
    add_bias_kernel<double><<<cu_blocks(n, 256), 256, 0, stream>>>((double *)cu_data(out),
                                                                   (const double *)cu_data(bias), n, out->shape[1],
                                                                   plane);
  return cu_check_launch("conv2d bias on the GPU");
}

static prior_status cuda_conv2d_backward_data(prior_tensor *gx, const prior_tensor *g, const prior_tensor *w,
                                              const prior_conv2d_params *p) {
  PRIOR_TRY(check_dtypes("conv2d backward", g, w));
  return conv_run(DIR_DATA, gx, (prior_tensor *)w, (prior_tensor *)g, p);
}

static prior_status cuda_conv2d_backward_weights(prior_tensor *gw, prior_tensor *gb, const prior_tensor *x,
                                                 const prior_tensor *g, const prior_conv2d_params *p) {
  PRIOR_TRY(check_dtypes("conv2d backward", x, g));
  PRIOR_TRY(conv_run(DIR_FILTER, (prior_tensor *)x, gw, (prior_tensor *)g, p));
  if (!gb) return PRIOR_OK;
  /* the bias gradient: g summed over N, H, W through the reduce kernel */
  typedef prior_status (*reduce_fn)(prior_tensor *, prior_tensor *, const prior_tensor *, uint32_t, int);
  reduce_fn reduce = (reduce_fn)prior_backend_kernel(PRIOR_DEVICE_CUDA, "reduce");
  if (!reduce) return prior_error_set(PRIOR_ERR_INTERNAL, "conv2d backward on cuda: no reduce kernel");
  int64_t shape[4] = {1, g->shape[1], 1, 1}, strides[4] = {g->shape[1], 1, 1, 1};
  prior_tensor *view = prior_tensor_as_strided(gb, 4, shape, strides, gb->offset);
  if (!view) return prior_error_code();
  prior_status s = reduce(view, NULL, g, 1u | 4u | 8u, PRIOR_REDUCE_SUM);
  prior_tensor_free(view);
  return s;
}

#if PRIOR_HAVE_KERNELS_DENSE
#include <type_traits>
static_assert(std::is_same<decltype(&cuda_conv2d_forward), prior_conv2d_forward_kernel>::value, "conv2d_forward");
static_assert(std::is_same<decltype(&cuda_conv2d_backward_data), prior_conv2d_backward_data_kernel>::value,
              "conv2d_backward_data");
static_assert(std::is_same<decltype(&cuda_conv2d_backward_weights), prior_conv2d_backward_weights_kernel>::value,
              "conv2d_backward_weights");
#endif

__attribute__((constructor)) static void register_cuda_conv(void) {
  cu_register("conv2d_forward", (prior_kernel_fn)cuda_conv2d_forward);
  cu_register("conv2d_backward_data", (prior_kernel_fn)cuda_conv2d_backward_data);
  cu_register("conv2d_backward_weights", (prior_kernel_fn)cuda_conv2d_backward_weights);
}
