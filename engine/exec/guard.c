/*
 * guard — the brake's window and verdict; see guard.h.
 *
 * Two maps over json-c's hash tables: user -> the newest time a destructive step changed them
 * (what the count reads), and "run\nuser" -> time (so a run's later steps on the same user pass).
 */
#include "engine/exec/guard.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/duration.h"
#include "engine/base/strutil.h"

struct wr_guard {
    struct json_object *users; /* user -> int64 newest time */
    struct json_object *pairs; /* "run\nuser" -> int64 time */
};

struct wr_guard *wr_guard_new(void)
{
    struct wr_guard *g = wr_xcalloc(1, sizeof(*g));
    g->users = json_object_new_object();
    g->pairs = json_object_new_object();
    return g;
}

void wr_guard_free(struct wr_guard *g)
{
    if (g) {
        json_object_put(g->users);
        json_object_put(g->pairs);
        free(g);
    }
}

static char *pair_key(const char *user, const char *run_id)
{
    return wr_xasprintf("%s\n%s", run_id, user);
}

void wr_guard_note(struct wr_guard *g, const char *user, const char *run_id, int64_t at)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(g->users, user, &v) || json_object_get_int64(v) < at) {
        json_object_object_add(g->users, user, json_object_new_int64(at));
    }
    char *k = pair_key(user, run_id);
    json_object_object_add(g->pairs, k, json_object_new_int64(at));
    free(k);
}

static void prune_map(struct json_object *m, int64_t oldest)
{
    /* json-c's foreach cannot delete as it goes: collect first. */
    struct json_object *gone = json_object_new_array();
    json_object_object_foreach(m, key, val)
    {
        if (json_object_get_int64(val) <= oldest) {
            json_object_array_add(gone, json_object_new_string(key));
        }
    }
    for (size_t i = 0; i < json_object_array_length(gone); i++) {
        json_object_object_del(m, json_object_get_string(json_object_array_get_idx(gone, i)));
    }
    json_object_put(gone);
}

void wr_guard_prune(struct wr_guard *g, int64_t now)
{
    prune_map(g->users, now - WR_GUARD_MAX_WINDOW_MS);
    prune_map(g->pairs, now - WR_GUARD_MAX_WINDOW_MS);
}

int64_t wr_guard_count(const struct wr_guard *g, int64_t now, int64_t window_ms)
{
    int64_t n = 0;
    json_object_object_foreach(g->users, key, val)
    {
        (void)key;
        n += json_object_get_int64(val) > now - window_ms;
    }
    return n;
}

int64_t wr_guard_limit(const struct wr_guard_limits *l, int64_t users, const char **which)
{
    int64_t limit = -1;
    *which = "max";
    if (l->max > 0) {
        limit = l->max;
    }
    if (l->percent > 0 && users >= 0) {
        int64_t p = (int64_t)floor((double)users * l->percent / 100.0);
        p = p < 1 ? 1 : p;
        if (limit < 0 || p < limit) {
            limit = p;
            *which = "percent";
        }
    }
    return limit;
}

enum wr_guard_verdict wr_guard_decide(const struct wr_guard *g, const struct wr_guard_limits *l,
                                      const char *user, const char *run_id, int64_t now,
                                      int64_t users, int64_t held, int64_t *limit, int64_t *count,
                                      const char **which, char *why, size_t whylen)
{
    struct json_object *v = NULL;
    char *k = pair_key(user, run_id);
    bool mine = json_object_object_get_ex(g->pairs, k, &v);
    free(k);
    *limit = wr_guard_limit(l, users, which);
    *count = wr_guard_count(g, now, l->window_ms);
    if (mine) {
        return WR_GUARD_PASS;
    }
    char window[WR_DURATION_BUFLEN];
    wr_duration_format(l->window_ms, window, sizeof(window));
    if (held > 0) {
        snprintf(why, whylen,
                 "the brake is on: %lld run%s held, until an admin releases or rejects them "
                 "(weir held)",
                 (long long)held, held == 1 ? " is" : "s are");
        return WR_GUARD_HOLD;
    }
    bool seen = json_object_object_get_ex(g->users, user, &v) &&
                json_object_get_int64(v) > now - l->window_ms;
    if (seen || *limit < 0 || *count + 1 <= *limit) {
        return WR_GUARD_COUNT;
    }
    if (strcmp(*which, "percent") == 0) {
        snprintf(why, whylen,
                 "%lld users changed by destructive steps in the last %s, limit %lld (%g%% of the "
                 "tenant's %lld users, guard.destructive.percent)",
                 (long long)*count, window, (long long)*limit, l->percent, (long long)users);
    } else {
        snprintf(why, whylen,
                 "%lld users changed by destructive steps in the last %s, limit %lld "
                 "(guard.destructive.max)",
                 (long long)*count, window, (long long)*limit);
    }
    return WR_GUARD_HOLD;
}
