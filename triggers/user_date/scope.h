/*
 * scope — the user-date kind's slots for `weir fire WORKFLOW --user REF` and `weir scope
 * WORKFLOW --days N` (triggers/trigger.h: user_select, user_event, scope), on the rules of
 * triggers/user_date/due.h. The descriptor in user_date.c points at them.
 */
#ifndef WR_USER_DATE_SCOPE_H
#define WR_USER_DATE_SCOPE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct wr_trigger_env;
struct wr_workflow;

/* The user_select slot: wr_user_date_select of wf's arguments (owned), or NULL when they do
   not read (they passed validation, so never in practice). */
char *wr_user_date_user_select(const struct wr_workflow *wf);

/*
 * The user_event slot: the event wr_user_date_event builds from user (borrowed: Graph's user
 * object), its date and due time computed from the user's attribute as a poll would, plus
 * "on_demand": true. Owned; or NULL with why in err: "user adele@contoso.com has no
 * employeeHireDate: ...", or the attribute that is not a date.
 */
struct json_object *wr_user_date_user_event(const struct wr_workflow *wf, struct json_object *user,
                                            char *err, size_t errlen);

/*
 * The scope slot: reads, with one advanced query (ConsistencyLevel: eventual on every page),
 * every user whose attribute's value can make a due time in [now_ms - catch_up, now_ms + days]
 * and lists those whose due time is in it, by due time: state "due now" (in the catch-up
 * window: the next poll fires it), "later" (still to come), "fired" (the journal's
 * trigger_state "user-date <workflow>" has "fired:<user id>" with this value), or
 * "unreadable" (the attribute is not a date; detail says why). Each row: id,
 * userPrincipalName, displayName, state, date (as Graph sent it), due (UTC ISO), due_local
 * ("2026-03-20 09:00 CET" in the workflow's zone), detail. The preview adds attribute, zone,
 * days, now, from, to and counts to the keys of trigger.h. Reads env->dir and
 * env->state_path (a journal that does not exist: nothing fired); writes nothing.
 */
int wr_user_date_scope(const struct wr_trigger_env *env, const struct wr_workflow *wf, int days,
                       int64_t now_ms,
                       void (*done)(void *arg, struct json_object *preview, const char *error),
                       void *arg, char *err, size_t errlen);

#endif
