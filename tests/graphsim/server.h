/*
 * server.h: graphsim's HTTP front: the evhttp listener, the OAuth2 token endpoint, bearer token
 * checks, fault injection (throttling with Retry-After, 503s, latency), statistics, the request
 * log and the /_sim introspection endpoints.
 *
 * It turns each HTTP request into a gs_req for graph.c and each gs_resp back into an HTTP reply.
 * It owns the tenant and the parsed seed (for /_sim/reset). It is not the Graph semantics.
 */
#ifndef GS_SERVER_H
#define GS_SERVER_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "graph.h"

/* Fault injection settings; 0 disables a fault. */
struct gs_faults {
    long throttle_every; /* every K-th mutation answers 429 */
    double retry_after;  /* seconds sent in Retry-After with those 429s */
    long fail_every;     /* every K-th Graph request answers 503 */
    long latency_ms;     /* added delay before every non-/_sim reply */
};

struct gs_options {
    int port;              /* 0 = ephemeral */
    double token_lifetime; /* seconds */
    struct gs_faults faults;
    long generate_users; /* synthetic users; -1 = the seed's "generate_users" */
    long log_limit;      /* request log entries kept (oldest dropped first) */
    /* behaviour switches (graph.h); /_sim/faults changes them too */
    struct gs_model model;
};

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
