/*
 * admin — the admin API: an evhttp listener on `listen.admin` for probes, metrics and run
 * history.
 *
 * Routes: GET /healthz (the process is up); GET /readyz (the journal can commit — the
 * last commit, or a probe commit when none ended in the last second, was made durable — and
 * answers a read, workflows are loaded and weir is not stopping; else 503 with a JSON body
 * naming what is not; Graph shows as "unknown": the client does not expose its token state); GET
 * /metrics (Prometheus text format 0.0.4); GET /api/runs (?workflow, status, trigger, q, since,
 * until, limit, cursor or before; with counts by status); GET /api/runs/{id} (with the actions
 * allowed now); POST /api/runs/{id}/retry (?same_version=true), /cancel, /undo, /approve,
 * /reject; GET /api/held, POST /api/held/release|reject. Run data comes from
 * engine/store/history on the admin's own SQLite connection; retry and cancel are its short
 * write transactions. Errors are JSON {"error": "..."}: 400 bad query, 401 no or wrong token,
 * 403 a browser's request without its CSRF token or from another origin, 404 unknown path or
 * run, 405 wrong method, 409 retry/cancel refused.
 *
 * The web console (engine/console) lives here too: /ui/ (no auth; it holds no data),
 * /api/session, /api/login, /api/logout, /api/workflows and /api/health; every /ui/ and /api/
 * answer carries its security headers.
 *
 * A bearer token (admin.token) guards /metrics and /api/ when set (probes and /ui/ stay open);
 * the console's session cookie, got from POST /api/login with the token, counts as well. The
 * token is required when the listener is not on a loopback address. It is compared in constant
 * time and never logged or echoed.
 *
 * Connections and requests are bounded by engine/net/http_guard, as on the webhook listener, with
 * bodies of at most WR_ADMIN_MAX_BODY.
 *
 * Not here: the daemon's wiring, the queries themselves (engine/store/history), the counters
 * (engine/base/metrics).
 */
#ifndef WR_ADMIN_H
#define WR_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct wr_http_limits;
struct wr_journal;
struct wr_graph;
struct wr_directory;
struct wr_runner;
struct wr_workflow_set;

struct wr_admin_options {
    const char *listen;                /* "HOST:PORT"; port 0 picks a free one */
    const char *token;                 /* the token's value (copied), or NULL for none */
    const char *state_path;            /* the journal's file: the admin opens its own reader */
    struct wr_journal *journal;        /* borrowed: commit statistics */
    struct wr_graph *graph;            /* borrowed, may be NULL (--ingest-only) */
    struct wr_directory *dir;          /* borrowed, may be NULL: the scope previews' lookups */
    const char *base_dir;              /* weir.yaml's directory (copied), or NULL */
    struct wr_runner *runner;          /* borrowed, may be NULL: kicked after a retry */
    const struct wr_workflow_set *set; /* borrowed; see wr_admin_set_workflows */
    /* copied; NULL = engine/net/http_guard's defaults; bodies are capped at WR_ADMIN_MAX_BODY */
    const struct wr_http_limits *limits;
};

struct wr_admin;

#define WR_ADMIN_EBIND    (-2)        /* the address cannot be bound (in use, not this machine's) */
#define WR_ADMIN_MAX_BODY (64 * 1024) /* no admin route takes a larger body */
/* With admin.token set: this many failed sign-ins (a wrong bearer token, a wrong console
   login) from one address within the window, and that address gets 429 for the window. */
#define WR_ADMIN_FAIL_MAX       30
#define WR_ADMIN_FAIL_WINDOW_MS 60000

/*
 * Starts the listener into *out (owned). Everything borrowed in opts must outlive the admin.
 * Returns 0; WR_ADMIN_EBIND; or -1 when listen is not HOST:PORT, the store cannot be read, or
 * the address is not loopback and no token is set. On error *out is NULL and err says why.
 */
int wr_admin_new(struct event_base *base, const struct wr_admin_options *opts,
                 struct wr_admin **out, char *err, size_t errlen);

/* The bound address as "HOST:PORT" (the real port when 0 was asked for). Borrowed. */
const char *wr_admin_addr(const struct wr_admin *a);

/* Serves set (borrowed) from now on, after a reload. */
void wr_admin_set_workflows(struct wr_admin *a, const struct wr_workflow_set *set);

/* From now on /readyz answers 503 "stopping" (the daemon drains; send no new work). */
void wr_admin_set_stopping(struct wr_admin *a);

/* True when host (an address or "localhost") is a loopback address: 127.0.0.0/8 or ::1. */
bool wr_admin_is_loopback(const char *host);

/* Stops listening and frees the admin (the token is wiped). NULL is fine. */
void wr_admin_free(struct wr_admin *a);

#endif
