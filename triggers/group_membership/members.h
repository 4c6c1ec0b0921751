/*
 * members — the group-membership trigger at run time: per workflow, a round every `every`
 * resolves `group` (displayName or id, through the directory's cache), reads
 * /groups/delta?$filter=id eq '<id>'&$select=displayName,members (then the stored
 * @odata.deltaLink), and submits one event per member added or removed (as `on:` asks), the
 * members' remembered users and the new link as ONE ingest batch.
 *
 * Memory (trigger_state, scope "group-membership <workflow>"): "delta" the deltaLink, "group"
 * {"id", "displayName"} of the resolved group (another id starts over with a baseline),
 * "m:<user id>" the member's last known user {id, userPrincipalName, displayName, mail,
 * employeeId, accountEnabled}. The first round is a baseline (members remembered by id, nothing
 * fired). A refused token makes the round read the whole membership again and compare. Each
 * added or removed member is read (GET /users/{id}, one at a time) for the event; a removed
 * member Graph no longer knows is reported as last remembered. A failed read fires nothing.
 */
#ifndef WR_GROUP_MEMBERSHIP_MEMBERS_H
#define WR_GROUP_MEMBERSHIP_MEMBERS_H

#include <stddef.h>

struct json_object;
struct wr_trigger_kind;
struct wr_workflow;

/* The descriptor (triggers/group_membership/group_membership.c). */
extern const struct wr_trigger_kind wr_trigger_group_membership;

/* The watcher operations for triggers/watchset (static). */
extern const struct wr_watch_ops wr_group_membership_watch;

/* The user properties of an event's user, as a $select list (static). */
extern const char wr_group_membership_select[];

/* The user as an event carries it: the properties of wr_group_membership_select from user
   (borrowed), each present (null when user lacks it). Owned. */
struct json_object *wr_group_membership_user(struct json_object *user);

/* The scope preview of wf: {"workflow", "trigger", "summary", "users": [], "baseline": bool,
   "members_known": N, "group": {"id","displayName"} or null} from state_path (NULL = nothing
   stored). Owned, or NULL with err. */
struct json_object *wr_group_membership_preview(const char *state_path,
                                                const struct wr_workflow *wf, char *err,
                                                size_t errlen);

#endif
