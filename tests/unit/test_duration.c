/*
 * test_duration — unit tests for engine/base/duration: every accepted form, every error message
 * word for word, formatting, and parse/format round trips.
 *
 * Not a fuzz target: tests/fuzz covers arbitrary bytes; this file pins down behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/base/duration.h"

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define WEEK (7 * DAY)

/* Parses s, expecting success, and returns the value. */
static int64_t parse_ok(const char *s)
{
    char err[WR_ERR_MAX] = "";
    int64_t ms = -42;

    if (wr_duration_parse(s, &ms, err, sizeof(err)) != 0) {
        fail_msg("'%s' should parse, got: %s", s, err);
    }
    assert_string_equal(err, "");
    return ms;
}

/* Parses s, expecting exactly the error message want, and checks *ms_out is untouched. */
static void parse_fails(const char *s, const char *want)
{
    char err[WR_ERR_MAX] = "";
    int64_t ms = -42;

    assert_int_equal(wr_duration_parse(s, &ms, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    assert_int_equal(ms, -42);
}

static void test_single_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("250ms"), 250);
    assert_int_equal(parse_ok("30s"), 30 * SEC);
    assert_int_equal(parse_ok("15m"), 15 * MIN);
    assert_int_equal(parse_ok("2h"), 2 * HOUR);
    assert_int_equal(parse_ok("30d"), 30 * DAY);
    assert_int_equal(parse_ok("1w"), WEEK);
    assert_int_equal(parse_ok("0s"), 0);
    assert_int_equal(parse_ok("0ms"), 0);
    assert_int_equal(parse_ok("007s"), 7 * SEC);
    assert_int_equal(parse_ok("1ms"), 1);
}

static void test_compounds(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1h30m"), HOUR + 30 * MIN);
    assert_int_equal(parse_ok("1w2d3h4m5s6ms"), WEEK + 2 * DAY + 3 * HOUR + 4 * MIN + 5 * SEC + 6);
    assert_int_equal(parse_ok("1d12h"), DAY + 12 * HOUR);
    assert_int_equal(parse_ok("2m500ms"), 2 * MIN + 500);
    assert_int_equal(parse_ok("1h0m"), HOUR);
    /* Units may be skipped, not reordered. */
    assert_int_equal(parse_ok("1w30s"), WEEK + 30 * SEC);
}

static void test_decimals(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1.5s"), 1500);
    assert_int_equal(parse_ok("0.25h"), 15 * MIN);
    assert_int_equal(parse_ok("1.500s"), 1500);
    assert_int_equal(parse_ok("0.001s"), 1);
    assert_int_equal(parse_ok("2.5d"), 2 * DAY + 12 * HOUR);
    assert_int_equal(parse_ok("1h0.5m"), HOUR + 30 * SEC);
    assert_int_equal(parse_ok("1.0ms"), 1);
    /* Nine significant decimals is the limit; exact here (625 * 604800000 / 10^9 = 378). */
    assert_int_equal(parse_ok("0.000000625w"), 378);
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("36525d"), WR_DURATION_MAX_MS);
    assert_int_equal(parse_ok("5217w6d"), WR_DURATION_MAX_MS);
    assert_int_equal(parse_ok("3155760000000ms"), WR_DURATION_MAX_MS);
    parse_fails("36525d1ms", "duration '36525d1ms' is longer than 100 years");
    parse_fails("36526d", "duration '36526d' is longer than 100 years");
    parse_fails("5218w", "duration '5218w' is longer than 100 years");
    parse_fails("3155760000001ms", "duration '3155760000001ms' is longer than 100 years");
    /* Far beyond int64_t: saturates instead of wrapping around to something small. */
    parse_fails("99999999999999999999999999w",
                "duration '99999999999999999999999999w' is longer than 100 years");
    parse_fails("18446744073709551617ms",
                "duration '18446744073709551617ms' is longer than 100 years");
    assert_int_equal(parse_ok("36524d23h59m59.999s1ms"), WR_DURATION_MAX_MS);
    parse_fails("36524d24h1ms", "duration '36524d24h1ms' is longer than 100 years");
}

static void test_error_empty(void **state)
{
    (void)state;
    parse_fails("", "empty duration (e.g. 30s, 15m or 1h30m)");
    parse_fails(NULL, "empty duration (e.g. 30s, 15m or 1h30m)");
}

static void test_error_missing_unit(void **state)
{
    (void)state;
    parse_fails("30", "missing unit in '30' (e.g. 30s)");
    parse_fails("0", "missing unit in '0' (e.g. 0s)");
    parse_fails("1.5", "missing unit in '1.5' (e.g. 1.5s)");
    parse_fails("1h30", "missing unit in '1h30' (e.g. 30s)");
}

static void test_error_unknown_unit(void **state)
{
    (void)state;
    parse_fails("5x", "unknown unit 'x' in '5x' (use ms, s, m, h, d or w)");
    parse_fails("5S", "unknown unit 'S' in '5S' (use ms, s, m, h, d or w)");
    parse_fails("10sec", "unknown unit 'sec' in '10sec' (use ms, s, m, h, d or w)");
    parse_fails("2hr", "unknown unit 'hr' in '2hr' (use ms, s, m, h, d or w)");
    parse_fails("1y", "unknown unit 'y' in '1y' (use ms, s, m, h, d or w)");
    parse_fails("0x10s", "unknown unit 'x' in '0x10s' (use ms, s, m, h, d or w)");
    parse_fails("1h5us", "unknown unit 'us' in '1h5us' (use ms, s, m, h, d or w)");
    parse_fails("1abcdefghijklmnopqrstuvwxyz",
                "unknown unit 'abcdefghijklmnop' in '1abcdefghijklmnopqrstuvwxyz' "
                "(use ms, s, m, h, d or w)");
}

static void test_error_negative(void **state)
{
    (void)state;
    parse_fails("-5s", "negative duration '-5s'");
    parse_fails("-0s", "negative duration '-0s'");
    parse_fails("-1h30m", "negative duration '-1h30m'");
}

static void test_error_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"abc",    "s",     "+5s",    ".5s", "5.s",     "5s!", "5!",
                         "1h-30m", "1..5s", "1.5.5s", "5s,", "1_000ms", "ms5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "invalid duration '%s' (expected e.g. 30s, 15m or 1h30m)",
                 bad[i]);
        parse_fails(bad[i], want);
    }
    /* Control bytes are shown as '?', never copied into a log line. */
    parse_fails("5\x01s", "invalid duration '5?s' (expected e.g. 30s, 15m or 1h30m)");
    parse_fails("5s\xc3\xa9", "invalid duration '5s\?\?' (expected e.g. 30s, 15m or 1h30m)");
}

static void test_error_whitespace(void **state)
{
    (void)state;
    parse_fails("1h 30m", "whitespace in duration '1h 30m' (write e.g. 1h30m)");
    parse_fails(" 5s", "whitespace in duration ' 5s' (write e.g. 1h30m)");
    parse_fails("5s ", "whitespace in duration '5s ' (write e.g. 1h30m)");
    parse_fails("5 s", "whitespace in duration '5 s' (write e.g. 1h30m)");
    parse_fails("5s\n", "whitespace in duration '5s?' (write e.g. 1h30m)");
    parse_fails("\t5s", "whitespace in duration '?5s' (write e.g. 1h30m)");
}

static void test_error_order(void **state)
{
    (void)state;
    parse_fails("30m1h", "units out of order in '30m1h' (largest first, each once, e.g. 1h30m)");
    parse_fails("1h1h", "units out of order in '1h1h' (largest first, each once, e.g. 1h30m)");
    parse_fails("1ms1s", "units out of order in '1ms1s' (largest first, each once, e.g. 1h30m)");
}

static void test_error_precision(void **state)
{
    (void)state;
    parse_fails("1.5ms", "'1.5ms' is not a whole number of milliseconds");
    parse_fails("0.0001s", "'0.0001s' is not a whole number of milliseconds");
    parse_fails("0.1234567891h", "too many decimals in '0.1234567891h' (at most 9)");
    /* Trailing zeros do not count as precision. */
    assert_int_equal(parse_ok("0.100000000000000s"), 100);
}

static void test_error_long_input_is_shortened(void **state)
{
    char in[128];

    (void)state;
    memset(in, '7', 60);
    strcpy(in + 60, "x");
    parse_fails(in, "unknown unit 'x' in '777777777777777777777777777777777777777777777777...' "
                    "(use ms, s, m, h, d or w)");
}

static void test_error_buffer_handling(void **state)
{
    char small[12];
    int64_t ms = 7;

    (void)state;
    /* A NULL or empty buffer is allowed and only the return value reports the error. */
    assert_int_equal(wr_duration_parse("5x", &ms, NULL, 0), -1);
    assert_int_equal(wr_duration_parse("5x", &ms, small, 0), -1);
    assert_int_equal(ms, 7);
    /* Messages are truncated, always terminated. */
    memset(small, 'Z', sizeof(small));
    assert_int_equal(wr_duration_parse("5x", &ms, small, sizeof(small)), -1);
    assert_string_equal(small, "unknown uni");
    /* Success does not touch err. */
    strcpy(small, "untouched");
    assert_int_equal(wr_duration_parse("5s", &ms, small, sizeof(small)), 0);
    assert_string_equal(small, "untouched");
    assert_int_equal(ms, 5000);
}

static void check_format(int64_t ms, const char *want)
{
    char buf[WR_DURATION_BUFLEN];

    memset(buf, 'Z', sizeof(buf));
    assert_ptr_equal(wr_duration_format(ms, buf, sizeof(buf)), buf);
    assert_string_equal(buf, want);
}

static void test_format(void **state)
{
    (void)state;
    check_format(0, "0s");
    check_format(250, "250ms");
    check_format(1500, "1s500ms");
    check_format(30 * SEC, "30s");
    check_format(15 * MIN, "15m");
    check_format(HOUR + 30 * MIN, "1h30m");
    check_format(2 * HOUR, "2h");
    check_format(30 * DAY, "30d");
    check_format(WEEK, "1w");
    check_format(2 * WEEK, "2w");
    check_format(WEEK + HOUR, "7d1h");
    check_format(8 * DAY, "8d");
    check_format(DAY + HOUR + MIN + SEC + 1, "1d1h1m1s1ms");
    check_format(90 * MIN, "1h30m");
    check_format(WR_DURATION_MAX_MS, "36525d");
    check_format(-1500, "-1s500ms");
    check_format(-WEEK, "-1w");
    check_format(INT64_MAX, "106751991167d7h12m55s807ms");
    check_format(INT64_MIN, "-106751991167d7h12m55s808ms");
}

static void test_format_small_buffer(void **state)
{
    char buf[8] = "xxxxxxx";

    (void)state;
    assert_ptr_equal(wr_duration_format(HOUR + 30 * MIN, buf, 4), buf);
    assert_string_equal(buf, "1h3");
    assert_ptr_equal(wr_duration_format(HOUR, buf, 1), buf);
    assert_string_equal(buf, "");
    /* buflen 0 writes nothing at all. */
    strcpy(buf, "keep");
    assert_ptr_equal(wr_duration_format(HOUR, buf, 0), buf);
    assert_string_equal(buf, "keep");
    assert_null(wr_duration_format(HOUR, NULL, 0));
}

/* parse(format(v)) == v over a spread of values, including every unit boundary. */
static void test_round_trip_values(void **state)
{
    static const int64_t unit_ms[] = {1, SEC, MIN, HOUR, DAY, WEEK};
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    (void)state;
    /* Around every unit boundary, and at the top of the range. */
    for (size_t i = 0; i < sizeof(unit_ms) / sizeof(unit_ms[0]); i++) {
        const int64_t around[] = {unit_ms[i] - 1, unit_ms[i],      unit_ms[i] + 1,
                                  2 * unit_ms[i], 13 * unit_ms[i], 30 * unit_ms[i]};
        for (size_t j = 0; j < sizeof(around) / sizeof(around[0]); j++) {
            char buf[WR_DURATION_BUFLEN];
            assert_int_equal(parse_ok(wr_duration_format(around[j], buf, sizeof(buf))), around[j]);
        }
    }
    for (int64_t v = WR_DURATION_MAX_MS - 2; v <= WR_DURATION_MAX_MS; v++) {
        char buf[WR_DURATION_BUFLEN];
        assert_int_equal(parse_ok(wr_duration_format(v, buf, sizeof(buf))), v);
    }
    for (int i = 0; i < 20000; i++) {
        char buf[WR_DURATION_BUFLEN];
        int64_t v;
        /* xorshift64: deterministic, so a failure reproduces. */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Mix magnitudes: whole weeks, whole days, arbitrary milliseconds. */
        v = (int64_t)(x % (uint64_t)(WR_DURATION_MAX_MS + 1));
        if (i % 3 == 1) {
            v -= v % DAY;
        } else if (i % 3 == 2) {
            v -= v % WEEK;
        }
        assert_int_equal(parse_ok(wr_duration_format(v, buf, sizeof(buf))), v);
    }
}

/* format(parse(s)) gives the canonical spelling of s. */
static void test_round_trip_strings(void **state)
{
    static const char *const pairs[][2] = {
        {"90m", "1h30m"},   {"1.5s", "1s500ms"}, {"7d", "1w"},    {"24h", "1d"},
        {"60s", "1m"},      {"1000ms", "1s"},    {"0.5h", "30m"}, {"4w2d", "30d"},
        {"1h30m", "1h30m"}, {"250ms", "250ms"},  {"0ms", "0s"},   {"1.5w", "10d12h"},
    };
    char buf[WR_DURATION_BUFLEN];

    (void)state;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        assert_string_equal(wr_duration_format(parse_ok(pairs[i][0]), buf, sizeof(buf)),
                            pairs[i][1]);
    }
}

/* Signed spans: the same grammar after one optional sign; the unsigned parser is unchanged. */
static void signed_fails(const char *s, const char *want)
{
    char err[256] = "";
    int64_t ms = -42;

    assert_int_equal(wr_duration_parse_signed(s, &ms, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    assert_int_equal(ms, -42);
}

static void test_signed(void **state)
{
    int64_t ms = 0;
    char buf[WR_DURATION_BUFLEN];
    (void)state;

    assert_int_equal(wr_duration_parse_signed("-7d", &ms, NULL, 0), 0);
    assert_int_equal(ms, -7 * DAY);
    assert_int_equal(wr_duration_parse_signed("+2w", &ms, NULL, 0), 0);
    assert_int_equal(ms, 2 * WEEK);
    assert_int_equal(wr_duration_parse_signed("180d", &ms, NULL, 0), 0);
    assert_int_equal(ms, 180 * DAY);
    assert_int_equal(wr_duration_parse_signed("-1h30m", &ms, NULL, 0), 0);
    assert_int_equal(ms, -90 * MIN);
    assert_int_equal(wr_duration_parse_signed("-1.5s", &ms, NULL, 0), 0);
    assert_int_equal(ms, -1500);
    assert_int_equal(wr_duration_parse_signed("-0s", &ms, NULL, 0), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(wr_duration_parse_signed("-36525d", &ms, NULL, 0), 0);
    assert_int_equal(ms, -WR_DURATION_MAX_MS);
    /* What format writes, the signed parser reads back. */
    for (int64_t v = -3 * WEEK - 5; v <= 3 * WEEK; v += WEEK / 3 + 7) {
        assert_int_equal(
            wr_duration_parse_signed(wr_duration_format(v, buf, sizeof(buf)), &ms, NULL, 0), 0);
        assert_int_equal(ms, v);
    }

    signed_fails("", "empty duration (e.g. 30s, -7d or 1h30m)");
    signed_fails("-", "invalid duration '-' (expected e.g. 30s, -7d or 1h30m)");
    signed_fails("+", "invalid duration '+' (expected e.g. 30s, -7d or 1h30m)");
    signed_fails("--5s", "invalid duration '--5s' (expected e.g. 30s, -7d or 1h30m)");
    signed_fails("-+5s", "invalid duration '-+5s' (expected e.g. 30s, -7d or 1h30m)");
    signed_fails("- 5s", "whitespace in duration '- 5s' (write e.g. -1h30m)");
    signed_fails("-5x", "unknown unit 'x' in '-5x' (use ms, s, m, h, d or w)");
    signed_fails("-5", "missing unit in '-5' (e.g. 5s)");
    signed_fails("-30m1h", "units out of order in '-30m1h' (largest first, each once, e.g. 1h30m)");
    signed_fails("-36526d", "duration '-36526d' is longer than 100 years");
    signed_fails("5s-", "invalid duration '5s-' (expected e.g. 30s, 15m or 1h30m)");

    /* The unsigned parser still refuses a sign. */
    assert_int_equal(wr_duration_parse("-7d", &ms, NULL, 0), -1);
    assert_int_equal(wr_duration_parse("+7d", &ms, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_units),
        cmocka_unit_test(test_compounds),
        cmocka_unit_test(test_decimals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_error_empty),
        cmocka_unit_test(test_error_missing_unit),
        cmocka_unit_test(test_error_unknown_unit),
        cmocka_unit_test(test_error_negative),
        cmocka_unit_test(test_error_garbage),
        cmocka_unit_test(test_error_whitespace),
        cmocka_unit_test(test_error_order),
        cmocka_unit_test(test_error_precision),
        cmocka_unit_test(test_error_long_input_is_shortened),
        cmocka_unit_test(test_error_buffer_handling),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_round_trip_values),
        cmocka_unit_test(test_round_trip_strings),
        cmocka_unit_test(test_signed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
