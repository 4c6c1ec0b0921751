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

enum wr_step_kind {
    WR_STEP_ACTION, /* action: NAME plus its arguments */
    WR_STEP_SCRIPT, /* script: PATH (a Lua mapping hook) */
    WR_STEP_WAIT,   /* wait: DURATION or wait_until: TEMPLATE */
};

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
    const char *when;               /* Lua expression or NULL */
    struct wr_retry retry;          /* the step's, else the workflow's, else defaults */
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
    struct wr_step *steps;
    size_t nsteps;
    struct wr_step *on_error;
    size_t non_error;
    struct wr_srcdoc *doc; /* owned: the parsed tree every borrowed pointer points into */
    struct wr_lua *lua;    /* owned: the sandbox its expressions and hooks are compiled in */
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

void wr_workflow_free(struct wr_workflow *wf);

/*
 * The key tables, for `weir help workflow`: the workflow file, the keys every step takes, and
 * the keys of the non-action step kinds ("script", "wait", "wait_until"; NULL otherwise).
 */
const struct wr_argspec *wr_workflow_spec(void);
const struct wr_argspec *wr_workflow_step_spec(void);
const struct wr_argspec *wr_workflow_step_kind_spec(const char *kind);

/*
 * Serialises the model (not the source text) as canonical JSON, owned. Two spellings of one
 * workflow — YAML and JSON — give equal strings. Used by tests and `weir validate --dump`.
 */
char *wr_workflow_to_json(const struct wr_workflow *wf);

#endif
