/*
 * action — the descriptor every action kind exports, and the registry that lists them.
 *
 * An action is a static const struct wr_action at the bottom of its file in actions/: its
 * name as written in workflows (kebab-case), a one-line summary, its argument table and an
 * optional cross-argument check. The workflow loader validates a step's arguments through the
 * descriptor, and `weir help ACTION` prints it. Actions never see the registry or each other.
 *
 * Executing: the engine renders the step's templates and calls `execute` with a context
 * (struct wr_action_ctx, engine/action_run.c). The action reads its arguments, resolves
 * references through the directory (engine/directory.h), reads current state from Graph,
 * writes only the difference through wr_action_write (which in a dry run records the request
 * instead of sending it), and finishes with exactly one wr_action_succeed or wr_action_fail.
 */
#ifndef WR_ACTION_H
#define WR_ACTION_H

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/argspec.h"

struct wr_action_ctx;

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
};

/* {====== what an executing action may use (engine/action_run.c) ====== */

struct wr_graph;
struct wr_directory;
struct wr_graph_result;
struct wr_net_guard;

/* The rendered arguments (templates already evaluated). Borrowed, valid until completion. */
struct json_object *wr_action_args(struct wr_action_ctx *ctx);
/* Typed argument getters: NULL / empty when absent or of another type. Borrowed. */
const char *wr_action_arg_str(struct wr_action_ctx *ctx, const char *name);

struct wr_graph *wr_action_graph(struct wr_action_ctx *ctx);
struct wr_directory *wr_action_directory(struct wr_action_ctx *ctx);
bool wr_action_dry_run(struct wr_action_ctx *ctx);
/* Which internal destinations outbound calls may reach (weir.yaml http.allow; see
   engine/net_guard.h). Borrowed; NULL means none (wr_net_guard_check treats it so). */
const struct wr_net_guard *wr_action_net_guard(struct wr_action_ctx *ctx);

/* Per-execution state an action allocates for its callbacks; freed (with `free`) at
   completion. Returns the zeroed block, allocated once per execution. */
void *wr_action_state(struct wr_action_ctx *ctx, size_t size);

/*
 * A mutation. In a real run it is wr_graph_request; in a dry run nothing is sent: the
 * request (method, path, body) is added to the run's plan and `done` gets a synthetic success
 * (status 204, no body) on a later loop turn. body is borrowed.
 */
int wr_action_write(struct wr_action_ctx *ctx, const char *method, const char *path,
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
/* The same with a va_list, for an action's own failure helper that also releases its state. */
void wr_action_vfail(struct wr_action_ctx *ctx, const struct wr_graph_result *res, bool retriable,
                     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* }====== */

/* Looks an action up by name; NULL when unknown. */
const struct wr_action *wr_action_find(const char *name);

/* NULL-terminated list of every action name (static storage), for suggestions and help. */
const char *const *wr_action_names(void);

/* Shared argument-table entries: the user reference every user action takes. */
#define WR_ARGSPEC_USER                                                                            \
    {                                                                                              \
        .name = "user", .type = WR_ARG_STRING, .flags = WR_ARG_REQUIRED,                           \
        .help = "object id, userPrincipalName, mail or employeeId:VALUE"                           \
    }

#endif
