/*
 * onedrive — share-onedrive and unshare-onedrive: give someone (typically the manager) access
 * to a user's OneDrive, and take it back.
 *
 * Both find the user's drive (GET /users/{id}/drive: a 404 there is a user without OneDrive —
 * not licensed for it, or never provisioned), read the permissions on its root
 * (GET /drives/{driveId}/root/permissions) and change only what differs:
 *
 *  - share-onedrive: no permission of the recipient: POST /drives/{driveId}/root/invite; one
 *    with another role: PATCH the permission's roles; one with the asked role: changed false.
 *    The undo record removes what it added (unshare-onedrive) or puts the old role back
 *    (share-onedrive with that role).
 *  - unshare-onedrive: DELETE /drives/{driveId}/root/permissions/{permId} for each permission
 *    of the recipient (a 404 is "already gone"); none left is success.
 *
 * The recipient (`with:`) is a user reference (object id, userPrincipalName, mail,
 * employeeId:VALUE); an address no user of the tenant has is an outside recipient, invited by
 * address. A permission is the recipient's when its grantedToV2 / grantedTo user has the
 * recipient's id or address, or its invitation is for that address. The owner's own
 * permission is never touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actions/action.h"
#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"

static const char *const share_roles[] = {"read", "write", NULL};

static const struct wr_argspec share_args[] = {
    {.name = "user",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "whose OneDrive: object id, userPrincipalName, mail or employeeId:VALUE"},
    {.name = "with",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "the recipient: a user reference, or an address outside the tenant"},
    {.name = "role",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_REQUIRED,
     .choices = share_roles,
     .help = "read or write"},
    {.name = "require_sign_in",
     .type = WR_ARG_BOOL,
     .help = "the recipient must sign in to open it (default true)"},
    {.name = "send_invitation",
     .type = WR_ARG_BOOL,
     .help = "Graph mails the recipient a sharing invitation (default false)"},
    {.name = "message", .type = WR_ARG_STRING, .help = "text for the invitation mail"},
    {0},
};

static const struct wr_argspec unshare_args[] = {
    {.name = "user",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "whose OneDrive: object id, userPrincipalName, mail or employeeId:VALUE"},
    {.name = "with",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "the recipient whose access is removed: a user reference or an address"},
    {0},
};

/* {====== shared by both ====== */

/* One execution's state (wr_action_state): the engine frees it, after op_clear. */
struct drive_op {
    struct wr_action_ctx *ctx;
    bool unshare;
    char *user;     /* the owner's object id */
    char *rid;      /* the recipient's object id, or NULL (outside the tenant) */
    char *email;    /* the recipient's address */
    char *drive;    /* the drive's id */
    char *perm;     /* share: the recipient's permission id, once known */
    char *old_role; /* share: the role the recipient had, or NULL */
    char *path;     /* the request under way, for messages */
    struct json_object *body;
    struct json_object *gone; /* unshare: permissions removed [{id, roles}] */
    struct json_object *todo; /* unshare: permissions still to remove (ids) */
    size_t next;
};

static void op_clear(void *state)
{
    struct drive_op *op = state;
    free(op->user);
    free(op->rid);
    free(op->email);
    free(op->drive);
    free(op->perm);
    free(op->old_role);
    free(op->path);
    json_object_put(op->body);
    json_object_put(op->gone);
    json_object_put(op->todo);
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static bool same(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

/* Whether permission p is the recipient's. */
static bool is_recipients(const struct drive_op *op, struct json_object *p)
{
    static const char *const holders[] = {"grantedToV2", "grantedTo", NULL};
    for (size_t i = 0; holders[i]; i++) {
        struct json_object *g = NULL, *u = NULL;
        if (json_object_object_get_ex(p, holders[i], &g) &&
            json_object_object_get_ex(g, "user", &u)) {
            if (same(str_of(u, "id"), op->rid) || same(str_of(u, "email"), op->email)) {
                return true;
            }
        }
    }
    struct json_object *inv = NULL;
    return json_object_object_get_ex(p, "invitation", &inv) &&
           same(str_of(inv, "email"), op->email);
}

/* Whether permission p holds role (its roles array). */
static bool has_role(struct json_object *p, const char *role)
{
    struct json_object *roles = NULL;
    if (!json_object_object_get_ex(p, "roles", &roles) ||
        !json_object_is_type(roles, json_type_array)) {
        return false;
    }
    for (size_t i = 0; i < json_object_array_length(roles); i++) {
        if (same(json_object_get_string(json_object_array_get_idx(roles, i)), role)) {
            return true;
        }
    }
    return false;
}

/* The recipient as an undo step names it: its object id, else its address. */
static const char *recipient_ref(const struct drive_op *op)
{
    return op->rid ? op->rid : op->email;
}

static void permissions_read(void *arg, const struct wr_graph_result *res);

static void drive_read(void *arg, const struct wr_graph_result *res)
{
    struct drive_op *op = arg;
    if (!res->ok) {
        if (res->status == 404 && op->unshare) {
            /* No OneDrive: nothing is shared from it. */
            struct json_object *out = json_object_new_object();
            json_object_object_add(out, "user", json_object_new_string(op->user));
            json_object_object_add(out, "changed", json_object_new_boolean(false));
            json_object_object_add(out, "undo", json_object_new_array());
            wr_action_succeed(op->ctx, out);
        } else if (res->status == 404) {
            wr_action_fail(op->ctx, res, false,
                           "user %s has no OneDrive (not licensed for it, or never provisioned: "
                           "a OneDrive is made at first sign-in or by pre-provisioning)",
                           op->user);
        } else {
            wr_action_fail(op->ctx, res, false, "GET %s", op->path);
        }
        return;
    }
    char *why = NULL;
    bool retriable = false;
    struct json_object *d = wr_graph_answer_entity(res, "a drive", "id", &why, &retriable);
    if (!d) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "GET %s", op->path);
        free(why);
        return;
    }
    op->drive = wr_xstrdup(str_of(d, "id"));
    char *dseg = wr_graph_escape(op->drive);
    free(op->path);
    op->path = wr_xasprintf("/drives/%s/root/permissions", dseg);
    free(dseg);
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", op->path, NULL, 0, permissions_read,
                         op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused GET %s", op->path);
    }
}

static void recipient_found(void *arg, const struct wr_directory_result *r)
{
    struct drive_op *op = arg;
    const char *ref = wr_action_arg_str(op->ctx, "with");
    if (r->ok) {
        op->rid = wr_xstrdup(r->id);
        const char *mail = str_of(r->object, "mail");
        const char *upn = str_of(r->object, "userPrincipalName");
        op->email = wr_xstrdup(mail && *mail ? mail : upn ? upn : ref);
    } else if (r->not_found && r->created_ago_ms < 0 && ref && strchr(ref, '@')) {
        op->email = wr_xstrdup(ref); /* an address outside the tenant */
    } else {
        wr_action_fail_lookup(op->ctx, "with", r);
        return;
    }
    if (same(op->rid, op->user)) {
        wr_action_fail(op->ctx, NULL, false, "with: %s is the owner of the OneDrive", ref);
        return;
    }
    op->path = wr_directory_user_path(op->user, "/drive?$select=id,driveType,owner");
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", op->path, NULL, 0, drive_read, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused GET %s", op->path);
    }
}

static void owner_found(void *arg, const struct wr_directory_result *r)
{
    struct drive_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->user = wr_xstrdup(r->id);
    wr_action_find_user(op->ctx, "with", wr_action_arg_str(op->ctx, "with"),
                        "id,mail,userPrincipalName", recipient_found, op);
}

static void op_start(struct wr_action_ctx *ctx, bool unshare)
{
    struct drive_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    op->ctx = ctx;
    op->unshare = unshare;
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, owner_found, op);
}

/* }====== */

/* {====== share-onedrive ====== */

static bool arg_bool(struct wr_action_ctx *ctx, const char *name, bool dflt)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(wr_action_args(ctx), name, &v) &&
                   json_object_is_type(v, json_type_boolean)
               ? json_object_get_boolean(v)
               : dflt;
}

static void share_succeed(struct drive_op *op, bool changed)
{
    const char *role = wr_action_arg_str(op->ctx, "role");
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "user", json_object_new_string(op->user));
    json_object_object_add(out, "drive", json_object_new_string(op->drive));
    struct json_object *with = json_object_new_object();
    json_object_object_add(with, "id", op->rid ? json_object_new_string(op->rid) : NULL);
    json_object_object_add(with, "email", json_object_new_string(op->email));
    json_object_object_add(out, "with", with);
    json_object_object_add(out, "role", json_object_new_string(role));
    json_object_object_add(out, "permissionId", op->perm ? json_object_new_string(op->perm) : NULL);
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    struct json_object *before = json_object_new_object();
    json_object_object_add(before, "role",
                           op->old_role ? json_object_new_string(op->old_role) : NULL);
    json_object_object_add(out, "before", before);
    struct json_object *undo = json_object_new_array();
    if (changed) {
        struct json_object *step = json_object_new_object();
        json_object_object_add(
            step, "action",
            json_object_new_string(op->old_role ? "share-onedrive" : "unshare-onedrive"));
        json_object_object_add(step, "user", json_object_new_string(op->user));
        json_object_object_add(step, "with", json_object_new_string(recipient_ref(op)));
        if (op->old_role) {
            json_object_object_add(step, "role", json_object_new_string(op->old_role));
        }
        json_object_array_add(undo, step);
    }
    json_object_object_add(out, "undo", undo);
    wr_action_succeed(op->ctx, out);
}

static void share_written(void *arg, const struct wr_graph_result *res)
{
    struct drive_op *op = arg;
    if (!res->ok) {
        wr_action_fail(op->ctx, res, false, "%s %s", op->perm ? "PATCH" : "POST", op->path);
        return;
    }
    if (wr_action_dry_run(op->ctx)) {
        share_succeed(op, true);
        return;
    }
    char *why = NULL;
    bool retriable = false;
    if (op->perm) {
        /* PATCH answers the permission. */
        if (!wr_graph_answer_done(res, NULL, &why, &retriable)) {
            struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
            wr_action_fail(op->ctx, &u, false, "PATCH %s", op->path);
            free(why);
            return;
        }
        share_succeed(op, true);
        return;
    }
    /* invite answers {"value": [permission]}. */
    struct json_object *list =
        wr_graph_answer_items(res, "the permissions", "id", &why, &retriable);
    if (!list || json_object_array_length(list) == 0) {
        struct wr_graph_result u =
            wr_graph_result_unusable(res, why ? why : "the answer lists no permission", retriable);
        wr_action_fail(op->ctx, &u, false, "POST %s", op->path);
        free(why);
        return;
    }
    op->perm = wr_xstrdup(str_of(json_object_array_get_idx(list, 0), "id"));
    share_succeed(op, true);
}

static void share_decide(struct drive_op *op, struct json_object *list)
{
    const char *role = wr_action_arg_str(op->ctx, "role");
    struct json_object *mine = NULL;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *p = json_object_array_get_idx(list, i);
        if (is_recipients(op, p) && !has_role(p, "owner")) {
            mine = p;
            break;
        }
    }
    char *dseg = wr_graph_escape(op->drive);
    if (mine) {
        op->perm = wr_xstrdup(str_of(mine, "id"));
        if (has_role(mine, role)) {
            free(dseg);
            share_succeed(op, false);
            return;
        }
        op->old_role = wr_xstrdup(has_role(mine, "write") ? "write" : "read");
        char *pseg = wr_graph_escape(op->perm);
        free(op->path);
        op->path = wr_xasprintf("/drives/%s/root/permissions/%s", dseg, pseg);
        free(pseg);
        op->body = json_object_new_object();
        struct json_object *roles = json_object_new_array();
        json_object_array_add(roles, json_object_new_string(role));
        json_object_object_add(op->body, "roles", roles);
        if (wr_action_write(op->ctx, "PATCH", op->path, op->body, share_written, op) != 0) {
            wr_action_fail(op->ctx, NULL, false, "the Graph client refused PATCH %s", op->path);
        }
        free(dseg);
        return;
    }
    free(op->path);
    op->path = wr_xasprintf("/drives/%s/root/invite", dseg);
    free(dseg);
    op->body = json_object_new_object();
    struct json_object *recipients = json_object_new_array(), *r = json_object_new_object();
    json_object_object_add(r, "email", json_object_new_string(op->email));
    json_object_array_add(recipients, r);
    json_object_object_add(op->body, "recipients", recipients);
    struct json_object *roles = json_object_new_array();
    json_object_array_add(roles, json_object_new_string(role));
    json_object_object_add(op->body, "roles", roles);
    json_object_object_add(op->body, "requireSignIn",
                           json_object_new_boolean(arg_bool(op->ctx, "require_sign_in", true)));
    json_object_object_add(op->body, "sendInvitation",
                           json_object_new_boolean(arg_bool(op->ctx, "send_invitation", false)));
    const char *msg = wr_action_arg_str(op->ctx, "message");
    if (msg && *msg) {
        json_object_object_add(op->body, "message", json_object_new_string(msg));
    }
    if (wr_action_write(op->ctx, "POST", op->path, op->body, share_written, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST %s", op->path);
    }
}

static void share_run(struct wr_action_ctx *ctx)
{
    op_start(ctx, false);
}

/* }====== */

/* {====== unshare-onedrive ====== */

static void unshare_next(struct drive_op *op);

static void unshare_deleted(void *arg, const struct wr_graph_result *res)
{
    struct drive_op *op = arg;
    char *why = NULL;
    bool retriable = false;
    if (!res->ok && res->status != 404) { /* 404: already gone */
        wr_action_fail(op->ctx, res, false, "DELETE %s", op->path);
        return;
    }
    if (res->ok && !wr_graph_answer_done(res, NULL, &why, &retriable)) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "DELETE %s", op->path);
        free(why);
        return;
    }
    op->next++;
    unshare_next(op);
}

static void unshare_next(struct drive_op *op)
{
    size_t n = json_object_array_length(op->todo);
    if (op->next < n) {
        const char *id = json_object_get_string(json_object_array_get_idx(op->todo, op->next));
        char *dseg = wr_graph_escape(op->drive), *pseg = wr_graph_escape(id);
        free(op->path);
        op->path = wr_xasprintf("/drives/%s/root/permissions/%s", dseg, pseg);
        free(dseg);
        free(pseg);
        if (wr_action_write(op->ctx, "DELETE", op->path, NULL, unshare_deleted, op) != 0) {
            wr_action_fail(op->ctx, NULL, false, "the Graph client refused DELETE %s", op->path);
        }
        return;
    }
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "user", json_object_new_string(op->user));
    json_object_object_add(out, "drive", json_object_new_string(op->drive));
    json_object_object_add(out, "changed", json_object_new_boolean(n > 0));
    struct json_object *before = json_object_new_object();
    json_object_object_add(before, "permissions", json_object_get(op->gone));
    json_object_object_add(out, "before", before);
    struct json_object *undo = json_object_new_array();
    if (n > 0) {
        /* Back as it was: the strongest role the recipient had, without a new mail. */
        bool write = false;
        for (size_t i = 0; i < json_object_array_length(op->gone); i++) {
            write = write || has_role(json_object_array_get_idx(op->gone, i), "write");
        }
        struct json_object *step = json_object_new_object();
        json_object_object_add(step, "action", json_object_new_string("share-onedrive"));
        json_object_object_add(step, "user", json_object_new_string(op->user));
        json_object_object_add(step, "with", json_object_new_string(recipient_ref(op)));
        json_object_object_add(step, "role", json_object_new_string(write ? "write" : "read"));
        json_object_object_add(step, "send_invitation", json_object_new_boolean(false));
        json_object_array_add(undo, step);
    }
    json_object_object_add(out, "undo", undo);
    wr_action_succeed(op->ctx, out);
}

static void unshare_decide(struct drive_op *op, struct json_object *list)
{
    op->gone = json_object_new_array();
    op->todo = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *p = json_object_array_get_idx(list, i);
        if (!is_recipients(op, p) || has_role(p, "owner")) {
            continue;
        }
        struct json_object *g = json_object_new_object(), *roles = NULL;
        json_object_object_add(g, "id", json_object_new_string(str_of(p, "id")));
        if (json_object_object_get_ex(p, "roles", &roles)) {
            json_object_object_add(g, "roles", json_object_get(roles));
        }
        json_object_array_add(op->gone, g);
        json_object_array_add(op->todo, json_object_new_string(str_of(p, "id")));
    }
    unshare_next(op);
}

static void unshare_run(struct wr_action_ctx *ctx)
{
    op_start(ctx, true);
}

/* }====== */

static void permissions_read(void *arg, const struct wr_graph_result *res)
{
    struct drive_op *op = arg;
    if (!res->ok) {
        wr_action_fail(op->ctx, res, false, "GET %s", op->path);
        return;
    }
    char *why = NULL;
    bool retriable = false;
    struct json_object *list =
        wr_graph_answer_items(res, "the drive's permissions", "id", &why, &retriable);
    if (!list) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "GET %s", op->path);
        free(why);
        return;
    }
    if (op->unshare) {
        unshare_decide(op, list);
    } else {
        share_decide(op, list);
    }
}

const struct wr_action wr_action_share_onedrive = {
    .name = "share-onedrive",
    .summary = "give someone read or write access to a user's OneDrive; the same access already "
               "given is success",
    .args = share_args,
    .execute = share_run,
    .destructive = WR_DESTRUCTIVE_NO,
};

const struct wr_action wr_action_unshare_onedrive = {
    .name = "unshare-onedrive",
    .summary = "remove someone's access to a user's OneDrive; no access left is success",
    .args = unshare_args,
    .execute = unshare_run,
    .destructive = WR_DESTRUCTIVE_YES,
};
