/* CSV reader and writer: quoting, CRLF, BOM, trimmed headers, blank cells, numbers, and broken files. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "prior/csv.h"

static prior_csv *parse(const char *text) {
  prior_csv *csv = NULL;
  CHECK_OK(prior_csv_parse(text, strlen(text), "t.csv", &csv));
  return csv;
}

static void test_siim_header(void) {
  prior_csv *csv = parse("\xEF\xBB\xBFImageId, EncodedPixels\r\n1.2.3, -1\r\n1.2.4, 5 3 10 2\r\n");
  CHECK(csv && prior_csv_rows(csv) == 2 && prior_csv_cols(csv) == 2);
  CHECK(prior_csv_column(csv, "ImageId") == 0);
  CHECK(prior_csv_column(csv, "EncodedPixels") == 1);
  CHECK(prior_csv_column(csv, " EncodedPixels ") == 1);
  CHECK(prior_csv_column(csv, "Missing") == -1);
  CHECK(strcmp(prior_csv_header(csv, 1), "EncodedPixels") == 0);
  CHECK(strcmp(prior_csv_cell(csv, 0, 0), "1.2.3") == 0);
  CHECK(strcmp(prior_csv_cell(csv, 1, 1), " 5 3 10 2") == 0); /* cells are kept as written */
  CHECK(prior_csv_line(csv, 1) == 3);
  double v;
  CHECK_OK(prior_csv_double(csv, 0, 1, &v));
  CHECK(v == -1.0);
  prior_csv_free(csv);
}

static void test_quoting(void) {
  const char *text =
      "id,text,n\n"
      "1,\"a, b\",2\n"
      "2,\"line one\nline two\",3\n"
      "3,\"say \"\"hi\"\"\",4\n"
      "4,,\n"
      "\n"
      "5,\"\",-1.0\n"
      "6,5'6\" tall,1e3"; /* no final newline; a bare quote inside an unquoted cell is literal */
  prior_csv *csv = parse(text);
  CHECK(csv && prior_csv_rows(csv) == 6);
  CHECK(strcmp(prior_csv_cell(csv, 0, 1), "a, b") == 0);
  CHECK(strcmp(prior_csv_cell(csv, 1, 1), "line one\nline two") == 0);
  CHECK(strcmp(prior_csv_cell(csv, 2, 1), "say \"hi\"") == 0);
  CHECK(strcmp(prior_csv_cell(csv, 3, 1), "") == 0);
  CHECK(strcmp(prior_csv_cell(csv, 4, 1), "") == 0);
  CHECK(strcmp(prior_csv_cell(csv, 5, 1), "5'6\" tall") == 0);
  CHECK(prior_csv_line(csv, 2) == 5); /* row 2 starts after the two-line quoted cell */
  CHECK(prior_csv_line(csv, 4) == 8); /* the empty line 7 is skipped */
  double v;
  CHECK_OK(prior_csv_double(csv, 3, 2, &v));
  CHECK(isnan(v));
  CHECK_OK(prior_csv_double(csv, 4, 2, &v));
  CHECK(v == -1.0);
  CHECK_OK(prior_csv_double(csv, 5, 2, &v));
  CHECK(v == 1000.0);
  CHECK_ERR(prior_csv_double(csv, 0, 1, &v), PRIOR_ERR_FORMAT, "line 2 column 'text': 'a, b' is not a number");
  CHECK(isnan(v));
  CHECK_ERR(prior_csv_cell(csv, 6, 0), PRIOR_ERR_INDEX, "outside 6 rows x 3 columns");
  CHECK(prior_csv_cell(csv, 0, 3) == NULL);
  CHECK(prior_csv_cell(csv, -1, 0) == NULL);
  CHECK(prior_csv_line(csv, 6) == -1);
  prior_csv_free(csv);

  /* Header only; a trailing comma makes an empty last cell. */
  csv = parse("a,b\n");
  CHECK(csv && prior_csv_rows(csv) == 0 && prior_csv_cols(csv) == 2);
  prior_csv_free(csv);
  csv = parse("a,b\r\n1,");
  CHECK(csv && prior_csv_rows(csv) == 1 && strcmp(prior_csv_cell(csv, 0, 1), "") == 0);
  prior_csv_free(csv);
}

static void test_broken(void) {
  prior_csv *csv = (prior_csv *)1;
  const char *t1 = "a,b\n1,2\n3,\"open\n4,5\n";
  CHECK_ERR(prior_csv_parse(t1, strlen(t1), "bad.csv", &csv), PRIOR_ERR_FORMAT,
            "file bad.csv line 3: unterminated quote");
  CHECK(csv == NULL);
  const char *t2 = "a,b\n1,2\n3\n";
  CHECK_ERR(prior_csv_parse(t2, strlen(t2), "bad.csv", &csv), PRIOR_ERR_FORMAT,
            "file bad.csv line 3: row has 1 cells but the header has 2");
  const char *t3 = "a,b\n1,2,3\n";
  CHECK_ERR(prior_csv_parse(t3, strlen(t3), "bad.csv", &csv), PRIOR_ERR_FORMAT, "line 2: row has 3 cells");
  const char *t4 = "a,b\n\"x\"y,2\n";
  CHECK_ERR(prior_csv_parse(t4, strlen(t4), "bad.csv", &csv), PRIOR_ERR_FORMAT, "line 2: unexpected character 'y'");
  const char t5[] = "a,b\n1,\0\n";
  CHECK_ERR(prior_csv_parse(t5, sizeof t5 - 1, "bin.csv", &csv), PRIOR_ERR_FORMAT, "file bin.csv line 2: NUL byte");
  CHECK_ERR(prior_csv_parse("", 0, "empty.csv", &csv), PRIOR_ERR_FORMAT, "file empty.csv: empty");
  CHECK_ERR(prior_csv_parse("\n\r\n", 3, "blank.csv", &csv), PRIOR_ERR_FORMAT, "empty");
  CHECK_ERR(prior_csv_read("no/such/file.csv", &csv), PRIOR_ERR_IO, "file no/such/file.csv: cannot open");
  CHECK(csv == NULL);
}

static void test_writer_roundtrip(void) {
  char path[] = "/tmp/prior_csv_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  prior_csv_writer *w;
  CHECK_OK(prior_csv_writer_open(path, &w));
  const char *header[] = {"ImageId", "EncodedPixels"};
  const char *r1[] = {"x,y", "say \"hi\""};
  const char *r2[] = {"multi\nline", " padded "};
  const char *r3[] = {"", NULL};
  CHECK_OK(prior_csv_writer_row(w, 2, header));
  CHECK_OK(prior_csv_writer_row(w, 2, r1));
  CHECK_OK(prior_csv_writer_row(w, 2, r2));
  CHECK_OK(prior_csv_writer_row(w, 2, r3));
  CHECK_OK(prior_csv_writer_close(w));
  prior_csv *csv = NULL;
  CHECK_OK(prior_csv_read(path, &csv));
  CHECK(csv && prior_csv_rows(csv) == 3);
  if (csv) {
    CHECK(strcmp(prior_csv_cell(csv, 0, 0), "x,y") == 0);
    CHECK(strcmp(prior_csv_cell(csv, 0, 1), "say \"hi\"") == 0);
    CHECK(strcmp(prior_csv_cell(csv, 1, 0), "multi\nline") == 0);
    CHECK(strcmp(prior_csv_cell(csv, 1, 1), " padded ") == 0);
    CHECK(strcmp(prior_csv_cell(csv, 2, 0), "") == 0 && strcmp(prior_csv_cell(csv, 2, 1), "") == 0);
  }
  prior_csv_free(csv);
  /* Exact bytes: quoted only where needed. */
  FILE *f = fopen(path, "rb");
  char got[256] = {0};
  size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
  if (f) fclose(f);
  got[n] = 0;
  CHECK(strcmp(got, "ImageId,EncodedPixels\n\"x,y\",\"say \"\"hi\"\"\"\n\"multi\nline\",\" padded \"\n,\n") == 0);
  remove(path);
  CHECK_ERR(prior_csv_writer_open("/no/such/dir/x.csv", &w), PRIOR_ERR_IO, "file /no/such/dir/x.csv: cannot create");
}

int main(void) {
  test_siim_header();
  test_quoting();
  test_broken();
  test_writer_roundtrip();
  return check_summary("test_csv");
}
