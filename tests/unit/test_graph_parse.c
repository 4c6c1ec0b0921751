/*
 * test_graph_parse — unit tests for the pure parts of engine/graph/graph: Retry-After parsing
 * (delta-seconds, fractional seconds, HTTP-dates in the past and future, garbage, caps),
 * percent-encoding with wr_graph_escape, base64url, and the certificate credential: the JWT
 * client assertion's header, claims and RS256 signature, and the keys it refuses (not RSA,
 * not the certificate's, not PEM) with messages that hold no key material. Also the readers of
 * engine/graph/graph_parse: whole-buffer JSON, token answers, Graph error envelopes, the
 * Retry-After of $batch items and $batch answers (ids out of order, unknown, repeated or
 * malformed). The token scope of each cloud, the throttling scope of a 429, how an answer is
 * described in messages, and a table of unusable 2xx answers (empty, 202, not JSON, truncated, JSON
 * of the wrong shape, an id missing or not a string) run through every reader of Graph answers:
 * none may crash or pass one off as a success. And the path of a user whose UPN starts with '$'.
 *
 * No network and no event loop: tests/e2e/test_graph_client.c drives the client itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"

/* 2024-01-01T00:00:00Z in Unix epoch ms: a fixed "now" for every date test. */
#define NOW_MS 1704067200000LL
#define DAY_MS (24LL * 3600 * 1000)

static void test_delta_seconds(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("0", NOW_MS), 0);
    assert_int_equal(wr_graph_parse_retry_after("1", NOW_MS), 1000);
    assert_int_equal(wr_graph_parse_retry_after("120", NOW_MS), 120000);
    assert_int_equal(wr_graph_parse_retry_after(" 7 ", NOW_MS), 7000);
    assert_int_equal(wr_graph_parse_retry_after("7\t", NOW_MS), 7000);
}

static void test_fractional_seconds(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("1.250", NOW_MS), 1250);
    assert_int_equal(wr_graph_parse_retry_after("2.128", NOW_MS), 2128);
    assert_int_equal(wr_graph_parse_retry_after("0.5", NOW_MS), 500);
    assert_int_equal(wr_graph_parse_retry_after("0.000", NOW_MS), 0);
    /* Below a millisecond rounds up: a retry is never sent early. */
    assert_int_equal(wr_graph_parse_retry_after("1.2501", NOW_MS), 1251);
    assert_int_equal(wr_graph_parse_retry_after("1.2500", NOW_MS), 1250);
}

static void test_http_dates(void **state)
{
    (void)state;
    /* In the past, and exactly now: no wait. */
    assert_int_equal(wr_graph_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW_MS), 0);
    assert_int_equal(wr_graph_parse_retry_after("Mon, 01 Jan 2024 00:00:00 GMT", NOW_MS), 0);
    /* In the future: IMF-fixdate, RFC 850 and asctime forms. */
    assert_int_equal(wr_graph_parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", NOW_MS), 30000);
    assert_int_equal(wr_graph_parse_retry_after("Monday, 01-Jan-24 00:01:00 GMT", NOW_MS), 60000);
    assert_int_equal(wr_graph_parse_retry_after("Mon Jan  1 00:00:02 2024", NOW_MS), 2000);
    /* Relative to now_ms, which need not be a whole second. */
    assert_int_equal(wr_graph_parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", NOW_MS + 250),
                     29750);
}

static void test_garbage(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after(NULL, NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("   ", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("soon", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("12abc", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("1.", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after(".5", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("1.2.3", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("1 2", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("0x10", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("+5", NOW_MS), -1);
}

static void test_negative(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("-1", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after("-0.5", NOW_MS), -1);
    assert_int_equal(wr_graph_parse_retry_after(" -30", NOW_MS), -1);
}

static void test_huge_values_capped(void **state)
{
    (void)state;
    assert_int_equal(wr_graph_parse_retry_after("86400", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("86401", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("99999999999999999999999999999", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("99999999999999999999.999", NOW_MS), DAY_MS);
    assert_int_equal(wr_graph_parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", NOW_MS), DAY_MS);
    /* Years so far off that their milliseconds overflow (found by fuzz_retry_after). */
    assert_int_equal(wr_graph_parse_retry_after("F1Jan2100644444", NOW_MS), DAY_MS);
}

static void escape_is(const char *in, const char *want)
{
    char *got = wr_graph_escape(in);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_escape(void **state)
{
    (void)state;
    escape_is("", "");
    escape_is("abcXYZ019-._~", "abcXYZ019-._~");
    escape_is("adele.vance@contoso.onmicrosoft.com", "adele.vance%40contoso.onmicrosoft.com");
    escape_is("a b/c?d&e=f#g", "a%20b%2Fc%3Fd%26e%3Df%23g");
    escape_is("O'Brien", "O%27Brien");
    escape_is("100%", "100%25");
    escape_is("$filter+x", "%24filter%2Bx");
    escape_is("Zoë", "Zo%C3%AB");
    assert_null(wr_graph_escape(NULL));
}

/* {====== base64url and client assertions ====== */

static void b64_is(const char *in, size_t len, const char *want)
{
    char *got = wr_graph_base64url(in, len);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_base64url(void **state)
{
    (void)state;
    /* RFC 4648 section 10 vectors, without the padding. */
    b64_is("", 0, "");
    b64_is("f", 1, "Zg");
    b64_is("fo", 2, "Zm8");
    b64_is("foo", 3, "Zm9v");
    b64_is("foob", 4, "Zm9vYg");
    b64_is("fooba", 5, "Zm9vYmE");
    b64_is("foobar", 6, "Zm9vYmFy");
    /* The two characters that differ from base64: '-' for '+', '_' for '/'. */
    b64_is("\xfb\xff", 2, "-_8");
    b64_is("\xff\xff\xff", 3, "____");
    b64_is("\0\0\0", 3, "AAAA");
    b64_is("{\"alg\":\"RS256\"}", 15, "eyJhbGciOiJSUzI1NiJ9");
}

/* Decodes base64url (owned, NUL-terminated) through libcrypto's base64 decoder. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *len)
{
    size_t padded = n + (4 - n % 4) % 4;
    char *std = calloc(1, padded + 1);
    unsigned char *out = calloc(1, padded + 1);
    int got;

    assert_non_null(std);
    assert_non_null(out);
    for (size_t i = 0; i < padded; i++) {
        std[i] = i >= n ? '=' : s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    }
    got = EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded);
    assert_true(got >= 0);
    *len = (size_t)got - (padded - n); /* EVP_DecodeBlock counts the padding as zero bytes */
    free(std);
    return out;
}

static struct json_object *part_json(const char *s, size_t n)
{
    size_t len;
    unsigned char *raw = b64url_decode(s, n, &len);
    struct json_object *o = json_tokener_parse((const char *)raw);

    free(raw);
    assert_non_null(o);
    return o;
}

static char *bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = calloc(1, (size_t)n + 1);

    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    return s;
}

static char *key_pem(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s;

    assert_int_equal(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    s = bio_text(b);
    BIO_free(b);
    return s;
}

/* A one-day self-signed certificate for key, as PEM; its DER goes to *der (owned). */
static char *cert_pem(EVP_PKEY *key, unsigned char **der, int *derlen)
{
    X509 *x = X509_new();
    BIO *b = BIO_new(BIO_s_mem());
    char *s;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"weir-test", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    s = bio_text(b);
    if (der != NULL) {
        *der = NULL;
        *derlen = i2d_X509(x, der);
        assert_true(*derlen > 0);
    }
    BIO_free(b);
    X509_free(x);
    return s;
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static char *digest_b64(const unsigned char *der, int derlen, const EVP_MD *md)
{
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(der, (size_t)derlen, buf, &n, md, NULL), 1);
    return wr_graph_base64url(buf, n);
}

/* Whether sig is a PS256 signature of data[0..len) by key (md is reset and reused). */
static bool pss_verify(EVP_MD_CTX *md, EVP_PKEY *key, const unsigned char *sig, size_t siglen,
                       const char *data, size_t len)
{
    EVP_PKEY_CTX *pctx = NULL;

    EVP_MD_CTX_reset(md);
    assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
    return EVP_DigestVerify(md, sig, siglen, (const unsigned char *)data, len) == 1;
}

#define AUD "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
#define APP "00000000-0000-0000-0000-000000000001"

static void test_client_assertion(void **state)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    unsigned char *der = NULL;
    int derlen = 0;
    char *cert = cert_pem(key, &der, &derlen), *kp = key_pem(key), err[WR_ERR_MAX] = "";
    char *x5t = digest_b64(der, derlen, EVP_sha1()), *s256 = digest_b64(der, derlen, EVP_sha256());
    struct wr_graph_cert *c = wr_graph_cert_new(cert, kp, err, sizeof(err));
    char *jwt, *jwt2, *dot1, *dot2;
    struct json_object *hdr, *claims, *claims2;
    unsigned char *sig;
    size_t siglen;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    (void)state;
    if (c == NULL) {
        fail_msg("wr_graph_cert_new: %s", err);
    }
    jwt = wr_graph_cert_assertion(c, AUD, APP, 1704067200);
    assert_non_null(jwt);
    /* Three base64url parts, nothing else: no padding, no '+' or '/'. */
    assert_int_equal(
        strspn(jwt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
        strlen(jwt));
    dot1 = strchr(jwt, '.');
    assert_non_null(dot1);
    dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));

    /* Microsoft's current certificate-credentials page: PS256 with x5t#S256 (no SHA-1 x5t). */
    hdr = part_json(jwt, (size_t)(dot1 - jwt));
    assert_int_equal(json_object_object_length(hdr), 3);
    assert_string_equal(jstr(hdr, "alg"), "PS256");
    assert_string_equal(jstr(hdr, "typ"), "JWT");
    assert_false(json_object_object_get_ex(hdr, "x5t", NULL));
    assert_string_equal(jstr(hdr, "x5t#S256"), s256);
    assert_int_equal(strlen(x5t), 27);  /* 20 bytes */
    assert_int_equal(strlen(s256), 43); /* 32 bytes */

    claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    assert_int_equal(json_object_object_length(claims), 7);
    assert_string_equal(jstr(claims, "aud"), AUD);
    assert_string_equal(jstr(claims, "iss"), APP);
    assert_string_equal(jstr(claims, "sub"), APP);
    assert_int_equal(strlen(jstr(claims, "jti")), 36);
    assert_int_equal(jstr(claims, "jti")[14], '4'); /* a version-4 GUID */
    assert_int_equal(jint(claims, "nbf"), 1704067200);
    assert_int_equal(jint(claims, "iat"), 1704067200);
    assert_int_equal(jint(claims, "exp"), 1704067200 + 600);

    /* PS256 (RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt) over "header.claims" verifies
     * with the certificate's public key... */
    sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    assert_int_equal(siglen, 256);
    assert_true(pss_verify(md, key, sig, siglen, jwt, (size_t)(dot2 - jwt)));
    /* ...and not over anything else, nor as PKCS#1 v1.5 (RS256). */
    assert_false(pss_verify(md, key, sig, siglen, jwt, (size_t)(dot2 - jwt) - 1));
    EVP_MD_CTX_reset(md);
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(
        EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);

    /* Each assertion has its own jti. */
    jwt2 = wr_graph_cert_assertion(c, AUD, APP, 1704067200);
    assert_non_null(jwt2);
    dot1 = strchr(jwt2, '.');
    dot2 = strchr(dot1 + 1, '.');
    claims2 = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    assert_string_not_equal(jstr(claims, "jti"), jstr(claims2, "jti"));

    json_object_put(hdr);
    json_object_put(claims);
    json_object_put(claims2);
    EVP_MD_CTX_free(md);
    free(sig);
    free(jwt);
    free(jwt2);
    free(x5t);
    free(s256);
    OPENSSL_free(der);
    free(cert);
    free(kp);
    wr_graph_cert_free(c);
    EVP_PKEY_free(key);
}

/* err must say what is wrong without echoing any line of the key. */
static void refused(const char *cert, const char *key, const char *want)
{
    char err[WR_ERR_MAX] = "";
    struct wr_graph_cert *c = wr_graph_cert_new(cert, key, err, sizeof(err));

    assert_null(c);
    if (strstr(err, want) == NULL) {
        fail_msg("expected '%s' in: %s", want, err);
    }
    assert_null(strstr(err, "PRIVATE KEY-----\n"));
    if (key != NULL) {
        for (const char *p = strchr(key, '\n'); p != NULL && strlen(p) > 17;
             p = strchr(p + 1, '\n')) {
            char chunk[17];

            memcpy(chunk, p + 1, 16);
            chunk[16] = '\0';
            if (strchr(chunk, '-') == NULL) {
                assert_null(strstr(err, chunk));
            }
        }
    }
}

static void test_assertion_keys_refused(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *other = EVP_RSA_gen(2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *cert = cert_pem(rsa, NULL, NULL), *ec_cert = cert_pem(ec, NULL, NULL);
    char *rsa_key = key_pem(rsa), *other_key = key_pem(other), *ec_key = key_pem(ec);

    (void)state;
    refused(cert, other_key, "does not belong to client_certificate");
    refused(ec_cert, ec_key, "not an RSA key");
    refused(cert, ec_key, "not an RSA key");
    refused(cert, "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
            "not an unencrypted PEM private key");
    refused("not a certificate", rsa_key, "not a PEM certificate");
    refused(rsa_key, rsa_key, "not a PEM certificate");
    refused(cert, NULL, "needed");
    /* An encrypted key is refused without a passphrase prompt. */
    {
        BIO *b = BIO_new(BIO_s_mem());
        char *enc;

        assert_int_equal(
            PEM_write_bio_PKCS8PrivateKey(b, rsa, EVP_aes_128_cbc(), "pw", 2, NULL, NULL), 1);
        enc = bio_text(b);
        BIO_free(b);
        refused(cert, enc, "not an unencrypted PEM private key");
        free(enc);
    }
    free(cert);
    free(ec_cert);
    free(rsa_key);
    free(other_key);
    free(ec_key);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(other);
    EVP_PKEY_free(ec);
}

/* }====== */

/* {====== graph_parse: JSON, tokens, error envelopes, $batch ====== */

static struct json_object *json_of(const char *s)
{
    return wr_graph_parse_json(s, strlen(s));
}

static void test_parse_json(void **state)
{
    struct json_object *o;

    (void)state;
    o = json_of("{\"a\": 1}");
    assert_non_null(o);
    assert_true(json_object_is_type(o, json_type_object));
    json_object_put(o);
    /* Trailing whitespace is fine, trailing anything else is not. */
    o = json_of("[1, 2] \r\n\t ");
    assert_non_null(o);
    assert_int_equal(json_object_array_length(o), 2);
    json_object_put(o);
    assert_null(json_of("{\"a\": 1} x"));
    assert_null(json_of("{\"a\": 1}{}"));
    assert_null(json_of("{\"a\": "));
    assert_null(json_of("<html>503</html>"));
    /* A number at the very end is complete; unfinished literals are not. */
    o = json_of("42");
    assert_non_null(o);
    assert_int_equal(json_object_get_int(o), 42);
    json_object_put(o);
    assert_null(json_of("tru"));
    assert_null(json_of("[1,"));
    assert_null(json_of("\"abc"));
    assert_null(json_of(""));
    assert_null(wr_graph_parse_json(NULL, 0));
    /* Only len bytes are read: the buffer need not be NUL-terminated. */
    o = wr_graph_parse_json("{\"a\":true}garbage", 10);
    assert_non_null(o);
    json_object_put(o);
}

static void test_parse_token(void **state)
{
    struct wr_graph_token_answer a;

    (void)state;
    /* The documented success answer. */
    const char *ok = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                     "\"access_token\":\"eyJ0eXAi.x.y\"}";
    assert_int_equal(wr_graph_parse_token(ok, strlen(ok), &a), 0);
    assert_string_equal(a.access_token, "eyJ0eXAi.x.y");
    assert_int_equal(a.expires_in, 3599);
    assert_null(a.error);
    assert_null(a.error_description);
    wr_graph_token_answer_clear(&a);
    assert_null(a.access_token);
    assert_int_equal(a.expires_in, 0);

    /* expires_in as a numeric string (some proxies and AD FS send it so). */
    const char *str = "{\"access_token\":\"t\",\"expires_in\":\"3600\"}";
    assert_int_equal(wr_graph_parse_token(str, strlen(str), &a), 0);
    assert_int_equal(a.expires_in, 3600);
    wr_graph_token_answer_clear(&a);

    /* Unusable: no token, an empty one, no lifetime, or one out of range. */
    static const char *const bad[] = {
        "{\"expires_in\":3599}",
        "{\"access_token\":\"\",\"expires_in\":3599}",
        "{\"access_token\":7,\"expires_in\":3599}",
        "{\"access_token\":\"t\"}",
        "{\"access_token\":\"t\",\"expires_in\":0}",
        "{\"access_token\":\"t\",\"expires_in\":-5}",
        "{\"access_token\":\"t\",\"expires_in\":31622400}",
        "{\"access_token\":\"t\",\"expires_in\":\"soon\"}",
        "{\"access_token\":\"t\",\"expires_in\":3599.5}",
        "{\"access_token\":\"t\",\"expires_in\":null}",
        "[\"access_token\"]",
        "not json",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wr_graph_parse_token(bad[i], strlen(bad[i]), &a), -1);
        assert_null(a.access_token);
        assert_null(a.error);
        wr_graph_token_answer_clear(&a);
    }
    /* The longest lifetime accepted is just under a year. */
    const char *year = "{\"access_token\":\"t\",\"expires_in\":31622399}";
    assert_int_equal(wr_graph_parse_token(year, strlen(year), &a), 0);
    wr_graph_token_answer_clear(&a);

    /* The documented error answer: the OAuth code and the AADSTS description. */
    const char *err = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
                      "Invalid client secret provided.\",\"error_codes\":[7000215],"
                      "\"trace_id\":\"00000000-0000-0000-0000-000000000000\"}";
    assert_int_equal(wr_graph_parse_token(err, strlen(err), &a), -1);
    assert_null(a.access_token);
    assert_string_equal(a.error, "invalid_client");
    assert_string_equal(a.error_description, "AADSTS7000215: Invalid client secret provided.");
    wr_graph_token_answer_clear(&a);
    /* Error fields of the wrong type are ignored. */
    const char *odd = "{\"error\":{\"code\":\"x\"},\"error_description\":[1]}";
    assert_int_equal(wr_graph_parse_token(odd, strlen(odd), &a), -1);
    assert_null(a.error);
    assert_null(a.error_description);
    wr_graph_token_answer_clear(&a);
    wr_graph_token_answer_clear(NULL);
}

static void error_is(const char *body, int rc, const char *want_code, const char *want_msg)
{
    struct json_object *o = json_of(body);
    const char *code = "unset", *msg = "unset";

    assert_int_equal(wr_graph_parse_error(o, &code, &msg), rc);
    if (want_code == NULL) {
        assert_null(code);
    } else {
        assert_string_equal(code, want_code);
    }
    if (want_msg == NULL) {
        assert_null(msg);
    } else {
        assert_string_equal(msg, want_msg);
    }
    json_object_put(o);
}

static void test_parse_error(void **state)
{
    (void)state;
    error_is("{\"error\":{\"code\":\"Request_BadRequest\",\"message\":\"License assignment cannot "
             "be done for user with invalid usage location.\",\"innerError\":{\"date\":"
             "\"2025-01-06T12:25:59\"}}}",
             0, "Request_BadRequest",
             "License assignment cannot be done for user with invalid usage location.");
    error_is("{\"error\":{\"code\":\"TooManyRequests\"}}", 0, "TooManyRequests", NULL);
    error_is("{\"error\":{\"message\":\"no code\"}}", -1, NULL, "no code");
    error_is("{\"error\":{\"code\":429,\"message\":7}}", -1, NULL, NULL);
    error_is("{\"error\":\"invalid_client\"}", -1, NULL, NULL);
    error_is("{\"value\":[]}", -1, NULL, NULL);
    error_is("[{\"error\":{\"code\":\"x\"}}]", -1, NULL, NULL);
    error_is("\"error\"", -1, NULL, NULL);
    error_is("", -1, NULL, NULL); /* not JSON: no tree at all */
}

static void item_ra_is(const char *headers, int64_t want)
{
    struct json_object *o = json_of(headers);

    assert_int_equal(wr_graph_parse_item_retry_after(o, NOW_MS), want);
    json_object_put(o);
}

static void test_item_retry_after(void **state)
{
    (void)state;
    item_ra_is("{\"Retry-After\":\"7\"}", 7000);
    item_ra_is("{\"retry-after\":\"2.128\",\"Content-Type\":\"application/json\"}", 2128);
    item_ra_is("{\"RETRY-AFTER\":3}", 3000);
    item_ra_is("{\"Retry-After\":0}", 0);
    item_ra_is("{\"Retry-After\":-1}", -1);
    item_ra_is("{\"Retry-After\":99999999999}", DAY_MS);
    item_ra_is("{\"Retry-After\":\"Mon, 01 Jan 2024 00:00:30 GMT\"}", 30000);
    item_ra_is("{\"Retry-After\":\"soon\"}", -1);
    item_ra_is("{\"Retry-After\":1.5}", -1);
    item_ra_is("{\"Retry-After\":null}", -1);
    item_ra_is("{\"Cache-Control\":\"no-cache\"}", -1);
    item_ra_is("[\"Retry-After\", 5]", -1);
    item_ra_is("\"Retry-After: 5\"", -1);
    assert_int_equal(wr_graph_parse_item_retry_after(NULL, NOW_MS), -1);
}

static void test_parse_batch(void **state)
{
    struct wr_graph_batch_item items[4];
    bool seen[4];
    struct json_object *o;

    (void)state;
    /* Out of order, one throttled with a Retry-After, one with no body, one unanswered. */
    o = json_of("{\"responses\":["
                "{\"id\":\"3\",\"status\":204,\"headers\":{\"Cache-Control\":\"no-cache\"}},"
                "{\"id\":\"1\",\"status\":200,\"body\":{\"id\":\"u1\"}},"
                "{\"id\":\"2\",\"status\":429,\"headers\":{\"Retry-After\":\"5\"},"
                "\"body\":{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"Please retry "
                "again later.\"}}}]}");
    assert_int_equal(wr_graph_parse_batch(o, 4, NOW_MS, items, seen), 3);
    assert_int_equal(items[0].index, 2);
    assert_int_equal(items[0].status, 204);
    assert_int_equal(items[0].retry_after_ms, -1);
    assert_null(items[0].body);
    assert_int_equal(items[1].index, 0);
    assert_int_equal(items[1].status, 200);
    assert_string_equal(json_object_get_string(json_object_object_get(items[1].body, "id")), "u1");
    assert_int_equal(items[2].index, 1);
    assert_int_equal(items[2].status, 429);
    assert_int_equal(items[2].retry_after_ms, 5000);
    {
        const char *code, *msg;

        assert_int_equal(wr_graph_parse_error(items[2].body, &code, &msg), 0);
        assert_string_equal(code, "TooManyRequests");
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    assert_false(seen[3]);
    json_object_put(o);

    /* Items that cannot be matched are skipped; a repeated id keeps its first answer, but an
     * item skipped for its status does not count as an answer. */
    o = json_of("{\"responses\":["
                "{\"id\":\"0\",\"status\":200},{\"id\":\"5\",\"status\":200},"
                "{\"id\":\"x\",\"status\":200},{\"id\":\"1x\",\"status\":200},"
                "{\"id\":\"\",\"status\":200},{\"id\":1,\"status\":200},{\"status\":200},"
                "{\"id\":\"99999999999999999999\",\"status\":200},"
                "{\"id\":\"2\",\"status\":\"500\"},{\"id\":\"2\",\"status\":503},"
                "{\"id\":\"1\",\"status\":201},{\"id\":\"1\",\"status\":500},"
                "\"junk\",null,[1]]}");
    assert_int_equal(wr_graph_parse_batch(o, 4, NOW_MS, items, seen), 2);
    assert_int_equal(items[0].index, 1);
    assert_int_equal(items[0].status, 503);
    assert_int_equal(items[1].index, 0);
    assert_int_equal(items[1].status, 201);
    assert_true(seen[0] && seen[1]);
    assert_false(seen[2] || seen[3]);
    json_object_put(o);

    /* No responses array at all: -1, so the caller treats the batch as failed. */
    static const char *const none[] = {"{}", "{\"responses\":{}}", "{\"responses\":null}",
                                       "[{\"responses\":[]}]", "\"responses\""};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        o = json_of(none[i]);
        assert_int_equal(wr_graph_parse_batch(o, 4, NOW_MS, items, seen), -1);
        json_object_put(o);
    }
    assert_int_equal(wr_graph_parse_batch(NULL, 4, NOW_MS, items, seen), -1);
    /* An empty array answers nothing. */
    o = json_of("{\"responses\":[]}");
    assert_int_equal(wr_graph_parse_batch(o, 4, NOW_MS, items, seen), 0);
    assert_false(seen[0] || seen[1] || seen[2] || seen[3]);
    json_object_put(o);
}

/* }====== */

static void scope_is(const char *base_url, const char *want)
{
    char *got = wr_graph_default_scope(base_url);

    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_default_scope(void **state)
{
    (void)state;
    /* Each cloud's Graph host signs in for its own resource (learn.microsoft.com/graph/
     * deployments, GRAPH.md section 12). */
    scope_is("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default");
    scope_is("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default");
    scope_is("https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default");
    scope_is("https://microsoftgraph.chinacloudapi.cn/v1.0",
             "https://microsoftgraph.chinacloudapi.cn/.default");
    scope_is("https://Graph.Microsoft.US/beta/", "https://graph.microsoft.us/.default");
    scope_is("https://graph.microsoft.us:443/v1.0", "https://graph.microsoft.us/.default");
    scope_is("https://graph.microsoft.us", "https://graph.microsoft.us/.default");
    /* Any other host fronts the commercial cloud: a proxy, a simulator. */
    scope_is("http://127.0.0.1:8931/v1.0", "https://graph.microsoft.com/.default");
    scope_is("https://graph-proxy.corp.example/v1.0", "https://graph.microsoft.com/.default");
    scope_is("https://microsoft.us.evil.example/v1.0", "https://graph.microsoft.com/.default");
    scope_is("https://graph.microsoft.com.evil.example/", "https://graph.microsoft.com/.default");
    /* Not a URL with a host. */
    scope_is("graph.microsoft.us/v1.0", NULL);
    scope_is("https:///v1.0", NULL);
    scope_is("https://user@graph.microsoft.us/v1.0", NULL);
    scope_is(NULL, NULL);
}

static void test_throttle_scope(void **state)
{
    const unsigned rw = WR_GRAPH_CLASS_READ | WR_GRAPH_CLASS_WRITE;

    (void)state;
    assert_int_equal(wr_graph_parse_throttle_scope("Tenant_Application/ReadWrite/app/tenant"), rw);
    assert_int_equal(wr_graph_parse_throttle_scope("Tenant_Application/Write/a/t"),
                     WR_GRAPH_CLASS_WRITE);
    assert_int_equal(wr_graph_parse_throttle_scope("Tenant/Read/a/t"), WR_GRAPH_CLASS_READ);
    assert_int_equal(wr_graph_parse_throttle_scope("Application/readwrite/a/t"), rw);
    assert_int_equal(wr_graph_parse_throttle_scope(" tenant_application/WRITE/a/t"),
                     WR_GRAPH_CLASS_WRITE);
    /* Anything else holds back only the throttled path. */
    assert_int_equal(wr_graph_parse_throttle_scope(NULL), 0);
    assert_int_equal(wr_graph_parse_throttle_scope(""), 0);
    assert_int_equal(wr_graph_parse_throttle_scope("Tenant_Application/Write"), 0);
    assert_int_equal(wr_graph_parse_throttle_scope("Mailbox/Write/a/t"), 0);
    assert_int_equal(wr_graph_parse_throttle_scope("Tenant_Application/Delete/a/t"), 0);
    assert_int_equal(wr_graph_parse_throttle_scope("Tenant_ApplicationX/Write/a/t"), 0);
}

static void test_describe_answer(void **state)
{
    char *h, *d;

    (void)state;
    assert_null(wr_graph_body_head("", 0));
    assert_null(wr_graph_body_head(NULL, 3));
    h = wr_graph_body_head("<html>\"x\"\\\r\n\x01\xff", 14);
    assert_string_equal(h, "\"<html>\\\"x\\\"\\\\\\x0d\\x0a\\x01\\xff\"");
    d = wr_graph_describe_answer(200, "text/html", h, 14);
    assert_string_equal(d, "HTTP 200, Content-Type \"text/html\", 14 bytes: "
                           "\"<html>\\\"x\\\"\\\\"
                           "\\x0d\\x0a\\x01\\xff\"");
    free(d);
    free(h);
    d = wr_graph_describe_answer(202, NULL, NULL, 0);
    assert_string_equal(d, "HTTP 202, no Content-Type, empty body");
    free(d);
    /* Long bodies are cut after WR_GRAPH_HEAD_MAX bytes. */
    {
        char big[300];

        memset(big, 'a', sizeof(big));
        h = wr_graph_body_head(big, sizeof(big));
        assert_int_equal(strlen(h), WR_GRAPH_HEAD_MAX + 2 + 3);
        assert_string_equal(h + WR_GRAPH_HEAD_MAX + 1, "\"...");
        free(h);
    }
}

/* One unusable (or usable) answer for the table below. */
struct shape {
    const char *name;
    long status;
    const char *ctype;
    const char *body; /* NULL = empty */
    bool entity;      /* a usable user: {"id": "..."} */
    bool collection;  /* a usable collection: {"value": [...]} */
    bool retriable;   /* when unusable: may pass later */
    bool items;       /* a usable collection whose items all have a string "id" */
    bool done;        /* a usable answer to a write that needs nothing back */
};

static const struct shape shapes[] = {
    {"202 empty", 202, NULL, NULL, false, false, true, false, false},
    {"200 empty", 200, "application/json", NULL, false, false, true, false, true},
    {"204", 204, NULL, NULL, false, false, true, false, true},
    {"html", 200, "text/html", "<html><body>Bad gateway</body></html>", false, false, true, false,
     false},
    {"truncated", 200, "application/json", "{\"id\":\"4f1c0a3e-0000-4000-8000-00000000", false,
     false, true, false, false},
    {"array", 200, "application/json", "[]", false, false, false, false, false},
    {"string", 200, "application/json", "\"user\"", false, false, false, false, false},
    {"number", 200, "application/json", "42", false, false, false, false, false},
    {"null", 200, "application/json", "null", false, false, true, false, false},
    {"no id", 200, "application/json", "{\"displayName\":\"Adele\"}", false, false, false, false,
     true},
    {"id number", 200, "application/json", "{\"id\":7}", false, false, false, false, true},
    {"id null", 200, "application/json", "{\"id\":null}", false, false, false, false, true},
    {"id empty", 200, "application/json", "{\"id\":\"\"}", false, false, false, false, true},
    {"id object", 200, "application/json", "{\"id\":{\"a\":1}}", false, false, false, false, true},
    {"value string", 200, "application/json", "{\"value\":\"x\"}", false, false, false, false,
     true},
    {"value object", 200, "application/json", "{\"value\":{}}", false, false, false, false, true},
    {"user", 200, "application/json", "{\"id\":\"4f1c0a3e\",\"displayName\":\"A\"}", true, false,
     false, false, true},
    {"collection", 200, "application/json", "{\"value\":[{\"id\":\"a\"}]}", false, true, false,
     true, true},
    {"empty collection", 200, "application/json", "{\"value\":[]}", false, true, false, true, true},
    {"item without id", 200, "application/json", "{\"value\":[{\"id\":\"a\"},{\"x\":1}]}", false,
     true, false, false, true},
    {"item not an object", 200, "application/json", "{\"value\":[\"a\"]}", false, true, false,
     false, true},
    {"202 with a body", 202, "application/json", "{\"id\":\"a\"}", true, false, false, false,
     false},
};

/* Every reader of Graph answers over every shape: nothing crashes, nothing unusable passes for
 * a success, and each refusal names the status, the content type and the first bytes. */
static void test_unusable_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const struct shape *sh = &shapes[i];
        size_t len = sh->body ? strlen(sh->body) : 0;
        struct json_object *body = wr_graph_parse_json(sh->body, len);
        char *head = wr_graph_body_head(sh->body, len);
        struct wr_graph_result res = {.status = sh->status,
                                      .body = body,
                                      .ok = true,
                                      .content_type = sh->ctype,
                                      .body_head = head,
                                      .body_len = len,
                                      .request_id = "rid-1",
                                      .client_request_id = "crid-1"};
        struct wr_graph_token_answer tok;
        struct wr_graph_batch_item items[2];
        bool seen[2], retriable = true;
        const char *code, *msg;
        char *why = NULL, status[16];
        struct json_object *o;

        /* The client's own readers. */
        assert_int_equal(wr_graph_parse_token(sh->body, len, &tok), -1);
        assert_null(tok.access_token);
        wr_graph_token_answer_clear(&tok);
        assert_int_equal(wr_graph_parse_error(body, &code, &msg), -1);
        assert_int_equal(wr_graph_parse_batch(body, 2, NOW_MS, items, seen), -1);

        /* The directory's and the actions' (a user, a role assignment, the manager: "id"). */
        snprintf(status, sizeof(status), "HTTP %ld, ", sh->status);
        o = wr_graph_answer_entity(&res, "a user", "id", &why, &retriable);
        if (sh->entity) {
            assert_ptr_equal(o, body);
            assert_null(why);
        } else {
            assert_null(o);
            assert_non_null(why);
            if (strstr(why, status) == NULL ||
                strstr(why, "expected a user with a string \"id\"") == NULL ||
                (sh->ctype && strstr(why, sh->ctype) == NULL) ||
                (sh->body && strstr(why, head) == NULL) ||
                (!sh->body && !strstr(why, "empty body")) || retriable != sh->retriable) {
                fail_msg("%s: %s (retriable %d)", sh->name, why, retriable);
            }
            free(why);
            why = NULL;
        }
        /* A SKU: "skuId". */
        o = wr_graph_answer_entity(&res, "a subscribedSku", "skuId", &why, &retriable);
        assert_null(o);
        assert_non_null(why);
        free(why);
        why = NULL;
        /* Lists: filters, paging, subscribedSkus, memberOf, role assignments. */
        o = wr_graph_answer_collection(&res, "a collection", &why, &retriable);
        if (sh->collection) {
            assert_non_null(o);
            assert_true(json_object_is_type(o, json_type_array));
        } else {
            assert_null(o);
            if (strstr(why, status) == NULL || retriable != sh->retriable) {
                fail_msg("%s: %s", sh->name, why);
            }
            free(why);
            why = NULL;
        }
        /* Collections of directory objects: every item with its "id". */
        o = wr_graph_answer_items(&res, "role assignments", "id", &why, &retriable);
        if (sh->items) {
            assert_non_null(o);
            assert_null(why);
        } else {
            assert_null(o);
            if (strstr(why, status) == NULL || strstr(why, "expected role assignments") == NULL ||
                retriable != (sh->collection ? false : sh->retriable) ||
                (sh->collection && strstr(why, "has none") == NULL)) {
                fail_msg("%s: %s (retriable %d)", sh->name, why, retriable);
            }
            free(why);
            why = NULL;
        }
        /* Writes that need nothing back: 202 (not done) and anything but a JSON object fail. */
        if (wr_graph_answer_done(&res, "the PATCH", &why, &retriable)) {
            if (!sh->done) {
                fail_msg("%s taken for a done write", sh->name);
            }
            assert_null(why);
        } else {
            if (sh->done || strstr(why, status) == NULL ||
                strstr(why, "expected the PATCH done (204 No Content, or a JSON object)") == NULL ||
                retriable != (sh->status == 202 || body == NULL) ||
                (sh->status == 202 && strstr(why, "202 Accepted: not done yet") == NULL)) {
                fail_msg("%s: %s (retriable %d)", sh->name, why, retriable);
            }
            free(why);
            why = NULL;
        }
        /* A SKU list entry without a string skuId is never found (its id would be NULL). */
        assert_null(wr_directory_sku_find(body, "SPE_E3"));
        /* The unusable result an action reports keeps the status and the ids. */
        {
            struct wr_graph_result u = wr_graph_result_unusable(&res, "why", sh->retriable);
            char *ids = wr_graph_result_ids(&u);

            assert_false(u.ok);
            assert_string_equal(u.error_code, WR_GRAPH_UNEXPECTED);
            assert_int_equal(u.status, sh->status);
            assert_string_equal(ids, " (request-id rid-1, client-request-id crid-1)");
            free(ids);
        }
        json_object_put(body);
        free(head);
    }
    /* NULL results and bodies are refusals too, never crashes. */
    {
        char *why = NULL;
        bool retriable;

        assert_null(wr_graph_answer_entity(NULL, "a user", "id", &why, &retriable));
        assert_non_null(why);
        free(why);
        assert_null(wr_graph_answer_collection(NULL, "a list", &why, &retriable));
        free(why);
        assert_null(wr_graph_answer_items(NULL, "a list", "id", &why, &retriable));
        free(why);
        assert_false(wr_graph_answer_done(NULL, NULL, &why, &retriable));
        assert_non_null(strstr(why, "expected the change done"));
        free(why);
    }
    /* A SKU entry without skuId, beside good ones. */
    {
        struct json_object *skus = json_tokener_parse(
            "[{\"skuPartNumber\":\"SPE_E3\"},{\"skuPartNumber\":\"SPE_E5\",\"skuId\":7},"
            "{\"skuPartNumber\":\"EMS\",\"skuId\":\"b05e124f\"}]");

        assert_null(wr_directory_sku_find(skus, "SPE_E3"));
        assert_null(wr_directory_sku_find(skus, "SPE_E5"));
        assert_non_null(wr_directory_sku_find(skus, "ems"));
        assert_non_null(wr_directory_sku_find(skus, "B05E124F"));
        json_object_put(skus);
    }
}

static void test_result_ids(void **state)
{
    struct wr_graph_result r = {0};
    char *s;

    (void)state;
    s = wr_graph_result_ids(&r);
    assert_string_equal(s, "");
    free(s);
    r.client_request_id = "c";
    s = wr_graph_result_ids(&r);
    assert_string_equal(s, " (client-request-id c)");
    free(s);
    r.request_id = "r";
    r.client_request_id = NULL;
    s = wr_graph_result_ids(&r);
    assert_string_equal(s, " (request-id r)");
    free(s);
    s = wr_graph_result_ids(NULL);
    assert_string_equal(s, "");
    free(s);
}

static void path_is(const char *ref, const char *suffix, const char *want)
{
    char *p = wr_directory_user_path(ref, suffix);

    assert_string_equal(p, want);
    free(p);
}

/* A UPN that starts with '$' is addressed as /users('...'), as Graph asks; ' is doubled. */
static void test_user_path(void **state)
{
    (void)state;
    path_is("adele@contoso.com", NULL, "/users/adele%40contoso.com");
    path_is("4f1c0a3e-0000-4000-8000-000000000001", "/revokeSignInSessions",
            "/users/4f1c0a3e-0000-4000-8000-000000000001/revokeSignInSessions");
    path_is("$adele@contoso.com", "?$select=id", "/users('%24adele%40contoso.com')?$select=id");
    path_is("$o'brien@contoso.com", NULL, "/users('%24o%27%27brien%40contoso.com')");
    path_is("a$b@contoso.com", NULL, "/users/a%24b%40contoso.com");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_seconds),    cmocka_unit_test(test_fractional_seconds),
        cmocka_unit_test(test_http_dates),       cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_negative),         cmocka_unit_test(test_huge_values_capped),
        cmocka_unit_test(test_escape),           cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_client_assertion), cmocka_unit_test(test_assertion_keys_refused),
        cmocka_unit_test(test_parse_json),       cmocka_unit_test(test_parse_token),
        cmocka_unit_test(test_parse_error),      cmocka_unit_test(test_item_retry_after),
        cmocka_unit_test(test_parse_batch),      cmocka_unit_test(test_default_scope),
        cmocka_unit_test(test_throttle_scope),   cmocka_unit_test(test_describe_answer),
        cmocka_unit_test(test_unusable_table),   cmocka_unit_test(test_result_ids),
        cmocka_unit_test(test_user_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
