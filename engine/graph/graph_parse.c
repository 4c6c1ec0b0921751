/*
 * graph_parse — reading what Graph and the token endpoint answered: whole-buffer JSON, the
 * token answer, the error envelope and $batch items; see graph_parse.h.
 *
 * These were static helpers of engine/graph/graph.c; they live apart so that they can be fuzzed and
 * tested without curl or an event loop. They never log and never keep what they read: a token
 * is handed to the caller, and every other string is borrowed from the caller's tree.
 */
#include "engine/graph/graph_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/graph/graph.h"
#include "engine/base/json.h"
#include "engine/base/strutil.h"

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
        items[count].content_type = wr_graph_item_header(hdrs, "Content-Type");
        items[count].throttle_scope = wr_graph_item_header(hdrs, "x-ms-throttle-scope");
        count++;
    }
    return (int)count;
}

/* }====== */

const char *wr_graph_item_header(struct json_object *headers, const char *name)
{
    if (headers == NULL || !json_object_is_type(headers, json_type_object)) {
        return NULL;
    }
    json_object_object_foreach(headers, key, val)
    {
        if (strcasecmp(key, name) == 0 && json_object_is_type(val, json_type_string)) {
            return json_object_get_string(val);
        }
    }
    return NULL;
}

/* {====== Throttling scope ====== */

unsigned wr_graph_parse_throttle_scope(const char *value)
{
    static const char *const kinds[] = {"Tenant_Application/", "Tenant/", "Application/"};
    const char *p = NULL;
    size_t n;

    if (value == NULL) {
        return 0;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && p == NULL; i++) {
        if (strncasecmp(value, kinds[i], strlen(kinds[i])) == 0) {
            p = value + strlen(kinds[i]);
        }
    }
    if (p == NULL) {
        return 0;
    }
    n = strcspn(p, "/");
    if (p[n] != '/') {
        return 0; /* the ids must follow: a bare "Tenant/Write" is not the documented form */
    }
    if (n == 9 && strncasecmp(p, "ReadWrite", 9) == 0) {
        return WR_GRAPH_CLASS_READ | WR_GRAPH_CLASS_WRITE;
    }
    if (n == 5 && strncasecmp(p, "Write", 5) == 0) {
        return WR_GRAPH_CLASS_WRITE;
    }
    if (n == 4 && strncasecmp(p, "Read", 4) == 0) {
        return WR_GRAPH_CLASS_READ;
    }
    return 0;
}

/* }====== */

/* {====== Token scope ====== */

char *wr_graph_default_scope(const char *base_url)
{
    static const char *const domains[] = {".microsoft.com", ".microsoft.us", ".chinacloudapi.cn"};
    const char *host;
    size_t n;
    char *h, *scope = NULL;

    if (base_url == NULL || (host = strstr(base_url, "://")) == NULL || host == base_url) {
        return NULL;
    }
    host += 3;
    n = strcspn(host, "/?#:@");
    if (n == 0 || (host[n] == '@')) {
        return NULL; /* no host, or credentials in the URL: not a Graph base URL */
    }
    h = wr_xstrndup(host, n);
    for (char *p = h; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]) && scope == NULL; i++) {
        size_t d = strlen(domains[i]);

        if (n > d && strcmp(h + n - d, domains[i]) == 0) {
            scope = wr_xasprintf("https://%s/.default", h);
        }
    }
    free(h);
    return scope != NULL ? scope : wr_xstrdup(WR_GRAPH_DEFAULT_SCOPE);
}

/* }====== */

/* {====== What an answer held ====== */

/* s[0..len) quoted and escaped for a message, cut after max bytes ("..." after the quote). */
static char *quoted(const char *s, size_t len, size_t max)
{
    struct wr_buf b = {0};
    size_t n = len < max ? len : max;

    wr_buf_addc(&b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            wr_buf_addc(&b, '\\');
            wr_buf_addc(&b, (char)c);
        } else if (c >= 0x20 && c < 0x7f) {
            wr_buf_addc(&b, (char)c);
        } else {
            wr_buf_addf(&b, "\\x%02x", c);
        }
    }
    wr_buf_addc(&b, '"');
    if (n < len) {
        wr_buf_add(&b, "...");
    }
    return wr_buf_take(&b);
}

char *wr_graph_body_head(const char *body, size_t len)
{
    if (body == NULL || len == 0) {
        return NULL;
    }
    return quoted(body, len, WR_GRAPH_HEAD_MAX);
}

char *wr_graph_describe_answer(long status, const char *content_type, const char *head, size_t len)
{
    struct wr_buf b = {0};

    wr_buf_addf(&b, "HTTP %ld, ", status);
    if (content_type != NULL && *content_type != '\0') {
        /* A header is the server's text: keep it printable, and not endless. */
        char *ct = quoted(content_type, strlen(content_type), 160);

        wr_buf_addf(&b, "Content-Type %s, ", ct);
        free(ct);
    } else {
        wr_buf_add(&b, "no Content-Type, ");
    }
    if (len == 0 || head == NULL) {
        wr_buf_add(&b, "empty body");
    } else {
        wr_buf_addf(&b, "%zu bytes: %s", len, head);
    }
    return wr_buf_take(&b);
}

bool wr_graph_is_entity(struct json_object *o, const char *id_key)
{
    const char *id = json_str(o, id_key);

    return id != NULL && *id != '\0';
}

/* The reason an answer is unusable: *why (owned) and *retriable; always NULL (for returns). */
static struct json_object *unusable(const struct wr_graph_result *res, const char *expected,
                                    char **why, bool *retriable)
{
    char *what =
        wr_graph_describe_answer(res->status, res->content_type, res->body_head, res->body_len);

    /* Nothing (202 Accepted, a proxy's empty answer) or not JSON (a proxy's page, a cut
       connection) may pass on a later attempt; JSON of another shape is what Graph meant. */
    *retriable = res->body == NULL;
    *why = wr_xasprintf("expected %s, got %s", expected, what);
    free(what);
    return NULL;
}

struct json_object *wr_graph_answer_entity(const struct wr_graph_result *res, const char *noun,
                                           const char *id_key, char **why, bool *retriable)
{
    *why = NULL;
    *retriable = false;
    if (res != NULL && wr_graph_is_entity(res->body, id_key)) {
        return res->body;
    }
    {
        char *expected = wr_xasprintf("%s with a string \"%s\"", noun, id_key);
        struct wr_graph_result none = {0};

        unusable(res != NULL ? res : &none, expected, why, retriable);
        free(expected);
    }
    return NULL;
}

struct json_object *wr_graph_answer_items(const struct wr_graph_result *res, const char *noun,
                                          const char *id_key, char **why, bool *retriable)
{
    struct json_object *items = wr_graph_answer_collection(res, noun, why, retriable);
    size_t n = items != NULL ? json_object_array_length(items) : 0;

    if (items == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!wr_graph_is_entity(json_object_array_get_idx(items, i), id_key)) {
            char *what = wr_graph_describe_answer(res->status, res->content_type, res->body_head,
                                                  res->body_len);

            *why = wr_xasprintf("expected %s (a JSON object with a \"value\" array of objects with "
                                "a string \"%s\"), got %s: item %zu has none",
                                noun, id_key, what, i);
            *retriable = false;
            free(what);
            return NULL;
        }
    }
    return items;
}

bool wr_graph_answer_done(const struct wr_graph_result *res, const char *what, char **why,
                          bool *retriable)
{
    struct wr_graph_result none = {0};
    char *got, *expected;

    *why = NULL;
    *retriable = false;
    if (res != NULL && res->status != 202 &&
        (res->body_len == 0 || json_object_is_type(res->body, json_type_object))) {
        return true;
    }
    if (res == NULL) {
        res = &none;
    }
    got = wr_graph_describe_answer(res->status, res->content_type, res->body_head, res->body_len);
    expected =
        wr_xasprintf("%s done (204 No Content, or a JSON object)", what ? what : "the change");
    /* 202 Accepted: not done (yet); a body that is not JSON may be a proxy's: both may pass on
       a later attempt. JSON of another shape is what the server meant. */
    *retriable = res->status == 202 || res->body == NULL;
    *why = wr_xasprintf("expected %s, got %s%s", expected, got,
                        res->status == 202 ? " (202 Accepted: not done yet)" : "");
    free(expected);
    free(got);
    return false;
}

struct json_object *wr_graph_answer_collection(const struct wr_graph_result *res, const char *noun,
                                               char **why, bool *retriable)
{
    struct json_object *v = NULL;

    *why = NULL;
    *retriable = false;
    if (res != NULL && res->body != NULL && json_object_is_type(res->body, json_type_object) &&
        json_object_object_get_ex(res->body, "value", &v) &&
        json_object_is_type(v, json_type_array)) {
        return v;
    }
    {
        char *expected = wr_xasprintf("%s (a JSON object with a \"value\" array)", noun);
        struct wr_graph_result none = {0};

        unusable(res != NULL ? res : &none, expected, why, retriable);
        free(expected);
    }
    return NULL;
}

/* }====== */
