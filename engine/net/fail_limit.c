/*
 * fail_limit — failed sign-ins per client address; see fail_limit.h.
 */
#include "engine/net/fail_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"

struct slot {
    char addr[64];     /* "" when free */
    int failures;      /* within the window that began at since */
    int64_t since;     /* the window's first failure */
    int64_t until;     /* refused until then (0: not refused) */
    int64_t last_seen; /* for eviction: the least recently failing goes first */
};

struct wr_fail_limit {
    int max;
    int64_t window_ms;
    wr_clock_fn clock;
    void *clock_arg;
    struct slot slots[WR_FAIL_LIMIT_SLOTS];
};

static int64_t mono(void *arg)
{
    (void)arg;
    return wr_clock_mono_ms();
}

struct wr_fail_limit *wr_fail_limit_new(int max, int64_t window_ms, wr_clock_fn clock,
                                        void *clock_arg)
{
    struct wr_fail_limit *l = wr_xcalloc(1, sizeof(*l));
    l->max = max > 0 ? max : 1;
    l->window_ms = window_ms > 0 ? window_ms : 1;
    l->clock = clock ? clock : mono;
    l->clock_arg = clock_arg;
    return l;
}

void wr_fail_limit_free(struct wr_fail_limit *l)
{
    free(l);
}

static struct slot *find(struct wr_fail_limit *l, const char *addr)
{
    for (size_t i = 0; i < WR_FAIL_LIMIT_SLOTS; i++) {
        if (l->slots[i].addr[0] && strcmp(l->slots[i].addr, addr) == 0) {
            return &l->slots[i];
        }
    }
    return NULL;
}

bool wr_fail_limit_blocked(struct wr_fail_limit *l, const char *addr, int64_t *retry_ms)
{
    struct slot *s = find(l, addr);
    int64_t now = l->clock(l->clock_arg);
    *retry_ms = 0;
    if (!s || s->until <= now) {
        return false;
    }
    *retry_ms = s->until - now;
    return true;
}

bool wr_fail_limit_fail(struct wr_fail_limit *l, const char *addr)
{
    int64_t now = l->clock(l->clock_arg);
    struct slot *s = find(l, addr);
    if (!s) { /* a free slot, else the one that failed least recently */
        s = &l->slots[0];
        for (size_t i = 0; i < WR_FAIL_LIMIT_SLOTS && s->addr[0]; i++) {
            if (!l->slots[i].addr[0] || l->slots[i].last_seen < s->last_seen) {
                s = &l->slots[i];
            }
        }
        memset(s, 0, sizeof(*s));
        snprintf(s->addr, sizeof(s->addr), "%s", addr);
    }
    s->last_seen = now;
    if (s->until > now) {
        return false; /* already refused: said once */
    }
    if (s->failures == 0 || now - s->since >= l->window_ms) {
        s->failures = 0;
        s->since = now;
        s->until = 0;
    }
    if (++s->failures < l->max) {
        return false;
    }
    s->until = now + l->window_ms;
    s->failures = 0;
    return true;
}
