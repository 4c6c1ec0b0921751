/*
 * server.c: graphsim's HTTP front (see server.h).
 *
 * Every request takes the same path: classify by first segment (/_sim, /v1.0, the token
 * endpoint, anything else), answer, log, and reply either at once or, when latency is
 * configured, from a timer event (never by sleeping). Graph requests and $batch items share one
 * pipeline (run): /users('...') key segments, Retry-After violation checks (per path and per
 * tenant-wide throttling scope), tenant-wide and global 429 bursts, injected 503, injected 429
 * for mutations, the Content-Type check (415), then graph.c, then an unusable answer if one is
 * due. The request log is a ring buffer so a long benchmark cannot grow memory without bound;
 * it keeps the headers weir must send and the bodies, never a token or a secret.
 *
 * A Retry-After counts from when its 429 was written to the client's socket (evhttp's
 * on-complete callback), not from when graphsim decided it: a delayed reply leaves when its
 * timer fires, which libevent's coarse, cached clock makes a few ms earlier or later than
 * "now + latency", and a client can only know of a 429 it has read. Each reply carries an
 * answer_note of the waits it announces; the windows open when the note is answered.
 */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "assertion.h"
#include "graph.h"
#include "tenant.h"
#include "util.h"

#define GRAPH_JSON                                                                                 \
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"        \
    "charset=utf-8"
#define PLAIN_JSON  "application/json; charset=utf-8"
#define GRAPH_HOST  "graph.microsoft.com"
#define JWT_BEARER  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define MAX_BODY    (4 * 1024 * 1024)
#define TOKEN_SWEEP 4096
#define LOG_BODY    4096 /* body bytes kept per request log entry */

struct stats {
    uint64_t requests;
    uint64_t graph_requests;
    uint64_t batch_items;
    uint64_t mutations;
    uint64_t token_requests;
    uint64_t tokens_issued;
    uint64_t throttled;
    uint64_t retry_after_violations;
    uint64_t injected_failures;
    uint64_t unauthorized;
    uint64_t unknown_paths;
    uint64_t bad_requests;
    uint64_t scope_violations;
    uint64_t bad_answers;
};

struct log_entry {
    uint64_t seq;
    double time;
    char method[8];
    char *path;
    int status;
    char digest[65];
    bool batch;
    char *batch_id;
    uint64_t parent;
    /* What the client sent: headers (NULL when absent) and the body text (at most LOG_BODY
       bytes; never for the token endpoint, whose form may hold a secret: its non-secret
       fields go to form). */
    char *ctype;
    char *crid;
    char *ua;
    char *auth;      /* the Authorization scheme only ("Bearer"), never the credential */
    char *rid;       /* the request-id graphsim answered with */
    double answered; /* monotonic time its answer was written to the socket; 0 = not yet */
    double arrived;  /* monotonic time it was logged */
    char *body;
    size_t body_len;
    json_object *form;
};

/* What log_add keeps beside the method, path and digest; every member may be NULL. */
struct log_meta {
    const char *ctype, *crid, *ua, *auth, *rid;
    bool keep_body;
    json_object *form; /* taken */
};

/* A Retry-After a reply gives one method + path (the per-path throttle). */
struct path_wait {
    char *key; /* "METHOD /v1.0/path" */
    double ra; /* seconds */
};

/* What a reply announces, applied when evhttp has written it (on_answered): the waits start
 * then. Listed on srv->notes until then; a reply never written (its client went away) opens no
 * window and its note is freed with the server. */
struct answer_note {
    struct gs_server *srv;
    struct answer_note *prev, *next;
    uint64_t seq;           /* the request's log entry (0 = none) */
    uint64_t epoch;         /* srv->epoch when made: a reset since drops the waits */
    uint64_t scope_epoch;   /* srv->scope_epoch when made: an ended burst drops scope waits */
    unsigned scope_classes; /* the classes a tenant-wide 429 in the reply named (1, 2, 3) */
    double scope_ra;        /* the longest Retry-After of those 429s, seconds; 0 = none */
    struct path_wait *paths;
    size_t npaths;
};

/* A wait a written tenant-wide 429 announced for one class of requests. */
struct scope_wait {
    double written; /* when the 429 was written (monotonic) */
    double until;   /* written + its Retry-After */
};

struct pending {
    struct gs_server *srv;
    struct evhttp_request *req;
    struct event *timer;
    int status;
    struct evbuffer *body;
    struct pending *prev, *next;
};

struct gs_server {
    struct event_base *base;
    struct evhttp *http;
    int port;
    char base_url[64];
    json_object *seed;
    struct gs_tenant *tenant;
    struct gs_options opt;
    struct gs_faults faults;
    struct gs_model model;     /* graph.c's behaviour switches (replica lag, PIM 403, ...) */
    uint64_t graph_counter;    /* Graph requests seen, for fail_every */
    uint64_t mutation_counter; /* mutation attempts seen, for throttle_every */
    struct stats stats;
    struct gs_map *tokens;   /* access token -> double * expiry (monotonic) */
    struct gs_map *throttle; /* "METHOD /v1.0/path" -> double * throttled until (monotonic),
                                counted from when the 429 was written */
    double burst_until;      /* a throttle_for burst: every Graph request 429s until then */
    double tenant_until;     /* a tenant-wide burst: requests of its scope 429 until then */
    /* [0] reads, [1] writes. scope_hold: after the burst, the scope is still answered 429
       until then (the longest wait announced, estimated when each 429 was decided: it decides
       answers only, never counts). waits: what written 429s told the client; a request inside
       one, more than the grace after its 429 was written, is a violation. */
    double scope_hold[2];
    struct scope_wait *waits[2];
    size_t nwaits[2], capwaits[2];
    struct answer_note *notes; /* replies not written yet */
    struct answer_note *note;  /* the one the request being handled fills */
    uint64_t epoch;            /* bumped by /_sim/reset */
    uint64_t scope_epoch;      /* bumped when a tenant-wide burst is ended */
    char graph_host[128];
    struct log_entry *log; /* ring of log_cap entries */
    size_t log_cap, log_len, log_head;
    uint64_t log_seq, log_dropped;
    struct pending *pending;
    bool closing; /* shutting down: reply without added latency */
};

/* One reply under construction. */
struct reply {
    int status;
    json_object *body;
    char *raw; /* owned: a body that is not JSON (the bad_answer fault), sent instead of body */
    size_t raw_len;
    const char *content_type;
    char retry_after[24];
    char throttle_scope[160];
    char throttle_info[48];
    bool www_auth;
    double hold; /* seconds to hold the reply (gs_resp.hold), else the configured latency */
    struct answer_note *note; /* taken by send_reply; NULL = none */
};

/* {====== request log ====== */

static void log_entry_clear(struct log_entry *e)
{
    free(e->path);
    free(e->batch_id);
    free(e->ctype);
    free(e->crid);
    free(e->ua);
    free(e->auth);
    free(e->rid);
    free(e->body);
    json_object_put(e->form);
    memset(e, 0, sizeof(*e));
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? gs_xstrdup(s) : NULL;
}

/* Appends an entry (status filled later through log_set_status); returns its seq. meta may be
 * NULL. */
static uint64_t log_add(struct gs_server *srv, const char *method, const char *path,
                        const void *body, size_t len, bool batch, const char *batch_id,
                        uint64_t parent, int status, struct log_meta *meta)
{
    struct log_entry *e;

    if (srv->log_len == srv->log_cap) {
        e = &srv->log[srv->log_head];
        log_entry_clear(e);
        srv->log_head = (srv->log_head + 1) % srv->log_cap;
        srv->log_len--;
        srv->log_dropped++;
    }
    e = &srv->log[(srv->log_head + srv->log_len) % srv->log_cap];
    srv->log_len++;
    e->seq = ++srv->log_seq;
    e->time = gs_now_wall();
    e->arrived = gs_now_mono();
    snprintf(e->method, sizeof(e->method), "%s", method);
    e->path = gs_xstrdup(path);
    gs_sha256_hex(body != NULL ? body : "", body != NULL ? len : 0, e->digest);
    e->batch = batch;
    e->batch_id = batch_id ? gs_xstrdup(batch_id) : NULL;
    e->parent = parent;
    e->status = status;
    if (meta != NULL) {
        e->ctype = dup_or_null(meta->ctype);
        e->crid = dup_or_null(meta->crid);
        e->ua = dup_or_null(meta->ua);
        e->auth = dup_or_null(meta->auth);
        e->rid = dup_or_null(meta->rid);
        e->form = meta->form;
        meta->form = NULL;
        if (meta->keep_body && body != NULL && len > 0) {
            e->body_len = len;
            e->body = gs_xstrndup(body, len < LOG_BODY ? len : LOG_BODY);
        }
    }
    return e->seq;
}

static void log_set_status(struct gs_server *srv, uint64_t seq, int status)
{
    uint64_t first = srv->log_seq - srv->log_len + 1;

    if (seq >= first && seq <= srv->log_seq) {
        srv->log[(srv->log_head + (seq - first)) % srv->log_cap].status = status;
    }
}

/* The answer of entry seq (and of its $batch items, logged right after it) was written at
 * mono. */
static void log_set_answered(struct gs_server *srv, uint64_t seq, double mono)
{
    uint64_t first = srv->log_seq - srv->log_len + 1;

    if (seq < first || seq > srv->log_seq) {
        return;
    }
    for (uint64_t i = seq - first; i < srv->log_len; i++) {
        struct log_entry *e = &srv->log[(srv->log_head + i) % srv->log_cap];

        if (e->seq != seq && !(e->batch && e->parent == seq)) {
            break;
        }
        e->answered = mono;
    }
}

static void log_clear(struct gs_server *srv)
{
    for (size_t i = 0; i < srv->log_cap; i++) {
        log_entry_clear(&srv->log[i]);
    }
    srv->log_len = 0;
    srv->log_head = 0;
    srv->log_seq = 0;
    srv->log_dropped = 0;
}

/* }====== */

/* {====== waits announced by 429s ====== */

static void note_free(struct answer_note *n)
{
    if (n == NULL) {
        return;
    }
    for (size_t i = 0; i < n->npaths; i++) {
        free(n->paths[i].key);
    }
    free(n->paths);
    free(n);
}

/* The note the request being handled fills (made on first use). */
static struct answer_note *note_get(struct gs_server *srv)
{
    if (srv->note == NULL) {
        srv->note = gs_xcalloc(1, sizeof(*srv->note));
        srv->note->srv = srv;
        srv->note->epoch = srv->epoch;
        srv->note->scope_epoch = srv->scope_epoch;
    }
    return srv->note;
}

/* The reply being built carries a tenant-wide 429 with Retry-After ra for classes. */
static void note_scope(struct gs_server *srv, unsigned classes, double ra)
{
    struct answer_note *n = note_get(srv);

    n->scope_classes |= classes;
    if (ra > n->scope_ra) {
        n->scope_ra = ra;
    }
}

/* The reply being built carries a 429 with Retry-After ra for key ("METHOD /v1.0/path"). */
static void note_path(struct gs_server *srv, const char *key, double ra)
{
    struct answer_note *n = note_get(srv);

    n->paths = gs_xrealloc(n->paths, (n->npaths + 1) * sizeof(*n->paths));
    n->paths[n->npaths].key = gs_xstrdup(key);
    n->paths[n->npaths].ra = ra;
    n->npaths++;
}

static void waits_clear(struct gs_server *srv)
{
    for (int c = 0; c < 2; c++) {
        free(srv->waits[c]);
        srv->waits[c] = NULL;
        srv->nwaits[c] = srv->capwaits[c] = 0;
        srv->scope_hold[c] = 0;
    }
}

static void wait_add(struct gs_server *srv, int c, double written, double until)
{
    if (srv->nwaits[c] == srv->capwaits[c]) {
        srv->capwaits[c] = srv->capwaits[c] ? srv->capwaits[c] * 2 : 8;
        srv->waits[c] = gs_xrealloc(srv->waits[c], srv->capwaits[c] * sizeof(*srv->waits[c]));
    }
    srv->waits[c][srv->nwaits[c]++] = (struct scope_wait){written, until};
}

/*
 * Whether a request of class c arriving at now breaks a wait the client was told: one whose
 * 429 was written more than the grace before now and whose Retry-After has not passed. Returns
 * the end of the longest wait in force then (> now), or 0 when nothing is broken. Drops waits
 * that have passed.
 */
static double wait_broken(struct gs_server *srv, int c, double now)
{
    double grace = (double)srv->faults.throttle_grace_ms / 1000.0, longest = 0;
    bool broken = false;
    size_t k = 0;

    for (size_t i = 0; i < srv->nwaits[c]; i++) {
        struct scope_wait w = srv->waits[c][i];

        if (w.until <= now) {
            continue;
        }
        srv->waits[c][k++] = w;
        if (now >= w.written + grace) {
            broken = true;
        }
        if (w.until > longest) {
            longest = w.until;
        }
    }
    srv->nwaits[c] = k;
    return broken ? longest : 0;
}

/* evhttp wrote the reply a note belongs to: its waits start now. */
static void on_answered(struct evhttp_request *req, void *arg)
{
    struct answer_note *n = arg;
    struct gs_server *srv = n->srv;
    double now = gs_now_mono();

    (void)req;
    if (n->prev != NULL) {
        n->prev->next = n->next;
    } else {
        srv->notes = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    }
    if (n->epoch == srv->epoch) {
        log_set_answered(srv, n->seq, now);
        for (size_t i = 0; i < n->npaths; i++) {
            double *until = gs_map_get(srv->throttle, n->paths[i].key);

            if (until == NULL) {
                until = gs_xmalloc(sizeof(*until));
                *until = 0;
                free(gs_map_put(srv->throttle, n->paths[i].key, until));
            }
            if (now + n->paths[i].ra > *until) {
                *until = now + n->paths[i].ra;
            }
        }
        if (n->scope_ra > 0 && n->scope_epoch == srv->scope_epoch) {
            for (int c = 0; c < 2; c++) {
                if (n->scope_classes & (c ? 2u : 1u)) {
                    wait_add(srv, c, now, now + n->scope_ra);
                }
            }
        }
    }
    note_free(n);
}

/* }====== */

/* {====== replies ====== */

static void on_delayed(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    struct gs_server *srv = p->srv;

    (void)fd;
    (void)what;
    evhttp_send_reply(p->req, p->status, gs_reason(p->status), p->body);
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        srv->pending = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
    evbuffer_free(p->body);
    event_free(p->timer);
    free(p);
}

/* Sends r (consuming its body), now or after the configured latency. */
static void send_reply(struct gs_server *srv, struct evhttp_request *req, struct reply *r,
                       bool delay, const char *request_id, const char *client_request_id)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();

    if (buf == NULL) {
        json_object_put(r->body);
        free(r->raw);
        note_free(r->note);
        r->note = NULL;
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }
    if (r->note != NULL) {
        r->note->next = srv->notes;
        if (srv->notes != NULL) {
            srv->notes->prev = r->note;
        }
        srv->notes = r->note;
        evhttp_request_set_on_complete_cb(req, on_answered, r->note);
        r->note = NULL;
    }
    if (r->raw != NULL) {
        evbuffer_add(buf, r->raw, r->raw_len);
        evhttp_add_header(out, "Content-Type", r->content_type ? r->content_type : GRAPH_JSON);
        free(r->raw);
        r->raw = NULL;
        json_object_put(r->body);
        r->body = NULL;
    } else if (r->body != NULL) {
        const char *s = gs_json_str(r->body);

        evbuffer_add(buf, s, strlen(s));
        evhttp_add_header(out, "Content-Type", r->content_type ? r->content_type : GRAPH_JSON);
        json_object_put(r->body);
        r->body = NULL;
    }
    if (request_id != NULL) {
        evhttp_add_header(out, "request-id", request_id);
        evhttp_add_header(out, "client-request-id", client_request_id);
    }
    if (r->retry_after[0] != '\0') {
        evhttp_add_header(out, "Retry-After", r->retry_after);
    }
    if (r->throttle_scope[0] != '\0') {
        evhttp_add_header(out, "x-ms-throttle-scope", r->throttle_scope);
        evhttp_add_header(out, "x-ms-throttle-information", r->throttle_info);
    }
    if (r->www_auth) {
        evhttp_add_header(
            out, "WWW-Authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/"
            "common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-"
            "000000000000\", error=\"invalid_token\"");
    }
    if (delay && (srv->faults.latency_ms > 0 || r->hold > 0) && !srv->closing) {
        struct pending *p = gs_xcalloc(1, sizeof(*p));
        long ms = r->hold > 0 ? (long)(r->hold * 1000) : srv->faults.latency_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

        p->srv = srv;
        p->req = req;
        p->status = r->status;
        p->body = buf;
        p->timer = evtimer_new(srv->base, on_delayed, p);
        if (p->timer != NULL && evtimer_add(p->timer, &tv) == 0) {
            p->next = srv->pending;
            if (p->next != NULL) {
                p->next->prev = p;
            }
            srv->pending = p;
            return;
        }
        /* No timer: reply at once rather than never. */
        event_free(p->timer);
        free(p);
    }
    evhttp_send_reply(req, r->status, gs_reason(r->status), buf);
    evbuffer_free(buf);
}

/* }====== */

/* {====== Graph pipeline ====== */

static bool is_batch_envelope(const struct gs_req *req)
{
    return !req->batch_item && req->nseg == 1 && strcmp(req->seg[0], "$batch") == 0;
}

static void count_status(struct gs_server *srv, const struct gs_resp *resp)
{
    if (resp->unknown_path) {
        srv->stats.unknown_paths++;
    } else if (resp->status == 400 || resp->status == 405 || resp->status == 415) {
        srv->stats.bad_requests++;
    }
}

/* 0 for a read (GET), 1 for a write: the index of the tenant-wide scope windows. */
static int req_cls(const struct gs_req *req)
{
    return gs_is_write(req->method) ? 1 : 0;
}

/* Fills resp's x-ms-throttle-scope and x-ms-throttle-information for the configured scope. */
static void scope_headers(const struct gs_server *srv, struct gs_resp *resp)
{
    unsigned c = srv->faults.throttle_classes;
    const char *kind = c == 3 ? "ReadWrite" : c == 2 ? "Write" : "Read";

    snprintf(resp->throttle_scope, sizeof(resp->throttle_scope), "Tenant_Application/%s/%s/%s",
             kind, srv->tenant->client_id, srv->tenant->id);
    snprintf(resp->throttle_info, sizeof(resp->throttle_info), "%s",
             c == 2 ? "WriteLimitExceeded" : "ResourceUnitLimitExceeded");
}

/* Graph's key-literal form of a user, /users('$x@contoso.com') with ' doubled inside, becomes the
 * segments users and $x@contoso.com, routed like /users/{upn}. A /users/$x segment is an OData
 * system segment to Graph and refused. Returns false with resp set for a refusal. */
static bool user_key(const struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp)
{
    const char *s = req->nseg > 0 ? req->seg[0] : "";
    size_t n = strlen(s), k = 0;
    char *key;
    bool ok = true;

    if (strcasecmp(s, "users") == 0 && req->nseg >= 2 && req->seg[1][0] == '$' &&
        strcasecmp(req->seg[1], "$count") != 0) {
        gs_error(ctx, resp, 400, "BadRequest",
                 "The request URI is not valid: the segment '%s' is read as an OData system "
                 "segment. Address a userPrincipalName that begins with '$' as /users('%s').",
                 req->seg[1], req->seg[1]);
        return false;
    }
    if (strncasecmp(s, "users(", 6) != 0) {
        return true;
    }
    if (n < 10 || s[6] != '\'' || s[n - 1] != ')' || s[n - 2] != '\'') {
        gs_error(ctx, resp, 400, "BadRequest", "Bad Request - Error in query syntax.");
        return false;
    }
    key = gs_xmalloc(n);
    for (size_t i = 7; i < n - 2 && ok; i++) {
        if (s[i] != '\'') {
            key[k++] = s[i];
        } else if (i + 1 < n - 2 && s[i + 1] == '\'') {
            key[k++] = '\'';
            i++;
        } else {
            ok = false; /* a lone quote ends the literal early */
        }
    }
    key[k] = '\0';
    if (!ok || k == 0) {
        free(key);
        gs_error(ctx, resp, 400, "BadRequest", "Bad Request - Error in query syntax.");
        return false;
    }
    req->seg = gs_xrealloc(req->seg, (req->nseg + 1) * sizeof(*req->seg));
    memmove(&req->seg[2], &req->seg[1], (req->nseg - 1) * sizeof(*req->seg));
    free(req->seg[0]);
    req->seg[0] = gs_xstrdup("users");
    req->seg[1] = key;
    req->nseg++;
    return true;
}

static bool json_ctype(const char *ct)
{
    return strncasecmp(ct, "application/json", 16) == 0 &&
           (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

/* Whether the query of req, as sent (its raw parameters joined by '&'), holds text (without
 * case); an empty text matches any query. */
static bool query_holds(const struct gs_req *req, const char *text)
{
    size_t n = 1;
    char *q;
    bool found;

    if (text[0] == '\0') {
        return true;
    }
    for (size_t i = 0; i < req->nq; i++) {
        n += strlen(req->q[i].raw) + 1;
    }
    q = gs_xmalloc(n);
    q[0] = '\0';
    for (size_t i = 0; i < req->nq; i++) {
        if (i > 0) {
            strcat(q, "&");
        }
        strcat(q, req->q[i].raw);
    }
    found = strcasestr(q, text) != NULL;
    free(q);
    return found;
}

/* Whether path begins with the whole segments of prefix (without case): "/users" matches
 * "/users" and "/users/x", not "/usersX"; a prefix ending in '/' matches whatever follows. */
static bool path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);

    return strncasecmp(path, prefix, n) == 0 &&
           (n == 0 || prefix[n - 1] == '/' || path[n] == '\0' || path[n] == '/' || path[n] == '(');
}

/* The bad_answer fault that takes this request (the first that matches; counted down), or
 * NULL. */
static const struct gs_bad_answer *bad_take(struct gs_server *srv, const struct gs_req *req)
{
    if (is_batch_envelope(req)) {
        return NULL;
    }
    for (size_t i = 0; i < srv->faults.nbad; i++) {
        struct gs_bad_answer *b = &srv->faults.bad[i];

        if (b->kind == GS_BAD_NONE || b->count <= 0 ||
            (b->method[0] != '\0' && strcmp(b->method, "*") != 0 &&
             strcasecmp(b->method, req->method) != 0) ||
            !path_under(req->path, b->path) || !query_holds(req, b->query) ||
            (req->batch_item && (b->kind == GS_BAD_HTML || b->kind == GS_BAD_TRUNCATED))) {
            continue;
        }
        b->count--;
        srv->stats.bad_answers++;
        return b;
    }
    return NULL;
}

static void drop_id(json_object *o)
{
    if (o != NULL && json_object_is_type(o, json_type_object)) {
        json_object_object_del(o, "id");
    }
}

/* Removes member name from o and everything under it. */
static void drop_member(json_object *o, const char *name)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            drop_member(json_object_array_get_idx(o, i), name);
        }
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_del(o, name);
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            drop_member(val, name);
        }
    }
}

/* Makes resp the unusable answer of fault b (NULL: none); HTML and TRUNCATED are left to the
 * caller (they are not JSON, which a gs_resp cannot hold). */
static void bad_apply(struct gs_resp *resp, const struct gs_bad_answer *b)
{
    json_object *v;

    if (b != NULL && (b->kind == GS_BAD_EMPTY_202 || b->kind == GS_BAD_WRONG_SHAPE)) {
        free(resp->text); /* a text/plain answer ($count) is replaced too */
        resp->text = NULL;
    }
    switch (b != NULL ? b->kind : GS_BAD_NONE) {
    case GS_BAD_EMPTY_202:
        json_object_put(resp->body);
        resp->body = NULL;
        resp->status = 202;
        break;
    case GS_BAD_WRONG_SHAPE:
        json_object_put(resp->body);
        resp->body = json_object_new_array();
        resp->status = 200;
        break;
    case GS_BAD_NO_ID:
        if (b->member[0] != '\0') {
            drop_member(resp->body, b->member);
            break;
        }
        drop_id(resp->body);
        if (json_object_object_get_ex(resp->body, "value", &v) &&
            json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                drop_id(json_object_array_get_idx(v, i));
            }
        }
        break;
    default:
        break;
    }
}

/* The checks every Graph request and every $batch item pass through before graph.c. Returns
 * the unusable answer still to be made of the reply (GS_BAD_HTML, GS_BAD_TRUNCATED), else
 * GS_BAD_NONE. */
static enum gs_bad_kind run(struct gs_server *srv, struct gs_ctx *ctx, struct gs_req *req,
                            struct gs_resp *resp)
{
    bool envelope = is_batch_envelope(req);
    bool write = gs_is_write(req->method) && !envelope;
    int cls = req_cls(req);
    char *key;
    double now = gs_now_mono();
    double *until, broken, hold;
    enum gs_bad_kind bad = GS_BAD_NONE;

    if (resp->status != 0) {
        return GS_BAD_NONE; /* a 424 decided by the batch */
    }
    if (!user_key(ctx, req, resp)) {
        return GS_BAD_NONE;
    }
    key = gs_xasprintf("%s /v1.0%s", req->method, req->path);
    until = gs_map_get(srv->throttle, key);
    if (until != NULL && *until > now) {
        /* Came back before the Retry-After of a 429 it was sent had passed: throttled again,
         * and counted. */
        double ra = *until - now < 0.001 ? 0.001 : *until - now;

        gs_error_throttled(ctx, resp, ra);
        note_path(srv, key, ra);
        srv->stats.retry_after_violations++;
        srv->stats.throttled++;
        free(key);
        return GS_BAD_NONE;
    }
    if (until != NULL) {
        gs_map_remove(srv->throttle, key, until);
        free(until);
    }
    broken = envelope ? 0 : wait_broken(srv, cls, now);
    hold = srv->scope_hold[cls] > broken ? srv->scope_hold[cls] : broken;
    if (broken > 0) {
        /* The scope was told to wait (a tenant-wide 429 was written more than the grace
         * before this arrived), and this request of the scope did not: throttled again, and
         * counted. */
        gs_error_throttled(ctx, resp, hold - now);
        scope_headers(srv, resp);
        note_scope(srv, srv->faults.throttle_classes, hold - now);
        srv->stats.retry_after_violations++;
        srv->stats.scope_violations++;
        srv->stats.throttled++;
    } else if (!envelope && now < hold && now >= srv->tenant_until) {
        /* The burst is over but the scope's wait is not (its 429s were not written yet, or
         * only within the grace): still throttled, not counted. */
        gs_error_throttled(ctx, resp, hold - now);
        scope_headers(srv, resp);
        note_scope(srv, srv->faults.throttle_classes, hold - now);
        srv->stats.throttled++;
    } else if (!envelope && now < srv->tenant_until &&
               (srv->faults.throttle_classes & (cls ? 2u : 1u))) {
        /* A tenant-wide burst: the whole scope waits Retry-After from when this 429 is
         * written (on_answered). */
        double leaves = now + (srv->closing ? 0 : (double)srv->faults.latency_ms / 1000.0);

        gs_error_throttled(ctx, resp, srv->faults.retry_after);
        scope_headers(srv, resp);
        note_scope(srv, srv->faults.throttle_classes, srv->faults.retry_after);
        for (int c = 0; c < 2; c++) {
            if ((srv->faults.throttle_classes & (c ? 2u : 1u)) &&
                leaves + srv->faults.retry_after > srv->scope_hold[c]) {
                srv->scope_hold[c] = leaves + srv->faults.retry_after;
            }
        }
        srv->stats.throttled++;
    } else if (!envelope && now < srv->burst_until) {
        /* A throttle_for burst: Graph answers 429 to everything for a while. */
        gs_error_throttled(ctx, resp, srv->faults.retry_after);
        srv->stats.throttled++;
    } else if (!req->batch_item && srv->faults.fail_every > 0 &&
               ++srv->graph_counter % (uint64_t)srv->faults.fail_every == 0) {
        gs_error(ctx, resp, 503, "serviceNotAvailable",
                 "The service is temporarily unavailable for maintenance or is overloaded. You "
                 "may repeat the request after a delay.");
        srv->stats.injected_failures++;
    } else if (write && srv->faults.throttle_every > 0 &&
               ++srv->mutation_counter % (uint64_t)srv->faults.throttle_every == 0) {
        /* The path waits Retry-After from when this 429 is written (on_answered). */
        gs_error_throttled(ctx, resp, srv->faults.retry_after);
        note_path(srv, key, srv->faults.retry_after);
        srv->stats.throttled++;
    } else if ((strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
                strcmp(req->method, "PATCH") == 0) &&
               req->content_type != NULL && !json_ctype(req->content_type)) {
        /* Graph takes JSON only, bodiless actions included (GRAPH.md section 12: a form
         * content type drew 415 on invalidateAllRefreshTokens). */
        gs_error(ctx, resp, 415, "UnsupportedMediaType",
                 "The content type '%s' is not supported. Requests need "
                 "'Content-Type: application/json'.",
                 req->content_type);
    } else {
        gs_graph_dispatch(ctx, req, resp);
        if (write && resp->status >= 200 && resp->status <= 299) {
            srv->stats.mutations++;
        }
        const struct gs_bad_answer *b = bad_take(srv, req);

        bad = b != NULL ? b->kind : GS_BAD_NONE;
        bad_apply(resp, b);
    }
    free(key);
    return bad == GS_BAD_HTML || bad == GS_BAD_TRUNCATED ? bad : GS_BAD_NONE;
}

struct item_owner {
    struct gs_server *srv;
    uint64_t parent;
};

static void on_batch_item(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                          const char *item_id)
{
    struct item_owner *o = ctx->owner;
    struct gs_server *srv = o->srv;
    const char *body = NULL;
    size_t len = 0, cap = strlen(req->path) + 8;
    char *path;

    srv->stats.batch_items++;
    run(srv, ctx, req, resp);
    count_status(srv, resp);
    for (size_t i = 0; i < req->nq; i++) {
        cap += strlen(req->q[i].raw) + 1;
    }
    path = gs_xmalloc(cap);
    len = (size_t)snprintf(path, cap, "/v1.0%s", req->path);
    for (size_t i = 0; i < req->nq; i++) {
        len += (size_t)snprintf(path + len, cap - len, "%c%s", i ? '&' : '?', req->q[i].raw);
    }
    if (req->json != NULL) {
        body = gs_json_str(req->json);
    }
    {
        struct log_meta meta = {.ctype = req->content_type, .keep_body = true};

        log_add(srv, req->method, path, body, body ? strlen(body) : 0, true, item_id, o->parent,
                resp->status, &meta);
    }
    free(path);
}

/* Checks the bearer token; on failure fills resp with Graph's 401. */
static bool authorized(struct gs_server *srv, struct evhttp_request *ev, struct gs_ctx *ctx,
                       struct gs_resp *resp)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(ev), "Authorization");
    const char *tok = NULL;
    double *exp;

    if (h != NULL && strncasecmp(h, "Bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\0')) {
        for (tok = h + 6; *tok == ' '; tok++) {
        }
    }
    if (tok == NULL || *tok == '\0') {
        gs_error(ctx, resp, 401, "InvalidAuthenticationToken", "Access token is empty.");
    } else if ((exp = gs_map_get(srv->tokens, tok)) == NULL) {
        gs_error(ctx, resp, 401, "InvalidAuthenticationToken", "Access token validation failure.");
    } else if (*exp <= gs_now_mono()) {
        gs_error(ctx, resp, 401, "InvalidAuthenticationToken",
                 "Access token has expired or is not yet valid.");
    } else {
        return true;
    }
    srv->stats.unauthorized++;
    return false;
}

/* The scheme of an Authorization header ("Bearer"), without the credential. Owned, or NULL. */
static char *auth_scheme(const char *h)
{
    return h != NULL ? gs_xstrndup(h, strcspn(h, " ")) : NULL;
}

/* Puts the graph host into @odata.context and @odata.id URLs of o (recursively), which graph.c
 * writes for graph.microsoft.com. */
static void rehost(const struct gs_server *srv, json_object *o)
{
    static const char prefix[] = "https://" GRAPH_HOST "/";

    if (o == NULL || strcasecmp(srv->graph_host, GRAPH_HOST) == 0) {
        return;
    }
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            rehost(srv, json_object_array_get_idx(o, i));
        }
        return;
    }
    if (!json_object_is_type(o, json_type_object)) {
        return;
    }
    json_object_object_foreach(o, key, val)
    {
        const char *s =
            json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;

        if (s != NULL && (strcmp(key, "@odata.context") == 0 || strcmp(key, "@odata.id") == 0) &&
            strncmp(s, prefix, sizeof(prefix) - 1) == 0) {
            char *url = gs_xasprintf("https://%s/%s", srv->graph_host, s + sizeof(prefix) - 1);

            json_object_set_string(val, url);
            free(url);
        } else {
            rehost(srv, val);
        }
    }
}

static void handle_graph(struct gs_server *srv, struct evhttp_request *ev, const char *method,
                         const char *target, const char *body, size_t len, struct reply *r,
                         const char *request_id, const char *client_request_id)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(ev);
    struct item_owner owner = {srv, 0};
    struct gs_ctx ctx = {srv->tenant,   srv->base_url, request_id, client_request_id,
                         on_batch_item, &owner,        &srv->model};
    struct gs_req req;
    struct gs_resp resp = {0};
    char *scheme = auth_scheme(evhttp_find_header(in, "Authorization"));
    struct log_meta meta = {
        .ctype = evhttp_find_header(in, "Content-Type"),
        .crid = evhttp_find_header(in, "client-request-id"),
        .ua = evhttp_find_header(in, "User-Agent"),
        .auth = scheme,
        .rid = request_id,
        .keep_body = true,
    };
    enum gs_bad_kind bad = GS_BAD_NONE;

    srv->stats.graph_requests++;
    owner.parent = log_add(srv, method, target, body, len, false, NULL, 0, 0, &meta);
    note_get(srv)->seq = owner.parent;
    free(scheme);
    gs_req_init(&req, method, target + 5); /* after "/v1.0" */
    if (req.path[0] == '\0') {
        free(req.path);
        req.path = gs_xstrdup("/");
    }
    req.body = len > 0 ? body : NULL;
    req.body_len = len;
    req.has_body = len > 0;
    req.content_type = evhttp_find_header(evhttp_request_get_input_headers(ev), "Content-Type");
    req.consistency = evhttp_find_header(in, "ConsistencyLevel");
    req.prefer = evhttp_find_header(in, "Prefer");
    if (authorized(srv, ev, &ctx, &resp)) {
        bad = run(srv, &ctx, &req, &resp);
        count_status(srv, &resp);
    } else {
        r->www_auth = true;
    }
    if (bad == GS_BAD_HTML) {
        static const char page[] =
            "<html><head><title>Service Unavailable</title></head><body><h1>The gateway could "
            "not reach the service</h1></body></html>";

        resp.status = 200;
        r->raw = gs_xstrdup(page);
        r->raw_len = sizeof(page) - 1;
        r->content_type = "text/html; charset=utf-8";
    } else if (bad == GS_BAD_TRUNCATED) {
        /* The JSON answer cut in half (a 204's empty answer becomes a cut context line). */
        const char *s =
            resp.body != NULL
                ? gs_json_str(resp.body)
                : "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#\"}";
        size_t n = strlen(s);

        if (resp.status == 204) {
            resp.status = 200;
        }
        r->raw_len = n / 2 > 0 ? n / 2 : 1;
        r->raw = gs_xstrndup(s, r->raw_len);
    }
    if (resp.text != NULL && r->raw == NULL) {
        /* A text/plain answer ($count), sent as it is. */
        r->raw_len = strlen(resp.text);
        r->raw = resp.text;
        r->content_type = "text/plain";
    } else {
        free(resp.text); /* a fault already replaced the answer */
    }
    resp.text = NULL;
    rehost(srv, resp.body);
    log_set_status(srv, owner.parent, resp.status);
    r->status = resp.status;
    r->body = resp.body;
    resp.body = NULL;
    memcpy(r->retry_after, resp.retry_after, sizeof(r->retry_after));
    memcpy(r->throttle_scope, resp.throttle_scope, sizeof(r->throttle_scope));
    memcpy(r->throttle_info, resp.throttle_info, sizeof(r->throttle_info));
    r->hold = resp.hold;
    gs_req_clear(&req);
}

/* }====== */

/* {====== token endpoint ====== */

struct form {
    char *keys[16];
    char *values[16];
    size_t n;
};

static void form_clear(struct form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->keys[i]);
        free(f->values[i]);
    }
    f->n = 0;
}

static bool form_parse(struct form *f, const char *body, size_t len)
{
    char *copy = gs_xstrndup(body ? body : "", body ? len : 0);
    char *save = NULL;
    bool ok = true;

    memset(f, 0, sizeof(*f));
    for (char *s = strtok_r(copy, "&", &save); s != NULL; s = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(s, '=');

        if (f->n == 16) {
            ok = false;
            break;
        }
        if (eq != NULL) {
            *eq = '\0';
        }
        f->keys[f->n] = gs_xstrdup(s);
        f->values[f->n] = gs_xstrdup(eq ? eq + 1 : "");
        f->n++;
        if (!gs_pct_decode(f->keys[f->n - 1], true) || !gs_pct_decode(f->values[f->n - 1], true)) {
            ok = false;
        }
    }
    free(copy);
    return ok;
}

static const char *form_get(const struct form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->keys[i], key) == 0) {
            return f->values[i];
        }
    }
    return NULL;
}

/* Fills r with the identity platform's OAuth2 error shape. */
static void oauth_error(struct reply *r, int status, const char *error, int code, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));

static void oauth_error(struct reply *r, int status, const char *error, int code, const char *fmt,
                        ...)
{
    json_object *o = json_object_new_object();
    json_object *codes = json_object_new_array();
    char msg[512], trace[37], corr[37], ts[32], *desc, *uri;
    double now = gs_now_wall();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gs_guid_new(trace);
    gs_guid_new(corr);
    gs_time_format(ts, now, true);
    ts[10] = ' '; /* "2016-01-09 02:02:12Z" */
    desc = gs_xasprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", code,
                        msg, trace, corr, ts);
    uri = gs_xasprintf("https://login.microsoftonline.com/error?code=%d", code);
    gs_json_add_str(o, "error", error);
    gs_json_add_str(o, "error_description", desc);
    json_object_array_add(codes, json_object_new_int(code));
    json_object_object_add(o, "error_codes", codes);
    gs_json_add_str(o, "timestamp", ts);
    gs_json_add_str(o, "trace_id", trace);
    gs_json_add_str(o, "correlation_id", corr);
    gs_json_add_str(o, "error_uri", uri);
    free(desc);
    free(uri);
    r->status = status;
    r->body = o;
    r->content_type = PLAIN_JSON;
}

static char *token_new(struct gs_server *srv, double now_wall)
{
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"none\",\"kid\":\"graphsim\"}";
    json_object *p = json_object_new_object();
    json_object *roles = json_object_new_array();
    unsigned char sig[32];
    char uti[37], *iss, *aud, *h64, *p64, *s64, *tok;
    const char *ps;
    long iat = (long)now_wall;

    for (size_t i = 0; i < sizeof(sig); i += 8) {
        uint64_t v = gs_random64();

        memcpy(sig + i, &v, 8);
    }
    gs_guid_new(uti);
    iss = gs_xasprintf("https://sts.windows.net/%s/", srv->tenant->id);
    aud = gs_xasprintf("https://%s", srv->graph_host);
    gs_json_add_str(p, "aud", aud);
    free(aud);
    gs_json_add_str(p, "iss", iss);
    json_object_object_add(p, "iat", json_object_new_int64(iat));
    json_object_object_add(p, "nbf", json_object_new_int64(iat));
    json_object_object_add(p, "exp", json_object_new_int64(iat + (long)srv->opt.token_lifetime));
    gs_json_add_str(p, "appid", srv->tenant->client_id);
    gs_json_add_str(p, "idtyp", "app");
    for (const char *const *r =
             (const char *const[]){"Directory.ReadWrite.All", "User.ReadWrite.All",
                                   "GroupMember.ReadWrite.All",
                                   "RoleManagement.ReadWrite.Directory", NULL};
         *r; r++) {
        json_object_array_add(roles, json_object_new_string(*r));
    }
    json_object_object_add(p, "roles", roles);
    gs_json_add_str(p, "tid", srv->tenant->id);
    gs_json_add_str(p, "uti", uti);
    gs_json_add_str(p, "ver", "1.0");
    ps = gs_json_str(p);
    h64 = gs_base64url(header, strlen(header));
    p64 = gs_base64url(ps, strlen(ps));
    s64 = gs_base64url(sig, sizeof(sig));
    tok = gs_xasprintf("%s.%s.%s", h64, p64, s64);
    free(h64);
    free(p64);
    free(s64);
    free(iss);
    json_object_put(p);
    return tok;
}

static void sweep_tokens_cb(const char *key, void *value, void *arg)
{
    json_object *expired = arg;

    if (*(double *)value <= gs_now_mono()) {
        json_object_array_add(expired, json_object_new_string(key));
    }
}

/* Forgets expired tokens once there are many, so a long run does not grow without bound. */
static void sweep_tokens(struct gs_server *srv)
{
    json_object *expired;

    if (gs_map_count(srv->tokens) < TOKEN_SWEEP) {
        return;
    }
    expired = json_object_new_array();
    gs_map_foreach(srv->tokens, sweep_tokens_cb, expired);
    for (size_t i = 0; i < json_object_array_length(expired); i++) {
        const char *k = json_object_get_string(json_object_array_get_idx(expired, i));

        free(gs_map_get(srv->tokens, k));
        gs_map_remove(srv->tokens, k, NULL);
    }
    json_object_put(expired);
}

/* Checks a client assertion presented at path (the token endpoint, as requested); true when it
 * authenticates the app, else r holds the identity platform's refusal. */
static bool assertion_ok(struct gs_server *srv, struct evhttp_request *ev, const char *path,
                         const char *assertion_type, const char *assertion, struct reply *r)
{
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(ev), "Host");
    struct gs_assertion_error why;
    char *url;
    bool ok;

    if (assertion_type == NULL || assertion_type[0] == '\0') {
        oauth_error(r, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: "
                    "'client_assertion_type'.");
        return false;
    }
    if (strcmp(assertion_type, JWT_BEARER) != 0) {
        oauth_error(r, 400, "invalid_request", 9002313,
                    "Invalid request. Request is malformed or invalid. The client_assertion_type "
                    "'%.100s' is not supported.",
                    assertion_type);
        return false;
    }
    /* The URL this request was sent to: evhttp listens on plain HTTP only. */
    url = gs_xasprintf("http://%s%s", host != NULL ? host : "", path);
    ok = gs_assertion_check(assertion, srv->tenant->certs, srv->tenant->ncerts,
                            srv->tenant->client_id, url, gs_now_wall(), &why);
    free(url);
    if (!ok) {
        oauth_error(r, why.status, why.error, why.code, "%s", why.message);
    }
    return ok;
}

static void handle_token(struct gs_server *srv, struct evhttp_request *ev, const char *method,
                         const char *tenant, const char *path, const char *body, size_t len,
                         struct reply *r)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(ev);
    const char *ct = evhttp_find_header(in, "Content-Type");
    const char *auth = evhttp_find_header(in, "Authorization");
    const char *grant, *scope, *id, *secret, *assertion, *assertion_type;
    char *basic = NULL, *basic_id = NULL, *basic_secret = NULL, *tok;
    struct form f = {0};
    json_object *o;

    srv->stats.token_requests++;
    if (strcmp(method, "POST") != 0) {
        oauth_error(r, 400, "invalid_request", 900561,
                    "The endpoint only accepts POST requests. Received a %s request.", method);
        return;
    }
    if (!gs_tenant_has_domain(srv->tenant, tenant) && strcasecmp(tenant, srv->tenant->id) != 0) {
        oauth_error(r, 400, "invalid_request", 90002,
                    "Tenant '%s' not found. Check to make sure you have the correct tenant ID and "
                    "are signing into the correct cloud.",
                    tenant);
        return;
    }
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
        !form_parse(&f, body, len)) {
        form_clear(&f);
        oauth_error(r, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'grant_type'.");
        return;
    }
    if (auth != NULL && strncasecmp(auth, "Basic ", 6) == 0) {
        char *colon;

        /* RFC 6749 section 2.3.1: form-encoded client_id:client_secret in base64. */
        basic = gs_base64_decode(auth + 6, NULL);
        if (basic != NULL && (colon = strchr(basic, ':')) != NULL) {
            *colon = '\0';
            basic_id = gs_xstrdup(basic);
            basic_secret = gs_xstrdup(colon + 1);
            gs_pct_decode(basic_id, true);
            gs_pct_decode(basic_secret, true);
        }
    }
    grant = form_get(&f, "grant_type");
    scope = form_get(&f, "scope");
    id = form_get(&f, "client_id") ? form_get(&f, "client_id") : basic_id;
    secret = form_get(&f, "client_secret") ? form_get(&f, "client_secret") : basic_secret;
    assertion = form_get(&f, "client_assertion");
    assertion_type = form_get(&f, "client_assertion_type");
    if (grant == NULL || grant[0] == '\0') {
        oauth_error(r, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'grant_type'.");
    } else if (strcmp(grant, "client_credentials") != 0) {
        oauth_error(r, 400, "unsupported_grant_type", 70003,
                    "The app requested an unsupported grant type '%s'.", grant);
    } else if (id == NULL || id[0] == '\0') {
        oauth_error(r, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'client_id'.");
    } else if (scope == NULL || scope[0] == '\0') {
        oauth_error(r, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'scope'.");
    } else if (strncmp(scope, "https://", 8) != 0 ||
               strncasecmp(scope + 8, srv->graph_host, strlen(srv->graph_host)) != 0 ||
               strcmp(scope + 8 + strlen(srv->graph_host), "/.default") != 0) {
        /* Only this cloud's Graph resource: a national cloud's token is not the commercial
         * one's (GRAPH.md section 12). */
        oauth_error(r, 400, "invalid_scope", 70011,
                    "The provided value for the input parameter 'scope' is not valid. The scope "
                    "%s is not valid.",
                    scope);
    } else if (strcasecmp(id, srv->tenant->client_id) != 0) {
        oauth_error(r, 400, "unauthorized_client", 700016,
                    "Application with identifier '%s' was not found in the directory '%s'. This "
                    "can happen if the application has not been installed by the administrator "
                    "of the tenant or consented to by any user in the tenant.",
                    id, tenant);
    } else if (secret != NULL && (assertion != NULL || assertion_type != NULL)) {
        oauth_error(r, 400, "invalid_request", 9002313,
                    "Invalid request. Request is malformed or invalid. A request may carry a "
                    "client_secret or a client_assertion, not both.");
    } else if ((assertion == NULL || assertion[0] == '\0') &&
               (secret == NULL || secret[0] == '\0')) {
        oauth_error(r, 401, "invalid_client", 7000218,
                    "The request body must contain the following parameter: 'client_assertion' "
                    "or 'client_secret'.");
    } else if (assertion != NULL && !assertion_ok(srv, ev, path, assertion_type, assertion, r)) {
        /* r holds the refusal */
    } else if (assertion == NULL && (srv->tenant->client_secret == NULL ||
                                     strcmp(secret, srv->tenant->client_secret) != 0)) {
        oauth_error(r, 401, "invalid_client", 7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    "app '%s'.",
                    id);
    } else {
        double *exp = gs_xmalloc(sizeof(*exp));

        sweep_tokens(srv);
        tok = token_new(srv, gs_now_wall());
        *exp = gs_now_mono() + srv->opt.token_lifetime;
        free(gs_map_put(srv->tokens, tok, exp));
        srv->stats.tokens_issued++;
        o = json_object_new_object();
        gs_json_add_str(o, "token_type", "Bearer");
        json_object_object_add(o, "expires_in",
                               json_object_new_int64((long)srv->opt.token_lifetime));
        json_object_object_add(o, "ext_expires_in",
                               json_object_new_int64((long)srv->opt.token_lifetime));
        gs_json_add_str(o, "access_token", tok);
        free(tok);
        r->status = 200;
        r->body = o;
        r->content_type = PLAIN_JSON;
    }
    form_clear(&f);
    free(basic);
    free(basic_id);
    free(basic_secret);
}

/* }====== */

/* The non-secret fields of a token request's form for the request log: grant_type, client_id,
 * scope, client_assertion_type, whether a client_secret came, and a client assertion's decoded
 * JWT header (its alg and thumbprints; never its claims or signature). Owned, or NULL. */
static json_object *token_form_log(const char *body, size_t len)
{
    static const char *const plain[] = {"grant_type", "client_id", "scope",
                                        "client_assertion_type"};
    struct form f;
    json_object *o;
    const char *a;

    if (!form_parse(&f, body, len)) {
        form_clear(&f);
        return NULL;
    }
    o = json_object_new_object();
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (form_get(&f, plain[i]) != NULL) {
            gs_json_add_str(o, plain[i], form_get(&f, plain[i]));
        }
    }
    json_object_object_add(o, "client_secret",
                           json_object_new_boolean(form_get(&f, "client_secret") != NULL));
    if ((a = form_get(&f, "client_assertion")) != NULL) {
        size_t n = strcspn(a, ".");
        char *b64 = gs_xstrndup(a, n), *std, *hdr;
        size_t k = strlen(b64), dlen = 0;
        json_object *h = NULL;
        char why[64];

        /* base64url without padding -> base64 with padding for gs_base64_decode */
        std = gs_xmalloc(k + 4);
        for (size_t i = 0; i < k; i++) {
            std[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
        }
        while (k % 4 != 0) {
            std[k++] = '=';
        }
        std[k] = '\0';
        hdr = gs_base64_decode(std, &dlen);
        if (hdr != NULL) {
            h = gs_json_parse(hdr, dlen, why, sizeof(why));
        }
        json_object_object_add(o, "client_assertion_header", h);
        free(hdr);
        free(std);
        free(b64);
    }
    form_clear(&f);
    return o;
}

/* }====== */

/* {====== /_sim ====== */

static const char *const bad_names[] = {
    [GS_BAD_NONE] = "none",   [GS_BAD_EMPTY_202] = "empty_202",
    [GS_BAD_HTML] = "html",   [GS_BAD_TRUNCATED] = "truncated",
    [GS_BAD_NO_ID] = "no_id", [GS_BAD_WRONG_SHAPE] = "wrong_shape",
};

enum gs_bad_kind gs_bad_kind_parse(const char *name)
{
    for (size_t i = 1; name != NULL && i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        if (strcmp(name, bad_names[i]) == 0) {
            return (enum gs_bad_kind)i;
        }
    }
    return GS_BAD_NONE;
}

unsigned gs_throttle_classes(const char *name)
{
    if (name == NULL) {
        return 0;
    }
    return strcasecmp(name, "ReadWrite") == 0 ? 3u
           : strcasecmp(name, "Write") == 0   ? 2u
           : strcasecmp(name, "Read") == 0    ? 1u
                                              : 0u;
}

bool gs_host_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n == 0 || n > 127) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-')) {
            return false;
        }
    }
    return true;
}

static const char *class_name(unsigned c)
{
    return c == 3 ? "ReadWrite" : c == 2 ? "Write" : "Read";
}

static json_object *bad_json(const struct gs_bad_answer *b)
{
    json_object *o = json_object_new_object();

    gs_json_add_str(o, "kind", bad_names[b->kind]);
    json_object_object_add(o, "count", json_object_new_int64(b->count));
    gs_json_add_str(o, "method", b->method);
    gs_json_add_str(o, "path", b->path);
    gs_json_add_str(o, "query", b->query);
    if (b->member[0] != '\0') {
        gs_json_add_str(o, "member", b->member);
    }
    return o;
}

static json_object *faults_json(const struct gs_server *srv)
{
    const struct gs_faults *f = &srv->faults;
    json_object *o = json_object_new_object();
    double left = srv->tenant_until - gs_now_mono();

    json_object_object_add(o, "throttle_every", json_object_new_int64(f->throttle_every));
    json_object_object_add(o, "retry_after", json_object_new_double(f->retry_after));
    json_object_object_add(o, "fail_every", json_object_new_int64(f->fail_every));
    json_object_object_add(o, "latency_ms", json_object_new_int64(f->latency_ms));
    gs_json_add_str(o, "throttle_scope", class_name(f->throttle_classes));
    json_object_object_add(o, "throttle_grace_ms", json_object_new_int64(f->throttle_grace_ms));
    json_object_object_add(o, "tenant_throttle_left", json_object_new_double(left > 0 ? left : 0));
    if (f->bad_list) {
        json_object *list = json_object_new_array();

        for (size_t i = 0; i < f->nbad; i++) {
            json_object_array_add(list, bad_json(&f->bad[i]));
        }
        json_object_object_add(o, "bad_answer", list);
    } else {
        static const struct gs_bad_answer none = {GS_BAD_NONE, 0, "", "", "", ""};

        json_object_object_add(o, "bad_answer", bad_json(f->nbad > 0 ? &f->bad[0] : &none));
    }
    gs_json_add_str(o, "graph_host", srv->graph_host);
    return o;
}

static json_object *faults_and_model_json(const struct gs_server *srv)
{
    json_object *o = faults_json(srv);

    gs_model_json(&srv->model, o);
    return o;
}

static json_object *stats_json(const struct gs_server *srv)
{
    json_object *o = json_object_new_object();
    const struct stats *s = &srv->stats;

#define STAT(name) json_object_object_add(o, #name, json_object_new_int64((int64_t)s->name))
    STAT(requests);
    STAT(graph_requests);
    STAT(batch_items);
    STAT(mutations);
    STAT(token_requests);
    STAT(tokens_issued);
    STAT(throttled);
    STAT(retry_after_violations);
    STAT(injected_failures);
    STAT(unauthorized);
    STAT(unknown_paths);
    STAT(bad_requests);
    json_object_object_add(o, "throttle_scope_violations",
                           json_object_new_int64((int64_t)s->scope_violations));
    STAT(bad_answers);
#undef STAT
    json_object_object_add(o, "log_entries", json_object_new_int64((int64_t)srv->log_len));
    json_object_object_add(o, "log_dropped", json_object_new_int64((int64_t)srv->log_dropped));
    json_object_object_add(
        o, "users", json_object_new_int64((int64_t)(srv->tenant->nusers - srv->tenant->ntomb)));
    return o;
}

static json_object *requests_json(const struct gs_server *srv, uint64_t since)
{
    json_object *o = json_object_new_object();
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < srv->log_len; i++) {
        const struct log_entry *e = &srv->log[(srv->log_head + i) % srv->log_cap];
        json_object *x;
        char ts[32];

        if (e->seq <= since) {
            continue;
        }
        x = json_object_new_object();
        gs_time_format(ts, e->time, true);
        json_object_object_add(x, "seq", json_object_new_int64((int64_t)e->seq));
        gs_json_add_str(x, "time", ts);
        gs_json_add_str(x, "method", e->method);
        gs_json_add_str(x, "path", e->path);
        json_object_object_add(x, "status", json_object_new_int(e->status));
        gs_json_add_str(x, "body_sha256", e->digest);
        json_object_object_add(x, "batch", json_object_new_boolean(e->batch));
        gs_json_add_str(x, "batch_id", e->batch_id);
        json_object_object_add(x, "batch_parent",
                               e->batch ? json_object_new_int64((int64_t)e->parent) : NULL);
        {
            json_object *h = json_object_new_object();

            gs_json_add_str(h, "Content-Type", e->ctype);
            if (!e->batch) {
                gs_json_add_str(h, "client-request-id", e->crid);
                gs_json_add_str(h, "User-Agent", e->ua);
                gs_json_add_str(h, "Authorization", e->auth);
            }
            json_object_object_add(x, "headers", h);
        }
        gs_json_add_str(x, "request_id", e->batch ? NULL : e->rid);
        json_object_object_add(
            x, "body",
            e->body != NULL ? json_object_new_string_len(e->body, (int)strlen(e->body)) : NULL);
        json_object_object_add(x, "body_length", json_object_new_int64((int64_t)e->body_len));
        /* How long after it arrived its answer was written to the socket (ms); null until then
         * (and for a reply evhttp never wrote). */
        json_object_object_add(
            x, "answered_ms",
            e->answered > 0
                ? json_object_new_double((double)(int64_t)((e->answered - e->arrived) * 1e4) / 10.0)
                : NULL);
        if (e->form != NULL) {
            json_object_object_add(x, "form", json_object_get(e->form));
        }
        json_object_array_add(a, x);
    }
    json_object_object_add(o, "value", a);
    json_object_object_add(o, "dropped", json_object_new_int64((int64_t)srv->log_dropped));
    return o;
}

static void sim_error(struct reply *r, int status, const char *code, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();

    gs_json_add_str(e, "code", code);
    gs_json_add_str(e, "message", msg);
    json_object_object_add(o, "error", e);
    r->status = status;
    r->body = o;
    r->content_type = PLAIN_JSON;
}

static void free_double(void *p)
{
    free(p);
}

static bool sim_reset(struct gs_server *srv, char *err, size_t errlen)
{
    struct gs_tenant *t = gs_tenant_new(srv->seed, srv->opt.generate_users, err, errlen);

    if (t == NULL) {
        return false;
    }
    gs_tenant_free(srv->tenant);
    srv->tenant = t;
    memset(&srv->stats, 0, sizeof(srv->stats));
    log_clear(srv);
    gs_map_clear(srv->throttle, free_double);
    srv->burst_until = 0;
    srv->tenant_until = 0;
    waits_clear(srv);
    srv->epoch++; /* replies still on their way open no window */
    srv->scope_epoch++;
    snprintf(srv->graph_host, sizeof(srv->graph_host), "%s",
             srv->opt.graph_host ? srv->opt.graph_host : GRAPH_HOST);
    srv->faults = srv->opt.faults;
    srv->model = srv->opt.model;
    srv->graph_counter = 0;
    srv->mutation_counter = 0;
    return true;
}

/* {"kind", "count", "method", "path"} (or null: off) into *b; false when malformed. */
/* One bad_answer object ({"kind", "count", "method", "path", "query"}) into *b. */
static bool bad_one_json(json_object *v, struct gs_bad_answer *b)
{
    const char *kind, *method, *path, *query, *member;
    json_object *n = NULL;

    if (v == NULL || !json_object_is_type(v, json_type_object)) {
        return false;
    }
    json_object_object_foreach(v, key, val)
    {
        (void)val;
        if (strcmp(key, "kind") != 0 && strcmp(key, "count") != 0 && strcmp(key, "method") != 0 &&
            strcmp(key, "path") != 0 && strcmp(key, "query") != 0 && strcmp(key, "member") != 0) {
            return false;
        }
    }
    kind = gs_json_get_str(v, "kind");
    method = gs_json_get_str(v, "method");
    path = gs_json_get_str(v, "path");
    query = gs_json_get_str(v, "query");
    member = gs_json_get_str(v, "member");
    if (gs_bad_kind_parse(kind) == GS_BAD_NONE || !json_object_object_get_ex(v, "count", &n) ||
        !json_object_is_type(n, json_type_int) || json_object_get_int64(n) < 0 ||
        (method != NULL && strlen(method) >= sizeof(b->method)) ||
        (path != NULL && strlen(path) >= sizeof(b->path)) ||
        (query != NULL && strlen(query) >= sizeof(b->query)) ||
        (member != NULL &&
         (strlen(member) >= sizeof(b->member) || gs_bad_kind_parse(kind) != GS_BAD_NO_ID))) {
        return false;
    }
    memset(b, 0, sizeof(*b));
    b->kind = gs_bad_kind_parse(kind);
    b->count = (long)json_object_get_int64(n);
    snprintf(b->method, sizeof(b->method), "%s", method ? method : "");
    snprintf(b->path, sizeof(b->path), "%s", path ? path : "");
    snprintf(b->query, sizeof(b->query), "%s", query ? query : "");
    snprintf(b->member, sizeof(b->member), "%s", member ? member : "");
    return true;
}

/* The bad_answer setting into f: null (off), one object, or a list of up to GS_BAD_MAX. */
static bool bad_answer_json(json_object *v, struct gs_faults *f)
{
    struct gs_bad_answer bad[GS_BAD_MAX];
    size_t n = 0;
    bool list = v != NULL && json_object_is_type(v, json_type_array);

    if (v == NULL) {
        f->nbad = 0;
        f->bad_list = false;
        return true;
    }
    if (list) {
        n = json_object_array_length(v);
        if (n > GS_BAD_MAX) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (!bad_one_json(json_object_array_get_idx(v, i), &bad[i])) {
                return false;
            }
        }
    } else if (bad_one_json(v, &bad[0])) {
        n = 1;
    } else {
        return false;
    }
    memcpy(f->bad, bad, n * sizeof(bad[0]));
    f->nbad = n;
    f->bad_list = list;
    return true;
}

/* Applies a partial fault settings object; any invalid member rejects the whole change. */
static bool sim_faults(struct gs_server *srv, const char *body, size_t len, char *err,
                       size_t errlen)
{
    json_object *o = gs_json_parse(body ? body : "", len, err, errlen);
    struct gs_faults f = srv->faults;
    struct gs_model m = srv->model;
    bool ok = o != NULL && json_object_is_type(o, json_type_object);
    double burst = -1, tenant = -1;
    bool revoke = false;
    char host[128] = "";

    if (o != NULL && !ok) {
        snprintf(err, errlen, "the body must be a JSON object");
    }
    if (ok) {
        json_object_object_foreach(o, key, val)
        {
            bool is_int = val != NULL && json_object_is_type(val, json_type_int);
            bool is_num = is_int || (val != NULL && json_object_is_type(val, json_type_double));
            int64_t n = is_int ? json_object_get_int64(val) : -1;

            if (strcmp(key, "retry_after") == 0 && is_num && json_object_get_double(val) > 0 &&
                json_object_get_double(val) <= 3600) {
                f.retry_after = json_object_get_double(val);
            } else if (strcmp(key, "throttle_every") == 0 && is_int && n >= 0) {
                f.throttle_every = n;
            } else if (strcmp(key, "fail_every") == 0 && is_int && n >= 0) {
                f.fail_every = n;
            } else if (strcmp(key, "latency_ms") == 0 && is_int && n >= 0 && n <= 600000) {
                f.latency_ms = n;
            } else if (strcmp(key, "throttle_for") == 0 && is_num &&
                       json_object_get_double(val) >= 0 && json_object_get_double(val) <= 3600) {
                burst = json_object_get_double(val);
            } else if (strcmp(key, "revoke_tokens") == 0 && val != NULL &&
                       json_object_is_type(val, json_type_boolean)) {
                revoke = json_object_get_boolean(val);
            } else if (strcmp(key, "throttle_grace_ms") == 0 && is_int && n >= 0 && n <= 60000) {
                f.throttle_grace_ms = n;
            } else if (strcmp(key, "tenant_throttle_for") == 0 && is_num &&
                       json_object_get_double(val) >= 0 && json_object_get_double(val) <= 3600) {
                tenant = json_object_get_double(val);
            } else if (strcmp(key, "throttle_scope") == 0 && val != NULL &&
                       json_object_is_type(val, json_type_string) &&
                       gs_throttle_classes(json_object_get_string(val)) != 0) {
                f.throttle_classes = gs_throttle_classes(json_object_get_string(val));
            } else if (strcmp(key, "graph_host") == 0 && val != NULL &&
                       json_object_is_type(val, json_type_string) &&
                       gs_host_ok(json_object_get_string(val))) {
                snprintf(host, sizeof(host), "%s", json_object_get_string(val));
            } else if (strcmp(key, "bad_answer") == 0 && bad_answer_json(val, &f)) {
                /* set in f.bad */
            } else if (gs_model_set(&m, key, val)) {
                /* replica_lag, pim_forbidden, timeout_next_create (graph.h) */
            } else {
                snprintf(err, errlen, "invalid or unknown fault setting '%s'", key);
                ok = false;
                break;
            }
        }
    }
    json_object_put(o);
    if (ok) {
        /* Counting restarts so "every K-th" is measured from this change. */
        if (f.throttle_every != srv->faults.throttle_every) {
            srv->mutation_counter = 0;
        }
        if (f.fail_every != srv->faults.fail_every) {
            srv->graph_counter = 0;
        }
        srv->faults = f;
        srv->model = m;
        if (burst >= 0) {
            srv->burst_until = gs_now_mono() + burst;
        }
        if (tenant >= 0) {
            srv->tenant_until = gs_now_mono() + tenant;
            if (tenant == 0) {
                waits_clear(srv); /* ended: nothing to wait for, nor for 429s still leaving */
                srv->scope_epoch++;
            }
        }
        if (host[0] != '\0') {
            snprintf(srv->graph_host, sizeof(srv->graph_host), "%s", host);
        }
        if (revoke) {
            /* Every token issued so far is refused from now on, as after a key rollover. */
            gs_map_clear(srv->tokens, free_double);
        }
    }
    return ok;
}

/* PATCH /_sim/users/{id|upn}: sets properties "behind the client's back", as HR provisioning
 * would: any structural user property but id (checked against its EDM type; null clears it),
 * and "manager" (an id or UPN, or null). All or nothing; each change shows in delta rounds. */
static void sim_user_patch(struct gs_server *srv, const char *key, const char *body, size_t len,
                           struct reply *r)
{
    struct gs_tenant *t = srv->tenant;
    struct gs_user *u = gs_tenant_user_find(t, key), *mgr = NULL;
    json_object *o;
    char why[128], msg[320];
    bool set_manager = false;

    if (u == NULL) {
        sim_error(r, 404, "NotFound", "No such user.");
        return;
    }
    o = gs_json_parse(body, len, why, sizeof(why));
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        sim_error(r, 400, "BadRequest", "The body must be a JSON object of user properties.");
        return;
    }
    json_object_object_foreach(o, name, val)
    {
        int idx;

        if (strcmp(name, "manager") == 0) {
            set_manager = true;
            if (val != NULL &&
                (!json_object_is_type(val, json_type_string) ||
                 (mgr = gs_tenant_user_find(t, json_object_get_string(val))) == NULL || mgr == u)) {
                snprintf(msg, sizeof(msg), "manager: no such user (or the user itself).");
                goto bad;
            }
            continue;
        }
        idx = gs_user_prop_index(name, false);
        if (idx < 0 || idx == GS_U_ID) {
            snprintf(msg, sizeof(msg), "'%s' is not a settable property of microsoft.graph.user.",
                     name);
            goto bad;
        }
        if (!gs_prop_check(&gs_user_props[idx], val, why, sizeof(why))) {
            snprintf(msg, sizeof(msg), "Invalid value for '%s'%s%s.", name, why[0] ? ": " : "",
                     why);
            goto bad;
        }
        if (idx == GS_U_USER_PRINCIPAL_NAME || idx == GS_U_MAIL) {
            struct gs_user *other =
                val != NULL ? gs_tenant_user_find(t, json_object_get_string(val)) : NULL;

            if (idx == GS_U_USER_PRINCIPAL_NAME && val == NULL) {
                snprintf(msg, sizeof(msg), "userPrincipalName cannot be cleared.");
                goto bad;
            }
            if (other != NULL && other != u) {
                snprintf(msg, sizeof(msg), "'%s' is taken by another user.", name);
                goto bad;
            }
        }
    }
    json_object_object_foreach(o, name2, val2)
    {
        if (strcmp(name2, "manager") != 0) {
            gs_tenant_user_set(t, u, gs_user_prop_index(name2, false), json_object_get(val2));
        }
    }
    if (set_manager) {
        gs_tenant_user_set_manager(t, u, mgr);
    }
    json_object_put(o);
    r->status = 204;
    return;

bad:
    json_object_put(o);
    sim_error(r, 400, "BadRequest", msg);
}

/* POST /_sim/groups/{id}/members {"id": "<user id or UPN>"} and
 * DELETE /_sim/groups/{id}/members/{user id or UPN}: membership changes made outside the
 * client (licences of a licensed group follow, as through Graph). */
static void sim_group_members(struct gs_server *srv, const char *method, char **seg, size_t nseg,
                              const char *body, size_t len, struct reply *r)
{
    struct gs_tenant *t = srv->tenant;
    struct gs_group *g = gs_tenant_group(t, seg[2]);
    struct gs_user *u = NULL;

    if (g == NULL) {
        sim_error(r, 404, "NotFound", "No such group.");
        return;
    }
    if (nseg == 4 && strcmp(method, "POST") == 0) {
        char why[128];
        json_object *o = gs_json_parse(body, len, why, sizeof(why));
        const char *id = o != NULL ? gs_json_get_str(o, "id") : NULL;

        u = id != NULL ? gs_tenant_user_find(t, id) : NULL;
        json_object_put(o);
        if (id == NULL) {
            sim_error(r, 400, "BadRequest", "The body must be {\"id\": \"<user id or UPN>\"}.");
        } else if (u == NULL) {
            sim_error(r, 404, "NotFound", "No such user.");
        } else if (!gs_tenant_group_add(t, g, u)) {
            sim_error(r, 409, "Conflict", "The user is a member already.");
        } else {
            r->status = 204;
        }
    } else if (nseg == 5 && strcmp(method, "DELETE") == 0) {
        u = gs_tenant_user_find(t, seg[4]);
        if (u == NULL || !gs_tenant_group_remove(t, g, u)) {
            sim_error(r, 404, "NotFound", "No such member.");
        } else {
            r->status = 204;
        }
    } else {
        sim_error(r, 405, "MethodNotAllowed", "Use POST .../members or DELETE .../members/{id}.");
    }
}

static void handle_sim(struct gs_server *srv, const char *method, char **seg, size_t nseg,
                       const char *query, const char *body, size_t len, struct reply *r)
{
    const char *what = nseg > 1 ? seg[1] : "";
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char err[256];

    r->content_type = PLAIN_JSON;
    if (strcmp(what, "users") == 0 && nseg == 3 && strcmp(method, "PATCH") == 0) {
        sim_user_patch(srv, seg[2], body, len, r);
        return;
    }
    if (strcmp(what, "users") == 0 && nseg == 3 && strcmp(method, "DELETE") == 0) {
        struct gs_user *u = gs_tenant_user_find(srv->tenant, seg[2]);

        if (u == NULL) {
            sim_error(r, 404, "NotFound", "No such user.");
        } else {
            gs_tenant_user_delete(srv->tenant, u);
            r->status = 204;
        }
        return;
    }
    if (strcmp(what, "groups") == 0 && (nseg == 4 || nseg == 5) && strcmp(seg[3], "members") == 0) {
        sim_group_members(srv, method, seg, nseg, body, len, r);
        return;
    }
    if (strcmp(what, "users") == 0 && nseg == 3) {
        struct gs_user *u = gs_tenant_user_find(srv->tenant, seg[2]);

        if (!get) {
            sim_error(r, 405, "MethodNotAllowed", "Use GET, PATCH or DELETE.");
        } else if (u == NULL) {
            sim_error(r, 404, "NotFound", "No such user.");
        } else {
            r->status = 200;
            r->body = gs_user_full(srv->tenant, u);
        }
        return;
    }
    if (nseg != 2) {
        srv->stats.unknown_paths++;
        sim_error(r, 404, "NotFound", "Unknown simulator endpoint.");
        return;
    }
    if (strcmp(what, "state") == 0 && get) {
        r->status = 200;
        r->body = gs_tenant_state(srv->tenant);
    } else if (strcmp(what, "stats") == 0 && get) {
        r->status = 200;
        r->body = stats_json(srv);
    } else if (strcmp(what, "requests") == 0 && get) {
        uint64_t since = 0;

        if (query != NULL && strncmp(query, "since=", 6) == 0) {
            since = strtoull(query + 6, NULL, 10);
        }
        r->status = 200;
        r->body = requests_json(srv, since);
    } else if (strcmp(what, "reset") == 0 && post) {
        if (sim_reset(srv, err, sizeof(err))) {
            r->status = 204;
        } else {
            sim_error(r, 500, "ResetFailed", err);
        }
    } else if (strcmp(what, "faults") == 0 && (get || post)) {
        if (post && !sim_faults(srv, body, len, err, sizeof(err))) {
            sim_error(r, 400, "BadRequest", err);
            return;
        }
        r->status = 200;
        r->body = faults_and_model_json(srv);
    } else if (strcmp(what, "mail") == 0 && get) {
        /* issue 18: the mails sendMail accepted, oldest first */
        r->status = 200;
        r->body = json_object_new_object();
        json_object_object_add(r->body, "value",
                               srv->tenant->mail_sent ? json_object_get(srv->tenant->mail_sent)
                                                      : json_object_new_array());
    } else if (strcmp(what, "health") == 0 && get) {
        r->status = 200;
        r->body = json_object_new_object();
        gs_json_add_str(r->body, "status", "ok");
    } else if (strcmp(what, "state") == 0 || strcmp(what, "stats") == 0 ||
               strcmp(what, "requests") == 0 || strcmp(what, "reset") == 0 ||
               strcmp(what, "faults") == 0 || strcmp(what, "health") == 0) {
        sim_error(r, 405, "MethodNotAllowed", "Method not allowed for this endpoint.");
    } else {
        srv->stats.unknown_paths++;
        sim_error(r, 404, "NotFound", "Unknown simulator endpoint.");
    }
}

/* }====== */

/* {====== dispatch ====== */

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

/* Answers leave at once, as from any real front end: without TCP_NODELAY an answer written in
 * more than one segment (a 200-user delta page) waits for the client's delayed ACK, 40 ms a
 * page, which is graphsim's stall, not the client's time. */
static void no_delay(struct evhttp_request *ev)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    int one = 1;

    if (fd >= 0) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct gs_server *srv = arg;
    const char *method = method_name(evhttp_request_get_command(ev));
    const char *uri = evhttp_request_get_uri(ev);
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t len = evbuffer_get_length(in);
    const char *body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
    const char *crid =
        evhttp_find_header(evhttp_request_get_input_headers(ev), "client-request-id");
    struct reply r = {0};
    char rid[37], *path, *query, *save = NULL, *seg[6];
    size_t nseg = 0;

    no_delay(ev);
    gs_guid_new(rid);
    if (crid == NULL || crid[0] == '\0' || strlen(crid) > 128) {
        crid = rid;
    }
    if (uri == NULL || uri[0] != '/') {
        sim_error(&r, 400, "BadRequest", "Request targets must be origin-form paths.");
        send_reply(srv, ev, &r, false, NULL, NULL);
        return;
    }
    path = gs_xstrdup(uri);
    query = strchr(path, '?');
    if (query != NULL) {
        *query++ = '\0';
    }
    /* Only the first few segments decide the route; graph.c re-parses the full target. */
    for (char *s = strtok_r(path, "/", &save); s != NULL && nseg < 6;
         s = strtok_r(NULL, "/", &save)) {
        seg[nseg++] = s;
    }
    if (nseg > 0 && strcmp(seg[0], "_sim") == 0) {
        handle_sim(srv, method, seg, nseg, query, body, len, &r);
        send_reply(srv, ev, &r, false, NULL, NULL);
        free(path);
        return;
    }
    srv->stats.requests++;
    if (nseg > 0 && strcmp(seg[0], "v1.0") == 0 && strncmp(uri, "/v1.0", 5) == 0) {
        handle_graph(srv, ev, method, uri, body, len, &r, rid, crid);
    } else if (nseg == 4 && strcmp(seg[1], "oauth2") == 0 && strcmp(seg[2], "v2.0") == 0 &&
               strcmp(seg[3], "token") == 0 && query == NULL) {
        struct evkeyvalq *hdrs = evhttp_request_get_input_headers(ev);
        struct log_meta meta = {
            .ctype = evhttp_find_header(hdrs, "Content-Type"),
            .crid = evhttp_find_header(hdrs, "client-request-id"),
            .ua = evhttp_find_header(hdrs, "User-Agent"),
            .rid = rid,
            .form = token_form_log(body, len),
        };

        handle_token(srv, ev, method, seg[0], uri, body, len, &r);
        note_get(srv)->seq = log_add(srv, method, uri, body, len, false, NULL, 0, r.status, &meta);
        json_object_put(meta.form);
    } else {
        struct gs_ctx ctx = {srv->tenant, srv->base_url, rid, crid, NULL, NULL, NULL};
        struct gs_resp resp = {0};

        gs_error(&ctx, &resp, 400, "BadRequest", "Invalid version: %s", nseg > 0 ? seg[0] : "");
        srv->stats.unknown_paths++;
        r.status = resp.status;
        r.body = resp.body;
        note_get(srv)->seq = log_add(srv, method, uri, body, len, false, NULL, 0, r.status, NULL);
    }
    r.note = srv->note; /* when it is written, its answer time is logged and its waits open */
    srv->note = NULL;
    send_reply(srv, ev, &r, true, rid, crid);
    free(path);
}

/* }====== */

/* {====== lifecycle ====== */

struct gs_server *gs_server_new(struct event_base *base, json_object *seed,
                                const struct gs_options *opt, char *err, size_t errlen)
{
    struct gs_server *srv = gs_xcalloc(1, sizeof(*srv));
    struct evhttp_bound_socket *sock;
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof(ss);

    srv->base = base;
    srv->seed = seed;
    srv->opt = *opt;
    srv->faults = opt->faults;
    if (srv->faults.throttle_classes == 0) {
        srv->faults.throttle_classes = srv->opt.faults.throttle_classes = 3;
    }
    snprintf(srv->graph_host, sizeof(srv->graph_host), "%s",
             opt->graph_host ? opt->graph_host : GRAPH_HOST);
    if (opt->tenant_throttle_for > 0) {
        srv->tenant_until = gs_now_mono() + opt->tenant_throttle_for;
    }
    srv->model = opt->model;
    srv->tokens = gs_map_new(false);
    srv->throttle = gs_map_new(false);
    srv->log_cap = opt->log_limit < 1000 ? 1000 : (size_t)opt->log_limit;
    srv->log = gs_xcalloc(srv->log_cap, sizeof(*srv->log));
    srv->tenant = gs_tenant_new(seed, opt->generate_users, err, errlen);
    if (srv->tenant == NULL) {
        goto err;
    }
    srv->http = evhttp_new(base);
    if (srv->http == NULL) {
        snprintf(err, errlen, "evhttp_new failed");
        goto err;
    }
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE);
    evhttp_set_max_body_size(srv->http, MAX_BODY);
    /* An empty answer (204, an empty 202) carries no Content-Type, as Graph's do; evhttp's
     * default would say text/html. */
    evhttp_set_default_content_type(srv->http, NULL);
    evhttp_set_timeout(srv->http, 120);
    evhttp_set_gencb(srv->http, on_request, srv);
    sock = evhttp_bind_socket_with_handle(srv->http, "127.0.0.1", (ev_uint16_t)opt->port);
    if (sock == NULL) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%d: %s", opt->port, strerror(errno));
        goto err;
    }
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) != 0 ||
        ss.ss_family != AF_INET) {
        snprintf(err, errlen, "getsockname failed: %s", strerror(errno));
        goto err;
    }
    srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(srv->base_url, sizeof(srv->base_url), "http://127.0.0.1:%d", srv->port);
    return srv;

err:
    gs_server_free(srv);
    return NULL;
}

int gs_server_port(const struct gs_server *srv)
{
    return srv->port;
}

size_t gs_server_user_count(const struct gs_server *srv)
{
    return srv->tenant->nusers - srv->tenant->ntomb;
}

void gs_server_flush(struct gs_server *srv)
{
    srv->closing = true;
    /* A request whose client went away is detached by evhttp and freed by the send. */
    while (srv->pending != NULL) {
        struct pending *p = srv->pending;

        event_del(p->timer);
        on_delayed(-1, 0, p);
    }
}

void gs_server_free(struct gs_server *srv)
{
    if (srv == NULL) {
        return;
    }
    gs_server_flush(srv);
    if (srv->http != NULL) {
        evhttp_free(srv->http);
    }
    gs_tenant_free(srv->tenant);
    json_object_put(srv->seed);
    gs_map_free(srv->tokens, free_double);
    gs_map_free(srv->throttle, free_double);
    while (srv->notes != NULL) {
        struct answer_note *n = srv->notes; /* replies evhttp freed unwritten */

        srv->notes = n->next;
        note_free(n);
    }
    note_free(srv->note);
    waits_clear(srv);
    if (srv->log != NULL) {
        log_clear(srv);
    }
    free(srv->log);
    free(srv);
}

/* }====== */
