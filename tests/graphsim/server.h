/*
 * server.h: graphsim's HTTP front: the evhttp listener, the OAuth2 token endpoint, bearer token
 * checks, wire checks every Graph request passes (415 for a non-JSON Content-Type on POST, PUT
 * and PATCH; /users('$x') key segments), fault injection (throttling with Retry-After per path
 * or tenant-wide with x-ms-throttle-scope and violation counting, 503s, latency, unusable 2xx
 * answers), statistics, the request log (with the headers and bodies weir sent) and the /_sim
 * introspection endpoints.
 *
 * It turns each HTTP request into a gs_req for graph.c and each gs_resp back into an HTTP reply.
 * It owns the tenant and the parsed seed (for /_sim/reset). It is not the Graph semantics.
 */
#ifndef GS_SERVER_H
#define GS_SERVER_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>

/* The unusable answers of the bad_answer fault. */
enum gs_bad_kind {
    GS_BAD_NONE,
    GS_BAD_EMPTY_202,  /* 202 Accepted, no body */
    GS_BAD_HTML,       /* 200 text/html (top-level requests only) */
    GS_BAD_TRUNCATED,  /* the JSON answer cut in half (top-level requests only) */
    GS_BAD_NO_ID,      /* the JSON answer without "id" (and its "value" items without theirs) */
    GS_BAD_WRONG_SHAPE /* 200 with the JSON array [] */
};

/* The next `count` Graph requests (and $batch items) with this method (empty = any), a path
 * under this prefix (relative to /v1.0, case-insensitive; empty = any) and a query holding this
 * text (as sent, case-insensitive; empty = any) answer `kind`, after the request itself was
 * carried out. */
struct gs_bad_answer {
    enum gs_bad_kind kind;
    long count;
    char method[8];
    char path[256];
    char query[256];
    char member[64]; /* no_id: drop this member at every depth instead of the top-level "id" and
                        the "value" items' ("" = that default) */
};

/* How many bad_answer faults may be set at once (a list in /_sim/faults). */
#define GS_BAD_MAX 32
#include "graph.h"

/* Fault injection settings; 0 disables a fault. */
struct gs_faults {
    long throttle_every;       /* every K-th mutation answers 429 */
    double retry_after;        /* seconds sent in Retry-After with those 429s */
    long fail_every;           /* every K-th Graph request answers 503 */
    long latency_ms;           /* added delay before every non-/_sim reply */
    unsigned throttle_classes; /* a tenant-wide burst's scope: 1 Read, 2 Write, 3 ReadWrite */
    long throttle_grace_ms;    /* a request of the scope that arrives this soon after a 429 was
                                  written to the client is not a violation for that 429 (the
                                  client cannot have read it yet) */
    /* bad_answer: bad[0 .. nbad); the first that matches a request takes it. bad_list: they
       were given as a list (and /_sim/faults shows them so). */
    struct gs_bad_answer bad[GS_BAD_MAX];
    size_t nbad;
    bool bad_list;
};

struct gs_options {
    int port;              /* 0 = ephemeral */
    double token_lifetime; /* seconds */
    struct gs_faults faults;
    long generate_users;        /* synthetic users; -1 = the seed's "generate_users" */
    long log_limit;             /* request log entries kept (oldest dropped first) */
    double tenant_throttle_for; /* a tenant-wide 429 burst from start-up, seconds (0 = none) */
    const char *graph_host;     /* Graph's host name: the token scope https://HOST/.default and
                                   @odata.context/@odata.id URLs; NULL = graph.microsoft.com */
    /* behaviour switches (graph.h); /_sim/faults changes them too */
    struct gs_model model;
};

/* The classes a throttling scope name covers: "Read" 1, "Write" 2, "ReadWrite" 3 (any case);
 * 0 when unknown. */
unsigned gs_throttle_classes(const char *name);

/* Whether name can be a Graph host name (letters, digits, '.' and '-', 1-127 characters). */
bool gs_host_ok(const char *name);

/* Parses a bad_answer kind name ("empty_202", "html", "truncated", "no_id", "wrong_shape");
 * GS_BAD_NONE when unknown. */
enum gs_bad_kind gs_bad_kind_parse(const char *name);

struct gs_server;

/* Builds the tenant from seed (ownership taken, even on failure) and listens on 127.0.0.1 at
 * opt->port on base. Returns NULL with a message in err on failure. */
struct gs_server *gs_server_new(struct event_base *base, json_object *seed,
                                const struct gs_options *opt, char *err, size_t errlen);

/* Returns the bound TCP port. */
int gs_server_port(const struct gs_server *srv);

/* Returns the number of users in the tenant (for the start-up message). */
size_t gs_server_user_count(const struct gs_server *srv);

/* Sends every reply still waiting on latency now and stops delaying new ones; the caller keeps
 * the loop running briefly afterwards so the replies reach the sockets (used on SIGTERM). */
void gs_server_flush(struct gs_server *srv);

/* Sends any delayed replies now, closes the listener and frees everything; NULL is accepted. */
void gs_server_free(struct gs_server *srv);

#endif
