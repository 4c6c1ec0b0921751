/*
 * directory — resolves the names a workflow uses (a user reference, a SKU, a role, a group)
 * to Graph objects and ids, with caches for what rarely changes.
 *
 * Actions name things the way people do: a user by object id, userPrincipalName, mail or
 * `employeeId:E123`; a license by skuPartNumber; a role by displayName or template id; a group
 * by displayName. This module turns those into Graph reads on the shared client
 * (engine/graph/graph.h) and hands back the object and its id. Users are read fresh every time (an
 * action compares their current values); subscribedSkus, role definitions and groups are cached for
 * a TTL. Lookups are reads, so they run in dry runs too. This module never writes to Graph and
 * knows nothing about workflows or actions.
 *
 * Every lookup completes through its callback exactly once, on a later loop turn (a cache hit
 * is delivered by a zero timer, never on the caller's stack).
 *
 * Replica lag. Microsoft's support article "404 error when managing objects using Microsoft
 * Graph": a request right after a create can reach a replica that does not have the object yet,
 * and replication "might take several minutes". So the directory also remembers, in memory, the
 * objects weir created (or saw created) and the usageLocation writes it made, with their time:
 * for WR_DIRECTORY_REPLICA_WINDOW_MS afterwards, a 404 naming such an object (or Graph's invalid
 * usage location 400 after such a write) is replica lag, not an answer. Actions fail those
 * retriably and the run executor retries them with doubling backoff until the window ends. The
 * record does not survive a restart: after one, a 404 is final again.
 */
#ifndef WR_DIRECTORY_H
#define WR_DIRECTORY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/base/clock.h"

struct event_base;
struct wr_graph;
struct wr_graph_result;

struct wr_directory_options {
    const char *base_url; /* the Graph client's base_url (no trailing /): @odata.id references
                             and @odata.nextLink are built and checked against it */
    int64_t cache_ttl_ms; /* SKU, role and group caches; 0 = 1 hour; -1 = no caching */
    /* Monotonic clock in ms for the TTLs and the replica-lag window; NULL = CLOCK_MONOTONIC.
       Tests inject their own. */
    wr_clock_fn now_ms;
    void *clock_arg;
};

/* What a lookup ended with. Everything is borrowed and valid only during the callback. A 2xx
   that is empty, not JSON, of another shape or without the object's id is a failure whose
   graph result has the code WR_GRAPH_UNEXPECTED and says what Graph sent. */
struct wr_directory_result {
    bool ok;
    bool not_found;             /* failed because nothing matches the reference */
    const char *id;             /* ok: the object's id (NULL for wr_directory_list) */
    struct json_object *object; /* ok: the user / subscribedSku / role definition / group,
                                   or the item array for wr_directory_list */
    /* Failed because of a Graph answer: that answer (pass it to wr_action_fail so its status,
       code, message and retriable flag are kept); NULL when weir decided (ambiguous, bad
       reference, not found by a filter). */
    const struct wr_graph_result *graph;
    const char *error; /* failed: one line naming the reference, without Graph's part */
    /* not_found for a user weir created (or saw created) this many ms ago, within
       WR_DIRECTORY_REPLICA_WINDOW_MS: replica lag, worth retrying. -1 otherwise. */
    int64_t created_ago_ms;
};

typedef void (*wr_directory_done_fn)(void *arg, const struct wr_directory_result *r);

struct wr_directory;

/*
 * How long after weir created an object (or set a user's usageLocation) a 404 for it (or the
 * invalid-usage-location 400) is taken for replica lag: 10 minutes.
 */
#define WR_DIRECTORY_REPLICA_WINDOW_MS (10 * 60 * 1000)

/*
 * Creates a directory on the client g (borrowed; it must outlive the directory). Copies
 * opts' strings. Returns NULL when base_url is missing.
 */
struct wr_directory *wr_directory_new(struct event_base *base, struct wr_graph *g,
                                      const struct wr_directory_options *opts);

/*
 * Frees the directory and its caches. Lookups still pending are dropped without their
 * callbacks, so free the Graph client first (it drops its own callbacks) or free the directory
 * when idle. NULL is fine.
 */
void wr_directory_free(struct wr_directory *d);

/* The base_url given at creation (borrowed), for "@odata.id" references. */
const char *wr_directory_base_url(const struct wr_directory *d);

/* The loop the directory runs on (borrowed), for actions that need their own events. */
struct event_base *wr_directory_event_base(const struct wr_directory *d);

/*
 * Finds a user. ref is an object id (GET /users/{id}), a userPrincipalName or mail address
 * (GET /users/{upn}, /users('{upn}') when it starts with '$'; on 404
 * GET /users?$filter=mail eq '...'), or `employeeId:VALUE`
 * (GET /users?$filter=employeeId eq 'VALUE'). select is a comma-separated list of the
 * properties the caller needs (NULL = none); `id` is always added. A filter that matches
 * nobody is not_found; one that matches several users is an error naming the ambiguity.
 * Returns 0, or -1 when ref is not a user reference (then done is not called).
 */
int wr_directory_user(struct wr_directory *d, const char *ref, const char *select,
                      wr_directory_done_fn done, void *arg);

/*
 * Finds a subscribedSku by skuPartNumber (case-insensitive) or skuId in the cached
 * GET /subscribedSkus. The result's id is the skuId. An answer with a SKU without its string
 * skuId or id is unusable (WR_GRAPH_UNEXPECTED), not "not found". Returns 0 (done is always
 * called).
 */
int wr_directory_sku(struct wr_directory *d, const char *sku, wr_directory_done_fn done, void *arg);

/*
 * The whole cached subscribedSkus array as result.object (id NULL), for callers that resolve
 * several SKUs at once with wr_directory_sku_find. Returns 0.
 */
int wr_directory_skus(struct wr_directory *d, wr_directory_done_fn done, void *arg);

/*
 * Counts the tenant's users: GET /users/$count with `ConsistencyLevel: eventual` (an advanced
 * query; Graph answers 400 without it) and WR_GRAPH_TEXT, as the answer is text/plain. On
 * success result.object is a JSON integer (json_object_get_int64; borrowed, valid during the
 * callback) and id is NULL; a 2xx that is not a decimal number is WR_GRAPH_UNEXPECTED; a Graph
 * error is the result's graph answer. Never cached: the caller keeps it as long as it likes
 * (the guardrails of issue 17 cache it). Returns 0 (done is always called).
 */
int wr_directory_user_count(struct wr_directory *d, wr_directory_done_fn done, void *arg);

/* Finds a SKU in a subscribedSkus array by skuPartNumber or skuId; borrowed, NULL if absent. */
struct json_object *wr_directory_sku_find(struct json_object *skus, const char *sku);

/*
 * Resolves a service plan of one subscribedSku by servicePlanId or servicePlanName
 * (case-insensitive). Returns the servicePlanId (borrowed from sku), or NULL.
 */
const char *wr_directory_sku_plan(struct json_object *sku, const char *plan);

/*
 * Finds a directory role definition by displayName, definition id or templateId (cached).
 * The result's id is the definition id. Returns 0.
 */
int wr_directory_role(struct wr_directory *d, const char *role, wr_directory_done_fn done,
                      void *arg);

/*
 * Finds a group by object id or displayName (cached). Several groups with that displayName
 * are an error naming the ambiguity. The result's id is the group id. Returns 0.
 */
int wr_directory_group(struct wr_directory *d, const char *group, wr_directory_done_fn done,
                       void *arg);

/*
 * GETs a collection (path relative to base_url, query included) and follows
 * @odata.nextLink to the end; result.object is the array of every item. Every item must be a
 * JSON object with a string "id" (directory objects always have one): a page with an item
 * without fails the lookup as an unusable answer (WR_GRAPH_UNEXPECTED) naming the item.
 * The same paging as wr_directory_read_all (WR_DIRECTORY_MAX_PAGES, no flags). Returns 0.
 */
int wr_directory_list(struct wr_directory *d, const char *path, wr_directory_done_fn done,
                      void *arg);

/* {====== paged reads: a whole collection, page by page ====== */

/* Pages a read follows by default before it fails: at Graph's largest page sizes (999 for
   /users with $top, 200 for /users/delta) 200,000 to 999,000 objects. */
#define WR_DIRECTORY_MAX_PAGES 1000

/* One page of a read. Everything is borrowed and valid only during the page callback: take
   a reference (json_object_get) to keep an item. */
struct wr_directory_page {
    struct json_object *body;  /* the whole page: "value", "@odata.count" (first page only),
                                  "@odata.nextLink" or "@odata.deltaLink", "@odata.context" */
    struct json_object *items; /* its "value" array: every item a JSON object with a string
                                  "id" (a delta page's "@removed" entries too); may be empty */
    int index;                 /* 0 for the first page */
};

/*
 * Called once per page, in order, on the loop turn its answer arrived. Return 0 to go on, or
 * -1 with a message in err (errlen bytes) to end the read: done is then called with ok false,
 * error "reading PATH: <err>" and no graph result. The callback may start other directory
 * lookups and Graph requests; it must not free the directory.
 */
typedef int (*wr_directory_page_fn)(void *arg, const struct wr_directory_page *page, char *err,
                                    size_t errlen);

/* How a read ended. Everything is borrowed and valid only during the done callback. */
struct wr_directory_read_result {
    bool ok; /* every page was read and handed over, to the last one */
    /* Failed because Graph refused a delta or skip token the read carried (expired or of a
       lost sync state): 410 Gone, or a 4xx with the code syncStateNotFound or resyncRequired
       (GRAPH.md section 10). The caller starts a full round again. Other failures — a token
       that does not parse (400 Request_BadRequest), 403, throttling that outlasted the
       retries, a network error — leave it false. */
    bool token_refused;
    const char *delta_link; /* ok: the last page's @odata.deltaLink (an absolute URL under
                               base_url, for a later wr_directory_read_all), or NULL */
    int64_t count;          /* the first page's @odata.count ($count=true), or -1 */
    int pages;              /* pages answered and handed to the page callback */
    size_t items;           /* items handed to the page callback, over all pages */
    /* Failed because of a Graph answer: that answer (its status, error_code, error_message,
       retriable and ids); for a 2xx weir could not use, the code is WR_GRAPH_UNEXPECTED. NULL
       when weir decided (a link not under base_url, too many pages, the page callback). */
    const struct wr_graph_result *graph;
    const char *error;   /* failed: "reading PATH: ..." without Graph's part */
    const char *message; /* failed: one line for a log or /readyz, error with Graph's part in
                            the executor's wording: "reading PATH: Graph 400 syncStateNotFound:
                            MESSAGE (request-id R, client-request-id C)" */
};

typedef void (*wr_directory_read_fn)(void *arg, const struct wr_directory_read_result *r);

/*
 * Reads a whole collection: GETs path, hands each page to page (NULL = only the end is
 * wanted, e.g. for a "$deltatoken=latest" read) and follows @odata.nextLink, exactly as Graph
 * returned it, with the same flags on every page — WR_GRAPH_EVENTUAL resends
 * `ConsistencyLevel: eventual`, which Graph does not carry over to a nextLink — until a page
 * without one; its @odata.deltaLink, if any, is the result's delta_link (a page with both
 * links is followed, as Graph never sends both).
 *
 * path (borrowed) is relative to base_url ("/users?$filter=...&$count=true", query escaped by
 * the caller) or an absolute link under base_url — a deltaLink kept from an earlier read.
 * Every nextLink and the deltaLink must be under base_url too: one elsewhere fails the read
 * before anything is sent there. Every page must be a JSON object with a "value" array of
 * objects with a string "id", else the read fails as an unusable answer (WR_GRAPH_UNEXPECTED).
 * More than max_pages pages (0 = WR_DIRECTORY_MAX_PAGES) fail it with "more than N pages".
 *
 * done is called exactly once, on a later loop turn, unless the directory is freed first.
 * ok is true only after the last page: a read that fails on any page (Graph's error, with its
 * code and message, in graph and message) is never a success, so a caller that gathered pages
 * drops them. Pages, not items, are retried: each page is one wr_graph_request with the
 * client's retries. The read belongs to the Graph trace current at this call, as lookups do.
 * A path that is neither fails through done too ("... is not under BASE"), so a deltaLink kept
 * from before base_url changed reads as a failed round, never as a request elsewhere.
 * Returns 0, or -1 when path is NULL or empty or done is NULL (then nothing is called).
 */
int wr_directory_read_all(struct wr_directory *d, const char *path, unsigned flags, int max_pages,
                          wr_directory_page_fn page, wr_directory_read_fn done, void *arg);

/* }====== */

/*
 * The Graph path of one user: "/users/" + ref percent-encoded + suffix (borrowed, may be NULL:
 * "/revokeSignInSessions", "?$select=id"). A userPrincipalName starting with '$' is addressed
 * as a key literal, /users('%24adele%40contoso.com') with ' doubled, as Graph asks (a
 * "/users/$..." segment is taken for a system segment and refused). Owned.
 */
char *wr_directory_user_path(const char *ref, const char *suffix);
/* {====== replica lag: what weir created, and when ====== */

/*
 * Records that a user was created just now (by weir, or seen freshly created): any of its id,
 * userPrincipalName and employeeId (each may be NULL) names it from now on. Names are compared
 * without case.
 */
void wr_directory_note_created(struct wr_directory *d, const char *id, const char *upn,
                               const char *employee_id);

/*
 * ms since the user that ref names (an object id, a userPrincipalName, or `employeeId:VALUE`)
 * was noted as created, or -1 when it was not, or longer ago than the window.
 */
int64_t wr_directory_created_ago(struct wr_directory *d, const char *ref);

/* Records that weir set the usageLocation of the user with object id `id` just now. */
void wr_directory_note_location(struct wr_directory *d, const char *id);

/* ms since weir set the usageLocation of user `id`, or -1 (never, or beyond the window). */
int64_t wr_directory_location_ago(struct wr_directory *d, const char *id);

/* }====== */

/* True when s is a GUID in 8-4-4-4-12 hex form. */
bool wr_directory_is_guid(const char *s);

/*
 * s as an OData string literal, quotes included, with ' doubled ("O'Brien" → 'O''Brien').
 * Owned; percent-encode the whole filter with wr_graph_escape before sending it.
 */
char *wr_directory_odata_string(const char *s);

#endif
