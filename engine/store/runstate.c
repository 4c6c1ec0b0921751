/*
 * runstate — the run executor's reads and writes of the journal; see runstate.h.
 *
 * The statements are the executor's own, moved here unchanged: the same SQL, prepared once on
 * the executor's connection, and the same state changes added to its batches in the order it
 * calls for them.
 */
#include "engine/store/runstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/clock.h"
#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/journal.h"

#define WR_STR_(x) #x
#define WR_STR(x)  WR_STR_(x)

struct wr_runstate {
    struct wr_db *db;
    struct wr_db_stmt *due[2];    /* open runs in rowid order; deferred runs now due */
    struct wr_db_stmt *body;      /* an event's body, read only for the runs that start */
    struct wr_db_stmt *steps;     /* a run's stored steps, to resume it where it stopped */
    struct wr_db_stmt *cancelled; /* was the run cancelled (by `weir cancel`) meanwhile? */
    struct wr_db_stmt *crashes;   /* a run's stored crash count */
    struct wr_db_stmt *held;      /* how many runs the guard holds now */
    struct wr_db_stmt *released;  /* did an admin release the run (weir release)? */
    /* Leases (PostgreSQL: several instances share the runs) */
    char *owner;              /* this instance, in runs.owner */
    int64_t lease_ms;         /* how long a claim holds without renewal */
    struct wr_db_stmt *claim; /* takes one run (FOR UPDATE SKIP LOCKED) */
    struct wr_db_stmt *renew; /* extends this instance's claims */
};

/*
 * The runs that may start, oldest first. Two indexed reads instead of one query over every
 * open run (which sorted the whole queue, on the loop thread, after each finished run):
 * runs of each open status with no next_at, in rowid order straight from the runs_status
 * index (status, next_at, rowid), and deferred runs whose next_at has come. A run whose
 * concurrency key has an earlier open run waits its turn (an index lookup per candidate).
 */
#define NOT_LEASED(me, now) " AND (r.owner IS NULL OR r.owner = " me " OR r.lease_until < " now ") "
#define DUE_OPEN                                                                                   \
    "SELECT r.rowid, r.id, r.workflow, r.event_id, r.concurrency_key IS NOT NULL FROM runs r "     \
    "WHERE r.status = ?1 AND r.next_at IS NULL AND r.rowid > ?3 " NOT_LEASED(                      \
        "?4",                                                                                      \
        "?5") "AND NOT EXISTS (SELECT 1 FROM runs o WHERE r.concurrency_key IS NOT NULL "          \
              "AND o.concurrency_key = r.concurrency_key AND o.status IN ('queued', 'running', "   \
              "'retrying', 'waiting') AND o.rowid < r.rowid) "                                     \
              "ORDER BY r.rowid LIMIT ?2"
#define DUE_DEFERRED                                                                               \
    "SELECT r.rowid, r.id, r.workflow, r.event_id, r.concurrency_key IS NOT NULL FROM runs r "     \
    "WHERE r.status IN ('queued', 'running', 'retrying', 'waiting') AND r.next_at <= "             \
    "?1 " NOT_LEASED(                                                                              \
        "?3",                                                                                      \
        "?1") "AND NOT EXISTS (SELECT 1 FROM runs o WHERE r.concurrency_key IS NOT NULL "          \
              "AND o.concurrency_key = r.concurrency_key AND o.status IN ('queued', 'running', "   \
              "'retrying', 'waiting') AND o.rowid < r.rowid) "                                     \
              "ORDER BY r.rowid LIMIT ?2"

/* {====== reads ====== */

struct wr_runstate *wr_runstate_open(const char *path, char *err, size_t errlen)
{
    struct wr_runstate *s = wr_xcalloc(1, sizeof(*s));
    s->db = wr_journal_open_reader(path, err, errlen);
    if (!s->db) {
        free(s);
        return NULL;
    }
    static const char *const sql[] = {
        DUE_OPEN,
        DUE_DEFERRED,
        "SELECT body FROM events WHERE id = ?",
        ("SELECT idx, step_id, status, attempts, output, started_at, error, throttled_since "
         "FROM steps WHERE run_id = ? ORDER BY idx"),
        "SELECT status = 'cancelled' FROM runs WHERE id = ?",
        "SELECT crashes FROM runs WHERE id = ?",
        "SELECT count(*) FROM runs WHERE status = 'held'",
        "SELECT guard_released FROM runs WHERE id = ?",
    };
    struct wr_db_stmt **slot[] = {&s->due[0],    &s->due[1],  &s->body, &s->steps,
                                  &s->cancelled, &s->crashes, &s->held, &s->released};
    _Static_assert(sizeof(sql) / sizeof(sql[0]) == sizeof(slot) / sizeof(slot[0]), "one per slot");
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        char msg[WR_ERR_MAX];
        if (wr_db_prepare(s->db, sql[i], slot[i], msg, sizeof(msg)) != 0) {
            wr_errf_marked(err, errlen, "cannot read due runs: %s", msg);
            wr_runstate_close(s);
            return NULL;
        }
    }
    return s;
}

void wr_runstate_close(struct wr_runstate *s)
{
    if (!s) {
        return;
    }
    wr_db_finalize(s->due[0]);
    wr_db_finalize(s->due[1]);
    wr_db_finalize(s->body);
    wr_db_finalize(s->steps);
    wr_db_finalize(s->cancelled);
    wr_db_finalize(s->crashes);
    wr_db_finalize(s->held);
    wr_db_finalize(s->released);
    wr_db_finalize(s->claim);
    wr_db_finalize(s->renew);
    free(s->owner);
    wr_journal_close_reader(s->db);
    free(s);
}

/* Appends the rows of st (bound by the caller) to *v. */
static void collect_due(struct wr_db_stmt *st, struct wr_runstate_due **v, size_t *n, size_t *cap)
{
    while (wr_db_step(st) == WR_DB_ROW) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *v = wr_xrealloc(*v, *cap * sizeof(**v));
        }
        struct wr_runstate_due *d = &(*v)[(*n)++];
        d->rowid = wr_db_column_int64(st, 0);
        d->id = wr_xstrdup(wr_db_column_text(st, 1));
        d->workflow = wr_xstrdup(wr_db_column_text(st, 2));
        d->event_id = wr_xstrdup(wr_db_column_text(st, 3));
        d->keyed = (int)wr_db_column_int64(st, 4) != 0;
    }
    wr_db_reset(st);
}

void wr_runstate_due_open(struct wr_runstate *s, const char *status, int limit, int64_t after,
                          struct wr_runstate_due **v, size_t *n, size_t *cap)
{
    wr_db_bind_text(s->due[0], 1, status, -1);
    wr_db_bind_int64(s->due[0], 2, limit);
    wr_db_bind_int64(s->due[0], 3, after);
    wr_db_bind_text(s->due[0], 4, s->owner, -1);
    wr_db_bind_int64(s->due[0], 5, wr_clock_wall_ms());
    collect_due(s->due[0], v, n, cap);
}

void wr_runstate_due_deferred(struct wr_runstate *s, int64_t now, int limit,
                              struct wr_runstate_due **v, size_t *n, size_t *cap)
{
    wr_db_bind_int64(s->due[1], 1, now);
    wr_db_bind_int64(s->due[1], 2, limit);
    wr_db_bind_text(s->due[1], 3, s->owner, -1);
    collect_due(s->due[1], v, n, cap);
}

bool wr_runstate_body_begin(struct wr_runstate *s, const char *event_id, const char **body)
{
    wr_db_bind_text(s->body, 1, event_id, -1);
    if (wr_db_step(s->body) != WR_DB_ROW) {
        *body = NULL;
        return false;
    }
    *body = wr_db_column_text(s->body, 0);
    return true;
}

void wr_runstate_body_end(struct wr_runstate *s)
{
    wr_db_reset(s->body);
}

void wr_runstate_each_step(struct wr_runstate *s, const char *run_id, wr_runstate_step_fn fn,
                           void *arg)
{
    struct wr_db_stmt *st = s->steps;
    wr_db_bind_text(st, 1, run_id, -1);
    while (wr_db_step(st) == WR_DB_ROW) {
        struct wr_runstate_step row = {
            .idx = wr_db_column_int64(st, 0),
            .step_id = wr_db_column_text(st, 1),
            .status = wr_db_column_text(st, 2),
            .attempts = (int)wr_db_column_int64(st, 3),
            .output = wr_db_column_text(st, 4),
            .started_at = wr_db_column_int64(st, 5),
            .error = wr_db_column_text(st, 6),
            .throttled_since = wr_db_column_int64(st, 7),
        };
        fn(arg, &row);
    }
    wr_db_reset(st);
}

bool wr_runstate_cancelled(struct wr_runstate *s, const char *run_id)
{
    struct wr_db_stmt *st = s->cancelled;
    wr_db_bind_text(st, 1, run_id, -1);
    bool yes = wr_db_step(st) == WR_DB_ROW && (int)wr_db_column_int64(st, 0);
    wr_db_reset(st);
    return yes;
}

int wr_runstate_crashes(struct wr_runstate *s, const char *run_id)
{
    int n = 0;
    wr_db_bind_text(s->crashes, 1, run_id, -1);
    if (wr_db_step(s->crashes) == WR_DB_ROW) {
        n = (int)wr_db_column_int64(s->crashes, 0);
    }
    wr_db_reset(s->crashes);
    return n;
}

int64_t wr_runstate_held_count(struct wr_runstate *s)
{
    int64_t n = 0;
    if (wr_db_step(s->held) == WR_DB_ROW) {
        n = wr_db_column_int64(s->held, 0);
    }
    wr_db_reset(s->held);
    return n;
}

bool wr_runstate_guard_released(struct wr_runstate *s, const char *run_id)
{
    wr_db_bind_text(s->released, 1, run_id, -1);
    bool yes = wr_db_step(s->released) == WR_DB_ROW && (int)wr_db_column_int64(s->released, 0);
    wr_db_reset(s->released);
    return yes;
}

int64_t wr_runstate_guard_load(struct wr_runstate *s, int64_t since, wr_runstate_guard_fn fn,
                               void *arg)
{
    struct wr_db_stmt *st = NULL;
    int64_t n = 0;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(s->db, "SELECT \"user\", run_id, at FROM guard_window WHERE at > ?", &st, msg,
                      sizeof(msg)) != 0) {
        return -1;
    }
    wr_db_bind_int64(st, 1, since);
    int rc;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        fn(arg, wr_db_column_text(st, 0), wr_db_column_text(st, 1), wr_db_column_int64(st, 2));
        n++;
    }
    wr_db_finalize(st);
    return rc == WR_DB_DONE ? n : -1;
}

/* The statuses of a run not finished. */
#define OPEN_STATUSES "('queued', 'running', 'retrying', 'waiting')"

int wr_runstate_lease(struct wr_runstate *s, const char *owner, int64_t lease_ms, char *err,
                      size_t errlen)
{
    free(s->owner);
    s->owner = wr_xstrdup(owner);
    s->lease_ms = lease_ms;
    if (wr_db_kind(s->db) != WR_DB_POSTGRES || s->claim) {
        return 0;
    }
    char msg[WR_ERR_MAX];
    /* The row is locked for the update, or skipped when another instance holds it right now;
       p.owner is the owner before (NULL: free; another: its lease ran out). */
    if (wr_db_prepare(
            s->db,
            "WITH p AS (SELECT id, owner FROM runs WHERE id = ANY (CAST(?3 AS text[])) AND "
            "status IN " OPEN_STATUSES " AND (owner IS NULL OR owner = ?1 OR lease_until < ?4) "
            "ORDER BY id FOR UPDATE SKIP LOCKED) "
            "UPDATE runs SET owner = ?1, lease_until = ?2 FROM p WHERE runs.id = p.id "
            "RETURNING p.id, p.owner",
            &s->claim, msg, sizeof(msg)) != 0 ||
        /* rows another session is writing right now are skipped, not waited for: no deadlock
           with a commit group; the next renewal (a third of the lease later) gets them */
        wr_db_prepare(s->db,
                      "UPDATE runs SET lease_until = ?2 WHERE id IN (SELECT id FROM runs WHERE "
                      "owner = ?1 AND status IN " OPEN_STATUSES " FOR UPDATE SKIP LOCKED)",
                      &s->renew, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "cannot prepare the run leases: %s", msg);
        return -1;
    }
    return 0;
}

int wr_runstate_claim_many(struct wr_runstate *s, const char *const *ids, size_t n, int64_t now,
                           int *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = s->claim ? 0 : 1; /* one daemon (SQLite): every run is its own */
    }
    if (!s->claim || n == 0) {
        return 0;
    }
    /* One statement, one commit for them all: an array literal of the ids. */
    struct wr_buf arr = {0};
    wr_buf_addc(&arr, '{');
    for (size_t i = 0; i < n; i++) {
        wr_buf_add(&arr, i ? ",\"" : "\"");
        for (const char *p = ids[i]; *p; p++) {
            if (*p == '"' || *p == '\\') {
                wr_buf_addc(&arr, '\\');
            }
            wr_buf_addc(&arr, *p);
        }
        wr_buf_addc(&arr, '"');
    }
    wr_buf_addc(&arr, '}');
    struct wr_db_stmt *st = s->claim;
    wr_db_bind_text(st, 1, s->owner, -1);
    wr_db_bind_int64(st, 2, now + s->lease_ms);
    wr_db_bind_text(st, 3, wr_buf_str(&arr), -1);
    wr_db_bind_int64(st, 4, now);
    int rc;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        const char *id = wr_db_column_text(st, 0), *prev = wr_db_column_text(st, 1);
        for (size_t i = 0; id && i < n; i++) {
            if (strcmp(ids[i], id) == 0) {
                out[i] = prev && strcmp(prev, s->owner) != 0 ? 2 : 1;
            }
        }
    }
    wr_db_reset(st);
    wr_db_clear_bindings(st);
    wr_buf_free(&arr);
    return rc == WR_DB_DONE ? 0 : -1;
}

int wr_runstate_claim(struct wr_runstate *s, const char *run_id, int64_t now)
{
    int out = 0;
    return wr_runstate_claim_many(s, &run_id, 1, now, &out) == 0 ? out : -1;
}

bool wr_runstate_shared(const struct wr_runstate *s)
{
    return wr_db_kind(s->db) == WR_DB_POSTGRES;
}

int64_t wr_runstate_renew(struct wr_runstate *s, int64_t now)
{
    if (!s->renew) {
        return 0;
    }
    wr_db_bind_text(s->renew, 1, s->owner, -1);
    wr_db_bind_int64(s->renew, 2, now + s->lease_ms);
    int rc = wr_db_step(s->renew);
    int64_t n = rc == WR_DB_DONE ? wr_db_changes(s->renew) : -1;
    wr_db_reset(s->renew);
    wr_db_clear_bindings(s->renew);
    return n;
}

struct wr_db *wr_runstate_db(struct wr_runstate *s)
{
    return s->db;
}

/* }====== */

/* {====== state changes ====== */

void wr_runstate_guard_note(struct wr_journal_batch *b, const char *user, const char *run_id,
                            int64_t at, int64_t prune_before)
{
    wr_journal_batch_add_op(b,
                            "INSERT INTO guard_window (\"user\", run_id, at) VALUES (?, ?, ?) "
                            "ON CONFLICT (\"user\", run_id) DO UPDATE SET at = excluded.at",
                            "tti", user, run_id, at);
    if (prune_before > 0) {
        wr_journal_batch_add_op(b, "DELETE FROM guard_window WHERE at <= ?", "i", prune_before);
    }
}

void wr_runstate_set_run(struct wr_journal_batch *b, const char *run_id, const char *status,
                         int64_t next_at, const char *error, int64_t updated_at)
{
    /* Only a running run keeps its owner: a parked one is any instance's when it is due. */
    bool running = strcmp(status, "running") == 0;
    if (next_at > 0) {
        wr_journal_batch_add_op(b,
                                running ? "UPDATE runs SET status = ?, next_at = ?, error = ?, "
                                          "updated_at = ? WHERE id = ? AND status <> 'cancelled'"
                                        : "UPDATE runs SET status = ?, next_at = ?, error = ?, "
                                          "updated_at = ?, owner = NULL, lease_until = NULL "
                                          "WHERE id = ? AND status <> 'cancelled'",
                                "titit", status, next_at, error, updated_at, run_id);
    } else {
        wr_journal_batch_add_op(b,
                                running ? "UPDATE runs SET status = ?, next_at = NULL, error = ?, "
                                          "updated_at = ? WHERE id = ? AND status <> 'cancelled'"
                                        : "UPDATE runs SET status = ?, next_at = NULL, error = ?, "
                                          "updated_at = ?, owner = NULL, lease_until = NULL "
                                          "WHERE id = ? AND status <> 'cancelled'",
                                "ttit", status, error, updated_at, run_id);
    }
}

void wr_runstate_set_step(struct wr_journal_batch *b, const char *run_id, int64_t idx,
                          const char *step_id, const char *status, int64_t attempts,
                          int64_t started_at, int64_t finished_at, const char *args,
                          const char *output, const char *error, int64_t throttled_since)
{
    /* NULL keeps what is stored (coalesce): started_at only changes when a step starts. */
    const char *sql =
        "INSERT INTO steps (run_id, idx, step_id, status, attempts, started_at, finished_at, "
        "args, output, error, throttled_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, idx) DO UPDATE SET status = excluded.status, attempts = "
        "excluded.attempts, started_at = coalesce(excluded.started_at, steps.started_at), "
        "finished_at = excluded.finished_at, args = coalesce(excluded.args, steps.args), output = "
        "excluded.output, error = excluded.error, throttled_since = excluded.throttled_since";
    /* Parameters 6 and 7 are an integer or NULL; the va_list needs the matching type. */
    if (started_at >= 0 && finished_at < 0) {
        wr_journal_batch_add_op(b, sql,
                                "titti"
                                "it"
                                "ttti",
                                run_id, idx, step_id, status, attempts, started_at,
                                (const char *)NULL, args, output, error, throttled_since);
    } else if (started_at < 0 && finished_at < 0) {
        wr_journal_batch_add_op(b, sql,
                                "titti"
                                "tt"
                                "ttti",
                                run_id, idx, step_id, status, attempts, (const char *)NULL,
                                (const char *)NULL, args, output, error, throttled_since);
    } else if (started_at < 0) {
        wr_journal_batch_add_op(b, sql,
                                "titti"
                                "ti"
                                "ttti",
                                run_id, idx, step_id, status, attempts, (const char *)NULL,
                                finished_at, args, output, error, throttled_since);
    } else {
        wr_journal_batch_add_op(b, sql,
                                "titti"
                                "ii"
                                "ttti",
                                run_id, idx, step_id, status, attempts, started_at, finished_at,
                                args, output, error, throttled_since);
    }
}

void wr_runstate_set_hash(struct wr_journal_batch *b, const char *run_id, const char *hash)
{
    wr_journal_batch_add_op(b, "UPDATE runs SET workflow_hash = ? WHERE id = ?", "tt", hash,
                            run_id);
}

void wr_runstate_set_crashes(struct wr_journal_batch *b, const char *run_id, int64_t n)
{
    wr_journal_batch_add_op(b, "UPDATE runs SET crashes = ? WHERE id = ?", "it", n, run_id);
}

void wr_runstate_reset_crashes(struct wr_journal_batch *b, const char *run_id)
{
    wr_journal_batch_add_op(b, "UPDATE runs SET crashes = 0 WHERE id = ?", "t", run_id);
}

void wr_runstate_uncount_crash(struct wr_journal_batch *b, const char *run_id)
{
    wr_journal_batch_add_op(
        b,
        "UPDATE runs SET crashes = CASE WHEN crashes > 0 THEN crashes - 1 ELSE 0 END WHERE id = ?",
        "t", run_id);
}

/* }====== */

/* {====== the dry run's store ====== */

/* WR_ON_ERROR_BASE as SQL text: "1000". */
#define ON_ERROR_BASE_SQL WR_STR(WR_ON_ERROR_BASE)
#define FIRST_RUN                                                                                  \
    "SELECT status, coalesce(error, (SELECT error FROM steps WHERE run_id = runs.id AND "          \
    "status = 'failed' AND idx < " ON_ERROR_BASE_SQL " ORDER BY idx DESC LIMIT 1)) FROM runs"

int wr_runstate_count_open(struct wr_db *db, int64_t *n)
{
    struct wr_db_stmt *st = NULL;
    int rc = -1;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db,
                      "SELECT count(*) FROM runs WHERE status IN ('queued', "
                      "'running', 'retrying', 'waiting')",
                      &st, msg, sizeof(msg)) == 0 &&
        wr_db_step(st) == WR_DB_ROW) {
        *n = (int)wr_db_column_int64(st, 0);
        rc = 0;
    }
    wr_db_finalize(st);
    return rc;
}

bool wr_runstate_first_run(struct wr_db *db, char **status, char **error)
{
    struct wr_db_stmt *st = NULL;
    bool found = false;
    *status = NULL;
    *error = NULL;
    /* A failed run's error is stored once, in its failed step's row (engine/exec/run.h). */
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db, FIRST_RUN, &st, msg, sizeof(msg)) == 0 && wr_db_step(st) == WR_DB_ROW) {
        found = true;
        *status = wr_xstrdup(wr_db_column_text(st, 0));
        const char *e = wr_db_column_text(st, 1);
        *error = e ? wr_xstrdup(e) : NULL;
    }
    wr_db_finalize(st);
    return found;
}

void wr_runstate_each_row(struct wr_db *db, wr_runstate_row_fn fn, void *arg)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db, "SELECT idx, status, args, output, error FROM steps ORDER BY idx", &st,
                      msg, sizeof(msg)) != 0) {
        return;
    }
    while (wr_db_step(st) == WR_DB_ROW) {
        struct wr_runstate_row row = {
            .idx = wr_db_column_int64(st, 0),
            .status = wr_db_column_text(st, 1),
            .args = wr_db_column_text(st, 2),
            .output = wr_db_column_text(st, 3),
            .error = wr_db_column_text(st, 4),
        };
        fn(arg, &row);
    }
    wr_db_finalize(st);
}

/* }====== */

/* {====== cancel-runs: a workflow's runs of one concurrency key ====== */

/* The statuses a cancel-runs step takes: never running (a step is executing there). */
#define CANCELLABLE "('queued', 'retrying', 'waiting', 'held')"

int64_t wr_runstate_cancellable(struct wr_runstate *s, const char *workflow, const char *key,
                                const char *except_id, void (*fn)(void *arg, const char *id),
                                void *arg, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(s->db,
                      "SELECT id FROM runs WHERE workflow = ?1 AND concurrency_key = ?2 "
                      "AND status IN " CANCELLABLE " AND id <> coalesce(?3, '') "
                      "ORDER BY rowid",
                      &st, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "cannot read the runs to cancel: %s", msg);
        return -1;
    }
    char *stored = wr_journal_stored_key(key); /* as the runs' keys were stored */
    wr_db_bind_text(st, 1, workflow, -1);
    wr_db_bind_text(st, 2, stored, -1);
    wr_db_bind_text(st, 3, except_id, -1);
    int64_t n = 0;
    int rc;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        fn(arg, wr_db_column_text(st, 0));
        n++;
    }
    if (rc != WR_DB_DONE) {
        wr_errf_marked(err, errlen, "cannot read the runs to cancel: %s", wr_db_errmsg(st));
        n = -1;
    }
    wr_db_finalize(st);
    free(stored);
    return n;
}

void wr_runstate_cancel_run(struct wr_journal_batch *b, const char *run_id, const char *error,
                            int64_t now)
{
    wr_journal_batch_add_op(b,
                            "UPDATE runs SET status = 'cancelled', next_at = NULL, error = ?, "
                            "updated_at = ? WHERE id = ? AND status IN " CANCELLABLE,
                            "tit", error, now, run_id);
}

/* }====== */
