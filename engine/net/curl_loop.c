/*
 * curl_loop — one curl multi handle on the libevent loop (engine/net/curl_loop.h).
 *
 * libcurl tells the loop which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it
 * back (CURLMOPT_TIMERFUNCTION); both callbacks only (re)arm libevent events, never call into
 * libcurl's transfer machinery. The events call curl_multi_socket_action and then read the
 * finished transfers, reporting each to its owner once libcurl has returned: a completion
 * never runs on libcurl's stack nor on the stack of wr_curl_loop_add.
 *
 * It is not an HTTP client: options, retries, limits and messages are the callers'.
 */
#include "engine/net/curl_loop.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "engine/base/strutil.h"

/* One added transfer; found again through the easy handle's CURLOPT_PRIVATE. */
struct transfer {
    LIST_ENTRY(transfer) link;
    CURL *easy;
    wr_curl_loop_done_fn done;
    void *arg;
};

/* A socket libcurl asked the loop to watch. */
struct watched {
    LIST_ENTRY(watched) link;
    curl_socket_t fd;
    struct event *ev;
};

struct wr_curl_loop {
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* libcurl's CURLMOPT_TIMERFUNCTION timeout */
    LIST_HEAD(, transfer) transfers;
    LIST_HEAD(, watched) socks;
    long reserved;        /* CURLMOPT_MAXCONNECTS: the sum of the reservations */
    uint64_t connections; /* CURLINFO_NUM_CONNECTS of the transfers taken out */
    bool global;          /* curl_global_init succeeded (paired in free) */
};

/* Takes t out of the loop: counts its connections, removes its handle, frees t. */
static void transfer_drop(struct wr_curl_loop *l, struct transfer *t)
{
    long opened = 0;

    if (curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0) {
        l->connections += (uint64_t)opened;
    }
    curl_multi_remove_handle(l->multi, t->easy);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
    LIST_REMOVE(t, link);
    free(t);
}

/* Reports every finished transfer. Each one is out of the loop before its owner hears of it,
 * so the callback may free, re-add or remove handles (libcurl drops the pending messages of a
 * removed handle). */
static void report_done(struct wr_curl_loop *l)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
        struct transfer *t = NULL;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        if (t == NULL) {
            continue;
        }
        wr_curl_loop_done_fn done = t->done;
        void *arg = t->arg;

        transfer_drop(l, t);
        done(arg, easy, result);
    }
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct wr_curl_loop *l = arg;
    int action =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;

    /* Unlike hiperfifo, the timer is not deleted when nothing runs: a completion may just have
     * added a transfer and armed it; libcurl disarms it through on_curl_timer itself. */
    curl_multi_socket_action(l->multi, fd, action, &running);
    report_done(l);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct wr_curl_loop *l = arg;
    int running = 0;

    (void)fd;
    (void)what;
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    report_done(l);
}

static void watched_free(struct watched *w)
{
    LIST_REMOVE(w, link);
    if (w->ev != NULL) {
        event_free(w->ev);
    }
    free(w);
}

/* CURLMOPT_SOCKETFUNCTION: only (re)registers events; never calls back into libcurl's transfer
 * machinery. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    struct wr_curl_loop *l = userp;
    struct watched *w = sockp;
    short kind = EV_PERSIST;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (w != NULL) {
            watched_free(w);
        }
        return 0;
    }
    kind |= (what & CURL_POLL_IN) ? EV_READ : 0;
    kind |= (what & CURL_POLL_OUT) ? EV_WRITE : 0;
    if (w == NULL) {
        w = wr_xcalloc(1, sizeof(*w));
        w->fd = fd;
        LIST_INSERT_HEAD(&l->socks, w, link);
        curl_multi_assign(l->multi, fd, w);
    } else if (w->ev != NULL) {
        event_free(w->ev); /* the kind changed: a new event (event_assign is not used) */
    }
    w->ev = event_new(l->base, fd, kind, on_socket, l);
    if (w->ev == NULL || event_add(w->ev, NULL) != 0) {
        return -1;
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: arms the timer; libcurl is called from it on a later turn. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct wr_curl_loop *l = userp;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(l->timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    return evtimer_add(l->timer, &tv) == 0 ? 0 : -1;
}

struct wr_curl_loop *wr_curl_loop_new(struct event_base *base, char *err, size_t errlen)
{
    struct wr_curl_loop *l = NULL;

    if (base == NULL) {
        snprintf(err, errlen, "curl loop: no event base");
        return NULL;
    }
    l = wr_xcalloc(1, sizeof(*l));
    l->base = base;
    LIST_INIT(&l->transfers);
    LIST_INIT(&l->socks);
    l->global = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!l->global) {
        snprintf(err, errlen, "curl loop: curl_global_init failed");
        goto err;
    }
    l->timer = evtimer_new(base, on_timer, l);
    l->multi = curl_multi_init();
    if (l->timer == NULL || l->multi == NULL) {
        snprintf(err, errlen, "curl loop: cannot set up curl or libevent");
        goto err;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    return l;
err:
    wr_curl_loop_free(l);
    return NULL;
}

void wr_curl_loop_free(struct wr_curl_loop *l)
{
    struct transfer *t;
    struct watched *w;

    if (l == NULL) {
        return;
    }
    while ((t = LIST_FIRST(&l->transfers)) != NULL) {
        transfer_drop(l, t);
    }
    if (l->multi != NULL) {
        curl_multi_cleanup(l->multi); /* may still report sockets to on_curl_socket */
    }
    while ((w = LIST_FIRST(&l->socks)) != NULL) {
        watched_free(w);
    }
    if (l->timer != NULL) {
        event_free(l->timer);
    }
    if (l->global) {
        curl_global_cleanup();
    }
    free(l);
}

struct event_base *wr_curl_loop_base(const struct wr_curl_loop *l)
{
    return l->base;
}

int wr_curl_loop_add(struct wr_curl_loop *l, CURL *easy, wr_curl_loop_done_fn done, void *arg)
{
    struct transfer *t = wr_xcalloc(1, sizeof(*t));

    t->easy = easy;
    t->done = done;
    t->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    LIST_INSERT_HEAD(&l->transfers, t, link);
    if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        LIST_REMOVE(t, link);
        free(t);
        return -1;
    }
    return 0;
}

void wr_curl_loop_remove(struct wr_curl_loop *l, CURL *easy)
{
    struct transfer *t = NULL;

    if (l == NULL || easy == NULL) {
        return;
    }
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    if (t != NULL) {
        transfer_drop(l, t);
    }
}

void wr_curl_loop_reserve_connections(struct wr_curl_loop *l, long n)
{
    l->reserved += n;
    if (l->reserved < 0) {
        l->reserved = 0;
    }
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, l->reserved);
}

uint64_t wr_curl_loop_connections(const struct wr_curl_loop *l)
{
    return l->connections;
}
