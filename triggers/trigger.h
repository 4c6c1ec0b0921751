/*
 * trigger — the descriptor every trigger kind exports, and the registry that lists them.
 *
 * A workflow's `trigger:` mapping holds exactly one key, the kind, whose value is checked
 * against that kind's argument table. At run time the daemon walks the registry and drives
 * each kind through the slots below (start, reload, drain, stop) without knowing any kind by
 * name; a kind finds its own workflows by comparing wf->trigger with its own descriptor.
 *
 * This header is an interface at the lang level: it names the run-time structures it hands
 * around only by forward declaration. triggers/README.md says how to add a kind.
 */
#ifndef WR_TRIGGER_H
#define WR_TRIGGER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/lang/argspec.h"

struct event_base;
struct evhttp_request;
struct wr_http_limits;
struct wr_ingest;
struct wr_journal;
struct wr_workflow;
struct wr_workflow_set;
struct wr_graph;
struct wr_directory;

/* What a gate decided about a run. */
enum wr_run_gate_verdict {
    WR_GATE_GO,     /* start the run */
    WR_GATE_CANCEL, /* end it `cancelled`, the reason in history */
    WR_GATE_LATER,  /* cannot tell now (Graph unreachable): the run waits 30 s and asks again */
};

/* Delivers a gate's verdict for the run behind token; reason (borrowed, copied) says why for
   CANCEL and LATER. Called exactly once, on the loop thread, never inside the call that asked. */
typedef void (*wr_run_gate_done_fn)(void *token, enum wr_run_gate_verdict verdict,
                                    const char *reason);

/* What a kind's runtime works with: all borrowed, all outliving the runtime. */
struct wr_trigger_env {
    struct event_base *base; /* made after evthread_use_pthreads() */
    struct wr_ingest *ingest;
    struct wr_journal *journal;
    const char *base_dir;                /* weir.yaml's directory: relative paths start there */
    const char *listen;                  /* the kind's address under weir.yaml `listen:`, or NULL */
    const struct wr_http_limits *limits; /* weir.yaml `limits:` for HTTP listeners */
    const char *state_path;              /* the journal's file (for wr_trigger_state_load) */
    /* Graph, for the kinds that read the directory: NULL with --ingest-only (no Graph client;
       such a kind then polls nothing and says so in its ready line). */
    struct wr_graph *graph;
    struct wr_directory *dir;
    /* Pages of the core served by a kind that listens (the approval page): requests whose path
       starts with mount_prefix go to mount_fn(req, mount_arg), before the kind's own routes and
       after its listener's limits. NULL mount_prefix: nothing mounted. */
    const char *mount_prefix;
    void (*mount_fn)(struct evhttp_request *req, void *arg);
    void *mount_arg;
};

struct wr_trigger_kind {
    const char *name;              /* the key under `trigger:` */
    const char *summary;           /* one line for `weir help` */
    const struct wr_argspec *args; /* argument table, NULL-name terminated */
    const char *notes;             /* more for `weir help KIND`, after the arguments; or NULL */
    /* A help topic of the kind's own (`weir help TOPIC`, e.g. the webhook's "auth"), or NULL
       name: print writes it to f. */
    const char *topic;
    void (*print_topic)(FILE *f);
    /* A command of the kind's own, `weir COMMAND [-c weir.yaml] [--json]` (the webhook's
       "webhooks": its paths and pending setup handshakes), or NULL command. describe builds
       what it shows from the loaded set (borrowed) and the journal (env->state_path, read
       only) as an owned JSON value in *out, or returns -1 with err; print_description writes
       that value (borrowed) as text. */
    const char *command;
    const char *command_summary;
    const char *command_help;
    int (*describe)(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                    struct json_object **out, char *err, size_t errlen);
    void (*print_description)(struct json_object *d, FILE *f);
    /* Checks across arguments after the table check; may be NULL. */
    void (*validate)(struct wr_check *c, struct json_object *args, const char *path);
    /*
     * Several workflows may share one route (a webhook path). When route_arg is set, workflows
     * whose route values are equal must also agree on every argument in shared_args
     * (NULL-terminated), else the set is rejected.
     */
    const char *route_arg;
    const char *const *shared_args;

    /* {====== at run time: every slot may be NULL (nothing to do) unless said otherwise ====== */

    /* The kind's key under weir.yaml `listen:` (one argspec, its help naming the default) and
       that default; NULL when the kind listens on nothing. env->listen carries the value. */
    const struct wr_argspec *listen;
    const char *listen_default;
    /* Noun for log lines: "cannot start the <what>", "<what> ready". Set when start is. */
    const char *what;
    /* Several weirs on one PostgreSQL store: the kind runs on the leader only (a clock, a
       folder or a directory poll would otherwise fire once per instance); the others start it
       when they become the leader. Webhooks, which any instance takes, leave it false. */
    bool leader_only;
    /*
     * Starts the kind for the enabled workflows of set (borrowed, outlives the runtime or the
     * next commit) whose trigger is this kind. Returns the runtime (owned; the daemon frees it
     * with free), or NULL with a message in err. NULL slot: the kind has nothing to run.
     */
    void *(*start)(const struct wr_trigger_env *env, const struct wr_workflow_set *set, char *err,
                   size_t errlen);
    /* Writes the address it serves into addr for the "<what> ready" line; false: no line. */
    bool (*ready)(const void *rt, char *addr, size_t addrlen);
    /* True while work in flight still points into a workflow set it was given before: a set
       replaced by a reload is freed only once every runtime was not busy after the swap. */
    bool (*busy)(const void *rt);
    /* True while a reload must wait (a few ms; the daemon asks again): something in flight
       points into what the next commit would free. */
    bool (*reload_wait)(const void *rt);
    /*
     * Reload, in three steps: prepare builds what set (borrowed) needs without making any of
     * it visible, returning 0, or -1 with a message in err (the runtime is unchanged then);
     * after every kind prepared, commit switches to set (what is in flight finishes on the
     * old one; what the kind carries over, it says); if any kind failed, abort drops what
     * prepare built. NULL prepare: nothing can fail (commit alone is called). abort after a
     * failed prepare, or with nothing prepared, does nothing.
     */
    int (*prepare)(void *rt, const struct wr_workflow_set *set, char *err, size_t errlen);
    void (*commit)(void *rt, const struct wr_workflow_set *set);
    void (*abort)(void *rt);
    /* Stopping: take no new work; what was received is finished (drain). */
    void (*stop_accepting)(void *rt);
    /* Work accepted and not yet committed; the daemon stops when every count is 0. While
       stopping, a kind may let go here of what it no longer needs. */
    size_t (*pending)(void *rt);
    /*
     * The run gate (engine/exec/run.h, wr_run_gate_fn) for a run of wf, one of this kind's
     * workflows: re-checks, just before the first step, that what started the run still holds
     * (user-date: the date did not move). Returns false when there is nothing to check.
     */
    bool (*gate)(void *rt, const struct wr_workflow *wf, struct json_object *event,
                 wr_run_gate_done_fn done, void *token);
    /* Frees the runtime and anything prepared. NULL is fine. Drain first. */
    void (*free)(void *rt);

    /* }====== */

    /* {====== the directory kinds: one user on demand, and a preview ====== */

    /* `weir fire WORKFLOW --user REF`: the $select list ("id,userPrincipalName,...", owned)
       of the user read for an on-demand event of wf, or NULL slot: `--user` is refused for
       the kind ("the webhook trigger has no user events"). */
    char *(*user_select)(const struct wr_workflow *wf);
    /* The event of an on-demand run of wf for user (borrowed: Graph's user object with
       user_select's properties), as the trigger would build it with "on_demand": true;
       owned, or NULL with why in err ("user adele@contoso.com has no employeeHireDate"). */
    struct json_object *(*user_event)(const struct wr_workflow *wf, struct json_object *user,
                                      char *err, size_t errlen);
    /*
     * `weir scope WORKFLOW --days N`: a read-only preview of whom the trigger of wf would
     * process (env: base, dir, state_path; nothing is written to Graph or the journal), at
     * now_ms. Calls done(arg, preview, error) once on a later loop turn: preview (owned by the
     * callee, borrowed for the call) is {"workflow", "trigger", "summary": one line,
     * "users": [{"id", "userPrincipalName", "displayName", "state", "due", "due_local",
     * "detail"}...], plus the kind's own keys}, or NULL with error. Returns 0, or -1 with err
     * when nothing was started. env and wf are borrowed for the call only (the daemon's
     * /api/workflows/NAME/scope may see a reload before done): copy what done needs.
     */
    int (*scope)(const struct wr_trigger_env *env, const struct wr_workflow *wf, int days,
                 int64_t now_ms,
                 void (*done)(void *arg, struct json_object *preview, const char *error), void *arg,
                 char *err, size_t errlen);

    /* }====== */

    /* {====== for the console (GET /api/workflows): both may be NULL ====== */

    /* One line saying what starts wf (one of this kind's workflows; borrowed), its kind's name
       first: "webhook /hooks/mail", "schedule 0 6 * * * (Europe/Berlin)". Owned. NULL slot:
       the kind's name alone. */
    char *(*summarize)(const struct wr_workflow *wf);
    /* When the next run of wf is due (Unix ms, after now_ms), or -1 when the kind cannot tell
       (nothing due, or it depends on what arrives). state_path (may be NULL) is the journal's
       file, read only, for kinds that remember due times there. NULL slot: never known. */
    int64_t (*next_due)(const struct wr_workflow *wf, const char *state_path, int64_t now_ms);

    /* }====== */
};

/* One piece of a summary: the value of argument key, after label and a space when label is not
   NULL ("every 15m"). */
struct wr_trigger_summary_part {
    const char *label;
    const char *key;
};

/*
 * What a summarize slot usually answers: wf's kind name, then for each of parts (ending in
 * {0}) whose argument wf's trigger has, a space and the part — a string as written, a list
 * joined by ", ", another value as JSON. Owned.
 */
char *wr_trigger_summary(const struct wr_workflow *wf, const struct wr_trigger_summary_part *parts);

/* Looks a kind up by name; NULL when unknown. */
const struct wr_trigger_kind *wr_trigger_find(const char *name);

/* NULL-terminated list of every kind name, in name order (static storage). */
const char *const *wr_trigger_names(void);

/* Every kind name for messages, in name order: "file, schedule or webhook" (static storage). */
const char *wr_trigger_names_text(void);

/* Number of kinds in the registry. */
size_t wr_trigger_count(void);

/* The i-th kind (i < wr_trigger_count()), in triggers.def order: the daemon's start order. */
const struct wr_trigger_kind *wr_trigger_at(size_t i);

/* {====== every kind's runtime, driven together (the daemon holds one set) ====== */

struct wr_triggers;

/* The address of kind under weir.yaml `listen:` (borrowed), or NULL; see wr_trigger_kind.listen. */
typedef const char *(*wr_trigger_listen_fn)(void *arg, const struct wr_trigger_kind *kind);

/*
 * Starts every kind with a start slot, in registry order, for the workflows of set (borrowed;
 * see start) — the leader_only kinds only when lead. env is copied (its pointers borrowed, for
 * wr_triggers_lead too), each kind's with env->listen set from listen(arg, kind). Returns the
 * set of runtimes (owned: wr_triggers_free), or NULL when a kind fails: then *failed is that
 * kind, err says why, and the kinds started before it are freed again.
 */
struct wr_triggers *wr_triggers_start(const struct wr_trigger_env *env, wr_trigger_listen_fn listen,
                                      void *arg, const struct wr_workflow_set *set, bool lead,
                                      const struct wr_trigger_kind **failed, char *err,
                                      size_t errlen);

/*
 * This instance became the leader: starts the leader_only kinds not running, for set
 * (borrowed, as at start). Returns 0, or -1 when a kind fails (*failed, err; the others keep
 * running, and a later call tries the rest again).
 */
int wr_triggers_lead(struct wr_triggers *ts, const struct wr_workflow_set *set,
                     const struct wr_trigger_kind **failed, char *err, size_t errlen);

/*
 * This instance is no longer the leader: the leader_only kinds take no new work, and each is
 * freed once what it accepted is committed. Call again until it returns true (none left).
 */
bool wr_triggers_step_down(struct wr_triggers *ts);

/* Work accepted by every kind and not yet committed (the sum of the pending slots). */
size_t wr_triggers_pending(struct wr_triggers *ts);

/* True when a kind is busy (see the busy slot). */
bool wr_triggers_busy(const struct wr_triggers *ts);

/* True when a kind asks a reload to wait (see the reload_wait slot). */
bool wr_triggers_reload_wait(const struct wr_triggers *ts);

/*
 * Switches every kind to set (borrowed, outlives the runtimes or the next switch): each kind
 * prepares it, and only when all did, each commits. Returns 0; or -1 when a kind cannot
 * prepare it: *failed is that kind, err says why, what the others prepared is aborted and
 * every kind still serves its old set.
 */
int wr_triggers_reload(struct wr_triggers *ts, const struct wr_workflow_set *set,
                       const struct wr_trigger_kind **failed, char *err, size_t errlen);

/* Stopping: every kind takes no new work (see stop_accepting). */
void wr_triggers_stop_accepting(struct wr_triggers *ts);

/* Calls each(arg, kind, addr) for every kind whose ready slot gives an address, in order. */
void wr_triggers_ready(const struct wr_triggers *ts,
                       void (*each)(void *arg, const struct wr_trigger_kind *kind,
                                    const char *addr),
                       void *arg);

/* The run gate over every kind (a wr_run_gate_fn; arg is the struct wr_triggers): asks the gate
   slot of wf's kind, with that kind's runtime. A leader_only kind not running here (another
   instance leads) answers WR_GATE_LATER: the run is deferred until an instance that can check it
   takes it. */
bool wr_triggers_gate(void *ts, const struct wr_workflow *wf, struct json_object *event,
                      wr_run_gate_done_fn done, void *token);

/* Frees every runtime, in the reverse of the start order, then ts. NULL is fine. */
void wr_triggers_free(struct wr_triggers *ts);

/* }====== */

#endif
