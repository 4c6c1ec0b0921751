/*
 * webhook_server — evhttp routes for webhook workflows; see webhook_server.h.
 */
#include "triggers/webhook/server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/net/http_guard.h"
#include "engine/net/http_reply.h"
#include "engine/net/listener.h"
#include "engine/store/ingest.h"
#include "engine/store/trigger_state.h"
#include "engine/base/log.h"
#include "engine/lua/lua_host.h"
#include "engine/base/metrics.h"
#include "engine/base/strutil.h"
#include "engine/lua/template.h"
#include "engine/lang/workflow_set.h"
#include "triggers/webhook/auth.h"
#include "triggers/webhook/preset.h"
#include "triggers/webhook/request.h"
#include "triggers/webhook/setup.h"
#include "triggers/trigger.h"

/* One path's verifier, resolved when the set is installed. */
struct route_auth {
    char *path;
    struct wr_webhook_auth *auth; /* NULL: the secret could not be resolved, refuse all */
    struct wr_webhook_auth *peer; /* allow_from alone: what a setup handshake must pass */
};

struct wr_webhook_server {
    struct event_base *base;
    struct wr_ingest *ingest;
    const struct wr_workflow_set *set;
    struct wr_listener *listener; /* the evhttp behind its guard (limits, deadlines, sizes) */
    size_t pending;
    struct route_auth *auths; /* one per webhook path of set */
    size_t nauths;
    const char *mount_prefix; /* a page of the core served here (wr_webhook_server_mount) */
    void (*mount_fn)(struct evhttp_request *req, void *arg);
    void *mount_arg;
};

/* One request waiting for its commit. */
struct pending {
    struct wr_webhook_server *srv;
    struct evhttp_request *req;
    size_t count;
    bool split; /* answered as a list of events, even of one */
};

/* The workflows routed at path (enabled or not: a disabled one still owns its path). */
static size_t route(const struct wr_workflow_set *set, const char *path,
                    const struct wr_workflow **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; set && i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        struct json_object *p = NULL;
        if (wf->trigger == &wr_trigger_webhook &&
            json_object_object_get_ex(wf->trigger_args, "path", &p) &&
            strcmp(json_object_get_string(p), path) == 0 && n < max) {
            out[n++] = wf;
        }
    }
    return n;
}

static void on_committed(void *arg, const struct wr_ingest_result *res)
{
    struct pending *p = arg;
    p->srv->pending--;
    if (res->rc != 0) {
        wr_metrics_event("webhook", "failed", p->count);
        /* Nothing was stored: the sender must retry, so no 2xx. */
        evhttp_add_header(evhttp_request_get_output_headers(p->req), "Retry-After", "5");
        wr_http_reply_error(p->req, 503, "Service Unavailable", "the event could not be stored: %s",
                            res->error ? res->error : "storage error");
        free(p);
        return;
    }
    int runs = 0;
    bool all_dup = true;
    for (size_t i = 0; i < res->count; i++) {
        runs += res->items[i].runs;
        all_dup = all_dup && res->items[i].duplicate;
        const char *outcome = res->items[i].runs > 0 ? "accepted" : "unmatched";
        wr_metrics_event("webhook", res->items[i].duplicate ? "duplicate" : outcome, 1);
    }
    struct json_object *o = json_object_new_object();
    if (res->count == 1 && !p->split) {
        json_object_object_add(o, "event_id", json_object_new_string(res->items[0].event_id));
    } else {
        struct json_object *ids = json_object_new_array();
        for (size_t i = 0; i < res->count; i++) {
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "event_id", json_object_new_string(res->items[i].event_id));
            json_object_object_add(e, "runs", json_object_new_int(res->items[i].runs));
            if (res->items[i].duplicate) {
                json_object_object_add(e, "duplicate", json_object_new_boolean(1));
            }
            json_object_array_add(ids, e);
        }
        json_object_object_add(o, "events", ids);
    }
    if (all_dup && res->count > 0) {
        json_object_object_add(o, "duplicate", json_object_new_boolean(1));
        wr_http_reply_json(p->req, 200, "OK", o);
    } else {
        json_object_object_add(o, "runs", json_object_new_int(runs));
        wr_http_reply_json(p->req, 202, "Accepted", o);
    }
    free(p);
}

/* {====== authentication ====== */

static void auths_free(struct route_auth *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].path);
        wr_webhook_auth_free(a[i].auth);
        wr_webhook_auth_free(a[i].peer);
    }
    free(a);
}

/*
 * Builds the verifiers of every webhook path in set (workflows sharing a path agree on auth,
 * checked at load, so the first one speaks for the path). With strict, a secret that cannot be
 * resolved fails the whole build (start-up); otherwise that path refuses every request and the
 * error is logged (a reload must not open a path nor take the others down).
 */
static int auths_build(const struct wr_workflow_set *set, bool strict, struct route_auth **out,
                       size_t *nout, char *err, size_t errlen)
{
    struct route_auth *a = wr_xcalloc(set && set->count ? set->count : 1, sizeof(*a));
    size_t n = 0;
    char why[WR_ERR_MAX];
    for (size_t i = 0; set && i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        struct json_object *p = NULL;
        if (wf->trigger != &wr_trigger_webhook ||
            !json_object_object_get_ex(wf->trigger_args, "path", &p)) {
            continue;
        }
        const char *path = json_object_get_string(p);
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++) {
            seen = strcmp(a[j].path, path) == 0;
        }
        if (seen) {
            continue;
        }
        char *dir = wr_path_dirname(wf->file);
        struct wr_webhook_auth *auth = wr_webhook_auth_new(wf->trigger_args, dir, why, sizeof(why));
        free(dir);
        struct json_object *ao = NULL, *to = NULL;
        const struct wr_webhook_preset *preset =
            json_object_object_get_ex(wf->trigger_args, "auth", &ao) &&
                    json_object_object_get_ex(ao, "type", &to)
                ? wr_webhook_preset_find(json_object_get_string(to))
                : NULL;
        /* A vendor that sends the secret at setup (Gusto's verification token) needs the path
           up before the admin has it: that path starts, refusing deliveries, and takes the
           handshake. */
        bool handshake = preset && preset->handshake == WR_WEBHOOK_HANDSHAKE_VERIFICATION_TOKEN;
        if (!auth) {
            if (strict && !handshake) {
                wr_errf_marked(err, errlen, "workflow '%s' (%s): %s", wf->name, wf->file, why);
                auths_free(a, n);
                return -1;
            }
            wr_log(WR_LOG_ERROR,
                   handshake ? "webhook path refuses deliveries until its secret is set; it "
                               "takes the vendor's verification token (weir webhooks)"
                             : "webhook path refuses every request: its secret is unavailable",
                   "workflow", wf->name, "path", path, "error", why, NULL);
        }
        a[n].path = wr_xstrdup(path);
        a[n].auth = auth;
        /* The peer check alone, without the secret (a handshake comes before there is one):
           the same arguments less auth: and secret:. */
        struct json_object *gate = NULL;
        json_object_deep_copy(wf->trigger_args, &gate, NULL);
        json_object_object_del(gate, "auth");
        json_object_object_del(gate, "secret");
        a[n].peer = wr_webhook_auth_new(gate, ".", why, sizeof(why));
        json_object_put(gate);
        n++;
    }
    *out = a;
    *nout = n;
    return 0;
}

static const char *header_cb(void *ctx, const char *name)
{
    return evhttp_find_header(ctx, name);
}

/*
 * Verifies req for path before anything else reads it. Returns true when it may go on;
 * otherwise the answer (401/403, with a generic body) has been sent and the reason logged.
 */
static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "";
}

/* The peer's address as text into addr ("unknown" when there is none). */
static void peer_text(const struct sockaddr *peer, char *addr, size_t addrlen)
{
    snprintf(addr, addrlen, "unknown");
    if (peer && peer->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, addr, (socklen_t)addrlen);
    } else if (peer && peer->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, addr,
                  (socklen_t)addrlen);
    }
}

static bool authenticate(struct wr_webhook_server *srv, struct evhttp_request *req,
                         const char *path)
{
    const struct wr_webhook_auth *auth = NULL;
    bool found = false;
    for (size_t i = 0; i < srv->nauths && !found; i++) {
        if (strcmp(srv->auths[i].path, path) == 0) {
            auth = srv->auths[i].auth;
            found = true;
        }
    }
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    const struct sockaddr *peer = conn ? evhttp_connection_get_addr(conn) : NULL;
    char why[WR_ERR_MAX] = "the secret of this path is unavailable";
    int code = 401;
    if (found && auth) {
        struct evbuffer *buf = evhttp_request_get_input_buffer(req);
        struct wr_webhook_request r = {
            .header = header_cb,
            .ctx = evhttp_request_get_input_headers(req),
            .peer = peer,
            .method = method_name(evhttp_request_get_command(req)),
            .path = path,
            .len = evbuffer_get_length(buf),
            .now = wr_clock_wall_ms() / 1000,
        };
        r.body = r.len ? evbuffer_pullup(buf, -1) : NULL;
        code = wr_webhook_auth_verify(auth, &r, why, sizeof(why));
    } else if (!found) {
        /* A route without an entry cannot happen; refuse rather than let it through. */
        snprintf(why, sizeof(why), "no verifier for this path");
    }
    if (code == 0) {
        return true;
    }
    char addr[INET6_ADDRSTRLEN];
    peer_text(peer, addr, sizeof(addr));
    wr_log(WR_LOG_WARN, "webhook request refused", "path", path, "peer", addr, "reason", why, NULL);
    wr_metrics_event("webhook", "rejected", 1);
    if (code == 403) {
        wr_http_reply_error(req, 403, "Forbidden", "forbidden");
    } else {
        wr_http_reply_error(req, 401, "Unauthorized", "unauthorized");
    }
    return false;
}

/* }====== */

/* {====== setup handshakes ====== */

/* The vendor preset of wf's `auth:`, or NULL. */
static const struct wr_webhook_preset *route_preset(const struct wr_workflow *wf)
{
    struct json_object *ao = NULL, *to = NULL;
    return json_object_object_get_ex(wf->trigger_args, "auth", &ao) &&
                   json_object_object_get_ex(ao, "type", &to)
               ? wr_webhook_preset_find(json_object_get_string(to))
               : NULL;
}

/* A verification token waiting for its commit. */
struct verification {
    struct wr_webhook_server *srv;
    struct evhttp_request *req;
    char *path, *token, *peer;
    const char *vendor;
};

static void on_verification_committed(void *arg, const struct wr_ingest_result *res)
{
    struct verification *v = arg;
    v->srv->pending--;
    if (res->rc != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(v->req), "Retry-After", "5");
        wr_http_reply_error(v->req, 503, "Service Unavailable",
                            "the verification token could not be stored: %s",
                            res->error ? res->error : "storage error");
    } else {
        /* Shown once, on purpose: the admin needs this value to finish the vendor's setup. */
        wr_log(WR_LOG_WARN,
               "webhook verification token received: put it in this path's secret, reload, "
               "and verify the subscription at the vendor (weir webhooks lists it)",
               "vendor", v->vendor, "path", v->path, "peer", v->peer, "token", v->token, NULL);
        wr_metrics_event("webhook", "verification", 1);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "verification_token_received", json_object_new_boolean(1));
        wr_http_reply_json(v->req, 200, "OK", o);
    }
    free(v->path);
    free(v->token);
    free(v->peer);
    free(v);
}

/*
 * Takes req when it is the verification handshake of its path's vendor (an unsigned POST of
 * {"verification_token": ...}): the token is committed to the journal, then the answer is 200.
 * Returns false, touching nothing, for any other request.
 */
static bool take_verification(struct wr_webhook_server *srv, struct evhttp_request *req,
                              const struct wr_workflow *wf, const char *path)
{
    const struct wr_webhook_preset *p = route_preset(wf);
    if (!p || p->handshake != WR_WEBHOOK_HANDSHAKE_VERIFICATION_TOKEN ||
        evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        return false;
    }
    struct evbuffer *buf = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(buf);
    const char *data = len ? (const char *)evbuffer_pullup(buf, -1) : NULL;
    const char *sig = evhttp_find_header(evhttp_request_get_input_headers(req), p->header);
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    const struct sockaddr *peer = conn ? evhttp_connection_get_addr(conn) : NULL;
    /* allow_from holds for the handshake too: outside it, authenticate() answers 403. */
    const struct wr_webhook_auth *gate = NULL;
    for (size_t i = 0; i < srv->nauths && !gate; i++) {
        if (strcmp(srv->auths[i].path, path) == 0) {
            gate = srv->auths[i].peer;
        }
    }
    char why[WR_ERR_MAX];
    struct wr_webhook_request pr = {
        .header = header_cb, .ctx = evhttp_request_get_input_headers(req), .peer = peer};
    if (!gate || wr_webhook_auth_verify(gate, &pr, why, sizeof(why)) != 0) {
        return false;
    }
    char *token = NULL;
    if (!wr_webhook_verification(p, sig, data, len, &token)) {
        return false;
    }
    char addr[INET6_ADDRSTRLEN];
    peer_text(peer, addr, sizeof(addr));
    char source[300];
    snprintf(source, sizeof(source), "webhook %s (verification)", path);
    struct wr_ingest_batch *b = wr_ingest_batch_new(source, NULL);
    char *scope = wr_webhook_setup_scope(path);
    char *rec = wr_webhook_verification_record(token, addr, wr_clock_wall_ms());
    wr_trigger_state_put(b, scope, "verification", rec);
    free(scope);
    free(rec);
    struct verification *v = wr_xcalloc(1, sizeof(*v));
    v->srv = srv;
    v->req = req;
    v->path = wr_xstrdup(path);
    v->token = token;
    v->peer = wr_xstrdup(addr);
    v->vendor = p->vendor;
    if (wr_ingest_batch_submit(srv->ingest, b, on_verification_committed, v) != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
        wr_http_reply_error(req, 503, "Service Unavailable", "weir is shutting down");
        free(v->path);
        free(v->token);
        free(v->peer);
        free(v);
        return true;
    }
    srv->pending++;
    return true;
}

/* }====== */

static void on_request(struct evhttp_request *req, void *arg)
{
    struct wr_webhook_server *srv = arg;
    /* The path as the client sent it: evhttp's parsed URI reads "//hooks//hr" as host
       "hooks" and path "//hr", which is neither what was asked for nor worth naming. */
    const char *target = evhttp_request_get_uri(req);
    char *raw = NULL;
    const char *path = NULL;
    if (target && target[0] == '/') {
        raw = wr_xstrndup(target, strcspn(target, "?#"));
        path = raw;
    } else {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        path = uri ? evhttp_uri_get_path(uri) : NULL;
    }
    /* A mounted page owns its prefix: no workflow path can shadow it. */
    if (srv->mount_prefix && path &&
        strncmp(path, srv->mount_prefix, strlen(srv->mount_prefix)) == 0) {
        free(raw);
        srv->mount_fn(req, srv->mount_arg);
        return;
    }
    const struct wr_workflow *routes[64];
    size_t nroutes = path ? route(srv->set, path, routes, 64) : 0;

    if (nroutes == 0) {
        /* The path as sent, cut when long: an answer's size does not follow the request's. */
        char *shown = wr_text_cap(path ? path : "this path", 256);
        wr_http_reply_error(req, 404, "Not Found", "no webhook at %s", shown);
        free(shown);
        free(raw);
        return;
    }
    /* A vendor's setup handshake comes before any secret exists: it carries none. */
    if (take_verification(srv, req, routes[0], path)) {
        free(raw);
        return;
    }
    /* First, on the raw bytes: nothing of an unauthenticated request is parsed or stored. */
    if (!authenticate(srv, req, path)) {
        free(raw);
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        wr_http_reply_error(req, 405, "Method Not Allowed", "webhooks take POST");
        free(raw);
        return;
    }
    struct evbuffer *buf = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(buf);
    const char *data = len ? (const char *)evbuffer_pullup(buf, -1) : NULL;
    if (wr_webhook_ping(route_preset(routes[0]), data, len)) {
        /* The vendor's test button: answered, nothing stored, no run. */
        wr_metrics_event("webhook", "ping", 1);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "ping", json_object_new_boolean(1));
        wr_http_reply_json(req, 200, "OK", o);
        free(raw);
        return;
    }
    struct wr_webhook_decoded d;
    wr_webhook_decode(routes[0], evhttp_request_get_input_headers(req), data, len, &d);
    if (d.status != 0) {
        wr_metrics_event("webhook", "rejected", 1);
        wr_http_reply_error(req, d.status, d.reason, "%s", d.error);
        goto out;
    }
    char source[300];
    snprintf(source, sizeof(source), "webhook %s", path);
    struct pending *p = wr_xcalloc(1, sizeof(*p));
    p->srv = srv;
    p->req = req;
    p->count = d.count;
    p->split = d.is_split;
    if (wr_ingest_submit(srv->ingest, source, d.headers, routes, nroutes, d.events, d.count,
                         on_committed, p) != 0) {
        free(p);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
        wr_metrics_event("webhook", "failed", d.count);
        wr_http_reply_error(req, 503, "Service Unavailable", "weir is shutting down");
        goto out;
    }
    srv->pending++;
out:
    wr_webhook_decoded_clear(&d);
    free(raw);
}

struct wr_webhook_server *wr_webhook_server_new(struct event_base *base, struct wr_ingest *in,
                                                const struct wr_workflow_set *set,
                                                const char *listen,
                                                const struct wr_http_limits *limits, char *err,
                                                size_t errlen)
{
    struct wr_webhook_server *srv = wr_xcalloc(1, sizeof(*srv));

    srv->base = base;
    srv->ingest = in;
    srv->set = set;
    if (auths_build(set, true, &srv->auths, &srv->nauths, err, errlen) != 0) {
        goto err;
    }
    if (wr_listener_new(base, "listen.webhook", "webhook", listen, limits, on_request, srv,
                        &srv->listener, err, errlen) != 0) {
        goto err;
    }
    return srv;
err:
    wr_webhook_server_free(srv);
    return NULL;
}

void wr_webhook_server_mount(struct wr_webhook_server *s, const char *prefix,
                             void (*fn)(struct evhttp_request *req, void *arg), void *arg)
{
    s->mount_prefix = prefix && fn ? prefix : NULL;
    s->mount_fn = fn;
    s->mount_arg = arg;
}

int wr_webhook_server_port(const struct wr_webhook_server *s)
{
    return wr_listener_port(s->listener);
}

void wr_webhook_server_set_workflows(struct wr_webhook_server *s, const struct wr_workflow_set *set)
{
    struct route_auth *a = NULL;
    size_t n = 0;
    char err[WR_ERR_MAX];
    /* Not strict: cannot fail; an unresolvable secret closes its path (logged there). */
    auths_build(set, false, &a, &n, err, sizeof(err));
    auths_free(s->auths, s->nauths);
    s->auths = a;
    s->nauths = n;
    s->set = set;
}

void wr_webhook_server_stop_accepting(struct wr_webhook_server *s)
{
    if (s) {
        wr_listener_stop_accepting(s->listener);
    }
}

size_t wr_webhook_server_pending(const struct wr_webhook_server *s)
{
    return s->pending;
}

void wr_webhook_server_free(struct wr_webhook_server *s)
{
    if (!s) {
        return;
    }
    wr_listener_free(s->listener);
    auths_free(s->auths, s->nauths);
    free(s);
}
