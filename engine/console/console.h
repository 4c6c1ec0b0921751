/*
 * console — the web console on the admin listener: its pages (/ui/, three files embedded in the
 * binary at build time by embed_assets.cmake), the headers every /ui/ and /api/ answer carries,
 * the browser's side of authentication (POST /api/login turns the admin token into a session
 * cookie; GET /api/session; POST /api/logout), the CSRF rule for browser requests, and the two
 * reads only the console needs: GET /api/workflows and GET /api/health.
 *
 * engine/admin dispatches: it calls these handlers for their paths, asks wr_console_has_session
 * whether a request is authorised by its cookie (besides the bearer token it checks itself),
 * and wr_console_csrf_ok before every other POST under /api/. The run routes stay in admin.
 *
 * The rules (CONSOLE_SPEC.md):
 *   - /ui/ is served without auth (it holds no data); /ui → 301 /ui/; other /ui/... → 404.
 *   - A request is browser-like when it carries Cookie, Origin or Sec-Fetch-Site. A
 *     browser-like POST must carry X-CSRF-Token: its session's token, or on an open admin API
 *     (no admin.token, loopback only) the process-wide token /api/session hands out; else 403
 *     "CSRF token missing or wrong". A bearer POST without those headers (the CLI, curl) needs
 *     none.
 *   - An Origin whose host:port is not the Host's, or Sec-Fetch-Site cross-site/same-site, is
 *     refused on every /api/ path: 403 "cross-origin request refused".
 * Nothing here logs the token, a cookie value or a CSRF token, and no answer repeats one
 * except the answer that hands it out.
 *
 * Not here: the run routes, the bearer check and the listener (engine/admin), the sessions'
 * table (session.h), SQL (engine/store).
 */
#ifndef WR_CONSOLE_H
#define WR_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/clock.h"

struct evhttp_request;
struct wr_db;
struct wr_trigger_env;
struct wr_workflow_set;

struct wr_console_options {
    /* SHA-256 of admin.token (32 bytes, copied), or NULL: the admin API is open (loopback) */
    const unsigned char *token_digest;
    wr_clock_fn clock; /* the sessions' clock (ms); NULL = monotonic */
    void *clock_arg;
};

struct wr_console;

/* The console (owned: wr_console_free), or NULL with err when no random bytes can be drawn. */
struct wr_console *wr_console_new(const struct wr_console_options *o, char *err, size_t errlen);

/* Frees the console: its sessions end, its keys and digests are wiped. NULL is fine. */
void wr_console_free(struct wr_console *c);

/* True when path is the console's or the API's (/ui, /ui/..., /api/...): its answers carry
   wr_console_add_headers. */
bool wr_console_path(const char *path);

/* Adds Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, Referrer-Policy and
   Cache-Control: no-store to req's answer, before it is sent (error answers keep them). */
void wr_console_add_headers(struct evhttp_request *req);

/* Answers a /ui path (path borrowed): an asset, 301 for /ui, 404 for another, 405 for a method
   other than GET or HEAD. */
void wr_console_serve_ui(struct evhttp_request *req, const char *path);

/* Answers 403 and returns false when req comes from another origin (see the rules above). */
bool wr_console_origin_ok(struct evhttp_request *req);

/* Whether req carries the cookie of a live session (which then counts as used now). */
bool wr_console_has_session(struct wr_console *c, struct evhttp_request *req);

/* For a POST under /api/: true when it needs no CSRF token or carries the right one; else
   answers 403 and returns false. */
bool wr_console_csrf_ok(struct wr_console *c, struct evhttp_request *req);

/* GET /api/session: {"authenticated", "login_required", "csrf" (when authenticated)}; bearer is
   whether the request carried the right bearer token. */
void wr_console_on_session(struct wr_console *c, struct evhttp_request *req, bool bearer);

/* POST /api/login {"token": "..."}: 200 {"csrf"} with the session cookie, 401 a generic body
   for a wrong token, 400 a body that is not that object. Returns true for a wrong token (the
   admin counts it against the address). */
bool wr_console_on_login(struct wr_console *c, struct evhttp_request *req);

/* POST /api/logout: ends the request's session (after its CSRF check) and clears the cookie;
   200 {"authenticated": false}. */
void wr_console_on_logout(struct wr_console *c, struct evhttp_request *req);

/*
 * GET /api/workflows: [{"name", "file" (not a trigger kind: the path), "description",
 * "enabled", "version", "trigger": {"kind", "summary"}, "scope": whether the trigger kind has a
 * preview (GET /api/workflows/NAME/scope), "last_run": {"id", "status", "at"} |
 * null, "next_due": <Unix ms> | null}] for every workflow of set (borrowed; NULL: none), in load
 * order. last_run from db (borrowed; the admin's reader), next_due from the trigger kind's next_due
 * slot (state_path: the journal's file, for kinds that remember due times there), at now_ms (wall
 * clock).
 */
void wr_console_on_workflows(struct evhttp_request *req, const struct wr_workflow_set *set,
                             struct wr_db *db, const char *state_path, int64_t now_ms);

/*
 * GET /api/workflows/NAME/scope[?days=N]: `weir scope NAME --days N` (default 7, 1..366) in the
 * daemon — the trigger kind's read-only preview of whom it would process, started with env
 * (borrowed for the call: base, base_dir, state_path, graph, dir) on the workflow NAME
 * (borrowed) of set (borrowed), at now_ms. Answers later: 200 with the preview (trigger.h's
 * scope slot), 502 when reading it failed; at once 404 (no such workflow), 409 (its kind has no
 * preview), 400 (a bad query) or 503 (it cannot start, e.g. no Graph client). A preview still
 * running when c is freed answers nobody.
 */
void wr_console_on_scope(struct wr_console *c, struct evhttp_request *req,
                         const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                         const char *name, const char *query, int64_t now_ms);

/* What /api/health reports that only the admin can see (the Graph client, the journal). */
struct wr_console_health {
    bool graph_on;           /* false with --ingest-only: no Graph client */
    bool graph_signed_in;    /* a token is held */
    const char *graph_error; /* the last token call's failure, or NULL */
    bool journal_ok;
    const char *journal_error; /* NULL when ok */
    uint64_t throttled;        /* 429s from Graph since start */
    int64_t last_throttled_ms; /* Unix ms of the last one, 0: none */
    const struct wr_workflow_set *set;
    struct wr_db *db; /* the admin's reader: the queue's counts */
};

/*
 * GET /api/health: {"version", "graph": {"signed_in", "last_error"}, "journal": {"ok",
 * "error"}, "queue": {"queued", "running", "waiting", "held"}, "throttling": {"seen",
 * "last_at"}, "triggers": [{"workflow", "kind", "last_poll_at", "last_error"}]} from h
 * (borrowed). triggers lists every workflow of h->set with its kind; the poll fields are null
 * for kinds that do not poll (or before their first round).
 */
void wr_console_on_health(struct evhttp_request *req, const struct wr_console_health *h);

#endif
