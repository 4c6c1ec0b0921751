/*
 * listener — one HTTP listener: an evhttp bound to "HOST:PORT" behind engine/net/http_guard,
 * handing each request received whole to its handler. The admin API and any trigger that
 * takes HTTP requests open theirs with it, so both parse addresses, bind and word their
 * errors the same way.
 *
 * It does not route, authenticate or answer anything: that is the handler's. Single-threaded,
 * on the event_base's loop thread.
 */
#ifndef WR_LISTENER_H
#define WR_LISTENER_H

#include <stddef.h>

#include "engine/net/http_guard.h"

struct event_base;

/* wr_listener_new's failure when the address cannot be bound (in use, not this machine's). */
#define WR_LISTENER_EBIND (-2)

struct wr_listener;

/*
 * Splits listen ("HOST:PORT", or "[V6ADDR]:PORT" whose brackets are dropped) into host
 * (hostlen bytes) and *port. Returns 0, or -1 with "KEY: 'LISTEN' is not HOST:PORT" in err
 * (key names the setting, e.g. "listen.admin").
 */
int wr_listen_parse(const char *key, const char *listen, char *host, size_t hostlen, int *port,
                    char *err, size_t errlen);

/*
 * Listens on listen (port 0 picks a free one) with an evhttp on base that takes every usual
 * method, guarded by limits (copied; NULL = http_guard's defaults) and handing each complete
 * request to handler(req, arg). key ("listen.admin") starts the error messages, name
 * ("admin") names the listener in them and in the guard's log lines; both are borrowed for the
 * call only. Returns 0 and *out
 * (owned), or -1 (not HOST:PORT, evhttp failed) or WR_LISTENER_EBIND (cannot bind) with
 * *out NULL and a message in err.
 */
int wr_listener_new(struct event_base *base, const char *key, const char *name, const char *listen,
                    const struct wr_http_limits *limits, wr_http_handler_fn handler, void *arg,
                    struct wr_listener **out, char *err, size_t errlen);

/* The bound port (useful with port 0); 0 when it could not be read back. */
int wr_listener_port(const struct wr_listener *l);

/* The bound address for log lines: "HOST:PORT", "[V6ADDR]:PORT" (borrowed, lives with l). */
const char *wr_listener_addr(const struct wr_listener *l);

/* Closes the listening socket; connections already open keep their requests and answers. */
void wr_listener_stop_accepting(struct wr_listener *l);

/* Closes the listener and its connections (requests waiting get no answer). NULL is fine. */
void wr_listener_free(struct wr_listener *l);

#endif
