/*
 * csv — the readers behind the file trigger: RFC 4180 CSV, a JSON array of objects, and
 * NDJSON, each turned into rows that know the line they start on.
 *
 * Input is whatever an admin dropped into a folder, usually an Excel or admin-center export,
 * so every problem is reported with its line ("line 7: 5 fields, the header has 16") and all
 * bad lines of a file are collected, not just the first: the file goes to failed/ with the
 * whole list and nothing of it is committed. This module works on a buffer in memory; it
 * knows nothing about directories, inotify or the journal (that is triggers/file/watch).
 *
 * Lines are counted from 1; a line ends at LF, CRLF or a lone CR. A UTF-8 byte order mark at
 * the start is skipped. Text must be UTF-8 without NUL bytes; a file that is not UTF-8 text at
 * all (UTF-16 or UTF-32, with or without a byte order mark, a zip archive such as an .xlsx
 * workbook, NUL bytes) fails with one error that says so, not one per line.
 */
#ifndef WR_CSV_H
#define WR_CSV_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* At most this many errors are kept per file; the rest are only counted (`more`). */
#define WR_CSV_MAX_ERRORS 100
/* A header wider than this is refused, so a line of commas cannot exhaust memory. */
#define WR_CSV_MAX_COLUMNS 1024

struct wr_csv_error {
    size_t line;   /* the line the problem is on; 0 = the file as a whole */
    char *message; /* owned; "line 7: 5 fields, the header has 16" (with the line prefix) */
};

struct wr_csv_errors {
    struct wr_csv_error *items; /* sorted by line, file-wide errors (line 0) first */
    size_t count;
    size_t cap;
    size_t more; /* errors found beyond WR_CSV_MAX_ERRORS, not stored */
};

/* One CSV record after the header. */
struct wr_csv_row {
    size_t line;   /* the line the row starts on (a quoted field may span several) */
    char **fields; /* exactly ncols NUL-terminated strings, owned by the row */
    char *data;    /* owned storage the fields point into */
};

struct wr_csv {
    char **header; /* ncols owned column names, unique and non-empty */
    size_t ncols;
    size_t header_line;      /* the line the header is on */
    struct wr_csv_row *rows; /* nrows rows, each with ncols fields */
    size_t nrows;
    struct wr_csv_errors errors;
};

/*
 * Parses len bytes of CSV (need not be NUL-terminated) per RFC 4180: the first record is the
 * header; fields are separated by commas; a quoted field may hold commas, CR, LF and quotes
 * doubled (""); records end at CRLF, LF or CR. Blank lines (no characters at all) are
 * skipped, so a file may end with one. Every record must have as many fields as the header.
 * max_rows (0 = no limit) bounds the number of data rows. Fills *out (zero it first; release
 * with wr_csv_clear). Returns 0 when the file is clean, -1 when out->errors lists problems (then
 * out->rows must not be used).
 */
int wr_csv_parse(const char *buf, size_t len, size_t max_rows, struct wr_csv *out);

/* Releases everything a wr_csv holds and zeroes it. NULL is fine. */
void wr_csv_clear(struct wr_csv *csv);

/* {========================== rows of any format ==========================} */

enum wr_csv_format {
    WR_CSV_FORMAT_CSV,    /* header row, then one row per record */
    WR_CSV_FORMAT_JSON,   /* one JSON array whose elements are objects */
    WR_CSV_FORMAT_NDJSON, /* one JSON object per line; blank lines skipped */
};

/* Maps a `format:` value to the enum; NULL means the default, csv. Returns 0 or -1. */
int wr_csv_format_parse(const char *name, enum wr_csv_format *out);

struct wr_csv_record {
    struct json_object *row; /* owned object: {header: value} for CSV, the element as is else */
    size_t line;             /* the line the row starts on */
};

struct wr_csv_records {
    struct wr_csv_record *items;
    size_t count;
    struct wr_csv_errors errors;
    char **header; /* CSV: the ncols column names (owned), also when rows failed; else NULL */
    size_t ncols;
    size_t header_line; /* CSV: the line of the header */
};

/*
 * Reads len bytes in the given format into rows (for CSV, objects whose keys follow the
 * header's order and whose values are strings). max_rows (0 = no limit) bounds the rows. Fills
 * *out (zero it first; release with wr_csv_records_clear). Returns 0 when the whole file is
 * good; -1 when out->errors lists problems, and then out->count is 0: a file is taken whole
 * or not at all.
 */
int wr_csv_read(enum wr_csv_format format, const char *buf, size_t len, size_t max_rows,
                struct wr_csv_records *out);

/* Releases the rows and errors and zeroes *r. NULL is fine. */
void wr_csv_records_clear(struct wr_csv_records *r);

/*
 * Checks that the rows read into r have every name of columns[0..n): for CSV, the header holds
 * each (one error naming those it lacks and quoting the header); for JSON and NDJSON, each row
 * has each key (one error per row, at its line). `who` says who asks, for the messages
 * ("columns: of workflow hr-sync"). Returns 0, or -1 with the errors added to r->errors and the
 * rows released (a file is taken whole or not at all).
 */
int wr_csv_require(struct wr_csv_records *r, const char *const *columns, size_t n, const char *who);

/*
 * The errors as text, one per line, ending with "... and N more errors" when some were only
 * counted. Owned; "" when there are none.
 */
char *wr_csv_errors_format(const struct wr_csv_errors *e);

#endif
