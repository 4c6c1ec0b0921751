/*
 * daemon — wiring config, workflows, journal, ingest and triggers on one loop; see daemon.h.
 */
#include "engine/daemon.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/admin.h"
#include "engine/approval_page.h"
#include "engine/base/exit_code.h"
#include "engine/config.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/store/db.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"
#include "engine/store/leader.h"
#include "engine/base/log.h"
#include "engine/base/metrics.h"
#include "engine/base/notify.h"
#include "engine/exec/run.h"
#include "engine/base/secret.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "triggers/trigger.h"

struct daemon {
    struct event_base *base;
    struct wr_config *cfg;
    struct wr_workflow_set *set;
    struct wr_journal_claim *claim; /* this process owns the state file */
    struct wr_journal *journal;
    struct wr_ingest *ingest;
    struct wr_triggers *triggers; /* every trigger kind's runtime (triggers/trigger.h) */
    struct wr_leader *leader;     /* who runs the leader_only trigger kinds (engine/store/leader) */
    struct event *lead_check;     /* PostgreSQL: every LEAD_CHECK_MS, take or check the lock */
    bool leading;                 /* the leader_only kinds run here */
    bool stepping_down;           /* they are draining after the lock was lost */
    struct wr_graph *graph;
    struct wr_directory *dir;
    struct wr_runner *runner;
    struct wr_admin *admin;
    struct wr_approval_page *approvals; /* /approvals/ on an HTTP trigger's listener */
    struct event *sigterm, *sigint, *drain;
    struct event *sighup, *reload_retry, *reap;
    struct retired *retired; /* sets replaced by a reload, still in use */
    char *listeners;         /* "webhook listener ADDR; admin listener ADDR" (owned) */
    char *status;            /* the STATUS= of the last READY=1 (owned), for the manager */
    bool reloading;          /* RELOADING=1 sent, READY=1 not yet */
    bool stopping;
};

/*
 * A workflow set replaced by a reload. Runs in memory and trigger work in flight may still
 * point into it: it is freed once the runner counts no run on it and every trigger kind has
 * been idle (not busy) once since (everything routed with it has been answered).
 */
struct retired {
    struct wr_workflow_set *set;
    bool triggers_done;
    struct retired *next;
};

/* {====== the service manager (sd_notify; nothing without $NOTIFY_SOCKET) ====== */

/* Sends state to the service manager; a failure is logged here (notify.c never logs) and
   changes nothing else: weir serves the same with or without a manager listening. */
static void notify(const char *state)
{
    char err[WR_ERR_MAX];
    if (wr_notify(state, err, sizeof(err)) != 0) {
        wr_log(WR_LOG_WARN, "cannot notify the service manager", "error", err, NULL);
    }
}

/* READY=1 with STATUS= the daemon's current status (d->status) and MAINPID=. */
static void notify_ready(const struct daemon *d)
{
    char *msg = wr_xasprintf("READY=1\nSTATUS=%s\nMAINPID=%ld", d->status, (long)getpid());
    notify(msg);
    free(msg);
}

/* Replaces the status a READY=1 reports: "N workflows; webhook listener ADDR; ...[; note]"
   (note borrowed, may be NULL). */
static void set_status(struct daemon *d, const char *note)
{
    struct wr_buf b = {0};
    wr_buf_addf(&b, "%zu workflow%s; %s", d->set->count, d->set->count == 1 ? "" : "s",
                d->listeners);
    if (note) {
        wr_buf_addf(&b, "; %s", note);
    }
    free(d->status);
    /* Capped: a READY=1 that does not fit in one datagram would never reach the manager. */
    d->status = wr_text_cap(wr_buf_str(&b), WR_NOTIFY_MAX / 4);
    wr_buf_free(&b);
}

/* }====== */

/* weir.yaml's address for a kind (wr_trigger_listen_fn). */
static const char *listen_of(void *arg, const struct wr_trigger_kind *kind)
{
    return wr_config_listen(arg, kind);
}

/* How often an instance on a PostgreSQL store takes or checks the leader's lock. */
#define LEAD_CHECK_MS 1000

/* Every LEAD_CHECK_MS (PostgreSQL): starts the leader_only kinds when this instance became the
   leader, and lets them drain and go when it no longer is. */
static void on_lead_check(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    char err[WR_ERR_MAX] = "";
    (void)fd;
    (void)what;
    if (d->stopping || d->reloading) {
        return;
    }
    bool lead = wr_leader_check(d->leader, err, sizeof(err));
    if (d->stepping_down) {
        if (!wr_triggers_step_down(d->triggers)) {
            return; /* still draining */
        }
        d->stepping_down = false;
        wr_log(WR_LOG_INFO, "stepped down: schedules, folders and directory polls stopped here",
               NULL);
    }
    if (lead && !d->leading) {
        const struct wr_trigger_kind *failed = NULL;
        if (wr_triggers_lead(d->triggers, d->set, &failed, err, sizeof(err)) != 0) {
            char what_[128];
            snprintf(what_, sizeof(what_), "leading, but cannot start the %s", failed->what);
            wr_log(WR_LOG_ERROR, what_, "error", err, NULL);
        }
        d->leading = true;
        wr_log(WR_LOG_INFO, "leading: schedules, folders and directory polls run here", NULL);
    } else if (!lead && d->leading) {
        d->leading = false;
        wr_log(WR_LOG_WARN,
               "no longer the leader (its database session ended): schedules, folders and "
               "directory polls stop here; another instance takes them over",
               "error", err, NULL);
        d->stepping_down = !wr_triggers_step_down(d->triggers);
    }
}

/* Starts every trigger kind on d->set; logs and returns -1 when one fails. */
static int start_triggers(struct daemon *d)
{
    char err[WR_ERR_MAX];
    const struct wr_trigger_kind *failed = NULL;
    struct wr_trigger_env env = {
        .base = d->base,
        .ingest = d->ingest,
        .journal = d->journal,
        .base_dir = d->cfg->dir,
        .limits = &d->cfg->limits,
        .state_path = d->cfg->state,
        .graph = d->graph,
        .dir = d->dir,
        .mount_prefix = d->approvals ? WR_APPROVAL_PAGE_PREFIX : NULL,
        .mount_fn = wr_approval_page_serve,
        .mount_arg = d->approvals,
    };
    d->leader = wr_leader_new(d->cfg->state, err, sizeof(err));
    if (!d->leader) {
        wr_log(WR_LOG_ERROR, "cannot start", "error", err, NULL);
        return -1;
    }
    d->leading = wr_leader_check(d->leader, NULL, 0);
    d->triggers =
        wr_triggers_start(&env, listen_of, d->cfg, d->set, d->leading, &failed, err, sizeof(err));
    if (!d->triggers) {
        char what[128];
        snprintf(what, sizeof(what), "cannot start the %s", failed->what);
        wr_log(WR_LOG_ERROR, what, "error", err, NULL);
        return -1;
    }
    return 0;
}

/* {====== approvals: the decision page ====== */

/* A decision was recorded on the page: the waiting run goes on now, not at the next poll. */
static void approvals_wake(void *arg)
{
    struct daemon *d = arg;
    if (d->runner) {
        wr_runner_kick(d->runner);
    }
}

/* The decision page, served whenever a journal exists (links name approvals.public_url, but
   serving does not need it). Its key: engine/store/approval_key. Returns 0, or -1 (logged). */
static int start_approvals(struct daemon *d)
{
    char err[WR_ERR_MAX];
    d->approvals = wr_approval_page_new(d->cfg->state, approvals_wake, d, err, sizeof(err));
    if (!d->approvals) {
        wr_log(WR_LOG_ERROR, "cannot serve the approval page", "error", err, NULL);
        return -1;
    }
    return 0;
}

/* }====== */

/* Checks every 10 ms whether the work already accepted is done, then leaves the loop. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    size_t waiting = wr_triggers_pending(d->triggers) + wr_runner_active(d->runner) +
                     (d->journal ? wr_journal_pending(d->journal) : 0);
    if (waiting == 0) {
        event_base_loopexit(d->base, NULL);
        return;
    }
    struct timeval tv = {0, 10000};
    evtimer_add(d->drain, &tv);
}

/*
 * The journal's health changed: logged once per change, here (the journal never logs). While it
 * fails, every trigger refuses or holds its events (an HTTP listener answers 503 with
 * Retry-After, what is read from disk stays there and is tried again), /readyz says why.
 */
static void on_journal_health(void *arg, bool ok, const char *error)
{
    struct daemon *d = arg;
    if (ok) {
        wr_log(WR_LOG_INFO, "journal recovered: commits are durable again", "state", d->cfg->state,
               NULL);
        if (d->status) {
            char *msg = wr_xasprintf("STATUS=%s", d->status);
            notify(msg);
            free(msg);
        }
    } else {
        notify("STATUS=journal failing: events are refused until a commit succeeds again");
        wr_log(WR_LOG_ERROR,
               "journal failing: nothing can be stored; events are refused "
               "(HTTP listeners answer 503) until a commit succeeds again",
               "state", d->cfg->state, "error", error ? error : "", NULL);
    }
}

/* {====== SIGHUP: reloading the workflows ====== */

/* Frees the retired sets nothing uses any more; stops checking when none is left. */
static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    bool quiet = !wr_triggers_busy(d->triggers);
    for (struct retired **p = &d->retired; *p;) {
        struct retired *r = *p;
        r->triggers_done = r->triggers_done || quiet;
        if (r->triggers_done && wr_runner_set_users(d->runner, r->set) == 0) {
            *p = r->next;
            wr_workflow_set_free(r->set);
            free(r);
            wr_log(WR_LOG_DEBUG, "previous workflow set freed", NULL);
        } else {
            p = &r->next;
        }
    }
    if (!d->retired) {
        event_del(d->reap);
    }
}

static void retire(struct daemon *d, struct wr_workflow_set *set)
{
    struct retired *r = wr_xcalloc(1, sizeof(*r));
    r->set = set;
    r->next = d->retired;
    d->retired = r;
    struct timeval tv = {0, 100000};
    event_add(d->reap, &tv); /* EV_PERSIST: every 100 ms until the list is empty */
    on_reap(-1, 0, d);
}

/*
 * Loads the workflow directory into a new set and, when it is valid, serves it: every trigger
 * kind and new runs switch over; what is in flight finishes on the old set. An invalid set, or
 * a kind that cannot prepare it, changes nothing: each error is logged and the old set stays.
 */
static bool reload(struct daemon *d)
{
    struct wr_diags diags = {0};
    struct wr_workflow_set *set = NULL;
    const char *dir = d->cfg->workflows;
    char err[WR_ERR_MAX], n[32];
    const struct wr_trigger_kind *failed = NULL;

    wr_log(WR_LOG_INFO, "reloading workflows", "dir", dir, NULL);
    if (wr_workflow_set_load(&dir, 1, d->cfg->dir, d->cfg->env_allow, &set, &diags) != 0) {
        for (size_t i = 0; i < diags.count; i++) {
            wr_log(WR_LOG_ERROR, "workflow error", "error", diags.items[i], NULL);
        }
        snprintf(n, sizeof(n), "%zu", diags.count);
        wr_log(WR_LOG_ERROR, "workflows not reloaded: the old set is still served", "errors", n,
               NULL);
        goto err;
    }
    if (wr_triggers_reload(d->triggers, set, &failed, err, sizeof(err)) != 0) {
        char what[160];
        snprintf(what, sizeof(what), "workflows not reloaded: cannot start the %s", failed->what);
        wr_log(WR_LOG_ERROR, what, "error", err, NULL);
        goto err;
    }
    wr_runner_set_workflows(d->runner, set);
    wr_admin_set_workflows(d->admin, set);
    retire(d, d->set);
    d->set = set;
    snprintf(n, sizeof(n), "%zu", set->count);
    wr_log(WR_LOG_INFO, "workflows reloaded", "workflows", n, NULL);
    wr_diags_clear(&diags);
    return true;
err:
    wr_workflow_set_free(set);
    wr_diags_clear(&diags);
    return false;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)sig;
    (void)what;
    if (d->stopping) {
        return;
    }
    /* The manager hears of the reload once, when it starts (not on every retry below), and
       keeps `systemctl reload` waiting until READY=1 says it is over. */
    if (!d->reloading) {
        char err[WR_ERR_MAX];
        d->reloading = true;
        if (wr_notify_reloading("STATUS=reloading workflows", err, sizeof(err)) != 0) {
            wr_log(WR_LOG_WARN, "cannot notify the service manager", "error", err, NULL);
        }
    }
    /* Work in flight points into what a commit would free: wait for it (ms). */
    if (wr_triggers_reload_wait(d->triggers)) {
        struct timeval tv = {0, 20000};
        evtimer_add(d->reload_retry, &tv);
        return;
    }
    /* Either way the daemon serves again: the new set, or the old one when the new failed. */
    set_status(d, reload(d) ? NULL : "the last reload failed: previous workflows kept");
    d->reloading = false;
    notify_ready(d);
}

/* }====== */

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)what;
    if (d->stopping) {
        return;
    }
    d->stopping = true;
    wr_log(WR_LOG_INFO, "stopping: finishing the requests already received", "signal",
           sig == SIGTERM ? "TERM" : "INT", NULL);
    notify("STOPPING=1\nSTATUS=stopping: finishing the requests already received");
    /* No new work: listeners close (requests already read keep their reply path), timers
       stop; what was received is finished while on_drain waits. */
    wr_triggers_stop_accepting(d->triggers);
    if (d->lead_check) {
        event_del(d->lead_check);
    }
    wr_admin_set_stopping(d->admin); /* /readyz says so; /healthz and the API stay up */
    wr_runner_stop(d->runner);       /* runs pause at their next durable point */
    on_drain(-1, 0, d);
}

/* The "<what> ready" line of a trigger kind (wr_triggers_ready), and "<what> ADDR" in the
   status the manager shows (arg: a struct wr_buf). */
static void log_ready(void *arg, const struct wr_trigger_kind *kind, const char *addr)
{
    char what[128];
    snprintf(what, sizeof(what), "%s ready", kind->what);
    wr_log(WR_LOG_INFO, what, "addr", addr, NULL);
    wr_buf_addf(arg, "%s%s %s", ((struct wr_buf *)arg)->len ? "; " : "", kind->what, addr);
}

/* The Graph client and the directory, before the triggers (the directory kinds read Graph).
   Returns 0, or -1 (logged). */
static int start_graph(struct daemon *d)
{
    char err[WR_ERR_MAX];
    struct wr_config_credentials cred;
    if (wr_config_read_credentials(d->cfg, &cred, err, sizeof(err)) != 0) {
        char what[64];
        snprintf(what, sizeof(what), "%s cannot be read", cred.failed);
        wr_log(WR_LOG_ERROR, what, "error", err, "hint",
               "set it, or start with --ingest-only to store events without running them", NULL);
        return -1;
    }
    struct wr_graph_options go = {
        .authority = d->cfg->graph.authority,
        .tenant = d->cfg->graph.tenant,
        .client_id = d->cfg->graph.client_id,
        .client_secret = cred.client_secret,
        .client_certificate_pem = cred.certificate_pem,
        .client_key_pem = cred.key_pem,
        .base_url = d->cfg->graph.base_url,
        .scope = d->cfg->graph.scope,
        .max_concurrency = d->cfg->graph.max_concurrency,
        .batch_max = d->cfg->graph.batch_max,
        .writes_per_150s = d->cfg->graph.writes_per_150s,
    };
    d->graph = wr_graph_new(d->base, &go, err, sizeof(err));
    wr_config_credentials_clear(&cred);
    if (!d->graph) {
        wr_log(WR_LOG_ERROR, "cannot create the Graph client", "error", err, NULL);
        return -1;
    }
    /* Sign in now: a wrong secret shows in the log and /readyz before the first run needs it. */
    char why[WR_ERR_MAX];
    wr_graph_token_status(d->graph, why, sizeof(why));
    struct wr_directory_options dopt = {.base_url = d->cfg->graph.base_url};
    d->dir = wr_directory_new(d->base, d->graph, &dopt);
    if (!d->dir) {
        wr_log(WR_LOG_ERROR, "cannot create the directory reader", NULL);
        return -1;
    }
    return 0;
}

/* The executor, after the triggers (it asks their gate). Returns 0, or -1 (logged). */
static int start_runs(struct daemon *d)
{
    char err[WR_ERR_MAX];
    struct wr_runner_options ro = {.max_concurrent = d->cfg->max_concurrent_runs,
                                   .net = d->cfg->http_allow,
                                   .mail_from = d->cfg->mail_from,
                                   .max_crashes = d->cfg->max_crashes,
                                   .lease_ms = d->cfg->lease_ms};
    d->runner = wr_runner_new(d->base, d->journal, d->cfg->state, d->set, d->graph, d->dir, &ro,
                              err, sizeof(err));
    if (!d->runner) {
        wr_log(WR_LOG_ERROR, "cannot start the run executor", "error", err, NULL);
        return -1;
    }
    /* A crash leaves a marker, so that a run the daemon keeps crashing on is parked. */
    if (wr_runner_arm_crash_marker(d->runner) != 0) {
        wr_log(WR_LOG_WARN, "cannot install the crash handlers; crash loops are not detected",
               NULL);
    }
    /* A trigger has the last word before a run's first step (user-date re-reads the user). */
    wr_runner_set_gate(d->runner, wr_triggers_gate, d->triggers);
    wr_runner_set_guard(d->runner, &d->cfg->guard, d->cfg->guard_notify);
    wr_runner_set_approvals(d->runner, d->cfg->approvals_public_url);
    /* Runs stored by any trigger start now, not at the next poll. */
    wr_ingest_on_runs(d->ingest, wr_runner_notify, d->runner);
    return 0;
}

int wr_daemon_run(const char *config_path, bool ingest_only)
{
    struct daemon d = {0};
    struct wr_diags diags = {0};
    char err[WR_ERR_MAX];
    int rc = WR_EXIT_INVALID;

    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    d.base = event_base_new();
    if (!d.base) {
        wr_log(WR_LOG_ERROR, "cannot create the event loop", NULL);
        return WR_EXIT_RUNTIME;
    }
    if (wr_config_load(config_path, &d.cfg, &diags) != 0) {
        goto bad_input;
    }
    wr_lua_set_defaults(&d.cfg->lua_limits);
    const char *dir = d.cfg->workflows;
    if (wr_workflow_set_load(&dir, 1, d.cfg->dir, d.cfg->env_allow, &d.set, &diags) != 0) {
        goto bad_input;
    }
    rc = WR_EXIT_RUNTIME;
    /* One daemon per SQLite state file: two would both run every queued run (several share a
       PostgreSQL database: runs are leased there). Taken before the journal
       opens (and migrates), held until the process ends. */
    d.claim = wr_journal_claim(d.cfg->state, err, sizeof(err));
    if (!d.claim) {
        wr_log(WR_LOG_ERROR, "not started: the journal is not available", "error", err, NULL);
        goto out;
    }
    /* A journal that cannot be written (read-only) is refused here, not served with 503s. */
    d.journal = wr_journal_open(d.base, d.cfg->state, d.cfg->retention_ms, err, sizeof(err));
    if (!d.journal) {
        wr_log(WR_LOG_ERROR, "cannot open the journal", "error", err, NULL);
        goto out;
    }
    wr_journal_on_health(d.journal, on_journal_health, &d);
    d.ingest = wr_ingest_new(d.base, d.journal);
    if (!ingest_only && start_graph(&d) != 0) {
        rc = WR_EXIT_INVALID;
        goto out;
    }
    if (start_approvals(&d) != 0) {
        goto out;
    }
    if (start_triggers(&d) != 0) {
        goto out;
    }
    if (!ingest_only && start_runs(&d) != 0) {
        rc = WR_EXIT_INVALID;
        goto out;
    }
    char *token = NULL;
    if (d.cfg->admin_token &&
        wr_secret_resolve(d.cfg->admin_token, d.cfg->dir, &token, err, sizeof(err)) != 0) {
        wr_log(WR_LOG_ERROR, "admin.token cannot be read", "error", err, NULL);
        rc = WR_EXIT_INVALID;
        goto out;
    }
    struct wr_admin_options ao = {
        .listen = d.cfg->listen_admin,
        .token = token,
        .state_path = d.cfg->state,
        .journal = d.journal,
        .graph = d.graph,
        .dir = d.dir,
        .base_dir = d.cfg->dir,
        .runner = d.runner,
        .set = d.set,
        .limits = &d.cfg->limits,
    };
    int arc = wr_admin_new(d.base, &ao, &d.admin, err, sizeof(err));
    wr_secret_free(token);
    if (arc == WR_ADMIN_EBIND) {
        /* A busy port must not take the workflows down with it; the probes will notice. */
        wr_log(WR_LOG_ERROR, "admin API off: cannot listen", "error", err, NULL);
    } else if (arc != 0) {
        wr_log(WR_LOG_ERROR, "cannot start the admin API", "error", err, NULL);
        rc = WR_EXIT_INVALID;
        goto out;
    }
    d.sigterm = evsignal_new(d.base, SIGTERM, on_stop, &d);
    d.sigint = evsignal_new(d.base, SIGINT, on_stop, &d);
    d.drain = evtimer_new(d.base, on_drain, &d);
    d.sighup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    d.reload_retry = evtimer_new(d.base, on_hup, &d);
    d.reap = event_new(d.base, -1, EV_PERSIST, on_reap, &d);
    if (wr_db_is_postgres_url(d.cfg->state)) {
        d.lead_check = event_new(d.base, -1, EV_PERSIST, on_lead_check, &d);
        struct timeval ltv = {LEAD_CHECK_MS / 1000, (LEAD_CHECK_MS % 1000) * 1000};
        event_add(d.lead_check, &ltv);
        wr_log(WR_LOG_INFO,
               d.leading ? "leading: schedules, folders and directory polls run here"
                         : "another instance leads: schedules, folders and directory polls run "
                           "there (this one takes them over if it stops)",
               NULL);
    }
    evsignal_add(d.sigterm, NULL);
    evsignal_add(d.sigint, NULL);
    evsignal_add(d.sighup, NULL);

    char count[32];
    snprintf(count, sizeof(count), "%zu", d.set->count);
    wr_log(WR_LOG_INFO, "weir started", "version", WEIR_VERSION, "workflows", count, "state",
           d.cfg->state, "runs", ingest_only ? "off (--ingest-only)" : "on", NULL);
    struct wr_buf listeners = {0};
    wr_triggers_ready(d.triggers, log_ready, &listeners);
    if (d.admin) {
        wr_log(WR_LOG_INFO, "admin listener ready", "addr", wr_admin_addr(d.admin), NULL);
    }
    wr_buf_addf(&listeners, "%sadmin listener %s%s", listeners.len ? "; " : "",
                d.admin ? wr_admin_addr(d.admin) : "off (cannot listen)",
                ingest_only ? "; runs off (--ingest-only)" : "");
    d.listeners = wr_buf_take(&listeners);
    set_status(&d, NULL);
    /* Every listener is bound and listening, every trigger started, the signals handled: a
       connection made from now on is answered by the loop below, so `systemctl start` may
       return and units ordered after weir may start. */
    notify_ready(&d);
    event_base_dispatch(d.base);
    wr_log(WR_LOG_INFO, "stopped", NULL);
    rc = WR_EXIT_OK;
    goto out;

bad_input:
    wr_diags_print(&diags, stderr);
    fprintf(stderr, "weir: not started: %zu error%s\n", diags.count, diags.count == 1 ? "" : "s");
out:
    if (d.sigterm) {
        event_free(d.sigterm);
    }
    if (d.sigint) {
        event_free(d.sigint);
    }
    if (d.drain) {
        event_free(d.drain);
    }
    if (d.sighup) {
        event_free(d.sighup);
    }
    if (d.reload_retry) {
        event_free(d.reload_retry);
    }
    if (d.reap) {
        event_free(d.reap);
    }
    if (d.lead_check) {
        event_free(d.lead_check);
    }
    wr_admin_free(d.admin);
    wr_triggers_free(d.triggers);
    wr_leader_free(d.leader);           /* the lock goes with its session */
    wr_approval_page_free(d.approvals); /* after the listeners that served it */
    if (d.ingest) {
        wr_ingest_on_runs(d.ingest, NULL, NULL); /* late commits must not reach a freed runner */
    }
    wr_runner_free(d.runner);
    /* The client first: it drops its callbacks, then the directory has none pending. */
    wr_graph_free(d.graph);
    wr_directory_free(d.dir);
    wr_ingest_free(d.ingest);
    wr_journal_close(d.journal);
    wr_journal_release(d.claim); /* after the close: see wr_journal_release */
    wr_workflow_set_free(d.set);
    while (d.retired) {
        struct retired *r = d.retired;
        d.retired = r->next;
        wr_workflow_set_free(r->set);
        free(r);
    }
    wr_metrics_clear();
    wr_config_free(d.cfg);
    wr_diags_clear(&diags);
    free(d.status);
    free(d.listeners);
    event_base_free(d.base);
    return rc;
}
