/*
 * webhook_auth — request verification for webhook routes; see webhook_auth.h.
 */
#include "triggers/webhook/auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/base/duration.h"
#include "engine/base/secret.h"
#include "engine/base/strutil.h"
#include "engine/net/net_guard.h"

enum auth_type {
    AUTH_NONE,
    AUTH_STANDARD,
    AUTH_GITHUB,
    AUTH_HMAC,
    AUTH_BEARER,
    AUTH_BASIC,
};

/* In enum auth_type order, from AUTH_STANDARD. */
const char *const wr_webhook_auth_types[] = {
    "standard-webhooks", "github", "hmac", "bearer", "basic", NULL};

struct wr_webhook_auth {
    enum auth_type type;
    unsigned char *key; /* the secret's bytes (standard-webhooks: base64-decoded) */
    size_t keylen;
    const EVP_MD *md; /* HMAC schemes */
    bool base64;      /* hmac: the signature is base64, else hex */
    char *header;     /* hmac: where the signature is */
    char *prefix;     /* hmac: text before the signature, or NULL */
    int64_t tolerance_s;
    struct wr_net_prefix *allow; /* allow_from, when has_allow */
    size_t nallow;
    bool has_allow;
};

/* {====== encodings ====== */

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes standard base64 (padding optional) of s[0..n) into out (cap bytes). -1 if invalid. */
static int b64_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0)) {
        return -1;
    }
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap) {
                return -1;
            }
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *outlen = o;
    return 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes hex (either case) into out (cap bytes). -1 if invalid or too long. */
static int hex_decode(const char *s, unsigned char *out, size_t cap, size_t *outlen)
{
    size_t n = strlen(s);
    if (n % 2 != 0 || n / 2 > cap) {
        return -1;
    }
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value((unsigned char)s[i]), lo = hex_value((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    *outlen = n / 2;
    return 0;
}

/* }====== */

/* {====== CIDR ====== */

/* True when the peer (AF_INET or AF_INET6; NULL is never in) lies in p (wr_net_prefix_match: an
   IPv4-mapped IPv6 peer, as a dual-stack listener shows IPv4 senders, is its IPv4 address). */
static bool peer_in(const struct wr_net_prefix *p, const struct sockaddr *sa)
{
    size_t len =
        sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return sa && wr_net_prefix_match(p, sa, len);
}

/* }====== */

/* {====== configuration ====== */

static const char *arg_string(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return NULL;
}

void wr_webhook_auth_free(struct wr_webhook_auth *a)
{
    if (!a) {
        return;
    }
    if (a->key) {
        OPENSSL_cleanse(a->key, a->keylen);
        free(a->key);
    }
    free(a->header);
    free(a->prefix);
    free(a->allow);
    free(a);
}

struct wr_webhook_auth *wr_webhook_auth_new(struct json_object *trigger_args, const char *base_dir,
                                            char *err, size_t errlen)
{
    struct wr_webhook_auth *a = wr_xcalloc(1, sizeof(*a));
    struct json_object *auth = NULL, *allow = NULL;
    char *secret = NULL;
    char rerr[WR_ERR_MAX];
    const char *ref = NULL, *secret_key = NULL;

    a->tolerance_s = WR_WEBHOOK_TOLERANCE_DEFAULT_MS / 1000;
    if (trigger_args && json_object_object_get_ex(trigger_args, "auth", &auth) &&
        json_object_is_type(auth, json_type_object)) {
        const char *type = arg_string(auth, "type");
        for (size_t i = 0; type && wr_webhook_auth_types[i]; i++) {
            if (strcmp(type, wr_webhook_auth_types[i]) == 0) {
                a->type = (enum auth_type)(AUTH_STANDARD + i);
            }
        }
        if (a->type == AUTH_NONE) {
            snprintf(err, errlen, "trigger.webhook.auth.type: unknown or missing");
            goto err;
        }
        ref = arg_string(auth, "secret");
        secret_key = "trigger.webhook.auth.secret";
        const char *tol = arg_string(auth, "tolerance");
        if (tol) {
            int64_t ms = 0;
            if (wr_duration_parse(tol, &ms, rerr, sizeof(rerr)) != 0 || ms < 1000) {
                snprintf(err, errlen, "trigger.webhook.auth.tolerance: '%s' is not a duration",
                         tol);
                goto err;
            }
            a->tolerance_s = ms / 1000;
        }
        const char *alg = arg_string(auth, "algorithm");
        a->md = alg && strcmp(alg, "sha512") == 0 ? EVP_sha512() : EVP_sha256();
        const char *enc = arg_string(auth, "encoding");
        a->base64 = enc && strcmp(enc, "base64") == 0;
        a->header = wr_xstrdup_or_null(arg_string(auth, "header"));
        a->prefix = wr_xstrdup_or_null(arg_string(auth, "prefix"));
        if (a->type == AUTH_HMAC && !a->header) {
            snprintf(err, errlen, "trigger.webhook.auth: type hmac needs 'header'");
            goto err;
        }
    } else if (trigger_args && (ref = arg_string(trigger_args, "secret")) != NULL) {
        /* The shorthand `secret: env:NAME` means standard-webhooks with that secret. */
        a->type = AUTH_STANDARD;
        a->md = EVP_sha256();
        secret_key = "trigger.webhook.secret";
    }

    if (a->type != AUTH_NONE) {
        if (!ref) {
            snprintf(err, errlen, "%s: missing", secret_key);
            goto err;
        }
        if (wr_secret_resolve(ref, base_dir, &secret, rerr, sizeof(rerr)) != 0) {
            wr_errf_marked(err, errlen, "%s: %s", secret_key, rerr);
            goto err;
        }
        size_t slen = strlen(secret);
        if (a->type == AUTH_STANDARD) {
            const char *b64 = secret;
            if (strncmp(b64, "whsec_", 6) == 0) {
                b64 += 6;
            }
            size_t n = strlen(b64);
            a->key = wr_xcalloc(n + 1, 1);
            if (b64_decode(b64, n, a->key, n + 1, &a->keylen) != 0 || a->keylen == 0) {
                snprintf(err, errlen,
                         "%s: the value (from %s) is not whsec_ followed by base64 as "
                         "standard-webhooks requires",
                         secret_key, ref);
                goto err;
            }
        } else {
            a->key = wr_xcalloc(slen + 1, 1);
            memcpy(a->key, secret, slen);
            a->keylen = slen;
        }
        if (a->type == AUTH_BASIC && !strchr(secret, ':')) {
            snprintf(err, errlen, "%s: the value (from %s) must be user:password", secret_key, ref);
            goto err;
        }
        wr_secret_free(secret);
        secret = NULL;
    }

    if (trigger_args && json_object_object_get_ex(trigger_args, "allow_from", &allow) &&
        json_object_is_type(allow, json_type_array)) {
        size_t n = json_object_array_length(allow);
        a->has_allow = true;
        a->allow = wr_xcalloc(n ? n : 1, sizeof(*a->allow));
        for (size_t i = 0; i < n; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(allow, i));
            char why[WR_ERR_MAX];
            enum wr_net_prefix_status st =
                s ? wr_net_prefix_parse(s, &a->allow[i], why, sizeof(why)) : WR_NET_PREFIX_INVALID;
            if (st == WR_NET_PREFIX_HOST_BITS) {
                wr_errf_marked(err, errlen, "trigger.webhook.allow_from[%zu]: %s", i, why);
                goto err;
            }
            if (st != WR_NET_PREFIX_OK) {
                snprintf(err, errlen, "trigger.webhook.allow_from[%zu]: '%s' is not a CIDR", i,
                         s ? s : "");
                goto err;
            }
        }
        a->nallow = n;
    }
    return a;
err:
    wr_secret_free(secret);
    wr_webhook_auth_free(a);
    return NULL;
}

/* }====== */

/* {====== verification ====== */

/* Compares two byte strings of any lengths in time independent of where they differ. */
static bool digest_equal(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    /* Hashing first hides the lengths too: a token's length says something about it. */
    unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
    unsigned la = 0, lb = 0;
    if (!EVP_Digest(a, alen, da, &la, EVP_sha256(), NULL) ||
        !EVP_Digest(b, blen, db, &lb, EVP_sha256(), NULL)) {
        return false;
    }
    return la == lb && CRYPTO_memcmp(da, db, la) == 0;
}

static bool mac_equal(const unsigned char *mac, size_t maclen, const unsigned char *sig,
                      size_t siglen)
{
    return maclen == siglen && CRYPTO_memcmp(mac, sig, maclen) == 0;
}

static int refuse(char *why, size_t whylen, int code, const char *fmt, const char *arg)
{
    snprintf(why, whylen, fmt, arg);
    return code;
}

/* A strict Unix-seconds timestamp: digits only, at most 12 of them. */
static int parse_timestamp(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 12 || strspn(s, "0123456789") != n) {
        return -1;
    }
    *out = strtoll(s, NULL, 10);
    return 0;
}

static int verify_standard(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                           char *why, size_t whylen)
{
    const char *id = r->header(r->ctx, "webhook-id");
    const char *ts = r->header(r->ctx, "webhook-timestamp");
    const char *sig = r->header(r->ctx, "webhook-signature");
    int64_t t = 0;
    if (!id || !*id || !ts || !sig) {
        return refuse(why, whylen, 401, "missing %s header",
                      !id || !*id ? "webhook-id"
                      : !ts       ? "webhook-timestamp"
                                  : "webhook-signature");
    }
    if (parse_timestamp(ts, &t) != 0) {
        return refuse(why, whylen, 401, "%s is not Unix seconds", "webhook-timestamp");
    }
    int64_t skew = r->now > t ? r->now - t : t - r->now;
    if (skew > a->tolerance_s) {
        snprintf(why, whylen, "webhook-timestamp is %lld s away from now (tolerance %lld s)",
                 (long long)skew, (long long)a->tolerance_s);
        return 401;
    }
    size_t idlen = strlen(id), tslen = strlen(ts), n = idlen + 1 + tslen + 1 + r->len;
    unsigned char *msg = malloc(n ? n : 1);
    if (!msg) {
        return refuse(why, whylen, 401, "%s", "out of memory");
    }
    memcpy(msg, id, idlen);
    msg[idlen] = '.';
    memcpy(msg + idlen + 1, ts, tslen);
    msg[idlen + 1 + tslen] = '.';
    if (r->len) {
        memcpy(msg + idlen + tslen + 2, r->body, r->len);
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    bool ok = HMAC(EVP_sha256(), a->key, (int)a->keylen, msg, n, mac, &maclen) != NULL;
    free(msg);
    if (!ok) {
        return refuse(why, whylen, 401, "%s", "HMAC failed");
    }
    /* Space-separated "v1,<base64>" entries: during a key rotation any one may be ours. */
    for (const char *p = sig; *p;) {
        while (*p == ' ') {
            p++;
        }
        size_t len = strcspn(p, " ");
        if (len > 3 && strncmp(p, "v1,", 3) == 0) {
            unsigned char got[64];
            size_t gotlen = 0;
            if (b64_decode(p + 3, len - 3, got, sizeof(got), &gotlen) == 0 &&
                mac_equal(mac, maclen, got, gotlen)) {
                return 0;
            }
        }
        p += len;
    }
    return refuse(why, whylen, 401, "%s has no valid v1 signature", "webhook-signature");
}

static int verify_body_hmac(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                            const char *header, const char *prefix, bool base64, char *why,
                            size_t whylen)
{
    const char *v = r->header(r->ctx, header);
    if (!v) {
        return refuse(why, whylen, 401, "missing %s header", header);
    }
    if (prefix) {
        size_t pl = strlen(prefix);
        if (strncmp(v, prefix, pl) != 0) {
            return refuse(why, whylen, 401, "%s does not start with the configured prefix", header);
        }
        v += pl;
    }
    unsigned char got[EVP_MAX_MD_SIZE];
    size_t gotlen = 0;
    int rc = base64 ? b64_decode(v, strlen(v), got, sizeof(got), &gotlen)
                    : hex_decode(v, got, sizeof(got), &gotlen);
    if (rc != 0) {
        return refuse(why, whylen, 401, "%s is not a well-formed signature", header);
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (!HMAC(a->md, a->key, (int)a->keylen, r->body ? r->body : (const unsigned char *)"", r->len,
              mac, &maclen)) {
        return refuse(why, whylen, 401, "%s", "HMAC failed");
    }
    if (!mac_equal(mac, maclen, got, gotlen)) {
        return refuse(why, whylen, 401, "%s does not match the body", header);
    }
    return 0;
}

static int verify_authorization(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                                const char *scheme, char *why, size_t whylen)
{
    const char *v = r->header(r->ctx, "Authorization");
    size_t sl = strlen(scheme);
    if (!v) {
        return refuse(why, whylen, 401, "missing %s header", "Authorization");
    }
    if (strncasecmp(v, scheme, sl) != 0 || v[sl] != ' ') {
        return refuse(why, whylen, 401, "Authorization is not %s", scheme);
    }
    v += sl;
    while (*v == ' ') {
        v++;
    }
    bool ok;
    if (a->type == AUTH_BASIC) {
        size_t n = strlen(v), gotlen = 0;
        unsigned char *got = wr_xcalloc(n + 1, 1);
        ok = b64_decode(v, n, got, n + 1, &gotlen) == 0 &&
             digest_equal(got, gotlen, a->key, a->keylen);
        OPENSSL_cleanse(got, n + 1);
        free(got);
    } else {
        ok = digest_equal((const unsigned char *)v, strlen(v), a->key, a->keylen);
    }
    if (!ok) {
        return refuse(why, whylen, 401, "wrong %s credentials", scheme);
    }
    return 0;
}

int wr_webhook_auth_verify(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                           char *why, size_t whylen)
{
    if (why && whylen) {
        why[0] = '\0';
    }
    if (a->has_allow) {
        bool in = false;
        for (size_t i = 0; i < a->nallow && !in; i++) {
            in = peer_in(&a->allow[i], r->peer);
        }
        if (!in) {
            return refuse(why, whylen, 403, "%s", "the peer address is not in allow_from");
        }
    }
    switch (a->type) {
    case AUTH_NONE:
        return 0;
    case AUTH_STANDARD:
        return verify_standard(a, r, why, whylen);
    case AUTH_GITHUB:
        return verify_body_hmac(a, r, "X-Hub-Signature-256", "sha256=", false, why, whylen);
    case AUTH_HMAC:
        return verify_body_hmac(a, r, a->header, a->prefix, a->base64, why, whylen);
    case AUTH_BEARER:
        return verify_authorization(a, r, "Bearer", why, whylen);
    case AUTH_BASIC:
        return verify_authorization(a, r, "Basic", why, whylen);
    }
    return 401;
}

/* }====== */
