/*
 * fuzz_cron — wr_cron_parse (engine/lang/cron) on arbitrary text, and on success wr_cron_next_in in
 * a few time zones loaded once (UTC; Europe/Berlin for the usual DST jumps; Pacific/Apia, which
 * skipped a whole day; Australia/Lord_Howe, whose DST shift is 30 minutes) from instants just
 * before DST transitions, a few firings in a row.
 *
 * Invariants, from cron.h: a failed parse zeroes the result and writes a message; each firing
 * is strictly after the instant it was asked for and within the 5-year search window.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "engine/base/strutil.h"
#include "engine/lang/cron.h"
#include "tests/fuzz/fuzz.h"

#define FIRINGS    3
#define WINDOW_S   ((5LL * 365 + 3) * 86400)
#define ZONE_NAMES 4

static const char *const zone_names[ZONE_NAMES] = {"UTC", "Europe/Berlin", "Pacific/Apia",
                                                   "Australia/Lord_Howe"};
static struct wr_tz *zones[ZONE_NAMES];
static int nzones;
static bool ready;

/* 2026-03-29 00:30 UTC (Berlin springs forward at 01:00 UTC) and 2026-10-25 00:30 UTC (falls
 * back at 01:00 UTC); 2011-12-29 09:00 UTC, the eve of Apia's skipped day. */
static const int64_t instants[] = {1774744200LL, 1792888200LL, 1325149200LL};

static void free_zones(void)
{
    for (int i = 0; i < nzones; i++) {
        wr_tz_free(zones[i]);
    }
}

static void setup(void)
{
    for (int i = 0; i < ZONE_NAMES; i++) {
        char err[WR_ERR_MAX];
        struct wr_tz *tz = wr_tz_load(zone_names[i], err, sizeof(err));

        /* A system without tzdata still fuzzes the parser and UTC. */
        if (tz != NULL) {
            zones[nzones++] = tz;
        }
    }
    atexit(free_zones);
    ready = true;
}

static void check_firings(const struct wr_cron *c, const struct wr_tz *tz)
{
    for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
        int64_t after = instants[i];

        for (int n = 0; n < FIRINGS; n++) {
            int64_t t = wr_cron_next_in(c, tz, after);

            if (t == -1) {
                break;
            }
            if (t <= after || t - after > WINDOW_S) {
                wr_fuzz_fail("wr_cron_next_in: a firing not after its instant, or past 5 years");
            }
            after = t;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = wr_fuzz_strndup(data, size);
    struct wr_cron c;
    char err[WR_ERR_MAX];

    if (!ready) {
        setup();
    }
    err[0] = '\0';
    if (wr_cron_parse(spec, &c, err, sizeof(err)) == 0) {
        check_firings(&c, NULL);
        for (int i = 0; i < nzones; i++) {
            check_firings(&c, zones[i]);
        }
    } else {
        if (err[0] == '\0' || c.minutes != 0 || c.hours != 0 || c.mdays != 0 || c.months != 0 ||
            c.wdays != 0 || c.mday_star || c.wday_star) {
            wr_fuzz_fail("wr_cron_parse: a failure without a message, or a result not zeroed");
        }
    }
    free(spec);
    return 0;
}
