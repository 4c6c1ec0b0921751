/*
 * members — the group-membership trigger's rounds; see members.h.
 *
 * A round: resolve the group, read its delta (pages gathered into added/removed, or listed for
 * a full read), decide who really joined or left against the remembered members, read those
 * users one by one, then submit; memory changes only after a good commit.
 */
#include "triggers/group_membership/members.h"

#include <inttypes.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/duration.h"
#include "engine/base/log.h"
#include "engine/base/metrics.h"
#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/lang/workflow.h"
#include "engine/store/ingest.h"
#include "engine/store/trigger_state.h"
#include "triggers/poll.h"
#include "triggers/entra.h"
#include "triggers/trigger.h"
#include "triggers/watchset.h"

#define KIND "group-membership"

const char wr_group_membership_select[] =
    "id,userPrincipalName,displayName,mail,employeeId,accountEnabled";

struct json_object *wr_group_membership_user(struct json_object *user)
{
    struct json_object *u = json_object_new_object(), *v = NULL;
    for (size_t i = 0; wr_entra_user_fixed[i]; i++) {
        v = NULL;
        json_object_object_get_ex(user, wr_entra_user_fixed[i], &v);
        json_object_object_add(u, wr_entra_user_fixed[i], json_object_get(v));
    }
    return u;
}

static const char *text_of(struct json_object *o)
{
    if (json_object_is_type(o, json_type_string)) {
        return json_object_get_string(o); /* a baseline's member, kept as its text */
    }
    return json_object_to_json_string_ext(o,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

struct round {
    bool baseline, full;
    char *from;                  /* the link the round started from ("" for none) */
    struct json_object *group;   /* {"id", "displayName"} */
    struct json_object *added;   /* id -> user (null until read; a baseline's: its text) */
    struct json_object *removed; /* id -> user (null until read) */
    struct json_object *listed;  /* full read: every member id -> null */
    char *link;
    int pages;
    char **ids; /* the users to read, in order */
    size_t nids, next;
};

struct watch {
    const struct wr_trigger_env *env;
    const struct wr_workflow *wf;
    char *name, *scope, *ref;
    bool on_added, on_removed;
    int64_t every_ms;
    struct wr_poll *poll;
    struct json_object *members; /* id -> remembered text (json string) */
    char *delta, *group;         /* stored link and group text, or NULL */
    bool loaded, stopped, busy;  /* busy: a lookup or read in flight */
    size_t commits;
    struct round *round;
};

static void round_free(struct round *r)
{
    if (!r) {
        return;
    }
    json_object_put(r->group);
    json_object_put(r->added);
    json_object_put(r->removed);
    json_object_put(r->listed);
    for (size_t i = 0; i < r->nids; i++) {
        free(r->ids[i]);
    }
    free(r->ids);
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

/* A failure: logged with Graph's answer, counted, nothing fired. */
static void fail(struct watch *w, const char *why)
{
    wr_log(WR_LOG_WARN, "group-membership poll failed; nothing fired, trying again next round",
           "workflow", w->name, "error", why, NULL);
    end_round(w, false, why);
}

/* The round was dropped because the watcher stopped: true (and the round is gone). */
static bool dropped(struct watch *w)
{
    if (!w->stopped) {
        return false;
    }
    round_free(w->round);
    w->round = NULL;
    return true;
}

/* {====== memory ====== */

static void on_state(void *arg, const char *name, const char *value, int64_t at)
{
    struct watch *w = arg;
    (void)at;
    if (strcmp(name, "delta") == 0) {
        free(w->delta);
        w->delta = wr_xstrdup(value);
    } else if (strcmp(name, "group") == 0) {
        free(w->group);
        w->group = wr_xstrdup(value);
    } else if (strncmp(name, "m:", 2) == 0) {
        json_object_object_add(w->members, name + 2, json_object_new_string(value));
    }
}

static int load(struct watch *w, char *err, size_t errlen)
{
    if (w->loaded) {
        return 0;
    }
    if (w->env->state_path &&
        wr_trigger_state_load(w->env->state_path, w->scope, NULL, on_state, w, err, errlen) < 0) {
        json_object_put(w->members);
        w->members = json_object_new_object();
        free(w->delta);
        free(w->group);
        w->delta = w->group = NULL;
        return -1;
    }
    w->loaded = true;
    return 0;
}

/* The stored group's id (owned), or NULL. */
static char *stored_group_id(struct watch *w)
{
    struct json_object *g = w->group ? json_tokener_parse(w->group) : NULL, *id = NULL;
    char *out =
        json_object_object_get_ex(g, "id", &id) ? wr_xstrdup(json_object_get_string(id)) : NULL;
    json_object_put(g);
    return out;
}

/* }====== */

/* {====== the round ====== */

static void on_committed(void *arg, const struct wr_ingest_result *res);
static void read_users(struct watch *w);

static void add_event(struct watch *w, struct wr_ingest_batch *b, const char *id,
                      struct json_object *user, const char *change)
{
    struct round *r = w->round;
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "user", json_object_get(user));
    json_object_object_add(ev, "group", json_object_get(r->group));
    json_object_object_add(ev, "change", json_object_new_string(change));
    /* The key: workflow, user, and a hash of the round's starting link and the change. */
    uint64_t h = 14695981039346656037ULL;
    for (const char *s = r->from; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    for (const char *s = change; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    char *key = wr_xasprintf(KIND ":%s:%s:%016" PRIx64, w->name, id, h);
    struct wr_ingest_event e = {.event = ev, .key = key, .scope = w->scope};
    const struct wr_workflow *cand = w->wf;
    wr_ingest_batch_add(b, &cand, 1, &e, 1);
    free(key);
    json_object_put(ev);
}

/* Everything is read: the batch. */
static void submit(struct watch *w)
{
    struct round *r = w->round;
    struct wr_ingest_batch *b = wr_ingest_batch_new(w->scope, NULL);
    size_t rows = 0;
    const char *gtext = text_of(r->group);
    if (r->baseline) {
        wr_trigger_state_clear(b, w->scope);
    }
    if (!w->group || strcmp(w->group, gtext) != 0) {
        wr_trigger_state_put(b, w->scope, "group", gtext);
        rows++;
    }
    json_object_object_foreach(r->added, aid, auser)
    {
        char *name = wr_xasprintf("m:%s", aid);
        wr_trigger_state_put(b, w->scope, name, text_of(auser));
        free(name);
        rows++;
        if (!r->baseline && w->on_added) {
            add_event(w, b, aid, auser, "added");
        }
    }
    json_object_object_foreach(r->removed, rid, ruser)
    {
        char *name = wr_xasprintf("m:%s", rid);
        wr_trigger_state_put(b, w->scope, name, NULL);
        free(name);
        rows++;
        if (!r->baseline && w->on_removed) {
            add_event(w, b, rid, ruser, "removed");
        }
    }
    if (!w->delta || strcmp(w->delta, r->link) != 0) {
        wr_trigger_state_put(b, w->scope, "delta", r->link);
        rows++;
    }
    if (rows == 0) {
        wr_ingest_batch_free(b);
        end_round(w, true, NULL);
        return;
    }
    if (wr_ingest_batch_submit(w->env->ingest, b, on_committed, w) != 0) {
        end_round(w, false, "the journal is stopping");
        return;
    }
    w->commits++;
}

static void on_user(void *arg, const struct wr_directory_result *res)
{
    struct watch *w = arg;
    struct round *r = w->round;
    w->busy = false;
    if (dropped(w)) {
        return;
    }
    const char *id = r->ids[r->next++];
    struct json_object *user = NULL, *t = NULL;
    if (res->ok) {
        user = wr_group_membership_user(res->object);
    } else if (res->not_found) {
        /* Deleted since: the last known user, or its id. */
        if (json_object_object_get_ex(w->members, id, &t)) {
            user = json_tokener_parse(json_object_get_string(t));
        }
        if (!user) {
            user = json_object_new_object();
            json_object_object_add(user, "id", json_object_new_string(id));
        }
    } else {
        char *why;
        if (res->graph) {
            why = wr_xasprintf("%s: Graph %ld %s: %s", res->error ? res->error : "reading a member",
                               res->graph->status,
                               res->graph->error_code ? res->graph->error_code : "",
                               res->graph->error_message ? res->graph->error_message : "");
        } else {
            why = wr_xstrdup(res->error ? res->error : "reading a member failed");
        }
        fail(w, why);
        free(why);
        return;
    }
    if (json_object_object_get_ex(r->added, id, NULL)) {
        json_object_object_add(r->added, id, user);
    } else {
        json_object_object_add(r->removed, id, user);
    }
    read_users(w);
}

/* Reads the next member of the round, or submits when all are read. */
static void read_users(struct watch *w)
{
    struct round *r = w->round;
    if (r->next == r->nids) {
        submit(w);
        return;
    }
    w->busy = true;
    if (wr_directory_user(w->env->dir, r->ids[r->next], wr_group_membership_select, on_user, w) !=
        0) {
        w->busy = false;
        fail(w, "a member id is not a user reference");
    }
}

static void want(struct round *r, const char *id)
{
    r->ids = wr_xrealloc(r->ids, (r->nids + 1) * sizeof(*r->ids));
    r->ids[r->nids++] = wr_xstrdup(id);
}

/* After the read: who really joined and left, then read them. */
static void decide(struct watch *w)
{
    struct round *r = w->round;
    struct json_object *added = json_object_new_object(), *removed = json_object_new_object();
    if (r->full) {
        json_object_object_foreach(r->listed, id, unused)
        {
            (void)unused;
            if (!json_object_object_get_ex(w->members, id, NULL)) {
                json_object_object_add(added, id, NULL);
            }
        }
        json_object_object_foreach(w->members, mid, text)
        {
            (void)text;
            if (!json_object_object_get_ex(r->listed, mid, NULL)) {
                json_object_object_add(removed, mid, NULL);
            }
        }
    } else {
        json_object_object_foreach(r->added, id, unused)
        {
            (void)unused;
            if (!json_object_object_get_ex(w->members, id, NULL)) {
                json_object_object_add(added, id, NULL);
            }
        }
        json_object_object_foreach(r->removed, rid, unused2)
        {
            (void)unused2;
            if (json_object_object_get_ex(w->members, rid, NULL)) {
                json_object_object_add(removed, rid, NULL);
            }
        }
    }
    json_object_put(r->added);
    json_object_put(r->removed);
    json_object_put(r->listed); /* decided: the ids listed are no longer needed */
    r->listed = NULL;
    r->added = added;
    r->removed = removed;
    if (r->baseline) {
        /* Remembered by id, as the text {"id": ...}; nothing fires, so nobody is read. */
        json_object_object_foreach(r->added, id, unused)
        {
            (void)unused;
            struct json_object *u = json_object_new_object();
            json_object_object_add(u, "id", json_object_new_string(id));
            json_object_object_add(r->added, id, json_object_new_string(text_of(u)));
            json_object_put(u);
        }
        submit(w);
        return;
    }
    json_object_object_foreach(r->added, aid, u1)
    {
        (void)u1;
        want(r, aid);
    }
    json_object_object_foreach(r->removed, rid, u2)
    {
        (void)u2;
        want(r, rid);
    }
    read_users(w);
}

static int on_page(void *arg, const struct wr_directory_page *page, char *err, size_t errlen)
{
    struct watch *w = arg;
    struct round *r = w->round;
    struct json_object *gid = NULL;
    (void)err;
    (void)errlen;
    r->pages++;
    json_object_object_get_ex(r->group, "id", &gid);
    for (size_t i = 0; i < json_object_array_length(page->items); i++) {
        struct json_object *g = json_object_array_get_idx(page->items, i), *v = NULL, *md = NULL;
        json_object_object_get_ex(g, "id", &v);
        if (strcmp(json_object_get_string(v), json_object_get_string(gid)) != 0) {
            continue;
        }
        if (json_object_object_get_ex(g, "displayName", &v) &&
            json_object_is_type(v, json_type_string)) {
            json_object_object_add(r->group, "displayName", json_object_get(v));
        }
        if (!json_object_object_get_ex(g, "members@delta", &md) ||
            !json_object_is_type(md, json_type_array)) {
            continue;
        }
        for (size_t k = 0; k < json_object_array_length(md); k++) {
            struct json_object *m = json_object_array_get_idx(md, k), *t = NULL, *id = NULL;
            if ((json_object_object_get_ex(m, "@odata.type", &t) &&
                 strcmp(json_object_get_string(t), "#microsoft.graph.user") != 0) ||
                !json_object_object_get_ex(m, "id", &id) ||
                !json_object_is_type(id, json_type_string)) {
                continue; /* a nested group, a device, a contact: not a user */
            }
            const char *mid = json_object_get_string(id);
            bool gone = json_object_object_get_ex(m, "@removed", NULL);
            if (r->full) {
                if (gone) {
                    json_object_object_del(r->listed, mid);
                } else {
                    json_object_object_add(r->listed, mid, NULL);
                }
            } else if (gone) {
                json_object_object_del(r->added, mid);
                json_object_object_add(r->removed, mid, NULL);
            } else {
                json_object_object_del(r->removed, mid);
                json_object_object_add(r->added, mid, NULL);
            }
        }
    }
    return 0;
}

static void read_delta(struct watch *w, const char *link);

static void on_read(void *arg, const struct wr_directory_read_result *res)
{
    struct watch *w = arg;
    struct round *r = w->round;
    w->busy = false;
    if (dropped(w)) {
        return;
    }
    if (!res->ok && res->token_refused && !r->full) {
        wr_log(WR_LOG_WARN,
               "group-membership: Graph refused the delta token; reading the whole membership "
               "again",
               "workflow", w->name, "error", res->message ? res->message : "", NULL);
        r->full = true;
        json_object_put(r->added);
        json_object_put(r->removed);
        r->added = json_object_new_object();
        r->removed = json_object_new_object();
        read_delta(w, NULL);
        return;
    }
    if (!res->ok) {
        fail(w, res->message ? res->message : res->error ? res->error : "failed");
        return;
    }
    if (!res->delta_link) {
        fail(w, "Graph's last page has no @odata.deltaLink");
        return;
    }
    r->link = wr_xstrdup(res->delta_link);
    decide(w);
}

/* Reads link, or (NULL) the group's first delta request. */
static void read_delta(struct watch *w, const char *link)
{
    struct round *r = w->round;
    char *path = NULL;
    if (!link) {
        struct json_object *gid = NULL;
        json_object_object_get_ex(r->group, "id", &gid);
        char *filter = wr_xasprintf("id eq '%s'", json_object_get_string(gid));
        char *esc = wr_graph_escape(filter);
        path = wr_xasprintf("/groups/delta?$filter=%s&$select=displayName,members", esc);
        free(esc);
        free(filter);
        if (!r->listed) {
            r->listed = json_object_new_object();
        }
    }
    w->busy = true;
    if (wr_directory_read_all(w->env->dir, link ? link : path, 0, 0, on_page, on_read, w) != 0) {
        w->busy = false;
        fail(w, "the read could not start");
    }
    free(path);
}

static void on_group(void *arg, const struct wr_directory_result *res)
{
    struct watch *w = arg;
    struct round *r = w->round;
    w->busy = false;
    if (dropped(w)) {
        return;
    }
    if (!res->ok) {
        char *why;
        if (res->graph) {
            why = wr_xasprintf("%s: Graph %ld %s: %s",
                               res->error ? res->error : "finding the group", res->graph->status,
                               res->graph->error_code ? res->graph->error_code : "",
                               res->graph->error_message ? res->graph->error_message : "");
        } else {
            why = wr_xstrdup(res->error ? res->error : "the group cannot be found");
        }
        fail(w, why);
        free(why);
        return;
    }
    struct json_object *name = NULL;
    json_object_object_get_ex(res->object, "displayName", &name);
    r->group = json_object_new_object();
    json_object_object_add(r->group, "id", json_object_new_string(res->id));
    json_object_object_add(r->group, "displayName", json_object_get(name));
    char *stored = stored_group_id(w);
    bool same = stored && strcmp(stored, res->id) == 0;
    free(stored);
    if (!same && w->delta) {
        /* Another group than the one remembered: start over. */
        wr_log(WR_LOG_INFO, "group-membership: the group is another one now; new baseline",
               "workflow", w->name, "group", res->id, NULL);
        json_object_put(w->members);
        w->members = json_object_new_object();
        free(w->delta);
        w->delta = NULL;
    }
    r->baseline = w->delta == NULL;
    r->full = r->baseline;
    r->from = wr_xstrdup(w->delta ? w->delta : "");
    read_delta(w, w->delta);
}

static void on_committed(void *arg, const struct wr_ingest_result *res)
{
    struct watch *w = arg;
    struct round *r = w->round;
    w->commits--;
    if (res->rc != 0) {
        wr_metrics_event(KIND, "failed", res->count);
        wr_log(WR_LOG_ERROR, "group-membership: the round could not be stored; it is repeated",
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
    json_object_object_foreach(r->added, aid, auser)
    {
        json_object_object_add(w->members, aid,
                               json_object_is_type(auser, json_type_string)
                                   ? json_object_get(auser)
                                   : json_object_new_string(text_of(auser)));
    }
    json_object_object_foreach(r->removed, rid, unused)
    {
        (void)unused;
        json_object_object_del(w->members, rid);
    }
    free(w->delta);
    w->delta = wr_xstrdup(r->link);
    free(w->group);
    w->group = wr_xstrdup(text_of(r->group));
    if (r->baseline) {
        char n[32];
        snprintf(n, sizeof(n), "%d", json_object_object_length(w->members));
        wr_log(WR_LOG_INFO, "group-membership: baseline recorded; changes fire from now on",
               "workflow", w->name, "members", n, NULL);
    }
    end_round(w, true, NULL);
}

static void on_round(void *arg)
{
    struct watch *w = arg;
    char err[WR_ERR_MAX];
    if (load(w, err, sizeof(err)) != 0) {
        wr_log(WR_LOG_ERROR, "group-membership: the trigger's memory cannot be read", "workflow",
               w->name, "error", err, NULL);
        wr_poll_ended(w->poll, false, 0, err);
        return;
    }
    w->round = wr_xcalloc(1, sizeof(*w->round));
    w->round->added = json_object_new_object();
    w->round->removed = json_object_new_object();
    w->busy = true;
    wr_directory_group(w->env->dir, w->ref, on_group, w);
}

/* }====== */

/* {====== the watcher's life (triggers/watchset) ====== */

static void *watch_make(const struct wr_trigger_env *env, const struct wr_workflow *wf, char *err,
                        size_t errlen)
{
    struct json_object *v = NULL;
    struct watch *w = wr_xcalloc(1, sizeof(*w));
    w->every_ms = 5 * 60 * 1000;
    if (json_object_object_get_ex(wf->trigger_args, "every", &v) &&
        wr_duration_parse(json_object_get_string(v), &w->every_ms, NULL, 0) != 0) {
        wr_errf_marked(err, errlen, "%s: every: not a duration", wf->name);
        free(w);
        return NULL;
    }
    w->on_added = w->on_removed = true;
    if (json_object_object_get_ex(wf->trigger_args, "on", &v) &&
        json_object_is_type(v, json_type_array)) {
        w->on_added = w->on_removed = false;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(v, i));
            w->on_added = w->on_added || (s && strcmp(s, "added") == 0);
            w->on_removed = w->on_removed || (s && strcmp(s, "removed") == 0);
        }
    }
    json_object_object_get_ex(wf->trigger_args, "group", &v);
    w->env = env;
    w->wf = wf;
    w->ref = wr_xstrdup(json_object_get_string(v));
    w->name = wr_xstrdup(wf->name);
    w->scope = wr_xasprintf(KIND " %s", wf->name);
    w->members = json_object_new_object();
    w->poll = wr_poll_new(env->base, KIND, wf->name, w->every_ms, on_round, w);
    return w;
}

static void watch_begin(void *p)
{
    struct watch *w = p;
    char err[WR_ERR_MAX];
    if (!w->env->dir) {
        return;
    }
    if (load(w, err, sizeof(err)) != 0) {
        wr_log(WR_LOG_ERROR, "group-membership: the trigger's memory cannot be read", "workflow",
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
    return !w->busy && w->commits == 0;
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
    json_object_put(w->members);
    free(w->delta);
    free(w->group);
    free(w->ref);
    free(w->name);
    free(w->scope);
    free(w);
}

const struct wr_watch_ops wr_group_membership_watch = {
    .kind = &wr_trigger_group_membership,
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
    int64_t members;
    struct json_object *group;
};

static void on_count(void *arg, const char *name, const char *value, int64_t at)
{
    struct count *c = arg;
    (void)at;
    if (strcmp(name, "delta") == 0) {
        c->delta = true;
    } else if (strncmp(name, "m:", 2) == 0) {
        c->members++;
    } else if (strcmp(name, "group") == 0) {
        json_object_put(c->group);
        c->group = json_tokener_parse(value);
    }
}

struct json_object *wr_group_membership_preview(const char *state_path,
                                                const struct wr_workflow *wf, char *err,
                                                size_t errlen)
{
    struct count c = {0};
    char *scope = wr_xasprintf(KIND " %s", wf->name);
    int64_t n =
        state_path ? wr_trigger_state_load(state_path, scope, NULL, on_count, &c, err, errlen) : 0;
    free(scope);
    if (n < 0) {
        json_object_put(c.group);
        return NULL;
    }
    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "workflow", json_object_new_string(wf->name));
    json_object_object_add(p, "trigger", json_object_new_string(KIND));
    char *summary =
        c.delta ? wr_xasprintf("baseline of %lld members; members added or removed fire",
                               (long long)c.members)
                : wr_xstrdup("no baseline yet: the first round records one and fires nothing");
    json_object_object_add(p, "summary", json_object_new_string(summary));
    free(summary);
    json_object_object_add(p, "users", json_object_new_array());
    json_object_object_add(p, "baseline", json_object_new_boolean(c.delta));
    json_object_object_add(p, "members_known", json_object_new_int64(c.members));
    json_object_object_add(p, "group", c.group);
    return p;
}

/* }====== */
