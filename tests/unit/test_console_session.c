/*
 * test_console_session — engine/console/session: a session's cookie and CSRF token have the
 * announced shape and differ between sessions; a live cookie is found and a wrong, altered or
 * malformed one is not; sessions expire after 12 h idle on an injected clock (use starts the
 * idle time again); the 65th session evicts the one idle the longest; a CSRF token is accepted
 * only with its own session's cookie; a dropped session is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/console/session.h"

#define HOUR ((int64_t)60 * 60 * 1000)

struct fake_clock {
    int64_t now;
};

static int64_t fake_now(void *arg)
{
    return ((struct fake_clock *)arg)->now;
}

static struct wr_sessions *new_table(struct fake_clock *clk)
{
    char err[WR_ERR_MAX];
    struct wr_sessions *s = wr_sessions_new(fake_now, clk, err, sizeof(err));
    assert_non_null(s);
    return s;
}

static bool is_hex64(const char *v)
{
    return strlen(v) == WR_SESSION_HEX_LEN && strspn(v, "0123456789abcdef") == WR_SESSION_HEX_LEN;
}

static void create(struct wr_sessions *s, char cookie[WR_SESSION_HEX_LEN + 1],
                   char csrf[WR_SESSION_HEX_LEN + 1])
{
    char err[WR_ERR_MAX];
    assert_int_equal(wr_sessions_create(s, cookie, csrf, err, sizeof(err)), 0);
}

static void test_create_and_find(void **state)
{
    (void)state;
    struct fake_clock clk = {1000};
    struct wr_sessions *s = new_table(&clk);
    char c1[65], t1[65], c2[65], t2[65], got[65];

    create(s, c1, t1);
    create(s, c2, t2);
    assert_true(is_hex64(c1) && is_hex64(t1) && is_hex64(c2) && is_hex64(t2));
    assert_string_not_equal(c1, c2);
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(c1, t1);
    assert_int_equal(wr_sessions_count(s), 2);

    assert_true(wr_sessions_find(s, c1, got));
    assert_string_equal(got, t1); /* the same token again (a page reload asks for it) */
    assert_true(wr_sessions_find(s, c2, got));
    assert_string_equal(got, t2);
    assert_true(wr_sessions_find(s, c1, NULL));
    wr_sessions_free(s);
}

static void test_wrong_cookie(void **state)
{
    (void)state;
    struct fake_clock clk = {0};
    struct wr_sessions *s = new_table(&clk);
    char c[65], t[65], other[65];

    create(s, c, t);
    /* one digit changed */
    strcpy(other, c);
    other[10] = other[10] == '0' ? '1' : '0';
    assert_false(wr_sessions_find(s, other, NULL));
    /* the CSRF token is not a cookie */
    assert_false(wr_sessions_find(s, t, NULL));
    /* malformed: short, long, upper case, empty, NULL */
    assert_false(wr_sessions_find(s, "abc", NULL));
    char longer[70];
    snprintf(longer, sizeof(longer), "%s00", c);
    assert_false(wr_sessions_find(s, longer, NULL));
    char upper[65];
    for (size_t i = 0; i <= WR_SESSION_HEX_LEN; i++) {
        upper[i] = c[i] >= 'a' && c[i] <= 'f' ? (char)(c[i] - 'a' + 'A') : c[i];
    }
    if (strcmp(upper, c) != 0) {
        assert_false(wr_sessions_find(s, upper, NULL));
    }
    assert_false(wr_sessions_find(s, "", NULL));
    assert_false(wr_sessions_find(s, NULL, NULL));
    /* an all-zero value does not match an empty slot */
    char zeros[65];
    memset(zeros, '0', 64);
    zeros[64] = '\0';
    assert_false(wr_sessions_find(s, zeros, NULL));
    assert_true(wr_sessions_find(s, c, NULL));
    wr_sessions_free(s);
}

static void test_expiry(void **state)
{
    (void)state;
    struct fake_clock clk = {5 * HOUR};
    struct wr_sessions *s = new_table(&clk);
    char a[65], at[65], b[65], bt[65];

    create(s, a, at);
    create(s, b, bt);
    clk.now += 11 * HOUR;
    assert_true(wr_sessions_find(s, a, NULL)); /* a is used: its 12 h start again */
    clk.now += 1 * HOUR;                       /* b idle 12 h: gone; a idle 1 h */
    assert_false(wr_sessions_find(s, b, NULL));
    assert_false(wr_sessions_csrf_ok(s, b, bt));
    assert_true(wr_sessions_find(s, a, NULL));
    assert_int_equal(wr_sessions_count(s), 1);
    clk.now += WR_SESSION_IDLE_MS - 1;
    assert_true(wr_sessions_csrf_ok(s, a, at)); /* one ms short of the idle limit */
    clk.now += WR_SESSION_IDLE_MS;
    assert_false(wr_sessions_find(s, a, NULL));
    assert_int_equal(wr_sessions_count(s), 0);
    wr_sessions_free(s);
}

static void test_eviction_at_64(void **state)
{
    (void)state;
    struct fake_clock clk = {0};
    struct wr_sessions *s = new_table(&clk);
    char cookies[WR_SESSION_MAX + 2][65], t[65];

    for (int i = 0; i < WR_SESSION_MAX; i++) {
        clk.now = i;
        create(s, cookies[i], t);
    }
    assert_int_equal(wr_sessions_count(s), WR_SESSION_MAX);
    /* the first is used now, so the second is the one idle the longest */
    clk.now = 100;
    assert_true(wr_sessions_find(s, cookies[0], NULL));
    clk.now = 101;
    create(s, cookies[WR_SESSION_MAX], t);
    assert_int_equal(wr_sessions_count(s), WR_SESSION_MAX);
    assert_false(wr_sessions_find(s, cookies[1], NULL));
    assert_true(wr_sessions_find(s, cookies[0], NULL));
    assert_true(wr_sessions_find(s, cookies[2], NULL));
    assert_true(wr_sessions_find(s, cookies[WR_SESSION_MAX], NULL));
    /* and one more: the fourth goes (created at 3, never used since; the finds above used the
       third at 101) */
    clk.now = 102;
    create(s, cookies[WR_SESSION_MAX + 1], t);
    assert_false(wr_sessions_find(s, cookies[3], NULL));
    assert_true(wr_sessions_find(s, cookies[2], NULL));
    assert_true(wr_sessions_find(s, cookies[WR_SESSION_MAX + 1], NULL));
    assert_int_equal(wr_sessions_count(s), WR_SESSION_MAX);
    wr_sessions_free(s);
}

static void test_csrf(void **state)
{
    (void)state;
    struct fake_clock clk = {0};
    struct wr_sessions *s = new_table(&clk);
    char a[65], at[65], b[65], bt[65], bad[65];

    create(s, a, at);
    create(s, b, bt);
    assert_true(wr_sessions_csrf_ok(s, a, at));
    assert_true(wr_sessions_csrf_ok(s, b, bt));
    /* another session's token, a changed one, none, or no cookie: refused */
    assert_false(wr_sessions_csrf_ok(s, a, bt));
    assert_false(wr_sessions_csrf_ok(s, b, at));
    strcpy(bad, at);
    bad[63] = bad[63] == 'a' ? 'b' : 'a';
    assert_false(wr_sessions_csrf_ok(s, a, bad));
    assert_false(wr_sessions_csrf_ok(s, a, NULL));
    assert_false(wr_sessions_csrf_ok(s, a, ""));
    assert_false(wr_sessions_csrf_ok(s, NULL, at));
    assert_false(wr_sessions_csrf_ok(s, a, a)); /* the cookie is not its own token */
    /* a dropped session's token is worth nothing */
    assert_true(wr_sessions_drop(s, a));
    assert_false(wr_sessions_drop(s, a));
    assert_false(wr_sessions_find(s, a, NULL));
    assert_false(wr_sessions_csrf_ok(s, a, at));
    assert_true(wr_sessions_csrf_ok(s, b, bt));
    wr_sessions_free(s);

    /* another table (a restart): neither the cookie nor the token carries over */
    struct wr_sessions *s2 = new_table(&clk);
    assert_false(wr_sessions_find(s2, b, NULL));
    assert_false(wr_sessions_csrf_ok(s2, b, bt));
    wr_sessions_free(s2);
    wr_sessions_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_find),
        cmocka_unit_test(test_wrong_cookie),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_eviction_at_64),
        cmocka_unit_test(test_csrf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
