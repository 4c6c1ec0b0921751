/*
 * http_guard — limits against hostile or broken clients, shared by weir's evhttp listeners (the
 * admin API's and those of trigger kinds that take HTTP requests; see engine/net/listener).
 *
 * Per listener: a cap on open connections (over it: 503 with Retry-After: 1, before evhttp
 * parses a byte); a total deadline to receive each request, request line to last body byte,
 * that bytes trickling in cannot extend (slowloris: 408, then close); an idle timeout that
 * closes keep-alive connections with no request in progress; a limit on the request line and
 * headers (431) and on the body (413 as soon as Content-Length or a chunk size says so, nothing
 * buffered); and strict framing (engine/net/http_frame): a request whose framing is ambiguous or
 * malformed (RFC 9112: two Content-Lengths that disagree, a Transfer-Encoding other than exactly
 * chunked or next to a Content-Length, obs-fold, LF-only or bare CR line ends, control bytes,
 * whitespace before a colon, HTTP/1.1 without one Host, a bad chunk) gets 400 naming what is
 * wrong, an HTTP version other than 1.0/1.1 gets 505, before evhttp parses a byte of it. Every
 * refusal is a JSON body {"error": "..."}, the shape of engine/net/http_reply, and the connection
 * is closed after it; so are evhttp's own refusals (400, 413, 417, 501), which it would
 * otherwise send as HTML. A new connection that sends nothing at all is closed without an
 * answer at the request deadline, as is a kept-alive one at the idle timeout.
 *
 * The guard sits between evhttp and the listener's request handler: it installs itself as the
 * evhttp's connection factory (evhttp_set_bevcb) and generic callback, and calls the handler
 * with each complete request. It does not look at methods, paths, bodies or credentials. Chunk
 * extensions and trailer fields are valid but cut from the bytes before evhttp reads them
 * (evhttp refuses the former and would merge the latter into the headers).
 * Single-threaded: everything runs on the event_base's loop thread.
 */
#ifndef WR_HTTP_GUARD_H
#define WR_HTTP_GUARD_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp;
struct evhttp_request;

#define WR_HTTP_DEFAULT_MAX_BODY           ((size_t)1 << 20)  /* 1MiB */
#define WR_HTTP_DEFAULT_MAX_HEADERS        ((size_t)16 << 10) /* 16KiB */
#define WR_HTTP_DEFAULT_REQUEST_TIMEOUT_MS 10000
#define WR_HTTP_DEFAULT_IDLE_TIMEOUT_MS    60000
#define WR_HTTP_DEFAULT_MAX_CONNECTIONS    1024

/* The limits of one listener (weir.yaml `limits:`). Every field must be positive. */
struct wr_http_limits {
    size_t max_body;            /* bytes of a request body; more: 413 */
    size_t max_headers;         /* bytes of the request line and headers, line ends included */
    int64_t request_timeout_ms; /* from a request's first byte (a new connection's accept) to
                                   its last; later: 408 */
    int64_t idle_timeout_ms;    /* a kept-alive connection waiting for its next request */
    size_t max_connections;     /* open connections; one more: 503 */
};

/* The request handler a guard calls with each request received whole (evhttp's gencb). */
typedef void (*wr_http_handler_fn)(struct evhttp_request *req, void *arg);

struct wr_http_guard;

/* Fills l with the defaults above. */
void wr_http_limits_default(struct wr_http_limits *l);

/*
 * Guards http (borrowed; its sockets already bound): sets evhttp's own size limits and a
 * backstop timeout from limits (copied; NULL = the defaults), takes over its connection factory
 * and generic callback, and from now on hands each complete request to handler(req, arg). name
 * (the listener's, e.g. "admin") appears in log lines. Returns the guard (owned). Free it after
 * evhttp_free(http), which closes the connections the guard is tracking.
 */
struct wr_http_guard *wr_http_guard_new(struct event_base *base, struct evhttp *http,
                                        const char *name, const struct wr_http_limits *limits,
                                        wr_http_handler_fn handler, void *arg);

/* Number of open connections counted against max_connections. */
size_t wr_http_guard_connections(const struct wr_http_guard *g);

/* Frees the guard (NULL is fine). Call after evhttp_free() of its evhttp. */
void wr_http_guard_free(struct wr_http_guard *g);

#endif
