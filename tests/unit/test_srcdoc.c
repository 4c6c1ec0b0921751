/*
 * test_srcdoc — unit tests for engine/base/srcdoc: positions of keys and values in YAML and JSON,
 * scalar typing under the YAML 1.2 core schema, key paths and their quoting, and the limits
 * and rejections (duplicate keys, aliases, tags, depth, size, NUL bytes, several documents).
 *
 * Schema checks (unknown keys, types of arguments) are the workflow loader's; they are tested
 * in test_workflow through its fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"

/* {====== helpers ====== */

/* Parses text (NUL-terminated) and expects success. */
static struct wr_srcdoc *parse_ok(const char *file, const char *text)
{
    struct wr_diags d = {0};
    struct wr_srcdoc *doc = NULL;
    bool json = wr_str_has_suffix(file, ".json");

    if (wr_srcdoc_parse(file, text, strlen(text), json, &doc, &d) != 0) {
        fail_msg("%s should parse, got: %s", file, d.count ? d.items[0] : "(no message)");
    }
    assert_non_null(doc);
    assert_int_equal(d.count, 0);
    wr_diags_clear(&d);
    return doc;
}

/* Parses len bytes and expects failure with exactly one message, want. */
static void parse_fails_n(const char *file, const char *text, size_t len, const char *want)
{
    struct wr_diags d = {0};
    struct wr_srcdoc *doc = (struct wr_srcdoc *)1;
    bool json = wr_str_has_suffix(file, ".json");

    if (wr_srcdoc_parse(file, text, len, json, &doc, &d) != -1) {
        fail_msg("%s: '%.*s' should not parse", file, (int)len, text);
    }
    assert_null(doc);
    if (d.count != 1 || strcmp(d.items[0], want) != 0) {
        fail_msg("%s: want one message\n  %s\ngot %zu:\n  %s", file, want, d.count,
                 d.count ? d.items[0] : "");
    }
    wr_diags_clear(&d);
}

static void parse_fails(const char *file, const char *text, const char *want)
{
    parse_fails_n(file, text, strlen(text), want);
}

static void expect_pos(const struct wr_srcdoc *doc, const char *path, bool at_key, int line,
                       int col)
{
    struct wr_pos p = wr_srcdoc_pos(doc, path, at_key);
    if (p.line != line || p.col != col) {
        fail_msg("%s of '%s': want %d:%d, got %d:%d", at_key ? "key" : "value", path, line, col,
                 p.line, p.col);
    }
}

/* The value at a dotted path of plain keys and [N] indexes (no quoted keys). */
static struct json_object *get(struct json_object *root, const char *path)
{
    char *copy = wr_xstrdup(path);
    struct json_object *v = root;
    for (char *tok = strtok(copy, "."); tok && v; tok = strtok(NULL, ".")) {
        char *br = strchr(tok, '[');
        if (br) {
            *br = '\0';
        }
        if (*tok && !json_object_object_get_ex(v, tok, &v)) {
            v = NULL;
        }
        for (; br && v; br = strchr(br + 1, '[')) {
            v = json_object_array_get_idx(v, (size_t)atoi(br + 1));
        }
    }
    free(copy);
    return v;
}

static void expect_owned_str(char *got, const char *want)
{
    assert_string_equal(got, want);
    free(got);
}

/* }====== */

/* {====== positions ====== */

static const char yaml_doc[] = "name: pos-test\n"                   /* 1 */
                               "trigger:\n"                         /* 2 */
                               "  webhook: {path: /x, id: \"a\"}\n" /* 3 */
                               "steps:\n"                           /* 4 */
                               "  - action: update-user\n"          /* 5 */
                               "    set:\n"                         /* 6 */
                               "      \"User Name\": |\n"           /* 7 */
                               "        line one\n"                 /* 8 */
                               "    user: 'x'   # comment\n"        /* 9 */
                               "  - wait: 30d\n";                   /* 10 */

static void test_yaml_positions(void **state)
{
    struct wr_srcdoc *doc = parse_ok("p.yaml", yaml_doc);
    (void)state;

    assert_string_equal(doc->file, "p.yaml");
    expect_pos(doc, "", false, 1, 1);
    expect_pos(doc, "name", true, 1, 1);
    expect_pos(doc, "name", false, 1, 7);
    expect_pos(doc, "trigger", true, 2, 1);
    expect_pos(doc, "trigger", false, 3, 3); /* a block mapping starts at its first key */
    expect_pos(doc, "trigger.webhook", true, 3, 3);
    expect_pos(doc, "trigger.webhook", false, 3, 12);
    expect_pos(doc, "trigger.webhook.path", true, 3, 13);
    expect_pos(doc, "trigger.webhook.path", false, 3, 19);
    expect_pos(doc, "trigger.webhook.id", true, 3, 23);
    expect_pos(doc, "trigger.webhook.id", false, 3, 27);
    expect_pos(doc, "steps", true, 4, 1);
    expect_pos(doc, "steps", false, 5, 3);
    expect_pos(doc, "steps[0]", false, 5, 5);
    expect_pos(doc, "steps[0]", true, 5, 5); /* a list item has no key: its value stands in */
    expect_pos(doc, "steps[0].action", true, 5, 5);
    expect_pos(doc, "steps[0].action", false, 5, 13);
    expect_pos(doc, "steps[0].set", true, 6, 5);
    expect_pos(doc, "steps[0].set", false, 7, 7);
    expect_pos(doc, "steps[0].set[\"User Name\"]", true, 7, 7);
    expect_pos(doc, "steps[0].set[\"User Name\"]", false, 7, 20);
    expect_pos(doc, "steps[0].user", true, 9, 5);
    expect_pos(doc, "steps[0].user", false, 9, 11);
    expect_pos(doc, "steps[1].wait", false, 10, 11);

    /* Missing keys fall back to the nearest recorded ancestor's value, even at_key. */
    expect_pos(doc, "steps[0].nope", true, 5, 5);
    expect_pos(doc, "steps[0].set[\"No Such\"]", true, 7, 7);
    expect_pos(doc, "steps[7].user", false, 5, 3);
    expect_pos(doc, "trigger.webhook.secret", true, 3, 12);
    expect_pos(doc, "nothing.at.all", false, 1, 1);

    /* The block scalar keeps its newline; the comment is gone. */
    assert_string_equal(
        json_object_get_string(json_object_object_get(get(doc->root, "steps[0].set"), "User Name")),
        "line one\n");
    assert_string_equal(json_object_get_string(get(doc->root, "steps[0].user")), "x");
    wr_srcdoc_free(doc);
}

static const char json_doc[] =
    "{\n"
    "  \"name\": \"pos-test\",\n"
    "  \"steps\": [\n"
    "    {\"action\": \"update-user\", \"set\": {\"User Name\": \"x\"}},\n"
    "    {\"wait\":\"30d\"}\n"
    "  ]\n"
    "}\n";

static void test_json_positions(void **state)
{
    struct wr_srcdoc *doc = parse_ok("p.json", json_doc);
    (void)state;

    expect_pos(doc, "", false, 1, 1);
    expect_pos(doc, "name", true, 2, 3);
    expect_pos(doc, "name", false, 2, 11);
    expect_pos(doc, "steps", true, 3, 3);
    expect_pos(doc, "steps", false, 3, 12);
    expect_pos(doc, "steps[0]", false, 4, 5);
    expect_pos(doc, "steps[0].action", true, 4, 6);
    expect_pos(doc, "steps[0].action", false, 4, 16);
    expect_pos(doc, "steps[0].set", false, 4, 38);
    expect_pos(doc, "steps[0].set[\"User Name\"]", true, 4, 39);
    expect_pos(doc, "steps[0].set[\"User Name\"]", false, 4, 52);
    expect_pos(doc, "steps[1].wait", true, 5, 6);
    expect_pos(doc, "steps[1].wait", false, 5, 13); /* no space after the colon */
    wr_srcdoc_free(doc);
}

/* Columns count characters, not bytes, so a line with umlauts points at the right place. */
static void test_utf8_columns(void **state)
{
    struct wr_srcdoc *doc = parse_ok("u.yaml", "größe: {äöü: x, k: y}\n");
    (void)state;
    /* Non-ASCII keys are quoted in paths. */
    expect_pos(doc, "[\"größe\"]", true, 1, 1);
    expect_pos(doc, "[\"größe\"]", false, 1, 8);
    expect_pos(doc, "[\"größe\"][\"äöü\"]", true, 1, 9);
    expect_pos(doc, "[\"größe\"][\"äöü\"]", false, 1, 14);
    expect_pos(doc, "[\"größe\"].k", true, 1, 17);
    wr_srcdoc_free(doc);
}

/* Odd keys get quoted paths, and fallback from their children still finds them. */
static void test_quoted_key_fallback(void **state)
{
    struct wr_srcdoc *doc =
        parse_ok("q.yaml", "row:\n  \"a]b\": {x: 1}\n  \"c[\\\"d\": {y: 2}\n  \"e.f\": 3\n");
    (void)state;
    expect_pos(doc, "row[\"a]b\"]", true, 2, 3);
    expect_pos(doc, "row[\"a]b\"].missing", true, 2, 10);
    expect_pos(doc, "row[\"c[\\\"d\"]", true, 3, 3);
    expect_pos(doc, "row[\"c[\\\"d\"].missing", true, 3, 12);
    expect_pos(doc, "row[\"e.f\"]", false, 4, 10);
    wr_srcdoc_free(doc);
}

/* }====== */

/* {====== scalars ====== */

static void test_scalar_types(void **state)
{
    struct wr_srcdoc *doc = parse_ok("s.yaml", "yes: yes\n"
                                               "no: no\n"
                                               "on: on\n"
                                               "off: off\n"
                                               "y: y\n"
                                               "hex: 0x1F\n"
                                               "oct: 0o17\n"
                                               "dec: 0777\n"
                                               "neg: -12\n"
                                               "pos: +12\n"
                                               "exp: 1e3\n"
                                               "frac: 1.5\n"
                                               "dot: .5\n"
                                               "trail: 1.\n"
                                               "quoted: \"123\"\n"
                                               "single: '123'\n"
                                               "qtrue: \"true\"\n"
                                               "qempty: \"\"\n"
                                               "tilde: ~\n"
                                               "null_word: null\n"
                                               "Null_word: Null\n"
                                               "empty:\n"
                                               "t1: true\n"
                                               "t2: True\n"
                                               "t3: TRUE\n"
                                               "mixed: tRUE\n"
                                               "f1: false\n"
                                               "inf: .inf\n"
                                               "nan: .nan\n"
                                               "under: 1_000\n"
                                               "signed_hex: -0x1F\n"
                                               "max: 9223372036854775807\n"
                                               "min: -9223372036854775808\n"
                                               "strtag: !!str 42\n"
                                               "block: |\n  123\n"
                                               "1: numeric key\n");
    struct json_object *r = doc->root;
    (void)state;

    static const char *const strings[][2] = {
        {"yes", "yes"},       {"no", "no"},
        {"on", "on"},         {"off", "off"},
        {"y", "y"},           {"quoted", "123"},
        {"single", "123"},    {"qtrue", "true"},
        {"qempty", ""},       {"mixed", "tRUE"},
        {"inf", ".inf"},      {"nan", ".nan"},
        {"under", "1_000"},   {"signed_hex", "-0x1F"},
        {"strtag", "42"},     {"block", "123\n"},
        {"1", "numeric key"},
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        struct json_object *v = json_object_object_get(r, strings[i][0]);
        if (!json_object_is_type(v, json_type_string)) {
            fail_msg("'%s' should be a string, is %s", strings[i][0], wr_json_type_name(v));
        }
        assert_string_equal(json_object_get_string(v), strings[i][1]);
    }
    static const struct {
        const char *key;
        int64_t value;
    } ints[] = {
        {"hex", 31}, {"oct", 15},        {"dec", 777},       {"neg", -12},
        {"pos", 12}, {"max", INT64_MAX}, {"min", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        struct json_object *v = json_object_object_get(r, ints[i].key);
        if (!json_object_is_type(v, json_type_int)) {
            fail_msg("'%s' should be an integer, is %s", ints[i].key, wr_json_type_name(v));
        }
        assert_true(json_object_get_int64(v) == ints[i].value);
    }
    static const struct {
        const char *key;
        double value;
    } doubles[] = {{"exp", 1000.0}, {"frac", 1.5}, {"dot", 0.5}, {"trail", 1.0}};
    for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
        struct json_object *v = json_object_object_get(r, doubles[i].key);
        if (!json_object_is_type(v, json_type_double)) {
            fail_msg("'%s' should be a number, is %s", doubles[i].key, wr_json_type_name(v));
        }
        assert_true(json_object_get_double(v) == doubles[i].value);
    }
    static const char *const nulls[] = {"tilde", "null_word", "Null_word", "empty"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(r, nulls[i], &v));
        assert_null(v);
    }
    assert_true(json_object_get_boolean(json_object_object_get(r, "t1")));
    assert_true(json_object_get_boolean(json_object_object_get(r, "t2")));
    assert_true(json_object_get_boolean(json_object_object_get(r, "t3")));
    assert_true(json_object_is_type(json_object_object_get(r, "f1"), json_type_boolean));
    assert_false(json_object_get_boolean(json_object_object_get(r, "f1")));
    wr_srcdoc_free(doc);
}

/* JSON text goes through the same builder: its literals keep their JSON types. */
static void test_json_scalar_types(void **state)
{
    struct wr_srcdoc *doc = parse_ok(
        "s.json", "{\"i\": 7, \"d\": 2.5, \"e\": 1e3, \"s\": \"7\", \"b\": false, "
                  "\"n\": null, \"yes\": \"yes\", \"a\": [], \"o\": {}, \"u\": \"\\u00e9\"}");
    struct json_object *r = doc->root;
    (void)state;
    assert_true(json_object_is_type(json_object_object_get(r, "i"), json_type_int));
    assert_true(json_object_is_type(json_object_object_get(r, "d"), json_type_double));
    assert_true(json_object_is_type(json_object_object_get(r, "e"), json_type_double));
    assert_true(json_object_is_type(json_object_object_get(r, "s"), json_type_string));
    assert_true(json_object_is_type(json_object_object_get(r, "b"), json_type_boolean));
    assert_null(json_object_object_get(r, "n"));
    assert_true(json_object_object_get_ex(r, "n", NULL));
    assert_string_equal(json_object_get_string(json_object_object_get(r, "yes")), "yes");
    assert_int_equal(json_object_array_length(json_object_object_get(r, "a")), 0);
    assert_int_equal(json_object_object_length(json_object_object_get(r, "o")), 0);
    assert_string_equal(json_object_get_string(json_object_object_get(r, "u")), "\xc3\xa9");
    wr_srcdoc_free(doc);
}

/* }====== */

/* {====== paths ====== */

static void test_path_quoting(void **state)
{
    (void)state;
    expect_owned_str(wr_path_key("steps[0]", "user"), "steps[0].user");
    expect_owned_str(wr_path_key("", "name"), "name");
    expect_owned_str(wr_path_key(NULL, "name"), "name");
    expect_owned_str(wr_path_key("a", "with-dash_and$@"), "a.with-dash_and$@");
    expect_owned_str(wr_path_key("row", "User Name"), "row[\"User Name\"]");
    expect_owned_str(wr_path_key("", "User Name"), "[\"User Name\"]");
    expect_owned_str(wr_path_key("h", "a\"b"), "h[\"a\\\"b\"]");
    expect_owned_str(wr_path_key("h", "a\\b"), "h[\"a\\\\b\"]");
    expect_owned_str(wr_path_key("h", "a.b"), "h[\"a.b\"]");
    expect_owned_str(wr_path_key("h", "tab\there"), "h[\"tab\\x09here\"]");
    expect_owned_str(wr_path_key("h", ""), "h[\"\"]");
    expect_owned_str(wr_path_key("h", "größe"), "h[\"größe\"]");
    expect_owned_str(wr_path_index("steps", 2), "steps[2]");
    expect_owned_str(wr_path_index("", 0), "[0]");
    expect_owned_str(wr_path_index(NULL, 10), "[10]");
}

static void test_type_names_and_source_names(void **state)
{
    struct json_object *v;
    (void)state;

    assert_string_equal(wr_json_type_name(NULL), "null");
    v = json_object_new_boolean(1);
    assert_string_equal(wr_json_type_name(v), "a boolean");
    json_object_put(v);
    v = json_object_new_int64(1);
    assert_string_equal(wr_json_type_name(v), "an integer");
    json_object_put(v);
    v = json_object_new_double(1.5);
    assert_string_equal(wr_json_type_name(v), "a number");
    json_object_put(v);
    v = json_object_new_string("x");
    assert_string_equal(wr_json_type_name(v), "a string");
    json_object_put(v);
    v = json_object_new_array();
    assert_string_equal(wr_json_type_name(v), "a list");
    json_object_put(v);
    v = json_object_new_object();
    assert_string_equal(wr_json_type_name(v), "a mapping");
    json_object_put(v);

    assert_true(wr_srcdoc_is_source_name("a.yaml"));
    assert_true(wr_srcdoc_is_source_name("dir/a.yml"));
    assert_true(wr_srcdoc_is_source_name("a.json"));
    assert_false(wr_srcdoc_is_source_name("a.yaml.bak"));
    assert_false(wr_srcdoc_is_source_name("a.txt"));
    assert_false(wr_srcdoc_is_source_name("yaml"));
    assert_false(wr_srcdoc_is_source_name("a.YAML.swp"));
}

/* }====== */

/* {====== rejections and limits ====== */

static void test_duplicate_key(void **state)
{
    (void)state;
    parse_fails("d.yaml", "a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n",
                "d.yaml:5:3: b.c: duplicate key (first defined at line 3)");
    parse_fails("d.yaml", "{x: 1, x: 2}\n",
                "d.yaml:1:8: x: duplicate key (first defined at line 1)");
    parse_fails("d.json", "{\n \"k y\": 1,\n \"k y\": 2\n}\n",
                "d.json:3:2: [\"k y\"]: duplicate key (first defined at line 2)");
}

static void test_syntax_rejections(void **state)
{
    (void)state;
    parse_fails("e.yaml", "", "e.yaml:1:1: file is empty");
    parse_fails("e.yaml", "# only a comment\n", "e.yaml:1:1: file is empty");
    parse_fails("e.json", "", "e.json:1:1: file is empty");
    parse_fails("e.json", "  \n", "e.json:1:1: file is empty");
    parse_fails_n("n.yaml", "a: b\nc: d\0e\n", 11,
                  "n.yaml:2:5: file contains a NUL byte (not a text file?)");
    parse_fails("t.yaml", "a: 1\n---\nb: 2\n",
                "t.yaml:2:1: a file holds exactly one document; found a second one");
    parse_fails("x.yaml", "*anchor\n", "x.yaml:1:1: YAML aliases (*anchor) are not supported");
    parse_fails("x.yaml", "!!int 5\n", "x.yaml:1:1: YAML tags are not supported (only !!str)");
    parse_fails("x.yaml", "!!omap []\n", "x.yaml:1:1: YAML tags are not supported");
    wr_srcdoc_free(parse_ok("x.yaml", "!!map {a: !!seq [!!str 1]}\n")); /* the core tags are fine */
    parse_fails("x.yaml", "? [a]\n: b\n",
                "x.yaml:1:3: a mapping key must be a plain string, not a list");
    parse_fails(
        "x.yaml", "99999999999999999999\n",
        "x.yaml:1:1: integer out of range: 99999999999999999999 needs more than 64 bits (as "
        "a string it is kept exactly)");
    parse_fails("x.json", "{\"a\": 1", "x.json:1:8: JSON syntax error: unexpected end of file");
}

/* A nest of n flow lists, in YAML or JSON (the same text). */
static char *nest(size_t n)
{
    struct wr_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        wr_buf_addc(&b, '[');
    }
    for (size_t i = 0; i < n; i++) {
        wr_buf_addc(&b, ']');
    }
    return wr_buf_take(&b);
}

static void test_max_depth(void **state)
{
    char *ok = nest(WR_SRCDOC_MAX_DEPTH);
    char *deep = nest(WR_SRCDOC_MAX_DEPTH + 1);
    char *msg = wr_xasprintf("d.yaml:1:%d: nesting is deeper than %d levels",
                             WR_SRCDOC_MAX_DEPTH + 1, WR_SRCDOC_MAX_DEPTH);
    (void)state;

    wr_srcdoc_free(parse_ok("d.yaml", ok));
    wr_srcdoc_free(parse_ok("d.json", ok));
    parse_fails("d.yaml", deep, msg);
    /* JSON has the same limit. */
    struct wr_diags d = {0};
    struct wr_srcdoc *doc = NULL;
    assert_int_equal(wr_srcdoc_parse("d.json", deep, strlen(deep), true, &doc, &d), -1);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0], "nesting is deeper than 64 levels"));
    wr_diags_clear(&d);
    free(ok);
    free(deep);
    free(msg);
}

/*
 * Hostile depth: 10,000 levels (flow lists, flow and block mappings, JSON objects) stop at the
 * limit with the position of the first level too many, and nothing on the way recurses that
 * deep (a stack overflow would crash the test, not fail it).
 */
static void test_hostile_depth(void **state)
{
    char *lists = nest(10000);
    struct wr_buf maps = {0}, json = {0}, block = {0};
    char *want = wr_xasprintf("d.yaml:1:%d: nesting is deeper than %d levels",
                              WR_SRCDOC_MAX_DEPTH + 1, WR_SRCDOC_MAX_DEPTH);
    (void)state;

    parse_fails("d.yaml", lists, want);
    for (int i = 0; i < 10000; i++) {
        wr_buf_add(&maps, "{a: ");
        wr_buf_add(&json, "{\"a\": ");
    }
    wr_buf_addc(&maps, '1');
    wr_buf_addc(&json, '1');
    for (int i = 0; i < 10000; i++) {
        wr_buf_addc(&maps, '}');
        wr_buf_addc(&json, '}');
    }
    free(want);
    want = wr_xasprintf("d.yaml:1:%d: nesting is deeper than %d levels",
                        4 * WR_SRCDOC_MAX_DEPTH + 1, WR_SRCDOC_MAX_DEPTH);
    parse_fails("d.yaml", wr_buf_str(&maps), want);
    struct wr_diags d = {0};
    struct wr_srcdoc *doc = NULL;
    assert_int_equal(wr_srcdoc_parse("d.json", json.data, json.len, true, &doc, &d), -1);
    assert_null(doc);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0], "nesting is deeper than 64 levels"));
    wr_diags_clear(&d);
    /* Block style: each level indents two more spaces; level 65 is on line 65. */
    for (int i = 0; i < 200; i++) {
        wr_buf_addf(&block, "%*sa:\n", 2 * i, "");
    }
    wr_buf_addf(&block, "%*s1\n", 400, "");
    free(want);
    want = wr_xasprintf("d.yaml:%d:%d: nesting is deeper than %d levels", WR_SRCDOC_MAX_DEPTH + 1,
                        2 * WR_SRCDOC_MAX_DEPTH + 1, WR_SRCDOC_MAX_DEPTH);
    parse_fails("d.yaml", wr_buf_str(&block), want);
    free(want);
    free(lists);
    wr_buf_free(&maps);
    wr_buf_free(&json);
    wr_buf_free(&block);
}

static void test_size_and_node_limits(void **state)
{
    struct wr_buf b = {0};
    (void)state;

    /* Exactly the limit is fine; one byte more is not. */
    wr_buf_add(&b, "a: 1\n#");
    while (b.len < WR_SRCDOC_MAX_BYTES - 1) {
        wr_buf_addc(&b, 'x');
    }
    wr_buf_addc(&b, '\n');
    assert_int_equal(b.len, WR_SRCDOC_MAX_BYTES);
    struct wr_srcdoc *doc = NULL;
    struct wr_diags d = {0};
    assert_int_equal(wr_srcdoc_parse("big.yaml", b.data, b.len, false, &doc, &d), 0);
    wr_srcdoc_free(doc);
    wr_buf_addc(&b, '\n');
    char *want = wr_xasprintf("big.yaml: file is larger than %d bytes", WR_SRCDOC_MAX_BYTES);
    parse_fails_n("big.yaml", b.data, b.len, want);
    free(want);
    wr_buf_free(&b);

    wr_buf_addc(&b, '[');
    for (int i = 0; i < WR_SRCDOC_MAX_NODES; i++) {
        wr_buf_add(&b, "1,");
    }
    wr_buf_add(&b, "1]");
    assert_int_equal(wr_srcdoc_parse("n.yaml", b.data, b.len, false, &doc, &d), -1);
    assert_null(doc);
    assert_int_equal(d.count, 1);
    char *more = wr_xasprintf("more than %d YAML nodes", WR_SRCDOC_MAX_NODES);
    assert_non_null(strstr(d.items[0], more));
    free(more);
    wr_diags_clear(&d);
    wr_buf_free(&b);
}

/* The buffer need not be NUL-terminated: only len bytes are read. */
static void test_unterminated_buffer(void **state)
{
    static const char text[] = "a: 1\nb: [x, y]\nGARBAGE: [";
    char *buf = wr_xmalloc(15);
    struct wr_srcdoc *doc = NULL;
    struct wr_diags d = {0};
    (void)state;

    memcpy(buf, text, 15);
    assert_int_equal(wr_srcdoc_parse("u.yaml", buf, 15, false, &doc, &d), 0);
    assert_int_equal(json_object_array_length(json_object_object_get(doc->root, "b")), 2);
    wr_srcdoc_free(doc);
    memcpy(buf, "{\"a\": [1, 2]}x", 14);
    assert_int_equal(wr_srcdoc_parse("u.json", buf, 13, true, &doc, &d), 0);
    wr_srcdoc_free(doc);
    free(buf);
    assert_int_equal(d.count, 0);
}

static void test_load_errors(void **state)
{
    struct wr_srcdoc *doc = NULL;
    struct wr_diags d = {0};
    (void)state;

    assert_int_equal(wr_srcdoc_load("/nonexistent/weir.yaml", &doc, &d), -1);
    assert_null(doc);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0],
                        "/nonexistent/weir.yaml: cannot read: No such file or directory");
    wr_diags_clear(&d);
    assert_int_equal(wr_srcdoc_load("/", &doc, &d), -1);
    assert_int_equal(d.count, 1);
    wr_diags_clear(&d);
    wr_srcdoc_free(NULL);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_positions),
        cmocka_unit_test(test_json_positions),
        cmocka_unit_test(test_utf8_columns),
        cmocka_unit_test(test_quoted_key_fallback),
        cmocka_unit_test(test_scalar_types),
        cmocka_unit_test(test_json_scalar_types),
        cmocka_unit_test(test_path_quoting),
        cmocka_unit_test(test_type_names_and_source_names),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_syntax_rejections),
        cmocka_unit_test(test_max_depth),
        cmocka_unit_test(test_hostile_depth),
        cmocka_unit_test(test_size_and_node_limits),
        cmocka_unit_test(test_unterminated_buffer),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
