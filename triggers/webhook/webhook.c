/*
 * webhook — the webhook trigger: an HR system POSTs JSON to a path. This file declares the
 * trigger's arguments and the checks across them, and its run-time slots; receiving requests
 * is triggers/webhook/server, verifying them triggers/webhook/auth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "engine/net/net_guard.h"
#include "triggers/trigger.h"
#include "triggers/webhook/auth.h"
#include "triggers/webhook/preset.h"
#include "triggers/webhook/server.h"
#include "triggers/webhook/setup.h"

static const char *const algorithms[] = {"sha256", "sha512", NULL};
static const char *const encodings[] = {"hex", "base64", NULL};
static const char *const ts_formats[] = {"unix", "unix_ms", "iso8601", NULL};
static const char *const bodies[] = {"json", "form", "xml", NULL};

static const struct wr_argspec timestamp_args[] = {
    {.name = "header",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "the header holding the time the request was signed"},
    {.name = "format",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_NO_TEMPLATE,
     .choices = ts_formats,
     .help = "how it is written; default unix (seconds)"},
    {.name = "tolerance",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how far from now it may be; default 5m (older or newer is refused)"},
    {0},
};

static const struct wr_argspec auth_args[] = {
    {.name = "type",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .choices = wr_webhook_auth_types,
     .help = "how requests are signed"},
    {.name = "secret",
     .type = WR_ARG_SECRETS,
     .flags = WR_ARG_REQUIRED,
     .help = "the key, token or user:password as env:NAME or file:PATH; a list while keys "
             "rotate"},
    {.name = "tolerance",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "standard-webhooks and presets with a timestamp: how far it may be from now; "
             "default 5m"},
    {.name = "header",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "hmac: the header holding the signature"},
    {.name = "algorithm",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_NO_TEMPLATE,
     .choices = algorithms,
     .help = "hmac: the hash; default sha256"},
    {.name = "encoding",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_NO_TEMPLATE,
     .choices = encodings,
     .help = "hmac: how the signature is written; default hex"},
    {.name = "prefix",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "hmac: text before the signature, e.g. sha256="},
    {.name = "signed",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "hmac: what is signed, in order: body, method, path, header:NAME, text:LITERAL; "
             "default [body]"},
    {.name = "timestamp",
     .type = WR_ARG_OBJECT,
     .fields = timestamp_args,
     .help = "hmac: a signed timestamp header, refused outside its tolerance"},
    /* for `weir schema`: webhook_validate's "hmac needs header, and its tolerance sits under
       timestamp:; the recipe keys are hmac's" */
    {.schema = "{\"if\": {\"required\": [\"type\"], \"properties\": {\"type\": {\"const\": "
               "\"hmac\"}}}, \"then\": {\"required\": [\"header\"], \"not\": {\"required\": "
               "[\"tolerance\"]}}, \"else\": {\"not\": "
               "{\"anyOf\": [{\"required\": [\"header\"]}, {\"required\": [\"algorithm\"]}, "
               "{\"required\": [\"encoding\"]}, {\"required\": [\"prefix\"]}, {\"required\": "
               "[\"signed\"]}, {\"required\": [\"timestamp\"]}]}}}"},
};

static const struct wr_argspec webhook_args[] = {
    {.name = "path",
     .type = WR_ARG_URLPATH,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "URL path to POST to, e.g. /hooks/hr"},
    {.name = "secret",
     .type = WR_ARG_SECRET,
     .help = "standard-webhooks key as env:NAME or file:PATH (short for auth:)"},
    {.name = "auth",
     .type = WR_ARG_OBJECT,
     .fields = auth_args,
     .help = "how requests are verified (`weir help auth`: the recipes and vendor presets)"},
    {.name = "accept",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_NO_TEMPLATE,
     .choices = bodies,
     .help = "the bodies taken: json, form (urlencoded), xml (and SOAP); default the preset's, "
             "else [json]",
     .schema = "{\"minItems\": 1, \"uniqueItems\": true}"}, /* webhook_validate */
    {.name = "allow_from",
     .type = WR_ARG_STRINGS,
     .help = "CIDRs the sender's address must be in, e.g. [192.0.2.0/24, \"2001:db8::/32\"]"},
    {.name = "id",
     .type = WR_ARG_STRING,
     .help = "idempotency key template; default: the preset's event id, else the webhook-id, "
             "X-GitHub-Delivery or X-Request-Id header"},
    {.name = "split",
     .type = WR_ARG_EXPR,
     .help = "Lua expression yielding an array (one event per element) or one object"},
    /* for `weir schema`: webhook_validate's "secret is short for auth:, not both" */
    {.schema = "{\"not\": {\"required\": [\"secret\", \"auth\"]}}"},
};

static const char *str_arg(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* Reports key under auth at path when it is set but means nothing for this type. */
static void only_for(struct wr_check *c, struct json_object *auth, const char *path,
                     const char *key, const char *type, const char *owner)
{
    struct json_object *v = NULL;
    if (strcmp(type, owner) != 0 && json_object_object_get_ex(auth, key, &v)) {
        char *p = wr_path_key(path, key);
        wr_check_error(c, p, true, "'%s' applies only to type %s, not %s", key, owner, type);
        free(p);
    }
}

/* Runs after the table check passed: the rules that span keys. */
static void webhook_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *auth = NULL, *allow = NULL;
    if (json_object_object_get_ex(args, "auth", &auth)) {
        char *ap = wr_path_key(path, "auth");
        const char *type = str_arg(auth, "type");
        if (str_arg(args, "secret")) {
            char *sp = wr_path_key(path, "secret");
            wr_check_error(c, sp, true,
                           "'secret' is short for auth: {type: standard-webhooks, secret: ...}; "
                           "with 'auth', put the secret inside it");
            free(sp);
        }
        const struct wr_webhook_preset *preset = wr_webhook_preset_find(type);
        struct json_object *v = NULL;
        if (json_object_object_get_ex(auth, "tolerance", &v) &&
            strcmp(type, "standard-webhooks") != 0 && !(preset && preset->timestamp_header)) {
            char *p = wr_path_key(ap, "tolerance");
            wr_check_error(c, p, true,
                           "'tolerance' applies to standard-webhooks and the presets "
                           "with a timestamp (bamboohr), not %s%s",
                           type,
                           strcmp(type, "hmac") == 0 ? "; for hmac, put it under timestamp:" : "");
            free(p);
        }
        static const char *const recipe[] = {"header", "algorithm", "encoding", "prefix",
                                             "signed", "timestamp", NULL};
        for (size_t i = 0; recipe[i]; i++) {
            if (preset && json_object_object_get_ex(auth, recipe[i], &v)) {
                char *p = wr_path_key(ap, recipe[i]);
                wr_check_error(c, p, true,
                               "type %s is a preset: its recipe is fixed (`weir help auth`); "
                               "use type hmac to write one",
                               type);
                free(p);
            } else if (!preset) {
                only_for(c, auth, ap, recipe[i], type, "hmac");
            }
        }
        if (strcmp(type, "hmac") == 0 && !str_arg(auth, "header")) {
            wr_check_error(c, ap, false,
                           "type hmac needs 'header' (the header with the signature)");
        }
        struct json_object *sig = NULL;
        if (json_object_object_get_ex(auth, "signed", &sig)) {
            char *sp = wr_path_key(ap, "signed");
            size_t n = json_object_array_length(sig);
            if (n == 0) {
                wr_check_error(c, sp, false, "lists nothing to sign (e.g. [body])");
            }
            for (size_t i = 0; i < n; i++) {
                char why[WR_ERR_MAX];
                const char *w = json_object_get_string(json_object_array_get_idx(sig, i));
                if (wr_webhook_signed_part(w, why, sizeof(why)) < 0) {
                    char *ip = wr_path_index(sp, i);
                    wr_check_error(c, ip, false, "%s", why);
                    free(ip);
                }
            }
            free(sp);
        }
        free(ap);
    }
    struct json_object *accept = NULL;
    if (json_object_object_get_ex(args, "accept", &accept)) {
        char *lp = wr_path_key(path, "accept");
        unsigned seen = 0;
        size_t n = json_object_array_length(accept);
        if (n == 0) {
            wr_check_error(c, lp, false, "accepts nothing (e.g. [json] or [json, form, xml])");
        }
        for (size_t i = 0; i < n; i++) {
            unsigned bit =
                wr_webhook_body_bit(json_object_get_string(json_object_array_get_idx(accept, i)));
            if (bit && (seen & bit)) {
                char *ip = wr_path_index(lp, i);
                wr_check_error(c, ip, false, "is listed twice");
                free(ip);
            }
            seen |= bit;
        }
        free(lp);
    }
    if (json_object_object_get_ex(args, "allow_from", &allow)) {
        char *lp = wr_path_key(path, "allow_from");
        for (size_t i = 0; i < json_object_array_length(allow); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(allow, i));
            struct wr_net_prefix net;
            char why[WR_ERR_MAX];
            enum wr_net_prefix_status st = wr_net_prefix_parse(s, &net, why, sizeof(why));
            if (st != WR_NET_PREFIX_OK) {
                char *ip = wr_path_index(lp, i);
                if (st == WR_NET_PREFIX_HOST_BITS) {
                    wr_check_error(c, ip, false, "%s", why);
                } else {
                    wr_check_error(c, ip, false,
                                   "'%.*s' is not a CIDR (e.g. 192.0.2.0/24 or 2001:db8::/32)",
                                   wr_utf8_prec(s, 80), s);
                }
                free(ip);
            }
        }
        free(lp);
    }
}

static const char *const webhook_shared[] = {"secret", "auth",   "allow_from", "id",
                                             "split",  "accept", NULL};

/* {====== at run time: one listener for every webhook path ====== */

static const struct wr_argspec webhook_listen = {
    .name = "webhook",
    .type = WR_ARG_LISTEN,
    .flags = WR_ARG_NO_TEMPLATE,
    .help = "HOST:PORT for webhooks; default " WR_WEBHOOK_DEFAULT_LISTEN,
};

struct webhook_rt {
    struct wr_webhook_server *srv;
    const char *listen; /* borrowed from the config: the host part of the ready line */
};

static void *webhook_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                           char *err, size_t errlen)
{
    struct wr_webhook_server *srv =
        wr_webhook_server_new(env->base, env->ingest, set, env->listen, env->limits, err, errlen);
    if (!srv) {
        return NULL;
    }
    wr_webhook_server_mount(srv, env->mount_prefix, env->mount_fn, env->mount_arg);
    struct webhook_rt *rt = wr_xcalloc(1, sizeof(*rt));
    rt->srv = srv;
    rt->listen = env->listen;
    return rt;
}

/* The host as configured (brackets and all) with the port bound: port 0 shows the real one. */
static bool webhook_ready(const void *p, char *addr, size_t addrlen)
{
    const struct webhook_rt *rt = p;
    snprintf(addr, addrlen, "%.*s:%d", (int)(strrchr(rt->listen, ':') - rt->listen), rt->listen,
             wr_webhook_server_port(rt->srv));
    return true;
}

/* A request routed with a replaced set is still waiting for its commit. */
static bool webhook_busy(const void *p)
{
    const struct webhook_rt *rt = p;
    return wr_webhook_server_pending(rt->srv) > 0;
}

/* Cannot fail: a path whose secret cannot be resolved refuses every request (logged). */
static void webhook_commit(void *p, const struct wr_workflow_set *set)
{
    struct webhook_rt *rt = p;
    wr_webhook_server_set_workflows(rt->srv, set);
}

static void webhook_stop_accepting(void *p)
{
    struct webhook_rt *rt = p;
    wr_webhook_server_stop_accepting(rt->srv);
}

static size_t webhook_pending(void *p)
{
    struct webhook_rt *rt = p;
    return wr_webhook_server_pending(rt->srv);
}

static void webhook_free(void *p)
{
    struct webhook_rt *rt = p;
    if (rt) {
        wr_webhook_server_free(rt->srv);
        free(rt);
    }
}

/* }====== */

/* The console's one line for a workflow of this kind. */
static char *webhook_summarize(const struct wr_workflow *wf)
{
    static const struct wr_trigger_summary_part parts[] = {{.key = "path"}, {0}};
    return wr_trigger_summary(wf, parts);
}

const struct wr_trigger_kind wr_trigger_webhook = {
    .name = "webhook",
    .summary = "an HTTP POST (JSON, form or XML/SOAP body), e.g. from an HR system",
    .args = webhook_args,
    .validate = webhook_validate,
    .route_arg = "path",
    .shared_args = webhook_shared,
    .listen = &webhook_listen,
    .listen_default = WR_WEBHOOK_DEFAULT_LISTEN,
    .what = "webhook listener",
    .start = webhook_start,
    .ready = webhook_ready,
    .busy = webhook_busy,
    .commit = webhook_commit,
    .stop_accepting = webhook_stop_accepting,
    .pending = webhook_pending,
    .free = webhook_free,
    .topic = "auth",
    .print_topic = wr_webhook_preset_help,
    .command = "webhooks",
    .command_summary = "list the webhook paths: verification, bodies, ids, pending setup tokens",
    .command_help =
        "Lists every webhook path of the loaded workflows: the workflows on it, how requests\n"
        "are verified (`weir help auth`) and whether its secret can be read now, the bodies it\n"
        "accepts and where each delivery's idempotency key comes from. For a vendor whose\n"
        "setup sends a verification token (Gusto), the newest token received on the path is\n"
        "listed as PENDING until the path's secret holds it: put it in the secret (env: or\n"
        "file:), reload weir (SIGHUP), then verify the subscription at the vendor. Reads the\n"
        "journal only, so it works while the daemon runs.",
    .describe = wr_webhook_describe,
    .print_description = wr_webhook_print_description,
    .summarize = webhook_summarize,
};
