/* Report sections and sentences: hand-written tricky reports in tests/fixtures/reports/ (NAME.txt with the exact
 * expected sentences, one per line, in NAME.expected), plus section lookups and broken input. */
#include <stdlib.h>

#include "check.h"
#include "prior/report.h"

#define DIR "tests/fixtures/reports/"

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(1 << 16);
  size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
  fclose(f);
  if (buf) buf[n] = 0;
  return buf;
}

static void check_case(const char *name) {
  char path[256];
  snprintf(path, sizeof path, DIR "%s.txt", name);
  prior_report *r = NULL;
  CHECK_OK(prior_report_read(path, &r));
  prior_sentences *s = NULL;
  CHECK_OK(prior_report_sentences(r, &s));
  snprintf(path, sizeof path, DIR "%s.expected", name);
  char *expected = read_text(path);
  CHECK_MSG(expected != NULL, "cannot read %s", path);
  if (!expected || !s) goto done;
  int i = 0;
  for (char *line = strtok(expected, "\n"); line; line = strtok(NULL, "\n"), i++) {
    const char *got = prior_sentences_get(s, i);
    CHECK_MSG(got && strcmp(got, line) == 0, "%s sentence %d: expected '%s', got '%s'", name, i, line,
              got ? got : "(none)");
  }
  CHECK_MSG(prior_sentences_count(s) == i, "%s: %d sentences, expected %d", name, prior_sentences_count(s), i);
  if (prior_sentences_count(s) != i)
    for (int k = 0; k < prior_sentences_count(s); k++) fprintf(stderr, "  [%d] %s\n", k, prior_sentences_get(s, k));
done:
  free(expected);
  prior_sentences_free(s);
  prior_report_free(r);
}

static void test_sections(void) {
  prior_report *r = NULL;
  CHECK_OK(prior_report_read(DIR "01_standard.txt", &r));
  const char *names[] = {"PREAMBLE", "EXAMINATION", "INDICATION", "TECHNIQUE", "COMPARISON", "FINDINGS", "IMPRESSION"};
  CHECK(prior_report_section_count(r) == 7);
  for (int i = 0; i < 7; i++) CHECK(strcmp(prior_report_section_name(r, i), names[i]) == 0);
  CHECK(strcmp(prior_report_section_text(r, 0), "FINAL REPORT") == 0);
  CHECK(strcmp(prior_report_section(r, "EXAMINATION"), "CHEST (PA AND LAT)") == 0);
  CHECK(strcmp(prior_report_section(r, "INDICATION"), "___F with new onset ascites // eval for infection") == 0);
  const char *findings_start = "There is no focal consolidation, pleural effusion or pneumothorax. Bilateral nodular";
  CHECK(strncmp(prior_report_section(r, "FINDINGS"), findings_start, strlen(findings_start)) == 0);
  CHECK(prior_report_section(r, "HISTORY") == NULL);
  CHECK(prior_report_section_name(r, 7) == NULL && prior_report_section_text(r, -1) == NULL);
  prior_report_free(r);

  CHECK_OK(prior_report_read(DIR "12_wet_read.txt", &r));
  const char *wet[] = {"WET READ", "PA AND LATERAL VIEWS OF THE CHEST", "REASON FOR EXAMINATION",
                       "FINDINGS AND IMPRESSION", "NOTIFICATION"};
  CHECK(prior_report_section_count(r) == 5);
  for (int i = 0; i < 5 && i < prior_report_section_count(r); i++)
    CHECK(strcmp(prior_report_section_name(r, i), wet[i]) == 0);
  CHECK(strcmp(prior_report_section(r, "NOTIFICATION"), "Impression: no change was communicated.") == 0);
  prior_report_free(r);
}

static void test_filter(void) {
  prior_report *r = NULL;
  prior_sentences *s = NULL;
  CHECK_OK(prior_report_read(DIR "06_missing_findings.txt", &r));
  CHECK_OK(prior_report_sentences(r, &s));
  CHECK(prior_sentences_count(s) == 2 && !prior_sentences_enough(s, PRIOR_REPORT_MIN_SENTENCES));
  prior_sentences_free(s);
  prior_report_free(r);
  CHECK_OK(prior_report_read(DIR "07_missing_impression.txt", &r));
  CHECK_OK(prior_report_sentences(r, &s));
  CHECK(prior_sentences_enough(s, PRIOR_REPORT_MIN_SENTENCES));
  prior_sentences_free(s);
  prior_report_free(r);

  /* No sections at all, an empty report, a report with only headers. */
  const char *texts[] = {"just some text. Without headers.", "", "FINDINGS:\nIMPRESSION:\n"};
  for (int i = 0; i < 3; i++) {
    CHECK_OK(prior_report_parse(texts[i], strlen(texts[i]), "t", &r));
    CHECK_OK(prior_report_sentences(r, &s));
    CHECK(prior_sentences_count(s) == 0 && !prior_sentences_enough(s, 1) && prior_sentences_get(s, 0) == NULL);
    prior_sentences_free(s);
    prior_report_free(r);
  }
  CHECK_OK(prior_report_parse("", 0, "t", &r));
  CHECK(prior_report_section_count(r) == 0);
  prior_report_free(r);
}

static void test_split_direct(void) {
  prior_sentences *s = NULL;
  CHECK_OK(prior_sentences_split("  One.Two.  three  ", &s));
  CHECK(prior_sentences_count(s) == 1 && strcmp(prior_sentences_get(s, 0), "One.Two. three") == 0);
  prior_sentences_free(s);
  CHECK_OK(prior_sentences_split("Ends with a period.", &s));
  CHECK(prior_sentences_count(s) == 1 && strcmp(prior_sentences_get(s, 0), "Ends with a period.") == 0);
  prior_sentences_free(s);
  CHECK_OK(prior_sentences_split("...  . ! ___.", &s));
  CHECK(prior_sentences_count(s) == 0);
  prior_sentences_free(s);
  CHECK_ERR(prior_sentences_split(NULL, &s), PRIOR_ERR_ARGUMENT, "text is NULL");
}

static void test_broken(void) {
  prior_report *r = (prior_report *)1;
  const char bin[] = "FINDINGS: a\0b";
  CHECK_ERR(prior_report_parse(bin, sizeof bin - 1, "bin.txt", &r), PRIOR_ERR_FORMAT, "report bin.txt: contains a NUL");
  CHECK(r == NULL);
  CHECK_ERR(prior_report_read(DIR "missing.txt", &r), PRIOR_ERR_IO, "missing.txt: cannot open");
}

int main(void) {
  const char *cases[] = {"01_standard",       "02_numbered_list",       "03_numbered_no_periods",
                         "04_abbreviations",  "05_units",               "06_missing_findings",
                         "07_missing_impression", "08_deid",            "09_crlf_tabs",
                         "10_blank_line_boundary", "11_question_exclamation", "12_wet_read",
                         "13_decimals_times", "14_two_impressions"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(cases[i]);
  test_sections();
  test_filter();
  test_split_direct();
  test_broken();
  return check_summary("test_report");
}
