/*
 * lua_host — the sandboxed Lua state, value conversion, expressions, templates and hooks;
 * see lua_host.h.
 *
 * Limits. A count hook charges every evaluation against its instruction budget and looks at a
 * monotonic clock against its time limit. When the budget, the time or the memory cap runs
 * out, the state is "killed": the hook is re-armed to fire on every instruction, so an error is
 * raised again right after any pcall inside the script catches it, until control is back in C
 * (Redis does the same for its script timeout). The next evaluation disarms it. Finalizers
 * (__gc) run with hooks off, so the sandbox's setmetatable refuses metatables that carry __gc.
 *
 * How often the hook runs. Most instructions take nanoseconds, so every 1000 is plenty; but one
 * comparison of two 16 MB strings takes half a millisecond, and a loop of them would let 1000
 * instructions run for a quarter of a second. The allocator therefore keeps the long strings
 * alive in the state (the only values one instruction can spend time on in proportion to their
 * size: ==, <, the first hash of a table key) and the hook runs every STEP_BYTES / (the longest
 * string's size) instructions when that is fewer; and when the clock shows that an interval
 * took longer than STEP_TARGET_NS anyway, the hook runs proportionally more often for the rest
 * of the evaluation (back up by doubling while intervals are short).
 */
#include "engine/lua/lua_host.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/base/duration.h"
#include "engine/lua/lua_meter.h"
#include "engine/lua/lua_pattern.h"
#include "engine/base/srcdoc.h"
#include "engine/base/secret.h"
#include "engine/base/strutil.h"
#include "engine/lua/template.h"

const char wr_lua_null_tag = 0;

enum kill_reason {
    KILL_NONE,
    KILL_BUDGET,
    KILL_MEMORY,
    KILL_TIME,
};

/* A long string alive in the state (see "How often the hook runs"). */
struct long_string {
    const void *p;
    size_t n;
};

struct wr_lua {
    lua_State *L;
    size_t mem_used;
    size_t mem_cap;
    bool limits_on; /* the cap applies while scripts run, not while weir builds the sandbox */
    enum kill_reason kill;
    int64_t budget_left; /* instructions left in this evaluation */
    uint64_t expr_budget;
    uint64_t hook_budget;
    uint64_t expr_time_ms;
    uint64_t hook_time_ms;
    char kill_where[128];  /* "path:line" where the budget ran out, when known */
    const char *kill_note; /* what spent the budget, when not instructions (static) */
    /* this evaluation's time limit */
    uint64_t time_ms;
    const char *time_key; /* its weir.yaml key, for the message */
    uint64_t deadline;    /* clock value at which it runs out */
    uint64_t last_tick;   /* clock at the previous count-hook call */
    uint64_t unclocked;   /* units charged by C functions since the last look at the clock */
    int step;             /* instructions between count-hook calls now */
    int step_time;        /* at most this many, after what the clock has shown */
    /* long strings alive (malloc'd array, not in the Lua heap) and the longest one's size */
    struct long_string *longs;
    size_t nlongs, longs_cap, longest;
    wr_lua_clock_fn clock;
    void *clock_arg;
    wr_lua_log_fn log;
    void *log_arg;
    char **env_allow; /* owned, NULL-terminated */
    int globals;      /* registry ref: the sandbox globals G */
    int cache;        /* registry ref: expression source -> compiled function */
    int hooks;        /* registry ref: sequence of {fn, env, path} */
    int hook_index;   /* registry ref: "path\0function" -> handle */
    int array_mt;     /* registry ref: metatable marking JSON arrays */
    int scope_mt;     /* registry ref: metatable of scopes: __index = G */
    int view_obj_mt;  /* registry ref: metatable of object views */
    int view_arr_mt;  /* registry ref: metatable of array views */
    int view_scopes;  /* registry ref: scope handle -> {views..., refs = {json...}} */
    char *trace;      /* traceback captured by the message handler, owned */
};

#define STEP_MAX       1000          /* instructions between count-hook calls, at most */
#define STEP_TARGET_NS 2000000       /* an interval should not take longer (2 ms) */
#define LONG_STRING    (64u << 10)   /* strings this long or longer are kept track of */
#define STEP_BYTES     (64ull << 20) /* bytes one interval may compare: about 2 ms */
#define CLOCK_UNITS    1000          /* units charged by C functions between looks at the clock */
#define NS_PER_MS      1000000ull

/* {====== allocator and limits ====== */

static void arm_kill(struct wr_lua *lua);
static void retune(struct wr_lua *lua);
static void count_hook(lua_State *L, lua_Debug *ar);

static struct wr_lua_limits defaults; /* wr_lua_set_defaults; 0 = the built-in constant */

void wr_lua_set_defaults(const struct wr_lua_limits *limits)
{
    if (limits) {
        defaults = *limits;
    } else {
        memset(&defaults, 0, sizeof(defaults));
    }
}

static uint64_t clock_now(struct wr_lua *lua)
{
    if (lua->clock) {
        return lua->clock(lua->clock_arg);
    }
    return (uint64_t)wr_clock_mono_ns();
}

void wr_lua_set_clock(struct wr_lua *lua, wr_lua_clock_fn fn, void *arg)
{
    lua->clock = fn;
    lua->clock_arg = arg;
}

/*
 * Bytes allocated per unit of the instruction budget. Copying or filling memory is work that
 * no instruction counts: string.rep, string.format, table.concat, .., upper, gsub's result
 * each do O(n) in one call. Charging what they allocate bounds the time a script can spend in
 * them (64 bytes take about as long as one instruction); the memory cap bounds only the size.
 */
#define ALLOC_BYTES_PER_UNIT 16

/* Charges an allocation of n bytes; out of budget, stops the script at its next instruction
   (an allocator must not raise). */
static void charge_bytes(struct wr_lua *lua, size_t n)
{
    lua->budget_left -= (int64_t)(n / ALLOC_BYTES_PER_UNIT);
    if (lua->budget_left <= 0 && lua->kill == KILL_NONE) {
        lua->kill = KILL_BUDGET;
        lua->kill_note = "(the script copies or builds too much text or too many tables)";
        arm_kill(lua);
    }
}

/* Remembers a new long string; when it is the longest, the count hook runs more often. */
static void long_add(struct wr_lua *lua, const void *p, size_t n)
{
    if (lua->nlongs == lua->longs_cap) {
        size_t cap = lua->longs_cap ? 2 * lua->longs_cap : 16;
        struct long_string *a = realloc(lua->longs, cap * sizeof(*a));
        if (!a) {
            return; /* untracked: the clock still adapts the hook's interval */
        }
        lua->longs = a;
        lua->longs_cap = cap;
    }
    lua->longs[lua->nlongs++] = (struct long_string){p, n};
    if (n > lua->longest) {
        lua->longest = n;
        if (lua->limits_on && lua->kill == KILL_NONE) {
            retune(lua);
        }
    }
}

/* Forgets the block p of n bytes if it is a long string. */
static void long_free(struct wr_lua *lua, const void *p, size_t n)
{
    for (size_t i = 0; i < lua->nlongs; i++) {
        if (lua->longs[i].p != p) {
            continue;
        }
        lua->longs[i] = lua->longs[--lua->nlongs];
        if (n == lua->longest) {
            lua->longest = 0;
            for (size_t k = 0; k < lua->nlongs; k++) {
                if (lua->longs[k].n > lua->longest) {
                    lua->longest = lua->longs[k].n;
                }
            }
        }
        return;
    }
}

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct wr_lua *lua = ud;
    size_t old = ptr ? osize : 0;

    if (nsize == 0) {
        if (old >= LONG_STRING) {
            long_free(lua, ptr, old); /* strings are never resized: only a free ends one */
        }
        free(ptr);
        lua->mem_used -= old;
        return NULL;
    }
    if (lua->limits_on && nsize > old && lua->mem_used - old + nsize > lua->mem_cap) {
        if (lua->kill == KILL_NONE) {
            lua->kill = KILL_MEMORY;
            arm_kill(lua);
        }
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        return NULL;
    }
    lua->mem_used = lua->mem_used - old + nsize;
    /* A new object's osize is its type (lua_Alloc's contract): keep track of long strings. */
    if (!ptr && osize == LUA_TSTRING && nsize >= LONG_STRING) {
        long_add(lua, p, nsize);
    }
    if (lua->limits_on && nsize > old) {
        charge_bytes(lua, nsize - old);
    }
    return p;
}

static struct wr_lua *host_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

static const char *kill_text(enum kill_reason k)
{
    switch (k) {
    case KILL_MEMORY:
        return "memory limit exceeded";
    case KILL_TIME:
        return "time limit exceeded";
    default:
        return "instruction budget exceeded";
    }
}

static void kill_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    luaL_error(L, "%s", kill_text(host_of(L)->kill));
}

static void arm_kill(struct wr_lua *lua)
{
    lua_sethook(lua->L, kill_hook, LUA_MASKCOUNT, 1);
}

/* Stops the evaluation for reason k: notes where (ar at the script's line, may be NULL),
   arms the kill and raises. */
static void kill_now(lua_State *L, struct wr_lua *lua, enum kill_reason k, lua_Debug *ar)
{
    lua->kill = k;
    if (ar && lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
        snprintf(lua->kill_where, sizeof(lua->kill_where), "%s:%d", ar->short_src, ar->currentline);
    }
    arm_kill(lua);
    luaL_error(L, "%s", kill_text(k));
}

/* The count hook's interval for now: the clock's cap, and fewer with long strings about. */
static int step_wanted(struct wr_lua *lua)
{
    int s = lua->step_time;
    if (lua->longest > 0 && STEP_BYTES / lua->longest < (uint64_t)s) {
        s = (int)(STEP_BYTES / lua->longest);
    }
    return s < 1 ? 1 : s;
}

/* Re-arms the count hook when its interval should change (not while killed). */
static void retune(struct wr_lua *lua)
{
    int s = step_wanted(lua);
    if (s != lua->step) {
        lua->step = s;
        lua_sethook(lua->L, count_hook, LUA_MASKCOUNT, s);
    }
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    struct wr_lua *lua = host_of(L);
    lua->budget_left -= lua->step;
    if (lua->budget_left <= 0) {
        kill_now(L, lua, KILL_BUDGET, ar);
    }
    uint64_t now = clock_now(lua);
    if (now >= lua->deadline) {
        kill_now(L, lua, KILL_TIME, ar);
    }
    uint64_t dt = now - lua->last_tick;
    lua->last_tick = now;
    lua->unclocked = 0;
    if (dt > STEP_TARGET_NS) {
        uint64_t s = (uint64_t)lua->step * STEP_TARGET_NS / dt;
        lua->step_time = s < 1 ? 1 : (int)s;
    } else if (dt < STEP_TARGET_NS / 8 && lua->step_time < STEP_MAX) {
        lua->step_time = lua->step_time * 2 > STEP_MAX ? STEP_MAX : lua->step_time * 2;
    }
    retune(lua);
}

void wr_lua_charge(lua_State *L, struct wr_lua *lua, uint64_t units, const char *note)
{
    if (!lua->limits_on) {
        return;
    }
    if (lua->kill != KILL_NONE) {
        luaL_error(L, "%s", kill_text(lua->kill));
    }
    if (units > (uint64_t)INT32_MAX) {
        units = INT32_MAX;
    }
    lua->budget_left -= (int64_t)units;
    lua->unclocked += units;
    enum kill_reason k = KILL_NONE;
    if (lua->budget_left <= 0) {
        k = KILL_BUDGET;
        lua->kill_note = note;
    } else if (lua->unclocked >= CLOCK_UNITS) {
        lua->unclocked = 0;
        if (clock_now(lua) >= lua->deadline) {
            k = KILL_TIME;
        }
    }
    if (k != KILL_NONE) {
        /* Where: the nearest Lua function up the stack (the caller of the C function, or
           of table.sort that called it). */
        lua_Debug ar;
        for (int level = 1; level < 8 && lua_getstack(L, level, &ar); level++) {
            if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) {
                kill_now(L, lua, k, &ar);
            }
        }
        kill_now(L, lua, k, NULL);
    }
}

/* Starts an evaluation (a hook's or an expression's): fresh budget and deadline, no kill,
   limits on. */
static void limits_begin(struct wr_lua *lua, bool hook)
{
    lua->kill = KILL_NONE;
    lua->kill_note = NULL;
    lua->kill_where[0] = '\0';
    lua->budget_left = (int64_t)(hook ? lua->hook_budget : lua->expr_budget);
    lua->time_ms = hook ? lua->hook_time_ms : lua->expr_time_ms;
    lua->time_key = hook ? "lua.hook_timeout" : "lua.expr_timeout";
    lua->last_tick = clock_now(lua);
    lua->deadline = lua->last_tick + lua->time_ms * NS_PER_MS;
    lua->unclocked = 0;
    lua->step_time = STEP_MAX;
    lua->step = step_wanted(lua);
    lua->limits_on = true;
    lua_sethook(lua->L, count_hook, LUA_MASKCOUNT, lua->step);
}

/* Ends an evaluation; after a kill, collects the garbage the script left behind. */
static void limits_end(struct wr_lua *lua)
{
    lua_sethook(lua->L, NULL, 0, 0);
    lua->limits_on = false;
    if (lua->kill != KILL_NONE) {
        lua_gc(lua->L, LUA_GCCOLLECT);
    }
}

/*
 * Writes the message for a failed evaluation into err. `what` names the expression or the
 * script; `budget` is the instruction budget that applied.
 */
static void failure_message(struct wr_lua *lua, const char *what, const char *msg, uint64_t budget,
                            char *err, size_t errlen)
{
    const char *where = lua->kill_where[0] ? lua->kill_where : what;
    if (lua->kill == KILL_BUDGET) {
        snprintf(err, errlen, "%s: instruction budget of %llu exceeded %s", where,
                 (unsigned long long)budget,
                 lua->kill_note ? lua->kill_note : "(an endless loop?)");
    } else if (lua->kill == KILL_TIME) {
        char d[WR_DURATION_BUFLEN];
        snprintf(err, errlen,
                 "%s: time limit of %s exceeded (weir.yaml %s; a long loop, or slow work on "
                 "long strings or big tables?)",
                 where, wr_duration_format((int64_t)lua->time_ms, d, sizeof(d)), lua->time_key);
    } else if (lua->kill == KILL_MEMORY) {
        if (lua->mem_cap % (1u << 20) == 0) {
            snprintf(err, errlen, "%s: memory limit of %zu MiB exceeded", what, lua->mem_cap >> 20);
        } else {
            snprintf(err, errlen, "%s: memory limit of %zu KiB exceeded", what, lua->mem_cap >> 10);
        }
    } else {
        snprintf(err, errlen, "%s: %s", what, msg ? msg : "error");
    }
}

/* }====== */

/* {====== the sandbox ====== */

static bool view_is_object(lua_State *L, int idx);
static void view_materialize(lua_State *L, int idx);

static int sb_getmetatable(lua_State *L)
{
    /* Only tables: strings' metatable leads to the real string library. */
    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_pushnil(L);
        return 1;
    }
    if (view_is_object(L, 1)) {
        lua_pushnil(L); /* a view of a JSON object passes for the plain table it stands for */
        return 1;
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
        return 1;
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
    }
    return 1;
}

static int sb_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int t = lua_type(L, 2);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        /* Finalizers run with hooks off, outside any budget: refuse them. */
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL) {
            return luaL_error(L, "__gc metamethods are not allowed in weir scripts");
        }
        lua_pop(L, 1);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
        return luaL_error(L, "cannot change a protected metatable");
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int readonly_newindex(lua_State *L)
{
    return luaL_error(L, "cannot change '%s': weir's libraries are read-only",
                      luaL_optstring(L, 2, "?"));
}

/* env.NAME: an allowed environment variable, nil when unset; an error when not allowed. */
static int env_index(lua_State *L)
{
    struct wr_lua *lua = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 2);
    bool allowed;
    const char *v = wr_lua_env_get(lua, name, &allowed);
    if (!allowed) {
        return luaL_error(L, "env.%s: '%s' is not listed in weir.yaml lua.env_allow", name, name);
    }
    if (v) {
        lua_pushstring(L, v);
    } else {
        lua_pushnil(L);
    }
    return 1;
}

/* __pairs of a proxy: iterate the real table it stands for. */
static int proxy_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1)); /* next */
    lua_pushvalue(L, lua_upvalueindex(2)); /* the real table */
    lua_pushnil(L);
    return 3;
}

/* Replaces the table at the top of the stack by a read-only proxy to it. */
static void make_proxy(lua_State *L)
{
    lua_newtable(L);          /* real proxy */
    lua_createtable(L, 0, 4); /* real proxy mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_getfield(L, -1, "next");
    lua_remove(L, -2);
    lua_pushvalue(L, -4);
    lua_pushcclosure(L, proxy_pairs, 2);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* Copies the named fields of the table at src into the table at dst (absolute indices). */
static void copy_fields(lua_State *L, int src, int dst, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        lua_getfield(L, src, names[i]);
        lua_setfield(L, dst, names[i]);
    }
}

/* A metatable that hides itself and refuses new keys; `index` (absolute) is its __index or 0. */
static void push_locked_mt(lua_State *L, int index)
{
    lua_createtable(L, 0, 3);
    if (index) {
        lua_pushvalue(L, index);
        lua_setfield(L, -2, "__index");
    }
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
}

static int view_index(lua_State *L);
static int view_newindex(lua_State *L);
static int view_len(lua_State *L);
static int view_pairs(lua_State *L);
static int sb_next(lua_State *L);
static int sb_rawlen(lua_State *L);

/* The views' metatables and bookkeeping tables (see "views" below). */
static void build_views(struct wr_lua *lua)
{
    lua_State *L = lua->L;
    for (int arr = 0; arr < 2; arr++) {
        lua_createtable(L, 0, 6);
        lua_pushcfunction(L, view_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, view_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, view_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, view_pairs);
        lua_setfield(L, -2, "__pairs");
        if (arr) {
            lua_pushliteral(L, "array"); /* as marked arrays: tostring, getmetatable */
            lua_setfield(L, -2, "__name");
            lua_pushliteral(L, "array");
        } else {
            lua_pushboolean(L, 0); /* protected; sb_getmetatable answers nil */
        }
        lua_setfield(L, -2, "__metatable");
        *(arr ? &lua->view_arr_mt : &lua->view_obj_mt) = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_newtable(L);
    lua->view_scopes = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void build_sandbox(struct wr_lua *lua)
{
    static const char *const base_names[] = {
        "pairs", "ipairs", "type", "tostring", "tonumber", "select",   "error",
        "pcall", "assert", "next", "rawequal", "rawlen",   "_VERSION", NULL,
    };
    static const char *const os_names[] = {"time", "date", "clock", NULL};
    static const char *const libs[] = {"string", "table", "math", "utf8"};
    enum { BASE = 1, STRING, TABLE, MATH, UTF8, OS, G, SCRATCH };
    lua_State *L = lua->L;

    /* The real libraries, opened one by one (linit.c: open only the libraries you want). */
    luaL_requiref(L, "_G", luaopen_base, 0);
    luaL_requiref(L, "string", luaopen_string, 0);
    luaL_requiref(L, "table", luaopen_table, 0);
    luaL_requiref(L, "math", luaopen_math, 0);
    luaL_requiref(L, "utf8", luaopen_utf8, 0);
    luaL_requiref(L, "os", luaopen_os, 0);

    /* string.dump hands out bytecode. Remove it from the real table, which every string's
       metatable reaches through ("").dump. */
    lua_pushnil(L);
    lua_setfield(L, STRING, "dump");
    /* The pattern functions and rep, with their work charged to the budget
       (engine/lua/lua_pattern): Lua's own can run for minutes inside one call. */
    wr_lua_open_patterns(L, STRING, lua, 0);
    /* The rest of the library functions whose one call can take long, charged the same way
       (engine/lua/lua_meter): utf8, table, conversions of strings to numbers. */
    wr_lua_open_meter(L, BASE, WR_LUA_METER_BASE, lua);
    wr_lua_open_meter(L, TABLE, WR_LUA_METER_TABLE, lua);
    wr_lua_open_meter(L, MATH, WR_LUA_METER_MATH, lua);
    wr_lua_open_meter(L, UTF8, WR_LUA_METER_UTF8, lua);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    wr_lua_open_meter(L, -1, WR_LUA_METER_STRING_MT, lua);
    lua_pop(L, 2);

    /* The mark of JSON arrays; made first so that wr_lua_open_weir may already use it. */
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__metatable");
    lua->array_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    build_views(lua);

    lua_newtable(L); /* G: the sandbox globals */
    copy_fields(L, BASE, G, base_names);
    lua_pushcfunction(L, sb_next);
    lua_setfield(L, G, "next");
    lua_pushcfunction(L, sb_rawlen);
    lua_setfield(L, G, "rawlen");
    lua_pushcfunction(L, sb_getmetatable);
    lua_setfield(L, G, "getmetatable");
    lua_pushcfunction(L, sb_setmetatable);
    lua_setfield(L, G, "setmetatable");
    for (int i = 0; i < 4; i++) {
        lua_pushvalue(L, STRING + i);
        make_proxy(L);
        lua_setfield(L, G, libs[i]);
    }
    lua_newtable(L);
    copy_fields(L, OS, SCRATCH, os_names);
    make_proxy(L);
    lua_setfield(L, G, "os");
    /* env: the variables weir.yaml allows, read when used, never copied into the state. */
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_pushlightuserdata(L, lua);
    lua_pushcclosure(L, env_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, G, "env");
    lua_pushvalue(L, G);
    wr_lua_open_weir(L, lua);
    lua_pop(L, 1);
    lua_getfield(L, G, "weir");
    make_proxy(L);
    lua_setfield(L, G, "weir");
    push_locked_mt(L, 0);
    lua_setmetatable(L, G);
    lua_pushvalue(L, G);
    lua->globals = luaL_ref(L, LUA_REGISTRYINDEX);

    /* Scopes: reads fall through to G, writes are refused, the metatable is hidden. */
    push_locked_mt(L, G);
    lua->scope_mt = luaL_ref(L, LUA_REGISTRYINDEX);

    /* Empty the real global table: no chunk runs with it as _ENV, and nothing should
       reach the real libraries through it if one ever did. */
    lua_pushnil(L);
    while (lua_next(L, BASE)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, BASE);
    }
    lua_settop(L, 0);

    lua_newtable(L);
    lua->cache = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua->hooks = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua->hook_index = luaL_ref(L, LUA_REGISTRYINDEX);
}

struct wr_lua *wr_lua_new(const struct wr_lua_limits *limits, const char *const *env_allow)
{
    struct wr_lua *lua = wr_xcalloc(1, sizeof(*lua));
    size_t n = 0;

#define PICK(field, constant)                                                                      \
    (limits && limits->field ? limits->field : defaults.field ? defaults.field : (constant))
    lua->mem_cap = PICK(memory, WR_LUA_MEMORY_CAP);
    lua->expr_budget = PICK(expr_instructions, WR_LUA_EXPR_BUDGET);
    lua->hook_budget = PICK(hook_instructions, WR_LUA_HOOK_BUDGET);
    lua->expr_time_ms = PICK(expr_time_ms, WR_LUA_EXPR_TIME_MS);
    lua->hook_time_ms = PICK(hook_time_ms, WR_LUA_HOOK_TIME_MS);
#undef PICK
    while (env_allow && env_allow[n]) {
        n++;
    }
    lua->env_allow = wr_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        lua->env_allow[i] = wr_xstrdup(env_allow[i]);
    }
    lua->L = lua_newstate(l_alloc, lua);
    if (!lua->L) {
        wr_lua_free(lua);
        return NULL;
    }
    lua_setwarnf(lua->L, NULL, NULL); /* a finalizer's warning has nowhere to go */
    build_sandbox(lua);
    return lua;
}

void wr_lua_free(struct wr_lua *lua)
{
    if (!lua) {
        return;
    }
    if (lua->L) {
        /* Scopes still open give back their views' references on JSON values. */
        lua_State *L = lua->L;
        lua_rawgeti(L, LUA_REGISTRYINDEX, lua->view_scopes);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_getfield(L, -1, "refs");
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                json_object_put(lua_touserdata(L, -1));
                lua_pop(L, 1);
            }
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
        lua_close(L);
    }
    for (size_t i = 0; lua->env_allow && lua->env_allow[i]; i++) {
        free(lua->env_allow[i]);
    }
    free(lua->env_allow);
    free(lua->trace);
    free(lua->longs);
    free(lua);
}

void wr_lua_set_log(struct wr_lua *lua, wr_lua_log_fn fn, void *arg)
{
    lua->log = fn;
    lua->log_arg = arg;
}

lua_State *wr_lua_state(struct wr_lua *lua)
{
    return lua->L;
}

void wr_lua_log(struct wr_lua *lua, const char *level, const char *msg)
{
    if (lua->log) {
        lua->log(lua->log_arg, level, msg);
    } else {
        fprintf(stderr, "lua %s: %s\n", level, msg);
    }
}

const char *wr_lua_env_get(struct wr_lua *lua, const char *name, bool *allowed)
{
    *allowed = false;
    for (size_t i = 0; lua->env_allow[i]; i++) {
        if (strcmp(lua->env_allow[i], name) == 0) {
            *allowed = true;
            const char *v = getenv(name);
            /* A script or template may copy it anywhere: masked wherever weir writes text. */
            wr_secret_register(v);
            return v;
        }
    }
    return NULL;
}

/* }====== */

/* {====== values ====== */

void wr_lua_mark_array(lua_State *L, int idx)
{
    struct wr_lua *lua = host_of(L);
    idx = lua_absindex(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->array_mt);
    lua_setmetatable(L, idx);
}

/* Converting a big value inside an evaluation (weir.json_decode) is work like any other:
   charged every PUSH_CHUNK members of a table, which also looks at the clock. */
#define PUSH_CHUNK 1024
#define PUSH_UNITS 1 /* per member (its memory is charged by the allocator) */

static void push_charge(lua_State *L, size_t i)
{
    struct wr_lua *lua = host_of(L);
    if (lua && i % PUSH_CHUNK == PUSH_CHUNK - 1) {
        wr_lua_charge(L, lua, PUSH_CHUNK * PUSH_UNITS, "(converting too big a value?)");
    }
}

/* Raises a Lua error on excess depth: callers run it inside a protected call. */
static void push_json(lua_State *L, struct json_object *v, int depth)
{
    if (depth > WR_LUA_MAX_DEPTH) {
        luaL_error(L, "value nested deeper than %d levels", WR_LUA_MAX_DEPTH);
    }
    luaL_checkstack(L, 4, "value nested too deeply");
    switch (json_object_get_type(v)) {
    case json_type_null:
        lua_pushlightuserdata(L, WR_LUA_NULL);
        break;
    case json_type_boolean:
        lua_pushboolean(L, json_object_get_boolean(v));
        break;
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        /* json-c can hold integers above INT64_MAX as unsigned; Lua has no such integer, and a
           float would round it (two ids, one key). weir's JSON reader never makes them. */
        if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX) {
            luaL_error(L, "the integer %s needs more than 64 bits and cannot be held exactly",
                       json_object_to_json_string(v));
        }
        lua_pushinteger(L, (lua_Integer)i);
        break;
    }
    case json_type_double:
        lua_pushnumber(L, json_object_get_double(v));
        break;
    case json_type_string:
        lua_pushlstring(L, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(v);
        lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_json(L, json_object_array_get_idx(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
            push_charge(L, i);
        }
        wr_lua_mark_array(L, -1);
        break;
    }
    case json_type_object:
        lua_createtable(L, 0, json_object_object_length(v));
        size_t i = 0;
        json_object_object_foreach(v, key, val)
        {
            lua_pushstring(L, key);
            push_json(L, val, depth + 1);
            lua_rawset(L, -3);
            push_charge(L, i++);
        }
        break;
    }
}

static int push_json_protected(lua_State *L)
{
    struct json_object *v = lua_touserdata(L, 1);
    lua_pop(L, 1);
    push_json(L, v, 0);
    return 1;
}

void wr_lua_push_json(lua_State *L, struct json_object *v)
{
    push_json(L, v, 0);
}

/*
 * Pushes v inside a protected call, so that running out of memory or stack while building
 * the tables is an error for the caller, not a panic of the whole process. Returns 0 or -1
 * (nothing pushed, message in err).
 */
static int push_json_safe(lua_State *L, struct json_object *v, char *err, size_t errlen)
{
    lua_pushcfunction(L, push_json_protected);
    lua_pushlightuserdata(L, v);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* {====== views ======
 *
 * A scope's values (the event, step outputs, vars) reach expressions as views: read-only
 * tables that convert a JSON member into Lua the first time it is read and keep it (rawset
 * into the view), so `event.type == "employee.hired"` converts one string, not the whole
 * body. Nested objects and arrays are views too. Reading goes through __index (ipairs,
 * table.concat and # work: __len), pairs and the sandbox's next/rawlen first convert the
 * rest, and wr_lua_to_json copies a view's JSON directly. Each view holds a reference on its
 * JSON value, dropped when its scope is freed; a view kept beyond its scope is dead and
 * reading an unconverted member of it is an error, never a dangling pointer.
 * Hooks get full copies (wr_lua_call_hook), since scripts may change what they are given.
 */

/*
 * A view keeps its JSON (a lightuserdata, false once dead) and its scope's record under two
 * keys no script can write: the addresses below. next() skips them.
 */
static const char view_json_key = 'j';
static const char view_rec_key = 'r';

/* The JSON behind the view at idx, or NULL when idx is not a live view. */
static struct json_object *view_json(lua_State *L, int idx, bool *dead)
{
    struct json_object *v = NULL;
    *dead = false;
    if (lua_type(L, idx) != LUA_TTABLE) {
        return NULL;
    }
    int t = lua_rawgetp(L, idx, &view_json_key);
    if (t == LUA_TLIGHTUSERDATA) {
        v = lua_touserdata(L, -1);
    } else if (t == LUA_TBOOLEAN) {
        *dead = true;
    }
    lua_pop(L, 1);
    return v;
}

static bool view_is_object(lua_State *L, int idx)
{
    struct wr_lua *lua = host_of(L);
    bool yes = false;
    if (lua_type(L, idx) == LUA_TTABLE && lua_getmetatable(L, idx)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, lua->view_obj_mt);
        yes = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    return yes;
}

/* Pushes a new view of v (an object or array) recorded in the scope record at rec. */
static void view_push(lua_State *L, struct json_object *v, int rec)
{
    struct wr_lua *lua = host_of(L);
    bool arr = json_object_is_type(v, json_type_array);
    luaL_checkstack(L, 6, "value nested too deeply");
    rec = lua_absindex(L, rec);
    /* room for the two bookkeeping keys and a few members without a rehash */
    lua_createtable(L, 0, 4);
    lua_rawgeti(L, LUA_REGISTRYINDEX, arr ? lua->view_arr_mt : lua->view_obj_mt);
    lua_setmetatable(L, -2);
    /* the record: the view (keeps it listed) and its reference on v */
    lua_pushvalue(L, -1);
    lua_rawseti(L, rec, (lua_Integer)lua_rawlen(L, rec) + 1);
    lua_getfield(L, rec, "refs");
    lua_pushlightuserdata(L, json_object_get(v));
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
    lua_pushlightuserdata(L, v);
    lua_rawsetp(L, -2, &view_json_key);
    lua_pushvalue(L, rec);
    lua_rawsetp(L, -2, &view_rec_key);
}

/* Pushes the Lua value of member v of the view at idx: a scalar, or a new view. */
static void view_push_member(lua_State *L, int idx, struct json_object *v)
{
    if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)) {
        lua_rawgetp(L, idx, &view_rec_key);
        view_push(L, v, -1);
        lua_remove(L, -2);
    } else {
        push_json(L, v, 0);
    }
}

static struct json_object *view_check(lua_State *L, int idx)
{
    bool dead = false;
    struct json_object *v = view_json(L, idx, &dead);
    if (!v) {
        luaL_error(L, "this value is no longer available (it was kept beyond its step)");
    }
    return v;
}

/* __index: converts the member once and keeps it in the view. */
static int view_index(lua_State *L)
{
    struct json_object *v = view_check(L, 1), *m = NULL;
    if (json_object_is_type(v, json_type_array)) {
        if (!lua_isinteger(L, 2)) {
            return 0;
        }
        lua_Integer i = lua_tointeger(L, 2);
        if (i < 1 || (size_t)i > json_object_array_length(v)) {
            return 0;
        }
        m = json_object_array_get_idx(v, (size_t)i - 1);
    } else if (lua_type(L, 2) != LUA_TSTRING ||
               !json_object_object_get_ex(v, lua_tostring(L, 2), &m)) {
        return 0;
    }
    view_push_member(L, 1, m);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

static int view_newindex(lua_State *L)
{
    return luaL_error(L, "cannot change '%s': values from weir are read-only (copy them first)",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "an item");
}

static int view_len(lua_State *L)
{
    struct json_object *v = view_check(L, 1);
    lua_pushinteger(
        L, json_object_is_type(v, json_type_array) ? (lua_Integer)json_object_array_length(v) : 0);
    return 1;
}

/* Converts every member of the view at idx not yet converted. */
static void view_materialize(lua_State *L, int idx)
{
    bool dead = false;
    idx = lua_absindex(L, idx);
    struct json_object *v = view_json(L, idx, &dead);
    if (!v) {
        if (dead) {
            luaL_error(L, "this value is no longer available (it was kept beyond its step)");
        }
        return;
    }
    luaL_checkstack(L, 4, NULL);
    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            if (lua_rawgeti(L, idx, (lua_Integer)i + 1) == LUA_TNIL) {
                lua_pop(L, 1);
                view_push_member(L, idx, json_object_array_get_idx(v, i));
                lua_rawseti(L, idx, (lua_Integer)i + 1);
            } else {
                lua_pop(L, 1);
            }
        }
        return;
    }
    json_object_object_foreach(v, key, m)
    {
        lua_pushstring(L, key);
        if (lua_rawget(L, idx) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushstring(L, key);
            view_push_member(L, idx, m);
            lua_rawset(L, idx);
        } else {
            lua_pop(L, 1);
        }
    }
}

static int raw_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) == LUA_TLIGHTUSERDATA &&
            (lua_touserdata(L, -2) == &view_json_key || lua_touserdata(L, -2) == &view_rec_key)) {
            lua_pop(L, 1); /* a view's own bookkeeping: not a member */
            continue;
        }
        return 2;
    }
    lua_pushnil(L);
    return 1;
}

/* The sandbox's next and rawlen: a view shows all its members, not just those read so far. */
static int sb_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    view_materialize(L, 1);
    return raw_next(L);
}

static int sb_rawlen(lua_State *L)
{
    int t = lua_type(L, 1);
    luaL_argexpected(L, t == LUA_TTABLE || t == LUA_TSTRING, 1, "table or string");
    if (t == LUA_TTABLE) {
        view_materialize(L, 1);
    }
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
    return 1;
}

static int view_pairs(lua_State *L)
{
    view_materialize(L, 1);
    lua_pushcfunction(L, raw_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* }====== */

/*
 * Writes d with the fewest digits (15 to 17) that read back as the same double, so 0.1 stays
 * 0.1 rather than json-c's 0.10000000000000001; a whole number keeps ".0" so it stays a float.
 * Returns the length written into buf (at least 40 bytes).
 */
static int shortest_double(double d, char *buf, size_t cap)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    if (!strpbrk(buf, ".eEn")) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return n;
}

struct json_object *wr_lua_new_double(double d)
{
    char buf[48];
    shortest_double(d, buf, sizeof(buf));
    return json_object_new_double_s(d, buf);
}

struct conv {
    char *err;
    size_t errlen;
    struct wr_buf path;
};

static int conv_fail(struct conv *c, const char *fmt, const char *detail)
{
    char msg[WR_ERR_MAX];
    const char *path = wr_buf_str(&c->path);
    size_t len = c->path.len;
    snprintf(msg, sizeof(msg), fmt, detail);
    if (len == 0) {
        wr_errf_marked(c->err, c->errlen, "%s", msg);
    } else if (len <= 60) {
        wr_errf_marked(c->err, c->errlen, "%s: %s", path, msg);
    } else {
        /* A runaway path (a table that contains itself) would drown the message. */
        wr_errf_marked(c->err, c->errlen, "...%s: %s", path + len - 57, msg);
    }
    return -1;
}

static int to_json(lua_State *L, int idx, struct json_object **out, struct conv *c, int depth);

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A copy of a view's JSON with object keys sorted, as converted tables come out: the same
 * value always gives the same JSON. Scalars are shared (json-c values are not changed in
 * place here); views only exist of values that passed the depth checks of their source.
 */
static struct json_object *sorted_copy(struct json_object *v)
{
    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        struct json_object *a = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n; i++) {
            json_object_array_add(a, sorted_copy(json_object_array_get_idx(v, i)));
        }
        return a;
    }
    if (!json_object_is_type(v, json_type_object)) {
        return json_object_get(v);
    }
    size_t n = (size_t)json_object_object_length(v), k = 0;
    const char **keys = wr_xmalloc((n ? n : 1) * sizeof(*keys));
    json_object_object_foreach(v, key, val)
    {
        (void)val;
        keys[k++] = key;
    }
    qsort(keys, k, sizeof(*keys), cmp_keys);
    struct json_object *o = json_object_new_object();
    for (size_t i = 0; i < k; i++) {
        struct json_object *m = NULL;
        json_object_object_get_ex(v, keys[i], &m);
        json_object_object_add(o, keys[i], sorted_copy(m));
    }
    free(keys);
    return o;
}

/* Is the table at idx a sequence 1..n with n >= 1? Sets *n. */
static bool is_sequence(lua_State *L, int idx, lua_Integer *n)
{
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return false;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max) {
            max = k;
        }
        count++;
    }
    *n = count;
    return count > 0 && max == count;
}

/* One converted member of an object, kept until the keys are sorted. */
struct member {
    const char *key; /* borrowed from the table, which stays on the stack */
    struct json_object *value;
};

static int cmp_members(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

/* Sets the key path to parent + key (or index) for messages; `mark` restores it. */
static void conv_push_key(struct conv *c, size_t mark, const char *key, lua_Integer index)
{
    char *p;
    c->path.len = mark;
    if (c->path.data) {
        c->path.data[mark] = '\0';
    }
    if (key) {
        p = wr_path_key(mark ? wr_buf_str(&c->path) : NULL, key);
    } else {
        p = wr_path_index(mark ? wr_buf_str(&c->path) : NULL, (size_t)(index - 1));
    }
    c->path.len = 0;
    wr_buf_add(&c->path, p);
    free(p);
}

static void conv_pop_key(struct conv *c, size_t mark)
{
    c->path.len = mark;
    if (c->path.data) {
        c->path.data[mark] = '\0';
    }
}

/*
 * Only raw accesses here (lua_next, lua_rawgeti): no metamethod runs, so no script code runs
 * outside the budget, and nothing here can raise a Lua error outside a protected call.
 */
static int table_to_json(lua_State *L, int idx, struct json_object **out, struct conv *c, int depth)
{
    struct wr_lua *lua = host_of(L);
    lua_Integer n = 0;
    bool marked = false;
    size_t mark = c->path.len;

    bool dead = false;
    struct json_object *view = view_json(L, idx, &dead);
    if (view) {
        *out = sorted_copy(view);
        return 0;
    }
    if (dead) {
        return conv_fail(c, "%s", "a value kept beyond its step is no longer available");
    }
    if (lua_getmetatable(L, idx)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, lua->array_mt);
        marked = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (marked || is_sequence(L, idx, &n)) {
        if (marked) {
            n = (lua_Integer)lua_rawlen(L, idx);
        }
        struct json_object *a = json_object_new_array_ext(n > INT_MAX ? INT_MAX : (int)n);
        for (lua_Integer i = 1; i <= n; i++) {
            struct json_object *e = NULL;
            conv_push_key(c, mark, NULL, i);
            lua_rawgeti(L, idx, i);
            int rc = to_json(L, lua_gettop(L), &e, c, depth + 1);
            lua_pop(L, 1);
            if (rc != 0) {
                json_object_put(a);
                return -1;
            }
            conv_pop_key(c, mark);
            json_object_array_add(a, e);
        }
        *out = a;
        return 0;
    }
    /*
     * Lua tables have no order; emit keys sorted so that the same value always gives the same
     * JSON (dry-run output, `weir map`, request digests).
     */
    size_t count = 0, cap = 16;
    struct member *m = wr_xmalloc(cap * sizeof(*m));
    int rc = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            rc = conv_fail(c,
                           "a table mixes list items and named keys (or has a %s key); JSON "
                           "needs one or the other",
                           "non-string");
            break;
        }
        if (count == cap) {
            cap *= 2;
            m = wr_xrealloc(m, cap * sizeof(*m));
        }
        m[count].key = lua_tostring(L, -2);
        m[count].value = NULL;
        conv_push_key(c, mark, m[count].key, 0);
        rc = to_json(L, lua_gettop(L), &m[count].value, c, depth + 1);
        lua_pop(L, 1);
        if (rc != 0) {
            lua_pop(L, 1);
            break;
        }
        conv_pop_key(c, mark);
        count++;
    }
    if (rc != 0) {
        for (size_t i = 0; i < count; i++) {
            json_object_put(m[i].value);
        }
        free(m);
        return -1;
    }
    qsort(m, count, sizeof(*m), cmp_members);
    struct json_object *o = json_object_new_object();
    for (size_t i = 0; i < count; i++) {
        json_object_object_add(o, m[i].key, m[i].value);
    }
    free(m);
    *out = o;
    return 0;
}

static int to_json(lua_State *L, int idx, struct json_object **out, struct conv *c, int depth)
{
    *out = NULL;
    if (depth > WR_LUA_MAX_DEPTH) {
        return conv_fail(c, "nesting deeper than %s levels (a table that contains itself?)", "64");
    }
    if (!lua_checkstack(L, 6)) {
        return conv_fail(c, "%s", "out of Lua stack space");
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return 0;
    case LUA_TBOOLEAN:
        *out = json_object_new_boolean(lua_toboolean(L, idx));
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            *out = json_object_new_int64((int64_t)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d)) {
                return conv_fail(c, "%s is not a JSON number", isnan(d) ? "NaN" : "infinity");
            }
            *out = wr_lua_new_double(d);
        }
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len > INT_MAX) {
            return conv_fail(c, "%s", "string too long");
        }
        if (!wr_utf8_valid(s, len)) {
            return conv_fail(c, "%s", "a string that is not valid UTF-8 (JSON text must be)");
        }
        *out = json_object_new_string_len(s, (int)len);
        return 0;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == WR_LUA_NULL) {
            return 0;
        }
        return conv_fail(c, "cannot convert %s to JSON", "a userdata");
    case LUA_TTABLE:
        return table_to_json(L, lua_absindex(L, idx), out, c, depth);
    default:
        return conv_fail(c, "cannot convert a %s to JSON", luaL_typename(L, idx));
    }
}

int wr_lua_to_json(lua_State *L, int idx, struct json_object **out, char *err, size_t errlen)
{
    struct conv c = {err, errlen, {0}};
    int rc = to_json(L, lua_absindex(L, idx), out, &c, 0);
    wr_buf_free(&c.path);
    return rc;
}

/* }====== */

/* {====== scopes and expressions ====== */

int wr_lua_scope_new(struct wr_lua *lua)
{
    lua_State *L = lua->L;
    lua_newtable(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->scope_mt);
    lua_setmetatable(L, -2);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Protected part of wr_lua_scope_set for objects and arrays: (record, json) -> view. */
static int scope_set_view(lua_State *L)
{
    struct json_object *v = lua_touserdata(L, 2);
    lua_pop(L, 1);
    view_push(L, v, 1);
    return 1;
}

int wr_lua_scope_set(struct wr_lua *lua, int scope, const char *name, struct json_object *v)
{
    lua_State *L = lua->L;
    char err[WR_ERR_MAX];
    lua_rawgeti(L, LUA_REGISTRYINDEX, scope);
    if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, lua->view_scopes);
        if (lua_rawgeti(L, -1, scope) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_createtable(L, 8, 1);
            lua_createtable(L, 8, 0);
            lua_setfield(L, -2, "refs");
            lua_pushvalue(L, -1);
            lua_rawseti(L, -3, scope);
        }
        lua_remove(L, -2);
        lua_pushcfunction(L, scope_set_view);
        lua_insert(L, -2);
        lua_pushlightuserdata(L, v);
        if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
            lua_pop(L, 2);
            return -1;
        }
    } else if (push_json_safe(L, v, err, sizeof(err)) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    lua_pushstring(L, name);
    lua_insert(L, -2);
    lua_rawset(L, -3); /* raw: the scope's metatable refuses writes from scripts */
    lua_pop(L, 1);
    return 0;
}

void wr_lua_scope_free(struct wr_lua *lua, int scope)
{
    lua_State *L = lua->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->view_scopes);
    if (lua_rawgeti(L, -1, scope) == LUA_TTABLE) {
        /* Every view of the scope dies, then its references on the JSON are dropped. */
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            lua_pushboolean(L, 0);
            lua_rawsetp(L, -2, &view_json_key);
            lua_pushnil(L);
            lua_rawsetp(L, -2, &view_rec_key);
            lua_pop(L, 1);
        }
        lua_getfield(L, -1, "refs");
        n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            json_object_put(lua_touserdata(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_rawseti(L, -3, scope);
    }
    lua_pop(L, 2);
    luaL_unref(L, LUA_REGISTRYINDEX, scope);
}

/* Strips Lua's "expr:N: " chunk prefix: the line is the wrapper's, not the user's. */
static const char *strip_chunk(const char *msg)
{
    if (msg && strncmp(msg, "expr:", 5) == 0) {
        const char *p = strchr(msg + 5, ':');
        if (p) {
            p++;
            while (*p == ' ') {
                p++;
            }
            return p;
        }
    }
    return msg;
}

/* Pushes the compiled function for expr (compiling and caching it on first use). */
static int push_compiled(struct wr_lua *lua, const char *expr, size_t len, char *err, size_t errlen)
{
    lua_State *L = lua->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->cache);
    lua_pushlstring(L, expr, len);
    if (lua_rawget(L, -2) == LUA_TFUNCTION) {
        lua_remove(L, -2);
        return 0;
    }
    lua_pop(L, 1);
    /*
     * "return EXPR" and nothing around it: a wrapper such as "return (EXPR)" would let
     * "x)(" compile into a call and would leak its own parenthesis into error messages.
     * Only an expression list fits after return; a statement after it is a syntax error.
     */
    struct wr_buf src = {0};
    wr_buf_add(&src, "return ");
    wr_buf_addn(&src, expr, len);
    int rc = luaL_loadbufferx(L, src.data, src.len, "=expr", "t");
    wr_buf_free(&src);
    if (rc != LUA_OK) {
        const char *msg = strip_chunk(lua_tostring(L, -1));
        /* The most common slip in a condition: "a = b" where "a == b" was meant. */
        bool assign = strstr(msg, "expected near '='") != NULL;
        wr_errf_marked(err, errlen, "%s%s", msg, assign ? " (to compare, use ==)" : "");
        lua_pop(L, 2);
        return -1;
    }
    lua_pushlstring(L, expr, len);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_remove(L, -2);
    return 0;
}

int wr_lua_compile(struct wr_lua *lua, const char *expr, size_t len, char *err, size_t errlen)
{
    if (push_compiled(lua, expr, len, err, errlen) != 0) {
        return -1;
    }
    lua_pop(lua->L, 1);
    return 0;
}

/* Runs expr in scope and leaves its value on the stack. Returns 0 or -1 with err set. */
static int eval_push(struct wr_lua *lua, int scope, const char *expr, size_t len, char *err,
                     size_t errlen)
{
    lua_State *L = lua->L;
    char what[128];
    snprintf(what, sizeof(what), "'%.*s'", (int)(len > 80 ? 80 : len), expr);
    char cerr[WR_ERR_MAX];
    if (push_compiled(lua, expr, len, cerr, sizeof(cerr)) != 0) {
        return wr_errf_marked(err, errlen, "%s: %s", what, cerr);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, scope);
    lua_setupvalue(L, -2, 1); /* _ENV */
    limits_begin(lua, false);
    int rc = lua_pcall(L, 0, 1, 0);
    if (rc != LUA_OK) {
        /* An expression's location is the expression itself, not the wrapper's line. */
        lua->kill_where[0] = '\0';
        failure_message(lua, what, strip_chunk(lua_tostring(L, -1)), lua->expr_budget, err, errlen);
        lua_pop(L, 1);
        limits_end(lua);
        return -1;
    }
    limits_end(lua);
    return 0;
}

/* wr_lua_eval that also tells a Lua nil (*nil true) from weir.null: both give *out NULL. */
static int eval_value(struct wr_lua *lua, int scope, const char *expr, size_t len,
                      struct json_object **out, bool *nil, char *err, size_t errlen)
{
    char cerr[WR_ERR_MAX];
    *out = NULL;
    *nil = false;
    if (eval_push(lua, scope, expr, len, err, errlen) != 0) {
        return -1;
    }
    *nil = lua_isnil(lua->L, -1);
    int rc = wr_lua_to_json(lua->L, -1, out, cerr, sizeof(cerr));
    lua_pop(lua->L, 1);
    if (rc != 0) {
        wr_errf_marked(err, errlen, "'%.*s': %s", (int)(len > 80 ? 80 : len), expr, cerr);
    }
    return rc;
}

int wr_lua_eval(struct wr_lua *lua, int scope, const char *expr, size_t len,
                struct json_object **out, char *err, size_t errlen)
{
    bool nil;
    return eval_value(lua, scope, expr, len, out, &nil, err, errlen);
}

int wr_lua_eval_bool(struct wr_lua *lua, int scope, const char *expr, bool *out, char *err,
                     size_t errlen)
{
    if (eval_push(lua, scope, expr, strlen(expr), err, errlen) != 0) {
        return -1;
    }
    *out = lua_toboolean(lua->L, -1) &&
           !(lua_islightuserdata(lua->L, -1) && lua_touserdata(lua->L, -1) == WR_LUA_NULL);
    lua_pop(lua->L, 1);
    return 0;
}

/* }====== */

/* {====== templates ====== */

/*
 * A render: where it is (the key path, for messages), and whether a nil may pass. Values
 * that leave weir (action arguments, bound for Graph or an outside service) are strict: a
 * template that yields nil fails instead of turning into null, which Graph reads as "clear
 * this property". weir.null is how a workflow says null on purpose.
 */
struct render {
    struct wr_lua *lua;
    int scope;
    bool strict;
    char *err;
    size_t errlen;
    /* A callee's message before render_fail wraps it: kept here, in the caller's frame, and not
       in render_value's, which recurses once per level of the value. */
    char inner[WR_ERR_MAX];
};

/* Formats "path: message" (just the message at the top) into r->err; returns -1. */
static int render_fail(struct render *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int render_fail(struct render *r, const char *path, const char *fmt, ...)
{
    char msg[WR_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    wr_verrf_marked(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path) {
        wr_errf_marked(r->err, r->errlen, "%s: %s", path, msg);
    } else {
        wr_errf_marked(r->err, r->errlen, "%s", msg);
    }
    return -1;
}

struct render_part_ctx {
    struct render *r;
    const char *path;
    struct wr_buf out;
};

/*
 * A number as text inside a string, exactly: integers as they are, a whole double without
 * exponent or ".0" while it is below 2^53 (every such double is an integer it prints
 * exactly), any other double with the fewest digits that read back as the same number (the
 * old "%.14g" turned 12345678901234567.0 into 1.2345678901235e+16).
 */
static void add_number(struct wr_buf *b, struct json_object *v)
{
    if (json_object_is_type(v, json_type_int)) {
        wr_buf_addf(b, "%lld", (long long)json_object_get_int64(v));
        return;
    }
    double d = json_object_get_double(v);
    /* The range first: converting a double outside int64_t's range is undefined behaviour. */
    if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d) {
        wr_buf_addf(b, "%.0f", d);
        return;
    }
    char buf[48];
    int n = shortest_double(d, buf, sizeof(buf));
    if (n >= 2 && strcmp(buf + n - 2, ".0") == 0) {
        n -= 2;
    }
    wr_buf_addn(b, buf, (size_t)n);
}

static int render_part(void *arg, bool is_expr, const char *text, size_t len)
{
    struct render_part_ctx *c = arg;
    struct render *r = c->r;
    struct json_object *v = NULL;
    bool nil = false;
    int shown = (int)(len > 80 ? 80 : len);
    if (!is_expr) {
        wr_buf_addn(&c->out, text, len);
        return 0;
    }
    char err[WR_ERR_MAX];
    if (eval_value(r->lua, r->scope, text, len, &v, &nil, err, sizeof(err)) != 0) {
        return render_fail(r, c->path, "%s", err);
    }
    int rc = 0;
    switch (json_object_get_type(v)) {
    case json_type_null:
        /* Never "" or "nil" in the text: a user name or a URL with a hole in it is worse than
           a failed step. */
        rc = render_fail(r, c->path,
                         "'{{ %.*s }}' is %s; text around '{{ }}' needs a value (write "
                         "'{{ %.*s or \"\" }}' to leave it empty on purpose)",
                         shown, text, nil ? "nil" : "null", shown, text);
        break;
    case json_type_string:
        wr_buf_addn(&c->out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_int:
    case json_type_double:
        add_number(&c->out, v);
        break;
    case json_type_boolean:
        wr_buf_add(&c->out, json_object_get_boolean(v) ? "true" : "false");
        break;
    default:
        rc = render_fail(r, c->path,
                         "'{{ %.*s }}' is a table; text around '{{ }}' needs a string, number "
                         "or boolean (use the expression alone to pass a table)",
                         shown, text);
        break;
    }
    json_object_put(v);
    return rc;
}

static int render_value(struct render *r, struct json_object *v, const char *path,
                        struct json_object **out)
{
    *out = NULL;
    switch (json_object_get_type(v)) {
    case json_type_string: {
        const char *s = json_object_get_string(v);
        const char *expr;
        size_t len;
        if (!wr_template_has(s)) {
            *out = json_object_get(v);
            return 0;
        }
        if (wr_template_whole(s, &expr, &len)) {
            bool nil = false;
            if (eval_value(r->lua, r->scope, expr, len, out, &nil, r->inner, sizeof(r->inner)) !=
                0) {
                return render_fail(r, path, "%s", r->inner);
            }
            if (nil && r->strict) {
                int shown = (int)(len > 80 ? 80 : len);
                return render_fail(r, path,
                                   "template '{{ %.*s }}' is nil; weir sends no value it was "
                                   "not given (write '{{ %.*s or weir.null }}' to send null, "
                                   "e.g. to clear a property, on purpose)",
                                   shown, expr, shown, expr);
            }
            return 0;
        }
        struct render_part_ctx c = {r, path, {0}};
        int rc = wr_template_split(s, render_part, &c, r->inner, sizeof(r->inner));
        if (rc == -1 && r->err[0] == '\0') {
            render_fail(r, path, "%s", r->inner); /* a split error, not one of render_part's */
        }
        if (rc != 0) {
            wr_buf_free(&c.out);
            return -1;
        }
        *out = json_object_new_string_len(wr_buf_str(&c.out), (int)c.out.len);
        wr_buf_free(&c.out);
        return 0;
    }
    case json_type_array: {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            struct json_object *e = NULL;
            char *p = wr_path_index(path && *path ? path : NULL, i);
            int rc = render_value(r, json_object_array_get_idx(v, i), p, &e);
            free(p);
            if (rc != 0) {
                json_object_put(a);
                return -1;
            }
            json_object_array_add(a, e);
        }
        *out = a;
        return 0;
    }
    case json_type_object: {
        struct json_object *o = json_object_new_object();
        json_object_object_foreach(v, key, val)
        {
            struct json_object *e = NULL;
            char *p = wr_path_key(path && *path ? path : NULL, key);
            int rc = render_value(r, val, p, &e);
            free(p);
            if (rc != 0) {
                json_object_put(o);
                return -1;
            }
            json_object_object_add(o, key, e);
        }
        *out = o;
        return 0;
    }
    default:
        *out = json_object_get(v);
        return 0;
    }
}

int wr_lua_render(struct wr_lua *lua, int scope, struct json_object *v, struct json_object **out,
                  char *err, size_t errlen)
{
    struct render r = {.lua = lua, .scope = scope, .strict = false, .err = err, .errlen = errlen};
    err[0] = '\0';
    return render_value(&r, v, NULL, out);
}

int wr_lua_render_args(struct wr_lua *lua, int scope, struct json_object *v, const char *path,
                       struct json_object **out, char *err, size_t errlen)
{
    struct render r = {.lua = lua, .scope = scope, .strict = true, .err = err, .errlen = errlen};
    err[0] = '\0';
    return render_value(&r, v, path, out);
}

struct compile_ctx {
    struct wr_lua *lua;
    char *err;
    size_t errlen;
};

static int compile_part(void *arg, bool is_expr, const char *text, size_t len)
{
    struct compile_ctx *c = arg;
    char msg[WR_ERR_MAX];
    if (!is_expr) {
        return 0;
    }
    if (wr_lua_compile(c->lua, text, len, msg, sizeof(msg)) != 0) {
        return wr_errf_marked(c->err, c->errlen, "in '{{ %.*s }}': %s", (int)(len > 80 ? 80 : len),
                              text, msg);
    }
    return 0;
}

int wr_lua_compile_string(struct wr_lua *lua, const char *s, char *err, size_t errlen)
{
    struct compile_ctx c = {lua, err, errlen};
    if (!wr_template_has(s)) {
        return 0;
    }
    return wr_template_split(s, compile_part, &c, err, errlen) == 0 ? 0 : -1;
}

int wr_lua_compile_templates(struct wr_lua *lua, struct json_object *v, char *err, size_t errlen)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        return wr_lua_compile_string(lua, json_object_get_string(v), err, errlen);
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            if (wr_lua_compile_templates(lua, json_object_array_get_idx(v, i), err, errlen) != 0) {
                return -1;
            }
        }
        return 0;
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (wr_lua_compile_templates(lua, val, err, errlen) != 0) {
                return -1;
            }
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* }====== */

/* {====== hooks ====== */

/* Message handler: keeps the message, records a traceback beside it. */
static int msg_handler(lua_State *L)
{
    struct wr_lua *lua = host_of(L);
    const char *msg = lua_tostring(L, 1);
    if (lua->kill != KILL_NONE) {
        return 1; /* no traceback work while being stopped */
    }
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    free(lua->trace);
    lua->trace = wr_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
}

/* Formats the error of a failed hook call; Lua's message already reads "path:line: text". */
static void hook_error(struct wr_lua *lua, const char *path, const char *msg, char *err,
                       size_t errlen)
{
    if (lua->kill == KILL_NONE) {
        snprintf(err, errlen, "%s", msg ? msg : "error");
    } else {
        failure_message(lua, path, msg, lua->hook_budget, err, errlen);
    }
}

static int newglobal_refused(lua_State *L)
{
    return luaL_error(L,
                      "assignment to undeclared global '%s' (declare it at the top level "
                      "of the script or use local)",
                      luaL_optstring(L, 2, "?"));
}

#define SCRIPT_MAX_BYTES (16 << 20) /* a hook script's source */

/*
 * Pushes the compiled chunk of the script at path, as luaL_loadfilex would (text only, a first
 * line starting with '#' and a UTF-8 byte order mark skipped, chunk name "@path"), but read
 * with wr_read_file: bounded, and refused at once when path is a FIFO or a socket instead of
 * waiting for a writer. Returns 0, or -1 with the message in err (nothing pushed).
 */
static int load_script(lua_State *L, const char *path, char *err, size_t errlen)
{
    char *buf = NULL, why[WR_ERR_MAX];
    size_t len = 0, skip = 0;
    int rc = wr_read_file(path, SCRIPT_MAX_BYTES, &buf, &len);
    if (rc == -EFBIG) {
        snprintf(err, errlen, "cannot load %s: larger than %d bytes", path, SCRIPT_MAX_BYTES);
        return -1;
    }
    if (rc != 0) {
        wr_errf_marked(err, errlen, "cannot open %s: %s", path,
                       wr_read_file_error(path, rc, why, sizeof(why)));
        return -1;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        skip = 3;
    }
    if (skip < len && buf[skip] == '#') {
        /* A "#!" line: skipped, its newline kept so that line numbers stay true. */
        while (skip < len && buf[skip] != '\n') {
            skip++;
        }
    }
    char *name = wr_xasprintf("@%s", path);
    rc = luaL_loadbufferx(L, buf + skip, len - skip, name, "t");
    free(name);
    free(buf);
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", msg ? msg : "cannot load script");
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

int wr_lua_load_hook(struct wr_lua *lua, const char *path, const char *function, char *err,
                     size_t errlen)
{
    lua_State *L = lua->L;
    int top = lua_gettop(L);
    char *key = wr_xasprintf("%s%c%s", path, '\0', function);
    size_t keylen = strlen(path) + 1 + strlen(function);

    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->hook_index);
    lua_pushlstring(L, key, keylen);
    if (lua_rawget(L, -2) == LUA_TNUMBER) {
        int handle = (int)lua_tointeger(L, -1);
        lua_settop(L, top);
        free(key);
        return handle;
    }
    lua_pop(L, 1);

    if (load_script(L, path, err, errlen) != 0) {
        goto fail;
    }
    /* Its own environment in front of the sandbox: its top-level functions live there. */
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->globals);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setupvalue(L, -3, 1); /* chunk's _ENV */
    /* stack: index chunk env */
    lua_pushcfunction(L, msg_handler);
    lua_pushvalue(L, -3);
    limits_begin(lua, true);
    int rc = lua_pcall(L, 0, 0, -2);
    if (rc != LUA_OK) {
        hook_error(lua, path, lua_tostring(L, -1), err, errlen);
        limits_end(lua);
        goto fail;
    }
    limits_end(lua);
    lua_pop(L, 1); /* handler */
    /* Raw: the environment falls through to the sandbox, whose `pairs` is not a hook. */
    lua_pushstring(L, function);
    if (lua_rawget(L, -2) != LUA_TFUNCTION) {
        snprintf(err, errlen,
                 "%s: defines no function '%s' (a hook needs `function %s(event, "
                 "ctx) ... end`)",
                 path, function, function);
        goto fail;
    }
    /* Lock the environment: a call must not leave globals behind for the next run. */
    lua_getmetatable(L, -2);
    lua_pushcfunction(L, newglobal_refused);
    lua_setfield(L, -2, "__newindex");
    lua_pop(L, 1);

    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->hooks);
    lua_Integer handle = (lua_Integer)lua_rawlen(L, -1) + 1;
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, -3);
    lua_rawseti(L, -2, 1); /* fn */
    lua_pushstring(L, path);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, handle);
    lua_pop(L, 1);
    /* remember path+function -> handle */
    lua_pushlstring(L, key, keylen);
    lua_pushinteger(L, handle);
    lua_rawset(L, top + 1);
    lua_settop(L, top);
    free(key);
    return (int)handle;
fail:
    lua_settop(L, top);
    free(key);
    return -1;
}

int wr_lua_call_hook(struct wr_lua *lua, int hook, struct json_object *event,
                     struct json_object *ctx, struct json_object **out, char *err, size_t errlen,
                     char **trace)
{
    lua_State *L = lua->L;
    int top = lua_gettop(L);
    char cerr[WR_ERR_MAX];

    *out = NULL;
    if (trace) {
        *trace = NULL;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->hooks);
    if (lua_rawgeti(L, -1, hook) != LUA_TTABLE) {
        snprintf(err, errlen, "no such hook (%d)", hook);
        lua_settop(L, top);
        return -1;
    }
    lua_rawgeti(L, -1, 2);
    char *path = wr_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushcfunction(L, msg_handler);
    int handler = lua_gettop(L);
    lua_rawgeti(L, -2, 1);
    if (push_json_safe(L, event, cerr, sizeof(cerr)) != 0 ||
        push_json_safe(L, ctx, cerr, sizeof(cerr)) != 0) {
        wr_errf_marked(err, errlen, "%s: cannot pass the event: %s", path, cerr);
        lua_settop(L, top);
        free(path);
        return -1;
    }
    free(lua->trace);
    lua->trace = NULL;
    limits_begin(lua, true);
    int rc = lua_pcall(L, 2, 1, handler);
    if (rc != LUA_OK) {
        hook_error(lua, path, lua_tostring(L, -1), err, errlen);
        limits_end(lua);
        if (trace && lua->trace) {
            *trace = lua->trace;
            lua->trace = NULL;
        }
        lua_settop(L, top);
        free(path);
        return -1;
    }
    limits_end(lua);
    rc = wr_lua_to_json(L, -1, out, cerr, sizeof(cerr));
    if (rc != 0) {
        wr_errf_marked(err, errlen, "%s: the value returned is not JSON: %s", path, cerr);
    }
    lua_settop(L, top);
    free(path);
    return rc;
}

/* }====== */
