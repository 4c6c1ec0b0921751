/*
 * ingest — matching events to workflows and storing them durably; see ingest.h.
 */
#include "engine/store/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/store/journal.h"
#include "engine/base/log.h"
#include "engine/lua/lua_host.h"
#include "engine/base/strutil.h"

struct wr_ingest {
    struct event_base *base;
    struct wr_journal *journal;
    void (*on_runs)(void *arg);
    void *on_runs_arg;
};

void wr_ingest_on_runs(struct wr_ingest *in, void (*fn)(void *arg), void *arg)
{
    in->on_runs = fn;
    in->on_runs_arg = arg;
}

struct submission {
    struct wr_ingest *in;
    wr_ingest_done_fn done;
    void *arg;
};

struct wr_ingest *wr_ingest_new(struct event_base *base, struct wr_journal *journal)
{
    struct wr_ingest *in = wr_xcalloc(1, sizeof(*in));
    in->base = base;
    in->journal = journal;
    return in;
}

void wr_ingest_free(struct wr_ingest *in)
{
    free(in);
}

/*
 * Decides whether wf wants event: its `when:` in its own sandbox, and its concurrency key.
 * Returns 1 (matched; *ckey owned or NULL), 0 (not matched) or -1 (evaluation failed;
 * message in err: the run is stored as failed so the admin sees why).
 */
static int match(const struct wr_workflow *wf, struct json_object *event, char **ckey, char *err,
                 size_t errlen)
{
    int scope = wr_lua_scope_new(wf->lua);
    int rc = 1;
    *ckey = NULL;
    if (wr_lua_scope_set(wf->lua, scope, "event", event) != 0 ||
        wr_lua_scope_set(wf->lua, scope, "vars", wf->vars) != 0) {
        snprintf(err, errlen, "the event cannot be passed to Lua (nested too deeply?)");
        rc = -1;
        goto out;
    }
    if (wf->when) {
        bool yes = false;
        char msg[WR_ERR_MAX];
        if (wr_lua_eval_bool(wf->lua, scope, wf->when, &yes, msg, sizeof(msg)) != 0) {
            wr_errf_marked(err, errlen, "when: %s", msg);
            rc = -1;
            goto out;
        }
        if (!yes) {
            rc = 0;
            goto out;
        }
    }
    if (wf->concurrency_key) {
        struct json_object *tmpl = json_object_new_string(wf->concurrency_key), *v = NULL;
        char msg[WR_ERR_MAX];
        if (wr_lua_render(wf->lua, scope, tmpl, &v, msg, sizeof(msg)) != 0) {
            wr_errf_marked(err, errlen, "concurrency_key: %s", msg);
            rc = -1;
        } else if (v) {
            *ckey = wr_xstrdup(json_object_is_type(v, json_type_string)
                                   ? json_object_get_string(v)
                                   : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        }
        json_object_put(v);
        json_object_put(tmpl);
    }
out:
    wr_lua_scope_free(wf->lua, scope);
    return rc;
}

static void on_committed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct submission *s = arg;
    struct wr_ingest_item *items = wr_xcalloc(b->count ? b->count : 1, sizeof(*items));
    for (size_t i = 0; i < b->count; i++) {
        struct wr_journal_event *ev = &b->events[i];
        items[i].duplicate = ev->duplicate;
        snprintf(items[i].event_id, sizeof(items[i].event_id), "%s",
                 ev->duplicate ? ev->original_id : ev->id);
        items[i].runs = ev->duplicate ? 0 : (int)ev->nruns;
    }
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        char runs[16];
        snprintf(runs, sizeof(runs), "%d", items[i].runs);
        wr_log(WR_LOG_INFO, items[i].duplicate ? "duplicate event" : "event stored", "event",
               items[i].event_id, "source", b->events[i].source, "runs", runs, NULL);
    }
    bool runs = false;
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        runs = runs || items[i].runs > 0;
    }
    struct wr_ingest_result res = {rc, error, b->count, items};
    s->done(s->arg, &res);
    if (runs && s->in->on_runs) {
        s->in->on_runs(s->in->on_runs_arg);
    }
    free(items);
    free(s);
}

struct wr_ingest_batch {
    struct wr_journal_batch *jb;
    char *source;
    char *headers; /* JSON text, or NULL */
    int64_t at;    /* when the delivery arrived */
    size_t count;
};

struct wr_ingest_batch *wr_ingest_batch_new(const char *source, struct json_object *headers)
{
    struct wr_ingest_batch *b = wr_xcalloc(1, sizeof(*b));
    b->jb = wr_journal_batch_new();
    b->source = wr_xstrdup(source);
    if (headers) {
        b->headers = wr_xstrdup(json_object_to_json_string_ext(
            headers, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    b->at = wr_clock_wall_ms();
    return b;
}

struct wr_journal_batch *wr_ingest_batch_journal(struct wr_ingest_batch *b)
{
    return b->jb;
}

size_t wr_ingest_batch_count(const struct wr_ingest_batch *b)
{
    return b->count;
}

void wr_ingest_batch_free(struct wr_ingest_batch *b)
{
    if (!b) {
        return;
    }
    wr_journal_batch_free(b->jb);
    free(b->source);
    free(b->headers);
    free(b);
}

void wr_ingest_batch_add(struct wr_ingest_batch *bt, const struct wr_workflow *const *candidates,
                         size_t ncandidates, const struct wr_ingest_event *events, size_t n)
{
    struct wr_journal_batch *b = bt->jb;
    const char *source = bt->source, *hdr = bt->headers;
    int64_t at = bt->at;

    bt->count += n;
    for (size_t i = 0; i < n; i++) {
        /* The text as received when the trigger has it (a webhook body): no re-serialising. */
        const char *body = events[i].text;
        size_t len = events[i].text_len;
        if (!body) {
            body = json_object_to_json_string_ext(
                events[i].event, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            body = body ? body : "null";
            len = strlen(body);
        }
        struct wr_journal_event *ev =
            wr_journal_batch_add_len(b, source, events[i].key, hdr, body, len, at);
        if (events[i].key && (events[i].scope || events[i].legacy_scope)) {
            wr_journal_event_scope(ev, events[i].scope, events[i].legacy_scope);
        }
        for (size_t c = 0; c < ncandidates; c++) {
            const struct wr_workflow *wf = candidates[c];
            char err[WR_ERR_MAX], *ckey = NULL;
            if (!wf->enabled) {
                continue;
            }
            int m = match(wf, events[i].event, &ckey, err, sizeof(err));
            if (m != 0) {
                wr_journal_batch_add_run(ev, wf->name, wf->hash, ckey, m < 0 ? err : NULL);
            }
            free(ckey);
        }
    }
}

int wr_ingest_batch_submit(struct wr_ingest *in, struct wr_ingest_batch *bt, wr_ingest_done_fn done,
                           void *arg)
{
    struct submission *s = wr_xcalloc(1, sizeof(*s));
    struct wr_journal_batch *b = bt->jb;
    s->in = in;
    s->done = done;
    s->arg = arg;
    bt->jb = NULL;
    wr_ingest_batch_free(bt);
    if (wr_journal_submit(in->journal, b, on_committed, s) != 0) {
        free(s);
        return -1;
    }
    return 0;
}

int wr_ingest_submit(struct wr_ingest *in, const char *source, struct json_object *headers,
                     const struct wr_workflow *const *candidates, size_t ncandidates,
                     const struct wr_ingest_event *events, size_t n, wr_ingest_done_fn done,
                     void *arg)
{
    struct wr_ingest_batch *b = wr_ingest_batch_new(source, headers);
    wr_ingest_batch_add(b, candidates, ncandidates, events, n);
    return wr_ingest_batch_submit(in, b, done, arg);
}
