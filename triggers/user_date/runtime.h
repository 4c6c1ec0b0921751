/*
 * runtime — the user-date trigger at run time: one poll per workflow (triggers/poll), the users
 * due later, what already fired, and the re-check before a run starts.
 *
 * A round reads every user whose date can make a run due between `catch_up` ago and the next
 * round (one advanced query over the value window; triggers/user_date/due). Users due now
 * fire in one ingest batch; users due later are remembered with their event and fire at their
 * due time from one timer (the earliest due). What fired ("fired:<user id>" → the date and its
 * due time) and what waits ("due:<user id>" → the date, due time and event) is kept in the
 * journal's trigger_state under "user-date <workflow>", committed with the runs it starts, and
 * read back at start: across restarts and kill -9 a user fires once per date, and a user due
 * while weir was down fires on start if still within `catch_up`. A user that leaves the window
 * (its date moved, the filter no longer holds) is forgotten; a fired entry is dropped once its
 * due time is a day older than the window.
 *
 * The gate (before a run's first step) re-reads the user: a date that moved or a filter that no
 * longer holds ends the run `cancelled` with the reason; Graph unreachable: the run waits.
 */
#ifndef WR_USER_DATE_RUNTIME_H
#define WR_USER_DATE_RUNTIME_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "triggers/trigger.h"

/* The start and gate slots of the descriptor (triggers/user_date/user_date.c; the runtime is a
   triggers/watchset, whose wr_watchset_slot_* are the other slots); see triggers/trigger.h. */
void *wr_user_date_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                         char *err, size_t errlen);
bool wr_user_date_gate(void *rt, const struct wr_workflow *wf, struct json_object *event,
                       wr_run_gate_done_fn done, void *token);

/*
 * The next_due slot: the earliest due time among the users of wf waiting in the journal
 * (state_path, read only; "due:<user id>" under "user-date <workflow>"), or -1 when none waits
 * or state_path is NULL or unreadable. A due time already past (the timer fires it now) counts:
 * it is the next run. now_ms is not needed: what waits is due when it says.
 */
int64_t wr_user_date_next_due(const struct wr_workflow *wf, const char *state_path, int64_t now_ms);

#endif
