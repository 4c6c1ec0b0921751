/*
 * due — the pure core of the user-date trigger: arguments, due times, the poll's window and
 * request, a run's event and key. See due.h for the rules; nothing here does I/O or reads a
 * clock.
 */
#include "triggers/user_date/due.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/duration.h"
#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"
#include "engine/base/timestamp.h"
#include "engine/graph/graph.h"
#include "engine/lang/cron.h"
#include "triggers/entra.h"

/* {====== the arguments ====== */

int wr_user_date_parse_at(const char *s, int *minutes, char *err, size_t errlen)
{
    char q[WR_QUOTE_MAX + 4];
    bool digits = strlen(s) == 5 && s[2] == ':';
    for (int i = 0; digits && i < 5; i++) {
        digits = i == 2 || (s[i] >= '0' && s[i] <= '9');
    }
    int h = digits ? (s[0] - '0') * 10 + (s[1] - '0') : 0;
    int m = digits ? (s[3] - '0') * 10 + (s[4] - '0') : 0;
    if (!digits || h > 23 || m > 59) {
        wr_quote_input(s, q);
        return wr_errf(err, errlen, "'%s' is not a time of day (HH:MM, 00:00-23:59)", q);
    }
    *minutes = h * 60 + m;
    return 0;
}

int wr_user_date_filter_check(const char *s, char *err, size_t errlen)
{
    bool quoted = false;
    int depth = 0;
    size_t i, quote_at = 0;

    if (strspn(s, " \t") == strlen(s)) {
        return wr_errf(err, errlen, "the filter is empty");
    }
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return wr_errf(err, errlen, "control character 0x%02x at offset %zu of the filter", c,
                           i);
        }
        if (c == '\'') {
            /* '' inside a literal toggles twice: a quote in the text, the literal goes on. */
            quoted = !quoted;
            quote_at = i;
        } else if (!quoted && c == '(') {
            depth++;
        } else if (!quoted && c == ')' && --depth < 0) {
            return wr_errf(err, errlen, "')' at offset %zu of the filter closes nothing", i);
        }
    }
    if (quoted) {
        return wr_errf(err, errlen,
                       "the quote at offset %zu of the filter is never closed (write a quote "
                       "inside a string as '')",
                       quote_at);
    }
    if (depth > 0) {
        return wr_errf(err, errlen, "the filter leaves %d '(' unclosed", depth);
    }
    return 0;
}

static const char *str_arg(struct json_object *args, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(args, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Reads duration key of args into *ms (default when absent); -1 with "key: why" in err. */
static int duration_arg(struct json_object *args, const char *key, bool sign, int64_t *ms,
                        char *err, size_t errlen)
{
    const char *s = str_arg(args, key);
    char why[WR_ERR_MAX];
    if (s && (sign ? wr_duration_parse_signed(s, ms, why, sizeof(why))
                   : wr_duration_parse(s, ms, why, sizeof(why))) != 0) {
        return wr_errf(err, errlen, "%s: %s", key, why);
    }
    return 0;
}

int wr_user_date_spec_read(struct json_object *args, struct wr_user_date_spec *out, char *err,
                           size_t errlen)
{
    char why[WR_ERR_MAX];
    const char *s;
    struct json_object *sel = NULL;

    memset(out, 0, sizeof(*out));
    out->catch_up_ms = WR_USER_DATE_CATCHUP_DEFAULT_MS;
    out->every_ms = WR_USER_DATE_EVERY_DEFAULT_MS;
    if (!(s = str_arg(args, "attribute"))) {
        return wr_errf(err, errlen, "attribute: missing");
    }
    out->attribute = wr_xstrdup(s);
    out->zone = wr_xstrdup((s = str_arg(args, "zone")) ? s : "UTC");
    out->filter = wr_xstrdup_or_null(str_arg(args, "filter"));
    if (duration_arg(args, "offset", true, &out->offset_ms, err, errlen) != 0 ||
        duration_arg(args, "catch_up", false, &out->catch_up_ms, err, errlen) != 0 ||
        duration_arg(args, "every", false, &out->every_ms, err, errlen) != 0) {
        return -1;
    }
    if ((s = str_arg(args, "at")) && wr_user_date_parse_at(s, &out->at_min, why, sizeof(why))) {
        return wr_errf(err, errlen, "at: %s", why);
    }
    if (json_object_object_get_ex(args, "select", &sel) &&
        json_object_is_type(sel, json_type_array)) {
        size_t n = json_object_array_length(sel);
        out->select = wr_xcalloc(n ? n : 1, sizeof(*out->select));
        for (size_t i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(sel, i);
            if (json_object_is_type(e, json_type_string)) {
                out->select[out->nselect++] = wr_xstrdup(json_object_get_string(e));
            }
        }
    }
    if (out->offset_ms < -WR_USER_DATE_OFFSET_MAX_MS ||
        out->offset_ms > WR_USER_DATE_OFFSET_MAX_MS) {
        return wr_errf(err, errlen, "offset: out of range -180d..180d");
    }
    if (out->every_ms < WR_USER_DATE_EVERY_MIN_MS) {
        return wr_errf(err, errlen, "every: must be at least 1s");
    }
    return 0;
}

void wr_user_date_spec_clear(struct wr_user_date_spec *s)
{
    if (!s) {
        return;
    }
    free(s->attribute);
    free(s->zone);
    free(s->filter);
    for (size_t i = 0; i < s->nselect; i++) {
        free(s->select[i]);
    }
    free(s->select);
    memset(s, 0, sizeof(*s));
}

/* }====== */

/* {====== due times and the poll's window ====== */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int wr_user_date_due(const char *value, size_t len, int64_t offset_ms, int at_min,
                     const struct wr_tz *tz, int64_t *value_ms, int64_t *due_ms, char *err,
                     size_t errlen)
{
    char why[WR_ERR_MAX], q[WR_QUOTE_MAX + 4];
    int64_t sec = 0;
    int32_t nsec = 0;

    if (wr_timestamp_parse(value, len, &sec, &nsec, why) != 0) {
        char *copy = wr_xstrndup(value, len);
        wr_quote_input(copy, q);
        free(copy);
        return wr_errf(err, errlen, "'%s' is not a date: %s", q, why);
    }
    int64_t v = sec * 1000 + nsec / 1000000;
    /* The date is the UTC date of value + offset (due.h says why), the time `at` local. */
    int64_t day = floor_div(v + offset_ms, WR_USER_DATE_DAY_MS);
    int64_t wall = day * 86400 + (int64_t)at_min * 60;
    if (value_ms) {
        *value_ms = v;
    }
    *due_ms = wr_tz_wall_to_utc(tz, wall) * 1000;
    return 0;
}

void wr_user_date_window(const struct wr_user_date_spec *s, int64_t now_ms,
                         struct wr_user_date_window *w)
{
    wr_user_date_window_until(s, now_ms, now_ms + s->every_ms + WR_USER_DATE_MARGIN_MS, w);
}

void wr_user_date_window_until(const struct wr_user_date_spec *s, int64_t now_ms, int64_t due_hi,
                               struct wr_user_date_window *w)
{
    const int64_t widen = WR_USER_DATE_DAY_MS + WR_USER_DATE_ZONE_SLACK_MS;
    int64_t shift = s->offset_ms + (int64_t)s->at_min * 60 * 1000;

    w->now_ms = now_ms;
    w->due_lo = now_ms - s->catch_up_ms;
    w->due_hi = due_hi;
    /* Whole seconds, outwards: the literals in the $filter have no fraction. */
    w->value_lo = floor_div(w->due_lo - shift - widen, 1000) * 1000;
    w->value_hi = -floor_div(-(w->due_hi - shift + widen), 1000) * 1000;
}

enum wr_user_date_when wr_user_date_classify(const struct wr_user_date_window *w, int64_t due_ms)
{
    if (due_ms < w->due_lo) {
        return WR_USER_DATE_MISSED;
    }
    if (due_ms <= w->now_ms) {
        return WR_USER_DATE_NOW;
    }
    return due_ms <= w->due_hi ? WR_USER_DATE_LATER : WR_USER_DATE_BEYOND;
}

const char *wr_user_date_iso(int64_t ms, char *buf)
{
    int64_t sec = floor_div(ms, 1000);
    int frac = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;

    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, WR_USER_DATE_ISO_LEN, "?");
        return buf;
    }
    int n = snprintf(buf, WR_USER_DATE_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (frac) {
        snprintf(buf + n, WR_USER_DATE_ISO_LEN - (size_t)n, ".%03dZ", frac);
    } else {
        snprintf(buf + n, WR_USER_DATE_ISO_LEN - (size_t)n, "Z");
    }
    return buf;
}

char *wr_user_date_filter(const struct wr_user_date_spec *s, const struct wr_user_date_window *w)
{
    char lo[WR_USER_DATE_ISO_LEN], hi[WR_USER_DATE_ISO_LEN];
    wr_user_date_iso(w->value_lo, lo);
    wr_user_date_iso(w->value_hi, hi);
    return wr_xasprintf("%s ge %s and %s le %s%s%s%s", s->attribute, lo, s->attribute, hi,
                        s->filter ? " and (" : "", s->filter ? s->filter : "",
                        s->filter ? ")" : "");
}

static bool listed(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n && list[i]; i++) {
        if (strcmp(list[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* Every property of an event's user, each once, in event order (borrowed strings). Owned. */
static const char **user_properties(const struct wr_user_date_spec *s, size_t *np)
{
    size_t cap = 7 + s->nselect, n = 0;
    const char **p = wr_xcalloc(cap + 1, sizeof(*p));
    for (size_t i = 0; wr_entra_user_fixed[i]; i++) {
        p[n++] = wr_entra_user_fixed[i];
    }
    if (!listed(p, n, s->attribute)) {
        p[n++] = s->attribute;
    }
    for (size_t i = 0; i < s->nselect; i++) {
        if (!listed(p, n, s->select[i])) {
            p[n++] = s->select[i];
        }
    }
    *np = n;
    return p;
}

char *wr_user_date_request_path(const struct wr_user_date_spec *s,
                                const struct wr_user_date_window *w)
{
    struct wr_buf b = {0};
    char *filter = wr_user_date_filter(s, w);
    char *select = wr_user_date_select(s);

    char *escaped = wr_graph_escape(filter);
    wr_buf_addf(&b, "/users?$filter=%s&$select=%s&$count=true&$top=999", escaped, select);
    free(escaped);
    free(filter);
    free(select);
    return wr_buf_take(&b);
}

char *wr_user_date_select(const struct wr_user_date_spec *s)
{
    struct wr_buf b = {0};
    size_t n = 0;
    const char **props = user_properties(s, &n);
    for (size_t i = 0; i < n; i++) {
        wr_buf_addf(&b, "%s%s", i ? "," : "", props[i]);
    }
    free(props);
    return wr_buf_take(&b);
}

/* }====== */

/* {====== a found user ====== */

int wr_user_date_read(const struct wr_user_date_spec *s, const struct wr_tz *tz,
                      struct json_object *user, struct wr_user_date_hit *hit, char *err,
                      size_t errlen)
{
    struct json_object *id = NULL, *v = NULL;
    char why[WR_ERR_MAX];

    memset(hit, 0, sizeof(*hit));
    if (!json_object_object_get_ex(user, "id", &id) || !json_object_is_type(id, json_type_string) ||
        json_object_get_string_len(id) == 0) {
        return wr_errf(err, errlen, "a user without an id in Graph's answer");
    }
    hit->id = json_object_get_string(id);
    if (!json_object_object_get_ex(user, s->attribute, &v) || v == NULL) {
        return wr_errf(err, errlen, "user %s has no %s", hit->id, s->attribute);
    }
    if (!json_object_is_type(v, json_type_string)) {
        return wr_errf(err, errlen, "user %s: %s is %s, not a date", hit->id, s->attribute,
                       wr_json_type_name(v));
    }
    if (wr_user_date_due(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                         s->offset_ms, s->at_min, tz, &hit->value_ms, &hit->due_ms, why,
                         sizeof(why)) != 0) {
        return wr_errf(err, errlen, "user %s: %s %s", hit->id, s->attribute, why);
    }
    hit->value = json_object_get_string(v);
    return 0;
}

struct json_object *wr_user_date_event(const struct wr_user_date_spec *s, struct json_object *user,
                                       const struct wr_user_date_hit *hit)
{
    char due[WR_USER_DATE_ISO_LEN];
    size_t n = 0;
    const char **props = user_properties(s, &n);
    struct json_object *u = json_object_new_object(), *ev = json_object_new_object();

    for (size_t i = 0; i < n; i++) {
        struct json_object *v = NULL, *copy = NULL;
        if (json_object_object_get_ex(user, props[i], &v) && v) {
            json_object_deep_copy(v, &copy, NULL);
        }
        json_object_object_add(u, props[i], copy);
    }
    json_object_object_add(ev, "user", u);
    json_object_object_add(ev, "date", json_object_new_string(hit->value));
    json_object_object_add(ev, "due", json_object_new_string(wr_user_date_iso(hit->due_ms, due)));
    free(props);
    return ev;
}

char *wr_user_date_key(const char *workflow, const struct wr_user_date_hit *hit)
{
    char value[WR_USER_DATE_ISO_LEN];
    return wr_xasprintf("user-date:%s:%s:%s", workflow, hit->id,
                        wr_user_date_iso(hit->value_ms, value));
}

/* }====== */
