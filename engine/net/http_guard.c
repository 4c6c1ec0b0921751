/*
 * http_guard — connection and request limits for evhttp listeners; see http_guard.h.
 *
 * Why not simply evhttp's settings: libevent 2.1's evhttp (Debian 12 ships 2.1.12) has no
 * connection cap and no hook when a request starts (evhttp_set_newreqcb came with 2.2), its
 * timeout is an inactivity timeout that every trickled byte restarts, an oversized header block
 * gets 400 (not 431) and every refusal of its own is an HTML page. Nor an evconnlistener of our
 * own in front: 2.1 cannot hand an accepted socket to an evhttp. What 2.1 does give us is enough
 * to do it from the side, with public calls only:
 *
 *  - evhttp_set_bevcb: evhttp asks us for each accepted connection's bufferevent. That is the
 *    accept hook. We create a plain socket bufferevent (fd -1; evhttp sets it), keep a reference
 *    on it, and watch its input and output evbuffers with evbuffer callbacks, which run before
 *    the bufferevent's own (evhttp's) callbacks see the bytes.
 *  - On the next turn of the loop (nothing has been read yet) we "adopt" the connection:
 *    bufferevent_getcb gives the evhttp_connection evhttp made around our bufferevent (it is the
 *    callbacks' argument in every 2.x release), and evhttp_connection_set_closecb tells us when
 *    evhttp frees it, whoever decides so. That close callback is the only place a connection
 *    leaves the count.
 *  - The input watcher feeds each new byte of the request line and headers, and of a chunked
 *    body, to engine/net/http_frame, one scan per byte. A refusal (431 over the header limit, 400
 *    for bad framing, 413 for a chunk over the body limit, 505) drains the input so that
 *    evhttp never parses those bytes, and the connection is answered. A Content-Length body is
 *    not scanned: evhttp counts it. Chunk extensions and trailer fields are cut from the input
 *    (its bytes moved out and the kept ones back) before evhttp's read callback runs.
 *  - Our generic callback sees each request once evhttp has received it whole: the deadline is
 *    cleared, then the listener's handler runs. evhttp_request_set_on_complete_cb tells us when
 *    the answer is written; the connection is then idle until its next byte.
 *  - The output watcher notices evhttp starting an answer of its own while a request is still
 *    being received (only its refusals do that; "100 Continue" excepted) and replaces it with
 *    the JSON answer of the same status.
 *  - Answering: a canned HTTP/1.1 response is written straight to the socket (a few hundred
 *    bytes into an empty send buffer), then evhttp_connection_free() (which shuts the sending
 *    side and closes its descriptor). This happens only from our own events, never inside an
 *    evhttp callback, and never while the handler holds a request of the connection.
 *  - Lingering close: closing a socket with unread client bytes makes the kernel send a reset,
 *    and a reset can destroy the answer before the client reads it (a client still sending a
 *    refused 1MiB body would never see its 413). So before evhttp closes its descriptor we dup()
 *    it, and read and drop what the client still sends until it closes, for at most
 *    LINGER_MS and LINGER_BYTES, as nginx's lingering_close does. Lingering sockets are
 *    capped (MAX_LINGER); past the cap a socket is drained of what has arrived and closed.
 *
 * evhttp's own limits stay set to the same values as a backstop, and its timeout to a little
 * more than the longest of ours, which covers a client that stops reading its answer.
 */
#include "engine/net/http_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/duration.h"
#include "engine/net/http_frame.h"
#include "engine/base/log.h"
#include "engine/base/size.h"
#include "engine/base/strutil.h"

/* Lingering close: how long, how many bytes, how many sockets at once. */
#define LINGER_MS    2000
#define LINGER_BYTES ((size_t)4 << 20)
#define MAX_LINGER   256
/* Client bytes read off (and dropped) before closing, when no lingering slot is free. */
#define DRAIN_MAX (256 * 1024)
/* At most one log line per listener in this many milliseconds about refused requests. */
#define LOG_EVERY_MS 10000
/* After accept() failed for want of descriptors, accepting pauses this long. */
#define ACCEPT_PAUSE_MS 1000

enum conn_state {
    CONN_RECEIVING,  /* reading a request: the deadline runs */
    CONN_PROCESSING, /* the handler has the request; its answer is not written yet */
    CONN_IDLE,       /* kept alive, between requests: the idle timeout runs */
};

/* One accepted connection. */
struct conn {
    struct wr_http_guard *g;
    struct bufferevent *bev;         /* we hold a reference (bufferevent_incref) */
    struct evhttp_connection *evcon; /* evhttp's, once adopted; NULL before */
    struct evbuffer_cb_entry *in_cb;
    struct evbuffer_cb_entry *out_cb;
    struct event *timer; /* the request deadline or the idle timeout */
    struct event *wake;  /* adoption, and answering a refusal, on a later turn */
    int fd;              /* -1 until adopted */
    enum conn_state state;
    bool counted;    /* in g->live */
    bool doomed;     /* to be answered (answer != 0) or just closed */
    int answer;      /* the status of the refusal */
    const char *why; /* what is wrong with the request refused 400 (static), or NULL */
    /* The request being received. */
    size_t received;            /* bytes so far */
    struct wr_http_frame frame; /* its framing, checked up to the end of the header block (a
                                   Content-Length body) or of the chunked body */
    bool framed;                /* that end was reached */
    bool rewriting;             /* we are moving its bytes: not new input */
    struct conn *prev, *next;
};

/* A refused connection's socket, answered and shut for sending, read until the client closes. */
struct lingering {
    struct wr_http_guard *g;
    int fd; /* our dup() of the socket */
    struct event *ev;
    int64_t deadline_ms;
    size_t read;
    struct lingering *prev, *next;
};

struct wr_http_guard {
    struct event_base *base;
    struct evhttp *http;
    char name[32];
    struct wr_http_limits limits;
    wr_http_handler_fn handler;
    void *arg;
    size_t live;          /* connections counted against the cap */
    size_t closes;        /* close callbacks so far */
    struct conn *conns;   /* every tracked connection */
    struct conn **byfd;   /* adopted connections by socket */
    size_t nbyfd;         /* slots in byfd */
    struct event *resume; /* re-enables accepting after a pause */
    struct lingering *lingers;
    size_t nlinger;
    struct wr_http_frame_cuts cuts; /* scratch: what the framing asks to cut */
    int64_t logged_ms;              /* when a refusal was last logged */
    size_t unlogged;                /* refusals since then */
    struct wr_http_guard *next_guard;
};

/*
 * Live guards. evconnlistener's error callback gets the evhttp (evhttp set it as the listener's
 * argument), not us, so the guard is looked up here. Loop thread only.
 */
static struct wr_http_guard *guards;

void wr_http_limits_default(struct wr_http_limits *l)
{
    l->max_body = WR_HTTP_DEFAULT_MAX_BODY;
    l->max_headers = WR_HTTP_DEFAULT_MAX_HEADERS;
    l->request_timeout_ms = WR_HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
    l->idle_timeout_ms = WR_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    l->max_connections = WR_HTTP_DEFAULT_MAX_CONNECTIONS;
}

static struct timeval ms_tv(int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* {====== answers ====== */

static const char *reason_phrase(int code)
{
    switch (code) {
    case 400:
        return "Bad Request";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

/* The error message of a refusal, into msg; why says what is wrong with a 400 (or a 505). */
static void refusal_text(const struct wr_http_guard *g, int code, const char *why, char *msg,
                         size_t len)
{
    char a[WR_DURATION_BUFLEN], b[WR_SIZE_BUFLEN];
    switch (code) {
    case 400:
        snprintf(msg, len, "malformed HTTP request%s%s", why ? ": " : "", why ? why : "");
        break;
    case 408:
        snprintf(msg, len, "the request was not received within %s",
                 wr_duration_format(g->limits.request_timeout_ms, a, sizeof(a)));
        break;
    case 413:
        snprintf(msg, len, "the request body is larger than %s (%zu bytes)",
                 wr_size_format(g->limits.max_body, b, sizeof(b)), g->limits.max_body);
        break;
    case 417:
        snprintf(msg, len, "unsupported Expect header");
        break;
    case 431:
        snprintf(msg, len, "the request line and headers are larger than %s (%zu bytes)",
                 wr_size_format(g->limits.max_headers, b, sizeof(b)), g->limits.max_headers);
        break;
    case 501:
        snprintf(msg, len, "HTTP method not supported");
        break;
    case 503:
        snprintf(msg, len, "too many open connections; try again later");
        break;
    case 505:
        snprintf(msg, len, "%s", why ? why : "HTTP version not supported");
        break;
    default:
        snprintf(msg, len, "request refused");
        break;
    }
}

/* Logs a refusal, at most one line per LOG_EVERY_MS per listener (a flood is one line). */
static void note_refusal(struct wr_http_guard *g, int code, const char *why)
{
    int64_t now = wr_clock_mono_ms();
    if (g->logged_ms && now - g->logged_ms < LOG_EVERY_MS) {
        g->unlogged++;
        return;
    }
    char status[16], more[32], msg[WR_ERR_MAX];
    snprintf(status, sizeof(status), "%d", code);
    snprintf(more, sizeof(more), "%zu", g->unlogged);
    refusal_text(g, code, why, msg, sizeof(msg));
    wr_log(WR_LOG_WARN, "HTTP request refused", "listener", g->name, "status", status, "error", msg,
           "unlogged_since_last", more, NULL);
    g->logged_ms = now;
    g->unlogged = 0;
}

/* Reads off what the client sent and nobody will read, so that closing sends FIN, not RST. */
static void drain_socket(int fd)
{
    char buf[4096];
    size_t total = 0;
    while (total < DRAIN_MAX) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0) {
            break;
        }
        total += (size_t)n;
    }
}

/* Writes the canned answer for code on fd: HTTP/1.1, a JSON body, Connection: close. */
static void send_refusal(const struct wr_http_guard *g, int fd, int code, const char *why)
{
    char msg[WR_ERR_MAX];
    refusal_text(g, code, why, msg, sizeof(msg));
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(msg));
    const char *body =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *text = wr_xasprintf("HTTP/1.1 %d %s\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: %zu\r\n"
                              "%s"
                              "Connection: close\r\n"
                              "\r\n"
                              "%s\n",
                              code, reason_phrase(code), strlen(body) + 1,
                              code == 503 ? "Retry-After: 1\r\n" : "", body);
    /* The send buffer is empty (nothing else was written on this connection since its last
       answer was flushed), so this fits; if not, the client gets a cut answer, then the close.
       A failure means the client is gone: closing is all that is left either way. */
    (void)send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
    free(text);
    json_object_put(o);
}

/* {====== lingering close ====== */

static void linger_free(struct lingering *l)
{
    struct wr_http_guard *g = l->g;
    event_free(l->ev);
    close(l->fd);
    if (l->prev) {
        l->prev->next = l->next;
    } else {
        g->lingers = l->next;
    }
    if (l->next) {
        l->next->prev = l->prev;
    }
    g->nlinger--;
    free(l);
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
    struct lingering *l = arg;
    char buf[4096];
    (void)fd;
    if (what & EV_TIMEOUT || wr_clock_mono_ms() >= l->deadline_ms) {
        linger_free(l);
        return;
    }
    for (;;) {
        ssize_t n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        if (n <= 0 || (l->read += (size_t)n) > LINGER_BYTES) {
            linger_free(l); /* the client closed (or failed, or would not stop) */
            return;
        }
    }
}

/*
 * Takes a duplicate of fd to read off the client's remaining bytes once evhttp has closed its
 * own. Returns false (nothing taken) when the lingering sockets are at their cap.
 */
static bool linger_start(struct wr_http_guard *g, int fd)
{
    if (g->nlinger >= MAX_LINGER) {
        return false;
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) {
        return false;
    }
    struct lingering *l = wr_xcalloc(1, sizeof(*l));
    l->g = g;
    l->fd = dup_fd;
    l->deadline_ms = wr_clock_mono_ms() + LINGER_MS;
    l->ev = event_new(g->base, dup_fd, EV_READ | EV_PERSIST, on_linger, l);
    struct timeval tv = ms_tv(LINGER_MS);
    event_add(l->ev, &tv);
    l->next = g->lingers;
    if (g->lingers) {
        g->lingers->prev = l;
    }
    g->lingers = l;
    g->nlinger++;
    return true;
}

/* }====== */

/* {====== connections ====== */

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_wake(evutil_socket_t fd, short what, void *arg);

static void arm(struct conn *c, int64_t ms)
{
    struct timeval tv = ms_tv(ms);
    evtimer_add(c->timer, &tv);
}

/* A request starts (a new connection, or the first byte after an idle spell). */
static void request_start(struct conn *c)
{
    c->state = CONN_RECEIVING;
    c->received = 0;
    wr_http_frame_init(&c->frame, c->g->limits.max_headers, c->g->limits.max_body);
    c->framed = false;
    arm(c, c->g->limits.request_timeout_ms);
}

/*
 * Marks c for a refusal with code (0: close without an answer; why: a static text saying what
 * is wrong, or NULL), made on a later loop turn.
 */
static void doom(struct conn *c, int code, const char *why)
{
    if (c->doomed) {
        return;
    }
    c->doomed = true;
    c->answer = code;
    c->why = why;
    evtimer_del(c->timer);
    event_active(c->wake, EV_TIMEOUT, 1);
}

/* Stops tracking c and frees it; the bufferevent is evhttp's again (our reference dropped). */
static void release(struct conn *c)
{
    struct wr_http_guard *g = c->g;
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
    evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
    event_free(c->timer);
    event_free(c->wake);
    if (c->fd >= 0 && (size_t)c->fd < g->nbyfd && g->byfd[c->fd] == c) {
        g->byfd[c->fd] = NULL;
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        g->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    if (c->counted) {
        g->live--;
    }
    bufferevent_decref(c->bev);
    free(c);
}

/* evhttp is freeing the connection (closed by either side, or by us). */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    (void)evcon;
    c->g->closes++;
    release(c);
}

/*
 * Answers and closes c. Never while the handler holds a request of c: evhttp would free that
 * request under it.
 */
static void kill_conn(struct conn *c)
{
    struct wr_http_guard *g = c->g;
    if (c->state == CONN_PROCESSING || !c->evcon) {
        c->doomed = false;
        return;
    }
    if (c->answer && c->fd >= 0) {
        send_refusal(g, c->fd, c->answer, c->why);
        if (!linger_start(g, c->fd)) {
            drain_socket(c->fd); /* at least what has arrived: fewer resets */
        }
    }
    size_t closes = g->closes;
    evhttp_connection_free(c->evcon); /* calls on_close, which frees c */
    if (g->closes == closes) {
        release(c); /* evhttp did not report the close: stop tracking anyway */
    }
}

/* Marker left on our bufferevent until evhttp installs its own callbacks. */
static void unclaimed_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    (void)arg;
}

/*
 * Finds the evhttp_connection around c's bufferevent and asks evhttp to report its close.
 * Returns false when the connection is gone (c has been released).
 */
static bool adopt(struct conn *c)
{
    struct wr_http_guard *g = c->g;
    bufferevent_event_cb eventcb = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &cbarg);
    if (eventcb == unclaimed_cb) {
        /* evhttp failed before taking the bufferevent: its first reference is ours to drop. */
        bufferevent_free(c->bev);
        release(c);
        return false;
    }
    if (!eventcb || !cbarg) {
        release(c); /* evhttp took it and freed it already (it failed to set up) */
        return false;
    }
    c->evcon = cbarg;
    if (evhttp_connection_get_bufferevent(c->evcon) != c->bev) {
        /* Not the evhttp we know: leave the connection to it, unguarded. */
        wr_log(WR_LOG_ERROR, "HTTP connection not guarded: unexpected evhttp internals", "listener",
               g->name, NULL);
        c->evcon = NULL;
        release(c);
        return false;
    }
    c->fd = bufferevent_getfd(c->bev);
    if (c->fd >= 0) {
        if ((size_t)c->fd >= g->nbyfd) {
            size_t n = g->nbyfd ? g->nbyfd : 64;
            while (n <= (size_t)c->fd) {
                n *= 2;
            }
            g->byfd = wr_xrealloc(g->byfd, n * sizeof(*g->byfd));
            memset(g->byfd + g->nbyfd, 0, (n - g->nbyfd) * sizeof(*g->byfd));
            g->nbyfd = n;
        }
        g->byfd[c->fd] = c;
    }
    evhttp_connection_set_closecb(c->evcon, on_close, c);
    return true;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    if (!c->evcon && !adopt(c)) {
        return;
    }
    if (c->doomed) {
        kill_conn(c);
    }
}

/* The request deadline or the idle timeout has passed. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    if (c->state == CONN_PROCESSING) {
        return;
    }
    /* A connection that never sent a byte of this request is closed without an answer. */
    int code = c->state == CONN_RECEIVING && c->received > 0 ? 408 : 0;
    if (code) {
        note_refusal(c->g, code, NULL);
    }
    if (!c->evcon) {
        doom(c, code, NULL);
        return;
    }
    c->doomed = true;
    c->answer = code;
    kill_conn(c);
}

/*
 * Removes from buf the byte ranges in g->cuts (request offsets; off is the buffer offset of
 * request offset pos). The bytes are moved out and the kept ones back, so the order holds.
 * A bufferevent's input is frozen at its end outside of a read; in_read says whether we run
 * inside one (from the input callback), where it is not and must stay so.
 */
static void apply_cuts(struct conn *c, struct evbuffer *buf, size_t off, uint64_t pos, bool in_read)
{
    struct wr_http_frame_cuts *cuts = &c->g->cuts;
    struct evbuffer *rest = evbuffer_new();
    size_t at = 0; /* buffer offset of rest's first byte */

    c->rewriting = true;
    evbuffer_unfreeze(buf, 0);
    evbuffer_add_buffer(rest, buf);
    for (size_t i = 0; i < cuts->n; i++) {
        size_t start = off + (size_t)(cuts->r[i][0] - pos),
               end = off + (size_t)(cuts->r[i][1] - pos);
        evbuffer_remove_buffer(rest, buf, start - at);
        evbuffer_drain(rest, end - start);
        at = end;
    }
    evbuffer_add_buffer(buf, rest);
    if (!in_read) {
        evbuffer_freeze(buf, 0);
    }
    c->rewriting = false;
    evbuffer_free(rest);
}

/*
 * Checks the framing of buf's bytes from offset off on (the newest of the request being
 * received), and cuts what the framing says evhttp must not see (chunk extensions, trailers).
 * Stops at the end of the header block of a Content-Length request (evhttp counts its body)
 * or at the end of a chunked body: what follows is the next request. Returns 0, or the status
 * to refuse the request with (c->why saying why).
 */
static int scan(struct conn *c, struct evbuffer *buf, size_t off, bool in_read)
{
    size_t len = evbuffer_get_length(buf), start = off;
    uint64_t pos = c->frame.pos;
    struct evbuffer_ptr ptr;
    unsigned char chunk[1024];

    if (c->framed || off >= len || evbuffer_ptr_set(buf, &ptr, off, EVBUFFER_PTR_SET) != 0) {
        return 0;
    }
    wr_http_frame_cuts_clear(&c->g->cuts);
    while (off < len && !c->framed) {
        ev_ssize_t n = evbuffer_copyout_from(buf, &ptr, chunk, sizeof(chunk));
        if (n <= 0) {
            break;
        }
        size_t used = 0;
        enum wr_http_frame_result r =
            wr_http_frame_feed(&c->frame, chunk, (size_t)n, &used, &c->g->cuts);
        if (r == WR_HTTP_FRAME_ERROR) {
            c->why = c->frame.why;
            return c->frame.status;
        }
        c->framed = r != WR_HTTP_FRAME_MORE;
        off += used;
        evbuffer_ptr_set(buf, &ptr, used, EVBUFFER_PTR_ADD);
    }
    if (c->g->cuts.n > 0) {
        apply_cuts(c, buf, start, pos, in_read);
    }
    return 0;
}

/* Refuses the request c is receiving with code: nothing more of it reaches evhttp. */
static void refuse(struct conn *c, struct evbuffer *in, int code)
{
    note_refusal(c->g, code, c->why);
    doom(c, code, c->why);
    evbuffer_drain(in, evbuffer_get_length(in));
}

/* Bytes arrived (or were taken) on c's input; runs before evhttp's read callback. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    size_t len = evbuffer_get_length(buf);

    if (info->n_added == 0 || c->rewriting) {
        return;
    }
    if (c->doomed) {
        evbuffer_drain(buf, len); /* nothing more for evhttp to parse */
        return;
    }
    if (c->state == CONN_PROCESSING) {
        /* Pipelined bytes while the handler works: stop reading past a request's worth;
           evhttp reads again when it starts the next request. */
        if (len > c->g->limits.max_headers + c->g->limits.max_body) {
            bufferevent_disable(c->bev, EV_READ);
        }
        return;
    }
    if (c->state == CONN_IDLE) {
        request_start(c);
    }
    c->received += info->n_added;
    int code = scan(c, buf, len - info->n_added, true);
    if (code) {
        refuse(c, buf, code);
    }
}

/*
 * Bytes were queued on c's output. While a request is being received only evhttp writes, and
 * only to refuse it (or "100 Continue"): its HTML refusal is replaced by ours.
 */
static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    size_t len = evbuffer_get_length(buf);
    char line[16] = "";
    struct evbuffer_ptr pos;

    if (info->n_added == 0 || c->state != CONN_RECEIVING || c->doomed ||
        evbuffer_ptr_set(buf, &pos, len - info->n_added, EVBUFFER_PTR_SET) != 0) {
        return;
    }
    /* Only the status line starts with "HTTP/"; the headers after it are added separately. */
    ev_ssize_t n = evbuffer_copyout_from(buf, &pos, line, sizeof(line) - 1);
    if (n < 12 || memcmp(line, "HTTP/", 5) != 0) {
        return;
    }
    line[n] = '\0';
    int code = atoi(line + 9);
    if (code == 100) {
        return;
    }
    if (code < 400 || code > 599) {
        code = 400;
    }
    note_refusal(c->g, code, NULL);
    doom(c, code, NULL);
}

/* evhttp asks for a new connection's bufferevent: a connection was accepted. */
static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
    struct wr_http_guard *g = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
    if (!bev) {
        return NULL; /* evhttp makes one itself; this connection goes unguarded */
    }
    struct conn *c = wr_xcalloc(1, sizeof(*c));
    c->g = g;
    c->bev = bev;
    c->fd = -1;
    bufferevent_incref(bev);
    bufferevent_setcb(bev, NULL, NULL, unclaimed_cb, c);
    c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
    c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), on_output, c);
    c->timer = evtimer_new(base, on_timer, c);
    c->wake = event_new(base, -1, 0, on_wake, c);
    c->next = g->conns;
    if (g->conns) {
        g->conns->prev = c;
    }
    g->conns = c;
    if (g->live >= g->limits.max_connections) {
        note_refusal(g, 503, NULL);
        c->doomed = true;
        c->answer = 503;
    } else {
        g->live++;
        c->counted = true;
        request_start(c);
    }
    /* evhttp finishes setting the connection up after we return; adopt it then. */
    event_active(c->wake, EV_TIMEOUT, 1);
    return bev;
}

/* }====== */

/* {====== requests ====== */

/* The tracked connection of req, or NULL. */
static struct conn *conn_of(struct wr_http_guard *g, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (!evcon) {
        return NULL;
    }
    int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0 || (size_t)fd >= g->nbyfd) {
        return NULL;
    }
    struct conn *c = g->byfd[fd];
    return c && c->evcon == evcon ? c : NULL;
}

/* req's answer has been written; the connection waits for its next request (or closes). */
static void on_answered(struct evhttp_request *req, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    (void)req;

    c->state = CONN_IDLE;
    if (len == 0) {
        arm(c, c->g->limits.idle_timeout_ms);
        return;
    }
    /* The client pipelined: its next request has begun already. */
    request_start(c);
    c->received = len;
    int code = scan(c, in, 0, false);
    if (code) {
        refuse(c, in, code);
    }
}

/* evhttp's generic callback: a request was received whole. */
static void on_request(struct evhttp_request *req, void *arg)
{
    struct wr_http_guard *g = arg;
    struct conn *c = conn_of(g, req);
    if (c) {
        c->state = CONN_PROCESSING;
        evtimer_del(c->timer);
        evhttp_request_set_on_complete_cb(req, on_answered, c);
    }
    g->handler(req, g->arg);
}

/* }====== */

/* {====== accepting ====== */

static void on_resume(evutil_socket_t fd, short what, void *arg);

static void enable_listener(struct evhttp_bound_socket *bs, void *arg)
{
    (void)arg;
    evconnlistener_enable(evhttp_bound_socket_get_listener(bs));
}

static void disable_listener(struct evhttp_bound_socket *bs, void *arg)
{
    (void)arg;
    evconnlistener_disable(evhttp_bound_socket_get_listener(bs));
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct wr_http_guard *g = arg;
    (void)fd;
    (void)what;
    evhttp_foreach_bound_socket(g->http, enable_listener, NULL);
}

/*
 * accept() failed. Out of descriptors (or memory), the pending connection stays queued and the
 * listening socket stays readable: without a pause the loop would spin on it.
 */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    struct wr_http_guard *g = guards;
    while (g && g->http != arg) {
        g = g->next_guard;
    }
    if (!g) {
        return;
    }
    (void)l;
    wr_log(WR_LOG_ERROR, "cannot accept connections; pausing for 1 s", "listener", g->name, "error",
           strerror(e), NULL);
    evhttp_foreach_bound_socket(g->http, disable_listener, NULL);
    struct timeval tv = ms_tv(ACCEPT_PAUSE_MS);
    evtimer_add(g->resume, &tv);
}

static void watch_listener(struct evhttp_bound_socket *bs, void *arg)
{
    (void)arg;
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bs), on_accept_error);
}

/* }====== */

struct wr_http_guard *wr_http_guard_new(struct event_base *base, struct evhttp *http,
                                        const char *name, const struct wr_http_limits *limits,
                                        wr_http_handler_fn handler, void *arg)
{
    struct wr_http_guard *g = wr_xcalloc(1, sizeof(*g));
    g->base = base;
    g->http = http;
    snprintf(g->name, sizeof(g->name), "%s", name);
    if (limits) {
        g->limits = *limits;
    } else {
        wr_http_limits_default(&g->limits);
    }
    g->handler = handler;
    g->arg = arg;
    g->resume = evtimer_new(base, on_resume, g);

    evhttp_set_max_body_size(http, (ev_ssize_t)g->limits.max_body);
    evhttp_set_max_headers_size(http, (ev_ssize_t)g->limits.max_headers);
    int64_t longest = g->limits.request_timeout_ms > g->limits.idle_timeout_ms
                          ? g->limits.request_timeout_ms
                          : g->limits.idle_timeout_ms;
    struct timeval backstop = ms_tv(longest + 1000);
    evhttp_set_timeout_tv(http, &backstop);
    evhttp_set_bevcb(http, on_accept, g);
    evhttp_set_gencb(http, on_request, g);
    evhttp_foreach_bound_socket(http, watch_listener, NULL);
    g->next_guard = guards;
    guards = g;
    return g;
}

size_t wr_http_guard_connections(const struct wr_http_guard *g)
{
    return g->live;
}

void wr_http_guard_free(struct wr_http_guard *g)
{
    if (!g) {
        return;
    }
    for (struct wr_http_guard **p = &guards; *p; p = &(*p)->next_guard) {
        if (*p == g) {
            *p = g->next_guard;
            break;
        }
    }
    /* evhttp_free() closed the adopted connections (their close callbacks freed them); what is
       left was never adopted, or its evhttp is still alive and must not call us any more. */
    while (g->conns) {
        struct conn *c = g->conns;
        bufferevent_event_cb eventcb = NULL;
        bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
        if (c->evcon) {
            evhttp_connection_set_closecb(c->evcon, NULL, NULL);
        } else if (eventcb == unclaimed_cb) {
            bufferevent_free(c->bev); /* evhttp never took it */
        }
        release(c);
    }
    while (g->lingers) {
        linger_free(g->lingers);
    }
    event_free(g->resume);
    wr_http_frame_cuts_free(&g->cuts);
    free(g->byfd);
    free(g);
}
