/*
 * net_guard — the destination policy of outbound HTTP; see net_guard.h.
 *
 * Addresses are judged as bytes in network order. The refused ranges are two tables, read top
 * to bottom (a more specific entry sits above the wider one it carves out of); IPv6 forms that
 * carry an IPv4 address are unwrapped first and judged by the IPv4 table.
 *
 * wr_net_prefix_parse is also the parser of triggers' sender allow lists (one syntax, one
 * rule for host bits); it lives here because a trigger may use the engine, not the reverse.
 */
#include "engine/net/net_guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"

struct wr_net_guard {
    struct wr_net_prefix *items;
    size_t count;
};

/* {====== addresses as bytes ====== */

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* True when the first `bits` bits of a and b are equal. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0) {
        return false;
    }
    if (rest == 0) {
        return true;
    }
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/*
 * The address bytes and family of sa, with an IPv4-mapped IPv6 address turned into the IPv4
 * address it is. false when sa is not a complete AF_INET or AF_INET6 address.
 */
static bool addr_bytes(const struct sockaddr *sa, size_t salen, int *family, unsigned char *out)
{
    if (!sa) {
        return false;
    }
    if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        *family = AF_INET;
        return true;
    }
    if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        *family = AF_INET6;
        if (memcmp(out, v4_mapped, sizeof(v4_mapped)) == 0) {
            memmove(out, out + 12, 4);
            *family = AF_INET;
        }
        return true;
    }
    return false;
}

/* }====== */

/* {====== the refused ranges ====== */

struct range {
    unsigned char net[16];
    unsigned bits;
    const char *why;
};

static const struct range v4_refused[] = {
    {{0, 0, 0, 0}, 8, "\"this network\" (0.0.0.0/8 reaches this host)"},
    {{10, 0, 0, 0}, 8, "private network (RFC 1918)"},
    {{100, 64, 0, 0}, 10, "shared address space (100.64.0.0/10, carrier-grade NAT)"},
    {{127, 0, 0, 0}, 8, "loopback"},
    {{169, 254, 169, 254}, 32, "link-local: the cloud metadata service"},
    {{169, 254, 0, 0}, 16, "link-local"},
    {{172, 16, 0, 0}, 12, "private network (RFC 1918)"},
    {{192, 0, 0, 0}, 24, "IETF protocol assignments (192.0.0.0/24)"},
    {{192, 168, 0, 0}, 16, "private network (RFC 1918)"},
    {{198, 18, 0, 0}, 15, "benchmarking network (198.18.0.0/15)"},
    {{224, 0, 0, 0}, 4, "multicast"},
    {{255, 255, 255, 255}, 32, "broadcast"},
    {{240, 0, 0, 0}, 4, "reserved (240.0.0.0/4)"},
};

/* Checked after :: and ::1 and after the forms that carry an IPv4 address. */
static const struct range v6_refused[] = {
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "local-use IPv4/IPv6 translation (64:ff9b:1::/48)"},
    {{0}, 8, "reserved (::/8)"},
    {{0xfc}, 7, "unique local (fc00::/7)"},
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "site-local (fec0::/10)"},
    {{0xff}, 8, "multicast"},
};

static const char *lookup(const struct range *t, size_t n, const unsigned char *a)
{
    for (size_t i = 0; i < n; i++) {
        if (prefix_equal(a, t[i].net, t[i].bits)) {
            return t[i].why;
        }
    }
    return NULL;
}

static const char *classify_v6(const unsigned char *a)
{
    static const unsigned char zero[16] = {0};
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    if (memcmp(a, zero, 15) == 0 && a[15] <= 1) {
        return a[15] ? "loopback" : "unspecified address (reaches this host)";
    }
    /* IPv4-compatible (::a.b.c.d, deprecated but still parsed) and NAT64: the router or the
       stack turns them into the IPv4 address they carry, so that address is what counts. */
    if (memcmp(a, zero, 12) == 0 || memcmp(a, nat64, 12) == 0) {
        return lookup(v4_refused, sizeof(v4_refused) / sizeof(v4_refused[0]), a + 12);
    }
    /* 6to4: 2002:AABB:CCDD::/48 is relayed to AA.BB.CC.DD. */
    if (a[0] == 0x20 && a[1] == 0x02) {
        return lookup(v4_refused, sizeof(v4_refused) / sizeof(v4_refused[0]), a + 2);
    }
    return lookup(v6_refused, sizeof(v6_refused) / sizeof(v6_refused[0]), a);
}

const char *wr_net_classify(const struct sockaddr *sa, size_t salen)
{
    unsigned char a[16];
    int family;
    if (!addr_bytes(sa, salen, &family, a)) {
        return "not an IPv4 or IPv6 address";
    }
    if (family == AF_INET) {
        return lookup(v4_refused, sizeof(v4_refused) / sizeof(v4_refused[0]), a);
    }
    return classify_v6(a);
}

/* }====== */

/* {====== the allow list ====== */

enum wr_net_prefix_status wr_net_prefix_parse(const char *s, struct wr_net_prefix *out, char *why,
                                              size_t whylen)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned max;

    memset(out, 0, sizeof(*out));
    if (n > 0 && n < sizeof(addr)) {
        memcpy(addr, s, n);
        addr[n] = '\0';
    } else {
        addr[0] = '\0';
    }
    /* inet_pton takes dotted decimal only: 0x7f.1 or 127.1 are not networks here. */
    if (addr[0] && inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (addr[0] && inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        snprintf(why, whylen,
                 "'%.*s' is not an IP address or network (such as 10.1.0.0/16, 127.0.0.1 or "
                 "fd00::/8)",
                 wr_utf8_prec(s, 80), s);
        return WR_NET_PREFIX_INVALID;
    }
    out->bits = max;
    if (slash) {
        const char *p = slash + 1;
        unsigned v = 0;
        /* Digits only: no sign, spaces or leading zeros ("/08" is a typo, not a prefix). */
        bool ok = isdigit((unsigned char)p[0]) && strlen(p) <= 3 && !(p[0] == '0' && p[1]);
        for (; ok && *p; p++) {
            ok = isdigit((unsigned char)*p);
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (!ok || v > max) {
            snprintf(why, whylen, "'%.*s': the prefix length must be a number 0-%u",
                     wr_utf8_prec(s, 80), s, max);
            return WR_NET_PREFIX_INVALID;
        }
        out->bits = v;
    }
    for (unsigned i = out->bits; i < max; i++) {
        if (out->addr[i / 8] & (0x80 >> (i % 8))) {
            char net[INET6_ADDRSTRLEN];
            struct wr_net_prefix fixed = *out;
            for (unsigned j = out->bits; j < max; j++) {
                fixed.addr[j / 8] &= (unsigned char)~(0x80 >> (j % 8));
            }
            inet_ntop(out->family, fixed.addr, net, sizeof(net));
            snprintf(why, whylen, "'%.*s' has host bits set below /%u; did you mean %s/%u?",
                     wr_utf8_prec(s, 80), s, out->bits, net, out->bits);
            return WR_NET_PREFIX_HOST_BITS;
        }
    }
    if (out->family == AF_INET6 && out->bits >= 96 &&
        memcmp(out->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->bits -= 96;
    }
    return WR_NET_PREFIX_OK;
}

bool wr_net_prefix_match(const struct wr_net_prefix *p, const struct sockaddr *sa, size_t salen)
{
    unsigned char a[16];
    int family;
    return addr_bytes(sa, salen, &family, a) && family == p->family &&
           prefix_equal(a, p->addr, p->bits);
}

struct wr_net_guard *wr_net_guard_new(void)
{
    return wr_xcalloc(1, sizeof(struct wr_net_guard));
}

void wr_net_guard_free(struct wr_net_guard *g)
{
    if (!g) {
        return;
    }
    free(g->items);
    free(g);
}

int wr_net_guard_allow(struct wr_net_guard *g, const char *cidr, char *why, size_t whylen)
{
    struct wr_net_prefix p;
    if (wr_net_prefix_parse(cidr, &p, why, whylen) != WR_NET_PREFIX_OK) {
        return -1;
    }
    g->items = wr_xrealloc(g->items, (g->count + 1) * sizeof(*g->items));
    g->items[g->count++] = p;
    return 0;
}

size_t wr_net_guard_count(const struct wr_net_guard *g)
{
    return g ? g->count : 0;
}

const char *wr_net_guard_check(const struct wr_net_guard *g, const struct sockaddr *sa,
                               size_t salen)
{
    const char *why = wr_net_classify(sa, salen);
    if (!why) {
        return NULL;
    }
    for (size_t i = 0; i < wr_net_guard_count(g); i++) {
        if (wr_net_prefix_match(&g->items[i], sa, salen)) {
            return NULL;
        }
    }
    return why;
}

/* }====== */

char *wr_net_addr_format(const struct sockaddr *sa, size_t salen, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    if (sa && sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        if (port) {
            snprintf(buf, len, "%s:%u", host, port);
        } else {
            snprintf(buf, len, "%s", host);
        }
    } else if (sa && sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        if (port) {
            snprintf(buf, len, "[%s]:%u", host, port);
        } else {
            snprintf(buf, len, "[%s]", host);
        }
    } else {
        snprintf(buf, len, "(not an IP address)");
    }
    return buf;
}
