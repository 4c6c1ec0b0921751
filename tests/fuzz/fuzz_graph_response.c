/*
 * fuzz_graph_response — what weir reads from an answer body (engine/graph/graph_parse): the token
 * endpoint's answer, Graph's error envelope, a $batch answer with its items' Retry-After,
 * Content-Type and throttling-scope headers and bodies, and the readers every lookup and action
 * takes an entity or a collection out of a 2xx with (as the answer, and as each batch item's
 * body). The input, as text, is also read as an x-ms-throttle-scope, a base_url for the token
 * scope and a body to describe in a message. The batch reader runs both for a full batch of
 * 20 and for a batch of 2 (so ids past the end are met too).
 *
 * Invariants: a usable token is non-empty with a lifetime in range; batch items answer
 * distinct requests inside the batch, agree with `seen`, and carry a Retry-After of -1 or
 * 0 .. 24 h; an entity reader returns an object with a non-empty string id or NULL with a
 * message naming the status, a collection reader an array or NULL with a message; a scope is
 * NULL or ends in /.default; a described body is printable ASCII.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"
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

static bool printable(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* The readers of lookups and actions over one 2xx answer (body may be NULL). */
static void check_readers(struct json_object *body, const char *raw, size_t len, const char *ct)
{
    char *head = wr_graph_body_head(raw, len), *why = NULL;
    struct wr_graph_result res = {.status = 200,
                                  .body = body,
                                  .ok = true,
                                  .content_type = ct,
                                  .body_head = head,
                                  .body_len = len};
    bool retriable;
    struct json_object *o;

    if (!printable(head)) {
        wr_fuzz_fail("wr_graph_body_head: not printable ASCII");
    }
    o = wr_graph_answer_entity(&res, "a user", "id", &why, &retriable);
    if (o != NULL) {
        struct json_object *id = NULL;

        if (why != NULL || !json_object_object_get_ex(o, "id", &id) ||
            !json_object_is_type(id, json_type_string) || json_object_get_string(id)[0] == '\0') {
            wr_fuzz_fail("wr_graph_answer_entity: an entity without a string id");
        }
    } else if (why == NULL || strstr(why, "HTTP 200, ") == NULL || !printable(why)) {
        wr_fuzz_fail("wr_graph_answer_entity: a refusal that does not name the answer");
    }
    free(why);
    why = NULL;
    o = wr_graph_answer_collection(&res, "a list", &why, &retriable);
    if ((o == NULL) == (why == NULL) || (o != NULL && !json_object_is_type(o, json_type_array))) {
        wr_fuzz_fail("wr_graph_answer_collection: neither a list nor a reason");
    }
    free(why);
    why = NULL;
    o = wr_graph_answer_items(&res, "a list", "id", &why, &retriable);
    if ((o == NULL) == (why == NULL) || (why != NULL && !printable(why))) {
        wr_fuzz_fail("wr_graph_answer_items: neither a list nor a reason");
    }
    for (size_t i = 0; o != NULL && i < json_object_array_length(o); i++) {
        if (!wr_graph_is_entity(json_object_array_get_idx(o, i), "id")) {
            wr_fuzz_fail("wr_graph_answer_items: an item without a string id");
        }
    }
    free(why);
    why = NULL;
    if (wr_graph_answer_done(&res, NULL, &why, &retriable) == (why != NULL) ||
        (why != NULL && (strstr(why, "HTTP 200, ") == NULL || !printable(why))) ||
        (why == NULL && len > 0 && !json_object_is_type(body, json_type_object))) {
        wr_fuzz_fail("wr_graph_answer_done: a body that is not a JSON object taken for done");
    }
    free(why);
    free(head);
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
        wr_graph_parse_throttle_scope(it->throttle_scope);
        {
            const char *raw = it->body != NULL ? json_object_to_json_string(it->body) : NULL;

            check_readers(it->body, raw, raw != NULL ? strlen(raw) : 0, it->content_type);
        }
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
    check_readers(o, body, size, "application/json");
    json_object_put(o);
    {
        char *text = malloc(size + 1), *scope;
        unsigned classes;

        if (text == NULL) {
            return 0;
        }
        memcpy(text, data, size);
        text[size] = '\0';
        classes = wr_graph_parse_throttle_scope(text);
        if (classes & ~(WR_GRAPH_CLASS_READ | WR_GRAPH_CLASS_WRITE)) {
            wr_fuzz_fail("wr_graph_parse_throttle_scope: an unknown class");
        }
        scope = wr_graph_default_scope(text);
        if (scope != NULL &&
            (strlen(scope) < 9 || strcmp(scope + strlen(scope) - 9, "/.default") != 0)) {
            wr_fuzz_fail("wr_graph_default_scope: a scope that is not RESOURCE/.default");
        }
        free(scope);
        free(text);
    }
    return 0;
}
