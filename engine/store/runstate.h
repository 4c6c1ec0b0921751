/*
 * runstate — the run executor's view of the journal: the reads it makes on its own connection
 * (due runs, an event's body, a run's stored steps, its cancel flag and crash count) and the
 * state changes it records (a run's status, a step's row, the crash count), as named functions
 * over the journal's schema.
 *
 * It is not the executor (engine/exec/run.c decides what to record and when) and it commits
 * nothing itself: the writers add statements to a wr_journal_batch, which the journal commits
 * in order, in one transaction, with its group commit. The readers' statements are prepared once
 * when the view opens and reused for every call. Also here: the reads of `weir fire
 * --dry-run` over its throw-away store (engine/exec/dryrun.c).
 */
#ifndef WR_RUNSTATE_H
#define WR_RUNSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wr_db;
struct wr_journal_batch;

/* {====== reads, on the executor's connection ====== */

struct wr_runstate;

/*
 * Opens a reading connection on the journal at path and prepares the executor's statements.
 * Returns the view (owned: wr_runstate_close), or NULL with a message in err.
 */
struct wr_runstate *wr_runstate_open(const char *path, char *err, size_t errlen);

/* Finalizes the statements and closes the connection. NULL is fine. */
void wr_runstate_close(struct wr_runstate *s);

/* One run that may start (wr_runstate_due_open, wr_runstate_due_deferred). */
struct wr_runstate_due {
    int64_t rowid;
    char *id, *workflow, *event_id; /* owned by the array's holder: free() each */
    bool keyed;                     /* the run has a concurrency key */
};

/*
 * Appends to *v (grown with realloc; *n used of *cap) up to limit runs in status (borrowed)
 * with no next_at and a rowid above after, in rowid order, skipping a keyed run while an
 * earlier open run of its key exists.
 */
void wr_runstate_due_open(struct wr_runstate *s, const char *status, int limit, int64_t after,
                          struct wr_runstate_due **v, size_t *n, size_t *cap);

/* The same for open runs deferred to a next_at at or before now (Unix ms). */
void wr_runstate_due_deferred(struct wr_runstate *s, int64_t now, int limit,
                              struct wr_runstate_due **v, size_t *n, size_t *cap);

/*
 * Reads the body of event event_id (borrowed). Returns true with *body set (borrowed, NULL for
 * a NULL body) when the event exists; false when not. In both cases call wr_runstate_body_end
 * once done with *body (it is valid until then); no other wr_runstate_body_begin before it.
 */
bool wr_runstate_body_begin(struct wr_runstate *s, const char *event_id, const char **body);

/* Ends a wr_runstate_body_begin: the body it gave is no longer valid. */
void wr_runstate_body_end(struct wr_runstate *s);

/* One stored step row; every pointer is borrowed for the callback's duration only. */
struct wr_runstate_step {
    int64_t idx;         /* WR_ON_ERROR_BASE + i for on_error step i (journal.h) */
    const char *step_id; /* NULL when the step has no id */
    const char *status;
    int attempts;
    const char *output; /* JSON text, NULL when none is stored */
    int64_t started_at;
    const char *error; /* NULL when none */
    int64_t throttled_since;
};
typedef void (*wr_runstate_step_fn)(void *arg, const struct wr_runstate_step *row);

/* Calls fn(arg, row) for each stored step of run run_id (borrowed), in idx order. */
void wr_runstate_each_step(struct wr_runstate *s, const char *run_id, wr_runstate_step_fn fn,
                           void *arg);

/* True when run run_id (borrowed) is stored as cancelled. */
bool wr_runstate_cancelled(struct wr_runstate *s, const char *run_id);

/* The crash count stored for run run_id (borrowed); 0 when the run is not found. */
int wr_runstate_crashes(struct wr_runstate *s, const char *run_id);

/* The number of runs the guard holds now (status held). */
int64_t wr_runstate_held_count(struct wr_runstate *s);

/* True when an admin released run run_id (borrowed) from the guard (`weir release`). */
bool wr_runstate_guard_released(struct wr_runstate *s, const char *run_id);

/* One row of the guard's window; strings borrowed for the call. */
typedef void (*wr_runstate_guard_fn)(void *arg, const char *user, const char *run_id, int64_t at);

/* Calls fn for every guard_window row newer than since (Unix ms). The row count, or -1. */
int64_t wr_runstate_guard_load(struct wr_runstate *s, int64_t since, wr_runstate_guard_fn fn,
                               void *arg);

/*
 * Run leases, for several instances on one PostgreSQL store. wr_runstate_lease names this
 * instance (owner, copied: unique per process) and how long a claim holds (lease_ms) before
 * another instance may take the run over; the due reads then skip runs another instance holds.
 * Returns 0, or -1 with err. Without it (or on SQLite, one daemon) every run is this one's.
 */
int wr_runstate_lease(struct wr_runstate *s, const char *owner, int64_t lease_ms, char *err,
                      size_t errlen);
/*
 * Claims run run_id (borrowed) for this instance until now + lease_ms, committed at once (FOR
 * UPDATE SKIP LOCKED: a run another instance is claiming right now is skipped). Returns 1
 * claimed (it was free, or this instance's), 2 claimed from an instance whose lease ran out
 * (it died while running it: a crash for the poison-run rule), 0 not claimed (another instance
 * has it, or it is no longer open), -1 the store failed. SQLite: 1.
 */
int wr_runstate_claim(struct wr_runstate *s, const char *run_id, int64_t now);
/* The same for n runs at once (ids borrowed), in one statement and one commit: out[i] (n ints)
   is what wr_runstate_claim would return for ids[i]. Returns 0, or -1 when the store failed
   (then out is all 0, or 1 on SQLite). */
int wr_runstate_claim_many(struct wr_runstate *s, const char *const *ids, size_t n, int64_t now,
                           int *out);
/* True when other instances may share the store (PostgreSQL): what they write (the guard's
   window) is read again before it is relied on. */
bool wr_runstate_shared(const struct wr_runstate *s);
/* Extends every claim of this instance on an open run to now + lease_ms. The count, or -1. */
int64_t wr_runstate_renew(struct wr_runstate *s, int64_t now);
/* The view's connection (borrowed), for the reads of engine/store/approval. */
struct wr_db *wr_runstate_db(struct wr_runstate *s);

/*
 * cancel-runs: calls fn(arg, id) (id borrowed for the call) for every run of workflow whose
 * concurrency key is key (both borrowed) in a status a cancellation takes (queued, retrying,
 * waiting, held: not started, or parked between steps; never running), except the run
 * except_id (borrowed, may be NULL), in creation order. Returns the count, or -1 with a message
 * in err when the store cannot be read.
 */
int64_t wr_runstate_cancellable(struct wr_runstate *s, const char *workflow, const char *key,
                                const char *except_id, void (*fn)(void *arg, const char *id),
                                void *arg, char *err, size_t errlen);

/* }====== */

/* {====== state changes, added to a batch (strings copied) ====== */

/*
 * Notes in the guard's window that run run_id changed user at `at` (Unix ms); prune_before > 0
 * also drops the rows at or before it (older than any window).
 */
void wr_runstate_guard_note(struct wr_journal_batch *b, const char *user, const char *run_id,
                            int64_t at, int64_t prune_before);

/*
 * The run's status, error (NULL: none) and updated_at (Unix ms); next_at > 0 defers it to that
 * time (Unix ms), else its next_at is cleared. Any status but running also drops the run's
 * lease (owner): parked, it is any instance's when due. A cancelled run is left as it is.
 */
void wr_runstate_set_run(struct wr_journal_batch *b, const char *run_id, const char *status,
                         int64_t next_at, const char *error, int64_t updated_at);

/*
 * Inserts or updates the row of step idx of run run_id. started_at and finished_at < 0 store
 * NULL (a stored started_at is then kept); step_id, args, output and error may be NULL (a NULL
 * args keeps the stored one).
 */
void wr_runstate_set_step(struct wr_journal_batch *b, const char *run_id, int64_t idx,
                          const char *step_id, const char *status, int64_t attempts,
                          int64_t started_at, int64_t finished_at, const char *args,
                          const char *output, const char *error, int64_t throttled_since);

/* The run's workflow version (the hash of the workflow it runs on). */
void wr_runstate_set_hash(struct wr_journal_batch *b, const char *run_id, const char *hash);

/* The run's crash count (runs.crashes): set to n. */
void wr_runstate_set_crashes(struct wr_journal_batch *b, const char *run_id, int64_t n);

/* The run's crash count: back to 0 (a step finished, the run parked). */
void wr_runstate_reset_crashes(struct wr_journal_batch *b, const char *run_id);

/* The run's crash count: one less, not below 0 (a clean stop took a start back). */
void wr_runstate_uncount_crash(struct wr_journal_batch *b, const char *run_id);

/*
 * cancel-runs: cancels run run_id when it is still in a status wr_runstate_cancellable takes:
 * status cancelled, the error error (borrowed: why, and by what), updated_at now (Unix ms).
 * A run that moved on meanwhile (started, finished) is left as it is; read back with
 * wr_runstate_cancelled after the commit.
 */
void wr_runstate_cancel_run(struct wr_journal_batch *b, const char *run_id, const char *error,
                            int64_t now);

/* }====== */

/* {====== the dry run's store (one workflow, one event) ====== */

/*
 * Counts the runs still open (queued, running, retrying, waiting) into *n. Returns 0, or -1
 * when the store cannot be read. db is borrowed (wr_journal_open_reader).
 */
int wr_runstate_count_open(struct wr_db *db, int64_t *n);

/*
 * The first run's status and error (a failed run's is its failed step's) into *status and
 * *error (owned: free; *error NULL when none). Returns true, or false when the store has no run.
 */
bool wr_runstate_first_run(struct wr_db *db, char **status, char **error);

/* One step row of wr_runstate_each_row; pointers borrowed for the callback's duration. */
struct wr_runstate_row {
    int64_t idx;
    const char *status;
    const char *args;   /* NULL when none */
    const char *output; /* NULL when none */
    const char *error;  /* NULL when none */
};
typedef void (*wr_runstate_row_fn)(void *arg, const struct wr_runstate_row *row);

/* Calls fn(arg, row) for every step row of the store, in idx order. */
void wr_runstate_each_row(struct wr_db *db, wr_runstate_row_fn fn, void *arg);

/* }====== */

#endif
