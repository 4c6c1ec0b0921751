/*
 * cron — five-field cron expressions ("0 6 * * 1-5", "@daily") and their next firing time in an
 * IANA time zone, plus the time zone lookup that needs.
 *
 * Time zones are read straight from the system tz database (/usr/share/zoneinfo, TZif files,
 * RFC 8536), including the POSIX TZ rule in the file's footer for dates past the last listed
 * transition. Nothing here touches the TZ environment variable, tzset() or localtime(), so every
 * function is safe to call from any thread; a loaded struct wr_tz is immutable and may be shared.
 *
 * This module is not a timer: it computes instants and the schedule trigger arms the events.
 * Instants are UTC epoch seconds (int64_t); leap seconds are ignored, as POSIX time does.
 *
 * Daylight saving time, the rule in one place:
 *   - A wall-clock time skipped by a spring-forward transition fires at the transition instant,
 *     the first moment after the jump (cronie does the same for short jumps). A job set for
 *     02:30 in Europe/Berlin on 2026-03-29 runs at 03:00 CEST; a daily job never silently misses
 *     a day. Several skipped times coalesce into that one firing, even a whole skipped day
 *     (Pacific/Apia, 2011-12-30).
 *   - A wall-clock time repeated by a fall-back transition fires once, at its first occurrence
 *     (the earlier, still-summer-time instant). This holds for every field, so "every 15 minutes"
 *     written as "*\/15 * * * *" pauses during the repeated hour; an interval that must not pause
 *     belongs in a schedule's `every:` instead of cron.
 */
#ifndef WR_CRON_H
#define WR_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed expression: bitsets of the allowed values of each field. */
struct wr_cron {
    uint64_t minutes; /* bits 0..59 */
    uint32_t hours;   /* bits 0..23 */
    uint32_t mdays;   /* bits 1..31 */
    uint16_t months;  /* bits 1..12 */
    uint8_t wdays;    /* bits 0..6, Sunday = 0 (7 is accepted as Sunday on input) */
    /*
     * The Vixie rule (crontab(5)): when both day fields are restricted, a day matches if EITHER
     * matches; when one of them is unrestricted, both must match. A field counts as
     * unrestricted when one of its list items starts with '*' ("*" or "*\/2"), exactly as in
     * Vixie cron and cronie, so crontab lines copied from elsewhere fire on the same days.
     */
    bool mday_star, wday_star;
};

/* An immutable time zone loaded from the tz database. Opaque. */
struct wr_tz;

/*
 * Parses a cron expression into *out and returns 0.
 *
 * Five fields separated by spaces or tabs (leading and trailing blanks are ignored): minute
 * 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-7 or SUN-SAT (0 and 7
 * are both Sunday). Each field is a comma list of `*`, `N`, `N-M`, `*\/S`, `N-M/S` and `N/S`
 * (meaning N-max/S); names are case-insensitive and work in ranges (MON-FRI). A step S is 1 up to
 * the field's largest value. Also accepted, alone: @hourly, @daily, @midnight, @weekly,
 * @monthly, @yearly, @annually.
 *
 * On error returns -1, zeroes *out and writes one lowercase line to err (when err is not NULL
 * and errlen > 0; truncated to fit). Field errors name the field and quote the expression:
 * "cron field 2 (hour): value 24 out of range 0-23 in '0 24 * * *'"; the others are
 * "cron: expected 5 fields, got 4" and "cron: unknown macro '@often' (use ...)".
 */
int wr_cron_parse(const char *spec, struct wr_cron *out, char *err, size_t errlen);

/*
 * Returns the first firing time of c strictly after `after` (UTC epoch seconds), evaluated in
 * the IANA time zone `tz` (NULL or "UTC" mean UTC), following the DST rule at the top of this
 * file. Returns -1 when there is none within 5 years (e.g. "0 0 31 2 *"), and also when tz
 * cannot be loaded: check zones with wr_tz_check() at load time, or load once with
 * wr_tz_load() and call wr_cron_next_in(), which also saves reading the file on every call.
 */
int64_t wr_cron_next(const struct wr_cron *c, const char *tz, int64_t after);

/* Same as wr_cron_next() with an already loaded zone; tz NULL means UTC. Never touches files. */
int64_t wr_cron_next_in(const struct wr_cron *c, const struct wr_tz *tz, int64_t after);

/*
 * Checks that name is a time zone in the system tz database and returns 0. "UTC" is always
 * valid. Rejected with -1 and a message in err: the empty name, absolute paths, names with a
 * ".." component or characters outside [A-Za-z0-9/_+-.], and names that are not a regular file
 * starting with "TZif" (directories such as "Europe", "zone.tab"). For an unknown name err
 * suggests a close match when there is one:
 * "unknown time zone 'Europe/Berlln' (did you mean 'Europe/Berlin'?)".
 */
int wr_tz_check(const char *name, char *err, size_t errlen);

/*
 * Loads a zone by name with the same checks and messages as wr_tz_check(). Returns an owned
 * zone (release with wr_tz_free()) or NULL with err filled in. "UTC" never reads a file.
 */
struct wr_tz *wr_tz_load(const char *name, char *err, size_t errlen);

/* Releases a zone from wr_tz_load(); NULL is fine. */
void wr_tz_free(struct wr_tz *tz);

/* The zone's offset from UTC in seconds (east positive) at the UTC instant t; tz NULL is UTC. */
int32_t wr_tz_offset(const struct wr_tz *tz, int64_t t);

/* Room for a zone abbreviation with its NUL: POSIX allows 3 to 6 characters, TZif a few more. */
#define WR_TZ_ABBR_MAX 16

/* The zone's abbreviation at the UTC instant t ("CET", "CEST", "-03" for zones without a name,
   "" when the file names none): borrowed from tz (static "UTC" when tz is NULL). */
const char *wr_tz_abbr(const struct wr_tz *tz, int64_t t);

/*
 * The UTC instant (epoch seconds) at which the wall-clock time `wall` (local seconds since
 * 1970-01-01T00:00 local, i.e. days * 86400 + seconds into the day) first happens in tz (NULL
 * is UTC), by the DST rule at the top of this file: a time skipped by a spring-forward gap gives
 * the transition instant (the first moment after the jump), a time repeated by a fall-back gives
 * its first (earlier) occurrence. The one wall-to-UTC conversion in weir: the cron firing times
 * and the user-date due times both come from it.
 */
int64_t wr_tz_wall_to_utc(const struct wr_tz *tz, int64_t wall);

#endif
