/*
 * metrics — counters and histograms for /metrics; see metrics.h.
 *
 * A series is a small struct in a singly linked list per family; lookups are linear, which
 * is fine for the few dozen (trigger, outcome) and (workflow, action) pairs a deployment has.
 */
#include "engine/base/metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"

/* Upper bounds of the step duration buckets, in seconds (+Inf is implied). */
static const double bucket_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

struct series {
    struct series *next;
    char *a, *b; /* the two label values */
    uint64_t count;
    double sum;                 /* histograms */
    uint64_t buckets[NBUCKETS]; /* histograms: observations <= bucket_le[i] (not cumulative) */
};

static struct series *events, *runs_finished, *steps;

/* A polling trigger of one workflow: a = kind, b = workflow. */
struct poll_series {
    struct poll_series *next;
    char *a, *b;
    uint64_t ok, failed, pages, pending;
    int64_t took_ms; /* the last round's */
    bool last_ok;
    bool ended; /* a round ended */
    int64_t last_ok_ms;
    int64_t at_ms; /* when the last round ended */
    char *error;   /* the last failed round's, or NULL */
};

static struct poll_series *polls;

static struct poll_series *find_poll(const char *a, const char *b)
{
    for (struct poll_series *s = polls; s; s = s->next) {
        if (strcmp(s->a, a) == 0 && strcmp(s->b, b) == 0) {
            return s;
        }
    }
    struct poll_series *s = wr_xcalloc(1, sizeof(*s));
    s->a = wr_xstrdup(a);
    s->b = wr_xstrdup(b);
    s->next = polls;
    polls = s;
    return s;
}

void wr_metrics_poll(const char *trigger, const char *workflow, bool ok, uint64_t pages,
                     int64_t took_ms, int64_t at_ms, const char *error)
{
    struct poll_series *s = find_poll(trigger, workflow);
    s->took_ms = took_ms;
    s->at_ms = at_ms;
    s->ended = true;
    s->last_ok = ok;
    s->pages += pages;
    free(s->error);
    s->error = NULL;
    if (ok) {
        s->ok++;
        s->last_ok_ms = at_ms;
    } else {
        s->failed++;
        s->error = wr_xstrdup(error ? error : "failed");
    }
}

void wr_metrics_poll_pending(const char *trigger, const char *workflow, uint64_t n)
{
    find_poll(trigger, workflow)->pending = n;
}

static void free_poll(struct poll_series *s)
{
    free(s->a);
    free(s->b);
    free(s->error);
    free(s);
}

void wr_metrics_poll_forget(const char *trigger, const char *workflow)
{
    for (struct poll_series **p = &polls; *p; p = &(*p)->next) {
        if (strcmp((*p)->a, trigger) == 0 && strcmp((*p)->b, workflow) == 0) {
            struct poll_series *s = *p;
            *p = s->next;
            free_poll(s);
            return;
        }
    }
}

void wr_metrics_poll_each(void (*fn)(void *arg, const char *trigger, const char *workflow, bool ok,
                                     int64_t last_ok_ms, const char *error),
                          void *arg)
{
    for (struct poll_series *s = polls; s; s = s->next) {
        if (s->ended) {
            fn(arg, s->a, s->b, s->last_ok, s->last_ok_ms, s->error);
        }
    }
}

bool wr_metrics_poll_get(const char *trigger, const char *workflow,
                         struct wr_metrics_poll_state *out)
{
    for (struct poll_series *s = polls; s; s = s->next) {
        if (s->ended && strcmp(s->a, trigger) == 0 && strcmp(s->b, workflow) == 0) {
            out->ok = s->last_ok;
            out->last_at_ms = s->at_ms;
            out->last_ok_ms = s->last_ok_ms;
            out->error = s->error;
            return true;
        }
    }
    memset(out, 0, sizeof(*out));
    return false;
}

static struct series *find(struct series **list, const char *a, const char *b)
{
    for (struct series *s = *list; s; s = s->next) {
        if (strcmp(s->a, a) == 0 && strcmp(s->b, b) == 0) {
            return s;
        }
    }
    struct series *s = wr_xcalloc(1, sizeof(*s));
    s->a = wr_xstrdup(a);
    s->b = wr_xstrdup(b);
    s->next = *list;
    *list = s;
    return s;
}

void wr_metrics_event(const char *trigger, const char *outcome, uint64_t n)
{
    find(&events, trigger, outcome)->count += n;
}

void wr_metrics_run_finished(const char *workflow, const char *status)
{
    find(&runs_finished, workflow, status)->count++;
}

static uint64_t guard_trips;

void wr_metrics_guard_trip(void)
{
    guard_trips++;
}

void wr_metrics_step(const char *workflow, const char *action, double seconds)
{
    struct series *s = find(&steps, workflow, action);
    s->count++;
    s->sum += seconds < 0 ? 0 : seconds;
    for (size_t i = 0; i < NBUCKETS; i++) {
        if (seconds <= bucket_le[i]) {
            s->buckets[i]++;
            break;
        }
    }
}

/* A label value in the exposition format: \ " and newline escaped. */
static void add_label_value(struct wr_buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"') {
            wr_buf_addc(b, '\\');
            wr_buf_addc(b, *p);
        } else if (*p == '\n') {
            wr_buf_add(b, "\\n");
        } else {
            wr_buf_addc(b, *p);
        }
    }
}

void wr_metrics_sample(struct wr_buf *b, const char *name, double value, ...)
{
    va_list ap;
    const char *k;
    bool first = true;
    wr_buf_add(b, name);
    va_start(ap, value);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        wr_buf_addf(b, "%s%s=\"", first ? "{" : ",", k);
        add_label_value(b, v ? v : "");
        wr_buf_addc(b, '"');
        first = false;
    }
    va_end(ap);
    /* %.17g keeps integers exact up to 2^53 and prints them without a fraction. */
    wr_buf_addf(b, "%s %.17g\n", first ? "" : "}", value);
}

void wr_metrics_family(struct wr_buf *b, const char *name, const char *type, const char *help)
{
    wr_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void wr_metrics_format(struct wr_buf *b)
{
    wr_metrics_family(
        b, "weir_events_received_total", "counter",
        "Events received, by trigger and outcome (accepted, unmatched, duplicate, rejected, "
        "failed).");
    for (struct series *s = events; s; s = s->next) {
        wr_metrics_sample(b, "weir_events_received_total", (double)s->count, "trigger", s->a,
                          "outcome", s->b, NULL);
    }
    wr_metrics_family(b, "weir_runs_finished_total", "counter",
                      "Runs this process carried to their end, by workflow and final status.");
    for (struct series *s = runs_finished; s; s = s->next) {
        wr_metrics_sample(b, "weir_runs_finished_total", (double)s->count, "workflow", s->a,
                          "status", s->b, NULL);
    }
    wr_metrics_family(b, "weir_guard_trips_total", "counter",
                      "Times the mass-change brake tripped (a run held while none was).");
    wr_metrics_sample(b, "weir_guard_trips_total", (double)guard_trips, NULL);
    wr_metrics_family(b, "weir_step_duration_seconds", "histogram",
                      "Duration of step attempts (actions and scripts), by workflow and action.");
    for (struct series *s = steps; s; s = s->next) {
        uint64_t cum = 0;
        char le[32];
        for (size_t i = 0; i < NBUCKETS; i++) {
            cum += s->buckets[i];
            snprintf(le, sizeof(le), "%g", bucket_le[i]);
            wr_metrics_sample(b, "weir_step_duration_seconds_bucket", (double)cum, "workflow", s->a,
                              "action", s->b, "le", le, NULL);
        }
        wr_metrics_sample(b, "weir_step_duration_seconds_bucket", (double)s->count, "workflow",
                          s->a, "action", s->b, "le", "+Inf", NULL);
        wr_metrics_sample(b, "weir_step_duration_seconds_sum", s->sum, "workflow", s->a, "action",
                          s->b, NULL);
        wr_metrics_sample(b, "weir_step_duration_seconds_count", (double)s->count, "workflow", s->a,
                          "action", s->b, NULL);
    }
    wr_metrics_family(b, "weir_trigger_polls_total", "counter",
                      "Rounds of the directory triggers (Graph reads), by trigger kind, workflow "
                      "and outcome (ok, failed).");
    for (struct poll_series *s = polls; s; s = s->next) {
        wr_metrics_sample(b, "weir_trigger_polls_total", (double)s->ok, "trigger", s->a, "workflow",
                          s->b, "outcome", "ok", NULL);
        wr_metrics_sample(b, "weir_trigger_polls_total", (double)s->failed, "trigger", s->a,
                          "workflow", s->b, "outcome", "failed", NULL);
    }
    wr_metrics_family(b, "weir_trigger_last_poll_success_timestamp_seconds", "gauge",
                      "When a directory trigger's last good round ended (Unix time; 0: none yet).");
    for (struct poll_series *s = polls; s; s = s->next) {
        wr_metrics_sample(b, "weir_trigger_last_poll_success_timestamp_seconds",
                          (double)s->last_ok_ms / 1000.0, "trigger", s->a, "workflow", s->b, NULL);
    }
    wr_metrics_family(b, "weir_trigger_last_poll_duration_seconds", "gauge",
                      "How long a directory trigger's last round took, Graph reads and the "
                      "commit of what it found included.");
    for (struct poll_series *s = polls; s; s = s->next) {
        wr_metrics_sample(b, "weir_trigger_last_poll_duration_seconds", (double)s->took_ms / 1000.0,
                          "trigger", s->a, "workflow", s->b, NULL);
    }
    wr_metrics_family(b, "weir_trigger_graph_pages_total", "counter",
                      "Graph pages the directory triggers read, by trigger kind and workflow.");
    for (struct poll_series *s = polls; s; s = s->next) {
        wr_metrics_sample(b, "weir_trigger_graph_pages_total", (double)s->pages, "trigger", s->a,
                          "workflow", s->b, NULL);
    }
    wr_metrics_family(b, "weir_trigger_users_pending", "gauge",
                      "Users a directory trigger found due later and waits to fire for.");
    for (struct poll_series *s = polls; s; s = s->next) {
        wr_metrics_sample(b, "weir_trigger_users_pending", (double)s->pending, "trigger", s->a,
                          "workflow", s->b, NULL);
    }
}

static void clear_list(struct series **list)
{
    while (*list) {
        struct series *s = *list;
        *list = s->next;
        free(s->a);
        free(s->b);
        free(s);
    }
}

void wr_metrics_clear(void)
{
    clear_list(&events);
    clear_list(&runs_finished);
    clear_list(&steps);
    guard_trips = 0;
    while (polls) {
        struct poll_series *s = polls;
        polls = s->next;
        free_poll(s);
    }
}
