/*
 * test_curl_loop — engine/net/curl_loop against a loopback evhttp server on the same base: the
 * completion comes on a later loop turn with the easy handle out of the loop, sequential
 * transfers to one host share one connection, a removed transfer reports nothing, and a loop
 * freed with a transfer still added gives the handle back without calling anyone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/base/strutil.h"
#include "engine/net/curl_loop.h"

struct fixture {
    struct event_base *base;
    struct evhttp *http;
    struct wr_curl_loop *loop;
    char url[64];
    int done;
    CURLcode result;
    bool in_add;
    bool on_stack; /* done was called from inside wr_curl_loop_add */
};

static void on_request(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = evbuffer_new();
    (void)arg;
    evbuffer_add_printf(out, "ok");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static int setup(void **state)
{
    static struct fixture f;
    char err[WR_ERR_MAX];
    memset(&f, 0, sizeof(f));
    f.base = event_base_new();
    f.http = evhttp_new(f.base);
    evhttp_set_gencb(f.http, on_request, NULL);
    struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(f.http, "127.0.0.1", 0);
    assert_non_null(b);
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&a, &len), 0);
    snprintf(f.url, sizeof(f.url), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    f.loop = wr_curl_loop_new(f.base, err, sizeof(err));
    assert_non_null(f.loop);
    assert_ptr_equal(wr_curl_loop_base(f.loop), f.base);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wr_curl_loop_free(f->loop);
    evhttp_free(f->http);
    event_base_free(f->base);
    return 0;
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static void on_done(void *arg, CURL *easy, CURLcode result)
{
    struct fixture *f = arg;
    char *priv = (char *)1;
    f->on_stack = f->on_stack || f->in_add;
    f->done++;
    f->result = result;
    /* Out of the loop already: the handle's private pointer is cleared. */
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    assert_null(priv);
    event_base_loopexit(f->base, NULL);
}

static CURL *easy_for(struct fixture *f)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, f->url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    return e;
}

static void test_sequential_reuse(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 5; i++) {
        CURL *e = easy_for(f);
        f->in_add = true;
        assert_int_equal(wr_curl_loop_add(f->loop, e, on_done, f), 0);
        f->in_add = false;
        event_base_dispatch(f->base);
        assert_int_equal(f->done, i + 1);
        assert_int_equal(f->result, CURLE_OK);
        wr_curl_loop_remove(f->loop, e); /* after done: nothing to do */
        curl_easy_cleanup(e);
    }
    assert_false(f->on_stack);
    assert_int_equal(wr_curl_loop_connections(f->loop), 1);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

static void test_remove_and_free(void **state)
{
    struct fixture *f = *state;
    CURL *e = easy_for(f);
    CURL *kept = easy_for(f);
    struct event *t = evtimer_new(f->base, on_timeout, f->base);
    struct timeval tv = {0, 300000};
    assert_int_equal(wr_curl_loop_add(f->loop, e, on_done, f), 0);
    wr_curl_loop_remove(f->loop, e);
    evtimer_add(t, &tv);
    event_base_dispatch(f->base);
    assert_int_equal(f->done, 0); /* removed: never reported */
    curl_easy_cleanup(e);

    wr_curl_loop_reserve_connections(f->loop, 4);
    wr_curl_loop_reserve_connections(f->loop, -4);
    assert_int_equal(wr_curl_loop_add(f->loop, kept, on_done, f), 0);
    wr_curl_loop_free(f->loop); /* with kept still added: handed back, no callback */
    f->loop = NULL;
    assert_int_equal(f->done, 0);
    curl_easy_cleanup(kept);
    event_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sequential_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_free, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
