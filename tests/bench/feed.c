/*
 * feed — posts a fixed set of webhook events as fast as a bounded number of keep-alive
 * connections allow (closed loop: each connection has one request in flight).
 *
 * FILE holds one JSON body per line; line i (from 1) is sent once, with the header
 * `webhook-id: PREFIX-i`, so every event is distinct and a redelivery by this tool is never
 * needed. A failed request (no answer, or a status outside 2xx) is counted, not retried.
 *
 * Usage: feed PORT PATH FILE [CONNECTIONS [PREFIX]]   (defaults: 32 connections, prefix "feed")
 * Prints: sent=N ok=N bad=N seconds=S rate=R [first_bad=STATUS]
 * Exit status: 0 when every request was answered 2xx, 1 otherwise, 2 on usage errors.
 *
 * Built by scripts/bench (cc ... -levent); not part of the CMake build.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct feed {
    struct event_base *base;
    const char *path;
    const char *prefix;
    char **lines;
    size_t *lens;
    size_t n, next, done, ok, bad;
    int first_bad;
};

struct conn {
    struct feed *f;
    struct evhttp_connection *evcon;
    size_t line;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_next(struct conn *c);

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct conn *c = arg;
    struct feed *f = c->f;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    f->done++;
    if (code >= 200 && code < 300) {
        f->ok++;
    } else {
        f->bad++;
        if (!f->first_bad) {
            f->first_bad = code ? code : -1;
        }
    }
    if (f->done == f->n) {
        event_base_loopexit(f->base, NULL);
        return;
    }
    send_next(c);
}

static void send_next(struct conn *c)
{
    struct feed *f = c->f;
    if (f->next >= f->n) {
        return;
    }
    c->line = f->next++;
    struct evhttp_request *req = evhttp_request_new(on_reply, c);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char id[96];
    snprintf(id, sizeof(id), "%s-%zu", f->prefix, c->line + 1);
    evhttp_add_header(h, "Host", "127.0.0.1");
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "webhook-id", id);
    evbuffer_add(evhttp_request_get_output_buffer(req), f->lines[c->line], f->lens[c->line]);
    evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, f->path);
}

/* Reads FILE into f->lines (one body per non-empty line). Returns 0 or -1. */
static int load(struct feed *f, const char *file)
{
    FILE *in = fopen(file, "r");
    if (!in) {
        perror(file);
        return -1;
    }
    size_t cap = 1024;
    f->lines = malloc(cap * sizeof(*f->lines));
    f->lens = malloc(cap * sizeof(*f->lens));
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    while ((len = getline(&line, &linecap, in)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        if (f->n == cap) {
            cap *= 2;
            f->lines = realloc(f->lines, cap * sizeof(*f->lines));
            f->lens = realloc(f->lens, cap * sizeof(*f->lens));
        }
        f->lines[f->n] = malloc((size_t)len);
        memcpy(f->lines[f->n], line, (size_t)len);
        f->lens[f->n] = (size_t)len;
        f->n++;
    }
    free(line);
    fclose(in);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: feed PORT PATH FILE [CONNECTIONS [PREFIX]]\n");
        return 2;
    }
    struct feed f = {0};
    int port = atoi(argv[1]);
    int nconns = argc > 4 ? atoi(argv[4]) : 32;
    f.path = argv[2];
    f.prefix = argc > 5 ? argv[5] : "feed";
    if (port <= 0 || nconns <= 0 || load(&f, argv[3]) != 0) {
        fprintf(stderr, "feed: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    f.base = event_base_new();
    struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
    double t0 = now_s();
    for (int i = 0; i < nconns; i++) {
        conns[i].f = &f;
        conns[i].evcon = evhttp_connection_base_new(f.base, NULL, "127.0.0.1", (ev_uint16_t)port);
        evhttp_connection_set_timeout(conns[i].evcon, 60);
        send_next(&conns[i]);
    }
    if (f.n > 0) {
        event_base_dispatch(f.base);
    }
    double secs = now_s() - t0;
    printf("sent=%zu ok=%zu bad=%zu seconds=%.3f rate=%.0f", f.done, f.ok, f.bad, secs,
           secs > 0 ? (double)f.done / secs : 0.0);
    if (f.first_bad) {
        printf(" first_bad=%d", f.first_bad);
    }
    printf("\n");
    for (int i = 0; i < nconns; i++) {
        evhttp_connection_free(conns[i].evcon);
    }
    for (size_t i = 0; i < f.n; i++) {
        free(f.lines[i]);
    }
    free(f.lines);
    free(f.lens);
    free(conns);
    event_base_free(f.base);
    return f.bad == 0 && f.ok == f.n ? 0 : 1;
}
