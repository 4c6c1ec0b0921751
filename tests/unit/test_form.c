/*
 * test_form — unit tests for engine/base/form, the application/x-www-form-urlencoded decoder:
 * pairs into a JSON object in order, '+' and %XX (of either case, %2B against +), UTF-8 after
 * decoding, repeated keys into arrays, keys without '=', empty pairs skipped; refused with the
 * byte offset and a message: bad escapes (%G1, a trailing %, %0), invalid UTF-8 (%FF, a cut
 * sequence, an overlong), NUL (%00 or raw), more pairs than the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/form.h"

/* Decodes text[0..len) and expects the JSON written back to be want. */
static void expect_ok_n(const char *text, size_t len, size_t max_pairs, const char *want)
{
    struct json_object *v = (struct json_object *)1;
    struct wr_form_error e = {{0}, 0};
    if (wr_form_parse(text, len, max_pairs, &v, &e) != 0) {
        fail_msg("'%.*s' should decode, got at %zu: %s", (int)len, text, e.offset, e.msg);
    }
    const char *got =
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (strcmp(got, want) != 0) {
        fail_msg("'%.*s': want %s, got %s", (int)len, text, want, got);
    }
    json_object_put(v);
}

static void expect_ok(const char *text, const char *want)
{
    expect_ok_n(text, strlen(text), 0, want);
}

static void expect_err_n(const char *text, size_t len, size_t max_pairs, size_t offset,
                         const char *msg)
{
    struct json_object *v = (struct json_object *)1;
    struct wr_form_error e = {{0}, 0};
    if (wr_form_parse(text, len, max_pairs, &v, &e) != -1) {
        fail_msg("'%.*s' should be refused", (int)len, text);
    }
    assert_null(v);
    if (e.offset != offset || strcmp(e.msg, msg) != 0) {
        fail_msg("'%.*s':\n want %zu: %s\n got  %zu: %s", (int)len, text, offset, msg, e.offset,
                 e.msg);
    }
}

static void expect_err(const char *text, size_t offset, const char *msg)
{
    expect_err_n(text, strlen(text), 0, offset, msg);
}

static void test_pairs(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"a=1&b=2", "{\"a\":\"1\",\"b\":\"2\"}"},
        {"", "{}"},
        {"&", "{}"},
        {"&&&", "{}"},
        {"a=1&&b=2&", "{\"a\":\"1\",\"b\":\"2\"}"},
        {"&a=1", "{\"a\":\"1\"}"},
        /* a key without '=' has the value "", as has one with an empty value */
        {"flag", "{\"flag\":\"\"}"},
        {"flag&x=1", "{\"flag\":\"\",\"x\":\"1\"}"},
        {"a=", "{\"a\":\"\"}"},
        {"=v", "{\"\":\"v\"}"},
        {"=", "{\"\":\"\"}"},
        /* only the first '=' splits */
        {"a=b=c", "{\"a\":\"b=c\"}"},
        /* values stay strings */
        {"n=42&t=true&z=null", "{\"n\":\"42\",\"t\":\"true\",\"z\":\"null\"}"},
        /* repeated keys gather in an array, in order; the key keeps its first place */
        {"g=x&h=1&g=y", "{\"g\":[\"x\",\"y\"],\"h\":\"1\"}"},
        {"g=x&g=y&g=z", "{\"g\":[\"x\",\"y\",\"z\"]}"},
        {"g&g", "{\"g\":[\"\",\"\"]}"},
        /* no bracket syntax */
        {"a[b]=1&a[]=2", "{\"a[b]\":\"1\",\"a[]\":\"2\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_ok(cases[i].in, cases[i].want);
    }
    /* NULL data with no length is the empty body */
    expect_ok_n(NULL, 0, 0, "{}");
}

static void test_decoding(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"q=a+b", "{\"q\":\"a b\"}"},
        {"q=a%2Bb", "{\"q\":\"a+b\"}"},
        {"q=a%2bb", "{\"q\":\"a+b\"}"},
        {"q=a%20b", "{\"q\":\"a b\"}"},
        {"first+name=Ada+Lovelace", "{\"first name\":\"Ada Lovelace\"}"},
        {"k%3Dx=v%26w", "{\"k=x\":\"v&w\"}"},
        {"pct=100%25", "{\"pct\":\"100%\"}"},
        {"name=Ren%C3%A9e", "{\"name\":\"Renée\"}"},
        {"name=Ren%c3%a9e", "{\"name\":\"Renée\"}"},
        /* raw UTF-8 (not %-encoded) is accepted too */
        {"name=Renée", "{\"name\":\"Renée\"}"},
        {"e=%F0%9F%98%80", "{\"e\":\"\xf0\x9f\x98\x80\"}"},
        {"email=ada%40example.com&tz=Europe%2FParis",
         "{\"email\":\"ada@example.com\",\"tz\":\"Europe/Paris\"}"},
        {"nl=a%0D%0Ab", "{\"nl\":\"a\\r\\nb\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_ok(cases[i].in, cases[i].want);
    }
}

static void test_refused(void **state)
{
    (void)state;
    static const char bad_escape[] =
        "in %s: '%%' must be followed by two hex digits (a literal '%%' is %%25)";
    char msg[160];
    /* bad escapes, with the offset of the '%' */
    static const struct {
        const char *in;
        size_t offset;
        const char *quoted, *where;
    } escapes[] = {
        {"a=%G1", 2, "%G1", "the value of \"a\""},
        {"a=1&b=x%", 7, "%", "the value of \"b\""},
        {"a=%0", 2, "%0", "the value of \"a\""},
        {"a=%0&b=1", 2, "%0", "the value of \"a\""},
        {"k%zz=1", 1, "%zz", "a key"},
        {"a=%%41", 2, "%%4", "the value of \"a\""},
        {"%", 0, "%", "a key"},
    };
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        char where[128];
        snprintf(where, sizeof(where), bad_escape, escapes[i].where);
        snprintf(msg, sizeof(msg), "bad percent-escape \"%s\" %s", escapes[i].quoted, where);
        expect_err(escapes[i].in, escapes[i].offset, msg);
    }
    /* invalid UTF-8 after decoding, with the offset of the first bad byte's source */
    expect_err("a=%FF", 2, "invalid UTF-8 in the value of \"a\"");
    expect_err("a=ok%C3", 4, "invalid UTF-8 in the value of \"a\"");
    expect_err("a=%C3%28", 2, "invalid UTF-8 in the value of \"a\"");
    expect_err("a=x%C0%AF", 3, "invalid UTF-8 in the value of \"a\"");   /* overlong '/' */
    expect_err("a=%ED%A0%80", 2, "invalid UTF-8 in the value of \"a\""); /* a surrogate */
    expect_err("a=1&%E9t%E9=x", 4, "invalid UTF-8 in a key");
    expect_err("a=1&b=\xff", 6, "invalid UTF-8 in the value of \"b\"");
    /* NUL, encoded or raw */
    expect_err("a=x%00y", 3, "NUL (%00) in the value of \"a\"");
    expect_err("k%00=1", 1, "NUL (%00) in a key");
    expect_err_n("a=x\0y", 5, 0, 3, "NUL byte in the value of \"a\"");
    /* the limit counts non-empty pairs */
    expect_ok_n("a=1&&b=2&", 9, 2, "{\"a\":\"1\",\"b\":\"2\"}");
    expect_err_n("a=1&b=2&c=3", 11, 2, 8, "more than 2 pairs");
}

static void test_default_limit(void **state)
{
    (void)state;
    /* 10000 pairs are fine by default, 10001 are not */
    size_t n = 10001;
    char *body = malloc(n * 4);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(body + len, "k=v&", 4);
        len += 4;
    }
    struct json_object *v = NULL;
    struct wr_form_error e;
    assert_int_equal(wr_form_parse(body, (n - 1) * 4, 0, &v, &e), 0);
    assert_int_equal(json_object_array_length(json_object_object_get(v, "k")), 10000);
    json_object_put(v);
    assert_int_equal(wr_form_parse(body, len, 0, &v, &e), -1);
    assert_null(v);
    assert_string_equal(e.msg, "more than 10000 pairs");
    assert_int_equal(e.offset, 40000);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_decoding),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_default_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
