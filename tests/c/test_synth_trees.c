/* Synthetic dataset trees: exact headers, files where the CSVs say, labels that agree, byte-identical
 * output for the same seed whatever the thread count, and no temporary files left behind. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <omp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "prior/synth.h"

/* ---- small helpers: files, CSV lines ---- */

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)len + 1);
  size_t got = fread(b, 1, (size_t)len, f);
  b[got] = 0;
  fclose(f);
  if (n) *n = got;
  return b;
}

static int same_file(const char *a, const char *b) {
  size_t na = 0, nb = 0;
  char *x = slurp(a, &na), *y = slurp(b, &nb);
  int same = x && y && na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Splits one CSV line (no quoting in these files) into at most max fields; returns the count. */
static int fields(char *line, char **f, int max) {
  int n = 0;
  f[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == ',') *p = 0, f[n++] = p + 1;
  return n;
}

/* Walks a tree: compares every file with the same path under other (if given), counts temp files. */
static void walk(const char *dir, const char *other, int *files, int *differ, int *temps) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[1024], q[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    snprintf(q, sizeof q, "%s/%s", other ? other : "", e->d_name);
    struct stat st;
    if (stat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      walk(p, other ? q : NULL, files, differ, temps);
    } else {
      ++*files;
      if (strstr(e->d_name, ".tmp")) ++*temps;
      if (other && !same_file(p, q)) ++*differ;
    }
  }
  closedir(d);
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      rm_rf(p);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static void small_config(prior_synth_config *cfg, uint64_t seed) {
  prior_synth_config_default(cfg);
  cfg->seed = seed;
  cfg->image_size = 64;
  cfg->mimic_subjects = 12;
  cfg->broken_report_fraction = 0.1f;
  cfg->chexpert_train_patients = 8;
  cfg->chexpert_clean_per_class = 4;
  cfg->chexpert_valid_patients = 3;
  cfg->rsna_images = 30;
  cfg->siim_images = 30;
}

static void write_all(const prior_synth_config *cfg, const char *root) {
  CHECK_OK(prior_synth_write_mimic(cfg, root));
  CHECK_OK(prior_synth_write_chexpert(cfg, root));
  CHECK_OK(prior_synth_write_rsna(cfg, root));
  CHECK_OK(prior_synth_write_siim(cfg, root));
}

static int first_line_is(const char *path, const char *want) {
  char *s = slurp(path, NULL);
  if (!s) return 0;
  size_t n = strcspn(s, "\n");
  int ok = strlen(want) == n && !memcmp(s, want, n);
  if (!ok) fprintf(stderr, "%s header: %.*s\n", path, (int)n, s);
  free(s);
  return ok;
}

/* ---- per-tree checks ---- */

static void check_mimic(const char *root) {
  char p[1024];
  snprintf(p, sizeof p, "%s/mimic-cxr-2.0.0-metadata.csv", root);
  CHECK(first_line_is(p, "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,"
                         "StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
                         "PatientOrientationCodeSequence_CodeMeaning"));
  char *meta = slurp(p, NULL);
  int images = 0, lateral = 0, frontal = 0, missing = 0, jpeg = 0;
  char last_study[32] = "", *save = NULL;
  int frontal_in_study = 0, multi_frontal = 0;
  for (char *line = strtok_r(meta, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "dicom_id", 8)) continue;
    char *f[16];
    CHECK(fields(line, f, 16) == 12);
    images++;
    int is_lat = !strcmp(f[4], "LATERAL");
    lateral += is_lat;
    frontal += !strcmp(f[4], "PA") || !strcmp(f[4], "AP");
    CHECK(!strcmp(f[5], "64") && !strcmp(f[6], "64"));
    if (strcmp(last_study, f[2])) snprintf(last_study, sizeof last_study, "%s", f[2]), frontal_in_study = 0;
    if (!is_lat && ++frontal_in_study == 2) multi_frontal++;
    snprintf(p, sizeof p, "%s/files/p%.2s/p%s/s%s/%s.jpg", root, f[1], f[1], f[2], f[0]);
    size_t n = 0;
    char *img = slurp(p, &n);
    if (!img) missing++;
    else jpeg += n > 100 && (unsigned char)img[0] == 0xff && (unsigned char)img[1] == 0xd8;
    free(img);
    snprintf(p, sizeof p, "%s/files/p%.2s/p%s/s%s.txt", root, f[1], f[1], f[2]);
    if (!exists(p)) missing++;
  }
  free(meta);
  CHECK(images > 20 && missing == 0 && jpeg == images);
  CHECK(lateral > 0 && frontal > 0 && lateral + frontal == images);
  CHECK(multi_frontal > 0);

  snprintf(p, sizeof p, "%s/mimic-cxr-2.0.0-split.csv", root);
  CHECK(first_line_is(p, "dicom_id,study_id,subject_id,split"));
  snprintf(p, sizeof p, "%s/mimic-cxr-2.0.0-chexpert.csv", root);
  CHECK(first_line_is(p, "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged "
                         "Cardiomediastinum,Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural "
                         "Other,Pneumonia,Pneumothorax,Support Devices"));
  char *chex = slurp(p, NULL);
  int rows = 0, bad = 0, seen[4] = {0}, with_findings = 0, reports = 0;
  save = NULL;
  for (char *line = strtok_r(chex, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "subject_id", 10)) continue;
    char *f[20];
    if (fields(line, f, 20) != 16) bad++;
    rows++;
    for (int k = 2; k < 16; k++) {
      if (!strcmp(f[k], "1.0")) seen[0]++;
      else if (!strcmp(f[k], "0.0")) seen[1]++;
      else if (!strcmp(f[k], "-1.0")) seen[2]++;
      else if (!f[k][0]) seen[3]++;
      else bad++;
    }
    snprintf(p, sizeof p, "%s/files/p%.2s/p%s/s%s.txt", root, f[0], f[0], f[1]);
    char *rep = slurp(p, NULL);
    if (rep) {
      reports++;
      with_findings += strstr(rep, "FINDINGS:") && strstr(rep, "IMPRESSION:");
      CHECK(strstr(rep, "FINAL REPORT") != NULL);
    }
    free(rep);
  }
  free(chex);
  CHECK(bad == 0 && rows > 10 && reports == rows);
  CHECK(seen[0] > 0 && seen[1] > 0 && seen[3] > 0);
  CHECK(with_findings > rows / 2);
}

static const char *const chexpert_header =
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung "
    "Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support "
    "Devices";

static void check_chexpert(const char *root, int clean_per_class) {
  char p[1024];
  snprintf(p, sizeof p, "%s/CheXpert-v1.0-small/train.csv", root);
  CHECK(first_line_is(p, chexpert_header));
  char *csv = slurp(p, NULL), *save = NULL;
  /* 5x K: frontal, class exactly 1, the other 12 observations (No Finding aside) exactly 0 with blanks as 0. */
  static const int classes[5] = {13, 7, 11, 10, 15}; /* Atelectasis, Cardiomegaly, Consolidation, Edema, Effusion */
  int clean[5] = {0}, rows = 0, missing = 0, uncertain = 0, lateral = 0;
  for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "Path,", 5)) continue;
    char *f[24];
    CHECK(fields(line, f, 24) == 19);
    rows++;
    char img[1100];
    snprintf(img, sizeof img, "%s/%s", root, f[0]);
    missing += !exists(img);
    CHECK(!strncmp(f[0], "CheXpert-v1.0-small/train/patient", 33));
    lateral += !strcmp(f[3], "Lateral");
    for (int k = 5; k < 19; k++) uncertain += !strcmp(f[k], "-1.0");
    if (strcmp(f[3], "Frontal")) continue;
    for (int c = 0; c < 5; c++) {
      if (strcmp(f[classes[c]], "1.0")) continue;
      int others = 0;
      for (int k = 6; k < 19; k++)
        if (k != classes[c] && f[k][0] && strcmp(f[k], "0.0")) others++;
      clean[c] += others == 0;
    }
  }
  free(csv);
  CHECK(rows > 20 && missing == 0 && lateral > 0);
  for (int c = 0; c < 5; c++) CHECK_MSG(clean[c] >= clean_per_class, "class %d: %d clean rows", c, clean[c]);
  snprintf(p, sizeof p, "%s/CheXpert-v1.0-small/valid.csv", root);
  CHECK(first_line_is(p, chexpert_header));
  csv = slurp(p, NULL);
  CHECK(csv && strstr(csv, "CheXpert-v1.0-small/valid/patient00001/study1/view1_frontal.jpg") && !strstr(csv, "-1.0"));
  free(csv);
}

static void check_rsna(const char *root) {
  char p[1024];
  snprintf(p, sizeof p, "%s/stage_2_train_labels.csv", root);
  CHECK(first_line_is(p, "patientId,x,y,width,height,Target"));
  char *csv = slurp(p, NULL), *save = NULL;
  int pos = 0, neg = 0, bad = 0, missing = 0, dicm = 0;
  for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "patientId", 9)) continue;
    char *f[8];
    if (fields(line, f, 8) != 6) bad++;
    if (!strcmp(f[5], "1")) {
      pos++;
      double x = atof(f[1]), y = atof(f[2]), w = atof(f[3]), h = atof(f[4]);
      if (!f[1][0] || w < 16 || h < 16 || x < 0 || y < 0 || x + w > 1024.01 || y + h > 1024.01) bad++;
    } else if (!strcmp(f[5], "0")) {
      neg++;
      if (f[1][0] || f[2][0] || f[3][0] || f[4][0]) bad++;
    } else {
      bad++;
    }
    snprintf(p, sizeof p, "%s/stage_2_train_images/%s.dcm", root, f[0]);
    size_t n = 0;
    char *d = slurp(p, &n);
    if (!d) missing++;
    else dicm += n > 132 + 64 * 64 && !memcmp(d + 128, "DICM", 4) && memmem(d, n, "1.2.840.10008.1.2.1", 19);
    free(d);
  }
  free(csv);
  CHECK_MSG(bad == 0 && missing == 0 && pos > 0 && neg > 0 && dicm == pos + neg, "bad %d missing %d pos %d neg %d dicm %d",
            bad, missing, pos, neg, dicm);
}

static void check_siim(const char *root) {
  char p[1024];
  snprintf(p, sizeof p, "%s/train-rle.csv", root);
  CHECK(first_line_is(p, "ImageId, EncodedPixels"));
  char *csv = slurp(p, NULL), *save = NULL;
  int none = 0, masks = 0, bad = 0, two = 0;
  char last[128] = "";
  for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "ImageId", 7)) continue;
    char *f[4];
    if (fields(line, f, 4) != 2) bad++;
    if (!strcmp(f[0], last)) two++;
    snprintf(last, sizeof last, "%s", f[0]);
    if (!strcmp(f[1], " -1")) {
      none++;
      continue;
    }
    /* Relative column-major RLE inside a 64x64 image. */
    long pos = 0, area = 0;
    char *s = f[1];
    while (*s) {
      char *e;
      long off = strtol(s, &e, 10);
      if (e == s) break;
      long len = strtol(e, &s, 10);
      if (off < 0 || len <= 0) bad++;
      pos += off + len;
      area += len;
    }
    if (pos > 64 * 64 || area == 0) bad++;
    masks++;
  }
  free(csv);
  CHECK(bad == 0 && none > 0 && masks > 0 && two > 0);
  int files = 0, differ = 0, temps = 0;
  snprintf(p, sizeof p, "%s/dicom-images-train", root);
  walk(p, NULL, &files, &differ, &temps);
  CHECK(files == 30);
}

int main(void) {
  char a[] = "/tmp/prior_synth_trees_XXXXXX", b[] = "/tmp/prior_synth_trees_XXXXXX", c[] = "/tmp/prior_synth_trees_XXXXXX";
  CHECK(mkdtemp(a) && mkdtemp(b) && mkdtemp(c));
  prior_synth_config cfg;
  small_config(&cfg, 21);
  omp_set_num_threads(2);
  write_all(&cfg, a);
  omp_set_num_threads(1);
  write_all(&cfg, b);
  omp_set_num_threads(2);
  check_mimic(a);
  check_chexpert(a, cfg.chexpert_clean_per_class);
  check_rsna(a);
  check_siim(a);

  /* Determinism: every file identical across thread counts; nothing temporary left. */
  int files = 0, differ = 0, temps = 0;
  walk(a, b, &files, &differ, &temps);
  CHECK_MSG(files > 150 && differ == 0 && temps == 0, "%d files, %d differ, %d temporary", files, differ, temps);
  /* Another seed gives other data. */
  small_config(&cfg, 22);
  CHECK_OK(prior_synth_write_mimic(&cfg, c));
  char p[1024], q[1024];
  snprintf(p, sizeof p, "%s/mimic-cxr-2.0.0-chexpert.csv", a);
  snprintf(q, sizeof q, "%s/mimic-cxr-2.0.0-chexpert.csv", c);
  CHECK(!same_file(p, q));

  /* Errors: a root under a regular file, sizes out of range. */
  snprintf(p, sizeof p, "%s/mimic-cxr-2.0.0-split.csv/sub", a);
  CHECK_ERR(prior_synth_write_rsna(&cfg, p), PRIOR_ERR_IO, "mimic-cxr-2.0.0-split.csv");
  cfg.image_size = 8;
  CHECK_ERR(prior_synth_write_siim(&cfg, c), PRIOR_ERR_ARGUMENT, "image_size 8");
  cfg.image_size = 64;
  cfg.mimic_subjects = -1;
  CHECK_ERR(prior_synth_write_mimic(&cfg, c), PRIOR_ERR_ARGUMENT, "mimic_subjects -1");
  CHECK_ERR(prior_synth_write_chexpert(NULL, c), PRIOR_ERR_ARGUMENT, "NULL");
  rm_rf(a);
  rm_rf(b);
  rm_rf(c);
  return check_summary("test_synth_trees");
}
