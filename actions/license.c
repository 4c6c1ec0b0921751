/*
 * license — assign-license and remove-all-licenses. SKUs are named by skuPartNumber
 * (SPE_E3) or skuId; resolving them against /subscribedSkus happens at run time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actions/action.h"
#include "engine/directory.h"
#include "engine/graph.h"
#include "engine/strutil.h"

static const struct wr_argspec assign_license_args[] = {
    WR_ARGSPEC_USER,
    {.name = "add", .type = WR_ARG_STRINGS, .help = "SKUs to assign (skuPartNumber or skuId)"},
    {.name = "remove", .type = WR_ARG_STRINGS, .help = "SKUs to remove (skuPartNumber or skuId)"},
    {.name = "disabled_plans",
     .type = WR_ARG_STRINGS,
     .help = "service plan ids to leave off in the added SKUs"},
    {.name = "usage_location",
     .type = WR_ARG_STRING,
     .help = "two-letter country code set first when the user has none"},
    {0},
};

static void assign_license_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *add = NULL, *remove = NULL, *ul = NULL;
    bool has_add = json_object_object_get_ex(args, "add", &add);
    bool has_remove = json_object_object_get_ex(args, "remove", &remove);

    if (!has_add && !has_remove) {
        wr_check_error(c, path, false, "assign-license needs 'add' or 'remove' (or both)");
    }
    if (has_add && has_remove && json_object_is_type(add, json_type_array) &&
        json_object_is_type(remove, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(add); i++) {
            const char *a = json_object_get_string(json_object_array_get_idx(add, i));
            for (size_t j = 0; a && j < json_object_array_length(remove); j++) {
                const char *r = json_object_get_string(json_object_array_get_idx(remove, j));
                if (r && strcmp(a, r) == 0) {
                    char *p = wr_path_key(path, "remove");
                    wr_check_error(c, p, false, "'%s' is both added and removed", a);
                    free(p);
                }
            }
        }
    }
    if (json_object_object_get_ex(args, "usage_location", &ul) &&
        json_object_is_type(ul, json_type_string)) {
        const char *s = json_object_get_string(ul);
        if (!strstr(s, "{{") &&
            (strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')) {
            char *p = wr_path_key(path, "usage_location");
            wr_check_error(c, p, false, "'%s' is not a two-letter country code (e.g. DE, US)", s);
            free(p);
        }
    }
}

/* The length of an array; 0 for NULL or anything else (json-c asserts on those). */
static size_t array_len(struct json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* {====== shared ====== */

/* One execution's state (wr_action_state); owned members are released by op_clear before
   the action finishes. */
struct license_op {
    struct wr_action_ctx *ctx;
    char *id;                  /* the user's object id */
    struct json_object *user;  /* the user as read: assignedLicenses, usageLocation */
    struct json_object *body;  /* the assignLicense body */
    struct json_object *added; /* skuIds added (or updated), for the output */
    struct json_object *removed;
    bool set_location; /* usageLocation is PATCHed first */
};

static struct license_op *op_get(struct wr_action_ctx *ctx)
{
    struct license_op *op = wr_action_state(ctx, sizeof(*op));
    op->ctx = ctx;
    return op;
}

static void op_clear(struct license_op *op)
{
    free(op->id);
    op->id = NULL;
    json_object_put(op->user);
    json_object_put(op->body);
    json_object_put(op->added);
    json_object_put(op->removed);
    op->user = op->body = op->added = op->removed = NULL;
}

static void op_fail(struct license_op *op, const struct wr_graph_result *res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void op_fail(struct license_op *op, const struct wr_graph_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_action_vfail(op->ctx, res, false, fmt, ap); /* formats before op_clear frees its args */
    va_end(ap);
    op_clear(op);
}

/* {"id", "changed", "added", "removed"} and usageLocation when it was set. */
static void op_succeed(struct license_op *op, bool changed)
{
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(op->id));
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    json_object_object_add(out, "added",
                           op->added ? json_object_get(op->added) : json_object_new_array());
    json_object_object_add(out, "removed",
                           op->removed ? json_object_get(op->removed) : json_object_new_array());
    if (op->set_location) {
        json_object_object_add(
            out, "usageLocation",
            json_object_new_string(wr_action_arg_str(op->ctx, "usage_location")));
    }
    wr_action_succeed(op->ctx, out);
    op_clear(op);
}

static bool find_user(struct license_op *op, const char *select, wr_directory_done_fn done)
{
    const char *ref = wr_action_arg_str(op->ctx, "user");
    if (wr_directory_user(wr_action_directory(op->ctx), ref, select, done, op) == 0) {
        return true;
    }
    op_fail(op, NULL,
            "'%s' is not a user reference: expected an object id, a userPrincipalName or mail "
            "address, or employeeId:VALUE",
            ref ? ref : "");
    return false;
}

static char *user_path(const char *id, const char *suffix)
{
    return wr_directory_user_path(id, suffix);
}

/* The user's assignedLicenses entry for skuId, or NULL. Borrowed. */
static struct json_object *assigned(struct json_object *user, const char *sku_id)
{
    struct json_object *list = json_object_object_get(user, "assignedLicenses");
    for (size_t i = 0; i < array_len(list); i++) {
        struct json_object *l = json_object_array_get_idx(list, i);
        const char *id = json_object_get_string(json_object_object_get(l, "skuId"));
        if (id && strcasecmp(id, sku_id) == 0) {
            return l;
        }
    }
    return NULL;
}

/* True when two arrays of GUID strings hold the same set (case-insensitive). */
static bool same_set(struct json_object *a, struct json_object *b)
{
    size_t na = array_len(a), nb = array_len(b);
    for (int pass = 0; pass < 2; pass++) {
        struct json_object *x = pass ? b : a, *y = pass ? a : b;
        size_t nx = pass ? nb : na, ny = pass ? na : nb;
        for (size_t i = 0; i < nx; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(x, i));
            bool found = false;
            for (size_t j = 0; s && !found && j < ny; j++) {
                const char *t = json_object_get_string(json_object_array_get_idx(y, j));
                found = t && strcasecmp(s, t) == 0;
            }
            if (!found) {
                return false;
            }
        }
    }
    return true;
}

static void assign_written(void *arg, const struct wr_graph_result *res)
{
    struct license_op *op = arg;
    if (!res->ok) {
        op_fail(op, res, "POST /users/%s/assignLicense", op->id);
        return;
    }
    op_succeed(op, true);
}

static void assign_send(struct license_op *op)
{
    char *path = user_path(op->id, "/assignLicense");
    if (wr_action_write(op->ctx, "POST", path, op->body, assign_written, op) != 0) {
        op_fail(op, NULL, "the Graph client refused POST %s", path);
    }
    free(path);
}

/* }====== */

/* {====== assign-license ====== */

static void location_written(void *arg, const struct wr_graph_result *res)
{
    struct license_op *op = arg;
    if (!res->ok) {
        op_fail(op, res, "setting usageLocation of user %s", op->id);
        return;
    }
    assign_send(op);
}

/*
 * Builds addLicenses: each SKU of `add` the user lacks, and each the user holds with other
 * disabled plans than `disabled_plans` asks for (only when that argument is given). Returns
 * false after failing the action.
 */
static bool plan_adds(struct license_op *op, struct json_object *skus, struct json_object *adds)
{
    struct json_object *args = wr_action_args(op->ctx);
    struct json_object *add = json_object_object_get(args, "add");
    struct json_object *plans = NULL;
    bool has_plans = json_object_object_get_ex(args, "disabled_plans", &plans) &&
                     json_object_is_type(plans, json_type_array);

    /* Every named plan must belong to at least one added SKU: a typo must not pass silently. */
    for (size_t p = 0; has_plans && p < array_len(plans); p++) {
        const char *plan = json_object_get_string(json_object_array_get_idx(plans, p));
        bool known = false;
        for (size_t i = 0; !known && i < array_len(add); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(add, i));
            known = wr_directory_sku_plan(wr_directory_sku_find(skus, name), plan) != NULL;
        }
        if (!known) {
            op_fail(op, NULL,
                    "service plan '%s' (disabled_plans) is in none of the "
                    "SKUs added",
                    plan ? plan : "");
            return false;
        }
    }
    for (size_t i = 0; i < array_len(add); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(add, i));
        struct json_object *sku = wr_directory_sku_find(skus, name);
        if (!sku) {
            op_fail(op, NULL,
                    "license '%s' not found: the tenant has no subscribedSku "
                    "with that skuPartNumber or skuId",
                    name ? name : "");
            return false;
        }
        const char *sku_id = json_object_get_string(json_object_object_get(sku, "skuId"));
        struct json_object *disabled = json_object_new_array();
        for (size_t p = 0; has_plans && p < array_len(plans); p++) {
            const char *plan = json_object_get_string(json_object_array_get_idx(plans, p));
            const char *plan_id = wr_directory_sku_plan(sku, plan);
            if (plan_id) {
                json_object_array_add(disabled, json_object_new_string(plan_id));
            }
        }
        struct json_object *have = assigned(op->user, sku_id);
        if (have &&
            (!has_plans || same_set(json_object_object_get(have, "disabledPlans"), disabled))) {
            json_object_put(disabled);
            continue;
        }
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "disabledPlans", disabled);
        json_object_object_add(entry, "skuId", json_object_new_string(sku_id));
        json_object_array_add(adds, entry);
        json_object_array_add(op->added, json_object_new_string(sku_id));
    }
    return true;
}

/* Builds removeLicenses: each SKU of `remove` the user holds. */
static bool plan_removes(struct license_op *op, struct json_object *skus,
                         struct json_object *removes)
{
    struct json_object *remove = json_object_object_get(wr_action_args(op->ctx), "remove");
    for (size_t i = 0; i < array_len(remove); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(remove, i));
        struct json_object *sku = wr_directory_sku_find(skus, name);
        if (!sku) {
            op_fail(op, NULL,
                    "license '%s' not found: the tenant has no subscribedSku "
                    "with that skuPartNumber or skuId",
                    name ? name : "");
            return false;
        }
        const char *sku_id = json_object_get_string(json_object_object_get(sku, "skuId"));
        if (assigned(op->user, sku_id)) {
            json_object_array_add(removes, json_object_new_string(sku_id));
            json_object_array_add(op->removed, json_object_new_string(sku_id));
        }
    }
    return true;
}

static void assign_skus(void *arg, const struct wr_directory_result *r)
{
    struct license_op *op = arg;
    if (!r->ok) {
        op_fail(op, r->graph, "%s", r->error);
        return;
    }
    struct json_object *adds = json_object_new_array();
    struct json_object *removes = json_object_new_array();
    op->body = json_object_new_object();
    json_object_object_add(op->body, "addLicenses", adds);
    json_object_object_add(op->body, "removeLicenses", removes);
    op->added = json_object_new_array();
    op->removed = json_object_new_array();
    if (!plan_adds(op, r->object, adds) || !plan_removes(op, r->object, removes)) {
        return;
    }
    if (array_len(adds) == 0 && array_len(removes) == 0) {
        op_succeed(op, false);
        return;
    }
    const char *location =
        json_object_get_string(json_object_object_get(op->user, "usageLocation"));
    if (array_len(adds) > 0 && (!location || !*location)) {
        const char *want = wr_action_arg_str(op->ctx, "usage_location");
        if (!want) {
            op_fail(op, NULL,
                    "user %s has no usageLocation, which Graph requires before "
                    "a license can be assigned; give usage_location (e.g. usage_location: DE) "
                    "or set it on the user first",
                    op->id);
            return;
        }
        /* Graph refuses licenses without a usage location: set it first, then assign. */
        op->set_location = true;
        struct json_object *patch = json_object_new_object();
        json_object_object_add(patch, "usageLocation", json_object_new_string(want));
        char *path = user_path(op->id, "");
        int rc = wr_action_write(op->ctx, "PATCH", path, patch, location_written, op);
        json_object_put(patch);
        if (rc != 0) {
            op_fail(op, NULL, "the Graph client refused PATCH %s", path);
        }
        free(path);
        return;
    }
    assign_send(op);
}

static void assign_user(void *arg, const struct wr_directory_result *r)
{
    struct license_op *op = arg;
    if (!r->ok) {
        op_fail(op, r->graph, "%s", r->error);
        return;
    }
    op->id = wr_xstrdup(r->id);
    op->user = json_object_get(r->object);
    wr_directory_skus(wr_action_directory(op->ctx), assign_skus, op);
}

static void assign_license_run(struct wr_action_ctx *ctx)
{
    find_user(op_get(ctx), "assignedLicenses,usageLocation", assign_user);
}

/* }====== */

/* {====== remove-all-licenses ====== */

/* True when the user holds sku_id only through a group: Graph refuses to remove those. */
static bool only_inherited(struct json_object *user, const char *sku_id)
{
    struct json_object *states = json_object_object_get(user, "licenseAssignmentStates");
    bool inherited = false;
    for (size_t i = 0; i < array_len(states); i++) {
        struct json_object *s = json_object_array_get_idx(states, i);
        const char *id = json_object_get_string(json_object_object_get(s, "skuId"));
        if (id && strcasecmp(id, sku_id) == 0) {
            if (json_object_object_get(s, "assignedByGroup") == NULL) {
                return false;
            }
            inherited = true;
        }
    }
    return inherited;
}

static void remove_all_user(void *arg, const struct wr_directory_result *r)
{
    struct license_op *op = arg;
    if (!r->ok) {
        op_fail(op, r->graph, "%s", r->error);
        return;
    }
    op->id = wr_xstrdup(r->id);
    op->added = json_object_new_array();
    op->removed = json_object_new_array();
    struct json_object *list = json_object_object_get(r->object, "assignedLicenses");
    for (size_t i = 0; i < array_len(list); i++) {
        struct json_object *l = json_object_array_get_idx(list, i);
        const char *sku_id = json_object_get_string(json_object_object_get(l, "skuId"));
        if (sku_id && !only_inherited(r->object, sku_id)) {
            json_object_array_add(op->removed, json_object_new_string(sku_id));
        }
    }
    if (array_len(op->removed) == 0) {
        op_succeed(op, false);
        return;
    }
    op->body = json_object_new_object();
    json_object_object_add(op->body, "addLicenses", json_object_new_array());
    json_object_object_add(op->body, "removeLicenses", json_object_get(op->removed));
    assign_send(op);
}

static void remove_all_licenses_run(struct wr_action_ctx *ctx)
{
    find_user(op_get(ctx), "assignedLicenses,licenseAssignmentStates", remove_all_user);
}

/* }====== */

const struct wr_action wr_action_assign_license = {
    .name = "assign-license",
    .summary = "add and remove licenses (POST /users/{id}/assignLicense), only what differs",
    .args = assign_license_args,
    .validate = assign_license_validate,
    .execute = assign_license_run,
};

static const struct wr_argspec user_only_args[] = {
    WR_ARGSPEC_USER,
    {0},
};

const struct wr_action wr_action_remove_all_licenses = {
    .name = "remove-all-licenses",
    .summary = "remove every license the user holds (assignLicense with all SKUs removed)",
    .args = user_only_args,
    .execute = remove_all_licenses_run,
};
