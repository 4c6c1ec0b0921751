/*
 * role — set-role and remove-role: directory role assignments through unified RBAC
 * (/roleManagement/directory/roleAssignments). The role is named by displayName ("User
 * Administrator"), role definition id or template id; resolved at run time.
 *
 * remove-role also removes what Privileged Identity Management keeps apart from the active
 * assignments (GRAPH.md 12): eligible assignments (roleEligibilitySchedules) and time-bound
 * active ones (roleAssignmentSchedules), through adminRemove schedule requests. Those need
 * RoleEligibilitySchedule.ReadWrite.Directory and RoleAssignmentSchedule.ReadWrite.Directory;
 * without them Graph answers 403 and the step fails saying which is missing (the active
 * assignments are removed first all the same). `pim: false` leaves PIM alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"
#include "engine/base/strutil.h"

static const struct wr_argspec role_args[] = {
    WR_ARGSPEC_USER,
    {.name = "role",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "role displayName, definition id or template id"},
    {.name = "scope",
     .type = WR_ARG_STRING,
     .help = "directoryScopeId of the assignment; default / (the whole tenant)"},
    {0},
};

static const struct wr_argspec remove_role_args[] = {
    WR_ARGSPEC_USER,
    {.name = "role",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "role displayName, definition id or template id"},
    {.name = "scope",
     .type = WR_ARG_STRING,
     .help = "directoryScopeId of the assignment; default / (the whole tenant)"},
    {.name = "pim",
     .type = WR_ARG_BOOL,
     .help = "also remove PIM eligible and time-bound assignments (default true; needs "
             "RoleEligibilitySchedule.ReadWrite.Directory and "
             "RoleAssignmentSchedule.ReadWrite.Directory)"},
    {0},
};

/* The two kinds of PIM schedule remove-role clears after the active assignments. */
enum pim_kind { PIM_ELIGIBLE, PIM_TIMEBOUND, PIM_DONE };

static const struct {
    const char *schedules; /* the list endpoint */
    const char *requests;  /* where adminRemove is POSTed */
    const char *permission;
    const char *what;   /* for messages */
    const char *output; /* the output member listing what was removed */
} pim_kinds[] = {
    {"roleEligibilitySchedules", "roleEligibilityScheduleRequests",
     "RoleEligibilitySchedule.ReadWrite.Directory", "eligible assignments", "removedEligible"},
    {"roleAssignmentSchedules", "roleAssignmentScheduleRequests",
     "RoleAssignmentSchedule.ReadWrite.Directory", "time-bound assignments", "removedTimeBound"},
};

/* The length of an array; 0 for NULL or anything else (json-c asserts on those). */
static size_t array_len(struct json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* {====== execution ====== */

/* One execution's state (wr_action_state): the engine frees it, after op_clear. */
struct role_op {
    struct wr_action_ctx *ctx;
    bool remove;                 /* remove-role */
    char *principal;             /* the user's object id */
    char *definition;            /* the role definition id */
    const char *scope;           /* directoryScopeId (borrowed from the arguments, or "/") */
    struct json_object *found;   /* remove-role: the assignment ids still to delete */
    struct json_object *removed; /* remove-role: the assignment ids deleted */
    struct json_object *body;
    bool pim;                      /* remove-role: PIM schedules too */
    enum pim_kind kind;            /* remove-role: the PIM kind being cleared */
    struct json_object *schedules; /* the schedule ids of that kind at the scope */
    struct json_object *pim_removed[2];
    bool pim_recheck; /* a refused adminRemove: the schedules are read again */
    /* set-role: a refused POST, kept while the assignments are read again (someone else may
       have assigned the role in between: that is success) */
    bool recheck;
    long err_status;
    char *err_code;
    char *err_message;
    /* set-role: the POST answered 2xx without an id; the assignment is read back instead */
    bool verify;
    char *err_rid;
    char *err_crid;
};

static void op_clear(void *state)
{
    struct role_op *op = state;
    free(op->principal);
    free(op->definition);
    json_object_put(op->found);
    json_object_put(op->removed);
    json_object_put(op->body);
    json_object_put(op->schedules);
    json_object_put(op->pim_removed[0]);
    json_object_put(op->pim_removed[1]);
    free(op->err_code);
    free(op->err_message);
    free(op->err_rid);
    free(op->err_crid);
}

/* A 404 naming the principal weir created moments ago: ms since, else -1. */
static int64_t lag_age(struct role_op *op, const struct wr_graph_result *res)
{
    return res && res->status == 404
               ? wr_directory_created_ago(wr_action_directory(op->ctx), op->principal)
               : -1;
}

/* A step mapping {"action", "user", "role", "scope"} for the role of op. Owned. */
static struct json_object *role_step(struct role_op *op, const char *action)
{
    struct json_object *step = json_object_new_object();
    json_object_object_add(step, "action", json_object_new_string(action));
    json_object_object_add(step, "user", json_object_new_string(op->principal));
    json_object_object_add(step, "role", json_object_new_string(op->definition));
    json_object_object_add(step, "scope", json_object_new_string(op->scope));
    return step;
}

/*
 * The undo record (action.h, issue 18) into out. set-role: "before" {"assigned": false} and
 * "undo" a remove-role of the same role and scope with pim: false (set-role made an active
 * assignment only; PIM schedules the user may hold were not this step's). remove-role:
 * "before" {"assignments", "eligible", "timeBound"} (the ids removed) and "undo" a set-role
 * at the same scope when active assignments were removed. PIM eligible and time-bound
 * schedules cannot be made again by any action (set-role makes a permanent active
 * assignment): when some were removed, "undo_impossible" says so next to "undo" — the undo
 * is partial, and whoever runs it must be told.
 */
static void add_undo(struct role_op *op, struct json_object *out, bool changed)
{
    struct json_object *before = json_object_new_object();
    struct json_object *undo = json_object_new_array();
    if (!op->remove) {
        json_object_object_add(before, "assigned", json_object_new_boolean(!changed));
        if (changed) {
            struct json_object *step = role_step(op, "remove-role");
            json_object_object_add(step, "pim", json_object_new_boolean(false));
            json_object_array_add(undo, step);
        }
    } else {
        size_t pim = array_len(op->pim_removed[0]) + array_len(op->pim_removed[1]);
        json_object_object_add(before, "assignments",
                               op->removed ? json_object_get(op->removed)
                                           : json_object_new_array());
        json_object_object_add(before, "eligible",
                               op->pim_removed[0] ? json_object_get(op->pim_removed[0])
                                                  : json_object_new_array());
        json_object_object_add(before, "timeBound",
                               op->pim_removed[1] ? json_object_get(op->pim_removed[1])
                                                  : json_object_new_array());
        if (array_len(op->removed) > 0) {
            json_object_array_add(undo, role_step(op, "set-role"));
        }
        if (pim > 0) {
            char *why = wr_xasprintf(
                "%zu PIM eligible or time-bound assignment%s of role %s removed: weir cannot "
                "make PIM schedules again; re-create %s in Privileged Identity Management",
                pim, pim == 1 ? "" : "s", op->definition, pim == 1 ? "it" : "them");
            json_object_object_add(out, "undo_impossible", json_object_new_string(why));
            free(why);
        }
    }
    json_object_object_add(out, "before", before);
    json_object_object_add(out, "undo", undo);
}

/* {"id", "changed", "roleDefinitionId", "directoryScopeId"} and "removed", "removedEligible",
   "removedTimeBound" (remove-role) or "assignmentId" (set-role), with the undo record. */
static void op_succeed(struct role_op *op, bool changed, const char *assignment)
{
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(op->principal));
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    json_object_object_add(out, "roleDefinitionId", json_object_new_string(op->definition));
    json_object_object_add(out, "directoryScopeId", json_object_new_string(op->scope));
    if (op->remove) {
        json_object_object_add(out, "removed", json_object_get(op->removed));
        for (int k = 0; k < 2; k++) {
            json_object_object_add(out, pim_kinds[k].output,
                                   op->pim_removed[k] ? json_object_get(op->pim_removed[k])
                                                      : json_object_new_array());
        }
    } else {
        json_object_object_add(out, "assignmentId",
                               assignment ? json_object_new_string(assignment) : NULL);
    }
    add_undo(op, out, changed);
    wr_action_succeed(op->ctx, out);
}

static void delete_next(struct role_op *op);

static void deleted(void *arg, const struct wr_graph_result *res)
{
    struct role_op *op = arg;
    size_t n = array_len(op->found);
    const char *id = json_object_get_string(json_object_array_get_idx(op->found, n - 1));
    /* 404: removed by someone else since the read; the effect is the same. */
    if (!res->ok && res->status != 404) {
        wr_action_fail(op->ctx, res, false, "DELETE roleAssignments/%s", id);
        return;
    }
    if (res->ok) {
        char *why = NULL;
        bool retriable = false;
        if (!wr_graph_answer_done(res, NULL, &why, &retriable)) {
            /* 202 Accepted or an answer of another shape: not said to be removed. */
            struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
            wr_action_fail(op->ctx, &u, false, "DELETE roleAssignments/%s", id);
            free(why);
            return;
        }
        json_object_array_add(op->removed, json_object_new_string(id));
    }
    json_object_array_del_idx(op->found, n - 1, 1);
    delete_next(op);
}

static void pim_next(struct role_op *op);

/* Deletes the found assignments one after the other (the last first), then the PIM ones. */
static void delete_next(struct role_op *op)
{
    size_t n = array_len(op->found);
    if (n == 0) {
        op->kind = PIM_ELIGIBLE;
        pim_next(op);
        return;
    }
    const char *id = json_object_get_string(json_object_array_get_idx(op->found, n - 1));
    char *seg = wr_graph_escape(id);
    char *path = wr_xasprintf("/roleManagement/directory/roleAssignments/%s", seg);
    if (wr_action_write(op->ctx, "DELETE", path, NULL, deleted, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused DELETE %s", path);
    }
    free(path);
    free(seg);
}

static void read_assignments(struct role_op *op);

static void created(void *arg, const struct wr_graph_result *res)
{
    struct role_op *op = arg;
    int64_t age = lag_age(op, res);
    char *why = NULL;
    bool retriable = false;
    if (res->ok && wr_action_dry_run(op->ctx)) {
        op_succeed(op, true, NULL); /* nothing was sent: no assignment id to report */
        return;
    }
    struct json_object *a =
        res->ok ? wr_graph_answer_entity(res, "the role assignment", "id", &why, &retriable) : NULL;
    /* A 2xx that is not JSON (the client failed it: a proxy's page, a cut answer) is the same
       case as one without the id: made, most likely. */
    bool unreadable = !res->ok && res->status >= 200 && res->status <= 299;
    if (unreadable) {
        why = wr_xstrdup_or_null(res->error_message);
    }
    if (a) {
        op_succeed(op, true, json_object_get_string(json_object_object_get(a, "id")));
    } else if ((res->ok || unreadable) && !op->verify) {
        /* Made, most likely, but the answer does not say which: read the assignments back. */
        op->verify = true;
        op->err_status = res->status;
        op->err_code = wr_xstrdup(WR_GRAPH_UNEXPECTED);
        op->err_message = why;
        op->err_rid = wr_xstrdup_or_null(res->request_id);
        op->err_crid = wr_xstrdup_or_null(res->client_request_id);
        why = NULL;
        json_object_put(op->found);
        op->found = NULL;
        json_object_put(op->body);
        op->body = NULL;
        read_assignments(op);
    } else if (res->ok || unreadable) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why ? why : "", true);
        wr_action_fail(op->ctx, &u, false, "POST roleAssignments for user %s", op->principal);
    } else if (age >= 0) {
        wr_action_fail_lag(op->ctx, res, age, "POST roleAssignments for user %s", op->principal);
    } else if (res->status == 400 && !op->recheck) {
        /* Graph's duplicate is a plain 400 Request_BadRequest ("A conflicting object...");
           rather than match its text, read again: an assignment now present is success. */
        op->recheck = true;
        op->err_status = res->status;
        op->err_code = wr_xstrdup_or_null(res->error_code);
        op->err_message = wr_xstrdup_or_null(res->error_message);
        json_object_put(op->found);
        op->found = NULL;
        read_assignments(op);
    } else {
        wr_action_fail(op->ctx, res, false, "POST roleAssignments for user %s", op->principal);
    }
    free(why);
}

static void assignments_read(void *arg, const struct wr_directory_result *r)
{
    struct role_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    /* The scope is compared here rather than filtered: Graph documents only principalId and
       roleDefinitionId filters. */
    op->found = json_object_new_array();
    for (size_t i = 0; i < array_len(r->object); i++) {
        struct json_object *a = json_object_array_get_idx(r->object, i);
        const char *scope = json_object_get_string(json_object_object_get(a, "directoryScopeId"));
        const char *id = json_object_get_string(json_object_object_get(a, "id"));
        if (id && scope && strcmp(scope, op->scope) == 0) {
            json_object_array_add(op->found, json_object_new_string(id));
        }
    }
    if (op->remove) {
        op->removed = json_object_new_array();
        delete_next(op);
        return;
    }
    if ((op->recheck || op->verify) && array_len(op->found) == 0) {
        struct wr_graph_result post = {
            .status = op->err_status,
            .error_code = op->err_code,
            .error_message = op->err_message,
            .retriable = op->verify, /* an answer without an id may be followed by a good one */
            .request_id = op->err_rid,
            .client_request_id = op->err_crid,
        };
        wr_action_fail(op->ctx, &post, false, "POST roleAssignments for user %s", op->principal);
        return;
    }
    if (op->verify) {
        op_succeed(op, true, json_object_get_string(json_object_array_get_idx(op->found, 0)));
        return;
    }
    if (array_len(op->found) > 0) {
        op_succeed(op, false, json_object_get_string(json_object_array_get_idx(op->found, 0)));
        return;
    }
    op->body = json_object_new_object();
    json_object_object_add(op->body, "@odata.type",
                           json_object_new_string("#microsoft.graph.unifiedRoleAssignment"));
    json_object_object_add(op->body, "roleDefinitionId", json_object_new_string(op->definition));
    json_object_object_add(op->body, "principalId", json_object_new_string(op->principal));
    json_object_object_add(op->body, "directoryScopeId", json_object_new_string(op->scope));
    if (wr_action_write(op->ctx, "POST", "/roleManagement/directory/roleAssignments", op->body,
                        created, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST roleAssignments");
    }
}

/* Lists the principal's assignments of the role (every scope; compared afterwards). */
static void read_assignments(struct role_op *op)
{
    char *p = wr_directory_odata_string(op->principal);
    char *d = wr_directory_odata_string(op->definition);
    char *expr = wr_xasprintf("principalId eq %s and roleDefinitionId eq %s", p, d);
    char *enc = wr_graph_escape(expr);
    char *path = wr_xasprintf("/roleManagement/directory/roleAssignments?$filter=%s", enc);
    wr_directory_list(wr_action_directory(op->ctx), path, assignments_read, op);
    free(path);
    free(enc);
    free(expr);
    free(d);
    free(p);
}

/* {------ PIM: eligible and time-bound assignments (remove-role) ------ */

static void pim_list(struct role_op *op);

/* Graph refused to read or remove schedules of op->kind: name what the app lacks. */
static void pim_forbidden(struct role_op *op, const struct wr_graph_result *res, const char *what)
{
    size_t n = array_len(op->removed) + array_len(op->pim_removed[PIM_ELIGIBLE]);
    wr_action_fail(
        op->ctx, res, false,
        "remove-role could not %s the %s of role %s for user %s (removed so far: %zu "
        "assignment%s): the app needs the %s application permission; grant it (with admin "
        "consent), or set pim: false on this step to remove only active assignments",
        what, pim_kinds[op->kind].what, op->definition, op->principal, n, n == 1 ? "" : "s",
        pim_kinds[op->kind].permission);
}

static void pim_requested(void *arg, const struct wr_graph_result *res)
{
    struct role_op *op = arg;
    int64_t age = lag_age(op, res);
    char *why = NULL;
    bool retriable = false;
    if (res->ok && !wr_action_dry_run(op->ctx) &&
        !wr_graph_answer_entity(res, "the schedule request", "id", &why, &retriable)) {
        /* Graph answers 201 with the request it made: anything else does not say the schedules
           were removed. */
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "POST %s (adminRemove) for user %s",
                       pim_kinds[op->kind].requests, op->principal);
    } else if (res->ok) {
        json_object_put(op->pim_removed[op->kind]);
        op->pim_removed[op->kind] = json_object_get(op->schedules);
        op->kind++;
        pim_next(op);
    } else if (res->status == 403) {
        pim_forbidden(op, res, "remove");
    } else if (age >= 0) {
        wr_action_fail_lag(op->ctx, res, age, "POST %s (adminRemove) for user %s",
                           pim_kinds[op->kind].requests, op->principal);
    } else if ((res->status == 400 || res->status == 404) && !op->pim_recheck) {
        /* Refused: maybe nothing is left to remove (someone else, or this request's own first
           attempt, removed it). Read again; what is still there decides. */
        op->pim_recheck = true;
        pim_list(op);
    } else {
        wr_action_fail(op->ctx, res, false, "POST %s (adminRemove) for user %s",
                       pim_kinds[op->kind].requests, op->principal);
    }
    free(why);
}

static void pim_listed(void *arg, const struct wr_directory_result *r)
{
    struct role_op *op = arg;
    if (!r->ok && r->graph && r->graph->status == 403) {
        pim_forbidden(op, r->graph, "read");
        return;
    }
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    json_object_put(op->schedules);
    op->schedules = json_object_new_array();
    for (size_t i = 0; i < array_len(r->object); i++) {
        struct json_object *a = json_object_array_get_idx(r->object, i);
        const char *scope = json_object_get_string(json_object_object_get(a, "directoryScopeId"));
        const char *id = json_object_get_string(json_object_object_get(a, "id"));
        if (id && scope && strcmp(scope, op->scope) == 0) {
            json_object_array_add(op->schedules, json_object_new_string(id));
        }
    }
    if (array_len(op->schedules) == 0) {
        /* Nothing (left) of this kind: after a refused request, someone removed it already. */
        op->pim_recheck = false;
        op->kind++;
        pim_next(op);
        return;
    }
    if (op->pim_recheck) {
        wr_action_fail(
            op->ctx, NULL, false,
            "POST %s (adminRemove) was refused and the %s of role %s for user %s are still "
            "there",
            pim_kinds[op->kind].requests, pim_kinds[op->kind].what, op->definition, op->principal);
        return;
    }
    /* One request removes the principal's schedules of the role at the scope. Key order as in
       Graph's documented adminRemove example. */
    json_object_put(op->body);
    op->body = json_object_new_object();
    json_object_object_add(op->body, "action", json_object_new_string("adminRemove"));
    json_object_object_add(op->body, "roleDefinitionId", json_object_new_string(op->definition));
    json_object_object_add(op->body, "directoryScopeId", json_object_new_string(op->scope));
    json_object_object_add(op->body, "principalId", json_object_new_string(op->principal));
    char *path = wr_xasprintf("/roleManagement/directory/%s", pim_kinds[op->kind].requests);
    if (wr_action_write(op->ctx, "POST", path, op->body, pim_requested, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST %s", path);
    }
    free(path);
}

/* Lists the principal's schedules of op->kind for the role (every scope; compared after). */
static void pim_list(struct role_op *op)
{
    char *p = wr_directory_odata_string(op->principal);
    char *d = wr_directory_odata_string(op->definition);
    char *expr = wr_xasprintf("principalId eq %s and roleDefinitionId eq %s", p, d);
    char *enc = wr_graph_escape(expr);
    char *path =
        wr_xasprintf("/roleManagement/directory/%s?$filter=%s", pim_kinds[op->kind].schedules, enc);
    wr_directory_list(wr_action_directory(op->ctx), path, pim_listed, op);
    free(path);
    free(enc);
    free(expr);
    free(d);
    free(p);
}

static void pim_next(struct role_op *op)
{
    if (!op->pim || op->kind >= PIM_DONE) {
        bool changed =
            array_len(op->removed) + array_len(op->pim_removed[0]) + array_len(op->pim_removed[1]) >
            0;
        op_succeed(op, changed, NULL);
        return;
    }
    pim_list(op);
}

/* }------ */

static void role_found(void *arg, const struct wr_directory_result *r)
{
    struct role_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->definition = wr_xstrdup(r->id);
    read_assignments(op);
}

static void user_found(void *arg, const struct wr_directory_result *r)
{
    struct role_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    /* Graph wants the principal's object id, never a UPN. */
    op->principal = wr_xstrdup(r->id);
    wr_directory_role(wr_action_directory(op->ctx), wr_action_arg_str(op->ctx, "role"), role_found,
                      op);
}

static void role_run(struct wr_action_ctx *ctx, bool remove)
{
    struct role_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    op->ctx = ctx;
    op->remove = remove;
    op->scope = wr_action_arg_str(ctx, "scope");
    if (!op->scope || !*op->scope) {
        op->scope = "/";
    }
    struct json_object *pim = NULL;
    op->pim =
        remove && (!json_object_object_get_ex(wr_action_args(ctx), "pim", &pim) ||
                   !json_object_is_type(pim, json_type_boolean) || json_object_get_boolean(pim));
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, user_found, op);
}

static void set_role_run(struct wr_action_ctx *ctx)
{
    role_run(ctx, false);
}

static void remove_role_run(struct wr_action_ctx *ctx)
{
    role_run(ctx, true);
}

/* }====== */

const struct wr_action wr_action_set_role = {
    .name = "set-role",
    .summary = "assign a directory role (POST roleAssignments); already assigned is success",
    .args = role_args,
    .execute = set_role_run,
    .destructive = WR_DESTRUCTIVE_NO,
    .destructive_note = "grants privilege rather than taking access away",
};

const struct wr_action wr_action_remove_role = {
    .name = "remove-role",
    .summary = "remove a directory role: active, PIM eligible and time-bound assignments; not "
               "assigned is success",
    .args = remove_role_args,
    .execute = remove_role_run,
    .destructive = WR_DESTRUCTIVE_YES,
};
