/*
 * schedule — the schedule trigger: a cron expression in a time zone, or a fixed interval.
 * This file declares and cross-checks the arguments, and the run-time slots; the timers are
 * triggers/schedule/timer.
 */
#include <stdlib.h>

#include "engine/base/duration.h"
#include "engine/base/strutil.h"
#include "engine/lang/cron.h"
#include "engine/lang/workflow.h"
#include "triggers/schedule/timer.h"
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
    /* for `weir schema`: schedule_validate's "exactly one of cron or every; timezone with cron" */
    {.schema = "{\"oneOf\": [{\"required\": [\"cron\"]}, {\"required\": [\"every\"]}], "
               "\"if\": {\"required\": [\"every\"]}, \"then\": {\"not\": {\"required\": "
               "[\"timezone\"]}}}"},
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
        char err[WR_ERR_MAX];
        if (wr_duration_parse(json_object_get_string(every), &ms, err, sizeof(err)) == 0 &&
            ms < 1000) {
            char *p = wr_path_key(path, "every");
            wr_check_error(c, p, false, "must be at least 1s");
            free(p);
        }
    }
}

/* {====== at run time: the timers, and the ones a reload is about to switch to ====== */

struct schedule_rt {
    struct event_base *base;
    struct wr_ingest *ingest;
    struct wr_schedule *now;  /* the timers firing; NULL once stopped and idle */
    struct wr_schedule *next; /* built by prepare, nothing fired yet */
    bool stopping;
};

static void *schedule_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                            char *err, size_t errlen)
{
    struct wr_schedule *s = wr_schedule_new(env->base, env->ingest, set, err, errlen);
    if (!s) {
        return NULL;
    }
    struct schedule_rt *rt = wr_xcalloc(1, sizeof(*rt));
    rt->base = env->base;
    rt->ingest = env->ingest;
    rt->now = s;
    return rt;
}

/* A firing in flight points into its schedule, which the commit frees: wait for it (ms). */
static bool schedule_reload_wait(const void *p)
{
    const struct schedule_rt *rt = p;
    return wr_schedule_pending(rt->now) > 0;
}

/* Built, not begun: dropping it in abort is safe whatever else happened meanwhile. */
static int schedule_prepare(void *p, const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct schedule_rt *rt = p;
    wr_schedule_free(rt->next);
    rt->next = wr_schedule_build(rt->base, rt->ingest, set, err, errlen);
    return rt->next ? 0 : -1;
}

/* Slots waiting for a retry are kept (by workflow name); the old timers go (none in flight:
   see schedule_reload_wait). */
static void schedule_commit(void *p, const struct wr_workflow_set *set)
{
    struct schedule_rt *rt = p;
    (void)set;
    wr_schedule_begin(rt->next);
    wr_schedule_adopt(rt->next, rt->now);
    wr_schedule_free(rt->now);
    rt->now = rt->next;
    rt->next = NULL;
}

static void schedule_abort(void *p)
{
    struct schedule_rt *rt = p;
    wr_schedule_free(rt->next);
    rt->next = NULL;
}

/* No new slots: the timers go now, or once the firing in flight (which points into them) has
   its commit; see schedule_pending. */
static void schedule_stop_accepting(void *p)
{
    struct schedule_rt *rt = p;
    rt->stopping = true;
    if (wr_schedule_pending(rt->now) == 0) {
        wr_schedule_free(rt->now);
        rt->now = NULL;
    }
}

static size_t schedule_pending(void *p)
{
    struct schedule_rt *rt = p;
    if (rt->stopping && rt->now && wr_schedule_pending(rt->now) == 0) {
        wr_schedule_free(rt->now);
        rt->now = NULL;
    }
    return wr_schedule_pending(rt->now);
}

static void schedule_free(void *p)
{
    struct schedule_rt *rt = p;
    if (rt) {
        wr_schedule_free(rt->now);
        wr_schedule_free(rt->next);
        free(rt);
    }
}

/* }====== */

/* {====== for the console ====== */

static char *schedule_summarize(const struct wr_workflow *wf)
{
    static const struct wr_trigger_summary_part parts[] = {
        {.key = "cron"}, {.label = "every", .key = "every"}, {.key = "timezone"}, {0}};
    return wr_trigger_summary(wf, parts);
}

/* The slot the timer would arm next (triggers/schedule/timer's rule: cron's next minute in the
   zone, or the next multiple of `every` since the epoch), computed from the arguments. */
static int64_t schedule_next_due(const struct wr_workflow *wf, const char *state_path,
                                 int64_t now_ms)
{
    struct json_object *v = NULL;
    char err[WR_ERR_MAX];
    (void)state_path;
    if (json_object_object_get_ex(wf->trigger_args, "every", &v)) {
        int64_t every = 0;
        if (wr_duration_parse(json_object_get_string(v), &every, err, sizeof(err)) != 0 ||
            every <= 0) {
            return -1;
        }
        return (now_ms / every + 1) * every;
    }
    struct wr_cron cron;
    if (!json_object_object_get_ex(wf->trigger_args, "cron", &v) ||
        wr_cron_parse(json_object_get_string(v), &cron, err, sizeof(err)) != 0) {
        return -1;
    }
    struct wr_tz *tz = NULL;
    if (json_object_object_get_ex(wf->trigger_args, "timezone", &v) &&
        !(tz = wr_tz_load(json_object_get_string(v), err, sizeof(err)))) {
        return -1;
    }
    int64_t next = wr_cron_next_in(&cron, tz, now_ms / 1000);
    wr_tz_free(tz);
    return next < 0 ? -1 : next * 1000;
}

/* }====== */

const struct wr_trigger_kind wr_trigger_schedule = {
    .name = "schedule",
    .summary = "a clock: a cron expression in a time zone, or a fixed interval",
    .args = schedule_args,
    .validate = schedule_validate,
    .what = "schedules",
    .leader_only = true,
    .start = schedule_start,
    .reload_wait = schedule_reload_wait,
    .prepare = schedule_prepare,
    .commit = schedule_commit,
    .abort = schedule_abort,
    .stop_accepting = schedule_stop_accepting,
    .pending = schedule_pending,
    .free = schedule_free,
    .summarize = schedule_summarize,
    .next_due = schedule_next_due,
};
