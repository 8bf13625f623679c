/* RSNA and SIIM readers on hand-made trees (boxes per patient, nested DICOM folders, OR-ed RLE rows, broken rows),
 * and split files: sizes, reuse, subsets, mismatches, and the published split sizes. */
#include "ds_util.h"

#include "check.h"
#include "data/dataset_internal.h"
#include "prior/csv.h"
#include "prior/dataset.h"

static void test_rsna(const char *root) {
  char p[4096];
  ds_write_text(ds_path(p, root, "stage_2_train_labels.csv"),
                "patientId,x,y,width,height,Target\n"
                "pa,264.0,152.0,213.0,379.0,1\n"
                "pb,,,,,0\n"
                "pa,562.0,152.0,256.0,453.0,1\n"
                "pc,,,,,0\n"
                "pd,100,100,50,50,1\n");
  ds_write_dicom(ds_path(p, root, "stage_2_train_images/pa.dcm"), 32, 32, 1);
  ds_write_dicom(ds_path(p, root, "stage_2_train_images/pb.dcm"), 32, 32, 2);
  ds_write_dicom(ds_path(p, root, "stage_2_train_images/pd.dcm"), 32, 32, 3);
  prior_rsna_options opt;
  prior_rsna_options_default(&opt);
  opt.root = root;
  prior_dataset *ds = NULL;
  CHECK_OK(prior_rsna_open(&opt, &ds));
  if (!ds) return;
  CHECK(prior_dataset_size(ds) == 3);
  CHECK(prior_dataset_image_format(ds) == PRIOR_IMAGE_DICOM);
  CHECK(!strcmp(prior_dataset_id(ds, 0), "pa") && !strcmp(prior_dataset_id(ds, 1), "pb") &&
        !strcmp(prior_dataset_id(ds, 2), "pd"));
  CHECK(prior_dataset_box_count(ds, 0) == 2 && prior_dataset_box_count(ds, 1) == 0);
  float b[4], l[1];
  CHECK_OK(prior_dataset_box(ds, 0, 1, b));
  CHECK_NEAR(b[0], 562.0 / 1024, 1e-6);
  CHECK_NEAR(b[3], 453.0 / 1024, 1e-6);
  CHECK_ERR(prior_dataset_box(ds, 0, 2, b), PRIOR_ERR_INDEX, "box 2");
  CHECK_OK(prior_dataset_labels(ds, 0, l));
  CHECK(l[0] == 1);
  CHECK_OK(prior_dataset_labels(ds, 1, l));
  CHECK(l[0] == 0);
  CHECK(!strcmp(prior_dataset_label_name(ds, 0), "Pneumonia"));
  prior_dataset_drops d;
  prior_dataset_get_drops(ds, &d);
  CHECK(d.missing_image == 1); /* pc */
  CHECK(strstr(prior_dataset_image_path(ds, 2, 0), "stage_2_train_images/pd.dcm") != NULL);
  /* A split is over images: pa's two box rows are one split-file row, so they can never be separated. */
  char split[4096];
  CHECK_OK(prior_split_ensure(ds, ds_path(split, root, "rsna_split.csv"), 0.34, 0.34, 5));
  prior_csv *csv = NULL;
  CHECK_OK(prior_csv_read(split, &csv));
  if (csv) {
    int pa_rows = 0;
    for (long long r = 0; r < prior_csv_rows(csv); r++) pa_rows += !strcmp(prior_csv_cell(csv, r, 0), "pa");
    CHECK(prior_csv_rows(csv) == 3 && pa_rows == 1);
    prior_csv_free(csv);
  }
  prior_dataset_free(ds);
  /* Broken: a Target 1 row without a box, a Target of 2, a missing column. */
  ds_write_text(ds_path(p, root, "stage_2_train_labels.csv"), "patientId,x,y,width,height,Target\npa,,,,,1\n");
  CHECK_ERR(prior_rsna_open(&opt, &ds), PRIOR_ERR_FORMAT, "line 2: a Target 1 row needs");
  ds_write_text(ds_path(p, root, "stage_2_train_labels.csv"), "patientId,x,y,width,height,Target\npa,,,,,2\n");
  CHECK_ERR(prior_rsna_open(&opt, &ds), PRIOR_ERR_FORMAT, "Target is 2");
  ds_write_text(ds_path(p, root, "stage_2_train_labels.csv"), "patientId,x,y,width,height\npa,1,1,1,1\n");
  CHECK_ERR(prior_rsna_open(&opt, &ds), PRIOR_ERR_FORMAT, "no column 'Target'");
  CHECK(strstr(prior_error_message(), "stage_2_train_labels.csv") != NULL);
  CHECK(ds == NULL);
}

static void test_siim(const char *root) {
  char p[4096];
  /* The real header has a space before EncodedPixels, and cells keep theirs. */
  ds_write_text(ds_path(p, root, "train-rle.csv"),
                "ImageId, EncodedPixels\n"
                "img1, 2 3\n"
                "img2, -1\n"
                "img1, 10 2\n"
                "img3, 1000 5\n"
                "img4, -1\n");
  ds_write_dicom(ds_path(p, root, "dicom-images-train/1.2.3/1.2.3.4/img1.dcm"), 8, 4, 1);
  ds_write_dicom(ds_path(p, root, "dicom-images-train/1.2.5/1.2.5.4/img2.dcm"), 8, 4, 2);
  ds_write_dicom(ds_path(p, root, "dicom-images-train/img3.dcm"), 8, 4, 3);
  prior_siim_options opt;
  prior_siim_options_default(&opt);
  opt.root = root;
  prior_dataset *ds = NULL;
  CHECK_OK(prior_siim_open(&opt, &ds));
  if (!ds) return;
  CHECK(prior_dataset_size(ds) == 3);
  CHECK(prior_dataset_has_masks(ds));
  CHECK(strstr(prior_dataset_image_path(ds, 0, 0), "dicom-images-train/1.2.3/1.2.3.4/img1.dcm") != NULL);
  CHECK(prior_dataset_rle_count(ds, 0) == 2 && prior_dataset_rle_count(ds, 1) == 0);
  float l[1];
  prior_dataset_labels(ds, 0, l);
  CHECK(l[0] == 1);
  prior_dataset_labels(ds, 1, l);
  CHECK(l[0] == 0);
  /* Two rows OR-ed, each relative from pixel 0, column-major: pixels 2..4 and 10..11 of an 8-wide, 4-high image. */
  uint8_t m[32];
  CHECK_OK(prior_dataset_mask(ds, 0, 8, 4, m));
  int sum = 0;
  for (int i = 0; i < 32; i++) sum += m[i];
  CHECK(sum == 5);
  CHECK(m[2 * 8 + 0] == 1 && m[3 * 8 + 0] == 1 && m[0 * 8 + 1] == 1 && m[2 * 8 + 2] == 1 && m[3 * 8 + 2] == 1);
  CHECK_OK(prior_dataset_mask(ds, 1, 8, 4, m));
  CHECK(m[0] == 0);
  /* An RLE that runs past the image: an error naming the sample. */
  CHECK_ERR(prior_dataset_mask(ds, 2, 8, 4, m), PRIOR_ERR_FORMAT, "sample img3");
  CHECK(strstr(prior_error_message(), "past the end") != NULL);
  prior_dataset_drops d;
  prior_dataset_get_drops(ds, &d);
  CHECK(d.missing_image == 1); /* img4 */
  prior_dataset_free(ds);
  /* Malformed RLE text, a missing column. */
  ds_write_text(ds_path(p, root, "train-rle.csv"), "ImageId, EncodedPixels\nimg1, 1 2 x\n");
  CHECK_ERR(prior_siim_open(&opt, &ds), PRIOR_ERR_FORMAT, "line 2: EncodedPixels of img1");
  ds_write_text(ds_path(p, root, "train-rle.csv"), "ImageId, Pixels\nimg1, 1 2\n");
  CHECK_ERR(prior_siim_open(&opt, &ds), PRIOR_ERR_FORMAT, "no column 'EncodedPixels'");
  CHECK(strstr(prior_error_message(), "train-rle.csv") != NULL);
}

static prior_dataset *numbered(int64_t n) {
  prior_dataset *ds = prior_ds_new("test", PRIOR_IMAGE_JPEG, 0, NULL);
  char id[32];
  for (int64_t i = 0; i < n; i++) {
    snprintf(id, sizeof id, "id%lld", (long long)i);
    prior_ds_push(ds, id);
  }
  return ds;
}

static int64_t count_split(const char *path, const prior_dataset *ds, const char *which, double f) {
  prior_dataset *s = NULL;
  if (prior_split_select(ds, path, which, f, &s) != PRIOR_OK) return -1;
  int64_t n = prior_dataset_size(s);
  prior_dataset_free(s);
  return n;
}

static void test_splits(const char *root) {
  char path[4096], p2[4096];
  ds_path(path, root, "split.csv");
  ds_path(p2, root, "split2.csv");
  /* The published sizes: RSNA 26,684 -> 16,010 / 5,337 / 5,337; SIIM 12,047 -> 7,229 / 2,409 / 2,409. */
  prior_dataset *big = numbered(26684);
  CHECK_OK(prior_split_ensure(big, path, 0.2, 0.2, 1));
  CHECK(count_split(path, big, "train", 1) == 16010);
  CHECK(count_split(path, big, "val", 1) == 5337);
  CHECK(count_split(path, big, "test", 1) == 5337);
  CHECK(count_split(path, big, "train", 0.01) == 160);
  CHECK(count_split(path, big, "train", 0.1) == 1601);
  prior_dataset_free(big);
  remove(path);
  big = numbered(12047);
  CHECK_OK(prior_split_ensure(big, path, 0.2, 0.2, 1));
  CHECK(count_split(path, big, "train", 1) == 7229);
  CHECK(count_split(path, big, "val", 1) == 2409);
  CHECK(count_split(path, big, "test", 1) == 2409);
  /* A file made for other data is refused, not silently reused. */
  prior_dataset *other = numbered(100);
  CHECK_ERR(prior_split_ensure(other, path, 0.2, 0.2, 1), PRIOR_ERR_FORMAT, "remove it");
  prior_dataset_free(big);
  remove(path);

  /* Small set: the subset is the head of the (shuffled) training rows; a reused file gives the same split; a
   * second seed gives another; splits are disjoint and cover everything. */
  CHECK_OK(prior_split_ensure(other, path, 0.2, 0.2, 42));
  CHECK_OK(prior_split_ensure(other, p2, 0.2, 0.2, 43));
  prior_dataset *tr = NULL, *tr10 = NULL, *va = NULL, *te = NULL, *tr_again = NULL, *tr2 = NULL;
  CHECK_OK(prior_split_select(other, path, "train", 1, &tr));
  CHECK_OK(prior_split_select(other, path, "train", 0.1, &tr10));
  CHECK_OK(prior_split_select(other, path, "val", 1, &va));
  CHECK_OK(prior_split_select(other, path, "test", 1, &te));
  CHECK_OK(prior_split_ensure(other, path, 0.2, 0.2, 99)); /* exists: read, not remade */
  CHECK_OK(prior_split_select(other, path, "train", 1, &tr_again));
  CHECK_OK(prior_split_select(other, p2, "train", 1, &tr2));
  CHECK(prior_dataset_size(tr) == 60 && prior_dataset_size(va) == 20 && prior_dataset_size(te) == 20);
  CHECK(prior_dataset_size(tr10) == 6);
  int head = 1, same = 1, differ = 0, in_order = 1;
  for (int i = 0; i < 6; i++) head &= !strcmp(prior_dataset_id(tr, i), prior_dataset_id(tr10, i));
  for (int i = 0; i < 60; i++) {
    same &= !strcmp(prior_dataset_id(tr, i), prior_dataset_id(tr_again, i));
    differ |= strcmp(prior_dataset_id(tr, i), prior_dataset_id(tr2, i)) != 0;
    in_order &= i == 0 || atoi(prior_dataset_id(tr, i) + 2) > atoi(prior_dataset_id(tr, i - 1) + 2);
  }
  CHECK(head && same && differ);
  CHECK(!in_order); /* shuffled */
  int seen[100] = {0};
  prior_dataset *parts[3] = {tr, va, te};
  for (int k = 0; k < 3; k++)
    for (int64_t i = 0; i < prior_dataset_size(parts[k]); i++) seen[atoi(prior_dataset_id(parts[k], i) + 2)]++;
  int once = 1;
  for (int i = 0; i < 100; i++) once &= seen[i] == 1;
  CHECK(once);
  prior_dataset *none = NULL;
  CHECK_ERR(prior_split_select(other, path, "validate", 1, &none), PRIOR_ERR_ARGUMENT, "'validate'");
  CHECK_ERR(prior_split_select(other, path, "train", 0, &none), PRIOR_ERR_ARGUMENT, "fraction");
  CHECK(none == NULL);
  CHECK_ERR(prior_split_ensure(other, p2, 0.7, 0.7, 1), PRIOR_ERR_ARGUMENT, "fractions");
  prior_dataset_free(tr);
  prior_dataset_free(tr10);
  prior_dataset_free(va);
  prior_dataset_free(te);
  prior_dataset_free(tr_again);
  prior_dataset_free(tr2);
  /* A damaged file: a row naming an unknown split, a duplicated id, duplicate ids in the dataset. */
  ds_write_text(p2, "id,split\nid0,train\nid1,dev\n");
  prior_dataset *two = numbered(2);
  CHECK_ERR(prior_split_ensure(two, p2, 0.5, 0, 1), PRIOR_ERR_FORMAT, "'dev'");
  ds_write_text(p2, "id,split\nid0,train\nid0,test\n");
  CHECK_ERR(prior_split_ensure(two, p2, 0.5, 0, 1), PRIOR_ERR_FORMAT, "listed twice");
  remove(p2);
  prior_ds_push(two, "id0");
  CHECK_ERR(prior_split_ensure(two, p2, 0.5, 0, 1), PRIOR_ERR_ARGUMENT, "appears twice");
  CHECK(!prior_ds_file_exists_test(p2));
  prior_dataset_free(two);
  prior_dataset_free(other);
}

int main(void) {
  char root[1024];
  ds_tmpdir(root, sizeof root, "rsna_siim");
  test_rsna(root);
  test_siim(root);
  test_splits(root);
  ds_rm_rf(root);
  return check_summary("test_dataset_rsna_siim");
}
