/*
 * fuzz_template — the `{{ expr }}` syntax (engine/lua/template) on arbitrary strings, then the same
 * string compiled and rendered through the Lua host (engine/lua/lua_host), as a workflow value is
 * at run time: a whole-value template takes the expression's value, any other becomes a string.
 *
 * Each input gets a fresh sandbox (so nothing cached by an earlier input changes the outcome)
 * with a small instruction budget and memory cap, and a scope holding a typical event, vars
 * and steps. weir.log lines go nowhere.
 *
 * Invariants: split parts lie inside the string, in order, and no expression part is empty;
 * wr_template_whole's expression lies inside the string; a string with an expression part
 * passes wr_template_has; a failed compile or render writes a message.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/lua/lua_host.h"
#include "engine/lua/template.h"
#include "tests/fuzz/fuzz.h"

#define EXPR_BUDGET 20000
#define MEMORY_CAP  (8u << 20)

static const char scope_json[] =
    "{\"event\": {\"type\": \"employee.hired\", \"delivery_id\": \"d-1\", \"employee\": {\"id\": "
    "42, \"first_name\": \"Zoë\", \"last_name\": \"O'Brien\", \"work_email\": "
    "\"zoe@contoso.com\", \"start_date\": \"2026-03-02\", \"tags\": [\"a\", \"b\"], \"manager\": "
    "null, \"ratio\": 0.5, \"active\": true}},"
    " \"vars\": {\"sku\": \"SPE_E3\", \"count\": 3},"
    " \"steps\": {\"fields\": {\"output\": {\"department\": \"R&D\"}}},"
    " \"run\": {\"id\": \"r-1\", \"attempt\": 1}}";

struct split_state {
    const char *s;
    size_t len;
    const char *last; /* end of the previous part */
    bool has_expr;
};

static void discard_log(void *arg, const char *level, const char *msg)
{
    (void)arg;
    (void)level;
    (void)msg;
}

static int on_part(void *arg, bool is_expr, const char *text, size_t len)
{
    struct split_state *st = arg;

    if (text < st->last || text + len > st->s + st->len || (is_expr && len == 0)) {
        wr_fuzz_fail("wr_template_split: a part outside the string, out of order or empty");
    }
    st->last = text + len;
    st->has_expr |= is_expr;
    return 0;
}

static void check_syntax(const char *s)
{
    struct split_state st = {.s = s, .len = strlen(s), .last = s};
    const char *expr = NULL;
    size_t elen = 0;
    char err[WR_ERR_MAX];

    if (wr_template_whole(s, &expr, &elen) && (expr < s || expr + elen > s + st.len)) {
        wr_fuzz_fail("wr_template_whole: the expression lies outside the string");
    }
    err[0] = '\0';
    if (wr_template_split(s, on_part, &st, err, sizeof(err)) == 0) {
        if (st.has_expr && !wr_template_has(s)) {
            wr_fuzz_fail("wr_template_has: false for a string with an expression");
        }
    } else if (err[0] == '\0') {
        wr_fuzz_fail("wr_template_split: a failure without a message");
    }
}

static void render(const char *s)
{
    static const struct wr_lua_limits limits = {
        .expr_instructions = EXPR_BUDGET,
        .hook_instructions = EXPR_BUDGET,
        .memory = MEMORY_CAP,
    };
    struct wr_lua *lua = wr_lua_new(&limits, NULL);
    struct json_object *scope_vals = json_tokener_parse(scope_json);
    struct json_object *value = json_object_new_string(s), *out = NULL;
    char err[WR_ERR_MAX];
    int scope;

    if (lua == NULL || scope_vals == NULL || value == NULL) {
        wr_fuzz_fail("cannot set up the Lua sandbox or the scope");
    }
    wr_lua_set_log(lua, discard_log, NULL);
    scope = wr_lua_scope_new(lua);
    json_object_object_foreach(scope_vals, name, v)
    {
        if (wr_lua_scope_set(lua, scope, name, v) != 0) {
            wr_fuzz_fail("wr_lua_scope_set: cannot set a plain scope");
        }
    }
    err[0] = '\0';
    if (wr_lua_compile_string(lua, s, err, sizeof(err)) == 0) {
        err[0] = '\0';
        if (wr_lua_render(lua, scope, value, &out, err, sizeof(err)) != 0 && err[0] == '\0') {
            wr_fuzz_fail("wr_lua_render: a failure without a message");
        }
    } else if (err[0] == '\0') {
        wr_fuzz_fail("wr_lua_compile_string: a failure without a message");
    }
    json_object_put(out);
    json_object_put(value);
    json_object_put(scope_vals);
    wr_lua_scope_free(lua, scope);
    wr_lua_free(lua);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = wr_fuzz_strndup(data, size);

    check_syntax(s);
    render(s);
    free(s);
    return 0;
}
