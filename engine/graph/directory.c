/*
 * directory — name → object lookups on top of the Graph client (see directory.h).
 *
 * A lookup is a small heap object that walks a few Graph reads (a user by UPN falls back to
 * a mail filter; a role by id falls back to a templateId filter) and ends in exactly one
 * callback. Every pending lookup sits in the directory's list so that freeing the directory
 * frees them. Caches are plain lists: a tenant has a handful of SKUs and the roles and groups
 * a workflow set names, so a linear scan is cheaper than anything cleverer.
 *
 * Every 2xx is read through wr_graph_answer_entity / wr_graph_answer_items: an answer that is
 * empty (202 Accepted), not JSON, of another shape or without the object's id — or a list with
 * an item without its id (a subscribedSku without its skuId) — fails the lookup with a message
 * naming what Graph sent, never a success with a NULL id nor a list that silently skips items.
 *
 * A lookup belongs to the Graph trace current when it was started (engine/graph/graph.h): its reads
 * carry it, and its callback runs with it current, also when the answer came to another
 * lookup's read (the shared subscribedSkus read) or from the cache on a later turn.
 */
#include "engine/graph/directory.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"
#include "engine/base/strutil.h"

#define DEFAULT_TTL_MS (60 * 60 * 1000)

/* K_LIST and K_READ are the same paged read (read_answer): K_LIST gathers the items for a
   wr_directory_result, K_READ hands each page to its caller and ends in a read result. */
enum kind { K_USER, K_SKU, K_SKUS, K_ROLE, K_GROUP, K_LIST, K_READ, K_COUNT };

/* Steps of a lookup that needs more than one read. */
enum step { S_GET, S_FILTER };

struct cache_entry {
    enum kind kind;
    char *key;
    struct json_object *obj;
    int64_t expires;
    struct cache_entry *next;
};

struct lookup {
    struct wr_directory *d;
    enum kind kind;
    enum step step;
    char *ref;                 /* the reference as given */
    char *select;              /* users: the encoded $select value */
    char *what;                /* the filter's property for messages ("mail", "employeeId") */
    char *value;               /* the filter's value */
    struct json_object *items; /* lists: items so far */
    int pages;                 /* paged reads: pages answered and handed over */
    int max_pages;
    unsigned flags;            /* paged reads: WR_GRAPH_* flags for every page */
    size_t nitems;             /* K_READ: items handed over */
    int64_t count;             /* K_READ: the first page's @odata.count, or -1 */
    wr_directory_page_fn page; /* K_READ: the caller's page callback, or NULL */
    wr_directory_read_fn read_done;
    bool waits_skus; /* parked until the shared /subscribedSkus read answers */
    bool skus_ready; /* that read answered; to be delivered */
    /* A 404 kept while a fallback read runs, reported if the fallback finds nothing too. */
    bool has_saved;
    long saved_status;
    char *saved_code;
    char *saved_message;
    /* Deferred delivery (cache hits, errors found before any read). */
    struct event *ev;
    struct json_object *hit;
    char *error;
    bool not_found;
    wr_directory_done_fn done;
    void *arg;
    struct wr_graph_trace *trace; /* current when the lookup started (a reference), or NULL */
    struct lookup *prev, *next;
};

struct wr_directory {
    struct event_base *base;
    struct wr_graph *g;
    char *base_url;
    int64_t ttl_ms;
    wr_clock_fn now_ms;
    void *clock_arg;
    struct lookup *lookups;
    struct cache_entry *cache;
    bool skus_fetching;
    /* Replica lag: lowercased names ("id", "upn", "employeeid:value") -> creation time (ms of
       now_ms), and user ids -> time of weir's last usageLocation write. Pruned as they age. */
    struct json_object *created;
    struct json_object *located;
    int64_t pruned_at;
};

static int64_t monotonic_ms(void *unused)
{
    (void)unused;
    return wr_clock_mono_ms();
}

static int64_t now_ms(const struct wr_directory *d)
{
    return d->now_ms(d->clock_arg);
}

/* {====== helpers ====== */

/* The length of an array; 0 for NULL or anything else (json-c asserts on those). */
static size_t array_len(struct json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

bool wr_directory_is_guid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (!s || strlen(s) != sizeof(shape) - 1) {
        return false;
    }
    for (size_t i = 0; shape[i]; i++) {
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                   (s[i] >= 'A' && s[i] <= 'F');
        if (shape[i] == '-' ? s[i] != '-' : !hex) {
            return false;
        }
    }
    return true;
}

char *wr_directory_odata_string(const char *s)
{
    struct wr_buf b = {0};
    wr_buf_addc(&b, '\'');
    for (; *s; s++) {
        if (*s == '\'') {
            wr_buf_addc(&b, '\'');
        }
        wr_buf_addc(&b, *s);
    }
    wr_buf_addc(&b, '\'');
    return wr_buf_take(&b);
}

char *wr_directory_user_path(const char *ref, const char *suffix)
{
    char *p, *seg;
    if (ref[0] == '$') {
        /* A segment starting with '$' is an OData system segment ($ref, $count): Graph wants
           such a userPrincipalName as a key literal, /users('$adele@contoso.com'). */
        char *lit = wr_directory_odata_string(ref);
        seg = wr_graph_escape(lit);
        free(lit);
        /* The quotes and parentheses stay literal; the name inside is percent-encoded. */
        size_t n = strlen(seg);
        p = wr_xasprintf("/users('%.*s')%s", (int)(n - 6), seg + 3, suffix ? suffix : "");
    } else {
        seg = wr_graph_escape(ref);
        p = wr_xasprintf("/users/%s%s", seg, suffix ? suffix : "");
    }
    free(seg);
    return p;
}

/* "prop eq 'value'", percent-encoded for the query string. Owned. */
static char *filter_eq(const char *prop, const char *value)
{
    char *lit = wr_directory_odata_string(value);
    char *expr = wr_xasprintf("%s eq %s", prop, lit);
    char *enc = wr_graph_escape(expr);
    free(lit);
    free(expr);
    return enc;
}

static const char *str_member(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return NULL;
}

/* }====== */

/* {====== caches ====== */

static struct json_object *cache_get(struct wr_directory *d, enum kind kind, const char *key)
{
    int64_t now = now_ms(d);
    for (struct cache_entry *e = d->cache; e; e = e->next) {
        if (e->kind == kind && strcasecmp(e->key, key) == 0 && e->expires > now) {
            return e->obj;
        }
    }
    return NULL;
}

/* Stores obj (a reference is taken) under key, replacing an older entry. */
static void cache_put(struct wr_directory *d, enum kind kind, const char *key,
                      struct json_object *obj)
{
    if (d->ttl_ms < 0) {
        return;
    }
    for (struct cache_entry *e = d->cache; e; e = e->next) {
        if (e->kind == kind && strcasecmp(e->key, key) == 0) {
            json_object_put(e->obj);
            e->obj = json_object_get(obj);
            e->expires = now_ms(d) + d->ttl_ms;
            return;
        }
    }
    struct cache_entry *e = wr_xcalloc(1, sizeof(*e));
    e->kind = kind;
    e->key = wr_xstrdup(key);
    e->obj = json_object_get(obj);
    e->expires = now_ms(d) + d->ttl_ms;
    e->next = d->cache;
    d->cache = e;
}

/* }====== */

/* {====== lookup life cycle ====== */

static struct lookup *lookup_new(struct wr_directory *d, enum kind kind, const char *ref,
                                 wr_directory_done_fn done, void *arg)
{
    struct lookup *l = wr_xcalloc(1, sizeof(*l));
    l->d = d;
    l->kind = kind;
    l->ref = wr_xstrdup(ref ? ref : "");
    l->done = done;
    l->arg = arg;
    l->trace = wr_graph_trace_ref(wr_graph_trace_current(d->g));
    l->next = d->lookups;
    if (d->lookups) {
        d->lookups->prev = l;
    }
    d->lookups = l;
    return l;
}

static void lookup_free(struct lookup *l)
{
    struct wr_directory *d = l->d;
    if (l->prev) {
        l->prev->next = l->next;
    } else {
        d->lookups = l->next;
    }
    if (l->next) {
        l->next->prev = l->prev;
    }
    if (l->ev) {
        event_free(l->ev);
    }
    json_object_put(l->items);
    json_object_put(l->hit);
    free(l->ref);
    free(l->select);
    free(l->what);
    free(l->value);
    free(l->saved_code);
    free(l->saved_message);
    free(l->error);
    wr_graph_trace_put(l->trace);
    free(l);
}

static void read_fail(struct lookup *l, const struct wr_graph_result *res, const char *error);

/* Calls l's callback with r, in l's trace. */
static void deliver(struct lookup *l, const struct wr_directory_result *r)
{
    struct wr_graph_trace *outer = wr_graph_trace_swap(l->d->g, l->trace);
    l->done(l->arg, r);
    wr_graph_trace_swap(l->d->g, outer);
}

static const char *object_id(enum kind kind, struct json_object *obj)
{
    switch (kind) {
    case K_SKU:
        return str_member(obj, "skuId");
    case K_SKUS:
    case K_LIST:
    case K_READ:
    case K_COUNT:
        return NULL;
    default:
        return str_member(obj, "id");
    }
}

/* {====== paged reads: how they end ====== */

/*
 * Whether a failed page is Graph refusing the delta or skip token it carried: 410 Gone, or a
 * 4xx with syncStateNotFound (Microsoft's identity delta tokens) or resyncRequired (GRAPH.md
 * section 10). A token that does not parse is a plain 400 Request_BadRequest: not this.
 */
static bool token_refused(const struct wr_graph_result *res)
{
    const char *code = res ? res->error_code : NULL;
    if (!res || res->ok) {
        return false;
    }
    if (res->status == 410) {
        return true;
    }
    return res->status >= 400 && res->status < 500 && code &&
           (strcasecmp(code, "syncStateNotFound") == 0 || strcasecmp(code, "resyncRequired") == 0);
}

/* error with Graph's part, as the executor words a step's failure (engine/exec/action_run.c):
   "ERROR: Graph 400 CODE: MESSAGE (request-id R, client-request-id C)". Owned. */
static char *read_message(const char *error, const struct wr_graph_result *res)
{
    struct wr_buf b = {0};
    wr_buf_add(&b, error);
    if (res) {
        const char *code = res->error_code && *res->error_code ? res->error_code : "error";
        const char *msg = res->error_message ? res->error_message : "";
        if (res->status) {
            wr_buf_addf(&b, ": Graph %ld %s: %s", res->status, code, msg);
        } else {
            wr_buf_addf(&b, ": Graph request failed (%s): %s", code, msg);
        }
        char *ids = wr_graph_result_ids(res);
        wr_buf_add(&b, ids);
        free(ids);
    }
    return wr_buf_take(&b);
}

/* Calls a read's done with r, in its trace, and frees the lookup. */
static void read_deliver(struct lookup *l, struct wr_directory_read_result *r)
{
    r->count = l->count;
    r->pages = l->pages;
    r->items = l->nitems;
    struct wr_graph_trace *outer = wr_graph_trace_swap(l->d->g, l->trace);
    l->read_done(l->arg, r);
    wr_graph_trace_swap(l->d->g, outer);
    lookup_free(l);
}

/* Fails a read: error (borrowed) says what was read and why; res, Graph's answer, may be NULL. */
static void read_fail(struct lookup *l, const struct wr_graph_result *res, const char *error)
{
    char *message = read_message(error, res);
    struct wr_directory_read_result r = {
        .token_refused = token_refused(res),
        .graph = res,
        .error = error,
        .message = message,
    };
    read_deliver(l, &r);
    free(message);
}

/* }====== */

/* Delivers success and frees the lookup. obj is borrowed. */
static void finish_ok(struct lookup *l, struct json_object *obj)
{
    struct wr_directory_result r = {
        .ok = true,
        .id = object_id(l->kind, obj),
        .object = obj,
    };
    deliver(l, &r);
    lookup_free(l);
}

/* Delivers failure and frees the lookup. res may be NULL. */
static void finish_err(struct lookup *l, const struct wr_graph_result *res, bool not_found,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void finish_err(struct lookup *l, const struct wr_graph_result *res, bool not_found,
                       const char *fmt, ...)
{
    struct wr_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    if (l->kind == K_READ) {
        read_fail(l, res, wr_buf_str(&b));
        wr_buf_free(&b);
        return;
    }
    struct wr_directory_result r = {
        .not_found = not_found,
        .graph = res,
        .error = wr_buf_str(&b),
        .created_ago_ms =
            not_found && l->kind == K_USER ? wr_directory_created_ago(l->d, l->ref) : -1,
    };
    deliver(l, &r);
    wr_buf_free(&b);
    lookup_free(l);
}

/*
 * A 2xx the lookup cannot use (why, taken, says what Graph sent): fails l with res's status and
 * ids and the code WR_GRAPH_UNEXPECTED, retriable as the reader decided. what (borrowed) names
 * the lookup.
 */
static void finish_unusable(struct lookup *l, const struct wr_graph_result *res, char *why,
                            bool retriable, const char *what)
{
    struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
    finish_err(l, &u, false, "%s", what);
    free(why);
}

/* "looking up <noun> '<ref>'", the context of a lookup's errors. Owned. */
static char *looking_up(const struct lookup *l, const char *noun)
{
    return wr_xasprintf("looking up %s '%s'", noun, l->ref);
}

/* The saved 404 as a result (for "not found" after a fallback also found nothing). */
static void finish_saved_404(struct lookup *l, const char *noun)
{
    struct wr_graph_result res = {
        .status = l->saved_status,
        .error_code = l->saved_code,
        .error_message = l->saved_message,
    };
    finish_err(l, l->has_saved ? &res : NULL, true, "%s '%s' not found", noun, l->ref);
}

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
    struct lookup *l = arg;
    (void)fd;
    (void)what;
    if (l->hit) {
        finish_ok(l, l->hit);
    } else if (l->kind == K_READ) {
        read_fail(l, NULL, l->error);
    } else {
        struct wr_directory_result r = {
            .not_found = l->not_found, .error = l->error, .created_ago_ms = -1};
        deliver(l, &r);
        lookup_free(l);
    }
}

/* Delivers obj (a reference is taken) on a later loop turn. */
static void defer_hit(struct lookup *l, struct json_object *obj)
{
    l->hit = json_object_get(obj);
    l->ev = event_new(l->d->base, -1, 0, on_deferred, l);
    event_active(l->ev, EV_TIMEOUT, 0);
}

/* Delivers an error found before any read on a later loop turn. msg is taken. */
static void defer_error(struct lookup *l, char *msg)
{
    l->error = msg;
    l->ev = event_new(l->d->base, -1, 0, on_deferred, l);
    event_active(l->ev, EV_TIMEOUT, 0);
}

static void on_graph(void *arg, const struct wr_graph_result *res);

/* Starts a GET for l (with its paged read's flags); a request the client refuses becomes a
   deferred error. */
static void get(struct lookup *l, const char *path)
{
    if (wr_graph_request(l->d->g, "GET", path, NULL, l->flags, on_graph, l) != 0) {
        defer_error(l, wr_xasprintf("the Graph client refused GET %s", path));
    }
}

/* }====== */

/* {====== the reads of each kind ====== */

/* A filtered read that must match one object: 0 = not found, more = ambiguous. res is the
   answer items came from. */
static void one_of(struct lookup *l, const struct wr_graph_result *res, struct json_object *items,
                   const char *noun)
{
    size_t n = array_len(items);
    if (n == 1) {
        struct json_object *o = json_object_array_get_idx(items, 0);
        if (!wr_graph_is_entity(o, "id")) {
            char *what = wr_graph_describe_answer(res->status, res->content_type, res->body_head,
                                                  res->body_len);
            char *why =
                wr_xasprintf("expected a %s with a string \"id\" in \"value\", got %s", noun, what);
            char *ctx = looking_up(l, noun);
            free(what);
            finish_unusable(l, res, why, false, ctx);
            free(ctx);
            return;
        }
        if (l->kind == K_ROLE || l->kind == K_GROUP) {
            cache_put(l->d, l->kind, l->ref, o);
        }
        finish_ok(l, o);
    } else if (n == 0) {
        if (l->has_saved) {
            finish_saved_404(l, noun);
        } else {
            finish_err(l, NULL, true, "%s '%s' not found: no %s has %s '%s'", noun, l->ref, noun,
                       l->what, l->value);
        }
    } else {
        struct wr_buf ids = {0};
        for (size_t i = 0; i < n && i < 5; i++) {
            const char *id = str_member(json_object_array_get_idx(items, i), "id");
            wr_buf_addf(&ids, "%s%s", i ? ", " : "", id ? id : "?");
        }
        finish_err(l, NULL, false, "%s reference '%s' is ambiguous: %zu %ss have %s '%s' (%s%s)",
                   noun, l->ref, n, noun, l->what, l->value, wr_buf_str(&ids),
                   n > 5 ? ", ..." : "");
        wr_buf_free(&ids);
    }
}

static void start_filter(struct lookup *l, const char *collection, const char *what,
                         const char *value, const char *select)
{
    free(l->what);
    free(l->value);
    l->what = wr_xstrdup(what);
    l->value = wr_xstrdup(value);
    l->step = S_FILTER;
    char *f = filter_eq(what, value);
    char *path = wr_xasprintf("%s?$filter=%s%s%s", collection, f, select ? "&$select=" : "",
                              select ? select : "");
    get(l, path);
    free(path);
    free(f);
}

static void save_404(struct lookup *l, const struct wr_graph_result *res)
{
    l->has_saved = true;
    l->saved_status = res->status;
    l->saved_code = wr_xstrdup_or_null(res->error_code);
    l->saved_message = wr_xstrdup_or_null(res->error_message);
}

/*
 * The entity of a 2xx by id (l's GET step): delivered when it is one, else the lookup fails
 * naming what Graph sent. cache: store it under l->ref first.
 */
static void entity_answer(struct lookup *l, const struct wr_graph_result *res, const char *noun,
                          bool cache)
{
    char *why = NULL, *expected = wr_xasprintf("a %s", noun);
    bool retriable = false;
    struct json_object *o = wr_graph_answer_entity(res, expected, "id", &why, &retriable);
    free(expected);
    if (!o) {
        char *ctx = looking_up(l, noun);
        finish_unusable(l, res, why, retriable, ctx);
        free(ctx);
        return;
    }
    if (cache) {
        cache_put(l->d, l->kind, l->ref, o);
    }
    finish_ok(l, o);
}

/* The "value" of a 2xx filter answer, or NULL after failing l (Graph's error or an unusable
   answer). */
static struct json_object *filter_items(struct lookup *l, const struct wr_graph_result *res,
                                        const char *noun)
{
    char *why = NULL, *ctx = looking_up(l, noun);
    bool retriable = false;
    struct json_object *items = NULL;
    if (!res->ok) {
        finish_err(l, res, false, "%s", ctx);
    } else if (!(items = wr_graph_answer_items(res, "a collection", "id", &why, &retriable))) {
        finish_unusable(l, res, why, retriable, ctx);
    }
    free(ctx);
    return items;
}

static void user_answer(struct lookup *l, const struct wr_graph_result *res)
{
    if (l->step == S_GET) {
        if (res->ok) {
            entity_answer(l, res, "user", false);
        } else if (res->status == 404 && strchr(l->ref, '@')) {
            /* Not a userPrincipalName; maybe the address is someone's mail. */
            save_404(l, res);
            start_filter(l, "/users", "mail", l->ref, l->select);
        } else if (res->status == 404) {
            finish_err(l, res, true, "user '%s' not found", l->ref);
        } else {
            finish_err(l, res->ok ? NULL : res, false, "looking up user '%s'", l->ref);
        }
        return;
    }
    struct json_object *items = filter_items(l, res, "user");
    if (items) {
        one_of(l, res, items, "user");
    }
}

static void role_answer(struct lookup *l, const struct wr_graph_result *res)
{
    if (l->step == S_GET) {
        if (res->ok) {
            entity_answer(l, res, "role definition", true);
        } else if (res->status == 404) {
            /* A custom role's id differs from its templateId; try the template id. */
            save_404(l, res);
            start_filter(l, "/roleManagement/directory/roleDefinitions", "templateId", l->ref,
                         NULL);
        } else {
            finish_err(l, res->ok ? NULL : res, false, "looking up role '%s'", l->ref);
        }
        return;
    }
    struct json_object *items = filter_items(l, res, "role definition");
    if (items) {
        one_of(l, res, items, "role definition");
    }
}

static void group_answer(struct lookup *l, const struct wr_graph_result *res)
{
    if (l->step == S_GET) {
        if (res->ok) {
            entity_answer(l, res, "group", true);
        } else if (res->status == 404) {
            finish_err(l, res, true, "group '%s' not found", l->ref);
        } else {
            finish_err(l, res->ok ? NULL : res, false, "looking up group '%s'", l->ref);
        }
        return;
    }
    struct json_object *items = filter_items(l, res, "group");
    if (items) {
        one_of(l, res, items, "group");
    }
}

/* Answers a lookup parked on the SKU list. skus borrowed; res set on failure, with why
   (borrowed) and retriable when it was a 2xx the reader refused. */
static void sku_deliver(struct lookup *l, struct json_object *skus,
                        const struct wr_graph_result *res, const char *why, bool retriable)
{
    if (!skus && res && res->ok) {
        finish_unusable(l, res, wr_xstrdup(why), retriable, "reading /subscribedSkus");
    } else if (!skus) {
        finish_err(l, res, false, "reading /subscribedSkus");
    } else if (l->kind == K_SKUS) {
        finish_ok(l, skus);
    } else {
        struct json_object *s = wr_directory_sku_find(skus, l->ref);
        if (s) {
            finish_ok(l, s);
        } else {
            finish_err(l, NULL, true,
                       "license '%s' not found: the tenant has no subscribedSku with that "
                       "skuPartNumber or skuId",
                       l->ref);
        }
    }
}

static void skus_answer(struct lookup *fetcher, const struct wr_graph_result *res)
{
    struct wr_directory *d = fetcher->d;
    char *why = NULL;
    bool retriable = false;
    /* A SKU is assigned by its skuId, and every subscribedSku has its id: an item without
       either is not Graph's answer (it would read as "license not found"). */
    struct json_object *skus =
        res->ok ? wr_graph_answer_items(res, "subscribedSkus", "skuId", &why, &retriable) : NULL;
    if (skus && !wr_graph_answer_items(res, "subscribedSkus", "id", &why, &retriable)) {
        skus = NULL;
    }

    d->skus_fetching = false;
    if (skus) {
        cache_put(d, K_SKUS, "", skus);
    }
    /* Mark every parked lookup first: a callback may start new lookups, which must wait for
       a read of their own (or hit the cache). */
    for (struct lookup *l = d->lookups; l; l = l->next) {
        if (l->waits_skus || l == fetcher) {
            l->waits_skus = false;
            l->skus_ready = true;
        }
    }
    for (;;) {
        struct lookup *l = d->lookups;
        while (l && !l->skus_ready) {
            l = l->next;
        }
        if (!l) {
            break;
        }
        l->skus_ready = false;
        sku_deliver(l, skus, skus ? NULL : res, why, retriable);
    }
    free(why);
}

/* {====== paged reads: one loop for wr_directory_list and wr_directory_read_all ====== */

/* link's part after base_url ("/users?$skiptoken=..."), or NULL when link is not under it. */
static const char *under_base(const struct wr_directory *d, const char *link)
{
    size_t blen = strlen(d->base_url);
    if (strncmp(link, d->base_url, blen) != 0 || link[blen] != '/') {
        return NULL;
    }
    return link + blen;
}

/* Hands one page's items over: K_LIST gathers them, K_READ calls the page callback (in the
   read's trace). 0, or -1 when the callback ended the read (then l is freed). */
static int hand_over(struct lookup *l, const struct wr_graph_result *res, struct json_object *items)
{
    size_t n = array_len(items);
    if (l->kind == K_LIST) {
        for (size_t i = 0; i < n; i++) {
            json_object_array_add(l->items, json_object_get(json_object_array_get_idx(items, i)));
        }
        return 0;
    }
    struct json_object *c = NULL;
    if (l->pages == 0 && json_object_object_get_ex(res->body, "@odata.count", &c) &&
        json_object_is_type(c, json_type_int)) {
        l->count = json_object_get_int64(c);
    }
    if (l->page) {
        char err[512] = "";
        struct wr_directory_page p = {.body = res->body, .items = items, .index = l->pages};
        struct wr_graph_trace *outer = wr_graph_trace_swap(l->d->g, l->trace);
        int rc = l->page(l->arg, &p, err, sizeof(err));
        wr_graph_trace_swap(l->d->g, outer);
        if (rc != 0) {
            finish_err(l, NULL, false, "reading %s: %s", l->ref,
                       *err ? err : "the page callback ended the read");
            return -1;
        }
    }
    l->nitems += n;
    return 0;
}

/* One page of a paged read answered: hand it over, then follow its nextLink or end. */
static void read_answer(struct lookup *l, const struct wr_graph_result *res)
{
    char *why = NULL;
    bool retriable = false;
    struct json_object *items =
        res->ok ? wr_graph_answer_items(res, "a collection", "id", &why, &retriable) : NULL;
    if (!items && res->ok) {
        char *ctx = wr_xasprintf("reading %s", l->ref);
        finish_unusable(l, res, why, retriable, ctx);
        free(ctx);
        return;
    }
    if (!items) {
        finish_err(l, res, res->status == 404, "reading %s", l->ref);
        return;
    }
    if (hand_over(l, res, items) != 0) {
        return;
    }
    l->pages++;
    const char *next = str_member(res->body, "@odata.nextLink");
    if (!next) {
        const char *delta = l->kind == K_READ ? str_member(res->body, "@odata.deltaLink") : NULL;
        if (delta && !under_base(l->d, delta)) {
            finish_err(l, NULL, false, "reading %s: @odata.deltaLink '%.*s' is not under %s",
                       l->ref, wr_utf8_prec(delta, 200), delta, l->d->base_url);
        } else if (l->kind == K_READ) {
            struct wr_directory_read_result r = {.ok = true, .delta_link = delta};
            read_deliver(l, &r);
        } else {
            finish_ok(l, l->items);
        }
        return;
    }
    const char *rel = under_base(l->d, next);
    if (!rel) {
        finish_err(l, NULL, false, "reading %s: @odata.nextLink '%.*s' is not under %s", l->ref,
                   wr_utf8_prec(next, 200), next, l->d->base_url);
        return;
    }
    if (l->pages >= l->max_pages) {
        finish_err(l, NULL, false, "reading %s: more than %d pages", l->ref, l->max_pages);
        return;
    }
    get(l, rel);
}

/* }====== */

/* GET /users/$count answered: a text/plain decimal number, or Graph's error. */
static void count_answer(struct lookup *l, const struct wr_graph_result *res)
{
    if (!res->ok) {
        finish_err(l, res, false, "counting the tenant's users");
        return;
    }
    const char *s = res->text;
    char *end = NULL;
    long long n = -1;
    if (s && *s >= '0' && *s <= '9') {
        errno = 0;
        n = strtoll(s, &end, 10);
        while (end && (*end == '\r' || *end == '\n' || *end == ' ')) {
            end++;
        }
        if (errno != 0 || !end || *end != '\0') {
            n = -1;
        }
    }
    if (n < 0) {
        char *what =
            wr_graph_describe_answer(res->status, res->content_type, res->body_head, res->body_len);
        char *why = wr_xasprintf("expected a text/plain number of users, got %s", what);
        free(what);
        finish_unusable(l, res, why, false, "counting the tenant's users");
        return;
    }
    struct json_object *count = json_object_new_int64(n);
    finish_ok(l, count);
    json_object_put(count);
}

static void on_graph(void *arg, const struct wr_graph_result *res)
{
    struct lookup *l = arg;
    switch (l->kind) {
    case K_COUNT:
        count_answer(l, res);
        break;
    case K_USER:
        user_answer(l, res);
        break;
    case K_SKU:
    case K_SKUS:
        skus_answer(l, res);
        break;
    case K_ROLE:
        role_answer(l, res);
        break;
    case K_GROUP:
        group_answer(l, res);
        break;
    case K_LIST:
    case K_READ:
        read_answer(l, res);
        break;
    }
}

/* }====== */

/* {====== public API ====== */

struct wr_directory *wr_directory_new(struct event_base *base, struct wr_graph *g,
                                      const struct wr_directory_options *opts)
{
    if (!base || !g || !opts || !opts->base_url || !*opts->base_url) {
        return NULL;
    }
    struct wr_directory *d = wr_xcalloc(1, sizeof(*d));
    d->base = base;
    d->g = g;
    d->base_url = wr_xstrdup(opts->base_url);
    size_t n = strlen(d->base_url);
    while (n > 0 && d->base_url[n - 1] == '/') {
        d->base_url[--n] = '\0';
    }
    d->ttl_ms = opts->cache_ttl_ms ? opts->cache_ttl_ms : DEFAULT_TTL_MS;
    d->now_ms = opts->now_ms ? opts->now_ms : monotonic_ms;
    d->clock_arg = opts->clock_arg;
    d->created = json_object_new_object();
    d->located = json_object_new_object();
    d->pruned_at = now_ms(d);
    return d;
}

void wr_directory_free(struct wr_directory *d)
{
    if (!d) {
        return;
    }
    while (d->lookups) {
        lookup_free(d->lookups);
    }
    for (struct cache_entry *e = d->cache, *next; e; e = next) {
        next = e->next;
        json_object_put(e->obj);
        free(e->key);
        free(e);
    }
    json_object_put(d->created);
    json_object_put(d->located);
    free(d->base_url);
    free(d);
}

const char *wr_directory_base_url(const struct wr_directory *d)
{
    return d->base_url;
}

struct event_base *wr_directory_event_base(const struct wr_directory *d)
{
    return d->base;
}

/* {====== replica lag ====== */

/* Drops entries older than the window from map; at most once per window, so it stays cheap. */
static void prune(struct json_object *map, int64_t now)
{
    struct wr_buf gone = {0};
    json_object_object_foreach(map, key, val)
    {
        if (now - json_object_get_int64(val) >= WR_DIRECTORY_REPLICA_WINDOW_MS) {
            wr_buf_add(&gone, key);
            wr_buf_addc(&gone, '\0');
        }
    }
    for (size_t off = 0; off < gone.len; off += strlen(gone.data + off) + 1) {
        json_object_object_del(map, gone.data + off);
    }
    wr_buf_free(&gone);
}

static void prune_both(struct wr_directory *d, int64_t now)
{
    if (now - d->pruned_at >= WR_DIRECTORY_REPLICA_WINDOW_MS) {
        prune(d->created, now);
        prune(d->located, now);
        d->pruned_at = now;
    }
}

/* key lowercased, with prefix before it. Owned. */
static char *lower_key(const char *prefix, const char *key)
{
    char *k = wr_xasprintf("%s%s", prefix, key);
    for (char *p = k; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    return k;
}

static void note(struct json_object *map, const char *prefix, const char *key, int64_t now)
{
    if (key && *key) {
        char *k = lower_key(prefix, key);
        json_object_object_add(map, k, json_object_new_int64(now));
        free(k);
    }
}

/* ms since key was noted in map, or -1. */
static int64_t ago(struct wr_directory *d, struct json_object *map, const char *prefix,
                   const char *key)
{
    struct json_object *v = NULL;
    int64_t now = now_ms(d), age = -1;
    if (!key || !*key) {
        return -1;
    }
    char *k = lower_key(prefix, key);
    if (json_object_object_get_ex(map, k, &v)) {
        age = now - json_object_get_int64(v);
    }
    free(k);
    return age >= 0 && age < WR_DIRECTORY_REPLICA_WINDOW_MS ? age : -1;
}

void wr_directory_note_created(struct wr_directory *d, const char *id, const char *upn,
                               const char *employee_id)
{
    int64_t now = now_ms(d);
    prune_both(d, now);
    note(d->created, "", id, now);
    note(d->created, "", upn, now);
    note(d->created, "employeeid:", employee_id, now);
}

int64_t wr_directory_created_ago(struct wr_directory *d, const char *ref)
{
    static const char prefix[] = "employeeId:";
    if (ref && strncasecmp(ref, prefix, sizeof(prefix) - 1) == 0) {
        return ago(d, d->created, "employeeid:", ref + sizeof(prefix) - 1);
    }
    return ago(d, d->created, "", ref);
}

void wr_directory_note_location(struct wr_directory *d, const char *id)
{
    int64_t now = now_ms(d);
    prune_both(d, now);
    note(d->located, "", id, now);
}

int64_t wr_directory_location_ago(struct wr_directory *d, const char *id)
{
    return ago(d, d->located, "", id);
}

/* }====== */

/* The caller's select list, with id first, each name encoded, duplicates dropped. Owned. */
static char *user_select(const char *select)
{
    struct wr_buf b = {0};
    wr_buf_add(&b, "id");
    char *copy = wr_xstrdup(select ? select : "");
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        if (!*tok || strcasecmp(tok, "id") == 0) {
            continue;
        }
        char *enc = wr_graph_escape(tok);
        char *needle = wr_xasprintf(",%s,", enc);
        char *have = wr_xasprintf(",%s,", wr_buf_str(&b));
        if (!strcasestr(have, needle)) {
            wr_buf_addf(&b, ",%s", enc);
        }
        free(have);
        free(needle);
        free(enc);
    }
    free(copy);
    return wr_buf_take(&b);
}

int wr_directory_user(struct wr_directory *d, const char *ref, const char *select,
                      wr_directory_done_fn done, void *arg)
{
    static const char prefix[] = "employeeId:";
    if (!ref || !*ref) {
        return -1;
    }
    bool by_employee = strncasecmp(ref, prefix, sizeof(prefix) - 1) == 0;
    if (!by_employee && !wr_directory_is_guid(ref) && !strchr(ref, '@')) {
        return -1;
    }
    if (by_employee && ref[sizeof(prefix) - 1] == '\0') {
        return -1;
    }
    struct lookup *l = lookup_new(d, K_USER, ref, done, arg);
    l->select = user_select(select);
    if (by_employee) {
        start_filter(l, "/users", "employeeId", ref + sizeof(prefix) - 1, l->select);
    } else {
        char *query = wr_xasprintf("?$select=%s", l->select);
        char *path = wr_directory_user_path(ref, query);
        l->step = S_GET;
        get(l, path);
        free(path);
        free(query);
    }
    return 0;
}

/* Parks l on the SKU list: a cache hit is delivered later, else one shared read runs. */
static void sku_start(struct lookup *l)
{
    struct wr_directory *d = l->d;
    struct json_object *skus = cache_get(d, K_SKUS, "");
    if (skus) {
        if (l->kind == K_SKUS) {
            defer_hit(l, skus);
            return;
        }
        struct json_object *s = wr_directory_sku_find(skus, l->ref);
        if (s) {
            defer_hit(l, s);
        } else {
            l->not_found = true;
            defer_error(l, wr_xasprintf("license '%s' not found: the tenant has no "
                                        "subscribedSku with that skuPartNumber or skuId",
                                        l->ref));
        }
        return;
    }
    if (d->skus_fetching) {
        l->waits_skus = true;
        return;
    }
    if (wr_graph_request(d->g, "GET", "/subscribedSkus", NULL, 0, on_graph, l) != 0) {
        defer_error(l, wr_xstrdup("the Graph client refused GET /subscribedSkus"));
        return;
    }
    d->skus_fetching = true;
}

int wr_directory_sku(struct wr_directory *d, const char *sku, wr_directory_done_fn done, void *arg)
{
    sku_start(lookup_new(d, K_SKU, sku, done, arg));
    return 0;
}

int wr_directory_user_count(struct wr_directory *d, wr_directory_done_fn done, void *arg)
{
    struct lookup *l = lookup_new(d, K_COUNT, "", done, arg);
    l->flags = WR_GRAPH_EVENTUAL | WR_GRAPH_TEXT;
    get(l, "/users/$count");
    return 0;
}

int wr_directory_skus(struct wr_directory *d, wr_directory_done_fn done, void *arg)
{
    sku_start(lookup_new(d, K_SKUS, "", done, arg));
    return 0;
}

struct json_object *wr_directory_sku_find(struct json_object *skus, const char *sku)
{
    for (size_t i = 0; sku && i < array_len(skus); i++) {
        struct json_object *s = json_object_array_get_idx(skus, i);
        const char *part = str_member(s, "skuPartNumber");
        const char *id = str_member(s, "skuId");
        /* A SKU without a skuId cannot be assigned: as good as absent. */
        if (id && *id && ((part && strcasecmp(part, sku) == 0) || strcasecmp(id, sku) == 0)) {
            return s;
        }
    }
    return NULL;
}

const char *wr_directory_sku_plan(struct json_object *sku, const char *plan)
{
    struct json_object *plans = NULL;
    if (!plan || !json_object_object_get_ex(sku, "servicePlans", &plans) ||
        !json_object_is_type(plans, json_type_array)) {
        return NULL;
    }
    for (size_t i = 0; i < array_len(plans); i++) {
        struct json_object *p = json_object_array_get_idx(plans, i);
        const char *id = str_member(p, "servicePlanId");
        const char *name = str_member(p, "servicePlanName");
        if (id && ((strcasecmp(id, plan) == 0) || (name && strcasecmp(name, plan) == 0))) {
            return id;
        }
    }
    return NULL;
}

int wr_directory_role(struct wr_directory *d, const char *role, wr_directory_done_fn done,
                      void *arg)
{
    struct lookup *l = lookup_new(d, K_ROLE, role, done, arg);
    struct json_object *hit = cache_get(d, K_ROLE, l->ref);
    if (hit) {
        defer_hit(l, hit);
    } else if (!*l->ref) {
        defer_error(l, wr_xstrdup("empty role name"));
    } else if (wr_directory_is_guid(l->ref)) {
        char *path = wr_xasprintf("/roleManagement/directory/roleDefinitions/%s", l->ref);
        l->step = S_GET;
        get(l, path);
        free(path);
    } else {
        start_filter(l, "/roleManagement/directory/roleDefinitions", "displayName", l->ref, NULL);
    }
    return 0;
}

int wr_directory_group(struct wr_directory *d, const char *group, wr_directory_done_fn done,
                       void *arg)
{
    struct lookup *l = lookup_new(d, K_GROUP, group, done, arg);
    struct json_object *hit = cache_get(d, K_GROUP, l->ref);
    if (hit) {
        defer_hit(l, hit);
    } else if (!*l->ref) {
        defer_error(l, wr_xstrdup("empty group name"));
    } else if (wr_directory_is_guid(l->ref)) {
        char *path = wr_xasprintf("/groups/%s?$select=id,displayName", l->ref);
        l->step = S_GET;
        get(l, path);
        free(path);
    } else {
        start_filter(l, "/groups", "displayName", l->ref, "id,displayName");
    }
    return 0;
}

int wr_directory_list(struct wr_directory *d, const char *path, wr_directory_done_fn done,
                      void *arg)
{
    struct lookup *l = lookup_new(d, K_LIST, path, done, arg);
    l->items = json_object_new_array();
    l->max_pages = WR_DIRECTORY_MAX_PAGES;
    get(l, path);
    return 0;
}

int wr_directory_read_all(struct wr_directory *d, const char *path, unsigned flags, int max_pages,
                          wr_directory_page_fn page, wr_directory_read_fn done, void *arg)
{
    if (!d || !path || !*path || !done) {
        return -1;
    }
    /* A link kept from an earlier read is absolute: the rest of it is the path. */
    const char *rel = path[0] == '/' ? path : under_base(d, path);
    struct lookup *l = lookup_new(d, K_READ, rel ? rel : path, NULL, arg);
    l->read_done = done;
    l->page = page;
    l->flags = flags;
    l->max_pages = max_pages > 0 ? max_pages : WR_DIRECTORY_MAX_PAGES;
    l->count = -1;
    if (!rel) {
        defer_error(l, wr_xasprintf("reading %.*s: the link is not under %s",
                                    wr_utf8_prec(path, 200), path, d->base_url));
    } else {
        get(l, rel);
    }
    return 0;
}

/* }====== */
