/*
 * delta — the user-change trigger at run time: per workflow, a round every `every` reads
 * /users/delta (the first time with $select, then the stored @odata.deltaLink), merges what
 * changed into the remembered users, and submits one event per user whose watched attributes
 * really changed, the changed remembered users and the new delta link as ONE ingest batch.
 *
 * Memory (trigger_state, scope "user-change <workflow>"): "delta" the deltaLink, "query" the
 * $select it was made with (another one starts over with a baseline), "u:<user id>" the
 * remembered user (triggers/user_change/spec.h). Loaded once when the watcher begins; the
 * in-memory copy changes only after a commit succeeded, so a failed commit repeats the round.
 *
 * The first round (no delta link) is a baseline: it remembers every user and fires nothing. A
 * refused token (410, syncStateNotFound, resyncRequired) makes the round read every user again
 * and compare with what is remembered: a changed user fires once, a user no longer listed
 * fires "deleted", a new one is remembered. A failed read fires nothing and keeps the link.
 * New users are remembered, not fired (they are joiners, not movers).
 */
#ifndef WR_USER_CHANGE_DELTA_H
#define WR_USER_CHANGE_DELTA_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct wr_trigger_env;
struct wr_workflow;

/* The watcher operations for triggers/watchset (static). */
extern const struct wr_watch_ops wr_user_change_watch;

/* The scope preview of wf (weir scope): {"workflow", "trigger", "summary", "users": [],
   "baseline": bool, "users_known": N, "attributes": [...]} from
   state_path (borrowed; NULL = nothing stored). Owned, or NULL with err. */
struct json_object *wr_user_change_preview(const char *state_path, const struct wr_workflow *wf,
                                           char *err, size_t errlen);

#endif
