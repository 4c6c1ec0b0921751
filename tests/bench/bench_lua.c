/*
 * bench_lua — what weir's Lua costs per call: a 30-field mapping hook and a `when:` condition,
 * each beside a reference measured in the same run on the same machine: the same Lua code in
 * a plain lua_State with no sandbox, no limits and no json-c conversion. The ratio is the price
 * of weir's safety and conversions; the percentiles are the absolute cost here.
 *
 * Usage: bench_lua [--quick] MAP30_LUA
 * Prints Markdown table rows. Asserts nothing: machines are shared and noisy.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/lua_host.h"

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
    char err[512];
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
    char err[256];
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

int main(int argc, char **argv)
{
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
    free(w);
    free(r);
    return 0;
}
