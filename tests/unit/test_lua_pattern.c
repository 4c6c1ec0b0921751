/*
 * test_lua_pattern — weir's string.find/match/gmatch/gsub/rep (engine/lua/lua_pattern) against
 * Lua 5.4's own, and their work bounded by the sandbox's budget (issue #13, item 7).
 *
 * Equivalence: a plain lua_State holds the real string library's functions and weir's side by
 * side; a Lua driver calls both on tens of thousands of generated (subject, pattern, start,
 * replacement) cases — malformed patterns included — and on hand-picked ones, and compares
 * every result: count, values, number subtypes, and error messages word for word.
 *
 * Bounds: in the sandbox, the patterns of the issue (a trim of 30 KB of spaces, ".-.-.-.-.-.-b"
 * on 3 KB, a 200 KB needle in 2 MB) fail with the instruction budget's error — which pcall
 * cannot swallow — instead of running for seconds or forever. No timing is asserted.
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
#include <lualib.h>

#include "engine/base/strutil.h"
#include "engine/lua/lua_host.h"
#include "engine/lua/lua_pattern.h"

/* {====== equivalence with Lua's own ====== */

/*
 * The driver: O holds Lua's functions, N weir's. Each call goes through a named field
 * (T.find(...), not a tail call), so argument errors name the function the same way for both.
 * Returns "ok N" (cases compared) or the first difference.
 */
static const char driver[] =
    "local O, N, cases, seed = ...\n"
    "local function pack(...) return {n = select('#', ...), ...} end\n"
    "local calls = {\n"
    "  find = function(T, ...) local r = pack(T.find(...)) return r end,\n"
    "  match = function(T, ...) local r = pack(T.match(...)) return r end,\n"
    "  gsub = function(T, ...) local r = pack(T.gsub(...)) return r end,\n"
    "  rep = function(T, ...) local r = pack(T.rep(...)) return r end,\n"
    "  gmatch = function(T, ...)\n"
    "    local out, k = {n = 0}, 0\n"
    "    for a, b, c in T.gmatch(...) do\n"
    "      k = k + 1; out[k] = {a, b, c}; if k > 40 then break end\n"
    "    end\n"
    "    out.n = k\n"
    "    return out\n"
    "  end,\n"
    "}\n"
    "local function show(v)\n"
    "  if type(v) == 'string' then return string.format('%q', v) end\n"
    "  if type(v) == 'number' then return math.type(v) .. ':' .. tostring(v) end\n"
    "  if type(v) == 'table' then\n"
    "    local t = {}\n"
    "    for i = 1, (v.n or #v) do t[#t + 1] = show(v[i]) end\n"
    "    return '{' .. table.concat(t, ', ') .. '}'\n"
    "  end\n"
    "  return tostring(v)\n"
    "end\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return math.type(a) == math.type(b) and a == b end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  local n = a.n or #a\n"
    "  if n ~= (b.n or #b) then return false end\n"
    "  for i = 1, math.max(n, 3) do if not same(a[i], b[i]) then return false end end\n"
    "  return true\n"
    "end\n"
    "local compared = 0\n"
    "local function check(name, ...)\n"
    "  local a = pack(pcall(calls[name], O, ...))\n"
    "  local b = pack(pcall(calls[name], N, ...))\n"
    "  compared = compared + 1\n"
    "  if not same(a, b) then\n"
    "    error(string.format('%s%s:\\n  lua:  %s\\n  weir: %s', name, show(pack(...)),\n"
    "                        show(a), show(b)), 0)\n"
    "  end\n"
    "end\n"
    /* hand-picked cases: the manual's examples and the corners of each function */
    "local fixed = {\n"
    "  {'find', 'hello world', 'o w'}, {'find', 'hello', 'l+'}, {'find', 'hello', ''},\n"
    "  {'find', 'hello', '', 10}, {'find', 'hello', '', 6}, {'find', '', ''},\n"
    "  {'find', 'a.b', '.', 1, true}, {'find', 'a+b', '+', 1, true}, {'find', 'abc', 'b', -1},\n"
    "  {'find', 'abc', 'b', -10}, {'find', 'a\\0b', '\\0'}, {'find', 'a\\0b', '%z'},\n"
    "  {'find', 'x = 1', '(%w+) = (%w+)'}, {'find', 'THE (quick) fox', '%((%a+)%)'},\n"
    "  {'find', 'abc', '()b()'}, {'find', 'abc', '^b'}, {'find', 'abc', 'c$'},\n"
    "  {'find', 'a$c', '$c'}, {'find', 'abc', '^'}, {'find', 123456, 34},\n"
    "  {'match', 'hello world', '(h)(e)(l)(l)(o)'}, {'match', '  trim  ', '^%s*(.-)%s*$'},\n"
    "  {'match', 'key=val', '(%w+)=(%w+)'}, {'match', 'f(a(b)c)d', '%b()'},\n"
    "  {'match', 'THE (quick) fox', '%f[%a]%a+'}, {'match', 'aaab', 'a-b'},\n"
    "  {'match', 'abcabc', '(abc)%1'}, {'match', 'x', '(()'}, {'match', 'x', '%'},\n"
    "  {'match', 'x', '[a'}, {'match', 'x', '%f'}, {'match', 'x', '%fa'}, {'match', 'x', '%b'},\n"
    "  {'match', 'x', '%1'}, {'match', 'x', '(x)%2'}, {'match', 'x', ')'}, {'match', 'x', '(x'},\n"
    "  {'match', 'x', '%0'}, {'match', 'x', string.rep('()', 33)},\n"
    "  {'match', string.rep('a', 300), string.rep('a?', 300)},\n"
    "  {'match', 'hello', '.-(l+)(.*)'}, {'match', 'hello', '[]]'}, {'match', ']', '[]]'},\n"
    "  {'match', '^', '[^^]'}, {'match', 'a-z', '[a%-z]+'}, {'match', 'ab', '[b-a]'},\n"
    "  {'match', 'Aa1 _', '[%u%l%d%s_]+'}, {'match', '\\0\\1', '%c+'}, {'match', 'x', nil},\n"
    "  {'match', nil, 'x'}, {'match', 'x', {}}, {'match', 'abc', 'b', 'z'},\n"
    "  {'gmatch', 'one two  three', '%a+'}, {'gmatch', 'k=v, a=b', '(%w+)=(%w+)'},\n"
    "  {'gmatch', 'abc', ''}, {'gmatch', 'abc', '()'}, {'gmatch', 'abc', '^a'},\n"
    "  {'gmatch', 'abc', 'x*'}, {'gmatch', 'abc', '.', 2}, {'gmatch', 'abc', '.', -1},\n"
    "  {'gmatch', 'abc', '.', 10}, {'gmatch', 'abc', '%'},\n"
    "  {'gsub', 'hello world', '(%w+)', '<%1>'}, {'gsub', 'hello world', 'o', '0', 1},\n"
    "  {'gsub', 'hello', '', '-'}, {'gsub', 'abc', '%w', '%0%0'}, {'gsub', 'abc', '%w', '%%'},\n"
    "  {'gsub', 'abc', '%w', '%1'}, {'gsub', 'abc', '%w', '%2'}, {'gsub', 'abc', '%w', '%'},\n"
    "  {'gsub', 'abc', '%w', '%x'}, {'gsub', 'abc', '()', '%1'}, {'gsub', 'abc', 'b', 7},\n"
    "  {'gsub', 123, '9', 'x'}, {'gsub', 123, '2', 'x'}, {'gsub', 'abc', 'b', true},\n"
    "  {'gsub', 'abc', 'b', nil}, {'gsub', 'abc', 'b', 'x', 'y'}, {'gsub', 'abc', 'b', 'x', 0},\n"
    "  {'gsub', 'abc', 'b', 'x', -1}, {'gsub', 'abc', '^a', 'x'}, {'gsub', 'abc', '^', 'x'},\n"
    "  {'gsub', 'abc', '$', 'x'}, {'gsub', 'a b', '%s*', '_'},\n"
    "  {'rep', 'ab', 3}, {'rep', 'ab', 3, ','}, {'rep', 'ab', 0}, {'rep', 'ab', -1},\n"
    "  {'rep', '', 5}, {'rep', '', 5, ''}, {'rep', '', 2, 'x'}, {'rep', 'x', 2^40},\n"
    "  {'rep', 'x', 1, 'sep'}, {'rep', 'x', 1.5}, {'rep', 'x', 'a'}, {'rep', nil, 1},\n"
    "}\n"
    "for _, c in ipairs(fixed) do check(table.unpack(c, 1, 6)) end\n"
    "local reps = {\n"
    "  '<%0>', '%1-%2', '%%', 'x', '', '%3', '%9',\n"
    "  {a = 'A', b = false, c = {}, ['1'] = 'one', [1] = 'pos1', [2] = 2.5},\n"
    "  function(a, b) if a == 'a' then return false end\n"
    "    if a == 'c' then return {} end return '[' .. tostring(a) .. tostring(b) .. ']' end,\n"
    "}\n"
    "for _, r in ipairs(reps) do\n"
    "  for _, p in ipairs({'%w', '(%w)(%w?)', '()', '(a)', 'b*', '[abc]+'}) do\n"
    "    check('gsub', 'abc ab c', p, r)\n"
    "    check('gsub', 'abc ab c', p, r, 2)\n"
    "  end\n"
    "end\n"
    /* generated cases */
    "local atoms = {'a', 'b', 'c', '.', '%a', '%d', '%s', '%w', '%A', '%S', '%p', '%l', '%u',\n"
    "  '%x', '%c', '%g', '%z', '[ab]', '[^a]', '[a-c]', '[%a%-]', '[]]', '[^]a]', '[a-]',\n"
    "  '[-a]', '[%]]', '(', ')', '()', '%1', '%2', '%0', '%b()', '%bab', '%f[%w]', '%f[%W]',\n"
    "  '%f[a]', '%f', '%b', '^', '$', '%', '[', '%%', '%]', '-', 'x', '\\0', ' ', '%(', '%.',\n"
    "  '[\\0a]'}\n"
    "local quants = {'', '', '', '*', '+', '-', '?'}\n"
    "local chars = {'a', 'b', 'c', ' ', '(', ')', '1', '%', '\\0', 'A', '-', ']', 'x', '.'}\n"
    "math.randomseed(seed)\n"
    "local R = math.random\n"
    "for i = 1, cases do\n"
    "  local p = {}\n"
    "  for k = 1, R(0, 6) do p[#p + 1] = atoms[R(#atoms)] .. quants[R(#quants)] end\n"
    "  p = table.concat(p)\n"
    "  local s = {}\n"
    "  for k = 1, R(0, 12) do s[#s + 1] = chars[R(#chars)] end\n"
    "  s = table.concat(s)\n"
    "  local init = R(0, 3) == 0 and R(-15, 15) or nil\n"
    "  check('find', s, p, init)\n"
    "  check('find', s, p, init, true)\n"
    "  check('match', s, p, init)\n"
    "  check('gmatch', s, p, init)\n"
    "  local r = reps[R(#reps)]\n"
    "  check('gsub', s, p, r, R(0, 2) == 0 and R(-1, 3) or nil)\n"
    "end\n"
    "return 'ok ' .. compared\n";

static void test_same_as_lua(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_openlibs(L);
    assert_int_equal(luaL_loadstring(L, driver), LUA_OK);
    /* O: Lua's own functions; N: a fresh string table with weir's in their place. */
    static const char *const names[] = {"find", "match", "gmatch", "gsub", "rep"};
    lua_getglobal(L, "string");
    lua_newtable(L);
    lua_newtable(L);
    for (size_t i = 0; i < 5; i++) {
        lua_getfield(L, -3, names[i]);
        lua_setfield(L, -3, names[i]);
    }
    wr_lua_open_patterns(L, -1, NULL, 10000000);
    lua_remove(L, -3);
    lua_pushinteger(L, 30000);
    lua_pushinteger(L, 20260113);
    if (lua_pcall(L, 4, 1, 0) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    const char *res = lua_tostring(L, -1);
    assert_non_null(res);
    assert_true(strncmp(res, "ok ", 3) == 0);
    print_message("compared %s\n", res + 3);
    lua_close(L);
}

/* }====== */

/* {====== bounded work in the sandbox ====== */

static struct wr_lua *new_lua(void)
{
    /* The real instruction budgets and memory cap; the wall-clock limits (1 s, 100 ms) moved out
       of the way, so that a loaded machine (the sanitizer build under ctest -j2) cannot turn a
       test of what the budget counts into a test of the clock (test_lua_meter and
       tests/e2e/test_lua_limits.py test the time limits). */
    const struct wr_lua_limits slow = {.expr_time_ms = 60000, .hook_time_ms = 60000};
    struct wr_lua *lua = wr_lua_new(&slow, NULL);
    assert_non_null(lua);
    return lua;
}

/* Evaluates expr with `s` (and `t`) in scope; returns rc with the message in err. */
static int eval_with(struct wr_lua *lua, const char *expr, const char *s, size_t slen,
                     const char *t, size_t tlen, char *err, size_t errlen, char **out)
{
    int scope = wr_lua_scope_new(lua);
    struct json_object *js = json_object_new_string_len(s, (int)slen);
    struct json_object *jt = json_object_new_string_len(t ? t : "", (int)tlen);
    assert_int_equal(wr_lua_scope_set(lua, scope, "s", js), 0);
    assert_int_equal(wr_lua_scope_set(lua, scope, "t", jt), 0);
    struct json_object *v = NULL;
    err[0] = '\0';
    int rc = wr_lua_eval(lua, scope, expr, strlen(expr), &v, err, errlen);
    if (out) {
        *out = rc == 0 ? strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) : NULL;
    }
    json_object_put(v);
    json_object_put(js);
    json_object_put(jt);
    wr_lua_scope_free(lua, scope);
    return rc;
}

static char *filled(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void want_budget(struct wr_lua *lua, const char *expr, const char *s, size_t slen,
                        const char *t, size_t tlen)
{
    char err[WR_ERR_MAX];
    if (eval_with(lua, expr, s, slen, t, tlen, err, sizeof(err), NULL) == 0) {
        fail_msg("'%s' should have run out of budget", expr);
    }
    if (!strstr(err, "instruction budget of 1000000 exceeded (a string pattern")) {
        fail_msg("'%s': %s", expr, err);
    }
}

static void test_issue_cases(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    /* 30 KB of spaces between two letters: every start of (.-) scans all the spaces */
    char *spaces = filled(' ', 30000), *a3k = filled('a', 3000), *big = filled('a', 2000000);
    char *needle = filled('a', 200000);
    needle[199999] = 'b';
    spaces[0] = spaces[29999] = 'a';

    want_budget(lua, "s:match('^%s*(.-)%s*$')", spaces, 30000, NULL, 0);
    want_budget(lua, "string.find(s, '.-.-.-.-.-.-b')", a3k, 3000, NULL, 0);
    /* a 200 KB needle in 2 MB: plain (memmem, linear: it simply is not there) and as a pattern
       (one '.' makes it one, and then it is quadratic: stopped) */
    char *out = NULL, err[WR_ERR_MAX];
    assert_int_equal(eval_with(lua, "string.find(s, t, 1, true) == nil", big, 2000000, needle,
                               200000, err, sizeof(err), &out),
                     0);
    assert_string_equal(out, "true");
    free(out);
    needle[0] = '.';
    want_budget(lua, "string.find(s, t)", big, 2000000, needle, 200000);
    want_budget(lua,
                "(function() local n = 0 for w in s:gmatch('.-.-.-.-b') do n = n + 1 end "
                "return n end)()",
                a3k, 3000, NULL, 0);
    want_budget(lua, "s:gsub('.-.-.-.-b', 'x')", a3k, 3000, NULL, 0);
    /* pcall inside the expression cannot swallow it, and the state works afterwards */
    want_budget(lua,
                "(function() for i = 1, 100 do pcall(string.match, s, '^%s*(.-)%s*$') end "
                "return 'escaped' end)()",
                spaces, 30000, NULL, 0);
    assert_int_equal(eval_with(lua, "('  trim me  '):match('^%s*(.-)%s*$')", "", 0, NULL, 0, err,
                               sizeof(err), &out),
                     0);
    assert_string_equal(out, "\"trim me\"");
    free(out);
    /* string.rep('', n) returned at once (Lua's loops n times) */
    assert_int_equal(eval_with(lua, "#string.rep('', 2^62) + #string.rep('', 2^62, '')", "", 0,
                               NULL, 0, err, sizeof(err), &out),
                     0);
    assert_string_equal(out, "0");
    free(out);
    /* allocation is charged: copying a big string over and over runs out of budget */
    assert_int_not_equal(eval_with(lua,
                                   "(function() local n = 0 for i = 1, 1e6 do "
                                   "n = n + #(s .. i) end return n end)()",
                                   big, 2000000, NULL, 0, err, sizeof(err), NULL),
                         0);
    assert_non_null(strstr(err, "instruction budget of 1000000 exceeded (the script copies"));
    free(spaces);
    free(a3k);
    free(big);
    free(needle);
    wr_lua_free(lua);
}

/* A hook (50M budget) that trims a long string is stopped too, with its line. */
static void test_hook_line(void **state)
{
    (void)state;
    struct wr_lua *lua = new_lua();
    char path[] = "/tmp/weir-pattern-XXXXXX.lua";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    static const char body[] = "function map(event, ctx)\n"
                               "  local s = 'a' .. string.rep(' ', 300000) .. 'a'\n"
                               "  return {v = s:match('^%s*(.-)%s*$')}\n"
                               "end\n";
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    char err[WR_ERR_MAX];
    int hook = wr_lua_load_hook(lua, path, "map", err, sizeof(err));
    assert_true(hook >= 0);
    struct json_object *ev = json_object_new_object(), *ctx = json_object_new_object(), *out;
    assert_int_equal(wr_lua_call_hook(lua, hook, ev, ctx, &out, err, sizeof(err), NULL), -1);
    char want[600];
    snprintf(want, sizeof(want), "%s:3: instruction budget of 50000000 exceeded (a string pattern",
             path);
    if (!strstr(err, want)) {
        fail_msg("got: %s", err);
    }
    json_object_put(ev);
    json_object_put(ctx);
    unlink(path);
    wr_lua_free(lua);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_lua),
        cmocka_unit_test(test_issue_cases),
        cmocka_unit_test(test_hook_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
