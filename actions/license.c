/*
 * license — assign-license and remove-all-licenses. SKUs are named by skuPartNumber
 * (SPE_E3) or skuId; resolving them against /subscribedSkus happens at run time.
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

static const struct wr_argspec assign_license_args[] = {
    WR_ARGSPEC_USER,
    {.name = "add", .type = WR_ARG_STRINGS, .help = "SKUs to assign (skuPartNumber or skuId)"},
    {.name = "remove", .type = WR_ARG_STRINGS, .help = "SKUs to remove (skuPartNumber or skuId)"},
    {.name = "disabled_plans",
     .type = WR_ARG_STRINGS,
     .help = "service plan ids to leave off in the added SKUs"},
    {.name = "usage_location",
     .type = WR_ARG_STRING,
     .help = "two-letter country code set first when the user has none",
     .schema = "{\"pattern\": \"^[A-Z]{2}$\"}"},
    /* for `weir schema`: what assign_license_validate checks across the arguments */
    {.schema = "{\"anyOf\": [{\"required\": [\"add\"]}, {\"required\": [\"remove\"]}]}"},
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

/*
 * Direct and inherited licences (GRAPH.md 4.3, 12). A user's licenseAssignmentStates has one
 * entry per way a SKU is held: assignedByGroup null for a direct assignment, a group's id for
 * one inherited from that group (group-based licensing). assignLicense only ever changes the
 * direct ones, and Graph refuses to remove a SKU held only through a group. So:
 *  - add: a SKU held directly is left alone (unless disabled_plans differ from the direct
 *    assignment's); a SKU held only through a group gets a direct assignment as well, because
 *    an admin who asks for a licence expects it to stay when the user leaves the group;
 *  - remove: asks that the user hold the SKU no more. A direct assignment is removed; a SKU a
 *    group gives fails the step at once, naming the groups, and nothing is sent — also when
 *    it is held directly too, since removing the direct assignment would leave the group's
 *    (and a rerun must end the same way, whatever the first run did);
 *  - remove-all-licenses removes every direct assignment and reports the inherited ones.
 * When Graph gives no licenseAssignmentStates at all, every assigned SKU counts as direct.
 */

/* One execution's state (wr_action_state): the engine frees it, after op_clear. */
struct license_op {
    struct wr_action_ctx *ctx;
    bool remove_all;           /* remove-all-licenses */
    char *id;                  /* the user's object id */
    struct json_object *user;  /* the user as read: assignedLicenses, states, usageLocation */
    struct json_object *skus;  /* subscribedSkus */
    struct json_object *body;  /* the assignLicense body */
    struct json_object *added; /* skuIds added (or updated), for the output */
    struct json_object *removed;
    struct json_object *groups; /* group id -> displayName (null when unreadable) */
    size_t next_group;          /* groups resolved so far, in the order of group_ids() */
    bool set_location;          /* usageLocation is PATCHed first */
    bool rechecked;             /* a refused assignLicense was read back */
};

static void op_clear(void *state)
{
    struct license_op *op = state;
    free(op->id);
    json_object_put(op->user);
    json_object_put(op->skus);
    json_object_put(op->body);
    json_object_put(op->added);
    json_object_put(op->removed);
    json_object_put(op->groups);
}

static struct license_op *op_get(struct wr_action_ctx *ctx)
{
    struct license_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    op->ctx = ctx;
    return op;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return NULL;
}

static bool has_states(struct json_object *user)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(user, "licenseAssignmentStates", &v) &&
           json_object_is_type(v, json_type_array);
}

/* The user's assignedLicenses entry for skuId, or NULL. Borrowed. */
static struct json_object *assigned(struct json_object *user, const char *sku_id)
{
    struct json_object *list = json_object_object_get(user, "assignedLicenses");
    for (size_t i = 0; i < array_len(list); i++) {
        struct json_object *l = json_object_array_get_idx(list, i);
        const char *id = str_of(l, "skuId");
        if (id && strcasecmp(id, sku_id) == 0) {
            return l;
        }
    }
    return NULL;
}

/*
 * The user's direct assignment of sku_id (an object with its disabledPlans), or NULL when the
 * user holds it only through groups or not at all. Borrowed.
 */
static struct json_object *direct(struct json_object *user, const char *sku_id)
{
    if (!has_states(user)) {
        return assigned(user, sku_id);
    }
    struct json_object *states = json_object_object_get(user, "licenseAssignmentStates");
    bool any = false;
    for (size_t i = 0; i < array_len(states); i++) {
        struct json_object *st = json_object_array_get_idx(states, i);
        const char *id = str_of(st, "skuId");
        if (!id || strcasecmp(id, sku_id) != 0) {
            continue;
        }
        any = true;
        if (!str_of(st, "assignedByGroup")) {
            return st;
        }
    }
    /* Assigned with no state at all: Graph's answer is incomplete; take it for direct. */
    return any ? NULL : assigned(user, sku_id);
}

/*
 * Whether Graph's user (as read with $select=assignedLicenses,licenseAssignmentStates) has the
 * shape the rules above read: assignedLicenses an array of objects with a string skuId; and
 * licenseAssignmentStates, when there, an array of objects with a string skuId and an
 * assignedByGroup that is null or a string. NULL when it has; else an owned message naming the
 * first entry that is not (a state with a numeric assignedByGroup would otherwise read as a
 * direct licence, an entry without skuId would be skipped).
 */
static char *licences_unreadable(struct json_object *user)
{
    static const char *const lists[] = {"assignedLicenses", "licenseAssignmentStates"};
    for (int l = 0; l < 2; l++) {
        struct json_object *list = NULL;
        if (!json_object_object_get_ex(user, lists[l], &list) || list == NULL) {
            if (l == 0) {
                return wr_xasprintf("Graph's user has no assignedLicenses array");
            }
            continue; /* no states at all: every assigned SKU counts as direct */
        }
        if (!json_object_is_type(list, json_type_array)) {
            const char *js = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN);
            return wr_xasprintf("Graph's user has a %s that is not an array: %.*s", lists[l],
                                wr_utf8_prec(js, 120), js);
        }
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            struct json_object *e = json_object_array_get_idx(list, i), *g = NULL;
            bool group_ok = !json_object_object_get_ex(e, "assignedByGroup", &g) || g == NULL ||
                            json_object_is_type(g, json_type_string);
            if (!str_of(e, "skuId") || !group_ok) {
                const char *js = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
                return wr_xasprintf("Graph's user has %s[%zu] %s: %.*s", lists[l], i,
                                    !str_of(e, "skuId") ? "without a string skuId"
                                                        : "with an assignedByGroup that is "
                                                          "neither null nor a group id",
                                    wr_utf8_prec(js, 120), js);
            }
        }
    }
    return NULL;
}

/* The ids of the groups the user inherits sku_id from (owned array; empty when none). */
static struct json_object *inherited_from(struct json_object *user, const char *sku_id)
{
    struct json_object *out = json_object_new_array();
    struct json_object *states = json_object_object_get(user, "licenseAssignmentStates");
    for (size_t i = 0; i < array_len(states); i++) {
        struct json_object *st = json_object_array_get_idx(states, i);
        const char *id = str_of(st, "skuId");
        const char *group = str_of(st, "assignedByGroup");
        if (id && group && strcasecmp(id, sku_id) == 0) {
            json_object_array_add(out, json_object_new_string(group));
        }
    }
    return out;
}

/* "'E5 Pilot' (id)" for a group id, with the name when it could be read. Owned. */
static char *group_label(struct license_op *op, const char *gid)
{
    const char *name = str_of(op->groups, gid);
    return name ? wr_xasprintf("'%s' (%s)", name, gid) : wr_xasprintf("%s", gid);
}

/* A SKU's skuPartNumber, or NULL. */
static const char *part_number(struct license_op *op, const char *sku_id)
{
    return str_of(wr_directory_sku_find(op->skus, sku_id), "skuPartNumber");
}

/* True when a list of skuIds holds sku_id. */
static bool listed(struct json_object *list, const char *sku_id)
{
    for (size_t i = 0; i < array_len(list); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(list, i));
        if (s && strcasecmp(s, sku_id) == 0) {
            return true;
        }
    }
    return false;
}

/* Adds sku_id to list unless it is there. */
static void add_once(struct json_object *list, const char *sku_id)
{
    if (sku_id && !listed(list, sku_id)) {
        json_object_array_add(list, json_object_new_string(sku_id));
    }
}

/*
 * The user's licences after the change (as planned, in a dry run): [{"skuId", "skuPartNumber",
 * "direct", "inheritedFrom": [{"id", "displayName"}]}], and in *inherited the skuIds the user
 * keeps through a group (owned arrays).
 */
static struct json_object *licences_after(struct license_op *op, struct json_object **inherited)
{
    struct json_object *skus = json_object_new_array();
    struct json_object *list = json_object_object_get(op->user, "assignedLicenses");
    struct json_object *states = json_object_object_get(op->user, "licenseAssignmentStates");
    for (size_t i = 0; i < array_len(list); i++) {
        add_once(skus, str_of(json_object_array_get_idx(list, i), "skuId"));
    }
    for (size_t i = 0; i < array_len(states); i++) {
        add_once(skus, str_of(json_object_array_get_idx(states, i), "skuId"));
    }
    for (size_t i = 0; i < array_len(op->added); i++) {
        add_once(skus, json_object_get_string(json_object_array_get_idx(op->added, i)));
    }
    struct json_object *out = json_object_new_array();
    *inherited = json_object_new_array();
    for (size_t i = 0; i < array_len(skus); i++) {
        const char *sku_id = json_object_get_string(json_object_array_get_idx(skus, i));
        bool is_direct =
            (direct(op->user, sku_id) && !listed(op->removed, sku_id)) || listed(op->added, sku_id);
        struct json_object *gids = inherited_from(op->user, sku_id);
        if (!is_direct && array_len(gids) == 0) {
            json_object_put(gids);
            continue;
        }
        struct json_object *from = json_object_new_array();
        for (size_t g = 0; g < array_len(gids); g++) {
            const char *gid = json_object_get_string(json_object_array_get_idx(gids, g));
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "id", json_object_new_string(gid));
            const char *name = str_of(op->groups, gid);
            json_object_object_add(e, "displayName", name ? json_object_new_string(name) : NULL);
            json_object_array_add(from, e);
        }
        if (array_len(gids) > 0) {
            add_once(*inherited, sku_id);
        }
        json_object_put(gids);
        struct json_object *e = json_object_new_object();
        const char *part = part_number(op, sku_id);
        json_object_object_add(e, "skuId", json_object_new_string(sku_id));
        json_object_object_add(e, "skuPartNumber", part ? json_object_new_string(part) : NULL);
        json_object_object_add(e, "direct", json_object_new_boolean(is_direct));
        json_object_object_add(e, "inheritedFrom", from);
        json_object_array_add(out, e);
    }
    json_object_put(skus);
    return out;
}

/* An assign-license step for user id: {"action", "user"}. Owned. */
static struct json_object *license_step(const char *id)
{
    struct json_object *step = json_object_new_object();
    json_object_object_add(step, "action", json_object_new_string("assign-license"));
    json_object_object_add(step, "user", json_object_new_string(id));
    return step;
}

/* The disabledPlans of a licence entry, as a new array ([] when it has none). Owned. */
static struct json_object *plans_of(struct json_object *entry)
{
    struct json_object *plans = json_object_object_get(entry, "disabledPlans");
    struct json_object *out = json_object_new_array();
    for (size_t i = 0; i < array_len(plans); i++) {
        struct json_object *p = json_object_array_get_idx(plans, i);
        if (json_object_is_type(p, json_type_string)) {
            json_object_array_add(out, json_object_get(p));
        }
    }
    return out;
}

/*
 * The undo record (action.h, issue 18) into out, from the user as read before the change
 * (op->user) and what changed (op->added, op->removed). "before": {"licenses": [{"skuId",
 * "direct", "disabledPlans" (direct ones), "inheritedFrom" (group ids)}] for every SKU touched,
 * and "usageLocation" when it was set}. "undo", in order: one assign-license removing the SKUs
 * added that the user did not hold at all; one assign-license per SKU removed (or whose
 * disabled plans changed) adding it back with its old disabledPlans (a step each: disabled_plans
 * applies to every SKU a step adds). Two things cannot be put back, and "undo_impossible" says
 * so next to "undo" (a partial undo): a direct assignment added on top of a SKU a group already
 * gave (assign-license refuses to remove a SKU a group gives), and a usageLocation this step set
 * on a user who had none (Graph takes no null for it).
 */
static void add_undo(struct license_op *op, struct json_object *out, bool changed)
{
    struct json_object *before = json_object_new_object();
    struct json_object *undo = json_object_new_array();
    struct json_object *licences = json_object_new_array();
    struct json_object *drop = json_object_new_array();
    struct json_object *readd = json_object_new_array();
    struct wr_buf kept = {0};
    for (int pass = 0; changed && pass < 2; pass++) {
        struct json_object *list = pass ? op->removed : op->added;
        for (size_t i = 0; i < array_len(list); i++) {
            const char *sku_id = json_object_get_string(json_object_array_get_idx(list, i));
            struct json_object *had = direct(op->user, sku_id);
            struct json_object *gids = inherited_from(op->user, sku_id);
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "skuId", json_object_new_string(sku_id));
            json_object_object_add(e, "direct", json_object_new_boolean(had != NULL));
            if (had) {
                json_object_object_add(e, "disabledPlans", plans_of(had));
            }
            json_object_object_add(e, "inheritedFrom", json_object_get(gids));
            json_object_array_add(licences, e);
            if (had) {
                struct json_object *step = license_step(op->id);
                struct json_object *add = json_object_new_array();
                json_object_array_add(add, json_object_new_string(sku_id));
                json_object_object_add(step, "add", add);
                json_object_object_add(step, "disabled_plans", plans_of(had));
                json_object_array_add(readd, step);
            } else if (array_len(gids) == 0) {
                json_object_array_add(drop, json_object_new_string(sku_id));
            } else {
                wr_buf_addf(&kept, "%s%s", kept.len ? ", " : "", sku_id);
            }
            json_object_put(gids);
        }
    }
    if (array_len(drop) > 0) {
        struct json_object *step = license_step(op->id);
        json_object_object_add(step, "remove", json_object_get(drop));
        json_object_array_add(undo, step);
    }
    for (size_t i = 0; i < array_len(readd); i++) {
        json_object_array_add(undo, json_object_get(json_object_array_get_idx(readd, i)));
    }
    json_object_put(drop);
    json_object_put(readd);
    json_object_object_add(before, "licenses", licences);
    if (changed && op->set_location) {
        json_object_object_add(before, "usageLocation",
                               json_object_get(json_object_object_get(op->user, "usageLocation")));
    }
    json_object_object_add(out, "before", before);
    json_object_object_add(out, "undo", undo);
    struct wr_buf why = {0};
    if (kept.len) {
        wr_buf_addf(&why,
                    "the direct assignment of %s added on top of a group's licence cannot be "
                    "removed by assign-license (it refuses a SKU a group gives); remove it by "
                    "hand if it must go",
                    wr_buf_str(&kept));
    }
    if (changed && op->set_location) {
        wr_buf_addf(&why,
                    "%sthe usageLocation this step set stays: Graph takes no null for it once "
                    "set",
                    why.len ? "; " : "");
    }
    if (why.len) {
        json_object_object_add(out, "undo_impossible", json_object_new_string(wr_buf_str(&why)));
    }
    wr_buf_free(&why);
    wr_buf_free(&kept);
}

/* {"id", "changed", "added", "removed", "licenses", "inherited"} and usageLocation when it was
   set: "licenses" is the user's licences afterwards, direct or inherited (and from which
   groups); "inherited" the skuIds the user holds through a group. With the undo record. */
static void op_succeed(struct license_op *op, bool changed)
{
    struct json_object *out = json_object_new_object();
    struct json_object *inherited = NULL;
    if (!op->added) {
        op->added = json_object_new_array();
    }
    if (!op->removed) {
        op->removed = json_object_new_array();
    }
    struct json_object *licences = licences_after(op, &inherited);
    json_object_object_add(out, "id", json_object_new_string(op->id));
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    json_object_object_add(out, "added", json_object_get(op->added));
    json_object_object_add(out, "removed", json_object_get(op->removed));
    json_object_object_add(out, "licenses", licences);
    json_object_object_add(out, "inherited", inherited);
    if (op->set_location) {
        json_object_object_add(
            out, "usageLocation",
            json_object_new_string(wr_action_arg_str(op->ctx, "usage_location")));
    }
    add_undo(op, out, changed);
    wr_action_succeed(op->ctx, out);
}

static char *user_path(const char *id, const char *suffix)
{
    return wr_directory_user_path(id, suffix);
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

/* {------ group names: every group the user inherits a licence from, one lookup each ------ */

static void plan(struct license_op *op);

/* The distinct group ids of the user's inherited licences (owned array). */
static struct json_object *group_ids(struct json_object *user)
{
    struct json_object *out = json_object_new_array();
    struct json_object *states = json_object_object_get(user, "licenseAssignmentStates");
    for (size_t i = 0; i < array_len(states); i++) {
        add_once(out, str_of(json_object_array_get_idx(states, i), "assignedByGroup"));
    }
    return out;
}

static void resolve_groups(struct license_op *op);

static void group_named(void *arg, const struct wr_directory_result *r)
{
    struct license_op *op = arg;
    if (!r->ok && r->graph && r->graph->error_code &&
        strcmp(r->graph->error_code, WR_GRAPH_UNEXPECTED) == 0) {
        /* Graph answered, but not with a group: that is no "cannot be read". */
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    struct json_object *ids = group_ids(op->user);
    const char *gid = json_object_get_string(json_object_array_get_idx(ids, op->next_group));
    /* A group that cannot be read (gone, no permission) is named by its id alone. */
    const char *name = r->ok ? str_of(r->object, "displayName") : NULL;
    json_object_object_add(op->groups, gid, name ? json_object_new_string(name) : NULL);
    json_object_put(ids);
    op->next_group++;
    resolve_groups(op);
}

static void resolve_groups(struct license_op *op)
{
    struct json_object *ids = group_ids(op->user);
    if (!op->groups) {
        op->groups = json_object_new_object();
    }
    if (op->next_group < array_len(ids)) {
        const char *gid = json_object_get_string(json_object_array_get_idx(ids, op->next_group));
        wr_directory_group(wr_action_directory(op->ctx), gid, group_named, op);
    } else {
        plan(op);
    }
    json_object_put(ids);
}

static void skus_read(void *arg, const struct wr_directory_result *r)
{
    struct license_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->skus = json_object_get(r->object);
    resolve_groups(op);
}

static void user_read(void *arg, const struct wr_directory_result *r)
{
    struct license_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    char *bad = licences_unreadable(r->object);
    if (bad) {
        wr_action_fail(op->ctx, NULL, false, "looking up user '%s': %s", r->id, bad);
        free(bad);
        return;
    }
    op->id = wr_xstrdup(r->id);
    op->user = json_object_get(r->object);
    wr_directory_skus(wr_action_directory(op->ctx), skus_read, op);
}

/* }------ */

/* {------ assignLicense and what it answered ------ */

static void assign_send(struct license_op *op);

/* After a refused assignLicense that the client had sent more than once: is the user already
   as asked (the first attempt landed)? */
static void assign_reread(void *arg, const struct wr_directory_result *r)
{
    struct license_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    char *bad = licences_unreadable(r->object);
    if (bad) {
        wr_action_fail(op->ctx, NULL, false, "reading back the licences of user %s: %s", op->id,
                       bad);
        free(bad);
        return;
    }
    bool done = true;
    for (size_t i = 0; done && i < array_len(op->added); i++) {
        done = direct(r->object, json_object_get_string(json_object_array_get_idx(op->added, i)));
    }
    for (size_t i = 0; done && i < array_len(op->removed); i++) {
        done =
            !direct(r->object, json_object_get_string(json_object_array_get_idx(op->removed, i)));
    }
    if (done) {
        op_succeed(op, true);
    } else {
        wr_action_fail(
            op->ctx, NULL, false,
            "POST /users/%s/assignLicense was refused and the user's licences are not as "
            "asked",
            op->id);
    }
}

static void assign_written(void *arg, const struct wr_graph_result *res)
{
    struct license_op *op = arg;
    struct wr_directory *dir = wr_action_directory(op->ctx);
    if (res->ok) {
        /* Graph answers 200 with the user it changed: anything else does not say so. */
        char *why = NULL;
        bool retriable = false;
        if (wr_action_dry_run(op->ctx) ||
            wr_graph_answer_entity(res, "the user", "id", &why, &retriable)) {
            op_succeed(op, true);
        } else {
            struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
            wr_action_fail(op->ctx, &u, false, "POST /users/%s/assignLicense", op->id);
        }
        free(why);
        return;
    }
    int64_t age = res->status == 404 ? wr_directory_created_ago(dir, op->id) : -1;
    if (res->status == 400 && array_len(op->added) > 0) {
        /* Graph's invalid-usage-location 400 right after weir set usageLocation: a replica with
           the old value. Its code is the generic Request_BadRequest, so it is judged by time. */
        age = wr_directory_location_ago(dir, op->id);
    }
    if (age >= 0) {
        wr_action_fail_lag(op->ctx, res, age, "POST /users/%s/assignLicense", op->id);
    } else if (res->status == 400 && res->attempts > 1 && !op->rechecked) {
        op->rechecked = true;
        const char *ref = op->id;
        if (wr_directory_user(dir, ref, "assignedLicenses,licenseAssignmentStates", assign_reread,
                              op) != 0) {
            wr_action_fail(op->ctx, res, false, "POST /users/%s/assignLicense", op->id);
        }
    } else {
        wr_action_fail(op->ctx, res, false, "POST /users/%s/assignLicense", op->id);
    }
}

static void assign_send(struct license_op *op)
{
    char *path = user_path(op->id, "/assignLicense");
    if (wr_action_write(op->ctx, "POST", path, op->body, assign_written, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST %s", path);
    }
    free(path);
}

/* }------ */

/* }====== */

/* {====== assign-license ====== */

static void location_written(void *arg, const struct wr_graph_result *res)
{
    struct license_op *op = arg;
    struct wr_directory *dir = wr_action_directory(op->ctx);
    if (!res->ok) {
        int64_t age = res->status == 404 ? wr_directory_created_ago(dir, op->id) : -1;
        if (age >= 0) {
            wr_action_fail_lag(op->ctx, res, age, "setting usageLocation of user %s", op->id);
        } else {
            wr_action_fail(op->ctx, res, false, "setting usageLocation of user %s", op->id);
        }
        return;
    }
    char *why = NULL;
    bool retriable = false;
    if (!wr_graph_answer_done(res, NULL, &why, &retriable)) {
        /* 202 Accepted or an answer of another shape: the location is not said to be set. */
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "setting usageLocation of user %s", op->id);
        free(why);
        return;
    }
    if (!wr_action_dry_run(op->ctx)) {
        wr_directory_note_location(dir, op->id);
    }
    assign_send(op);
}

/*
 * Builds addLicenses: each SKU of `add` the user does not hold directly, and each it holds
 * directly with other disabled plans than `disabled_plans` asks for (only when that argument
 * is given). Returns false after failing the action.
 */
static bool plan_adds(struct license_op *op, struct json_object *adds)
{
    struct json_object *args = wr_action_args(op->ctx);
    struct json_object *add = json_object_object_get(args, "add");
    struct json_object *plans = NULL;
    bool has_plans = json_object_object_get_ex(args, "disabled_plans", &plans) &&
                     json_object_is_type(plans, json_type_array);

    /* Every named plan must belong to at least one added SKU: a typo must not pass silently. */
    for (size_t p = 0; has_plans && p < array_len(plans); p++) {
        const char *plan_name = json_object_get_string(json_object_array_get_idx(plans, p));
        bool known = false;
        for (size_t i = 0; !known && i < array_len(add); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(add, i));
            known = wr_directory_sku_plan(wr_directory_sku_find(op->skus, name), plan_name) != NULL;
        }
        if (!known) {
            wr_action_fail(op->ctx, NULL, false,
                           "service plan '%s' (disabled_plans) is in none of the SKUs added",
                           plan_name ? plan_name : "");
            return false;
        }
    }
    for (size_t i = 0; i < array_len(add); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(add, i));
        struct json_object *sku = wr_directory_sku_find(op->skus, name);
        if (!sku) {
            wr_action_fail(op->ctx, NULL, false,
                           "license '%s' not found: the tenant has no subscribedSku "
                           "with that skuPartNumber or skuId",
                           name ? name : "");
            return false;
        }
        const char *sku_id = str_of(sku, "skuId");
        struct json_object *disabled = json_object_new_array();
        for (size_t p = 0; has_plans && p < array_len(plans); p++) {
            const char *plan_name = json_object_get_string(json_object_array_get_idx(plans, p));
            const char *plan_id = wr_directory_sku_plan(sku, plan_name);
            if (plan_id) {
                json_object_array_add(disabled, json_object_new_string(plan_id));
            }
        }
        /* Held only through a group: a direct assignment is added all the same (see above). */
        struct json_object *have = direct(op->user, sku_id);
        if (have &&
            (!has_plans || same_set(json_object_object_get(have, "disabledPlans"), disabled))) {
            json_object_put(disabled);
            continue;
        }
        /* Key order as in Graph's documented example (GRAPH.md 4.1). */
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "skuId", json_object_new_string(sku_id));
        json_object_object_add(entry, "disabledPlans", disabled);
        json_object_array_add(adds, entry);
        json_object_array_add(op->added, json_object_new_string(sku_id));
    }
    return true;
}

/* Builds removeLicenses: each SKU of `remove` the user holds directly. A SKU a group gives fails
   the action, naming the groups: only the group can take it away. */
static bool plan_removes(struct license_op *op, struct json_object *removes)
{
    struct json_object *remove = json_object_object_get(wr_action_args(op->ctx), "remove");
    for (size_t i = 0; i < array_len(remove); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(remove, i));
        struct json_object *sku = wr_directory_sku_find(op->skus, name);
        if (!sku) {
            wr_action_fail(op->ctx, NULL, false,
                           "license '%s' not found: the tenant has no subscribedSku "
                           "with that skuPartNumber or skuId",
                           name ? name : "");
            return false;
        }
        const char *sku_id = str_of(sku, "skuId");
        struct json_object *gids = inherited_from(op->user, sku_id);
        if (array_len(gids) == 0 && direct(op->user, sku_id)) {
            json_object_array_add(removes, json_object_new_string(sku_id));
            json_object_array_add(op->removed, json_object_new_string(sku_id));
        } else if (array_len(gids) > 0) {
            struct wr_buf names = {0};
            for (size_t g = 0; g < array_len(gids); g++) {
                char *label =
                    group_label(op, json_object_get_string(json_object_array_get_idx(gids, g)));
                wr_buf_addf(&names, "%s%s", g ? ", " : "", label);
                free(label);
            }
            wr_action_fail(
                op->ctx, NULL, false,
                "license %s (%s) of user %s is inherited from group %s%s: Graph cannot "
                "remove a group's licence from one member, so nothing was changed. Remove "
                "the user from the group (remove-from-group), or the licence from the group",
                str_of(sku, "skuPartNumber") ? str_of(sku, "skuPartNumber") : name, sku_id, op->id,
                wr_buf_str(&names),
                direct(op->user, sku_id)
                    ? " (and assigned directly as well; removing that alone would leave the "
                      "group's)"
                    : ", not assigned directly");
            wr_buf_free(&names);
            json_object_put(gids);
            return false;
        }
        json_object_put(gids);
    }
    return true;
}

static void assign_plan(struct license_op *op)
{
    struct json_object *adds = json_object_new_array();
    struct json_object *removes = json_object_new_array();
    op->body = json_object_new_object();
    json_object_object_add(op->body, "addLicenses", adds);
    json_object_object_add(op->body, "removeLicenses", removes);
    op->added = json_object_new_array();
    op->removed = json_object_new_array();
    if (!plan_adds(op, adds) || !plan_removes(op, removes)) {
        return;
    }
    if (array_len(adds) == 0 && array_len(removes) == 0) {
        op_succeed(op, false);
        return;
    }
    const char *location = str_of(op->user, "usageLocation");
    if (array_len(adds) > 0 && (!location || !*location)) {
        const char *want = wr_action_arg_str(op->ctx, "usage_location");
        int64_t age = wr_directory_location_ago(wr_action_directory(op->ctx), op->id);
        if (!want && age >= 0) {
            wr_action_fail_lag(op->ctx, NULL, age,
                               "user %s has no usageLocation yet, though weir set one moments ago",
                               op->id);
            return;
        }
        if (!want) {
            wr_action_fail(
                op->ctx, NULL, false,
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
            wr_action_fail(op->ctx, NULL, false, "the Graph client refused PATCH %s", path);
        }
        free(path);
        return;
    }
    assign_send(op);
}

static void assign_license_run(struct wr_action_ctx *ctx)
{
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"),
                        "assignedLicenses,licenseAssignmentStates,usageLocation", user_read,
                        op_get(ctx));
}

/* }====== */

/* {====== remove-all-licenses ====== */

/* Every direct licence goes; inherited ones stay (and are reported). */
static void remove_all_plan(struct license_op *op)
{
    op->added = json_object_new_array();
    op->removed = json_object_new_array();
    struct json_object *list = json_object_object_get(op->user, "assignedLicenses");
    struct json_object *states = json_object_object_get(op->user, "licenseAssignmentStates");
    for (size_t i = 0; i < array_len(list); i++) {
        const char *sku_id = str_of(json_object_array_get_idx(list, i), "skuId");
        if (sku_id && direct(op->user, sku_id)) {
            add_once(op->removed, sku_id);
        }
    }
    for (size_t i = 0; i < array_len(states); i++) {
        struct json_object *st = json_object_array_get_idx(states, i);
        const char *sku_id = str_of(st, "skuId");
        if (sku_id && !str_of(st, "assignedByGroup")) {
            add_once(op->removed, sku_id); /* a direct licence in an error state goes too */
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

static void plan(struct license_op *op)
{
    if (op->remove_all) {
        remove_all_plan(op);
    } else {
        assign_plan(op);
    }
}

static void remove_all_licenses_run(struct wr_action_ctx *ctx)
{
    struct license_op *op = op_get(ctx);
    op->remove_all = true;
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"),
                        "assignedLicenses,licenseAssignmentStates", user_read, op);
}

/* }====== */

/* Destructive with a remove: that names a SKU (an empty list removes nothing). */
static bool assign_license_destructive(struct json_object *args)
{
    struct json_object *remove = NULL;
    if (!json_object_object_get_ex(args, "remove", &remove) || remove == NULL) {
        return false;
    }
    if (json_object_is_type(remove, json_type_array)) {
        return json_object_array_length(remove) > 0;
    }
    /* Not a list: a template not yet rendered may become one; anything else removes nothing. */
    return json_object_is_type(remove, json_type_string) &&
           strstr(json_object_get_string(remove), "{{") != NULL;
}

const struct wr_action wr_action_assign_license = {
    .name = "assign-license",
    .summary = "add and remove direct licenses (POST /users/{id}/assignLicense), only what differs",
    .args = assign_license_args,
    .validate = assign_license_validate,
    .execute = assign_license_run,
    .destructive = WR_DESTRUCTIVE_BY_ARGS,
    .is_destructive = assign_license_destructive,
    .destructive_note = "with a non-empty remove:",
};

static const struct wr_argspec user_only_args[] = {
    WR_ARGSPEC_USER,
    {0},
};

const struct wr_action wr_action_remove_all_licenses = {
    .name = "remove-all-licenses",
    .summary = "remove every license assigned to the user directly; inherited ones are reported",
    .args = user_only_args,
    .execute = remove_all_licenses_run,
    .destructive = WR_DESTRUCTIVE_YES,
};
