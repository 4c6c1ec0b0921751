/*
 * graph.h: Microsoft Graph v1.0 semantics over the simulated tenant.
 *
 * A request arrives here as a method, a path relative to /v1.0, decoded query options and a body;
 * the answer leaves as a status, a JSON body and an optional Retry-After. The same entry point
 * serves top-level requests and $batch items, so both behave alike. This module decides Graph's
 * status codes, error codes and messages; it knows nothing of sockets, tokens, fault injection,
 * statistics or the request log (server.c does those, and runs batch items through them via
 * gs_ctx.run_item).
 */
#ifndef GS_GRAPH_H
#define GS_GRAPH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit.h"
#include "tenant.h"

struct gs_query {
    char *key;   /* decoded */
    char *value; /* decoded */
    char *raw;   /* the undecoded "key=value" piece, for rebuilding @odata.nextLink */
};

struct gs_req {
    char method[8];
    char *path; /* undecoded path relative to /v1.0, starting with '/' */
    char **seg; /* decoded path segments */
    size_t nseg;
    struct gs_query *q; /* query options in request order */
    size_t nq;
    bool bad_target;  /* a segment or option did not decode */
    const char *body; /* raw body (borrowed) for top-level requests, else NULL */
    size_t body_len;
    const char *content_type; /* borrowed, or NULL */
    const char *consistency;  /* ConsistencyLevel header (borrowed), or NULL */
    const char *prefer;       /* Prefer header (borrowed), or NULL */
    json_object *json;        /* parsed body: set for batch items, or parsed on demand (owned) */
    bool has_body;            /* a body was sent (raw or, for batch items, a JSON value) */
    bool batch_item;
};

struct gs_resp {
    int status;
    json_object *body;        /* owned; NULL for no body */
    char *text;               /* owned: a text/plain body ($count) sent instead of body, or NULL */
    char retry_after[24];     /* Retry-After header value, or "" */
    char throttle_scope[160]; /* x-ms-throttle-scope header value, or "" */
    char throttle_info[48];   /* x-ms-throttle-information header value, or "" */
    bool unknown_path;        /* the target matched no resource */
    double hold;              /* seconds to hold the reply back (timeout_next_create), or 0 */
};

/*
 * How the real service behaves where a tidy simulator would not (GRAPH.md section 12): switches
 * set from the command line (main.c) and POST /_sim/faults (server.c, through gs_model_set).
 * A zeroed model is the tidy simulator.
 */
struct gs_model {
    /* Replica lag, seconds: reads of, references to and writes by id on a user created less
       than this ago answer 404 Request_ResourceNotFound, and so do lists and filters (the
       user is not there yet); assignLicense within this time after a usageLocation change
       answers the invalid-usage-location 400. */
    double replica_lag;
    /* GS_MODEL_PIM_* bits: those PIM endpoints (schedules and schedule requests) answer 403
       Authorization_RequestDenied, as for an app without the permission. */
    unsigned pim_forbidden;
    /* Seconds: the next create (a POST answering 201: a user, a role assignment, a schedule
       request) is applied, then its reply is held this long, past the client's timeout.
       One-shot; 0 = off. */
    double timeout_next_create;
    /* Delta tokens (users/delta, groups/delta) carry the generation they were issued in; one
       from an older generation is expired. POST /_sim/faults {"expire_delta_tokens": true}
       starts a new generation. */
    uint64_t delta_generation;
    /* How an expired delta token is refused: 400 syncStateNotFound (the default, Microsoft's
       identity delta-token notice) or 410 resyncRequired ({"delta_expired_status": 410}). */
    int delta_expired_status;
    /* Objects per page of a delta round (users/delta); 0 = DELTA_PAGE (200). Graph picks its
       own page size; {"delta_page_size": N} makes small tenants page in tests. */
    long delta_page_size;
    /* {"delta_forbidden": true}: users/delta and groups/delta answer 403
       Authorization_RequestDenied, as for an app that lacks the read permission. */
    bool delta_forbidden;
    /* Items per page of /users/{id}/memberOf at most, whatever $top asks; 0 = as $top says.
       {"member_of_page_size": 2} makes a user's few groups page in tests. */
    long member_of_page_size;
    /* Where @odata.nextLink and @odata.deltaLink point: "" = graphsim's own address;
       {"link_base": "http://graph.example"} makes links a client must refuse (a Graph answer
       that leads elsewhere), without the test reaching any other address. */
    char link_base[128];
    /* Seconds: the next POST /users/{id}/sendMail is accepted (the mail is stored), then its
       202 is held this long, past the client's timeout (a send whose answer was lost).
       One-shot; 0 = off. */
    double timeout_next_send;
    /* Issue 18's action kit: the TAP policy and OneDrive switches (kit.h). */
    struct gs_kit_model kit;
};

#define GS_MODEL_PIM_ELIGIBILITY 0x1u /* roleEligibilitySchedules and their requests */
#define GS_MODEL_PIM_ASSIGNMENT  0x2u /* roleAssignmentSchedules and their requests */

/* Applies one /_sim/faults member to m if key is one of the model's ("replica_lag" seconds,
 * "pim_forbidden" "none"|"eligibility"|"assignment"|"all", "timeout_next_create" seconds,
 * "expire_delta_tokens" true, "delta_expired_status" 400|410, "delta_forbidden" true|false,
 * "link_base" "" or an http(s) URL, "timeout_next_send" seconds).
 * Returns false (m unchanged) for another key or an invalid value. */
bool gs_model_set(struct gs_model *m, const char *key, json_object *val);

/* Adds the model's settings to a /_sim/faults answer (obj, borrowed). */
void gs_model_json(const struct gs_model *m, json_object *obj);

/* Parses a command-line duration: "3s", "1.5s", "500ms" or plain seconds ("3"), 0..3600 s.
 * Returns false when s is none of those. */
bool gs_model_parse_seconds(const char *s, double *out);

/* Parses --pim-forbidden's value ("none", "eligibility", "assignment", "all") into bits. */
bool gs_model_parse_pim(const char *s, unsigned *out);

struct gs_ctx;

/* Runs one $batch item through the same checks as a top-level request (faults, statistics, the
 * request log) and then gs_graph_dispatch. item_id is the batch item's id. When resp arrives
 * with a status already set (a 424 for a failed dependency) the item is not run, only recorded. */
typedef void gs_run_item_fn(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp,
                            const char *item_id);

struct gs_ctx {
    struct gs_tenant *tenant;
    const char *base_url;          /* "http://127.0.0.1:PORT", for @odata.nextLink */
    const char *request_id;        /* this request's request-id */
    const char *client_request_id; /* the caller's client-request-id, else request_id */
    gs_run_item_fn *run_item;
    void *owner;            /* server state, for run_item */
    struct gs_model *model; /* the behaviour switches (may change: one-shots), or NULL = off */
};

/* Fills req from method and target ("/users/x?$top=1", relative to /v1.0). Decoding problems
 * set bad_target rather than failing. Release with gs_req_clear. */
void gs_req_init(struct gs_req *req, const char *method, const char *target);

/* Frees what req owns and zeroes it; safe on a zeroed or already-cleared req. */
void gs_req_clear(struct gs_req *req);

/* Releases resp's body and zeroes it. */
void gs_resp_clear(struct gs_resp *resp);

/* Answers one Graph request: fills resp (status, body, flags). */
void gs_graph_dispatch(struct gs_ctx *ctx, struct gs_req *req, struct gs_resp *resp);

/* Sets resp to a Graph error: {"error":{"code","message","innerError":{"date","request-id",
 * "client-request-id"}}}. Replaces any body resp had. */
void gs_error(const struct gs_ctx *ctx, struct gs_resp *resp, int status, const char *code,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sets resp to Graph's 429 (TooManyRequests) with Retry-After seconds, printed with three
 * decimals. */
void gs_error_throttled(const struct gs_ctx *ctx, struct gs_resp *resp, double seconds);

/* Returns whether method changes state (POST, PATCH, PUT, DELETE). */
bool gs_is_write(const char *method);

/* Returns the HTTP reason phrase for status. */
const char *gs_reason(int status);

#endif
