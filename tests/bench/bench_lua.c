/*
 * bench_lua — what weir's Lua costs per call: a 30-field mapping hook and a `when:` condition,
 * each beside a reference measured in the same run on the same machine: the same Lua code in
 * a plain lua_State with no sandbox, no limits and no json-c conversion. The ratio is the price
 * of weir's safety and conversions; the percentiles are the absolute cost here.
 *
 * Usage: bench_lua [--quick] MAP30_LUA
 *        bench_lua --stall       only the time-limit cases (issue #13 follow-up); with
 *                                BENCH_LUA_MESSAGES set, each case's error messages too
 * Prints Markdown table rows. Asserts nothing: machines are shared and noisy.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/strutil.h"
#include "engine/lua/lua_host.h"

static const char *const event_json =
    "{\"type\":\"employee.hired\",\"delivery_id\":\"d-1\",\"employee\":{\"id\":10042,"
    "\"first_name\":\" José \",\"last_name\":\"Núñez\",\"domain\":\"contoso.onmicrosoft.com\","
    "\"employment_type\":\"full_time\",\"start_date\":\"2026-12-01\",\"job_title\":\"Engineer \","
    "\"department\":\"ENGINEERING\",\"legal_entity\":\"Contoso GmbH\",\"office\":{\"building\":"
    "\"B2\",\"room\":\"4.12\"},\"address\":{\"street\":\"Hauptstr. 1\",\"city\":\"Berlin\","
    "\"state\":\"BE\",\"postal_code\":\"10115\",\"country\":\"Germany\",\"country_code\":\"DE\"},"
    "\"phones\":{\"mobile\":\"+49 151 0000000\",\"work\":\"+49 30 0000000\",\"fax\":\"+49 30 1\"},"
    "\"locale\":\"de-DE\",\"work_email\":\"jose.nunez@contoso.onmicrosoft.com\","
    "\"personal_email\":\"jose@example.org\",\"age_group\":\"Adult\",\"consent\":\"NotRequired\","
    "\"division\":\"R&D\",\"cost_center\":\"CC-4711\",\"grade\":\"E5\",\"band\":\"B\","
    "\"status\":\"active\",\"manager_email\":\"boss@contoso.onmicrosoft.com\"}}";

static const char *const when_expr =
    "event.type == \"employee.hired\" and event.employee.department ~= \"Sales\"";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1));
    return (double)v[i];
}

/* The reference for the hook: plain Lua, all libraries, the event already a Lua table. */
static void reference_hook(const char *script, uint64_t *samples, size_t n)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    /* weir.slug/date are weir's; give the reference cheap stand-ins of the same shape. */
    luaL_dostring(L, "weir = { slug = function(s) return (s:lower():gsub('%s+', '.')) end, "
                     "date = function(s, f) return s .. 'T00:00:00Z' end }");
    if (luaL_dofile(L, script) != LUA_OK) {
        fprintf(stderr, "reference: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    struct json_object *ev = json_tokener_parse(event_json);
    wr_lua_push_json(L, ev); /* converted once: the reference pays no conversion per call */
    int evi = lua_gettop(L);
    luaL_dostring(L, "return { run = { id = 'bench' } }");
    int ctxi = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        lua_getglobal(L, "map");
        lua_pushvalue(L, evi);
        lua_pushvalue(L, ctxi);
        if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
            fprintf(stderr, "reference: %s\n", lua_tostring(L, -1));
            exit(1);
        }
        lua_pop(L, 1);
        samples[i] = now_ns() - t0;
    }
    json_object_put(ev);
    lua_close(L);
}

static void weir_hook(const char *script, uint64_t *samples, size_t n)
{
    struct wr_lua *lua = wr_lua_new(NULL, NULL);
    char err[WR_ERR_MAX];
    int h = wr_lua_load_hook(lua, script, "map", err, sizeof(err));
    if (h < 0) {
        fprintf(stderr, "weir: %s\n", err);
        exit(1);
    }
    struct json_object *ev = json_tokener_parse(event_json);
    struct json_object *ctx = json_tokener_parse("{\"run\":{\"id\":\"bench\"}}");
    for (size_t i = 0; i < n; i++) {
        struct json_object *out = NULL;
        uint64_t t0 = now_ns();
        if (wr_lua_call_hook(lua, h, ev, ctx, &out, err, sizeof(err), NULL) != 0) {
            fprintf(stderr, "weir: %s\n", err);
            exit(1);
        }
        samples[i] = now_ns() - t0;
        if (i == 0 && json_object_object_length(out) != 30) {
            fprintf(stderr, "weir: the hook returned %d fields, not 30\n",
                    json_object_object_length(out));
            exit(1);
        }
        json_object_put(out);
    }
    json_object_put(ev);
    json_object_put(ctx);
    wr_lua_free(lua);
}

/* `when:` costs are tiny, so each sample times a batch and is divided by its size. */
#define BATCH 1000

static void reference_when(uint64_t *samples, size_t n)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    struct json_object *ev = json_tokener_parse(event_json);
    wr_lua_push_json(L, ev);
    lua_setglobal(L, "event");
    char src[256];
    snprintf(src, sizeof(src), "return (%s)", when_expr);
    luaL_loadstring(L, src);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        for (int j = 0; j < BATCH; j++) {
            lua_pushvalue(L, -1);
            lua_pcall(L, 0, 1, 0);
            lua_pop(L, 1);
        }
        samples[i] = (now_ns() - t0) / BATCH;
    }
    json_object_put(ev);
    lua_close(L);
}

static void weir_when(uint64_t *samples, size_t n)
{
    struct wr_lua *lua = wr_lua_new(NULL, NULL);
    struct json_object *ev = json_tokener_parse(event_json);
    int scope = wr_lua_scope_new(lua);
    char err[WR_ERR_MAX];
    bool b;
    wr_lua_scope_set(lua, scope, "event", ev);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        for (int j = 0; j < BATCH; j++) {
            if (wr_lua_eval_bool(lua, scope, when_expr, &b, err, sizeof(err)) != 0 || !b) {
                fprintf(stderr, "weir: when: %s\n", err);
                exit(1);
            }
        }
        samples[i] = (now_ns() - t0) / BATCH;
    }
    wr_lua_scope_free(lua, scope);
    json_object_put(ev);
    wr_lua_free(lua);
}

static void row(const char *figure, uint64_t *w, uint64_t *r, size_t n, const char *goal,
                double unit, const char *uname)
{
    qsort(w, n, sizeof(*w), cmp_u64);
    qsort(r, n, sizeof(*r), cmp_u64);
    printf("| %s p50 | %.2f %s | %.2f %s | %.1fx | |\n", figure, pct(w, n, 0.5) / unit, uname,
           pct(r, n, 0.5) / unit, uname, pct(w, n, 0.5) / pct(r, n, 0.5));
    printf("| %s p99 | %.2f %s | %.2f %s | %.1fx | %s |\n", figure, pct(w, n, 0.99) / unit, uname,
           pct(r, n, 0.99) / unit, uname, pct(w, n, 0.99) / pct(r, n, 0.99), goal);
}

/* {====== adversarial string patterns (issue #13, item 7) ====== */

/*
 * Each case is a function body building its subject and calling a string function the way a
 * hostile or careless script would. Before weir's own pattern functions, Lua's ran inside one
 * C call the instruction budget cannot see: `ref` says what Lua's own does (measured here in
 * the full run when it finishes in seconds, else the figure).
 */
struct pattern_case {
    const char *name;
    const char *body;
    bool ref_runs; /* Lua's own finishes within seconds: measured in the full run */
    const char *ref_note;
};

static const struct pattern_case pattern_cases[] = {
    {"an endless loop (the budget's own yardstick)", "while true do end", false, "never finishes"},
    {"trim `^%s*(.-)%s*$` of 30 KB of spaces between two letters",
     "local s = 'a' .. string.rep(' ', 30000) .. 'a' return s:match('^%s*(.-)%s*$')", true, NULL},
    {"`.-.-.-.-.-.-b` on 3 KB", "return string.find(string.rep('a', 3000), '.-.-.-.-.-.-b')", false,
     "never finishes"},
    {"a 200 KB needle with a '.' in 2 MB",
     "local t = '.' .. string.rep('a', 199998) .. 'b' "
     "return string.find(string.rep('a', 2000000), t)",
     false, "est. 10+ min (4e11 comparisons)"},
    {"a 200 KB needle in 2 MB, plain",
     "local t = string.rep('a', 199999) .. 'b' "
     "return string.find(string.rep('a', 2000000), t, 1, true)",
     true, NULL},
    {"`%b()` at every position of 1 MB of '('",
     "local n = 0 for _ in string.rep('(', 1000000):gmatch('%b()') do n = n + 1 end return n",
     false, "est. hours (5e11 bytes scanned)"},
    {"`(.*)%1` on 100 KB", "return string.rep('ab', 50000):match('(.*)%1x')", false,
     "est. hours (1e14 bytes compared)"},
    {"gsub `(.-)%s*$` over 30 KB",
     "return (('a' .. string.rep(' ', 30000) .. 'a'):gsub('(.-)%s*$', '%1'))", true, NULL},
    {"string.rep('', 2^62)", "return #string.rep('', 2^62)", false, "never finishes"},
    {"copying a 2 MB string a million times",
     "local s, n = string.rep('x', 2000000), 0 for i = 1, 1e6 do n = n + #(s .. i) end return n",
     false, "est. 7 min (2 TB copied)"},
};

/* Runs body as a hook (budget 50M) or an expression (1M) in a fresh sandbox; ns taken. */
static uint64_t weir_pattern(const char *body, bool hook, char *err, size_t errlen)
{
    struct wr_lua *lua = wr_lua_new(NULL, NULL);
    uint64_t t;
    err[0] = '\0';
    if (hook) {
        char path[] = "/tmp/weir-bench-pattern-XXXXXX.lua";
        int fd = mkstemps(path, 4);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            fprintf(stderr, "bench_lua: cannot write a script\n");
            exit(1);
        }
        fprintf(f, "function map(event, ctx)\n%s\nend\n", body);
        fclose(f);
        int h = wr_lua_load_hook(lua, path, "map", err, errlen);
        unlink(path);
        struct json_object *ev = json_object_new_object(), *out = NULL;
        uint64_t t0 = now_ns();
        if (h >= 0) {
            wr_lua_call_hook(lua, h, ev, ev, &out, err, errlen, NULL);
        }
        t = now_ns() - t0;
        json_object_put(out);
        json_object_put(ev);
    } else {
        char *expr = NULL;
        if (asprintf(&expr, "(function() %s end)()", body) < 0) {
            exit(1);
        }
        int scope = wr_lua_scope_new(lua);
        struct json_object *out = NULL;
        uint64_t t0 = now_ns();
        wr_lua_eval(lua, scope, expr, strlen(expr), &out, err, errlen);
        t = now_ns() - t0;
        json_object_put(out);
        wr_lua_scope_free(lua, scope);
        free(expr);
    }
    wr_lua_free(lua);
    return t;
}

static uint64_t reference_pattern(const char *body)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    uint64_t t0 = now_ns();
    if (luaL_loadstring(L, body) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "reference: %s\n", lua_tostring(L, -1));
    }
    uint64_t t = now_ns() - t0;
    lua_close(L);
    return t;
}

static void fmt_ns(uint64_t ns, char *buf, size_t len)
{
    if (ns >= 1000000000u) {
        snprintf(buf, len, "%.2f s", (double)ns / 1e9);
    } else {
        snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
    }
}

/* Random patterns from the nastiest pieces on a 20 KB subject: the longest call, in a hook. */
static uint64_t fuzzish(size_t n, uint64_t *p99)
{
    static const char *const atoms[] = {".",  "%s", "%a", "a",  "b",  " ",    "[ab]",  "[^b]",
                                        "%w", "(",  ")",  "()", "%1", "%b()", "%f[%w]"};
    static const char *const quants[] = {"", "*", "-", "+", "?"};
    uint64_t *t = calloc(n, sizeof(*t)), worst = 0;
    unsigned seed = 13;
    for (size_t i = 0; i < n; i++) {
        char pat[128] = "", body[512], err[WR_ERR_MAX];
        size_t k = 2 + (seed = seed * 1103515245u + 12345u) % 8;
        for (size_t j = 0; j < k; j++) {
            seed = seed * 1103515245u + 12345u;
            strcat(pat, atoms[(seed >> 8) % (sizeof(atoms) / sizeof(atoms[0]))]);
            strcat(pat, quants[(seed >> 16) % 5]);
        }
        /* %q-quote the pattern into the Lua source */
        snprintf(body, sizeof(body),
                 "local s = string.rep('a a(b)b  ', 2000) .. 'c' "
                 "local ok = pcall(string.find, s, %s) "
                 "local n = 0 pcall(function() for _ in s:gmatch(%s) do n = n + 1 end end) "
                 "return n",
                 "[==["
                 "%s"
                 "]==]",
                 "[==["
                 "%s"
                 "]==]");
        char full[1024];
        snprintf(full, sizeof(full), body, pat, pat);
        t[i] = weir_pattern(full, true, err, sizeof(err));
        worst = t[i] > worst ? t[i] : worst;
    }
    qsort(t, n, sizeof(*t), cmp_u64);
    *p99 = t[(size_t)(0.99 * (double)(n - 1))];
    free(t);
    return worst;
}

static void patterns(bool quick)
{
    for (size_t i = 0; i < sizeof(pattern_cases) / sizeof(pattern_cases[0]); i++) {
        const struct pattern_case *c = &pattern_cases[i];
        char err[WR_ERR_MAX], eerr[WR_ERR_MAX], a[32], b[32], r[64];
        uint64_t th = weir_pattern(c->body, true, err, sizeof(err));
        uint64_t te = weir_pattern(c->body, false, eerr, sizeof(eerr));
        fmt_ns(th, a, sizeof(a));
        fmt_ns(te, b, sizeof(b));
        if (c->ref_runs && !quick) {
            fmt_ns(reference_pattern(c->body), r, sizeof(r));
        } else {
            snprintf(r, sizeof(r), "%s", c->ref_runs ? "(full run)" : c->ref_note);
        }
        printf("| Lua: %s — in a hook (50M budget) / a `when:` (1M), until %s | %s / %s | %s "
               "(Lua's own) | | bounded |\n",
               c->name, err[0] ? "stopped" : "done", a, b, r);
    }
    uint64_t p99 = 0, worst = fuzzish(quick ? 20 : 300, &p99);
    char a[32], b[32];
    fmt_ns(worst, a, sizeof(a));
    fmt_ns(p99, b, sizeof(b));
    printf("| Lua: %d random adversarial patterns (find + gmatch on 20 KB, in a hook), longest / "
           "p99 | %s / %s | | | bounded |\n",
           quick ? 20 : 300, a, b);
}

/* }====== */

/* {====== the time limit: single operations that cost far more than an instruction ======
 *
 * Each body loops forever on one operation whose cost one instruction does not show: comparing
 * long strings, utf8 over long strings, sorting, table functions over long ranges, converting a
 * long numeric string. N is the size of the strings the case builds: 16 MB in a hook (limit
 * 1 s, budget 50M), 1 MB in an expression (limit 100 ms, budget 1M: building 16 MB would spend
 * the whole budget before the loop starts). Each case runs in a child process stopped after
 * STALL_CAP_S, so that the figures of a build without the time limit can be taken too.
 */
struct stall_case {
    const char *name;
    const char *body;
};

static const struct stall_case stall_cases[] = {
    {"`a == b` on two N-byte strings",
     "local a, b = string.rep('x', N), string.rep('x', N) local n = 0 "
     "while true do if a == b then n = n + 1 end end"},
    {"`a < b` on two N-byte strings",
     "local a, b = string.rep('x', N), string.rep('x', N - 1) .. 'y' "
     "while true do local _ = a < b end"},
    {"the same inside pcall, retried",
     "local a, b = string.rep('x', N), string.rep('x', N) "
     "while true do pcall(function() while true do local _ = a == b end end) end"},
    {"utf8.len of N bytes", "local s = string.rep('a', N) while true do utf8.len(s) end"},
    {"utf8.offset over N bytes",
     "local s = string.rep('a', N) while true do utf8.offset(s, N) end"},
    {"utf8.codes' iterator skipping N continuation bytes",
     "local s, f = string.rep('\\x80', N), utf8.codes('') while true do f(s, 0) end"},
    {"table.sort with a comparator comparing N-byte strings",
     "local a, b = string.rep('x', N), string.rep('x', N) local t = {} "
     "for i = 1, 100000 do t[i] = -i end "
     "table.sort(t, function(x, y) return a == b and x < y end)"},
    {"table.sort of N-byte strings, no comparator",
     "local a, b = string.rep('x', N), string.rep('x', N - 1) .. 'y' local t = {} "
     "for i = 1, 100000 do t[i] = i % 2 == 0 and a or b end table.sort(t)"},
    {"table.move({}, 1, 2^62, 2)", "table.move({}, 1, 2^62, 2)"},
    {"table.insert/remove at 1 of N/8 elements",
     "local t = {} for i = 1, N // 8 do t[i] = i end "
     "while true do table.insert(t, 1, 0) table.remove(t, 1) end"},
    {"table.concat of N/8 empty strings",
     "local t = {} for i = 1, N // 8 do t[i] = '' end while true do table.concat(t) end"},
    {"tonumber of N/2 digits", "local s = string.rep('1', N // 2) while true do tonumber(s) end"},
    {"`s + 0` on N/2 digits",
     "local s = string.rep('1', N // 2) while true do local _ = s + 0 end"},
    {"math.floor(s) on N/2 digits (a C function taking a number)",
     "local s = string.rep('1', N // 2) while true do local _ = math.floor(s) end"},
    {"weir.slug of N dropped characters",
     "local s = string.rep(\"'\", N) while true do weir.slug(s) end"},
    {"weir.json_decode of N/4 bytes",
     "local s = '[' .. string.rep('1,', N // 8) .. '1]' while true do weir.json_decode(s) end"},
};

#define STALL_CAP_S 60

static uint64_t stall_run(const char *body, bool hook, char *err, size_t errlen)
{
    char *full = NULL;
    if (asprintf(&full, "local N = %d\n%s", hook ? 16000000 : 1000000, body) < 0) {
        exit(1);
    }
    uint64_t t = weir_pattern(full, hook, err, errlen);
    free(full);
    return t;
}

/* Runs one case in a child (killed after STALL_CAP_S); writes the figure and the error. */
static void stall_case(const struct stall_case *c, bool hook, char *fig, size_t figlen, char *err,
                       size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0) {
        exit(1);
    }
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        char e[512];
        uint64_t t = stall_run(c->body, hook, e, sizeof(e));
        dprintf(fds[1], "%llu %s", (unsigned long long)t, e);
        _exit(0);
    }
    close(fds[1]);
    char buf[640] = "";
    size_t n = 0;
    bool done = false;
    while (!done) {
        struct timespec ts = {0, 20000000};
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            done = true;
        } else if (now_ns() - t0 > (uint64_t)STALL_CAP_S * 1000000000u) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(fig, figlen, "> %d s (killed)", STALL_CAP_S);
            snprintf(err, errlen, "still running");
            close(fds[0]);
            return;
        } else {
            nanosleep(&ts, NULL);
        }
    }
    ssize_t r;
    while (n + 1 < sizeof(buf) && (r = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0) {
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fds[0]);
    unsigned long long t = 0;
    int off = 0;
    if (sscanf(buf, "%llu %n", &t, &off) < 1) {
        snprintf(fig, figlen, "crashed");
        snprintf(err, errlen, "-");
        return;
    }
    fmt_ns(t, fig, figlen);
    snprintf(err, errlen, "%s", buf + off);
}

/* Rows of the README's table: the time each case ran until stopped, hook / expression. */
static void stalls(void)
{
    for (size_t i = 0; i < sizeof(stall_cases) / sizeof(stall_cases[0]); i++) {
        const struct stall_case *c = &stall_cases[i];
        char fh[64], fe[64], eh[512], ee[512];
        stall_case(c, true, fh, sizeof(fh), eh, sizeof(eh));
        stall_case(c, false, fe, sizeof(fe), ee, sizeof(ee));
        printf("| Lua time limit: %s, in a loop — stopped in a hook (N = 16 MB) / an expression "
               "(N = 1 MB) after | %s / %s | | | limit 1s / 100ms |\n",
               c->name, fh, fe);
        if (getenv("BENCH_LUA_MESSAGES")) {
            printf("|   hook: %s; expression: %s | | | | |\n", eh, ee);
        }
        fflush(stdout);
    }
}

/* }====== */

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--stall") == 0) {
        stalls();
        return 0;
    }
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc != 2 + quick) {
        fprintf(stderr, "usage: bench_lua [--quick] MAP30_LUA\n");
        return 2;
    }
    const char *script = argv[1 + quick];
    size_t n = quick ? 2000 : 50000;
    size_t nb = quick ? 200 : 5000;
    uint64_t *w = calloc(n, sizeof(uint64_t)), *r = calloc(n, sizeof(uint64_t));

    weir_hook(script, w, n / 10); /* warm-up */
    reference_hook(script, r, n / 10);
    weir_hook(script, w, n);
    reference_hook(script, r, n);
    printf("| figure | weir | reference (plain Lua) | ratio | goal |\n|---|---|---|---|---|\n");
    row("30-field mapping hook, per call", w, r, n, "p99 <= 100 us", 1000.0, "us");
    weir_when(w, nb);
    reference_when(r, nb);
    row("`when:` condition, per evaluation", w, r, nb, "<= 2 us", 1000.0, "us");
    patterns(quick);
    free(w);
    free(r);
    return 0;
}
