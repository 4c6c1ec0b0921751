/*
 * test_net_guard — unit tests for engine/net/net_guard, the SSRF guard of http-request: a table of
 * addresses with the verdict each must get (every refused IPv4 and IPv6 range at and just
 * outside its edges, the IPv6 forms that carry an IPv4 address, non-IP addresses), allow-list
 * parsing (strict syntax, host bits, prefix lengths) and matching (IPv4-mapped forms, /32 and
 * /128 precision, NULL = empty), address formatting, and weir.yaml `http.allow` through
 * wr_config_load with file:line errors that name the bad entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "engine/base/strutil.h"
#include "engine/config.h"
#include "engine/base/diag.h"
#include "engine/net/net_guard.h"

/* A socket address from text (IPv4 or IPv6) and a port; fails the test on bad text. */
static struct sockaddr_storage addr_port(const char *text, unsigned port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
    } else {
        fail_msg("bad address in the test: %s", text);
    }
    return ss;
}

static struct sockaddr_storage addr(const char *text)
{
    return addr_port(text, 0);
}

#define SA(ss) ((const struct sockaddr *)&(ss))

/* {====== classification ====== */

/* Each address and a fragment of the reason it is refused, or NULL when it is public. */
static const struct {
    const char *addr;
    const char *why;
} verdicts[] = {
    /* 0.0.0.0/8: connecting to 0.0.0.0 reaches this host on Linux. */
    {"0.0.0.0", "this network"},
    {"0.255.255.255", "this network"},
    {"1.0.0.0", NULL},
    {"9.255.255.255", NULL},
    {"10.0.0.0", "RFC 1918"},
    {"10.255.255.255", "RFC 1918"},
    {"11.0.0.0", NULL},
    {"100.63.255.255", NULL},
    {"100.64.0.0", "carrier-grade NAT"},
    {"100.127.255.255", "carrier-grade NAT"},
    {"100.128.0.0", NULL},
    {"126.255.255.255", NULL},
    {"127.0.0.1", "loopback"},
    {"127.255.255.254", "loopback"},
    {"128.0.0.0", NULL},
    {"169.253.255.255", NULL},
    {"169.254.0.1", "link-local"},
    {"169.254.169.254", "cloud metadata"},
    {"169.254.255.255", "link-local"},
    {"169.255.0.0", NULL},
    {"172.15.255.255", NULL},
    {"172.16.0.1", "RFC 1918"},
    {"172.31.255.255", "RFC 1918"},
    {"172.32.0.0", NULL},
    {"192.0.0.8", "IETF protocol assignments"},
    {"192.0.1.0", NULL},
    {"192.167.255.255", NULL},
    {"192.168.1.1", "RFC 1918"},
    {"192.169.0.0", NULL},
    {"198.17.255.255", NULL},
    {"198.18.0.1", "benchmarking"},
    {"198.19.255.255", "benchmarking"},
    {"198.20.0.0", NULL},
    {"223.255.255.255", NULL},
    {"224.0.0.1", "multicast"},
    {"239.255.255.250", "multicast"},
    {"240.0.0.1", "reserved"},
    {"255.255.255.254", "reserved"},
    {"255.255.255.255", "broadcast"},
    {"8.8.8.8", NULL},
    {"93.184.216.34", NULL},
    /* IPv6 */
    {"::", "unspecified"},
    {"::1", "loopback"},
    {"2001:4860:4860::8888", NULL},
    {"2606:4700:4700::1111", NULL},
    {"fc00::1", "unique local"},
    {"fd00::1", "unique local"},
    {"fd00:ec2::254", "unique local"}, /* the AWS metadata service over IPv6 */
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local"},
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"fe00::1", NULL},
    {"fe80::1", "link-local"},
    {"febf:ffff::1", "link-local"},
    {"fec0::1", "site-local"},
    {"ff02::1", "multicast"},
    {"ff0e::1", "multicast"},
    /* IPv4 inside IPv6: judged by the IPv4 address. */
    {"::ffff:127.0.0.1", "loopback"},
    {"::ffff:7f00:1", "loopback"},
    {"::ffff:169.254.169.254", "cloud metadata"},
    {"::ffff:10.1.2.3", "RFC 1918"},
    {"::ffff:0.0.0.0", "this network"},
    {"::ffff:8.8.8.8", NULL},
    {"::127.0.0.1", "loopback"},   /* IPv4-compatible */
    {"::0.0.0.2", "this network"}, /* IPv4-compatible, not :: nor ::1 */
    {"::10.0.0.1", "RFC 1918"},
    {"::8.8.8.8", NULL},
    {"64:ff9b::127.0.0.1", "loopback"}, /* NAT64 */
    {"64:ff9b::a9fe:a9fe", "cloud metadata"},
    {"64:ff9b::192.168.0.1", "RFC 1918"},
    {"64:ff9b::8.8.8.8", NULL},
    {"64:ff9b:1::1", "local-use"},
    {"2002:7f00:1::", "loopback"}, /* 6to4 */
    {"2002:a9fe:a9fe::1", "cloud metadata"},
    {"2002:808:808::1", NULL},
    /* The rest of ::/8: SIIT's ::ffff:0:a.b.c.d and other reserved space. */
    {"::ffff:0:7f00:1", "reserved (::/8)"},
    {"::1:0:0:1", "reserved (::/8)"},
};

static void test_classify_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
        struct sockaddr_storage ss = addr(verdicts[i].addr);
        const char *why = wr_net_classify(SA(ss), sizeof(ss));
        /* The decision without an allow list is the classification. */
        const char *dec = wr_net_guard_check(NULL, SA(ss), sizeof(ss));
        bool ok = verdicts[i].why ? why && strstr(why, verdicts[i].why) : why == NULL;
        if (!ok || dec != why) {
            print_error("%s: expected %s, got %s\n", verdicts[i].addr,
                        verdicts[i].why ? verdicts[i].why : "public", why ? why : "public (NULL)");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_classify_not_ip(void **state)
{
    (void)state;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, "/var/run/docker.sock");
    assert_non_null(wr_net_classify((const struct sockaddr *)&un, sizeof(un)));
    assert_non_null(wr_net_guard_check(NULL, (const struct sockaddr *)&un, sizeof(un)));
    assert_non_null(wr_net_classify(NULL, 0));
    /* A public address that is cut short is not judged as one. */
    struct sockaddr_storage ss = addr("8.8.8.8");
    assert_non_null(wr_net_classify(SA(ss), sizeof(struct sockaddr_in) - 1));
    ss = addr("2001:4860:4860::8888");
    assert_non_null(wr_net_classify(SA(ss), sizeof(struct sockaddr_in)));
    assert_null(wr_net_classify(SA(ss), sizeof(struct sockaddr_in6)));
}

/* }====== */

/* {====== the allow list ====== */

static void test_prefix_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int family;
        unsigned bits;
    } good[] = {
        {"10.0.0.0/8", AF_INET, 8},
        {"127.0.0.1", AF_INET, 32},
        {"127.0.0.1/32", AF_INET, 32},
        {"0.0.0.0/0", AF_INET, 0},
        {"192.168.1.0/24", AF_INET, 24},
        {"::1", AF_INET6, 128},
        {"fd00::/8", AF_INET6, 8},
        {"::/0", AF_INET6, 0},
        {"fe80::/10", AF_INET6, 10},
        {"::ffff:10.0.0.0/104", AF_INET, 8}, /* an IPv4 network written mapped */
        {"::ffff:127.0.0.1", AF_INET, 32},
    };
    char why[WR_ERR_MAX];
    struct wr_net_prefix p;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        why[0] = '\0';
        if (wr_net_prefix_parse(good[i].text, &p, why, sizeof(why)) != 0) {
            fail_msg("%s: %s", good[i].text, why);
        }
        assert_int_equal(p.family, good[i].family);
        assert_int_equal(p.bits, good[i].bits);
    }

    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "is not an IP address or network"},
        {"/8", "is not an IP address or network"},
        {"localhost", "is not an IP address or network"},
        {"127.1", "is not an IP address or network"},
        {"2130706433", "is not an IP address or network"},
        {"0x7f000001", "is not an IP address or network"},
        {"0x7f.0.0.1", "is not an IP address or network"},
        {"0177.0.0.1", "is not an IP address or network"},
        {"10.0.0.0/", "prefix length must be a number 0-32"},
        {"10.0.0.0/33", "prefix length must be a number 0-32"},
        {"10.0.0.0/08", "prefix length must be a number 0-32"},
        {"10.0.0.0/-1", "prefix length must be a number 0-32"},
        {"10.0.0.0/ 8", "prefix length must be a number 0-32"},
        {"10.0.0.0/8 ", "prefix length must be a number 0-32"},
        {"10.0.0.0/8/8", "prefix length must be a number 0-32"},
        {"::/129", "prefix length must be a number 0-128"},
        {"10.0.0.1/8", "host bits set below /8; did you mean 10.0.0.0/8?"},
        {"192.168.1.1/24", "did you mean 192.168.1.0/24?"},
        {"fd00::1/8", "did you mean fd00::/8?"},
        {" 10.0.0.0/8", "is not an IP address or network"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (wr_net_prefix_parse(bad[i].text, &p, why, sizeof(why)) == 0) {
            fail_msg("'%s' was accepted", bad[i].text);
        }
        if (!strstr(why, bad[i].why)) {
            fail_msg("'%s': expected '%s' in: %s", bad[i].text, bad[i].why, why);
        }
        /* The message names the entry, so a config error points at what to fix. */
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i].text);
        if (!strstr(why, quoted)) {
            fail_msg("'%s': the message does not name the entry: %s", bad[i].text, why);
        }
    }
}

static void test_guard_allow(void **state)
{
    (void)state;
    char why[WR_ERR_MAX];
    struct wr_net_guard *g = wr_net_guard_new();
    assert_int_equal(wr_net_guard_count(g), 0);
    static const char *const entries[] = {"127.0.0.1/32", "10.20.0.0/16", "fd00:1::/48",
                                          "::ffff:192.168.5.0/120"};
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        assert_int_equal(wr_net_guard_allow(g, entries[i], why, sizeof(why)), 0);
    }
    assert_int_equal(wr_net_guard_allow(g, "10.20.0.1/16", why, sizeof(why)), -1);
    assert_int_equal(wr_net_guard_count(g), 4); /* a refused entry changes nothing */

    static const struct {
        const char *addr;
        bool allowed;
    } cases[] = {
        {"127.0.0.1", true},
        {"::ffff:127.0.0.1", true}, /* the same host */
        {"127.0.0.2", false},       /* /32 means one address */
        {"::1", false},             /* another family: list it separately */
        {"10.20.3.4", true},
        {"10.21.0.1", false},
        {"fd00:1::5", true},
        {"fd00:2::1", false},
        {"192.168.5.9", true}, /* from the mapped entry */
        {"::ffff:192.168.5.9", true},
        {"192.168.6.1", false},
        {"64:ff9b::127.0.0.1", false}, /* NAT64 reaches another host's view of 127.0.0.1 */
        {"2002:7f00:1::", false},
        {"169.254.169.254", false},
        {"8.8.8.8", true}, /* public: needs no entry */
        {"2001:4860:4860::8888", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss = addr(cases[i].addr);
        const char *dec = wr_net_guard_check(g, SA(ss), sizeof(ss));
        if ((dec == NULL) != cases[i].allowed) {
            fail_msg("%s: expected %s, got %s", cases[i].addr,
                     cases[i].allowed ? "allowed" : "refused", dec ? dec : "allowed");
        }
    }
    wr_net_guard_free(g);

    /* 0.0.0.0/0 opens IPv4 only. */
    g = wr_net_guard_new();
    assert_int_equal(wr_net_guard_allow(g, "0.0.0.0/0", why, sizeof(why)), 0);
    struct sockaddr_storage v4 = addr("169.254.169.254"), v6 = addr("::1");
    assert_null(wr_net_guard_check(g, SA(v4), sizeof(v4)));
    assert_non_null(wr_net_guard_check(g, SA(v6), sizeof(v6)));
    wr_net_guard_free(g);
    wr_net_guard_free(NULL);
    assert_int_equal(wr_net_guard_count(NULL), 0);
}

static void test_addr_format(void **state)
{
    (void)state;
    char buf[80];
    struct sockaddr_storage a = addr_port("127.0.0.1", 8080), b = addr_port("::1", 443),
                            c = addr("10.0.0.1"), d = addr_port("::ffff:127.0.0.1", 80);
    assert_string_equal(wr_net_addr_format(SA(a), sizeof(a), buf, sizeof(buf)), "127.0.0.1:8080");
    assert_string_equal(wr_net_addr_format(SA(b), sizeof(b), buf, sizeof(buf)), "[::1]:443");
    assert_string_equal(wr_net_addr_format(SA(c), sizeof(c), buf, sizeof(buf)), "10.0.0.1");
    assert_string_equal(wr_net_addr_format(SA(d), sizeof(d), buf, sizeof(buf)),
                        "[::ffff:127.0.0.1]:80");
    assert_string_equal(wr_net_addr_format(NULL, 0, buf, sizeof(buf)), "(not an IP address)");
    char tiny[6];
    assert_string_equal(wr_net_addr_format(SA(a), sizeof(a), tiny, sizeof(tiny)), "127.0");
}

/* }====== */

/* {====== weir.yaml http.allow ====== */

#define CONFIG_HEAD                                                                                \
    "graph:\n"                                                                                     \
    "  tenant: contoso.onmicrosoft.com\n"                                                          \
    "  client_id: 00000000-0000-0000-0000-000000000001\n"                                          \
    "  client_secret: env:WEIR_GRAPH_SECRET\n"

/* Loads text as weir.yaml from a temporary directory; returns wr_config_load's result. */
static int load(const char *text, struct wr_config **cfg, struct wr_diags *d, char *file,
                size_t filelen)
{
    char dir[] = "/tmp/weir-net-guard-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(file, filelen, "%s/weir.yaml", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    int rc = wr_config_load(file, cfg, d);
    unlink(file);
    rmdir(dir);
    return rc;
}

/* The one message in d must contain each of the NULL-terminated fragments. */
static void expect_one_error(const struct wr_diags *d, ...)
{
    va_list ap;
    if (d->count != 1) {
        wr_diags_print(d, stderr);
        fail_msg("expected one error, got %zu", d->count);
    }
    va_start(ap, d);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        if (!strstr(d->items[0], s)) {
            va_end(ap);
            fail_msg("'%s' is not in: %s", s, d->items[0]);
        }
    }
    va_end(ap);
}

static void test_config(void **state)
{
    (void)state;
    struct wr_config *cfg = NULL;
    struct wr_diags d = {0};
    char file[128], where[160];

    /* Absent: an empty list, never NULL. */
    assert_int_equal(load(CONFIG_HEAD, &cfg, &d, file, sizeof(file)), 0);
    assert_non_null(cfg->http_allow);
    assert_int_equal(wr_net_guard_count(cfg->http_allow), 0);
    wr_config_free(cfg);

    assert_int_equal(load(CONFIG_HEAD "http:\n"
                                      "  allow: [127.0.0.1/32, 10.20.0.0/16, 'fd00::/8']\n",
                          &cfg, &d, file, sizeof(file)),
                     0);
    assert_int_equal(wr_net_guard_count(cfg->http_allow), 3);
    struct sockaddr_storage lo = addr("127.0.0.1"), lo2 = addr("127.0.0.2");
    assert_null(wr_net_guard_check(cfg->http_allow, SA(lo), sizeof(lo)));
    assert_non_null(wr_net_guard_check(cfg->http_allow, SA(lo2), sizeof(lo2)));
    wr_config_free(cfg);

    /* A bad entry: file:line:col of that entry, its key path, the entry and a hint. */
    assert_int_equal(load(CONFIG_HEAD "http:\n"
                                      "  allow:\n"
                                      "    - 127.0.0.1/32\n"
                                      "    - 10.0.0.1/8\n",
                          &cfg, &d, file, sizeof(file)),
                     -1);
    assert_null(cfg);
    snprintf(where, sizeof(where), "%s:8:", file);
    expect_one_error(&d, where, "http.allow[1]", "'10.0.0.1/8'", "did you mean 10.0.0.0/8?", NULL);
    wr_diags_clear(&d);

    assert_int_equal(load(CONFIG_HEAD "http:\n"
                                      "  allow: [localhost]\n",
                          &cfg, &d, file, sizeof(file)),
                     -1);
    snprintf(where, sizeof(where), "%s:6:", file);
    expect_one_error(&d, where, "http.allow[0]", "'localhost' is not an IP address", NULL);
    wr_diags_clear(&d);

    /* The table's own checks: a list of strings, and no unknown keys. */
    assert_int_equal(load(CONFIG_HEAD "http:\n"
                                      "  allow: 10.0.0.0/8\n",
                          &cfg, &d, file, sizeof(file)),
                     -1);
    expect_one_error(&d, "http.allow", "list", NULL);
    wr_diags_clear(&d);
    assert_int_equal(load(CONFIG_HEAD "http:\n"
                                      "  allow: [10.0.0.0/8, 3]\n",
                          &cfg, &d, file, sizeof(file)),
                     -1);
    expect_one_error(&d, "http.allow[1]", "expected a string", NULL);
    wr_diags_clear(&d);
    assert_int_equal(load(CONFIG_HEAD "http:\n"
                                      "  allowed: [10.0.0.0/8]\n",
                          &cfg, &d, file, sizeof(file)),
                     -1);
    expect_one_error(&d, "allowed", NULL);
    wr_diags_clear(&d);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_table), cmocka_unit_test(test_classify_not_ip),
        cmocka_unit_test(test_prefix_parse),   cmocka_unit_test(test_guard_allow),
        cmocka_unit_test(test_addr_format),    cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
