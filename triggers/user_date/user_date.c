/*
 * user_date — the user-date trigger (issue #16): a run per user when a date attribute of the
 * user in Entra (employeeHireDate, employeeLeaveDateTime, ...) plus an offset comes due, at a
 * local time of day in a time zone. This file declares and checks the arguments and lists the
 * slots; the rules are triggers/user_date/due, the runtime triggers/user_date/runtime.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/base/duration.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "triggers/entra.h"
#include "triggers/trigger.h"
#include "triggers/user_date/due.h"
#include "triggers/user_date/runtime.h"
#include "triggers/watchset.h"
#include "triggers/user_date/scope.h"

static const struct wr_argspec user_date_args[] = {
    {.name = "attribute",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .choices = wr_entra_user_dates,
     .expect = "a date property of a user, e.g. employeeHireDate",
     .help = "the user's date property the run is due by"},
    {.name = "offset",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .expect = "a duration such as -7d, 0s or 2w",
     .help = "the run is due this long after the date (negative: before), -180d..180d; "
             "default 0s"},
    {.name = "at",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .expect = "a time of day HH:MM",
     .help = "local time of day the run is due, \"HH:MM\"; default 00:00",
     .schema = "{\"pattern\": \"^([01][0-9]|2[0-3]):[0-5][0-9]$\"}"}, /* due.c */
    {.name = "zone",
     .type = WR_ARG_TZ,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "IANA time zone of `at`; default UTC"},
    {.name = "catch_up",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "a due time up to this far in the past still fires; default 3d"},
    {.name = "filter",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "OData condition ANDed into the query, e.g. \"department eq 'Sales'\""},
    {.name = "select",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "more user properties to put in event.user, e.g. [department, jobTitle]"},
    {.name = "every",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how often Graph is read, at least 1s; default 1h"},
    {0},
};

/* The string under key, or NULL (absent, another type, or a template the table refused). */
static const char *string_at(struct json_object *args, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(args, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static void check_offset(struct wr_check *c, struct json_object *args, const char *path)
{
    const char *s = string_at(args, "offset");
    char err[WR_ERR_MAX];
    int64_t ms = 0;
    if (!s || !*s) {
        return; /* the table reported another type or an empty value */
    }
    char *p = wr_path_key(path, "offset");
    if (wr_duration_parse_signed(s, &ms, err, sizeof(err)) != 0) {
        wr_check_error(c, p, false, "%s", err);
    } else if (ms < -WR_USER_DATE_OFFSET_MAX_MS || ms > WR_USER_DATE_OFFSET_MAX_MS) {
        wr_check_error(c, p, false, "%s is out of range -180d..180d", s);
    }
    free(p);
}

static void check_at(struct wr_check *c, struct json_object *args, const char *path)
{
    const char *s = string_at(args, "at");
    char err[WR_ERR_MAX];
    int min = 0;
    if (s && *s && wr_user_date_parse_at(s, &min, err, sizeof(err)) != 0) {
        char *p = wr_path_key(path, "at");
        wr_check_error(c, p, false, "%s", err);
        free(p);
    }
}

static void check_filter(struct wr_check *c, struct json_object *args, const char *path)
{
    const char *s = string_at(args, "filter");
    char err[WR_ERR_MAX];
    if (s && strspn(s, " \t\r\n") < strlen(s) && wr_user_date_filter_check(s, err, sizeof(err))) {
        char *p = wr_path_key(path, "filter");
        wr_check_error(c, p, false, "%s", err);
        free(p);
    }
}

static void user_date_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    check_offset(c, args, path);
    check_at(c, args, path);
    check_filter(c, args, path);
    wr_entra_check_properties(c, args, path, "select", NULL, false);
    wr_entra_check_every(c, args, path);
}

static const char user_date_notes[] =
    "The run is due at `at` in `zone` on the date of `attribute` plus `offset`. The date is\n"
    "the attribute's calendar date in UTC (Entra keeps hire dates as midnight UTC), so\n"
    "offset -7d at 09:00 in Europe/Berlin is 09:00 Berlin time a week before, summer time or\n"
    "not. A time skipped by a clock change is due right after the jump; a repeated one at its\n"
    "first occurrence.\n"
    "\n"
    "Each poll (every `every`) reads the users whose due time lies between `catch_up` ago and\n"
    "the next poll: those due fire at once, the others at their due time. One run per user\n"
    "and date: a user whose date changes fires again for the new date.\n"
    "\n"
    "event.user holds id, userPrincipalName, displayName, mail, employeeId, accountEnabled,\n"
    "the attribute and the `select`ed properties; event.date is the attribute as Graph sent\n"
    "it, event.due the due time in UTC.\n";

/* The console's one line for a workflow of this kind. */
static char *user_date_summarize(const struct wr_workflow *wf)
{
    static const struct wr_trigger_summary_part parts[] = {{.key = "attribute"},
                                                           {.key = "offset"},
                                                           {.label = "at", .key = "at"},
                                                           {.key = "zone"},
                                                           {0}};
    return wr_trigger_summary(wf, parts);
}

const struct wr_trigger_kind wr_trigger_user_date = {
    .name = "user-date",
    .summary = "a date of each user in Entra (hire, leave, ...) plus an offset, at a local time",
    .args = user_date_args,
    .notes = user_date_notes,
    .validate = user_date_validate,
    .what = "user-date polls",
    .leader_only = true,
    .start = wr_user_date_start,
    .ready = wr_watchset_slot_ready,
    .busy = wr_watchset_slot_busy,
    .prepare = wr_watchset_slot_prepare,
    .commit = wr_watchset_slot_commit,
    .abort = wr_watchset_slot_abort,
    .stop_accepting = wr_watchset_slot_stop_accepting,
    .pending = wr_watchset_slot_pending,
    .gate = wr_user_date_gate,
    .free = wr_watchset_slot_free,
    .user_select = wr_user_date_user_select,
    .user_event = wr_user_date_user_event,
    .scope = wr_user_date_scope,
    .summarize = user_date_summarize,
    .next_due = wr_user_date_next_due,
};
