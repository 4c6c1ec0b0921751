/*
 * test_user_date — unit tests for the pure core of the user-date trigger (triggers/user_date):
 * its argument table and validate (through the argspec checker, as a workflow load runs them),
 * due times across daylight saving changes, the poll's window and its edges, the $filter and
 * request path, and a run's event and key.
 *
 * The kind is not in triggers/triggers.def yet, so no fixture can name it; these tests call
 * its descriptor directly.
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
#include "engine/base/timestamp.h"
#include "engine/lang/argspec.h"
#include "engine/lang/cron.h"
#include "engine/lua/lua_host.h"
#include "triggers/trigger.h"
#include "triggers/user_date/due.h"

#define MIN  (60 * 1000LL)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

/* The UTC instant of an ISO timestamp, in ms. */
static int64_t ms_of(const char *iso)
{
    char why[WR_ERR_MAX];
    int64_t sec = 0;
    int32_t nsec = 0;
    if (wr_timestamp_parse(iso, strlen(iso), &sec, &nsec, why) != 0) {
        fail_msg("bad test timestamp '%s': %s", iso, why);
    }
    return sec * 1000 + nsec / 1000000;
}

static struct wr_tz *zone(const char *name)
{
    char err[256];
    struct wr_tz *tz = wr_tz_load(name, err, sizeof(err));
    if (!tz) {
        fail_msg("zone %s: %s", name, err);
    }
    return tz;
}

/* {====== the argument table and validate ====== */

/* Checks a YAML mapping of trigger arguments as the workflow loader does (the table, then
   validate when the table found nothing); returns the messages joined by newlines. Owned. */
static char *check_args(const char *yaml)
{
    struct wr_diags d = {0};
    struct wr_srcdoc *doc = NULL;
    struct wr_buf b = {0};

    if (wr_srcdoc_parse("w.yaml", yaml, strlen(yaml), false, &doc, &d) != 0) {
        fail_msg("test document does not parse: %s", d.items[0]);
    }
    struct wr_check c = {.doc = doc, .d = &d, .lua = wr_lua_new(NULL, NULL), .base_dir = "."};
    const struct wr_trigger_kind *k = &wr_trigger_user_date;
    wr_argspec_check(&c, k->args, doc->root, "", "the user-date trigger", NULL);
    if (c.errors == 0) {
        k->validate(&c, doc->root, "");
    }
    assert_int_equal((size_t)c.errors, d.count);
    for (size_t i = 0; i < d.count; i++) {
        wr_buf_addf(&b, "%s%s", i ? "\n" : "", d.items[i]);
    }
    wr_lua_free(c.lua);
    wr_srcdoc_free(doc);
    wr_diags_clear(&d);
    return wr_buf_take(&b);
}

static void expect_messages(const char *yaml, const char *want)
{
    char *got = check_args(yaml);
    if (strcmp(got, want) != 0) {
        fail_msg("checking:\n%s\nwant:\n%s\ngot:\n%s", yaml, want, got);
    }
    free(got);
}

/* attribute: employeeHireDate, then `key: value` on line 2 (its value at column len + 3). */
static void expect_arg(const char *key, const char *value, const char *msg)
{
    char *yaml = wr_xasprintf("attribute: employeeHireDate\n%s: %s\n", key, value);
    char *want =
        msg ? wr_xasprintf("w.yaml:2:%zu: %s: %s", strlen(key) + 3, key, msg) : wr_xstrdup("");
    expect_messages(yaml, want);
    free(yaml);
    free(want);
}

static void test_args_valid(void **state)
{
    (void)state;
    expect_messages("attribute: employeeHireDate\n", "");
    expect_messages("attribute: employeeLeaveDateTime\n"
                    "offset: -7d\n"
                    "at: \"09:00\"\n"
                    "zone: Europe/Berlin\n"
                    "catch_up: 3d\n"
                    "filter: \"department eq 'Sales' and (accountEnabled eq true)\"\n"
                    "select: [department, jobTitle]\n"
                    "every: 1s\n",
                    "");
    /* YAML 1.2: an unquoted 09:00 is the string "09:00", not sexagesimal 540. */
    expect_arg("at", "09:00", NULL);
    expect_arg("offset", "180d", NULL);
    expect_arg("offset", "-180d", NULL);
    expect_arg("offset", "+2w", NULL);
    expect_arg("offset", "0s", NULL);
    expect_arg("at", "\"23:59\"", NULL);
    expect_arg("at", "\"00:00\"", NULL);
    expect_arg("filter", "\"displayName eq 'O''Brien'\"", NULL);
    expect_arg("filter", "\"startsWith(displayName, ')')\"", NULL);
    expect_arg("select", "[id, onPremisesExtensionAttributes, employeeHireDate]", NULL);
}

static void test_args_errors(void **state)
{
    (void)state;
    expect_messages("offset: 1d\n", "w.yaml:1:1: the user-date trigger needs 'attribute' (a date "
                                    "property of a user, e.g. employeeHireDate)");
    expect_messages("attribute: employeeHireDat\n",
                    "w.yaml:1:12: attribute: unknown value 'employeeHireDat' (did you mean "
                    "'employeeHireDate'?)");
    expect_messages("attribute: department\n",
                    "w.yaml:1:12: attribute: unknown value 'department' (expected one of: "
                    "employeeHireDate, employeeLeaveDateTime, createdDateTime, birthday, hireDate, "
                    "externalUserStateChangeDateTime, lastPasswordChangeDateTime, "
                    "onPremisesLastSyncDateTime, signInSessionsValidFromDateTime)");
    expect_messages("attribute: employeeHireDate\noffst: 1d\n",
                    "w.yaml:2:1: offst: unknown key 'offst' in the user-date trigger (did you mean "
                    "'offset'?)");
    expect_messages("attribute: \"{{ event.x }}\"\n",
                    "w.yaml:1:12: attribute: templates ('{{ }}') are not allowed here");

    expect_arg("offset", "181d", "181d is out of range -180d..180d");
    expect_arg("offset", "-26w", "-26w is out of range -180d..180d");
    expect_arg("offset", "-7x", "unknown unit 'x' in '-7x' (use ms, s, m, h, d or w)");
    expect_arg("offset", "--7d", "invalid duration '--7d' (expected e.g. 30s, -7d or 1h30m)");
    expect_arg("offset", "7", "expected a duration such as -7d, 0s or 2w, got an integer");

    expect_arg("at", "\"9:00\"", "'9:00' is not a time of day (HH:MM, 00:00-23:59)");
    expect_arg("at", "\"24:00\"", "'24:00' is not a time of day (HH:MM, 00:00-23:59)");
    expect_arg("at", "\"12:60\"", "'12:60' is not a time of day (HH:MM, 00:00-23:59)");
    expect_arg("at", "\"09:00:00\"", "'09:00:00' is not a time of day (HH:MM, 00:00-23:59)");

    expect_arg("zone", "Europe/Berlln",
               "unknown time zone 'Europe/Berlln' (did you mean 'Europe/Berlin'?)");
    expect_arg("catch_up", "-1d", "negative duration '-1d'");
    expect_arg("every", "500ms", "must be at least 1s");
    expect_arg("every", "0s", "must be at least 1s");

    expect_arg("filter", "\"\"", "is empty (expected a string)");
    expect_arg("filter", "\"department eq 'Sales\"",
               "the quote at offset 14 of the filter is never closed (write a quote inside a "
               "string as '')");
    expect_arg("filter", "\"(a eq 1\"", "the filter leaves 1 '(' unclosed");
    expect_arg("filter", "\"a eq 1)\"", "')' at offset 6 of the filter closes nothing");
    expect_arg("filter", "\"a eq\\t1\"", "control character 0x09 at offset 4 of the filter");

    expect_messages("attribute: employeeHireDate\nselect: [department, jobTitel, frobnicate]\n",
                    "w.yaml:2:22: select[1]: unknown user property 'jobTitel' (did you mean "
                    "'jobTitle'?)\n"
                    "w.yaml:2:32: select[2]: unknown user property 'frobnicate' (see Graph's user "
                    "resource)");
    expect_arg("select", "department", "expected a list of strings, got a string");
}

static void test_spec_read(void **state)
{
    struct wr_user_date_spec s;
    char err[256] = "";
    (void)state;

    struct json_object *args = json_tokener_parse("{\"attribute\": \"employeeHireDate\"}");
    assert_int_equal(wr_user_date_spec_read(args, &s, err, sizeof(err)), 0);
    assert_string_equal(s.attribute, "employeeHireDate");
    assert_int_equal(s.offset_ms, 0);
    assert_int_equal(s.at_min, 0);
    assert_string_equal(s.zone, "UTC");
    assert_int_equal(s.catch_up_ms, 3 * DAY);
    assert_int_equal(s.every_ms, HOUR);
    assert_null(s.filter);
    assert_int_equal(s.nselect, 0);
    wr_user_date_spec_clear(&s);
    json_object_put(args);

    args = json_tokener_parse("{\"attribute\": \"employeeLeaveDateTime\", \"offset\": \"-7d\", "
                              "\"at\": \"09:30\", \"zone\": \"Europe/Berlin\", \"catch_up\": "
                              "\"1d\", \"filter\": \"a eq 1\", \"select\": [\"department\"], "
                              "\"every\": \"15m\"}");
    assert_int_equal(wr_user_date_spec_read(args, &s, err, sizeof(err)), 0);
    assert_int_equal(s.offset_ms, -7 * DAY);
    assert_int_equal(s.at_min, 9 * 60 + 30);
    assert_string_equal(s.zone, "Europe/Berlin");
    assert_int_equal(s.catch_up_ms, DAY);
    assert_int_equal(s.every_ms, 15 * MIN);
    assert_string_equal(s.filter, "a eq 1");
    assert_int_equal(s.nselect, 1);
    assert_string_equal(s.select[0], "department");
    wr_user_date_spec_clear(&s);
    json_object_put(args);

    args = json_tokener_parse("{\"attribute\": \"employeeHireDate\", \"offset\": \"200d\"}");
    assert_int_equal(wr_user_date_spec_read(args, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "offset: out of range -180d..180d");
    wr_user_date_spec_clear(&s);
    json_object_put(args);
    wr_user_date_spec_clear(NULL);
}

/* }====== */

/* {====== due times ====== */

/* The due time of value with offset and at in zone name, as ISO UTC (static buffer). */
static const char *due_of(const char *value, int64_t offset, const char *at, const char *name)
{
    static char buf[WR_USER_DATE_ISO_LEN];
    char err[256];
    int at_min = 0;
    int64_t due = 0, v = 0;
    struct wr_tz *tz = zone(name);
    assert_int_equal(wr_user_date_parse_at(at, &at_min, err, sizeof(err)), 0);
    if (wr_user_date_due(value, strlen(value), offset, at_min, tz, &v, &due, err, sizeof(err))) {
        fail_msg("%s: %s", value, err);
    }
    assert_int_equal(v, ms_of(value));
    wr_tz_free(tz);
    return wr_user_date_iso(due, buf);
}

static void test_due_utc(void **state)
{
    (void)state;
    assert_string_equal(due_of("2026-03-29T00:00:00Z", 0, "00:00", "UTC"), "2026-03-29T00:00:00Z");
    assert_string_equal(due_of("2026-03-29T00:00:00Z", 0, "09:00", "UTC"), "2026-03-29T09:00:00Z");
    assert_string_equal(due_of("2026-03-29T00:00:00Z", -7 * DAY, "23:59", "UTC"),
                        "2026-03-22T23:59:00Z");
    /* The date is the UTC date: a time of day in the value is dropped, a zone suffix first
       converted. */
    assert_string_equal(due_of("2026-03-30T22:00:00Z", 0, "09:00", "Europe/Berlin"),
                        "2026-03-30T07:00:00Z");
    assert_string_equal(due_of("2026-03-30T01:00:00+02:00", 0, "09:00", "UTC"),
                        "2026-03-29T09:00:00Z");
    assert_string_equal(due_of("2026-03-29T23:59:59.999Z", 0, "00:00", "UTC"),
                        "2026-03-29T00:00:00Z");
    /* An offset that is not whole days moves the date by where value + offset lands. */
    assert_string_equal(due_of("2026-03-29T00:00:00Z", -1, "00:00", "UTC"), "2026-03-28T00:00:00Z");
    assert_string_equal(due_of("2026-03-29T00:00:00Z", 36 * HOUR, "00:00", "UTC"),
                        "2026-03-30T00:00:00Z");
    /* Dates before 1970 work too (birthdays). */
    assert_string_equal(due_of("1969-12-31T00:00:00Z", 0, "12:00", "UTC"), "1969-12-31T12:00:00Z");
}

static void test_due_berlin_dst(void **state)
{
    (void)state;
    /* 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z); 02:30 does not exist: due at the
       first instant after the jump. */
    assert_string_equal(due_of("2026-03-29T00:00:00Z", 0, "02:30", "Europe/Berlin"),
                        "2026-03-29T01:00:00Z");
    assert_string_equal(due_of("2026-03-29T00:00:00Z", 0, "01:59", "Europe/Berlin"),
                        "2026-03-29T00:59:00Z");
    assert_string_equal(due_of("2026-03-29T00:00:00Z", 0, "03:00", "Europe/Berlin"),
                        "2026-03-29T01:00:00Z");
    assert_string_equal(due_of("2026-03-29T00:00:00Z", 0, "09:00", "Europe/Berlin"),
                        "2026-03-29T07:00:00Z");
    /* 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z); 02:30 happens twice: the first. */
    assert_string_equal(due_of("2026-10-25T00:00:00Z", 0, "02:30", "Europe/Berlin"),
                        "2026-10-25T00:30:00Z");
    assert_string_equal(due_of("2026-10-25T00:00:00Z", 0, "09:00", "Europe/Berlin"),
                        "2026-10-25T08:00:00Z");
    /* -7d across the spring change: 09:00 CET a week before 09:00 CEST (7 days and 1 hour). */
    assert_string_equal(due_of("2026-04-01T00:00:00Z", 0, "09:00", "Europe/Berlin"),
                        "2026-04-01T07:00:00Z");
    assert_string_equal(due_of("2026-04-01T00:00:00Z", -7 * DAY, "09:00", "Europe/Berlin"),
                        "2026-03-25T08:00:00Z");
    /* +180d from winter into summer, and from summer into winter. */
    assert_string_equal(due_of("2026-03-01T00:00:00Z", 180 * DAY, "09:00", "Europe/Berlin"),
                        "2026-08-28T07:00:00Z");
    assert_string_equal(due_of("2026-06-01T00:00:00Z", 180 * DAY, "09:00", "Europe/Berlin"),
                        "2026-11-28T08:00:00Z");
    /* -180d from summer back into winter. */
    assert_string_equal(due_of("2026-08-28T00:00:00Z", -180 * DAY, "09:00", "Europe/Berlin"),
                        "2026-03-01T08:00:00Z");
}

static void test_due_new_york_dst(void **state)
{
    (void)state;
    /* 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z). */
    assert_string_equal(due_of("2026-03-08T00:00:00Z", 0, "02:30", "America/New_York"),
                        "2026-03-08T07:00:00Z");
    assert_string_equal(due_of("2026-03-08T00:00:00Z", 0, "09:00", "America/New_York"),
                        "2026-03-08T13:00:00Z");
    assert_string_equal(due_of("2026-03-15T00:00:00Z", -7 * DAY, "09:00", "America/New_York"),
                        "2026-03-08T13:00:00Z");
    assert_string_equal(due_of("2026-03-14T00:00:00Z", -7 * DAY, "09:00", "America/New_York"),
                        "2026-03-07T14:00:00Z");
    /* 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice: the first (EDT). */
    assert_string_equal(due_of("2026-11-01T00:00:00Z", 0, "01:30", "America/New_York"),
                        "2026-11-01T05:30:00Z");
    assert_string_equal(due_of("2026-11-01T00:00:00Z", 0, "00:00", "America/New_York"),
                        "2026-11-01T04:00:00Z");
}

static void test_due_half_hour_zones(void **state)
{
    (void)state;
    /* India: +05:30 all year. */
    assert_string_equal(due_of("2026-06-01T00:00:00Z", 0, "09:00", "Asia/Kolkata"),
                        "2026-06-01T03:30:00Z");
    assert_string_equal(due_of("2026-06-01T00:00:00Z", 0, "00:00", "Asia/Kolkata"),
                        "2026-05-31T18:30:00Z");
    /* Newfoundland: -03:30 / -02:30; 2026-03-08 02:00 NST becomes 03:00 NDT (05:30Z). */
    assert_string_equal(due_of("2026-03-08T00:00:00Z", 0, "02:30", "America/St_Johns"),
                        "2026-03-08T05:30:00Z");
    assert_string_equal(due_of("2026-03-08T00:00:00Z", 0, "09:00", "America/St_Johns"),
                        "2026-03-08T11:30:00Z");
    /* Lord Howe Island moves its clocks by 30 minutes: 2026-10-04 02:00 (+10:30) becomes
       02:30 (+11), so 02:15 is skipped and due at the jump, 15:30Z the day before. */
    assert_string_equal(due_of("2026-10-04T00:00:00Z", 0, "02:15", "Australia/Lord_Howe"),
                        "2026-10-03T15:30:00Z");
    assert_string_equal(due_of("2026-10-04T00:00:00Z", 0, "02:30", "Australia/Lord_Howe"),
                        "2026-10-03T15:30:00Z");
    /* 2026-04-05 02:00 (+11) becomes 01:30 (+10:30): 01:45 twice, the first. */
    assert_string_equal(due_of("2026-04-05T00:00:00Z", 0, "01:45", "Australia/Lord_Howe"),
                        "2026-04-04T14:45:00Z");
}

static void test_due_bad_value(void **state)
{
    char err[256] = "";
    int64_t due = -1;
    (void)state;
    assert_int_equal(
        wr_user_date_due("2026-02-30T00:00:00Z", 20, 0, 0, NULL, NULL, &due, err, sizeof(err)), -1);
    assert_string_equal(err, "'2026-02-30T00:00:00Z' is not a date: day 30 does not exist in "
                             "2026-02 (it has 28 days)");
    assert_int_equal(due, -1);
    assert_int_equal(wr_user_date_due("soon", 4, 0, 0, NULL, NULL, &due, err, sizeof(err)), -1);
    assert_true(strncmp(err, "'soon' is not a date: ", 22) == 0);
}

/* }====== */

/* {====== the window, the filter and the request ====== */

static struct wr_user_date_spec berlin_spec(void)
{
    struct wr_user_date_spec s = {
        .attribute = "employeeHireDate",
        .offset_ms = -7 * DAY,
        .at_min = 9 * 60,
        .zone = "Europe/Berlin",
        .catch_up_ms = 3 * DAY,
        .every_ms = HOUR,
        .filter = "department eq 'Sales'",
    };
    return s;
}

static void test_window(void **state)
{
    struct wr_user_date_spec s = berlin_spec();
    struct wr_user_date_window w;
    char lo[WR_USER_DATE_ISO_LEN], hi[WR_USER_DATE_ISO_LEN];
    (void)state;

    wr_user_date_window(&s, ms_of("2026-03-20T12:00:00Z"), &w);
    assert_int_equal(w.now_ms, ms_of("2026-03-20T12:00:00Z"));
    assert_int_equal(w.due_lo, ms_of("2026-03-17T12:00:00Z"));
    assert_int_equal(w.due_hi, ms_of("2026-03-20T13:05:00Z"));
    /* due_lo + 7d - 9h - 2d and due_hi + 7d - 9h + 2d */
    assert_string_equal(wr_user_date_iso(w.value_lo, lo), "2026-03-22T03:00:00Z");
    assert_string_equal(wr_user_date_iso(w.value_hi, hi), "2026-03-29T04:05:00Z");

    /* Whole seconds, outwards. */
    wr_user_date_window(&s, ms_of("2026-03-20T12:00:00.250Z"), &w);
    assert_string_equal(wr_user_date_iso(w.value_lo, lo), "2026-03-22T03:00:00Z");
    assert_string_equal(wr_user_date_iso(w.value_hi, hi), "2026-03-29T04:05:01Z");

    /* A preview's window (`weir scope --days 7`): due_hi given, the value window follows. */
    wr_user_date_window_until(&s, ms_of("2026-03-20T12:00:00Z"), ms_of("2026-03-27T12:00:00Z"), &w);
    assert_int_equal(w.due_lo, ms_of("2026-03-17T12:00:00Z"));
    assert_int_equal(w.due_hi, ms_of("2026-03-27T12:00:00Z"));
    assert_string_equal(wr_user_date_iso(w.value_lo, lo), "2026-03-22T03:00:00Z");
    assert_string_equal(wr_user_date_iso(w.value_hi, hi), "2026-04-05T03:00:00Z");
}

static void test_classify_edges(void **state)
{
    struct wr_user_date_spec s = berlin_spec();
    struct wr_user_date_window w;
    struct wr_tz *tz = zone("Europe/Berlin");
    int64_t due = 0;
    (void)state;

    /* Hired 2026-03-25: due 2026-03-18 09:00 CET, 08:00Z. */
    assert_int_equal(wr_user_date_due("2026-03-25T00:00:00Z", 20, s.offset_ms, s.at_min, tz, NULL,
                                      &due, NULL, 0),
                     0);
    assert_int_equal(due, ms_of("2026-03-18T08:00:00Z"));
    /* Exactly catch_up ago: fires. A millisecond later it is one ms too old: missed. */
    wr_user_date_window(&s, due + 3 * DAY, &w);
    assert_int_equal(wr_user_date_classify(&w, due), WR_USER_DATE_NOW);
    assert_int_equal(wr_user_date_classify(&w, due - 1), WR_USER_DATE_MISSED);
    wr_user_date_window(&s, due + 3 * DAY + 1, &w);
    assert_int_equal(wr_user_date_classify(&w, due), WR_USER_DATE_MISSED);
    /* Due exactly now fires; a ms later is armed; past the look-ahead, a later poll's. */
    wr_user_date_window(&s, due, &w);
    assert_int_equal(wr_user_date_classify(&w, due), WR_USER_DATE_NOW);
    assert_int_equal(wr_user_date_classify(&w, due + 1), WR_USER_DATE_LATER);
    assert_int_equal(wr_user_date_classify(&w, due + HOUR + 5 * MIN), WR_USER_DATE_LATER);
    assert_int_equal(wr_user_date_classify(&w, due + HOUR + 5 * MIN + 1), WR_USER_DATE_BEYOND);
    /* catch_up 0: only what is due exactly now or later. */
    s.catch_up_ms = 0;
    wr_user_date_window(&s, due, &w);
    assert_int_equal(wr_user_date_classify(&w, due), WR_USER_DATE_NOW);
    assert_int_equal(wr_user_date_classify(&w, due - 1), WR_USER_DATE_MISSED);
    wr_tz_free(tz);
}

/*
 * The value window never loses a user: for zones east and west, half-hour and day-skipping
 * ones, offsets and times of day, every value whose due time is the poll's lies in the window.
 */
static void test_window_covers(void **state)
{
    static const char *const zones[] = {"UTC",
                                        "Europe/Berlin",
                                        "America/New_York",
                                        "Asia/Kolkata",
                                        "Australia/Lord_Howe",
                                        "Pacific/Kiritimati",
                                        "Pacific/Pago_Pago",
                                        "Pacific/Apia",
                                        NULL};
    static const int64_t offsets[] = {-180 * DAY, -7 * DAY, -36 * HOUR, 0, 13 * HOUR, 180 * DAY};
    static const int ats[] = {0, 150, 9 * 60, 23 * 60 + 59};
    static const char *const nows[] = {"2026-03-29T01:30:00Z", "2026-10-25T00:45:00Z",
                                       "2011-12-30T10:00:00Z", "2026-06-15T23:59:59.999Z"};
    (void)state;

    for (size_t z = 0; zones[z]; z++) {
        struct wr_tz *tz = zone(zones[z]);
        for (size_t o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
            for (size_t a = 0; a < sizeof(ats) / sizeof(ats[0]); a++) {
                for (size_t n = 0; n < sizeof(nows) / sizeof(nows[0]); n++) {
                    struct wr_user_date_spec s = {.offset_ms = offsets[o],
                                                  .at_min = ats[a],
                                                  .catch_up_ms = 3 * DAY,
                                                  .every_ms = HOUR};
                    struct wr_user_date_window w;
                    wr_user_date_window(&s, ms_of(nows[n]), &w);
                    int64_t from = w.value_lo - 4 * DAY, to = w.value_hi + 4 * DAY;
                    for (int64_t v = from; v <= to; v += 30 * MIN) {
                        char iso[WR_USER_DATE_ISO_LEN];
                        int64_t due = 0;
                        wr_user_date_iso(v, iso);
                        assert_int_equal(wr_user_date_due(iso, strlen(iso), s.offset_ms, s.at_min,
                                                          tz, NULL, &due, NULL, 0),
                                         0);
                        enum wr_user_date_when k = wr_user_date_classify(&w, due);
                        if ((k == WR_USER_DATE_NOW || k == WR_USER_DATE_LATER) &&
                            (v < w.value_lo || v > w.value_hi)) {
                            fail_msg("%s offset %lld at %d now %s: value %s (due in the poll) "
                                     "is outside the window",
                                     zones[z], (long long)s.offset_ms, s.at_min, nows[n], iso);
                        }
                    }
                }
            }
        }
        wr_tz_free(tz);
    }
}

static void test_filter_and_path(void **state)
{
    struct wr_user_date_spec s = berlin_spec();
    struct wr_user_date_window w;
    char *got;
    char *sel[] = {"department", "jobTitle", "mail", "employeeHireDate", "department"};
    (void)state;

    wr_user_date_window(&s, ms_of("2026-03-20T12:00:00Z"), &w);
    got = wr_user_date_filter(&s, &w);
    assert_string_equal(got, "employeeHireDate ge 2026-03-22T03:00:00Z and employeeHireDate le "
                             "2026-03-29T04:05:00Z and (department eq 'Sales')");
    free(got);

    got = wr_user_date_request_path(&s, &w);
    assert_string_equal(
        got, "/users?$filter=employeeHireDate%20ge%202026-03-22T03%3A00%3A00Z%20and%20"
             "employeeHireDate%20le%202026-03-29T04%3A05%3A00Z%20and%20%28department%20eq%20"
             "%27Sales%27%29"
             "&$select=id,userPrincipalName,displayName,mail,employeeId,accountEnabled,"
             "employeeHireDate&$count=true&$top=999");
    free(got);

    /* No filter of the user's; select:ed properties once each, after the fixed ones. */
    s.filter = NULL;
    s.select = sel;
    s.nselect = sizeof(sel) / sizeof(sel[0]);
    got = wr_user_date_filter(&s, &w);
    assert_string_equal(got, "employeeHireDate ge 2026-03-22T03:00:00Z and employeeHireDate le "
                             "2026-03-29T04:05:00Z");
    free(got);
    got = wr_user_date_request_path(&s, &w);
    assert_string_equal(got,
                        "/users?$filter=employeeHireDate%20ge%202026-03-22T03%3A00%3A00Z%20and%20"
                        "employeeHireDate%20le%202026-03-29T04%3A05%3A00Z"
                        "&$select=id,userPrincipalName,displayName,mail,employeeId,accountEnabled,"
                        "employeeHireDate,department,jobTitle&$count=true&$top=999");
    free(got);
    /* The same $select, alone, for `weir fire --user`. */
    got = wr_user_date_select(&s);
    assert_string_equal(got, "id,userPrincipalName,displayName,mail,employeeId,accountEnabled,"
                             "employeeHireDate,department,jobTitle");
    free(got);
}

/* }====== */

/* {====== a found user: event and key ====== */

static void test_event_and_key(void **state)
{
    struct wr_user_date_spec s = berlin_spec();
    struct wr_user_date_hit hit;
    char err[256] = "";
    char *sel[] = {"department"};
    struct wr_tz *tz = zone("Europe/Berlin");
    (void)state;

    s.select = sel;
    s.nselect = 1;
    struct json_object *user = json_tokener_parse(
        "{\"@odata.type\": \"#microsoft.graph.user\", \"id\": \"1f2e3d4c\", \"userPrincipalName\": "
        "\"ada@contoso.com\", \"displayName\": \"Ada\", \"employeeId\": \"E1\", "
        "\"accountEnabled\": false, \"employeeHireDate\": \"2026-04-01T00:00:00Z\", "
        "\"department\": \"Sales\", \"jobTitle\": \"not selected\"}");
    assert_int_equal(wr_user_date_read(&s, tz, user, &hit, err, sizeof(err)), 0);
    assert_string_equal(hit.id, "1f2e3d4c");
    assert_string_equal(hit.value, "2026-04-01T00:00:00Z");
    assert_int_equal(hit.value_ms, ms_of("2026-04-01T00:00:00Z"));
    assert_int_equal(hit.due_ms, ms_of("2026-03-25T08:00:00Z"));

    struct json_object *ev = wr_user_date_event(&s, user, &hit);
    assert_string_equal(
        json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN),
        "{\"user\":{\"id\":\"1f2e3d4c\",\"userPrincipalName\":\"ada@contoso.com\","
        "\"displayName\":\"Ada\",\"mail\":null,\"employeeId\":\"E1\",\"accountEnabled\":false,"
        "\"employeeHireDate\":\"2026-04-01T00:00:00Z\",\"department\":\"Sales\"},"
        "\"date\":\"2026-04-01T00:00:00Z\",\"due\":\"2026-03-25T08:00:00Z\"}");
    json_object_put(ev);

    char *key = wr_user_date_key("onboard", &hit);
    assert_string_equal(key, "user-date:onboard:1f2e3d4c:2026-04-01T00:00:00Z");
    free(key);
    json_object_put(user);

    /* One instant written two ways is one key; the event keeps the text Graph sent. */
    user = json_tokener_parse("{\"id\": \"u2\", \"employeeHireDate\": "
                              "\"2026-04-01T02:00:00.000+02:00\"}");
    assert_int_equal(wr_user_date_read(&s, tz, user, &hit, err, sizeof(err)), 0);
    key = wr_user_date_key("onboard", &hit);
    assert_string_equal(key, "user-date:onboard:u2:2026-04-01T00:00:00Z");
    free(key);
    ev = wr_user_date_event(&s, user, &hit);
    assert_string_equal(json_object_get_string(json_object_object_get(ev, "date")),
                        "2026-04-01T02:00:00.000+02:00");
    json_object_put(ev);
    json_object_put(user);

    /* Users that cannot be scheduled say why. */
    static const struct {
        const char *json, *err;
    } bad[] = {
        {"{\"employeeHireDate\": \"2026-04-01T00:00:00Z\"}",
         "a user without an id in Graph's answer"},
        {"{\"id\": \"u3\"}", "user u3 has no employeeHireDate"},
        {"{\"id\": \"u3\", \"employeeHireDate\": null}", "user u3 has no employeeHireDate"},
        {"{\"id\": \"u3\", \"employeeHireDate\": 5}",
         "user u3: employeeHireDate is an integer, not a date"},
        {"{\"id\": \"u3\", \"employeeHireDate\": \"someday\"}",
         "user u3: employeeHireDate 'someday' is not a date: not an ISO-8601 timestamp"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        user = json_tokener_parse(bad[i].json);
        assert_int_equal(wr_user_date_read(&s, tz, user, &hit, err, sizeof(err)), -1);
        if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
            fail_msg("%s: got '%s', want '%s...'", bad[i].json, err, bad[i].err);
        }
        json_object_put(user);
    }
    wr_tz_free(tz);
}

static void test_iso(void **state)
{
    char buf[WR_USER_DATE_ISO_LEN];
    (void)state;
    assert_string_equal(wr_user_date_iso(0, buf), "1970-01-01T00:00:00Z");
    assert_string_equal(wr_user_date_iso(-1, buf), "1969-12-31T23:59:59.999Z");
    assert_string_equal(wr_user_date_iso(ms_of("2026-03-29T01:00:00.5Z"), buf),
                        "2026-03-29T01:00:00.500Z");
    assert_string_equal(wr_user_date_iso(ms_of("0900-01-01T00:00:00Z"), buf),
                        "0900-01-01T00:00:00Z");
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_valid),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_spec_read),
        cmocka_unit_test(test_due_utc),
        cmocka_unit_test(test_due_berlin_dst),
        cmocka_unit_test(test_due_new_york_dst),
        cmocka_unit_test(test_due_half_hour_zones),
        cmocka_unit_test(test_due_bad_value),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_classify_edges),
        cmocka_unit_test(test_window_covers),
        cmocka_unit_test(test_filter_and_path),
        cmocka_unit_test(test_event_and_key),
        cmocka_unit_test(test_iso),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
