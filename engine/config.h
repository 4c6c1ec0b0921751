/*
 * config — weir.yaml: where weir listens, where workflows and state live, how it reaches Graph.
 *
 * Loaded and checked like a workflow file (every error with file:line:col and key path,
 * unknown keys rejected). Relative paths are resolved against the directory holding
 * weir.yaml. Secrets appear only as references (env:NAME or file:PATH); this module never
 * reads or prints their values.
 */
#ifndef WR_CONFIG_H
#define WR_CONFIG_H

#include "engine/diag.h"
#include "engine/srcdoc.h"

struct wr_argspec;

#define WR_CONFIG_DEFAULT_WEBHOOK   "127.0.0.1:8080"
#define WR_CONFIG_DEFAULT_ADMIN     "127.0.0.1:8081"
#define WR_CONFIG_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define WR_CONFIG_DEFAULT_BASE_URL  "https://graph.microsoft.com/v1.0"

struct wr_config {
    char *file; /* owned: path of weir.yaml */
    char *dir;  /* owned: its directory; the base of relative paths */
    const char *listen_webhook;
    const char *listen_admin;
    char *workflows; /* owned, resolved */
    char *state;     /* owned, resolved */
    struct {
        const char *tenant;
        const char *client_id;
        const char *client_secret; /* a reference: env:NAME or file:PATH, never the value */
        const char *authority;
        const char *base_url;
    } graph;
    const char **env_allow; /* owned array (NULL-terminated) of borrowed names: lua.env_allow */
    struct wr_srcdoc *doc;  /* owned: every borrowed string points into it */
};

/*
 * Loads and checks weir.yaml. Returns 0 and an owned config, or -1 with every error added to
 * d and *out NULL.
 */
int wr_config_load(const char *file, struct wr_config **out, struct wr_diags *d);

void wr_config_free(struct wr_config *cfg);

/* The key table, for `weir help config`. */
const struct wr_argspec *wr_config_spec(void);

#endif
