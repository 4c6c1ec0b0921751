/*
 * graph — weir's asynchronous Microsoft Graph client on the libevent loop.
 *
 * One wr_graph per tenant: libcurl's multi_socket API driven by libevent (the pattern of
 * curl's hiperfifo example), one connection pool with keep-alive. It owns the OAuth2 client
 * credentials token (cached, refreshed before expiry, one refresh at a time, a forced refresh
 * and one retry on 401 InvalidAuthenticationToken; a client secret or a certificate whose key
 * signs a fresh PS256 JWT client assertion for every token call), retries network errors, 429,
 * 503 and 504 with exponential backoff and full jitter while always honouring Retry-After, paces
 * writes with a token bucket, caps concurrent requests, and coalesces independent requests issued
 * in the same loop turn into $batch calls. Callers see one request and one result.
 *
 * The multi handle is engine/net/curl_loop's: the client's own, or one it is given and shares
 * with the process's other HTTP clients (the http-request action), connection pool included.
 *
 * Throttling: a 429 whose x-ms-throttle-scope names the app and tenant (Tenant_Application/...,
 * Tenant/..., Application/...) pauses every request of that scope's kind (Read: GETs, Write:
 * the rest, ReadWrite: all) until its Retry-After has passed, then lets a few through before
 * the usual concurrency (2, 4, 8, ... in flight); a 429 without a scope holds back only its own
 * method and path.
 *
 * On the wire: every request carries `User-Agent: weir/VERSION (...)` and a `client-request-id`
 * GUID (one per request, the same on its retries; a $batch carries its own, new per attempt);
 * every POST, PUT and PATCH carries `Content-Type: application/json`, bodiless ones included
 * (libcurl would otherwise send application/x-www-form-urlencoded, which Graph answers 415).
 * Results keep Graph's `request-id` and the client-request-id for error messages, and a trace
 * (below) keeps them for the requests a piece of work made, failed or not.
 *
 * It knows HTTP and Graph's envelopes (error bodies, $batch); it does not know users,
 * licenses or workflows — lookups and actions are built on top of it. Nothing here blocks the
 * loop, and no secret (client secret, private key, client assertion, token, Authorization
 * header) is ever logged or put in a result.
 */
#ifndef WR_GRAPH_H
#define WR_GRAPH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wr_curl_loop;

struct wr_graph_options {
    const char *authority; /* e.g. https://login.microsoftonline.com (no trailing /) */
    const char *tenant;    /* tenant id or domain */
    const char *client_id;
    const char *client_secret; /* the secret's value (already resolved); copied, never logged */
    /* The second way: a PEM certificate registered on the app and its PEM RSA private key
     * (both resolved texts). Exactly one of client_secret or both of these. Parsed and checked
     * at wr_graph_new (the key must be RSA and match the certificate); the client keeps the
     * parsed key, never the text, and frees it with the client. */
    const char *client_certificate_pem;
    const char *client_key_pem;
    const char *base_url; /* e.g. https://graph.microsoft.com/v1.0 (no trailing /) */
    /* The token scope; NULL = derived from base_url's host (wr_graph_default_scope):
     * https://graph.microsoft.us/v1.0 signs in for https://graph.microsoft.us/.default, a host
     * that is not Microsoft's (a proxy, graphsim) for https://graph.microsoft.com/.default. */
    const char *scope;
    int max_concurrency;  /* in-flight HTTP transfers; 0 = 16 */
    int batch_max;        /* items per $batch, 1..20; 0 = 20; -1 = batching off */
    int writes_per_150s;  /* write pacing (token bucket); 0 = 2700; -1 = pacing off */
    int max_attempts;     /* attempts per request for retriable failures; 0 = 3 */
    int64_t max_delay_ms; /* bound on the total retry delay of one request; 0 = 120000 */
    int64_t timeout_ms;   /* per HTTP transfer; 0 = 30000 */
    bool read_only;       /* dry runs: any request that is not a GET fails at once */
    /* The curl loop (engine/net/curl_loop.h) its transfers go through, borrowed (it must
     * outlive the client and run on the same base); NULL = the client makes one of its own.
     * Either way the client reserves max_concurrency + 4 idle connections in its pool. */
    struct wr_curl_loop *curl;
};

/* What a request ended with. Valid only during the callback; copy what you keep. */
struct wr_graph_result {
    long status;               /* HTTP status of the (last) attempt; 0 = no HTTP answer */
    struct json_object *body;  /* parsed JSON body, or NULL (204, empty or not JSON) */
    const char *error_code;    /* on failure: Graph's error.code, the token endpoint's error
                                  ("invalid_client"), "network", "timeout" or "read_only" */
    const char *error_message; /* on failure: Graph's error.message, the AADSTS description,
                                  or curl's message; never contains a secret */
    bool ok;                   /* 2xx with a body that is empty or JSON */
    bool retriable;            /* failed for a reason that may pass later (network, 429, 5xx,
                                  a 2xx that is not JSON) after this request's own attempts:
                                  the run may retry later */
    int attempts;              /* HTTP attempts made */
    int64_t retry_after_ms;    /* the last Retry-After seen, or 0 */
    /* What the answer was, for messages (all NULL/0 without an HTTP answer). A $batch item's
       content_type and body are its own; the ids are those of the HTTP request that carried
       it (the $batch). */
    const char *content_type;      /* the answer's Content-Type, or NULL */
    const char *body_head;         /* its first bytes, quoted and escaped (wr_graph_body_head),
                                      or NULL when the body was empty */
    size_t body_len;               /* the body's length in bytes */
    const char *request_id;        /* Graph's request-id header, or NULL */
    const char *client_request_id; /* the client-request-id weir sent, or NULL */
    const char *throttle_scope;    /* a 429's x-ms-throttle-scope, or NULL */
    /* WR_GRAPH_TEXT requests: a 2xx text/plain answer's body (NUL-terminated), else NULL. */
    const char *text;
};

typedef void (*wr_graph_done_fn)(void *arg, const struct wr_graph_result *res);

/* The User-Agent of every request to Graph and the token endpoint (no secrets in it). */
#define WR_GRAPH_USER_AGENT "weir/" WEIR_VERSION " (identity lifecycle automation)"

/* The error_code of a 2xx that cannot be used: not JSON, the wrong shape, an id missing. */
#define WR_GRAPH_UNEXPECTED "unexpected_answer"

#define WR_GRAPH_WRITE    0x1u /* a mutation: paced by writes_per_150s (implied by non-GET) */
#define WR_GRAPH_NO_BATCH 0x2u /* send alone, never inside $batch */
/*
 * An advanced query (GRAPH.md section 10: a date $filter with ge/le, ne, not, $count,
 * $search): sends `ConsistencyLevel: eventual` on the request and on every retry of it. Graph
 * does not carry the header over to @odata.nextLink, so a paged read sets it on every page
 * (wr_directory_read_all does). Such a request is always sent alone, never inside $batch
 * (it implies WR_GRAPH_NO_BATCH): one header, one place it travels, on the wire as curl
 * sends it. Requests without the flag are unchanged.
 */
#define WR_GRAPH_EVENTUAL 0x4u
/*
 * The answer may be plain text (GET /users/$count answers text/plain): a 2xx whose Content-Type
 * is text/plain is then a success with body NULL and its text in wr_graph_result.text. A JSON
 * 2xx is read as always; any other 2xx is still WR_GRAPH_UNEXPECTED. Without the flag a
 * text/plain 2xx is WR_GRAPH_UNEXPECTED. Implies WR_GRAPH_NO_BATCH ($batch base64-encodes
 * bodies that are not JSON).
 */
#define WR_GRAPH_TEXT 0x8u
/*
 * A request that must reach Graph at most once (POST /users/{id}/sendMail: sending twice is
 * two mails, and nothing can be read back to tell). It is sent alone (never in a $batch) on a
 * fresh connection (libcurl re-sends a request silently when a reused connection dies before
 * an answer), and retried only where Graph certainly did not act on it: a 429, a 503 with
 * Retry-After (Graph documents both as not processed), the one 401 InvalidAuthenticationToken
 * retry, and a connection that could not be made (nothing was sent). After a timeout, a
 * connection lost once the request may have been sent, a 504, a 503 without Retry-After or
 * another 5xx, it is not retried and its result says retriable false; so with this flag
 * retriable true means "certainly not acted on". A 2xx that is not JSON is not retried either
 * (retriable false). Implies WR_GRAPH_NO_BATCH.
 */
#define WR_GRAPH_AT_MOST_ONCE 0x10u

struct wr_graph;

/*
 * Creates a client on base. Copies every string in opts. Returns NULL with a message in err
 * when curl cannot be set up or an option is invalid. No network traffic happens until the
 * first request.
 */
struct wr_graph *wr_graph_new(struct event_base *base, const struct wr_graph_options *opts,
                              char *err, size_t errlen);

/*
 * Cancels every pending request (their callbacks are NOT called) and frees the client. NULL
 * is fine. Call it with no request of the caller still expecting a callback.
 */
void wr_graph_free(struct wr_graph *g);

/*
 * The curl loop g's transfers use (borrowed: g's own, or the one given in its options), for
 * other HTTP clients that should share its connection pool (the http-request action).
 */
struct wr_curl_loop *wr_graph_curl_loop(const struct wr_graph *g);

/*
 * Starts a request: method ("GET", "POST", "PATCH", "PUT", "DELETE"), path relative to
 * base_url starting with "/" ("/users/abc?$select=id"; escape parts with wr_graph_escape),
 * body sent as JSON (borrowed; the client takes its own reference; NULL = no body). `done`
 * is called exactly once, always on a later loop turn (never from inside this call), unless
 * the client is freed first. Returns 0, or -1 when the request is malformed (then `done` is
 * not called).
 */
int wr_graph_request(struct wr_graph *g, const char *method, const char *path,
                     struct json_object *body, unsigned flags, wr_graph_done_fn done, void *arg);

/* Percent-encodes s for use inside a path segment or a query value. Owned result. */
char *wr_graph_escape(const char *s);

/*
 * Parses a Retry-After header value: delta-seconds, fractional seconds ("1.250") or an
 * HTTP-date, relative to now_ms (Unix epoch ms). Returns the delay in ms (>= 0), or -1 when
 * the value is not understood.
 */
int64_t wr_graph_parse_retry_after(const char *value, int64_t now_ms);

struct wr_graph_stats {
    uint64_t requests;         /* wr_graph_request calls */
    uint64_t http_requests;    /* HTTP transfers to Graph (a $batch is one), token calls excluded */
    uint64_t batches;          /* $batch transfers */
    uint64_t batch_items;      /* requests that travelled inside a $batch */
    uint64_t retries;          /* attempts after the first */
    uint64_t throttled;        /* 429 answers (top-level or per batch item) */
    int64_t last_throttled_ms; /* when the last of them came (Unix ms), 0: none yet */
    uint64_t token_fetches;    /* token endpoint calls */
    uint64_t paced;            /* writes that waited for the pacing bucket */
    int64_t retry_wait_ms;     /* total time spent waiting for Retry-After */
    uint64_t scope_pauses;     /* 429s whose x-ms-throttle-scope paused a whole scope */
    uint64_t held;             /* times a request waited for a scope pause or a path holdoff */
    /* Requests by final outcome: [0] no HTTP answer (network, timeout, read_only), [1] 1xx
       ... [5] 5xx, by the status class of the last attempt. */
    uint64_t by_class[6];
};

void wr_graph_get_stats(const struct wr_graph *g, struct wr_graph_stats *out);

/*
 * Whether the client can sign in, for readiness checks: 1 a token is held; -1 the last token
 * call failed (its code and message, without secrets, in err); 0 not known yet — a token call
 * is started (if none is in flight) and err says "signing in".
 */
int wr_graph_token_status(struct wr_graph *g, char *err, size_t errlen);

/*
 * A failed copy of res (a 2xx the caller cannot use): ok false, error_code WR_GRAPH_UNEXPECTED,
 * error_message msg, retriable as given; status, content type, body head and ids kept. Every
 * string stays borrowed (from res and msg), so use it while both live.
 */
struct wr_graph_result wr_graph_result_unusable(const struct wr_graph_result *res, const char *msg,
                                                bool retriable);

/*
 * " (request-id R, client-request-id C)" for res (either part left out when unknown), or ""
 * when it has neither. Owned.
 */
char *wr_graph_result_ids(const struct wr_graph_result *res);

/* {====== Traces: the Graph requests one piece of work made ====== */

/*
 * A trace collects one entry per finished request {"method", "path", "status", "request_id",
 * "client_request_id"} (the ids Microsoft support asks for: request_id is Graph's request-id
 * header, null without an answer; path as given to wr_graph_request, without base_url). A
 * trace is *current* on the client while the code that owns it runs: every request started then
 * carries it, and the request's callback runs with it current again, so the requests a callback
 * starts carry it too, whatever module makes them (the directory, an action). Nothing else is
 * ever recorded: no body, no header, no token. The run executor gives each step one
 * (engine/exec/action_run.c). Reference counted: a request holds one until it is freed.
 */
struct wr_graph_trace;

/* Entries a trace keeps: the first WR_GRAPH_TRACE_MAX / 2 and the last ones. */
#define WR_GRAPH_TRACE_MAX 20

/* A new, open trace with one reference (the caller's). */
struct wr_graph_trace *wr_graph_trace_new(void);

/* Takes a reference to t (NULL is fine); returns t. */
struct wr_graph_trace *wr_graph_trace_ref(struct wr_graph_trace *t);

/* Releases one reference (NULL is fine); the trace is freed with the last. */
void wr_graph_trace_put(struct wr_graph_trace *t);

/* Closes t: requests that finish afterwards add nothing. NULL is fine. */
void wr_graph_trace_close(struct wr_graph_trace *t);

/*
 * Makes t (borrowed; NULL = none) g's current trace and returns the one it replaces: give that
 * back (swap again) when the code t belongs to has returned. Code that defers a callback to a
 * later loop turn keeps wr_graph_trace_current (with a reference) and swaps it in around the
 * callback.
 */
struct wr_graph_trace *wr_graph_trace_swap(struct wr_graph *g, struct wr_graph_trace *t);

/* g's current trace (borrowed), or NULL. */
struct wr_graph_trace *wr_graph_trace_current(const struct wr_graph *g);

/*
 * t's entries as an owned JSON array, oldest first; when more than WR_GRAPH_TRACE_MAX were
 * added, the first and the last WR_GRAPH_TRACE_MAX / 2, and *omitted (may be NULL) says how
 * many are left out between them. An empty array for NULL.
 */
struct json_object *wr_graph_trace_json(const struct wr_graph_trace *t, size_t *omitted);

/* How many requests t has recorded (kept or not); 0 for NULL. */
size_t wr_graph_trace_count(const struct wr_graph_trace *t);

/* }====== */

/* {====== Certificate credentials (JWT client assertions) ====== */

/* A parsed certificate credential: the certificate's thumbprints and its private key. */
struct wr_graph_cert;

/*
 * Parses a PEM certificate and its PEM private key (unencrypted; PKCS#8 or traditional RSA).
 * Returns an owned credential, or NULL with a message in err when either does not parse, the
 * key is not an RSA key or does not belong to the certificate. Messages never contain key
 * material. Nothing of key_pem is kept but the parsed key.
 */
struct wr_graph_cert *wr_graph_cert_new(const char *cert_pem, const char *key_pem, char *err,
                                        size_t errlen);

/* Frees the credential (the key is cleared by libcrypto). NULL is fine. */
void wr_graph_cert_free(struct wr_graph_cert *c);

/*
 * Builds a signed client assertion for the token endpoint aud and client_id at now_s (Unix
 * seconds): a PS256 JWT (RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt; Microsoft's current
 * certificate-credentials page) with header {"alg":"PS256","typ":"JWT","x5t#S256"} and claims
 * aud, iss = sub = client_id, jti (a random GUID), nbf = iat = now_s, exp = now_s + 600.
 * Owned; it is a credential for ten minutes, so clear it (explicit_bzero) before freeing. NULL
 * when signing fails.
 */
char *wr_graph_cert_assertion(const struct wr_graph_cert *c, const char *aud, const char *client_id,
                              int64_t now_s);

/* base64url (RFC 4648 section 5) of len bytes, without padding. Owned. */
char *wr_graph_base64url(const void *data, size_t len);

/* }====== */

#endif
