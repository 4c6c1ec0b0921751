/*
 * test_graph_client — end-to-end tests of engine/graph/graph against real graphsim processes on
 * 127.0.0.1: lookups and Graph errors, token failures and expiry, throttling with Retry-After
 * (batched and unbatched, per path and tenant-wide with x-ms-throttle-scope), $batch
 * coalescing, 503 storms, dry runs, the concurrency cap and delivery on a later loop turn; and
 * the wire: the headers every request carries (Content-Type on bodiless POSTs, client-request-id,
 * User-Agent), Graph's request-id in results, 2xx answers that are not usable JSON, and the
 * token scope of a national cloud.
 *
 * Each test starts its own graphsim (fork/exec, port read from its stdout), drives one
 * event_base with a deadline (event_base_loopexit from a timer, never a sleep) and checks what
 * the simulator saw through /_sim (read with blocking libcurl between loop runs). graphsim's
 * path comes from argv[1] or WEIR_GRAPHSIM; the seed from WEIR_SOURCE_DIR. WEIR_TEST_FILTER
 * (a cmocka name pattern, e.g. test_tenant_throttle) runs only the matching tests.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "engine/base/strutil.h"
#include "engine/graph/graph.h"
#include "sim.h"

#define CLIENT_ID "00000000-0000-0000-0000-000000000001"
#define SECRET    "sim-secret"
#define TENANT    "contoso.onmicrosoft.com"
#define ADELE     "adele.vance@contoso.onmicrosoft.com"
#define MAX_CALLS 256

static const char *graphsim_path;
static char seed_path[4096];

/* {====== JSON fields ====== */

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static int64_t jint(struct json_object *o, const char *key)
{
    struct json_object *v;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static bool jbool(struct json_object *o, const char *key)
{
    struct json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* }====== */

/* {====== Client fixture ====== */

/* What one callback saw, copied (the result is only valid during the callback). */
struct call {
    struct fixture *f;
    bool done;
    bool ok;
    bool retriable;
    long status;
    int attempts;
    int64_t retry_after_ms;
    char code[64];
    char message[512];
    char id[64];
    char upn[128];
    bool has_body;
    size_t body_len;
    char ctype[128];
    char head[256];
    char request_id[64];
    char crid[64];
    char scope[160];
};

struct fixture {
    struct sim sim;
    struct event_base *base;
    struct wr_graph *g;
    struct call calls[MAX_CALLS];
    int issued;
    int completed;
    int expected; /* loop stops once this many callbacks ran */
    bool in_request;
    int called_inside; /* callbacks run from inside wr_graph_request: must stay 0 */
    struct event *ticker;
    int ticks_left;
    const char *tick_path;
};

static struct fixture F;

static int teardown(void **state)
{
    (void)state;
    wr_graph_free(F.g);
    F.g = NULL;
    if (F.ticker != NULL) {
        event_free(F.ticker);
        F.ticker = NULL;
    }
    if (F.base != NULL) {
        event_base_free(F.base);
        F.base = NULL;
    }
    return sim_stop(&F.sim);
}

static void fixture_reset_calls(void)
{
    memset(F.calls, 0, sizeof(F.calls));
    F.issued = 0;
    F.completed = 0;
    F.expected = 0;
}

/* Starts graphsim and a client on a new base; opts may be NULL (defaults). */
static void start(const char *const *sim_args, const struct wr_graph_options *opts)
{
    struct wr_graph_options o = {0};
    char err[WR_ERR_MAX] = "";

    memset(&F, 0, sizeof(F));
    sim_start(&F.sim, graphsim_path, seed_path, sim_args);
    if (opts != NULL) {
        o = *opts;
    }
    if (o.authority == NULL) {
        o.authority = F.sim.authority;
    }
    o.tenant = TENANT;
    o.client_id = CLIENT_ID;
    if (o.client_secret == NULL) {
        o.client_secret = SECRET;
    }
    o.base_url = F.sim.base_url;
    F.base = event_base_new();
    assert_non_null(F.base);
    F.g = wr_graph_new(F.base, &o, err, sizeof(err));
    if (F.g == NULL) {
        fail_msg("wr_graph_new: %s", err);
    }
}

static void on_done(void *arg, const struct wr_graph_result *res)
{
    struct call *c = arg;
    struct json_object *v;

    if (F.in_request) {
        F.called_inside++;
    }
    c->done = true;
    c->ok = res->ok;
    c->retriable = res->retriable;
    c->status = res->status;
    c->attempts = res->attempts;
    c->retry_after_ms = res->retry_after_ms;
    snprintf(c->code, sizeof(c->code), "%s", res->error_code ? res->error_code : "");
    snprintf(c->message, sizeof(c->message), "%s", res->error_message ? res->error_message : "");
    if (res->body != NULL && json_object_object_get_ex(res->body, "id", &v)) {
        snprintf(c->id, sizeof(c->id), "%s", json_object_get_string(v));
    }
    if (res->body != NULL && json_object_object_get_ex(res->body, "userPrincipalName", &v)) {
        snprintf(c->upn, sizeof(c->upn), "%s", json_object_get_string(v));
    }
    c->has_body = res->body != NULL;
    c->body_len = res->body_len;
    snprintf(c->ctype, sizeof(c->ctype), "%s", res->content_type ? res->content_type : "");
    snprintf(c->head, sizeof(c->head), "%s", res->body_head ? res->body_head : "");
    snprintf(c->request_id, sizeof(c->request_id), "%s", res->request_id ? res->request_id : "");
    snprintf(c->crid, sizeof(c->crid), "%s", res->client_request_id ? res->client_request_id : "");
    snprintf(c->scope, sizeof(c->scope), "%s", res->throttle_scope ? res->throttle_scope : "");
    if (++F.completed >= F.expected) {
        event_base_loopbreak(F.base);
    }
}

/* Issues one request with the "inside wr_graph_request" flag set around the call. */
static int issue(const char *method, const char *path, struct json_object *body, unsigned flags)
{
    struct call *c;
    int rc;

    assert_true(F.issued < MAX_CALLS);
    c = &F.calls[F.issued];
    F.in_request = true;
    rc = wr_graph_request(F.g, method, path, body, flags, on_done, c);
    F.in_request = false;
    if (rc == 0) {
        F.issued++;
        F.expected++;
    }
    return rc;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

/* Runs the loop until every expected callback ran or deadline_ms passed; returns elapsed ms. */
static int64_t run(int64_t deadline_ms)
{
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {.tv_sec = deadline_ms / 1000, .tv_usec = (deadline_ms % 1000) * 1000};
    struct timespec t0, t1;

    assert_non_null(deadline);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    evtimer_add(deadline, &tv);
    if (F.completed < F.expected || F.ticks_left > 0) {
        event_base_dispatch(F.base);
    }
    event_free(deadline);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(F.called_inside, 0);
    if (F.completed < F.expected) {
        fail_msg("deadline: %d of %d requests completed", F.completed, F.expected);
    }
    return (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

static void assert_all_ok(int from, int to)
{
    for (int i = from; i < to; i++) {
        if (!F.calls[i].ok) {
            fail_msg("request %d failed: status %ld %s: %s (attempts %d)", i, F.calls[i].status,
                     F.calls[i].code, F.calls[i].message, F.calls[i].attempts);
        }
    }
}

static char *user_path(const char *upn)
{
    char *esc = wr_graph_escape(upn), *p;
    size_t n = strlen(esc) + 16;

    p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "/users/%s", esc);
    free(esc);
    return p;
}

static char *synth_path(int i)
{
    char upn[64];

    snprintf(upn, sizeof(upn), "synth%06d@%s", i, TENANT);
    return user_path(upn);
}

static struct json_object *job_title_body(const char *prefix, int i)
{
    struct json_object *o = json_object_new_object();
    char title[64];

    snprintf(title, sizeof(title), "%s %d", prefix, i);
    json_object_object_add(o, "jobTitle", json_object_new_string(title));
    return o;
}

/* The jobTitle graphsim holds for synthetic user i (owned). */
static char *synth_job_title(int i)
{
    char path[96];
    struct json_object *u;
    char *t;

    snprintf(path, sizeof(path), "/_sim/users/synth%06d@%s", i, TENANT);
    u = sim_call(&F.sim, "GET", path, NULL);
    assert_non_null(u);
    t = strdup(jstr(u, "jobTitle"));
    json_object_put(u);
    return t;
}

/* }====== */

/* {====== Tests ====== */

/* 1. A user by UPN, then a missing user: Graph's error code and message, no retry. */
static void test_get_user_and_404(void **state)
{
    struct json_object *adele;
    struct wr_graph_stats st;
    char *p, *missing;

    (void)state;
    start(NULL, NULL);
    adele = sim_call(&F.sim, "GET", "/_sim/users/" ADELE, NULL);
    assert_non_null(adele);

    p = user_path(ADELE);
    assert_int_equal(issue("GET", p, NULL, 0), 0);
    run(10000);
    assert_true(F.calls[0].ok);
    assert_int_equal(F.calls[0].status, 200);
    assert_string_equal(F.calls[0].id, jstr(adele, "id"));
    assert_string_equal(F.calls[0].upn, ADELE);
    assert_int_equal(F.calls[0].attempts, 1);

    missing = user_path("nobody@contoso.onmicrosoft.com");
    assert_int_equal(issue("GET", missing, NULL, 0), 0);
    run(10000);
    assert_false(F.calls[1].ok);
    assert_int_equal(F.calls[1].status, 404);
    assert_string_equal(F.calls[1].code, "Request_ResourceNotFound");
    assert_string_equal(F.calls[1].message,
                        "Resource 'nobody@contoso.onmicrosoft.com' does not exist or one of its "
                        "queried reference-property objects are not present.");
    assert_false(F.calls[1].retriable);
    assert_int_equal(F.calls[1].attempts, 1);

    /* The same two in one turn travel in one $batch and give the same answers. */
    assert_int_equal(issue("GET", p, NULL, 0), 0);
    assert_int_equal(issue("GET", missing, NULL, 0), 0);
    run(10000);
    assert_true(F.calls[2].ok);
    assert_string_equal(F.calls[2].id, jstr(adele, "id"));
    assert_false(F.calls[3].ok);
    assert_int_equal(F.calls[3].status, 404);
    assert_string_equal(F.calls[3].code, "Request_ResourceNotFound");
    assert_false(F.calls[3].retriable);
    assert_int_equal(F.calls[3].attempts, 1);

    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.token_fetches, 1); /* cached */
    assert_int_equal(st.http_requests, 3);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.batch_items, 2);
    assert_int_equal(st.retries, 0);
    assert_int_equal(sim_stat(&F.sim, "token_requests"), 1);
    json_object_put(adele);
    free(p);
    free(missing);
}

/* 2. A wrong secret: the token endpoint's error for every waiting request, one token call. */
static void test_wrong_secret(void **state)
{
    static const char secret[] = "wrong-Secret-7Hq2";
    struct wr_graph_options o = {.client_secret = secret};
    struct wr_graph_stats st;
    char *p;

    (void)state;
    start(NULL, &o);
    p = user_path(ADELE);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(issue("GET", p, NULL, WR_GRAPH_NO_BATCH), 0);
    }
    run(10000);
    for (int i = 0; i < 3; i++) {
        assert_false(F.calls[i].ok);
        assert_string_equal(F.calls[i].code, "invalid_client");
        assert_non_null(strstr(F.calls[i].message, "AADSTS7000215"));
        assert_null(strstr(F.calls[i].message, secret));
        assert_null(strstr(F.calls[i].message, "Bearer"));
        assert_false(F.calls[i].retriable);
    }
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.token_fetches, 1);
    assert_int_equal(st.http_requests, 0);
    assert_int_equal(sim_stat(&F.sim, "token_requests"), 1);
    assert_int_equal(sim_stat(&F.sim, "graph_requests"), 0);
    free(p);
}

/* 100 PATCHes on distinct users against --throttle-every 3; returns elapsed ms. */
static int64_t throttled_run(bool batching)
{
    struct wr_graph_stats st;
    int64_t ms;
    const char *prefix = batching ? "Batched" : "Direct";

    fixture_reset_calls();
    for (int i = 1; i <= 100; i++) {
        char *p = synth_path(i);
        struct json_object *b = job_title_body(prefix, i);

        assert_int_equal(issue("PATCH", p, b, 0), 0);
        json_object_put(b);
        free(p);
    }
    ms = run(40000);
    assert_all_ok(0, 100);
    assert_int_equal(sim_stat(&F.sim, "retry_after_violations"), 0);
    assert_true(sim_stat(&F.sim, "throttled") > 0);
    assert_int_equal(sim_stat(&F.sim, "mutations"), 100);
    for (int i = 1; i <= 100; i++) {
        char want[64], *got = synth_job_title(i);

        snprintf(want, sizeof(want), "%s %d", prefix, i);
        assert_string_equal(got, want);
        free(got);
    }
    wr_graph_get_stats(F.g, &st);
    assert_true(st.throttled > 0);
    assert_true(st.retries > 0);
    assert_true(st.retry_wait_ms >= 1250);
    if (batching) {
        assert_true(st.batches > 0);
    } else {
        assert_int_equal(st.batches, 0);
    }
    print_message("throttling (%s): %lld ms, %llu HTTP requests, %llu retries, %llu throttled\n",
                  batching ? "batched" : "unbatched", (long long)ms,
                  (unsigned long long)st.http_requests, (unsigned long long)st.retries,
                  (unsigned long long)st.throttled);
    return ms;
}

/* 3. Throttling: every 429's Retry-After honoured, with and without $batch. */
static void test_throttling(void **state)
{
    static const char *const args[] = {
        "--throttle-every", "3", "--retry-after", "1.25", "--generate-users", "100", NULL};
    struct wr_graph_options batched = {.max_attempts = 10, .max_concurrency = 8};
    struct wr_graph_options unbatched = {.max_attempts = 10, .max_concurrency = 8, .batch_max = -1};
    struct json_object *r;

    (void)state;
    start(args, &batched);
    throttled_run(true);

    r = sim_call(&F.sim, "POST", "/_sim/reset", NULL);
    json_object_put(r);
    wr_graph_free(F.g);
    F.g = NULL;
    {
        char err[WR_ERR_MAX];

        unbatched.authority = F.sim.authority;
        unbatched.tenant = TENANT;
        unbatched.client_id = CLIENT_ID;
        unbatched.client_secret = SECRET;
        unbatched.base_url = F.sim.base_url;
        F.g = wr_graph_new(F.base, &unbatched, err, sizeof(err));
        assert_non_null(F.g);
    }
    throttled_run(false);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (F.ticks_left > 0) {
        F.ticks_left--;
        assert_int_equal(issue("GET", F.tick_path, NULL, 0), 0);
        F.expected--; /* already counted in the target */
    }
    if (F.ticks_left == 0) {
        event_del(F.ticker);
    }
}

/* 4. Five-second tokens: a 12-second stream never meets a 401. */
static void test_token_expiry(void **state)
{
    static const char *const args[] = {"--token-lifetime", "5", NULL};
    struct timeval every = {.tv_sec = 0, .tv_usec = 100000};
    struct json_object *log;
    struct wr_graph_stats st;
    int64_t ms, n401 = 0;
    char *p;

    (void)state;
    start(args, NULL);
    p = user_path(ADELE);
    F.tick_path = p;
    F.ticks_left = 120;
    F.expected = 120; /* counted up front so the loop does not stop between ticks */
    F.issued = 0;
    F.ticker = event_new(F.base, -1, EV_PERSIST, on_tick, NULL);
    event_add(F.ticker, &every);
    {
        struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
        struct timeval tv = {.tv_sec = 25, .tv_usec = 0};
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        evtimer_add(deadline, &tv);
        event_base_dispatch(F.base);
        event_free(deadline);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    }
    assert_int_equal(F.called_inside, 0);
    assert_int_equal(F.issued, 120);
    assert_int_equal(F.completed, 120);
    assert_all_ok(0, 120);
    assert_true(ms >= 11900);
    assert_true(sim_stat(&F.sim, "token_requests") >= 3);
    assert_int_equal(sim_stat(&F.sim, "unauthorized"), 0);
    log = sim_log(&F.sim);
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        if (jint(json_object_array_get_idx(log, i), "status") == 401) {
            n401++;
        }
    }
    json_object_put(log);
    assert_int_equal(n401, 0);
    wr_graph_get_stats(F.g, &st);
    assert_true(st.token_fetches >= 3);
    print_message("token expiry: %lld ms, %llu token fetches\n", (long long)ms,
                  (unsigned long long)st.token_fetches);
    free(p);
}

/* 5. 200 PATCHes in one turn: at most 10 $batch calls of at most 20 items, nothing alone. */
static void test_batch_coalescing(void **state)
{
    static const char *const args[] = {"--generate-users", "200", NULL};
    struct json_object *log;
    struct wr_graph_stats st;
    int nbatch = 0, items = 0, top_patch = 0;
    int per_parent[4096] = {0};

    (void)state;
    start(args, NULL);
    for (int i = 1; i <= 200; i++) {
        char *p = synth_path(i);
        struct json_object *b = job_title_body("Coalesced", i);

        assert_int_equal(issue("PATCH", p, b, 0), 0);
        json_object_put(b);
        free(p);
    }
    run(30000);
    assert_all_ok(0, 200);
    log = sim_log(&F.sim);
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i);
        bool in_batch = jbool(e, "batch");

        if (!in_batch && strcmp(jstr(e, "method"), "POST") == 0 &&
            strcmp(jstr(e, "path"), "/v1.0/$batch") == 0) {
            nbatch++;
        } else if (!in_batch && strcmp(jstr(e, "method"), "PATCH") == 0) {
            top_patch++;
        } else if (in_batch) {
            int64_t parent = jint(e, "batch_parent");

            items++;
            assert_true(parent >= 0 && parent < 4096);
            per_parent[parent]++;
            assert_true(per_parent[parent] <= 20);
        }
    }
    json_object_put(log);
    assert_true(nbatch >= 1 && nbatch <= 10);
    assert_int_equal(top_patch, 0);
    assert_int_equal(items, 200);
    assert_int_equal(sim_stat(&F.sim, "mutations"), 200);
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.batches, (uint64_t)nbatch);
    assert_int_equal(st.batch_items, 200);
    print_message("$batch: 200 PATCHes in %d $batch calls\n", nbatch);
}

/* 6. Every second Graph request answers 503: all succeed through retries. */
static void test_503_storm(void **state)
{
    static const char *const args[] = {"--fail-every", "2", NULL};
    static const char *const users[] = {
        "patti.fernandez", "megan.bowen",    "alex.wilber",    "adele.vance",  "lee.gu",
        "isaiah.langer",   "johanna.lorenz", "lidia.holloway", "nestor.wilke", "miriam.graham"};
    struct wr_graph_options o = {.max_attempts = 8};
    struct wr_graph_stats st;

    (void)state;
    start(args, &o);
    for (int i = 0; i < 10; i++) {
        char upn[128], *p;
        struct json_object *b = job_title_body("Storm", i);

        snprintf(upn, sizeof(upn), "%s@%s", users[i], TENANT);
        p = user_path(upn);
        assert_int_equal(issue("GET", p, NULL, WR_GRAPH_NO_BATCH), 0);
        assert_int_equal(issue("PATCH", p, b, 0), 0);
        json_object_put(b);
        free(p);
    }
    run(60000);
    assert_all_ok(0, 20);
    wr_graph_get_stats(F.g, &st);
    assert_true(st.retries > 0);
    assert_true(sim_stat(&F.sim, "injected_failures") > 0);
    assert_int_equal(sim_stat(&F.sim, "mutations"), 10);
    print_message("503 storm: %llu retries, %llu HTTP requests\n", (unsigned long long)st.retries,
                  (unsigned long long)st.http_requests);
}

/* 7. read_only: writes fail as dry runs and nothing reaches graphsim; GETs still work. */
static void test_read_only(void **state)
{
    struct wr_graph_options o = {.read_only = true};
    struct json_object *body = job_title_body("Dry", 1), *log;
    char *p;

    (void)state;
    start(NULL, &o);
    p = user_path(ADELE);
    assert_int_equal(issue("PATCH", p, body, 0), 0);
    assert_int_equal(issue("DELETE", p, NULL, 0), 0);
    run(10000);
    assert_false(F.calls[0].ok);
    assert_string_equal(F.calls[0].code, "read_only");
    assert_string_equal(F.calls[0].message,
                        "dry run: PATCH /users/adele.vance%40contoso.onmicrosoft.com was not sent");
    assert_int_equal(F.calls[0].attempts, 0);
    assert_false(F.calls[0].retriable);
    assert_string_equal(F.calls[1].code, "read_only");
    assert_int_equal(sim_stat(&F.sim, "requests"), 0); /* not even a token call */
    assert_int_equal(sim_stat(&F.sim, "mutations"), 0);

    assert_int_equal(issue("GET", p, NULL, 0), 0);
    run(10000);
    assert_true(F.calls[2].ok);
    assert_int_equal(sim_stat(&F.sim, "mutations"), 0);
    log = sim_log(&F.sim);
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        const char *m = jstr(json_object_array_get_idx(log, i), "method");

        assert_true(strcmp(m, "PATCH") != 0 && strcmp(m, "DELETE") != 0);
    }
    json_object_put(log);
    json_object_put(body);
    free(p);
}

/* 8. max_concurrency=2 with 100 ms replies: 10 GETs take five rounds at least. */
static void test_concurrency_cap(void **state)
{
    static const char *const args[] = {"--latency-ms", "100", NULL};
    struct wr_graph_options o = {.max_concurrency = 2};
    int64_t ms;
    char *p;

    (void)state;
    start(args, &o);
    p = user_path(ADELE);
    assert_int_equal(issue("GET", p, NULL, 0), 0); /* fetches the token first */
    run(10000);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(issue("GET", p, NULL, WR_GRAPH_NO_BATCH), 0);
    }
    ms = run(20000);
    assert_all_ok(0, 11);
    assert_true(ms >= 490);
    print_message("concurrency cap: 10 GETs, 2 at a time, 100 ms latency: %lld ms\n",
                  (long long)ms);
    free(p);
}

static void on_done_chain(void *arg, const struct wr_graph_result *res)
{
    /* Issuing from inside a callback is fine, and its callback still comes later. */
    assert_int_equal(issue("GET", "/users/" ADELE, NULL, 0), 0);
    on_done(arg, res);
}

/* 9. Callbacks never run inside wr_graph_request, including immediate failures. */
static void test_callbacks_later(void **state)
{
    struct wr_graph_options o = {.read_only = true};
    struct json_object *body = job_title_body("Later", 1);
    int rc;

    (void)state;
    start(NULL, &o);
    assert_int_equal(issue("PATCH", "/users/" ADELE, body, 0), 0);
    assert_int_equal(F.completed, 0);
    assert_int_equal(issue("GET", "/users/" ADELE, NULL, 0), 0);
    /* Malformed requests are refused and never call back. */
    assert_int_equal(issue("FETCH", "/users", NULL, 0), -1);
    assert_int_equal(issue("GET", "users", NULL, 0), -1);
    assert_int_equal(issue("GET", "/users/a b", NULL, 0), -1);
    F.in_request = true;
    rc = wr_graph_request(F.g, "GET", "/users", NULL, 0, on_done_chain, &F.calls[F.issued]);
    F.in_request = false;
    assert_int_equal(rc, 0);
    F.issued++;
    F.expected++; /* the chained request counts itself when issued */
    run(10000);
    assert_int_equal(F.completed, 4);
    assert_int_equal(F.called_inside, 0);
    assert_string_equal(F.calls[0].code, "read_only");
    assert_true(F.calls[1].ok);
    assert_true(F.calls[2].ok);
    assert_true(F.calls[3].ok);
    json_object_put(body);
}

/* 10. Write pacing: a bucket of 150 per 150 s lets 150 writes through, the rest wait. */
static void test_pacing(void **state)
{
    static const char *const args[] = {"--generate-users", "152", NULL};
    struct wr_graph_options o = {.writes_per_150s = 150};
    struct wr_graph_stats st;
    int64_t ms;

    (void)state;
    start(args, &o);
    for (int i = 1; i <= 152; i++) {
        char *p = synth_path(i);
        struct json_object *b = job_title_body("Paced", i);

        assert_int_equal(issue("PATCH", p, b, 0), 0);
        json_object_put(b);
        free(p);
    }
    ms = run(20000);
    assert_all_ok(0, 152);
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.paced, 2);
    /* One write per second refills: the last one waits about two seconds. */
    assert_true(ms >= 1900);
    assert_int_equal(sim_stat(&F.sim, "mutations"), 152);
    print_message("pacing: 152 writes at 150/150 s: %lld ms, %llu paced\n", (long long)ms,
                  (unsigned long long)st.paced);
}

/* Runs the loop for ms whatever completes. */
static void run_for(int64_t ms)
{
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    F.expected = MAX_CALLS + 1; /* never reached: only the deadline stops the loop */
    evtimer_add(deadline, &tv);
    event_base_dispatch(F.base);
    event_free(deadline);
}

static void on_done_free(void *arg, const struct wr_graph_result *res)
{
    on_done(arg, res);
    wr_graph_free(F.g);
    F.g = NULL;
}

/* 11. Freeing with requests queued, waiting and in flight: no callbacks, nothing leaks. */
static void test_free_pending(void **state)
{
    static const char *const args[] = {"--latency-ms", "300", NULL};
    struct wr_graph_options o = {.max_concurrency = 2};
    char err[WR_ERR_MAX];
    char *p;

    (void)state;
    start(args, &o);
    p = user_path(ADELE);
    for (int i = 0; i < 5; i++) {
        struct json_object *b = job_title_body("Freed", i);

        assert_int_equal(issue("GET", p, NULL, WR_GRAPH_NO_BATCH), 0);
        assert_int_equal(issue("PATCH", p, b, 0), 0);
        json_object_put(b);
    }
    run_for(450); /* the token came back after 300 ms; two transfers are in flight */
    assert_int_equal(F.completed, 0);
    wr_graph_free(F.g);
    F.g = NULL;
    run_for(400); /* the cancelled transfers' replies arrive to nobody */
    assert_int_equal(F.completed, 0);

    /* Freeing from inside a callback: the other finished requests are not called back. */
    o.authority = F.sim.authority;
    o.tenant = TENANT;
    o.client_id = CLIENT_ID;
    o.client_secret = SECRET;
    o.base_url = F.sim.base_url;
    o.read_only = true;
    F.g = wr_graph_new(F.base, &o, err, sizeof(err));
    assert_non_null(F.g);
    fixture_reset_calls();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wr_graph_request(F.g, "DELETE", p, NULL, 0, on_done_free, &F.calls[i]), 0);
    }
    run_for(200);
    assert_int_equal(F.completed, 1);
    assert_null(F.g);
    free(p);
}

/*
 * 13. Tokens revoked behind the client's back (a signing-key rollover): the next request meets
 * 401 InvalidAuthenticationToken, the client fetches a new token once and sends the request
 * again; the caller sees one success. A second 401 in a row is not retried forever.
 */
static void test_token_revoked(void **state)
{
    struct wr_graph_stats st;
    struct json_object *r;
    long status = 0;
    char *p;

    (void)state;
    start(NULL, NULL);
    p = user_path(ADELE);
    assert_int_equal(issue("GET", p, NULL, 0), 0);
    run(10000);
    assert_all_ok(0, 1);
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.token_fetches, 1);

    r = sim_call_body(&F.sim, "POST", "/_sim/faults", "{\"revoke_tokens\": true}", &status);
    json_object_put(r);
    assert_int_equal(status, 200);
    assert_int_equal(issue("GET", p, NULL, 0), 0);
    run(10000);
    assert_all_ok(1, 2);
    assert_int_equal(F.calls[1].status, 200);
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.token_fetches, 2); /* forced refresh, once */
    assert_int_equal(sim_stat(&F.sim, "unauthorized"), 1);
    assert_int_equal(sim_stat(&F.sim, "token_requests"), 2);

    /* A write too (it is not batched with anything): same path. */
    r = sim_call_body(&F.sim, "POST", "/_sim/faults", "{\"revoke_tokens\": true}", &status);
    json_object_put(r);
    struct json_object *body = job_title_body("Revoked", 1);
    assert_int_equal(issue("PATCH", p, body, 0), 0);
    json_object_put(body);
    run(10000);
    assert_all_ok(2, 3);
    assert_int_equal(F.calls[2].status, 204);
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.token_fetches, 3);
    assert_int_equal(sim_stat(&F.sim, "unauthorized"), 2);
    free(p);
}

/* 12. A token endpoint nobody listens on: retried with backoff, then a retriable failure. */
static void test_token_network_retry(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    char authority[64];
    struct wr_graph_options o = {.max_attempts = 3, .authority = authority};
    struct wr_graph_stats st;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* A port that was free a moment ago and has no listener now. */
    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(authority, sizeof(authority), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    close(fd);
    start(NULL, &o);
    assert_int_equal(issue("GET", "/users/" ADELE, NULL, 0), 0);
    run(20000);
    assert_false(F.calls[0].ok);
    assert_string_equal(F.calls[0].code, "network");
    assert_true(F.calls[0].retriable);
    assert_int_equal(F.calls[0].status, 0);
    wr_graph_get_stats(F.g, &st);
    assert_int_equal(st.token_fetches, 3);
    assert_int_equal(st.http_requests, 0);
    assert_int_equal(sim_stat(&F.sim, "requests"), 0);
}

/* {====== The wire ====== */

static bool is_guid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-4xxx-xxxx-xxxxxxxxxxxx";

    if (s == NULL || strlen(s) != sizeof(shape) - 1) {
        return false;
    }
    for (size_t i = 0; shape[i] != '\0'; i++) {
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');

        if (shape[i] == 'x' ? !hex : s[i] != shape[i]) {
            return false;
        }
    }
    return true;
}

/* A header graphsim logged for an entry ("" when absent). */
static const char *hdr(struct json_object *e, const char *name)
{
    struct json_object *h, *v;

    if (!json_object_object_get_ex(e, "headers", &h) || !json_object_object_get_ex(h, name, &v) ||
        v == NULL) {
        return "";
    }
    return json_object_get_string(v);
}

/* The log entries after seq `since` (owned array). */
static struct json_object *log_since(int64_t since)
{
    struct json_object *log = sim_log(&F.sim), *out = json_object_new_array();

    for (size_t i = 0; i < json_object_array_length(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i);

        if (jint(e, "seq") > since) {
            json_object_array_add(out, json_object_get(e));
        }
    }
    json_object_put(log);
    return out;
}

static void set_faults(const char *json)
{
    long status = 0;
    struct json_object *r = sim_call_body(&F.sim, "POST", "/_sim/faults", json, &status);

    assert_int_equal(status, 200);
    json_object_put(r);
}

/* 14. Every request carries JSON for POST (bodiless ones too: libcurl's default is a form type,
 * which Graph answers 415), a client-request-id GUID kept in the result, the User-Agent and the
 * bearer token; Graph's request-id comes back in the result; a $batch carries its own id. */
static void test_wire_headers(void **state)
{
    struct json_object *log;
    char *p = user_path(ADELE), revoke[256], revoke2[256];
    char *lidia = user_path("lidia.holloway@contoso.onmicrosoft.com");
    int64_t seq;
    int seen_post = 0, seen_get = 0, seen_token = 0, seen_batch = 0, seen_items = 0;

    (void)state;
    start(NULL, NULL);
    snprintf(revoke, sizeof(revoke), "%s/revokeSignInSessions", p);
    snprintf(revoke2, sizeof(revoke2), "%s/revokeSignInSessions", lidia);
    seq = sim_last_seq(&F.sim);
    assert_int_equal(issue("POST", revoke, NULL, WR_GRAPH_NO_BATCH), 0);
    assert_int_equal(issue("GET", p, NULL, WR_GRAPH_NO_BATCH), 0);
    run(10000);
    assert_all_ok(0, 2);
    assert_int_equal(F.calls[0].status, 200); /* not 415 */
    for (int i = 0; i < 2; i++) {
        assert_true(is_guid(F.calls[i].crid));
        assert_true(is_guid(F.calls[i].request_id));
    }
    assert_string_not_equal(F.calls[0].crid, F.calls[1].crid);
    /* Two bodiless POSTs in one turn: a $batch, whose items carry no Content-Type (no body). */
    assert_int_equal(issue("POST", revoke, NULL, 0), 0);
    assert_int_equal(issue("POST", revoke2, NULL, 0), 0);
    run(10000);
    assert_all_ok(2, 4);
    assert_string_equal(F.calls[2].crid, F.calls[3].crid); /* the $batch's */
    assert_string_not_equal(F.calls[2].crid, F.calls[0].crid);

    log = log_since(seq);
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i);
        const char *path = jstr(e, "path"), *method = jstr(e, "method");

        if (jbool(e, "batch")) {
            seen_items++;
            assert_string_equal(method, "POST");
            assert_string_equal(hdr(e, "Content-Type"), "");
            assert_int_equal(jint(e, "status"), 200);
            continue;
        }
        assert_true(
            strncmp(hdr(e, "User-Agent"), "weir/" WEIR_VERSION " ", 6 + strlen(WEIR_VERSION)) == 0);
        assert_true(is_guid(hdr(e, "client-request-id")));
        if (strstr(path, "/oauth2/v2.0/token") != NULL) {
            struct json_object *form;

            seen_token++;
            assert_string_equal(hdr(e, "Content-Type"), "application/x-www-form-urlencoded");
            assert_true(json_object_object_get_ex(e, "form", &form));
            assert_string_equal(jstr(form, "scope"), "https://graph.microsoft.com/.default");
            assert_string_equal(jstr(form, "grant_type"), "client_credentials");
            assert_true(jbool(form, "client_secret"));
            continue;
        }
        assert_string_equal(hdr(e, "Authorization"), "Bearer");
        if (strcmp(path, "/v1.0/$batch") == 0) {
            seen_batch++;
            assert_string_equal(hdr(e, "Content-Type"), "application/json");
            assert_string_equal(hdr(e, "client-request-id"), F.calls[2].crid);
            assert_string_equal(jstr(e, "request_id"), F.calls[2].request_id);
        } else if (strcmp(method, "POST") == 0) {
            seen_post++;
            assert_string_equal(hdr(e, "Content-Type"), "application/json");
            assert_int_equal(jint(e, "body_length"), 0);
            assert_string_equal(hdr(e, "client-request-id"), F.calls[0].crid);
            assert_string_equal(jstr(e, "request_id"), F.calls[0].request_id);
        } else {
            seen_get++;
            assert_string_equal(method, "GET");
            assert_string_equal(hdr(e, "Content-Type"), ""); /* no body, no type */
            assert_string_equal(hdr(e, "client-request-id"), F.calls[1].crid);
        }
    }
    assert_int_equal(seen_token, 1);
    assert_int_equal(seen_post, 1);
    assert_int_equal(seen_get, 1);
    assert_int_equal(seen_batch, 1);
    assert_int_equal(seen_items, 2);
    assert_int_equal(sim_stat(&F.sim, "bad_requests"), 0);
    json_object_put(log);
    free(p);
    free(lidia);
}

/* One GET of Adele under the bad_answer fault kind; the call's index. */
static int bad_get(const char *kind)
{
    char faults[256], *p = user_path(ADELE);
    int i = F.issued;

    snprintf(faults, sizeof(faults),
             "{\"bad_answer\":{\"kind\":\"%s\",\"count\":1,\"method\":\"GET\","
             "\"path\":\"/users\"}}",
             kind);
    set_faults(faults);
    assert_int_equal(issue("GET", p, NULL, WR_GRAPH_NO_BATCH), 0);
    run(10000);
    free(p);
    return i;
}

/* 15. A 2xx that is not JSON (a proxy's page, a cut body) is no success: a retriable
 * unexpected_answer naming the status, the content type and the first bytes; an empty 202 or a
 * JSON value of another shape comes through as it is, for the caller to judge. */
static void test_unusable_answers(void **state)
{
    struct call *c;

    (void)state;
    start(NULL, NULL);

    c = &F.calls[bad_get("html")];
    assert_false(c->ok);
    assert_true(c->retriable);
    assert_int_equal(c->status, 200);
    assert_string_equal(c->code, WR_GRAPH_UNEXPECTED);
    assert_non_null(strstr(c->message, "HTTP 200, Content-Type \"text/html; charset=utf-8\""));
    assert_non_null(strstr(c->message, "bytes: \"<html><head><title>Service Unavailable"));
    assert_non_null(strstr(c->message, "GET /users/"));
    assert_string_equal(c->ctype, "text/html; charset=utf-8");
    assert_true(strncmp(c->head, "\"<html>", 7) == 0);
    assert_true(is_guid(c->request_id));

    c = &F.calls[bad_get("truncated")];
    assert_false(c->ok);
    assert_true(c->retriable);
    assert_string_equal(c->code, WR_GRAPH_UNEXPECTED);
    assert_non_null(strstr(c->message, "Content-Type \"application/json"));
    assert_non_null(strstr(c->message, "bytes: \"{\\\"@odata.context\\\""));

    c = &F.calls[bad_get("empty_202")];
    assert_true(c->ok);
    assert_int_equal(c->status, 202);
    assert_false(c->has_body);
    assert_int_equal(c->body_len, 0);
    assert_string_equal(c->head, "");

    c = &F.calls[bad_get("no_id")];
    assert_true(c->ok);
    assert_true(c->has_body);
    assert_string_equal(c->id, "");
    assert_string_equal(c->upn, ADELE);

    c = &F.calls[bad_get("wrong_shape")];
    assert_true(c->ok);
    assert_true(c->has_body);
    assert_string_equal(c->head, "\"[]\"");

    /* The fault is spent: the next answer is the user. */
    c = &F.calls[bad_get("html")];
    assert_false(c->ok);
    {
        char *p = user_path(ADELE);
        int i = F.issued;

        assert_int_equal(issue("GET", p, NULL, 0), 0);
        run(10000);
        assert_true(F.calls[i].ok);
        assert_string_equal(F.calls[i].upn, ADELE);
        free(p);
    }
    assert_int_equal(sim_stat(&F.sim, "bad_answers"), 6);
}

/* 16. Graph's request-id and the client-request-id come back with errors; a request keeps its
 * client-request-id across retries (what Microsoft support matches with its logs). */
static void test_request_ids(void **state)
{
    static const char *const args[] = {"--fail-every", "2", NULL};
    struct json_object *log;
    char *missing = user_path("nobody@contoso.onmicrosoft.com"), *p = user_path(ADELE);
    int64_t seq;
    int same = 0;

    (void)state;
    start(args, NULL);
    seq = sim_last_seq(&F.sim);
    assert_int_equal(issue("GET", missing, NULL, WR_GRAPH_NO_BATCH), 0); /* Graph request 1 */
    run(10000);
    assert_int_equal(F.calls[0].status, 404);
    assert_true(is_guid(F.calls[0].request_id));
    assert_true(is_guid(F.calls[0].crid));
    assert_int_equal(issue("GET", p, NULL, WR_GRAPH_NO_BATCH), 0); /* 2: 503, then 3 */
    run(20000);
    assert_true(F.calls[1].ok);
    assert_int_equal(F.calls[1].attempts, 2);
    log = log_since(seq);
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i);

        if (strcmp(jstr(e, "path"), missing + 0) == 0 ||
            strstr(jstr(e, "path"), "nobody") != NULL) {
            assert_string_equal(jstr(e, "request_id"), F.calls[0].request_id);
            assert_string_equal(hdr(e, "client-request-id"), F.calls[0].crid);
        } else if (strstr(jstr(e, "path"), "adele") != NULL) {
            assert_string_equal(hdr(e, "client-request-id"), F.calls[1].crid);
            same++;
        }
    }
    assert_int_equal(same, 2); /* the 503 and its retry, one client-request-id */
    json_object_put(log);
    free(missing);
    free(p);
}

static void on_throttle_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (F.ticks_left > 0) {
        int i = 60 - F.ticks_left + 1;
        char *path = synth_path(i);
        struct json_object *b = job_title_body("Scoped", i);

        F.ticks_left--;
        /* A write and a read of another path each tick: nothing of the scope may go out while
         * a Retry-After runs, whatever its path. */
        assert_int_equal(issue(i % 2 ? "PATCH" : "GET", path, i % 2 ? b : NULL, 0), 0);
        F.expected--; /* counted up front */
        json_object_put(b);
        free(path);
    }
    if (F.ticks_left == 0) {
        event_del(F.ticker);
    }
}

/* 17. A tenant-wide 429 (x-ms-throttle-scope Tenant_Application/ReadWrite/...) pauses every
 * request of the scope, of any path, until its Retry-After has passed: graphsim counts no
 * violation while new requests of other paths keep arriving; afterwards a few go first. */
static void test_tenant_throttle(void **state)
{
    static const char *const args[] = {"--latency-ms",
                                       "40",
                                       "--retry-after",
                                       "0.4",
                                       "--generate-users",
                                       "60",
                                       "--throttle-grace-ms",
                                       "15",
                                       NULL};
    struct wr_graph_options o = {.max_attempts = 20, .max_concurrency = 8};
    struct timeval every = {.tv_sec = 0, .tv_usec = 40000};
    struct wr_graph_stats st;
    char *warm = user_path(ADELE);

    (void)state;
    start(args, &o);
    /* Sign in first, so that the burst meets Graph requests only. */
    assert_int_equal(issue("GET", warm, NULL, 0), 0);
    run(10000);
    fixture_reset_calls();
    set_faults("{\"tenant_throttle_for\": 2.0}");
    F.ticks_left = 60;
    F.expected = 60;
    F.ticker = event_new(F.base, -1, EV_PERSIST, on_throttle_tick, NULL);
    event_add(F.ticker, &every);
    run(60000);
    assert_all_ok(0, 60);
    wr_graph_get_stats(F.g, &st);
    print_message("tenant-wide burst: %lld Graph requests (%lld $batch items), %lld throttled, "
                  "%lld violations; client: %llu scope pauses, %llu held\n",
                  (long long)sim_stat(&F.sim, "graph_requests"),
                  (long long)sim_stat(&F.sim, "batch_items"),
                  (long long)sim_stat(&F.sim, "throttled"),
                  (long long)sim_stat(&F.sim, "throttle_scope_violations"),
                  (unsigned long long)st.scope_pauses, (unsigned long long)st.held);
    assert_true(sim_stat(&F.sim, "throttled") > 0);
    assert_int_equal(sim_stat(&F.sim, "throttle_scope_violations"), 0);
    assert_int_equal(sim_stat(&F.sim, "retry_after_violations"), 0);
    assert_true(st.scope_pauses > 0);
    free(warm);
}

/* 18. A national cloud: graphsim as graph.microsoft.us takes only its own scope. weir derives
 * it from a Microsoft Graph host; on loopback graph.scope (opts.scope) says it. */
static void test_national_cloud(void **state)
{
    static const char *const args[] = {"--graph-host", "graph.microsoft.us", NULL};
    struct wr_graph_options us = {.scope = "https://graph.microsoft.us/.default"};
    struct json_object *log;
    char *p = user_path(ADELE);
    int tokens = 0;

    (void)state;
    start(args, &us);
    assert_int_equal(issue("GET", p, NULL, 0), 0);
    run(10000);
    assert_true(F.calls[0].ok);
    log = sim_log(&F.sim);
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i), *form;

        if (json_object_object_get_ex(e, "form", &form)) {
            tokens++;
            assert_string_equal(jstr(form, "scope"), "https://graph.microsoft.us/.default");
        }
    }
    assert_int_equal(tokens, 1);
    json_object_put(log);

    /* Without the scope, a loopback base_url signs in for the commercial cloud: refused. */
    wr_graph_free(F.g);
    {
        struct wr_graph_options o = {.authority = F.sim.authority,
                                     .tenant = TENANT,
                                     .client_id = CLIENT_ID,
                                     .client_secret = SECRET,
                                     .base_url = F.sim.base_url};
        char err[WR_ERR_MAX];

        F.g = wr_graph_new(F.base, &o, err, sizeof(err));
        assert_non_null(F.g);
    }
    assert_int_equal(issue("GET", p, NULL, 0), 0);
    run(10000);
    assert_false(F.calls[1].ok);
    assert_string_equal(F.calls[1].code, "invalid_scope");
    assert_non_null(strstr(F.calls[1].message, "AADSTS70011"));
    free(p);
}

/* A chain of requests, each started from the callback of the one before. */
static int chain_left;
static int chain_next;

static void on_chain(void *arg, const struct wr_graph_result *res)
{
    (void)arg;
    assert_true(res->ok);
    if (chain_left-- > 0) {
        char *p = synth_path(chain_next++);

        assert_int_equal(wr_graph_request(F.g, "GET", p, NULL, 0, on_chain, NULL), 0);
        free(p);
    } else {
        event_base_loopbreak(F.base);
    }
}

static const char *entry_path(struct json_object *a, size_t i)
{
    return jstr(json_object_array_get_idx(a, i), "path");
}

/* 19. A trace keeps one entry per request started while it was current, and per request their
 * callbacks started (whatever calls them): the first and the last WR_GRAPH_TRACE_MAX / 2, in the
 * order they finished, with the ids the callbacks saw; nothing of requests outside it, nor of
 * those that finish after it was closed; a trace released while a request holds it is freed
 * with the request. */
static void test_trace(void **state)
{
    static const char *const args[] = {"--generate-users", "40", NULL};
    struct wr_graph_trace *t = wr_graph_trace_new(), *outer;
    struct json_object *a;
    char *adele = user_path(ADELE);
    size_t omitted = 99;

    (void)state;
    start(args, NULL);
    assert_null(wr_graph_trace_current(F.g));
    /* Five at once under the trace, one outside it. */
    outer = wr_graph_trace_swap(F.g, t);
    assert_null(outer);
    for (int i = 1; i <= 5; i++) {
        char *p = synth_path(i);

        assert_int_equal(issue("GET", p, NULL, 0), 0);
        free(p);
    }
    assert_ptr_equal(wr_graph_trace_swap(F.g, outer), t);
    assert_int_equal(issue("GET", adele, NULL, 0), 0);
    run(10000);
    assert_int_equal(wr_graph_trace_count(t), 5);
    a = wr_graph_trace_json(t, &omitted);
    assert_int_equal(json_object_array_length(a), 5);
    assert_int_equal(omitted, 0);
    for (int i = 0; i < 5; i++) {
        struct json_object *e = json_object_array_get_idx(a, (size_t)i);
        bool found = false;

        assert_int_equal(json_object_object_length(e), 5);
        assert_string_equal(jstr(e, "method"), "GET");
        assert_int_equal(jint(e, "status"), 200);
        assert_null(strstr(jstr(e, "path"), "adele"));
        for (int c = 0; c < 5; c++) {
            found = found || (strcmp(jstr(e, "client_request_id"), F.calls[c].crid) == 0 &&
                              strcmp(jstr(e, "request_id"), F.calls[c].request_id) == 0);
        }
        assert_true(found);
    }
    json_object_put(a);

    /* Twenty more, each started by the callback of the one before: the trace keeps the first
       ten of all and the last ten, in order. */
    chain_left = 19;
    chain_next = 7;
    outer = wr_graph_trace_swap(F.g, t);
    {
        char *p = synth_path(6);

        assert_int_equal(wr_graph_request(F.g, "GET", p, NULL, 0, on_chain, NULL), 0);
        free(p);
    }
    wr_graph_trace_swap(F.g, outer);
    {
        struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
        struct timeval tv = {10, 0};

        evtimer_add(deadline, &tv);
        event_base_dispatch(F.base);
        event_free(deadline);
    }
    assert_int_equal(chain_left, -1);
    assert_null(wr_graph_trace_current(F.g));
    assert_int_equal(wr_graph_trace_count(t), 25);
    a = wr_graph_trace_json(t, &omitted);
    assert_int_equal(json_object_array_length(a), WR_GRAPH_TRACE_MAX);
    assert_int_equal(omitted, 5);
    for (int i = 0; i < 5; i++) { /* the chain's first five follow the five at once */
        char *p = synth_path(6 + i);

        assert_string_equal(entry_path(a, 5 + (size_t)i), p);
        free(p);
    }
    for (int i = 0; i < 10; i++) { /* and its last ten end it */
        char *p = synth_path(16 + i);

        assert_string_equal(entry_path(a, 10 + (size_t)i), p);
        free(p);
    }
    json_object_put(a);

    /* Closed: a request that finishes afterwards adds nothing. Released while a request holds
       it: freed with the request (ASan checks). */
    outer = wr_graph_trace_swap(F.g, t);
    fixture_reset_calls();
    assert_int_equal(issue("GET", adele, NULL, 0), 0);
    wr_graph_trace_swap(F.g, outer);
    wr_graph_trace_close(t);
    run(10000);
    assert_int_equal(wr_graph_trace_count(t), 25);
    outer = wr_graph_trace_swap(F.g, t);
    fixture_reset_calls();
    assert_int_equal(issue("GET", adele, NULL, 0), 0);
    wr_graph_trace_swap(F.g, outer);
    wr_graph_trace_put(t);
    run(10000);
    assert_true(F.calls[0].ok);
    /* An empty array for none. */
    a = wr_graph_trace_json(NULL, &omitted);
    assert_int_equal(json_object_array_length(a), 0);
    json_object_put(a);
    free(adele);
}

/* }====== */

/* }====== */

int main(int argc, char **argv)
{
    const char *src = getenv("WEIR_SOURCE_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_get_user_and_404, teardown),
        cmocka_unit_test_teardown(test_wrong_secret, teardown),
        cmocka_unit_test_teardown(test_throttling, teardown),
        cmocka_unit_test_teardown(test_token_expiry, teardown),
        cmocka_unit_test_teardown(test_batch_coalescing, teardown),
        cmocka_unit_test_teardown(test_503_storm, teardown),
        cmocka_unit_test_teardown(test_read_only, teardown),
        cmocka_unit_test_teardown(test_concurrency_cap, teardown),
        cmocka_unit_test_teardown(test_callbacks_later, teardown),
        cmocka_unit_test_teardown(test_pacing, teardown),
        cmocka_unit_test_teardown(test_free_pending, teardown),
        cmocka_unit_test_teardown(test_token_network_retry, teardown),
        cmocka_unit_test_teardown(test_token_revoked, teardown),
        cmocka_unit_test_teardown(test_wire_headers, teardown),
        cmocka_unit_test_teardown(test_unusable_answers, teardown),
        cmocka_unit_test_teardown(test_request_ids, teardown),
        cmocka_unit_test_teardown(test_tenant_throttle, teardown),
        cmocka_unit_test_teardown(test_national_cloud, teardown),
        cmocka_unit_test_teardown(test_trace, teardown),
    };
    int rc;

    graphsim_path = argc > 1 ? argv[1] : getenv("WEIR_GRAPHSIM");
    if (graphsim_path == NULL || src == NULL) {
        fprintf(stderr, "usage: %s GRAPHSIM (with WEIR_SOURCE_DIR set)\n", argv[0]);
        return 2;
    }
    snprintf(seed_path, sizeof(seed_path), "%s/tests/graphsim/seed.json", src);
    signal(SIGPIPE, SIG_IGN);
    if (getenv("WEIR_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("WEIR_TEST_FILTER")); /* e.g. test_tenant_throttle */
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
