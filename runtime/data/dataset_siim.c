/* SIIM-ACR Pneumothorax: train-rle.csv ("ImageId, EncodedPixels"; -1 = no pneumothorax; several rows per image are
 * OR-ed), DICOM images found anywhere under dicom-images-train/ (the real layout nests them by study and series). */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "data/strmap.h"

void prior_siim_options_default(prior_siim_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->check_images = 1;
}

/* Maps "ID" -> path for every ID.dcm under dir. Image paths live in `paths` (index = map value). */
typedef struct {
  prior_strmap map;
  char **paths;
  int npaths;
} dcm_index;

static prior_status scan(dcm_index *ix, const char *dir, int depth) {
  if (depth > 16) return PRIOR_OK;
  DIR *d = opendir(dir);
  if (!d) return PRIOR_OK;
  prior_status st = PRIOR_OK;
  struct dirent *e;
  char path[PRIOR_DS_PATH_MAX];
  while (st == PRIOR_OK && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if ((st = prior_ds_join(path, dir, e->d_name)) != PRIOR_OK) break;
    size_t n = strlen(e->d_name);
    if (n > 4 && strcmp(e->d_name + n - 4, ".dcm") == 0 && prior_ds_file_exists(path)) {
      char id[512];
      snprintf(id, sizeof id, "%.*s", (int)(n - 4), e->d_name);
      if ((st = prior_ds_add_string(&ix->paths, &ix->npaths, path)) == PRIOR_OK)
        st = prior_strmap_put(&ix->map, id, ix->npaths - 1);
    } else if (prior_ds_dir_exists(path)) {
      st = scan(ix, path, depth + 1);
    }
  }
  closedir(d);
  return st;
}

/* The RLE text's syntax (pairs of non-negative integers, or -1 / blank); its extent is checked when decoded. */
static int rle_syntax_ok(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  if (!*s) return 1;
  if (s[0] == '-' && s[1] == '1') {
    s += 2;
    while (isspace((unsigned char)*s)) s++;
    return !*s;
  }
  int tokens = 0;
  while (*s) {
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) s++;
    if (*s && !isspace((unsigned char)*s)) return 0;
    while (isspace((unsigned char)*s)) s++;
    tokens++;
  }
  return tokens % 2 == 0;
}

static int rle_is_empty(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  return !*s || (s[0] == '-' && s[1] == '1');
}

prior_status prior_siim_open(const prior_siim_options *opt, prior_dataset **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_siim_open: out is NULL");
  *out = NULL;
  if (!opt || !opt->root) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_siim_open: options need a root");
  char csv_path[PRIOR_DS_PATH_MAX], images[PRIOR_DS_PATH_MAX];
  PRIOR_TRY(prior_ds_join(csv_path, opt->root, "train-rle.csv"));
  PRIOR_TRY(prior_ds_join(images, opt->root, "dicom-images-train"));
  prior_csv *csv = NULL;
  PRIOR_TRY(prior_csv_read(csv_path, &csv));
  int c_id, c_rle;
  prior_status st = prior_ds_column(csv, csv_path, "ImageId", &c_id);
  if (st == PRIOR_OK) st = prior_ds_column(csv, csv_path, "EncodedPixels", &c_rle);
  static const char *const label[1] = {"Pneumothorax"};
  prior_dataset *ds = NULL;
  if (st == PRIOR_OK && !(ds = prior_ds_new("siim", PRIOR_IMAGE_DICOM, 1, label))) st = prior_error_code();
  if (ds) ds->has_masks = 1;
  dcm_index ix = {0};
  prior_strmap_init(&ix.map);
  if (st == PRIOR_OK) st = scan(&ix, images, 0);
  prior_strmap index_of;
  prior_strmap_init(&index_of);
  for (int64_t r = 0; st == PRIOR_OK && r < prior_csv_rows(csv); r++) {
    const char *id = prior_csv_cell(csv, r, c_id), *rle = prior_csv_cell(csv, r, c_rle);
    while (isspace((unsigned char)*id)) id++;
    if (!rle_syntax_ok(rle)) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: EncodedPixels of %s is not -1 nor pairs of "
                           "non-negative integers: '%.40s'", csv_path, prior_csv_line(csv, r), id, rle);
      break;
    }
    int64_t si;
    if (!prior_strmap_get(&index_of, id, &si)) {
      int64_t pi;
      const char *path = NULL;
      char flat[PRIOR_DS_PATH_MAX], name[1024];
      if (prior_strmap_get(&ix.map, id, &pi)) {
        path = ix.paths[pi];
      } else {
        snprintf(name, sizeof name, "%s.dcm", id);
        if ((st = prior_ds_join(flat, images, name)) != PRIOR_OK) break;
        if (!opt->check_images) path = flat;
      }
      if (!path) {
        ds->drops.missing_image++;
        ds->drops.no_image++;
        si = -1;
      } else {
        prior_ds_sample *s = prior_ds_push(ds, id);
        if (!s || (st = prior_ds_add_string(&s->images, &s->nimages, path)) != PRIOR_OK) {
          st = prior_error_code();
          break;
        }
        si = ds->n - 1;
      }
      if ((st = prior_strmap_put(&index_of, id, si)) != PRIOR_OK) break;
    }
    if (si < 0 || rle_is_empty(rle)) continue;
    prior_ds_sample *s = &ds->samples[si];
    s->labels[0] = 1;
    st = prior_ds_add_string(&s->rles, &s->nrles, rle);
  }
  prior_strmap_free(&index_of);
  prior_strmap_free(&ix.map);
  for (int k = 0; k < ix.npaths; k++) free(ix.paths[k]);
  free(ix.paths);
  prior_csv_free(csv);
  if (st != PRIOR_OK) {
    prior_dataset_free(ds);
    return st;
  }
  *out = ds;
  return PRIOR_OK;
}
