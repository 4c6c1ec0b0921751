/*
 * approval — approval requests, tokens and decisions in the journal; see approval.h.
 */
#include "engine/store/approval.h"

#include <sqlite3.h>

#include "engine/store/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/store/journal.h"

/* The columns read_row() takes, in its order. */
#define COLUMNS                                                                                    \
    "a.run_id, a.step_idx, a.step_id, a.workflow, a.message, a.plan, a.approvers, a.nonce, "       \
    "a.created_at, a.expires_at, a.decision, a.decided_by, a.decided_at, a.reason"
#define NCOLUMNS 14

void wr_approval_clear(struct wr_approval *a)
{
    free(a->run_id);
    free(a->step_id);
    free(a->workflow);
    free(a->message);
    free(a->plan);
    free(a->approvers);
    free(a->nonce);
    free(a->decision);
    free(a->decided_by);
    free(a->reason);
    memset(a, 0, sizeof(*a));
}

void wr_approval_put(struct wr_journal_batch *b, const struct wr_approval *a,
                     const char *const *approvers, const char *const *hashes, size_t n)
{
    wr_journal_batch_add_op(b, "DELETE FROM approval_tokens WHERE run_id = ? AND step_idx = ?",
                            "ti", a->run_id, a->step_idx);
    /* REPLACE: a step that runs again (a retry) asks afresh, its old decision gone with it. */
    wr_journal_batch_add_op(b,
                            "INSERT OR REPLACE INTO approvals (run_id, step_idx, step_id, "
                            "workflow, message, plan, approvers, nonce, created_at, expires_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            "tittttttii", a->run_id, a->step_idx, a->step_id, a->workflow,
                            a->message, a->plan, a->approvers, a->nonce, a->created_at,
                            a->expires_at);
    for (size_t i = 0; i < n; i++) {
        wr_journal_batch_add_op(b,
                                "INSERT OR REPLACE INTO approval_tokens (hash, run_id, step_idx, "
                                "approver) VALUES (?, ?, ?, ?)",
                                "ttit", hashes[i], a->run_id, a->step_idx, approvers[i]);
    }
}

static int db_error(sqlite3 *db, char *err, size_t errlen, const char *what)
{
    wr_errf_marked(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
    return WR_APPROVAL_EDB;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
    return wr_xstrdup_or_null((const char *)sqlite3_column_text(st, i));
}

/* Fills out from the row at st, starting at column first (COLUMNS' order). */
static void read_row(sqlite3_stmt *st, int first, struct wr_approval *out)
{
    int c = first;
    out->run_id = column_dup(st, c++);
    out->step_idx = sqlite3_column_int64(st, c++);
    out->step_id = column_dup(st, c++);
    out->workflow = column_dup(st, c++);
    out->message = column_dup(st, c++);
    out->plan = column_dup(st, c++);
    out->approvers = column_dup(st, c++);
    out->nonce = column_dup(st, c++);
    out->created_at = sqlite3_column_int64(st, c++);
    out->expires_at = sqlite3_column_int64(st, c++);
    out->decision = column_dup(st, c++);
    out->decided_by = column_dup(st, c++);
    out->decided_at = sqlite3_column_int64(st, c++);
    out->reason = column_dup(st, c++);
}

/*
 * Runs the one-row query sql with text parameter 1 (and integer parameter 2 when has_idx): 1
 * with *out filled (and *extra from the column after COLUMNS, when extra), 0 no row, -1 err.
 */
static int query_one(sqlite3 *db, const char *sql, const char *text, bool has_idx, int64_t idx,
                     struct wr_approval *out, char **extra, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return db_error(db, err, errlen, "reading an approval request");
    }
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    if (has_idx) {
        sqlite3_bind_int64(st, 2, idx);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_row(st, 0, out);
        if (extra) {
            *extra = column_dup(st, NCOLUMNS);
        }
        rc = 1;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = db_error(db, err, errlen, "reading an approval request");
    }
    sqlite3_finalize(st);
    return rc;
}

int wr_approval_get(struct wr_db *wdb, const char *run_id, int64_t step_idx,
                    struct wr_approval *out, char *err, size_t errlen)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    return query_one(db,
                     "SELECT " COLUMNS " FROM approvals AS a WHERE a.run_id = ?1 AND "
                     "a.step_idx = ?2",
                     run_id, true, step_idx, out, NULL, err, errlen);
}

int wr_approval_find_token(struct wr_db *wdb, const char *hash, struct wr_approval *out,
                           char **approver, char *err, size_t errlen)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    *approver = NULL;
    return query_one(db,
                     "SELECT " COLUMNS ", t.approver FROM approval_tokens AS t JOIN approvals "
                     "AS a ON a.run_id = t.run_id AND a.step_idx = t.step_idx WHERE t.hash = ?1",
                     hash, false, 0, out, approver, err, errlen);
}

int wr_approval_open_for_run(struct wr_db *wdb, const char *run_id, struct wr_approval *out,
                             char *err, size_t errlen)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    return query_one(db,
                     "SELECT " COLUMNS " FROM approvals AS a WHERE a.run_id = ?1 "
                     "ORDER BY a.decision IS NULL DESC, a.created_at DESC, a.step_idx DESC "
                     "LIMIT 1",
                     run_id, false, 0, out, NULL, err, errlen);
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Runs a prepared-once write with the given binds; 0 or -1. */
static int write_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int wr_approval_decide(struct wr_db *wdb, const char *run_id, int64_t step_idx, bool approve,
                       const char *by, const char *reason, int64_t now, char *err, size_t errlen)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    sqlite3_stmt *st = NULL;
    bool in_tx = false;
    int rc;

    /* IMMEDIATE takes the write lock now: of two deciders, the second reads the first's
       decision, so the first one wins. */
    if (exec_sql(db, "BEGIN IMMEDIATE") != 0) {
        rc = db_error(db, err, errlen, "starting a write transaction");
        goto out;
    }
    in_tx = true;
    if (sqlite3_prepare_v2(db,
                           "SELECT decision, expires_at FROM approvals WHERE run_id = ?1 AND "
                           "step_idx = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(db, err, errlen, "reading the approval request");
        goto out;
    }
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, step_idx);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        snprintf(err, errlen, "run %s has no approval request at step %lld", run_id,
                 (long long)step_idx);
        rc = WR_APPROVAL_ENOTFOUND;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = db_error(db, err, errlen, "reading the approval request");
        goto out;
    }
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
        snprintf(err, errlen, "the approval of run %s was already decided (%s)", run_id,
                 (const char *)sqlite3_column_text(st, 0));
        rc = WR_APPROVAL_EDECIDED;
        goto out;
    }
    if (now >= sqlite3_column_int64(st, 1)) {
        snprintf(err, errlen, "the approval request of run %s has expired", run_id);
        rc = WR_APPROVAL_EEXPIRED;
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (sqlite3_prepare_v2(db,
                           "UPDATE approvals SET decision = ?1, decided_by = ?2, decided_at = ?3, "
                           "reason = ?4 WHERE run_id = ?5 AND step_idx = ?6 AND decision IS NULL",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(db, err, errlen, "recording the decision");
        goto out;
    }
    sqlite3_bind_text(st, 1, approve ? "approved" : "rejected", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (reason) {
        sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
    }
    sqlite3_bind_text(st, 5, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, step_idx);
    rc = write_step(st);
    st = NULL;
    if (rc != 0) {
        rc = db_error(db, err, errlen, "recording the decision");
        goto out;
    }
    /* Wake the run: the executor's poll takes waiting runs whose next_at has come. */
    if (sqlite3_prepare_v2(db, "UPDATE runs SET next_at = ?1 WHERE id = ?2 AND status = 'waiting'",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(db, err, errlen, "waking the run");
        goto out;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, run_id, -1, SQLITE_STATIC);
    rc = write_step(st);
    st = NULL;
    if (rc != 0) {
        rc = db_error(db, err, errlen, "waking the run");
        goto out;
    }
    if (exec_sql(db, "COMMIT") != 0) {
        rc = db_error(db, err, errlen, "committing the decision");
        goto out;
    }
    in_tx = false;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (in_tx) {
        exec_sql(db, "ROLLBACK");
    }
    return rc;
}

int64_t wr_approval_count_pending(struct wr_db *wdb, int64_t now)
{
    sqlite3 *db = wr_db_sqlite(wdb);
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM approvals AS a JOIN runs AS r ON r.id = a.run_id "
                           "WHERE a.decision IS NULL AND a.expires_at > ?1 AND r.status IN "
                           "('queued', 'running', 'retrying', 'waiting', 'held')",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        if (sqlite3_step(st) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    return n;
}
