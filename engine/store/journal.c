/*
 * journal — SQLite store with a group-committing writer thread; see journal.h.
 *
 * Threads: the loop thread builds batches (plain strings, no json-c) and queues them under
 * `lock`; the writer thread takes the whole queue, commits it as one transaction, moves it
 * to the done queue and wakes the loop with event_active (legal from another thread once
 * evthread_use_pthreads() ran). Each batch sits inside a SAVEPOINT, so one failing batch is
 * rolled back alone while the others of the group commit — unless it failed because the
 * storage did (disk full, I/O error, read-only): then the whole group is rolled back and fails.
 *
 * SQLite keeps writing to a database file that was unlinked (its directory removed) or replaced
 * under it, and reports success: the commits land in a deleted inode and are gone at the next
 * start. So each group compares the device and inode of the path (and of its WAL) with those
 * seen at open, before COMMIT (a mismatch rolls the group back) and after it (a commit that
 * went into the old file is not reported as durable). Two stat() calls per check, per group,
 * not per event.
 *
 * The WAL. The checkpointer thread copies committed pages into the database file (PASSIVE:
 * it never blocks the writer) at most every CHECKPOINT_MS while there is something to copy,
 * and syncs what it copied when it could not catch up with the writer (SQLite syncs the
 * database file only when a checkpoint catches up), so that no single fsync has tens of
 * megabytes to write while the writer's fsync waits behind it. SQLite starts the WAL over
 * only when a write transaction begins with every frame already copied — under steady load
 * the checkpointer practically never wins that race, and the WAL grew without end (58 MB/s
 * at 1000 webhooks/s). So the writer, between two groups, once the WAL holds
 * WAL_RESTART_FRAMES, copies the few frames the checkpointer has not (when no batch waits,
 * or regardless at WAL_RESTART_FORCE): the next transaction then starts the WAL over, and
 * journal_size_limit gives back what a burst made it grow to.
 */
#include "engine/store/db.h"
#include "engine/store/journal.h"
#include "engine/store/migrate.h"
#include "engine/store/tables.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <event2/event.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/captoken.h"
#include "engine/base/clock.h"
#include "engine/base/secret.h"
#include "engine/base/strutil.h"

const uint64_t wr_journal_commit_bounds_us[8] = {250,  500,   1000,  2500,
                                                 5000, 10000, 50000, UINT64_MAX};

struct wr_journal {
    sqlite3 *db;      /* SQLite: the writer's connection, used by the writer thread only */
    struct wr_db *pg; /* PostgreSQL: the writer's connection (writer thread only), else NULL */
    pthread_t thread;
    bool thread_started;
    sqlite3 *ckpt_db; /* the checkpointer's connection */
    pthread_t ckpt_thread;
    bool ckpt_started;
    bool ckpt_wanted; /* under lock: a commit left frames to copy */
    int db_fd;        /* the database file, for the checkpointer's syncs (or -1) */
    int wal_frames;   /* writer thread: frames in the WAL after its last commit */
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* the writer waits on it for batches */
    pthread_cond_t ckpt_cv; /* the checkpointer sleeps on it between checkpoints */
    struct wr_journal_batch *queue, *queue_tail; /* submitted, not yet committed */
    struct wr_journal_batch *done, *done_tail;   /* committed, callback not yet run */
    bool stopping;
    size_t pending; /* loop thread only */
    struct event *done_ev;
    int64_t retention_ms;
    struct wr_journal_stats stats; /* under lock */
    /* Keys stored unscoped by schema 2 (see migration 3): the newest one's received_at, or -1
       when there are none. Written at open, read by the writer. */
    int64_t legacy_newest;

    /* The files the connections opened (writer thread, after open). */
    char *path, *wal_path;
    dev_t dev, wal_dev;
    ino_t ino, wal_ino;
    bool wal_known; /* the WAL's identity was seen (it exists from the first read on) */

    /* Health, under lock: written by the writer after each group. */
    struct wr_journal_health health;
    uint64_t fail_seq;           /* incremented at each change from ok to failing */
    char fail_error[WR_ERR_MAX]; /* the cause given at the latest such change */
    /* Loop thread only: what was reported through on_health. */
    uint64_t reported_seq;
    bool reported_failing;
    wr_journal_health_fn on_health;
    void *on_health_arg;
    struct event *retry_ev; /* while failing: a probe every WR_JOURNAL_RETRY_MS */
};

/* While the journal fails, how often a probe tries to commit (so recovery shows without
   traffic). */
#define WR_JOURNAL_RETRY_MS 2000

/* See "The WAL" above. */
#define CHECKPOINT_MS      50
#define WAL_RESTART_FRAMES 4096  /* 16 MiB of 4 KiB pages */
#define WAL_RESTART_FORCE  16384 /* 64 MiB: even with batches waiting */
#define WAL_SIZE_LIMIT     (64 << 20)

/* A batch of at least this many events and no other writes (a file's chunk) is committed after
   the small ones that queued up with it, in its own transaction. */
#define BIG_BATCH 32

/* {====== schema ====== */

/* Each entry migrates from version i to i+1. Never edit a shipped entry: append. */
static const char *const migrations[] = {
    "CREATE TABLE events ("
    "  id TEXT PRIMARY KEY,"
    "  source TEXT NOT NULL,"
    "  idem_key TEXT,"
    "  received_at INTEGER NOT NULL,"
    "  headers TEXT,"
    "  body TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    ");"
    "CREATE UNIQUE INDEX events_idem_key ON events(idem_key) WHERE idem_key IS NOT NULL;"
    "CREATE INDEX events_received ON events(received_at);"
    "CREATE TABLE runs ("
    "  id TEXT PRIMARY KEY,"
    "  event_id TEXT NOT NULL REFERENCES events(id),"
    "  workflow TEXT NOT NULL,"
    "  workflow_hash TEXT NOT NULL,"
    "  concurrency_key TEXT,"
    "  status TEXT NOT NULL DEFAULT 'queued',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  next_at INTEGER,"
    "  error TEXT"
    ");"
    "CREATE INDEX runs_status ON runs(status, next_at);"
    "CREATE INDEX runs_event ON runs(event_id);"
    "CREATE TABLE steps ("
    "  run_id TEXT NOT NULL REFERENCES runs(id),"
    "  idx INTEGER NOT NULL,"
    "  step_id TEXT,"
    "  status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  started_at INTEGER,"
    "  finished_at INTEGER,"
    "  args TEXT,"
    "  output TEXT,"
    "  error TEXT,"
    "  PRIMARY KEY (run_id, idx)"
    ");",
    /* 2: the executor's "is an earlier run of this key still open?" is an index lookup, not a
       scan of every open run (with 1,500 open runs a poll took 0.4 s). */
    "CREATE INDEX runs_ckey ON runs(concurrency_key, status) WHERE concurrency_key IS NOT NULL;",
    /* 3: idempotency keys are unique per scope, no longer across every source (a webhook-id
       used on /hooks/a made the same id on /hooks/b a duplicate). Existing keys get the scope
       their source implies: a file's folder ("file /dir/x.csv" -> "file /dir"), the workflow of
       a manual event's run, else the source itself ("webhook /hooks/hr", "schedule NAME").
       New webhook keys also name the header they came from; the newest key stored without
       that is remembered, so redeliveries of those are still recognised within the window.
       journal_meta also holds the row the health probe rewrites. */
    "ALTER TABLE events ADD COLUMN idem_scope TEXT;"
    "UPDATE events SET idem_scope = CASE"
    "  WHEN source LIKE 'file /%' THEN"
    "    substr(rtrim(source, replace(source, '/', '')), 1,"
    "           length(rtrim(source, replace(source, '/', ''))) - 1)"
    "  WHEN source = 'manual' THEN coalesce('manual ' || (SELECT r.workflow FROM runs r"
    "    WHERE r.event_id = events.id ORDER BY r.id LIMIT 1), 'manual')"
    "  ELSE source END "
    "WHERE idem_key IS NOT NULL;"
    "DROP INDEX events_idem_key;"
    "CREATE UNIQUE INDEX events_idem ON events(idem_scope, idem_key) WHERE idem_key IS NOT NULL;"
    "CREATE TABLE journal_meta (name TEXT PRIMARY KEY, value);"
    "INSERT INTO journal_meta (name, value) SELECT 'unscoped_webhook_keys_newest', "
    "  max(received_at) FROM events WHERE idem_key IS NOT NULL AND source LIKE 'webhook %' "
    "  HAVING count(*) > 0;",
    /* 4: when Graph began throttling a step's attempts (NULL: not throttled now). Throttled
       attempts do not count against retry.attempts; this bounds how long they may go on. */
    "ALTER TABLE steps ADD COLUMN throttled_since INTEGER;",
    /* 5: how many starts in a row of this run no step finished after (engine/exec/run.c's
       poison-run rule: a run the daemon keeps crashing on is parked, not resumed forever). */
    "ALTER TABLE runs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;",
    /* 6: listing runs newest first (`weir runs`, /api/runs; engine/store/history) reads a page off
       an index instead of sorting every run, from a cursor on too. One index only: every run
       inserted writes each index's last page (a workflow's and a status's cost the ingest of
       a big CSV file measurably); filtered lists walk this one from the newest run. */
    "CREATE INDEX runs_created ON runs(created_at, id);",
    /* 7: what directory triggers remember between rounds (engine/store/trigger_state): a delta
       link, a snapshot of the watched attributes per user, users due later, what fired. Written
       in the transaction of the runs a round starts, so a crash repeats the round whole. */
    ("CREATE TABLE trigger_state (scope TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
     "  updated_at INTEGER NOT NULL, PRIMARY KEY (scope, name)) WITHOUT ROWID;"),
    /* 8: guardrails (engine/exec/guard). guard_window: the users destructive steps touched,
       one row per run and user, for the sliding-window brake; runs.guard_released: an admin
       released the held run (`weir release`), so its destructive steps pass without counting.
       approvals / approval_tokens: an approval step's request (first decision wins: decision
       is set once) and one capability token per approver, stored as the SHA-256 of the token,
       never the token itself. A run waiting on a request is woken by setting its next_at. */
    ("CREATE TABLE guard_window (user TEXT NOT NULL, run_id TEXT NOT NULL, at INTEGER NOT NULL,"
     "  PRIMARY KEY (user, run_id)) WITHOUT ROWID;"
     "CREATE INDEX guard_window_at ON guard_window(at);"
     "ALTER TABLE runs ADD COLUMN guard_released INTEGER NOT NULL DEFAULT 0;"
     "CREATE TABLE approvals (run_id TEXT NOT NULL, step_idx INTEGER NOT NULL, step_id TEXT,"
     "  workflow TEXT NOT NULL, message TEXT NOT NULL, plan TEXT, approvers TEXT NOT NULL,"
     "  nonce TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
     "  decision TEXT, decided_by TEXT, decided_at INTEGER, reason TEXT,"
     "  PRIMARY KEY (run_id, step_idx)) WITHOUT ROWID;"
     "CREATE TABLE approval_tokens (hash TEXT PRIMARY KEY, run_id TEXT NOT NULL,"
     "  step_idx INTEGER NOT NULL, approver TEXT NOT NULL) WITHOUT ROWID;"
     "CREATE INDEX approval_tokens_run ON approval_tokens(run_id, step_idx);"),
    /* 9: run leases (issue 21): the instance executing a run (owner) and until when its claim
       holds (lease_until, Unix ms, renewed while it runs). Several instances on one PostgreSQL
       store take a run only when it has no owner, or its owner's lease ran out (the instance
       died): the run then resumes there from its last committed step. A parked run (queued,
       retrying, waiting, finished) has no owner. A single SQLite daemon leaves them NULL. */
    "ALTER TABLE runs ADD COLUMN owner TEXT;"
    "ALTER TABLE runs ADD COLUMN lease_until INTEGER;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
/* engine/store/tables describes where the migrations lead, for both back ends: a migration
   added here is described there too (test_tables compares them). */
_Static_assert(SCHEMA_VERSION == WR_TABLES_VERSION, "engine/store/tables.c is not up to date");

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        wr_errf_marked(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int v = user_version(db);
    if (v < 0) {
        wr_errf_marked(err, errlen, "%s: cannot read the schema version: %s", path,
                       sqlite3_errmsg(db));
        return -1;
    }
    if (v > SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: written by a newer weir (schema %d; this weir knows up to %d)",
                 path, v, SCHEMA_VERSION);
        return -1;
    }
    for (; v < SCHEMA_VERSION; v++) {
        char pragma[64], msg[WR_ERR_MAX];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if (exec(db, "BEGIN IMMEDIATE", msg, sizeof(msg)) != 0 ||
            exec(db, migrations[v], msg, sizeof(msg)) != 0 ||
            exec(db, pragma, msg, sizeof(msg)) != 0 || exec(db, "COMMIT", msg, sizeof(msg)) != 0) {
            exec(db, "ROLLBACK", pragma, sizeof(pragma));
            wr_errf_marked(err, errlen, "%s: migrating the schema to version %d failed: %s", path,
                           v + 1, msg);
            return -1;
        }
    }
    return 0;
}

/* Opens a connection with weir's settings: WAL, full fsync, a busy timeout. */
static sqlite3 *open_db(const char *path, int flags, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char msg[WR_ERR_MAX];
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* SQLite would open a FIFO and wait on it for a header that never comes. */
        snprintf(err, errlen, "%s: %s, not a regular file", path, wr_file_kind(st.st_mode));
        return NULL;
    }
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    if (exec(db, "PRAGMA journal_mode=WAL", msg, sizeof(msg)) != 0 ||
        exec(db, "PRAGMA synchronous=FULL", msg, sizeof(msg)) != 0 ||
        exec(db, "PRAGMA foreign_keys=ON", msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "%s: %s", path, msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* }====== */

/* {====== ids and batches ====== */

void wr_journal_new_id(const char *prefix, char out[40])
{
    /* Time-ordered (ms, hex) plus a per-process counter and randomness: sortable, unique
       across restarts and processes. */
    static uint32_t counter;
    static uint32_t salt;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (!salt) {
        int64_t ns = wr_clock_mono_ns(), sec = ns / 1000000000, nsec = ns % 1000000000;
        salt = (uint32_t)(nsec ^ (sec << 20) ^ (int64_t)getpid() << 8) | 1u;
    }
    uint32_t c = ++counter;
    pthread_mutex_unlock(&lock);
    /* The counter is not scrambled: ids made in one millisecond still sort in order. */
    snprintf(out, 40, "%s_%012llx%05x%06x", prefix, (unsigned long long)wr_clock_wall_ms(),
             c & 0xFFFFF, salt & 0xFFFFFF);
}

struct wr_journal_batch *wr_journal_batch_new(void)
{
    return wr_xcalloc(1, sizeof(struct wr_journal_batch));
}

struct wr_journal_event *wr_journal_batch_add(struct wr_journal_batch *b, const char *source,
                                              const char *key, const char *headers,
                                              const char *body, int64_t received_at)
{
    return wr_journal_batch_add_len(b, source, key, headers, body, strlen(body), received_at);
}

struct wr_journal_event *wr_journal_batch_add_len(struct wr_journal_batch *b, const char *source,
                                                  const char *key, const char *headers,
                                                  const char *body, size_t body_len,
                                                  int64_t received_at)
{
    if (b->count == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->events = wr_xrealloc(b->events, b->cap * sizeof(*b->events));
    }
    struct wr_journal_event *ev = &b->events[b->count++];
    memset(ev, 0, sizeof(*ev));
    wr_journal_new_id("ev", ev->id);
    ev->source = wr_xstrdup(source);
    ev->key = wr_xstrdup_or_null(key);
    ev->headers = wr_xstrdup_or_null(headers);
    ev->body = wr_xstrndup(body, body_len);
    ev->received_at = received_at;
    return ev;
}

void wr_journal_event_scope(struct wr_journal_event *ev, const char *scope,
                            const char *legacy_scope)
{
    free(ev->scope);
    free(ev->legacy_scope);
    ev->scope = wr_xstrdup_or_null(scope);
    ev->legacy_scope = wr_xstrdup_or_null(legacy_scope);
}

struct wr_journal_run *wr_journal_batch_add_run(struct wr_journal_event *ev, const char *workflow,
                                                const char *hash, const char *concurrency_key,
                                                const char *error)
{
    ev->runs = wr_xrealloc(ev->runs, (ev->nruns + 1) * sizeof(*ev->runs));
    struct wr_journal_run *r = &ev->runs[ev->nruns++];
    wr_journal_new_id("run", r->id);
    r->workflow = wr_xstrdup(workflow);
    r->workflow_hash = wr_xstrdup(hash);
    r->concurrency_key = concurrency_key ? wr_journal_stored_key(concurrency_key) : NULL;
    r->error = wr_xstrdup_or_null(error);
    return r;
}

char *wr_journal_stored_key(const char *key)
{
    size_t n = strlen(key);
    if (n <= WR_CONCURRENCY_KEY_MAX) {
        return wr_xstrdup(key);
    }
    char hex[65];
    wr_captoken_hash(key, hex);
    return wr_xasprintf("sha256:%s (a key of %zu bytes)", hex, n);
}

void wr_journal_batch_add_op(struct wr_journal_batch *b, const char *sql, const char *types, ...)
{
    va_list ap;
    if (b->nops == b->ops_cap) {
        b->ops_cap = b->ops_cap ? 2 * b->ops_cap : 8;
        b->ops = wr_xrealloc(b->ops, b->ops_cap * sizeof(*b->ops));
    }
    struct wr_journal_op *op = &b->ops[b->nops++];
    memset(op, 0, sizeof(*op));
    const struct wr_journal_op *prev = b->nops > 1 ? &b->ops[b->nops - 2] : NULL;
    if (prev && strcmp(prev->sql, sql) == 0) {
        op->sql = prev->sql; /* a run of the same statement (one per row) keeps its text once */
        op->sql_shared = true;
    } else {
        op->sql = wr_xstrdup(sql);
    }
    size_t ntypes = strlen(types);
    ntypes = ntypes < WR_JOURNAL_OP_PARAMS ? ntypes : WR_JOURNAL_OP_PARAMS;
    op->params = wr_xcalloc(ntypes ? ntypes : 1, sizeof(*op->params));
    va_start(ap, types);
    for (const char *t = types; *t && op->nparams < WR_JOURNAL_OP_PARAMS; t++) {
        int k = op->nparams++;
        if (*t == 'i') {
            op->params[k].type = 'i';
            op->params[k].i = va_arg(ap, int64_t);
        } else {
            const char *v = va_arg(ap, const char *);
            op->params[k].type = v ? 't' : 'n';
            /* Run and step records (args, outputs, errors) never keep a secret value. */
            op->params[k].text = wr_secret_mask(v);
            if (!op->params[k].text) {
                op->params[k].text = wr_xstrdup_or_null(v);
            }
        }
    }
    va_end(ap);
}

void wr_journal_batch_move_ops(struct wr_journal_batch *dst, struct wr_journal_batch *src)
{
    if (src->nops == 0) {
        return;
    }
    dst->ops = wr_xrealloc(dst->ops, (dst->nops + src->nops) * sizeof(*dst->ops));
    memcpy(dst->ops + dst->nops, src->ops, src->nops * sizeof(*src->ops));
    dst->nops += src->nops;
    dst->ops_cap = dst->nops;
    free(src->ops);
    src->ops = NULL;
    src->nops = 0;
    src->ops_cap = 0;
}

void wr_journal_batch_free(struct wr_journal_batch *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->nops; i++) {
        if (!b->ops[i].sql_shared) {
            free(b->ops[i].sql);
        }
        for (int k = 0; k < b->ops[i].nparams; k++) {
            free(b->ops[i].params[k].text);
        }
        free(b->ops[i].params);
    }
    free(b->ops);
    for (size_t i = 0; i < b->count; i++) {
        struct wr_journal_event *ev = &b->events[i];
        for (size_t r = 0; r < ev->nruns; r++) {
            free(ev->runs[r].workflow);
            free(ev->runs[r].workflow_hash);
            free(ev->runs[r].concurrency_key);
            free(ev->runs[r].error);
        }
        free(ev->runs);
        free(ev->source);
        free(ev->key);
        free(ev->scope);
        free(ev->legacy_scope);
        free(ev->headers);
        free(ev->body);
    }
    free(b->events);
    free(b);
}

/* }====== */

/* {====== the writer thread ====== */

#define WR_JOURNAL_OP_CACHE 32

struct stmts {
    sqlite3_stmt *find_key, *forget_key, *insert_event, *insert_run;
    /* the group's transaction control, prepared once: parsing them cost more than the inserts */
    sqlite3_stmt *begin, *commit, *savepoint, *release, *rollback_to;
    /* the executor's operations (a handful of distinct SQL texts), prepared on first use */
    struct {
        char *sql;
        sqlite3_stmt *st;
    } ops[WR_JOURNAL_OP_CACHE];
    size_t nops;
};

static void stmts_free(struct stmts *s)
{
    sqlite3_finalize(s->find_key);
    sqlite3_finalize(s->forget_key);
    sqlite3_finalize(s->insert_event);
    sqlite3_finalize(s->insert_run);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->savepoint);
    sqlite3_finalize(s->release);
    sqlite3_finalize(s->rollback_to);
    for (size_t i = 0; i < s->nops; i++) {
        free(s->ops[i].sql);
        sqlite3_finalize(s->ops[i].st);
    }
    s->nops = 0;
}

/*
 * The prepared statement for an operation's SQL: cached (the executor uses a few fixed
 * texts, each thousands of times a second), or prepared for this use only (*once) when the
 * cache is full. NULL when the SQL does not compile.
 */
static sqlite3_stmt *op_stmt(sqlite3 *db, struct stmts *s, const char *sql, bool *once)
{
    *once = false;
    for (size_t i = 0; i < s->nops; i++) {
        if (strcmp(s->ops[i].sql, sql) == 0) {
            return s->ops[i].st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    if (s->nops == WR_JOURNAL_OP_CACHE) {
        *once = true;
        return st;
    }
    s->ops[s->nops].sql = wr_xstrdup(sql);
    s->ops[s->nops].st = st;
    s->nops++;
    return st;
}

static int stmts_prepare(sqlite3 *db, struct stmts *s)
{
    memset(s, 0, sizeof(*s));
    if (sqlite3_prepare_v2(db,
                           "SELECT id, received_at FROM events "
                           "WHERE idem_scope = ? AND idem_key = ?",
                           -1, &s->find_key, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE events SET idem_key = NULL, idem_scope = NULL WHERE id = ?",
                           -1, &s->forget_key, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO events (id, source, idem_key, idem_scope, received_at, "
                           "headers, body, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &s->insert_event, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO runs (id, event_id, workflow, workflow_hash, "
                           "concurrency_key, status, created_at, updated_at, error) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &s->insert_run, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &s->commit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SAVEPOINT batch", -1, &s->savepoint, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "RELEASE batch", -1, &s->release, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "ROLLBACK TO batch", -1, &s->rollback_to, NULL) != SQLITE_OK) {
        stmts_free(s);
        return -1;
    }
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) {
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Looks key up in scope: 1 found (its event's id into original_id, *at its time), 0 not, -1 a
 * storage error.
 */
static int find_key(struct stmts *s, const char *scope, const char *key, char original_id[40],
                    int64_t *at)
{
    sqlite3_bind_text(s->find_key, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->find_key, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s->find_key);
    if (rc == SQLITE_ROW) {
        *at = sqlite3_column_int64(s->find_key, 1);
        snprintf(original_id, 40, "%s", (const char *)sqlite3_column_text(s->find_key, 0));
    }
    sqlite3_reset(s->find_key);
    sqlite3_clear_bindings(s->find_key);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Writes one batch inside the open transaction. Returns 0 or -1 (error set). */
static int write_batch(struct wr_journal *j, struct stmts *s, struct wr_journal_batch *b)
{
    int64_t now = wr_clock_wall_ms();
    /* Within one batch a key may repeat (a split delivery with duplicate elements). */
    for (size_t i = 0; i < b->count; i++) {
        struct wr_journal_event *ev = &b->events[i];
        const char *scope = ev->scope ? ev->scope : ev->source;
        ev->duplicate = false;
        if (ev->key) {
            int64_t at = 0;
            int rc = find_key(s, scope, ev->key, ev->original_id, &at);
            /* A journal migrated from schema 2 may hold this key in its older, wider scope:
               looked up there only while such keys can still be within the window. */
            if (rc == 0 && ev->legacy_scope && j->legacy_newest >= 0 &&
                j->legacy_newest >= now - j->retention_ms) {
                rc = find_key(s, ev->legacy_scope, ev->key, ev->original_id, &at);
            }
            if (rc < 0) {
                return -1;
            }
            ev->duplicate = rc == 1 && at >= now - j->retention_ms;
            if (ev->duplicate) {
                continue;
            }
            if (rc == 1) {
                /* Seen, but outside the window: the old event keeps its history, not its key. */
                sqlite3_bind_text(s->forget_key, 1, ev->original_id, -1, SQLITE_STATIC);
                if (step_done(s->forget_key) != 0) {
                    return -1;
                }
                ev->original_id[0] = '\0';
            }
        }
        sqlite3_stmt *st = s->insert_event;
        bind_text(st, 1, ev->id);
        bind_text(st, 2, ev->source);
        bind_text(st, 3, ev->key);
        bind_text(st, 4, ev->key ? scope : NULL);
        sqlite3_bind_int64(st, 5, ev->received_at);
        bind_text(st, 6, ev->headers);
        bind_text(st, 7, ev->body);
        bind_text(st, 8, ev->nruns ? "matched" : "unmatched");
        if (step_done(st) != 0) {
            return -1;
        }
        for (size_t r = 0; r < ev->nruns; r++) {
            st = s->insert_run;
            bind_text(st, 1, ev->runs[r].id);
            bind_text(st, 2, ev->id);
            bind_text(st, 3, ev->runs[r].workflow);
            bind_text(st, 4, ev->runs[r].workflow_hash);
            bind_text(st, 5, ev->runs[r].concurrency_key);
            bind_text(st, 6, ev->runs[r].error ? "failed" : "queued");
            sqlite3_bind_int64(st, 7, now);
            sqlite3_bind_int64(st, 8, now);
            bind_text(st, 9, ev->runs[r].error);
            if (step_done(st) != 0) {
                return -1;
            }
        }
    }
    for (size_t i = 0; i < b->nops; i++) {
        struct wr_journal_op *op = &b->ops[i];
        bool once = false;
        sqlite3_stmt *st = op_stmt(j->db, s, op->sql, &once);
        if (!st) {
            return -1;
        }
        for (int k = 0; k < op->nparams; k++) {
            if (op->params[k].type == 'i') {
                sqlite3_bind_int64(st, k + 1, op->params[k].i);
            } else if (op->params[k].type == 't') {
                sqlite3_bind_text(st, k + 1, op->params[k].text, -1, SQLITE_STATIC);
            } else {
                sqlite3_bind_null(st, k + 1);
            }
        }
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (once) {
            sqlite3_finalize(st);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
            return -1;
        }
    }
    return 0;
}

/*
 * Whether err (a primary SQLite result code) means the storage failed rather than this batch's
 * own statements: the whole group fails then, and the journal's health with it.
 */
static bool storage_error(int code)
{
    switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        return true;
    default:
        return false;
    }
}

/* Records the identity (device, inode) of the files the connections opened. */
static void identity_record(struct wr_journal *j)
{
    struct stat st;
    if (stat(j->path, &st) == 0) {
        j->dev = st.st_dev;
        j->ino = st.st_ino;
    }
    if (stat(j->wal_path, &st) == 0) {
        j->wal_dev = st.st_dev;
        j->wal_ino = st.st_ino;
        j->wal_known = true;
    }
}

/*
 * Whether the state file and its WAL at their paths are still the ones the connections write.
 * When not, msg says what happened, naming the file (for the log and /readyz), and pub says
 * it without the path (for the batches' errors, which reach webhook senders). An open file's
 * inode number cannot be reused while it is open, so equal numbers mean the same file.
 */
static bool identity_ok(struct wr_journal *j, char *msg, size_t msglen, char *pub, size_t publen)
{
    struct stat st;
    int rc = stat(j->path, &st);
    if (rc != 0 || st.st_dev != j->dev || st.st_ino != j->ino) {
        const char *what =
            rc != 0 && (errno == ENOENT || errno == ENOTDIR) ? "removed" : "replaced";
        snprintf(msg, msglen,
                 "%s was %s while weir was running; nothing more is stored in the old file "
                 "(restart weir to start a new journal, or put the file back)",
                 j->path, what);
        snprintf(pub, publen, "the state file was %s while weir was running", what);
        return false;
    }
    if (!j->wal_known) {
        return true; /* not seen at open (it exists after the open's write): nothing to compare */
    }
    if (stat(j->wal_path, &st) != 0 || st.st_dev != j->wal_dev || st.st_ino != j->wal_ino) {
        snprintf(msg, msglen,
                 "%s (the journal's write-ahead log) was removed or replaced while weir was "
                 "running; what is committed into it would be lost (restart weir)",
                 j->wal_path);
        snprintf(pub, publen,
                 "the state file's write-ahead log was removed or replaced while weir was "
                 "running");
        return false;
    }
    return true;
}

/* Writer thread: the group's outcome into the health state (under lock). */
static void health_record(struct wr_journal *j, bool ok, const char *error)
{
    j->health.checked_at = wr_clock_wall_ms();
    j->health.checked_mono = wr_clock_mono_ms();
    if (ok) {
        j->health.ok = true;
        j->health.error[0] = '\0';
        return;
    }
    j->health.failed_commits++;
    wr_errf_marked(j->health.error, sizeof(j->health.error), "%s", error);
    if (j->health.ok) {
        j->health.ok = false;
        j->fail_seq++;
        wr_errf_marked(j->fail_error, sizeof(j->fail_error), "%s", error);
    }
}

/*
 * Commits one group: every batch in its own savepoint inside one transaction. Sets each
 * batch's rc and error; returns true when the group was made durable (batches that failed on
 * their own statements may still be in it), else false with the cause in msg.
 */
static bool commit_group(struct wr_journal *j, struct stmts *s, bool prepared,
                         struct wr_journal_batch *group, char *msg, size_t msglen)
{
    char ignore[WR_ERR_MAX], pub[WR_ERR_MAX] = "";
    bool ok = true;
    if (!prepared) {
        wr_errf_marked(msg, msglen, "cannot prepare statements: %s", sqlite3_errmsg(j->db));
        ok = false;
    } else if (step_done(s->begin) != 0) {
        wr_errf_marked(msg, msglen, "%s", sqlite3_errmsg(j->db));
        ok = false;
    }
    bool in_tx = ok;
    for (struct wr_journal_batch *b = group; ok && b; b = b->next) {
        b->rc = 0;
        step_done(s->savepoint);
        if (write_batch(j, s, b) != 0) {
            int code = sqlite3_errcode(j->db);
            wr_errf_marked(b->error, sizeof(b->error), "journal: %s", sqlite3_errmsg(j->db));
            b->rc = -1;
            /* The storage failing (or SQLite having rolled the transaction back itself) fails
               the group; a batch's own error (a constraint) fails that batch alone. */
            if (storage_error(code) || sqlite3_get_autocommit(j->db)) {
                wr_errf_marked(msg, msglen, "%s", sqlite3_errmsg(j->db));
                ok = false;
                in_tx = !sqlite3_get_autocommit(j->db);
                break;
            }
            step_done(s->rollback_to);
        }
        step_done(s->release);
    }
    /* Before COMMIT: a group bound for a removed or replaced file is rolled back, so that
       nothing of it reaches the deleted inode (where the executor, still reading it, would
       find its runs). */
    if (ok && !identity_ok(j, msg, msglen, pub, sizeof(pub))) {
        ok = false;
    }
    if (ok && step_done(s->commit) != 0) {
        wr_errf_marked(msg, msglen, "commit failed: %s", sqlite3_errmsg(j->db));
        ok = false;
    }
    if (!ok && in_tx && !sqlite3_get_autocommit(j->db)) {
        exec(j->db, "ROLLBACK", ignore, sizeof(ignore));
    }
    /* After COMMIT: the file may have gone during it; then the commit is not durable. */
    if (ok && !identity_ok(j, msg, msglen, pub, sizeof(pub))) {
        ok = false;
    }
    if (!ok) {
        for (struct wr_journal_batch *b = group; b; b = b->next) {
            b->rc = -1;
            wr_errf_marked(b->error, sizeof(b->error), "journal: %s", pub[0] ? pub : msg);
        }
    }
    return ok;
}

/* Writer thread: records a committed (or failed) group, us its commit time, and hands it to
   the loop. */
static void hand_over(struct wr_journal *j, struct wr_journal_batch *group, bool ok,
                      const char *msg, uint64_t us)
{
    size_t n = 0;
    for (struct wr_journal_batch *b = group; b; b = b->next) {
        n++;
    }
    pthread_mutex_lock(&j->lock);
    health_record(j, ok, msg);
    for (int k = 0; k < 8; k++) {
        if (us <= wr_journal_commit_bounds_us[k]) {
            j->stats.commit_le[k]++;
        }
    }
    j->stats.commit_us_sum += us;
    j->stats.commits++;
    j->stats.batches += n;
    if (n > j->stats.max_group) {
        j->stats.max_group = n;
    }
    for (struct wr_journal_batch *b = group; b; b = b->next) {
        j->stats.events += b->rc == 0 ? (uint64_t)b->count : 0;
    }
    if (j->done_tail) {
        j->done_tail->next = group;
    } else {
        j->done = group;
    }
    while (group && group->next) {
        group = group->next;
    }
    j->done_tail = group;
    if (ok && !j->pg && !j->ckpt_wanted) {
        j->ckpt_wanted = true;
        pthread_cond_signal(&j->ckpt_cv);
    }
    pthread_mutex_unlock(&j->lock);
    event_active(j->done_ev, EV_READ, 0);
}

/* Writer thread: commits group as one transaction (one fsync) and hands it to the loop. */
static void commit_and_hand_over(struct wr_journal *j, struct stmts *s, bool prepared,
                                 struct wr_journal_batch *group)
{
    int64_t t0 = wr_clock_mono_ns();
    char msg[WR_ERR_MAX] = "";
    bool ok = commit_group(j, s, prepared, group, msg, sizeof(msg));
    hand_over(j, group, ok, msg, (uint64_t)((wr_clock_mono_ns() - t0) / 1000));
}

/* Writer thread: the WAL's length after each commit (sqlite3_wal_hook). */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct wr_journal *j = arg;
    (void)db;
    (void)name;
    j->wal_frames = frames;
    return SQLITE_OK;
}

/*
 * Writer thread, between two groups: once the WAL is long, copies what the checkpointer has
 * not copied yet, so that the next transaction starts the WAL over (see "The WAL").
 */
static void restart_wal(struct wr_journal *j)
{
    if (j->wal_frames < WAL_RESTART_FRAMES) {
        return;
    }
    if (j->wal_frames < WAL_RESTART_FORCE) {
        pthread_mutex_lock(&j->lock);
        bool waiting = j->queue != NULL;
        pthread_mutex_unlock(&j->lock);
        if (waiting) {
            return; /* not ahead of a waiting batch: after the next group, or the one after */
        }
    }
    int log = 0, copied = 0;
    /* PASSIVE: busy (the checkpointer at work) or a reader on an old snapshot only means
       another try after the next group. */
    if (sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
            SQLITE_OK &&
        log == copied) {
        j->wal_frames = 0;
    }
}

static void *writer_main(void *arg)
{
    struct wr_journal *j = arg;
    struct stmts s;
    bool prepared = stmts_prepare(j->db, &s) == 0;

    for (;;) {
        pthread_mutex_lock(&j->lock);
        while (!j->queue && !j->stopping) {
            pthread_cond_wait(&j->wake, &j->lock);
        }
        struct wr_journal_batch *group = j->queue;
        j->queue = j->queue_tail = NULL;
        bool stop = j->stopping && !group;
        pthread_mutex_unlock(&j->lock);
        if (stop) {
            break;
        }

        /* One transaction, one fsync, for everything that queued up meanwhile — but a
           webhook's event does not wait for the inserts of a file's chunk that came with it:
           the small batches go first, in their own transaction. Only event-only batches move
           (nothing queued later can depend on them: their runs are not known yet). */
        struct wr_journal_batch *small = NULL, **st = &small, *big = NULL, **bt = &big;
        for (struct wr_journal_batch *b = group, *next; b; b = next) {
            next = b->next;
            b->next = NULL;
            if (b->count >= BIG_BATCH && b->nops == 0) {
                *bt = b;
                bt = &b->next;
            } else {
                *st = b;
                st = &b->next;
            }
        }
        if (small) {
            commit_and_hand_over(j, &s, prepared, small);
        }
        if (big) {
            commit_and_hand_over(j, &s, prepared, big);
        }
        restart_wal(j);
    }
    if (prepared) {
        stmts_free(&s);
    }
    return NULL;
}

/* {====== the PostgreSQL writer ====== */

/*
 * The same group commit over a PostgreSQL connection (engine/store/db): one transaction per
 * group, the same statements. What differs: a key's uniqueness is the unique index's, across
 * every instance writing to the database — an event is inserted ON CONFLICT DO NOTHING first,
 * and only a key already stored (by this instance, or by another whose transaction committed
 * while this one waited on the index) is looked up: a duplicate within the window, forgotten
 * and stored again past it. Every round trip counts here (one per statement), so a group is
 * first written without savepoints; if a batch fails on its own statements, the group is rolled
 * back and written again with a savepoint per batch, and only that batch fails. The runs of a
 * concurrency key are stored in commit order across instances (pg_lock_keys). No file can be
 * removed under it, so there is no identity check; a lost connection fails the group (and the
 * journal's health) and is opened again, with backoff, by the next group or the health probe
 * (engine/store/db).
 */

/* The transaction-level advisory lock of a concurrency key (the key's hash the second part). */
#define WR_KEY_LOCK 0x7765696b /* "weik" */

struct pg_stmts {
    struct wr_db_stmt *find_key, *forget_key, *insert_event, *insert_run;
    struct wr_db_stmt *lock_key; /* prepared when a group first has a keyed run */
    struct {
        char *sql;
        struct wr_db_stmt *st;
    } ops[WR_JOURNAL_OP_CACHE];
    size_t nops;
};

static void pg_stmts_free(struct pg_stmts *s)
{
    wr_db_finalize(s->find_key);
    wr_db_finalize(s->forget_key);
    wr_db_finalize(s->insert_event);
    wr_db_finalize(s->insert_run);
    wr_db_finalize(s->lock_key);
    for (size_t i = 0; i < s->nops; i++) {
        free(s->ops[i].sql);
        wr_db_finalize(s->ops[i].st);
    }
    memset(s, 0, sizeof(*s));
}

static int pg_stmts_prepare(struct wr_db *db, struct pg_stmts *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (wr_db_prepare(db,
                      "SELECT id, received_at FROM events WHERE idem_scope = ? AND idem_key = ?",
                      &s->find_key, err, errlen) != 0 ||
        wr_db_prepare(db, "UPDATE events SET idem_key = NULL, idem_scope = NULL WHERE id = ?",
                      &s->forget_key, err, errlen) != 0 ||
        wr_db_prepare(db,
                      "INSERT INTO events (id, source, idem_key, idem_scope, received_at, headers, "
                      "body, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_scope, "
                      "idem_key) WHERE idem_key IS NOT NULL DO NOTHING",
                      &s->insert_event, err, errlen) != 0 ||
        wr_db_prepare(db,
                      "INSERT INTO runs (id, event_id, workflow, workflow_hash, concurrency_key, "
                      "status, created_at, updated_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &s->insert_run, err, errlen) != 0) {
        pg_stmts_free(s);
        return -1;
    }
    return 0;
}

/* Steps st to its end; 0 or the wr_db error (message in st). Leaves st reset. */
static int pg_run(struct wr_db_stmt *st)
{
    int rc;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
    }
    wr_db_reset(st);
    wr_db_clear_bindings(st);
    return rc;
}

/* Looks key up in scope, as find_key does. */
static int pg_find_key(struct pg_stmts *s, const char *scope, const char *key, char original_id[40],
                       int64_t *at)
{
    wr_db_bind_text(s->find_key, 1, scope, -1);
    wr_db_bind_text(s->find_key, 2, key, -1);
    int rc = wr_db_step(s->find_key);
    if (rc == WR_DB_ROW) {
        *at = wr_db_column_int64(s->find_key, 1);
        snprintf(original_id, 40, "%s", wr_db_column_text(s->find_key, 0));
    }
    int result = rc == WR_DB_ROW ? 1 : rc == WR_DB_DONE ? 0 : rc;
    wr_db_reset(s->find_key);
    wr_db_clear_bindings(s->find_key);
    return result;
}

static struct wr_db_stmt *pg_op_stmt(struct wr_db *db, struct pg_stmts *s, const char *sql,
                                     bool *once, char *err, size_t errlen)
{
    *once = false;
    for (size_t i = 0; i < s->nops; i++) {
        if (strcmp(s->ops[i].sql, sql) == 0) {
            return s->ops[i].st;
        }
    }
    struct wr_db_stmt *st = NULL;
    if (wr_db_prepare(db, sql, &st, err, errlen) != 0) {
        return NULL;
    }
    if (s->nops == WR_JOURNAL_OP_CACHE) {
        *once = true;
        return st;
    }
    s->ops[s->nops].sql = wr_xstrdup(sql);
    s->ops[s->nops].st = st;
    s->nops++;
    return st;
}

/* Inserts ev (its key in scope, unless the key is stored already): *stored the rows made. */
static int pg_insert_event(struct pg_stmts *s, const struct wr_journal_event *ev, const char *scope,
                           int64_t *stored)
{
    struct wr_db_stmt *st = s->insert_event;
    wr_db_bind_text(st, 1, ev->id, -1);
    wr_db_bind_text(st, 2, ev->source, -1);
    wr_db_bind_text(st, 3, ev->key, -1);
    wr_db_bind_text(st, 4, ev->key ? scope : NULL, -1);
    wr_db_bind_int64(st, 5, ev->received_at);
    wr_db_bind_text(st, 6, ev->headers, -1);
    wr_db_bind_text(st, 7, ev->body, -1);
    wr_db_bind_text(st, 8, ev->nruns ? "matched" : "unmatched", -1);
    int rc = wr_db_step(st);
    *stored = rc == WR_DB_DONE ? wr_db_changes(st) : 0;
    wr_db_reset(st);
    wr_db_clear_bindings(st);
    return rc < 0 ? rc : 0;
}

/* Writes one batch inside the open transaction: 0, or a wr_db error with the message in err
   (and in *leftover a statement prepared for that one use, to finalize after the rollback). */
static int pg_write_batch(struct wr_journal *j, struct pg_stmts *s, struct wr_journal_batch *b,
                          struct wr_db_stmt **leftover, char *err, size_t errlen)
{
    int64_t now = wr_clock_wall_ms();
    int rc;
    for (size_t i = 0; i < b->count; i++) {
        struct wr_journal_event *ev = &b->events[i];
        const char *scope = ev->scope ? ev->scope : ev->source;
        ev->duplicate = false;
        ev->original_id[0] = '\0';
        /* Inserted first (one round trip for a new key, the common case); a key already
           stored — by this instance or another, committed meanwhile — makes no row, and is
           then looked up: within the window a duplicate, past it forgotten and stored again. */
        for (int attempt = 0;; attempt++) {
            int64_t stored = 0;
            if ((rc = pg_insert_event(s, ev, scope, &stored)) != 0) {
                wr_errf_marked(err, errlen, "%s", wr_db_errmsg(s->insert_event));
                return rc;
            }
            if (stored == 1) {
                break;
            }
            int64_t at = 0;
            rc = pg_find_key(s, scope, ev->key, ev->original_id, &at);
            if (rc != 1 || attempt > 0) {
                wr_errf_marked(err, errlen, "%s",
                               rc < 0 ? wr_db_errmsg(s->find_key)
                                      : "an idempotency key conflicted with no stored event");
                return rc < 0 ? rc : WR_DB_ERROR;
            }
            if (at >= now - j->retention_ms) {
                ev->duplicate = true;
                break;
            }
            /* outside the window: the old event keeps its history, not its key */
            wr_db_bind_text(s->forget_key, 1, ev->original_id, -1);
            if ((rc = pg_run(s->forget_key)) != 0) {
                wr_errf_marked(err, errlen, "%s", wr_db_errmsg(s->forget_key));
                return rc;
            }
            ev->original_id[0] = '\0';
        }
        if (ev->duplicate) {
            continue;
        }
        struct wr_db_stmt *st;
        for (size_t r = 0; r < ev->nruns; r++) {
            st = s->insert_run;
            wr_db_bind_text(st, 1, ev->runs[r].id, -1);
            wr_db_bind_text(st, 2, ev->id, -1);
            wr_db_bind_text(st, 3, ev->runs[r].workflow, -1);
            wr_db_bind_text(st, 4, ev->runs[r].workflow_hash, -1);
            wr_db_bind_text(st, 5, ev->runs[r].concurrency_key, -1);
            wr_db_bind_text(st, 6, ev->runs[r].error ? "failed" : "queued", -1);
            wr_db_bind_int64(st, 7, now);
            wr_db_bind_int64(st, 8, now);
            wr_db_bind_text(st, 9, ev->runs[r].error, -1);
            if ((rc = pg_run(st)) != 0) {
                wr_errf_marked(err, errlen, "%s", wr_db_errmsg(st));
                return rc;
            }
        }
    }
    for (size_t i = 0; i < b->nops; i++) {
        struct wr_journal_op *op = &b->ops[i];
        bool once = false;
        struct wr_db_stmt *st = pg_op_stmt(j->pg, s, op->sql, &once, err, errlen);
        if (!st) {
            return WR_DB_ERROR;
        }
        for (int k = 0; k < op->nparams; k++) {
            if (op->params[k].type == 'i') {
                wr_db_bind_int64(st, k + 1, op->params[k].i);
            } else if (op->params[k].type == 't') {
                wr_db_bind_text(st, k + 1, op->params[k].text, -1);
            } else {
                wr_db_bind_null(st, k + 1);
            }
        }
        rc = pg_run(st);
        if (rc != 0) {
            wr_errf_marked(err, errlen, "%s", wr_db_errmsg(st));
            if (once) {
                *leftover = st; /* dropped on the server only after the rollback */
            }
            return rc;
        }
        if (once) {
            wr_db_finalize(st);
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Takes the group's concurrency keys, each as a transaction-level advisory lock, in one order
 * (no two groups wait on each other). Runs of one key are then inserted in the order their
 * transactions commit, across instances, so a run's rowid is above every committed run of its
 * key: the executor's "an earlier open run of the key goes first" holds for runs stored on
 * several instances at once. 0, or a wr_db error with err.
 */
static int pg_lock_keys(struct wr_journal *j, struct pg_stmts *s, struct wr_journal_batch *group,
                        char *err, size_t errlen)
{
    const char **keys = NULL;
    size_t n = 0, cap = 0;
    for (struct wr_journal_batch *b = group; b; b = b->next) {
        for (size_t i = 0; i < b->count; i++) {
            for (size_t r = 0; r < b->events[i].nruns; r++) {
                if (b->events[i].runs[r].concurrency_key) {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        keys = wr_xrealloc(keys, cap * sizeof(*keys));
                    }
                    keys[n++] = b->events[i].runs[r].concurrency_key;
                }
            }
        }
    }
    if (n > 1) {
        qsort(keys, n, sizeof(*keys), cmp_str);
    }
    int rc = 0;
    if (n > 0 && !s->lock_key) {
        char sql[96];
        snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, hashtext(?))", WR_KEY_LOCK);
        rc = wr_db_prepare(j->pg, sql, &s->lock_key, err, errlen);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0) {
            continue;
        }
        wr_db_bind_text(s->lock_key, 1, keys[i], -1);
        if ((rc = pg_run(s->lock_key)) != 0) {
            wr_errf_marked(err, errlen, "%s", wr_db_errmsg(s->lock_key));
        }
    }
    free(keys);
    return rc;
}

/* Commits one group on PostgreSQL; as commit_group. */
/*
 * Commits one group on PostgreSQL; as commit_group. Without savepoints (the first try: two round
 * trips less per batch) a batch's own error rolls the whole group back and sets *redo: the
 * group is then written again with a savepoint per batch, so that only that batch fails.
 */
static bool pg_commit_group(struct wr_journal *j, struct pg_stmts *s, bool *prepared,
                            struct wr_journal_batch *group, bool savepoints, bool *redo, char *msg,
                            size_t msglen)
{
    char err[WR_ERR_MAX] = "";
    bool ok = true;
    *redo = false;
    if (!*prepared) {
        /* the statements are prepared again on a new session by db itself; this is the
           first preparation, which a connection lost at open may have failed */
        *prepared = pg_stmts_prepare(j->pg, s, err, sizeof(err)) == 0;
    }
    if (!*prepared || wr_db_begin(j->pg, true, err, sizeof(err)) != 0 ||
        pg_lock_keys(j, s, group, err, sizeof(err)) != 0) {
        wr_errf_marked(msg, msglen, "%s", err);
        ok = false;
    }
    for (struct wr_journal_batch *b = group; ok && b; b = b->next) {
        b->rc = 0;
        if (savepoints && wr_db_exec(j->pg, "SAVEPOINT batch", err, sizeof(err)) != 0) {
            wr_errf_marked(msg, msglen, "%s", err);
            ok = false;
            break;
        }
        struct wr_db_stmt *leftover = NULL;
        int rc = pg_write_batch(j, s, b, &leftover, err, sizeof(err));
        if (rc != 0 && !savepoints && rc != WR_DB_GONE && rc != WR_DB_BUSY) {
            wr_db_rollback(j->pg);
            wr_db_finalize(leftover);
            *redo = true;
            return false;
        }
        if (rc != 0) {
            wr_errf_marked(b->error, sizeof(b->error), "journal: %s", err);
            b->rc = -1;
            /* A batch's own error (a constraint, a statement refused) fails that batch alone;
               the connection lost or a conflict with another session fails the group. */
            if (rc == WR_DB_GONE || rc == WR_DB_BUSY ||
                wr_db_exec(j->pg, "ROLLBACK TO SAVEPOINT batch", err, sizeof(err)) != 0) {
                wr_db_finalize(leftover);
                wr_errf_marked(msg, msglen, "%s", err);
                ok = false;
                break;
            }
            wr_db_finalize(leftover); /* after the rollback: its DEALLOCATE can run */
        }
        if (savepoints && wr_db_exec(j->pg, "RELEASE SAVEPOINT batch", err, sizeof(err)) != 0) {
            wr_errf_marked(msg, msglen, "%s", err);
            ok = false;
        }
    }
    if (ok && wr_db_commit(j->pg, err, sizeof(err)) != 0) {
        wr_errf_marked(msg, msglen, "commit failed: %s", err);
        ok = false;
    }
    if (!ok) {
        wr_db_rollback(j->pg);
        for (struct wr_journal_batch *b = group; b; b = b->next) {
            b->rc = -1;
            wr_errf_marked(b->error, sizeof(b->error), "journal: %s", msg);
        }
    }
    return ok;
}

static void *pg_writer_main(void *arg)
{
    struct wr_journal *j = arg;
    struct pg_stmts s;
    char ignore[WR_ERR_MAX];
    bool prepared = pg_stmts_prepare(j->pg, &s, ignore, sizeof(ignore)) == 0;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        while (!j->queue && !j->stopping) {
            pthread_cond_wait(&j->wake, &j->lock);
        }
        struct wr_journal_batch *group = j->queue;
        j->queue = j->queue_tail = NULL;
        bool stop = j->stopping && !group;
        pthread_mutex_unlock(&j->lock);
        if (stop) {
            break;
        }
        int64_t t0 = wr_clock_mono_ns();
        char msg[WR_ERR_MAX] = "";
        bool redo = false;
        bool ok = pg_commit_group(j, &s, &prepared, group, false, &redo, msg, sizeof(msg));
        if (redo) { /* a batch failed on its own: again, each in its savepoint */
            ok = pg_commit_group(j, &s, &prepared, group, true, &redo, msg, sizeof(msg));
        }
        hand_over(j, group, ok, msg, (uint64_t)((wr_clock_mono_ns() - t0) / 1000));
    }
    if (prepared) {
        pg_stmts_free(&s);
    }
    return NULL;
}

/* }====== */

/*
 * Checkpoints run here, not inside a commit: SQLite's automatic checkpoint would make the
 * unlucky commit that crosses 1000 WAL pages wait for the copy into the database file, and
 * every ack in its group with it. A PASSIVE checkpoint never blocks the writer. A pass runs
 * after commits, at most every CHECKPOINT_MS; an idle journal leaves the thread asleep.
 */
static void *checkpointer_main(void *arg)
{
    struct wr_journal *j = arg;
    int copied = 0; /* WAL frames in the database file after the previous pass */
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (!j->ckpt_wanted && !j->stopping) {
            pthread_cond_wait(&j->ckpt_cv, &j->lock);
        }
        if (j->stopping) {
            break;
        }
        j->ckpt_wanted = false;
        pthread_mutex_unlock(&j->lock);
        int log = 0, done = 0;
        sqlite3_wal_checkpoint_v2(j->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        /* Copied but not caught up (the writer went on): SQLite leaves these pages unsynced
           until a pass catches up, which under load is seldom. Sync them now, a pass's worth
           at a time. */
        if (done != copied && done < log && j->db_fd >= 0) {
            fdatasync(j->db_fd);
        }
        copied = done;
        /* The next pass no sooner than CHECKPOINT_MS from now (ckpt_cv waits on the monotonic
           clock: a step of the wall clock neither skips nor stretches the pause). */
        int64_t due = wr_clock_mono_ns() + CHECKPOINT_MS * 1000000LL;
        struct timespec until = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
        pthread_mutex_lock(&j->lock);
        while (!j->stopping && pthread_cond_timedwait(&j->ckpt_cv, &j->lock, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static void on_retry_probed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    (void)arg;
    (void)b;
    (void)rc;
    (void)error; /* the outcome is in the health state, and reported from there */
}

/* Loop thread, while failing: one probe, so that recovery is seen without traffic. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct wr_journal *j = arg;
    (void)fd;
    (void)what;
    wr_journal_probe(j, on_retry_probed, NULL);
}

/* Loop thread: reports changes of health (once per change) and keeps the retry probe armed. */
static void health_report(struct wr_journal *j)
{
    pthread_mutex_lock(&j->lock);
    uint64_t seq = j->fail_seq;
    bool ok = j->health.ok;
    char cause[WR_ERR_MAX];
    wr_errf_marked(cause, sizeof(cause), "%s", j->fail_error);
    pthread_mutex_unlock(&j->lock);
    if (seq != j->reported_seq) {
        j->reported_seq = seq;
        j->reported_failing = true;
        if (j->on_health) {
            j->on_health(j->on_health_arg, false, cause);
        }
    }
    if (ok && j->reported_failing) {
        j->reported_failing = false;
        if (j->on_health) {
            j->on_health(j->on_health_arg, true, NULL);
        }
    }
    if (!ok && j->retry_ev && !evtimer_pending(j->retry_ev, NULL)) {
        struct timeval tv = {WR_JOURNAL_RETRY_MS / 1000, (WR_JOURNAL_RETRY_MS % 1000) * 1000};
        evtimer_add(j->retry_ev, &tv);
    }
}

/* Loop thread: runs the callbacks of committed batches. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
    struct wr_journal *j = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&j->lock);
    struct wr_journal_batch *list = j->done;
    j->done = j->done_tail = NULL;
    pthread_mutex_unlock(&j->lock);
    health_report(j);
    while (list) {
        struct wr_journal_batch *next = list->next;
        j->pending--;
        list->done(list->arg, list, list->rc, list->rc ? list->error : NULL);
        wr_journal_batch_free(list);
        list = next;
    }
}

/* }====== */

static int make_parent_dir(const char *path, char *err, size_t errlen)
{
    char *dir = wr_path_dirname(path);
    int rc = 0;
    /* One level is enough for ./var/weir.db; deeper trees are the admin's to create. */
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        rc = -1;
    }
    free(dir);
    return rc;
}

#define PROBE_SQL                                                                                  \
    "INSERT INTO journal_meta (name, value) VALUES ('probe', ?) "                                  \
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"

/* The newest key stored unscoped (migration 3), or -1. */
static int64_t read_legacy_newest(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT value FROM journal_meta WHERE name = "
                           "'unscoped_webhook_keys_newest'",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/*
 * One real write, committed, before anything is promised: SQLite opens a file it may not write
 * (a read-only file, directory or file system) read-only without a word, and every commit would
 * fail later. 0, or -1 with the reason in err.
 */
static int write_probe(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    char msg[WR_ERR_MAX], ignore[WR_ERR_MAX];
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE", msg, sizeof(msg)) != 0) {
        goto out;
    }
    if (sqlite3_prepare_v2(db, PROBE_SQL, -1, &st, NULL) != SQLITE_OK) {
        wr_errf_marked(msg, sizeof(msg), "%s", sqlite3_errmsg(db));
        exec(db, "ROLLBACK", ignore, sizeof(ignore));
        goto out;
    }
    sqlite3_bind_int64(st, 1, wr_clock_wall_ms());
    if (sqlite3_step(st) != SQLITE_DONE) {
        wr_errf_marked(msg, sizeof(msg), "%s", sqlite3_errmsg(db));
        exec(db, "ROLLBACK", ignore, sizeof(ignore));
        goto out;
    }
    if (exec(db, "COMMIT", msg, sizeof(msg)) != 0) {
        exec(db, "ROLLBACK", ignore, sizeof(ignore));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc != 0) {
        wr_errf_marked(
            err, errlen,
            "%s: cannot write the journal: %s (weir writes %s and its -wal and -shm files "
            "beside it: is the file, its directory or the file system read-only, or full?)",
            path, msg, path);
    }
    return rc;
}

int wr_journal_migrate(const char *path, int *from, char *err, size_t errlen)
{
    *from = 0;
    if (wr_db_is_postgres_url(path)) {
        snprintf(err, errlen, "state: a PostgreSQL database is migrated by wr_store_migrate");
        return -1;
    }
    if (make_parent_dir(path, err, errlen) != 0) {
        return -1;
    }
    sqlite3 *db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
    if (!db) {
        return -1;
    }
    *from = user_version(db);
    int rc = migrate(db, path, err, errlen);
    sqlite3_close(db);
    return rc;
}

/* A journal with its lock, condition variables and retention, nothing opened yet. */
static struct wr_journal *journal_new(int64_t retention_ms)
{
    struct wr_journal *j = wr_xcalloc(1, sizeof(*j));
    j->db_fd = -1;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_condattr_t ckpt_attr;
    pthread_condattr_init(&ckpt_attr);
    pthread_condattr_setclock(&ckpt_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&j->ckpt_cv, &ckpt_attr);
    pthread_condattr_destroy(&ckpt_attr);
    j->retention_ms = retention_ms > 0 ? retention_ms : WR_JOURNAL_RETENTION_MS;
    return j;
}

/* The loop's events of a journal (results, retry probes); 0 or -1 with err. */
static int journal_events(struct wr_journal *j, struct event_base *base, char *err, size_t errlen)
{
    j->health.ok = true;
    j->health.checked_at = wr_clock_wall_ms();
    j->health.checked_mono = wr_clock_mono_ms();
    j->done_ev = event_new(base, -1, 0, on_done, j);
    j->retry_ev = evtimer_new(base, on_retry, j);
    if (!j->done_ev || !j->retry_ev) {
        snprintf(err, errlen, "cannot create the journal's event");
        return -1;
    }
    return 0;
}

/*
 * PostgreSQL: the schema made or checked (wr_store_migrate: under its advisory lock, so that
 * instances starting together never migrate at once), one probe committed, the writer started.
 */
static struct wr_journal *pg_journal_open(struct event_base *base, const char *url,
                                          int64_t retention_ms, char *err, size_t errlen)
{
    struct wr_migrate_result mr;
    char msg[WR_ERR_MAX];
    if (wr_store_migrate(url, &mr, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "state: %s", msg);
        return NULL;
    }
    struct wr_journal *j = journal_new(retention_ms);
    j->path = wr_xstrdup(url);
    j->legacy_newest = -1; /* PostgreSQL journals start at schema 8: no unscoped keys */
    struct wr_db_stmt *st = NULL;
    if (wr_db_open(url, 0, &j->pg, msg, sizeof(msg)) != 0 ||
        wr_db_prepare(j->pg, PROBE_SQL, &st, msg, sizeof(msg)) != 0 ||
        wr_db_bind_int64(st, 1, wr_clock_wall_ms()) != 0 || pg_run(st) != 0) {
        if (st) {
            wr_errf_marked(msg, sizeof(msg), "%s", wr_db_errmsg(st));
        }
        wr_errf_marked(err, errlen, "state: cannot write the journal: %s", msg);
        wr_db_finalize(st);
        goto err;
    }
    wr_db_finalize(st);
    if (journal_events(j, base, err, errlen) != 0) {
        goto err;
    }
    if (pthread_create(&j->thread, NULL, pg_writer_main, j) != 0) {
        snprintf(err, errlen, "cannot start the journal writer thread");
        goto err;
    }
    j->thread_started = true;
    return j;
err:
    wr_journal_close(j);
    return NULL;
}

struct wr_journal *wr_journal_open(struct event_base *base, const char *path, int64_t retention_ms,
                                   char *err, size_t errlen)
{
    if (wr_db_is_postgres_url(path)) {
        return pg_journal_open(base, path, retention_ms, err, errlen);
    }
    if (make_parent_dir(path, err, errlen) != 0) {
        return NULL;
    }
    struct wr_journal *j = journal_new(retention_ms);
    j->path = wr_xstrdup(path);
    j->wal_path = wr_xasprintf("%s-wal", path);
    j->db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
    if (!j->db || migrate(j->db, path, err, errlen) != 0 ||
        write_probe(j->db, path, err, errlen) != 0) {
        goto err;
    }
    j->legacy_newest = read_legacy_newest(j->db);
    identity_record(j);
    if (journal_events(j, base, err, errlen) != 0) {
        goto err;
    }
    char msg[WR_ERR_MAX];
    if (exec(j->db, "PRAGMA wal_autocheckpoint=0", msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "%s: %s", path, msg);
        goto err;
    }
    j->ckpt_db = open_db(path, SQLITE_OPEN_READWRITE, err, errlen);
    if (!j->ckpt_db) {
        goto err;
    }
    char limit[64];
    snprintf(limit, sizeof(limit), "PRAGMA journal_size_limit=%d", WAL_SIZE_LIMIT);
    if (exec(j->db, limit, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "%s: %s", path, msg);
        goto err;
    }
    sqlite3_wal_hook(j->db, on_wal_commit, j);
    /* Only fdatasync'd: a failure to open it means the checkpointer does not sync early. */
    j->db_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (pthread_create(&j->thread, NULL, writer_main, j) != 0) {
        snprintf(err, errlen, "cannot start the journal writer thread");
        goto err;
    }
    j->thread_started = true;
    if (pthread_create(&j->ckpt_thread, NULL, checkpointer_main, j) != 0) {
        snprintf(err, errlen, "cannot start the journal checkpoint thread");
        goto err;
    }
    j->ckpt_started = true;
    return j;
err:
    wr_journal_close(j);
    return NULL;
}

void wr_journal_close(struct wr_journal *j)
{
    if (!j) {
        return;
    }
    if (j->thread_started || j->ckpt_started) {
        pthread_mutex_lock(&j->lock);
        j->stopping = true;
        pthread_cond_broadcast(&j->wake);
        pthread_cond_broadcast(&j->ckpt_cv);
        pthread_mutex_unlock(&j->lock);
        if (j->thread_started) {
            pthread_join(j->thread, NULL);
        }
        if (j->ckpt_started) {
            pthread_join(j->ckpt_thread, NULL);
        }
    }
    if (j->ckpt_db) {
        /* Fold the WAL back into the database on a clean stop. */
        sqlite3_wal_checkpoint_v2(j->ckpt_db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(j->ckpt_db);
    }
    /* Committed (or failed) batches nobody will hear about any more. */
    for (struct wr_journal_batch *b = j->done; b;) {
        struct wr_journal_batch *next = b->next;
        wr_journal_batch_free(b);
        b = next;
    }
    if (j->done_ev) {
        event_free(j->done_ev);
    }
    if (j->retry_ev) {
        event_free(j->retry_ev);
    }
    sqlite3_close(j->db);
    wr_db_close(j->pg);
    if (j->db_fd >= 0) {
        close(j->db_fd);
    }
    free(j->path);
    free(j->wal_path);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->ckpt_cv);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

size_t wr_journal_pending(const struct wr_journal *j)
{
    return j->pending;
}

int wr_journal_submit(struct wr_journal *j, struct wr_journal_batch *b, wr_journal_done_fn done,
                      void *arg)
{
    b->done = done;
    b->arg = arg;
    b->next = NULL;
    pthread_mutex_lock(&j->lock);
    if (j->stopping) {
        pthread_mutex_unlock(&j->lock);
        wr_journal_batch_free(b);
        return -1;
    }
    if (j->queue_tail) {
        j->queue_tail->next = b;
    } else {
        j->queue = b;
    }
    j->queue_tail = b;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    j->pending++;
    return 0;
}

int wr_journal_probe(struct wr_journal *j, wr_journal_done_fn done, void *arg)
{
    struct wr_journal_batch *b = wr_journal_batch_new();
    wr_journal_batch_add_op(b, PROBE_SQL, "i", wr_clock_wall_ms());
    return wr_journal_submit(j, b, done, arg);
}

void wr_journal_get_health(struct wr_journal *j, struct wr_journal_health *out)
{
    pthread_mutex_lock(&j->lock);
    *out = j->health;
    pthread_mutex_unlock(&j->lock);
}

bool wr_journal_intact(struct wr_journal *j, char *err, size_t errlen)
{
    char pub[160];
    if (j->pg) {
        return true; /* a database server's files are not ours to watch */
    }
    /* dev, ino and the WAL's are written once, at open, before any other thread runs */
    return identity_ok(j, err, errlen, pub, sizeof(pub));
}

bool wr_journal_ok(struct wr_journal *j)
{
    pthread_mutex_lock(&j->lock);
    bool ok = j->health.ok;
    pthread_mutex_unlock(&j->lock);
    return ok;
}

void wr_journal_on_health(struct wr_journal *j, wr_journal_health_fn fn, void *arg)
{
    j->on_health = fn;
    j->on_health_arg = arg;
}

/* {====== the owner's claim ====== */

struct wr_journal_claim {
    int fd;           /* SQLite: the flocked state file, else -1 */
    struct wr_db *pg; /* PostgreSQL: the session holding the owner's advisory lock */
};

/* PostgreSQL: several daemons share the database, so nothing is locked: runs are claimed one
   by one (engine/store/runstate's leases), and the triggers that must run once run on the
   leader (engine/store/leader). The claim is the same object, holding nothing. */
static struct wr_journal_claim *pg_claim(void)
{
    struct wr_journal_claim *c = wr_xcalloc(1, sizeof(*c));
    c->fd = -1;
    return c;
}

/*
 * The pid holding a flock on the file (dev, ino), from /proc/locks; 0 when it cannot be told
 * (no procfs, another pid namespace).
 */
static long flock_holder(dev_t dev, ino_t ino)
{
    FILE *f = fopen("/proc/locks", "re");
    char line[256];
    long pid = 0;
    if (!f) {
        return 0;
    }
    /* "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF" (device numbers in hex) */
    while (!pid && fgets(line, sizeof(line), f)) {
        char kind[16], mode[16], rw[16];
        long p = 0;
        unsigned maj = 0, min = 0;
        unsigned long long i = 0;
        if (sscanf(line, "%*[^:]: %15s %15s %15s %ld %x:%x:%llu", kind, mode, rw, &p, &maj, &min,
                   &i) == 7 &&
            strcmp(kind, "FLOCK") == 0 && i == (unsigned long long)ino && maj == major(dev) &&
            min == minor(dev)) {
            pid = p;
        }
    }
    fclose(f);
    return pid;
}

struct wr_journal_claim *wr_journal_claim(const char *path, char *err, size_t errlen)
{
    if (wr_db_is_postgres_url(path)) {
        return pg_claim();
    }
    if (make_parent_dir(path, err, errlen) != 0) {
        return NULL;
    }
    /* The database file itself, not a side file: every path that reaches it (a symlink, a
       relative path from another directory) meets the same lock. flock, not fcntl: SQLite's
       own fcntl locks on this file are dropped whenever the process closes any descriptor of
       it, and a flock is not. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen,
                 "%s: cannot open the journal for writing: %s (is the file, its directory or the "
                 "file system read-only?)",
                 path, strerror(errno));
        return NULL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        struct stat st;
        long pid = e == EWOULDBLOCK && fstat(fd, &st) == 0 ? flock_holder(st.st_dev, st.st_ino) : 0;
        close(fd);
        if (e != EWOULDBLOCK) {
            snprintf(err, errlen, "%s: cannot lock the journal: %s", path, strerror(e));
        } else if (pid > 0) {
            snprintf(err, errlen,
                     "%s is in use by another weir (pid %ld): one daemon per state file, or "
                     "queued runs would run twice; stop it first, or give this one its own "
                     "`state:`",
                     path, pid);
        } else {
            snprintf(err, errlen,
                     "%s is in use by another weir: one daemon per state file, or queued runs "
                     "would run twice; stop it first, or give this one its own `state:`",
                     path);
        }
        return NULL;
    }
    struct wr_journal_claim *c = wr_xcalloc(1, sizeof(*c));
    c->fd = fd;
    return c;
}

void wr_journal_release(struct wr_journal_claim *c)
{
    if (c) {
        if (c->fd >= 0) {
            close(c->fd); /* drops the lock */
        }
        free(c);
    }
}

/* }====== */

struct wr_db *wr_journal_open_reader(const char *path, char *err, size_t errlen)
{
    struct wr_db *db = NULL;
    char msg[WR_ERR_MAX];
    if (!wr_db_is_postgres_url(path)) {
        struct stat st;
        if (stat(path, &st) != 0) {
            snprintf(err, errlen, "%s: %s (has `weir run` ever started with this state path?)",
                     path, strerror(errno));
            return NULL;
        }
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "%s: %s, not a regular file", path, wr_file_kind(st.st_mode));
            return NULL;
        }
    }
    if (wr_db_open(path, 0, &db, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "%s", msg);
        return NULL;
    }
    if (wr_db_kind(db) == WR_DB_SQLITE &&
        (wr_db_exec(db, "PRAGMA journal_mode=WAL", msg, sizeof(msg)) != 0 ||
         wr_db_exec(db, "PRAGMA synchronous=FULL", msg, sizeof(msg)) != 0 ||
         wr_db_exec(db, "PRAGMA foreign_keys=ON", msg, sizeof(msg)) != 0)) {
        wr_errf_marked(err, errlen, "%s: %s", path, msg);
        wr_db_close(db);
        return NULL;
    }
    int v = wr_store_version(db, msg, sizeof(msg));
    if (v < 0) {
        wr_errf_marked(err, errlen, "%s: %s", wr_db_kind(db) == WR_DB_SQLITE ? path : "state", msg);
    } else if (v > SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: written by a newer weir",
                 wr_db_kind(db) == WR_DB_SQLITE ? path : "state");
        v = -1;
    } else if (v == 0 && wr_db_kind(db) == WR_DB_POSTGRES) {
        snprintf(err, errlen, "state: the database has no weir schema yet (run `weir migrate`)");
        v = -1;
    }
    if (v < 0) {
        wr_db_close(db);
        return NULL;
    }
    return db;
}

void wr_journal_close_reader(struct wr_db *db)
{
    wr_db_close(db);
}

void wr_journal_get_stats(struct wr_journal *j, struct wr_journal_stats *out)
{
    pthread_mutex_lock(&j->lock);
    *out = j->stats;
    pthread_mutex_unlock(&j->lock);
}
