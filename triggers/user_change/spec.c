/*
 * spec — the user-change trigger's arguments, delta query, remembered users and their
 * differences; see spec.h. Pure: no I/O, no clock.
 */
#include "triggers/user_change/spec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/duration.h"
#include "engine/base/strutil.h"
#include "engine/graph/graph.h"
#include "triggers/entra.h"

static bool listed(char **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_fixed(const char *name)
{
    for (size_t i = 0; wr_entra_user_fixed[i]; i++) {
        if (strcmp(wr_entra_user_fixed[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* Appends the strings of args[key] to *list (each once, skipping those in skip). */
static void read_names(struct json_object *args, const char *key, char ***list, size_t *n,
                       char **skip, size_t nskip)
{
    struct json_object *a = NULL;
    if (!json_object_object_get_ex(args, key, &a) || !json_object_is_type(a, json_type_array)) {
        return;
    }
    size_t len = json_object_array_length(a);
    *list = wr_xrealloc(*list, (*n + len + 1) * sizeof(**list));
    for (size_t i = 0; i < len; i++) {
        const char *v = json_object_get_string(json_object_array_get_idx(a, i));
        if (v && !listed(*list, *n, v) && !listed(skip, nskip, v)) {
            (*list)[(*n)++] = wr_xstrdup(v);
        }
    }
}

int wr_user_change_spec_read(struct json_object *args, struct wr_user_change_spec *s, char *err,
                             size_t errlen)
{
    struct json_object *v = NULL;
    memset(s, 0, sizeof(*s));
    read_names(args, "attributes", &s->attrs, &s->nattrs, NULL, 0);
    read_names(args, "select", &s->select, &s->nselect, s->attrs, s->nattrs);
    s->manager = listed(s->attrs, s->nattrs, "manager");
    if (s->nattrs == 0) {
        snprintf(err, errlen, "attributes: at least one attribute is needed");
        return -1;
    }
    s->every_ms = WR_USER_CHANGE_EVERY_DEFAULT_MS;
    if (json_object_object_get_ex(args, "every", &v) &&
        wr_duration_parse(json_object_get_string(v), &s->every_ms, err, errlen) != 0) {
        return -1;
    }
    return 0;
}

void wr_user_change_spec_clear(struct wr_user_change_spec *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->nattrs; i++) {
        free(s->attrs[i]);
    }
    for (size_t i = 0; i < s->nselect; i++) {
        free(s->select[i]);
    }
    free(s->attrs);
    free(s->select);
    memset(s, 0, sizeof(*s));
}

char *wr_user_change_select(const struct wr_user_change_spec *s)
{
    struct wr_buf b = {0};
    for (size_t i = 0; wr_entra_user_fixed[i]; i++) {
        wr_buf_addf(&b, "%s%s", i ? "," : "", wr_entra_user_fixed[i]);
    }
    for (size_t i = 0; i < s->nattrs; i++) {
        if (!is_fixed(s->attrs[i]) && strcmp(s->attrs[i], "manager") != 0) {
            wr_buf_addf(&b, ",%s", s->attrs[i]);
        }
    }
    for (size_t i = 0; i < s->nselect; i++) {
        if (!is_fixed(s->select[i]) && strcmp(s->select[i], "manager") != 0) {
            wr_buf_addf(&b, ",%s", s->select[i]);
        }
    }
    if (s->manager) {
        wr_buf_add(&b, ",manager");
    }
    return wr_buf_take(&b);
}

char *wr_user_change_path(const struct wr_user_change_spec *s)
{
    char *sel = wr_user_change_select(s);
    char *esc = wr_graph_escape(sel);
    char *path = wr_xasprintf("/users/delta?$select=%s", esc);
    free(esc);
    free(sel);
    return path;
}

/* The value of name for the remembered user: item's if it has it, else old's (not full),
   else null. A new reference (or NULL for null). */
static struct json_object *value_of(const char *name, struct json_object *item,
                                    struct json_object *old, bool full)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(item, name, &v) ||
        (!full && old && json_object_object_get_ex(old, name, &v))) {
        return json_object_get(v);
    }
    return NULL;
}

/* The manager from item: manager@delta (a list of one entry; "@removed" = none), a plain
   manager object, or absent (then old's, unless full). */
static struct json_object *manager_of(struct json_object *item, struct json_object *old, bool full)
{
    struct json_object *md = NULL, *m = NULL, *id = NULL;
    const char *old_id = old ? wr_user_change_manager_id(old) : NULL;
    if (json_object_object_get_ex(item, "manager@delta", &md)) {
        struct json_object *e =
            json_object_is_type(md, json_type_array) && json_object_array_length(md) > 0
                ? json_object_array_get_idx(md, json_object_array_length(md) - 1)
                : NULL;
        if (!e || json_object_object_get_ex(e, "@removed", NULL) ||
            !json_object_object_get_ex(e, "id", &id)) {
            return NULL;
        }
    } else if (json_object_object_get_ex(item, "manager", &m) &&
               json_object_is_type(m, json_type_object)) {
        json_object_object_get_ex(m, "id", &id);
    } else if (json_object_object_get_ex(item, "manager", NULL)) {
        return NULL; /* "manager": null */
    } else {
        struct json_object *keep = NULL;
        if (!full && old && json_object_object_get_ex(old, "manager", &keep)) {
            return json_object_get(keep);
        }
        return NULL;
    }
    const char *mid = json_object_get_string(id);
    if (!mid) {
        return NULL;
    }
    struct json_object *upn = NULL, *out = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(mid));
    if (m) {
        json_object_object_get_ex(m, "userPrincipalName", &upn);
    } else if (old_id && strcmp(old_id, mid) == 0) {
        struct json_object *om = NULL;
        json_object_object_get_ex(old, "manager", &om);
        json_object_object_get_ex(om, "userPrincipalName", &upn);
    }
    json_object_object_add(out, "userPrincipalName", json_object_get(upn));
    return out;
}

struct json_object *wr_user_change_user(const struct wr_user_change_spec *s,
                                        struct json_object *item, struct json_object *old,
                                        bool full)
{
    struct json_object *u = json_object_new_object();
    full = full || !old;
    for (size_t i = 0; wr_entra_user_fixed[i]; i++) {
        json_object_object_add(u, wr_entra_user_fixed[i],
                               value_of(wr_entra_user_fixed[i], item, old, full && i > 0));
    }
    for (size_t i = 0; i < s->nattrs; i++) {
        if (!is_fixed(s->attrs[i]) && strcmp(s->attrs[i], "manager") != 0) {
            json_object_object_add(u, s->attrs[i], value_of(s->attrs[i], item, old, full));
        }
    }
    for (size_t i = 0; i < s->nselect; i++) {
        if (!is_fixed(s->select[i]) && strcmp(s->select[i], "manager") != 0) {
            json_object_object_add(u, s->select[i], value_of(s->select[i], item, old, full));
        }
    }
    if (s->manager) {
        json_object_object_add(u, "manager", manager_of(item, old, full));
    }
    return u;
}

const char *wr_user_change_manager_id(struct json_object *user)
{
    struct json_object *m = NULL, *id = NULL;
    if (json_object_object_get_ex(user, "manager", &m) &&
        json_object_is_type(m, json_type_object) && json_object_object_get_ex(m, "id", &id)) {
        return json_object_get_string(id);
    }
    return NULL;
}

const char *wr_user_change_manager_upn(struct json_object *user)
{
    struct json_object *m = NULL, *upn = NULL;
    if (json_object_object_get_ex(user, "manager", &m) &&
        json_object_is_type(m, json_type_object) &&
        json_object_object_get_ex(m, "userPrincipalName", &upn)) {
        return json_object_get_string(upn);
    }
    return NULL;
}

void wr_user_change_fill_manager(struct json_object *user, const char *upn)
{
    struct json_object *m = NULL, *have = NULL;
    if (upn && json_object_object_get_ex(user, "manager", &m) &&
        json_object_is_type(m, json_type_object) &&
        (!json_object_object_get_ex(m, "userPrincipalName", &have) || !have)) {
        json_object_object_add(m, "userPrincipalName", json_object_new_string(upn));
    }
}

struct json_object *wr_user_change_diff(const struct wr_user_change_spec *s,
                                        struct json_object *old, struct json_object *now)
{
    struct json_object *ch = NULL;
    for (size_t i = 0; i < s->nattrs; i++) {
        const char *a = s->attrs[i];
        struct json_object *from = NULL, *to = NULL;
        json_object_object_get_ex(old, a, &from);
        json_object_object_get_ex(now, a, &to);
        bool same;
        if (strcmp(a, "manager") == 0) {
            const char *f = wr_user_change_manager_id(old), *t = wr_user_change_manager_id(now);
            same = (!f && !t) || (f && t && strcmp(f, t) == 0);
        } else {
            same = json_object_equal(from, to);
        }
        if (same) {
            continue;
        }
        if (!ch) {
            ch = json_object_new_object();
        }
        struct json_object *c = json_object_new_object();
        json_object_object_add(c, "from", json_object_get(from));
        json_object_object_add(c, "to", json_object_get(to));
        json_object_object_add(ch, a, c);
    }
    return ch;
}

const char *wr_user_change_text(struct json_object *u)
{
    return json_object_to_json_string_ext(u,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* FNV-1a, 64 bits, over s and the NUL after it. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : "");; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
        if (!*p) {
            return h;
        }
    }
}

char *wr_user_change_key(const char *workflow, const char *user_id, const char *from_link,
                         const char *what)
{
    uint64_t h = fnv(fnv(14695981039346656037ULL, from_link), what);
    return wr_xasprintf("user-change:%s:%s:%016" PRIx64, workflow, user_id, h);
}
