/* Tokenizer throughput on PRIOR's workload: N synthetic chest X-ray reports (4-14 sentences each) -> rows of 256
 * ids with attention mask and sentence index, on one thread.
 *
 *   bench_tokenizer VOCAB [N] [--write FILE]
 *
 * --write saves the reports (one per line, sentences separated by tabs) for tests/bench/bench_tokenizer_hf.py,
 * which runs Hugging Face's tokenizers on the same texts and prints the same format. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prior/tokenizer.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}
#define PICK(a) a[rnd(sizeof a / sizeof a[0])]

static const char *subjects[] = {"The heart", "Heart size", "The lungs", "Lung volumes", "The mediastinum",
                                 "The cardiomediastinal silhouette", "Pulmonary vasculature", "The hila",
                                 "Osseous structures", "The right costophrenic angle", "A left-sided PICC line",
                                 "The endotracheal tube", "Bibasilar opacities", "The left pleural effusion"};
static const char *verbs[] = {"is", "are", "appears", "remains", "is again seen and is", "has become", "is not"};
static const char *states[] = {"normal", "enlarged", "clear", "unremarkable", "stable", "mildly prominent",
                               "within normal limits", "top-normal in size", "grossly unchanged",
                               "low, with crowding of the bronchovascular markings", "well-expanded",
                               "slightly increased compared to ___", "terminating 4.5 cm above the carina",
                               "measuring 1.5 x 2.3 cm", "consistent with atelectasis; infection is not excluded",
                               "unchanged since the prior radiograph", "“stable” — no acute change"};
static const char *negatives[] = {"No pneumothorax.", "No pleural effusion.", "No focal consolidation.",
                                  "No acute cardiopulmonary process.", "No free air below the diaphragm.",
                                  "AP single view of the chest has been obtained.",
                                  "Comparison is made to the prior study."};

/* One report: sentences appended to buf separated by '\t'; returns the sentence count. */
static int make_report(char *buf, size_t cap) {
  int n = 4 + (int)rnd(11);
  size_t w = 0;
  for (int k = 0; k < n; k++) {
    char s[256];
    if (rnd(3) == 0) snprintf(s, sizeof s, "%s", PICK(negatives));
    else snprintf(s, sizeof s, "%s %s %s.", PICK(subjects), PICK(verbs), PICK(states));
    if (rnd(10) == 0)
      for (char *c = s; *c; c++) *c = (char)((*c >= 'a' && *c <= 'z') ? *c - 32 : *c);
    w += (size_t)snprintf(buf + w, cap - w, "%s%s", k ? "\t" : "", s);
  }
  return n;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s VOCAB [N] [--write FILE]\n", argv[0]);
    return 2;
  }
  int64_t N = 10000;
  const char *write_path = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--write") == 0 && i + 1 < argc) write_path = argv[++i];
    else N = atoll(argv[i]);
  }
  prior_tokenizer *tok = prior_tokenizer_load(argv[1], NULL);
  if (!tok) {
    fprintf(stderr, "%s\n", prior_error_message());
    return 1;
  }
  /* Build the reports: one text per report with tabs between sentences, then split into a flat sentence list. */
  char **reports = malloc((size_t)N * sizeof *reports);
  int64_t *counts = malloc((size_t)N * sizeof *counts), total_sentences = 0;
  for (int64_t b = 0; b < N; b++) {
    char buf[8192];
    counts[b] = make_report(buf, sizeof buf);
    reports[b] = strdup(buf);
    total_sentences += counts[b];
  }
  if (write_path) {
    FILE *f = fopen(write_path, "w");
    if (!f) {
      fprintf(stderr, "cannot write %s\n", write_path);
      return 1;
    }
    for (int64_t b = 0; b < N; b++) fprintf(f, "%s\n", reports[b]);
    fclose(f);
  }
  const char **sents = malloc((size_t)total_sentences * sizeof *sents);
  int64_t *lens = malloc((size_t)total_sentences * sizeof *lens), k = 0;
  for (int64_t b = 0; b < N; b++) {
    char *p = reports[b];
    for (int64_t s = 0; s < counts[b]; s++) {
      char *tab = strchr(p, '\t');
      sents[k] = p;
      lens[k++] = tab ? tab - p : (int64_t)strlen(p);
      p = tab ? tab + 1 : p;
    }
  }
  const int64_t L = 256;
  int64_t *ids = malloc((size_t)(N * L) * sizeof *ids), *mask = malloc((size_t)(N * L) * sizeof *mask);
  int64_t *sidx = malloc((size_t)(N * L) * sizeof *sidx), *full = malloc((size_t)N * sizeof *full);

  /* Whole batch in one call, best of 3. */
  double best = 1e30;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now();
    if (prior_tokenizer_encode_reports(tok, sents, lens, counts, N, L, PRIOR_REPORT_CUT_KEEP_SEP, 8, ids, mask,
                                       sidx, full) != PRIOR_OK) {
      fprintf(stderr, "%s\n", prior_error_message());
      return 1;
    }
    double t = now() - t0;
    best = t < best ? t : best;
  }
  int64_t tokens = 0, cut = 0;
  for (int64_t b = 0; b < N; b++) tokens += full[b], cut += full[b] > L;
  printf("reports: %lld, sentences: %lld, tokens: %lld (%.1f per report), cut: %lld\n", (long long)N,
         (long long)total_sentences, (long long)tokens, (double)tokens / (double)N, (long long)cut);
  printf("prior_batch: %lld reports in %.3f s: %.0f reports/s, %.2f M tokens/s (1 thread, ids+mask+sentence index)\n",
         (long long)N, best, (double)N / best, (double)tokens / best / 1e6);

  /* One call per report, as a data loader worker would make. */
  double t0 = now();
  int64_t first = 0;
  for (int64_t b = 0; b < N; b++) {
    prior_tokenizer_encode_reports(tok, sents + first, lens + first, counts + b, 1, L, PRIOR_REPORT_CUT_KEEP_SEP, 8,
                                   ids, mask, sidx, NULL);
    first += counts[b];
  }
  double t = now() - t0;
  printf("prior_per_report: %lld reports in %.3f s: %.0f reports/s (1 thread)\n", (long long)N, t, (double)N / t);

  for (int64_t b = 0; b < N; b++) free(reports[b]);
  free(reports);
  free(counts);
  free(sents);
  free(lens);
  free(ids);
  free(mask);
  free(sidx);
  free(full);
  prior_tokenizer_free(tok);
  return 0;
}
