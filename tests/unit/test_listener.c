/*
 * test_listener — unit tests for engine/net/listener: HOST:PORT parsing and its error text, a
 * listener on 127.0.0.1:0 that reads its port back and hands a real request to its handler, a
 * second bind of the same port refused as WR_LISTENER_EBIND with the message the admin API and
 * the webhook trigger print, and stop_accepting closing the port while the listener lives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "engine/base/strutil.h"
#include "engine/net/listener.h"

static void test_parse(void **state)
{
    (void)state;
    char host[64], err[WR_ERR_MAX];
    int port = -1;
    assert_int_equal(
        wr_listen_parse("listen.x", "127.0.0.1:8080", host, sizeof(host), &port, err, sizeof(err)),
        0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(
        wr_listen_parse("listen.x", "[::1]:0", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(
        wr_listen_parse("listen.x", "localhost", host, sizeof(host), &port, err, sizeof(err)), -1);
    assert_string_equal(err, "listen.x: 'localhost' is not HOST:PORT");
    assert_int_equal(
        wr_listen_parse("listen.x", ":80", host, sizeof(host), &port, err, sizeof(err)), -1);
    assert_string_equal(err, "listen.x: ':80' is not HOST:PORT");
    char tiny[4];
    assert_int_equal(
        wr_listen_parse("listen.x", "127.0.0.1:1", tiny, sizeof(tiny), &port, err, sizeof(err)),
        -1);
}

struct seen {
    struct event_base *base;
    int requests;
    char uri[64];
};

static void on_request(struct evhttp_request *req, void *arg)
{
    struct seen *s = arg;
    s->requests++;
    snprintf(s->uri, sizeof(s->uri), "%s", evhttp_request_get_uri(req));
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "hello");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    event_base_loopexit(s->base, NULL);
}

/* A blocking TCP connection to 127.0.0.1:port, or -1 (refused). */
static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_serve(void **state)
{
    (void)state;
    struct seen s = {.base = event_base_new()};
    struct wr_listener *l = NULL;
    char err[WR_ERR_MAX];
    assert_int_equal(wr_listener_new(s.base, "listen.test", "test", "127.0.0.1:0", NULL, on_request,
                                     &s, &l, err, sizeof(err)),
                     0);
    assert_non_null(l);
    int port = wr_listener_port(l);
    assert_true(port > 0);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    assert_string_equal(wr_listener_addr(l), want);

    int fd = connect_to(port);
    assert_true(fd >= 0);
    const char req[] = "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    struct timeval deadline = {5, 0};
    event_base_loopexit(s.base, &deadline);
    event_base_dispatch(s.base);
    assert_int_equal(s.requests, 1);
    assert_string_equal(s.uri, "/ping");
    /* The answer was queued on the loop: let it flush, then read it. */
    struct timeval flush = {0, 100000};
    event_base_loopexit(s.base, &flush);
    event_base_dispatch(s.base);
    char buf[512] = {0};
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    assert_memory_equal(buf, "HTTP/1.1 200 OK", 15);
    close(fd);

    /* The same port again: refused as a bind failure, worded for the operator. */
    struct wr_listener *again = (struct wr_listener *)1;
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_int_equal(wr_listener_new(s.base, "listen.test", "test", addr, NULL, on_request, &s,
                                     &again, err, sizeof(err)),
                     WR_LISTENER_EBIND);
    assert_null(again);
    char msg[256];
    snprintf(msg, sizeof(msg),
             "listen.test: cannot listen on %s (in use, or not an address of this machine?)", addr);
    assert_string_equal(err, msg);

    /* Not an address at all: -1, with the parser's message. */
    assert_int_equal(wr_listener_new(s.base, "listen.test", "test", "nowhere", NULL, on_request, &s,
                                     &again, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "listen.test: 'nowhere' is not HOST:PORT");

    /* Stopped accepting: the port is closed, the listener still there to free. */
    wr_listener_stop_accepting(l);
    wr_listener_stop_accepting(l);
    assert_int_equal(connect_to(port), -1);
    wr_listener_free(l);
    wr_listener_free(NULL);
    event_base_free(s.base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
