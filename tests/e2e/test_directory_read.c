/*
 * test_directory_read — end-to-end tests of wr_directory_read_all (engine/graph/directory) and
 * WR_GRAPH_EVENTUAL (engine/graph/graph) against real graphsim processes on 127.0.0.1: the reads
 * the directory triggers poll with (issue #16). A date $filter read over several pages, with
 * `ConsistencyLevel: eventual` on every page (graphsim, like Graph, answers a page without it
 * 400); a /users/delta round and the round after a change made behind the client's back; a
 * /groups/delta round; refused delta tokens (400 syncStateNotFound, 410 resyncRequired) told
 * apart from other failures; links that leave base_url, the page bound, a page callback that
 * ends the read; completion exactly once, on a later loop turn. wr_directory_user_count
 * (GET /users/$count, text/plain, for the guardrails of issue #17) against graphsim's count.
 *
 * Each test starts its own graphsim, drives one event_base with a deadline (never a sleep) and
 * changes or inspects the tenant through /_sim between loop runs. graphsim's path comes from
 * argv[1] or WEIR_GRAPHSIM, the seed from WEIR_SOURCE_DIR; WEIR_TEST_FILTER picks tests.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "sim.h"

#define CLIENT_ID  "00000000-0000-0000-0000-000000000001"
#define SECRET     "sim-secret"
#define TENANT     "contoso.onmicrosoft.com"
#define ADELE_ID   "781f9c58-d664-4fa9-a8a8-529f035efa25"
#define LEE_ID     "31162427-3bfd-4d33-8d00-38ec42650644"
#define SALES_ID   "2257989f-ef82-4c88-b6ce-d90a71d2af72"
#define SEED_USERS 11

/* Hired 2015-01-01 .. 2017-12-31 in the seed: Patti, Megan, Alex, Nestor, Miriam, Pradeep. */
#define HIRED_PATH                                                                                 \
    "/users?$filter=employeeHireDate%20ge%202015-01-01T00:00:00Z%20and%20employeeHireDate%20le%20" \
    "2017-12-31T00:00:00Z&$count=true&$select=id,employeeHireDate&$top=2"
#define HIRED 6

static const char *graphsim_path;
static char seed_path[4096];

/* What one read saw, copied (results are valid only during the callbacks). */
struct seen {
    int done;       /* done calls: must end at 1 */
    int inside;     /* callbacks run from inside wr_directory_read_all: must stay 0 */
    int stop_after; /* the page callback ends the read after this many pages (0 = never) */
    int page_calls;
    int index_errors; /* pages whose index was not the next one */
    bool ok;
    bool token_refused;
    int pages;
    size_t items;
    int64_t count;
    long status;
    char code[64];
    char error[512];
    char message[1024];
    char delta[2048];
    char next[2048];         /* the first page's @odata.nextLink, or "" */
    struct json_object *got; /* every item handed over (owned) */
};

struct fixture {
    struct sim sim;
    struct event_base *base;
    struct wr_graph *g;
    struct wr_directory *dir;
    bool in_call;
    int pending; /* reads not done yet: the loop runs until 0 */
};

static struct fixture F;

static int teardown(void **state)
{
    (void)state;
    wr_directory_free(F.dir);
    wr_graph_free(F.g);
    if (F.base != NULL) {
        event_base_free(F.base);
    }
    int rc = sim_stop(&F.sim);
    memset(&F, 0, sizeof(F));
    return rc;
}

/* Starts graphsim (extra arguments may be NULL) and a client and directory on base_url (NULL =
   graphsim's own, http://127.0.0.1:PORT/v1.0). */
static void start(const char *const *extra, const char *base_url)
{
    char err[256] = "", base[128];
    memset(&F, 0, sizeof(F));
    sim_start(&F.sim, graphsim_path, seed_path, extra);
    if (base_url == NULL) {
        snprintf(base, sizeof(base), "%s", F.sim.base_url);
    } else {
        snprintf(base, sizeof(base), base_url, F.sim.port);
    }
    struct wr_graph_options o = {
        .authority = F.sim.authority,
        .tenant = TENANT,
        .client_id = CLIENT_ID,
        .client_secret = SECRET,
        .base_url = base,
    };
    F.base = event_base_new();
    assert_non_null(F.base);
    F.g = wr_graph_new(F.base, &o, err, sizeof(err));
    if (F.g == NULL) {
        fail_msg("wr_graph_new: %s", err);
    }
    struct wr_directory_options d = {.base_url = base};
    F.dir = wr_directory_new(F.base, F.g, &d);
    assert_non_null(F.dir);
}

static void seen_reset(struct seen *s)
{
    json_object_put(s->got);
    memset(s, 0, sizeof(*s));
    s->got = json_object_new_array();
}

static int on_page(void *arg, const struct wr_directory_page *p, char *err, size_t errlen)
{
    struct seen *s = arg;
    if (F.in_call) {
        s->inside++;
    }
    if (p->index != s->page_calls) {
        s->index_errors++;
    }
    s->page_calls++;
    struct json_object *v = NULL;
    if (p->index == 0 && json_object_object_get_ex(p->body, "@odata.nextLink", &v)) {
        snprintf(s->next, sizeof(s->next), "%s", json_object_get_string(v));
    }
    for (size_t i = 0; i < json_object_array_length(p->items); i++) {
        json_object_array_add(s->got, json_object_get(json_object_array_get_idx(p->items, i)));
    }
    if (s->stop_after > 0 && s->page_calls >= s->stop_after) {
        snprintf(err, errlen, "stopped after %d pages", s->page_calls);
        return -1;
    }
    return 0;
}

static void on_done(void *arg, const struct wr_directory_read_result *r)
{
    struct seen *s = arg;
    if (F.in_call) {
        s->inside++;
    }
    s->done++;
    s->ok = r->ok;
    s->token_refused = r->token_refused;
    s->pages = r->pages;
    s->items = r->items;
    s->count = r->count;
    s->status = r->graph ? r->graph->status : 0;
    snprintf(s->code, sizeof(s->code), "%s",
             r->graph && r->graph->error_code ? r->graph->error_code : "");
    snprintf(s->error, sizeof(s->error), "%s", r->error ? r->error : "");
    snprintf(s->message, sizeof(s->message), "%s", r->message ? r->message : "");
    snprintf(s->delta, sizeof(s->delta), "%s", r->delta_link ? r->delta_link : "");
    F.pending--;
    if (F.pending <= 0) {
        event_base_loopbreak(F.base);
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

/* Starts a read of path into s (reset first). */
static void begin(struct seen *s, const char *path, unsigned flags, int max_pages)
{
    seen_reset(s);
    F.in_call = true;
    int rc = wr_directory_read_all(F.dir, path, flags, max_pages, on_page, on_done, s);
    F.in_call = false;
    assert_int_equal(rc, 0);
    F.pending++;
}

/* Runs the loop until every read begun is done (or 20 s passed: a failure). */
static void run(void)
{
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {.tv_sec = 20};
    evtimer_add(deadline, &tv);
    if (F.pending > 0) {
        event_base_dispatch(F.base);
    }
    event_free(deadline);
    assert_int_equal(F.pending, 0);
}

/* One read of path, start to end. */
static void read_all(struct seen *s, const char *path, unsigned flags, int max_pages)
{
    begin(s, path, flags, max_pages);
    run();
    assert_int_equal(s->done, 1);
    assert_int_equal(s->inside, 0);
    assert_int_equal(s->index_errors, 0);
    assert_int_equal(s->page_calls, s->pages);
    assert_int_equal(json_object_array_length(s->got), s->items);
}

static void assert_read_ok(const struct seen *s)
{
    if (!s->ok) {
        fail_msg("read failed: %s", s->message);
    }
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* The item with id `id` among those a read handed over (borrowed), or NULL. */
static struct json_object *item(const struct seen *s, const char *id)
{
    for (size_t i = 0; i < json_object_array_length(s->got); i++) {
        struct json_object *o = json_object_array_get_idx(s->got, i);
        if (strcmp(jstr(o, "id"), id) == 0) {
            return o;
        }
    }
    return NULL;
}

static void sim_send(const char *method, const char *path, const char *json, long want)
{
    long status = 0;
    struct json_object *r = sim_call_body(&F.sim, method, path, json, &status);
    if (status != want) {
        fail_msg("%s %s: HTTP %ld, expected %ld", method, path, status, want);
    }
    json_object_put(r);
}

/* How many requests graphsim logged since seq, and how many of them were $batch calls. */
static int requests_since(int64_t seq, int *batches)
{
    char *lines = sim_requests_since(&F.sim, seq);
    int n = 0;
    *batches = 0;
    for (char *p = lines; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        n++;
        if (strncmp(p, "POST /v1.0/$batch", 17) == 0) {
            (*batches)++;
        }
    }
    free(lines);
    return n;
}

/* {====== tests ====== */

/* 1. A date $filter read: 3 pages of $top=2, the header on every one, @odata.count kept. */
static void test_date_filter_pages(void **state)
{
    struct seen a = {0}, b = {0};
    char next[2048];
    int batches;
    (void)state;
    start(NULL, NULL);

    int64_t seq = sim_last_seq(&F.sim);
    read_all(&a, HIRED_PATH, WR_GRAPH_EVENTUAL, 0);
    assert_read_ok(&a);
    assert_int_equal(a.pages, 3);
    assert_int_equal(a.items, HIRED);
    assert_int_equal(a.count, HIRED);
    assert_string_equal(a.delta, "");
    assert_non_null(strstr(a.next, "$skiptoken="));
    snprintf(next, sizeof(next), "%s", a.next);
    assert_non_null(item(&a, "21636369-8b52-4b4a-97b7-50923ceb3ffd")); /* Patti, 2015 */
    assert_null(item(&a, ADELE_ID));                                   /* 2018 */
    /* three GETs and the token call, nothing else */
    assert_int_equal(requests_since(seq, &batches), 4);

    /* The same read without the flag: Graph refuses the first page; its code and message, in the
       wording of a step's failure. */
    read_all(&a, HIRED_PATH, 0, 0);
    assert_false(a.ok);
    assert_false(a.token_refused);
    assert_int_equal(a.pages, 0);
    assert_int_equal(a.status, 400);
    assert_string_equal(a.code, "Request_UnsupportedQuery");
    assert_non_null(strstr(a.message, "reading /users?$filter=employeeHireDate"));
    assert_non_null(strstr(a.message, ": Graph 400 Request_UnsupportedQuery: Operator 'ge' is not "
                                      "supported because the 'ConsistencyLevel:eventual' header"));
    assert_non_null(strstr(a.message, "(request-id "));
    assert_null(strstr(a.error, "Graph 400"));

    /* And it must be on every page: Graph does not carry it over to a nextLink. Page 2's
       link, as graphsim gave it, read without the flag fails; with it, it is the rest. */
    read_all(&b, next, 0, 0);
    assert_false(b.ok);
    assert_int_equal(b.status, 400);
    assert_non_null(strstr(b.message, "'ConsistencyLevel:eventual' header is missing"));
    read_all(&b, next, WR_GRAPH_EVENTUAL, 0);
    assert_read_ok(&b);
    assert_int_equal(b.pages, 2);
    assert_int_equal(b.items, HIRED - 2);

    /* Two eventual reads started in one turn are sent alone, never in a $batch. */
    seq = sim_last_seq(&F.sim);
    begin(&a, HIRED_PATH, WR_GRAPH_EVENTUAL, 0);
    begin(&b, HIRED_PATH, WR_GRAPH_EVENTUAL, 0);
    run();
    assert_read_ok(&a);
    assert_read_ok(&b);
    assert_int_equal(a.items + b.items, 2 * HIRED);
    assert_int_equal(requests_since(seq, &batches), 6);
    assert_int_equal(batches, 0);

    /* Every retry of a page carries the header too (every 2nd Graph request answers 503). */
    struct wr_graph_stats st0, st1;
    wr_graph_get_stats(F.g, &st0);
    sim_send("POST", "/_sim/faults", "{\"fail_every\": 2}", 200);
    read_all(&a, HIRED_PATH, WR_GRAPH_EVENTUAL, 0);
    assert_read_ok(&a);
    assert_int_equal(a.items, HIRED);
    wr_graph_get_stats(F.g, &st1);
    assert_true(st1.retries - st0.retries >= 1);
    json_object_put(a.got);
    json_object_put(b.got);
}

/* 2. /users/delta: a full round over several pages ends in a deltaLink; after a change behind
   the client's back the deltaLink brings that user only; then /groups/delta. */
static void test_delta_rounds(void **state)
{
    struct seen a = {0};
    char link[2048];
    (void)state;
    start(NULL, NULL);
    sim_send("POST", "/_sim/faults", "{\"delta_page_size\": 4}", 200);

    read_all(&a, "/users/delta?$select=displayName,department", 0, 0);
    assert_read_ok(&a);
    assert_int_equal(a.pages, 3); /* 11 users, 4 a page */
    assert_int_equal(a.items, SEED_USERS);
    assert_int_equal(a.count, -1);
    assert_true(strncmp(a.delta, F.sim.base_url, strlen(F.sim.base_url)) == 0);
    assert_non_null(strstr(a.delta, "$deltatoken="));
    assert_string_equal(jstr(item(&a, ADELE_ID), "department"), "Retail");
    snprintf(link, sizeof(link), "%s", a.delta);

    /* Nothing changed: an empty round, and a deltaLink again. */
    read_all(&a, link, 0, 0);
    assert_read_ok(&a);
    assert_int_equal(a.items, 0);
    assert_int_equal(a.pages, 1);
    assert_string_not_equal(a.delta, "");

    sim_send("PATCH", "/_sim/users/" ADELE_ID, "{\"department\": \"IT\"}", 204);
    read_all(&a, link, 0, 0);
    assert_read_ok(&a);
    assert_int_equal(a.items, 1);
    assert_string_equal(jstr(item(&a, ADELE_ID), "department"), "IT");
    assert_string_not_equal(a.delta, "");

    /* The group's delta: a baseline with every member, then only the member added. */
    read_all(&a, "/groups/delta?$filter=id%20eq%20'" SALES_ID "'&$select=members", 0, 0);
    assert_read_ok(&a);
    assert_int_equal(a.items, 1);
    struct json_object *g = item(&a, SALES_ID), *members = NULL;
    assert_non_null(g);
    assert_true(json_object_object_get_ex(g, "members@delta", &members));
    size_t baseline = json_object_array_length(members);
    assert_true(baseline > 0);
    snprintf(link, sizeof(link), "%s", a.delta);
    sim_send("POST", "/_sim/groups/" SALES_ID "/members", "{\"id\": \"" LEE_ID "\"}", 204);
    read_all(&a, link, 0, 0);
    assert_read_ok(&a);
    assert_int_equal(a.items, 1);
    g = item(&a, SALES_ID);
    assert_true(json_object_object_get_ex(g, "members@delta", &members));
    assert_int_equal(json_object_array_length(members), 1);
    assert_string_equal(jstr(json_object_array_get_idx(members, 0), "id"), LEE_ID);
    json_object_put(a.got);
}

/* 3. A refused delta token is told apart from other failures: 400 syncStateNotFound and 410
   resyncRequired set token_refused; a token that does not parse and a 503 do not. */
static void test_refused_token(void **state)
{
    struct seen a = {0};
    char link[2048], bad[256];
    (void)state;
    start(NULL, NULL);

    read_all(&a, "/users/delta?$select=department", 0, 0);
    assert_read_ok(&a);
    snprintf(link, sizeof(link), "%s", a.delta);

    sim_send("POST", "/_sim/faults", "{\"expire_delta_tokens\": true}", 200);
    read_all(&a, link, 0, 0);
    assert_false(a.ok);
    assert_true(a.token_refused);
    assert_int_equal(a.status, 400);
    assert_string_equal(a.code, "syncStateNotFound");
    assert_int_equal(a.pages, 0);
    assert_string_equal(a.delta, "");
    assert_non_null(strstr(a.message, ": Graph 400 syncStateNotFound: The sync state generation "
                                      "is not found."));

    /* A new full round works again; its token then expires with 410. */
    read_all(&a, "/users/delta?$select=department", 0, 0);
    assert_read_ok(&a);
    snprintf(link, sizeof(link), "%s", a.delta);
    sim_send("POST", "/_sim/faults",
             "{\"delta_expired_status\": 410, \"expire_delta_tokens\": true}", 200);
    read_all(&a, link, 0, 0);
    assert_false(a.ok);
    assert_true(a.token_refused);
    assert_int_equal(a.status, 410);
    assert_string_equal(a.code, "resyncRequired");

    /* A token that does not parse is a plain bad request, not a refused sync state. */
    snprintf(bad, sizeof(bad), "%s/users/delta?$deltatoken=garbage", F.sim.base_url);
    read_all(&a, bad, 0, 0);
    assert_false(a.ok);
    assert_false(a.token_refused);
    assert_int_equal(a.status, 400);
    assert_string_equal(a.code, "Request_BadRequest");

    /* Nor is a failure that outlasts the retries (every request 503). */
    sim_send("POST", "/_sim/faults", "{\"fail_every\": 1}", 200);
    read_all(&a, "/users/delta?$select=department", 0, 0);
    assert_false(a.ok);
    assert_false(a.token_refused);
    assert_int_equal(a.status, 503);
    json_object_put(a.got);
}

/* 4. Links that leave base_url are refused before anything is sent there: a link the caller
   gives, a nextLink and a deltaLink Graph gives (graphsim's link_base fault points them at
   graph.example; nothing is ever sent there). Also the page bound and a callback that stops. */
static void test_foreign_links(void **state)
{
    struct seen a = {0};
    int batches;
    (void)state;
    start(NULL, NULL);

    int64_t seq = sim_last_seq(&F.sim);
    read_all(&a, "http://graph.example/v1.0/users/delta?$deltatoken=x", 0, 0);
    assert_false(a.ok);
    assert_false(a.token_refused);
    assert_string_equal(a.code, "");
    assert_non_null(strstr(a.error, "is not under "
                                    "http://127.0.0.1:"));
    assert_int_equal(requests_since(seq, &batches), 0);
    /* Same host, other version: not under base_url either. */
    char other[256];
    snprintf(other, sizeof(other), "%s/beta/users/delta", F.sim.authority);
    read_all(&a, other, 0, 0);
    assert_false(a.ok);
    assert_int_equal(requests_since(seq, &batches), 0);

    /* More pages than allowed, a page callback that ends the read: never a success. */
    read_all(&a, HIRED_PATH, WR_GRAPH_EVENTUAL, 2);
    assert_false(a.ok);
    assert_non_null(strstr(a.error, "more than 2 pages"));
    assert_int_equal(a.pages, 2);
    a.stop_after = 0;
    begin(&a, HIRED_PATH, WR_GRAPH_EVENTUAL, 0);
    a.stop_after = 2;
    run();
    assert_false(a.ok);
    assert_int_equal(a.pages, 1); /* the page that stopped it is not counted as read */
    assert_non_null(strstr(a.error, ": stopped after 2 pages"));

    sim_send("POST", "/_sim/faults",
             "{\"delta_page_size\": 4, \"link_base\": \"http://graph.example\"}", 200);
    seq = sim_last_seq(&F.sim);
    read_all(&a, "/users/delta?$select=department", 0, 0);
    assert_false(a.ok);
    assert_int_equal(a.pages, 1);
    assert_non_null(strstr(a.error, "@odata.nextLink 'http://graph.example/v1.0/users/delta"));
    assert_non_null(strstr(a.error, "is not under http://127.0.0.1:"));
    assert_int_equal(requests_since(seq, &batches), 1); /* page 1 only (signed in before) */
    sim_send("POST", "/_sim/faults", "{\"delta_page_size\": 0}", 200);
    read_all(&a, "/users/delta?$select=department", 0, 0);
    assert_false(a.ok);
    assert_string_equal(a.delta, "");
    assert_non_null(strstr(a.error, "@odata.deltaLink 'http://graph.example/v1.0/users/delta"));
    json_object_put(a.got);
}

/* {====== the tenant's user count ====== */

/* What one wr_directory_user_count saw, copied. */
struct counted {
    int done;
    int inside;
    bool ok;
    bool object_is_int;
    int64_t count;
    long status;
    char code[64];
    char error[512];
};

static void on_count(void *arg, const struct wr_directory_result *r)
{
    struct counted *c = arg;
    if (F.in_call) {
        c->inside++;
    }
    c->done++;
    c->ok = r->ok;
    c->object_is_int = r->object && json_object_is_type(r->object, json_type_int);
    c->count = c->object_is_int ? json_object_get_int64(r->object) : -1;
    c->status = r->graph ? r->graph->status : 0;
    snprintf(c->code, sizeof(c->code), "%s",
             r->graph && r->graph->error_code ? r->graph->error_code : "");
    snprintf(c->error, sizeof(c->error), "%s", r->error ? r->error : "");
    F.pending--;
    if (F.pending <= 0) {
        event_base_loopbreak(F.base);
    }
}

static void count_users(struct counted *c)
{
    memset(c, 0, sizeof(*c));
    F.in_call = true;
    assert_int_equal(wr_directory_user_count(F.dir, on_count, c), 0);
    F.in_call = false;
    F.pending++;
    run();
    assert_int_equal(c->done, 1);
    assert_int_equal(c->inside, 0);
}

/*
 * GET /users/$count (sent with ConsistencyLevel: eventual, without which graphsim answers 400)
 * is graphsim's number of users, before and after a delete; a 2xx that is no number is
 * WR_GRAPH_UNEXPECTED, not a count.
 */
static void test_user_count(void **state)
{
    (void)state;
    struct counted c;
    start(NULL, NULL);
    count_users(&c);
    if (!c.ok) {
        fail_msg("count failed: %s (%s)", c.error, c.code);
    }
    assert_true(c.object_is_int);
    assert_int_equal(c.count, sim_stat(&F.sim, "users"));
    assert_int_equal(c.count, SEED_USERS);

    sim_send("DELETE", "/_sim/users/" ADELE_ID, NULL, 204);
    count_users(&c);
    assert_true(c.ok);
    assert_int_equal(c.count, SEED_USERS - 1);
    assert_int_equal(c.count, sim_stat(&F.sim, "users"));

    /* A JSON answer ([]) and a proxy's HTML page: no count. */
    sim_send("POST", "/_sim/faults",
             "{\"bad_answer\": {\"kind\": \"wrong_shape\", \"count\": 1, \"path\": "
             "\"/users/$count\"}}",
             200);
    count_users(&c);
    assert_false(c.ok);
    assert_string_equal(c.code, WR_GRAPH_UNEXPECTED);
    assert_non_null(strstr(c.error, "counting the tenant's users"));
    sim_send("POST", "/_sim/faults",
             "{\"bad_answer\": {\"kind\": \"html\", \"count\": 3, \"path\": "
             "\"/users/$count\"}}",
             200);
    count_users(&c);
    assert_false(c.ok);
    assert_string_equal(c.code, WR_GRAPH_UNEXPECTED);
}

/* }====== */

int main(int argc, char **argv)
{
    const char *src = getenv("WEIR_SOURCE_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_date_filter_pages, teardown),
        cmocka_unit_test_teardown(test_delta_rounds, teardown),
        cmocka_unit_test_teardown(test_refused_token, teardown),
        cmocka_unit_test_teardown(test_foreign_links, teardown),
        cmocka_unit_test_teardown(test_user_count, teardown),
    };
    graphsim_path = argc > 1 ? argv[1] : getenv("WEIR_GRAPHSIM");
    if (graphsim_path == NULL || src == NULL) {
        fprintf(stderr, "usage: %s GRAPHSIM (with WEIR_SOURCE_DIR set)\n", argv[0]);
        return 2;
    }
    snprintf(seed_path, sizeof(seed_path), "%s/tests/graphsim/seed.json", src);
    signal(SIGPIPE, SIG_IGN);
    if (getenv("WEIR_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("WEIR_TEST_FILTER"));
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
