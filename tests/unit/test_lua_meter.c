/*
 * test_lua_meter — the metered utf8, table and string-to-number functions (engine/lua/lua_meter)
 * against Lua 5.4's own, and the sandbox's time limit (engine/lua/lua_host) on the single
 * operations that cost far more than an instruction (issue #13 follow-up).
 *
 * Equivalence: a plain lua_State holds Lua's functions (O) and weir's (N) side by side; a Lua
 * driver calls both on generated and hand-picked cases — errors included, and tables with
 * metamethods that log every access, so the order of reads and writes is compared too — and
 * compares results and error messages word for word. Slices of utf8.len and table.move are
 * exercised across their chunk boundaries (64 KB, 1024 elements).
 *
 * Time limit: with an injected clock, the message names the limit, its weir.yaml key and the
 * line, and pcall cannot swallow it. With the real clock, each adversarial case (long string
 * comparisons, utf8 over long strings, sorts, table.move over 2^62, conversions of long numeric
 * strings) under a huge instruction budget is stopped by the time limit; the time each took is
 * printed, and only a generous bound (10 times the limit) is asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "engine/base/strutil.h"
#include "engine/lua/lua_host.h"
#include "engine/lua/lua_meter.h"

/* {====== equivalence with Lua's own ====== */

static const char driver[] =
    "local O, N, cases, seed = ...\n"
    "local function pack(...) return {n = select('#', ...), ...} end\n"
    "local function show(v, depth)\n"
    "  depth = depth or 0\n"
    "  if type(v) == 'string' then\n"
    "    if #v > 200 then return string.format('<%d bytes>', #v) end\n"
    "    return string.format('%q', v)\n"
    "  end\n"
    "  if type(v) == 'number' then return math.type(v) .. ':' .. tostring(v) end\n"
    "  if type(v) == 'table' and depth < 3 then\n"
    "    local t = {}\n"
    "    local n = rawget(v, 'n') or #v\n"
    "    for i = 1, math.min(n, 40) do t[#t + 1] = show(rawget(v, i), depth + 1) end\n"
    "    return '{' .. table.concat(t, ', ') .. (n > 40 and ', ...' or '') .. '}'\n"
    "  end\n"
    "  return type(v)\n"
    "end\n"
    "local function same(a, b, depth)\n"
    "  depth = depth or 0\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    return math.type(a) == math.type(b) and (a == b or (a ~= a and b ~= b))\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b or type(a) == 'function' end\n"
    "  if depth > 3 then return true end\n"
    "  for k, v in next, a do if not same(v, rawget(b, k), depth + 1) then return false end end\n"
    "  for k in next, b do if rawget(a, k) == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local compared = 0\n"
    /* each call gets fresh arguments from make(): tables are changed by the calls */
    "local function check(name, lib, make)\n"
    "  local oa, na = make(), make()\n"
    /* one line, one local name: errors carry the same position and function name */
    "  local fo, fn = O[lib][name], N[lib][name]\n"
    "  local function call(f, a) return f(table.unpack(a, 1, a.n)) end\n"
    "  local a, b = pack(pcall(call, fo, oa)), pack(pcall(call, fn, na))\n"
    "  compared = compared + 1\n"
    "  if not same(a, b) or not same(oa, na) then\n"
    "    error(string.format('%s.%s%s:\\n  lua:  %s -> %s\\n  weir: %s -> %s', lib, name,\n"
    "      show(make()), show(a), show(oa), show(b), show(na)), 0)\n"
    "  end\n"
    "end\n"
    /* args(...) makes fresh copies of its table arguments for every call */
    "local function copy(v)\n"
    "  if type(v) ~= 'table' then return v end\n"
    "  local c = {} for k, x in next, v do c[k] = x end\n"
    "  return setmetatable(c, getmetatable(v))\n"
    "end\n"
    "local function args(...) local t = pack(...) return function()\n"
    "  local c = {n = t.n} for i = 1, t.n do c[i] = copy(t[i]) end return c end end\n"
    /* a table whose reads, writes and length go through logged metamethods */
    "local function proxy(items, n, log)\n"
    "  local raw = {}\n"
    "  for i = 1, n do raw[i] = items[i] end\n"
    "  return setmetatable({}, {\n"
    "    __index = function(_, k) log[#log + 1] = 'r' .. tostring(k) return raw[k] end,\n"
    "    __newindex = function(_, k, v) log[#log + 1] = 'w' .. tostring(k) .. '=' ..\n"
    "      tostring(v) raw[k] = v end,\n"
    "    __len = function() log[#log + 1] = '#' return n end})\n"
    "end\n"
    "math.randomseed(seed)\n"
    "local R = math.random\n"
    "local function array(n, f) local t = {} for i = 1, n do t[i] = f(i) end return t end\n"
    /* ---- table.insert / remove ---- */
    "local fixed = {\n"
    "  {'insert', 'table', args({1, 2, 3}, 9)}, {'insert', 'table', args({1, 2, 3}, 1, 9)},\n"
    "  {'insert', 'table', args({1, 2, 3}, 4, 9)}, {'insert', 'table', args({1, 2, 3}, 5, 9)},\n"
    "  {'insert', 'table', args({1, 2, 3}, 0, 9)}, {'insert', 'table', args({1, 2, 3}, -1, 9)},\n"
    "  {'insert', 'table', args({1, 2, 3}, 1.5, 9)}, {'insert', 'table', args({1, 2, 3}, '2', "
    "9)},\n"
    "  {'insert', 'table', args({1, 2, 3}, 'x', 9)}, {'insert', 'table', args({1, 2, 3})},\n"
    "  {'insert', 'table', args({1, 2, 3}, 1, 2, 3)}, {'insert', 'table', args(nil, 1)},\n"
    "  {'insert', 'table', args('abc', 1)}, {'insert', 'table', args({}, 1, nil)},\n"
    "  {'insert', 'table', args({}, nil)}, {'insert', 'table', args(setmetatable({},\n"
    "    {__len = function() return math.maxinteger end}), 1)},\n"
    "  {'remove', 'table', args({1, 2, 3})}, {'remove', 'table', args({1, 2, 3}, 1)},\n"
    "  {'remove', 'table', args({1, 2, 3}, 3)}, {'remove', 'table', args({1, 2, 3}, 4)},\n"
    "  {'remove', 'table', args({1, 2, 3}, 5)}, {'remove', 'table', args({1, 2, 3}, 0)},\n"
    "  {'remove', 'table', args({}, 0)}, {'remove', 'table', args({})},\n"
    "  {'remove', 'table', args({}, -1)}, {'remove', 'table', args({1}, 'x')},\n"
    "  {'remove', 'table', args(nil)}, {'remove', 'table', args({1, 2}, 1.0)},\n"
    /* ---- table.concat ---- */
    "  {'concat', 'table', args({1, 2, 3})}, {'concat', 'table', args({1, 2, 3}, ', ')},\n"
    "  {'concat', 'table', args({1, 2.5, 'x'}, '-', 2)},\n"
    "  {'concat', 'table', args({1, 2, 3}, '', 3, 2)}, {'concat', 'table', args({1, {}, 3})},\n"
    "  {'concat', 'table', args({1, 2, 3}, '', 1, 5)}, {'concat', 'table', args({}, 'x')},\n"
    "  {'concat', 'table', args({'a', 'b'}, 1)}, {'concat', 'table', args({'a'}, {})},\n"
    "  {'concat', 'table', args({'a'}, '', 'x')}, {'concat', 'table', args(nil)},\n"
    "  {'concat', 'table', args({'a', 'b'}, '', -1, 1)},\n"
    "  {'concat', 'table', args({'a', 'b'}, '', math.maxinteger, math.maxinteger)},\n"
    /* ---- table.move ---- */
    "  {'move', 'table', args({1, 2, 3}, 1, 3, 2)}, {'move', 'table', args({1, 2, 3}, 2, 3, 1)},\n"
    "  {'move', 'table', args({1, 2, 3}, 1, 3, 1, {})},\n"
    "  {'move', 'table', args({1, 2, 3}, 3, 1, 1)},\n"
    "  {'move', 'table', args({1, 2, 3}, 1, 3)}, {'move', 'table', args({}, 1, 2, 'x')},\n"
    "  {'move', 'table', args({}, math.mininteger, 0, 1)},\n"
    "  {'move', 'table', args({}, 1, math.maxinteger, 2)},\n"
    "  {'move', 'table', args({}, 0, 3, math.maxinteger - 1)},\n"
    "  {'move', 'table', args(nil, 1, 2, 3)}, {'move', 'table', args({}, 1, 2, 3, 'x')},\n"
    "  {'move', 'table', args({}, 1.5, 2, 3)},\n"
    /* ---- table.sort ---- */
    "  {'sort', 'table', args({3, 1, 2})}, {'sort', 'table', args({'b', 'a', 'c'})},\n"
    "  {'sort', 'table', args({3, 1, 2}, function(a, b) return a > b end)},\n"
    "  {'sort', 'table', args({3, 'a', 2})}, {'sort', 'table', args({3, 1, 2}, 'x')},\n"
    "  {'sort', 'table', args({3}, 'x')}, {'sort', 'table', args({{}, {}})},\n"
    "  {'sort', 'table', args(nil)}, {'sort', 'table', args({1, 2, 3}, false)},\n"
    "  {'sort', 'table', args(array(50, function(i) return (i * 7) % 13 end),\n"
    "    function(a, b) return true end)},\n"
    /* ---- utf8 ---- */
    "  {'len', 'utf8', args('h\\u{e9}llo')}, {'len', 'utf8', args('h\\u{e9}llo', 3)},\n"
    "  {'len', 'utf8', args('h\\u{e9}llo', 2, -2)}, {'len', 'utf8', args('\\xff')},\n"
    "  {'len', 'utf8', args('abc', 5)}, {'len', 'utf8', args('abc', 0)},\n"
    "  {'len', 'utf8', args('abc', 4)}, {'len', 'utf8', args('abc', 1, 4)},\n"
    "  {'len', 'utf8', args('abc', -10)}, {'len', 'utf8', args('\\u{7FFFFFFF}', 1, -1, true)},\n"
    "  {'len', 'utf8', args('\\u{7FFFFFFF}')}, {'len', 'utf8', args(nil)},\n"
    "  {'offset', 'utf8', args('h\\u{e9}llo', 3)}, {'offset', 'utf8', args('h\\u{e9}llo', -1)},\n"
    "  {'offset', 'utf8', args('h\\u{e9}llo', 0, 3)}, {'offset', 'utf8', args('abc', 1, 5)},\n"
    "  {'offset', 'utf8', args('\\u{e9}', 1, 2)}, {'offset', 'utf8', args('abc', 10)},\n"
    "  {'offset', 'utf8', args('abc', -10)}, {'offset', 'utf8', args('abc')},\n"
    "  {'codepoint', 'utf8', args('h\\u{e9}llo', 1, -1)}, {'codepoint', 'utf8', args('abc', 0)},\n"
    "  {'codepoint', 'utf8', args('abc', 1, 4)}, {'codepoint', 'utf8', args('abc', 3, 2)},\n"
    "  {'codepoint', 'utf8', args('\\xff')}, {'codepoint', 'utf8', args('abc', -1)},\n"
    "  {'codepoint', 'utf8', args({})},\n"
    /* ---- conversions ---- */
    "  {'tonumber', 'base', args('10')}, {'tonumber', 'base', args(' 0x10 ')},\n"
    "  {'tonumber', 'base', args('1e1')}, {'tonumber', 'base', args('z', 36)},\n"
    "  {'tonumber', 'base', args('10', 2)}, {'tonumber', 'base', args('10', 1)},\n"
    "  {'tonumber', 'base', args('10', 37)}, {'tonumber', 'base', args(10, 2)},\n"
    "  {'tonumber', 'base', args()}, {'tonumber', 'base', args(nil)},\n"
    "  {'tonumber', 'base', args({})}, {'tonumber', 'base', args('x')},\n"
    "  {'tonumber', 'base', args('10', 'x')}, {'tonumber', 'base', args(5, nil)},\n"
    "  {'tointeger', 'math', args('8')}, {'tointeger', 'math', args(8.0)},\n"
    "  {'tointeger', 'math', args(8.5)}, {'tointeger', 'math', args('x')},\n"
    "  {'tointeger', 'math', args()}, {'tointeger', 'math', args(nil)},\n"
    "}\n"
    "for _, op in ipairs({'__add', '__sub', '__mul', '__mod', '__pow', '__div', '__idiv',\n"
    "                     '__unm'}) do\n"
    "  for _, ab in ipairs({{'10', 3}, {3, '10'}, {'10', '0x10'}, {'abc', 1}, {1, 'abc'},\n"
    "                       {'1', {}}, {'7', '0'}, {'7.5', 2}, {'-3', '-3'}, {'10\\0x', 1},\n"
    "                       {'2', setmetatable({}, {__add = function() return 'mm' end,\n"
    "                         __unm = function() return 'mu' end})}}) do\n"
    "    fixed[#fixed + 1] = {op, 'mt', args(ab[1], ab[2])}\n"
    "  end\n"
    "end\n"
    "for _, c in ipairs(fixed) do check(c[1], c[2], c[3]) end\n"
    /* codes: whole iterations, and the iterator called at arbitrary positions */
    "local function codes_of(T, s, lax)\n"
    "  local out = {}\n"
    "  local ok, err = pcall(function()\n"
    "    for p, c in T.utf8.codes(s, lax) do out[#out + 1] = p out[#out + 1] = c end end)\n"
    "  out[#out + 1] = ok out[#out + 1] = err\n"
    "  return out\n"
    "end\n"
    "local function check_codes(s, lax)\n"
    "  local a, b = codes_of(O, s, lax), codes_of(N, s, lax)\n"
    "  compared = compared + 1\n"
    "  if not same(a, b) then error('codes ' .. show(s) .. ': ' .. show(a) .. ' / ' .. show(b), "
    "0)\n"
    "  end\n"
    "  local fo, fn = O.utf8.codes('', lax), N.utf8.codes('', lax)\n"
    "  for k = -1, #s + 1 do\n"
    "    local x, y = pack(pcall(fo, s, k)), pack(pcall(fn, s, k))\n"
    "    compared = compared + 1\n"
    "    if not same(x, y) then error('codes iterator ' .. show(s) .. ' at ' .. k .. ': ' ..\n"
    "      show(x) .. ' / ' .. show(y), 0) end\n"
    "  end\n"
    "end\n"
    "for _, s in ipairs({'', 'abc', 'h\\u{e9}llo', '\\x80abc', 'a\\x80\\x80b', '\\xff',\n"
    "                    '\\u{10FFFF}\\u{7FFFFFFF}', 'ab\\xe9'}) do\n"
    "  check_codes(s, false) check_codes(s, true)\n"
    "end\n"
    "check('codes', 'utf8', args()) check('codes', 'utf8', args({}))\n"
    /* generated: random UTF-8-ish strings, some across utf8.len's 64 KB slices */
    "local pieces = {'a', 'b', '\\u{e9}', '\\u{20ac}', '\\u{1F600}', '\\x80', '\\xbf', '\\xc3',\n"
    "  '\\xff', '\\u{7FFFFFFF}', '\\0'}\n"
    "local function ustr(n)\n"
    "  local t = {} for i = 1, n do t[i] = pieces[R(R(4) == 1 and #pieces or 5)] end\n"
    "  return table.concat(t)\n"
    "end\n"
    "local function pos(len) return R(0, 4) == 0 and R(-len - 2, len + 2) or nil end\n"
    "for i = 1, cases do\n"
    "  local s = ustr(R(0, 30))\n"
    "  local lax = R(0, 1) == 1\n"
    "  check('len', 'utf8', args(s, pos(#s), pos(#s), lax))\n"
    "  check('offset', 'utf8', args(s, R(-8, 8), pos(#s)))\n"
    "  check('codepoint', 'utf8', args(s, pos(#s), pos(#s), lax))\n"
    "end\n"
    "for i = 1, 12 do\n"
    "  local s = ustr(R(60000, 90000)) .. string.rep('a', R(0, 70000))\n"
    "  if i % 3 == 0 then s = string.rep('\\u{20ac}', 40000) .. '\\x80' .. s end\n"
    "  check('len', 'utf8', args(s, 1, -1, i % 2 == 0))\n"
    "  check('len', 'utf8', args(s, R(1, 1000), R(#s - 1000, #s), i % 2 == 0))\n"
    "end\n"
    "local valid = string.rep('a\\u{e9}\\u{20ac}\\u{1F600}', 20000)\n"
    "for _, j in ipairs({65535, 65536, 65537, 65538, 65539, 131072, -1}) do\n"
    "  check('len', 'utf8', args(valid, 1, j)) check('len', 'utf8', args(valid, 2, j))\n"
    "end\n"
    /* generated: table functions on plain and logged tables, across move's 1024 slices */
    "for i = 1, cases // 10 do\n"
    "  local n = R(0, 3) == 0 and R(1000, 3000) or R(0, 20)\n"
    "  local items = array(n, function(k) return k * 10 end)\n"
    "  local f, e, t = R(-2, n + 2), R(-2, n + 2), R(-2, n + 3000)\n"
    "  check('move', 'table', args(array(n, function(k) return k end), f, e, t))\n"
    "  check('move', 'table', function() local log = {} return pack(proxy(items, n, log), f,\n"
    "    e, t, nil, log) end)\n"
    "  check('move', 'table', function() local log = {} return pack(proxy(items, n, log), f,\n"
    "    e, t, proxy({}, 0, log), log) end)\n"
    "  local p = R(-2, n + 3)\n"
    "  check('insert', 'table', args(array(n, function(k) return k end), p, 'v'))\n"
    "  check('insert', 'table', function() local log = {} return pack(proxy(items, n, log), p,\n"
    "    'v') end)\n"
    "  check('remove', 'table', args(array(n, function(k) return k end), p))\n"
    "  check('remove', 'table', function() local log = {} return pack(proxy(items, n, log), p)\n"
    "    end)\n"
    "  local ci, cj = pos(n), pos(n)\n"
    "  check('concat', 'table', args(array(n, function(k) return k end), ',', ci, cj))\n"
    "  check('concat', 'table', function() local log = {} return pack(proxy(items, n, log), '',\n"
    "    ci, cj, log) end)\n"
    "  check('sort', 'table', args(array(n, function(k) return (k * 7919) % 1009 end)))\n"
    "  check('sort', 'table', args(array(n, function(k) return tostring((k * 7919) % 1009) end)))\n"
    "end\n"
    "return 'ok ' .. compared\n";

/* Copies the fields of the table at src into a new table pushed on the stack. */
static void push_copy(lua_State *L, int src)
{
    src = lua_absindex(L, src);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

/* Pushes {base = {tonumber}, math, table, utf8, mt = strings' metatable} for O (Lua's own) or
   N (weir's, uncharged). */
static void push_libs(lua_State *L, bool weir)
{
    static const struct {
        const char *name;
        enum wr_lua_meter_lib lib;
    } libs[] = {
        {"table", WR_LUA_METER_TABLE},
        {"math", WR_LUA_METER_MATH},
        {"utf8", WR_LUA_METER_UTF8},
    };
    lua_newtable(L);
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        lua_getglobal(L, libs[i].name);
        push_copy(L, -1);
        lua_remove(L, -2);
        if (weir) {
            wr_lua_open_meter(L, -1, libs[i].lib, NULL);
        }
        lua_setfield(L, -2, libs[i].name);
    }
    lua_newtable(L);
    lua_getglobal(L, "tonumber");
    lua_setfield(L, -2, "tonumber");
    if (weir) {
        wr_lua_open_meter(L, -1, WR_LUA_METER_BASE, NULL);
    }
    lua_setfield(L, -2, "base");
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    push_copy(L, -1);
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (weir) {
        wr_lua_open_meter(L, -1, WR_LUA_METER_STRING_MT, NULL);
    }
    lua_setfield(L, -2, "mt");
}

static void test_same_as_lua(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_openlibs(L);
    if (luaL_loadstring(L, driver) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    push_libs(L, false);
    push_libs(L, true);
    lua_pushinteger(L, 3000);
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

/* {====== the time limit ====== */

/* A clock that advances 1 ms every time it is read. */
static uint64_t ticking(void *arg)
{
    uint64_t *t = arg;
    *t += 1000000;
    return *t;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int eval(struct wr_lua *lua, const char *expr, char *err, size_t errlen)
{
    int scope = wr_lua_scope_new(lua);
    struct json_object *out = NULL;
    err[0] = '\0';
    int rc = wr_lua_eval(lua, scope, expr, strlen(expr), &out, err, errlen);
    json_object_put(out);
    wr_lua_scope_free(lua, scope);
    return rc;
}

static char *write_script(const char *body)
{
    char tmpl[] = "/tmp/weir-meter-XXXXXX.lua";
    int fd = mkstemps(tmpl, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    return strdup(tmpl);
}

/* Calls map() of a script body as a hook; returns rc with the message in err. */
static int call_hook(struct wr_lua *lua, const char *body, char *err, size_t errlen)
{
    char *path = write_script(body);
    int h = wr_lua_load_hook(lua, path, "map", err, errlen);
    int rc = -1;
    if (h >= 0) {
        struct json_object *ev = json_object_new_object(), *out = NULL;
        rc = wr_lua_call_hook(lua, h, ev, ev, &out, err, errlen, NULL);
        json_object_put(out);
        json_object_put(ev);
    }
    unlink(path);
    free(path);
    return rc;
}

static void test_time_limit_message(void **state)
{
    (void)state;
    uint64_t t = 0;
    /* a budget no loop here reaches: only the clock can stop them */
    struct wr_lua_limits lim = {.expr_instructions = 1000000000000ull,
                                .hook_instructions = 1000000000000ull};
    struct wr_lua *lua = wr_lua_new(&lim, NULL);
    char err[WR_ERR_MAX];
    wr_lua_set_clock(lua, ticking, &t);

    assert_int_equal(eval(lua, "(function() while true do end end)()", err, sizeof(err)), -1);
    assert_string_equal(err, "'(function() while true do end end)()': time limit of 100ms exceeded "
                             "(weir.yaml lua.expr_timeout; a long loop, or slow work on long "
                             "strings or big tables?)");
    /* pcall cannot swallow it, nor a loop of pcalls */
    assert_int_equal(eval(lua,
                          "(function() while true do pcall(function() while true do end end) "
                          "end end)()",
                          err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "time limit of 100ms exceeded"));
    /* a hook: its own limit, its file and line */
    assert_int_equal(call_hook(lua,
                               "function map(event, ctx)\n"
                               "  local n = 0\n"
                               "  while true do pcall(function() n = n + 1 end) end\n"
                               "end\n",
                               err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, ".lua:3: time limit of 1s exceeded (weir.yaml lua.hook_timeout;"));
    /* charged C functions look at the clock too: a sort of 2^16 elements in one call */
    assert_int_equal(eval(lua,
                          "(function() local t = {} for i = 1, 65536 do t[i] = -i end "
                          "table.sort(t) end)()",
                          err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "time limit of 100ms exceeded"));
    /* the state is fine afterwards */
    assert_int_equal(eval(lua, "1 + 1", err, sizeof(err)), 0);
    wr_lua_free(lua);

    /* the limits as weir.yaml sets them, through the process defaults */
    struct wr_lua_limits defaults = {.expr_time_ms = 5, .hook_time_ms = 7000};
    wr_lua_set_defaults(&defaults);
    lua = wr_lua_new(&lim, NULL);
    wr_lua_set_defaults(NULL);
    t = 0;
    wr_lua_set_clock(lua, ticking, &t);
    assert_int_equal(eval(lua, "(function() while true do end end)()", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "time limit of 5ms exceeded (weir.yaml lua.expr_timeout"));
    assert_int_equal(call_hook(lua, "function map() while true do end end\n", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, ":1: time limit of 7s exceeded (weir.yaml lua.hook_timeout"));
    wr_lua_free(lua);
}

/*
 * The adversarial cases with the real clock: a hook limit of 200 ms and an expression limit of
 * 50 ms, budgets no case reaches. Each must stop with the time limit's message; the time taken
 * is printed, and only 10 times the limit is asserted (the machine is shared).
 */
struct stall {
    const char *name;
    const char *body; /* a hook's body; N is the strings' size */
};

static const struct stall stalls[] = {
    {"== on long strings", "local a, b = string.rep('x', N), string.rep('x', N) "
                           "while true do local _ = a == b end"},
    {"< on long strings, pcall'd", "local a, b = string.rep('x', N), string.rep('x', N - 1) .. 'y' "
                                   "while true do pcall(function() while true do "
                                   "local _ = a < b end end) end"},
    {"utf8.len", "local s = string.rep('a', N) while true do utf8.len(s) end"},
    {"utf8.offset", "local s = string.rep('a', N) while true do utf8.offset(s, N) end"},
    {"utf8.codes' iterator", "local s, f = string.rep('\\x80', N), utf8.codes('') "
                             "while true do f(s, 0) end"},
    {"table.sort, slow comparator",
     "local a, b = string.rep('x', N), string.rep('x', N) local t = {} "
     "for i = 1, 100000 do t[i] = -i end table.sort(t, function(x, y) return a == b and x < y "
     "end)"},
    {"table.sort of long strings", "local a, b = string.rep('x', N), string.rep('x', N - 1) .. 'y' "
                                   "local t = {} for i = 1, 100000 do t[i] = i % 2 == 0 and a "
                                   "or b end table.sort(t)"},
    {"table.move over 2^62", "table.move({}, 1, 2^62, 2)"},
    {"table.insert/remove", "local t = {} for i = 1, N // 8 do t[i] = i end "
                            "while true do table.insert(t, 1, 0) table.remove(t, 1) end"},
    {"table.concat", "local t = {} for i = 1, N // 8 do t[i] = '' end "
                     "while true do table.concat(t) end"},
    {"tonumber", "local s = string.rep('1', N // 2) while true do tonumber(s) end"},
    {"s + 0", "local s = string.rep('1', N // 2) while true do local _ = s + 0 end"},
    {"weir.slug", "local s = string.rep(\"'\", N) while true do weir.slug(s) end"},
};

static void test_time_limit_stalls(void **state)
{
    (void)state;
    struct wr_lua_limits lim = {.expr_instructions = 1000000000000ull,
                                .hook_instructions = 1000000000000ull,
                                .expr_time_ms = 50,
                                .hook_time_ms = 200};
    char err[WR_ERR_MAX], body[1024], expr[1100];
    for (size_t i = 0; i < sizeof(stalls) / sizeof(stalls[0]); i++) {
        for (int hook = 0; hook < 2; hook++) {
            struct wr_lua *lua = wr_lua_new(&lim, NULL);
            snprintf(body, sizeof(body), "local N = %d %s", hook ? 16000000 : 4000000,
                     stalls[i].body);
            uint64_t t0 = now_ns();
            int rc;
            if (hook) {
                char src[1200];
                snprintf(src, sizeof(src), "function map(event, ctx)\n%s\nend\n", body);
                rc = call_hook(lua, src, err, sizeof(err));
            } else {
                snprintf(expr, sizeof(expr), "(function() %s end)()", body);
                rc = eval(lua, expr, err, sizeof(err));
            }
            double ms = (double)(now_ns() - t0) / 1e6;
            print_message("%-28s %-10s stopped after %7.1f ms (limit %d ms)\n", stalls[i].name,
                          hook ? "hook" : "expression", ms, hook ? 200 : 50);
            assert_int_equal(rc, -1);
            if (!strstr(err, "time limit of")) {
                fail_msg("%s (%s): %s", stalls[i].name, hook ? "hook" : "expression", err);
            }
            assert_true(ms < 10.0 * (hook ? 200 : 50) + 200); /* + building the strings */
            wr_lua_free(lua);
        }
    }
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_lua),
        cmocka_unit_test(test_time_limit_message),
        cmocka_unit_test(test_time_limit_stalls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
