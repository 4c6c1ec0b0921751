/*
 * lua_meter — metered utf8, table and string-to-number functions; see lua_meter.h.
 *
 * Errors. An error Lua's function raises names the function after the call site ("bad
 * argument #2 to 'insert'") and starts with the caller's line; called from C through lua_call
 * it could do neither. So every replacement makes the argument checks of Lua's function
 * itself, in the same order and with the same words, before calling Lua's function with
 * arguments it will accept; the errors Lua's function can still raise (an invalid UTF-8 code,
 * an invalid order function) are caught and raised again with the caller's line in front.
 *
 * Units. One unit of the budget is worth about one Lua instruction (2 to 3 ns here); the
 * constants below say how much work one unit buys, measured on Lua 5.4's own functions.
 */
#include "engine/lua/lua_meter.h"

#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/lua/lua_host.h"

#define ELEMENT_UNITS       4          /* one element read and written by table functions */
#define ELEMENT_CHUNK       1024       /* elements between two charges */
#define UTF8_BYTES_PER_UNIT 2          /* utf8.len decodes ~1.7 ns per byte */
#define UTF8_CHUNK          (64 << 10) /* bytes utf8.len decodes between two charges */
#define COMPARE_BYTES       64         /* bytes of a string comparison per unit */
#define NUMBER_BYTE_UNITS   2          /* strtod reads ~5 ns per digit */

#define NOTE_TABLE  "(a table function over too many elements?)"
#define NOTE_UTF8   "(a utf8 function over too long a string?)"
#define NOTE_SORT   "(sorting too many or too long values?)"
#define NOTE_NUMBER "(converting too long a string to a number?)"

/* Upvalues of every replacement: the host (light userdata, may be NULL) and Lua's function. */
#define UP_HOST lua_upvalueindex(1)
#define UP_ORIG lua_upvalueindex(2)

static void charge(lua_State *L, uint64_t units, const char *note)
{
    struct wr_lua *lua = lua_touserdata(L, UP_HOST);
    if (lua && units > 0) {
        wr_lua_charge(L, lua, units, note);
    }
}

/*
 * Calls Lua's own function with the arguments on the stack and returns its results. Its own
 * errors (luaL_error: no position, since its caller is C) are raised again as if the script
 * had called it: the caller's line is put in front.
 * `own` is the only message that gets it, or NULL for any: use NULL only for functions that
 * run no Lua code (every error is then their own). Errors of other kinds (memory) pass as
 * they are.
 */
static int call_orig_placed(lua_State *L, const char *own)
{
    lua_pushvalue(L, UP_ORIG);
    lua_insert(L, 1);
    int rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (rc == LUA_OK) {
        return lua_gettop(L);
    }
    if (rc == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING &&
        (!own || strcmp(lua_tostring(L, -1), own) == 0)) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

/* A string position relative to the end when negative, as the utf8 library reads it. */
static lua_Integer relative(lua_Integer pos, size_t len)
{
    if (pos >= 0) {
        return pos;
    }
    if ((size_t)0 - (size_t)pos > len) {
        return 0;
    }
    return (lua_Integer)len + pos + 1;
}

/* {====== string to number ====== */

/* Charges the conversion of the string arguments among the first n. */
static void charge_numbers(lua_State *L, int n)
{
    uint64_t bytes = 0;
    for (int i = 1; i <= n; i++) {
        if (lua_type(L, i) == LUA_TSTRING) {
            bytes += lua_rawlen(L, i);
        }
    }
    charge(L, bytes * NUMBER_BYTE_UNITS, NOTE_NUMBER);
}

static int m_tonumber(lua_State *L)
{
    if (lua_isnoneornil(L, 2)) {
        luaL_checkany(L, 1);
    } else {
        lua_Integer base = luaL_checkinteger(L, 2);
        luaL_checktype(L, 1, LUA_TSTRING);
        luaL_argcheck(L, 2 <= base && base <= 36, 2, "base out of range");
    }
    charge_numbers(L, 1);
    return call_orig_placed(L, NULL);
}

static int m_tointeger(lua_State *L)
{
    luaL_checkany(L, 1);
    charge_numbers(L, 1);
    return call_orig_placed(L, NULL);
}

/* Pushes the number arg is or reads as; false when it is neither (as lstrlib's). */
static bool push_number(lua_State *L, int arg)
{
    if (lua_type(L, arg) == LUA_TNUMBER) {
        lua_pushvalue(L, arg);
        return true;
    }
    size_t len;
    const char *s = lua_tolstring(L, arg, &len);
    return s != NULL && lua_stringtonumber(L, s) == len + 1;
}

static const char *const arith_names[] = {
    [LUA_OPADD] = "__add", [LUA_OPSUB] = "__sub", [LUA_OPMUL] = "__mul",   [LUA_OPMOD] = "__mod",
    [LUA_OPPOW] = "__pow", [LUA_OPDIV] = "__div", [LUA_OPIDIV] = "__idiv", [LUA_OPUNM] = "__unm",
};

/*
 * Strings' arithmetic metamethods (upvalue 3: the operator): operands that read as numbers
 * are computed on, charged by their length; else the second operand's metamethod is tried,
 * else the error Lua's gives.
 */
static int m_arith(lua_State *L)
{
    int op = (int)lua_tointeger(L, lua_upvalueindex(3));
    charge_numbers(L, 2);
    if (push_number(L, 1) && push_number(L, 2)) {
        lua_arith(L, op);
        return 1;
    }
    const char *mtname = arith_names[op];
    lua_settop(L, 2);
    if (lua_type(L, 2) == LUA_TSTRING || !luaL_getmetafield(L, 2, mtname)) {
        return luaL_error(L, "attempt to %s a '%s' with a '%s'", mtname + 2, luaL_typename(L, -2),
                          luaL_typename(L, -1));
    }
    lua_insert(L, -3);
    lua_call(L, 2, 1);
    return 1;
}

/* }====== */

/* {====== utf8 ====== */

static bool continuation(const char *p)
{
    return ((unsigned char)*p & 0xC0) == 0x80;
}

/* utf8.len: Lua's own over slices that start on a character, charged between them. */
static int m_utf8_len(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer i = relative(luaL_optinteger(L, 2, 1), len);
    lua_Integer j = relative(luaL_optinteger(L, 3, -1), len);
    int lax = lua_toboolean(L, 4);
    luaL_argcheck(L, 1 <= i && --i <= (lua_Integer)len, 2, "initial position out of bounds");
    luaL_argcheck(L, --j < (lua_Integer)len, 3, "final position out of bounds");
    /* i and j are 0-based now: the characters that start in [i, j] are counted */
    if (j - i < UTF8_CHUNK) {
        charge(L, (uint64_t)(j >= i ? j - i + 1 : 0) / UTF8_BYTES_PER_UNIT, NOTE_UTF8);
        return call_orig_placed(L, NULL);
    }
    lua_Integer n = 0;
    while (i <= j) {
        lua_Integer e = j - i >= UTF8_CHUNK ? i + UTF8_CHUNK - 1 : j;
        /* The next slice starts on a byte that is not a continuation byte, so that no
           character is split and a stray continuation byte is met where Lua meets it. */
        while (e < j && continuation(s + e + 1)) {
            e++;
        }
        charge(L, (uint64_t)(e - i + 1) / UTF8_BYTES_PER_UNIT, NOTE_UTF8);
        lua_pushvalue(L, UP_ORIG);
        lua_pushvalue(L, 1);
        lua_pushinteger(L, i + 1);
        lua_pushinteger(L, e + 1);
        lua_pushboolean(L, lax);
        lua_call(L, 4, 2);
        if (lua_isnil(L, -2)) {
            return 2; /* fail and the position of the invalid byte */
        }
        n += lua_tointeger(L, -2);
        lua_pop(L, 2);
        i = e + 1;
    }
    lua_pushinteger(L, n);
    return 1;
}

/* utf8.offset: one call of Lua's own (at most the string's length), charged after it. */
static int m_utf8_offset(lua_State *L)
{
    size_t len;
    luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    lua_Integer i = n >= 0 ? 1 : (lua_Integer)len + 1;
    i = relative(luaL_optinteger(L, 3, i), len);
    luaL_argcheck(L, 1 <= i && --i <= (lua_Integer)len, 3, "position out of bounds");
    int nres = call_orig_placed(L, NULL);
    lua_Integer scanned;
    if (lua_isinteger(L, -1)) {
        lua_Integer at = lua_tointeger(L, -1) - 1;
        scanned = at > i ? at - i : i - at;
    } else {
        scanned = n > 0 ? (lua_Integer)len - i : i;
    }
    charge(L, (uint64_t)scanned / UTF8_BYTES_PER_UNIT, NOTE_UTF8);
    return nres;
}

/* utf8.codepoint: as many values as bytes at most, and no more than the stack holds. */
static int m_utf8_codepoint(lua_State *L)
{
    size_t len;
    luaL_checklstring(L, 1, &len);
    lua_Integer i = relative(luaL_optinteger(L, 2, 1), len);
    lua_Integer e = relative(luaL_optinteger(L, 3, i), len);
    luaL_argcheck(L, i >= 1, 2, "out of bounds");
    luaL_argcheck(L, e <= (lua_Integer)len, 3, "out of bounds");
    if (e >= i) {
        charge(L, (uint64_t)(e - i + 1), NOTE_UTF8);
    }
    return call_orig_placed(L, NULL);
}

/*
 * The iterator utf8.codes returns: Lua's own (upvalue 2), charged for the bytes it passed over.
 * Called with a position in the middle of a run of continuation bytes, Lua's skips the run.
 */
static int m_utf8_iter(lua_State *L)
{
    size_t len;
    luaL_checklstring(L, 1, &len);
    lua_Integer from = lua_tointeger(L, 2);
    lua_settop(L, 2);
    int nres = call_orig_placed(L, NULL);
    lua_Integer to = nres >= 2 ? lua_tointeger(L, -2) : (lua_Integer)len;
    if (from >= 0 && to > from) {
        charge(L, (uint64_t)(to - from) / UTF8_BYTES_PER_UNIT, NOTE_UTF8);
    }
    return nres;
}

/* utf8.codes: upvalues 3 and 4 are the metered iterators, strict and lax. */
static int m_utf8_codes(lua_State *L)
{
    int lax = lua_toboolean(L, 2);
    luaL_checkstring(L, 1);
    lua_pushvalue(L, lua_upvalueindex(lax ? 4 : 3));
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

/* }====== */

/* {====== table ====== */

#define TAB_R  1
#define TAB_W  2
#define TAB_L  4
#define TAB_RW (TAB_R | TAB_W)

/* Pushes mt[key] for the metatable n slots down; true when it is not nil. */
static bool has_metafield(lua_State *L, const char *key, int n)
{
    lua_pushstring(L, key);
    return lua_rawget(L, -n) != LUA_TNIL;
}

/* A table, or a value whose metatable gives what the function needs (as Lua's checks). */
static void check_table(lua_State *L, int arg, int what)
{
    if (lua_type(L, arg) == LUA_TTABLE) {
        return;
    }
    int n = 1;
    if (lua_getmetatable(L, arg) && (!(what & TAB_R) || has_metafield(L, "__index", ++n)) &&
        (!(what & TAB_W) || has_metafield(L, "__newindex", ++n)) &&
        (!(what & TAB_L) || has_metafield(L, "__len", ++n))) {
        lua_pop(L, n);
    } else {
        luaL_checktype(L, arg, LUA_TTABLE); /* raises */
    }
}

static lua_Integer length_of(lua_State *L, int arg, int what)
{
    check_table(L, arg, what | TAB_L);
    return luaL_len(L, arg);
}

/* Counts one element moved; charges every ELEMENT_CHUNK of them. */
static void count_element(lua_State *L, uint64_t *moved)
{
    if ((*moved)++ % ELEMENT_CHUNK == 0) {
        charge(L, ELEMENT_CHUNK * ELEMENT_UNITS, NOTE_TABLE);
    }
}

static int m_insert(lua_State *L)
{
    lua_Integer e = length_of(L, 1, TAB_RW);
    lua_Integer pos;
    uint64_t moved = 0;
    e = (lua_Integer)((lua_Unsigned)e + 1u); /* the first empty slot (wraps as Lua's does) */
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        for (lua_Integer i = e; i > pos; i--) {
            count_element(L, &moved);
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

static int m_remove(lua_State *L)
{
    lua_Integer size = length_of(L, 1, TAB_RW);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    uint64_t moved = 0;
    if (pos != size) {
        /* argument #1, as Lua 5.4's own says */
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 1, "position out of bounds");
    }
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) {
        count_element(L, &moved);
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

static void concat_field(lua_State *L, luaL_Buffer *b, lua_Integer i)
{
    lua_geti(L, 1, i);
    if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid value (%s) at index %I in table for 'concat'", luaL_typename(L, -1),
                   (LUAI_UACINT)i);
    }
    luaL_addvalue(b);
}

static int m_concat(lua_State *L)
{
    luaL_Buffer b;
    lua_Integer last = length_of(L, 1, TAB_R);
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    uint64_t moved = 0;
    last = luaL_optinteger(L, 4, last);
    luaL_buffinit(L, &b);
    for (; i < last; i++) {
        count_element(L, &moved);
        concat_field(L, &b, i);
        luaL_addlstring(&b, sep, lsep);
    }
    if (i == last) {
        concat_field(L, &b, i);
    }
    luaL_pushresult(&b);
    return 1;
}

/* table.move: element by element in the order Lua's moves them (metamethods see the same
   sequence), charged every ELEMENT_CHUNK. */
static int m_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1; /* the destination table */
    uint64_t moved = 0;
    check_table(L, 1, TAB_R);
    check_table(L, tt, TAB_W);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        /* upwards unless the destination overlaps the source from above */
        if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
            for (lua_Integer i = 0; i < n; i++) {
                count_element(L, &moved);
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
            }
        } else {
            for (lua_Integer i = n - 1; i >= 0; i--) {
                count_element(L, &moved);
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
            }
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

/* The comparison table.sort makes without a comparator, charged by the bytes it compares. */
static int m_less(lua_State *L)
{
    uint64_t units = 1;
    if (lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING) {
        size_t a = lua_rawlen(L, 1), b = lua_rawlen(L, 2);
        units += (a < b ? a : b) / COMPARE_BYTES;
    }
    charge(L, units, NOTE_SORT);
    lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
    return 1;
}

/* table.sort: Lua's own, with m_less (upvalue 3) when the script gives no comparator. */
static int m_sort(lua_State *L)
{
    lua_Integer n = length_of(L, 1, TAB_RW);
    if (n > 1) {
        luaL_argcheck(L, n < INT_MAX, 1, "array too big");
        if (!lua_isnoneornil(L, 2)) {
            luaL_checktype(L, 2, LUA_TFUNCTION);
        }
        lua_settop(L, 2);
        if (lua_isnil(L, 2)) {
            lua_pushvalue(L, lua_upvalueindex(3));
            lua_replace(L, 2);
        }
        call_orig_placed(L, "invalid order function for sorting");
    }
    return 0;
}

/* }====== */

struct meter_fn {
    const char *name;
    lua_CFunction fn;
};

static const struct meter_fn base_fns[] = {{"tonumber", m_tonumber}, {NULL, NULL}};
static const struct meter_fn math_fns[] = {{"tointeger", m_tointeger}, {NULL, NULL}};
static const struct meter_fn table_fns[] = {
    {"insert", m_insert}, {"remove", m_remove}, {"concat", m_concat},
    {"move", m_move},     {NULL, NULL},
};
static const struct meter_fn utf8_fns[] = {
    {"len", m_utf8_len},
    {"offset", m_utf8_offset},
    {"codepoint", m_utf8_codepoint},
    {NULL, NULL},
};

/* Replaces t[name] (t at idx, absolute) by fn with upvalues lua, Lua's function and `extra`
   more values from the top of the stack (popped). Absent functions are left alone. */
static void replace(lua_State *L, int idx, const char *name, lua_CFunction fn, struct wr_lua *lua,
                    int extra)
{
    if (lua_getfield(L, idx, name) != LUA_TFUNCTION) {
        lua_pop(L, 1 + extra);
        return;
    }
    lua_pushlightuserdata(L, lua);
    lua_insert(L, -2); /* ... extras, lua, orig */
    for (int i = 0; i < extra; i++) {
        lua_rotate(L, -(extra + 2), -1); /* move the extras above lua and orig, in order */
    }
    lua_pushcclosure(L, fn, 2 + extra);
    lua_setfield(L, idx, name);
}

void wr_lua_open_meter(lua_State *L, int idx, enum wr_lua_meter_lib lib, struct wr_lua *lua)
{
    const struct meter_fn *fns = NULL;
    idx = lua_absindex(L, idx);
    switch (lib) {
    case WR_LUA_METER_BASE:
        fns = base_fns;
        break;
    case WR_LUA_METER_MATH:
        fns = math_fns;
        break;
    case WR_LUA_METER_STRING_MT:
        for (int op = 0; op < (int)(sizeof(arith_names) / sizeof(arith_names[0])); op++) {
            if (arith_names[op]) {
                lua_pushinteger(L, op);
                replace(L, idx, arith_names[op], m_arith, lua, 1);
            }
        }
        return;
    case WR_LUA_METER_TABLE:
        fns = table_fns;
        /* sort carries its charged comparison */
        lua_pushlightuserdata(L, lua);
        lua_pushnil(L);
        lua_pushcclosure(L, m_less, 2);
        replace(L, idx, "sort", m_sort, lua, 1);
        break;
    case WR_LUA_METER_UTF8:
        fns = utf8_fns;
        /* codes hands out metered iterators wrapping Lua's two (got from Lua's codes) */
        if (lua_getfield(L, idx, "codes") == LUA_TFUNCTION) {
            for (int lax = 0; lax < 2; lax++) {
                lua_pushvalue(L, -1 - lax);
                lua_pushliteral(L, "");
                lua_pushboolean(L, lax);
                lua_call(L, 2, 1);
                lua_pushlightuserdata(L, lua);
                lua_insert(L, -2);
                lua_pushcclosure(L, m_utf8_iter, 2);
            }
            lua_remove(L, -3); /* Lua's codes */
            replace(L, idx, "codes", m_utf8_codes, lua, 2);
        } else {
            lua_pop(L, 1);
        }
        break;
    }
    for (size_t i = 0; fns[i].name; i++) {
        replace(L, idx, fns[i].name, fns[i].fn, lua, 0);
    }
}
