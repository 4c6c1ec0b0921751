/*
 * graph_parse — reading what Graph and the token endpoint answered: whole-buffer JSON, the
 * token answer, the error envelope and $batch items; see graph_parse.h.
 *
 * These were static helpers of engine/graph.c; they live apart so that they can be fuzzed and
 * tested without curl or an event loop. They never log and never keep what they read: a token
 * is handed to the caller, and every other string is borrowed from the caller's tree.
 */
#include "engine/graph_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/graph.h"
#include "engine/json.h"
#include "engine/strutil.h"

/* A string member of an object, borrowed; NULL when o is not an object or key is no string. */
static const char *json_str(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

struct json_object *wr_graph_parse_json(const char *s, size_t len)
{
    struct json_object *o = NULL;
    /* weir's one strict reader: a number Graph sends beyond 64 bits is refused, not clamped */
    if (s == NULL || len == 0 || wr_json_parse(s, len, NULL, &o, NULL) != 0) {
        return NULL;
    }
    return o;
}

/* {====== Token answers ====== */

int wr_graph_parse_token(const char *body, size_t len, struct wr_graph_token_answer *out)
{
    struct json_object *o = wr_graph_parse_json(body, len), *v;
    const char *tok = json_str(o, "access_token");

    memset(out, 0, sizeof(*out));
    out->error = wr_xstrdup_or_null(json_str(o, "error"));
    out->error_description = wr_xstrdup_or_null(json_str(o, "error_description"));
    /* json-c reads a numeric string ("3599") as its number and other strings as 0. */
    if (tok != NULL && *tok != '\0' && json_object_object_get_ex(o, "expires_in", &v) &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_string)) &&
        json_object_get_int64(v) > 0 && json_object_get_int64(v) < WR_GRAPH_TOKEN_MAX_LIFE_S) {
        out->access_token = wr_xstrdup(tok);
        out->expires_in = json_object_get_int64(v);
    }
    json_object_put(o);
    return out->access_token != NULL ? 0 : -1;
}

void wr_graph_token_answer_clear(struct wr_graph_token_answer *a)
{
    if (a == NULL) {
        return;
    }
    if (a->access_token != NULL) {
        explicit_bzero(a->access_token, strlen(a->access_token));
        free(a->access_token);
    }
    free(a->error);
    free(a->error_description);
    memset(a, 0, sizeof(*a));
}

/* }====== */

/* {====== Error envelopes and $batch answers ====== */

int wr_graph_parse_error(struct json_object *body, const char **code, const char **msg)
{
    struct json_object *err = NULL;

    if (body != NULL && json_object_is_type(body, json_type_object)) {
        json_object_object_get_ex(body, "error", &err);
    }
    *code = json_str(err, "code");
    *msg = json_str(err, "message");
    return *code != NULL ? 0 : -1;
}

int64_t wr_graph_parse_item_retry_after(struct json_object *headers, int64_t now_ms)
{
    if (headers == NULL || !json_object_is_type(headers, json_type_object)) {
        return -1;
    }
    json_object_object_foreach(headers, key, val)
    {
        if (strcasecmp(key, "Retry-After") != 0) {
            continue;
        }
        if (json_object_is_type(val, json_type_int)) {
            int64_t s = json_object_get_int64(val);

            return s < 0 ? -1
                         : (s > WR_GRAPH_RETRY_AFTER_CAP_MS / 1000 ? WR_GRAPH_RETRY_AFTER_CAP_MS
                                                                   : s * 1000);
        }
        if (json_object_is_type(val, json_type_string)) {
            return wr_graph_parse_retry_after(json_object_get_string(val), now_ms);
        }
    }
    return -1;
}

int wr_graph_parse_batch(struct json_object *envelope, size_t n, int64_t now_ms,
                         struct wr_graph_batch_item *items, bool *seen)
{
    struct json_object *responses;
    size_t count = 0;

    if (!json_object_object_get_ex(envelope, "responses", &responses) ||
        !json_object_is_type(responses, json_type_array)) {
        return -1;
    }
    memset(seen, 0, n * sizeof(*seen));
    for (size_t i = 0; i < json_object_array_length(responses); i++) {
        struct json_object *item = json_object_array_get_idx(responses, i), *v, *hdrs = NULL;
        const char *id = json_str(item, "id");
        char *end;
        long idx;

        if (id == NULL) {
            continue;
        }
        idx = strtol(id, &end, 10);
        if (*end != '\0' || idx < 1 || (size_t)idx > n || seen[idx - 1] ||
            !json_object_object_get_ex(item, "status", &v) ||
            !json_object_is_type(v, json_type_int)) {
            continue;
        }
        seen[idx - 1] = true;
        items[count].index = (size_t)idx - 1;
        items[count].status = (long)json_object_get_int64(v);
        json_object_object_get_ex(item, "headers", &hdrs);
        items[count].retry_after_ms = wr_graph_parse_item_retry_after(hdrs, now_ms);
        if (!json_object_object_get_ex(item, "body", &v)) {
            v = NULL;
        }
        items[count].body = v;
        count++;
    }
    return (int)count;
}

/* }====== */
