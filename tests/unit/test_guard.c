/*
 * test_guard — the mass-change brake's arithmetic (engine/exec/guard): the sliding window of
 * distinct users, the lower of max and percent, the brake staying on while runs are held, and a
 * run's own users passing. `now` is given, so no clock is involved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/exec/guard.h"

#define H (3600LL * 1000)

static enum wr_guard_verdict decide(struct wr_guard *g, const struct wr_guard_limits *l,
                                    const char *user, const char *run, int64_t now, int64_t users,
                                    int64_t held, char *why)
{
    int64_t limit, count;
    const char *which;
    return wr_guard_decide(g, l, user, run, now, users, held, &limit, &count, &which, why, 256);
}

static void test_max_counts_distinct_users(void **state)
{
    (void)state;
    struct wr_guard *g = wr_guard_new();
    struct wr_guard_limits l = {.set = true, .max = 3, .window_ms = H};
    char why[256];
    const char *users[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(decide(g, &l, users[i], users[i], 1000 + i, -1, 0, why), WR_GUARD_COUNT);
        wr_guard_note(g, users[i], users[i], 1000 + i);
    }
    assert_int_equal(wr_guard_count(g, 2000, H), 3);
    /* a fourth user is one too many */
    assert_int_equal(decide(g, &l, "d", "run-d", 2000, -1, 0, why), WR_GUARD_HOLD);
    assert_non_null(strstr(why, "3 users changed by destructive steps in the last 1h, limit 3"));
    assert_non_null(strstr(why, "guard.destructive.max"));
    /* a user already changed (by another run) counts once: not a new one */
    assert_int_equal(decide(g, &l, "a", "run-a2", 2000, -1, 0, why), WR_GUARD_COUNT);
    /* the run's own user passes without counting again */
    assert_int_equal(decide(g, &l, "b", "b", 2000, -1, 0, why), WR_GUARD_PASS);
    wr_guard_free(g);
}

static void test_window_slides(void **state)
{
    (void)state;
    struct wr_guard *g = wr_guard_new();
    struct wr_guard_limits l = {.set = true, .max = 2, .window_ms = H};
    char why[256];
    wr_guard_note(g, "a", "r1", 0);
    wr_guard_note(g, "b", "r2", 30 * 60 * 1000);
    assert_int_equal(decide(g, &l, "c", "r3", 45 * 60 * 1000, -1, 0, why), WR_GUARD_HOLD);
    /* an hour after "a", only "b" is left in the window */
    assert_int_equal(wr_guard_count(g, H + 1, H), 1);
    assert_int_equal(decide(g, &l, "c", "r3", H + 1, -1, 0, why), WR_GUARD_COUNT);
    /* pruning keeps everything younger than the longest window */
    wr_guard_prune(g, H + 1);
    assert_int_equal(wr_guard_count(g, H + 1, 30LL * 24 * H), 2);
    wr_guard_prune(g, 31LL * 24 * H);
    assert_int_equal(wr_guard_count(g, 31LL * 24 * H, 30LL * 24 * H), 0);
    wr_guard_free(g);
}

static void test_brake_stays_on_while_held(void **state)
{
    (void)state;
    struct wr_guard *g = wr_guard_new();
    struct wr_guard_limits l = {.set = true, .max = 100, .window_ms = H};
    char why[256];
    assert_int_equal(decide(g, &l, "a", "r1", 10, -1, 2, why), WR_GUARD_HOLD);
    assert_non_null(strstr(why, "the brake is on: 2 runs are held"));
    /* but a run's own user, counted before the brake went on, still passes */
    wr_guard_note(g, "b", "r2", 5);
    assert_int_equal(decide(g, &l, "b", "r2", 10, -1, 2, why), WR_GUARD_PASS);
    wr_guard_free(g);
}

static void test_lower_limit_wins(void **state)
{
    (void)state;
    struct wr_guard_limits l = {.set = true, .max = 20, .percent = 2, .window_ms = H};
    const char *which;
    assert_int_equal(wr_guard_limit(&l, 200, &which), 4); /* 2% of 200 */
    assert_string_equal(which, "percent");
    assert_int_equal(wr_guard_limit(&l, 100000, &which), 20); /* 2% of 100k is 2000 */
    assert_string_equal(which, "max");
    assert_int_equal(wr_guard_limit(&l, -1, &which), 20); /* count unknown: max alone */
    struct wr_guard_limits p = {.set = true, .percent = 0.5, .window_ms = H};
    assert_int_equal(wr_guard_limit(&p, 10, &which), 1); /* rounded down, at least one */
    assert_int_equal(wr_guard_limit(&p, 1000, &which), 5);
    assert_int_equal(wr_guard_limit(&p, -1, &which), -1); /* nothing to compare with */

    struct wr_guard *g = wr_guard_new();
    char why[256];
    for (int i = 0; i < 4; i++) {
        char u[8];
        snprintf(u, sizeof(u), "u%d", i);
        wr_guard_note(g, u, u, 100);
    }
    assert_int_equal(decide(g, &l, "u9", "r9", 200, 200, 0, why), WR_GUARD_HOLD);
    assert_non_null(strstr(why, "limit 4 (2% of the tenant's 200 users"));
    wr_guard_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_counts_distinct_users),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_brake_stays_on_while_held),
        cmocka_unit_test(test_lower_limit_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
