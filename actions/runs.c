/*
 * runs — cancel-runs: cancels the pending or waiting runs of a workflow for one subject (its
 * concurrency key), e.g. the 30-day wait before a leaver's delete-user when HR rescinds the
 * termination. The runs are weir's own, in its journal: the action asks the engine
 * (wr_action_cancel_keyed_runs, actions/action.h) and never talks to Graph.
 */
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "engine/base/strutil.h"

static const struct wr_argspec cancel_runs_args[] = {
    {.name = "workflow",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "the name of the workflow whose runs are cancelled"},
    {.name = "key",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "their concurrency_key value (e.g. the user's id, as that workflow renders it)"},
    {.name = "reason",
     .type = WR_ARG_STRING,
     .help = "why, stored as the cancelled runs' error (default: cancelled by cancel-runs)"},
    {.name = "undo",
     .type = WR_ARG_BOOL,
     .help = "also put back what the cancelled runs' finished steps changed (a rescinded "
             "termination: re-enable, re-add licences, groups, roles), each as a run of "
             "weir.undo, as `weir undo --yes` would; default false"},
    {0},
};

/* The reason an undo cannot bring the runs back. */
#define UNDO_IMPOSSIBLE                                                                            \
    "cancelled runs are not resumed by an undo: a cancelled run cannot be queued again (weir "     \
    "retry takes failed runs only); fire the workflow's event again instead"

struct cancel_op {
    struct wr_action_ctx *ctx;
};

static void cancelled(void *arg, const struct wr_action_cancelled *r)
{
    struct cancel_op *op = arg;
    if (!r->ok) {
        wr_action_fail(op->ctx, NULL, r->retriable, "cancel-runs: %s", r->error);
        return;
    }
    bool dry = wr_action_dry_run(op->ctx);
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "workflow",
                           json_object_new_string(wr_action_arg_str(op->ctx, "workflow")));
    json_object_object_add(out, "key", json_object_new_string(wr_action_arg_str(op->ctx, "key")));
    json_object_object_add(out, dry ? "would_cancel" : "cancelled", json_object_get(r->ids));
    if (r->undos) {
        json_object_object_add(out, "undone", json_object_get(r->undos));
    }
    json_object_object_add(out, "changed",
                           json_object_new_boolean(!dry && json_object_array_length(r->ids) > 0));
    if (!dry && json_object_array_length(r->ids) > 0) {
        json_object_object_add(out, "undo_impossible", json_object_new_string(UNDO_IMPOSSIBLE));
    } else {
        json_object_object_add(out, "undo", json_object_new_array());
    }
    wr_action_succeed(op->ctx, out);
}

static void cancel_runs_run(struct wr_action_ctx *ctx)
{
    struct cancel_op *op = wr_action_state(ctx, sizeof(*op), NULL);
    op->ctx = ctx;
    const char *workflow = wr_action_arg_str(ctx, "workflow");
    const char *key = wr_action_arg_str(ctx, "key");
    const char *why = wr_action_arg_str(ctx, "reason");
    if (!workflow || !*workflow || !key || !*key) {
        wr_action_fail(ctx, NULL, false,
                       "cancel-runs: workflow and key must be non-empty (key rendered empty: the "
                       "runs of no subject would be cancelled)");
        return;
    }
    char *reason = why && *why ? wr_xasprintf("cancelled by cancel-runs: %s", why)
                               : wr_xstrdup("cancelled by cancel-runs");
    struct json_object *u = json_object_object_get(wr_action_args(ctx), "undo");
    bool undo = u && json_object_get_boolean(u);
    if (wr_action_cancel_keyed_runs(ctx, workflow, key, reason, undo, cancelled, op) != 0) {
        wr_action_fail(ctx, NULL, false,
                       "cancel-runs runs only inside a workflow run (no run store here)");
    }
    free(reason);
}

const struct wr_action wr_action_cancel_runs = {
    .name = "cancel-runs",
    .summary = "cancel a workflow's queued, waiting, retrying or held runs of one concurrency key "
               "(not this run, nor one executing a step)",
    .args = cancel_runs_args,
    .execute = cancel_runs_run,
    .destructive = WR_DESTRUCTIVE_NO,
    .destructive_note = "it stops weir's own runs and takes nothing from a user",
};
