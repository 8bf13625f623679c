/* Synthetic chest radiographs with reports that describe them, written in the real datasets' layouts.
 *
 * Every image is a pure function of (config seed, key): the key names the image inside its tree, so the
 * output does not depend on thread count or order. A truth record holds the findings (CheXpert's 14
 * observations with severity, side and zone) and every drawing parameter; rendering and report writing read
 * only the truth, so the picture and the text cannot disagree.
 *
 * Coordinates: the anatomy is laid out in a normalised frame (u to the image right, v down, both in [-1,1]),
 * then rotated, scaled and shifted onto the pixel grid. The patient's right is on the image left, as on a
 * real frontal film. Boxes and widths in the truth are in pixels of the rendered image. */
#ifndef PRIOR_SYNTH_H
#define PRIOR_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "prior/error.h"

enum {
  PRIOR_SYNTH_NUM_LABELS = 14,
  PRIOR_SYNTH_MAX_BLOBS = 6,
  PRIOR_SYNTH_MAX_BOXES = 4
};

/* The 14 observations in the column order of mimic-cxr-2.0.0-chexpert.csv (alphabetical). */
typedef enum prior_synth_label {
  PRIOR_SYNTH_ATELECTASIS = 0,
  PRIOR_SYNTH_CARDIOMEGALY,
  PRIOR_SYNTH_CONSOLIDATION,
  PRIOR_SYNTH_EDEMA,
  PRIOR_SYNTH_ENLARGED_CARDIOMEDIASTINUM,
  PRIOR_SYNTH_FRACTURE,
  PRIOR_SYNTH_LUNG_LESION,
  PRIOR_SYNTH_LUNG_OPACITY,
  PRIOR_SYNTH_NO_FINDING,
  PRIOR_SYNTH_PLEURAL_EFFUSION,
  PRIOR_SYNTH_PLEURAL_OTHER,
  PRIOR_SYNTH_PNEUMONIA,
  PRIOR_SYNTH_PNEUMOTHORAX,
  PRIOR_SYNTH_SUPPORT_DEVICES
} prior_synth_label;

typedef enum prior_synth_view { PRIOR_SYNTH_PA = 0, PRIOR_SYNTH_AP = 1, PRIOR_SYNTH_LATERAL = 2 } prior_synth_view;

/* Side is the patient's side: RIGHT is drawn on the image left. */
typedef enum prior_synth_side {
  PRIOR_SYNTH_SIDE_NONE = 0,
  PRIOR_SYNTH_RIGHT = 1,
  PRIOR_SYNTH_LEFT = 2,
  PRIOR_SYNTH_BILATERAL = 3
} prior_synth_side;

typedef enum prior_synth_zone {
  PRIOR_SYNTH_ZONE_NONE = 0,
  PRIOR_SYNTH_UPPER = 1,
  PRIOR_SYNTH_MID = 2,
  PRIOR_SYNTH_LOWER = 3
} prior_synth_zone;

/* Support devices, a bit mask. */
enum {
  PRIOR_SYNTH_DEV_ET_TUBE = 1,
  PRIOR_SYNTH_DEV_NG_TUBE = 2,
  PRIOR_SYNTH_DEV_CENTRAL_LINE = 4,
  PRIOR_SYNTH_DEV_PACEMAKER = 8
};

typedef struct prior_synth_finding {
  int present;   /* 1 when drawn in the picture */
  int severity;  /* 1 mild/small, 2 moderate, 3 severe/large */
  int side;      /* prior_synth_side */
  int zone;      /* prior_synth_zone */
  int uncertain; /* the report hedges ("may represent"), so the label files carry -1.0 */
} prior_synth_finding;

/* An opacity blob: consolidation, pneumonia, lung opacity, atelectasis, lesion (normalised frame). */
typedef struct prior_synth_blob {
  int label; /* prior_synth_label that produced it */
  int side;
  float cx, cy, rx, ry, angle; /* ellipse; angle in radians */
  float density;               /* 0..1: fraction of the air replaced */
  float edge;                  /* softness of the border, normalised units */
  float patchy;                /* 0 = homogeneous, 1 = very patchy */
} prior_synth_blob;

typedef struct prior_synth_truth {
  uint64_t seed; /* drives the drawing noise (markings, grain) */
  int size;      /* rendered image is size x size */
  int view;      /* prior_synth_view */
  int female, age;
  prior_synth_finding finding[PRIOR_SYNTH_NUM_LABELS];
  int devices; /* PRIOR_SYNTH_DEV_* mask */

  /* Placement: normalised frame -> pixels. */
  float rot, scale, tx, ty;
  /* Anatomy (normalised frame). Index 0 = patient right (image left), 1 = patient left. */
  float body_hw, neck_hw, body_top;
  float lung_cx[2], lung_cy, lung_rx, lung_ry;
  float dome_top[2], dome_k;
  float heart_cx, heart_cy, heart_rx, heart_ry, heart_angle;
  float med_hw, med_upper_hw;
  float rib_spacing, rib_top, clav_y;
  float hilum_v;
  int gastric_bubble;
  /* Findings as drawing parameters. */
  float effusion_h[2]; /* fluid height above the costophrenic angle, 0 = none */
  float ptx_f[2];      /* collapse factor of the lung, 1 = no pneumothorax */
  float edema;         /* perihilar haze strength, 0 = none */
  float pleural_thick[2];
  float fracture_v[2]; /* v of a broken rib, 0 = none */
  int nblobs;
  prior_synth_blob blob[PRIOR_SYNTH_MAX_BLOBS];
  /* Acquisition. */
  float exposure, contrast, gamma, noise, blur;

  /* Ground truth measured from the geometry, in pixels of the rendered image. */
  float heart_width_px, thorax_width_px, ctr;
  int nboxes;
  float box[PRIOR_SYNTH_MAX_BOXES][4]; /* x, y, width, height (top-left origin) */
} prior_synth_truth;

/* How often each finding appears, and which views. */
typedef struct prior_synth_profile {
  float p[PRIOR_SYNTH_NUM_LABELS]; /* probability of each observation (NO_FINDING is derived, ignored) */
  float ap_fraction;               /* of frontal images */
  float lateral_fraction;          /* of all images */
  float uncertain_fraction;        /* of present mild findings that the report hedges */
  float bilateral_ptx_fraction;    /* of pneumothorax cases */
} prior_synth_profile;

typedef struct prior_synth_config {
  uint64_t seed;
  int image_size; /* pixels, 32..2048 */
  int jpeg_quality;
  /* MIMIC-CXR-JPG tree */
  int mimic_subjects;
  float broken_report_fraction; /* reports too short or without FINDINGS */
  /* CheXpert tree */
  int chexpert_train_patients;
  int chexpert_clean_per_class; /* frontal rows with exactly one of the 5 zero-shot classes */
  int chexpert_valid_patients;
  /* RSNA and SIIM trees */
  int rsna_images;
  int siim_images;
  prior_synth_profile profile; /* findings in the MIMIC tree and in prior_synth_render */
} prior_synth_config;

/* Defaults: seed 0, 224 pixels, sizes for a realistic demo (a 5x200 CheXpert set can be drawn). */
void prior_synth_config_default(prior_synth_config *cfg);
/* Frequencies roughly like MIMIC-CXR's. */
void prior_synth_profile_default(prior_synth_profile *p);
/* Name of an observation as the CSV headers spell it ("Pleural Effusion"); NULL when out of range. */
const char *prior_synth_label_name(int label);

/* Draws findings and anatomy for image `key` (any 64-bit number; different keys give independent images).
 * `profile` NULL means cfg->profile. */
prior_status prior_synth_sample(const prior_synth_config *cfg, const prior_synth_profile *profile, uint64_t key,
                                prior_synth_truth *truth);
/* Re-draws placement, anatomy and acquisition for another image of the same study: same findings, new
 * key, given view. */
prior_status prior_synth_sample_view(const prior_synth_truth *study, uint64_t key, int view,
                                     prior_synth_truth *out);
/* Renders a truth into image[size*size] (row-major, [0,1], bright = dense). Optional outputs (NULL to skip):
 * ptx_mask[size*size] = 1 where air lies in the pleural space; anatomy[size*size] = 1 lung field,
 * 2 heart, 0 elsewhere (for measuring the cardiothoracic ratio). */
prior_status prior_synth_render_truth(const prior_synth_truth *truth, float *image, uint8_t *ptx_mask,
                                      uint8_t *anatomy);
/* sample + render: image `index` of the config's default stream. `truth` may be NULL. */
prior_status prior_synth_render(const prior_synth_config *cfg, uint64_t index, float *image,
                                prior_synth_truth *truth);

/* What a report says: the labels a CheXpert-style labeller would give it, and its shape. */
enum { PRIOR_SYNTH_NEGATIVE = 0, PRIOR_SYNTH_POSITIVE = 1, PRIOR_SYNTH_UNCERTAIN = -1, PRIOR_SYNTH_BLANK = 2 };
typedef struct prior_synth_report_info {
  int labels[PRIOR_SYNTH_NUM_LABELS]; /* POSITIVE, NEGATIVE, UNCERTAIN, or BLANK when not mentioned */
  int sentences;    /* in FINDINGS + IMPRESSION */
  int has_findings; /* a FINDINGS: section was written */
  int has_impression;
  int broken; /* deliberately short or missing FINDINGS */
} prior_synth_report_info;

/* Writes a MIMIC-style report for `truth` into buf (NUL-terminated). `broken_fraction` of reports
 * (decided from the truth's seed) are too short or lack FINDINGS. info may be NULL. Fails with
 * PRIOR_ERR_ARGUMENT when cap is too small (4096 always suffices). */
prior_status prior_synth_report(const prior_synth_truth *truth, float broken_fraction, char *buf, size_t cap,
                                prior_synth_report_info *info);

/* WordPiece vocabulary for every word the report generator can write (BERT special tokens at the standard
 * ids, lowercase words, single characters and their ## forms, punctuation, digits), one token per line. */
prior_status prior_synth_write_vocab(const char *path);
/* The number of tokens that file will hold. */
int prior_synth_vocab_size(void);

/* Complete dataset trees under root (created as needed). Same config -> byte-identical files, whatever
 * OMP_NUM_THREADS is. Files appear under their final name only when complete (written to a temporary
 * name, then renamed).
 *   mimic:    root/files/pXX/pSUBJECT/sSTUDY/DICOMID.jpg, root/files/pXX/pSUBJECT/sSTUDY.txt,
 *             root/mimic-cxr-2.0.0-{metadata,split,chexpert}.csv
 *   chexpert: root/CheXpert-v1.0-small/{train,valid}.csv and train|valid/patientNNNNN/studyN/viewN_*.jpg
 *   rsna:     root/stage_2_train_labels.csv, root/stage_2_train_images/ID.dcm. Box coordinates are in the
 *             1024x1024 frame of the real images: multiply by image_size/1024 to get pixels of ours.
 *   siim:     root/train-rle.csv, root/dicom-images-train/STUDYUID/SERIESUID/IMAGEID.dcm; masks are at
 *             image_size, column-major relative RLE. */
prior_status prior_synth_write_mimic(const prior_synth_config *cfg, const char *root);
prior_status prior_synth_write_chexpert(const prior_synth_config *cfg, const char *root);
prior_status prior_synth_write_rsna(const prior_synth_config *cfg, const char *root);
prior_status prior_synth_write_siim(const prior_synth_config *cfg, const char *root);

#endif
