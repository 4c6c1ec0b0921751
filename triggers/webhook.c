/*
 * webhook — the webhook trigger: an HR system POSTs JSON to a path. This file declares the
 * trigger's arguments; receiving requests arrives with the ingest work.
 */
#include "triggers/trigger.h"

static const struct wr_argspec webhook_args[] = {
    {.name = "path",
     .type = WR_ARG_URLPATH,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "URL path to POST to, e.g. /hooks/hr"},
    {.name = "secret", .type = WR_ARG_SECRET, .help = "HMAC key as env:NAME or file:PATH"},
    {.name = "id",
     .type = WR_ARG_STRING,
     .help = "idempotency key template; default: the webhook-id header"},
    {.name = "split",
     .type = WR_ARG_EXPR,
     .help = "Lua expression yielding an array; one event per element"},
    {0},
};

static const char *const webhook_shared[] = {"secret", "id", "split", NULL};

const struct wr_trigger_kind wr_trigger_webhook = {
    .name = "webhook",
    .summary = "an HTTP POST with a JSON body, e.g. from an HR system",
    .args = webhook_args,
    .route_arg = "path",
    .shared_args = webhook_shared,
};
