/*
 * dryrun — one workflow on one event, nothing written to the tenant; see dryrun.h.
 *
 * The loop runs until the run left the throw-away store's open statuses and the executor has
 * nothing in memory (checked every 50 ms), or WR_DRYRUN_TIMEOUT_MS passed.
 */
#include "engine/exec/dryrun.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "engine/exec/run.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"
#include "engine/store/runstate.h"

struct dry {
    struct event_base *base;
    struct wr_runner *runner;
    struct wr_db *db;
    struct event *check;
    int64_t deadline; /* monotonic ms */
    bool stored;
    bool timed_out;
    char error[WR_ERR_MAX];
};

static void on_dry_stored(void *arg, const struct wr_ingest_result *res)
{
    struct dry *d = arg;
    if (res->rc != 0) {
        snprintf(d->error, sizeof(d->error), "%s", res->error ? res->error : "storage error");
        event_base_loopexit(d->base, NULL);
        return;
    }
    d->stored = true;
    wr_runner_kick(d->runner);
}

static void on_dry_check(evutil_socket_t fd, short what, void *arg)
{
    struct dry *d = arg;
    (void)fd;
    (void)what;
    bool done = false;
    int64_t open = 0;
    if (d->stored && wr_runstate_count_open(d->db, &open) == 0) {
        done = open == 0 && wr_runner_active(d->runner) == 0;
    }
    if (!done && wr_clock_mono_ms() > d->deadline) {
        d->timed_out = true;
        done = true;
    }
    if (done) {
        event_base_loopexit(d->base, NULL);
    }
}

static void print_json_indented(FILE *out, const char *label, const char *text)
{
    struct json_object *v = wr_json_parse_str(text);
    const char *s =
        v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE)
          : (text ? text : "null");
    fprintf(out, "    %s:", label);
    bool first = true;
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(out, "%s%.*s\n", first ? " " : "      ", (int)n, p);
        first = false;
        p += n + (nl ? 1 : 0);
    }
    json_object_put(v);
}

struct report {
    const struct wr_workflow *wf;
    FILE *out;
};

/* One step row of the report. */
static void print_step(void *arg, const struct wr_runstate_row *row)
{
    struct report *r = arg;
    const struct wr_workflow *wf = r->wf;
    bool on_err = row->idx >= WR_ON_ERROR_BASE;
    const struct wr_step *s =
        on_err ? &wf->on_error[row->idx - WR_ON_ERROR_BASE] : &wf->steps[row->idx];
    const char *what = s->kind == WR_STEP_ACTION     ? s->action->name
                       : s->kind == WR_STEP_SCRIPT   ? "script"
                       : s->kind == WR_STEP_WAIT     ? "wait"
                       : s->kind == WR_STEP_APPROVAL ? "approval request"
                                                     : "approval";
    fprintf(r->out, "%s  %-10s %s%s%s\n", s->path, row->status, what, s->id ? "  id=" : "",
            s->id ? s->id : "");
    if (row->args) {
        print_json_indented(r->out, "arguments", row->args);
    }
    if (row->output) {
        struct json_object *o = wr_json_parse_str(row->output);
        struct json_object *plan = NULL, *output = NULL;
        if (json_object_object_get_ex(o, "plan", &plan) &&
            json_object_object_get_ex(o, "output", &output)) {
            print_json_indented(r->out, "would send", json_object_to_json_string(plan));
            print_json_indented(r->out, "output", json_object_to_json_string(output));
        } else {
            print_json_indented(r->out, "output", row->output);
        }
        json_object_put(o);
    }
    if (row->error) {
        fprintf(r->out, "    error: %s\n", row->error);
    }
}

/* The report, from the throw-away store once the run is over. */
static void print_report(struct wr_db *db, const struct wr_workflow *wf, FILE *out)
{
    char *status = NULL, *error = NULL;
    if (!wr_runstate_first_run(db, &status, &error)) {
        fprintf(out,
                "dry run of %s: the workflow does not match this event (its when: is false); "
                "nothing would run\n",
                wf->name);
        return;
    }
    if (strcmp(status, "held") == 0) {
        /* the guard's reason reads on: "held by the guard before step 'x' (...): why" */
        fprintf(out,
                "dry run of %s: the run would be %s\nNothing was sent to Graph but reads; an "
                "admin would decide with weir held / weir release / weir reject.\n\n",
                wf->name, error ? error : "held by the guard");
        free(status);
        free(error);
        struct report r = {wf, out};
        wr_runstate_each_row(db, print_step, &r);
        return;
    }
    bool failed = strcmp(status, "failed") == 0;
    fprintf(out,
            "dry run of %s: the run would end %s%s%s\nNothing was sent to Graph but reads; "
            "the writes below were planned, not made.%s\n\n",
            wf->name, status, error ? ": " : "", error ? error : "",
            failed ? "\n(A dry run sees the tenant as it is now: what an earlier step would "
                     "create does not exist yet for the later ones.)"
                   : "");
    free(status);
    free(error);
    struct report r = {wf, out};
    wr_runstate_each_row(db, print_step, &r);
}

struct wr_directory *wr_dryrun_directory(struct event_base *base,
                                         const struct wr_graph_options *graph, struct wr_graph **g,
                                         char *err, size_t errlen)
{
    struct wr_graph_options go = *graph;
    go.read_only = true; /* the second guard: nothing but GETs can leave */
    *g = wr_graph_new(base, &go, err, errlen);
    if (!*g) {
        return NULL;
    }
    struct wr_directory_options dopt = {.base_url = go.base_url};
    struct wr_directory *dir = wr_directory_new(base, *g, &dopt);
    if (!dir) {
        snprintf(err, errlen, "graph.base_url is missing");
        wr_graph_free(*g);
        *g = NULL;
    }
    return dir;
}

int wr_dryrun(const struct wr_graph_options *graph, const struct wr_workflow *wf,
              struct json_object *event, const struct wr_guard_limits *guard,
              const char *guard_state, const char *mail_from, FILE *out, char *err, size_t errlen)
{
    char tmpl[] = "/tmp/weir-dry-run-XXXXXX";
    struct dry dr = {0};
    struct wr_journal *journal = NULL;
    struct wr_ingest *ingest = NULL;
    struct wr_graph *g = NULL;
    struct wr_directory *dir = NULL;
    int rc = -1;

    err[0] = '\0';
    if (!mkdtemp(tmpl)) {
        snprintf(err, errlen, "cannot create a temporary directory: %s", strerror(errno));
        return -1;
    }
    char *state = wr_path_join(tmpl, "dry-run.db");
    evthread_use_pthreads();
    dr.base = event_base_new();
    journal = wr_journal_open(dr.base, state, 0, err, errlen);
    if (!journal) {
        goto out;
    }
    dir = wr_dryrun_directory(dr.base, graph, &g, err, errlen);
    struct wr_workflow_set one = {(struct wr_workflow **)&wf, 1};
    struct wr_runner_options ro = {.dry_run = true, .poll_ms = 50, .mail_from = mail_from};
    if (guard_state && access(guard_state, F_OK) == 0) {
        ro.guard_state = guard_state; /* the daemon's window and held runs, read only */
    }
    dr.runner = dir ? wr_runner_new(dr.base, journal, state, &one, g, dir, &ro, err, errlen) : NULL;
    if (dr.runner && guard) {
        wr_runner_set_guard(dr.runner, guard, NULL);
    }
    dr.db = dr.runner ? wr_journal_open_reader(state, err, errlen) : NULL;
    if (!dr.db) {
        goto out;
    }
    ingest = wr_ingest_new(dr.base, journal);
    struct wr_ingest_event ev = {.event = event};
    if (wr_ingest_submit(ingest, "manual dry run", NULL, &wf, 1, &ev, 1, on_dry_stored, &dr) != 0) {
        goto out;
    }
    dr.deadline = wr_clock_mono_ms() + WR_DRYRUN_TIMEOUT_MS;
    dr.check = event_new(dr.base, -1, EV_PERSIST, on_dry_check, &dr);
    struct timeval tv = {0, 50000};
    event_add(dr.check, &tv);
    event_base_loop(dr.base, EVLOOP_NO_EXIT_ON_EMPTY);
    if (dr.error[0] || dr.timed_out) {
        wr_errf_marked(err, errlen, "dry run: %s",
                       dr.timed_out ? "the run did not finish within 2 minutes" : dr.error);
        goto out;
    }
    print_report(dr.db, wf, out);
    rc = 0;
out:
    if (dr.check) {
        event_free(dr.check);
    }
    wr_journal_close_reader(dr.db);
    wr_runner_free(dr.runner);
    wr_ingest_free(ingest);
    wr_graph_free(g);
    wr_directory_free(dir);
    wr_journal_close(journal);
    if (dr.base) {
        event_base_free(dr.base);
    }
    unlink(state);
    char *wal = wr_xasprintf("%s-wal", state), *shm = wr_xasprintf("%s-shm", state);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
    rmdir(tmpl);
    free(state);
    return rc;
}
