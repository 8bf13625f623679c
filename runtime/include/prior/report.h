/* Radiology reports in the MIMIC-CXR style: headed sections and their sentences.
 *
 * A section header is a run of upper-case words (letters, spaces and ( ) / , & -; at least two letters) at the start
 * of a line followed by a colon, e.g. "FINDINGS:", "IMPRESSION:", "EXAMINATION:", "WET READ:". The header's text may
 * continue on the same line. Text before the first header ("FINAL REPORT" and the like) is the section "PREAMBLE".
 * Section text has its wrapped lines joined and its whitespace collapsed to single spaces.
 *
 * Sentences end at '.', '?' or '!' followed by space, at a blank line, before a numbered-list item ("1. ... 2. ...",
 * the markers themselves are dropped) and at the end of a section; a final sentence without a period is kept as it is
 * written. A period does not end a sentence after an abbreviation (Dr., Mr., Mrs., Ms., Prof., e.g., i.e., approx.,
 * vs., cf., resp.), inside a number (1.5 cm), or when the next word starts with a lower-case letter ("2 cm. in size").
 * De-identified spans "___" are kept as text. Sentences with no letter or digit ("___.") are dropped. */
#ifndef PRIOR_REPORT_H
#define PRIOR_REPORT_H

#include <stddef.h>

#include "prior/error.h"

/* The filter on pre-training pairs: reports with fewer sentences than this (impression + findings) are dropped. */
#define PRIOR_REPORT_MIN_SENTENCES 4

typedef struct prior_report prior_report;
typedef struct prior_sentences prior_sentences;

prior_status prior_report_read(const char *path, prior_report **out);
/* `name` is used in messages only. */
prior_status prior_report_parse(const char *text, size_t len, const char *name, prior_report **out);
void prior_report_free(prior_report *r);

int prior_report_section_count(const prior_report *r);
/* Header without the colon, spaces collapsed ("FINDINGS", "PREAMBLE"); NULL when out of range. */
const char *prior_report_section_name(const prior_report *r, int i);
/* Whitespace-normalised text; NULL when out of range. */
const char *prior_report_section_text(const prior_report *r, int i);
/* Text of the first section with this header, or NULL when the report has none. */
const char *prior_report_section(const prior_report *r, const char *name);

/* Splits free text into sentences (rules above). */
prior_status prior_sentences_split(const char *text, prior_sentences **out);
/* The pre-training text of a report: the sentences of IMPRESSION (or IMPRESSIONS) then of FINDINGS (or FINDING,
 * FINDINGS AND IMPRESSION, FINDINGS/IMPRESSION), in report order within each; empty when both are missing. */
prior_status prior_report_sentences(const prior_report *r, prior_sentences **out);
int prior_sentences_count(const prior_sentences *s);
/* Sentence i, whitespace-normalised; NULL when out of range. */
const char *prior_sentences_get(const prior_sentences *s, int i);
/* 1 when the list has at least `min_sentences` sentences (use PRIOR_REPORT_MIN_SENTENCES), else 0. */
int prior_sentences_enough(const prior_sentences *s, int min_sentences);
void prior_sentences_free(prior_sentences *s);

#endif
