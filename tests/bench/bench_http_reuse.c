/*
 * bench_http_reuse — how many connections N http-request calls to one host open, and how long
 * they take.
 *
 * A small evhttp server on 127.0.0.1 answers every request 200 with a tiny JSON body (HTTP/1.1
 * keep-alive) and counts the connections it accepts; weir's own runner executes N http-request
 * actions against it, `parallel` at a time (each finished call starts the next), with
 * http.allow listing 127.0.0.1. The server-side count is the figure: it does not depend on
 * weir's code, so the same file measures a tree from before the shared curl loop too (the
 * loop's own count, CURLINFO_NUM_CONNECTS summed, is printed where the tree has it).
 *
 * Usage: bench_http_reuse [N [PARALLEL]]   (default 1000 calls, 1 at a time)
 */
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/strutil.h"
#include "engine/exec/action_run.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/net/net_guard.h"
#if __has_include("engine/net/curl_loop.h")
#include "engine/net/curl_loop.h"
#define HAVE_CURL_LOOP 1
#endif

#define MAX_LIVE 4096

struct server {
    struct evhttp_connection *live[MAX_LIVE]; /* open connections seen so far */
    size_t nlive;
    unsigned long accepted; /* connections that carried at least one request */
    unsigned long requests;
};

struct bench {
    struct event_base *base;
    struct wr_action_env env;
    struct json_object *args;
    int n, started, finished, ok, parallel;
    char first_error[512];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_conn_closed(struct evhttp_connection *conn, void *arg)
{
    struct server *s = arg;
    for (size_t i = 0; i < s->nlive; i++) {
        if (s->live[i] == conn) {
            s->live[i] = s->live[--s->nlive];
            return;
        }
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct server *s = arg;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    bool known = false;
    for (size_t i = 0; i < s->nlive && !known; i++) {
        known = s->live[i] == conn;
    }
    if (!known && s->nlive < MAX_LIVE) {
        s->live[s->nlive++] = conn;
        s->accepted++;
        evhttp_connection_set_closecb(conn, on_conn_closed, s);
    }
    s->requests++;
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"ok\":true}");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void start_next(struct bench *b);

static void on_done(void *arg, const struct wr_action_outcome *out)
{
    struct bench *b = arg;
    b->finished++;
    if (out->ok) {
        b->ok++;
    } else if (!b->first_error[0]) {
        snprintf(b->first_error, sizeof(b->first_error), "%s", out->error);
    }
    if (b->started < b->n) {
        start_next(b);
    } else if (b->finished == b->n) {
        event_base_loopexit(b->base, NULL);
    }
}

static void start_next(struct bench *b)
{
    extern const struct wr_action wr_action_http_request;
    b->started++;
    if (wr_action_start(&b->env, &wr_action_http_request, b->args, on_done, b) != 0) {
        fprintf(stderr, "bench_http_reuse: the action did not start\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int parallel = argc > 2 ? atoi(argv[2]) : 1;
    char err[WR_ERR_MAX] = "", url[128];
    static struct server srv;
    if (n <= 0 || parallel <= 0) {
        fprintf(stderr, "usage: bench_http_reuse [N [PARALLEL]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, on_request, &srv);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (!bound) {
        fprintf(stderr, "bench_http_reuse: cannot listen on 127.0.0.1\n");
        return 1;
    }
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof(ss);
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);

    /* The Graph client is only the owner of the curl loop here: nothing is sent to Graph. */
    struct wr_graph_options go = {
        .authority = "http://127.0.0.1:9",
        .tenant = "contoso.onmicrosoft.com",
        .client_id = "00000000-0000-0000-0000-000000000001",
        .client_secret = "unused",
        .base_url = "http://127.0.0.1:9/v1.0",
    };
    struct wr_graph *g = wr_graph_new(base, &go, err, sizeof(err));
    struct wr_directory_options dopt = {.base_url = go.base_url};
    struct wr_directory *dir = g ? wr_directory_new(base, g, &dopt) : NULL;
    struct wr_net_guard *guard = wr_net_guard_new();
    if (!dir || wr_net_guard_allow(guard, "127.0.0.1/32", err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_http_reuse: %s\n", err);
        return 1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
    struct bench b = {
        .base = base,
        .env = {.base = base, .graph = g, .dir = dir, .net = guard},
        .args = json_object_new_object(),
        .n = n,
        .parallel = parallel,
    };
    json_object_object_add(b.args, "url", json_object_new_string(url));
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "text", json_object_new_string("hello"));
    json_object_object_add(b.args, "body", body);

    double t0 = now_s();
    for (int i = 0; i < parallel && i < n; i++) {
        start_next(&b);
    }
    event_base_dispatch(base);
    double secs = now_s() - t0;
    if (b.ok != n) {
        fprintf(stderr, "bench_http_reuse: %d of %d failed: %s\n", n - b.ok, n, b.first_error);
        return 1;
    }
    printf("| connections opened by %d http-request calls to one host, %d at a time | %lu "
           "(server side)",
           n, parallel, srv.accepted);
#ifdef HAVE_CURL_LOOP
    printf(", %llu (curl loop)",
           (unsigned long long)wr_curl_loop_connections(wr_graph_curl_loop(g)));
#endif
    printf(" | %.2f s, %.0f calls/s | | |\n", secs, n / secs);

    json_object_put(b.args);
    wr_directory_free(dir);
    wr_graph_free(g);
    wr_net_guard_free(guard);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
