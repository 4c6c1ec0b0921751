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

#include "engine/cli.h"
#include "engine/config.h"
#include "engine/directory.h"
#include "engine/graph.h"
#include "engine/ingest.h"
#include "engine/journal.h"
#include "engine/log.h"
#include "engine/run.h"
#include "engine/secret.h"
#include "engine/strutil.h"
#include "engine/workflow_set.h"
#include "triggers/file_watch.h"
#include "triggers/schedule_timer.h"
#include "triggers/webhook_server.h"

struct daemon {
    struct event_base *base;
    struct wr_config *cfg;
    struct wr_workflow_set *set;
    struct wr_journal *journal;
    struct wr_ingest *ingest;
    struct wr_webhook_server *webhooks;
    struct wr_schedule *schedule;
    struct wr_file_watch *files;
    struct wr_graph *graph;
    struct wr_directory *dir;
    struct wr_runner *runner;
    struct event *sigterm, *sigint, *drain;
    bool stopping;
};

/* Checks every 10 ms whether the work already accepted is done, then leaves the loop. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    size_t waiting =
        (d->webhooks ? wr_webhook_server_pending(d->webhooks) : 0) +
        wr_schedule_pending(d->schedule) + (d->files ? wr_file_watch_pending(d->files) : 0) +
        wr_runner_active(d->runner) + (d->journal ? wr_journal_pending(d->journal) : 0);
    if (waiting == 0) {
        event_base_loopexit(d->base, NULL);
        return;
    }
    struct timeval tv = {0, 10000};
    evtimer_add(d->drain, &tv);
}

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
    /* The listener goes away; requests already read keep their reply path. */
    wr_webhook_server_stop_accepting(d->webhooks);
    wr_schedule_free(d->schedule); /* no new slots; firings in flight are tracked by the journal */
    d->schedule = NULL;
    wr_runner_stop(d->runner); /* runs pause at their next durable point */
    on_drain(-1, 0, d);
}

/* The Graph client, the directory and the executor. Returns 0, or -1 (logged). */
static int start_runs(struct daemon *d)
{
    char err[512], *secret = NULL;
    if (wr_secret_resolve(d->cfg->graph.client_secret, d->cfg->dir, &secret, err, sizeof(err)) !=
        0) {
        wr_log(WR_LOG_ERROR, "graph.client_secret cannot be read", "error", err, "hint",
               "set it, or start with --ingest-only to store events without running them", NULL);
        return -1;
    }
    struct wr_graph_options go = {
        .authority = d->cfg->graph.authority,
        .tenant = d->cfg->graph.tenant,
        .client_id = d->cfg->graph.client_id,
        .client_secret = secret,
        .base_url = d->cfg->graph.base_url,
    };
    d->graph = wr_graph_new(d->base, &go, err, sizeof(err));
    wr_secret_free(secret);
    if (!d->graph) {
        wr_log(WR_LOG_ERROR, "cannot create the Graph client", "error", err, NULL);
        return -1;
    }
    struct wr_directory_options dopt = {.base_url = d->cfg->graph.base_url};
    d->dir = wr_directory_new(d->base, d->graph, &dopt);
    d->runner = d->dir ? wr_runner_new(d->base, d->journal, d->cfg->state, d->set, d->graph, d->dir,
                                       NULL, err, sizeof(err))
                       : NULL;
    if (!d->runner) {
        wr_log(WR_LOG_ERROR, "cannot start the run executor", "error", err, NULL);
        return -1;
    }
    return 0;
}

int wr_daemon_run(const char *config_path, bool ingest_only)
{
    struct daemon d = {0};
    struct wr_diags diags = {0};
    char err[512];
    int rc = WR_EXIT_INVALID;

    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    d.base = event_base_new();
    if (!d.base) {
        wr_log(WR_LOG_ERROR, "cannot create the event loop", NULL);
        return 3;
    }
    if (wr_config_load(config_path, &d.cfg, &diags) != 0) {
        goto bad_input;
    }
    const char *dir = d.cfg->workflows;
    if (wr_workflow_set_load(&dir, 1, d.cfg->dir, d.cfg->env_allow, &d.set, &diags) != 0) {
        goto bad_input;
    }
    rc = 3;
    d.journal = wr_journal_open(d.base, d.cfg->state, 0, err, sizeof(err));
    if (!d.journal) {
        wr_log(WR_LOG_ERROR, "cannot open the journal", "error", err, NULL);
        goto out;
    }
    d.ingest = wr_ingest_new(d.base, d.journal);
    d.webhooks =
        wr_webhook_server_new(d.base, d.ingest, d.set, d.cfg->listen_webhook, err, sizeof(err));
    if (!d.webhooks) {
        wr_log(WR_LOG_ERROR, "cannot start the webhook listener", "error", err, NULL);
        goto out;
    }
    d.schedule = wr_schedule_new(d.base, d.ingest, d.set, err, sizeof(err));
    if (!d.schedule) {
        wr_log(WR_LOG_ERROR, "cannot start the schedules", "error", err, NULL);
        goto out;
    }
    d.files = wr_file_watch_new(d.base, d.ingest, (const struct wr_workflow *const *)d.set->items,
                                d.set->count, d.cfg->dir, NULL, err, sizeof(err));
    if (!d.files) {
        wr_log(WR_LOG_ERROR, "cannot start the file triggers", "error", err, NULL);
        goto out;
    }
    if (!ingest_only && start_runs(&d) != 0) {
        rc = WR_EXIT_INVALID;
        goto out;
    }
    d.sigterm = evsignal_new(d.base, SIGTERM, on_stop, &d);
    d.sigint = evsignal_new(d.base, SIGINT, on_stop, &d);
    d.drain = evtimer_new(d.base, on_drain, &d);
    evsignal_add(d.sigterm, NULL);
    evsignal_add(d.sigint, NULL);

    char addr[300], count[32], port[16];
    snprintf(count, sizeof(count), "%zu", d.set->count);
    snprintf(port, sizeof(port), "%d", wr_webhook_server_port(d.webhooks));
    snprintf(addr, sizeof(addr), "%.*s:%s",
             (int)(strrchr(d.cfg->listen_webhook, ':') - d.cfg->listen_webhook),
             d.cfg->listen_webhook, port);
    wr_log(WR_LOG_INFO, "weir started", "version", WEIR_VERSION, "workflows", count, "state",
           d.cfg->state, "runs", ingest_only ? "off (--ingest-only)" : "on", NULL);
    wr_log(WR_LOG_INFO, "webhook listener ready", "addr", addr, NULL);
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
    wr_schedule_free(d.schedule);
    wr_file_watch_free(d.files);
    wr_runner_free(d.runner);
    /* The client first: it drops its callbacks, then the directory has none pending. */
    wr_graph_free(d.graph);
    wr_directory_free(d.dir);
    wr_webhook_server_free(d.webhooks);
    wr_ingest_free(d.ingest);
    wr_journal_close(d.journal);
    wr_workflow_set_free(d.set);
    wr_config_free(d.cfg);
    wr_diags_clear(&diags);
    event_base_free(d.base);
    return rc;
}
