/*
 * manager — set-manager (PUT /users/{id}/manager/$ref). Both ends are user references.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actions/action.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"
#include "engine/base/strutil.h"

static const struct wr_argspec set_manager_args[] = {
    WR_ARGSPEC_USER,
    {.name = "manager",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "the manager: object id, userPrincipalName, mail or employeeId:VALUE"},
    {0},
};

/* {====== execution ====== */

/* One execution's state (wr_action_state); owned members are released by op_clear before
   the action finishes. */
struct manager_op {
    struct wr_action_ctx *ctx;
    char *user;     /* the user's object id */
    char *manager;  /* the wanted manager's object id */
    char *previous; /* the manager before, or NULL */
    struct json_object *body;
};

static void op_clear(struct manager_op *op)
{
    free(op->user);
    free(op->manager);
    free(op->previous);
    op->user = op->manager = op->previous = NULL;
    json_object_put(op->body);
    op->body = NULL;
}

static void op_fail(struct manager_op *op, const struct wr_graph_result *res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void op_fail(struct manager_op *op, const struct wr_graph_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_action_vfail(op->ctx, res, false, fmt, ap); /* formats before op_clear frees its args */
    va_end(ap);
    op_clear(op);
}

static void op_fail_lag(struct manager_op *op, const struct wr_graph_result *res, int64_t age,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void op_fail_lag(struct manager_op *op, const struct wr_graph_result *res, int64_t age,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_action_vfail_lag(op->ctx, res, age, fmt, ap);
    va_end(ap);
    op_clear(op);
}

static void op_succeed(struct manager_op *op, bool changed)
{
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(op->user));
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    json_object_object_add(out, "managerId", json_object_new_string(op->manager));
    json_object_object_add(out, "previousManagerId",
                           op->previous ? json_object_new_string(op->previous) : NULL);
    wr_action_succeed(op->ctx, out);
    op_clear(op);
}

static void written(void *arg, const struct wr_graph_result *res)
{
    struct manager_op *op = arg;
    struct wr_directory *dir = wr_action_directory(op->ctx);
    if (res->ok) {
        char *why = NULL;
        bool retriable = false;
        if (wr_graph_answer_done(res, NULL, &why, &retriable)) {
            op_succeed(op, true);
        } else {
            /* 202 Accepted or an answer of another shape: not said to be done. */
            struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
            op_fail(op, &u, "PUT /users/%s/manager/$ref", op->user);
        }
        free(why);
        return;
    }
    /* A 404 for a user or manager weir created moments ago: a replica without it. */
    int64_t age = -1, m = -1;
    if (res->status == 404) {
        age = wr_directory_created_ago(dir, op->user);
        m = wr_directory_created_ago(dir, op->manager);
        age = age < 0 || (m >= 0 && m < age) ? m : age;
    }
    if (age >= 0) {
        op_fail_lag(op, res, age, "PUT /users/%s/manager/$ref", op->user);
    } else {
        op_fail(op, res, "PUT /users/%s/manager/$ref", op->user);
    }
}

static void current_read(void *arg, const struct wr_graph_result *res)
{
    struct manager_op *op = arg;
    if (res->ok) {
        char *why = NULL;
        bool retriable = false;
        struct json_object *m = wr_graph_answer_entity(res, "the manager", "id", &why, &retriable);
        if (!m) {
            /* Not "no manager" (that is a 404): an answer that says nothing cannot be trusted. */
            struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
            op_fail(op, &u, "reading the manager of user %s", op->user);
            free(why);
            return;
        }
        op->previous = wr_xstrdup(json_object_get_string(json_object_object_get(m, "id")));
    } else if (res->status != 404) {
        /* 404 is "no manager"; the user itself was found a moment ago (should a replica not
           have it, the PUT's own 404 tells). */
        op_fail(op, res, "reading the manager of user %s", op->user);
        return;
    }
    if (op->previous && strcasecmp(op->previous, op->manager) == 0) {
        op_succeed(op, false);
        return;
    }
    char *useg = wr_graph_escape(op->user);
    char *mseg = wr_graph_escape(op->manager);
    char *ref =
        wr_xasprintf("%s/users/%s", wr_directory_base_url(wr_action_directory(op->ctx)), mseg);
    char *path = wr_xasprintf("/users/%s/manager/$ref", useg);
    op->body = json_object_new_object();
    json_object_object_add(op->body, "@odata.id", json_object_new_string(ref));
    if (wr_action_write(op->ctx, "PUT", path, op->body, written, op) != 0) {
        op_fail(op, NULL, "the Graph client refused PUT %s", path);
    }
    free(path);
    free(ref);
    free(mseg);
    free(useg);
}

static void manager_found(void *arg, const struct wr_directory_result *r)
{
    struct manager_op *op = arg;
    if (!r->ok && r->created_ago_ms >= 0) {
        op_fail_lag(op, r->graph, r->created_ago_ms, "manager: %s", r->error);
        return;
    }
    if (!r->ok) {
        op_fail(op, r->graph, "manager: %s", r->error);
        return;
    }
    op->manager = wr_xstrdup(r->id);
    if (strcasecmp(op->manager, op->user) == 0) {
        op_fail(op, NULL, "user %s cannot be their own manager", op->user);
        return;
    }
    char *useg = wr_graph_escape(op->user);
    char *path = wr_xasprintf("/users/%s/manager?$select=id", useg);
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", path, NULL, 0, current_read, op) != 0) {
        op_fail(op, NULL, "the Graph client refused GET %s", path);
    }
    free(path);
    free(useg);
}

static void user_found(void *arg, const struct wr_directory_result *r)
{
    struct manager_op *op = arg;
    if (!r->ok && r->created_ago_ms >= 0) {
        op_fail_lag(op, r->graph, r->created_ago_ms, "%s", r->error);
        return;
    }
    if (!r->ok) {
        op_fail(op, r->graph, "%s", r->error);
        return;
    }
    op->user = wr_xstrdup(r->id);
    const char *ref = wr_action_arg_str(op->ctx, "manager");
    if (wr_directory_user(wr_action_directory(op->ctx), ref, NULL, manager_found, op) != 0) {
        char *msg = wr_action_bad_user_ref("manager", ref);
        op_fail(op, NULL, "manager: %s", msg);
        free(msg);
    }
}

static void set_manager_run(struct wr_action_ctx *ctx)
{
    struct manager_op *op = wr_action_state(ctx, sizeof(*op));
    op->ctx = ctx;
    const char *ref = wr_action_arg_str(ctx, "user");
    if (wr_directory_user(wr_action_directory(ctx), ref, NULL, user_found, op) != 0) {
        char *msg = wr_action_bad_user_ref("user", ref);
        op_fail(op, NULL, "%s", msg);
        free(msg);
    }
}

/* }====== */

const struct wr_action wr_action_set_manager = {
    .name = "set-manager",
    .summary = "set the user's manager; the same manager already set is success",
    .args = set_manager_args,
    .execute = set_manager_run,
};
