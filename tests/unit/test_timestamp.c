/*
 * test_timestamp — unit tests for engine/base/timestamp, the one ISO-8601 / RFC 3339 reader
 * (wait_until: and weir.date): exact instants with zones and fractions, and every impossible
 * field refused by name (issue #13: 2099-02-30, 25:61 and +99:00 used to be accepted and
 * waited for the wrong time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/timestamp.h"

static void ok(const char *s, int64_t sec, int32_t nsec)
{
    int64_t got = 0;
    int32_t ns = -1;
    char why[WR_ERR_MAX] = "";
    if (wr_timestamp_parse(s, strlen(s), &got, &ns, why) != 0 || got != sec || ns != nsec) {
        fail_msg("'%s': want %lld.%09d, got %lld.%09d (%s)", s, (long long)sec, nsec,
                 (long long)got, ns, why);
    }
}

static void bad(const char *s, const char *want)
{
    int64_t sec;
    int32_t nsec;
    char why[WR_ERR_MAX] = "";
    if (wr_timestamp_parse(s, strlen(s), &sec, &nsec, why) != -1 || strcmp(why, want) != 0) {
        fail_msg("'%s': want '%s', got '%s'", s, want, why);
    }
}

#define FORM                                                                                       \
    "not an ISO-8601 timestamp (YYYY-MM-DD or "                                                    \
    "YYYY-MM-DDTHH:MM[:SS][.fraction][Z|+HH:MM|-HH:MM])"

static void test_instants(void **state)
{
    (void)state;
    ok("1970-01-01", 0, 0);
    ok("2099-01-01T08:00:00Z", 4070937600, 0);
    ok("2099-01-01T10:00:00+02:00", 4070937600, 0);
    ok("2099-01-01T10:00+0200", 4070937600, 0);
    ok("2099-01-01t06:30:00-01:30", 4070937600, 0);
    ok("2099-01-01 08:00", 4070937600, 0);
    ok("2099-01-01T08:00:00.5Z", 4070937600, 500000000);
    ok("2099-01-01T08:00:00,000000001Z", 4070937600, 1);
    ok("2099-01-01T08:00:00.1234567899999Z", 4070937600, 123456789); /* past ns: dropped */
    ok("1969-12-31T23:59:59Z", -1, 0);
    ok("0000-01-01", -62167219200, 0);
    ok("9999-12-31T23:59:59Z", 253402300799, 0);
    ok("2024-02-29", 1709164800, 0);
    ok("2000-02-29T00:00:00Z", 951782400, 0);
    /* not NUL-terminated: the length is the end */
    int64_t sec;
    int32_t nsec;
    char why[WR_ERR_MAX];
    assert_int_equal(wr_timestamp_parse("1970-01-02Tgarbage", 10, &sec, &nsec, why), 0);
    assert_int_equal(sec, 86400);
}

static void test_impossible(void **state)
{
    (void)state;
    bad("2099-02-30T00:00:00Z", "day 30 does not exist in 2099-02 (it has 28 days)");
    bad("2100-02-29", "day 29 does not exist in 2100-02 (it has 28 days)");
    bad("2026-04-31", "day 31 does not exist in 2026-04 (it has 30 days)");
    bad("2026-13-01", "month 13 is out of range (01-12)");
    bad("2026-01-01T25:61:00Z", "hour 25 is out of range (00-23)");
    bad("2026-01-01T24:00:00Z", "hour 24 is out of range (00-23)");
    bad("2026-01-01T10:61:00Z", "minute 61 is out of range (00-59)");
    bad("2026-12-31T23:59:60Z", "second 60 (a leap second) is not supported");
    bad("2026-01-01T10:00:00+99:00", "offset hour 99 is out of range (00-23)");
    bad("2026-01-01T10:00:00-05:75", "offset minute 75 is out of range (00-59)");
    bad("2026-01-01T10:00:00+5", FORM);
    bad("2026-1-1", FORM);
    bad("2026-01-01T", FORM);
    bad("2026-01-01T10", FORM);
    bad("2026-01-01T10:00:00.", FORM);
    bad("2026-01-01T10:00:00Z ", FORM);
    bad(" 2026-01-01", FORM);
    bad("20260101", FORM);
    bad("", FORM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instants),
        cmocka_unit_test(test_impossible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
