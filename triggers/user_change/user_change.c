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
#include "triggers/entra.h"
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

static void user_change_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    wr_entra_check_properties(c, args, path, "attributes", "manager", true);
    wr_entra_check_properties(c, args, path, "select", NULL, false);
    wr_entra_check_every(c, args, path);
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

/* The runtime is the watchset of the kind's workflows (triggers/watchset). */
static void *user_change_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                               char *err, size_t errlen)
{
    return wr_watchset_start(&wr_user_change_watch, env, set, err, errlen);
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

static int user_change_scope(const struct wr_trigger_env *env, const struct wr_workflow *wf,
                             int days, int64_t now_ms,
                             void (*done)(void *arg, struct json_object *preview,
                                          const char *error),
                             void *arg, char *err, size_t errlen)
{
    char msg[WR_ERR_MAX];
    (void)days;
    (void)now_ms;
    struct json_object *p = wr_user_change_preview(env->state_path, wf, msg, sizeof(msg));
    return wr_entra_preview_later(env->base, p, p ? NULL : msg, done, arg, err, errlen);
}

/* }====== */

/* The console's one line for a workflow of this kind. */
static char *user_change_summarize(const struct wr_workflow *wf)
{
    static const struct wr_trigger_summary_part parts[] = {
        {.key = "attributes"}, {.label = "every", .key = "every"}, {0}};
    return wr_trigger_summary(wf, parts);
}

const struct wr_trigger_kind wr_trigger_user_change = {
    .name = "user-change",
    .summary = "a change of watched attributes of a user in Entra (movers), by delta query",
    .args = user_change_args,
    .notes = user_change_notes,
    .validate = user_change_validate,
    .what = "user-change polls",
    .leader_only = true,
    .start = user_change_start,
    .ready = wr_watchset_slot_ready,
    .busy = wr_watchset_slot_busy,
    .prepare = wr_watchset_slot_prepare,
    .commit = wr_watchset_slot_commit,
    .abort = wr_watchset_slot_abort,
    .stop_accepting = wr_watchset_slot_stop_accepting,
    .pending = wr_watchset_slot_pending,
    .free = wr_watchset_slot_free,
    .user_select = user_change_user_select,
    .user_event = user_change_user_event,
    .scope = user_change_scope,
    .summarize = user_change_summarize,
};
