/* PyTorch checkpoints (torch.save files): the zip format of torch >= 1.6 and the older single-stream format.
 *
 * The pickle inside is run by a restricted VM that never executes code: any global outside a small allowlist
 * (tensor/parameter rebuild functions, storage types, OrderedDict, torch.device, ...) is refused with an error
 * naming it. The result is a flat list of tensor records with dotted names; nested dicts are joined with '.'
 * ({"encoder": {"fc": {"weight": t}}} gives "encoder.fc.weight"), and everything that is not a tensor (epoch
 * counters, hyper-parameters, strings) is skipped.
 *
 * Tensors come out contiguous: a view that was already contiguous in its storage points straight into the
 * mapped file; a non-contiguous view (a transpose, a strided slice) is copied into a buffer the handle owns.
 * Tensors sharing one storage each get their own record. Deflate-compressed zip entries are not read (torch.save
 * never writes them); the error says so. */
#ifndef PRIOR_TORCHFILE_H
#define PRIOR_TORCHFILE_H

#include <stddef.h>

#include "prior/ckpt.h"
#include "prior/error.h"

typedef struct prior_torchfile prior_torchfile;

/* `root_key` picks the part of the saved object whose tensors are listed:
 *   NULL  automatic: when the saved object is a dict with a dict under "state_dict" (Lightning and most training
 *         scripts), "model_state_dict" or "model", that dict; otherwise the whole object;
 *   ""    the whole saved object;
 *   other the dict under that top-level key (an error if there is none). */
prior_status prior_torchfile_open(const char *path, const char *root_key, prior_torchfile **out);
void prior_torchfile_close(prior_torchfile *tf);

/* Tensors in the order the checkpoint's dicts hold them. Records and bytes live until prior_torchfile_close. */
size_t prior_torchfile_count(const prior_torchfile *tf);
const prior_ckpt_tensor *prior_torchfile_tensors(const prior_torchfile *tf);
const prior_ckpt_tensor *prior_torchfile_tensor(const prior_torchfile *tf, size_t i); /* NULL out of range */
const prior_ckpt_tensor *prior_torchfile_find(const prior_torchfile *tf, const char *name); /* NULL if absent */
/* 1 for the zip format, 0 for the legacy format. */
int prior_torchfile_is_zip(const prior_torchfile *tf);

#endif
