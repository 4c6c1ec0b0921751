/*
 * user — the actions on a user object itself: update-user, create-user, disable-user,
 * enable-user, delete-user, restore-user and revoke-sessions. Each is a descriptor with its
 * argument table; they share nothing but the `user` argument.
 *
 * Each records what it replaced (issue 18, action.h): "before" (the old property values, the
 * old accountEnabled, the deleted user's id and userPrincipalName) and "undo", the steps that
 * put it back by object id — update-user with the old values, enable-user after disable-user
 * and back, delete-user after create-user and after restore-user, restore-user after
 * delete-user ([] when nothing changed). revoke-sessions cannot be undone and says so in
 * "undo_impossible".
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "actions/action.h"
#include "engine/base/clock.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"
#include "engine/base/strutil.h"

static const struct wr_argspec user_only_args[] = {
    WR_ARGSPEC_USER,
    {0},
};

static const struct wr_argspec update_user_args[] = {
    WR_ARGSPEC_USER,
    {.name = "set",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED,
     .help = "Graph user properties to set; only those that differ are written",
     .schema = "{\"minProperties\": 1}"}, /* update_user_validate */
    {0},
};

static void update_user_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *set = NULL;
    if (json_object_object_get_ex(args, "set", &set) &&
        json_object_is_type(set, json_type_object) && json_object_object_length(set) == 0) {
        char *p = wr_path_key(path, "set");
        wr_check_error(c, p, false, "is empty: name at least one property to set");
        free(p);
    }
}

static const struct wr_argspec create_user_args[] = {
    {.name = "set",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED,
     .help = "the new user's properties: userPrincipalName, displayName and mailNickname "
             "required; accountEnabled defaults to true; a strong password is generated",
     /* create_user_validate */
     .schema = "{\"required\": [\"userPrincipalName\", \"displayName\", \"mailNickname\"]}"},
    {0},
};

static void create_user_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    static const char *const required[] = {"userPrincipalName", "displayName", "mailNickname"};
    struct json_object *set = NULL;
    if (!json_object_object_get_ex(args, "set", &set) ||
        !json_object_is_type(set, json_type_object)) {
        return; /* a template, or already reported */
    }
    char *p = wr_path_key(path, "set");
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!json_object_object_get_ex(set, required[i], NULL)) {
            wr_check_error(c, p, false, "create-user needs '%s' in 'set'", required[i]);
        }
    }
    free(p);
}

/* {====== shared by the user actions ====== */

/* One execution's state (wr_action_state): the engine frees it, after op_clear. */
struct user_op {
    struct wr_action_ctx *ctx;
    char *id;                   /* the user's object id */
    char *upn;                  /* create-user: the new user's userPrincipalName */
    struct json_object *body;   /* the write's body */
    struct json_object *before; /* update-user: the old values of what body writes */
    bool enable;                /* disable-user / enable-user: the wanted accountEnabled */
    /* create-user: the POST's failure (or its unusable 2xx), kept while the user is looked up */
    long err_status;
    char *err_code;
    char *err_message;
    char *err_rid;
    char *err_crid;
    bool err_retriable;
    int post_attempts; /* HTTP attempts the POST took: more than one may mean it landed */
};

static void op_clear(void *state)
{
    struct user_op *op = state;
    free(op->id);
    free(op->upn);
    json_object_put(op->body);
    json_object_put(op->before);
    free(op->err_code);
    free(op->err_message);
    free(op->err_rid);
    free(op->err_crid);
}

static struct user_op *op_get(struct wr_action_ctx *ctx)
{
    struct user_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    op->ctx = ctx;
    return op;
}

/* {"id": id, "changed": changed}. Owned. */
static struct json_object *outcome(const char *id, bool changed)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", id ? json_object_new_string(id) : NULL);
    json_object_object_add(o, "changed", json_object_new_boolean(changed));
    return o;
}

/* A step mapping {"action": action, "user": user} (user may be NULL: null). Owned. */
static struct json_object *user_step(const char *action, const char *user)
{
    struct json_object *step = json_object_new_object();
    json_object_object_add(step, "action", json_object_new_string(action));
    json_object_object_add(step, "user", user ? json_object_new_string(user) : NULL);
    return step;
}

/* Adds the undo record to out: "before" (taken; NULL = {}) and "undo", the one step
   `step` (taken) or [] when step is NULL. */
static void add_undo(struct json_object *out, struct json_object *before, struct json_object *step)
{
    struct json_object *undo = json_object_new_array();
    if (step) {
        json_object_array_add(undo, step);
    }
    json_object_object_add(out, "before", before ? before : json_object_new_object());
    json_object_object_add(out, "undo", undo);
}

/* A failed write about user op->id: replica lag when it is a 404 for a user weir created
   moments ago, else Graph's answer. what is "PATCH /users/ID" and the like. */
static void op_fail_write(struct user_op *op, const struct wr_graph_result *res, const char *what)
{
    int64_t age =
        res->status == 404 ? wr_directory_created_ago(wr_action_directory(op->ctx), op->id) : -1;
    if (age >= 0) {
        wr_action_fail_lag(op->ctx, res, age, "%s", what);
    } else {
        wr_action_fail(op->ctx, res, false, "%s", what);
    }
}

/* A write Graph answered 2xx: true when the answer says the change was made (204, or a JSON
   object); else fails op naming what Graph sent (202 Accepted, an array...) and returns false.
   what is "PATCH /users/ID" and the like. */
static bool write_done(struct user_op *op, const struct wr_graph_result *res, const char *what)
{
    char *why = NULL;
    bool retriable = false;
    if (wr_graph_answer_done(res, NULL, &why, &retriable)) {
        return true;
    }
    struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
    wr_action_fail(op->ctx, &u, false, "%s", what);
    free(why);
    return false;
}

/* "/users/{id}" plus suffix (wr_directory_user_path). Owned. */
static char *user_path(const char *id, const char *suffix)
{
    return wr_directory_user_path(id, suffix);
}

/* o's member named key, or (Graph names are case-insensitive) one that differs in case. */
static struct json_object *member_ci(struct json_object *o, const char *key, bool *present)
{
    struct json_object *v = NULL;
    *present = false;
    if (json_object_object_get_ex(o, key, &v)) {
        *present = true;
        return v;
    }
    json_object_object_foreach(o, k, val)
    {
        if (strcasecmp(k, key) == 0) {
            *present = true;
            return val;
        }
    }
    return NULL;
}

/* A copy of v with every "password" member replaced by "***": outputs are stored and printed. */
static struct json_object *masked(struct json_object *v)
{
    if (json_object_is_type(v, json_type_object)) {
        struct json_object *out = json_object_new_object();
        json_object_object_foreach(v, key, val)
        {
            json_object_object_add(out, key,
                                   strcmp(key, "password") == 0 ? json_object_new_string("***")
                                                                : masked(val));
        }
        return out;
    }
    return json_object_get(v);
}

/* }====== */

/* {====== update-user ====== */

static void update_user_written(void *arg, const struct wr_graph_result *res)
{
    struct user_op *op = arg;
    char *what = wr_xasprintf("PATCH /users/%s", op->id);
    bool done = res->ok && write_done(op, res, what);
    if (!res->ok) {
        op_fail_write(op, res, what);
    }
    free(what);
    if (!done) {
        return;
    }
    bool present;
    member_ci(op->body, "usageLocation", &present);
    if (present && !wr_action_dry_run(op->ctx)) {
        /* assignLicense right after may reach a replica with the old location. */
        wr_directory_note_location(wr_action_directory(op->ctx), op->id);
    }
    struct json_object *out = outcome(op->id, true);
    json_object_object_add(out, "set", masked(op->body));
    /* The old values, null for a property that had none — but for what cannot be put back: the
       password (never readable) and a usageLocation the user did not have (Graph takes no null
       for it). Those are named in undo_impossible, next to the rest's undo. */
    struct json_object *set = json_object_new_object();
    struct wr_buf lost = {0};
    json_object_object_foreach(op->before, key, old)
    {
        if (strcasecmp(key, "usageLocation") == 0 && old == NULL) {
            wr_buf_add(&lost, "the usageLocation it set stays (Graph takes no null for it)");
        } else {
            json_object_object_add(set, key, json_object_get(old));
        }
    }
    member_ci(op->body, "passwordProfile", &present);
    if (present) {
        wr_buf_addf(&lost, "%sthe old password cannot be read back, so undo cannot restore it",
                    lost.len ? "; " : "");
    }
    struct json_object *step = NULL;
    if (json_object_object_length(set) > 0) {
        step = user_step("update-user", op->id);
        json_object_object_add(step, "set", json_object_get(set));
    }
    json_object_put(set);
    add_undo(out, json_object_get(op->before), step);
    if (lost.len) {
        json_object_object_add(out, "undo_impossible", json_object_new_string(wr_buf_str(&lost)));
    }
    wr_buf_free(&lost);
    wr_action_succeed(op->ctx, out);
}

static void update_user_found(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    struct json_object *set = json_object_object_get(wr_action_args(op->ctx), "set");
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->id = wr_xstrdup(r->id);
    op->body = json_object_new_object();
    op->before = json_object_new_object();
    json_object_object_foreach(set, key, want)
    {
        bool present;
        struct json_object *have = member_ci(r->object, key, &present);
        /* A password can never be read back, so a passwordProfile is always written. */
        if (strcasecmp(key, "passwordProfile") == 0) {
            json_object_object_add(op->body, key, json_object_get(want));
        } else if (!json_object_equal(want, have)) {
            json_object_object_add(op->body, key, json_object_get(want));
            json_object_object_add(op->before, key, json_object_get(have));
        }
    }
    if (json_object_object_length(op->body) == 0) {
        struct json_object *out = outcome(op->id, false);
        add_undo(out, NULL, NULL);
        wr_action_succeed(op->ctx, out);
        return;
    }
    char *path = user_path(op->id, "");
    if (wr_action_write(op->ctx, "PATCH", path, op->body, update_user_written, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused PATCH %s", path);
    }
    free(path);
}

static void update_user_run(struct wr_action_ctx *ctx)
{
    struct user_op *op = op_get(ctx);
    struct json_object *set = NULL;
    if (!json_object_object_get_ex(wr_action_args(ctx), "set", &set) ||
        !json_object_is_type(set, json_type_object) || json_object_object_length(set) == 0) {
        wr_action_fail(op->ctx, NULL, false,
                       "'set' must be a non-empty mapping of user properties");
        return;
    }
    struct wr_buf select = {0};
    json_object_object_foreach(set, key, val)
    {
        (void)val;
        /* passwordProfile is never readable; selecting it would only cost a round trip. */
        if (strcasecmp(key, "passwordProfile") != 0) {
            wr_buf_addf(&select, "%s%s", select.len ? "," : "", key);
        }
    }
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), wr_buf_str(&select),
                        update_user_found, op);
    wr_buf_free(&select);
}

/* }====== */

/* {====== disable-user / enable-user ====== */

static void set_enabled_written(void *arg, const struct wr_graph_result *res)
{
    struct user_op *op = arg;
    char *what = wr_xasprintf("PATCH /users/%s", op->id);
    bool done = res->ok && write_done(op, res, what);
    if (!res->ok) {
        op_fail_write(op, res, what);
    }
    free(what);
    if (!done) {
        return;
    }
    struct json_object *out = outcome(op->id, true);
    json_object_object_add(out, "accountEnabled", json_object_new_boolean(op->enable));
    struct json_object *before = json_object_new_object();
    json_object_object_add(before, "accountEnabled", json_object_get(op->before));
    add_undo(out, before, user_step(op->enable ? "disable-user" : "enable-user", op->id));
    wr_action_succeed(op->ctx, out);
}

static void set_enabled_found(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->id = wr_xstrdup(r->id);
    struct json_object *have = json_object_object_get(r->object, "accountEnabled");
    if (json_object_is_type(have, json_type_boolean) &&
        json_object_get_boolean(have) == op->enable) {
        struct json_object *out = outcome(op->id, false);
        json_object_object_add(out, "accountEnabled", json_object_new_boolean(op->enable));
        struct json_object *before = json_object_new_object();
        json_object_object_add(before, "accountEnabled", json_object_get(have));
        add_undo(out, before, NULL);
        wr_action_succeed(op->ctx, out);
        return;
    }
    op->before = json_object_get(have); /* the old accountEnabled (null when unset) */
    op->body = json_object_new_object();
    json_object_object_add(op->body, "accountEnabled", json_object_new_boolean(op->enable));
    char *path = user_path(op->id, "");
    if (wr_action_write(op->ctx, "PATCH", path, op->body, set_enabled_written, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused PATCH %s", path);
    }
    free(path);
}

static void set_enabled(struct wr_action_ctx *ctx, bool enable)
{
    struct user_op *op = op_get(ctx);
    op->enable = enable;
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), "accountEnabled",
                        set_enabled_found, op);
}

static void disable_user_run(struct wr_action_ctx *ctx)
{
    set_enabled(ctx, false);
}

static void enable_user_run(struct wr_action_ctx *ctx)
{
    set_enabled(ctx, true);
}

/* }====== */

/* {====== delete-user ====== */

static void delete_user_written(void *arg, const struct wr_graph_result *res)
{
    struct user_op *op = arg;
    if (res->ok) {
        char *what = wr_xasprintf("DELETE /users/%s", op->id);
        bool done = write_done(op, res, what);
        free(what);
        if (done) {
            /* Graph keeps the user 30 days in /directory/deletedItems, with its memberships,
               roles and licences: restore-user brings it all back. */
            struct json_object *out = outcome(op->id, true);
            struct json_object *before = json_object_new_object();
            json_object_object_add(before, "id", json_object_new_string(op->id));
            json_object_object_add(before, "userPrincipalName",
                                   op->upn ? json_object_new_string(op->upn) : NULL);
            add_undo(out, before, user_step("restore-user", op->id));
            wr_action_succeed(op->ctx, out);
        }
    } else if (res->status == 404) {
        /* Deleted by someone else since the lookup; the effect is the same. */
        struct json_object *out = outcome(op->id, false);
        add_undo(out, NULL, NULL);
        wr_action_succeed(op->ctx, out);
    } else {
        wr_action_fail(op->ctx, res, false, "DELETE /users/%s", op->id);
    }
}

static void delete_user_found(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    if (!r->ok && r->not_found && r->created_ago_ms >= 0) {
        /* Created moments ago: not found is a replica without it, not "already deleted". */
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    if (!r->ok && r->not_found) {
        const char *ref = wr_action_arg_str(op->ctx, "user");
        struct json_object *out = outcome(wr_directory_is_guid(ref) ? ref : NULL, false);
        add_undo(out, NULL, NULL);
        wr_action_succeed(op->ctx, out);
        return;
    }
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->id = wr_xstrdup(r->id);
    op->upn = wr_xstrdup_or_null(
        json_object_get_string(json_object_object_get(r->object, "userPrincipalName")));
    char *path = user_path(op->id, "");
    if (wr_action_write(op->ctx, "DELETE", path, NULL, delete_user_written, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused DELETE %s", path);
    }
    free(path);
}

static void delete_user_run(struct wr_action_ctx *ctx)
{
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), "userPrincipalName",
                        delete_user_found, op_get(ctx));
}

/* }====== */

/* {====== revoke-sessions ====== */

static void revoke_written(void *arg, const struct wr_graph_result *res)
{
    struct user_op *op = arg;
    /* Graph documents 204 and answers 200 {"value": true}: either is done; 202 is not. */
    char *what = wr_xasprintf("POST /users/%s/revokeSignInSessions", op->id);
    bool done = res->ok && write_done(op, res, what);
    if (!res->ok) {
        op_fail_write(op, res, what);
    }
    free(what);
    if (done) {
        struct json_object *out = outcome(op->id, true);
        json_object_object_add(out, "undo_impossible",
                               json_object_new_string("sessions signed out cannot be restored: "
                                                      "the user signs in again"));
        wr_action_succeed(op->ctx, out);
    }
}

static void revoke_found(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->id = wr_xstrdup(r->id);
    char *path = user_path(op->id, "/revokeSignInSessions");
    if (wr_action_write(op->ctx, "POST", path, NULL, revoke_written, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST %s", path);
    }
    free(path);
}

static void revoke_sessions_run(struct wr_action_ctx *ctx)
{
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, revoke_found, op_get(ctx));
}

/* }====== */

/* {====== restore-user ====== */

static const struct wr_argspec restore_user_args[] = {
    {.name = "user",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "object id of the deleted user (delete-user's output id)"},
    {0},
};

/* {"id", "changed"} with the undo record: "before" {"deleted"}, "undo" a delete-user. */
static void restore_succeed(struct user_op *op, bool changed)
{
    struct json_object *out = outcome(op->id, changed);
    if (op->upn) {
        json_object_object_add(out, "userPrincipalName", json_object_new_string(op->upn));
    }
    struct json_object *before = json_object_new_object();
    json_object_object_add(before, "deleted", json_object_new_boolean(changed));
    add_undo(out, before, changed ? user_step("delete-user", op->id) : NULL);
    wr_action_succeed(op->ctx, out);
}

/* Gone from deleted items: Graph keeps a deleted user 30 days, then deletes it for good. */
static void restore_gone(struct user_op *op, const struct wr_graph_result *res)
{
    wr_action_fail(op->ctx, res, false,
                   "user %s cannot be restored: it is not in /directory/deletedItems (Graph keeps "
                   "a deleted user for 30 days and then deletes it permanently; it may also have "
                   "been permanently deleted, or never existed)",
                   op->id);
}

/* After a 404 to a POST sent more than once: the user there now is this step's restore. */
static void restore_rechecked(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    if (r->ok) {
        restore_succeed(op, true);
    } else {
        restore_gone(op, r->graph);
    }
}

static void restore_posted(void *arg, const struct wr_graph_result *res)
{
    struct user_op *op = arg;
    if (res->ok && wr_action_dry_run(op->ctx)) {
        restore_succeed(op, true);
        return;
    }
    if (res->ok) {
        /* Graph answers 200 with the restored user: anything else does not say so. */
        char *why = NULL;
        bool retriable = false;
        struct json_object *u =
            wr_graph_answer_entity(res, "the restored user", "id", &why, &retriable);
        if (!u) {
            struct wr_graph_result bad = wr_graph_result_unusable(res, why, retriable);
            wr_action_fail(op->ctx, &bad, false, "POST /directory/deletedItems/%s/restore", op->id);
            free(why);
            return;
        }
        const char *upn = json_object_get_string(json_object_object_get(u, "userPrincipalName"));
        if (upn && !op->upn) {
            op->upn = wr_xstrdup(upn);
        }
        /* Back in the directory moments ago: a replica may not have it for the next steps. */
        wr_directory_note_created(wr_action_directory(op->ctx), op->id, op->upn, NULL);
        restore_succeed(op, true);
    } else if (res->status == 404 && res->attempts > 1) {
        /* Maybe this POST's own first attempt restored it: look again. */
        op->post_attempts = res->attempts;
        wr_action_find_user(op->ctx, NULL, op->id, "userPrincipalName", restore_rechecked, op);
    } else if (res->status == 404) {
        restore_gone(op, res);
    } else {
        wr_action_fail(op->ctx, res, false, "POST /directory/deletedItems/%s/restore", op->id);
    }
}

static void restore_post(struct user_op *op)
{
    char *seg = wr_graph_escape(op->id);
    char *path = wr_xasprintf("/directory/deletedItems/%s/restore", seg);
    if (wr_action_write(op->ctx, "POST", path, NULL, restore_posted, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST %s", path);
    }
    free(path);
    free(seg);
}

/* Dry run: the POST is not sent, so the deleted item is read to plan it (or fail as a real
   run would). */
static void restore_deleted_read(void *arg, const struct wr_graph_result *res)
{
    struct user_op *op = arg;
    if (res->status == 404) {
        restore_gone(op, res);
    } else if (!res->ok) {
        wr_action_fail(op->ctx, res, false, "GET /directory/deletedItems/%s", op->id);
    } else {
        restore_post(op);
    }
}

static void restore_found(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    if (r->ok) {
        /* Not deleted (any more): restored already, by an earlier run or by hand. */
        op->upn = wr_xstrdup_or_null(
            json_object_get_string(json_object_object_get(r->object, "userPrincipalName")));
        restore_succeed(op, false);
        return;
    }
    if (!r->not_found) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    if (!wr_action_dry_run(op->ctx)) {
        restore_post(op);
        return;
    }
    char *seg = wr_graph_escape(op->id);
    char *path = wr_xasprintf("/directory/deletedItems/%s?$select=id", seg);
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", path, NULL, 0, restore_deleted_read,
                         op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused GET %s", path);
    }
    free(path);
    free(seg);
}

static void restore_user_run(struct wr_action_ctx *ctx)
{
    struct user_op *op = op_get(ctx);
    const char *ref = wr_action_arg_str(ctx, "user");
    if (!ref || !wr_directory_is_guid(ref)) {
        wr_action_fail(ctx, NULL, false,
                       "restore-user needs the deleted user's object id, not '%s' (a deleted "
                       "user cannot be found by name; delete-user's output has the id)",
                       ref ? ref : "");
        return;
    }
    op->id = wr_xstrdup(ref);
    wr_action_find_user(ctx, NULL, ref, "userPrincipalName", restore_found, op);
}

/* }====== */

/* {====== create-user ====== */

#define PASSWORD_LEN 20

/*
 * A random password of PASSWORD_LEN characters with at least one upper-case letter, one
 * lower-case letter, one digit and one symbol, from libcrypto's CSPRNG (rejection sampling,
 * so every character is uniform). The symbols avoid quotes, backslash and $ so the value
 * survives shells and config files if an admin ever has to type it. Returns false when the
 * CSPRNG fails.
 */
static bool make_password(char out[PASSWORD_LEN + 1])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
                                   "!#%+-.:=?@^_~";
    const size_t n = sizeof(alphabet) - 1;
    const unsigned limit = 256 - 256 % n;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[64];
        size_t len = 0;
        bool upper = false, lower = false, digit = false, symbol = false;
        while (len < PASSWORD_LEN) {
            if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
                OPENSSL_cleanse(out, PASSWORD_LEN + 1);
                return false;
            }
            for (size_t i = 0; i < sizeof(rnd) && len < PASSWORD_LEN; i++) {
                if (rnd[i] < limit) {
                    char c = alphabet[rnd[i] % n];
                    upper |= c >= 'A' && c <= 'Z';
                    lower |= c >= 'a' && c <= 'z';
                    digit |= c >= '0' && c <= '9';
                    symbol |= strchr("!#%+-.:=?@^_~", c) != NULL;
                    out[len++] = c;
                }
            }
        }
        OPENSSL_cleanse(rnd, sizeof(rnd));
        out[len] = '\0';
        if (upper && lower && digit && symbol) {
            return true;
        }
    }
    OPENSSL_cleanse(out, PASSWORD_LEN + 1);
    return false;
}

/* Unix ms of an ISO-8601 UTC time ("2026-12-01T09:30:00Z", fractions ignored), or -1. */
static int64_t iso_ms(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6) {
        return -1;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    return (int64_t)timegm(&tm) * 1000;
}

/* Whether two values of property key are the same as Graph keeps them: names and addresses
   (userPrincipalName, mail, usageLocation) without case, the rest exactly. */
static bool same_value(const char *key, struct json_object *want, struct json_object *have)
{
    static const char *const nocase[] = {"userPrincipalName", "mail", "usageLocation", NULL};
    for (size_t i = 0; nocase[i]; i++) {
        if (strcasecmp(key, nocase[i]) == 0 && json_object_is_type(want, json_type_string) &&
            json_object_is_type(have, json_type_string)) {
            return strcasecmp(json_object_get_string(want), json_object_get_string(have)) == 0;
        }
    }
    return json_object_equal(want, have);
}

/*
 * create-user's undo record into out: "before" {"existed"}, and when this step created the
 * user, "undo" a delete-user of its id (in a dry run, which made no id, of its
 * userPrincipalName).
 */
static void create_undo(struct json_object *out, const char *ref, bool created)
{
    struct json_object *before = json_object_new_object();
    json_object_object_add(before, "existed", json_object_new_boolean(!created));
    add_undo(out, before, created ? user_step("delete-user", ref) : NULL);
}

/*
 * Whether existing (the user holding the new user's userPrincipalName) is the user this step
 * creates (see action.h): with an employeeId in 'set', the same employeeId; without one,
 * every property sent (but the password, which cannot be read) as sent. Returns NULL when it
 * is, else an owned message saying how it differs.
 */
static char *differs(struct user_op *op, struct json_object *existing, const char *id)
{
    struct json_object *set = json_object_object_get(wr_action_args(op->ctx), "set");
    bool present;
    struct json_object *want = member_ci(set, "employeeId", &present);
    if (present) {
        const char *w = json_object_get_string(want);
        const char *h = json_object_get_string(json_object_object_get(existing, "employeeId"));
        if (h && w && strcmp(h, w) == 0) {
            return NULL;
        }
        return wr_xasprintf("a different user with userPrincipalName '%s' already exists "
                            "(id %s, employeeId %s, not %s)",
                            op->upn, id, h ? h : "none", w ? w : "null");
    }
    json_object_object_foreach(op->body, key, val)
    {
        if (strcasecmp(key, "passwordProfile") == 0) {
            continue;
        }
        struct json_object *have = member_ci(existing, key, &present);
        if (!same_value(key, val, have)) {
            return wr_xasprintf("a user with userPrincipalName '%s' already exists (id %s) and is "
                                "not the one this step creates: its %s is %s, not %s (an "
                                "employeeId in 'set' would identify the employee)",
                                op->upn, id, key,
                                present
                                    ? json_object_to_json_string_ext(have, JSON_C_TO_STRING_PLAIN)
                                    : "not readable",
                                json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
        }
    }
    return NULL;
}

/*
 * The user already holding the new user's userPrincipalName (after a refused POST, or before
 * the POST in a dry run): success when it is the user this step creates (differs() says how it
 * is judged), which covers this step's own earlier POST that landed while its answer was lost.
 */
static void create_user_existing(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    struct wr_directory *dir = wr_action_directory(op->ctx);
    struct wr_graph_result post = {
        .status = op->err_status,
        .error_code = op->err_code,
        .error_message = op->err_message,
        .request_id = op->err_rid,
        .client_request_id = op->err_crid,
    };
    if (!r->ok && r->not_found) {
        if (op->err_status && (r->created_ago_ms >= 0 || op->post_attempts > 1)) {
            /* Refused as a duplicate by the primary, unknown to the replica that answered the
               read: an earlier attempt created it moments ago. */
            wr_action_fail_lag(
                op->ctx, &post, r->created_ago_ms >= 0 ? r->created_ago_ms : 0,
                "POST /users for '%s' (the user it conflicts with cannot be read yet)", op->upn);
            return;
        }
        /* The POST failed for another reason than an existing user: say what Graph said. */
        wr_action_fail(op->ctx, op->err_status ? &post : NULL, false, "POST /users for '%s'",
                       op->upn);
        return;
    }
    if (!r->ok) {
        if (op->err_status) {
            wr_action_fail(op->ctx, &post, false,
                           "POST /users for '%s' (reading back the user it conflicts with "
                           "failed too: %s)",
                           op->upn, r->error);
        } else {
            wr_action_fail_lookup(op->ctx, NULL, r);
        }
        return;
    }
    char *why = differs(op, r->object, r->id);
    if (why) {
        wr_action_fail(op->ctx, NULL, false, "%s", why);
        free(why);
        return;
    }
    /* The client sent the POST more than once: the first attempt created this user. */
    bool ours = op->post_attempts > 1;
    int64_t created =
        iso_ms(json_object_get_string(json_object_object_get(r->object, "createdDateTime")));
    int64_t now = wr_clock_wall_ms(); /* against Graph's createdDateTime: wall time */
    if (!wr_action_dry_run(op->ctx) &&
        (ours || (created >= 0 && now - created < WR_DIRECTORY_REPLICA_WINDOW_MS))) {
        /* Freshly created: later steps may meet a replica without it (seen created). */
        struct json_object *set = json_object_object_get(wr_action_args(op->ctx), "set");
        wr_directory_note_created(
            dir, r->id, op->upn, json_object_get_string(json_object_object_get(set, "employeeId")));
    }
    struct json_object *out = outcome(r->id, ours);
    json_object_object_add(out, "userPrincipalName", json_object_new_string(op->upn));
    json_object_object_add(out, "created", json_object_new_boolean(ours));
    if (ours) {
        json_object_object_add(out, "note",
                               json_object_new_string("an earlier attempt of this POST created "
                                                      "the user; its answer was lost"));
    }
    create_undo(out, r->id, ours);
    wr_action_succeed(op->ctx, out);
}

/* Reads back the user holding op->upn, with what differs() compares. */
static void create_user_read_back(struct user_op *op, wr_directory_done_fn done)
{
    struct wr_buf select = {0};
    wr_buf_add(&select, "employeeId,userPrincipalName,createdDateTime");
    json_object_object_foreach(op->body, key, val)
    {
        (void)val;
        if (strcasecmp(key, "passwordProfile") != 0) {
            wr_buf_addf(&select, ",%s", key);
        }
    }
    wr_action_find_user(op->ctx, NULL, op->upn, wr_buf_str(&select), done, op);
    wr_buf_free(&select);
}

/* The POST answered 2xx without a usable user: the user it made is looked up by UPN. */
static void create_user_made(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    struct wr_graph_result post = {
        .status = op->err_status,
        .error_code = op->err_code,
        .error_message = op->err_message,
        .retriable = op->err_retriable,
        .request_id = op->err_rid,
        .client_request_id = op->err_crid,
    };
    if (!r->ok) {
        /* Not there (yet): say what the POST answered; a retry finds the user or creates it. */
        wr_action_fail(op->ctx, &post, false, "POST /users for '%s'", op->upn);
        return;
    }
    /* Now known by its id too: a replica may not have it yet for the next steps. */
    struct wr_directory *dir = wr_action_directory(op->ctx);
    struct json_object *set = json_object_object_get(wr_action_args(op->ctx), "set");
    bool location;
    member_ci(op->body, "usageLocation", &location);
    wr_directory_note_created(dir, r->id, op->upn,
                              json_object_get_string(json_object_object_get(set, "employeeId")));
    if (location) {
        wr_directory_note_location(dir, r->id);
    }
    struct json_object *out = outcome(r->id, true);
    json_object_object_add(out, "userPrincipalName", json_object_new_string(op->upn));
    json_object_object_add(out, "created", json_object_new_boolean(true));
    create_undo(out, r->id, true);
    wr_action_succeed(op->ctx, out);
}

/* Keeps res (a failed or unusable answer to the POST) in op while the UPN is looked up. */
static void keep_post_answer(struct user_op *op, const struct wr_graph_result *res)
{
    op->err_status = res->status;
    op->err_code = wr_xstrdup_or_null(res->error_code);
    op->err_message = wr_xstrdup_or_null(res->error_message);
    op->err_rid = wr_xstrdup_or_null(res->request_id);
    op->err_crid = wr_xstrdup_or_null(res->client_request_id);
    op->err_retriable = res->retriable;
}

static void create_user_posted(void *arg, const struct wr_graph_result *res)
{
    struct user_op *op = arg;
    struct wr_directory *dir = wr_action_directory(op->ctx);
    struct json_object *set = json_object_object_get(wr_action_args(op->ctx), "set");
    const char *employee = json_object_get_string(json_object_object_get(set, "employeeId"));
    bool location;
    member_ci(op->body, "usageLocation", &location);
    if (res->ok && wr_action_dry_run(op->ctx)) {
        /* Planned, not sent: the user has no id yet (steps.<id>.id is null in a dry run). */
        struct json_object *out = outcome(NULL, true);
        json_object_object_add(out, "userPrincipalName", json_object_new_string(op->upn));
        json_object_object_add(out, "created", json_object_new_boolean(true));
        create_undo(out, op->upn, true);
        wr_action_succeed(op->ctx, out);
        return;
    }
    if (!res->ok && res->status >= 200 && res->status <= 299) {
        /* A 2xx that is not JSON (a proxy's page, a cut answer): created, most likely, like a
           2xx without the id below. */
        keep_post_answer(op, res);
        op->err_retriable = true;
        wr_directory_note_created(dir, NULL, op->upn, employee);
        wr_action_find_user(op->ctx, NULL, op->upn, "userPrincipalName", create_user_made, op);
        return;
    }
    if (res->ok) {
        char *why = NULL;
        bool retriable = false;
        struct json_object *user =
            wr_graph_answer_entity(res, "the new user", "id", &why, &retriable);
        if (!user) {
            /* Created, most likely, but the answer does not say as whom (GRAPH.md 12): look
               it up; a 2xx without the new object's id is never taken as success. */
            struct wr_graph_result u = wr_graph_result_unusable(res, why, true);
            keep_post_answer(op, &u);
            free(why);
            wr_directory_note_created(dir, NULL, op->upn, employee);
            wr_action_find_user(op->ctx, NULL, op->upn, "userPrincipalName", create_user_made, op);
            return;
        }
        const char *id = json_object_get_string(json_object_object_get(user, "id"));
        wr_directory_note_created(dir, id, op->upn, employee);
        if (location) {
            wr_directory_note_location(dir, id);
        }
        struct json_object *out = outcome(id, true);
        json_object_object_add(out, "userPrincipalName", json_object_new_string(op->upn));
        json_object_object_add(out, "created", json_object_new_boolean(true));
        create_undo(out, id, true);
        wr_action_succeed(op->ctx, out);
        return;
    }
    if (res->status == 0 || res->status >= 500) {
        /* No answer, or one after which the write may still have happened: the user may exist
           already, and a replica may not have it when the run retries. */
        wr_directory_note_created(dir, NULL, op->upn, employee);
    }
    if (res->status != 400) {
        wr_action_fail(op->ctx, res, false, "POST /users for '%s'", op->upn);
        return;
    }
    /* Graph answers a duplicate userPrincipalName with a plain 400 Request_BadRequest, so
       rather than match its message, read the UPN back and compare (see action.h). */
    keep_post_answer(op, res);
    op->post_attempts = res->attempts;
    create_user_read_back(op, create_user_existing);
}

static void create_user_post(struct user_op *op)
{
    if (wr_action_write(op->ctx, "POST", "/users", op->body, create_user_posted, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST /users");
    }
}

/* Dry run: the POST is not sent, so find a conflict by looking the UPN up first. */
static void create_user_checked(void *arg, const struct wr_directory_result *r)
{
    struct user_op *op = arg;
    if (!r->ok && r->not_found) {
        create_user_post(op);
    } else {
        create_user_existing(op, r);
    }
}

static void create_user_run(struct wr_action_ctx *ctx)
{
    struct user_op *op = op_get(ctx);
    struct json_object *set = NULL;
    if (!json_object_object_get_ex(wr_action_args(ctx), "set", &set) ||
        !json_object_is_type(set, json_type_object)) {
        wr_action_fail(op->ctx, NULL, false, "'set' must be a mapping of user properties");
        return;
    }
    const char *upn = json_object_get_string(json_object_object_get(set, "userPrincipalName"));
    if (!upn || !strchr(upn, '@')) {
        wr_action_fail(op->ctx, NULL, false, "'set' needs a userPrincipalName (alias@domain)");
        return;
    }
    op->upn = wr_xstrdup(upn);
    op->body = json_object_new_object();
    json_object_object_foreach(set, key, val)
    {
        json_object_object_add(op->body, key, json_object_get(val));
    }
    if (!json_object_object_get_ex(op->body, "accountEnabled", NULL)) {
        json_object_object_add(op->body, "accountEnabled", json_object_new_boolean(true));
    }
    if (!json_object_object_get_ex(op->body, "passwordProfile", NULL)) {
        char pw[PASSWORD_LEN + 1];
        if (!make_password(pw)) {
            wr_action_fail(op->ctx, NULL, false,
                           "could not generate a password (RAND_bytes failed)");
            return;
        }
        struct json_object *profile = json_object_new_object();
        json_object_object_add(profile, "forceChangePasswordNextSignIn",
                               json_object_new_boolean(true));
        json_object_object_add(profile, "password", json_object_new_string(pw));
        json_object_object_add(op->body, "passwordProfile", profile);
        OPENSSL_cleanse(pw, sizeof(pw));
    }
    if (wr_action_dry_run(ctx)) {
        create_user_read_back(op, create_user_checked);
    } else {
        create_user_post(op);
    }
}

/* }====== */

/*
 * Destructive when set: turns sign-in off: accountEnabled (Graph's property names are
 * case-insensitive) false, or the string "false", which a template may render. A set: that is
 * still a template string may be such a mapping, so it counts too.
 */
static bool update_user_destructive(struct json_object *args)
{
    struct json_object *set = NULL;
    if (!json_object_object_get_ex(args, "set", &set) || set == NULL) {
        return false;
    }
    if (json_object_is_type(set, json_type_string)) {
        return strstr(json_object_get_string(set), "{{") != NULL;
    }
    if (!json_object_is_type(set, json_type_object)) {
        return false;
    }
    json_object_object_foreach(set, key, val)
    {
        if (strcasecmp(key, "accountEnabled") != 0) {
            continue;
        }
        if (json_object_is_type(val, json_type_boolean) && !json_object_get_boolean(val)) {
            return true;
        }
        if (json_object_is_type(val, json_type_string) &&
            strcasecmp(json_object_get_string(val), "false") == 0) {
            return true;
        }
    }
    return false;
}

const struct wr_action wr_action_update_user = {
    .name = "update-user",
    .summary = "PATCH a user's properties (PATCH /users/{id}), writing only what differs",
    .args = update_user_args,
    .validate = update_user_validate,
    .execute = update_user_run,
    .destructive = WR_DESTRUCTIVE_BY_ARGS,
    .is_destructive = update_user_destructive,
    .destructive_note = "when set: turns accountEnabled off",
};

const struct wr_action wr_action_create_user = {
    .name = "create-user",
    .summary = "create a user (POST /users); an existing user with the same employeeId is success",
    .args = create_user_args,
    .validate = create_user_validate,
    .execute = create_user_run,
    .destructive = WR_DESTRUCTIVE_NO,
};

const struct wr_action wr_action_disable_user = {
    .name = "disable-user",
    .summary = "block sign-in (PATCH accountEnabled=false)",
    .args = user_only_args,
    .execute = disable_user_run,
    .destructive = WR_DESTRUCTIVE_YES,
};

const struct wr_action wr_action_enable_user = {
    .name = "enable-user",
    .summary = "allow sign-in (PATCH accountEnabled=true)",
    .args = user_only_args,
    .execute = enable_user_run,
    .destructive = WR_DESTRUCTIVE_NO,
};

const struct wr_action wr_action_delete_user = {
    .name = "delete-user",
    .summary = "delete a user (DELETE /users/{id}); an already deleted user is success",
    .args = user_only_args,
    .execute = delete_user_run,
    .destructive = WR_DESTRUCTIVE_YES,
};

const struct wr_action wr_action_restore_user = {
    .name = "restore-user",
    .summary = "restore a deleted user (POST /directory/deletedItems/{id}/restore) with its "
               "memberships, roles and licences; a user not deleted is success",
    .args = restore_user_args,
    .execute = restore_user_run,
    .destructive = WR_DESTRUCTIVE_NO,
};

const struct wr_action wr_action_revoke_sessions = {
    .name = "revoke-sessions",
    .summary = "sign the user out everywhere (POST /users/{id}/revokeSignInSessions)",
    .args = user_only_args,
    .execute = revoke_sessions_run,
    .destructive = WR_DESTRUCTIVE_YES,
};
