/*
 * action — the descriptor every action kind exports, and the registry that lists them.
 *
 * An action is a static const struct wr_action at the bottom of its file in actions/: its
 * name as written in workflows (kebab-case), a one-line summary, its argument table and an
 * optional cross-argument check. The workflow loader validates a step's arguments through the
 * descriptor, and `weir help ACTION` prints it. Actions never see the registry or each other.
 *
 * Executing: the engine renders the step's templates and calls `execute` with a context
 * (struct wr_action_ctx, engine/exec/action_run.c). The action reads its arguments, resolves
 * references through the directory (engine/graph/directory.h), reads current state from Graph,
 * writes only the difference through wr_action_write (which in a dry run records the request
 * instead of sending it), and finishes with exactly one wr_action_succeed or wr_action_fail.
 * What its callbacks share lives in wr_action_state, which the engine frees (after the
 * action's clear function) however the step ends; the step's users are found with
 * wr_action_find_user, and a failed lookup becomes the step's error through
 * wr_action_fail_lookup, which knows replica lag.
 *
 * Rules every action keeps (GRAPH.md sections 0, 6 and 12):
 *
 *  - Branch on Graph's status and error code, never on its message text. Where Graph's code is
 *    too generic to tell two refusals apart (400 Request_BadRequest for "already a member", a
 *    duplicate UPN, a conflicting role assignment, an invalid usage location), read the state
 *    back and decide from what is there.
 *  - A non-idempotent call (a POST that creates something: a user, a role assignment, a PIM
 *    schedule request, a group member) may have landed even when its answer was lost (timeout,
 *    reset connection, 5xx after the write): the Graph client sends it again, and the second
 *    attempt meets the first ("already exists"). The action must recognise its own earlier
 *    success by reading back what it asked for and comparing with what it sent — create-user:
 *    the user with that userPrincipalName has the employeeId it sent (or, without one, every
 *    property it sent); set-role: the assignment of that role at that scope exists;
 *    add-to-group: the user is a member; remove-role's adminRemove: the schedule is gone;
 *    assign-license: the licences are as asked — and then succeed. A conflict with something
 *    that is *not* its own earlier write stays a clear failure that names what is there.
 *    res->attempts > 1 says the client sent the request more than once.
 *  - No 2xx is success until it is read (engine/graph/graph_parse.h): an answer that must be an
 *    object is read with wr_graph_answer_entity (assignLicense's user, a PIM schedule request,
 *    the manager); a write whose answer carries nothing the action needs with
 *    wr_graph_answer_done (204, or a JSON object: 202 Accepted is not done); lists come from
 *    the directory, which refuses an item without its id. An unusable answer fails the step
 *    through wr_graph_result_unusable, which names what Graph sent — except where the object
 *    may have been made (create-user, set-role): that is read back, as above.
 *  - Replica lag (engine/graph/directory.h): a 404 for an object weir created moments ago (and
 *    Graph's invalid-usage-location 400 right after weir set usageLocation) fails through
 *    wr_action_fail_lag, so the run retries it; a 404 on a DELETE still means "already gone".
 *  - The undo record (issue 18): an action that changes state puts in its output "before" (the
 *    state it replaced: old property values, licences with their disabledPlans, the group or
 *    role removed, the previous manager, the deleted user's id) and "undo", the reverse steps as
 *    a workflow would write them, by object id ({"action": "enable-user", "user": ID}), in the
 *    order they must run; [] when it changed nothing. Each step must load against its action's
 *    argument table (tests/e2e/test_actions.c checks every one). What cannot be reversed is said
 *    in "undo_impossible" (a short reason): instead of "undo" when nothing can be (revoke-sessions,
 *    http-request), next to it when part cannot (remove-role's PIM schedules, a password, a
 *    usageLocation that was unset, a direct licence added on top of a group's).
 */
#ifndef WR_ACTION_H
#define WR_ACTION_H

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/lang/argspec.h"

struct wr_action_ctx;

/*
 * Whether an action is destructive: it takes something away from a user (sign-in, the account,
 * licences, memberships, roles, sessions). Guardrails (issue 17: the mass-change brake) count
 * destructive steps; every descriptor declares this explicitly — the zero value is "forgot",
 * and tests/unit/test_action_flags.c fails naming any action that left it so.
 */
enum wr_destructive {
    WR_DESTRUCTIVE_UNDECLARED = 0, /* not declared: a bug; wr_action_destructive says true */
    WR_DESTRUCTIVE_NO,             /* never destructive */
    WR_DESTRUCTIVE_YES,            /* always destructive */
    WR_DESTRUCTIVE_BY_ARGS,        /* destructive or not by its arguments: is_destructive decides */
};

struct wr_action {
    const char *name;              /* as written after `action:` */
    const char *summary;           /* one line for `weir help` */
    const struct wr_argspec *args; /* argument table, NULL-name terminated */
    /*
     * Checks that span several arguments (e.g. "add or remove"), after the table check passed
     * for each key. Reports through c; may be NULL.
     */
    void (*validate)(struct wr_check *c, struct json_object *args, const char *path);
    /*
     * Starts the action. Completion is asynchronous: exactly one wr_action_succeed or
     * wr_action_fail, now or on a later loop turn. NULL for steps that are not Graph actions.
     */
    void (*execute)(struct wr_action_ctx *ctx);
    /* Whether the action is destructive (above). Every descriptor sets it. */
    enum wr_destructive destructive;
    /*
     * WR_DESTRUCTIVE_BY_ARGS only (NULL otherwise): whether a step with these arguments is
     * destructive. rendered_args (borrowed, not NULL) are the step's arguments after its
     * templates were rendered; a value that is still a template string ("{{ ... }}", e.g. when
     * asked before rendering) counts as "may be", so true.
     */
    bool (*is_destructive)(struct json_object *rendered_args);
    /*
     * For `weir help`: with WR_DESTRUCTIVE_BY_ARGS, when it is destructive, as a phrase after
     * "destructive " ("with a non-empty remove:"; required). Otherwise an optional one-line note
     * on a classification someone may find debatable, or NULL.
     */
    const char *destructive_note;
};

/* {====== what an executing action may use (engine/exec/action_run.c) ====== */

struct wr_graph;
struct wr_directory;
struct wr_directory_result;
struct wr_graph_result;
struct wr_net_guard;
struct wr_curl_loop;

/* The rendered arguments (templates already evaluated). Borrowed, valid until completion. */
struct json_object *wr_action_args(struct wr_action_ctx *ctx);
/* Typed argument getters: NULL / empty when absent or of another type. Borrowed. */
const char *wr_action_arg_str(struct wr_action_ctx *ctx, const char *name);

struct wr_graph *wr_action_graph(struct wr_action_ctx *ctx);
struct wr_directory *wr_action_directory(struct wr_action_ctx *ctx);
bool wr_action_dry_run(struct wr_action_ctx *ctx);
/* Which internal destinations outbound calls may reach (weir.yaml http.allow; see
   engine/net/net_guard.h). Borrowed; NULL means none (wr_net_guard_check treats it so). */
const struct wr_net_guard *wr_action_net_guard(struct wr_action_ctx *ctx);

/* weir.yaml mail.from: the sender send-mail uses when a step names none. Borrowed; NULL when
   weir.yaml has no mail section. */
const char *wr_action_mail_from(struct wr_action_ctx *ctx);

/* The directory of the workflow file the step belongs to: relative file: secrets in its
   arguments resolve against it (as a webhook trigger's do). Borrowed, valid until completion;
   NULL when the step comes from no file (a generated workflow, the tests), and relative paths
   then resolve against the current directory. */
const char *wr_action_workflow_dir(struct wr_action_ctx *ctx);

/* The curl loop (engine/net/curl_loop.h) for HTTP calls that are not Graph requests: the
   Graph client's, so they share its one multi handle and connection pool. Borrowed; NULL when
   the context has no Graph client. */
struct wr_curl_loop *wr_action_curl_loop(struct wr_action_ctx *ctx);

/*
 * The execution's state, for the action's callbacks: a zeroed block of size bytes, allocated by
 * the first call and returned again by every later one (size must not grow; clear must be the
 * same). The engine owns it: when the step ends, however it ends, and after its outcome was
 * delivered, the engine calls clear(state) to release what the action put there (the owned
 * members; clear may be NULL), then frees the block. So an action fails or succeeds with its
 * state still intact, and never frees it itself. clear must not call wr_action_* functions.
 */
void *wr_action_state(struct wr_action_ctx *ctx, size_t size, void (*clear)(void *state));

/*
 * A mutation. In a real run it is wr_graph_request; in a dry run nothing is sent: the
 * request (method, path, body) is added to the run's plan and `done` gets a synthetic success
 * (status 204, no body) on a later loop turn. body is borrowed.
 */
int wr_action_write(struct wr_action_ctx *ctx, const char *method, const char *path,
                    struct json_object *body,
                    void (*done)(void *arg, const struct wr_graph_result *res), void *arg);

/*
 * A mutation that must reach Graph at most once (sendMail): wr_action_write, but the Graph
 * client sends it with WR_GRAPH_AT_MOST_ONCE (engine/graph/graph.h): alone, on a fresh
 * connection, retried only where Graph certainly did not act on it. A failed result with
 * retriable false and status 0 or 5xx may have been acted on. In a dry run, planned as
 * wr_action_write plans.
 */
int wr_action_write_once(struct wr_action_ctx *ctx, const char *method, const char *path,
                         struct json_object *body,
                         void (*done)(void *arg, const struct wr_graph_result *res), void *arg);

/* Finishes with an output object (taken: owned by the engine afterwards; NULL = {}). */
void wr_action_succeed(struct wr_action_ctx *ctx, struct json_object *output);

/*
 * Finishes with an error. res (may be NULL) is the Graph result that caused it: its status,
 * code, message and ids are put into the error ("Graph 403 Authorization_RequestDenied:
 * Insufficient privileges to complete the operation. (request-id R, client-request-id C)")
 * and its retriable flag is kept.
 * Without res, retriable says whether a later retry may succeed.
 */
void wr_action_fail(struct wr_action_ctx *ctx, const struct wr_graph_result *res, bool retriable,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same with a va_list, for an action's own failure helper. */
void wr_action_vfail(struct wr_action_ctx *ctx, const struct wr_graph_result *res, bool retriable,
                     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * Finishes with an error that is replica lag: Graph answered res (a 404, or the
 * invalid-usage-location 400) about an object weir created, or a usageLocation weir set,
 * age_ms ago (engine/graph/directory.h). The error says so; the outcome is retriable whatever res
 * says, and marked replica_lag so the run executor retries it with doubling backoff beyond
 * retry.attempts, for as long as the directory still calls it lag.
 */
void wr_action_fail_lag(struct wr_action_ctx *ctx, const struct wr_graph_result *res,
                        int64_t age_ms, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void wr_action_vfail_lag(struct wr_action_ctx *ctx, const struct wr_graph_result *res,
                         int64_t age_ms, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/*
 * Finishes with an error that is another service throttling the step: it answered 429, or 503
 * with a Retry-After. service (borrowed; copied) names it in messages and the log, as its
 * origin ("https://api.bamboohr.com"; never a URL's path or query, which may hold secrets);
 * retry_after_ms is what its Retry-After asked for (0 = none given). The outcome is retriable
 * and marked throttled, so the run executor waits it out as it does Graph's throttling
 * (engine/exec/run.c): the attempt does not count against retry.attempts, and the step waits
 * as long as asked, for at most retry.throttle_limit since the throttling began.
 */
void wr_action_fail_throttled(struct wr_action_ctx *ctx, const char *service,
                              int64_t retry_after_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The message for a `name` argument (user, manager) that is not a user reference; owned. An
 * empty one gets a hint: in a dry run, `steps.<id>.id` of a user an earlier step would create
 * is null, because nothing was created.
 */
char *wr_action_bad_user_ref(const char *name, const char *ref);

/*
 * Looks up the user ref names (wr_directory_user, engine/graph/directory.h: an object id, a
 * userPrincipalName or mail address, or employeeId:VALUE) with the properties in select (NULL
 * = only the id); done(arg, r) follows on a later loop turn. arg_name says which argument ref
 * came from: NULL for the step's own `user`, else its name ("manager"), which then prefixes the
 * error ("manager: ..."). A ref that is no user reference fails the step at once with
 * wr_action_bad_user_ref's message, and done is never called: returns false then, else true.
 * ref and select are borrowed.
 */
bool wr_action_find_user(struct wr_action_ctx *ctx, const char *arg_name, const char *ref,
                         const char *select,
                         void (*done)(void *arg, const struct wr_directory_result *r), void *arg);

/*
 * Fails the step with a directory lookup that failed (r->ok false; a user, a role, a group, a
 * SKU or a list): the message is r->error, prefixed "ARG_NAME: " when arg_name is not NULL (see
 * wr_action_find_user), with r's Graph answer when there was one. Replica lag when r is a user
 * weir created moments ago that is not found (r->created_ago_ms >= 0): retried as
 * wr_action_fail_lag says; otherwise retriable only as that Graph answer says.
 */
void wr_action_fail_lookup(struct wr_action_ctx *ctx, const char *arg_name,
                           const struct wr_directory_result *r);

/*
 * The same for a read about user (borrowed) that does not know when the user was created (a
 * list such as /users/{id}/memberOf): a not-found for a user weir created moments ago is
 * replica lag all the same.
 */
void wr_action_fail_lookup_of(struct wr_action_ctx *ctx, const struct wr_directory_result *r,
                              const char *user);

/* {====== cancel-runs: the runs of a workflow for one subject ====== */

/* What wr_action_cancel_keyed_runs ended with; everything borrowed for the callback's duration. */
struct wr_action_cancelled {
    bool ok;
    /* ok: the ids of the runs cancelled (a dry run: that would be), an array of strings, in
       creation order. A run that started or ended between the read and the write is not in it. */
    struct json_object *ids;
    const char *error; /* failed: why (an unknown workflow, the store) */
    bool retriable;    /* failed: a later attempt may succeed (the journal could not commit) */
    /* with undo: per cancelled run {run, undo_run} (the queued run of weir.undo), {run,
       nothing: true} when it changed nothing yet, or {run, error}; NULL without undo */
    struct json_object *undos;
};

/*
 * With undo, each run cancelled is then undone: what its finished steps changed is put back by a
 * run of weir.undo (engine/exec/undo), queued in a second commit (r->undos).
 *
 * Cancels the runs of workflow (a name, borrowed) whose concurrency key is key (the rendered
 * value, borrowed) that have not started or are parked between steps — queued, retrying,
 * waiting (a wait: step, an approval), held by the guard — never the run this step belongs to,
 * nor one with a step executing now. Each gets status cancelled and the error reason
 * (borrowed), in one journal commit; a cancelled run runs no further step. A workflow that is
 * not loaded fails (in a real run; a dry run knows only its own workflow and does not check).
 * In a dry run nothing is written: ids lists what would be cancelled, read from the daemon's
 * store when there is one. done(arg, r) follows on a later loop turn. Returns 0, or -1 when
 * this context cannot cancel runs (no run store: `weir action`, tests); done is not called then.
 */
int wr_action_cancel_keyed_runs(struct wr_action_ctx *ctx, const char *workflow, const char *key,
                                const char *reason, bool undo,
                                void (*done)(void *arg, const struct wr_action_cancelled *r),
                                void *arg);

/* }====== */

/* }====== */

/* Looks an action up by name; NULL when unknown. */
const struct wr_action *wr_action_find(const char *name);

/* NULL-terminated list of every action name (static storage), for suggestions and help. */
const char *const *wr_action_names(void);

/*
 * Whether a step of action a with arguments args (borrowed; the rendered arguments, or NULL when
 * they are not known) is destructive: WR_DESTRUCTIVE_YES true, _NO false, _BY_ARGS what
 * a->is_destructive says of args — and true when args is NULL ("may be destructive"). An
 * undeclared flag (a bug the unit test catches) is true too: when in doubt, the brake counts.
 */
bool wr_action_destructive(const struct wr_action *a, struct json_object *args);

/* Shared argument-table entries: the user reference every user action takes. */
#define WR_ARGSPEC_USER                                                                            \
    {                                                                                              \
        .name = "user", .type = WR_ARG_STRING, .flags = WR_ARG_REQUIRED,                           \
        .help = "object id, userPrincipalName, mail or employeeId:VALUE"                           \
    }

#endif
