/*
 * duration — parsing and formatting of "1h30m"-style durations; see duration.h for the grammar.
 *
 * This file is pure string work: no allocation, no clock, no locale (the character classes are
 * spelled out so that a user's LC_CTYPE cannot change what parses).
 */
#include "engine/base/duration.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/strutil.h"

/* Units from the largest to the smallest: a compound must use them in this order. */
static const struct {
    const char *name;
    int64_t ms;
} units[] = {
    {"w", 7 * 24 * 60 * 60 * 1000LL},
    {"d", 24 * 60 * 60 * 1000LL},
    {"h", 60 * 60 * 1000LL},
    {"m", 60 * 1000LL},
    {"s", 1000LL},
    {"ms", 1LL},
};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

/*
 * More significant fraction digits than this are refused. With at most 9 digits the exact
 * arithmetic below stays inside int64_t (10^9 * one week in ms < 2^63), and nobody writes
 * "0.0009765625w" on purpose.
 */
#define MAX_FRACTION_DIGITS 9

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int parse_magnitude(const char *s, const char *q, int64_t *ms_out, char *err, size_t errlen);

int wr_duration_parse(const char *s, int64_t *ms_out, char *err, size_t errlen)
{
    char q[WR_QUOTE_MAX + 4];
    const char *p;

    if (!s || !*s) {
        return wr_errf(err, errlen, "empty duration (e.g. 30s, 15m or 1h30m)");
    }
    wr_quote_input(s, q);
    for (p = s; *p; p++) {
        if (is_space(*p)) {
            return wr_errf(err, errlen, "whitespace in duration '%s' (write e.g. 1h30m)", q);
        }
    }
    if (s[0] == '-') {
        return wr_errf(err, errlen, "negative duration '%s'", q);
    }
    return parse_magnitude(s, q, ms_out, err, errlen);
}

int wr_duration_parse_signed(const char *s, int64_t *ms_out, char *err, size_t errlen)
{
    char q[WR_QUOTE_MAX + 4];
    int64_t ms = 0;
    bool minus;

    if (!s || !*s) {
        return wr_errf(err, errlen, "empty duration (e.g. 30s, -7d or 1h30m)");
    }
    wr_quote_input(s, q);
    for (const char *p = s; *p; p++) {
        if (is_space(*p)) {
            return wr_errf(err, errlen, "whitespace in duration '%s' (write e.g. -1h30m)", q);
        }
    }
    minus = s[0] == '-';
    if (s[0] == '-' || s[0] == '+') {
        s++;
    }
    if (!*s || *s == '-' || *s == '+') {
        return wr_errf(err, errlen, "invalid duration '%s' (expected e.g. 30s, -7d or 1h30m)", q);
    }
    if (parse_magnitude(s, q, &ms, err, errlen) != 0) {
        return -1;
    }
    *ms_out = minus ? -ms : ms;
    return 0;
}

/* The unsigned grammar of wr_duration_parse() for s (not empty, no blanks, no sign); q is the
   caller's input quoted for messages. */
static int parse_magnitude(const char *s, const char *q, int64_t *ms_out, char *err, size_t errlen)
{
    const char *p = s;
    int64_t total = 0;
    int last_unit = -1;

    while (*p) {
        const char *num = p, *unit;
        int64_t whole = 0, frac = 0, scale = 1, seg;
        bool too_big = false;
        size_t unit_len, frac_digits = 0, u;

        if (!is_digit(*p)) {
            return wr_errf(err, errlen, "invalid duration '%s' (expected e.g. 30s, 15m or 1h30m)",
                           q);
        }
        for (; is_digit(*p); p++) {
            /* Saturate instead of overflowing; anything this big is rejected below. */
            if (whole > WR_DURATION_MAX_MS) {
                too_big = true;
            } else {
                whole = whole * 10 + (*p - '0');
            }
        }
        if (*p == '.') {
            const char *f = ++p, *end;

            if (!is_digit(*p)) {
                return wr_errf(err, errlen,
                               "invalid duration '%s' (expected e.g. 30s, 15m or 1h30m)", q);
            }
            while (is_digit(*p)) {
                p++;
            }
            /* Trailing zeros add no precision: "1.500s" is "1.5s". */
            end = p;
            while (end > f && end[-1] == '0') {
                end--;
            }
            if ((size_t)(end - f) > MAX_FRACTION_DIGITS) {
                return wr_errf(err, errlen, "too many decimals in '%s' (at most %d)", q,
                               MAX_FRACTION_DIGITS);
            }
            for (; f < end; f++) {
                frac = frac * 10 + (*f - '0');
                scale *= 10;
                frac_digits++;
            }
        }
        unit = p;
        while (is_alpha(*p)) {
            p++;
        }
        unit_len = (size_t)(p - unit);
        if (unit_len == 0) {
            if (*p == '\0') {
                return wr_errf(err, errlen, "missing unit in '%s' (e.g. %.*ss)", q,
                               (int)(p - num > 20 ? 20 : p - num), num);
            }
            return wr_errf(err, errlen, "invalid duration '%s' (expected e.g. 30s, 15m or 1h30m)",
                           q);
        }
        for (u = 0; u < N_UNITS; u++) {
            if (strlen(units[u].name) == unit_len && memcmp(units[u].name, unit, unit_len) == 0) {
                break;
            }
        }
        if (u == N_UNITS) {
            return wr_errf(err, errlen, "unknown unit '%.*s' in '%s' (use ms, s, m, h, d or w)",
                           (int)(unit_len > 16 ? 16 : unit_len), unit, q);
        }
        if ((int)u <= last_unit) {
            return wr_errf(err, errlen,
                           "units out of order in '%s' (largest first, each once, e.g. 1h30m)", q);
        }
        last_unit = (int)u;

        if (too_big || whole > WR_DURATION_MAX_MS / units[u].ms) {
            return wr_errf(err, errlen, "duration '%s' is longer than 100 years", q);
        }
        seg = whole * units[u].ms;
        if (frac_digits > 0) {
            /* frac < 10^9 and ms <= one week, so the product fits in int64_t. */
            int64_t f_ms = frac * units[u].ms;
            if (f_ms % scale != 0) {
                return wr_errf(err, errlen, "'%s' is not a whole number of milliseconds", q);
            }
            seg += f_ms / scale;
        }
        /* total and seg are each at most the maximum, so the sum cannot overflow. */
        total += seg;
        if (total > WR_DURATION_MAX_MS) {
            return wr_errf(err, errlen, "duration '%s' is longer than 100 years", q);
        }
    }
    *ms_out = total;
    return 0;
}

const char *wr_duration_format(int64_t ms, char *buf, size_t buflen)
{
    char tmp[WR_DURATION_BUFLEN];
    size_t len = 0;
    uint64_t v;

    if (!buf || buflen == 0) {
        return buf;
    }
    /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
    v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0) {
        tmp[len++] = '-';
    }
    if (v == 0) {
        snprintf(tmp, sizeof(tmp), "0s");
    } else if (v % (uint64_t)units[0].ms == 0) {
        snprintf(tmp + len, sizeof(tmp) - len, "%" PRIu64 "w", v / (uint64_t)units[0].ms);
    } else {
        for (size_t u = 1; u < N_UNITS; u++) {
            uint64_t n = v / (uint64_t)units[u].ms;
            v %= (uint64_t)units[u].ms;
            if (n > 0) {
                int w = snprintf(tmp + len, sizeof(tmp) - len, "%" PRIu64 "%s", n, units[u].name);
                len += (size_t)w;
            }
        }
    }
    snprintf(buf, buflen, "%s", tmp);
    return buf;
}
