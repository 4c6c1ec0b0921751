/*
 * fuzz_lua_pattern — weir's pattern functions (engine/lua/lua_pattern) against Lua 5.4's own, on
 * arbitrary patterns and subjects: a differential target.
 *
 * Input: the first byte picks a start position (-8..7) and a replacement for gsub; the pattern
 * is the rest up to the first newline (at most 64 bytes), the subject what follows (at most
 * 4 KB). Both functions' results (values, number subtypes, error messages) must be the same
 * for find, find plain, match, gmatch and gsub. weir's run first with a step limit; only when
 * it finishes within the limit does Lua's own run too (Lua's has no limit, and a pattern that
 * exceeds it might run for hours), so a step limit hit is not a failure.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lua/lua_pattern.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PATTERN 64
#define MAX_SUBJECT 4096
#define MAX_STEPS   200000

static const char driver[] =
    "local O, N, s, p, init, rsel = ...\n"
    "local function pack(...) return {n = select('#', ...), ...} end\n"
    "local reps = {'<%0>', '%1', '%%', 'x', {a = 'A', b = false},\n"
    "  function(a) if a == 'a' then return false end return '[' .. tostring(a) .. ']' end}\n"
    "local calls = {\n"
    "  find = function(T) local r = pack(T.find(s, p, init)) return r end,\n"
    "  plain = function(T) local r = pack(T.find(s, p, init, true)) return r end,\n"
    "  match = function(T) local r = pack(T.match(s, p, init)) return r end,\n"
    "  gsub = function(T) local r = pack(T.gsub(s, p, reps[rsel])) return r end,\n"
    "  gmatch = function(T)\n"
    "    local out, k = {n = 0}, 0\n"
    "    for a, b in T.gmatch(s, p, init) do k = k + 1; out[k] = {a, b}\n"
    "      if k > 64 then break end end\n"
    "    out.n = k\n"
    "    return out\n"
    "  end,\n"
    "}\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return math.type(a) == math.type(b) and a == b end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if (a.n or #a) ~= (b.n or #b) then return false end\n"
    "  for i = 1, math.max(a.n or #a, 2) do if not same(a[i], b[i]) then return false end end\n"
    "  return true\n"
    "end\n"
    "for _, name in ipairs({'find', 'plain', 'match', 'gmatch', 'gsub'}) do\n"
    "  local b = pack(pcall(calls[name], N))\n"
    "  if not (b[1] == false and tostring(b[2]):find('pattern step limit exceeded', 1, true))\n"
    "  then\n"
    "    local a = pack(pcall(calls[name], O))\n"
    "    if not same(a, b) then error('DIFF ' .. name, 0) end\n"
    "  end\n"
    "end\n"
    "return true\n";

static lua_State *L;
static int ref_driver, ref_o, ref_n;

static void setup(void)
{
    static const char *const names[] = {"find", "match", "gmatch", "gsub", "rep"};
    L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_loadstring(L, driver) != LUA_OK) {
        wr_fuzz_fail("the driver does not compile");
    }
    ref_driver = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getglobal(L, "string");
    lua_newtable(L);
    for (size_t i = 0; i < 5; i++) {
        lua_getfield(L, -2, names[i]);
        lua_setfield(L, -2, names[i]);
    }
    ref_n = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref_n);
    lua_newtable(L); /* O: Lua's own, copied before N's are replaced */
    for (size_t i = 0; i < 5; i++) {
        lua_getfield(L, -3, names[i]);
        lua_setfield(L, -2, names[i]);
    }
    ref_o = luaL_ref(L, LUA_REGISTRYINDEX);
    wr_lua_open_patterns(L, -1, NULL, MAX_STEPS);
    lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    int init = (int)(data[0] & 15) - 8, rsel = 1 + (data[0] >> 4) % 6;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(rest, '\n', n);
    size_t lp = nl ? (size_t)(nl - rest) : n;
    size_t off = nl ? lp + 1 : n;
    size_t ls = n - off;
    if (lp > MAX_PATTERN || ls > MAX_SUBJECT) {
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref_driver);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref_o);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref_n);
    lua_pushlstring(L, rest + off, ls);
    lua_pushlstring(L, rest, lp);
    if (init == 0) {
        lua_pushnil(L);
    } else {
        lua_pushinteger(L, init);
    }
    lua_pushinteger(L, rsel);
    if (lua_pcall(L, 6, 1, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg && strncmp(msg, "DIFF", 4) == 0) {
            wr_fuzz_fail(msg);
        }
        wr_fuzz_fail("the driver failed");
    }
    lua_pop(L, 1);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
