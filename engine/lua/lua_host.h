/*
 * lua_host — weir's sandboxed Lua 5.4: conditions, templates and field-mapping hooks.
 *
 * One struct wr_lua per workflow holds one lua_State with a sandbox: the string, table, math
 * and utf8 libraries, safe base functions, os.time/os.date/os.clock, the weir.* helpers and
 * `env` (the environment variables weir.yaml's lua.env_allow lists, read-only) —
 * never io, os.execute, require, load, debug, string.dump or collectgarbage, and never
 * bytecode. Every evaluation runs under an instruction budget (a count hook), a wall-clock
 * time limit (the same hook reads a monotonic clock) and the state under a memory cap (a custom
 * allocator); hitting any of them fails that evaluation with a clear message naming the limit
 * and the script line, that pcall inside the script cannot swallow, and leaves the state usable.
 * Library functions whose work inside one C call no instruction counts (patterns, utf8, table,
 * string-to-number conversions: engine/lua/lua_pattern, engine/lua/lua_meter) charge it to the
 * budget and look at the clock as they go.
 *
 * Expressions (`when:` and `{{ }}`) are compiled once and cached by their source text; hooks
 * are loaded once per script file. Values cross the boundary as json-c trees (see
 * wr_lua_push_json / wr_lua_to_json for the mapping). This module evaluates; it does not
 * know about runs, steps or Graph.
 */
#ifndef WR_LUA_HOST_H
#define WR_LUA_HOST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lua_State;

#define WR_LUA_EXPR_BUDGET  1000000ULL  /* instructions per expression evaluation */
#define WR_LUA_HOOK_BUDGET  50000000ULL /* instructions per hook call */
#define WR_LUA_MEMORY_CAP   (64u << 20) /* bytes per Lua state */
#define WR_LUA_MAX_DEPTH    64          /* nesting depth when converting values */
#define WR_LUA_EXPR_TIME_MS 100         /* wall-clock ms per expression or template evaluation */
#define WR_LUA_HOOK_TIME_MS 1000        /* wall-clock ms per hook call (and a script's top level) */

/* Each field 0 = the process default (wr_lua_set_defaults), else the constant above. */
struct wr_lua_limits {
    uint64_t expr_instructions; /* WR_LUA_EXPR_BUDGET */
    uint64_t hook_instructions; /* WR_LUA_HOOK_BUDGET */
    size_t memory;              /* WR_LUA_MEMORY_CAP */
    uint64_t expr_time_ms;      /* WR_LUA_EXPR_TIME_MS: weir.yaml lua.expr_timeout */
    uint64_t hook_time_ms;      /* WR_LUA_HOOK_TIME_MS: weir.yaml lua.hook_timeout */
};

/*
 * Sets the process-wide defaults that states made afterwards use for the fields their own
 * limits leave 0 (weir.yaml's lua.* settings, applied once after loading it and before loading
 * workflows). limits is copied; NULL restores the built-in constants. Not thread-safe: call it
 * before other threads make states.
 */
void wr_lua_set_defaults(const struct wr_lua_limits *limits);

/* Receives weir.log() lines. level is "debug", "info", "warn" or "error". */
typedef void (*wr_lua_log_fn)(void *arg, const char *level, const char *msg);

struct wr_lua;

/*
 * Creates a sandboxed state. limits may be NULL (defaults). env_allow is a NULL-terminated
 * list of environment variable names weir.env() may read (NULL = none). Returns NULL only
 * when the state cannot be allocated.
 */
struct wr_lua *wr_lua_new(const struct wr_lua_limits *limits, const char *const *env_allow);

void wr_lua_free(struct wr_lua *lua);

/* Where weir.log() goes; without a sink, lines go to stderr. */
void wr_lua_set_log(struct wr_lua *lua, wr_lua_log_fn fn, void *arg);

/* A monotonic clock in nanoseconds, for tests (the time limits read it). */
typedef uint64_t (*wr_lua_clock_fn)(void *arg);

/* Replaces the time limits' clock (CLOCK_MONOTONIC); fn NULL restores it. For tests. */
void wr_lua_set_clock(struct wr_lua *lua, wr_lua_clock_fn fn, void *arg);

/* The raw state, for the weir.* library and tests. Borrowed. */
struct lua_State *wr_lua_state(struct wr_lua *lua);

/* {====== values ====== */

/* Light userdata that stands for JSON null in Lua (weir.null). */
extern const char wr_lua_null_tag;
#define WR_LUA_NULL ((void *)&wr_lua_null_tag)

/*
 * Pushes v as a Lua value (raises a Lua error when v nests deeper than WR_LUA_MAX_DEPTH or
 * memory runs out, so call it inside a protected call): object -> table, array -> sequence (marked
 * as an array so that an empty one converts back to []), null -> weir.null, integer -> integer,
 * double -> float, string -> string (byte-exact), boolean -> boolean. An integer json-c holds
 * as unsigned above INT64_MAX raises an error rather than becoming a rounded float.
 */
void wr_lua_push_json(struct lua_State *L, struct json_object *v);

/*
 * Converts the Lua value at idx to a new json-c value (owned; NULL stands for JSON null).
 * Tables marked as arrays, and tables whose keys are exactly 1..n (n >= 1), become arrays;
 * other tables become objects and need string keys. nil and weir.null become null; floats
 * keep the fewest digits that read back the same (wr_lua_new_double). Returns 0,
 * or -1 with a message naming the offending key path in err (functions, userdata, mixed or
 * non-string keys, NaN/inf, strings that are not UTF-8, nesting over WR_LUA_MAX_DEPTH,
 * cycles). It reads tables raw (no metamethods run) and never raises a Lua error.
 */
int wr_lua_to_json(struct lua_State *L, int idx, struct json_object **out, char *err,
                   size_t errlen);

/* A json-c double written with the fewest digits that read back as d (0.1, not
   0.10000000000000001); a whole number keeps ".0". Owned. */
struct json_object *wr_lua_new_double(double d);

/* Marks the table at idx as a JSON array (so {} converts to []). */
void wr_lua_mark_array(struct lua_State *L, int idx);

/* }====== */

/* {====== scopes, expressions and templates ====== */

/*
 * A scope is the set of names an expression sees: event, steps, run, vars (and error in
 * on_error steps). It lives in the state; the int is a handle. wr_lua_scope_set converts v
 * once, so many expressions over one event pay for the conversion once.
 */
int wr_lua_scope_new(struct wr_lua *lua);
/* Returns 0, or -1 when v cannot be converted (too deep, out of memory). */
int wr_lua_scope_set(struct wr_lua *lua, int scope, const char *name, struct json_object *v);
void wr_lua_scope_free(struct wr_lua *lua, int scope);

/*
 * Compiles an expression (cached by its text, so compiling again is a lookup). Returns 0, or
 * -1 with Lua's message in err.
 */
int wr_lua_compile(struct wr_lua *lua, const char *expr, size_t len, char *err, size_t errlen);

/*
 * Evaluates an expression in a scope and converts its value: *out is owned (NULL for nil or
 * null). Returns 0, or -1 with a message in err that names the expression (runtime error,
 * budget or memory limit hit, unconvertible value).
 */
int wr_lua_eval(struct wr_lua *lua, int scope, const char *expr, size_t len,
                struct json_object **out, char *err, size_t errlen);

/* Evaluates a condition: Lua truthiness (nil and false are false). Returns 0/-1 like eval. */
int wr_lua_eval_bool(struct wr_lua *lua, int scope, const char *expr, bool *out, char *err,
                     size_t errlen);

/*
 * Renders a value that may hold templates, recursively: a whole-value template string takes
 * the expression's value (nil and weir.null both give *out NULL), an interpolated string
 * becomes a string, everything else is copied. In an interpolation nil and weir.null are
 * errors naming the expression ("x {{ nil }}" never becomes "x " or "x nil"), and so is a
 * table; numbers are written exactly (integers as they are, 12345678901234567.0 as
 * 12345678901234568, not 1.2345678901235e+16). *out is owned. Returns 0 or -1 with err set.
 */
int wr_lua_render(struct wr_lua *lua, int scope, struct json_object *v, struct json_object **out,
                  char *err, size_t errlen);

/*
 * The same for values that leave weir — action arguments, bound for Graph or an outside
 * service: a whole-value template that yields nil fails instead of becoming null (which Graph
 * reads as "clear this property"); only weir.null (or JSON null from the event) is sent as
 * null. path is where v sits ("steps[2]", may be NULL); every message starts with the key
 * path of the template concerned: "steps[2].set.officeLocation: template '{{ ... }}' is nil".
 */
int wr_lua_render_args(struct wr_lua *lua, int scope, struct json_object *v, const char *path,
                       struct json_object **out, char *err, size_t errlen);

/*
 * Compiles every template expression in the string s. Returns 0 (also for a string without
 * templates), or -1 with "in '{{ expr }}': message" in err.
 */
int wr_lua_compile_string(struct wr_lua *lua, const char *s, char *err, size_t errlen);

/* Compiles every template expression inside v (for load-time errors). Returns 0 or -1. */
int wr_lua_compile_templates(struct wr_lua *lua, struct json_object *v, char *err, size_t errlen);

/* }====== */

/* {====== mapping hooks ====== */

/*
 * Loads a hook script once (text only) into its own environment over the sandbox, runs its
 * top level, and checks that `function` is defined there. Returns a handle >= 0, or -1 with
 * "path:line: message" in err (syntax error, runtime error at top level, missing function).
 * Loading the same path and function again returns the same handle.
 */
int wr_lua_load_hook(struct wr_lua *lua, const char *path, const char *function, char *err,
                     size_t errlen);

/*
 * Calls hook(event, ctx) under the hook budget. event and ctx are converted afresh, so a hook
 * may change its arguments freely. *out is the converted return value (owned). On failure
 * returns -1, err holds "path:line: message" and, when trace is not NULL, *trace an owned Lua
 * traceback.
 */
int wr_lua_call_hook(struct wr_lua *lua, int hook, struct json_object *event,
                     struct json_object *ctx, struct json_object **out, char *err, size_t errlen,
                     char **trace);

/* }====== */

/* Installs the weir.* helper library into the sandbox globals at the top of the stack
   (engine/lua/lua_lib.c). */
void wr_lua_open_weir(struct lua_State *L, struct wr_lua *lua);

/* Looks up an allowed environment variable for weir.env(); NULL when not allowed or unset. */
const char *wr_lua_env_get(struct wr_lua *lua, const char *name, bool *allowed);

/* Sends one weir.log() line to the sink. */
void wr_lua_log(struct wr_lua *lua, const char *level, const char *msg);

/*
 * Charges units of work done inside a C function (engine/lua/lua_pattern: matcher steps;
 * engine/lua/lua_meter, engine/lua/lua_lib: bytes and elements) to the running evaluation's
 * instruction budget (one unit is worth about one Lua instruction), and every thousand units
 * or so looks at the clock. When the budget or the time runs out, the evaluation is stopped as
 * the count hook stops it: a Lua error raised here on L, raised again after any pcall that
 * catches it. note (static, may be NULL) says what spends the budget, for the message
 * ("(a string pattern that backtracks too much, or too long a subject?)"). Outside an
 * evaluation (limits off) it does nothing.
 */
void wr_lua_charge(struct lua_State *L, struct wr_lua *lua, uint64_t units, const char *note);

#endif
