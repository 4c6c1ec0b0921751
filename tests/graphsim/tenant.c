/*
 * tenant.c: the simulated directory and its seed loader (see tenant.h).
 *
 * Users keep their properties in an array indexed like the generated gs_user_props table, so a
 * property that is not in Microsoft's schema cannot be stored at all. Four hash maps index users
 * by id, userPrincipalName, mail and employeeId; the users array keeps creation order for lists
 * and paging. The seed is validated once here; everything after reads typed fields.
 */
#include "tenant.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "assertion.h"

#define SEED_DATE "2024-01-15T09:00:00Z"

/* {====== schema helpers ====== */

static int prop_cmp(const void *key, const void *elem)
{
    return strcasecmp(key, ((const struct gs_prop *)elem)->name);
}

int gs_user_prop_index(const char *name, bool nocase)
{
    const struct gs_prop *p =
        bsearch(name, gs_user_props, GS_U_COUNT, sizeof(gs_user_props[0]), prop_cmp);

    if (p == NULL || (!nocase && strcmp(p->name, name) != 0)) {
        return -1;
    }
    return (int)(p - gs_user_props);
}

bool gs_user_is_navigation(const char *name)
{
    for (size_t i = 0; i < gs_user_navigation_count; i++) {
        if (strcmp(gs_user_navigation[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_date(const char *s)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return s[10] == '\0';
}

static bool check_scalar(const struct gs_prop *p, json_object *v, char *why, size_t whylen)
{
    const char *s = NULL;
    int64_t n;

    switch (p->edm) {
    case GS_EDM_BOOLEAN:
        return json_object_is_type(v, json_type_boolean);
    case GS_EDM_INT32:
        if (!json_object_is_type(v, json_type_int)) {
            return false;
        }
        n = json_object_get_int64(v);
        return n >= INT32_MIN && n <= INT32_MAX;
    case GS_EDM_INT64:
        return json_object_is_type(v, json_type_int);
    case GS_EDM_DOUBLE:
        return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
    case GS_EDM_COMPLEX:
        if (!json_object_is_type(v, json_type_object)) {
            return false;
        }
        if (p->complex == NULL) {
            return true; /* read-only complex value from a seed: stored as given */
        }
        json_object_object_foreach(v, key, member)
        {
            const struct gs_prop *m = NULL;

            for (size_t i = 0; i < p->complex->nprops; i++) {
                if (strcmp(p->complex->props[i].name, key) == 0) {
                    m = &p->complex->props[i];
                }
            }
            if (m == NULL && p->complex->open) {
                continue;
            }
            if (m == NULL || !gs_prop_check(m, member, why, whylen)) {
                snprintf(why, whylen, "%s", key);
                return false;
            }
        }
        return true;
    default:
        break;
    }
    if (!json_object_is_type(v, json_type_string)) {
        return false;
    }
    s = json_object_get_string(v);
    switch (p->edm) {
    case GS_EDM_GUID:
        return gs_is_guid(s);
    case GS_EDM_DATETIMEOFFSET:
        return gs_is_datetimeoffset(s);
    case GS_EDM_DATE:
        return is_date(s);
    default:
        return true;
    }
}

bool gs_prop_check(const struct gs_prop *p, json_object *value, char *why, size_t whylen)
{
    why[0] = '\0';
    if (value == NULL) {
        return p->nullable && !p->collection;
    }
    if (!p->collection) {
        return check_scalar(p, value, why, whylen);
    }
    if (!json_object_is_type(value, json_type_array)) {
        return false;
    }
    for (size_t i = 0; i < json_object_array_length(value); i++) {
        json_object *e = json_object_array_get_idx(value, i);

        if (e == NULL || !check_scalar(p, e, why, whylen)) {
            return false;
        }
    }
    return true;
}

/* }====== */

/* {====== users ====== */

const int gs_user_default_select[] = {
    GS_U_BUSINESS_PHONES,
    GS_U_DISPLAY_NAME,
    GS_U_GIVEN_NAME,
    GS_U_JOB_TITLE,
    GS_U_MAIL,
    GS_U_MOBILE_PHONE,
    GS_U_OFFICE_LOCATION,
    GS_U_PREFERRED_LANGUAGE,
    GS_U_SURNAME,
    GS_U_USER_PRINCIPAL_NAME,
    GS_U_ID,
};
const size_t gs_user_default_select_count =
    sizeof(gs_user_default_select) / sizeof(gs_user_default_select[0]);

struct gs_user *gs_user_new(void)
{
    return gs_xcalloc(1, sizeof(struct gs_user));
}

void gs_user_free(struct gs_user *u)
{
    if (u == NULL) {
        return;
    }
    for (int i = 0; i < GS_U_COUNT; i++) {
        json_object_put(u->v[i]);
    }
    json_object_put(u->direct);
    free(u->manager_id);
    free(u);
}

const char *gs_user_str(const struct gs_user *u, int idx)
{
    json_object *v = u->v[idx];

    if (v == NULL || !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

static struct gs_map *index_of(const struct gs_tenant *t, int idx)
{
    switch (idx) {
    case GS_U_ID:
        return t->by_id;
    case GS_U_USER_PRINCIPAL_NAME:
        return t->by_upn;
    case GS_U_MAIL:
        return t->by_mail;
    case GS_U_EMPLOYEE_ID:
        return t->by_employee_id;
    default:
        return NULL;
    }
}

static void unindex(struct gs_tenant *t, struct gs_user *u, int idx)
{
    struct gs_map *m = index_of(t, idx);
    const char *s = gs_user_str(u, idx);

    if (m != NULL && s != NULL) {
        gs_map_remove(m, s, u);
    }
}

static void reindex(struct gs_tenant *t, struct gs_user *u, int idx)
{
    struct gs_map *m = index_of(t, idx);
    const char *s = gs_user_str(u, idx);

    if (m != NULL && s != NULL) {
        gs_map_add(m, s, u);
    }
}

struct gs_user *gs_tenant_user_by_id(const struct gs_tenant *t, const char *id)
{
    return gs_map_get(t->by_id, id);
}

struct gs_user *gs_tenant_user_find(const struct gs_tenant *t, const char *key)
{
    struct gs_user *u = gs_map_get(t->by_id, key);

    return u != NULL ? u : gs_map_get(t->by_upn, key);
}

/* Appends a change to the log when tracking (id and aux borrowed, copied). */
static void change_add(struct gs_tenant *t, const char *id, int what, const char *aux,
                       struct gs_group *g)
{
    struct gs_change *c;

    if (!t->tracking || id == NULL) {
        return;
    }
    if (t->nchanges == t->chcap) {
        t->chcap = t->chcap ? t->chcap * 2 : 256;
        t->changes = gs_xrealloc(t->changes, t->chcap * sizeof(*t->changes));
    }
    c = &t->changes[t->nchanges++];
    memset(c, 0, sizeof(*c));
    c->seq = ++t->change_seq;
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->aux, sizeof(c->aux), "%s", aux ? aux : "");
    c->what = what;
    c->group = g;
}

size_t gs_tenant_changes_after(const struct gs_tenant *t, uint64_t seq)
{
    size_t lo = 0, hi = t->nchanges;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (t->changes[mid].seq <= seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void gs_tenant_user_set_manager(struct gs_tenant *t, struct gs_user *u, const struct gs_user *mgr)
{
    const char *id = mgr != NULL ? gs_user_str(mgr, GS_U_ID) : NULL;

    if ((id == NULL && u->manager_id == NULL) ||
        (id != NULL && u->manager_id != NULL && strcasecmp(id, u->manager_id) == 0)) {
        return;
    }
    change_add(t, gs_user_str(u, GS_U_ID), GS_CH_MANAGER, u->manager_id, NULL);
    free(u->manager_id);
    u->manager_id = id != NULL ? gs_xstrdup(id) : NULL;
}

void gs_tenant_user_insert(struct gs_tenant *t, struct gs_user *u)
{
    if (t->nusers == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->users = gs_xrealloc(t->users, t->cap * sizeof(*t->users));
    }
    u->seq = t->next_seq++;
    u->pos = t->nusers;
    t->users[t->nusers++] = u;
    reindex(t, u, GS_U_ID);
    reindex(t, u, GS_U_USER_PRINCIPAL_NAME);
    reindex(t, u, GS_U_MAIL);
    reindex(t, u, GS_U_EMPLOYEE_ID);
    change_add(t, gs_user_str(u, GS_U_ID), GS_CH_CREATED, NULL, NULL);
}

void gs_tenant_user_set(struct gs_tenant *t, struct gs_user *u, int idx, json_object *value)
{
    if (t->tracking && !json_object_equal(u->v[idx], value)) {
        change_add(t, gs_user_str(u, GS_U_ID), idx, NULL, NULL);
    }
    unindex(t, u, idx);
    json_object_put(u->v[idx]);
    u->v[idx] = value;
    reindex(t, u, idx);
}

void gs_tenant_compact(struct gs_tenant *t)
{
    size_t w = 0;

    if (t->ntomb == 0) {
        return;
    }
    for (size_t r = 0; r < t->nusers; r++) {
        if (t->users[r] != NULL) {
            t->users[r]->pos = w;
            t->users[w++] = t->users[r];
        }
    }
    t->nusers = w;
    t->ntomb = 0;
}

size_t gs_tenant_user_pos(struct gs_tenant *t, uint64_t seq)
{
    size_t lo = 0, hi;

    gs_tenant_compact(t);
    hi = t->nusers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (t->users[mid]->seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void assignment_free(struct gs_role_assignment *a);
static void schedule_free(struct gs_schedule *s);

/* Appends a (taken) to the tenant's role assignments. */
static void assignment_push(struct gs_tenant *t, struct gs_role_assignment *a)
{
    if (t->nassignments == t->acap) {
        t->acap = t->acap ? t->acap * 2 : 16;
        t->assignments = gs_xrealloc(t->assignments, t->acap * sizeof(*t->assignments));
    }
    t->assignments[t->nassignments++] = a;
}

/* Appends s (taken) to the tenant's schedules of kind. */
static void schedule_push(struct gs_tenant *t, enum gs_pim kind, struct gs_schedule *s)
{
    if (t->nschedules[kind] == t->scap[kind]) {
        t->scap[kind] = t->scap[kind] ? t->scap[kind] * 2 : 8;
        t->schedules[kind] =
            gs_xrealloc(t->schedules[kind], t->scap[kind] * sizeof(*t->schedules[kind]));
    }
    t->schedules[kind][t->nschedules[kind]++] = s;
}

void gs_tenant_user_delete(struct gs_tenant *t, struct gs_user *u)
{
    const char *id = gs_user_str(u, GS_U_ID);
    json_object *lic = u->v[GS_U_ASSIGNED_LICENSES];
    struct gs_deleted *d = gs_xcalloc(1, sizeof(*d));
    char now[32];

    d->user = u;
    d->groups = gs_xcalloc(t->ngroups ? t->ngroups : 1, sizeof(*d->groups));
    d->assignments = gs_xcalloc(t->nassignments ? t->nassignments : 1, sizeof(*d->assignments));
    change_add(t, id, GS_CH_DELETED, NULL, NULL);
    for (size_t i = 0; i < t->ngroups; i++) {
        if (gs_group_remove(t->groups[i], id)) {
            d->groups[d->ngroups++] = t->groups[i];
            change_add(t, id, GS_CH_MEMBER_REMOVED, NULL, t->groups[i]);
        }
    }
    /* Detached in their order, kept for a restore. */
    for (size_t i = 0; i < t->nassignments;) {
        if (strcasecmp(t->assignments[i]->principal_id, id) == 0) {
            d->assignments[d->nassignments++] = t->assignments[i];
            memmove(&t->assignments[i], &t->assignments[i + 1],
                    (t->nassignments - i - 1) * sizeof(*t->assignments));
            t->nassignments--;
        } else {
            i++;
        }
    }
    for (int k = 0; k < 2; k++) {
        d->schedules[k] =
            gs_xcalloc(t->nschedules[k] ? t->nschedules[k] : 1, sizeof(*d->schedules[k]));
        for (size_t i = 0; i < t->nschedules[k];) {
            if (strcasecmp(t->schedules[k][i]->principal_id, id) == 0) {
                d->schedules[k][d->nschedules[k]++] = t->schedules[k][i];
                memmove(&t->schedules[k][i], &t->schedules[k][i + 1],
                        (t->nschedules[k] - i - 1) * sizeof(*t->schedules[k]));
                t->nschedules[k]--;
            } else {
                i++;
            }
        }
    }
    for (size_t i = 0; i < t->nusers; i++) {
        struct gs_user *o = t->users[i];

        if (o != NULL && o->manager_id != NULL && strcasecmp(o->manager_id, id) == 0) {
            gs_tenant_user_set_manager(t, o, NULL);
        }
    }
    for (size_t i = 0; lic != NULL && i < json_object_array_length(lic); i++) {
        struct gs_sku *s =
            gs_tenant_sku(t, gs_json_get_str(json_object_array_get_idx(lic, i), "skuId"));

        if (s != NULL && s->consumed > 0) {
            gs_sku_set_consumed(s, s->consumed - 1);
        }
    }
    unindex(t, u, GS_U_ID);
    unindex(t, u, GS_U_USER_PRINCIPAL_NAME);
    unindex(t, u, GS_U_MAIL);
    unindex(t, u, GS_U_EMPLOYEE_ID);
    t->users[u->pos] = NULL;
    t->ntomb++;
    gs_time_format(now, gs_now_wall(), true);
    json_object_put(u->v[GS_U_DELETED_DATE_TIME]);
    u->v[GS_U_DELETED_DATE_TIME] = json_object_new_string(now);
    if (t->ndeleted == t->dcap) {
        t->dcap = t->dcap ? t->dcap * 2 : 8;
        t->deleted = gs_xrealloc(t->deleted, t->dcap * sizeof(*t->deleted));
    }
    t->deleted[t->ndeleted++] = d;
}

struct gs_deleted *gs_tenant_deleted(const struct gs_tenant *t, const char *id)
{
    for (size_t i = 0; id != NULL && i < t->ndeleted; i++) {
        if (strcasecmp(gs_user_str(t->deleted[i]->user, GS_U_ID), id) == 0) {
            return t->deleted[i];
        }
    }
    return NULL;
}

/* Takes d out of t->deleted and frees it; the user, assignments and schedules only when
   purge (a restore has put them back). */
static void deleted_drop(struct gs_tenant *t, struct gs_deleted *d, bool purge)
{
    for (size_t i = 0; i < t->ndeleted; i++) {
        if (t->deleted[i] == d) {
            memmove(&t->deleted[i], &t->deleted[i + 1],
                    (t->ndeleted - i - 1) * sizeof(*t->deleted));
            t->ndeleted--;
            break;
        }
    }
    if (purge) {
        gs_user_free(d->user);
        for (size_t i = 0; i < d->nassignments; i++) {
            assignment_free(d->assignments[i]);
        }
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < d->nschedules[k]; i++) {
                schedule_free(d->schedules[k][i]);
            }
        }
    }
    free(d->groups);
    free(d->assignments);
    free(d->schedules[0]);
    free(d->schedules[1]);
    free(d);
}

void gs_tenant_deleted_purge(struct gs_tenant *t, struct gs_deleted *d)
{
    deleted_drop(t, d, true);
}

bool gs_tenant_user_restore(struct gs_tenant *t, struct gs_deleted *d)
{
    struct gs_user *u = d->user;
    static const int unique[] = {GS_U_USER_PRINCIPAL_NAME, GS_U_MAIL};

    for (size_t i = 0; i < sizeof(unique) / sizeof(unique[0]); i++) {
        const char *v = gs_user_str(u, unique[i]);

        if (v != NULL && (gs_map_get(t->by_upn, v) != NULL || gs_map_get(t->by_mail, v) != NULL)) {
            return false;
        }
    }
    json_object_put(u->v[GS_U_DELETED_DATE_TIME]);
    u->v[GS_U_DELETED_DATE_TIME] = NULL;
    /* Every licence takes a seat again (gs_tenant_user_licenses counts what is new). */
    json_object_put(u->v[GS_U_ASSIGNED_LICENSES]);
    u->v[GS_U_ASSIGNED_LICENSES] = NULL;
    gs_tenant_user_insert(t, u);
    for (size_t i = 0; i < d->ngroups; i++) {
        gs_tenant_group_add(t, d->groups[i], u);
    }
    gs_tenant_user_licenses(t, u, true);
    for (size_t i = 0; i < d->nassignments; i++) {
        assignment_push(t, d->assignments[i]);
    }
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < d->nschedules[k]; i++) {
            schedule_push(t, (enum gs_pim)k, d->schedules[k][i]);
        }
    }
    deleted_drop(t, d, false);
    return true;
}

json_object *gs_user_project(const struct gs_user *u, const int *sel, size_t nsel)
{
    json_object *o = json_object_new_object();

    for (size_t i = 0; i < nsel; i++) {
        const struct gs_prop *p = &gs_user_props[sel[i]];
        json_object *v = u->v[sel[i]];

        if (v != NULL) {
            json_object_object_add(o, p->name, json_object_get(v));
        } else if (p->collection) {
            json_object_object_add(o, p->name, json_object_new_array());
        } else {
            json_object_object_add(o, p->name, NULL);
        }
    }
    return o;
}

json_object *gs_user_full(const struct gs_tenant *t, const struct gs_user *u)
{
    json_object *o = json_object_new_object();
    json_object *groups = json_object_new_array();
    json_object *roles = json_object_new_array();
    const char *id = gs_user_str(u, GS_U_ID);

    for (int i = 0; i < GS_U_COUNT; i++) {
        if (u->v[i] != NULL) {
            json_object_object_add(o, gs_user_props[i].name, json_object_get(u->v[i]));
        } else if (gs_user_props[i].collection && !gs_user_props[i].nullable) {
            json_object_object_add(o, gs_user_props[i].name, json_object_new_array());
        }
    }
    gs_json_add_str(o, "manager", u->manager_id);
    for (size_t i = 0; i < t->ngroups; i++) {
        if (gs_map_get(t->groups[i]->members, id) != NULL) {
            json_object_array_add(groups, json_object_new_string(t->groups[i]->id));
        }
    }
    json_object_object_add(o, "memberOf", groups);
    for (size_t i = 0; i < t->nassignments; i++) {
        if (strcasecmp(t->assignments[i]->principal_id, id) == 0) {
            json_object_array_add(roles, json_object_new_string(t->assignments[i]->id));
        }
    }
    json_object_object_add(o, "roleAssignments", roles);
    return o;
}

/* }====== */

/* {====== SKUs, roles, groups, assignments ====== */

struct gs_sku *gs_tenant_sku(const struct gs_tenant *t, const char *sku_id)
{
    /* Slots not loaded yet (during seeding) have no skuId. */
    for (size_t i = 0; sku_id != NULL && i < t->nskus; i++) {
        if (t->skus[i].sku_id != NULL && strcasecmp(t->skus[i].sku_id, sku_id) == 0) {
            return &t->skus[i];
        }
    }
    return NULL;
}

void gs_sku_set_consumed(struct gs_sku *s, int64_t consumed)
{
    s->consumed = consumed;
    json_object_object_add(s->obj, "consumedUnits", json_object_new_int64(consumed));
}

struct gs_role_def *gs_tenant_role(const struct gs_tenant *t, const char *id)
{
    for (size_t i = 0; i < t->nroles; i++) {
        if (t->roles[i].id == NULL) {
            continue; /* not loaded yet, during seeding */
        }
        if (strcasecmp(t->roles[i].id, id) == 0 || strcasecmp(t->roles[i].template_id, id) == 0) {
            return &t->roles[i];
        }
    }
    return NULL;
}

struct gs_group *gs_tenant_group(const struct gs_tenant *t, const char *id)
{
    for (size_t i = 0; i < t->ngroups; i++) {
        if (strcasecmp(t->groups[i]->id, id) == 0) {
            return t->groups[i];
        }
    }
    return NULL;
}

bool gs_group_add(struct gs_group *g, struct gs_user *u)
{
    const char *id = gs_user_str(u, GS_U_ID);

    if (gs_map_get(g->members, id) != NULL) {
        return false;
    }
    gs_map_add(g->members, id, u);
    if (g->norder == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->order = gs_xrealloc(g->order, g->cap * sizeof(*g->order));
    }
    g->order[g->norder++] = gs_xstrdup(id);
    return true;
}

bool gs_group_remove(struct gs_group *g, const char *id)
{
    if (!gs_map_remove(g->members, id, NULL)) {
        return false;
    }
    for (size_t i = 0; i < g->norder; i++) {
        if (strcasecmp(g->order[i], id) == 0) {
            free(g->order[i]);
            memmove(&g->order[i], &g->order[i + 1], (g->norder - i - 1) * sizeof(*g->order));
            g->norder--;
            break;
        }
    }
    return true;
}

bool gs_tenant_group_add(struct gs_tenant *t, struct gs_group *g, struct gs_user *u)
{
    if (!gs_group_add(g, u)) {
        return false;
    }
    change_add(t, gs_user_str(u, GS_U_ID), GS_CH_MEMBER_ADDED, NULL, g);
    if (g->licenses != NULL) {
        gs_tenant_user_licenses(t, u, true);
    }
    return true;
}

bool gs_tenant_group_remove(struct gs_tenant *t, struct gs_group *g, struct gs_user *u)
{
    if (!gs_group_remove(g, gs_user_str(u, GS_U_ID))) {
        return false;
    }
    change_add(t, gs_user_str(u, GS_U_ID), GS_CH_MEMBER_REMOVED, NULL, g);
    if (g->licenses != NULL) {
        gs_tenant_user_licenses(t, u, true);
    }
    return true;
}

/* The entry of arr whose skuId is sku_id (and, for states, whose assignedByGroup is group: NULL
 * for direct), or NULL. */
static json_object *license_entry(json_object *arr, const char *sku_id, bool state,
                                  const char *group)
{
    for (size_t i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
        json_object *l = json_object_array_get_idx(arr, i);
        const char *s = gs_json_get_str(l, "skuId");
        const char *by = gs_json_get_str(l, "assignedByGroup");

        if (s == NULL || strcasecmp(s, sku_id) != 0) {
            continue;
        }
        if (!state || (group == NULL ? by == NULL : by != NULL && strcasecmp(by, group) == 0)) {
            return l;
        }
    }
    return NULL;
}

/* One licenseAssignmentStates entry; keeps old's lastUpdatedDateTime when nothing changed, else
 * takes fresh. */
static json_object *license_state(json_object *old, const char *sku_id, json_object *plans,
                                  const char *group, bool error, const char *fresh)
{
    json_object *st = json_object_new_object();
    const char *when = fresh;

    if (old != NULL && json_object_equal(json_object_object_get(old, "disabledPlans"), plans) &&
        strcmp(gs_json_get_str(old, "state") ? gs_json_get_str(old, "state") : "",
               error ? "Error" : "Active") == 0 &&
        gs_json_get_str(old, "lastUpdatedDateTime") != NULL) {
        when = gs_json_get_str(old, "lastUpdatedDateTime");
    }
    gs_json_add_str(st, "assignedByGroup", group);
    json_object_object_add(st, "disabledPlans",
                           plans ? json_object_get(plans) : json_object_new_array());
    gs_json_add_str(st, "error", error ? "CountViolation" : "None");
    gs_json_add_str(st, "lastUpdatedDateTime", when);
    gs_json_add_str(st, "skuId", sku_id);
    gs_json_add_str(st, "state", error ? "Error" : "Active");
    return st;
}

/* {"disabledPlans", "skuId"} as an assignedLicenses entry. */
static json_object *license_copy(json_object *l, const char *sku_id)
{
    json_object *o = json_object_new_object();
    json_object *plans = json_object_object_get(l, "disabledPlans");

    json_object_object_add(o, "disabledPlans",
                           plans ? json_object_get(plans) : json_object_new_array());
    gs_json_add_str(o, "skuId", sku_id);
    return o;
}

void gs_tenant_user_licenses(struct gs_tenant *t, struct gs_user *u, bool seats)
{
    const char *uid = gs_user_str(u, GS_U_ID);
    json_object *old_lic = u->v[GS_U_ASSIGNED_LICENSES];
    json_object *old_states = u->v[GS_U_LICENSE_ASSIGNMENT_STATES];
    json_object *lic = json_object_new_array();
    json_object *states = json_object_new_array();
    bool any = u->direct != NULL && json_object_array_length(u->direct) > 0;
    char fresh[32];

    if (seats) {
        gs_time_format(fresh, gs_now_wall(), true);
    } else {
        snprintf(fresh, sizeof(fresh), "%s", SEED_DATE);
    }

    /* Direct licences first, in the order they were assigned. */
    for (size_t i = 0; u->direct != NULL && i < json_object_array_length(u->direct); i++) {
        json_object *l = json_object_array_get_idx(u->direct, i);
        const char *sku_id = gs_json_get_str(l, "skuId");
        struct gs_sku *sku = gs_tenant_sku(t, sku_id);

        /* assignLicense checked that a SKU new to the user has a free seat. */
        if (seats && license_entry(old_lic, sku_id, false, NULL) == NULL) {
            gs_sku_set_consumed(sku, sku->consumed + 1);
        }
        json_object_array_add(lic, license_copy(l, sku_id));
        json_object_array_add(
            states, license_state(license_entry(old_states, sku_id, true, NULL), sku_id,
                                  json_object_object_get(l, "disabledPlans"), NULL, false, fresh));
    }
    /* Then what each licensed group the user is in gives. */
    for (size_t g = 0; g < t->ngroups; g++) {
        struct gs_group *grp = t->groups[g];

        if (grp->licenses == NULL || gs_map_get(grp->members, uid) == NULL) {
            continue;
        }
        any = true;
        for (size_t i = 0; i < json_object_array_length(grp->licenses); i++) {
            json_object *l = json_object_array_get_idx(grp->licenses, i);
            const char *sku_id = gs_json_get_str(l, "skuId");
            struct gs_sku *sku = gs_tenant_sku(t, sku_id);
            bool held = license_entry(lic, sku_id, false, NULL) != NULL;
            bool had = license_entry(old_lic, sku_id, false, NULL) != NULL;
            /* A SKU new to the user needs a free seat (only counted after seeding). */
            bool error = seats && !held && !had && sku->consumed >= sku->enabled;

            if (!held && !error) {
                json_object_array_add(lic, license_copy(l, sku->sku_id));
                if (seats && !had) {
                    gs_sku_set_consumed(sku, sku->consumed + 1);
                }
            }
            json_object_array_add(
                states,
                license_state(license_entry(old_states, sku_id, true, grp->id), sku->sku_id,
                              json_object_object_get(l, "disabledPlans"), grp->id, error, fresh));
        }
    }
    /* SKUs the user no longer holds free their seats. */
    for (size_t i = 0; seats && old_lic != NULL && i < json_object_array_length(old_lic); i++) {
        const char *sku_id = gs_json_get_str(json_object_array_get_idx(old_lic, i), "skuId");
        struct gs_sku *sku = gs_tenant_sku(t, sku_id);

        if (sku != NULL && license_entry(lic, sku_id, false, NULL) == NULL && sku->consumed > 0) {
            gs_sku_set_consumed(sku, sku->consumed - 1);
        }
    }
    json_object_put(old_lic);
    json_object_put(old_states);
    if (!any && old_lic == NULL && old_states == NULL) {
        /* Unset collections read as []: keep the 100,000 synthetic users allocation-free. */
        json_object_put(lic);
        json_object_put(states);
        lic = states = NULL;
    }
    u->v[GS_U_ASSIGNED_LICENSES] = lic;
    u->v[GS_U_LICENSE_ASSIGNMENT_STATES] = states;
}

static void group_free(struct gs_group *g)
{
    if (g == NULL) {
        return;
    }
    json_object_put(g->obj);
    json_object_put(g->licenses);
    gs_map_free(g->members, NULL);
    for (size_t i = 0; i < g->norder; i++) {
        free(g->order[i]);
    }
    free(g->order);
    free(g);
}

struct gs_role_assignment *gs_tenant_assignment(const struct gs_tenant *t, const char *id)
{
    for (size_t i = 0; i < t->nassignments; i++) {
        if (strcmp(t->assignments[i]->id, id) == 0) {
            return t->assignments[i];
        }
    }
    return NULL;
}

/* Converts a GUID string to its 16 bytes in .NET's Guid.ToByteArray order (the first three
 * groups little-endian), which is what Graph's role assignment ids encode. */
static void guid_bytes(const char *g, unsigned char out[16])
{
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    unsigned char be[16];
    int n = 0;

    memset(be, 0, sizeof(be));
    for (const char *p = g; *p && n < 32; p++) {
        int v;

        if (*p == '-') {
            continue;
        }
        v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
        be[n / 2] = (unsigned char)(be[n / 2] << 4 | (v & 15));
        n++;
    }
    for (int i = 0; i < 16; i++) {
        out[i] = be[order[i]];
    }
}

struct gs_role_assignment *gs_tenant_assignment_add(struct gs_tenant *t, const char *role_def_id,
                                                    const char *principal_id,
                                                    const char *directory_scope_id,
                                                    const char *app_scope_id)
{
    struct gs_role_assignment *a = gs_xcalloc(1, sizeof(*a));
    unsigned char b[16];
    char *r = NULL, *p = NULL;

    guid_bytes(role_def_id, b);
    r = gs_base64url(b, 16);
    guid_bytes(principal_id, b);
    p = gs_base64url(b, 16);
    for (int n = 1;; n++) {
        a->id = gs_xasprintf("%s%s-%d", r, p, n);
        if (gs_tenant_assignment(t, a->id) == NULL) {
            break;
        }
        free(a->id);
    }
    free(r);
    free(p);
    a->role_definition_id = gs_xstrdup(role_def_id);
    a->principal_id = gs_xstrdup(principal_id);
    a->directory_scope_id = directory_scope_id ? gs_xstrdup(directory_scope_id) : NULL;
    a->app_scope_id = app_scope_id ? gs_xstrdup(app_scope_id) : NULL;
    assignment_push(t, a);
    return a;
}

static void assignment_free(struct gs_role_assignment *a)
{
    if (a == NULL) {
        return;
    }
    free(a->id);
    free(a->role_definition_id);
    free(a->principal_id);
    free(a->directory_scope_id);
    free(a->app_scope_id);
    free(a);
}

void gs_tenant_assignment_remove(struct gs_tenant *t, struct gs_role_assignment *a)
{
    for (size_t i = 0; i < t->nassignments; i++) {
        if (t->assignments[i] == a) {
            memmove(&t->assignments[i], &t->assignments[i + 1],
                    (t->nassignments - i - 1) * sizeof(*t->assignments));
            t->nassignments--;
            break;
        }
    }
    assignment_free(a);
}

json_object *gs_assignment_json(const struct gs_role_assignment *a)
{
    json_object *o = json_object_new_object();

    gs_json_add_str(o, "id", a->id);
    gs_json_add_str(o, "roleDefinitionId", a->role_definition_id);
    gs_json_add_str(o, "principalId", a->principal_id);
    gs_json_add_str(o, "directoryScopeId", a->directory_scope_id);
    gs_json_add_str(o, "appScopeId", a->app_scope_id);
    return o;
}

struct gs_schedule *gs_tenant_schedule_add(struct gs_tenant *t, enum gs_pim kind, const char *id,
                                           const char *principal_id, const char *role_def_id,
                                           const char *directory_scope_id, const char *start,
                                           const char *end)
{
    struct gs_schedule *s = gs_xcalloc(1, sizeof(*s));
    char guid[37], now[32];

    if (id == NULL) {
        gs_guid_new(guid);
        id = guid;
    }
    gs_time_format(now, gs_now_wall(), true);
    s->id = gs_xstrdup(id);
    s->principal_id = gs_xstrdup(principal_id);
    s->role_definition_id = gs_xstrdup(role_def_id);
    s->directory_scope_id = gs_xstrdup(directory_scope_id ? directory_scope_id : "/");
    s->start = gs_xstrdup(start ? start : now);
    s->end = end ? gs_xstrdup(end) : NULL;
    s->created = gs_xstrdup(now);
    schedule_push(t, kind, s);
    return s;
}

static void schedule_free(struct gs_schedule *s)
{
    if (s == NULL) {
        return;
    }
    free(s->id);
    free(s->principal_id);
    free(s->role_definition_id);
    free(s->directory_scope_id);
    free(s->start);
    free(s->end);
    free(s->created);
    free(s);
}

void gs_tenant_schedule_remove(struct gs_tenant *t, enum gs_pim kind, struct gs_schedule *s)
{
    for (size_t i = 0; i < t->nschedules[kind]; i++) {
        if (t->schedules[kind][i] == s) {
            memmove(&t->schedules[kind][i], &t->schedules[kind][i + 1],
                    (t->nschedules[kind] - i - 1) * sizeof(*t->schedules[kind]));
            t->nschedules[kind]--;
            break;
        }
    }
    schedule_free(s);
}

json_object *gs_schedule_json(enum gs_pim kind, const struct gs_schedule *s)
{
    json_object *o = json_object_new_object();
    json_object *info = json_object_new_object();
    json_object *exp = json_object_new_object();

    gs_json_add_str(o, "id", s->id);
    gs_json_add_str(o, "principalId", s->principal_id);
    gs_json_add_str(o, "roleDefinitionId", s->role_definition_id);
    gs_json_add_str(o, "directoryScopeId", s->directory_scope_id);
    json_object_object_add(o, "appScopeId", NULL);
    gs_json_add_str(o, "createdUsing", s->id);
    gs_json_add_str(o, "createdDateTime", s->created);
    json_object_object_add(o, "modifiedDateTime", NULL);
    gs_json_add_str(o, "status", "Provisioned");
    gs_json_add_str(o, "memberType", "Direct");
    if (kind == GS_PIM_ASSIGNMENT) {
        gs_json_add_str(o, "assignmentType", "Assigned");
    }
    gs_json_add_str(info, "startDateTime", s->start);
    json_object_object_add(info, "recurrence", NULL);
    gs_json_add_str(exp, "type", s->end ? "afterDateTime" : "noExpiration");
    gs_json_add_str(exp, "endDateTime", s->end);
    json_object_object_add(exp, "duration", NULL);
    json_object_object_add(info, "expiration", exp);
    json_object_object_add(o, "scheduleInfo", info);
    return o;
}

bool gs_tenant_has_domain(const struct gs_tenant *t, const char *domain)
{
    for (size_t i = 0; i < t->ndomains; i++) {
        if (strcasecmp(t->domains[i], domain) == 0) {
            return true;
        }
    }
    return false;
}

/* }====== */

/* {====== seed loading ====== */

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

/* Returns the member key of obj when it has type type; *v is NULL when absent. Fails (returns
 * false) when present with another type. */
static bool member(json_object *obj, const char *key, json_type type, json_object **v, char *err,
                   size_t errlen, const char *where)
{
    *v = NULL;
    if (!json_object_object_get_ex(obj, key, v) || *v == NULL) {
        *v = NULL;
        return true;
    }
    if (!json_object_is_type(*v, type)) {
        return fail(err, errlen, "%s: \"%s\" must be a %s", where, key, json_type_to_name(type));
    }
    return true;
}

static bool only_keys(json_object *obj, const char *const *keys, char *err, size_t errlen,
                      const char *where)
{
    json_object_object_foreach(obj, key, val)
    {
        bool ok = false;

        (void)val;
        for (const char *const *k = keys; *k; k++) {
            ok = ok || strcmp(*k, key) == 0;
        }
        if (!ok) {
            return fail(err, errlen, "%s: unknown key \"%s\"", where, key);
        }
    }
    return true;
}

static bool upn_domain_ok(const struct gs_tenant *t, const char *upn)
{
    const char *at = strchr(upn, '@');

    return at != NULL && at != upn && strchr(at + 1, '@') == NULL &&
           gs_tenant_has_domain(t, at + 1);
}

/* Returns a new reference to a shared, never-mutated string value: synthetic users share their
 * common values instead of allocating 100,000 copies. Values are only ever replaced, never edited
 * in place, so sharing is invisible. */
static json_object *shared_str(struct gs_tenant *t, const char *s)
{
    json_object *v = gs_map_get(t->shared, s);

    if (v == NULL) {
        v = json_object_new_string(s);
        gs_map_put(t->shared, s, v);
    }
    return json_object_get(v);
}

static void put_json(void *v)
{
    json_object_put(v);
}

void gs_user_defaults(struct gs_tenant *t, struct gs_user *u)
{
    /* Collections stay unset until written: gs_user_project prints an unset collection as [],
     * and an empty json-c array costs a 32-slot allocation per user. */
    if (u->v[GS_U_ACCOUNT_ENABLED] == NULL) {
        u->v[GS_U_ACCOUNT_ENABLED] = json_object_get(t->true_value);
    }
    if (u->v[GS_U_USER_TYPE] == NULL) {
        u->v[GS_U_USER_TYPE] = shared_str(t, "Member");
    }
    if (u->v[GS_U_CREATED_DATE_TIME] == NULL) {
        u->v[GS_U_CREATED_DATE_TIME] = shared_str(t, SEED_DATE);
    }
}

/* Checks a seed's licence list (an array of {skuId, disabledPlans}; NULL is fine) and fills in
 * missing disabledPlans. */
static bool load_licenses(struct gs_tenant *t, json_object *lic, char *err, size_t errlen,
                          const char *where, const char *key)
{
    for (size_t i = 0; lic != NULL && i < json_object_array_length(lic); i++) {
        json_object *l = json_object_array_get_idx(lic, i);
        json_object *plans = NULL;

        if (!json_object_is_type(l, json_type_object) ||
            gs_tenant_sku(t, gs_json_get_str(l, "skuId")) == NULL) {
            return fail(err, errlen, "%s: %s[%zu] names an unknown skuId", where, key, i);
        }
        if (!json_object_object_get_ex(l, "disabledPlans", &plans)) {
            json_object_object_add(l, "disabledPlans", json_object_new_array());
        } else if (!json_object_is_type(plans, json_type_array)) {
            return fail(err, errlen, "%s: %s[%zu].disabledPlans must be an array", where, key, i);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcasecmp(gs_json_get_str(json_object_array_get_idx(lic, k), "skuId"),
                           gs_json_get_str(l, "skuId")) == 0) {
                return fail(err, errlen, "%s: %s[%zu] repeats a skuId", where, key, i);
            }
        }
    }
    return true;
}

static bool load_user(struct gs_tenant *t, json_object *src, size_t n, char *err, size_t errlen)
{
    struct gs_user *u = gs_user_new();
    char where[64], why[128];
    const char *id, *upn;
    json_object *lic;

    snprintf(where, sizeof(where), "users[%zu]", n);
    if (!json_object_is_type(src, json_type_object)) {
        fail(err, errlen, "%s: must be an object", where);
        goto err;
    }
    json_object_object_foreach(src, key, val)
    {
        int idx = gs_user_prop_index(key, false);

        if (idx < 0) {
            fail(err, errlen, "%s: \"%s\" is not a property of microsoft.graph.user", where, key);
            goto err;
        }
        if (!gs_prop_check(&gs_user_props[idx], val, why, sizeof(why))) {
            fail(err, errlen, "%s: \"%s\" is not a valid %s%s%s", where, key,
                 gs_user_props[idx].type, why[0] ? " at member " : "", why);
            goto err;
        }
        if (json_object_is_type(val, json_type_array) ||
            json_object_is_type(val, json_type_object)) {
            /* Containers are edited in place later (assignLicense): copy, so the seed that
             * /_sim/reset reloads stays pristine. */
            if (json_object_deep_copy(val, &u->v[idx], NULL) != 0) {
                fail(err, errlen, "%s: out of memory", where);
                goto err;
            }
        } else {
            u->v[idx] = json_object_get(val);
        }
    }
    id = gs_user_str(u, GS_U_ID);
    upn = gs_user_str(u, GS_U_USER_PRINCIPAL_NAME);
    if (id == NULL || !gs_is_guid(id)) {
        fail(err, errlen, "%s: \"id\" must be a GUID", where);
        goto err;
    }
    if (upn == NULL || !upn_domain_ok(t, upn)) {
        fail(err, errlen, "%s: \"userPrincipalName\" must be alias@<a tenant domain>", where);
        goto err;
    }
    if (gs_user_str(u, GS_U_DISPLAY_NAME) == NULL) {
        fail(err, errlen, "%s: \"displayName\" is required", where);
        goto err;
    }
    if (gs_tenant_user_find(t, id) != NULL || gs_tenant_user_find(t, upn) != NULL) {
        fail(err, errlen, "%s: duplicate id or userPrincipalName", where);
        goto err;
    }
    gs_user_defaults(t, u);
    if (u->v[GS_U_LICENSE_ASSIGNMENT_STATES] != NULL) {
        fail(err, errlen,
             "%s: \"licenseAssignmentStates\" is computed from assignedLicenses and the "
             "licences of the user's groups; leave it out",
             where);
        goto err;
    }
    /* The seed's assignedLicenses are the direct ones; the effective list is computed once
     * the groups are loaded (gs_tenant_user_licenses). */
    lic = u->v[GS_U_ASSIGNED_LICENSES];
    u->v[GS_U_ASSIGNED_LICENSES] = NULL;
    u->direct = lic;
    if (!load_licenses(t, lic, err, errlen, where, "assignedLicenses")) {
        goto err;
    }
    gs_tenant_user_insert(t, u);
    return true;

err:
    gs_user_free(u);
    return false;
}

static void generate_user(struct gs_tenant *t, long i)
{
    static const char *const departments[] = {"Engineering", "Sales", "Finance", "Support",
                                              "Marketing"};
    struct gs_user *u = gs_user_new();
    char buf[128];

    snprintf(buf, sizeof(buf), "00000000-5157-4000-8000-%012lx", (unsigned long)i);
    u->v[GS_U_ID] = json_object_new_string(buf);
    snprintf(buf, sizeof(buf), "synth%06ld@%s", i, t->domains[0]);
    u->v[GS_U_USER_PRINCIPAL_NAME] = json_object_new_string(buf);
    /* mail starts equal to the UPN; values are replaced, never edited, so they can share. */
    u->v[GS_U_MAIL] = json_object_get(u->v[GS_U_USER_PRINCIPAL_NAME]);
    snprintf(buf, sizeof(buf), "synth%06ld", i);
    u->v[GS_U_MAIL_NICKNAME] = json_object_new_string(buf);
    snprintf(buf, sizeof(buf), "Synthetic User %06ld", i);
    u->v[GS_U_DISPLAY_NAME] = json_object_new_string(buf);
    u->v[GS_U_GIVEN_NAME] = shared_str(t, "Synthetic");
    snprintf(buf, sizeof(buf), "User %06ld", i);
    u->v[GS_U_SURNAME] = json_object_new_string(buf);
    snprintf(buf, sizeof(buf), "S%07ld", i);
    u->v[GS_U_EMPLOYEE_ID] = json_object_new_string(buf);
    u->v[GS_U_JOB_TITLE] = shared_str(t, "Associate");
    u->v[GS_U_DEPARTMENT] = shared_str(t, departments[i % 5]);
    if (i % 10 != 0) {
        u->v[GS_U_USAGE_LOCATION] = shared_str(t, "US");
    }
    gs_user_defaults(t, u);
    gs_tenant_user_insert(t, u);
}

static bool load_sku(struct gs_tenant *t, json_object *src, size_t n, char *err, size_t errlen)
{
    static const char *const keys[] = {"skuId",         "skuPartNumber",   "prepaidUnits",
                                       "consumedUnits", "servicePlans",    "capabilityStatus",
                                       "appliesTo",     "subscriptionIds", NULL};
    struct gs_sku *s = &t->skus[n];
    json_object *o = NULL, *v = NULL, *pre = NULL, *plans = NULL, *subs = NULL;
    char where[64], buf[128];
    const char *sku_id, *part;

    snprintf(where, sizeof(where), "subscribedSkus[%zu]", n);
    if (!json_object_is_type(src, json_type_object)) {
        return fail(err, errlen, "%s: must be an object", where);
    }
    if (!only_keys(src, keys, err, errlen, where)) {
        return false;
    }
    sku_id = gs_json_get_str(src, "skuId");
    part = gs_json_get_str(src, "skuPartNumber");
    if (sku_id == NULL || !gs_is_guid(sku_id) || part == NULL) {
        return fail(err, errlen, "%s: needs a GUID \"skuId\" and a \"skuPartNumber\"", where);
    }
    if (!member(src, "prepaidUnits", json_type_object, &pre, err, errlen, where) ||
        !member(src, "servicePlans", json_type_array, &plans, err, errlen, where) ||
        !member(src, "subscriptionIds", json_type_array, &subs, err, errlen, where)) {
        return false;
    }
    if (pre == NULL || !json_object_object_get_ex(pre, "enabled", &v) ||
        !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
        return fail(err, errlen, "%s: needs \"prepaidUnits\": {\"enabled\": N}", where);
    }
    o = json_object_new_object();
    s->obj = o;
    s->enabled = json_object_get_int64(v);
    gs_json_add_str(o, "accountId", t->id);
    gs_json_add_str(o, "accountName", t->display_name);
    gs_json_add_str(o, "appliesTo",
                    gs_json_get_str(src, "appliesTo") ? gs_json_get_str(src, "appliesTo") : "User");
    gs_json_add_str(o, "capabilityStatus",
                    gs_json_get_str(src, "capabilityStatus")
                        ? gs_json_get_str(src, "capabilityStatus")
                        : "Enabled");
    json_object_object_add(o, "consumedUnits", json_object_new_int64(0));
    snprintf(buf, sizeof(buf), "%s_%s", t->id, sku_id);
    gs_json_add_str(o, "id", buf);
    v = NULL;
    if (json_object_deep_copy(pre, &v, NULL) != 0) {
        return fail(err, errlen, "%s: out of memory", where);
    }
    pre = v;
    for (const char *const *k = (const char *const[]){"lockedOut", "suspended", "warning", NULL};
         *k; k++) {
        if (!json_object_object_get_ex(pre, *k, NULL)) {
            json_object_object_add(pre, *k, json_object_new_int(0));
        }
    }
    json_object_object_add(o, "prepaidUnits", pre);
    json_object_object_add(o, "servicePlans",
                           plans ? json_object_get(plans) : json_object_new_array());
    gs_json_add_str(o, "skuId", sku_id);
    gs_json_add_str(o, "skuPartNumber", part);
    json_object_object_add(o, "subscriptionIds",
                           subs ? json_object_get(subs) : json_object_new_array());
    s->sku_id = gs_json_get_str(o, "skuId");
    s->part_number = gs_json_get_str(o, "skuPartNumber");
    if (!member(src, "consumedUnits", json_type_int, &v, err, errlen, where)) {
        return false;
    }
    gs_sku_set_consumed(s, v ? json_object_get_int64(v) : 0);
    if (s->consumed < 0 || s->consumed > s->enabled) {
        return fail(err, errlen, "%s: consumedUnits must be between 0 and prepaidUnits.enabled",
                    where);
    }
    return true;
}

static bool load_role(struct gs_tenant *t, json_object *src, size_t n, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "id",        "templateId", "displayName",    "description",     "isBuiltIn",
        "isEnabled", "version",    "resourceScopes", "rolePermissions", NULL};
    struct gs_role_def *r = &t->roles[n];
    const char *tid, *id, *name;
    json_object *o, *v = NULL;
    char where[64];

    snprintf(where, sizeof(where), "roleDefinitions[%zu]", n);
    if (!json_object_is_type(src, json_type_object)) {
        return fail(err, errlen, "%s: must be an object", where);
    }
    if (!only_keys(src, keys, err, errlen, where)) {
        return false;
    }
    tid = gs_json_get_str(src, "templateId");
    id = gs_json_get_str(src, "id") ? gs_json_get_str(src, "id") : tid;
    name = gs_json_get_str(src, "displayName");
    if (tid == NULL || !gs_is_guid(tid) || !gs_is_guid(id) || name == NULL) {
        return fail(err, errlen, "%s: needs a GUID \"templateId\" and a \"displayName\"", where);
    }
    if (gs_tenant_role(t, id) != NULL || gs_tenant_role(t, tid) != NULL) {
        return fail(err, errlen, "%s: duplicate id or templateId", where);
    }
    o = json_object_new_object();
    r->obj = o;
    gs_json_add_str(o, "id", id);
    gs_json_add_str(o, "description", gs_json_get_str(src, "description"));
    gs_json_add_str(o, "displayName", name);
    json_object_object_add(
        o, "isBuiltIn",
        json_object_new_boolean(!json_object_object_get_ex(src, "isBuiltIn", &v) ||
                                json_object_get_boolean(v)));
    json_object_object_add(
        o, "isEnabled",
        json_object_new_boolean(!json_object_object_get_ex(src, "isEnabled", &v) ||
                                json_object_get_boolean(v)));
    if (json_object_object_get_ex(src, "resourceScopes", &v)) {
        json_object_object_add(o, "resourceScopes", json_object_get(v));
    } else {
        json_object *a = json_object_new_array();

        json_object_array_add(a, json_object_new_string("/"));
        json_object_object_add(o, "resourceScopes", a);
    }
    gs_json_add_str(o, "templateId", tid);
    gs_json_add_str(o, "version",
                    gs_json_get_str(src, "version") ? gs_json_get_str(src, "version") : "1");
    if (json_object_object_get_ex(src, "rolePermissions", &v)) {
        json_object_object_add(o, "rolePermissions", json_object_get(v));
    } else {
        json_object_object_add(o, "rolePermissions", json_object_new_array());
    }
    r->id = gs_json_get_str(o, "id");
    r->template_id = gs_json_get_str(o, "templateId");
    r->display_name = gs_json_get_str(o, "displayName");
    return true;
}

static bool load_group(struct gs_tenant *t, json_object *src, size_t n, char *err, size_t errlen)
{
    static const char *const keys[] = {"id",
                                       "displayName",
                                       "description",
                                       "mailNickname",
                                       "mail",
                                       "mailEnabled",
                                       "securityEnabled",
                                       "groupTypes",
                                       "members",
                                       "createdDateTime",
                                       "assignedLicenses",
                                       "isAssignableToRole",
                                       "onPremisesSyncEnabled",
                                       "membershipRule",
                                       NULL};
    struct gs_group *g = gs_xcalloc(1, sizeof(*g));
    const char *id, *name;
    json_object *o, *v = NULL, *members = NULL;
    char where[64];

    t->groups[n] = g;
    g->members = gs_map_new(true);
    snprintf(where, sizeof(where), "groups[%zu]", n);
    if (!json_object_is_type(src, json_type_object)) {
        return fail(err, errlen, "%s: must be an object", where);
    }
    if (!only_keys(src, keys, err, errlen, where) ||
        !member(src, "members", json_type_array, &members, err, errlen, where) ||
        !member(src, "assignedLicenses", json_type_array, &v, err, errlen, where)) {
        return false;
    }
    if (v != NULL && json_object_array_length(v) > 0) {
        /* Copied: the licences are the group's; /_sim/reset reloads a pristine seed. */
        if (json_object_deep_copy(v, &g->licenses, NULL) != 0) {
            return fail(err, errlen, "%s: out of memory", where);
        }
        if (!load_licenses(t, g->licenses, err, errlen, where, "assignedLicenses")) {
            return false;
        }
    }
    v = NULL;
    id = gs_json_get_str(src, "id");
    name = gs_json_get_str(src, "displayName");
    if (id == NULL || !gs_is_guid(id) || name == NULL) {
        return fail(err, errlen, "%s: needs a GUID \"id\" and a \"displayName\"", where);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(t->groups[i]->id, id) == 0) {
            return fail(err, errlen, "%s: duplicate id", where);
        }
    }
    o = json_object_new_object();
    g->obj = o;
    gs_json_add_str(o, "id", id);
    json_object_object_add(o, "deletedDateTime", NULL);
    gs_json_add_str(o, "createdDateTime",
                    gs_json_get_str(src, "createdDateTime")
                        ? gs_json_get_str(src, "createdDateTime")
                        : SEED_DATE);
    gs_json_add_str(o, "description", gs_json_get_str(src, "description"));
    gs_json_add_str(o, "displayName", name);
    json_object_object_add(o, "groupTypes",
                           json_object_object_get_ex(src, "groupTypes", &v)
                               ? json_object_get(v)
                               : json_object_new_array());
    gs_json_add_str(o, "mail", gs_json_get_str(src, "mail"));
    json_object_object_add(
        o, "mailEnabled",
        json_object_new_boolean(json_object_object_get_ex(src, "mailEnabled", &v) &&
                                json_object_get_boolean(v)));
    gs_json_add_str(o, "mailNickname", gs_json_get_str(src, "mailNickname"));
    json_object_object_add(
        o, "securityEnabled",
        json_object_new_boolean(!json_object_object_get_ex(src, "securityEnabled", &v) ||
                                json_object_get_boolean(v)));
    /* Dynamic, synced and role-assignable groups: Graph answers null for what was never set
       (a cloud group's onPremisesSyncEnabled, a group created without isAssignableToRole). */
    for (size_t k = 0; k < 2; k++) {
        const char *name_k = k == 0 ? "isAssignableToRole" : "onPremisesSyncEnabled";

        if (json_object_object_get_ex(src, name_k, &v) && v != NULL &&
            !json_object_is_type(v, json_type_boolean)) {
            return fail(err, errlen, "%s: %s must be a boolean", where, name_k);
        }
        json_object_object_add(o, name_k, v != NULL ? json_object_get(v) : NULL);
        v = NULL;
    }
    gs_json_add_str(o, "membershipRule", gs_json_get_str(src, "membershipRule"));
    g->id = gs_json_get_str(o, "id");
    for (size_t i = 0; members != NULL && i < json_object_array_length(members); i++) {
        json_object *m = json_object_array_get_idx(members, i);
        struct gs_user *u = json_object_is_type(m, json_type_string)
                                ? gs_tenant_user_find(t, json_object_get_string(m))
                                : NULL;

        if (u == NULL) {
            return fail(err, errlen, "%s: members[%zu] is not a known user id or UPN", where, i);
        }
        gs_group_add(g, u);
    }
    return true;
}

static bool load_tenant_app(struct gs_tenant *t, json_object *seed, char *err, size_t errlen)
{
    static const char *const app_keys[] = {"client_id", "client_secret", "certificates", NULL};
    json_object *tenant = NULL, *app = NULL, *domains = NULL, *secret = NULL, *certs = NULL;

    if (!member(seed, "tenant", json_type_object, &tenant, err, errlen, "seed") ||
        !member(seed, "app", json_type_object, &app, err, errlen, "seed")) {
        return false;
    }
    if (tenant == NULL || app == NULL) {
        return fail(err, errlen, "seed: \"tenant\" and \"app\" are required");
    }
    if (gs_json_get_str(tenant, "id") == NULL || !gs_is_guid(gs_json_get_str(tenant, "id"))) {
        return fail(err, errlen, "tenant: \"id\" must be a GUID");
    }
    t->id = gs_lower_dup(gs_json_get_str(tenant, "id"));
    t->display_name =
        gs_xstrdup(gs_json_get_str(tenant, "displayName") ? gs_json_get_str(tenant, "displayName")
                                                          : "Contoso");
    if (!member(tenant, "domains", json_type_array, &domains, err, errlen, "tenant")) {
        return false;
    }
    if (domains == NULL || json_object_array_length(domains) == 0) {
        return fail(err, errlen, "tenant: \"domains\" needs at least one domain");
    }
    t->ndomains = json_object_array_length(domains);
    t->domains = gs_xcalloc(t->ndomains, sizeof(*t->domains));
    for (size_t i = 0; i < t->ndomains; i++) {
        json_object *d = json_object_array_get_idx(domains, i);

        if (!json_object_is_type(d, json_type_string)) {
            return fail(err, errlen, "tenant: domains[%zu] must be a string", i);
        }
        t->domains[i] = gs_lower_dup(json_object_get_string(d));
    }
    if (!only_keys(app, app_keys, err, errlen, "app") ||
        !member(app, "client_secret", json_type_string, &secret, err, errlen, "app") ||
        !member(app, "certificates", json_type_array, &certs, err, errlen, "app")) {
        return false;
    }
    if (gs_json_get_str(app, "client_id") == NULL ||
        (secret == NULL && (certs == NULL || json_object_array_length(certs) == 0))) {
        return fail(err, errlen,
                    "app: \"client_id\" and \"client_secret\" (or \"certificates\") are required");
    }
    t->client_id = gs_xstrdup(gs_json_get_str(app, "client_id"));
    t->client_secret = secret != NULL ? gs_xstrdup(json_object_get_string(secret)) : NULL;
    t->ncerts = certs != NULL ? json_object_array_length(certs) : 0;
    t->certs = gs_xcalloc(t->ncerts + 1, sizeof(*t->certs));
    for (size_t i = 0; i < t->ncerts; i++) {
        json_object *pem = json_object_array_get_idx(certs, i);
        char why[128];

        if (!json_object_is_type(pem, json_type_string) ||
            (t->certs[i] = gs_cert_new(json_object_get_string(pem), why, sizeof(why))) == NULL) {
            return fail(err, errlen, "app: certificates[%zu] is %s", i,
                        json_object_is_type(pem, json_type_string) ? why : "not a string");
        }
    }
    return true;
}

/* The seed's roleEligibilitySchedules or roleAssignmentSchedules (key). */
static bool load_schedules(struct gs_tenant *t, json_object *seed, enum gs_pim kind,
                           const char *key, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "id",          "principalId", "roleDefinitionId", "directoryScopeId", "startDateTime",
        "endDateTime", NULL};
    json_object *list = NULL;

    if (!member(seed, key, json_type_array, &list, err, errlen, "seed")) {
        return false;
    }
    for (size_t i = 0; list != NULL && i < json_object_array_length(list); i++) {
        json_object *a = json_object_array_get_idx(list, i);
        char where[64];
        const char *id, *pid, *rid, *scope, *start, *end;
        struct gs_user *u;
        struct gs_role_def *r;

        snprintf(where, sizeof(where), "%s[%zu]", key, i);
        if (!json_object_is_type(a, json_type_object)) {
            return fail(err, errlen, "%s: must be an object", where);
        }
        if (!only_keys(a, keys, err, errlen, where)) {
            return false;
        }
        id = gs_json_get_str(a, "id");
        pid = gs_json_get_str(a, "principalId");
        rid = gs_json_get_str(a, "roleDefinitionId");
        scope = gs_json_get_str(a, "directoryScopeId");
        start = gs_json_get_str(a, "startDateTime");
        end = gs_json_get_str(a, "endDateTime");
        u = pid ? gs_tenant_user_find(t, pid) : NULL;
        r = rid ? gs_tenant_role(t, rid) : NULL;
        if (u == NULL || r == NULL) {
            return fail(err, errlen,
                        "%s: needs a known \"principalId\" (id or UPN) and \"roleDefinitionId\"",
                        where);
        }
        if ((id != NULL && !gs_is_guid(id)) || (scope != NULL && scope[0] != '/') ||
            (start != NULL && !gs_is_datetimeoffset(start)) ||
            (end != NULL && !gs_is_datetimeoffset(end))) {
            return fail(err, errlen,
                        "%s: \"id\" must be a GUID, \"directoryScopeId\" start with /, and the "
                        "dates be DateTimeOffsets",
                        where);
        }
        gs_tenant_schedule_add(t, kind, id, gs_user_str(u, GS_U_ID), r->id, scope, start, end);
    }
    return true;
}

static bool load_links(struct gs_tenant *t, json_object *seed, char *err, size_t errlen)
{
    json_object *managers = NULL, *asgs = NULL;

    if (!member(seed, "managers", json_type_object, &managers, err, errlen, "seed") ||
        !member(seed, "roleAssignments", json_type_array, &asgs, err, errlen, "seed")) {
        return false;
    }
    if (managers != NULL) {
        json_object_object_foreach(managers, key, val)
        {
            struct gs_user *u = gs_tenant_user_find(t, key);
            struct gs_user *m = json_object_is_type(val, json_type_string)
                                    ? gs_tenant_user_find(t, json_object_get_string(val))
                                    : NULL;

            if (u == NULL || m == NULL || u == m) {
                return fail(err, errlen, "managers: \"%s\" needs a known user and manager", key);
            }
            free(u->manager_id);
            u->manager_id = gs_xstrdup(gs_user_str(m, GS_U_ID));
        }
    }
    for (size_t i = 0; asgs != NULL && i < json_object_array_length(asgs); i++) {
        json_object *a = json_object_array_get_idx(asgs, i);
        const char *pid = gs_json_get_str(a, "principalId");
        const char *rid = gs_json_get_str(a, "roleDefinitionId");
        const char *scope = gs_json_get_str(a, "directoryScopeId");
        struct gs_user *u = pid ? gs_tenant_user_find(t, pid) : NULL;
        struct gs_role_def *r = rid ? gs_tenant_role(t, rid) : NULL;

        if (u == NULL || r == NULL) {
            return fail(err, errlen,
                        "roleAssignments[%zu]: needs a known \"principalId\" (id or UPN) and "
                        "\"roleDefinitionId\"",
                        i);
        }
        gs_tenant_assignment_add(t, rid, gs_user_str(u, GS_U_ID), scope ? scope : "/", NULL);
    }
    return load_schedules(t, seed, GS_PIM_ELIGIBILITY, "roleEligibilitySchedules", err, errlen) &&
           load_schedules(t, seed, GS_PIM_ASSIGNMENT, "roleAssignmentSchedules", err, errlen);
}

struct gs_tenant *gs_tenant_new(json_object *seed, long generate_users, char *err, size_t errlen)
{
    static const char *const keys[] = {"tenant",
                                       "app",
                                       "users",
                                       "managers",
                                       "subscribedSkus",
                                       "roleDefinitions",
                                       "roleAssignments",
                                       "roleEligibilitySchedules",
                                       "roleAssignmentSchedules",
                                       "groups",
                                       "generate_users",
                                       "_comment",
                                       NULL};
    struct gs_tenant *t = gs_xcalloc(1, sizeof(*t));
    json_object *users = NULL, *skus = NULL, *roles = NULL, *groups = NULL, *gen = NULL;
    long ngen = 0;

    err[0] = '\0';
    t->by_id = gs_map_new(true);
    t->by_upn = gs_map_new(true);
    t->by_mail = gs_map_new(true);
    t->by_employee_id = gs_map_new(true);
    t->shared = gs_map_new(false);
    t->true_value = json_object_new_boolean(1);
    t->next_seq = 1;
    if (!json_object_is_type(seed, json_type_object)) {
        fail(err, errlen, "seed: must be a JSON object");
        goto err;
    }
    if (!only_keys(seed, keys, err, errlen, "seed") || !load_tenant_app(t, seed, err, errlen)) {
        goto err;
    }
    if (!member(seed, "users", json_type_array, &users, err, errlen, "seed") ||
        !member(seed, "subscribedSkus", json_type_array, &skus, err, errlen, "seed") ||
        !member(seed, "roleDefinitions", json_type_array, &roles, err, errlen, "seed") ||
        !member(seed, "groups", json_type_array, &groups, err, errlen, "seed") ||
        !member(seed, "generate_users", json_type_int, &gen, err, errlen, "seed")) {
        goto err;
    }
    t->nskus = skus ? json_object_array_length(skus) : 0;
    t->skus = gs_xcalloc(t->nskus, sizeof(*t->skus));
    for (size_t i = 0; i < t->nskus; i++) {
        if (!load_sku(t, json_object_array_get_idx(skus, i), i, err, errlen)) {
            goto err;
        }
        if (gs_tenant_sku(t, t->skus[i].sku_id) != &t->skus[i]) {
            fail(err, errlen, "subscribedSkus[%zu]: duplicate skuId", i);
            goto err;
        }
    }
    t->nroles = roles ? json_object_array_length(roles) : 0;
    t->roles = gs_xcalloc(t->nroles, sizeof(*t->roles));
    for (size_t i = 0; i < t->nroles; i++) {
        if (!load_role(t, json_object_array_get_idx(roles, i), i, err, errlen)) {
            goto err;
        }
    }
    for (size_t i = 0; users != NULL && i < json_object_array_length(users); i++) {
        if (!load_user(t, json_object_array_get_idx(users, i), i, err, errlen)) {
            goto err;
        }
    }
    ngen = gen ? (long)json_object_get_int64(gen) : 0;
    if (generate_users >= 0) {
        ngen = generate_users;
    }
    if (ngen < 0 || ngen > 10000000) {
        fail(err, errlen, "generate_users must be between 0 and 10000000");
        goto err;
    }
    for (long i = 1; i <= ngen; i++) {
        generate_user(t, i);
    }
    t->ngroups = groups ? json_object_array_length(groups) : 0;
    t->groups = gs_xcalloc(t->ngroups, sizeof(*t->groups));
    for (size_t i = 0; i < t->ngroups; i++) {
        if (!load_group(t, json_object_array_get_idx(groups, i), i, err, errlen)) {
            goto err;
        }
    }
    if (!load_links(t, seed, err, errlen)) {
        goto err;
    }
    for (size_t i = 0; i < t->nusers; i++) {
        gs_tenant_user_licenses(t, t->users[i], false);
    }
    t->schedule_requests[0] = json_object_new_array();
    t->schedule_requests[1] = json_object_new_array();
    t->nonce = gs_random64();
    t->tracking = true;
    return t;

err:
    gs_tenant_free(t);
    return NULL;
}

void gs_tenant_free(struct gs_tenant *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nusers; i++) {
        gs_user_free(t->users[i]);
    }
    free(t->users);
    while (t->ndeleted > 0) {
        deleted_drop(t, t->deleted[t->ndeleted - 1], true);
    }
    free(t->deleted);
    free(t->changes);
    gs_map_free(t->by_id, NULL);
    gs_map_free(t->by_upn, NULL);
    gs_map_free(t->by_mail, NULL);
    gs_map_free(t->by_employee_id, NULL);
    gs_map_free(t->shared, put_json);
    json_object_put(t->true_value);
    json_object_put(t->mail_sent);
    json_object_put(t->mailboxes);
    for (size_t i = 0; i < t->nskus; i++) {
        json_object_put(t->skus[i].obj);
    }
    free(t->skus);
    for (size_t i = 0; i < t->nroles; i++) {
        json_object_put(t->roles[i].obj);
    }
    free(t->roles);
    for (size_t i = 0; i < t->nassignments; i++) {
        assignment_free(t->assignments[i]);
    }
    free(t->assignments);
    for (size_t i = 0; i < t->ngroups; i++) {
        group_free(t->groups[i]);
    }
    free(t->groups);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < t->nschedules[k]; i++) {
            schedule_free(t->schedules[k][i]);
        }
        free(t->schedules[k]);
        json_object_put(t->schedule_requests[k]);
    }
    for (size_t i = 0; i < t->ndomains; i++) {
        free(t->domains[i]);
    }
    free(t->domains);
    free(t->id);
    free(t->display_name);
    free(t->client_id);
    free(t->client_secret);
    for (size_t i = 0; i < t->ncerts; i++) {
        gs_cert_free(t->certs[i]);
    }
    free(t->certs);
    free(t);
}

/* }====== */

/* {====== introspection ====== */

json_object *gs_tenant_state(const struct gs_tenant *t)
{
    json_object *o = json_object_new_object();
    json_object *tenant = json_object_new_object();
    json_object *app = json_object_new_object();
    json_object *domains = json_object_new_array();
    json_object *a;

    gs_json_add_str(tenant, "id", t->id);
    gs_json_add_str(tenant, "displayName", t->display_name);
    for (size_t i = 0; i < t->ndomains; i++) {
        json_object_array_add(domains, json_object_new_string(t->domains[i]));
    }
    json_object_object_add(tenant, "domains", domains);
    json_object_object_add(o, "tenant", tenant);
    gs_json_add_str(app, "client_id", t->client_id);
    if (t->ncerts > 0) {
        json_object *thumbs = json_object_new_array();

        for (size_t i = 0; i < t->ncerts; i++) {
            json_object *c = json_object_new_object();

            gs_json_add_str(c, "x5t", gs_cert_x5t(t->certs[i]));
            gs_json_add_str(c, "x5t#S256", gs_cert_x5t_s256(t->certs[i]));
            json_object_array_add(thumbs, c);
        }
        json_object_object_add(app, "certificates", thumbs);
    }
    json_object_object_add(o, "app", app);
    a = json_object_new_array_ext((int)(t->nusers - t->ntomb));
    for (size_t i = 0; i < t->nusers; i++) {
        if (t->users[i] != NULL) {
            json_object_array_add(a, gs_user_full(t, t->users[i]));
        }
    }
    json_object_object_add(o, "users", a);
    a = json_object_new_array();
    for (size_t i = 0; i < t->ndeleted; i++) {
        json_object_array_add(a, gs_user_full(t, t->deleted[i]->user));
    }
    json_object_object_add(o, "deletedUsers", a);
    a = json_object_new_array();
    for (size_t i = 0; i < t->nskus; i++) {
        json_object_array_add(a, json_object_get(t->skus[i].obj));
    }
    json_object_object_add(o, "subscribedSkus", a);
    a = json_object_new_array();
    for (size_t i = 0; i < t->nroles; i++) {
        json_object_array_add(a, json_object_get(t->roles[i].obj));
    }
    json_object_object_add(o, "roleDefinitions", a);
    a = json_object_new_array();
    for (size_t i = 0; i < t->nassignments; i++) {
        json_object_array_add(a, gs_assignment_json(t->assignments[i]));
    }
    json_object_object_add(o, "roleAssignments", a);
    a = json_object_new_array();
    for (size_t i = 0; i < t->ngroups; i++) {
        struct gs_group *g = t->groups[i];
        json_object *go = json_object_new_object();
        json_object *members = json_object_new_array();

        json_object_object_foreach(g->obj, key, val)
        {
            json_object_object_add(go, key, json_object_get(val));
        }
        for (size_t k = 0; k < g->norder; k++) {
            json_object_array_add(members, json_object_new_string(g->order[k]));
        }
        json_object_object_add(go, "members", members);
        if (g->licenses != NULL) {
            json_object_object_add(go, "assignedLicenses", json_object_get(g->licenses));
        }
        json_object_array_add(a, go);
    }
    json_object_object_add(o, "groups", a);
    for (int k = 0; k < 2; k++) {
        a = json_object_new_array();
        for (size_t i = 0; i < t->nschedules[k]; i++) {
            json_object_array_add(a, gs_schedule_json((enum gs_pim)k, t->schedules[k][i]));
        }
        json_object_object_add(
            o, k == GS_PIM_ELIGIBILITY ? "roleEligibilitySchedules" : "roleAssignmentSchedules", a);
    }
    return o;
}

/* }====== */
