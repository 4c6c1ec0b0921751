/*
 * journal — SQLite store with a group-committing writer thread; see journal.h.
 *
 * Threads: the loop thread builds batches (plain strings, no json-c) and queues them under
 * `lock`; the writer thread takes the whole queue, commits it as one transaction, moves it
 * to the done queue and wakes the loop with event_active (legal from another thread once
 * evthread_use_pthreads() ran). Each batch sits inside a SAVEPOINT, so one failing batch is
 * rolled back alone while the others of the group commit.
 */
#include "engine/journal.h"

#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "engine/secret.h"
#include "engine/strutil.h"

const uint64_t wr_journal_commit_bounds_us[8] = {250,  500,   1000,  2500,
                                                 5000, 10000, 50000, UINT64_MAX};

struct wr_journal {
    sqlite3 *db; /* the writer's connection, used by the writer thread only */
    pthread_t thread;
    bool thread_started;
    sqlite3 *ckpt_db; /* the checkpointer's connection */
    pthread_t ckpt_thread;
    bool ckpt_started;
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
};

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
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
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
        snprintf(err, errlen, "%s: cannot read the schema version: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    if (v > SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: written by a newer weir (schema %d; this weir knows up to %d)",
                 path, v, SCHEMA_VERSION);
        return -1;
    }
    for (; v < SCHEMA_VERSION; v++) {
        char pragma[64], msg[512];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if (exec(db, "BEGIN IMMEDIATE", msg, sizeof(msg)) != 0 ||
            exec(db, migrations[v], msg, sizeof(msg)) != 0 ||
            exec(db, pragma, msg, sizeof(msg)) != 0 || exec(db, "COMMIT", msg, sizeof(msg)) != 0) {
            exec(db, "ROLLBACK", pragma, sizeof(pragma));
            snprintf(err, errlen, "%s: migrating the schema to version %d failed: %s", path, v + 1,
                     msg);
            return -1;
        }
    }
    return 0;
}

/* Opens a connection with weir's settings: WAL, full fsync, a busy timeout. */
static sqlite3 *open_db(const char *path, int flags, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char msg[256];
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
        snprintf(err, errlen, "%s: %s", path, msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* }====== */

/* {====== ids and batches ====== */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wr_journal_new_id(const char *prefix, char out[40])
{
    /* Time-ordered (ms, hex) plus a per-process counter and randomness: sortable, unique
       across restarts and processes. */
    static uint32_t counter;
    static uint32_t salt;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (!salt) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        salt = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ (int64_t)getpid() << 8) | 1u;
    }
    uint32_t c = ++counter;
    pthread_mutex_unlock(&lock);
    /* The counter is not scrambled: ids made in one millisecond still sort in order. */
    snprintf(out, 40, "%s_%012llx%05x%06x", prefix, (unsigned long long)now_ms(), c & 0xFFFFF,
             salt & 0xFFFFFF);
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

struct wr_journal_run *wr_journal_batch_add_run(struct wr_journal_event *ev, const char *workflow,
                                                const char *hash, const char *concurrency_key,
                                                const char *error)
{
    ev->runs = wr_xrealloc(ev->runs, (ev->nruns + 1) * sizeof(*ev->runs));
    struct wr_journal_run *r = &ev->runs[ev->nruns++];
    wr_journal_new_id("run", r->id);
    r->workflow = wr_xstrdup(workflow);
    r->workflow_hash = wr_xstrdup(hash);
    r->concurrency_key = wr_xstrdup_or_null(concurrency_key);
    r->error = wr_xstrdup_or_null(error);
    return r;
}

void wr_journal_batch_add_op(struct wr_journal_batch *b, const char *sql, const char *types, ...)
{
    va_list ap;
    b->ops = wr_xrealloc(b->ops, (b->nops + 1) * sizeof(*b->ops));
    struct wr_journal_op *op = &b->ops[b->nops++];
    memset(op, 0, sizeof(*op));
    op->sql = wr_xstrdup(sql);
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
    free(src->ops);
    src->ops = NULL;
    src->nops = 0;
}

void wr_journal_batch_free(struct wr_journal_batch *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->nops; i++) {
        free(b->ops[i].sql);
        for (int k = 0; k < b->ops[i].nparams; k++) {
            free(b->ops[i].params[k].text);
        }
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
    if (sqlite3_prepare_v2(db, "SELECT id, received_at FROM events WHERE idem_key = ?", -1,
                           &s->find_key, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE events SET idem_key = NULL WHERE idem_key = ?", -1,
                           &s->forget_key, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO events (id, source, idem_key, received_at, headers, "
                           "body, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
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

/* Writes one batch inside the open transaction. Returns 0 or -1 (error set). */
static int write_batch(struct wr_journal *j, struct stmts *s, struct wr_journal_batch *b)
{
    int64_t now = now_ms();
    /* Within one batch a key may repeat (a split delivery with duplicate elements). */
    for (size_t i = 0; i < b->count; i++) {
        struct wr_journal_event *ev = &b->events[i];
        ev->duplicate = false;
        if (ev->key) {
            sqlite3_bind_text(s->find_key, 1, ev->key, -1, SQLITE_STATIC);
            int rc = sqlite3_step(s->find_key);
            if (rc == SQLITE_ROW) {
                int64_t at = sqlite3_column_int64(s->find_key, 1);
                snprintf(ev->original_id, sizeof(ev->original_id), "%s",
                         (const char *)sqlite3_column_text(s->find_key, 0));
                ev->duplicate = at >= now - j->retention_ms;
            }
            sqlite3_reset(s->find_key);
            sqlite3_clear_bindings(s->find_key);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                return -1;
            }
            if (ev->duplicate) {
                continue;
            }
            if (rc == SQLITE_ROW) {
                /* Seen, but outside the window: the old event keeps its history, not its key. */
                sqlite3_bind_text(s->forget_key, 1, ev->key, -1, SQLITE_STATIC);
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
        sqlite3_bind_int64(st, 4, ev->received_at);
        bind_text(st, 5, ev->headers);
        bind_text(st, 6, ev->body);
        bind_text(st, 7, ev->nruns ? "matched" : "unmatched");
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

        /* One transaction, one fsync, for everything that queued up meanwhile. */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        char msg[256] = "";
        size_t n = 0;
        int txrc = prepared ? step_done(s.begin) : -1;
        if (!prepared) {
            snprintf(msg, sizeof(msg), "cannot prepare statements: %s", sqlite3_errmsg(j->db));
        } else if (txrc != 0) {
            snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(j->db));
        }
        for (struct wr_journal_batch *b = group; b; b = b->next) {
            n++;
            b->rc = txrc;
            if (txrc != 0) {
                snprintf(b->error, sizeof(b->error), "journal: %.200s", msg);
                continue;
            }
            step_done(s.savepoint);
            if (write_batch(j, &s, b) != 0) {
                snprintf(b->error, sizeof(b->error), "journal: %s", sqlite3_errmsg(j->db));
                b->rc = -1;
                step_done(s.rollback_to);
            }
            step_done(s.release);
        }
        if (txrc == 0 && step_done(s.commit) != 0) {
            snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(j->db));
            char ignore[64];
            exec(j->db, "ROLLBACK", ignore, sizeof(ignore));
            for (struct wr_journal_batch *b = group; b; b = b->next) {
                b->rc = -1;
                snprintf(b->error, sizeof(b->error), "journal: commit failed: %.200s", msg);
            }
        }

        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t us =
            (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
        pthread_mutex_lock(&j->lock);
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
            j->stats.events += (uint64_t)b->count;
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
        pthread_mutex_unlock(&j->lock);
        event_active(j->done_ev, EV_READ, 0);
    }
    if (prepared) {
        stmts_free(&s);
    }
    return NULL;
}

/*
 * Checkpoints run here, not inside a commit: SQLite's automatic checkpoint would make the
 * unlucky commit that crosses 1000 WAL pages wait for the copy into the database file, and
 * every ack in its group with it. A PASSIVE checkpoint never blocks the writer.
 */
static void *checkpointer_main(void *arg)
{
    struct wr_journal *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->ckpt_cv, &j->lock, &until);
        if (j->stopping) {
            break;
        }
        pthread_mutex_unlock(&j->lock);
        sqlite3_wal_checkpoint_v2(j->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
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

struct wr_journal *wr_journal_open(struct event_base *base, const char *path, int64_t retention_ms,
                                   char *err, size_t errlen)
{
    struct wr_journal *j = NULL;

    if (make_parent_dir(path, err, errlen) != 0) {
        return NULL;
    }
    j = wr_xcalloc(1, sizeof(*j));
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_cond_init(&j->ckpt_cv, NULL);
    j->retention_ms = retention_ms > 0 ? retention_ms : WR_JOURNAL_RETENTION_MS;
    j->db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
    if (!j->db || migrate(j->db, path, err, errlen) != 0) {
        goto err;
    }
    j->done_ev = event_new(base, -1, 0, on_done, j);
    if (!j->done_ev) {
        snprintf(err, errlen, "cannot create the journal's event");
        goto err;
    }
    char msg[128];
    if (exec(j->db, "PRAGMA wal_autocheckpoint=0", msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "%s: %s", path, msg);
        goto err;
    }
    j->ckpt_db = open_db(path, SQLITE_OPEN_READWRITE, err, errlen);
    if (!j->ckpt_db) {
        goto err;
    }
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
    sqlite3_close(j->db);
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

struct sqlite3 *wr_journal_open_reader(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s (has `weir run` ever started with this state path?)", path,
                 strerror(errno));
        return NULL;
    }
    sqlite3 *db = open_db(path, SQLITE_OPEN_READWRITE, err, errlen);
    if (db && user_version(db) > SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: written by a newer weir", path);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

void wr_journal_get_stats(struct wr_journal *j, struct wr_journal_stats *out)
{
    pthread_mutex_lock(&j->lock);
    *out = j->stats;
    pthread_mutex_unlock(&j->lock);
}
