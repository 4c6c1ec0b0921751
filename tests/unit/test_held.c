/*
 * test_held — engine/store/held on both back ends: the held runs listed (oldest first, with
 * the held step, its `user` argument and a short id) and counted; released (queued, flagged
 * guard_released, the held step pending again) or rejected (cancelled, "rejected by ...") by
 * id or all at once (`--all`), each call one transaction: a run that is not held, or no run at
 * all, refuses the whole call and nothing changes. On PostgreSQL also two deciders of one run
 * at once: the second waits for the first one's commit and is refused.
 *
 *   test_held                    SQLite: a fresh store file per test
 *   test_held postgres URL_FILE  PostgreSQL: the URL in URL_FILE (tests/pg's throw-away
 *                                cluster, the ctest fixture weir_pg)
 *
 * Each test gets a fresh store made by wr_store_migrate (PostgreSQL: in a schema of its own,
 * test_held, the URL's search_path; the public schema is never touched) and seeded in SQL both
 * back ends accept; the tests then work on a reader connection, as `weir held`, `weir release`,
 * `weir reject` and the admin API do.
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
#include <json-c/json.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/held.h"
#include "engine/store/history.h"
#include "engine/store/journal.h"
#include "tests/unit/pg_test.h"
#include "engine/store/migrate.h"

#define NOW 1714572000000LL

#define PG_SCHEMA "test_held"

static char pg_url[4096]; /* PostgreSQL: the cluster's URL; "" for SQLite */

struct fixture {
    char dir[64]; /* SQLite: the store's directory */
    char *state;  /* the store's file, or the URL with the test's search_path */
    struct wr_db *db;
    /* held (oldest first; held[0] waits before its step 2), held without a held step, queued */
    char held[2][40], queued[40];
};

/* {====== helpers ====== */

static void exec_sql(struct wr_db *db, const char *sql)
{
    char err[WR_ERR_MAX];
    if (wr_db_exec(db, sql, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", sql, err);
    }
}

static struct wr_db_stmt *prep(struct wr_db *db, const char *sql)
{
    struct wr_db_stmt *st = NULL;
    char err[WR_ERR_MAX];
    if (wr_db_prepare(db, sql, &st, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", sql, err);
    }
    return st;
}

static void step_done(struct wr_db_stmt *st)
{
    if (wr_db_step(st) != WR_DB_DONE) {
        fail_msg("%s", wr_db_errmsg(st));
    }
}

/* Inserts a run of event ev: id (made here), status, created_at, error (may be NULL). */
static void add_run(struct wr_db *db, const char *ev, char id[40], const char *status,
                    int64_t created_at, const char *error)
{
    struct wr_db_stmt *st = prep(db, "INSERT INTO runs (id, event_id, workflow, workflow_hash, "
                                     "status, created_at, updated_at, next_at, error) "
                                     "VALUES (?, ?, 'offboard', 'h1', ?, ?, ?, ?, ?)");
    wr_journal_new_id("run", id);
    wr_db_bind_text(st, 1, id, -1);
    wr_db_bind_text(st, 2, ev, -1);
    wr_db_bind_text(st, 3, status, -1);
    wr_db_bind_int64(st, 4, created_at);
    wr_db_bind_int64(st, 5, created_at + 500); /* held_at */
    wr_db_bind_int64(st, 6, created_at + 9000);
    wr_db_bind_text(st, 7, error, -1);
    step_done(st);
    wr_db_finalize(st);
}

static void add_step(struct wr_db *db, const char *run, int64_t idx, const char *step_id,
                     const char *status, const char *args)
{
    struct wr_db_stmt *st = prep(db, "INSERT INTO steps (run_id, idx, step_id, status, args, "
                                     "error) VALUES (?, ?, ?, ?, ?, ?)");
    wr_db_bind_text(st, 1, run, -1);
    wr_db_bind_int64(st, 2, idx);
    wr_db_bind_text(st, 3, step_id, -1);
    wr_db_bind_text(st, 4, status, -1);
    wr_db_bind_text(st, 5, args, -1);
    wr_db_bind_text(st, 6, strcmp(status, "held") == 0 ? "guard: 10 users in 1h" : NULL, -1);
    step_done(st);
    wr_db_finalize(st);
}

/* The store's seed: one event; held[0] (held before its step 2, whose user is ada), held[1]
   (held, no held step recorded), queued (a run the guard never held). */
static void seed(struct fixture *fx)
{
    char ev[40];
    wr_journal_new_id("ev", ev);
    struct wr_db_stmt *st = prep(fx->db, "INSERT INTO events (id, source, received_at, body, "
                                         "status) VALUES (?, 'manual', ?, '{}', 'matched')");
    wr_db_bind_text(st, 1, ev, -1);
    wr_db_bind_int64(st, 2, NOW);
    step_done(st);
    wr_db_finalize(st);
    add_run(fx->db, ev, fx->held[0], "held", NOW, "guard.destructive: 10 in 1h (max 5)");
    add_run(fx->db, ev, fx->held[1], "held", NOW + 1000, NULL);
    add_run(fx->db, ev, fx->queued, "queued", NOW + 2000, NULL);
    add_step(fx->db, fx->held[0], 0, "look", "done", "{}");
    add_step(fx->db, fx->held[0], 1, "note", "done", "{\"user\": 7}");
    add_step(fx->db, fx->held[0], 2, "disable", "held", "{\"user\": \"ada@contoso.com\"}");
}

static void setup_sqlite(struct fixture *fx)
{
    char err[WR_ERR_MAX];
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_held.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->state = wr_path_join(fx->dir, "state.db");
    struct wr_migrate_result m;
    if (wr_store_migrate(fx->state, &m, err, sizeof(err)) != 0) {
        fail_msg("migrate: %s", err);
    }
    fx->db = wr_journal_open_reader(fx->state, err, sizeof(err));
    if (!fx->db) {
        fail_msg("%s", err);
    }
}

/* PostgreSQL: the schema PG_SCHEMA made afresh and migrated. */
static void setup_postgres(struct fixture *fx)
{
    fx->db = wr_pgtest_fresh_store(pg_url, PG_SCHEMA, &fx->state);
}

static int setup(void **state)
{
    struct fixture *fx = wr_xcalloc(1, sizeof(*fx));
    if (pg_url[0]) {
        setup_postgres(fx);
    } else {
        setup_sqlite(fx);
    }
    seed(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (pg_url[0]) {
        wr_db_close(fx->db); /* the schema stays for a look after a failure; the next run drops
                                it */
    } else {
        wr_journal_close_reader(fx->db);
        char *cmd = wr_xasprintf("rm -rf '%s'", fx->dir);
        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    free(fx->state);
    free(fx);
    return 0;
}

/* A run's row as one string: "status|next_at|error|guard_released|updated_at" (NULL: "-"). */
static char *run_row(struct fixture *fx, const char *id)
{
    struct wr_db_stmt *st = prep(fx->db, "SELECT status, next_at, error, guard_released, "
                                         "updated_at FROM runs WHERE id = ?");
    wr_db_bind_text(st, 1, id, -1);
    assert_int_equal(wr_db_step(st), WR_DB_ROW);
    char next[24] = "-";
    if (!wr_db_column_is_null(st, 1)) {
        snprintf(next, sizeof(next), "%lld", (long long)wr_db_column_int64(st, 1));
    }
    const char *error = wr_db_column_text(st, 2);
    char *out =
        wr_xasprintf("%s|%s|%s|%lld|%lld", wr_db_column_text(st, 0), next, error ? error : "-",
                     (long long)wr_db_column_int64(st, 3), (long long)wr_db_column_int64(st, 4));
    wr_db_finalize(st);
    return out;
}

static void assert_run(struct fixture *fx, const char *id, const char *want)
{
    char *got = run_row(fx, id);
    assert_string_equal(got, want);
    free(got);
}

/* The status and error of step idx of run, as "status|error". */
static void assert_step(struct fixture *fx, const char *run, int64_t idx, const char *want)
{
    struct wr_db_stmt *st = prep(fx->db, "SELECT status, error FROM steps WHERE run_id = ? AND "
                                         "idx = ?");
    wr_db_bind_text(st, 1, run, -1);
    wr_db_bind_int64(st, 2, idx);
    assert_int_equal(wr_db_step(st), WR_DB_ROW);
    const char *error = wr_db_column_text(st, 1);
    char *got = wr_xasprintf("%s|%s", wr_db_column_text(st, 0), error ? error : "-");
    wr_db_finalize(st);
    assert_string_equal(got, want);
    free(got);
}

static int64_t held_count(struct fixture *fx)
{
    char err[WR_ERR_MAX];
    int64_t n = -1;
    if (wr_held_count(fx->db, &n, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    return n;
}

/* The ids of done (a wr_held_decide result), joined by spaces; frees done. */
static char *ids_of(struct json_object *done)
{
    struct wr_buf b = {0};
    for (size_t i = 0; i < json_object_array_length(done); i++) {
        wr_buf_addf(&b, "%s%s", i ? " " : "",
                    json_object_get_string(json_object_array_get_idx(done, i)));
    }
    json_object_put(done);
    char *s = wr_buf_take(&b);
    return s ? s : wr_xstrdup("");
}

static void assert_done(struct json_object *done, const char *want)
{
    char *got = ids_of(done);
    assert_string_equal(got, want);
    free(got);
}

/* }====== */

/* {====== cases ====== */

static void test_list_count(void **state)
{
    struct fixture *fx = *state;
    struct json_object *list = NULL, *v = NULL;
    char err[WR_ERR_MAX];

    assert_int_equal(held_count(fx), 2);
    if (wr_held_list(fx->db, &list, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(json_object_get_int64(json_object_object_get(list, "count")), 2);
    struct json_object *runs = json_object_object_get(list, "runs");
    assert_int_equal(json_object_array_length(runs), 2);

    /* oldest first: the run held before its step 2, ada's */
    struct json_object *r = json_object_array_get_idx(runs, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(r, "id")), fx->held[0]);
    const char *shown = json_object_get_string(json_object_object_get(r, "short_id"));
    assert_non_null(shown);
    assert_true(strlen(shown) > 0 && strncmp(fx->held[0], shown, strlen(shown)) == 0);
    assert_string_equal(json_object_get_string(json_object_object_get(r, "workflow")), "offboard");
    assert_int_equal(json_object_get_int64(json_object_object_get(r, "created_at")), NOW);
    assert_int_equal(json_object_get_int64(json_object_object_get(r, "held_at")), NOW + 500);
    assert_string_equal(json_object_get_string(json_object_object_get(r, "reason")),
                        "guard.destructive: 10 in 1h (max 5)");
    assert_string_equal(json_object_get_string(json_object_object_get(r, "user")),
                        "ada@contoso.com");
    struct json_object *step = json_object_object_get(r, "step");
    assert_non_null(step);
    assert_int_equal(json_object_get_int64(json_object_object_get(step, "idx")), 2);
    assert_string_equal(json_object_get_string(json_object_object_get(step, "step_id")), "disable");
    assert_true(json_object_object_get_ex(step, "args", &v));
    assert_string_equal(json_object_get_string(json_object_object_get(v, "user")),
                        "ada@contoso.com");

    /* no held step recorded: no step, no user; and a null reason */
    r = json_object_array_get_idx(runs, 1);
    assert_string_equal(json_object_get_string(json_object_object_get(r, "id")), fx->held[1]);
    assert_true(json_object_object_get_ex(r, "step", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(r, "user", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(r, "reason", &v));
    assert_null(v);
    json_object_put(list);

    /* none held: an empty list */
    exec_sql(fx->db, "UPDATE runs SET status = 'cancelled'");
    assert_int_equal(held_count(fx), 0);
    assert_int_equal(wr_held_list(fx->db, &list, err, sizeof(err)), 0);
    assert_int_equal(json_object_get_int64(json_object_object_get(list, "count")), 0);
    assert_int_equal(json_object_array_length(json_object_object_get(list, "runs")), 0);
    json_object_put(list);
}

static void test_release(void **state)
{
    struct fixture *fx = *state;
    struct json_object *done = NULL;
    char err[WR_ERR_MAX], want[256];
    const char *ids[] = {fx->held[0]};

    assert_int_equal(wr_held_decide(fx->db, ids, 1, false, true, "weir release", NULL, NOW + 5000,
                                    &done, err, sizeof(err)),
                     0);
    assert_done(done, fx->held[0]);
    assert_false(wr_db_in_transaction(fx->db));
    snprintf(want, sizeof(want), "queued|-|-|1|%lld", (long long)(NOW + 5000));
    assert_run(fx, fx->held[0], want);
    assert_step(fx, fx->held[0], 2, "pending|-");
    assert_step(fx, fx->held[0], 1, "done|-");
    /* the others untouched */
    snprintf(want, sizeof(want), "held|%lld|-|0|%lld", (long long)(NOW + 10000),
             (long long)(NOW + 1500));
    assert_run(fx, fx->held[1], want);
    assert_int_equal(held_count(fx), 1);

    /* released already: no longer held, refused */
    assert_int_equal(wr_held_decide(fx->db, ids, 1, false, true, "weir release", NULL, NOW + 6000,
                                    &done, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_null(done);
    assert_non_null(strstr(err, "has status queued"));
}

static void test_reject(void **state)
{
    struct fixture *fx = *state;
    struct json_object *done = NULL;
    char err[WR_ERR_MAX], want[256];
    const char *ids[] = {fx->held[1], fx->held[0]};

    assert_int_equal(wr_held_decide(fx->db, ids, 1, false, false, "weir reject", "not a leaver",
                                    NOW + 5000, &done, err, sizeof(err)),
                     0);
    assert_done(done, fx->held[1]);
    snprintf(want, sizeof(want), "cancelled|%lld|rejected by weir reject: not a leaver|0|%lld",
             (long long)(NOW + 10000), (long long)(NOW + 5000));
    assert_run(fx, fx->held[1], want);

    /* without a reason; the held step stays as it was */
    assert_int_equal(wr_held_decide(fx->db, ids + 1, 1, false, false, "admin", "", NOW + 6000,
                                    &done, err, sizeof(err)),
                     0);
    assert_done(done, fx->held[0]);
    snprintf(want, sizeof(want), "cancelled|%lld|rejected by admin|0|%lld", (long long)(NOW + 9000),
             (long long)(NOW + 6000));
    assert_run(fx, fx->held[0], want);
    assert_step(fx, fx->held[0], 2, "held|guard: 10 users in 1h");
    assert_int_equal(held_count(fx), 0);
}

static void test_all(void **state)
{
    struct fixture *fx = *state;
    struct json_object *done = NULL;
    char err[WR_ERR_MAX], want[256];

    /* release --all: every held run, oldest first, the queued one untouched */
    assert_int_equal(wr_held_decide(fx->db, NULL, 0, true, true, "weir release", NULL, NOW + 5000,
                                    &done, err, sizeof(err)),
                     0);
    char *got = ids_of(done);
    char *expect = wr_xasprintf("%s %s", fx->held[0], fx->held[1]);
    assert_string_equal(got, expect);
    free(got);
    free(expect);
    snprintf(want, sizeof(want), "queued|-|-|1|%lld", (long long)(NOW + 5000));
    assert_run(fx, fx->held[0], want);
    assert_run(fx, fx->held[1], want);
    snprintf(want, sizeof(want), "queued|%lld|-|0|%lld", (long long)(NOW + 11000),
             (long long)(NOW + 2500));
    assert_run(fx, fx->queued, want);
    assert_int_equal(held_count(fx), 0);

    /* nothing held: --all is fine and does nothing */
    assert_int_equal(wr_held_decide(fx->db, NULL, 0, true, false, "weir reject", NULL, NOW + 6000,
                                    &done, err, sizeof(err)),
                     0);
    assert_done(done, "");

    /* reject --all */
    exec_sql(fx->db, "UPDATE runs SET status = 'held' WHERE guard_released = 1");
    assert_int_equal(wr_held_decide(fx->db, NULL, 0, true, false, "weir reject", "burst",
                                    NOW + 7000, &done, err, sizeof(err)),
                     0);
    json_object_put(done);
    snprintf(want, sizeof(want), "cancelled|-|rejected by weir reject: burst|1|%lld",
             (long long)(NOW + 7000));
    assert_run(fx, fx->held[0], want);
    assert_run(fx, fx->held[1], want);
    assert_int_equal(held_count(fx), 0);
}

static void test_refused_whole(void **state)
{
    struct fixture *fx = *state;
    struct json_object *done = NULL;
    char err[WR_ERR_MAX], want0[256], want1[256];
    snprintf(want0, sizeof(want0), "held|%lld|guard.destructive: 10 in 1h (max 5)|0|%lld",
             (long long)(NOW + 9000), (long long)(NOW + 500));
    snprintf(want1, sizeof(want1), "held|%lld|-|0|%lld", (long long)(NOW + 10000),
             (long long)(NOW + 1500));

    /* a run that is not held, after two that are: the whole call refused, nothing changed */
    const char *ids[] = {fx->held[0], fx->held[1], fx->queued};
    assert_int_equal(wr_held_decide(fx->db, ids, 3, false, true, "weir release", NULL, NOW + 5000,
                                    &done, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_null(done);
    assert_non_null(strstr(err, fx->queued));
    assert_non_null(strstr(err, "has status queued: only held runs can be released or rejected"));
    assert_false(wr_db_in_transaction(fx->db));
    assert_run(fx, fx->held[0], want0);
    assert_run(fx, fx->held[1], want1);
    assert_step(fx, fx->held[0], 2, "held|guard: 10 users in 1h");
    assert_int_equal(wr_held_decide(fx->db, ids + 1, 2, false, false, "weir reject", NULL,
                                    NOW + 5000, &done, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_run(fx, fx->held[1], want1);

    /* an unknown id */
    const char *unknown[] = {fx->held[0], "run_nope"};
    assert_int_equal(wr_held_decide(fx->db, unknown, 2, false, false, "weir reject", NULL,
                                    NOW + 5000, &done, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_null(done);
    assert_non_null(strstr(err, "no run 'run_nope'"));
    assert_false(wr_db_in_transaction(fx->db));
    assert_run(fx, fx->held[0], want0);
    assert_int_equal(held_count(fx), 2);

    /* and the connection is fine afterwards */
    assert_int_equal(wr_held_decide(fx->db, ids, 1, false, true, "weir release", NULL, NOW + 5000,
                                    &done, err, sizeof(err)),
                     0);
    assert_done(done, fx->held[0]);
    assert_int_equal(held_count(fx), 1);
}

/* }====== */

/* {====== two deciders at once (PostgreSQL) ====== */

struct racer {
    const char *target, *run;
    int rc; /* 100 until it returns */
    char err[WR_ERR_MAX];
};

static void *race_release(void *arg)
{
    struct racer *r = arg;
    struct wr_db *db = NULL;
    struct json_object *done = NULL;
    const char *ids[] = {r->run};
    if (wr_db_open(r->target, 0, &db, r->err, sizeof(r->err)) != 0) {
        r->rc = 99;
        return NULL;
    }
    r->rc = wr_held_decide(db, ids, 1, false, true, "weir release", NULL, NOW + 8000, &done, r->err,
                           sizeof(r->err));
    json_object_put(done);
    wr_db_close(db);
    return NULL;
}

/*
 * The first decider rejects held[0] in a transaction it keeps open; the second, on a thread and
 * a connection of its own, releases it: it waits for the first one's commit, then reads the
 * run cancelled and is refused (ESTATE), so the run is decided once. PostgreSQL only: READ
 * COMMITTED is what the row lock is for (SQLite's second writer waits in BEGIN IMMEDIATE).
 */
static void test_concurrent_deciders(void **state)
{
    struct fixture *fx = *state;
    char err[WR_ERR_MAX], want[256];
    if (!pg_url[0]) {
        skip();
    }
    assert_int_equal(wr_db_begin(fx->db, true, err, sizeof(err)), 0);
    struct wr_db_stmt *st = prep(fx->db, "UPDATE runs SET status = 'cancelled', error = "
                                         "'rejected by first', updated_at = ? WHERE id = ?");
    wr_db_bind_int64(st, 1, NOW + 7000);
    wr_db_bind_text(st, 2, fx->held[0], -1);
    step_done(st);
    wr_db_finalize(st);

    struct racer r = {.target = fx->state, .run = fx->held[0], .rc = 100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, race_release, &r), 0);
    wr_pgtest_wait_lock(pg_url, "%runs%");
    assert_int_equal(wr_db_commit(fx->db, err, sizeof(err)), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, WR_HISTORY_ESTATE);
    assert_non_null(strstr(r.err, "has status cancelled"));
    snprintf(want, sizeof(want), "cancelled|%lld|rejected by first|0|%lld", (long long)(NOW + 9000),
             (long long)(NOW + 7000));
    assert_run(fx, fx->held[0], want);
    assert_step(fx, fx->held[0], 2, "held|guard: 10 users in 1h");
}

/* }====== */

int main(int argc, char **argv)
{
    if (argc >= 2 && !(argc == 3 && strcmp(argv[1], "postgres") == 0)) {
        fprintf(stderr, "usage: test_held [postgres URL_FILE]\n");
        return 2;
    }
    if (argc == 3 && !wr_pgtest_read_url("test_held", argv[2], pg_url, sizeof(pg_url))) {
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_deciders, setup, teardown),
    };
    return cmocka_run_group_tests_name(pg_url[0] ? "postgresql" : "sqlite", tests, NULL, NULL);
}
