/*
 * journal — weir's durable store: events, runs and steps in SQLite (WAL, synchronous=FULL).
 *
 * Writes go through one writer thread that commits in groups: every batch that arrives while
 * a commit is in flight shares the next transaction and its fsync, which is what makes
 * durable acknowledgements cheap. The loop thread never touches the disk for writes: it hands
 * a batch over and gets its result back on the loop (libevent, event_active from the writer
 * thread) after the commit returned. A batch is all or nothing.
 *
 * The schema is versioned (PRAGMA user_version) and migrated forward on open. Readers (the
 * CLI, the admin API) open their own connections; WAL lets them read while the daemon writes.
 *
 * Idempotency keys are scoped: an event's key is unique within its scope (where the key came
 * from: "webhook /hooks/hr (webhook-id)", "file /spool/hr", "schedule nightly", "manual
 * onboard"), never across scopes, so a key used on one path, folder, schedule or workflow
 * cannot make an event of another a duplicate. Keys stored before scopes existed (schema 2 and
 * older) were scoped by the migration from their `source`; see wr_journal_event_scope.
 *
 * One daemon owns a state file: wr_journal_claim takes an exclusive lock that lives as long as
 * the process (the kernel drops it on any exit, kill -9 included). Other writers (`weir fire`)
 * and readers need no claim.
 *
 * Health: every commit group checks that the state file (and its WAL) is still the file it
 * opened — a removed or replaced file would take commits into a deleted inode — and a group that
 * cannot be made durable fails every batch in it, nothing of it stored. The journal keeps the
 * outcome of the last commit group (wr_journal_get_health), tells the loop of each change
 * (wr_journal_on_health) and, while failing, commits a small probe every few seconds so that
 * recovery is noticed without traffic. A journal that cannot be written at all (a read-only
 * file or file system) does not open.
 */
#ifndef WR_JOURNAL_H
#define WR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/strutil.h"

struct event_base;
struct wr_db;

/* The most bytes of an error the executor stores for a step or a run; a longer one is cut at a
   UTF-8 boundary and ends in "… (N bytes more)". A failed run's error is stored once, in the
   row of the step that failed (the run row's stays NULL; history reads it there). */
#define WR_STORED_ERROR_MAX ((size_t)8 << 10)

/* Where the on_error steps start in the steps table: the row of on_error step i has idx
   WR_ON_ERROR_BASE + i, the row of the workflow's step i has idx i. */
#define WR_ON_ERROR_BASE 1000

#define WR_JOURNAL_RETENTION_MS (7LL * 24 * 3600 * 1000) /* duplicate window, default */

/* One run to create with an event. Strings are copied by wr_journal_batch_add_run. */
struct wr_journal_run {
    char id[40];
    char *workflow;
    char *workflow_hash;
    char *concurrency_key; /* may be NULL */
    char *error;           /* set: the run is stored as failed with this error (e.g. its
                              `when:` could not be evaluated), for the admin to see */
};

/* One event to store. */
struct wr_journal_event {
    char id[40]; /* assigned when added */
    char *source;
    char *key;           /* idempotency key or NULL */
    char *scope;         /* where key is unique; NULL = source (see wr_journal_event_scope) */
    char *legacy_scope;  /* also looked up, never stored; see wr_journal_event_scope */
    char *headers;       /* JSON text or NULL */
    char *body;          /* JSON text */
    int64_t received_at; /* Unix ms */
    struct wr_journal_run *runs;
    size_t nruns;
    /* results, valid in the done callback */
    bool duplicate;       /* the key was seen within the retention window: nothing stored */
    char original_id[40]; /* for a duplicate: the event it duplicates */
};

/* One state change of the run executor: a statement with up to 12 parameters. Small, as a
   batch may hold one per remembered user of a big tenant (engine/store/trigger_state). */
#define WR_JOURNAL_OP_PARAMS 12
struct wr_journal_param {
    char type;  /* 't' text (NULL = SQL NULL), 'i' integer, 'n' NULL */
    char *text; /* owned */
    int64_t i;
};
struct wr_journal_op {
    char *sql;       /* owned, unless sql_shared */
    bool sql_shared; /* sql is the previous op's of the same batch (the same text, kept once) */
    int nparams;
    struct wr_journal_param *params; /* owned, nparams */
};

struct wr_journal_batch;
typedef void (*wr_journal_done_fn)(void *arg, struct wr_journal_batch *batch, int rc,
                                   const char *error);

struct wr_journal_batch {
    struct wr_journal_event *events;
    size_t count;
    size_t cap;
    struct wr_journal_op *ops; /* run after the events, in order, in the same transaction */
    size_t nops;
    size_t ops_cap;
    wr_journal_done_fn done;
    void *arg;
    int rc;
    char error[WR_ERR_MAX];
    struct wr_journal_batch *next; /* queue link, the journal's */
};

struct wr_journal;

/*
 * Opens (creating and migrating as needed) the store at path, creating its directory, and
 * starts the writer thread. Results are delivered on base's loop (which must have been
 * created after evthread_use_pthreads()). retention_ms 0 = the default. Returns NULL with a
 * message in err.
 */
struct wr_journal *wr_journal_open(struct event_base *base, const char *path, int64_t retention_ms,
                                   char *err, size_t errlen);

/*
 * Brings the SQLite journal at path (borrowed; created with its directory when missing) to the
 * schema this weir knows, without starting anything; *from is the version it had (0: new).
 * Each migration is one BEGIN IMMEDIATE transaction, so a daemon beside it is not disturbed.
 * Returns 0, or -1 with err (a newer weir's journal, a failed step).
 */
int wr_journal_migrate(const char *path, int *from, char *err, size_t errlen);

/*
 * Stops the writer thread and frees everything. Batches still queued are committed first,
 * but their callbacks are not run: drain first (run the loop until wr_journal_pending() is
 * 0) when callers wait for them. NULL is fine.
 */
void wr_journal_close(struct wr_journal *j);

/* Number of batches submitted whose callback has not run yet. */
size_t wr_journal_pending(const struct wr_journal *j);

/* A new, empty batch (owned by the caller until submitted). */
struct wr_journal_batch *wr_journal_batch_new(void);

/* Adds an event (strings copied; key and headers may be NULL); returns it, with its id set. */
struct wr_journal_event *wr_journal_batch_add(struct wr_journal_batch *b, const char *source,
                                              const char *key, const char *headers,
                                              const char *body, int64_t received_at);
/* The same with a body of body_len bytes, not NUL-terminated (a request's raw JSON text). */
struct wr_journal_event *wr_journal_batch_add_len(struct wr_journal_batch *b, const char *source,
                                                  const char *key, const char *headers,
                                                  const char *body, size_t body_len,
                                                  int64_t received_at);

/*
 * Sets the scope of ev's key (copied): the key is a duplicate only of an earlier key in the same
 * scope. Without a scope, a key is scoped by the event's source. legacy_scope (may be NULL)
 * names the scope that keys of this kind had in a journal migrated from schema 2 (a webhook's
 * path, before the header a key came from was part of its scope): while such keys may still be
 * within the retention window, a key not found in its scope is also looked up there.
 */
void wr_journal_event_scope(struct wr_journal_event *ev, const char *scope,
                            const char *legacy_scope);

/* The longest concurrency key stored as it is; a longer one is stored as its SHA-256 (equal
   keys stay equal), so that no key outgrows an index entry (PostgreSQL's are at most 2704
   bytes). */
#define WR_CONCURRENCY_KEY_MAX 512

/* The form a concurrency key (borrowed) is stored and compared in (owned): the key itself, or
   "sha256:HEX (a key of N bytes)" past WR_CONCURRENCY_KEY_MAX. */
char *wr_journal_stored_key(const char *key);

/* Adds a run to event ev (strings copied; error NULL for a queued run; the concurrency key as
   wr_journal_stored_key makes it); returns it. */
struct wr_journal_run *wr_journal_batch_add_run(struct wr_journal_event *ev, const char *workflow,
                                                const char *hash, const char *concurrency_key,
                                                const char *error);

/*
 * Submits b (taken: the journal frees it after `done` returns). done(arg, b, rc, error) runs
 * on the loop thread after the transaction holding b committed (rc 0) or failed (rc < 0,
 * nothing of b stored). Duplicates are reported per event (ev->duplicate). Returns 0, or -1
 * when the journal is closing (b is freed, done not called).
 */
int wr_journal_submit(struct wr_journal *j, struct wr_journal_batch *b, wr_journal_done_fn done,
                      void *arg);

void wr_journal_batch_free(struct wr_journal_batch *b);

/* Moves src's operations to the end of dst's (src keeps its events, if any). */
void wr_journal_batch_move_ops(struct wr_journal_batch *dst, struct wr_journal_batch *src);

/*
 * Adds a statement to b. `types` has one letter per parameter: 't' (a const char *, copied;
 * NULL binds SQL NULL) or 'i' (an int64_t). Example:
 *   wr_journal_batch_add_op(b, "UPDATE runs SET status = ? WHERE id = ?", "tt", "failed", id);
 */
void wr_journal_batch_add_op(struct wr_journal_batch *b, const char *sql, const char *types, ...);

/* A fresh time-ordered id with the given prefix ("ev", "run") into out (>= 40 bytes). */
void wr_journal_new_id(const char *prefix, char out[40]);

/*
 * Submits a probe: a batch writing one small row (the time, in the journal's own meta table),
 * committed like any other, so that done reports whether the journal can commit now. Same
 * contract as wr_journal_submit.
 */
int wr_journal_probe(struct wr_journal *j, wr_journal_done_fn done, void *arg);

/* The journal's state as of its last commit group. */
struct wr_journal_health {
    bool ok;                 /* the last commit group was made durable (or none failed yet) */
    int64_t checked_at;      /* when it ended (Unix ms); the open's own write when none did yet */
    int64_t checked_mono;    /* the same moment on the monotonic clock (wr_clock_mono_ms), for
                                freshness checks that a step of the wall clock must not fool */
    char error[WR_ERR_MAX];  /* !ok: why, e.g. "database or disk is full" */
    uint64_t failed_commits; /* commit groups that failed since the open */
};

/* Copies the current health into out (any thread). */
void wr_journal_get_health(struct wr_journal *j, struct wr_journal_health *out);

/*
 * Whether the state file (and its WAL) at the journal's path is still the one it opened: false
 * with the reason in err when it was removed or replaced. Two stat() calls; any thread. For
 * the writers beside the journal's writer (the admin API's retry and cancel), whose own
 * connections would otherwise commit into a deleted file as well.
 */
bool wr_journal_intact(struct wr_journal *j, char *err, size_t errlen);

/* True when the last commit group was made durable. Cheap (a mutex); any thread. */
bool wr_journal_ok(struct wr_journal *j);

/*
 * fn(arg, ok, error) runs on the loop thread once per change of health: ok false with the cause
 * when commits start failing, ok true when one succeeds again (before the callbacks of the
 * batches of that commit). NULL fn stops the reports.
 */
typedef void (*wr_journal_health_fn)(void *arg, bool ok, const char *error);
void wr_journal_on_health(struct wr_journal *j, wr_journal_health_fn fn, void *arg);

/*
 * Claims path for this process: an exclusive lock (flock) on the state file, held until
 * wr_journal_release or the process ends (any way: the kernel drops the lock). Creates the file
 * (and one level of directory) when missing. Returns the claim (owned), or NULL with a message
 * in err: another process holds it (its pid named when the system tells), or the file cannot be
 * opened for writing (a read-only file or file system). Local file systems only, like SQLite's
 * WAL mode itself. A postgresql:// path is claimed by nobody: several daemons share a database
 * (runs are leased one by one, engine/store/runstate; engine/store/leader picks who runs the
 * schedules and polls); the claim returned then holds nothing.
 */
struct wr_journal_claim;
struct wr_journal_claim *wr_journal_claim(const char *path, char *err, size_t errlen);

/* Drops the claim. Call once every SQLite connection of this process to the file is closed
   (wr_journal_close, the readers): closing any descriptor of a file drops the process's POSIX
   locks on it, SQLite's included. NULL is fine. */
void wr_journal_release(struct wr_journal_claim *c);

/*
 * Opens a connection (owned: wr_journal_close_reader) to the store at path (borrowed: a file,
 * or a postgresql:// URL) for reads and the admin's small writes (WAL: it works while the
 * daemon writes). Returns NULL with a message in err when the store does not exist, has no
 * schema yet, or has a newer one.
 */
struct wr_db *wr_journal_open_reader(const char *path, char *err, size_t errlen);

/* Closes a connection from wr_journal_open_reader (taken). NULL is fine. */
void wr_journal_close_reader(struct wr_db *db);

/* Commit statistics, for /metrics and the benchmarks. */
struct wr_journal_stats {
    uint64_t commits;
    uint64_t batches;
    uint64_t events;
    uint64_t max_group; /* the most batches one commit carried */
    /* Commit latency (BEGIN to COMMIT returned, fsync included) as a histogram: counts of
       commits at or under each bound in wr_journal_commit_bounds_us, cumulative. */
    uint64_t commit_le[8];
    uint64_t commit_us_sum;
};

/* The upper bounds, in microseconds, of wr_journal_stats.commit_le. */
extern const uint64_t wr_journal_commit_bounds_us[8];
void wr_journal_get_stats(struct wr_journal *j, struct wr_journal_stats *out);

#endif
