/* The dataset object shared by the readers in this folder (see prior/dataset.h). */
#ifndef PRIOR_DATA_DATASET_INTERNAL_H
#define PRIOR_DATA_DATASET_INTERNAL_H

#include <stdint.h>

#include "prior/csv.h"
#include "prior/dataset.h"

#define PRIOR_DS_PATH_MAX 4096

typedef struct prior_ds_sample {
  char *id;
  char **images;
  int nimages;
  char **sentences;
  int nsentences;
  float *labels; /* nlabels values */
  float *boxes;  /* 4 per box: x, y, w, h as fractions of the image */
  int nboxes;
  char **rles;
  int nrles;
} prior_ds_sample;

struct prior_dataset {
  char kind[24];
  prior_image_format format;
  int nlabels;
  char **label_names;
  int has_masks;
  int64_t n, cap;
  prior_ds_sample *samples;
  prior_dataset_drops drops;
};

/* A dataset with no samples and copies of the label names. NULL (error set) on failure. */
prior_dataset *prior_ds_new(const char *kind, prior_image_format format, int nlabels, const char *const *names);
/* Appends a zeroed sample (labels allocated and zeroed) with a copy of id; NULL (error set) on failure. */
prior_ds_sample *prior_ds_push(prior_dataset *ds, const char *id);
/* Removes the last sample (used when a sample turns out to be unusable while being filled). */
void prior_ds_pop(prior_dataset *ds);
/* Appends a copy of s to a string list. */
prior_status prior_ds_add_string(char ***list, int *n, const char *s);
prior_status prior_ds_add_box(prior_ds_sample *s, const float box[4]);

/* "a/b" into buf (cap PRIOR_DS_PATH_MAX); an error names the parts when it does not fit. */
prior_status prior_ds_join(char *buf, const char *a, const char *b);
int prior_ds_file_exists(const char *path);
int prior_ds_dir_exists(const char *path);

/* Column index, or an error naming the column and the file. */
prior_status prior_ds_column(const prior_csv *csv, const char *file, const char *name, int *col);
/* A label cell: blank -> 0, -1 -> the policy's value, other numbers as written; errors name file/line. */
prior_status prior_ds_label(const prior_csv *csv, int64_t row, int col, int uncertain, float *out);

/* Writes `csv_text`-producing rows atomically: the writer goes to path + ".tmp.PID", renamed on success. */
prior_status prior_ds_write_atomic_begin(const char *path, char *tmp_path, prior_csv_writer **w);
prior_status prior_ds_write_atomic_end(const char *path, const char *tmp_path, prior_csv_writer *w, prior_status s);

/* Fisher-Yates shuffle of perm[0..n) driven by Philox uniforms of (seed, offset). */
prior_status prior_ds_shuffle(int64_t *perm, int64_t n, uint64_t seed, uint64_t offset);

#endif
