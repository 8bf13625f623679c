/* CheXpert reader and the 5x200 builder on a hand-made tree: both roots, the frontal filter, label policies, the
 * selection rules (exactly 1 / exactly 0, blanks as 0, uncertain excluded), determinism, CSV and JSON read-back. */
#include "ds_util.h"

#include "check.h"
#include "prior/dataset.h"

#define HEADER "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity," \
               "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,"   \
               "Fracture,Support Devices\n"
/* Column of each observation among the 14 (CSV order). */
enum { NOF = 0, ENL, CARDIO, OPAC, LESION, EDEMA, CONSOL, PNEU, ATEL, PTX, EFF, POTHER, FRAC, SUPPORT };
static const int five[5] = {ATEL, CARDIO, CONSOL, EDEMA, EFF};

static int eligible[5][64], neligible[5];

/* Appends a row whose 14 observations are given as text ("" blank). */
static void row(FILE *f, const char *root, int *patient, const char *view, const char *obs[14], int eligible_for) {
  char rel[256], p[4096];
  snprintf(rel, sizeof rel, "CheXpert-v1.0-small/train/patient%05d/study1/view1_%s.jpg", *patient,
           !strcmp(view, "Frontal") ? "frontal" : "lateral");
  ds_write_jpeg(ds_path(p, root, rel), 8, 8, *patient);
  fprintf(f, "%s,Female,50,%s,AP", rel, view);
  for (int k = 0; k < 14; k++) fprintf(f, ",%s", obs[k]);
  fprintf(f, "\n");
  if (eligible_for >= 0) eligible[eligible_for][neligible[eligible_for]++] = *patient;
  (*patient)++;
}

static void make_tree(const char *root) {
  char p[4096];
  ds_mkdirs_for(ds_path(p, root, "CheXpert-v1.0-small/x"));
  FILE *f = fopen(ds_path(p, root, "CheXpert-v1.0-small/train.csv"), "w");
  fputs(HEADER, f);
  int patient = 1;
  for (int c = 0; c < 5; c++) {
    for (int r = 0; r < 6; r++) {
      const char *obs[14];
      for (int k = 0; k < 14; k++) obs[k] = r % 2 ? "0.0" : ""; /* blanks count as 0 */
      obs[five[c]] = "1.0";
      obs[NOF] = r == 1 ? "1.0" : ""; /* No Finding unconstrained */
      row(f, root, &patient, "Frontal", obs, c);
    }
    const char *obs[14];
    for (int k = 0; k < 14; k++) obs[k] = "0.0";
    obs[five[c]] = "1.0";
    row(f, root, &patient, "Lateral", obs, -1); /* lateral: never selected */
    obs[PNEU] = "-1.0";
    row(f, root, &patient, "Frontal", obs, -1); /* uncertain other observation: not exactly 0 */
    obs[PNEU] = "0.0";
    obs[five[(c + 1) % 5]] = "1.0";
    row(f, root, &patient, "Frontal", obs, -1); /* two of the five */
    obs[five[(c + 1) % 5]] = "0.0";
    obs[five[c]] = "-1.0";
    row(f, root, &patient, "Frontal", obs, -1); /* the class itself uncertain */
  }
  fclose(f);
  ds_write_text(ds_path(p, root, "CheXpert-v1.0-small/valid.csv"),
                HEADER "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,"
                       "1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\n");
}

static int patient_of(const char *id) {
  const char *s = strstr(id, "patient");
  return s ? atoi(s + 7) : -1;
}

static void test_reader(const char *root) {
  char dir[4096], p[4096];
  prior_chexpert_options opt;
  prior_chexpert_options_default(&opt);
  prior_dataset *a = NULL, *b = NULL;
  /* Root above the dataset folder, and the dataset folder itself: the same samples and files. */
  opt.root = root;
  CHECK_OK(prior_chexpert_open(&opt, &a));
  opt.root = ds_path(dir, root, "CheXpert-v1.0-small");
  CHECK_OK(prior_chexpert_open(&opt, &b));
  if (!a || !b) return;
  CHECK(prior_dataset_size(a) == 5 * 9 && prior_dataset_size(b) == 5 * 9);
  prior_dataset_drops d;
  prior_dataset_get_drops(a, &d);
  CHECK(d.lateral == 5);
  CHECK(!strcmp(prior_dataset_id(a, 0), "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"));
  int same = 1;
  for (int64_t i = 0; i < prior_dataset_size(a); i++) {
    const char *pa = prior_dataset_image_path(a, i, 0);
    same &= prior_ds_file_exists_test(pa);
    (void)p;
  }
  CHECK(same);
  CHECK(!strcmp(prior_dataset_label_name(a, 0), "No Finding"));
  CHECK(!strcmp(prior_dataset_label_name(a, 13), "Support Devices"));
  /* Uncertain policies on row "class itself uncertain" of Atelectasis (row index 8 of 45). */
  float l[14];
  CHECK_OK(prior_dataset_labels(a, 8, l));
  CHECK(l[ATEL] == 0);
  prior_dataset_free(a);
  opt.root = root;
  opt.uncertain = PRIOR_UNCERTAIN_ONE;
  CHECK_OK(prior_chexpert_open(&opt, &a));
  CHECK_OK(prior_dataset_labels(a, 8, l));
  CHECK(l[ATEL] == 1);
  prior_dataset_free(a);
  opt.uncertain = PRIOR_UNCERTAIN_KEEP;
  opt.frontal_only = 0;
  CHECK_OK(prior_chexpert_open(&opt, &a));
  CHECK(prior_dataset_size(a) == 50);
  CHECK_OK(prior_dataset_labels(a, 9, l)); /* with laterals kept, row 9 is that row */
  CHECK(l[ATEL] == -1);
  prior_dataset_free(a);
  /* valid.csv; images checked: its image is missing. */
  opt.split = "valid";
  CHECK_OK(prior_chexpert_open(&opt, &a));
  CHECK(prior_dataset_size(a) == 1);
  prior_dataset_free(a);
  opt.check_images = 1;
  CHECK_OK(prior_chexpert_open(&opt, &a));
  CHECK(prior_dataset_size(a) == 0);
  prior_dataset_get_drops(a, &d);
  CHECK(d.missing_image == 1);
  prior_dataset_free(a);
  prior_dataset_free(b);
  opt.split = "test";
  CHECK_ERR(prior_chexpert_open(&opt, &a), PRIOR_ERR_ARGUMENT, "'test'");
  opt.split = "train";
  opt.root = "/nonexistent";
  CHECK_ERR(prior_chexpert_open(&opt, &a), PRIOR_ERR_IO, "train.csv");
}

static void test_5x200(const char *root) {
  char out1[4096], out2[4096], out3[4096];
  ds_path(out1, root, "sel1.csv");
  ds_path(out2, root, "sel2.csv");
  ds_path(out3, root, "sel3.csv");
  prior_dataset *s1 = NULL, *s2 = NULL, *s3 = NULL, *back = NULL;
  CHECK_OK(prior_chexpert5x200_build(root, 4, 7, out1, &s1));
  CHECK_OK(prior_chexpert5x200_build(root, 4, 7, out2, &s2));
  CHECK_OK(prior_chexpert5x200_build(root, 4, 8, out3, &s3));
  if (!s1 || !s2 || !s3) return;
  CHECK(prior_dataset_size(s1) == 20);
  CHECK(prior_dataset_label_count(s1) == 5);
  CHECK(!strcmp(prior_dataset_label_name(s1, 4), "Pleural Effusion"));
  CHECK(!strcmp(prior_chexpert5x200_class(0), "Atelectasis") && prior_chexpert5x200_class(5) == NULL);
  int ok = 1, differs = 0;
  for (int64_t i = 0; i < 20; i++) {
    int c = (int)(i / 4), pat = patient_of(prior_dataset_id(s1, i));
    float l[5];
    prior_dataset_labels(s1, i, l);
    ok &= l[c] == 1 && l[0] + l[1] + l[2] + l[3] + l[4] == 1;
    int found = 0;
    for (int k = 0; k < neligible[c]; k++) found |= eligible[c][k] == pat;
    ok &= found;
    ok &= !strcmp(prior_dataset_id(s1, i), prior_dataset_id(s2, i)); /* same seed, same selection */
    differs |= strcmp(prior_dataset_id(s1, i), prior_dataset_id(s3, i)) != 0;
    ok &= prior_ds_file_exists_test(prior_dataset_image_path(s1, i, 0));
  }
  CHECK(ok);
  CHECK(differs);
  /* The files are identical for the same seed, and read back to the same selection from either root. */
  FILE *f1 = fopen(out1, "rb"), *f2 = fopen(out2, "rb");
  char b1[8192], b2[8192];
  size_t n1 = fread(b1, 1, sizeof b1, f1), n2 = fread(b2, 1, sizeof b2, f2);
  fclose(f1);
  fclose(f2);
  CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
  CHECK(!strncmp(b1, "path,label_index,class\nCheXpert-v1.0-small/train/", 49));
  char dir[4096];
  for (int r = 0; r < 2; r++) {
    CHECK_OK(prior_chexpert5x200_read(out1, r ? ds_path(dir, root, "CheXpert-v1.0-small") : root, &back));
    if (!back) continue;
    CHECK(prior_dataset_size(back) == 20);
    int same = 1;
    for (int64_t i = 0; i < 20; i++) {
      float a[5], b[5];
      prior_dataset_labels(s1, i, a);
      prior_dataset_labels(back, i, b);
      same &= !strcmp(prior_dataset_id(s1, i), prior_dataset_id(back, i)) && !memcmp(a, b, sizeof a) &&
              !strcmp(prior_dataset_image_path(s1, i, 0), prior_dataset_image_path(back, i, 0));
    }
    CHECK(same);
    prior_dataset_free(back);
  }
  /* The reference's JSON format. */
  char js[4096];
  ds_write_text(ds_path(js, root, "sel.json"),
                "{\"a\": {\"image_path\": \"CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg\", "
                "\"label\": [1, 0, 0, 0, 0]},\n \"b\": {\"image_path\": "
                "\"CheXpert-v1.0-small/train/patient00010/study1/view1_frontal.jpg\", \"label\": [0, 1, 0, 0, 0]}}");
  CHECK_OK(prior_chexpert5x200_read_json(js, root, &back));
  if (back) {
    float l[5];
    CHECK(prior_dataset_size(back) == 2);
    prior_dataset_labels(back, 1, l);
    CHECK(l[1] == 1 && l[0] == 0);
    CHECK(prior_ds_file_exists_test(prior_dataset_image_path(back, 1, 0)));
    prior_dataset_free(back);
  }
  ds_write_text(js, "{\"a\": {\"image_path\": \"x.jpg\", \"label\": [1, 1, 0, 0, 0]}}");
  CHECK_ERR(prior_chexpert5x200_read_json(js, root, &back), PRIOR_ERR_FORMAT, "one-hot");
  ds_write_text(js, "[1, 2]");
  CHECK_ERR(prior_chexpert5x200_read_json(js, root, &back), PRIOR_ERR_FORMAT, "expected an object");
  /* Broken selection CSVs: a missing column, a label that disagrees with its class. */
  ds_write_text(out3, "path,class\nx.jpg,Edema\n");
  CHECK_ERR(prior_chexpert5x200_read(out3, root, &back), PRIOR_ERR_FORMAT, "'label_index'");
  CHECK(strstr(prior_error_message(), "sel3.csv") != NULL);
  ds_write_text(out3, "path,label_index,class\nx.jpg,1,Edema\n");
  CHECK_ERR(prior_chexpert5x200_read(out3, root, &back), PRIOR_ERR_FORMAT, "do not agree");
  /* More per class than there are eligible rows: an error naming the class. */
  CHECK_ERR(prior_chexpert5x200_build(root, 7, 7, out3, NULL), PRIOR_ERR_ARGUMENT, "Atelectasis has 6");
  prior_dataset_free(s1);
  prior_dataset_free(s2);
  prior_dataset_free(s3);
}

int main(void) {
  char root[1024];
  ds_tmpdir(root, sizeof root, "chexpert");
  make_tree(root);
  test_reader(root);
  test_5x200(root);
  ds_rm_rf(root);
  return check_summary("test_dataset_chexpert");
}
