/*
 * listener — an evhttp bound to one address behind http_guard; see listener.h.
 */
#include "engine/net/listener.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/base/strutil.h"

struct wr_listener {
    struct evhttp *http;
    struct evhttp_bound_socket *bound; /* NULL once it stopped accepting */
    struct wr_http_guard *guard;
    int port;
    char addr[300];
};

int wr_listen_parse(const char *key, const char *listen, char *host, size_t hostlen, int *port,
                    char *err, size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t n = colon ? (size_t)(colon - listen) : 0;
    if (colon && listen[0] == '[' && colon[-1] == ']') {
        h++;
        n -= 2;
    }
    if (!colon || colon == listen || n >= hostlen) {
        snprintf(err, errlen, "%s: '%s' is not HOST:PORT", key, listen);
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    *port = atoi(colon + 1);
    return 0;
}

int wr_listener_new(struct event_base *base, const char *key, const char *name, const char *listen,
                    const struct wr_http_limits *limits, wr_http_handler_fn handler, void *arg,
                    struct wr_listener **out, char *err, size_t errlen)
{
    struct wr_listener *l = wr_xcalloc(1, sizeof(*l));
    char host[256];
    int port = 0, rc = -1;

    *out = NULL;
    if (wr_listen_parse(key, listen, host, sizeof(host), &port, err, errlen) != 0) {
        goto err;
    }
    l->http = evhttp_new(base);
    if (!l->http) {
        snprintf(err, errlen, "cannot create the %s listener", name);
        goto err;
    }
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS);
    l->bound = evhttp_bind_socket_with_handle(l->http, host, (ev_uint16_t)port);
    if (!l->bound) {
        snprintf(err, errlen,
                 "%s: cannot listen on %s (in use, or not an address of this machine?)", key,
                 listen);
        rc = WR_LISTENER_EBIND;
        goto err;
    }
    /* Sizes, deadlines and the connection cap; requests received whole go to the handler. */
    l->guard = wr_http_guard_new(base, l->http, name, limits, handler, arg);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(l->bound), (struct sockaddr *)&ss, &sl) == 0) {
        port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
        l->port = port;
    }
    snprintf(l->addr, sizeof(l->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    *out = l;
    return 0;
err:
    wr_listener_free(l);
    return rc;
}

int wr_listener_port(const struct wr_listener *l)
{
    return l->port;
}

const char *wr_listener_addr(const struct wr_listener *l)
{
    return l->addr;
}

void wr_listener_stop_accepting(struct wr_listener *l)
{
    if (l && l->bound) {
        evhttp_del_accept_socket(l->http, l->bound);
        l->bound = NULL;
    }
}

void wr_listener_free(struct wr_listener *l)
{
    if (!l) {
        return;
    }
    if (l->http) {
        evhttp_free(l->http);
    }
    wr_http_guard_free(l->guard); /* after evhttp_free: it reports the connections' closes */
    free(l);
}
