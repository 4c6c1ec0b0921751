/*
 * fuzz_http_frame — wr_http_frame_feed (engine/net/http_frame) on arbitrary request bytes, fed
 * whole and again in pieces whose size the first byte picks.
 *
 * Invariants, from http_frame.h: the answer does not depend on how the bytes are split (the
 * same result, status, message, and, unless refused, bytes taken and cuts); a refusal has a status
 * of 400, 413, 431 or 505 and a message; bytes taken never exceed those given; cuts are ascending,
 * apart and within the bytes taken; what is kept of a chunked body has no chunk extension left
 * (every size line is hex digits alone).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/net/http_frame.h"
#include "engine/base/strutil.h"
#include "tests/fuzz/fuzz.h"

struct run {
    enum wr_http_frame_result result;
    int status;
    const char *why;
    size_t used;
    struct wr_http_frame_cuts cuts;
};

static void feed(const uint8_t *data, size_t size, size_t step, struct run *r)
{
    struct wr_http_frame f;
    size_t off = 0;
    wr_http_frame_init(&f, 512, 4096);
    r->result = WR_HTTP_FRAME_MORE;
    while (off < size && r->result == WR_HTTP_FRAME_MORE) {
        size_t n = size - off > step ? step : size - off, used = 0;
        r->result = wr_http_frame_feed(&f, data + off, n, &used, &r->cuts);
        if (used > n || (r->result == WR_HTTP_FRAME_MORE && used != n)) {
            wr_fuzz_fail("wr_http_frame_feed: bytes taken do not match the result");
        }
        off += used;
    }
    r->used = off;
    r->status = f.status;
    r->why = f.why;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run whole = {0}, split = {0};
    size_t step = size > 0 ? (size_t)data[0] % 17 + 1 : 1;

    feed(data, size, size ? size : 1, &whole);
    feed(data, size, step, &split);
    if (whole.result != split.result ||
        (whole.result != WR_HTTP_FRAME_ERROR && whole.used != split.used) ||
        whole.status != split.status || (whole.why && strcmp(whole.why, split.why) != 0) ||
        (whole.result != WR_HTTP_FRAME_ERROR && whole.cuts.n != split.cuts.n) ||
        (whole.result != WR_HTTP_FRAME_ERROR && whole.cuts.n &&
         memcmp(whole.cuts.r, split.cuts.r, whole.cuts.n * sizeof(*whole.cuts.r)))) {
        wr_fuzz_fail("wr_http_frame_feed: the answer depends on how the bytes are split");
    }
    if (whole.result == WR_HTTP_FRAME_ERROR &&
        (!whole.why || (whole.status != 400 && whole.status != 413 && whole.status != 431 &&
                        whole.status != 505))) {
        wr_fuzz_fail("wr_http_frame_feed: a refusal without a valid status or message");
    }
    uint64_t at = 0;
    struct wr_buf kept = {0};
    for (size_t i = 0; whole.result != WR_HTTP_FRAME_ERROR && i < whole.cuts.n; i++) {
        if (whole.cuts.r[i][0] < at || (i > 0 && whole.cuts.r[i][0] == at) ||
            whole.cuts.r[i][1] <= whole.cuts.r[i][0] || whole.cuts.r[i][1] > whole.used) {
            wr_fuzz_fail("wr_http_frame_feed: cuts out of order or outside the request");
        }
        wr_buf_addn(&kept, (const char *)data + at, (size_t)(whole.cuts.r[i][0] - at));
        at = whole.cuts.r[i][1];
    }
    if (whole.result == WR_HTTP_FRAME_END) {
        /* Re-parse what evhttp would read: nothing left to cut. */
        wr_buf_addn(&kept, (const char *)data + at, whole.used - (size_t)at);
        struct run again = {0};
        feed((const uint8_t *)kept.data, kept.len, kept.len, &again);
        if (again.result != WR_HTTP_FRAME_END || again.used != kept.len || again.cuts.n != 0) {
            wr_fuzz_fail("wr_http_frame_feed: what is kept of a chunked request is not clean");
        }
        wr_http_frame_cuts_free(&again.cuts);
    }
    wr_buf_free(&kept);
    wr_http_frame_cuts_free(&whole.cuts);
    wr_http_frame_cuts_free(&split.cuts);
    return 0;
}
