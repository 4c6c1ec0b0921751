/*
 * console — the web console's routes, headers, login and CSRF rule; see console.h.
 */
#include "engine/console/console.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "engine/base/json.h"
#include "engine/base/metrics.h"
#include "engine/base/strutil.h"
#include "engine/console/session.h"
#include "engine/lang/workflow_set.h"
#include "engine/net/http_reply.h"
#include "engine/store/history.h"
#include "triggers/trigger.h"

/* One embedded file: its URL path, Content-Type and bytes (the generated header's table). */
struct console_asset {
    const char *path;
    const char *type;
    const unsigned char *data;
    size_t len;
};

#include "engine/console/console_assets.h"

#define COOKIE_NAME "weir_session"

struct scope_wait;

struct wr_console {
    bool has_token;
    unsigned char token_digest[32];
    struct wr_sessions *sessions;
    char csrf_open[WR_SESSION_HEX_LEN + 1]; /* the process-wide token of an open admin API */
    struct scope_wait *scopes;              /* previews in flight (owned list) */
};

/* {====== headers and pages ====== */

bool wr_console_path(const char *path)
{
    return strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0 ||
           strncmp(path, "/api/", 5) == 0;
}

void wr_console_add_headers(struct evhttp_request *req)
{
    wr_http_add_page_headers(req, "default-src 'none'; script-src 'self'; style-src 'self'; "
                                  "img-src 'self'; connect-src 'self'; form-action 'self'; "
                                  "frame-ancestors 'none'; base-uri 'none'");
}

void wr_console_serve_ui(struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        wr_http_reply_error(req, 405, "Method Not Allowed", "this path takes GET");
        return;
    }
    if (strcmp(path, "/ui") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/ui/");
        wr_http_reply_text(req, 301, "Moved Permanently", "text/plain; charset=utf-8",
                           "moved to /ui/\n", 14);
        return;
    }
    for (size_t i = 0; i < sizeof(console_assets) / sizeof(console_assets[0]); i++) {
        if (strcmp(path, console_assets[i].path) == 0) {
            wr_http_reply_text(req, 200, "OK", console_assets[i].type,
                               (const char *)console_assets[i].data, console_assets[i].len);
            return;
        }
    }
    char *shown = wr_text_cap(path, 64);
    wr_http_reply_error(req, 404, "Not Found", "no such path: %s", shown);
    free(shown);
}

/* }====== */

/* {====== who is asking ====== */

static const char *header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* Whether req looks like a browser's: it carries Cookie, Origin or Sec-Fetch-Site. */
static bool browser_like(struct evhttp_request *req)
{
    return header(req, "Cookie") || header(req, "Origin") || header(req, "Sec-Fetch-Site");
}

/*
 * "host:port" of an authority (s[0..len), "host" or "host:port", "[v6]:port"), lowercased,
 * with default_port when it has none, into out. False when it does not fit or is empty.
 */
static bool authority(const char *s, size_t len, const char *default_port, char *out, size_t outlen)
{
    const char *end = s + len;
    const char *colon = NULL;
    if (len == 0) {
        return false;
    }
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) {
            return false;
        }
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(s, ':', len);
    }
    size_t hostlen = colon ? (size_t)(colon - s) : len;
    const char *port = colon ? colon + 1 : default_port;
    size_t portlen = colon ? (size_t)(end - port) : strlen(default_port);
    if (hostlen == 0 || portlen == 0 || hostlen + portlen + 2 > outlen) {
        return false;
    }
    for (size_t i = 0; i < hostlen; i++) {
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    }
    out[hostlen] = ':';
    memcpy(out + hostlen + 1, port, portlen);
    out[hostlen + 1 + portlen] = '\0';
    return true;
}

/* Whether the Origin header (present) names the same host:port as the Host header. */
static bool same_origin(const char *origin, const char *host)
{
    char o[300], h[300];
    const char *dflt = NULL;
    if (strncasecmp(origin, "http://", 7) == 0) {
        origin += 7;
        dflt = "80";
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        origin += 8;
        dflt = "443";
    }
    /* An Origin is scheme://host[:port] and nothing more; "null" and the like are refused. */
    if (!dflt || !host || strchr(origin, '/')) {
        return false;
    }
    return authority(origin, strlen(origin), dflt, o, sizeof(o)) &&
           authority(host, strlen(host), dflt, h, sizeof(h)) && strcmp(o, h) == 0;
}

bool wr_console_origin_ok(struct evhttp_request *req)
{
    const char *origin = header(req, "Origin");
    const char *site = header(req, "Sec-Fetch-Site");
    bool cross =
        (origin && !same_origin(origin, header(req, "Host"))) ||
        (site && (strcasecmp(site, "cross-site") == 0 || strcasecmp(site, "same-site") == 0));
    if (cross) {
        wr_http_reply_error(req, 403, "Forbidden",
                            "cross-origin request refused: the console's API answers only its "
                            "own pages");
    }
    return !cross;
}

/*
 * Calls each(c, value, arg) for every weir_session cookie value of req (every Cookie header,
 * every pair) until it returns true; true then. A value is copied into a bounded buffer, so an
 * oversized one simply matches nothing.
 */
static bool each_session_cookie(struct evhttp_request *req,
                                bool (*each)(struct wr_console *c, const char *value, void *arg),
                                struct wr_console *c, void *arg)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, in, next)
    {
        if (strcasecmp(kv->key, "Cookie") != 0) {
            continue;
        }
        for (const char *p = kv->value; *p;) {
            p += strspn(p, " \t;");
            size_t len = strcspn(p, ";");
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            while (klen > 0 && (p[klen - 1] == ' ' || p[klen - 1] == '\t')) {
                klen--;
            }
            if (eq && klen == strlen(COOKIE_NAME) && memcmp(p, COOKIE_NAME, klen) == 0) {
                const char *v = eq + 1;
                size_t vlen = len - (size_t)(v - p);
                while (vlen > 0 && (*v == ' ' || *v == '"')) {
                    v++;
                    vlen--;
                }
                while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '"')) {
                    vlen--;
                }
                if (vlen == WR_SESSION_HEX_LEN) {
                    char value[WR_SESSION_HEX_LEN + 1];
                    memcpy(value, v, vlen);
                    value[vlen] = '\0';
                    bool done = each(c, value, arg);
                    OPENSSL_cleanse(value, sizeof(value));
                    if (done) {
                        return true;
                    }
                }
            }
            p += len;
        }
    }
    return false;
}

/* The cookie value of a live session, copied into arg (WR_SESSION_HEX_LEN + 1 bytes). */
static bool find_live(struct wr_console *c, const char *value, void *arg)
{
    if (!wr_sessions_find(c->sessions, value, NULL)) {
        return false;
    }
    memcpy(arg, value, WR_SESSION_HEX_LEN + 1);
    return true;
}

/* The live session's cookie value of req into cookie; false when it has none. */
static bool live_cookie(struct wr_console *c, struct evhttp_request *req,
                        char cookie[WR_SESSION_HEX_LEN + 1])
{
    cookie[0] = '\0';
    return each_session_cookie(req, find_live, c, cookie);
}

bool wr_console_has_session(struct wr_console *c, struct evhttp_request *req)
{
    char cookie[WR_SESSION_HEX_LEN + 1];
    bool live = live_cookie(c, req, cookie);
    OPENSSL_cleanse(cookie, sizeof(cookie));
    return live;
}

bool wr_console_csrf_ok(struct wr_console *c, struct evhttp_request *req)
{
    char cookie[WR_SESSION_HEX_LEN + 1];
    if (!browser_like(req)) {
        return true;
    }
    const char *token = header(req, "X-CSRF-Token");
    bool ok = false;
    if (token && live_cookie(c, req, cookie)) {
        ok = wr_sessions_csrf_ok(c->sessions, cookie, token);
    } else if (token && !c->has_token) {
        ok = strlen(token) == WR_SESSION_HEX_LEN &&
             CRYPTO_memcmp(token, c->csrf_open, WR_SESSION_HEX_LEN) == 0;
    }
    OPENSSL_cleanse(cookie, sizeof(cookie));
    if (!ok) {
        wr_http_reply_error(req, 403, "Forbidden",
                            "CSRF token missing or wrong: a browser's POST must carry "
                            "X-CSRF-Token as GET /api/session gives it");
    }
    return ok;
}

/* }====== */

/* {====== session, login, logout ====== */

void wr_console_on_session(struct wr_console *c, struct evhttp_request *req, bool bearer)
{
    char cookie[WR_SESSION_HEX_LEN + 1], csrf[WR_SESSION_HEX_LEN + 1];
    const char *give = NULL;
    bool session = live_cookie(c, req, cookie);
    if (session) {
        wr_sessions_find(c->sessions, cookie, csrf);
        give = csrf;
    } else if (!c->has_token) {
        give = c->csrf_open;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "authenticated",
                           json_object_new_boolean(!c->has_token || session || bearer));
    json_object_object_add(o, "login_required", json_object_new_boolean(c->has_token));
    if (give) {
        json_object_object_add(o, "csrf", json_object_new_string(give));
    }
    wr_http_reply_json(req, 200, "OK", o);
    OPENSSL_cleanse(cookie, sizeof(cookie));
    OPENSSL_cleanse(csrf, sizeof(csrf));
}

/* The "token" string of a {"token": "..."} body into *out (borrowed from *body, owned by the
   caller); false after answering 400. */
static bool login_body(struct evhttp_request *req, struct json_object **body, const char **out)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *text = len ? (const char *)evbuffer_pullup(in, -1) : "";
    struct json_object *v = NULL;
    *body = NULL;
    *out = NULL;
    if (len && wr_json_parse(text, len, NULL, body, NULL) == 0 &&
        json_object_is_type(*body, json_type_object) &&
        json_object_object_get_ex(*body, "token", &v) && json_object_is_type(v, json_type_string) &&
        json_object_object_length(*body) == 1) {
        *out = json_object_get_string(v);
        return true;
    }
    /* The body may hold the token: no part of it goes into the message. */
    wr_http_reply_error(req, 400, "Bad Request", "expected a JSON body {\"token\": \"...\"}");
    return false;
}

bool wr_console_on_login(struct wr_console *c, struct evhttp_request *req)
{
    struct json_object *body = NULL;
    const char *token = NULL;
    bool wrong = false;
    char cookie[WR_SESSION_HEX_LEN + 1], csrf[WR_SESSION_HEX_LEN + 1], err[WR_ERR_MAX];
    if (!login_body(req, &body, &token)) {
        return false;
    }
    if (!c->has_token) {
        /* An open admin API has nothing to log in to: the page gets the token it needs. */
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "csrf", json_object_new_string(c->csrf_open));
        wr_http_reply_json(req, 200, "OK", o);
        goto out;
    }
    unsigned char d[32];
    unsigned int n = sizeof(d);
    EVP_Digest(token, strlen(token), d, &n, EVP_sha256(), NULL);
    bool right = CRYPTO_memcmp(d, c->token_digest, sizeof(d)) == 0;
    OPENSSL_cleanse(d, sizeof(d));
    if (!right) {
        wr_http_reply_error(req, 401, "Unauthorized", "login failed");
        wrong = true;
        goto out;
    }
    if (wr_sessions_create(c->sessions, cookie, csrf, err, sizeof(err)) != 0) {
        wr_http_reply_error(req, 500, "Internal Server Error", "%s", err);
        goto out;
    }
    char *set = wr_xasprintf(COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict", cookie);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", set);
    OPENSSL_cleanse(set, strlen(set));
    free(set);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "csrf", json_object_new_string(csrf));
    wr_http_reply_json(req, 200, "OK", o);
out:
    OPENSSL_cleanse(cookie, sizeof(cookie));
    OPENSSL_cleanse(csrf, sizeof(csrf));
    if (body) {
        /* the token's bytes go with the tree; wipe them first */
        struct json_object *v = NULL;
        if (json_object_object_get_ex(body, "token", &v) &&
            json_object_is_type(v, json_type_string)) {
            OPENSSL_cleanse((void *)json_object_get_string(v),
                            (size_t)json_object_get_string_len(v));
        }
        json_object_put(body);
    }
    return wrong;
}

void wr_console_on_logout(struct wr_console *c, struct evhttp_request *req)
{
    char cookie[WR_SESSION_HEX_LEN + 1];
    if (live_cookie(c, req, cookie)) {
        /* Ending a live session is a state change like any other: its CSRF token is asked. */
        if (!wr_console_csrf_ok(c, req)) {
            OPENSSL_cleanse(cookie, sizeof(cookie));
            return;
        }
        wr_sessions_drop(c->sessions, cookie);
    }
    OPENSSL_cleanse(cookie, sizeof(cookie));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
                      COOKIE_NAME "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "authenticated", json_object_new_boolean(!c->has_token));
    wr_http_reply_json(req, 200, "OK", o);
}

/* }====== */

/* {====== workflows and health ====== */

void wr_console_on_workflows(struct evhttp_request *req, const struct wr_workflow_set *set,
                             struct wr_db *db, const char *state_path, int64_t now_ms)
{
    struct json_object *last = NULL;
    char err[WR_ERR_MAX];
    if (wr_history_last_runs(db, &last, err, sizeof(err)) != 0) {
        wr_http_reply_error(req, 500, "Internal Server Error", "%s", err);
        return;
    }
    struct json_object *list = json_object_new_array();
    for (size_t i = 0; set && i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        const struct wr_trigger_kind *k = wf->trigger;
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(wf->name));
        const char *file = wf->file ? wf->file : "";
        json_object_object_add(o, "file", json_object_new_string(file)); /* not a trigger kind */
        json_object_object_add(o, "description",
                               wf->description ? json_object_new_string(wf->description) : NULL);
        json_object_object_add(o, "enabled", json_object_new_boolean(wf->enabled));
        json_object_object_add(o, "version", json_object_new_string(wf->hash));
        struct json_object *t = NULL;
        if (k) {
            t = json_object_new_object();
            char *summary = k->summarize ? k->summarize(wf) : NULL;
            json_object_object_add(t, "kind", json_object_new_string(k->name));
            json_object_object_add(t, "summary",
                                   json_object_new_string(summary ? summary : k->name));
            free(summary);
        }
        json_object_object_add(o, "trigger", t);
        json_object_object_add(o, "scope", json_object_new_boolean(k && k->scope));
        struct json_object *run = NULL;
        json_object_object_get_ex(last, wf->name, &run);
        json_object_object_add(o, "last_run", run ? json_object_get(run) : NULL);
        int64_t due = k && k->next_due && wf->enabled ? k->next_due(wf, state_path, now_ms) : -1;
        json_object_object_add(o, "next_due", due >= 0 ? json_object_new_int64(due) : NULL);
        json_object_array_add(list, o);
    }
    json_object_put(last);
    wr_http_reply_json(req, 200, "OK", list);
}

/* {====== GET /api/workflows/NAME/scope ====== */

/* A preview in flight. Linked into its console's list until it is answered; when the console is
   freed first, req is cleared and the answer is dropped (evhttp frees the request). */
struct scope_wait {
    struct evhttp_request *req;
    struct scope_wait *next;
    struct scope_wait **prev;
};

static void scope_unlink(struct scope_wait *w)
{
    if (w->prev) {
        *w->prev = w->next;
        if (w->next) {
            w->next->prev = w->prev;
        }
        w->prev = NULL;
        w->next = NULL;
    }
}

static void on_scope_done(void *arg, struct json_object *preview, const char *error)
{
    struct scope_wait *w = arg;
    if (w->req) {
        if (preview) {
            wr_http_reply_json(w->req, 200, "OK", json_object_get(preview));
        } else {
            wr_http_reply_error(w->req, 502, "Bad Gateway", "the preview failed: %s",
                                error ? error : "no answer");
        }
    }
    scope_unlink(w);
    free(w);
}

/* days from the query ("" or "days=N", 1..366); false after answering 400. */
static bool scope_days(struct evhttp_request *req, const char *query, int *days)
{
    *days = 7;
    if (!query || !*query) {
        return true;
    }
    char *end = NULL;
    long n = strncmp(query, "days=", 5) == 0 && query[5] ? strtol(query + 5, &end, 10) : 0;
    if (!end || *end || n < 1 || n > 366) {
        wr_http_reply_error(req, 400, "Bad Request",
                            "scope takes only days=N, a whole number of days from 1 to 366");
        return false;
    }
    *days = (int)n;
    return true;
}

void wr_console_on_scope(struct wr_console *c, struct evhttp_request *req,
                         const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                         const char *name, const char *query, int64_t now_ms)
{
    char err[WR_ERR_MAX];
    int days;
    if (!scope_days(req, query, &days)) {
        return;
    }
    const struct wr_workflow *wf = set ? wr_workflow_set_find(set, name) : NULL;
    if (!wf) {
        wr_http_reply_error(req, 404, "Not Found", "no workflow named '%s' is loaded", name);
        return;
    }
    if (!wf->trigger || !wf->trigger->scope) {
        wr_http_reply_error(req, 409, "Conflict",
                            "workflow '%s' is triggered by %s: nothing to preview", name,
                            wf->trigger ? wf->trigger->name : "nothing");
        return;
    }
    struct scope_wait *w = wr_xcalloc(1, sizeof(*w));
    w->req = req;
    w->next = c->scopes;
    w->prev = &c->scopes;
    if (c->scopes) {
        c->scopes->prev = &w->next;
    }
    c->scopes = w;
    if (wf->trigger->scope(env, wf, days, now_ms, on_scope_done, w, err, sizeof(err)) != 0) {
        scope_unlink(w);
        free(w);
        wr_http_reply_error(req, 503, "Service Unavailable", "the preview cannot start: %s", err);
    }
}

/* }====== */

struct queue_counts {
    int64_t queued, running, retrying, waiting, held;
};

static void count_state(void *arg, const char *workflow, const char *status, int64_t n)
{
    struct queue_counts *q = arg;
    (void)workflow;
    if (strcmp(status, "queued") == 0) {
        q->queued += n;
    } else if (strcmp(status, "running") == 0) {
        q->running += n;
    } else if (strcmp(status, "retrying") == 0) {
        q->retrying += n;
    } else if (strcmp(status, "waiting") == 0) {
        q->waiting += n;
    } else if (strcmp(status, "held") == 0) {
        q->held += n;
    }
}

static struct json_object *ms_or_null(int64_t ms)
{
    return ms > 0 ? json_object_new_int64(ms) : NULL;
}

void wr_console_on_health(struct evhttp_request *req, const struct wr_console_health *h)
{
    char err[WR_ERR_MAX];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(WEIR_VERSION));

    struct json_object *g = json_object_new_object();
    json_object_object_add(g, "enabled", json_object_new_boolean(h->graph_on));
    json_object_object_add(g, "signed_in", json_object_new_boolean(h->graph_signed_in));
    json_object_object_add(g, "last_error",
                           h->graph_error ? json_object_new_string(h->graph_error) : NULL);
    json_object_object_add(o, "graph", g);

    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "ok", json_object_new_boolean(h->journal_ok));
    json_object_object_add(j, "error",
                           h->journal_error ? json_object_new_string(h->journal_error) : NULL);
    json_object_object_add(o, "journal", j);

    struct queue_counts q = {0};
    struct json_object *queue = NULL;
    if (h->db && wr_history_count_by_state(h->db, count_state, &q, err, sizeof(err)) == 0) {
        queue = json_object_new_object();
        json_object_object_add(queue, "queued", json_object_new_int64(q.queued));
        json_object_object_add(queue, "running", json_object_new_int64(q.running));
        json_object_object_add(queue, "retrying", json_object_new_int64(q.retrying));
        json_object_object_add(queue, "waiting", json_object_new_int64(q.waiting));
        json_object_object_add(queue, "held", json_object_new_int64(q.held));
    }
    json_object_object_add(o, "queue", queue);

    struct json_object *t = json_object_new_object();
    json_object_object_add(t, "seen", json_object_new_int64((int64_t)h->throttled));
    json_object_object_add(t, "last_at", ms_or_null(h->last_throttled_ms));
    json_object_object_add(o, "throttling", t);

    struct json_object *triggers = json_object_new_array();
    for (size_t i = 0; h->set && i < h->set->count; i++) {
        const struct wr_workflow *wf = h->set->items[i];
        if (!wf->trigger) {
            continue;
        }
        struct wr_metrics_poll_state ps;
        bool polled = wr_metrics_poll_get(wf->trigger->name, wf->name, &ps);
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "workflow", json_object_new_string(wf->name));
        json_object_object_add(e, "kind", json_object_new_string(wf->trigger->name));
        json_object_object_add(e, "polls", json_object_new_boolean(polled));
        json_object_object_add(e, "last_poll_at", polled ? ms_or_null(ps.last_at_ms) : NULL);
        json_object_object_add(e, "last_ok_at", polled ? ms_or_null(ps.last_ok_ms) : NULL);
        json_object_object_add(e, "last_error",
                               polled && ps.error ? json_object_new_string(ps.error) : NULL);
        json_object_array_add(triggers, e);
    }
    json_object_object_add(o, "triggers", triggers);
    wr_http_reply_json(req, 200, "OK", o);
}

/* }====== */

struct wr_console *wr_console_new(const struct wr_console_options *o, char *err, size_t errlen)
{
    unsigned char raw[WR_SESSION_HEX_LEN / 2];
    struct wr_console *c = wr_xcalloc(1, sizeof(*c));
    c->sessions = wr_sessions_new(o->clock, o->clock_arg, err, errlen);
    if (!c->sessions) {
        free(c);
        return NULL;
    }
    if (o->token_digest) {
        c->has_token = true;
        memcpy(c->token_digest, o->token_digest, sizeof(c->token_digest));
    }
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        snprintf(err, errlen, "the console's CSRF token cannot be drawn (no random bytes)");
        wr_console_free(c);
        return NULL;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        c->csrf_open[2 * i] = digits[raw[i] >> 4];
        c->csrf_open[2 * i + 1] = digits[raw[i] & 15];
    }
    c->csrf_open[WR_SESSION_HEX_LEN] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return c;
}

void wr_console_free(struct wr_console *c)
{
    /* Previews still reading Graph answer nobody: their requests go with the listener. */
    while (c && c->scopes) {
        struct scope_wait *w = c->scopes;
        scope_unlink(w);
        w->req = NULL;
    }
    if (c) {
        wr_sessions_free(c->sessions);
        OPENSSL_cleanse(c, sizeof(*c));
        free(c);
    }
}
