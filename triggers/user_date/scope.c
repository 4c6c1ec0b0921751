/*
 * scope — the user-date kind's on-demand and preview slots (issue #16): `weir fire WORKFLOW
 * --user REF` (user_select, user_event) and `weir scope WORKFLOW --days N` (scope). See
 * scope.h. Nothing here writes: the preview reads Graph (one advanced query) and the journal's
 * trigger_state, read-only.
 */
#include "triggers/user_date/scope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/lang/cron.h"
#include "engine/lang/workflow.h"
#include "engine/store/trigger_state.h"
#include "triggers/trigger.h"
#include "triggers/user_date/due.h"

/* {====== fire --user ====== */

char *wr_user_date_user_select(const struct wr_workflow *wf)
{
    struct wr_user_date_spec s;
    char err[WR_ERR_MAX];
    char *select = NULL;
    /* The arguments passed the table and validate when the workflow loaded: spec_read cannot
       fail here, but a NULL is still a refusal rather than a crash. */
    if (wr_user_date_spec_read(wf->trigger_args, &s, err, sizeof(err)) == 0) {
        select = wr_user_date_select(&s);
    }
    wr_user_date_spec_clear(&s);
    return select;
}

/* The user's name for messages: userPrincipalName, else id, else "?" (borrowed). */
static const char *user_name(struct json_object *user)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(user, "userPrincipalName", &v) &&
        json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    if (json_object_object_get_ex(user, "id", &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return "?";
}

struct json_object *wr_user_date_user_event(const struct wr_workflow *wf, struct json_object *user,
                                            char *err, size_t errlen)
{
    struct wr_user_date_spec s;
    struct wr_user_date_hit hit;
    struct json_object *ev = NULL, *v = NULL;
    struct wr_tz *tz = NULL;
    char why[WR_ERR_MAX];

    if (wr_user_date_spec_read(wf->trigger_args, &s, why, sizeof(why)) != 0) {
        wr_errf(err, errlen, "workflow %s: trigger.user-date.%s", wf->name, why);
        goto out;
    }
    if (!(tz = wr_tz_load(s.zone, why, sizeof(why)))) {
        wr_errf(err, errlen, "workflow %s: trigger.user-date.zone: %s", wf->name, why);
        goto out;
    }
    if (!json_object_object_get_ex(user, s.attribute, &v) || v == NULL) {
        wr_errf(err, errlen, "user %s has no %s: workflow %s has no date to run for",
                user_name(user), s.attribute, wf->name);
        goto out;
    }
    if (wr_user_date_read(&s, tz, user, &hit, why, sizeof(why)) != 0) {
        wr_errf(err, errlen, "user %s: %s", user_name(user), why);
        goto out;
    }
    ev = wr_user_date_event(&s, user, &hit);
    json_object_object_add(ev, "on_demand", json_object_new_boolean(1));
out:
    wr_tz_free(tz);
    wr_user_date_spec_clear(&s);
    return ev;
}

/* }====== */

/* {====== scope ====== */

struct scope_job {
    struct wr_user_date_spec spec;
    struct wr_tz *tz;
    struct wr_user_date_window w;
    char *workflow;
    char *path; /* the Graph request, for messages */
    int days;
    struct json_object *users; /* every user Graph answered with (owned array) */
    struct json_object *fired; /* user id -> canonical value that fired (owned object) */
    void (*done)(void *arg, struct json_object *preview, const char *error);
    void *arg;
};

static void job_free(struct scope_job *j)
{
    wr_user_date_spec_clear(&j->spec);
    wr_tz_free(j->tz);
    free(j->workflow);
    free(j->path);
    json_object_put(j->users);
    json_object_put(j->fired);
    free(j);
}

/* One "fired:<user id>" entry of the runtime's trigger_state: {"value", "due"}. */
static void on_fired_entry(void *arg, const char *name, const char *value, int64_t updated_at)
{
    struct scope_job *j = arg;
    struct json_object *v = json_tokener_parse(value), *val = NULL;
    (void)updated_at;
    if (v && json_object_object_get_ex(v, "value", &val) &&
        json_object_is_type(val, json_type_string)) {
        json_object_object_add(j->fired, name + strlen("fired:"),
                               json_object_new_string(json_object_get_string(val)));
    }
    json_object_put(v);
}

static int on_page(void *arg, const struct wr_directory_page *page, char *err, size_t errlen)
{
    struct scope_job *j = arg;
    (void)err;
    (void)errlen;
    for (size_t i = 0; i < json_object_array_length(page->items); i++) {
        json_object_array_add(j->users, json_object_get(json_object_array_get_idx(page->items, i)));
    }
    return 0;
}

/* "2026-03-20 09:00 CET": ms in the workflow's zone, to the minute. */
static const char *local_text(const struct wr_tz *tz, int64_t ms, char *buf, size_t len)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    char iso[WR_USER_DATE_ISO_LEN];
    wr_user_date_iso((sec + wr_tz_offset(tz, sec)) * 1000, iso);
    /* iso is "YYYY-MM-DDTHH:MM:SSZ": the date, a blank, the time to the minute. */
    snprintf(buf, len, "%.10s %.5s %s", iso, iso + 11, wr_tz_abbr(tz, sec));
    return buf;
}

static struct json_object *str_or_null(struct json_object *user, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(user, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_new_string(json_object_get_string(v))
               : NULL;
}

/* A preview row: the user's names, its state, and its due time when it has one. */
static struct json_object *row_new(struct json_object *user, const char *state)
{
    struct json_object *row = json_object_new_object();
    json_object_object_add(row, "id", str_or_null(user, "id"));
    json_object_object_add(row, "userPrincipalName", str_or_null(user, "userPrincipalName"));
    json_object_object_add(row, "displayName", str_or_null(user, "displayName"));
    json_object_object_add(row, "state", json_object_new_string(state));
    return row;
}

static int64_t row_due(struct json_object *row)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(row, "due_ms", &v) && v ? json_object_get_int64(v) : INT64_MAX;
}

static const char *row_str(struct json_object *row, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(row, key, &v) && v ? json_object_get_string(v) : "";
}

/* By due time, then userPrincipalName and id; rows without a due time last. */
static int row_cmp(const void *a, const void *b)
{
    struct json_object *x = *(struct json_object *const *)a, *y = *(struct json_object *const *)b;
    int64_t dx = row_due(x), dy = row_due(y);
    if (dx != dy) {
        return dx < dy ? -1 : 1;
    }
    int c = strcmp(row_str(x, "userPrincipalName"), row_str(y, "userPrincipalName"));
    return c ? c : strcmp(row_str(x, "id"), row_str(y, "id"));
}

static struct json_object *build_preview(struct scope_job *j)
{
    size_t n = json_object_array_length(j->users);
    struct json_object *rows = json_object_new_array();
    int now = 0, later = 0, fired = 0, unreadable = 0;
    char iso[WR_USER_DATE_ISO_LEN], local[64], why[WR_ERR_MAX];

    for (size_t i = 0; i < n; i++) {
        struct json_object *user = json_object_array_get_idx(j->users, i), *row, *f = NULL;
        struct wr_user_date_hit hit;
        if (wr_user_date_read(&j->spec, j->tz, user, &hit, why, sizeof(why)) != 0) {
            row = row_new(user, "unreadable");
            json_object_object_add(row, "due", NULL);
            json_object_object_add(row, "due_local", NULL);
            json_object_object_add(row, "detail", json_object_new_string(why));
            json_object_array_add(rows, row);
            unreadable++;
            continue;
        }
        enum wr_user_date_when when = wr_user_date_classify(&j->w, hit.due_ms);
        if (when == WR_USER_DATE_MISSED || when == WR_USER_DATE_BEYOND) {
            continue; /* read because the value window is wider than the due window */
        }
        wr_user_date_iso(hit.value_ms, iso);
        bool done = json_object_object_get_ex(j->fired, hit.id, &f) &&
                    strcmp(json_object_get_string(f), iso) == 0;
        const char *state = done ? "fired" : when == WR_USER_DATE_NOW ? "due now" : "later";
        row = row_new(user, state);
        json_object_object_add(row, "date", json_object_new_string(hit.value));
        json_object_object_add(row, "due",
                               json_object_new_string(wr_user_date_iso(hit.due_ms, iso)));
        json_object_object_add(
            row, "due_local",
            json_object_new_string(local_text(j->tz, hit.due_ms, local, sizeof(local))));
        json_object_object_add(row, "due_ms", json_object_new_int64(hit.due_ms));
        const char *detail = done ? "already ran for this date"
                             : when == WR_USER_DATE_NOW
                                 ? "due within the catch-up window: fires at the next poll"
                                 : NULL;
        json_object_object_add(row, "detail", detail ? json_object_new_string(detail) : NULL);
        json_object_array_add(rows, row);
        *(done ? &fired : when == WR_USER_DATE_NOW ? &now : &later) += 1;
    }
    json_object_array_sort(rows, row_cmp);
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object_object_del(json_object_array_get_idx(rows, i), "due_ms");
    }

    struct json_object *p = json_object_new_object();
    char from[64], to[64];
    local_text(j->tz, j->w.due_lo, from, sizeof(from));
    local_text(j->tz, j->w.due_hi, to, sizeof(to));
    json_object_object_add(p, "workflow", json_object_new_string(j->workflow));
    json_object_object_add(p, "trigger", json_object_new_string("user-date"));
    char *summary =
        wr_xasprintf("%zu user%s due from %s (catch-up) to %s (%d day%s): %d due now, %d later, "
                     "%d already fired, %d unreadable",
                     json_object_array_length(rows), json_object_array_length(rows) == 1 ? "" : "s",
                     from, to, j->days, j->days == 1 ? "" : "s", now, later, fired, unreadable);
    json_object_object_add(p, "summary", json_object_new_string(summary));
    free(summary);
    json_object_object_add(p, "attribute", json_object_new_string(j->spec.attribute));
    json_object_object_add(p, "zone", json_object_new_string(j->spec.zone));
    json_object_object_add(p, "days", json_object_new_int(j->days));
    json_object_object_add(p, "now", json_object_new_string(wr_user_date_iso(j->w.now_ms, iso)));
    json_object_object_add(p, "from", json_object_new_string(wr_user_date_iso(j->w.due_lo, iso)));
    json_object_object_add(p, "to", json_object_new_string(wr_user_date_iso(j->w.due_hi, iso)));
    struct json_object *counts = json_object_new_object();
    json_object_object_add(counts, "due now", json_object_new_int(now));
    json_object_object_add(counts, "later", json_object_new_int(later));
    json_object_object_add(counts, "fired", json_object_new_int(fired));
    json_object_object_add(counts, "unreadable", json_object_new_int(unreadable));
    json_object_object_add(p, "counts", counts);
    json_object_object_add(p, "users", rows);
    return p;
}

static void on_read(void *arg, const struct wr_directory_read_result *r)
{
    struct scope_job *j = arg;
    if (!r->ok) {
        j->done(j->arg, NULL, r->message ? r->message : r->error);
    } else {
        struct json_object *p = build_preview(j);
        j->done(j->arg, p, NULL);
        json_object_put(p);
    }
    job_free(j);
}

int wr_user_date_scope(const struct wr_trigger_env *env, const struct wr_workflow *wf, int days,
                       int64_t now_ms,
                       void (*done)(void *arg, struct json_object *preview, const char *error),
                       void *arg, char *err, size_t errlen)
{
    struct scope_job *j = wr_xcalloc(1, sizeof(*j));
    char why[WR_ERR_MAX];

    j->workflow = wr_xstrdup(wf->name);
    j->days = days;
    j->done = done;
    j->arg = arg;
    j->users = json_object_new_array();
    j->fired = json_object_new_object();
    if (wr_user_date_spec_read(wf->trigger_args, &j->spec, why, sizeof(why)) != 0) {
        wr_errf(err, errlen, "workflow %s: trigger.user-date.%s", wf->name, why);
        goto fail;
    }
    if (!(j->tz = wr_tz_load(j->spec.zone, why, sizeof(why)))) {
        wr_errf(err, errlen, "workflow %s: trigger.user-date.zone: %s", wf->name, why);
        goto fail;
    }
    if (!env->dir) {
        wr_errf(err, errlen, "no Graph client to read the users with");
        goto fail;
    }
    /* What already fired: the runtime's "fired:<user id>" entries. No journal yet: nothing. */
    char *scope = wr_xasprintf("user-date %s", wf->name);
    int64_t n = env->state_path
                    ? wr_trigger_state_load(env->state_path, scope, "fired:", on_fired_entry, j,
                                            why, sizeof(why))
                    : 0;
    free(scope);
    if (n < 0) {
        wr_errf(err, errlen, "reading what already fired: %s", why);
        goto fail;
    }
    wr_user_date_window_until(&j->spec, now_ms, now_ms + (int64_t)days * WR_USER_DATE_DAY_MS,
                              &j->w);
    j->path = wr_user_date_request_path(&j->spec, &j->w);
    if (wr_directory_read_all(env->dir, j->path, WR_GRAPH_EVENTUAL, 0, on_page, on_read, j) != 0) {
        wr_errf(err, errlen, "cannot start reading %s", j->path);
        goto fail;
    }
    return 0;
fail:
    job_free(j);
    return -1;
}

/* }====== */
