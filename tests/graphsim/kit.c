/*
 * kit.c: Temporary Access Pass methods and OneDrive sharing (see kit.h).
 *
 * Temporary Access Pass (users/{id}/authentication/temporaryAccessPassMethods): a user has at
 * most one pass; creating one deletes the old (Graph documents it). The policy refuses with
 * 400 badRequest: off, a user it excludes, a lifetime outside its minimum..maximum (Graph's
 * message, seen in the wild: "Invalid LifetimeInMinutes specified. The valid range between 60
 * and 480."), a multi-use pass when it allows one-time passes only; a guest (userType Guest or
 * a #EXT# userPrincipalName) is refused too. Only the POST's answer holds temporaryAccessPass;
 * reads show it null.
 *
 * OneDrive: GET /users/{id}/drive answers the user's drive ("b!" + the user's id) or, for a
 * user without one, 404 ResourceNotFound "User's mysite not found."; /drives/{id}/root/
 * permissions lists the owner's permission and those given through /drives/{id}/root/invite,
 * which PATCH (roles) and DELETE change. OneDrive's own error codes (itemNotFound,
 * invalidRequest, accessDenied) are used there.
 */
#include "kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "graph.h"
#include "tenant.h"
#include "user_schema.h"
#include "util.h"

#define CTX_BASE "https://graph.microsoft.com/v1.0/$metadata#"

struct tap {
    char user[64];
    char id[37];
    char pass[16];
    double created; /* wall */
    char created_s[40];
    char start_s[40];
    double start; /* wall */
    long lifetime;
    bool once;
};

struct perm {
    char owner[64]; /* the drive owner's id */
    char id[37];
    char role[8];
    char email[256];
    char rid[64]; /* the recipient's id when a tenant user, else "" */
    char name[256];
    bool sign_in;
};

static struct {
    unsigned long long nonce;
    struct tap *taps;
    size_t ntaps;
    struct perm *perms;
    size_t nperms;
} kit;

/* Drops the state of an earlier tenant. */
static void sync_tenant(const struct gs_tenant *t)
{
    if (kit.nonce != t->nonce) {
        free(kit.taps);
        free(kit.perms);
        memset(&kit, 0, sizeof(kit));
        kit.nonce = t->nonce;
    }
}

static void set_body(struct gs_resp *resp, int status, json_object *body)
{
    json_object_put(resp->body);
    resp->status = status;
    resp->body = body;
}

static json_object *with_context(const char *context)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "@odata.context", json_object_new_string(context));
    return o;
}

/* The request's JSON object body, or NULL after answering 400. */
static json_object *body_object(const struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    char err[128];

    if (req->json == NULL && req->body != NULL && req->body_len > 0) {
        req->json = gs_json_parse(req->body, req->body_len, err, sizeof(err));
    }
    if (req->json == NULL || !json_object_is_type(req->json, json_type_object)) {
        gs_error(ctx, resp, 400, "BadRequest",
                 "Unable to read JSON request payload. Please ensure Content-Type header is set "
                 "and payload is of valid JSON format.");
        return NULL;
    }
    return req->json;
}

static const char *user_str(const struct gs_user *u, int idx)
{
    return u->v[idx] != NULL && json_object_is_type(u->v[idx], json_type_string)
               ? json_object_get_string(u->v[idx])
               : NULL;
}

static bool listed(const struct gs_user *u, const char list[][128], int n)
{
    const char *id = user_str(u, GS_U_ID), *upn = user_str(u, GS_U_USER_PRINCIPAL_NAME);

    for (int i = 0; i < n; i++) {
        if ((id && strcasecmp(list[i], id) == 0) || (upn && strcasecmp(list[i], upn) == 0)) {
            return true;
        }
    }
    return false;
}

/* {====== the model ====== */

static bool str_list(json_object *val, char out[][128], int *n)
{
    int k = 0;

    if (val == NULL || !json_object_is_type(val, json_type_array) ||
        json_object_array_length(val) > GS_KIT_MAX_LIST) {
        return false;
    }
    for (size_t i = 0; i < json_object_array_length(val); i++) {
        json_object *s = json_object_array_get_idx(val, i);

        if (!json_object_is_type(s, json_type_string) || json_object_get_string_len(s) >= 128) {
            return false;
        }
        snprintf(out[k++], 128, "%s", json_object_get_string(s));
    }
    *n = k;
    return true;
}

static bool minutes(json_object *v, long *out)
{
    if (v == NULL || !json_object_is_type(v, json_type_int)) {
        return false;
    }
    *out = (long)json_object_get_int64(v);
    return *out >= 10 && *out <= 43200;
}

bool gs_kit_model_set(struct gs_kit_model *m, const char *key, json_object *val)
{
    struct gs_kit_model x = *m;

    if (strcmp(key, "no_onedrive") == 0) {
        if (!str_list(val, x.no_drive, &x.nno_drive)) {
            return false;
        }
    } else if (strcmp(key, "onedrive_forbidden") == 0) {
        if (val == NULL || !json_object_is_type(val, json_type_boolean)) {
            return false;
        }
        x.drive_forbidden = json_object_get_boolean(val);
    } else if (strcmp(key, "tap_policy") == 0) {
        if (val == NULL || !json_object_is_type(val, json_type_object)) {
            return false;
        }
        json_object_object_foreach(val, k, v)
        {
            bool ok;

            if (strcmp(k, "state") == 0) {
                const char *s =
                    v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
                ok = strcmp(s, "enabled") == 0 || strcmp(s, "disabled") == 0;
                x.tap_disabled = strcmp(s, "disabled") == 0;
            } else if (strcmp(k, "minimumLifetimeInMinutes") == 0) {
                ok = minutes(v, &x.tap_min);
            } else if (strcmp(k, "maximumLifetimeInMinutes") == 0) {
                ok = minutes(v, &x.tap_max);
            } else if (strcmp(k, "defaultLifetimeInMinutes") == 0) {
                ok = minutes(v, &x.tap_default);
            } else if (strcmp(k, "isUsableOnce") == 0) {
                ok = v != NULL && json_object_is_type(v, json_type_boolean);
                x.tap_once_only = ok && json_object_get_boolean(v);
            } else if (strcmp(k, "excludeUsers") == 0) {
                ok = str_list(v, x.tap_excluded, &x.ntap_excluded);
            } else {
                ok = false;
            }
            if (!ok) {
                return false;
            }
        }
    } else {
        return false;
    }
    *m = x;
    return true;
}

static long pol_min(const struct gs_kit_model *m)
{
    return m->tap_min ? m->tap_min : 60;
}

static long pol_max(const struct gs_kit_model *m)
{
    return m->tap_max ? m->tap_max : 480;
}

static long pol_default(const struct gs_kit_model *m)
{
    return m->tap_default ? m->tap_default : pol_min(m);
}

void gs_kit_model_json(const struct gs_kit_model *m, json_object *obj)
{
    json_object *p = json_object_new_object(), *ex = json_object_new_array();
    json_object *nd = json_object_new_array();

    gs_json_add_str(p, "state", m->tap_disabled ? "disabled" : "enabled");
    json_object_object_add(p, "minimumLifetimeInMinutes", json_object_new_int64(pol_min(m)));
    json_object_object_add(p, "maximumLifetimeInMinutes", json_object_new_int64(pol_max(m)));
    json_object_object_add(p, "defaultLifetimeInMinutes", json_object_new_int64(pol_default(m)));
    json_object_object_add(p, "isUsableOnce", json_object_new_boolean(m->tap_once_only));
    for (int i = 0; i < m->ntap_excluded; i++) {
        json_object_array_add(ex, json_object_new_string(m->tap_excluded[i]));
    }
    json_object_object_add(p, "excludeUsers", ex);
    json_object_object_add(obj, "tap_policy", p);
    for (int i = 0; i < m->nno_drive; i++) {
        json_object_array_add(nd, json_object_new_string(m->no_drive[i]));
    }
    json_object_object_add(obj, "no_onedrive", nd);
    json_object_object_add(obj, "onedrive_forbidden", json_object_new_boolean(m->drive_forbidden));
}

static const struct gs_kit_model *model_of(const struct gs_ctx *ctx)
{
    static const struct gs_kit_model zero;
    return ctx->model ? &ctx->model->kit : &zero;
}

/* }====== */

/* {====== Temporary Access Pass ====== */

/* "2026-12-06T10:00:00.123Z" for wall time w. */
static void time_ms(char out[40], double w)
{
    char s[32];
    long ms = (long)((w - (double)(long long)w) * 1000.0);

    gs_time_format(s, w, false);
    snprintf(out, 40, "%s.%03ldZ", s, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

static json_object *tap_json(const struct tap *p, bool with_pass)
{
    json_object *o = json_object_new_object();
    double now = gs_now_wall();
    bool usable = now >= p->start && now < p->start + (double)p->lifetime * 60.0;

    gs_json_add_str(o, "@odata.type", "#microsoft.graph.temporaryAccessPassAuthenticationMethod");
    gs_json_add_str(o, "id", p->id);
    json_object_object_add(o, "temporaryAccessPass",
                           with_pass ? json_object_new_string(p->pass) : NULL);
    gs_json_add_str(o, "createdDateTime", p->created_s);
    gs_json_add_str(o, "startDateTime", p->start_s);
    json_object_object_add(o, "lifetimeInMinutes", json_object_new_int64(p->lifetime));
    json_object_object_add(o, "isUsableOnce", json_object_new_boolean(p->once));
    json_object_object_add(o, "isUsable", json_object_new_boolean(usable));
    gs_json_add_str(o, "methodUsabilityReason",
                    usable           ? "EnabledByPolicy"
                    : now < p->start ? "NotYetValid"
                                     : "Expired");
    return o;
}

static struct tap *tap_of(const char *user)
{
    for (size_t i = 0; i < kit.ntaps; i++) {
        if (strcasecmp(kit.taps[i].user, user) == 0) {
            return &kit.taps[i];
        }
    }
    return NULL;
}

static void tap_drop(struct tap *p)
{
    size_t i = (size_t)(p - kit.taps);

    memmove(&kit.taps[i], &kit.taps[i + 1], (kit.ntaps - i - 1) * sizeof(*p));
    kit.ntaps--;
}

/* Parses an ISO time with a zone into wall seconds; false when it is none. */
static bool parse_time(const char *s, double *out)
{
    int y, mo, d, h, mi;
    double sec = 0;
    char rest[16] = "";
    struct tm tm = {0};

    if (!gs_is_datetimeoffset(s) ||
        sscanf(s, "%d-%d-%dT%d:%d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, rest) < 6) {
        return false;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    *out = (double)timegm(&tm) + sec;
    if (rest[0] == '+' || rest[0] == '-') {
        int oh = 0, om = 0;

        if (sscanf(rest + 1, "%d:%d", &oh, &om) == 2) {
            *out -= (rest[0] == '+' ? 1 : -1) * (double)(oh * 3600 + om * 60);
        }
    }
    return true;
}

static void tap_create(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                       struct gs_user *u)
{
    const struct gs_kit_model *m = model_of(ctx);
    const char *uid = user_str(u, GS_U_ID), *upn = user_str(u, GS_U_USER_PRINCIPAL_NAME);
    const char *type = user_str(u, GS_U_USER_TYPE);
    json_object *body = req->has_body ? body_object(ctx, req, resp) : NULL, *v;
    long lifetime = pol_default(m);
    bool once = m->tap_once_only;
    double start = gs_now_wall();
    struct tap p = {0}, *old;
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789+#";

    if (req->has_body && body == NULL) {
        return;
    }
    if (body != NULL) {
        json_object_object_foreach(body, key, val)
        {
            (void)val;
            if (strcmp(key, "startDateTime") != 0 && strcmp(key, "lifetimeInMinutes") != 0 &&
                strcmp(key, "isUsableOnce") != 0 && strcmp(key, "@odata.type") != 0) {
                gs_error(ctx, resp, 400, "BadRequest",
                         "Property '%s' does not exist as a declared property or extension "
                         "property.",
                         key);
                return;
            }
        }
        if (json_object_object_get_ex(body, "lifetimeInMinutes", &v)) {
            if (!json_object_is_type(v, json_type_int)) {
                gs_error(ctx, resp, 400, "badRequest", "Invalid LifetimeInMinutes specified.");
                return;
            }
            lifetime = (long)json_object_get_int64(v);
        }
        if (json_object_object_get_ex(body, "isUsableOnce", &v)) {
            if (!json_object_is_type(v, json_type_boolean)) {
                gs_error(ctx, resp, 400, "badRequest", "Invalid IsUsableOnce specified.");
                return;
            }
            once = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(body, "startDateTime", &v)) {
            if (!json_object_is_type(v, json_type_string) ||
                !parse_time(json_object_get_string(v), &start)) {
                gs_error(ctx, resp, 400, "badRequest", "Invalid StartDateTime specified.");
                return;
            }
        }
    }
    if ((type && strcasecmp(type, "Guest") == 0) || (upn && strstr(upn, "#EXT#"))) {
        gs_error(ctx, resp, 400, "badRequest",
                 "Temporary Access Pass cannot be added to an external guest user.");
        return;
    }
    if (m->tap_disabled) {
        gs_error(ctx, resp, 400, "badRequest",
                 "The Temporary Access Pass authentication method is not enabled in the "
                 "tenant's authentication methods policy.");
        return;
    }
    if (listed(u, m->tap_excluded, m->ntap_excluded)) {
        gs_error(ctx, resp, 400, "badRequest",
                 "User is not enabled for the Temporary Access Pass authentication method.");
        return;
    }
    if (lifetime < 10 || lifetime > 43200 || lifetime < pol_min(m) || lifetime > pol_max(m)) {
        gs_error(ctx, resp, 400, "badRequest",
                 "Invalid LifetimeInMinutes specified. The valid range between %ld and %ld.",
                 pol_min(m), pol_max(m));
        return;
    }
    if (!once && m->tap_once_only) {
        gs_error(ctx, resp, 400, "badRequest",
                 "The policy allows only one-time Temporary Access Passes (isUsableOnce).");
        return;
    }
    sync_tenant(ctx->tenant);
    old = tap_of(uid);
    if (old != NULL) {
        tap_drop(old); /* a new pass replaces the old one */
    }
    snprintf(p.user, sizeof(p.user), "%s", uid);
    gs_guid_new(p.id);
    for (size_t i = 0; i < 8; i++) {
        p.pass[i] = alphabet[gs_random64() % (sizeof(alphabet) - 1)];
    }
    p.created = gs_now_wall();
    time_ms(p.created_s, p.created);
    p.start = start;
    gs_time_format(p.start_s, start, true);
    p.lifetime = lifetime;
    p.once = once;
    kit.taps = gs_xrealloc(kit.taps, (kit.ntaps + 1) * sizeof(*kit.taps));
    kit.taps[kit.ntaps++] = p;
    v = tap_json(&p, true);
    json_object_object_add(
        v, "@odata.context",
        json_object_new_string(CTX_BASE
                               "users('id')/authentication/temporaryAccessPassMethods/$entity"));
    set_body(resp, 201, v);
}

void gs_kit_user_authentication(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                                struct gs_user *u)
{
    const char *m = req->method;
    struct tap *p;

    if (req->nseg < 4 || req->nseg > 5 ||
        strcasecmp(req->seg[3], "temporaryAccessPassMethods") != 0) {
        gs_error(ctx, resp, 400, "BadRequest", "Resource not found for the segment '%s'.",
                 req->nseg > 3 ? req->seg[3] : "authentication");
        resp->unknown_path = true;
        return;
    }
    if (u == NULL) {
        gs_error(ctx, resp, 404, "Request_ResourceNotFound",
                 "Resource '%s' does not exist or one of its queried reference-property objects "
                 "are not present.",
                 req->seg[1]);
        return;
    }
    sync_tenant(ctx->tenant);
    p = tap_of(user_str(u, GS_U_ID));
    if (req->nseg == 4) {
        if (strcmp(m, "POST") == 0) {
            tap_create(ctx, req, resp, u);
        } else if (strcmp(m, "GET") == 0) {
            json_object *o =
                with_context(CTX_BASE "users('id')/authentication/temporaryAccessPassMethods");
            json_object *arr = json_object_new_array();

            if (p != NULL) {
                json_object_array_add(arr, tap_json(p, false));
            }
            json_object_object_add(o, "value", arr);
            set_body(resp, 200, o);
        } else {
            gs_error(ctx, resp, 405, "Request_BadRequest",
                     "Specified HTTP method is not allowed for the request target.");
        }
        return;
    }
    if (p == NULL || strcasecmp(p->id, req->seg[4]) != 0) {
        gs_error(ctx, resp, 404, "itemNotFound",
                 "The temporaryAccessPassMethod '%s' was not found for the user.", req->seg[4]);
        return;
    }
    if (strcmp(m, "GET") == 0) {
        set_body(resp, 200, tap_json(p, false));
    } else if (strcmp(m, "DELETE") == 0) {
        tap_drop(p);
        resp->status = 204;
    } else {
        gs_error(ctx, resp, 405, "Request_BadRequest",
                 "Specified HTTP method is not allowed for the request target.");
    }
}

/* }====== */

/* {====== OneDrive ====== */

static json_object *drive_json(const struct gs_user *u)
{
    json_object *o = with_context(CTX_BASE "drives/$entity"), *owner = json_object_new_object();
    json_object *who = json_object_new_object();
    char *id = gs_xasprintf("b!%s", user_str(u, GS_U_ID));
    const char *upn = user_str(u, GS_U_USER_PRINCIPAL_NAME);

    gs_json_add_str(o, "id", id);
    gs_json_add_str(o, "driveType", "business");
    gs_json_add_str(o, "name", "OneDrive");
    gs_json_add_str(who, "id", user_str(u, GS_U_ID));
    gs_json_add_str(who, "displayName", user_str(u, GS_U_DISPLAY_NAME));
    gs_json_add_str(who, "email", upn);
    json_object_object_add(owner, "user", who);
    json_object_object_add(o, "owner", owner);
    free(id);
    return o;
}

static bool drive_denied(struct gs_ctx *ctx, struct gs_resp *resp)
{
    if (model_of(ctx)->drive_forbidden) {
        gs_error(ctx, resp, 403, "accessDenied", "Access denied");
        return true;
    }
    return false;
}

void gs_kit_user_drive(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                       struct gs_user *u)
{
    const struct gs_kit_model *m = model_of(ctx);

    if (strcmp(req->method, "GET") != 0) {
        gs_error(ctx, resp, 405, "Request_BadRequest",
                 "Specified HTTP method is not allowed for the request target.");
        return;
    }
    if (u == NULL) {
        gs_error(ctx, resp, 404, "Request_ResourceNotFound",
                 "Resource '%s' does not exist or one of its queried reference-property objects "
                 "are not present.",
                 req->seg[1]);
        return;
    }
    if (drive_denied(ctx, resp)) {
        return;
    }
    if (listed(u, m->no_drive, m->nno_drive)) {
        gs_error(ctx, resp, 404, "ResourceNotFound", "User's mysite not found.");
        return;
    }
    set_body(resp, 200, drive_json(u));
}

static json_object *perm_json(const struct perm *p)
{
    json_object *o = json_object_new_object(), *roles = json_object_new_array();
    json_object *g = json_object_new_object(), *who = json_object_new_object();

    gs_json_add_str(o, "id", p->id);
    json_object_array_add(roles, json_object_new_string(p->role));
    json_object_object_add(o, "roles", roles);
    if (p->rid[0]) {
        gs_json_add_str(who, "id", p->rid);
        gs_json_add_str(who, "displayName", p->name);
    }
    gs_json_add_str(who, "email", p->email);
    json_object_object_add(g, "user", who);
    json_object_object_add(o, "grantedToV2", g);
    if (!p->rid[0]) {
        json_object *inv = json_object_new_object();

        gs_json_add_str(inv, "email", p->email);
        json_object_object_add(inv, "signInRequired", json_object_new_boolean(p->sign_in));
        json_object_object_add(o, "invitation", inv);
    }
    return o;
}

static json_object *owner_perm_json(const struct gs_user *u)
{
    json_object *o = json_object_new_object(), *roles = json_object_new_array();
    json_object *g = json_object_new_object(), *who = json_object_new_object();
    char *id = gs_xasprintf("owner-%s", user_str(u, GS_U_ID));

    gs_json_add_str(o, "id", id);
    json_object_array_add(roles, json_object_new_string("owner"));
    json_object_object_add(o, "roles", roles);
    gs_json_add_str(who, "id", user_str(u, GS_U_ID));
    gs_json_add_str(who, "displayName", user_str(u, GS_U_DISPLAY_NAME));
    gs_json_add_str(who, "email", user_str(u, GS_U_USER_PRINCIPAL_NAME));
    json_object_object_add(g, "user", who);
    json_object_object_add(o, "grantedToV2", g);
    free(id);
    return o;
}

static struct perm *perm_find(const char *owner, const char *id, const char *email)
{
    for (size_t i = 0; i < kit.nperms; i++) {
        struct perm *p = &kit.perms[i];

        if (strcasecmp(p->owner, owner) == 0 &&
            ((id && strcasecmp(p->id, id) == 0) || (email && strcasecmp(p->email, email) == 0))) {
            return p;
        }
    }
    return NULL;
}

static const char *one_role(const struct gs_ctx *ctx, struct gs_resp *resp, json_object *roles)
{
    const char *r;

    if (roles == NULL || !json_object_is_type(roles, json_type_array) ||
        json_object_array_length(roles) != 1 ||
        !json_object_is_type(json_object_array_get_idx(roles, 0), json_type_string)) {
        gs_error(ctx, resp, 400, "invalidRequest", "roles must hold one role: read or write.");
        return NULL;
    }
    r = json_object_get_string(json_object_array_get_idx(roles, 0));
    if (strcmp(r, "read") != 0 && strcmp(r, "write") != 0) {
        gs_error(ctx, resp, 400, "invalidRequest", "Invalid role: '%s'.", r);
        return NULL;
    }
    return r;
}

static void invite(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp, struct gs_user *o)
{
    static const char *const known[] = {"recipients",
                                        "roles",
                                        "requireSignIn",
                                        "sendInvitation",
                                        "message",
                                        "expirationDateTime",
                                        "retainInheritedPermissions",
                                        NULL};
    json_object *body = body_object(ctx, req, resp), *recips = NULL, *roles = NULL, *v;
    json_object *out, *arr;
    const char *role;
    bool sign_in = true;
    const char *oid = user_str(o, GS_U_ID);

    if (body == NULL) {
        return;
    }
    json_object_object_foreach(body, key, val)
    {
        bool ok = false;

        (void)val;
        for (size_t i = 0; known[i]; i++) {
            ok = ok || strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            gs_error(ctx, resp, 400, "invalidRequest", "Invalid request: unknown property '%s'.",
                     key);
            return;
        }
    }
    json_object_object_get_ex(body, "recipients", &recips);
    json_object_object_get_ex(body, "roles", &roles);
    if (recips == NULL || !json_object_is_type(recips, json_type_array) ||
        json_object_array_length(recips) == 0) {
        gs_error(ctx, resp, 400, "invalidRequest", "recipients is required.");
        return;
    }
    if ((role = one_role(ctx, resp, roles)) == NULL) {
        return;
    }
    if (json_object_object_get_ex(body, "requireSignIn", &v)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            gs_error(ctx, resp, 400, "invalidRequest", "requireSignIn must be a boolean.");
            return;
        }
        sign_in = json_object_get_boolean(v);
    }
    if (json_object_object_get_ex(body, "sendInvitation", &v) &&
        !json_object_is_type(v, json_type_boolean)) {
        gs_error(ctx, resp, 400, "invalidRequest", "sendInvitation must be a boolean.");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(recips); i++) {
        json_object *r = json_object_array_get_idx(recips, i);
        const char *email =
            json_object_is_type(r, json_type_object) ? gs_json_get_str(r, "email") : NULL;
        if (email == NULL || strchr(email, '@') == NULL || strlen(email) >= 256) {
            gs_error(ctx, resp, 400, "invalidRequest", "Each recipient needs an email.");
            return;
        }
        if (strcasecmp(email, user_str(o, GS_U_USER_PRINCIPAL_NAME)) == 0) {
            gs_error(ctx, resp, 400, "invalidRequest", "The owner already has access.");
            return;
        }
    }
    sync_tenant(ctx->tenant);
    out = json_object_new_object();
    arr = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(recips); i++) {
        const char *email = gs_json_get_str(json_object_array_get_idx(recips, i), "email");
        struct gs_user *ru = gs_tenant_user_find(ctx->tenant, email);
        struct perm *p;

        if (ru == NULL) {
            /* by mail: users whose mail differs from their UPN */
            for (size_t k = 0; k < ctx->tenant->nusers && ru == NULL; k++) {
                struct gs_user *c = ctx->tenant->users[k];
                const char *mail = c ? user_str(c, GS_U_MAIL) : NULL;

                ru = mail && strcasecmp(mail, email) == 0 ? c : NULL;
            }
        }
        p = perm_find(oid, NULL, email);
        if (p == NULL && ru != NULL) {
            p = perm_find(oid, NULL, user_str(ru, GS_U_USER_PRINCIPAL_NAME));
        }
        if (p == NULL) {
            kit.perms = gs_xrealloc(kit.perms, (kit.nperms + 1) * sizeof(*kit.perms));
            p = &kit.perms[kit.nperms++];
            memset(p, 0, sizeof(*p));
            snprintf(p->owner, sizeof(p->owner), "%s", oid);
            gs_guid_new(p->id);
            snprintf(p->email, sizeof(p->email), "%s", email);
            if (ru != NULL) {
                snprintf(p->rid, sizeof(p->rid), "%s", user_str(ru, GS_U_ID));
                snprintf(p->name, sizeof(p->name), "%s",
                         user_str(ru, GS_U_DISPLAY_NAME) ? user_str(ru, GS_U_DISPLAY_NAME) : "");
            }
        }
        snprintf(p->role, sizeof(p->role), "%s", role);
        p->sign_in = sign_in;
        json_object_array_add(arr, perm_json(p));
    }
    json_object_object_add(
        out, "@odata.context",
        json_object_new_string(CTX_BASE "Collection(microsoft.graph.permission)"));
    json_object_object_add(out, "value", arr);
    set_body(resp, 200, out);
}

void gs_kit_drives(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    const struct gs_kit_model *m = model_of(ctx);
    const char *meth = req->method;
    struct gs_user *o = NULL;
    const char *did = req->nseg > 1 ? req->seg[1] : "";

    if (drive_denied(ctx, resp)) {
        return;
    }
    if (strncmp(did, "b!", 2) == 0) {
        o = gs_tenant_user_by_id(ctx->tenant, did + 2);
    }
    if (o == NULL || listed(o, m->no_drive, m->nno_drive)) {
        gs_error(ctx, resp, 404, "itemNotFound", "The resource could not be found.");
        return;
    }
    sync_tenant(ctx->tenant);
    if (req->nseg == 2) {
        if (strcmp(meth, "GET") == 0) {
            set_body(resp, 200, drive_json(o));
        } else {
            gs_error(ctx, resp, 405, "invalidRequest", "The method is not allowed.");
        }
        return;
    }
    if (strcasecmp(req->seg[2], "root") != 0 || req->nseg < 4) {
        gs_error(ctx, resp, 400, "invalidRequest", "Invalid request");
        resp->unknown_path = true;
        return;
    }
    if (req->nseg == 4 && strcasecmp(req->seg[3], "invite") == 0) {
        if (strcmp(meth, "POST") != 0) {
            gs_error(ctx, resp, 405, "invalidRequest", "The method is not allowed.");
        } else {
            invite(ctx, req, resp, o);
        }
        return;
    }
    if (strcasecmp(req->seg[3], "permissions") != 0 || req->nseg > 5) {
        gs_error(ctx, resp, 400, "invalidRequest", "Invalid request");
        resp->unknown_path = true;
        return;
    }
    const char *oid = user_str(o, GS_U_ID);
    if (req->nseg == 4) {
        json_object *out, *arr;

        if (strcmp(meth, "GET") != 0) {
            gs_error(ctx, resp, 405, "invalidRequest", "The method is not allowed.");
            return;
        }
        out = with_context(CTX_BASE "Collection(microsoft.graph.permission)");
        arr = json_object_new_array();
        json_object_array_add(arr, owner_perm_json(o));
        for (size_t i = 0; i < kit.nperms; i++) {
            if (strcasecmp(kit.perms[i].owner, oid) == 0) {
                json_object_array_add(arr, perm_json(&kit.perms[i]));
            }
        }
        json_object_object_add(out, "value", arr);
        set_body(resp, 200, out);
        return;
    }
    const char *pid = req->seg[4];
    char *owner_id = gs_xasprintf("owner-%s", oid);
    bool is_owner = strcasecmp(pid, owner_id) == 0;
    struct perm *p = perm_find(oid, pid, NULL);

    free(owner_id);
    if (is_owner && strcmp(meth, "GET") != 0) {
        gs_error(ctx, resp, 403, "accessDenied", "The owner's permission cannot be changed.");
        return;
    }
    if (is_owner) {
        set_body(resp, 200, owner_perm_json(o));
        return;
    }
    if (p == NULL) {
        gs_error(ctx, resp, 404, "itemNotFound", "The resource could not be found.");
        return;
    }
    if (strcmp(meth, "GET") == 0) {
        set_body(resp, 200, perm_json(p));
    } else if (strcmp(meth, "DELETE") == 0) {
        size_t i = (size_t)(p - kit.perms);

        memmove(&kit.perms[i], &kit.perms[i + 1], (kit.nperms - i - 1) * sizeof(*p));
        kit.nperms--;
        resp->status = 204;
    } else if (strcmp(meth, "PATCH") == 0) {
        json_object *body = body_object(ctx, req, resp), *roles = NULL;
        const char *role;

        if (body == NULL) {
            return;
        }
        json_object_object_foreach(body, key, val)
        {
            (void)val;
            if (strcmp(key, "roles") != 0) {
                gs_error(ctx, resp, 400, "invalidRequest",
                         "Only roles can be changed on a permission, not '%s'.", key);
                return;
            }
        }
        json_object_object_get_ex(body, "roles", &roles);
        if ((role = one_role(ctx, resp, roles)) == NULL) {
            return;
        }
        snprintf(p->role, sizeof(p->role), "%s", role);
        set_body(resp, 200, perm_json(p));
    } else {
        gs_error(ctx, resp, 405, "invalidRequest", "The method is not allowed.");
    }
}

/* }====== */
