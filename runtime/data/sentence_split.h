/* Internal: sentence lists built up from several pieces of text (report.c adds IMPRESSION, then FINDINGS). */
#ifndef PRIOR_DATA_SENTENCE_SPLIT_H
#define PRIOR_DATA_SENTENCE_SPLIT_H

#include <stddef.h>

#include "prior/report.h"

prior_sentences *prior_sentences_alloc(void);
/* Splits text[0..len) (raw, line breaks kept: blank lines and line-start list markers are boundaries) and appends
 * its sentences to s. */
prior_status prior_sentences_append_split(prior_sentences *s, const char *text, size_t len);

#endif
