/*
 * timestamp — the one reader of ISO-8601 / RFC 3339 timestamps in weir: `wait_until:` and
 * weir.date() both use it, so a time that one refuses the other refuses too.
 *
 * Accepted: YYYY-MM-DD, or YYYY-MM-DD followed by T (or t, or a space) and HH:MM, optional
 * :SS and an optional fraction (.digits or ,digits; digits past the ninth, below a
 * nanosecond, are dropped), and an optional zone: Z (or
 * z), +HH:MM, -HH:MM, +HHMM or -HHMM. No zone means UTC, and a date alone means its
 * midnight, UTC. Every field is checked against the calendar: 2099-02-30, month 13, hour 24,
 * minute 61, second 60 (leap seconds) and an offset beyond 23:59 are refused, with the field
 * named. Years 0000 to 9999. Nothing here reads the process time zone or locale.
 */
#ifndef WR_TIMESTAMP_H
#define WR_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base/strutil.h"

/*
 * Parses s[0..len) (need not be NUL-terminated). On success returns 0 with *sec the seconds
 * since 1970-01-01T00:00:00Z (negative before it) and *nsec the fraction in nanoseconds
 * (0..999999999). On failure returns -1 and writes what is wrong into why (the caller's
 * buffer of WR_ERR_MAX bytes): "not an ISO-8601 timestamp (YYYY-MM-DD or ...)",
 * "day 30 does not exist in 2099-02 (it has 28 days)", "hour 25 is out of range (00-23)", ...
 */
int wr_timestamp_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec,
                       char why[WR_ERR_MAX]);

#endif
