/*
 * config — loading and checking weir.yaml; see config.h.
 */
#include "engine/config.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lang/argspec.h"
#include "engine/base/duration.h"
#include "engine/net/net_guard.h"
#include "engine/base/secret.h"
#include "engine/base/size.h"
#include "engine/base/strutil.h"
#include "engine/lua/template.h"
#include "engine/store/db.h"
#include "triggers/trigger.h"

#define WR_CONFIG_MAX_CONCURRENCY 256
#define WR_CONFIG_MAX_WRITES      1000000
#define WR_CONFIG_BATCH_LIMIT     20
#define WR_XSTR(x)                #x
#define WR_STR(x)                 WR_XSTR(x)

#define WR_CONFIG_MAX_LISTEN 16 /* keys under listen: (the admin API's and the triggers') */

/* listen: each trigger kind that listens brings its key (registry order), then the admin
   API's; filled by listen_spec() before the first use. */
static struct wr_argspec listen_fields[WR_CONFIG_MAX_LISTEN + 1];

static const struct wr_argspec admin_listen = {
    .name = "admin",
    .type = WR_ARG_LISTEN,
    .flags = WR_ARG_NO_TEMPLATE,
    .help =
        "HOST:PORT for the admin API and the web console (/ui/); default " WR_CONFIG_DEFAULT_ADMIN,
};

static void listen_spec(void)
{
    if (listen_fields[0].name) {
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < wr_trigger_count(); i++) {
        const struct wr_trigger_kind *k = wr_trigger_at(i);
        if (k->listen) {
            assert(n < WR_CONFIG_MAX_LISTEN - 1);
            listen_fields[n++] = *k->listen;
        }
    }
    listen_fields[n] = admin_listen;
}

static const struct wr_argspec pacing_fields[] = {
    {.name = "writes_per_150s",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "an integer 1-" WR_STR(WR_CONFIG_MAX_WRITES) " or off",
     .schema = "{\"oneOf\": [{\"type\": \"integer\", \"minimum\": 1, \"maximum\": " WR_STR(
         WR_CONFIG_MAX_WRITES) "}, {\"const\": \"off\"}]}",
     .help = "writes per 150 s, or off (simulator, benchmarks); default 2700"},
    {0},
};

static const struct wr_argspec graph_fields[] = {
    {.name = "tenant",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "tenant id (GUID) or domain, e.g. contoso.onmicrosoft.com"},
    {.name = "client_id",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "the app registration's application (client) id",
     .schema = "{\"pattern\": \"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
               "[0-9A-Fa-f]{12}$\"}"}, /* is_guid */
    {.name = "client_secret",
     .type = WR_ARG_SECRET,
     .help = "env:NAME or file:PATH; or use client_certificate + client_key"},
    {.name = "client_certificate",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "PEM certificate registered on the app (path); signs in with client_key"},
    {.name = "client_key",
     .type = WR_ARG_SECRET,
     .help = "the certificate's PEM RSA private key: env:NAME or file:PATH"},
    {.name = "authority",
     .type = WR_ARG_URL,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "token authority; default " WR_CONFIG_DEFAULT_AUTHORITY},
    {.name = "base_url",
     .type = WR_ARG_URL,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "Graph base URL; default " WR_CONFIG_DEFAULT_BASE_URL
             " (national clouds: https://graph.microsoft.us/v1.0, "
             "https://dod-graph.microsoft.us/v1.0, https://microsoftgraph.chinacloudapi.cn/v1.0)"},
    {.name = "scope",
     .type = WR_ARG_URL,
     .flags = WR_ARG_NO_TEMPLATE,
     .help =
         "token scope; default from base_url's host: https://HOST/.default on a Microsoft "
         "Graph host (https://graph.microsoft.us/.default for https://graph.microsoft.us/v1.0), "
         "else https://graph.microsoft.com/.default"},
    {.name = "pacing",
     .type = WR_ARG_OBJECT,
     .fields = pacing_fields,
     .help = "a per-tenant token bucket on writes"},
    {.name = "max_concurrency",
     .type = WR_ARG_INT,
     .min = 1,
     .max = WR_CONFIG_MAX_CONCURRENCY,
     .help = "Graph requests in flight at once, 1-256; default 16"},
    {.name = "batch",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "an integer 1-20 or off",
     .schema = "{\"oneOf\": [{\"type\": \"integer\", \"minimum\": 1, \"maximum\": " WR_STR(
         WR_CONFIG_BATCH_LIMIT) "}, {\"const\": \"off\"}]}",
     .help = "requests per $batch call, 1-20, or off; default 20"},
    /* for `weir schema`: check_credentials' "client_secret, or client_certificate with
       client_key" */
    {.schema = "{\"oneOf\": [{\"required\": [\"client_secret\"]}, {\"required\": "
               "[\"client_certificate\", \"client_key\"]}], \"dependentRequired\": "
               "{\"client_certificate\": [\"client_key\"], \"client_key\": "
               "[\"client_certificate\"]}}"},
};

static const struct wr_argspec lua_fields[] = {
    {.name = "env_allow",
     .type = WR_ARG_STRINGS,
     .help = "environment variables scripts may read with weir.env(NAME)"},
    {.name = "expr_timeout",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "wall-clock time one `when:`, template or `split:` expression may run before it "
             "fails, 1ms-1m; default 100ms"},
    {.name = "hook_timeout",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "wall-clock time one call of a `script:` hook may run before it fails, 1ms-1h; "
             "default 1s"},
    {0},
};

static const struct wr_argspec admin_fields[] = {
    {.name = "token",
     .type = WR_ARG_SECRET,
     .help = "bearer token of the admin API and the console's login (env:NAME or file:PATH); "
             "required unless listen.admin is a loopback address. 30 failed sign-ins from one "
             "address within a minute refuse that address for a minute (429)"},
    {0},
};

static const struct wr_argspec http_fields[] = {
    {.name = "allow",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "internal networks http-request may reach, e.g. [10.20.0.0/16, 127.0.0.1/32]; "
             "default none"},
    {0},
};

static const struct wr_argspec runs_fields[] = {
    {.name = "max_concurrent",
     .type = WR_ARG_INT,
     .flags = WR_ARG_NO_TEMPLATE,
     .min = 1,
     .max = 10000,
     .help = "runs executing at once; default 64"},
    {.name = "max_crashes",
     .type = WR_ARG_INT,
     .flags = WR_ARG_NO_TEMPLATE,
     .min = 1,
     .max = 1000,
     .help = "a run in progress at this many daemon crashes in a row (no step finished in "
             "between) is parked as failed instead of resumed again; default 3"},
    {.name = "lease",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "several weirs on one PostgreSQL state: how long an instance's claim on a run it "
             "executes holds without renewal (renewed every third of it); a run whose instance "
             "died is resumed by another after this; at least 3s, default 30s"},
    {0},
};

static const struct wr_argspec limits_fields[] = {
    {.name = "body",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a size such as 1MiB, 512KB or 65536",
     .schema = "{\"$ref\": \"#/$defs/size\"}",
     .help = "largest request body a listener takes (413 above), 1KiB-1GiB; default 1MiB "
             "(the admin API keeps 64KiB)"},
    {.name = "headers",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a size such as 16KiB or 8192",
     .schema = "{\"$ref\": \"#/$defs/size\"}",
     .help = "largest request line and headers (431 above), 1KiB-1MiB; default 16KiB"},
    {.name = "request_timeout",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "time to receive a whole request, however slowly it trickles (408 after), "
             "100ms-1h; default 10s"},
    {.name = "idle_timeout",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "a kept-alive connection with no request is closed after, 100ms-1d; default 60s"},
    {.name = "max_connections",
     .type = WR_ARG_INT,
     .flags = WR_ARG_NO_TEMPLATE,
     .min = 1,
     .max = 1000000,
     .help = "open connections per listener (503 with Retry-After above); default 1024"},
    {0},
};

static const struct wr_argspec guard_fields[] = {
    {.name = "destructive",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_OWN_CHECK,
     .expect = "a mapping (max, percent, window)",
     .schema = "{\"$ref\": \"#/$defs/guard-destructive\"}",
     .help = "limits on destructive steps across every workflow and trigger: max (distinct "
             "users), percent (of the tenant's users), window (default 1h); a run that would pass "
             "the lower limit is held before its first destructive step (weir held, weir release, "
             "weir reject); a workflow's own guard: replaces it for that workflow"},
    {.name = "notify",
     .type = WR_ARG_LIST,
     .flags = WR_ARG_OWN_CHECK,
     .expect = "a list of steps",
     .schema = "{\"$ref\": \"#/$defs/steps\"}",
     .help = "steps run once each time the brake trips (typically http-request), with guard.held, "
             "guard.limit, guard.which, guard.window, guard.count and guard.reason in scope"},
    {0},
};

static const struct wr_argspec approvals_fields[] = {
    {.name = "public_url",
     .type = WR_ARG_URL,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "the webhook listener's address as approvers reach it: approval links are "
             "PUBLIC_URL/approvals/TOKEN"},
    {0},
};

/* mail: (issue 18, send-mail) */
static const struct wr_argspec mail_fields[] = {
    {.name = "from",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "the mailbox send-mail sends from when a step names no from: (an address or a user "
             "reference); without it every send-mail step must name one"},
    {0},
};

static const struct wr_argspec config_keys[] = {
    {.name = "listen", .type = WR_ARG_OBJECT, .fields = listen_fields, .help = "listeners"},
    {.name = "workflows",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "directory of workflow files; default ./workflows"},
    {.name = "state",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "the journal and run history: a SQLite file (default ./var/weir.db; one daemon "
             "per file), or a postgresql:// URL without its password (PGPASSWORD or a passfile "
             "holds it), which several weirs may share"},
    {.name = "graph",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED,
     .fields = graph_fields,
     .help = "Microsoft Graph connection"},
    {.name = "lua", .type = WR_ARG_OBJECT, .fields = lua_fields, .help = "the Lua sandbox"},
    {.name = "admin", .type = WR_ARG_OBJECT, .fields = admin_fields, .help = "the admin API"},
    {.name = "runs", .type = WR_ARG_OBJECT, .fields = runs_fields, .help = "the run executor"},
    {.name = "http",
     .type = WR_ARG_OBJECT,
     .fields = http_fields,
     .help = "outbound calls of http-request"},
    {.name = "retention",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how long a delivery's idempotency key is remembered; default 7d"},
    {.name = "limits",
     .type = WR_ARG_OBJECT,
     .fields = limits_fields,
     .help = "the HTTP listeners' limits against hostile clients"},
    {.name = "guard",
     .type = WR_ARG_OBJECT,
     .fields = guard_fields,
     .help = "the mass-change brake on destructive steps"},
    {.name = "approvals",
     .type = WR_ARG_OBJECT,
     .fields = approvals_fields,
     .help = "approval steps: where their links point"},
    {.name = "mail", .type = WR_ARG_OBJECT, .fields = mail_fields, .help = "send-mail's defaults"},
    {0},
};

const struct wr_argspec *wr_config_spec(void)
{
    listen_spec();
    return config_keys;
}

static const char *get_str(struct json_object *obj, const char *key, const char *dflt)
{
    struct json_object *v = NULL;
    if (obj && json_object_object_get_ex(obj, key, &v) &&
        json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return dflt;
}

static bool is_guid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof(shape) - 1) {
        return false;
    }
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/*
 * Checks a value that is an integer in [min, max] or the string "off" (the table declares it
 * WR_ARG_ANY + WR_ARG_OWN_CHECK, so this is its only check). Returns the number, -1 for off, or
 * 0 after reporting an error. v NULL (key absent) returns 0 silently.
 */
static int int_or_off(struct wr_check *c, struct json_object *v, const char *path, long long min,
                      long long max)
{
    if (v == NULL) {
        return 0;
    }
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n < min || n > max) {
            wr_check_error(c, path, false, "%lld is out of range %lld-%lld", (long long)n, min,
                           max);
            return 0;
        }
        return (int)n;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (strcmp(s, "off") == 0) {
            return -1;
        }
        if (!wr_template_has(s)) { /* templates were reported by the table already */
            wr_check_error(c, path, false, "expected an integer %lld-%lld or off, got '%.*s'", min,
                           max, wr_utf8_prec(s, 40), s);
        }
        return 0;
    }
    wr_check_error(c, path, false, "expected an integer %lld-%lld or off, got %s", min, max,
                   wr_json_type_name(v));
    return 0;
}

/* limits.KEY as a size in [min, max] into *out; absent leaves *out, errors are reported. */
static void limit_size(struct wr_check *c, struct json_object *limits, const char *key,
                       uint64_t min, uint64_t max, size_t *out)
{
    struct json_object *v = NULL;
    char err[WR_ERR_MAX], lo[WR_SIZE_BUFLEN], hi[WR_SIZE_BUFLEN], path[64];
    uint64_t n = 0;
    if (!json_object_object_get_ex(limits, key, &v)) {
        return;
    }
    snprintf(path, sizeof(path), "limits.%s", key);
    if (json_object_is_type(v, json_type_string) && wr_template_has(json_object_get_string(v))) {
        return; /* reported by the table */
    }
    if (wr_size_get(v, &n, err, sizeof(err)) != 0) {
        wr_check_error(c, path, false, "%s", err);
    } else if (n < min || n > max) {
        wr_check_error(c, path, false, "%s is out of range %s-%s", json_object_get_string(v),
                       wr_size_format(min, lo, sizeof(lo)), wr_size_format(max, hi, sizeof(hi)));
    } else {
        *out = (size_t)n;
    }
}

/* SECTION.KEY as a duration in [min, max] ms into *out (the table checked the syntax); obj is
   the section (may be NULL). */
static void limit_duration(struct wr_check *c, struct json_object *obj, const char *section,
                           const char *key, int64_t min, int64_t max, int64_t *out)
{
    struct json_object *v = NULL;
    char lo[WR_DURATION_BUFLEN], hi[WR_DURATION_BUFLEN], path[64];
    int64_t ms = 0;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string) ||
        wr_duration_parse(json_object_get_string(v), &ms, NULL, 0) != 0) {
        return;
    }
    if (ms < min || ms > max) {
        snprintf(path, sizeof(path), "%s.%s", section, key);
        wr_check_error(c, path, false, "%s is out of range %s-%s", json_object_get_string(v),
                       wr_duration_format(min, lo, sizeof(lo)),
                       wr_duration_format(max, hi, sizeof(hi)));
    } else {
        *out = ms;
    }
}

/* The `limits:` section into *l, which starts as the defaults. */
static void check_limits(struct wr_check *c, struct json_object *root, struct wr_http_limits *l)
{
    struct json_object *limits = NULL, *v = NULL;
    wr_http_limits_default(l);
    if (!json_object_object_get_ex(root, "limits", &limits) ||
        !json_object_is_type(limits, json_type_object)) {
        return;
    }
    limit_size(c, limits, "body", 1024, (uint64_t)1 << 30, &l->max_body);
    limit_size(c, limits, "headers", 1024, (uint64_t)1 << 20, &l->max_headers);
    limit_duration(c, limits, "limits", "request_timeout", 100, 3600 * 1000,
                   &l->request_timeout_ms);
    limit_duration(c, limits, "limits", "idle_timeout", 100, 24 * 3600 * 1000, &l->idle_timeout_ms);
    if (json_object_object_get_ex(limits, "max_connections", &v) &&
        json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
        l->max_connections = (size_t)json_object_get_int64(v);
    }
}

/* Exactly one way to sign in: client_secret, or client_certificate with client_key. */
static void check_credentials(struct wr_check *c, struct json_object *graph)
{
    bool secret = json_object_object_get_ex(graph, "client_secret", NULL);
    bool cert = json_object_object_get_ex(graph, "client_certificate", NULL);
    bool key = json_object_object_get_ex(graph, "client_key", NULL);

    if (!secret && !cert && !key) {
        wr_check_error(c, "graph", false,
                       "'graph' needs 'client_secret' (env:NAME or file:PATH) or "
                       "'client_certificate' with 'client_key'");
    } else if (secret && (cert || key)) {
        wr_check_error(c, cert ? "graph.client_certificate" : "graph.client_key", true,
                       "use either 'client_secret' or 'client_certificate' + 'client_key', not "
                       "both");
    } else if (cert && !key) {
        wr_check_error(c, "graph.client_certificate", true,
                       "'client_certificate' needs 'client_key' beside it (the certificate's "
                       "private key: env:NAME or file:PATH)");
    } else if (key && !cert) {
        wr_check_error(c, "graph.client_key", true,
                       "'client_key' needs 'client_certificate' beside it (the path of the PEM "
                       "certificate)");
    }
}

/* http.allow: every entry must be a network; each is added to g. The table already said
   whether the list holds strings. */
static void check_http_allow(struct wr_check *c, struct json_object *root, struct wr_net_guard *g)
{
    struct json_object *http = NULL, *allow = NULL;
    if (!json_object_object_get_ex(root, "http", &http) ||
        !json_object_is_type(http, json_type_object) ||
        !json_object_object_get_ex(http, "allow", &allow) ||
        !json_object_is_type(allow, json_type_array)) {
        return;
    }
    for (size_t i = 0; i < json_object_array_length(allow); i++) {
        struct json_object *e = json_object_array_get_idx(allow, i);
        char why[WR_ERR_MAX];
        if (json_object_is_type(e, json_type_string) &&
            wr_net_guard_allow(g, json_object_get_string(e), why, sizeof(why)) != 0) {
            char *p = wr_path_index("http.allow", i);
            wr_check_error(c, p, false, "%s", why);
            free(p);
        }
    }
}

int wr_config_load(const char *file, struct wr_config **out, struct wr_diags *d)
{
    struct wr_srcdoc *doc = NULL;
    struct wr_check c = {0};
    struct json_object *graph = NULL, *listen = NULL;

    *out = NULL;
    listen_spec();
    if (wr_srcdoc_load(file, &doc, d) != 0) {
        return -1;
    }
    c.doc = doc;
    c.d = d;
    size_t first_diag = d->count;
    wr_argspec_check(&c, config_keys, doc->root, "", "weir.yaml", NULL);
    struct wr_net_guard *http_allow = wr_net_guard_new();
    check_http_allow(&c, doc->root, http_allow);
    struct wr_http_limits limits;
    check_limits(&c, doc->root, &limits);
    struct json_object *lua = NULL;
    int64_t expr_ms = 0, hook_ms = 0;
    if (json_object_object_get_ex(doc->root, "lua", &lua) &&
        json_object_is_type(lua, json_type_object)) {
        limit_duration(&c, lua, "lua", "expr_timeout", 1, 60 * 1000, &expr_ms);
        limit_duration(&c, lua, "lua", "hook_timeout", 1, 3600 * 1000, &hook_ms);
    }
    struct json_object *guard = NULL, *gd = NULL, *gn = NULL;
    if (json_object_object_get_ex(doc->root, "guard", &guard) &&
        json_object_is_type(guard, json_type_object)) {
        if (json_object_object_get_ex(guard, "destructive", &gd)) {
            if (json_object_is_type(gd, json_type_object)) {
                wr_argspec_check(&c, wr_guard_destructive_spec(), gd, "guard.destructive",
                                 "guard.destructive", NULL);
            }
            wr_guard_check(&c, gd, "guard.destructive");
        }
        json_object_object_get_ex(guard, "notify", &gn);
    }
    json_object_object_get_ex(doc->root, "graph", &graph);
    int writes = 0, batch = 0;
    if (json_object_is_type(graph, json_type_object)) {
        struct json_object *pacing = NULL, *v = NULL;
        check_credentials(&c, graph);
        if (json_object_object_get_ex(graph, "pacing", &pacing) &&
            json_object_is_type(pacing, json_type_object) &&
            json_object_object_get_ex(pacing, "writes_per_150s", &v)) {
            writes = int_or_off(&c, v, "graph.pacing.writes_per_150s", 1, WR_CONFIG_MAX_WRITES);
        }
        v = NULL;
        json_object_object_get_ex(graph, "batch", &v);
        batch = int_or_off(&c, v, "graph.batch", 1, WR_CONFIG_BATCH_LIMIT);
    }
    const char *state = get_str(doc->root, "state", NULL);
    if (state && wr_db_is_postgres_url(state) && wr_db_url_has_password(state)) {
        wr_check_error(&c, "state", false,
                       "the URL carries a password, which would sit in weir.yaml and could reach "
                       "a log line: put it in PGPASSWORD (e.g. in weir.env) or a passfile "
                       "(PGPASSFILE, ~/.pgpass) and leave it out of the URL");
    }
    struct json_object *runs_obj = NULL, *lease = NULL;
    int64_t lease_ms = 0;
    char lease_err[WR_ERR_MAX];
    if (json_object_object_get_ex(doc->root, "runs", &runs_obj) &&
        json_object_object_get_ex(runs_obj, "lease", &lease) &&
        wr_duration_parse(json_object_get_string(lease), &lease_ms, lease_err, sizeof(lease_err)) ==
            0 &&
        lease_ms < 3000) {
        wr_check_error(&c, "runs.lease", false,
                       "at least 3s: a claim is renewed every third of it, and a shorter lease "
                       "lets another instance take over a run still in progress");
    }
    if (c.errors == 0) {
        const char *id = get_str(graph, "client_id", "");
        if (!is_guid(id)) {
            wr_check_error(&c, "graph.client_id", false,
                           "'%s' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", id);
        }
        if (!*get_str(graph, "tenant", "")) {
            wr_check_error(&c, "graph.tenant", false, "is empty");
        }
        const char *scope = get_str(graph, "scope", NULL);
        size_t sl = scope ? strlen(scope) : 0;
        if (scope && (sl < 9 || strcmp(scope + sl - 9, "/.default") != 0)) {
            wr_check_error(&c, "graph.scope", false,
                           "'%.*s' does not end in /.default (the client-credentials grant asks "
                           "for a resource's .default scope, e.g. "
                           "https://graph.microsoft.us/.default)",
                           wr_utf8_prec(scope, 80), scope);
        }
    }
    struct wr_workflow *notify = NULL;
    if (json_object_is_type(gn, json_type_array)) { /* also beside other errors: all at once */
        /* The sandbox's env_allow is read below: the same list the workflows get. */
        struct json_object *lua_allow = NULL;
        size_t na = lua && json_object_object_get_ex(lua, "env_allow", &lua_allow) &&
                            json_object_is_type(lua_allow, json_type_array)
                        ? json_object_array_length(lua_allow)
                        : 0;
        const char **allow = wr_xcalloc(na + 1, sizeof(*allow));
        for (size_t i = 0, j = 0; i < na; i++) {
            struct json_object *e = json_object_array_get_idx(lua_allow, i);
            if (json_object_is_type(e, json_type_string)) {
                allow[j++] = json_object_get_string(e);
            }
        }
        char *dir = wr_path_dirname(file);
        if (wr_workflow_from_steps(WR_CONFIG_GUARD_NOTIFY, doc, gn, "guard.notify", dir, allow,
                                   &notify, d) != 0) {
            c.errors++;
        }
        free(dir);
        free(allow);
    }
    if (c.errors > 0) {
        wr_diags_sort_from(d, first_diag); /* several passes: report top to bottom */
        wr_workflow_free(notify);
        wr_net_guard_free(http_allow);
        wr_srcdoc_free(doc);
        return -1;
    }

    struct wr_config *cfg = wr_xcalloc(1, sizeof(*cfg));
    cfg->doc = doc;
    cfg->file = wr_xstrdup(file);
    cfg->dir = wr_path_dirname(file);
    json_object_object_get_ex(doc->root, "listen", &listen);
    cfg->listen = listen;
    cfg->listen_admin = get_str(listen, "admin", WR_CONFIG_DEFAULT_ADMIN);
    struct json_object *admin = NULL;
    json_object_object_get_ex(doc->root, "admin", &admin);
    cfg->admin_token = get_str(admin, "token", NULL);
    cfg->workflows = wr_path_join(cfg->dir, get_str(doc->root, "workflows", "workflows"));
    const char *state_ref = get_str(doc->root, "state", "var/weir.db");
    cfg->state = wr_db_is_postgres_url(state_ref) ? wr_xstrdup(state_ref)
                                                  : wr_path_join(cfg->dir, state_ref);
    cfg->graph.tenant = get_str(graph, "tenant", NULL);
    cfg->graph.client_id = get_str(graph, "client_id", NULL);
    cfg->graph.client_secret = get_str(graph, "client_secret", NULL);
    const char *cert = get_str(graph, "client_certificate", NULL);
    cfg->graph.client_certificate = cert ? wr_path_join(cfg->dir, cert) : NULL;
    cfg->graph.client_key = get_str(graph, "client_key", NULL);
    cfg->graph.writes_per_150s = writes;
    cfg->graph.batch_max = batch;
    struct json_object *mc = NULL;
    cfg->graph.max_concurrency = json_object_object_get_ex(graph, "max_concurrency", &mc)
                                     ? (int)json_object_get_int64(mc)
                                     : 0;
    cfg->graph.authority = get_str(graph, "authority", WR_CONFIG_DEFAULT_AUTHORITY);
    cfg->graph.base_url = get_str(graph, "base_url", WR_CONFIG_DEFAULT_BASE_URL);
    cfg->graph.scope = get_str(graph, "scope", NULL);
    struct json_object *allow = NULL;
    cfg->lua_limits.expr_time_ms = (uint64_t)expr_ms;
    cfg->lua_limits.hook_time_ms = (uint64_t)hook_ms;
    size_t n = lua && json_object_object_get_ex(lua, "env_allow", &allow)
                   ? json_object_array_length(allow)
                   : 0;
    struct json_object *runs = NULL, *rmax = NULL, *ret = NULL;
    if (json_object_object_get_ex(doc->root, "runs", &runs) &&
        json_object_object_get_ex(runs, "max_concurrent", &rmax)) {
        cfg->max_concurrent_runs = (int)json_object_get_int64(rmax);
    }
    if (runs && json_object_object_get_ex(runs, "max_crashes", &rmax)) {
        cfg->max_crashes = (int)json_object_get_int64(rmax);
    }
    struct json_object *rlease = NULL;
    if (runs && json_object_object_get_ex(runs, "lease", &rlease)) {
        char msg[WR_ERR_MAX];
        wr_duration_parse(json_object_get_string(rlease), &cfg->lease_ms, msg, sizeof(msg));
    }
    if (json_object_object_get_ex(doc->root, "retention", &ret)) {
        char msg[WR_ERR_MAX];
        wr_duration_parse(json_object_get_string(ret), &cfg->retention_ms, msg, sizeof(msg));
    }
    cfg->env_allow = wr_xcalloc(n + 1, sizeof(*cfg->env_allow));
    for (size_t i = 0; i < n; i++) {
        cfg->env_allow[i] = json_object_get_string(json_object_array_get_idx(allow, i));
    }
    cfg->http_allow = http_allow;
    cfg->limits = limits;
    cfg->guard = wr_guard_limits_read(gd);
    cfg->guard_notify = notify;
    struct json_object *approvals = NULL;
    json_object_object_get_ex(doc->root, "approvals", &approvals);
    cfg->approvals_public_url = get_str(approvals, "public_url", NULL);
    struct json_object *mail = NULL;
    json_object_object_get_ex(doc->root, "mail", &mail);
    cfg->mail_from = get_str(mail, "from", NULL);
    *out = cfg;
    return 0;
}

const char *wr_config_listen(const struct wr_config *cfg, const struct wr_trigger_kind *kind)
{
    return kind->listen ? get_str(cfg->listen, kind->listen->name, kind->listen_default) : NULL;
}

void wr_config_free(struct wr_config *cfg)
{
    if (!cfg) {
        return;
    }
    wr_workflow_free(cfg->guard_notify); /* before the document it points into */
    wr_srcdoc_free(cfg->doc);
    free(cfg->env_allow);
    wr_net_guard_free(cfg->http_allow);
    free(cfg->file);
    free(cfg->dir);
    free(cfg->workflows);
    free(cfg->state);
    free(cfg->graph.client_certificate);
    free(cfg);
}

int wr_config_read_credentials(const struct wr_config *cfg, struct wr_config_credentials *out,
                               char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (cfg->graph.client_secret) {
        out->failed = "graph.client_secret";
        if (wr_secret_resolve(cfg->graph.client_secret, cfg->dir, &out->client_secret, err,
                              errlen) != 0) {
            return -1;
        }
        out->failed = NULL;
        return 0;
    }
    out->failed = "graph.client_certificate";
    if (!cfg->graph.client_certificate || !cfg->graph.client_key) {
        snprintf(err, errlen, "neither a client secret nor a certificate and key are configured");
        return -1;
    }
    size_t len = 0;
    int rc = wr_read_file(cfg->graph.client_certificate, 1u << 20, &out->certificate_pem, &len);
    if (rc != 0) {
        char why[WR_ERR_MAX];
        wr_errf_marked(err, errlen, "%s: %s", cfg->graph.client_certificate,
                       wr_read_file_error(cfg->graph.client_certificate, rc, why, sizeof(why)));
        return -1;
    }
    if (!strstr(out->certificate_pem, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errlen, "%s: not a PEM certificate (no -----BEGIN CERTIFICATE----- line)",
                 cfg->graph.client_certificate);
        wr_config_credentials_clear(out);
        out->failed = "graph.client_certificate";
        return -1;
    }
    out->failed = "graph.client_key";
    char *key = NULL;
    if (wr_secret_resolve(cfg->graph.client_key, cfg->dir, &key, err, errlen) != 0) {
        wr_config_credentials_clear(out);
        out->failed = "graph.client_key";
        return -1;
    }
    /* The resolver drops the trailing newline; PEM readers want the END line terminated. */
    out->key_pem = wr_xasprintf("%s\n", key);
    wr_secret_free(key);
    out->failed = NULL;
    return 0;
}

void wr_config_credentials_clear(struct wr_config_credentials *c)
{
    if (!c) {
        return;
    }
    wr_secret_free(c->client_secret);
    free(c->certificate_pem);
    wr_secret_free(c->key_pem);
    memset(c, 0, sizeof(*c));
}
