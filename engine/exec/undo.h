/*
 * undo — the reverse of a finished run, from what its steps recorded.
 *
 * Every action that changes state puts in its step output the reverse steps that put back what it
 * changed (`undo`: step mappings with object ids, `[]` when it changed nothing), and why what it
 * cannot put back cannot be (`undo_impossible`: alone, nothing can; beside `undo`, a part). The
 * plan walks a run's succeeded steps from last to first and joins their reverse steps. A deleted
 * user is restored first (the last change is undone first) and comes back with the memberships,
 * roles and licences it had when it was deleted (Entra's "recover from deletions"): delete-user's
 * reverse is the restore alone, never re-adds; what earlier steps removed is re-added by their
 * own reverse steps.
 * The plan runs as a new run of a generated workflow (WR_UNDO_WORKFLOW) through the same
 * executor: durable, retried, guarded, in history as "undo of run_…". Each reverse step
 * continues on error, so one refusal does not hide the rest. Undoing twice writes nothing the
 * second time: every reverse step reads, compares and writes only what differs.
 */
#ifndef WR_UNDO_H
#define WR_UNDO_H

#include <json-c/json.h>

#include "engine/base/diag.h"

struct wr_workflow;

/* The generated workflow's name: no workflow file can take it (names have no dot). */
#define WR_UNDO_WORKFLOW "weir.undo"

/*
 * The reverse plan of run (a wr_history_show() object, annotated or not; borrowed), owned:
 * {"undo_of": RUN, "workflow": W, "steps": [step mappings], "impossible": [{step, action, why}],
 * "unrecorded": [{step, action}]}: `unrecorded` are steps
 * whose output says nothing about undo (an older version, or an action that records nothing).
 */
struct json_object *wr_undo_plan(struct json_object *run);

/*
 * The workflow that carries out plan's steps (plan borrowed; its steps are copied into the
 * workflow's own document), named WR_UNDO_WORKFLOW, with no trigger; env_allow as for workflow
 * files. 0 and an owned workflow, or -1 with the loader's errors in d (a reverse step that does
 * not validate).
 */
int wr_undo_workflow(struct json_object *plan, const char *const *env_allow,
                     struct wr_workflow **out, struct wr_diags *d);

#endif
