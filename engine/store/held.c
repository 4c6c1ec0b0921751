/*
 * held — held runs read back and decided; see held.h. Everything goes through engine/store/db,
 * so the same code serves a SQLite journal and a PostgreSQL database.
 */
#include "engine/store/held.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/db.h"
#include "engine/store/history.h"

/* Formats "what: why" into err (why: wr_db_errmsg or a prepare's message). WR_HISTORY_EDB. */
static int db_error(char *err, size_t errlen, const char *what, const char *why)
{
    wr_errf_marked(err, errlen, "%s: %s", what, why);
    return WR_HISTORY_EDB;
}

static struct json_object *text_or_null(const struct wr_db_stmt *st, int i)
{
    const char *s = wr_db_column_text(st, i);
    return s ? json_object_new_string(s) : NULL;
}

int wr_held_list(struct wr_db *db, struct json_object **out, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    *out = NULL;
    if (wr_db_prepare(db,
                      "SELECT r.id, r.workflow, r.created_at, r.updated_at, r.error, s.idx, "
                      "s.step_id, s.args FROM runs r LEFT JOIN steps s ON s.run_id = r.id "
                      "AND s.status = 'held' WHERE r.status = 'held' "
                      "ORDER BY r.created_at, r.id",
                      &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "listing held runs", msg);
    }
    struct json_object *runs = json_object_new_array();
    int rc;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        struct json_object *run = json_object_new_object(), *step = NULL, *args = NULL;
        json_object_object_add(run, "id", text_or_null(st, 0));
        json_object_object_add(run, "workflow", text_or_null(st, 1));
        json_object_object_add(run, "created_at", json_object_new_int64(wr_db_column_int64(st, 2)));
        json_object_object_add(run, "held_at", json_object_new_int64(wr_db_column_int64(st, 3)));
        json_object_object_add(run, "reason", text_or_null(st, 4));
        const char *a = wr_db_column_text(st, 7);
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
        if (!wr_db_column_is_null(st, 5)) {
            step = json_object_new_object();
            json_object_object_add(step, "idx", json_object_new_int64(wr_db_column_int64(st, 5)));
            json_object_object_add(step, "step_id", text_or_null(st, 6));
            json_object_object_add(step, "args", args ? json_object_get(args) : NULL);
        }
        json_object_put(args);
        json_object_object_add(run, "step", step);
        json_object_array_add(runs, run);
    }
    if (rc != WR_DB_DONE) {
        db_error(err, errlen, "listing held runs", wr_db_errmsg(st));
        wr_db_finalize(st);
        json_object_put(runs);
        return WR_HISTORY_EDB;
    }
    wr_db_finalize(st);
    if (wr_history_add_short_ids(db, runs, err, errlen) != 0) {
        json_object_put(runs);
        return WR_HISTORY_EDB;
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "count",
                           json_object_new_int64((int64_t)json_object_array_length(runs)));
    json_object_object_add(*out, "runs", runs);
    return 0;
}

int wr_held_count(struct wr_db *db, int64_t *n, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    *n = 0;
    if (wr_db_prepare(db, "SELECT count(*) FROM runs WHERE status = 'held'", &st, msg,
                      sizeof(msg)) != 0) {
        return db_error(err, errlen, "counting held runs", msg);
    }
    int rc = wr_db_step(st);
    if (rc == WR_DB_ROW) {
        *n = wr_db_column_int64(st, 0);
    } else {
        db_error(err, errlen, "counting held runs", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return rc == WR_DB_ROW ? 0 : WR_HISTORY_EDB;
}

/* Runs sql with ?1 = id, ?2 = now, ?3 = text (only the parameters the statement has: nparams of
   them). 0, or WR_HISTORY_EDB with "what: why" in err. */
static int update(struct wr_db *db, const char *sql, int nparams, const char *id, int64_t now,
                  const char *text, const char *what, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db, sql, &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, what, msg);
    }
    wr_db_bind_text(st, 1, id, -1);
    if (nparams >= 2) {
        wr_db_bind_int64(st, 2, now);
    }
    if (nparams >= 3) {
        wr_db_bind_text(st, 3, text, -1);
    }
    int rc = wr_db_step(st) == WR_DB_DONE ? 0 : db_error(err, errlen, what, wr_db_errmsg(st));
    wr_db_finalize(st);
    return rc;
}

/*
 * Inside the write transaction, a held run is read with its row locked until the commit. SQLite
 * needs nothing: BEGIN IMMEDIATE already keeps every other writer out. PostgreSQL (READ
 * COMMITTED) takes the row lock with FOR UPDATE: a second decider waits for the first one's
 * commit, then reads the status it left, so a run is decided once.
 */
static const char *locked(struct wr_db *db, const char *sqlite_sql, const char *pg_sql)
{
    return wr_db_kind(db) == WR_DB_POSTGRES ? pg_sql : sqlite_sql;
}

/* Checks that id is a held run (inside the transaction). */
static int check_held(struct wr_db *db, const char *id, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db,
                      locked(db, "SELECT status FROM runs WHERE id = ?",
                             "SELECT status FROM runs WHERE id = ? FOR UPDATE"),
                      &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "reading the run", msg);
    }
    wr_db_bind_text(st, 1, id, -1);
    int rc = wr_db_step(st), out = 0;
    if (rc == WR_DB_ROW) {
        const char *status = wr_db_column_text(st, 0);
        if (strcmp(status, "held") != 0) {
            snprintf(err, errlen,
                     "run %s has status %s: only held runs can be released or rejected", id,
                     status);
            out = WR_HISTORY_ESTATE;
        }
    } else if (rc == WR_DB_DONE) {
        char *shown = wr_text_cap(id, 64);
        snprintf(err, errlen, "no run '%s' (`weir held` lists the held runs)", shown);
        free(shown);
        out = WR_HISTORY_ENOTFOUND;
    } else {
        out = db_error(err, errlen, "reading the run", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return out;
}

/* Appends the ids of every held run, oldest first, to list (inside the transaction). */
static int list_held(struct wr_db *db, struct json_object *list, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db,
                      locked(db, "SELECT id FROM runs WHERE status = 'held' ORDER BY created_at",
                             "SELECT id FROM runs WHERE status = 'held' ORDER BY created_at "
                             "FOR UPDATE"),
                      &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "listing held runs", msg);
    }
    int rc;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        json_object_array_add(list, json_object_new_string(wr_db_column_text(st, 0)));
    }
    rc = rc == WR_DB_DONE ? 0 : db_error(err, errlen, "listing held runs", wr_db_errmsg(st));
    wr_db_finalize(st);
    return rc;
}

int wr_held_decide(struct wr_db *db, const char *const *ids, size_t n, bool all, bool release,
                   const char *by, const char *reason, int64_t now, struct json_object **done,
                   char *err, size_t errlen)
{
    struct json_object *list = json_object_new_array();
    char msg[WR_ERR_MAX];
    int rc = 0;
    *done = NULL;
    if (wr_db_begin(db, true, msg, sizeof(msg)) != 0) {
        json_object_put(list);
        return db_error(err, errlen, "starting a write transaction", msg);
    }
    if (all) {
        rc = list_held(db, list, err, errlen);
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
        if (release) {
            rc = update(db,
                        "UPDATE runs SET status = 'queued', next_at = NULL, error = NULL, "
                        "guard_released = 1, updated_at = ?2 WHERE id = ?1",
                        2, id, now, NULL, "releasing the run", err, errlen);
            if (rc == 0) {
                rc = update(db,
                            "UPDATE steps SET status = 'pending', error = NULL WHERE run_id = ?1 "
                            "AND status = 'held'",
                            1, id, now, NULL, "releasing the run", err, errlen);
            }
        } else {
            rc = update(db,
                        "UPDATE runs SET status = 'cancelled', error = ?3, updated_at = ?2 "
                        "WHERE id = ?1",
                        3, id, now, why, "rejecting the run", err, errlen);
        }
    }
    free(why);
    if (rc == 0 && wr_db_commit(db, msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "committing", msg);
    }
    if (rc != 0) {
        wr_db_rollback(db);
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
