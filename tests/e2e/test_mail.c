/*
 * test_mail — end-to-end tests of send-mail and set-auto-reply (actions/mail.c) through the
 * runner (engine/exec/action_run.c), the directory and the Graph client against a real graphsim
 * process on 127.0.0.1 (its seed: tests/graphsim/seed.json).
 *
 * What is checked is what graphsim saw: the mails sendMail accepted (GET /_sim/mail), the
 * request log, the mutation count and the tenant. The no-double-send rule: a sendMail whose
 * answer is lost (graphsim timeout_next_send) fails the step non-retriably and graphsim got
 * exactly one POST; a throttled one (429 with Retry-After) is retried and sent once.
 * graphsim's path comes from argv[1] or WEIR_GRAPHSIM.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "actions/action.h"
#include "engine/base/strutil.h"
#include "engine/exec/action_run.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "sim.h"

#define CLIENT_ID "00000000-0000-0000-0000-000000000001"
#define SECRET    "sim-secret"
#define TENANT    "contoso.onmicrosoft.com"
#define DOMAIN    "@contoso.onmicrosoft.com"

#define ADELE_ID  "781f9c58-d664-4fa9-a8a8-529f035efa25"
#define ALEX_ID   "9b08923d-10c6-4fd9-94b2-b8fda02f34a6"
#define MEGAN_ID  "795b929e-9a9a-40fd-aa7b-5bf55eb561a4"
#define PATTI_ID  "21636369-8b52-4b4a-97b7-50923ceb3ffd"
#define NESTOR_ID "ed038db4-de38-4784-a6d0-b944a2863a7f"
#define LIDIA_ID  "3b5f3d86-268e-4c45-9c6b-f1e1a399f82a"

static const char *graphsim_path;
static char seed_path[4096];

/* {====== fixture ====== */

struct fixture {
    struct sim sim;
    struct event_base *base;
    struct wr_graph *g, *g_ro;
    struct wr_directory *dir, *dir_ro;
};

static struct fixture F;
static const char *mail_from; /* weir.yaml mail.from as the runner would pass it */

static void start_sim(int max_attempts, int64_t timeout_ms)
{
    char err[WR_ERR_MAX];
    memset(&F, 0, sizeof(F));
    mail_from = NULL;
    sim_start(&F.sim, graphsim_path, seed_path, NULL);
    F.base = event_base_new();
    struct wr_graph_options o = {
        .authority = F.sim.authority,
        .tenant = TENANT,
        .client_id = CLIENT_ID,
        .client_secret = SECRET,
        .base_url = F.sim.base_url,
        .max_attempts = max_attempts,
        .max_delay_ms = 5000,
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
}

static int setup(void **state)
{
    (void)state;
    start_sim(0, 0);
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

struct result {
    bool done, ok, retriable;
    char *error;
    struct json_object *output, *plan;
};

static void on_done(void *arg, const struct wr_action_outcome *out)
{
    struct result *r = arg;
    r->done = true;
    r->ok = out->ok;
    r->retriable = out->retriable;
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

static void run(struct result *r, const char *action, const char *args, bool dry)
{
    const struct wr_action *a = wr_action_find(action);
    struct json_object *jargs = json_tokener_parse(args);
    assert_non_null(a);
    if (!jargs) {
        fail_msg("bad test JSON: %s", args);
    }
    memset(r, 0, sizeof(*r));
    struct wr_action_env env = {
        .base = F.base,
        .graph = dry ? F.g_ro : F.g,
        .dir = dry ? F.dir_ro : F.dir,
        .dry_run = dry,
        .mail_from = mail_from,
    };
    struct event *deadline = evtimer_new(F.base, on_deadline, F.base);
    struct timeval tv = {15, 0};
    evtimer_add(deadline, &tv);
    assert_int_equal(wr_action_start(&env, a, jargs, on_done, r), 0);
    json_object_put(jargs);
    event_base_dispatch(F.base);
    event_free(deadline);
    if (!r->done) {
        fail_msg("%s did not finish within 15 s", action);
    }
}

static void run_ok(struct result *r, const char *action, const char *args, bool dry)
{
    run(r, action, args, dry);
    if (!r->ok) {
        fail_msg("%s %s failed: %s", action, args, r->error ? r->error : "(no error)");
    }
}

static void run_fail(struct result *r, const char *action, const char *args, const char *needle)
{
    run(r, action, args, false);
    if (r->ok) {
        fail_msg("%s %s succeeded: %s", action, args, json_object_to_json_string(r->output));
    }
    if (!strstr(r->error, needle)) {
        fail_msg("error of %s lacks '%s': %s", action, needle, r->error);
    }
}

static const char *jstr(struct json_object *o, const char *key)
{
    return json_object_get_string(json_object_object_get(o, key));
}

/* The mails graphsim accepted (owned array). */
static struct json_object *mails(void)
{
    long status = 0;
    struct json_object *o = sim_call(&F.sim, "GET", "/_sim/mail", &status);
    assert_int_equal(status, 200);
    struct json_object *v = json_object_get(json_object_object_get(o, "value"));
    json_object_put(o);
    return v;
}

static size_t mail_count(void)
{
    struct json_object *m = mails();
    size_t n = json_object_array_length(m);
    json_object_put(m);
    return n;
}

/* How many lines of the request log since seq contain needle. */
static int requests_with(int64_t since, const char *needle)
{
    char *log = sim_requests_since(&F.sim, since);
    if (getenv("WEIR_TEST_VERBOSE")) {
        fprintf(stderr, "%s", log);
    }
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    free(log);
    return n;
}

static void faults(const char *json)
{
    long status = 0;
    json_object_put(sim_call_body(&F.sim, "POST", "/_sim/faults", json, &status));
    assert_int_equal(status, 200);
}

/* }====== */

/* {====== send-mail ====== */

static void test_send_shape(void **state)
{
    (void)state;
    struct result r;
    int64_t seq = sim_last_seq(&F.sim);
    run_ok(&r, "send-mail",
           "{\"from\":\"adele.vance" DOMAIN "\","
           "\"to\":[\"new.hire@example.com\",{\"user\":\"" MEGAN_ID "\"},\"" PATTI_ID "\"],"
           "\"cc\":{\"manager-of\":\"alex.wilber" DOMAIN "\"},"
           "\"bcc\":[{\"manager-of\":\"" LIDIA_ID "\"}],"
           "\"subject\":\"Welcome\",\"body\":\"<p>Hello &amp; welcome</p>\"}",
           false);
    assert_true(json_object_get_boolean(json_object_object_get(r.output, "sent")));
    assert_string_equal(jstr(r.output, "from"), ADELE_ID);
    assert_string_equal(jstr(r.output, "undo_impossible"), "a sent mail cannot be recalled");
    assert_null(json_object_object_get(r.output, "undo"));
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(r.output, "to"),
                                                       JSON_C_TO_STRING_PLAIN),
                        "[\"new.hire@example.com\",\"megan.bowen" DOMAIN
                        "\",\"patti.fernandez" DOMAIN "\"]");
    result_clear(&r);
    assert_int_equal(requests_with(seq, "POST /v1.0/users/" ADELE_ID "/sendMail"), 1);
    /* manager-of: the manager read from Graph */
    assert_int_equal(requests_with(seq, "/manager"), 2);

    struct json_object *m = mails();
    assert_int_equal(json_object_array_length(m), 1);
    struct json_object *e = json_object_array_get_idx(m, 0);
    assert_string_equal(jstr(e, "from"), ADELE_ID);
    assert_string_equal(
        json_object_to_json_string_ext(json_object_object_get(e, "cc"), JSON_C_TO_STRING_PLAIN),
        "[\"megan.bowen" DOMAIN "\"]"); /* Alex's manager */
    assert_string_equal(
        json_object_to_json_string_ext(json_object_object_get(e, "bcc"), JSON_C_TO_STRING_PLAIN),
        "[\"lee.gu" DOMAIN "\"]"); /* Lidia's manager */
    assert_string_equal(jstr(e, "subject"), "Welcome");
    assert_string_equal(jstr(e, "body"), "<p>Hello &amp; welcome</p>");
    assert_string_equal(jstr(e, "contentType"), "HTML");
    assert_true(json_object_get_boolean(json_object_object_get(e, "saveToSentItems")));
    json_object_put(m);

    /* Text, not saved; the sender from weir.yaml's mail.from. */
    mail_from = "patti.fernandez" DOMAIN;
    run_ok(&r, "send-mail",
           "{\"to\":\"x@example.com\",\"subject\":\"\",\"body\":\"a < b\",\"format\":\"text\","
           "\"save_to_sent\":false}",
           false);
    result_clear(&r);
    m = mails();
    e = json_object_array_get_idx(m, 1);
    assert_string_equal(jstr(e, "from"), PATTI_ID);
    assert_string_equal(jstr(e, "contentType"), "Text");
    assert_string_equal(jstr(e, "body"), "a < b");
    assert_false(json_object_get_boolean(json_object_object_get(e, "saveToSentItems")));
    json_object_put(m);
    mail_from = NULL;
}

static void test_send_refusals(void **state)
{
    (void)state;
    struct result r;
    /* No sender anywhere. */
    run_fail(&r, "send-mail", "{\"to\":\"x@example.com\",\"subject\":\"s\",\"body\":\"b\"}",
             "give the step a from:, or set mail.from");
    result_clear(&r);
    /* A manager-of a user without a manager (Patti heads the seed). */
    run_fail(&r, "send-mail",
             "{\"from\":\"" ADELE_ID "\",\"to\":{\"manager-of\":\"" PATTI_ID "\"},"
             "\"subject\":\"s\",\"body\":\"b\"}",
             "has no manager");
    assert_false(r.retriable);
    result_clear(&r);
    /* A user without a mail address, as recipient and as sender. */
    long status = 0;
    json_object_put(
        sim_call_body(&F.sim, "PATCH", "/_sim/users/" NESTOR_ID, "{\"mail\":null}", &status));
    assert_int_equal(status, 204);
    run_fail(&r, "send-mail",
             "{\"from\":\"" ADELE_ID "\",\"to\":[\"" NESTOR_ID "\"],\"subject\":\"s\","
             "\"body\":\"b\"}",
             "has no mail address");
    result_clear(&r);
    run_fail(&r, "send-mail",
             "{\"from\":\"" NESTOR_ID "\",\"to\":\"x@example.com\",\"subject\":\"s\","
             "\"body\":\"b\"}",
             "MailboxNotEnabledForRESTAPI");
    assert_false(r.retriable);
    result_clear(&r);
    /* Graph refuses an address it cannot resolve. */
    run_fail(&r, "send-mail",
             "{\"from\":\"" ADELE_ID "\",\"to\":\"bad address@\",\"subject\":\"s\",\"body\":\"b\"}",
             "ErrorInvalidRecipients");
    assert_false(r.retriable);
    result_clear(&r);
    assert_int_equal(mail_count(), 0);
}

static void test_send_dry_run(void **state)
{
    (void)state;
    struct result r;
    int64_t m0 = sim_stat(&F.sim, "mutations");
    int64_t seq = sim_last_seq(&F.sim);
    run_ok(&r, "send-mail",
           "{\"from\":\"" ADELE_ID "\",\"to\":{\"manager-of\":\"" ALEX_ID "\"},"
           "\"subject\":\"Hi\",\"body\":\"b\"}",
           true);
    assert_false(json_object_get_boolean(json_object_object_get(r.output, "sent")));
    assert_int_equal(json_object_array_length(r.plan), 1);
    struct json_object *p = json_object_array_get_idx(r.plan, 0);
    assert_string_equal(jstr(p, "method"), "POST");
    assert_string_equal(jstr(p, "path"), "/users/" ADELE_ID "/sendMail");
    assert_string_equal(
        json_object_to_json_string_ext(json_object_object_get(p, "body"), JSON_C_TO_STRING_PLAIN),
        "{\"message\":{\"subject\":\"Hi\",\"body\":{\"contentType\":\"HTML\",\"content\":\"b\"},"
        "\"toRecipients\":[{\"emailAddress\":{\"address\":\"megan.bowen" DOMAIN "\"}}]},"
        "\"saveToSentItems\":true}");
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0);
    assert_int_equal(requests_with(seq, "sendMail"), 0);
    assert_int_equal(mail_count(), 0);
}

/* A send whose answer is lost: one POST, one mail, a non-retriable failure that says so. */
static void test_no_double_send(void **state)
{
    (void)state;
    struct result r;
    /* A 1 s client timeout with 3 attempts; graphsim takes the mail and answers after 3 s. */
    start_sim(3, 1000);
    faults("{\"timeout_next_send\":3}");
    int64_t seq = sim_last_seq(&F.sim);
    const char *args = "{\"from\":\"" ADELE_ID "\",\"to\":\"x@example.com\",\"subject\":\"once\","
                       "\"body\":\"b\"}";
    run_fail(&r, "send-mail", args, "the mail may have been sent");
    assert_false(r.retriable);
    assert_non_null(strstr(r.error, "not sent again"));
    result_clear(&r);
    assert_int_equal(requests_with(seq, "POST /v1.0/users/" ADELE_ID "/sendMail"), 1);
    assert_int_equal(mail_count(), 1);

    /* Throttled (429 with Retry-After: not processed): retried, and sent once. */
    faults("{\"throttle_every\":2,\"retry_after\":0.2}");
    seq = sim_last_seq(&F.sim);
    int64_t t0 = sim_stat(&F.sim, "throttled");
    run_ok(&r, "send-mail", args, false);
    result_clear(&r);
    run_ok(&r, "send-mail", args, false);
    result_clear(&r);
    assert_true(sim_stat(&F.sim, "throttled") > t0);
    assert_int_equal(mail_count(), 3);
    assert_int_equal(requests_with(seq, "POST /v1.0/users/" ADELE_ID "/sendMail"), 3);
    teardown(NULL);
}

/* }====== */

/* {====== set-auto-reply ====== */

static void test_auto_reply(void **state)
{
    (void)state;
    struct result r;
    const char *on = "{\"user\":\"lee.gu" DOMAIN "\",\"status\":\"alwaysEnabled\","
                     "\"internal_message\":\"Out & away\",\"external_message\":\"Away\","
                     "\"external_audience\":\"contactsOnly\"}";
    int64_t m0 = sim_stat(&F.sim, "mutations");
    run_ok(&r, "set-auto-reply", on, false);
    assert_true(json_object_get_boolean(json_object_object_get(r.output, "changed")));
    struct json_object *before = json_object_object_get(r.output, "before");
    assert_string_equal(jstr(before, "status"), "disabled");
    struct json_object *undo = json_object_object_get(r.output, "undo");
    assert_int_equal(json_object_array_length(undo), 1);
    struct json_object *u0 = json_object_array_get_idx(undo, 0);
    assert_string_equal(jstr(u0, "action"), "set-auto-reply");
    assert_string_equal(jstr(u0, "status"), "disabled");
    assert_string_equal(jstr(u0, "external_audience"), "all");
    char *undo_args = strdup(json_object_to_json_string_ext(u0, JSON_C_TO_STRING_PLAIN));
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);

    /* Already so: Exchange keeps the messages as HTML; compared by their text. */
    run_ok(&r, "set-auto-reply", on, false);
    assert_false(json_object_get_boolean(json_object_object_get(r.output, "changed")));
    assert_int_equal(json_object_array_length(json_object_object_get(r.output, "undo")), 0);
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);

    /* A dry run plans the PATCH and sends nothing. */
    run_ok(&r, "set-auto-reply",
           "{\"user\":\"lee.gu" DOMAIN "\",\"status\":\"scheduled\","
           "\"start\":\"2030-03-01T08:00:00\",\"end\":\"2030-03-08T17:00:00\","
           "\"time_zone\":\"W. Europe Standard Time\"}",
           true);
    assert_int_equal(json_object_array_length(r.plan), 1);
    assert_string_equal(jstr(json_object_array_get_idx(r.plan, 0), "method"), "PATCH");
    result_clear(&r);
    assert_int_equal(sim_stat(&F.sim, "mutations"), m0 + 1);

    /* Scheduled, then the same again (Graph reads the times back with fractions). */
    const char *sched = "{\"user\":\"lee.gu" DOMAIN "\",\"status\":\"scheduled\","
                        "\"start\":\"2030-03-01T08:00:00\",\"end\":\"2030-03-08T17:00:00\","
                        "\"time_zone\":\"W. Europe Standard Time\"}";
    run_ok(&r, "set-auto-reply", sched, false);
    assert_true(json_object_get_boolean(json_object_object_get(r.output, "changed")));
    result_clear(&r);
    run_ok(&r, "set-auto-reply", sched, false);
    assert_false(json_object_get_boolean(json_object_object_get(r.output, "changed")));
    result_clear(&r);

    /* The first step's undo record puts back what was there, once. */
    run_ok(&r, "set-auto-reply", undo_args, false);
    assert_true(json_object_get_boolean(json_object_object_get(r.output, "changed")));
    result_clear(&r);
    run_ok(&r, "set-auto-reply", undo_args, false);
    assert_false(json_object_get_boolean(json_object_object_get(r.output, "changed")));
    assert_string_equal(jstr(json_object_object_get(r.output, "before"), "status"), "disabled");
    result_clear(&r);
    free(undo_args);

    /* No mailbox: Graph's 404. */
    long status = 0;
    json_object_put(
        sim_call_body(&F.sim, "PATCH", "/_sim/users/" NESTOR_ID, "{\"mail\":null}", &status));
    run_fail(&r, "set-auto-reply", "{\"user\":\"" NESTOR_ID "\",\"status\":\"disabled\"}",
             "MailboxNotEnabledForRESTAPI");
    assert_false(r.retriable);
    result_clear(&r);
}

/* }====== */

int main(int argc, char **argv)
{
    const char *src = getenv("WEIR_SOURCE_DIR");
    graphsim_path = argc > 1 ? argv[1] : getenv("WEIR_GRAPHSIM");
    if (!graphsim_path || !src) {
        fprintf(stderr, "usage: test_mail GRAPHSIM (with WEIR_SOURCE_DIR set)\n");
        return 1;
    }
    snprintf(seed_path, sizeof(seed_path), "%s/tests/graphsim/seed.json", src);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_dry_run, setup, teardown),
        cmocka_unit_test(test_no_double_send),
        cmocka_unit_test_setup_teardown(test_auto_reply, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
