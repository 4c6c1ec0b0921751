/*
 * action_run — runs one action of one step: the context behind the wr_action_* calls in
 * actions/action.h.
 *
 * The run executor (and `weir action`, and the tests) call wr_action_start with the rendered
 * arguments; the action runs on the event loop and the outcome arrives through a callback on
 * a later loop turn: success with the action's output, or an error that says what Graph
 * answered and whether a later retry may succeed. In a dry run the outcome also carries the
 * plan: every mutation the action would have sent.
 */
#ifndef WR_ACTION_RUN_H
#define WR_ACTION_RUN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "actions/action.h"

struct event_base;
struct wr_net_guard;
struct wr_journal;
struct wr_runstate;
struct wr_workflow_set;

struct wr_action_env {
    struct event_base *base;
    struct wr_graph *graph; /* read_only in a dry run, as a second guard */
    struct wr_directory *dir;
    bool dry_run;
    /* weir.yaml http.allow (borrowed, outlives the action); NULL = an empty allow list */
    const struct wr_net_guard *net;
    /* cancel-runs (wr_action_cancel_keyed_runs); all NULL: this context cannot cancel runs */
    const char *run_id;         /* the run the step belongs to (never cancelled by it) */
    struct wr_journal *journal; /* where the cancellations are committed (not in a dry run) */
    struct wr_runstate *runs;   /* where runs are read: the runner's connection, or in a
                                   dry run the daemon's store (read only), or NULL */
    const struct wr_workflow_set *workflows; /* the loaded workflows, for the name check;
                                                NULL: not checked (a dry run's) */
    const char *mail_from; /* weir.yaml mail.from (borrowed, outlives the action), or NULL */
    /* the directory of the step's workflow file (borrowed during wr_action_start, which copies
       it), or NULL: wr_action_workflow_dir */
    const char *workflow_dir;
};

struct wr_action_outcome {
    bool ok;
    bool retriable; /* on failure: a later retry may succeed */
    /* On success: the action's output (borrowed during the call). In a real run it also holds
       "graph": the Graph requests the action made, [{"method", "path", "status", "request_id",
       "client_request_id"}], at most WR_GRAPH_TRACE_MAX (the first and the last half, with
       "graph_omitted": N when more were made); absent when it made none, and in a dry run. */
    struct json_object *output;
    const char *error; /* on failure: one line, with Graph's status, code and message */
    /* On failure: Graph throttled the request (429, or 503 with Retry-After) after the
       client's own retries, or another service did (wr_action_fail_throttled). The executor
       waits it out without counting an attempt. */
    bool throttled;
    int64_t retry_after_ms; /* throttled: the last Retry-After Graph sent (ms), or 0 */
    /* throttled: who throttled it (wr_action_fail_throttled's service, borrowed during the
       call), or NULL when it was Graph */
    const char *throttled_by;
    struct json_object *plan; /* dry run: [{"method","path","body"}...] (borrowed); else NULL */
    /* On failure: replica lag (wr_action_fail_lag): retriable with doubling backoff beyond
       retry.attempts; the action stops calling it lag when the directory's window ends. */
    bool replica_lag;
};

typedef void (*wr_action_done_fn)(void *arg, const struct wr_action_outcome *out);

/*
 * Starts `action` with rendered args (borrowed; a reference is taken). `done` is called once,
 * on a later loop turn. Returns 0, or -1 when the action has no execute (then done is not
 * called).
 */
int wr_action_start(const struct wr_action_env *env, const struct wr_action *action,
                    struct json_object *args, wr_action_done_fn done, void *arg);

#endif
