/* Shared by the CheXpert reader and the 5x200 builder. */
#ifndef PRIOR_DATA_DATASET_CHEXPERT_INTERNAL_H
#define PRIOR_DATA_DATASET_CHEXPERT_INTERNAL_H

#include "data/dataset_internal.h"

#define PRIOR_CHEXPERT_NOBS 14
extern const char *const prior_chexpert_observations[PRIOR_CHEXPERT_NOBS];

/* The folder holding csv_name: root itself, or its CheXpert-v1.0-small / CheXpert-v1.0 folder. */
prior_status prior_chexpert_find_dir(const char *root, const char *csv_name, char *dir);
/* A Path cell ("CheXpert-v1.0-small/train/...", or "train/...") to a file under dir. */
prior_status prior_chexpert_resolve(const char *dir, const char *rel, char *out);

#endif
