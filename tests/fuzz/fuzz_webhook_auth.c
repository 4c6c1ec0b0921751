/*
 * fuzz_webhook_auth — signature and credential checks (triggers/webhook/auth) on arbitrary
 * request headers and bodies, for every scheme: standard-webhooks (default and a wide
 * tolerance), github, hmac (hex with a prefix; base64 SHA-512), bearer, and basic behind an
 * allow_from list. The verifiers are built once from trigger arguments with fixed test secrets
 * (environment references, as a workflow would have them) and the clock is fixed, so the seeds
 * under corpus/fuzz_webhook_auth carry valid signatures.
 *
 * Input: header lines "Name: value" (LF or CRLF) up to the first empty line, then the body
 * bytes, like an HTTP request without its request line. A header "x-fuzz-peer" sets the peer
 * address (IPv4 or IPv6 text; "none" = unknown); it is 192.0.2.10 otherwise.
 *
 * Invariants, from webhook_auth.h: the verdict is 0, 401 or 403; a refusal has a reason, and
 * no reason ever holds a secret.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/base/strutil.h"
#include "tests/fuzz/fuzz.h"
#include "triggers/webhook/auth.h"

#define MAX_HEADERS 32
#define NOW         1614265330LL /* the standard-webhooks reference vector's timestamp */

static const char *const secrets[][2] = {
    {"WEIR_FUZZ_STD", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    {"WEIR_FUZZ_KEY", "It's a Secret to Everybody"},
    {"WEIR_FUZZ_TOKEN", "tok-3x4mple-fuzz"},
    {"WEIR_FUZZ_BASIC", "hr:pa:ss-fuzz"},
};

static const char *const configs[] = {
    "{\"path\": \"/h\", \"secret\": \"env:WEIR_FUZZ_STD\"}",
    "{\"auth\": {\"type\": \"standard-webhooks\", \"secret\": \"env:WEIR_FUZZ_STD\", "
    "\"tolerance\": \"3650d\"}}",
    "{\"auth\": {\"type\": \"github\", \"secret\": \"env:WEIR_FUZZ_KEY\"}}",
    "{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:WEIR_FUZZ_KEY\", \"header\": "
    "\"X-Signature\", \"prefix\": \"sha256=\"}}",
    "{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:WEIR_FUZZ_KEY\", \"header\": "
    "\"X-Signature-512\", \"algorithm\": \"sha512\", \"encoding\": \"base64\"}}",
    "{\"auth\": {\"type\": \"bearer\", \"secret\": \"env:WEIR_FUZZ_TOKEN\"}}",
    "{\"auth\": {\"type\": \"basic\", \"secret\": \"env:WEIR_FUZZ_BASIC\"}, \"allow_from\": "
    "[\"192.0.2.0/24\", \"2001:db8::/32\", \"::ffff:198.51.100.0/120\"]}",
};

#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

static struct wr_webhook_auth *verifiers[NCONFIGS];
static bool ready;

struct request {
    char *names[MAX_HEADERS];
    char *values[MAX_HEADERS];
    size_t n;
};

static void free_verifiers(void)
{
    for (size_t i = 0; i < NCONFIGS; i++) {
        wr_webhook_auth_free(verifiers[i]);
    }
}

static void setup(void)
{
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        setenv(secrets[i][0], secrets[i][1], 1);
    }
    for (size_t i = 0; i < NCONFIGS; i++) {
        struct json_object *args = json_tokener_parse(configs[i]);
        char err[WR_ERR_MAX];

        verifiers[i] = args != NULL ? wr_webhook_auth_new(args, ".", err, sizeof(err)) : NULL;
        json_object_put(args);
        if (verifiers[i] == NULL) {
            wr_fuzz_fail("wr_webhook_auth_new: a test configuration is refused");
        }
    }
    atexit(free_verifiers);
    ready = true;
}

static const char *header_cb(void *ctx, const char *name)
{
    const struct request *r = ctx;

    for (size_t i = 0; i < r->n; i++) {
        if (strcasecmp(r->names[i], name) == 0) {
            return r->values[i];
        }
    }
    return NULL;
}

/* Reads the header block; returns where the body starts. */
static size_t parse_headers(const uint8_t *data, size_t size, struct request *r)
{
    size_t pos = 0;

    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : size, line_end = end;
        const uint8_t *colon;

        if (line_end > pos && data[line_end - 1] == '\r') {
            line_end--;
        }
        if (line_end == pos) {
            return end < size ? end + 1 : size; /* the empty line: the body follows */
        }
        colon = memchr(data + pos, ':', line_end - pos);
        if (colon != NULL && r->n < MAX_HEADERS) {
            size_t vpos = (size_t)(colon - data) + 1;

            while (vpos < line_end && (data[vpos] == ' ' || data[vpos] == '\t')) {
                vpos++;
            }
            r->names[r->n] = wr_fuzz_strndup(data + pos, (size_t)(colon - data) - pos);
            r->values[r->n] = wr_fuzz_strndup(data + vpos, line_end - vpos);
            r->n++;
        }
        pos = end < size ? end + 1 : size;
    }
    return size;
}

/* The peer the request came from: 192.0.2.10 unless x-fuzz-peer says otherwise. */
static const struct sockaddr *peer_of(const struct request *r, struct sockaddr_in *in4,
                                      struct sockaddr_in6 *in6)
{
    const char *p = header_cb((void *)r, "x-fuzz-peer");

    memset(in4, 0, sizeof(*in4));
    memset(in6, 0, sizeof(*in6));
    in4->sin_family = AF_INET;
    in6->sin6_family = AF_INET6;
    if (p == NULL) {
        inet_pton(AF_INET, "192.0.2.10", &in4->sin_addr);
        return (const struct sockaddr *)in4;
    }
    if (inet_pton(AF_INET, p, &in4->sin_addr) == 1) {
        return (const struct sockaddr *)in4;
    }
    if (inet_pton(AF_INET6, p, &in6->sin6_addr) == 1) {
        return (const struct sockaddr *)in6;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request r = {.n = 0};
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    size_t body = parse_headers(data, size, &r);
    struct wr_webhook_request req = {
        .header = header_cb,
        .ctx = &r,
        .peer = peer_of(&r, &in4, &in6),
        .body = data + body,
        .len = size - body,
        .now = NOW,
    };

    if (!ready) {
        setup();
    }
    for (size_t i = 0; i < NCONFIGS; i++) {
        char why[WR_ERR_MAX];
        int rc = wr_webhook_auth_verify(verifiers[i], &req, why, sizeof(why));

        if (rc != 0 && rc != 401 && rc != 403) {
            wr_fuzz_fail("wr_webhook_auth_verify: a verdict other than 0, 401 or 403");
        }
        if (rc != 0 && why[0] == '\0') {
            wr_fuzz_fail("wr_webhook_auth_verify: a refusal without a reason");
        }
        for (size_t k = 0; rc != 0 && k < sizeof(secrets) / sizeof(secrets[0]); k++) {
            if (strstr(why, secrets[k][1]) != NULL) {
                wr_fuzz_fail("wr_webhook_auth_verify: a reason holds a secret");
            }
        }
    }
    for (size_t i = 0; i < r.n; i++) {
        free(r.names[i]);
        free(r.values[i]);
    }
    return 0;
}
