/*
 * tenant.h: the simulated directory: users, subscribed SKUs, role definitions and assignments,
 * PIM schedules (eligible and time-bound role assignments), groups (which may carry licences)
 * and managers, loaded from a seed file.
 *
 * This module owns the data and its invariants (indexes by id, UPN, mail and employeeId; seat
 * counts; cascades when a user is deleted) and validates property values against the generated
 * schema table. It does not speak HTTP and does not decide Graph's status codes or messages:
 * graph.c does. Everything here runs on the event loop thread.
 */
#ifndef GS_TENANT_H
#define GS_TENANT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "user_schema.h"
#include "util.h"

struct gs_user {
    uint64_t seq;               /* creation order; lists and paging follow it */
    size_t pos;                 /* index in gs_tenant.users */
    json_object *v[GS_U_COUNT]; /* owned property values, NULL when unset; assignedLicenses and
                                   licenseAssignmentStates are computed (gs_tenant_user_licenses) */
    char *manager_id;           /* owned id of the manager, or NULL */
    json_object *direct;        /* owned array of the directly assigned licences
                                   ({skuId, disabledPlans}), or NULL for none */
    double created_at;          /* gs_now_mono() when POST /users made it; 0 for seeded users */
    double location_at;         /* gs_now_mono() of the last usageLocation change, or 0 */
};

struct gs_group {
    json_object *obj;       /* the group's properties, as Graph returns them */
    json_object *licenses;  /* owned array of the licences it gives its members
                               ({skuId, disabledPlans}; group-based licensing), or NULL */
    const char *id;         /* borrowed from obj */
    struct gs_map *members; /* member id -> struct gs_user * */
    char **order;           /* owned member ids in the order they were added */
    size_t norder, cap;
};

struct gs_sku {
    json_object *obj; /* the subscribedSku as Graph returns it; consumedUnits kept current */
    const char *sku_id;
    const char *part_number;
    int64_t enabled;
    int64_t consumed;
};

struct gs_role_def {
    json_object *obj; /* the unifiedRoleDefinition as Graph returns it */
    const char *id;
    const char *template_id;
    const char *display_name;
};

struct gs_role_assignment {
    char *id;
    char *role_definition_id;
    char *principal_id;
    char *directory_scope_id; /* NULL when app-scoped */
    char *app_scope_id;       /* NULL when directory-scoped */
};

/* A PIM schedule: an eligible role assignment (roleEligibilitySchedules) or a time-bound active
 * one (roleAssignmentSchedules). Neither is listed under roleAssignments. */
struct gs_schedule {
    char *id;
    char *principal_id;
    char *role_definition_id;
    char *directory_scope_id;
    char *start;   /* startDateTime */
    char *end;     /* endDateTime, or NULL for noExpiration */
    char *created; /* createdDateTime */
};

/* The two kinds of PIM schedule. */
enum gs_pim { GS_PIM_ELIGIBILITY, GS_PIM_ASSIGNMENT };

/* A deleted user (DELETE /users/{id}): Entra keeps it 30 days in /directory/deletedItems, and
 * POST /directory/deletedItems/{id}/restore brings it back with the group memberships, role
 * assignments, PIM schedules and licences it had. This keeps what restore needs. */
struct gs_deleted {
    struct gs_user *user;     /* owned; in no index, not in gs_tenant.users */
    struct gs_group **groups; /* owned array of the groups it was a member of */
    size_t ngroups;
    struct gs_role_assignment **assignments; /* owned, detached from the tenant */
    size_t nassignments;
    struct gs_schedule **schedules[2]; /* owned, detached; by enum gs_pim */
    size_t nschedules[2];
};

/* What a change-log entry records (besides a property index, 0 .. GS_U_COUNT-1). */
enum {
    GS_CH_CREATED = -1,       /* the user was created */
    GS_CH_DELETED = -2,       /* the user was deleted */
    GS_CH_MANAGER = -3,       /* the user's manager changed; aux is the old manager or "" */
    GS_CH_MEMBER_ADDED = -4,  /* the user joined group */
    GS_CH_MEMBER_REMOVED = -5 /* the user left group */
};

/* One change to the directory after the seed was loaded, for delta queries. */
struct gs_change {
    uint64_t seq;           /* gs_tenant.change_seq after it; ascending in the log */
    char id[37];            /* the user's object id */
    char aux[37];           /* GS_CH_MANAGER: the previous manager's id, or "" */
    int what;               /* a property index or GS_CH_* */
    struct gs_group *group; /* GS_CH_MEMBER_*: the group (groups live as long as the tenant) */
};

struct gs_tenant {
    char *id;
    char *display_name;
    char **domains; /* verified domains; domains[0] is the initial domain */
    size_t ndomains;
    char *client_id;
    char *client_secret;    /* NULL when the app has certificates only */
    struct gs_cert **certs; /* the app's registered certificates (assertion.h) */
    size_t ncerts;

    struct gs_user **users; /* by seq; deleted users leave NULL until gs_tenant_compact */
    size_t nusers, cap, ntomb;
    uint64_t next_seq;
    struct gs_map *by_id, *by_upn, *by_mail, *by_employee_id; /* case-insensitive */
    struct gs_map *shared;   /* shared immutable string values (see gs_user_defaults) */
    json_object *true_value; /* shared JSON true */

    struct gs_sku *skus;
    size_t nskus;
    struct gs_role_def *roles;
    size_t nroles;
    struct gs_role_assignment **assignments;
    size_t nassignments, acap;
    struct gs_group **groups;
    size_t ngroups;
    struct gs_schedule **schedules[2]; /* by enum gs_pim */
    size_t nschedules[2], scap[2];
    json_object *schedule_requests[2]; /* the schedule requests made, as Graph returns them */
    struct gs_deleted **deleted;       /* deleted users, oldest first */
    size_t ndeleted, dcap;

    /* Change tracking for delta queries: every change after the seed was loaded (tracking is
       set once it is), in order. nonce tells this tenant's delta tokens from an earlier one's
       (a /_sim/reset builds a new tenant). */
    bool tracking;
    uint64_t change_seq;
    uint64_t nonce;
    struct gs_change *changes;
    size_t nchanges, chcap;

    /* Mail (graph.c): the messages POST /users/{id}/sendMail accepted, in order (an owned
       array, NULL until the first), and each mailbox's settings as PATCHed (an owned object,
       user id -> mailboxSettings, NULL until the first; unset members read as Graph's
       defaults). */
    json_object *mail_sent;
    json_object *mailboxes;
};

/* Builds a tenant from a parsed seed (borrowed) plus generate_users synthetic users on top of the
 * seed's own "generate_users" count (a negative value means "use the seed's"). Returns NULL and
 * a message in err when the seed is invalid. */
struct gs_tenant *gs_tenant_new(json_object *seed, long generate_users, char *err, size_t errlen);

/* Frees the tenant and everything it owns; NULL is accepted. */
void gs_tenant_free(struct gs_tenant *t);

/* Returns the index of the user property called name (case-insensitively when nocase), or -1. */
int gs_user_prop_index(const char *name, bool nocase);

/* Returns whether name is a navigation property of microsoft.graph.user. */
bool gs_user_is_navigation(const char *name);

/* Checks value (NULL = JSON null) against property p: EDM type, collection, nullability and
 * complex members. Returns true when valid; otherwise false with the offending member's name
 * written to why (or an empty string when the property itself is wrong). */
bool gs_prop_check(const struct gs_prop *p, json_object *value, char *why, size_t whylen);

/* Returns the user whose id or userPrincipalName is key (case-insensitively), or NULL. */
struct gs_user *gs_tenant_user_find(const struct gs_tenant *t, const char *key);

/* Returns the user with object id id, or NULL. */
struct gs_user *gs_tenant_user_by_id(const struct gs_tenant *t, const char *id);

/* Returns the string value of property idx of u, or NULL when unset or not a string. */
const char *gs_user_str(const struct gs_user *u, int idx);

/* Returns a new user with no properties; the caller fills it and calls gs_tenant_user_insert. */
struct gs_user *gs_user_new(void);

/* Frees a user that is not in a tenant; NULL is accepted. */
void gs_user_free(struct gs_user *u);

/* Sets what Graph fills in for every user when absent: accountEnabled true, userType "Member"
 * and a createdDateTime. Unset collections read as [] (see gs_user_project). */
void gs_user_defaults(struct gs_tenant *t, struct gs_user *u);

/* Adds u (owned by the tenant from now on) with the next seq and indexes it. The caller has
 * checked that its id and UPN are set and unused. */
void gs_tenant_user_insert(struct gs_tenant *t, struct gs_user *u);

/* Sets property idx of u to value (taking ownership; NULL clears it) and keeps the id, UPN, mail
 * and employeeId indexes current. */
void gs_tenant_user_set(struct gs_tenant *t, struct gs_user *u, int idx, json_object *value);

/* Sets u's manager to mgr (NULL removes it), recording the change for delta queries. */
void gs_tenant_user_set_manager(struct gs_tenant *t, struct gs_user *u, const struct gs_user *mgr);

/* Returns the index of the first change with seq > seq in t->changes. */
size_t gs_tenant_changes_after(const struct gs_tenant *t, uint64_t seq);

/* Deletes u as Entra does: removes it from groups, role assignments, PIM schedules and other
 * users' manager, releases its license seats, and keeps it (with what it held) among the deleted
 * users (struct gs_deleted) until it is restored or purged. */
void gs_tenant_user_delete(struct gs_tenant *t, struct gs_user *u);

/* The deleted user with object id id (case-insensitive), or NULL. */
struct gs_deleted *gs_tenant_deleted(const struct gs_tenant *t, const char *id);

/* Restores d (gs_tenant_deleted) with its memberships, roles, schedules and licences, and frees
 * d. Returns false, changing nothing, when a user now holds its userPrincipalName (or mail). */
bool gs_tenant_user_restore(struct gs_tenant *t, struct gs_deleted *d);

/* Deletes d (gs_tenant_deleted) for good, and frees it. */
void gs_tenant_deleted_purge(struct gs_tenant *t, struct gs_deleted *d);

/* Squeezes deleted slots out of the users array (lists call it before paging). */
void gs_tenant_compact(struct gs_tenant *t);

/* Returns the index of the first user with seq >= seq in the compacted users array. */
size_t gs_tenant_user_pos(struct gs_tenant *t, uint64_t seq);

/* Returns a new JSON object with the properties of u listed in sel (indexes into gs_user_props);
 * unset ones come out as null, or [] for collections. */
json_object *gs_user_project(const struct gs_user *u, const int *sel, size_t nsel);

/* The default property set Graph returns for a user when there is no $select. */
extern const int gs_user_default_select[];
extern const size_t gs_user_default_select_count;

/* Returns a new JSON object with every set property of u plus "manager" (id or null),
 * "memberOf" (group ids) and "roleAssignments" (assignment ids), for /_sim introspection. */
json_object *gs_user_full(const struct gs_tenant *t, const struct gs_user *u);

/* Returns the SKU with skuId sku_id (case-insensitively), or NULL. */
struct gs_sku *gs_tenant_sku(const struct gs_tenant *t, const char *sku_id);

/* Sets a SKU's consumed count, keeping its JSON in step. */
void gs_sku_set_consumed(struct gs_sku *s, int64_t consumed);

/* Returns the role definition whose id or templateId is id (case-insensitively), or NULL. */
struct gs_role_def *gs_tenant_role(const struct gs_tenant *t, const char *id);

/* Returns the group with id id, or NULL. */
struct gs_group *gs_tenant_group(const struct gs_tenant *t, const char *id);

/* Adds u to g unless it is a member already; returns whether it was added. */
bool gs_group_add(struct gs_group *g, struct gs_user *u);

/* Removes the member with id from g; returns whether it was a member. */
bool gs_group_remove(struct gs_group *g, const char *id);

/* Adds u to g (as gs_group_add) and recomputes u's licences with seat accounting when g carries
 * licences. Returns whether u was added. */
bool gs_tenant_group_add(struct gs_tenant *t, struct gs_group *g, struct gs_user *u);

/* Removes u from g (as gs_group_remove) and recomputes u's licences. Returns whether u was a
 * member. */
bool gs_tenant_group_remove(struct gs_tenant *t, struct gs_group *g, struct gs_user *u);

/* Recomputes u's assignedLicenses and licenseAssignmentStates from u->direct and the licences of
 * the groups u is a member of (GRAPH.md 4.3: assignedByGroup is null for a direct licence, the
 * group's id for an inherited one; a SKU held both ways is one assignedLicenses entry with the
 * direct one's disabledPlans). With seats, a SKU u gains takes a seat and one u loses frees one;
 * a group licence with no seat left becomes an Error/CountViolation state and no licence.
 * Without seats (seed loading) the seed's consumedUnits stand. States that did not change keep
 * their lastUpdatedDateTime. */
void gs_tenant_user_licenses(struct gs_tenant *t, struct gs_user *u, bool seats);

/* Returns the assignment with id id, or NULL. */
struct gs_role_assignment *gs_tenant_assignment(const struct gs_tenant *t, const char *id);

/* Creates an assignment (strings are copied) with Graph's id shape: base64url of both GUIDs in
 * .NET byte order, then "-1" (or "-N" for further scopes of the same pair). Returns it, owned by
 * the tenant. */
struct gs_role_assignment *gs_tenant_assignment_add(struct gs_tenant *t, const char *role_def_id,
                                                    const char *principal_id,
                                                    const char *directory_scope_id,
                                                    const char *app_scope_id);

/* Removes and frees the assignment a. */
void gs_tenant_assignment_remove(struct gs_tenant *t, struct gs_role_assignment *a);

/* Returns a new JSON object for a, as Graph returns a unifiedRoleAssignment (no @odata.context). */
json_object *gs_assignment_json(const struct gs_role_assignment *a);

/* Returns a new JSON object for s as Graph returns a unifiedRoleEligibilitySchedule or
 * unifiedRoleAssignmentSchedule (no @odata.context). */
json_object *gs_schedule_json(enum gs_pim kind, const struct gs_schedule *s);

/* Creates a schedule (strings copied; id NULL = a new GUID; end NULL = no expiration). Returns
 * it, owned by the tenant. */
struct gs_schedule *gs_tenant_schedule_add(struct gs_tenant *t, enum gs_pim kind, const char *id,
                                           const char *principal_id, const char *role_def_id,
                                           const char *directory_scope_id, const char *start,
                                           const char *end);

/* Removes and frees schedule s of kind. */
void gs_tenant_schedule_remove(struct gs_tenant *t, enum gs_pim kind, struct gs_schedule *s);

/* Returns the whole tenant as a new JSON object, for GET /_sim/state. */
json_object *gs_tenant_state(const struct gs_tenant *t);

/* Returns whether domain is one of the tenant's verified domains (case-insensitively). */
bool gs_tenant_has_domain(const struct gs_tenant *t, const char *domain);

#endif
