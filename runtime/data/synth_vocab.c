/* The WordPiece vocabulary matching the report generator.
 *
 * Layout follows BERT's: [PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103, then
 * every ASCII punctuation mark, digit and lowercase letter, their "##" continuation forms (digits and
 * letters), then every lowercase word of the generator's tables, sorted. Because every single character
 * and its continuation form is present, any lowercase ASCII word tokenizes without [UNK]; the whole words
 * keep the generated reports short in tokens. Words are split the way BERT's basic tokenizer splits them:
 * on whitespace, and every punctuation mark is a token of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth_internal.h"

typedef struct wordlist {
  char **w;
  int n, cap, failed;
} wordlist;

static int is_punct(int c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

static void push_case(wordlist *l, const char *s, size_t n, int lower) {
  if (l->failed) return;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 512;
    char **w = realloc(l->w, (size_t)cap * sizeof *w);
    if (!w) {
      l->failed = 1;
      return;
    }
    l->w = w;
    l->cap = cap;
  }
  char *c = malloc(n + 1);
  if (!c) {
    l->failed = 1;
    return;
  }
  memcpy(c, s, n);
  c[n] = 0;
  for (char *p = c; lower && *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  l->w[l->n++] = c;
}

static void push(wordlist *l, const char *s, size_t n) { push_case(l, s, n, 0); }

/* Splits a template into words, skipping {X} placeholders and punctuation (present as single tokens). */
static void collect(const char *s, void *ud) {
  wordlist *l = ud;
  const char *p = s;
  while (*p) {
    if (*p == '{' && p[1] && p[2] == '}') {
      p += 3;
      continue;
    }
    if (*p == ' ' || is_punct((unsigned char)*p)) {
      p++;
      continue;
    }
    const char *e = p;
    while (*e && *e != ' ' && !is_punct((unsigned char)*e)) e++;
    if (e - p > 1) push_case(l, p, (size_t)(e - p), 1);
    p = e;
  }
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_list(wordlist *l) {
  for (int i = 0; i < l->n; i++) free(l->w[i]);
  free(l->w);
}

/* Builds the full token list in vocabulary order. */
static prior_status build(wordlist *out) {
  memset(out, 0, sizeof *out);
  char tok[16];
  push(out, "[PAD]", 5);
  for (int i = 0; i < 99; i++) {
    int n = snprintf(tok, sizeof tok, "[unused%d]", i);
    push(out, tok, (size_t)n);
  }
  push(out, "[UNK]", 5);
  push(out, "[CLS]", 5);
  push(out, "[SEP]", 5);
  push(out, "[MASK]", 6);
  for (int c = 33; c < 127; c++)
    if (is_punct(c) || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      tok[0] = (char)c;
      push(out, tok, 1);
    }
  for (int c = 33; c < 127; c++)
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      int n = snprintf(tok, sizeof tok, "##%c", c);
      push(out, tok, (size_t)n);
    }
  wordlist words = {0};
  synth_report_visit_strings(collect, &words);
  if (!words.failed && words.n > 0) {
    qsort(words.w, (size_t)words.n, sizeof *words.w, cmp);
    for (int i = 0; i < words.n; i++)
      if (i == 0 || strcmp(words.w[i], words.w[i - 1]) != 0) push(out, words.w[i], strlen(words.w[i]));
  }
  int failed = words.failed || out->failed;
  free_list(&words);
  if (failed) {
    free_list(out);
    return prior_error_set(PRIOR_ERR_MEMORY, "synthetic vocabulary: out of memory");
  }
  return PRIOR_OK;
}

int prior_synth_vocab_size(void) {
  wordlist l;
  if (build(&l) != PRIOR_OK) return -1;
  int n = l.n;
  free_list(&l);
  return n;
}

prior_status prior_synth_write_vocab(const char *path) {
  if (!path) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_write_vocab: NULL path");
  wordlist l;
  PRIOR_TRY(build(&l));
  synth_text t = {0};
  for (int i = 0; i < l.n; i++) synth_text_printf(&t, "%s\n", l.w[i]);
  free_list(&l);
  prior_status st = synth_mkdirs_parent(path);
  if (st != PRIOR_OK) {
    synth_text_free(&t);
    return st;
  }
  return synth_text_write(&t, path);
}
