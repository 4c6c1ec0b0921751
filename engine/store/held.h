/*
 * held — the runs the guard holds (engine/exec/guard): listed for `weir held` and GET /api/held,
 * released or rejected by an admin (`weir release`, `weir reject`, POST /api/held/...).
 *
 * Like history's retry and cancel, a decision is one short write transaction on the caller's
 * connection (wr_db_begin for a write: SQLite's BEGIN IMMEDIATE, PostgreSQL's BEGIN with the
 * runs' rows locked FOR UPDATE), never the journal's writer thread; the executor acts on it at
 * its next look at the store. The same SQL serves both back ends (engine/store/db). Error codes
 * are history's (WR_HISTORY_E*).
 */
#ifndef WR_HELD_H
#define WR_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct wr_db;

/*
 * Lists the held runs, oldest first, into *out (owned): {"count": N, "runs": [{id, short_id,
 * workflow, created_at, held_at, reason, user, step: {idx, step_id, args}}]}, where user is the
 * held step's `user` argument (null without one) and step the step the run waits before. 0 or
 * WR_HISTORY_EDB with err.
 */
int wr_held_list(struct wr_db *db, struct json_object **out, char *err, size_t errlen);

/*
 * Releases (release true) or rejects the held runs ids (n of them, full ids, borrowed), or every
 * held run when all, in one transaction. Released: status queued, flagged so that the guard lets
 * its destructive steps pass without counting them; its held step back to pending. Rejected:
 * status cancelled with the error "rejected by NAME[: reason]" (by names who, e.g. "weir reject").
 * A run that is not held refuses the whole call (WR_HISTORY_ESTATE, err names it; nothing
 * changes); an unknown id WR_HISTORY_ENOTFOUND. *done (owned) receives the ids changed, as an
 * array. 0 or a WR_HISTORY_E* code.
 */
int wr_held_decide(struct wr_db *db, const char *const *ids, size_t n, bool all, bool release,
                   const char *by, const char *reason, int64_t now, struct json_object **done,
                   char *err, size_t errlen);

/*
 * The list (a wr_held_list result, borrowed) grouped by workflow, as `weir held --json` and GET
 * /api/held show it: {"count": N, "workflows": [{"workflow": W, "runs": [...]}]}, each run with
 * `destructive_steps` [{idx, step_id, action}] — the steps from the held one on that may take
 * something away, read from set (borrowed, may be NULL: none) — and its step's `action`. Owned.
 */
struct wr_workflow_set;
struct json_object *wr_held_group(struct json_object *list, const struct wr_workflow_set *set);

/* The number of held runs into *n: 0, or WR_HISTORY_EDB with err. */
int wr_held_count(struct wr_db *db, int64_t *n, char *err, size_t errlen);

#endif
