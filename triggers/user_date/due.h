/*
 * due — the pure core of the user-date trigger (issue #16): when a user's date attribute makes
 * a run due, which attribute values a poll must read from Graph to find every such user, the
 * request that reads them, and the event and idempotency key of a run.
 *
 * No I/O, no clock, no loop: `now` is always passed in, zones come loaded (engine/lang/cron),
 * so every rule here is a unit test away. The runtime (polling Graph, journaling found users,
 * the timer for users due later, re-reading the user before the run) is
 * triggers/user_date/runtime.
 *
 * The rule for a due time, in one place:
 *   - The attribute's DATE is its calendar date in UTC after adding `offset`: the value is read
 *     as an instant (engine/base/timestamp), `offset` (exact milliseconds, "-7d" = 7 * 24 h) is
 *     added, and the UTC calendar date of the result is taken. Entra stores hire dates as
 *     midnight UTC of the date meant ("2026-03-29T00:00:00Z"), so the UTC date is the date HR
 *     or the admin entered; reading it in `zone` instead would move every date one day back in
 *     a zone west of UTC. A value with a time of day keeps only its UTC date
 *     ("2026-03-30T22:00:00Z" is 2026-03-30, whatever `zone` says).
 *   - The run is due at local time `at` on that date in `zone`, converted to UTC by
 *     wr_tz_wall_to_utc (engine/lang/cron.h): a time skipped by spring-forward is due at the
 *     first instant after the jump, a repeated one at its first occurrence. Because the offset
 *     moves the DATE, not the instant, `at` stays `at` across a DST change: "-7d at 09:00" is
 *     09:00 local a week before, summer time or not.
 */
#ifndef WR_USER_DATE_DUE_H
#define WR_USER_DATE_DUE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wr_trigger_kind;
struct wr_tz;

#define WR_USER_DATE_DAY_MS ((int64_t)24 * 60 * 60 * 1000)

/* offset: -180d..180d. every: at least 1s. Defaults: offset 0, at 00:00, zone UTC, catch_up 3d,
   every 1h. */
#define WR_USER_DATE_OFFSET_MAX_MS      (180 * WR_USER_DATE_DAY_MS)
#define WR_USER_DATE_EVERY_MIN_MS       ((int64_t)1000)
#define WR_USER_DATE_EVERY_DEFAULT_MS   ((int64_t)60 * 60 * 1000)
#define WR_USER_DATE_CATCHUP_DEFAULT_MS (3 * WR_USER_DATE_DAY_MS)

/*
 * How far past the next poll a poll looks ahead: a user due within `every` + this margin of
 * now is armed as a timer and fires at its due time, even when the next poll runs late (a big
 * directory takes a while to page through). 5 minutes.
 */
#define WR_USER_DATE_MARGIN_MS ((int64_t)5 * 60 * 1000)

/*
 * The most a zone's offset from UTC can be, either way, for the value window: one day. Real
 * zones stay within -12h..+14h (local mean times before 1900 within ±16h); cron's wall-to-UTC
 * conversion makes the same one-day assumption.
 */
#define WR_USER_DATE_ZONE_SLACK_MS WR_USER_DATE_DAY_MS

/* The descriptor (triggers/user_date/user_date.c): name "user-date", argument table, validate
   and the run-time slots of triggers/user_date/runtime. */
extern const struct wr_trigger_kind wr_trigger_user_date;

/* {====== the arguments ====== */

/* A workflow's user-date arguments, read once after they were checked. */
struct wr_user_date_spec {
    char *attribute;   /* owned; one of wr_entra_user_dates (triggers/entra.h) */
    int64_t offset_ms; /* -180d..180d */
    int at_min;        /* minutes after local midnight, 0..1439 */
    char *zone;        /* owned IANA name; "UTC" by default */
    int64_t catch_up_ms;
    int64_t every_ms;
    char *filter;  /* owned OData condition, or NULL */
    char **select; /* owned list of nselect owned property names (may repeat the fixed ones) */
    size_t nselect;
};

/*
 * Reads "HH:MM" (two digits each, 00:00..23:59) into *minutes and returns 0; else -1 with
 * "'9:00' is not a time of day (HH:MM, 00:00-23:59)" in err.
 */
int wr_user_date_parse_at(const char *s, int *minutes, char *err, size_t errlen);

/*
 * Basic sanity of a user's OData condition, not a parser (Graph has the last word, and answers
 * 400 at the first poll): not empty or blank, no control characters (below 0x20, 0x7f), single
 * quotes balanced (OData's string literals; '' inside one is a quote), parentheses balanced
 * outside literals. Returns 0, or -1 with the first problem in err.
 */
int wr_user_date_filter_check(const char *s, char *err, size_t errlen);

/*
 * Fills *out (zeroed first) from args, the trigger's mapping (borrowed), applying the defaults.
 * args must have passed the argument table and validate: returns -1 with a message in err only
 * for input that would have failed them. Release with wr_user_date_spec_clear, also after -1.
 */
int wr_user_date_spec_read(struct json_object *args, struct wr_user_date_spec *out, char *err,
                           size_t errlen);

/* Frees what *s owns and zeroes it. NULL is fine. */
void wr_user_date_spec_clear(struct wr_user_date_spec *s);

/* }====== */

/* {====== due times and the poll's window ====== */

/*
 * The due time of a user whose attribute reads value[0..len) (as Graph sent it, e.g.
 * "2026-03-29T00:00:00Z"; any form engine/base/timestamp reads), by the rule at the top of
 * this file: *due_ms (UTC epoch ms) = local time at_min on the UTC date of (value + offset_ms),
 * in tz (loaded, borrowed; NULL is UTC). *value_ms gets the value as an instant (may be NULL).
 * Returns 0, or -1 with "'...' is not a date: <why>" in err.
 */
int wr_user_date_due(const char *value, size_t len, int64_t offset_ms, int at_min,
                     const struct wr_tz *tz, int64_t *value_ms, int64_t *due_ms, char *err,
                     size_t errlen);

/*
 * What one poll at `now` looks for. Due times in [due_lo, due_hi] are the poll's: those up to
 * now (and not older than catch_up) fire now, the later ones are armed as timers. The value
 * window [value_lo, value_hi] (whole seconds) holds every attribute value whose due time can
 * fall in [due_lo, due_hi]; the poll asks Graph for it and computes each user's exact due time.
 *
 * Why the value window is what it is: a value v has due = wall_to_utc(D * 1d + at), with D
 * the UTC date of v + offset, so D * 1d <= v + offset < D * 1d + 1d, and the zone moves the
 * instant by its offset from UTC, within ±Z (WR_USER_DATE_ZONE_SLACK_MS; a DST gap moves it
 * less than that). Hence due - offset - at - Z <= v < due - offset - at + 1d + Z. Rather than
 * cut it that fine, both ends are widened by 1d + Z (two days): the date-only reading and any
 * zone never lose a user, and reading a few users too many costs nothing — their due times
 * fall outside [due_lo, due_hi] and wr_user_date_classify says so.
 */
struct wr_user_date_window {
    int64_t now_ms;
    int64_t due_lo, due_hi;     /* now - catch_up .. now + every + WR_USER_DATE_MARGIN_MS */
    int64_t value_lo, value_hi; /* due_lo - offset - at - 2d .. due_hi - offset - at + 2d */
};

/* The window of a poll at now_ms (UTC epoch ms, from the caller's clock) for spec s. */
void wr_user_date_window(const struct wr_user_date_spec *s, int64_t now_ms,
                         struct wr_user_date_window *w);

/*
 * The window of a preview (`weir scope --days N`) at now_ms: as wr_user_date_window, but with
 * due_hi given (now_ms + N days) instead of the next poll's reach; the value window follows.
 * wr_user_date_window is this with due_hi = now_ms + every + WR_USER_DATE_MARGIN_MS.
 */
void wr_user_date_window_until(const struct wr_user_date_spec *s, int64_t now_ms, int64_t due_hi,
                               struct wr_user_date_window *w);

enum wr_user_date_when {
    WR_USER_DATE_MISSED, /* due before now - catch_up: never fires (catch_up says so) */
    WR_USER_DATE_NOW,    /* due in [now - catch_up, now]: fires now */
    WR_USER_DATE_LATER,  /* due in (now, due_hi]: arm a timer for it */
    WR_USER_DATE_BEYOND, /* due after due_hi: a later poll finds it */
};

/* Where due_ms falls relative to w (both edges of [due_lo, now] fire). */
enum wr_user_date_when wr_user_date_classify(const struct wr_user_date_window *w, int64_t due_ms);

/*
 * The $filter of a poll, unencoded: "<attribute> ge <lo> and <attribute> le <hi>" with
 * unquoted DateTimeOffset literals in UTC ("2026-03-20T00:00:00Z"), and, when s->filter is
 * set, " and (<filter>)". Graph documents ge/le (not gt/lt) on the date attributes. Owned.
 */
char *wr_user_date_filter(const struct wr_user_date_spec *s, const struct wr_user_date_window *w);

/*
 * The first page's Graph path: "/users?$filter=<the filter, percent-encoded>&$select=id,
 * userPrincipalName,displayName,mail,employeeId,accountEnabled,<attribute>,<select...>
 * &$count=true&$top=999" (each property once, in that order). Owned.
 *
 * An advanced query: send "ConsistencyLevel: eventual" with it AND with every @odata.nextLink
 * page after it (Graph does not carry headers over into the next link), or Graph refuses the
 * filter (400) or, worse, answers without the users the index has not caught up with.
 */
char *wr_user_date_request_path(const struct wr_user_date_spec *s,
                                const struct wr_user_date_window *w);

/*
 * The $select list of an event's user: "id,userPrincipalName,displayName,mail,employeeId,
 * accountEnabled,<attribute>,<select...>", each property once, in that order (what
 * wr_user_date_request_path asks for). Owned.
 */
char *wr_user_date_select(const struct wr_user_date_spec *s);

/* }====== */

/* {====== a found user ====== */

/* One user of a poll's answer, read against a spec. */
struct wr_user_date_hit {
    const char *id;    /* borrowed from the user object */
    const char *value; /* borrowed: the attribute as Graph sent it */
    int64_t value_ms;  /* the value as an instant */
    int64_t due_ms;
};

/*
 * Reads one user object of a poll's answer (borrowed; hit's strings point into it): its id and
 * attribute, and the due time. Returns 0, or -1 when the user cannot be scheduled — no id, the
 * attribute missing or null ("user 1f2e... has no employeeHireDate"), not a string, or not a
 * date — with why in err. The runtime logs that once per user and value, and skips the user.
 */
int wr_user_date_read(const struct wr_user_date_spec *s, const struct wr_tz *tz,
                      struct json_object *user, struct wr_user_date_hit *hit, char *err,
                      size_t errlen);

/*
 * The event of a run: {"user": {id, userPrincipalName, displayName, mail, employeeId,
 * accountEnabled, <attribute>, <select...>}, "date": "<hit->value, as Graph sent it>",
 * "due": "<hit->due_ms in UTC, 2026-03-29T07:00:00Z>"}. The user's properties are copied from
 * user (borrowed) in that order; one Graph left out is null. Owned.
 */
struct json_object *wr_user_date_event(const struct wr_user_date_spec *s, struct json_object *user,
                                       const struct wr_user_date_hit *hit);

/*
 * The idempotency key of a run: "user-date:<workflow>:<user id>:<value>", the value in
 * canonical UTC form (2026-03-29T00:00:00Z, with .mmm only when not zero) so that one instant
 * written two ways is one key. The same date never fires twice for a user and workflow; a
 * changed date is a new key and fires again. Owned.
 */
char *wr_user_date_key(const char *workflow, const struct wr_user_date_hit *hit);

/*
 * Writes ms (UTC epoch ms) as "YYYY-MM-DDTHH:MM:SSZ", with ".mmm" before the Z when ms is not a
 * whole second, into buf (at least WR_USER_DATE_ISO_LEN bytes) and returns buf.
 */
#define WR_USER_DATE_ISO_LEN 32
const char *wr_user_date_iso(int64_t ms, char *buf);

/* }====== */

#endif
