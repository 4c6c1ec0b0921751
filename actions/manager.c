/*
 * manager — set-manager (PUT /users/{id}/manager/$ref). Both ends are user references;
 * `manager: null` (written literally, never from a template) removes the manager instead
 * (DELETE /users/{id}/manager/$ref), so the undo of a set-manager on a user who had none can
 * put that back.
 */
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
     .flags = WR_ARG_REQUIRED | WR_ARG_NULL_OK,
     .help = "the manager: object id, userPrincipalName, mail or employeeId:VALUE; null "
             "removes the manager"},
    {0},
};

/* {====== execution ====== */

/* One execution's state (wr_action_state): the engine frees it, after op_clear. */
struct manager_op {
    struct wr_action_ctx *ctx;
    char *user;     /* the user's object id */
    char *manager;  /* the wanted manager's object id, or NULL to remove the manager */
    char *previous; /* the manager before, or NULL */
    struct json_object *body;
};

static void op_clear(void *state)
{
    struct manager_op *op = state;
    free(op->user);
    free(op->manager);
    free(op->previous);
    json_object_put(op->body);
}

static struct json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* {"id", "changed", "managerId", "previousManagerId"} and the undo record (action.h, issue 18):
   "before": {"managerId"}, "undo": set-manager back to the previous manager, or to null when
   there was none; [] when nothing changed. */
static void op_succeed(struct manager_op *op, bool changed)
{
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(op->user));
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    json_object_object_add(out, "managerId", str_or_null(op->manager));
    json_object_object_add(out, "previousManagerId", str_or_null(op->previous));
    struct json_object *before = json_object_new_object();
    json_object_object_add(before, "managerId", str_or_null(op->previous));
    json_object_object_add(out, "before", before);
    struct json_object *undo = json_object_new_array();
    if (changed) {
        struct json_object *step = json_object_new_object();
        json_object_object_add(step, "action", json_object_new_string("set-manager"));
        json_object_object_add(step, "user", json_object_new_string(op->user));
        json_object_object_add(step, "manager", str_or_null(op->previous));
        json_object_array_add(undo, step);
    }
    json_object_object_add(out, "undo", undo);
    wr_action_succeed(op->ctx, out);
}

static void written(void *arg, const struct wr_graph_result *res)
{
    struct manager_op *op = arg;
    struct wr_directory *dir = wr_action_directory(op->ctx);
    if (!op->manager) {
        /* DELETE .../manager/$ref: 404 is "no manager" (removed since the read). */
        char *why = NULL;
        bool retriable = false;
        if (res->ok && wr_graph_answer_done(res, NULL, &why, &retriable)) {
            op_succeed(op, true);
        } else if (res->ok) {
            struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
            wr_action_fail(op->ctx, &u, false, "DELETE /users/%s/manager/$ref", op->user);
        } else if (res->status == 404) {
            free(op->previous);
            op->previous = NULL;
            op_succeed(op, false);
        } else {
            wr_action_fail(op->ctx, res, false, "DELETE /users/%s/manager/$ref", op->user);
        }
        free(why);
        return;
    }
    if (res->ok) {
        char *why = NULL;
        bool retriable = false;
        if (wr_graph_answer_done(res, NULL, &why, &retriable)) {
            op_succeed(op, true);
        } else {
            /* 202 Accepted or an answer of another shape: not said to be done. */
            struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
            wr_action_fail(op->ctx, &u, false, "PUT /users/%s/manager/$ref", op->user);
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
        wr_action_fail_lag(op->ctx, res, age, "PUT /users/%s/manager/$ref", op->user);
    } else {
        wr_action_fail(op->ctx, res, false, "PUT /users/%s/manager/$ref", op->user);
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
            wr_action_fail(op->ctx, &u, false, "reading the manager of user %s", op->user);
            free(why);
            return;
        }
        op->previous = wr_xstrdup(json_object_get_string(json_object_object_get(m, "id")));
    } else if (res->status != 404) {
        /* 404 is "no manager"; the user itself was found a moment ago (should a replica not
           have it, the PUT's own 404 tells). */
        wr_action_fail(op->ctx, res, false, "reading the manager of user %s", op->user);
        return;
    }
    if (!op->manager && !op->previous) {
        op_succeed(op, false);
        return;
    }
    if (!op->manager) {
        char *useg = wr_graph_escape(op->user);
        char *path = wr_xasprintf("/users/%s/manager/$ref", useg);
        if (wr_action_write(op->ctx, "DELETE", path, NULL, written, op) != 0) {
            wr_action_fail(op->ctx, NULL, false, "the Graph client refused DELETE %s", path);
        }
        free(path);
        free(useg);
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
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused PUT %s", path);
    }
    free(path);
    free(ref);
    free(mseg);
    free(useg);
}

static void read_current(struct manager_op *op);

static void manager_found(void *arg, const struct wr_directory_result *r)
{
    struct manager_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, "manager", r);
        return;
    }
    op->manager = wr_xstrdup(r->id);
    if (strcasecmp(op->manager, op->user) == 0) {
        wr_action_fail(op->ctx, NULL, false, "user %s cannot be their own manager", op->user);
        return;
    }
    read_current(op);
}

/* Reads the user's manager now (current_read); op->manager is set, or NULL for "none". */
static void read_current(struct manager_op *op)
{
    char *useg = wr_graph_escape(op->user);
    char *path = wr_xasprintf("/users/%s/manager?$select=id", useg);
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", path, NULL, 0, current_read, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused GET %s", path);
    }
    free(path);
    free(useg);
}

static void user_found(void *arg, const struct wr_directory_result *r)
{
    struct manager_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->user = wr_xstrdup(r->id);
    struct json_object *m = NULL;
    if (json_object_object_get_ex(wr_action_args(op->ctx), "manager", &m) && m == NULL) {
        read_current(op); /* manager: null removes the manager */
        return;
    }
    wr_action_find_user(op->ctx, "manager", wr_action_arg_str(op->ctx, "manager"), NULL,
                        manager_found, op);
}

static void set_manager_run(struct wr_action_ctx *ctx)
{
    struct manager_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    op->ctx = ctx;
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, user_found, op);
}

/* }====== */

const struct wr_action wr_action_set_manager = {
    .name = "set-manager",
    .summary = "set the user's manager; the same manager already set is success",
    .args = set_manager_args,
    .execute = set_manager_run,
    .destructive = WR_DESTRUCTIVE_NO,
    .destructive_note = "replaces or removes (manager: null) an existing manager, but takes no "
                        "access away",
};
