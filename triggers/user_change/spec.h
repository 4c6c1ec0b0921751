/*
 * spec — the pure core of the user-change trigger (issue #16): its arguments, the delta
 * query, the user as weir remembers it, and what changed between two of them.
 *
 * No I/O, no clock, no loop. The remembered user ("u:<id>" in trigger_state) is one JSON
 * object with its keys in a fixed order, so equal users have equal text: id,
 * userPrincipalName, displayName, mail, employeeId, accountEnabled, the watched attributes,
 * the select:ed properties, and "manager": {"id", "userPrincipalName"} or null when manager is
 * watched. A property Graph does not send in a full read is null.
 */
#ifndef WR_USER_CHANGE_SPEC_H
#define WR_USER_CHANGE_SPEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wr_trigger_kind;

/* every: at least 1s, default 5m. */
#define WR_USER_CHANGE_EVERY_MIN_MS     ((int64_t)1000)
#define WR_USER_CHANGE_EVERY_DEFAULT_MS ((int64_t)5 * 60 * 1000)

/* The descriptor (triggers/user_change/user_change.c). */
extern const struct wr_trigger_kind wr_trigger_user_change;

/* A workflow's user-change arguments, read once after they were checked. */
struct wr_user_change_spec {
    char **attrs; /* owned; the watched attributes, each once, "manager" included if watched */
    size_t nattrs;
    bool manager;  /* "manager" is among attrs */
    char **select; /* owned; extra properties for event.user, each once, none of attrs */
    size_t nselect;
    int64_t every_ms;
};

/* Fills *s (zeroed first) from args (checked; borrowed). -1 + err only for input the checks
   refuse. Release with wr_user_change_spec_clear, also after -1. */
int wr_user_change_spec_read(struct json_object *args, struct wr_user_change_spec *s, char *err,
                             size_t errlen);
void wr_user_change_spec_clear(struct wr_user_change_spec *s);

/* The $select list: the fixed properties, the attributes, the select:ed ones, each once, with
   manager last when watched (a user/delta $select names manager to get manager@delta). Owned. */
char *wr_user_change_select(const struct wr_user_change_spec *s);

/* The first read's path: "/users/delta?$select=<select, percent-encoded>". Owned. */
char *wr_user_change_path(const struct wr_user_change_spec *s);

/*
 * The remembered user after item (borrowed: a /users/delta entry, or a user object read with
 * wr_user_change_select) was read. full: item is the whole user (a full read, a new user): a
 * property it lacks is null, manager@delta lacking means no manager. Otherwise item carries
 * only what changed and old (borrowed, a remembered user; NULL = unknown, read as full) gives
 * the rest. A manager from manager@delta keeps old's userPrincipalName when the id is old's,
 * else it is null until wr_user_change_fill_manager. A plain "manager" object (a user read
 * with $expand) is taken as it is. Owned.
 */
struct json_object *wr_user_change_user(const struct wr_user_change_spec *s,
                                        struct json_object *item, struct json_object *old,
                                        bool full);

/* Sets user's manager.userPrincipalName (when null) to upn (borrowed, may be NULL). */
void wr_user_change_fill_manager(struct json_object *user, const char *upn);

/* The manager id of a remembered user, or NULL (borrowed). */
const char *wr_user_change_manager_id(struct json_object *user);

/* The manager's userPrincipalName of a remembered user, or NULL (no manager, or not known yet;
   borrowed). */
const char *wr_user_change_manager_upn(struct json_object *user);

/*
 * What changed in the watched attributes from old to now (both borrowed remembered users):
 * {"department": {"from": "Sales", "to": "IT"}, "manager": {"from": {id, upn}|null, "to": ...}}
 * (manager compared by id), or NULL when nothing watched changed. Owned.
 */
struct json_object *wr_user_change_diff(const struct wr_user_change_spec *s,
                                        struct json_object *old, struct json_object *now);

/* The remembered user's text (compact, fixed key order): the state value. Borrowed from u. */
const char *wr_user_change_text(struct json_object *u);

/* The idempotency key "user-change:<workflow>:<user id>:<16 hex>", the hex a hash of what
   (the round's starting delta link and the change's text). Owned. */
char *wr_user_change_key(const char *workflow, const char *user_id, const char *from_link,
                         const char *what);

#endif
