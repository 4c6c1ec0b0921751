/*
 * run — the run executor: carries queued runs out, step by step, durably.
 *
 * The executor finds runs that are due in the journal (queued, resumable after a crash, or
 * whose retry or wait time has come), loads their workflow and event, and executes the steps
 * in order: `when:` (a false one is recorded as skipped), templates rendered against `event`,
 * `steps.<id>` outputs, `run` and `vars`, then the action, hook or wait. Every state change
 * (step started, attempt failed, output, finished) is committed before the next effect, so a
 * `kill -9` at any point resumes correctly: the step that was executing runs again (actions
 * are idempotent in effect). Retriable failures are retried per `retry:` with the next attempt
 * time stored; waits sleep in the store, not in memory. A step that fails for good runs the
 * workflow's `on_error` steps (with `error` in scope) unless it has `continue_on_error`.
 * Runs with the same concurrency key execute one at a time, in arrival order.
 *
 * A run the daemon keeps crashing on is not resumed forever: one that was in progress at
 * max_crashes crashes in a row (no step finished in between) is parked as failed with the
 * reason (see run.c; `weir retry` runs it again). kill -9 and other stops that are not crashes
 * never count.
 */
#ifndef WR_RUN_H
#define WR_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "triggers/trigger.h"

struct event_base;
struct wr_journal;
struct wr_workflow_set;
struct wr_graph;
struct wr_directory;
struct wr_net_guard;
struct wr_workflow;
struct json_object;

struct wr_runner_options {
    int max_concurrent; /* runs in progress at once; 0 = 64 */
    int poll_ms;        /* how often the journal is checked for due runs; 0 = 200 */
    bool dry_run;       /* actions only read and plan; waits are not waited (`fire --dry-run`) */
    const struct wr_net_guard *net; /* http.allow for actions (borrowed, outlives the runner) */
    const char *mail_from;          /* mail.from for actions (borrowed, outlives it), or NULL */
    int max_crashes;                /* runs.max_crashes; 0 = 3 */
    int64_t lease_ms; /* runs.lease: a claim on a run holds this long unrenewed (several
                         instances on PostgreSQL); 0 = 30 s */
    /* The journal whose guard window and held runs the brake reads, when not the runner's own
       (a dry run reads the daemon's, read-only); NULL = state_path. */
    const char *guard_state;
};

struct wr_runner;

/*
 * Creates the executor. state_path is the journal's file (a reading connection is opened on
 * it); journal, set, graph and dir are borrowed and must outlive the runner. NULL + err.
 */
struct wr_runner *wr_runner_new(struct event_base *base, struct wr_journal *journal,
                                const char *state_path, const struct wr_workflow_set *set,
                                struct wr_graph *graph, struct wr_directory *dir,
                                const struct wr_runner_options *opts, char *err, size_t errlen);

/* {====== the gate: a trigger's last word before a run's first step ====== */

/*
 * Asked before the first step of every run that has none stored yet (not on a resume): wf and
 * event are borrowed until done is called. Returns false when it has nothing to check for wf
 * (the run starts at once, done never called), true when done will deliver the verdict.
 * The daemon passes its trigger set's gate (triggers/registry); the executor names no kind.
 */
typedef bool (*wr_run_gate_fn)(void *arg, const struct wr_workflow *wf, struct json_object *event,
                               wr_run_gate_done_fn done, void *token);

/*
 * Installs the mass-change brake (engine/exec/guard): limits (copied; .set false = none, unless
 * a workflow has its own guard:) and notify (borrowed, may be NULL: guard.notify's internal
 * workflow, started once each time the brake trips). Call before the first run starts.
 */
struct wr_guard_limits;
void wr_runner_set_guard(struct wr_runner *r, const struct wr_guard_limits *limits,
                         const struct wr_workflow *notify);

/*
 * Where approval links point: weir.yaml approvals.public_url (copied; NULL: links without a
 * host). The links' key: engine/store/approval_key, created on the first approval.
 */
void wr_runner_set_approvals(struct wr_runner *r, const char *public_url);

/* Installs the gate (fn and arg borrowed; NULL fn: none). */
void wr_runner_set_gate(struct wr_runner *r, wr_run_gate_fn fn, void *arg);

/* }====== */

/* Looks at every open run on the next loop turn (a retry, anything changed from outside). */
void wr_runner_kick(struct wr_runner *r);

/* New runs were stored: look for them on the next loop turn. arg is the runner. */
void wr_runner_notify(void *runner);

/* Stops starting runs; runs in progress go on to their next durable point. */
void wr_runner_stop(struct wr_runner *r);

/* Runs in progress in this process. */
size_t wr_runner_active(const struct wr_runner *r);

/*
 * Starts new runs on set (borrowed) from now on, after a reload. Runs already in memory keep
 * the workflows they started with, so the previous set must stay alive until
 * wr_runner_set_users() says no run uses it any more.
 */
void wr_runner_set_workflows(struct wr_runner *r, const struct wr_workflow_set *set);

/* Runs in memory that started on set (0 for a set the runner never used). NULL r gives 0. */
size_t wr_runner_set_users(const struct wr_runner *r, const struct wr_workflow_set *set);

/*
 * Makes a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) leave "<state>.crashed"
 * before the process dies of it (on an alternate stack), so that the next runner knows its
 * crash counts are true; a runner that finds the file removes it. Process-wide and for the
 * daemon only: call once after wr_runner_new. Returns 0, or -1 when the handlers cannot be set.
 */
int wr_runner_arm_crash_marker(const struct wr_runner *r);

/* Frees the runner. Call it when wr_runner_active() is 0. NULL is fine. */
void wr_runner_free(struct wr_runner *r);

#endif
