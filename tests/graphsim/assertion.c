/*
 * assertion.c: registered certificates and JWT client assertion checks (see assertion.h).
 *
 * Strict on purpose: a client that signs with the wrong key, names an unregistered certificate,
 * addresses the assertion to another endpoint or lets it expire is refused here the way the
 * identity platform refuses it, so the mistake shows up in weir's tests and not in production.
 * libcrypto does the parsing, hashing and verification: PS256 (RSASSA-PSS with SHA-256, MGF1
 * SHA-256 and a 32-byte salt, RFC 7518 section 3.5; Microsoft's current page) and RS256
 * (PKCS#1 v1.5, still accepted).
 */
#include "assertion.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define MAX_EXP_AHEAD 86400.0 /* an assertion may not claim to live longer than a day */
#define NBF_SKEW      300.0   /* clocks may differ by five minutes */

struct gs_cert {
    EVP_PKEY *pub;
    char *x5t;
    char *x5t_s256;
};

/* {====== certificates ====== */

struct gs_cert *gs_cert_new(const char *pem, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    struct gs_cert *c;
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int derlen;

    BIO_free(bio);
    if (x == NULL) {
        ERR_clear_error();
        snprintf(err, errlen, "not a PEM certificate");
        return NULL;
    }
    c = gs_xcalloc(1, sizeof(*c));
    c->pub = X509_get_pubkey(x);
    derlen = i2d_X509(x, &der);
    X509_free(x);
    if (c->pub == NULL || EVP_PKEY_base_id(c->pub) != EVP_PKEY_RSA || derlen <= 0) {
        OPENSSL_free(der);
        gs_cert_free(c);
        ERR_clear_error();
        snprintf(err, errlen, "not a certificate with an RSA public key");
        return NULL;
    }
    EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha1(), NULL);
    c->x5t = gs_base64url(md, mdlen);
    EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL);
    c->x5t_s256 = gs_base64url(md, mdlen);
    OPENSSL_free(der);
    return c;
}

void gs_cert_free(struct gs_cert *c)
{
    if (c == NULL) {
        return;
    }
    EVP_PKEY_free(c->pub);
    free(c->x5t);
    free(c->x5t_s256);
    free(c);
}

const char *gs_cert_x5t(const struct gs_cert *c)
{
    return c->x5t;
}

const char *gs_cert_x5t_s256(const struct gs_cert *c)
{
    return c->x5t_s256;
}

/* }====== */

/* {====== helpers ====== */

static int b64url_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == '-') {
        return 62;
    }
    if (ch == '_') {
        return 63;
    }
    return -1;
}

/* Decodes n characters of unpadded base64url into an owned NUL-terminated buffer; NULL when the
 * text is not base64url (padding, other characters, an impossible length). */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *len)
{
    unsigned char *out;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    if (n % 4 == 1) {
        return NULL;
    }
    out = gs_xmalloc(n * 3 / 4 + 1);
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(s[i]);

        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* Decodes one JWT part and parses it as a JSON object; NULL when it is not one. */
static json_object *part_json(const char *s, size_t n)
{
    char why[128];
    size_t len = 0;
    unsigned char *raw = b64url_decode(s, n, &len);
    json_object *o;

    if (raw == NULL) {
        return NULL;
    }
    o = gs_json_parse((const char *)raw, len, why, sizeof(why));
    free(raw);
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

struct url {
    char scheme[8];
    char host[256];
    long port;
    const char *path;
};

/* Splits an absolute http(s) URL; false when it is not one. */
static bool url_parse(const char *s, struct url *u)
{
    const char *p = strstr(s, "://"), *host, *end, *colon;
    size_t n;

    memset(u, 0, sizeof(*u));
    if (p == NULL || (size_t)(p - s) >= sizeof(u->scheme)) {
        return false;
    }
    for (size_t i = 0; i < (size_t)(p - s); i++) {
        u->scheme[i] = (char)tolower((unsigned char)s[i]);
    }
    if (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0) {
        return false;
    }
    host = p + 3;
    end = host + strcspn(host, "/?#");
    colon = memchr(host, ':', (size_t)(end - host));
    n = (size_t)((colon != NULL ? colon : end) - host);
    if (n == 0 || n >= sizeof(u->host)) {
        return false;
    }
    memcpy(u->host, host, n);
    u->port = strcmp(u->scheme, "https") == 0 ? 443 : 80;
    if (colon != NULL) {
        char *stop;

        u->port = strtol(colon + 1, &stop, 10);
        if (stop != end || colon + 1 == end || u->port <= 0 || u->port > 65535) {
            return false;
        }
    }
    u->path = *end == '\0' ? "/" : end;
    return strchr(u->path, '?') == NULL && strchr(u->path, '#') == NULL;
}

static bool same_endpoint(const char *aud, const char *token_url)
{
    struct url a, t;

    return url_parse(aud, &a) && url_parse(token_url, &t) && strcmp(a.scheme, t.scheme) == 0 &&
           strcasecmp(a.host, t.host) == 0 && a.port == t.port && strcmp(a.path, t.path) == 0;
}

static bool refuse(struct gs_assertion_error *out, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool refuse(struct gs_assertion_error *out, int code, const char *fmt, ...)
{
    va_list ap;

    out->status = 401;
    out->error = "invalid_client";
    out->code = code;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return false;
}

/* An integer claim (a JSON number); false when absent or not a number. */
static bool num_claim(json_object *claims, const char *key, double *v)
{
    json_object *o;

    if (!json_object_object_get_ex(claims, key, &o) ||
        !(json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double))) {
        return false;
    }
    *v = json_object_get_double(o);
    return true;
}

/* The upper-case hex form of a base64url thumbprint, as the identity platform prints it. */
static void thumb_hex(const char *b64, char *out, size_t outlen)
{
    size_t len = 0, o = 0;
    unsigned char *raw = b64 != NULL ? b64url_decode(b64, strlen(b64), &len) : NULL;

    out[0] = '\0';
    for (size_t i = 0; raw != NULL && i < len && o + 3 <= outlen; i++) {
        o += (size_t)snprintf(out + o, outlen - o, "%02X", raw[i]);
    }
    free(raw);
}

/* }====== */

/* {====== verification ====== */

static bool check_signature(const struct gs_cert *c, const char *jwt, size_t signed_len,
                            const char *sig64, bool pss)
{
    size_t siglen = 0;
    unsigned char *sig = b64url_decode(sig64, strlen(sig64), &siglen);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = sig != NULL && md != NULL &&
              EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, c->pub) == 1 &&
              (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
                        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1)) &&
              EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, signed_len) == 1;

    EVP_MD_CTX_free(md);
    free(sig);
    ERR_clear_error();
    return ok;
}

static bool check_claims(json_object *claims, const char *client_id, const char *token_url,
                         double now, struct gs_assertion_error *out)
{
    const char *aud = gs_json_get_str(claims, "aud");
    const char *iss = gs_json_get_str(claims, "iss");
    const char *sub = gs_json_get_str(claims, "sub");
    const char *jti = gs_json_get_str(claims, "jti");
    double exp = 0, nbf = 0;
    bool has_nbf = num_claim(claims, "nbf", &nbf);
    char t_now[32], t_nbf[32], t_exp[32];

    if (aud == NULL || iss == NULL || sub == NULL || jti == NULL || jti[0] == '\0' ||
        !num_claim(claims, "exp", &exp)) {
        return refuse(out, 50027,
                      "JWT token is invalid or malformed. [Reason - the client assertion needs "
                      "the claims aud, iss, sub, jti and exp.]");
    }
    if (!same_endpoint(aud, token_url)) {
        return refuse(out, 50027,
                      "JWT token is invalid or malformed. [Reason - the audience '%.200s' is not "
                      "the token endpoint '%.200s'.]",
                      aud, token_url);
    }
    if (strcasecmp(iss, client_id) != 0 || strcasecmp(sub, client_id) != 0) {
        return refuse(out, 700021,
                      "Client assertion application identifier doesn't match 'client_id' "
                      "parameter. Review the documentation at "
                      "https://learn.microsoft.com/entra/identity-platform/"
                      "certificate-credentials .");
    }
    if (exp <= now || exp > now + MAX_EXP_AHEAD || (has_nbf && nbf > now + NBF_SKEW)) {
        gs_time_format(t_now, now, true);
        gs_time_format(t_nbf, has_nbf ? nbf : now, true);
        gs_time_format(t_exp, exp, true);
        return refuse(out, 700024,
                      "Client assertion is not within its valid time range. Current time: %s, "
                      "assertion valid from %s, expiry time of assertion %s. Review the "
                      "documentation at https://learn.microsoft.com/entra/identity-platform/"
                      "certificate-credentials .",
                      t_now, t_nbf, t_exp);
    }
    return true;
}

bool gs_assertion_check(const char *jwt, struct gs_cert *const *certs, size_t ncerts,
                        const char *client_id, const char *token_url, double now,
                        struct gs_assertion_error *out)
{
    const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    json_object *hdr = NULL, *claims = NULL;
    const char *alg, *x5t, *x5t256;
    const struct gs_cert *cert = NULL;
    char hex[80];
    bool ok = false;

    memset(out, 0, sizeof(*out));
    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot1 == jwt ||
        dot2 == dot1 + 1 || dot2[1] == '\0' ||
        (hdr = part_json(jwt, (size_t)(dot1 - jwt))) == NULL ||
        (claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL) {
        refuse(out, 50027, "JWT token is invalid or malformed.");
        goto out;
    }
    alg = gs_json_get_str(hdr, "alg");
    x5t = gs_json_get_str(hdr, "x5t");
    x5t256 = gs_json_get_str(hdr, "x5t#S256");
    if (alg == NULL || (strcmp(alg, "PS256") != 0 && strcmp(alg, "RS256") != 0)) {
        refuse(out, 50027,
               "JWT token is invalid or malformed. [Reason - the client assertion must be signed "
               "with PS256 or RS256, not '%.20s'.]",
               alg != NULL ? alg : "(none)");
        goto out;
    }
    if (x5t == NULL && x5t256 == NULL) {
        refuse(out, 50027,
               "JWT token is invalid or malformed. [Reason - the header names no certificate "
               "(x5t or x5t#S256).]");
        goto out;
    }
    for (size_t i = 0; i < ncerts && cert == NULL; i++) {
        /* Every thumbprint the header gives must name this same certificate. */
        if ((x5t == NULL || strcmp(x5t, certs[i]->x5t) == 0) &&
            (x5t256 == NULL || strcmp(x5t256, certs[i]->x5t_s256) == 0)) {
            cert = certs[i];
        }
    }
    thumb_hex(x5t != NULL ? x5t : x5t256, hex, sizeof(hex));
    if (cert == NULL) {
        refuse(out, 700027,
               "Client assertion contains an invalid signature. [Reason - The key was not found., "
               "Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph "
               "Explorer or directly use MS Graph to see configured keys for app Id '%s'.]",
               hex, client_id);
        goto out;
    }
    if (!check_signature(cert, jwt, (size_t)(dot2 - jwt), dot2 + 1, strcmp(alg, "PS256") == 0)) {
        refuse(out, 700027,
               "Client assertion contains an invalid signature. [Reason - The provided signature "
               "value did not match the expected signature value., Thumbprint of key used by "
               "client: '%s'.]",
               hex);
        goto out;
    }
    ok = check_claims(claims, client_id, token_url, now, out);
out:
    json_object_put(hdr);
    json_object_put(claims);
    return ok;
}

/* }====== */
