/*
 * held — held runs read back and decided; see held.h.
 */
#include "engine/store/held.h"

#include <json-c/json.h>
#include <sqlite3.h>

#include "engine/store/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/history.h"

static int db_error(sqlite3 *db, char *err, size_t errlen, const char *what)
{
    wr_errf_marked(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
    return WR_HISTORY_EDB;
}

static struct json_object *text_or_null(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? json_object_new_string(s) : NULL;
}

int wr_held_list(struct wr_db *wdb, struct json_object **out, char *err, size_t errlen)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.id, r.workflow, r.created_at, r.updated_at, r.error, s.idx, "
                           "s.step_id, s.args FROM runs r LEFT JOIN steps s ON s.run_id = r.id "
                           "AND s.status = 'held' WHERE r.status = 'held' "
                           "ORDER BY r.created_at, r.id",
                           -1, &st, NULL) != SQLITE_OK) {
        return db_error(db, err, errlen, "listing held runs");
    }
    struct json_object *runs = json_object_new_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct json_object *run = json_object_new_object(), *step = NULL, *args = NULL;
        json_object_object_add(run, "id", text_or_null(st, 0));
        json_object_object_add(run, "workflow", text_or_null(st, 1));
        json_object_object_add(run, "created_at",
                               json_object_new_int64(sqlite3_column_int64(st, 2)));
        json_object_object_add(run, "held_at", json_object_new_int64(sqlite3_column_int64(st, 3)));
        json_object_object_add(run, "reason", text_or_null(st, 4));
        const char *a = (const char *)sqlite3_column_text(st, 7);
        if (a) {
            args = wr_json_parse_str(a);
        }
        struct json_object *user = NULL;
        if (args && json_object_object_get_ex(args, "user", &user) &&
            json_object_is_type(user, json_type_string)) {
            json_object_object_add(run, "user", json_object_get(user));
        } else {
            json_object_object_add(run, "user", NULL);
        }
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            step = json_object_new_object();
            json_object_object_add(step, "idx", json_object_new_int64(sqlite3_column_int64(st, 5)));
            json_object_object_add(step, "step_id", text_or_null(st, 6));
            json_object_object_add(step, "args", args ? json_object_get(args) : NULL);
        }
        json_object_put(args);
        json_object_object_add(run, "step", step);
        json_object_array_add(runs, run);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_object_put(runs);
        return db_error(db, err, errlen, "listing held runs");
    }
    if (wr_history_add_short_ids(wdb, runs, err, errlen) != 0) {
        json_object_put(runs);
        return WR_HISTORY_EDB;
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "count",
                           json_object_new_int64((int64_t)json_object_array_length(runs)));
    json_object_object_add(*out, "runs", runs);
    return 0;
}

int wr_held_count(struct wr_db *wdb, int64_t *n, char *err, size_t errlen)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    sqlite3_stmt *st = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM runs WHERE status = 'held'", -1, &st, NULL) !=
        SQLITE_OK) {
        return db_error(db, err, errlen, "counting held runs");
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_error(db, err, errlen, "counting held runs");
}

/* Runs sql with ?1 = id, ?2 = now, ?3 = text (each only when the statement has it). */
static int update(sqlite3 *db, const char *sql, const char *id, int64_t now, const char *text)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return -1;
    }
    int np = sqlite3_bind_parameter_count(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (np >= 2) {
        sqlite3_bind_int64(st, 2, now);
    }
    if (np >= 3) {
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Checks that id is a held run (inside the transaction). */
static int check_held(sqlite3 *db, const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        return db_error(db, err, errlen, "reading the run");
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), out = 0;
    if (rc == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        if (strcmp(status, "held") != 0) {
            snprintf(err, errlen,
                     "run %s has status %s: only held runs can be released or rejected", id,
                     status);
            out = WR_HISTORY_ESTATE;
        }
    } else if (rc == SQLITE_DONE) {
        char *shown = wr_text_cap(id, 64);
        snprintf(err, errlen, "no run '%s' (`weir held` lists the held runs)", shown);
        free(shown);
        out = WR_HISTORY_ENOTFOUND;
    } else {
        out = db_error(db, err, errlen, "reading the run");
    }
    sqlite3_finalize(st);
    return out;
}

int wr_held_decide(struct wr_db *wdb, const char *const *ids, size_t n, bool all, bool release,
                   const char *by, const char *reason, int64_t now, struct json_object **done,
                   char *err, size_t errlen)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    struct json_object *list = json_object_new_array();
    int rc = 0;
    *done = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        json_object_put(list);
        return db_error(db, err, errlen, "starting a write transaction");
    }
    if (all) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT id FROM runs WHERE status = 'held' ORDER BY created_at",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = db_error(db, err, errlen, "listing held runs");
        }
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            json_object_array_add(list,
                                  json_object_new_string((const char *)sqlite3_column_text(st, 0)));
        }
        sqlite3_finalize(st);
    } else {
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = check_held(db, ids[i], err, errlen);
            if (rc == 0) {
                json_object_array_add(list, json_object_new_string(ids[i]));
            }
        }
    }
    char *why = NULL;
    if (!release) {
        why = reason && *reason ? wr_xasprintf("rejected by %s: %s", by, reason)
                                : wr_xasprintf("rejected by %s", by);
    }
    for (size_t i = 0; rc == 0 && i < json_object_array_length(list); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(list, i));
        int fail;
        if (release) {
            fail = update(db,
                          "UPDATE runs SET status = 'queued', next_at = NULL, error = NULL, "
                          "guard_released = 1, updated_at = ?2 WHERE id = ?1",
                          id, now, NULL) ||
                   update(db,
                          "UPDATE steps SET status = 'pending', error = NULL WHERE run_id = ?1 "
                          "AND status = 'held'",
                          id, now, NULL);
        } else {
            fail = update(db,
                          "UPDATE runs SET status = 'cancelled', error = ?3, updated_at = ?2 "
                          "WHERE id = ?1",
                          id, now, why);
        }
        if (fail) {
            rc = db_error(db, err, errlen, release ? "releasing the run" : "rejecting the run");
        }
    }
    free(why);
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(db, err, errlen, "committing");
    }
    if (rc != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        json_object_put(list);
        return rc;
    }
    *done = list;
    return 0;
}

/* The steps of wf from idx on that may take something away (their arguments decide the rest). */
static struct json_object *destructive_from(const struct wr_workflow *wf, int64_t idx)
{
    struct json_object *a = json_object_new_array();
    for (size_t i = idx < 0 ? 0 : (size_t)idx; wf && i < wf->nsteps; i++) {
        const struct wr_step *s = &wf->steps[i];
        if (s->kind != WR_STEP_ACTION || !s->action ||
            s->action->destructive == WR_DESTRUCTIVE_NO) {
            continue;
        }
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "idx", json_object_new_int64((int64_t)i));
        json_object_object_add(o, "step_id", s->id ? json_object_new_string(s->id) : NULL);
        json_object_object_add(o, "action", json_object_new_string(s->action->name));
        json_object_array_add(a, o);
    }
    return a;
}

struct json_object *wr_held_group(struct json_object *list, const struct wr_workflow_set *set)
{
    struct json_object *runs = NULL, *count = NULL;
    json_object_object_get_ex(list, "runs", &runs);
    json_object_object_get_ex(list, "count", &count);
    struct json_object *out = json_object_new_object(), *groups = json_object_new_array();
    struct json_object *by = json_object_new_object(); /* workflow -> its group's runs */
    json_object_object_add(out, "count", json_object_get(count));
    for (size_t i = 0; runs && i < json_object_array_length(runs); i++) {
        struct json_object *run = json_object_array_get_idx(runs, i), *g = NULL, *v = NULL;
        const char *name = json_object_get_string(json_object_object_get(run, "workflow"));
        const struct wr_workflow *wf = set && name ? wr_workflow_set_find(set, name) : NULL;
        struct json_object *step = json_object_object_get(run, "step");
        int64_t idx =
            step && json_object_object_get_ex(step, "idx", &v) ? json_object_get_int64(v) : -1;
        if (wf && step && idx >= 0 && (size_t)idx < wf->nsteps && wf->steps[idx].action) {
            json_object_object_add(step, "action",
                                   json_object_new_string(wf->steps[idx].action->name));
        }
        json_object_object_add(run, "destructive_steps", destructive_from(wf, idx));
        if (!json_object_object_get_ex(by, name ? name : "", &g)) {
            struct json_object *grp = json_object_new_object();
            g = json_object_new_array();
            json_object_object_add(grp, "workflow", json_object_new_string(name ? name : ""));
            json_object_object_add(grp, "runs", g);
            json_object_array_add(groups, grp);
            json_object_object_add(by, name ? name : "", json_object_get(g));
        }
        json_object_array_add(g, json_object_get(run));
    }
    json_object_put(by);
    json_object_object_add(out, "workflows", groups);
    return out;
}
