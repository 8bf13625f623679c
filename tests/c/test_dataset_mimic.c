/* MIMIC-CXR-JPG reader on a hand-made tree: CSV joins, the frontal filter, studies with several frontal images,
 * report filters and their counts, split selection, label policies, and broken CSVs. */
#include "ds_util.h"

#include "check.h"
#include "prior/dataset.h"

#define LABELS "Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion," \
               "Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices"

static const char *GOOD = "FINAL REPORT\nEXAMINATION: Chest PA and lateral.\n\nFINDINGS:\nThe lungs are clear. "
                          "There is no\neffusion. The heart size is normal.\n\nIMPRESSION:\nNo acute process. "
                          "Stable since ___.\n";
static const char *SHORT = "FINDINGS: Lungs clear.\nIMPRESSION: Normal.\n";
static const char *NO_SECTIONS = "FINAL REPORT\nINDICATION: Cough. Fever. Pain. Dyspnea. Tachycardia.\n";
static const char *FINDINGS4 = "FINDINGS: One. Two. Three. Four.\n";
static const char *IMPRESSION4 = "IMPRESSION: Alpha is seen. Beta is seen. Gamma is seen. Delta is seen.\n";

static void make_tree(const char *root) {
  char p[4096];
  ds_write_text(ds_path(p, root, "mimic-cxr-2.0.0-metadata.csv"),
                "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\n"
                "d1,10000001,50000001,CHEST (PA AND LAT),PA,16,16\n"
                "d2,10000001,50000001,CHEST (PA AND LAT),LATERAL,16,16\n"
                "d3,10000001,50000001,CHEST (PA AND LAT),AP,16,16\n"
                "d4,10000001,50000002,CHEST (LAT),LATERAL,16,16\n"
                "d5,10000002,50000003,CHEST,PA,16,16\n"
                "d6,10000002,50000004,CHEST,PA,16,16\n"
                "d7,10000003,50000005,CHEST,PA,16,16\n"
                "d8,10000003,50000006,CHEST,PA,16,16\n"
                "d9,10000004,50000007,CHEST,PA,16,16\n"
                "d10,10000004,50000008,CHEST,AP,16,16\n"
                "d11,11000005,50000009,CHEST,PA,16,16\n");
  ds_write_text(ds_path(p, root, "mimic-cxr-2.0.0-split.csv"),
                "dicom_id,study_id,subject_id,split\n"
                "d1,50000001,10000001,train\nd2,50000001,10000001,train\nd3,50000001,10000001,train\n"
                "d4,50000002,10000001,train\nd5,50000003,10000002,train\nd6,50000004,10000002,train\n"
                "d7,50000005,10000003,validate\nd8,50000006,10000003,validate\nd9,50000007,10000004,test\n"
                "d10,50000008,10000004,test\nd11,50000009,11000005,train\n");
  ds_write_text(ds_path(p, root, "mimic-cxr-2.0.0-chexpert.csv"),
                "subject_id,study_id," LABELS "\n"
                "10000001,50000001,1.0,,-1.0,0.0,,,,,,,,,,1.0\n"
                "10000002,50000003,,,,,,,,,1.0,,,,,\n"
                "10000004,50000008,-1.0,1.0,,,,,,,,,,,,\n");
  /* Images: all frontal ones except d9 (missing); the lateral d2, d4 exist too. */
  const char *img[] = {"files/p10/p10000001/s50000001/d1.jpg", "files/p10/p10000001/s50000001/d2.jpg",
                       "files/p10/p10000001/s50000001/d3.jpg", "files/p10/p10000001/s50000002/d4.jpg",
                       "files/p10/p10000002/s50000003/d5.jpg", "files/p10/p10000002/s50000004/d6.jpg",
                       "files/p10/p10000003/s50000005/d7.jpg", "files/p10/p10000003/s50000006/d8.jpg",
                       "files/p10/p10000004/s50000008/d10.jpg", "files/p11/p11000005/s50000009/d11.jpg"};
  for (int k = 0; k < 10; k++) ds_write_jpeg(ds_path(p, root, img[k]), 16, 16, k);
  ds_write_text(ds_path(p, root, "files/p10/p10000001/s50000001.txt"), GOOD);
  ds_write_text(ds_path(p, root, "files/p10/p10000001/s50000002.txt"), GOOD);
  ds_write_text(ds_path(p, root, "files/p10/p10000002/s50000003.txt"), SHORT);
  ds_write_text(ds_path(p, root, "files/p10/p10000002/s50000004.txt"), ""); /* empty report */
  ds_write_text(ds_path(p, root, "files/p10/p10000003/s50000005.txt"), NO_SECTIONS);
  /* s50000006: no report file */
  ds_write_text(ds_path(p, root, "files/p10/p10000004/s50000007.txt"), GOOD);
  ds_write_text(ds_path(p, root, "files/p10/p10000004/s50000008.txt"), FINDINGS4);
  ds_write_text(ds_path(p, root, "files/p11/p11000005/s50000009.txt"), IMPRESSION4);
}

static void test_all(const char *root) {
  prior_mimic_options opt;
  prior_mimic_options_default(&opt);
  opt.root = root;
  prior_dataset *ds = NULL;
  CHECK_OK(prior_mimic_open(&opt, &ds));
  if (!ds) return;
  CHECK(prior_dataset_size(ds) == 3);
  CHECK(!strcmp(prior_dataset_kind(ds), "mimic"));
  CHECK(prior_dataset_image_format(ds) == PRIOR_IMAGE_JPEG);
  CHECK(!strcmp(prior_dataset_id(ds, 0), "s50000001"));
  CHECK(!strcmp(prior_dataset_id(ds, 1), "s50000008"));
  CHECK(!strcmp(prior_dataset_id(ds, 2), "s50000009"));
  CHECK(prior_dataset_find(ds, "s50000009") == 2);
  /* Two frontal images (PA and AP), the lateral left out. */
  CHECK(prior_dataset_image_count(ds, 0) == 2);
  const char *p0 = prior_dataset_image_path(ds, 0, 0), *p1 = prior_dataset_image_path(ds, 0, 1);
  CHECK(p0 && strstr(p0, "/files/p10/p10000001/s50000001/d1.jpg"));
  CHECK(p1 && strstr(p1, "/files/p10/p10000001/s50000001/d3.jpg"));
  CHECK(prior_dataset_image_path(ds, 0, 2) == NULL);
  CHECK(prior_dataset_image_count(ds, 2) == 1);
  CHECK(strstr(prior_dataset_image_path(ds, 2, 0), "/files/p11/p11000005/s50000009/d11.jpg") != NULL);
  /* Sentences: IMPRESSION first, then FINDINGS; wrapped lines joined. */
  CHECK(prior_dataset_sentence_count(ds, 0) == 5);
  CHECK(!strcmp(prior_dataset_sentence(ds, 0, 0), "No acute process."));
  CHECK(!strcmp(prior_dataset_sentence(ds, 0, 1), "Stable since ___."));
  CHECK(!strcmp(prior_dataset_sentence(ds, 0, 2), "The lungs are clear."));
  CHECK(!strcmp(prior_dataset_sentence(ds, 0, 3), "There is no effusion."));
  CHECK(prior_dataset_sentence(ds, 0, 5) == NULL);
  CHECK(prior_dataset_sentence_count(ds, 1) == 4);
  CHECK(prior_dataset_sentence_count(ds, 2) == 4);
  /* Labels: 14 in the CSV's order; blank -> 0, -1 -> 0 (U-Zeros), unlabeled study -> zeros. */
  CHECK(prior_dataset_label_count(ds) == 14);
  CHECK(!strcmp(prior_dataset_label_name(ds, 0), "Atelectasis"));
  CHECK(!strcmp(prior_dataset_label_name(ds, 13), "Support Devices"));
  float l[14];
  CHECK_OK(prior_dataset_labels(ds, 0, l));
  CHECK(l[0] == 1 && l[1] == 0 && l[2] == 0 && l[3] == 0 && l[13] == 1);
  CHECK_OK(prior_dataset_labels(ds, 1, l));
  CHECK(l[0] == 0 && l[1] == 1);
  CHECK_OK(prior_dataset_labels(ds, 2, l));
  int zero = 1;
  for (int k = 0; k < 14; k++) zero &= l[k] == 0;
  CHECK(zero);
  CHECK_ERR(prior_dataset_labels(ds, 3, l), PRIOR_ERR_INDEX, "out of range");
  /* Drop counts. */
  prior_dataset_drops d;
  prior_dataset_get_drops(ds, &d);
  CHECK(d.lateral == 2);         /* d2, d4 */
  CHECK(d.lateral_only == 1);    /* s50000002 */
  CHECK(d.short_report == 1);    /* s50000003 */
  CHECK(d.no_sections == 2);     /* s50000004 (empty), s50000005 (no FINDINGS/IMPRESSION) */
  CHECK(d.missing_report == 1);  /* s50000006 */
  CHECK(d.missing_image == 1 && d.no_image == 1); /* s50000007 */
  CHECK(d.unlabeled == 1);       /* s50000009 */
  CHECK(d.other_split == 0);
  char buf[256];
  CHECK(strstr(prior_dataset_drops_str(ds, buf, sizeof buf), "lateral_only 1") != NULL);
  prior_dataset_free(ds);

  /* Uncertain labels kept, then as ones. */
  opt.uncertain = PRIOR_UNCERTAIN_KEEP;
  CHECK_OK(prior_mimic_open(&opt, &ds));
  CHECK_OK(prior_dataset_labels(ds, 0, l));
  CHECK(l[2] == -1);
  prior_dataset_free(ds);
  opt.uncertain = PRIOR_UNCERTAIN_ONE;
  CHECK_OK(prior_mimic_open(&opt, &ds));
  CHECK_OK(prior_dataset_labels(ds, 1, l));
  CHECK(l[0] == 1);
  prior_dataset_free(ds);

  /* Without checking images, the study whose image is missing stays (its report is fine). */
  prior_mimic_options_default(&opt);
  opt.root = root;
  opt.check_images = 0;
  CHECK_OK(prior_mimic_open(&opt, &ds));
  CHECK(prior_dataset_size(ds) == 4);
  prior_dataset_free(ds);
}

static void test_splits(const char *root) {
  prior_mimic_options opt;
  prior_mimic_options_default(&opt);
  opt.root = root;
  opt.split = "train";
  prior_dataset *ds = NULL;
  CHECK_OK(prior_mimic_open(&opt, &ds));
  CHECK(prior_dataset_size(ds) == 2);
  CHECK(!strcmp(prior_dataset_id(ds, 0), "s50000001") && !strcmp(prior_dataset_id(ds, 1), "s50000009"));
  prior_dataset_drops d;
  prior_dataset_get_drops(ds, &d);
  CHECK(d.other_split == 4);
  prior_dataset_free(ds);
  opt.split = "test";
  CHECK_OK(prior_mimic_open(&opt, &ds));
  CHECK(prior_dataset_size(ds) == 1 && !strcmp(prior_dataset_id(ds, 0), "s50000008"));
  prior_dataset_free(ds);
  opt.split = "validate";
  CHECK_OK(prior_mimic_open(&opt, &ds));
  CHECK(prior_dataset_size(ds) == 0);
  prior_dataset_free(ds);
  opt.split = "training";
  CHECK_ERR(prior_mimic_open(&opt, &ds), PRIOR_ERR_ARGUMENT, "'training'");
  CHECK(ds == NULL);
}

static void test_broken(const char *root) {
  char p[4096];
  prior_mimic_options opt;
  prior_mimic_options_default(&opt);
  opt.root = root;
  prior_dataset *ds = NULL;
  /* A metadata CSV without ViewPosition: the error names the column and the file. */
  ds_write_text(ds_path(p, root, "mimic-cxr-2.0.0-metadata.csv"),
                "dicom_id,subject_id,study_id\nd1,10000001,50000001\n");
  CHECK_ERR(prior_mimic_open(&opt, &ds), PRIOR_ERR_FORMAT, "'ViewPosition'");
  CHECK(strstr(prior_error_message(), "mimic-cxr-2.0.0-metadata.csv") != NULL);
  CHECK(ds == NULL);
  /* Only the gzipped CSV present: the error says to decompress it. */
  remove(p);
  ds_write_text(ds_path(p, root, "mimic-cxr-2.0.0-metadata.csv.gz"), "not really gzip");
  CHECK_ERR(prior_mimic_open(&opt, &ds), PRIOR_ERR_IO, "gunzip");
  remove(p);
  /* A label CSV with a non-number label. */
  ds_write_text(ds_path(p, root, "mimic-cxr-2.0.0-metadata.csv"), "dicom_id,subject_id,study_id,ViewPosition\n"
                                                                   "d1,10000001,50000001,PA\n");
  ds_write_text(ds_path(p, root, "mimic-cxr-2.0.0-chexpert.csv"), "subject_id,study_id,Edema\n"
                                                                  "10000001,50000001,maybe\n");
  CHECK_ERR(prior_mimic_open(&opt, &ds), PRIOR_ERR_FORMAT, "'maybe' is not a number");
  /* A missing root. */
  opt.root = "/nonexistent/mimic";
  CHECK_ERR(prior_mimic_open(&opt, &ds), PRIOR_ERR_IO, "mimic-cxr-2.0.0-metadata.csv");
  CHECK_ERR(prior_mimic_open(NULL, &ds), PRIOR_ERR_ARGUMENT, "root");
}

int main(void) {
  char root[1024];
  ds_tmpdir(root, sizeof root, "mimic");
  make_tree(root);
  test_all(root);
  test_splits(root);
  test_broken(root);
  ds_rm_rf(root);
  return check_summary("test_dataset_mimic");
}
