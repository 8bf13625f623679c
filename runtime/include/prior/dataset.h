/* Datasets: MIMIC-CXR-JPG, CheXpert (and its 5x200 selection), RSNA Pneumonia and SIIM-ACR Pneumothorax, read in
 * their published layouts (see the project's data notes), as one kind of object: a list of sample descriptors.
 *
 * A sample descriptor holds everything needed to produce a training example except pixels: an id, one or more
 * candidate image paths (a MIMIC study with several frontal images keeps them all; the loader draws one per draw),
 * report sentences (IMPRESSION then FINDINGS), labels, detection boxes and segmentation run-length strings. Images
 * are decoded later, by the loader (prior/loader.h), so opening a dataset is cheap in memory.
 *
 * Every reader drops what cannot be used and counts why (prior_dataset_drops); the caller decides what to report.
 * A missing CSV, or one without a needed column, is an error naming the file and the column. The handle is opaque
 * and read-only after opening: any number of threads may read it. */
#ifndef PRIOR_DATASET_H
#define PRIOR_DATASET_H

#include <stdint.h>

#include "prior/error.h"

typedef struct prior_dataset prior_dataset;

typedef enum prior_image_format { PRIOR_IMAGE_JPEG = 0, PRIOR_IMAGE_DICOM = 1 } prior_image_format;

/* What an uncertain label (-1.0) becomes. Blank labels always become 0. */
typedef enum prior_uncertain_policy {
  PRIOR_UNCERTAIN_ZERO = 0, /* U-Zeros */
  PRIOR_UNCERTAIN_ONE = 1,  /* U-Ones */
  PRIOR_UNCERTAIN_KEEP = 2  /* stays -1 */
} prior_uncertain_policy;

/* Counts of what a reader left out, and why. Fields that do not apply to a dataset stay 0. */
typedef struct prior_dataset_drops {
  int64_t lateral;          /* images (MIMIC) or rows (CheXpert) that are not PA/AP frontal views */
  int64_t lateral_only;     /* MIMIC studies with no frontal image left */
  int64_t other_split;      /* MIMIC images whose split is not the one asked for */
  int64_t missing_report;   /* MIMIC studies whose report file is absent */
  int64_t unreadable_report;/* report files that could not be read or parsed */
  int64_t no_sections;      /* reports with neither FINDINGS nor IMPRESSION */
  int64_t short_report;     /* reports with fewer sentences than the minimum */
  int64_t missing_image;    /* image files listed but not on disk (counted per image) */
  int64_t no_image;         /* samples dropped because none of their images is on disk */
  int64_t unlabeled;        /* MIMIC studies absent from the label CSV (kept, labels 0) */
} prior_dataset_drops;

/* ---- MIMIC-CXR-JPG ------------------------------------------------------------------------------------ */
typedef struct prior_mimic_options {
  const char *root;          /* holds files/ and mimic-cxr-2.0.0-{metadata,split,chexpert}.csv */
  const char *reports_root;  /* holds files/pXX/pSUBJECT/sSTUDY.txt; NULL: root */
  const char *split;         /* "train", "validate", "test", or NULL / "" for all */
  int min_sentences;         /* PRIOR_REPORT_MIN_SENTENCES (4) by default */
  int check_images;          /* 1 (default): drop images whose file is missing (one stat per image) */
  int uncertain;             /* prior_uncertain_policy, PRIOR_UNCERTAIN_ZERO by default */
} prior_mimic_options;

void prior_mimic_options_default(prior_mimic_options *opt);
/* One sample per study that has a frontal image (ViewPosition PA or AP) and a report with at least min_sentences
 * sentences; samples in metadata order; ids "sSTUDY"; 14 labels in the label CSV's column order. */
prior_status prior_mimic_open(const prior_mimic_options *opt, prior_dataset **out);

/* ---- CheXpert ----------------------------------------------------------------------------------------- */
typedef struct prior_chexpert_options {
  const char *root;     /* the CheXpert-v1.0(-small) folder holding train.csv, or the folder above it */
  const char *split;    /* "train" (default) or "valid": which CSV */
  int frontal_only;     /* 1 (default): keep rows with Frontal/Lateral = Frontal */
  int uncertain;        /* prior_uncertain_policy, PRIOR_UNCERTAIN_ZERO by default */
  int check_images;     /* 0 (default): 1 drops rows whose image is missing */
} prior_chexpert_options;

void prior_chexpert_options_default(prior_chexpert_options *opt);
/* One sample per row; ids are the CSV's Path; 14 labels in CSV column order ("No Finding" first). Path cells are
 * relative to the folder above the dataset folder ("CheXpert-v1.0-small/train/..."); the first component is
 * replaced by the folder that holds the CSV, so a renamed dataset folder still works. */
prior_status prior_chexpert_open(const prior_chexpert_options *opt, prior_dataset **out);

/* The CheXpert 5x200 zero-shot set: frontal train rows with blanks as 0; for each class of Atelectasis,
 * Cardiomegaly, Consolidation, Edema, Pleural Effusion, the rows where it is exactly 1 and the other 12
 * observations exactly 0 ("No Finding" unconstrained); per_class of them drawn by a seeded shuffle (an error when a
 * class has fewer). Written to out_csv as "path,label_index,class" (path as in train.csv), atomically. *out, when
 * not NULL, receives the selection as a dataset (5 one-hot labels). */
prior_status prior_chexpert5x200_build(const char *root, int per_class, uint64_t seed, const char *out_csv,
                                       prior_dataset **out);
/* Reads a selection written by prior_chexpert5x200_build; paths are resolved against root as above. */
prior_status prior_chexpert5x200_read(const char *csv_path, const char *root, prior_dataset **out);
/* Reads the reference's JSON selection: {"id": {"image_path": "...", "label": [one-hot of 5]}, ...}. */
prior_status prior_chexpert5x200_read_json(const char *json_path, const char *root, prior_dataset **out);
/* Class names of the 5x200 set in label order. */
const char *prior_chexpert5x200_class(int i);

/* ---- RSNA Pneumonia ----------------------------------------------------------------------------------- */
typedef struct prior_rsna_options {
  const char *root;       /* holds stage_2_train_labels.csv and stage_2_train_images/ */
  double box_frame;       /* boxes are pixels of a box_frame x box_frame image (1024 by default) */
  int check_images;       /* 1 (default) */
} prior_rsna_options;

void prior_rsna_options_default(prior_rsna_options *opt);
/* One sample per patientId (first-appearance order), image stage_2_train_images/ID.dcm, label Target, boxes of
 * all Target 1 rows stored as fractions of box_frame. */
prior_status prior_rsna_open(const prior_rsna_options *opt, prior_dataset **out);

/* ---- SIIM-ACR Pneumothorax ---------------------------------------------------------------------------- */
typedef struct prior_siim_options {
  const char *root;       /* holds train-rle.csv and dicom-images-train/ (searched recursively for ID.dcm) */
  int check_images;       /* 1 (default) */
} prior_siim_options;

void prior_siim_options_default(prior_siim_options *opt);
/* One sample per ImageId (first-appearance order); all its rows' RLE strings kept and OR-ed when decoded; label 1
 * when any row is not "-1". Every RLE string is checked at open (a malformed one is an error naming the line). */
prior_status prior_siim_open(const prior_siim_options *opt, prior_dataset **out);

/* ---- any dataset -------------------------------------------------------------------------------------- */
void prior_dataset_free(prior_dataset *ds);
int64_t prior_dataset_size(const prior_dataset *ds);
/* "mimic", "chexpert", "chexpert5x200", "rsna", "siim" (or the name a subset inherits). */
const char *prior_dataset_kind(const prior_dataset *ds);
prior_image_format prior_dataset_image_format(const prior_dataset *ds);
void prior_dataset_get_drops(const prior_dataset *ds, prior_dataset_drops *out);
/* Writes one line per non-zero drop count into buf ("lateral_only 3, short_report 2"); returns buf. */
char *prior_dataset_drops_str(const prior_dataset *ds, char *buf, int cap);

int prior_dataset_label_count(const prior_dataset *ds);
const char *prior_dataset_label_name(const prior_dataset *ds, int label);
/* Per sample; out-of-range indices give NULL / 0 / an error. */
const char *prior_dataset_id(const prior_dataset *ds, int64_t i);
int64_t prior_dataset_find(const prior_dataset *ds, const char *id); /* index, or -1 */
int prior_dataset_image_count(const prior_dataset *ds, int64_t i);
const char *prior_dataset_image_path(const prior_dataset *ds, int64_t i, int image);
int prior_dataset_sentence_count(const prior_dataset *ds, int64_t i);
const char *prior_dataset_sentence(const prior_dataset *ds, int64_t i, int sentence);
/* Writes prior_dataset_label_count floats. */
prior_status prior_dataset_labels(const prior_dataset *ds, int64_t i, float *out);
int prior_dataset_box_count(const prior_dataset *ds, int64_t i);
/* Box as x, y, width, height, fractions of the image size (top-left origin). */
prior_status prior_dataset_box(const prior_dataset *ds, int64_t i, int box, float out[4]);
int prior_dataset_has_masks(const prior_dataset *ds);
int prior_dataset_rle_count(const prior_dataset *ds, int64_t i);
const char *prior_dataset_rle(const prior_dataset *ds, int64_t i, int k);
/* Decodes the sample's masks OR-ed into mask [height, width] (zeroed first); an error names the sample. */
prior_status prior_dataset_mask(const prior_dataset *ds, int64_t i, int width, int height, uint8_t *mask);

/* A new dataset holding copies of samples indices[0..n) in that order (drop counts are copied). */
prior_status prior_dataset_subset(const prior_dataset *ds, const int64_t *indices, int64_t n, prior_dataset **out);

/* ---- split files ---------------------------------------------------------------------------------------- */
/* A split file is a CSV "id,split" (split: train, val, test), one row per sample. Train rows come first, in the
 * order of a seeded shuffle, so a p-subset of the training set is its first round(N_train * p) rows; val and test
 * follow. Sizes: val = round(N * val_fraction), test = round(N * test_fraction), train = the rest. Samples are
 * whole images, so rows that share an image are never split apart.
 *
 * prior_split_ensure reads `path` when it exists (checking that its ids are exactly the dataset's) and otherwise
 * creates it atomically (written to a temporary name, then renamed). */
prior_status prior_split_ensure(const prior_dataset *ds, const char *path, double val_fraction,
                                double test_fraction, uint64_t seed);
/* The samples of one split ("train", "val" or "test") of the file at `path`; for "train", the first
 * round(N_train * fraction) of them (fraction 1 keeps all, 0.1 and 0.01 are the usual subsets; ignored otherwise). */
prior_status prior_split_select(const prior_dataset *ds, const char *path, const char *split, double fraction,
                                prior_dataset **out);

#endif
