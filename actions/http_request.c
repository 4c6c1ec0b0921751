/*
 * http_request — the http-request action: one HTTP call to another service (Slack, a ticketing
 * system, another SaaS), with a JSON or text body and an expected status.
 *
 * The URL comes from a workflow and often from an event through a template, but the call
 * leaves from inside the operator's network: every connection is judged by engine/net/net_guard
 * (loopback, link-local with the cloud metadata address, private and unique-local ranges are
 * refused unless weir.yaml http.allow lists them). It is not a general HTTP client: http and
 * https only, no redirects followed, no proxy.
 *
 * Calling a service back (an HR system's API after its webhook said "employee 42 changed"):
 * `auth:` sends a credential resolved at execution from env:NAME or file:PATH — the workflow
 * and the journal hold only the reference; the value is registered with the secret masking
 * (engine/base/secret.h), so no log line, error or history shows it, and wiped after use.
 * `max_response:` bounds the answer: a larger one fails the step, never cut short silently. A
 * 429, or a 503 with Retry-After, is the service asking for time: the step is throttled
 * (wr_action_fail_throttled) and waits as long as asked without using up retry.attempts.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "actions/action.h"
#include "engine/base/clock.h"
#include "engine/base/json.h"
#include "engine/base/secret.h"
#include "engine/base/size.h"
#include "engine/graph/graph.h"
#include "engine/net/curl_loop.h"
#include "engine/net/net_guard.h"
#include "engine/base/strutil.h"

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
static const char *const auth_types[] = {"bearer", "basic", "header", NULL};

/* The answer kept by default, and the most `max_response` may allow. */
#define DEFAULT_MAX_RESPONSE ((uint64_t)1 << 20)
#define LIMIT_MAX_RESPONSE   ((uint64_t)16 << 20)

/* The undo record (action.h, issue 18): what another service did with a request is not known
   to weir, so it cannot be reversed. */
#define UNDO_IMPOSSIBLE                                                                            \
    "weir cannot know how another service's state changed, so an HTTP request cannot be "          \
    "undone; reverse it with a request of its own if it must be"

/* `auth:` (the secret's template is refused: event data must not pick which secret is read). */
static const struct wr_argspec auth_args[] = {
    {.name = "type",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .choices = auth_types,
     .help = "bearer: Authorization: Bearer SECRET; basic: SECRET is user:password (BambooHR: "
             "APIKEY:x), sent base64; header: HEADER: SECRET"},
    {.name = "secret",
     .type = WR_ARG_SECRET,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "env:NAME or file:PATH (relative to the workflow file's directory)"},
    {.name = "header",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "type header only (required there): the header's name, e.g. X-API-Key",
     .schema = "{\"pattern\": \"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$\"}"}, /* header_name_valid */
    /* for `weir schema`: validate_auth's "header with type header, and only there" */
    {.schema = "{\"if\": {\"required\": [\"type\"], \"properties\": {\"type\": {\"const\": "
               "\"header\"}}}, \"then\": {\"required\": [\"header\"]}, \"else\": {\"not\": "
               "{\"required\": [\"header\"]}}}"},
};

static const struct wr_argspec http_request_args[] = {
    {.name = "method",
     .type = WR_ARG_ENUM,
     .choices = methods,
     .help = "HTTP method; default POST when there is a body, else GET"},
    {.name = "url",
     .type = WR_ARG_URL,
     .flags = WR_ARG_REQUIRED,
     .help = "http(s) URL; internal addresses need weir.yaml http.allow"},
    {.name = "headers",
     .type = WR_ARG_OBJECT,
     .help = "extra request headers (name: value)",
     .schema = "{\"additionalProperties\": {\"type\": \"string\"}}"}, /* values: strings */
    {.name = "body", .type = WR_ARG_ANY, .help = "a mapping or list (sent as JSON) or a string"},
    {.name = "expect",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE, /* http_request_validate reads it at load */
     .help = "accepted status code or list of codes; default any 2xx",
     .schema = "{\"anyOf\": [{\"type\": \"integer\", \"minimum\": 100, \"maximum\": 599}, "
               "{\"type\": \"array\", \"items\": {\"type\": \"integer\", \"minimum\": 100, "
               "\"maximum\": 599}}]}"},
    {.name = "auth",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_NO_TEMPLATE,
     .fields = auth_args,
     .help = "the credential sent, resolved at execution; never stored or logged"},
    {.name = "max_response",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a size such as 1MiB or 65536",
     .schema = "{\"$ref\": \"#/$defs/size\"}",
     .help = "a larger answer fails the step (never cut short), 1B-16MiB; default 1MiB"},
    {0},
};

/* Whether s is an HTTP header name (RFC 9110 token). */
static bool header_name_valid(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s))) {
            return false;
        }
    }
    return true;
}

/* The header auth sends (borrowed from auth, or static), or NULL when auth says none yet. */
static const char *auth_header_name(struct json_object *auth)
{
    struct json_object *type = NULL, *header = NULL;
    if (!json_object_object_get_ex(auth, "type", &type) ||
        !json_object_is_type(type, json_type_string)) {
        return NULL;
    }
    if (strcmp(json_object_get_string(type), "header") != 0) {
        return "Authorization";
    }
    return json_object_object_get_ex(auth, "header", &header) &&
                   json_object_is_type(header, json_type_string)
               ? json_object_get_string(header)
               : NULL;
}

/* The cross-key checks of `auth:` (the table checked each key's type already). */
static void validate_auth(struct wr_check *c, struct json_object *auth, struct json_object *headers,
                          const char *path)
{
    struct json_object *type = NULL, *header = NULL;
    char *ap = wr_path_key(path, "auth");
    bool has_header = json_object_object_get_ex(auth, "header", &header);
    if (json_object_object_get_ex(auth, "type", &type) &&
        json_object_is_type(type, json_type_string)) {
        const char *t = json_object_get_string(type);
        if (strcmp(t, "header") == 0 && !has_header) {
            wr_check_error(c, ap, false,
                           "auth.header is required with type header: the header's name, "
                           "e.g. header: X-API-Key");
        } else if (strcmp(t, "header") != 0 && has_header) {
            char *p = wr_path_key(ap, "header");
            wr_check_error(c, p, true, "only for type header (%s sends Authorization)", t);
            free(p);
        }
    }
    if (has_header && json_object_is_type(header, json_type_string) &&
        !header_name_valid(json_object_get_string(header))) {
        char *p = wr_path_key(ap, "header");
        wr_check_error(c, p, false, "'%s' is not a header name", json_object_get_string(header));
        free(p);
    }
    /* Two credentials, or one sent twice: which one the service reads is anyone's guess. */
    const char *name = auth_header_name(auth);
    if (name && json_object_is_type(headers, json_type_object)) {
        json_object_object_foreach(headers, hname, hvalue)
        {
            (void)hvalue;
            if (strcasecmp(hname, name) == 0) {
                char *hp = wr_path_key(path, "headers");
                char *p = wr_path_key(hp, hname);
                wr_check_error(c, p, true,
                               "headers.%s and auth: both set %s; let auth: send the credential "
                               "and drop this header",
                               hname, name);
                free(p);
                free(hp);
            }
        }
    }
    free(ap);
}

static void http_request_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *headers = NULL, *expect = NULL, *auth = NULL, *max = NULL;
    if (json_object_object_get_ex(args, "headers", &headers) &&
        json_object_is_type(headers, json_type_object)) {
        json_object_object_foreach(headers, name, value)
        {
            if (!json_object_is_type(value, json_type_string)) {
                char *hp = wr_path_key(path, "headers");
                char *p = wr_path_key(hp, name);
                wr_check_error(c, p, false, "a header value must be a string, got %s",
                               wr_json_type_name(value));
                free(p);
                free(hp);
            }
        }
    }
    if (json_object_object_get_ex(args, "expect", &expect) &&
        !(json_object_is_type(expect, json_type_string) &&
          strstr(json_object_get_string(expect), "{{"))) { /* a template: the table refused it */
        bool ok = true;
        if (json_object_is_type(expect, json_type_int)) {
            int64_t code = json_object_get_int64(expect);
            ok = code >= 100 && code <= 599;
        } else if (json_object_is_type(expect, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(expect); i++) {
                struct json_object *e = json_object_array_get_idx(expect, i);
                int64_t code = json_object_get_int64(e);
                ok = ok && json_object_is_type(e, json_type_int) && code >= 100 && code <= 599;
            }
        } else {
            ok = false;
        }
        if (!ok) {
            char *p = wr_path_key(path, "expect");
            wr_check_error(c, p, false, "expected a status code (100-599) or a list of them");
            free(p);
        }
    }
    json_object_object_get_ex(args, "headers", &headers);
    if (json_object_object_get_ex(args, "auth", &auth) &&
        json_object_is_type(auth, json_type_object)) {
        validate_auth(c, auth, headers, path);
    }
    if (json_object_object_get_ex(args, "max_response", &max)) {
        char err[WR_ERR_MAX];
        uint64_t n = 0;
        char *p = wr_path_key(path, "max_response");
        if (wr_size_get(max, &n, err, sizeof(err)) != 0) {
            wr_check_error(c, p, false, "%s", err);
        } else if (n < 1 || n > LIMIT_MAX_RESPONSE) {
            wr_check_error(c, p, false, "%s is out of range 1B-16MiB", json_object_get_string(max));
        }
        free(p);
    }
}

/* {====== execution ======
 *
 * The call does not go through the Graph client (no token, no $batch, no Graph envelopes),
 * but its easy handle runs on the Graph client's curl loop (engine/net/curl_loop.h,
 * wr_action_curl_loop): one multi handle and one connection pool for the process, so calls to
 * the same service reuse a connection instead of opening one each. libcurl is never
 * re-entered from its own callbacks: the loop reports the end from its own event, and the
 * handles are torn down from another event on a later turn.
 */

/* The length of an array; 0 for NULL or anything else (json-c asserts on those). */
static size_t array_len(struct json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* One execution's state (wr_action_state); the engine releases it through op_clear. */
struct http_op {
    struct wr_action_ctx *ctx;
    struct event_base *base;
    struct wr_curl_loop *loop; /* the Graph client's (borrowed) */
    CURL *easy;
    struct curl_slist *headers;
    char *body;         /* the request body sent */
    const char *method; /* the method sent (static, or borrowed from the arguments) */
    char *where;        /* the URL without path or query, for messages: URLs can hold secrets */
    struct event *end;  /* fires when the transfer is over */
    struct wr_buf response;
    uint64_t max_response; /* max_response: a larger answer fails the step */
    bool oversize;         /* the answer passed max_response: the transfer was stopped */
    char retry_after[64];  /* the answer's Retry-After header, "" when it had none */
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
    const struct wr_net_guard *guard; /* http.allow (borrowed; NULL = nothing allowed) */
    char refused[WR_ERR_MAX]; /* why the first refused connection was refused; "" when none was */
    bool opened;              /* the guard let at least one connection through */
};

/* The clear function of the execution's state: releases what the op owns (the engine frees the
   block itself, after the outcome was delivered). */
static void op_clear(void *state)
{
    struct http_op *op = state;
    if (op->loop && op->easy) {
        wr_curl_loop_remove(op->loop, op->easy); /* nothing to do once it has ended */
    }
    if (op->easy) {
        curl_easy_cleanup(op->easy);
    }
    if (op->end) {
        event_free(op->end);
    }
    /* The auth header's line holds the credential: wiped before it is freed. */
    for (struct curl_slist *h = op->headers; h; h = h->next) {
        OPENSSL_cleanse(h->data, strlen(h->data));
    }
    curl_slist_free_all(op->headers);
    free(op->body);
    free(op->where);
    wr_buf_free(&op->response);
}

static void op_fail(struct http_op *op, bool retriable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void op_fail(struct http_op *op, bool retriable, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_action_vfail(op->ctx, NULL, retriable, fmt, ap);
    va_end(ap);
}

/* scheme://host[:port] of url, without user info, path or query. Owned. */
static char *url_origin(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    int scheme = (int)(host - url);
    if (at) {
        host = at + 1;
    }
    return wr_xasprintf("%.*s%.*s", scheme, url, (int)(end - host), host);
}

static bool status_expected(struct json_object *expect, long status)
{
    if (!expect) {
        return status >= 200 && status <= 299;
    }
    if (json_object_is_type(expect, json_type_int)) {
        return json_object_get_int64(expect) == status;
    }
    for (size_t i = 0; i < array_len(expect); i++) {
        if (json_object_get_int64(json_object_array_get_idx(expect, i)) == status) {
            return true;
        }
    }
    return false;
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
    struct http_op *op = arg;
    (void)fd;
    (void)what;
    long status = 0;
    struct json_object *expect = json_object_object_get(wr_action_args(op->ctx), "expect");
    const char *method = op->method;

    if (op->oversize && op->result == CURLE_WRITE_ERROR) {
        op->result = CURLE_OK; /* on_data stopped it: judged below, by its status */
    }
    if (op->result != CURLE_OK && op->refused[0] && !op->opened) {
        /* Policy, not a network failure: a retry would be refused the same way. */
        op_fail(op, false, "%s %s: %s", method, op->where, op->refused);
        return;
    }
    if (op->result != CURLE_OK) {
        bool retriable = op->result != CURLE_URL_MALFORMAT &&
                         op->result != CURLE_UNSUPPORTED_PROTOCOL &&
                         op->result != CURLE_BAD_FUNCTION_ARGUMENT;
        /* Another address of the name was tried and failed: that failure is the error. */
        op_fail(op, retriable, "%s %s: %s%s%s", method, op->where,
                op->errbuf[0] ? op->errbuf : curl_easy_strerror(op->result),
                op->refused[0] ? "; also " : "", op->refused);
        return;
    }
    curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status_expected(expect, status) && op->oversize) {
        /* Part of an answer is no answer: a step must not go on with half an employee. */
        char size[WR_SIZE_BUFLEN];
        op_fail(op, false, "%s %s answered more than %s (max_response)", method, op->where,
                wr_size_format(op->max_response, size, sizeof(size)));
        return;
    }
    if (!status_expected(expect, status)) {
        /* A short, printable excerpt of the answer helps; the whole of it is the output's job. */
        char excerpt[201];
        size_t n = 0;
        for (const char *p = wr_buf_str(&op->response); *p && n < sizeof(excerpt) - 1; p++) {
            excerpt[n++] = (*p >= 0x20 && *p != 0x7f) ? *p : ' ';
        }
        excerpt[n] = '\0';
        int64_t after = op->retry_after[0]
                            ? wr_graph_parse_retry_after(op->retry_after, wr_clock_wall_ms())
                            : -1;
        if (status == 429 || (status == 503 && after >= 0)) {
            /* The service asks for time: waited out as Graph's throttling is (run.c). */
            wr_action_fail_throttled(
                op->ctx, op->where, after > 0 ? after : 0, "%s %s answered %ld%s%s%s%s%s", method,
                op->where, status, after >= 0 ? " (Retry-After: " : "",
                after >= 0 ? op->retry_after : "", after >= 0 ? ")" : "", n ? ": " : "", excerpt);
            return;
        }
        op_fail(op, status == 429 || status >= 500, "%s %s answered %ld, expected %s%s%s", method,
                op->where, status, expect ? "the listed status" : "2xx", n ? ": " : "", excerpt);
        return;
    }
    struct json_object *out = json_object_new_object();
    struct json_object *parsed = NULL;
    const char *text = wr_buf_str(&op->response);
    /* Strict JSON, numbers exact (engine/base/json); anything else is kept as text, unchanged. */
    if (op->response.len && wr_json_parse(text, op->response.len, NULL, &parsed, NULL) != 0) {
        parsed = NULL;
    }
    json_object_object_add(out, "changed", json_object_new_boolean(true));
    json_object_object_add(out, "undo_impossible", json_object_new_string(UNDO_IMPOSSIBLE));
    json_object_object_add(out, "status", json_object_new_int64(status));
    json_object_object_add(
        out, "body",
        parsed
            ? parsed
            : (op->response.len ? json_object_new_string_len(text, (int)op->response.len) : NULL));
    wr_action_succeed(op->ctx, out);
}

/* The loop's report that the transfer is over; the end is handled on a later turn. */
static void on_transfer_done(void *arg, CURL *easy, CURLcode result)
{
    struct http_op *op = arg;
    (void)easy;
    op->result = result;
    event_active(op->end, EV_TIMEOUT, 0);
}

/* Keeps the first refusal's reason for on_end. */
static void note_refusal(struct http_op *op, const struct sockaddr *sa, size_t salen,
                         const char *why)
{
    if (!op->refused[0]) {
        char where[80];
        wr_errf_marked(op->refused, sizeof(op->refused),
                       "refused to connect to %s (%s; add it to http.allow in weir.yaml to permit)",
                       wr_net_addr_format(sa, salen, where, sizeof(where)), why);
    }
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: the SSRF guard. libcurl calls it with the resolved address it is
 * about to connect to, for every attempt (each address of a name, each try of happy eyeballs,
 * every new connection), so what is judged is what would be reached: no host spelling (127.1,
 * 2130706433, 0x7f.1, [::ffff:127.0.0.1]), DNS answer that changed since a check (rebinding) or
 * Location header gets around it. A refusal makes libcurl try the name's next address, if
 * any; when none is left the transfer fails and on_end reports the first refusal.
 */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct http_op *op = clientp;
    const char *why = purpose == CURLSOCKTYPE_IPCXN
                          ? wr_net_guard_check(op->guard, &a->addr, a->addrlen)
                          : "not an outgoing connection";
    if (why) {
        note_refusal(op, &a->addr, a->addrlen, why);
        return CURL_SOCKET_BAD;
    }
    op->opened = true;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/*
 * CURLOPT_PREREQFUNCTION: the same guard for every request, on the connection it is about to
 * be sent on. The curl loop is shared (the Graph client's pool), so a request may go out on a
 * connection that is already open — one this action opened earlier, or one the Graph client
 * opened to a destination http.allow does not list — and a reused connection never passes
 * through on_open_socket. libcurl calls this after connecting or picking a connection for
 * reuse, before anything is sent, with the peer's numeric address: that is judged again.
 */
static int on_prereq(void *clientp, char *peer_ip, char *local_ip, int peer_port, int local_port)
{
    struct http_op *op = clientp;
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    size_t salen = sizeof(ss); /* AF_UNSPEC when the text is no address: refused */
    (void)local_ip;
    (void)local_port;

    if (peer_ip && inet_pton(AF_INET, peer_ip, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)peer_port);
        salen = sizeof(*in4);
    } else if (peer_ip && inet_pton(AF_INET6, peer_ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)peer_port);
        salen = sizeof(*in6);
    }
    const char *why = wr_net_guard_check(op->guard, (struct sockaddr *)&ss, salen);
    if (why) {
        note_refusal(op, (struct sockaddr *)&ss, salen, why);
        return CURL_PREREQFUNC_ABORT;
    }
    op->opened = true;
    return CURL_PREREQFUNC_OK;
}

/* CURLOPT_WRITEFUNCTION: keeps the answer, up to max_response. Past it, what fits is kept (for
   an error's excerpt) and 0 stops the transfer (CURLE_WRITE_ERROR, which on_end recognises by
   op->oversize): a service that answers without end costs neither memory nor time. */
static size_t on_data(char *data, size_t size, size_t n, void *userp)
{
    struct http_op *op = userp;
    size_t len = size * n;
    size_t room = (size_t)op->max_response - op->response.len;
    if (len > room) {
        wr_buf_addn(&op->response, data, room);
        op->oversize = true;
        return 0;
    }
    wr_buf_addn(&op->response, data, len);
    return len;
}

/* CURLOPT_HEADERFUNCTION: keeps the Retry-After of the last response (a 100 Continue's
   headers come first and are forgotten at the next status line). */
static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct http_op *op = userp;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        op->retry_after[0] = '\0';
    } else if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *v = data + sizeof(name) - 1;
        const char *end = data + len;
        while (v < end && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (end > v &&
               (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        size_t vlen = (size_t)(end - v);
        if (vlen < sizeof(op->retry_after)) {
            memcpy(op->retry_after, v, vlen);
            op->retry_after[vlen] = '\0';
        }
    }
    return len;
}

/*
 * Adds the header `auth:` (borrowed) asks for to op->headers, its secret resolved now (relative
 * file: paths against the workflow file's directory). The value is registered with the secret
 * masking by wr_secret_resolve (and so is basic's base64 form here), and every copy this
 * function makes is wiped; the header line is wiped in op_clear. Returns 0, or -1 with the step
 * failed by a message that names the reference, never the value.
 */
static int add_auth(struct http_op *op, struct json_object *auth)
{
    const char *type = json_object_get_string(json_object_object_get(auth, "type"));
    const char *ref = json_object_get_string(json_object_object_get(auth, "secret"));
    const char *header = json_object_get_string(json_object_object_get(auth, "header"));
    char err[WR_ERR_MAX];
    char *secret = NULL;

    if (!type || !ref) {
        op_fail(op, false, "http-request auth: type and secret are required");
        return -1;
    }
    if (wr_secret_resolve(ref, wr_action_workflow_dir(op->ctx), &secret, err, sizeof(err)) != 0) {
        op_fail(op, false, "http-request auth.secret: %s", err);
        return -1;
    }
    size_t slen = strlen(secret);
    char *line = NULL;
    if (strpbrk(secret, "\r\n")) {
        op_fail(op, false, "http-request auth.secret: %s: the value holds a line break", ref);
    } else if (strcmp(type, "bearer") == 0) {
        line = wr_xasprintf("Authorization: Bearer %s", secret);
    } else if (strcmp(type, "basic") == 0) {
        if (!strchr(secret, ':')) {
            op_fail(op, false,
                    "http-request auth.secret: %s: basic needs the value user:password "
                    "(BambooHR: APIKEY:x)",
                    ref);
        } else {
            size_t cap = 4 * ((slen + 2) / 3) + 1;
            unsigned char *b64 = wr_xcalloc(cap, 1);
            EVP_EncodeBlock(b64, (const unsigned char *)secret, (int)slen);
            wr_secret_register((const char *)b64); /* what a service may echo back */
            line = wr_xasprintf("Authorization: Basic %s", (const char *)b64);
            OPENSSL_cleanse(b64, cap);
            free(b64);
        }
    } else if (strcmp(type, "header") == 0 && header && header_name_valid(header)) {
        line = wr_xasprintf("%s: %s", header, secret);
    } else {
        op_fail(op, false, "http-request auth: type header needs auth.header, a header name");
    }
    wr_secret_free(secret);
    if (!line) {
        return -1;
    }
    op->headers = curl_slist_append(op->headers, line);
    OPENSSL_cleanse(line, strlen(line));
    free(line);
    return 0;
}

static void dry_written(void *arg, const struct wr_graph_result *res)
{
    struct http_op *op = arg;
    (void)res;
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "changed", json_object_new_boolean(true));
    json_object_object_add(out, "undo_impossible", json_object_new_string(UNDO_IMPOSSIBLE));
    json_object_object_add(out, "status", NULL);
    json_object_object_add(out, "body", NULL);
    wr_action_succeed(op->ctx, out);
}

static void http_request_run(struct wr_action_ctx *ctx)
{
    struct http_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    struct json_object *args = wr_action_args(ctx);
    struct json_object *body = json_object_object_get(args, "body");
    struct json_object *headers = json_object_object_get(args, "headers");
    const char *url = wr_action_arg_str(ctx, "url");
    const char *method = wr_action_arg_str(ctx, "method");
    const char *type = NULL;
    bool has_type = false;

    op->ctx = ctx;
    op->guard = wr_action_net_guard(ctx);
    if (!method) {
        method = body ? "POST" : "GET";
    }
    op->method = method;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        op_fail(op, false, "'url' must be an http:// or https:// URL");
        return;
    }
    op->where = url_origin(url);
    op->max_response = DEFAULT_MAX_RESPONSE;
    struct json_object *max = json_object_object_get(args, "max_response");
    char err[WR_ERR_MAX];
    if (max && (wr_size_get(max, &op->max_response, err, sizeof(err)) != 0 ||
                op->max_response < 1 || op->max_response > LIMIT_MAX_RESPONSE)) {
        op_fail(op, false, "max_response: expected a size in 1B-16MiB such as 1MiB");
        return;
    }
    /* json_object_object_foreach dereferences its object: only loop over a real mapping. */
    struct json_object *none = json_object_new_object();
    if (!json_object_is_type(headers, json_type_object)) {
        headers = none;
    }
    json_object_object_foreach(headers, name, value)
    {
        const char *v = json_object_get_string(value);
        if (!json_object_is_type(value, json_type_string) || strpbrk(name, "\r\n:") ||
            strpbrk(v, "\r\n")) {
            op_fail(op, false, "header '%s' must be a single-line string", name);
            json_object_put(none);
            return;
        }
        has_type = has_type || strcasecmp(name, "Content-Type") == 0;
        char *line = wr_xasprintf("%s: %s", name, v);
        op->headers = curl_slist_append(op->headers, line);
        free(line);
    }
    json_object_put(none);
    if (wr_action_dry_run(ctx)) {
        if (wr_action_write(ctx, method, url, body, dry_written, op) != 0) {
            op_fail(op, false, "could not record %s %s", method, op->where);
        }
        return;
    }
    /* Not in a dry run: a plan must not depend on a secret, nor make one travel. */
    struct json_object *auth = json_object_object_get(args, "auth");
    if (auth && add_auth(op, auth) != 0) {
        return;
    }
    if (json_object_is_type(body, json_type_string)) {
        op->body = wr_xstrdup(json_object_get_string(body));
        type = "Content-Type: text/plain; charset=utf-8";
    } else if (body) {
        op->body = wr_xstrdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
        type = "Content-Type: application/json";
    }
    if (!has_type) {
        /* Without a body, "Content-Type:" stops libcurl from adding a form type of its own. */
        op->headers = curl_slist_append(op->headers, type ? type : "Content-Type:");
    }

    op->loop = wr_action_curl_loop(ctx);
    op->easy = curl_easy_init();
    if (!op->loop || !op->easy) {
        op_fail(op, true, "libcurl could not be initialised");
        return;
    }
    op->base = wr_curl_loop_base(op->loop);
    op->end = event_new(op->base, -1, 0, on_end, op);

    curl_easy_setopt(op->easy, CURLOPT_URL, url);
    curl_easy_setopt(op->easy, CURLOPT_CUSTOMREQUEST, method);
    if (op->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(op->easy, CURLOPT_POSTFIELDS, op->body ? op->body : "");
    }
    curl_easy_setopt(op->easy, CURLOPT_HTTPHEADER, op->headers);
    curl_easy_setopt(op->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A 3xx is an answer like any other, judged by `expect`: following it would be a second
       request to a place the workflow did not name (the guard would still judge it). */
    curl_easy_setopt(op->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(op->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /*
     * No proxy, and none from http_proxy/https_proxy/ALL_PROXY in the environment: through a
     * proxy the guard would only see the proxy's address while the proxy connects anywhere,
     * internal addresses included. Supporting one would mean trusting it to enforce the same
     * policy; until an operator needs that, it is not offered (it would be explicit config).
     */
    curl_easy_setopt(op->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(op->easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(op->easy, CURLOPT_OPENSOCKETDATA, op);
    curl_easy_setopt(op->easy, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(op->easy, CURLOPT_PREREQDATA, op);
    curl_easy_setopt(op->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(op->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(op->easy, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(op->easy, CURLOPT_USERAGENT, "weir/" WEIR_VERSION);
    curl_easy_setopt(op->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(op->easy, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(op->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(op->easy, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(op->easy, CURLOPT_ERRORBUFFER, op->errbuf);
    if (wr_curl_loop_add(op->loop, op->easy, on_transfer_done, op) != 0) {
        op_fail(op, true, "libcurl refused the request to %s", op->where);
    }
}

/* }====== */

const struct wr_action wr_action_http_request = {
    .name = "http-request",
    .summary = "call another service over HTTP(S), e.g. a Slack webhook or a ticketing API",
    .args = http_request_args,
    .validate = http_request_validate,
    .execute = http_request_run,
    .destructive = WR_DESTRUCTIVE_NO,
    .destructive_note = "weir cannot tell what another service does with the call; it is "
                        "not counted as a change to a user",
};
