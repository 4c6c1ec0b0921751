/*
 * test_run_gate — the run executor's gate (engine/exec/run.h) and a trigger's memory
 * (engine/store/trigger_state.h), at the C level on a real journal and libevent loop:
 *   - a gate that says GO lets the run's steps run; CANCEL ends the run `cancelled` with the
 *     reason and no step row; LATER leaves it `queued` with next_at 30 s on and the reason;
 *     a gate that has nothing to check (returns false) is never asked again for that run;
 *   - trigger_state: puts ride on an ingest batch and commit with its events; a failed batch
 *     stores neither; clear and delete remove; load reads a scope by prefix, and a journal
 *     without the table (or no file at all) remembers nothing.
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

#include "engine/base/clock.h"
#include "engine/base/diag.h"
#include "engine/base/strutil.h"
#include "engine/exec/run.h"
#include "engine/lang/workflow.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"
#include "engine/store/trigger_state.h"

/* A schedule-triggered workflow whose one step is a Lua hook: no Graph needed. */
static const char WORKFLOW[] = "name: gated\n"
                               "trigger:\n"
                               "  schedule: { every: 1h }\n"
                               "steps:\n"
                               "  - id: map\n"
                               "    script: map.lua\n";
static const char SCRIPT[] = "function map(event) return { seen = event.n } end\n";

struct fixture {
    char dir[64];
    char *state;
    struct event_base *base;
    struct wr_journal *j;
    struct wr_ingest *in;
    struct wr_workflow_set *set;
    struct wr_runner *r;
    /* the gate under test */
    enum wr_run_gate_verdict verdict;
    bool check; /* false: the gate has nothing to check */
    int asked;
    struct event *deliver; /* the verdict, on a later loop turn */
    wr_run_gate_done_fn done;
    void *token;
    /* the last ingest */
    int committed;
};

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = wr_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
    struct fixture *fx = arg;
    (void)fd;
    (void)what;
    fx->done(fx->token, fx->verdict, fx->verdict == WR_GATE_GO ? NULL : "the date moved");
}

static bool gate(void *arg, const struct wr_workflow *wf, struct json_object *event,
                 wr_run_gate_done_fn done, void *token)
{
    struct fixture *fx = arg;
    assert_string_equal(wf->name, "gated");
    assert_non_null(json_object_object_get(event, "n"));
    fx->asked++;
    if (!fx->check) {
        return false;
    }
    fx->done = done;
    fx->token = token;
    event_active(fx->deliver, 0, 0); /* never inside the call */
    return true;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct wr_diags d = {0};
    char err[WR_ERR_MAX];
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/weir-gate-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->state = wr_xasprintf("%s/weir.db", fx->dir);
    write_file(fx->dir, "gated.yaml", WORKFLOW);
    write_file(fx->dir, "map.lua", SCRIPT);
    evthread_use_pthreads();
    fx->base = event_base_new();
    fx->j = wr_journal_open(fx->base, fx->state, 0, err, sizeof(err));
    assert_non_null(fx->j);
    fx->in = wr_ingest_new(fx->base, fx->j);
    char *wfpath = wr_xasprintf("%s/gated.yaml", fx->dir);
    const char *paths[] = {wfpath};
    assert_int_equal(wr_workflow_set_load(paths, 1, fx->dir, NULL, &fx->set, &d), 0);
    free(wfpath);
    struct wr_runner_options ro = {.poll_ms = 20};
    fx->r = wr_runner_new(fx->base, fx->j, fx->state, fx->set, NULL, NULL, &ro, err, sizeof(err));
    assert_non_null(fx->r);
    wr_ingest_on_runs(fx->in, wr_runner_notify, fx->r);
    wr_runner_set_gate(fx->r, gate, fx);
    fx->deliver = event_new(fx->base, -1, 0, on_deliver, fx);
    fx->check = true;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    wr_runner_stop(fx->r);
    for (int i = 0; i < 500 && wr_runner_active(fx->r) > 0; i++) {
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    wr_runner_free(fx->r);
    while (wr_journal_pending(fx->j) > 0) {
        event_base_loop(fx->base, EVLOOP_ONCE);
    }
    wr_ingest_free(fx->in);
    wr_journal_close(fx->j);
    wr_workflow_set_free(fx->set);
    event_free(fx->deliver);
    event_base_free(fx->base);
    char *cmd = wr_xasprintf("rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(fx->state);
    free(fx);
    return 0;
}

static void on_committed(void *arg, const struct wr_ingest_result *res)
{
    struct fixture *fx = arg;
    assert_int_equal(res->rc, 0);
    fx->committed++;
}

/* Stores one event for the workflow; its run starts through the gate. */
static void fire(struct fixture *fx)
{
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "n", json_object_new_int(7));
    struct wr_ingest_event e = {.event = ev};
    const struct wr_workflow *wf = fx->set->items[0];
    assert_int_equal(wr_ingest_submit(fx->in, "test", NULL, &wf, 1, &e, 1, on_committed, fx), 0);
    json_object_put(ev);
}

/* One row of the runs table: status, error, next_at (0 for NULL) and its step rows. */
struct row {
    char status[32];
    char error[256];
    int64_t next_at;
    int steps;
};

static bool read_run(const struct fixture *fx, struct row *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool found = false;
    assert_int_equal(sqlite3_open(fx->state, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT status, coalesce(error, ''), coalesce(next_at, 0),"
                                        " (SELECT count(*) FROM steps s WHERE s.run_id = r.id)"
                                        " FROM runs r",
                                        -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out->status, sizeof(out->status), "%s", sqlite3_column_text(st, 0));
        snprintf(out->error, sizeof(out->error), "%s", sqlite3_column_text(st, 1));
        out->next_at = sqlite3_column_int64(st, 2);
        out->steps = sqlite3_column_int(st, 3);
        found = true;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* Runs the loop until the run's status is one of want ("a|b"), at most 5 s. */
static struct row run_until(struct fixture *fx, const char *want)
{
    struct row r;
    memset(&r, 0, sizeof(r));
    int64_t end = wr_clock_mono_ms() + 5000;
    while (wr_clock_mono_ms() < end) {
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (read_run(fx, &r) && strstr(want, r.status) && wr_runner_active(fx->r) == 0) {
            return r;
        }
        usleep(2000);
    }
    fail_msg("the run did not reach %s (it is '%s')", want, r.status);
    return r;
}

static void test_go_runs_the_steps(void **state)
{
    struct fixture *fx = *state;
    fx->verdict = WR_GATE_GO;
    fire(fx);
    struct row r = run_until(fx, "succeeded");
    assert_int_equal(fx->asked, 1);
    assert_int_equal(r.steps, 1);
}

static void test_cancel_ends_the_run_with_the_reason(void **state)
{
    struct fixture *fx = *state;
    fx->verdict = WR_GATE_CANCEL;
    fire(fx);
    struct row r = run_until(fx, "cancelled");
    assert_int_equal(fx->asked, 1);
    assert_string_equal(r.error, "the date moved");
    assert_int_equal(r.steps, 0); /* not one step began */
}

static void test_later_defers_the_run(void **state)
{
    struct fixture *fx = *state;
    fx->verdict = WR_GATE_LATER;
    int64_t before = wr_clock_wall_ms();
    fire(fx);
    struct row r = run_until(fx, "queued");
    /* Deferred: next_at set, the reason shown, nothing run; asked once, not in a loop. */
    for (int64_t end = wr_clock_mono_ms() + 200; wr_clock_mono_ms() < end;) {
        event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(2000);
    }
    read_run(fx, &r);
    assert_string_equal(r.status, "queued");
    assert_true(r.next_at >= before + 30000 && r.next_at <= wr_clock_wall_ms() + 30000);
    assert_string_equal(r.error, "the date moved");
    assert_int_equal(r.steps, 0);
    assert_int_equal(fx->asked, 1);
}

static void test_nothing_to_check(void **state)
{
    struct fixture *fx = *state;
    fx->check = false;
    fire(fx);
    struct row r = run_until(fx, "succeeded");
    assert_int_equal(fx->asked, 1);
    assert_int_equal(r.steps, 1);
}

/* {====== trigger_state ====== */

struct seen {
    char names[8][64];
    char values[8][64];
    int n;
};

static void on_state(void *arg, const char *name, const char *value, int64_t updated_at)
{
    struct seen *s = arg;
    assert_true(updated_at > 0);
    assert_true(s->n < 8);
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    snprintf(s->values[s->n], sizeof(s->values[0]), "%s", value);
    s->n++;
}

static void submit_wait(struct fixture *fx, struct wr_ingest_batch *b)
{
    int before = fx->committed;
    assert_int_equal(wr_ingest_batch_submit(fx->in, b, on_committed, fx), 0);
    while (fx->committed == before) {
        event_base_loop(fx->base, EVLOOP_ONCE);
    }
}

static void test_state_commits_with_the_batch(void **state)
{
    struct fixture *fx = *state;
    char err[WR_ERR_MAX];
    struct seen s = {0};
    /* No file yet (another path): nothing remembered, no error. */
    char *none = wr_xasprintf("%s/none.db", fx->dir);
    assert_int_equal(wr_trigger_state_load(none, "x", NULL, on_state, &s, err, sizeof(err)), 0);
    free(none);

    struct wr_ingest_batch *b = wr_ingest_batch_new("user-change mover", NULL);
    wr_trigger_state_put(b, "user-change mover", "delta", "https://graph/delta?t=1");
    wr_trigger_state_put(b, "user-change mover", "u:1", "{\"department\":\"Sales\"}");
    wr_trigger_state_put(b, "user-change mover", "u:2", "{\"department\":\"IT\"}");
    wr_trigger_state_put(b, "user-change other", "u:1", "{}");
    submit_wait(fx, b);
    assert_int_equal(
        wr_trigger_state_load(fx->state, "user-change mover", "u:", on_state, &s, err, sizeof(err)),
        2);
    assert_string_equal(s.names[0], "u:1");
    assert_string_equal(s.values[1], "{\"department\":\"IT\"}");

    /* A put replaces, NULL removes, clear empties one scope and a later put still applies. */
    b = wr_ingest_batch_new("user-change mover", NULL);
    wr_trigger_state_put(b, "user-change mover", "u:1", "{\"department\":\"HR\"}");
    wr_trigger_state_put(b, "user-change mover", "u:2", NULL);
    submit_wait(fx, b);
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        wr_trigger_state_load(fx->state, "user-change mover", NULL, on_state, &s, err, sizeof(err)),
        2);
    assert_string_equal(s.names[0], "delta");
    assert_string_equal(s.values[1], "{\"department\":\"HR\"}");
    b = wr_ingest_batch_new("user-change mover", NULL);
    wr_trigger_state_clear(b, "user-change mover");
    wr_trigger_state_put(b, "user-change mover", "delta", "https://graph/delta?t=2");
    submit_wait(fx, b);
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        wr_trigger_state_load(fx->state, "user-change mover", NULL, on_state, &s, err, sizeof(err)),
        1);
    assert_string_equal(s.values[0], "https://graph/delta?t=2");
    assert_int_equal(
        wr_trigger_state_load(fx->state, "user-change other", NULL, NULL, NULL, err, sizeof(err)),
        1);
}

static void on_failed(void *arg, const struct wr_ingest_result *res)
{
    struct fixture *fx = arg;
    assert_true(res->rc < 0);
    fx->committed++;
}

static void test_state_fails_with_the_batch(void **state)
{
    struct fixture *fx = *state;
    char err[WR_ERR_MAX];
    /* A statement of the same transaction fails: the state put before it is not stored. */
    struct wr_ingest_batch *b = wr_ingest_batch_new("s", NULL);
    wr_trigger_state_put(b, "scope", "name", "value");
    wr_journal_batch_add_op(wr_ingest_batch_journal(b), "INSERT INTO no_such_table VALUES (1)", "");
    int before = fx->committed;
    assert_int_equal(wr_ingest_batch_submit(fx->in, b, on_failed, fx), 0);
    while (fx->committed == before) {
        event_base_loop(fx->base, EVLOOP_ONCE);
    }
    assert_int_equal(wr_trigger_state_load(fx->state, "scope", NULL, NULL, NULL, err, sizeof(err)),
                     0);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_go_runs_the_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_ends_the_run_with_the_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_defers_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_to_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_commits_with_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_fails_with_the_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
