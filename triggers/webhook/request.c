/*
 * webhook_request — decoding one webhook delivery into events; see webhook_request.h.
 */
#include "triggers/webhook/request.h"

#include <ctype.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/base/form.h"
#include "engine/base/json.h"
#include "engine/base/xml.h"
#include "engine/lua/lua_host.h"
#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "triggers/webhook/preset.h"

#define WR_WEBHOOK_MAX_DEPTH 64 /* JSON nesting accepted in a body */

bool wr_webhook_secret_header(const char *name)
{
    static const char *const exact[] = {"authorization",     "cookie",    "proxy-authorization",
                                        "webhook-signature", "x-api-key", NULL};
    for (size_t i = 0; exact[i]; i++) {
        if (strcasecmp(name, exact[i]) == 0) {
            return true;
        }
    }
    /* X-Hub-Signature-256, X-Signature, X-BambooHR-Signature, X-Auth-Token, ... */
    char low[128];
    size_t n = 0;
    for (; name[n] && n < sizeof(low) - 1; n++) {
        low[n] = (char)tolower((unsigned char)name[n]);
    }
    low[n] = '\0';
    if (name[n]) {
        return true; /* a header name this long is not worth keeping anyway */
    }
    return strstr(low, "signature") || strstr(low, "token") || strstr(low, "secret");
}

/* The body format a Content-Type names (wr_webhook_body bits), or 0 for anything else.
   Parameters (charset, action) are allowed after a ';'. */
static unsigned body_kind(const char *ct)
{
    static const struct {
        const char *type;
        unsigned kind;
    } types[] = {
        {"application/json", WR_WEBHOOK_BODY_JSON},
        {"application/x-www-form-urlencoded", WR_WEBHOOK_BODY_FORM},
        {"application/xml", WR_WEBHOOK_BODY_XML},
        {"text/xml", WR_WEBHOOK_BODY_XML},
        {"application/soap+xml", WR_WEBHOOK_BODY_XML},
    };
    if (!ct) {
        return 0;
    }
    while (*ct == ' ') {
        ct++;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].type);
        if (strncasecmp(ct, types[i].type, n) == 0) {
            const char *rest = ct + n;
            while (*rest == ' ') {
                rest++;
            }
            if (*rest == '\0' || *rest == ';') {
                return types[i].kind;
            }
        }
    }
    return 0;
}

static const char *str_arg(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The vendor preset of wf's `auth:`, or NULL. */
static const struct wr_webhook_preset *route_preset(const struct wr_workflow *wf)
{
    struct json_object *auth = NULL;
    json_object_object_get_ex(wf->trigger_args, "auth", &auth);
    return wr_webhook_preset_find(str_arg(auth, "type"));
}

/* The bodies wf's path takes: `accept:`, else its preset's, else JSON. */
static unsigned route_accept(const struct wr_workflow *wf)
{
    struct json_object *accept = NULL;
    if (json_object_object_get_ex(wf->trigger_args, "accept", &accept) &&
        json_object_is_type(accept, json_type_array)) {
        unsigned mask = 0;
        for (size_t i = 0; i < json_object_array_length(accept); i++) {
            mask |=
                wr_webhook_body_bit(json_object_get_string(json_object_array_get_idx(accept, i)));
        }
        return mask;
    }
    const struct wr_webhook_preset *p = route_preset(wf);
    return p ? p->accept : WR_WEBHOOK_BODY_JSON;
}

/* The delivery's key from the headers senders use, or NULL; *from: the header's name, lower
   case (the key's scope names it: the same value in another header is another key). */
static const char *header_key(const struct evkeyvalq *in, const char **from)
{
    static const char *const names[] = {"webhook-id", "X-GitHub-Delivery", "X-Request-Id", NULL};
    static const char *const lower[] = {"webhook-id", "x-github-delivery", "x-request-id", NULL};
    for (size_t i = 0; names[i]; i++) {
        const char *v = evhttp_find_header(in, names[i]);
        if (v && *v) {
            *from = lower[i];
            return v;
        }
    }
    return NULL;
}

/* Evaluates an `id:` template for one event in wf's sandbox. Owned string or NULL + err. */
static char *template_key(const struct wr_workflow *wf, const char *tmpl, struct json_object *ev,
                          char *err, size_t errlen)
{
    int scope = wr_lua_scope_new(wf->lua);
    struct json_object *t = json_object_new_string(tmpl), *v = NULL;
    char *key = NULL;
    if (wr_lua_scope_set(wf->lua, scope, "event", ev) == 0 &&
        wr_lua_scope_set(wf->lua, scope, "vars", wf->vars) == 0 &&
        wr_lua_render(wf->lua, scope, t, &v, err, errlen) == 0) {
        if (v && !json_object_is_type(v, json_type_null)) {
            key = wr_xstrdup(json_object_is_type(v, json_type_string)
                                 ? json_object_get_string(v)
                                 : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        } else {
            snprintf(err, errlen, "the id template '%s' gave nothing", tmpl);
        }
    }
    json_object_put(v);
    json_object_put(t);
    wr_lua_scope_free(wf->lua, scope);
    return key;
}

static void fail(struct wr_webhook_decoded *d, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct wr_webhook_decoded *d, int status, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof(d->error), fmt, ap);
    va_end(ap);
    d->status = status;
    d->reason = reason;
}

/*
 * Parses the body by its kind: JSON with weir's strict reader (RFC 8259: no NaN, single quotes,
 * duplicate keys, NUL, numbers it cannot hold exactly), a form into an object of strings
 * (engine/base/form), XML or SOAP into a tree (engine/base/xml: no DTD, no entities, no
 * network). 0, or -1 with the 400 answer filled in.
 */
static int parse_body(struct wr_webhook_decoded *d, unsigned kind, const char *data, size_t len)
{
    if (len > (size_t)INT32_MAX) {
        fail(d, 413, "Payload Too Large", "the body is too large");
        return -1;
    }
    if (kind == WR_WEBHOOK_BODY_FORM) {
        struct wr_form_error e;
        if (wr_form_parse(data ? data : "", len, 0, &d->body, &e) == 0) {
            return 0;
        }
        fail(d, 400, "Bad Request", "invalid form body at byte %zu: %s", e.offset, e.msg);
        return -1;
    }
    if (kind == WR_WEBHOOK_BODY_XML) {
        struct wr_xml_opts opts = {.max_depth = WR_WEBHOOK_MAX_DEPTH};
        struct wr_xml_error e;
        if (wr_xml_parse(data ? data : "", len, &opts, &d->body, &e) == 0) {
            return 0;
        }
        if (e.line > 0) {
            fail(d, 400, "Bad Request", "invalid XML at line %d: %s", e.line, e.msg);
        } else {
            fail(d, 400, "Bad Request", "invalid XML: %s", e.msg);
        }
        return -1;
    }
    struct wr_json_opts opts = {.max_depth = WR_WEBHOOK_MAX_DEPTH, .what = "the body"};
    struct wr_json_error e;
    if (wr_json_parse(data, len, &opts, &d->body, &e) == 0) {
        return 0;
    }
    if (e.path[0]) {
        fail(d, 400, "Bad Request", "invalid JSON at line %d, column %d (at %s): %s", e.line, e.col,
             e.path, e.msg);
    } else {
        fail(d, 400, "Bad Request", "invalid JSON at line %d, column %d: %s", e.line, e.col, e.msg);
    }
    return -1;
}

void wr_webhook_decode(const struct wr_workflow *wf, const struct evkeyvalq *in, const char *data,
                       size_t len, struct wr_webhook_decoded *d)
{
    memset(d, 0, sizeof(*d));
    const char *ct = evhttp_find_header(in, "Content-Type");
    unsigned accept = route_accept(wf), kind = body_kind(ct);
    if (!(kind & accept)) {
        char names[64];
        wr_webhook_body_names(accept, names, sizeof(names));
        char *shown = wr_text_cap(ct ? ct : "no Content-Type", 100);
        fail(d, 415, "Unsupported Media Type", "this path accepts %s bodies (accept:), got %s%s",
             names, shown,
             accept == WR_WEBHOOK_BODY_JSON ? " (Content-Type: application/json)" : "");
        free(shown);
        return;
    }
    if (parse_body(d, kind, data, len) != 0) {
        return;
    }

    struct json_object *v = NULL;
    const char *id_tmpl =
        json_object_object_get_ex(wf->trigger_args, "id", &v) ? json_object_get_string(v) : NULL;
    /* A preset's event id names the whole delivery (items of a split one get KEY:INDEX). */
    const struct wr_webhook_preset *preset = route_preset(wf);
    const char *body_id = !id_tmpl && preset ? preset->default_id : NULL;
    const char *split_expr =
        json_object_object_get_ex(wf->trigger_args, "split", &v) ? json_object_get_string(v) : NULL;
    const char *from = NULL;
    const char *hkey = header_key(in, &from);
    char err[WR_ERR_MAX];
    if (body_id) {
        d->delivery_key = template_key(wf, body_id, d->body, err, sizeof(err));
        if (!d->delivery_key) {
            fail(d, 422, "Unprocessable Entity", "the %s event id: %s", preset->vendor, err);
            return;
        }
        hkey = d->delivery_key;
        from = "id";
    }
    /* The keys' scope: this path, and where on it the key came from. Workflows sharing a path
       share its deliveries (one event, a run per matching workflow) and, checked at load, its
       `id:` template, so the path is the scope, not the workflow. legacy: the scope of keys
       stored before the origin was part of it (the path alone). */
    const char *path =
        json_object_object_get_ex(wf->trigger_args, "path", &v) ? json_object_get_string(v) : "";
    if (id_tmpl || hkey) {
        d->scope = wr_xasprintf("webhook %s (%s)", path, id_tmpl ? "id" : from);
        d->legacy_scope = wr_xasprintf("webhook %s", path);
    }

    /* An event is an object; a split delivery may also be a list, which `split:` takes apart. */
    if (!json_object_is_type(d->body, json_type_object) &&
        !(split_expr && json_object_is_type(d->body, json_type_array))) {
        fail(d, 422, "Unprocessable Entity", "the body must be a JSON object%s, got %s",
             split_expr ? " (or a list for split:)" : "", wr_json_type_name(d->body));
        return;
    }
    size_t n = 1;
    if (split_expr) {
        int scope = wr_lua_scope_new(wf->lua);
        int rc = wr_lua_scope_set(wf->lua, scope, "event", d->body);
        if (rc == 0) {
            rc = wr_lua_eval(wf->lua, scope, split_expr, strlen(split_expr), &d->split, err,
                             sizeof(err));
        } else {
            snprintf(err, sizeof(err), "the body cannot be passed to Lua (nested too deeply?)");
        }
        wr_lua_scope_free(wf->lua, scope);
        if (rc == 0 && json_object_is_type(d->split, json_type_object)) {
            /* One object where a list was expected, as an XML element that happens not to
               repeat: a list of one. */
            struct json_object *one = json_object_new_array();
            json_object_array_add(one, d->split);
            d->split = one;
        }
        if (rc != 0 || !json_object_is_type(d->split, json_type_array)) {
            if (rc == 0) {
                snprintf(err, sizeof(err), "split: '%s' is not a list in this body", split_expr);
            }
            fail(d, 422, "Unprocessable Entity", "%s", err);
            return;
        }
        n = json_object_array_length(d->split);
        d->is_split = true;
        for (size_t i = 0; i < n; i++) {
            struct json_object *el = json_object_array_get_idx(d->split, i);
            if (!json_object_is_type(el, json_type_object)) {
                fail(d, 422, "Unprocessable Entity",
                     "split: item %zu of '%s' is %s; each must be a JSON object (one event)", i,
                     split_expr, wr_json_type_name(el));
                return;
            }
        }
    }
    d->events = wr_xcalloc(n ? n : 1, sizeof(*d->events));
    d->keys = wr_xcalloc(n ? n : 1, sizeof(*d->keys));
    d->count = n;
    for (size_t i = 0; i < n; i++) {
        d->events[i].event = d->split ? json_object_array_get_idx(d->split, i) : d->body;
        if (!d->split && kind == WR_WEBHOOK_BODY_JSON) {
            d->events[i].text = data; /* validated above: strict JSON, an object */
            d->events[i].text_len = len;
        }
        if (id_tmpl) {
            d->keys[i] = template_key(wf, id_tmpl, d->events[i].event, err, sizeof(err));
            if (!d->keys[i]) {
                fail(d, 422, "Unprocessable Entity", "id: %s", err);
                return;
            }
        } else if (hkey) {
            d->keys[i] = d->split ? wr_xasprintf("%s:%zu", hkey, i) : wr_xstrdup(hkey);
        }
        d->events[i].key = d->keys[i];
        d->events[i].scope = d->scope;
        d->events[i].legacy_scope = d->legacy_scope;
    }

    d->headers = json_object_new_object();
    for (const struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
        if (!wr_webhook_secret_header(kv->key)) {
            json_object_object_add(d->headers, kv->key, json_object_new_string(kv->value));
        }
    }
}

void wr_webhook_decoded_clear(struct wr_webhook_decoded *d)
{
    for (size_t i = 0; d->keys && i < d->count; i++) {
        free(d->keys[i]);
    }
    free(d->keys);
    free(d->scope);
    free(d->legacy_scope);
    free(d->delivery_key);
    free(d->events);
    json_object_put(d->headers);
    json_object_put(d->split);
    json_object_put(d->body);
    memset(d, 0, sizeof(*d));
}
