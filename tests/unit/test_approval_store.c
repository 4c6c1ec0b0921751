/*
 * test_approval_store — engine/store/approval on both back ends: a request and its tokens
 * written on a journal batch and read back (by run and step, by token hash, the run's open
 * one), a request asked again replacing the old one and its tokens, decisions (the first one
 * wins, later ones EDECIDED; an expired request EEXPIRED; an unknown one ENOTFOUND), the
 * waiting run woken (next_at) and no other, and the pending count.
 *
 *   test_approval_store                    SQLite: a fresh journal per test
 *   test_approval_store postgres URL_FILE  PostgreSQL: the URL in URL_FILE (tests/pg's throw-away
 *                                          cluster, the ctest fixture weir_pg)
 *
 * SQLite: each test gets a fresh store; the journal creates it and commits one event with two
 * runs and every request's batch; the tests then read and decide on their own connection
 * (wr_journal_open_reader), as the decision page, `weir approve` and the admin API do.
 * PostgreSQL: each test gets a fresh schema of its own (test_approval, the URL's search_path;
 * the public schema is never touched), made by wr_store_migrate; the event and its runs are
 * inserted in SQL, and each request's batch is applied statement by statement through
 * engine/store/db (apply_ops), which also proves its SQL is PostgreSQL's too.
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
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/captoken.h"
#include "engine/base/strutil.h"
#include "engine/store/approval.h"
#include "engine/store/db.h"
#include "engine/store/journal.h"
#include "tests/unit/pg_test.h"
#include "engine/store/migrate.h"

#define NOW  1714572000000LL
#define HOUR (3600 * 1000LL)

#define PG_SCHEMA "test_approval"

static char pg_url[4096]; /* PostgreSQL: the cluster's URL; "" for SQLite */

struct fixture {
    char dir[64];               /* SQLite: the journal's directory */
    char *state;                /* the journal's file, or the URL with the test's search_path */
    struct event_base *base;    /* SQLite */
    struct wr_journal *journal; /* SQLite */
    struct wr_db *wdb;
    char runs[2][40];
    bool committed;
};

static void on_committed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct fixture *fx = arg;
    if (rc != 0) {
        fail_msg("the batch did not commit: %s", error);
    }
    for (size_t i = 0; i < b->count && i < 1; i++) {
        for (size_t r = 0; r < b->events[i].nruns && r < 2; r++) {
            snprintf(fx->runs[r], sizeof(fx->runs[r]), "%s", b->events[i].runs[r].id);
        }
    }
    fx->committed = true;
    event_base_loopexit(fx->base, NULL);
}

/* Runs the operations of b (an approval's batch) on db in one transaction, as the journal's
   writer does, each through wr_db with its typed parameters; frees b. */
static void apply_ops(struct wr_db *db, struct wr_journal_batch *b)
{
    char err[WR_ERR_MAX];
    if (wr_db_begin(db, true, err, sizeof(err)) != 0) {
        fail_msg("begin: %s", err);
    }
    for (size_t i = 0; i < b->nops; i++) {
        const struct wr_journal_op *op = &b->ops[i];
        struct wr_db_stmt *st = NULL;
        if (wr_db_prepare(db, op->sql, &st, err, sizeof(err)) != 0) {
            fail_msg("%s: %s", op->sql, err);
        }
        for (int k = 0; k < op->nparams; k++) {
            const struct wr_journal_param *p = &op->params[k];
            int rc = p->type == 'i'   ? wr_db_bind_int64(st, k + 1, p->i)
                     : p->type == 't' ? wr_db_bind_text(st, k + 1, p->text, -1)
                                      : wr_db_bind_null(st, k + 1);
            assert_int_equal(rc, 0);
        }
        if (wr_db_step(st) != WR_DB_DONE) {
            fail_msg("%s: %s", op->sql, wr_db_errmsg(st));
        }
        wr_db_finalize(st);
    }
    if (wr_db_commit(db, err, sizeof(err)) != 0) {
        fail_msg("commit: %s", err);
    }
    wr_journal_batch_free(b);
}

/* Commits b: SQLite through the journal (waiting for its commit), PostgreSQL by apply_ops. */
static void commit(struct fixture *fx, struct wr_journal_batch *b)
{
    if (!fx->journal) {
        apply_ops(fx->wdb, b);
        return;
    }
    fx->committed = false;
    assert_int_equal(wr_journal_submit(fx->journal, b, on_committed, fx), 0);
    event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
    assert_true(fx->committed);
}

/* SQLite: a fresh journal with one event of two runs, and a reader connection. */
static void setup_sqlite(struct fixture *fx)
{
    char err[WR_ERR_MAX];
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_approval_store.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->state = wr_path_join(fx->dir, "state.db");
    fx->base = event_base_new();
    fx->journal = wr_journal_open(fx->base, fx->state, 0, err, sizeof(err));
    if (!fx->journal) {
        fail_msg("%s", err);
    }
    struct wr_journal_batch *b = wr_journal_batch_new();
    struct wr_journal_event *ev =
        wr_journal_batch_add(b, "manual", NULL, NULL, "{\"user\": \"ada@contoso.com\"}", NOW);
    wr_journal_batch_add_run(ev, "offboard", "h1", NULL, NULL);
    wr_journal_batch_add_run(ev, "offboard", "h1", NULL, NULL);
    commit(fx, b);
    fx->wdb = wr_journal_open_reader(fx->state, err, sizeof(err));
    if (!fx->wdb) {
        fail_msg("%s", err);
    }
}

/* PostgreSQL: the schema PG_SCHEMA made afresh and migrated, one event with two runs. */
static void setup_postgres(struct fixture *fx)
{
    char err[WR_ERR_MAX];
    fx->wdb = wr_pgtest_fresh_store(pg_url, PG_SCHEMA, &fx->state);
    char ev[40];
    wr_journal_new_id("ev", ev);
    struct wr_db_stmt *st = NULL;
    assert_int_equal(wr_db_prepare(fx->wdb,
                                   "INSERT INTO events (id, source, received_at, body, status) "
                                   "VALUES (?, 'manual', ?, '{\"user\": \"ada@contoso.com\"}', "
                                   "'matched')",
                                   &st, err, sizeof(err)),
                     0);
    wr_db_bind_text(st, 1, ev, -1);
    wr_db_bind_int64(st, 2, NOW);
    assert_int_equal(wr_db_step(st), WR_DB_DONE);
    wr_db_finalize(st);
    assert_int_equal(wr_db_prepare(fx->wdb,
                                   "INSERT INTO runs (id, event_id, workflow, workflow_hash, "
                                   "status, created_at, updated_at) "
                                   "VALUES (?, ?, 'offboard', 'h1', 'queued', ?, ?)",
                                   &st, err, sizeof(err)),
                     0);
    for (int r = 0; r < 2; r++) {
        wr_journal_new_id("run", fx->runs[r]);
        wr_db_bind_text(st, 1, fx->runs[r], -1);
        wr_db_bind_text(st, 2, ev, -1);
        wr_db_bind_int64(st, 3, NOW);
        wr_db_bind_int64(st, 4, NOW);
        if (wr_db_step(st) != WR_DB_DONE) {
            fail_msg("%s", wr_db_errmsg(st));
        }
        wr_db_reset(st);
    }
    wr_db_finalize(st);
}

static int setup(void **state)
{
    struct fixture *fx = wr_xcalloc(1, sizeof(*fx));
    if (pg_url[0]) {
        setup_postgres(fx);
    } else {
        setup_sqlite(fx);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->journal) {
        wr_journal_close_reader(fx->wdb);
        wr_journal_close(fx->journal);
        event_base_free(fx->base);
        char *cmd = wr_xasprintf("rm -rf '%s'", fx->dir);
        assert_int_equal(system(cmd), 0);
        free(cmd);
    } else {
        wr_db_close(fx->wdb); /* the schema stays for a look after a failure; the next run
                                 drops it */
    }
    free(fx->state);
    free(fx);
    return 0;
}

/* Stores a request of run at step idx for the two approvers, each token made from nonce. */
static void put(struct fixture *fx, const char *run, int64_t idx, const char *nonce,
                int64_t expires_at, const char *hashes_out[2])
{
    static char hashes[2][65];
    const char *approvers[2] = {"it-lead@contoso.com", "mgr@contoso.com"};
    unsigned char key[WR_CAPTOKEN_KEY_LEN] = {1, 2, 3};
    for (int i = 0; i < 2; i++) {
        char tok[WR_CAPTOKEN_LEN + 1];
        wr_captoken_make(key, run, idx, approvers[i], nonce, tok);
        wr_captoken_hash(tok, hashes[i]);
        hashes_out[i] = hashes[i];
    }
    struct wr_approval a = {
        .run_id = (char *)run,
        .step_idx = idx,
        .step_id = (char *)"ok",
        .workflow = (char *)"offboard",
        .message = (char *)"Offboard ada@contoso.com now?",
        .plan = (char *)"[{\"step\": \"disable\", \"action\": \"disable-user\", \"args\": "
                        "{\"user\": \"ada@contoso.com\"}}]",
        .approvers = (char *)"[\"it-lead@contoso.com\", \"mgr@contoso.com\"]",
        .nonce = (char *)nonce,
        .created_at = NOW,
        .expires_at = expires_at,
        .decision = (char *)"approved", /* ignored: stored open */
        .decided_by = (char *)"nobody",
    };
    struct wr_journal_batch *b = wr_journal_batch_new();
    wr_approval_put(b, &a, approvers, hashes_out, 2);
    commit(fx, b);
}

static int64_t run_next_at(struct fixture *fx, const char *run)
{
    struct wr_db_stmt *st = NULL;
    char err[WR_ERR_MAX];
    int64_t v = -1;
    assert_int_equal(
        wr_db_prepare(fx->wdb, "SELECT next_at FROM runs WHERE id = ?", &st, err, sizeof(err)), 0);
    wr_db_bind_text(st, 1, run, -1);
    if (wr_db_step(st) == WR_DB_ROW) {
        v = wr_db_column_is_null(st, 0) ? 0 : wr_db_column_int64(st, 0);
    }
    wr_db_finalize(st);
    return v;
}

static void set_status(struct fixture *fx, const char *run, const char *status, int64_t next_at)
{
    struct wr_db_stmt *st = NULL;
    char err[WR_ERR_MAX];
    assert_int_equal(wr_db_prepare(fx->wdb, "UPDATE runs SET status = ?, next_at = ? WHERE id = ?",
                                   &st, err, sizeof(err)),
                     0);
    wr_db_bind_text(st, 1, status, -1);
    wr_db_bind_int64(st, 2, next_at);
    wr_db_bind_text(st, 3, run, -1);
    if (wr_db_step(st) != WR_DB_DONE) {
        fail_msg("%s", wr_db_errmsg(st));
    }
    assert_int_equal(wr_db_changes(st), 1);
    wr_db_finalize(st);
}

static void test_put_get_find(void **state)
{
    struct fixture *fx = *state;
    const char *run = fx->runs[0];
    const char *hashes[2];
    struct wr_approval a;
    char err[WR_ERR_MAX], *approver = NULL;

    assert_int_equal(wr_approval_get(fx->wdb, run, 1, &a, err, sizeof(err)), 0);
    assert_int_equal(wr_approval_open_for_run(fx->wdb, run, &a, err, sizeof(err)), 0);
    put(fx, run, 1, "aaaa", NOW + HOUR, hashes);

    assert_int_equal(wr_approval_get(fx->wdb, run, 1, &a, err, sizeof(err)), 1);
    assert_string_equal(a.run_id, run);
    assert_int_equal(a.step_idx, 1);
    assert_string_equal(a.step_id, "ok");
    assert_string_equal(a.workflow, "offboard");
    assert_string_equal(a.message, "Offboard ada@contoso.com now?");
    assert_non_null(strstr(a.plan, "disable-user"));
    assert_string_equal(a.approvers, "[\"it-lead@contoso.com\", \"mgr@contoso.com\"]");
    assert_string_equal(a.nonce, "aaaa");
    assert_int_equal(a.created_at, NOW);
    assert_int_equal(a.expires_at, NOW + HOUR);
    assert_null(a.decision); /* the decision fields of the put are ignored */
    assert_null(a.decided_by);
    assert_int_equal(a.decided_at, 0);
    assert_null(a.reason);
    wr_approval_clear(&a);
    wr_approval_clear(&a); /* twice is fine */

    /* each token names its own approver */
    assert_int_equal(wr_approval_find_token(fx->wdb, hashes[1], &a, &approver, err, sizeof(err)),
                     1);
    assert_string_equal(approver, "mgr@contoso.com");
    assert_string_equal(a.run_id, run);
    assert_int_equal(a.step_idx, 1);
    free(approver);
    wr_approval_clear(&a);
    assert_int_equal(wr_approval_find_token(fx->wdb, hashes[0], &a, &approver, err, sizeof(err)),
                     1);
    assert_string_equal(approver, "it-lead@contoso.com");
    free(approver);
    wr_approval_clear(&a);
    /* an unknown hash */
    char other[65];
    wr_captoken_hash("not a token", other);
    assert_int_equal(wr_approval_find_token(fx->wdb, other, &a, &approver, err, sizeof(err)), 0);
    assert_null(approver);
    /* no other run has one */
    assert_int_equal(wr_approval_open_for_run(fx->wdb, fx->runs[1], &a, err, sizeof(err)), 0);

    /* a second approval step later in the run is the run's open one */
    const char *h3[2];
    put(fx, run, 3, "cccc", NOW + HOUR, h3);
    assert_int_equal(wr_approval_open_for_run(fx->wdb, run, &a, err, sizeof(err)), 1);
    assert_int_equal(a.step_idx, 3);
    wr_approval_clear(&a);
}

static void test_put_replaces(void **state)
{
    struct fixture *fx = *state;
    const char *run = fx->runs[0];
    const char *old[2], *fresh[2];
    char keep[2][65];
    struct wr_approval a;
    char err[WR_ERR_MAX], *approver = NULL;

    put(fx, run, 1, "aaaa", NOW + HOUR, old);
    snprintf(keep[0], sizeof(keep[0]), "%s", old[0]);
    snprintf(keep[1], sizeof(keep[1]), "%s", old[1]);
    assert_int_equal(
        wr_approval_decide(fx->wdb, run, 1, false, "mgr@contoso.com", NULL, NOW, err, sizeof(err)),
        0);
    /* the step asks again (a retried run): a new nonce, new tokens, the old ones gone */
    put(fx, run, 1, "bbbb", NOW + 2 * HOUR, fresh);
    assert_string_not_equal(keep[0], fresh[0]);
    assert_int_equal(wr_approval_find_token(fx->wdb, keep[0], &a, &approver, err, sizeof(err)), 0);
    assert_int_equal(wr_approval_find_token(fx->wdb, keep[1], &a, &approver, err, sizeof(err)), 0);
    assert_int_equal(wr_approval_find_token(fx->wdb, fresh[0], &a, &approver, err, sizeof(err)), 1);
    assert_string_equal(a.nonce, "bbbb");
    assert_null(a.decision); /* open again */
    assert_int_equal(a.expires_at, NOW + 2 * HOUR);
    free(approver);
    wr_approval_clear(&a);
}

static void test_decide_first_wins(void **state)
{
    struct fixture *fx = *state;
    const char *run = fx->runs[0];
    const char *hashes[2];
    struct wr_approval a;
    char err[WR_ERR_MAX];

    put(fx, run, 1, "aaaa", NOW + HOUR, hashes);
    set_status(fx, run, "waiting", NOW + 3 * HOUR);
    set_status(fx, fx->runs[1], "waiting", NOW + 3 * HOUR);

    assert_int_equal(wr_approval_decide(fx->wdb, run, 1, true, "it-lead@contoso.com", "looks right",
                                        NOW + 1000, err, sizeof(err)),
                     0);
    assert_int_equal(wr_approval_get(fx->wdb, run, 1, &a, err, sizeof(err)), 1);
    assert_string_equal(a.decision, "approved");
    assert_string_equal(a.decided_by, "it-lead@contoso.com");
    assert_int_equal(a.decided_at, NOW + 1000);
    assert_string_equal(a.reason, "looks right");
    wr_approval_clear(&a);
    /* the waiting run is woken; the other is not */
    assert_int_equal(run_next_at(fx, run), NOW + 1000);
    assert_int_equal(run_next_at(fx, fx->runs[1]), NOW + 3 * HOUR);

    /* the second decision, either way, changes nothing */
    assert_int_equal(wr_approval_decide(fx->wdb, run, 1, false, "mgr@contoso.com", "no", NOW + 2000,
                                        err, sizeof(err)),
                     WR_APPROVAL_EDECIDED);
    assert_non_null(strstr(err, "already decided"));
    assert_int_equal(wr_approval_decide(fx->wdb, run, 1, true, "mgr@contoso.com", NULL, NOW + 2000,
                                        err, sizeof(err)),
                     WR_APPROVAL_EDECIDED);
    assert_int_equal(wr_approval_get(fx->wdb, run, 1, &a, err, sizeof(err)), 1);
    assert_string_equal(a.decided_by, "it-lead@contoso.com");
    assert_int_equal(a.decided_at, NOW + 1000);
    wr_approval_clear(&a);
    assert_int_equal(run_next_at(fx, run), NOW + 1000);
    /* still the run's request a decision is for: deciding again is EDECIDED, not "none" */
    assert_int_equal(wr_approval_open_for_run(fx->wdb, run, &a, err, sizeof(err)), 1);
    assert_string_equal(a.decision, "approved");
    wr_approval_clear(&a);

    /* a rejection, without a reason */
    put(fx, fx->runs[1], 2, "dddd", NOW + HOUR, hashes);
    assert_int_equal(wr_approval_decide(fx->wdb, fx->runs[1], 2, false, "mgr@contoso.com", NULL,
                                        NOW, err, sizeof(err)),
                     0);
    assert_int_equal(wr_approval_get(fx->wdb, fx->runs[1], 2, &a, err, sizeof(err)), 1);
    assert_string_equal(a.decision, "rejected");
    assert_null(a.reason);
    wr_approval_clear(&a);
    assert_int_equal(run_next_at(fx, fx->runs[1]), NOW);

    /* no request there */
    assert_int_equal(wr_approval_decide(fx->wdb, run, 7, true, "x", NULL, NOW, err, sizeof(err)),
                     WR_APPROVAL_ENOTFOUND);
    assert_int_equal(
        wr_approval_decide(fx->wdb, "run_nope", 1, true, "x", NULL, NOW, err, sizeof(err)),
        WR_APPROVAL_ENOTFOUND);
}

static void test_decide_expired(void **state)
{
    struct fixture *fx = *state;
    const char *run = fx->runs[0];
    const char *hashes[2];
    struct wr_approval a;
    char err[WR_ERR_MAX];

    put(fx, run, 1, "aaaa", NOW + HOUR, hashes);
    set_status(fx, run, "waiting", NOW + HOUR);
    /* at expires_at exactly, it has expired */
    assert_int_equal(wr_approval_decide(fx->wdb, run, 1, true, "it-lead@contoso.com", NULL,
                                        NOW + HOUR, err, sizeof(err)),
                     WR_APPROVAL_EEXPIRED);
    assert_non_null(strstr(err, "expired"));
    assert_int_equal(wr_approval_get(fx->wdb, run, 1, &a, err, sizeof(err)), 1);
    assert_null(a.decision);
    wr_approval_clear(&a);
    assert_int_equal(run_next_at(fx, run), NOW + HOUR);
    /* a millisecond before, it has not */
    assert_int_equal(wr_approval_decide(fx->wdb, run, 1, true, "it-lead@contoso.com", NULL,
                                        NOW + HOUR - 1, err, sizeof(err)),
                     0);
}

static void test_not_waiting_not_woken(void **state)
{
    struct fixture *fx = *state;
    const char *run = fx->runs[0];
    const char *hashes[2];
    char err[WR_ERR_MAX];

    put(fx, run, 1, "aaaa", NOW + HOUR, hashes);
    set_status(fx, run, "retrying", NOW + 30000);
    assert_int_equal(wr_approval_decide(fx->wdb, run, 1, true, "x", NULL, NOW, err, sizeof(err)),
                     0);
    assert_int_equal(run_next_at(fx, run), NOW + 30000);
}

static void test_count_pending(void **state)
{
    struct fixture *fx = *state;
    const char *hashes[2];
    char err[WR_ERR_MAX];

    assert_int_equal(wr_approval_count_pending(fx->wdb, NOW), 0);
    put(fx, fx->runs[0], 1, "aaaa", NOW + HOUR, hashes);
    put(fx, fx->runs[0], 2, "bbbb", NOW + 2 * HOUR, hashes);
    put(fx, fx->runs[1], 1, "cccc", NOW + HOUR, hashes);
    set_status(fx, fx->runs[0], "waiting", NOW + HOUR);
    set_status(fx, fx->runs[1], "waiting", NOW + HOUR);
    assert_int_equal(wr_approval_count_pending(fx->wdb, NOW), 3);
    /* decided: no longer pending */
    assert_int_equal(
        wr_approval_decide(fx->wdb, fx->runs[0], 1, true, "x", NULL, NOW, err, sizeof(err)), 0);
    assert_int_equal(wr_approval_count_pending(fx->wdb, NOW), 2);
    /* expired */
    assert_int_equal(wr_approval_count_pending(fx->wdb, NOW + HOUR), 1);
    assert_int_equal(wr_approval_count_pending(fx->wdb, NOW + 2 * HOUR), 0);
    /* a run that finished (cancelled) leaves nothing pending */
    set_status(fx, fx->runs[1], "cancelled", 0);
    assert_int_equal(wr_approval_count_pending(fx->wdb, NOW), 1);
}

/* {====== two deciders at once (PostgreSQL) ====== */

struct racer {
    const char *target, *run;
    int rc; /* 100 until it returns */
    char err[WR_ERR_MAX];
};

static void *race_decide(void *arg)
{
    struct racer *r = arg;
    struct wr_db *db = NULL;
    if (wr_db_open(r->target, 0, &db, r->err, sizeof(r->err)) != 0) {
        r->rc = 99;
        return NULL;
    }
    r->rc = wr_approval_decide(db, r->run, 1, false, "mgr@contoso.com", "late", NOW + 2000, r->err,
                               sizeof(r->err));
    wr_db_close(db);
    return NULL;
}

/*
 * Two connections decide the same request at once: the first holds its transaction open (its
 * decision written, not committed) while the second decides on a thread of its own; that one
 * waits for the first's commit, then answers EDECIDED: never a second decision. PostgreSQL only:
 * READ COMMITTED is what the row lock is for (SQLite's second writer waits in BEGIN IMMEDIATE,
 * before it reads anything).
 */
static void test_concurrent_deciders(void **state)
{
    struct fixture *fx = *state;
    const char *run = fx->runs[0];
    const char *hashes[2];
    struct wr_approval a;
    char err[WR_ERR_MAX];
    if (!pg_url[0]) {
        skip();
    }
    put(fx, run, 1, "aaaa", NOW + HOUR, hashes);
    assert_int_equal(wr_db_begin(fx->wdb, true, err, sizeof(err)), 0);
    struct wr_db_stmt *st = NULL;
    assert_int_equal(wr_db_prepare(fx->wdb,
                                   "UPDATE approvals SET decision = 'approved', decided_by = "
                                   "'it-lead@contoso.com', decided_at = ? WHERE run_id = ? AND "
                                   "step_idx = 1 AND decision IS NULL",
                                   &st, err, sizeof(err)),
                     0);
    wr_db_bind_int64(st, 1, NOW + 1000);
    wr_db_bind_text(st, 2, run, -1);
    assert_int_equal(wr_db_step(st), WR_DB_DONE);
    assert_int_equal(wr_db_changes(st), 1);
    wr_db_finalize(st);

    struct racer r = {.target = fx->state, .run = run, .rc = 100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, race_decide, &r), 0);
    wr_pgtest_wait_lock(pg_url, "%approvals%");
    assert_int_equal(wr_db_commit(fx->wdb, err, sizeof(err)), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, WR_APPROVAL_EDECIDED);
    assert_non_null(strstr(r.err, "already decided"));
    assert_int_equal(wr_approval_get(fx->wdb, run, 1, &a, err, sizeof(err)), 1);
    assert_string_equal(a.decision, "approved");
    assert_string_equal(a.decided_by, "it-lead@contoso.com");
    assert_int_equal(a.decided_at, NOW + 1000);
    assert_null(a.reason);
    wr_approval_clear(&a);
}

/* }====== */

int main(int argc, char **argv)
{
    if (argc >= 2 && !(argc == 3 && strcmp(argv[1], "postgres") == 0)) {
        fprintf(stderr, "usage: test_approval_store [postgres URL_FILE]\n");
        return 2;
    }
    if (argc == 3 && !wr_pgtest_read_url("test_approval_store", argv[2], pg_url, sizeof(pg_url))) {
        return 2;
    }
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_first_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_waiting_not_woken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_deciders, setup, teardown),
    };
    return cmocka_run_group_tests_name(pg_url[0] ? "postgresql" : "sqlite", tests, NULL, NULL);
}
