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
     .help = "which changes fire: [added], [removed] or [added, removed] (the default)"},
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
    int64_t ms = 0;
    if (json_object_object_get_ex(args, "every", &v) && json_object_is_type(v, json_type_string) &&
        wr_duration_parse(json_object_get_string(v), &ms, NULL, 0) == 0 && ms < 1000) {
        char *p = wr_path_key(path, "every");
        wr_check_error(c, p, false, "must be at least 1s");
        free(p);
    }
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

struct group_membership_rt {
    struct wr_trigger_env env; /* a copy: the watchers point at it */
    struct wr_watchset *ws;
};

static void *gm_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                      char *err, size_t errlen)
{
    struct group_membership_rt *rt = wr_xcalloc(1, sizeof(*rt));
    rt->env = *env;
    rt->ws = wr_watchset_start(&wr_group_membership_watch, &rt->env, set, err, errlen);
    if (!rt->ws) {
        free(rt);
        return NULL;
    }
    return rt;
}

static bool gm_ready(const void *p, char *addr, size_t addrlen)
{
    const struct group_membership_rt *rt = p;
    return wr_watchset_ready(rt->ws, addr, addrlen);
}

static bool gm_busy(const void *p)
{
    const struct group_membership_rt *rt = p;
    return wr_watchset_busy(rt->ws);
}

static int gm_prepare(void *p, const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct group_membership_rt *rt = p;
    return wr_watchset_prepare(rt->ws, set, err, errlen);
}

static void gm_commit(void *p, const struct wr_workflow_set *set)
{
    struct group_membership_rt *rt = p;
    wr_watchset_commit(rt->ws, set);
}

static void gm_abort(void *p)
{
    struct group_membership_rt *rt = p;
    wr_watchset_abort(rt->ws);
}

static void gm_stop_accepting(void *p)
{
    struct group_membership_rt *rt = p;
    wr_watchset_stop_accepting(rt->ws);
}

static size_t gm_pending(void *p)
{
    struct group_membership_rt *rt = p;
    return wr_watchset_pending(rt->ws);
}

static void gm_free(void *p)
{
    struct group_membership_rt *rt = p;
    if (rt) {
        wr_watchset_free(rt->ws);
        free(rt);
    }
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

struct preview {
    struct json_object *p;
    char *error;
    void (*done)(void *arg, struct json_object *preview, const char *error);
    void *arg;
};

static void on_preview(evutil_socket_t fd, short what, void *arg)
{
    struct preview *pv = arg;
    (void)fd;
    (void)what;
    pv->done(pv->arg, pv->p, pv->error);
    json_object_put(pv->p);
    free(pv->error);
    free(pv);
}

static int gm_scope(const struct wr_trigger_env *env, const struct wr_workflow *wf, int days,
                    int64_t now_ms,
                    void (*done)(void *arg, struct json_object *preview, const char *error),
                    void *arg, char *err, size_t errlen)
{
    char msg[WR_ERR_MAX];
    (void)days;
    (void)now_ms;
    struct preview *pv = wr_xcalloc(1, sizeof(*pv));
    pv->done = done;
    pv->arg = arg;
    pv->p = wr_group_membership_preview(env->state_path, wf, msg, sizeof(msg));
    if (!pv->p) {
        pv->error = wr_xstrdup(msg);
    }
    struct timeval tv = {0, 0};
    if (event_base_once(env->base, -1, EV_TIMEOUT, on_preview, pv, &tv) != 0) {
        json_object_put(pv->p);
        free(pv->error);
        free(pv);
        snprintf(err, errlen, "cannot schedule the preview");
        return -1;
    }
    return 0;
}

/* }====== */

const struct wr_trigger_kind wr_trigger_group_membership = {
    .name = "group-membership",
    .summary = "a user added to or removed from a group in Entra, by delta query",
    .args = group_membership_args,
    .notes = group_membership_notes,
    .validate = group_membership_validate,
    .what = "group-membership polls",
    .start = gm_start,
    .ready = gm_ready,
    .busy = gm_busy,
    .prepare = gm_prepare,
    .commit = gm_commit,
    .abort = gm_abort,
    .stop_accepting = gm_stop_accepting,
    .pending = gm_pending,
    .free = gm_free,
    .user_select = gm_user_select,
    .user_event = gm_user_event,
    .scope = gm_scope,
};
