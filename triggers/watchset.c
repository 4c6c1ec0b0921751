/*
 * watchset — the watchers of a polling kind across reloads; see watchset.h.
 *
 * Each watcher is an entry {workflow name, its trigger arguments as JSON text, the watcher}.
 * Parked entries (removed or changed workflows) are freed by a 20 ms reaper once idle; a new
 * entry whose name is still parked waits for that before it begins.
 */
#include "triggers/watchset.h"

#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "triggers/trigger.h"

#define REAP_MS 20

struct entry {
    char *name;
    char *args; /* the trigger arguments as JSON text: equal text, same watcher */
    void *w;
    bool begun;
    bool forget; /* parked: its workflow is gone from the set */
};

struct list {
    struct entry *items;
    size_t count, cap;
};

struct wr_watchset {
    const struct wr_watch_ops *ops;
    struct wr_trigger_env env; /* a copy: the watchers point at it */
    struct list now, next, parked;
    bool prepared, stopping;
    struct event *reap;
};

static void push(struct list *l, struct entry e)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4;
        l->items = wr_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->count++] = e;
}

static void entry_free(const struct wr_watch_ops *ops, struct entry *e)
{
    if (e->w) {
        ops->free(e->w, e->forget);
    }
    free(e->name);
    free(e->args);
}

static void list_clear(const struct wr_watch_ops *ops, struct list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        entry_free(ops, &l->items[i]);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static bool parked(const struct wr_watchset *ws, const char *name)
{
    for (size_t i = 0; i < ws->parked.count; i++) {
        if (strcmp(ws->parked.items[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

static void arm_reap(struct wr_watchset *ws)
{
    struct timeval tv = {0, REAP_MS * 1000};
    if (ws->parked.count > 0 && !evtimer_pending(ws->reap, NULL)) {
        evtimer_add(ws->reap, &tv);
    }
}

/* Frees idle parked watchers, then begins the waiting ones whose name is free again. */
static void reap(struct wr_watchset *ws)
{
    size_t k = 0;
    for (size_t i = 0; i < ws->parked.count; i++) {
        struct entry *e = &ws->parked.items[i];
        if (ws->ops->idle(e->w)) {
            entry_free(ws->ops, e);
        } else {
            ws->parked.items[k++] = *e;
        }
    }
    ws->parked.count = k;
    for (size_t i = 0; i < ws->now.count && !ws->stopping; i++) {
        struct entry *e = &ws->now.items[i];
        if (!e->begun && !parked(ws, e->name)) {
            e->begun = true;
            ws->ops->begin(e->w);
        }
    }
    arm_reap(ws);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reap(arg);
}

static char *args_text(const struct wr_workflow *wf)
{
    return wr_xstrdup(json_object_to_json_string_ext(wf->trigger_args, JSON_C_TO_STRING_PLAIN));
}

/* Makes a watcher for every workflow of set of the kind into out. */
static int build(struct wr_watchset *ws, const struct wr_workflow_set *set, struct list *out,
                 char *err, size_t errlen)
{
    for (size_t i = 0; i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        if (!wf->enabled || wf->trigger != ws->ops->kind) {
            continue;
        }
        struct entry e = {.name = wr_xstrdup(wf->name), .args = args_text(wf)};
        if (!(e.w = ws->ops->make(&ws->env, wf, err, errlen))) {
            entry_free(ws->ops, &e);
            return -1;
        }
        push(out, e);
    }
    return 0;
}

struct wr_watchset *wr_watchset_start(const struct wr_watch_ops *ops,
                                      const struct wr_trigger_env *env,
                                      const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct wr_watchset *ws = wr_xcalloc(1, sizeof(*ws));
    ws->ops = ops;
    ws->env = *env;
    ws->reap = evtimer_new(env->base, on_reap, ws);
    if (build(ws, set, &ws->now, err, errlen) != 0) {
        wr_watchset_free(ws);
        return NULL;
    }
    reap(ws); /* begins every watcher: nothing is parked yet */
    return ws;
}

bool wr_watchset_ready(const struct wr_watchset *ws, char *addr, size_t addrlen)
{
    if (ws->now.count == 0) {
        return false;
    }
    snprintf(addr, addrlen, "%zu workflow%s%s", ws->now.count, ws->now.count == 1 ? "" : "s",
             ws->env.dir ? "" : ", not polling (--ingest-only: no Graph)");
    return true;
}

/* Prepare only decides what is new: which watchers are kept is settled at commit (a kept
   one is never touched before). So prepare makes watchers for every workflow of the set
   that the current list does not serve with equal arguments. */
int wr_watchset_prepare(struct wr_watchset *ws, const struct wr_workflow_set *set, char *err,
                        size_t errlen)
{
    wr_watchset_abort(ws);
    for (size_t i = 0; i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        if (!wf->enabled || wf->trigger != ws->ops->kind) {
            continue;
        }
        char *args = args_text(wf);
        bool kept = false;
        for (size_t k = 0; k < ws->now.count && !kept; k++) {
            kept = strcmp(ws->now.items[k].name, wf->name) == 0 &&
                   strcmp(ws->now.items[k].args, args) == 0;
        }
        if (kept) {
            free(args);
            continue;
        }
        struct entry e = {.name = wr_xstrdup(wf->name), .args = args};
        if (!(e.w = ws->ops->make(&ws->env, wf, err, errlen))) {
            entry_free(ws->ops, &e);
            wr_watchset_abort(ws);
            return -1;
        }
        push(&ws->next, e);
    }
    ws->prepared = true;
    return 0;
}

void wr_watchset_commit(struct wr_watchset *ws, const struct wr_workflow_set *set)
{
    struct list fresh = {0};
    for (size_t i = 0; i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        if (!wf->enabled || wf->trigger != ws->ops->kind) {
            continue;
        }
        char *args = args_text(wf);
        struct entry e = {0};
        for (size_t k = 0; k < ws->now.count && !e.w; k++) {
            struct entry *old = &ws->now.items[k];
            if (old->w && strcmp(old->name, wf->name) == 0 && strcmp(old->args, args) == 0) {
                e = *old;
                old->w = NULL;
                old->name = old->args = NULL;
                ws->ops->rebind(e.w, wf);
            }
        }
        for (size_t k = 0; k < ws->next.count && !e.w; k++) {
            struct entry *n = &ws->next.items[k];
            if (n->w && strcmp(n->name, wf->name) == 0) {
                e = *n;
                n->w = NULL;
                n->name = n->args = NULL;
            }
        }
        free(args);
        if (e.w) {
            push(&fresh, e);
        }
    }
    /* What is left of the old list is parked: stopped now, freed once idle. */
    for (size_t k = 0; k < ws->now.count; k++) {
        struct entry *old = &ws->now.items[k];
        if (!old->w) {
            continue;
        }
        old->forget = wr_workflow_set_find(set, old->name) == NULL;
        ws->ops->stop(old->w);
        push(&ws->parked, *old);
    }
    free(ws->now.items);
    ws->now = fresh;
    list_clear(ws->ops, &ws->next);
    ws->prepared = false;
    reap(ws);
}

void wr_watchset_abort(struct wr_watchset *ws)
{
    list_clear(ws->ops, &ws->next);
    ws->prepared = false;
}

void wr_watchset_stop_accepting(struct wr_watchset *ws)
{
    ws->stopping = true;
    for (size_t i = 0; i < ws->now.count; i++) {
        ws->ops->stop(ws->now.items[i].w);
    }
}

size_t wr_watchset_pending(struct wr_watchset *ws)
{
    size_t n = 0;
    reap(ws);
    for (size_t i = 0; i < ws->now.count; i++) {
        n += ws->ops->commits(ws->now.items[i].w);
    }
    for (size_t i = 0; i < ws->parked.count; i++) {
        n += ws->ops->commits(ws->parked.items[i].w);
    }
    return n;
}

bool wr_watchset_busy(const struct wr_watchset *ws)
{
    for (size_t i = 0; i < ws->parked.count; i++) {
        if (!ws->ops->idle(ws->parked.items[i].w)) {
            return true;
        }
    }
    return false;
}

const struct wr_trigger_env *wr_watchset_env(const struct wr_watchset *ws)
{
    return &ws->env;
}

void *wr_watchset_find(const struct wr_watchset *ws, const char *name)
{
    for (size_t i = 0; ws && i < ws->now.count; i++) {
        if (ws->now.items[i].w && strcmp(ws->now.items[i].name, name) == 0) {
            return ws->now.items[i].w;
        }
    }
    return NULL;
}

void wr_watchset_free(struct wr_watchset *ws)
{
    if (!ws) {
        return;
    }
    list_clear(ws->ops, &ws->now);
    list_clear(ws->ops, &ws->next);
    list_clear(ws->ops, &ws->parked);
    if (ws->reap) {
        event_free(ws->reap);
    }
    free(ws);
}

/* {====== the slots of a kind whose runtime is a watchset ====== */

bool wr_watchset_slot_ready(const void *ws, char *addr, size_t addrlen)
{
    return wr_watchset_ready(ws, addr, addrlen);
}

bool wr_watchset_slot_busy(const void *ws)
{
    return wr_watchset_busy(ws);
}

int wr_watchset_slot_prepare(void *ws, const struct wr_workflow_set *set, char *err, size_t errlen)
{
    return wr_watchset_prepare(ws, set, err, errlen);
}

void wr_watchset_slot_commit(void *ws, const struct wr_workflow_set *set)
{
    wr_watchset_commit(ws, set);
}

void wr_watchset_slot_abort(void *ws)
{
    wr_watchset_abort(ws);
}

void wr_watchset_slot_stop_accepting(void *ws)
{
    wr_watchset_stop_accepting(ws);
}

size_t wr_watchset_slot_pending(void *ws)
{
    return wr_watchset_pending(ws);
}

void wr_watchset_slot_free(void *ws)
{
    wr_watchset_free(ws);
}

/* }====== */
