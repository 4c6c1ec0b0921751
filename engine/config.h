/*
 * config — weir.yaml: where weir listens, where workflows and state live, how it reaches Graph,
 * which internal networks http-request may reach (http.allow), the Lua sandbox's settings.
 *
 * Loaded and checked like a workflow file (every error with file:line:col and key path,
 * unknown keys rejected). Relative paths are resolved against the directory holding
 * weir.yaml. Secrets appear only as references (env:NAME or file:PATH); loading never reads
 * them and nothing here prints their values. wr_config_read_credentials resolves the Graph
 * credentials on demand, when a command is about to sign in.
 */
#ifndef WR_CONFIG_H
#define WR_CONFIG_H

#include <stdint.h>

#include "engine/base/diag.h"
#include "engine/net/http_guard.h"
#include "engine/lua/lua_host.h"
#include "engine/base/srcdoc.h"
#include "engine/lang/workflow.h"

struct wr_argspec;
struct wr_net_guard;
struct wr_trigger_kind;

#define WR_CONFIG_DEFAULT_ADMIN     "127.0.0.1:8081"
#define WR_CONFIG_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define WR_CONFIG_DEFAULT_BASE_URL  "https://graph.microsoft.com/v1.0"

struct wr_config {
    char *file;                 /* owned: path of weir.yaml */
    char *dir;                  /* owned: its directory; the base of relative paths */
    struct json_object *listen; /* borrowed: `listen:`, or NULL; see wr_config_listen */
    const char *listen_admin;
    /* admin.token: a reference (env:NAME or file:PATH), never the value; or NULL */
    const char *admin_token;
    char *workflows; /* owned, resolved */
    char *state;     /* owned, resolved */
    struct {
        const char *tenant;
        const char *client_id;
        /* Exactly one way to authenticate: client_secret, or client_certificate + client_key.
         * The two secrets are references (env:NAME or file:PATH), never values; unused = NULL. */
        const char *client_secret;
        char *client_certificate; /* owned, resolved path of the PEM certificate */
        const char *client_key;   /* the certificate's PEM private key */
        const char *authority;
        const char *base_url;
        const char *scope;   /* graph.scope, or NULL: derived from base_url */
        int writes_per_150s; /* graph.pacing.writes_per_150s: 0 = default, -1 = off */
        int max_concurrency; /* 0 = the client's default */
        int batch_max;       /* graph.batch: 0 = default (20), -1 = off, else 1..20 */
    } graph;
    const char **env_allow; /* owned array (NULL-terminated) of borrowed names: lua.env_allow */
    /* lua.expr_timeout, lua.hook_timeout (0 = default); wr_lua_set_defaults takes it */
    struct wr_lua_limits lua_limits;
    int max_concurrent_runs; /* runs.max_concurrent; 0 = the executor's default (64) */
    int max_crashes;         /* runs.max_crashes; 0 = the executor's default (3) */
    int64_t lease_ms;        /* runs.lease; 0 = the executor's default (30 s) */
    int64_t retention_ms;    /* retention: the duplicate window; 0 = the journal's (7 days) */
    struct wr_srcdoc *doc;   /* owned: every borrowed string points into it */
    /* owned, never NULL: http.allow, the internal networks http-request may reach */
    struct wr_net_guard *http_allow;
    /* limits: the HTTP listeners' (engine/net/http_guard), defaults filled in */
    struct wr_http_limits limits;
    struct wr_guard_limits guard; /* guard.destructive; .set false without one */
    /* owned: guard.notify as the internal workflow WR_CONFIG_GUARD_NOTIFY, or NULL */
    struct wr_workflow *guard_notify;
    const char *approvals_public_url; /* approvals.public_url, or NULL */
    const char *mail_from;            /* mail.from (send-mail's default sender), or NULL */
};

/* The name of guard.notify's internal workflow (in `weir runs`); no workflow file can take it. */
#define WR_CONFIG_GUARD_NOTIFY "guard.notify"

/*
 * Loads and checks weir.yaml. Returns 0 and an owned config, or -1 with every error added to
 * d and *out NULL.
 */
int wr_config_load(const char *file, struct wr_config **out, struct wr_diags *d);

/*
 * The address kind listens on: its key under `listen:` (the kind's own argspec), else its
 * default. Borrowed, lives with cfg. NULL when the kind listens on nothing.
 */
const char *wr_config_listen(const struct wr_config *cfg, const struct wr_trigger_kind *kind);

void wr_config_free(struct wr_config *cfg);

/* The Graph sign-in material, resolved: either client_secret, or certificate_pem + key_pem. */
struct wr_config_credentials {
    char *client_secret;   /* owned secret value, or NULL */
    char *certificate_pem; /* owned PEM text of graph.client_certificate, or NULL */
    char *key_pem;         /* owned secret value (PEM private key), or NULL */
    const char *failed;    /* on failure: the key that could not be read ("graph.client_key") */
};

/*
 * Reads what cfg's graph section points at: the client secret (env:/file:, group- or
 * other-readable files refused), or the certificate file and the private key (a secret
 * reference, same rules). Returns 0 with out filled (release with
 * wr_config_credentials_clear), or -1 with out->failed naming the key and a message in err
 * that names references and paths, never values.
 */
int wr_config_read_credentials(const struct wr_config *cfg, struct wr_config_credentials *out,
                               char *err, size_t errlen);

/* Wipes and frees the values in c (NULL fine); out->failed is reset too. */
void wr_config_credentials_clear(struct wr_config_credentials *c);

/* The key table, for `weir help config`. */
const struct wr_argspec *wr_config_spec(void);

#endif
