/*
 * approval — the journal's approval requests and their capability tokens (tables `approvals`
 * and `approval_tokens`, schema 8).
 *
 * An approval step stores one request per (run, step): what is asked, of whom, until when,
 * and — once — the decision. Each approver gets a token (engine/base/captoken) of which only the
 * SHA-256 is stored, bound to the request and the approver. The request and its tokens are
 * written on a journal batch, committed by the executor with the step's own record; decisions
 * come from outside the executor (the decision page, `weir approve`, the admin API) on their
 * own connection, one short write transaction each (wr_db_begin: SQLite's BEGIN IMMEDIATE,
 * PostgreSQL's BEGIN with the request's row locked), and wake the waiting run by setting its
 * next_at.
 *
 * Every function here runs on a connection from wr_journal_open_reader (read-write; SQLite with
 * its busy timeout), SQLite or PostgreSQL alike (engine/store/db), or, for wr_approval_put, on
 * a batch, whose statements are written in SQL both back ends accept; nothing here logs.
 */
#ifndef WR_APPROVAL_H
#define WR_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wr_db;
struct wr_journal_batch;

/* One request as stored. Every string owned; wr_approval_clear frees them. */
struct wr_approval {
    char *run_id;
    int64_t step_idx;
    char *step_id; /* may be NULL */
    char *workflow;
    char *message;
    char *plan;      /* JSON text: [{step, action, args}] of the steps that follow, or NULL */
    char *approvers; /* JSON array text */
    char *nonce;
    int64_t created_at, expires_at; /* Unix ms */
    char *decision;                 /* NULL (open), "approved" or "rejected" */
    char *decided_by;               /* NULL while open */
    int64_t decided_at;             /* 0 while open */
    char *reason;                   /* may be NULL */
};

/* Frees a's strings and zeroes it (a zeroed struct is fine; so is calling it twice). */
void wr_approval_clear(struct wr_approval *a);

/*
 * Adds to b (a journal batch, committed by the executor with the step's record) the request a
 * (borrowed; its decision fields are ignored: stored open), replacing an earlier request of the
 * same run and step and every token of that one, and one approval_tokens row per approver:
 * hashes[i] (wr_captoken_hash) belongs to approvers[i], i < n. Everything is copied.
 */
void wr_approval_put(struct wr_journal_batch *b, const struct wr_approval *a,
                     const char *const *approvers, const char *const *hashes, size_t n);

/* Reads the request of (run_id, step_idx) into *out (owned by the caller: wr_approval_clear).
   Returns 1 found, 0 none (*out zeroed), -1 with a message in err (the database's). */
int wr_approval_get(struct wr_db *db, const char *run_id, int64_t step_idx, struct wr_approval *out,
                    char *err, size_t errlen);

/* The request the token hash (hex SHA-256) belongs to into *out, and in *approver (owned) the
   approver it was made for. Returns 1, 0 unknown hash (nothing set), -1 with err. */
int wr_approval_find_token(struct wr_db *db, const char *hash, struct wr_approval *out,
                           char **approver, char *err, size_t errlen);

/* The request of run_id (exact id, no prefix) a decision is for: the newest undecided one
   (expired or not), else the newest decided one (so that deciding it again answers
   WR_APPROVAL_EDECIDED, not "none"), into *out. Returns 1, 0 none, -1 with err. */
int wr_approval_open_for_run(struct wr_db *db, const char *run_id, struct wr_approval *out,
                             char *err, size_t errlen);

/* What wr_approval_decide returns besides 0. */
#define WR_APPROVAL_EDB       (-1) /* the database failed (err says why) */
#define WR_APPROVAL_ENOTFOUND (-2) /* no request of that run and step */
#define WR_APPROVAL_EDECIDED  (-3) /* a decision was already recorded: the first one wins */
#define WR_APPROVAL_EEXPIRED  (-4) /* the request expired before this decision */

/*
 * Records a decision on the request of (run_id, step_idx), in one write transaction on db
 * (read-write; SQLite: BEGIN IMMEDIATE, busy timeout set; PostgreSQL: BEGIN, the request's row
 * locked FOR UPDATE, so that of two concurrent deciders the second one reads the first one's
 * decision): only while none is recorded and now < expires_at.
 * approve true records "approved", false "rejected"; by (the approver's name) and reason (may be
 * NULL) are copied into decided_by and reason, decided_at = now. In the same transaction a run
 * that is `waiting` gets next_at = now, so that the executor picks it up at its next poll (a
 * daemon in this process may also be kicked by the caller). Returns 0, or one of the codes
 * above with a message in err.
 */
int wr_approval_decide(struct wr_db *db, const char *run_id, int64_t step_idx, bool approve,
                       const char *by, const char *reason, int64_t now, char *err, size_t errlen);

/* The number of requests open now: undecided, not expired at now, and of a run that has not
   finished (for the weir_approvals_pending gauge). -1 when the database fails. */
int64_t wr_approval_count_pending(struct wr_db *db, int64_t now);

#endif
