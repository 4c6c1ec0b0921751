/*
 * runtime — the user-date trigger at run time; see runtime.h.
 */
#include "triggers/user_date/runtime.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/base/metrics.h"
#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/lang/cron.h"
#include "engine/lang/workflow.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/ingest.h"
#include "engine/store/trigger_state.h"
#include "triggers/poll.h"
#include "triggers/user_date/due.h"
#include "triggers/watchset.h"

#define KIND "user-date"

/* A due user whose commit failed is tried again after 1 s, doubling up to a minute. */
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS   60000

/* One workflow's trigger: a watcher of triggers/watchset. */
struct ud_wf {
    const struct wr_trigger_env *env; /* the runtime's, borrowed */
    const struct wr_workflow *wf;     /* borrowed from the set being served */
    char *name;
    char *scope; /* "user-date <workflow>": the event source, key scope and state scope */
    struct wr_user_date_spec spec;
    struct wr_tz *tz;
    struct wr_poll *poll;
    struct wr_user_date_window win; /* the running round's */
    struct json_object *found;      /* the running round's users, gathered page by page */
    struct json_object *due;        /* id -> {"value", "due", "event"}: fires at "due" */
    struct json_object *fired;      /* id -> {"value", "due"}: fired for that date */
    struct json_object *firing;     /* id -> null: in a commit now */
    struct json_object *warned;     /* "id value" -> null: an unreadable date, logged once */
    struct event *timer;            /* at the earliest due user */
    int64_t backoff_ms;
    int busy;       /* reads and commits in flight, which point here */
    size_t commits; /* of which commits */
    bool stopped;   /* no more rounds or timers: a reload parked it, or weir stops */
};

/* {====== one workflow's trigger: made, loaded, freed ====== */

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void round_start(void *arg);

static void wf_free(struct ud_wf *w, bool forget)
{
    if (!w) {
        return;
    }
    wr_poll_free(w->poll, forget);
    if (w->timer) {
        event_free(w->timer);
    }
    wr_user_date_spec_clear(&w->spec);
    wr_tz_free(w->tz);
    json_object_put(w->found);
    json_object_put(w->due);
    json_object_put(w->fired);
    json_object_put(w->firing);
    json_object_put(w->warned);
    free(w->name);
    free(w->scope);
    free(w);
}

/* Reads what the journal remembers for w: users due later, dates that fired. */
static void on_state(void *arg, const char *name, const char *value, int64_t updated_at)
{
    struct ud_wf *w = arg;
    (void)updated_at;
    struct json_object *v = json_tokener_parse(value);
    if (!v || !json_object_is_type(v, json_type_object)) {
        json_object_put(v);
        return;
    }
    if (strncmp(name, "due:", 4) == 0) {
        json_object_object_add(w->due, name + 4, v);
    } else if (strncmp(name, "fired:", 6) == 0) {
        json_object_object_add(w->fired, name + 6, v);
    } else {
        json_object_put(v);
    }
}

/* The earliest "due" of the entries read. */
static void on_due_entry(void *arg, const char *name, const char *value, int64_t updated_at)
{
    int64_t *first = arg;
    (void)name;
    (void)updated_at;
    struct json_object *v = json_tokener_parse(value);
    struct json_object *due = NULL;
    if (v && json_object_object_get_ex(v, "due", &due) && json_object_is_type(due, json_type_int)) {
        int64_t ms = json_object_get_int64(due);
        if (*first < 0 || ms < *first) {
            *first = ms;
        }
    }
    json_object_put(v);
}

int64_t wr_user_date_next_due(const struct wr_workflow *wf, const char *state_path, int64_t now_ms)
{
    char err[WR_ERR_MAX];
    int64_t first = -1;
    (void)now_ms;
    if (!state_path) {
        return -1;
    }
    char *scope = wr_xasprintf(KIND " %s", wf->name);
    if (wr_trigger_state_load(state_path, scope, "due:", on_due_entry, &first, err, sizeof(err)) <
        0) {
        first = -1;
    }
    free(scope);
    return first;
}

/* Builds w for wf (no state loaded, no timer armed, no round started). NULL with err. */
static struct ud_wf *wf_new(const struct wr_trigger_env *env, const struct wr_workflow *wf,
                            char *err, size_t errlen)
{
    struct ud_wf *w = wr_xcalloc(1, sizeof(*w));
    char why[WR_ERR_MAX];
    w->env = env;
    w->wf = wf;
    w->name = wr_xstrdup(wf->name);
    w->scope = wr_xasprintf(KIND " %s", wf->name);
    w->due = json_object_new_object();
    w->fired = json_object_new_object();
    w->firing = json_object_new_object();
    w->warned = json_object_new_object();
    if (wr_user_date_spec_read(wf->trigger_args, &w->spec, why, sizeof(why)) != 0 ||
        !(w->tz = wr_tz_load(w->spec.zone, why, sizeof(why)))) {
        wr_errf(err, errlen, "workflow '%s': %s", wf->name, why);
        wf_free(w, false);
        return NULL;
    }
    w->timer = evtimer_new(env->base, on_timer, w);
    w->poll = wr_poll_new(env->base, KIND, wf->name, w->spec.every_ms, round_start, w);
    return w;
}

static int64_t int_at(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static const char *str_at(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Arms w's timer at its earliest due user not being committed now, or none. */
static void arm(struct ud_wf *w)
{
    int64_t first = -1;
    json_object_object_foreach(w->due, id, e)
    {
        int64_t due = int_at(e, "due");
        if (!json_object_object_get_ex(w->firing, id, NULL) && (first < 0 || due < first)) {
            first = due;
        }
    }
    evtimer_del(w->timer);
    wr_poll_set_pending(w->poll, (uint64_t)json_object_object_length(w->due));
    if (first < 0 || w->stopped) {
        return;
    }
    int64_t delay = first - wr_clock_wall_ms();
    delay = delay < 0 ? 0 : delay;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
    evtimer_add(w->timer, &tv);
}

/* Starts w: reads what the journal remembers for it (now, after a watcher it replaces is
   gone), arms the timer for users due later, the first round on the next loop turn. */
static void wf_begin(struct ud_wf *w)
{
    char why[WR_ERR_MAX];
    if (w->env->state_path && wr_trigger_state_load(w->env->state_path, w->scope, NULL, on_state, w,
                                                    why, sizeof(why)) < 0) {
        /* Not fatal: the rounds find the users again (the keys keep a date from firing
           twice within the journal's retention). */
        wr_log(WR_LOG_ERROR, "user-date: what the trigger remembers cannot be read", "workflow",
               w->name, "error", why, NULL);
    }
    arm(w);
    if (w->env->dir) {
        wr_poll_begin(w->poll);
    }
}

/* }====== */

/* {====== committing: events, state, and what changes in memory after the commit ====== */

/* What a commit changes in memory once durable. */
struct plan {
    struct ud_wf *w;
    struct json_object *fired;  /* id -> {"value", "due"}: now fired */
    struct json_object *due;    /* id -> entry: now waiting */
    struct json_object *forget; /* id -> "due" | "fired" | "both": no longer remembered */
    size_t events;
    bool from_round; /* a round's commit: ends the round */
    int pages;
};

static struct plan *plan_new(struct ud_wf *w)
{
    struct plan *p = wr_xcalloc(1, sizeof(*p));
    p->w = w;
    p->fired = json_object_new_object();
    p->due = json_object_new_object();
    p->forget = json_object_new_object();
    return p;
}

static void plan_free(struct plan *p)
{
    json_object_put(p->fired);
    json_object_put(p->due);
    json_object_put(p->forget);
    free(p);
}

/* Adds a run for the user of entry (id -> {"value","due","event"}) to b and p. */
static void plan_fire(struct plan *p, struct wr_ingest_batch *b, const char *id,
                      struct json_object *entry)
{
    struct ud_wf *w = p->w;
    const char *value = str_at(entry, "value");
    char *key = wr_xasprintf(KIND ":%s:%s:%s", w->name, id, value ? value : "");
    struct json_object *ev = NULL;
    json_object_object_get_ex(entry, "event", &ev);
    struct wr_ingest_event e = {.event = ev, .key = key, .scope = w->scope};
    wr_ingest_batch_add(b, &w->wf, 1, &e, 1);
    free(key);
    struct json_object *mark = json_object_new_object();
    json_object_object_add(mark, "value", json_object_new_string(value ? value : ""));
    json_object_object_add(mark, "due", json_object_new_int64(int_at(entry, "due")));
    char *name = wr_xasprintf("fired:%s", id);
    wr_trigger_state_put(b, w->scope, name, json_object_to_json_string(mark));
    free(name);
    name = wr_xasprintf("due:%s", id);
    if (json_object_object_get_ex(w->due, id, NULL)) {
        wr_trigger_state_put(b, w->scope, name, NULL);
    }
    free(name);
    json_object_object_add(p->fired, id, mark);
    json_object_object_add(w->firing, id, NULL);
    p->events++;
}

static void apply(struct plan *p)
{
    struct ud_wf *w = p->w;
    json_object_object_foreach(p->forget, id, what)
    {
        const char *s = json_object_get_string(what);
        if (strcmp(s, "fired") != 0) {
            json_object_object_del(w->due, id);
        }
        if (strcmp(s, "due") != 0) {
            json_object_object_del(w->fired, id);
        }
    }
    json_object_object_foreach(p->due, did, entry)
    {
        json_object_object_add(w->due, did, json_object_get(entry));
    }
    json_object_object_foreach(p->fired, fid, mark)
    {
        json_object_object_del(w->due, fid);
        json_object_object_add(w->fired, fid, json_object_get(mark));
    }
}

static void on_committed(void *arg, const struct wr_ingest_result *res)
{
    struct plan *p = arg;
    struct ud_wf *w = p->w;
    w->busy--;
    w->commits--;
    json_object_object_foreach(p->fired, id, mark)
    {
        (void)mark;
        json_object_object_del(w->firing, id);
    }
    size_t dup = 0;
    for (size_t i = 0; res->rc == 0 && i < res->count; i++) {
        dup += res->items[i].duplicate;
    }
    if (res->rc == 0) {
        apply(p);
        w->backoff_ms = 0;
        if (p->events > 0) {
            wr_metrics_event(KIND, "accepted", p->events - dup);
            wr_metrics_event(KIND, "duplicate", dup);
        }
    } else {
        wr_metrics_event(KIND, "failed", p->events);
        wr_log(WR_LOG_ERROR, "user-date: what a round found could not be stored; tried again",
               "workflow", w->name, "error", res->error ? res->error : "", NULL);
    }
    if (p->from_round) {
        wr_poll_ended(w->poll, res->rc == 0, p->pages,
                      res->rc == 0 ? NULL : (res->error ? res->error : "the journal failed"));
    }
    if (!w->stopped) {
        if (res->rc != 0 && !p->from_round) {
            /* A due user's commit failed: the timer tries again, backing off. */
            w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : RETRY_FIRST_MS;
            w->backoff_ms = w->backoff_ms > RETRY_MAX_MS ? RETRY_MAX_MS : w->backoff_ms;
            struct timeval tv = {(time_t)(w->backoff_ms / 1000),
                                 (suseconds_t)((w->backoff_ms % 1000) * 1000)};
            evtimer_add(w->timer, &tv);
        } else {
            arm(w);
        }
    }
    plan_free(p);
}

/* Submits b with p (both taken); false when the journal is closing (nothing stored). */
static bool submit(struct ud_wf *w, struct wr_ingest_batch *b, struct plan *p)
{
    if (wr_ingest_batch_submit(w->env->ingest, b, on_committed, p) != 0) {
        json_object_object_foreach(p->fired, id, mark)
        {
            (void)mark;
            json_object_object_del(w->firing, id);
        }
        plan_free(p);
        return false;
    }
    w->busy++;
    w->commits++;
    return true;
}

/* }====== */

/* {====== the timer: users due later, at their due time ====== */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ud_wf *w = arg;
    (void)fd;
    (void)what;
    if (w->stopped) {
        return;
    }
    int64_t now = wr_clock_wall_ms();
    struct wr_ingest_batch *b = wr_ingest_batch_new(w->scope, NULL);
    struct plan *p = plan_new(w);
    json_object_object_foreach(w->due, id, entry)
    {
        if (int_at(entry, "due") <= now && !json_object_object_get_ex(w->firing, id, NULL)) {
            plan_fire(p, b, id, entry);
        }
    }
    if (p->events == 0) {
        plan_free(p);
        wr_ingest_batch_free(b);
        arm(w);
        return;
    }
    submit(w, b, p);
}

/* }====== */

/* {====== a round ====== */

static int on_page(void *arg, const struct wr_directory_page *page, char *err, size_t errlen)
{
    struct ud_wf *w = arg;
    (void)err;
    (void)errlen;
    size_t n = json_object_array_length(page->items);
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(w->found, json_object_get(json_object_array_get_idx(page->items, i)));
    }
    return 0;
}

/* Logs once per user and value that a user's date cannot be read. */
static void warn_unreadable(struct ud_wf *w, struct json_object *user, const char *why)
{
    const char *id = str_at(user, "id");
    const char *value = str_at(user, w->spec.attribute);
    char *k = wr_xasprintf("%s %s", id ? id : "?", value ? value : "null");
    if (!json_object_object_get_ex(w->warned, k, NULL)) {
        json_object_object_add(w->warned, k, NULL);
        wr_log(WR_LOG_WARN, "user-date: a user's date cannot be read; the user is skipped",
               "workflow", w->name, "error", why, NULL);
    }
    free(k);
}

static void forget(struct plan *p, struct wr_ingest_batch *b, const char *id, const char *what)
{
    struct ud_wf *w = p->w;
    if (strcmp(what, "fired") != 0) {
        char *name = wr_xasprintf("due:%s", id);
        wr_trigger_state_put(b, w->scope, name, NULL);
        free(name);
    }
    if (strcmp(what, "due") != 0) {
        char *name = wr_xasprintf("fired:%s", id);
        wr_trigger_state_put(b, w->scope, name, NULL);
        free(name);
    }
    json_object_object_add(p->forget, id, json_object_new_string(what));
}

/* The round's answer is complete: plan what fires, waits and is forgotten; commit it. */
static void round_commit(struct ud_wf *w, int pages)
{
    struct wr_ingest_batch *b = wr_ingest_batch_new(w->scope, NULL);
    struct plan *p = plan_new(w);
    struct json_object *seen = json_object_new_object();
    size_t writes = 0;
    p->from_round = true;
    p->pages = pages;
    size_t n = json_object_array_length(w->found);
    for (size_t i = 0; i < n; i++) {
        struct json_object *user = json_object_array_get_idx(w->found, i);
        struct wr_user_date_hit hit;
        char why[WR_ERR_MAX], value[WR_USER_DATE_ISO_LEN];
        if (wr_user_date_read(&w->spec, w->tz, user, &hit, why, sizeof(why)) != 0) {
            warn_unreadable(w, user, why);
            continue;
        }
        json_object_object_add(seen, hit.id, NULL);
        wr_user_date_iso(hit.value_ms, value);
        struct json_object *mark = json_object_object_get(w->fired, hit.id);
        const char *fired = mark ? str_at(mark, "value") : NULL;
        bool done = fired && strcmp(fired, value) == 0;
        bool waiting = json_object_object_get_ex(w->due, hit.id, NULL);
        enum wr_user_date_when when = wr_user_date_classify(&w->win, hit.due_ms);
        if (done || json_object_object_get_ex(w->firing, hit.id, NULL)) {
            if (done && waiting) {
                forget(p, b, hit.id, "due");
                writes++;
            }
            continue;
        }
        if (when == WR_USER_DATE_MISSED || when == WR_USER_DATE_BEYOND) {
            if (waiting) {
                forget(p, b, hit.id, "due");
                writes++;
            }
            continue;
        }
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "value", json_object_new_string(value));
        json_object_object_add(entry, "due", json_object_new_int64(hit.due_ms));
        json_object_object_add(entry, "event", wr_user_date_event(&w->spec, user, &hit));
        if (when == WR_USER_DATE_NOW) {
            plan_fire(p, b, hit.id, entry);
        } else {
            struct json_object *old = json_object_object_get(w->due, hit.id);
            const char *ov = old ? str_at(old, "value") : NULL;
            if (!ov || strcmp(ov, value) != 0 || int_at(old, "due") != hit.due_ms ||
                !json_object_equal(json_object_object_get(old, "event"),
                                   json_object_object_get(entry, "event"))) {
                char *name = wr_xasprintf("due:%s", hit.id);
                wr_trigger_state_put(b, w->scope, name, json_object_to_json_string(entry));
                free(name);
                json_object_object_add(p->due, hit.id, json_object_get(entry));
                writes++;
            }
        }
        json_object_put(entry);
    }
    /* Waiting users the answer no longer holds: their date moved, or the filter excludes
       them now. Fired dates a day older than the window can never fire again: dropped. */
    json_object_object_foreach(w->due, id, e)
    {
        if (!json_object_object_get_ex(seen, id, NULL) &&
            !json_object_object_get_ex(w->firing, id, NULL) && int_at(e, "due") <= w->win.due_hi) {
            forget(p, b, id, "due");
            writes++;
        }
    }
    json_object_object_foreach(w->fired, fid, m)
    {
        if (int_at(m, "due") < w->win.due_lo - WR_USER_DATE_DAY_MS) {
            forget(p, b, fid, "fired");
            writes++;
        }
    }
    json_object_put(seen);
    json_object_put(w->found);
    w->found = NULL;
    if (p->events == 0 && writes == 0) {
        plan_free(p);
        wr_ingest_batch_free(b);
        wr_poll_ended(w->poll, true, pages, NULL);
        return;
    }
    if (!submit(w, b, p)) {
        wr_poll_ended(w->poll, false, pages, "the journal is closing");
    }
}

static void on_read(void *arg, const struct wr_directory_read_result *r)
{
    struct ud_wf *w = arg;
    w->busy--;
    if (w->stopped) {
        json_object_put(w->found);
        w->found = NULL;
        wr_poll_ended(w->poll, r->ok, r->pages, r->ok ? NULL : r->message);
        return;
    }
    if (!r->ok) {
        /* Nothing fires from a partial read; the next round reads again. */
        json_object_put(w->found);
        w->found = NULL;
        wr_log(WR_LOG_WARN, "user-date: reading the users failed; trying again next round",
               "workflow", w->name, "error", r->message ? r->message : "", NULL);
        wr_poll_ended(w->poll, false, r->pages, r->message);
        return;
    }
    round_commit(w, r->pages);
}

static void round_start(void *arg)
{
    struct ud_wf *w = arg;
    wr_user_date_window(&w->spec, wr_clock_wall_ms(), &w->win);
    char *path = wr_user_date_request_path(&w->spec, &w->win);
    json_object_put(w->found);
    w->found = json_object_new_array();
    w->busy++;
    if (wr_directory_read_all(w->env->dir, path, WR_GRAPH_EVENTUAL, 0, on_page, on_read, w) != 0) {
        w->busy--;
        wr_poll_ended(w->poll, false, 0, "the directory read could not start");
    }
    free(path);
}

/* }====== */

/* {====== the gate: the user re-read just before the run's first step ====== */

struct gate {
    wr_run_gate_done_fn done;
    void *token;
    char *attribute;
    char *value; /* canonical: what the run was due for */
    char *filter;
    char *upn;
    bool found;
    char *now; /* the attribute as read now, canonical; NULL: none */
};

static int gate_page(void *arg, const struct wr_directory_page *page, char *err, size_t errlen)
{
    struct gate *g = arg;
    (void)err;
    (void)errlen;
    if (json_object_array_length(page->items) == 0) {
        return 0;
    }
    struct json_object *u = json_object_array_get_idx(page->items, 0);
    struct json_object *v = NULL;
    g->found = true;
    if (json_object_object_get_ex(u, g->attribute, &v) &&
        json_object_is_type(v, json_type_string)) {
        int64_t ms = 0, due = 0;
        char why[WR_ERR_MAX], iso[WR_USER_DATE_ISO_LEN];
        if (wr_user_date_due(json_object_get_string(v), (size_t)json_object_get_string_len(v), 0, 0,
                             NULL, &ms, &due, why, sizeof(why)) == 0) {
            g->now = wr_xstrdup(wr_user_date_iso(ms, iso));
        } else {
            g->now = wr_xstrdup(json_object_get_string(v));
        }
    }
    return 0;
}

static void gate_free(struct gate *g)
{
    free(g->attribute);
    free(g->value);
    free(g->filter);
    free(g->upn);
    free(g->now);
    free(g);
}

static void gate_read(void *arg, const struct wr_directory_read_result *r)
{
    struct gate *g = arg;
    char why[WR_ERR_MAX];
    enum wr_run_gate_verdict v = WR_GATE_GO;
    if (!r->ok) {
        v = WR_GATE_LATER;
        snprintf(why, sizeof(why), "re-reading user %s before the run: %s", g->upn,
                 r->message ? r->message : "failed");
    } else if (!g->found && g->filter) {
        v = WR_GATE_CANCEL;
        snprintf(why, sizeof(why),
                 "user %s no longer matches the trigger's filter (%s) or no longer exists", g->upn,
                 g->filter);
    } else if (!g->found) {
        v = WR_GATE_CANCEL;
        snprintf(why, sizeof(why), "user %s no longer exists", g->upn);
    } else if (!g->now) {
        v = WR_GATE_CANCEL;
        snprintf(why, sizeof(why), "%s of user %s was cleared (the run was due for %s)",
                 g->attribute, g->upn, g->value);
    } else if (strcmp(g->now, g->value) != 0) {
        v = WR_GATE_CANCEL;
        snprintf(why, sizeof(why),
                 "%s of user %s moved from %s to %s since the run was due; the new date has a run "
                 "of its own when due",
                 g->attribute, g->upn, g->value, g->now);
    }
    g->done(g->token, v, v == WR_GATE_GO ? NULL : why);
    gate_free(g);
}

bool wr_user_date_gate(void *p, const struct wr_workflow *wf, struct json_object *event,
                       wr_run_gate_done_fn done, void *token)
{
    const struct wr_trigger_env *env = wr_watchset_env(p);
    struct json_object *user = NULL, *od = NULL;
    struct ud_wf *w = wr_watchset_find(p, wf->name);
    if (!w || !env->dir || !json_object_object_get_ex(event, "user", &user)) {
        return false;
    }
    /* A run an admin asked for (`weir fire --user`, an --event of their own) is theirs. */
    if (json_object_object_get_ex(event, "on_demand", &od) && json_object_get_boolean(od)) {
        return false;
    }
    const char *id = str_at(user, "id"), *date = str_at(event, "date");
    int64_t ms = 0, due = 0;
    char why[WR_ERR_MAX], iso[WR_USER_DATE_ISO_LEN];
    if (!id || !date ||
        wr_user_date_due(date, strlen(date), 0, 0, NULL, &ms, &due, why, sizeof(why)) != 0) {
        return false;
    }
    struct gate *g = wr_xcalloc(1, sizeof(*g));
    g->done = done;
    g->token = token;
    g->attribute = wr_xstrdup(w->spec.attribute);
    g->value = wr_xstrdup(wr_user_date_iso(ms, iso));
    g->filter = w->spec.filter ? wr_xstrdup(w->spec.filter) : NULL;
    const char *upn = str_at(user, "userPrincipalName");
    g->upn = wr_xstrdup(upn ? upn : id);
    char *lit = wr_directory_odata_string(id);
    char *cond = w->spec.filter ? wr_xasprintf("id eq %s and (%s)", lit, w->spec.filter)
                                : wr_xasprintf("id eq %s", lit);
    char *esc = wr_graph_escape(cond);
    char *path =
        wr_xasprintf("/users?$filter=%s&$select=id,%s&$count=true", esc, w->spec.attribute);
    int rc = wr_directory_read_all(env->dir, path, WR_GRAPH_EVENTUAL, 1, gate_page, gate_read, g);
    free(path);
    free(esc);
    free(cond);
    free(lit);
    if (rc != 0) {
        gate_free(g);
        return false;
    }
    return true;
}

/* }====== */

/* {====== the slots: the watchers driven by triggers/watchset ====== */

static void *watch_make(const struct wr_trigger_env *env, const struct wr_workflow *wf, char *err,
                        size_t errlen)
{
    return wf_new(env, wf, err, errlen);
}

static void watch_begin(void *w)
{
    wf_begin(w);
}

static void watch_rebind(void *p, const struct wr_workflow *wf)
{
    struct ud_wf *w = p;
    w->wf = wf;
}

static void watch_stop(void *p)
{
    struct ud_wf *w = p;
    w->stopped = true;
    wr_poll_stop(w->poll);
    evtimer_del(w->timer);
}

static bool watch_idle(const void *p)
{
    const struct ud_wf *w = p;
    return w->busy == 0;
}

static size_t watch_commits(const void *p)
{
    const struct ud_wf *w = p;
    return w->commits;
}

static void watch_free(void *w, bool forget)
{
    wf_free(w, forget);
}

static const struct wr_watch_ops ops = {
    .kind = &wr_trigger_user_date,
    .make = watch_make,
    .begin = watch_begin,
    .rebind = watch_rebind,
    .stop = watch_stop,
    .idle = watch_idle,
    .commits = watch_commits,
    .free = watch_free,
};

void *wr_user_date_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                         char *err, size_t errlen)
{
    return wr_watchset_start(&ops, env, set, err, errlen);
}

/* }====== */
