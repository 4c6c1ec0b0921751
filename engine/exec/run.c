/*
 * run — the durable run executor; see run.h.
 *
 * A run in progress is a struct exec driven by callbacks: commit of a state change ->
 * start of the next effect -> its outcome -> commit of the result -> ... A run leaves memory
 * whenever it reaches a durable pause (waiting, retrying) or its end; the poll timer picks it
 * up again from the journal when it is due.
 *
 * Poison runs: runs.crashes counts the starts of a run in a row that no step finished after.
 * A crash (a fatal signal; wr_runner_arm_crash_marker leaves <state>.crashed behind) keeps the
 * count; any other stop (kill -9, power loss) makes the next daemon ignore it. A run that was
 * in progress at runs.max_crashes crashes in a row is parked as failed instead of resumed, and
 * runs with a count (suspects) resume one at a time, so that only the run a crash follows
 * accumulates crashes, not the runs that happened to be in progress beside it.
 */
#include "engine/exec/run.h"

#include <event2/event.h>
#include <openssl/crypto.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/exec/action_run.h"
#include "engine/base/captoken.h"
#include "engine/base/secret.h"
#include "engine/exec/guard.h"
#include "engine/exec/undo.h"
#include "engine/store/approval.h"
#include "engine/store/approval_key.h"
#include "engine/store/db.h"
#include "engine/graph/directory.h"
#include "engine/base/duration.h"
#include "engine/store/journal.h"
#include "engine/store/runstate.h"
#include "engine/base/json.h"
#include "engine/base/log.h"
#include "engine/lua/lua_host.h"
#include "engine/base/metrics.h"
#include "engine/base/strutil.h"
#include "engine/base/timestamp.h"
#include "engine/lang/workflow_set.h"

/* A workflow set and the runs in memory that started on it (see wr_runner_set_workflows). */
struct set_use {
    const struct wr_workflow_set *set;
    size_t runs;
    struct set_use *next;
};

struct wr_runner {
    struct event_base *base;
    struct wr_journal *journal;
    struct wr_runstate *rs; /* reading connection, its statements prepared once */
    const struct wr_workflow_set *set;
    struct set_use *uses; /* the current set first, then older ones still used by runs */
    struct wr_graph *graph;
    struct wr_directory *dir;
    int max_concurrent;
    int poll_ms;
    bool dry_run;
    const struct wr_net_guard *net; /* http.allow, passed to every action */
    const char *mail_from;          /* mail.from, passed to every action */
    size_t active;
    struct json_object *active_ids; /* run id -> null: in progress here */
    struct event *poll;
    struct event *kick; /* a poll on the next loop turn: many kicks in one turn, one poll */
    int64_t cursor;     /* queued runs up to this rowid were started (or are in memory) */
    bool rescan;        /* the next poll looks at every open run, not just after cursor */
    bool stopping;
    int max_crashes;     /* runs.max_crashes */
    bool crashed_before; /* the previous daemon crashed: stored crash counts are true */
    int suspects;        /* runs in memory that resumed with a crash count (at most one) */
    char *crash_marker;  /* <state>.crashed; "" on PostgreSQL */
    char owner[96];      /* this instance in runs.owner: host, pid, a random part */
    int64_t lease_ms;    /* runs.lease */
    struct event *renew; /* extends this instance's run leases every third of lease_ms */
    wr_run_gate_fn gate;
    void *gate_arg;
    /* the mass-change brake (engine/exec/guard) */
    struct wr_guard *guard;                 /* the window of users changed */
    struct wr_guard_limits guard_limits;    /* weir.yaml's guard.destructive */
    const struct wr_workflow *guard_notify; /* borrowed: guard.notify's workflow, or NULL */
    struct wr_runstate *guard_rs; /* where held runs are counted: rs, or the daemon's (dry run) */
    int64_t holding;              /* holds submitted and not yet committed */
    int64_t guard_pruned;         /* when the window was last pruned (Unix ms) */
    int64_t users;                /* the tenant's users (-1: not read yet, or unreadable) */
    int64_t users_at;             /* when they were read (monotonic ms) */
    char users_error[WR_ERR_MAX]; /* why the last read failed */
    struct exec **users_waiting;  /* runs waiting for that read */
    size_t nusers_waiting;
    /* approval steps */
    char *public_url; /* approvals.public_url, or NULL (links then name no host) */
    char *state;      /* the journal (path or URL): where the approval key is */
    unsigned char key[WR_CAPTOKEN_KEY_LEN];
    bool key_loaded;
};

/* How long the tenant's user count is trusted. */
#define WR_GUARD_USERS_TTL_MS (3600LL * 1000)

struct exec {
    struct wr_runner *r;
    char id[40];
    const struct wr_workflow *wf;
    struct json_object *event;   /* owned */
    struct json_object *outputs; /* owned: step id -> output */
    struct json_object *error;   /* owned: the failure on_error steps see, or NULL */
    bool in_on_error;
    size_t idx;   /* index within steps or on_error */
    int attempts; /* attempts already made of the current step */
    int64_t wait_started;
    bool had_errors;                /* a continue_on_error step failed */
    char *pending_error;            /* the failure being recorded before on_error / the end */
    struct wr_journal_batch *carry; /* records that ride with the next commit (see carry()) */
    bool keyed;          /* has a concurrency key: later runs of the key may be waiting for it */
    struct set_use *use; /* the set wf belongs to: kept alive while this run is in memory */
    int64_t attempt_started; /* monotonic ms when the current attempt started, or 0 */
    int64_t throttled_since; /* wall ms since Graph (or a service) throttles the step, or 0 */
    bool counted;            /* this start is in runs.crashes and no step has finished since */
    bool suspect;            /* holds the runner's one suspect slot */
    bool replica_lag;        /* the attempt being recorded failed for replica lag */
    char *throttled_by;      /* the attempt being recorded was throttled by this service (owned), or
                                NULL: by Graph (wr_action_outcome.throttled_by) */
    int crashes;             /* the stored crash count at this start */
    int released;            /* released from the guard by an admin: 1, 0, -1 not read yet */
    char *guard_user;        /* the user the step about to start was counted for, or NULL */
    struct json_object *dry_approval; /* a dry run's approval request (nothing stored), or NULL */
    struct wr_workflow *own_wf;       /* a generated workflow (an undo's), owned: wf points here */
    struct json_object *rendered;     /* the step's arguments the guard rendered (owned), or NULL */
    /* Issue 18 (create-tap): the first step whose output, read back from the journal after a
       restart, held a masked secret (steps.<id>.pass), or NULL. A later step whose rendered
       arguments carry the mask fails instead of sending it (start_action). */
    char *lost_secret_step;
};

static const struct wr_step *current_step(const struct exec *x)
{
    if (x->in_on_error) {
        return x->idx < x->wf->non_error ? &x->wf->on_error[x->idx] : NULL;
    }
    return x->idx < x->wf->nsteps ? &x->wf->steps[x->idx] : NULL;
}

static int64_t step_row(const struct exec *x)
{
    return (int64_t)x->idx + (x->in_on_error ? WR_ON_ERROR_BASE : 0);
}

/* One run less uses u; a set that is no longer current is forgotten with its last run. */
static void set_use_release(struct wr_runner *r, struct set_use *u)
{
    if (!u || --u->runs > 0 || u == r->uses) {
        return;
    }
    for (struct set_use **p = &r->uses; *p; p = &(*p)->next) {
        if (*p == u) {
            *p = u->next;
            free(u);
            return;
        }
    }
}

static void exec_free(struct exec *x)
{
    set_use_release(x->r, x->use);
    json_object_put(x->event);
    json_object_put(x->outputs);
    json_object_put(x->error);
    free(x->pending_error);
    free(x->lost_secret_step);
    free(x->throttled_by);
    free(x->guard_user);
    json_object_put(x->dry_approval);
    wr_workflow_free(x->own_wf);
    json_object_put(x->rendered);
    free(x);
}

/* The run leaves memory (finished, or paused durably). */
static void on_carry_stored(void *arg, struct wr_journal_batch *b, int rc, const char *error);
static void kick_soon(struct wr_runner *r);

/* The run holds no suspect slot any more: another suspect may resume. */
static void suspect_release(struct exec *x)
{
    if (x->suspect) {
        x->suspect = false;
        x->r->suspects--;
        x->r->rescan = true;
        kick_soon(x->r);
    }
}

static void exec_release(struct exec *x)
{
    struct wr_runner *r = x->r;
    if (x->counted && r->stopping) {
        /* A clean stop before any step finished is no crash: take this start back out. */
        if (!x->carry) {
            x->carry = wr_journal_batch_new();
        }
        wr_runstate_uncount_crash(x->carry, x->id);
    }
    suspect_release(x);
    if (x->carry) {
        /* Leaving memory with records still carried (stopping, cancelled): store them. */
        if (wr_journal_submit(r->journal, x->carry, on_carry_stored, NULL) != 0) {
            wr_log(WR_LOG_WARN, "run state not stored at shutdown; the run resumes earlier", "run",
                   x->id, NULL);
        }
        x->carry = NULL;
    }
    json_object_object_del(r->active_ids, x->id);
    r->active--;
    /* A keyed run's successor sits before the cursor: look at every open run again. */
    r->rescan = r->rescan || x->keyed;
    exec_free(x);
    if (!r->stopping) {
        kick_soon(r);
    }
}

/* {====== committing state changes ====== */

typedef void (*then_fn)(struct exec *x);

struct commit_wait {
    struct exec *x;
    then_fn then;
};

static void on_commit(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct commit_wait *w = arg;
    struct exec *x = w->x;
    then_fn then = w->then;
    (void)b;
    free(w);
    if (rc != 0) {
        /* The state change is not durable: stop here; the poll resumes from the store. */
        wr_log(WR_LOG_ERROR, "run state could not be stored; will resume from the journal", "run",
               x->id, "error", error ? error : "", NULL);
        exec_release(x);
        return;
    }
    then(x);
}

/* Submits b and continues with then(x) once it is committed. */
static void commit(struct exec *x, struct wr_journal_batch *b, then_fn then)
{
    if (x->carry) {
        /* what was carried first, then b: one transaction, in the order they happened */
        wr_journal_batch_move_ops(x->carry, b);
        if (b->count > 0) {
            /* b brings events (guard.notify's): they keep their batch, which takes every op */
            wr_journal_batch_move_ops(b, x->carry);
            wr_journal_batch_free(x->carry);
        } else {
            wr_journal_batch_free(b);
            b = x->carry;
        }
        x->carry = NULL;
    }
    struct commit_wait *w = wr_xcalloc(1, sizeof(*w));
    w->x = x;
    w->then = then;
    if (wr_journal_submit(x->r->journal, b, on_commit, w) != 0) {
        free(w);
        exec_release(x);
    }
}

/*
 * Records b without waiting for it, and continues with then(x) at once: b rides with the
 * next commit. Only for transitions after which nothing leaves weir before that commit (a
 * step's result followed by the next step's "running" record, the run's start followed by
 * its first step, a script's result): every record is still durable before the next effect,
 * in fewer fsyncs. A crash in between loses only records of work without effects outside
 * (a script runs again, as does an action whose result was not yet stored).
 */
static void carry(struct exec *x, struct wr_journal_batch *b, then_fn then)
{
    if (x->carry) {
        wr_journal_batch_move_ops(x->carry, b);
        wr_journal_batch_free(b);
    } else {
        x->carry = b;
    }
    then(x);
}

static void on_carry_stored(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    (void)arg;
    (void)b;
    if (rc != 0) {
        wr_log(WR_LOG_ERROR, "run state could not be stored; will resume from the journal", "error",
               error ? error : "", NULL);
    }
}

static void set_run(struct wr_journal_batch *b, const char *id, const char *status, int64_t next_at,
                    const char *msg)
{
    char *error = wr_text_cap(msg, WR_STORED_ERROR_MAX);
    wr_runstate_set_run(b, id, status, next_at, error, wr_clock_wall_ms());
    free(error);
}

static void set_step(struct wr_journal_batch *b, struct exec *x, const char *status,
                     const char *args, const char *output, const char *msg)
{
    char *error = wr_text_cap(msg, WR_STORED_ERROR_MAX);
    const struct wr_step *s = current_step(x);
    int64_t now = wr_clock_wall_ms();
    if (x->counted && strcmp(status, "running") != 0) {
        /* A step finished (or paused durably): this start did not end in a crash loop. */
        wr_runstate_reset_crashes(b, x->id);
        x->counted = false;
        suspect_release(x);
    }
    bool started = strcmp(status, "running") == 0 || strcmp(status, "waiting") == 0;
    bool open = started || strcmp(status, "retrying") == 0;
    int64_t started_at = strcmp(status, "running") == 0 ? now : x->wait_started;
    /* NULL (-1) keeps what is stored: started_at only changes when a step starts. */
    const char *sid = s && s->id ? s->id : NULL;
    int64_t attempts = x->attempts;
    if (started && open) {
        wr_runstate_set_step(b, x->id, step_row(x), sid, status, attempts, started_at, -1, args,
                             output, error, x->throttled_since);
    } else if (open) {
        wr_runstate_set_step(b, x->id, step_row(x), sid, status, attempts, -1, -1, args, output,
                             error, x->throttled_since);
    } else {
        wr_runstate_set_step(b, x->id, step_row(x), sid, status, attempts, -1, now, args, output,
                             error, x->throttled_since);
    }
    free(error);
}

/* }====== */

static void next_step(struct exec *x);
static void run_step(struct exec *x);
static struct json_object *approval_scope(struct exec *x, size_t req);
static void after_approval_waiting(struct exec *x);
static bool approval_asked(struct exec *x, size_t req);
static void record_attempt(struct exec *x);
static bool guard_applies(struct exec *x);
static void guard_step(struct exec *x);
static void guard_row(void *arg, const char *user, const char *run_id, int64_t at);

static void finish(struct exec *x, const char *status, const char *error)
{
    struct wr_journal_batch *b = wr_journal_batch_new();
    /* A failed run's error is its failed step's, already stored in that step's row. */
    set_run(b, x->id, status, 0, strcmp(status, "failed") == 0 ? NULL : error);
    wr_metrics_run_finished(x->wf->name, status);
    wr_log(strcmp(status, "failed") == 0 ? WR_LOG_WARN : WR_LOG_INFO, "run finished", "run", x->id,
           "workflow", x->wf->name, "status", status, "error", error ? error : "", NULL);
    commit(x, b, exec_release);
}

/* A step failed for good: on_error steps, or the end of the run. */
static void fail_run(struct exec *x, const char *error)
{
    const struct wr_step *s = current_step(x);
    if (!x->in_on_error && x->wf->non_error > 0) {
        json_object_put(x->error);
        x->error = json_object_new_object();
        json_object_object_add(x->error, "message", json_object_new_string(error));
        json_object_object_add(x->error, "step",
                               s && s->id ? json_object_new_string(s->id)
                                          : json_object_new_int((int)x->idx));
        if (s && s->action) {
            json_object_object_add(x->error, "action", json_object_new_string(s->action->name));
        }
        x->in_on_error = true;
        x->idx = 0;
        x->attempts = 0;
        run_step(x);
        return;
    }
    /* The run's error is the original failure, also when on_error steps ran. */
    const char *msg =
        x->error ? json_object_get_string(json_object_object_get(x->error, "message")) : error;
    finish(x, "failed", msg);
}

static void after_step_recorded(struct exec *x)
{
    next_step(x);
}

static void after_failure_recorded(struct exec *x)
{
    fail_run(x, x->pending_error);
}

static void next_step(struct exec *x)
{
    x->idx++;
    x->attempts = 0;
    x->wait_started = 0;
    run_step(x);
}

/*
 * Graph throttled the step's attempt (after the client's own retries, which honoured every
 * Retry-After), or another service did (service, borrowed: its origin; NULL = Graph): the
 * attempt does not count, and the step waits as long as asked — for at most
 * retry.throttle_limit since the throttling began. Returns true when the step was parked as
 * `retrying` (b taken: committed); false when the limit is spent, with the step's error (owned)
 * in *error_out.
 */
static bool throttle_wait(struct exec *x, struct wr_journal_batch *b, int64_t retry_after_ms,
                          const char *service, const char *error, const char *args,
                          char **error_out)
{
    const struct wr_step *s = current_step(x);
    const char *by = service ? service : "Graph";
    int64_t now = wr_clock_wall_ms();
    if (!x->throttled_since) {
        x->throttled_since = now;
    }
    int64_t waited = now - x->throttled_since;
    char limit[WR_DURATION_BUFLEN], so_far[WR_DURATION_BUFLEN], in[WR_DURATION_BUFLEN];
    wr_duration_format(s->retry.throttle_limit_ms, limit, sizeof(limit));
    if (waited >= s->retry.throttle_limit_ms) {
        *error_out = wr_xasprintf("%s kept throttling this step for %s (retry.throttle_limit): %s",
                                  by, limit, error);
        return false;
    }
    /* Never sooner than asked; without a Retry-After, wait as long as the throttling
       has lasted so far (so the wait doubles), within retry.initial .. retry.max. */
    int64_t delay = retry_after_ms;
    if (delay <= 0) {
        delay = waited < s->retry.initial_ms ? s->retry.initial_ms : waited;
        delay = delay > s->retry.max_ms ? s->retry.max_ms : delay;
    }
    delay += (int64_t)(random() % (delay / 10 + 1)); /* spread a throttled crowd out */
    x->attempts--; /* recorded as started; it does not count against retry.attempts */
    wr_duration_format(delay, in, sizeof(in));
    wr_duration_format(waited - waited % 1000, so_far, sizeof(so_far));
    char *why = wr_xasprintf("throttled by %s for %s so far (at most %s, retry.throttle_limit; "
                             "not counted against retry.attempts), next try in %s: %s",
                             by, so_far, limit, in, error);
    set_step(b, x, "retrying", args, NULL, why);
    set_run(b, x->id, "retrying", now + delay, NULL);
    char *msg = wr_xasprintf("step throttled by %s; waiting", by);
    wr_log(WR_LOG_WARN, msg, "run", x->id, "workflow", x->wf->name, "step", s->id ? s->id : s->path,
           "retry_in", in, "error", error, NULL);
    free(msg);
    free(why);
    commit(x, b, exec_release);
    return true;
}

/*
 * Records a step's result and moves on (or fails the run). throttle_ms >= 0: the failure was
 * Graph throttling, with that Retry-After (0 = none given); -1 otherwise.
 */
static void step_done_throttled(struct exec *x, bool ok, bool retriable, int64_t throttle_ms,
                                struct json_object *output, const char *error, const char *args)
{
    const struct wr_step *s = current_step(x);
    struct wr_journal_batch *b = wr_journal_batch_new();
    char took[32] = "";
    bool replica_lag = x->replica_lag;
    char *throttled_by = x->throttled_by;
    x->replica_lag = false;
    x->throttled_by = NULL;
    if (x->attempt_started) {
        int64_t ms = wr_clock_mono_ms() - x->attempt_started;
        wr_metrics_step(x->wf->name, s->action ? s->action->name : "script", (double)ms / 1000.0);
        snprintf(took, sizeof(took), "%lldms", (long long)ms);
        x->attempt_started = 0;
    }
    char *limit_error = NULL;
    if (!ok && retriable && throttle_ms >= 0) {
        bool parked = throttle_wait(x, b, throttle_ms, throttled_by, error, args, &limit_error);
        free(throttled_by);
        throttled_by = NULL;
        if (parked) {
            return;
        }
        error = limit_error;
        retriable = false;
    }
    free(throttled_by);
    x->throttled_since = 0; /* any other outcome ends a throttled spell */
    if (ok) {
        char attempt[16];
        snprintf(attempt, sizeof(attempt), "%d", x->attempts);
        wr_log(WR_LOG_INFO, "step succeeded", "run", x->id, "workflow", x->wf->name, "step",
               s->id ? s->id : s->path, "attempt", attempt, "duration", took, NULL);
        const char *out = json_object_to_json_string_ext(
            output, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        set_step(b, x, "succeeded", args, out, NULL);
        if (s->id) {
            json_object_object_add(x->outputs, s->id, json_object_get(output));
        }
        carry(x, b, after_step_recorded);
        return;
    }
    /* Replica lag (action_run.h) is retried past retry.attempts: the action bounds it by the
       directory's replication window. Its attempts count, so `weir show` tells how many. */
    if (retriable && (x->attempts < s->retry.attempts || replica_lag)) {
        /* Exponential backoff with jitter; the next attempt time is stored. */
        int64_t delay = s->retry.initial_ms;
        for (int i = 1; i < x->attempts && delay < s->retry.max_ms; i++) {
            delay *= 2;
        }
        if (delay > s->retry.max_ms) {
            delay = s->retry.max_ms;
        }
        delay = delay / 2 + (int64_t)(random() % (delay / 2 + 1));
        set_step(b, x, "retrying", args, NULL, error);
        set_run(b, x->id, "retrying", wr_clock_wall_ms() + delay, NULL);
        char attempt[16], in[32];
        snprintf(attempt, sizeof(attempt), "%d", x->attempts);
        snprintf(in, sizeof(in), "%lldms", (long long)delay);
        wr_log(WR_LOG_WARN, "step failed; will retry", "run", x->id, "workflow", x->wf->name,
               "step", s->id ? s->id : s->path, "attempt", attempt, "retry_in", in, "error", error,
               NULL);
        commit(x, b, exec_release);
        return;
    }
    set_step(b, x, "failed", args, NULL, error);
    wr_log(WR_LOG_WARN, "step failed", "run", x->id, "workflow", x->wf->name, "step",
           s->id ? s->id : s->path, "error", error, NULL);
    if (s->continue_on_error) {
        x->had_errors = true;
        free(limit_error);
        commit(x, b, after_step_recorded);
        return;
    }
    /* Record the failure first, then decide what follows (on_error steps or the end). */
    free(x->pending_error);
    x->pending_error = wr_xstrdup(error);
    free(limit_error);
    commit(x, b, after_failure_recorded);
}

static void step_done(struct exec *x, bool ok, bool retriable, struct json_object *output,
                      const char *error, const char *args)
{
    step_done_throttled(x, ok, retriable, -1, output, error, args);
}

/* {====== scopes and arguments ====== */

/* {====== approval steps ====== */

/* Loads (creating it the first time) the key the approval links are made with. */
static int approval_key(struct wr_runner *r, char *err, size_t errlen)
{
    if (!r->key_loaded) {
        if (wr_approval_key_load(r->state, r->key, err, errlen) != 0) {
            return -1;
        }
        r->key_loaded = true;
    }
    return 0;
}

/* "2026-12-09T10:00:00Z" for Unix ms. */
static void iso_utc(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The link of approver on request a (owned): PUBLIC_URL/approvals/TOKEN. The token is
   registered as a secret, so that it never reaches a log line or the journal in clear. */
static char *approval_link(struct wr_runner *r, const struct wr_approval *a, const char *approver)
{
    char token[WR_CAPTOKEN_LEN + 1];
    wr_captoken_make(r->key, a->run_id, a->step_idx, approver, a->nonce, token);
    wr_secret_register(token);
    const char *base = r->public_url ? r->public_url : "";
    size_t n = strlen(base);
    return wr_xasprintf("%.*s/approvals/%s", (int)(n && base[n - 1] == '/' ? n - 1 : n), base,
                        token);
}

/*
 * `approval` for the notify steps and the wait of request req (an index in x's current list):
 * {message, approvers, expires_at, links {approver: url}, url (one approver)}, owned; NULL
 * when the request is not stored (its when: was false).
 */
static struct json_object *approval_scope(struct exec *x, size_t req)
{
    struct wr_runner *r = x->r;
    struct wr_approval a = {0};
    char err[WR_ERR_MAX];
    int64_t row = (int64_t)req + (x->in_on_error ? WR_ON_ERROR_BASE : 0);
    if (r->dry_run) {
        return x->dry_approval ? json_object_get(x->dry_approval) : NULL;
    }
    if (wr_approval_get(wr_runstate_db(r->rs), x->id, row, &a, err, sizeof(err)) != 1) {
        return NULL;
    }
    struct json_object *o = json_object_new_object(), *links = json_object_new_object();
    struct json_object *who = wr_json_parse_str(a.approvers);
    char at[32];
    iso_utc(a.expires_at, at, sizeof(at));
    json_object_object_add(o, "message", json_object_new_string(a.message));
    json_object_object_add(o, "expires_at", json_object_new_string(at));
    bool keyed = approval_key(r, err, sizeof(err)) == 0;
    size_t n = json_object_is_type(who, json_type_array) ? json_object_array_length(who) : 0;
    for (size_t i = 0; keyed && i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(who, i));
        char *link = approval_link(r, &a, name);
        json_object_object_add(links, name, json_object_new_string(link));
        if (n == 1) {
            json_object_object_add(o, "url", json_object_new_string(link));
        }
        free(link);
    }
    json_object_object_add(o, "approvers", who ? who : json_object_new_array());
    json_object_object_add(o, "links", links);
    wr_approval_clear(&a);
    return o;
}

/* Whether request req (an index in x's current list) was stored: its when: held. */
static bool approval_asked(struct exec *x, size_t req)
{
    struct wr_approval a = {0};
    char err[WR_ERR_MAX];
    int64_t row = (int64_t)req + (x->in_on_error ? WR_ON_ERROR_BASE : 0);
    if (x->r->dry_run) {
        return x->dry_approval != NULL;
    }
    int rc = wr_approval_get(wr_runstate_db(x->r->rs), x->id, row, &a, err, sizeof(err));
    wr_approval_clear(&a);
    return rc != 0; /* an error: let the step try, and tell */
}

/* }====== */

static int make_scope(struct exec *x)
{
    struct wr_lua *lua = x->wf->lua;
    int scope = wr_lua_scope_new(lua);
    struct json_object *run = json_object_new_object();
    json_object_object_add(run, "id", json_object_new_string(x->id));
    json_object_object_add(run, "workflow", json_object_new_string(x->wf->name));
    wr_lua_scope_set(lua, scope, "event", x->event);
    wr_lua_scope_set(lua, scope, "steps", x->outputs);
    wr_lua_scope_set(lua, scope, "vars", x->wf->vars);
    wr_lua_scope_set(lua, scope, "run", run);
    if (x->error) {
        wr_lua_scope_set(lua, scope, "error", x->error);
    }
    struct json_object *g = NULL;
    if (x->wf == x->r->guard_notify && json_object_object_get_ex(x->event, "guard", &g)) {
        wr_lua_scope_set(lua, scope, "guard", g);
    }
    const struct wr_step *s = current_step(x);
    if (s && s->approval != WR_NO_APPROVAL && s->kind != WR_STEP_APPROVAL) {
        struct json_object *a = approval_scope(x, s->approval);
        if (a) {
            wr_lua_scope_set(lua, scope, "approval", a);
            json_object_put(a);
        }
    }
    json_object_put(run);
    return scope;
}

/* The action's own arguments: the step mapping without the keys every step has. */
static struct json_object *action_args(const struct wr_step *s)
{
    static const char *const step_keys[] = {"id",     "name", "when", "retry", "continue_on_error",
                                            "action", NULL};
    struct json_object *o = json_object_new_object();
    json_object_object_foreach(s->args, key, val)
    {
        bool skip = false;
        for (size_t i = 0; step_keys[i]; i++) {
            skip = skip || strcmp(key, step_keys[i]) == 0;
        }
        if (!skip) {
            json_object_object_add(o, key, json_object_get(val));
        }
    }
    return o;
}

/* }====== */

/* {====== executing one step ====== */

struct action_wait {
    struct exec *x;
    char *args; /* rendered, as stored */
};

static void on_action_done(void *arg, const struct wr_action_outcome *out)
{
    struct action_wait *w = arg;
    struct exec *x = w->x;
    if (out->ok && out->plan) {
        /* A dry run keeps what would have been sent beside the output. */
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "output", json_object_get(out->output));
        json_object_object_add(o, "plan", json_object_get(out->plan));
        step_done(x, true, false, o, NULL, w->args);
        json_object_put(o);
    } else if (out->ok) {
        step_done(x, true, false, out->output, NULL, w->args);
    } else {
        x->replica_lag = out->replica_lag; /* read (and cleared) by step_done_throttled */
        free(x->throttled_by);             /* the same */
        x->throttled_by = out->throttled_by ? wr_xstrdup(out->throttled_by) : NULL;
        step_done_throttled(x, false, out->retriable, out->throttled ? out->retry_after_ms : -1,
                            NULL, out->error, w->args);
    }
    free(w->args);
    free(w);
}

static void start_action(struct exec *x);

static void action_recorded(struct exec *x)
{
    start_action(x);
}

static struct json_object *rendered_args_for(struct exec *x, char *err, size_t errlen)
{
    const struct wr_step *s = current_step(x);
    int scope = make_scope(x);
    struct json_object *raw = action_args(s), *out = NULL;
    /* Strict: nil is no value for Graph, and each argument keeps the type its action takes. */
    int rc = wr_lua_render_args(x->wf->lua, scope, raw, s->path, &out, err, errlen);
    if (rc == 0 && wr_argspec_check_rendered(s->action->args, raw, out, s->path, err, errlen)) {
        json_object_put(out);
        out = NULL;
        rc = -1;
    }
    json_object_put(raw);
    wr_lua_scope_free(x->wf->lua, scope);
    return rc == 0 ? out : NULL;
}

static void start_action(struct exec *x)
{
    const struct wr_step *s = current_step(x);
    x->attempt_started = wr_clock_mono_ms(); /* the step's own time, after its "running" commit */
    char err[WR_ERR_MAX];
    /* Rendered once: the guard's rendering, made just before this attempt's "running" commit
       in the same scope, is the one the action gets. */
    struct json_object *args = x->rendered ? x->rendered : rendered_args_for(x, err, sizeof(err));
    x->rendered = NULL;
    if (!args) {
        step_done(x, false, false, NULL, err, NULL);
        return;
    }
    struct action_wait *w = wr_xcalloc(1, sizeof(*w));
    w->x = x;
    w->args = wr_xstrdup(json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    if (x->lost_secret_step && strstr(w->args, WR_SECRET_MASK)) {
        /* A secret of an earlier step (a Temporary Access Pass) went through a restart: the
           journal holds it masked, and this step would send the mask in its place. */
        char *why = wr_xasprintf("an argument holds \"" WR_SECRET_MASK "\" where a secret of an "
                                 "earlier step's output was (steps.%s): secrets such as a "
                                 "Temporary Access Pass are not kept across restarts, and weir "
                                 "restarted after that step; not sending the mask in its place",
                                 x->lost_secret_step);
        char *a = w->args;
        free(w);
        step_done(x, false, false, NULL, why, a);
        free(a);
        free(why);
        json_object_put(args);
        return;
    }
    struct wr_action_env env = {.base = x->r->base,
                                .graph = x->r->graph,
                                .dir = x->r->dir,
                                .dry_run = x->r->dry_run,
                                .net = x->r->net};
    /* cancel-runs: this run, and where runs are (the daemon's store, read only, in a dry run) */
    env.run_id = x->id;
    env.journal = x->r->dry_run ? NULL : x->r->journal;
    env.runs = x->r->dry_run ? x->r->guard_rs : x->r->rs;
    env.workflows = x->r->dry_run ? NULL : x->r->set;
    env.mail_from = x->r->mail_from;
    char *wf_dir = x->wf->file ? wr_path_dirname(x->wf->file) : NULL;
    env.workflow_dir = wf_dir; /* copied by wr_action_start */
    if (!x->r->graph || wr_action_start(&env, s->action, args, on_action_done, w) != 0) {
        char *a = w->args;
        free(w);
        step_done(x, false, false, NULL,
                  x->r->graph ? "this action cannot be executed" : "no Graph client configured", a);
        free(a);
    }
    free(wf_dir);
    json_object_put(args);
}

static void run_script(struct exec *x)
{
    const struct wr_step *s = current_step(x);
    x->attempt_started = wr_clock_mono_ms();
    struct json_object *ctx = json_object_new_object(), *out = NULL;
    struct json_object *run = json_object_new_object();
    char err[WR_ERR_MAX], *trace = NULL;
    json_object_object_add(run, "id", json_object_new_string(x->id));
    json_object_object_add(ctx, "workflow", json_object_new_string(x->wf->name));
    json_object_object_add(ctx, "run", run);
    json_object_object_add(ctx, "vars", json_object_get(x->wf->vars));
    json_object_object_add(ctx, "steps", json_object_get(x->outputs));
    int rc = wr_lua_call_hook(x->wf->lua, s->hook, x->event, ctx, &out, err, sizeof(err), &trace);
    json_object_put(ctx);
    if (rc == 0) {
        step_done(x, true, false, out ? out : NULL, NULL, NULL);
    } else {
        step_done(x, false, false, NULL, trace ? trace : err, NULL);
    }
    free(trace);
    json_object_put(out);
}

/*
 * The instant a rendered wait_until names, in epoch milliseconds rounded up (never early),
 * through the one timestamp reader (engine/base/timestamp). -1 with err set when it is not one.
 */
static int64_t wait_until_ms(struct json_object *v, const char *path, char *err, size_t errlen)
{
    int64_t sec;
    int32_t nsec;
    char why[WR_ERR_MAX];
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(err, errlen, "%s: expected an ISO-8601 timestamp, got %s", path,
                 wr_json_type_name(v));
        return -1;
    }
    const char *s = json_object_get_string(v);
    if (wr_timestamp_parse(s, (size_t)json_object_get_string_len(v), &sec, &nsec, why) != 0) {
        wr_errf_marked(err, errlen, "%s: '%.*s': %s", path, wr_utf8_prec(s, 80), s, why);
        return -1;
    }
    return sec * 1000 + (nsec + 999999) / 1000000;
}

static void run_wait(struct exec *x)
{
    const struct wr_step *s = current_step(x);
    int64_t until;
    if (s->wait_until) {
        char err[WR_ERR_MAX];
        int scope = make_scope(x);
        struct json_object *t = json_object_new_string(s->wait_until), *v = NULL;
        char *path = wr_path_key(s->path, "wait_until");
        int rc = wr_lua_render_args(x->wf->lua, scope, t, path, &v, err, sizeof(err));
        wr_lua_scope_free(x->wf->lua, scope);
        json_object_put(t);
        until = rc == 0 ? wait_until_ms(v, path, err, sizeof(err)) : -1;
        free(path);
        json_object_put(v);
        if (until < 0) {
            step_done(x, false, false, NULL, err, NULL);
            return;
        }
    } else {
        if (!x->wait_started) {
            x->wait_started = wr_clock_wall_ms();
        }
        until = x->wait_started + s->wait_ms;
    }
    if (x->r->dry_run) {
        struct json_object *out = json_object_new_object();
        json_object_object_add(out, "would_wait_ms",
                               json_object_new_int64(until - wr_clock_wall_ms()));
        step_done(x, true, false, out, NULL, NULL);
        json_object_put(out);
        return;
    }
    if (wr_clock_wall_ms() >= until) {
        struct json_object *out = json_object_new_object();
        step_done(x, true, false, out, NULL, NULL);
        json_object_put(out);
        return;
    }
    if (!x->wait_started) {
        x->wait_started = wr_clock_wall_ms();
    }
    struct wr_journal_batch *b = wr_journal_batch_new();
    set_step(b, x, "waiting", NULL, NULL, NULL);
    set_run(b, x->id, "waiting", until, NULL);
    commit(x, b, exec_release);
}

/* {====== the guard: the mass-change brake before destructive steps ====== */

static const struct wr_guard_limits *guard_limits(const struct exec *x)
{
    const struct wr_guard_limits *l = x->wf->guard.set ? &x->wf->guard : &x->r->guard_limits;
    return l->set ? l : NULL;
}

/* Whether the step about to start may be checked at all (its arguments decide the rest). */
static bool guard_applies(struct exec *x)
{
    const struct wr_step *s = current_step(x);
    if (!guard_limits(x) || !s->action || s->action->destructive == WR_DESTRUCTIVE_NO ||
        x->wf == x->r->guard_notify) {
        return false;
    }
    if (x->released < 0) {
        x->released = wr_runstate_guard_released(x->r->rs, x->id);
    }
    return !x->released;
}

static void after_hold(struct exec *x)
{
    x->r->holding--;
    exec_release(x);
}

/* Holds x before its current step: status held, the reason in history; the run stays there
   until `weir release` or `weir reject`. A trip (nothing held before) starts guard.notify. */
static void hold(struct exec *x, struct json_object *args, const char *why, int64_t held,
                 int64_t limit, int64_t count, const char *which)
{
    struct wr_runner *r = x->r;
    const struct wr_step *s = current_step(x);
    const struct wr_guard_limits *l = guard_limits(x);
    const char *user = json_object_get_string(json_object_object_get(args, "user"));
    char window[WR_DURATION_BUFLEN];
    wr_duration_format(l->window_ms, window, sizeof(window));
    char *reason = wr_xasprintf("held by the guard before step '%s' (%s %s): %s",
                                s->id ? s->id : s->path, s->action->name, user ? user : "", why);
    const char *text = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    struct wr_journal_batch *b = wr_journal_batch_new();
    set_step(b, x, "held", text, NULL, reason);
    set_run(b, x->id, "held", 0, reason);
    bool trip = held == 0;
    if (trip && r->guard_notify && !r->dry_run) {
        struct json_object *ev = json_object_new_object(), *g = json_object_new_object();
        json_object_object_add(g, "held", json_object_new_int64(1));
        json_object_object_add(g, "limit", json_object_new_int64(limit));
        json_object_object_add(g, "which", json_object_new_string(which));
        json_object_object_add(g, "window", json_object_new_string(window));
        json_object_object_add(g, "count", json_object_new_int64(count));
        json_object_object_add(g, "reason", json_object_new_string(reason));
        json_object_object_add(g, "run", json_object_new_string(x->id));
        json_object_object_add(g, "workflow", json_object_new_string(x->wf->name));
        json_object_object_add(ev, "guard", g);
        struct wr_journal_event *e = wr_journal_batch_add(
            b, "guard", NULL, NULL, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN),
            wr_clock_wall_ms());
        wr_journal_batch_add_run(e, r->guard_notify->name, r->guard_notify->hash, NULL, NULL);
        json_object_put(ev);
    }
    if (trip) {
        wr_metrics_guard_trip();
    }
    wr_log(WR_LOG_WARN, trip ? "guard tripped: run held" : "run held by the guard", "run", x->id,
           "workflow", x->wf->name, "reason", reason, NULL);
    free(reason);
    r->holding++;
    commit(x, b, after_hold);
}

/* Decides x's current (destructive) step against the window; continues or holds. */
static void guard_decide(struct exec *x, struct json_object *args)
{
    struct wr_runner *r = x->r;
    const struct wr_guard_limits *l = guard_limits(x);
    const char *user = json_object_get_string(json_object_object_get(args, "user"));
    char key[64];
    if (!user || !*user) {
        snprintf(key, sizeof(key), "run:%s", x->id); /* no user argument: the run is the unit */
        user = key;
    }
    int64_t now = wr_clock_wall_ms(), limit = 0, count = 0;
    if (wr_runstate_shared(r->guard_rs)) {
        /* Several instances count into one window: what the others noted, read again. */
        wr_runstate_guard_load(r->guard_rs, now - WR_GUARD_MAX_WINDOW_MS, guard_row, r->guard);
    }
    int64_t held = wr_runstate_held_count(r->guard_rs) + r->holding;
    const char *which = "max";
    char why[WR_ERR_MAX];
    switch (wr_guard_decide(r->guard, l, user, x->id, now, r->users, held, &limit, &count, &which,
                            why, sizeof(why))) {
    case WR_GUARD_PASS:
        x->rendered = json_object_get(args);
        record_attempt(x);
        return;
    case WR_GUARD_COUNT:
        if (now - r->guard_pruned > WR_GUARD_USERS_TTL_MS) {
            wr_guard_prune(r->guard, now); /* notes older than any window */
            r->guard_pruned = now;
        }
        wr_guard_note(r->guard, user, x->id, now);
        free(x->guard_user);
        x->guard_user = wr_xstrdup(user);
        x->rendered = json_object_get(args);
        record_attempt(x);
        return;
    case WR_GUARD_HOLD:
        hold(x, args, why, held, limit, count, which);
        return;
    }
}

static void guard_step(struct exec *x);

/* The tenant's user count arrived (wr_directory_done_fn): every run waiting for it goes on. */
static void on_users(void *arg, const struct wr_directory_result *res)
{
    struct wr_runner *r = arg;
    if (res->ok) {
        r->users = json_object_get_int64(res->object);
        r->users_at = wr_clock_mono_ms();
        r->users_error[0] = '\0';
    } else {
        r->users = -1;
        r->users_at = wr_clock_mono_ms();
        wr_errf_marked(r->users_error, sizeof(r->users_error), "%s", res->error);
    }
    struct exec **v = r->users_waiting;
    size_t n = r->nusers_waiting;
    r->users_waiting = NULL;
    r->nusers_waiting = 0;
    for (size_t i = 0; i < n; i++) {
        guard_step(v[i]);
    }
    free(v);
}

static void guard_step(struct exec *x)
{
    struct wr_runner *r = x->r;
    const struct wr_step *s = current_step(x);
    const struct wr_guard_limits *l = guard_limits(x);
    char err[WR_ERR_MAX];
    struct json_object *args = rendered_args_for(x, err, sizeof(err));
    if (!args || !wr_action_destructive(s->action, args)) {
        x->rendered = args; /* NULL: start_action renders again and reports the error */
        record_attempt(x);
        return;
    }
    bool fresh = r->users_at && wr_clock_mono_ms() - r->users_at < WR_GUARD_USERS_TTL_MS &&
                 (r->users >= 0 || wr_clock_mono_ms() - r->users_at < 60000);
    if (l->percent > 0 && !fresh && r->dir) {
        /* The percentage needs the tenant's size: read it once for every run asking now. */
        json_object_put(args);
        r->users_waiting =
            wr_xrealloc(r->users_waiting, (r->nusers_waiting + 1) * sizeof(*r->users_waiting));
        r->users_waiting[r->nusers_waiting++] = x;
        if (r->nusers_waiting == 1) {
            wr_directory_user_count(r->dir, on_users, r);
        }
        return;
    }
    if (l->percent > 0 && r->users < 0 && l->max <= 0) {
        /* Only a percentage, and the tenant's size unknown: nothing to count against. */
        char msg[WR_ERR_MAX];
        wr_errf_marked(msg, sizeof(msg),
                       "guard: the tenant's user count could not be read for "
                       "guard.destructive.percent: %s",
                       r->users_error[0] ? r->users_error : "no Graph client");
        json_object_put(args);
        x->attempts++;
        step_done(x, false, true, NULL, msg, NULL);
        return;
    }
    guard_decide(x, args);
    json_object_put(args);
}

/* }====== */

/* {====== approval steps: the request and the wait ====== */

static const char *step_label(const struct wr_step *s)
{
    return s->kind == WR_STEP_ACTION     ? s->action->name
           : s->kind == WR_STEP_SCRIPT   ? "script"
           : s->kind == WR_STEP_WAIT     ? "wait"
           : s->kind == WR_STEP_APPROVAL ? "approval request"
                                         : "approval";
}

/* What the steps after the approval's wait will do, for the decision page: [{step, action,
   args}] with the arguments rendered where they can be now (else as written). Owned. */
static struct json_object *approval_plan(struct exec *x, size_t wait)
{
    struct json_object *plan = json_object_new_array();
    const struct wr_step *list = x->in_on_error ? x->wf->on_error : x->wf->steps;
    size_t n = x->in_on_error ? x->wf->non_error : x->wf->nsteps;
    for (size_t i = wait + 1; i < n && json_object_array_length(plan) < 20; i++) {
        const struct wr_step *s = &list[i];
        if (s->approval != WR_NO_APPROVAL && s->kind != WR_STEP_APPROVAL) {
            continue; /* a later approval's notify steps and wait: its request says enough */
        }
        struct json_object *o = json_object_new_object(), *args = NULL;
        json_object_object_add(o, "step", json_object_new_string(s->id ? s->id : s->path));
        json_object_object_add(o, "action", json_object_new_string(step_label(s)));
        if (s->kind == WR_STEP_ACTION) {
            size_t idx = x->idx;
            char err[WR_ERR_MAX];
            x->idx = i; /* rendered as that step would be, in today's scope */
            args = rendered_args_for(x, err, sizeof(err));
            x->idx = idx;
            if (!args) {
                args = action_args(s);
            }
        }
        json_object_object_add(o, "args", args);
        json_object_array_add(plan, o);
    }
    return plan;
}

/* The request: stores it with one token hash per approver, and goes on to its notify steps. */
static void run_approval_request(struct exec *x)
{
    struct wr_runner *r = x->r;
    const struct wr_step *s = current_step(x);
    char err[WR_ERR_MAX];
    struct json_object *raw = json_object_new_object(), *out = NULL, *v = NULL;
    if (json_object_object_get_ex(s->approval_args, "approvers", &v)) {
        json_object_object_add(raw, "approvers", json_object_get(v));
    }
    if (json_object_object_get_ex(s->approval_args, "message", &v)) {
        json_object_object_add(raw, "message", json_object_get(v));
    }
    int scope = make_scope(x);
    char *path = wr_path_key(s->path, "approval");
    int rc = wr_lua_render_args(x->wf->lua, scope, raw, path, &out, err, sizeof(err));
    wr_lua_scope_free(x->wf->lua, scope);
    json_object_put(raw);
    free(path);
    if (rc != 0) {
        x->attempts++;
        step_done(x, false, false, NULL, err, NULL);
        json_object_put(out);
        return;
    }
    /* Approvers: trimmed, without duplicates or blanks (a template may give ""). */
    struct json_object *who = json_object_new_array(), *seen = json_object_new_object();
    json_object_object_get_ex(out, "approvers", &v);
    for (size_t i = 0; v && i < json_object_array_length(v); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(v, i));
        char *t = wr_xstrdup(name ? name : "");
        char *b = t, *e = t + strlen(t);
        while (*b == ' ' || *b == '\t') {
            b++;
        }
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) {
            *--e = '\0';
        }
        if (*b && !json_object_object_get_ex(seen, b, NULL)) {
            json_object_object_add(seen, b, NULL);
            json_object_array_add(who, json_object_new_string(b));
        }
        free(t);
    }
    json_object_put(seen);
    size_t n = json_object_array_length(who);
    if (n == 0) {
        x->attempts++;
        step_done(x, false, false, NULL,
                  "approval.approvers: every approver rendered empty: nobody could decide", NULL);
        json_object_put(who);
        json_object_put(out);
        return;
    }
    int64_t now = wr_clock_wall_ms();
    char nonce[33], at[32];
    if (r->dry_run) {
        /* Nothing stored, no link made: the notify steps are planned with a stand-in. */
        struct json_object *d = json_object_new_object(), *links = json_object_new_object();
        iso_utc(now + s->timeout_ms, at, sizeof(at));
        for (size_t i = 0; i < n; i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(who, i));
            char *link = wr_xasprintf("%s/approvals/(dry run: no link made for %s)",
                                      r->public_url ? r->public_url : "", name);
            json_object_object_add(links, name, json_object_new_string(link));
            if (n == 1) {
                json_object_object_add(d, "url", json_object_new_string(link));
            }
            free(link);
        }
        json_object_object_add(d, "message",
                               json_object_get(json_object_object_get(out, "message")));
        json_object_object_add(d, "expires_at", json_object_new_string(at));
        json_object_object_add(d, "approvers", json_object_get(who));
        json_object_object_add(d, "links", links);
        json_object_put(x->dry_approval);
        x->dry_approval = d;
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "would_ask", json_object_get(who));
        json_object_object_add(o, "message",
                               json_object_get(json_object_object_get(out, "message")));
        x->attempts++;
        step_done(x, true, false, o, NULL, NULL);
        json_object_put(o);
        json_object_put(who);
        json_object_put(out);
        return;
    }
    if (approval_key(r, err, sizeof(err)) != 0) {
        x->attempts++;
        step_done(x, false, false, NULL, err, NULL);
        json_object_put(who);
        json_object_put(out);
        return;
    }
    wr_captoken_nonce(nonce);
    size_t wait = x->idx;
    const struct wr_step *list = x->in_on_error ? x->wf->on_error : x->wf->steps;
    size_t len = x->in_on_error ? x->wf->non_error : x->wf->nsteps;
    while (wait < len && list[wait].kind != WR_STEP_APPROVAL_WAIT) {
        wait++;
    }
    struct json_object *plan = approval_plan(x, wait);
    const char *who_text = json_object_to_json_string_ext(who, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
    struct wr_approval a = {
        .run_id = x->id,
        .step_idx = step_row(x),
        .step_id = wait < len ? (char *)list[wait].id : NULL,
        .workflow = (char *)x->wf->name,
        .message = (char *)json_object_get_string(json_object_object_get(out, "message")),
        .plan = (char *)json_object_to_json_string_ext(plan, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE),
        .approvers = (char *)who_text,
        .nonce = nonce,
        .created_at = now,
        .expires_at = now + s->timeout_ms,
    };
    const char **names = wr_xcalloc(n, sizeof(*names));
    char(*hashes)[65] = wr_xcalloc(n, sizeof(*hashes));
    const char **hp = wr_xcalloc(n, sizeof(*hp));
    for (size_t i = 0; i < n; i++) {
        char token[WR_CAPTOKEN_LEN + 1];
        names[i] = json_object_get_string(json_object_array_get_idx(who, i));
        wr_captoken_make(r->key, x->id, a.step_idx, names[i], nonce, token);
        wr_captoken_hash(token, hashes[i]);
        hp[i] = hashes[i];
    }
    struct wr_journal_batch *b = wr_journal_batch_new();
    wr_approval_put(b, &a, names, hp, n);
    struct json_object *o = json_object_new_object();
    iso_utc(a.expires_at, at, sizeof(at));
    json_object_object_add(o, "approvers", json_object_get(who));
    json_object_object_add(o, "message", json_object_get(json_object_object_get(out, "message")));
    json_object_object_add(o, "expires_at", json_object_new_string(at));
    x->attempts = 1;
    set_step(
        b, x, "succeeded", NULL,
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        NULL);
    wr_log(WR_LOG_INFO, "approval requested", "run", x->id, "workflow", x->wf->name, "step",
           s->path, "approvers", who_text, "expires", at, NULL);
    free(names);
    free(hashes);
    free(hp);
    json_object_put(o);
    json_object_put(plan);
    json_object_put(who);
    json_object_put(out);
    /* Committed before the notify steps: they (and the wait) read the request back. */
    commit(x, b, after_step_recorded);
}

/* The wait: the decision if there is one, the timeout if it passed, else waiting durably. */
static void run_approval_wait(struct exec *x)
{
    struct wr_runner *r = x->r;
    const struct wr_step *s = current_step(x);
    const struct wr_step *list = x->in_on_error ? x->wf->on_error : x->wf->steps;
    const struct wr_step *req = &list[s->approval];
    struct wr_approval a = {0};
    char err[WR_ERR_MAX], at[32], timeout[WR_DURATION_BUFLEN];
    wr_duration_format(req->timeout_ms, timeout, sizeof(timeout));
    if (r->dry_run) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "decision", json_object_new_string("approved"));
        json_object_object_add(o, "by", json_object_new_string("(dry run: nobody was asked)"));
        json_object_object_add(o, "would_wait", json_object_new_string(timeout));
        step_done(x, x->dry_approval != NULL, false, x->dry_approval ? o : NULL,
                  x->dry_approval ? NULL : "(dry run) the approval was not asked", NULL);
        json_object_put(o);
        return;
    }
    int rc = wr_approval_get(wr_runstate_db(r->rs), x->id,
                             (int64_t)s->approval + (x->in_on_error ? WR_ON_ERROR_BASE : 0), &a,
                             err, sizeof(err));
    if (rc < 0) {
        x->attempts++;
        step_done(x, false, true, NULL, err, NULL);
        return;
    }
    if (rc == 0) {
        /* The request's when: was false: no approval was asked, none is awaited. */
        struct wr_journal_batch *b = wr_journal_batch_new();
        set_step(b, x, "skipped", NULL, NULL, NULL);
        carry(x, b, after_step_recorded);
        return;
    }
    int64_t now = wr_clock_wall_ms();
    bool refused =
        (a.decision && strcmp(a.decision, "approved") != 0) || (!a.decision && now >= a.expires_at);
    if (refused && x->attempts > 0) {
        /* A run retried after a rejection or a timeout (`weir retry`) asks again: a new
           request, new links, its notify steps once more. */
        wr_approval_clear(&a);
        x->idx = s->approval;
        x->attempts = 0;
        x->wait_started = 0;
        run_step(x);
        return;
    }
    struct json_object *o = json_object_new_object();
    if (a.decision && strcmp(a.decision, "approved") == 0) {
        iso_utc(a.decided_at, at, sizeof(at));
        json_object_object_add(o, "decision", json_object_new_string("approved"));
        json_object_object_add(o, "by", json_object_new_string(a.decided_by ? a.decided_by : ""));
        json_object_object_add(o, "at", json_object_new_string(at));
        if (a.reason && *a.reason) {
            json_object_object_add(o, "reason", json_object_new_string(a.reason));
        }
        x->attempts = 1;
        step_done(x, true, false, o, NULL, NULL);
    } else if (a.decision) {
        char *why = a.reason && *a.reason
                        ? wr_xasprintf("rejected by %s: %s", a.decided_by, a.reason)
                        : wr_xasprintf("rejected by %s", a.decided_by ? a.decided_by : "?");
        x->attempts = 1;
        step_done(x, false, false, NULL, why, NULL);
        free(why);
    } else if (now >= a.expires_at) {
        char *why = wr_xasprintf("no decision within %s (approval.timeout; asked %s)", timeout,
                                 a.approvers);
        x->attempts = 1;
        step_done(x, false, false, NULL, why, NULL);
        free(why);
    } else {
        if (!x->wait_started) {
            x->wait_started = now;
        }
        struct wr_journal_batch *b = wr_journal_batch_new();
        set_step(b, x, "waiting", NULL, NULL, NULL);
        set_run(b, x->id, "waiting", a.expires_at, NULL);
        commit(x, b, after_approval_waiting);
    }
    json_object_put(o);
    wr_approval_clear(&a);
}

/*
 * The run is stored waiting for its decision. A decision recorded between the read above and
 * this commit found the run still running, so it could not wake it: look once more, and go on
 * now if it came (else the run would sleep until the timeout).
 */
static void after_approval_waiting(struct exec *x)
{
    const struct wr_step *s = current_step(x);
    struct wr_approval a = {0};
    char err[WR_ERR_MAX];
    int64_t row = (int64_t)s->approval + (x->in_on_error ? WR_ON_ERROR_BASE : 0);
    bool decided =
        wr_approval_get(wr_runstate_db(x->r->rs), x->id, row, &a, err, sizeof(err)) == 1 &&
        a.decision;
    wr_approval_clear(&a);
    if (decided && !x->r->stopping) {
        run_approval_wait(x);
        return;
    }
    exec_release(x);
}

/* }====== */

static bool cancelled(const struct exec *x)
{
    return wr_runstate_cancelled(x->r->rs, x->id);
}

static void run_step(struct exec *x)
{
    const struct wr_step *s = current_step(x);
    if (x->r->stopping || cancelled(x)) {
        /* Stopping: everything so far is durable; the next start resumes from here.
           Cancelled (weir cancel, on its own connection): no further step starts. */
        exec_release(x);
        return;
    }
    if (!s) {
        if (x->in_on_error) {
            fail_run(x, json_object_get_string(json_object_object_get(x->error, "message")));
        } else {
            finish(x, x->had_errors ? "succeeded_with_errors" : "succeeded", NULL);
        }
        return;
    }
    if (s->when && x->attempts == 0 && !x->wait_started && !x->throttled_since) {
        char err[WR_ERR_MAX];
        bool yes = false;
        int scope = make_scope(x);
        int rc = wr_lua_eval_bool(x->wf->lua, scope, s->when, &yes, err, sizeof(err));
        wr_lua_scope_free(x->wf->lua, scope);
        if (rc != 0) {
            char msg[WR_ERR_MAX];
            wr_errf_marked(msg, sizeof(msg), "when: %s", err);
            step_done(x, false, false, NULL, msg, NULL);
            return;
        }
        if (!yes) {
            struct wr_journal_batch *b = wr_journal_batch_new();
            set_step(b, x, "skipped", NULL, NULL, NULL);
            carry(x, b, after_step_recorded);
            return;
        }
    }
    if (s->kind == WR_STEP_WAIT) {
        run_wait(x);
        return;
    }
    if (s->kind == WR_STEP_APPROVAL) {
        run_approval_request(x);
        return;
    }
    if (s->kind == WR_STEP_APPROVAL_WAIT) {
        run_approval_wait(x);
        return;
    }
    if (s->approval != WR_NO_APPROVAL && x->attempts == 0 && !approval_asked(x, s->approval)) {
        struct wr_journal_batch *b = wr_journal_batch_new();
        set_step(b, x, "skipped", NULL, NULL, NULL); /* a notify step of an approval not asked */
        carry(x, b, after_step_recorded);
        return;
    }
    if (s->kind == WR_STEP_ACTION && guard_applies(x)) {
        guard_step(x); /* then record_attempt, or the run is held */
        return;
    }
    record_attempt(x);
}

static void record_attempt(struct exec *x)
{
    const struct wr_step *s = current_step(x);
    /* Record "started" (with the attempt) before the effect: after a crash it runs again. */
    x->attempts++;
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%d", x->attempts);
    wr_log(WR_LOG_DEBUG, "step attempt started", "run", x->id, "workflow", x->wf->name, "step",
           s->id ? s->id : s->path, "attempt", attempt, NULL);
    struct wr_journal_batch *b = wr_journal_batch_new();
    set_step(b, x, "running", NULL, NULL, NULL);
    if (x->guard_user) {
        /* The user counts against the window from this commit on, before any effect. */
        int64_t now = wr_clock_wall_ms();
        wr_runstate_guard_note(b, x->guard_user, x->id, now, now - WR_GUARD_MAX_WINDOW_MS);
        free(x->guard_user);
        x->guard_user = NULL;
    }
    if (s->kind == WR_STEP_ACTION) {
        commit(x, b, action_recorded);
    } else {
        carry(x, b, run_script); /* a script has no effect outside: its result commits both */
    }
}

/* }====== */

/* {====== picking up due runs ====== */

/* What resume_point gathers from a run's stored steps. */
struct resume {
    struct exec *x;
    size_t first_main, first_err;
    bool failed_main;
    int attempts_main, attempts_err;
    int64_t wait_main, wait_err, throttled_main, throttled_err;
    size_t rows; /* step rows stored: 0 for a run that never began */
};

static void resume_row(void *arg, const struct wr_runstate_step *row)
{
    struct resume *p = arg;
    struct exec *x = p->x;
    p->rows++;
    int64_t idx = row->idx;
    const char *id = row->step_id;
    const char *status = row->status;
    bool on_err = idx >= WR_ON_ERROR_BASE;
    size_t i = (size_t)(on_err ? idx - WR_ON_ERROR_BASE : idx);
    bool done = strcmp(status, "succeeded") == 0 || strcmp(status, "skipped") == 0;
    const struct wr_step *s = on_err ? (i < x->wf->non_error ? &x->wf->on_error[i] : NULL)
                                     : (i < x->wf->nsteps ? &x->wf->steps[i] : NULL);
    if (strcmp(status, "failed") == 0 && s && s->continue_on_error) {
        done = true;
        x->had_errors = true;
    }
    if (strcmp(status, "failed") == 0 && !on_err && !done) {
        p->failed_main = true;
        if (!x->error) {
            x->error = json_object_new_object();
            const char *e = row->error;
            json_object_object_add(x->error, "message", json_object_new_string(e ? e : ""));
        }
    }
    if (done && id && row->output) {
        if (!x->lost_secret_step && strstr(row->output, WR_SECRET_MASK)) {
            x->lost_secret_step = wr_xstrdup(id); /* masked when stored: not kept */
        }
        struct json_object *out = json_tokener_parse(row->output);
        json_object_object_add(x->outputs, id, out);
    }
    size_t *first = on_err ? &p->first_err : &p->first_main;
    if (done && *first == i) {
        *first = i + 1;
    } else if (!done && *first == i) {
        int *attempts = on_err ? &p->attempts_err : &p->attempts_main;
        int64_t *wait = on_err ? &p->wait_err : &p->wait_main;
        *attempts = row->attempts;
        *(on_err ? &p->throttled_err : &p->throttled_main) = row->throttled_since;
        if (strcmp(status, "waiting") == 0) {
            *wait = row->started_at;
        }
    }
}

/* Positions x where its stored steps say it stopped; returns how many step rows it has. */
static size_t resume_point(struct exec *x)
{
    struct resume p = {.x = x};
    wr_runstate_each_step(x->r->rs, x->id, resume_row, &p);
    x->in_on_error = p.failed_main;
    x->idx = p.failed_main ? p.first_err : p.first_main;
    x->attempts = p.failed_main ? p.attempts_err : p.attempts_main;
    x->wait_started = p.failed_main ? p.wait_err : p.wait_main;
    x->throttled_since = p.failed_main ? p.throttled_err : p.throttled_main;
    return p.rows;
}

static const struct wr_workflow *find_workflow(const struct wr_runner *r, const char *name)
{
    if (r->guard_notify && strcmp(name, r->guard_notify->name) == 0) {
        return r->guard_notify;
    }
    return wr_workflow_set_find(r->set, name);
}

/* The crash count stored for run id; 0 when the previous daemon did not crash (then the
   counts it left say nothing). taken_over: the run was claimed from an instance whose lease ran
   out while it was running it (it died: its counts are true). */
static int stored_crashes(struct wr_runner *r, const char *id, bool taken_over)
{
    if (!r->crashed_before && !taken_over) {
        return 0;
    }
    return wr_runstate_crashes(r->rs, id);
}

/* The run was in progress at max_crashes crashes in a row: it is failed where it stands. */
static void park(struct exec *x, int crashes)
{
    const struct wr_step *s = current_step(x);
    struct wr_journal_batch *b = wr_journal_batch_new();
    char *why = wr_xasprintf(
        "the daemon crashed %d times in a row while this run was in progress (at step '%s', no "
        "step finished in between); parked as failed to stop a crash loop (runs.max_crashes) — "
        "see `weir show %s`; `weir retry %s` runs it again",
        crashes, s ? (s->id ? s->id : s->path) : "(end)", x->id, x->id);
    if (s) {
        set_step(b, x, "failed", NULL, NULL, why);
    }
    set_run(b, x->id, "failed", 0, why);
    wr_runstate_reset_crashes(b, x->id);
    wr_metrics_run_finished(x->wf->name, "failed");
    wr_log(WR_LOG_ERROR, "run parked after repeated crashes", "run", x->id, "workflow", x->wf->name,
           "error", why, NULL);
    free(why);
    commit(x, b, exec_release);
}

static void begin_run(struct exec *x);
static void on_gate(void *token, enum wr_run_gate_verdict verdict, const char *reason);

/* How long a run waits when its gate cannot decide now (WR_GATE_LATER). */
#define WR_GATE_LATER_MS 30000

/* Starts run id, or returns false (nothing done) when it is a suspect and another one runs. */
static bool start_run(struct wr_runner *r, const char *id, const char *workflow, const char *body,
                      bool keyed, bool taken_over)
{
    const struct wr_workflow *wf = find_workflow(r, workflow);
    int crashes = wf ? stored_crashes(r, id, taken_over) : 0;
    if (crashes > 0 && crashes < r->max_crashes && r->suspects > 0) {
        return false; /* one suspect at a time: a crash then points at one run */
    }
    struct exec *x = wr_xcalloc(1, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", id);
    x->r = r;
    x->keyed = keyed;
    x->wf = wf;
    x->use = r->uses;
    x->use->runs++;
    x->released = -1;
    x->outputs = json_object_new_object();
    /* The body as received (strict JSON, checked at ingest): read back by the same reader, so
       the run sees the numbers the webhook answer was given for. json-c only for events a
       version before that check stored. */
    x->event = wr_json_parse_str(body);
    if (!x->event && body && strcmp(body, "null") != 0) {
        x->event = json_tokener_parse(body);
    }
    json_object_object_add(r->active_ids, x->id, NULL);
    r->active++;
    struct wr_diags d = {0};
    if (!wf && strcmp(workflow, WR_UNDO_WORKFLOW) == 0) {
        /* An undo's workflow is its event's plan: built again at every start, the same way. */
        if (wr_undo_workflow(x->event, NULL, &x->own_wf, &d) == 0) {
            x->wf = wf = x->own_wf;
        }
    }
    if (!wf) {
        struct wr_journal_batch *b = wr_journal_batch_new();
        char msg[WR_ERR_MAX];
        if (d.count > 0) {
            wr_errf_marked(msg, sizeof(msg), "the undo plan does not load: %s", d.items[0]);
        } else {
            snprintf(msg, sizeof(msg), "workflow '%s' is no longer loaded", workflow);
        }
        wr_diags_clear(&d);
        set_run(b, x->id, "failed", 0, msg);
        /* No workflow to log with: release straight after the commit. */
        commit(x, b, exec_release);
        return true;
    }
    size_t rows = resume_point(x);
    if (crashes >= r->max_crashes) {
        park(x, crashes);
        return true;
    }
    x->crashes = crashes;
    if (rows == 0 && !x->in_on_error && r->gate && r->gate(r->gate_arg, wf, x->event, on_gate, x)) {
        return true; /* begin_run, or not, once the gate has spoken */
    }
    begin_run(x);
    return true;
}

/* The run begins (or resumes) its steps: durably running first. */
static void begin_run(struct exec *x)
{
    struct wr_runner *r = x->r;
    const struct wr_workflow *wf = x->wf;
    int crashes = x->crashes;
    struct wr_journal_batch *b = wr_journal_batch_new();
    set_run(b, x->id, "running", 0, NULL);
    wr_runstate_set_hash(b, x->id, wf->hash);
    /* Durable with the first commit, before any effect; a finished step sets it back to 0. */
    wr_runstate_set_crashes(b, x->id, (int64_t)crashes + 1);
    x->counted = true;
    if (crashes > 0) {
        x->suspect = true;
        r->suspects++;
    }
    carry(x, b, run_step);
}

/* The gate's verdict (wr_run_gate_done_fn): token is the exec. */
static void on_gate(void *token, enum wr_run_gate_verdict verdict, const char *reason)
{
    struct exec *x = token;
    if (verdict == WR_GATE_GO) {
        begin_run(x);
        return;
    }
    if (verdict == WR_GATE_CANCEL) {
        finish(x, "cancelled", reason);
        return;
    }
    /* Nothing stored but the next look: the run stays queued, the reason shown meanwhile. */
    struct wr_journal_batch *b = wr_journal_batch_new();
    set_run(b, x->id, "queued", wr_clock_wall_ms() + WR_GATE_LATER_MS, reason);
    wr_log(WR_LOG_WARN, "run deferred: its trigger cannot check it now", "run", x->id, "workflow",
           x->wf->name, "reason", reason ? reason : "", NULL);
    commit(x, b, exec_release);
}

static int cmp_due(const void *a, const void *b)
{
    int64_t x = ((const struct wr_runstate_due *)a)->rowid,
            y = ((const struct wr_runstate_due *)b)->rowid;
    return (x > y) - (x < y);
}

/*
 * Starts due runs while slots are free. Most polls follow a finished run and only need the
 * queued runs stored since the last start (after the cursor); a rescan (the periodic poll,
 * an outside kick, a keyed run's end) looks at every open run again: runs of a key waiting
 * for an earlier one, retried runs, runs left "running" by a crash.
 */
static void poll_due(struct wr_runner *r)
{
    static const char *const open_statuses[] = {"queued", "running", "retrying", "waiting"};
    if (r->stopping || r->active >= (size_t)r->max_concurrent) {
        return;
    }
    if (!wr_journal_ok(r->journal)) {
        /* Nothing can be stored: a run picked up now would fail its first commit and be
           released, again at every poll. Wait for the journal (it probes by itself), then look
           at every open run. */
        r->rescan = true;
        return;
    }
    bool full = r->rescan;
    r->rescan = false;
    /* Enough to fill every free slot even when the runs in memory come first. */
    int limit = r->max_concurrent * 2;
    struct wr_runstate_due *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < (full ? 4u : 1u); i++) {
        wr_runstate_due_open(r->rs, open_statuses[i], limit, full ? 0 : r->cursor, &v, &n, &cap);
    }
    if (full) {
        wr_runstate_due_deferred(r->rs, wr_clock_wall_ms(), limit, &v, &n, &cap);
    }
    if (n > 1) {
        qsort(v, n, sizeof(*v), cmp_due);
    }
    /* The runs this poll may start (not in memory, as many as there are free slots), claimed
       together: several instances on PostgreSQL, the one that claims a run runs it (one
       statement, one commit for them all); one on SQLite, every run is this one's. */
    size_t free_slots =
        r->active < (size_t)r->max_concurrent ? (size_t)r->max_concurrent - r->active : 0;
    const char **want = wr_xcalloc(n ? n : 1, sizeof(*want));
    int *claim = wr_xcalloc(n ? n : 1, sizeof(*claim));
    size_t *at = wr_xcalloc(n ? n : 1, sizeof(*at)); /* v's index -> want's, or SIZE_MAX */
    size_t nwant = 0;
    for (size_t i = 0; i < n; i++) {
        at[i] = SIZE_MAX;
        if (nwant < free_slots && !json_object_object_get_ex(r->active_ids, v[i].id, NULL)) {
            at[i] = nwant;
            want[nwant++] = v[i].id;
        }
    }
    bool store_failed = wr_runstate_claim_many(r->rs, want, nwant, wr_clock_wall_ms(), claim) != 0;
    bool advancing = true;
    int64_t cursor = full ? 0 : r->cursor;
    for (size_t i = 0; i < n; i++) {
        struct wr_runstate_due *d = &v[i];
        const char *body;
        if (json_object_object_get_ex(r->active_ids, d->id, NULL)) {
            /* in memory already */
        } else if (at[i] == SIZE_MAX || r->active >= (size_t)r->max_concurrent) {
            advancing = false; /* no slot: this one and those after wait for the next poll */
        } else if (store_failed) {
            advancing = false; /* the store failed: every open run again, next poll */
            r->rescan = true;
        } else if (claim[at[i]] == 0) {
            /* another instance has it */
        } else {
            if (claim[at[i]] == 2) {
                wr_log(WR_LOG_WARN,
                       "run taken over: the instance that was running it stopped renewing its "
                       "lease",
                       "run", d->id, "workflow", d->workflow, NULL);
            }
            if (wr_runstate_body_begin(r->rs, d->event_id, &body) &&
                !start_run(r, d->id, d->workflow, body, d->keyed, claim[at[i]] == 2)) {
                advancing = false; /* a suspect waiting for the one in progress */
            }
            wr_runstate_body_end(r->rs);
        }
        if (advancing && d->rowid > cursor) {
            cursor = d->rowid;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].workflow);
        free(v[i].event_id);
    }
    free(want);
    free(claim);
    free(at);
    free(v);
    r->cursor = cursor;
}

static void kick_soon(struct wr_runner *r)
{
    if (!event_pending(r->kick, EV_TIMEOUT, NULL)) {
        struct timeval now = {0, 0};
        event_add(r->kick, &now);
    }
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct wr_runner *r = arg;
    (void)fd;
    (void)what;
    poll_due(r);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct wr_runner *r = arg;
    (void)fd;
    (void)what;
    r->rescan = true;
    poll_due(r);
}

/* Every third of the lease: this instance's claims on the runs it executes are extended. */
static void on_renew(evutil_socket_t fd, short what, void *arg)
{
    struct wr_runner *r = arg;
    (void)fd;
    (void)what;
    if (wr_runstate_renew(r->rs, wr_clock_wall_ms()) < 0) {
        wr_log(WR_LOG_WARN,
               "cannot renew the run leases; another instance may take over these runs if this "
               "goes on",
               "instance", r->owner, NULL);
    }
}

static void guard_row(void *arg, const char *user, const char *run_id, int64_t at)
{
    wr_guard_note(arg, user, run_id, at);
}

struct wr_runner *wr_runner_new(struct event_base *base, struct wr_journal *journal,
                                const char *state_path, const struct wr_workflow_set *set,
                                struct wr_graph *graph, struct wr_directory *dir,
                                const struct wr_runner_options *opts, char *err, size_t errlen)
{
    struct wr_runner *r = wr_xcalloc(1, sizeof(*r));
    r->base = base;
    r->journal = journal;
    r->set = set;
    r->uses = wr_xcalloc(1, sizeof(*r->uses));
    r->uses->set = set;
    r->graph = graph;
    r->dir = dir;
    r->max_concurrent = opts && opts->max_concurrent > 0 ? opts->max_concurrent : 64;
    r->poll_ms = opts && opts->poll_ms > 0 ? opts->poll_ms : 200;
    r->dry_run = opts && opts->dry_run;
    r->net = opts ? opts->net : NULL;
    r->mail_from = opts ? opts->mail_from : NULL;
    r->max_crashes = opts && opts->max_crashes > 0 ? opts->max_crashes : 3;
    r->active_ids = json_object_new_object();
    r->rescan = true;
    /* A file beside a SQLite journal; on PostgreSQL a run taken over from an instance whose
       lease ran out counts its crash instead (wr_runstate_claim), so there is none. */
    r->crash_marker =
        wr_db_is_postgres_url(state_path) ? wr_xstrdup("") : wr_xasprintf("%s.crashed", state_path);
    r->state = wr_xstrdup(state_path);
    /* Left by wr_runner_arm_crash_marker's handler: the previous daemon crashed, so the crash
       counts it stored are true. Gone (kill -9, power loss, a clean stop): they are not. */
    if (!(opts && opts->dry_run) && access(r->crash_marker, F_OK) == 0) {
        r->crashed_before = true;
        unlink(r->crash_marker);
        wr_log(WR_LOG_WARN,
               "the previous daemon crashed; runs it had in progress resume one at a "
               "time",
               "marker", r->crash_marker, NULL);
    }
    r->rs = wr_runstate_open(state_path, err, errlen);
    if (!r->rs) {
        wr_runner_free(r);
        return NULL;
    }
    r->lease_ms = opts && opts->lease_ms > 0 ? opts->lease_ms : 30000;
    char host[64] = "", nonce[33];
    wr_captoken_nonce(nonce);
    gethostname(host, sizeof(host) - 1);
    snprintf(r->owner, sizeof(r->owner), "%s/%ld/%.8s", host, (long)getpid(), nonce);
    if (wr_runstate_lease(r->rs, r->owner, r->lease_ms, err, errlen) != 0) {
        wr_runner_free(r);
        return NULL;
    }
    r->guard_rs = r->rs;
    if (opts && opts->guard_state) {
        r->guard_rs = wr_runstate_open(opts->guard_state, err, errlen);
        if (!r->guard_rs) {
            wr_runner_free(r);
            return NULL;
        }
    }
    r->guard = wr_guard_new();
    r->users = -1;
    wr_runstate_guard_load(r->guard_rs, wr_clock_wall_ms() - WR_GUARD_MAX_WINDOW_MS, guard_row,
                           r->guard);
    r->kick = event_new(base, -1, 0, on_kick, r);
    r->poll = event_new(base, -1, EV_PERSIST, on_poll, r);
    struct timeval tv = {r->poll_ms / 1000, (r->poll_ms % 1000) * 1000};
    event_add(r->poll, &tv);
    r->renew = event_new(base, -1, EV_PERSIST, on_renew, r);
    int64_t every = r->lease_ms / 3;
    struct timeval rtv = {(time_t)(every / 1000), (suseconds_t)((every % 1000) * 1000)};
    event_add(r->renew, &rtv);
    return r;
}

void wr_runner_set_approvals(struct wr_runner *r, const char *public_url)
{
    free(r->public_url);
    r->public_url = public_url ? wr_xstrdup(public_url) : NULL;
}

void wr_runner_set_guard(struct wr_runner *r, const struct wr_guard_limits *limits,
                         const struct wr_workflow *notify)
{
    r->guard_limits = *limits;
    r->guard_notify = notify;
}

void wr_runner_set_gate(struct wr_runner *r, wr_run_gate_fn fn, void *arg)
{
    r->gate = fn;
    r->gate_arg = arg;
}

void wr_runner_notify(void *runner)
{
    struct wr_runner *r = runner;
    if (!r->stopping) {
        kick_soon(r); /* new rows come after the cursor: no rescan needed */
    }
}

void wr_runner_kick(struct wr_runner *r)
{
    r->rescan = true; /* from outside (new events, a retry): anything may have changed */
    kick_soon(r);
}

void wr_runner_stop(struct wr_runner *r)
{
    if (r) {
        r->stopping = true;
    }
}

size_t wr_runner_active(const struct wr_runner *r)
{
    return r ? r->active : 0;
}

void wr_runner_set_workflows(struct wr_runner *r, const struct wr_workflow_set *set)
{
    if (!r || r->set == set) {
        return;
    }
    struct set_use *u = wr_xcalloc(1, sizeof(*u));
    u->set = set;
    u->next = r->uses;
    r->uses = u;
    r->set = set;
    /* The previous set is forgotten now if no run uses it, else with its last run. */
    if (u->next->runs == 0) {
        struct set_use *old = u->next;
        u->next = old->next;
        free(old);
    }
}

size_t wr_runner_set_users(const struct wr_runner *r, const struct wr_workflow_set *set)
{
    for (const struct set_use *u = r ? r->uses : NULL; u; u = u->next) {
        if (u->set == set) {
            return u->runs;
        }
    }
    return 0;
}

void wr_runner_free(struct wr_runner *r)
{
    if (!r) {
        return;
    }
    while (r->uses) {
        struct set_use *u = r->uses;
        r->uses = u->next;
        free(u);
    }
    if (r->poll) {
        event_free(r->poll);
    }
    if (r->renew) {
        event_free(r->renew);
    }
    if (r->kick) {
        event_free(r->kick);
    }
    if (r->guard_rs && r->guard_rs != r->rs) {
        wr_runstate_close(r->guard_rs);
    }
    wr_runstate_close(r->rs);
    wr_guard_free(r->guard);
    free(r->users_waiting);
    json_object_put(r->active_ids);
    free(r->crash_marker);
    free(r->state);
    free(r->public_url);
    OPENSSL_cleanse(r->key, sizeof(r->key));
    free(r);
}

/* {====== the crash marker ====== */

static char crash_path[4096];
static char crash_stack[64 * 1024];
static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static struct sigaction crash_old[sizeof(crash_sigs) / sizeof(crash_sigs[0])];

/* A fatal signal: leave the marker (async-signal-safe calls only), then hand the signal to
   whoever had it before (the default action, or a sanitizer's report). */
static void on_fatal(int sig)
{
    static const char text[] = "weir crashed\n";
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t n = write(fd, text, sizeof(text) - 1);
        (void)n;
        close(fd);
    }
    for (size_t i = 0; i < sizeof(crash_sigs) / sizeof(crash_sigs[0]); i++) {
        if (crash_sigs[i] == sig) {
            sigaction(sig, &crash_old[i], NULL);
        }
    }
    raise(sig); /* blocked until this returns, then delivered to the restored action */
}

int wr_runner_arm_crash_marker(const struct wr_runner *r)
{
    stack_t ss = {.ss_sp = crash_stack, .ss_size = sizeof(crash_stack)};
    struct sigaction sa;
    if (!r || strlen(r->crash_marker) >= sizeof(crash_path)) {
        return -1;
    }
    if (!r->crash_marker[0]) {
        return 0; /* PostgreSQL: no marker (see wr_runner_new) */
    }
    memcpy(crash_path, r->crash_marker, strlen(r->crash_marker) + 1);
    /* Its own stack: a stack overflow must still leave the marker. */
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(crash_sigs) / sizeof(crash_sigs[0]); i++) {
        if (sigaction(crash_sigs[i], &sa, &crash_old[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* }====== */
