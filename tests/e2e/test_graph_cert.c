/*
 * test_graph_cert — end-to-end tests of engine/graph/graph's certificate credential against a real
 * graphsim: a client that signs in with a JWT client assertion (no secret at all) and reads a
 * user, and a client whose certificate is not registered on the app, which gets the identity
 * platform's invalid_client / AADSTS700027 for every waiting request without any key material
 * in the message.
 *
 * The RSA keys and self-signed certificates are made here with libcrypto; the seed is a copy
 * of tests/graphsim/seed.json with certificate A registered, written to a temporary directory.
 * One event_base per test with a deadline (event_base_loopexit from a timer, never a sleep).
 * graphsim's path comes from argv[1] or WEIR_GRAPHSIM; the seed from WEIR_SOURCE_DIR.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "engine/base/strutil.h"
#include "engine/graph/graph.h"
#include "sim.h"

#define CLIENT_ID "00000000-0000-0000-0000-000000000001"
#define TENANT    "contoso.onmicrosoft.com"
#define ADELE     "/users/adele.vance%40contoso.onmicrosoft.com"

static const char *graphsim_path;
static char src_seed[4096];
static char tmpdir[] = "/tmp/weir-cert-XXXXXX";
static char seed_path[4200];

/* Certificate A is registered on the simulated app; B is a stranger's. */
static char *cert_a, *key_a, *cert_b, *key_b;

/* {====== Keys and certificates ====== */

static char *bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);

    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

/* A fresh RSA-2048 key and a one-day self-signed certificate for it, both as PEM (owned). */
static void make_cert(const char *cn, char **cert_pem, char **key_pem)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *b;

    assert_non_null(key);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    *cert_pem = bio_text(b);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    *key_pem = bio_text(b);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* Writes the seed copy with certificate A registered next to the secret. */
static void write_seed(void)
{
    struct json_object *seed = json_object_from_file(src_seed), *app, *certs;

    assert_non_null(seed);
    assert_true(json_object_object_get_ex(seed, "app", &app));
    certs = json_object_new_array();
    json_object_array_add(certs, json_object_new_string(cert_a));
    json_object_object_add(app, "certificates", certs);
    snprintf(seed_path, sizeof(seed_path), "%s/seed.json", tmpdir);
    assert_int_equal(json_object_to_file_ext(seed_path, seed, JSON_C_TO_STRING_PLAIN), 0);
    json_object_put(seed);
}

/* }====== */

/* {====== Client fixture ====== */

struct call {
    bool done;
    bool ok;
    bool retriable;
    long status;
    char code[64];
    char message[1024];
    char upn[128];
};

struct fixture {
    struct sim sim;
    struct event_base *base;
    struct wr_graph *g;
    struct call calls[4];
    int issued;
    int completed;
};

static struct fixture F;

static int teardown(void **state)
{
    (void)state;
    wr_graph_free(F.g);
    F.g = NULL;
    if (F.base != NULL) {
        event_base_free(F.base);
        F.base = NULL;
    }
    return sim_stop(&F.sim);
}

/* Starts graphsim and a client signing in with the given certificate and key. */
static void start(const char *cert, const char *key)
{
    struct wr_graph_options o = {0};
    char err[WR_ERR_MAX] = "";

    memset(&F, 0, sizeof(F));
    sim_start(&F.sim, graphsim_path, seed_path, NULL);
    o.authority = F.sim.authority;
    o.tenant = TENANT;
    o.client_id = CLIENT_ID;
    o.client_certificate_pem = cert;
    o.client_key_pem = key;
    o.base_url = F.sim.base_url;
    F.base = event_base_new();
    assert_non_null(F.base);
    F.g = wr_graph_new(F.base, &o, err, sizeof(err));
    if (F.g == NULL) {
        fail_msg("wr_graph_new: %s", err);
    }
}

static void on_done(void *arg, const struct wr_graph_result *res)
{
    struct call *c = arg;
    struct json_object *v;

    c->done = true;
    c->ok = res->ok;
    c->retriable = res->retriable;
    c->status = res->status;
    snprintf(c->code, sizeof(c->code), "%s", res->error_code ? res->error_code : "");
    snprintf(c->message, sizeof(c->message), "%s", res->error_message ? res->error_message : "");
    if (res->body != NULL && json_object_object_get_ex(res->body, "userPrincipalName", &v)) {
        snprintf(c->upn, sizeof(c->upn), "%s", json_object_get_string(v));
    }
    if (++F.completed >= F.issued) {
        event_base_loopbreak(F.base);
    }
}

static void issue(const char *path)
{
    assert_int_equal(wr_graph_request(F.g, "GET", path, NULL, 0, on_done, &F.calls[F.issued]), 0);
    F.issued++;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

static void run(int64_t deadline_ms)
{
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {.tv_sec = deadline_ms / 1000, .tv_usec = (deadline_ms % 1000) * 1000};

    assert_non_null(deadline);
    evtimer_add(deadline, &tv);
    event_base_dispatch(F.base);
    event_free(deadline);
    if (F.completed < F.issued) {
        fail_msg("deadline: %d of %d requests completed", F.completed, F.issued);
    }
}

/* True when text holds any 40-character run of the key's base64 body. */
static bool leaks_key(const char *text, const char *key_pem)
{
    const char *body = strchr(key_pem, '\n');

    if (strstr(text, "PRIVATE KEY") != NULL) {
        return true;
    }
    for (const char *p = body; p != NULL && *p != '\0' && strlen(p) > 41; p = strchr(p + 1, '\n')) {
        char chunk[41];

        memcpy(chunk, p + 1, 40);
        chunk[40] = '\0';
        if (strchr(chunk, '-') == NULL && strstr(text, chunk) != NULL) {
            return true;
        }
    }
    return false;
}

/* }====== */

/* {====== Tests ====== */

/* 1. Certificate A signs in: a user is read, one token call, nothing else needed. */
static void test_certificate_login(void **state)
{
    struct wr_graph_stats st;

    (void)state;
    start(cert_a, key_a);
    issue(ADELE);
    issue("/users/00000000-0000-0000-0000-00000000dead");
    run(15000);
    if (!F.calls[0].ok) {
        fail_msg("certificate login failed: %ld %s: %s", F.calls[0].status, F.calls[0].code,
                 F.calls[0].message);
    }
    assert_string_equal(F.calls[0].upn, "adele.vance@contoso.onmicrosoft.com");
    assert_false(F.calls[1].ok);
    assert_int_equal(F.calls[1].status, 404);
    assert_string_equal(F.calls[1].code, "Request_ResourceNotFound");
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.token_fetches, 1);
    assert_int_equal(sim_stat(&F.sim, "token_requests"), 1);
    assert_int_equal(sim_stat(&F.sim, "tokens_issued"), 1);
    assert_int_equal(sim_stat(&F.sim, "unauthorized"), 0);
    /* On the wire: a PS256 assertion naming the certificate by x5t#S256 (Microsoft's current
     * certificate-credentials page), graphsim verifying it with RSA-PSS. */
    {
        struct json_object *log = sim_log(&F.sim), *form = NULL, *hdr = NULL, *v;

        for (size_t i = 0; i < json_object_array_length(log) && form == NULL; i++) {
            json_object_object_get_ex(json_object_array_get_idx(log, i), "form", &form);
        }
        assert_non_null(form);
        assert_true(json_object_object_get_ex(form, "client_assertion_header", &hdr));
        assert_true(json_object_object_get_ex(hdr, "alg", &v));
        assert_string_equal(json_object_get_string(v), "PS256");
        assert_true(json_object_object_get_ex(hdr, "x5t#S256", &v));
        assert_int_equal(strlen(json_object_get_string(v)), 43);
        assert_false(json_object_object_get_ex(hdr, "x5t", NULL));
        assert_true(json_object_object_get_ex(form, "client_secret", &v));
        assert_false(json_object_get_boolean(v));
        json_object_put(log);
    }
}

/* 2. Certificate B is not registered: invalid_client with AADSTS700027 for every waiting
 * request, not retriable, one token call, and neither key text nor assertion in the message. */
static void test_unregistered_certificate(void **state)
{
    struct wr_graph_stats st;

    (void)state;
    start(cert_b, key_b);
    issue(ADELE);
    issue("/users?$top=1");
    run(15000);
    for (int i = 0; i < 2; i++) {
        struct call *c = &F.calls[i];

        assert_false(c->ok);
        assert_false(c->retriable);
        assert_int_equal(c->status, 401);
        assert_string_equal(c->code, "invalid_client");
        if (strstr(c->message, "AADSTS700027") == NULL) {
            fail_msg("expected AADSTS700027, got: %s", c->message);
        }
        assert_false(leaks_key(c->message, key_b));
        assert_null(strstr(c->message, "eyJ")); /* no JWT (header, claims) echoed */
    }
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.token_fetches, 1);
    assert_int_equal(sim_stat(&F.sim, "tokens_issued"), 0);
    assert_int_equal(sim_stat(&F.sim, "requests"), 1); /* only the token call */
}

/* 3. Options that cannot work fail at wr_graph_new with a clear message and no key text. */
static void test_bad_credentials_at_new(void **state)
{
    struct event_base *base = event_base_new();
    struct wr_graph_options o = {
        .authority = "http://127.0.0.1:9",
        .tenant = TENANT,
        .client_id = CLIENT_ID,
        .base_url = "http://127.0.0.1:9/v1.0",
    };
    char err[WR_ERR_MAX];

    (void)state;
    assert_non_null(base);
    /* A's certificate with B's key. */
    o.client_certificate_pem = cert_a;
    o.client_key_pem = key_b;
    assert_null(wr_graph_new(base, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "does not belong"));
    assert_false(leaks_key(err, key_b));
    /* A certificate without a key, and a secret next to a certificate. */
    o.client_key_pem = NULL;
    assert_null(wr_graph_new(base, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "needs both"));
    o.client_key_pem = key_a;
    o.client_secret = "sim-secret";
    assert_null(wr_graph_new(base, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "not both"));
    o.client_secret = NULL;
    /* The right pair is accepted (no traffic until the first request). */
    {
        struct wr_graph *g = wr_graph_new(base, &o, err, sizeof(err));

        assert_non_null(g);
        wr_graph_free(g);
    }
    event_base_free(base);
}

/* }====== */

static int group_teardown(void **state)
{
    (void)state;
    unlink(seed_path);
    rmdir(tmpdir);
    free(cert_a);
    free(cert_b);
    free(key_a);
    free(key_b);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    make_cert("weir-test-a", &cert_a, &key_a);
    make_cert("weir-test-b", &cert_b, &key_b);
    write_seed();
    return 0;
}

int main(int argc, char **argv)
{
    const char *src = getenv("WEIR_SOURCE_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_certificate_login, teardown),
        cmocka_unit_test_teardown(test_unregistered_certificate, teardown),
        cmocka_unit_test(test_bad_credentials_at_new),
    };
    int rc;

    graphsim_path = argc > 1 ? argv[1] : getenv("WEIR_GRAPHSIM");
    if (graphsim_path == NULL || src == NULL) {
        fprintf(stderr, "usage: %s GRAPHSIM (with WEIR_SOURCE_DIR set)\n", argv[0]);
        return 2;
    }
    snprintf(src_seed, sizeof(src_seed), "%s/tests/graphsim/seed.json", src);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return rc;
}
