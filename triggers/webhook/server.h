/*
 * webhook_server — the webhook trigger at run time: an evhttp listener whose routes are the
 * `trigger.webhook.path`s of the loaded workflows.
 *
 * A request is checked (POST, a JSON content type, a body that parses), split into events
 * when the route has `split:`, keyed for idempotency (the `id:` template, else the
 * webhook-id, X-GitHub-Delivery or X-Request-Id header), and handed to ingest. The answer
 * waits for the journal's commit: 202 {"event_id", "runs"} once the events are durable,
 * 200 {"event_id", "duplicate": true} for a delivery seen before, 503 with Retry-After when
 * storing failed (the sender retries; nothing was acknowledged).
 *
 * Before any of that, engine/net/http_guard bounds connections and requests (the connection cap,
 * the deadline to receive a request, the idle timeout, header and body sizes: `limits:` in
 * weir.yaml) and answers what it refuses itself.
 */
#ifndef WR_WEBHOOK_SERVER_H
#define WR_WEBHOOK_SERVER_H

#include <stddef.h>

struct event_base;
struct evhttp_request;
struct wr_http_limits;
struct wr_ingest;
struct wr_workflow_set;

struct wr_trigger_kind;

struct wr_webhook_server;

/* The webhook trigger's descriptor (triggers/webhook/webhook.c). */
extern const struct wr_trigger_kind wr_trigger_webhook;

/* Where webhooks are received when weir.yaml's `listen:` does not say. */
#define WR_WEBHOOK_DEFAULT_LISTEN "127.0.0.1:8080"

/*
 * Listens on listen ("HOST:PORT"; port 0 picks a free one) and routes the webhook
 * workflows of set (borrowed; see wr_webhook_server_set_workflows to swap it). The listener
 * enforces limits (copied; NULL = engine/net/http_guard's defaults: 1MiB bodies, 16KiB headers, 10s
 * to receive a request, 1024 connections). Returns NULL with a message in err.
 */
struct wr_webhook_server *wr_webhook_server_new(struct event_base *base, struct wr_ingest *in,
                                                const struct wr_workflow_set *set,
                                                const char *listen,
                                                const struct wr_http_limits *limits, char *err,
                                                size_t errlen);

/*
 * Hands every request whose path starts with prefix (borrowed, outlives s) to fn(req, arg)
 * instead of the webhook routes: pages of the core (the approval page) on the same listener,
 * under the same limits. The path is the one the client sent, before any query. NULL prefix:
 * none. One mount at a time.
 */
void wr_webhook_server_mount(struct wr_webhook_server *s, const char *prefix,
                             void (*fn)(struct evhttp_request *req, void *arg), void *arg);

/* The bound port (useful with port 0). */
int wr_webhook_server_port(const struct wr_webhook_server *s);

/* Routes to a new workflow set from now on (requests in flight keep the old one). */
void wr_webhook_server_set_workflows(struct wr_webhook_server *s,
                                     const struct wr_workflow_set *set);

/* Closes the listening socket; requests already received still get their answers. */
void wr_webhook_server_stop_accepting(struct wr_webhook_server *s);

/* Number of requests waiting for their commit. */
size_t wr_webhook_server_pending(const struct wr_webhook_server *s);

/* Stops listening and frees the server. Requests still waiting get no answer: drain first. */
void wr_webhook_server_free(struct wr_webhook_server *s);

#endif
