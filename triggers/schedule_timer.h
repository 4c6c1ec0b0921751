/*
 * schedule_timer — the schedule trigger at run time: one libevent timer per scheduled
 * workflow.
 *
 * Slots are computed, not counted: a cron expression's next time in the workflow's zone, or
 * for `every:` the next multiple of the interval since the Unix epoch. Each firing is an
 * event {"scheduled_for", "fired_at"} whose idempotency key is the workflow and the slot, so
 * a slot is stored once however often weir restarts; at start the latest slot missed while
 * weir was down fires once if it lies within `catch_up` (default 1h).
 */
#ifndef WR_SCHEDULE_TIMER_H
#define WR_SCHEDULE_TIMER_H

#include <stddef.h>

struct event_base;
struct wr_ingest;
struct wr_workflow_set;

struct wr_schedule;

/* Starts timers for the enabled schedule workflows of set (borrowed). NULL + err on error. */
struct wr_schedule *wr_schedule_new(struct event_base *base, struct wr_ingest *in,
                                    const struct wr_workflow_set *set, char *err, size_t errlen);

/* Firings whose commit has not come back yet. */
size_t wr_schedule_pending(const struct wr_schedule *s);

/* Stops every timer. Firings in flight get no more attention: drain first. NULL is fine. */
void wr_schedule_free(struct wr_schedule *s);

#endif
