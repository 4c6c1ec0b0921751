/*
 * test_action_run — unit tests for engine/exec/action_run: the engine owns an action's state
 * (wr_action_state: the clear function runs once, after the outcome was delivered on a later
 * loop turn, however the step ends) and the user-lookup helpers actions share
 * (wr_action_find_user's refusal of a bad reference, wr_action_fail_lookup's replica lag and
 * argument prefix). No Graph: the actions here are small fakes.
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

#include "actions/action.h"
#include "engine/exec/action_run.h"
#include "engine/graph/directory.h"

/* What a test saw: the order of events and the outcome. */
struct seen {
    int done;
    int cleared;
    bool cleared_before_done;
    bool ok;
    bool retriable;
    bool replica_lag;
    char error[512];
};

static struct seen seen;

struct fake_state {
    char *owned; /* released by clear */
    int value;
};

static void fake_clear(void *state)
{
    struct fake_state *st = state;
    free(st->owned);
    seen.cleared++;
    seen.cleared_before_done = seen.done == 0;
}

static void on_done(void *arg, const struct wr_action_outcome *out)
{
    (void)arg;
    seen.done++;
    seen.ok = out->ok;
    seen.retriable = out->retriable;
    seen.replica_lag = out->replica_lag;
    snprintf(seen.error, sizeof(seen.error), "%s", out->error ? out->error : "");
}

static struct fake_state *fake_state(struct wr_action_ctx *ctx)
{
    struct fake_state *st = wr_action_state(ctx, sizeof(*st), fake_clear);
    assert_ptr_equal(wr_action_state(ctx, sizeof(*st), fake_clear), st); /* one per execution */
    assert_null(st->owned);                                              /* zeroed */
    st->owned = strdup("owned by the state");
    return st;
}

static void succeed_run(struct wr_action_ctx *ctx)
{
    fake_state(ctx);
    wr_action_succeed(ctx, NULL);
}

static void fail_run(struct wr_action_ctx *ctx)
{
    struct fake_state *st = fake_state(ctx);
    /* The state is intact while failing: the message may name what it holds. */
    wr_action_fail(ctx, NULL, true, "failed with %s", st->owned);
}

static void bad_user_run(struct wr_action_ctx *ctx)
{
    fake_state(ctx);
    assert_false(wr_action_find_user(ctx, NULL, "nobody", NULL, NULL, NULL));
}

static void bad_manager_run(struct wr_action_ctx *ctx)
{
    fake_state(ctx);
    assert_false(wr_action_find_user(ctx, "manager", "", NULL, NULL, NULL));
}

static void lag_run(struct wr_action_ctx *ctx)
{
    struct wr_directory_result r = {
        .not_found = true, .error = "user 'a@contoso.com' not found", .created_ago_ms = 1500};
    wr_action_fail_lookup(ctx, "manager", &r);
}

static void not_found_run(struct wr_action_ctx *ctx)
{
    struct wr_directory_result r = {
        .not_found = true, .error = "user 'a@contoso.com' not found", .created_ago_ms = -1};
    wr_action_fail_lookup(ctx, NULL, &r);
}

/* Runs execute to its outcome on a fresh loop. */
static void run(void (*execute)(struct wr_action_ctx *ctx))
{
    const struct wr_action action = {.name = "fake", .execute = execute};
    struct event_base *base = event_base_new();
    struct wr_action_env env = {.base = base};
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(wr_action_start(&env, &action, NULL, on_done, NULL), 0);
    assert_int_equal(seen.done, 0); /* never on the action's stack */
    event_base_dispatch(base);
    assert_int_equal(seen.done, 1);
    event_base_free(base);
}

static void test_state_cleared_after_success(void **state)
{
    (void)state;
    run(succeed_run);
    assert_true(seen.ok);
    assert_int_equal(seen.cleared, 1);
    assert_false(seen.cleared_before_done);
}

static void test_state_cleared_after_failure(void **state)
{
    (void)state;
    run(fail_run);
    assert_false(seen.ok);
    assert_true(seen.retriable);
    assert_string_equal(seen.error, "failed with owned by the state");
    assert_int_equal(seen.cleared, 1);
    assert_false(seen.cleared_before_done);
}

static void test_find_user_refuses_a_bad_reference(void **state)
{
    (void)state;
    run(bad_user_run);
    assert_false(seen.ok);
    assert_false(seen.retriable);
    assert_string_equal(seen.error, "'nobody' is not a user reference: expected an object id, a "
                                    "userPrincipalName or mail address, or employeeId:VALUE");
    assert_int_equal(seen.cleared, 1);

    run(bad_manager_run);
    assert_false(seen.ok);
    assert_non_null(strstr(seen.error, "manager: 'manager' is empty: give an object id"));
    assert_int_equal(seen.cleared, 1);
}

static void test_fail_lookup(void **state)
{
    (void)state;
    run(lag_run);
    assert_false(seen.ok);
    assert_true(seen.retriable);
    assert_true(seen.replica_lag);
    assert_non_null(strstr(seen.error, "manager: user 'a@contoso.com' not found (replica lag: "));

    run(not_found_run);
    assert_false(seen.ok);
    assert_false(seen.retriable);
    assert_false(seen.replica_lag);
    assert_string_equal(seen.error, "user 'a@contoso.com' not found");
    assert_int_equal(seen.cleared, 0); /* no state was asked for */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_cleared_after_success),
        cmocka_unit_test(test_state_cleared_after_failure),
        cmocka_unit_test(test_find_user_refuses_a_bad_reference),
        cmocka_unit_test(test_fail_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
