/*
 * graph — weir's asynchronous Microsoft Graph client: libcurl transfers on the process's one
 * curl multi (engine/net/curl_loop, curl's hiperfifo pattern on libevent), with the OAuth2
 * client-credentials token, retries that honour Retry-After, write pacing, a concurrency cap
 * and $batch coalescing; see graph.h.
 *
 * A request moves through these states: PENDING (waiting for the next flush, which runs once
 * per loop turn and groups requests into $batch calls), PACED (waiting for the write bucket),
 * TIMER (waiting for a retry or a Retry-After), READY (in a transfer that waits for a
 * concurrency slot or for a token), INFLIGHT and DONE (queued for delivery; callbacks run from
 * the deliver event, never from curl's callbacks nor from wr_graph_request).
 *
 * It is not a Graph SDK: it knows HTTP, the token endpoint and Graph's error and $batch
 * envelopes, nothing about users or licenses. It never logs; the client secret, the private
 * key, the client assertion, the token and the Authorization header never reach a result.
 */
#include "engine/graph/graph.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/graph/graph_parse.h"
#include "engine/net/curl_loop.h"
#include "engine/base/secret.h"
#include "engine/base/strutil.h"

#define DEFAULT_MAX_CONCURRENCY 16
#define DEFAULT_BATCH_MAX       20
#define GRAPH_BATCH_LIMIT       20
#define DEFAULT_WRITES_PER_150S 2700
#define DEFAULT_MAX_ATTEMPTS    3
#define DEFAULT_MAX_DELAY_MS    120000
#define DEFAULT_TIMEOUT_MS      30000
#define CONNECT_TIMEOUT_MS      10000
#define BACKOFF_INITIAL_MS      500
#define BACKOFF_CAP_MS          30000
#define RETRY_AFTER_MARGIN_MS   5
#define RETRY_AFTER_CAP_MS      WR_GRAPH_RETRY_AFTER_CAP_MS
#define MAX_BODY_BYTES          (64u << 20)
#define RAMP_START              2 /* transfers in flight right after a scope pause */
#define REDACTED                "[redacted]"
#define ASSERTION_LIFETIME_S    600
#define MAX_PEM_BYTES           (1u << 20)
/* urn:ietf:params:oauth:client-assertion-type:jwt-bearer, form-encoded */
#define ASSERTION_TYPE_FORM "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"

/* {====== Types ====== */

enum req_state { RS_PENDING, RS_PACED, RS_TIMER, RS_READY, RS_INFLIGHT, RS_DONE };

/* One caller request, alive from wr_graph_request until its callback returns. */
struct greq {
    struct wr_graph *g;
    TAILQ_ENTRY(greq) all; /* g->reqs: every live request, for wr_graph_free */
    TAILQ_ENTRY(greq) q;   /* g->pending, g->paced or g->done, by state */
    enum req_state state;
    char *method;
    char *path;
    struct json_object *body; /* our reference, or NULL */
    unsigned flags;
    wr_graph_done_fn done;
    void *arg;
    struct event *timer; /* retry / Retry-After timer, made on first use */
    bool paid;           /* holds a pacing token for its next attempt */
    bool auth_retried;   /* the one forced-refresh retry after a 401 was used */
    int attempts;
    int64_t delay_ms; /* retry delay scheduled so far, bounded by max_delay_ms */
    char crid[37];    /* client-request-id: one per request, the same on every retry */
    /* The result so far. */
    long status;
    struct json_object *res_body;
    char *error_code;
    char *error_message;
    bool ok;
    bool retriable;
    int64_t retry_after_ms;
    char *res_ctype; /* the answer's Content-Type */
    char *res_head;  /* wr_graph_body_head of its body */
    size_t res_len;
    char *res_rid;                /* Graph's request-id */
    char *res_crid;               /* the client-request-id of the HTTP request that carried it */
    char *res_scope;              /* a 429's x-ms-throttle-scope */
    char *res_text;               /* WR_GRAPH_TEXT: a text/plain 2xx body */
    struct wr_graph_trace *trace; /* the trace current when it was started (a reference) */
};

enum xfer_kind { XK_SINGLE, XK_BATCH, XK_TOKEN };

/* One HTTP transfer: a request sent alone, a $batch of several, or a token call. */
struct xfer {
    struct wr_graph *g;
    TAILQ_ENTRY(xfer) link; /* g->ready or g->active */
    enum xfer_kind kind;
    struct greq *reqs[GRAPH_BATCH_LIMIT];
    size_t n;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *req_body;
    size_t req_body_len;
    struct wr_buf resp;
    char *retry_after; /* the answer's Retry-After header, raw */
    char *ctype;       /* its Content-Type */
    char *request_id;  /* its request-id */
    char *scope;       /* its x-ms-throttle-scope */
    char crid[37];     /* the client-request-id sent */
    int cls;           /* 0 = reads only, 1 = holds a write (scope pauses and ramps) */
    bool too_big;
    uint64_t token_gen; /* which token the transfer carried */
    int64_t sent_ms;
    char errbuf[CURL_ERROR_SIZE];
};

/* "METHOD /path" answered 429 with Retry-After: nothing for it is sent before `until`. */
struct holdoff {
    struct holdoff *next;
    char *key;
    int64_t until;
};

TAILQ_HEAD(greq_list, greq);
TAILQ_HEAD(xfer_list, xfer);

struct wr_graph {
    struct event_base *base;
    struct wr_curl_loop *curl; /* the transfers' multi (owned when own_curl) */
    bool own_curl;
    long reserved;            /* idle connections reserved in curl's pool */
    struct event *flush_ev;   /* groups pending requests into transfers, once per turn */
    struct event *deliver_ev; /* runs callbacks of finished requests */
    struct event *pace_timer; /* wakes paced writes when the bucket has refilled */
    struct event *token_timer;
    char *client_id;
    char *client_secret;        /* NULL when a certificate authenticates */
    struct wr_graph_cert *cert; /* NULL when a secret authenticates */
    char *base_url;
    char *token_url;
    char *scope; /* the token scope */
    int max_concurrency;
    int batch_max; /* 0 or 1: batching off */
    int writes_per_150s;
    int max_attempts;
    int64_t max_delay_ms;
    int64_t timeout_ms;
    bool read_only;

    struct greq_list reqs;
    struct greq_list pending;
    struct greq_list paced;
    struct greq_list done;
    struct xfer_list ready;
    struct xfer_list active;
    int inflight; /* Graph transfers in curl (token calls excluded) */

    char *token;
    char token_error[WR_ERR_MAX]; /* why the last token call failed ("" when it did not) */
    uint64_t token_gen;
    int64_t token_usable_until;
    int64_t token_refresh_at;
    struct xfer *token_xfer;
    int token_attempts;
    int64_t token_delay_ms;

    double bucket;
    int64_t bucket_ms;
    struct holdoff *holdoffs;
    /* Scope pauses, [0] reads and [1] writes: nothing of that class is sent before
       pause_until; afterwards at most ramp transfers of it are in flight (0 = no limit), a
       limit that doubles with every answer that is not a 429. */
    int64_t pause_until[2];
    int ramp[2];
    int inflight_cls[2];
    uint64_t rng;
    bool delivering;
    bool free_requested;
    struct wr_graph_stats stats;
    struct wr_graph_trace *trace; /* the current trace (borrowed; see wr_graph_trace_swap) */
};

struct wr_graph_trace {
    int refs;
    bool closed;
    size_t count;                                     /* entries added */
    struct json_object *head;                         /* the first WR_GRAPH_TRACE_MAX / 2 */
    struct json_object *tail[WR_GRAPH_TRACE_MAX / 2]; /* a ring of the last ones after those */
};

/* }====== */

/* {====== Helpers ====== */

static void ms_to_tv(int64_t ms, struct timeval *tv)
{
    if (ms < 0) {
        ms = 0;
    }
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* xorshift64*: jitter needs spread, not secrecy. */
static uint64_t rng_next(struct wr_graph *g)
{
    uint64_t x = g->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void format_guid(unsigned char b[16], char out[37])
{
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* A version-4 GUID from the jitter generator: a client-request-id must be unique, not secret. */
static void rng_guid(struct wr_graph *g, char out[37])
{
    uint64_t a = rng_next(g), b = rng_next(g);
    unsigned char x[16];

    memcpy(x, &a, 8);
    memcpy(x + 8, &b, 8);
    format_guid(x, out);
}

/* Full-jitter delay for the retry after `attempts` attempts: uniform in [0, min(cap, base*2^n)]. */
static int64_t backoff_ms(struct wr_graph *g, int attempts)
{
    int64_t cap = BACKOFF_INITIAL_MS;

    for (int i = 1; i < attempts && cap < BACKOFF_CAP_MS; i++) {
        cap *= 2;
    }
    if (cap > BACKOFF_CAP_MS) {
        cap = BACKOFF_CAP_MS;
    }
    return (int64_t)(rng_next(g) % (uint64_t)(cap + 1));
}

static void secure_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void replace_all(struct wr_buf *out, const char *s, const char *needle)
{
    size_t nlen = strlen(needle);
    const char *p;

    while ((p = strstr(s, needle)) != NULL) {
        wr_buf_addn(out, s, (size_t)(p - s));
        wr_buf_add(out, REDACTED);
        s = p + nlen;
    }
    wr_buf_add(out, s);
}

/* Owned copy of msg with the secret and the token (raw or URL-encoded) cut out. */
static char *scrub(const struct wr_graph *g, const char *msg)
{
    const char *secrets[3] = {g->client_secret, g->token, NULL};
    char *escaped = g->client_secret != NULL ? curl_easy_escape(NULL, g->client_secret, 0) : NULL;
    char *cur = wr_xstrdup(msg);

    secrets[2] = escaped;
    for (size_t i = 0; i < 3; i++) {
        struct wr_buf b = {0};

        if (secrets[i] == NULL || strlen(secrets[i]) < 3 || strstr(cur, secrets[i]) == NULL) {
            continue;
        }
        replace_all(&b, cur, secrets[i]);
        free(cur);
        cur = wr_buf_take(&b);
    }
    curl_free(escaped);
    return cur;
}

static bool is_write(const struct greq *r)
{
    return (r->flags & WR_GRAPH_WRITE) || strcmp(r->method, "GET") != 0;
}

/* }====== */

/* {====== Retry-After and escaping ====== */

int64_t wr_graph_parse_retry_after(const char *value, int64_t now_ms_epoch)
{
    const char *p = value;
    int64_t ms = 0;

    if (value == NULL) {
        return -1;
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p >= '0' && *p <= '9') {
        int64_t frac = 0;
        int scale = 100;
        bool extra = false;

        for (; *p >= '0' && *p <= '9'; p++) {
            if (ms <= RETRY_AFTER_CAP_MS) {
                ms = ms * 10 + (*p - '0') * 1000;
            }
        }
        if (*p == '.') {
            p++;
            if (!(*p >= '0' && *p <= '9')) {
                return -1;
            }
            for (; *p >= '0' && *p <= '9'; p++) {
                if (scale > 0) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                } else if (*p != '0') {
                    extra = true; /* sub-millisecond rest: round up, never retry early */
                }
            }
        }
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p != '\0') {
            return -1;
        }
        ms += frac + (extra ? 1 : 0);
        return ms > RETRY_AFTER_CAP_MS ? RETRY_AFTER_CAP_MS : ms;
    }
    /* An HTTP-date must start with a day name ("Sun, 06 Nov 1994 08:49:37 GMT" and the two
     * obsolete forms); curl_getdate parses all three and more, so require that shape first. */
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))) {
        return -1;
    }
    {
        time_t t = curl_getdate(p, NULL);
        int64_t when;

        if (t == (time_t)-1) {
            return -1;
        }
        /* Seconds first: curl_getdate accepts years far enough off to overflow milliseconds
         * ("F1Jan2100644444", found by fuzz_retry_after). */
        if ((int64_t)t > now_ms_epoch / 1000 + RETRY_AFTER_CAP_MS / 1000 + 1) {
            return RETRY_AFTER_CAP_MS;
        }
        if ((int64_t)t < now_ms_epoch / 1000 - 1) {
            return 0;
        }
        when = (int64_t)t * 1000;
        if (when <= now_ms_epoch) {
            return 0;
        }
        ms = when - now_ms_epoch;
        return ms > RETRY_AFTER_CAP_MS ? RETRY_AFTER_CAP_MS : ms;
    }
}

char *wr_graph_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct wr_buf b = {0};

    if (s == NULL) {
        return NULL;
    }
    wr_buf_add(&b, "");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            wr_buf_addc(&b, (char)*p);
        } else {
            wr_buf_addc(&b, '%');
            wr_buf_addc(&b, hex[*p >> 4]);
            wr_buf_addc(&b, hex[*p & 15]);
        }
    }
    return wr_buf_take(&b);
}

/* }====== */

/* {====== Certificate credentials: JWT client assertions ====== */

struct wr_graph_cert {
    EVP_PKEY *key;
    char *x5t;      /* base64url SHA-1 of the certificate's DER */
    char *x5t_s256; /* base64url SHA-256 of the same */
};

char *wr_graph_base64url(const void *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    struct wr_buf b = {0};
    size_t i;

    wr_buf_add(&b, "");
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        wr_buf_addc(&b, alphabet[v >> 18]);
        wr_buf_addc(&b, alphabet[(v >> 12) & 63]);
        wr_buf_addc(&b, alphabet[(v >> 6) & 63]);
        wr_buf_addc(&b, alphabet[v & 63]);
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;

        wr_buf_addc(&b, alphabet[v >> 18]);
        wr_buf_addc(&b, alphabet[(v >> 12) & 63]);
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

        wr_buf_addc(&b, alphabet[v >> 18]);
        wr_buf_addc(&b, alphabet[(v >> 12) & 63]);
        wr_buf_addc(&b, alphabet[(v >> 6) & 63]);
    }
    return wr_buf_take(&b);
}

/* pem_password_cb that refuses: an encrypted key fails instead of prompting on a terminal. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static struct wr_graph_cert *cert_fail(struct wr_graph_cert *c, char *err, size_t errlen,
                                       const char *msg)
{
    if (err != NULL && errlen > 0) {
        wr_errf_marked(err, errlen, "%s", msg);
    }
    /* libcrypto's queue may name what failed to parse; it must not reach another caller. */
    ERR_clear_error();
    wr_graph_cert_free(c);
    return NULL;
}

struct wr_graph_cert *wr_graph_cert_new(const char *cert_pem, const char *key_pem, char *err,
                                        size_t errlen)
{
    struct wr_graph_cert *c = NULL;
    BIO *bio = NULL;
    X509 *x = NULL;
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int derlen;

    if (cert_pem == NULL || key_pem == NULL || strlen(cert_pem) > MAX_PEM_BYTES ||
        strlen(key_pem) > MAX_PEM_BYTES) {
        return cert_fail(NULL, err, errlen, "graph: a certificate and its private key are needed");
    }
    c = wr_xcalloc(1, sizeof(*c));
    bio = BIO_new_mem_buf(cert_pem, -1);
    x = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase_cb, NULL) : NULL;
    BIO_free(bio);
    if (x == NULL) {
        return cert_fail(c, err, errlen,
                         "graph: client_certificate is not a PEM certificate "
                         "(-----BEGIN CERTIFICATE-----)");
    }
    /* BIO_new_mem_buf reads the caller's buffer in place: no copy of the key text is made. */
    bio = BIO_new_mem_buf(key_pem, -1);
    c->key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, NULL) : NULL;
    BIO_free(bio);
    if (c->key == NULL) {
        X509_free(x);
        return cert_fail(c, err, errlen,
                         "graph: client_key is not an unencrypted PEM private key "
                         "(-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)");
    }
    if (EVP_PKEY_base_id(c->key) != EVP_PKEY_RSA) {
        X509_free(x);
        return cert_fail(c, err, errlen,
                         "graph: client_key is not an RSA key (Microsoft Entra client "
                         "assertions are signed with PS256, an RSA algorithm)");
    }
    if (X509_check_private_key(x, c->key) != 1) {
        X509_free(x);
        return cert_fail(c, err, errlen,
                         "graph: client_key does not belong to client_certificate (their public "
                         "keys differ)");
    }
    derlen = i2d_X509(x, &der);
    X509_free(x);
    if (derlen <= 0) {
        return cert_fail(c, err, errlen, "graph: cannot encode client_certificate");
    }
    if (EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha1(), NULL) == 1) {
        c->x5t = wr_graph_base64url(md, mdlen);
    }
    if (EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL) == 1) {
        c->x5t_s256 = wr_graph_base64url(md, mdlen);
    }
    OPENSSL_free(der);
    if (c->x5t == NULL || c->x5t_s256 == NULL) {
        return cert_fail(c, err, errlen, "graph: cannot compute the certificate's thumbprint");
    }
    return c;
}

void wr_graph_cert_free(struct wr_graph_cert *c)
{
    if (c == NULL) {
        return;
    }
    EVP_PKEY_free(c->key);
    free(c->x5t);
    free(c->x5t_s256);
    free(c);
}

/* A random version-4 GUID from libcrypto's generator: jti must not repeat or be guessed. */
static bool random_guid(char out[37])
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof(b)) != 1) {
        ERR_clear_error();
        return false;
    }
    format_guid(b, out);
    return true;
}

/* base64url of a JSON object's compact text. Owned. */
static char *b64_json(struct json_object *o)
{
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

    return wr_graph_base64url(s, strlen(s));
}

char *wr_graph_cert_assertion(const struct wr_graph_cert *c, const char *aud, const char *client_id,
                              int64_t now_s)
{
    struct json_object *hdr = NULL, *claims = NULL;
    char jti[37], *h64 = NULL, *c64 = NULL, *input = NULL, *s64 = NULL, *jwt = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL; /* owned by md */

    if (c == NULL || aud == NULL || client_id == NULL || !random_guid(jti)) {
        return NULL;
    }
    hdr = json_object_new_object();
    /* Microsoft's certificate-credentials page: PS256 with the SHA-256 thumbprint. */
    json_object_object_add(hdr, "alg", json_object_new_string("PS256"));
    json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
    json_object_object_add(hdr, "x5t#S256", json_object_new_string(c->x5t_s256));
    claims = json_object_new_object();
    json_object_object_add(claims, "aud", json_object_new_string(aud));
    json_object_object_add(claims, "iss", json_object_new_string(client_id));
    json_object_object_add(claims, "sub", json_object_new_string(client_id));
    json_object_object_add(claims, "jti", json_object_new_string(jti));
    json_object_object_add(claims, "nbf", json_object_new_int64(now_s));
    json_object_object_add(claims, "iat", json_object_new_int64(now_s));
    json_object_object_add(claims, "exp", json_object_new_int64(now_s + ASSERTION_LIFETIME_S));
    h64 = b64_json(hdr);
    c64 = b64_json(claims);
    input = wr_xasprintf("%s.%s", h64, c64);
    md = EVP_MD_CTX_new();
    /* RFC 7518 section 3.5: RSASSA-PSS with SHA-256, MGF1 with SHA-256, a salt as long as the
     * hash. */
    if (md == NULL || EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, c->key) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        goto out;
    }
    sig = wr_xcalloc(1, siglen);
    if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        goto out;
    }
    s64 = wr_graph_base64url(sig, siglen);
    jwt = wr_xasprintf("%s.%s", input, s64);
out:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    json_object_put(hdr);
    json_object_put(claims);
    free(h64);
    free(c64);
    free(input);
    free(sig);
    free(s64);
    return jwt;
}

/* }====== */

/* {====== Requests ====== */

static void schedule_flush(struct wr_graph *g)
{
    event_active(g->flush_ev, 0, 0);
}

static void req_reset_result(struct greq *r)
{
    json_object_put(r->res_body);
    r->res_body = NULL;
    free(r->error_code);
    free(r->error_message);
    r->error_code = NULL;
    r->error_message = NULL;
    free(r->res_ctype);
    free(r->res_head);
    free(r->res_rid);
    free(r->res_crid);
    free(r->res_scope);
    free(r->res_text);
    r->res_ctype = r->res_head = r->res_rid = r->res_crid = r->res_scope = r->res_text = NULL;
    r->res_len = 0;
    r->status = 0;
    r->ok = false;
    r->retriable = false;
}

static void req_set_error(struct greq *r, long status, const char *code, const char *msg)
{
    free(r->error_code);
    free(r->error_message);
    r->status = status;
    r->ok = false;
    r->error_code = scrub(r->g, code);
    r->error_message = scrub(r->g, msg);
}

static void req_free(struct greq *r)
{
    if (r == NULL) {
        return;
    }
    if (r->timer != NULL) {
        event_free(r->timer);
    }
    req_reset_result(r);
    json_object_put(r->body);
    free(r->method);
    free(r->path);
    wr_graph_trace_put(r->trace);
    free(r);
}

/* Queues r (detached from every queue) for delivery on a later turn. */
static void req_finish(struct greq *r)
{
    struct wr_graph *g = r->g;
    long cls = r->status / 100;

    g->stats.by_class[cls >= 1 && cls <= 5 ? cls : 0]++;
    r->state = RS_DONE;
    TAILQ_INSERT_TAIL(&g->done, r, q);
    event_active(g->deliver_ev, 0, 0);
}

static void req_requeue(struct greq *r)
{
    r->state = RS_PENDING;
    TAILQ_INSERT_TAIL(&r->g->pending, r, q);
    schedule_flush(r->g);
}

static void on_req_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    req_requeue(arg);
}

static void req_wait(struct greq *r, int64_t ms)
{
    struct timeval tv;

    if (r->timer == NULL) {
        r->timer = event_new(r->g->base, -1, 0, on_req_timer, r);
    }
    r->state = RS_TIMER;
    ms_to_tv(ms, &tv);
    /* A relative timeout counts from the loop's cached time, taken when this turn began: on a
       busy turn (many answers at once, a loaded machine) that is tens of ms ago, and a
       Retry-After wait would end that much early (graphsim counted such violations). */
    event_base_update_cache_time(r->g->base);
    evtimer_add(r->timer, &tv);
}

/*
 * The attempt r made failed for a retriable reason (its result already says why). Schedules
 * the retry, or finishes r with retriable=true when attempts or the delay budget are spent.
 * ra_ms >= 0 is a Retry-After that must pass first; else fixed_ms >= 0 is a delay shared by a
 * whole $batch; else a full-jitter backoff.
 */
static void req_retry(struct greq *r, int64_t ra_ms, int64_t fixed_ms)
{
    struct wr_graph *g = r->g;
    int64_t remaining = g->max_delay_ms - r->delay_ms;
    int64_t delay;

    r->retriable = true;
    if (r->attempts >= g->max_attempts || remaining <= 0) {
        req_finish(r);
        return;
    }
    if (ra_ms >= 0) {
        delay = ra_ms + RETRY_AFTER_MARGIN_MS;
        if (delay > remaining) {
            req_finish(r); /* cannot wait as long as the server asks */
            return;
        }
        g->stats.retry_wait_ms += delay;
    } else {
        delay = fixed_ms >= 0 ? fixed_ms : backoff_ms(g, r->attempts);
        if (delay > remaining) {
            delay = remaining;
        }
    }
    r->delay_ms += delay;
    req_wait(r, delay);
}

/* }====== */

/* {====== Holdoffs: Retry-After applies to the throttled method and path ====== */

static char *holdoff_key(const struct greq *r)
{
    size_t n = strcspn(r->path, "?");

    return wr_xasprintf("%s %.*s", r->method, (int)n, r->path);
}

static void holdoff_set(struct wr_graph *g, const struct greq *r, int64_t until)
{
    char *key = holdoff_key(r);
    struct holdoff *h;

    for (h = g->holdoffs; h != NULL; h = h->next) {
        if (strcmp(h->key, key) == 0) {
            if (until > h->until) {
                h->until = until;
            }
            free(key);
            return;
        }
    }
    h = wr_xcalloc(1, sizeof(*h));
    h->key = key;
    h->until = until;
    h->next = g->holdoffs;
    g->holdoffs = h;
}

/* When r's method and path are held off past now, the time they are free again; else 0. */
static int64_t holdoff_until(struct wr_graph *g, const struct greq *r, int64_t now)
{
    struct holdoff **pp = &g->holdoffs;
    int64_t until = 0;
    char *key;

    if (g->holdoffs == NULL) {
        return 0;
    }
    key = holdoff_key(r);
    while (*pp != NULL) {
        struct holdoff *h = *pp;

        if (h->until <= now) {
            *pp = h->next;
            free(h->key);
            free(h);
            continue;
        }
        if (strcmp(h->key, key) == 0) {
            until = h->until;
        }
        pp = &h->next;
    }
    free(key);
    return until;
}

/* 0 for a read (GET), 1 for a write: the index into the scope pauses. */
static int req_cls(const struct greq *r)
{
    return is_write(r) ? 1 : 0;
}

/* A 429 named an app/tenant scope: nothing of its classes is sent before until, and then only
 * a few transfers at first. */
static void pause_set(struct wr_graph *g, unsigned classes, int64_t until)
{
    for (int c = 0; c < 2; c++) {
        if (classes & (c ? WR_GRAPH_CLASS_WRITE : WR_GRAPH_CLASS_READ)) {
            if (until > g->pause_until[c]) {
                g->pause_until[c] = until;
            }
            g->ramp[c] = RAMP_START < g->max_concurrency ? RAMP_START : 0;
        }
    }
}

/* An answer that was not a 429 came for a transfer of class c: let more through. */
static void ramp_grow(struct wr_graph *g, int c, int64_t now)
{
    if (g->ramp[c] > 0 && now >= g->pause_until[c]) {
        g->ramp[c] *= 2;
        if (g->ramp[c] >= g->max_concurrency) {
            g->ramp[c] = 0;
        }
    }
}

/* When r may be sent again if a scope pause or its path's holdoff holds it now; else 0. */
static int64_t hold_until(struct wr_graph *g, const struct greq *r, int64_t now)
{
    int64_t until = holdoff_until(g, r, now);
    int64_t pause = g->pause_until[req_cls(r)];

    return pause > now && pause > until ? pause : until;
}

/* }====== */

/* {====== Pacing ====== */

static double pace_rate_per_ms(const struct wr_graph *g)
{
    return (double)g->writes_per_150s / 150000.0;
}

static void pace_refill(struct wr_graph *g, int64_t now)
{
    if (now > g->bucket_ms) {
        g->bucket += (double)(now - g->bucket_ms) * pace_rate_per_ms(g);
        if (g->bucket > g->writes_per_150s) {
            g->bucket = g->writes_per_150s;
        }
    }
    g->bucket_ms = now;
}

static void pace_arm(struct wr_graph *g, int64_t now)
{
    struct timeval tv;
    double need;

    if (evtimer_pending(g->pace_timer, NULL)) {
        return;
    }
    pace_refill(g, now);
    need = 1.0 - g->bucket;
    ms_to_tv(need <= 0 ? 0 : (int64_t)ceil(need / pace_rate_per_ms(g)), &tv);
    evtimer_add(g->pace_timer, &tv);
}

static void on_pace_timer(evutil_socket_t fd, short what, void *arg)
{
    struct wr_graph *g = arg;
    int64_t now = wr_clock_mono_ms();
    struct greq *r;

    (void)fd;
    (void)what;
    pace_refill(g, now);
    while ((r = TAILQ_FIRST(&g->paced)) != NULL && g->bucket >= 1.0) {
        TAILQ_REMOVE(&g->paced, r, q);
        g->bucket -= 1.0;
        r->paid = true;
        req_requeue(r);
    }
    if (!TAILQ_EMPTY(&g->paced)) {
        pace_arm(g, now);
    }
}

/* Takes a write token for r; false when r must queue behind the bucket (or earlier waiters). */
static bool pace_take(struct wr_graph *g, int64_t now)
{
    if (!TAILQ_EMPTY(&g->paced)) {
        return false;
    }
    pace_refill(g, now);
    if (g->bucket >= 1.0) {
        g->bucket -= 1.0;
        return true;
    }
    return false;
}

/* }====== */

/* {====== Transfers ====== */

static void on_xfer_done(void *arg, CURL *easy, CURLcode res);

static void xfer_free(struct xfer *x)
{
    if (x == NULL) {
        return;
    }
    if (x->easy != NULL) {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    free(x->url);
    if (x->req_body != NULL) {
        explicit_bzero(x->req_body, x->req_body_len); /* a token call carries the secret */
        free(x->req_body);
    }
    wr_buf_free(&x->resp);
    free(x->retry_after);
    free(x->ctype);
    free(x->request_id);
    free(x->scope);
    free(x);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;

    if (x->resp.len + n > MAX_BODY_BYTES) {
        x->too_big = true;
        return 0;
    }
    wr_buf_addn(&x->resp, data, n);
    return n;
}

/* The answer's headers weir keeps: the slot in x for a header line's name, or NULL. */
static char **header_slot(struct xfer *x, const char *data, size_t n, size_t *skip)
{
    static const char *const names[] = {
        "retry-after:", "content-type:", "request-id:", "x-ms-throttle-scope:"};
    char **slots[] = {&x->retry_after, &x->ctype, &x->request_id, &x->scope};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t len = strlen(names[i]);

        if (n > len && strncasecmp(data, names[i], len) == 0) {
            *skip = len;
            return slots[i];
        }
    }
    return NULL;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb, start = 0, end = n;
    char **slot;

    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue): forget the old one's headers */
        free(x->retry_after);
        free(x->ctype);
        free(x->request_id);
        free(x->scope);
        x->retry_after = x->ctype = x->request_id = x->scope = NULL;
    } else if ((slot = header_slot(x, data, n, &start)) != NULL) {
        while (start < end && (data[start] == ' ' || data[start] == '\t')) {
            start++;
        }
        while (end > start && strchr(" \t\r\n", data[end - 1]) != NULL) {
            end--;
        }
        free(*slot);
        /* Capped: a header is the server's text, and it may reach a message. */
        *slot = wr_xasprintf("%.*s", (int)(end - start < 256 ? end - start : 256), data + start);
    }
    return n;
}

/* Sets the options every transfer shares; false when curl cannot make a handle. */
static bool xfer_prepare(struct wr_graph *g, struct xfer *x)
{
    x->easy = curl_easy_init();
    if (x->easy == NULL) {
        return false;
    }
    curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)g->timeout_ms);
    curl_easy_setopt(
        x->easy, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(g->timeout_ms < CONNECT_TIMEOUT_MS ? g->timeout_ms : CONNECT_TIMEOUT_MS));
    curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_USERAGENT, WR_GRAPH_USER_AGENT);
    x->errbuf[0] = '\0';
    return true;
}

static void xfer_set_method(struct xfer *x, const char *method)
{
    if (strcmp(method, "GET") == 0) {
        return;
    }
    if (strcmp(method, "POST") != 0) {
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
    }
    if (x->req_body != NULL || strcmp(method, "POST") == 0) {
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req_body_len);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->req_body != NULL ? x->req_body : "");
    }
}

static char *serialize(struct json_object *o, size_t *len)
{
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    *len = strlen(s);
    return wr_xstrdup(s);
}

/* Builds the $batch envelope of x's requests; ids are 1-based positions. */
static char *batch_body(const struct xfer *x, size_t *len)
{
    struct json_object *env = json_object_new_object();
    struct json_object *arr = json_object_new_array();
    char *s;

    for (size_t i = 0; i < x->n; i++) {
        const struct greq *r = x->reqs[i];
        struct json_object *item = json_object_new_object();
        char id[24];

        snprintf(id, sizeof(id), "%zu", i + 1);
        json_object_object_add(item, "id", json_object_new_string(id));
        json_object_object_add(item, "method", json_object_new_string(r->method));
        json_object_object_add(item, "url", json_object_new_string(r->path));
        if (r->body != NULL) {
            struct json_object *h = json_object_new_object();

            json_object_object_add(h, "Content-Type", json_object_new_string("application/json"));
            json_object_object_add(item, "headers", h);
            json_object_object_add(item, "body", json_object_get(r->body));
        }
        json_object_array_add(arr, item);
    }
    json_object_object_add(env, "requests", arr);
    s = serialize(env, len);
    json_object_put(env);
    return s;
}

static void fail_reqs(struct xfer *x, long status, const char *code, const char *msg,
                      bool retriable)
{
    for (size_t i = 0; i < x->n; i++) {
        req_set_error(x->reqs[i], status, code, msg);
        x->reqs[i]->retriable = retriable;
        req_finish(x->reqs[i]);
    }
    x->n = 0;
}

/* Starts a Graph transfer (single or $batch) with the current token. Takes ownership of x. */
static void xfer_start(struct wr_graph *g, struct xfer *x)
{
    const struct greq *first = x->reqs[0];
    char *auth = wr_xasprintf("Authorization: Bearer %s", g->token);
    bool json_body;

    x->headers = curl_slist_append(x->headers, auth);
    secure_free(auth);
    x->headers = curl_slist_append(x->headers, "Accept: application/json");
    x->headers = curl_slist_append(x->headers, "Expect:");
    if (x->kind == XK_BATCH) {
        x->url = wr_xasprintf("%s/$batch", g->base_url);
        x->req_body = batch_body(x, &x->req_body_len);
        json_body = true;
        rng_guid(g, x->crid); /* a $batch is a new HTTP request on every attempt */
    } else {
        x->url = wr_xasprintf("%s%s", g->base_url, first->path);
        if (first->body != NULL) {
            x->req_body = serialize(first->body, &x->req_body_len);
        }
        /* Every POST, PUT and PATCH says JSON, bodiless ones too: libcurl would send a form
         * type, which Graph answers 415 (GRAPH.md section 12). */
        json_body = x->req_body != NULL || strcmp(first->method, "POST") == 0 ||
                    strcmp(first->method, "PUT") == 0 || strcmp(first->method, "PATCH") == 0;
        memcpy(x->crid, first->crid, sizeof(x->crid));
    }
    if (json_body) {
        x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
    }
    {
        char h[64];

        snprintf(h, sizeof(h), "client-request-id: %s", x->crid);
        x->headers = curl_slist_append(x->headers, h);
    }
    /* Only a request sent alone can have it: WR_GRAPH_EVENTUAL keeps it out of $batch. */
    if (x->kind == XK_SINGLE && (first->flags & WR_GRAPH_EVENTUAL)) {
        x->headers = curl_slist_append(x->headers, "ConsistencyLevel: eventual");
    }
    if (x->headers == NULL || !xfer_prepare(g, x)) {
        fail_reqs(x, 0, "network", "could not set up the HTTP transfer", false);
        xfer_free(x);
        return;
    }
    xfer_set_method(x, x->kind == XK_BATCH ? "POST" : first->method);
    if (x->kind == XK_SINGLE && (first->flags & WR_GRAPH_AT_MOST_ONCE)) {
        /* A reused connection that dies makes libcurl re-send on its own: never for these. */
        curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, 1L);
    }
    x->token_gen = g->token_gen;
    x->sent_ms = wr_clock_mono_ms();
    for (size_t i = 0; i < x->n; i++) {
        struct greq *r = x->reqs[i];

        r->state = RS_INFLIGHT;
        r->paid = false;
        if (++r->attempts > 1) {
            g->stats.retries++;
        }
    }
    g->stats.http_requests++;
    if (x->kind == XK_BATCH) {
        g->stats.batches++;
        g->stats.batch_items += x->n;
    }
    TAILQ_INSERT_TAIL(&g->active, x, link);
    g->inflight++;
    g->inflight_cls[x->cls]++;
    if (wr_curl_loop_add(g->curl, x->easy, on_xfer_done, x) != 0) {
        TAILQ_REMOVE(&g->active, x, link);
        g->inflight--;
        g->inflight_cls[x->cls]--;
        fail_reqs(x, 0, "network", "could not start the HTTP transfer", false);
        xfer_free(x);
    }
}

/* }====== */

/* {====== Token ====== */

static void token_start(struct wr_graph *g);

static bool token_usable(const struct wr_graph *g, int64_t now)
{
    return g->token != NULL && now < g->token_usable_until;
}

static void on_token_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    token_start(arg);
}

/* Starts a token call unless one is in flight or waiting for its retry. */
static void token_start(struct wr_graph *g)
{
    struct xfer *x;
    char *id, *secret = NULL, *scope, *assertion = NULL;

    if (g->token_xfer != NULL || evtimer_pending(g->token_timer, NULL)) {
        return;
    }
    x = wr_xcalloc(1, sizeof(*x));
    x->g = g;
    x->kind = XK_TOKEN;
    x->url = wr_xstrdup(g->token_url);
    id = curl_easy_escape(NULL, g->client_id, 0);
    scope = curl_easy_escape(NULL, g->scope, 0);
    if (g->cert != NULL) {
        /* A fresh assertion per call: each has its own jti and ten minutes of validity, so a
         * retry an hour later never replays an expired or already used one. base64url text
         * needs no escaping. */
        assertion =
            wr_graph_cert_assertion(g->cert, g->token_url, g->client_id, wr_clock_wall_ms() / 1000);
        if (id != NULL && scope != NULL && assertion != NULL) {
            x->req_body =
                wr_xasprintf("grant_type=client_credentials&client_id=%s&client_assertion_type=%s"
                             "&client_assertion=%s&scope=%s",
                             id, ASSERTION_TYPE_FORM, assertion, scope);
        }
        secure_free(assertion);
    } else {
        secret = curl_easy_escape(NULL, g->client_secret, 0);
        if (id != NULL && secret != NULL && scope != NULL) {
            x->req_body =
                wr_xasprintf("grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s",
                             id, secret, scope);
        }
        if (secret != NULL) {
            explicit_bzero(secret, strlen(secret));
        }
        curl_free(secret);
    }
    if (x->req_body != NULL) {
        x->req_body_len = strlen(x->req_body);
    }
    curl_free(id);
    curl_free(scope);
    x->headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    x->headers = curl_slist_append(x->headers, "Accept: application/json");
    x->headers = curl_slist_append(x->headers, "Expect:");
    rng_guid(g, x->crid);
    {
        char h[64];

        snprintf(h, sizeof(h), "client-request-id: %s", x->crid);
        x->headers = curl_slist_append(x->headers, h);
    }
    if (x->req_body == NULL || x->headers == NULL || !xfer_prepare(g, x)) {
        xfer_free(x);
        return; /* waiting requests stay queued; the next flush tries again */
    }
    xfer_set_method(x, "POST");
    x->sent_ms = wr_clock_mono_ms();
    g->stats.token_fetches++;
    TAILQ_INSERT_TAIL(&g->active, x, link);
    g->token_xfer = x;
    if (wr_curl_loop_add(g->curl, x->easy, on_xfer_done, x) != 0) {
        TAILQ_REMOVE(&g->active, x, link);
        g->token_xfer = NULL;
        xfer_free(x);
    }
}

/* Forgets the token the 401 was for, so the next transfer fetches a new one. */
static void token_invalidate(struct wr_graph *g)
{
    secure_free(g->token);
    g->token = NULL;
    g->token_usable_until = 0;
    g->token_refresh_at = 0;
}

/* Fails every request that waits for a token (queued or grouped, not yet sent). */
static void token_fail_waiters(struct wr_graph *g, long status, const char *code, const char *msg,
                               bool retriable)
{
    struct xfer *x;
    struct greq *r;

    /* Messages are already scrubbed of the secret and tokens by their callers. */
    snprintf(g->token_error, sizeof(g->token_error), "%s: %s", code ? code : "error",
             msg ? msg : "");
    while ((x = TAILQ_FIRST(&g->ready)) != NULL) {
        TAILQ_REMOVE(&g->ready, x, link);
        fail_reqs(x, status, code, msg, retriable);
        xfer_free(x);
    }
    while ((r = TAILQ_FIRST(&g->pending)) != NULL) {
        TAILQ_REMOVE(&g->pending, r, q);
        req_set_error(r, status, code, msg);
        r->retriable = retriable;
        req_finish(r);
    }
}

static bool curl_retriable(CURLcode res)
{
    switch (res) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_AGAIN:
        return true;
    default:
        return false;
    }
}

/* Failures where the request certainly never left: no connection was made. */
static bool curl_unsent(CURLcode res)
{
    return res == CURLE_COULDNT_RESOLVE_PROXY || res == CURLE_COULDNT_RESOLVE_HOST ||
           res == CURLE_COULDNT_CONNECT || res == CURLE_SSL_CONNECT_ERROR;
}

static const char *curl_code(CURLcode res)
{
    return res == CURLE_OPERATION_TIMEDOUT ? "timeout" : "network";
}

static const char *curl_message(const struct xfer *x, CURLcode res)
{
    if (x->too_big) {
        return "response body too large";
    }
    return x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(res);
}

static void token_done(struct wr_graph *g, struct xfer *x, CURLcode res)
{
    int64_t now = wr_clock_mono_ms();
    struct wr_graph_token_answer ans = {0};
    long status = 0;
    char *code = NULL, *msg = NULL;
    bool retriable;
    int64_t ra = -1, delay;

    g->token_xfer = NULL;
    if (res != CURLE_OK) {
        code = wr_xstrdup(curl_code(res));
        msg = wr_xasprintf("token request failed: %s", curl_message(x, res));
        retriable = curl_retriable(res);
    } else {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (wr_graph_parse_token(x->resp.data, x->resp.len, &ans) == 0 && status == 200) {
            int64_t life = ans.expires_in * 1000;
            int64_t refresh = life * 8 / 10;

            /* Earlier of 80 % and five minutes before expiry, never before half the life. */
            if (life - 300000 < refresh) {
                refresh = life - 300000;
            }
            if (refresh < life / 2) {
                refresh = life / 2;
            }
            if (x->sent_ms + life <= now) {
                /* Expired on arrival (a lifetime shorter than the round trip): fetching again at
                 * once would spin, so treat it as a retriable token failure. */
                code = wr_xstrdup("token_error");
                msg = wr_xasprintf("the token (expires_in %lld s) expired before it arrived",
                                   (long long)(life / 1000));
                retriable = true;
                goto failed;
            }
            secure_free(g->token);
            g->token = ans.access_token; /* taken over: cleared with the client */
            ans.access_token = NULL;
            wr_secret_register_token(g->token); /* masked if it ever reaches a log line */
            g->token_gen++;
            /* Counted from when the call was sent: the server's clock started no earlier. */
            g->token_refresh_at = x->sent_ms + refresh;
            g->token_usable_until =
                x->sent_ms + life - (life / 10 < 30000 ? life / 10 : (int64_t)30000);
            if (g->token_usable_until <= now) {
                g->token_usable_until = x->sent_ms + life; /* a slow answer: use what is left */
            }
            g->token_attempts = 0;
            g->token_delay_ms = 0;
            g->token_error[0] = '\0';
            wr_graph_token_answer_clear(&ans);
            schedule_flush(g);
            return;
        }
        code = wr_xstrdup(ans.error != NULL ? ans.error : "token_error");
        if (ans.error_description != NULL) {
            msg = wr_xstrdup(ans.error_description);
        } else {
            char *head = wr_graph_body_head(x->resp.data, x->resp.len);
            char *what = wr_graph_describe_answer(status, x->ctype, head, x->resp.len);

            msg = wr_xasprintf("the token endpoint answered without a token: %s "
                               "(client-request-id %s)",
                               what, x->crid);
            free(what);
            free(head);
        }
        retriable = status == 429 || status >= 500;
        if (status == 429) {
            g->stats.throttled++;
            g->stats.last_throttled_ms = wr_clock_wall_ms();
        }
        if (x->retry_after != NULL) {
            ra = wr_graph_parse_retry_after(x->retry_after, wr_clock_wall_ms());
        }
    }
failed:
    wr_graph_token_answer_clear(&ans);
    if (token_usable(g, now)) {
        /* A proactive refresh failed; the current token still works. Try again later. */
        int64_t left = g->token_usable_until - now;

        g->token_refresh_at = now + (left / 2 < 30000 ? left / 2 : 30000);
        goto out;
    }
    if (retriable && ++g->token_attempts < g->max_attempts) {
        delay = ra >= 0 ? ra + RETRY_AFTER_MARGIN_MS : backoff_ms(g, g->token_attempts);
        if (g->token_delay_ms + delay <= g->max_delay_ms) {
            struct timeval tv;

            if (ra >= 0) {
                g->stats.retry_wait_ms += delay;
            }
            g->token_delay_ms += delay;
            ms_to_tv(delay, &tv);
            evtimer_add(g->token_timer, &tv);
            goto out;
        }
    }
    g->token_attempts = 0;
    g->token_delay_ms = 0;
    token_fail_waiters(g, status, code, msg, retriable);
out:
    free(code);
    free(msg);
}

/* }====== */

/* {====== Answers ====== */

enum outcome { OUT_DONE, OUT_AUTH, OUT_RETRY };

/* What one HTTP answer, or one item of a $batch answer, said. */
struct answer {
    long status;
    struct json_object *body; /* parsed, or NULL */
    const char *raw;          /* the body as received (a $batch item's: serialised), or NULL */
    size_t raw_len;
    const char *ctype;      /* Content-Type, or NULL */
    int64_t ra_ms;          /* Retry-After in ms, or -1 */
    const char *scope;      /* x-ms-throttle-scope, or NULL */
    const char *request_id; /* of the HTTP answer */
    const char *crid;       /* of the HTTP request */
    uint64_t gen;           /* the token the request carried */
};

static bool is_json_ctype(const char *ctype)
{
    return strncasecmp(ctype, "application/json", 16) == 0 &&
           (ctype[16] == '\0' || ctype[16] == ';' || ctype[16] == ' ');
}

/*
 * Records one answer (top level or a $batch item) in r and decides: finished (queued for
 * delivery), re-sent after a forced token refresh, or to be retried by the caller.
 */
static enum outcome apply_answer(struct greq *r, const struct answer *a)
{
    struct wr_graph *g = r->g;
    const char *code, *msg;
    long status = a->status;

    req_reset_result(r);
    r->status = status;
    r->res_body = json_object_get(a->body);
    r->res_ctype = wr_xstrdup_or_null(a->ctype);
    r->res_head = wr_graph_body_head(a->raw, a->raw_len);
    r->res_len = a->raw_len;
    r->res_rid = wr_xstrdup_or_null(a->request_id);
    r->res_crid = wr_xstrdup_or_null(a->crid);
    r->res_scope = wr_xstrdup_or_null(a->scope);
    if (a->ra_ms >= 0) {
        r->retry_after_ms = a->ra_ms;
    }
    if (status >= 200 && status <= 299) {
        if ((r->flags & WR_GRAPH_TEXT) && a->ctype != NULL &&
            strncasecmp(a->ctype, "text/plain", 10) == 0 &&
            (a->ctype[10] == '\0' || a->ctype[10] == ';' || a->ctype[10] == ' ')) {
            /* Asked for: plain text (a count), not JSON even when it parses as a number. */
            json_object_put(r->res_body);
            r->res_body = NULL;
            r->res_text = wr_xstrndup(a->raw ? a->raw : "", a->raw_len);
            r->ok = true;
            req_finish(r);
            return OUT_DONE;
        }
        if (a->raw_len > 0 && (a->body == NULL || (a->ctype != NULL && !is_json_ctype(a->ctype)))) {
            /* A proxy's page, a cut connection: not Graph's answer, and not a success. */
            char *what = wr_graph_describe_answer(status, a->ctype, r->res_head, a->raw_len);
            char *m = wr_xasprintf("%s %s: the answer is not JSON: %s", r->method, r->path, what);

            req_set_error(r, status, WR_GRAPH_UNEXPECTED, m);
            r->retriable = !(r->flags & WR_GRAPH_AT_MOST_ONCE); /* it may have been taken */
            free(m);
            free(what);
            req_finish(r);
            return OUT_DONE;
        }
        r->ok = true;
        req_finish(r);
        return OUT_DONE;
    }
    if (wr_graph_parse_error(a->body, &code, &msg) == 0) {
        req_set_error(r, status, code, msg != NULL ? msg : "");
    } else {
        char *what = wr_graph_describe_answer(status, a->ctype, r->res_head, a->raw_len);
        char *m =
            wr_xasprintf("%s %s: the answer has no Graph error body: %s", r->method, r->path, what);

        req_set_error(r, status, "http_error", m);
        free(m);
        free(what);
    }
    if (status == 429) {
        unsigned classes = wr_graph_parse_throttle_scope(a->scope);

        g->stats.throttled++;
        g->stats.last_throttled_ms = wr_clock_wall_ms();
        if (a->ra_ms >= 0 && classes != 0) {
            /* The app and tenant are throttled: every request of the scope would meet 429s. */
            pause_set(g, classes, wr_clock_mono_ms() + a->ra_ms);
            g->stats.scope_pauses++;
        } else if (a->ra_ms >= 0) {
            holdoff_set(g, r, wr_clock_mono_ms() + a->ra_ms);
        }
    }
    if (status == 401 && code != NULL && strcmp(code, "InvalidAuthenticationToken") == 0 &&
        !r->auth_retried) {
        r->auth_retried = true;
        if (a->gen == g->token_gen) {
            token_invalidate(g);
        }
        req_requeue(r);
        return OUT_AUTH;
    }
    if ((r->flags & WR_GRAPH_AT_MOST_ONCE) && status >= 500 && !(status == 503 && a->ra_ms >= 0)) {
        /* Graph may have acted on it before failing: never sent again (graph.h). */
        r->retriable = false;
        req_finish(r);
        return OUT_DONE;
    }
    if (status == 429 || status == 503 || status == 504) {
        return OUT_RETRY;
    }
    r->retriable = status >= 500;
    req_finish(r);
    return OUT_DONE;
}

/*
 * A $batch envelope answered 200 with the items wr_graph_parse_batch read from it (seen says
 * which requests got one): completes, retries or re-authenticates item by item. Returns
 * whether any item was throttled.
 */
static bool batch_answers(struct wr_graph *g, struct xfer *x,
                          const struct wr_graph_batch_item *items, size_t nitems, const bool *seen)
{
    struct greq *retry[GRAPH_BATCH_LIMIT];
    size_t nretry = 0;
    int64_t max_ra = -1;
    int max_attempts = 0;
    bool throttled = false;

    for (size_t i = 0; i < nitems; i++) {
        const struct wr_graph_batch_item *it = &items[i];
        struct greq *r = x->reqs[it->index];
        const char *raw =
            it->body != NULL
                ? json_object_to_json_string_ext(it->body, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE)
                : NULL;
        struct answer a = {
            .status = it->status,
            .body = it->body,
            .raw = raw,
            .raw_len = raw != NULL ? strlen(raw) : 0,
            .ctype = it->content_type,
            .ra_ms = it->retry_after_ms,
            .scope = it->throttle_scope,
            .request_id = x->request_id,
            .crid = x->crid,
            .gen = x->token_gen,
        };

        throttled = throttled || it->status == 429;
        if (apply_answer(r, &a) == OUT_RETRY) {
            retry[nretry++] = r;
            if (it->retry_after_ms > max_ra) {
                max_ra = it->retry_after_ms;
            }
        }
    }
    for (size_t i = 0; i < x->n; i++) {
        if (!seen[i]) {
            req_reset_result(x->reqs[i]);
            req_set_error(x->reqs[i], 0, "network",
                          "the $batch answer has no item for this request");
            retry[nretry++] = x->reqs[i];
        }
    }
    for (size_t i = 0; i < nretry; i++) {
        if (retry[i]->attempts > max_attempts) {
            max_attempts = retry[i]->attempts;
        }
    }
    /* One delay for every retried item (the largest Retry-After, else one jitter draw), so the
     * retries travel together in one $batch again. */
    {
        int64_t fixed = max_ra >= 0 ? -1 : backoff_ms(g, max_attempts);

        for (size_t i = 0; i < nretry; i++) {
            req_retry(retry[i], max_ra, fixed);
        }
    }
    return throttled;
}

/* A Graph transfer (single or $batch) finished in curl. */
static void graph_done(struct wr_graph *g, struct xfer *x, CURLcode res)
{
    struct json_object *body;
    struct wr_graph_batch_item items[GRAPH_BATCH_LIMIT];
    bool seen[GRAPH_BATCH_LIMIT];
    int nitems = -1;
    int64_t ra = -1;
    long status = 0;
    bool throttled;

    if (res != CURLE_OK) {
        int64_t fixed = backoff_ms(g, x->reqs[0]->attempts);

        for (size_t i = 0; i < x->n; i++) {
            struct greq *r = x->reqs[i];

            req_reset_result(r);
            req_set_error(r, 0, curl_code(res), curl_message(x, res));
            r->res_crid = wr_xstrdup(x->crid);
            if ((r->flags & WR_GRAPH_AT_MOST_ONCE) && !curl_unsent(res)) {
                /* The request may have reached Graph: never sent again (graph.h). */
                r->retriable = false;
                req_finish(r);
            } else if (curl_retriable(res)) {
                req_retry(r, -1, fixed);
            } else {
                req_finish(r);
            }
        }
        return;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (x->retry_after != NULL) {
        ra = wr_graph_parse_retry_after(x->retry_after, wr_clock_wall_ms());
    }
    throttled = status == 429;
    body = wr_graph_parse_json(x->resp.data, x->resp.len);
    if (x->kind == XK_BATCH && status == 200) {
        nitems = wr_graph_parse_batch(body, x->n, wr_clock_wall_ms(), items, seen);
    }
    if (nitems >= 0) {
        throttled = batch_answers(g, x, items, (size_t)nitems, seen);
    } else if (x->kind == XK_BATCH && status >= 200 && status <= 299) {
        int64_t fixed = backoff_ms(g, x->reqs[0]->attempts);
        char *head = wr_graph_body_head(x->resp.data, x->resp.len);
        char *what = wr_graph_describe_answer(status, x->ctype, head, x->resp.len);
        char *m = wr_xasprintf("the $batch answer has no \"responses\": %s", what);

        for (size_t i = 0; i < x->n; i++) {
            req_reset_result(x->reqs[i]);
            req_set_error(x->reqs[i], status, "http_error", m);
            x->reqs[i]->res_rid = wr_xstrdup_or_null(x->request_id);
            x->reqs[i]->res_crid = wr_xstrdup(x->crid);
            req_retry(x->reqs[i], -1, fixed);
        }
        free(m);
        free(what);
        free(head);
    } else {
        int64_t fixed = backoff_ms(g, x->reqs[0]->attempts);
        struct answer a = {
            .status = status,
            .body = body,
            .raw = x->resp.data,
            .raw_len = x->resp.len,
            .ctype = x->ctype,
            .ra_ms = ra,
            .scope = x->scope,
            .request_id = x->request_id,
            .crid = x->crid,
            .gen = x->token_gen,
        };

        for (size_t i = 0; i < x->n; i++) {
            if (apply_answer(x->reqs[i], &a) == OUT_RETRY) {
                req_retry(x->reqs[i], ra, fixed);
            }
        }
    }
    if (!throttled) {
        ramp_grow(g, x->cls, wr_clock_mono_ms());
    }
    json_object_put(body);
}

/* }====== */

/* {====== Scheduling: flush, pump, delivery ====== */

/*
 * A ready transfer of which some request is held by a scope pause that began after it was
 * grouped: the transfer is taken apart, each request waits for its own class (or goes back to
 * the queue). Returns false when nothing of x is held (x is untouched).
 */
static bool unpack_paused(struct wr_graph *g, struct xfer *x, int64_t now)
{
    bool held = false;

    for (size_t i = 0; i < x->n && !held; i++) {
        held = g->pause_until[req_cls(x->reqs[i])] > now;
    }
    if (!held) {
        return false;
    }
    TAILQ_REMOVE(&g->ready, x, link);
    for (size_t i = 0; i < x->n; i++) {
        struct greq *r = x->reqs[i];
        int64_t until = g->pause_until[req_cls(r)];

        if (until > now) {
            g->stats.held++;
            req_wait(r, until - now + RETRY_AFTER_MARGIN_MS);
        } else {
            req_requeue(r);
        }
    }
    x->n = 0;
    xfer_free(x);
    return true;
}

/* Starts ready transfers while slots are free and a token is usable. */
static void pump(struct wr_graph *g)
{
    struct xfer *x;
    int64_t now = wr_clock_mono_ms();

    while ((x = TAILQ_FIRST(&g->ready)) != NULL && g->inflight < g->max_concurrency) {
        if (unpack_paused(g, x, now)) {
            continue;
        }
        if (g->ramp[x->cls] > 0 && g->inflight_cls[x->cls] >= g->ramp[x->cls]) {
            return; /* after a scope pause: a few at first (ramp_grow lets more through) */
        }
        if (!token_usable(g, now)) {
            token_start(g);
            return;
        }
        if (now >= g->token_refresh_at) {
            token_start(g); /* proactive: keeps using the current token meanwhile */
        }
        TAILQ_REMOVE(&g->ready, x, link);
        xfer_start(g, x);
    }
}

static void emit(struct wr_graph *g, struct greq **reqs, size_t n)
{
    struct xfer *x = wr_xcalloc(1, sizeof(*x));

    x->g = g;
    x->kind = n == 1 ? XK_SINGLE : XK_BATCH;
    for (size_t i = 0; i < n; i++) {
        x->reqs[i] = reqs[i];
        reqs[i]->state = RS_READY;
        if (req_cls(reqs[i]) == 1) {
            x->cls = 1;
        }
    }
    x->n = n;
    TAILQ_INSERT_TAIL(&g->ready, x, link);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct wr_graph *g = arg;
    struct greq *batch[GRAPH_BATCH_LIMIT], *r;
    size_t nb = 0, bmax = g->batch_max > 1 ? (size_t)g->batch_max : 1;
    int64_t now = wr_clock_mono_ms();

    (void)fd;
    (void)what;
    /* Right after a scope pause, small $batches too: each item counts against the limit. */
    for (int c = 0; c < 2; c++) {
        if (g->ramp[c] > 0 && (size_t)g->ramp[c] < bmax) {
            bmax = (size_t)g->ramp[c];
        }
    }
    while ((r = TAILQ_FIRST(&g->pending)) != NULL) {
        int64_t until = hold_until(g, r, now);

        TAILQ_REMOVE(&g->pending, r, q);
        if (until > now) {
            g->stats.retry_wait_ms += until - now + RETRY_AFTER_MARGIN_MS;
            g->stats.held++;
            req_wait(r, until - now + RETRY_AFTER_MARGIN_MS);
            continue;
        }
        if (g->writes_per_150s > 0 && is_write(r) && !r->paid) {
            if (!pace_take(g, now)) {
                r->state = RS_PACED;
                TAILQ_INSERT_TAIL(&g->paced, r, q);
                g->stats.paced++;
                pace_arm(g, now);
                continue;
            }
            r->paid = true;
        }
        if (bmax > 1 && !(r->flags & (WR_GRAPH_NO_BATCH | WR_GRAPH_EVENTUAL | WR_GRAPH_TEXT |
                                      WR_GRAPH_AT_MOST_ONCE))) {
            batch[nb++] = r;
            if (nb == bmax) {
                emit(g, batch, nb);
                nb = 0;
            }
        } else {
            emit(g, &r, 1);
        }
    }
    if (nb > 0) {
        emit(g, batch, nb);
    }
    pump(g);
}

static void graph_destroy(struct wr_graph *g);

/* Records one finished request in t (when open). */
static void trace_add(struct wr_graph_trace *t, const char *method, const char *path,
                      const struct wr_graph_result *res)
{
    struct json_object *e;
    size_t half = WR_GRAPH_TRACE_MAX / 2;

    if (t == NULL || t->closed) {
        return;
    }
    e = json_object_new_object();
    json_object_object_add(e, "method", json_object_new_string(method));
    json_object_object_add(e, "path", json_object_new_string(path));
    json_object_object_add(e, "status", json_object_new_int64(res->status));
    json_object_object_add(
        e, "request_id", res->request_id != NULL ? json_object_new_string(res->request_id) : NULL);
    json_object_object_add(
        e, "client_request_id",
        res->client_request_id != NULL ? json_object_new_string(res->client_request_id) : NULL);
    if (t->count < half) {
        json_object_array_add(t->head, e);
    } else {
        size_t slot = (t->count - half) % half;

        json_object_put(t->tail[slot]);
        t->tail[slot] = e;
    }
    t->count++;
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
    struct wr_graph *g = arg;
    struct greq *r;

    (void)fd;
    (void)what;
    g->delivering = true;
    while (!g->free_requested && (r = TAILQ_FIRST(&g->done)) != NULL) {
        struct wr_graph_result res = {
            .status = r->status,
            .body = r->res_body,
            .error_code = r->ok ? NULL : r->error_code,
            .error_message = r->ok ? NULL : r->error_message,
            .ok = r->ok,
            .retriable = r->ok ? false : r->retriable,
            .attempts = r->attempts,
            .retry_after_ms = r->retry_after_ms,
            .content_type = r->res_ctype,
            .body_head = r->res_head,
            .body_len = r->res_len,
            .request_id = r->res_rid,
            .client_request_id = r->res_crid,
            .throttle_scope = r->res_scope,
            .text = r->ok ? r->res_text : NULL,
        };

        TAILQ_REMOVE(&g->done, r, q);
        TAILQ_REMOVE(&g->reqs, r, all);
        trace_add(r->trace, r->method, r->path, &res);
        {
            /* The callback runs in the request's trace: what it starts belongs to it too. */
            struct wr_graph_trace *outer = wr_graph_trace_swap(g, r->trace);

            r->done(r->arg, &res);
            wr_graph_trace_swap(g, outer);
        }
        req_free(r);
    }
    g->delivering = false;
    if (g->free_requested) {
        graph_destroy(g);
    }
}

/* }====== */

/* {====== Finished transfers (engine/net/curl_loop) ====== */

/* The loop reports a finished transfer from its own event, after libcurl returned: the
 * transfer's requests are settled (callbacks go through deliver_ev) and the next ones start. */
static void on_xfer_done(void *arg, CURL *easy, CURLcode res)
{
    struct xfer *x = arg;
    struct wr_graph *g = x->g;

    (void)easy;
    TAILQ_REMOVE(&g->active, x, link);
    if (x->kind == XK_TOKEN) {
        token_done(g, x, res);
    } else {
        g->inflight--;
        g->inflight_cls[x->cls]--;
        graph_done(g, x, res);
    }
    xfer_free(x);
    pump(g);
}

/* }====== */

/* {====== Public API ====== */

static char *dup_trimmed(const char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == '/') {
        n--;
    }
    return wr_xasprintf("%.*s", (int)n, s);
}

static bool nonempty(const char *s)
{
    return s != NULL && *s != '\0';
}

static struct wr_graph *new_fail(struct wr_graph *g, char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0) {
        wr_errf_marked(err, errlen, "%s", msg);
    }
    graph_destroy(g);
    return NULL;
}

struct wr_graph *wr_graph_new(struct event_base *base, const struct wr_graph_options *opts,
                              char *err, size_t errlen)
{
    struct wr_graph *g;
    char *tenant;

    if (base == NULL || opts == NULL) {
        return new_fail(NULL, err, errlen, "graph: no event base or options");
    }
    if (opts->authority == NULL || *opts->authority == '\0' || opts->tenant == NULL ||
        *opts->tenant == '\0' || opts->client_id == NULL || *opts->client_id == '\0' ||
        opts->base_url == NULL || *opts->base_url == '\0' ||
        (!nonempty(opts->client_secret) && !nonempty(opts->client_certificate_pem) &&
         !nonempty(opts->client_key_pem))) {
        return new_fail(NULL, err, errlen,
                        "graph: authority, tenant, client_id, client_secret and base_url are "
                        "required");
    }
    if (nonempty(opts->client_secret) &&
        (nonempty(opts->client_certificate_pem) || nonempty(opts->client_key_pem))) {
        return new_fail(NULL, err, errlen,
                        "graph: give either client_secret or client_certificate_pem + "
                        "client_key_pem, not both");
    }
    if (!nonempty(opts->client_secret) &&
        (!nonempty(opts->client_certificate_pem) || !nonempty(opts->client_key_pem))) {
        return new_fail(NULL, err, errlen,
                        "graph: a certificate credential needs both client_certificate_pem and "
                        "client_key_pem");
    }
    if (opts->max_concurrency < 0 || opts->batch_max < -1 || opts->batch_max > GRAPH_BATCH_LIMIT ||
        opts->writes_per_150s < -1 || opts->max_attempts < 0 || opts->max_delay_ms < 0 ||
        opts->timeout_ms < 0 || opts->timeout_ms > (int64_t)INT32_MAX) {
        return new_fail(NULL, err, errlen,
                        "graph: max_concurrency, max_attempts, max_delay_ms and timeout_ms must "
                        "be >= 0, batch_max -1..20, writes_per_150s >= -1");
    }
    if (opts->curl != NULL && wr_curl_loop_base(opts->curl) != base) {
        return new_fail(NULL, err, errlen, "graph: the curl loop runs on another event base");
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return new_fail(NULL, err, errlen, "graph: curl_global_init failed");
    }
    g = wr_xcalloc(1, sizeof(*g));
    g->base = base;
    TAILQ_INIT(&g->reqs);
    TAILQ_INIT(&g->pending);
    TAILQ_INIT(&g->paced);
    TAILQ_INIT(&g->done);
    TAILQ_INIT(&g->ready);
    TAILQ_INIT(&g->active);
    g->client_id = wr_xstrdup(opts->client_id);
    if (nonempty(opts->client_secret)) {
        g->client_secret = wr_xstrdup(opts->client_secret);
    } else {
        char msg[WR_ERR_MAX];

        g->cert =
            wr_graph_cert_new(opts->client_certificate_pem, opts->client_key_pem, msg, sizeof(msg));
        if (g->cert == NULL) {
            return new_fail(g, err, errlen, msg);
        }
    }
    g->base_url = dup_trimmed(opts->base_url);
    g->scope =
        nonempty(opts->scope) ? wr_xstrdup(opts->scope) : wr_graph_default_scope(g->base_url);
    if (g->scope == NULL) {
        return new_fail(g, err, errlen,
                        "graph: base_url has no scheme://host to derive the token scope from");
    }
    {
        char *auth = dup_trimmed(opts->authority);

        tenant = wr_graph_escape(opts->tenant);
        g->token_url = wr_xasprintf("%s/%s/oauth2/v2.0/token", auth, tenant);
        free(auth);
        free(tenant);
    }
    g->max_concurrency = opts->max_concurrency ? opts->max_concurrency : DEFAULT_MAX_CONCURRENCY;
    g->batch_max = opts->batch_max == 0 ? DEFAULT_BATCH_MAX : opts->batch_max;
    g->writes_per_150s = opts->writes_per_150s ? opts->writes_per_150s : DEFAULT_WRITES_PER_150S;
    g->max_attempts = opts->max_attempts ? opts->max_attempts : DEFAULT_MAX_ATTEMPTS;
    g->max_delay_ms = opts->max_delay_ms ? opts->max_delay_ms : DEFAULT_MAX_DELAY_MS;
    g->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    g->read_only = opts->read_only;
    g->bucket = g->writes_per_150s > 0 ? g->writes_per_150s : 0;
    g->bucket_ms = wr_clock_mono_ms();
    {
        int64_t ns = wr_clock_wall_ns();
        g->rng = ((uint64_t)(ns % 1000000000) << 20) ^ (uint64_t)(ns / 1000000000) ^
                 (uint64_t)(uintptr_t)g;
        if (g->rng == 0) {
            g->rng = 0x9E3779B97F4A7C15ULL;
        }
    }
    g->flush_ev = event_new(base, -1, 0, on_flush, g);
    g->deliver_ev = event_new(base, -1, 0, on_deliver, g);
    g->pace_timer = evtimer_new(base, on_pace_timer, g);
    g->token_timer = evtimer_new(base, on_token_timer, g);
    if (opts->curl != NULL) {
        g->curl = opts->curl;
    } else {
        char why[WR_ERR_MAX] = "";

        g->curl = wr_curl_loop_new(base, why, sizeof(why));
        g->own_curl = true;
    }
    if (g->flush_ev == NULL || g->deliver_ev == NULL || g->pace_timer == NULL ||
        g->token_timer == NULL || g->curl == NULL) {
        return new_fail(g, err, errlen, "graph: cannot set up curl or libevent");
    }
    /* The idle connections it kept in a multi of its own, kept for it in the shared pool. */
    g->reserved = (long)g->max_concurrency + 4;
    wr_curl_loop_reserve_connections(g->curl, g->reserved);
    return g;
}

static void graph_destroy(struct wr_graph *g)
{
    struct xfer *x;
    struct greq *r;

    if (g == NULL) {
        return;
    }
    while ((x = TAILQ_FIRST(&g->active)) != NULL) {
        TAILQ_REMOVE(&g->active, x, link);
        wr_curl_loop_remove(g->curl, x->easy);
        xfer_free(x);
    }
    while ((x = TAILQ_FIRST(&g->ready)) != NULL) {
        TAILQ_REMOVE(&g->ready, x, link);
        xfer_free(x);
    }
    while ((r = TAILQ_FIRST(&g->reqs)) != NULL) {
        TAILQ_REMOVE(&g->reqs, r, all);
        req_free(r);
    }
    if (g->own_curl) {
        wr_curl_loop_free(g->curl);
    } else if (g->curl != NULL) {
        wr_curl_loop_reserve_connections(g->curl, -g->reserved);
    }
    while (g->holdoffs != NULL) {
        struct holdoff *h = g->holdoffs;

        g->holdoffs = h->next;
        free(h->key);
        free(h);
    }
    if (g->flush_ev != NULL) {
        event_free(g->flush_ev);
    }
    if (g->deliver_ev != NULL) {
        event_free(g->deliver_ev);
    }
    if (g->pace_timer != NULL) {
        event_free(g->pace_timer);
    }
    if (g->token_timer != NULL) {
        event_free(g->token_timer);
    }
    secure_free(g->client_secret);
    wr_graph_cert_free(g->cert);
    secure_free(g->token);
    free(g->client_id);
    free(g->base_url);
    free(g->token_url);
    free(g->scope);
    free(g);
    curl_global_cleanup();
}

struct wr_curl_loop *wr_graph_curl_loop(const struct wr_graph *g)
{
    return g->curl;
}

void wr_graph_free(struct wr_graph *g)
{
    if (g == NULL) {
        return;
    }
    if (g->delivering) {
        g->free_requested = true; /* freed when the delivery loop unwinds */
        return;
    }
    graph_destroy(g);
}

static bool valid_method(const char *m)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(m, methods[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool valid_path(const char *p)
{
    if (p[0] != '/') {
        return false;
    }
    for (; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

int wr_graph_request(struct wr_graph *g, const char *method, const char *path,
                     struct json_object *body, unsigned flags, wr_graph_done_fn done, void *arg)
{
    struct greq *r;

    if (g == NULL || g->free_requested || method == NULL || path == NULL || done == NULL ||
        !valid_method(method) || !valid_path(path)) {
        return -1;
    }
    r = wr_xcalloc(1, sizeof(*r));
    r->g = g;
    r->method = wr_xstrdup(method);
    r->path = wr_xstrdup(path);
    r->body = json_object_get(body);
    r->flags = flags;
    r->done = done;
    r->arg = arg;
    r->trace = wr_graph_trace_ref(g->trace);
    rng_guid(g, r->crid);
    TAILQ_INSERT_TAIL(&g->reqs, r, all);
    g->stats.requests++;
    if (g->read_only && strcmp(method, "GET") != 0) {
        char *msg = wr_xasprintf("dry run: %s %s was not sent", method, path);

        req_set_error(r, 0, "read_only", msg);
        free(msg);
        req_finish(r);
        return 0;
    }
    req_requeue(r);
    return 0;
}

/* {====== Traces ====== */

struct wr_graph_trace *wr_graph_trace_new(void)
{
    struct wr_graph_trace *t = wr_xcalloc(1, sizeof(*t));

    t->refs = 1;
    t->head = json_object_new_array();
    return t;
}

struct wr_graph_trace *wr_graph_trace_ref(struct wr_graph_trace *t)
{
    if (t != NULL) {
        t->refs++;
    }
    return t;
}

void wr_graph_trace_put(struct wr_graph_trace *t)
{
    if (t == NULL || --t->refs > 0) {
        return;
    }
    json_object_put(t->head);
    for (size_t i = 0; i < WR_GRAPH_TRACE_MAX / 2; i++) {
        json_object_put(t->tail[i]);
    }
    free(t);
}

void wr_graph_trace_close(struct wr_graph_trace *t)
{
    if (t != NULL) {
        t->closed = true;
    }
}

struct wr_graph_trace *wr_graph_trace_swap(struct wr_graph *g, struct wr_graph_trace *t)
{
    struct wr_graph_trace *outer = g->trace;

    g->trace = t;
    return outer;
}

struct wr_graph_trace *wr_graph_trace_current(const struct wr_graph *g)
{
    return g->trace;
}

struct json_object *wr_graph_trace_json(const struct wr_graph_trace *t, size_t *omitted)
{
    struct json_object *out = json_object_new_array();
    size_t half = WR_GRAPH_TRACE_MAX / 2, ntail;

    if (omitted != NULL) {
        *omitted = 0;
    }
    if (t == NULL) {
        return out;
    }
    for (size_t i = 0; i < json_object_array_length(t->head); i++) {
        json_object_array_add(out, json_object_get(json_object_array_get_idx(t->head, i)));
    }
    ntail = t->count > half ? t->count - half : 0;
    /* Oldest first: once the ring has wrapped, its oldest entry is the next to be replaced. */
    for (size_t i = ntail > half ? ntail - half : 0; i < ntail; i++) {
        json_object_array_add(out, json_object_get(t->tail[i % half]));
    }
    if (omitted != NULL && ntail > half) {
        *omitted = ntail - half;
    }
    return out;
}

size_t wr_graph_trace_count(const struct wr_graph_trace *t)
{
    return t != NULL ? t->count : 0;
}

/* }====== */

void wr_graph_get_stats(const struct wr_graph *g, struct wr_graph_stats *out)
{
    if (g == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = g->stats;
}

/* }====== */

struct wr_graph_result wr_graph_result_unusable(const struct wr_graph_result *res, const char *msg,
                                                bool retriable)
{
    struct wr_graph_result out = *res;

    out.ok = false;
    out.error_code = WR_GRAPH_UNEXPECTED;
    out.error_message = msg;
    out.retriable = retriable;
    return out;
}

char *wr_graph_result_ids(const struct wr_graph_result *res)
{
    bool rid = res != NULL && res->request_id != NULL && *res->request_id != '\0';
    bool crid = res != NULL && res->client_request_id != NULL && *res->client_request_id != '\0';

    if (!rid && !crid) {
        return wr_xstrdup("");
    }
    return wr_xasprintf(" (%s%s%s%s%s)", rid ? "request-id " : "", rid ? res->request_id : "",
                        rid && crid ? ", " : "", crid ? "client-request-id " : "",
                        crid ? res->client_request_id : "");
}

int wr_graph_token_status(struct wr_graph *g, char *err, size_t errlen)
{
    int64_t now = wr_clock_mono_ms();
    if (token_usable(g, now)) {
        return 1;
    }
    if (g->token_error[0]) {
        wr_errf_marked(err, errlen, "%s", g->token_error);
        return -1;
    }
    token_start(g);
    snprintf(err, errlen, "signing in");
    return 0;
}
