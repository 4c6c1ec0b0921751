/*
 * config — loading and checking weir.yaml; see config.h.
 */
#include "engine/config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine/argspec.h"
#include "engine/strutil.h"

static const struct wr_argspec listen_fields[] = {
    {.name = "webhook",
     .type = WR_ARG_LISTEN,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "HOST:PORT for webhooks; default " WR_CONFIG_DEFAULT_WEBHOOK},
    {.name = "admin",
     .type = WR_ARG_LISTEN,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "HOST:PORT for the admin API; default " WR_CONFIG_DEFAULT_ADMIN},
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
     .help = "the app registration's application (client) id"},
    {.name = "client_secret",
     .type = WR_ARG_SECRET,
     .flags = WR_ARG_REQUIRED,
     .help = "env:NAME or file:PATH"},
    {.name = "authority",
     .type = WR_ARG_URL,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "token authority; default " WR_CONFIG_DEFAULT_AUTHORITY},
    {.name = "base_url",
     .type = WR_ARG_URL,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "Graph base URL; default " WR_CONFIG_DEFAULT_BASE_URL},
    {0},
};

static const struct wr_argspec lua_fields[] = {
    {.name = "env_allow",
     .type = WR_ARG_STRINGS,
     .help = "environment variables scripts may read with weir.env(NAME)"},
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
     .help = "SQLite journal and run history; default ./var/weir.db"},
    {.name = "graph",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED,
     .fields = graph_fields,
     .help = "Microsoft Graph connection"},
    {.name = "lua", .type = WR_ARG_OBJECT, .fields = lua_fields, .help = "the Lua sandbox"},
    {0},
};

const struct wr_argspec *wr_config_spec(void)
{
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

int wr_config_load(const char *file, struct wr_config **out, struct wr_diags *d)
{
    struct wr_srcdoc *doc = NULL;
    struct wr_check c = {0};
    struct json_object *graph = NULL, *listen = NULL;

    *out = NULL;
    if (wr_srcdoc_load(file, &doc, d) != 0) {
        return -1;
    }
    c.doc = doc;
    c.d = d;
    wr_argspec_check(&c, config_keys, doc->root, "", "weir.yaml", NULL);
    if (c.errors == 0) {
        json_object_object_get_ex(doc->root, "graph", &graph);
        const char *id = get_str(graph, "client_id", "");
        if (!is_guid(id)) {
            wr_check_error(&c, "graph.client_id", false,
                           "'%s' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", id);
        }
        if (!*get_str(graph, "tenant", "")) {
            wr_check_error(&c, "graph.tenant", false, "is empty");
        }
    }
    if (c.errors > 0) {
        wr_srcdoc_free(doc);
        return -1;
    }

    struct wr_config *cfg = wr_xcalloc(1, sizeof(*cfg));
    cfg->doc = doc;
    cfg->file = wr_xstrdup(file);
    cfg->dir = wr_path_dirname(file);
    json_object_object_get_ex(doc->root, "listen", &listen);
    cfg->listen_webhook = get_str(listen, "webhook", WR_CONFIG_DEFAULT_WEBHOOK);
    cfg->listen_admin = get_str(listen, "admin", WR_CONFIG_DEFAULT_ADMIN);
    cfg->workflows = wr_path_join(cfg->dir, get_str(doc->root, "workflows", "workflows"));
    cfg->state = wr_path_join(cfg->dir, get_str(doc->root, "state", "var/weir.db"));
    cfg->graph.tenant = get_str(graph, "tenant", NULL);
    cfg->graph.client_id = get_str(graph, "client_id", NULL);
    cfg->graph.client_secret = get_str(graph, "client_secret", NULL);
    cfg->graph.authority = get_str(graph, "authority", WR_CONFIG_DEFAULT_AUTHORITY);
    cfg->graph.base_url = get_str(graph, "base_url", WR_CONFIG_DEFAULT_BASE_URL);
    struct json_object *lua = NULL, *allow = NULL;
    json_object_object_get_ex(doc->root, "lua", &lua);
    size_t n = lua && json_object_object_get_ex(lua, "env_allow", &allow)
                   ? json_object_array_length(allow)
                   : 0;
    cfg->env_allow = wr_xcalloc(n + 1, sizeof(*cfg->env_allow));
    for (size_t i = 0; i < n; i++) {
        cfg->env_allow[i] = json_object_get_string(json_object_array_get_idx(allow, i));
    }
    *out = cfg;
    return 0;
}

void wr_config_free(struct wr_config *cfg)
{
    if (!cfg) {
        return;
    }
    wr_srcdoc_free(cfg->doc);
    free(cfg->env_allow);
    free(cfg->file);
    free(cfg->dir);
    free(cfg->workflows);
    free(cfg->state);
    free(cfg);
}
