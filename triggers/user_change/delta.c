/*
 * delta — the user-change trigger's rounds; see delta.h.
 *
 * A round: read (pages merged into round->now as they come, each user as its compact text, or
 * as null when that text is the remembered one: a big tenant's full read holds little), then,
 * after the last page, fill the managers' userPrincipalName, compare each user seen with the
 * remembered one, build the batch (events, state rows, the link), submit, and on a good commit
 * apply round->apply to the memory (a baseline's memory is round->now itself). The poll's
 * round lasts until the commit's answer, so rounds never overlap.
 */
#include "triggers/user_change/delta.h"

#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/log.h"
#include "engine/base/metrics.h"
#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/lang/workflow.h"
#include "engine/store/ingest.h"
#include "engine/store/trigger_state.h"
#include "triggers/entra.h"
#include "triggers/poll.h"
#include "triggers/trigger.h"
#include "triggers/user_change/spec.h"
#include "triggers/watchset.h"

#define KIND "user-change"

struct watch;

struct round {
    struct watch *w;
    bool full;     /* the read in flight has no token: every user, whole */
    bool baseline; /* nothing remembered yet: fire nothing */
    char *from;    /* the link the round started from ("" for none): part of the keys */
    /* id -> the user's text after this round (a json string; its manager's userPrincipalName
       perhaps not filled yet), or null: the text equals the remembered one. Users seen. Texts,
       not object trees: a full read of a big tenant holds every user until the read ends. */
    struct json_object *now;
    struct json_object *removed; /* id -> null: users Graph reported removed */
    struct json_object *apply;   /* id -> text or null, applied to memory after the commit */
    char *link;                  /* the new deltaLink */
    int pages;
};

struct watch {
    const struct wr_trigger_env *env;
    const struct wr_workflow *wf;
    char *name, *scope, *select, *path;
    struct wr_user_change_spec spec;
    struct wr_poll *poll;
    struct json_object *users; /* id -> remembered text (json string) */
    char *delta;               /* the stored deltaLink, or NULL: the next round is a baseline */
    bool loaded, stale;        /* stale: what is stored was made by another $select */
    bool stopped, reading;
    size_t commits;
    struct round *round;
};

static void round_free(struct round *r)
{
    if (!r) {
        return;
    }
    json_object_put(r->now);
    json_object_put(r->removed);
    json_object_put(r->apply);
    free(r->from);
    free(r->link);
    free(r);
}

static void end_round(struct watch *w, bool ok, const char *error)
{
    int pages = w->round ? w->round->pages : 0;
    round_free(w->round);
    w->round = NULL;
    wr_entra_give_back(w->env->base, pages);
    wr_poll_ended(w->poll, ok, pages, error);
}

/* {====== memory ====== */

static void on_state(void *arg, const char *name, const char *value, int64_t at)
{
    struct watch *w = arg;
    (void)at;
    if (strcmp(name, "delta") == 0) {
        free(w->delta);
        w->delta = wr_xstrdup(value);
    } else if (strcmp(name, "query") == 0) {
        w->stale = strcmp(value, w->select) != 0;
    } else if (strncmp(name, "u:", 2) == 0) {
        json_object_object_add(w->users, name + 2, json_object_new_string(value));
    }
}

/* Loads the memory once; 0, or -1 with err. What another $select made is dropped (the next
   round is a baseline that clears it). */
static int load(struct watch *w, char *err, size_t errlen)
{
    if (w->loaded) {
        return 0;
    }
    if (w->env->state_path &&
        wr_trigger_state_load(w->env->state_path, w->scope, NULL, on_state, w, err, errlen) < 0) {
        json_object_put(w->users);
        w->users = json_object_new_object();
        free(w->delta);
        w->delta = NULL;
        return -1;
    }
    if (w->stale) {
        json_object_put(w->users);
        w->users = json_object_new_object();
        free(w->delta);
        w->delta = NULL;
    }
    w->loaded = true;
    return 0;
}

/* The remembered text of user id (borrowed), or NULL. */
static const char *remembered_text(struct watch *w, const char *id)
{
    struct json_object *t = NULL;
    return json_object_object_get_ex(w->users, id, &t) ? json_object_get_string(t) : NULL;
}

/* The remembered user id as an object (owned), or NULL. */
static struct json_object *remembered(struct watch *w, const char *id)
{
    struct json_object *t = NULL;
    if (!json_object_object_get_ex(w->users, id, &t)) {
        return NULL;
    }
    return json_tokener_parse(json_object_get_string(t));
}

/* }====== */

/* {====== reading ====== */

static int on_page(void *arg, const struct wr_directory_page *page, char *err, size_t errlen)
{
    struct watch *w = arg;
    struct round *r = w->round;
    (void)err;
    (void)errlen;
    r->pages++;
    for (size_t i = 0; i < json_object_array_length(page->items); i++) {
        struct json_object *item = json_object_array_get_idx(page->items, i), *idv = NULL;
        json_object_object_get_ex(item, "id", &idv);
        const char *id = json_object_get_string(idv);
        if (json_object_object_get_ex(item, "@removed", NULL)) {
            json_object_object_del(r->now, id);
            json_object_object_add(r->removed, id, NULL);
            continue;
        }
        json_object_object_del(r->removed, id);
        struct json_object *seen = NULL, *old = NULL;
        if (json_object_object_get_ex(r->now, id, &seen) && seen) {
            old = json_tokener_parse(json_object_get_string(seen));
        } else if (seen || !r->full) {
            old = remembered(w, id); /* seen as null: the round's text is the remembered one */
        }
        struct json_object *u = wr_user_change_user(&w->spec, item, old, r->full);
        json_object_put(old);
        const char *text = wr_user_change_text(u), *was = remembered_text(w, id);
        /* A manager whose userPrincipalName is still to be filled keeps its text: the fill
           (at the end of the read) decides. */
        bool unfilled = wr_user_change_manager_id(u) && !wr_user_change_manager_upn(u);
        json_object_object_add(
            r->now, id,
            !unfilled && was && strcmp(was, text) == 0 ? NULL : json_object_new_string(text));
        json_object_put(u);
    }
    return 0;
}

static void on_read(void *arg, const struct wr_directory_read_result *res);

static void read_from(struct watch *w, const char *link)
{
    w->reading = true;
    if (wr_directory_read_all(w->env->dir, link, 0, 0, on_page, on_read, w) != 0) {
        w->reading = false;
        end_round(w, false, "the read could not start");
    }
}

/* The text of user id after this round (borrowed): the round's, else the remembered one, or
   NULL. */
static const char *text_after(struct watch *w, struct round *r, const char *id)
{
    struct json_object *t = NULL;
    if (json_object_object_get_ex(r->now, id, &t) && t) {
        return json_object_get_string(t);
    }
    return remembered_text(w, id);
}

/* The round's managers' userPrincipalName, from this round's users or the remembered ones. */
static void fill_managers(struct watch *w, struct round *r)
{
    json_object_object_foreach(r->now, id, t)
    {
        if (!t || !w->spec.manager) {
            continue;
        }
        struct json_object *user = json_tokener_parse(json_object_get_string(t));
        const char *mid = wr_user_change_manager_id(user);
        const char *mtext = mid && !wr_user_change_manager_upn(user) ? text_after(w, r, mid) : NULL;
        struct json_object *mu = mtext ? json_tokener_parse(mtext) : NULL, *mupn = NULL;
        if (mu && json_object_object_get_ex(mu, "userPrincipalName", &mupn) && mupn) {
            wr_user_change_fill_manager(user, json_object_get_string(mupn));
            const char *text = wr_user_change_text(user), *was = remembered_text(w, id);
            json_object_object_add(
                r->now, id, was && strcmp(was, text) == 0 ? NULL : json_object_new_string(text));
        }
        json_object_put(mu);
        json_object_put(user);
    }
}

static void on_committed(void *arg, const struct wr_ingest_result *res);

/* Adds one event for user id to the batch. */
static void add_event(struct watch *w, struct wr_ingest_batch *b, const char *id,
                      struct json_object *ev, const char *what)
{
    char *key = wr_user_change_key(w->name, id, w->round->from, what);
    struct wr_ingest_event e = {.event = ev, .key = key, .scope = w->scope};
    const struct wr_workflow *cand = w->wf;
    wr_ingest_batch_add(b, &cand, 1, &e, 1);
    free(key);
}

/* The read ended well: compare, and submit what the round found. */
static void finish(struct watch *w, const char *link)
{
    struct round *r = w->round;
    r->link = wr_xstrdup(link);
    fill_managers(w, r);
    if (r->full && !r->baseline) {
        /* A full read after a refused token: who is no longer listed was removed. */
        json_object_object_foreach(w->users, id, text)
        {
            (void)text;
            if (!json_object_object_get_ex(r->now, id, NULL)) {
                json_object_object_add(r->removed, id, NULL);
            }
        }
    }
    struct wr_ingest_batch *b = wr_ingest_batch_new(w->scope, NULL);
    size_t rows = 0, events = 0;
    if (r->baseline) {
        wr_trigger_state_clear(b, w->scope);
        wr_trigger_state_put(b, w->scope, "query", w->select);
        rows++;
    }
    json_object_object_foreach(r->now, id, t)
    {
        if (!t) {
            continue; /* as remembered */
        }
        const char *text = json_object_get_string(t), *was = remembered_text(w, id);
        if (was && strcmp(was, text) == 0) {
            continue;
        }
        char *name = wr_xasprintf("u:%s", id);
        wr_trigger_state_put(b, w->scope, name, text);
        free(name);
        if (!r->baseline) {
            /* the baseline's memory is r->now itself (on_committed) */
            json_object_object_add(r->apply, id, json_object_get(t));
        }
        rows++;
        if (r->baseline || !was) {
            continue;
        }
        struct json_object *old = json_tokener_parse(was), *user = json_tokener_parse(text);
        struct json_object *diff = wr_user_change_diff(&w->spec, old, user);
        json_object_put(old);
        if (!diff) {
            json_object_put(user);
        } else {
            struct json_object *ev = json_object_new_object();
            json_object_object_add(ev, "user", user);
            json_object_object_add(ev, "changes", diff);
            add_event(w, b, id, ev, wr_user_change_text(diff));
            json_object_put(ev);
            events++;
        }
    }
    json_object_object_foreach(r->removed, rid, unused)
    {
        (void)unused;
        struct json_object *old = r->baseline ? NULL : remembered(w, rid);
        if (!old) {
            continue;
        }
        char *name = wr_xasprintf("u:%s", rid);
        wr_trigger_state_put(b, w->scope, name, NULL);
        free(name);
        json_object_object_add(r->apply, rid, NULL);
        rows++;
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "user", old);
        json_object_object_add(ev, "deleted", json_object_new_boolean(true));
        add_event(w, b, rid, ev, "deleted");
        json_object_put(ev);
        events++;
    }
    if (!w->delta || strcmp(w->delta, link) != 0) {
        wr_trigger_state_put(b, w->scope, "delta", link);
        rows++;
    }
    if (rows == 0 && events == 0) {
        wr_ingest_batch_free(b);
        end_round(w, true, NULL);
        return;
    }
    if (!r->baseline) {
        /* What is applied after the commit holds its own references: the round's users can go
           now, while the journal writes. */
        json_object_put(r->now);
        r->now = NULL;
    }
    if (wr_ingest_batch_submit(w->env->ingest, b, on_committed, w) != 0) {
        end_round(w, false, "the journal is stopping");
        return;
    }
    w->commits++;
}

static void on_read(void *arg, const struct wr_directory_read_result *res)
{
    struct watch *w = arg;
    struct round *r = w->round;
    w->reading = false;
    if (w->stopped) {
        round_free(r); /* no more rounds: what was read is dropped, nothing counted */
        w->round = NULL;
        return;
    }
    if (!res->ok && res->token_refused && !r->full) {
        wr_log(WR_LOG_WARN, "user-change: Graph refused the delta token; reading every user again",
               "workflow", w->name, "error", res->message ? res->message : "", NULL);
        r->full = true;
        json_object_put(r->now);
        json_object_put(r->removed);
        r->now = json_object_new_object();
        r->removed = json_object_new_object();
        read_from(w, w->path);
        return;
    }
    if (!res->ok) {
        const char *why = res->message ? res->message : res->error ? res->error : "failed";
        wr_log(WR_LOG_WARN, "user-change poll failed; nothing fired, trying again next round",
               "workflow", w->name, "error", why, NULL);
        end_round(w, false, why);
        return;
    }
    if (!res->delta_link) {
        end_round(w, false, "Graph's last page has no @odata.deltaLink");
        return;
    }
    finish(w, res->delta_link);
}

static void on_committed(void *arg, const struct wr_ingest_result *res)
{
    struct watch *w = arg;
    struct round *r = w->round;
    w->commits--;
    if (res->rc != 0) {
        wr_metrics_event(KIND, "failed", res->count);
        wr_log(WR_LOG_ERROR, "user-change: the round could not be stored; it is repeated",
               "workflow", w->name, "error", res->error ? res->error : "", NULL);
        end_round(w, false, res->error ? res->error : "the journal failed");
        return;
    }
    for (size_t i = 0; i < res->count; i++) {
        const struct wr_ingest_item *it = &res->items[i];
        wr_metrics_event(KIND,
                         it->duplicate  ? "duplicate"
                         : it->runs > 0 ? "accepted"
                                        : "unmatched",
                         1);
    }
    if (r->baseline) {
        /* The store was cleared: the memory is exactly the baseline's users (all texts) */
        json_object_put(w->users);
        w->users = r->now;
        r->now = NULL;
    }
    json_object_object_foreach(r->apply, id, text)
    {
        if (text) {
            json_object_object_add(w->users, id, json_object_get(text));
        } else {
            json_object_object_del(w->users, id);
        }
    }
    free(w->delta);
    w->delta = wr_xstrdup(r->link);
    if (r->baseline) {
        char n[32];
        snprintf(n, sizeof(n), "%d", json_object_object_length(w->users));
        wr_log(WR_LOG_INFO, "user-change: baseline recorded; changes fire from now on", "workflow",
               w->name, "users", n, NULL);
    }
    end_round(w, true, NULL);
}

static void on_round(void *arg)
{
    struct watch *w = arg;
    char err[WR_ERR_MAX];
    if (load(w, err, sizeof(err)) != 0) {
        wr_log(WR_LOG_ERROR, "user-change: the trigger's memory cannot be read", "workflow",
               w->name, "error", err, NULL);
        wr_poll_ended(w->poll, false, 0, err);
        return;
    }
    struct round *r = wr_xcalloc(1, sizeof(*r));
    r->w = w;
    r->now = json_object_new_object();
    r->removed = json_object_new_object();
    r->apply = json_object_new_object();
    r->baseline = w->delta == NULL;
    if (r->baseline) {
        /* nothing is remembered for a baseline (the store is cleared when it commits) */
        json_object_put(w->users);
        w->users = json_object_new_object();
    }
    r->full = r->baseline;
    r->from = wr_xstrdup(w->delta ? w->delta : "");
    w->round = r;
    read_from(w, w->delta ? w->delta : w->path);
}

/* }====== */

/* {====== the watcher's life (triggers/watchset) ====== */

static void *watch_make(const struct wr_trigger_env *env, const struct wr_workflow *wf, char *err,
                        size_t errlen)
{
    struct watch *w = wr_xcalloc(1, sizeof(*w));
    char msg[WR_ERR_MAX];
    if (wr_user_change_spec_read(wf->trigger_args, &w->spec, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "%s: %s", wf->name, msg);
        wr_user_change_spec_clear(&w->spec);
        free(w);
        return NULL;
    }
    w->env = env;
    w->wf = wf;
    w->name = wr_xstrdup(wf->name);
    w->scope = wr_xasprintf(KIND " %s", wf->name);
    w->select = wr_user_change_select(&w->spec);
    w->path = wr_user_change_path(&w->spec);
    w->users = json_object_new_object();
    w->poll = wr_poll_new(env->base, KIND, wf->name, w->spec.every_ms, on_round, w);
    return w;
}

static void watch_begin(void *p)
{
    struct watch *w = p;
    char err[WR_ERR_MAX];
    if (!w->env->dir) {
        return; /* --ingest-only: the ready line says so */
    }
    if (load(w, err, sizeof(err)) != 0) {
        wr_log(WR_LOG_ERROR, "user-change: the trigger's memory cannot be read", "workflow",
               w->name, "error", err, NULL);
    }
    wr_poll_begin(w->poll);
}

static void watch_rebind(void *p, const struct wr_workflow *wf)
{
    struct watch *w = p;
    w->wf = wf;
}

static void watch_stop(void *p)
{
    struct watch *w = p;
    w->stopped = true;
    wr_poll_stop(w->poll);
}

static bool watch_idle(const void *p)
{
    const struct watch *w = p;
    return !w->reading && w->commits == 0;
}

static size_t watch_commits(const void *p)
{
    const struct watch *w = p;
    return w->commits;
}

static void watch_free(void *p, bool forget)
{
    struct watch *w = p;
    if (!w) {
        return;
    }
    wr_poll_free(w->poll, forget);
    round_free(w->round);
    json_object_put(w->users);
    wr_user_change_spec_clear(&w->spec);
    free(w->delta);
    free(w->name);
    free(w->scope);
    free(w->select);
    free(w->path);
    free(w);
}

const struct wr_watch_ops wr_user_change_watch = {
    .kind = &wr_trigger_user_change,
    .make = watch_make,
    .begin = watch_begin,
    .rebind = watch_rebind,
    .stop = watch_stop,
    .idle = watch_idle,
    .commits = watch_commits,
    .free = watch_free,
};

/* }====== */

/* {====== weir scope ====== */

struct count {
    bool delta;
    int64_t users, at;
};

static void on_count(void *arg, const char *name, const char *value, int64_t at)
{
    struct count *c = arg;
    (void)value;
    if (strcmp(name, "delta") == 0) {
        c->delta = true;
    } else if (strncmp(name, "u:", 2) == 0) {
        c->users++;
    } else if (strcmp(name, "query") == 0) {
        c->at = at;
    }
}

struct json_object *wr_user_change_preview(const char *state_path, const struct wr_workflow *wf,
                                           char *err, size_t errlen)
{
    struct count c = {0};
    char *scope = wr_xasprintf(KIND " %s", wf->name);
    int64_t n =
        state_path ? wr_trigger_state_load(state_path, scope, NULL, on_count, &c, err, errlen) : 0;
    free(scope);
    if (n < 0) {
        return NULL;
    }
    struct wr_user_change_spec spec;
    char msg[WR_ERR_MAX];
    struct json_object *attrs = json_object_new_array();
    if (wr_user_change_spec_read(wf->trigger_args, &spec, msg, sizeof(msg)) == 0) {
        for (size_t i = 0; i < spec.nattrs; i++) {
            json_object_array_add(attrs, json_object_new_string(spec.attrs[i]));
        }
    }
    wr_user_change_spec_clear(&spec);
    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "workflow", json_object_new_string(wf->name));
    json_object_object_add(p, "trigger", json_object_new_string(KIND));
    char *summary =
        c.delta ? wr_xasprintf("baseline of %lld users; a change of a watched attribute fires",
                               (long long)c.users)
                : wr_xstrdup("no baseline yet: the first round records one and fires nothing");
    json_object_object_add(p, "summary", json_object_new_string(summary));
    free(summary);
    json_object_object_add(p, "users", json_object_new_array());
    json_object_object_add(p, "baseline", json_object_new_boolean(c.delta));
    json_object_object_add(p, "users_known", json_object_new_int64(c.users));
    json_object_object_add(p, "attributes", attrs);
    return p;
}

/* }====== */
