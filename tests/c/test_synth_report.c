/* Synthetic reports: sections, sentence counts, truthful findings and negatives, and a vocabulary under
 * which a lowercasing BERT WordPiece tokenizer never needs [UNK]. */
#include <ctype.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "prior/synth.h"

/* Lowercase, newlines and runs of spaces folded to one space. */
static void flatten(const char *in, char *out, size_t cap) {
  size_t k = 0;
  for (const char *p = in; *p && k + 1 < cap; p++) {
    char c = (char)tolower((unsigned char)*p);
    if (c == '\n') c = ' ';
    if (c == ' ' && k > 0 && out[k - 1] == ' ') continue;
    out[k++] = c;
  }
  out[k] = 0;
}

/* ---- a minimal BERT tokenizer (basic + WordPiece), written here independently of the generator ---- */

typedef struct vocab {
  char **tok;
  int n;
} vocab;

static int load_vocab(const char *path, vocab *v) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  v->n = 0;
  v->tok = NULL;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    v->tok = realloc(v->tok, sizeof(char *) * (size_t)(v->n + 1));
    v->tok[v->n++] = strdup(line);
  }
  fclose(f);
  return 1;
}

static int find(const vocab *v, const char *s, size_t n) {
  for (int i = 0; i < v->n; i++)
    if (strlen(v->tok[i]) == n && !memcmp(v->tok[i], s, n)) return i;
  return -1;
}

static int is_punct(int c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

/* Returns the number of [UNK] tokens; counts words not present whole in *partial. */
static int wordpiece_unks(const vocab *v, const char *text, int *partial, int *tokens) {
  int unk = 0;
  const char *p = text;
  while (*p) {
    if (isspace((unsigned char)*p)) {
      p++;
      continue;
    }
    const char *e = p;
    if (is_punct((unsigned char)*p))
      e = p + 1;
    else
      while (*e && !isspace((unsigned char)*e) && !is_punct((unsigned char)*e)) e++;
    char word[128];
    size_t n = (size_t)(e - p) < sizeof word - 1 ? (size_t)(e - p) : sizeof word - 1;
    for (size_t i = 0; i < n; i++) word[i] = (char)tolower((unsigned char)p[i]);
    word[n] = 0;
    if (find(v, word, n) < 0) ++*partial;
    /* greedy longest-match-first */
    size_t start = 0;
    int bad = 0;
    while (start < n && !bad) {
      size_t end = n;
      int id = -1;
      char piece[160];
      while (end > start) {
        int m = snprintf(piece, sizeof piece, "%s%.*s", start ? "##" : "", (int)(end - start), word + start);
        id = find(v, piece, (size_t)m);
        if (id >= 0) break;
        end--;
      }
      if (id < 0) bad = 1;
      else ++*tokens, start = end;
    }
    unk += bad;
    p = e;
  }
  return unk;
}

static void test_reports(void) {
  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = 64;
  cfg.seed = 3;
  prior_synth_profile p;
  prior_synth_profile_default(&p);
  for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) p.p[l] = 0.2f;
  char rep[8192], flat[8192];
  int broken = 0, sections_ok = 1, counts_ok = 1, labels_ok = 1, side_ok = 1, neg_ok = 1, hedged = 0, blanks = 0;
  for (int i = 0; i < 400; i++) {
    prior_synth_truth t;
    CHECK_OK(prior_synth_sample(&cfg, &p, (uint64_t)i, &t));
    prior_synth_report_info info;
    CHECK_OK(prior_synth_report(&t, 0.1f, rep, sizeof rep, &info));
    int has_f = strstr(rep, "FINDINGS:") != NULL, has_i = strstr(rep, "IMPRESSION:") != NULL;
    if (!strstr(rep, "FINAL REPORT") || !strstr(rep, "EXAMINATION:") || !strstr(rep, "INDICATION:")) sections_ok = 0;
    if (has_f != info.has_findings || has_i != info.has_impression) sections_ok = 0;
    if (!info.broken && (!has_f || !has_i || info.sentences < 4 || info.sentences > 14)) counts_ok = 0;
    if (info.broken && has_f && info.sentences >= 4) counts_ok = 0;
    broken += info.broken;
    int lines_ok = 1;
    for (const char *s = rep; *s;) {
      const char *e = strchr(s, '\n');
      size_t n = e ? (size_t)(e - s) : strlen(s);
      if (n > 80) lines_ok = 0;
      s += n + (e ? 1 : 0);
    }
    CHECK(lines_ok);
    if (info.broken) continue;
    flatten(rep, flat, sizeof flat);
    for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) {
      const prior_synth_finding *f = &t.finding[l];
      int v = info.labels[l];
      if (l == PRIOR_SYNTH_NO_FINDING) {
        if ((v == PRIOR_SYNTH_POSITIVE) != f->present) labels_ok = 0;
        continue;
      }
      if (f->present && v != (f->uncertain ? PRIOR_SYNTH_UNCERTAIN : PRIOR_SYNTH_POSITIVE)) labels_ok = 0;
      if (!f->present && (v == PRIOR_SYNTH_POSITIVE || v == PRIOR_SYNTH_UNCERTAIN)) labels_ok = 0;
      hedged += v == PRIOR_SYNTH_UNCERTAIN;
      blanks += v == PRIOR_SYNTH_BLANK;
    }
    /* Laterality words follow the picture. */
    const prior_synth_finding *e = &t.finding[PRIOR_SYNTH_PLEURAL_EFFUSION];
    if (e->present && !e->uncertain && e->side != PRIOR_SYNTH_BILATERAL) {
      const char *w = e->side == PRIOR_SYNTH_LEFT ? "left" : "right";
      char a[64], b[64], c[64];
      snprintf(a, sizeof a, "%s pleural effusion", w);
      snprintf(b, sizeof b, "%s costophrenic", w);
      snprintf(c, sizeof c, "%s effusion", w);
      if (!strstr(flat, a) && !strstr(flat, b) && !strstr(flat, c)) side_ok = 0, fprintf(stderr, "%s\n", rep);
    }
    if (e->present && e->side == PRIOR_SYNTH_BILATERAL && !e->uncertain && !strstr(flat, "bilateral pleural effusions"))
      side_ok = 0;
    const prior_synth_finding *x = &t.finding[PRIOR_SYNTH_PNEUMOTHORAX];
    if (x->present && x->side != PRIOR_SYNTH_BILATERAL) {
      char a[64];
      snprintf(a, sizeof a, "%s ", x->side == PRIOR_SYNTH_LEFT ? "left" : "right");
      if (!strstr(flat, "pneumothorax") || !strstr(flat, a)) side_ok = 0;
    }
    /* Pertinent negatives only for what is absent. */
    if (x->present && (strstr(flat, "no pneumothorax") || strstr(flat, "there is no pneumothorax"))) neg_ok = 0;
    if (e->present && (strstr(flat, "no pleural effusion") || strstr(flat, "angles are sharp"))) neg_ok = 0;
    if (t.finding[PRIOR_SYNTH_CARDIOMEGALY].present && strstr(flat, "heart size is normal")) neg_ok = 0;
    if (strstr(flat, "the lungs are clear") && !t.finding[PRIOR_SYNTH_NO_FINDING].present) {
      static const int lung[] = {PRIOR_SYNTH_CONSOLIDATION, PRIOR_SYNTH_PNEUMONIA, PRIOR_SYNTH_EDEMA,
                                 PRIOR_SYNTH_ATELECTASIS, PRIOR_SYNTH_LUNG_OPACITY, PRIOR_SYNTH_PNEUMOTHORAX};
      for (int k = 0; k < 6; k++)
        if (t.finding[lung[k]].present) neg_ok = 0;
    }
  }
  CHECK(sections_ok);
  CHECK(counts_ok);
  CHECK(labels_ok);
  CHECK(side_ok);
  CHECK(neg_ok);
  CHECK_MSG(broken > 15 && broken < 70, "%d of 400 broken at fraction 0.1", broken);
  CHECK(hedged > 0 && blanks > 0);

  /* Same truth -> same text; a small buffer is an error, not a crash. */
  prior_synth_truth t;
  CHECK_OK(prior_synth_sample(&cfg, &p, 9, &t));
  char again[8192];
  CHECK_OK(prior_synth_report(&t, 0.0f, rep, sizeof rep, NULL));
  CHECK_OK(prior_synth_report(&t, 0.0f, again, sizeof again, NULL));
  CHECK(strcmp(rep, again) == 0);
  CHECK_ERR(prior_synth_report(&t, 0.0f, rep, 40, NULL), PRIOR_ERR_ARGUMENT, "too small");
  CHECK_ERR(prior_synth_report(NULL, 0.0f, rep, sizeof rep, NULL), PRIOR_ERR_ARGUMENT, "NULL");
}

static void test_vocab(void) {
  char dir[] = "/tmp/prior_synth_vocab_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/sub/vocab.txt", dir);
  CHECK_OK(prior_synth_write_vocab(path));
  vocab v = {0};
  CHECK(load_vocab(path, &v));
  if (v.n < 104) return;
  CHECK(v.n == prior_synth_vocab_size());
  CHECK(v.n > 300);
  CHECK(strcmp(v.tok[0], "[PAD]") == 0 && strcmp(v.tok[1], "[unused0]") == 0);
  CHECK(strcmp(v.tok[100], "[UNK]") == 0 && strcmp(v.tok[101], "[CLS]") == 0);
  CHECK(strcmp(v.tok[102], "[SEP]") == 0 && strcmp(v.tok[103], "[MASK]") == 0);
  int dup = 0, upper = 0;
  for (int i = 0; i < v.n; i++) {
    for (int j = i + 1; j < v.n; j++) dup += strcmp(v.tok[i], v.tok[j]) == 0;
    if (i > 103)
      for (const char *c = v.tok[i]; *c; c++) upper += isupper((unsigned char)*c) != 0;
  }
  CHECK(dup == 0 && upper == 0);
  CHECK(find(&v, "effusion", 8) > 103 && find(&v, "##e", 3) > 103 && find(&v, "_", 1) > 103);

  prior_synth_config cfg;
  prior_synth_config_default(&cfg);
  cfg.image_size = 64;
  prior_synth_profile p;
  prior_synth_profile_default(&p);
  for (int l = 0; l < PRIOR_SYNTH_NUM_LABELS; l++) p.p[l] = 0.25f;
  char rep[8192];
  int unk = 0, partial = 0, tokens = 0;
  for (int i = 0; i < 150; i++) {
    prior_synth_truth t;
    CHECK_OK(prior_synth_sample(&cfg, &p, 5000 + (uint64_t)i, &t));
    CHECK_OK(prior_synth_report(&t, 0.2f, rep, sizeof rep, NULL));
    unk += wordpiece_unks(&v, rep, &partial, &tokens);
  }
  CHECK_MSG(unk == 0, "%d [UNK] tokens", unk);
  CHECK_MSG(partial == 0, "%d words not in the vocabulary as a whole", partial);
  CHECK(tokens > 150 * 40);
  /* Any lowercase word still tokenizes, through single characters. */
  int dummy = 0, dummy2 = 0;
  CHECK(wordpiece_unks(&v, "zyxwv qj 0987 ~!", &dummy, &dummy2) == 0);
  for (int i = 0; i < v.n; i++) free(v.tok[i]);
  free(v.tok);
  CHECK_ERR(prior_synth_write_vocab("/proc/no/such/vocab.txt"), PRIOR_ERR_IO, "/proc/no");
  unlink(path);
  snprintf(path, sizeof path, "%s/sub", dir);
  rmdir(path);
  rmdir(dir);
}

int main(void) {
  test_reports();
  test_vocab();
  return check_summary("test_synth_report");
}
