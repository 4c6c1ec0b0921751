/*
 * test_lua_lib — unit tests for engine/lua/lua_lib (the weir.* helpers), driven through a real
 * sandboxed state: every helper's results and error messages word for word, JSON round trips,
 * the log sink, the environment allow-list, and that a Lua error raised under the memory cap
 * in the middle of a conversion leaks nothing (run under ASan to see it).
 *
 * Expressions go through wr_lua_eval, as workflows use them; multi-statement cases are wrapped
 * in an immediately called function. Inputs that are awkward in Lua source (non-ASCII, invalid
 * UTF-8) go in through a scope variable, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/lua/lua_host.h"

#define ENV_SET   "WEIR_LUALIB_TEST_SET"
#define ENV_UNSET "WEIR_LUALIB_TEST_UNSET"

struct fixture {
    struct wr_lua *lua;
    int scope;
    int log_count;
    char log_level[16];
    char *log_msg; /* owned copy of the last line */
};

static void on_log(void *arg, const char *level, const char *msg)
{
    struct fixture *f = arg;
    f->log_count++;
    snprintf(f->log_level, sizeof(f->log_level), "%s", level);
    free(f->log_msg);
    f->log_msg = strdup(msg);
}

static int setup(void **state)
{
    static const char *const allow[] = {ENV_SET, ENV_UNSET, NULL};
    struct fixture *f = calloc(1, sizeof(*f));

    setenv(ENV_SET, "hello wörld", 1);
    unsetenv(ENV_UNSET);
    f->lua = wr_lua_new(NULL, allow);
    assert_non_null(f->lua);
    wr_lua_set_log(f->lua, on_log, f);
    f->scope = wr_lua_scope_new(f->lua);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wr_lua_scope_free(f->lua, f->scope);
    wr_lua_free(f->lua);
    free(f->log_msg);
    free(f);
    return 0;
}

/* {====== helpers ====== */

/* Evaluates expr, expecting success; returns its value as compact JSON (owned). */
static char *eval_json(struct fixture *f, const char *expr)
{
    struct json_object *v = NULL;
    char err[WR_ERR_MAX] = "";

    if (wr_lua_eval(f->lua, f->scope, expr, strlen(expr), &v, err, sizeof(err)) != 0) {
        fail_msg("'%s' should evaluate, got: %s", expr, err);
    }
    char *s = strdup(
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(v);
    return s;
}

/* Evaluates expr and checks that its value, as compact JSON, is exactly want. */
static void expect_json(struct fixture *f, const char *expr, const char *want)
{
    char *got = eval_json(f, expr);
    if (strcmp(got, want) != 0) {
        fail_msg("'%s': want %s, got %s", expr, want, got);
    }
    free(got);
}

/* Evaluates expr, which must yield a string, and checks it is exactly want (len bytes). */
static void expect_bytes(struct fixture *f, const char *expr, const char *want, size_t len)
{
    struct json_object *v = NULL;
    char err[WR_ERR_MAX] = "";

    if (wr_lua_eval(f->lua, f->scope, expr, strlen(expr), &v, err, sizeof(err)) != 0) {
        fail_msg("'%s' should evaluate, got: %s", expr, err);
    }
    assert_true(json_object_is_type(v, json_type_string));
    assert_int_equal(json_object_get_string_len(v), len);
    assert_memory_equal(json_object_get_string(v), want, len);
    json_object_put(v);
}

static void expect_str(struct fixture *f, const char *expr, const char *want)
{
    expect_bytes(f, expr, want, strlen(want));
}

/* Evaluates expr, expecting failure whose message ends with want. */
static void expect_error(struct fixture *f, const char *expr, const char *want)
{
    struct json_object *v = NULL;
    char err[WR_ERR_MAX] = "";

    if (wr_lua_eval(f->lua, f->scope, expr, strlen(expr), &v, err, sizeof(err)) == 0) {
        char *got = strdup(json_object_to_json_string(v));
        json_object_put(v);
        fail_msg("'%s' should fail with '%s', got value %s", expr, want, got);
    }
    size_t el = strlen(err), wl = strlen(want);
    if (el < wl || strcmp(err + el - wl, want) != 0) {
        fail_msg("'%s': want an error ending in\n  %s\ngot\n  %s", expr, want, err);
    }
}

/* Sets the scope variable `s` to the string s[0..len), byte for byte. */
static void set_s(struct fixture *f, const char *s, size_t len)
{
    struct json_object *v = json_object_new_string_len(s, (int)len);
    wr_lua_scope_set(f->lua, f->scope, "s", v);
    json_object_put(v);
}

/* weir.slug(s) (or weir.slug(s, sep)) for a NUL-terminated input. */
static void expect_slug(struct fixture *f, const char *in, const char *sep, const char *want)
{
    char expr[64];
    set_s(f, in, strlen(in));
    snprintf(expr, sizeof(expr), sep ? "weir.slug(s, '%s')" : "weir.slug(s)", sep ? sep : "");
    expect_str(f, expr, want);
}

/* weir.json_decode(input) must return nil and exactly the message want. */
static void expect_decode_error(struct fixture *f, const char *input, const char *want)
{
    char quoted[512];
    set_s(f, input, strlen(input));
    char *got = eval_json(f, "{weir.json_decode(s) == nil, select(2, weir.json_decode(s))}");
    struct json_object *w = json_object_new_string(want);
    snprintf(
        quoted, sizeof(quoted), "[true,%s]",
        json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(w);
    if (strcmp(got, quoted) != 0) {
        fail_msg("decoding '%s': want %s, got %s", input, quoted, got);
    }
    free(got);
}

/* }====== */

/* {====== weir.null, weir.log ====== */

static void test_null(void **state)
{
    struct fixture *f = *state;
    expect_json(f, "weir.null", "null");
    expect_json(f, "type(weir.null)", "\"userdata\"");
    expect_json(f, "weir.null == weir.null", "true");
    expect_json(f, "weir.json_decode('null') == weir.null", "true");
    expect_json(f, "weir.json_encode(weir.null)", "\"null\"");
    expect_json(f, "weir.json_encode(nil)", "\"null\"");
    expect_json(f, "weir.json_encode({a = weir.null})", "\"{\\\"a\\\":null}\"");
    expect_json(f, "weir.json_decode('{\"a\":null}').a == weir.null", "true");
}

/* weir.html: the five characters HTML gives meaning to, escaped; nil and weir.null are "". */
static void test_html(void **state)
{
    struct fixture *f = *state;
    expect_str(f, "weir.html('<img src=x onerror=\"a(1)\"> & \\'q\\'')",
               "&lt;img src=x onerror=&quot;a(1)&quot;&gt; &amp; &#39;q&#39;");
    expect_str(f, "weir.html('plain Ünïcode')", "plain Ünïcode");
    expect_str(f, "weir.html(nil)", "");
    expect_str(f, "weir.html(weir.null)", "");
    expect_str(f, "weir.html(true)", "true");
}

static void test_log(void **state)
{
    struct fixture *f = *state;
    static const char *const levels[] = {"debug", "info", "warn", "error"};

    for (size_t i = 0; i < 4; i++) {
        char expr[64];
        snprintf(expr, sizeof(expr), "weir.log('%s', 'line %zu')", levels[i], i);
        expect_json(f, expr, "null");
        assert_int_equal(f->log_count, (int)i + 1);
        assert_string_equal(f->log_level, levels[i]);
        char want[16];
        snprintf(want, sizeof(want), "line %zu", i);
        assert_string_equal(f->log_msg, want);
    }
    /* tostring semantics */
    expect_json(f, "weir.log('info', 42)", "null");
    assert_string_equal(f->log_msg, "42");
    expect_json(f, "weir.log('info', 1.5)", "null");
    assert_string_equal(f->log_msg, "1.5");
    expect_json(f, "weir.log('warn', nil)", "null");
    assert_string_equal(f->log_msg, "nil");
    expect_json(f, "weir.log('warn', true)", "null");
    assert_string_equal(f->log_msg, "true");
    expect_json(f, "weir.log('debug', {})", "null");
    assert_true(strncmp(f->log_msg, "table: ", 7) == 0);
    expect_json(f, "weir.log('debug', setmetatable({}, {__tostring = function() return 'T!' end}))",
                "null");
    assert_string_equal(f->log_msg, "T!");

    /* Truncated to 4 KiB, never in the middle of a UTF-8 sequence. */
    expect_json(f, "weir.log('info', string.rep('a', 5000))", "null");
    assert_int_equal(strlen(f->log_msg), 4096);
    expect_json(f, "weir.log('info', 'a' .. string.rep('\\u{e9}', 3000))", "null");
    assert_int_equal(strlen(f->log_msg), 4095);
    assert_memory_equal(f->log_msg + 4093, "\xc3\xa9", 2);
    expect_json(f, "weir.log('info', string.rep('b', 4096))", "null");
    assert_int_equal(strlen(f->log_msg), 4096);

    int before = f->log_count;
    expect_error(f, "weir.log('loud', 'x')",
                 "weir.log: level 'loud' is not one of debug, info, warn, error");
    expect_error(f, "weir.log('INFO', 'x')",
                 "weir.log: level 'INFO' is not one of debug, info, warn, error");
    expect_error(f, "weir.log('info')", "bad argument #2 to 'log' (value expected)");
    expect_error(f, "weir.log(nil, 'x')", "bad argument #1 to 'log' (string expected, got nil)");
    assert_int_equal(f->log_count, before);
}

/* }====== */

/* {====== JSON ====== */

static void test_json_encode(void **state)
{
    struct fixture *f = *state;

    expect_str(f, "weir.json_encode({1, 2, {3, {}}})", "[1,2,[3,{}]]");
    expect_str(f, "weir.json_encode({a = {b = {c = {true, false}}}})",
               "{\"a\":{\"b\":{\"c\":[true,false]}}}");
    expect_str(f, "weir.json_encode({})", "{}");
    expect_str(f, "weir.json_encode(weir.array())", "[]");
    expect_str(f, "weir.json_encode({x = weir.array()})", "{\"x\":[]}");
    expect_str(f, "weir.json_encode('a/b \"q\" \\\\ \\n')", "\"a/b \\\"q\\\" \\\\ \\n\"");
    expect_str(f, "weir.json_encode(9007199254740993)", "9007199254740993");
    expect_str(f, "weir.json_encode(math.maxinteger)", "9223372036854775807");
    expect_str(f, "weir.json_encode(math.mininteger)", "-9223372036854775808");
    /* Floats: shortest round-trip text, and a float stays a float. */
    expect_str(f, "weir.json_encode(0.1)", "0.1");
    expect_str(f, "weir.json_encode(1.5)", "1.5");
    expect_str(f, "weir.json_encode(3.0)", "3.0");
    expect_str(f, "weir.json_encode(-0.25)", "-0.25");
    expect_str(f, "weir.json_encode(1e21)", "1e+21");
    expect_str(f, "weir.json_encode(1/3)", "0.3333333333333333");
    expect_json(f, "weir.json_decode(weir.json_encode(1/3)) == 1/3", "true");
    expect_json(f, "math.type(weir.json_decode(weir.json_encode(3.0)))", "\"float\"");

    /* Non-ASCII text passes byte for byte, no \u escapes. */
    static const char text[] = "Zo\xc3\xab \xc3\x90or\xc4\x91\xc4\x9bvi\xc4\x87 "
                               "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
    set_s(f, text, sizeof(text) - 1);
    char want[128];
    snprintf(want, sizeof(want), "\"%s\"", text);
    expect_str(f, "weir.json_encode(s)", want);
    expect_json(f, "weir.json_decode(weir.json_encode(s)) == s", "true");
    expect_str(f, "weir.json_encode({s})",
               "[\"Zo\xc3\xab \xc3\x90or\xc4\x91\xc4\x9bvi\xc4\x87 "
               "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"]");

    expect_error(f, "weir.json_encode(type)",
                 "weir.json_encode: cannot convert a function to JSON");
    expect_error(f, "weir.json_encode({f = type})",
                 "weir.json_encode: f: cannot convert a function to JSON");
    expect_error(f, "weir.json_encode(0/0)", "weir.json_encode: NaN is not a JSON number");
    expect_error(f, "weir.json_encode({1, x = 2})",
                 "weir.json_encode: a table mixes list items and named keys (or has a "
                 "non-string key); JSON needs one or the other");
    expect_error(f, "(function() local t = {} t.t = t return weir.json_encode(t) end)()",
                 "(a table that contains itself?)");
    expect_error(f, "weir.json_encode('\\xff')",
                 "weir.json_encode: a string that is not valid UTF-8 (JSON text must be)");
    expect_error(f, "weir.json_encode()", "bad argument #1 to 'json_encode' (value expected)");
}

static void test_json_decode(void **state)
{
    struct fixture *f = *state;

    expect_json(f, "weir.json_decode('{\"a\": [1, 2.5, \"x\", true, null, {}]}')",
                "{\"a\":[1,2.5,\"x\",true,null,{}]}");
    expect_json(f, "weir.json_decode('{\"a\": {\"b\": {\"c\": []}}}')",
                "{\"a\":{\"b\":{\"c\":[]}}}");
    expect_json(f, "weir.json_decode(' [ ] ')", "[]");
    expect_str(f, "weir.json_encode(weir.json_decode('[]'))", "[]");
    expect_str(f, "weir.json_encode(weir.json_decode('{\"a\":[[],{}]}'))", "{\"a\":[[],{}]}");
    expect_json(f, "weir.json_decode('[1,null,3]')[2] == weir.null", "true");
    expect_json(f, "#weir.json_decode('[1,null,3]')", "3");
    expect_str(f, "weir.json_encode(weir.json_decode('[1,null,3]'))", "[1,null,3]");
    expect_json(f, "weir.json_decode('123')", "123");
    expect_json(f, "weir.json_decode('\"x\"')", "\"x\"");
    expect_json(f, "weir.json_decode('false')", "false");

    /* Big integers stay exact integers. */
    expect_json(f, "weir.json_decode('9007199254740993') == 9007199254740993", "true");
    expect_json(f, "math.type(weir.json_decode('9007199254740993'))", "\"integer\"");
    expect_str(f, "weir.json_encode(weir.json_decode('[9007199254740993]'))", "[9007199254740993]");
    expect_json(f, "weir.json_decode('9223372036854775807') == math.maxinteger", "true");
    expect_json(f, "weir.json_decode('-9223372036854775808') == math.mininteger", "true");
    expect_json(f, "math.type(weir.json_decode('1.0'))", "\"float\"");
    expect_json(f, "weir.json_decode('1e2')", "100.0");

    /* Strings byte-exact, escapes decoded. */
    static const char text[] = "\"J\xc3\xa9r\xc3\xb4me \xe6\x97\xa5 \xf0\x9f\x98\x80\"";
    set_s(f, text, sizeof(text) - 1);
    expect_bytes(f, "weir.json_decode(s)", "J\xc3\xa9r\xc3\xb4me \xe6\x97\xa5 \xf0\x9f\x98\x80",
                 sizeof(text) - 3);
    expect_bytes(f, "weir.json_decode('\"a\\\\u0000b\\\\u00e9\"')", "a\0b\xc3\xa9", 5);

    /* Errors come back as nil, message. */
    expect_json(f, "select('#', weir.json_decode('{'))", "2");
    expect_decode_error(f, "[1,", "weir.json_decode: unexpected end of the data at byte 3");
    expect_decode_error(f, "", "weir.json_decode: no JSON value (the data is empty) at byte 0");
    expect_decode_error(f, "   ", "weir.json_decode: no JSON value (the data is empty) at byte 3");
    expect_decode_error(f, "[1] x",
                        "weir.json_decode: unexpected data after the JSON value at byte 4");
    expect_decode_error(f, "[1,]",
                        "weir.json_decode: a comma before ']' (JSON allows no trailing comma) at "
                        "byte 3");
    expect_decode_error(f, "{'a': 1}",
                        "weir.json_decode: a key must be a string in double quotes, not single "
                        "quotes at byte 1");
    expect_decode_error(f, "1 2",
                        "weir.json_decode: unexpected data after the JSON value at byte 2");
    expect_decode_error(f, "NaN",
                        "weir.json_decode: NaN and Infinity are not JSON numbers at byte 0");
    expect_decode_error(f, "nan",
                        "weir.json_decode: NaN and Infinity are not JSON numbers at byte 0");
    expect_decode_error(f, "TRUE",
                        "weir.json_decode: not a JSON value: 'TRUE' (strings need double quotes; "
                        "true, false and null are lowercase) at byte 0");
    expect_decode_error(f, "\"\xff\"",
                        "weir.json_decode: a string that is not valid UTF-8 at byte 1");
    expect_decode_error(f, "18446744073709551615",
                        "weir.json_decode: integer out of range: 18446744073709551615 needs more "
                        "than 64 bits (as a string it is kept exactly) at byte 0");
    expect_decode_error(f, "[1e400]",
                        "weir.json_decode: number out of range: 1e400 is too large for a double at "
                        "byte 1");
    expect_decode_error(
        f, "-1e999",
        "weir.json_decode: number out of range: -1e999 is too large for a double at "
        "byte 0");
    expect_decode_error(f, "{\"a\": 1, \"a\": 2}",
                        "weir.json_decode: duplicate key \"a\" at byte 9");
    expect_decode_error(f, "{\"a\\u0000\": 1}",
                        "weir.json_decode: key contains a NUL byte (\\u0000) at byte 3");
    expect_decode_error(f, "\"\\ud800\"",
                        "weir.json_decode: a lone UTF-16 surrogate (\\ud800) is not a character (a "
                        "high surrogate needs a low one after it) at byte 1");
    /* What json-c's strict mode lets through, and JSON does not. */
    expect_decode_error(f, "{\"a\": 1, 'b': 2}",
                        "weir.json_decode: a key must be a string in double quotes, not single "
                        "quotes at byte 9");
    expect_decode_error(f, "[\"a\tb\"]",
                        "weir.json_decode: a control character inside a string (write it as \\t, "
                        "\\n or \\uXXXX) at byte 3");
    expect_decode_error(f, "\"a\nb\"",
                        "weir.json_decode: a control character inside a string (write it as \\t, "
                        "\\n or \\uXXXX) at byte 2");
    expect_decode_error(f, "Infinity",
                        "weir.json_decode: NaN and Infinity are not JSON numbers at byte 0");
    expect_decode_error(f, "[1, -Infinity]",
                        "weir.json_decode: NaN and Infinity are not JSON numbers at byte 4");
    expect_decode_error(f, "[NaN]",
                        "weir.json_decode: NaN and Infinity are not JSON numbers at byte 1");
    expect_decode_error(f, "1.",
                        "weir.json_decode: not a JSON number (a digit must follow '.') at byte 0");
    expect_decode_error(f, "[1.e5]",
                        "weir.json_decode: not a JSON number (a digit must follow '.') at byte 1");
    expect_decode_error(f, "{\"n\": -01}",
                        "weir.json_decode: not a JSON number (no leading zeros) at byte 6");
    /* ... while every token JSON allows still passes. */
    expect_json(f,
                "weir.json_decode('[-0, 0.5, -1.25e-3, 1E+2, 2e0, \"\\\\\"\\\\\\\\\\\\/\\\\t\", "
                "true, false, null]')",
                "[0,0.5,-0.00125,100.0,2.0,\"\\\"\\\\/\\t\",true,false,null]");
    set_s(f, "[1]\0", 4);
    expect_json(f, "select(2, weir.json_decode(s))",
                "\"weir.json_decode: a NUL byte after the JSON value at byte 3\"");

    /* Depth: 64 levels decode (and encode back), 65 do not. */
    expect_json(f,
                "#weir.json_encode(weir.json_decode(string.rep('[', 64) .. string.rep(']', 64)))",
                "128");
    expect_json(f, "weir.json_decode(string.rep('[', 65) .. string.rep(']', 65)) == nil", "true");
    expect_json(f, "select(2, weir.json_decode(string.rep('[', 65) .. string.rep(']', 65)))",
                "\"weir.json_decode: nesting is deeper than 64 levels at byte 64\"");

    expect_error(f, "weir.json_decode()",
                 "bad argument #1 to 'json_decode' (string expected, got no value)");
    expect_error(f, "weir.json_decode({})",
                 "bad argument #1 to 'json_decode' (string expected, got table)");
}

static void test_array(void **state)
{
    struct fixture *f = *state;

    expect_str(f, "weir.json_encode(weir.array())", "[]");
    expect_str(f, "weir.json_encode(weir.array(nil))", "[]");
    expect_str(f, "weir.json_encode(weir.array({}))", "[]");
    expect_str(f, "weir.json_encode(weir.array({1, 'two'}))", "[1,\"two\"]");
    expect_json(f, "(function() local t = {} return weir.array(t) == t end)()", "true");
    expect_json(f, "weir.array({})", "[]");
    /* Marking twice, or marking a decoded array, is fine. */
    expect_str(f, "weir.json_encode(weir.array(weir.array({})))", "[]");
    expect_str(f, "weir.json_encode(weir.array(weir.json_decode('[]')))", "[]");
    /* An array built up after marking. */
    expect_str(f,
               "(function() local t = weir.array() for i = 1, 3 do t[#t + 1] = i * i end "
               "return weir.json_encode(t) end)()",
               "[1,4,9]");

    expect_error(f, "weir.array(5)", "bad argument #1 to 'array' (table expected, got number)");
    expect_error(f, "weir.array(setmetatable({}, {}))",
                 "weir.array: the table already has a metatable");
    /* Library tables are proxies with a locked metatable: refusing them keeps them working. */
    expect_error(f, "weir.array(string)", "weir.array: the table already has a metatable");
    expect_error(f, "weir.array(weir)", "weir.array: the table already has a metatable");
    expect_json(f, "string.upper('ok')", "\"OK\"");
    expect_json(f, "weir.slug('Still Here')", "\"still.here\"");
}

/* weir.list and weir.index over views of a decoded XML body, where an element that does not
   repeat is one object and one that does is a list. */
static void test_list_index(void **state)
{
    struct fixture *f = *state;
    struct json_object *ev = json_tokener_parse(
        "{\"one\": {\"entityKey\": {\"name\": \"userId\", \"value\": \"82094\"}},"
        " \"two\": {\"entityKey\": [{\"name\": \"userId\", \"value\": \"7\"},"
        "                          {\"name\": \"seqNumber\", \"value\": \"1\"}, \"junk\"]},"
        " \"empty\": [], \"text\": \"x\", \"nothing\": null}");
    wr_lua_scope_set(f->lua, f->scope, "ev", ev);
    json_object_put(ev);

    expect_json(f, "weir.list(ev.one.entityKey)", "[{\"name\":\"userId\",\"value\":\"82094\"}]");
    expect_json(f, "#weir.list(ev.two.entityKey)", "3");
    expect_json(f, "weir.list(ev.empty)", "[]");
    expect_json(f, "weir.list(ev.nothing)", "[]");
    expect_json(f, "weir.list(ev.missing)", "[]");
    expect_json(f, "weir.list(ev.text)", "[\"x\"]");
    expect_json(f, "weir.list({})", "[]");
    expect_str(f, "weir.index(ev.one.entityKey).userId", "82094");
    expect_str(f, "weir.index(ev.two.entityKey).userId .. weir.index(ev.two.entityKey).seqNumber",
               "71");
    expect_str(f, "weir.index({{k = 'a', v = 'b'}}, 'k', 'v').a", "b");
    expect_json(f, "weir.index(nil)", "{}");
}

/* Under a memory cap, a conversion that runs out of memory halfway fails cleanly, and the
   json-c tree it held is released (ASan's leak checker would report it otherwise). */
static void test_json_memory_cap(void **state)
{
    (void)state;
    /* time enough (a sanitizer build is slow): the memory cap is what must stop these */
    struct wr_lua_limits limits = {.memory = 4u << 20, .expr_time_ms = 60000};
    struct wr_lua *lua = wr_lua_new(&limits, NULL);
    int scope = wr_lua_scope_new(lua);
    struct json_object *v = NULL;
    char err[WR_ERR_MAX];
    static const char decode[] = "#weir.json_decode('[' .. string.rep('[1],', 100000) .. '[1]]')";
    static const char encode[] = "#weir.json_encode({string.rep('x', 1200000), "
                                 "string.rep('y', 1200000)})";

    assert_int_equal(wr_lua_eval(lua, scope, decode, strlen(decode), &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "memory limit of 4 MiB exceeded"));
    assert_int_equal(wr_lua_eval(lua, scope, encode, strlen(encode), &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "memory limit of 4 MiB exceeded"));
    /* The state is still usable afterwards. */
    static const char ok[] = "weir.json_encode(weir.json_decode('[1,2]'))";
    assert_int_equal(wr_lua_eval(lua, scope, ok, strlen(ok), &v, err, sizeof(err)), 0);
    assert_string_equal(json_object_get_string(v), "[1,2]");
    json_object_put(v);
    wr_lua_scope_free(lua, scope);
    wr_lua_free(lua);
}

/* }====== */

/* {====== weir.slug ====== */

static void test_slug_examples(void **state)
{
    struct fixture *f = *state;

    expect_slug(f,
                "Jos\xc3\xa9 N\xc3\xba\xc3\xb1"
                "ez",
                NULL, "jose.nunez");
    expect_slug(f, "Zo\xc3\xab \xc3\x90or\xc4\x91\x65vi\xc4\x87", NULL, "zoe.dordevic");
    expect_slug(f, "\xc5\x81ukasz \xc5\xbb\xc3\xb3\xc5\x82\xc4\x87", NULL, "lukasz.zolc");
    expect_slug(f, "S\xc3\xb8ren \xc3\x86r\xc3\xb8", NULL, "soren.aero");
    expect_slug(f,
                "Stra\xc3\x9f"
                "e",
                NULL, "strasse");
    expect_slug(f, "O'Brien-Smith", NULL, "obrien-smith");
    expect_slug(f, "  many   spaces ", NULL, "many.spaces");
    expect_slug(f, "\xe6\x97\xa5\xe6\x9c\xac Taro", NULL, "taro");
    expect_slug(f, "", NULL, "");
    expect_slug(f, "\xe6\x97\xa5\xe6\x9c\xac", NULL, "");
    expect_slug(f, " . _ - ", NULL, "");
    expect_slug(f, "JOHN SMITH", NULL, "john.smith");
}

static void test_slug_folding(void **state)
{
    struct fixture *f = *state;

    /* Latin-1 Supplement, upper and lower case. */
    expect_slug(f,
                "\xc3\x80\xc3\x81\xc3\x82\xc3\x83\xc3\x84\xc3\x85 \xc3\xa0\xc3\xa1\xc3\xa2"
                "\xc3\xa3\xc3\xa4\xc3\xa5",
                NULL, "aaaaaa.aaaaaa");
    expect_slug(f,
                "\xc3\x87\xc3\xa7 \xc3\x88\xc3\xa9\xc3\xaa\xc3\xab \xc3\x8c\xc3\xad\xc3\xae"
                "\xc3\xaf",
                NULL, "cc.eeee.iiii");
    expect_slug(f,
                "\xc3\x91\xc3\xb1 \xc3\x92\xc3\xb3\xc3\xb4\xc3\xb5\xc3\xb6\xc3\xb8 \xc3\x99"
                "\xc3\xba\xc3\xbb\xc3\xbc \xc3\x9d\xc3\xbd\xc3\xbf",
                NULL, "nn.oooooo.uuuu.yyy");
    expect_slug(f, "\xc3\x86sir \xc3\xa6 \xc3\x9e\xc3\xb3r \xc3\xbe \xc3\x90 \xc3\xb0", NULL,
                "aesir.ae.thor.th.d.d");
    /* × and ÷ are not letters. */
    expect_slug(f,
                "a\xc3\x97"
                "b\xc3\xb7"
                "c",
                NULL, "abc");
    /* Latin Extended-A. */
    expect_slug(f, "\xc5\x92uvre \xc5\x93il", NULL, "oeuvre.oeil");
    expect_slug(f, "\xc5\x81\xc3\xb3\xc5\xba \xc5\x82", NULL, "loz.l");
    expect_slug(f, "\xc4\x90\xc4\x91", NULL, "dd");
    expect_slug(f, "Y\xc4\xb1ld\xc4\xb1z \xc4\xb0stanbul", NULL, "yildiz.istanbul");
    expect_slug(f, "\xc4\x9e\xc4\x9f \xc5\x9e\xc5\x9f", NULL, "gg.ss");
    expect_slug(f, "\xc4\x8c\xc5\xa1\xc5\xbe\xc5\x99\xc4\x9b\xc5\xaf", NULL, "cszreu");
    expect_slug(f, "\xc4\xb2sselmeer", NULL, "ijsselmeer");
    expect_slug(f, "\xc5\x8a\xc5\x8b \xc5\xbf", NULL, "ngng.s");
    expect_slug(f, "\xc5\x90r\xc5\xb1", NULL, "oru");
    /* Romanian comma-below letters (Latin Extended-B). */
    expect_slug(f, "\xc8\x98tef\xc4\x83nescu \xc8\x9a\xc8\x9b", NULL, "stefanescu.tt");
    /* Decomposed accents (combining marks) are dropped, leaving the base letter. */
    expect_slug(f, "Jose\xcc\x81", NULL, "jose");
}

static void test_slug_separators(void **state)
{
    struct fixture *f = *state;

    expect_slug(f, "a._ \t\n b", NULL, "a.b");
    expect_slug(f, "first.last", NULL, "first.last");
    expect_slug(f, "first_last", NULL, "first.last");
    expect_slug(f, "...first...", NULL, "first");
    /* Apostrophes of every kind vanish without breaking the word. */
    expect_slug(f,
                "D\xe2\x80\x99"
                "Angelo O\xca\xbcNeil",
                NULL, "dangelo.oneil");
    /* Hyphens join: breaks around them and repeats collapse; never leading or trailing. */
    expect_slug(f, "Jean - Luc", NULL, "jean-luc");
    expect_slug(f, "Jean--Luc", NULL, "jean-luc");
    expect_slug(f, "-Jean-Luc-", NULL, "jean-luc");
    expect_slug(f, "Jean\xe2\x80\x90Luc", NULL, "jean-luc");
    /* NBSP and ideographic space are whitespace. */
    expect_slug(f,
                "Ana\xc2\xa0Mar\xc3\xad"
                "a\xe3\x80\x80L\xc3\xb3pez",
                NULL, "ana.maria.lopez");
    /* Other punctuation, emoji and other scripts are dropped. */
    expect_slug(f, "John (Jack) Smith!", NULL, "john.jack.smith");
    expect_slug(f,
                "a\xf0\x9f\x98\x80"
                "b",
                NULL, "ab");
    expect_slug(f, "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd Ivanov", NULL, "ivanov");
    expect_slug(f, "Agent 007", NULL, "agent.007");
    /* Separators. */
    expect_slug(f,
                "Jos\xc3\xa9 N\xc3\xba\xc3\xb1"
                "ez",
                "_", "jose_nunez");
    expect_slug(f,
                "Jos\xc3\xa9 N\xc3\xba\xc3\xb1"
                "ez",
                "", "josenunez");
    expect_slug(f,
                "Jos\xc3\xa9 N\xc3\xba\xc3\xb1"
                "ez",
                "-", "jose-nunez");
    expect_slug(f, "Jean - Luc Picard", "-", "jean-luc-picard");
    expect_str(f, "weir.slug('Mary Ann', nil)", "mary.ann");

    expect_error(f, "weir.slug()", "bad argument #1 to 'slug' (string expected, got no value)");
    expect_error(f, "weir.slug({})", "bad argument #1 to 'slug' (string expected, got table)");
    expect_error(f, "weir.slug('a', {})", "bad argument #2 to 'slug' (string expected, got table)");
}

static void test_slug_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"a\xff"
         "b",
         3, "ab"},
        {"a\xc3", 2, "a"},     /* truncated at the end */
        {"a\xc3 b", 4, "a.b"}, /* truncated before a space */
        {"\x80\x80x", 3, "x"}, /* stray continuation bytes */
        {"a\xc0\xa1"
         "b",
         4, "ab"}, /* overlong '!' */
        {"a\xc3\x81"
         "b",
         4, "aab"}, /* valid Á between */
        {"a\xe0\x80\xa0"
         "b",
         5, "ab"}, /* overlong space */
        {"a\xed\xa0\x80"
         "b",
         5, "ab"}, /* surrogate */
        {"a\xf4\x90\x80\x80"
         "b",
         6, "ab"},         /* above U+10FFFF */
        {"a\0b", 3, "ab"}, /* NUL is dropped */
        {"\xc3\xa9\xc3", 3, "e"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_s(f, cases[i].in, cases[i].len);
        expect_str(f, "weir.slug(s)", cases[i].want);
    }
    /* Every byte value on its own: the result only ever holds [a-z0-9.-]. */
    char all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (char)(255 - i);
    }
    set_s(f, all, sizeof(all));
    expect_str(f, "weir.slug(s)",
               "zyxwvutsrqponmlkjihgfedcba.zyxwvutsrqponmlkjihgfedcba9876543210");
}

/* }====== */

/* {====== weir.date ====== */

#define FORM                                                                                       \
    "not an ISO-8601 timestamp (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][.fraction][Z|+HH:MM|-HH:MM])"

static void test_date_parse(void **state)
{
    struct fixture *f = *state;

    expect_json(f, "weir.date('1970-01-01')", "0");
    expect_json(f, "weir.date('2024-02-29')", "1709164800");
    expect_json(f, "weir.date('2000-02-29')", "951782400");
    expect_json(f, "weir.date('2026-03-01T08:00:00Z')", "1772352000");
    expect_json(f, "weir.date('2026-03-01t08:00:00z')", "1772352000");
    expect_json(f, "weir.date('2026-03-01 08:00:00Z')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T08:00')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T08:00Z')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T08:00:00')", "1772352000");
    /* An offset east of UTC is an earlier instant; west is later. */
    expect_json(f, "weir.date('2026-03-01T10:00:00+02:00')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T10:00+0200')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T06:30:00-01:30')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T08:00:00+00:00')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T00:30:00+02:00')", "1772317800");
    /* Fractions are dropped, never rounded up. */
    expect_json(f, "weir.date('2026-03-01T08:00:00.999Z')", "1772352000");
    expect_json(f, "weir.date('2026-03-01T08:00:00.123456789+02:00')", "1772344800");
    expect_json(f, "weir.date('1969-12-31T23:59:59Z')", "-1");
    expect_json(f, "weir.date('0000-01-01')", "-62167219200");
    expect_json(f, "weir.date('9999-12-31T23:59:59Z')", "253402300799");
    /* Epoch seconds pass through (floats only when whole). */
    expect_json(f, "weir.date(1772352000)", "1772352000");
    expect_json(f, "weir.date(-1)", "-1");
    expect_json(f, "weir.date(1.0e9)", "1000000000");
    expect_json(f, "math.type(weir.date('2024-02-29'))", "\"integer\"");

    /* Impossible times are refused with the field that is wrong (shared with wait_until). */
    static const char *const bad[][2] = {
        {"2026-02-30", "day 30 does not exist in 2026-02 (it has 28 days)"},
        {"2023-02-29", "day 29 does not exist in 2023-02 (it has 28 days)"},
        {"1900-02-29", "day 29 does not exist in 1900-02 (it has 28 days)"},
        {"2099-02-30", "day 30 does not exist in 2099-02 (it has 28 days)"},
        {"2026-13-01", "month 13 is out of range (01-12)"},
        {"2026-00-10", "month 00 is out of range (01-12)"},
        {"2026-01-00", "day 00 does not exist in 2026-01 (it has 31 days)"},
        {"2026-04-31", "day 31 does not exist in 2026-04 (it has 30 days)"},
        {"garbage", FORM},
        {"", FORM},
        {"2026-3-1", FORM},
        {"26-03-01", FORM},
        {"2026/03/01", FORM},
        {"2026-03-01T", FORM},
        {"2026-03-01T24:00", "hour 24 is out of range (00-23)"},
        {"2026-03-01T25:61", "hour 25 is out of range (00-23)"},
        {"2026-03-01T23:60", "minute 60 is out of range (00-59)"},
        {"2026-03-01T23:59:60", "second 60 (a leap second) is not supported"},
        {"2026-03-01T23:59:61", "second 61 is out of range (00-59)"},
        {"2026-03-01T8:00", FORM},
        {"2026-03-01T08:00:00.", FORM},
        {"2026-03-01T08:00+2", FORM},
        {"2026-03-01T08:00+24:00", "offset hour 24 is out of range (00-23)"},
        {"2026-03-01T08:00+99:00", "offset hour 99 is out of range (00-23)"},
        {"2026-03-01T08:00+02:60", "offset minute 60 is out of range (00-59)"},
        {"2026-03-01T08:00Zx", FORM},
        {"2026-03-01 ", FORM},
        {"2026-03-01Z", FORM},
        {" 2026-03-01", FORM},
        {"+2026-03-01", FORM},
        {"2026-03-01T08:00:00+02:00:00", FORM},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char expr[128], want[256];
        snprintf(expr, sizeof(expr), "weir.date('%s')", bad[i][0]);
        snprintf(want, sizeof(want), "weir.date: '%s': %s", bad[i][0], bad[i][1]);
        expect_error(f, expr, want);
    }
    set_s(f, "2026-03-01\0T08:00", 17);
    expect_error(f, "weir.date(s)", "weir.date: '2026-03-01?T08:00': " FORM);
    expect_error(f, "weir.date(string.rep('9', 100))",
                 "weir.date: '" /* 64 nines, then an ellipsis */
                 "9999999999999999999999999999999999999999999999999999999999999999"
                 "...': " FORM);
    expect_error(f, "weir.date(1.5)", "weir.date: 1.5 is not a whole number of seconds");
    expect_error(f, "weir.date(253402300800)",
                 "weir.date: 253402300800 is outside the years 0000 to 9999");
    expect_error(f, "weir.date(-62167219201)",
                 "weir.date: -62167219201 is outside the years 0000 to 9999");
    expect_error(f, "weir.date('0000-01-01T00:00+01:00')",
                 "weir.date: '0000-01-01T00:00+01:00' is outside the years 0000 to 9999");
    expect_error(
        f, "weir.date('9999-12-31T23:59:59.' .. string.rep('9', 100) .. '-00:01')",
        "weir.date: '9999-12-31T23:59:59."
        "99999999999999999999999999999999999999999999...' is outside the years 0000 to 9999");
    expect_json(f, "weir.date('0000-01-01T00:00-01:00')", "-62167215600");
    expect_error(f, "weir.date({})",
                 "bad argument #1 to 'date' (ISO-8601 string or epoch seconds expected, got "
                 "table)");
    expect_error(f, "weir.date()",
                 "bad argument #1 to 'date' (ISO-8601 string or epoch seconds expected, got no "
                 "value)");
}

static void test_date_format(void **state)
{
    struct fixture *f = *state;

    expect_str(f, "weir.date('2026-03-01T10:00:00+02:00', '%F %T')", "2026-03-01 08:00:00");
    expect_str(f, "weir.date(0, '%Y-%m-%dT%H:%M:%SZ')", "1970-01-01T00:00:00Z");
    expect_str(f, "weir.date('2026-03-01T08:00:00Z', '%a %A %b %B %e %j %u %w %G %V %y %z %Z %%')",
               "Sun Sunday Mar March  1 060 7 0 2026 09 26 +0000 UTC %");
    expect_str(f, "weir.date('2024-12-30', '%G-W%V %Y')", "2025-W01 2024");
    expect_str(f, "weir.date('2024-02-29', '%d.%m.%Y')", "29.02.2024");
    expect_str(f, "weir.date(1767620730, '%H:%M:%S')", "13:45:30");
    expect_str(f, "weir.date(0, 'no conversions')", "no conversions");
    expect_str(f, "weir.date(0, '')", "");
    expect_json(f, "weir.date(0, nil)", "0");
    /* Longest results are fine up to the bound. */
    expect_json(f, "#weir.date('2026-03-02', string.rep('%B', 31))", "155");

    static const char *const refused[][2] = {
        {"%c", "'%c'"},  {"%s", "'%s'"}, {"%-d", "'%-'"},  {"%Ey", "'%E'"},
        {"%Od", "'%O'"}, {"%n", "'%n'"}, {"%p", "'%p'"},   {"%x", "'%x'"},
        {"%D", "'%D'"},  {"%k", "'%k'"}, {"%%%q", "'%q'"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char expr[64], want[192];
        snprintf(expr, sizeof(expr), "weir.date(0, '%s')", refused[i][0]);
        snprintf(want, sizeof(want),
                 "weir.date: format has %s; allowed: %%Y %%m %%d %%H %%M %%S %%y %%j %%a %%A "
                 "%%b %%B %%e %%F %%T %%z %%Z %%%% %%u %%w %%G %%V",
                 refused[i][1]);
        expect_error(f, expr, want);
    }
    expect_error(f, "weir.date(0, 'abc%')",
                 "weir.date: format has a lone '%' at the end; allowed: %Y %m %d %H %M %S %y %j "
                 "%a %A %b %B %e %F %T %z %Z %% %u %w %G %V");
    expect_error(f, "weir.date(0, '%Y\\0%s')",
                 "weir.date: format has a NUL byte; allowed: %Y %m %d %H %M %S %y %j %a %A %b "
                 "%B %e %F %T %z %Z %% %u %w %G %V");
    expect_error(f, "weir.date(0, string.rep('%Y', 65))",
                 "weir.date: format longer than 128 bytes");
    expect_error(f, "weir.date('2026-03-04', string.rep('%A', 64))",
                 "weir.date: result longer than 255 bytes");
    expect_error(f, "weir.date(0, {})", "bad argument #2 to 'date' (string expected, got table)");
    expect_error(f, "weir.date('2026-02-30', '%F')",
                 "weir.date: '2026-02-30': day 30 does not exist in 2026-02 (it has 28 days)");
}

/* The process time zone must not leak into weir.date. */
static void test_date_ignores_tz(void **state)
{
    struct fixture *f = *state;
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;

    setenv("TZ", "America/New_York", 1);
    tzset();
    expect_json(f, "weir.date('2026-03-01T08:00')", "1772352000");
    expect_json(f, "weir.date('2026-07-01')", "1782864000");
    expect_str(f, "weir.date(1772352000, '%F %T %z %Z')", "2026-03-01 08:00:00 +0000 UTC");
    setenv("TZ", "Asia/Kolkata", 1);
    tzset();
    expect_str(f, "weir.date('2026-07-01T23:30:00-02:00', '%F %T')", "2026-07-02 01:30:00");
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

/* }====== */

/* {====== weir.env ====== */

static void test_env(void **state)
{
    struct fixture *f = *state;

    expect_str(f, "weir.env('" ENV_SET "')", "hello w\xc3\xb6rld");
    expect_json(f, "weir.env('" ENV_UNSET "')", "null");
    expect_json(f, "weir.env('" ENV_UNSET "') == nil", "true");
    setenv(ENV_UNSET, "", 1);
    expect_str(f, "weir.env('" ENV_UNSET "')", "");
    unsetenv(ENV_UNSET);

    expect_error(f, "weir.env('HOME')",
                 "weir.env: 'HOME' is not listed in weir.yaml lua.env_allow");
    expect_error(f, "weir.env('weir_lualib_test_set')",
                 "weir.env: 'weir_lualib_test_set' is not listed in weir.yaml lua.env_allow");
    expect_error(f, "weir.env('" ENV_SET "\\0X')",
                 "weir.env: '" ENV_SET "?X' is not listed in weir.yaml lua.env_allow");
    expect_error(f, "weir.env('')", "weir.env: '' is not listed in weir.yaml lua.env_allow");
    expect_error(f, "weir.env()", "bad argument #1 to 'env' (string expected, got no value)");
    /* pcall sees the refusal as an ordinary error. */
    expect_json(f, "(pcall(weir.env, 'PATH'))", "false");

    /* A state with no allow-list refuses everything. */
    struct wr_lua *bare = wr_lua_new(NULL, NULL);
    int scope = wr_lua_scope_new(bare);
    struct json_object *v = NULL;
    char err[WR_ERR_MAX];
    static const char expr[] = "weir.env('" ENV_SET "')";
    assert_int_equal(wr_lua_eval(bare, scope, expr, strlen(expr), &v, err, sizeof(err)), -1);
    assert_non_null(
        strstr(err, "weir.env: '" ENV_SET "' is not listed in weir.yaml lua.env_allow"));
    wr_lua_scope_free(bare, scope);
    wr_lua_free(bare);
}

/* }====== */

static void test_library_is_read_only(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "(function() weir.slug = nil end)()",
                 "cannot change 'slug': weir's libraries are read-only");
    expect_error(f, "(function() weir.null = 1 end)()",
                 "cannot change 'null': weir's libraries are read-only");
    expect_json(f, "type(weir.slug)", "\"function\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_html, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_encode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array, setup, teardown),
        cmocka_unit_test(test_json_memory_cap),
        cmocka_unit_test_setup_teardown(test_slug_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slug_folding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slug_separators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slug_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_date_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_date_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_date_ignores_tz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_library_is_read_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
