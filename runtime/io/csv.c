/* CSV reader and writer (RFC 4180 with the leniencies real label files need).
 *
 * The file is read once into a buffer and unquoted in place: a cell's unquoted text is never longer than its quoted
 * form, so the write position trails the read position and each cell can be NUL-terminated where its delimiter was.
 * Rows are then arrays of pointers into that buffer. */
#include "prior/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/slurp.h"

struct prior_csv {
  char *name;         /* file name for messages */
  char *buf;          /* the file text, unquoted in place */
  char **cells;       /* (rows + 1) * ncols pointers into buf; row 0 is the header */
  long long *lines;   /* 1-based start line of each row, header included */
  long long nrows;    /* rows including the header */
  int ncols;
};

typedef struct {
  void *data;
  size_t count, cap, elem;
} growable;

static int grow_push(growable *g, const void *item) {
  if (g->count == g->cap) {
    size_t ncap = g->cap ? g->cap * 2 : 1024;
    void *nd = realloc(g->data, ncap * g->elem);
    if (!nd) return 0;
    g->data = nd;
    g->cap = ncap;
  }
  memcpy((char *)g->data + g->count * g->elem, item, g->elem);
  g->count++;
  return 1;
}

static char *trim_in_place(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
  return s;
}

void prior_csv_free(prior_csv *csv) {
  if (!csv) return;
  free(csv->name);
  free(csv->buf);
  free(csv->cells);
  free(csv->lines);
  free(csv);
}

/* Parses csv->buf (len bytes, NUL after them) into cells and lines. */
static prior_status parse_buffer(prior_csv *csv, size_t len) {
  char *b = csv->buf;
  const char *name = csv->name;
  char *nul = memchr(b, 0, len);
  if (nul) {
    long long line = 1;
    for (char *q = b; q < nul; q++) line += *q == '\n';
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: NUL byte at offset %zu (not a text file?)", name,
                           line, (size_t)(nul - b));
  }
  size_t p = 0, w = 0;
  if (len >= 3 && (unsigned char)b[0] == 0xEF && (unsigned char)b[1] == 0xBB && (unsigned char)b[2] == 0xBF) p = 3;
  growable cells = {NULL, 0, 0, sizeof(char *)}, lines = {NULL, 0, 0, sizeof(long long)};
  long long line = 1;
  int ncols = -1;
  prior_status st = PRIOR_OK;
  while (p < len) {
    /* Completely empty lines are skipped (as pandas does); they are not rows of one empty cell. */
    if (b[p] == '\n') { p++; line++; continue; }
    if (b[p] == '\r' && p + 1 < len && b[p + 1] == '\n') { p += 2; line++; continue; }
    long long row_line = line;
    size_t first_cell = cells.count;
    int at_end = 0;
    while (!at_end) {
      size_t start = w;
      if (b[p] == '"') {
        long long quote_line = line;
        p++;
        for (;;) {
          if (p >= len) {
            st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: unterminated quote (the file ends inside it)",
                                 name, quote_line);
            goto fail;
          }
          char c = b[p];
          if (c == '"') {
            if (p + 1 < len && b[p + 1] == '"') { b[w++] = '"'; p += 2; continue; }
            p++;
            break;
          }
          if (c == '\n') line++;
          b[w++] = c;
          p++;
        }
        int ok = p >= len || b[p] == ',' || b[p] == '\n' || (b[p] == '\r' && p + 1 < len && b[p + 1] == '\n');
        if (!ok) {
          st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: unexpected character '%c' after a closing quote",
                               name, line, b[p]);
          goto fail;
        }
      } else {
        /* Unquoted cell; a stray quote inside it is taken literally (5'6" style text in real files). */
        while (p < len && b[p] != ',' && b[p] != '\n' && !(b[p] == '\r' && p + 1 < len && b[p + 1] == '\n'))
          b[w++] = b[p++];
      }
      char *cell = b + start;
      if (p >= len) {
        at_end = 1;
      } else if (b[p] == ',') {
        p++;
      } else {
        p += b[p] == '\r' ? 2 : 1;
        line++;
        at_end = 1;
      }
      b[w++] = 0; /* w <= p here: the delimiter just consumed makes room for the terminator */
      if (!grow_push(&cells, &cell)) goto oom;
    }
    int n = (int)(cells.count - first_cell);
    if (ncols < 0) {
      ncols = n;
    } else if (n != ncols) {
      st = prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld: row has %d cells but the header has %d", name,
                           row_line, n, ncols);
      goto fail;
    }
    if (!grow_push(&lines, &row_line)) goto oom;
  }
  if (ncols < 0) {
    st = prior_error_set(PRIOR_ERR_FORMAT, "file %s: empty (no header row)", name);
    goto fail;
  }
  csv->cells = cells.data;
  csv->lines = lines.data;
  csv->nrows = (long long)lines.count;
  csv->ncols = ncols;
  for (int c = 0; c < ncols; c++) csv->cells[c] = trim_in_place(csv->cells[c]);
  return PRIOR_OK;
oom:
  st = prior_error_set(PRIOR_ERR_MEMORY, "file %s: out of memory at line %lld", name, line);
fail:
  free(cells.data);
  free(lines.data);
  return st;
}

static prior_status csv_from_buffer(char *buf, size_t len, const char *name, prior_csv **out) {
  prior_csv *csv = calloc(1, sizeof *csv);
  char *name_copy = strdup(name ? name : "<memory>");
  if (!csv || !name_copy) {
    free(csv);
    free(name_copy);
    free(buf);
    return prior_error_set(PRIOR_ERR_MEMORY, "csv %s: out of memory", name ? name : "<memory>");
  }
  csv->buf = buf;
  csv->name = name_copy;
  prior_status st = parse_buffer(csv, len);
  if (st != PRIOR_OK) {
    prior_csv_free(csv);
    return st;
  }
  *out = csv;
  return PRIOR_OK;
}

prior_status prior_csv_read(const char *path, prior_csv **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_csv_read: out is NULL");
  *out = NULL;
  unsigned char *data;
  size_t len;
  PRIOR_TRY(prior_slurp_file(path, &data, &len));
  return csv_from_buffer((char *)data, len, path, out);
}

prior_status prior_csv_parse(const char *text, size_t len, const char *name, prior_csv **out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_csv_parse: out is NULL");
  *out = NULL;
  if (!text && len) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_csv_parse: text is NULL");
  char *buf = malloc(len + 1);
  if (!buf) return prior_error_set(PRIOR_ERR_MEMORY, "csv %s: out of memory for %zu bytes", name, len);
  if (len) memcpy(buf, text, len);
  buf[len] = 0;
  return csv_from_buffer(buf, len, name, out);
}

long long prior_csv_rows(const prior_csv *csv) { return csv ? csv->nrows - 1 : -1; }
int prior_csv_cols(const prior_csv *csv) { return csv ? csv->ncols : -1; }

const char *prior_csv_header(const prior_csv *csv, int col) {
  if (!csv || col < 0 || col >= csv->ncols) return NULL;
  return csv->cells[col];
}

int prior_csv_column(const prior_csv *csv, const char *name) {
  if (!csv || !name) return -1;
  while (*name == ' ' || *name == '\t') name++;
  size_t n = strlen(name);
  while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t')) n--;
  for (int c = 0; c < csv->ncols; c++)
    if (strlen(csv->cells[c]) == n && memcmp(csv->cells[c], name, n) == 0) return c;
  return -1;
}

long long prior_csv_line(const prior_csv *csv, long long row) {
  if (!csv || row < 0 || row >= csv->nrows - 1) return -1;
  return csv->lines[row + 1];
}

const char *prior_csv_cell(const prior_csv *csv, long long row, int col) {
  if (!csv) {
    prior_error_set(PRIOR_ERR_ARGUMENT, "prior_csv_cell: csv is NULL");
    return NULL;
  }
  if (row < 0 || row >= csv->nrows - 1 || col < 0 || col >= csv->ncols) {
    prior_error_set(PRIOR_ERR_INDEX, "file %s: cell (row %lld, column %d) is outside %lld rows x %d columns",
                    csv->name, row, col, csv->nrows - 1, csv->ncols);
    return NULL;
  }
  return csv->cells[(size_t)(row + 1) * csv->ncols + col];
}

prior_status prior_csv_double(const prior_csv *csv, long long row, int col, double *out) {
  if (!out) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_csv_double: out is NULL");
  *out = NAN;
  const char *s = prior_csv_cell(csv, row, col);
  if (!s) return prior_error_code();
  const char *q = s;
  while (isspace((unsigned char)*q)) q++;
  if (!*q) return PRIOR_OK; /* blank: NaN, as pandas reads it */
  char *end;
  errno = 0;
  double v = strtod(q, &end);
  while (isspace((unsigned char)*end)) end++;
  if (end == q || *end)
    return prior_error_set(PRIOR_ERR_FORMAT, "file %s line %lld column '%s': '%s' is not a number", csv->name,
                           csv->lines[row + 1], csv->cells[col], s);
  *out = v;
  return PRIOR_OK;
}

/* ---- writer ------------------------------------------------------------------------------------------- */

struct prior_csv_writer {
  FILE *f;
  char *path;
  long long line;
};

prior_status prior_csv_writer_open(const char *path, prior_csv_writer **out) {
  if (!out || !path) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_csv_writer_open: NULL argument");
  *out = NULL;
  prior_csv_writer *w = calloc(1, sizeof *w);
  if (!w) return prior_error_set(PRIOR_ERR_MEMORY, "csv writer %s: out of memory", path);
  w->path = strdup(path);
  w->f = fopen(path, "wb");
  if (!w->f || !w->path) {
    prior_status st = prior_error_set(PRIOR_ERR_IO, "file %s: cannot create: %s", path, strerror(errno));
    if (w->f) fclose(w->f);
    free(w->path);
    free(w);
    return st;
  }
  *out = w;
  return PRIOR_OK;
}

static int needs_quotes(const char *s) {
  size_t n = strlen(s);
  if (n && (s[0] == ' ' || s[n - 1] == ' ')) return 1;
  return strpbrk(s, ",\"\r\n") != NULL;
}

prior_status prior_csv_writer_row(prior_csv_writer *w, int ncells, const char *const *cells) {
  if (!w || (ncells > 0 && !cells) || ncells < 0)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_csv_writer_row: bad arguments");
  for (int i = 0; i < ncells; i++) {
    const char *s = cells[i] ? cells[i] : "";
    if (i) fputc(',', w->f);
    if (needs_quotes(s)) {
      fputc('"', w->f);
      for (; *s; s++) {
        if (*s == '"') fputc('"', w->f);
        fputc(*s, w->f);
      }
      fputc('"', w->f);
    } else {
      fputs(s, w->f);
    }
  }
  fputc('\n', w->f);
  w->line++;
  if (ferror(w->f)) return prior_error_set(PRIOR_ERR_IO, "file %s: write failed at line %lld", w->path, w->line);
  return PRIOR_OK;
}

prior_status prior_csv_writer_close(prior_csv_writer *w) {
  if (!w) return PRIOR_OK;
  int bad = ferror(w->f);
  bad |= fclose(w->f) != 0;
  prior_status st = PRIOR_OK;
  if (bad) st = prior_error_set(PRIOR_ERR_IO, "file %s: write failed (disk full?)", w->path);
  free(w->path);
  free(w);
  return st;
}
