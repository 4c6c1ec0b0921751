/*
 * csv — RFC 4180 CSV, JSON-array and NDJSON readers for the file trigger; see csv.h.
 *
 * Not a streaming parser: the file trigger bounds a file's size before reading it, so the
 * readers work on the whole buffer and report every bad line of it in one go.
 */
#include "triggers/file/csv.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"

/* Nesting limit for JSON rows, as for workflow files. */
#define JSON_DEPTH 64

/* {========================== errors and lines ==========================} */

static void add_error(struct wr_csv_errors *e, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Adds an error, keeping the list sorted by line (stable: equal lines keep their order) and at
 * most WR_CSV_MAX_ERRORS long; the errors that fall off the end are counted in e->more.
 */
static void add_error(struct wr_csv_errors *e, size_t line, const char *fmt, ...)
{
    size_t at = e->count;
    while (at > 0 && e->items[at - 1].line > line) {
        at--;
    }
    if (at >= WR_CSV_MAX_ERRORS) {
        e->more++;
        return;
    }
    if (e->count == WR_CSV_MAX_ERRORS) {
        free(e->items[--e->count].message);
        e->more++;
    }
    if (e->count == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->items = wr_xrealloc(e->items, e->cap * sizeof(*e->items));
    }
    struct wr_buf msg = {0};
    if (line > 0) {
        wr_buf_addf(&msg, "line %zu: ", line);
    }
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    memmove(&e->items[at + 1], &e->items[at], (e->count - at) * sizeof(*e->items));
    e->items[at].line = line;
    e->items[at].message = wr_buf_take(&msg);
    e->count++;
}

static bool has_errors(const struct wr_csv_errors *e)
{
    return e->count > 0 || e->more > 0;
}

static void errors_clear(struct wr_csv_errors *e)
{
    for (size_t i = 0; i < e->count; i++) {
        free(e->items[i].message);
    }
    free(e->items);
    memset(e, 0, sizeof(*e));
}

char *wr_csv_errors_format(const struct wr_csv_errors *e)
{
    struct wr_buf b = {0};
    for (size_t i = 0; i < e->count; i++) {
        wr_buf_addf(&b, "%s\n", e->items[i].message);
    }
    if (e->more > 0) {
        wr_buf_addf(&b, "... and %zu more error%s\n", e->more, e->more == 1 ? "" : "s");
    }
    return wr_buf_take(&b);
}

/* Length of a UTF-8 byte order mark at the start of buf, else 0. */
static size_t bom_len(const char *buf, size_t len)
{
    return len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/*
 * Finds the line that starts at pos: its text is [pos, *end) and the next line starts at
 * *next. A line ends at LF, CRLF or a lone CR; the last one may have no end.
 */
static void next_line(const char *buf, size_t len, size_t pos, size_t *end, size_t *next)
{
    size_t i = pos;
    while (i < len && buf[i] != '\n' && buf[i] != '\r') {
        i++;
    }
    *end = i;
    if (i < len && buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') {
        i++;
    }
    *next = i < len ? i + 1 : i;
}

/* The line holding byte offset off. */
static size_t line_at(const char *buf, size_t len, size_t off)
{
    size_t line = 1, pos = 0, end, next;
    for (;;) {
        next_line(buf, len, pos, &end, &next);
        if (off <= end || next >= len) {
            return line;
        }
        pos = next;
        line++;
    }
}

/* Checks that bytes [pos, end) of line `line` are text: no NUL, valid UTF-8. */
static bool check_line(const char *buf, size_t pos, size_t end, size_t line, const char *hint,
                       struct wr_csv_errors *e)
{
    if (memchr(buf + pos, '\0', end - pos)) {
        add_error(e, line, "a NUL byte: this is not a text file");
        return false;
    }
    if (!wr_utf8_valid(buf + pos, end - pos)) {
        add_error(e, line, "not valid UTF-8%s", hint);
        return false;
    }
    return true;
}

/* How much of the start of a file is looked at to tell UTF-16 from UTF-8 text. */
#define SNIFF_BYTES 1024

/*
 * Whether buf is text weir can read at all. A UTF-16 or UTF-32 file (by its byte order mark,
 * or, without one, by the NUL in every other byte that ASCII text has in UTF-16), a zip archive
 * (an .xlsx workbook saved under a .csv name) or any NUL byte fails the whole file with ONE
 * error: reporting every line of such a file would bury the one thing to do, save it as UTF-8.
 * A UTF-8 byte order mark is fine (the readers skip it).
 */
static bool check_encoding(const char *buf, size_t len, const char *hint, struct wr_csv_errors *e)
{
    const unsigned char *u = (const unsigned char *)buf;
    const char *bom = ", with a byte order mark";
    if (len >= 4 && memcmp(u, "\xFF\xFE\0\0", 4) == 0) {
        add_error(e, 0,
                  "the file is UTF-32 (little-endian%s), which weir does not read: save it as "
                  "UTF-8%s",
                  bom, hint);
        return false;
    }
    if (len >= 4 && memcmp(u, "\0\0\xFE\xFF", 4) == 0) {
        add_error(e, 0,
                  "the file is UTF-32 (big-endian%s), which weir does not read: save it as "
                  "UTF-8%s",
                  bom, hint);
        return false;
    }
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        add_error(e, 0,
                  "the file is UTF-16 (%s-endian%s), which weir does not read: save it as "
                  "UTF-8%s",
                  u[0] == 0xFE ? "big" : "little", bom, hint);
        return false;
    }
    if (len >= 4 && memcmp(u, "PK\x03\x04", 4) == 0) {
        add_error(e, 0, "the file is a zip archive (an Excel .xlsx workbook?), not text%s", hint);
        return false;
    }
    const char *nul = memchr(buf, '\0', len);
    if (!nul) {
        return true;
    }
    /* Without a byte order mark: in UTF-16, text that is mostly ASCII has a NUL in nearly every
       other byte and (almost) none in the others. */
    size_t pairs = (len < SNIFF_BYTES ? len : SNIFF_BYTES) / 2, even = 0, odd = 0;
    for (size_t i = 0; i < pairs; i++) {
        even += u[2 * i] == 0;
        odd += u[2 * i + 1] == 0;
    }
    bool le = odd * 10 >= pairs * 9 && even * 10 <= pairs;
    bool be = even * 10 >= pairs * 9 && odd * 10 <= pairs;
    if (pairs > 0 && (le || be)) {
        add_error(e, 0,
                  "the file is UTF-16 (%s-endian), which weir does not read: save it as "
                  "UTF-8%s",
                  be ? "big" : "little", hint);
        return false;
    }
    add_error(e, line_at(buf, len, (size_t)(nul - buf)), "a NUL byte: this is not a text file");
    return false;
}

/* Every line of the file through check_line. */
static void check_text(const char *buf, size_t len, const char *hint, struct wr_csv_errors *e)
{
    size_t pos = 0, line = 1, end, next;
    while (pos < len) {
        next_line(buf, len, pos, &end, &next);
        check_line(buf, pos, end, line, hint, e);
        pos = next;
        line++;
    }
}

/* {========================== CSV ==========================} */

#define CSV_HINT " (in Excel, save as \"CSV UTF-8\")"

struct parser {
    const char *buf;
    size_t len;
    size_t pos;
    size_t line; /* the line pos is on */
    struct wr_csv_errors *errors;
};

/* One record being read: its fields, each followed by a NUL, in one buffer. */
struct record {
    struct wr_buf data;
    size_t *offs; /* start of each stored field in data */
    size_t noffs;
    size_t cap;
    size_t nfields; /* fields seen; only the first `limit` are stored */
    size_t line;    /* the line the record starts on */
};

enum record_status {
    REC_OK,
    REC_BLANK, /* an empty line: no record */
    REC_BAD,   /* an error was recorded; the parser moved past the line */
};

/* Moves past the line end at pos (CRLF, LF or CR). */
static void end_line(struct parser *ps)
{
    if (ps->buf[ps->pos] == '\r' && ps->pos + 1 < ps->len && ps->buf[ps->pos + 1] == '\n') {
        ps->pos++;
    }
    ps->pos++;
    ps->line++;
}

/* After a syntax error: resume at the next line, the likeliest start of a good record. */
static void skip_line(struct parser *ps)
{
    size_t end, next;
    next_line(ps->buf, ps->len, ps->pos, &end, &next);
    if (end < ps->len) {
        ps->line++;
    }
    ps->pos = next;
}

/* Reads the body of a quoted field after its opening quote into r->data. */
static bool read_quoted(struct parser *ps, struct record *r)
{
    const char *s = ps->buf;
    size_t qline = ps->line;
    for (;;) {
        size_t start = ps->pos;
        while (ps->pos < ps->len && s[ps->pos] != '"') {
            /* Line breaks inside quotes are data, but still count: later rows are named by
               the line an editor shows them on. */
            if (s[ps->pos] == '\n' ||
                (s[ps->pos] == '\r' && !(ps->pos + 1 < ps->len && s[ps->pos + 1] == '\n'))) {
                ps->line++;
            }
            ps->pos++;
        }
        wr_buf_addn(&r->data, s + start, ps->pos - start);
        if (ps->pos >= ps->len) {
            add_error(ps->errors, qline, "field %zu: the quoted field is never closed",
                      r->nfields + 1);
            return false;
        }
        ps->pos++;
        if (ps->pos < ps->len && s[ps->pos] == '"') {
            wr_buf_addc(&r->data, '"');
            ps->pos++;
            continue;
        }
        return true;
    }
}

/* Reads one record at ps->pos (which is before the end), storing at most `limit` fields. */
static enum record_status parse_record(struct parser *ps, struct record *r, size_t limit)
{
    const char *s = ps->buf;
    r->data.len = 0;
    r->noffs = 0;
    r->nfields = 0;
    r->line = ps->line;
    for (;;) {
        size_t off = r->data.len;
        bool quoted = ps->pos < ps->len && s[ps->pos] == '"';
        if (quoted) {
            ps->pos++;
            if (!read_quoted(ps, r)) {
                return REC_BAD;
            }
        } else {
            size_t start = ps->pos;
            while (ps->pos < ps->len && s[ps->pos] != ',' && s[ps->pos] != '\n' &&
                   s[ps->pos] != '\r' && s[ps->pos] != '"') {
                ps->pos++;
            }
            if (ps->pos < ps->len && s[ps->pos] == '"') {
                add_error(ps->errors, ps->line,
                          "field %zu: a quote inside an unquoted field (quote the whole "
                          "field and double the quote: \"a \"\"b\"\"\")",
                          r->nfields + 1);
                skip_line(ps);
                return REC_BAD;
            }
            wr_buf_addn(&r->data, s + start, ps->pos - start);
        }
        bool empty = r->data.len == off;
        if (r->noffs < limit) {
            if (r->noffs == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 16;
                r->offs = wr_xrealloc(r->offs, r->cap * sizeof(*r->offs));
            }
            r->offs[r->noffs++] = off;
            wr_buf_addc(&r->data, '\0');
        } else {
            r->data.len = off; /* counted, not kept: the record is an error anyway */
        }
        r->nfields++;
        if (ps->pos >= ps->len) {
            return REC_OK;
        }
        char c = s[ps->pos];
        if (c == ',') {
            ps->pos++;
            continue;
        }
        if (c == '\n' || c == '\r') {
            end_line(ps);
            return r->nfields == 1 && !quoted && empty ? REC_BLANK : REC_OK;
        }
        add_error(ps->errors, ps->line,
                  "field %zu: text after the closing quote (a quote inside a quoted field is "
                  "written twice: \"a \"\"b\"\"\")",
                  r->nfields);
        skip_line(ps);
        return REC_BAD;
    }
}

/* The record's stored fields as an owned array pointing into *data (taken from r). */
static char **record_take(struct record *r, char **data)
{
    *data = wr_buf_take(&r->data);
    char **fields = wr_xmalloc((r->noffs ? r->noffs : 1) * sizeof(*fields));
    for (size_t i = 0; i < r->noffs; i++) {
        fields[i] = *data + r->offs[i];
    }
    return fields;
}

static void check_header(struct wr_csv *csv, size_t line)
{
    for (size_t i = 0; i < csv->ncols; i++) {
        if (!csv->header[i][0]) {
            add_error(&csv->errors, line, "column %zu: the header name is empty", i + 1);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(csv->header[i], csv->header[j]) == 0) {
                add_error(&csv->errors, line,
                          "column %zu: duplicate header name \"%s\" (also column %zu)", i + 1,
                          csv->header[i], j + 1);
                break;
            }
        }
    }
}

static void rows_free(struct wr_csv *csv)
{
    for (size_t i = 0; i < csv->nrows; i++) {
        free(csv->rows[i].fields);
        free(csv->rows[i].data);
    }
    free(csv->rows);
    csv->rows = NULL;
    csv->nrows = 0;
}

int wr_csv_parse(const char *buf, size_t len, size_t max_rows, struct wr_csv *out)
{
    struct parser ps = {buf, len, bom_len(buf, len), 1, &out->errors};
    struct record r = {0};
    char *header_data = NULL;
    size_t cap = 0, seen = 0;
    enum record_status st = REC_BLANK;

    if (!check_encoding(buf, len, CSV_HINT, &out->errors)) {
        goto out;
    }
    check_text(buf, len, CSV_HINT, &out->errors);

    while (ps.pos < ps.len && (st = parse_record(&ps, &r, WR_CSV_MAX_COLUMNS + 1)) == REC_BLANK) {
    }
    if (st == REC_BLANK) {
        add_error(&out->errors, 0, "the file is empty: a header row is needed");
        goto out;
    }
    if (st == REC_BAD) {
        goto out;
    }
    if (r.nfields > WR_CSV_MAX_COLUMNS) {
        add_error(&out->errors, r.line, "%zu columns in the header; at most %d are supported",
                  r.nfields, WR_CSV_MAX_COLUMNS);
        goto out;
    }
    out->ncols = r.noffs;
    out->header_line = r.line;
    char **names = record_take(&r, &header_data);
    out->header = wr_xmalloc(out->ncols * sizeof(*out->header));
    for (size_t i = 0; i < out->ncols; i++) {
        out->header[i] = wr_xstrdup(names[i]);
    }
    free(names);
    check_header(out, r.line);

    while (ps.pos < ps.len) {
        st = parse_record(&ps, &r, out->ncols);
        if (st == REC_BLANK) {
            continue;
        }
        if (max_rows > 0 && ++seen > max_rows) {
            add_error(&out->errors, 0, "more than %zu rows: the limit per file", max_rows);
            break;
        }
        if (st == REC_BAD) {
            continue;
        }
        if (r.nfields != out->ncols) {
            add_error(&out->errors, r.line, "%zu field%s, the header has %zu", r.nfields,
                      r.nfields == 1 ? "" : "s", out->ncols);
            continue;
        }
        if (has_errors(&out->errors)) {
            continue; /* the file fails: keep checking, stop keeping */
        }
        if (out->nrows == cap) {
            cap = cap ? cap * 2 : 64;
            out->rows = wr_xrealloc(out->rows, cap * sizeof(*out->rows));
        }
        struct wr_csv_row *row = &out->rows[out->nrows++];
        row->line = r.line;
        row->fields = record_take(&r, &row->data);
    }
out:
    free(header_data);
    wr_buf_free(&r.data);
    free(r.offs);
    if (has_errors(&out->errors)) {
        rows_free(out);
        return -1;
    }
    return 0;
}

void wr_csv_clear(struct wr_csv *csv)
{
    if (!csv) {
        return;
    }
    for (size_t i = 0; i < csv->ncols; i++) {
        free(csv->header[i]);
    }
    free(csv->header);
    rows_free(csv);
    errors_clear(&csv->errors);
    memset(csv, 0, sizeof(*csv));
}

/* {========================== JSON and NDJSON ==========================} */

static const char *json_kind(const struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
    case json_type_int:
        return "a number";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "an array";
    case json_type_object:
        return "an object";
    }
    return "a value";
}

static bool only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return false;
        }
    }
    return true;
}

/*
 * Parses exactly s[0..n) as one JSON value with weir's strict reader (engine/base/json: RFC 8259,
 * duplicate keys refused, numbers exact). Returns it (owned), or NULL with a reason (in why,
 * WR_ERR_MAX bytes) and the offset it applies to.
 */
static struct json_object *parse_json(const char *s, size_t n, char *why, size_t *where)
{
    struct wr_json_opts opts = {.max_depth = JSON_DEPTH};
    struct wr_json_error e;
    struct json_object *v = NULL;
    why[0] = '\0';
    *where = 0;
    if (wr_json_parse(s, n, &opts, &v, &e) != 0) {
        if (e.path[0]) {
            wr_errf_marked(why, WR_ERR_MAX, "%s (at %s)", e.msg, e.path);
        } else {
            wr_errf_marked(why, WR_ERR_MAX, "%s", e.msg);
        }
        *where = e.offset;
        return NULL;
    }
    return v;
}

static void records_add(struct wr_csv_records *out, size_t *cap, struct json_object *row,
                        size_t line)
{
    if (out->count == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        out->items = wr_xrealloc(out->items, *cap * sizeof(*out->items));
    }
    out->items[out->count].row = row;
    out->items[out->count].line = line;
    out->count++;
}

static void read_json(const char *buf, size_t len, size_t max_rows, struct wr_csv_records *out)
{
    size_t skip = bom_len(buf, len), cap = 0;
    char why[WR_ERR_MAX];
    size_t where;

    if (!check_encoding(buf, len, "", &out->errors)) {
        return;
    }
    check_text(buf, len, "", &out->errors);
    if (has_errors(&out->errors)) {
        return;
    }
    if (only_space(buf + skip, len - skip)) {
        add_error(&out->errors, 0, "the file is empty: a JSON array of objects is needed");
        return;
    }
    struct json_object *root = parse_json(buf + skip, len - skip, why, &where);
    if (!root) {
        add_error(&out->errors, line_at(buf, len, skip + where), "not valid JSON: %s", why);
        return;
    }
    if (!json_object_is_type(root, json_type_array)) {
        add_error(&out->errors, 0, "the file holds %s, not a JSON array of objects",
                  json_kind(root));
        json_object_put(root);
        return;
    }
    size_t n = json_object_array_length(root);
    if (max_rows > 0 && n > max_rows) {
        add_error(&out->errors, 0, "more than %zu rows: the limit per file", max_rows);
        json_object_put(root);
        return;
    }
    /* json-c keeps no positions: the document is valid, so a scan of its brackets finds
       where each element of the top-level array starts, and so its line. */
    size_t depth = 0, line = 1, idx = 0;
    bool in_str = false, esc = false, expect = false;
    for (size_t i = skip; i < len && idx < n; i++) {
        char c = buf[i];
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '\n' || (c == '\r' && !(i + 1 < len && buf[i + 1] == '\n'))) {
            line++;
            continue;
        }
        if (depth == 1 && expect && c != ' ' && c != '\t' && c != '\r' && c != ']') {
            struct json_object *el = json_object_array_get_idx(root, idx);
            if (!json_object_is_type(el, json_type_object)) {
                add_error(&out->errors, line, "element %zu is %s, not an object", idx + 1,
                          json_kind(el));
            } else if (!has_errors(&out->errors)) {
                records_add(out, &cap, json_object_get(el), line);
            }
            idx++;
            expect = false;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            expect = ++depth == 1;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == ',' && depth == 1) {
            expect = true;
        }
    }
    json_object_put(root);
}

static void read_ndjson(const char *buf, size_t len, size_t max_rows, struct wr_csv_records *out)
{
    size_t pos = bom_len(buf, len), line = 1, end, next, cap = 0, seen = 0;
    char why[WR_ERR_MAX];
    size_t where;

    if (!check_encoding(buf, len, "", &out->errors)) {
        return;
    }
    for (; pos < len; pos = next, line++) {
        next_line(buf, len, pos, &end, &next);
        if (only_space(buf + pos, end - pos)) {
            continue;
        }
        if (max_rows > 0 && ++seen > max_rows) {
            add_error(&out->errors, 0, "more than %zu rows: the limit per file", max_rows);
            return;
        }
        if (!check_line(buf, pos, end, line, "", &out->errors)) {
            continue;
        }
        struct json_object *v = parse_json(buf + pos, end - pos, why, &where);
        if (!v) {
            add_error(&out->errors, line, "not valid JSON: %s", why);
        } else if (!json_object_is_type(v, json_type_object)) {
            add_error(&out->errors, line, "%s, not a JSON object", json_kind(v));
        } else if (!has_errors(&out->errors)) {
            records_add(out, &cap, v, line);
            continue;
        }
        json_object_put(v);
    }
}

static void read_csv(const char *buf, size_t len, size_t max_rows, struct wr_csv_records *out)
{
    struct wr_csv csv = {0};
    if (wr_csv_parse(buf, len, max_rows, &csv) == 0) {
        out->items = wr_xmalloc((csv.nrows ? csv.nrows : 1) * sizeof(*out->items));
        for (size_t i = 0; i < csv.nrows; i++) {
            struct json_object *row = json_object_new_object();
            for (size_t c = 0; c < csv.ncols; c++) {
                /* Header names are unique (checked), so no lookup for an old key. */
                json_object_object_add_ex(row, csv.header[c],
                                          json_object_new_string(csv.rows[i].fields[c]),
                                          JSON_C_OBJECT_ADD_KEY_IS_NEW);
            }
            out->items[i].row = row;
            out->items[i].line = csv.rows[i].line;
        }
        out->count = csv.nrows;
    }
    out->errors = csv.errors; /* moved */
    memset(&csv.errors, 0, sizeof(csv.errors));
    out->header = csv.header; /* moved too */
    out->ncols = csv.ncols;
    out->header_line = csv.header_line;
    csv.header = NULL;
    csv.ncols = 0;
    wr_csv_clear(&csv);
}

int wr_csv_format_parse(const char *name, enum wr_csv_format *out)
{
    if (!name || strcmp(name, "csv") == 0) {
        *out = WR_CSV_FORMAT_CSV;
    } else if (strcmp(name, "json") == 0) {
        *out = WR_CSV_FORMAT_JSON;
    } else if (strcmp(name, "ndjson") == 0) {
        *out = WR_CSV_FORMAT_NDJSON;
    } else {
        return -1;
    }
    return 0;
}

int wr_csv_read(enum wr_csv_format format, const char *buf, size_t len, size_t max_rows,
                struct wr_csv_records *out)
{
    if (len > INT_MAX) {
        /* json-c takes int lengths; the file trigger's limit is far below this. */
        add_error(&out->errors, 0, "the file is too large (%zu bytes)", len);
        return -1;
    }
    switch (format) {
    case WR_CSV_FORMAT_CSV:
        read_csv(buf, len, max_rows, out);
        break;
    case WR_CSV_FORMAT_JSON:
        read_json(buf, len, max_rows, out);
        break;
    case WR_CSV_FORMAT_NDJSON:
        read_ndjson(buf, len, max_rows, out);
        break;
    }
    if (has_errors(&out->errors)) {
        for (size_t i = 0; i < out->count; i++) {
            json_object_put(out->items[i].row);
        }
        free(out->items);
        out->items = NULL;
        out->count = 0;
        return -1;
    }
    return 0;
}

void wr_csv_records_clear(struct wr_csv_records *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->count; i++) {
        json_object_put(r->items[i].row);
    }
    free(r->items);
    errors_clear(&r->errors);
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->header[i]);
    }
    free(r->header);
    memset(r, 0, sizeof(*r));
}

/* At most this much of a header is quoted in an error. */
#define QUOTE_MAX 200

int wr_csv_require(struct wr_csv_records *r, const char *const *columns, size_t n, const char *who)
{
    if (r->header) {
        struct wr_buf missing = {0}, line = {0};
        size_t nmissing = 0;
        for (size_t c = 0; c < n; c++) {
            bool found = false;
            for (size_t i = 0; i < r->ncols && !found; i++) {
                found = strcmp(r->header[i], columns[c]) == 0;
            }
            if (!found) {
                wr_buf_addf(&missing, "%s\"%s\"", nmissing++ ? ", " : "", columns[c]);
            }
        }
        for (size_t i = 0; i < r->ncols && line.len < QUOTE_MAX; i++) {
            wr_buf_addf(&line, "%s%s", i ? "," : "", r->header[i]);
        }
        if (nmissing > 0) {
            add_error(&r->errors, r->header_line,
                      "the header lacks the column%s %s that %s lists; the line reads \"%.*s%s\" "
                      "(is this the rest of a file written in several pieces?)",
                      nmissing == 1 ? "" : "s", wr_buf_str(&missing), who, QUOTE_MAX,
                      wr_buf_str(&line), line.len > QUOTE_MAX ? "..." : "");
        }
        wr_buf_free(&missing);
        wr_buf_free(&line);
    } else {
        for (size_t i = 0; i < r->count; i++) {
            struct wr_buf missing = {0};
            size_t nmissing = 0;
            for (size_t c = 0; c < n; c++) {
                if (!json_object_object_get_ex(r->items[i].row, columns[c], NULL)) {
                    wr_buf_addf(&missing, "%s\"%s\"", nmissing++ ? ", " : "", columns[c]);
                }
            }
            if (nmissing > 0) {
                add_error(&r->errors, r->items[i].line, "no %s, which %s lists",
                          wr_buf_str(&missing), who);
            }
            wr_buf_free(&missing);
        }
    }
    if (!has_errors(&r->errors)) {
        return 0;
    }
    for (size_t i = 0; i < r->count; i++) {
        json_object_put(r->items[i].row);
    }
    free(r->items);
    r->items = NULL;
    r->count = 0;
    return -1;
}
