/*
 * graph.c: Microsoft Graph v1.0 behaviour over the simulated tenant (see graph.h).
 *
 * Status codes, error codes and messages follow GRAPH.md; where GRAPH.md marks a message as
 * unconfirmed, the text chosen here is listed in README.md. The router walks decoded path
 * segments; each handler first rejects query options it does not support, then validates the
 * whole body before changing anything, so a rejected request never leaves partial state.
 */
#include "graph.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CTX_BASE    "https://graph.microsoft.com/v1.0/$metadata#"
#define MAX_TOP     999
#define DEFAULT_TOP 100

#define MSG_NOT_FOUND                                                                              \
    "Resource '%s' does not exist or one of its queried reference-property objects are not "       \
    "present."
#define MSG_READ_ONLY "Property '%s' is read-only and cannot be set."
#define MSG_UNKNOWN_PROP                                                                           \
    "Property '%s' does not exist as a declared property or extension property."
#define MSG_INVALID_VALUE "Invalid value specified for property '%s' of resource '%s'."
#define MSG_REQUIRED      "A value is required for property '%s' of resource '%s'."
#define MSG_BAD_JSON                                                                               \
    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload "   \
    "is of valid JSON format."
#define MSG_METHOD      "Specified HTTP method is not allowed for the request target."
#define MSG_NO_PROPERTY "Could not find a property named '%s' on type '%s'."

/* {====== requests, responses, errors ====== */

static void add_query(struct gs_req *req, char *piece)
{
    char *eq = strchr(piece, '=');
    struct gs_query *q;

    req->q = gs_xrealloc(req->q, (req->nq + 1) * sizeof(*req->q));
    q = &req->q[req->nq++];
    q->raw = gs_xstrdup(piece);
    if (eq != NULL) {
        *eq = '\0';
    }
    q->key = gs_xstrdup(piece);
    q->value = gs_xstrdup(eq ? eq + 1 : "");
    if (!gs_pct_decode(q->key, true) || !gs_pct_decode(q->value, true)) {
        req->bad_target = true;
    }
}

void gs_req_init(struct gs_req *req, const char *method, const char *target)
{
    const char *qm = strchr(target, '?');
    char *path, *query, *save = NULL;

    memset(req, 0, sizeof(*req));
    snprintf(req->method, sizeof(req->method), "%s", method);
    req->path = gs_xstrndup(target, qm ? (size_t)(qm - target) : strlen(target));
    path = gs_xstrdup(req->path);
    for (char *s = strtok_r(path, "/", &save); s != NULL; s = strtok_r(NULL, "/", &save)) {
        req->seg = gs_xrealloc(req->seg, (req->nseg + 1) * sizeof(*req->seg));
        req->seg[req->nseg] = gs_xstrdup(s);
        if (!gs_pct_decode(req->seg[req->nseg], false)) {
            req->bad_target = true;
        }
        req->nseg++;
    }
    free(path);
    if (qm != NULL && qm[1] != '\0') {
        query = gs_xstrdup(qm + 1);
        save = NULL;
        for (char *s = strtok_r(query, "&", &save); s != NULL; s = strtok_r(NULL, "&", &save)) {
            add_query(req, s);
        }
        free(query);
    }
}

void gs_req_clear(struct gs_req *req)
{
    for (size_t i = 0; i < req->nseg; i++) {
        free(req->seg[i]);
    }
    free(req->seg);
    for (size_t i = 0; i < req->nq; i++) {
        free(req->q[i].key);
        free(req->q[i].value);
        free(req->q[i].raw);
    }
    free(req->q);
    free(req->path);
    json_object_put(req->json);
    memset(req, 0, sizeof(*req));
}

void gs_resp_clear(struct gs_resp *resp)
{
    json_object_put(resp->body);
    free(resp->text);
    memset(resp, 0, sizeof(*resp));
}

static json_object *inner_error(const struct gs_ctx *ctx)
{
    json_object *in = json_object_new_object();
    char date[32];

    gs_time_format(date, gs_now_wall(), false);
    gs_json_add_str(in, "date", date);
    gs_json_add_str(in, "request-id", ctx->request_id);
    gs_json_add_str(in, "client-request-id", ctx->client_request_id);
    return in;
}

void gs_error(const struct gs_ctx *ctx, struct gs_resp *resp, int status, const char *code,
              const char *fmt, ...)
{
    json_object *err = json_object_new_object();
    json_object *body = json_object_new_object();
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gs_json_add_str(err, "code", code);
    gs_json_add_str(err, "message", msg);
    json_object_object_add(err, "innerError", inner_error(ctx));
    json_object_object_add(body, "error", err);
    json_object_put(resp->body);
    resp->body = body;
    resp->status = status;
}

void gs_error_throttled(const struct gs_ctx *ctx, struct gs_resp *resp, double seconds)
{
    json_object *in;

    gs_error(ctx, resp, 429, "TooManyRequests", "Please retry again later.");
    /* The throttling doc's sample innerError also carries code, message and status. */
    json_object_object_get_ex(json_object_object_get(resp->body, "error"), "innerError", &in);
    gs_json_add_str(in, "code", "429");
    gs_json_add_str(in, "message", "Please retry after");
    gs_json_add_str(in, "status", "429");
    snprintf(resp->retry_after, sizeof(resp->retry_after), "%.3f", seconds);
}

bool gs_is_write(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
           strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
}

const char *gs_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 415:
        return "Unsupported Media Type";
    case 424:
        return "Failed Dependency";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

static void method_not_allowed(const struct gs_ctx *ctx, struct gs_resp *resp)
{
    gs_error(ctx, resp, 405, "Request_BadRequest", MSG_METHOD);
}

static void not_found(const struct gs_ctx *ctx, struct gs_resp *resp, const char *what)
{
    gs_error(ctx, resp, 404, "Request_ResourceNotFound", MSG_NOT_FOUND, what);
}

static void unknown_segment(const struct gs_ctx *ctx, struct gs_resp *resp, const char *seg)
{
    gs_error(ctx, resp, 400, "BadRequest", "Resource not found for the segment '%s'.", seg);
    resp->unknown_path = true;
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

/* }====== */

/* {====== the behaviour model (GRAPH.md section 12) ====== */

bool gs_model_parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);

    if (end == s || !(v >= 0)) {
        return false;
    }
    if (strcmp(end, "ms") == 0) {
        v /= 1000;
    } else if (strcmp(end, "s") != 0 && *end != '\0') {
        return false;
    }
    if (v > 3600) {
        return false;
    }
    *out = v;
    return true;
}

bool gs_model_parse_pim(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {{"none", 0},
                 {"eligibility", GS_MODEL_PIM_ELIGIBILITY},
                 {"assignment", GS_MODEL_PIM_ASSIGNMENT},
                 {"all", GS_MODEL_PIM_ELIGIBILITY | GS_MODEL_PIM_ASSIGNMENT}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].bits;
            return true;
        }
    }
    return false;
}

/* A number of seconds in 0..3600 from a /_sim/faults member. */
static bool seconds_value(json_object *val, double *out)
{
    double v;

    if (val == NULL ||
        (!json_object_is_type(val, json_type_int) && !json_object_is_type(val, json_type_double))) {
        return false;
    }
    v = json_object_get_double(val);
    if (!(v >= 0 && v <= 3600)) {
        return false;
    }
    *out = v;
    return true;
}

bool gs_model_set(struct gs_model *m, const char *key, json_object *val)
{
    if (gs_kit_model_set(&m->kit, key, val)) { /* tap_policy, no_onedrive, ... (kit.h) */
        return true;
    }
    if (strcmp(key, "replica_lag") == 0) {
        return seconds_value(val, &m->replica_lag);
    }
    if (strcmp(key, "timeout_next_create") == 0) {
        return seconds_value(val, &m->timeout_next_create);
    }
    if (strcmp(key, "timeout_next_send") == 0) {
        return seconds_value(val, &m->timeout_next_send);
    }
    if (strcmp(key, "pim_forbidden") == 0) {
        return val != NULL && json_object_is_type(val, json_type_string) &&
               gs_model_parse_pim(json_object_get_string(val), &m->pim_forbidden);
    }
    if (strcmp(key, "expire_delta_tokens") == 0) {
        if (val == NULL || !json_object_is_type(val, json_type_boolean)) {
            return false;
        }
        m->delta_generation += json_object_get_boolean(val) ? 1 : 0;
        return true;
    }
    if (strcmp(key, "delta_forbidden") == 0) {
        if (val == NULL || !json_object_is_type(val, json_type_boolean)) {
            return false;
        }
        m->delta_forbidden = json_object_get_boolean(val);
        return true;
    }
    if (strcmp(key, "delta_page_size") == 0) {
        int64_t v = val != NULL && json_object_is_type(val, json_type_int)
                        ? json_object_get_int64(val)
                        : -1;

        if (v < 0 || v > 999) {
            return false;
        }
        m->delta_page_size = (long)v;
        return true;
    }
    if (strcmp(key, "member_of_page_size") == 0) {
        int64_t v = val != NULL && json_object_is_type(val, json_type_int)
                        ? json_object_get_int64(val)
                        : -1;

        if (v < 0 || v > 999) {
            return false;
        }
        m->member_of_page_size = (long)v;
        return true;
    }
    if (strcmp(key, "link_base") == 0) {
        const char *v = val != NULL && json_object_is_type(val, json_type_string)
                            ? json_object_get_string(val)
                            : NULL;

        if (v == NULL || strlen(v) >= sizeof(m->link_base) ||
            (v[0] != '\0' && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)) {
            return false;
        }
        snprintf(m->link_base, sizeof(m->link_base), "%s", v);
        return true;
    }
    if (strcmp(key, "delta_expired_status") == 0) {
        int v =
            val != NULL && json_object_is_type(val, json_type_int) ? json_object_get_int(val) : 0;

        if (v != 400 && v != 410) {
            return false;
        }
        m->delta_expired_status = v;
        return true;
    }
    return false;
}

void gs_model_json(const struct gs_model *m, json_object *obj)
{
    unsigned p = m->pim_forbidden;

    json_object_object_add(obj, "replica_lag", json_object_new_double(m->replica_lag));
    json_object_object_add(obj, "timeout_next_create",
                           json_object_new_double(m->timeout_next_create));
    json_object_object_add(obj, "timeout_next_send", json_object_new_double(m->timeout_next_send));
    json_object_object_add(obj, "delta_generation",
                           json_object_new_int64((int64_t)m->delta_generation));
    json_object_object_add(obj, "delta_page_size", json_object_new_int64(m->delta_page_size));
    json_object_object_add(obj, "delta_forbidden", json_object_new_boolean(m->delta_forbidden));
    json_object_object_add(obj, "member_of_page_size",
                           json_object_new_int64(m->member_of_page_size));
    json_object_object_add(obj, "delta_expired_status",
                           json_object_new_int(m->delta_expired_status == 410 ? 410 : 400));
    gs_json_add_str(obj, "link_base", m->link_base);
    gs_json_add_str(obj, "pim_forbidden",
                    p == 0                          ? "none"
                    : p == GS_MODEL_PIM_ELIGIBILITY ? "eligibility"
                    : p == GS_MODEL_PIM_ASSIGNMENT  ? "assignment"
                                                    : "all");
    gs_kit_model_json(&m->kit, obj);
}

/* Whether u was created so recently that, with replica lag, the replica answering does not
 * have it yet. NULL is not lagging. */
static bool lagging(const struct gs_ctx *ctx, const struct gs_user *u)
{
    return u != NULL && ctx->model != NULL && ctx->model->replica_lag > 0 && u->created_at > 0 &&
           gs_now_mono() - u->created_at < ctx->model->replica_lag;
}

/* Whether u's usageLocation changed so recently that the replica assignLicense reaches has the
 * old value. */
static bool location_lagging(const struct gs_ctx *ctx, const struct gs_user *u)
{
    return ctx->model != NULL && ctx->model->replica_lag > 0 && u->location_at > 0 &&
           gs_now_mono() - u->location_at < ctx->model->replica_lag;
}

/* A user by id or UPN as the replica answering sees it: NULL while it is lagging. */
static struct gs_user *visible_user(const struct gs_ctx *ctx, const char *key)
{
    struct gs_user *u = gs_tenant_user_find(ctx->tenant, key);

    return lagging(ctx, u) ? NULL : u;
}

/* }====== */

/* {====== query options and bodies ====== */

static const char *query_get(const struct gs_req *req, const char *key)
{
    for (size_t i = 0; i < req->nq; i++) {
        if (strcmp(req->q[i].key, key) == 0) {
            return req->q[i].value;
        }
    }
    return NULL;
}

/* Rejects repeated options and "$" options not in allowed (space separated). Options without a
 * "$" are custom query options, which OData ignores. */
static bool options_ok(const struct gs_ctx *ctx, const struct gs_req *req, struct gs_resp *resp,
                       const char *allowed)
{
    for (size_t i = 0; i < req->nq; i++) {
        const char *k = req->q[i].key;
        size_t len = strlen(k);
        const char *p = allowed;
        bool ok = false;

        for (size_t j = 0; j < i; j++) {
            if (strcmp(req->q[j].key, k) == 0) {
                gs_error(ctx, resp, 400, "BadRequest",
                         "Query option '%s' was specified more than once, but it must be "
                         "specified at most once.",
                         k);
                return false;
            }
        }
        if (k[0] != '$') {
            continue;
        }
        while ((p = strstr(p, k)) != NULL) {
            if ((p == allowed || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) {
                ok = true;
                break;
            }
            p += len;
        }
        if (!ok) {
            gs_error(ctx, resp, 400, "BadRequest", "The query parameter '%s' is not supported.", k);
            return false;
        }
    }
    return true;
}

/* Returns the request's JSON object body (borrowed from req), or NULL with resp set to the
 * error Graph gives for a missing, mistyped or malformed body. */
static json_object *body_object(const struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    char why[128];

    if (!req->has_body) {
        gs_error(ctx, resp, 400, "BadRequest", "Empty Payload. JSON content expected.");
        return NULL;
    }
    if (req->content_type == NULL || strncasecmp(req->content_type, "application/json", 16) != 0 ||
        (req->content_type[16] != '\0' && req->content_type[16] != ';' &&
         req->content_type[16] != ' ')) {
        gs_error(ctx, resp, 415, "UnsupportedMediaType",
                 "The content type '%s' is not supported. JSON bodies need "
                 "'Content-Type: application/json'.",
                 req->content_type ? req->content_type : "");
        return NULL;
    }
    if (req->json == NULL && req->body != NULL) {
        req->json = gs_json_parse(req->body, req->body_len, why, sizeof(why));
    }
    if (req->json == NULL || !json_object_is_type(req->json, json_type_object)) {
        gs_error(ctx, resp, 400, "BadRequest", MSG_BAD_JSON);
        return NULL;
    }
    return req->json;
}

/* Parses $top (default DEFAULT_TOP) and $skiptoken ("gs1." + hex, default 0). */
static bool page_params(const struct gs_ctx *ctx, const struct gs_req *req, struct gs_resp *resp,
                        long *top, uint64_t *skip)
{
    const char *t = query_get(req, "$top");
    const char *s = query_get(req, "$skiptoken");
    char *end = NULL;

    *top = DEFAULT_TOP;
    *skip = 0;
    if (t != NULL) {
        long v = strtol(t, &end, 10);

        if (t[0] == '\0' || *end != '\0' || !isdigit((unsigned char)t[0]) || v < 1 || v > MAX_TOP) {
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", t,
                     MAX_TOP);
            return false;
        }
        *top = v;
    }
    if (s != NULL) {
        unsigned long long v;

        if (strncmp(s, "gs1.", 4) != 0 || !isxdigit((unsigned char)s[4]) || strlen(s) > 20 ||
            (v = strtoull(s + 4, &end, 16), *end != '\0')) {
            gs_error(ctx, resp, 400, "Request_BadRequest", "Invalid skip token '%s'.", s);
            return false;
        }
        *skip = v;
    }
    return true;
}

/* Where links point: the link_base fault, else graphsim's own address. Borrowed. */
static const char *link_base(const struct gs_ctx *ctx)
{
    return ctx->model != NULL && ctx->model->link_base[0] ? ctx->model->link_base : ctx->base_url;
}

/* Adds @odata.nextLink to out: the request's own URL with $skiptoken replaced by token. */
static void next_link(const struct gs_ctx *ctx, const struct gs_req *req, json_object *out,
                      uint64_t token)
{
    size_t cap = strlen(link_base(ctx)) + strlen(req->path) + 64;
    char *url;
    size_t len;

    for (size_t i = 0; i < req->nq; i++) {
        cap += strlen(req->q[i].raw) + 1;
    }
    url = gs_xmalloc(cap);
    len = (size_t)snprintf(url, cap, "%s/v1.0%s?", link_base(ctx), req->path);
    for (size_t i = 0; i < req->nq; i++) {
        if (strcmp(req->q[i].key, "$skiptoken") != 0) {
            len += (size_t)snprintf(url + len, cap - len, "%s&", req->q[i].raw);
        }
    }
    snprintf(url + len, cap - len, "$skiptoken=gs1.%llx", (unsigned long long)token);
    json_object_object_add(out, "@odata.nextLink", json_object_new_string(url));
    free(url);
}

/* Parses $select against the user schema into sel (GS_U_COUNT slots); *nsel = 0 means none was
 * given. list receives the canonical names joined by commas, for @odata.context. */
static bool select_text(const struct gs_ctx *ctx, const char *s, struct gs_resp *resp, int *sel,
                        size_t *nsel, char *list, size_t listlen, bool *manager)
{
    char *copy, *save = NULL;
    size_t used = 0;

    *nsel = 0;
    list[0] = '\0';
    if (s == NULL || s[0] == '\0') {
        return true;
    }
    copy = gs_xstrdup(s);
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        int idx;
        bool dup = false;

        while (*tok == ' ') {
            tok++;
        }
        for (char *e = tok + strlen(tok); e > tok && e[-1] == ' ';) {
            *--e = '\0';
        }
        if (manager != NULL && strcasecmp(tok, "manager") == 0) {
            /* users/delta tracks the manager link (manager@delta) */
            if (!*manager) {
                used += (size_t)snprintf(list + used, used < listlen ? listlen - used : 0,
                                         "%smanager", used ? "," : "");
            }
            *manager = true;
            continue;
        }
        idx = gs_user_prop_index(tok, true);
        if (idx < 0) {
            gs_error(ctx, resp, 400, "BadRequest", MSG_NO_PROPERTY, tok, "microsoft.graph.user");
            free(copy);
            return false;
        }
        for (size_t i = 0; i < *nsel; i++) {
            dup = dup || sel[i] == idx;
        }
        if (!dup && *nsel < GS_U_COUNT) {
            sel[(*nsel)++] = idx;
            used += (size_t)snprintf(list + used, used < listlen ? listlen - used : 0, "%s%s",
                                     used ? "," : "", gs_user_props[idx].name);
        }
    }
    free(copy);
    return true;
}

static bool user_select(const struct gs_ctx *ctx, const struct gs_req *req, struct gs_resp *resp,
                        int *sel, size_t *nsel, char *list, size_t listlen)
{
    return select_text(ctx, query_get(req, "$select"), resp, sel, nsel, list, listlen, NULL);
}

/* }====== */

/* {====== $filter ====== */

enum op { OP_EQ, OP_NE, OP_GE, OP_LE, OP_GT, OP_LT, OP_IN };

static const char *const op_names[] = {"eq", "ne", "ge", "le", "gt", "lt", "in"};

#define IN_MAX 15 /* values in one "in (...)" list */

struct clause {
    char prop[64];
    char *value; /* NULL for the null literal */
    enum { LIT_STRING, LIT_BOOL, LIT_NULL, LIT_DATE } kind;
    bool boolean;
    enum op op;
    bool negate;       /* wrapped in not(...) */
    double when;       /* LIT_DATE: seconds since the epoch */
    double in[IN_MAX]; /* OP_IN: the date literals */
    size_t nin;
};

struct filter {
    struct clause c[8];
    size_t n;
};

static void filter_clear(struct filter *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->c[i].value);
    }
    f->n = 0;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ') {
        p++;
    }
    return p;
}

static bool word_is(const char *p, const char *w)
{
    size_t n = strlen(w);

    return strncasecmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == '\0' || p[n] == '(');
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long days_from_civil(long y, long m, long d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parses an OData DateTimeOffset ("2026-12-01T00:00:00Z", seconds, fractions and a +hh:mm
 * offset optional as gs_is_datetimeoffset allows) into seconds since the epoch. */
static bool parse_when(const char *s, double *out)
{
    long y, mo, d, h, mi;
    double sec = 0;
    const char *z;

    if (!gs_is_datetimeoffset(s)) {
        return false;
    }
    y = strtol(s, NULL, 10);
    mo = strtol(s + 5, NULL, 10);
    d = strtol(s + 8, NULL, 10);
    h = strtol(s + 11, NULL, 10);
    mi = strtol(s + 14, NULL, 10);
    z = s + 16;
    if (*z == ':') {
        char *end;

        sec = strtod(z + 1, &end);
        z = end;
    }
    *out = (double)days_from_civil(y, mo, d) * 86400 + (double)(h * 3600 + mi * 60) + sec;
    if (*z == '+' || *z == '-') {
        long off = strtol(z + 1, NULL, 10) * 3600 + strtol(z + 4, NULL, 10) * 60;

        *out -= *z == '+' ? (double)off : -(double)off;
    }
    return true;
}

/* Reads one literal at p into c ('text' with '' for a quote, true, false, null, or an unquoted
 * DateTimeOffset). Returns the position after it, or NULL when there is none. */
static const char *parse_literal(const char *p, struct clause *c, double *when)
{
    if (*p == '\'') {
        char *v = gs_xmalloc(strlen(p) + 1);
        size_t k = 0;

        for (p++;; p++) {
            if (*p == '\0') {
                free(v);
                return NULL;
            }
            if (*p == '\'' && p[1] == '\'') {
                v[k++] = '\'';
                p++;
            } else if (*p == '\'') {
                p++;
                break;
            } else {
                v[k++] = *p;
            }
        }
        v[k] = '\0';
        free(c->value);
        c->value = v;
        c->kind = LIT_STRING;
        return p;
    }
    if (word_is(p, "true") || word_is(p, "false")) {
        c->kind = LIT_BOOL;
        c->boolean = word_is(p, "true");
        return p + (c->boolean ? 4 : 5);
    }
    if (word_is(p, "null")) {
        c->kind = LIT_NULL;
        return p + 4;
    }
    if (isdigit((unsigned char)*p)) {
        size_t n = strspn(p, "0123456789-:.TZ+");
        char buf[48];

        if (n >= sizeof(buf)) {
            return NULL;
        }
        memcpy(buf, p, n);
        buf[n] = '\0';
        if (!parse_when(buf, when)) {
            return NULL;
        }
        c->kind = LIT_DATE;
        return p + n;
    }
    return NULL;
}

/* Parses "<prop> <op> <literal>" (op eq ne ge le gt lt, or "in (<literal>, ...)") at p into c;
 * returns the position after it, or NULL with resp set. */
static const char *parse_comparison(const struct gs_ctx *ctx, const char *text, const char *p,
                                    struct clause *c, struct gs_resp *resp)
{
    size_t n = 0;
    bool found = false;

    while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '/') {
        n++;
    }
    if (n == 0 || n >= sizeof(c->prop)) {
        gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
        return NULL;
    }
    memcpy(c->prop, p, n);
    c->prop[n] = '\0';
    if (p[n] == '(' || strchr(c->prop, '/') != NULL) {
        gs_error(ctx, resp, 400, "Request_UnsupportedQuery", "Unsupported Query.");
        return NULL;
    }
    p = skip_ws(p + n);
    for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
        if (word_is(p, op_names[i])) {
            c->op = (enum op)i;
            found = true;
            break;
        }
    }
    if (!found) {
        if (word_is(p, "has")) {
            gs_error(ctx, resp, 400, "Request_UnsupportedQuery", "Unsupported Query.");
        } else {
            gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
        }
        return NULL;
    }
    p = skip_ws(p + 2);
    if (c->op == OP_IN) {
        if (*p != '(') {
            gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
            return NULL;
        }
        p = skip_ws(p + 1);
        for (;;) {
            double when = 0;

            if (c->nin == IN_MAX) {
                gs_error(ctx, resp, 400, "Request_UnsupportedQuery", "Unsupported Query.");
                return NULL;
            }
            p = parse_literal(p, c, &when);
            if (p == NULL) {
                gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
                return NULL;
            }
            c->in[c->nin++] = when;
            p = skip_ws(p);
            if (*p == ')') {
                return p + 1;
            }
            if (*p != ',') {
                gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
                return NULL;
            }
            p = skip_ws(p + 1);
        }
    }
    if (*p == '\'' && strchr(p + 1, '\'') == NULL) {
        gs_error(ctx, resp, 400, "BadRequest",
                 "Invalid filter clause: unterminated string literal in '%s'.", text);
        return NULL;
    }
    p = parse_literal(p, c, &c->when);
    if (p == NULL) {
        gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
    }
    return p;
}

/* Parses "<comparison> [and ...]" where a comparison may be wrapped in not(...) and groups of
 * them in parentheses (harmless with `and` alone, and how clients AND a condition of their
 * own into a filter: "a ge X and (department eq 'Sales')"). Operators and
 * properties are checked afterwards (clause_ok); or and functions are reported as unsupported
 * queries, anything else as a syntax error. */
static bool filter_parse(const struct gs_ctx *ctx, const char *text, struct filter *f,
                         struct gs_resp *resp)
{
    const char *p = skip_ws(text);
    int depth = 0; /* parentheses open around groups of clauses */

    memset(f, 0, sizeof(*f));
    if (*p == '\0') {
        gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: the filter is empty.");
        return false;
    }
    while (*p != '\0') {
        struct clause *c;

        if (f->n == sizeof(f->c) / sizeof(f->c[0])) {
            gs_error(ctx, resp, 400, "Request_UnsupportedQuery", "Unsupported Query.");
            goto err;
        }
        c = &f->c[f->n++];
        while (*p == '(') { /* a group: with `and` alone, (a and b) and c is a and b and c */
            depth++;
            p = skip_ws(p + 1);
        }
        if (strncasecmp(p, "not", 3) == 0 && (p[3] == '(' || p[3] == ' ') &&
            *skip_ws(p + 3) == '(') {
            c->negate = true;
            p = skip_ws(skip_ws(p + 3) + 1);
        }
        p = parse_comparison(ctx, text, p, c, resp);
        if (p == NULL) {
            goto err;
        }
        p = skip_ws(p);
        if (c->negate) {
            if (*p != ')') {
                gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
                goto err;
            }
            p = skip_ws(p + 1);
        }
        while (*p == ')' && depth > 0) {
            depth--;
            p = skip_ws(p + 1);
        }
        if (*p == '\0') {
            break;
        }
        if (!word_is(p, "and")) {
            if (word_is(p, "or")) {
                gs_error(ctx, resp, 400, "Request_UnsupportedQuery", "Unsupported Query.");
            } else {
                gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
            }
            goto err;
        }
        p = skip_ws(p + 3);
        if (*p == '\0') {
            gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
            goto err;
        }
    }
    if (depth != 0) {
        gs_error(ctx, resp, 400, "BadRequest", "Invalid filter clause: '%s'.", text);
        goto err;
    }
    return true;

err:
    filter_clear(f);
    return false;
}

/* Checks a clause's property against the names a resource supports in $filter; string
 * properties need a string (or null) literal. Only eq is supported on them. */
static bool clause_ok(const struct gs_ctx *ctx, struct gs_resp *resp, const struct clause *c,
                      const char *const *string_props, const char *const *bool_props,
                      const char *resource)
{
    if (c->op != OP_EQ || c->negate) {
        gs_error(ctx, resp, 400, "Request_UnsupportedQuery", "Unsupported Query.");
        return false;
    }
    for (const char *const *s = string_props; *s; s++) {
        if (strcasecmp(*s, c->prop) == 0) {
            if (c->kind == LIT_BOOL || c->kind == LIT_DATE) {
                gs_error(ctx, resp, 400, "BadRequest",
                         "A binary operator with incompatible types was detected. Found operand "
                         "types 'Edm.String' and '%s' for operator kind 'Equal'.",
                         c->kind == LIT_BOOL ? "Edm.Boolean" : "Edm.DateTimeOffset");
                return false;
            }
            return true;
        }
    }
    for (const char *const *s = bool_props; s != NULL && *s; s++) {
        if (strcasecmp(*s, c->prop) == 0) {
            if (c->kind != LIT_BOOL) {
                gs_error(ctx, resp, 400, "BadRequest",
                         "A binary operator with incompatible types was detected. Found operand "
                         "types 'Edm.Boolean' and '%s' for operator kind 'Equal'.",
                         c->kind == LIT_DATE ? "Edm.DateTimeOffset" : "Edm.String");
                return false;
            }
            return true;
        }
    }
    gs_error(ctx, resp, 400, "Request_UnsupportedQuery",
             "Unsupported or invalid query filter clause specified for property '%s' of "
             "resource '%s'.",
             c->prop, resource);
    return false;
}

/* OData's name for an operator in Graph's type-mismatch message. */
static const char *op_kind(enum op op)
{
    static const char *const kinds[] = {
        "Equal",    "NotEqual", "GreaterThanOrEqual", "LessThanOrEqual", "GreaterThan",
        "LessThan", "In"};

    return kinds[op];
}

/* Checks a clause on a DateTimeOffset property (employeeHireDate, employeeLeaveDateTime,
 * createdDateTime): Graph documents eq, ne, not, ge, le and in for them (GRAPH.md section 10),
 * never gt or lt, and the literal must be an unquoted DateTimeOffset or null (eq/ne only). */
static bool date_clause_ok(const struct gs_ctx *ctx, struct gs_resp *resp, const struct clause *c,
                           const char *resource)
{
    if (c->op == OP_GT || c->op == OP_LT) {
        gs_error(ctx, resp, 400, "Request_UnsupportedQuery",
                 "Unsupported or invalid query filter clause specified for property '%s' of "
                 "resource '%s'.",
                 c->prop, resource);
        return false;
    }
    if (c->op == OP_IN) {
        if (c->kind != LIT_DATE) {
            gs_error(ctx, resp, 400, "BadRequest",
                     "A binary operator with incompatible types was detected. Found operand "
                     "types 'Edm.DateTimeOffset' and '%s' for operator kind 'In'.",
                     c->kind == LIT_BOOL ? "Edm.Boolean" : "Edm.String");
            return false;
        }
        return true;
    }
    if (c->kind == LIT_DATE || (c->kind == LIT_NULL && (c->op == OP_EQ || c->op == OP_NE))) {
        return true;
    }
    gs_error(ctx, resp, 400, "BadRequest",
             "A binary operator with incompatible types was detected. Found operand types "
             "'Edm.DateTimeOffset' and '%s' for operator kind '%s'.",
             c->kind == LIT_BOOL   ? "Edm.Boolean"
             : c->kind == LIT_NULL ? "null"
                                   : "Edm.String",
             op_kind(c->op));
    return false;
}

/* Whether a date clause holds for a stored value (NULL = unset; else an ISO string). */
static bool date_matches(json_object *v, const struct clause *c)
{
    double when = 0;
    bool have = v != NULL && json_object_is_type(v, json_type_string) &&
                parse_when(json_object_get_string(v), &when);
    bool r;

    if (c->kind == LIT_NULL) {
        r = c->op == OP_EQ ? !have : have;
    } else if (c->op == OP_IN) {
        r = false;
        for (size_t i = 0; have && i < c->nin; i++) {
            r = r || when == c->in[i];
        }
    } else if (!have) {
        r = c->op == OP_NE;
    } else {
        switch (c->op) {
        case OP_EQ:
            r = when == c->when;
            break;
        case OP_NE:
            r = when != c->when;
            break;
        case OP_GE:
            r = when >= c->when;
            break;
        default: /* OP_LE; gt and lt never get here */
            r = when <= c->when;
            break;
        }
    }
    return c->negate ? !r : r;
}

/* Returns whether a JSON value (NULL = null/unset) satisfies clause c. */
static bool value_matches(json_object *v, const struct clause *c)
{
    switch (c->kind) {
    case LIT_NULL:
        return v == NULL;
    case LIT_BOOL:
        return v != NULL && json_object_is_type(v, json_type_boolean) &&
               (bool)json_object_get_boolean(v) == c->boolean;
    case LIT_DATE:
        return date_matches(v, c);
    default:
        return v != NULL && json_object_is_type(v, json_type_string) &&
               strcasecmp(json_object_get_string(v), c->value) == 0;
    }
}

/* Returns whether object o matches every clause (property names case-insensitive). */
static bool object_matches(json_object *o, const struct filter *f)
{
    for (size_t i = 0; i < f->n; i++) {
        json_object *v = NULL;
        bool found = false;

        json_object_object_foreach(o, key, val)
        {
            if (strcasecmp(key, f->c[i].prop) == 0) {
                v = val;
                found = true;
                break;
            }
        }
        if (!found || !value_matches(v, &f->c[i])) {
            return false;
        }
    }
    return true;
}

/* }====== */

/* {====== generic lists ====== */

/* Answers a list from an array of candidate objects (taking ownership of items): applies $top,
 * the offset in $skiptoken and adds @odata.nextLink when more remain. */
static void list_reply(const struct gs_ctx *ctx, const struct gs_req *req, struct gs_resp *resp,
                       const char *context, json_object *items, long top, uint64_t skip)
{
    json_object *out = with_context(context);
    json_object *value = json_object_new_array();
    size_t n = json_object_array_length(items);

    for (size_t i = skip; i < n && i < skip + (size_t)top; i++) {
        json_object_array_add(value, json_object_get(json_object_array_get_idx(items, i)));
    }
    if (skip + (size_t)top < n) {
        next_link(ctx, req, out, skip + (uint64_t)top);
    }
    json_object_object_add(out, "value", value);
    json_object_put(items);
    set_body(resp, 200, out);
}

/* Keeps only the $select-ed top-level members of *o (names matched case-insensitively against
 * known, the entity's property names). Returns false with a 400 for an unknown name; *o is then
 * released and set to NULL. */
static bool select_members(const struct gs_ctx *ctx, struct gs_resp *resp, const char *sel,
                           const char *const *known, const char *type, json_object **o)
{
    json_object *out;
    char *copy, *save = NULL;

    if (sel == NULL || sel[0] == '\0') {
        return true;
    }
    out = json_object_new_object();
    copy = gs_xstrdup(sel);
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        const char *const *k = known;
        json_object *v = NULL;

        while (*tok == ' ') {
            tok++;
        }
        for (; *k && strcasecmp(*k, tok) != 0; k++) {
        }
        if (*k == NULL) {
            gs_error(ctx, resp, 400, "BadRequest", MSG_NO_PROPERTY, tok, type);
            free(copy);
            json_object_put(out);
            json_object_put(*o);
            *o = NULL;
            return false;
        }
        json_object_object_get_ex(*o, *k, &v);
        json_object_object_add(out, *k, json_object_get(v));
    }
    free(copy);
    json_object_object_foreach(*o, key, val)
    {
        if (key[0] == '@') {
            json_object_object_add(out, key, json_object_get(val));
        }
    }
    json_object_put(*o);
    *o = out;
    return true;
}

/* }====== */

/* {====== users ====== */

static const char *const user_filter_strings[] = {"id",
                                                  "userPrincipalName",
                                                  "mail",
                                                  "employeeId",
                                                  "displayName",
                                                  "givenName",
                                                  "surname",
                                                  "jobTitle",
                                                  "department",
                                                  "mailNickname",
                                                  "usageLocation",
                                                  "userType",
                                                  "employeeType",
                                                  "companyName",
                                                  "city",
                                                  "country",
                                                  "state",
                                                  "officeLocation",
                                                  NULL};
static const char *const user_filter_bools[] = {"accountEnabled", NULL};
/* DateTimeOffset properties with eq ne not ge le in (advanced queries, GRAPH.md section 10). */
static const char *const user_filter_dates[] = {"employeeHireDate", "employeeLeaveDateTime",
                                                "createdDateTime", NULL};

static bool is_date_prop(const char *name)
{
    for (const char *const *d = user_filter_dates; *d; d++) {
        if (strcasecmp(*d, name) == 0) {
            return true;
        }
    }
    return false;
}

static json_object *user_entity(const struct gs_user *u, const int *sel, size_t nsel,
                                const char *context, const char *odata_type)
{
    json_object *o = json_object_new_object();
    json_object *p;

    if (context != NULL) {
        json_object_object_add(o, "@odata.context", json_object_new_string(context));
    }
    if (odata_type != NULL) {
        json_object_object_add(o, "@odata.type", json_object_new_string(odata_type));
    }
    if (nsel == 0) {
        sel = gs_user_default_select;
        nsel = gs_user_default_select_count;
    }
    p = gs_user_project(u, sel, nsel);
    json_object_object_foreach(p, key, val)
    {
        json_object_object_add(o, key, json_object_get(val));
    }
    json_object_put(p);
    return o;
}

static bool user_matches(const struct gs_user *u, const struct filter *f)
{
    for (size_t i = 0; i < f->n; i++) {
        int idx = gs_user_prop_index(f->c[i].prop, true);

        if (idx < 0) {
            return false;
        }
        if (is_date_prop(f->c[i].prop) ? !date_matches(u->v[idx], &f->c[i])
                                       : !value_matches(u->v[idx], &f->c[i])) {
            return false;
        }
    }
    return true;
}

static int seq_cmp(const void *a, const void *b)
{
    const struct gs_user *x = *(struct gs_user *const *)a;
    const struct gs_user *y = *(struct gs_user *const *)b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Collects the users an indexed clause (id, UPN, mail, employeeId) can match, sorted by seq.
 * Returns false when no clause is indexed (the caller scans). */
static bool indexed_candidates(struct gs_tenant *t, const struct filter *f, struct gs_user ***out,
                               size_t *n)
{
    for (size_t i = 0; i < f->n; i++) {
        struct gs_map *m = NULL;
        const void *cur = NULL;
        struct gs_user *u;
        size_t cap = 0;

        if (f->c[i].kind != LIT_STRING) {
            continue;
        }
        if (strcasecmp(f->c[i].prop, "id") == 0) {
            m = t->by_id;
        } else if (strcasecmp(f->c[i].prop, "userPrincipalName") == 0) {
            m = t->by_upn;
        } else if (strcasecmp(f->c[i].prop, "mail") == 0) {
            m = t->by_mail;
        } else if (strcasecmp(f->c[i].prop, "employeeId") == 0) {
            m = t->by_employee_id;
        } else {
            continue;
        }
        *out = NULL;
        *n = 0;
        while ((u = gs_map_next(m, f->c[i].value, &cur)) != NULL) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                *out = gs_xrealloc(*out, cap * sizeof(**out));
            }
            (*out)[(*n)++] = u;
        }
        if (*n > 1) {
            qsort(*out, *n, sizeof(**out), seq_cmp);
        }
        return true;
    }
    return false;
}

/* Whether the request carries "ConsistencyLevel: eventual". */
static bool eventual(const struct gs_req *req)
{
    return req->consistency != NULL && strcasecmp(req->consistency, "eventual") == 0;
}

/* Checks $count (true or false) and, for an advanced query (adv_op names its first advanced
 * operator, or NULL), the ConsistencyLevel header and $count=true Graph requires (GRAPH.md
 * section 10; the messages are Graph's, as seen on the wire). *count says whether to answer
 * @odata.count. */
static bool advanced_ok(const struct gs_ctx *ctx, const struct gs_req *req, struct gs_resp *resp,
                        const char *adv_op, bool *count)
{
    const char *c = query_get(req, "$count");

    *count = false;
    if (c != NULL) {
        if (strcasecmp(c, "true") != 0 && strcasecmp(c, "false") != 0) {
            gs_error(ctx, resp, 400, "BadRequest",
                     "Invalid value '%s' for $count query option found. The $count query option "
                     "requires a Boolean value.",
                     c);
            return false;
        }
        *count = strcasecmp(c, "true") == 0;
    }
    if (adv_op != NULL && !eventual(req)) {
        gs_error(ctx, resp, 400, "Request_UnsupportedQuery",
                 "Operator '%s' is not supported because the 'ConsistencyLevel:eventual' header "
                 "is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more "
                 "information",
                 adv_op);
        return false;
    }
    if (adv_op != NULL && !*count) {
        gs_error(ctx, resp, 400, "Request_UnsupportedQuery",
                 "Operator '%s' is not supported because the required parameters might be "
                 "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual "
                 "header. Refer to https://aka.ms/graph-docs/advanced-queries for more "
                 "information",
                 adv_op);
        return false;
    }
    if (*count && !eventual(req)) {
        gs_error(ctx, resp, 400, "Request_BadRequest", "$count is not currently supported.");
        return false;
    }
    return true;
}

static void users_list(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    struct gs_tenant *t = ctx->tenant;
    int sel[GS_U_COUNT];
    size_t nsel, ncand = 0, start;
    char list[2048], context[2200];
    struct filter f = {0};
    struct gs_user **cand = NULL;
    bool indexed, count;
    const char *ftext = query_get(req, "$filter");
    const char *adv_op = NULL;
    json_object *out, *value;
    long top, taken = 0, total = 0;
    uint64_t skip;

    if (!options_ok(ctx, req, resp, "$select $filter $top $skiptoken $count") ||
        !user_select(ctx, req, resp, sel, &nsel, list, sizeof(list)) ||
        !page_params(ctx, req, resp, &top, &skip)) {
        return;
    }
    if (ftext != NULL) {
        if (!filter_parse(ctx, ftext, &f, resp)) {
            return;
        }
        for (size_t i = 0; i < f.n; i++) {
            struct clause *c = &f.c[i];

            if (is_date_prop(c->prop)) {
                if (!date_clause_ok(ctx, resp, c, "User")) {
                    goto err;
                }
                if (adv_op == NULL) {
                    adv_op = c->negate ? "not" : op_names[c->op];
                }
            } else if (!clause_ok(ctx, resp, c, user_filter_strings, user_filter_bools, "User")) {
                goto err;
            }
        }
    }
    if (!advanced_ok(ctx, req, resp, adv_op, &count)) {
        goto err;
    }
    snprintf(context, sizeof(context), CTX_BASE "users%s%s%s", nsel ? "(" : "", list,
             nsel ? ")" : "");
    out = with_context(context);
    value = json_object_new_array();
    indexed = indexed_candidates(t, &f, &cand, &ncand);
    if (indexed) {
        size_t i = 0;

        for (; i < ncand && cand[i]->seq < skip; i++) {
        }
        for (; i < ncand; i++) {
            if (!user_matches(cand[i], &f) || lagging(ctx, cand[i])) {
                continue;
            }
            if (taken == top) {
                next_link(ctx, req, out, cand[i]->seq);
                break;
            }
            json_object_array_add(value, user_entity(cand[i], sel, nsel, NULL, NULL));
            taken++;
        }
    } else {
        for (start = gs_tenant_user_pos(t, skip); start < t->nusers; start++) {
            struct gs_user *u = t->users[start];

            if (!user_matches(u, &f) || lagging(ctx, u)) {
                continue;
            }
            if (taken == top) {
                next_link(ctx, req, out, u->seq);
                break;
            }
            json_object_array_add(value, user_entity(u, sel, nsel, NULL, NULL));
            taken++;
        }
    }
    for (size_t k = 0;
         count && query_get(req, "$skiptoken") == NULL && k < (indexed ? ncand : t->nusers); k++) {
        struct gs_user *u = indexed ? cand[k] : t->users[k];

        total += user_matches(u, &f) && !lagging(ctx, u);
    }
    if (count && query_get(req, "$skiptoken") == NULL) {
        /* @odata.count comes on the first page only (GRAPH.md section 10). */
        json_object_object_add(out, "@odata.count", json_object_new_int64(total));
    }
    json_object_object_add(out, "value", value);
    set_body(resp, 200, out);
err:
    free(cand);
    filter_clear(&f);
}

/* GET /users/$count: the number of users (matching $filter, as /users reads it), as text/plain.
 * Graph counts only with `ConsistencyLevel: eventual`; without it 400 Request_BadRequest "Count
 * is not currently supported." (graphsim's reading of Graph; UNCONFIRMED on the wire). */
static void users_count(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    struct gs_tenant *t = ctx->tenant;
    struct filter f = {0};
    const char *ftext = query_get(req, "$filter");
    long total = 0;

    if (!options_ok(ctx, req, resp, "$filter")) {
        return;
    }
    if (!eventual(req)) {
        gs_error(ctx, resp, 400, "Request_BadRequest", "Count is not currently supported.");
        return;
    }
    if (ftext != NULL) {
        if (!filter_parse(ctx, ftext, &f, resp)) {
            return;
        }
        for (size_t i = 0; i < f.n; i++) {
            struct clause *c = &f.c[i];
            bool ok = is_date_prop(c->prop)
                          ? date_clause_ok(ctx, resp, c, "User")
                          : clause_ok(ctx, resp, c, user_filter_strings, user_filter_bools, "User");

            if (!ok) {
                filter_clear(&f);
                return;
            }
        }
    }
    gs_tenant_compact(t); /* no deleted slots */
    for (size_t k = 0; k < t->nusers; k++) {
        total += user_matches(t->users[k], &f) && !lagging(ctx, t->users[k]);
    }
    filter_clear(&f);
    json_object_put(resp->body);
    resp->body = NULL;
    free(resp->text);
    resp->text = gs_xasprintf("%ld", total);
    resp->status = 200;
}

static void user_get(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                     struct gs_user *u)
{
    int sel[GS_U_COUNT];
    size_t nsel;
    char list[2048], context[2200];

    if (!options_ok(ctx, req, resp, "$select") ||
        !user_select(ctx, req, resp, sel, &nsel, list, sizeof(list))) {
        return;
    }
    snprintf(context, sizeof(context), CTX_BASE "users%s%s%s/$entity", nsel ? "(" : "", list,
             nsel ? ")" : "");
    set_body(resp, 200, user_entity(u, sel, nsel, context, NULL));
}

static bool upn_chars_ok(const char *upn)
{
    const char *at = strchr(upn, '@');

    if (at == NULL || at == upn || strchr(at + 1, '@') != NULL || at[1] == '\0') {
        return false;
    }
    for (const char *p = upn; p < at; p++) {
        if (!isalnum((unsigned char)*p) && strchr("'.-_!#^~", *p) == NULL) {
            return false;
        }
    }
    return upn[0] != '.' && at[-1] != '.';
}

/* Graph's default password policy: at least 8 characters from at least three of upper case,
 * lower case, digits and symbols. */
static bool password_ok(const char *pw)
{
    int upper = 0, lower = 0, digit = 0, other = 0;

    for (const char *p = pw; *p; p++) {
        if (isupper((unsigned char)*p)) {
            upper = 1;
        } else if (islower((unsigned char)*p)) {
            lower = 1;
        } else if (isdigit((unsigned char)*p)) {
            digit = 1;
        } else {
            other = 1;
        }
    }
    return strlen(pw) >= 8 && strlen(pw) <= 256 && upper + lower + digit + other >= 3;
}

/* Validates every member of body as a user write (create when u is NULL). On success returns
 * true and leaves the values for apply_user_props; otherwise sets resp. */
static bool check_user_props(struct gs_ctx *ctx, struct gs_resp *resp, json_object *body,
                             const struct gs_user *u)
{
    struct gs_tenant *t = ctx->tenant;
    char why[128];

    json_object_object_foreach(body, key, val)
    {
        int idx = gs_user_prop_index(key, false);
        const struct gs_prop *p;
        const char *s =
            val && json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;

        if (strcmp(key, "@odata.type") == 0 && s != NULL &&
            strcmp(s, "#microsoft.graph.user") == 0) {
            continue;
        }
        if (idx < 0) {
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     gs_user_is_navigation(key) ? MSG_READ_ONLY : MSG_UNKNOWN_PROP, key);
            return false;
        }
        p = &gs_user_props[idx];
        if (p->access != GS_ACCESS_APP_WRITABLE) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_READ_ONLY, key);
            return false;
        }
        if (idx == GS_U_DISPLAY_NAME && (val == NULL || (s != NULL && s[0] == '\0'))) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_REQUIRED, key, "User");
            return false;
        }
        if (!gs_prop_check(p, val, why, sizeof(why))) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, why[0] ? why : key,
                     "User");
            return false;
        }
        switch (idx) {
        case GS_U_BUSINESS_PHONES:
            if (json_object_array_length(val) > 1) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, "User");
                return false;
            }
            break;
        case GS_U_EMPLOYEE_ID:
            if (s != NULL && strlen(s) > 16) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, "User");
                return false;
            }
            break;
        case GS_U_COMPANY_NAME:
            if (s != NULL && strlen(s) > 64) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, "User");
                return false;
            }
            break;
        case GS_U_USAGE_LOCATION:
            /* Not nullable in practice; a two-letter ISO 3166 code. */
            if (s == NULL || strlen(s) != 2 || !isalpha((unsigned char)s[0]) ||
                !isalpha((unsigned char)s[1])) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, "User");
                return false;
            }
            break;
        case GS_U_MAIL_NICKNAME:
            if (s == NULL || s[0] == '\0' || strlen(s) > 64 || strpbrk(s, " @\"\\()<>,;:[]") ||
                (unsigned char)s[0] >= 0x80) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, "User");
                return false;
            }
            break;
        case GS_U_ACCOUNT_ENABLED:
            if (val == NULL) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, "User");
                return false;
            }
            break;
        case GS_U_USER_PRINCIPAL_NAME: {
            const struct gs_user *o;

            if (s == NULL || !upn_chars_ok(s)) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, "User");
                return false;
            }
            if (!gs_tenant_has_domain(t, strchr(s, '@') + 1)) {
                gs_error(ctx, resp, 400, "Request_BadRequest",
                         "The domain portion of the userPrincipalName property is invalid. You "
                         "must use one of the verified domain names in your organization.");
                return false;
            }
            o = gs_map_get(t->by_upn, s);
            if (o != NULL && o != u) {
                gs_error(ctx, resp, 400, "Request_BadRequest",
                         "Another object with the same value for property userPrincipalName "
                         "already exists.");
                return false;
            }
            break;
        }
        case GS_U_MAIL: {
            const void *cur = NULL;
            const struct gs_user *o;

            while (s != NULL && (o = gs_map_next(t->by_mail, s, &cur)) != NULL) {
                if (o != u) {
                    gs_error(ctx, resp, 400, "Request_BadRequest",
                             "Another object with the same value for property proxyAddresses "
                             "already exists.");
                    return false;
                }
            }
            break;
        }
        case GS_U_PASSWORD_PROFILE: {
            const char *pw = val ? gs_json_get_str(val, "password") : NULL;

            if (val != NULL && json_object_object_get_ex(val, "password", NULL) &&
                (pw == NULL || pw[0] == '\0')) {
                gs_error(ctx, resp, 400, "Request_BadRequest",
                         "Property passwordProfile.password value is required but is empty or "
                         "missing.");
                return false;
            }
            if (pw != NULL && !password_ok(pw)) {
                gs_error(ctx, resp, 400, "Request_BadRequest",
                         "The specified password does not comply with password complexity "
                         "requirements. Please provide a different password.");
                return false;
            }
            break;
        }
        default:
            break;
        }
    }
    return true;
}

static void apply_user_props(struct gs_tenant *t, struct gs_user *u, json_object *body)
{
    json_object_object_foreach(body, key, val)
    {
        int idx = gs_user_prop_index(key, false);
        json_object *v = json_object_get(val);

        if (idx < 0) {
            json_object_put(v);
            continue; /* "@odata.type" */
        }
        if (idx == GS_U_USAGE_LOCATION) {
            char cc[3];

            cc[0] = (char)toupper((unsigned char)json_object_get_string(val)[0]);
            cc[1] = (char)toupper((unsigned char)json_object_get_string(val)[1]);
            cc[2] = '\0';
            json_object_put(v);
            v = json_object_new_string(cc);
            if (!json_object_equal(v, u->v[idx])) {
                u->location_at = gs_now_mono(); /* see location_lagging */
            }
        }
        if (u->seq != 0) {
            gs_tenant_user_set(t, u, idx, v);
        } else {
            json_object_put(u->v[idx]);
            u->v[idx] = v;
        }
    }
}

static void user_create(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    static const char *const required[] = {"accountEnabled",    "displayName",     "mailNickname",
                                           "userPrincipalName", "passwordProfile", NULL};
    json_object *body;
    struct gs_user *u;
    char id[37], now[32];

    if (!options_ok(ctx, req, resp, "") || (body = body_object(ctx, req, resp)) == NULL ||
        !check_user_props(ctx, resp, body, NULL)) {
        return;
    }
    for (const char *const *r = required; *r; r++) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(body, *r, &v) || v == NULL) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_REQUIRED, *r, "User");
            return;
        }
    }
    if (gs_json_get_str(json_object_object_get(body, "passwordProfile"), "password") == NULL) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "Property passwordProfile.password value is required but is empty or missing.");
        return;
    }
    u = gs_user_new();
    apply_user_props(ctx->tenant, u, body);
    do {
        gs_guid_new(id);
    } while (gs_tenant_user_by_id(ctx->tenant, id) != NULL);
    u->v[GS_U_ID] = json_object_new_string(id);
    gs_time_format(now, gs_now_wall(), true);
    u->v[GS_U_CREATED_DATE_TIME] = json_object_new_string(now);
    u->created_at = gs_now_mono(); /* see lagging */
    gs_user_defaults(ctx->tenant, u);
    gs_tenant_user_insert(ctx->tenant, u);
    set_body(resp, 201, user_entity(u, NULL, 0, CTX_BASE "users/$entity", NULL));
}

/* Built-in roles whose holders an application with User.ReadWrite.All cannot manage. */
static bool holds_privileged_role(const struct gs_tenant *t, const struct gs_user *u)
{
    static const char *const privileged[] = {
        "62e90394-69f5-4237-9190-012177145e10", /* Global Administrator */
        "e8611ab8-c189-46e8-94e1-60213ab1f814", /* Privileged Role Administrator */
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", /* Privileged Authentication Administrator */
        NULL,
    };
    const char *uid = json_object_get_string(u->v[GS_U_ID]);
    for (size_t i = 0; uid && i < t->nassignments; i++) {
        const struct gs_role_assignment *a = t->assignments[i];
        if (!a || !a->principal_id || strcasecmp(a->principal_id, uid) != 0) {
            continue;
        }
        for (size_t r = 0; r < t->nroles; r++) {
            const struct gs_role_def *d = &t->roles[r];
            if (strcasecmp(d->id, a->role_definition_id) != 0) {
                continue;
            }
            for (size_t k = 0; privileged[k]; k++) {
                if (d->template_id && strcasecmp(d->template_id, privileged[k]) == 0) {
                    return true;
                }
            }
        }
    }
    return false;
}

static void user_patch(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                       struct gs_user *u)
{
    json_object *body;
    static const char *const guarded[] = {"businessPhones", "mobilePhone", "otherMails",
                                          "accountEnabled", NULL};

    if (!options_ok(ctx, req, resp, "") || (body = body_object(ctx, req, resp)) == NULL ||
        !check_user_props(ctx, resp, body, u)) {
        return;
    }
    /* GRAPH.md §2: these properties of a user holding a privileged admin role cannot be
       changed by an application with User.ReadWrite.All. */
    for (size_t i = 0; guarded[i]; i++) {
        if (json_object_object_get_ex(body, guarded[i], NULL) &&
            holds_privileged_role(ctx->tenant, u)) {
            gs_error(ctx, resp, 403, "Authorization_RequestDenied",
                     "Insufficient privileges to complete the operation.");
            return;
        }
    }
    apply_user_props(ctx->tenant, u, body);
    resp->status = 204;
}

static void user_delete(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                        struct gs_user *u)
{
    if (!options_ok(ctx, req, resp, "")) {
        return;
    }
    gs_tenant_user_delete(ctx->tenant, u);
    resp->status = 204;
}

/* }====== */

/* {====== licenses ====== */

static json_object *find_license(json_object *arr, const char *sku_id, size_t *pos)
{
    for (size_t i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
        json_object *l = json_object_array_get_idx(arr, i);
        const char *s = gs_json_get_str(l, "skuId");

        if (s != NULL && strcasecmp(s, sku_id) == 0) {
            if (pos != NULL) {
                *pos = i;
            }
            return l;
        }
    }
    return NULL;
}

static bool plan_known(const struct gs_sku *s, const char *plan)
{
    json_object *plans = json_object_object_get(s->obj, "servicePlans");
    size_t n = plans ? json_object_array_length(plans) : 0;

    if (n == 0) {
        return true; /* the seed lists no plans: nothing to check against */
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = gs_json_get_str(json_object_array_get_idx(plans, i), "servicePlanId");

        if (id != NULL && strcasecmp(id, plan) == 0) {
            return true;
        }
    }
    return false;
}

static bool check_licenses(struct gs_ctx *ctx, struct gs_resp *resp, struct gs_user *u,
                           json_object *add, json_object *remove)
{
    struct gs_tenant *t = ctx->tenant;
    char why[128];

    for (size_t i = 0; i < json_object_array_length(add); i++) {
        json_object *l = json_object_array_get_idx(add, i);

        if (l == NULL || !json_object_is_type(l, json_type_object) ||
            gs_json_get_str(l, "skuId") == NULL) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "addLicenses",
                     "User");
            return false;
        }
        json_object_object_foreach(l, key, val)
        {
            const struct gs_complex *cx = &gs_complex_assigned_license;
            const struct gs_prop *m = NULL;

            for (size_t k = 0; k < cx->nprops; k++) {
                if (strcmp(cx->props[k].name, key) == 0) {
                    m = &cx->props[k];
                }
            }
            if (m == NULL || !gs_prop_check(m, val, why, sizeof(why))) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key,
                         "AssignedLicense");
                return false;
            }
        }
    }
    for (size_t i = 0; i < json_object_array_length(remove); i++) {
        json_object *r = json_object_array_get_idx(remove, i);

        if (r == NULL || !json_object_is_type(r, json_type_string) ||
            !gs_is_guid(json_object_get_string(r))) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "removeLicenses",
                     "User");
            return false;
        }
    }
    /* With replica lag, the replica that assigns still has the location from before. */
    if (json_object_array_length(add) > 0 &&
        (u->v[GS_U_USAGE_LOCATION] == NULL || location_lagging(ctx, u))) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "License assignment cannot be done for user with invalid usage location.");
        return false;
    }
    for (size_t i = 0; i < json_object_array_length(add); i++) {
        json_object *l = json_object_array_get_idx(add, i);
        const char *sku_id = gs_json_get_str(l, "skuId");
        struct gs_sku *s = gs_tenant_sku(t, sku_id);
        json_object *plans = json_object_object_get(l, "disabledPlans");

        if (s == NULL) {
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     "License %s does not correspond to a valid company License.", sku_id);
            return false;
        }
        for (size_t k = 0; plans != NULL && k < json_object_array_length(plans); k++) {
            if (!plan_known(s, json_object_get_string(json_object_array_get_idx(plans, k)))) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "disabledPlans",
                         "AssignedLicense");
                return false;
            }
        }
        for (size_t k = 0; k < json_object_array_length(remove); k++) {
            if (strcasecmp(json_object_get_string(json_object_array_get_idx(remove, k)), sku_id) ==
                0) {
                gs_error(ctx, resp, 400, "Request_BadRequest",
                         "License %s is in both addLicenses and removeLicenses.", sku_id);
                return false;
            }
        }
        for (size_t k = 0; k < i; k++) {
            if (strcasecmp(gs_json_get_str(json_object_array_get_idx(add, k), "skuId"), sku_id) ==
                0) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "addLicenses",
                         "User");
                return false;
            }
        }
        /* A SKU the user holds already (directly or through a group) needs no new seat. */
        if (find_license(u->v[GS_U_ASSIGNED_LICENSES], sku_id, NULL) == NULL &&
            s->consumed + 1 > s->enabled) {
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     "Unable to assign this license because the number of allowed licenses has "
                     "been exceeded.");
            return false;
        }
    }
    for (size_t i = 0; i < json_object_array_length(remove); i++) {
        const char *sku_id = json_object_get_string(json_object_array_get_idx(remove, i));

        if (gs_tenant_sku(t, sku_id) == NULL) {
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     "License %s does not correspond to a valid company License.", sku_id);
            return false;
        }
        if (find_license(u->direct, sku_id, NULL) == NULL &&
            find_license(u->v[GS_U_ASSIGNED_LICENSES], sku_id, NULL) != NULL) {
            /* GRAPH.md section 12: only the group can take a licence it gives. */
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     "User license is inherited from a group membership and it cannot be removed "
                     "directly from the user.");
            return false;
        }
        if (find_license(u->direct, sku_id, NULL) == NULL) {
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     "User does not have a corresponding license.");
            return false;
        }
    }
    return true;
}

static void assign_license(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                           struct gs_user *u)
{
    json_object *body, *add = NULL, *remove = NULL, *lic;

    if (!options_ok(ctx, req, resp, "") || (body = body_object(ctx, req, resp)) == NULL) {
        return;
    }
    json_object_object_foreach(body, key, val)
    {
        if (strcmp(key, "addLicenses") == 0) {
            add = val;
        } else if (strcmp(key, "removeLicenses") == 0) {
            remove = val;
        } else {
            gs_error(ctx, resp, 400, "BadRequest",
                     "The parameter '%s' in the request payload is not a valid parameter for "
                     "the operation 'assignLicense'.",
                     key);
            return;
        }
    }
    if (add == NULL || remove == NULL) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "The request is missing the required parameter '%s'.",
                 add == NULL ? "addLicenses" : "removeLicenses");
        return;
    }
    if (!json_object_is_type(add, json_type_array) ||
        !json_object_is_type(remove, json_type_array)) {
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE,
                 json_object_is_type(add, json_type_array) ? "removeLicenses" : "addLicenses",
                 "User");
        return;
    }
    if (!check_licenses(ctx, resp, u, add, remove)) {
        return;
    }
    /* Only the direct licences change here; the effective ones (and the seats) follow. */
    if (u->direct == NULL) {
        u->direct = json_object_new_array_ext(4);
    }
    lic = u->direct;
    for (size_t i = 0; i < json_object_array_length(remove); i++) {
        const char *sku_id = json_object_get_string(json_object_array_get_idx(remove, i));
        size_t pos;

        if (find_license(lic, sku_id, &pos) != NULL) {
            json_object_array_del_idx(lic, pos, 1);
        }
    }
    for (size_t i = 0; i < json_object_array_length(add); i++) {
        json_object *l = json_object_array_get_idx(add, i);
        const char *sku_id = gs_json_get_str(l, "skuId");
        json_object *plans = json_object_object_get(l, "disabledPlans");
        struct gs_sku *s = gs_tenant_sku(ctx->tenant, sku_id);
        json_object *entry = json_object_new_object();
        size_t pos = 0;

        json_object_object_add(entry, "disabledPlans",
                               plans ? json_object_get(plans) : json_object_new_array());
        /* Store the SKU's own spelling of the id, as Graph does. */
        gs_json_add_str(entry, "skuId", s->sku_id);
        if (find_license(lic, sku_id, &pos) != NULL) {
            json_object_array_put_idx(lic, pos, entry);
        } else {
            json_object_array_add(lic, entry);
        }
    }
    gs_tenant_user_licenses(ctx->tenant, u, true);
    set_body(resp, 200, user_entity(u, NULL, 0, CTX_BASE "users/$entity", NULL));
}

static void subscribed_skus(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    static const char *const known[] = {
        "accountId",    "accountName",  "appliesTo", "capabilityStatus", "consumedUnits",   "id",
        "prepaidUnits", "servicePlans", "skuId",     "skuPartNumber",    "subscriptionIds", NULL};
    const char *sel = query_get(req, "$select");
    json_object *out, *value;

    if (req->nseg > 2) {
        unknown_segment(ctx, resp, req->seg[2]);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (query_get(req, "$filter") != NULL) {
        gs_error(ctx, resp, 400, "Request_UnsupportedQuery",
                 "Filtered searches against this resource are not supported.");
        return;
    }
    if (!options_ok(ctx, req, resp, "$select")) {
        return;
    }
    if (req->nseg == 2) {
        struct gs_sku *s = NULL;
        json_object *o;

        for (size_t i = 0; i < ctx->tenant->nskus; i++) {
            if (strcasecmp(gs_json_get_str(ctx->tenant->skus[i].obj, "id"), req->seg[1]) == 0) {
                s = &ctx->tenant->skus[i];
            }
        }
        if (s == NULL) {
            not_found(ctx, resp, req->seg[1]);
            return;
        }
        o = with_context(CTX_BASE "subscribedSkus/$entity");
        json_object_object_foreach(s->obj, key, val)
        {
            json_object_object_add(o, key, json_object_get(val));
        }
        if (select_members(ctx, resp, sel, known, "microsoft.graph.subscribedSku", &o)) {
            set_body(resp, 200, o);
        }
        return;
    }
    out = with_context(CTX_BASE "subscribedSkus");
    value = json_object_new_array();
    for (size_t i = 0; i < ctx->tenant->nskus; i++) {
        json_object *o = json_object_new_object();

        json_object_object_foreach(ctx->tenant->skus[i].obj, key, val)
        {
            json_object_object_add(o, key, json_object_get(val));
        }
        if (!select_members(ctx, resp, sel, known, "microsoft.graph.subscribedSku", &o)) {
            json_object_put(o);
            json_object_put(value);
            json_object_put(out);
            return;
        }
        json_object_array_add(value, o);
    }
    json_object_object_add(out, "value", value);
    set_body(resp, 200, out);
}

/* }====== */

/* {====== references: manager, members ====== */

/* Reads {"@odata.id": ".../directoryObjects/{id}"} (or .../users/{id}) and returns the user.
 * Sets a 400 for a malformed body or id, a 404 for an unknown object. */
static struct gs_user *ref_target(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    json_object *body = body_object(ctx, req, resp);
    const char *url, *slash, *prev;
    char kind[32], *id;
    struct gs_user *u;
    size_t n;

    if (body == NULL) {
        return NULL;
    }
    json_object_object_foreach(body, key, val)
    {
        (void)val;
        if (strcmp(key, "@odata.id") != 0) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_UNKNOWN_PROP, key);
            return NULL;
        }
    }
    url = gs_json_get_str(body, "@odata.id");
    if (url == NULL || (slash = strrchr(url, '/')) == NULL || slash == url) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "Invalid URL format specified in @odata.id: '%s'.", url ? url : "");
        return NULL;
    }
    for (prev = slash - 1; prev > url && *prev != '/'; prev--) {
    }
    n = (size_t)(slash - prev - 1);
    snprintf(kind, sizeof(kind), "%.*s", (int)(n < sizeof(kind) ? n : sizeof(kind) - 1), prev + 1);
    if (strcasecmp(kind, "directoryObjects") != 0 && strcasecmp(kind, "users") != 0) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "Invalid URL format specified in @odata.id: '%s'.", url);
        return NULL;
    }
    id = gs_xstrdup(slash + 1);
    if (!gs_pct_decode(id, false) || !gs_is_guid(id)) {
        gs_error(ctx, resp, 400, "Request_BadRequest", "Invalid object identifier '%s'.", id);
        free(id);
        return NULL;
    }
    u = gs_tenant_user_by_id(ctx->tenant, id);
    if (lagging(ctx, u)) {
        u = NULL; /* a replica without the new object */
    }
    if (u == NULL) {
        not_found(ctx, resp, id);
    }
    free(id);
    return u;
}

static void manager(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp, struct gs_user *u,
                    bool ref)
{
    const char *m = req->method;
    struct gs_user *mgr = u->manager_id ? gs_tenant_user_by_id(ctx->tenant, u->manager_id) : NULL;

    if (strcmp(m, "GET") == 0) {
        if (!options_ok(ctx, req, resp, ref ? "" : "$select")) {
            return;
        }
        if (mgr == NULL) {
            not_found(ctx, resp, "manager");
        } else if (ref) {
            json_object *o = with_context(CTX_BASE "directoryObjects/$entity");
            char *url = gs_xasprintf("https://graph.microsoft.com/v1.0/directoryObjects/%s",
                                     gs_user_str(mgr, GS_U_ID));

            json_object_object_add(o, "@odata.id", json_object_new_string(url));
            free(url);
            set_body(resp, 200, o);
        } else {
            int sel[GS_U_COUNT];
            size_t nsel;
            char list[2048];

            if (user_select(ctx, req, resp, sel, &nsel, list, sizeof(list))) {
                set_body(resp, 200,
                         user_entity(mgr, sel, nsel, CTX_BASE "directoryObjects/$entity",
                                     "#microsoft.graph.user"));
            }
        }
        return;
    }
    if (!ref || (strcmp(m, "PUT") != 0 && strcmp(m, "DELETE") != 0)) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "")) {
        return;
    }
    if (strcmp(m, "DELETE") == 0) {
        if (mgr == NULL) {
            not_found(ctx, resp, "manager");
            return;
        }
        gs_tenant_user_set_manager(ctx->tenant, u, NULL);
        resp->status = 204;
        return;
    }
    mgr = ref_target(ctx, req, resp);
    if (mgr == NULL) {
        return;
    }
    if (mgr == u) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "A user cannot be assigned as their own manager.");
        return;
    }
    gs_tenant_user_set_manager(ctx->tenant, u, mgr);
    resp->status = 204;
}

/* The properties $select may name on /users/{id}/memberOf: a group's and a directoryRole's
 * (a directoryObject collection takes its derived types' names). */
static const char *const member_of_known[] = {"id",
                                              "deletedDateTime",
                                              "createdDateTime",
                                              "description",
                                              "displayName",
                                              "groupTypes",
                                              "mail",
                                              "mailEnabled",
                                              "mailNickname",
                                              "securityEnabled",
                                              "isAssignableToRole",
                                              "onPremisesSyncEnabled",
                                              "membershipRule",
                                              "roleTemplateId",
                                              NULL};

/* A directoryRole's object id for role template tid: graphsim's stand-in for the id an
 * activated role gets (never its template id): tid with its first 8 hex digits inverted. */
static void directory_role_id(const char *tid, char out[37])
{
    static const char hex[] = "0123456789abcdef";

    snprintf(out, 37, "%s", tid);
    for (size_t i = 0; i < 8 && out[i] != '\0'; i++) {
        int d = isdigit((unsigned char)out[i]) ? out[i] - '0'
                                               : tolower((unsigned char)out[i]) - 'a' + 10;

        out[i] = hex[15 - (d & 15)];
    }
}

/* Keeps the $select-ed members (sel, already checked) of o that o has: an item of another type
 * carries only its own (Graph leaves a group's groupTypes off a directoryRole). */
static json_object *member_of_select(json_object *o, const char *sel)
{
    json_object *out;
    char *copy, *save = NULL;

    if (sel == NULL || sel[0] == '\0') {
        return o;
    }
    out = json_object_new_object();
    copy = gs_xstrdup(sel);
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        json_object_object_foreach(o, key, val)
        {
            if (strcasecmp(key, tok) == 0) {
                json_object_object_add(out, key, json_object_get(val));
            }
        }
    }
    free(copy);
    json_object_object_foreach(o, key, val)
    {
        if (key[0] == '@' || strcmp(key, "id") == 0) {
            json_object_object_add(out, key, json_object_get(val));
        }
    }
    json_object_put(o);
    return out;
}

/* GET /users/{id}/memberOf: the groups u is a direct member of, then the directory roles it
 * holds (an active assignment at the tenant scope "/"), each with its @odata.type. */
static void member_of(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                      struct gs_user *u)
{
    json_object *items = json_object_new_array();
    const char *id = gs_user_str(u, GS_U_ID);
    const char *sel = query_get(req, "$select");
    long top;
    uint64_t skip;

    if (strcmp(req->method, "GET") != 0) {
        json_object_put(items);
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "$top $skiptoken $select") ||
        !page_params(ctx, req, resp, &top, &skip)) {
        json_object_put(items);
        return;
    }
    if (sel != NULL) {
        json_object *probe = json_object_new_object();

        /* names checked against the union of the types' properties */
        if (!select_members(ctx, resp, sel, member_of_known, "microsoft.graph.directoryObject",
                            &probe)) {
            json_object_put(items);
            return;
        }
        json_object_put(probe);
    }
    for (size_t i = 0; i < ctx->tenant->ngroups; i++) {
        struct gs_group *g = ctx->tenant->groups[i];
        json_object *o;

        if (gs_map_get(g->members, id) == NULL) {
            continue;
        }
        o = json_object_new_object();
        json_object_object_add(o, "@odata.type", json_object_new_string("#microsoft.graph.group"));
        json_object_object_foreach(g->obj, key, val)
        {
            json_object_object_add(o, key, json_object_get(val));
        }
        json_object_array_add(items, member_of_select(o, sel));
    }
    for (size_t i = 0; i < ctx->tenant->nroles; i++) {
        const struct gs_role_def *d = &ctx->tenant->roles[i];
        bool holds = false;

        for (size_t k = 0; !holds && k < ctx->tenant->nassignments; k++) {
            const struct gs_role_assignment *a = ctx->tenant->assignments[k];

            holds = strcasecmp(a->principal_id, id) == 0 && a->directory_scope_id != NULL &&
                    strcmp(a->directory_scope_id, "/") == 0 &&
                    gs_tenant_role(ctx->tenant, a->role_definition_id) == d;
        }
        if (holds) {
            json_object *o = json_object_new_object();
            char rid[37];

            directory_role_id(d->template_id, rid);
            json_object_object_add(o, "@odata.type",
                                   json_object_new_string("#microsoft.graph.directoryRole"));
            gs_json_add_str(o, "id", rid);
            json_object_object_add(o, "deletedDateTime", NULL);
            gs_json_add_str(o, "description", gs_json_get_str(d->obj, "description"));
            gs_json_add_str(o, "displayName", d->display_name);
            gs_json_add_str(o, "roleTemplateId", d->template_id);
            json_object_array_add(items, member_of_select(o, sel));
        }
    }
    if (ctx->model != NULL && ctx->model->member_of_page_size > 0 &&
        top > ctx->model->member_of_page_size) {
        top = ctx->model->member_of_page_size;
    }
    list_reply(ctx, req, resp, CTX_BASE "directoryObjects", items, top, skip);
}

static void revoke_sessions(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                            struct gs_user *u)
{
    json_object *o;
    char now[32];

    if (strcmp(req->method, "POST") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "")) {
        return;
    }
    gs_time_format(now, gs_now_wall(), true);
    gs_tenant_user_set(ctx->tenant, u, GS_U_SIGN_IN_SESSIONS_VALID_FROM_DATE_TIME,
                       json_object_new_string(now));
    o = with_context(CTX_BASE "Edm.Boolean");
    json_object_object_add(o, "value", json_object_new_boolean(1));
    set_body(resp, 200, o);
}

/* {====== mail: sendMail and mailboxSettings ====== */

#define MSG_NO_MAILBOX    "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
#define MAIL_DEFAULT_DATE "2020-01-01T00:00:00.0000000"

/* A user without a mailbox (graphsim: a user without a mail address): Graph's 404. */
static bool mailbox_missing(const struct gs_ctx *ctx, struct gs_resp *resp, const struct gs_user *u)
{
    const char *mail = gs_user_str(u, GS_U_MAIL);

    if (mail != NULL && mail[0] != '\0') {
        return false;
    }
    gs_error(ctx, resp, 404, "MailboxNotEnabledForRESTAPI", MSG_NO_MAILBOX);
    return true;
}

/* Reads a recipients collection (absent = none) into out (address strings); false with resp set
 * when its shape is wrong. */
static bool recipients_read(const struct gs_ctx *ctx, struct gs_resp *resp, json_object *msg,
                            const char *name, json_object *out)
{
    json_object *arr = NULL;

    if (!json_object_object_get_ex(msg, name, &arr) || arr == NULL) {
        return true;
    }
    if (!json_object_is_type(arr, json_type_array)) {
        gs_error(ctx, resp, 400, "RequestBodyRead",
                 "A node of type 'StartObject' was read from the JSON reader when trying to read "
                 "the contents of the property '%s'; however, a 'StartArray' node was expected.",
                 name);
        return false;
    }
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *r = json_object_array_get_idx(arr, i), *ea = NULL, *addr = NULL;
        const char *a;

        if (!json_object_is_type(r, json_type_object) ||
            !json_object_object_get_ex(r, "emailAddress", &ea) ||
            !json_object_is_type(ea, json_type_object) ||
            !json_object_object_get_ex(ea, "address", &addr) ||
            !json_object_is_type(addr, json_type_string)) {
            gs_error(ctx, resp, 400, "ErrorInvalidRecipients",
                     "At least one recipient is not valid., Recipient is missing an email "
                     "address.");
            return false;
        }
        a = json_object_get_string(addr);
        if (strchr(a, '@') == NULL || a[0] == '@' || strchr(a, '@')[1] == '\0' ||
            strpbrk(a, " <>,;\"") != NULL) {
            gs_error(ctx, resp, 400, "ErrorInvalidRecipients",
                     "At least one recipient is not valid., Recipient '%s' is not resolved. All "
                     "recipients must be resolved before a message can be submitted.",
                     a);
            return false;
        }
        json_object_array_add(out, json_object_new_string(a));
    }
    return true;
}

/* POST /users/{id}/sendMail: checks the message as Graph does, stores it (GET /_sim/mail) and
 * answers 202 with no body. */
static void send_mail(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                      struct gs_user *u)
{
    static const char *const known[] = {"subject",      "body",          "toRecipients",
                                        "ccRecipients", "bccRecipients", "replyTo",
                                        "importance",   "from",          NULL};
    json_object *body, *msg = NULL, *save = NULL, *b = NULL, *ct = NULL, *content = NULL;
    json_object *subject = NULL, *to, *cc, *bcc, *sent;
    const char *ctype = "Text";

    if (strcmp(req->method, "POST") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "") || (body = body_object(ctx, req, resp)) == NULL ||
        mailbox_missing(ctx, resp, u)) {
        return;
    }
    json_object_object_foreach(body, key, val)
    {
        (void)val;
        if (strcmp(key, "message") != 0 && strcmp(key, "saveToSentItems") != 0) {
            gs_error(ctx, resp, 400, "RequestBodyRead",
                     "The parameter '%s' in the request payload is not a valid parameter for "
                     "the operation 'sendMail'.",
                     key);
            return;
        }
    }
    if (!json_object_object_get_ex(body, "message", &msg) ||
        !json_object_is_type(msg, json_type_object)) {
        gs_error(ctx, resp, 400, "ErrorInvalidParameter",
                 "The value of the parameter 'Message' is empty.");
        return;
    }
    if (json_object_object_get_ex(body, "saveToSentItems", &save) &&
        !json_object_is_type(save, json_type_boolean)) {
        gs_error(ctx, resp, 400, "RequestBodyRead",
                 "Cannot convert the literal '%s' to the expected type 'Edm.Boolean'.",
                 gs_json_str(save));
        return;
    }
    json_object_object_foreach(msg, mkey, mval)
    {
        bool ok = false;

        (void)mval;
        for (size_t i = 0; known[i] != NULL; i++) {
            ok = ok || strcmp(known[i], mkey) == 0;
        }
        if (!ok) {
            gs_error(ctx, resp, 400, "RequestBodyRead",
                     "The property '%s' does not exist on type 'microsoft.graph.message'. Make "
                     "sure to only use property names that are defined by the type or mark the "
                     "type as open type.",
                     mkey);
            return;
        }
    }
    if (json_object_object_get_ex(msg, "subject", &subject) && subject != NULL &&
        !json_object_is_type(subject, json_type_string)) {
        gs_error(ctx, resp, 400, "RequestBodyRead",
                 "Cannot convert the literal '%s' to the expected type 'Edm.String'.",
                 gs_json_str(subject));
        return;
    }
    if (json_object_object_get_ex(msg, "body", &b) && b != NULL) {
        if (!json_object_is_type(b, json_type_object)) {
            gs_error(ctx, resp, 400, "RequestBodyRead",
                     "A node of type 'PrimitiveValue' was read from the JSON reader when trying "
                     "to read the contents of the property 'body'; however, a 'StartObject' node "
                     "was expected.");
            return;
        }
        if (json_object_object_get_ex(b, "contentType", &ct) && ct != NULL) {
            const char *v = json_object_is_type(ct, json_type_string) ? json_object_get_string(ct)
                                                                      : gs_json_str(ct);

            /* Graph's enum members are matched case-insensitively: "html" is HTML. */
            if (!json_object_is_type(ct, json_type_string) ||
                (strcasecmp(v, "html") != 0 && strcasecmp(v, "text") != 0)) {
                gs_error(ctx, resp, 400, "RequestBodyRead", "Requested value '%s' was not found.",
                         v);
                return;
            }
            ctype = strcasecmp(v, "html") == 0 ? "HTML" : "Text";
        }
        json_object_object_get_ex(b, "content", &content);
        if (content != NULL && !json_object_is_type(content, json_type_string)) {
            gs_error(ctx, resp, 400, "RequestBodyRead",
                     "Cannot convert the literal '%s' to the expected type 'Edm.String'.",
                     gs_json_str(content));
            return;
        }
    }
    to = json_object_new_array();
    cc = json_object_new_array();
    bcc = json_object_new_array();
    if (!recipients_read(ctx, resp, msg, "toRecipients", to) ||
        !recipients_read(ctx, resp, msg, "ccRecipients", cc) ||
        !recipients_read(ctx, resp, msg, "bccRecipients", bcc)) {
        json_object_put(to);
        json_object_put(cc);
        json_object_put(bcc);
        return;
    }
    if (json_object_array_length(to) + json_object_array_length(cc) +
            json_object_array_length(bcc) ==
        0) {
        json_object_put(to);
        json_object_put(cc);
        json_object_put(bcc);
        gs_error(ctx, resp, 400, "ErrorInvalidRecipients",
                 "At least one recipient is not valid., A message can't be sent because it "
                 "contains no recipients.");
        return;
    }
    sent = json_object_new_object();
    gs_json_add_str(sent, "from", gs_user_str(u, GS_U_ID));
    gs_json_add_str(sent, "fromAddress", gs_user_str(u, GS_U_MAIL));
    json_object_object_add(sent, "to", to);
    json_object_object_add(sent, "cc", cc);
    json_object_object_add(sent, "bcc", bcc);
    gs_json_add_str(sent, "subject", subject ? json_object_get_string(subject) : "");
    gs_json_add_str(sent, "body", content ? json_object_get_string(content) : "");
    gs_json_add_str(sent, "contentType", ctype);
    json_object_object_add(sent, "saveToSentItems",
                           json_object_new_boolean(save ? json_object_get_boolean(save) : 1));
    gs_json_add_str(sent, "clientRequestId", ctx->client_request_id);
    if (ctx->tenant->mail_sent == NULL) {
        ctx->tenant->mail_sent = json_object_new_array();
    }
    json_object_array_add(ctx->tenant->mail_sent, sent);
    resp->status = 202;
    if (ctx->model != NULL && ctx->model->timeout_next_send > 0) {
        /* Accepted, and then the answer is late: the client times out not knowing. */
        resp->hold = ctx->model->timeout_next_send;
        ctx->model->timeout_next_send = 0;
    }
}

static const char *const reply_status[] = {"disabled", "alwaysEnabled", "scheduled", NULL};
static const char *const reply_audience[] = {"none", "contactsOnly", "all", NULL};

/* u's mailbox settings as stored (created with Graph's defaults on first use); borrowed. */
static json_object *mailbox_of(struct gs_tenant *t, const struct gs_user *u)
{
    const char *id = gs_user_str(u, GS_U_ID);
    json_object *m = NULL, *ar, *d;

    if (t->mailboxes == NULL) {
        t->mailboxes = json_object_new_object();
    }
    if (json_object_object_get_ex(t->mailboxes, id, &m)) {
        return m;
    }
    m = json_object_new_object();
    ar = json_object_new_object();
    gs_json_add_str(ar, "status", "disabled");
    gs_json_add_str(ar, "externalAudience", "all");
    gs_json_add_str(ar, "internalReplyMessage", "");
    gs_json_add_str(ar, "externalReplyMessage", "");
    for (int i = 0; i < 2; i++) {
        d = json_object_new_object();
        gs_json_add_str(d, "dateTime", MAIL_DEFAULT_DATE);
        gs_json_add_str(d, "timeZone", "UTC");
        json_object_object_add(ar, i ? "scheduledEndDateTime" : "scheduledStartDateTime", d);
    }
    json_object_object_add(m, "automaticRepliesSetting", ar);
    gs_json_add_str(m, "timeZone", "UTC");
    json_object_object_add(t->mailboxes, id, m);
    return m;
}

static bool in_list(const char *const *list, const char *v)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], v) == 0) {
            return true;
        }
    }
    return false;
}

/* A reply message as Exchange keeps it: plain text comes back wrapped in HTML (escaped). */
static json_object *reply_message(const char *text)
{
    char *html;
    size_t n = 0;
    json_object *o;

    if (text[0] == '\0' || text[0] == '<') {
        return json_object_new_string(text);
    }
    html = gs_xmalloc(strlen(text) * 6 + 64);
    n += (size_t)sprintf(html, "<html>\n<body>\n<div>");
    for (const char *p = text; *p; p++) {
        const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;

        if (e) {
            n += (size_t)sprintf(html + n, "%s", e);
        } else {
            html[n++] = *p;
        }
    }
    sprintf(html + n, "</div>\n</body>\n</html>\n");
    o = json_object_new_string(html);
    free(html);
    return o;
}

/* Checks automaticRepliesSetting (a PATCH's, borrowed); false with resp set. */
static bool replies_ok(const struct gs_ctx *ctx, struct gs_resp *resp, json_object *ar)
{
    if (!json_object_is_type(ar, json_type_object)) {
        gs_error(ctx, resp, 400, "RequestBodyRead",
                 "A node of type 'PrimitiveValue' was read from the JSON reader when trying to "
                 "read the contents of the property 'automaticRepliesSetting'; however, a "
                 "'StartObject' node was expected.");
        return false;
    }
    json_object_object_foreach(ar, key, val)
    {
        const char *v =
            json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;

        if (strcmp(key, "status") == 0 || strcmp(key, "externalAudience") == 0) {
            const char *const *list = key[0] == 's' ? reply_status : reply_audience;

            if (v == NULL || !in_list(list, v)) {
                gs_error(ctx, resp, 400, "RequestBodyRead", "Requested value '%s' was not found.",
                         v ? v : gs_json_str(val));
                return false;
            }
        } else if (strcmp(key, "internalReplyMessage") == 0 ||
                   strcmp(key, "externalReplyMessage") == 0) {
            if (v == NULL) {
                gs_error(ctx, resp, 400, "RequestBodyRead",
                         "Cannot convert the literal '%s' to the expected type 'Edm.String'.",
                         gs_json_str(val));
                return false;
            }
        } else if (strcmp(key, "scheduledStartDateTime") == 0 ||
                   strcmp(key, "scheduledEndDateTime") == 0) {
            json_object *dt = NULL, *tz = NULL;
            int y, mo, d, h, mi, sec, n = 0;

            if (!json_object_is_type(val, json_type_object) ||
                !json_object_object_get_ex(val, "dateTime", &dt) ||
                !json_object_is_type(dt, json_type_string) ||
                !json_object_object_get_ex(val, "timeZone", &tz) ||
                !json_object_is_type(tz, json_type_string) ||
                sscanf(json_object_get_string(dt), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h,
                       &mi, &sec, &n) != 6 ||
                n != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) {
                gs_error(ctx, resp, 400, "ErrorInvalidParameter",
                         "The value of the parameter '%s' is invalid: it needs a dateTime and a "
                         "timeZone.",
                         key);
                return false;
            }
        } else {
            gs_error(ctx, resp, 400, "RequestBodyRead",
                     "The property '%s' does not exist on type "
                     "'microsoft.graph.automaticRepliesSetting'. Make sure to only use property "
                     "names that are defined by the type or mark the type as open type.",
                     key);
            return false;
        }
    }
    return true;
}

/* GET and PATCH /users/{id}/mailboxSettings. */
static void mailbox_settings(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                             struct gs_user *u)
{
    json_object *m, *body = NULL, *ar = NULL, *out;

    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "PATCH") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, strcmp(req->method, "GET") == 0 ? "$select" : "")) {
        return;
    }
    if (strcmp(req->method, "PATCH") == 0) {
        if ((body = body_object(ctx, req, resp)) == NULL) {
            return;
        }
        json_object_object_foreach(body, key, val)
        {
            if (strcmp(key, "automaticRepliesSetting") == 0) {
                if (!replies_ok(ctx, resp, val)) {
                    return;
                }
                ar = val;
            } else if (strcmp(key, "timeZone") == 0) {
                if (!json_object_is_type(val, json_type_string)) {
                    gs_error(ctx, resp, 400, "RequestBodyRead",
                             "Cannot convert the literal '%s' to the expected type 'Edm.String'.",
                             gs_json_str(val));
                    return;
                }
            } else {
                gs_error(ctx, resp, 400, "RequestBodyRead",
                         "The property '%s' does not exist on type "
                         "'microsoft.graph.mailboxSettings'. Make sure to only use property "
                         "names that are defined by the type or mark the type as open type.",
                         key);
                return;
            }
        }
    }
    if (mailbox_missing(ctx, resp, u)) {
        return;
    }
    m = mailbox_of(ctx->tenant, u);
    if (strcmp(req->method, "PATCH") == 0) {
        json_object *tz = NULL;

        if (json_object_object_get_ex(body, "timeZone", &tz)) {
            json_object_object_add(m, "timeZone", json_object_get(tz));
        }
        if (ar != NULL) {
            json_object *have = json_object_object_get(m, "automaticRepliesSetting");

            json_object_object_foreach(ar, key, val)
            {
                if (strstr(key, "ReplyMessage") != NULL) {
                    json_object_object_add(have, key, reply_message(json_object_get_string(val)));
                } else if (strncmp(key, "scheduled", 9) == 0) {
                    /* Read back with Graph's seven fractional digits. */
                    const char *dt =
                        json_object_get_string(json_object_object_get(val, "dateTime"));
                    json_object *d = json_object_new_object();
                    char *v = strlen(dt) == 19 ? gs_xasprintf("%s.0000000", dt) : gs_xstrdup(dt);

                    gs_json_add_str(d, "dateTime", v);
                    json_object_object_add(
                        d, "timeZone", json_object_get(json_object_object_get(val, "timeZone")));
                    json_object_object_add(have, key, d);
                    free(v);
                } else {
                    json_object_object_add(have, key, json_object_get(val));
                }
            }
        }
    }
    {
        char *c = gs_xasprintf(CTX_BASE "users('%s')/mailboxSettings", gs_user_str(u, GS_U_ID));

        out = with_context(c);
        free(c);
    }
    json_object_object_foreach(m, k, v)
    {
        json_object_object_add(out, k, json_object_get(v));
    }
    set_body(resp, 200, out);
}

/* }====== */

static void users_delta(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp);
static bool is_delta(const char *seg);

static void route_user(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    const char *m = req->method;
    struct gs_user *u;

    if (req->nseg == 2 && is_delta(req->seg[1])) {
        users_delta(ctx, req, resp);
        return;
    }
    if (req->nseg == 2 && strcasecmp(req->seg[1], "$count") == 0) {
        if (strcmp(m, "GET") == 0) {
            users_count(ctx, req, resp);
        } else {
            method_not_allowed(ctx, resp);
        }
        return;
    }
    if (req->nseg == 1) {
        if (strcmp(m, "GET") == 0) {
            users_list(ctx, req, resp);
        } else if (strcmp(m, "POST") == 0) {
            user_create(ctx, req, resp);
        } else {
            method_not_allowed(ctx, resp);
        }
        return;
    }
    u = visible_user(ctx, req->seg[1]);
    if (req->nseg == 2) {
        if (strcmp(m, "GET") != 0 && strcmp(m, "PATCH") != 0 && strcmp(m, "DELETE") != 0) {
            method_not_allowed(ctx, resp);
        } else if (u == NULL) {
            not_found(ctx, resp, req->seg[1]);
        } else if (strcmp(m, "GET") == 0) {
            user_get(ctx, req, resp, u);
        } else if (strcmp(m, "PATCH") == 0) {
            user_patch(ctx, req, resp, u);
        } else {
            user_delete(ctx, req, resp, u);
        }
        return;
    }
    if (strcasecmp(req->seg[2], "assignLicense") == 0 && req->nseg == 3) {
        if (strcmp(m, "POST") != 0) {
            method_not_allowed(ctx, resp);
        } else if (u == NULL) {
            not_found(ctx, resp, req->seg[1]);
        } else {
            assign_license(ctx, req, resp, u);
        }
    } else if (strcasecmp(req->seg[2], "revokeSignInSessions") == 0 && req->nseg == 3) {
        if (u == NULL) {
            not_found(ctx, resp, req->seg[1]);
        } else {
            revoke_sessions(ctx, req, resp, u);
        }
    } else if (strcasecmp(req->seg[2], "memberOf") == 0 && req->nseg == 3) {
        if (u == NULL) {
            not_found(ctx, resp, req->seg[1]);
        } else {
            member_of(ctx, req, resp, u);
        }
    } else if ((strcasecmp(req->seg[2], "sendMail") == 0 ||
                strcasecmp(req->seg[2], "mailboxSettings") == 0) &&
               req->nseg == 3) {
        /* mail (issue 18) */
        if (u == NULL) {
            not_found(ctx, resp, req->seg[1]);
        } else if (strcasecmp(req->seg[2], "sendMail") == 0) {
            send_mail(ctx, req, resp, u);
        } else {
            mailbox_settings(ctx, req, resp, u);
        }
    } else if (strcasecmp(req->seg[2], "authentication") == 0) {
        gs_kit_user_authentication(ctx, req, resp, u); /* issue 18 (kit.c) */
    } else if (strcasecmp(req->seg[2], "drive") == 0 && req->nseg == 3) {
        gs_kit_user_drive(ctx, req, resp, u); /* issue 18 (kit.c) */
    } else if (strcasecmp(req->seg[2], "manager") == 0 &&
               (req->nseg == 3 || (req->nseg == 4 && strcmp(req->seg[3], "$ref") == 0))) {
        if (u == NULL) {
            not_found(ctx, resp, req->seg[1]);
        } else {
            manager(ctx, req, resp, u, req->nseg == 4);
        }
    } else {
        unknown_segment(ctx, resp, req->seg[req->nseg == 4 ? 3 : 2]);
    }
}

/* }====== */

/* {====== roles ====== */

static void role_definitions(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    static const char *const strings[] = {"displayName", "id", "templateId", NULL};
    static const char *const bools[] = {"isBuiltIn", "isEnabled", NULL};
    static const char *const known[] = {
        "id",         "description", "displayName",     "isBuiltIn", "isEnabled", "resourceScopes",
        "templateId", "version",     "rolePermissions", NULL};
    const char *ftext = query_get(req, "$filter");
    const char *sel = query_get(req, "$select");
    struct filter f = {0};
    json_object *items;
    long top;
    uint64_t skip;

    if (strcmp(req->method, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (req->nseg == 4) {
        struct gs_role_def *r = gs_tenant_role(ctx->tenant, req->seg[3]);
        json_object *o;

        if (!options_ok(ctx, req, resp, "$select")) {
            return;
        }
        if (r == NULL || strcasecmp(r->id, req->seg[3]) != 0) {
            not_found(ctx, resp, req->seg[3]);
            return;
        }
        o = with_context(CTX_BASE "roleManagement/directory/roleDefinitions/$entity");
        json_object_object_foreach(r->obj, key, val)
        {
            json_object_object_add(o, key, json_object_get(val));
        }
        if (select_members(ctx, resp, sel, known, "microsoft.graph.unifiedRoleDefinition", &o)) {
            set_body(resp, 200, o);
        }
        return;
    }
    if (!options_ok(ctx, req, resp, "$filter $select $top $skiptoken") ||
        !page_params(ctx, req, resp, &top, &skip)) {
        return;
    }
    if (ftext != NULL) {
        if (!filter_parse(ctx, ftext, &f, resp)) {
            return;
        }
        for (size_t i = 0; i < f.n; i++) {
            if (!clause_ok(ctx, resp, &f.c[i], strings, bools, "UnifiedRoleDefinition")) {
                filter_clear(&f);
                return;
            }
        }
    }
    items = json_object_new_array();
    for (size_t i = 0; i < ctx->tenant->nroles; i++) {
        json_object *o = ctx->tenant->roles[i].obj;

        if (object_matches(o, &f)) {
            json_object *c = json_object_new_object();

            json_object_object_foreach(o, key, val)
            {
                json_object_object_add(c, key, json_object_get(val));
            }
            if (!select_members(ctx, resp, sel, known, "microsoft.graph.unifiedRoleDefinition",
                                &c)) {
                json_object_put(c);
                json_object_put(items);
                filter_clear(&f);
                return;
            }
            json_object_array_add(items, c);
        }
    }
    filter_clear(&f);
    list_reply(ctx, req, resp, CTX_BASE "roleManagement/directory/roleDefinitions", items, top,
               skip);
}

static void assignment_create(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    static const char *const R = "UnifiedRoleAssignment";
    json_object *body = body_object(ctx, req, resp), *o, *j;
    const char *rid, *pid, *dscope, *ascope;
    struct gs_role_def *role;
    struct gs_role_assignment *a;

    if (body == NULL) {
        return;
    }
    json_object_object_foreach(body, key, val)
    {
        if (strcmp(key, "@odata.type") == 0) {
            if (val == NULL || !json_object_is_type(val, json_type_string) ||
                strcmp(json_object_get_string(val), "#microsoft.graph.unifiedRoleAssignment") !=
                    0) {
                gs_error(ctx, resp, 400, "BadRequest", "Invalid @odata.type for this resource.");
                return;
            }
        } else if (strcmp(key, "roleDefinitionId") != 0 && strcmp(key, "principalId") != 0 &&
                   strcmp(key, "directoryScopeId") != 0 && strcmp(key, "appScopeId") != 0) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_UNKNOWN_PROP, key);
            return;
        } else if (val != NULL && !json_object_is_type(val, json_type_string)) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, R);
            return;
        }
    }
    rid = gs_json_get_str(body, "roleDefinitionId");
    pid = gs_json_get_str(body, "principalId");
    dscope = gs_json_get_str(body, "directoryScopeId");
    ascope = gs_json_get_str(body, "appScopeId");
    if (rid == NULL || pid == NULL) {
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_REQUIRED,
                 rid == NULL ? "roleDefinitionId" : "principalId", R);
        return;
    }
    if (!gs_is_guid(pid)) {
        /* A UPN is not an object id: Graph wants the principal's id here. */
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "principalId", R);
        return;
    }
    if ((dscope == NULL) == (ascope == NULL)) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "Exactly one of directoryScopeId and appScopeId must be specified.");
        return;
    }
    if ((dscope != NULL && dscope[0] != '/') || (ascope != NULL && ascope[0] == '\0')) {
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE,
                 dscope ? "directoryScopeId" : "appScopeId", R);
        return;
    }
    role = gs_tenant_role(ctx->tenant, rid);
    if (role == NULL) {
        not_found(ctx, resp, rid);
        return;
    }
    if (visible_user(ctx, pid) == NULL) {
        not_found(ctx, resp, pid);
        return;
    }
    for (size_t i = 0; i < ctx->tenant->nassignments; i++) {
        struct gs_role_assignment *x = ctx->tenant->assignments[i];

        if (strcasecmp(x->principal_id, pid) == 0 &&
            gs_tenant_role(ctx->tenant, x->role_definition_id) == role &&
            strcmp(x->directory_scope_id ? x->directory_scope_id : "", dscope ? dscope : "") == 0 &&
            strcmp(x->app_scope_id ? x->app_scope_id : "", ascope ? ascope : "") == 0) {
            gs_error(ctx, resp, 400, "Request_BadRequest",
                     "A conflicting object with one or more of the specified property values is "
                     "present in the directory.");
            return;
        }
    }
    a = gs_tenant_assignment_add(ctx->tenant, rid, pid, dscope, ascope);
    o = with_context(CTX_BASE "roleManagement/directory/roleAssignments/$entity");
    j = gs_assignment_json(a);
    json_object_object_foreach(j, key2, val2)
    {
        json_object_object_add(o, key2, json_object_get(val2));
    }
    json_object_put(j);
    set_body(resp, 201, o);
}

static void role_assignments(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    static const char *const strings[] = {
        "principalId", "roleDefinitionId", "directoryScopeId", "appScopeId", "id", NULL};
    const char *m = req->method;
    const char *ftext = query_get(req, "$filter");
    struct filter f = {0};
    json_object *items;
    long top;
    uint64_t skip;

    if (req->nseg == 4) {
        struct gs_role_assignment *a = gs_tenant_assignment(ctx->tenant, req->seg[3]);

        if (strcmp(m, "GET") != 0 && strcmp(m, "DELETE") != 0) {
            method_not_allowed(ctx, resp);
        } else if (!options_ok(ctx, req, resp, "")) {
            return;
        } else if (a == NULL) {
            not_found(ctx, resp, req->seg[3]);
        } else if (strcmp(m, "DELETE") == 0) {
            gs_tenant_assignment_remove(ctx->tenant, a);
            resp->status = 204;
        } else {
            json_object *o =
                with_context(CTX_BASE "roleManagement/directory/roleAssignments/$entity");
            json_object *j = gs_assignment_json(a);

            json_object_object_foreach(j, key, val)
            {
                json_object_object_add(o, key, json_object_get(val));
            }
            json_object_put(j);
            set_body(resp, 200, o);
        }
        return;
    }
    if (strcmp(m, "POST") == 0) {
        if (options_ok(ctx, req, resp, "")) {
            assignment_create(ctx, req, resp);
        }
        return;
    }
    if (strcmp(m, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "$filter $top $skiptoken") ||
        !page_params(ctx, req, resp, &top, &skip)) {
        return;
    }
    if (ftext != NULL) {
        if (!filter_parse(ctx, ftext, &f, resp)) {
            return;
        }
        for (size_t i = 0; i < f.n; i++) {
            if (!clause_ok(ctx, resp, &f.c[i], strings, NULL, "UnifiedRoleAssignment")) {
                filter_clear(&f);
                return;
            }
        }
    }
    items = json_object_new_array();
    for (size_t i = 0; i < ctx->tenant->nassignments; i++) {
        struct gs_role_assignment *a = ctx->tenant->assignments[i];
        json_object *o = gs_assignment_json(a);
        bool ok = object_matches(o, &f);

        /* roleDefinitionId matches a definition by its id or its templateId. */
        for (size_t k = 0; !ok && k < f.n; k++) {
            if (strcasecmp(f.c[k].prop, "roleDefinitionId") == 0 && f.c[k].value != NULL) {
                struct gs_role_def *r = gs_tenant_role(ctx->tenant, f.c[k].value);

                if (r != NULL && r == gs_tenant_role(ctx->tenant, a->role_definition_id)) {
                    json_object_object_add(o, "roleDefinitionId",
                                           json_object_new_string(f.c[k].value));
                    ok = object_matches(o, &f);
                    json_object_object_add(o, "roleDefinitionId",
                                           json_object_new_string(a->role_definition_id));
                }
            }
        }
        if (ok) {
            json_object_array_add(items, o);
        } else {
            json_object_put(o);
        }
    }
    filter_clear(&f);
    list_reply(ctx, req, resp, CTX_BASE "roleManagement/directory/roleAssignments", items, top,
               skip);
}

/* {====== PIM: role eligibility and assignment schedules ====== */

static const char *const pim_schedules[] = {"roleEligibilitySchedules", "roleAssignmentSchedules"};
static const char *const pim_requests[] = {"roleEligibilityScheduleRequests",
                                           "roleAssignmentScheduleRequests"};
static const char *const pim_types[] = {"UnifiedRoleEligibilityScheduleRequest",
                                        "UnifiedRoleAssignmentScheduleRequest"};

/* Whether the model denies this kind of PIM endpoint; if so resp is the 403. */
static bool pim_denied(const struct gs_ctx *ctx, struct gs_resp *resp, enum gs_pim kind)
{
    unsigned bit = kind == GS_PIM_ELIGIBILITY ? GS_MODEL_PIM_ELIGIBILITY : GS_MODEL_PIM_ASSIGNMENT;

    if (ctx->model == NULL || !(ctx->model->pim_forbidden & bit)) {
        return false;
    }
    gs_error(ctx, resp, 403, "Authorization_RequestDenied",
             "Insufficient privileges to complete the operation.");
    return true;
}

/* Whether schedule s is principal's assignment of role (a definition id or template id, matched
 * as the same definition) at scope. */
static bool schedule_matches(const struct gs_tenant *t, const struct gs_schedule *s,
                             const char *principal, const struct gs_role_def *role,
                             const char *scope)
{
    return strcasecmp(s->principal_id, principal) == 0 &&
           gs_tenant_role(t, s->role_definition_id) == role &&
           strcmp(s->directory_scope_id, scope) == 0;
}

/* GET .../roleEligibilitySchedules and .../roleAssignmentSchedules, a list or one by id. */
static void schedules(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                      enum gs_pim kind)
{
    static const char *const strings[] = {"principalId", "roleDefinitionId", "directoryScopeId",
                                          "id", NULL};
    static const char *const known[] = {
        "id",         "principalId",  "roleDefinitionId", "directoryScopeId",
        "appScopeId", "createdUsing", "createdDateTime",  "modifiedDateTime",
        "status",     "memberType",   "assignmentType",   "scheduleInfo",
        NULL};
    struct gs_tenant *t = ctx->tenant;
    const char *ftext = query_get(req, "$filter");
    const char *sel = query_get(req, "$select");
    char context[160];
    struct filter f = {0};
    json_object *items;
    long top;
    uint64_t skip;

    if (strcmp(req->method, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (pim_denied(ctx, resp, kind)) {
        return;
    }
    snprintf(context, sizeof(context), CTX_BASE "roleManagement/directory/%s%s",
             pim_schedules[kind], req->nseg == 4 ? "/$entity" : "");
    if (req->nseg == 4) {
        json_object *o = NULL;

        if (!options_ok(ctx, req, resp, "$select")) {
            return;
        }
        for (size_t i = 0; o == NULL && i < t->nschedules[kind]; i++) {
            if (strcasecmp(t->schedules[kind][i]->id, req->seg[3]) == 0) {
                o = gs_schedule_json(kind, t->schedules[kind][i]);
            }
        }
        if (o == NULL) {
            not_found(ctx, resp, req->seg[3]);
            return;
        }
        json_object_object_add(o, "@odata.context", json_object_new_string(context));
        if (select_members(ctx, resp, sel, known, "microsoft.graph.unifiedRoleSchedule", &o)) {
            set_body(resp, 200, o);
        }
        return;
    }
    if (!options_ok(ctx, req, resp, "$filter $select $top $skiptoken") ||
        !page_params(ctx, req, resp, &top, &skip)) {
        return;
    }
    if (ftext != NULL) {
        if (!filter_parse(ctx, ftext, &f, resp)) {
            return;
        }
        for (size_t i = 0; i < f.n; i++) {
            if (!clause_ok(ctx, resp, &f.c[i], strings, NULL, "UnifiedRoleScheduleBase")) {
                filter_clear(&f);
                return;
            }
        }
    }
    items = json_object_new_array();
    for (size_t i = 0; i < t->nschedules[kind]; i++) {
        const struct gs_schedule *sc = t->schedules[kind][i];
        json_object *o = gs_schedule_json(kind, sc);
        bool ok = true;

        /* roleDefinitionId matches a definition by its id or its templateId. */
        for (size_t k = 0; ok && k < f.n; k++) {
            if (strcasecmp(f.c[k].prop, "roleDefinitionId") == 0) {
                ok = f.c[k].value != NULL && gs_tenant_role(t, f.c[k].value) != NULL &&
                     gs_tenant_role(t, f.c[k].value) == gs_tenant_role(t, sc->role_definition_id);
            } else {
                struct filter one = {.n = 1};

                one.c[0] = f.c[k]; /* borrowed strings: never filter_clear this one */
                ok = object_matches(o, &one);
            }
        }
        if (ok &&
            !select_members(ctx, resp, sel, known, "microsoft.graph.unifiedRoleSchedule", &o)) {
            json_object_put(items);
            filter_clear(&f);
            return;
        }
        if (ok) {
            json_object_array_add(items, o);
        } else {
            json_object_put(o);
        }
    }
    filter_clear(&f);
    list_reply(ctx, req, resp, context, items, top, skip);
}

/* POST .../roleEligibilityScheduleRequests and .../roleAssignmentScheduleRequests, validated as
 * Graph documents the request (rbacapplication-post-role*schedulerequests). adminRemove removes
 * the principal's schedules of the role at the scope; adminAssign creates one. */
static void schedule_request(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                             enum gs_pim kind)
{
    static const char *const keys[] = {"action",           "principalId",      "roleDefinitionId",
                                       "directoryScopeId", "appScopeId",       "justification",
                                       "scheduleInfo",     "ticketInfo",       "isValidationOnly",
                                       "customData",       "targetScheduleId", NULL};
    static const char *const actions[] = {
        "adminAssign", "adminUpdate", "adminRemove", "selfActivate", "selfDeactivate",
        "adminExtend", "adminRenew",  "selfExtend",  "selfRenew",    NULL};
    struct gs_tenant *t = ctx->tenant;
    const char *R = pim_types[kind];
    json_object *body, *o, *info = NULL;
    const char *action, *pid, *rid, *dscope, *ascope, *start = NULL, *end = NULL;
    struct gs_role_def *role;
    bool known_action = false, validation = false;
    size_t removed = 0;
    char id[37], now[32], context[160];

    if (!options_ok(ctx, req, resp, "") || (body = body_object(ctx, req, resp)) == NULL) {
        return;
    }
    json_object_object_foreach(body, key, val)
    {
        const char *const *k = keys;

        for (; *k && strcmp(*k, key) != 0; k++) {
        }
        if (*k == NULL) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_UNKNOWN_PROP, key);
            return;
        }
        if (strcmp(key, "scheduleInfo") == 0 || strcmp(key, "ticketInfo") == 0) {
            if (val != NULL && !json_object_is_type(val, json_type_object)) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, R);
                return;
            }
        } else if (strcmp(key, "isValidationOnly") == 0) {
            if (val == NULL || !json_object_is_type(val, json_type_boolean)) {
                gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, R);
                return;
            }
            validation = json_object_get_boolean(val);
        } else if (val != NULL && !json_object_is_type(val, json_type_string)) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, key, R);
            return;
        }
    }
    action = gs_json_get_str(body, "action");
    pid = gs_json_get_str(body, "principalId");
    rid = gs_json_get_str(body, "roleDefinitionId");
    dscope = gs_json_get_str(body, "directoryScopeId");
    ascope = gs_json_get_str(body, "appScopeId");
    if (action == NULL || pid == NULL || rid == NULL) {
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_REQUIRED,
                 action == NULL ? "action"
                 : pid == NULL  ? "principalId"
                                : "roleDefinitionId",
                 R);
        return;
    }
    for (const char *const *a = actions; *a; a++) {
        known_action = known_action || strcmp(*a, action) == 0;
    }
    if (!known_action) {
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "action", R);
        return;
    }
    if (!gs_is_guid(pid)) {
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "principalId", R);
        return;
    }
    if ((dscope == NULL) == (ascope == NULL)) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "Exactly one of directoryScopeId and appScopeId must be specified.");
        return;
    }
    if (ascope != NULL) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "App-scoped schedules are not simulated: use directoryScopeId.");
        return;
    }
    if (dscope[0] != '/') {
        gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "directoryScopeId", R);
        return;
    }
    role = gs_tenant_role(t, rid);
    if (role == NULL) {
        not_found(ctx, resp, rid);
        return;
    }
    if (visible_user(ctx, pid) == NULL) {
        not_found(ctx, resp, pid);
        return;
    }
    if (strcmp(action, "adminRemove") == 0) {
        for (size_t i = t->nschedules[kind]; i-- > 0;) {
            struct gs_schedule *sc = t->schedules[kind][i];

            if (schedule_matches(t, sc, pid, role, dscope)) {
                removed++;
                if (!validation) {
                    gs_tenant_schedule_remove(t, kind, sc);
                }
            }
        }
        if (removed == 0) {
            /* graphsim's wording (the real code and text are unconfirmed, README.md). */
            gs_error(ctx, resp, 400, "RoleAssignmentDoesNotExist",
                     "The Role assignment does not exist.");
            return;
        }
    } else if (strcmp(action, "adminAssign") == 0) {
        json_object *exp = NULL;

        if (!json_object_object_get_ex(body, "scheduleInfo", &info) || info == NULL) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_REQUIRED, "scheduleInfo", R);
            return;
        }
        start = gs_json_get_str(info, "startDateTime");
        if (json_object_object_get_ex(info, "expiration", &exp) && exp != NULL) {
            end = gs_json_get_str(exp, "endDateTime");
        }
        if ((start != NULL && !gs_is_datetimeoffset(start)) ||
            (end != NULL && !gs_is_datetimeoffset(end))) {
            gs_error(ctx, resp, 400, "Request_BadRequest", MSG_INVALID_VALUE, "scheduleInfo", R);
            return;
        }
        for (size_t i = 0; i < t->nschedules[kind]; i++) {
            if (schedule_matches(t, t->schedules[kind][i], pid, role, dscope)) {
                gs_error(ctx, resp, 400, "RoleAssignmentExists",
                         "The Role assignment already exists.");
                return;
            }
        }
        if (!validation) {
            gs_tenant_schedule_add(t, kind, NULL, pid, role->id, dscope, start, end);
        }
    } else {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "The action '%s' is not simulated: use adminAssign or adminRemove.", action);
        return;
    }
    gs_guid_new(id);
    gs_time_format(now, gs_now_wall(), true);
    snprintf(context, sizeof(context), CTX_BASE "roleManagement/directory/%s/$entity",
             pim_requests[kind]);
    o = with_context(context);
    gs_json_add_str(o, "id", id);
    gs_json_add_str(o, "status", strcmp(action, "adminRemove") == 0 ? "Revoked" : "Provisioned");
    gs_json_add_str(o, "createdDateTime", now);
    gs_json_add_str(o, "completedDateTime", strcmp(action, "adminRemove") == 0 ? NULL : now);
    json_object_object_add(o, "approvalId", NULL);
    gs_json_add_str(o, "customData", gs_json_get_str(body, "customData"));
    gs_json_add_str(o, "action", action);
    gs_json_add_str(o, "principalId", pid);
    gs_json_add_str(o, "roleDefinitionId", rid);
    gs_json_add_str(o, "directoryScopeId", dscope);
    json_object_object_add(o, "appScopeId", NULL);
    json_object_object_add(o, "isValidationOnly", json_object_new_boolean(validation));
    gs_json_add_str(o, "targetScheduleId", strcmp(action, "adminRemove") == 0 ? NULL : id);
    gs_json_add_str(o, "justification", gs_json_get_str(body, "justification"));
    json_object_object_add(o, "scheduleInfo", info ? json_object_get(info) : NULL);
    json_object_array_add(t->schedule_requests[kind], json_object_get(o));
    set_body(resp, 201, o);
}

static void schedule_requests(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                              enum gs_pim kind)
{
    char context[160];
    long top;
    uint64_t skip;

    if (pim_denied(ctx, resp, kind)) {
        return;
    }
    if (req->nseg == 3 && strcmp(req->method, "POST") == 0) {
        schedule_request(ctx, req, resp, kind);
        return;
    }
    if (req->nseg != 3 || strcmp(req->method, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "$top $skiptoken") ||
        !page_params(ctx, req, resp, &top, &skip)) {
        return;
    }
    snprintf(context, sizeof(context), CTX_BASE "roleManagement/directory/%s", pim_requests[kind]);
    list_reply(ctx, req, resp, context, json_object_get(ctx->tenant->schedule_requests[kind]), top,
               skip);
}

/* }====== */

static void route_roles(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    if (req->nseg < 2 || strcasecmp(req->seg[1], "directory") != 0) {
        if (req->nseg < 2) {
            method_not_allowed(ctx, resp);
        } else {
            unknown_segment(ctx, resp, req->seg[1]);
        }
        return;
    }
    if (req->nseg < 3) {
        method_not_allowed(ctx, resp);
    } else if (req->nseg > 4) {
        unknown_segment(ctx, resp, req->seg[4]);
    } else if (strcasecmp(req->seg[2], "roleDefinitions") == 0) {
        role_definitions(ctx, req, resp);
    } else if (strcasecmp(req->seg[2], "roleAssignments") == 0) {
        role_assignments(ctx, req, resp);
    } else if (strcasecmp(req->seg[2], pim_schedules[GS_PIM_ELIGIBILITY]) == 0) {
        schedules(ctx, req, resp, GS_PIM_ELIGIBILITY);
    } else if (strcasecmp(req->seg[2], pim_schedules[GS_PIM_ASSIGNMENT]) == 0) {
        schedules(ctx, req, resp, GS_PIM_ASSIGNMENT);
    } else if (strcasecmp(req->seg[2], pim_requests[GS_PIM_ELIGIBILITY]) == 0) {
        schedule_requests(ctx, req, resp, GS_PIM_ELIGIBILITY);
    } else if (strcasecmp(req->seg[2], pim_requests[GS_PIM_ASSIGNMENT]) == 0) {
        schedule_requests(ctx, req, resp, GS_PIM_ASSIGNMENT);
    } else {
        unknown_segment(ctx, resp, req->seg[2]);
    }
}

/* }====== */

/* {====== groups ====== */

static const char *const group_known[] = {"id",
                                          "deletedDateTime",
                                          "createdDateTime",
                                          "description",
                                          "displayName",
                                          "groupTypes",
                                          "mail",
                                          "mailEnabled",
                                          "mailNickname",
                                          "securityEnabled",
                                          "isAssignableToRole",
                                          "onPremisesSyncEnabled",
                                          "membershipRule",
                                          NULL};

static void groups_list(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    static const char *const strings[] = {"displayName", "id", "mailNickname", "mail", NULL};
    static const char *const bools[] = {"securityEnabled", "mailEnabled", NULL};
    const char *ftext = query_get(req, "$filter");
    const char *sel = query_get(req, "$select");
    struct filter f = {0};
    json_object *items;
    long top;
    uint64_t skip;

    if (!options_ok(ctx, req, resp, "$filter $select $top $skiptoken") ||
        !page_params(ctx, req, resp, &top, &skip)) {
        return;
    }
    if (ftext != NULL) {
        if (!filter_parse(ctx, ftext, &f, resp)) {
            return;
        }
        for (size_t i = 0; i < f.n; i++) {
            if (!clause_ok(ctx, resp, &f.c[i], strings, bools, "Group")) {
                filter_clear(&f);
                return;
            }
        }
    }
    items = json_object_new_array();
    for (size_t i = 0; i < ctx->tenant->ngroups; i++) {
        json_object *o = ctx->tenant->groups[i]->obj;
        json_object *c;

        if (!object_matches(o, &f)) {
            continue;
        }
        c = json_object_new_object();
        json_object_object_foreach(o, key, val)
        {
            json_object_object_add(c, key, json_object_get(val));
        }
        if (!select_members(ctx, resp, sel, group_known, "microsoft.graph.group", &c)) {
            json_object_put(c);
            json_object_put(items);
            filter_clear(&f);
            return;
        }
        json_object_array_add(items, c);
    }
    filter_clear(&f);
    list_reply(ctx, req, resp, CTX_BASE "groups", items, top, skip);
}

static void group_members(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                          struct gs_group *g)
{
    int sel[GS_U_COUNT];
    size_t nsel;
    char list[2048];
    json_object *items;
    long top;
    uint64_t skip;

    if (strcmp(req->method, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "$select $top $skiptoken") ||
        !user_select(ctx, req, resp, sel, &nsel, list, sizeof(list)) ||
        !page_params(ctx, req, resp, &top, &skip)) {
        return;
    }
    items = json_object_new_array();
    for (size_t i = 0; i < g->norder; i++) {
        struct gs_user *u = gs_map_get(g->members, g->order[i]);

        json_object_array_add(items, user_entity(u, sel, nsel, NULL, "#microsoft.graph.user"));
    }
    list_reply(ctx, req, resp, CTX_BASE "directoryObjects", items, top, skip);
}

static void groups_delta(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp);

/* Whether g's members may be changed through Graph: a dynamic group's members come from its
 * rule (Graph answers 403 Authorization_RequestDenied, the "insufficient privileges" text, to
 * any member change there), an on-premises-synced group's from Active Directory (400
 * Request_BadRequest: an object that originated within an external service). Answers resp
 * and returns false when not. */
static bool members_writable(struct gs_ctx *ctx, struct gs_resp *resp, const struct gs_group *g)
{
    json_object *types = NULL, *synced = NULL;

    if (json_object_object_get_ex(g->obj, "groupTypes", &types) &&
        json_object_is_type(types, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(types); i++) {
            const char *t = json_object_get_string(json_object_array_get_idx(types, i));

            if (t != NULL && strcmp(t, "DynamicMembership") == 0) {
                gs_error(ctx, resp, 403, "Authorization_RequestDenied",
                         "Insufficient privileges to complete the operation.");
                return false;
            }
        }
    }
    if (json_object_object_get_ex(g->obj, "onPremisesSyncEnabled", &synced) &&
        json_object_is_type(synced, json_type_boolean) && json_object_get_boolean(synced)) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "Unable to update the specified properties for objects that have originated "
                 "within an external service.");
        return false;
    }
    return true;
}

static void route_group(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    const char *m = req->method;
    struct gs_group *g;

    if (req->nseg == 1) {
        if (strcmp(m, "GET") == 0) {
            groups_list(ctx, req, resp);
        } else {
            method_not_allowed(ctx, resp); /* creating groups is not simulated */
        }
        return;
    }
    if (req->nseg == 2 && is_delta(req->seg[1])) {
        groups_delta(ctx, req, resp);
        return;
    }
    g = gs_tenant_group(ctx->tenant, req->seg[1]);
    if (req->nseg == 2) {
        json_object *o;

        if (strcmp(m, "GET") != 0) {
            method_not_allowed(ctx, resp);
        } else if (!options_ok(ctx, req, resp, "$select")) {
            return;
        } else if (g == NULL) {
            not_found(ctx, resp, req->seg[1]);
        } else {
            o = with_context(CTX_BASE "groups/$entity");
            json_object_object_foreach(g->obj, key, val)
            {
                json_object_object_add(o, key, json_object_get(val));
            }
            if (select_members(ctx, resp, query_get(req, "$select"), group_known,
                               "microsoft.graph.group", &o)) {
                set_body(resp, 200, o);
            }
        }
        return;
    }
    if (strcasecmp(req->seg[2], "members") != 0 || req->nseg > 5) {
        unknown_segment(ctx, resp, req->seg[2]);
        return;
    }
    if (g == NULL) {
        not_found(ctx, resp, req->seg[1]);
        return;
    }
    if (req->nseg >= 4 && strcmp(req->seg[req->nseg - 1], "$ref") == 0 &&
        !members_writable(ctx, resp, g)) {
        return;
    }
    if (req->nseg == 3) {
        group_members(ctx, req, resp, g);
    } else if (req->nseg == 4 && strcmp(req->seg[3], "$ref") == 0) {
        struct gs_user *u;

        if (strcmp(m, "POST") != 0) {
            method_not_allowed(ctx, resp);
        } else if (options_ok(ctx, req, resp, "") && (u = ref_target(ctx, req, resp)) != NULL) {
            if (!gs_tenant_group_add(ctx->tenant, g, u)) {
                gs_error(ctx, resp, 400, "Request_BadRequest",
                         "One or more added object references already exist for the following "
                         "modified properties: 'members'.");
            } else {
                resp->status = 204;
            }
        }
    } else if (req->nseg == 5 && strcmp(req->seg[4], "$ref") == 0) {
        if (strcmp(m, "DELETE") != 0) {
            method_not_allowed(ctx, resp);
        } else if (options_ok(ctx, req, resp, "")) {
            struct gs_user *u = gs_map_get(g->members, req->seg[3]);

            if (u != NULL && gs_tenant_group_remove(ctx->tenant, g, u)) {
                resp->status = 204;
            } else {
                not_found(ctx, resp, req->seg[3]);
            }
        }
    } else if (req->nseg == 4) {
        struct gs_user *u = gs_map_get(g->members, req->seg[3]);

        /* Without /$ref, Graph deletes the directory object itself (GRAPH.md section 6). */
        if (strcmp(m, "DELETE") != 0) {
            method_not_allowed(ctx, resp);
        } else if (!options_ok(ctx, req, resp, "")) {
            return;
        } else if (u == NULL) {
            not_found(ctx, resp, req->seg[3]);
        } else {
            gs_tenant_user_delete(ctx->tenant, u);
            resp->status = 204;
        }
    } else {
        unknown_segment(ctx, resp, req->seg[4]);
    }
}

/* }====== */

/* {====== delta queries (GRAPH.md section 10) ====== */

#define DELTA_PAGE 200

/* A delta round's state, carried in $skiptoken and $deltatoken (Graph's tokens are opaque; the
 * query options of the first call live in them, so later calls need only the link). */
struct dstate {
    char kind;      /* 'u' users, 'g' groups */
    uint64_t nonce; /* the tenant's: a token from before a /_sim/reset is gone */
    uint64_t gen;   /* gs_model.delta_generation when issued */
    uint64_t from;  /* changes after this seq (0 with full: the initial round) */
    uint64_t upto;  /* ... up to this seq (fixed when the round started) */
    uint64_t pos;   /* next page: a user seq (full round) or an index of changed objects */
    unsigned flags; /* DS_FULL */
    char sel[1024]; /* the $select of the first call, "" for none */
    char group[40]; /* groups: the $filter's id, "" for all */
};

#define DS_FULL 0x1u

static char *dstate_text(const struct dstate *d)
{
    return gs_xasprintf("gs2.%c.%llx.%llx.%llx.%llx.%llx.%x.%s.%s", d->kind,
                        (unsigned long long)d->nonce, (unsigned long long)d->gen,
                        (unsigned long long)d->from, (unsigned long long)d->upto,
                        (unsigned long long)d->pos, d->flags, d->sel[0] ? d->sel : "-",
                        d->group[0] ? d->group : "-");
}

static bool dstate_parse(const char *s, struct dstate *d)
{
    unsigned long long nonce, gen, from, upto, pos;
    char kind;
    int used = 0;
    const char *rest, *dot;

    memset(d, 0, sizeof(*d));
    if (sscanf(s, "gs2.%c.%llx.%llx.%llx.%llx.%llx.%x.%n", &kind, &nonce, &gen, &from, &upto, &pos,
               &d->flags, &used) != 7 ||
        used == 0 || (kind != 'u' && kind != 'g')) {
        return false;
    }
    rest = s + used;
    dot = strchr(rest, '.');
    if (dot == NULL || (size_t)(dot - rest) >= sizeof(d->sel) ||
        strlen(dot + 1) >= sizeof(d->group) || strchr(dot + 1, '.') != NULL) {
        return false;
    }
    if (!(dot - rest == 1 && rest[0] == '-')) {
        memcpy(d->sel, rest, (size_t)(dot - rest));
    }
    if (strcmp(dot + 1, "-") != 0) {
        strcpy(d->group, dot + 1);
    }
    d->kind = kind;
    d->nonce = nonce;
    d->gen = gen;
    d->from = from;
    d->upto = upto;
    d->pos = pos;
    return true;
}

/* Adds @odata.nextLink ($skiptoken) or @odata.deltaLink ($deltatoken) for state d to out. */
static void delta_link(const struct gs_ctx *ctx, const char *path, json_object *out,
                       const struct dstate *d, bool next)
{
    char *tok = dstate_text(d);
    char *url = gs_xasprintf("%s/v1.0/%s/delta?%s=%s", link_base(ctx), path,
                             next ? "$skiptoken" : "$deltatoken", tok);

    json_object_object_add(out, next ? "@odata.nextLink" : "@odata.deltaLink",
                           json_object_new_string(url));
    free(url);
    free(tok);
}

/* Reads the round's state from $skiptoken or $deltatoken, or starts one. Returns false with
 * resp set when a token is malformed (400), expired or from another tenant state (400
 * syncStateNotFound, or 410 resyncRequired when the model says so). *latest is set for
 * $deltatoken=latest. */
static bool delta_state(const struct gs_ctx *ctx, const struct gs_req *req, struct gs_resp *resp,
                        char kind, struct dstate *d, bool *latest)
{
    const char *skip = query_get(req, "$skiptoken");
    const char *delta = query_get(req, "$deltatoken");
    const char *tok = skip != NULL ? skip : delta;
    uint64_t gen = ctx->model != NULL ? ctx->model->delta_generation : 0;

    *latest = false;
    memset(d, 0, sizeof(*d));
    d->kind = kind;
    d->nonce = ctx->tenant->nonce;
    d->gen = gen;
    if (skip != NULL && delta != NULL) {
        gs_error(ctx, resp, 400, "Request_BadRequest",
                 "$skiptoken and $deltatoken cannot be used together.");
        return false;
    }
    if (tok == NULL) {
        d->flags = DS_FULL;
        d->upto = ctx->tenant->change_seq;
        return true;
    }
    if (delta != NULL && strcmp(delta, "latest") == 0) {
        *latest = true;
        return true;
    }
    if (!dstate_parse(tok, d) || d->kind != kind || (delta != NULL && d->pos != 0)) {
        gs_error(ctx, resp, 400, "Request_BadRequest", "Invalid %s '%s'.",
                 skip != NULL ? "skip token" : "delta token", tok);
        return false;
    }
    if (d->nonce != ctx->tenant->nonce || d->gen < gen || d->from > ctx->tenant->change_seq) {
        if (ctx->model != NULL && ctx->model->delta_expired_status == 410) {
            gs_error(ctx, resp, 410, "resyncRequired",
                     "The delta token is no longer valid: the application must synchronize "
                     "again from a full round.");
        } else {
            gs_error(ctx, resp, 400, "syncStateNotFound",
                     "The sync state generation is not found. The delta token is expired and "
                     "data must be synchronized again.");
        }
        return false;
    }
    d->gen = gen;
    if (delta != NULL) {
        /* a new incremental round: the changes after the token, up to now */
        d->upto = ctx->tenant->change_seq;
    }
    return true;
}

/* What changed of one user in a round. */
struct uchange {
    char id[37];
    uint64_t props[2]; /* bit i: property index i */
    bool created, deleted, manager;
    char old_manager[37];
};

static void user_link(json_object *arr, const char *id, bool removed)
{
    json_object *m = json_object_new_object();

    gs_json_add_str(m, "@odata.type", "#microsoft.graph.user");
    gs_json_add_str(m, "id", id);
    if (removed) {
        json_object *r = json_object_new_object();

        gs_json_add_str(r, "reason", "deleted");
        json_object_object_add(m, "@removed", r);
    }
    json_object_array_add(arr, m);
}

/* One user as a delta round returns it: the selected properties (only the changed ones with
 * Prefer: return=minimal, all for a new user), always id, and manager@delta when the manager
 * is selected and (in an incremental round) changed. ch is NULL in the initial round. */
static json_object *delta_user(const struct gs_tenant *t, const struct gs_user *u, const int *sel,
                               size_t nsel, bool manager, const struct uchange *ch, bool minimal)
{
    json_object *o;
    const struct gs_user *mgr = u->manager_id ? gs_tenant_user_by_id(t, u->manager_id) : NULL;

    if (ch != NULL && minimal && !ch->created) {
        int keep[GS_U_COUNT];
        size_t nkeep = 0;

        for (size_t i = 0; i < nsel; i++) {
            if (ch->props[sel[i] / 64] & (1ull << (sel[i] % 64))) {
                keep[nkeep++] = sel[i];
            }
        }
        o = nkeep > 0 ? gs_user_project(u, keep, nkeep) : json_object_new_object();
    } else {
        o = user_entity(u, sel, nsel, NULL, NULL);
    }
    gs_json_add_str(o, "id", gs_user_str(u, GS_U_ID));
    if (manager && (ch == NULL || ch->created || ch->manager)) {
        json_object *arr = json_object_new_array();

        if (mgr != NULL) {
            user_link(arr, gs_user_str(mgr, GS_U_ID), false);
        } else if (ch != NULL && ch->old_manager[0] != '\0') {
            user_link(arr, ch->old_manager, true);
        }
        if (json_object_array_length(arr) > 0) {
            json_object_object_add(o, "manager@delta", arr);
        } else {
            json_object_put(arr);
        }
    }
    return o;
}

/* Collects the users changed in (from, upto], in the order of their first change. */
static struct uchange *user_changes(const struct gs_tenant *t, uint64_t from, uint64_t upto,
                                    size_t *n)
{
    struct gs_map *seen = gs_map_new(true);
    struct uchange *out = NULL;
    size_t cap = 0;

    *n = 0;
    for (size_t i = gs_tenant_changes_after(t, from); i < t->nchanges; i++) {
        const struct gs_change *c = &t->changes[i];
        struct uchange *x;
        size_t *slot;

        if (c->seq > upto) {
            break;
        }
        if (c->what == GS_CH_MEMBER_ADDED || c->what == GS_CH_MEMBER_REMOVED) {
            continue;
        }
        slot = gs_map_get(seen, c->id);
        if (slot == NULL) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                out = gs_xrealloc(out, cap * sizeof(*out));
            }
            x = &out[*n];
            memset(x, 0, sizeof(*x));
            snprintf(x->id, sizeof(x->id), "%s", c->id);
            slot = gs_xmalloc(sizeof(*slot));
            *slot = (*n)++;
            gs_map_put(seen, c->id, slot);
        }
        x = &out[*slot];
        if (c->what >= 0) {
            x->props[c->what / 64] |= 1ull << (c->what % 64);
        } else if (c->what == GS_CH_CREATED) {
            x->created = true;
            x->deleted = false;
        } else if (c->what == GS_CH_DELETED) {
            x->deleted = true;
        } else if (c->what == GS_CH_MANAGER) {
            if (!x->manager) {
                snprintf(x->old_manager, sizeof(x->old_manager), "%s", c->aux);
            }
            x->manager = true;
        }
    }
    gs_map_free(seen, free);
    return out;
}

static void removed_entry(json_object *value, const char *id)
{
    json_object *o = json_object_new_object();
    json_object *r = json_object_new_object();

    gs_json_add_str(o, "id", id);
    /* Graph's users go to deleted items first, restorable for 30 days: "changed"; "deleted"
       is for a permanent deletion, which graphsim does not model. */
    gs_json_add_str(r, "reason", "changed");
    json_object_object_add(o, "@removed", r);
    json_object_array_add(value, o);
}

/* GET /users/delta: the initial round pages through every user, later rounds (the deltaLink)
 * give the users changed since, deleted ones as {"id", "@removed": {"reason": "changed"}}. */
/* With the model's delta_forbidden: resp is Graph's 403 for an app without User.Read.All /
   GroupMember.Read.All, and true. */
static bool delta_forbidden(struct gs_ctx *ctx, struct gs_resp *resp)
{
    if (ctx->model == NULL || !ctx->model->delta_forbidden) {
        return false;
    }
    gs_error(ctx, resp, 403, "Authorization_RequestDenied",
             "Insufficient privileges to complete the operation.");
    return true;
}

static void users_delta(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    struct gs_tenant *t = ctx->tenant;
    struct dstate d;
    int sel[GS_U_COUNT];
    size_t nsel, page;
    bool manager = false, latest, minimal;
    char list[1100], context[1200];
    json_object *out, *value;

    if (strcmp(req->method, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (delta_forbidden(ctx, resp) ||
        !options_ok(ctx, req, resp, "$select $deltatoken $skiptoken") ||
        !delta_state(ctx, req, resp, 'u', &d, &latest)) {
        return;
    }
    if ((d.flags & DS_FULL) && query_get(req, "$select") != NULL) {
        if (strlen(query_get(req, "$select")) >= sizeof(d.sel)) {
            gs_error(ctx, resp, 400, "BadRequest", "The $select list is too long.");
            return;
        }
        snprintf(d.sel, sizeof(d.sel), "%s", query_get(req, "$select"));
        for (char *p = d.sel; *p; p++) {
            if (*p == ' ') {
                memmove(p, p + 1, strlen(p));
                p--;
            }
        }
    }
    if (!select_text(ctx, d.sel, resp, sel, &nsel, list, sizeof(list), &manager)) {
        return;
    }
    if (nsel == 0 && manager) {
        /* only manager selected: the users carry id and manager@delta */
        sel[0] = GS_U_ID;
        nsel = 1;
    }
    page = ctx->model != NULL && ctx->model->delta_page_size > 0
               ? (size_t)ctx->model->delta_page_size
               : DELTA_PAGE;
    minimal = req->prefer != NULL && strstr(req->prefer, "return=minimal") != NULL;
    snprintf(context, sizeof(context), CTX_BASE "users%s%s%s", list[0] ? "(" : "", list,
             list[0] ? ")" : "");
    out = with_context(context);
    value = json_object_new_array();
    if (latest) {
        d.from = d.upto = t->change_seq;
        d.pos = 0;
        d.flags = 0;
        delta_link(ctx, "users", out, &d, false);
    } else if (d.flags & DS_FULL) {
        size_t i = gs_tenant_user_pos(t, d.pos), taken = 0;

        for (; i < t->nusers && taken < page; i++) {
            if (!lagging(ctx, t->users[i])) {
                json_object_array_add(value,
                                      delta_user(t, t->users[i], sel, nsel, manager, NULL, false));
                taken++;
            }
        }
        if (i < t->nusers) {
            d.pos = t->users[i]->seq;
            delta_link(ctx, "users", out, &d, true);
        } else {
            d.flags = 0;
            d.from = d.upto;
            d.pos = 0;
            delta_link(ctx, "users", out, &d, false);
        }
    } else {
        size_t n, i;
        struct uchange *ch = user_changes(t, d.from, d.upto, &n);

        for (i = (size_t)d.pos; i < n && i < d.pos + page; i++) {
            struct gs_user *u = gs_tenant_user_by_id(t, ch[i].id);

            if (u == NULL) {
                removed_entry(value, ch[i].id);
            } else {
                json_object_array_add(value, delta_user(t, u, sel, nsel, manager, &ch[i], minimal));
            }
        }
        if (i < n) {
            d.pos = i;
            delta_link(ctx, "users", out, &d, true);
        } else {
            d.from = d.upto;
            d.pos = 0;
            delta_link(ctx, "users", out, &d, false);
        }
        free(ch);
    }
    json_object_object_add(out, "value", value);
    set_body(resp, 200, out);
}

/* The members@delta of g for a round: every member in the initial round (from == UINT64_MAX),
 * else the members added or removed in (from, upto] by their state now. NULL when none. */
static json_object *members_delta(const struct gs_tenant *t, struct gs_group *g, uint64_t from,
                                  uint64_t upto)
{
    json_object *arr = json_object_new_array();

    if (from == UINT64_MAX) {
        for (size_t i = 0; i < g->norder; i++) {
            user_link(arr, g->order[i], false);
        }
    } else {
        struct gs_map *seen = gs_map_new(true);

        for (size_t i = gs_tenant_changes_after(t, from); i < t->nchanges; i++) {
            const struct gs_change *c = &t->changes[i];

            if (c->seq > upto) {
                break;
            }
            if (c->group != g || gs_map_get(seen, c->id) != NULL) {
                continue;
            }
            gs_map_put(seen, c->id, (void *)c);
            user_link(arr, c->id, gs_map_get(g->members, c->id) == NULL);
        }
        gs_map_free(seen, NULL);
    }
    if (json_object_array_length(arr) == 0) {
        json_object_put(arr);
        return NULL;
    }
    return arr;
}

/* GET /groups/delta[?$filter=id eq '...'][&$select=...,members]: one page per round; members
 * come as members@delta ({"@odata.type": "#microsoft.graph.user", "id"}, removals with
 * "@removed": {"reason": "deleted"}). Later rounds give only groups whose members changed. */
static void groups_delta(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    struct gs_tenant *t = ctx->tenant;
    struct dstate d;
    bool latest, members = false;
    const char *ftext = query_get(req, "$filter");
    json_object *out, *value;
    char *sel = NULL;

    if (strcmp(req->method, "GET") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (delta_forbidden(ctx, resp) ||
        !options_ok(ctx, req, resp, "$select $filter $deltatoken $skiptoken") ||
        !delta_state(ctx, req, resp, 'g', &d, &latest)) {
        return;
    }
    if ((d.flags & DS_FULL) && ftext != NULL) {
        struct filter f;

        if (!filter_parse(ctx, ftext, &f, resp)) {
            return;
        }
        /* groups/delta takes id eq '...' only (GRAPH.md section 10) */
        if (f.n != 1 || strcasecmp(f.c[0].prop, "id") != 0 || f.c[0].op != OP_EQ || f.c[0].negate ||
            f.c[0].kind != LIT_STRING || !gs_is_guid(f.c[0].value)) {
            filter_clear(&f);
            gs_error(ctx, resp, 400, "Request_UnsupportedQuery", "Unsupported Query.");
            return;
        }
        snprintf(d.group, sizeof(d.group), "%s", f.c[0].value);
        filter_clear(&f);
    }
    if ((d.flags & DS_FULL) && query_get(req, "$select") != NULL) {
        snprintf(d.sel, sizeof(d.sel), "%s", query_get(req, "$select"));
    }
    if (d.sel[0] != '\0') {
        /* check the names; members is the navigation tracked as members@delta */
        char *copy = gs_xstrdup(d.sel), *save = NULL, *rest = gs_xmalloc(strlen(d.sel) + 1);

        rest[0] = '\0';
        for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ') {
                tok++;
            }
            if (strcasecmp(tok, "members") == 0) {
                members = true;
            } else {
                strcat(strcat(rest, rest[0] ? "," : ""), tok);
            }
        }
        free(copy);
        sel = rest;
    }
    out = with_context(CTX_BASE "groups");
    value = json_object_new_array();
    for (size_t i = 0; !latest && i < t->ngroups; i++) {
        struct gs_group *g = t->groups[i];
        json_object *md, *c;

        if (d.group[0] != '\0' && strcasecmp(d.group, g->id) != 0) {
            continue;
        }
        md = members_delta(t, g, (d.flags & DS_FULL) ? UINT64_MAX : d.from, d.upto);
        if (!(d.flags & DS_FULL) && md == NULL) {
            continue;
        }
        c = json_object_new_object();
        json_object_object_foreach(g->obj, key, val)
        {
            json_object_object_add(c, key, json_object_get(val));
        }
        if (sel != NULL && sel[0] != '\0' &&
            !select_members(ctx, resp, sel, group_known, "microsoft.graph.group", &c)) {
            json_object_put(md);
            json_object_put(value);
            json_object_put(out);
            free(sel);
            return;
        }
        if (sel != NULL && sel[0] == '\0') {
            json_object_put(c); /* only members selected */
            c = json_object_new_object();
        }
        gs_json_add_str(c, "id", g->id);
        if (members && md != NULL) {
            json_object_object_add(c, "members@delta", md);
        } else {
            json_object_put(md);
        }
        json_object_array_add(value, c);
    }
    free(sel);
    d.from = latest ? t->change_seq : d.upto;
    d.upto = d.from;
    d.pos = 0;
    d.flags = 0;
    delta_link(ctx, "groups", out, &d, false);
    json_object_object_add(out, "value", value);
    set_body(resp, 200, out);
}

/* Whether a path segment names the delta function. */
static bool is_delta(const char *seg)
{
    return strcasecmp(seg, "delta") == 0 || strcasecmp(seg, "delta()") == 0 ||
           strcasecmp(seg, "microsoft.graph.delta") == 0 ||
           strcasecmp(seg, "microsoft.graph.delta()") == 0;
}

/* }====== */

/* {====== $batch ====== */

#define BATCH_MAX 20

struct item {
    const char *id;
    char method[8];
    const char *url;
    json_object *headers; /* borrowed */
    json_object *body;    /* borrowed; NULL when absent */
    bool has_body;
    const char *content_type;
    json_object *depends; /* borrowed array or NULL */
    int status;           /* 0 until run */
    json_object *reply;   /* owned response item */
};

/* A batch item's header (names case-insensitive; headers borrowed, may be NULL), or NULL. */
static const char *header_of(json_object *headers, const char *name)
{
    if (headers == NULL || !json_object_is_type(headers, json_type_object)) {
        return NULL;
    }
    json_object_object_foreach(headers, key, val)
    {
        if (strcasecmp(key, name) == 0 && json_object_is_type(val, json_type_string)) {
            return json_object_get_string(val);
        }
    }
    return NULL;
}

static int item_index(const struct item *it, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(it[i].id, id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static bool batch_bad(const struct gs_ctx *ctx, struct gs_resp *resp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool batch_bad(const struct gs_ctx *ctx, struct gs_resp *resp, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gs_error(ctx, resp, 400, "BadRequest", "%s", msg);
    return false;
}

/* Validates the batch envelope and fills items; any problem fails the whole batch (400). */
static bool batch_parse(const struct gs_ctx *ctx, struct gs_resp *resp, json_object *body,
                        struct item *it, size_t *n)
{
    json_object *reqs = NULL;

    json_object_object_foreach(body, key, val)
    {
        (void)val;
        if (strcmp(key, "requests") != 0) {
            return batch_bad(ctx, resp, "Invalid batch payload format: unknown member '%s'.", key);
        }
    }
    if (!json_object_object_get_ex(body, "requests", &reqs) ||
        !json_object_is_type(reqs, json_type_array) || json_object_array_length(reqs) == 0) {
        return batch_bad(ctx, resp, "Invalid batch payload format.");
    }
    *n = json_object_array_length(reqs);
    if (*n > BATCH_MAX) {
        return batch_bad(ctx, resp, "Number of batch request steps exceeds the maximum of %d.",
                         BATCH_MAX);
    }
    for (size_t i = 0; i < *n; i++) {
        json_object *r = json_object_array_get_idx(reqs, i);
        struct item *x = &it[i];
        const char *method;

        if (r == NULL || !json_object_is_type(r, json_type_object)) {
            return batch_bad(ctx, resp, "Invalid batch payload format.");
        }
        json_object_object_foreach(r, ik, iv)
        {
            (void)iv;
            if (strcmp(ik, "id") != 0 && strcmp(ik, "method") != 0 && strcmp(ik, "url") != 0 &&
                strcmp(ik, "headers") != 0 && strcmp(ik, "body") != 0 &&
                strcmp(ik, "dependsOn") != 0) {
                return batch_bad(ctx, resp,
                                 "Invalid batch payload format: unknown member '%s' in request "
                                 "%zu.",
                                 ik, i);
            }
        }
        x->id = gs_json_get_str(r, "id");
        method = gs_json_get_str(r, "method");
        x->url = gs_json_get_str(r, "url");
        if (x->id == NULL || x->id[0] == '\0' || method == NULL || x->url == NULL) {
            return batch_bad(ctx, resp,
                             "Invalid batch payload format: request %zu needs string 'id', "
                             "'method' and 'url'.",
                             i);
        }
        for (size_t k = 0; method[k] && k < sizeof(x->method) - 1; k++) {
            x->method[k] = (char)toupper((unsigned char)method[k]);
        }
        if (strcmp(x->method, "GET") != 0 && !gs_is_write(x->method)) {
            return batch_bad(ctx, resp, "Invalid method '%s' for request id %s.", method, x->id);
        }
        if (item_index(it, i, x->id) >= 0) {
            return batch_bad(ctx, resp, "Batch request id '%s' is not unique.", x->id);
        }
        if (strstr(x->url, "://") != NULL || x->url[0] == '\0') {
            return batch_bad(ctx, resp,
                             "Invalid request URL '%s' for request id %s: use a URL "
                             "relative to the version, such as '/users'.",
                             x->url, x->id);
        }
        if (strncasecmp(x->url[0] == '/' ? x->url + 1 : x->url, "$batch", 6) == 0) {
            return batch_bad(ctx, resp, "Nested batch requests are not supported.");
        }
        if (json_object_object_get_ex(r, "headers", &x->headers) && x->headers != NULL) {
            if (!json_object_is_type(x->headers, json_type_object)) {
                return batch_bad(ctx, resp, "Invalid headers for request id %s.", x->id);
            }
            json_object_object_foreach(x->headers, hk, hv)
            {
                if (hv == NULL || !json_object_is_type(hv, json_type_string)) {
                    return batch_bad(ctx, resp, "Invalid headers for request id %s.", x->id);
                }
                if (strcasecmp(hk, "Content-Type") == 0) {
                    x->content_type = json_object_get_string(hv);
                }
            }
        }
        x->has_body = json_object_object_get_ex(r, "body", &x->body);
        if (x->has_body && x->content_type == NULL) {
            return batch_bad(ctx, resp,
                             "Write request id : %s does not contain Content-Type header or "
                             "body.",
                             x->id);
        }
        if (json_object_object_get_ex(r, "dependsOn", &x->depends) && x->depends != NULL &&
            !json_object_is_type(x->depends, json_type_array)) {
            return batch_bad(ctx, resp, "Invalid dependsOn for request id %s.", x->id);
        }
    }
    for (size_t i = 0; i < *n; i++) {
        for (size_t k = 0; it[i].depends && k < json_object_array_length(it[i].depends); k++) {
            json_object *d = json_object_array_get_idx(it[i].depends, k);
            int j = d && json_object_is_type(d, json_type_string)
                        ? item_index(it, *n, json_object_get_string(d))
                        : -1;

            if (j < 0 || (size_t)j == i) {
                return batch_bad(ctx, resp,
                                 "Request id %s depends on an id that is not in the batch.",
                                 it[i].id);
            }
        }
    }
    return true;
}

static bool deps_done(const struct item *it, size_t n, const struct item *x, bool *failed)
{
    *failed = false;
    for (size_t k = 0; x->depends && k < json_object_array_length(x->depends); k++) {
        const struct item *d = &it[item_index(
            it, n, json_object_get_string(json_object_array_get_idx(x->depends, k)))];

        if (d->status == 0) {
            return false;
        }
        if (d->status < 200 || d->status > 299) {
            *failed = true;
        }
    }
    return true;
}

static json_object *item_reply(const struct item *x, struct gs_resp *r)
{
    json_object *o = json_object_new_object();
    json_object *h = json_object_new_object();

    gs_json_add_str(o, "id", x->id);
    json_object_object_add(o, "status", json_object_new_int(r->status));
    gs_json_add_str(h, "Cache-Control", "no-cache");
    if (r->retry_after[0] != '\0') {
        gs_json_add_str(h, "Retry-After", r->retry_after);
    }
    if (r->throttle_scope[0] != '\0') {
        gs_json_add_str(h, "x-ms-throttle-scope", r->throttle_scope);
        gs_json_add_str(h, "x-ms-throttle-information", r->throttle_info);
    }
    if (r->text != NULL) {
        gs_json_add_str(h, "Content-Type", "text/plain");
    } else if (r->body != NULL) {
        gs_json_add_str(h, "Content-Type",
                        "application/json;odata.metadata=minimal;odata.streaming=true;"
                        "IEEE754Compatible=false;charset=utf-8");
    }
    json_object_object_add(o, "headers", h);
    if (r->text != NULL) {
        /* A body that is not JSON goes into a batch answer base64-encoded, as Graph does. */
        char *b64 = gs_base64(r->text, strlen(r->text));

        gs_json_add_str(o, "body", b64);
        free(b64);
    } else if (r->body != NULL) {
        json_object_object_add(o, "body", json_object_get(r->body));
    }
    return o;
}

static void batch(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    struct item it[BATCH_MAX];
    size_t n = 0, done = 0, order[BATCH_MAX];
    json_object *body, *out, *arr;
    bool same = true;

    memset(it, 0, sizeof(it));
    if (strcmp(req->method, "POST") != 0) {
        method_not_allowed(ctx, resp);
        return;
    }
    if (!options_ok(ctx, req, resp, "") || (body = body_object(ctx, req, resp)) == NULL ||
        !batch_parse(ctx, resp, body, it, &n)) {
        return;
    }
    /* Run in request order, each item once its dependencies have answered. */
    while (done < n) {
        bool progress = false;

        for (size_t i = 0; i < n; i++) {
            struct item *x = &it[i];
            struct gs_resp r = {0};
            struct gs_req ir;
            char *url;
            bool failed;

            if (x->status != 0 || !deps_done(it, n, x, &failed)) {
                continue;
            }
            url = x->url[0] == '/' ? gs_xstrdup(x->url) : gs_xasprintf("/%s", x->url);
            gs_req_init(&ir, x->method, url);
            free(url);
            ir.json = x->body ? json_object_get(x->body) : NULL;
            ir.has_body = x->has_body;
            ir.content_type = x->content_type;
            ir.consistency = header_of(x->headers, "ConsistencyLevel");
            ir.prefer = header_of(x->headers, "Prefer");
            ir.batch_item = true;
            if (failed) {
                /* Not run; run_item only records it (see gs_run_item_fn). */
                gs_error(ctx, &r, 424, "FailedDependency",
                         "The request this one depends on failed, so it was not run.");
            }
            ctx->run_item(ctx, &ir, &r, x->id);
            gs_req_clear(&ir);
            if (r.hold > resp->hold) {
                resp->hold = r.hold; /* an item's late answer holds the whole batch */
            }
            x->status = r.status;
            x->reply = item_reply(x, &r);
            gs_resp_clear(&r);
            order[done++] = i;
            progress = true;
        }
        if (!progress) {
            /* A dependency cycle: nothing can run. */
            for (size_t i = 0; i < n; i++) {
                json_object_put(it[i].reply);
            }
            batch_bad(ctx, resp, "The dependsOn graph of this batch has a cycle.");
            return;
        }
    }
    /* Graph answers in any order; answer in reverse completion order (or completion order when
     * that reverse is the request order) so clients that rely on request order fail here rather
     * than in production. */
    for (size_t i = 0; i < n; i++) {
        same = same && order[n - 1 - i] == i;
    }
    out = json_object_new_object();
    arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(arr, it[same ? order[i] : order[n - 1 - i]].reply);
    }
    json_object_object_add(out, "responses", arr);
    set_body(resp, 200, out);
}

/* }====== */

/* {====== deleted items ====== */

/* A deleted user as Graph lists it under /directory/deletedItems: a user entity (with $select)
 * and its deletedDateTime. */
static json_object *deleted_entity(const struct gs_user *u, const int *sel, size_t nsel,
                                   const char *context)
{
    json_object *o = user_entity(u, sel, nsel, context, "#microsoft.graph.user");

    json_object_object_add(o, "deletedDateTime", json_object_get(u->v[GS_U_DELETED_DATE_TIME]));
    return o;
}

/*
 * /directory/deletedItems (Entra's recycle bin, 30 days for users):
 *   GET    .../microsoft.graph.user   the deleted users (paged)
 *   GET    .../{id}                   one deleted user; 404 when not there
 *   POST   .../{id}/restore           restores it with its memberships, roles and licences:
 *                                     200 with the user; 404 when not there; 400 when another
 *                                     user has taken its userPrincipalName
 *   DELETE .../{id}                   deletes it for good (as the 30 days ending would)
 */
static void route_directory(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    const char *m = req->method;
    int sel[GS_U_COUNT];
    size_t nsel;
    char list[2048];
    struct gs_deleted *d;

    if (req->nseg < 3 || strcasecmp(req->seg[1], "deletedItems") != 0 || req->nseg > 4) {
        unknown_segment(ctx, resp, req->nseg > 1 ? req->seg[1] : "directory");
        return;
    }
    if (req->nseg == 3 && (strcasecmp(req->seg[2], "microsoft.graph.user") == 0 ||
                           strcasecmp(req->seg[2], "graph.user") == 0)) {
        json_object *items = json_object_new_array();
        long top;
        uint64_t skip;

        if (strcmp(m, "GET") != 0) {
            json_object_put(items);
            method_not_allowed(ctx, resp);
            return;
        }
        if (!options_ok(ctx, req, resp, "$select $top $skiptoken") ||
            !page_params(ctx, req, resp, &top, &skip) ||
            !user_select(ctx, req, resp, sel, &nsel, list, sizeof(list))) {
            json_object_put(items);
            return;
        }
        for (size_t i = 0; i < ctx->tenant->ndeleted; i++) {
            json_object_array_add(items,
                                  deleted_entity(ctx->tenant->deleted[i]->user, sel, nsel, NULL));
        }
        list_reply(ctx, req, resp, CTX_BASE "directory/deletedItems/microsoft.graph.user", items,
                   top, skip);
        return;
    }
    d = gs_tenant_deleted(ctx->tenant, req->seg[2]);
    if (req->nseg == 4) {
        if (strcasecmp(req->seg[3], "restore") != 0) {
            unknown_segment(ctx, resp, req->seg[3]);
        } else if (strcmp(m, "POST") != 0) {
            method_not_allowed(ctx, resp);
        } else if (!options_ok(ctx, req, resp, "")) {
            return;
        } else if (d == NULL) {
            not_found(ctx, resp, req->seg[2]);
        } else {
            struct gs_user *u = d->user;

            if (!gs_tenant_user_restore(ctx->tenant, d)) {
                gs_error(ctx, resp, 400, "Request_BadRequest",
                         "Another object with the same value for property userPrincipalName "
                         "already exists.");
                return;
            }
            set_body(resp, 200,
                     user_entity(u, NULL, 0, CTX_BASE "directoryObjects/$entity",
                                 "#microsoft.graph.user"));
        }
        return;
    }
    if (strcmp(m, "GET") == 0) {
        if (!options_ok(ctx, req, resp, "$select") ||
            !user_select(ctx, req, resp, sel, &nsel, list, sizeof(list))) {
            return;
        }
        if (d == NULL) {
            not_found(ctx, resp, req->seg[2]);
            return;
        }
        set_body(resp, 200,
                 deleted_entity(d->user, sel, nsel, CTX_BASE "directoryObjects/$entity"));
    } else if (strcmp(m, "DELETE") == 0) {
        if (!options_ok(ctx, req, resp, "")) {
            return;
        }
        if (d == NULL) {
            not_found(ctx, resp, req->seg[2]);
            return;
        }
        gs_tenant_deleted_purge(ctx->tenant, d);
        resp->status = 204;
    } else {
        method_not_allowed(ctx, resp);
    }
}

/* }====== */

/* {====== router ====== */

void gs_graph_dispatch(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    const char *first;

    resp->status = 0;
    if (req->bad_target) {
        gs_error(ctx, resp, 400, "BadRequest", "The request URI is not valid: bad %%-encoding.");
        return;
    }
    if (req->nseg == 0) {
        unknown_segment(ctx, resp, "");
        return;
    }
    first = req->seg[0];
    if (strcasecmp(first, "users") == 0) {
        route_user(ctx, req, resp);
    } else if (strcasecmp(first, "subscribedSkus") == 0) {
        subscribed_skus(ctx, req, resp);
    } else if (strcasecmp(first, "roleManagement") == 0) {
        route_roles(ctx, req, resp);
    } else if (strcasecmp(first, "groups") == 0) {
        route_group(ctx, req, resp);
    } else if (strcasecmp(first, "directory") == 0) {
        route_directory(ctx, req, resp);
    } else if (strcasecmp(first, "drives") == 0 && req->nseg >= 2) {
        gs_kit_drives(ctx, req, resp); /* issue 18 (kit.c) */
    } else if (strcmp(first, "$batch") == 0 && req->nseg == 1 && !req->batch_item) {
        batch(ctx, req, resp);
    } else {
        unknown_segment(ctx, resp, first);
    }
    if (ctx->model != NULL && ctx->model->timeout_next_create > 0 && resp->status == 201 &&
        strcmp(req->method, "POST") == 0) {
        /* Applied, and then the answer is late: the client times out and may send it again. */
        resp->hold = ctx->model->timeout_next_create;
        ctx->model->timeout_next_create = 0;
    }
}

/* }====== */
