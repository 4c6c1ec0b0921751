/*
 * lua_pattern — weir's own string.find, string.match, string.gmatch, string.gsub and
 * string.rep for the Lua sandbox: Lua 5.4's semantics, with the work they do counted.
 *
 * The sandbox's instruction budget (a count hook, engine/lua/lua_host) sees Lua instructions only;
 * the time one call of a C function takes is invisible to it. Lua's pattern matcher
 * backtracks, so one call can take seconds or forever ("^%s*(.-)%s*$" on 30 KB of spaces,
 * ".-.-.-.-.-.-b" on 3 KB), a plain find is quadratic in the worst case, and string.rep("", n)
 * loops n times to build "" — all while the event loop, and every listener on it, waits.
 *
 * These functions give the same results, captures, positions and error messages as Lua 5.4's
 * (the reference manual, section 6.4.1; lstrlib.c's behaviour was the model, the code is
 * weir's), and charge their work to the running evaluation's budget through wr_lua_charge:
 * a pattern that backtracks too much fails the evaluation the way an endless loop does — an
 * error that pcall inside the script cannot swallow. A plain find uses memmem (linear) and
 * is charged by the bytes it scans; string.rep returns "" at once when that is the result (its
 * other copies are charged by lua_host's allocator, as every allocation of a script is).
 *
 * This module knows nothing of workflows; lua_host installs it into the real string table,
 * which strings' metatable also reaches, so s:find(...) is covered as well.
 */
#ifndef WR_LUA_PATTERN_H
#define WR_LUA_PATTERN_H

#include <stdint.h>

struct lua_State;
struct wr_lua;

/*
 * Matcher steps (one visit of a pattern item at a subject position, or 4 bytes scanned) per
 * unit of the instruction budget. Measured (bench_lua): a budget spent on backtracking patterns
 * lasts 1.5 to 2.5 times as long as the same budget spent on a Lua loop.
 */
#define WR_LUA_PATTERN_STEPS_PER_UNIT 1

/*
 * Replaces find, match, gmatch, gsub and rep in the string library table at index idx of L's
 * stack. Their work is charged to lua's evaluations (wr_lua_charge; borrowed, must outlive L's
 * use of them). With lua NULL nothing is charged and max_steps (0 = none) bounds each call
 * instead, failing it with "pattern step limit exceeded": for tests and fuzzing, where the
 * functions run in a plain lua_State beside the real library.
 */
void wr_lua_open_patterns(struct lua_State *L, int idx, struct wr_lua *lua, uint64_t max_steps);

#endif
