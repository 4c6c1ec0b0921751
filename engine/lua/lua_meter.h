/*
 * lua_meter — metered versions of the Lua library functions (other than the pattern functions,
 * engine/lua/lua_pattern) whose one C call can take long: the work they do is charged to the
 * running evaluation's budget, with looks at the clock, so the sandbox's time limit holds.
 *
 * The count hook (engine/lua/lua_host) sees Lua instructions only. These calls do work no
 * instruction counts, in proportion to a string's length or to a range of indices the script
 * chooses: utf8.len over 30 MB (50 ms), table.move({}, 1, 2^62, 2) (forever: it moves nils),
 * table.sort of long strings without a comparator (each comparison a memcmp, none of them an
 * instruction), table.insert/remove/concat over a length that __len makes up, tonumber and
 * arithmetic on a long numeric string (strtod over every digit).
 *
 * Each replacement behaves as Lua 5.4's own function (results, argument checks and error
 * messages are the same; tests/unit/test_lua_meter.c compares them side by side) and charges
 * its work through wr_lua_charge as it goes, in pieces: utf8.len calls Lua's own function on
 * slices of the string; table.insert, remove, concat and move, and strings' arithmetic, are
 * weir's code; sort gets a comparator that charges each comparison when the script gives none.
 * Functions that merely wrap Lua's own (utf8.offset, utf8.codepoint, the codes iterator,
 * tonumber, math.tointeger) charge before or after one call whose length the state's memory
 * cap bounds.
 *
 * This module knows nothing of workflows; lua_host installs it into the real library tables.
 */
#ifndef WR_LUA_METER_H
#define WR_LUA_METER_H

struct lua_State;
struct wr_lua;

enum wr_lua_meter_lib {
    WR_LUA_METER_BASE,      /* the base library table: tonumber */
    WR_LUA_METER_TABLE,     /* table: sort, move, insert, remove, concat */
    WR_LUA_METER_MATH,      /* math: tointeger */
    WR_LUA_METER_UTF8,      /* utf8: len, offset, codepoint, codes */
    WR_LUA_METER_STRING_MT, /* strings' metatable: __add, __sub, ... (string to number) */
};

/*
 * Replaces lib's functions in the table at index idx of L's stack with metered ones; each keeps
 * the original as an upvalue. Their work is charged to lua's evaluations (borrowed; must
 * outlive L's use of them); with lua NULL nothing is charged (tests compare them with Lua's).
 */
void wr_lua_open_meter(struct lua_State *L, int idx, enum wr_lua_meter_lib lib, struct wr_lua *lua);

#endif
