/*
 * group_membership — the group-membership trigger (issue #16): a run per member added to or
 * removed from a group in Entra, found through Graph's delta query on that group. This file
 * declares and checks the arguments and glues the run-time slots to the watchers
 * (triggers/watchset) of triggers/group_membership/members.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/duration.h"
#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/lang/workflow.h"
#include "triggers/group_membership/members.h"
#include "triggers/entra.h"
#include "triggers/trigger.h"
#include "triggers/watchset.h"

static const char *const changes[] = {"added", "removed", NULL};

static const struct wr_argspec group_membership_args[] = {
    {.name = "group",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .expect = "a group's displayName or object id",
     .help = "the group watched: its displayName or object id"},
    {.name = "on",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_NO_TEMPLATE,
     .expect = "a list of added and/or removed",
     .help = "which changes fire: [added], [removed] or [added, removed] (the default)",
     /* group_membership_validate: the elements of changes[], at least one */
     .schema = "{\"minItems\": 1, \"items\": {\"enum\": [\"added\", \"removed\"]}}"},
    {.name = "every",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how often Graph is asked for changes, at least 1s; default 5m"},
    {0},
};

static void group_membership_validate(struct wr_check *c, struct json_object *args,
                                      const char *path)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(args, "on", &v) && json_object_is_type(v, json_type_array)) {
        char *op = wr_path_key(path, "on");
        if (json_object_array_length(v) == 0) {
            wr_check_error(c, op, false, "needs added, removed or both");
        }
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            struct json_object *e = json_object_array_get_idx(v, i);
            const char *s =
                json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
            if (!s || strcmp(s, "added") == 0 || strcmp(s, "removed") == 0) {
                continue;
            }
            char *p = wr_path_index(op, i);
            const char *sug = wr_suggest(s, changes);
            if (sug) {
                wr_check_error(c, p, false,
                               "'%s' is not a change (added or removed; did you "
                               "mean '%s'?)",
                               s, sug);
            } else {
                wr_check_error(c, p, false, "'%s' is not a change (added or removed)", s);
            }
            free(p);
        }
        free(op);
    }
    wr_entra_check_every(c, args, path);
}

static const char group_membership_notes[] =
    "Each round (every `every`) asks Graph's /groups/delta what changed in the group's\n"
    "members since the last one, and starts one run per user added or removed:\n"
    "event = {\"user\": {...}, \"group\": {\"id\", \"displayName\"}, \"change\": \"added\"}.\n"
    "The FIRST round records the members and fires nothing. When Graph refuses the stored\n"
    "delta token, the whole membership is read again and compared: nothing is missed or\n"
    "fired twice. Only users count (nested groups, devices and contacts are skipped).\n"
    "\n"
    "event.user holds id, userPrincipalName, displayName, mail, employeeId, accountEnabled.\n";

/* {====== at run time ====== */

/* The runtime is the watchset of the kind's workflows (triggers/watchset). */
static void *gm_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                      char *err, size_t errlen)
{
    return wr_watchset_start(&wr_group_membership_watch, env, set, err, errlen);
}

/* }====== */

/* {====== on demand, and the preview ====== */

static char *gm_user_select(const struct wr_workflow *wf)
{
    (void)wf;
    return wr_xstrdup(wr_group_membership_select);
}

/* On demand the group is named as written (the run did not resolve it). */
static struct json_object *gm_user_event(const struct wr_workflow *wf, struct json_object *user,
                                         char *err, size_t errlen)
{
    struct json_object *g = NULL;
    (void)err;
    (void)errlen;
    json_object_object_get_ex(wf->trigger_args, "group", &g);
    const char *ref = json_object_get_string(g);
    struct json_object *group = json_object_new_object();
    bool is_id = ref && wr_directory_is_guid(ref);
    json_object_object_add(group, "id", is_id ? json_object_new_string(ref) : NULL);
    json_object_object_add(group, "displayName", is_id ? NULL : json_object_new_string(ref));
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "user", wr_group_membership_user(user));
    json_object_object_add(ev, "group", group);
    json_object_object_add(ev, "change", json_object_new_string("added"));
    json_object_object_add(ev, "on_demand", json_object_new_boolean(true));
    return ev;
}

static int gm_scope(const struct wr_trigger_env *env, const struct wr_workflow *wf, int days,
                    int64_t now_ms,
                    void (*done)(void *arg, struct json_object *preview, const char *error),
                    void *arg, char *err, size_t errlen)
{
    char msg[WR_ERR_MAX];
    (void)days;
    (void)now_ms;
    struct json_object *p = wr_group_membership_preview(env->state_path, wf, msg, sizeof(msg));
    return wr_entra_preview_later(env->base, p, p ? NULL : msg, done, arg, err, errlen);
}

/* }====== */

/* The console's one line for a workflow of this kind. */
static char *group_membership_summarize(const struct wr_workflow *wf)
{
    static const struct wr_trigger_summary_part parts[] = {
        {.key = "group"}, {.label = "on", .key = "on"}, {.label = "every", .key = "every"}, {0}};
    return wr_trigger_summary(wf, parts);
}

const struct wr_trigger_kind wr_trigger_group_membership = {
    .name = "group-membership",
    .summary = "a user added to or removed from a group in Entra, by delta query",
    .args = group_membership_args,
    .notes = group_membership_notes,
    .validate = group_membership_validate,
    .what = "group-membership polls",
    .leader_only = true,
    .start = gm_start,
    .ready = wr_watchset_slot_ready,
    .busy = wr_watchset_slot_busy,
    .prepare = wr_watchset_slot_prepare,
    .commit = wr_watchset_slot_commit,
    .abort = wr_watchset_slot_abort,
    .stop_accepting = wr_watchset_slot_stop_accepting,
    .pending = wr_watchset_slot_pending,
    .free = wr_watchset_slot_free,
    .user_select = gm_user_select,
    .user_event = gm_user_event,
    .scope = gm_scope,
    .summarize = group_membership_summarize,
};
