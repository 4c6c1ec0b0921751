/*
 * action_run — the context behind the wr_action_* calls (actions/action.h) and the runner
 * that starts an action and delivers its outcome (engine/exec/action_run.h).
 *
 * One wr_action_ctx lives from wr_action_start until the outcome has been delivered. The
 * action finishes with wr_action_succeed or wr_action_fail; either only records the outcome
 * and activates an event, so the runner's callback always runs on a later loop turn, never on
 * the action's stack (which may be inside a Graph or libcurl callback). In a dry run,
 * wr_action_write records the request in the plan and answers with a synthetic 204 the same
 * way. This module does not retry: the Graph client retries within a request, the run
 * executor across runs. It owns each execution's state block (wr_action_state): the action's
 * clear function and the free run in ctx_free, after the outcome was delivered.
 *
 * In a real run the action runs in a Graph trace of its own (engine/graph/graph.h): every Graph
 * request it makes, through the directory or directly, is recorded, and a successful outcome's
 * output gets them as "graph" (method, path, status, request_id, client_request_id; the first
 * and last WR_GRAPH_TRACE_MAX / 2 with "graph_omitted" when there were more), so the ids
 * Microsoft support asks for are kept when a step "worked". Dry runs have no trace.
 */
#include "engine/exec/action_run.h"

#include <assert.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph/directory.h"
#include "engine/base/duration.h"
#include "engine/graph/graph.h"
#include "engine/base/strutil.h"
#include "engine/base/clock.h"
#include "engine/store/journal.h"
#include "engine/store/runstate.h"
#include "engine/store/history.h"
#include "engine/exec/undo.h"
#include "engine/lang/workflow_set.h"

/* A dry-run write waiting for its synthetic answer. */
struct dry_write {
    struct wr_action_ctx *ctx;
    struct event *ev;
    void (*done)(void *arg, const struct wr_graph_result *res);
    void *arg;
    struct dry_write *next;
};

struct wr_action_ctx {
    struct wr_action_env env;
    const struct wr_action *action;
    struct json_object *args;
    wr_action_done_fn done;
    void *done_arg;
    void *state;
    size_t state_size;
    void (*clear)(void *state); /* releases what the action put in state; may be NULL */
    struct json_object *plan;   /* dry run: the recorded mutations */
    struct dry_write *writes;
    struct event *finish_ev;
    bool finished;
    bool ok;
    bool retriable;
    bool throttled;
    int64_t retry_after_ms;
    char *throttled_by; /* wr_action_fail_throttled's service (owned), or NULL for Graph */
    bool replica_lag;
    struct json_object *output;
    char *error;
    struct wr_graph_trace *trace; /* real runs: the Graph requests the action made */
    char *workflow_dir;           /* env.workflow_dir's copy (owned), or NULL */
};

static void ctx_free(struct wr_action_ctx *ctx)
{
    for (struct dry_write *w = ctx->writes, *next; w; w = next) {
        next = w->next;
        event_free(w->ev);
        free(w);
    }
    if (ctx->finish_ev) {
        event_free(ctx->finish_ev);
    }
    json_object_put(ctx->args);
    json_object_put(ctx->plan);
    json_object_put(ctx->output);
    free(ctx->error);
    free(ctx->throttled_by);
    free(ctx->workflow_dir);
    if (ctx->state && ctx->clear) {
        ctx->clear(ctx->state);
    }
    free(ctx->state);
    wr_graph_trace_close(ctx->trace);
    wr_graph_trace_put(ctx->trace);
    free(ctx);
}

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
    struct wr_action_ctx *ctx = arg;
    (void)fd;
    (void)what;
    struct wr_action_outcome out = {
        .ok = ctx->ok,
        .retriable = ctx->retriable,
        .output = ctx->output,
        .error = ctx->error,
        .throttled = ctx->throttled,
        .retry_after_ms = ctx->retry_after_ms,
        .throttled_by = ctx->throttled_by,
        .replica_lag = ctx->replica_lag,
        .plan = ctx->plan,
    };
    ctx->done(ctx->done_arg, &out);
    ctx_free(ctx);
}

int wr_action_start(const struct wr_action_env *env, const struct wr_action *action,
                    struct json_object *args, wr_action_done_fn done, void *arg)
{
    if (!action || !action->execute) {
        return -1;
    }
    struct wr_action_ctx *ctx = wr_xcalloc(1, sizeof(*ctx));
    ctx->env = *env;
    ctx->workflow_dir = env->workflow_dir ? wr_xstrdup(env->workflow_dir) : NULL;
    ctx->env.workflow_dir = ctx->workflow_dir;
    ctx->action = action;
    ctx->args = args ? json_object_get(args) : json_object_new_object();
    ctx->done = done;
    ctx->done_arg = arg;
    ctx->plan = env->dry_run ? json_object_new_array() : NULL;
    ctx->finish_ev = event_new(env->base, -1, 0, on_finish, ctx);
    ctx->trace = env->dry_run || !env->graph ? NULL : wr_graph_trace_new();
    if (ctx->trace) {
        /* The action's requests, and those its callbacks start, carry the trace. */
        struct wr_graph_trace *outer = wr_graph_trace_swap(env->graph, ctx->trace);
        action->execute(ctx);
        wr_graph_trace_swap(env->graph, outer);
    } else {
        action->execute(ctx);
    }
    return 0;
}

/* {====== what an action may use ====== */

struct json_object *wr_action_args(struct wr_action_ctx *ctx)
{
    return ctx->args;
}

struct wr_curl_loop *wr_action_curl_loop(struct wr_action_ctx *ctx)
{
    return ctx->env.graph ? wr_graph_curl_loop(ctx->env.graph) : NULL;
}

const char *wr_action_arg_str(struct wr_action_ctx *ctx, const char *name)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(ctx->args, name, &v) &&
        json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return NULL;
}

struct wr_graph *wr_action_graph(struct wr_action_ctx *ctx)
{
    return ctx->env.graph;
}

struct wr_directory *wr_action_directory(struct wr_action_ctx *ctx)
{
    return ctx->env.dir;
}

bool wr_action_dry_run(struct wr_action_ctx *ctx)
{
    return ctx->env.dry_run;
}

const char *wr_action_mail_from(struct wr_action_ctx *ctx)
{
    return ctx->env.mail_from;
}

const struct wr_net_guard *wr_action_net_guard(struct wr_action_ctx *ctx)
{
    return ctx->env.net;
}

const char *wr_action_workflow_dir(struct wr_action_ctx *ctx)
{
    return ctx->workflow_dir;
}

void *wr_action_state(struct wr_action_ctx *ctx, size_t size, void (*clear)(void *state))
{
    if (!ctx->state) {
        ctx->state = wr_xcalloc(1, size ? size : 1);
        ctx->state_size = size;
        ctx->clear = clear;
    }
    assert(size <= ctx->state_size && clear == ctx->clear);
    return ctx->state;
}

/* A copy of body for the plan with every "password" member replaced by "***": a generated
   or given password must never reach a plan that is printed or stored. */
static struct json_object *masked_copy(struct json_object *body)
{
    if (json_object_is_type(body, json_type_object)) {
        struct json_object *out = json_object_new_object();
        json_object_object_foreach(body, key, val)
        {
            json_object_object_add(out, key,
                                   strcmp(key, "password") == 0 ? json_object_new_string("***")
                                                                : masked_copy(val));
        }
        return out;
    }
    if (json_object_is_type(body, json_type_array)) {
        struct json_object *out = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(body); i++) {
            json_object_array_add(out, masked_copy(json_object_array_get_idx(body, i)));
        }
        return out;
    }
    return json_object_get(body);
}

static void on_dry_write(evutil_socket_t fd, short what, void *arg)
{
    struct dry_write *w = arg;
    struct wr_action_ctx *ctx = w->ctx;
    (void)fd;
    (void)what;
    for (struct dry_write **p = &ctx->writes; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    struct wr_graph_result res = {.status = 204, .ok = true};
    void (*done)(void *, const struct wr_graph_result *) = w->done;
    void *done_arg = w->arg;
    event_free(w->ev);
    free(w);
    done(done_arg, &res);
}

/* wr_action_write and wr_action_write_once: flags are the Graph client's (graph.h). */
static int write_flags(struct wr_action_ctx *ctx, const char *method, const char *path,
                       struct json_object *body, unsigned flags,
                       void (*done)(void *arg, const struct wr_graph_result *res), void *arg)
{
    assert(!ctx->finished);
    if (!ctx->env.dry_run) {
        return wr_graph_request(ctx->env.graph, method, path, body, flags, done, arg);
    }
    /* A path that is a whole URL is a call to another service (http-request): the plan says
       "url" for it. */
    bool url = strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0;
    struct json_object *entry = json_object_new_object();
    json_object_object_add(entry, "method", json_object_new_string(method));
    json_object_object_add(entry, url ? "url" : "path", json_object_new_string(path));
    json_object_object_add(entry, "body", body ? masked_copy(body) : NULL);
    json_object_array_add(ctx->plan, entry);

    struct dry_write *w = wr_xcalloc(1, sizeof(*w));
    w->ctx = ctx;
    w->done = done;
    w->arg = arg;
    w->ev = event_new(ctx->env.base, -1, 0, on_dry_write, w);
    w->next = ctx->writes;
    ctx->writes = w;
    event_active(w->ev, EV_TIMEOUT, 0);
    return 0;
}

int wr_action_write(struct wr_action_ctx *ctx, const char *method, const char *path,
                    struct json_object *body,
                    void (*done)(void *arg, const struct wr_graph_result *res), void *arg)
{
    return write_flags(ctx, method, path, body, WR_GRAPH_WRITE, done, arg);
}

int wr_action_write_once(struct wr_action_ctx *ctx, const char *method, const char *path,
                         struct json_object *body,
                         void (*done)(void *arg, const struct wr_graph_result *res), void *arg)
{
    return write_flags(ctx, method, path, body, WR_GRAPH_WRITE | WR_GRAPH_AT_MOST_ONCE, done, arg);
}

static void finish(struct wr_action_ctx *ctx)
{
    assert(!ctx->finished);
    ctx->finished = true;
    wr_graph_trace_close(ctx->trace); /* a request still finishing is not this step's */
    event_active(ctx->finish_ev, EV_TIMEOUT, 0);
}

void wr_action_succeed(struct wr_action_ctx *ctx, struct json_object *output)
{
    ctx->ok = true;
    ctx->output = output ? output : json_object_new_object();
    if (wr_graph_trace_count(ctx->trace) > 0 &&
        json_object_is_type(ctx->output, json_type_object)) {
        size_t omitted = 0;
        json_object_object_add(ctx->output, "graph", wr_graph_trace_json(ctx->trace, &omitted));
        if (omitted > 0) {
            json_object_object_add(ctx->output, "graph_omitted",
                                   json_object_new_int64((int64_t)omitted));
        }
    }
    finish(ctx);
}

void wr_action_fail(struct wr_action_ctx *ctx, const struct wr_graph_result *res, bool retriable,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_action_vfail(ctx, res, retriable, fmt, ap);
    va_end(ap);
}

/* The failure behind wr_action_vfail and wr_action_vfail_lag: lag_ms >= 0 marks replica lag. */
static void vfail(struct wr_action_ctx *ctx, const struct wr_graph_result *res, bool retriable,
                  int64_t lag_ms, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void vfail(struct wr_action_ctx *ctx, const struct wr_graph_result *res, bool retriable,
                  int64_t lag_ms, const char *fmt, va_list ap)
{
    struct wr_buf b = {0};
    wr_buf_vaddf(&b, fmt, ap);
    if (res) {
        const char *code = res->error_code && *res->error_code ? res->error_code : "error";
        const char *msg = res->error_message ? res->error_message : "";
        if (b.len) {
            wr_buf_add(&b, ": ");
        }
        if (res->status) {
            wr_buf_addf(&b, "Graph %ld %s: %s", res->status, code, msg);
        } else {
            wr_buf_addf(&b, "Graph request failed (%s): %s", code, msg);
        }
        /* What Microsoft support asks for: Graph's request-id and the client-request-id. */
        char *ids = wr_graph_result_ids(res);
        wr_buf_add(&b, ids);
        free(ids);
        retriable = res->retriable;
        /* Throttling is Graph asking for time, not a failure of the step: see run.c. */
        ctx->throttled =
            retriable && (res->status == 429 || (res->status == 503 && res->retry_after_ms > 0));
        ctx->retry_after_ms = ctx->throttled ? res->retry_after_ms : 0;
    }
    if (lag_ms >= 0) {
        char age[WR_DURATION_BUFLEN], window[WR_DURATION_BUFLEN];
        wr_duration_format(lag_ms - lag_ms % 100, age, sizeof(age));
        wr_duration_format(WR_DIRECTORY_REPLICA_WINDOW_MS, window, sizeof(window));
        wr_buf_addf(&b,
                    " (replica lag: weir created or changed this object %s ago and Graph's "
                    "replicas may not have it yet; retried until it is %s old)",
                    age, window);
        retriable = true;
        ctx->throttled = false;
        ctx->retry_after_ms = 0;
        ctx->replica_lag = true;
    }
    ctx->ok = false;
    ctx->retriable = retriable;
    ctx->error = wr_buf_take(&b);
    finish(ctx);
}

void wr_action_vfail(struct wr_action_ctx *ctx, const struct wr_graph_result *res, bool retriable,
                     const char *fmt, va_list ap)
{
    vfail(ctx, res, retriable, -1, fmt, ap);
}

void wr_action_fail_lag(struct wr_action_ctx *ctx, const struct wr_graph_result *res,
                        int64_t age_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wr_action_vfail_lag(ctx, res, age_ms, fmt, ap);
    va_end(ap);
}

void wr_action_vfail_lag(struct wr_action_ctx *ctx, const struct wr_graph_result *res,
                         int64_t age_ms, const char *fmt, va_list ap)
{
    vfail(ctx, res, true, age_ms < 0 ? 0 : age_ms, fmt, ap);
}

void wr_action_fail_throttled(struct wr_action_ctx *ctx, const char *service,
                              int64_t retry_after_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* vfail without a Graph result leaves these as set here. */
    ctx->throttled = true;
    ctx->retry_after_ms = retry_after_ms > 0 ? retry_after_ms : 0;
    free(ctx->throttled_by);
    ctx->throttled_by = wr_xstrdup(service ? service : "the service");
    vfail(ctx, NULL, true, -1, fmt, ap);
    va_end(ap);
}

char *wr_action_bad_user_ref(const char *name, const char *ref)
{
    if (!ref || !*ref) {
        return wr_xasprintf("'%s' is empty: give an object id, a userPrincipalName or mail "
                            "address, or employeeId:VALUE (in a dry run, the id of a user an "
                            "earlier step would create is null: nothing was created)",
                            name);
    }
    return wr_xasprintf("'%s' is not a user reference: expected an object id, a "
                        "userPrincipalName or mail address, or employeeId:VALUE",
                        ref);
}

bool wr_action_find_user(struct wr_action_ctx *ctx, const char *arg_name, const char *ref,
                         const char *select,
                         void (*done)(void *arg, const struct wr_directory_result *r), void *arg)
{
    if (wr_directory_user(ctx->env.dir, ref, select, done, arg) == 0) {
        return true;
    }
    char *msg = wr_action_bad_user_ref(arg_name ? arg_name : "user", ref);
    wr_action_fail(ctx, NULL, false, "%s%s%s", arg_name ? arg_name : "", arg_name ? ": " : "", msg);
    free(msg);
    return false;
}

void wr_action_fail_lookup(struct wr_action_ctx *ctx, const char *arg_name,
                           const struct wr_directory_result *r)
{
    const char *prefix = arg_name ? arg_name : "", *sep = arg_name ? ": " : "";
    if (r->created_ago_ms >= 0) {
        wr_action_fail_lag(ctx, r->graph, r->created_ago_ms, "%s%s%s", prefix, sep, r->error);
    } else {
        wr_action_fail(ctx, r->graph, false, "%s%s%s", prefix, sep, r->error);
    }
}

void wr_action_fail_lookup_of(struct wr_action_ctx *ctx, const struct wr_directory_result *r,
                              const char *user)
{
    struct wr_directory_result lag = *r;
    if (lag.not_found && lag.created_ago_ms < 0) {
        lag.created_ago_ms = wr_directory_created_ago(ctx->env.dir, user);
    }
    wr_action_fail_lookup(ctx, NULL, &lag);
}

/* }====== */

/* {====== cancel-runs ====== */

/* One wr_action_cancel_keyed_runs call, from the read to the delivery. */
struct cancel_call {
    struct wr_action_ctx *ctx;
    struct json_object *ids; /* the candidates, then those cancelled */
    char *error;             /* set: the call failed */
    bool retriable;
    struct event *ev; /* delivery on a later loop turn (reads, dry runs, failures) */
    void (*done)(void *arg, const struct wr_action_cancelled *r);
    void *arg;
    bool undo;                 /* also undo each run cancelled */
    struct json_object *undos; /* with undo: what became of each (wr_action_cancelled.undos) */
};

static void cancel_deliver(struct cancel_call *c)
{
    struct wr_action_cancelled r = {
        .ok = c->error == NULL,
        .ids = c->ids,
        .error = c->error,
        .retriable = c->retriable,
        .undos = c->undos,
    };
    c->done(c->arg, &r);
    if (c->ev) {
        event_free(c->ev);
    }
    json_object_put(c->undos);
    json_object_put(c->ids);
    free(c->error);
    free(c);
}

static void on_cancel_ev(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cancel_deliver(arg);
}

static void cancel_later(struct cancel_call *c)
{
    c->ev = event_new(c->ctx->env.base, -1, 0, on_cancel_ev, c);
    event_active(c->ev, EV_TIMEOUT, 0);
}

static void cancel_candidate(void *arg, const char *id)
{
    json_object_array_add(arg, json_object_new_string(id));
}

static void on_undo_committed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct cancel_call *c = arg;
    (void)b;
    if (rc != 0) {
        /* The runs are cancelled; their undos are not stored: say so for each. */
        for (size_t i = 0; i < json_object_array_length(c->undos); i++) {
            struct json_object *u = json_object_array_get_idx(c->undos, i);
            if (json_object_object_get_ex(u, "undo_run", NULL)) {
                json_object_object_del(u, "undo_run");
                json_object_object_add(
                    u, "error",
                    json_object_new_string(error ? error : "the undo could not be stored"));
            }
        }
    }
    cancel_deliver(c);
}

/*
 * The cancelled runs' undos: each run's reverse plan (engine/exec/undo) queued as a run of
 * weir.undo, all in one commit; then the delivery. Runs that changed nothing are said so.
 */
static void undo_cancelled(struct cancel_call *c)
{
    struct wr_journal_batch *b = wr_journal_batch_new();
    bool queued = false;
    char err[WR_ERR_MAX];
    c->undos = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(c->ids); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(c->ids, i));
        struct json_object *u = json_object_new_object(), *shown = NULL;
        json_object_object_add(u, "run", json_object_new_string(id));
        json_object_array_add(c->undos, u);
        if (wr_history_show(wr_runstate_db(c->ctx->env.runs), id, &shown, err, sizeof(err)) != 0) {
            json_object_object_add(u, "error", json_object_new_string(err));
            continue;
        }
        wr_history_annotate(shown, c->ctx->env.workflows);
        struct json_object *plan = wr_undo_plan(shown);
        json_object_put(shown);
        struct wr_diags d = {0};
        struct wr_workflow *wf = NULL;
        if (json_object_array_length(json_object_object_get(plan, "steps")) == 0) {
            json_object_object_add(u, "nothing", json_object_new_boolean(true));
        } else if (wr_undo_workflow(plan, NULL, &wf, &d) != 0) {
            json_object_object_add(u, "error",
                                   json_object_new_string(d.count ? d.items[0] : "no plan"));
        } else {
            char *source = wr_xasprintf("undo of %s", id);
            struct wr_journal_event *ev = wr_journal_batch_add(
                b, source, NULL, NULL,
                json_object_to_json_string_ext(plan, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE),
                wr_clock_wall_ms());
            struct wr_journal_run *run =
                wr_journal_batch_add_run(ev, WR_UNDO_WORKFLOW, wf->hash, NULL, NULL);
            json_object_object_add(u, "undo_run", json_object_new_string(run->id));
            free(source);
            queued = true;
        }
        wr_workflow_free(wf);
        wr_diags_clear(&d);
        json_object_put(plan);
    }
    if (!queued) {
        wr_journal_batch_free(b);
        cancel_deliver(c);
    } else if (wr_journal_submit(c->ctx->env.journal, b, on_undo_committed, c) != 0) {
        on_undo_committed(c, NULL, -1, "the journal is closing");
    }
}

/* The journal committed (or failed) the batch: on the loop thread, after the call's turn. */
static void on_cancel_committed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct cancel_call *c = arg;
    (void)b;
    if (rc != 0) {
        c->error = wr_xasprintf("the journal could not store the cancellation: %s",
                                error ? error : "commit failed");
        c->retriable = true;
    } else {
        /* Only what is cancelled now: a run that started or ended before the write kept its
           status (the UPDATE takes only the cancellable ones). */
        struct json_object *done = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(c->ids); i++) {
            const char *id = json_object_get_string(json_object_array_get_idx(c->ids, i));
            if (wr_runstate_cancelled(c->ctx->env.runs, id)) {
                json_object_array_add(done, json_object_new_string(id));
            }
        }
        json_object_put(c->ids);
        c->ids = done;
        if (c->undo && json_object_array_length(done) > 0) {
            undo_cancelled(c);
            return;
        }
    }
    cancel_deliver(c);
}

int wr_action_cancel_keyed_runs(struct wr_action_ctx *ctx, const char *workflow, const char *key,
                                const char *reason, bool undo,
                                void (*done)(void *arg, const struct wr_action_cancelled *r),
                                void *arg)
{
    if (!ctx->env.runs || (!ctx->env.dry_run && !ctx->env.journal)) {
        return -1;
    }
    struct cancel_call *c = wr_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->done = done;
    c->arg = arg;
    c->ids = json_object_new_array();
    c->undo = undo;
    if (ctx->env.workflows && !wr_workflow_set_find(ctx->env.workflows, workflow)) {
        c->error = wr_xasprintf("workflow '%s' is not loaded: no workflow file defines that "
                                "name (names are case-sensitive)",
                                workflow);
        cancel_later(c);
        return 0;
    }
    char err[WR_ERR_MAX];
    if (wr_runstate_cancellable(ctx->env.runs, workflow, key, ctx->env.run_id, cancel_candidate,
                                c->ids, err, sizeof(err)) < 0) {
        c->error = wr_xstrdup(err);
        c->retriable = true;
        cancel_later(c);
        return 0;
    }
    if (ctx->env.dry_run || json_object_array_length(c->ids) == 0) {
        cancel_later(c);
        return 0;
    }
    struct wr_journal_batch *b = wr_journal_batch_new();
    int64_t now = wr_clock_wall_ms();
    for (size_t i = 0; i < json_object_array_length(c->ids); i++) {
        wr_runstate_cancel_run(b, json_object_get_string(json_object_array_get_idx(c->ids, i)),
                               reason, now);
    }
    if (wr_journal_submit(ctx->env.journal, b, on_cancel_committed, c) != 0) {
        c->error = wr_xstrdup("the journal is closing: nothing was cancelled");
        c->retriable = true;
        cancel_later(c);
    }
    return 0;
}

/* }====== */
