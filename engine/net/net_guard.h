/*
 * net_guard — which network destinations weir may connect to on a workflow's behalf: the
 * server-side request forgery (SSRF) guard of the http-request action.
 *
 * A workflow author (or an event, through a template) chooses an http-request URL, but weir
 * runs inside the operator's network: loopback services, the cloud metadata endpoint
 * (169.254.169.254), private and unique-local ranges must not be reachable that way unless the
 * operator lists them in weir.yaml `http.allow`. The guard judges a socket address, never a
 * host name or URL text: the caller asks at connect time, with the address actually about to
 * be used, so DNS rebinding, numeric host spellings (2130706433, 0x7f.1, 0177.0.0.1, 127.1)
 * and IPv4 addresses wrapped in IPv6 all arrive here as the same bytes.
 *
 * This module only decides. It neither resolves, connects, logs nor reads configuration
 * files; engine/config.c fills the allow list and actions/http_request.c asks.
 *
 * Its network parser and matcher (wr_net_prefix_parse, wr_net_prefix_match) are weir's one
 * CIDR syntax: `http.allow` here and a webhook route's `allow_from` (triggers/webhook/auth.c)
 * read networks through them, with one rule for host bits (refused, with the network meant).
 */
#ifndef WR_NET_GUARD_H
#define WR_NET_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* One network (an allow-list or allow_from entry): IPv4 or IPv6. */
struct wr_net_prefix {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address, host bits zero (4 bytes used for AF_INET) */
    unsigned bits;          /* prefix length: 0..32 or 0..128 */
};

/* What wr_net_prefix_parse made of its text, for callers that word the first kind their way. */
enum wr_net_prefix_status {
    WR_NET_PREFIX_OK = 0,
    WR_NET_PREFIX_INVALID,   /* not an address or network, or no prefix length 0-32 / 0-128 */
    WR_NET_PREFIX_HOST_BITS, /* a network with host bits set below its prefix (10.0.0.1/8) */
};

/*
 * Parses "10.1.0.0/16", "fd00:1::/48" or a bare address (a /32 or /128), strictly: dotted
 * decimal IPv4 only, a prefix length of digits without a sign or leading zero, no host bits set
 * below the prefix (10.0.0.1/8 is refused: "'10.0.0.1/8' has host bits set below /8; did you
 * mean 10.0.0.0/8?", since in a security setting that is more likely a typo than a wish for all
 * of 10/8), and an IPv4-mapped IPv6 network (::ffff:a.b.c.d/N, N >= 96) becomes the IPv4
 * network it denotes. Returns WR_NET_PREFIX_OK (0), or another status with a reason in why
 * (which names s).
 */
enum wr_net_prefix_status wr_net_prefix_parse(const char *s, struct wr_net_prefix *out, char *why,
                                              size_t whylen);

/*
 * True when sa (salen bytes) is in p. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the
 * IPv4 address it carries: on a dual-stack socket both reach the same host.
 */
bool wr_net_prefix_match(const struct wr_net_prefix *p, const struct sockaddr *sa, size_t salen);

/*
 * Why sa is refused when nothing allows it — "loopback", "private network (RFC 1918)",
 * "link-local (cloud metadata service)", ... (static strings) — or NULL for an ordinary
 * public address. Refused by default: IPv4 0.0.0.0/8, 10/8, 100.64/10, 127/8, 169.254/16,
 * 172.16/12, 192.0.0.0/24, 192.168/16, 198.18/15, 224/4, 240/4 and 255.255.255.255; IPv6 ::,
 * ::1, fc00::/7, fe80::/10, fec0::/10, ff00::/8, 64:ff9b:1::/48 and the rest of ::/8. IPv6
 * forms that carry an IPv4 address — mapped ::ffff:0:0/96, compatible ::/96, NAT64
 * 64:ff9b::/96 and 6to4 2002::/16 — are judged by that IPv4 address. Anything that is not
 * AF_INET or AF_INET6 (or is shorter than its family's sockaddr) is refused too.
 */
const char *wr_net_classify(const struct sockaddr *sa, size_t salen);

/* The allow list (http.allow): an owned, immutable-after-filling set of prefixes. */
struct wr_net_guard;

/* An empty allow list: every range wr_net_classify names is refused. */
struct wr_net_guard *wr_net_guard_new(void);

/* Frees g. NULL is fine. */
void wr_net_guard_free(struct wr_net_guard *g);

/*
 * Adds one entry (wr_net_prefix_parse's syntax). Returns 0, or -1 with a reason in why and g
 * unchanged.
 */
int wr_net_guard_allow(struct wr_net_guard *g, const char *cidr, char *why, size_t whylen);

/* Entries in g (0 for NULL). */
size_t wr_net_guard_count(const struct wr_net_guard *g);

/*
 * The decision: NULL when weir may connect to sa, else the reason it may not (static; see
 * wr_net_classify). An address is allowed when it is public or an entry of g matches it. g
 * NULL is the empty allow list, so a caller that forgot to pass one is safe, not open.
 */
const char *wr_net_guard_check(const struct wr_net_guard *g, const struct sockaddr *sa,
                               size_t salen);

/*
 * Writes sa as "192.0.2.1:443" or "[2001:db8::1]:443" (port 0 is left out) into buf, always
 * NUL-terminated; "(not an IP address)" for other families. Returns buf.
 */
char *wr_net_addr_format(const struct sockaddr *sa, size_t salen, char *buf, size_t len);

#endif
