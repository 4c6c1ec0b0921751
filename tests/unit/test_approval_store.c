/*
 * test_approval_store — engine/store/approval on a real journal: a request and its tokens
 * written on a journal batch and read back (by run and step, by token hash, the run's open
 * one), a request asked again replacing the old one and its tokens, decisions (the first one
 * wins, later ones EDECIDED; an expired request EEXPIRED; an unknown one ENOTFOUND), the
 * waiting run woken (next_at) and no other, and the pending count.
 *
 * Each test gets a fresh store: the journal creates it and commits one event with two runs;
 * the tests then read and decide on their own connection (wr_journal_open_reader), as the
 * decision page, `weir approve` and the admin API do.
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
#include <unistd.h>

#include "engine/base/captoken.h"
#include "engine/base/strutil.h"
#include "engine/store/approval.h"
#include "engine/store/db.h"
#include "engine/store/journal.h"

#define NOW  1714572000000LL
#define HOUR (3600 * 1000LL)

struct fixture {
    char dir[64];
    char *state;
    struct event_base *base;
    struct wr_journal *journal;
    sqlite3 *db;
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

/* Submits b through the journal and waits for its commit. */
static void commit(struct fixture *fx, struct wr_journal_batch *b)
{
    fx->committed = false;
    assert_int_equal(wr_journal_submit(fx->journal, b, on_committed, fx), 0);
    event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
    assert_true(fx->committed);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg);
    }
}

static int setup(void **state)
{
    struct fixture *fx = wr_xcalloc(1, sizeof(*fx));
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
    fx->db = fx->wdb ? wr_db_sqlite(fx->wdb) : NULL;
    if (!fx->db) {
        fail_msg("%s", err);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    wr_journal_close_reader(fx->wdb);
    wr_journal_close(fx->journal);
    event_base_free(fx->base);
    char *cmd = wr_xasprintf("rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
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
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    assert_int_equal(
        sqlite3_prepare_v2(fx->db, "SELECT next_at FROM runs WHERE id = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static void set_status(struct fixture *fx, const char *run, const char *status, int64_t next_at)
{
    char *sql = sqlite3_mprintf("UPDATE runs SET status = %Q, next_at = %lld WHERE id = %Q", status,
                                (long long)next_at, run);
    exec_sql(fx->db, sql);
    sqlite3_free(sql);
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

int main(void)
{
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_first_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_waiting_not_woken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
