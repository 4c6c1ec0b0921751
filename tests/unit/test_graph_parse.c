/*
 * test_graph_parse — unit tests for the pure parts of engine/graph: Retry-After parsing
 * (delta-seconds, fractional seconds, HTTP-dates in the past and future, garbage, caps) and
 * percent-encoding with wr_graph_escape.
 *
 * No network and no event loop: tests/e2e/test_graph_client.c drives the client itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/graph.h"

/* 2024-01-01T00:00:00Z in Unix epoch ms: a fixed "now" for every date test. */
#define NOW_MS 1704067200000LL
#define DAY_MS (24LL * 3600 * 1000)

static void test_delta_seconds(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("0", NOW_MS), 0);
    assert_int_equal(wr_graph_parse_retry_after("1", NOW_MS), 1000);
    assert_int_equal(wr_graph_parse_retry_after("120", NOW_MS), 120000);
    assert_int_equal(wr_graph_parse_retry_after(" 7 ", NOW_MS), 7000);
    assert_int_equal(wr_graph_parse_retry_after("7\t", NOW_MS), 7000);
}

static void test_fractional_seconds(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("1.250", NOW_MS), 1250);
    assert_int_equal(wr_graph_parse_retry_after("2.128", NOW_MS), 2128);
    assert_int_equal(wr_graph_parse_retry_after("0.5", NOW_MS), 500);
    assert_int_equal(wr_graph_parse_retry_after("0.000", NOW_MS), 0);
    /* Below a millisecond rounds up: a retry is never sent early. */
    assert_int_equal(wr_graph_parse_retry_after("1.2501", NOW_MS), 1251);
    assert_int_equal(wr_graph_parse_retry_after("1.2500", NOW_MS), 1250);
}

static void test_http_dates(void **state)
{
    (void)state;
    /* In the past, and exactly now: no wait. */
    assert_int_equal(wr_graph_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW_MS), 0);
    assert_int_equal(wr_graph_parse_retry_after("Mon, 01 Jan 2024 00:00:00 GMT", NOW_MS), 0);
    /* In the future: IMF-fixdate, RFC 850 and asctime forms. */
    assert_int_equal(wr_graph_parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", NOW_MS), 30000);
    assert_int_equal(wr_graph_parse_retry_after("Monday, 01-Jan-24 00:01:00 GMT", NOW_MS), 60000);
    assert_int_equal(wr_graph_parse_retry_after("Mon Jan  1 00:00:02 2024", NOW_MS), 2000);
    /* Relative to now_ms, which need not be a whole second. */
    assert_int_equal(wr_graph_parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", NOW_MS + 250),
                     29750);
}

static void test_garbage(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after(NULL, NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("   ", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("soon", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("12abc", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("1.", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after(".5", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("1.2.3", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("1 2", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("0x10", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("+5", NOW_MS), -1);
}

static void test_negative(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("-1", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("-0.5", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after(" -30", NOW_MS), -1);
}

static void test_huge_values_capped(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("86400", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("86401", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("99999999999999999999999999999", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("99999999999999999999.999", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", NOW_MS), DAY_MS);
}

static void escape_is(const char *in, const char *want)
{
    char *got = wr_graph_escape(in);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_escape(void **state)
{
    (void)state;
    escape_is("", "");
    escape_is("abcXYZ019-._~", "abcXYZ019-._~");
    escape_is("adele.vance@contoso.onmicrosoft.com", "adele.vance%40contoso.onmicrosoft.com");
    escape_is("a b/c?d&e=f#g", "a%20b%2Fc%3Fd%26e%3Df%23g");
    escape_is("O'Brien", "O%27Brien");
    escape_is("100%", "100%25");
    escape_is("$filter+x", "%24filter%2Bx");
    escape_is("Zoë", "Zo%C3%AB");
    assert_null(wr_graph_escape(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_seconds), cmocka_unit_test(test_fractional_seconds),
        cmocka_unit_test(test_http_dates),    cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_negative),      cmocka_unit_test(test_huge_values_capped),
        cmocka_unit_test(test_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
