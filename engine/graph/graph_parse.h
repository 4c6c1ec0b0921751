/*
 * graph_parse — the pure readers behind the Graph client: whole-buffer JSON, the token
 * endpoint's answer, Graph's error envelope, the items of a $batch answer, the throttling scope
 * of a 429, the token scope of a Graph host, and the readers every caller uses to take an
 * entity or a collection out of a 2xx (an empty, non-JSON or wrongly shaped answer becomes a
 * message naming what Graph sent, never a success).
 *
 * Everything here works on bytes or json-c trees already in memory: no curl, no event loop,
 * no clock (callers pass "now"), no logging. engine/graph/graph.c decides what an answer means for
 * a request (retry, re-authenticate, finish); this module only says what the answer holds, so
 * the fuzz targets and unit tests can drive it directly.
 */
#ifndef WR_GRAPH_PARSE_H
#define WR_GRAPH_PARSE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wr_graph_result;

/* The longest wait any Retry-After (header or $batch item header) is allowed to ask for. */
#define WR_GRAPH_RETRY_AFTER_CAP_MS (24LL * 3600 * 1000)

/* The longest token lifetime accepted, exclusive: anything at or over a year is refused. */
#define WR_GRAPH_TOKEN_MAX_LIFE_S (366LL * 86400)

/*
 * Parses a whole buffer (len bytes, need not be NUL-terminated) as one JSON value; trailing
 * whitespace is fine, anything else after the value is not. Returns an owned tree, or NULL when
 * the buffer is empty, longer than INT32_MAX or not JSON.
 */
struct json_object *wr_graph_parse_json(const char *s, size_t len);

/* What the token endpoint answered, read from its body. */
struct wr_graph_token_answer {
    char *access_token;      /* owned; NULL unless the body holds a usable token */
    int64_t expires_in;      /* seconds, 1 .. WR_GRAPH_TOKEN_MAX_LIFE_S - 1, with access_token */
    char *error;             /* owned OAuth "error" ("invalid_client"), or NULL */
    char *error_description; /* owned "error_description" ("AADSTS7000215: ..."), or NULL */
};

/*
 * Reads a token endpoint answer body into *out (zeroed first). A usable token is a non-empty
 * string `access_token` together with an `expires_in` (a JSON integer, or a string json-c reads
 * as one) of at least 1 s and under WR_GRAPH_TOKEN_MAX_LIFE_S. The error fields are read
 * whether or not a token is there. Returns 0 when out->access_token is set, else -1 (the body
 * is empty, not JSON, or holds no usable token). Release with wr_graph_token_answer_clear,
 * which wipes the token. The HTTP status is the caller's to judge.
 */
int wr_graph_parse_token(const char *body, size_t len, struct wr_graph_token_answer *out);

/* Wipes and frees the strings of a, and zeroes it. NULL is fine. */
void wr_graph_token_answer_clear(struct wr_graph_token_answer *a);

/*
 * Reads Graph's error envelope {"error": {"code": "...", "message": "..."}} from a parsed
 * body (borrowed; NULL or a non-object is fine). *code and *msg are borrowed from body, NULL
 * when absent or not strings. Returns 0 when a code was found, else -1.
 */
int wr_graph_parse_error(struct json_object *body, const char **code, const char **msg);

/*
 * The Retry-After of a $batch item's `headers` object (borrowed; NULL or a non-object gives
 * -1): the name matches case-insensitively; an integer counts seconds (negative = -1, capped at
 * WR_GRAPH_RETRY_AFTER_CAP_MS), a string is read by wr_graph_parse_retry_after against now_ms
 * (Unix epoch ms). Returns the delay in ms, or -1 when there is none or it is not understood.
 */
int64_t wr_graph_parse_item_retry_after(struct json_object *headers, int64_t now_ms);

/* One answered request of a $batch, as wr_graph_parse_batch found it. */
struct wr_graph_batch_item {
    size_t index;               /* which request it answers: 0-based (its id is index + 1) */
    long status;                /* the item's HTTP status */
    int64_t retry_after_ms;     /* the item's Retry-After in ms, or -1 */
    struct json_object *body;   /* borrowed from the envelope; NULL when the item has none */
    const char *content_type;   /* the item's Content-Type header (borrowed), or NULL */
    const char *throttle_scope; /* the item's x-ms-throttle-scope header (borrowed), or NULL */
};

/*
 * Reads the answer to a $batch of n requests whose ids are "1" .. "n" (weir's batch bodies
 * number them so). envelope is the parsed body (borrowed). Items are kept in the order they
 * came; one is skipped when its id is missing, not a string, not wholly an integer in 1..n (as
 * strtol reads it) or already answered, or when its status is not an integer. items has room
 * for n entries; seen[0..n) is cleared, then tells which requests got an answer. Returns how
 * many items were stored (0..n), or -1 when the envelope has no `responses` array (then items
 * and seen are untouched). Item bodies stay valid as long as envelope does.
 */
int wr_graph_parse_batch(struct json_object *envelope, size_t n, int64_t now_ms,
                         struct wr_graph_batch_item *items, bool *seen);

/* A string header of a $batch item's `headers` object (name case-insensitive); borrowed, or NULL.
 */
const char *wr_graph_item_header(struct json_object *headers, const char *name);

/* {====== Throttling scope ====== */

#define WR_GRAPH_CLASS_READ  0x1u /* GET */
#define WR_GRAPH_CLASS_WRITE 0x2u /* POST, PATCH, PUT, DELETE */

/*
 * Reads an x-ms-throttle-scope value, `<Tenant_Application|Tenant|Application>/<Read|Write|
 * ReadWrite>/<appId>/<tenantId>` (GRAPH.md section 9; names case-insensitive, the ids not
 * checked). Returns the request classes the scope throttles (WR_GRAPH_CLASS_*), or 0 when the
 * value is NULL or not of that form (then only the throttled path is held back).
 */
unsigned wr_graph_parse_throttle_scope(const char *value);

/* }====== */

/* {====== Token scope ====== */

/* The commercial cloud's scope, for any base_url that is not on a Microsoft Graph host. */
#define WR_GRAPH_DEFAULT_SCOPE "https://graph.microsoft.com/.default"

/*
 * The token scope for a Graph base URL. On a Microsoft Graph host (one ending in .microsoft.com,
 * .microsoft.us or .chinacloudapi.cn) it is "https://" + the host (lower case, port and path
 * dropped) + "/.default": https://graph.microsoft.us/v1.0 gives
 * https://graph.microsoft.us/.default (US Gov L4), https://dod-graph.microsoft.us/v1.0 the L5
 * scope, https://microsoftgraph.chinacloudapi.cn/v1.0 China's (learn.microsoft.com/graph/
 * deployments). Any other host (a proxy, a simulator) fronts the commercial service:
 * WR_GRAPH_DEFAULT_SCOPE. Owned; NULL when base_url has no "scheme://host".
 */
char *wr_graph_default_scope(const char *base_url);

/* }====== */

/* {====== What an answer held ====== */

/* Source bytes of a body shown in messages; a longer body is cut with "...". */
#define WR_GRAPH_HEAD_MAX 80

/*
 * The first bytes of a body for messages: up to WR_GRAPH_HEAD_MAX bytes in double quotes,
 * printable ASCII kept, `"` and `\` escaped, anything else as \xNN, "..." after the quote when
 * cut. Owned; NULL when len is 0.
 */
char *wr_graph_body_head(const char *body, size_t len);

/*
 * One phrase saying what an answer was: "HTTP 202, no Content-Type, empty body" or
 * "HTTP 200, Content-Type text/html, 48 bytes: \"<html>...\"". head is wr_graph_body_head's
 * (NULL for an empty body). Owned.
 */
char *wr_graph_describe_answer(long status, const char *content_type, const char *head, size_t len);

/*
 * True when o is a JSON object whose member id_key is a non-empty string: the least a Graph
 * entity must have before its id is used.
 */
bool wr_graph_is_entity(struct json_object *o, const char *id_key);

/*
 * Reads a successful answer that must be one entity (a JSON object with a non-empty string
 * id_key, "id" or "skuId"). Returns the object (borrowed from res), or NULL with *why (owned:
 * "expected a user with a string \"id\", got HTTP 202, no Content-Type, empty body") and
 * *retriable set: an empty body (202 Accepted, a proxy) and a body that is not JSON may pass
 * later; a JSON value of the wrong shape will not. noun names the entity in *why.
 */
struct json_object *wr_graph_answer_entity(const struct wr_graph_result *res, const char *noun,
                                           const char *id_key, char **why, bool *retriable);

/*
 * The same for a collection: returns the answer's "value" array (borrowed), or NULL with *why
 * and *retriable as for wr_graph_answer_entity. Items are not checked.
 */
struct json_object *wr_graph_answer_collection(const struct wr_graph_result *res, const char *noun,
                                               char **why, bool *retriable);

/*
 * A collection of entities: the answer's "value" array (borrowed) when every item is a JSON
 * object with a non-empty string id_key ("id"), else NULL with *why ("expected role assignments
 * (a JSON object with a "value" array of objects with a string "id"), got HTTP 200, ...: item 2
 * has none") and *retriable as for wr_graph_answer_entity (an item without its id is the wrong
 * shape: not retriable). Graph never lists a directory object without its id; an answer that
 * does is not one weir can act on (it would skip the item, or act on a NULL id).
 */
struct json_object *wr_graph_answer_items(const struct wr_graph_result *res, const char *noun,
                                          const char *id_key, char **why, bool *retriable);

/*
 * Reads a successful answer to a write whose answer carries nothing the caller needs: 204 No
 * Content (PATCH, DELETE, $ref), or another 2xx whose body is empty or a JSON object
 * (revokeSignInSessions' {"value": true}). Returns true for those. Returns false with *why
 * (owned: "expected the change done (204 No Content, or a JSON object), got HTTP 202, no
 * Content-Type, empty body") and *retriable for 202 Accepted (accepted, not done: Graph has not
 * said the change was made; a retry, idempotent, finds out) and for a body that is not a JSON
 * object (not JSON: retriable; JSON of another shape: not). what names the change in *why
 * (NULL: "the change").
 */
bool wr_graph_answer_done(const struct wr_graph_result *res, const char *what, char **why,
                          bool *retriable);

/* }====== */

#endif
