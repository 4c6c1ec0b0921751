/*
 * webhook_request — one webhook delivery decoded into events, without any I/O.
 *
 * The listener (webhook_server) routes the request, authenticates its raw bytes and checks
 * the method; everything after that is here, as a pure function of the routed workflow, the
 * request headers and the body, so it can be tested and fuzzed without a socket: the
 * content type must be one the path accepts, a JSON body must be strict JSON (engine/base/json: RFC
 * 8259, UTF-8, no duplicate keys, numbers exact; 400 with the line and column) and an object (422
 * otherwise; a list is accepted where `split:` takes it apart), `split:` fans it out into one event
 * per element (each an object), and each event gets its idempotency key (the `id:` template, else
 * the webhook-id / X-GitHub-Delivery / X-Request-Id header, with the element's index appended for a
 * split delivery) and the key's scope, "webhook PATH (ORIGIN)" with ORIGIN `id` or the header's
 * lower-case name: a key is unique per path and origin, so the same id on another path, or in
 * another header, is another delivery. The audit headers come without secrets.
 *
 * Bodies (issue 19): the path's `accept:` (else its vendor preset's, else JSON) says which
 * content types it takes — JSON, application/x-www-form-urlencoded (engine/base/form: an
 * object of strings, repeated keys as lists) or XML/SOAP (engine/base/xml: no DTD, no
 * entities; the SOAP envelope unwrapped) — anything else is 415 naming what it accepts. A
 * preset's event id (Gusto's uuid, SuccessFactors' externalEventId) is the delivery's key
 * when no `id:` is given, and `split:` may yield one object (a list of one).
 */
#ifndef WR_WEBHOOK_REQUEST_H
#define WR_WEBHOOK_REQUEST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/base/strutil.h"

#include "engine/store/ingest.h"

struct evkeyvalq;
struct wr_workflow;

struct wr_webhook_decoded {
    int status;         /* 0: events are ready; else the HTTP status to answer (400, 415, 422) */
    const char *reason; /* status != 0: its reason phrase ("Bad Request", ...) */
    char error[WR_ERR_MAX]; /* status != 0: the message for the answer */
    size_t count;
    struct wr_ingest_event *events; /* count entries, borrowing from this struct */
    struct json_object *headers;    /* the request headers minus secrets, for audit */
    bool is_split;                  /* fanned out by `split:` (answered as a list of events,
                                       whatever their number) */
    /* private */
    struct json_object *body, *split;
    char **keys;
    char *scope, *legacy_scope;
    char *delivery_key; /* a preset's event id read from the body, or NULL */
};

/*
 * Decodes a delivery routed to wf (the first workflow of its path: workflows sharing a path
 * agree on id and split). headers are the request's; body/len its raw bytes. Fills *out,
 * which wr_webhook_decoded_clear releases whatever the status. Never fails otherwise.
 */
void wr_webhook_decode(const struct wr_workflow *wf, const struct evkeyvalq *headers,
                       const char *body, size_t len, struct wr_webhook_decoded *out);

void wr_webhook_decoded_clear(struct wr_webhook_decoded *d);

/* Whether a request header is a credential or signature, never stored with an event. */
bool wr_webhook_secret_header(const char *name);

#endif
