/*
 * poll — one round per workflow every `every`; see poll.h.
 */
#include "triggers/poll.h"

#include <event2/event.h>
#include <stdlib.h>

#include "engine/base/clock.h"
#include "engine/base/metrics.h"
#include "engine/base/strutil.h"

struct wr_poll {
    struct event_base *base;
    const char *kind;
    char *workflow;
    int64_t every_ms;
    wr_poll_round_fn round;
    void *arg;
    struct event *timer;
    bool running, stopped;
    int64_t started_mono; /* when the running (or last) round began */
    uint64_t rounds;
};

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct wr_poll *p = arg;
    (void)fd;
    (void)what;
    if (p->running || p->stopped) {
        return;
    }
    p->running = true;
    p->started_mono = wr_clock_mono_ms();
    p->round(p->arg);
}

static void arm(struct wr_poll *p, int64_t ms)
{
    if (ms < 0) {
        ms = 0;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(p->timer, &tv);
}

struct wr_poll *wr_poll_new(struct event_base *base, const char *kind, const char *workflow,
                            int64_t every_ms, wr_poll_round_fn round, void *arg)
{
    struct wr_poll *p = wr_xcalloc(1, sizeof(*p));
    p->base = base;
    p->kind = kind;
    p->workflow = wr_xstrdup(workflow);
    p->every_ms = every_ms > 0 ? every_ms : 1;
    p->round = round;
    p->arg = arg;
    p->timer = evtimer_new(base, on_timer, p);
    return p;
}

void wr_poll_begin(struct wr_poll *p)
{
    arm(p, 0);
}

void wr_poll_now(struct wr_poll *p)
{
    if (!p->running && !p->stopped) {
        arm(p, 0);
    }
}

void wr_poll_ended(struct wr_poll *p, bool ok, int pages, const char *error)
{
    if (!p->running) {
        return;
    }
    p->running = false;
    p->rounds++;
    wr_metrics_poll(p->kind, p->workflow, ok, pages > 0 ? (uint64_t)pages : 0,
                    wr_clock_mono_ms() - p->started_mono, wr_clock_wall_ms(), error);
    if (!p->stopped) {
        arm(p, p->started_mono + p->every_ms - wr_clock_mono_ms());
    }
}

void wr_poll_set_pending(struct wr_poll *p, uint64_t n)
{
    wr_metrics_poll_pending(p->kind, p->workflow, n);
}

bool wr_poll_running(const struct wr_poll *p)
{
    return p->running;
}

uint64_t wr_poll_rounds(const struct wr_poll *p)
{
    return p->rounds;
}

void wr_poll_stop(struct wr_poll *p)
{
    p->stopped = true;
    evtimer_del(p->timer);
}

void wr_poll_free(struct wr_poll *p, bool forget)
{
    if (!p) {
        return;
    }
    if (forget) {
        wr_metrics_poll_forget(p->kind, p->workflow);
    }
    event_free(p->timer);
    free(p->workflow);
    free(p);
}
