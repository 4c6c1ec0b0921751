/*
 * workflow — the typed, immutable model of one workflow file, and its loader.
 *
 * A workflow file (YAML or JSON, one workflow per file) is parsed into a srcdoc, checked
 * against the workflow schema (top-level keys, trigger, steps, retry, on_error) and the action
 * and trigger descriptors, and turned into a struct wr_workflow. Every error names
 * file:line:column and the key path. After loading nothing in the model changes: runs that
 * started on one version keep reading it while a reload builds the next. Cross-file rules
 * (unique names, shared webhook paths) live in workflow_set, not here.
 */
#ifndef WR_WORKFLOW_H
#define WR_WORKFLOW_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/action.h"
#include "engine/base/diag.h"
#include "engine/base/srcdoc.h"
#include "triggers/trigger.h"

struct wr_lua;

/* Backoff for retriable failures. Unset fields take the defaults below. */
struct wr_retry {
    int attempts;       /* total attempts including the first, >= 1 */
    int64_t initial_ms; /* first backoff */
    int64_t max_ms;     /* backoff ceiling */
    /* How long a step may wait out Graph throttling (429, 503 with Retry-After) in all.
       Throttled attempts never count against `attempts`; past this the step fails. */
    int64_t throttle_limit_ms;
};

#define WR_RETRY_DEFAULT_ATTEMPTS    5
#define WR_RETRY_DEFAULT_INITIAL_MS  2000
#define WR_RETRY_DEFAULT_MAX_MS      (10 * 60 * 1000)
#define WR_RETRY_DEFAULT_THROTTLE_MS (6LL * 3600 * 1000)

/* guard.destructive: the mass-change brake's limits (engine/exec/guard), in weir.yaml and, as an
   override, in a workflow file. */
struct wr_guard_limits {
    bool set;          /* given (a workflow without its own takes weir.yaml's) */
    int64_t max;       /* distinct users per window; 0 = no such limit */
    double percent;    /* of the tenant's users per window; 0 = no such limit */
    int64_t window_ms; /* the sliding window; default WR_GUARD_DEFAULT_WINDOW_MS */
};

#define WR_GUARD_DEFAULT_WINDOW_MS (3600LL * 1000)
#define WR_GUARD_MAX_WINDOW_MS     (30LL * 24 * 3600 * 1000)

enum wr_step_kind {
    WR_STEP_ACTION, /* action: NAME plus its arguments */
    WR_STEP_SCRIPT, /* script: PATH (a Lua mapping hook) */
    WR_STEP_WAIT,   /* wait: DURATION or wait_until: TEMPLATE */
    /* approval: one step in the file, three kinds of step in the model, in this order: the
       request (stores it, one link per approver), the approval's notify: steps (ordinary
       steps with `approval` in scope), and the wait for the decision (the file's id). */
    WR_STEP_APPROVAL,
    WR_STEP_APPROVAL_WAIT,
};

/* No approval: wr_step.approval of a step outside one. */
#define WR_NO_APPROVAL ((size_t)-1)

struct wr_step {
    enum wr_step_kind kind;
    const char *id;                 /* borrowed from the document; NULL when the step has none */
    const char *name;               /* optional human label */
    const char *path;               /* key path, e.g. "steps[2]"; owned by the workflow */
    struct wr_pos pos;              /* where the step starts */
    const struct wr_action *action; /* WR_STEP_ACTION */
    struct json_object *args;       /* WR_STEP_ACTION: the step mapping (borrowed) */
    char *script;                   /* WR_STEP_SCRIPT: resolved path (owned) */
    const char *function;           /* WR_STEP_SCRIPT: default "map" */
    int hook;                       /* WR_STEP_SCRIPT: handle in the workflow's Lua state */
    int64_t wait_ms;                /* WR_STEP_WAIT with wait: */
    const char *wait_until;         /* WR_STEP_WAIT with wait_until: (a template) */
    /* WR_STEP_APPROVAL: the `approval:` mapping (borrowed): approvers, message, timeout */
    struct json_object *approval_args;
    int64_t timeout_ms; /* WR_STEP_APPROVAL: how long a decision may take */
    /* The index (in the same list) of the request this step belongs to: the request itself,
       its notify steps, its wait; WR_NO_APPROVAL otherwise. */
    size_t approval;
    const char *when;      /* Lua expression or NULL */
    struct wr_retry retry; /* the step's, else the workflow's, else defaults */
    bool continue_on_error;
};

struct wr_workflow {
    const char *name;
    const char *description;
    bool enabled;
    char *file;    /* owned: the path it was loaded from */
    char hash[65]; /* SHA-256 of the file's bytes, hex */
    const struct wr_trigger_kind *trigger;
    struct json_object *trigger_args; /* borrowed from doc */
    const char *when;
    const char *concurrency_key;
    struct json_object *vars; /* borrowed; may be NULL */
    struct wr_retry retry;
    struct wr_guard_limits guard; /* `guard.destructive:` of the file; .set false without one */
    struct wr_step *steps;
    size_t nsteps;
    struct wr_step *on_error;
    size_t non_error;
    struct wr_srcdoc *doc; /* the parsed tree every borrowed pointer points into: owned, unless
                              doc_borrowed (an internal workflow inside weir.yaml) */
    bool doc_borrowed;
    struct wr_lua *lua; /* owned: the sandbox its expressions and hooks are compiled in */
};

/*
 * Loads one workflow file. base_dir resolves relative `script:` paths (the directory of
 * weir.yaml, or "." without one). The workflow gets its own Lua sandbox (weir.env() may read
 * the variables in env_allow, NULL-terminated, may be NULL): every expression and template is
 * compiled in it and every hook script loaded (its top level runs, under the hook budget, and
 * its function must exist). On success returns 0 and an owned workflow in *out; on failure
 * returns -1 with every error found added to d and *out NULL.
 */
int wr_workflow_load(const char *file, const char *base_dir, const char *const *env_allow,
                     struct wr_workflow **out, struct wr_diags *d);

/* The same from a buffer already in memory; `file` names it in messages. */
int wr_workflow_parse(const char *file, const char *buf, size_t len, const char *base_dir,
                      const char *const *env_allow, struct wr_workflow **out, struct wr_diags *d);

/*
 * Builds an internal workflow called name from a list of steps inside another document (weir.yaml's
 * guard.notify): the steps are checked as a workflow file's are, every error at doc's file:line:col
 * under path ("guard.notify[0].url"), and compiled in a new Lua sandbox; it has no trigger and
 * runs only when weir starts it. doc is borrowed and must outlive the workflow. 0 and an owned
 * workflow in *out, or -1 with the errors added to d.
 */
int wr_workflow_from_steps(const char *name, struct wr_srcdoc *doc, struct json_object *steps,
                           const char *path, const char *base_dir, const char *const *env_allow,
                           struct wr_workflow **out, struct wr_diags *d);

void wr_workflow_free(struct wr_workflow *wf);

/*
 * The key tables, for `weir help workflow`: the workflow file, the keys every step takes, and
 * the keys of the non-action step kinds ("script", "wait", "wait_until"; NULL otherwise).
 */
const struct wr_argspec *wr_workflow_spec(void);
const struct wr_argspec *wr_workflow_step_spec(void);
const struct wr_argspec *wr_workflow_step_kind_spec(const char *kind);

/*
 * The keys that decide what a step is ("action", "script", "wait", "wait_until", "approval"),
 * NULL-terminated, static: a step holds exactly one of them. For `weir schema`.
 */
const char *const *wr_workflow_step_kinds(void);

/*
 * The `guard:` mapping of a workflow file (destructive only) and its `destructive:` fields, for
 * weir.yaml's `guard:` (engine/config) too: one table, one reading.
 */
const struct wr_argspec *wr_workflow_guard_spec(void);
const struct wr_argspec *wr_guard_destructive_spec(void);

/* Checks what the table cannot (percent a number in (0, 100], at least one limit) under path. */
void wr_guard_check(struct wr_check *c, struct json_object *destructive, const char *path);

/* The limits of a checked `destructive:` mapping (borrowed; NULL gives .set false). */
struct wr_guard_limits wr_guard_limits_read(struct json_object *destructive);

/*
 * Serialises the model (not the source text) as canonical JSON, owned. Two spellings of one
 * workflow — YAML and JSON — give equal strings. Used by tests and `weir validate --dump`.
 */
char *wr_workflow_to_json(const struct wr_workflow *wf);

#endif
