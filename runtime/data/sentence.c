/* Sentence splitting for radiology report text (rules in prior/report.h).
 *
 * The splitter scans the raw text once. At each sentence start it drops a numbered-list marker; while scanning it
 * ends a sentence at a terminator that passes the abbreviation and next-word tests, at a blank line, and before a
 * list marker that continues the current numbering. Each sentence is then whitespace-normalised. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "data/sentence_split.h"

struct prior_sentences {
  char **items;
  int count, cap;
};

prior_sentences *prior_sentences_alloc(void) { return calloc(1, sizeof(prior_sentences)); }

void prior_sentences_free(prior_sentences *s) {
  if (!s) return;
  for (int i = 0; i < s->count; i++) free(s->items[i]);
  free(s->items);
  free(s);
}

int prior_sentences_count(const prior_sentences *s) { return s ? s->count : 0; }

const char *prior_sentences_get(const prior_sentences *s, int i) {
  if (!s || i < 0 || i >= s->count) return NULL;
  return s->items[i];
}

int prior_sentences_enough(const prior_sentences *s, int min_sentences) {
  return prior_sentences_count(s) >= min_sentences;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* Appends text[a..b) with whitespace runs collapsed; drops it if it has no letter or digit. */
static prior_status push_sentence(prior_sentences *s, const char *text, size_t a, size_t b) {
  int has_alnum = 0;
  for (size_t i = a; i < b; i++) has_alnum |= isalnum((unsigned char)text[i]) != 0;
  if (!has_alnum) return PRIOR_OK;
  char *out = malloc(b - a + 1);
  if (!out) return prior_error_set(PRIOR_ERR_MEMORY, "sentence split: out of memory");
  size_t n = 0;
  int pending_space = 0;
  for (size_t i = a; i < b; i++) {
    if (is_space(text[i])) {
      pending_space = n > 0;
      continue;
    }
    if (pending_space) out[n++] = ' ';
    pending_space = 0;
    out[n++] = text[i];
  }
  out[n] = 0;
  if (s->count == s->cap) {
    int ncap = s->cap ? s->cap * 2 : 16;
    char **ni = realloc(s->items, (size_t)ncap * sizeof *ni);
    if (!ni) {
      free(out);
      return prior_error_set(PRIOR_ERR_MEMORY, "sentence split: out of memory");
    }
    s->items = ni;
    s->cap = ncap;
  }
  s->items[s->count++] = out;
  return PRIOR_OK;
}

/* A list marker at text[i]: one or two digits, then '.' or ')', then whitespace. Returns the number (or -1) and
 * the index after the marker's punctuation in *end. */
static int list_marker(const char *t, size_t i, size_t n, size_t *end) {
  size_t j = i;
  int num = 0;
  while (j < n && j - i < 3 && isdigit((unsigned char)t[j])) num = num * 10 + (t[j++] - '0');
  if (j == i || j - i > 2 || j >= n || (t[j] != '.' && t[j] != ')')) return -1;
  if (j + 1 < n && !is_space(t[j + 1])) return -1; /* "1.5" is a number, not a marker */
  *end = j + 1;
  return num;
}

static const char *const abbreviations[] = {"dr", "mr", "mrs", "ms", "prof", "e.g", "i.e", "approx", "vs", "cf", "resp",
                                            "eg", "ie"};

/* Is the word ending just before the period at text[i] an abbreviation that never ends a sentence? */
static int before_is_abbreviation(const char *t, size_t i) {
  size_t a = i;
  while (a > 0 && (isalpha((unsigned char)t[a - 1]) || t[a - 1] == '.')) a--;
  size_t len = i - a;
  if (len == 0 || len > 8) return 0;
  char word[9];
  for (size_t k = 0; k < len; k++) word[k] = (char)tolower((unsigned char)t[a + k]);
  word[len] = 0;
  for (size_t k = 0; k < sizeof abbreviations / sizeof *abbreviations; k++)
    if (strcmp(word, abbreviations[k]) == 0) return 1;
  return 0;
}

prior_status prior_sentences_append_split(prior_sentences *s, const char *t, size_t n) {
  size_t i = 0;
  int last_marker = 0;
  while (i < n) {
    /* Sentence start: skip space, then a list marker if there is one. */
    while (i < n && is_space(t[i])) i++;
    if (i >= n) break;
    size_t after;
    int num = list_marker(t, i, n, &after);
    if (num >= 0) {
      last_marker = num;
      i = after;
      continue; /* the item text starts a sentence of its own */
    }
    size_t start = i, end = n, next = n;
    for (; i < n; i++) {
      char c = t[i];
      if (c == '\n') {
        /* A blank line ends the sentence. */
        size_t j = i + 1;
        while (j < n && t[j] != '\n' && is_space(t[j])) j++;
        if (j < n && t[j] == '\n') { end = i; next = j; break; }
        /* So does a line that starts the next numbered item. */
        size_t k = i + 1, dummy;
        while (k < n && (t[k] == ' ' || t[k] == '\t')) k++;
        int m = list_marker(t, k, n, &dummy);
        if (m >= 0 && (m == 1 || m == last_marker + 1)) { end = i; next = k; break; }
        continue;
      }
      if (c == ' ' && i + 2 < n && t[i + 1] == ' ' && last_marker > 0) {
        /* "1. No acute process  2. Small effusion": an item that continues the numbering after a double space. */
        size_t k = i;
        while (k < n && t[k] == ' ') k++;
        size_t dummy;
        if (list_marker(t, k, n, &dummy) == last_marker + 1) { end = i; next = k; break; }
        continue;
      }
      if (c != '.' && c != '?' && c != '!') continue;
      if (i + 1 < n && !is_space(t[i + 1])) continue; /* 1.5, e.g., ___.___ */
      if (c == '.' && before_is_abbreviation(t, i)) continue;
      size_t k = i + 1;
      while (k < n && is_space(t[k])) k++;
      if (k < n && islower((unsigned char)t[k])) continue; /* "2 cm. in size": the sentence goes on */
      end = i + 1;
      next = k;
      break;
    }
    PRIOR_TRY(push_sentence(s, t, start, end));
    i = next;
  }
  return PRIOR_OK;
}

prior_status prior_sentences_split(const char *text, prior_sentences **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_sentences_split: out is NULL");
  *out = NULL;
  if (!text) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_sentences_split: text is NULL");
  prior_sentences *s = prior_sentences_alloc();
  if (!s) return prior_error_set(PRIOR_ERR_MEMORY, "sentence split: out of memory");
  prior_status st = prior_sentences_append_split(s, text, strlen(text));
  if (st != PRIOR_OK) {
    prior_sentences_free(s);
    return st;
  }
  *out = s;
  return PRIOR_OK;
}
