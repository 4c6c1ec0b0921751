/*
 * group — add-to-group and remove-from-group (POST/DELETE /groups/{id}/members/$ref). The
 * group is named by displayName or object id, resolved at run time.
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

static const struct wr_argspec group_args[] = {
    WR_ARGSPEC_USER,
    {.name = "group",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "group displayName or object id"},
    {0},
};

/* The length of an array; 0 for NULL or anything else (json-c asserts on those). */
static size_t array_len(struct json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* {====== execution ====== */

/* One execution's state (wr_action_state): the engine frees it, after op_clear. */
struct group_op {
    struct wr_action_ctx *ctx;
    bool remove; /* remove-from-group */
    char *user;  /* the user's object id */
    char *group; /* the group's object id */
    struct json_object *body;
    /* add-to-group: a refused POST, kept while the membership is read again */
    bool recheck;
    long err_status;
    char *err_code;
    char *err_message;
    char *err_rid;
    char *err_crid;
};

static void op_clear(void *state)
{
    struct group_op *op = state;
    free(op->user);
    free(op->group);
    json_object_put(op->body);
    free(op->err_code);
    free(op->err_message);
    free(op->err_rid);
    free(op->err_crid);
}

/* {"id", "changed", "groupId"} and the undo record (action.h, issue 18): "before":
   {"member"}, and "undo": the opposite action on the same user and group by object id ([] when
   nothing changed). */
static void op_succeed(struct group_op *op, bool changed)
{
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(op->user));
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    json_object_object_add(out, "groupId", json_object_new_string(op->group));
    struct json_object *before = json_object_new_object();
    /* Unchanged: it was already as asked; changed: it was the opposite. */
    json_object_object_add(before, "member", json_object_new_boolean(changed == op->remove));
    json_object_object_add(out, "before", before);
    struct json_object *undo = json_object_new_array();
    if (changed) {
        struct json_object *step = json_object_new_object();
        json_object_object_add(
            step, "action",
            json_object_new_string(op->remove ? "add-to-group" : "remove-from-group"));
        json_object_object_add(step, "user", json_object_new_string(op->user));
        json_object_object_add(step, "group", json_object_new_string(op->group));
        json_object_array_add(undo, step);
    }
    json_object_object_add(out, "undo", undo);
    wr_action_succeed(op->ctx, out);
}

static void read_membership(struct group_op *op);

static void written(void *arg, const struct wr_graph_result *res)
{
    struct group_op *op = arg;
    int64_t age =
        res->status == 404 ? wr_directory_created_ago(wr_action_directory(op->ctx), op->user) : -1;
    char *why = NULL;
    bool retriable = false;
    if (res->ok && wr_graph_answer_done(res, NULL, &why, &retriable)) {
        op_succeed(op, true);
    } else if (res->ok) {
        /* 202 Accepted or an answer of another shape: Graph has not said the member was
           added (or removed). */
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "%s /groups/%s/members/$ref",
                       op->remove ? "DELETE" : "POST", op->group);
    } else if (!op->remove && age >= 0) {
        /* A replica without the new user refused the reference to it. */
        wr_action_fail_lag(op->ctx, res, age, "POST /groups/%s/members/$ref", op->group);
    } else if (!op->remove && res->status == 400 && !op->recheck) {
        /* "Already a member" is a plain 400 Request_BadRequest (GRAPH.md 6), like other
           refusals: read the membership again rather than match Graph's message. A member now
           (added by someone else, or by this POST's own first attempt) is success. */
        op->recheck = true;
        op->err_status = res->status;
        op->err_code = wr_xstrdup_or_null(res->error_code);
        op->err_message = wr_xstrdup_or_null(res->error_message);
        op->err_rid = wr_xstrdup_or_null(res->request_id);
        op->err_crid = wr_xstrdup_or_null(res->client_request_id);
        read_membership(op);
    } else if (op->remove && res->status == 404) {
        /* Removed by someone else since the read (or the user just left). */
        op_succeed(op, false);
    } else {
        wr_action_fail(op->ctx, res, false, "%s /groups/%s/members/$ref",
                       op->remove ? "DELETE" : "POST", op->group);
    }
    free(why);
}

static void membership_read(void *arg, const struct wr_directory_result *r)
{
    struct group_op *op = arg;
    if (!r->ok) {
        int64_t age =
            r->not_found ? wr_directory_created_ago(wr_action_directory(op->ctx), op->user) : -1;
        if (age >= 0) {
            wr_action_fail_lag(op->ctx, r->graph, age, "%s", r->error);
        } else {
            wr_action_fail(op->ctx, r->graph, false, "%s", r->error);
        }
        return;
    }
    bool member = false;
    for (size_t i = 0; !member && i < array_len(r->object); i++) {
        struct json_object *g = json_object_array_get_idx(r->object, i);
        const char *id = json_object_get_string(json_object_object_get(g, "id"));
        member = id && strcasecmp(id, op->group) == 0;
    }
    if (op->recheck) {
        struct wr_graph_result post = {
            .status = op->err_status,
            .error_code = op->err_code,
            .error_message = op->err_message,
            .request_id = op->err_rid,
            .client_request_id = op->err_crid,
        };
        if (member) {
            op_succeed(op, false);
        } else {
            wr_action_fail(op->ctx, &post, false, "POST /groups/%s/members/$ref", op->group);
        }
        return;
    }
    if (member != op->remove) {
        op_succeed(op, false);
        return;
    }
    char *gseg = wr_graph_escape(op->group);
    char *useg = wr_graph_escape(op->user);
    char *path;
    int rc;
    if (op->remove) {
        /* Always with /$ref: without it Graph deletes the user object itself. */
        path = wr_xasprintf("/groups/%s/members/%s/$ref", gseg, useg);
        rc = wr_action_write(op->ctx, "DELETE", path, NULL, written, op);
    } else {
        char *ref = wr_xasprintf("%s/directoryObjects/%s",
                                 wr_directory_base_url(wr_action_directory(op->ctx)), useg);
        op->body = json_object_new_object();
        json_object_object_add(op->body, "@odata.id", json_object_new_string(ref));
        free(ref);
        path = wr_xasprintf("/groups/%s/members/$ref", gseg);
        rc = wr_action_write(op->ctx, "POST", path, op->body, written, op);
    }
    if (rc != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused %s", path);
    }
    free(path);
    free(useg);
    free(gseg);
}

/* The user's groups rather than the group's members: a user is in few groups, a group may
   have hundred thousands of members. */
static void read_membership(struct group_op *op)
{
    char *useg = wr_graph_escape(op->user);
    char *path = wr_xasprintf("/users/%s/memberOf?$top=999", useg);
    wr_directory_list(wr_action_directory(op->ctx), path, membership_read, op);
    free(path);
    free(useg);
}

static void group_found(void *arg, const struct wr_directory_result *r)
{
    struct group_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->group = wr_xstrdup(r->id);
    read_membership(op);
}

static void user_found(void *arg, const struct wr_directory_result *r)
{
    struct group_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->user = wr_xstrdup(r->id);
    wr_directory_group(wr_action_directory(op->ctx), wr_action_arg_str(op->ctx, "group"),
                       group_found, op);
}

static void group_run(struct wr_action_ctx *ctx, bool remove)
{
    struct group_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    op->ctx = ctx;
    op->remove = remove;
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, user_found, op);
}

static void add_to_group_run(struct wr_action_ctx *ctx)
{
    group_run(ctx, false);
}

static void remove_from_group_run(struct wr_action_ctx *ctx)
{
    group_run(ctx, true);
}

/* }====== */

const struct wr_action wr_action_add_to_group = {
    .name = "add-to-group",
    .summary = "add the user to a group; already a member is success",
    .args = group_args,
    .execute = add_to_group_run,
    .destructive = WR_DESTRUCTIVE_NO,
};

const struct wr_action wr_action_remove_from_group = {
    .name = "remove-from-group",
    .summary = "remove the user from a group; not a member is success",
    .args = group_args,
    .execute = remove_from_group_run,
    .destructive = WR_DESTRUCTIVE_YES,
};
