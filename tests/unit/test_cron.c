/*
 * test_cron — unit tests for engine/lang/cron: parsed bitsets, every error message word for word,
 * names and macros, the Vixie day-of-month/day-of-week rule, next firing times in UTC and across
 * the 2026 daylight saving changes in Europe/Berlin and America/New_York, and time zone names.
 *
 * The reader's UTC offsets are also compared with glibc's localtime_r() over two centuries for
 * a set of zones with unusual rules. That comparison sets TZ, which is fine in this
 * single-threaded test; the module itself never touches TZ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/lang/cron.h"

/* UTC epoch seconds of a UTC calendar time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};

    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm);
}

static void parse_ok(const char *spec, struct wr_cron *c)
{
    char err[WR_ERR_MAX] = "";

    if (wr_cron_parse(spec, c, err, sizeof(err)) != 0) {
        fail_msg("'%s' should parse, got: %s", spec, err);
    }
}

static void parse_fails(const char *spec, const char *want)
{
    struct wr_cron c;
    char err[WR_ERR_MAX] = "";

    memset(&c, 0xff, sizeof(c));
    assert_int_equal(wr_cron_parse(spec, &c, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    /* A failed parse leaves nothing half-filled behind. */
    assert_int_equal(c.minutes, 0);
    assert_int_equal(c.hours, 0);
    assert_int_equal(c.mdays, 0);
    assert_int_equal(c.months, 0);
    assert_int_equal(c.wdays, 0);
    assert_false(c.mday_star);
    assert_false(c.wday_star);
}

#define ALL_MINUTES 0x0fffffffffffffffULL
#define ALL_HOURS   0x00ffffffU
#define ALL_MDAYS   0xfffffffeU
#define ALL_MONTHS  0x1ffe
#define ALL_WDAYS   0x7f

static void expect_bits(const struct wr_cron *c, uint64_t minutes, uint32_t hours, uint32_t mdays,
                        uint16_t months, uint8_t wdays, bool mday_star, bool wday_star)
{
    assert_int_equal(c->minutes, minutes);
    assert_int_equal(c->hours, hours);
    assert_int_equal(c->mdays, mdays);
    assert_int_equal(c->months, months);
    assert_int_equal(c->wdays, wdays);
    assert_int_equal(c->mday_star, mday_star);
    assert_int_equal(c->wday_star, wday_star);
}

/* {====================================================================== parsing */

static void test_parse_all_stars(void **state)
{
    struct wr_cron c;

    (void)state;
    parse_ok("* * * * *", &c);
    expect_bits(&c, ALL_MINUTES, ALL_HOURS, ALL_MDAYS, ALL_MONTHS, ALL_WDAYS, true, true);
}

static void test_parse_weekdays_at_six(void **state)
{
    struct wr_cron c;

    (void)state;
    parse_ok("0 6 * * 1-5", &c);
    expect_bits(&c, 1, 1U << 6, ALL_MDAYS, ALL_MONTHS, 0x3e, true, false);
}

static void test_parse_lists_ranges_steps(void **state)
{
    struct wr_cron c;

    (void)state;
    parse_ok("*/15 */6 1,15 */3 *", &c);
    expect_bits(&c, 1ULL | 1ULL << 15 | 1ULL << 30 | 1ULL << 45, 1U | 1U << 6 | 1U << 12 | 1U << 18,
                1U << 1 | 1U << 15, 1 << 1 | 1 << 4 | 1 << 7 | 1 << 10, ALL_WDAYS, false, true);

    parse_ok("5-20/5 9-17 1-7,28-31 6-8 0", &c);
    expect_bits(&c, 1ULL << 5 | 1ULL << 10 | 1ULL << 15 | 1ULL << 20, 0x3fe00, 0xfeU | 0xf0000000U,
                1 << 6 | 1 << 7 | 1 << 8, 1, false, false);

    /* N/S means N-max/S. */
    parse_ok("10/20 22/1 30/1 11/1 1/2", &c);
    expect_bits(&c, 1ULL << 10 | 1ULL << 30 | 1ULL << 50, 1U << 22 | 1U << 23, 1U << 30 | 1U << 31,
                1 << 11 | 1 << 12, 1 << 1 | 1 << 3 | 1 << 5, false, false);

    /* Single values at both ends of every field. */
    parse_ok("0,59 0,23 1,31 1,12 0,6", &c);
    expect_bits(&c, 1ULL | 1ULL << 59, 1U | 1U << 23, 1U << 1 | 1U << 31, 1 << 1 | 1 << 12,
                1 | 1 << 6, false, false);

    /* A step bigger than the range keeps just the start; overlapping items simply merge. */
    parse_ok("*/59 3-4/23 1-31/31 */12 */7", &c);
    expect_bits(&c, 1ULL | 1ULL << 59, 1U << 3, 1U << 1, 1 << 1, 1, false, true);
    parse_ok("1-10,5-15 * * * *", &c);
    assert_int_equal(c.minutes, 0xfffeULL);
}

static void test_parse_sunday_as_seven(void **state)
{
    struct wr_cron c;

    (void)state;
    parse_ok("0 0 * * 7", &c);
    assert_int_equal(c.wdays, 1);
    parse_ok("0 0 * * 5-7", &c);
    assert_int_equal(c.wdays, 1 << 5 | 1 << 6 | 1);
    parse_ok("0 0 * * 0-7", &c);
    assert_int_equal(c.wdays, ALL_WDAYS);
    parse_ok("0 0 * * 7/1", &c);
    assert_int_equal(c.wdays, 1);
    parse_ok("0 0 * * 0,7", &c);
    assert_int_equal(c.wdays, 1);
}

static void test_parse_names(void **state)
{
    struct wr_cron c;

    (void)state;
    parse_ok("0 0 * JAN-MAR mon-fri", &c);
    expect_bits(&c, 1, 1, ALL_MDAYS, 1 << 1 | 1 << 2 | 1 << 3, 0x3e, true, false);
    parse_ok("0 0 * dec SUN,sat", &c);
    assert_int_equal(c.months, 1 << 12);
    assert_int_equal(c.wdays, 1 | 1 << 6);
    parse_ok("0 0 * Feb,Apr-Jun/2 Tue/2", &c);
    assert_int_equal(c.months, 1 << 2 | 1 << 4 | 1 << 6);
    assert_int_equal(c.wdays, 1 << 2 | 1 << 4 | 1 << 6);
    parse_ok("0 0 * jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec sun,mon,tue,wed,thu,fri,sat",
             &c);
    assert_int_equal(c.months, ALL_MONTHS);
    assert_int_equal(c.wdays, ALL_WDAYS);
    /* Names and numbers mix. */
    parse_ok("0 0 * 1-MAR 1-FRI", &c);
    assert_int_equal(c.months, 1 << 1 | 1 << 2 | 1 << 3);
    assert_int_equal(c.wdays, 0x3e);
}

static void test_parse_blanks(void **state)
{
    struct wr_cron a, b;

    (void)state;
    parse_ok("0 6 * * 1-5", &a);
    parse_ok("  0\t6  *\t\t* 1-5 \t", &b);
    expect_bits(&b, a.minutes, a.hours, a.mdays, a.months, a.wdays, a.mday_star, a.wday_star);
}

static void test_parse_macros(void **state)
{
    static const char *const pairs[][2] = {
        {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
        {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"}, {"@DAILY", "0 0 * * *"},   {" @Weekly\t", "0 0 * * 0"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct wr_cron m, e;
        parse_ok(pairs[i][0], &m);
        parse_ok(pairs[i][1], &e);
        expect_bits(&m, e.minutes, e.hours, e.mdays, e.months, e.wdays, e.mday_star, e.wday_star);
    }
    {
        struct wr_cron c;
        parse_ok("@weekly", &c);
        expect_bits(&c, 1, 1, ALL_MDAYS, ALL_MONTHS, 1, true, false);
        parse_ok("@monthly", &c);
        expect_bits(&c, 1, 1, 1U << 1, ALL_MONTHS, ALL_WDAYS, false, true);
    }
}

static void test_parse_star_flags(void **state)
{
    struct wr_cron c;

    (void)state;
    /* As in Vixie cron and cronie: an item starting with '*' makes the field unrestricted. */
    parse_ok("0 0 */2 * 1", &c);
    assert_true(c.mday_star);
    assert_false(c.wday_star);
    parse_ok("0 0 1 * */2", &c);
    assert_false(c.mday_star);
    assert_true(c.wday_star);
    parse_ok("0 0 1-31 * 0-7", &c);
    assert_false(c.mday_star);
    assert_false(c.wday_star);
    parse_ok("0 0 1,* * 1", &c);
    assert_true(c.mday_star);
}

static void test_parse_errors_fields(void **state)
{
    (void)state;
    parse_fails("0 0 * *",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or an "
                "@macro, got 4 in '0 0 * *'");
    parse_fails("* * * * * *",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or an "
                "@macro, got 6 in '* * * * * *'");
    parse_fails("0 6 * * 1-5 /usr/bin/true",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or an "
                "@macro, got 6 in '0 6 * * 1-5 /usr/bin/true'");
    parse_fails("", "cron: is empty (expected 5 fields: minute hour day-of-month month "
                    "day-of-week, or an @macro)");
    parse_fails(" \t ", "cron: is empty (expected 5 fields: minute hour day-of-month month "
                        "day-of-week, or an @macro)");
    parse_fails(NULL, "cron: is empty (expected 5 fields: minute hour day-of-month month "
                      "day-of-week, or an @macro)");
    parse_fails("0,6,* * * *",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or an "
                "@macro, got 4 in '0,6,* * * *'");
    parse_fails("0\n6 * * *",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or an "
                "@macro, got 4 in '0?6 * * *'");
}

static void test_parse_errors_range(void **state)
{
    (void)state;
    parse_fails("0 24 * * *", "cron field 2 (hour): value 24 out of range 0-23 in '0 24 * * *'");
    parse_fails("60 * * * *", "cron field 1 (minute): value 60 out of range 0-59 in '60 * * * *'");
    parse_fails("0 0 0 * *",
                "cron field 3 (day of month): value 0 out of range 1-31 in '0 0 0 * *'");
    parse_fails("0 0 32 * *",
                "cron field 3 (day of month): value 32 out of range 1-31 in '0 0 32 * *'");
    parse_fails("0 0 * 0 *", "cron field 4 (month): value 0 out of range 1-12 in '0 0 * 0 *'");
    parse_fails("0 0 * 13 *", "cron field 4 (month): value 13 out of range 1-12 in '0 0 * 13 *'");
    parse_fails("0 0 * * 8", "cron field 5 (day of week): value 8 out of range 0-7 in '0 0 * * 8'");
    parse_fails("0 1-24 * * *",
                "cron field 2 (hour): value 24 out of range 0-23 in '0 1-24 * * *'");
    parse_fails("99999999999999999999 * * * *",
                "cron field 1 (minute): value 99999999999999999999 out of range 0-59 in "
                "'99999999999999999999 * * * *'");
    parse_fails("1,2,3,99 * * * *",
                "cron field 1 (minute): value 99 out of range 0-59 in '1,2,3,99 * * * *'");
}

static void test_parse_errors_names(void **state)
{
    (void)state;
    parse_fails("0 6 * * FRY", "cron field 5 (day of week): unknown name 'FRY' in '0 6 * * FRY'");
    parse_fails("0 6 * * MONDAY",
                "cron field 5 (day of week): unknown name 'MONDAY' in '0 6 * * MONDAY'");
    parse_fails("0 6 * JANUARY *",
                "cron field 4 (month): unknown name 'JANUARY' in '0 6 * JANUARY *'");
    parse_fails("0 6 * MON *", "cron field 4 (month): unknown name 'MON' in '0 6 * MON *'");
    parse_fails("0 6 * * JAN", "cron field 5 (day of week): unknown name 'JAN' in '0 6 * * JAN'");
    parse_fails("0 6 * * MON-FRY",
                "cron field 5 (day of week): unknown name 'FRY' in '0 6 * * MON-FRY'");
    /* Names belong to month and day of week only. */
    parse_fails("MON * * * *", "cron field 1 (minute): invalid item 'MON' in 'MON * * * *'");
    parse_fails("0 0 JAN * *", "cron field 3 (day of month): invalid item 'JAN' in '0 0 JAN * *'");
}

static void test_parse_errors_steps(void **state)
{
    (void)state;
    parse_fails("*/0 * * * *", "cron field 1 (minute): step 0 out of range 1-59 in '*/0 * * * *'");
    parse_fails("0 1-5/0 * * *",
                "cron field 2 (hour): step 0 out of range 1-23 in '0 1-5/0 * * *'");
    parse_fails("*/60 * * * *",
                "cron field 1 (minute): step 60 out of range 1-59 in '*/60 * * * *'");
    parse_fails("0 0 * * */8",
                "cron field 5 (day of week): step 8 out of range 1-7 in '0 0 * * */8'");
    parse_fails("*/x * * * *", "cron field 1 (minute): invalid step in '*/x' in '*/x * * * *'");
    parse_fails("1-5/ * * * *", "cron field 1 (minute): invalid step in '1-5/' in '1-5/ * * * *'");
    parse_fails("*/-1 * * * *", "cron field 1 (minute): invalid step in '*/-1' in '*/-1 * * * *'");
    parse_fails("*/2/2 * * * *", "cron field 1 (minute): invalid item '*/2/2' in '*/2/2 * * * *'");
}

static void test_parse_errors_reversed(void **state)
{
    (void)state;
    parse_fails("5-1 * * * *", "cron field 1 (minute): reversed range '5-1' in '5-1 * * * *'");
    parse_fails("0 0 * * FRI-MON",
                "cron field 5 (day of week): reversed range 'FRI-MON' in '0 0 * * FRI-MON'");
    parse_fails("0 0 * DEC-JAN/2 *",
                "cron field 4 (month): reversed range 'DEC-JAN' in '0 0 * DEC-JAN/2 *'");
}

static void test_parse_errors_items(void **state)
{
    (void)state;
    parse_fails("1,,2 * * * *", "cron field 1 (minute): empty list item in '1,,2 * * * *'");
    parse_fails("1, * * * *", "cron field 1 (minute): empty list item in '1, * * * *'");
    parse_fails(",1 * * * *", "cron field 1 (minute): empty list item in ',1 * * * *'");
    parse_fails("abc * * * *", "cron field 1 (minute): invalid item 'abc' in 'abc * * * *'");
    parse_fails("5x * * * *", "cron field 1 (minute): invalid item '5x' in '5x * * * *'");
    parse_fails("*-5 * * * *", "cron field 1 (minute): invalid item '*-5' in '*-5 * * * *'");
    parse_fails("-5 * * * *", "cron field 1 (minute): invalid item '-5' in '-5 * * * *'");
    parse_fails("1- * * * *", "cron field 1 (minute): invalid item '1-' in '1- * * * *'");
    parse_fails("1-2-3 * * * *", "cron field 1 (minute): invalid item '1-2-3' in '1-2-3 * * * *'");
    parse_fails("** * * * *", "cron field 1 (minute): invalid item '**' in '** * * * *'");
    parse_fails("? * * * *", "cron field 1 (minute): invalid item '?' in '? * * * *'");
    parse_fails("L * * * *", "cron field 1 (minute): invalid item 'L' in 'L * * * *'");
    parse_fails("0 0 1\x01 * *", "cron field 3 (day of month): invalid item '1?' in '0 0 1? * *'");
    parse_fails("0 0 * * 1#2", "cron field 5 (day of week): invalid item '1#2' in '0 0 * * 1#2'");
}

static void test_parse_errors_macros(void **state)
{
    (void)state;
    parse_fails("@often", "cron: unknown macro '@often' (use @hourly, @daily, @midnight, "
                          "@weekly, @monthly, @yearly or @annually)");
    parse_fails("@daily 5", "cron: unknown macro '@daily 5' (use @hourly, @daily, @midnight, "
                            "@weekly, @monthly, @yearly or @annually)");
    parse_fails("@reboot", "cron: unknown macro '@reboot' (use @hourly, @daily, @midnight, "
                           "@weekly, @monthly, @yearly or @annually)");
    parse_fails("@", "cron: unknown macro '@' (use @hourly, @daily, @midnight, "
                     "@weekly, @monthly, @yearly or @annually)");
}

static void test_parse_error_long_spec_is_shortened(void **state)
{
    char spec[200], want[300];

    (void)state;
    memset(spec, '1', 70);
    strcpy(spec + 70, " * * * *");
    snprintf(want, sizeof(want),
             "cron field 1 (minute): value %.64s... out of range 0-59 in '%.64s...'", spec, spec);
    parse_fails(spec, want);
}

static void test_parse_error_buffers(void **state)
{
    struct wr_cron c;
    char small[10];

    (void)state;
    assert_int_equal(wr_cron_parse("0 24 * * *", &c, NULL, 0), -1);
    assert_int_equal(wr_cron_parse("0 24 * * *", &c, small, 0), -1);
    memset(small, 'Z', sizeof(small));
    assert_int_equal(wr_cron_parse("0 24 * * *", &c, small, sizeof(small)), -1);
    assert_string_equal(small, "cron fiel");
    strcpy(small, "untouched");
    assert_int_equal(wr_cron_parse("0 23 * * *", &c, small, sizeof(small)), 0);
    assert_string_equal(small, "untouched");
}

/* }====================================================================== */

/* {====================================================================== next(), UTC */

static int64_t next_of(const char *spec, const char *tz, int64_t after)
{
    struct wr_cron c;

    parse_ok(spec, &c);
    return wr_cron_next(&c, tz, after);
}

static void test_next_every_minute(void **state)
{
    (void)state;
    assert_int_equal(next_of("* * * * *", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 1, 0, 1));
    assert_int_equal(next_of("* * * * *", NULL, utc(2026, 1, 1, 0, 0) + 30), utc(2026, 1, 1, 0, 1));
    assert_int_equal(next_of("* * * * *", NULL, utc(2026, 1, 1, 0, 0) - 1), utc(2026, 1, 1, 0, 0));
    assert_int_equal(next_of("* * * * *", "UTC", utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1, 0, 0));
    /* Before 1970 works too. */
    assert_int_equal(next_of("* * * * *", NULL, -1), 0);
    assert_int_equal(next_of("* * * * *", NULL, -61), -60);
}

static void test_next_utc_basics(void **state)
{
    (void)state;
    /* Thursday 2026-01-01: weekdays at 06:00. */
    assert_int_equal(next_of("0 6 * * 1-5", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 1, 6, 0));
    assert_int_equal(next_of("0 6 * * 1-5", NULL, utc(2026, 1, 1, 6, 0)), utc(2026, 1, 2, 6, 0));
    assert_int_equal(next_of("0 6 * * 1-5", NULL, utc(2026, 1, 2, 6, 0)), utc(2026, 1, 5, 6, 0));
    assert_int_equal(next_of("@hourly", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 1, 1, 0));
    assert_int_equal(next_of("@daily", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 2, 0, 0));
    /* @weekly is Sunday midnight; 2026-01-04 is a Sunday. */
    assert_int_equal(next_of("@weekly", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 4, 0, 0));
    assert_int_equal(next_of("@monthly", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 2, 1, 0, 0));
    assert_int_equal(next_of("@yearly", NULL, utc(2026, 1, 1, 0, 0)), utc(2027, 1, 1, 0, 0));
    assert_int_equal(next_of("*/15 * * * *", NULL, utc(2026, 1, 1, 0, 50)), utc(2026, 1, 1, 1, 0));
    /* Month and year roll-over. */
    assert_int_equal(next_of("0 0 31 * *", NULL, utc(2026, 1, 31, 0, 0)), utc(2026, 3, 31, 0, 0));
    assert_int_equal(next_of("30 12 * DEC *", NULL, utc(2026, 12, 31, 12, 30)),
                     utc(2027, 12, 1, 12, 30));
    assert_int_equal(next_of("0 0 1 JAN,JUL *", NULL, utc(2026, 1, 1, 0, 0)),
                     utc(2026, 7, 1, 0, 0));
}

static void test_next_leap_day(void **state)
{
    (void)state;
    assert_int_equal(next_of("0 0 29 2 *", NULL, utc(2026, 3, 1, 0, 0)), utc(2028, 2, 29, 0, 0));
    assert_int_equal(next_of("0 0 29 2 *", NULL, utc(2028, 2, 29, 0, 0)), utc(2032, 2, 29, 0, 0));
    assert_int_equal(next_of("0 0 29 FEB *", "Europe/Berlin", utc(2026, 3, 1, 0, 0)),
                     utc(2028, 2, 28, 23, 0));
    /* 2100 is not a leap year: the next 29 February after 2096 is in 2104, beyond 5 years. */
    assert_int_equal(next_of("0 0 29 2 *", NULL, utc(2096, 3, 1, 0, 0)), -1);
    /* 2000 was one (divisible by 400). */
    assert_int_equal(next_of("0 0 29 2 *", NULL, utc(1999, 1, 1, 0, 0)), utc(2000, 2, 29, 0, 0));
    /* Last day of February in a leap year, through the OR rule with Feb 29 only. */
    assert_int_equal(next_of("0 12 28,29 2 *", NULL, utc(2028, 2, 28, 12, 0)),
                     utc(2028, 2, 29, 12, 0));
}

static void test_next_never(void **state)
{
    (void)state;
    assert_int_equal(next_of("0 0 31 2 *", NULL, utc(2026, 1, 1, 0, 0)), -1);
    assert_int_equal(next_of("0 0 30 2 *", "Europe/Berlin", utc(2026, 1, 1, 0, 0)), -1);
    assert_int_equal(next_of("0 0 31 4,6,9,11 *", NULL, utc(2026, 1, 1, 0, 0)), -1);
    /* ...but the OR rule rescues it when a weekday is given too (2026-02-02 is a Monday). */
    assert_int_equal(next_of("0 0 31 2 1", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 2, 2, 0, 0));
}

static void test_next_vixie_day_rule(void **state)
{
    (void)state;
    /* Both restricted: the 13th OR a Friday. 2026-01-02 is a Friday, 2026-01-13 a Tuesday. */
    assert_int_equal(next_of("0 0 13 * 5", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 2, 0, 0));
    assert_int_equal(next_of("0 0 13 * 5", NULL, utc(2026, 1, 9, 0, 0)), utc(2026, 1, 13, 0, 0));
    assert_int_equal(next_of("0 0 13 * 5", NULL, utc(2026, 1, 13, 0, 0)), utc(2026, 1, 16, 0, 0));
    /* Day of month starts with '*': both must match, odd days that are Mondays (5th, 19th). */
    assert_int_equal(next_of("0 0 */2 * 1", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 5, 0, 0));
    assert_int_equal(next_of("0 0 */2 * 1", NULL, utc(2026, 1, 5, 0, 0)), utc(2026, 1, 19, 0, 0));
    /* The same days spelled without '*' switch to OR: every odd day plus every Monday. */
    assert_int_equal(next_of("0 0 1-31/2 * 1", NULL, utc(2026, 1, 5, 0, 0)), utc(2026, 1, 7, 0, 0));
    assert_int_equal(next_of("0 0 1-31/2 * 1", NULL, utc(2026, 1, 11, 0, 0)),
                     utc(2026, 1, 12, 0, 0));
    /* Day of week '*': the day of month alone decides. */
    assert_int_equal(next_of("0 0 13 * *", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 13, 0, 0));
    /* Day of week "*" with a step still counts as unrestricted: 13th AND Sun/Tue/Thu/Sat. */
    assert_int_equal(next_of("0 0 13 * */2", NULL, utc(2026, 1, 1, 0, 0)), utc(2026, 1, 13, 0, 0));
    assert_int_equal(next_of("0 0 13 * */2", NULL, utc(2026, 1, 13, 0, 0)), utc(2026, 6, 13, 0, 0));
}

/* Checks wr_cron_next() against a minute-by-minute walk with gmtime_r() over a year. */
static void test_next_matches_brute_force(void **state)
{
    static const char *const specs[] = {
        "* * * * *",
        "0 6 * * 1-5",
        "*/7 */5 * * *",
        "13 3 13 * 5",
        "0 0 */2 * 1",
        "59 23 31 1,3 *",
        "15,45 8-18/2 1-7 * MON",
        "0 0 29 2 *",
        "30 1 1,15 JAN,JUL,DEC *",
        "0 12 * * 0",
        "*/20 4 * 3-5 SAT,SUN",
        "0 0 31 * *",
    };
    const int64_t start = utc(2027, 12, 25, 0, 0);

    (void)state;
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        struct wr_cron c;
        int64_t expect = -1, got, after = start + 17;
        int found = 0;
        parse_ok(specs[i], &c);
        for (int step = 0; step < 60; step++) {
            expect = -1;
            for (int64_t t = (after / 60 + 1) * 60; t < start + 400LL * 86400; t += 60) {
                time_t tt = (time_t)t;
                struct tm tm;
                bool dm, wm, day;
                gmtime_r(&tt, &tm);
                dm = (c.mdays >> tm.tm_mday) & 1;
                wm = (c.wdays >> tm.tm_wday) & 1;
                day = (c.mday_star || c.wday_star) ? (dm && wm) : (dm || wm);
                if (((c.minutes >> tm.tm_min) & 1) && ((c.hours >> tm.tm_hour) & 1) &&
                    ((c.months >> (tm.tm_mon + 1)) & 1) && day) {
                    expect = t;
                    break;
                }
            }
            if (expect < 0) {
                break;
            }
            got = wr_cron_next(&c, NULL, after);
            if (got != expect) {
                fail_msg("'%s' after %lld: got %lld, want %lld", specs[i], (long long)after,
                         (long long)got, (long long)expect);
            }
            after = got;
            found++;
        }
        /* Every spec here fires at least once in those 400 days. */
        assert_true(found > 0);
    }
}

static void test_next_bad_input(void **state)
{
    struct wr_cron c;

    (void)state;
    parse_ok("* * * * *", &c);
    assert_int_equal(wr_cron_next(&c, "Europe/Berlln", utc(2026, 1, 1, 0, 0)), -1);
    assert_int_equal(wr_cron_next(&c, "../etc/passwd", utc(2026, 1, 1, 0, 0)), -1);
    assert_int_equal(wr_cron_next(NULL, NULL, 0), -1);
    assert_int_equal(wr_cron_next(&c, NULL, INT64_MAX), -1);
    assert_int_equal(wr_cron_next(&c, NULL, INT64_MIN), -1);
    /* An all-zero struct matches nothing. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(wr_cron_next(&c, NULL, 0), -1);
}

/* }====================================================================== */

/* {====================================================================== next(), DST */

/* Collects the next n firings after `after` into out. */
static void series(const char *spec, const char *tz, int64_t after, int64_t *out, int n)
{
    struct wr_cron c;
    struct wr_tz *zone;
    char err[WR_ERR_MAX] = "";

    parse_ok(spec, &c);
    zone = wr_tz_load(tz, err, sizeof(err));
    assert_non_null(zone);
    for (int i = 0; i < n; i++) {
        out[i] = wr_cron_next_in(&c, zone, after);
        /* The name-based entry point agrees with the loaded-zone one. */
        assert_int_equal(wr_cron_next(&c, tz, after), out[i]);
        after = out[i];
    }
    wr_tz_free(zone);
}

static void test_dst_berlin_weekdays_spring(void **state)
{
    int64_t got[4];

    (void)state;
    /* 06:00 CET is 05:00 UTC; from Monday 2026-03-30 06:00 CEST is 04:00 UTC. */
    series("0 6 * * 1-5", "Europe/Berlin", utc(2026, 3, 26, 0, 0), got, 4);
    assert_int_equal(got[0], utc(2026, 3, 26, 5, 0));
    assert_int_equal(got[1], utc(2026, 3, 27, 5, 0));
    assert_int_equal(got[2], utc(2026, 3, 30, 4, 0));
    assert_int_equal(got[3], utc(2026, 3, 31, 4, 0));
}

static void test_dst_berlin_weekdays_autumn(void **state)
{
    int64_t got[4];

    (void)state;
    series("0 6 * * 1-5", "Europe/Berlin", utc(2026, 10, 22, 0, 0), got, 4);
    assert_int_equal(got[0], utc(2026, 10, 22, 4, 0));
    assert_int_equal(got[1], utc(2026, 10, 23, 4, 0));
    assert_int_equal(got[2], utc(2026, 10, 26, 5, 0));
    assert_int_equal(got[3], utc(2026, 10, 27, 5, 0));
}

static void test_dst_berlin_skipped_time_runs_at_jump(void **state)
{
    int64_t got[3];

    (void)state;
    /* 2026-03-29 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 02:30 does not exist that day. */
    series("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 0, 0), got, 3);
    assert_int_equal(got[0], utc(2026, 3, 28, 1, 30));
    assert_int_equal(got[1], utc(2026, 3, 29, 1, 0));
    assert_int_equal(got[2], utc(2026, 3, 30, 0, 30));

    /* Every minute: 01:59 CET, then the jump instant once, then on from 03:01 CEST. */
    series("* * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 58), got, 3);
    assert_int_equal(got[0], utc(2026, 3, 29, 0, 59));
    assert_int_equal(got[1], utc(2026, 3, 29, 1, 0));
    assert_int_equal(got[2], utc(2026, 3, 29, 1, 1));

    /* Skipped and real times coalesce: 02:00, 02:30 and 03:00 all land on the jump instant. */
    series("0,30 2,3 * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 0), got, 3);
    assert_int_equal(got[0], utc(2026, 3, 29, 1, 0));
    assert_int_equal(got[1], utc(2026, 3, 29, 1, 30));
    assert_int_equal(got[2], utc(2026, 3, 30, 0, 0));

    /* Asking from inside the jump instant's second does not fire it again. */
    assert_int_equal(next_of("30 2 * * *", "Europe/Berlin", utc(2026, 3, 29, 1, 0)),
                     utc(2026, 3, 30, 0, 30));
    assert_int_equal(next_of("30 2 * * *", "Europe/Berlin", utc(2026, 3, 29, 1, 0) - 1),
                     utc(2026, 3, 29, 1, 0));
}

static void test_dst_berlin_repeated_time_fires_once(void **state)
{
    int64_t got[3];

    (void)state;
    /* 2026-10-25 03:00 CEST falls back to 02:00 CET at 01:00 UTC; 02:30 happens twice. */
    series("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 0, 0), got, 3);
    assert_int_equal(got[0], utc(2026, 10, 24, 0, 30));
    assert_int_equal(got[1], utc(2026, 10, 25, 0, 30)); /* first occurrence, CEST */
    assert_int_equal(got[2], utc(2026, 10, 26, 1, 30)); /* not 01:30 UTC on the 25th */

    /* Every minute pauses through the repeated hour: each wall-clock minute fires once. */
    series("* * * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 58), got, 3);
    assert_int_equal(got[0], utc(2026, 10, 25, 0, 59)); /* 02:59 CEST */
    assert_int_equal(got[1], utc(2026, 10, 25, 2, 0));  /* 03:00 CET */
    assert_int_equal(got[2], utc(2026, 10, 25, 2, 1));

    /* Asked from inside the second pass (02:10 CET), 02:15 and 02:45 have already fired. */
    assert_int_equal(next_of("15,45 * * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 10)),
                     utc(2026, 10, 25, 2, 15));
    /* A time after the overlap is unaffected: 03:00 CET. */
    assert_int_equal(next_of("0 3 * * *", "Europe/Berlin", utc(2026, 10, 24, 12, 0)),
                     utc(2026, 10, 25, 2, 0));
}

static void test_dst_new_york(void **state)
{
    int64_t got[4];

    (void)state;
    /* 09:30 EST is 14:30 UTC; from Sunday 2026-03-08 on, 09:30 EDT is 13:30 UTC. */
    series("30 9 * * *", "America/New_York", utc(2026, 3, 7, 0, 0), got, 3);
    assert_int_equal(got[0], utc(2026, 3, 7, 14, 30));
    assert_int_equal(got[1], utc(2026, 3, 8, 13, 30));
    assert_int_equal(got[2], utc(2026, 3, 9, 13, 30));
    /* ...and back on Sunday 2026-11-01. */
    series("30 9 * * *", "America/New_York", utc(2026, 10, 31, 0, 0), got, 3);
    assert_int_equal(got[0], utc(2026, 10, 31, 13, 30));
    assert_int_equal(got[1], utc(2026, 11, 1, 14, 30));
    assert_int_equal(got[2], utc(2026, 11, 2, 14, 30));
    /* 02:30 on 2026-03-08 is skipped (02:00 EST -> 03:00 EDT at 07:00 UTC). */
    series("30 2 * * *", "America/New_York", utc(2026, 3, 7, 12, 0), got, 2);
    assert_int_equal(got[0], utc(2026, 3, 8, 7, 0));
    assert_int_equal(got[1], utc(2026, 3, 9, 6, 30));
    /* 01:30 on 2026-11-01 happens twice (EDT at 05:30 UTC, EST at 06:30 UTC): fires once. */
    series("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12, 0), got, 2);
    assert_int_equal(got[0], utc(2026, 11, 1, 5, 30));
    assert_int_equal(got[1], utc(2026, 11, 2, 6, 30));
    /* Weekdays at 06:00 across the spring change: Fri 03-06 EST, Mon 03-09 EDT. */
    series("0 6 * * MON-FRI", "America/New_York", utc(2026, 3, 6, 0, 0), got, 2);
    assert_int_equal(got[0], utc(2026, 3, 6, 11, 0));
    assert_int_equal(got[1], utc(2026, 3, 9, 10, 0));
}

static void test_dst_rule_after_table(void **state)
{
    int64_t got[3];

    (void)state;
    /* 2040 is past the last listed transition (2037): the footer rule decides. Berlin moves to
     * CEST on the last Sunday of March, 2040-03-25, and back on 2040-10-28. */
    series("0 6 * * *", "Europe/Berlin", utc(2040, 3, 24, 0, 0), got, 2);
    assert_int_equal(got[0], utc(2040, 3, 24, 5, 0));
    assert_int_equal(got[1], utc(2040, 3, 25, 4, 0));
    series("30 2 * * *", "Europe/Berlin", utc(2040, 3, 24, 12, 0), got, 1);
    assert_int_equal(got[0], utc(2040, 3, 25, 1, 0));
    series("30 2 * * *", "Europe/Berlin", utc(2040, 10, 27, 12, 0), got, 2);
    assert_int_equal(got[0], utc(2040, 10, 28, 0, 30));
    assert_int_equal(got[1], utc(2040, 10, 29, 1, 30));
    /* Southern hemisphere, daylight time across new year: Sydney 06:00 AEDT = 19:00 UTC. */
    series("0 6 1 1 *", "Australia/Sydney", utc(2044, 6, 1, 0, 0), got, 1);
    assert_int_equal(got[0], utc(2044, 12, 31, 19, 0));
    series("0 6 1 7 *", "Australia/Sydney", utc(2044, 1, 1, 0, 0), got, 1);
    assert_int_equal(got[0], utc(2044, 6, 30, 20, 0));
}

static void test_dst_other_zones(void **state)
{
    int64_t got[3];

    (void)state;
    /* Half-hour and 45-minute offsets. */
    series("0 9 * * *", "Asia/Kolkata", utc(2026, 1, 1, 0, 0), got, 1);
    assert_int_equal(got[0], utc(2026, 1, 1, 3, 30));
    series("0 9 * * *", "Asia/Kathmandu", utc(2026, 1, 1, 0, 0), got, 1);
    assert_int_equal(got[0], utc(2026, 1, 1, 3, 15));
    /* Lord Howe moves by 30 minutes: 02:00 -> 02:30 on 2026-10-04 (15:30 UTC), so 02:15
     * that day runs at the jump. */
    series("15 2 * * *", "Australia/Lord_Howe", utc(2026, 10, 2, 0, 0), got, 3);
    assert_int_equal(got[0], utc(2026, 10, 2, 15, 45)); /* +10:30 */
    assert_int_equal(got[1], utc(2026, 10, 3, 15, 30)); /* the jump */
    assert_int_equal(got[2], utc(2026, 10, 4, 15, 15)); /* +11:00 */
    /* Samoa skipped 2011-12-30 entirely: every time that day lands on the jump, 10:00 UTC. */
    series("0 12 * * *", "Pacific/Apia", utc(2011, 12, 29, 0, 0), got, 2);
    assert_int_equal(got[0], utc(2011, 12, 29, 22, 0));
    assert_int_equal(got[1], utc(2011, 12, 30, 10, 0));
}

/* Compares wr_tz_offset() and wr_tz_abbr() with glibc over two centuries, every 7h13m. */
static void test_tz_offsets_match_libc(void **state)
{
    static const char *const zones[] = {
        "Europe/Berlin", "America/New_York",  "Australia/Sydney",  "Australia/Lord_Howe",
        "Europe/Dublin", "Africa/Casablanca", "America/Sao_Paulo", "Pacific/Apia",
        "Asia/Kolkata",  "America/St_Johns",  "Pacific/Chatham",   "America/Santiago",
        "Asia/Tehran",   "Antarctica/Troll",  "Etc/GMT+5",         "UTC",
    };
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        char err[WR_ERR_MAX] = "";
        struct wr_tz *tz = wr_tz_load(zones[i], err, sizeof(err));
        if (!tz) {
            fail_msg("%s: %s", zones[i], err);
        }
        setenv("TZ", zones[i], 1);
        tzset();
        for (int64_t t = utc(1950, 1, 1, 0, 0); t < utc(2150, 1, 1, 0, 0); t += 7 * 3600 + 780) {
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            if (wr_tz_offset(tz, t) != tm.tm_gmtoff) {
                fail_msg("%s at %lld: %d, libc says %ld", zones[i], (long long)t,
                         (int)wr_tz_offset(tz, t), (long)tm.tm_gmtoff);
            }
            if (strcmp(wr_tz_abbr(tz, t), tm.tm_zone) != 0) {
                fail_msg("%s at %lld: abbreviation %s, libc says %s", zones[i], (long long)t,
                         wr_tz_abbr(tz, t), tm.tm_zone);
            }
        }
        wr_tz_free(tz);
    }
    if (old) {
        setenv("TZ", old, 1);
        free(old);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

/* }====================================================================== */

/* {====================================================================== zone names */

static void tz_ok(const char *name)
{
    char err[WR_ERR_MAX] = "";

    if (wr_tz_check(name, err, sizeof(err)) != 0) {
        fail_msg("'%s' should be valid, got: %s", name, err);
    }
}

static void tz_fails(const char *name, const char *want)
{
    char err[WR_ERR_MAX] = "";

    assert_int_equal(wr_tz_check(name, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    assert_null(wr_tz_load(name, NULL, 0));
}

static void test_tz_good(void **state)
{
    struct wr_tz *tz;

    (void)state;
    tz_ok("Europe/Berlin");
    tz_ok("America/New_York");
    tz_ok("America/Argentina/Buenos_Aires");
    tz_ok("UTC");
    tz_ok("Etc/UTC");
    tz_ok("Etc/GMT+5");
    tz_ok("Etc/GMT-14");
    tz_ok("US/Eastern"); /* a symlink in Debian's tzdata */
    assert_int_equal(wr_tz_check("Asia/Tokyo", NULL, 0), 0);
    tz = wr_tz_load("UTC", NULL, 0);
    assert_non_null(tz);
    assert_int_equal(wr_tz_offset(tz, 0), 0);
    wr_tz_free(tz);
    assert_int_equal(wr_tz_offset(NULL, 1234567), 0);
    wr_tz_free(NULL);
}

static void test_tz_offsets(void **state)
{
    struct wr_tz *tz = wr_tz_load("Europe/Berlin", NULL, 0);

    (void)state;
    assert_non_null(tz);
    assert_int_equal(wr_tz_offset(tz, utc(2026, 1, 15, 0, 0)), 3600);
    assert_int_equal(wr_tz_offset(tz, utc(2026, 7, 15, 0, 0)), 7200);
    assert_int_equal(wr_tz_offset(tz, utc(2026, 3, 29, 1, 0) - 1), 3600);
    assert_int_equal(wr_tz_offset(tz, utc(2026, 3, 29, 1, 0)), 7200);
    assert_int_equal(wr_tz_offset(tz, utc(2026, 10, 25, 1, 0) - 1), 7200);
    assert_int_equal(wr_tz_offset(tz, utc(2026, 10, 25, 1, 0)), 3600);
    /* Local mean time before 1893: +0:53:28. */
    assert_int_equal(wr_tz_offset(tz, utc(1850, 1, 1, 0, 0)), 3208);
    wr_tz_free(tz);
}

static void test_tz_malicious(void **state)
{
    char long_name[300];

    (void)state;
    tz_fails("", "empty time zone name (e.g. Europe/Berlin)");
    tz_fails(NULL, "empty time zone name (e.g. Europe/Berlin)");
    tz_fails("/etc/passwd",
             "time zone '/etc/passwd' is a path; use a zone name such as Europe/Berlin");
    tz_fails("/usr/share/zoneinfo/UTC",
             "time zone '/usr/share/zoneinfo/UTC' is a path; use a zone name such as "
             "Europe/Berlin");
    tz_fails("../etc/passwd", "invalid time zone name '../etc/passwd' (e.g. Europe/Berlin)");
    tz_fails("Europe/../../../etc/passwd",
             "invalid time zone name 'Europe/../../../etc/passwd' (e.g. Europe/Berlin)");
    tz_fails("Europe/..", "invalid time zone name 'Europe/..' (e.g. Europe/Berlin)");
    tz_fails("./UTC", "invalid time zone name './UTC' (e.g. Europe/Berlin)");
    tz_fails("Europe//Berlin", "invalid time zone name 'Europe//Berlin' (e.g. Europe/Berlin)");
    tz_fails("Europe/Berlin/", "invalid time zone name 'Europe/Berlin/' (e.g. Europe/Berlin)");
    tz_fails("Europe/Berlin\n", "invalid time zone name 'Europe/Berlin?' (e.g. Europe/Berlin)");
    tz_fails("Europe/Ber lin", "invalid time zone name 'Europe/Ber lin' (e.g. Europe/Berlin)");
    tz_fails("Europe\\Berlin", "invalid time zone name 'Europe\\Berlin' (e.g. Europe/Berlin)");
    tz_fails("Europe/Berlin;rm", "invalid time zone name 'Europe/Berlin;rm' (e.g. Europe/Berlin)");
    memset(long_name, 'A', 299);
    long_name[299] = '\0';
    {
        char want[200];
        snprintf(want, sizeof(want), "invalid time zone name '%.64s...' (e.g. Europe/Berlin)",
                 long_name);
        tz_fails(long_name, want);
    }
}

static void test_tz_unknown(void **state)
{
    (void)state;
    tz_fails("Europe/Berlln", "unknown time zone 'Europe/Berlln' (did you mean 'Europe/Berlin'?)");
    tz_fails("europe/berlin", "unknown time zone 'europe/berlin' (did you mean 'Europe/Berlin'?)");
    tz_fails("America/NewYork",
             "unknown time zone 'America/NewYork' (did you mean 'America/New_York'?)");
    tz_fails("Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'");
    /* A directory, and files in the database that are not zones. */
    tz_fails("Europe", "unknown time zone 'Europe'");
    tz_fails("zone.tab", "unknown time zone 'zone.tab'");
    tz_fails("tzdata.zi", "unknown time zone 'tzdata.zi'");
}

/* }====================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_all_stars),
        cmocka_unit_test(test_parse_weekdays_at_six),
        cmocka_unit_test(test_parse_lists_ranges_steps),
        cmocka_unit_test(test_parse_sunday_as_seven),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_parse_blanks),
        cmocka_unit_test(test_parse_macros),
        cmocka_unit_test(test_parse_star_flags),
        cmocka_unit_test(test_parse_errors_fields),
        cmocka_unit_test(test_parse_errors_range),
        cmocka_unit_test(test_parse_errors_names),
        cmocka_unit_test(test_parse_errors_steps),
        cmocka_unit_test(test_parse_errors_reversed),
        cmocka_unit_test(test_parse_errors_items),
        cmocka_unit_test(test_parse_errors_macros),
        cmocka_unit_test(test_parse_error_long_spec_is_shortened),
        cmocka_unit_test(test_parse_error_buffers),
        cmocka_unit_test(test_next_every_minute),
        cmocka_unit_test(test_next_utc_basics),
        cmocka_unit_test(test_next_leap_day),
        cmocka_unit_test(test_next_never),
        cmocka_unit_test(test_next_vixie_day_rule),
        cmocka_unit_test(test_next_matches_brute_force),
        cmocka_unit_test(test_next_bad_input),
        cmocka_unit_test(test_dst_berlin_weekdays_spring),
        cmocka_unit_test(test_dst_berlin_weekdays_autumn),
        cmocka_unit_test(test_dst_berlin_skipped_time_runs_at_jump),
        cmocka_unit_test(test_dst_berlin_repeated_time_fires_once),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_dst_rule_after_table),
        cmocka_unit_test(test_dst_other_zones),
        cmocka_unit_test(test_tz_offsets_match_libc),
        cmocka_unit_test(test_tz_good),
        cmocka_unit_test(test_tz_offsets),
        cmocka_unit_test(test_tz_malicious),
        cmocka_unit_test(test_tz_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
