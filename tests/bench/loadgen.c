/*
 * loadgen — a constant-rate HTTP load generator for ack latency (Debian has no wrk2).
 *
 * Sends POST requests at a fixed rate over a pool of keep-alive connections and measures each
 * latency from the moment the request was DUE, not from when a connection became free, so a
 * stalled server shows up in the percentiles instead of slowing the generator down
 * (coordinated omission). Each request carries its own webhook-id, so none is a duplicate.
 *
 * Usage: loadgen PORT PATH RATE SECONDS [CONNECTIONS]
 * Prints: rate=<achieved/s> sent=N ok=N p50_ms=.. p99_ms=.. p999_ms=.. max_ms=..
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct conn {
    struct evhttp_connection *evcon;
    int busy;
};

struct gen {
    struct event_base *base;
    struct conn *conns;
    int nconns;
    const char *path;
    double interval_us;
    uint64_t start_us, end_us;
    uint64_t sent, done, ok;
    uint64_t *lat_us;
    uint64_t *due; /* due times of queued requests (FIFO ring) */
    size_t qhead, qtail, qcap;
    struct event *tick;
};

struct inflight {
    struct gen *g;
    struct conn *c;
    uint64_t due_us;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void dispatch(struct gen *g);

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct inflight *f = arg;
    struct gen *g = f->g;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    g->lat_us[g->done++] = now_us() - f->due_us;
    if (code >= 200 && code < 300) {
        g->ok++;
    }
    f->c->busy = 0;
    free(f);
    dispatch(g);
    if (g->done == g->sent && now_us() >= g->end_us) {
        event_base_loopexit(g->base, NULL);
    }
}

static void send_one(struct gen *g, struct conn *c, uint64_t due)
{
    struct inflight *f = malloc(sizeof(*f));
    f->g = g;
    f->c = c;
    f->due_us = due;
    struct evhttp_request *req = evhttp_request_new(on_reply, f);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char id[64];
    snprintf(id, sizeof(id), "lg-%llu-%llu", (unsigned long long)g->start_us,
             (unsigned long long)due);
    evhttp_add_header(h, "Host", "127.0.0.1");
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "webhook-id", id);
    evbuffer_add_printf(evhttp_request_get_output_buffer(req),
                        "{\"type\":\"employee.hired\",\"delivery_id\":\"%s\",\"employee\":{"
                        "\"id\":\"E1\",\"first_name\":\"Jose\",\"last_name\":\"Nunez\","
                        "\"work_email\":\"jose@contoso.onmicrosoft.com\",\"department\":\"IT\","
                        "\"employment_type\":\"full_time\",\"job_title\":\"Engineer\"}}",
                        id);
    c->busy = 1;
    evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, g->path);
}

/* Sends queued requests on free connections. */
static void dispatch(struct gen *g)
{
    for (int i = 0; i < g->nconns && g->qhead != g->qtail; i++) {
        if (!g->conns[i].busy) {
            uint64_t due = g->due[g->qhead % g->qcap];
            g->qhead++;
            send_one(g, &g->conns[i], due);
        }
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct gen *g = arg;
    (void)fd;
    (void)what;
    uint64_t now = now_us();
    /* Every request due by now is queued, even if the timer fired late. */
    while (now < g->end_us) {
        uint64_t due = g->start_us + (uint64_t)((double)g->sent * g->interval_us);
        if (due > now || g->qtail - g->qhead >= g->qcap) {
            break;
        }
        g->due[g->qtail % g->qcap] = due;
        g->qtail++;
        g->sent++;
    }
    dispatch(g);
    if (now >= g->end_us) {
        if (g->done == g->sent) {
            event_base_loopexit(g->base, NULL);
        }
        return;
    }
    uint64_t next = g->start_us + (uint64_t)((double)g->sent * g->interval_us);
    uint64_t wait = next > now ? next - now : 0;
    struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
    evtimer_add(g->tick, &tv);
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: loadgen PORT PATH RATE SECONDS [CONNECTIONS]\n");
        return 2;
    }
    struct gen g = {0};
    int port = atoi(argv[1]);
    double rate = atof(argv[3]), seconds = atof(argv[4]);
    g.nconns = argc > 5 ? atoi(argv[5]) : 16;
    g.path = argv[2];
    /* timerfd-precise timers: a millisecond of timer slop would be a millisecond of
       "latency" at these rates. */
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    g.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    g.interval_us = 1e6 / rate;
    size_t total = (size_t)(rate * seconds) + 16;
    g.lat_us = calloc(total, sizeof(uint64_t));
    g.qcap = total;
    g.due = calloc(total, sizeof(uint64_t));
    g.conns = calloc((size_t)g.nconns, sizeof(*g.conns));
    for (int i = 0; i < g.nconns; i++) {
        g.conns[i].evcon = evhttp_connection_base_new(g.base, NULL, "127.0.0.1", (ev_uint16_t)port);
        evhttp_connection_set_timeout(g.conns[i].evcon, 10);
    }
    g.tick = evtimer_new(g.base, on_tick, &g);
    g.start_us = now_us();
    g.end_us = g.start_us + (uint64_t)(seconds * 1e6);
    on_tick(-1, 0, &g);
    event_base_dispatch(g.base);
    uint64_t elapsed = now_us() - g.start_us;
    qsort(g.lat_us, g.done, sizeof(uint64_t), cmp);
    size_t n = g.done ? g.done : 1;
    printf("rate=%.0f sent=%llu ok=%llu p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
           (double)g.done * 1e6 / (double)elapsed, (unsigned long long)g.sent,
           (unsigned long long)g.ok, (double)g.lat_us[n / 2] / 1000.0,
           (double)g.lat_us[(size_t)((double)n * 0.99)] / 1000.0,
           (double)g.lat_us[(size_t)((double)n * 0.999)] / 1000.0,
           (double)g.lat_us[n - 1] / 1000.0);
    for (int i = 0; i < g.nconns; i++) {
        evhttp_connection_free(g.conns[i].evcon);
    }
    event_free(g.tick);
    event_base_free(g.base);
    free(g.conns);
    free(g.lat_us);
    free(g.due);
    return g.ok == g.sent ? 0 : 1;
}
