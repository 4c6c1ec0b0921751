/*
 * user_change — the user-change trigger (issue #16): a run per user whose watched attributes
 * (department, jobTitle, manager, ...) changed in Entra, found through Graph's delta query.
 * This file declares and checks the arguments and glues the run-time slots to the watchers
 * (triggers/watchset) of triggers/user_change/delta; spec holds the pure rules.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/duration.h"
#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "triggers/trigger.h"
#include "triggers/user_change/delta.h"
#include "triggers/user_change/spec.h"
#include "triggers/watchset.h"

static const struct wr_argspec user_change_args[] = {
    {.name = "attributes",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .expect = "a list of user properties, e.g. [department, jobTitle, manager]",
     .help = "the user properties whose change fires, e.g. [department, manager]"},
    {.name = "every",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how often Graph is asked for changes, at least 1s; default 5m"},
    {.name = "select",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "more user properties to put in event.user, e.g. [jobTitle, officeLocation]"},
    {0},
};

static const char *const manager_only[] = {"manager", NULL};

/* Each name of args[key] must be a user property (or manager, when allow_manager). */
static void check_names(struct wr_check *c, struct json_object *args, const char *path,
                        const char *key, bool allow_manager)
{
    struct json_object *list = NULL;
    if (!json_object_object_get_ex(args, key, &list) ||
        !json_object_is_type(list, json_type_array)) {
        return; /* absent or not a list: the table said so */
    }
    char *lp = wr_path_key(path, key);
    if (json_object_array_length(list) == 0) {
        wr_check_error(c, lp, false, "needs at least one user property");
    }
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *e = json_object_array_get_idx(list, i);
        const char *name =
            json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
        bool known = !name || (allow_manager && strcmp(name, "manager") == 0);
        for (size_t k = 0; name && !known && wr_user_change_properties[k]; k++) {
            known = strcmp(name, wr_user_change_properties[k]) == 0;
        }
        if (known) {
            continue;
        }
        char *p = wr_path_index(lp, i);
        const char *sug = wr_suggest(name, wr_user_change_properties);
        if (!sug && allow_manager) {
            sug = wr_suggest(name, manager_only);
        }
        if (sug) {
            wr_check_error(c, p, false, "unknown user property '%s' (did you mean '%s'?)", name,
                           sug);
        } else {
            wr_check_error(c, p, false, "unknown user property '%s' (see Graph's user resource)",
                           name);
        }
        free(p);
    }
    free(lp);
}

static void user_change_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *v = NULL;
    check_names(c, args, path, "attributes", true);
    check_names(c, args, path, "select", false);
    int64_t ms = 0;
    if (json_object_object_get_ex(args, "every", &v) && json_object_is_type(v, json_type_string) &&
        wr_duration_parse(json_object_get_string(v), &ms, NULL, 0) == 0 &&
        ms < WR_USER_CHANGE_EVERY_MIN_MS) {
        char *p = wr_path_key(path, "every");
        wr_check_error(c, p, false, "must be at least 1s");
        free(p);
    }
}

static const char user_change_notes[] =
    "Each round (every `every`) asks Graph's /users/delta what changed since the last one,\n"
    "and starts one run per user whose watched attributes really changed:\n"
    "event.changes = {\"department\": {\"from\": \"Sales\", \"to\": \"IT\"}}; a manager\n"
    "change gives from/to as {id, userPrincipalName} (or null). A deleted user gives\n"
    "event.deleted = true with the user as last seen. The FIRST round records a baseline and\n"
    "fires nothing; a new user is remembered, not fired. When Graph refuses the stored delta\n"
    "token, every user is read again and compared: nothing is missed or fired twice.\n"
    "\n"
    "event.user holds id, userPrincipalName, displayName, mail, employeeId, accountEnabled,\n"
    "the attributes (manager as {id, userPrincipalName}) and the `select`ed properties.\n";

/* {====== at run time ====== */

struct user_change_rt {
    struct wr_trigger_env env; /* a copy: the watchers point at it */
    struct wr_watchset *ws;
};

static void *user_change_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                               char *err, size_t errlen)
{
    struct user_change_rt *rt = wr_xcalloc(1, sizeof(*rt));
    rt->env = *env;
    rt->ws = wr_watchset_start(&wr_user_change_watch, &rt->env, set, err, errlen);
    if (!rt->ws) {
        free(rt);
        return NULL;
    }
    return rt;
}

static bool user_change_ready(const void *p, char *addr, size_t addrlen)
{
    const struct user_change_rt *rt = p;
    return wr_watchset_ready(rt->ws, addr, addrlen);
}

static bool user_change_busy(const void *p)
{
    const struct user_change_rt *rt = p;
    return wr_watchset_busy(rt->ws);
}

static int user_change_prepare(void *p, const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct user_change_rt *rt = p;
    return wr_watchset_prepare(rt->ws, set, err, errlen);
}

static void user_change_commit(void *p, const struct wr_workflow_set *set)
{
    struct user_change_rt *rt = p;
    wr_watchset_commit(rt->ws, set);
}

static void user_change_abort(void *p)
{
    struct user_change_rt *rt = p;
    wr_watchset_abort(rt->ws);
}

static void user_change_stop_accepting(void *p)
{
    struct user_change_rt *rt = p;
    wr_watchset_stop_accepting(rt->ws);
}

static size_t user_change_pending(void *p)
{
    struct user_change_rt *rt = p;
    return wr_watchset_pending(rt->ws);
}

static void user_change_free(void *p)
{
    struct user_change_rt *rt = p;
    if (rt) {
        wr_watchset_free(rt->ws);
        free(rt);
    }
}

/* }====== */

/* {====== on demand, and the preview ====== */

/* The user read for `weir fire --user`: the $select without manager (a navigation property a
   plain user read does not $select). */
static char *user_change_user_select(const struct wr_workflow *wf)
{
    struct wr_user_change_spec s;
    char err[WR_ERR_MAX];
    char *sel = NULL;
    if (wr_user_change_spec_read(wf->trigger_args, &s, err, sizeof(err)) == 0) {
        sel = wr_user_change_select(&s);
        size_t n = strlen(sel);
        if (n > 8 && strcmp(sel + n - 8, ",manager") == 0) {
            sel[n - 8] = '\0';
        }
    }
    wr_user_change_spec_clear(&s);
    return sel;
}

static struct json_object *user_change_user_event(const struct wr_workflow *wf,
                                                  struct json_object *user, char *err,
                                                  size_t errlen)
{
    struct wr_user_change_spec s;
    if (wr_user_change_spec_read(wf->trigger_args, &s, err, errlen) != 0) {
        wr_user_change_spec_clear(&s);
        return NULL;
    }
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "user", wr_user_change_user(&s, user, NULL, true));
    json_object_object_add(ev, "changes", json_object_new_object());
    json_object_object_add(ev, "on_demand", json_object_new_boolean(true));
    wr_user_change_spec_clear(&s);
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

static int user_change_scope(const struct wr_trigger_env *env, const struct wr_workflow *wf,
                             int days, int64_t now_ms,
                             void (*done)(void *arg, struct json_object *preview,
                                          const char *error),
                             void *arg, char *err, size_t errlen)
{
    char msg[WR_ERR_MAX];
    (void)days;
    (void)now_ms;
    struct preview *pv = wr_xcalloc(1, sizeof(*pv));
    pv->done = done;
    pv->arg = arg;
    pv->p = wr_user_change_preview(env->state_path, wf, msg, sizeof(msg));
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

const struct wr_trigger_kind wr_trigger_user_change = {
    .name = "user-change",
    .summary = "a change of watched attributes of a user in Entra (movers), by delta query",
    .args = user_change_args,
    .notes = user_change_notes,
    .validate = user_change_validate,
    .what = "user-change polls",
    .start = user_change_start,
    .ready = user_change_ready,
    .busy = user_change_busy,
    .prepare = user_change_prepare,
    .commit = user_change_commit,
    .abort = user_change_abort,
    .stop_accepting = user_change_stop_accepting,
    .pending = user_change_pending,
    .free = user_change_free,
    .user_select = user_change_user_select,
    .user_event = user_change_user_event,
    .scope = user_change_scope,
};
