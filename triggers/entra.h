/*
 * entra — what the directory trigger kinds (user-date, user-change, group-membership) share
 * about Entra's users: the properties a user has, from Graph's v1.0 $metadata, and the checks
 * of the arguments that name them or set a round's interval.
 *
 * Not a trigger kind: a file beside the registry that any kind may include (triggers/README).
 */
#ifndef WR_TRIGGER_ENTRA_H
#define WR_TRIGGER_ENTRA_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/lang/argspec.h"

/* The shortest `every:` of a directory trigger: 1s (tests poll fast; real ones use minutes). */
#define WR_ENTRA_EVERY_MIN_MS ((int64_t)1000)

/*
 * The Edm.DateTimeOffset properties of microsoft.graph.user (what user-date's `attribute`
 * may name), and every structural property of a user (the user's own and those of
 * directoryObject and entity: what `select:` and `attributes:` may name). NULL-terminated,
 * static, from Graph's v1.0 metadata (/work/shared/graph/cleanMetadata.xml, EntityType user /
 * directoryObject / entity); update them by hand when Graph adds one.
 */
extern const char *const wr_entra_user_dates[];
extern const char *const wr_entra_user_properties[];

/* What every directory event's user carries, before the kind's own properties: id,
   userPrincipalName, displayName, mail, employeeId, accountEnabled. NULL-terminated. */
extern const char *const wr_entra_user_fixed[];

/*
 * Checks that every string of the list args[key] (borrowed; absent or not a list: nothing to
 * say, the argument table did) is a user property, or also (may be NULL; user-change's
 * "manager"); an unknown one is reported at path.key[i] with a suggestion. need_one: an empty
 * list is an error too.
 */
void wr_entra_check_properties(struct wr_check *c, struct json_object *args, const char *path,
                               const char *key, const char *also, bool need_one);

/* Reports an `every:` (a duration string in args) shorter than WR_ENTRA_EVERY_MIN_MS. */
void wr_entra_check_every(struct wr_check *c, struct json_object *args, const char *path);

struct event_base;

/*
 * Gives freed heap back to the system after a big round (pages >= 20: a baseline or full
 * re-read): such a round frees many small blocks at once, which glibc keeps in its arenas
 * rather than returning, so without this weir's RSS stays at the round's peak until the next
 * one. malloc_trim runs on a later loop turn, because the journal frees a committed batch (a
 * row per user) only after its callback returned. Nothing on other C libraries.
 */
void wr_entra_give_back(struct event_base *base, int pages);

/*
 * Delivers a preview to `weir scope` on a later loop turn, as the scope slot promises:
 * done(arg, preview, NULL), or done(arg, NULL, error) when preview is NULL. preview is taken;
 * error copied. Returns 0, or -1 with err when nothing could be scheduled (preview freed).
 */
int wr_entra_preview_later(struct event_base *base, struct json_object *preview, const char *error,
                           void (*done)(void *arg, struct json_object *preview, const char *error),
                           void *arg, char *err, size_t errlen);

#endif
