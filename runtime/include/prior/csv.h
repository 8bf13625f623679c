/* CSV files (RFC 4180): the label, split and metadata tables of MIMIC-CXR, CheXpert, RSNA and SIIM.
 *
 * The whole file is read into memory and every row is indexable. The first row is the header; header names are
 * trimmed of surrounding spaces (SIIM's header is "ImageId, EncodedPixels"), cells are kept as written. Quoted cells
 * may hold commas, newlines and doubled quotes; CRLF line ends and a UTF-8 byte-order mark are accepted; lines that
 * are completely empty are skipped. A row with a different cell count than the header is an error naming the file
 * and line. */
#ifndef PRIOR_CSV_H
#define PRIOR_CSV_H

#include <stddef.h>

#include "prior/error.h"

typedef struct prior_csv prior_csv;

/* Reads and parses `path`. On failure *out is NULL and the message names the file and line. */
prior_status prior_csv_read(const char *path, prior_csv **out);
/* Parses `len` bytes of text already in memory; `name` is used in messages (the text is copied). */
prior_status prior_csv_parse(const char *text, size_t len, const char *name, prior_csv **out);
void prior_csv_free(prior_csv *csv);

/* Number of data rows (the header not counted) and of columns. */
long long prior_csv_rows(const prior_csv *csv);
int prior_csv_cols(const prior_csv *csv);
/* Header name of column `col` (trimmed), or NULL when out of range. */
const char *prior_csv_header(const prior_csv *csv, int col);
/* Index of the column named `name` (compared after trimming both), or -1 when there is none. */
int prior_csv_column(const prior_csv *csv, const char *name);
/* 1-based line of the file on which data row `row` starts (rows may span lines inside quotes); -1 if out of range. */
long long prior_csv_line(const prior_csv *csv, long long row);

/* Cell text (unquoted, NUL-terminated, valid until prior_csv_free); NULL with PRIOR_ERR_INDEX when out of range. */
const char *prior_csv_cell(const prior_csv *csv, long long row, int col);
/* Cell as a number: a blank (empty or all-space) cell gives NaN; text that is not a number is PRIOR_ERR_FORMAT
 * naming file, line, column and the text. */
prior_status prior_csv_double(const prior_csv *csv, long long row, int col, double *out);

/* Writer: cells are quoted only when they hold a comma, a quote, a CR or LF, or leading/trailing spaces. Lines end
 * in "\n". Close reports any write error and frees the writer in every case. */
typedef struct prior_csv_writer prior_csv_writer;
prior_status prior_csv_writer_open(const char *path, prior_csv_writer **out);
prior_status prior_csv_writer_row(prior_csv_writer *w, int ncells, const char *const *cells);
prior_status prior_csv_writer_close(prior_csv_writer *w);

#endif
