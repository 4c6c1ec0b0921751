/*
 * test_store_conformance — the journal's conformance suite (issue 21): the same cases, through
 * the interfaces the daemon uses, on SQLite and on PostgreSQL alike. Events stored with their
 * runs; idempotency keys (a duplicate in a later batch or in the same one, per scope, the
 * retention window by the event's time and by the clock, two instances storing one key at
 * once); a batch's operations run in order in its transaction (more distinct statements than
 * the writer keeps prepared too), and a batch that fails (a constraint, a statement refused)
 * fails alone in a group whose other batches commit; a big batch beside a small one; the probe
 * and the health; the executor's reads and writes (engine/store/runstate: due runs, steps,
 * cancel flag, crash count, the guard's window); run leases between two instances; what polling
 * triggers remember (engine/store/trigger_state), written on an ingest batch.
 *
 *   test_store_conformance                    SQLite: a fresh store file per test
 *   test_store_conformance postgres URL_FILE  PostgreSQL: the URL in URL_FILE (tests/pg's
 *                                             throw-away cluster, the ctest fixture weir_pg)
 *
 * Each test opens a fresh journal (wr_journal_open: a file in a new directory, or the schema
 * PG_SCHEMA made anew and named by the URL's search_path; the public schema is never touched)
 * and reads what it stored back through a reader connection (wr_journal_open_reader, struct
 * wr_db), in SQL both back ends accept. The expectations differ in three places only: the
 * leases, which only PostgreSQL enforces (one SQLite daemon owns every run); which of two
 * batches sharing a key stores it where the back ends order a group differently; and the
 * PostgreSQL-only waits a case makes sure of before going on (a run's row locked, a writer
 * waiting on another's key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <json-c/json.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"
#include "tests/unit/pg_test.h"
#include "engine/store/runstate.h"
#include "engine/store/trigger_state.h"

#define PG_SCHEMA "test_conformance"

/* A fixed event time (2024-05-01T14:00:00.123Z), for the cases that read it back. */
#define RECEIVED 1714572000123LL

static char pg_url[4096]; /* PostgreSQL: the cluster's URL; "" for SQLite */

struct fixture {
    char dir[64]; /* SQLite: the store's directory */
    char *state;  /* the store's file, or the URL with the test's search_path */
    struct event_base *base;
    struct wr_journal *j;
    struct wr_journal *j2;     /* another instance's journal on the same store */
    struct wr_db *db;          /* a reader, for reading back */
    struct wr_db *hold;        /* a connection holding a lock (hold_writer), until release_hold */
    struct wr_runstate *rs[2]; /* the executor's views (two instances for the leases) */
    struct wr_ingest *in;
    int waiting; /* callbacks still to come */
};

/* One submitted batch's outcome, as its callback saw it. */
struct outcome {
    struct fixture *fx;
    bool called;
    int rc;
    char error[WR_ERR_MAX];
    size_t count;
    struct {
        bool duplicate;
        char id[40];
        char original_id[40];
    } ev[8];
};

/* {====== helpers ====== */

static bool is_pg(void)
{
    return pg_url[0] != '\0';
}

static void on_done(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct outcome *o = arg;
    o->called = true;
    o->rc = rc;
    snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
    o->count = b->count;
    for (size_t i = 0; i < b->count && i < 8; i++) {
        o->ev[i].duplicate = b->events[i].duplicate;
        snprintf(o->ev[i].id, sizeof(o->ev[i].id), "%s", b->events[i].id);
        snprintf(o->ev[i].original_id, sizeof(o->ev[i].original_id), "%s",
                 b->events[i].duplicate ? b->events[i].original_id : "");
    }
    if (--o->fx->waiting == 0) {
        event_base_loopexit(o->fx->base, NULL);
    }
}

/* Submits b (taken) to j with o to hear its outcome; the loop is not run. */
static void submit_to(struct fixture *fx, struct wr_journal *j, struct wr_journal_batch *b,
                      struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->fx = fx;
    o->rc = 1;
    fx->waiting++;
    assert_int_equal(wr_journal_submit(j, b, on_done, o), 0);
}

static void submit(struct fixture *fx, struct wr_journal_batch *b, struct outcome *o)
{
    submit_to(fx, fx->j, b, o);
}

/* Runs the loop until every callback awaited has run. */
static void wait_all(struct fixture *fx)
{
    if (fx->waiting > 0) {
        event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
    }
    assert_int_equal(fx->waiting, 0);
    assert_int_equal(wr_journal_pending(fx->j), 0);
}

/* Submits b (taken), waits for its callback and returns its rc. */
static int commit(struct fixture *fx, struct wr_journal_batch *b, struct outcome *o)
{
    submit(fx, b, o);
    wait_all(fx);
    assert_true(o->called);
    return o->rc;
}

/* Commits b (taken), which must succeed. */
static void commit_ok(struct fixture *fx, struct wr_journal_batch *b)
{
    struct outcome o;
    if (commit(fx, b, &o) != 0) {
        fail_msg("commit: %s", o.error);
    }
}

/* An event of source with key (may be NULL) in scope (NULL: the source's), body "{}", received
   now. */
static struct wr_journal_event *add_event(struct wr_journal_batch *b, const char *source,
                                          const char *key, const char *scope)
{
    struct wr_journal_event *ev =
        wr_journal_batch_add(b, source, key, NULL, "{}", wr_clock_wall_ms());
    if (scope) {
        wr_journal_event_scope(ev, scope, NULL);
    }
    return ev;
}

/* Adds a queued run of workflow to ev and copies its id into id. */
static void add_run(struct wr_journal_event *ev, const char *workflow, const char *ckey,
                    char id[40])
{
    struct wr_journal_run *r = wr_journal_batch_add_run(ev, workflow, "h1", ckey, NULL);
    snprintf(id, 40, "%s", r->id);
}

/* A statement on db with its parameters bound: types 't' (const char *, NULL binds NULL) or
   'i' (int64_t). */
static struct wr_db_stmt *prep_v(struct wr_db *db, const char *sql, const char *types, va_list ap)
{
    struct wr_db_stmt *st = NULL;
    char err[WR_ERR_MAX];
    if (wr_db_prepare(db, sql, &st, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", sql, err);
    }
    int i = 1;
    for (const char *t = types; *t; t++, i++) {
        if (*t == 'i') {
            wr_db_bind_int64(st, i, va_arg(ap, int64_t));
        } else {
            wr_db_bind_text(st, i, va_arg(ap, const char *), -1);
        }
    }
    return st;
}

/*
 * The rows of a query on the reader as text (owned): columns joined by '|', rows by ';', SQL
 * NULL as "-"; "" for no row.
 */
static char *q_rows(struct fixture *fx, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    struct wr_db_stmt *st = prep_v(fx->db, sql, types, ap);
    va_end(ap);
    struct wr_buf out = {0};
    int rc;
    for (int row = 0; (rc = wr_db_step(st)) == WR_DB_ROW; row++) {
        if (row > 0) {
            wr_buf_addc(&out, ';');
        }
        for (int c = 0; c < wr_db_column_count(st); c++) {
            if (c > 0) {
                wr_buf_addc(&out, '|');
            }
            wr_buf_add(&out, wr_db_column_is_null(st, c) ? "-" : wr_db_column_text(st, c));
        }
    }
    if (rc != WR_DB_DONE) {
        fail_msg("%s: %s", sql, wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return wr_buf_take(&out);
}

/* The first column of a query's one row, as an integer. */
static int64_t q_int(struct fixture *fx, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    struct wr_db_stmt *st = prep_v(fx->db, sql, types, ap);
    va_end(ap);
    if (wr_db_step(st) != WR_DB_ROW) {
        fail_msg("%s: no row (%s)", sql, wr_db_errmsg(st));
    }
    int64_t v = wr_db_column_int64(st, 0);
    wr_db_finalize(st);
    return v;
}

/* A write on the reader's connection (as the admin's small writes are). */
static void q_exec(struct fixture *fx, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    struct wr_db_stmt *st = prep_v(fx->db, sql, types, ap);
    va_end(ap);
    if (wr_db_step(st) != WR_DB_DONE) {
        fail_msg("%s: %s", sql, wr_db_errmsg(st));
    }
    wr_db_finalize(st);
}

/* Asserts that the rows of sql (with one text parameter, arg) read want. */
static void expect_rows(struct fixture *fx, const char *sql, const char *arg, const char *want)
{
    char *got = q_rows(fx, sql, "t", arg);
    assert_string_equal(got, want);
    free(got);
}

static void open_journal(struct fixture *fx, int64_t retention_ms)
{
    char err[WR_ERR_MAX];
    fx->j = wr_journal_open(fx->base, fx->state, retention_ms, err, sizeof(err));
    if (!fx->j) {
        fail_msg("%s", err);
    }
}

/* The journal closed and opened again with another retention window. */
static void reopen_journal(struct fixture *fx, int64_t retention_ms)
{
    wait_all(fx);
    wr_journal_close(fx->j);
    fx->j = NULL;
    open_journal(fx, retention_ms);
}

static struct wr_runstate *open_runstate(struct fixture *fx, int k)
{
    char err[WR_ERR_MAX];
    fx->rs[k] = wr_runstate_open(fx->state, err, sizeof(err));
    if (!fx->rs[k]) {
        fail_msg("%s", err);
    }
    return fx->rs[k];
}

/*
 * PostgreSQL: until a session of this database waits on a lock in a statement LIKE like (up to
 * 10 s). SQLite: 200 ms (nothing tells how far a writer got).
 */
static void wait_for_lock(struct fixture *fx, const char *like)
{
    if (!is_pg()) {
        usleep(200 * 1000);
        return;
    }
    (void)fx;
    wr_pgtest_wait_lock(pg_url, like);
}

/* The lock of hold_writer, taken on a connection of its own (fx->hold) until release_hold:
   SQLite's write lock, PostgreSQL's lock of the probe's row. */
static void lock_probe_row(struct fixture *fx)
{
    char err[WR_ERR_MAX];
    fx->hold = wr_journal_open_reader(fx->state, err, sizeof(err));
    if (!fx->hold) {
        fail_msg("%s", err);
    }
    if (wr_db_begin(fx->hold, true, err, sizeof(err)) != 0 ||
        wr_db_exec(fx->hold, "UPDATE journal_meta SET value = value WHERE name = 'probe'", err,
                   sizeof(err)) != 0) {
        fail_msg("holding the writer: %s", err);
    }
}

/*
 * Holds the journal's writer back, so that the batches submitted before release_hold share
 * one commit group: lock_probe_row, then a probe submitted behind it (probe: its outcome); the
 * writer, having taken the probe alone, waits on that lock.
 */
static void hold_writer(struct fixture *fx, struct outcome *probe)
{
    lock_probe_row(fx);
    memset(probe, 0, sizeof(*probe));
    probe->fx = fx;
    probe->rc = 1;
    fx->waiting++;
    assert_int_equal(wr_journal_probe(fx->j, on_done, probe), 0);
    /* until the writer took the probe (alone) and waits on the lock: otherwise the first batch
       submitted next could still join the probe's group */
    wait_for_lock(fx, "INSERT INTO journal_meta %");
}

/* Ends the transaction on fx->hold (hold_writer, lock_probe_row, a row locked) and closes it. */
static void release_hold(struct fixture *fx)
{
    wr_db_rollback(fx->hold);
    wr_journal_close_reader(fx->hold);
    fx->hold = NULL;
}

/* }====== */

/* {====== fixture ====== */

static int setup(void **state)
{
    struct fixture *fx = wr_xcalloc(1, sizeof(*fx));
    char err[WR_ERR_MAX];
    fx->base = event_base_new();
    assert_non_null(fx->base);
    if (is_pg()) {
        fx->state = wr_pgtest_fresh_schema(pg_url, PG_SCHEMA);
    } else {
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_store_conformance.XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        fx->state = wr_path_join(fx->dir, "state.db");
    }
    open_journal(fx, 0);
    fx->db = wr_journal_open_reader(fx->state, err, sizeof(err));
    if (!fx->db) {
        fail_msg("%s", err);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    /* A failed test may leave a lock held (released first: a writer may wait on it) and
       callbacks owed (closing drops them). */
    if (fx->hold) {
        release_hold(fx);
    }
    wr_journal_close(fx->j);
    wr_journal_close(fx->j2);
    wr_ingest_free(fx->in);
    wr_runstate_close(fx->rs[0]);
    wr_runstate_close(fx->rs[1]);
    wr_journal_close_reader(fx->db);
    event_base_free(fx->base);
    /* PostgreSQL: the schema stays for a look after a failure; the next test drops it */
    if (!is_pg()) {
        char *cmd = wr_xasprintf("rm -rf '%s'", fx->dir);
        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    free(fx->state);
    free(fx);
    return 0;
}

/* }====== */

/* {====== events, runs, keys ====== */

/* A batch's events are stored with their runs: every field as given, matched or not, a run
   with an error failed. */
static void test_events_stored_with_runs(void **state)
{
    struct fixture *fx = *state;
    char r[3][40], e[2][40];
    int64_t t0 = wr_clock_wall_ms();
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev =
        wr_journal_batch_add(b, "webhook /hooks/hr", "k-1", "{\"x-id\":\"1\"}",
                             "{\"user\":\"ada\",\"name\":\"Zoë\"}", RECEIVED);
    wr_journal_event_scope(ev, "webhook /hooks/hr (x-id)", NULL);
    add_run(ev, "onboard", NULL, r[0]);
    add_run(ev, "notify", "ada", r[1]);
    struct wr_journal_run *failed =
        wr_journal_batch_add_run(ev, "broken", "h3", NULL, "when: attempt to index a nil value");
    snprintf(r[2], sizeof(r[2]), "%s", failed->id);
    snprintf(e[0], sizeof(e[0]), "%s", ev->id);
    /* a body given by length (a request's raw text) is stored up to that length */
    ev = wr_journal_batch_add_len(b, "file /spool/hr/a.csv", NULL, NULL, "{\"row\":1}trailing", 9,
                                  RECEIVED + 1);
    snprintf(e[1], sizeof(e[1]), "%s", ev->id);

    struct outcome o;
    assert_int_equal(commit(fx, b, &o), 0);
    int64_t t1 = wr_clock_wall_ms();
    assert_int_equal(o.count, 2);
    assert_false(o.ev[0].duplicate);
    assert_false(o.ev[1].duplicate);
    assert_string_equal(o.ev[0].id, e[0]);

    expect_rows(fx,
                "SELECT source, idem_key, idem_scope, received_at, headers, body, status "
                "FROM events WHERE id = ?",
                e[0],
                "webhook /hooks/hr|k-1|webhook /hooks/hr (x-id)|1714572000123|{\"x-id\":\"1\"}|"
                "{\"user\":\"ada\",\"name\":\"Zoë\"}|matched");
    expect_rows(fx,
                "SELECT source, idem_key, idem_scope, received_at, headers, body, status "
                "FROM events WHERE id = ?",
                e[1], "file /spool/hr/a.csv|-|-|1714572000124|-|{\"row\":1}|unmatched");
    char *want =
        wr_xasprintf("%s|%s|onboard|h1|-|queued|-|-|0|0|-;%s|%s|notify|h1|ada|queued|-|-|0|0|-;"
                     "%s|%s|broken|h3|-|failed|-|when: attempt to index a nil value|0|0|-",
                     r[0], e[0], r[1], e[0], r[2], e[0]);
    expect_rows(fx,
                "SELECT id, event_id, workflow, workflow_hash, concurrency_key, status, next_at, "
                "error, crashes, guard_released, owner FROM runs WHERE event_id = ? ORDER BY rowid",
                e[0], want);
    free(want);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs", ""), 3);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events", ""), 2);
    int64_t created = q_int(fx, "SELECT created_at FROM runs WHERE id = ?", "t", r[0]);
    assert_true(created >= t0 && created <= t1);
    assert_int_equal(q_int(fx, "SELECT updated_at FROM runs WHERE id = ?", "t", r[0]), created);
}

/* A key seen within the window is a duplicate: in a later batch, and within one batch the
   second of two; nothing of a duplicate is stored. A key without a scope is scoped by its
   source. Events without a key are never duplicates. */
static void test_duplicate_keys(void **state)
{
    struct fixture *fx = *state;
    char run[40], dup_run[40], first[40];
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev = add_event(b, "webhook /hooks/hr", "k", "webhook /hooks/hr (id)");
    add_run(ev, "onboard", NULL, run);
    snprintf(first, sizeof(first), "%s", ev->id);
    commit_ok(fx, b);

    /* a later batch: the same key in the same scope */
    b = wr_journal_batch_new();
    ev = add_event(b, "webhook /hooks/hr", "k", "webhook /hooks/hr (id)");
    add_run(ev, "onboard", NULL, dup_run);
    char dup_ev[40];
    snprintf(dup_ev, sizeof(dup_ev), "%s", ev->id);
    struct outcome o;
    assert_int_equal(commit(fx, b, &o), 0);
    assert_true(o.ev[0].duplicate);
    assert_string_equal(o.ev[0].original_id, first);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE id = ?", "t", dup_ev), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs WHERE id = ?", "t", dup_run), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs WHERE event_id = ?", "t", dup_ev), 0);

    /* no scope: the source is the scope, here the same text as the first event's scope */
    b = wr_journal_batch_new();
    add_event(b, "webhook /hooks/hr (id)", "k", NULL);
    assert_int_equal(commit(fx, b, &o), 0);
    assert_true(o.ev[0].duplicate);
    assert_string_equal(o.ev[0].original_id, first);

    /* within one batch: the second of two equal keys; keyless events twice */
    b = wr_journal_batch_new();
    ev = add_event(b, "manual onboard", "pair", NULL);
    add_run(ev, "onboard", NULL, run);
    ev = add_event(b, "manual onboard", "pair", NULL);
    add_run(ev, "onboard", NULL, dup_run);
    add_event(b, "manual onboard", NULL, NULL);
    add_event(b, "manual onboard", NULL, NULL);
    assert_int_equal(commit(fx, b, &o), 0);
    assert_int_equal(o.count, 4);
    assert_false(o.ev[0].duplicate);
    assert_true(o.ev[1].duplicate);
    assert_string_equal(o.ev[1].original_id, o.ev[0].id);
    assert_false(o.ev[2].duplicate);
    assert_false(o.ev[3].duplicate);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE id = ?", "t", o.ev[1].id), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs WHERE id = ?", "t", dup_run), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs WHERE id = ?", "t", run), 1);
    expect_rows(fx, "SELECT idem_scope, status FROM events WHERE idem_key = ?", "pair",
                "manual onboard|matched");
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events", ""), 4);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs", ""), 2);
}

/* The same key in another scope is another event. */
static void test_key_in_another_scope(void **state)
{
    struct fixture *fx = *state;
    struct wr_journal_batch *b = wr_journal_batch_new();
    add_event(b, "webhook /hooks/a", "k", "webhook /hooks/a (id)");
    commit_ok(fx, b);

    b = wr_journal_batch_new();
    add_event(b, "webhook /hooks/b", "k", "webhook /hooks/b (id)");
    add_event(b, "file /spool/hr", "k", NULL);
    /* a legacy scope is looked up only in a journal migrated from schema 2 with keys still in
       the window: a fresh store, on either back end, has none */
    struct wr_journal_event *ev = add_event(b, "webhook /hooks/a", "k", NULL);
    wr_journal_event_scope(ev, "webhook /hooks/a (other)", "webhook /hooks/a (id)");
    struct outcome o;
    assert_int_equal(commit(fx, b, &o), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_false(o.ev[i].duplicate);
    }
    char *got = q_rows(fx, "SELECT idem_scope FROM events WHERE idem_key = ? ORDER BY idem_scope",
                       "t", "k");
    assert_string_equal(got, "file /spool/hr;webhook /hooks/a (id);webhook /hooks/a (other);"
                             "webhook /hooks/b (id)");
    free(got);
}

/* A key older than the window (by its event's time) is stored again; the old event keeps its
   history (its row and runs), not its key. The window is the journal's retention_ms. */
static void test_key_outside_the_window(void **state)
{
    struct fixture *fx = *state;
    reopen_journal(fx, 5000);
    char old_run[40], old_ev[40];
    int64_t now = wr_clock_wall_ms();
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev =
        wr_journal_batch_add(b, "schedule nightly", "slot-1", NULL, "{}", now - 60000);
    add_run(ev, "nightly", NULL, old_run);
    snprintf(old_ev, sizeof(old_ev), "%s", ev->id);
    commit_ok(fx, b);

    b = wr_journal_batch_new();
    wr_journal_batch_add(b, "schedule nightly", "slot-1", NULL, "{}", wr_clock_wall_ms());
    struct outcome o;
    assert_int_equal(commit(fx, b, &o), 0);
    assert_false(o.ev[0].duplicate);
    char second[40];
    snprintf(second, sizeof(second), "%s", o.ev[0].id);
    expect_rows(fx, "SELECT idem_key, idem_scope, status FROM events WHERE id = ?", old_ev,
                "-|-|matched");
    expect_rows(fx, "SELECT idem_key, idem_scope, status FROM events WHERE id = ?", second,
                "slot-1|schedule nightly|unmatched");
    char *want = wr_xasprintf("%s|queued", old_ev);
    expect_rows(fx, "SELECT event_id, status FROM runs WHERE id = ?", old_run, want);
    free(want);

    /* the new one is within the window: a duplicate of it */
    b = wr_journal_batch_new();
    wr_journal_batch_add(b, "schedule nightly", "slot-1", NULL, "{}", wr_clock_wall_ms());
    assert_int_equal(commit(fx, b, &o), 0);
    assert_true(o.ev[0].duplicate);
    assert_string_equal(o.ev[0].original_id, second);

    /* the stored row's time set back past the window (an admin's write on a reader) */
    q_exec(fx, "UPDATE events SET received_at = received_at - 10000 WHERE id = ?", "t", second);
    b = wr_journal_batch_new();
    wr_journal_batch_add(b, "schedule nightly", "slot-1", NULL, "{}", wr_clock_wall_ms());
    assert_int_equal(commit(fx, b, &o), 0);
    assert_false(o.ev[0].duplicate);
    expect_rows(fx, "SELECT idem_key FROM events WHERE id = ?", second, "-");
    expect_rows(fx, "SELECT idem_key FROM events WHERE id = ?", o.ev[0].id, "slot-1");
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events", ""), 3);
}

/* The window by the clock: a key stored now is forgotten once retention_ms has passed. */
static void test_key_past_a_short_window(void **state)
{
    struct fixture *fx = *state;
    reopen_journal(fx, 50);
    struct wr_journal_batch *b = wr_journal_batch_new();
    wr_journal_batch_add(b, "manual onboard", "once", NULL, "{}", wr_clock_wall_ms());
    struct outcome o;
    assert_int_equal(commit(fx, b, &o), 0);
    char first[40];
    snprintf(first, sizeof(first), "%s", o.ev[0].id);
    usleep(150 * 1000);
    b = wr_journal_batch_new();
    wr_journal_batch_add(b, "manual onboard", "once", NULL, "{}", wr_clock_wall_ms());
    assert_int_equal(commit(fx, b, &o), 0);
    assert_false(o.ev[0].duplicate);
    expect_rows(fx, "SELECT idem_key FROM events WHERE id = ?", first, "-");
    expect_rows(fx, "SELECT idem_key FROM events WHERE id = ?", o.ev[0].id, "once");
}

/*
 * Two instances (two journals on one store) storing the same key at once: one event is stored,
 * the other is a duplicate of it. The first one's batch is held in its transaction by an
 * operation waiting on the probe row's lock (PostgreSQL: after its event's insert; SQLite:
 * before anything, as both wait for the write lock). PostgreSQL: the second, not seeing the
 * uncommitted key, waits on the unique index and then finds the key the first one stored.
 */
static void test_key_stored_by_another_instance(void **state)
{
    struct fixture *fx = *state;
    char err[WR_ERR_MAX];
    fx->j2 = wr_journal_open(fx->base, fx->state, 0, err, sizeof(err));
    if (!fx->j2) {
        fail_msg("%s", err);
    }
    struct outcome o[2];
    lock_probe_row(fx);
    struct wr_journal_batch *b = wr_journal_batch_new();
    add_event(b, "webhook /hooks/hr", "both", NULL);
    wr_journal_batch_add_op(b, "UPDATE journal_meta SET value = value WHERE name = 'probe'", "");
    submit_to(fx, fx->j, b, &o[0]);
    wait_for_lock(fx, "UPDATE journal_meta %");
    b = wr_journal_batch_new();
    add_event(b, "webhook /hooks/hr", "both", NULL);
    submit_to(fx, fx->j2, b, &o[1]);
    wait_for_lock(fx, "INSERT INTO events %ON CONFLICT%");
    release_hold(fx);
    wait_all(fx);
    assert_int_equal(wr_journal_pending(fx->j2), 0);
    assert_int_equal(o[0].rc, 0);
    assert_int_equal(o[1].rc, 0);
    /* which one stores it is the back end's choice (SQLite: whichever gets the lock first) */
    assert_true(o[0].ev[0].duplicate != o[1].ev[0].duplicate);
    int stored = o[0].ev[0].duplicate ? 1 : 0;
    if (is_pg()) {
        assert_int_equal(stored, 0); /* its insert came first; the other waited on it */
    }
    assert_string_equal(o[1 - stored].ev[0].original_id, o[stored].ev[0].id);
    expect_rows(fx, "SELECT id FROM events WHERE idem_key = ?", "both", o[stored].ev[0].id);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events", ""), 1);
}

/* }====== */

/* {====== operations, groups, probe, health ====== */

/* A batch's operations run after its events, in order, in its transaction: they may use the
   runs the batch creates, and each sees the one before. */
static void test_ops_in_order(void **state)
{
    struct fixture *fx = *state;
    char run[40];
    struct wr_journal_batch *b = wr_journal_batch_new();
    add_run(add_event(b, "manual onboard", NULL, NULL), "onboard", NULL, run);
    wr_journal_batch_add_op(b,
                            "INSERT INTO trigger_state (scope, name, value, updated_at) "
                            "VALUES (?, ?, ?, ?)",
                            "ttti", "ops", "seq", "1", (int64_t)1);
    /* the same text twice in a row (kept once in the batch), then a third */
    wr_journal_batch_add_op(b,
                            "UPDATE trigger_state SET value = value || ? WHERE scope = ? AND "
                            "name = ?",
                            "ttt", "2", "ops", "seq");
    wr_journal_batch_add_op(b,
                            "UPDATE trigger_state SET value = value || ? WHERE scope = ? AND "
                            "name = ?",
                            "ttt", "3", "ops", "seq");
    /* a '?' in a literal or a comment is no parameter; ?NNN numbers them as SQLite does */
    wr_journal_batch_add_op(b,
                            "UPDATE trigger_state SET value = value || '?' || ?2 || ?1 /* why? */ "
                            "WHERE scope = ?3 AND name = 'seq' -- ?4",
                            "ttt", "b", "a", "ops");
    wr_journal_batch_add_op(b, "UPDATE trigger_state SET updated_at = ? WHERE scope = ?", "it",
                            (int64_t)4611686018427387904LL, "ops"); /* 2^62: int64 exactly */
    wr_runstate_set_step(b, run, 0, "look", "running", 1, 1000, -1, "{\"user\":\"ada\"}", NULL,
                         NULL, 0);
    /* another batch's operations, moved: after this one's own */
    struct wr_journal_batch *src = wr_journal_batch_new();
    wr_runstate_set_run(src, run, "running", 0, NULL, 5);
    wr_journal_batch_add_op(src, "UPDATE trigger_state SET value = value || '!' WHERE scope = ?",
                            "t", "ops");
    wr_journal_batch_move_ops(b, src);
    assert_int_equal(src->nops, 0);
    wr_journal_batch_free(src);
    commit_ok(fx, b);
    expect_rows(fx, "SELECT value, updated_at FROM trigger_state WHERE scope = ?", "ops",
                "123?ab!|4611686018427387904");
    expect_rows(fx,
                "SELECT step_id, status, attempts, started_at, args FROM steps WHERE run_id = ?",
                run, "look|running|1|1000|{\"user\":\"ada\"}");
    expect_rows(fx, "SELECT status, updated_at FROM runs WHERE id = ?", run, "running|5");
}

/*
 * More distinct statements than the writer keeps prepared (32): the others are prepared for one
 * use, in a batch that succeeds and in one that fails alone, and again in the next batch.
 */
static void test_many_distinct_ops(void **state)
{
    struct fixture *fx = *state;
    for (int round = 0; round < 2; round++) {
        struct wr_journal_batch *b = wr_journal_batch_new();
        for (int i = 0; i < 40; i++) {
            char *sql = wr_xasprintf("INSERT INTO trigger_state (scope, name, value, updated_at) "
                                     "VALUES ('many', 'n%02d', ?, 0) ON CONFLICT (scope, name) DO "
                                     "UPDATE SET value = excluded.value",
                                     i);
            wr_journal_batch_add_op(b, sql, "t", round ? "second" : "first");
            free(sql);
        }
        commit_ok(fx, b);
        char *want = wr_xasprintf("40|%s", round ? "second" : "first");
        expect_rows(fx, "SELECT count(*), min(value) FROM trigger_state WHERE scope = ?", "many",
                    want);
        free(want);
        /* the last one-use statement refused (the value NULL): that batch alone fails */
        b = wr_journal_batch_new();
        for (int i = 0; i < 40; i++) {
            char *sql = wr_xasprintf("UPDATE trigger_state SET value = ? WHERE scope = 'many' AND "
                                     "name = 'n%02d'",
                                     i);
            wr_journal_batch_add_op(b, sql, "t", i == 39 ? NULL : "lost");
            free(sql);
        }
        struct outcome o;
        assert_true(commit(fx, b, &o) < 0);
        expect_rows(fx, "SELECT count(*) FROM trigger_state WHERE value = ?", "lost", "0");
    }
    struct wr_journal_health h;
    wr_journal_get_health(fx->j, &h);
    assert_true(h.ok);
}

/*
 * Batches committed in one group: one whose operation violates a constraint (a run's primary
 * key again) and one whose statement is refused each fail alone, nothing of them stored, while
 * the others commit; a key of a failed batch is no key at all for the batches after it, and a
 * key stored by an earlier batch of the group makes a later one a duplicate. The journal stays
 * healthy: a batch's own error is no storage failure.
 */
static void test_failing_batch_fails_alone(void **state)
{
    struct fixture *fx = *state;
    char existing[40];
    struct wr_journal_batch *b = wr_journal_batch_new();
    add_run(add_event(b, "manual onboard", NULL, NULL), "onboard", NULL, existing);
    commit_ok(fx, b);
    struct wr_journal_stats before;
    wr_journal_get_stats(fx->j, &before);

    struct outcome probe, o[4];
    char runs[4][40];
    hold_writer(fx, &probe);
    /* A: its event, run and a trigger_state row, then a run's primary key again */
    b = wr_journal_batch_new();
    add_run(add_event(b, "webhook /hooks/g", "g", NULL), "onboard", NULL, runs[0]);
    wr_journal_batch_add_op(b,
                            "INSERT INTO trigger_state (scope, name, value, updated_at) "
                            "VALUES ('grp', 'a', 'x', 1)",
                            "");
    wr_journal_batch_add_op(b,
                            "INSERT INTO runs (id, event_id, workflow, workflow_hash, created_at, "
                            "updated_at) SELECT id, event_id, workflow, workflow_hash, 0, 0 FROM "
                            "runs WHERE id = ?",
                            "t", existing);
    submit(fx, b, &o[0]);
    /* B: the same key as A's (A's is rolled back: not a duplicate) */
    b = wr_journal_batch_new();
    add_run(add_event(b, "webhook /hooks/g", "g", NULL), "onboard", NULL, runs[1]);
    wr_journal_batch_add_op(b,
                            "INSERT INTO trigger_state (scope, name, value, updated_at) "
                            "VALUES ('grp', 'b', 'y', 1)",
                            "");
    submit(fx, b, &o[1]);
    /* C: a statement the store refuses */
    b = wr_journal_batch_new();
    add_run(add_event(b, "manual onboard", NULL, NULL), "onboard", NULL, runs[2]);
    wr_journal_batch_add_op(b, "UPDATE no_such_table SET x = 1", "");
    submit(fx, b, &o[2]);
    /* D: B's key again: a duplicate of B's event, committed in this group before it */
    b = wr_journal_batch_new();
    add_run(add_event(b, "webhook /hooks/g", "g", NULL), "onboard", NULL, runs[3]);
    wr_journal_batch_add_op(b,
                            "INSERT INTO trigger_state (scope, name, value, updated_at) "
                            "VALUES ('grp', 'd', 'z', 1)",
                            "");
    submit(fx, b, &o[3]);
    release_hold(fx);
    wait_all(fx);

    struct wr_journal_stats after;
    wr_journal_get_stats(fx->j, &after);
    /* the probe's group, then A to D in one */
    assert_int_equal(after.commits - before.commits, 2);
    assert_true(after.max_group >= 4);
    assert_int_equal(probe.rc, 0);

    assert_true(o[0].rc < 0);
    assert_non_null(strstr(o[0].error, "journal: "));
    assert_int_equal(o[1].rc, 0);
    assert_false(o[1].ev[0].duplicate);
    assert_true(o[2].rc < 0);
    assert_non_null(strstr(o[2].error, "journal: "));
    assert_int_equal(o[3].rc, 0);
    assert_true(o[3].ev[0].duplicate);
    assert_string_equal(o[3].ev[0].original_id, o[1].ev[0].id);

    /* nothing of A or C; B whole; of D its operation only (its event was a duplicate) */
    for (int k = 0; k < 3; k += 2) {
        assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE id = ?", "t", o[k].ev[0].id),
                         0);
        assert_int_equal(q_int(fx, "SELECT count(*) FROM runs WHERE id = ?", "t", runs[k]), 0);
    }
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs WHERE id = ?", "t", runs[1]), 1);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs WHERE id = ?", "t", runs[3]), 0);
    expect_rows(fx, "SELECT id FROM events WHERE idem_key = ?", "g", o[1].ev[0].id);
    expect_rows(fx, "SELECT name, value FROM trigger_state WHERE scope = ? ORDER BY name", "grp",
                "b|y;d|z");
    assert_int_equal(q_int(fx, "SELECT count(*) FROM runs", ""), 2);

    struct wr_journal_health h;
    wr_journal_get_health(fx->j, &h);
    assert_true(h.ok);
    assert_int_equal(h.failed_commits, 0);
    assert_true(wr_journal_ok(fx->j));

    /* the refused statement again, alone: refused again; a good batch after it commits */
    b = wr_journal_batch_new();
    wr_journal_batch_add_op(b, "UPDATE no_such_table SET x = 1", "");
    assert_true(commit(fx, b, &o[0]) < 0);
    b = wr_journal_batch_new();
    wr_journal_batch_add_op(b, "UPDATE trigger_state SET value = 'w' WHERE scope = ? AND name = ?",
                            "tt", "grp", "b");
    commit_ok(fx, b);
    expect_rows(fx, "SELECT value FROM trigger_state WHERE scope = ? AND name = 'b'", "grp", "w");
}

/*
 * A big batch (a file's chunk: many events, no operation) and a small one in one group, sharing
 * a key: the big one stored whole but for that key, which one of the two stores; the other is
 * its duplicate. (SQLite commits the small batches of a group first, on their own; PostgreSQL in
 * order: which one is the original is the back end's.)
 */
static void test_big_and_small_batch(void **state)
{
    struct fixture *fx = *state;
    struct outcome probe, big, small;
    hold_writer(fx, &probe);
    struct wr_journal_batch *b = wr_journal_batch_new();
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof(key), "row-%d", i);
        wr_journal_batch_add(b, "file /spool/big.csv", i == 7 ? "shared" : key, NULL, "{}",
                             wr_clock_wall_ms());
    }
    submit(fx, b, &big);
    b = wr_journal_batch_new();
    add_event(b, "file /spool/big.csv", "shared", NULL);
    submit(fx, b, &small);
    release_hold(fx);
    wait_all(fx);
    assert_int_equal(probe.rc, 0);
    assert_int_equal(big.rc, 0);
    assert_int_equal(small.rc, 0);
    assert_int_equal(big.count, 40);
    for (int i = 0; i < 8; i++) {
        assert_true(i == 7 || !big.ev[i].duplicate);
    }
    assert_true(big.ev[7].duplicate != small.ev[0].duplicate);
    const char *original = big.ev[7].duplicate ? small.ev[0].id : big.ev[7].id;
    assert_string_equal(big.ev[7].duplicate ? big.ev[7].original_id : small.ev[0].original_id,
                        original);
    expect_rows(fx, "SELECT id FROM events WHERE idem_key = ?", "shared", original);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events", ""), 40);
}

/* The probe is a commit (its row rewritten); the health says ok. */
static void test_probe_and_health(void **state)
{
    struct fixture *fx = *state;
    struct wr_journal_health h;
    wr_journal_get_health(fx->j, &h);
    assert_true(h.ok);
    assert_true(h.checked_at > 0);
    int64_t t0 = wr_clock_wall_ms();
    struct outcome o;
    memset(&o, 0, sizeof(o));
    o.fx = fx;
    o.rc = 1;
    fx->waiting++;
    assert_int_equal(wr_journal_probe(fx->j, on_done, &o), 0);
    wait_all(fx);
    int64_t t1 = wr_clock_wall_ms();
    assert_true(o.called);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.error, "");
    int64_t at = q_int(fx, "SELECT value FROM journal_meta WHERE name = 'probe'", "");
    assert_true(at >= t0 && at <= t1);
    wr_journal_get_health(fx->j, &h);
    assert_true(h.ok);
    assert_string_equal(h.error, "");
    assert_int_equal(h.failed_commits, 0);
    assert_true(h.checked_at >= t0 && h.checked_at <= t1 + 1);
    assert_true(h.checked_mono > 0);
    assert_true(wr_journal_ok(fx->j));
    char err[WR_ERR_MAX] = "";
    assert_true(wr_journal_intact(fx->j, err, sizeof(err)));
    struct wr_journal_stats st;
    wr_journal_get_stats(fx->j, &st);
    assert_true(st.commits >= 1);
    assert_true(st.commit_le[7] == st.commits);
}

/* }====== */

/* {====== runstate ====== */

/* The names of due runs ("r1 r2* r4", * keyed) after the ids in ids; frees v. */
static char *due_names(struct wr_runstate_due *v, size_t n, char ids[][40], size_t nids)
{
    struct wr_buf out = {0};
    int64_t last = -1;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < nids && strcmp(ids[k], v[i].id) != 0) {
            k++;
        }
        wr_buf_addf(&out, "%sr%zu%s", i ? " " : "", k + 1, v[i].keyed ? "*" : "");
        assert_true(v[i].rowid > last); /* in rowid order */
        last = v[i].rowid;
        assert_string_equal(v[i].workflow, "onboard");
        assert_non_null(v[i].event_id);
        free(v[i].id);
        free(v[i].workflow);
        free(v[i].event_id);
    }
    free(v);
    return wr_buf_take(&out);
}

static void expect_due_open(struct wr_runstate *s, const char *status, int limit, int64_t after,
                            char ids[][40], size_t nids, const char *want)
{
    struct wr_runstate_due *v = NULL;
    size_t n = 0, cap = 0;
    wr_runstate_due_open(s, status, limit, after, &v, &n, &cap);
    char *got = due_names(v, n, ids, nids);
    assert_string_equal(got, want);
    free(got);
}

static void expect_due_deferred(struct wr_runstate *s, int64_t now, char ids[][40], size_t nids,
                                const char *want)
{
    struct wr_runstate_due *v = NULL;
    size_t n = 0, cap = 0;
    wr_runstate_due_deferred(s, now, 100, &v, &n, &cap);
    char *got = due_names(v, n, ids, nids);
    assert_string_equal(got, want);
    free(got);
}

/* Queued runs in insertion order, a keyed run behind an earlier open run of its key, limit and
   cursor; deferred runs once their next_at has come; an event's body. */
static void test_runstate_due(void **state)
{
    struct fixture *fx = *state;
    char r[6][40];
    static const char *const keys[] = {NULL, "u1", "u1", "u2", NULL};
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev =
        wr_journal_batch_add(b, "manual onboard", NULL, NULL, "{\"user\":\"ada\"}", RECEIVED);
    for (int i = 0; i < 5; i++) {
        add_run(ev, "onboard", keys[i], r[i]);
    }
    char event_id[40];
    snprintf(event_id, sizeof(event_id), "%s", ev->id);
    commit_ok(fx, b);
    struct wr_runstate *s = open_runstate(fx, 0);

    expect_due_open(s, "queued", 100, 0, r, 5, "r1 r2* r4* r5");
    expect_due_open(s, "queued", 2, 0, r, 5, "r1 r2*");
    int64_t after = q_int(fx, "SELECT rowid FROM runs WHERE id = ?", "t", r[1]);
    expect_due_open(s, "queued", 100, after, r, 5, "r4* r5");
    expect_due_open(s, "retrying", 100, 0, r, 5, "");

    /* r2 done: r3 is next of its key */
    int64_t now = wr_clock_wall_ms();
    b = wr_journal_batch_new();
    wr_runstate_set_run(b, r[1], "done", 0, NULL, now);
    commit_ok(fx, b);
    expect_due_open(s, "queued", 100, 0, r, 5, "r1 r3* r4* r5");

    /* r1 and r3 deferred; r6 of r3's key waits behind it while it is open */
    b = wr_journal_batch_new();
    wr_runstate_set_run(b, r[0], "retrying", now + 10000, "HTTP 503", now);
    wr_runstate_set_run(b, r[2], "waiting", now + 20000, NULL, now + 1);
    commit_ok(fx, b);
    b = wr_journal_batch_new();
    add_run(add_event(b, "manual onboard", NULL, NULL), "onboard", "u1", r[5]);
    commit_ok(fx, b);
    char *want =
        wr_xasprintf("retrying|%lld|HTTP 503|%lld", (long long)(now + 10000), (long long)now);
    expect_rows(fx, "SELECT status, next_at, error, updated_at FROM runs WHERE id = ?", r[0], want);
    free(want);
    expect_due_open(s, "queued", 100, 0, r, 6, "r4* r5");
    expect_due_open(s, "retrying", 100, 0, r, 6, "");
    expect_due_deferred(s, now + 9999, r, 6, "");
    expect_due_deferred(s, now + 10000, r, 6, "r1");
    expect_due_deferred(s, now + 20000, r, 6, "r1 r3*");

    /* r3 finished: r6 may go */
    b = wr_journal_batch_new();
    wr_runstate_set_run(b, r[2], "done", 0, NULL, now + 2);
    commit_ok(fx, b);
    expect_due_open(s, "queued", 100, 0, r, 6, "r4* r5 r6*");
    expect_due_deferred(s, now + 20000, r, 6, "r1");

    const char *body = NULL;
    assert_true(wr_runstate_body_begin(s, event_id, &body));
    assert_string_equal(body, "{\"user\":\"ada\"}");
    wr_runstate_body_end(s);
    assert_false(wr_runstate_body_begin(s, "ev_nope", &body));
    wr_runstate_body_end(s);
}

struct steps_seen {
    int n;
    char rows[8][256];
};

static void on_step(void *arg, const struct wr_runstate_step *row)
{
    struct steps_seen *s = arg;
    if (s->n < 8) {
        snprintf(s->rows[s->n], sizeof(s->rows[s->n]), "%lld|%s|%s|%d|%s|%lld|%s|%lld",
                 (long long)row->idx, row->step_id ? row->step_id : "-", row->status, row->attempts,
                 row->output ? row->output : "-", (long long)row->started_at,
                 row->error ? row->error : "-", (long long)row->throttled_since);
    }
    s->n++;
}

/* A run's steps read back as the executor left them (all into one string, rows by ';'). */
static char *steps_of(struct wr_runstate *s, const char *run)
{
    struct steps_seen seen = {0};
    wr_runstate_each_step(s, run, on_step, &seen);
    assert_true(seen.n <= 8);
    struct wr_buf out = {0};
    for (int i = 0; i < seen.n; i++) {
        wr_buf_addf(&out, "%s%s", i ? ";" : "", seen.rows[i]);
    }
    return wr_buf_take(&out);
}

/* set_step inserts, then updates (a NULL started_at or args keeps the stored one); each_step
   reads the rows back in idx order, on_error steps last. */
static void test_runstate_steps(void **state)
{
    struct fixture *fx = *state;
    char run[40];
    struct wr_journal_batch *b = wr_journal_batch_new();
    add_run(add_event(b, "manual onboard", NULL, NULL), "onboard", NULL, run);
    commit_ok(fx, b);
    struct wr_runstate *s = open_runstate(fx, 0);

    b = wr_journal_batch_new();
    wr_runstate_set_step(b, run, WR_ON_ERROR_BASE + 0, NULL, "pending", 0, -1, -1, NULL, NULL, NULL,
                         0);
    wr_runstate_set_step(b, run, 0, "look", "running", 1, 1000, -1, "{\"q\":1}", NULL, NULL, 0);
    wr_runstate_set_step(b, run, 1, "disable", "retrying", 2, 1500, -1, "{}", NULL, "Graph 429",
                         1600);
    commit_ok(fx, b);
    char *got = steps_of(s, run);
    assert_string_equal(got, "0|look|running|1|-|1000|-|0;"
                             "1|disable|retrying|2|-|1500|Graph 429|1600;"
                             "1000|-|pending|0|-|0|-|0");
    free(got);

    b = wr_journal_batch_new();
    wr_runstate_set_step(b, run, 0, "look", "done", 2, -1, 2000, NULL, "{\"id\":7}", NULL, 0);
    wr_runstate_set_step(b, run, 1, "disable", "failed", 3, 1700, 1800, NULL, NULL, "denied", 0);
    commit_ok(fx, b);
    got = steps_of(s, run);
    assert_string_equal(got, "0|look|done|2|{\"id\":7}|1000|-|0;"
                             "1|disable|failed|3|-|1700|denied|0;"
                             "1000|-|pending|0|-|0|-|0");
    free(got);
    expect_rows(fx, "SELECT args, finished_at FROM steps WHERE run_id = ? ORDER BY idx", run,
                "{\"q\":1}|2000;{}|1800;-|-");
    got = steps_of(s, "run_nope");
    assert_string_equal(got, "");
    free(got);
}

static void collect_id(void *arg, const char *id)
{
    struct wr_buf *out = arg;
    wr_buf_addf(out, "%s%s", out->len ? " " : "", id);
}

/* A concurrency key past WR_CONCURRENCY_KEY_MAX (a rendered template gone wild) is stored as
   its digest — PostgreSQL's index would refuse the key itself (entries of 2704 bytes at most)
   — and equal keys still match: the due order and cancel-runs find the runs by the key. */
static void test_long_concurrency_key(void **state)
{
    struct fixture *fx = *state;
    struct wr_buf key = {0};
    for (int i = 0; i < 100000; i++) {
        wr_buf_addc(&key, (char)('a' + i % 26));
    }
    char r[2][40];
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev = add_event(b, "manual onboard", NULL, NULL);
    add_run(ev, "onboard", wr_buf_str(&key), r[0]);
    add_run(ev, "onboard", wr_buf_str(&key), r[1]);
    commit_ok(fx, b);
    char *stored = wr_journal_stored_key(wr_buf_str(&key));
    assert_true(strncmp(stored, "sha256:", 7) == 0);
    assert_non_null(strstr(stored, "(a key of 100000 bytes)"));
    char *want = wr_xasprintf("%s;%s", stored, stored);
    expect_rows(fx, "SELECT concurrency_key FROM runs WHERE workflow = ? ORDER BY rowid", "onboard",
                want);
    free(want);
    char *short_key = wr_journal_stored_key("u1");
    assert_string_equal(short_key, "u1");
    free(short_key);
    struct wr_runstate *s = open_runstate(fx, 0);
    char err[WR_ERR_MAX];
    struct wr_buf ids = {0};
    assert_int_equal(wr_runstate_cancellable(s, "onboard", wr_buf_str(&key), NULL, collect_id, &ids,
                                             err, sizeof(err)),
                     2);
    wr_buf_free(&ids);
    /* the second waits for the first: one key */
    struct wr_runstate_due *v = NULL;
    size_t n = 0, cap = 0;
    wr_runstate_due_open(s, "queued", 10, 0, &v, &n, &cap);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].id, r[0]);
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].workflow);
        free(v[i].event_id);
    }
    free(v);
    free(stored);
    wr_buf_free(&key);
}

static void collect_guard(void *arg, const char *user, const char *run_id, int64_t at)
{
    struct wr_buf *out = arg;
    (void)run_id;
    wr_buf_addf(out, "%s%s@%lld", out->len ? " " : "", user, (long long)at);
}

/* The cancel flag (and what a cancellation takes), the crash count (never below 0), the held
   count, the guard's window. */
static void test_runstate_flags(void **state)
{
    struct fixture *fx = *state;
    char r[3][40];
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev = add_event(b, "manual onboard", NULL, NULL);
    add_run(ev, "onboard", NULL, r[0]);
    add_run(ev, "onboard", "u1", r[1]);
    add_run(ev, "onboard", "u1", r[2]);
    commit_ok(fx, b);
    struct wr_runstate *s = open_runstate(fx, 0);
    int64_t now = wr_clock_wall_ms();
    char err[WR_ERR_MAX];

    assert_false(wr_runstate_cancelled(s, r[0]));
    assert_false(wr_runstate_cancelled(s, "run_nope"));
    struct wr_buf ids = {0};
    assert_int_equal(
        wr_runstate_cancellable(s, "onboard", "u1", NULL, collect_id, &ids, err, sizeof(err)), 2);
    char *want = wr_xasprintf("%s %s", r[1], r[2]);
    assert_string_equal(wr_buf_str(&ids), want);
    free(want);
    wr_buf_free(&ids);
    assert_int_equal(
        wr_runstate_cancellable(s, "onboard", "u1", r[1], collect_id, &ids, err, sizeof(err)), 1);
    assert_string_equal(wr_buf_str(&ids), r[2]);
    wr_buf_free(&ids);

    /* r2 cancelled; r3 running first, so its cancellation leaves it; set_run leaves r2 */
    b = wr_journal_batch_new();
    wr_runstate_cancel_run(b, r[1], "cancelled by cancel-runs", now);
    wr_runstate_set_run(b, r[2], "running", 0, NULL, now);
    wr_runstate_cancel_run(b, r[2], "cancelled by cancel-runs", now);
    wr_runstate_set_run(b, r[1], "running", 0, NULL, now + 1);
    commit_ok(fx, b);
    assert_true(wr_runstate_cancelled(s, r[1]));
    assert_false(wr_runstate_cancelled(s, r[2]));
    want = wr_xasprintf("cancelled|cancelled by cancel-runs|%lld", (long long)now);
    expect_rows(fx, "SELECT status, error, updated_at FROM runs WHERE id = ?", r[1], want);
    free(want);
    expect_rows(fx, "SELECT status FROM runs WHERE id = ?", r[2], "running");
    assert_int_equal(
        wr_runstate_cancellable(s, "onboard", "u1", NULL, collect_id, &ids, err, sizeof(err)), 0);
    wr_buf_free(&ids);

    /* crashes */
    assert_int_equal(wr_runstate_crashes(s, r[0]), 0);
    assert_int_equal(wr_runstate_crashes(s, "run_nope"), 0);
    b = wr_journal_batch_new();
    wr_runstate_set_crashes(b, r[0], 2);
    commit_ok(fx, b);
    assert_int_equal(wr_runstate_crashes(s, r[0]), 2);
    b = wr_journal_batch_new();
    wr_runstate_uncount_crash(b, r[0]);
    commit_ok(fx, b);
    assert_int_equal(wr_runstate_crashes(s, r[0]), 1);
    b = wr_journal_batch_new();
    wr_runstate_uncount_crash(b, r[0]);
    wr_runstate_uncount_crash(b, r[0]);
    wr_runstate_uncount_crash(b, r[2]);
    commit_ok(fx, b);
    assert_int_equal(wr_runstate_crashes(s, r[0]), 0);
    assert_int_equal(wr_runstate_crashes(s, r[2]), 0);
    b = wr_journal_batch_new();
    wr_runstate_set_crashes(b, r[2], 3);
    wr_runstate_set_crashes(b, r[0], 5);
    wr_runstate_reset_crashes(b, r[0]);
    commit_ok(fx, b);
    assert_int_equal(wr_runstate_crashes(s, r[0]), 0);
    assert_int_equal(wr_runstate_crashes(s, r[2]), 3);

    /* held, the guard's window ("user" is a keyword of PostgreSQL's) */
    assert_int_equal(wr_runstate_held_count(s), 0);
    assert_false(wr_runstate_guard_released(s, r[0]));
    b = wr_journal_batch_new();
    wr_runstate_set_run(b, r[0], "held", 0, "guard: 10 users in 1h", now);
    wr_runstate_guard_note(b, "ada", r[0], 1000, 0);
    wr_runstate_guard_note(b, "bob", r[0], 2000, 0);
    wr_runstate_guard_note(b, "eve", r[2], 500, 0);
    wr_runstate_guard_note(b, "ada", r[0], 3000, 600); /* drops eve's */
    commit_ok(fx, b);
    assert_int_equal(wr_runstate_held_count(s), 1);
    struct wr_buf rows = {0};
    assert_int_equal(wr_runstate_guard_load(s, 1500, collect_guard, &rows), 2);
    /* in no stated order: both there */
    assert_true(strcmp(wr_buf_str(&rows), "ada@3000 bob@2000") == 0 ||
                strcmp(wr_buf_str(&rows), "bob@2000 ada@3000") == 0);
    wr_buf_free(&rows);
    assert_int_equal(wr_runstate_guard_load(s, 0, collect_guard, &rows), 2);
    wr_buf_free(&rows);
}

/* }====== */

/* {====== leases ====== */

static void expect_lease(struct fixture *fx, const char *run, const char *owner, int64_t until)
{
    char *want = until ? wr_xasprintf("%s|%lld", owner, (long long)until) : wr_xstrdup("-|-");
    expect_rows(fx, "SELECT owner, lease_until FROM runs WHERE id = ?", run, want);
    free(want);
}

static void set_run(struct fixture *fx, const char *run, const char *status, int64_t next_at)
{
    struct wr_journal_batch *b = wr_journal_batch_new();
    wr_runstate_set_run(b, run, status, next_at, NULL, wr_clock_wall_ms());
    commit_ok(fx, b);
}

/*
 * Two instances, a and b, on one store (two views, lease 1000 ms), with explicit times from T.
 * PostgreSQL: a claim holds against the other until it runs out (then the other takes the run
 * over: 2), renewing extends only the renewer's own claims, the due reads skip what the other
 * holds, a parked run is anyone's, a finished run nobody's. SQLite: one daemon, every run its
 * own: a claim is always 1, nothing is recorded, nothing is skipped.
 */
static void test_leases(void **state)
{
    struct fixture *fx = *state;
    char r[3][40];
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev = add_event(b, "manual onboard", NULL, NULL);
    for (int i = 0; i < 3; i++) {
        add_run(ev, "onboard", NULL, r[i]);
    }
    commit_ok(fx, b);
    struct wr_runstate *sa = open_runstate(fx, 0), *sb = open_runstate(fx, 1);
    char err[WR_ERR_MAX];
    if (wr_runstate_lease(sa, "a", 1000, err, sizeof(err)) != 0 ||
        wr_runstate_lease(sb, "b", 1000, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    /* The due reads judge leases by the wall clock, the claims by the times given: T ahead of
       the clock keeps every lease taken here current for those reads, however slow the run. */
    const int64_t T = wr_clock_wall_ms() + 60000;

    if (!is_pg()) {
        assert_false(wr_runstate_shared(sa));
        assert_false(wr_runstate_shared(sb));
        assert_int_equal(wr_runstate_claim(sa, r[0], T), 1);
        assert_int_equal(wr_runstate_claim(sb, r[0], T + 500), 1);
        assert_int_equal(wr_runstate_claim(sb, r[0], T + 1500), 1);
        assert_int_equal(wr_runstate_renew(sa, T + 800), 0);
        expect_lease(fx, r[0], NULL, 0);
        expect_due_open(sb, "queued", 100, 0, r, 3, "r1 r2 r3");
        set_run(fx, r[0], "done", 0);
        assert_int_equal(wr_runstate_claim(sa, r[0], T), 1);
        return;
    }

    assert_true(wr_runstate_shared(sa));
    assert_true(wr_runstate_shared(sb));
    assert_int_equal(wr_runstate_claim(sa, r[0], T), 1);
    expect_lease(fx, r[0], "a", T + 1000);
    assert_int_equal(wr_runstate_claim(sb, r[0], T + 500), 0);
    expect_lease(fx, r[0], "a", T + 1000);
    expect_due_open(sb, "queued", 100, 0, r, 3, "r2 r3");
    expect_due_open(sa, "queued", 100, 0, r, 3, "r1 r2 r3");
    /* a's lease ran out: b takes r1 over */
    assert_int_equal(wr_runstate_claim(sb, r[0], T + 1500), 2);
    expect_lease(fx, r[0], "b", T + 2500);
    /* a's renewal at an earlier time does not take it back, nor do its claims while b's holds */
    assert_int_equal(wr_runstate_renew(sa, T + 1000), 0);
    expect_lease(fx, r[0], "b", T + 2500);
    assert_int_equal(wr_runstate_claim(sa, r[0], T + 1000), 0);
    assert_int_equal(wr_runstate_claim(sa, r[0], T + 2400), 0);
    assert_int_equal(wr_runstate_claim(sb, r[0], T + 1600), 1); /* its own: extended */
    expect_lease(fx, r[0], "b", T + 2600);
    expect_due_open(sa, "queued", 100, 0, r, 3, "r2 r3");
    expect_due_open(sb, "queued", 100, 0, r, 3, "r1 r2 r3");

    /* renewed, a claim holds past its first lease */
    assert_int_equal(wr_runstate_claim(sa, r[1], T), 1);
    assert_int_equal(wr_runstate_renew(sa, T + 800), 1);
    expect_lease(fx, r[1], "a", T + 1800);
    assert_int_equal(wr_runstate_claim(sb, r[1], T + 1500), 0);
    assert_int_equal(wr_runstate_claim(sb, r[1], T + 1900), 2);
    expect_lease(fx, r[1], "b", T + 2900);

    /* a claim skips a run another instance is claiming right now (its row locked) */
    struct wr_db_stmt *lock = NULL;
    fx->hold = wr_journal_open_reader(fx->state, err, sizeof(err));
    if (!fx->hold || wr_db_begin(fx->hold, true, err, sizeof(err)) != 0 ||
        wr_db_prepare(fx->hold, "SELECT id FROM runs WHERE id = ? FOR UPDATE", &lock, err,
                      sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    wr_db_bind_text(lock, 1, r[2], -1);
    assert_int_equal(wr_db_step(lock), WR_DB_ROW);
    wr_db_reset(lock);
    assert_int_equal(wr_runstate_claim(sa, r[2], T), 0);
    wr_db_finalize(lock);
    release_hold(fx);
    expect_lease(fx, r[2], NULL, 0);

    /* running keeps the owner; the deferred read judges the lease by its own now */
    assert_int_equal(wr_runstate_claim(sa, r[2], T), 1);
    set_run(fx, r[2], "running", T + 10);
    expect_lease(fx, r[2], "a", T + 1000);
    expect_rows(fx, "SELECT status FROM runs WHERE id = ?", r[2], "running");
    expect_due_deferred(sb, T + 500, r, 3, "");
    expect_due_deferred(sa, T + 500, r, 3, "r3");
    expect_due_deferred(sb, T + 1500, r, 3, "r3");

    /* parked (committed through the journal): no owner, anyone's */
    set_run(fx, r[0], "waiting", T + 5000);
    expect_lease(fx, r[0], NULL, 0);
    expect_due_deferred(sa, T + 5000, r, 3, "r1 r3");
    expect_due_deferred(sb, T + 4999, r, 3, "r3");
    assert_int_equal(wr_runstate_claim(sa, r[0], T + 2100), 1); /* b's old lease is gone */
    expect_lease(fx, r[0], "a", T + 3100);
    assert_int_equal(wr_runstate_claim(sb, r[0], T + 2200), 0);

    /* finished: nobody's */
    set_run(fx, r[0], "done", 0);
    expect_lease(fx, r[0], NULL, 0);
    assert_int_equal(wr_runstate_claim(sa, r[0], T + 2300), 0);
    assert_int_equal(wr_runstate_claim(sb, r[0], T + 9999), 0);
    assert_int_equal(wr_runstate_claim(sa, "run_nope", T), 0);
    assert_int_equal(wr_runstate_renew(sa, T + 2400), 1); /* r3 (running) */
    assert_int_equal(wr_runstate_renew(sb, T + 2400), 1); /* r2 (queued) */
    expect_lease(fx, r[2], "a", T + 3400);
}

/* }====== */

/* {====== trigger_state ====== */

struct ingest_outcome {
    struct fixture *fx;
    int rc;
    char error[WR_ERR_MAX];
    bool duplicate;
};

static void on_ingested(void *arg, const struct wr_ingest_result *res)
{
    struct ingest_outcome *o = arg;
    o->rc = res->rc;
    snprintf(o->error, sizeof(o->error), "%s", res->error ? res->error : "");
    o->duplicate = res->count > 0 && res->items[0].duplicate;
    if (--o->fx->waiting == 0) {
        event_base_loopexit(o->fx->base, NULL);
    }
}

/* A round of a polling trigger: one event (key round) in the batch b, submitted. */
static int ingest_round(struct fixture *fx, struct wr_ingest_batch *b, const char *round)
{
    struct ingest_outcome o = {.fx = fx, .rc = 1};
    struct json_object *event = json_object_new_object();
    json_object_object_add(event, "round", json_object_new_string(round));
    struct wr_ingest_event e = {.event = event, .key = round, .scope = "poll user-change mover"};
    wr_ingest_batch_add(b, NULL, 0, &e, 1);
    json_object_put(event);
    fx->waiting++;
    assert_int_equal(wr_ingest_batch_submit(fx->in, b, on_ingested, &o), 0);
    wait_all(fx);
    assert_false(o.duplicate);
    return o.rc;
}

struct remembered {
    struct wr_buf text;
    int64_t min_at, max_at;
};

static void on_remembered(void *arg, const char *name, const char *value, int64_t updated_at)
{
    struct remembered *r = arg;
    wr_buf_addf(&r->text, "%s%s=%s", r->text.len ? ";" : "", name, value);
    r->min_at = r->min_at && r->min_at < updated_at ? r->min_at : updated_at;
    r->max_at = r->max_at > updated_at ? r->max_at : updated_at;
}

static void expect_remembered(struct fixture *fx, const char *scope, const char *prefix,
                              const char *want)
{
    struct remembered r = {0};
    char err[WR_ERR_MAX];
    int64_t n =
        wr_trigger_state_load(fx->state, scope, prefix, on_remembered, &r, err, sizeof(err));
    if (n < 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(wr_buf_str(&r.text), want);
    int64_t entries = want[0] ? 1 : 0;
    for (const char *p = want; *p; p++) {
        entries += *p == ';';
    }
    assert_int_equal(n, entries);
    wr_buf_free(&r.text);
}

/* What a trigger remembers commits with its round's events (or not at all): put, update,
   remove, clear then put, read back by scope and prefix in name order. */
static void test_trigger_state(void **state)
{
    struct fixture *fx = *state;
    fx->in = wr_ingest_new(fx->base, fx->j);
    int64_t t0 = wr_clock_wall_ms();
    struct wr_ingest_batch *b = wr_ingest_batch_new("user-change mover", NULL);
    wr_trigger_state_put(b, "user-change mover", "delta", "https://graph/delta?t=1");
    wr_trigger_state_put(b, "user-change mover", "user/2", "{\"dept\":\"hr\"}");
    wr_trigger_state_put(b, "user-change mover", "user/1", "{\"dept\":\"it\"}");
    wr_trigger_state_put(b, "user-date onboard", "fired/ada", "2026-05-01");
    assert_int_equal(ingest_round(fx, b, "round-1"), 0);
    int64_t t1 = wr_clock_wall_ms();
    expect_rows(fx, "SELECT status FROM events WHERE idem_key = ?", "round-1", "unmatched");

    expect_remembered(fx, "user-change mover", NULL,
                      "delta=https://graph/delta?t=1;user/1={\"dept\":\"it\"};"
                      "user/2={\"dept\":\"hr\"}");
    expect_remembered(fx, "user-change mover", "user/",
                      "user/1={\"dept\":\"it\"};"
                      "user/2={\"dept\":\"hr\"}");
    expect_remembered(fx, "user-change mover", "",
                      "delta=https://graph/delta?t=1;"
                      "user/1={\"dept\":\"it\"};"
                      "user/2={\"dept\":\"hr\"}");
    expect_remembered(fx, "user-date onboard", NULL, "fired/ada=2026-05-01");
    expect_remembered(fx, "nobody", NULL, "");
    struct remembered r = {0};
    char err[WR_ERR_MAX];
    assert_int_equal(wr_trigger_state_load(fx->state, "user-change mover", NULL, on_remembered, &r,
                                           err, sizeof(err)),
                     3);
    assert_true(r.min_at >= t0 && r.max_at <= t1);
    wr_buf_free(&r.text);

    /* round 2: updated, removed, a scope cleared and one name put again after */
    b = wr_ingest_batch_new("user-change mover", NULL);
    wr_trigger_state_put(b, "user-change mover", "delta", "https://graph/delta?t=2");
    wr_trigger_state_put(b, "user-change mover", "user/1", NULL);
    wr_trigger_state_clear(b, "user-date onboard");
    wr_trigger_state_put(b, "user-date onboard", "fired/bob", "2026-05-02");
    assert_int_equal(ingest_round(fx, b, "round-2"), 0);
    expect_remembered(fx, "user-change mover", NULL,
                      "delta=https://graph/delta?t=2;user/2={\"dept\":\"hr\"}");
    expect_remembered(fx, "user-date onboard", NULL, "fired/bob=2026-05-02");

    /* names in byte order (PostgreSQL's text is COLLATE "C", as SQLite compares), prefixes in
       characters */
    b = wr_ingest_batch_new("user-change mover", NULL);
    static const char *const names[] = {"user/9", "a", "user/10", "_x", "B", "user/\xc3\xa9"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        wr_trigger_state_put(b, "order", names[i], "1");
    }
    assert_int_equal(ingest_round(fx, b, "round-order"), 0);
    expect_remembered(fx, "order", NULL, "B=1;_x=1;a=1;user/10=1;user/9=1;user/\xc3\xa9=1");
    expect_remembered(fx, "order", "user/\xc3\xa9", "user/\xc3\xa9=1");
    expect_remembered(fx, "order", "user/1", "user/10=1");

    /* round 3 fails (a name inserted twice): neither its event nor what it would remember */
    b = wr_ingest_batch_new("user-change mover", NULL);
    wr_trigger_state_put(b, "user-change mover", "delta", "https://graph/delta?t=3");
    wr_journal_batch_add_op(wr_ingest_batch_journal(b),
                            "INSERT INTO trigger_state (scope, name, value, updated_at) "
                            "VALUES ('user-change mover', 'user/2', 'x', 0)",
                            "");
    assert_true(ingest_round(fx, b, "round-3") < 0);
    expect_remembered(fx, "user-change mover", NULL,
                      "delta=https://graph/delta?t=2;user/2={\"dept\":\"hr\"}");
    assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE idem_key = ?", "t", "round-3"),
                     0);
}

/* }====== */

int main(int argc, char **argv)
{
    if (argc >= 2 && !(argc == 3 && strcmp(argv[1], "postgres") == 0)) {
        fprintf(stderr, "usage: test_store_conformance [postgres URL_FILE]\n");
        return 2;
    }
    if (argc == 3 &&
        !wr_pgtest_read_url("test_store_conformance", argv[2], pg_url, sizeof(pg_url))) {
        return 2;
    }
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_stored_with_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_in_another_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_outside_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_past_a_short_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_stored_by_another_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_distinct_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_batch_fails_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_and_small_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_and_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runstate_due, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runstate_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runstate_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_concurrency_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_state, setup, teardown),
    };
    return cmocka_run_group_tests_name(is_pg() ? "test_store_conformance (postgresql)"
                                               : "test_store_conformance (sqlite)",
                                       tests, NULL, NULL);
}
