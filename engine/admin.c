/*
 * admin — the admin API's listener and routes; see admin.h.
 *
 * Every handler answers on the spot: the queries are short reads (and, for retry and cancel,
 * one short write transaction) on the admin's own SQLite connection, like the executor's
 * polling reads. The one exception is /readyz, which may wait (at most 2 s) for a probe
 * committed through the journal's writer: readiness is a real write, not a read.
 */
#include "engine/admin.h"

#include <arpa/inet.h>
#include <limits.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/console/console.h"
#include "engine/net/fail_limit.h"
#include "engine/net/http_guard.h"
#include "engine/net/http_reply.h"
#include "engine/net/listener.h"
#include "engine/base/duration.h"
#include "engine/graph/graph.h"
#include "engine/store/approval.h"
#include "engine/exec/undo.h"
#include "engine/store/held.h"
#include "engine/store/history.h"
#include "engine/base/json.h"
#include "engine/store/journal.h"
#include "engine/base/log.h"
#include "engine/base/metrics.h"
#include "engine/exec/run.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "triggers/trigger.h"

struct wr_admin {
    struct event_base *base;
    /* the evhttp behind its guard (limits: connections, deadlines, sizes) */
    struct wr_listener *listener;
    struct wr_db *db; /* the admin's own connection: reads, and retry/cancel writes */
    struct wr_journal *journal;
    struct wr_graph *graph;
    struct wr_directory *dir; /* the scope previews' directory lookups, or NULL */
    char *base_dir;           /* weir.yaml's directory, for the previews, or NULL */
    struct wr_runner *runner;
    const struct wr_workflow_set *set;
    bool has_token;
    bool stopping;
    struct probe *probe;            /* /readyz's journal probe in flight, or NULL */
    unsigned char token_digest[32]; /* SHA-256 of the token: compared, never the token */
    struct wr_console *console;     /* /ui/, sessions, CSRF, /api/workflows, /api/health */
    struct wr_fail_limit *fails;    /* failed sign-ins per address (with a token only) */
    char *state_path;               /* the journal's file: for the trigger kinds' next_due */
};

/* {====== replies ====== */

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *type,
                       const char *text)
{
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evbuffer_add(out, text, strlen(text));
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

/* A history error as an HTTP answer. */
static void reply_history_error(struct evhttp_request *req, int rc, const char *err)
{
    switch (rc) {
    case WR_HISTORY_ENOTFOUND:
        wr_http_reply_error(req, 404, "Not Found", "%s", err);
        break;
    case WR_HISTORY_EAMBIGUOUS:
        wr_http_reply_error(req, 400, "Bad Request", "%s", err);
        break;
    case WR_HISTORY_ESTATE:
        wr_http_reply_error(req, 409, "Conflict", "%s", err);
        break;
    default:
        wr_log(WR_LOG_ERROR, "admin API: the store cannot be read", "error", err, NULL);
        wr_http_reply_error(req, 500, "Internal Server Error", "%s", err);
        break;
    }
}

/* }====== */

/* {====== parameters ====== */

/* The most query parameters a route takes, and the longest value a message repeats. */
#define MAX_PARAMS 12
#define ECHO_MAX   64

/* One query parameter, percent-decoded. */
struct param {
    char *key, *value;
};

struct params {
    struct param p[MAX_PARAMS];
    size_t n;
};

static void params_clear(struct params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->p[i].key);
        free(ps->p[i].value);
    }
    ps->n = 0;
}

static int hexdig(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/*
 * Percent-decodes s[0..len) once (and '+' into a space when plus: the query's form encoding)
 * into an owned string. NULL with a message in err for a '%' not followed by two hex digits,
 * a control character (NUL included: "hr%00x" must not become "hr") or text that is not UTF-8.
 */
static char *decode(const char *s, size_t len, bool plus, const char *what, char *err,
                    size_t errlen)
{
    char *out = wr_xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexdig(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexdig(s[i + 2]) : -1;
            if (lo < 0) {
                snprintf(err, errlen, "%s: '%%' must be followed by two hex digits", what);
                free(out);
                return NULL;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(err, errlen,
                     "%s: control character 0x%02x (NUL and other control characters "
                     "are refused)",
                     what, c);
            free(out);
            return NULL;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    if (!wr_utf8_valid(out, n)) {
        snprintf(err, errlen, "%s: not UTF-8 once percent-decoded", what);
        free(out);
        return NULL;
    }
    return out;
}

/*
 * Splits the query string (NULL: none) into ps, each key and value percent-decoded once.
 * Refuses (answering 400; -1) a malformed escape, control characters, a key given twice and
 * more than MAX_PARAMS parameters. Empty pieces ("a=1&&b=2") are skipped.
 */
static int parse_params(struct evhttp_request *req, const char *query, struct params *ps)
{
    char err[WR_ERR_MAX];
    ps->n = 0;
    for (const char *q = query; q && *q;) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (len == 0) {
            q++;
            continue;
        }
        if (ps->n == MAX_PARAMS) {
            wr_http_reply_error(req, 400, "Bad Request", "more than %d query parameters",
                                MAX_PARAMS);
            goto bad;
        }
        char *key = decode(q, klen, true, "a query parameter's name", err, sizeof(err));
        char *value = key ? decode(eq ? eq + 1 : q + len, eq ? len - klen - 1 : 0, true, key, err,
                                   sizeof(err))
                          : NULL;
        if (!value) {
            free(key);
            wr_http_reply_error(req, 400, "Bad Request", "%s", err);
            goto bad;
        }
        for (size_t i = 0; i < ps->n; i++) {
            if (strcmp(ps->p[i].key, key) == 0) {
                char *shown = wr_text_cap(key, ECHO_MAX);
                wr_http_reply_error(req, 400, "Bad Request", "query parameter '%s' given twice",
                                    shown);
                free(shown);
                free(key);
                free(value);
                goto bad;
            }
        }
        ps->p[ps->n].key = key;
        ps->p[ps->n].value = value;
        ps->n++;
        q += len;
    }
    return 0;
bad:
    params_clear(ps);
    return -1;
}

/* }====== */

/* {====== probes ====== */

/* How recent the journal's last commit must be for /readyz to take it as the answer; older,
   /readyz commits a probe first (so probes cost at most one small commit a second). */
#define READYZ_FRESH_MS 1000
/* A probe that has not committed by then is an answer too: the journal is stuck. */
#define READYZ_PROBE_TIMEOUT_MS 2000

/*
 * /readyz requests waiting for one journal probe. The admin may be freed while the probe is in
 * flight (the daemon stopping): then `a` is NULL and the waiting requests are evhttp's to drop.
 */
struct probe {
    struct wr_admin *a;
    struct evhttp_request **reqs;
    size_t n;
    struct event *timer;
    bool timed_out;
};

/* Whether the store answers a read; a message in err when not. */
static bool journal_ok(struct wr_admin *a, char *err, size_t errlen)
{
    return wr_history_readable(a->db, err, errlen);
}

/* The answer, from the journal's health as it is now (stuck: a probe timed out). */
/* One directory trigger's last round under /readyz's checks.polls: "ok" or Graph's answer. */
static void add_poll_check(void *arg, const char *trigger, const char *workflow, bool ok,
                           int64_t last_ok_ms, const char *error)
{
    char name[512];
    (void)last_ok_ms;
    snprintf(name, sizeof(name), "%s %s", trigger, workflow);
    json_object_object_add(arg, name, json_object_new_string(ok ? "ok" : error));
}

static void readyz_answer(struct wr_admin *a, struct evhttp_request *req, bool stuck)
{
    char err[WR_ERR_MAX];
    struct json_object *checks = json_object_new_object();
    struct wr_buf why = {0};
    struct wr_journal_health h = {.ok = true};
    if (a->journal) {
        wr_journal_get_health(a->journal, &h);
    }
    if (stuck) {
        snprintf(err, sizeof(err), "a commit has not completed within %d ms (a stuck disk?)",
                 READYZ_PROBE_TIMEOUT_MS);
    } else if (!h.ok) {
        wr_errf_marked(err, sizeof(err), "%s", h.error);
    }
    if (!stuck && h.ok && journal_ok(a, err, sizeof(err))) {
        json_object_object_add(checks, "journal", json_object_new_string("ok"));
    } else {
        json_object_object_add(checks, "journal", json_object_new_string(err));
        wr_buf_addf(&why, "journal: %s", err);
    }
    if (a->set && a->set->count > 0) {
        json_object_object_add(checks, "workflows", json_object_new_string("ok"));
    } else {
        json_object_object_add(checks, "workflows", json_object_new_string("none loaded"));
        wr_buf_addf(&why, "%sworkflows: none loaded", why.len ? "; " : "");
    }
    if (a->stopping) {
        wr_buf_addf(&why, "%sstopping", why.len ? "; " : "");
    }
    if (a->graph) {
        int ts = wr_graph_token_status(a->graph, err, sizeof(err));
        json_object_object_add(checks, "graph", json_object_new_string(ts > 0 ? "ok" : err));
        if (ts <= 0) {
            wr_buf_addf(&why, "%sgraph: %s", why.len ? "; " : "", err);
        }
    } else {
        json_object_object_add(checks, "graph", json_object_new_string("off (--ingest-only)"));
    }
    /* The directory triggers' last rounds: detail, not readiness (webhooks are still taken
       while Graph refuses a poll; the next round tries again). */
    struct json_object *polls = json_object_new_object();
    wr_metrics_poll_each(add_poll_check, polls);
    if (json_object_object_length(polls) > 0) {
        json_object_object_add(checks, "polls", polls);
    } else {
        json_object_put(polls);
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(why.len ? "not ready" : "ready"));
    json_object_object_add(o, "checks", checks);
    if (why.len) {
        json_object_object_add(o, "error", json_object_new_string(wr_buf_str(&why)));
        wr_http_reply_json(req, 503, "Service Unavailable", o);
    } else {
        wr_http_reply_json(req, 200, "OK", o);
    }
    wr_buf_free(&why);
}

/* Answers every request waiting for p and detaches it from its admin. */
static void probe_answer_all(struct probe *p, bool stuck)
{
    struct wr_admin *a = p->a;
    for (size_t i = 0; a && i < p->n; i++) {
        readyz_answer(a, p->reqs[i], stuck);
    }
    p->n = 0;
    if (a && a->probe == p) {
        a->probe = NULL;
    }
    if (p->timer) {
        event_free(p->timer);
        p->timer = NULL;
    }
}

static void on_probe_done(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct probe *p = arg;
    (void)b;
    (void)rc;
    (void)error; /* the journal's health has the outcome */
    if (!p->timed_out) {
        probe_answer_all(p, false);
    }
    free(p->reqs);
    free(p);
}

static void on_probe_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct probe *p = arg;
    (void)fd;
    (void)what;
    /* The probe stays queued in the journal and frees itself when it completes. */
    p->timed_out = true;
    probe_answer_all(p, true);
}

/*
 * /readyz: the journal's readiness is a real commit. A commit group that ended in the last
 * READYZ_FRESH_MS (traffic, or an earlier probe) answers at once; otherwise the request waits
 * for a probe (shared with every /readyz arriving meanwhile), at most READYZ_PROBE_TIMEOUT_MS.
 */
static void on_readyz(struct wr_admin *a, struct evhttp_request *req)
{
    struct wr_journal_health h;
    if (!a->journal || a->stopping) {
        readyz_answer(a, req, false);
        return;
    }
    wr_journal_get_health(a->journal, &h);
    if (h.checked_mono >= wr_clock_mono_ms() - READYZ_FRESH_MS) {
        readyz_answer(a, req, false);
        return;
    }
    if (!a->probe) {
        struct probe *p = wr_xcalloc(1, sizeof(*p));
        p->a = a;
        p->timer = evtimer_new(a->base, on_probe_timeout, p);
        if (!p->timer || wr_journal_probe(a->journal, on_probe_done, p) != 0) {
            if (p->timer) {
                event_free(p->timer);
            }
            free(p);
            readyz_answer(a, req, false); /* the journal is closing */
            return;
        }
        struct timeval tv = {READYZ_PROBE_TIMEOUT_MS / 1000,
                             (READYZ_PROBE_TIMEOUT_MS % 1000) * 1000};
        evtimer_add(p->timer, &tv);
        a->probe = p;
    }
    struct probe *p = a->probe;
    p->reqs = wr_xrealloc(p->reqs, (p->n + 1) * sizeof(*p->reqs));
    p->reqs[p->n++] = req;
}

/* }====== */

/* {====== /metrics ====== */

static void counter(struct wr_buf *b, const char *name, const char *help, double v)
{
    wr_metrics_family(b, name, "counter", help);
    wr_metrics_sample(b, name, v, NULL);
}

static void gauge(struct wr_buf *b, const char *name, const char *help, double v)
{
    wr_metrics_family(b, name, "gauge", help);
    wr_metrics_sample(b, name, v, NULL);
}

static void runs_sample(void *arg, const char *workflow, const char *status, int64_t n)
{
    wr_metrics_sample(arg, "weir_runs", (double)n, "workflow", workflow, "status", status, NULL);
}

/* weir_runs{workflow,status}: what the store holds now, read at scrape time. */
static void runs_by_state(struct wr_admin *a, struct wr_buf *b)
{
    char err[WR_ERR_MAX];
    wr_metrics_family(b, "weir_runs", "gauge", "Runs in the store, by workflow and status.");
    if (wr_history_count_by_state(a->db, runs_sample, b, err, sizeof(err)) != 0) {
        wr_log(WR_LOG_WARN, "metrics: cannot count runs", "error", err, NULL);
    }
}

static void on_metrics(struct wr_admin *a, struct evhttp_request *req)
{
    struct wr_buf b = {0};
    wr_metrics_format(&b);
    runs_by_state(a, &b);
    gauge(&b, "weir_runs_in_progress", "Runs executing in this process now.",
          (double)wr_runner_active(a->runner));
    int64_t held = 0;
    char herr[WR_ERR_MAX];
    if (wr_held_count(a->db, &held, herr, sizeof(herr)) == 0) {
        gauge(&b, "weir_guard_held_runs",
              "Runs the mass-change brake holds now (weir held); the brake is on while any is.",
              (double)held);
    }
    int64_t pending = wr_approval_count_pending(a->db, wr_clock_wall_ms());
    if (pending >= 0) {
        gauge(&b, "weir_approvals_pending",
              "Approval requests waiting for a decision (not decided, not expired).",
              (double)pending);
    }
    gauge(&b, "weir_workflows_loaded", "Workflows in the set being served.",
          a->set ? (double)a->set->count : 0);

    struct wr_journal_stats js;
    wr_journal_get_stats(a->journal, &js);
    counter(&b, "weir_journal_commits_total", "Journal transactions committed (each one fsync).",
            (double)js.commits);
    counter(&b, "weir_journal_batches_total", "Batches committed (events and run state changes).",
            (double)js.batches);
    counter(&b, "weir_journal_events_total", "Events committed to the journal.", (double)js.events);
    gauge(&b, "weir_journal_max_group_batches", "The most batches one commit has carried.",
          (double)js.max_group);
    struct wr_journal_health jh;
    wr_journal_get_health(a->journal, &jh);
    gauge(&b, "weir_journal_up",
          "1 when the last journal commit was made durable, 0 while commits fail.", jh.ok ? 1 : 0);
    counter(&b, "weir_journal_failed_commits_total",
            "Journal commits that failed (nothing of them stored; their events answered 503).",
            (double)jh.failed_commits);
    wr_buf_add(&b, "# HELP weir_journal_commit_seconds Journal commit latency, fsync included.\n"
                   "# TYPE weir_journal_commit_seconds histogram\n");
    for (int k = 0; k < 8; k++) {
        if (wr_journal_commit_bounds_us[k] == UINT64_MAX) {
            wr_buf_addf(&b, "weir_journal_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
                        (unsigned long long)js.commit_le[k]);
        } else {
            wr_buf_addf(&b, "weir_journal_commit_seconds_bucket{le=\"%g\"} %llu\n",
                        (double)wr_journal_commit_bounds_us[k] / 1e6,
                        (unsigned long long)js.commit_le[k]);
        }
    }
    wr_buf_addf(&b, "weir_journal_commit_seconds_sum %g\nweir_journal_commit_seconds_count %llu\n",
                (double)js.commit_us_sum / 1e6, (unsigned long long)js.commits);

    if (a->graph) {
        struct wr_graph_stats gs;
        wr_graph_get_stats(a->graph, &gs);
        counter(&b, "weir_graph_requests_total", "Graph requests made by actions and lookups.",
                (double)gs.requests);
        counter(&b, "weir_graph_http_requests_total",
                "HTTP transfers to Graph (a $batch is one; token calls excluded).",
                (double)gs.http_requests);
        counter(&b, "weir_graph_batches_total", "$batch transfers.", (double)gs.batches);
        counter(&b, "weir_graph_batch_items_total", "Requests sent inside a $batch.",
                (double)gs.batch_items);
        counter(&b, "weir_graph_retries_total", "HTTP attempts after the first.",
                (double)gs.retries);
        counter(&b, "weir_graph_throttled_total", "429 answers from Graph.", (double)gs.throttled);
        counter(&b, "weir_graph_token_fetches_total", "Calls to the token endpoint.",
                (double)gs.token_fetches);
        counter(&b, "weir_graph_paced_total", "Writes that waited for the pacing bucket.",
                (double)gs.paced);
        counter(&b, "weir_graph_retry_after_wait_seconds_total",
                "Time spent waiting as Retry-After asked.", (double)gs.retry_wait_ms / 1000.0);
        static const char *const classes[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
        wr_buf_add(&b, "# HELP weir_graph_results_total Graph requests by the status class of "
                       "their final answer (none: no HTTP answer).\n"
                       "# TYPE weir_graph_results_total counter\n");
        for (int k = 0; k < 6; k++) {
            wr_buf_addf(&b, "weir_graph_results_total{status=\"%s\"} %llu\n", classes[k],
                        (unsigned long long)gs.by_class[k]);
        }
    }
    reply_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", wr_buf_str(&b));
    wr_buf_free(&b);
}

/* }====== */

/* {====== /api/runs ====== */

/* Answers 400 naming the parameter and the value it got (cut when long). */
static void bad_param(struct evhttp_request *req, const char *key, const char *value,
                      const char *expected)
{
    char *shown = wr_text_cap(value, ECHO_MAX);
    wr_http_reply_error(req, 400, "Bad Request", "%s: expected %s, got '%s'", key, expected, shown);
    free(shown);
}

/* A duration parameter (since, until) into *ms; false after answering 400. */
static bool duration_param(struct evhttp_request *req, const char *k, const char *v, int64_t *ms)
{
    char err[WR_ERR_MAX];
    if (wr_duration_parse(v, ms, err, sizeof(err)) != 0) {
        bad_param(req, k, v, "a duration such as 30m, 2h or 7d");
        return false;
    }
    return true;
}

/*
 * GET /api/runs: a page of run summaries, newest first, as {"runs": [...], "limit": N,
 * "max_limit": WR_HISTORY_MAX_LIMIT, "next_cursor": "..." or null, "next_before": the same,
 * "counts": {status: n, ...}}. Filters: workflow, status, since and until (durations: created
 * within / more than that ago), trigger (a kind), q (text in the run id, event id, concurrency
 * key or user); counts are over the same filters but status. A limit over the cap is served as
 * the cap (the answer says so); cursor (or before, its other name) continues after an earlier
 * page. An empty until, before, trigger or q is as if the parameter were not given.
 */
static void on_list(struct wr_admin *a, struct evhttp_request *req, const char *query)
{
    struct params ps;
    struct wr_history_filter f = {0};
    struct json_object *list = NULL, *counts = NULL;
    char err[WR_ERR_MAX], next[WR_HISTORY_CURSOR_MAX];
    const char *cursor_key = NULL;

    if (parse_params(req, query, &ps) != 0) {
        return;
    }
    f.limit = WR_HISTORY_DEFAULT_LIMIT;
    for (size_t i = 0; i < ps.n; i++) {
        const char *k = ps.p[i].key, *v = ps.p[i].value;
        /* The console's filters: an empty field is no filter. (The older parameters keep
           their answers: an empty limit, status or since is a 400.) */
        bool console_filter = strcmp(k, "until") == 0 || strcmp(k, "before") == 0 ||
                              strcmp(k, "trigger") == 0 || strcmp(k, "q") == 0;
        if (console_filter && !*v) {
            continue;
        }
        if (strcmp(k, "workflow") == 0) {
            f.workflow = v;
        } else if (strcmp(k, "status") == 0) {
            if (!wr_history_status_valid(v)) {
                bad_param(
                    req, k, v,
                    "a run status (queued, running, retrying, waiting, held, succeeded, failed, "
                    "succeeded_with_errors, cancelled)");
                goto out;
            }
            f.status = v;
        } else if (strcmp(k, "since") == 0) {
            if (!duration_param(req, k, v, &f.since_ms)) {
                goto out;
            }
        } else if (strcmp(k, "until") == 0) {
            if (!duration_param(req, k, v, &f.until_ms)) {
                goto out;
            }
        } else if (strcmp(k, "trigger") == 0) {
            if (strlen(v) > 64 ||
                strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(v)) {
                bad_param(req, k, v, "a trigger kind (lowercase letters, digits and dashes)");
                goto out;
            }
            f.trigger = v;
        } else if (strcmp(k, "q") == 0) {
            if (strlen(v) > 256) {
                bad_param(req, k, v, "a text of at most 256 bytes");
                goto out;
            }
            f.text = v;
        } else if (strcmp(k, "limit") == 0) {
            /* Digits only; anything above the cap is the cap. */
            size_t n = strspn(v, "0123456789");
            long long lim = n > 0 && n <= 18 && !v[n] ? atoll(v) : n > 18 && !v[n] ? LLONG_MAX : 0;
            if (lim < 1) {
                char expected[96];
                snprintf(expected, sizeof(expected),
                         "a whole number of runs from 1 (a page holds at most %d)",
                         WR_HISTORY_MAX_LIMIT);
                bad_param(req, k, v, expected);
                goto out;
            }
            f.limit = lim > WR_HISTORY_MAX_LIMIT ? WR_HISTORY_MAX_LIMIT : (int)lim;
        } else if (strcmp(k, "cursor") == 0 || strcmp(k, "before") == 0) {
            if (cursor_key) {
                wr_http_reply_error(req, 400, "Bad Request",
                                    "give one of cursor and before (they are the same)");
                goto out;
            }
            cursor_key = k;
            if (!wr_history_cursor_valid(v)) {
                bad_param(req, k, v, "the next_cursor (next_before) of an earlier page");
                goto out;
            }
            f.cursor = v;
        } else {
            char *shown = wr_text_cap(k, ECHO_MAX);
            wr_http_reply_error(req, 400, "Bad Request",
                                "unknown query parameter '%s' (use workflow, status, trigger, q, "
                                "since, until, limit, cursor or before)",
                                shown);
            free(shown);
            goto out;
        }
    }
    int64_t now = wr_clock_wall_ms();
    int rc = wr_history_list_page(a->db, &f, now, &list, next, sizeof(next), err, sizeof(err));
    if (rc == 0) {
        rc = wr_history_count_matching(a->db, &f, now, &counts, err, sizeof(err));
    }
    if (rc != 0) {
        json_object_put(list);
        reply_history_error(req, rc, err);
        goto out;
    }
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        wr_history_annotate(json_object_array_get_idx(list, i), a->set);
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "runs", list);
    json_object_object_add(o, "limit", json_object_new_int(f.limit));
    json_object_object_add(o, "max_limit", json_object_new_int(WR_HISTORY_MAX_LIMIT));
    json_object_object_add(o, "next_cursor", next[0] ? json_object_new_string(next) : NULL);
    json_object_object_add(o, "next_before", next[0] ? json_object_new_string(next) : NULL);
    json_object_object_add(o, "counts", counts);
    wr_http_reply_json(req, 200, "OK", o);
out:
    params_clear(&ps);
}

/*
 * Which of POST /api/runs/ID/{retry,cancel,undo,approve,reject} run (a shown run, annotated;
 * borrowed) would take now, as an owned array of those names: retry a failed or
 * succeeded_with_errors run; cancel one not finished; undo a finished one whose reverse plan
 * has steps (not an undo itself); approve and reject one with an approval request open and not
 * expired.
 */
static struct json_object *allowed_actions(struct wr_admin *a, struct json_object *run,
                                           const char *id)
{
    struct json_object *v = NULL, *list = json_object_new_array();
    char err[WR_ERR_MAX];
    const char *status =
        json_object_object_get_ex(run, "status", &v) ? json_object_get_string(v) : "";
    const char *workflow =
        json_object_object_get_ex(run, "workflow", &v) ? json_object_get_string(v) : "";
    bool failed = strcmp(status, "failed") == 0 || strcmp(status, "succeeded_with_errors") == 0;
    bool finished = failed || strcmp(status, "succeeded") == 0 || strcmp(status, "cancelled") == 0;
    if (failed) {
        json_object_array_add(list, json_object_new_string("retry"));
    }
    if (!finished) {
        json_object_array_add(list, json_object_new_string("cancel"));
    }
    if (finished && strcmp(workflow, WR_UNDO_WORKFLOW) != 0) {
        struct json_object *plan = wr_undo_plan(run);
        if (json_object_array_length(json_object_object_get(plan, "steps")) > 0) {
            json_object_array_add(list, json_object_new_string("undo"));
        }
        json_object_put(plan);
    }
    struct wr_approval ap = {0};
    if (!finished && wr_approval_open_for_run(a->db, id, &ap, err, sizeof(err)) == 1 &&
        !ap.decision && ap.expires_at > wr_clock_wall_ms()) {
        json_object_array_add(list, json_object_new_string("approve"));
        json_object_array_add(list, json_object_new_string("reject"));
    }
    wr_approval_clear(&ap);
    return list;
}

/* GET /api/runs/ID: the run as wr_history_show reads it, annotated, with "actions". */
static void on_show(struct wr_admin *a, struct evhttp_request *req, const char *id)
{
    struct json_object *run = NULL;
    char err[WR_ERR_MAX];
    int rc = wr_history_show(a->db, id, &run, err, sizeof(err));
    if (rc != 0) {
        reply_history_error(req, rc, err);
        return;
    }
    wr_history_annotate(run, a->set);
    json_object_object_add(run, "actions", allowed_actions(a, run, id));
    wr_http_reply_json(req, 200, "OK", run);
}

/* `?same_version=true|1` (or nothing); -1 after answering 400. */
static int same_version_param(struct evhttp_request *req, const char *query)
{
    struct params ps;
    int rc = 0;
    if (parse_params(req, query, &ps) != 0) {
        return -1;
    }
    for (size_t i = 0; i < ps.n && rc >= 0; i++) {
        const char *k = ps.p[i].key, *v = ps.p[i].value;
        if (strcmp(k, "same_version") != 0) {
            char *shown = wr_text_cap(k, ECHO_MAX);
            wr_http_reply_error(req, 400, "Bad Request",
                                "unknown query parameter '%s' (retry takes same_version)", shown);
            free(shown);
            rc = -1;
        } else if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
            rc = 1;
        } else if (strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
            bad_param(req, k, v, "true or false");
            rc = -1;
        }
    }
    params_clear(&ps);
    return rc;
}

/*
 * Before and after a write on the admin's own connection: whether the journal can keep it. Its
 * connection, opened at start, would commit into a removed state file and say it succeeded.
 * False when not, with the 503 sent.
 */
static bool journal_writable(struct wr_admin *a, struct evhttp_request *req, bool after)
{
    char err[WR_ERR_MAX];
    if (!a->journal) {
        return true;
    }
    if (wr_journal_intact(a->journal, err, sizeof(err))) {
        if (after || wr_journal_ok(a->journal)) {
            return true;
        }
        struct wr_journal_health h;
        wr_journal_get_health(a->journal, &h);
        wr_errf_marked(err, sizeof(err), "%s", h.error);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
    wr_http_reply_error(req, 503, "Service Unavailable", "%sthe journal cannot store it: %s",
                        after ? "not stored: " : "", err);
    return false;
}

static void on_retry(struct wr_admin *a, struct evhttp_request *req, const char *id,
                     const char *query)
{
    struct json_object *run = NULL;
    char err[WR_ERR_MAX];
    int same = same_version_param(req, query);
    if (same < 0) {
        return;
    }
    if (!journal_writable(a, req, false)) {
        return;
    }
    int rc = wr_history_retry(a->db, id, same == 1, wr_clock_wall_ms(), &run, err, sizeof(err));
    if (rc != 0) {
        reply_history_error(req, rc, err);
        return;
    }
    if (!journal_writable(a, req, true)) {
        json_object_put(run);
        return;
    }
    wr_log(WR_LOG_INFO, "run queued again by the admin API", "run",
           json_object_get_string(json_object_object_get(run, "id")), NULL);
    wr_history_annotate(run, a->set);
    wr_http_reply_json(req, 200, "OK", run);
    if (a->runner) {
        wr_runner_kick(a->runner); /* the executor picks it up now rather than at its next poll */
    }
}

static void on_cancel(struct wr_admin *a, struct evhttp_request *req, const char *id,
                      const char *query)
{
    struct json_object *run = NULL;
    char err[WR_ERR_MAX];
    if (query && *query) {
        wr_http_reply_error(req, 400, "Bad Request", "cancel takes no query parameters");
        return;
    }
    if (!journal_writable(a, req, false)) {
        return;
    }
    int rc = wr_history_cancel(a->db, id, wr_clock_wall_ms(), &run, err, sizeof(err));
    if (rc != 0) {
        reply_history_error(req, rc, err);
        return;
    }
    if (!journal_writable(a, req, true)) {
        json_object_put(run);
        return;
    }
    wr_log(WR_LOG_INFO, "run cancelled by the admin API", "run",
           json_object_get_string(json_object_object_get(run, "id")), NULL);
    wr_history_annotate(run, a->set);
    wr_http_reply_json(req, 200, "OK", run);
}

/* {====== held runs: the guard's brake ====== */

static void on_held_list(struct wr_admin *a, struct evhttp_request *req)
{
    struct json_object *list = NULL;
    char err[WR_ERR_MAX];
    int rc = wr_held_list(a->db, &list, err, sizeof(err));
    if (rc != 0) {
        reply_history_error(req, rc, err);
        return;
    }
    struct json_object *grouped = wr_held_group(list, a->set);
    json_object_put(list);
    wr_http_reply_json(req, 200, "OK", grouped);
}

/*
 * The request's body as a JSON object (owned) into *out; false after answering 400 when it is
 * not one.
 */
static bool json_body(struct evhttp_request *req, struct json_object **out)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *text = len ? (const char *)evbuffer_pullup(in, -1) : "";
    struct wr_json_error why = {0};
    *out = NULL;
    if (!len || wr_json_parse(text, len, NULL, out, &why) != 0 ||
        !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        wr_http_reply_error(req, 400, "Bad Request", "expected a JSON object body%s%s",
                            why.msg[0] ? ": " : "", why.msg);
        return false;
    }
    return true;
}

/* POST /api/held/release | /reject with {"runs": [ids]} or {"all": true} (and "reason"). */
static void on_held_decide(struct wr_admin *a, struct evhttp_request *req, bool release)
{
    struct json_object *body = NULL, *runs = NULL, *all = NULL, *reason = NULL, *done = NULL;
    char err[WR_ERR_MAX];
    if (!json_body(req, &body)) {
        return;
    }
    json_object_object_get_ex(body, "runs", &runs);
    json_object_object_get_ex(body, "all", &all);
    json_object_object_get_ex(body, "reason", &reason);
    bool every = all && json_object_get_boolean(all);
    size_t n =
        runs && json_object_is_type(runs, json_type_array) ? json_object_array_length(runs) : 0;
    if ((runs && !json_object_is_type(runs, json_type_array)) || (every == (n > 0)) ||
        (reason && !json_object_is_type(reason, json_type_string))) {
        wr_http_reply_error(req, 400, "Bad Request",
                            "expected {\"runs\": [RUN ids]} or {\"all\": true}%s",
                            release ? "" : ", and an optional \"reason\" string");
        json_object_put(body);
        return;
    }
    const char **ids = wr_xcalloc(n + 1, sizeof(*ids));
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        struct json_object *v = json_object_array_get_idx(runs, i);
        ok = ok && json_object_is_type(v, json_type_string);
        ids[i] = json_object_get_string(v);
    }
    if (!ok) {
        wr_http_reply_error(req, 400, "Bad Request", "runs: expected full run ids (strings)");
    } else if (journal_writable(a, req, false)) {
        int rc = wr_held_decide(a->db, ids, n, every, release, "the admin API",
                                reason ? json_object_get_string(reason) : NULL, wr_clock_wall_ms(),
                                &done, err, sizeof(err));
        if (rc != 0) {
            reply_history_error(req, rc, err);
        } else {
            struct json_object *o = json_object_new_object();
            json_object_object_add(o, release ? "released" : "rejected", done);
            wr_log(WR_LOG_INFO,
                   release ? "held runs released by the admin API"
                           : "held runs rejected by the admin API",
                   "runs", json_object_to_json_string_ext(done, JSON_C_TO_STRING_PLAIN), NULL);
            wr_http_reply_json(req, 200, "OK", o); /* o taken */
            if (a->runner) {
                wr_runner_kick(a->runner);
            }
        }
    }
    free(ids);
    json_object_put(body);
}

/*
 * POST /api/runs/ID/approve|reject, body {"as": NAME, "reason": TEXT (optional)}: decides the
 * run's open approval request as NAME. 200 {run, step_idx, decision, by}; 404 no open request;
 * 409 already decided; 410 expired; 400 a bad body.
 */
static void on_decide(struct wr_admin *a, struct evhttp_request *req, const char *id,
                      const char *query, bool approve)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    struct json_object *body = NULL, *v;
    struct wr_json_error jerr;
    struct wr_json_opts jopts = {.what = "the body"};
    struct wr_approval ap = {0};
    const char *as = NULL, *reason = NULL;
    char err[WR_ERR_MAX];

    if (query && *query) {
        wr_http_reply_error(req, 400, "Bad Request", "%s takes no query parameters",
                            approve ? "approve" : "reject");
        return;
    }
    const char *text = len ? (const char *)evbuffer_pullup(in, -1) : "";
    bool parsed = wr_json_parse(text, len, &jopts, &body, &jerr) == 0;
    if (!parsed || !json_object_is_type(body, json_type_object)) {
        wr_http_reply_error(req, 400, "Bad Request",
                            "the body must be a JSON object {\"as\": NAME, \"reason\": TEXT}%s%s",
                            parsed ? "" : ": ", parsed ? "" : jerr.msg);
        goto out;
    }
    json_object_object_foreach(body, key, val)
    {
        if (strcmp(key, "as") == 0 && json_object_is_type(val, json_type_string) &&
            json_object_get_string_len(val) > 0) {
            as = json_object_get_string(val);
        } else if (strcmp(key, "reason") == 0 &&
                   (!val || json_object_is_type(val, json_type_string))) {
            reason =
                val && json_object_get_string_len(val) > 0 ? json_object_get_string(val) : NULL;
        } else {
            char *shown = wr_text_cap(key, ECHO_MAX);
            wr_http_reply_error(
                req, 400, "Bad Request",
                "%s: %s (the body takes \"as\": a name, and \"reason\": a text)", shown,
                strcmp(key, "as") == 0 || strcmp(key, "reason") == 0 ? "must be a non-empty string"
                                                                     : "unknown key");
            free(shown);
            goto out;
        }
    }
    if (!as) {
        wr_http_reply_error(req, 400, "Bad Request", "\"as\" is required: who decides");
        goto out;
    }
    if (!journal_writable(a, req, false)) {
        goto out;
    }
    int rc = wr_approval_open_for_run(a->db, id, &ap, err, sizeof(err));
    if (rc < 0) {
        reply_history_error(req, -1, err);
        goto out;
    }
    if (rc == 0) {
        char *shown = wr_text_cap(id, ECHO_MAX);
        wr_http_reply_error(req, 404, "Not Found", "run %s has no open approval request", shown);
        free(shown);
        goto out;
    }
    rc = wr_approval_decide(a->db, id, ap.step_idx, approve, as, reason, wr_clock_wall_ms(), err,
                            sizeof(err));
    switch (rc) {
    case 0:
        break;
    case WR_APPROVAL_EDECIDED:
        wr_http_reply_error(req, 409, "Conflict", "%s", err);
        goto out;
    case WR_APPROVAL_EEXPIRED:
        wr_http_reply_error(req, 410, "Gone", "%s", err);
        goto out;
    case WR_APPROVAL_ENOTFOUND:
        wr_http_reply_error(req, 404, "Not Found", "%s", err);
        goto out;
    default:
        reply_history_error(req, -1, err);
        goto out;
    }
    if (!journal_writable(a, req, true)) {
        goto out;
    }
    const char *decision = approve ? "approved" : "rejected";
    wr_log(WR_LOG_INFO, "approval decided by the admin API", "run", id, "decision", decision, "by",
           as, NULL);
    v = json_object_new_object();
    json_object_object_add(v, "run", json_object_new_string(id));
    json_object_object_add(v, "step_idx", json_object_new_int64(ap.step_idx));
    json_object_object_add(v, "decision", json_object_new_string(decision));
    json_object_object_add(v, "by", json_object_new_string(as));
    wr_http_reply_json(req, 200, "OK", v);
    if (a->runner) {
        wr_runner_kick(a->runner); /* the waiting run goes on now rather than at its next poll */
    }
out:
    wr_approval_clear(&ap);
    json_object_put(body);
}

/* {====== undo ====== */

struct undo_wait {
    struct wr_admin *a;
    struct evhttp_request *req;
    struct json_object *answer; /* {undo_of, run, event, plan} */
};

static void on_undo_stored(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct undo_wait *w = arg;
    (void)b;
    if (rc != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(w->req), "Retry-After", "5");
        wr_http_reply_error(w->req, 503, "Service Unavailable", "the undo could not be stored: %s",
                            error ? error : "storage error");
        json_object_put(w->answer);
    } else {
        wr_log(WR_LOG_INFO, "undo queued by the admin API", "run",
               json_object_get_string(json_object_object_get(w->answer, "undo_of")), "undo",
               json_object_get_string(json_object_object_get(w->answer, "run")), NULL);
        wr_http_reply_json(w->req, 202, "Accepted", w->answer); /* taken */
        if (w->a->runner) {
            wr_runner_notify(w->a->runner);
        }
    }
    free(w);
}

/*
 * POST /api/runs/ID/undo: the reverse plan of a finished run (engine/exec/undo), queued as a run
 * of weir.undo; 202 {undo_of, run, event, plan} once committed. `?dry_run=1` answers the plan
 * (200) without queueing it. A plan with nothing to run answers 200 with run null.
 */
static void on_undo(struct wr_admin *a, struct evhttp_request *req, const char *id,
                    const char *query)
{
    char err[WR_ERR_MAX];
    bool plan_only = false;
    if (query && *query) {
        if (strcmp(query, "dry_run=1") != 0 && strcmp(query, "dry_run=true") != 0) {
            wr_http_reply_error(req, 400, "Bad Request", "undo takes only dry_run=1");
            return;
        }
        plan_only = true;
    }
    struct json_object *shown = NULL;
    int rc = wr_history_show(a->db, id, &shown, err, sizeof(err));
    if (rc != 0) {
        reply_history_error(req, rc, err);
        return;
    }
    const char *status = json_object_get_string(json_object_object_get(shown, "status"));
    if (!status ||
        (strcmp(status, "succeeded") != 0 && strcmp(status, "failed") != 0 &&
         strcmp(status, "succeeded_with_errors") != 0 && strcmp(status, "cancelled") != 0)) {
        wr_http_reply_error(req, 409, "Conflict",
                            "run %s has status %s: only a finished run can be undone", id,
                            status ? status : "?");
        json_object_put(shown);
        return;
    }
    wr_history_annotate(shown, a->set);
    struct json_object *plan = wr_undo_plan(shown);
    json_object_put(shown);
    struct json_object *answer = json_object_new_object();
    json_object_object_add(answer, "undo_of", json_object_new_string(id));
    size_t n = json_object_array_length(json_object_object_get(plan, "steps"));
    if (plan_only || n == 0) {
        json_object_object_add(answer, "run", NULL);
        json_object_object_add(answer, "plan", plan);
        wr_http_reply_json(req, 200, "OK", answer);
        return;
    }
    struct wr_diags d = {0};
    struct wr_workflow *wf = NULL;
    if (wr_undo_workflow(plan, NULL, &wf, &d) != 0) {
        wr_http_reply_error(req, 422, "Unprocessable Entity", "the undo plan does not load: %s",
                            d.count ? d.items[0] : "?");
        wr_diags_clear(&d);
        json_object_put(plan);
        json_object_put(answer);
        return;
    }
    if (!a->journal || !journal_writable(a, req, false)) {
        if (!a->journal) {
            wr_http_reply_error(req, 503, "Service Unavailable", "no journal to queue the undo in");
        }
        wr_workflow_free(wf);
        json_object_put(plan);
        json_object_put(answer);
        return;
    }
    struct wr_journal_batch *b = wr_journal_batch_new();
    char *source = wr_xasprintf("undo of %s", id);
    struct wr_journal_event *ev =
        wr_journal_batch_add(b, source, NULL, NULL,
                             json_object_to_json_string_ext(
                                 plan, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                             wr_clock_wall_ms());
    struct wr_journal_run *run =
        wr_journal_batch_add_run(ev, WR_UNDO_WORKFLOW, wf->hash, NULL, NULL);
    free(source);
    json_object_object_add(answer, "run", json_object_new_string(run->id));
    json_object_object_add(answer, "event", json_object_new_string(ev->id));
    json_object_object_add(answer, "plan", plan);
    wr_workflow_free(wf);
    struct undo_wait *w = wr_xcalloc(1, sizeof(*w));
    w->a = a;
    w->req = req;
    w->answer = answer;
    if (wr_journal_submit(a->journal, b, on_undo_stored, w) != 0) {
        wr_http_reply_error(req, 503, "Service Unavailable", "the journal is closing");
        json_object_put(answer);
        free(w);
    }
}

/* }====== */

/* {====== routing ====== */

static void digest(const char *s, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(s, len, out, &n, EVP_sha256(), NULL);
}

/* Whether the request carries `Authorization: Bearer <the token>` (false without a token). */
static bool bearer_ok(const struct wr_admin *a, struct evhttp_request *req)
{
    if (!a->has_token) {
        return false;
    }
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        return false;
    }
    h += 7;
    while (*h == ' ') {
        h++;
    }
    /* Digests have one length whatever was sent, so the compare takes the same time. */
    unsigned char d[32];
    digest(h, strlen(h), d);
    return CRYPTO_memcmp(d, a->token_digest, sizeof(d)) == 0;
}

/* Counts a failed sign-in of peer (borrowed); the lockout it starts is logged once (the address,
   never what was tried). */
static void auth_failed(struct wr_admin *a, const char *peer)
{
    if (wr_fail_limit_fail(a->fails, peer)) {
        char window[16];
        snprintf(window, sizeof(window), "%ds", WR_ADMIN_FAIL_WINDOW_MS / 1000);
        wr_log(WR_LOG_WARN, "admin API: too many failed sign-ins, address refused for a while",
               "peer", peer, "window", window, NULL);
    }
}

static bool method_is(struct evhttp_request *req, bool post)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    return post ? cmd == EVHTTP_REQ_POST : cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
}

static void wrong_method(struct evhttp_request *req, bool post)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", post ? "POST" : "GET, HEAD");
    wr_http_reply_error(req, 405, "Method Not Allowed", "this path takes %s",
                        post ? "POST" : "GET");
}

/* 404 for path (cut when long). */
static void no_path(struct evhttp_request *req, const char *path)
{
    char *shown = wr_text_cap(path, ECHO_MAX);
    wr_http_reply_error(req, 404, "Not Found", "no such path: %s", shown);
    free(shown);
}

/* GET /api/workflows/NAME/scope: the trigger kind's preview, read with the daemon's Graph
   client (engine/console answers it). */
static void on_scope(struct wr_admin *a, struct evhttp_request *req, const char *path,
                     const char *query)
{
    const char *rest = path + strlen("/api/workflows/");
    size_t n = strcspn(rest, "/");
    /* Workflow names are 1-64 of a-z, 0-9 and - (the loader's rule): nothing to percent-decode. */
    if (n == 0 || n > 64 || strcmp(rest + n, "/scope") != 0) {
        no_path(req, path);
        return;
    }
    if (!method_is(req, false)) {
        wrong_method(req, false);
        return;
    }
    char *name = wr_xstrndup(rest, n);
    struct wr_trigger_env env = {
        .base = a->base,
        .base_dir = a->base_dir,
        .state_path = a->state_path,
        .graph = a->graph,
        .dir = a->dir,
    };
    wr_console_on_scope(a->console, req, &env, a->set, name, query, wr_clock_wall_ms());
    free(name);
}

/* GET /api/health: what the console's health page shows (engine/console gathers the rest). */
static void on_health(struct wr_admin *a, struct evhttp_request *req)
{
    char gerr[WR_ERR_MAX], jerr[WR_ERR_MAX];
    struct wr_console_health h = {.set = a->set, .db = a->db, .journal_ok = true};
    if (a->graph) {
        struct wr_graph_stats gs;
        int ts = wr_graph_token_status(a->graph, gerr, sizeof(gerr));
        wr_graph_get_stats(a->graph, &gs);
        h.graph_on = true;
        h.graph_signed_in = ts > 0;
        h.graph_error = ts < 0 ? gerr : NULL;
        h.throttled = gs.throttled;
        h.last_throttled_ms = gs.last_throttled_ms;
    } else {
        h.graph_error = "off (--ingest-only)";
    }
    /* /readyz's checks without its probe commit: the last commit's health and a read. */
    struct wr_journal_health jh = {.ok = true};
    if (a->journal) {
        wr_journal_get_health(a->journal, &jh);
    }
    if (!jh.ok) {
        wr_errf_marked(jerr, sizeof(jerr), "%s", jh.error);
        h.journal_ok = false;
        h.journal_error = jerr;
    } else if (!journal_ok(a, jerr, sizeof(jerr))) {
        h.journal_ok = false;
        h.journal_error = jerr;
    }
    wr_console_on_health(req, &h);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct wr_admin *a = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    char *id = NULL, *action = NULL;

    if (!path || !*path) {
        no_path(req, "");
        return;
    }
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
        if (!method_is(req, false)) {
            wrong_method(req, false);
        } else if (path[1] == 'h') {
            reply_text(req, 200, "OK", "text/plain; charset=utf-8", "ok\n");
        } else {
            on_readyz(a, req);
        }
        return;
    }
    /* The console's pages and the API: their headers on every answer, errors included. */
    bool console = wr_console_path(path);
    if (console) {
        wr_console_add_headers(req);
    }
    if (strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0) {
        wr_console_serve_ui(req, path); /* no data there: no auth */
        return;
    }
    if (console && !wr_console_origin_ok(req)) {
        return;
    }
    /* An address that failed to sign in too often is refused for a while, right token or not:
       a token cannot be guessed at the network's speed. */
    char *peer = NULL;
    ev_uint16_t peer_port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &peer_port);
    int64_t wait_ms = 0;
    if (a->fails && peer && wr_fail_limit_blocked(a->fails, peer, &wait_ms)) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%lld", (long long)(wait_ms + 999) / 1000);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
        wr_http_reply_error(req, 429, "Too Many Requests",
                            "too many failed sign-ins from this address: try again in %s s", ra);
        return;
    }
    bool bearer = bearer_ok(a, req);
    if (a->fails && peer && !bearer &&
        evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization")) {
        auth_failed(a, peer);
    }
    if (strcmp(path, "/api/session") == 0) {
        if (!method_is(req, false)) {
            wrong_method(req, false);
        } else {
            wr_console_on_session(a->console, req, bearer);
        }
        return;
    }
    if (strcmp(path, "/api/login") == 0 || strcmp(path, "/api/logout") == 0) {
        if (!method_is(req, true)) {
            wrong_method(req, true);
        } else if (strcmp(path, "/api/login") == 0) {
            if (wr_console_on_login(a->console, req) && a->fails && peer) {
                auth_failed(a, peer);
            }
        } else {
            wr_console_on_logout(a->console, req);
        }
        return;
    }
    if (a->has_token && !bearer && !wr_console_has_session(a->console, req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"weir\"");
        wr_http_reply_error(req, 401, "Unauthorized",
                            "this path needs Authorization: Bearer <admin.token> (or the "
                            "console's login)");
        return;
    }
    if (console && evhttp_request_get_command(req) == EVHTTP_REQ_POST &&
        !wr_console_csrf_ok(a->console, req)) {
        return;
    }
    bool get = method_is(req, false);
    if (strncmp(path, "/api/workflows/", 15) == 0) {
        on_scope(a, req, path, query);
        return;
    }
    if (strcmp(path, "/api/workflows") == 0 || strcmp(path, "/api/health") == 0) {
        if (!get) {
            wrong_method(req, false);
        } else if (path[5] == 'w') {
            wr_console_on_workflows(req, a->set, a->db, a->state_path, wr_clock_wall_ms());
        } else {
            on_health(a, req);
        }
        return;
    }
    if (strcmp(path, "/metrics") == 0 || strcmp(path, "/api/runs") == 0 ||
        strcmp(path, "/api/runs/") == 0) {
        if (!get) {
            wrong_method(req, false);
        } else if (path[1] == 'm') {
            on_metrics(a, req);
        } else {
            on_list(a, req, query);
        }
        return;
    }
    if (strcmp(path, "/api/held") == 0) {
        if (!get) {
            wrong_method(req, false);
        } else {
            on_held_list(a, req);
        }
        return;
    }
    if (strcmp(path, "/api/held/release") == 0 || strcmp(path, "/api/held/reject") == 0) {
        if (!method_is(req, true)) {
            wrong_method(req, true);
        } else {
            on_held_decide(a, req, path[11] == 'e' && path[12] == 'l');
        }
        return;
    }
    static const char prefix[] = "/api/runs/";
    char err[WR_ERR_MAX];
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
        no_path(req, path);
        return;
    }
    /* Split on the raw '/', then decode each segment once: "%2F" in an id stays in the id. */
    const char *rest = path + sizeof(prefix) - 1;
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    id = decode(rest, idlen, false, "the run id in the path", err, sizeof(err));
    action = id && slash ? decode(slash + 1, strlen(slash + 1), false, "the path", err, sizeof(err))
                         : NULL;
    if (!id || (slash && !action)) {
        wr_http_reply_error(req, 400, "Bad Request", "%s", err);
    } else if (!*id || (action && strcmp(action, "retry") != 0 && strcmp(action, "cancel") != 0 &&
                        strcmp(action, "approve") != 0 && strcmp(action, "reject") != 0 &&
                        strcmp(action, "undo") != 0)) {
        no_path(req, path);
    } else if (!action && !get) {
        wrong_method(req, false);
    } else if (!action) {
        on_show(a, req, id);
    } else if (!method_is(req, true)) {
        wrong_method(req, true);
    } else if (strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0) {
        on_decide(a, req, id, query, action[0] == 'a');
    } else if (strcmp(action, "undo") == 0) {
        on_undo(a, req, id, query);
    } else if (action[0] == 'r') {
        on_retry(a, req, id, query);
    } else {
        on_cancel(a, req, id, query);
    }
    free(id);
    free(action);
}

/* }====== */

bool wr_admin_is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (strcasecmp(host, "localhost") == 0) {
        return true;
    }
    if (inet_pton(AF_INET, host, &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127;
    }
    return inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

int wr_admin_new(struct event_base *base, const struct wr_admin_options *opts,
                 struct wr_admin **out, char *err, size_t errlen)
{
    struct wr_admin *a = wr_xcalloc(1, sizeof(*a));
    char host[256];
    int port = 0, rc = -1;

    *out = NULL;
    a->base = base;
    a->journal = opts->journal;
    a->graph = opts->graph;
    a->dir = opts->dir;
    a->base_dir = wr_xstrdup_or_null(opts->base_dir);
    a->runner = opts->runner;
    a->set = opts->set;
    if (wr_listen_parse("listen.admin", opts->listen, host, sizeof(host), &port, err, errlen) !=
        0) {
        goto err;
    }
    if (opts->token && *opts->token) {
        a->has_token = true;
        digest(opts->token, strlen(opts->token), a->token_digest);
        a->fails = wr_fail_limit_new(WR_ADMIN_FAIL_MAX, WR_ADMIN_FAIL_WINDOW_MS, NULL, NULL);
    } else if (!wr_admin_is_loopback(host)) {
        snprintf(err, errlen,
                 "listen.admin: %s is not a loopback address, so the admin API needs "
                 "admin.token (env:NAME or file:PATH)",
                 opts->listen);
        goto err;
    }
    struct wr_console_options co = {.token_digest = a->has_token ? a->token_digest : NULL};
    a->console = wr_console_new(&co, err, errlen);
    if (!a->console) {
        goto err;
    }
    a->state_path = wr_xstrdup_or_null(opts->state_path);
    a->db = wr_journal_open_reader(opts->state_path, err, errlen);
    if (!a->db) {
        goto err;
    }
    /* The configured limits, but no body over 64KiB: no admin route takes more. */
    struct wr_http_limits limits;
    if (opts->limits) {
        limits = *opts->limits;
    } else {
        wr_http_limits_default(&limits);
    }
    if (limits.max_body > WR_ADMIN_MAX_BODY) {
        limits.max_body = WR_ADMIN_MAX_BODY;
    }
    rc = wr_listener_new(base, "listen.admin", "admin", opts->listen, &limits, on_request, a,
                         &a->listener, err, errlen);
    if (rc != 0) {
        rc = rc == WR_LISTENER_EBIND ? WR_ADMIN_EBIND : -1;
        goto err;
    }
    *out = a;
    return 0;
err:
    wr_admin_free(a);
    return rc;
}

const char *wr_admin_addr(const struct wr_admin *a)
{
    return wr_listener_addr(a->listener);
}

void wr_admin_set_workflows(struct wr_admin *a, const struct wr_workflow_set *set)
{
    if (a) {
        a->set = set;
    }
}

void wr_admin_set_stopping(struct wr_admin *a)
{
    if (a) {
        a->stopping = true;
    }
}

void wr_admin_free(struct wr_admin *a)
{
    if (!a) {
        return;
    }
    wr_listener_free(a->listener);
    if (a->probe) {
        /* Its requests went with evhttp; the probe frees itself when the journal answers. */
        a->probe->a = NULL;
        probe_answer_all(a->probe, false);
    }
    wr_journal_close_reader(a->db);
    wr_console_free(a->console);
    wr_fail_limit_free(a->fails);
    free(a->state_path);
    free(a->base_dir);
    OPENSSL_cleanse(a->token_digest, sizeof(a->token_digest));
    free(a);
}
