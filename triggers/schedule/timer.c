/*
 * schedule_timer — cron and interval timers feeding ingest; see schedule_timer.h.
 *
 * A firing is a heap object (struct firing) handed to ingest with the slot it is for. When its
 * commit fails, the slot joins its timer's waiting list (oldest first) and the timer's retry
 * event submits the oldest waiting slot again after RETRY_FIRST_MS, doubling to RETRY_MAX_MS
 * while commits keep failing; a stored slot lets the next one go at once, and so does a fresh
 * slot stored while others wait (the journal is back). The event is built again from the slot
 * and the time of its first firing, with the same key, so a retry never stores a slot twice.
 */
#include "triggers/schedule/timer.h"

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/lang/cron.h"
#include "engine/base/duration.h"
#include "engine/store/ingest.h"
#include "engine/base/log.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "triggers/trigger.h"

#define DEFAULT_CATCH_UP_MS (3600 * 1000LL)
#define RETRY_FIRST_MS      1000
#define RETRY_MAX_MS        60000
#define WAITING_MAX         1000 /* slots a timer keeps for retrying; the oldest goes first */

/* A slot whose commit failed, kept until a retry stores it. */
struct waiting {
    int64_t slot;
    int64_t fired; /* when it first fired: the event's fired_at */
};

struct timer {
    struct wr_schedule *sched;
    const struct wr_workflow *wf;
    struct event *ev;
    struct wr_cron cron;
    struct wr_tz *tz;        /* NULL = UTC */
    int64_t every_ms;        /* > 0 for `every:` */
    int64_t next_ms;         /* the slot the timer is set for */
    struct waiting *waiting; /* owned, oldest first */
    size_t nwaiting, waiting_cap;
    struct event *retry; /* submits waiting[0] again */
    int64_t backoff_ms;  /* the delay of the next retry */
    int64_t retry_slot;  /* the slot whose retry is in flight, or -1 */
    int64_t catch_up_ms; /* `catch_up`: how far back wr_schedule_begin looks */
};

/* One submission in flight: ingest's callback argument. */
struct firing {
    struct timer *t;
    int64_t slot;
    int64_t fired;
    bool retry; /* waiting[0] of t, submitted again */
};

struct wr_schedule {
    struct event_base *base;
    struct wr_ingest *ingest;
    struct timer *timers;
    size_t count;
    size_t pending;
};

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

static void fire_at(struct timer *t, int64_t slot, int64_t fired, bool retry);

/* Arms the retry of the oldest waiting slot in delay_ms, unless one is in flight or (unless
   sooner) already armed. */
static void retry_later(struct timer *t, int64_t delay_ms, bool sooner)
{
    if (t->retry_slot >= 0 || t->nwaiting == 0 || (!sooner && evtimer_pending(t->retry, NULL))) {
        return;
    }
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)((delay_ms % 1000) * 1000)};
    evtimer_del(t->retry);
    evtimer_add(t->retry, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct timer *t = arg;
    (void)fd;
    (void)what;
    if (t->nwaiting > 0 && t->retry_slot < 0) {
        fire_at(t, t->waiting[0].slot, t->waiting[0].fired, true);
    }
}

/* Keeps slot for retrying (once; the oldest is given up beyond WAITING_MAX). */
static void wait_slot(struct timer *t, int64_t slot, int64_t fired)
{
    for (size_t i = 0; i < t->nwaiting; i++) {
        if (t->waiting[i].slot == slot) {
            return;
        }
    }
    if (t->nwaiting == WAITING_MAX) {
        char when[32];
        iso(t->waiting[0].slot, when);
        wr_log(WR_LOG_ERROR, "a scheduled slot is given up: too many wait to be stored", "workflow",
               t->wf->name, "slot", when, NULL);
        memmove(t->waiting, t->waiting + 1, (t->nwaiting - 1) * sizeof(*t->waiting));
        t->nwaiting--;
    }
    if (t->nwaiting == t->waiting_cap) {
        t->waiting_cap = t->waiting_cap ? 2 * t->waiting_cap : 4;
        t->waiting = wr_xrealloc(t->waiting, t->waiting_cap * sizeof(*t->waiting));
    }
    t->waiting[t->nwaiting++] = (struct waiting){slot, fired};
}

/* Drops slot from the waiting list; true when it was there. */
static bool unwait(struct timer *t, int64_t slot)
{
    for (size_t i = 0; i < t->nwaiting; i++) {
        if (t->waiting[i].slot == slot) {
            memmove(t->waiting + i, t->waiting + i + 1,
                    (t->nwaiting - i - 1) * sizeof(*t->waiting));
            t->nwaiting--;
            return true;
        }
    }
    return false;
}

static void on_fired(void *arg, const struct wr_ingest_result *res)
{
    struct firing *f = arg;
    struct timer *t = f->t;
    char when[32];
    iso(f->slot, when);
    t->sched->pending--;
    if (f->retry && t->retry_slot == f->slot) {
        t->retry_slot = -1;
    }
    if (res->rc != 0) {
        if (!f->retry) {
            wr_log(WR_LOG_ERROR, "a scheduled event could not be stored; trying again until it is",
                   "workflow", t->wf->name, "slot", when, "error", res->error ? res->error : "",
                   NULL);
            wait_slot(t, f->slot, f->fired);
            t->backoff_ms = t->backoff_ms ? t->backoff_ms : RETRY_FIRST_MS;
        } else {
            wr_log(WR_LOG_DEBUG, "a scheduled event could not be stored again", "workflow",
                   t->wf->name, "slot", when, "error", res->error ? res->error : "", NULL);
            t->backoff_ms = t->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : t->backoff_ms * 2;
        }
        retry_later(t, t->backoff_ms, false);
        free(f);
        return;
    }
    if (unwait(t, f->slot)) {
        wr_log(WR_LOG_INFO, "a scheduled event was stored after its commit had failed", "workflow",
               t->wf->name, "slot", when, NULL);
    } else if (res->count == 1 && !res->items[0].duplicate) {
        wr_log(WR_LOG_DEBUG, "schedule fired", "workflow", t->wf->name, "event",
               res->items[0].event_id, NULL);
    }
    /* Commits succeed again: the next waiting slot goes now (on a later loop turn). */
    t->backoff_ms = RETRY_FIRST_MS;
    retry_later(t, 0, true);
    free(f);
}

/* Submits the event of slot (first fired at `fired`); retry: it is waiting[0] again. */
static void fire_at(struct timer *t, int64_t slot, int64_t fired, bool retry)
{
    char when[32], at[32];
    iso(slot, when);
    iso(fired, at);
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "scheduled_for", json_object_new_string(when));
    json_object_object_add(ev, "fired_at", json_object_new_string(at));
    json_object_object_add(ev, "workflow", json_object_new_string(t->wf->name));
    char *key = wr_xasprintf("schedule:%s:%s", t->wf->name, when);
    char *source = wr_xasprintf("schedule %s", t->wf->name);
    /* Scoped by the schedule (its workflow): the key names the slot. */
    struct wr_ingest_event e = {.event = ev, .key = key, .scope = source};
    const struct wr_workflow *cand = t->wf;
    struct firing *f = wr_xcalloc(1, sizeof(*f));
    *f = (struct firing){t, slot, fired, retry};
    if (wr_ingest_submit(t->sched->ingest, source, NULL, &cand, 1, &e, 1, on_fired, f) == 0) {
        t->sched->pending++;
        if (retry) {
            t->retry_slot = slot;
        }
    } else {
        /* The journal is stopping, and so is weir: a start's catch-up takes the slot. */
        free(f);
    }
    free(source);
    free(key);
    json_object_put(ev);
}

static void fire(struct timer *t, int64_t slot)
{
    fire_at(t, slot, wr_clock_wall_ms(), false);
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
    int64_t now = wr_clock_wall_ms();
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

struct wr_schedule *wr_schedule_build(struct event_base *base, struct wr_ingest *in,
                                      const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct wr_schedule *s = wr_xcalloc(1, sizeof(*s));
    s->base = base;
    s->ingest = in;
    s->timers = wr_xcalloc(set->count ? set->count : 1, sizeof(*s->timers));
    for (size_t i = 0; i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        struct json_object *v = NULL;
        char msg[WR_ERR_MAX];
        if (!wf->enabled || wf->trigger != &wr_trigger_schedule) {
            continue;
        }
        struct timer *t = &s->timers[s->count];
        memset(t, 0, sizeof(*t));
        t->sched = s;
        t->wf = wf;
        if (json_object_object_get_ex(wf->trigger_args, "every", &v)) {
            if (wr_duration_parse(json_object_get_string(v), &t->every_ms, msg, sizeof(msg))) {
                wr_errf_marked(err, errlen, "%s: every: %s", wf->name, msg);
                goto err;
            }
        } else {
            json_object_object_get_ex(wf->trigger_args, "cron", &v);
            if (wr_cron_parse(json_object_get_string(v), &t->cron, msg, sizeof(msg)) != 0) {
                wr_errf_marked(err, errlen, "%s: cron: %s", wf->name, msg);
                goto err;
            }
            if (json_object_object_get_ex(wf->trigger_args, "timezone", &v) &&
                !(t->tz = wr_tz_load(json_object_get_string(v), msg, sizeof(msg)))) {
                wr_errf_marked(err, errlen, "%s: timezone: %s", wf->name, msg);
                goto err;
            }
        }
        int64_t window = DEFAULT_CATCH_UP_MS;
        if (json_object_object_get_ex(wf->trigger_args, "catch_up", &v)) {
            wr_duration_parse(json_object_get_string(v), &window, msg, sizeof(msg));
        }
        t->ev = evtimer_new(base, on_timer, t);
        t->retry = evtimer_new(base, on_retry, t);
        t->retry_slot = -1;
        t->catch_up_ms = window;
        s->count++;
    }
    return s;
err:
    wr_schedule_free(s);
    return NULL;
}

void wr_schedule_begin(struct wr_schedule *s)
{
    int64_t now = wr_clock_wall_ms();
    for (size_t i = 0; i < s->count; i++) {
        catch_up(&s->timers[i], now, s->timers[i].catch_up_ms);
        arm(&s->timers[i], now);
    }
}

struct wr_schedule *wr_schedule_new(struct event_base *base, struct wr_ingest *in,
                                    const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct wr_schedule *s = wr_schedule_build(base, in, set, err, errlen);
    if (s) {
        wr_schedule_begin(s);
    }
    return s;
}

size_t wr_schedule_pending(const struct wr_schedule *s)
{
    return s ? s->pending : 0;
}

size_t wr_schedule_waiting(const struct wr_schedule *s)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->count; i++) {
        n += s->timers[i].nwaiting;
    }
    return n;
}

void wr_schedule_adopt(struct wr_schedule *to, struct wr_schedule *from)
{
    for (size_t i = 0; from && i < from->count; i++) {
        struct timer *old = &from->timers[i];
        for (size_t k = 0; k < to->count && old->nwaiting > 0; k++) {
            struct timer *t = &to->timers[k];
            if (strcmp(t->wf->name, old->wf->name) != 0) {
                continue;
            }
            for (size_t w = 0; w < old->nwaiting; w++) {
                wait_slot(t, old->waiting[w].slot, old->waiting[w].fired);
            }
            old->nwaiting = 0;
            t->backoff_ms = RETRY_FIRST_MS;
            retry_later(t, RETRY_FIRST_MS, false);
        }
    }
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
        if (s->timers[i].retry) {
            event_free(s->timers[i].retry);
        }
        free(s->timers[i].waiting);
        wr_tz_free(s->timers[i].tz);
    }
    free(s->timers);
    free(s);
}
