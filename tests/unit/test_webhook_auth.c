/*
 * test_webhook_auth — unit tests for triggers/webhook/auth: every scheme against published or
 * independently computed vectors (valid, one of several valid, tampered body, wrong secret,
 * timestamp outside the tolerance, missing headers, a signature made for another id), the
 * configuration errors that must not name a secret, and allow_from's CIDR parsing (the one
 * parser, engine/net/net_guard.h, shared with http.allow: host bits refused) and matching for
 * IPv4 and IPv6 including /0, /32, /128 and IPv4-mapped IPv6 peers.
 *
 * Headers come from a small NULL-terminated name/value array; the clock is the request's
 * `now`, so nothing here sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <netinet/in.h>

#include "engine/base/strutil.h"
#include "engine/net/net_guard.h"
#include "triggers/webhook/auth.h"

/* The Standard Webhooks reference vector (svix / standard-webhooks test suites). */
#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS     "1614265330"
#define STD_NOW    1614265330LL
#define STD_BODY   "{\"test\": 2432232314}"
#define STD_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* GitHub's documented example. */
#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY   "Hello, World!"
#define GH_SIG    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

/* HMAC-SHA512 of {"a":1} under "k3y" (Python's hmac module). */
#define H512_B64                                                                                   \
    "0Yt/bVe8VtOw+KAUkD++tPR81LplNPpLRSAp6doQ6xWQ3EQ1gcdWNixOZK+jtJElYwOr027sNKrABudulOFEEQ=="
#define H512_HEX                                                                                   \
    "d18b7f6d57bc56d3b0f8a014903fbeb4f47cd4ba6534fa4b452029e9da10eb1590dc443581c756362c4e64afa3b4" \
    "91256303abd36eec34aac006e76e94e14411"

static const char *header_cb(void *ctx, const char *name)
{
    const char *const *h = ctx;
    for (size_t i = 0; h && h[i]; i += 2) {
        if (strcasecmp(h[i], name) == 0) {
            return h[i + 1];
        }
    }
    return NULL;
}

static struct wr_webhook_auth *auth_from(const char *json)
{
    struct json_object *args = json_tokener_parse(json);
    assert_non_null(args);
    char err[WR_ERR_MAX] = "";
    struct wr_webhook_auth *a = wr_webhook_auth_new(args, ".", err, sizeof(err));
    json_object_put(args);
    if (!a) {
        fail_msg("wr_webhook_auth_new: %s", err);
    }
    return a;
}

static int verify_at(const struct wr_webhook_auth *a, const char *const *headers, const char *body,
                     int64_t now, const struct sockaddr *peer)
{
    char why[WR_ERR_MAX];
    struct wr_webhook_request r = {
        .header = header_cb,
        .ctx = (void *)headers,
        .peer = peer,
        .body = (const unsigned char *)body,
        .len = body ? strlen(body) : 0,
        .now = now,
    };
    int rc = wr_webhook_auth_verify(a, &r, why, sizeof(why));
    if (rc != 0) {
        assert_true(why[0] != '\0');
    }
    return rc;
}

static int verify(const struct wr_webhook_auth *a, const char *const *headers, const char *body)
{
    return verify_at(a, headers, body, STD_NOW, NULL);
}

static int setup_env(void **state)
{
    (void)state;
    setenv("T_STD", STD_SECRET, 1);
    setenv("T_STD_OTHER", "whsec_c2VjcmV0LW51bWJlci10d28=", 1);
    setenv("T_GH", GH_SECRET, 1);
    setenv("T_K3Y", "k3y", 1);
    setenv("T_TOKEN", "tok-3x4mple", 1);
    setenv("T_BASIC", "hr:pa:ss", 1);
    return 0;
}

/* {====== standard-webhooks ====== */

static void test_standard_valid(void **state)
{
    (void)state;
    struct wr_webhook_auth *a =
        auth_from("{\"auth\": {\"type\": \"standard-webhooks\", \"secret\": \"env:T_STD\"}}");
    const char *h[] = {"webhook-id", STD_ID, "webhook-timestamp", STD_TS, "webhook-signature",
                       STD_SIG,      NULL};
    assert_int_equal(verify(a, h, STD_BODY), 0);
    /* Within the tolerance either way. */
    assert_int_equal(verify_at(a, h, STD_BODY, STD_NOW + 299, NULL), 0);
    assert_int_equal(verify_at(a, h, STD_BODY, STD_NOW - 300, NULL), 0);
    wr_webhook_auth_free(a);
}

static void test_standard_shorthand(void **state)
{
    (void)state;
    struct wr_webhook_auth *a = auth_from("{\"path\": \"/h\", \"secret\": \"env:T_STD\"}");
    const char *h[] = {"webhook-id", STD_ID, "webhook-timestamp", STD_TS, "webhook-signature",
                       STD_SIG,      NULL};
    assert_int_equal(verify(a, h, STD_BODY), 0);
    const char *none[] = {NULL};
    assert_int_equal(verify(a, none, STD_BODY), 401);
    wr_webhook_auth_free(a);
}

static void test_standard_one_of_several(void **state)
{
    (void)state;
    struct wr_webhook_auth *a =
        auth_from("{\"auth\": {\"type\": \"standard-webhooks\", \"secret\": \"env:T_STD\"}}");
    const char *h[] = {"webhook-id",
                       STD_ID,
                       "webhook-timestamp",
                       STD_TS,
                       "webhook-signature",
                       "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,xyz " STD_SIG
                       " v1,garbage!",
                       NULL};
    assert_int_equal(verify(a, h, STD_BODY), 0);
    /* Only wrong entries: refused. */
    const char *bad[] = {"webhook-id",
                         STD_ID,
                         "webhook-timestamp",
                         STD_TS,
                         "webhook-signature",
                         "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,"
                         "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                         NULL};
    assert_int_equal(verify(a, bad, STD_BODY), 401);
    wr_webhook_auth_free(a);
}

static void test_standard_refusals(void **state)
{
    (void)state;
    struct wr_webhook_auth *a =
        auth_from("{\"auth\": {\"type\": \"standard-webhooks\", \"secret\": \"env:T_STD\", "
                  "\"tolerance\": \"1m\"}}");
    const char *h[] = {"webhook-id", STD_ID, "webhook-timestamp", STD_TS, "webhook-signature",
                       STD_SIG,      NULL};
    /* Tampered body. */
    assert_int_equal(verify(a, h, "{\"test\": 2432232315}"), 401);
    assert_int_equal(verify(a, h, ""), 401);
    /* Outside the tolerance (1m), both directions. */
    assert_int_equal(verify_at(a, h, STD_BODY, STD_NOW + 61, NULL), 401);
    assert_int_equal(verify_at(a, h, STD_BODY, STD_NOW - 61, NULL), 401);
    assert_int_equal(verify_at(a, h, STD_BODY, STD_NOW + 60, NULL), 0);
    /* The same signature presented for another id, or another timestamp. */
    const char *other_id[] = {
        "webhook-id", "msg_other", "webhook-timestamp", STD_TS, "webhook-signature", STD_SIG, NULL};
    assert_int_equal(verify(a, other_id, STD_BODY), 401);
    const char *other_ts[] = {
        "webhook-id", STD_ID, "webhook-timestamp", "1614265331", "webhook-signature",
        STD_SIG,      NULL};
    assert_int_equal(verify(a, other_ts, STD_BODY), 401);
    /* Missing headers, one at a time, and a malformed timestamp. */
    const char *no_id[] = {"webhook-timestamp", STD_TS, "webhook-signature", STD_SIG, NULL};
    const char *no_ts[] = {"webhook-id", STD_ID, "webhook-signature", STD_SIG, NULL};
    const char *no_sig[] = {"webhook-id", STD_ID, "webhook-timestamp", STD_TS, NULL};
    const char *bad_ts[] = {
        "webhook-id", STD_ID, "webhook-timestamp", "-1614265330", "webhook-signature",
        STD_SIG,      NULL};
    assert_int_equal(verify(a, no_id, STD_BODY), 401);
    assert_int_equal(verify(a, no_ts, STD_BODY), 401);
    assert_int_equal(verify(a, no_sig, STD_BODY), 401);
    assert_int_equal(verify(a, bad_ts, STD_BODY), 401);
    wr_webhook_auth_free(a);

    /* Wrong secret. */
    a = auth_from("{\"auth\": {\"type\": \"standard-webhooks\", \"secret\": \"env:T_STD_OTHER\"}}");
    assert_int_equal(verify(a, h, STD_BODY), 401);
    wr_webhook_auth_free(a);
}

/* }====== */

/* {====== github, hmac ====== */

static void test_github(void **state)
{
    (void)state;
    struct wr_webhook_auth *a =
        auth_from("{\"auth\": {\"type\": \"github\", \"secret\": \"env:T_GH\"}}");
    const char *h[] = {"X-Hub-Signature-256", GH_SIG, NULL};
    assert_int_equal(verify(a, h, GH_BODY), 0);
    const char *upper[] = {
        "x-hub-signature-256",
        "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", NULL};
    assert_int_equal(verify(a, upper, GH_BODY), 0);
    assert_int_equal(verify(a, h, "Hello, World?"), 401);
    const char *none[] = {"X-Hub-Signature", "sha1=abc", NULL};
    assert_int_equal(verify(a, none, GH_BODY), 401);
    const char *noprefix[] = {"X-Hub-Signature-256", GH_SIG + 7, NULL};
    assert_int_equal(verify(a, noprefix, GH_BODY), 401);
    const char *truncated[] = {"X-Hub-Signature-256", "sha256=757107ea", NULL};
    assert_int_equal(verify(a, truncated, GH_BODY), 401);
    wr_webhook_auth_free(a);
    a = auth_from("{\"auth\": {\"type\": \"github\", \"secret\": \"env:T_K3Y\"}}");
    assert_int_equal(verify(a, h, GH_BODY), 401); /* wrong secret */
    wr_webhook_auth_free(a);
}

static void test_hmac(void **state)
{
    (void)state;
    struct wr_webhook_auth *a = auth_from(
        "{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:T_K3Y\", \"header\": \"X-Signature\", "
        "\"algorithm\": \"sha512\", \"encoding\": \"base64\", \"prefix\": \"sha512=\"}}");
    const char *h[] = {"X-Signature", "sha512=" H512_B64, NULL};
    assert_int_equal(verify(a, h, "{\"a\":1}"), 0);
    assert_int_equal(verify(a, h, "{\"a\":2}"), 401);
    const char *noprefix[] = {"X-Signature", H512_B64, NULL};
    assert_int_equal(verify(a, noprefix, "{\"a\":1}"), 401);
    const char *none[] = {NULL};
    assert_int_equal(verify(a, none, "{\"a\":1}"), 401);
    wr_webhook_auth_free(a);

    a = auth_from("{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:T_K3Y\", \"header\": "
                  "\"X-Sig\", \"algorithm\": \"sha512\"}}");
    const char *hex[] = {"X-Sig", H512_HEX, NULL};
    assert_int_equal(verify(a, hex, "{\"a\":1}"), 0);
    const char *b64[] = {"X-Sig", H512_B64, NULL};
    assert_int_equal(verify(a, b64, "{\"a\":1}"), 401); /* hex expected */
    wr_webhook_auth_free(a);

    /* sha256 by default: a sha512 signature does not pass. */
    a = auth_from("{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:T_K3Y\", \"header\": "
                  "\"X-Sig\"}}");
    assert_int_equal(verify(a, hex, "{\"a\":1}"), 401);
    wr_webhook_auth_free(a);

    a = auth_from("{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:T_GH\", \"header\": "
                  "\"X-Sig\", \"algorithm\": \"sha512\"}}");
    assert_int_equal(verify(a, hex, "{\"a\":1}"), 401); /* wrong secret */
    wr_webhook_auth_free(a);
}

/* The vendor presets (issue 19), against signatures computed with Python's hmac module over
   this body: hmac.new(key, msg, sha256|sha512) with msg as each vendor documents it. */
#define HR_BODY "{\"type\":\"employee.updated\",\"data\":{\"employeeId\":\"42\"}}"
/* body + "1700000000" under "bamboo-key" */
#define BAMBOO_SIG "32305a7ed6732c94000ec28e2d105146f4cca7cba81da9493ceca1542ab0fc02"
/* "POST" + body under "deel-key" */
#define DEEL_SIG "2a2586111ace6c84c02810c835ae1450dafda58726e24b418c383ab1c6b203ba"
/* base64 of HMAC-SHA512(body) under "bob-key" */
#define BOB_SIG                                                                                    \
    "KWDZJXNkx89hDAmXkVFhfvM+N4CkUD21RCiNS9CrBUlB+iu2naIT7x97CKEs9gL9sijSBwP3d9ly6zpflutC7g=="

static void test_presets(void **state)
{
    (void)state;
    setenv("T_BAMBOO", "bamboo-key", 1);
    setenv("T_DEEL", "deel-key", 1);
    setenv("T_BOB", "bob-key", 1);
    setenv("T_OTHER", "another-key", 1);

    /* BambooHR: the body followed by the timestamp header, and the timestamp within 5m. */
    struct wr_webhook_auth *a =
        auth_from("{\"auth\": {\"type\": \"bamboohr\", \"secret\": [\"env:T_OTHER\", "
                  "\"env:T_BAMBOO\"]}}");
    const char *bh[] = {"X-BambooHR-Signature", BAMBOO_SIG, "X-BambooHR-Timestamp", "1700000000",
                        NULL};
    assert_int_equal(verify_at(a, bh, HR_BODY, 1700000000 + 120, NULL), 0);
    assert_int_equal(verify_at(a, bh, HR_BODY, 1700000000 + 301, NULL), 401); /* stale */
    assert_int_equal(verify_at(a, bh, HR_BODY " ", 1700000000, NULL), 401);   /* body */
    const char *bts[] = {"X-BambooHR-Signature", BAMBOO_SIG, "X-BambooHR-Timestamp", "1700000001",
                         NULL};
    assert_int_equal(verify_at(a, bts, HR_BODY, 1700000000, NULL), 401); /* timestamp */
    const char *bno[] = {"X-BambooHR-Signature", BAMBOO_SIG, NULL};
    assert_int_equal(verify_at(a, bno, HR_BODY, 1700000000, NULL), 401);
    wr_webhook_auth_free(a);
    a = auth_from("{\"auth\": {\"type\": \"bamboohr\", \"secret\": \"env:T_OTHER\"}}");
    assert_int_equal(verify_at(a, bh, HR_BODY, 1700000000, NULL), 401); /* wrong secret */
    wr_webhook_auth_free(a);

    /* Deel: "POST" + body; the recipe's text, not the request's method. */
    a = auth_from("{\"auth\": {\"type\": \"deel\", \"secret\": \"env:T_DEEL\"}}");
    const char *dh[] = {"x-deel-signature", DEEL_SIG, NULL};
    assert_int_equal(verify(a, dh, HR_BODY), 0);
    assert_int_equal(verify(a, dh, "{}"), 401);
    wr_webhook_auth_free(a);

    /* HiBob: base64 HMAC-SHA512 of the body. */
    a = auth_from("{\"auth\": {\"type\": \"hibob\", \"secret\": \"env:T_BOB\"}}");
    const char *hh[] = {"Bob-Signature", BOB_SIG, NULL};
    assert_int_equal(verify(a, hh, HR_BODY), 0);
    const char *hhex[] = {"Bob-Signature", DEEL_SIG, NULL};
    assert_int_equal(verify(a, hhex, HR_BODY), 401);
    wr_webhook_auth_free(a);

    /* The same recipe written out as type hmac gives the same verdicts. */
    a = auth_from("{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:T_DEEL\", \"header\": "
                  "\"x-deel-signature\", \"signed\": [\"text:POST\", \"body\"]}}");
    assert_int_equal(verify(a, dh, HR_BODY), 0);
    wr_webhook_auth_free(a);
    a = auth_from(
        "{\"auth\": {\"type\": \"hmac\", \"secret\": \"env:T_BAMBOO\", \"header\": "
        "\"X-BambooHR-Signature\", \"signed\": [\"body\", \"header:X-BambooHR-Timestamp\"], "
        "\"timestamp\": {\"header\": \"X-BambooHR-Timestamp\", \"tolerance\": \"1m\"}}}");
    assert_int_equal(verify_at(a, bh, HR_BODY, 1700000000 + 59, NULL), 0);
    assert_int_equal(verify_at(a, bh, HR_BODY, 1700000000 + 61, NULL), 401);
    wr_webhook_auth_free(a);
}

/* }====== */

/* {====== bearer, basic ====== */

static void test_bearer(void **state)
{
    (void)state;
    struct wr_webhook_auth *a =
        auth_from("{\"auth\": {\"type\": \"bearer\", \"secret\": \"env:T_TOKEN\"}}");
    const char *ok[] = {"Authorization", "Bearer tok-3x4mple", NULL};
    const char *lower[] = {"authorization", "bearer tok-3x4mple", NULL};
    const char *wrong[] = {"Authorization", "Bearer tok-3x4mplf", NULL};
    const char *longer[] = {"Authorization", "Bearer tok-3x4mple2", NULL};
    const char *basic[] = {"Authorization", "Basic tok-3x4mple", NULL};
    const char *none[] = {NULL};
    assert_int_equal(verify(a, ok, "{}"), 0);
    assert_int_equal(verify(a, lower, "{}"), 0);
    assert_int_equal(verify(a, wrong, "{}"), 401);
    assert_int_equal(verify(a, longer, "{}"), 401);
    assert_int_equal(verify(a, basic, "{}"), 401);
    assert_int_equal(verify(a, none, "{}"), 401);
    wr_webhook_auth_free(a);
}

static void test_basic(void **state)
{
    (void)state;
    struct wr_webhook_auth *a =
        auth_from("{\"auth\": {\"type\": \"basic\", \"secret\": \"env:T_BASIC\"}}");
    const char *ok[] = {"Authorization", "Basic aHI6cGE6c3M=", NULL};
    const char *wrong[] = {"Authorization", "Basic aHI6cGE6c3Q=", NULL}; /* hr:pa:st */
    const char *junk[] = {"Authorization", "Basic !!!", NULL};
    const char *bearer[] = {"Authorization", "Bearer aHI6cGE6c3M=", NULL};
    const char *none[] = {NULL};
    assert_int_equal(verify(a, ok, "{}"), 0);
    assert_int_equal(verify(a, wrong, "{}"), 401);
    assert_int_equal(verify(a, junk, "{}"), 401);
    assert_int_equal(verify(a, bearer, "{}"), 401);
    assert_int_equal(verify(a, none, "{}"), 401);
    wr_webhook_auth_free(a);
}

/* }====== */

/* {====== configuration ====== */

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json, *expect;
    } cases[] = {
        {"{\"secret\": \"env:T_UNSET_VAR\"}",
         "trigger.webhook.secret: env:T_UNSET_VAR: the environment variable T_UNSET_VAR is not "
         "set"},
        {"{\"auth\": {\"type\": \"bearer\", \"secret\": \"env:T_UNSET_VAR\"}}",
         "trigger.webhook.auth.secret: env:T_UNSET_VAR: the environment variable T_UNSET_VAR is "
         "not set"},
        {"{\"auth\": {\"type\": \"standard-webhooks\", \"secret\": \"env:T_TOKEN\"}}",
         "trigger.webhook.auth.secret: the value (from env:T_TOKEN) is not whsec_ followed by "
         "base64 as standard-webhooks requires"},
        {"{\"auth\": {\"type\": \"basic\", \"secret\": \"env:T_TOKEN\"}}",
         "trigger.webhook.auth.secret: the value (from env:T_TOKEN) must be user:password"},
        /* allow_from: one CIDR rule with http.allow (engine/net/net_guard.h). */
        {"{\"allow_from\": [\"192.0.2.0/24\", \"10.0.0.1/8\"]}",
         "trigger.webhook.allow_from[1]: '10.0.0.1/8' has host bits set below /8; did you mean "
         "10.0.0.0/8?"},
        {"{\"allow_from\": [\"2001:db8::1/32\"]}",
         "trigger.webhook.allow_from[0]: '2001:db8::1/32' has host bits set below /32; did you "
         "mean 2001:db8::/32?"},
        {"{\"allow_from\": [\"192.0.2.0/33\"]}",
         "trigger.webhook.allow_from[0]: '192.0.2.0/33' is not a CIDR"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *args = json_tokener_parse(cases[i].json);
        char err[WR_ERR_MAX] = "";
        assert_null(wr_webhook_auth_new(args, ".", err, sizeof(err)));
        assert_string_equal(err, cases[i].expect);
        assert_null(strstr(err, "tok-3x4mple"));
        json_object_put(args);
    }
}

static void test_no_auth_accepts(void **state)
{
    (void)state;
    struct wr_webhook_auth *a = auth_from("{\"path\": \"/h\"}");
    const char *none[] = {NULL};
    assert_int_equal(verify(a, none, "{}"), 0);
    wr_webhook_auth_free(a);
}

/* }====== */

/* {====== CIDR ====== */

static struct sockaddr_storage addr(const char *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, s, &v6->sin6_addr), 1);
        v6->sin6_family = AF_INET6;
    }
    return ss;
}

/* allow_from's entries are read by the one CIDR parser (engine/net/net_guard.h). */
static bool in(const char *cidr, const char *peer)
{
    struct wr_net_prefix c;
    char why[WR_ERR_MAX];
    assert_int_equal(wr_net_prefix_parse(cidr, &c, why, sizeof(why)), WR_NET_PREFIX_OK);
    struct sockaddr_storage ss = addr(peer);
    return wr_net_prefix_match(&c, (struct sockaddr *)&ss, sizeof(ss));
}

static void test_cidr_parse(void **state)
{
    (void)state;
    struct wr_net_prefix c;
    char why[WR_ERR_MAX];
    const char *good[] = {
        "192.0.2.0/24", "2001:db8::/32",        "0.0.0.0/0", "::/0", "10.1.2.3", "10.1.2.3/32",
        "::1/128",      "::ffff:192.0.2.0/120", NULL};
    for (size_t i = 0; good[i]; i++) {
        assert_int_equal(wr_net_prefix_parse(good[i], &c, why, sizeof(why)), WR_NET_PREFIX_OK);
    }
    /* Host bits below the prefix: refused with the network meant (once accepted silently). */
    assert_int_equal(wr_net_prefix_parse("192.0.2.7/24", &c, why, sizeof(why)),
                     WR_NET_PREFIX_HOST_BITS);
    assert_string_equal(why, "'192.0.2.7/24' has host bits set below /24; did you mean "
                             "192.0.2.0/24?");
    assert_int_equal(wr_net_prefix_parse("2001:db8::1/64", &c, why, sizeof(why)),
                     WR_NET_PREFIX_HOST_BITS);
    assert_string_equal(why, "'2001:db8::1/64' has host bits set below /64; did you mean "
                             "2001:db8::/64?");
    const char *bad[] = {"",
                         "/24",
                         "192.0.2.0/",
                         "192.0.2.0/33",
                         "2001:db8::/129",
                         "192.0.2/24",
                         "192.0.2.0/-1",
                         "192.0.2.0/+8",
                         "192.0.2.0/08",
                         "192.0.2.0/24 ",
                         "example.com/24",
                         "2001:db8::/3x",
                         "1.2.3.4/24/8",
                         "256.0.0.0/8",
                         NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (wr_net_prefix_parse(bad[i], &c, why, sizeof(why)) != WR_NET_PREFIX_INVALID) {
            fail_msg("'%s' parsed as a CIDR", bad[i]);
        }
    }
    assert_int_equal(wr_net_prefix_parse("192.0.2.0/24", &c, why, sizeof(why)), WR_NET_PREFIX_OK);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.bits, 24);
}

static void test_cidr_match(void **state)
{
    (void)state;
    assert_true(in("192.0.2.0/24", "192.0.2.0"));
    assert_true(in("192.0.2.0/24", "192.0.2.255"));
    assert_false(in("192.0.2.0/24", "192.0.3.0"));
    assert_false(in("192.0.2.0/24", "192.0.1.255"));
    assert_true(in("192.0.2.0/23", "192.0.3.9")); /* a prefix not on a byte boundary */
    assert_false(in("192.0.2.0/23", "192.0.4.0"));
    /* /32 and /128: exactly one address. */
    assert_true(in("198.51.100.7/32", "198.51.100.7"));
    assert_false(in("198.51.100.7/32", "198.51.100.6"));
    assert_true(in("2001:db8::7/128", "2001:db8::7"));
    assert_false(in("2001:db8::7/128", "2001:db8::8"));
    assert_true(in("198.51.100.7", "198.51.100.7"));
    assert_false(in("198.51.100.7", "198.51.100.8"));
    /* /0: everything of that family, nothing of the other. */
    assert_true(in("0.0.0.0/0", "203.0.113.9"));
    assert_true(in("0.0.0.0/0", "255.255.255.255"));
    assert_true(in("::/0", "2001:db8::1"));
    assert_false(in("::/0", "203.0.113.9"));
    assert_false(in("0.0.0.0/0", "2001:db8::1"));
    /* IPv6 networks. */
    assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(in("2001:db8::/32", "2001:db9::1"));
    assert_true(in("2001:db8:8000::/33", "2001:db8:8000::1"));
    assert_false(in("2001:db8:8000::/33", "2001:db8:7fff::1"));
    /* IPv4-mapped IPv6 peers (a dual-stack listener) match IPv4 networks... */
    assert_true(in("192.0.2.0/24", "::ffff:192.0.2.10"));
    assert_false(in("192.0.2.0/24", "::ffff:192.0.3.10"));
    assert_true(in("0.0.0.0/0", "::ffff:10.0.0.1"));
    assert_true(in("192.0.2.10/32", "::ffff:192.0.2.10"));
    /* ...and still match networks written in mapped form, which match plain IPv4 peers. */
    assert_true(in("::ffff:192.0.2.0/120", "::ffff:192.0.2.10"));
    assert_true(in("::ffff:192.0.2.0/120", "192.0.2.10"));
    assert_false(in("::ffff:192.0.2.0/120", "192.0.3.10"));
    /* A mapped peer is IPv4 whatever the listener: an IPv6 network does not take it in. */
    assert_false(in("::/0", "::ffff:203.0.113.9"));
    /* A v4-looking suffix in a non-mapped IPv6 address is not IPv4. */
    assert_false(in("192.0.2.0/24", "::192.0.2.10"));
    assert_false(in("192.0.2.0/24", "64:ff9b::192.0.2.10"));
}

static void test_allow_from(void **state)
{
    (void)state;
    struct wr_webhook_auth *a =
        auth_from("{\"allow_from\": [\"192.0.2.0/24\", \"2001:db8::/32\"], "
                  "\"auth\": {\"type\": \"bearer\", \"secret\": \"env:T_TOKEN\"}}");
    const char *ok[] = {"Authorization", "Bearer tok-3x4mple", NULL};
    const char *none[] = {NULL};
    struct sockaddr_storage inside = addr("192.0.2.44"), inside6 = addr("2001:db8::5"),
                            mapped = addr("::ffff:192.0.2.44"), outside = addr("203.0.113.1");
    assert_int_equal(verify_at(a, ok, "{}", 0, (struct sockaddr *)&inside), 0);
    assert_int_equal(verify_at(a, ok, "{}", 0, (struct sockaddr *)&inside6), 0);
    assert_int_equal(verify_at(a, ok, "{}", 0, (struct sockaddr *)&mapped), 0);
    assert_int_equal(verify_at(a, ok, "{}", 0, (struct sockaddr *)&outside), 403);
    assert_int_equal(verify_at(a, ok, "{}", 0, NULL), 403);
    /* Inside but unauthenticated: 401. */
    assert_int_equal(verify_at(a, none, "{}", 0, (struct sockaddr *)&inside), 401);
    wr_webhook_auth_free(a);

    /* allow_from alone. */
    a = auth_from("{\"allow_from\": [\"127.0.0.1/32\"]}");
    struct sockaddr_storage lo = addr("127.0.0.1"), lo2 = addr("127.0.0.2");
    assert_int_equal(verify_at(a, none, "{}", 0, (struct sockaddr *)&lo), 0);
    assert_int_equal(verify_at(a, none, "{}", 0, (struct sockaddr *)&lo2), 403);
    wr_webhook_auth_free(a);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_valid),
        cmocka_unit_test(test_standard_shorthand),
        cmocka_unit_test(test_standard_one_of_several),
        cmocka_unit_test(test_standard_refusals),
        cmocka_unit_test(test_github),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_no_auth_accepts),
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_allow_from),
    };
    return cmocka_run_group_tests(tests, setup_env, NULL);
}
