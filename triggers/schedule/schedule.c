/*
 * schedule — the schedule trigger: a cron expression in a time zone, or a fixed interval.
 * This file declares and cross-checks the arguments; firing arrives with the ingest work.
 */
#include <stdlib.h>

#include "engine/base/duration.h"
#include "triggers/trigger.h"

static const struct wr_argspec schedule_args[] = {
    {.name = "cron",
     .type = WR_ARG_CRON,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "5-field cron expression or @hourly/@daily/@weekly/@monthly"},
    {.name = "every",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "fixed interval instead of cron, e.g. 15m"},
    {.name = "timezone",
     .type = WR_ARG_TZ,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "IANA time zone for cron; default UTC"},
    {.name = "catch_up",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "a slot missed while weir was down fires on start if within this; default 1h"},
    {0},
};

static void schedule_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *every = NULL;
    bool has_cron = json_object_object_get_ex(args, "cron", NULL);
    bool has_every = json_object_object_get_ex(args, "every", &every);

    if (has_cron == has_every) {
        wr_check_error(c, path, false,
                       "the schedule trigger needs exactly one of 'cron' or "
                       "'every'");
    }
    if (has_every && json_object_object_get_ex(args, "timezone", NULL)) {
        char *p = wr_path_key(path, "timezone");
        wr_check_error(c, p, true, "'timezone' applies to 'cron' only, not to 'every'");
        free(p);
    }
    if (has_every && json_object_is_type(every, json_type_string)) {
        int64_t ms = 0;
        char err[128];
        if (wr_duration_parse(json_object_get_string(every), &ms, err, sizeof(err)) == 0 &&
            ms < 1000) {
            char *p = wr_path_key(path, "every");
            wr_check_error(c, p, false, "must be at least 1s");
            free(p);
        }
    }
}

const struct wr_trigger_kind wr_trigger_schedule = {
    .name = "schedule",
    .summary = "a clock: a cron expression in a time zone, or a fixed interval",
    .args = schedule_args,
    .validate = schedule_validate,
};
