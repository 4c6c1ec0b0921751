/*
 * test_argspec — unit tests for engine/lang/argspec (the key-table checker), the "did you mean"
 * logic it relies on (wr_suggest, wr_edit_distance), secret references, and the template
 * syntax helpers of engine/lua/template.h.
 *
 * Each argument type is checked on its own small document, so a message can be pinned with
 * its position. The real tables (actions, triggers, the workflow itself) are exercised by the
 * fixtures of test_workflow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/lang/argspec.h"
#include "engine/lua/lua_host.h"
#include "engine/base/strutil.h"
#include "engine/lua/template.h"

/* {====== suggestions ====== */

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(wr_edit_distance("", "", 3), 0);
    assert_int_equal(wr_edit_distance("abc", "abc", 3), 0);
    assert_int_equal(wr_edit_distance("abc", "abd", 3), 1); /* substitution */
    assert_int_equal(wr_edit_distance("abc", "ab", 3), 1);  /* deletion */
    assert_int_equal(wr_edit_distance("ab", "abc", 3), 1);  /* insertion */
    assert_int_equal(wr_edit_distance("teh", "the", 3), 1); /* transposition counts once */
    assert_int_equal(wr_edit_distance("PSOT", "POST", 3), 1);
    assert_int_equal(wr_edit_distance("WebHook", "webhook", 3), 0); /* case is ignored */
    assert_int_equal(wr_edit_distance("kitten", "sitting", 5), 3);
    assert_int_equal(wr_edit_distance("", "abc", 5), 3);
    /* Past the cap the exact value does not matter, only that it is over the cap. */
    assert_int_equal(wr_edit_distance("kitten", "sitting", 2), 3);
    assert_int_equal(wr_edit_distance("a", "abcdef", 2), 3);
    assert_int_equal(wr_edit_distance("abcdef", "uvwxyz", 1), 2);
}

static void test_suggest(void **state)
{
    static const char *const actions[] = {"assign-license", "add-to-group", "set-role",
                                          "set-manager",    "update-user",  NULL};
    static const char *const keys[] = {"user", "set", "when", "retry", "continue_on_error", NULL};
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    static const char *const triggers[] = {"file", "schedule", "webhook", NULL};
    static const char *const tie[] = {"bat", "cat", NULL};
    static const char *const six[] = {"abcxyz", "abcdxy", NULL};
    (void)state;

    assert_string_equal(wr_suggest("asign-license", actions), "assign-license");
    assert_string_equal(wr_suggest("set-roles", actions), "set-role");
    assert_string_equal(wr_suggest("update_user", actions), "update-user");
    assert_string_equal(wr_suggest("usr", keys), "user");
    assert_string_equal(wr_suggest("contine_on_error", keys), "continue_on_error");
    assert_string_equal(wr_suggest("PSOT", methods), "POST");
    assert_string_equal(wr_suggest("post", methods), "POST");
    assert_string_equal(wr_suggest("webhok", triggers), "webhook");
    assert_string_equal(wr_suggest("WEBHOOK", triggers), "webhook");
    assert_string_equal(wr_suggest("at", tie), "bat"); /* ties go to the first candidate */
    /* A six-letter word tolerates two edits, not three. */
    assert_string_equal(wr_suggest("abcdef", six), "abcdxy");
    assert_null(wr_suggest("abcdef", (const char *const[]){"abcxyz", NULL}));
    /* Short words tolerate one edit only. */
    assert_null(wr_suggest("xyz", keys));
    assert_null(wr_suggest("frobnicate", actions));
    assert_null(wr_suggest("email", triggers));
    assert_null(wr_suggest("user", NULL));
    assert_null(wr_suggest("", keys));
}

static void test_secret_refs(void **state)
{
    (void)state;
    assert_true(wr_secret_ref_valid("env:HR_WEBHOOK_SECRET"));
    assert_true(wr_secret_ref_valid("env:_X"));
    assert_true(wr_secret_ref_valid("env:x1"));
    assert_true(wr_secret_ref_valid("file:/run/secrets/hr"));
    assert_true(wr_secret_ref_valid("file:relative/path"));
    assert_false(wr_secret_ref_valid("env:"));
    assert_false(wr_secret_ref_valid("env:1X"));
    assert_false(wr_secret_ref_valid("env:HR-SECRET"));
    assert_false(wr_secret_ref_valid("env:HR SECRET"));
    assert_false(wr_secret_ref_valid("file:"));
    assert_false(wr_secret_ref_valid("ENV:X"));
    assert_false(wr_secret_ref_valid("hunter2"));
    assert_false(wr_secret_ref_valid(""));
    assert_false(wr_secret_ref_valid("env"));
}

/* }====== */

/* {====== templates ====== */

static void expect_whole(const char *s, const char *want)
{
    const char *expr = NULL;
    size_t len = 0;
    if (!want) {
        if (wr_template_whole(s, &expr, &len)) {
            fail_msg("'%s' is not a whole-value template", s);
        }
        return;
    }
    if (!wr_template_whole(s, &expr, &len)) {
        fail_msg("'%s' is a whole-value template", s);
    }
    if (len != strlen(want) || strncmp(expr, want, len) != 0) {
        fail_msg("'%s': expression '%.*s', want '%s'", s, (int)len, expr, want);
    }
}

static void test_template_whole(void **state)
{
    (void)state;
    assert_true(wr_template_has("a {{ b }}"));
    assert_true(wr_template_has("{{"));
    assert_false(wr_template_has("a { b }"));
    assert_false(wr_template_has(""));

    expect_whole("{{ x }}", "x");
    expect_whole("{{x}}", "x");
    expect_whole("  {{ steps.fields.profile }}  ", "steps.fields.profile");
    expect_whole("{{ {event.a, event.b} }}", "{event.a, event.b}");
    expect_whole("{{ event.row[\"User Name\"] }}", "event.row[\"User Name\"]");
    expect_whole("{{ a }} and {{ b }}", NULL);
    expect_whole("{{ a }}{{ b }}", NULL);
    expect_whole("x {{ a }}", NULL);
    expect_whole("{{ a }} x", NULL);
    expect_whole("plain", NULL);
    expect_whole("{{ a", NULL);
    expect_whole("", NULL);
}

/* Records the parts of a split as "L<text>" / "E<expr>" separated by '|'. */
static int record_part(void *arg, bool is_expr, const char *text, size_t len)
{
    struct wr_buf *b = arg;
    wr_buf_addf(b, "%s%c%.*s", b->len ? "|" : "", is_expr ? 'E' : 'L', (int)len, text);
    return 0;
}

static void expect_split(const char *s, int want_rc, const char *want_parts, const char *want_err)
{
    struct wr_buf b = {0};
    char err[WR_ERR_MAX] = "";
    int rc = wr_template_split(s, record_part, &b, err, sizeof(err));
    if (rc != want_rc || strcmp(wr_buf_str(&b), want_parts) != 0) {
        fail_msg("split '%s': rc %d parts '%s', want rc %d parts '%s'", s, rc, wr_buf_str(&b),
                 want_rc, want_parts);
    }
    assert_string_equal(err, want_err);
    wr_buf_free(&b);
}

static int stop_at_expr(void *arg, bool is_expr, const char *text, size_t len)
{
    (void)arg;
    (void)text;
    (void)len;
    return is_expr ? 7 : 0;
}

static void test_template_split(void **state)
{
    char err[WR_ERR_MAX] = "";
    (void)state;
    expect_split("Hello {{ name }}, you are {{ age }}!", 0, "LHello |Ename|L, you are |Eage|L!",
                 "");
    expect_split("{{a}}{{  b  }}", 0, "Ea|Eb", "");
    expect_split("no templates", 0, "Lno templates", "");
    expect_split("", 0, "", "");
    expect_split("}} then {{ x }}", 0, "L}} then |Ex", "");
    /* The first "}}" closes, even inside a Lua table constructor. */
    expect_split("{{ {a = {1}} }}", 0, "E{a = {1|L }}", "");
    expect_split("a {{ b", -1, "La ", "'{{' without a closing '}}'");
    expect_split("a {{   }} b", -1, "La ", "empty expression '{{ }}'");
    assert_int_equal(wr_template_split("x {{ y }} z", stop_at_expr, NULL, err, sizeof(err)), 7);
}

/* The load-time check of templates, as the argument checker uses it. */
static void test_template_compile(void **state)
{
    struct wr_lua *lua = wr_lua_new(NULL, NULL);
    char err[WR_ERR_MAX] = "";
    (void)state;

    assert_non_null(lua);
    assert_int_equal(wr_lua_compile_string(lua, "plain text", err, sizeof(err)), 0);
    assert_int_equal(wr_lua_compile_string(lua, "{{ a.b }} and {{ c[1] }}", err, sizeof(err)), 0);
    assert_int_equal(wr_lua_compile_string(lua, "{{ a.b }} and {{ c + }}", err, sizeof(err)), -1);
    assert_true(strncmp(err, "in '{{ c + }}': ", 16) == 0);
    assert_int_equal(wr_lua_compile_string(lua, "x {{ y", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'{{' without a closing '}}'"));
    wr_lua_free(lua);
}

/* }====== */

/* {====== the table checker ====== */

static const char *const colors[] = {"red", "green", "blue", NULL};

static const struct wr_argspec inner[] = {
    {.name = "depth", .type = WR_ARG_INT, .min = 1, .max = 5, .help = "how deep"},
    {0},
};

static const struct wr_argspec spec[] = {
    {.name = "title", .type = WR_ARG_STRING, .flags = WR_ARG_REQUIRED, .help = "a title"},
    {.name = "tags", .type = WR_ARG_STRINGS},
    {.name = "opts", .type = WR_ARG_OBJECT, .fields = inner},
    {.name = "free", .type = WR_ARG_OBJECT},
    {.name = "flag", .type = WR_ARG_BOOL},
    {.name = "count", .type = WR_ARG_INT, .min = 1, .max = 10},
    {.name = "big", .type = WR_ARG_INT},
    {.name = "every", .type = WR_ARG_DURATION},
    {.name = "color", .type = WR_ARG_ENUM, .choices = colors},
    {.name = "body", .type = WR_ARG_ANY},
    {.name = "cond", .type = WR_ARG_EXPR},
    {.name = "secret", .type = WR_ARG_SECRET},
    {.name = "listen", .type = WR_ARG_LISTEN},
    {.name = "url", .type = WR_ARG_URL},
    {.name = "path", .type = WR_ARG_URLPATH},
    {.name = "fixed", .type = WR_ARG_STRING, .flags = WR_ARG_NO_TEMPLATE},
    {0},
};

/* Runs the checker over a YAML document and returns its messages joined by newlines. */
static char *check_doc(const char *yaml, const char *const *skip)
{
    struct wr_diags d = {0};
    struct wr_srcdoc *doc = NULL;
    struct wr_buf b = {0};

    if (wr_srcdoc_parse("a.yaml", yaml, strlen(yaml), false, &doc, &d) != 0) {
        fail_msg("test document does not parse: %s", d.items[0]);
    }
    struct wr_check c = {.doc = doc, .d = &d, .lua = wr_lua_new(NULL, NULL), .base_dir = "."};
    int n = wr_argspec_check(&c, spec, doc->root, "", "the thing", skip);
    assert_int_equal(n, c.errors);
    assert_int_equal((size_t)n, d.count);
    for (size_t i = 0; i < d.count; i++) {
        wr_buf_addf(&b, "%s%s", i ? "\n" : "", d.items[i]);
    }
    wr_lua_free(c.lua);
    wr_srcdoc_free(doc);
    wr_diags_clear(&d);
    return wr_buf_take(&b);
}

static void expect_messages(const char *yaml, const char *const *skip, const char *want)
{
    char *got = check_doc(yaml, skip);
    if (strcmp(got, want) != 0) {
        fail_msg("checking:\n%s\nwant:\n%s\ngot:\n%s", yaml, want, got);
    }
    free(got);
}

/*
 * One key's value on its own line (after the required title unless it is the title), and the
 * message it should give (NULL for none). The position is the value's: column len(key) + 3.
 */
static void expect_arg(const char *key, const char *value, const char *msg)
{
    bool title = strcmp(key, "title") == 0;
    char *yaml = wr_xasprintf("%s%s: %s\n", title ? "" : "title: t\n", key, value);
    char *want =
        msg ? wr_xasprintf("a.yaml:%d:%zu: %s: %s", title ? 1 : 2, strlen(key) + 3, key, msg)
            : wr_xstrdup("");
    expect_messages(yaml, NULL, want);
    free(yaml);
    free(want);
}

static void test_check_keys(void **state)
{
    static const char *const skip[] = {"action", "when", NULL};
    (void)state;

    expect_messages("title: t\n", NULL, "");
    expect_messages("{}\n", NULL, "a.yaml:1:1: the thing needs 'title' (a string)");
    expect_messages("count: 3\n", NULL, "a.yaml:1:1: the thing needs 'title' (a string)");
    /* Unknown keys are reported at the key, with the closest known name. */
    expect_messages(
        "title: t\ncolour: red\n", NULL,
        "a.yaml:2:1: colour: unknown key 'colour' in the thing (did you mean 'color'?)");
    expect_messages("title: t\nzzz: 1\n", NULL, "a.yaml:2:1: zzz: unknown key 'zzz' in the thing");
    expect_messages("titel: t\n", NULL,
                    "a.yaml:1:1: titel: unknown key 'titel' in the thing (did you mean 'title'?)\n"
                    "a.yaml:1:1: the thing needs 'title' (a string)");
    /* Keys in the skip list belong to someone else: not unknown, but offered as suggestions. */
    expect_messages("title: t\naction: x\nwhen: 1\n", skip, "");
    expect_messages("title: t\nacton: x\n", skip,
                    "a.yaml:2:1: acton: unknown key 'acton' in the thing (did you mean 'action'?)");
    /* Nested tables are checked with their own name. */
    expect_messages("title: t\nopts:\n  depth: 9\n  extra: 1\n", NULL,
                    "a.yaml:3:10: opts.depth: 9 is out of range 1-5\n"
                    "a.yaml:4:3: opts.extra: unknown key 'extra' in 'opts'");
    expect_messages("title: t\ntags: [a, 1, [b]]\n", NULL,
                    "a.yaml:2:11: tags[1]: expected a string, got an integer\n"
                    "a.yaml:2:14: tags[2]: expected a string, got a list");
    /* Not a mapping at all. */
    expect_messages("[1]\n", NULL, "a.yaml:1:1: expected a mapping, got a list");
}

static void test_check_values(void **state)
{
    (void)state;
    expect_arg("title", "5", "expected a string, got an integer");
    expect_arg("title", "~", "expected a string, got null");
    expect_arg("tags", "x", "expected a list of strings, got a string");
    expect_arg("tags", "[]", NULL);
    expect_arg("opts", "[]", "expected a mapping, got a list");
    expect_arg("free", "{any: [thing, 1]}", NULL);
    expect_arg("flag", "\"true\"", "expected true or false, got a string");
    expect_arg("flag", "yes", "expected true or false, got a string");
    expect_arg("flag", "false", NULL);
    expect_arg("count", "10", NULL);
    expect_arg("count", "11", "11 is out of range 1-10");
    expect_arg("count", "0", "0 is out of range 1-10");
    expect_arg("count", "1.5", "expected an integer, got a number");
    expect_arg("count", "\"3\"", "expected an integer, got a string");
    expect_arg("big", "-9000000000", NULL); /* no bounds */
    expect_arg("every", "15m", NULL);
    expect_arg("every", "\"15\"", "missing unit in '15' (e.g. 15s)");
    expect_arg("every", "5", "expected a duration such as 30s, 15m, 2h or 30d, got an integer");
    expect_arg("color", "green", NULL);
    expect_arg("color", "gren", "unknown value 'gren' (did you mean 'green'?)");
    expect_arg("color", "purple", "unknown value 'purple' (expected one of: red, green, blue)");
    expect_arg("secret", "env:X", NULL);
    expect_arg("secret", "file:/run/secrets/x", NULL);
    expect_arg("listen", "127.0.0.1:8080", NULL);
    expect_arg("listen", "\"[::1]:8080\"", NULL);
    expect_arg("listen", "127.0.0.1:65536",
               "'127.0.0.1:65536' is not HOST:PORT (e.g. 127.0.0.1:8080)");
    expect_arg("listen", "\":80\"", "':80' is not HOST:PORT (e.g. 127.0.0.1:8080)");
    expect_arg("listen", "localhost", "'localhost' is not HOST:PORT (e.g. 127.0.0.1:8080)");
    expect_arg("url", "https://example.com/x", NULL);
    expect_arg("url", "http://localhost:8080", NULL);
    expect_arg("url", "ftp://example.com", "'ftp://example.com' is not an http:// or https:// URL");
    expect_arg("path", "/hooks/hr", NULL);
    expect_arg("path", "hooks/hr",
               "'hooks/hr' is not a URL path (it starts with / and has no query)");
    expect_arg("path", "/hooks?x=1",
               "'/hooks?x=1' is not a URL path (it starts with / and has no query)");
    expect_arg("cond", "event.a == 1", NULL);
}

static void test_check_templates(void **state)
{
    char *got;
    (void)state;

    /* A whole-value template stands for any type; text around it always makes a string. */
    expect_arg("count", "\"{{ vars.n }}\"", NULL);
    expect_arg("flag", "\"{{ event.ok }}\"", NULL);
    expect_arg("tags", "\"{{ vars.tags }}\"", NULL);
    expect_arg("title", "\"Hello {{ event.name }}\"", NULL);
    expect_arg("url", "\"{{ env.URL }}/x\"", NULL);
    expect_arg("count", "\"n={{ vars.n }}\"",
               "expected an integer; text around '{{ }}' always makes a string");
    expect_arg("tags", "\"SPE_{{ vars.plan }}\"",
               "expected a list of strings; text around '{{ }}' always makes a string");
    /* Where templates make no sense they are refused outright. */
    expect_arg("fixed", "\"{{ x }}\"", "templates ('{{ }}') are not allowed here");
    expect_arg("secret", "\"{{ env.S }}\"", "templates ('{{ }}') are not allowed here");
    expect_arg("cond", "\"{{ event.ok }}\"", "templates ('{{ }}') are not allowed here");
    /* Syntax errors are found anywhere inside a value. */
    expect_arg("title", "\"Hello {{ }}\"", "empty expression '{{ }}'");
    got = check_doc("title: t\nbody:\n  a: [x, \"{{ y\"]\n", NULL);
    assert_string_equal(got, "a.yaml:3:10: body.a[1]: '{{' without a closing '}}'");
    free(got);
    got = check_doc("title: t\ncond: a ==\n", NULL);
    assert_true(strncmp(got, "a.yaml:2:7: cond: invalid expression 'a ==': ", 45) == 0);
    free(got);
    got = check_doc("title: t\nbody: {t: \"{{ a + }}\"}\n", NULL);
    assert_true(strncmp(got, "a.yaml:2:11: body.t: in '{{ a + }}': ", 37) == 0);
    free(got);
}

/* An inline secret is the secret itself: no message may repeat it. */
static void test_check_secret_not_echoed(void **state)
{
    static const char *const values[] = {"hunter2-VERY-secret", "\"env:HR SECRET hunter2\"",
                                         "\"file:\"", "\"hunter2 {{ x }}\""};
    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char *yaml = wr_xasprintf("title: t\nsecret: %s\n", values[i]);
        char *got = check_doc(yaml, NULL);
        assert_true(strlen(got) > 0);
        if (strstr(got, "hunter2") || (i == 2 && strstr(got, "'file:'"))) {
            fail_msg("the secret value is echoed: %s", got);
        }
        free(got);
        free(yaml);
    }
    expect_arg("secret", "12345", "expected env:NAME or file:PATH, got an integer");
}

static void test_print_table(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    (void)state;

    assert_non_null(f);
    wr_argspec_print(spec, f, 2);
    fclose(f);
    assert_non_null(strstr(text, "  title "));
    assert_non_null(strstr(text, "required"));
    assert_non_null(strstr(text, "a title"));
    assert_non_null(strstr(text, "(red, green, blue)"));
    assert_non_null(strstr(text, "\n    depth ")); /* nested tables are indented */
    assert_non_null(wr_argspec_find(spec, "color"));
    assert_null(wr_argspec_find(spec, "colour"));
    free(text);
}

/* After templates ran, each argument must still fit its type (issue #13: a user: template
   yielding 42 reached the action as "'' is not a user reference"). */
static void test_check_rendered(void **state)
{
    (void)state;
    static const char *const sizes[] = {"s", "m", NULL};
    static const struct wr_argspec rs[] = {
        {.name = "user", .type = WR_ARG_STRING, .help = "a user reference"},
        {.name = "add", .type = WR_ARG_STRINGS},
        {.name = "set", .type = WR_ARG_OBJECT},
        {.name = "size", .type = WR_ARG_ENUM, .choices = sizes},
        {.name = "n", .type = WR_ARG_INT, .min = 1, .max = 3},
        {.name = "any", .type = WR_ARG_ANY},
        {0},
    };
    static const char *const cases[][3] = {
        {"{\"user\":\"{{ e }}\"}", "{\"user\":42}",
         "steps[1].user: expected a string (a user reference), got an integer 42 from "
         "'{{ e }}'"},
        {"{\"user\":\"{{ e }}\"}", "{\"user\":null}",
         "steps[1].user: expected a string (a user reference), got null from '{{ e }}'"},
        {"{\"add\":\"{{ e }}\"}", "{\"add\":[\"a\",1]}",
         "steps[1].add: expected a list of strings, got a list from '{{ e }}'"},
        {"{\"set\":\"{{ e }}\"}", "{\"set\":\"x\"}",
         "steps[1].set: expected a mapping, got the string 'x' from '{{ e }}'"},
        {"{\"size\":\"{{ e }}\"}", "{\"size\":\"xl\"}",
         "steps[1].size: expected one of the listed values, got the string 'xl' from "
         "'{{ e }}'"},
        {"{\"n\":\"{{ e }}\"}", "{\"n\":7}",
         "steps[1].n: expected an integer from 1 to 3, got an integer 7 from '{{ e }}'"},
        {"{\"user\":\"{{ e }}\",\"any\":\"{{ e }}\",\"add\":[\"{{ e }}\"],\"n\":2}",
         "{\"user\":\"u\",\"any\":null,\"add\":[\"x\"],\"n\":2}", NULL},
        /* not a template: checked at load, not here */
        {"{\"user\":\"plain\"}", "{\"user\":1}", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *raw = json_tokener_parse(cases[i][0]);
        struct json_object *out = json_tokener_parse(cases[i][1]);
        char err[WR_ERR_MAX] = "";
        int rc = wr_argspec_check_rendered(rs, raw, out, "steps[1]", err, sizeof(err));
        if (cases[i][2] ? rc != -1 || strcmp(err, cases[i][2]) != 0 : rc != 0) {
            fail_msg("case %zu: want %s, got %d %s", i, cases[i][2] ? cases[i][2] : "ok", rc, err);
        }
        json_object_put(raw);
        json_object_put(out);
    }
}

/* WR_ARG_NULL_OK: a literal null passes the load check (and only there: a template that gives
   null is still refused after rendering); without the flag null is refused. */
static void test_null_ok(void **state)
{
    (void)state;
    static const struct wr_argspec ns[] = {
        {.name = "manager", .type = WR_ARG_STRING, .flags = WR_ARG_REQUIRED | WR_ARG_NULL_OK},
        {.name = "user", .type = WR_ARG_STRING},
        {0},
    };
    static const struct {
        const char *obj;
        int errors;
    } cases[] = {
        {"{\"manager\":null}", 0},
        {"{\"manager\":\"m\"}", 0},
        {"{\"manager\":1}", 1},
        {"{\"manager\":null,\"user\":null}", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wr_diags d = {0};
        struct wr_srcdoc doc = {.file = "x.yaml"};
        struct wr_check c = {.d = &d, .doc = &doc};
        struct json_object *o = json_tokener_parse(cases[i].obj);
        wr_argspec_check(&c, ns, o, "", "set-manager", NULL);
        if (c.errors != cases[i].errors) {
            fail_msg("%s: %d errors, want %d", cases[i].obj, c.errors, cases[i].errors);
        }
        json_object_put(o);
        wr_diags_clear(&d);
    }
    struct json_object *raw = json_tokener_parse("{\"manager\":\"{{ e }}\"}");
    struct json_object *out = json_tokener_parse("{\"manager\":null}");
    char err[WR_ERR_MAX] = "";
    assert_int_equal(wr_argspec_check_rendered(ns, raw, out, "steps[0]", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "got null from '{{ e }}'"));
    json_object_put(raw);
    json_object_put(out);
}

/* A webhook path a client would never send as written is refused at load. */
static void test_urlpath(void **state)
{
    (void)state;
    static const struct wr_argspec ps[] = {{.name = "path", .type = WR_ARG_URLPATH}, {0}};
    static const char *const ok_paths[] = {"/",     "/hooks/hr",    "/hooks/hr/", "/a%20b",
                                           "/a..b", "/.well-known", "/x/...",     NULL};
    static const char *const bad_paths[] = {
        "/hooks/../hr", "/hooks/./hr", "/hooks/..",    "//hooks", "/hooks//hr",
        "/a/%2e%2E/b",  "/a/%2E",      "/caf\xc3\xa9", "/a\\\\b", NULL};
    for (int pass = 0; pass < 2; pass++) {
        const char *const *list = pass ? bad_paths : ok_paths;
        for (size_t i = 0; list[i]; i++) {
            struct wr_diags d = {0};
            struct wr_check c = {.d = &d};
            struct json_object *o = json_object_new_object();
            json_object_object_add(o, "path", json_object_new_string(list[i]));
            struct wr_srcdoc doc = {.file = "x.yaml"};
            c.doc = &doc;
            wr_argspec_check(&c, ps, o, "", "a webhook", NULL);
            if ((c.errors != 0) != (pass == 1)) {
                fail_msg("'%s': %s", list[i], pass ? "should be refused" : d.items[0]);
            }
            json_object_put(o);
            wr_diags_clear(&d);
        }
    }
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_distance),   cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_secret_refs),     cmocka_unit_test(test_template_whole),
        cmocka_unit_test(test_template_split),  cmocka_unit_test(test_template_compile),
        cmocka_unit_test(test_check_keys),      cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_check_templates), cmocka_unit_test(test_check_secret_not_echoed),
        cmocka_unit_test(test_print_table),     cmocka_unit_test(test_check_rendered),
        cmocka_unit_test(test_urlpath),         cmocka_unit_test(test_null_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
