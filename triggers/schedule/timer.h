/*
 * schedule_timer — the schedule trigger at run time: one libevent timer per scheduled
 * workflow.
 *
 * Slots are computed, not counted: a cron expression's next time in the workflow's zone, or
 * for `every:` the next multiple of the interval since the Unix epoch. Each firing is an
 * event {"scheduled_for", "fired_at"} whose idempotency key is the workflow and the slot, so
 * a slot is stored once however often weir restarts; at start the latest slot missed while
 * weir was down fires once if it lies within `catch_up` (default 1h).
 *
 * A slot whose commit fails (the journal failing: disk full, file removed) is not lost: it
 * waits and is submitted again, after 1 s doubling to 1 min, until it is stored or weir stops
 * (then a start's catch-up fires the latest slot if within `catch_up`). The key makes a retry
 * harmless. At most 1000 slots wait per schedule; beyond, the oldest is given up (logged).
 */
#ifndef WR_SCHEDULE_TIMER_H
#define WR_SCHEDULE_TIMER_H

#include <stddef.h>

struct event_base;
struct wr_ingest;
struct wr_trigger_kind;
struct wr_workflow_set;

struct wr_schedule;

/* The schedule trigger's descriptor (triggers/schedule/schedule.c). */
extern const struct wr_trigger_kind wr_trigger_schedule;

/* Starts timers for the enabled schedule workflows of set (borrowed). NULL + err on error.
   Catch-up slots are submitted during the call. Same as build, then begin. */
struct wr_schedule *wr_schedule_new(struct event_base *base, struct wr_ingest *in,
                                    const struct wr_workflow_set *set, char *err, size_t errlen);

/*
 * Makes the timers of wr_schedule_new without submitting or arming anything: until
 * wr_schedule_begin, nothing points into the schedule, so freeing it is always safe (a reload
 * builds first and begins only once every trigger kind is ready to switch).
 */
struct wr_schedule *wr_schedule_build(struct event_base *base, struct wr_ingest *in,
                                      const struct wr_workflow_set *set, char *err, size_t errlen);

/* Fires each timer's catch-up slot and arms it, timer by timer, as wr_schedule_new does. */
void wr_schedule_begin(struct wr_schedule *s);

/* Firings whose commit has not come back yet (their callbacks point into s). */
size_t wr_schedule_pending(const struct wr_schedule *s);

/* Slots whose commit failed and that wait to be submitted again (none is in flight). */
size_t wr_schedule_waiting(const struct wr_schedule *s);

/*
 * Moves the slots waiting in from (reload: the schedule being replaced; NULL is fine) to the
 * timers of to's workflows of the same names; slots of a workflow to has no schedule for are
 * dropped with from. Call it when wr_schedule_pending(from) is 0, before freeing from.
 */
void wr_schedule_adopt(struct wr_schedule *to, struct wr_schedule *from);

/* Stops every timer; waiting slots are dropped. Firings in flight get no more attention:
   drain first. NULL is fine. */
void wr_schedule_free(struct wr_schedule *s);

#endif
