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
 */
#ifndef WR_JOURNAL_H
#define WR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sqlite3;

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
    char *headers;       /* JSON text or NULL */
    char *body;          /* JSON text */
    int64_t received_at; /* Unix ms */
    struct wr_journal_run *runs;
    size_t nruns;
    /* results, valid in the done callback */
    bool duplicate;       /* the key was seen within the retention window: nothing stored */
    char original_id[40]; /* for a duplicate: the event it duplicates */
};

/* One state change of the run executor: a statement with up to 12 parameters. */
#define WR_JOURNAL_OP_PARAMS 12
struct wr_journal_op {
    char *sql;
    int nparams;
    struct {
        char type;  /* 't' text (NULL = SQL NULL), 'i' integer, 'n' NULL */
        char *text; /* owned */
        int64_t i;
    } params[WR_JOURNAL_OP_PARAMS];
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
    wr_journal_done_fn done;
    void *arg;
    int rc;
    char error[256];
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

/* Adds a run to event ev (strings copied; error NULL for a queued run); returns it. */
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
 * Opens a reading connection (WAL: works while the daemon writes). Returns NULL with a
 * message in err when the store does not exist or has a newer schema.
 */
struct sqlite3 *wr_journal_open_reader(const char *path, char *err, size_t errlen);

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
