/* Several processes training one model, data parallel: each process (rank) takes its own slice of every global
 * batch, gradients are summed across processes before the update, and the global contrastive losses see the
 * embeddings of the whole global batch (all-gathered, with a backward). Over MPI on the CPU; launch with
 * `mpirun -np N prior scripts/pretrain.lua ...`.
 *
 * Every call exists in every build. Without MPI compiled in, or before prior_dist_init, the world is one process:
 * rank 0 of 1, and the collectives return their input. Collectives must be called by every rank in the same
 * order with the same shapes (as MPI requires); a shape that differs between ranks is an error on every rank. */
#ifndef PRIOR_DIST_H
#define PRIOR_DIST_H

#include "prior/error.h"
#include "prior/tensor.h"

/* 1 when this build can run several processes (MPI compiled in). */
int prior_dist_available(void);
/* Joins the job mpirun started (MPI_Init_thread; a process not started by mpirun is a world of one). Calling it
 * again does nothing. */
prior_status prior_dist_init(void);
int prior_dist_rank(void);
int prior_dist_size(void);
/* Sums t (a contiguous CPU f32 or f64 tensor) over all ranks, in place. */
prior_status prior_dist_all_reduce_sum(prior_tensor *t);
/* The mean over ranks, in place (the data-parallel gradient). */
prior_status prior_dist_all_reduce_mean(prior_tensor *t);
/* Replaces t's values (contiguous CPU) with rank `root`'s. */
prior_status prior_dist_broadcast(prior_tensor *t, int root);
/* x [B, ...] of every rank concatenated along dim 0 in rank order: [size * B, ...] (B equal on all ranks).
 * Differentiable: the gradient of a rank's x is the sum over ranks of the gradients of its rows (each rank's loss
 * used them). With one process it returns x. */
prior_tensor *prior_dist_all_gather(prior_tensor *x);
/* Sum over ranks of x, as a new tensor, differentiable: every rank's output depends on every rank's x, so the
 * gradient of this rank's x is the sum over ranks of their output gradients. With one process, a copy of x. */
prior_tensor *prior_dist_all_reduce(prior_tensor *x);
prior_status prior_dist_barrier(void);

/* Synchronised batch normalisation (the reference trains with it): in training mode, the statistics of each
 * channel are those of the global batch, every rank's [N, C, H, W] input together (two all-reduces forward, one
 * backward), so that several processes normalise as one process with the whole batch would; the
 * running statistics get the global mean and the unbiased global variance. Training forward only (evaluation uses
 * the running statistics and needs nothing from the other ranks). x: [N, C, H, W] f32/f64; weight and bias [C] or
 * NULL; running_mean/var [C] or NULL, updated in place. */
prior_tensor *prior_dist_sync_batch_norm2d(prior_tensor *x, prior_tensor *running_mean, prior_tensor *running_var,
                                           prior_tensor *weight, prior_tensor *bias, double momentum, double eps);
/* Whether batch normalisation layers (prior_batch_norm_layer_forward) synchronise across processes when there are
 * several: on by default. Returns the previous setting. */
int prior_dist_set_sync_batch_norm(int on);
/* 1 when a training batch normalisation layer should call prior_dist_sync_batch_norm2d now. */
int prior_dist_sync_batch_norm_active(void);
/* Leaves the job (MPI_Finalize) when prior_dist_init joined one. */
prior_status prior_dist_finalize(void);

#endif
