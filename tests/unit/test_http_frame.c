/*
 * test_http_frame — unit tests for engine/net/http_frame: requests accepted whole and fed a byte at
 * a time (the same answer either way), what is cut (chunk extensions, trailer fields), where
 * a request ends (pipelining), and each refusal with its status and message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/net/http_frame.h"
#include "engine/base/strutil.h"

#define MAX_HEAD 1024
#define MAX_BODY 100

/* The outcome of one request fed to the parser. */
struct outcome {
    enum wr_http_frame_result result;
    size_t used;     /* bytes of the input that belonged to the request */
    int status;      /* when refused */
    const char *why; /* when refused */
    char *kept;      /* the used bytes with the cuts removed (owned) */
};

/* Feeds len bytes of raw in pieces of step bytes (0: all at once). */
static struct outcome feed(const char *raw, size_t len, size_t step)
{
    struct wr_http_frame f;
    struct wr_http_frame_cuts cuts = {0};
    struct outcome o = {0};
    size_t off = 0;

    wr_http_frame_init(&f, MAX_HEAD, MAX_BODY);
    o.result = WR_HTTP_FRAME_MORE;
    while (off < len && o.result == WR_HTTP_FRAME_MORE) {
        size_t n = step && len - off > step ? step : len - off, used = 0;
        o.result = wr_http_frame_feed(&f, (const unsigned char *)raw + off, n, &used, &cuts);
        assert_true(used <= n);
        if (o.result == WR_HTTP_FRAME_MORE) {
            assert_int_equal(used, n);
        }
        off += used;
    }
    o.used = off;
    o.status = f.status;
    o.why = f.why;
    struct wr_buf b = {0};
    uint64_t at = 0;
    for (size_t i = 0; i < cuts.n; i++) {
        assert_true(cuts.r[i][0] >= at && cuts.r[i][1] > cuts.r[i][0] && cuts.r[i][1] <= off);
        assert_true(i == 0 || cuts.r[i][0] > cuts.r[i - 1][1]); /* not touching */
        wr_buf_addn(&b, raw + at, (size_t)(cuts.r[i][0] - at));
        at = cuts.r[i][1];
    }
    wr_buf_addn(&b, raw + at, off - (size_t)at);
    o.kept = wr_buf_take(&b);
    wr_http_frame_cuts_free(&cuts);
    return o;
}

/* raw, whole and in pieces, gives result with its last `tail` bytes not taken (the next
   request's), and keeps `kept` of the rest. */
static void expect(const char *raw, enum wr_http_frame_result result, size_t tail, const char *kept)
{
    size_t used = strlen(raw) - tail;
    for (size_t step = 0; step <= 7; step += 1) {
        struct outcome o = feed(raw, strlen(raw), step);
        if (o.result != result) {
            fail_msg("%s (step %zu): result %d, not %d (%d %s)", raw, step, o.result, result,
                     o.status, o.why ? o.why : "");
        }
        assert_int_equal(o.used, used);
        assert_string_equal(o.kept, kept);
        free(o.kept);
    }
}

/* raw is refused with status and a message containing words, however it is split. */
static void refused(const char *raw, size_t len, int status, const char *words)
{
    for (size_t step = 0; step <= 3; step++) {
        struct outcome o = feed(raw, len, step);
        if (o.result != WR_HTTP_FRAME_ERROR) {
            fail_msg("%s: accepted (result %d)", raw, o.result);
        }
        assert_int_equal(o.status, status);
        if (!strstr(o.why, words)) {
            fail_msg("%s: '%s' does not say '%s'", raw, o.why, words);
        }
        free(o.kept);
    }
}

#define REFUSED(raw, status, words) refused(raw, sizeof(raw) - 1, status, words)

static void test_content_length(void **state)
{
    (void)state;
    const char *req = "POST /h HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
    char *two = wr_xasprintf("%s{}GET / HTTP/1.1\r\n", req);
    expect(two, WR_HTTP_FRAME_BODY, strlen(two) - strlen(req), req); /* the body is not looked at */
    free(two);
    expect("GET / HTTP/1.0\r\n\r\n", WR_HTTP_FRAME_BODY, 0, "GET / HTTP/1.0\r\n\r\n");
    expect("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\ncontent-length:\t007 \r\n\r\n",
           WR_HTTP_FRAME_BODY, 0,
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\ncontent-length:\t007 \r\n\r\n");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n", 400,
            "disagree");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n", 400, "Content-Length");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n", 400, "Content-Length");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 1\r\n", 400, "Content-Length");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n", 400, "Content-Length");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 1\r\n", 400, "before the colon");
}

static void test_head(void **state)
{
    (void)state;
    REFUSED("GET / HTTP/1.1\r\n\r\n", 400, "without Host");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n", 400, "two Host");
    REFUSED("GET / HTTP/1.1\r\nHost: a b\r\n", 400, "Host");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n", 400, "control character");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n", 400, "control character");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n", 400, "CR not followed by LF");
    REFUSED("GET / HTTP/1.1\nHost: a\r\n", 400, "LF alone");
    REFUSED("GET / HTTP/1.1\r\nHost: a\n", 400, "LF alone");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "LF alone");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400, "CR not followed by LF");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n", 400, "obs-fold");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX(: b\r\n", 400, "header name");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n", 400, "header name");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX\r\n", 400, "without a colon");
    REFUSED("\r\nGET / HTTP/1.1\r\n", 400, "request line");
    REFUSED("GET  / HTTP/1.1\r\n", 400, "request line");
    REFUSED("GET / HTTP/1.1 \r\n", 400, "request line");
    REFUSED("GET / HTTP/1.10\r\n", 400, "request line");
    REFUSED("G@T / HTTP/1.1\r\n", 400, "method");
    REFUSED("GET /\x01 HTTP/1.1\r\n", 400, "request target");
    REFUSED("GET /\xc3\xa9 HTTP/1.1\r\n", 400, "request target");
    REFUSED("GET / HTTP/2.0\r\n", 505, "HTTP/1.1");
    /* obs-text in a value is fine; so are an empty Host and an IPv6 literal */
    const char *ok = "GET / HTTP/1.1\r\nHost:\r\nX: J\xc3\xb6rg\r\n\r\n";
    expect(ok, WR_HTTP_FRAME_BODY, 0, ok);
    ok = "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n";
    expect(ok, WR_HTTP_FRAME_BODY, 0, ok);
}

static void test_head_limit(void **state)
{
    (void)state;
    char *big = wr_xasprintf("GET / HTTP/1.1\r\nHost: a\r\nX: %0*d\r\n\r\n", MAX_HEAD, 0);
    refused(big, strlen(big), 431, "too large");
    free(big);
}

#define TE "POST /h HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_transfer_encoding(void **state)
{
    (void)state;
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n", 400,
            "exactly chunked");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
            "chunked\r\n",
            400, "twice");
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
            400, "ambiguous");
    REFUSED("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0");
    expect(TE "2\r\n{}\r\n0\r\n\r\nGET", WR_HTTP_FRAME_END, 3, TE "2\r\n{}\r\n0\r\n\r\n");
    expect("POST /h HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \r\n\r\n0\r\n\r\n",
           WR_HTTP_FRAME_END, 0,
           "POST /h HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \r\n\r\n0\r\n\r\n");
}

static void test_chunks(void **state)
{
    (void)state;
    /* extensions and trailer fields are cut; the rest is what evhttp reads */
    expect(TE "2;a=b\r\n{}\r\n0\r\n\r\n", WR_HTTP_FRAME_END, 0, TE "2\r\n{}\r\n0\r\n\r\n");
    expect(TE "2 ; a ; b = \"x\\\";y\" ;c\r\n{}\r\n0;z\r\nX: 1\r\nY:\r\n\r\n", WR_HTTP_FRAME_END, 0,
           TE "2\r\n{}\r\n0\r\n\r\n");
    expect(TE "0A\r\n0123456789\r\n1\r\n;\r\n0\r\n\r\n", WR_HTTP_FRAME_END, 0,
           TE "0A\r\n0123456789\r\n1\r\n;\r\n0\r\n\r\n");
    REFUSED(TE "\r\n", 400, "hexadecimal");
    REFUSED(TE "x\r\n", 400, "hexadecimal");
    REFUSED(TE "0x2\r\n", 400, "hexadecimal");
    REFUSED(TE "-2\r\n", 400, "hexadecimal");
    REFUSED(TE "2 \r\n", 400, "chunk extension");
    REFUSED(TE "2;\r\n", 400, "chunk extension");
    REFUSED(TE "2;a=\r\n", 400, "chunk extension");
    REFUSED(TE "2;a b\r\n", 400, "chunk extension");
    REFUSED(TE "2;a=\"b\r\n", 400, "chunk extension");
    REFUSED(TE "2;a=b=c\r\n", 400, "chunk extension");
    REFUSED(TE "2\n", 400, "LF alone");
    REFUSED(TE "2\r\n{}x\r\n", 400, "after the chunk data");
    REFUSED(TE "2\r\n{}\n", 400, "after the chunk data");
    REFUSED(TE "0\r\nX y\r\n", 400, "trailer");
    REFUSED(TE "0\r\n y\r\n", 400, "obs-fold");
    REFUSED(TE "0\r\nX: \x01\r\n", 400, "control character");
    REFUSED(TE "0\r\n\n", 400, "LF alone");
    /* over the body limit (100) at once, or over chunks */
    REFUSED(TE "65\r\n", 413, "limit");
    REFUSED(TE "ffffffffffffffffffffffff\r\n", 413, "limit");
    REFUSED(TE "32\r\n01234567890123456789012345678901234567890123456789\r\n33\r\n", 413, "limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length), cmocka_unit_test(test_head),
        cmocka_unit_test(test_head_limit),     cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
