/* Section splitting of radiology reports (rules in prior/report.h). Each section keeps its raw text (line breaks
 * matter to the sentence splitter) and a whitespace-normalised copy for callers. */
#include "prior/report.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "data/sentence_split.h"
#include "io/slurp.h"

typedef struct {
  char *name, *raw, *text;
} section;

struct prior_report {
  section *sections;
  int count, cap;
};

void prior_report_free(prior_report *r) {
  if (!r) return;
  for (int i = 0; i < r->count; i++) {
    free(r->sections[i].name);
    free(r->sections[i].raw);
    free(r->sections[i].text);
  }
  free(r->sections);
  free(r);
}

static int header_char(char c) {
  return (c >= 'A' && c <= 'Z') || c == ' ' || c == '(' || c == ')' || c == '/' || c == ',' || c == '&' || c == '-';
}

/* A header at text[i] (a line start, after leading blanks): returns the index of its colon, or 0 if there is none. */
static size_t header_at(const char *t, size_t i, size_t n) {
  if (i >= n || t[i] < 'A' || t[i] > 'Z') return 0;
  size_t j = i;
  int letters = 0;
  for (; j < n && header_char(t[j]); j++) letters += t[j] >= 'A' && t[j] <= 'Z';
  if (j >= n || t[j] != ':' || letters < 2) return 0;
  return j;
}

/* Copies t[a..b) with whitespace runs collapsed to one space and the ends trimmed. */
static char *normalised_copy(const char *t, size_t a, size_t b) {
  char *out = malloc(b - a + 1);
  if (!out) return NULL;
  size_t n = 0;
  int pending = 0;
  for (size_t i = a; i < b; i++) {
    if (isspace((unsigned char)t[i])) {
      pending = n > 0;
      continue;
    }
    if (pending) out[n++] = ' ';
    pending = 0;
    out[n++] = t[i];
  }
  out[n] = 0;
  return out;
}

static prior_status add_section(prior_report *r, const char *name, size_t name_len, const char *t, size_t a,
                                size_t b, const char *file) {
  if (r->count == r->cap) {
    int ncap = r->cap ? r->cap * 2 : 8;
    section *ns = realloc(r->sections, (size_t)ncap * sizeof *ns);
    if (!ns) return prior_error_set(PRIOR_ERR_MEMORY, "report %s: out of memory", file);
    r->sections = ns;
    r->cap = ncap;
  }
  section *s = &r->sections[r->count];
  s->name = normalised_copy(name, 0, name_len);
  s->text = normalised_copy(t, a, b);
  s->raw = malloc(b - a + 1);
  if (!s->name || !s->text || !s->raw) {
    free(s->name);
    free(s->text);
    free(s->raw);
    return prior_error_set(PRIOR_ERR_MEMORY, "report %s: out of memory", file);
  }
  memcpy(s->raw, t + a, b - a);
  s->raw[b - a] = 0;
  r->count++;
  return PRIOR_OK;
}

prior_status prior_report_parse(const char *t, size_t n, const char *name, prior_report **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_report_parse: out is NULL");
  *out = NULL;
  if (!name) name = "<memory>";
  if (!t && n) return prior_error_set(PRIOR_ERR_ARGUMENT, "report %s: text is NULL", name);
  if (n && memchr(t, 0, n))
    return prior_error_set(PRIOR_ERR_FORMAT, "report %s: contains a NUL byte (not a text file?)", name);
  prior_report *r = calloc(1, sizeof *r);
  if (!r) return prior_error_set(PRIOR_ERR_MEMORY, "report %s: out of memory", name);
  /* Current section: its name (or the preamble) and where its body began. */
  const char *cur_name = "PREAMBLE";
  size_t cur_name_len = strlen(cur_name), body = 0;
  int in_preamble = 1;
  prior_status st = PRIOR_OK;
  size_t line = 0;
  while (line <= n) {
    size_t i = line;
    while (i < n && (t[i] == ' ' || t[i] == '\t')) i++;
    size_t colon = header_at(t, i, n);
    if (colon) {
      /* Close the running section (the preamble only if it has any text). */
      int empty_preamble = in_preamble;
      for (size_t k = 0; empty_preamble && k < line; k++) empty_preamble &= isspace((unsigned char)t[k]) != 0;
      if (!empty_preamble && (st = add_section(r, cur_name, cur_name_len, t, body, line, name))) goto fail;
      cur_name = t + i;
      cur_name_len = colon - i;
      body = colon + 1;
      in_preamble = 0;
    }
    const char *nl = line < n ? memchr(t + line, '\n', n - line) : NULL;
    if (!nl) break;
    line = (size_t)(nl - t) + 1;
  }
  {
    int empty_preamble = in_preamble;
    for (size_t k = 0; empty_preamble && k < n; k++) empty_preamble &= isspace((unsigned char)t[k]) != 0;
    if (!empty_preamble && (st = add_section(r, cur_name, cur_name_len, t, body, n, name))) goto fail;
  }
  *out = r;
  return PRIOR_OK;
fail:
  prior_report_free(r);
  return st;
}

prior_status prior_report_read(const char *path, prior_report **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_report_read: out is NULL");
  *out = NULL;
  unsigned char *data;
  size_t len;
  PRIOR_TRY(prior_slurp_file(path, &data, &len));
  prior_status st = prior_report_parse((const char *)data, len, path, out);
  free(data);
  return st;
}

int prior_report_section_count(const prior_report *r) { return r ? r->count : 0; }

const char *prior_report_section_name(const prior_report *r, int i) {
  return r && i >= 0 && i < r->count ? r->sections[i].name : NULL;
}

const char *prior_report_section_text(const prior_report *r, int i) {
  return r && i >= 0 && i < r->count ? r->sections[i].text : NULL;
}

const char *prior_report_section(const prior_report *r, const char *name) {
  if (!r || !name) return NULL;
  for (int i = 0; i < r->count; i++)
    if (strcmp(r->sections[i].name, name) == 0) return r->sections[i].text;
  return NULL;
}

static int in_list(const char *name, const char *const *list) {
  for (; *list; list++)
    if (strcmp(name, *list) == 0) return 1;
  return 0;
}

prior_status prior_report_sentences(const prior_report *r, prior_sentences **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_report_sentences: out is NULL");
  *out = NULL;
  if (!r) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_report_sentences: report is NULL");
  static const char *const impression[] = {"IMPRESSION", "IMPRESSIONS", NULL};
  static const char *const findings[] = {"FINDINGS", "FINDING", "FINDINGS AND IMPRESSION", "FINDINGS/IMPRESSION",
                                         NULL};
  prior_sentences *s = prior_sentences_alloc();
  if (!s) return prior_error_set(PRIOR_ERR_MEMORY, "report sentences: out of memory");
  const char *const *groups[2] = {impression, findings};
  for (int g = 0; g < 2; g++) {
    for (int i = 0; i < r->count; i++) {
      if (!in_list(r->sections[i].name, groups[g])) continue;
      prior_status st = prior_sentences_append_split(s, r->sections[i].raw, strlen(r->sections[i].raw));
      if (st != PRIOR_OK) {
        prior_sentences_free(s);
        return st;
      }
    }
  }
  *out = s;
  return PRIOR_OK;
}
