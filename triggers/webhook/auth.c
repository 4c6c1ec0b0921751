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
#include "engine/base/timestamp.h"
#include "engine/net/net_guard.h"
#include "triggers/webhook/preset.h"

enum auth_type {
    AUTH_NONE,
    AUTH_STANDARD,
    AUTH_GITHUB,
    AUTH_HMAC,
    AUTH_BEARER,
    AUTH_BASIC,
};

/* The generic types, in enum auth_type order from AUTH_STANDARD, then the presets
   (triggers/webhook/preset.c), which expand to one of them. */
const char *const wr_webhook_auth_types[] = {
    "standard-webhooks", "github",  "hmac",  "bearer", "basic",
    "bamboohr",          "hibob",   "gusto", "deel",   "rippling",
    "successfactors",    "workday", NULL};
#define GENERIC_TYPES 5

/* One piece of what an hmac recipe signs (`signed:`). */
enum part_kind { PART_BODY, PART_METHOD, PART_PATH, PART_HEADER, PART_TEXT };
struct part {
    enum part_kind kind;
    char *arg; /* PART_HEADER: the name; PART_TEXT: the text */
};

enum ts_format { TS_UNIX, TS_UNIX_MS, TS_ISO8601 };

/* One secret's bytes (standard-webhooks: base64-decoded). */
struct key {
    unsigned char *bytes;
    size_t len;
};

struct wr_webhook_auth {
    enum auth_type type;
    const struct wr_webhook_preset *preset; /* NULL for a generic type */
    struct key *keys;                       /* a rotation holds several; any one may match */
    size_t nkeys;
    const EVP_MD *md;   /* HMAC schemes */
    bool base64;        /* hmac: the signature is base64, else hex */
    char *header;       /* hmac: where the signature is */
    char *prefix;       /* hmac: text before the signature, or NULL */
    struct part *parts; /* hmac: what is signed, in order */
    size_t nparts;
    char *ts_header; /* hmac: the timestamp's header, or NULL for none */
    enum ts_format ts_format;
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
    for (size_t i = 0; i < a->nkeys; i++) {
        OPENSSL_cleanse(a->keys[i].bytes, a->keys[i].len);
        free(a->keys[i].bytes);
    }
    free(a->keys);
    for (size_t i = 0; i < a->nparts; i++) {
        free(a->parts[i].arg);
    }
    free(a->parts);
    free(a->header);
    free(a->prefix);
    free(a->ts_header);
    free(a->allow);
    free(a);
}

int wr_webhook_signed_part(const char *s, char *why, size_t whylen)
{
    static const char *const words[] = {"body", "method", "path", NULL};
    for (size_t i = 0; words[i]; i++) {
        if (strcmp(s, words[i]) == 0) {
            return (int)i;
        }
    }
    if (strncmp(s, "header:", 7) == 0 && s[7] && !strpbrk(s + 7, " :\t\r\n")) {
        return PART_HEADER;
    }
    if (strncmp(s, "text:", 5) == 0) {
        return PART_TEXT;
    }
    const char *sug = wr_suggest(s, words);
    if (sug) {
        snprintf(why, whylen,
                 "'%.*s' is not a part of a signature: body, method, path, header:NAME or "
                 "text:LITERAL (did you mean '%s'?)",
                 wr_utf8_prec(s, 60), s, sug);
    } else {
        snprintf(why, whylen,
                 "'%.*s' is not a part of a signature: body, method, path, header:NAME or "
                 "text:LITERAL (for the literal text, write text:%.*s)",
                 wr_utf8_prec(s, 60), s, wr_utf8_prec(s, 60), s);
    }
    return -1;
}

/* Reads the parts of a `signed:` list (strings, checked at load) into a. */
static int parts_read(struct wr_webhook_auth *a, const char *const *words, size_t n, char *err,
                      size_t errlen)
{
    a->parts = wr_xcalloc(n ? n : 1, sizeof(*a->parts));
    for (size_t i = 0; i < n; i++) {
        char why[WR_ERR_MAX];
        int k = wr_webhook_signed_part(words[i], why, sizeof(why));
        if (k < 0) {
            snprintf(err, errlen, "trigger.webhook.auth.signed[%zu]: %s", i, why);
            return -1;
        }
        a->parts[i].kind = (enum part_kind)k;
        a->parts[i].arg = k == PART_HEADER ? wr_xstrdup(words[i] + 7)
                          : k == PART_TEXT ? wr_xstrdup(words[i] + 5)
                                           : NULL;
        a->nparts++;
    }
    return 0;
}

static int ts_format_read(const char *s, enum ts_format *out)
{
    static const char *const names[] = {"unix", "unix_ms", "iso8601", NULL};
    for (size_t i = 0; names[i]; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = (enum ts_format)i;
            return 0;
        }
    }
    return -1;
}

/* Reads the recipe of a preset or of `type: hmac` (the keys under auth) into a. */
static int recipe_read(struct wr_webhook_auth *a, struct json_object *auth, char *err,
                       size_t errlen)
{
    const struct wr_webhook_preset *p = a->preset;
    const char *alg = p ? p->algorithm : arg_string(auth, "algorithm");
    const char *enc = p ? p->encoding : arg_string(auth, "encoding");
    a->md = alg && strcmp(alg, "sha512") == 0 ? EVP_sha512() : EVP_sha256();
    a->base64 = enc && strcmp(enc, "base64") == 0;
    a->header = wr_xstrdup_or_null(p ? p->header : arg_string(auth, "header"));
    a->prefix = wr_xstrdup_or_null(p ? NULL : arg_string(auth, "prefix"));
    if (!a->header) {
        snprintf(err, errlen, "trigger.webhook.auth: type hmac needs 'header'");
        return -1;
    }
    if (p) {
        size_t n = 0;
        while (p->signed_parts[n]) {
            n++;
        }
        if (parts_read(a, p->signed_parts, n, err, errlen) != 0) {
            return -1;
        }
        a->ts_header = wr_xstrdup_or_null(p->timestamp_header);
        if (p->timestamp_format) {
            ts_format_read(p->timestamp_format, &a->ts_format);
        }
        return 0;
    }
    struct json_object *sig = NULL, *ts = NULL;
    if (json_object_object_get_ex(auth, "signed", &sig) &&
        json_object_is_type(sig, json_type_array)) {
        size_t n = json_object_array_length(sig);
        const char **words = wr_xcalloc(n ? n : 1, sizeof(*words));
        for (size_t i = 0; i < n; i++) {
            words[i] = json_object_get_string(json_object_array_get_idx(sig, i));
        }
        int rc = parts_read(a, words, n, err, errlen);
        free(words);
        if (rc != 0) {
            return -1;
        }
    } else {
        static const char *const body[] = {"body"};
        parts_read(a, body, 1, err, errlen);
    }
    if (json_object_object_get_ex(auth, "timestamp", &ts) &&
        json_object_is_type(ts, json_type_object)) {
        a->ts_header = wr_xstrdup_or_null(arg_string(ts, "header"));
        const char *fmt = arg_string(ts, "format");
        if (!a->ts_header || (fmt && ts_format_read(fmt, &a->ts_format) != 0)) {
            snprintf(err, errlen,
                     "trigger.webhook.auth.timestamp: needs 'header' and a format "
                     "of unix, unix_ms or iso8601");
            return -1;
        }
        const char *tol = arg_string(ts, "tolerance");
        if (tol) {
            int64_t ms = 0;
            char rerr[WR_ERR_MAX];
            if (wr_duration_parse(tol, &ms, rerr, sizeof(rerr)) != 0 || ms < 1000) {
                snprintf(err, errlen,
                         "trigger.webhook.auth.timestamp.tolerance: '%s' is not a duration", tol);
                return -1;
            }
            a->tolerance_s = ms / 1000;
        }
    }
    return 0;
}

/* Resolves one secret reference into a's next key. */
static int key_add(struct wr_webhook_auth *a, const char *ref, const char *key_path,
                   const char *base_dir, char *err, size_t errlen)
{
    char rerr[WR_ERR_MAX];
    char *secret = NULL;
    if (wr_secret_resolve(ref, base_dir, &secret, rerr, sizeof(rerr)) != 0) {
        wr_errf_marked(err, errlen, "%s: %s", key_path, rerr);
        return -1;
    }
    size_t slen = strlen(secret);
    struct key k = {0};
    int rc = 0;
    if (a->type == AUTH_STANDARD) {
        const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
        size_t n = strlen(b64);
        k.bytes = wr_xcalloc(n + 1, 1);
        if (b64_decode(b64, n, k.bytes, n + 1, &k.len) != 0 || k.len == 0) {
            snprintf(err, errlen,
                     "%s: the value (from %s) is not whsec_ followed by base64 as "
                     "standard-webhooks requires",
                     key_path, ref);
            rc = -1;
        }
    } else {
        k.bytes = wr_xcalloc(slen + 1, 1);
        memcpy(k.bytes, secret, slen);
        k.len = slen;
        if (a->type == AUTH_BASIC && !strchr(secret, ':')) {
            snprintf(err, errlen, "%s: the value (from %s) must be user:password", key_path, ref);
            rc = -1;
        }
    }
    wr_secret_free(secret);
    if (rc != 0) {
        OPENSSL_cleanse(k.bytes, k.len);
        free(k.bytes);
        return -1;
    }
    a->keys = wr_xrealloc(a->keys, (a->nkeys + 1) * sizeof(*a->keys));
    a->keys[a->nkeys++] = k;
    return 0;
}

/* Resolves `secret:` (one reference or a list of them) into a's keys. */
static int keys_read(struct wr_webhook_auth *a, struct json_object *secret, const char *key_path,
                     const char *base_dir, char *err, size_t errlen)
{
    if (json_object_is_type(secret, json_type_string)) {
        return key_add(a, json_object_get_string(secret), key_path, base_dir, err, errlen);
    }
    size_t n = json_object_is_type(secret, json_type_array) ? json_object_array_length(secret) : 0;
    if (n == 0) {
        snprintf(err, errlen, "%s: missing", key_path);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(secret, i);
        char *p = wr_xasprintf("%s[%zu]", key_path, i);
        int rc = json_object_is_type(e, json_type_string)
                     ? key_add(a, json_object_get_string(e), p, base_dir, err, errlen)
                     : (snprintf(err, errlen, "%s: not env:NAME or file:PATH", p), -1);
        free(p);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

struct wr_webhook_auth *wr_webhook_auth_new(struct json_object *trigger_args, const char *base_dir,
                                            char *err, size_t errlen)
{
    struct wr_webhook_auth *a = wr_xcalloc(1, sizeof(*a));
    struct json_object *auth = NULL, *allow = NULL, *secret = NULL;
    char rerr[WR_ERR_MAX];
    const char *secret_key = NULL;

    a->tolerance_s = WR_WEBHOOK_TOLERANCE_DEFAULT_MS / 1000;
    if (trigger_args && json_object_object_get_ex(trigger_args, "auth", &auth) &&
        json_object_is_type(auth, json_type_object)) {
        const char *type = arg_string(auth, "type");
        a->preset = wr_webhook_preset_find(type);
        const char *generic = a->preset ? a->preset->scheme : type;
        for (size_t i = 0; generic && i < GENERIC_TYPES; i++) {
            if (strcmp(generic, wr_webhook_auth_types[i]) == 0) {
                a->type = (enum auth_type)(AUTH_STANDARD + i);
            }
        }
        if (a->type == AUTH_NONE) {
            snprintf(err, errlen, "trigger.webhook.auth.type: unknown or missing");
            goto err;
        }
        json_object_object_get_ex(auth, "secret", &secret);
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
        if (a->type == AUTH_HMAC && recipe_read(a, auth, err, errlen) != 0) {
            goto err;
        }
    } else if (trigger_args && json_object_object_get_ex(trigger_args, "secret", &secret)) {
        /* The shorthand `secret: env:NAME` means standard-webhooks with that secret. */
        a->type = AUTH_STANDARD;
        a->md = EVP_sha256();
        secret_key = "trigger.webhook.secret";
    }

    if (a->type != AUTH_NONE) {
        if (!secret) {
            snprintf(err, errlen, "%s: missing", secret_key);
            goto err;
        }
        if (keys_read(a, secret, secret_key, base_dir, err, errlen) != 0) {
            goto err;
        }
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
    wr_webhook_auth_free(a);
    return NULL;
}

const struct wr_webhook_preset *wr_webhook_auth_preset(const struct wr_webhook_auth *a)
{
    return a ? a->preset : NULL;
}

bool wr_webhook_auth_is_key(const struct wr_webhook_auth *a, const char *value)
{
    bool hit = false;
    for (size_t i = 0; a && value && i < a->nkeys; i++) {
        hit |= digest_equal(a->keys[i].bytes, a->keys[i].len, (const unsigned char *)value,
                            strlen(value));
    }
    return hit;
}

/* }====== */

/* {====== verification ====== */

static int refuse(char *why, size_t whylen, int code, const char *fmt, const char *arg)
{
    snprintf(why, whylen, fmt, arg);
    return code;
}

/* A strict Unix timestamp: digits only, at most max of them. */
static int parse_digits(const char *s, size_t max, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || strspn(s, "0123456789") != n) {
        return -1;
    }
    *out = strtoll(s, NULL, 10);
    return 0;
}

/* Refuses (401, reason in why) a timestamp more than tolerance_s away from now. */
static int check_skew(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                      const char *header, int64_t t, char *why, size_t whylen)
{
    int64_t skew = r->now > t ? r->now - t : t - r->now;
    if (skew > a->tolerance_s) {
        snprintf(why, whylen, "%s is %lld s away from now (tolerance %lld s)", header,
                 (long long)skew, (long long)a->tolerance_s);
        return 401;
    }
    return 0;
}

/* HMAC of msg[0..n) under k into mac; false when OpenSSL failed. */
static bool hmac_of(const EVP_MD *md, const struct key *k, const char *msg, size_t n,
                    unsigned char *mac, unsigned *maclen)
{
    return HMAC(md, k->bytes, (int)k->len, (const unsigned char *)(msg ? msg : ""), n, mac,
                maclen) != NULL;
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
    if (parse_digits(ts, 12, &t) != 0) {
        return refuse(why, whylen, 401, "%s is not Unix seconds", "webhook-timestamp");
    }
    if (check_skew(a, r, "webhook-timestamp", t, why, whylen) != 0) {
        return 401;
    }
    struct wr_buf msg = {0};
    wr_buf_addf(&msg, "%s.%s.", id, ts);
    wr_buf_addn(&msg, (const char *)r->body, r->len);
    /* Space-separated "v1,<base64>" entries: during a rotation on either side any one
       signature may be made with any one of our keys. */
    bool ok = false;
    for (size_t i = 0; i < a->nkeys && !ok; i++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned maclen = 0;
        if (!hmac_of(EVP_sha256(), &a->keys[i], msg.data, msg.len, mac, &maclen)) {
            break;
        }
        for (const char *p = sig; *p && !ok;) {
            while (*p == ' ') {
                p++;
            }
            size_t len = strcspn(p, " ");
            if (len > 3 && strncmp(p, "v1,", 3) == 0) {
                unsigned char got[64];
                size_t gotlen = 0;
                ok = b64_decode(p + 3, len - 3, got, sizeof(got), &gotlen) == 0 &&
                     mac_equal(mac, maclen, got, gotlen);
            }
            p += len;
        }
    }
    wr_buf_free(&msg);
    if (!ok) {
        return refuse(why, whylen, 401, "%s has no valid v1 signature", "webhook-signature");
    }
    return 0;
}

/* Checks the recipe's timestamp header: present, well-formed, within the tolerance. */
static int recipe_timestamp(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                            char *why, size_t whylen)
{
    const char *v = r->header(r->ctx, a->ts_header);
    int64_t t = 0;
    if (!v || !*v) {
        return refuse(why, whylen, 401, "missing %s header", a->ts_header);
    }
    bool ok = false;
    if (a->ts_format == TS_UNIX) {
        ok = parse_digits(v, 12, &t) == 0;
    } else if (a->ts_format == TS_UNIX_MS) {
        ok = parse_digits(v, 15, &t) == 0;
        t /= 1000;
    } else {
        int32_t ns = 0;
        char perr[WR_ERR_MAX];
        /* A whole instant with its zone: a date alone says no moment. */
        ok = strlen(v) > 19 && wr_timestamp_parse(v, strlen(v), &t, &ns, perr) == 0;
    }
    if (!ok) {
        static const char *const what[] = {"Unix seconds", "Unix milliseconds",
                                           "an ISO-8601 instant"};
        snprintf(why, whylen, "%s is not %s", a->ts_header, what[a->ts_format]);
        return 401;
    }
    return check_skew(a, r, a->ts_header, t, why, whylen);
}

/* Appends what an hmac recipe signs to msg; 401 (refused) when a signed header is missing. */
static int recipe_message(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                          struct wr_buf *msg, char *why, size_t whylen)
{
    for (size_t i = 0; i < a->nparts; i++) {
        const struct part *p = &a->parts[i];
        const char *v = NULL;
        switch (p->kind) {
        case PART_BODY:
            wr_buf_addn(msg, (const char *)r->body, r->len);
            continue;
        case PART_METHOD:
            v = r->method ? r->method : "";
            break;
        case PART_PATH:
            v = r->path ? r->path : "";
            break;
        case PART_TEXT:
            v = p->arg;
            break;
        case PART_HEADER:
            v = r->header(r->ctx, p->arg);
            if (!v) {
                return refuse(why, whylen, 401, "missing %s header", p->arg);
            }
            break;
        }
        wr_buf_add(msg, v);
    }
    return 0;
}

static int verify_hmac(const struct wr_webhook_auth *a, const struct wr_webhook_request *r,
                       char *why, size_t whylen)
{
    const char *v = r->header(r->ctx, a->header);
    if (!v) {
        return refuse(why, whylen, 401, "missing %s header", a->header);
    }
    if (a->prefix) {
        size_t pl = strlen(a->prefix);
        if (strncmp(v, a->prefix, pl) != 0) {
            return refuse(why, whylen, 401, "%s does not start with the configured prefix",
                          a->header);
        }
        v += pl;
    }
    unsigned char got[EVP_MAX_MD_SIZE];
    size_t gotlen = 0;
    int rc = a->base64 ? b64_decode(v, strlen(v), got, sizeof(got), &gotlen)
                       : hex_decode(v, got, sizeof(got), &gotlen);
    if (rc != 0) {
        return refuse(why, whylen, 401, "%s is not a well-formed signature", a->header);
    }
    if (a->ts_header && recipe_timestamp(a, r, why, whylen) != 0) {
        return 401;
    }
    struct wr_buf msg = {0};
    if (recipe_message(a, r, &msg, why, whylen) != 0) {
        wr_buf_free(&msg);
        return 401;
    }
    bool ok = false;
    for (size_t i = 0; i < a->nkeys && !ok; i++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned maclen = 0;
        if (!hmac_of(a->md, &a->keys[i], msg.data, msg.len, mac, &maclen)) {
            break;
        }
        ok = mac_equal(mac, maclen, got, gotlen);
    }
    wr_buf_free(&msg);
    if (!ok) {
        return refuse(why, whylen, 401, "%s does not match the signed content", a->header);
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
    size_t n = strlen(v), gotlen = n;
    unsigned char *got = wr_xcalloc(n + 1, 1);
    bool ok = true;
    if (a->type == AUTH_BASIC) {
        ok = b64_decode(v, n, got, n + 1, &gotlen) == 0;
    } else {
        memcpy(got, v, n);
    }
    bool hit = false;
    for (size_t i = 0; ok && i < a->nkeys; i++) {
        hit |= digest_equal(got, gotlen, a->keys[i].bytes, a->keys[i].len);
    }
    OPENSSL_cleanse(got, n + 1);
    free(got);
    if (!hit) {
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
    case AUTH_GITHUB: {
        /* github is the recipe {header X-Hub-Signature-256, prefix sha256=, signed [body]}. */
        struct part body = {.kind = PART_BODY};
        struct wr_webhook_auth gh = *a;
        gh.md = EVP_sha256();
        gh.base64 = false;
        gh.header = "X-Hub-Signature-256";
        gh.prefix = "sha256=";
        gh.parts = &body;
        gh.nparts = 1;
        gh.ts_header = NULL;
        return verify_hmac(&gh, r, why, whylen);
    }
    case AUTH_HMAC:
        return verify_hmac(a, r, why, whylen);
    case AUTH_BEARER:
        return verify_authorization(a, r, "Bearer", why, whylen);
    case AUTH_BASIC:
        return verify_authorization(a, r, "Basic", why, whylen);
    }
    return 401;
}

/* }====== */
