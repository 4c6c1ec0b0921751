/*
 * metrics — weir's in-process counters for /metrics: events received, runs finished and step
 * durations, kept by the modules that see them happen and printed in Prometheus text format.
 *
 * Every function runs on the loop thread (no locking). Series are created on first use and
 * live until wr_metrics_clear(). Figures other modules already keep (the journal's commit
 * statistics, the Graph client's, runs by state in the store) are not copied here: the admin
 * API reads them at scrape time. This module does not serve HTTP.
 */
#ifndef WR_METRICS_H
#define WR_METRICS_H

#include <stdbool.h>
#include <stdint.h>

struct wr_buf;

/*
 * Counts n events of one trigger kind (its name in triggers/triggers.def) by outcome:
 * "accepted" (stored, runs started), "unmatched" (stored, no workflow wanted it),
 * "duplicate" (seen before), "rejected" (bad request), "failed" (could not be stored).
 */
void wr_metrics_event(const char *trigger, const char *outcome, uint64_t n);

/* Counts a run that ended with status (succeeded, failed, ...) for workflow. */
void wr_metrics_run_finished(const char *workflow, const char *status);

/* Counts a trip of the mass-change brake (engine/exec/guard): a run held while none was. */
void wr_metrics_guard_trip(void);

/* Records one step attempt's duration in the histogram of (workflow, action). */
void wr_metrics_step(const char *workflow, const char *action, double seconds);

/*
 * Records one round of a polling trigger (trigger kind, workflow): ok or failed, the Graph pages
 * it read, how long it took (ms), when it ended (Unix ms) and, failed, why (copied; for
 * /readyz's detail). Polls that never ran have no series.
 */
void wr_metrics_poll(const char *trigger, const char *workflow, bool ok, uint64_t pages,
                     int64_t took_ms, int64_t at_ms, const char *error);

/* Sets the users a polling trigger knows and has not fired for yet (due later). */
void wr_metrics_poll_pending(const char *trigger, const char *workflow, uint64_t n);

/* Forgets a polling trigger's series (its workflow was removed by a reload). */
void wr_metrics_poll_forget(const char *trigger, const char *workflow);

/* Calls fn for every polling trigger that has ended a round, newest series first: its last
   round's outcome, when the last good one ended (Unix ms, 0: none yet) and the last error. */
void wr_metrics_poll_each(void (*fn)(void *arg, const char *trigger, const char *workflow, bool ok,
                                     int64_t last_ok_ms, const char *error),
                          void *arg);

/* A polling trigger's last round, as wr_metrics_poll recorded it. */
struct wr_metrics_poll_state {
    bool ok;            /* the last round succeeded */
    int64_t last_at_ms; /* when the last round ended (Unix ms) */
    int64_t last_ok_ms; /* when the last good one ended, 0: none yet */
    const char *error;  /* the last round's error (borrowed until the next round), or NULL */
};

/* The last round of (trigger kind, workflow) into *out: true, or false (out zeroed) when no
   round of it has ended. */
bool wr_metrics_poll_get(const char *trigger, const char *workflow,
                         struct wr_metrics_poll_state *out);

/*
 * Appends the families above to b in Prometheus text format 0.0.4 (`# HELP`, `# TYPE`, then
 * the samples; label values escaped). Families without samples still get their HELP/TYPE.
 */
void wr_metrics_format(struct wr_buf *b);

/* Appends a family's `# HELP name help` and `# TYPE name type` lines (help needs no escapes). */
void wr_metrics_family(struct wr_buf *b, const char *name, const char *type, const char *help);

/* Appends `name{labels} value` with each label value escaped; labels is k1, v1, ..., NULL. */
void wr_metrics_sample(struct wr_buf *b, const char *name, double value, ...)
    __attribute__((sentinel));

/* Forgets every series (at exit, and between tests). */
void wr_metrics_clear(void);

#endif
