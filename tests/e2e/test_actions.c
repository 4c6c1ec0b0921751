/*
 * test_actions — end-to-end tests of the identity actions (the files in actions/) through the
 * runner (engine/exec/action_run.c), the directory (engine/graph/directory.c) and the Graph client
 * against real graphsim processes on 127.0.0.1.
 *
 * Every test starts its own graphsim (fork/exec, port read from its stdout) on a copy of the
 * shared seed with one custom role added (its id differs from its templateId, as custom roles'
 * do), runs actions on one event_base with a deadline (event_base_loopexit from a timer, never
 * a sleep) and checks the outcome and what the simulator saw through /_sim (blocking libcurl
 * between loop runs). Each action runs twice: the second run must report changed=false and
 * add no mutation. Dry runs must leave the mutation count and the tenant unchanged and return
 * the exact plan. graphsim's path comes from argv[1] or WEIR_GRAPHSIM.
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
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "engine/base/strutil.h"
#include "actions/action.h"
#include "engine/exec/action_run.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/lang/workflow.h"
#include "engine/net/curl_loop.h"
#include "engine/net/net_guard.h"
#include "sim.h"

#define CLIENT_ID "00000000-0000-0000-0000-000000000001"
#define SECRET    "sim-secret"
#define TENANT    "contoso.onmicrosoft.com"
#define DOMAIN    "@contoso.onmicrosoft.com"

/* Seed users and objects. */
#define ADELE_ID       "781f9c58-d664-4fa9-a8a8-529f035efa25"
#define ALEX_ID        "9b08923d-10c6-4fd9-94b2-b8fda02f34a6"
#define MEGAN_ID       "795b929e-9a9a-40fd-aa7b-5bf55eb561a4"
#define PATTI_ID       "21636369-8b52-4b4a-97b7-50923ceb3ffd"
#define LEE_ID         "31162427-3bfd-4d33-8d00-38ec42650644"
#define LIDIA_ID       "3b5f3d86-268e-4c45-9c6b-f1e1a399f82a"
#define NESTOR_ID      "ed038db4-de38-4784-a6d0-b944a2863a7f"
#define MIRIAM_ID      "03e0a813-bdc2-4e99-a3d2-e49085ef3430"
#define PRADEEP_ID     "28ce6f24-1064-4d51-86f8-da3eabe19f58"
#define SPE_E3         "05e9a617-0261-4cee-bb44-138d3ef5d965"
#define SPE_E5         "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
#define EXCH_STD       "4b9405b0-7788-4568-add1-99614e613b69"
#define PBI_PRO        "f8a1db68-be16-40ed-86d5-cb42ce701560"
#define TEAMS1         "57ff2da0-773e-42df-b2af-ffb7a2317929"
#define USER_ADMIN     "fe930be7-5e62-47db-91af-98c3a49a38b1"
#define HELPDESK       "729827e3-9c14-49f7-bb1b-9608f156bbb8"
#define PASSWORD_ADMIN "966707d0-3269-4727-9be2-8c3a10f19b9d"
#define ENGINEERING    "93b05a04-cd08-4b71-ba66-76b3651c5253"
#define SALES          "2257989f-ef82-4c88-b6ce-d90a71d2af72"
/* The custom role added to the seed: id and templateId differ. */
#define CUSTOM_ID       "aaaaaaaa-0000-4000-8000-000000000001"
#define CUSTOM_TEMPLATE "bbbbbbbb-0000-4000-8000-000000000002"

static const char *graphsim_path;
static char seed_path[] = "/tmp/weir-test-actions-seed-XXXXXX";

/* The length of an array; 0 for NULL or anything else (json-c asserts on those). */
static size_t array_len(struct json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* {====== fixture: one graphsim, a client, a read-only client for dry runs ====== */

struct fixture {
    struct sim sim;
    struct event_base *base;
    struct wr_graph *g;
    struct wr_graph *g_ro;
    struct wr_directory *dir;
    struct wr_directory *dir_ro;
    struct event *deadline;
};

static struct fixture F;

/* graphsim with extra arguments (NULL-terminated, or NULL), a client making max_attempts
   attempts (0 = default) with a per-transfer timeout (0 = default). */
static void start_sim(const char *const *extra, int max_attempts, int64_t timeout_ms)
{
    char err[WR_ERR_MAX];
    memset(&F, 0, sizeof(F));
    sim_start(&F.sim, graphsim_path, seed_path, extra);
    F.base = event_base_new();
    assert_non_null(F.base);
    struct wr_graph_options o = {
        .authority = F.sim.authority,
        .tenant = TENANT,
        .client_id = CLIENT_ID,
        .client_secret = SECRET,
        .base_url = F.sim.base_url,
        .max_attempts = max_attempts,
        .max_delay_ms = 2000,
        .timeout_ms = timeout_ms,
    };
    F.g = wr_graph_new(F.base, &o, err, sizeof(err));
    if (!F.g) {
        fail_msg("wr_graph_new: %s", err);
    }
    o.read_only = true;
    F.g_ro = wr_graph_new(F.base, &o, err, sizeof(err));
    assert_non_null(F.g_ro);
    struct wr_directory_options d = {.base_url = F.sim.base_url};
    F.dir = wr_directory_new(F.base, F.g, &d);
    F.dir_ro = wr_directory_new(F.base, F.g_ro, &d);
    assert_non_null(F.dir);
    assert_non_null(F.dir_ro);
}

static void start_with(const char *sim_flag, int max_attempts)
{
    const char *const extra[] = {sim_flag, "1", NULL};
    start_sim(sim_flag ? extra : NULL, max_attempts, 0);
}

static int setup(void **state)
{
    (void)state;
    start_with(NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wr_graph_free(F.g);
    wr_graph_free(F.g_ro);
    wr_directory_free(F.dir);
    wr_directory_free(F.dir_ro);
    event_base_free(F.base);
    assert_int_equal(sim_stop(&F.sim), 0);
    return 0;
}

/* What the runner delivered, copied out of the callback. */
struct result {
    bool done;
    bool ok;
    bool retriable;
    bool replica_lag;
    bool later_turn; /* the callback did not run inside wr_action_start */
    char *error;
    struct json_object *output;
    struct json_object *plan;
};

static bool in_start;

static void on_done(void *arg, const struct wr_action_outcome *out)
{
    struct result *r = arg;
    r->done = true;
    r->later_turn = !in_start;
    r->ok = out->ok;
    r->retriable = out->retriable;
    r->replica_lag = out->replica_lag;
    r->error = out->error ? strdup(out->error) : NULL;
    r->output = json_object_get(out->output);
    r->plan = json_object_get(out->plan);
    event_base_loopexit(F.base, NULL);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

static void result_clear(struct result *r)
{
    free(r->error);
    json_object_put(r->output);
    json_object_put(r->plan);
    memset(r, 0, sizeof(*r));
}

/* weir.yaml's http.allow for these tests: the simulator and the listeners are on 127.0.0.1. */
static const struct wr_net_guard *loopback_allowed(void)
{
    static struct wr_net_guard *g;
    char why[WR_ERR_MAX];
    if (!g) {
        g = wr_net_guard_new();
        assert_int_equal(wr_net_guard_allow(g, "127.0.0.1/32", why, sizeof(why)), 0);
    }
    return g;
}

/* When set, run() gives the action an empty http.allow: loopback is refused. */
static bool run_nothing_allowed;

/* Runs one action to completion (10 s deadline). args is JSON text. */
static void run(struct result *r, const char *action, const char *args, bool dry)
{
    const struct wr_action *a = wr_action_find(action);
    struct json_object *jargs = json_tokener_parse(args);
    assert_non_null(a);
    assert_non_null(jargs);
    memset(r, 0, sizeof(*r));
    struct wr_action_env env = {
        .base = F.base,
        .graph = dry ? F.g_ro : F.g,
        .dir = dry ? F.dir_ro : F.dir,
        .dry_run = dry,
        .net = run_nothing_allowed ? NULL : loopback_allowed(),
    };
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {10, 0};
    evtimer_add(deadline, &tv);
    in_start = true;
    assert_int_equal(wr_action_start(&env, a, jargs, on_done, r), 0);
    in_start = false;
    json_object_put(jargs); /* the runner holds its own reference */
    event_base_dispatch(F.base);
    event_free(deadline);
    if (!r->done) {
        fail_msg("%s did not finish within 10 s", action);
    }
    assert_true(r->later_turn);
}

/* Runs an action that must succeed; returns output["changed"]. */
static bool run_ok(struct result *r, const char *action, const char *args, bool dry)
{
    run(r, action, args, dry);
    if (!r->ok) {
        fail_msg("%s %s failed: %s", action, args, r->error ? r->error : "(no error)");
    }
    assert_non_null(r->output);
    struct json_object *changed = NULL;
    assert_true(json_object_object_get_ex(r->output, "changed", &changed));
    return json_object_get_boolean(changed);
}

/* Runs an action that must fail and checks that its error contains `needle`. */
static void run_fail(struct result *r, const char *action, const char *args, const char *needle)
{
    run(r, action, args, false);
    if (r->ok) {
        fail_msg("%s %s succeeded: %s", action, args, json_object_to_json_string(r->output));
    }
    assert_non_null(r->error);
    if (getenv("WEIR_TEST_VERBOSE")) {
        fprintf(stderr, "%s: %s%s\n", action, r->error, r->retriable ? " (retriable)" : "");
    }
    if (!strstr(r->error, needle)) {
        fail_msg("error of %s lacks '%s': %s", action, needle, r->error);
    }
}

/*
 * The idempotency contract: a real run that changes something (+expect mutations), then the
 * same run again with changed=false and no mutation.
 */
static void run_twice(const char *action, const char *args, int64_t expect)
{
    struct result r;
    int64_t m0 = sim_stat(&F.sim, "mutations");
    if (!run_ok(&r, action, args, false)) {
        fail_msg("first %s %s did not change anything", action, args);
    }
    assert_int_equal(sim_stat(&F.sim, "mutations") - m0, expect);
    result_clear(&r);
    int64_t m1 = sim_stat(&F.sim, "mutations");
    if (run_ok(&r, action, args, false)) {
        fail_msg("second %s %s changed something again", action, args);
    }
    assert_int_equal(sim_stat(&F.sim, "mutations"), m1);
    result_clear(&r);
}

/* A dry run: no mutation, the tenant unchanged, and the plan equal to expect_plan (JSON). */
static void run_dry(const char *action, const char *args, const char *expect_plan)
{
    struct result r;
    int64_t m0 = sim_stat(&F.sim, "mutations");
    char *before = sim_state_text(&F.sim);
    run_ok(&r, action, args, true);
    char *after = sim_state_text(&F.sim);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
    assert_string_equal(before, after);
    struct json_object *want = json_tokener_parse(expect_plan);
    assert_non_null(want);
    assert_non_null(r.plan);
    if (!json_object_equal(want, r.plan)) {
        fail_msg("plan of %s:\n got %s\nwant %s", action,
                 json_object_to_json_string_ext(r.plan, JSON_C_TO_STRING_PLAIN),
                 json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(want);
    free(before);
    free(after);
    result_clear(&r);
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static bool array_has(struct json_object *arr, const char *s)
{
    for (size_t i = 0; i < array_len(arr); i++) {
        const char *v = json_object_get_string(json_object_array_get_idx(arr, i));
        if (v && strcasecmp(v, s) == 0) {
            return true;
        }
    }
    return false;
}

/* The user's license entry for sku, or NULL. Borrowed from u. */
static struct json_object *license_of(struct json_object *u, const char *sku)
{
    struct json_object *l = json_object_object_get(u, "assignedLicenses");
    for (size_t i = 0; i < array_len(l); i++) {
        struct json_object *e = json_object_array_get_idx(l, i);
        if (strcasecmp(jstr(e, "skuId"), sku) == 0) {
            return e;
        }
    }
    return NULL;
}

/* }====== */

/* {====== update-user: write economy ====== */

static void test_update_user(void **state)
{
    struct result r;
    (void)state;

    /* Unchanged values: no PATCH at all. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    int64_t seq = sim_last_seq(&F.sim);
    assert_false(run_ok(&r, "update-user",
                        "{\"user\":\"adele.vance" DOMAIN "\",\"set\":{\"jobTitle\":\"Retail "
                        "Manager\",\"department\":\"Retail\",\"businessPhones\":[\"+1 425 555 "
                        "0103\"]}}",
                        false));
    assert_string_equal(jstr(r.output, "id"), ADELE_ID);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
    char *log = sim_requests_since(&F.sim, seq);
    assert_null(strstr(log, "PATCH"));
    free(log);

    /* One property differs: only it is written. */
    struct json_object *before = sim_user(&F.sim, ADELE_ID);
    const char *args = "{\"user\":\"" ADELE_ID "\",\"set\":{\"jobTitle\":\"Engineer\","
                       "\"department\":\"Retail\",\"city\":\"Bellevue\"}}";
    assert_true(run_ok(&r, "update-user", args, false));
    struct json_object *want_set = json_tokener_parse("{\"jobTitle\":\"Engineer\"}");
    assert_true(json_object_equal(json_object_object_get(r.output, "set"), want_set));
    json_object_put(want_set);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);
    struct json_object *after = sim_user(&F.sim, ADELE_ID);
    json_object_object_foreach(before, key, val)
    {
        if (strcmp(key, "jobTitle") == 0) {
            assert_string_equal(jstr(after, key), "Engineer");
        } else if (!json_object_equal(val, json_object_object_get(after, key))) {
            fail_msg("update-user changed '%s' too", key);
        }
    }
    json_object_put(before);
    json_object_put(after);

    /* The same again: nothing to write. */
    assert_false(run_ok(&r, "update-user", args, false));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);

    /* By employeeId, and by mail address. */
    run_twice("update-user", "{\"user\":\"employeeId:E1003\",\"set\":{\"officeLocation\":\"1/1\"}}",
              1);
    run_twice("update-user",
              "{\"user\":\"megan.bowen" DOMAIN "\",\"set\":{\"mobilePhone\":\"+1 206 555 0299\"}}",
              1);

    /* Errors: unknown user (404 by id, by UPN after the mail fallback), unknown employeeId,
       a bad reference, a property Graph does not know, a value Graph refuses. */
    run_fail(&r, "update-user",
             "{\"user\":\"00000000-1111-4222-8333-444444444444\",\"set\":{\"city\":\"X\"}}",
             "Graph 404 Request_ResourceNotFound");
    result_clear(&r);
    run_fail(&r, "update-user", "{\"user\":\"nobody" DOMAIN "\",\"set\":{\"city\":\"X\"}}",
             "Request_ResourceNotFound");
    assert_false(r.retriable);
    result_clear(&r);
    run_fail(&r, "update-user", "{\"user\":\"employeeId:E9999\",\"set\":{\"city\":\"X\"}}",
             "no user has employeeId 'E9999'");
    result_clear(&r);
    run_fail(&r, "update-user", "{\"user\":\"adele\",\"set\":{\"city\":\"X\"}}",
             "not a user reference");
    result_clear(&r);
    run_fail(&r, "update-user", "{\"user\":\"" ADELE_ID "\",\"set\":{\"favouriteColour\":\"X\"}}",
             "Graph 400");
    result_clear(&r);
    run_fail(&r, "update-user", "{\"user\":\"" ADELE_ID "\",\"set\":{\"usageLocation\":\"XYZ\"}}",
             "Graph 400 Request_BadRequest");
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 3);
}

/* }====== */

/* {====== disable-user, enable-user, delete-user, revoke-sessions ====== */

static void test_disable_enable_user(void **state)
{
    struct result r;
    (void)state;
    run_twice("disable-user", "{\"user\":\"adele.vance" DOMAIN "\"}", 1);
    struct json_object *u = sim_user(&F.sim, ADELE_ID);
    assert_false(json_object_get_boolean(json_object_object_get(u, "accountEnabled")));
    json_object_put(u);
    run_twice("enable-user", "{\"user\":\"" ADELE_ID "\"}", 1);
    u = sim_user(&F.sim, ADELE_ID);
    assert_true(json_object_get_boolean(json_object_object_get(u, "accountEnabled")));
    json_object_put(u);

    /* Pradeep is disabled in the seed: disabling him writes nothing. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(run_ok(&r, "disable-user", "{\"user\":\"employeeId:E1011\"}", false));
    assert_string_equal(jstr(r.output, "id"), PRADEEP_ID);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);

    run_fail(&r, "disable-user", "{\"user\":\"ghost" DOMAIN "\"}", "Request_ResourceNotFound");
    result_clear(&r);
    run_fail(&r, "enable-user", "{\"user\":\"employeeId:NOPE\"}", "not found");
    result_clear(&r);
}

static void test_delete_user(void **state)
{
    (void)state;
    run_twice("delete-user", "{\"user\":\"lidia.holloway" DOMAIN "\"}", 1);
    assert_null(sim_user(&F.sim, LIDIA_ID));
    run_twice("delete-user", "{\"user\":\"" LEE_ID "\"}", 1);
    assert_null(sim_user(&F.sim, LEE_ID));
}

static void test_revoke_sessions(void **state)
{
    struct result r;
    (void)state;
    int64_t m0 = sim_stat(&F.sim, "mutations");
    for (int i = 0; i < 2; i++) {
        /* Always a write: there is nothing to compare with. */
        assert_true(run_ok(&r, "revoke-sessions", "{\"user\":\"employeeId:E1004\"}", false));
        assert_string_equal(jstr(r.output, "id"), ADELE_ID);
        result_clear(&r);
    }
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 2);
    struct json_object *u = sim_user(&F.sim, ADELE_ID);
    assert_non_null(jstr(u, "signInSessionsValidFromDateTime"));
    json_object_put(u);
    run_fail(&r, "revoke-sessions", "{\"user\":\"00000000-1111-4222-8333-444444444444\"}",
             "Request_ResourceNotFound");
    result_clear(&r);
}

/* }====== */

/* {====== create-user ====== */

static void test_create_user(void **state)
{
    struct result r;
    (void)state;
    const char *args = "{\"set\":{\"userPrincipalName\":\"new.hire" DOMAIN "\","
                       "\"displayName\":\"New Hire\",\"mailNickname\":\"new.hire\","
                       "\"employeeId\":\"E2001\",\"usageLocation\":\"DE\"}}";
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_true(run_ok(&r, "create-user", args, false));
    char *id = strdup(jstr(r.output, "id"));
    const char *text = json_object_to_json_string(r.output);
    assert_null(strstr(text, "password"));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);

    struct json_object *u = sim_user(&F.sim, "new.hire" DOMAIN);
    assert_non_null(u);
    assert_string_equal(jstr(u, "id"), id);
    assert_true(json_object_get_boolean(json_object_object_get(u, "accountEnabled")));
    assert_string_equal(jstr(u, "employeeId"), "E2001");
    json_object_put(u);

    /* The same employee again: the existing user is the result. */
    assert_false(run_ok(&r, "create-user", args, false));
    assert_string_equal(jstr(r.output, "id"), id);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);

    /* Someone else already holds the UPN. */
    run_fail(&r, "create-user",
             "{\"set\":{\"userPrincipalName\":\"new.hire" DOMAIN "\",\"displayName\":\"Other\","
             "\"mailNickname\":\"other\",\"employeeId\":\"E2002\"}}",
             "different user");
    assert_false(r.retriable);
    result_clear(&r);
    /* Graph's own refusal (a domain the tenant does not own) comes through. */
    run_fail(&r, "create-user",
             "{\"set\":{\"userPrincipalName\":\"x@fabrikam.com\",\"displayName\":\"X\","
             "\"mailNickname\":\"x\",\"employeeId\":\"E2003\"}}",
             "Graph 400");
    result_clear(&r);
    /* An explicit disabled account with its own password profile is sent as given. */
    assert_true(run_ok(&r, "create-user",
                       "{\"set\":{\"userPrincipalName\":\"off" DOMAIN "\",\"displayName\":"
                       "\"Off\",\"mailNickname\":\"off\",\"accountEnabled\":false,"
                       "\"passwordProfile\":{\"password\":\"Given-Pass-2026!\","
                       "\"forceChangePasswordNextSignIn\":true}}}",
                       false));
    result_clear(&r);
    u = sim_user(&F.sim, "off" DOMAIN);
    assert_false(json_object_get_boolean(json_object_object_get(u, "accountEnabled")));
    json_object_put(u);
    free(id);
}

/* }====== */

/* {====== assign-license, remove-all-licenses ====== */

static void test_assign_license(void **state)
{
    struct result r;
    (void)state;

    /* Adele holds SPE_E3: adding E5 and removing E3. */
    run_twice("assign-license", "{\"user\":\"" ADELE_ID "\",\"add\":[\"SPE_E5\"]}", 1);
    run_twice("assign-license", "{\"user\":\"" ADELE_ID "\",\"remove\":[\"" SPE_E3 "\"]}", 1);
    struct json_object *u = sim_user(&F.sim, ADELE_ID);
    assert_non_null(license_of(u, SPE_E5));
    assert_null(license_of(u, SPE_E3));
    json_object_put(u);

    /* Already held and not held: nothing to do at all. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(run_ok(&r, "assign-license",
                        "{\"user\":\"" ADELE_ID "\",\"add\":[\"spe_e5\"],\"remove\":[\"SPE_E3\"]}",
                        false));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);

    /* Disabled plans by name, resolved through the SKU's servicePlans. */
    run_twice("assign-license",
              "{\"user\":\"" ALEX_ID "\",\"add\":[\"SPE_E5\"],\"disabled_plans\":[\"TEAMS1\"]}", 1);
    u = sim_user(&F.sim, ALEX_ID);
    struct json_object *l = license_of(u, SPE_E5);
    assert_non_null(l);
    assert_true(array_has(json_object_object_get(l, "disabledPlans"), TEAMS1));
    json_object_put(u);

    /* Lee Gu has no usageLocation: refused without usage_location, set first with it. */
    m0 = sim_stat(&F.sim, "mutations");
    run_fail(&r, "assign-license", "{\"user\":\"" LEE_ID "\",\"add\":[\"EXCHANGESTANDARD\"]}",
             "no usageLocation");
    assert_false(r.retriable);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
    run_twice("assign-license",
              "{\"user\":\"" LEE_ID "\",\"add\":[\"EXCHANGESTANDARD\"],\"usage_location\":\"DE\"}",
              2);
    u = sim_user(&F.sim, LEE_ID);
    assert_string_equal(jstr(u, "usageLocation"), "DE");
    assert_non_null(license_of(u, EXCH_STD));
    json_object_put(u);

    /* Errors: unknown SKU, unknown plan, no free seat (POWER_BI_PRO: 5 seats, 4 used). */
    run_fail(&r, "assign-license", "{\"user\":\"" ADELE_ID "\",\"add\":[\"NOPE\"]}",
             "license 'NOPE' not found");
    result_clear(&r);
    run_fail(&r, "assign-license",
             "{\"user\":\"" ADELE_ID "\",\"add\":[\"SPE_E3\"],\"disabled_plans\":[\"NOPE\"]}",
             "service plan 'NOPE'");
    result_clear(&r);
    run_twice("assign-license", "{\"user\":\"" ADELE_ID "\",\"add\":[\"POWER_BI_PRO\"]}", 1);
    run_fail(&r, "assign-license", "{\"user\":\"" MEGAN_ID "\",\"add\":[\"POWER_BI_PRO\"]}",
             "Graph 400 Request_BadRequest: Unable to assign this license");
    result_clear(&r);
    run_fail(&r, "assign-license", "{\"user\":\"nobody" DOMAIN "\",\"add\":[\"SPE_E3\"]}",
             "Request_ResourceNotFound");
    result_clear(&r);
}

static void test_remove_all_licenses(void **state)
{
    (void)state;
    /* Miriam holds two SKUs. */
    run_twice("remove-all-licenses", "{\"user\":\"miriam.graham" DOMAIN "\"}", 1);
    struct json_object *u = sim_user(&F.sim, MIRIAM_ID);
    assert_int_equal(array_len(json_object_object_get(u, "assignedLicenses")), 0);
    json_object_put(u);
    /* Lidia holds none. */
    struct result r;
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(run_ok(&r, "remove-all-licenses", "{\"user\":\"" LIDIA_ID "\"}", false));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
}

/* }====== */

/* {====== set-role, remove-role ====== */

/* True when the tenant has an assignment of principal to a role (by id or template). */
static bool has_assignment(const char *principal, const char *role)
{
    struct json_object *st = sim_call(&F.sim, "GET", "/_sim/state", NULL);
    struct json_object *list = json_object_object_get(st, "roleAssignments");
    bool found = false;
    for (size_t i = 0; i < array_len(list); i++) {
        struct json_object *a = json_object_array_get_idx(list, i);
        found = found || (strcasecmp(jstr(a, "principalId"), principal) == 0 &&
                          strcasecmp(jstr(a, "roleDefinitionId"), role) == 0);
    }
    json_object_put(st);
    return found;
}

static void test_set_role(void **state)
{
    struct result r;
    (void)state;
    /* By displayName. */
    run_twice("set-role",
              "{\"user\":\"adele.vance" DOMAIN "\",\"role\":\"Helpdesk Administrator\"}", 1);
    assert_true(has_assignment(ADELE_ID, HELPDESK));
    /* By definition id (a built-in's id is its template id). */
    run_twice("set-role", "{\"user\":\"" ALEX_ID "\",\"role\":\"" PASSWORD_ADMIN "\"}", 1);
    assert_true(has_assignment(ALEX_ID, PASSWORD_ADMIN));
    /* A custom role by its templateId resolves to its definition id. */
    run_twice("set-role", "{\"user\":\"" MEGAN_ID "\",\"role\":\"" CUSTOM_TEMPLATE "\"}", 1);
    assert_true(has_assignment(MEGAN_ID, CUSTOM_ID));
    /* ... and by its definition id and name it is the same assignment. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(
        run_ok(&r, "set-role", "{\"user\":\"" MEGAN_ID "\",\"role\":\"" CUSTOM_ID "\"}", false));
    assert_string_equal(jstr(r.output, "roleDefinitionId"), CUSTOM_ID);
    result_clear(&r);
    assert_false(
        run_ok(&r, "set-role", "{\"user\":\"" MEGAN_ID "\",\"role\":\"Weir Test Role\"}", false));
    result_clear(&r);
    /* Nestor is a User Administrator in the seed. */
    assert_false(run_ok(&r, "set-role",
                        "{\"user\":\"" NESTOR_ID "\",\"role\":\"User Administrator\"}", false));
    assert_non_null(jstr(r.output, "assignmentId"));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
    /* Another scope is another assignment. */
    run_twice("set-role",
              "{\"user\":\"" NESTOR_ID "\",\"role\":\"User Administrator\",\"scope\":"
              "\"/administrativeUnits/11111111-2222-4333-8444-555555555555\"}",
              1);

    run_fail(&r, "set-role", "{\"user\":\"" ADELE_ID "\",\"role\":\"Chief Everything\"}",
             "role definition 'Chief Everything' not found");
    result_clear(&r);
    run_fail(&r, "set-role",
             "{\"user\":\"" ADELE_ID "\",\"role\":\"00000000-1111-4222-8333-444444444444\"}",
             "Request_ResourceNotFound");
    result_clear(&r);
    run_fail(&r, "set-role", "{\"user\":\"ghost" DOMAIN "\",\"role\":\"Global Reader\"}",
             "Request_ResourceNotFound");
    result_clear(&r);
}

static void test_remove_role(void **state)
{
    (void)state;
    run_twice("remove-role",
              "{\"user\":\"nestor.wilke" DOMAIN "\",\"role\":\"User Administrator\"}", 1);
    assert_false(has_assignment(NESTOR_ID, USER_ADMIN));
    /* Never assigned: nothing to do. */
    struct result r;
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(
        run_ok(&r, "remove-role", "{\"user\":\"" ADELE_ID "\",\"role\":\"Global Reader\"}", false));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
}

/* }====== */

/* {====== add-to-group, remove-from-group ====== */

static bool is_member(const char *group, const char *user)
{
    struct json_object *st = sim_call(&F.sim, "GET", "/_sim/state", NULL);
    struct json_object *groups = json_object_object_get(st, "groups");
    bool found = false;
    for (size_t i = 0; i < array_len(groups); i++) {
        struct json_object *g = json_object_array_get_idx(groups, i);
        if (strcmp(jstr(g, "id"), group) == 0) {
            found = array_has(json_object_object_get(g, "members"), user);
        }
    }
    json_object_put(st);
    return found;
}

static void test_add_to_group(void **state)
{
    struct result r;
    (void)state;
    run_twice("add-to-group", "{\"user\":\"adele.vance" DOMAIN "\",\"group\":\"Engineering\"}", 1);
    assert_true(is_member(ENGINEERING, ADELE_ID));
    run_twice("add-to-group", "{\"user\":\"employeeId:E1004\",\"group\":\"" SALES "\"}", 1);
    assert_true(is_member(SALES, ADELE_ID));
    /* Already a member in the seed. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(
        run_ok(&r, "add-to-group", "{\"user\":\"" LEE_ID "\",\"group\":\"All Staff\"}", false));
    assert_string_equal(jstr(r.output, "groupId"), "6d4b9adb-ebcd-4f5e-89c1-8070b6d13089");
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);

    run_fail(&r, "add-to-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Astronauts\"}",
             "group 'Astronauts' not found");
    result_clear(&r);
    run_fail(&r, "add-to-group",
             "{\"user\":\"" ADELE_ID "\",\"group\":\"00000000-1111-4222-8333-444444444444\"}",
             "Request_ResourceNotFound");
    result_clear(&r);
    run_fail(&r, "add-to-group", "{\"user\":\"ghost" DOMAIN "\",\"group\":\"Sales\"}",
             "Request_ResourceNotFound");
    result_clear(&r);
}

static void test_remove_from_group(void **state)
{
    struct result r;
    (void)state;
    run_twice("remove-from-group", "{\"user\":\"lee.gu" DOMAIN "\",\"group\":\"Engineering\"}", 1);
    assert_false(is_member(ENGINEERING, LEE_ID));
    /* The user still exists: the membership went, not the user. */
    struct json_object *u = sim_user(&F.sim, LEE_ID);
    assert_non_null(u);
    json_object_put(u);
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(run_ok(&r, "remove-from-group",
                        "{\"user\":\"" ADELE_ID "\",\"group\":\"IT Admins\"}", false));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
}

/* }====== */

/* {====== set-manager ====== */

static void test_set_manager(void **state)
{
    struct result r;
    (void)state;
    /* Adele's manager is Megan in the seed. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_false(run_ok(&r, "set-manager",
                        "{\"user\":\"" ADELE_ID "\",\"manager\":\"megan.bowen" DOMAIN "\"}",
                        false));
    assert_string_equal(jstr(r.output, "previousManagerId"), MEGAN_ID);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);

    run_twice("set-manager", "{\"user\":\"" ADELE_ID "\",\"manager\":\"employeeId:E1001\"}", 1);
    struct json_object *u = sim_user(&F.sim, ADELE_ID);
    assert_string_equal(jstr(u, "manager"), PATTI_ID);
    json_object_put(u);
    /* Patti has no manager (GET .../manager is 404). */
    run_twice("set-manager", "{\"user\":\"" PATTI_ID "\",\"manager\":\"" MEGAN_ID "\"}", 1);

    run_fail(&r, "set-manager", "{\"user\":\"" ADELE_ID "\",\"manager\":\"" ADELE_ID "\"}",
             "own manager");
    result_clear(&r);
    run_fail(&r, "set-manager", "{\"user\":\"" ADELE_ID "\",\"manager\":\"ghost" DOMAIN "\"}",
             "Request_ResourceNotFound");
    result_clear(&r);
}

/* }====== */

/* {====== http-request ====== */

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_http_request(void **state)
{
    struct result r;
    char args[512];
    (void)state;

    snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%d/_sim/health\"}", F.sim.port);
    assert_true(run_ok(&r, "http-request", args, false));
    assert_int_equal(json_object_get_int(json_object_object_get(r.output, "status")), 200);
    assert_string_equal(jstr(json_object_object_get(r.output, "body"), "status"), "ok");
    result_clear(&r);

    /* A JSON body the simulator refuses (unknown fault): 400, not the expected 2xx. */
    snprintf(args, sizeof(args),
             "{\"url\":\"http://127.0.0.1:%d/_sim/faults?token=SECRET\",\"body\":{\"x\":1}}",
             F.sim.port);
    run_fail(&r, "http-request", args, "answered 400, expected 2xx");
    assert_false(r.retriable);
    assert_null(strstr(r.error, "SECRET")); /* URLs can hold secrets: only the origin shows */
    result_clear(&r);
    /* ... which is fine when 400 is what the step expects. */
    snprintf(args, sizeof(args),
             "{\"url\":\"http://127.0.0.1:%d/_sim/faults\",\"method\":\"POST\",\"body\":{\"x\":1},"
             "\"headers\":{\"X-Trace\":\"t1\"},\"expect\":[400,409]}",
             F.sim.port);
    assert_true(run_ok(&r, "http-request", args, false));
    assert_int_equal(json_object_get_int(json_object_object_get(r.output, "status")), 400);
    result_clear(&r);

    /* An answer over max_response fails, not retriable, naming the limit; none is kept. */
    snprintf(args, sizeof(args),
             "{\"url\":\"http://127.0.0.1:%d/_sim/health\",\"max_response\":\"4B\"}", F.sim.port);
    run_fail(&r, "http-request", args, "answered more than 4B (max_response)");
    assert_false(r.retriable);
    result_clear(&r);
    /* A secret that cannot be resolved: the reference is named, nothing is sent. */
    unsetenv("WEIR_TEST_NO_SUCH_SECRET");
    snprintf(args, sizeof(args),
             "{\"url\":\"http://127.0.0.1:%d/_sim/health\",\"auth\":{\"type\":\"bearer\","
             "\"secret\":\"env:WEIR_TEST_NO_SUCH_SECRET\"}}",
             F.sim.port);
    run_fail(&r, "http-request", args,
             "http-request auth.secret: env:WEIR_TEST_NO_SUCH_SECRET: the environment variable "
             "WEIR_TEST_NO_SUCH_SECRET is not set");
    assert_false(r.retriable);
    result_clear(&r);

    /* Nobody listening: a network failure, retriable. */
    snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%d/hook\",\"body\":\"hello\"}",
             closed_port());
    run_fail(&r, "http-request", args, "POST http://127.0.0.1:");
    assert_true(r.retriable);
    result_clear(&r);
}

static void on_graph_answer(void *arg, const struct wr_graph_result *res)
{
    assert_true(res->ok);
    *(bool *)arg = true;
    event_base_loopexit(F.base, NULL);
}

/* Keeps a Graph answer's status ({bool done; long status} at arg). */
static void on_graph_status(void *arg, const struct wr_graph_result *res)
{
    struct {
        bool done;
        long status;
    } *a = arg;
    a->done = true;
    a->status = res->status;
    event_base_loopexit(F.base, NULL);
}

/*
 * http-request runs on the Graph client's curl loop: calls to one host reuse a connection, even
 * one the Graph client opened, and the SSRF guard still judges a reused connection — with
 * loopback not allowed, a request that would go out on the pooled connection to the simulator
 * is refused before anything is sent, with the same message as a new connection's refusal.
 */
static void test_http_request_reuse(void **state)
{
    struct result r;
    char args[256], refusal[256];
    bool answered = false;
    struct wr_curl_loop *loop = wr_graph_curl_loop(F.g);
    (void)state;

    /* A Graph request leaves a connection to the simulator in the pool. */
    assert_int_equal(
        wr_graph_request(F.g, "GET", "/users/" ADELE_ID, NULL, 0, on_graph_answer, &answered), 0);
    event_base_dispatch(F.base);
    assert_true(answered);
    uint64_t before = wr_curl_loop_connections(loop);
    assert_true(before >= 1);

    snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%d/_sim/health\"}", F.sim.port);
    for (int i = 0; i < 5; i++) {
        assert_true(run_ok(&r, "http-request", args, false));
        assert_int_equal(json_object_get_int(json_object_object_get(r.output, "status")), 200);
        result_clear(&r);
    }
    /* Five calls, no new connection: the pooled one was reused every time. */
    assert_int_equal(wr_curl_loop_connections(loop) - before, 0);

    /* A call with loopback not allowed (to a path graphsim would count): the pooled connection
       is judged and refused, and nothing reaches the simulator. */
    snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%d/hook\"}", F.sim.port);
    snprintf(refusal, sizeof(refusal),
             "GET http://127.0.0.1:%d: refused to connect to 127.0.0.1:%d "
             "(loopback; add it to http.allow in weir.yaml to permit)",
             F.sim.port, F.sim.port);
    int64_t seen = sim_stat(&F.sim, "requests");
    run_nothing_allowed = true;
    run_fail(&r, "http-request", args, refusal);
    run_nothing_allowed = false;
    assert_false(r.retriable);
    assert_string_equal(r.error, refusal);
    result_clear(&r);
    assert_int_equal(wr_curl_loop_connections(loop) - before, 0);
    assert_int_equal(sim_stat(&F.sim, "requests"), seen);

    /* Allowed again, the call goes through (on a pooled or a new connection). */
    snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%d/_sim/health\"}", F.sim.port);
    assert_true(run_ok(&r, "http-request", args, false));
    result_clear(&r);
}

/* }====== */

/* {====== replica lag (graphsim --replica-lag) ====== */

/* Lets the loop run for ms (graphsim's replica lag passes in real time). */
static void pass_time(int ms)
{
    struct event *t = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(t, &tv);
    event_base_dispatch(F.base);
    event_free(t);
}

/* An action that must fail as replica lag: retriable, marked, and saying so. */
static void run_lagging(const char *action, const char *args, const char *needle)
{
    struct result r;
    run_fail(&r, action, args, needle);
    if (!r.retriable || !r.replica_lag || !strstr(r.error, "replica lag")) {
        fail_msg("%s %s: not replica lag: %s", action, args, r.error);
    }
    result_clear(&r);
}

static void test_replica_lag(void **state)
{
    static const char *const lag[] = {"--replica-lag", "4s", NULL};
    struct result r;
    char args[512];
    (void)state;
    start_sim(lag, 0, 0);
    assert_true(run_ok(&r, "create-user",
                       "{\"set\":{\"userPrincipalName\":\"lagging" DOMAIN "\",\"displayName\":"
                       "\"Lagging\",\"mailNickname\":\"lagging\",\"employeeId\":\"E4001\"}}",
                       false));
    char *id = strdup(jstr(r.output, "id"));
    result_clear(&r);

    /* Every way of naming the new user meets a replica without it: retriable, as lag. */
    snprintf(args, sizeof(args), "{\"user\":\"%s\",\"set\":{\"jobTitle\":\"New\"}}", id);
    run_lagging("update-user", args, "Graph 404 Request_ResourceNotFound");
    run_lagging("update-user", "{\"user\":\"lagging" DOMAIN "\",\"set\":{\"city\":\"X\"}}",
                "not found");
    run_lagging("disable-user", "{\"user\":\"employeeId:E4001\"}", "not found");
    snprintf(args, sizeof(args), "{\"user\":\"%s\",\"group\":\"Engineering\"}", id);
    run_lagging("add-to-group", args, "404");
    snprintf(args, sizeof(args), "{\"user\":\"" ADELE_ID "\",\"manager\":\"%s\"}", id);
    run_lagging("set-manager", args, "manager:");
    snprintf(args, sizeof(args), "{\"user\":\"%s\",\"add\":[\"SPE_E3\"]}", id);
    run_lagging("assign-license", args, "404");
    snprintf(args, sizeof(args), "{\"user\":\"%s\",\"role\":\"Global Reader\"}", id);
    run_lagging("set-role", args, "404");
    /* Not found moments after the create is not "already deleted". */
    snprintf(args, sizeof(args), "{\"user\":\"%s\"}", id);
    run_lagging("delete-user", args, "404");
    struct json_object *u = sim_user(&F.sim, id);
    assert_non_null(u);
    json_object_put(u);
    /* An object weir did not create: a 404 is still final. */
    run_fail(&r, "update-user",
             "{\"user\":\"00000000-1111-4222-8333-444444444444\",\"set\":{\"city\":\"X\"}}",
             "Graph 404");
    assert_false(r.retriable);
    assert_false(r.replica_lag);
    result_clear(&r);

    /* Once the replicas have it, the same steps go through. */
    pass_time(4200);
    snprintf(args, sizeof(args), "{\"user\":\"%s\",\"set\":{\"jobTitle\":\"New\"}}", id);
    run_twice("update-user", args, 1);
    snprintf(args, sizeof(args), "{\"user\":\"%s\",\"group\":\"Engineering\"}", id);
    run_twice("add-to-group", args, 1);

    /* Graph's invalid-usage-location 400 right after weir set the location is lag too. */
    run_twice("update-user", "{\"user\":\"" LEE_ID "\",\"set\":{\"usageLocation\":\"DE\"}}", 1);
    run_lagging("assign-license", "{\"user\":\"" LEE_ID "\",\"add\":[\"EXCHANGESTANDARD\"]}",
                "License assignment cannot be done for user with invalid usage location.");
    pass_time(4200);
    run_twice("assign-license", "{\"user\":\"" LEE_ID "\",\"add\":[\"EXCHANGESTANDARD\"]}", 1);
    /* ... and after usage_location of assign-license itself. */
    run_lagging("assign-license",
                "{\"user\":\"" LIDIA_ID "\",\"add\":[\"SPE_E3\"],\"usage_location\":\"DE\"}",
                "invalid usage location");
    free(id);
    teardown(NULL);
}

/* }====== */

/* {====== a create whose answer was lost (graphsim timeout_next_create) ====== */

static void test_create_after_timeout(void **state)
{
    struct result r;
    long status = 0;
    (void)state;
    /* A 1 s client timeout; graphsim applies the next create and answers after 3 s. */
    start_sim(NULL, 3, 1000);
    json_object_put(
        sim_call_body(&F.sim, "POST", "/_sim/faults", "{\"timeout_next_create\":3}", &status));
    assert_int_equal(status, 200);
    /* No employeeId: the existing user is this step's own when it has every property sent. */
    const char *args = "{\"set\":{\"userPrincipalName\":\"once" DOMAIN "\",\"displayName\":"
                       "\"Once\",\"mailNickname\":\"once\",\"jobTitle\":\"Intern\"}}";
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_true(run_ok(&r, "create-user", args, false));
    struct json_object *u = sim_user(&F.sim, "once" DOMAIN);
    assert_non_null(u);
    assert_string_equal(jstr(r.output, "id"), jstr(u, "id"));
    assert_true(json_object_get_boolean(json_object_object_get(r.output, "created")));
    json_object_put(u);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1); /* one user, created once */

    /* A different user holding the address stays a clear failure. */
    run_fail(&r, "create-user",
             "{\"set\":{\"userPrincipalName\":\"once" DOMAIN "\",\"displayName\":\"Once\","
             "\"mailNickname\":\"once\",\"jobTitle\":\"Director\"}}",
             "is not the one this step creates: its jobTitle is \"Intern\", not \"Director\"");
    assert_false(r.retriable);
    result_clear(&r);

    /* With an employeeId, that decides. */
    json_object_put(
        sim_call_body(&F.sim, "POST", "/_sim/faults", "{\"timeout_next_create\":3}", &status));
    assert_true(run_ok(&r, "create-user",
                       "{\"set\":{\"userPrincipalName\":\"twice" DOMAIN "\",\"displayName\":"
                       "\"Twice\",\"mailNickname\":\"twice\",\"employeeId\":\"E4002\"}}",
                       false));
    u = sim_user(&F.sim, "twice" DOMAIN);
    assert_string_equal(jstr(r.output, "id"), jstr(u, "id"));
    json_object_put(u);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 2);
    teardown(NULL);
}

/* }====== */

/* {====== group-based licensing (the seed's E5 Pilot) ====== */

#define E5_PILOT   "5e0c2b3f-9a55-4c1e-8f43-1c6a7d2e9b10"
#define JOHANNA_ID "65aa9c82-79f2-48b0-8cb4-a0d7d6225675"
#define ISAIAH_ID  "8a7d43b5-7863-4074-b797-0386fee29476"

/* The entry of output["licenses"] for sku, or NULL. */
static struct json_object *licence_out(struct json_object *out, const char *sku)
{
    struct json_object *l = json_object_object_get(out, "licenses");
    for (size_t i = 0; i < array_len(l); i++) {
        struct json_object *e = json_object_array_get_idx(l, i);
        if (strcasecmp(jstr(e, "skuId"), sku) == 0) {
            return e;
        }
    }
    return NULL;
}

static void test_group_licensing(void **state)
{
    struct result r;
    (void)state;
    /* Johanna holds SPE_E5 only through E5 Pilot: asking for it assigns it directly. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_true(
        run_ok(&r, "assign-license", "{\"user\":\"" JOHANNA_ID "\",\"add\":[\"SPE_E5\"]}", false));
    assert_true(array_has(json_object_object_get(r.output, "added"), SPE_E5));
    struct json_object *e5 = licence_out(r.output, SPE_E5);
    assert_non_null(e5);
    assert_true(json_object_get_boolean(json_object_object_get(e5, "direct")));
    struct json_object *from = json_object_object_get(e5, "inheritedFrom");
    assert_int_equal(array_len(from), 1);
    assert_string_equal(jstr(json_object_array_get_idx(from, 0), "id"), E5_PILOT);
    assert_string_equal(jstr(json_object_array_get_idx(from, 0), "displayName"), "E5 Pilot");
    assert_true(array_has(json_object_object_get(r.output, "inherited"), SPE_E5));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);
    assert_false(
        run_ok(&r, "assign-license", "{\"user\":\"" JOHANNA_ID "\",\"add\":[\"SPE_E5\"]}", false));
    result_clear(&r);

    /* EXCHANGESTANDARD is hers only through the group: removing it cannot work; the step says
       which group, and sends nothing. */
    m0 = sim_stat(&F.sim, "mutations");
    run_fail(&r, "assign-license",
             "{\"user\":\"" JOHANNA_ID "\",\"remove\":[\"EXCHANGESTANDARD\"]}",
             "is inherited from group 'E5 Pilot' (" E5_PILOT ")");
    assert_false(r.retriable);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);

    /* Isaiah holds EXCHANGESTANDARD both ways: removing the direct assignment would leave the
       group's, so that fails the same way, and a rerun ends alike. */
    for (int i = 0; i < 2; i++) {
        run_fail(&r, "assign-license",
                 "{\"user\":\"" ISAIAH_ID "\",\"remove\":[\"EXCHANGESTANDARD\"]}",
                 "and assigned directly as well");
        result_clear(&r);
    }
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
    struct json_object *u = sim_user(&F.sim, ISAIAH_ID);
    assert_non_null(license_of(u, EXCH_STD));
    json_object_put(u);
    /* remove-all-licenses takes his direct one and reports the group's. */
    run_twice("remove-all-licenses", "{\"user\":\"" ISAIAH_ID "\"}", 1);
    u = sim_user(&F.sim, ISAIAH_ID);
    assert_non_null(license_of(u, EXCH_STD));
    json_object_put(u);

    /* remove-all-licenses: the direct ones (E3 and the E5 just added), not the group's. */
    assert_true(run_ok(&r, "remove-all-licenses", "{\"user\":\"" JOHANNA_ID "\"}", false));
    struct json_object *removed = json_object_object_get(r.output, "removed");
    assert_int_equal(array_len(removed), 2);
    assert_true(array_has(removed, SPE_E3) && array_has(removed, SPE_E5));
    struct json_object *inherited = json_object_object_get(r.output, "inherited");
    assert_int_equal(array_len(inherited), 2);
    assert_true(array_has(inherited, SPE_E5) && array_has(inherited, EXCH_STD));
    assert_false(
        json_object_get_boolean(json_object_object_get(licence_out(r.output, SPE_E5), "direct")));
    result_clear(&r);
    u = sim_user(&F.sim, JOHANNA_ID);
    assert_non_null(license_of(u, SPE_E5));
    assert_null(license_of(u, SPE_E3));
    json_object_put(u);
    m0 = sim_stat(&F.sim, "mutations");
    assert_false(run_ok(&r, "remove-all-licenses", "{\"user\":\"" JOHANNA_ID "\"}", false));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);

    /* Dry runs plan the same: a direct E5 for Isaiah (inherited only), nothing for Johanna's
       group licences in remove-all. */
    run_dry("assign-license", "{\"user\":\"" ISAIAH_ID "\",\"add\":[\"SPE_E5\"]}",
            "[{\"method\":\"POST\",\"path\":\"/users/" ISAIAH_ID "/assignLicense\","
            "\"body\":{\"addLicenses\":[{\"skuId\":\"" SPE_E5 "\",\"disabledPlans\":[]}],"
            "\"removeLicenses\":[]}}]");
    run_dry("remove-all-licenses", "{\"user\":\"" JOHANNA_ID "\"}", "[]");
}

/* }====== */

/* {====== PIM: eligible and time-bound assignments (remove-role) ====== */

static size_t schedules_of(const char *kind, const char *principal)
{
    struct json_object *st = sim_call(&F.sim, "GET", "/_sim/state", NULL);
    struct json_object *list = json_object_object_get(st, kind);
    size_t n = 0;
    for (size_t i = 0; i < array_len(list); i++) {
        n += strcasecmp(jstr(json_object_array_get_idx(list, i), "principalId"), principal) == 0;
    }
    json_object_put(st);
    return n;
}

static void test_remove_role_pim(void **state)
{
    struct result r;
    long status = 0;
    char plan[1024];
    (void)state;
    /* Alex is eligible for User Administrator and holds it time-bound: a dry run plans both
       adminRemove requests, in Graph's documented shape. */
    snprintf(plan, sizeof(plan),
             "[{\"method\":\"POST\",\"path\":\"/roleManagement/directory/"
             "roleEligibilityScheduleRequests\",\"body\":{\"action\":\"adminRemove\","
             "\"roleDefinitionId\":\"" USER_ADMIN "\",\"directoryScopeId\":\"/\","
             "\"principalId\":\"" ALEX_ID "\"}},{\"method\":\"POST\",\"path\":"
             "\"/roleManagement/directory/roleAssignmentScheduleRequests\",\"body\":{\"action\":"
             "\"adminRemove\",\"roleDefinitionId\":\"" USER_ADMIN "\",\"directoryScopeId\":\"/\","
             "\"principalId\":\"" ALEX_ID "\"}}]");
    run_dry("remove-role", "{\"user\":\"" ALEX_ID "\",\"role\":\"User Administrator\"}", plan);

    /* Without the permission for eligible assignments: a clear, final error naming it. */
    json_object_put(sim_call_body(&F.sim, "POST", "/_sim/faults",
                                  "{\"pim_forbidden\":\"eligibility\"}", &status));
    run_fail(&r, "remove-role", "{\"user\":\"" ALEX_ID "\",\"role\":\"User Administrator\"}",
             "the app needs the RoleEligibilitySchedule.ReadWrite.Directory application "
             "permission");
    assert_false(r.retriable);
    result_clear(&r);
    /* pim: false leaves PIM alone (and finds no active assignment). */
    assert_false(run_ok(&r, "remove-role",
                        "{\"user\":\"" ALEX_ID "\",\"role\":\"User Administrator\",\"pim\":false}",
                        false));
    result_clear(&r);
    json_object_put(
        sim_call_body(&F.sim, "POST", "/_sim/faults", "{\"pim_forbidden\":\"none\"}", &status));

    /* With it: both go, in two requests; the second run finds nothing. */
    assert_int_equal(schedules_of("roleEligibilitySchedules", ALEX_ID), 1);
    assert_int_equal(schedules_of("roleAssignmentSchedules", ALEX_ID), 1);
    int64_t m0 = sim_stat(&F.sim, "mutations");
    assert_true(run_ok(&r, "remove-role",
                       "{\"user\":\"alex.wilber" DOMAIN "\",\"role\":\"User Administrator\"}",
                       false));
    assert_int_equal(array_len(json_object_object_get(r.output, "removedEligible")), 1);
    assert_int_equal(array_len(json_object_object_get(r.output, "removedTimeBound")), 1);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 2);
    assert_int_equal(schedules_of("roleEligibilitySchedules", ALEX_ID), 0);
    assert_int_equal(schedules_of("roleAssignmentSchedules", ALEX_ID), 0);
    assert_false(run_ok(&r, "remove-role",
                        "{\"user\":\"" ALEX_ID "\",\"role\":\"User Administrator\"}", false));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 2);
    /* Nestor: the active assignment and the eligible one of another role (Helpdesk) stays. */
    run_twice("remove-role", "{\"user\":\"" NESTOR_ID "\",\"role\":\"User Administrator\"}", 1);
    assert_int_equal(schedules_of("roleEligibilitySchedules", NESTOR_ID), 1);
    run_twice("remove-role", "{\"user\":\"" NESTOR_ID "\",\"role\":\"" HELPDESK "\"}", 1);
    assert_int_equal(schedules_of("roleEligibilitySchedules", NESTOR_ID), 0);
}

/* }====== */

/* {====== wire shapes: each action's requests as Microsoft documents them (GRAPH.md) ====== */

/* SHA-256 of s in lower-case hex, as graphsim's request log keeps a body's digest. */
static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
    for (unsigned int i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

/* One write an action must send: method, path under /v1.0 and the body's exact text ("" for
   none), keys in the order of Microsoft's documented example. */
struct wire {
    const char *method;
    const char *path;
    const char *body;
};

/*
 * Runs action (for real) and checks the writes graphsim logged for it, in order, against
 * want[0..n): method, path and the SHA-256 of the body. A write inside a $batch is logged as
 * its item (graphsim serialises an item's body the way weir does), the envelope is skipped.
 */
static void check_wire(const char *action, const char *args, const struct wire *want, size_t n)
{
    struct result r;
    int64_t seq = sim_last_seq(&F.sim);
    run_ok(&r, action, args, false);
    result_clear(&r);
    struct json_object *log = sim_log(&F.sim);
    size_t k = 0;
    for (size_t i = 0; i < array_len(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i);
        const char *method = jstr(e, "method");
        const char *path = jstr(e, "path");
        if (json_object_get_int64(json_object_object_get(e, "seq")) <= seq ||
            strcmp(method, "GET") == 0 || strcmp(path, "/v1.0/$batch") == 0 ||
            strstr(path, "/oauth2/")) {
            continue;
        }
        if (k == n) {
            fail_msg("%s sent more than %zu writes: %s %s", action, n, method, path);
        }
        char digest[65], *want_path = NULL;
        if (asprintf(&want_path, "/v1.0%s", want[k].path) < 0) {
            fail_msg("out of memory");
        }
        sha256_hex(want[k].body, digest);
        if (strcmp(method, want[k].method) != 0 || strcmp(path, want_path) != 0) {
            fail_msg("%s write %zu: %s %s, want %s %s", action, k, method, path, want[k].method,
                     want_path);
        }
        if (strcmp(jstr(e, "body_sha256"), digest) != 0) {
            fail_msg("%s write %zu (%s %s): the body is not %s", action, k, method, path,
                     want[k].body[0] ? want[k].body : "empty");
        }
        if (json_object_get_int(json_object_object_get(e, "status")) / 100 != 2) {
            fail_msg("%s write %zu (%s %s): graphsim answered %d", action, k, method, path,
                     json_object_get_int(json_object_object_get(e, "status")));
        }
        free(want_path);
        k++;
    }
    if (k != n) {
        fail_msg("%s sent %zu writes, want %zu", action, k, n);
    }
    json_object_put(log);
}

/* The id graphsim gave principal's assignment of role (for the path of its DELETE). Owned. */
static char *assignment_id(const char *principal, const char *role)
{
    struct json_object *st = sim_call(&F.sim, "GET", "/_sim/state", NULL);
    struct json_object *list = json_object_object_get(st, "roleAssignments");
    char *id = NULL;
    for (size_t i = 0; i < array_len(list); i++) {
        struct json_object *a = json_object_array_get_idx(list, i);
        if (strcasecmp(jstr(a, "principalId"), principal) == 0 &&
            strcasecmp(jstr(a, "roleDefinitionId"), role) == 0) {
            id = strdup(jstr(a, "id"));
        }
    }
    json_object_put(st);
    assert_non_null(id);
    return id;
}

static void test_wire_shapes(void **state)
{
    char body[512], path[256];
    (void)state;

    /* GRAPH.md 2: PATCH /users/{id} with only the properties that change; 204. */
    check_wire("update-user",
               "{\"user\":\"adele.vance" DOMAIN "\",\"set\":{\"jobTitle\":\"Engineer\"}}",
               (struct wire[]){{"PATCH", "/users/" ADELE_ID, "{\"jobTitle\":\"Engineer\"}"}}, 1);
    check_wire("disable-user", "{\"user\":\"" ADELE_ID "\"}",
               (struct wire[]){{"PATCH", "/users/" ADELE_ID, "{\"accountEnabled\":false}"}}, 1);
    check_wire("enable-user", "{\"user\":\"" ADELE_ID "\"}",
               (struct wire[]){{"PATCH", "/users/" ADELE_ID, "{\"accountEnabled\":true}"}}, 1);
    /* GRAPH.md 3: POST /users with the required properties, as the example orders them. */
    check_wire("create-user",
               "{\"set\":{\"accountEnabled\":true,\"displayName\":\"Wire Shape\","
               "\"mailNickname\":\"wire\",\"userPrincipalName\":\"wire" DOMAIN "\","
               "\"passwordProfile\":{\"forceChangePasswordNextSignIn\":true,"
               "\"password\":\"Wire-Shape-2026!\"}}}",
               (struct wire[]){{"POST", "/users",
                                "{\"accountEnabled\":true,\"displayName\":\"Wire Shape\","
                                "\"mailNickname\":\"wire\",\"userPrincipalName\":\"wire" DOMAIN
                                "\",\"passwordProfile\":{\"forceChangePasswordNextSignIn\":true,"
                                "\"password\":\"Wire-Shape-2026!\"}}"}},
               1);
    /* GRAPH.md 7: revokeSignInSessions has no body. */
    check_wire("revoke-sessions", "{\"user\":\"" ADELE_ID "\"}",
               (struct wire[]){{"POST", "/users/" ADELE_ID "/revokeSignInSessions", ""}}, 1);
    /* GRAPH.md 4.1: both arrays always sent; addLicenses entries {skuId, disabledPlans}. A
       missing usageLocation is PATCHed first. */
    check_wire("assign-license",
               "{\"user\":\"" LEE_ID "\",\"add\":[\"SPE_E3\"],\"usage_location\":\"DE\"}",
               (struct wire[]){{"PATCH", "/users/" LEE_ID, "{\"usageLocation\":\"DE\"}"},
                               {"POST", "/users/" LEE_ID "/assignLicense",
                                "{\"addLicenses\":[{\"skuId\":\"" SPE_E3 "\",\"disabledPlans\":"
                                "[]}],\"removeLicenses\":[]}"}},
               2);
    check_wire("assign-license", "{\"user\":\"" ADELE_ID "\",\"remove\":[\"SPE_E3\"]}",
               (struct wire[]){{"POST", "/users/" ADELE_ID "/assignLicense",
                                "{\"addLicenses\":[],\"removeLicenses\":[\"" SPE_E3 "\"]}"}},
               1);
    check_wire("remove-all-licenses", "{\"user\":\"" MIRIAM_ID "\"}",
               (struct wire[]){{"POST", "/users/" MIRIAM_ID "/assignLicense",
                                "{\"addLicenses\":[],\"removeLicenses\":[\"" SPE_E5 "\",\"" PBI_PRO
                                "\"]}"}},
               1);
    /* GRAPH.md 5.1: the unified RBAC assignment, principal by object id; DELETE by its id. */
    check_wire("set-role", "{\"user\":\"adele.vance" DOMAIN "\",\"role\":\"Global Reader\"}",
               (struct wire[]){{"POST", "/roleManagement/directory/roleAssignments",
                                "{\"@odata.type\":\"#microsoft.graph.unifiedRoleAssignment\","
                                "\"roleDefinitionId\":\"f2ef992c-3afb-46b9-b7cf-a126ee74c451\","
                                "\"principalId\":\"" ADELE_ID "\",\"directoryScopeId\":\"/\"}"}},
               1);
    char *aid = assignment_id(NESTOR_ID, USER_ADMIN);
    snprintf(path, sizeof(path), "/roleManagement/directory/roleAssignments/%s", aid);
    check_wire("remove-role", "{\"user\":\"" NESTOR_ID "\",\"role\":\"User Administrator\"}",
               (struct wire[]){{"DELETE", path, ""}}, 1);
    free(aid);
    /* GRAPH.md 12 (PIM), Microsoft's adminRemove example: action, roleDefinitionId,
       directoryScopeId, principalId. */
    const char *remove = "{\"action\":\"adminRemove\",\"roleDefinitionId\":\"" USER_ADMIN
                         "\",\"directoryScopeId\":\"/\",\"principalId\":\"" ALEX_ID "\"}";
    check_wire("remove-role", "{\"user\":\"" ALEX_ID "\",\"role\":\"" USER_ADMIN "\"}",
               (struct wire[]){
                   {"POST", "/roleManagement/directory/roleEligibilityScheduleRequests", remove},
                   {"POST", "/roleManagement/directory/roleAssignmentScheduleRequests", remove}},
               2);
    /* GRAPH.md 6: members/$ref with a directoryObjects reference; removal always with /$ref. */
    snprintf(body, sizeof(body), "{\"@odata.id\":\"%s/directoryObjects/" ADELE_ID "\"}",
             F.sim.base_url);
    check_wire("add-to-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Engineering\"}",
               (struct wire[]){{"POST", "/groups/" ENGINEERING "/members/$ref", body}}, 1);
    check_wire("remove-from-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Engineering\"}",
               (struct wire[]){{"DELETE", "/groups/" ENGINEERING "/members/" ADELE_ID "/$ref", ""}},
               1);
    /* GRAPH.md 7: PUT manager/$ref with a users reference. */
    snprintf(body, sizeof(body), "{\"@odata.id\":\"%s/users/" PATTI_ID "\"}", F.sim.base_url);
    check_wire("set-manager", "{\"user\":\"" ADELE_ID "\",\"manager\":\"" PATTI_ID "\"}",
               (struct wire[]){{"PUT", "/users/" ADELE_ID "/manager/$ref", body}}, 1);
    check_wire("delete-user", "{\"user\":\"" LIDIA_ID "\"}",
               (struct wire[]){{"DELETE", "/users/" LIDIA_ID, ""}}, 1);
}

/* }====== */

/* {====== dry runs ====== */

static void test_dry_run(void **state)
{
    char plan[1024], args[512];
    (void)state;

    run_dry("update-user",
            "{\"user\":\"adele.vance" DOMAIN "\",\"set\":{\"jobTitle\":\"Engineer\","
            "\"department\":\"Retail\"}}",
            "[{\"method\":\"PATCH\",\"path\":\"/users/" ADELE_ID "\","
            "\"body\":{\"jobTitle\":\"Engineer\"}}]");
    run_dry("update-user", "{\"user\":\"" ADELE_ID "\",\"set\":{\"department\":\"Retail\"}}", "[]");
    run_dry("disable-user", "{\"user\":\"" ADELE_ID "\"}",
            "[{\"method\":\"PATCH\",\"path\":\"/users/" ADELE_ID "\","
            "\"body\":{\"accountEnabled\":false}}]");
    run_dry("enable-user", "{\"user\":\"" ADELE_ID "\"}", "[]");
    run_dry("enable-user", "{\"user\":\"" PRADEEP_ID "\"}",
            "[{\"method\":\"PATCH\",\"path\":\"/users/" PRADEEP_ID "\","
            "\"body\":{\"accountEnabled\":true}}]");
    run_dry("delete-user", "{\"user\":\"" LIDIA_ID "\"}",
            "[{\"method\":\"DELETE\",\"path\":\"/users/" LIDIA_ID "\",\"body\":null}]");
    run_dry("delete-user", "{\"user\":\"gone" DOMAIN "\"}", "[]");
    run_dry("revoke-sessions", "{\"user\":\"" ADELE_ID "\"}",
            "[{\"method\":\"POST\",\"path\":\"/users/" ADELE_ID "/revokeSignInSessions\","
            "\"body\":null}]");
    run_dry("create-user",
            "{\"set\":{\"userPrincipalName\":\"dry" DOMAIN "\",\"displayName\":\"Dry\","
            "\"mailNickname\":\"dry\",\"employeeId\":\"E3001\"}}",
            "[{\"method\":\"POST\",\"path\":\"/users\",\"body\":{\"userPrincipalName\":\"dry" DOMAIN
            "\",\"displayName\":\"Dry\",\"mailNickname\":\"dry\",\"employeeId\":\"E3001\","
            "\"accountEnabled\":true,\"passwordProfile\":{\"forceChangePasswordNextSignIn\":true,"
            "\"password\":\"***\"}}}]");
    /* An existing user with the same employeeId: nothing would be sent. */
    run_dry("create-user",
            "{\"set\":{\"userPrincipalName\":\"adele.vance" DOMAIN "\",\"displayName\":\"A\","
            "\"mailNickname\":\"a\",\"employeeId\":\"E1004\"}}",
            "[]");
    run_dry("assign-license",
            "{\"user\":\"" LEE_ID "\",\"add\":[\"SPE_E3\"],\"disabled_plans\":[\"TEAMS1\"],"
            "\"usage_location\":\"DE\"}",
            "[{\"method\":\"PATCH\",\"path\":\"/users/" LEE_ID "\",\"body\":{\"usageLocation\":"
            "\"DE\"}},{\"method\":\"POST\",\"path\":\"/users/" LEE_ID "/assignLicense\","
            "\"body\":{\"addLicenses\":[{\"disabledPlans\":[\"" TEAMS1 "\"],\"skuId\":\"" SPE_E3
            "\"}],\"removeLicenses\":[]}}]");
    run_dry("assign-license", "{\"user\":\"" ADELE_ID "\",\"add\":[\"SPE_E3\"]}", "[]");
    run_dry("remove-all-licenses", "{\"user\":\"" MIRIAM_ID "\"}",
            "[{\"method\":\"POST\",\"path\":\"/users/" MIRIAM_ID "/assignLicense\","
            "\"body\":{\"addLicenses\":[],\"removeLicenses\":[\"" SPE_E5 "\",\"" PBI_PRO "\"]}}]");
    run_dry("set-role", "{\"user\":\"" ADELE_ID "\",\"role\":\"Helpdesk Administrator\"}",
            "[{\"method\":\"POST\",\"path\":\"/roleManagement/directory/roleAssignments\","
            "\"body\":{\"@odata.type\":\"#microsoft.graph.unifiedRoleAssignment\","
            "\"roleDefinitionId\":\"" HELPDESK "\",\"principalId\":\"" ADELE_ID "\","
            "\"directoryScopeId\":\"/\"}}]");
    run_dry("set-role", "{\"user\":\"" NESTOR_ID "\",\"role\":\"User Administrator\"}", "[]");
    /* remove-role: the assignment's id is Graph's, so read it from the state first. */
    struct json_object *st = sim_call(&F.sim, "GET", "/_sim/state", NULL);
    struct json_object *list = json_object_object_get(st, "roleAssignments");
    const char *aid = NULL;
    for (size_t i = 0; i < array_len(list); i++) {
        struct json_object *a = json_object_array_get_idx(list, i);
        if (strcmp(jstr(a, "principalId"), NESTOR_ID) == 0) {
            aid = jstr(a, "id");
        }
    }
    assert_non_null(aid);
    snprintf(plan, sizeof(plan),
             "[{\"method\":\"DELETE\",\"path\":\"/roleManagement/directory/roleAssignments/%s\","
             "\"body\":null}]",
             aid);
    json_object_put(st);
    run_dry("remove-role", "{\"user\":\"" NESTOR_ID "\",\"role\":\"" USER_ADMIN "\"}", plan);
    snprintf(plan, sizeof(plan),
             "[{\"method\":\"POST\",\"path\":\"/groups/" ENGINEERING "/members/$ref\","
             "\"body\":{\"@odata.id\":\"%s/directoryObjects/" ADELE_ID "\"}}]",
             F.sim.base_url);
    run_dry("add-to-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Engineering\"}", plan);
    run_dry("add-to-group", "{\"user\":\"" LEE_ID "\",\"group\":\"Engineering\"}", "[]");
    run_dry("remove-from-group", "{\"user\":\"" LEE_ID "\",\"group\":\"Engineering\"}",
            "[{\"method\":\"DELETE\",\"path\":\"/groups/" ENGINEERING "/members/" LEE_ID
            "/$ref\",\"body\":null}]");
    snprintf(plan, sizeof(plan),
             "[{\"method\":\"PUT\",\"path\":\"/users/" ADELE_ID "/manager/$ref\","
             "\"body\":{\"@odata.id\":\"%s/users/" PATTI_ID "\"}}]",
             F.sim.base_url);
    run_dry("set-manager", "{\"user\":\"" ADELE_ID "\",\"manager\":\"" PATTI_ID "\"}", plan);
    /* http-request sends nothing at all: not even to a port nobody listens on. */
    int port = closed_port();
    snprintf(args, sizeof(args),
             "{\"url\":\"http://127.0.0.1:%d/hook\",\"body\":{\"text\":\"hi\"}}", port);
    snprintf(plan, sizeof(plan),
             "[{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/hook\","
             "\"body\":{\"text\":\"hi\"}}]",
             port);
    run_dry("http-request", args, plan);
}

/* }====== */

/* {====== races: two runs of one action in the same loop turn ====== */

static int pending_runs;

static void on_done_pair(void *arg, const struct wr_action_outcome *out)
{
    struct result *r = arg;
    r->done = true;
    r->ok = out->ok;
    r->error = out->error ? strdup(out->error) : NULL;
    r->output = json_object_get(out->output);
    if (--pending_runs == 0) {
        event_base_loopexit(F.base, NULL);
    }
}

/*
 * Starts the same action twice before the loop runs: both read "not there yet", both write,
 * and Graph refuses the second write (duplicate member, conflicting role assignment, member
 * already gone). Both must succeed, exactly one with changed=true, with one mutation.
 */
static void run_pair(const char *action, const char *args)
{
    struct result r[2];
    struct json_object *jargs = json_tokener_parse(args);
    struct wr_action_env env = {.base = F.base, .graph = F.g, .dir = F.dir};
    int64_t m0 = sim_stat(&F.sim, "mutations");
    memset(r, 0, sizeof(r));
    pending_runs = 2;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(wr_action_start(&env, wr_action_find(action), jargs, on_done_pair, &r[i]),
                         0);
    }
    json_object_put(jargs);
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {10, 0};
    evtimer_add(deadline, &tv);
    event_base_dispatch(F.base);
    event_free(deadline);
    int changed = 0;
    for (int i = 0; i < 2; i++) {
        assert_true(r[i].done);
        if (!r[i].ok) {
            fail_msg("%s run %d failed: %s", action, i, r[i].error);
        }
        changed += json_object_get_boolean(json_object_object_get(r[i].output, "changed"));
        result_clear(&r[i]);
    }
    assert_int_equal(changed, 1);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);
}

static void test_races(void **state)
{
    (void)state;
    run_pair("add-to-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Engineering\"}");
    assert_true(is_member(ENGINEERING, ADELE_ID));
    run_pair("remove-from-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Engineering\"}");
    assert_false(is_member(ENGINEERING, ADELE_ID));
    run_pair("set-role", "{\"user\":\"" ALEX_ID "\",\"role\":\"Global Reader\"}");
    run_pair("remove-role", "{\"user\":\"" ALEX_ID "\",\"role\":\"Global Reader\"}");
    run_pair("delete-user", "{\"user\":\"" LIDIA_ID "\"}");
}

/* }====== */

/* {====== the Graph requests a step made, in its output ====== */

/* graphsim's log entries after seq since (owned array). */
static struct json_object *log_after(int64_t since)
{
    struct json_object *log = sim_log(&F.sim), *out = json_object_new_array();
    for (size_t i = 0; i < array_len(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i);
        if (json_object_get_int64(json_object_object_get(e, "seq")) > since) {
            json_object_array_add(out, json_object_get(e));
        }
    }
    json_object_put(log);
    return out;
}

static const char *log_crid(struct json_object *e)
{
    return jstr(json_object_object_get(e, "headers"), "client-request-id");
}

/*
 * Every entry of out["graph"] is a Graph request graphsim logged after since (alone, or as an
 * item of a $batch, whose ids it has), with the method, path, status, request-id and
 * client-request-id graphsim saw and answered, and nothing else; none holds theirs in its path
 * (NULL: not checked). mine names the step in messages. Returns how many entries there are.
 */
static size_t check_trace(struct json_object *out, int64_t since, const char *mine,
                          const char *theirs)
{
    struct json_object *graph = json_object_object_get(out, "graph");
    struct json_object *log = log_after(since);
    size_t n = array_len(graph);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(graph, i);
        const char *crid = jstr(e, "client_request_id"), *path = jstr(e, "path");
        struct json_object *hit = NULL;
        char full[1024];
        assert_int_equal(json_object_object_length(e), 5);
        if (!crid || !path) {
            fail_msg("%s's trace has an entry without its path or client-request-id", mine);
            return 0;
        }
        snprintf(full, sizeof(full), "/v1.0%s", path);
        if (theirs && strstr(path, theirs)) {
            fail_msg("%s's trace holds another step's request %s", mine, path);
        }
        for (size_t j = 0; !hit && j < array_len(log); j++) {
            struct json_object *l = json_object_array_get_idx(log, j);
            if (json_object_get_boolean(json_object_object_get(l, "batch")) || !log_crid(l) ||
                strcmp(log_crid(l), crid) != 0) {
                continue;
            }
            assert_string_equal(jstr(l, "request_id"), jstr(e, "request_id"));
            if (strcmp(jstr(l, "path"), "/v1.0/$batch") != 0) {
                hit = l;
                continue;
            }
            int64_t parent = json_object_get_int64(json_object_object_get(l, "seq"));
            for (size_t k = 0; !hit && k < array_len(log); k++) {
                struct json_object *it = json_object_array_get_idx(log, k);
                if (json_object_get_boolean(json_object_object_get(it, "batch")) &&
                    json_object_get_int64(json_object_object_get(it, "batch_parent")) == parent &&
                    strcmp(jstr(it, "path"), full) == 0 &&
                    strcmp(jstr(it, "method"), jstr(e, "method")) == 0) {
                    hit = it;
                }
            }
        }
        if (!hit) {
            fail_msg("trace entry %s %s (client-request-id %s) is not in graphsim's log",
                     jstr(e, "method"), path, crid);
        }
        assert_string_equal(jstr(hit, "method"), jstr(e, "method"));
        assert_string_equal(jstr(hit, "path"), full);
        assert_int_equal(json_object_get_int(json_object_object_get(hit, "status")),
                         json_object_get_int(json_object_object_get(e, "status")));
    }
    json_object_put(log);
    return n;
}

/* Graph requests graphsim logged after since: alone or as $batch items (not the envelopes,
   not the token endpoint). */
static size_t graph_requests_after(int64_t since)
{
    struct json_object *log = log_after(since);
    size_t n = 0;
    for (size_t j = 0; j < array_len(log); j++) {
        const char *p = jstr(json_object_array_get_idx(log, j), "path");
        n += strncmp(p, "/v1.0/", 6) == 0 && strcmp(p, "/v1.0/$batch") != 0;
    }
    json_object_put(log);
    return n;
}

/* Two actions at once on one client and one directory: their outputs (owned, in out). */
static void run_two(const char *action0, const char *args0, const char *action1, const char *args1,
                    struct result r[2])
{
    const char *actions[2] = {action0, action1}, *args[2] = {args0, args1};
    struct wr_action_env env = {.base = F.base, .graph = F.g, .dir = F.dir};
    memset(r, 0, 2 * sizeof(*r));
    pending_runs = 2;
    for (int i = 0; i < 2; i++) {
        struct json_object *j = json_tokener_parse(args[i]);
        assert_int_equal(wr_action_start(&env, wr_action_find(actions[i]), j, on_done_pair, &r[i]),
                         0);
        json_object_put(j);
    }
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {10, 0};
    evtimer_add(deadline, &tv);
    event_base_dispatch(F.base);
    event_free(deadline);
    for (int i = 0; i < 2; i++) {
        if (!r[i].done || !r[i].ok) {
            fail_msg("%s: %s", actions[i], r[i].error ? r[i].error : "did not finish");
        }
    }
}

/* A successful step's output says which Graph requests it made, with the ids Microsoft support
 * asks for, as graphsim saw them; steps running side by side (sharing the SKU read and $batch
 * calls) each list their own; a dry run's output is unchanged. */
static void test_graph_trace(void **state)
{
    struct result r, two[2];
    (void)state;

    /* Side by side: lookups in one $batch, one subscribedSkus read for both. */
    int64_t seq = sim_last_seq(&F.sim);
    run_two("assign-license",
            "{\"user\":\"" LIDIA_ID "\",\"add\":[\"EXCHANGESTANDARD\"],\"usage_location\":\"DE\"}",
            "assign-license",
            "{\"user\":\"" PRADEEP_ID "\",\"add\":[\"EXCHANGESTANDARD\"],"
            "\"usage_location\":\"DE\"}",
            two);
    size_t n0 = check_trace(two[0].output, seq, LIDIA_ID, PRADEEP_ID);
    size_t n1 = check_trace(two[1].output, seq, PRADEEP_ID, LIDIA_ID);
    /* lookup, PATCH and assignLicense each, and the SKUs once, read by one for both. */
    assert_int_equal(n0 + n1, 7);
    assert_int_equal(graph_requests_after(seq), 7);
    result_clear(&two[0]);
    result_clear(&two[1]);
    seq = sim_last_seq(&F.sim);
    run_two("update-user", "{\"user\":\"" ADELE_ID "\",\"set\":{\"jobTitle\":\"T1\"}}",
            "update-user", "{\"user\":\"" MEGAN_ID "\",\"set\":{\"jobTitle\":\"T2\"}}", two);
    assert_int_equal(check_trace(two[0].output, seq, ADELE_ID, MEGAN_ID), 2);
    assert_int_equal(check_trace(two[1].output, seq, MEGAN_ID, ADELE_ID), 2);
    result_clear(&two[0]);
    result_clear(&two[1]);

    /* Alone (the SKUs cached now): the lookup, usageLocation first, then assignLicense. */
    seq = sim_last_seq(&F.sim);
    run_ok(&r, "assign-license",
           "{\"user\":\"lee.gu" DOMAIN
           "\",\"add\":[\"EXCHANGESTANDARD\"],\"usage_location\":\"DE\"}",
           false);
    assert_int_equal(check_trace(r.output, seq, LEE_ID, NULL), 3);
    assert_int_equal(graph_requests_after(seq), 3);
    struct json_object *graph = json_object_object_get(r.output, "graph");
    assert_string_equal(jstr(json_object_array_get_idx(graph, 0), "path"),
                        "/users/lee.gu%40contoso.onmicrosoft.com?$select=id,assignedLicenses,"
                        "licenseAssignmentStates,usageLocation");
    assert_string_equal(jstr(json_object_array_get_idx(graph, 1), "method"), "PATCH");
    assert_string_equal(jstr(json_object_array_get_idx(graph, 2), "path"),
                        "/users/" LEE_ID "/assignLicense");
    assert_int_equal(
        json_object_get_int(json_object_object_get(json_object_array_get_idx(graph, 2), "status")),
        200);
    assert_null(json_object_object_get(r.output, "graph_omitted"));
    /* Nothing secret in it: no token, no secret, no Authorization. */
    const char *text = json_object_to_json_string(r.output);
    assert_null(strstr(text, "Bearer"));
    assert_null(strstr(text, SECRET));
    assert_null(strstr(text, "eyJ"));
    result_clear(&r);

    /* A dry run's output is as it was: no "graph". */
    run_ok(&r, "update-user", "{\"user\":\"" ADELE_ID "\",\"set\":{\"city\":\"Oslo\"}}", true);
    assert_null(json_object_object_get(r.output, "graph"));
    result_clear(&r);
}

/* }====== */

/* {====== directory: caches, delivery, ambiguity ====== */

static int64_t fake_now;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

struct lookup_result {
    bool done;
    bool ok;
    bool not_found;
    bool later_turn;
    int64_t created_ago_ms;
    char id[64];
    char error[512];
};

static bool in_lookup;

static void on_lookup(void *arg, const struct wr_directory_result *r)
{
    struct lookup_result *lr = arg;
    lr->done = true;
    lr->ok = r->ok;
    lr->not_found = r->not_found;
    lr->later_turn = !in_lookup;
    lr->created_ago_ms = r->created_ago_ms;
    snprintf(lr->id, sizeof(lr->id), "%s", r->id ? r->id : "");
    snprintf(lr->error, sizeof(lr->error), "%s", r->error ? r->error : "");
    event_base_loopexit(F.base, NULL);
}

enum lookup_kind { L_SKU, L_ROLE, L_GROUP, L_USER };

/* One lookup to completion; returns the Graph client's HTTP transfers it cost. */
static uint64_t lookup(struct wr_directory *d, enum lookup_kind kind, const char *name,
                       struct lookup_result *lr)
{
    struct wr_graph_stats before, after;
    wr_graph_get_stats(F.g, &before);
    memset(lr, 0, sizeof(*lr));
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {10, 0};
    evtimer_add(deadline, &tv);
    in_lookup = true;
    switch (kind) {
    case L_SKU:
        assert_int_equal(wr_directory_sku(d, name, on_lookup, lr), 0);
        break;
    case L_ROLE:
        assert_int_equal(wr_directory_role(d, name, on_lookup, lr), 0);
        break;
    case L_GROUP:
        assert_int_equal(wr_directory_group(d, name, on_lookup, lr), 0);
        break;
    case L_USER:
        assert_int_equal(wr_directory_user(d, name, "employeeId", on_lookup, lr), 0);
        break;
    }
    in_lookup = false;
    event_base_dispatch(F.base);
    event_free(deadline);
    assert_true(lr->done);
    assert_true(lr->later_turn);
    wr_graph_get_stats(F.g, &after);
    return after.requests - before.requests;
}

static void test_directory(void **state)
{
    struct lookup_result lr;
    (void)state;
    struct wr_directory_options o = {
        .base_url = F.sim.base_url,
        .cache_ttl_ms = 1000,
        .now_ms = fake_clock,
    };
    struct wr_directory *d = wr_directory_new(F.base, F.g, &o);
    fake_now = 0;

    /* SKUs: one read, then the cache (delivered on a later turn all the same) until the TTL. */
    assert_int_equal(lookup(d, L_SKU, "SPE_E3", &lr), 1);
    assert_true(lr.ok);
    assert_string_equal(lr.id, SPE_E3);
    assert_int_equal(lookup(d, L_SKU, SPE_E5, &lr), 0);
    assert_string_equal(lr.id, SPE_E5);
    assert_int_equal(lookup(d, L_SKU, "NOPE", &lr), 0);
    assert_true(lr.not_found);
    fake_now = 1000;
    assert_int_equal(lookup(d, L_SKU, "SPE_E3", &lr), 1);

    /* Roles and groups are cached by the name used. */
    assert_int_equal(lookup(d, L_ROLE, "Global Reader", &lr), 1);
    assert_string_equal(lr.id, "f2ef992c-3afb-46b9-b7cf-a126ee74c451");
    assert_int_equal(lookup(d, L_ROLE, "Global Reader", &lr), 0);
    /* A custom role by templateId: GET by id is 404, the templateId filter finds it. */
    assert_int_equal(lookup(d, L_ROLE, CUSTOM_TEMPLATE, &lr), 2);
    assert_string_equal(lr.id, CUSTOM_ID);
    assert_int_equal(lookup(d, L_GROUP, "Sales", &lr), 1);
    assert_string_equal(lr.id, SALES);
    assert_int_equal(lookup(d, L_GROUP, "sales", &lr), 0);
    fake_now = 5000;
    assert_int_equal(lookup(d, L_GROUP, "Sales", &lr), 1);

    /* Users are never cached: an action compares their current values. */
    assert_int_equal(lookup(d, L_USER, "employeeId:E1004", &lr), 1);
    assert_string_equal(lr.id, ADELE_ID);
    assert_int_equal(lookup(d, L_USER, "employeeId:E1004", &lr), 1);
    /* UPNs are case-insensitive. */
    assert_int_equal(lookup(d, L_USER, "ADELE.VANCE" DOMAIN, &lr), 1);
    assert_string_equal(lr.id, ADELE_ID);
    /* A mail address that is no UPN: the 404 falls back to a mail filter. */
    struct result r;
    assert_true(run_ok(&r, "update-user",
                       "{\"user\":\"" ADELE_ID "\",\"set\":{\"mail\":\"adele@contoso.com\"}}",
                       false));
    result_clear(&r);
    assert_int_equal(lookup(d, L_USER, "adele@contoso.com", &lr), 2);
    assert_true(lr.ok);
    assert_string_equal(lr.id, ADELE_ID);
    /* An OData literal with a quote in it is escaped, not broken. */
    assert_int_equal(lookup(d, L_USER, "employeeId:O'Brien", &lr), 1);
    assert_true(lr.not_found);
    assert_int_equal(lookup(d, L_GROUP, "Bob's group", &lr), 1);
    assert_true(lr.not_found);

    /* Two users with one employeeId: an error naming the ambiguity. */
    assert_true(run_ok(&r, "create-user",
                       "{\"set\":{\"userPrincipalName\":\"twin" DOMAIN "\",\"displayName\":"
                       "\"Twin\",\"mailNickname\":\"twin\",\"employeeId\":\"E1004\"}}",
                       false));
    result_clear(&r);
    assert_int_equal(lookup(d, L_USER, "employeeId:E1004", &lr), 1);
    assert_false(lr.ok);
    assert_non_null(strstr(lr.error, "ambiguous: 2 users have employeeId 'E1004'"));
    run_fail(&r, "disable-user", "{\"user\":\"employeeId:E1004\"}", "ambiguous");
    result_clear(&r);

    /* A reference that is none of the four forms is refused at once. */
    assert_int_equal(wr_directory_user(d, "adele", NULL, on_lookup, &lr), -1);
    assert_int_equal(wr_directory_user(d, "employeeId:", NULL, on_lookup, &lr), -1);

    /* Replica lag: what weir created is remembered by id, UPN and employeeId (any case) for
       the window, and a lookup that finds none of them says how long ago. */
    fake_now = 100000;
    assert_int_equal(wr_directory_created_ago(d, "ghost" DOMAIN), -1);
    wr_directory_note_created(d, "00000000-1111-4222-8333-444444444444", "Ghost" DOMAIN, "G-1");
    fake_now += 2500;
    assert_int_equal(wr_directory_created_ago(d, "GHOST" DOMAIN), 2500);
    assert_int_equal(wr_directory_created_ago(d, "00000000-1111-4222-8333-444444444444"), 2500);
    assert_int_equal(wr_directory_created_ago(d, "employeeid:g-1"), 2500);
    assert_int_equal(wr_directory_created_ago(d, "employeeId:G-2"), -1);
    assert_int_equal(lookup(d, L_USER, "ghost" DOMAIN, &lr), 2); /* by UPN, then by mail */
    assert_true(lr.not_found);
    assert_int_equal(lr.created_ago_ms, 2500);
    assert_int_equal(lookup(d, L_USER, "employeeId:NOPE", &lr), 1);
    assert_int_equal(lr.created_ago_ms, -1);
    wr_directory_note_location(d, ADELE_ID);
    assert_int_equal(wr_directory_location_ago(d, ADELE_ID), 0);
    assert_int_equal(wr_directory_location_ago(d, LEE_ID), -1);
    /* The window ends: a 404 is an answer again (and the records are pruned). */
    fake_now += WR_DIRECTORY_REPLICA_WINDOW_MS;
    assert_int_equal(wr_directory_created_ago(d, "ghost" DOMAIN), -1);
    assert_int_equal(wr_directory_location_ago(d, ADELE_ID), -1);
    wr_directory_note_created(d, NULL, "later" DOMAIN, NULL);
    assert_int_equal(wr_directory_created_ago(d, "later" DOMAIN), 0);
    assert_int_equal(wr_directory_created_ago(d, "ghost" DOMAIN), -1);
    wr_directory_free(d);
}

/* }====== */

/* {====== retriable failures ====== */

static void test_retriable(void **state)
{
    struct result r;
    (void)state;
    /* Every Graph request answers 503: after the client's own attempts the action fails,
       retriable, with Graph's status and code. */
    start_with("--fail-every", 2);
    run_fail(&r, "disable-user", "{\"user\":\"" ADELE_ID "\"}", "Graph 503");
    assert_true(r.retriable);
    result_clear(&r);
    teardown(NULL);
}

/* }====== */

/* {====== the undo record (issue 18): before, undo, undo_impossible ====== */

/* Every undo step the actions gave, for test_undo_steps_load. */
static struct json_object *undo_steps;

/* Whether two arrays hold the same members, in any order. */
static bool same_members(struct json_object *a, struct json_object *b)
{
    if (array_len(a) != array_len(b)) {
        return false;
    }
    for (size_t i = 0; i < array_len(a); i++) {
        bool found = false;
        for (size_t j = 0; !found && j < array_len(b); j++) {
            found =
                json_object_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, j));
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* Fails naming the first property in which graphsim's view of a user differs between a and b:
   lists in any order; licenseAssignmentStates (its times move) by assignedLicenses alone. */
static void user_same(struct json_object *a, struct json_object *b, const char *what)
{
    assert_non_null(a);
    assert_non_null(b);
    for (int pass = 0; pass < 2; pass++) {
        json_object_object_foreach(pass ? b : a, key, val)
        {
            struct json_object *other = json_object_object_get(pass ? a : b, key);
            if (strcmp(key, "licenseAssignmentStates") == 0) {
                continue;
            }
            bool same = json_object_is_type(val, json_type_array) ? same_members(val, other)
                                                                  : json_object_equal(val, other);
            if (!same) {
                fail_msg(
                    "after undoing %s, '%s' is %s, was %s", what, key,
                    json_object_to_json_string_ext(pass ? val : other, JSON_C_TO_STRING_PLAIN),
                    json_object_to_json_string_ext(pass ? other : val, JSON_C_TO_STRING_PLAIN));
            }
        }
    }
}

/* Runs one undo step (a step mapping) as the executor would: its action with the rest as
   arguments; returns output["changed"]. */
static bool run_step(struct json_object *step)
{
    struct result r;
    struct json_object *args = json_object_new_object();
    json_object_object_foreach(step, key, val)
    {
        if (strcmp(key, "action") != 0) {
            json_object_object_add(args, key, json_object_get(val));
        }
    }
    bool changed = run_ok(&r, jstr(step, "action"),
                          json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), false);
    json_object_put(args);
    result_clear(&r);
    return changed;
}

/* Checks r's undo record against want_undo and want_before (JSON texts; want_before NULL = not
   checked) and keeps its steps for test_undo_steps_load. */
static void check_record(struct result *r, const char *what, const char *want_undo,
                         const char *want_before)
{
    struct json_object *undo = json_object_object_get(r->output, "undo");
    struct json_object *want = json_tokener_parse(want_undo);
    assert_non_null(want);
    if (!json_object_equal(undo, want)) {
        fail_msg("undo of %s:\n got %s\nwant %s", what,
                 json_object_to_json_string_ext(undo, JSON_C_TO_STRING_PLAIN), want_undo);
    }
    json_object_put(want);
    if (want_before) {
        struct json_object *before = json_object_object_get(r->output, "before");
        want = json_tokener_parse(want_before);
        assert_non_null(want);
        if (!json_object_equal(before, want)) {
            fail_msg("before of %s:\n got %s\nwant %s", what,
                     json_object_to_json_string_ext(before, JSON_C_TO_STRING_PLAIN), want_before);
        }
        json_object_put(want);
    }
    for (size_t i = 0; i < array_len(undo); i++) {
        json_object_array_add(undo_steps, json_object_get(json_object_array_get_idx(undo, i)));
    }
}

/*
 * The undo contract for one action: it changes something; its output's undo is want_undo and
 * its before want_before; running the undo steps puts every user in users (NULL-terminated ids)
 * back as graphsim saw them before, field by field; running them again changes nothing; and
 * the action run again changes nothing and gives undo [].
 */
static void undo_roundtrip(const char *action, const char *args, const char *const *users,
                           const char *want_undo, const char *want_before)
{
    struct result r;
    struct json_object *before[8] = {0};
    size_t n = 0;
    for (; users[n]; n++) {
        before[n] = sim_user(&F.sim, users[n]);
    }
    if (!run_ok(&r, action, args, false)) {
        fail_msg("%s %s changed nothing", action, args);
    }
    assert_null(json_object_object_get(r.output, "undo_impossible"));
    check_record(&r, action, want_undo, want_before);
    struct json_object *undo = json_object_get(json_object_object_get(r.output, "undo"));
    result_clear(&r);
    for (size_t i = 0; i < array_len(undo); i++) {
        if (!run_step(json_object_array_get_idx(undo, i))) {
            fail_msg("undo step %zu of %s changed nothing", i, action);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *now = sim_user(&F.sim, users[i]);
        user_same(before[i], now, action);
        json_object_put(now);
        json_object_put(before[i]);
    }
    /* Undoing twice changes nothing the second time. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    for (size_t i = 0; i < array_len(undo); i++) {
        assert_false(run_step(json_object_array_get_idx(undo, i)));
    }
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
    json_object_put(undo);
}

/* An action that changes nothing records undo [] (and keeps no undo_impossible). */
static void undo_none(const char *action, const char *args)
{
    struct result r;
    assert_false(run_ok(&r, action, args, false));
    check_record(&r, action, "[]", NULL);
    assert_null(json_object_object_get(r.output, "undo_impossible"));
    result_clear(&r);
}

static void test_undo_records(void **state)
{
    struct result r;
    (void)state;
    const char *const adele[] = {ADELE_ID, NULL};

    /* update-user: the old values, null for a property that had none. */
    undo_roundtrip("update-user",
                   "{\"user\":\"adele.vance" DOMAIN "\",\"set\":{\"jobTitle\":\"Engineer\","
                   "\"city\":\"Bellevue\",\"mobilePhone\":\"+1 425 555 0199\"}}",
                   adele,
                   "[{\"action\":\"update-user\",\"user\":\"" ADELE_ID "\",\"set\":{\"jobTitle\":"
                   "\"Retail Manager\",\"mobilePhone\":null}}]",
                   "{\"jobTitle\":\"Retail Manager\",\"mobilePhone\":null}");
    undo_none("update-user", "{\"user\":\"" ADELE_ID "\",\"set\":{\"city\":\"Bellevue\"}}");
    /* A usageLocation the user did not have cannot be cleared again; a password not read. */
    assert_true(run_ok(&r, "update-user",
                       "{\"user\":\"" LIDIA_ID "\",\"set\":{\"usageLocation\":\"DE\",\"city\":"
                       "\"Berlin\",\"passwordProfile\":{\"password\":\"x-Secret-99!\"}}}",
                       false));
    check_record(&r, "update-user (usageLocation)",
                 "[{\"action\":\"update-user\",\"user\":\"" LIDIA_ID
                 "\",\"set\":{\"city\":\"Tulsa\"}}]",
                 "{\"usageLocation\":null,\"city\":\"Tulsa\"}");
    assert_non_null(strstr(jstr(r.output, "undo_impossible"), "usageLocation it set stays"));
    assert_non_null(strstr(jstr(r.output, "undo_impossible"), "old password"));
    result_clear(&r);

    /* disable-user and enable-user undo each other. */
    undo_roundtrip("disable-user", "{\"user\":\"" ADELE_ID "\"}", adele,
                   "[{\"action\":\"enable-user\",\"user\":\"" ADELE_ID "\"}]",
                   "{\"accountEnabled\":true}");
    const char *const pradeep[] = {PRADEEP_ID, NULL};
    undo_roundtrip("enable-user", "{\"user\":\"employeeId:E1011\"}", pradeep,
                   "[{\"action\":\"disable-user\",\"user\":\"" PRADEEP_ID "\"}]",
                   "{\"accountEnabled\":false}");
    undo_none("enable-user", "{\"user\":\"" ADELE_ID "\"}");

    /* assign-license: the added SKU removed, the removed one added back with its plans. */
    undo_roundtrip(
        "assign-license",
        "{\"user\":\"" ADELE_ID "\",\"add\":[\"SPE_E5\"],\"remove\":[\"SPE_E3\"]}", adele,
        "[{\"action\":\"assign-license\",\"user\":\"" ADELE_ID "\",\"remove\":[\"" SPE_E5 "\"]},"
        "{\"action\":\"assign-license\",\"user\":\"" ADELE_ID "\",\"add\":[\"" SPE_E3 "\"],"
        "\"disabled_plans\":[]}]",
        "{\"licenses\":[{\"skuId\":\"" SPE_E5 "\",\"direct\":false,\"inheritedFrom\":[]},"
        "{\"skuId\":\"" SPE_E3 "\",\"direct\":true,\"disabledPlans\":[],\"inheritedFrom\":[]}]}");
    /* Disabled plans changed on a SKU held: put back as they were. */
    const char *const alex[] = {ALEX_ID, NULL};
    undo_roundtrip(
        "assign-license",
        "{\"user\":\"" ALEX_ID "\",\"add\":[\"SPE_E3\"],\"disabled_plans\":[\"" TEAMS1 "\"]}", alex,
        "[{\"action\":\"assign-license\",\"user\":\"" ALEX_ID "\",\"add\":[\"" SPE_E3
        "\"],\"disabled_plans\":[]}]",
        NULL);
    /* The usageLocation set first cannot be cleared again (graphsim, like Graph, takes no
       null for it): undone is the licence, and the rest is said. */
    assert_true(run_ok(&r, "assign-license",
                       "{\"user\":\"" LEE_ID
                       "\",\"add\":[\"EXCHANGESTANDARD\"],\"usage_location\":\"DE\"}",
                       false));
    check_record(
        &r, "assign-license (usage_location)",
        "[{\"action\":\"assign-license\",\"user\":\"" LEE_ID "\",\"remove\":[\"" EXCH_STD "\"]}]",
        "{\"licenses\":[{\"skuId\":\"" EXCH_STD "\",\"direct\":false,\"inheritedFrom\":[]}],"
        "\"usageLocation\":null}");
    assert_non_null(strstr(jstr(r.output, "undo_impossible"), "usageLocation"));
    result_clear(&r);
    undo_none("assign-license", "{\"user\":\"" ADELE_ID "\",\"add\":[\"SPE_E3\"]}");

    /* remove-all-licenses: each licence added back with its disabled plans. */
    const char *const miriam[] = {MIRIAM_ID, NULL};
    undo_roundtrip("remove-all-licenses", "{\"user\":\"miriam.graham" DOMAIN "\"}", miriam,
                   "[{\"action\":\"assign-license\",\"user\":\"" MIRIAM_ID "\",\"add\":[\"" SPE_E5
                   "\"],\"disabled_plans\":[]},"
                   "{\"action\":\"assign-license\",\"user\":\"" MIRIAM_ID "\",\"add\":[\"" PBI_PRO
                   "\"],\"disabled_plans\":[]}]",
                   NULL);
    undo_none("remove-all-licenses", "{\"user\":\"" LIDIA_ID "\"}");

    /* add-to-group and remove-from-group undo each other. */
    undo_roundtrip("add-to-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Engineering\"}", adele,
                   "[{\"action\":\"remove-from-group\",\"user\":\"" ADELE_ID
                   "\",\"group\":\"" ENGINEERING "\"}]",
                   "{\"member\":false}");
    undo_roundtrip("remove-from-group", "{\"user\":\"" MIRIAM_ID "\",\"group\":\"Sales\"}", miriam,
                   "[{\"action\":\"add-to-group\",\"user\":\"" MIRIAM_ID "\",\"group\":\"" SALES
                   "\"}]",
                   "{\"member\":true}");
    undo_none("remove-from-group", "{\"user\":\"" ADELE_ID "\",\"group\":\"Sales\"}");

    /* set-role: a remove-role of the active assignment only; remove-role: a set-role. */
    undo_roundtrip("set-role", "{\"user\":\"" ADELE_ID "\",\"role\":\"Helpdesk Administrator\"}",
                   adele,
                   "[{\"action\":\"remove-role\",\"user\":\"" ADELE_ID "\",\"role\":\"" HELPDESK
                   "\",\"scope\":\"/\",\"pim\":false}]",
                   "{\"assigned\":false}");
    const char *const nestor[] = {NESTOR_ID, NULL};
    undo_roundtrip("remove-role",
                   "{\"user\":\"" NESTOR_ID "\",\"role\":\"User Administrator\",\"pim\":false}",
                   nestor,
                   "[{\"action\":\"set-role\",\"user\":\"" NESTOR_ID "\",\"role\":\"" USER_ADMIN
                   "\",\"scope\":\"/\"}]",
                   NULL);
    /* PIM schedules cannot be made again: said, not skipped. Alex's User Administrator role is
       eligible and time-bound only. */
    assert_true(
        run_ok(&r, "remove-role", "{\"user\":\"" ALEX_ID "\",\"role\":\"" USER_ADMIN "\"}", false));
    check_record(&r, "remove-role (PIM)", "[]",
                 "{\"assignments\":[],\"eligible\":[\"7c1e5f0a-2b3d-4e6f-8a9b-0c1d2e3f4a5b\"],"
                 "\"timeBound\":[\"9e3a7b2c-4d5f-4a81-8cbd-2e3f4a5b6c7d\"]}");
    assert_non_null(strstr(jstr(r.output, "undo_impossible"), "2 PIM eligible or time-bound"));
    result_clear(&r);

    /* set-manager: back to the previous manager, or to none. */
    undo_roundtrip("set-manager", "{\"user\":\"" ADELE_ID "\",\"manager\":\"" PATTI_ID "\"}", adele,
                   "[{\"action\":\"set-manager\",\"user\":\"" ADELE_ID "\",\"manager\":\"" MEGAN_ID
                   "\"}]",
                   "{\"managerId\":\"" MEGAN_ID "\"}");
    undo_roundtrip("set-manager", "{\"user\":\"" PRADEEP_ID "\",\"manager\":\"" PATTI_ID "\"}",
                   pradeep,
                   "[{\"action\":\"set-manager\",\"user\":\"" PRADEEP_ID "\",\"manager\":null}]",
                   "{\"managerId\":null}");
    undo_none("set-manager", "{\"user\":\"" PRADEEP_ID "\",\"manager\":null}");
    undo_none("set-manager", "{\"user\":\"" ADELE_ID "\",\"manager\":\"" MEGAN_ID "\"}");

    /* create-user: a delete-user of the new id. */
    assert_true(run_ok(&r, "create-user",
                       "{\"set\":{\"userPrincipalName\":\"undo.me" DOMAIN "\",\"displayName\":"
                       "\"Undo Me\",\"mailNickname\":\"undo.me\"}}",
                       false));
    char *made = strdup(jstr(r.output, "id"));
    char want[256];
    snprintf(want, sizeof(want), "[{\"action\":\"delete-user\",\"user\":\"%s\"}]", made);
    check_record(&r, "create-user", want, "{\"existed\":false}");
    result_clear(&r);
    snprintf(want, sizeof(want), "{\"user\":\"%s\"}", made);
    assert_true(run_ok(&r, "delete-user", want, false));
    result_clear(&r);
    assert_null(sim_user(&F.sim, made));
    free(made);

    /* delete-user: a restore-user, which brings back the licences, groups, roles and PIM
       schedules. Nestor has them all and a manager. */
    undo_roundtrip("delete-user", "{\"user\":\"nestor.wilke" DOMAIN "\"}", nestor,
                   "[{\"action\":\"restore-user\",\"user\":\"" NESTOR_ID "\"}]",
                   "{\"id\":\"" NESTOR_ID "\",\"userPrincipalName\":\"nestor.wilke" DOMAIN "\"}");
    assert_int_equal(schedules_of("roleEligibilitySchedules", NESTOR_ID), 1);
    undo_none("delete-user", "{\"user\":\"00000000-1111-4222-8333-444444444444\"}");

    /* What cannot be undone says so instead. */
    assert_true(run_ok(&r, "revoke-sessions", "{\"user\":\"" ADELE_ID "\"}", false));
    assert_null(json_object_object_get(r.output, "undo"));
    assert_non_null(strstr(jstr(r.output, "undo_impossible"), "cannot be restored"));
    result_clear(&r);
    char args[256];
    snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%d/_sim/health\"}", F.sim.port);
    assert_true(run_ok(&r, "http-request", args, false));
    assert_null(json_object_object_get(r.output, "undo"));
    assert_non_null(strstr(jstr(r.output, "undo_impossible"), "cannot be undone"));
    result_clear(&r);
}

/* Sends one Graph request through the test's client and returns its status. */
static long graph_status(const char *method, const char *path)
{
    struct graph_answer {
        bool done;
        long status;
    } a = {0};
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {10, 0};
    evtimer_add(deadline, &tv);
    assert_int_equal(wr_graph_request(F.g, method, path, NULL, 0, on_graph_status, &a), 0);
    event_base_dispatch(F.base);
    event_free(deadline);
    assert_true(a.done);
    return a.status;
}

static void test_restore_user(void **state)
{
    struct result r;
    (void)state;
    struct json_object *before = sim_user(&F.sim, LIDIA_ID);

    /* Not deleted: success, nothing changed, nothing sent but the read. */
    int64_t m0 = sim_stat(&F.sim, "mutations");
    undo_none("restore-user", "{\"user\":\"" LIDIA_ID "\"}");
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);

    /* Deleted: in deletedItems, and restored (its undo deletes it again). */
    assert_true(run_ok(&r, "delete-user", "{\"user\":\"" LIDIA_ID "\"}", false));
    result_clear(&r);
    assert_int_equal(graph_status("GET", "/directory/deletedItems/" LIDIA_ID), 200);
    assert_int_equal(graph_status("GET", "/users/" LIDIA_ID), 404);
    /* A dry run plans the POST and sends nothing. */
    run_dry("restore-user", "{\"user\":\"" LIDIA_ID "\"}",
            "[{\"method\":\"POST\",\"path\":\"/directory/deletedItems/" LIDIA_ID
            "/restore\",\"body\":null}]");
    int64_t seq = sim_last_seq(&F.sim);
    assert_true(run_ok(&r, "restore-user", "{\"user\":\"" LIDIA_ID "\"}", false));
    check_record(&r, "restore-user", "[{\"action\":\"delete-user\",\"user\":\"" LIDIA_ID "\"}]",
                 "{\"deleted\":true}");
    assert_string_equal(jstr(r.output, "userPrincipalName"), "lidia.holloway" DOMAIN);
    result_clear(&r);
    char *log = sim_requests_since(&F.sim, seq);
    assert_non_null(strstr(log, "POST /v1.0/directory/deletedItems/" LIDIA_ID "/restore"));
    free(log);
    struct json_object *now = sim_user(&F.sim, LIDIA_ID);
    user_same(before, now, "delete-user");
    json_object_put(now);
    json_object_put(before);
    assert_int_equal(graph_status("GET", "/directory/deletedItems/" LIDIA_ID), 404);
    /* Already restored: success, unchanged. */
    undo_none("restore-user", "{\"user\":\"" LIDIA_ID "\"}");

    /* Gone for good (past Graph's 30 days): a clear error, in a dry run too. */
    assert_true(run_ok(&r, "delete-user", "{\"user\":\"" LIDIA_ID "\"}", false));
    result_clear(&r);
    assert_int_equal(graph_status("DELETE", "/directory/deletedItems/" LIDIA_ID), 204);
    run_fail(&r, "restore-user", "{\"user\":\"" LIDIA_ID "\"}",
             "is not in /directory/deletedItems (Graph keeps a deleted user for 30 days");
    assert_non_null(strstr(r.error, "Graph 404"));
    assert_false(r.retriable);
    result_clear(&r);
    run(&r, "restore-user", "{\"user\":\"" LIDIA_ID "\"}", true);
    assert_false(r.ok);
    assert_non_null(strstr(r.error, "30 days"));
    result_clear(&r);

    /* Not an object id: refused before anything is sent. */
    run_fail(&r, "restore-user", "{\"user\":\"lidia.holloway" DOMAIN "\"}",
             "needs the deleted user's object id");
    result_clear(&r);

    /* The UPN taken meanwhile: Graph's refusal. */
    assert_true(run_ok(&r, "delete-user", "{\"user\":\"" LEE_ID "\"}", false));
    result_clear(&r);
    assert_true(run_ok(&r, "create-user",
                       "{\"set\":{\"userPrincipalName\":\"lee.gu" DOMAIN "\",\"displayName\":"
                       "\"Lee Gu\",\"mailNickname\":\"lee.gu2\"}}",
                       false));
    result_clear(&r);
    run_fail(&r, "restore-user", "{\"user\":\"" LEE_ID "\"}", "Graph 400 Request_BadRequest");
    result_clear(&r);
}

/*
 * Every reverse step an action named in an undo array is a registered action whose argument
 * table and checks accept its arguments: the steps are loaded as a workflow, as `weir undo`'s
 * plan is run.
 */
static void test_undo_steps_load(void **state)
{
    (void)state;
    assert_true(array_len(undo_steps) >= 15);
    struct json_object *wf = json_tokener_parse(
        "{\"name\":\"undo-plan\",\"trigger\":{\"schedule\":{\"cron\":\"0 3 * * *\"}}}");
    json_object_object_add(wf, "steps", json_object_get(undo_steps));
    const char *text = json_object_to_json_string_ext(wf, JSON_C_TO_STRING_PLAIN);
    struct wr_diags d = {0};
    struct wr_workflow *w = NULL;
    int rc = wr_workflow_parse("undo-plan.json", text, strlen(text), ".", NULL, &w, &d);
    if (rc != 0) {
        wr_diags_print(&d, stderr);
        fail_msg("the undo steps do not load as a workflow: %s", text);
    }
    /* Each is a registered action (the loader refuses others; said again for the reader). */
    for (size_t i = 0; i < array_len(undo_steps); i++) {
        assert_non_null(wr_action_find(jstr(json_object_array_get_idx(undo_steps, i), "action")));
    }
    /* And the loader refuses an argument an action does not take: this check can fail. */
    struct wr_workflow *bad = NULL;
    struct wr_diags d2 = {0};
    const char *wrong = "{\"name\":\"x\",\"trigger\":{\"schedule\":{\"cron\":\"0 3 * * *\"}},"
                        "\"steps\":[{\"action\":\"set-manager\",\"user\":\"" ADELE_ID "\","
                        "\"manager_id\":null}]}";
    assert_int_equal(wr_workflow_parse("bad.json", wrong, strlen(wrong), ".", NULL, &bad, &d2), -1);
    wr_diags_clear(&d2);
    wr_workflow_free(w);
    wr_diags_clear(&d);
    json_object_put(wf);
}

/* }====== */

/* Writes the test seed: the shared one plus a custom role whose id is not its templateId. */
static void write_seed(const char *src_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/graphsim/seed.json", src_dir);
    struct json_object *seed = json_object_from_file(path);
    if (!seed) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    struct json_object *role = json_tokener_parse(
        "{\"id\":\"" CUSTOM_ID "\",\"templateId\":\"" CUSTOM_TEMPLATE "\",\"displayName\":"
        "\"Weir Test Role\",\"description\":\"A custom role\",\"isBuiltIn\":false}");
    json_object_array_add(json_object_object_get(seed, "roleDefinitions"), role);
    int fd = mkstemp(seed_path);
    if (fd < 0 || json_object_to_fd(fd, seed, JSON_C_TO_STRING_PLAIN) != 0) {
        fprintf(stderr, "cannot write the test seed\n");
        exit(1);
    }
    close(fd);
    json_object_put(seed);
}

int main(int argc, char **argv)
{
    const char *src = getenv("WEIR_SOURCE_DIR");
    graphsim_path = argc > 1 ? argv[1] : getenv("WEIR_GRAPHSIM");
    if (!graphsim_path || !src) {
        fprintf(stderr, "usage: test_actions GRAPHSIM (with WEIR_SOURCE_DIR set)\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    write_seed(src);
    undo_steps = json_object_new_array();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disable_enable_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assign_license, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_all_licenses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_to_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_from_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_manager, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_request_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_races, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
        cmocka_unit_test(test_retriable),
        cmocka_unit_test(test_replica_lag),
        cmocka_unit_test(test_create_after_timeout),
        cmocka_unit_test_setup_teardown(test_group_licensing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_role_pim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wire_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undo_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_user, setup, teardown),
        cmocka_unit_test(test_undo_steps_load),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    json_object_put(undo_steps);
    unlink(seed_path);
    curl_global_cleanup();
    return failed;
}
