/*
 * fuzz_graph_response — what the Graph client reads from an answer body (engine/graph_parse):
 * the token endpoint's answer, Graph's error envelope and a $batch answer with its items'
 * Retry-After headers and bodies. Every input goes through all three readers, the batch reader
 * both for a full batch of 20 and for a batch of 2 (so ids past the end are met too).
 *
 * Invariants: a usable token is non-empty with a lifetime in range; batch items answer
 * distinct requests inside the batch, agree with `seen`, and carry a Retry-After of -1 or
 * 0 .. 24 h.
 */
#include <stdbool.h>
#include <string.h>

#include "engine/graph_parse.h"
#include "tests/fuzz/fuzz.h"

#define BATCH_MAX 20
#define NOW_MS    1704067200000LL

static void check_token(const char *body, size_t len)
{
    struct wr_graph_token_answer a;

    if (wr_graph_parse_token(body, len, &a) == 0) {
        if (a.access_token == NULL || a.access_token[0] == '\0' || a.expires_in < 1 ||
            a.expires_in >= WR_GRAPH_TOKEN_MAX_LIFE_S) {
            wr_fuzz_fail("wr_graph_parse_token: a usable token that is empty or out of range");
        }
    } else if (a.access_token != NULL) {
        wr_fuzz_fail("wr_graph_parse_token: no usable token, but a token set");
    }
    wr_graph_token_answer_clear(&a);
}

static void check_batch(struct json_object *envelope, size_t n)
{
    struct wr_graph_batch_item items[BATCH_MAX];
    bool seen[BATCH_MAX], answered[BATCH_MAX] = {false};
    int count = wr_graph_parse_batch(envelope, n, NOW_MS, items, seen);

    if (count < -1 || count > (int)n) {
        wr_fuzz_fail("wr_graph_parse_batch: more items than requests");
    }
    for (int i = 0; i < count; i++) {
        const struct wr_graph_batch_item *it = &items[i];
        const char *code, *msg;

        if (it->index >= n || answered[it->index] || !seen[it->index]) {
            wr_fuzz_fail("wr_graph_parse_batch: an item outside the batch, repeated or unseen");
        }
        answered[it->index] = true;
        if (it->retry_after_ms < -1 || it->retry_after_ms > WR_GRAPH_RETRY_AFTER_CAP_MS) {
            wr_fuzz_fail("wr_graph_parse_batch: an item Retry-After outside -1 .. 24 h");
        }
        wr_graph_parse_error(it->body, &code, &msg);
    }
    for (size_t i = 0; count >= 0 && i < n; i++) {
        if (seen[i] != answered[i]) {
            wr_fuzz_fail("wr_graph_parse_batch: seen disagrees with the items");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct json_object *o;
    const char *code, *msg;

    check_token(body, size);
    o = wr_graph_parse_json(body, size);
    if (wr_graph_parse_error(o, &code, &msg) == 0 && code == NULL) {
        wr_fuzz_fail("wr_graph_parse_error: success without a code");
    }
    check_batch(o, BATCH_MAX);
    check_batch(o, 2);
    json_object_put(o);
    return 0;
}
