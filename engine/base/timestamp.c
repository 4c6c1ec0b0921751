/*
 * timestamp — strict ISO-8601 / RFC 3339 timestamps; see timestamp.h.
 */
#include "engine/base/timestamp.h"

#include <stdbool.h>
#include <stdio.h>

#define FORMS "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][.fraction][Z|+HH:MM|-HH:MM]"

static bool is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
   days_from_civil), without timegm and its time_t range. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*p + i >= end || (*p)[i] < '0' || (*p)[i] > '9') {
            return false;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int refuse(char *why, const char *fmt, int v)
{
    snprintf(why, WR_ERR_MAX, fmt, v);
    return -1;
}

static int bad_form(char *why)
{
    snprintf(why, WR_ERR_MAX, "not an ISO-8601 timestamp (%s)", FORMS);
    return -1;
}

int wr_timestamp_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec, char why[WR_ERR_MAX])
{
    const char *p = s, *end = s + len;
    int year, mon, day, hour = 0, min = 0, second = 0, oh = 0, om = 0, sign = 0;
    int32_t frac = 0;

    if (!digits(&p, end, 4, &year) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mon) ||
        p >= end || *p++ != '-' || !digits(&p, end, 2, &day)) {
        return bad_form(why);
    }
    if (p < end) {
        if (*p != 'T' && *p != 't' && *p != ' ') {
            return bad_form(why);
        }
        p++;
        if (!digits(&p, end, 2, &hour) || p >= end || *p++ != ':' || !digits(&p, end, 2, &min)) {
            return bad_form(why);
        }
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &second)) {
                return bad_form(why);
            }
            if (p < end && (*p == '.' || *p == ',')) {
                p++;
                int n = 0;
                int32_t scale = 100000000;
                /* digits past the ninth are finer than anything weir waits for */
                while (p < end && *p >= '0' && *p <= '9') {
                    if (++n <= 9) {
                        frac += (int32_t)(*p - '0') * scale;
                        scale /= 10;
                    }
                    p++;
                }
                if (n == 0) {
                    return bad_form(why);
                }
            }
        }
        if (p < end && (*p == 'Z' || *p == 'z')) {
            p++;
        } else if (p < end && (*p == '+' || *p == '-')) {
            sign = *p++ == '+' ? 1 : -1;
            if (!digits(&p, end, 2, &oh)) {
                return bad_form(why);
            }
            if (p < end && *p == ':') {
                p++;
            }
            if (!digits(&p, end, 2, &om)) {
                return bad_form(why);
            }
        }
        if (p != end) {
            return bad_form(why);
        }
    }
    if (mon < 1 || mon > 12) {
        return refuse(why, "month %02d is out of range (01-12)", mon);
    }
    if (day < 1 || day > days_in_month(year, mon)) {
        snprintf(why, WR_ERR_MAX, "day %02d does not exist in %04d-%02d (it has %d days)", day,
                 year, mon, days_in_month(year, mon));
        return -1;
    }
    if (hour > 23) {
        return refuse(why, "hour %02d is out of range (00-23)", hour);
    }
    if (min > 59) {
        return refuse(why, "minute %02d is out of range (00-59)", min);
    }
    if (second > 59) {
        return refuse(why,
                      second == 60 ? "second %02d (a leap second) is not supported"
                                   : "second %02d is out of range (00-59)",
                      second);
    }
    if (oh > 23) {
        return refuse(why, "offset hour %02d is out of range (00-23)", oh);
    }
    if (om > 59) {
        return refuse(why, "offset minute %02d is out of range (00-59)", om);
    }
    /* The wall time in the zone, less the zone's offset: east of UTC came earlier. */
    *sec = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + second -
           sign * (oh * 3600LL + om * 60LL);
    *nsec = frac;
    return 0;
}
