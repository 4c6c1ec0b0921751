/*
 * test_fail_limit — engine/net/fail_limit on an injected clock: failures per address within a
 * window, the lockout and its end, addresses independent, the table bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "engine/net/fail_limit.h"

static int64_t now_ms;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return now_ms;
}

static void test_lockout_after_max_within_window(void **state)
{
    (void)state;
    now_ms = 1000;
    struct wr_fail_limit *l = wr_fail_limit_new(3, 60000, fake_clock, NULL);
    int64_t retry = -1;
    assert_false(wr_fail_limit_blocked(l, "192.0.2.1", &retry));
    assert_int_equal(retry, 0);
    assert_false(wr_fail_limit_fail(l, "192.0.2.1"));
    now_ms += 1000;
    assert_false(wr_fail_limit_fail(l, "192.0.2.1"));
    assert_false(wr_fail_limit_blocked(l, "192.0.2.1", &retry));
    now_ms += 1000;
    assert_true(wr_fail_limit_fail(l, "192.0.2.1")); /* the third: refused from now */
    assert_true(wr_fail_limit_blocked(l, "192.0.2.1", &retry));
    assert_int_equal(retry, 60000);
    assert_false(wr_fail_limit_fail(l, "192.0.2.1")); /* said once */
    /* another address is not touched */
    assert_false(wr_fail_limit_blocked(l, "192.0.2.2", &retry));
    now_ms += 59999;
    assert_true(wr_fail_limit_blocked(l, "192.0.2.1", &retry));
    assert_int_equal(retry, 1);
    now_ms += 1;
    assert_false(wr_fail_limit_blocked(l, "192.0.2.1", &retry));
    /* afterwards it starts afresh: three more failures to be refused again */
    assert_false(wr_fail_limit_fail(l, "192.0.2.1"));
    assert_false(wr_fail_limit_fail(l, "192.0.2.1"));
    assert_true(wr_fail_limit_fail(l, "192.0.2.1"));
    wr_fail_limit_free(l);
}

static void test_failures_spread_out_are_forgiven(void **state)
{
    (void)state;
    now_ms = 0;
    struct wr_fail_limit *l = wr_fail_limit_new(3, 1000, fake_clock, NULL);
    int64_t retry;
    for (int i = 0; i < 20; i++) {
        assert_false(wr_fail_limit_fail(l, "::1"));
        now_ms += 600; /* at most two in any window */
        if (i % 2) {
            now_ms += 500;
        }
    }
    assert_false(wr_fail_limit_blocked(l, "::1", &retry));
    wr_fail_limit_free(l);
}

static void test_table_is_bounded(void **state)
{
    (void)state;
    now_ms = 0;
    struct wr_fail_limit *l = wr_fail_limit_new(2, 60000, fake_clock, NULL);
    int64_t retry;
    assert_false(wr_fail_limit_fail(l, "198.51.100.7"));
    assert_true(wr_fail_limit_fail(l, "198.51.100.7"));
    /* many other addresses fail once each: the table keeps its size, and the refused address,
       which failed least recently, is the first pushed out */
    for (int i = 0; i < WR_FAIL_LIMIT_SLOTS * 4; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 250, i % 250);
        now_ms++;
        assert_false(wr_fail_limit_fail(l, addr));
    }
    assert_false(wr_fail_limit_blocked(l, "198.51.100.7", &retry));
    wr_fail_limit_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lockout_after_max_within_window),
        cmocka_unit_test(test_failures_spread_out_are_forgiven),
        cmocka_unit_test(test_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
