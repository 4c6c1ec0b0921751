/*
 * approval — approval requests, tokens and decisions in the journal; see approval.h. Everything
 * goes through engine/store/db, in SQL both back ends speak, so the same code serves a SQLite
 * journal and a PostgreSQL database.
 */
#include "engine/store/approval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"
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
    /* A step that runs again (a retry) asks afresh, its old decision gone with it: the upsert
       sets every column, the decision's back to NULL (what SQLite's INSERT OR REPLACE did, in
       the dialect PostgreSQL speaks too). */
    wr_journal_batch_add_op(b,
                            "INSERT INTO approvals (run_id, step_idx, step_id, workflow, message, "
                            "plan, approvers, nonce, created_at, expires_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT (run_id, step_idx) DO UPDATE SET "
                            "step_id = excluded.step_id, workflow = excluded.workflow, "
                            "message = excluded.message, plan = excluded.plan, "
                            "approvers = excluded.approvers, nonce = excluded.nonce, "
                            "created_at = excluded.created_at, expires_at = excluded.expires_at, "
                            "decision = NULL, decided_by = NULL, decided_at = NULL, reason = NULL",
                            "tittttttii", a->run_id, a->step_idx, a->step_id, a->workflow,
                            a->message, a->plan, a->approvers, a->nonce, a->created_at,
                            a->expires_at);
    for (size_t i = 0; i < n; i++) {
        wr_journal_batch_add_op(b,
                                "INSERT INTO approval_tokens (hash, run_id, step_idx, approver) "
                                "VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET "
                                "run_id = excluded.run_id, step_idx = excluded.step_idx, "
                                "approver = excluded.approver",
                                "ttit", hashes[i], a->run_id, a->step_idx, approvers[i]);
    }
}

/* Formats "what: why" into err (why: wr_db_errmsg or a prepare's message). WR_APPROVAL_EDB. */
static int db_error(char *err, size_t errlen, const char *what, const char *why)
{
    wr_errf_marked(err, errlen, "%s: %s", what, why);
    return WR_APPROVAL_EDB;
}

static char *column_dup(const struct wr_db_stmt *st, int i)
{
    return wr_xstrdup_or_null(wr_db_column_text(st, i));
}

/* Fills out from the row at st, starting at column first (COLUMNS' order). */
static void read_row(const struct wr_db_stmt *st, int first, struct wr_approval *out)
{
    int c = first;
    out->run_id = column_dup(st, c++);
    out->step_idx = wr_db_column_int64(st, c++);
    out->step_id = column_dup(st, c++);
    out->workflow = column_dup(st, c++);
    out->message = column_dup(st, c++);
    out->plan = column_dup(st, c++);
    out->approvers = column_dup(st, c++);
    out->nonce = column_dup(st, c++);
    out->created_at = wr_db_column_int64(st, c++);
    out->expires_at = wr_db_column_int64(st, c++);
    out->decision = column_dup(st, c++);
    out->decided_by = column_dup(st, c++);
    out->decided_at = wr_db_column_int64(st, c++);
    out->reason = column_dup(st, c++);
}

/*
 * Runs the one-row query sql with text parameter 1 (and integer parameter 2 when has_idx): 1
 * with *out filled (and *extra from the column after COLUMNS, when extra), 0 no row, -1 err.
 */
static int query_one(struct wr_db *db, const char *sql, const char *text, bool has_idx, int64_t idx,
                     struct wr_approval *out, char **extra, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    memset(out, 0, sizeof(*out));
    if (wr_db_prepare(db, sql, &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "reading an approval request", msg);
    }
    wr_db_bind_text(st, 1, text, -1);
    if (has_idx) {
        wr_db_bind_int64(st, 2, idx);
    }
    int rc = wr_db_step(st);
    if (rc == WR_DB_ROW) {
        read_row(st, 0, out);
        if (extra) {
            *extra = column_dup(st, NCOLUMNS);
        }
        rc = 1;
    } else if (rc == WR_DB_DONE) {
        rc = 0;
    } else {
        rc = db_error(err, errlen, "reading an approval request", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return rc;
}

int wr_approval_get(struct wr_db *db, const char *run_id, int64_t step_idx, struct wr_approval *out,
                    char *err, size_t errlen)
{
    return query_one(db,
                     "SELECT " COLUMNS " FROM approvals AS a WHERE a.run_id = ?1 AND "
                     "a.step_idx = ?2",
                     run_id, true, step_idx, out, NULL, err, errlen);
}

int wr_approval_find_token(struct wr_db *db, const char *hash, struct wr_approval *out,
                           char **approver, char *err, size_t errlen)
{
    *approver = NULL;
    return query_one(db,
                     "SELECT " COLUMNS ", t.approver FROM approval_tokens AS t JOIN approvals "
                     "AS a ON a.run_id = t.run_id AND a.step_idx = t.step_idx WHERE t.hash = ?1",
                     hash, false, 0, out, approver, err, errlen);
}

int wr_approval_open_for_run(struct wr_db *db, const char *run_id, struct wr_approval *out,
                             char *err, size_t errlen)
{
    /* `decision IS NULL` sorts true after false on both (SQLite 1 > 0, PostgreSQL true > false):
       DESC puts the undecided first. */
    return query_one(db,
                     "SELECT " COLUMNS " FROM approvals AS a WHERE a.run_id = ?1 "
                     "ORDER BY a.decision IS NULL DESC, a.created_at DESC, a.step_idx DESC "
                     "LIMIT 1",
                     run_id, false, 0, out, NULL, err, errlen);
}

/* Steps the write st once and finalizes it: 0, or WR_APPROVAL_EDB with "what: why" in err.
 *changes (when not NULL) gets the rows it changed. */
static int write_step(struct wr_db_stmt *st, int64_t *changes, const char *what, char *err,
                      size_t errlen)
{
    int rc = wr_db_step(st) == WR_DB_DONE ? 0 : db_error(err, errlen, what, wr_db_errmsg(st));
    if (changes) {
        *changes = rc == 0 ? wr_db_changes(st) : 0;
    }
    wr_db_finalize(st);
    return rc;
}

int wr_approval_decide(struct wr_db *db, const char *run_id, int64_t step_idx, bool approve,
                       const char *by, const char *reason, int64_t now, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    int64_t changed = 0;
    int rc;

    /* The first decision wins. SQLite: BEGIN IMMEDIATE takes the write lock now, so of two
       deciders the second reads the first's decision. PostgreSQL (READ COMMITTED): FOR UPDATE
       locks the request's row, so the second waits for the first's commit and then reads the
       decision it left; and the UPDATE below only touches an undecided row either way. */
    if (wr_db_begin(db, true, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "starting a write transaction", msg);
    }
    if (wr_db_prepare(db,
                      wr_db_kind(db) == WR_DB_POSTGRES
                          ? "SELECT decision, expires_at FROM approvals WHERE run_id = ?1 AND "
                            "step_idx = ?2 FOR UPDATE"
                          : "SELECT decision, expires_at FROM approvals WHERE run_id = ?1 AND "
                            "step_idx = ?2",
                      &st, msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "reading the approval request", msg);
        goto out;
    }
    wr_db_bind_text(st, 1, run_id, -1);
    wr_db_bind_int64(st, 2, step_idx);
    rc = wr_db_step(st);
    if (rc == WR_DB_DONE) {
        snprintf(err, errlen, "run %s has no approval request at step %lld", run_id,
                 (long long)step_idx);
        rc = WR_APPROVAL_ENOTFOUND;
        goto out;
    }
    if (rc != WR_DB_ROW) {
        rc = db_error(err, errlen, "reading the approval request", wr_db_errmsg(st));
        goto out;
    }
    if (!wr_db_column_is_null(st, 0)) {
        snprintf(err, errlen, "the approval of run %s was already decided (%s)", run_id,
                 wr_db_column_text(st, 0));
        rc = WR_APPROVAL_EDECIDED;
        goto out;
    }
    if (now >= wr_db_column_int64(st, 1)) {
        snprintf(err, errlen, "the approval request of run %s has expired", run_id);
        rc = WR_APPROVAL_EEXPIRED;
        goto out;
    }
    wr_db_finalize(st);
    st = NULL;

    if (wr_db_prepare(db,
                      "UPDATE approvals SET decision = ?1, decided_by = ?2, decided_at = ?3, "
                      "reason = ?4 WHERE run_id = ?5 AND step_idx = ?6 AND decision IS NULL",
                      &st, msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "recording the decision", msg);
        goto out;
    }
    wr_db_bind_text(st, 1, approve ? "approved" : "rejected", -1);
    wr_db_bind_text(st, 2, by, -1);
    wr_db_bind_int64(st, 3, now);
    wr_db_bind_text(st, 4, reason, -1); /* NULL binds NULL */
    wr_db_bind_text(st, 5, run_id, -1);
    wr_db_bind_int64(st, 6, step_idx);
    rc = write_step(st, &changed, "recording the decision", err, errlen);
    st = NULL;
    if (rc != 0) {
        goto out;
    }
    if (changed == 0) {
        /* Not reached while the lock above holds; kept so that a decision can never be
           recorded twice, whatever the isolation. */
        snprintf(err, errlen, "the approval of run %s was already decided", run_id);
        rc = WR_APPROVAL_EDECIDED;
        goto out;
    }
    /* Wake the run: the executor's poll takes waiting runs whose next_at has come. */
    if (wr_db_prepare(db, "UPDATE runs SET next_at = ?1 WHERE id = ?2 AND status = 'waiting'", &st,
                      msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "waking the run", msg);
        goto out;
    }
    wr_db_bind_int64(st, 1, now);
    wr_db_bind_text(st, 2, run_id, -1);
    rc = write_step(st, NULL, "waking the run", err, errlen);
    st = NULL;
    if (rc != 0) {
        goto out;
    }
    if (wr_db_commit(db, msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "committing the decision", msg);
        goto out;
    }
    rc = 0;
out:
    wr_db_finalize(st);
    if (rc != 0) {
        wr_db_rollback(db); /* nothing when the commit ended the transaction */
    }
    return rc;
}

int64_t wr_approval_count_pending(struct wr_db *db, int64_t now)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    int64_t n = -1;
    if (wr_db_prepare(db,
                      "SELECT count(*) FROM approvals AS a JOIN runs AS r ON r.id = a.run_id "
                      "WHERE a.decision IS NULL AND a.expires_at > ?1 AND r.status IN "
                      "('queued', 'running', 'retrying', 'waiting', 'held')",
                      &st, msg, sizeof(msg)) == 0) {
        wr_db_bind_int64(st, 1, now);
        if (wr_db_step(st) == WR_DB_ROW) {
            n = wr_db_column_int64(st, 0);
        }
    }
    wr_db_finalize(st);
    return n;
}
