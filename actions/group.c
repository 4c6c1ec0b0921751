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
        wr_action_fail_lookup_of(op->ctx, r, op->user);
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

/* {====== remove-from-all-groups ====== */

static const struct wr_argspec remove_all_args[] = {
    WR_ARGSPEC_USER,
    {.name = "except", .type = WR_ARG_STRINGS, .help = "groups to keep: displayName or object id"},
    {.name = "include_role_assignable",
     .type = WR_ARG_BOOL,
     .help = "also remove role-assignable groups (default false: skipped)"},
    {0},
};

/* One execution's state (wr_action_state): the engine frees it, after rag_clear. */
struct rag_op {
    struct wr_action_ctx *ctx;
    char *user;                    /* the user's object id */
    struct json_object *removed;   /* [{id, displayName}] removed by this step */
    struct json_object *skipped;   /* [{id, displayName, why}] */
    struct json_object *groups;    /* before: every group the user was a direct member of */
    struct json_object *undo;      /* [{"action": "add-to-group", "group", "user"}] */
    struct json_object *to_remove; /* [{id, displayName}] the DELETEs in flight, by index */
    size_t pending;                /* DELETEs not answered yet */
    /* the first refused DELETE, kept until every answer is in */
    bool failed;
    char *fail_group;
    struct wr_graph_result fail;
};

static void rag_clear(void *state)
{
    struct rag_op *op = state;
    free(op->user);
    json_object_put(op->removed);
    json_object_put(op->skipped);
    json_object_put(op->groups);
    json_object_put(op->undo);
    json_object_put(op->to_remove);
    free(op->fail_group);
    free((char *)op->fail.error_code);
    free((char *)op->fail.error_message);
    free((char *)op->fail.request_id);
    free((char *)op->fail.client_request_id);
}

/* {id, displayName} of a memberOf item; owned. */
static struct json_object *rag_entry(struct json_object *item, const char *why)
{
    struct json_object *e = json_object_new_object();
    struct json_object *name = json_object_object_get(item, "displayName");
    json_object_object_add(e, "id", json_object_get(json_object_object_get(item, "id")));
    json_object_object_add(e, "displayName",
                           json_object_is_type(name, json_type_string) ? json_object_get(name)
                                                                       : NULL);
    if (why) {
        json_object_object_add(e, "why", json_object_new_string(why));
    }
    return e;
}

static bool rag_bool(struct json_object *item, const char *name)
{
    struct json_object *v = json_object_object_get(item, name);
    return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* Whether the group item is named in except: by object id or displayName, without case. */
static bool rag_excepted(struct json_object *except, struct json_object *item)
{
    const char *id = json_object_get_string(json_object_object_get(item, "id"));
    struct json_object *nv = json_object_object_get(item, "displayName");
    const char *name = json_object_is_type(nv, json_type_string) ? json_object_get_string(nv) : "";
    for (size_t i = 0; i < array_len(except); i++) {
        const char *e = json_object_get_string(json_object_array_get_idx(except, i));
        if (e && (strcasecmp(e, id) == 0 || strcasecmp(e, name) == 0)) {
            return true;
        }
    }
    return false;
}

/*
 * Why a group of the user's memberOf is not removed, or NULL when it is: Graph answers 403 to a
 * member change in a dynamic group (its rule decides) and 400 in a group synced from
 * on-premises Active Directory (changed there); a role-assignable group hands out directory
 * roles and is only removed when asked.
 */
static const char *rag_why_kept(struct wr_action_ctx *ctx, struct json_object *item)
{
    if (rag_excepted(json_object_object_get(wr_action_args(ctx), "except"), item)) {
        return "named in except";
    }
    struct json_object *types = json_object_object_get(item, "groupTypes");
    for (size_t i = 0; i < array_len(types); i++) {
        const char *t = json_object_get_string(json_object_array_get_idx(types, i));
        if (t && strcmp(t, "DynamicMembership") == 0) {
            return "dynamic membership: its rule decides (Graph refuses member changes)";
        }
    }
    if (rag_bool(item, "onPremisesSyncEnabled")) {
        return "synced from on-premises Active Directory: change it there";
    }
    struct json_object *inc =
        json_object_object_get(wr_action_args(ctx), "include_role_assignable");
    if (rag_bool(item, "isAssignableToRole") &&
        !(json_object_is_type(inc, json_type_boolean) && json_object_get_boolean(inc))) {
        return "role-assignable (include_role_assignable: true removes it)";
    }
    return NULL;
}

static void rag_finish(struct rag_op *op)
{
    if (op->failed) {
        /* What this step removed before the refusal is named, as no undo record will hold it. */
        struct wr_buf b = {0};
        for (size_t i = 0; i < array_len(op->removed); i++) {
            struct json_object *e = json_object_array_get_idx(op->removed, i);
            wr_buf_addf(&b, "%s%s", b.len ? ", " : "",
                        json_object_get_string(json_object_object_get(e, "id")));
        }
        char *removed = wr_buf_take(&b);
        wr_action_fail(op->ctx, &op->fail, false, "DELETE /groups/%s/members/%s/$ref%s%s%s",
                       op->fail_group, op->user, removed && *removed ? " (removed before it: " : "",
                       removed && *removed ? removed : "", removed && *removed ? ")" : "");
        free(removed);
        return;
    }
    struct json_object *out = json_object_new_object();
    struct json_object *before = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(op->user));
    json_object_object_add(out, "changed", json_object_new_boolean(array_len(op->removed) > 0));
    json_object_object_add(out, "removed", json_object_get(op->removed));
    json_object_object_add(out, "skipped", json_object_get(op->skipped));
    json_object_object_add(before, "groups", json_object_get(op->groups));
    json_object_object_add(out, "before", before);
    json_object_object_add(out, "undo", json_object_get(op->undo));
    wr_action_succeed(op->ctx, out);
}

/* The index of a DELETE in op->to_remove travels as its callback argument's offset. */
struct rag_write {
    struct rag_op *op;
    size_t i;
};

static void rag_removed(void *arg, const struct wr_graph_result *res)
{
    struct rag_write *w = arg;
    struct rag_op *op = w->op;
    struct json_object *g = json_object_array_get_idx(op->to_remove, w->i);
    const char *gid = json_object_get_string(json_object_object_get(g, "id"));
    char *why = NULL;
    bool retriable = false;
    if (res->ok && wr_graph_answer_done(res, NULL, &why, &retriable)) {
        json_object_array_add(op->removed, json_object_get(g));
        struct json_object *u = json_object_new_object();
        json_object_object_add(u, "action", json_object_new_string("add-to-group"));
        json_object_object_add(u, "group", json_object_new_string(gid));
        json_object_object_add(u, "user", json_object_new_string(op->user));
        json_object_array_add(op->undo, u);
    } else if (!res->ok && res->status == 404) {
        /* Left the group since the read (someone else, or this DELETE's own first attempt). */
        struct json_object *e = json_object_get(g);
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "id", json_object_get(json_object_object_get(e, "id")));
        json_object_object_add(s, "displayName",
                               json_object_get(json_object_object_get(e, "displayName")));
        json_object_object_add(s, "why", json_object_new_string("not a member any more"));
        json_object_array_add(op->skipped, s);
        json_object_put(e);
    } else if (!op->failed) {
        struct wr_graph_result u = res->ok ? wr_graph_result_unusable(res, why, retriable) : *res;
        op->failed = true;
        op->fail_group = wr_xstrdup(gid);
        op->fail.status = u.status;
        op->fail.retriable = u.retriable;
        op->fail.retry_after_ms = u.retry_after_ms;
        op->fail.error_code = wr_xstrdup_or_null(u.error_code);
        op->fail.error_message = wr_xstrdup_or_null(u.error_message);
        op->fail.request_id = wr_xstrdup_or_null(u.request_id);
        op->fail.client_request_id = wr_xstrdup_or_null(u.client_request_id);
    }
    free(why);
    free(w);
    if (--op->pending == 0) {
        rag_finish(op);
    }
}

static void rag_member_of(void *arg, const struct wr_directory_result *r)
{
    struct rag_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup_of(op->ctx, r, op->user);
        return;
    }
    op->removed = json_object_new_array();
    op->skipped = json_object_new_array();
    op->groups = json_object_new_array();
    op->undo = json_object_new_array();
    op->to_remove = json_object_new_array();
    for (size_t i = 0; i < array_len(r->object); i++) {
        struct json_object *item = json_object_array_get_idx(r->object, i);
        const char *type = json_object_get_string(json_object_object_get(item, "@odata.type"));
        if (!type || strcasecmp(type, "#microsoft.graph.group") != 0) {
            /* A directory role (or an administrative unit): not a group membership. */
            const char *t = type ? type : "an object without @odata.type";
            if (strncmp(t, "#microsoft.graph.", 17) == 0) {
                t += 17;
            }
            char *why = wr_xasprintf("not a group (%s)", t);
            json_object_array_add(op->skipped, rag_entry(item, why));
            free(why);
            continue;
        }
        json_object_array_add(op->groups, rag_entry(item, NULL));
        const char *why = rag_why_kept(op->ctx, item);
        json_object_array_add(why ? op->skipped : op->to_remove, rag_entry(item, why));
    }
    op->pending = array_len(op->to_remove);
    if (op->pending == 0) {
        rag_finish(op);
        return;
    }
    /* Every DELETE in this loop turn: the Graph client puts them in $batch requests. */
    char *useg = wr_graph_escape(op->user);
    size_t n = op->pending;
    for (size_t i = 0; i < n; i++) {
        struct json_object *g = json_object_array_get_idx(op->to_remove, i);
        char *gseg = wr_graph_escape(json_object_get_string(json_object_object_get(g, "id")));
        /* Always with /$ref: without it Graph deletes the user object itself. */
        char *path = wr_xasprintf("/groups/%s/members/%s/$ref", gseg, useg);
        struct rag_write *w = wr_xcalloc(1, sizeof(*w));
        w->op = op;
        w->i = i;
        if (wr_action_write(op->ctx, "DELETE", path, NULL, rag_removed, w) != 0) {
            /* Not sent: counted as refused, and the step fails once the others are in. */
            struct wr_graph_result refused = {.error_code = "refused",
                                              .error_message = "the Graph client refused it"};
            rag_removed(w, &refused);
        }
        free(path);
        free(gseg);
    }
    free(useg);
}

static void rag_user_found(void *arg, const struct wr_directory_result *r)
{
    struct rag_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->user = wr_xstrdup(r->id);
    char *useg = wr_graph_escape(op->user);
    /* Direct memberships only (memberOf, not transitiveMemberOf), every page. */
    char *path = wr_xasprintf("/users/%s/memberOf?$select=id,displayName,groupTypes,"
                              "onPremisesSyncEnabled,isAssignableToRole&$top=999",
                              useg);
    wr_directory_list(wr_action_directory(op->ctx), path, rag_member_of, op);
    free(path);
    free(useg);
}

static void remove_from_all_groups_run(struct wr_action_ctx *ctx)
{
    struct rag_op *op = wr_action_state(ctx, sizeof(*op), rag_clear);
    op->ctx = ctx;
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, rag_user_found, op);
}

const struct wr_action wr_action_remove_from_all_groups = {
    .name = "remove-from-all-groups",
    .summary = "remove the user from every cloud group it is a direct member of; skips dynamic, "
               "synced and (unless asked) role-assignable groups, and lists why",
    .args = remove_all_args,
    .execute = remove_from_all_groups_run,
    .destructive = WR_DESTRUCTIVE_YES,
};

/* }====== */
