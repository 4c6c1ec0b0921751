/*
 * ceiling — the reference for the ingest benchmark: a minimal evhttp server that reads each
 * POST body and answers 202 with a small JSON body, storing nothing. What it reaches on this
 * machine is the ceiling of libevent's HTTP server here; weir's durable acks are reported as
 * a fraction of it.
 *
 * Usage: ceiling [PORT]   (default 0: a free port, printed as "ceiling listening on PORT")
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    evbuffer_drain(in, evbuffer_get_length(in));
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"event_id\":\"ev_0\",\"runs\":1}\n");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 202, "Accepted", out);
    evbuffer_free(out);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    int port = argc > 1 ? atoi(argv[1]) : 0;
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (!bs) {
        fprintf(stderr, "ceiling: cannot listen\n");
        return 1;
    }
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    evhttp_set_gencb(http, on_request, NULL);
    struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
    evsignal_add(term, NULL);
    evsignal_add(intr, NULL);
    printf("ceiling listening on %d\n", ntohs(sin.sin_port));
    fflush(stdout);
    event_base_dispatch(base);
    event_free(term);
    event_free(intr);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
