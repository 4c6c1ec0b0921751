/*
 * test_csv — unit tests for triggers/file/csv: RFC 4180 CSV (quotes, embedded line breaks and the
 * line numbers after them, BOM, CRLF, blank lines), every error message word for word, the
 * JSON-array and NDJSON readers, and the Microsoft 365 user template.
 *
 * Not a fuzz target: this file pins down behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "triggers/file/csv.h"
#include "engine/base/strutil.h"

/* Parses s as CSV, expecting success. */
static void csv_ok(const char *s, struct wr_csv *csv)
{
    memset(csv, 0, sizeof(*csv));
    if (wr_csv_parse(s, strlen(s), 0, csv) != 0) {
        char *text = wr_csv_errors_format(&csv->errors);
        fail_msg("should parse, got:\n%s", text);
    }
}

/* Parses len bytes as CSV (max_rows limit), expecting exactly the error text want. */
static void csv_fails_n(const char *s, size_t len, size_t max_rows, const char *want)
{
    struct wr_csv csv = {0};
    assert_int_equal(wr_csv_parse(s, len, max_rows, &csv), -1);
    assert_int_equal(csv.nrows, 0);
    char *text = wr_csv_errors_format(&csv.errors);
    assert_string_equal(text, want);
    free(text);
    wr_csv_clear(&csv);
}

static void csv_fails(const char *s, const char *want)
{
    csv_fails_n(s, strlen(s), 0, want);
}

/* Reads s in format f, expecting success and n rows. */
static void read_ok(enum wr_csv_format f, const char *s, size_t n, struct wr_csv_records *r)
{
    memset(r, 0, sizeof(*r));
    if (wr_csv_read(f, s, strlen(s), 0, r) != 0) {
        char *text = wr_csv_errors_format(&r->errors);
        fail_msg("should read, got:\n%s", text);
    }
    assert_int_equal(r->count, n);
}

static void read_fails(enum wr_csv_format f, const char *s, size_t len, const char *want)
{
    struct wr_csv_records r = {0};
    assert_int_equal(wr_csv_read(f, s, len, 0, &r), -1);
    assert_int_equal(r.count, 0);
    char *text = wr_csv_errors_format(&r.errors);
    assert_string_equal(text, want);
    free(text);
    wr_csv_records_clear(&r);
}

/* The row as compact JSON, for comparing whole rows. */
static const char *row_json(const struct wr_csv_records *r, size_t i)
{
    return json_object_to_json_string_ext(r->items[i].row,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* {========================== CSV ==========================} */

static void test_quoted_commas(void **state)
{
    (void)state;
    struct wr_csv csv;
    csv_ok("name,city\n\"Doe, Jane\",\"Berlin, DE\"\nplain,x\n", &csv);
    assert_int_equal(csv.ncols, 2);
    assert_string_equal(csv.header[0], "name");
    assert_string_equal(csv.header[1], "city");
    assert_int_equal(csv.nrows, 2);
    assert_string_equal(csv.rows[0].fields[0], "Doe, Jane");
    assert_string_equal(csv.rows[0].fields[1], "Berlin, DE");
    assert_string_equal(csv.rows[1].fields[0], "plain");
    assert_int_equal(csv.rows[0].line, 2);
    assert_int_equal(csv.rows[1].line, 3);
    wr_csv_clear(&csv);
}

static void test_embedded_newlines(void **state)
{
    (void)state;
    struct wr_csv csv;
    csv_ok("a,b\n"
           "\"line one\nline two\",x\n"       /* lines 2-3 */
           "\"crlf\r\ninside\r\nquotes\",y\n" /* lines 4-6 */
           "after,z\n"                        /* line 7 */
           "\"\n\n\",\"two\nfields\"\n"       /* lines 8-11 */
           "last,w\n",                        /* line 12 */
           &csv);
    assert_int_equal(csv.nrows, 5);
    assert_string_equal(csv.rows[0].fields[0], "line one\nline two");
    assert_int_equal(csv.rows[0].line, 2);
    assert_string_equal(csv.rows[1].fields[0], "crlf\r\ninside\r\nquotes");
    assert_int_equal(csv.rows[1].line, 4);
    assert_string_equal(csv.rows[2].fields[0], "after");
    assert_int_equal(csv.rows[2].line, 7);
    assert_string_equal(csv.rows[3].fields[0], "\n\n");
    assert_string_equal(csv.rows[3].fields[1], "two\nfields");
    assert_int_equal(csv.rows[3].line, 8);
    assert_int_equal(csv.rows[4].line, 12);
    wr_csv_clear(&csv);

    /* an error after a multi-line row names the line an editor shows */
    csv_fails("a,b\n\"x\ny\",1\nonly-one\n", "line 4: 1 field, the header has 2\n");
}

static void test_quote_escapes(void **state)
{
    (void)state;
    struct wr_csv csv;
    csv_ok("a,b,c\n\"say \"\"hi\"\"\",\"\",\"\"\"\"\n", &csv);
    assert_string_equal(csv.rows[0].fields[0], "say \"hi\"");
    assert_string_equal(csv.rows[0].fields[1], "");
    assert_string_equal(csv.rows[0].fields[2], "\"");
    wr_csv_clear(&csv);
}

static void test_bom_and_crlf(void **state)
{
    (void)state;
    struct wr_csv csv;
    csv_ok(
        "\xEF\xBB\xBFUser Name,City\r\nada@contoso.com,London\r\n\"b@contoso.com\",\"Paris\"\r\n",
        &csv);
    assert_string_equal(csv.header[0], "User Name");
    assert_int_equal(csv.nrows, 2);
    assert_string_equal(csv.rows[0].fields[1], "London");
    assert_string_equal(csv.rows[1].fields[0], "b@contoso.com");
    assert_string_equal(csv.rows[1].fields[1], "Paris");
    assert_int_equal(csv.rows[1].line, 3);
    wr_csv_clear(&csv);

    /* old Mac line ends (a lone CR) end lines too */
    csv_ok("a,b\r1,2\r3,4", &csv);
    assert_int_equal(csv.nrows, 2);
    assert_string_equal(csv.rows[1].fields[1], "4");
    assert_int_equal(csv.rows[1].line, 3);
    wr_csv_clear(&csv);
}

static void test_final_newline_and_blank_lines(void **state)
{
    (void)state;
    struct wr_csv csv;
    csv_ok("a,b\n1,2", &csv); /* no final newline */
    assert_int_equal(csv.nrows, 1);
    assert_string_equal(csv.rows[0].fields[1], "2");
    wr_csv_clear(&csv);

    csv_ok("a,b\n1,2\n\n", &csv); /* a blank last line */
    assert_int_equal(csv.nrows, 1);
    wr_csv_clear(&csv);

    csv_ok("a,b\r\n1,2\r\n\r\n", &csv);
    assert_int_equal(csv.nrows, 1);
    wr_csv_clear(&csv);

    csv_ok("\na,b\n\n1,2\n\n3,4\n", &csv); /* blank lines anywhere are no rows */
    assert_int_equal(csv.nrows, 2);
    assert_int_equal(csv.rows[0].line, 4);
    assert_int_equal(csv.rows[1].line, 6);
    wr_csv_clear(&csv);

    csv_ok("a,b\n", &csv); /* a header alone: no rows, no error */
    assert_int_equal(csv.nrows, 0);
    wr_csv_clear(&csv);
}

static void test_empty_fields(void **state)
{
    (void)state;
    struct wr_csv csv;
    csv_ok("a,b,c\n,,\nx,,\n,,z\n\"\",,\n", &csv);
    assert_int_equal(csv.nrows, 4);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(csv.rows[0].fields[i], "");
    }
    assert_string_equal(csv.rows[1].fields[0], "x");
    assert_string_equal(csv.rows[1].fields[2], "");
    assert_string_equal(csv.rows[2].fields[2], "z");
    assert_string_equal(csv.rows[3].fields[0], "");
    wr_csv_clear(&csv);

    /* a one-column file: a quoted empty field is a row, an empty line is not */
    csv_ok("id\n\"\"\n\nx\n", &csv);
    assert_int_equal(csv.nrows, 2);
    assert_string_equal(csv.rows[0].fields[0], "");
    assert_string_equal(csv.rows[1].fields[0], "x");
    wr_csv_clear(&csv);
}

static void test_field_count_errors(void **state)
{
    (void)state;
    csv_fails("a,b,c\n1,2,3\n1,2\n1,2,3\n1,2,3,4\n\n1\n", "line 3: 2 fields, the header has 3\n"
                                                          "line 5: 4 fields, the header has 3\n"
                                                          "line 7: 1 field, the header has 3\n");
    /* many extra fields are counted, not kept */
    csv_fails("a\n1,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n",
              "line 2: 41 fields, the header has 1\n");
}

static void test_header_errors(void **state)
{
    (void)state;
    csv_fails("City,Name,City,,x\n1,2,3,4,5\n",
              "line 1: column 3: duplicate header name \"City\" (also column 1)\n"
              "line 1: column 4: the header name is empty\n");
    csv_fails("", "the file is empty: a header row is needed\n");
    csv_fails("\xEF\xBB\xBF\r\n\n", "the file is empty: a header row is needed\n");

    struct wr_buf wide = {0};
    for (int i = 0; i <= WR_CSV_MAX_COLUMNS; i++) {
        wr_buf_addf(&wide, "c%d,", i);
    }
    wr_buf_add(&wide, "\n");
    csv_fails(wr_buf_str(&wide),
              "line 1: 1026 columns in the header; at most 1024 are supported\n");
    wr_buf_free(&wide);
}

static void test_quote_errors(void **state)
{
    (void)state;
    csv_fails("a,b\nx\"y,1\n\"ok\"junk,2\n3,4\n",
              "line 2: field 1: a quote inside an unquoted field (quote the whole field and "
              "double the quote: \"a \"\"b\"\"\")\n"
              "line 3: field 1: text after the closing quote (a quote inside a quoted field is "
              "written twice: \"a \"\"b\"\"\")\n");
    csv_fails("a,b\n1,2\n3,\"never\nclosed\n",
              "line 3: field 2: the quoted field is never closed\n");
}

static void test_bad_bytes(void **state)
{
    (void)state;
    csv_fails("a,b\n1,2\n\xC3\x28,x\n3,\xFF\n",
              "line 3: not valid UTF-8 (in Excel, save as \"CSV UTF-8\")\n"
              "line 4: not valid UTF-8 (in Excel, save as \"CSV UTF-8\")\n");
    /* Latin-1 "é" from an Excel "CSV (Comma delimited)" save */
    csv_fails("Name\nRen\xE9\n", "line 2: not valid UTF-8 (in Excel, save as \"CSV UTF-8\")\n");
    static const char nul[] = "a,b\n1,2\n3,\0\n";
    csv_fails_n(nul, sizeof(nul) - 1, 0, "line 3: a NUL byte: this is not a text file\n");
    /* a good multi-byte row passes */
    struct wr_csv csv;
    csv_ok("Name,City\nRenée,Zürich\n", &csv);
    assert_string_equal(csv.rows[0].fields[1], "Zürich");
    wr_csv_clear(&csv);
}

/* ASCII s as UTF-16: a NUL after (little-endian) or before (big-endian) each byte. */
static size_t utf16(const char *s, bool be, bool bom, char *out)
{
    size_t n = 0;
    if (bom) {
        out[n++] = be ? '\xFE' : '\xFF';
        out[n++] = be ? '\xFF' : '\xFE';
    }
    for (; *s; s++) {
        out[n++] = be ? '\0' : *s;
        out[n++] = be ? *s : '\0';
    }
    return n;
}

/* Issue #13 (16): a file that is not UTF-8 text at all gets one error, not one per line. */
static void test_encodings(void **state)
{
    (void)state;
    static const char text[] = "User Name,City\r\na@contoso.com,London\r\nb@contoso.com,Paris\r\n";
    static const enum wr_csv_format formats[] = {WR_CSV_FORMAT_CSV, WR_CSV_FORMAT_JSON,
                                                 WR_CSV_FORMAT_NDJSON};
    static const char *const hints[] = {" (in Excel, save as \"CSV UTF-8\")", "", ""};
    char buf[256], want[256];
    for (size_t f = 0; f < 3; f++) {
        for (int be = 0; be < 2; be++) {
            for (int bom = 0; bom < 2; bom++) {
                size_t n = utf16(text, be, bom, buf);
                snprintf(want, sizeof(want),
                         "the file is UTF-16 (%s-endian%s), which weir does not read: save it "
                         "as UTF-8%s\n",
                         be ? "big" : "little", bom ? ", with a byte order mark" : "", hints[f]);
                read_fails(formats[f], buf, n, want);
            }
        }
        /* a one-character UTF-16 file is still recognised */
        snprintf(want, sizeof(want),
                 "the file is UTF-16 (little-endian), which weir does not read: save it as "
                 "UTF-8%s\n",
                 hints[f]);
        read_fails(formats[f], "a\0", 2, want);
        snprintf(want, sizeof(want),
                 "the file is UTF-32 (little-endian, with a byte order mark), which weir does not "
                 "read: save it as UTF-8%s\n",
                 hints[f]);
        read_fails(formats[f], "\xFF\xFE\0\0a\0\0\0", 8, want);
        snprintf(want, sizeof(want),
                 "the file is UTF-32 (big-endian, with a byte order mark), which weir does not "
                 "read: save it as UTF-8%s\n",
                 hints[f]);
        read_fails(formats[f], "\0\0\xFE\xFF\0\0\0a", 8, want);
        /* an Excel workbook dropped under a .csv name */
        snprintf(want, sizeof(want),
                 "the file is a zip archive (an Excel .xlsx workbook?), not text%s\n", hints[f]);
        read_fails(formats[f], "PK\x03\x04\x14\0\x06\0", 8, want);
        /* NUL bytes on many lines: reported once, at the first */
        static const char nuls[] = "a,b\n1,2\n\0,\0\n\0\n\0\0\0\0\n";
        read_fails(formats[f], nuls, sizeof(nuls) - 1,
                   "line 3: a NUL byte: this is not a text file\n");
    }
    /* A UTF-8 byte order mark is accepted and not part of the first name or value. */
    struct wr_csv_records r;
    read_ok(WR_CSV_FORMAT_CSV, "\xEF\xBB\xBFUser Name\r\na@contoso.com\r\n", 1, &r);
    assert_string_equal(row_json(&r, 0), "{\"User Name\":\"a@contoso.com\"}");
    wr_csv_records_clear(&r);
    read_ok(WR_CSV_FORMAT_JSON, "\xEF\xBB\xBF[{\"a\": 1}]", 1, &r);
    wr_csv_records_clear(&r);
    read_ok(WR_CSV_FORMAT_NDJSON, "\xEF\xBB\xBF{\"a\": 1}\n{\"b\": 2}\n", 2, &r);
    wr_csv_records_clear(&r);
    /* Text whose odd bytes happen to be NUL-free is not mistaken for UTF-16. */
    read_ok(WR_CSV_FORMAT_CSV, "a\nb\n", 1, &r);
    wr_csv_records_clear(&r);
}

/* A workflow's `columns:`: the header must hold them (CSV), every row must have them (JSON). */
static void test_require(void **state)
{
    (void)state;
    static const char *const cols[] = {"User Name", "City"};
    struct wr_csv_records r;
    read_ok(WR_CSV_FORMAT_CSV, "\n\nCity,User Name,Extra\nLondon,a@contoso.com,x\n", 1, &r);
    assert_int_equal(r.ncols, 3);
    assert_int_equal(r.header_line, 3);
    assert_string_equal(r.header[1], "User Name");
    assert_int_equal(wr_csv_require(&r, cols, 2, "columns: of workflow w"), 0);
    assert_int_equal(r.count, 1);
    wr_csv_records_clear(&r);

    /* the rest of a file written in pieces: its first row is no header */
    read_ok(WR_CSV_FORMAT_CSV, "a@contoso.com,London\nb@contoso.com,Paris\n", 1, &r);
    assert_int_equal(wr_csv_require(&r, cols, 2, "columns: of workflow w"), -1);
    assert_int_equal(r.count, 0);
    char *text = wr_csv_errors_format(&r.errors);
    assert_string_equal(text, "line 1: the header lacks the columns \"User Name\", \"City\" that "
                              "columns: of workflow w lists; the line reads "
                              "\"a@contoso.com,London\" (is this the rest of a file written in "
                              "several pieces?)\n");
    free(text);
    wr_csv_records_clear(&r);

    read_ok(WR_CSV_FORMAT_NDJSON,
            "{\"User Name\": \"a\", \"City\": \"x\"}\n{\"User Name\": \"b\"}\n{}\n", 3, &r);
    assert_null(r.header);
    assert_int_equal(wr_csv_require(&r, cols, 2, "columns: of workflow w"), -1);
    text = wr_csv_errors_format(&r.errors);
    assert_string_equal(text, "line 2: no \"City\", which columns: of workflow w lists\n"
                              "line 3: no \"User Name\", \"City\", which columns: of workflow w "
                              "lists\n");
    free(text);
    wr_csv_records_clear(&r);
}

static void test_limits(void **state)
{
    (void)state;
    static const char s[] = "a\n1\n2\n3\n";
    struct wr_csv csv = {0};
    assert_int_equal(wr_csv_parse(s, strlen(s), 3, &csv), 0);
    assert_int_equal(csv.nrows, 3);
    wr_csv_clear(&csv);
    csv_fails_n(s, strlen(s), 2, "more than 2 rows: the limit per file\n");

    /* at most WR_CSV_MAX_ERRORS messages, the rest counted */
    struct wr_buf b = {0}, want = {0};
    wr_buf_add(&b, "a,b\n");
    for (int i = 0; i < 150; i++) {
        wr_buf_add(&b, "1\n");
        if (i < WR_CSV_MAX_ERRORS) {
            wr_buf_addf(&want, "line %d: 1 field, the header has 2\n", i + 2);
        }
    }
    wr_buf_add(&want, "... and 50 more errors\n");
    csv_fails(wr_buf_str(&b), wr_buf_str(&want));
    wr_buf_free(&b);
    wr_buf_free(&want);
}

/* The Microsoft 365 admin center's "Add multiple users" template. */
static const char m365[] =
    "\xEF\xBB\xBF"
    "User Name,First Name,Last Name,Display Name,Job Title,Department,Office Number,"
    "Office Phone,Mobile Phone,Fax,Alternate email address,Address,City,State or Province,"
    "ZIP or Postal Code,Country or Region\r\n"
    "chris@contoso.com,Chris,Green,Chris Green,IT Manager,Information Technology,123451,"
    "123-555-1211,123-555-6641,123-555-9821,chris@contoso.onmicrosoft.com,1 Microsoft way,"
    "Redmond,Wa,98052,United States\r\n"
    "ben@contoso.com,Ben,\"Andrews, Jr.\",\"Ben Andrews, Jr.\",IT Manager,Information "
    "Technology,123452,123-555-1212,,,,\"1 Microsoft way\nBuilding 92\",Redmond,Wa,98052,"
    "United States\r\n";

static void test_m365_template(void **state)
{
    (void)state;
    struct wr_csv_records r;
    read_ok(WR_CSV_FORMAT_CSV, m365, 2, &r);
    assert_string_equal(
        row_json(&r, 0),
        "{\"User Name\":\"chris@contoso.com\",\"First Name\":\"Chris\",\"Last Name\":\"Green\","
        "\"Display Name\":\"Chris Green\",\"Job Title\":\"IT Manager\",\"Department\":"
        "\"Information Technology\",\"Office Number\":\"123451\",\"Office Phone\":"
        "\"123-555-1211\",\"Mobile Phone\":\"123-555-6641\",\"Fax\":\"123-555-9821\","
        "\"Alternate email address\":\"chris@contoso.onmicrosoft.com\",\"Address\":"
        "\"1 Microsoft way\",\"City\":\"Redmond\",\"State or Province\":\"Wa\","
        "\"ZIP or Postal Code\":\"98052\",\"Country or Region\":\"United States\"}");
    assert_int_equal(r.items[0].line, 2);
    struct json_object *v = NULL;
    assert_true(json_object_object_get_ex(r.items[1].row, "Last Name", &v));
    assert_string_equal(json_object_get_string(v), "Andrews, Jr.");
    assert_true(json_object_object_get_ex(r.items[1].row, "Address", &v));
    assert_string_equal(json_object_get_string(v), "1 Microsoft way\nBuilding 92");
    assert_true(json_object_object_get_ex(r.items[1].row, "Fax", &v));
    assert_string_equal(json_object_get_string(v), "");
    assert_int_equal(r.items[1].line, 3);
    assert_int_equal(json_object_object_length(r.items[1].row), 16);
    wr_csv_records_clear(&r);

    /* a row that lost a column names its line and the header's width */
    static const char short_row[] = "User Name,First Name,Last Name,Display Name,Job Title,"
                                    "Department,Office Number,Office Phone,Mobile Phone,Fax,"
                                    "Alternate email address,Address,City,State or Province,"
                                    "ZIP or Postal Code,Country or Region\n"
                                    "a@contoso.com,A,B,A B,,,,,,,,,,,,\n"
                                    "b@contoso.com,B,C,B C,x\n";
    read_fails(WR_CSV_FORMAT_CSV, short_row, strlen(short_row),
               "line 3: 5 fields, the header has 16\n");
}

/* {========================== JSON and NDJSON ==========================} */

static void test_json(void **state)
{
    (void)state;
    struct wr_csv_records r;
    read_ok(WR_CSV_FORMAT_JSON,
            "\xEF\xBB\xBF[\n"
            "  {\"mail\": \"a@contoso.com\", \"n\": 1},\n"
            "  {\"mail\": \"b@contoso.com\",\n"
            "   \"nested\": {\"x\": [1, \"]\", \"\\\"{\"]}},\n"
            "  {\"mail\": \"c@contoso.com\"}  ,  {}\n"
            "]\n",
            4, &r);
    assert_string_equal(row_json(&r, 0), "{\"mail\":\"a@contoso.com\",\"n\":1}");
    assert_int_equal(r.items[0].line, 2);
    assert_int_equal(r.items[1].line, 3);
    assert_int_equal(r.items[2].line, 5);
    assert_int_equal(r.items[3].line, 5);
    assert_string_equal(row_json(&r, 3), "{}");
    wr_csv_records_clear(&r);

    read_ok(WR_CSV_FORMAT_JSON, "[]", 0, &r);
    wr_csv_records_clear(&r);

    static const char *const bad[][2] = {
        {"", "the file is empty: a JSON array of objects is needed\n"},
        {"{\"a\": 1}", "the file holds an object, not a JSON array of objects\n"},
        {"42", "the file holds a number, not a JSON array of objects\n"},
        {"[\n{\"a\": 1},\n\"x\",\n{},\n[1]\n]", "line 3: element 2 is a string, not an object\n"
                                                "line 5: element 4 is an array, not an object\n"},
        {"[\n{\"a\": 1},\n{\"a\": }\n]",
         "line 3: not valid JSON: unexpected character '}' (at [1].a)\n"},
        {"[\n{\"a\": 1}\n", "line 2: not valid JSON: unexpected end of the data (at [0])\n"},
        {"[{}]\n[{}]", "line 2: not valid JSON: unexpected data after the JSON value\n"},
        /* the one strict reader: duplicate keys, numbers kept exactly or refused */
        {"[\n{\"id\": 1,\n \"id\": 2}]",
         "line 3: not valid JSON: duplicate key \"id\" (at [0].id)\n"},
        {"[{\"id\": 123456789012345678901234567890}]",
         "line 1: not valid JSON: integer out of range: 123456789012345678901234567890 needs more "
         "than 64 bits (as a string it is kept exactly) (at [0].id)\n"},
        {"[{\"n\": NaN}]",
         "line 1: not valid JSON: NaN and Infinity are not JSON numbers (at [0].n)\n"},
        {"[{\"a\": \"\xC3\x28\"}]", "line 1: not valid UTF-8\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        read_fails(WR_CSV_FORMAT_JSON, bad[i][0], strlen(bad[i][0]), bad[i][1]);
    }
    static const char nul[] = "[{}]\n\0";
    read_fails(WR_CSV_FORMAT_JSON, nul, sizeof(nul) - 1,
               "line 2: a NUL byte: this is not a text file\n");

    struct wr_csv_records lim = {0};
    static const char three[] = "[{},{},{}]";
    assert_int_equal(wr_csv_read(WR_CSV_FORMAT_JSON, three, strlen(three), 2, &lim), -1);
    assert_string_equal(lim.errors.items[0].message, "more than 2 rows: the limit per file");
    wr_csv_records_clear(&lim);
}

static void test_ndjson(void **state)
{
    (void)state;
    struct wr_csv_records r;
    read_ok(WR_CSV_FORMAT_NDJSON,
            "{\"mail\": \"a@contoso.com\"}\r\n"
            "\r\n"
            "   \n"
            "{\"mail\": \"b@contoso.com\", \"tags\": [1, 2]}  \n"
            "{}",
            3, &r);
    assert_string_equal(row_json(&r, 0), "{\"mail\":\"a@contoso.com\"}");
    assert_int_equal(r.items[0].line, 1);
    assert_int_equal(r.items[1].line, 4);
    assert_string_equal(row_json(&r, 1), "{\"mail\":\"b@contoso.com\",\"tags\":[1,2]}");
    assert_int_equal(r.items[2].line, 5);
    wr_csv_records_clear(&r);

    read_ok(WR_CSV_FORMAT_NDJSON, "", 0, &r);
    wr_csv_records_clear(&r);

    static const char bad[] = "{\"a\": 1}\n"
                              "{\"a\": 1\n"
                              "[1, 2]\n"
                              "7\n"
                              "{\"a\": 1} {\"b\": 2}\n"
                              "{\"a\": \"\xFF\"}\n"
                              "\"text\"\n"
                              "{\"ok\": true}\n"
                              "{\"n\": 1e400}\n"
                              "{\"a\": 1, \"a\": 2}\n";
    read_fails(WR_CSV_FORMAT_NDJSON, bad, strlen(bad),
               "line 2: not valid JSON: unexpected end of the data (at a)\n"
               "line 3: an array, not a JSON object\n"
               "line 4: a number, not a JSON object\n"
               "line 5: not valid JSON: unexpected data after the JSON value\n"
               "line 6: not valid UTF-8\n"
               "line 7: a string, not a JSON object\n"
               "line 9: not valid JSON: number out of range: 1e400 is too large for a double (at "
               "n)\n"
               "line 10: not valid JSON: duplicate key \"a\" (at a)\n");
}

static void test_format_names(void **state)
{
    (void)state;
    enum wr_csv_format f = WR_CSV_FORMAT_NDJSON;
    assert_int_equal(wr_csv_format_parse(NULL, &f), 0);
    assert_int_equal(f, WR_CSV_FORMAT_CSV);
    assert_int_equal(wr_csv_format_parse("json", &f), 0);
    assert_int_equal(f, WR_CSV_FORMAT_JSON);
    assert_int_equal(wr_csv_format_parse("ndjson", &f), 0);
    assert_int_equal(f, WR_CSV_FORMAT_NDJSON);
    assert_int_equal(wr_csv_format_parse("tsv", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_commas),
        cmocka_unit_test(test_embedded_newlines),
        cmocka_unit_test(test_quote_escapes),
        cmocka_unit_test(test_bom_and_crlf),
        cmocka_unit_test(test_final_newline_and_blank_lines),
        cmocka_unit_test(test_empty_fields),
        cmocka_unit_test(test_field_count_errors),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_quote_errors),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_require),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_m365_template),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
