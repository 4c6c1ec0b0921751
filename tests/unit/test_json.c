/*
 * test_json — unit tests for engine/base/json, the one strict JSON reader: what RFC 8259 allows
 * is read exactly (numbers at the 64-bit edges, doubles keeping their text, escapes,
 * surrogate pairs, any top-level value), what it does not is refused with the offset, line,
 * column, key path and a message that says what is wrong (NaN, Infinity, single quotes,
 * trailing commas, leading zeros, duplicate keys, NUL, lone surrogates, bad UTF-8, integers
 * beyond 64 bits, doubles that overflow or underflow, nesting, value counts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"

/* Parses text and expects success; returns the tree written back as plain JSON (owned). */
static char *ok_n(const char *text, size_t len, const struct wr_json_opts *opts)
{
    struct json_object *v = (struct json_object *)1;
    struct wr_json_error e;
    if (wr_json_parse(text, len, opts, &v, &e) != 0) {
        fail_msg("'%.*s' should parse, got %d:%d: %s", (int)len, text, e.line, e.col, e.msg);
    }
    char *s = wr_xstrdup(
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(v);
    return s;
}

static void expect_ok(const char *text, const char *want)
{
    char *got = ok_n(text, strlen(text), NULL);
    if (strcmp(got, want) != 0) {
        fail_msg("'%s': want %s, got %s", text, want, got);
    }
    free(got);
}

/* Expects failure with code, line:col, path and message. */
static void expect_err_n(const char *text, size_t len, const struct wr_json_opts *opts,
                         enum wr_json_errcode code, int line, int col, const char *path,
                         const char *msg)
{
    struct json_object *v = (struct json_object *)1;
    struct wr_json_error e;
    if (wr_json_parse(text, len, opts, &v, &e) != -1) {
        fail_msg("'%.*s' should not parse", (int)len, text);
    }
    assert_null(v);
    if ((int)e.code != (int)code || e.line != line || e.col != col || strcmp(e.path, path) != 0 ||
        strcmp(e.msg, msg) != 0) {
        fail_msg("'%.*s':\n want %d %d:%d [%s] %s\n got  %d %d:%d [%s] %s", (int)len, text, code,
                 line, col, path, msg, e.code, e.line, e.col, e.path, e.msg);
    }
}

static void expect_err(const char *text, enum wr_json_errcode code, int line, int col,
                       const char *path, const char *msg)
{
    expect_err_n(text, strlen(text), NULL, code, line, col, path, msg);
}

static void test_values(void **state)
{
    (void)state;
    expect_ok("{\"a\": [1, 2.5, \"x\", true, false, null, {}, []]}",
              "{\"a\":[1,2.5,\"x\",true,false,null,{},[]]}");
    expect_ok("  {\"b\":1,\"a\":2}  \n", "{\"b\":1,\"a\":2}"); /* order kept */
    /* any value at the top: callers decide what they need */
    expect_ok("42", "42");
    expect_ok("\"hello\"", "\"hello\"");
    expect_ok("[1,2,3]", "[1,2,3]");
    expect_ok("false", "false");
    struct json_object *v = (struct json_object *)1;
    assert_int_equal(wr_json_parse("null", 4, NULL, &v, NULL), 0);
    assert_null(v);
    /* not NUL-terminated: the length is the end */
    char *s = ok_n("[1]xxxx", 3, NULL);
    assert_string_equal(s, "[1]");
    free(s);
    s = ok_n("12345", 2, NULL);
    assert_string_equal(s, "12");
    free(s);
}

static void test_numbers_exact(void **state)
{
    (void)state;
    expect_ok("[9223372036854775807,-9223372036854775808]",
              "[9223372036854775807,-9223372036854775808]");
    expect_ok("[0,-0,9007199254740993]", "[0,0,9007199254740993]");
    /* doubles keep their text: written back as read, not as %.17g */
    expect_ok("[0.1,1.10,1E2,-0.0,2.5e-3,1e308]", "[0.1,1.10,1E2,-0.0,2.5e-3,1e308]");
    struct json_object *v = NULL;
    assert_int_equal(wr_json_parse("[0.1, 100, 1e2]", 15, NULL, &v, NULL), 0);
    assert_true(json_object_is_type(json_object_array_get_idx(v, 0), json_type_double));
    assert_true(json_object_get_double(json_object_array_get_idx(v, 0)) == 0.1);
    assert_true(json_object_is_type(json_object_array_get_idx(v, 1), json_type_int));
    assert_true(json_object_is_type(json_object_array_get_idx(v, 2), json_type_double));
    json_object_put(v);

    /* beyond 64 bits: refused, never clamped (json-c makes these INT64_MAX/MIN or uint64) */
    expect_err("{\"id\": 9223372036854775808}", WR_JSON_ERANGE, 1, 8, "id",
               "integer out of range: 9223372036854775808 needs more than 64 bits (as a string "
               "it is kept exactly)");
    expect_err("[-9223372036854775809]", WR_JSON_ERANGE, 1, 2, "[0]",
               "integer out of range: -9223372036854775809 needs more than 64 bits (as a string "
               "it is kept exactly)");
    expect_err("[18446744073709551616]", WR_JSON_ERANGE, 1, 2, "[0]",
               "integer out of range: 18446744073709551616 needs more than 64 bits (as a string "
               "it is kept exactly)");
    expect_err("{\"a\":{\"b\":[1, 123456789012345678901234567890123456789012345678901234567890]}}",
               WR_JSON_ERANGE, 1, 15, "a.b[1]",
               "integer out of range: 1234567890123456789012345678901234567890... (60 digits) "
               "needs more than 64 bits (as a string it is kept exactly)");
    expect_err("1e400", WR_JSON_ERANGE, 1, 1, "",
               "number out of range: 1e400 is too large for a double");
    expect_err("[-1.5e999]", WR_JSON_ERANGE, 1, 2, "[0]",
               "number out of range: -1.5e999 is too large for a double");
    expect_err("[1e-400]", WR_JSON_ERANGE, 1, 2, "[0]",
               "number out of range: 1e-400 is too small for a double (it would become 0)");
    expect_ok("[0e-400,0.000e5]", "[0e-400,0.000e5]"); /* zero written as zero is fine */
    /* what RFC 8259 does not call a number */
    expect_err("[01]", WR_JSON_ESYNTAX, 1, 2, "[0]", "not a JSON number (no leading zeros)");
    expect_err("[-01]", WR_JSON_ESYNTAX, 1, 2, "[0]", "not a JSON number (no leading zeros)");
    expect_err("[1.]", WR_JSON_ESYNTAX, 1, 2, "[0]", "not a JSON number (a digit must follow '.')");
    expect_err("[.5]", WR_JSON_ESYNTAX, 1, 2, "[0]", "not a JSON number");
    expect_err("[+1]", WR_JSON_ESYNTAX, 1, 2, "[0]", "not a JSON number");
    expect_err("[1e]", WR_JSON_ESYNTAX, 1, 2, "[0]",
               "not a JSON number (a digit must follow the exponent)");
    expect_err("[0x10]", WR_JSON_ESYNTAX, 1, 2, "[0]", "not a JSON number");
    expect_err("[1.5.2]", WR_JSON_ESYNTAX, 1, 2, "[0]", "not a JSON number");
    expect_err("{\"x\": NaN}", WR_JSON_ESYNTAX, 1, 7, "x", "NaN and Infinity are not JSON numbers");
    expect_err("[Infinity]", WR_JSON_ESYNTAX, 1, 2, "[0]", "NaN and Infinity are not JSON numbers");
    expect_err("[-Infinity]", WR_JSON_ESYNTAX, 1, 2, "[0]",
               "NaN and Infinity are not JSON numbers");
    expect_err("nan", WR_JSON_ESYNTAX, 1, 1, "", "NaN and Infinity are not JSON numbers");
}

static void test_strings(void **state)
{
    (void)state;
    expect_ok("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]", "[\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"]");
    expect_ok("[\"\\u00e9\\ud83d\\ude00 caf\xc3\xa9\"]",
              "[\"\xc3\xa9\xf0\x9f\x98\x80 caf\xc3\xa9\"]");
    expect_err("['x']", WR_JSON_ESYNTAX, 1, 2, "[0]",
               "JSON strings use double quotes, not single quotes");
    expect_err("{'a': 1}", WR_JSON_ESYNTAX, 1, 2, "",
               "a key must be a string in double quotes, not single quotes");
    expect_err("{a: 1}", WR_JSON_ESYNTAX, 1, 2, "", "a key must be a string in double quotes");
    expect_err("[\"a\tb\"]", WR_JSON_ETEXT, 1, 4, "[0]",
               "a control character inside a string (write it as \\t, \\n or \\uXXXX)");
    expect_err_n("[\"a\0b\"]", 7, NULL, WR_JSON_ETEXT, 1, 4, "[0]", "a NUL byte inside a string");
    expect_err("[\"caf\xff\"]", WR_JSON_ETEXT, 1, 6, "[0]", "a string that is not valid UTF-8");
    expect_err("[\"\xed\xa0\x80\"]", WR_JSON_ETEXT, 1, 3, "[0]",
               "a string that is not valid UTF-8"); /* a surrogate written as UTF-8 */
    expect_err("[\"\xc0\xaf\"]", WR_JSON_ETEXT, 1, 3, "[0]", "a string that is not valid UTF-8");
    expect_err("{\"k\": \"a\\ud800b\"}", WR_JSON_ETEXT, 1, 9, "k",
               "a lone UTF-16 surrogate (\\ud800) is not a character (a high surrogate needs a "
               "low one after it)");
    expect_err("[\"\\udc00\"]", WR_JSON_ETEXT, 1, 3, "[0]",
               "a lone UTF-16 surrogate (\\udc00) is not a character (a low surrogate needs a "
               "high one before it)");
    expect_err("[\"\\x41\"]", WR_JSON_ESYNTAX, 1, 3, "[0]", "invalid escape '\\x' in a string");
    expect_err("[\"\\u12g4\"]", WR_JSON_ESYNTAX, 1, 3, "[0]",
               "invalid \\u escape: four hex digits must follow \\u");
    expect_err("[\"abc", WR_JSON_EEOF, 1, 2, "[0]",
               "a string that is never closed (unexpected end of the data)");
    /* NUL: never in a key (json-c keys are C strings: "a\u0000b" would become "a"), in a
       value only when the caller can hold it */
    expect_err("{\"/hooks/x\\u0000evil\": 1}", WR_JSON_ETEXT, 1, 11, "",
               "key contains a NUL byte (\\u0000)");
    expect_err("{\"path\": \"/hooks/x\\u0000evil\"}", WR_JSON_ETEXT, 1, 19, "path",
               "value contains a NUL byte (\\u0000)");
    struct wr_json_opts nul = {.allow_nul = true};
    char *s = ok_n("[\"a\\u0000b\"]", 12, &nul);
    assert_string_equal(s, "[\"a\\u0000b\"]");
    free(s);
    expect_err_n("{\"a\\u0000\": 1}", 14, &nul, WR_JSON_ETEXT, 1, 4, "",
                 "key contains a NUL byte (\\u0000)");
}

static void test_structure(void **state)
{
    (void)state;
    expect_err("{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}", WR_JSON_EDUPKEY, 1, 24, "b.c",
               "duplicate key \"c\"");
    expect_err("{\"a\":1,\n \"a\":2}", WR_JSON_EDUPKEY, 2, 2, "a", "duplicate key \"a\"");
    expect_err("[1,2,]", WR_JSON_ESYNTAX, 1, 6, "[1]",
               "a comma before ']' (JSON allows no trailing comma)");
    expect_err("{\"a\":1,}", WR_JSON_ESYNTAX, 1, 8, "a",
               "a comma before '}' (JSON allows no trailing comma)");
    expect_err("[1 2]", WR_JSON_ESYNTAX, 1, 4, "[0]", "expected ',' or ']' after an item");
    expect_err("{\"a\" 1}", WR_JSON_ESYNTAX, 1, 6, "a", "expected ':' after the key");
    expect_err("{\"a\":1 \"b\":2}", WR_JSON_ESYNTAX, 1, 8, "a",
               "expected ',' or '}' after a member");
    expect_err("{} x", WR_JSON_ESYNTAX, 1, 4, "", "unexpected data after the JSON value");
    expect_err("1 2", WR_JSON_ESYNTAX, 1, 3, "", "unexpected data after the JSON value");
    expect_err_n("{}\0", 3, NULL, WR_JSON_ESYNTAX, 1, 3, "", "a NUL byte after the JSON value");
    expect_err("{\"a\": [1,", WR_JSON_EEOF, 1, 10, "a[1]", "unexpected end of the data");
    expect_err("", WR_JSON_EEOF, 1, 1, "", "no JSON value (the data is empty)");
    expect_err(" \n ", WR_JSON_EEOF, 2, 2, "", "no JSON value (the data is empty)");
    expect_err("[True]", WR_JSON_ESYNTAX, 1, 2, "[0]",
               "not a JSON value: 'True' (strings need double quotes; true, false and null are "
               "lowercase)");
    expect_err("[nul]", WR_JSON_ESYNTAX, 1, 2, "[0]",
               "not a JSON value: 'nul' (strings need double quotes; true, false and null are "
               "lowercase)");
    expect_err("[1] // c", WR_JSON_ESYNTAX, 1, 5, "", "unexpected data after the JSON value");
    expect_err("[/* c */ 1]", WR_JSON_ESYNTAX, 1, 2, "[0]", "comments are not JSON");
    expect_err("\xef\xbb\xbf{}", WR_JSON_ESYNTAX, 1, 1, "",
               "a byte order mark (BOM) before the JSON text");
    expect_err("{\"a\":\xff}", WR_JSON_ESYNTAX, 1, 6, "a", "unexpected byte 0xff");
    expect_err("[@]", WR_JSON_ESYNTAX, 1, 2, "[0]", "unexpected character '@'");
    /* columns count characters, not bytes */
    expect_err("{\"\xc3\xa9\xc3\xa9\": x}", WR_JSON_ESYNTAX, 1, 8, "[\"\xc3\xa9\xc3\xa9\"]",
               "not a JSON value: 'x' (strings need double quotes; true, false and null are "
               "lowercase)");
    struct wr_json_opts body = {.what = "the body"};
    expect_err_n("{\"a\":", 5, &body, WR_JSON_EEOF, 1, 6, "a", "unexpected end of the body");
}

static void test_limits(void **state)
{
    (void)state;
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    expect_err(deep, WR_JSON_EDEPTH, 1, 65,
               "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
               "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
               "[0][0][0][0][0][0][0][0][0][0]",
               "nesting is deeper than 64 levels");
    char *s = ok_n(deep + 1, 128, NULL); /* 64 levels are fine */
    free(s);
    struct wr_json_opts small = {.max_depth = 2, .max_values = 4};
    expect_err_n("[[[1]]]", 7, &small, WR_JSON_EDEPTH, 1, 3, "[0][0]",
                 "nesting is deeper than 2 levels");
    expect_err_n("[1,2,3,4]", 9, &small, WR_JSON_ENODES, 1, 8, "[3]", "more than 4 values");
    s = ok_n("[1,2,3]", 7, &small);
    free(s);
    /* a long path keeps its end */
    struct wr_buf b = {0};
    wr_buf_add(&b, "{");
    for (int i = 0; i < 30; i++) {
        wr_buf_addf(&b, "\"key_number_%02d\": {", i);
    }
    wr_buf_add(&b, "\"x\": NaN");
    struct json_object *v = NULL;
    struct wr_json_error e;
    assert_int_equal(wr_json_parse(b.data, b.len, NULL, &v, &e), -1);
    assert_int_equal(strncmp(e.path, "...", 3), 0);
    assert_true(wr_str_has_suffix(e.path, "key_number_29.x"));
    assert_true(strlen(e.path) < sizeof(e.path));
    wr_buf_free(&b);
}

struct seen {
    struct wr_buf log;
};

static void on_value(void *arg, const char *path, int kl, int kc, int vl, int vc)
{
    struct seen *s = arg;
    wr_buf_addf(&s->log, "%s@%d:%d/%d:%d;", path, kl, kc, vl, vc);
}

static void test_positions(void **state)
{
    (void)state;
    struct seen s = {{0}};
    struct wr_json_opts o = {.on_value = on_value, .arg = &s};
    const char *text = "{\n  \"a\": [1, {\"b\": \"\xc3\xa9\"}],\n  \"c\": null\n}";
    struct json_object *v = NULL;
    assert_int_equal(wr_json_parse(text, strlen(text), &o, &v, NULL), 0);
    assert_string_equal(wr_buf_str(&s.log), "@1:1/1:1;a@2:3/2:8;a[0]@2:9/2:9;a[1]@2:12/2:12;"
                                            "a[1].b@2:13/2:18;c@3:3/3:8;");
    json_object_put(v);
    wr_buf_free(&s.log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),  cmocka_unit_test(test_numbers_exact),
        cmocka_unit_test(test_strings), cmocka_unit_test(test_structure),
        cmocka_unit_test(test_limits),  cmocka_unit_test(test_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
