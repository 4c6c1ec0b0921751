/*
 * schedule_timer — cron and interval timers feeding ingest; see schedule_timer.h.
 */
#include "triggers/schedule_timer.h"

#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cron.h"
#include "engine/duration.h"
#include "engine/ingest.h"
#include "engine/log.h"
#include "engine/strutil.h"
#include "engine/workflow_set.h"

#define DEFAULT_CATCH_UP_MS (3600 * 1000LL)

struct timer {
    struct wr_schedule *sched;
    const struct wr_workflow *wf;
    struct event *ev;
    struct wr_cron cron;
    struct wr_tz *tz; /* NULL = UTC */
    int64_t every_ms; /* > 0 for `every:` */
    int64_t next_ms;  /* the slot the timer is set for */
};

struct wr_schedule {
    struct event_base *base;
    struct wr_ingest *ingest;
    struct timer *timers;
    size_t count;
    size_t pending;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* The first slot strictly after `after` (ms), or -1. */
static int64_t slot_after(const struct timer *t, int64_t after)
{
    if (t->every_ms > 0) {
        return (after / t->every_ms + 1) * t->every_ms;
    }
    /* cron works in whole seconds; slots are on minute boundaries. */
    int64_t s = wr_cron_next_in(&t->cron, t->tz, after / 1000);
    return s < 0 ? -1 : s * 1000;
}

static void on_fired(void *arg, const struct wr_ingest_result *res)
{
    struct timer *t = arg;
    t->sched->pending--;
    if (res->rc != 0) {
        wr_log(WR_LOG_ERROR, "a scheduled event could not be stored", "workflow", t->wf->name,
               "error", res->error ? res->error : "", NULL);
    } else if (res->count == 1 && !res->items[0].duplicate) {
        wr_log(WR_LOG_DEBUG, "schedule fired", "workflow", t->wf->name, "event",
               res->items[0].event_id, NULL);
    }
}

static void fire(struct timer *t, int64_t slot)
{
    char when[32], fired[32];
    iso(slot, when);
    iso(now_ms(), fired);
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "scheduled_for", json_object_new_string(when));
    json_object_object_add(ev, "fired_at", json_object_new_string(fired));
    json_object_object_add(ev, "workflow", json_object_new_string(t->wf->name));
    char *key = wr_xasprintf("schedule:%s:%s", t->wf->name, when);
    char *source = wr_xasprintf("schedule %s", t->wf->name);
    /* Scoped by the schedule (its workflow): the key names the slot. */
    struct wr_ingest_event e = {.event = ev, .key = key, .scope = source};
    const struct wr_workflow *cand = t->wf;
    if (wr_ingest_submit(t->sched->ingest, source, NULL, &cand, 1, &e, 1, on_fired, t) == 0) {
        t->sched->pending++;
    }
    free(source);
    free(key);
    json_object_put(ev);
}

static void arm(struct timer *t, int64_t now)
{
    t->next_ms = slot_after(t, now);
    if (t->next_ms < 0) {
        wr_log(WR_LOG_WARN, "schedule has no future slot", "workflow", t->wf->name, NULL);
        return;
    }
    int64_t delay = t->next_ms - now;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
    evtimer_add(t->ev, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct timer *t = arg;
    (void)fd;
    (void)what;
    int64_t now = now_ms();
    if (now < t->next_ms) {
        /* Woken early (clock adjustments): wait for the rest. */
        int64_t delay = t->next_ms - now;
        struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
        evtimer_add(t->ev, &tv);
        return;
    }
    fire(t, t->next_ms);
    arm(t, now);
}

/* At start: the latest slot at or before now, if within catch_up; fired once (keyed). */
static void catch_up(struct timer *t, int64_t now, int64_t window)
{
    int64_t last = -1, s = slot_after(t, now - window - 1);
    for (int i = 0; s >= 0 && s <= now && i < 100000; i++) {
        last = s;
        s = slot_after(t, s);
    }
    if (last >= 0) {
        fire(t, last);
    }
}

struct wr_schedule *wr_schedule_new(struct event_base *base, struct wr_ingest *in,
                                    const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct wr_schedule *s = wr_xcalloc(1, sizeof(*s));
    int64_t now = now_ms();
    s->base = base;
    s->ingest = in;
    s->timers = wr_xcalloc(set->count ? set->count : 1, sizeof(*s->timers));
    for (size_t i = 0; i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        struct json_object *v = NULL;
        char msg[256];
        if (!wf->enabled || strcmp(wf->trigger->name, "schedule") != 0) {
            continue;
        }
        struct timer *t = &s->timers[s->count];
        memset(t, 0, sizeof(*t));
        t->sched = s;
        t->wf = wf;
        if (json_object_object_get_ex(wf->trigger_args, "every", &v)) {
            if (wr_duration_parse(json_object_get_string(v), &t->every_ms, msg, sizeof(msg))) {
                snprintf(err, errlen, "%s: every: %s", wf->name, msg);
                goto err;
            }
        } else {
            json_object_object_get_ex(wf->trigger_args, "cron", &v);
            if (wr_cron_parse(json_object_get_string(v), &t->cron, msg, sizeof(msg)) != 0) {
                snprintf(err, errlen, "%s: cron: %s", wf->name, msg);
                goto err;
            }
            if (json_object_object_get_ex(wf->trigger_args, "timezone", &v) &&
                !(t->tz = wr_tz_load(json_object_get_string(v), msg, sizeof(msg)))) {
                snprintf(err, errlen, "%s: timezone: %s", wf->name, msg);
                goto err;
            }
        }
        int64_t window = DEFAULT_CATCH_UP_MS;
        if (json_object_object_get_ex(wf->trigger_args, "catch_up", &v)) {
            wr_duration_parse(json_object_get_string(v), &window, msg, sizeof(msg));
        }
        t->ev = evtimer_new(base, on_timer, t);
        s->count++;
        catch_up(t, now, window);
        arm(t, now);
    }
    return s;
err:
    wr_schedule_free(s);
    return NULL;
}

size_t wr_schedule_pending(const struct wr_schedule *s)
{
    return s ? s->pending : 0;
}

void wr_schedule_free(struct wr_schedule *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->count; i++) {
        if (s->timers[i].ev) {
            event_free(s->timers[i].ev);
        }
        wr_tz_free(s->timers[i].tz);
    }
    free(s->timers);
    free(s);
}
