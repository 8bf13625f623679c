/* Data-parallel collectives over MPI (prior/dist.h). Only the main thread calls MPI (MPI_THREAD_FUNNELED): the
 * collectives run where the training loop runs, and OpenMP/oneDNN threads never touch MPI. Without MPI compiled in
 * (PRIOR_WITH_MPI undefined) the world is one process and every collective is the identity. */
#include <limits.h>
#include <string.h>

#include "ops/op_util.h"
#include "prior/autograd.h"
#include "prior/dist.h"
#include "prior/ops_shape.h"

#ifdef PRIOR_WITH_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1, joined = 0;

int prior_dist_available(void) {
#ifdef PRIOR_WITH_MPI
  return 1;
#else
  return 0;
#endif
}

int prior_dist_rank(void) { return dist_rank; }
int prior_dist_size(void) { return dist_size; }

#ifdef PRIOR_WITH_MPI
static prior_status mpi_status(const char *what, int rc) {
  if (rc == MPI_SUCCESS) return PRIOR_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return prior_error_set(PRIOR_ERR_IO, "dist: %s failed on rank %d of %d: %.*s", what, dist_rank, dist_size, len, text);
}
#endif

prior_status prior_dist_init(void) {
#ifdef PRIOR_WITH_MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    PRIOR_TRY(mpi_status("MPI_Init_thread", MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)));
    joined = 1;
  }
  /* A failing collective comes back as a status (and then a Lua error) instead of aborting the process. */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
#endif
  return PRIOR_OK;
}

prior_status prior_dist_finalize(void) {
#ifdef PRIOR_WITH_MPI
  if (joined) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) PRIOR_TRY(mpi_status("MPI_Finalize", MPI_Finalize()));
    joined = 0;
  }
#endif
  dist_rank = 0, dist_size = 1;
  return PRIOR_OK;
}

prior_status prior_dist_barrier(void) {
#ifdef PRIOR_WITH_MPI
  if (dist_size > 1) return mpi_status("MPI_Barrier", MPI_Barrier(MPI_COMM_WORLD));
#endif
  return PRIOR_OK;
}

/* A tensor a collective may read and write in place: CPU, contiguous, and (for sums) floating point. */
static prior_status check_buffer(const char *op, const prior_tensor *t, int floating) {
  PRIOR_TRY(prior_check_tensor(op, "t", t));
  if (t->device.type != PRIOR_DEVICE_CPU || !prior_tensor_is_contiguous(t))
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: needs a contiguous CPU tensor", op);
  if (floating && t->dtype != PRIOR_F32 && t->dtype != PRIOR_F64)
    return prior_error_set(PRIOR_ERR_DTYPE, "%s: takes f32 or f64, got %s", op, prior_dtype_name((prior_dtype)t->dtype));
  if (prior_tensor_numel(t) * (int64_t)prior_dtype_size((prior_dtype)t->dtype) > INT_MAX) /* MPI counts are int */
    return prior_error_set(PRIOR_ERR_ARGUMENT, "%s: %lld elements are more than one MPI call carries", op,
                           (long long)prior_tensor_numel(t));
  return PRIOR_OK;
}

#ifdef PRIOR_WITH_MPI
/* Every rank's shape must equal this one's: all ranks learn the same answer, so they fail (or go on) together. */
static prior_status check_same_shape(const char *op, const prior_tensor *t) {
  int64_t mine[PRIOR_MAX_DIMS + 1] = {t->ndim};
  memcpy(mine + 1, t->shape, sizeof(int64_t) * (size_t)t->ndim);
  int64_t lo[PRIOR_MAX_DIMS + 1], hi[PRIOR_MAX_DIMS + 1];
  PRIOR_TRY(mpi_status(op, MPI_Allreduce(mine, lo, PRIOR_MAX_DIMS + 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD)));
  PRIOR_TRY(mpi_status(op, MPI_Allreduce(mine, hi, PRIOR_MAX_DIMS + 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD)));
  if (memcmp(lo, hi, sizeof lo) != 0) {
    char s[128];
    return prior_error_set(PRIOR_ERR_SHAPE, "%s: the ranks' tensors differ in shape (rank %d has %s)", op, dist_rank,
                           prior_tensor_shape_str(t, s, sizeof s));
  }
  return PRIOR_OK;
}

static MPI_Datatype mpi_type(const prior_tensor *t) { return t->dtype == PRIOR_F64 ? MPI_DOUBLE : MPI_FLOAT; }
#endif

prior_status prior_dist_all_reduce_sum(prior_tensor *t) {
  PRIOR_TRY(check_buffer("all_reduce", t, 1));
#ifdef PRIOR_WITH_MPI
  if (dist_size > 1) {
    PRIOR_TRY(check_same_shape("all_reduce", t));
    return mpi_status("MPI_Allreduce", MPI_Allreduce(MPI_IN_PLACE, prior_tensor_data(t), (int)prior_tensor_numel(t),
                                                     mpi_type(t), MPI_SUM, MPI_COMM_WORLD));
  }
#endif
  return PRIOR_OK;
}

prior_status prior_dist_all_reduce_mean(prior_tensor *t) {
  PRIOR_TRY(prior_dist_all_reduce_sum(t));
  if (dist_size == 1) return PRIOR_OK;
  int64_t n = prior_tensor_numel(t);
  if (t->dtype == PRIOR_F64) {
    double *v = prior_tensor_data(t), k = 1.0 / dist_size;
    for (int64_t i = 0; i < n; i++) v[i] *= k;
  } else {
    float *v = prior_tensor_data(t), k = 1.0f / (float)dist_size;
    for (int64_t i = 0; i < n; i++) v[i] *= k;
  }
  return PRIOR_OK;
}

prior_status prior_dist_broadcast(prior_tensor *t, int root) {
  PRIOR_TRY(check_buffer("broadcast", t, 0));
  if (root < 0 || root >= dist_size)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "broadcast: root %d, but there are %d ranks", root, dist_size);
#ifdef PRIOR_WITH_MPI
  if (dist_size > 1) {
    PRIOR_TRY(check_same_shape("broadcast", t));
    size_t bytes = (size_t)prior_tensor_numel(t) * prior_dtype_size((prior_dtype)t->dtype);
    return mpi_status("MPI_Bcast", MPI_Bcast(prior_tensor_data(t), (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD));
  }
#endif
  return PRIOR_OK;
}

#ifdef PRIOR_WITH_MPI
/* The gradient of the gathered rows: every rank's loss used every rank's rows, so the gradient of this rank's x is
 * the sum over ranks of their gradients for its slice (all-reduce, then this rank's rows). */
static prior_status all_gather_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  prior_tensor *sum = prior_tensor_clone_raw(g); /* contiguous, and ours to overwrite */
  if (!sum) return prior_error_code();
  prior_status s = prior_dist_all_reduce_sum(sum);
  prior_tensor *mine = s == PRIOR_OK ? prior_narrow(sum, 0, node->ints[0] * dist_rank, node->ints[0]) : NULL;
  gi[0] = mine ? prior_tensor_contiguous_raw(mine) : NULL;
  prior_free_all(2, sum, mine);
  return gi[0] ? PRIOR_OK : prior_error_code();
}
#endif

/* The gradient of an all-reduced sum: every rank's output used this rank's x. */
static prior_status all_reduce_backward(prior_node *node, prior_tensor *g, prior_tensor **gi) {
  gi[0] = prior_tensor_clone_raw(g);
  if (!gi[0]) return prior_error_code();
  return prior_dist_all_reduce_sum(gi[0]);
}

prior_tensor *prior_dist_all_reduce(prior_tensor *x) {
  if (prior_check_tensor("all_reduce", "x", x) != PRIOR_OK) return NULL;
  prior_tensor *out = prior_tensor_clone_raw(x); /* contiguous, ours */
  if (!out) return NULL;
  if (prior_dist_all_reduce_sum(out) != PRIOR_OK) return prior_tensor_free(out), NULL;
  if (prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new("all_reduce", all_reduce_backward, 1, &x);
    if (!node) return prior_tensor_free(out), NULL;
    prior_node_attach(node, out);
  }
  return out;
}

prior_tensor *prior_dist_all_gather(prior_tensor *x) {
  if (prior_check_tensor("all_gather", "x", x) != PRIOR_OK) return NULL;
  if (x->device.type != PRIOR_DEVICE_CPU || (x->dtype != PRIOR_F32 && x->dtype != PRIOR_F64)) {
    prior_error_set(PRIOR_ERR_DTYPE, "all_gather: takes a CPU f32 or f64 tensor, got %s",
                    prior_dtype_name((prior_dtype)x->dtype));
    return NULL;
  }
  if (x->ndim < 1) {
    prior_error_set(PRIOR_ERR_SHAPE, "all_gather: needs at least one dimension");
    return NULL;
  }
  if (dist_size == 1) return prior_tensor_retain(x);
#ifdef PRIOR_WITH_MPI
  prior_tensor *xc = prior_tensor_contiguous_raw(x);
  if (!xc || check_buffer("all_gather", xc, 1) != PRIOR_OK || check_same_shape("all_gather", xc) != PRIOR_OK) {
    prior_tensor_free(xc);
    return NULL;
  }
  int64_t shape[PRIOR_MAX_DIMS];
  memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
  shape[0] *= dist_size;
  prior_tensor *out = prior_tensor_empty(x->ndim, shape, (prior_dtype)x->dtype, x->device);
  prior_status s = out ? mpi_status("MPI_Allgather", MPI_Allgather(prior_tensor_data(xc), (int)prior_tensor_numel(xc),
                                                                   mpi_type(xc), prior_tensor_data(out),
                                                                   (int)prior_tensor_numel(xc), mpi_type(xc),
                                                                   MPI_COMM_WORLD))
                       : prior_error_code();
  prior_tensor_free(xc);
  if (s != PRIOR_OK) return prior_tensor_free(out), NULL;
  if (prior_autograd_needed(1, &x)) {
    prior_node *node = prior_node_new("all_gather", all_gather_backward, 1, &x);
    if (!node) return prior_tensor_free(out), NULL;
    node->ints[0] = x->shape[0];
    prior_node_attach(node, out);
  }
  return out;
#else
  return NULL; /* not reached: without MPI the size is 1 */
#endif
}
