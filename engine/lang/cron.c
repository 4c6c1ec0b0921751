/*
 * cron — cron expression parsing, next-firing computation and a small TZif reader; see cron.h
 * for the syntax and the daylight saving rule.
 *
 * The time zone code is deliberately minimal: it knows a zone's UTC offset and abbreviation at
 * any instant (transition table plus the POSIX TZ footer rule) and nothing else — no
 * leap seconds, no strftime. It never calls tzset() or reads TZ, so it is thread-safe. It is not
 * a general date library either: the calendar is proleptic Gregorian, seconds since 1970 counted
 * without leap seconds, and results are bounded to the years 1 to 9993.
 */
#include "engine/lang/cron.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/strutil.h"

/* Where the tz database lives; overridable at build time for unusual systems. */
#ifndef WR_ZONEINFO_DIR
#define WR_ZONEINFO_DIR "/usr/share/zoneinfo"
#endif

#define SECS_PER_DAY   86400
#define MAX_TZIF_BYTES (1 << 20)
#define QUOTE_MAX      64

/* No firing within this many days of `after` means "never" (covers "0 0 29 2 *" in any era). */
#define SEARCH_DAYS (5 * 365 + 2)

/* The range of instants wr_cron_next() accepts: 0001-01-01 up to 6 years before 9999-12-31. */
#define MIN_INSTANT (-62135596800LL)
#define MAX_INSTANT (253402300799LL - 6LL * 366 * SECS_PER_DAY)

/*
 * Copies at most n bytes of s (stopping at NUL) into out for quoting in a message: tabs become
 * spaces, other unprintable bytes '?', and text longer than QUOTE_MAX ends in "...".
 * out must hold QUOTE_MAX + 4 bytes.
 */
static void quote_text(const char *s, size_t n, char out[QUOTE_MAX + 4])
{
    size_t i;

    for (i = 0; i < n && s[i] && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c == '\t' ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    if (i < n && s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char to_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* ASCII-only case-insensitive comparison of n bytes (strncasecmp follows the locale). */
static bool ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (to_upper(a[i]) != to_upper(b[i])) {
            return false;
        }
    }
    return true;
}

/* {====================================================================== cron parsing */

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const wday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

struct field_def {
    const char *name;
    int lo, hi;               /* the values accepted on input */
    int open_hi;              /* where "*" and "N/S" end; only differs for day of week (6, not 7) */
    const char *const *names; /* three-letter names, or NULL */
    int name_base;            /* the value of names[0] */
};

static const struct field_def field_defs[5] = {
    {"minute", 0, 59, 59, NULL, 0},
    {"hour", 0, 23, 23, NULL, 0},
    {"day of month", 1, 31, 31, NULL, 0},
    {"month", 1, 12, 12, month_names, 1},
    /* "*" and "1/2" stop at Saturday: "1/2" means Mon, Wed, Fri and not also Sunday-as-7. */
    {"day of week", 0, 7, 6, wday_names, 0},
};

static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

/* A field-level problem, filled in by the item parser and wrapped with field and spec later. */
struct field_err {
    char msg[WR_ERR_MAX];
};

static int field_fail(struct field_err *fe, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int field_fail(struct field_err *fe, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(fe->msg, sizeof(fe->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* Parses one number or name at *pp (not past end) into *v and advances *pp. */
static int parse_value(const struct field_def *fd, const char **pp, const char *end, int *v,
                       const char *item, size_t item_len, struct field_err *fe)
{
    const char *p = *pp, *start = p;
    char q[QUOTE_MAX + 4];

    if (p < end && is_digit(*p)) {
        long n = 0;
        for (; p < end && is_digit(*p); p++) {
            if (n < 1000000) {
                n = n * 10 + (*p - '0');
            }
        }
        if (n < fd->lo || n > fd->hi) {
            quote_text(start, (size_t)(p - start), q);
            return field_fail(fe, "value %s out of range %d-%d", q, fd->lo, fd->hi);
        }
        *v = (int)n;
        *pp = p;
        return 0;
    }
    if (p < end && is_alpha(*p) && fd->names) {
        size_t len;
        while (p < end && is_alpha(*p)) {
            p++;
        }
        len = (size_t)(p - start);
        for (int i = 0; fd->names[i]; i++) {
            if (len == 3 && ascii_ieq(start, fd->names[i], 3)) {
                *v = fd->name_base + i;
                *pp = p;
                return 0;
            }
        }
        quote_text(start, len, q);
        return field_fail(fe, "unknown name '%s'", q);
    }
    quote_text(item, item_len, q);
    return field_fail(fe, "invalid item '%s'", q);
}

/* Parses the step after a '/' at *pp into *step. */
static int parse_step(const struct field_def *fd, const char **pp, const char *end, int *step,
                      const char *item, size_t item_len, struct field_err *fe)
{
    const char *p = *pp, *start = p;
    char q[QUOTE_MAX + 4];
    long n = 0;

    if (p >= end || !is_digit(*p)) {
        quote_text(item, item_len, q);
        return field_fail(fe, "invalid step in '%s'", q);
    }
    for (; p < end && is_digit(*p); p++) {
        if (n < 1000000) {
            n = n * 10 + (*p - '0');
        }
    }
    if (n < 1 || n > fd->hi) {
        quote_text(start, (size_t)(p - start), q);
        return field_fail(fe, "step %s out of range 1-%d", q, fd->hi);
    }
    *step = (int)n;
    *pp = p;
    return 0;
}

/* Parses one list item [item, item + len) and sets its bits. */
static int parse_item(const struct field_def *fd, const char *item, size_t len, uint64_t *bits,
                      bool *star, struct field_err *fe)
{
    const char *p = item, *end = item + len;
    char q[QUOTE_MAX + 4];
    int lo, hi, step = 1;

    if (len == 0) {
        return field_fail(fe, "empty list item");
    }
    if (*p == '*') {
        p++;
        *star = true;
        lo = fd->lo;
        hi = fd->open_hi;
        if (p < end && *p == '/') {
            p++;
            if (parse_step(fd, &p, end, &step, item, len, fe) != 0) {
                return -1;
            }
        }
    } else {
        if (parse_value(fd, &p, end, &lo, item, len, fe) != 0) {
            return -1;
        }
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (parse_value(fd, &p, end, &hi, item, len, fe) != 0) {
                return -1;
            }
            if (hi < lo) {
                const char *slash = memchr(item, '/', len);
                quote_text(item, slash ? (size_t)(slash - item) : len, q);
                return field_fail(fe, "reversed range '%s'", q);
            }
            if (p < end && *p == '/') {
                p++;
                if (parse_step(fd, &p, end, &step, item, len, fe) != 0) {
                    return -1;
                }
            }
        } else if (p < end && *p == '/') {
            /* "N/S" is "N-max/S". */
            p++;
            hi = fd->open_hi > lo ? fd->open_hi : lo;
            if (parse_step(fd, &p, end, &step, item, len, fe) != 0) {
                return -1;
            }
        }
    }
    if (p != end) {
        quote_text(item, len, q);
        return field_fail(fe, "invalid item '%s'", q);
    }
    for (int v = lo; v <= hi; v += step) {
        *bits |= (uint64_t)1 << v;
    }
    return 0;
}

/* Parses the comma list [text, text + len) of field fd into *bits and *star. */
static int parse_field(const struct field_def *fd, const char *text, size_t len, uint64_t *bits,
                       bool *star, struct field_err *fe)
{
    const char *p = text, *end = text + len;

    *bits = 0;
    *star = false;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        if (parse_item(fd, p, (size_t)(item_end - p), bits, star, fe) != 0) {
            return -1;
        }
        if (!comma) {
            return 0;
        }
        p = comma + 1;
    }
}

int wr_cron_parse(const char *spec, struct wr_cron *out, char *err, size_t errlen)
{
    const char *starts[5], *p, *s, *e;
    size_t lens[5], nfields = 0;
    uint64_t bits[5];
    bool stars[5];
    char q[QUOTE_MAX + 4];

    memset(out, 0, sizeof(*out));
    if (!spec) {
        spec = "";
    }
    s = spec;
    while (is_blank(*s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && is_blank(e[-1])) {
        e--;
    }

    if (s < e && *s == '@') {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            size_t n = strlen(macros[i].name);
            if ((size_t)(e - s) == n && ascii_ieq(s, macros[i].name, n)) {
                return wr_cron_parse(macros[i].expansion, out, err, errlen);
            }
        }
        quote_text(s, (size_t)(e - s), q);
        return wr_errf(err, errlen,
                       "cron: unknown macro '%s' (use @hourly, @daily, @midnight, @weekly, "
                       "@monthly, @yearly or @annually)",
                       q);
    }

    for (p = s; p < e;) {
        const char *f = p;
        while (p < e && !is_blank(*p)) {
            p++;
        }
        if (nfields < 5) {
            starts[nfields] = f;
            lens[nfields] = (size_t)(p - f);
        }
        nfields++;
        while (p < e && is_blank(*p)) {
            p++;
        }
    }
    if (nfields != 5) {
        if (nfields == 0) {
            return wr_errf(err, errlen,
                           "cron: is empty (expected 5 fields: minute hour "
                           "day-of-month month day-of-week, or an @macro)");
        }
        quote_text(s, (size_t)(e - s), q);
        return wr_errf(err, errlen,
                       "cron: expected 5 fields (minute hour day-of-month month day-of-week) or an "
                       "@macro, got %zu in '%s'",
                       nfields, q);
    }

    for (size_t i = 0; i < 5; i++) {
        struct field_err fe;
        if (parse_field(&field_defs[i], starts[i], lens[i], &bits[i], &stars[i], &fe) != 0) {
            quote_text(s, (size_t)(e - s), q);
            return wr_errf(err, errlen, "cron field %zu (%s): %s in '%s'", i + 1,
                           field_defs[i].name, fe.msg, q);
        }
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    /* 7 is Sunday too. */
    out->wdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);
    out->mday_star = stars[2];
    out->wday_star = stars[4];
    return 0;
}

/* }====================================================================== */

/* {====================================================================== calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil(). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Day of the week of a day number, Sunday = 0 (1970-01-01 was a Thursday). */
static int weekday(int64_t days)
{
    return (int)(((days % 7) + 11) % 7);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_length(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && is_leap(y)) ? 29 : len[m - 1];
}

/* }====================================================================== */

/* {====================================================================== TZif reader */

/* One date of a POSIX TZ rule: Jn (1-365, no Feb 29), n (0-365) or Mm.w.d. */
struct tz_rule_date {
    char kind; /* 'J', 'N' or 'M' */
    int n, month, week, wday;
    int32_t time; /* local time of day of the change in seconds; may be negative or > 24h */
};

struct wr_tz {
    size_t ntrans;
    int64_t *trans;      /* transition instants, ascending */
    uint8_t *trans_type; /* type index in effect from each transition */
    size_t ntypes;
    int32_t *type_off;                 /* UT offset of each type */
    char (*type_abbr)[WR_TZ_ABBR_MAX]; /* abbreviation of each type ("CET"), "" if none */
    bool has_rule; /* the footer rule covers instants from the last transition on */
    bool rule_has_dst;
    int32_t std_off, dst_off;
    char std_abbr[WR_TZ_ABBR_MAX], dst_abbr[WR_TZ_ABBR_MAX]; /* the footer's names */
    struct tz_rule_date dst_start, dst_end;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Parses [+-]hh[:mm[:ss]] with hours up to max_hours into *secs; returns the new position. */
static const char *parse_hms(const char *p, int max_hours, int32_t *secs)
{
    int sign = 1, part[3] = {0, 0, 0};

    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    for (int i = 0; i < 3; i++) {
        int n = 0, digits = 0;
        if (i > 0) {
            if (*p != ':') {
                break;
            }
            p++;
        }
        while (is_digit(*p) && digits < 3) {
            n = n * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || (i == 0 && n > max_hours) || (i > 0 && n > 59)) {
            return NULL;
        }
        part[i] = n;
    }
    *secs = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return p;
}

/* Copies n bytes of a zone abbreviation into out (WR_TZ_ABBR_MAX bytes), cut to fit. */
static void copy_abbr(char *out, const char *s, size_t n)
{
    n = n < WR_TZ_ABBR_MAX - 1 ? n : WR_TZ_ABBR_MAX - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Skips a zone abbreviation: letters, or anything in <...>; copies it (without the <>) into
   name (WR_TZ_ABBR_MAX bytes). */
static const char *skip_tz_name(const char *p, char *name)
{
    const char *start = p;

    if (*p == '<') {
        const char *close = strchr(p, '>');
        if (close && close > p + 1) {
            copy_abbr(name, p + 1, (size_t)(close - p - 1));
            return close + 1;
        }
        return NULL;
    }
    while (is_alpha(*p)) {
        p++;
    }
    copy_abbr(name, start, (size_t)(p - start));
    return p - start >= 3 ? p : NULL;
}

static const char *parse_rule_date(const char *p, struct tz_rule_date *rd)
{
    char *end;
    long a, b, c;

    if (*p == 'J') {
        a = strtol(p + 1, &end, 10);
        if (end == p + 1 || a < 1 || a > 365) {
            return NULL;
        }
        rd->kind = 'J';
        rd->n = (int)a;
    } else if (*p == 'M') {
        a = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != '.' || a < 1 || a > 12) {
            return NULL;
        }
        p = end + 1;
        b = strtol(p, &end, 10);
        if (end == p || *end != '.' || b < 1 || b > 5) {
            return NULL;
        }
        p = end + 1;
        c = strtol(p, &end, 10);
        if (end == p || c < 0 || c > 6) {
            return NULL;
        }
        rd->kind = 'M';
        rd->month = (int)a;
        rd->week = (int)b;
        rd->wday = (int)c;
    } else if (is_digit(*p)) {
        a = strtol(p, &end, 10);
        if (a > 365) {
            return NULL;
        }
        rd->kind = 'N';
        rd->n = (int)a;
    } else {
        return NULL;
    }
    p = end;
    rd->time = 2 * 3600;
    if (*p == '/') {
        /* RFC 8536 allows -167..167 hours here. */
        p = parse_hms(p + 1, 167, &rd->time);
    }
    return p;
}

/* Parses a TZif footer (a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3") into tz. */
static bool parse_tz_rule(const char *s, struct wr_tz *tz)
{
    const char *p = skip_tz_name(s, tz->std_abbr);
    int32_t off;

    if (!p || !(p = parse_hms(p, 24, &off))) {
        return false;
    }
    /* POSIX offsets count west of Greenwich; TZif and this module count east. */
    tz->std_off = -off;
    tz->dst_off = tz->std_off;
    tz->rule_has_dst = false;
    if (*p == '\0') {
        return true;
    }
    if (!(p = skip_tz_name(p, tz->dst_abbr))) {
        return false;
    }
    tz->dst_off = tz->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!(p = parse_hms(p, 24, &off))) {
            return false;
        }
        tz->dst_off = -off;
    }
    if (*p == '\0') {
        /* No rule given: POSIX leaves it to the implementation; use the US rule, as glibc. */
        p = ",M3.2.0,M11.1.0";
    }
    if (*p++ != ',' || !(p = parse_rule_date(p, &tz->dst_start)) || *p++ != ',' ||
        !(p = parse_rule_date(p, &tz->dst_end)) || *p != '\0') {
        return false;
    }
    tz->rule_has_dst = true;
    return true;
}

/* Local (wall-clock) seconds since the epoch at which rd happens in year y. */
static int64_t rule_date_local(const struct tz_rule_date *rd, int64_t y)
{
    int64_t days = days_from_civil(y, 1, 1);

    if (rd->kind == 'J') {
        days += rd->n - 1 + (is_leap(y) && rd->n >= 60);
    } else if (rd->kind == 'N') {
        days += rd->n;
    } else {
        int64_t first = days_from_civil(y, rd->month, 1);
        int mday = 1 + (rd->wday - weekday(first) + 7) % 7 + (rd->week - 1) * 7;
        while (mday > month_length(y, rd->month)) {
            mday -= 7;
        }
        days = first + mday - 1;
    }
    return days * SECS_PER_DAY + rd->time;
}

/* Whether the footer rule has daylight time at t. */
static bool rule_is_dst(const struct wr_tz *tz, int64_t t)
{
    int64_t y, start, end;
    int m, d;
    bool dst;

    if (!tz->rule_has_dst) {
        return false;
    }
    civil_from_days(floor_div(t + tz->std_off, SECS_PER_DAY), &y, &m, &d);
    /* The start is given in standard time, the end in daylight time. */
    start = rule_date_local(&tz->dst_start, y) - tz->std_off;
    end = rule_date_local(&tz->dst_end, y) - tz->dst_off;
    if (start < end) {
        dst = t >= start && t < end;
    } else {
        /* Southern hemisphere: daylight time spans the new year. */
        dst = !(t >= end && t < start);
    }
    return dst;
}

/* The time type in effect at t (clamped), or -1 when the footer rule applies (*dst then says
   whether it has daylight time). */
static int type_at(const struct wr_tz *tz, int64_t t, bool *dst)
{
    /* Beyond a million years either way nothing changes; clamping keeps the arithmetic safe. */
    const int64_t far = (int64_t)1000000 * 366 * SECS_PER_DAY;
    size_t lo, hi;

    t = t < -far ? -far : t > far ? far : t;
    *dst = false;
    if (tz->ntrans == 0) {
        /* RFC 8536: without transitions the footer rules, else time type 0. */
        if (tz->has_rule) {
            *dst = rule_is_dst(tz, t);
            return -1;
        }
        return 0;
    }
    if (t < tz->trans[0]) {
        return 0;
    }
    if (t >= tz->trans[tz->ntrans - 1]) {
        if (tz->has_rule) {
            *dst = rule_is_dst(tz, t);
            return -1;
        }
        return tz->trans_type[tz->ntrans - 1];
    }
    /* The last transition at or before t: trans[lo] <= t < trans[hi]. */
    lo = 0;
    hi = tz->ntrans - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return tz->trans_type[lo];
}

int32_t wr_tz_offset(const struct wr_tz *tz, int64_t t)
{
    bool dst;
    if (!tz) {
        return 0;
    }
    int type = type_at(tz, t, &dst);
    if (type < 0) {
        return dst ? tz->dst_off : tz->std_off;
    }
    return tz->ntypes ? tz->type_off[type] : 0;
}

const char *wr_tz_abbr(const struct wr_tz *tz, int64_t t)
{
    bool dst;
    if (!tz) {
        return "UTC";
    }
    int type = type_at(tz, t, &dst);
    if (type < 0) {
        return dst ? tz->dst_abbr : tz->std_abbr;
    }
    return tz->ntypes ? tz->type_abbr[type] : "";
}

/*
 * Decodes a TZif file into a new zone. Uses the 64-bit (version 2+) data and footer when
 * present, else the version 1 data. Returns NULL for anything malformed.
 */
static struct wr_tz *tzif_decode(const unsigned char *data, size_t len)
{
    struct wr_tz *tz = NULL;
    const unsigned char *p = data, *end = data + len;
    size_t cnt[6], tsize = 4, block;
    int version;

    if (len < 44 || memcmp(data, "TZif", 4) != 0) {
        return NULL;
    }
    version = data[4];
    for (int pass = 0; pass < 2; pass++) {
        if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0) {
            return NULL;
        }
        /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt; each must fit the file. */
        for (int i = 0; i < 6; i++) {
            cnt[i] = be32(p + 20 + 4 * (size_t)i);
            if (cnt[i] > len) {
                return NULL;
            }
        }
        block =
            cnt[3] * tsize + cnt[3] + cnt[4] * 6 + cnt[5] + cnt[2] * (tsize + 4) + cnt[1] + cnt[0];
        if ((size_t)(end - p) - 44 < block) {
            return NULL;
        }
        if (pass == 0 && version >= '2') {
            /* Skip the 32-bit data; the 64-bit copy follows. */
            p += 44 + block;
            tsize = 8;
            continue;
        }
        break;
    }
    if (cnt[4] == 0 || cnt[4] > 256) {
        return NULL;
    }

    tz = wr_xcalloc(1, sizeof(*tz));
    tz->ntrans = cnt[3];
    tz->ntypes = cnt[4];
    tz->trans = wr_xcalloc(tz->ntrans ? tz->ntrans : 1, sizeof(*tz->trans));
    tz->trans_type = wr_xcalloc(tz->ntrans ? tz->ntrans : 1, 1);
    tz->type_off = wr_xcalloc(tz->ntypes, sizeof(*tz->type_off));
    tz->type_abbr = wr_xcalloc(tz->ntypes, sizeof(*tz->type_abbr));
    p += 44;
    for (size_t i = 0; i < tz->ntrans; i++, p += tsize) {
        tz->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1]) {
            goto err;
        }
    }
    for (size_t i = 0; i < tz->ntrans; i++, p++) {
        if (*p >= tz->ntypes) {
            goto err;
        }
        tz->trans_type[i] = *p;
    }
    const unsigned char *types = p, *chars = p + tz->ntypes * 6;
    for (size_t i = 0; i < tz->ntypes; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        /* Real offsets stay within a day; anything else is a damaged file. */
        if (off <= -SECS_PER_DAY || off >= SECS_PER_DAY) {
            goto err;
        }
        tz->type_off[i] = off;
    }
    for (size_t i = 0; i < tz->ntypes; i++) {
        /* The designation index points into the NUL-separated abbreviations; one that points
           outside leaves the type without a name. */
        size_t at = types[6 * i + 5];
        if (at < cnt[5]) {
            const unsigned char *nul = memchr(chars + at, '\0', cnt[5] - at);
            copy_abbr(tz->type_abbr[i], (const char *)chars + at,
                      nul ? (size_t)(nul - (chars + at)) : cnt[5] - at);
        }
    }
    p += cnt[5] + cnt[2] * (tsize + 4) + cnt[1] + cnt[0];

    if (tsize == 8 && p < end && *p == '\n') {
        const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        if (nl && nl > p + 1 && nl - p < 128) {
            char footer[128];
            memcpy(footer, p + 1, (size_t)(nl - p - 1));
            footer[nl - p - 1] = '\0';
            /* A footer this reader does not understand falls back to the last transition. */
            tz->has_rule = parse_tz_rule(footer, tz);
        }
    }
    return tz;

err:
    wr_tz_free(tz);
    return NULL;
}

void wr_tz_free(struct wr_tz *tz)
{
    if (!tz) {
        return;
    }
    free(tz->trans);
    free(tz->trans_type);
    free(tz->type_off);
    free(tz->type_abbr);
    free(tz);
}

/* }====================================================================== */

/* {====================================================================== zone names */

/* Checks the shape of a zone name; on failure writes the message and returns -1. */
static int check_zone_name(const char *name, char *err, size_t errlen)
{
    char q[QUOTE_MAX + 4];
    const char *comp;
    size_t len;

    if (!name || !*name) {
        return wr_errf(err, errlen, "empty time zone name (e.g. Europe/Berlin)");
    }
    quote_text(name, SIZE_MAX, q);
    if (name[0] == '/') {
        return wr_errf(err, errlen,
                       "time zone '%s' is a path; use a zone name such as Europe/Berlin", q);
    }
    len = strlen(name);
    if (len > 255) {
        return wr_errf(err, errlen, "invalid time zone name '%s' (e.g. Europe/Berlin)", q);
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!is_alpha(c) && !is_digit(c) && !strchr("/_+-.", c)) {
            return wr_errf(err, errlen, "invalid time zone name '%s' (e.g. Europe/Berlin)", q);
        }
    }
    /* Every component non-empty and not starting with '.', which rules out "." and "..". */
    for (comp = name; comp;) {
        const char *slash = strchr(comp, '/');
        if (*comp == '/' || *comp == '.' || *comp == '\0') {
            return wr_errf(err, errlen, "invalid time zone name '%s' (e.g. Europe/Berlin)", q);
        }
        comp = slash ? slash + 1 : NULL;
    }
    return 0;
}

struct name_list {
    char **items;
    size_t count, cap;
};

/*
 * Collects zone names under dir (relative prefix rel) for suggestions. Zone files and their
 * directories start with an upper-case letter; that skips posix/, right/, zone.tab and friends.
 */
static void collect_zone_names(const char *dir, const char *rel, int depth, struct name_list *nl)
{
    DIR *d;
    struct dirent *de;

    if (depth > 3 || !(d = opendir(dir))) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char *path, *name;
        struct stat st;

        if (de->d_name[0] < 'A' || de->d_name[0] > 'Z') {
            continue;
        }
        path = wr_xasprintf("%s/%s", dir, de->d_name);
        name = *rel ? wr_xasprintf("%s/%s", rel, de->d_name) : wr_xstrdup(de->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            collect_zone_names(path, name, depth + 1, nl);
            free(name);
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (nl->count + 1 >= nl->cap) {
                nl->cap = nl->cap ? nl->cap * 2 : 512;
                nl->items = wr_xrealloc(nl->items, nl->cap * sizeof(*nl->items));
            }
            nl->items[nl->count++] = name;
            nl->items[nl->count] = NULL;
        } else {
            free(name);
        }
        free(path);
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes "unknown time zone" for name, with a suggestion when one is close. */
static int fail_unknown_zone(const char *name, char *err, size_t errlen)
{
    struct name_list nl = {0};
    const char *best = NULL;
    char q[QUOTE_MAX + 4];

    if (!err || errlen == 0) {
        /* Nobody reads the message: skip the directory walk. */
        return -1;
    }
    quote_text(name, SIZE_MAX, q);
    collect_zone_names(WR_ZONEINFO_DIR, "", 0, &nl);
    if (nl.count > 0) {
        /* readdir order varies between file systems; sort so ties resolve the same way. */
        qsort(nl.items, nl.count, sizeof(*nl.items), cmp_str);
        best = wr_suggest(name, (const char *const *)nl.items);
    }
    if (best) {
        wr_errf(err, errlen, "unknown time zone '%s' (did you mean '%s'?)", q, best);
    } else {
        wr_errf(err, errlen, "unknown time zone '%s'", q);
    }
    for (size_t i = 0; i < nl.count; i++) {
        free(nl.items[i]);
    }
    free(nl.items);
    return -1;
}

struct wr_tz *wr_tz_load(const char *name, char *err, size_t errlen)
{
    struct wr_tz *tz = NULL;
    char *path = NULL, *data = NULL;
    char q[QUOTE_MAX + 4];
    size_t len = 0;
    int rc;

    if (name && strcmp(name, "UTC") == 0) {
        /* Always available, even on a system without tzdata. */
        tz = wr_xcalloc(1, sizeof(*tz));
        tz->has_rule = true;
        memcpy(tz->std_abbr, "UTC", 4);
        return tz;
    }
    if (check_zone_name(name, err, errlen) != 0) {
        return NULL;
    }
    path = wr_xasprintf("%s/%s", WR_ZONEINFO_DIR, name);
    rc = wr_read_file(path, MAX_TZIF_BYTES, &data, &len);
    if (rc != 0 || len < 4 || memcmp(data, "TZif", 4) != 0) {
        fail_unknown_zone(name, err, errlen);
        goto out;
    }
    tz = tzif_decode((const unsigned char *)data, len);
    if (!tz) {
        quote_text(name, SIZE_MAX, q);
        wr_errf(err, errlen, "time zone '%s': damaged file in the tz database", q);
    }
out:
    free(path);
    free(data);
    return tz;
}

int wr_tz_check(const char *name, char *err, size_t errlen)
{
    struct wr_tz *tz = wr_tz_load(name, err, errlen);

    if (!tz) {
        return -1;
    }
    wr_tz_free(tz);
    return 0;
}

/* }====================================================================== */

/* {====================================================================== next firing */

static bool day_matches(const struct wr_cron *c, int mday, int wday)
{
    bool dm = (c->mdays >> mday) & 1, wm = (c->wdays >> wday) & 1;

    if (c->mday_star || c->wday_star) {
        return dm && wm;
    }
    return dm || wm;
}

/*
 * Finds the first wall-clock minute at or after *wall (local seconds, minute-aligned) that
 * matches c and stores it in *wall; false when there is none up to `limit`. Pure calendar
 * arithmetic: no time zone involved. (Not -1 for "none": wall times before 1970 are negative.)
 */
static bool next_wall_match(const struct wr_cron *c, int64_t *wallp, int64_t limit)
{
    int64_t wall = *wallp;

    while (wall <= limit) {
        int64_t days = floor_div(wall, SECS_PER_DAY), y;
        int64_t secs = wall - days * SECS_PER_DAY;
        int m, d, hour = (int)(secs / 3600), min = (int)(secs % 3600 / 60);

        civil_from_days(days, &y, &m, &d);
        if (!((c->months >> m) & 1)) {
            if (++m > 12) {
                m = 1;
                y++;
            }
            wall = days_from_civil(y, m, 1) * SECS_PER_DAY;
        } else if (!day_matches(c, d, weekday(days))) {
            wall = (days + 1) * SECS_PER_DAY;
        } else if (!((c->hours >> hour) & 1)) {
            wall = days * SECS_PER_DAY + (int64_t)(hour + 1) * 3600;
        } else if (!((c->minutes >> min) & 1)) {
            wall += 60;
        } else {
            *wallp = wall;
            return true;
        }
    }
    return false;
}

/*
 * The instant at which wall-clock time `wall` first happens in tz: its only instant, the
 * earlier of two in a fall-back overlap, or — for a time skipped by a spring-forward gap — the
 * transition instant itself. Assumes at most one offset change within a day of `wall`, which
 * holds for every zone in the tz database.
 */
static int64_t wall_to_instant(const struct wr_tz *tz, int64_t wall)
{
    /* Offsets stay within ±1 day, so the instant lies inside [wall - 1d, wall + 1d]. */
    int32_t off_a = wr_tz_offset(tz, wall - SECS_PER_DAY);
    int32_t off_b = wr_tz_offset(tz, wall + SECS_PER_DAY);
    int64_t ta = wall - off_a, tb = wall - off_b, lo, hi;
    bool va = wr_tz_offset(tz, ta) == off_a, vb = wr_tz_offset(tz, tb) == off_b;
    int32_t target;

    if (va && vb) {
        return ta < tb ? ta : tb;
    }
    if (va || vb) {
        return va ? ta : tb;
    }
    if (off_a == off_b) {
        /* Two changes within a day; no zone does that. Best effort rather than a loop. */
        return ta;
    }
    /* A gap: find the transition, the first instant in (lo, hi] with the later offset. */
    lo = ta < tb ? ta : tb;
    hi = ta < tb ? tb : ta;
    target = wr_tz_offset(tz, hi);
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (wr_tz_offset(tz, mid) == target) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return hi;
}

int64_t wr_tz_wall_to_utc(const struct wr_tz *tz, int64_t wall)
{
    return wall_to_instant(tz, wall);
}

int64_t wr_cron_next_in(const struct wr_cron *c, const struct wr_tz *tz, int64_t after)
{
    int64_t wall_after, wall, limit;

    if (!c || after < MIN_INSTANT || after > MAX_INSTANT) {
        return -1;
    }
    wall_after = after + wr_tz_offset(tz, after);
    limit = wall_after + (int64_t)SEARCH_DAYS * SECS_PER_DAY;
    wall = floor_div(wall_after, 60) * 60 + 60;
    for (;;) {
        int64_t t;

        if (!next_wall_match(c, &wall, limit)) {
            return -1;
        }
        t = wall_to_instant(tz, wall);
        /*
         * t <= after happens only for a wall time whose first occurrence is already past (we
         * are inside a fall-back overlap): it fired once, so move on.
         */
        if (t > after) {
            return t;
        }
        wall += 60;
    }
}

int64_t wr_cron_next(const struct wr_cron *c, const char *tz, int64_t after)
{
    struct wr_tz *zone = NULL;
    int64_t t;

    if (tz && strcmp(tz, "UTC") != 0) {
        zone = wr_tz_load(tz, NULL, 0);
        if (!zone) {
            return -1;
        }
    }
    t = wr_cron_next_in(c, zone, after);
    wr_tz_free(zone);
    return t;
}

/* }====================================================================== */
