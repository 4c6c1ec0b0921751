/*
 * duration — the text form of a span of time in workflow files: "250ms", "30s", "15m", "2h",
 * "30d", "1w", compounds such as "1h30m" and decimals such as "1.5s", parsed to milliseconds and
 * formatted back.
 *
 * This module is only the text form. It does not know about clocks, timers or calendars: a "d"
 * is exactly 24 hours and a "w" exactly 7 days, whatever the time zone does (calendar rules live
 * in cron). Error messages do not carry the file, line or key; the caller prefixes those.
 */
#ifndef WR_DURATION_H
#define WR_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration accepted: 100 years of 365.25 days (36525d), in milliseconds. */
#define WR_DURATION_MAX_MS ((int64_t)36525 * 24 * 60 * 60 * 1000)

/* A buffer of this size holds any wr_duration_format() result, negative ones included. */
#define WR_DURATION_BUFLEN 32

/*
 * Parses a duration into *ms_out (milliseconds) and returns 0.
 *
 * Grammar: one or more segments NUMBER UNIT, units ms, s, m, h, d, w (lower case), each unit at
 * most once and from the largest to the smallest ("1h30m", never "30m1h"). NUMBER is decimal
 * digits with an optional fraction ("1.5s", "0.25h"); the total must come out as a whole number
 * of milliseconds. No sign and no whitespace anywhere, not even around the value ("5s" yes,
 * " 5s" no): YAML has already trimmed the scalar, so stray spaces mean a typo like "1h 30m".
 * "0s" is valid and gives 0; whether zero makes sense is the caller's call.
 *
 * On error returns -1, leaves *ms_out untouched and writes a short lowercase message to err
 * (when err is not NULL and errlen > 0; truncated to fit), e.g.
 * "unknown unit 'x' in '5x' (use ms, s, m, h, d or w)". The input is quoted in the message,
 * shortened when long and with unprintable bytes shown as '?'.
 */
int wr_duration_parse(const char *s, int64_t *ms_out, char *err, size_t errlen);

/*
 * Same as wr_duration_parse(), for a signed span ("-7d", "+2w", "1h30m"): one optional leading
 * '-' or '+' before the same grammar, applying to the whole value ("-1h30m" is -90 minutes).
 * "-0s" gives 0. The bound is the same on both sides: -WR_DURATION_MAX_MS..WR_DURATION_MAX_MS.
 * Messages quote the whole input, sign included; a sign alone or twice ("-", "--5s", "-+5s") is
 * "invalid duration '...' (expected e.g. 30s, -7d or 1h30m)". wr_duration_parse() itself still
 * refuses every sign: only callers that mean "before or after" take this one.
 */
int wr_duration_parse_signed(const char *s, int64_t *ms_out, char *err, size_t errlen);

/*
 * Formats ms into buf (always NUL-terminated when buflen > 0, truncated to fit) and returns buf.
 * The form is exact and parses back to the same value: the largest-first decomposition into d,
 * h, m, s and ms with zero parts left out ("1h30m", "30d", "1d1h", "250ms", "0s"); a value that
 * is a whole number of weeks is written in weeks ("2w"). Negative values get a leading '-'
 * (which wr_duration_parse() rejects and wr_duration_parse_signed() reads back).
 * WR_DURATION_BUFLEN bytes always suffice.
 */
const char *wr_duration_format(int64_t ms, char *buf, size_t buflen);

#endif
