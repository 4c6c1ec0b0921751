/*
 * webhook_auth — verifying who sent a webhook request: a signature or credential in its
 * headers (standard-webhooks, github, an hmac recipe, bearer, basic, or a vendor's preset from
 * triggers/webhook/preset) and the peer address (allow_from). A secret may be a list (a key
 * rotation): any one of its keys may match.
 *
 * A route's `auth:` and `allow_from:` are read once from its workflow's trigger arguments
 * (already checked at load by webhook.c) and the secret is resolved then, so a request only
 * computes and compares. Verification works on the raw body bytes, before any JSON parsing.
 * This module neither logs nor answers: it returns a verdict and a reason that names what was
 * wrong without any secret, signature or token value. It knows nothing of evhttp: headers come
 * through a lookup callback, so the unit tests drive it directly.
 */
#ifndef WR_WEBHOOK_AUTH_H
#define WR_WEBHOOK_AUTH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* standard-webhooks' `tolerance` when none is given. */
#define WR_WEBHOOK_TOLERANCE_DEFAULT_MS (5 * 60 * 1000)

/* The `type:` values under `auth:` (NULL-terminated, for the argument table): the generic
   types, then the presets. */
extern const char *const wr_webhook_auth_types[];

struct wr_webhook_auth;
struct wr_webhook_preset;

/*
 * Reads `auth:`, the `secret:` shorthand (standard-webhooks) and `allow_from:` (networks in
 * wr_net_prefix_parse's syntax, engine/net/net_guard.h) from a webhook trigger's arguments
 * (borrowed) and resolves the secret (relative file: paths against base_dir). Returns an owned
 * verifier, which accepts everything when neither is configured, or NULL with a message in err that
 * names the key, never the secret.
 */
struct wr_webhook_auth *wr_webhook_auth_new(struct json_object *trigger_args, const char *base_dir,
                                            char *err, size_t errlen);

/* Overwrites the secret and frees. NULL is fine. */
void wr_webhook_auth_free(struct wr_webhook_auth *a);

/* A request header by name (case-insensitive), or NULL when absent. */
typedef const char *(*wr_webhook_header_fn)(void *ctx, const char *name);

/* What verification needs of one request; everything borrowed. */
struct wr_webhook_request {
    wr_webhook_header_fn header;
    void *ctx;                   /* passed to header */
    const struct sockaddr *peer; /* NULL when unknown: refused whenever allow_from is set */
    const char *method;          /* "POST", ...: an hmac recipe may sign it */
    const char *path;            /* the request target's path, without the query */
    const unsigned char *body;   /* the raw body bytes */
    size_t len;
    int64_t now; /* Unix seconds, injectable for tests */
};

/*
 * Verifies r against a. Returns 0 when allowed, 403 when the peer is outside allow_from, 401
 * when the credential or signature is missing or wrong; on refusal a reason (no secret or
 * signature values in it) is written to why.
 */
int wr_webhook_auth_verify(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                           char *why, size_t whylen);

/* The vendor preset a verifies by (borrowed, static), or NULL for a generic type or NULL a. */
const struct wr_webhook_preset *wr_webhook_auth_preset(const struct wr_webhook_auth *a);

/* True when value (borrowed) equals one of a's secrets, compared in constant time: a pending
   verification token that the admin has since configured is no longer pending. */
bool wr_webhook_auth_is_key(const struct wr_webhook_auth *a, const char *value);

/*
 * Classifies one `signed:` part: 0 body, 1 method, 2 path, 3 header:NAME, 4 text:LITERAL; -1
 * with the reason (and a suggestion) in why when s is none of them. For the loader's checks.
 */
int wr_webhook_signed_part(const char *s, char *why, size_t whylen);

#endif
