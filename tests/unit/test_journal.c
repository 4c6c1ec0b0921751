/*
 * test_journal — unit tests for engine/store/journal on a real SQLite file and a libevent loop:
 * idempotency keys unique per scope (and not across scopes), the retention window, the
 * migration of a schema 2 journal (built here with that schema's own SQL) that scopes the old
 * keys from their source and still recognises them, the owner's claim (a second claim fails
 * naming the holder's pid), and health: a state file removed, moved away or its WAL deleted
 * fails every commit (nothing stored), reports the change once, and recovers when the file is
 * back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/store/db.h"
#include "engine/store/journal.h"
#include "engine/base/strutil.h"

struct fixture {
    char dir[64];
    char *state;
    struct event_base *base;
    struct wr_journal *j;
    /* the last batch's outcome */
    int rc;
    char error[256];
    bool duplicate[8];
    char ids[8][40];      /* stored id, or the original's for a duplicate */
    int health_calls;     /* on_health reports */
    bool health_ok;       /* the last one's */
    char health_err[256]; /* the last failing one's cause */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg);
    }
}

static int64_t query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void on_health(void *arg, bool ok, const char *error)
{
    struct fixture *fx = arg;
    fx->health_calls++;
    fx->health_ok = ok;
    if (!ok) {
        snprintf(fx->health_err, sizeof(fx->health_err), "%s", error);
    }
}

static void open_journal(struct fixture *fx, int64_t retention_ms)
{
    char err[WR_ERR_MAX];
    fx->j = wr_journal_open(fx->base, fx->state, retention_ms, err, sizeof(err));
    if (!fx->j) {
        fail_msg("%s", err);
    }
    wr_journal_on_health(fx->j, on_health, fx);
}

static int setup(void **state)
{
    struct fixture *fx = wr_xcalloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_journal.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->state = wr_xasprintf("%s/var/weir.db", fx->dir);
    evthread_use_pthreads();
    fx->base = event_base_new();
    assert_non_null(fx->base);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    wr_journal_close(fx->j);
    event_base_free(fx->base);
    char *cmd = wr_xasprintf("rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(fx->state);
    free(fx);
    return 0;
}

static void on_committed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct fixture *fx = arg;
    fx->rc = rc;
    snprintf(fx->error, sizeof(fx->error), "%s", error ? error : "");
    for (size_t i = 0; i < b->count && i < 8; i++) {
        fx->duplicate[i] = b->events[i].duplicate;
        snprintf(fx->ids[i], sizeof(fx->ids[i]), "%s",
                 b->events[i].duplicate ? b->events[i].original_id : b->events[i].id);
    }
    event_base_loopexit(fx->base, NULL);
}

/* Submits b and runs the loop until its callback ran; returns its rc. */
static int commit(struct fixture *fx, struct wr_journal_batch *b)
{
    fx->rc = 1;
    assert_int_equal(wr_journal_submit(fx->j, b, on_committed, fx), 0);
    event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
    assert_int_not_equal(fx->rc, 1);
    return fx->rc;
}

/* Stores one event with key in scope (legacy may be NULL); returns the commit's rc. */
static int store(struct fixture *fx, const char *source, const char *key, const char *scope,
                 const char *legacy, int64_t at)
{
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev = wr_journal_batch_add(b, source, key, NULL, "{}", at);
    if (scope || legacy) {
        wr_journal_event_scope(ev, scope, legacy);
    }
    wr_journal_batch_add_run(ev, "wf", "h", NULL, NULL);
    return commit(fx, b);
}

static int64_t count(struct fixture *fx, const char *where)
{
    char *sql = wr_xasprintf("SELECT count(*) FROM events WHERE %s", where);
    int64_t n = query_int(fx->state, sql);
    free(sql);
    return n;
}

/* {====== scoped keys ====== */

static void keys_are_unique_per_scope(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 0);
    int64_t now = now_ms();
    assert_int_equal(store(fx, "webhook /hooks/a", "k", "webhook /hooks/a (webhook-id)", NULL, now),
                     0);
    assert_false(fx->duplicate[0]);
    char first[40];
    snprintf(first, sizeof(first), "%s", fx->ids[0]);
    /* another path, another header, another workflow's fire, a folder: all new events */
    assert_int_equal(store(fx, "webhook /hooks/b", "k", "webhook /hooks/b (webhook-id)", NULL, now),
                     0);
    assert_false(fx->duplicate[0]);
    assert_int_equal(
        store(fx, "webhook /hooks/a", "k", "webhook /hooks/a (x-request-id)", NULL, now), 0);
    assert_false(fx->duplicate[0]);
    assert_int_equal(store(fx, "manual", "k", "manual onboard", NULL, now), 0);
    assert_false(fx->duplicate[0]);
    assert_int_equal(store(fx, "manual", "k", "manual offboard", NULL, now), 0);
    assert_false(fx->duplicate[0]);
    /* the same scope again: a duplicate of the first, nothing stored */
    assert_int_equal(store(fx, "webhook /hooks/a", "k", "webhook /hooks/a (webhook-id)", NULL, now),
                     0);
    assert_true(fx->duplicate[0]);
    assert_string_equal(fx->ids[0], first);
    assert_int_equal(count(fx, "idem_key = 'k'"), 5);
    assert_int_equal(query_int(fx->state, "SELECT count(*) FROM runs"), 5);
    /* no scope given: the source is the scope */
    assert_int_equal(store(fx, "schedule tick", "s1", NULL, NULL, now), 0);
    assert_int_equal(count(fx, "idem_key = 's1' AND idem_scope = 'schedule tick'"), 1);
    assert_int_equal(store(fx, "schedule tock", "s1", NULL, NULL, now), 0);
    assert_false(fx->duplicate[0]);
}

static void a_key_repeated_in_one_batch(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 0);
    struct wr_journal_batch *b = wr_journal_batch_new();
    int64_t now = now_ms();
    struct wr_journal_event *ev = wr_journal_batch_add(b, "webhook /x", "e1", NULL, "{}", now);
    wr_journal_event_scope(ev, "webhook /x (id)", NULL);
    ev = wr_journal_batch_add(b, "webhook /x", "e1", NULL, "{}", now);
    wr_journal_event_scope(ev, "webhook /x (id)", NULL);
    ev = wr_journal_batch_add(b, "webhook /y", "e1", NULL, "{}", now);
    wr_journal_event_scope(ev, "webhook /y (id)", NULL);
    assert_int_equal(commit(fx, b), 0);
    assert_false(fx->duplicate[0]);
    assert_true(fx->duplicate[1]);
    assert_false(fx->duplicate[2]);
    assert_string_equal(fx->ids[1], fx->ids[0]);
}

static void a_key_outside_the_window_is_forgotten(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 60000);
    int64_t now = now_ms();
    assert_int_equal(store(fx, "webhook /a", "old", "webhook /a (webhook-id)", NULL, now - 120000),
                     0);
    assert_int_equal(store(fx, "webhook /a", "old", "webhook /a (webhook-id)", NULL, now), 0);
    assert_false(fx->duplicate[0]);
    assert_int_equal(count(fx, "idem_key = 'old'"), 1);
    assert_int_equal(count(fx, "idem_key IS NULL AND idem_scope IS NULL"), 1);
}

/* }====== */

/* {====== migration from schema 2 ====== */

/* engine/store/journal.c's migrations 1 and 2 as they shipped (the test must not follow edits). */
static const char *const schema_2[] = {
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
    "CREATE INDEX runs_ckey ON runs(concurrency_key, status) WHERE concurrency_key IS NOT NULL;",
};

/* A schema 2 journal at fx->state with the old events; webhook keys received at `at`. */
static void make_schema_2(struct fixture *fx, int64_t at)
{
    char *var = wr_xasprintf("%s/var", fx->dir);
    assert_int_equal(mkdir(var, 0700), 0);
    free(var);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->state, &db), SQLITE_OK);
    exec_sql(db, "PRAGMA journal_mode=WAL");
    exec_sql(db, schema_2[0]);
    exec_sql(db, "PRAGMA user_version = 1");
    exec_sql(db, schema_2[1]);
    exec_sql(db, "PRAGMA user_version = 2");
    char *sql = sqlite3_mprintf(
        "INSERT INTO events (id, source, idem_key, received_at, body, status) VALUES "
        "('ev_w', 'webhook /hooks/a', 'k-a', %lld, '{}', 'matched'),"
        "('ev_f', 'file /spool/hr/x.csv', 'file:abc:1', %lld, '{}', 'matched'),"
        "('ev_m', 'manual', 'm-1', %lld, '{}', 'matched'),"
        "('ev_u', 'manual', 'm-2', %lld, '{}', 'unmatched'),"
        "('ev_s', 'schedule tick', 'schedule:tick:1', %lld, '{}', 'matched'),"
        "('ev_n', 'webhook /hooks/a', NULL, %lld, '{}', 'matched');"
        "INSERT INTO runs (id, event_id, workflow, workflow_hash, created_at, updated_at) VALUES "
        "('run_m', 'ev_m', 'onboard', 'h', 0, 0);",
        (long long)at, (long long)at, (long long)at, (long long)at, (long long)at, (long long)at);
    exec_sql(db, sql);
    sqlite3_free(sql);
    sqlite3_close(db);
}

static char *scope_of(struct fixture *fx, const char *id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(fx->state, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT idem_scope FROM events WHERE id = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *v = t ? wr_xstrdup((const char *)t) : NULL;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void expect_scope(struct fixture *fx, const char *id, const char *scope)
{
    char *v = scope_of(fx, id);
    if (scope) {
        assert_non_null(v);
        assert_string_equal(v, scope);
    } else {
        assert_null(v);
    }
    free(v);
}

static void schema_2_keys_are_scoped_and_still_recognised(void **state)
{
    struct fixture *fx = *state;
    int64_t now = now_ms();
    make_schema_2(fx, now - 60000);
    open_journal(fx, 0);
    assert_true(query_int(fx->state, "PRAGMA user_version") >= 3); /* 3 scoped the keys */
    expect_scope(fx, "ev_w", "webhook /hooks/a");
    expect_scope(fx, "ev_f", "file /spool/hr");
    expect_scope(fx, "ev_m", "manual onboard");
    expect_scope(fx, "ev_u", "manual"); /* no run to tell the workflow */
    expect_scope(fx, "ev_s", "schedule tick");
    expect_scope(fx, "ev_n", NULL);

    /* A redelivery on the same path, its header now part of the scope: still a duplicate. */
    assert_int_equal(store(fx, "webhook /hooks/a", "k-a", "webhook /hooks/a (webhook-id)",
                           "webhook /hooks/a", now),
                     0);
    assert_true(fx->duplicate[0]);
    assert_string_equal(fx->ids[0], "ev_w");
    /* On another path: a new event. */
    assert_int_equal(store(fx, "webhook /hooks/b", "k-a", "webhook /hooks/b (webhook-id)",
                           "webhook /hooks/b", now),
                     0);
    assert_false(fx->duplicate[0]);
    /* The file's rows in its folder, the manual key for its workflow only, the schedule. */
    assert_int_equal(store(fx, "file /spool/hr/y.csv", "file:abc:1", "file /spool/hr", NULL, now),
                     0);
    assert_true(fx->duplicate[0]);
    assert_int_equal(store(fx, "file /spool/it/x.csv", "file:abc:1", "file /spool/it", NULL, now),
                     0);
    assert_false(fx->duplicate[0]);
    assert_int_equal(store(fx, "manual", "m-1", "manual onboard", NULL, now), 0);
    assert_true(fx->duplicate[0]);
    assert_int_equal(store(fx, "manual", "m-1", "manual offboard", NULL, now), 0);
    assert_false(fx->duplicate[0]);
    assert_int_equal(store(fx, "schedule tick", "schedule:tick:1", NULL, NULL, now), 0);
    assert_true(fx->duplicate[0]);
    /* Opening again migrates nothing twice. */
    wr_journal_close(fx->j);
    fx->j = NULL;
    open_journal(fx, 0);
    assert_true(query_int(fx->state, "PRAGMA user_version") >= 3); /* 3 scoped the keys */
    assert_int_equal(store(fx, "webhook /hooks/a", "k-a", "webhook /hooks/a (webhook-id)",
                           "webhook /hooks/a", now),
                     0);
    assert_true(fx->duplicate[0]);
}

static void legacy_scope_is_not_looked_up_after_the_window(void **state)
{
    struct fixture *fx = *state;
    int64_t now = now_ms();
    make_schema_2(fx, now - 120000);
    open_journal(fx, 60000); /* every old key is out of the window */
    assert_int_equal(store(fx, "webhook /hooks/a", "k-a", "webhook /hooks/a (webhook-id)",
                           "webhook /hooks/a", now),
                     0);
    assert_false(fx->duplicate[0]);
}

/* }====== */

/* {====== the owner's claim ====== */

static void a_second_claim_fails_naming_the_holder(void **state)
{
    struct fixture *fx = *state;
    char err[WR_ERR_MAX];
    struct wr_journal_claim *c1 = wr_journal_claim(fx->state, err, sizeof(err));
    if (!c1) {
        fail_msg("%s", err);
    }
    /* Another open file description: the same as another process, as far as flock goes. */
    assert_null(wr_journal_claim(fx->state, err, sizeof(err)));
    char *want = wr_xasprintf("%s is in use by another weir (pid %ld)", fx->state, (long)getpid());
    assert_non_null(strstr(err, want));
    free(want);
    /* Writers and readers need no claim. */
    open_journal(fx, 0);
    assert_int_equal(store(fx, "manual", "x", "manual a", NULL, now_ms()), 0);
    struct wr_db *db = wr_journal_open_reader(fx->state, err, sizeof(err));
    assert_non_null(db);
    wr_journal_close_reader(db);
    wr_journal_close(fx->j);
    fx->j = NULL;
    wr_journal_release(c1);
    struct wr_journal_claim *c2 = wr_journal_claim(fx->state, err, sizeof(err));
    assert_non_null(c2);
    wr_journal_release(c2);
}

/* }====== */

/* {====== health ====== */

static void commit_fails_while_the_file_is_away_and_recovers(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 0);
    int64_t now = now_ms();
    assert_int_equal(store(fx, "webhook /a", "kept", "s", NULL, now), 0);
    assert_true(wr_journal_ok(fx->j));
    char *var = wr_xasprintf("%s/var", fx->dir), *away = wr_xasprintf("%s/away", fx->dir);
    assert_int_equal(rename(var, away), 0);

    assert_int_not_equal(store(fx, "webhook /a", "lost-1", "s", NULL, now), 0);
    assert_non_null(strstr(fx->error, "state file was removed while weir was running"));
    assert_false(wr_journal_ok(fx->j));
    assert_int_equal(fx->health_calls, 1);
    assert_false(fx->health_ok);
    assert_non_null(strstr(fx->health_err, "var/weir.db was removed"));
    assert_null(strstr(fx->error, fx->dir)); /* the path is for the log, not for senders */
    assert_int_not_equal(store(fx, "webhook /a", "lost-2", "s", NULL, now), 0);
    assert_int_equal(fx->health_calls, 1); /* once per change, not per commit */
    struct wr_journal_health h;
    wr_journal_get_health(fx->j, &h);
    assert_false(h.ok);
    assert_int_equal(h.failed_commits, 2);

    assert_int_equal(rename(away, var), 0);
    assert_int_equal(store(fx, "webhook /a", "back", "s", NULL, now), 0);
    assert_true(wr_journal_ok(fx->j));
    assert_int_equal(fx->health_calls, 2);
    assert_true(fx->health_ok);
    /* Nothing of the failed commits reached the file (rolled back, not committed aside). */
    assert_int_equal(count(fx, "idem_key IN ('kept', 'back')"), 2);
    assert_int_equal(count(fx, "idem_key LIKE 'lost-%'"), 0);
    free(var);
    free(away);
}

static void a_removed_file_fails_every_commit(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 0);
    assert_int_equal(store(fx, "webhook /a", "one", "s", NULL, now_ms()), 0);
    assert_int_equal(unlink(fx->state), 0);
    assert_int_not_equal(store(fx, "webhook /a", "two", "s", NULL, now_ms()), 0);
    assert_non_null(strstr(fx->error, "state file was removed"));
    /* A new file at the path is not the journal's: it stays failing. */
    FILE *f = fopen(fx->state, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_not_equal(store(fx, "webhook /a", "three", "s", NULL, now_ms()), 0);
    assert_non_null(strstr(fx->error, "state file was replaced"));
    assert_int_equal(fx->health_calls, 1);
}

static void a_removed_wal_fails_every_commit(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 0);
    assert_int_equal(store(fx, "webhook /a", "one", "s", NULL, now_ms()), 0);
    char *wal = wr_xasprintf("%s-wal", fx->state);
    assert_int_equal(unlink(wal), 0);
    free(wal);
    assert_int_not_equal(store(fx, "webhook /a", "two", "s", NULL, now_ms()), 0);
    assert_non_null(strstr(fx->error, "write-ahead log"));
    assert_null(strstr(fx->error, fx->dir));
    assert_false(wr_journal_ok(fx->j));
}

static void on_probed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    on_committed(arg, b, rc, error);
}

static void a_probe_is_a_commit(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 0);
    struct wr_journal_health h0, h1;
    wr_journal_get_health(fx->j, &h0);
    assert_true(h0.ok);
    assert_true(h0.checked_at > 0);
    struct wr_journal_stats s0, s1;
    wr_journal_get_stats(fx->j, &s0);
    fx->rc = 1;
    assert_int_equal(wr_journal_probe(fx->j, on_probed, fx), 0);
    event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
    assert_int_equal(fx->rc, 0);
    wr_journal_get_stats(fx->j, &s1);
    wr_journal_get_health(fx->j, &h1);
    assert_int_equal(s1.commits, s0.commits + 1);
    assert_true(h1.checked_at >= h0.checked_at);
    assert_true(query_int(fx->state, "SELECT value FROM journal_meta WHERE name = 'probe'") >=
                h0.checked_at);
}

/* }====== */

/* {====== the WAL ====== */

/*
 * Under steady commits the WAL starts over instead of growing: SQLite restarts it only when a
 * write transaction begins with every frame already in the database file, a race the
 * checkpointer thread alone lost every time (1.1 GB of WAL after 20 s at 1000 webhooks/s).
 * 3000 commits in a row write some 120 MB of frames; the WAL stays at the restart threshold
 * (16 MiB) plus a group's worth, and everything is there afterwards.
 */
static void the_wal_starts_over_under_steady_commits(void **state)
{
    struct fixture *fx = *state;
    open_journal(fx, 0);
    int64_t now = now_ms();
    for (int i = 0; i < 3000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(store(fx, "webhook /hooks/a", key, NULL, NULL, now), 0);
    }
    char *wal = wr_xasprintf("%s-wal", fx->state);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    print_message("WAL after 3000 commits: %.1f MiB\n", (double)st.st_size / (1 << 20));
    assert_true(st.st_size < (32 << 20));
    free(wal);
    assert_int_equal(count(fx, "1"), 3000);
    wr_journal_close(fx->j);
    fx->j = NULL;
    assert_int_equal(count(fx, "1"), 3000);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keys_are_unique_per_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(a_key_repeated_in_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(a_key_outside_the_window_is_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(schema_2_keys_are_scoped_and_still_recognised, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(legacy_scope_is_not_looked_up_after_the_window, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_second_claim_fails_naming_the_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_fails_while_the_file_is_away_and_recovers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_removed_file_fails_every_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_removed_wal_fails_every_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_probe_is_a_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(the_wal_starts_over_under_steady_commits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
