/*
 * test_lua_host — the Lua sandbox: forbidden capabilities, instruction and memory limits,
 * json-c <-> Lua conversion round trips, expressions, templates and mapping hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>

#include "engine/lua/lua_host.h"
#include "engine/base/strutil.h"

/* {====== helpers ====== */

static struct wr_lua *new_lua(void)
{
    struct wr_lua_limits lim = {
        .expr_instructions = 200000, .hook_instructions = 2000000, .memory = 16u << 20};
    struct wr_lua *lua = wr_lua_new(&lim, NULL);
    assert_non_null(lua);
    return lua;
}

/* Evaluates expr in an empty scope; returns rc, fills err and the JSON text of the value. */
static int eval(struct wr_lua *lua, const char *expr, char *err, size_t errlen, char *json,
                size_t jsonlen)
{
    struct json_object *out = NULL;
    int scope = wr_lua_scope_new(lua);
    err[0] = '\0';
    int rc = wr_lua_eval(lua, scope, expr, strlen(expr), &out, err, errlen);
    if (json) {
        snprintf(json, jsonlen, "%s",
                 rc == 0 ? json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE)
                         : "");
    }
    json_object_put(out);
    wr_lua_scope_free(lua, scope);
    return rc;
}

static void want_value(struct wr_lua *lua, const char *expr, const char *want)
{
    char err[WR_ERR_MAX], json[4096];
    int rc = eval(lua, expr, err, sizeof(err), json, sizeof(json));
    if (rc != 0) {
        fail_msg("'%s' failed: %s", expr, err);
    }
    if (strcmp(json, want) != 0) {
        fail_msg("'%s' gave %s, want %s", expr, json, want);
    }
}

static void want_error(struct wr_lua *lua, const char *expr, const char *fragment)
{
    char err[WR_ERR_MAX], json[4096];
    int rc = eval(lua, expr, err, sizeof(err), json, sizeof(json));
    if (rc == 0) {
        fail_msg("'%s' should fail, gave %s", expr, json);
    }
    if (!strstr(err, fragment)) {
        fail_msg("'%s' error '%s' lacks '%s'", expr, err, fragment);
    }
}

static char *write_script(const char *body)
{
    char tmpl[] = "/tmp/weir-hook-XXXXXX.lua";
    int fd = mkstemps(tmpl, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    return wr_xstrdup(tmpl);
}

/* }====== */

/* {====== sandbox ====== */

static void test_forbidden_globals(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    static const char *const absent[] = {
        "io",        "require",  "package",     "load",       "loadstring",
        "dofile",    "loadfile", "debug",       "print",      "collectgarbage",
        "rawset",    "rawget",   "_G",          "os.execute", "os.getenv",
        "os.remove", "os.exit",  "string.dump", "coroutine",  "xpcall",
    };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        char expr[128];
        snprintf(expr, sizeof(expr), "%s == nil", absent[i]);
        want_value(lua, expr, "true");
    }
    static const char *const present[] = {
        "pairs",         "ipairs",       "type",         "tostring",  "tonumber", "select",
        "error",         "pcall",        "assert",       "next",      "rawequal", "rawlen",
        "string.format", "table.concat", "math.floor",   "utf8.char", "os.time",  "os.date",
        "os.clock",      "setmetatable", "getmetatable", "weir.log",
    };
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++) {
        char expr[128];
        snprintf(expr, sizeof(expr), "type(%s) == 'function'", present[i]);
        want_value(lua, expr, "true");
    }
    wr_lua_free(lua);
}

static void test_forbidden_calls(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    want_error(lua, "io.open('/etc/passwd')", "io");
    want_error(lua, "os.execute('true')", "execute");
    want_error(lua, "require('os')", "require");
    want_error(lua, "load('return 1')()", "load");
    want_error(lua, "string.dump(function() end)", "dump");
    want_error(lua, "(''):dump()", "dump");
    want_error(lua, "debug.getinfo(1)", "debug");
    want_error(lua, "collectgarbage('count')", "collectgarbage");
    /* The string metatable trick leads nowhere: getmetatable works on tables only. */
    want_value(lua, "getmetatable('') == nil", "true");
    want_error(lua, "getmetatable('').__index.rep", "index");
    /* Libraries cannot be changed, not even for later evaluations of the same workflow. */
    want_error(lua, "(function() string.upper = nil end)()", "read-only");
    want_value(lua, "string.upper('x')", "\"X\"");
    want_value(lua, "('x'):upper()", "\"X\"");
    /* No finalizers: they would run outside the budget. */
    want_error(lua, "setmetatable({}, {__gc = function() end})", "__gc");
    /* Scopes do not accept globals. */
    want_error(lua, "(function() x = 1 end)()", "read-only");
    /* No bytecode, ever: a binary chunk is refused as text. */
    want_error(lua, "\x1bLua", "");
    wr_lua_free(lua);
}

static void test_budget(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    want_error(lua, "(function() while true do end end)()", "instruction budget");
    /* pcall inside the script cannot swallow the limit. */
    want_error(lua,
               "(function() for i = 1, 100 do pcall(function() while true do end end) end "
               "return 'escaped' end)()",
               "instruction budget");
    want_error(lua,
               "(function() local ok repeat ok = pcall(function() while true do end end) "
               "until false end)()",
               "instruction budget");
    /* The state still works afterwards. */
    want_value(lua, "1 + 1", "2");
    wr_lua_free(lua);
}

static void test_memory(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    want_error(lua, "string.rep('x', 1e9)", "memory limit");
    want_error(lua, "(function() local t = {} for i = 1, 1e8 do t[i] = {i, i, i} end end)()", "");
    want_error(lua,
               "(function() local t = {} for i = 1, 1e8 do t[i] = string.rep('y', 1000) .. i "
               "end end)()",
               "");
    want_error(lua, "(function() for i = 1, 10 do pcall(string.rep, 'x', 1e9) end return 1 end)()",
               "memory limit");
    want_value(lua, "string.rep('ab', 3)", "\"ababab\"");
    wr_lua_free(lua);
}

/* }====== */

/* {====== conversion ====== */

static void roundtrip(struct wr_lua *lua, const char *json)
{
    struct json_object *in = json_tokener_parse(json), *out = NULL;
    char err[WR_ERR_MAX];
    lua_State *L = wr_lua_state(lua);
    wr_lua_push_json(L, in);
    assert_int_equal(wr_lua_to_json(L, -1, &out, err, sizeof(err)), 0);
    lua_pop(L, 1);
    if (!json_object_equal(in, out)) {
        fail_msg("round trip of %s gave %s", json, json_object_to_json_string(out));
    }
    /* Types survive: integers stay integers, doubles stay doubles, [] stays an array. */
    assert_int_equal(json_object_get_type(in), json_object_get_type(out));
    json_object_put(in);
    json_object_put(out);
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    roundtrip(lua, "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":\"x\"}");
    roundtrip(lua, "[]");
    roundtrip(lua, "{}");
    roundtrip(lua, "{\"empty_list\":[],\"empty_obj\":{}}");
    roundtrip(lua, "[null,null]");
    roundtrip(lua, "{\"n\":null}");
    roundtrip(lua, "{\"big\":9007199254740993,\"neg\":-9223372036854775808}");
    roundtrip(lua, "{\"f\":1.5,\"g\":-0.25,\"h\":1e300}");
    roundtrip(lua, "{\"s\":\"Jos\\u00e9 N\\u00fa\\u00f1ez \\u65e5\\u672c \\ud83d\\ude00\"}");
    roundtrip(lua, "[true,false,0,\"\"]");
    roundtrip(lua, "[[[[[[[[[[1]]]]]]]]]]");
    wr_lua_free(lua);
}

static void test_to_json_errors(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    want_error(lua, "{ f = function() end }", "f: cannot convert a function");
    want_error(lua, "{ 1, 2, x = 3 }", "mixes list items");
    want_error(lua, "{ [1.5] = 1 }", "");
    want_error(lua, "0/0", "NaN");
    want_error(lua, "1/0", "infinity");
    want_error(lua, "(function() local t = {} t.self = t return t end)()", "nesting");
    want_value(lua, "{ 'a', 'b' }", "[\"a\",\"b\"]");
    want_value(lua, "{}", "{}");
    want_value(lua, "weir.array()", "[]");
    want_value(lua, "weir.null", "null");
    want_value(lua, "nil", "null");
    want_value(lua, "{ a = { 1, { b = weir.null } } }", "{\"a\":[1,{\"b\":null}]}");
    want_value(lua, "3", "3");
    want_value(lua, "3.0", "3.0");
    want_value(lua, "math.maxinteger", "9223372036854775807");
    wr_lua_free(lua);
}

/* }====== */

/* {====== scopes, templates ====== */

/* Evaluates expr with `event` set to the JSON text ev; checks the JSON of the value. */
static void want_view(struct wr_lua *lua, const char *ev, const char *expr, const char *want)
{
    struct json_object *event = json_tokener_parse(ev), *out = NULL;
    char err[WR_ERR_MAX];
    int scope = wr_lua_scope_new(lua);
    assert_int_equal(wr_lua_scope_set(lua, scope, "event", event), 0);
    int rc = wr_lua_eval(lua, scope, expr, strlen(expr), &out, err, sizeof(err));
    bool fails = want[0] == '!'; /* "!fragment": an error containing fragment */
    if (!fails && rc != 0) {
        fail_msg("'%s' failed: %s", expr, err);
    }
    if (fails && rc == 0) {
        fail_msg("'%s' should fail", expr);
    }
    if (!fails) {
        const char *got = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
        if (strcmp(got, want) != 0) {
            fail_msg("'%s' gave %s, want %s", expr, got, want);
        }
    } else if (!strstr(err, want + 1)) {
        fail_msg("'%s': error '%s' lacks '%s'", expr, err, want + 1);
    }
    json_object_put(out);
    wr_lua_scope_free(lua, scope);
    /* The scope gave back its references: the event is the caller's alone again. */
    json_object_put(event);
}

/* Scope values are views converted on first read; they behave as the plain tables would. */
static void test_views(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    const char *ev = "{\"b\":2,\"a\":{\"y\":[3,1,2],\"x\":null},\"tags\":[\"p\",\"q\"]}";
    want_view(lua, ev, "event.a.y[2]", "1");
    want_view(lua, ev, "#event.a.y", "3");
    want_view(lua, ev, "#event", "0");
    want_view(lua, ev, "rawlen(event.tags)", "2");
    want_view(lua, ev, "table.concat(event.tags, ',')", "\"p,q\"");
    want_view(lua, ev,
              "(function() local n = 0 for _, v in ipairs(event.a.y) do n = n + v end "
              "return n end)()",
              "6");
    /* pairs and next see every member, also those not read yet */
    want_view(lua, ev,
              "(function() local ks = {} for k in pairs(event) do ks[#ks + 1] = k end "
              "table.sort(ks) return table.concat(ks, ' ') end)()",
              "\"a b tags\"");
    want_view(lua, ev, "next(event.a) ~= nil", "true");
    want_view(lua, ev, "event.a.x == weir.null", "true");
    want_view(lua, ev, "event.missing", "null");
    want_view(lua, ev, "type(event.a)", "\"table\"");
    want_view(lua, ev, "getmetatable(event) == nil", "true");
    want_view(lua, ev, "getmetatable(event.tags)", "\"array\"");
    /* a view returned whole comes out as JSON with sorted keys, arrays kept */
    want_view(lua, ev, "event",
              "{\"a\":{\"x\":null,\"y\":[3,1,2]},\"b\":2,\"tags\":[\"p\",\"q\"]}");
    want_view(lua, ev, "{ t = event.tags, n = #event.tags }", "{\"n\":2,\"t\":[\"p\",\"q\"]}");
    /* read-only: a script copies what it wants to change */
    want_view(lua, ev, "(function() event.b = 3 end)()", "!read-only");
    want_view(lua, ev, "(function() table.insert(event.tags, 'r') end)()", "!read-only");
    want_view(lua, ev, "(function() setmetatable(event, nil) end)()", "!protected metatable");
    wr_lua_free(lua);
}

static void test_scope_and_when(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    struct json_object *event =
        json_tokener_parse("{\"type\":\"employee.hired\",\"employee\":{\"department\":\"IT\","
                           "\"tags\":[],\"manager\":null}}");
    struct json_object *vars = json_tokener_parse("{\"sku\":\"SPE_E3\"}");
    int scope = wr_lua_scope_new(lua);
    wr_lua_scope_set(lua, scope, "event", event);
    wr_lua_scope_set(lua, scope, "vars", vars);
    char err[WR_ERR_MAX];
    bool b = false;
    assert_int_equal(
        wr_lua_eval_bool(lua, scope, "event.type == 'employee.hired'", &b, err, sizeof(err)), 0);
    assert_true(b);
    assert_int_equal(
        wr_lua_eval_bool(lua, scope, "event.employee.department == 'HR'", &b, err, sizeof(err)), 0);
    assert_false(b);
    /* null is falsy in conditions, like nil */
    assert_int_equal(wr_lua_eval_bool(lua, scope, "event.employee.manager", &b, err, sizeof(err)),
                     0);
    assert_false(b);
    assert_int_equal(
        wr_lua_eval_bool(lua, scope, "event.employee.manager == weir.null", &b, err, sizeof(err)),
        0);
    assert_true(b);
    /* A runtime error names the expression. */
    assert_int_equal(wr_lua_eval_bool(lua, scope, "event.nothing.here == 1", &b, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "'event.nothing.here == 1'"));
    assert_non_null(strstr(err, "nothing"));

    /* Templates: whole-value keeps the type, interpolation makes strings. */
    struct json_object *tmpl = json_tokener_parse(
        "{\"sku\":\"{{ vars.sku }}\",\"tags\":\"{{ event.employee.tags }}\","
        "\"greeting\":\"dept {{ event.employee.department }} / {{ 40 + 2 }} / {{ 1.5 }} / "
        "{{ true }}\",\"plain\":\"no template\",\"n\":7,\"list\":[\"{{ 1 }}\",\"x\"],"
        "\"emp\":\"{{ event.employee }}\"}");
    struct json_object *out = NULL;
    assert_int_equal(wr_lua_render(lua, scope, tmpl, &out, err, sizeof(err)), 0);
    assert_string_equal(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE),
                        "{\"sku\":\"SPE_E3\",\"tags\":[],\"greeting\":\"dept IT / 42 / 1.5 / "
                        "true\",\"plain\":\"no template\",\"n\":7,\"list\":[1,\"x\"],\"emp\":{"
                        "\"department\":\"IT\",\"manager\":null,\"tags\":[]}}");
    json_object_put(out);
    json_object_put(tmpl);

    /* nil in an interpolation is an error naming the expression */
    tmpl = json_object_new_string("hello {{ event.employee.nickname }}!");
    assert_int_equal(wr_lua_render(lua, scope, tmpl, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'{{ event.employee.nickname }}' is nil"));
    json_object_put(tmpl);
    /* a table in an interpolation too */
    tmpl = json_object_new_string("x {{ event.employee }}");
    assert_int_equal(wr_lua_render(lua, scope, tmpl, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is a table"));
    json_object_put(tmpl);
    /* compile errors are found before any evaluation */
    tmpl = json_tokener_parse("{\"a\":[\"{{ event. }}\"]}");
    assert_int_equal(wr_lua_compile_templates(lua, tmpl, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "event."));
    json_object_put(tmpl);

    wr_lua_scope_free(lua, scope);
    json_object_put(event);
    json_object_put(vars);
    wr_lua_free(lua);
}

static void test_env_and_compile_errors(void **state)
{
    (void)state;
    static const char *const allow[] = {"WEIR_TEST_ALLOWED", "WEIR_TEST_UNSET", NULL};
    setenv("WEIR_TEST_ALLOWED", "https://alerts.example/hook", 1);
    setenv("WEIR_TEST_SECRET", "hunter2", 1);
    unsetenv("WEIR_TEST_UNSET");
    struct wr_lua *lua = wr_lua_new(NULL, allow);
    want_value(lua, "env.WEIR_TEST_ALLOWED", "\"https://alerts.example/hook\"");
    want_value(lua, "env.WEIR_TEST_UNSET", "null");
    want_error(lua, "env.WEIR_TEST_SECRET", "not listed in weir.yaml lua.env_allow");
    want_error(lua, "(function() env.X = 1 end)()", "read-only");

    char err[WR_ERR_MAX];
    assert_int_equal(wr_lua_compile(lua, "event ==", 8, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unexpected symbol"));
    assert_int_equal(wr_lua_compile(lua, "event.x == 1", 12, err, sizeof(err)), 0);
    /* a comment at the end does not swallow the wrapper */
    assert_int_equal(wr_lua_compile(lua, "1 -- one", 8, err, sizeof(err)), 0);
    assert_int_equal(wr_lua_compile_string(lua, "a {{ 1 + }} b", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "in '{{ 1 + }}'"));
    wr_lua_free(lua);
    unsetenv("WEIR_TEST_ALLOWED");
    unsetenv("WEIR_TEST_SECRET");
}

/* }====== */

/* {====== hooks ====== */

struct log_capture {
    char lines[1024];
};

static void capture(void *arg, const char *level, const char *msg)
{
    struct log_capture *c = arg;
    size_t n = strlen(c->lines);
    snprintf(c->lines + n, sizeof(c->lines) - n, "%s:%s;", level, msg);
}

static void test_hooks(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    struct log_capture cap = {{0}};
    wr_lua_set_log(lua, capture, &cap);
    char err[WR_ERR_MAX];
    char *path = write_script("local prefix = 'Mr. '\n"
                              "function map(event, ctx)\n"
                              "  weir.log('info', 'mapping ' .. event.name)\n"
                              "  event.name = 'changed'  -- arguments are the hook's own copy\n"
                              "  return { displayName = prefix .. event.first, id = ctx.n,\n"
                              "           phones = weir.array() }\n"
                              "end\n"
                              "function other(event) return event.name end\n"
                              "function broken(event)\n"
                              "  local x = nil\n"
                              "  return x.field\n"
                              "end\n"
                              "function leak(event) newglobal = 1 end\n"
                              "function spin() while true do end end\n");
    int h = wr_lua_load_hook(lua, path, "map", err, sizeof(err));
    assert_true(h >= 0);
    assert_int_equal(wr_lua_load_hook(lua, path, "map", err, sizeof(err)), h);
    struct json_object *event = json_tokener_parse("{\"name\":\"n\",\"first\":\"Bob\"}");
    struct json_object *ctx = json_tokener_parse("{\"n\":5}");
    struct json_object *out = NULL;
    char *trace = NULL;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(wr_lua_call_hook(lua, h, event, ctx, &out, err, sizeof(err), &trace), 0);
        assert_string_equal(
            json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
            "{\"displayName\":\"Mr. Bob\",\"id\":5,\"phones\":[]}" /* keys sorted */);
        json_object_put(out);
    }
    assert_string_equal(json_object_get_string(json_object_object_get(event, "name")), "n");
    assert_string_equal(cap.lines, "info:mapping n;info:mapping n;");

    int hb = wr_lua_load_hook(lua, path, "broken", err, sizeof(err));
    assert_true(hb >= 0 && hb != h);
    assert_int_equal(wr_lua_call_hook(lua, hb, event, ctx, &out, err, sizeof(err), &trace), -1);
    char want[256];
    snprintf(want, sizeof(want), "%s:11:", path);
    if (!strstr(err, want)) {
        fail_msg("error '%s' lacks '%s'", err, want);
    }
    assert_non_null(trace);
    assert_non_null(strstr(trace, "stack traceback"));
    assert_non_null(strstr(trace, "in function"));
    free(trace);

    int hl = wr_lua_load_hook(lua, path, "leak", err, sizeof(err));
    assert_int_equal(wr_lua_call_hook(lua, hl, event, ctx, &out, err, sizeof(err), NULL), -1);
    assert_non_null(strstr(err, "undeclared global 'newglobal'"));

    int hs = wr_lua_load_hook(lua, path, "spin", err, sizeof(err));
    assert_int_equal(wr_lua_call_hook(lua, hs, event, ctx, &out, err, sizeof(err), NULL), -1);
    assert_non_null(strstr(err, "instruction budget"));
    snprintf(want, sizeof(want), "%s:14", path);
    assert_non_null(strstr(err, want));
    /* and the good hook still works */
    assert_int_equal(wr_lua_call_hook(lua, h, event, ctx, &out, err, sizeof(err), NULL), 0);
    json_object_put(out);

    assert_int_equal(wr_lua_load_hook(lua, path, "nothere", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "defines no function 'nothere'"));

    unlink(path);
    free(path);
    path = write_script("function map(e) return { \n");
    assert_int_equal(wr_lua_load_hook(lua, path, "map", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:2:", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    free(path);
    path = write_script("while true do end\n");
    assert_int_equal(wr_lua_load_hook(lua, path, "map", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "instruction budget"));
    unlink(path);
    free(path);

    json_object_put(event);
    json_object_put(ctx);
    wr_lua_free(lua);
}

/* The same escapes tried from inside a mapping hook, each as its own function. */
static void test_hook_sandbox(void **state)
{
    (void)state;
    static const struct {
        const char *fn;
        const char *fragment;
    } cases[] = {
        {"io_open", "io"},
        {"os_execute", "execute"},
        {"req", "require"},
        {"ld", "load"},
        {"dump", "dump"},
        {"dbg", "debug"},
        {"strmeta", "index"},
        {"gc", "collectgarbage"},
        {"spin", "instruction budget"},
        {"pspin", "instruction budget"},
        {"rep", "memory limit"},
        {"bomb", "memory limit"},
        {"fin", "__gc"},
    };
    char *path = write_script(
        "function io_open() return io.open('/etc/passwd') end\n"
        "function os_execute() return os.execute('id') end\n"
        "function req() return require('os') end\n"
        "function ld() return load('return 1')() end\n"
        "function dump() return string.dump(map) end\n"
        "function dbg() return debug.getinfo(1) end\n"
        "function strmeta() return getmetatable('').__index.dump end\n"
        "function gc() return collectgarbage('count') end\n"
        "function spin() while true do end end\n"
        "function pspin() for i = 1, 1e9 do pcall(function() while true do end end) end end\n"
        "function rep() return string.rep('x', 1e9) end\n"
        "function bomb() local t = {} for i = 1, 1e9 do t[i] = { i } end end\n"
        "function fin() return setmetatable({}, { __gc = function() while true do end end }) "
        "end\n"
        "function map(e) return { ok = true } end\n");
    struct wr_lua *lua = new_lua();
    struct json_object *event = json_object_new_object(), *out = NULL;
    char err[WR_ERR_MAX];
    int good = wr_lua_load_hook(lua, path, "map", err, sizeof(err));
    assert_true(good >= 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int h = wr_lua_load_hook(lua, path, cases[i].fn, err, sizeof(err));
        assert_true(h >= 0);
        if (wr_lua_call_hook(lua, h, event, event, &out, err, sizeof(err), NULL) == 0) {
            fail_msg("%s() escaped the sandbox", cases[i].fn);
        }
        if (!strstr(err, cases[i].fragment)) {
            fail_msg("%s(): error '%s' lacks '%s'", cases[i].fn, err, cases[i].fragment);
        }
        /* After each, the next evaluation in the same state works. */
        assert_int_equal(wr_lua_call_hook(lua, good, event, event, &out, err, sizeof(err), NULL),
                         0);
        json_object_put(out);
    }
    json_object_put(event);
    unlink(path);
    free(path);
    wr_lua_free(lua);
}

/* }====== */

/* Renders tmpl (JSON text) strictly at path; returns 0/-1 with the JSON or the message. */
static int render_args(struct wr_lua *lua, int scope, const char *tmpl_json, const char *path,
                       char *buf, size_t buflen)
{
    struct json_object *tmpl = json_tokener_parse(tmpl_json), *out = NULL;
    assert_non_null(tmpl);
    int rc = wr_lua_render_args(lua, scope, tmpl, path, &out, buf, buflen);
    if (rc == 0) {
        snprintf(buf, buflen, "%s",
                 json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    json_object_put(out);
    json_object_put(tmpl);
    return rc;
}

/*
 * Issue #13 item 4: a missing event field must not become "clear this property". A whole-value
 * template that yields nil fails the step with the argument's path and the expression;
 * weir.null (and a JSON null the sender put in the event) is null on purpose.
 */
static void test_render_args_nil(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    struct json_object *event = json_tokener_parse(
        "{\"employee\":{\"department\":\"IT\",\"job_title\":\"Eng\",\"manager\":null,"
        "\"id\":42}}");
    int scope = wr_lua_scope_new(lua);
    wr_lua_scope_set(lua, scope, "event", event);
    char buf[1024];

    /* the shipped mover example, with no office in the event */
    assert_int_equal(render_args(lua, scope,
                                 "{\"user\":\"a@b.c\",\"set\":{\"department\":\"{{ "
                                 "event.employee.department }}\",\"officeLocation\":\"{{ "
                                 "event.employee.office }}\"}}",
                                 "steps[0]", buf, sizeof(buf)),
                     -1);
    assert_string_equal(buf, "steps[0].set.officeLocation: template '{{ event.employee.office }}' "
                             "is nil; weir sends no value it was not given (write '{{ "
                             "event.employee.office or weir.null }}' to send null, e.g. to "
                             "clear a property, on purpose)");
    /* explicit: weir.null, or a null the sender wrote into the event */
    assert_int_equal(render_args(lua, scope,
                                 "{\"set\":{\"officeLocation\":\"{{ event.employee.office or "
                                 "weir.null }}\",\"manager\":\"{{ event.employee.manager }}\"}}",
                                 "steps[0]", buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "{\"set\":{\"officeLocation\":null,\"manager\":null}}");
    /* in lists too, and at the top without a path */
    assert_int_equal(render_args(lua, scope, "{\"add\":[\"X\",\"{{ event.sku }}\"]}", "on_error[1]",
                                 buf, sizeof(buf)),
                     -1);
    assert_non_null(strstr(buf, "on_error[1].add[1]: template '{{ event.sku }}' is nil"));
    assert_int_equal(render_args(lua, scope, "\"{{ event.nope }}\"", NULL, buf, sizeof(buf)), -1);
    assert_int_equal(strncmp(buf, "template '{{ event.nope }}' is nil", 34), 0);
    /* a table built in Lua has no nil values: a missing field leaves the key out (the property
       is not touched), weir.null writes null */
    assert_int_equal(render_args(lua, scope,
                                 "{\"set\":\"{{ { a = event.employee.office, b = weir.null, c = "
                                 "event.employee.job_title } }}\"}",
                                 "steps[2]", buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "{\"set\":{\"b\":null,\"c\":\"Eng\"}}");
    /* the lenient render (id:, concurrency_key) keeps nil as null for its caller to judge */
    struct json_object *t = json_object_new_string("{{ event.nope }}"), *out = NULL;
    assert_int_equal(wr_lua_render(lua, scope, t, &out, buf, sizeof(buf)), 0);
    assert_null(out);
    json_object_put(t);

    /* interpolation: nil and null are errors, never "" or "nil"; the path says where */
    assert_int_equal(render_args(lua, scope, "{\"body\":{\"text\":\"x {{ event.nope }}\"}}",
                                 "steps[1]", buf, sizeof(buf)),
                     -1);
    assert_string_equal(buf, "steps[1].body.text: '{{ event.nope }}' is nil; text around '{{ }}' "
                             "needs a value (write '{{ event.nope or \"\" }}' to leave it empty "
                             "on purpose)");
    assert_int_equal(render_args(lua, scope, "\"x {{ weir.null }}\"", NULL, buf, sizeof(buf)), -1);
    assert_non_null(strstr(buf, "'{{ weir.null }}' is null;"));
    /* a runtime error carries the path too */
    assert_int_equal(
        render_args(lua, scope, "{\"user\":\"{{ event.a.b }}\"}", "steps[3]", buf, sizeof(buf)),
        -1);
    assert_int_equal(strncmp(buf, "steps[3].user: 'event.a.b': ", 28), 0);

    wr_lua_scope_free(lua, scope);
    json_object_put(event);
    wr_lua_free(lua);
}

/*
 * Issue #13 item 6: numbers pass through Lua and templates exactly, or not at all: no float
 * rounding of an integer json-c holds as unsigned, no "%.14g" in interpolations, doubles
 * written with the fewest digits that read back the same; tostring(weir.null) says what it is.
 */
static void test_values_exact(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    struct json_object *event = json_object_new_object();
    json_object_object_add(event, "big", json_object_new_uint64(18446744073709551615ULL));
    json_object_object_add(event, "d", json_object_new_double(12345678901234567.0));
    json_object_object_add(event, "max", json_object_new_int64(INT64_MAX));
    int scope = wr_lua_scope_new(lua);
    wr_lua_scope_set(lua, scope, "event", event);
    char buf[1024];

    /* json-c's unsigned integers never become a rounded float */
    assert_int_equal(render_args(lua, scope, "\"{{ event.big }}\"", NULL, buf, sizeof(buf)), -1);
    assert_non_null(strstr(buf, "18446744073709551615 needs more than 64 bits"));
    assert_int_equal(render_args(lua, scope, "\"id-{{ event.max }}\"", NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "\"id-9223372036854775807\"");
    assert_int_equal(render_args(lua, scope, "\"id-{{ event.d }}\"", NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "\"id-12345678901234568\"");
    assert_int_equal(render_args(lua, scope,
                                 "[\"{{ 0.1 }}\",\"{{ 1/3 }}\",\"{{ 3.0 }}\",\"{{ 2^60 }}\","
                                 "\"{{ 1e300 }}\",\"{{ -0.5 }}\"]",
                                 NULL, buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "[0.1,0.3333333333333333,3.0,1.152921504606847e+18,1e+300,-0.5]");
    assert_int_equal(
        render_args(lua, scope,
                    "\"{{ 0.1 }} {{ 1/3 }} {{ 3.0 }} {{ 2^60 }} {{ 1e300 }} {{ 2^53 }}\"", NULL,
                    buf, sizeof(buf)),
        0);
    assert_string_equal(
        buf, "\"0.1 0.3333333333333333 3 1.152921504606847e+18 1e+300 9007199254740992\"");

    want_value(lua, "tostring(weir.null)", "\"weir.null\"");
    want_value(lua, "tostring(weir.null) .. '!'", "\"weir.null!\"");
    wr_lua_scope_free(lua, scope);
    json_object_put(event);
    wr_lua_free(lua);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forbidden_globals),
        cmocka_unit_test(test_forbidden_calls),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_to_json_errors),
        cmocka_unit_test(test_scope_and_when),
        cmocka_unit_test(test_render_args_nil),
        cmocka_unit_test(test_values_exact),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_env_and_compile_errors),
        cmocka_unit_test(test_hook_sandbox),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
