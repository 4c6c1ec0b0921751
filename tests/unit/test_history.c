/*
 * test_history — unit tests for engine/store/history: listing runs with each filter, short ids and
 * the step reached, run id prefixes (unique, exact, ambiguous, unknown), `weir show`'s
 * contents, retry and cancel (allowed and refused, rows changed exactly as the executor
 * expects), the counts, the text formats, and the four commands through wr_cli_main.
 *
 *   test_history                     on SQLite, a fresh file per test
 *   test_history postgres URL_FILE   on PostgreSQL, the database named by the URL in URL_FILE
 *                                    (tests/pg's throw-away cluster; ctest starts it as the
 *                                    weir_pg fixture), in a schema of its own (PG_SCHEMA)
 *
 * Each test gets a fresh store. On SQLite the journal creates it (schema and all) and commits
 * one batch of two events and five runs; on PostgreSQL the schema is made anew, `weir migrate`'s
 * wr_store_migrate creates the tables and plain SQL inserts the rows that batch writes. The
 * test then renames the runs to fixed ids, sets their states and times and adds step rows with
 * plain SQL (the same on both), as the executor would have left them. The few cases that are
 * SQLite's by nature (its query plans, removing the file) are skipped on PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <json-c/json.h>
#include <sqlite3.h> /* test_list_uses_an_index only: SQLite's trace hook and query plans */
#include <sys/stat.h>
#include <unistd.h>

#include "engine/cli.h"
#include "engine/store/db.h"
#include "engine/store/history.h"
#include "engine/store/journal.h"
#include "tests/unit/pg_test.h"
#include "engine/store/migrate.h"
#include "engine/exec/run.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"

/* 2024-05-01T14:00:00Z; the tests run with TZ=UTC. */
#define NOW    1714572000000LL
#define MINUTE (60 * 1000LL)
#define HOUR   (60 * MINUTE)

/* Two pairs share long prefixes (A/B to 17 characters, C/D to 16), as runs created in the
   same millisecond or a few apart do. */
#define RUN_A "run_018f3a2b4c5d1aaaa000001"
#define RUN_B "run_018f3a2b4c5d1bbbb000001"
#define RUN_C "run_018f3a2b4c6e2cccc000001"
#define RUN_D "run_018f3a2b4c6e3dddd000001"
#define RUN_E "run_018f3a2b4d7f4eeee000001"

#define A_ERROR                                                                                    \
    "Graph 403 Authorization_RequestDenied: Insufficient privileges to complete the "              \
    "operation.\nrequest-id: 5f1c"
#define HOOK_ERROR                                                                                 \
    "scripts/alert.lua:12: boom\nstack traceback:\n\t[C]: in function 'error'\n"                   \
    "\tscripts/alert.lua:12: in function 'map'"

/* The two events of the batch: the webhook's (no user in its body) and the manual one's. */
#define HR_SOURCE  "webhook:/hooks/hr"
#define HR_HEADERS "{\"x-request-id\": \"r1\"}"
#define HR_BODY    "{\"name\": \"Ada\", \"email\": \"ada@contoso.com\"}"
#define BOB_BODY                                                                                   \
    "{\"name\": \"Bob\", \"user\": {\"id\": \"u2\", \"userPrincipalName\": "                       \
    "\"bob@contoso.com\"}}"

/* The back end under test: SQLite (no arguments) or PostgreSQL (`postgres URL_FILE`). */
static bool pg;
/* PostgreSQL: the cluster's URL (the schema is made and dropped through it), and the same with
   the schema as search_path, for every connection of weir's (the public schema is other
   tests'). */
#define PG_SCHEMA "test_history"
static char pg_admin_url[4096];
static char pg_url[4200];

/* A case that is SQLite's by nature returns at once on PostgreSQL, saying why. */
#define SQLITE_ONLY(why)                                                                           \
    do {                                                                                           \
        if (pg) {                                                                                  \
            print_message("skipped on PostgreSQL: %s\n", why);                                     \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static const char workflow_yaml[] =
    "name: onboard\n"
    "trigger:\n"
    "  webhook:\n"
    "    path: /hooks/hr\n"
    "steps:\n"
    "  - id: account\n"
    "    action: create-user\n"
    "    set: { displayName: x, userPrincipalName: x@contoso.com, mailNickname: x }\n"
    "  - action: assign-license\n"
    "    user: x@contoso.com\n"
    "    add: [SPE_E3]\n"
    "  - wait: 1h\n"
    "on_error:\n"
    "  - action: http-request\n"
    "    method: POST\n"
    "    url: https://example.com/alert\n";

/* weir.yaml, a printf format taking the state (a file name, or the PostgreSQL URL). */
static const char config_yaml[] =
    "graph: { tenant: contoso, client_id: 00000000-0000-0000-0000-000000000000, "
    "client_secret: env:WEIR_TEST_SECRET }\n"
    "state: \"%s\"\n";

struct fixture {
    char dir[64];
    char *state; /* the SQLite file, or pg_url */
    char *config;
    struct wr_db *wdb;   /* the store, as wr_journal_open_reader opens it */
    struct wr_db *admin; /* PostgreSQL: on pg_admin_url, for the schema */
    char ids[5][40];     /* the runs as the journal created them, in batch order */
    bool committed;
    struct event_base *base;
    char **quotes;
    size_t nquotes;
};

/* s as an SQL string literal ('it''s'), or NULL for NULL: valid on both back ends (the tests'
   %Q). Owned by fx until teardown. */
static const char *q(struct fixture *fx, const char *s)
{
    if (!s) {
        return "NULL";
    }
    struct wr_buf b = {0};
    wr_buf_addc(&b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            wr_buf_addc(&b, '\'');
        }
        wr_buf_addc(&b, *p);
    }
    wr_buf_addc(&b, '\'');
    fx->quotes = realloc(fx->quotes, (fx->nquotes + 1) * sizeof(*fx->quotes));
    assert_non_null(fx->quotes);
    fx->quotes[fx->nquotes++] = wr_buf_take(&b);
    return fx->quotes[fx->nquotes - 1];
}

/* fmt and its arguments, formatted: owned. */
static char *vformat(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    assert_true(n >= 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static void exec_on(struct wr_db *db, const char *sql)
{
    char err[WR_ERR_MAX];
    if (wr_db_exec(db, sql, err, sizeof(err)) != 0) {
        fail_msg("%.200s: %s", sql, err);
    }
}

static void exec_sql(struct fixture *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void exec_sql(struct fixture *fx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = vformat(fmt, ap);
    va_end(ap);
    exec_on(fx->wdb, sql);
    free(sql);
}

/* sql (one value wanted) prepared and stepped to its row: the statement, owned. */
static struct wr_db_stmt *query_row(struct fixture *fx, const char *sql)
{
    struct wr_db_stmt *st = NULL;
    char err[WR_ERR_MAX];
    if (wr_db_prepare(fx->wdb, sql, &st, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", sql, err);
    }
    if (wr_db_step(st) != WR_DB_ROW) {
        fail_msg("%s: no row (%s)", sql, wr_db_errmsg(st));
    }
    return st;
}

/* The integer of a one-value query; -1 for SQL NULL. A boolean reads as 1 or 0. */
static int64_t query_int(struct fixture *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int64_t query_int(struct fixture *fx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = vformat(fmt, ap);
    va_end(ap);
    struct wr_db_stmt *st = query_row(fx, sql);
    int64_t v = wr_db_column_is_null(st, 0) ? -1 : wr_db_column_int64(st, 0);
    wr_db_finalize(st);
    free(sql);
    return v;
}

/* The text of a one-value query, owned; NULL for SQL NULL. */
static char *query_text(struct fixture *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *query_text(struct fixture *fx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = vformat(fmt, ap);
    va_end(ap);
    struct wr_db_stmt *st = query_row(fx, sql);
    char *v = wr_xstrdup_or_null(wr_db_column_text(st, 0));
    wr_db_finalize(st);
    free(sql);
    return v;
}

/* The step rows of run in idx order as "idx:status[:attempts] ...", owned (read row by row:
   SQLite's group_concat is PostgreSQL's string_agg). */
static char *steps_of(struct fixture *fx, const char *run, bool attempts)
{
    struct wr_db_stmt *st = NULL;
    char err[WR_ERR_MAX];
    struct wr_buf b = {0};
    assert_int_equal(wr_db_prepare(fx->wdb,
                                   "SELECT idx, status, attempts FROM steps WHERE run_id = ? "
                                   "ORDER BY idx",
                                   &st, err, sizeof(err)),
                     0);
    wr_db_bind_text(st, 1, run, -1);
    int rc;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        wr_buf_addf(&b, "%s%lld:%s", b.len ? " " : "", (long long)wr_db_column_int64(st, 0),
                    wr_db_column_text(st, 1));
        if (attempts) {
            wr_buf_addf(&b, ":%lld", (long long)wr_db_column_int64(st, 2));
        }
    }
    assert_int_equal(rc, WR_DB_DONE);
    wr_db_finalize(st);
    return wr_buf_take(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void on_committed(void *arg, struct wr_journal_batch *b, int rc, const char *error)
{
    struct fixture *fx = arg;
    if (rc != 0) {
        fail_msg("the batch did not commit: %s", error);
    }
    size_t k = 0;
    for (size_t i = 0; i < b->count; i++) {
        for (size_t r = 0; r < b->events[i].nruns && k < 5; r++) {
            snprintf(fx->ids[k++], sizeof(fx->ids[0]), "%s", b->events[i].runs[r].id);
        }
    }
    fx->committed = true;
    event_base_loopexit(fx->base, NULL);
}

/* Sets run number k of the batch to a fixed id, workflow, state and times. */
static void set_run(struct fixture *fx, int k, const char *id, const char *workflow,
                    const char *status, int64_t created, int64_t updated, int64_t next_at,
                    const char *error)
{
    char next[32] = "NULL";
    if (next_at) {
        snprintf(next, sizeof(next), "%lld", (long long)next_at);
    }
    exec_sql(fx,
             "UPDATE runs SET id = %s, workflow = %s, status = %s, created_at = %lld, "
             "updated_at = %lld, next_at = %s, error = %s WHERE id = %s",
             q(fx, id), q(fx, workflow), q(fx, status), (long long)created, (long long)updated,
             next, q(fx, error), q(fx, fx->ids[k]));
}

static void add_step(struct fixture *fx, const char *run, int idx, const char *step_id,
                     const char *status, int attempts, int64_t started, int64_t finished,
                     const char *args, const char *output, const char *error)
{
    char s[32] = "NULL", f[32] = "NULL";
    if (started) {
        snprintf(s, sizeof(s), "%lld", (long long)started);
    }
    if (finished) {
        snprintf(f, sizeof(f), "%lld", (long long)finished);
    }
    exec_sql(fx,
             "INSERT INTO steps (run_id, idx, step_id, status, attempts, started_at, "
             "finished_at, args, output, error) VALUES (%s, %d, %s, %s, %d, %s, %s, %s, %s, %s)",
             q(fx, run), idx, q(fx, step_id), q(fx, status), attempts, s, f, q(fx, args),
             q(fx, output), q(fx, error));
}

/* SQLite: the journal commits the batch of two events and five runs (fx->ids). */
static void journal_batch(struct fixture *fx, bool populate)
{
    char err[WR_ERR_MAX];
    struct wr_journal *j = wr_journal_open(fx->base, fx->state, 0, err, sizeof(err));
    if (!j) {
        fail_msg("%s", err);
    }
    if (populate) {
        struct wr_journal_batch *b = wr_journal_batch_new();
        struct wr_journal_event *ev =
            wr_journal_batch_add(b, HR_SOURCE, "k1", HR_HEADERS, HR_BODY, NOW);
        wr_journal_batch_add_run(ev, "onboard", "h1", "e1", NULL);
        wr_journal_batch_add_run(ev, "onboard", "h1", "e1", NULL);
        ev = wr_journal_batch_add(b, "manual", NULL, NULL, BOB_BODY, NOW);
        wr_journal_batch_add_run(ev, "offboard", "h2", NULL, NULL);
        wr_journal_batch_add_run(ev, "onboard", "h1", NULL, NULL);
        wr_journal_batch_add_run(ev, "offboard", "h2", NULL, NULL);
        assert_int_equal(wr_journal_submit(j, b, on_committed, fx), 0);
        /* The commit is announced from the writer thread: loop while nothing is pending. */
        event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
        assert_true(fx->committed);
    }
    wr_journal_close(j);
}

/* PostgreSQL: a fresh schema PG_SCHEMA with weir's tables (wr_store_migrate, on pg_url). */
static void pg_store(struct fixture *fx)
{
    char err[WR_ERR_MAX];
    struct wr_migrate_result res;
    if (wr_db_open(pg_admin_url, 0, &fx->admin, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    exec_on(fx->admin, "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE; CREATE SCHEMA " PG_SCHEMA);
    if (wr_store_migrate(pg_url, &res, err, sizeof(err)) != 0) {
        fail_msg("migrate: %s", err);
    }
    assert_int_equal(res.from, 0);
}

/*
 * PostgreSQL: the rows the journal's batch writes (see journal_batch), inserted by SQL on
 * fx->wdb: the same events and runs, an event's key scoped by its source, runs queued.
 */
static void pg_batch(struct fixture *fx)
{
    static const char *const ev_ids[2] = {"ev_018f3a2b4c5d0aaaa000001",
                                          "ev_018f3a2b4c5d0bbbb000001"};
    static const struct {
        int ev;
        const char *workflow, *hash, *key;
    } runs[5] = {
        {0, "onboard", "h1", "e1"}, {0, "onboard", "h1", "e1"},  {1, "offboard", "h2", NULL},
        {1, "onboard", "h1", NULL}, {1, "offboard", "h2", NULL},
    };
    exec_sql(fx,
             "INSERT INTO events (id, source, idem_key, idem_scope, received_at, headers, body, "
             "status) VALUES (%s, %s, 'k1', %s, %lld, %s, %s, 'matched'), "
             "(%s, 'manual', NULL, NULL, %lld, NULL, %s, 'matched')",
             q(fx, ev_ids[0]), q(fx, HR_SOURCE), q(fx, HR_SOURCE), NOW, q(fx, HR_HEADERS),
             q(fx, HR_BODY), q(fx, ev_ids[1]), NOW, q(fx, BOB_BODY));
    for (int k = 0; k < 5; k++) {
        snprintf(fx->ids[k], sizeof(fx->ids[k]), "run_batch%d", k);
        exec_sql(fx,
                 "INSERT INTO runs (id, event_id, workflow, workflow_hash, concurrency_key, "
                 "status, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'queued', %lld, "
                 "%lld)",
                 q(fx, fx->ids[k]), q(fx, ev_ids[runs[k].ev]), q(fx, runs[k].workflow),
                 q(fx, runs[k].hash), q(fx, runs[k].key), NOW, NOW);
    }
}

/* A store with the journal's schema; with `populate`, the five runs described at the top. */
static int make_store(void **state, bool populate)
{
    struct fixture *fx = wr_xcalloc(1, sizeof(*fx));
    char err[WR_ERR_MAX];

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_history.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->state = pg ? wr_xstrdup(pg_url) : wr_path_join(fx->dir, "state.db");
    fx->config = wr_path_join(fx->dir, "weir.yaml");
    char *yaml = wr_xasprintf(config_yaml, pg ? pg_url : "state.db");
    write_file(fx->config, yaml);
    free(yaml);
    char *wfdir = wr_path_join(fx->dir, "workflows");
    assert_int_equal(mkdir(wfdir, 0700), 0);
    char *wf = wr_path_join(wfdir, "onboard.yaml");
    write_file(wf, workflow_yaml);
    free(wf);
    free(wfdir);

    fx->base = event_base_new();
    assert_non_null(fx->base);
    if (pg) {
        pg_store(fx);
    } else {
        journal_batch(fx, populate);
    }

    fx->wdb = wr_journal_open_reader(fx->state, err, sizeof(err));
    if (!fx->wdb) {
        fail_msg("%s", err);
    }
    if (populate && pg) {
        pg_batch(fx);
    }
    if (populate) {
        set_run(fx, 0, RUN_A, "onboard", "failed", NOW - 3 * HOUR, NOW - 3 * HOUR + 8100, 0,
                A_ERROR);
        set_run(fx, 1, RUN_B, "onboard", "succeeded_with_errors", NOW - 2 * HOUR,
                NOW - 2 * HOUR + MINUTE, 0, NULL);
        set_run(fx, 2, RUN_C, "offboard", "waiting", NOW - HOUR, NOW - HOUR + 2000, NOW + 24 * HOUR,
                NULL);
        set_run(fx, 3, RUN_D, "onboard", "retrying", NOW - 30 * MINUTE, NOW - 29 * MINUTE,
                NOW + 30000, NULL);
        set_run(fx, 4, RUN_E, "offboard", "queued", NOW - MINUTE, NOW - MINUTE, 0, NULL);

        int64_t t = NOW - 3 * HOUR;
        add_step(fx, RUN_A, 0, "account", "succeeded", 1, t, t + 400,
                 "{\"set\": {\"displayName\": \"Ada\"}}", "{\"id\": \"u1\"}", NULL);
        add_step(fx, RUN_A, 1, NULL, "failed", 3, t + 500, t + 8000,
                 "{\"user\": \"ada@contoso.com\", \"add\": [\"SPE_E3\"]}", NULL, A_ERROR);
        add_step(fx, RUN_A, 1000, NULL, "retrying", 1, t + 8050, 0, "{}", NULL, HOOK_ERROR);
        t = NOW - 2 * HOUR;
        add_step(fx, RUN_B, 0, "account", "succeeded", 1, t, t + 100, "{}", "{}", NULL);
        add_step(fx, RUN_B, 1, NULL, "failed", 1, t + 200, t + 300, "not json {", NULL,
                 "Graph 404 Request_ResourceNotFound: no such license");
        add_step(fx, RUN_B, 2, NULL, "succeeded", 1, t + 400, t + 500, "{}", "{}", NULL);
        t = NOW - HOUR;
        add_step(fx, RUN_C, 0, "account", "succeeded", 1, t, t + 100, "{}", "{}", NULL);
        add_step(fx, RUN_C, 1, "pause", "waiting", 1, t + 200, 0, "{}", NULL, NULL);
        add_step(fx, RUN_D, 0, "account", "retrying", 2, NOW - 29 * MINUTE, 0, "{}", NULL,
                 "Graph 503 ServiceUnavailable: try later");
    }
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return make_store(state, true);
}

static int setup_empty(void **state)
{
    return make_store(state, false);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    wr_journal_close_reader(fx->wdb);
    if (fx->admin) {
        /* Nothing of the test stays in the database. */
        exec_on(fx->admin, "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE");
        wr_db_close(fx->admin);
    }
    event_base_free(fx->base);
    char *cmd = wr_xasprintf("rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    for (size_t i = 0; i < fx->nquotes; i++) {
        free(fx->quotes[i]);
    }
    free(fx->quotes);
    free(fx->state);
    free(fx->config);
    free(fx);
    return 0;
}

/* {====== list ====== */

static struct json_object *list(struct fixture *fx, const struct wr_history_filter *f)
{
    struct json_object *out = NULL;
    char err[WR_ERR_MAX];
    if (wr_history_list(fx->wdb, f, NOW, &out, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_true(json_object_is_type(out, json_type_array));
    return out;
}

static const char *str(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        return NULL;
    }
    return json_object_get_string(v);
}

static int64_t num(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        return -1;
    }
    return json_object_get_int64(v);
}

static struct json_object *member(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

/* The ids of a list, space separated, owned. */
static char *ids_of(struct json_object *runs)
{
    struct wr_buf b = {0};
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
        wr_buf_addf(&b, "%s%s", i ? " " : "", str(json_object_array_get_idx(runs, i), "id"));
    }
    return wr_buf_take(&b);
}

static void expect_ids(struct fixture *fx, const struct wr_history_filter *f, const char *want)
{
    struct json_object *runs = list(fx, f);
    char *got = ids_of(runs);
    assert_string_equal(got, want);
    free(got);
    json_object_put(runs);
}

static void test_list_newest_first(void **state)
{
    struct fixture *fx = *state;
    struct wr_history_filter f = {0};
    struct json_object *runs = list(fx, &f);

    assert_int_equal(json_object_array_length(runs), 5);
    struct json_object *e = json_object_array_get_idx(runs, 0);
    struct json_object *d = json_object_array_get_idx(runs, 1);
    struct json_object *c = json_object_array_get_idx(runs, 2);
    struct json_object *b = json_object_array_get_idx(runs, 3);
    struct json_object *a = json_object_array_get_idx(runs, 4);
    assert_string_equal(str(e, "id"), RUN_E);
    assert_string_equal(str(a, "id"), RUN_A);

    /* Run fields as stored. */
    assert_string_equal(str(a, "workflow"), "onboard");
    assert_string_equal(str(a, "workflow_hash"), "h1");
    assert_string_equal(str(a, "status"), "failed");
    assert_string_equal(str(a, "concurrency_key"), "e1");
    assert_string_equal(str(a, "error"), A_ERROR);
    assert_int_equal(num(a, "created_at"), NOW - 3 * HOUR);
    assert_int_equal(num(a, "updated_at"), NOW - 3 * HOUR + 8100);
    assert_null(member(a, "next_at"));
    assert_int_equal(num(c, "next_at"), NOW + 24 * HOUR);
    assert_null(member(e, "concurrency_key"));
    assert_non_null(str(a, "event_id"));
    assert_string_equal(str(a, "event_id"), str(b, "event_id"));

    /* Short ids: unique in the store, at least 17 characters. */
    assert_string_equal(str(a, "short_id"), "run_018f3a2b4c5d1a");
    assert_string_equal(str(b, "short_id"), "run_018f3a2b4c5d1b");
    assert_string_equal(str(c, "short_id"), "run_018f3a2b4c6e2");
    assert_string_equal(str(d, "short_id"), "run_018f3a2b4c6e3");
    assert_string_equal(str(e, "short_id"), "run_018f3a2b4d7f4");

    /* The step reached: a failed run shows the step that failed, not its on_error handler;
       a finished one the furthest step; one in progress its open step; none without rows. */
    struct json_object *s = member(a, "last_step");
    assert_int_equal(num(s, "idx"), 1);
    assert_string_equal(str(s, "status"), "failed");
    assert_null(member(s, "step_id"));
    assert_string_equal(str(s, "error"), A_ERROR);
    assert_int_equal(num(a, "steps_recorded"), 3);
    assert_int_equal(num(member(b, "last_step"), "idx"), 2);
    s = member(c, "last_step");
    assert_int_equal(num(s, "idx"), 1);
    assert_string_equal(str(s, "step_id"), "pause");
    assert_string_equal(str(member(d, "last_step"), "status"), "retrying");
    assert_null(member(e, "last_step"));
    assert_int_equal(num(e, "steps_recorded"), 0);
    json_object_put(runs);
}

static void test_list_filters(void **state)
{
    struct fixture *fx = *state;
    const char *all = RUN_E " " RUN_D " " RUN_C " " RUN_B " " RUN_A;

    expect_ids(fx, &(struct wr_history_filter){.limit = 0}, all);
    expect_ids(fx, &(struct wr_history_filter){.limit = 2}, RUN_E " " RUN_D);
    expect_ids(fx, &(struct wr_history_filter){.workflow = "offboard"}, RUN_E " " RUN_C);
    expect_ids(fx, &(struct wr_history_filter){.workflow = "nope"}, "");
    expect_ids(fx, &(struct wr_history_filter){.status = "failed"}, RUN_A);
    expect_ids(fx, &(struct wr_history_filter){.status = "succeeded_with_errors"}, RUN_B);
    expect_ids(fx, &(struct wr_history_filter){.status = "cancelled"}, "");
    /* since: created within 90 minutes before now (the boundary is inclusive). */
    expect_ids(fx, &(struct wr_history_filter){.since_ms = 90 * MINUTE}, RUN_E " " RUN_D " " RUN_C);
    expect_ids(fx, &(struct wr_history_filter){.since_ms = HOUR}, RUN_E " " RUN_D " " RUN_C);
    expect_ids(fx, &(struct wr_history_filter){.since_ms = 1000}, "");
    /* Filters combine. */
    expect_ids(
        fx,
        &(struct wr_history_filter){.workflow = "onboard", .since_ms = 150 * MINUTE, .limit = 1},
        RUN_D);
    expect_ids(fx, &(struct wr_history_filter){.workflow = "onboard", .status = "retrying"}, RUN_D);

    int64_t n = -1;
    char err[WR_ERR_MAX];
    assert_int_equal(wr_history_count(fx->wdb, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 5);
}

static struct json_object *show(struct fixture *fx, const char *run);

/* Pages of two through the cursor: every run once, newest first; same created_at broken
   by id. */
static void test_list_pages(void **state)
{
    struct fixture *fx = *state;
    struct wr_buf seen = {0};
    char cursor[WR_HISTORY_CURSOR_MAX] = "", next[WR_HISTORY_CURSOR_MAX], err[WR_ERR_MAX];
    int pages = 0;

    exec_sql(fx, "UPDATE runs SET created_at = %lld WHERE id IN ('" RUN_C "', '" RUN_D "')",
             (long long)(NOW - HOUR));
    do {
        struct json_object *runs = NULL;
        struct wr_history_filter f = {.limit = 2, .cursor = cursor[0] ? cursor : NULL};
        assert_int_equal(
            wr_history_list_page(fx->wdb, &f, NOW, &runs, next, sizeof(next), err, sizeof(err)), 0);
        assert_true(json_object_array_length(runs) <= 2);
        char *ids = ids_of(runs);
        wr_buf_addf(&seen, "%s%s", seen.len ? " " : "", ids);
        free(ids);
        json_object_put(runs);
        snprintf(cursor, sizeof(cursor), "%s", next);
        pages++;
    } while (cursor[0]);
    assert_int_equal(pages, 3);
    assert_string_equal(wr_buf_str(&seen), RUN_E " " RUN_D " " RUN_C " " RUN_B " " RUN_A);
    wr_buf_free(&seen);

    /* A limit over the cap is the cap; a cursor must be one. */
    struct json_object *runs = NULL;
    struct wr_history_filter f = {.limit = 100000};
    assert_int_equal(
        wr_history_list_page(fx->wdb, &f, NOW, &runs, next, sizeof(next), err, sizeof(err)), 0);
    assert_int_equal(json_object_array_length(runs), 5);
    assert_string_equal(next, "");
    json_object_put(runs);
    assert_true(wr_history_cursor_valid("1714572000000.run_018f3a2b4c5d1aaaa000001"));
    assert_false(wr_history_cursor_valid("1714572000000"));
    assert_false(wr_history_cursor_valid(".run_1"));
    assert_false(wr_history_cursor_valid("1.run 1"));
    assert_false(wr_history_cursor_valid("1.run_1' OR 1=1"));
    f = (struct wr_history_filter){.cursor = "nonsense"};
    assert_int_equal(wr_history_list_page(fx->wdb, &f, NOW, &runs, NULL, 0, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
}

/* The text and trigger filters, and until: what the console's search box and tabs send. */
static void test_list_text_and_trigger(void **state)
{
    struct fixture *fx = *state;
    exec_sql(fx, "UPDATE runs SET concurrency_key = 'Dept-42%%' WHERE id = '" RUN_B "'");
    char *event_a = query_text(fx, "SELECT event_id FROM runs WHERE id = '" RUN_A "'");

    /* A substring, ASCII case ignored, of the run id, the event id, the concurrency key or
       the event's user; '%' and '_' are taken literally. */
    expect_ids(fx, &(struct wr_history_filter){.text = "2B4C6E"}, RUN_D " " RUN_C);
    expect_ids(fx, &(struct wr_history_filter){.text = event_a}, RUN_B " " RUN_A);
    expect_ids(fx, &(struct wr_history_filter){.text = "BOB@contoso"}, RUN_E " " RUN_D " " RUN_C);
    expect_ids(fx, &(struct wr_history_filter){.text = "dept-42%"}, RUN_B);
    expect_ids(fx, &(struct wr_history_filter){.text = "dept-4_"}, "");
    expect_ids(fx, &(struct wr_history_filter){.text = "nobody"}, "");
    /* The trigger's kind: the whole source, or its first word before a space or a colon. */
    expect_ids(fx, &(struct wr_history_filter){.trigger = "webhook"}, RUN_B " " RUN_A);
    expect_ids(fx, &(struct wr_history_filter){.trigger = HR_SOURCE}, RUN_B " " RUN_A);
    expect_ids(fx, &(struct wr_history_filter){.trigger = "manual"}, RUN_E " " RUN_D " " RUN_C);
    expect_ids(fx, &(struct wr_history_filter){.trigger = "web"}, "");
    /* until: created more than until_ms before now. */
    expect_ids(fx, &(struct wr_history_filter){.until_ms = 90 * MINUTE}, RUN_B " " RUN_A);
    expect_ids(
        fx, &(struct wr_history_filter){.trigger = "manual", .text = "bob", .status = "retrying"},
        RUN_D);
    free(event_a);
}

/* The user of a run is read from its event's body whatever that body holds: a body that is
   not an object (or not JSON) has none, and never makes the list fail. */
static void test_user_of_any_body(void **state)
{
    struct fixture *fx = *state;
    char *event_e = query_text(fx, "SELECT event_id FROM runs WHERE id = '" RUN_E "'");
    char long_user[400];
    memset(long_user, 'x', sizeof(long_user) - 1);
    long_user[sizeof(long_user) - 1] = '\0';
    char *long_body = wr_xasprintf("{\"user\": \"%s\"}", long_user);
    const struct {
        const char *body, *user; /* user NULL: none */
    } cases[] = {
        {"{\"user\": \"carol\"}", "carol"},
        {" \n\t{\"user\": {\"id\": \"u9\"}}", "u9"},
        {"{\"user\": {\"userPrincipalName\": \"dan@contoso.com\", \"id\": \"u3\"}}",
         "dan@contoso.com"},
        {"{\"user\": 7}", NULL},
        {"{\"user\": [\"bob\"]}", NULL},
        {"[\"bob\"]", NULL},
        {"\"bob\"", NULL},
        {"42", NULL},
        {"bob, not JSON", NULL},
        {"", NULL},
        /* jsonb refuses \u0000: PostgreSQL leaves such a body out rather than fail the list */
        {"{\"note\": \"a\\u0000b\", \"user\": \"erin\"}", pg ? NULL : "erin"},
        {long_body, NULL}, /* cut to 256 characters: checked below */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        exec_sql(fx, "UPDATE events SET body = %s WHERE id = %s", q(fx, cases[i].body),
                 q(fx, event_e));
        struct json_object *runs = list(fx, &(struct wr_history_filter){.text = "run_"});
        struct json_object *e = json_object_array_get_idx(runs, 0);
        assert_string_equal(str(e, "id"), RUN_E);
        const char *user = str(e, "user");
        if (cases[i].body == long_body) {
            assert_non_null(user);
            assert_int_equal(strlen(user), 256);
        } else if (!cases[i].user || !user) {
            if (cases[i].user != user) {
                fail_msg("case %zu: user %s, want %s", i, user ? user : "null",
                         cases[i].user ? cases[i].user : "null");
            }
        } else {
            assert_string_equal(user, cases[i].user);
        }
        json_object_put(runs);
        /* The text filter reads the same user (the three runs of that event). */
        expect_ids(fx, &(struct wr_history_filter){.text = "carol"},
                   cases[i].user && strcmp(cases[i].user, "carol") == 0 ? RUN_E " " RUN_D " " RUN_C
                                                                        : "");
    }
    free(long_body);
    free(event_e);
}

static void on_count(void *arg, const char *workflow, const char *status, int64_t n)
{
    wr_buf_addf(arg, "%s%s/%s=%lld", ((struct wr_buf *)arg)->len ? " " : "", workflow, status,
                (long long)n);
}

/* counts as "status=n ..." in wr_history_run_statuses() order, owned. */
static char *counts_of(struct json_object *counts)
{
    struct wr_buf b = {0};
    assert_int_equal(json_object_object_length(counts), 9);
    for (const char *const *s = wr_history_run_statuses(); *s; s++) {
        wr_buf_addf(&b, "%s%s=%lld", b.len ? " " : "", *s, (long long)num(counts, *s));
    }
    return wr_buf_take(&b);
}

/* What the console and the metrics read: counts by status and by state, the newest run of
   each workflow, short ids of any runs, and whether the store answers. */
static void test_counts(void **state)
{
    struct fixture *fx = *state;
    struct json_object *counts = NULL;
    char err[WR_ERR_MAX];

    /* Every status, cursor and limit: all of them counted, by status. */
    struct wr_history_filter f = {.trigger = "manual", .status = "queued", .limit = 1};
    assert_int_equal(wr_history_count_matching(fx->wdb, &f, NOW, &counts, err, sizeof(err)), 0);
    char *got = counts_of(counts);
    assert_string_equal(got, "queued=1 running=0 retrying=1 waiting=1 held=0 succeeded=0 "
                             "failed=0 succeeded_with_errors=0 cancelled=0");
    free(got);
    json_object_put(counts);
    f = (struct wr_history_filter){.workflow = "onboard", .text = "bob", .since_ms = HOUR};
    assert_int_equal(wr_history_count_matching(fx->wdb, &f, NOW, &counts, err, sizeof(err)), 0);
    got = counts_of(counts);
    assert_string_equal(got, "queued=0 running=0 retrying=1 waiting=0 held=0 succeeded=0 "
                             "failed=0 succeeded_with_errors=0 cancelled=0");
    free(got);
    json_object_put(counts);

    struct wr_buf by_state = {0};
    assert_int_equal(wr_history_count_by_state(fx->wdb, on_count, &by_state, err, sizeof(err)), 0);
    assert_string_equal(wr_buf_str(&by_state),
                        "offboard/queued=1 offboard/waiting=1 onboard/failed=1 onboard/retrying=1 "
                        "onboard/succeeded_with_errors=1");
    wr_buf_free(&by_state);

    struct json_object *last = NULL;
    assert_int_equal(wr_history_last_runs(fx->wdb, &last, err, sizeof(err)), 0);
    assert_int_equal(json_object_object_length(last), 2);
    assert_string_equal(str(member(last, "onboard"), "id"), RUN_D);
    assert_string_equal(str(member(last, "onboard"), "status"), "retrying");
    assert_int_equal(num(member(last, "onboard"), "at"), NOW - 30 * MINUTE);
    assert_string_equal(str(member(last, "offboard"), "id"), RUN_E);
    assert_int_equal(num(member(last, "offboard"), "at"), NOW - MINUTE);
    json_object_put(last);

    struct json_object *runs =
        json_tokener_parse("[{\"id\": \"" RUN_A "\"}, {\"id\": \"" RUN_D "\"}, {\"no\": \"id\"}]");
    assert_int_equal(wr_history_add_short_ids(fx->wdb, runs, err, sizeof(err)), 0);
    assert_string_equal(str(json_object_array_get_idx(runs, 0), "short_id"), "run_018f3a2b4c5d1a");
    assert_string_equal(str(json_object_array_get_idx(runs, 1), "short_id"), "run_018f3a2b4c6e3");
    assert_null(member(json_object_array_get_idx(runs, 2), "short_id"));
    json_object_put(runs);

    assert_true(wr_history_readable(fx->wdb, err, sizeof(err)));
}

/* {====== the list query's plan ====== */

/* The SQL of the statements run on the connection, kept by a trace callback. */
struct traced {
    char *sql[16];
    size_t n;
};

static int on_trace(unsigned type, void *arg, void *p, void *x)
{
    struct traced *t = arg;
    (void)type;
    (void)p;
    if (t->n < sizeof(t->sql) / sizeof(t->sql[0])) {
        t->sql[t->n++] = wr_xstrdup((const char *)x);
    }
    return 0;
}

/* The plan of sql as one line per step ("SEARCH runs USING ...; ..."), owned. */
static char *plan_of(sqlite3 *db, const char *sql)
{
    struct wr_buf b = {0};
    sqlite3_stmt *st = NULL;
    char *explain = wr_xasprintf("EXPLAIN QUERY PLAN %s", sql);
    assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        wr_buf_addf(&b, "%s%s", b.len ? "; " : "", (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    free(explain);
    char *out = wr_xstrdup(wr_buf_str(&b));
    wr_buf_free(&b);
    return out;
}

/*
 * Listing runs reads one page off an index (schema 6): the query that picks a page's ids, with
 * no filter, since a time, for a workflow, and after a cursor, walks or searches runs_created
 * from the newest run down, never scans the table or sorts it (a temporary b-tree), and a cursor
 * is searched for, not scanned to. A status filter keeps runs_status (its runs, then sorted).
 */
static void test_list_uses_an_index(void **state)
{
    SQLITE_ONLY("the plans are SQLite's (EXPLAIN QUERY PLAN, read through its trace hook)");
    struct fixture *fx = *state;
    /* The statements' text is only seen through SQLite's own hook: the transitional handle. */
    sqlite3 *lite = wr_db_sqlite(fx->wdb);
    static const struct {
        struct wr_history_filter f;
        const char *index;
        bool sorts; /* a temporary b-tree is expected */
    } cases[] = {
        {{0}, "runs_created", false},
        {{.cursor = "1714572000000." RUN_C}, "runs_created ((created_at,id)<(?,?))", false},
        {{.since_ms = HOUR}, "runs_created (created_at>?)", false},
        {{.workflow = "onboard"}, "USING INDEX runs_created", false},
        {{.workflow = "onboard", .cursor = "1714572000000." RUN_C},
         "runs_created ((created_at,id)<(?,?))",
         false},
        {{.status = "failed"}, "runs_status (status=?)", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct traced t = {0};
        struct json_object *runs = NULL;
        char err[WR_ERR_MAX], next[WR_HISTORY_CURSOR_MAX];
        sqlite3_trace_v2(lite, SQLITE_TRACE_STMT, on_trace, &t);
        assert_int_equal(wr_history_list_page(fx->wdb, &cases[i].f, NOW, &runs, next, sizeof(next),
                                              err, sizeof(err)),
                         0);
        sqlite3_trace_v2(lite, 0, NULL, NULL);
        json_object_put(runs);
        const char *page = NULL;
        for (size_t k = 0; k < t.n && !page; k++) {
            if (strstr(t.sql[k], "ORDER BY created_at DESC, id DESC LIMIT")) {
                page = t.sql[k];
            }
        }
        assert_non_null(page);
        /* The page's ids are picked by the subquery; the outer query only sorts that page. */
        const char *from = strstr(page, "(SELECT id FROM runs"), *to = strstr(page, ") AS page");
        assert_true(from && to && to > from);
        char *inner = wr_xasprintf("%.*s", (int)(to - from - 1), from + 1);
        char *plan = plan_of(lite, inner);
        print_message("%s\n", plan);
        if (!strstr(plan, cases[i].index) || (!cases[i].sorts && strstr(plan, "TEMP B-TREE")) ||
            (strstr(plan, "SCAN runs") && !strstr(plan, "SCAN runs USING"))) {
            fail_msg("case %zu: %s (want %s)", i, plan, cases[i].index);
        }
        free(plan);
        free(inner);
        for (size_t k = 0; k < t.n; k++) {
            free(t.sql[k]);
        }
    }
}

/* }====== */

/* Checks that s is at most max bytes and a marker saying `more` bytes were left out, and
   that the cut left whole characters (the text is made of two-byte ones after its first
   `ascii` bytes). */
static void expect_capped(const char *s, size_t max, size_t ascii, size_t total)
{
    const char *mark = strstr(s, "\xe2\x80\xa6 (");
    assert_non_null(mark);
    size_t kept = (size_t)(mark - s);
    assert_true(kept <= max && kept + 3 > max - 1);
    assert_true((kept - ascii) % 2 == 0); /* never half of a two-byte character */
    char want[64];
    snprintf(want, sizeof(want), "\xe2\x80\xa6 (%zu bytes more)", total - kept);
    assert_string_equal(mark, want);
    assert_true(wr_utf8_valid(s, strlen(s)));
}

/* A failed run's error is stored once, in its step's row; long errors are cut: to
   WR_HISTORY_SUMMARY_MAX in a list, WR_STORED_ERROR_MAX in a shown run. */
static void test_errors_stored_once_and_capped(void **state)
{
    struct fixture *fx = *state;
    struct wr_buf big = {0}, key = {0};
    wr_buf_add(&big, "x");
    for (int i = 0; i < 250000; i++) {
        wr_buf_add(&big, "\xc3\xa9"); /* é */
    }
    /* The key is indexed (runs_ckey): PostgreSQL's btree refuses an entry over 2704 bytes
       after compression, so there it is only as long as the list's cap needs. */
    wr_buf_addn(&key, big.data, pg ? 2001 : big.len);
    exec_sql(fx, "UPDATE runs SET error = NULL, concurrency_key = %s WHERE id = '" RUN_A "'",
             q(fx, wr_buf_str(&key)));
    exec_sql(fx, "UPDATE steps SET error = %s WHERE run_id = '" RUN_A "' AND idx = 1",
             q(fx, big.data));

    struct json_object *runs = list(fx, &(struct wr_history_filter){.status = "failed"});
    struct json_object *a = json_object_array_get_idx(runs, 0);
    expect_capped(str(a, "error"), WR_HISTORY_SUMMARY_MAX, 1, big.len);
    expect_capped(str(member(a, "last_step"), "error"), WR_HISTORY_SUMMARY_MAX, 1, big.len);
    expect_capped(str(a, "concurrency_key"), WR_HISTORY_SUMMARY_MAX, 1, key.len);
    json_object_put(runs);

    struct json_object *run = show(fx, RUN_A);
    expect_capped(str(run, "error"), WR_STORED_ERROR_MAX, 1, big.len);
    expect_capped(str(json_object_array_get_idx(member(run, "steps"), 1), "error"),
                  WR_STORED_ERROR_MAX, 1, big.len);
    json_object_put(run);

    /* Short errors come whole; the run's own error wins over its step's. */
    exec_sql(fx, "UPDATE steps SET error = 'short' WHERE run_id = '" RUN_A "' AND idx = 1");
    run = show(fx, RUN_A);
    assert_string_equal(str(run, "error"), "short");
    json_object_put(run);
    exec_sql(fx, "UPDATE runs SET error = 'own' WHERE id = '" RUN_A "'");
    run = show(fx, RUN_A);
    assert_string_equal(str(run, "error"), "own");
    json_object_put(run);
    /* A succeeded_with_errors run does not take its failed step's error. */
    run = show(fx, RUN_B);
    assert_null(member(run, "error"));
    json_object_put(run);
    wr_buf_free(&big);
    wr_buf_free(&key);
}

/* The helper behind every cap. */
static void test_text_cap(void **state)
{
    (void)state;
    char *s = wr_text_cap("abc", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = wr_text_cap("abcd", 3);
    assert_string_equal(s, "abc\xe2\x80\xa6 (1 bytes more)");
    free(s);
    s = wr_text_cap("a\xc3\xa9\xc3\xa9", 2); /* the cut would split é: it goes whole */
    assert_string_equal(s, "a\xe2\x80\xa6 (4 bytes more)");
    free(s);
    s = wr_text_cap("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 7);
    assert_string_equal(s, "\xf0\x9f\x98\x80\xe2\x80\xa6 (4 bytes more)");
    free(s);
    assert_null(wr_text_cap(NULL, 3));
    assert_int_equal(wr_utf8_prefix("\x80\x80\x80\x80\x80\x80", 6, 4), 4); /* not UTF-8 */
}

static void test_list_empty(void **state)
{
    struct fixture *fx = *state;
    expect_ids(fx, &(struct wr_history_filter){0}, "");
    int64_t n = -1;
    char err[WR_ERR_MAX];
    assert_int_equal(wr_history_count(fx->wdb, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
}

static void test_statuses(void **state)
{
    (void)state;
    const char *const *s = wr_history_run_statuses();
    size_t n = 0;
    while (s[n]) {
        assert_true(wr_history_status_valid(s[n]));
        n++;
    }
    assert_int_equal(n, 9);
    assert_true(wr_history_status_valid("held"));
    assert_false(wr_history_status_valid("done"));
    assert_false(wr_history_status_valid(""));
    assert_false(wr_history_status_valid("Failed"));
}

/* }====== */

/* {====== run ids ====== */

static void test_resolve(void **state)
{
    struct fixture *fx = *state;
    char id[64], err[WR_ERR_MAX];

    assert_int_equal(wr_history_resolve(fx->wdb, RUN_C, id, sizeof(id), err, sizeof(err)), 0);
    assert_string_equal(id, RUN_C);
    assert_int_equal(
        wr_history_resolve(fx->wdb, "run_018f3a2b4d", id, sizeof(id), err, sizeof(err)), 0);
    assert_string_equal(id, RUN_E);
    assert_int_equal(
        wr_history_resolve(fx->wdb, "run_018f3a2b4c5d1b", id, sizeof(id), err, sizeof(err)), 0);
    assert_string_equal(id, RUN_B);

    /* Ambiguous: the candidates are listed with their workflow and status. */
    assert_int_equal(
        wr_history_resolve(fx->wdb, "run_018f3a2b4c5d1", id, sizeof(id), err, sizeof(err)),
        WR_HISTORY_EAMBIGUOUS);
    assert_string_equal(id, "");
    assert_string_equal(err, "run id 'run_018f3a2b4c5d1' is ambiguous; it matches:\n"
                             "  " RUN_A "  onboard  failed\n"
                             "  " RUN_B "  onboard  succeeded_with_errors\n"
                             "give more of the id");
    assert_int_equal(wr_history_resolve(fx->wdb, "run_", id, sizeof(id), err, sizeof(err)),
                     WR_HISTORY_EAMBIGUOUS);
    assert_non_null(strstr(err, RUN_E));

    /* Unknown. */
    assert_int_equal(wr_history_resolve(fx->wdb, "run_ffff", id, sizeof(id), err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_string_equal(err, "no run 'run_ffff' (`weir runs` lists them)");
    assert_int_equal(wr_history_resolve(fx->wdb, RUN_A "0", id, sizeof(id), err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_int_equal(wr_history_resolve(fx->wdb, "", id, sizeof(id), err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    /* Characters that mean something to LIKE or GLOB mean nothing here. */
    assert_int_equal(wr_history_resolve(fx->wdb, "run%", id, sizeof(id), err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_int_equal(wr_history_resolve(fx->wdb, "run_*", id, sizeof(id), err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
}

static void test_resolve_many(void **state)
{
    struct fixture *fx = *state;
    char id[64], err[WR_ERR_MAX];
    for (int i = 0; i < 12; i++) {
        exec_sql(fx,
                 "INSERT INTO runs (id, event_id, workflow, workflow_hash, status, created_at, "
                 "updated_at) SELECT 'run_x%02d', event_id, 'w', '', 'queued', 1, 1 FROM runs "
                 "WHERE id = '" RUN_A "'",
                 i);
    }
    assert_int_equal(wr_history_resolve(fx->wdb, "run_x", id, sizeof(id), err, sizeof(err)),
                     WR_HISTORY_EAMBIGUOUS);
    assert_non_null(strstr(err, "more than 10 runs, among them"));
    assert_non_null(strstr(err, "run_x09"));
    assert_null(strstr(err, "run_x10"));
}

/* }====== */

/* {====== show ====== */

static struct json_object *show(struct fixture *fx, const char *run)
{
    struct json_object *out = NULL;
    char err[WR_ERR_MAX];
    if (wr_history_show(fx->wdb, run, &out, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    return out;
}

static void test_show(void **state)
{
    struct fixture *fx = *state;
    struct json_object *run = show(fx, RUN_A);

    assert_string_equal(str(run, "id"), RUN_A);
    assert_string_equal(str(run, "status"), "failed");
    assert_string_equal(str(run, "error"), A_ERROR);
    assert_null(member(run, "short_id"));

    struct json_object *ev = member(run, "event");
    assert_string_equal(str(ev, "id"), str(run, "event_id"));
    assert_string_equal(str(ev, "source"), "webhook:/hooks/hr");
    /* What started it: the event's source, and no user (the body has none). */
    assert_string_equal(str(run, "trigger"), "webhook:/hooks/hr");
    assert_null(member(run, "user"));
    assert_string_equal(str(ev, "idem_key"), "k1");
    assert_int_equal(num(ev, "received_at"), NOW);
    assert_string_equal(str(ev, "status"), "matched");
    assert_string_equal(str(member(ev, "headers"), "x-request-id"), "r1");
    assert_string_equal(str(member(ev, "body"), "email"), "ada@contoso.com");

    struct json_object *steps = member(run, "steps");
    assert_int_equal(json_object_array_length(steps), 3);
    struct json_object *s0 = json_object_array_get_idx(steps, 0);
    struct json_object *s1 = json_object_array_get_idx(steps, 1);
    struct json_object *s2 = json_object_array_get_idx(steps, 2);
    assert_int_equal(num(s0, "idx"), 0);
    assert_int_equal(num(s1, "idx"), 1);
    assert_int_equal(num(s2, "idx"), 1000);
    assert_string_equal(str(s0, "step_id"), "account");
    assert_string_equal(str(s0, "status"), "succeeded");
    assert_int_equal(num(s0, "attempts"), 1);
    assert_int_equal(num(s0, "started_at"), NOW - 3 * HOUR);
    assert_int_equal(num(s0, "finished_at"), NOW - 3 * HOUR + 400);
    assert_string_equal(str(member(member(s0, "args"), "set"), "displayName"), "Ada");
    assert_string_equal(str(member(s0, "output"), "id"), "u1");
    assert_null(member(s0, "error"));
    assert_null(member(s1, "step_id"));
    assert_int_equal(num(s1, "attempts"), 3);
    assert_true(json_object_is_type(member(member(s1, "args"), "add"), json_type_array));
    assert_null(member(s1, "output"));
    assert_string_equal(str(s1, "error"), A_ERROR);
    assert_null(member(s2, "finished_at"));
    assert_string_equal(str(s2, "error"), HOOK_ERROR);
    json_object_put(run);

    /* Text that is not JSON is kept as a string. */
    run = show(fx, RUN_B);
    struct json_object *args = member(json_object_array_get_idx(member(run, "steps"), 1), "args");
    assert_true(json_object_is_type(args, json_type_string));
    assert_string_equal(json_object_get_string(args), "not json {");
    json_object_put(run);

    /* No steps yet, and errors. */
    run = show(fx, RUN_E);
    assert_int_equal(json_object_array_length(member(run, "steps")), 0);
    assert_string_equal(str(member(run, "event"), "source"), "manual");
    assert_null(member(member(run, "event"), "headers"));
    json_object_put(run);

    struct json_object *out = (struct json_object *)1;
    char err[WR_ERR_MAX];
    /* Full ids only: a prefix, even a unique one, is no run (the CLI resolves prefixes). */
    assert_int_equal(wr_history_show(fx->wdb, "run_018f3a2b4c5d1a", &out, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_string_equal(err, "no run 'run_018f3a2b4c5d1a' (a full run id; `weir runs` lists them)");
    assert_null(out);
    assert_int_equal(wr_history_show(fx->wdb, "run_018f3a2b4c", &out, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_null(out);
    assert_int_equal(wr_history_show(fx->wdb, "nope", &out, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_null(out);
}

/* }====== */

/* {====== retry and cancel ====== */

static void test_retry(void **state)
{
    struct fixture *fx = *state;
    struct json_object *after = NULL;
    char err[WR_ERR_MAX];

    /* A failed run, on the current version: the hash is cleared. */
    assert_int_equal(wr_history_retry(fx->wdb, RUN_A, false, NOW, &after, err, sizeof(err)), 0);
    assert_string_equal(str(after, "id"), RUN_A);
    assert_string_equal(str(after, "status"), "queued");
    json_object_put(after);
    char *s = query_text(fx, "SELECT status || '|' || workflow_hash || '|' || updated_at || "
                             "'|' || coalesce(CAST(next_at AS TEXT), 'null') || '|' || "
                             "coalesce(error, 'null') FROM runs WHERE id = '" RUN_A "'");
    char *want = wr_xasprintf("queued||%lld|null|null", NOW);
    assert_string_equal(s, want);
    free(s);
    free(want);
    /* Failed and retrying rows are pending again with their attempts; the rest untouched. */
    s = steps_of(fx, RUN_A, true);
    assert_string_equal(s, "0:succeeded:1 1:pending:3 1000:pending:1");
    free(s);
    s = query_text(fx, "SELECT error FROM steps WHERE run_id = '" RUN_A "' AND idx = 1");
    assert_string_equal(s, A_ERROR);
    free(s);

    /* succeeded_with_errors, on the same version: the hash stays. */
    assert_int_equal(wr_history_retry(fx->wdb, RUN_B, true, NOW, NULL, err, sizeof(err)), 0);
    s = query_text(fx, "SELECT status || '|' || workflow_hash FROM runs WHERE id = '" RUN_B "'");
    assert_string_equal(s, "queued|h1");
    free(s);
    s = steps_of(fx, RUN_B, false);
    assert_string_equal(s, "0:succeeded 1:pending 2:succeeded");
    free(s);
}

static void test_retry_refused(void **state)
{
    struct fixture *fx = *state;
    struct json_object *after = (struct json_object *)1;
    char err[WR_ERR_MAX];

    exec_sql(fx, "UPDATE runs SET status = 'succeeded' WHERE id = '" RUN_E "'");
    assert_int_equal(wr_history_retry(fx->wdb, RUN_D, false, NOW, &after, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_null(after);
    assert_string_equal(err, "run " RUN_D " has status retrying: only failed or "
                             "succeeded_with_errors runs can be retried");
    assert_int_equal(wr_history_retry(fx->wdb, RUN_C, false, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_int_equal(wr_history_retry(fx->wdb, RUN_E, true, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_non_null(strstr(err, "has status succeeded:"));
    exec_sql(fx, "UPDATE runs SET status = 'cancelled' WHERE id = '" RUN_E "'");
    assert_int_equal(wr_history_retry(fx->wdb, RUN_E, false, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_int_equal(
        wr_history_retry(fx->wdb, "run_018f3a2b4c5d1", false, NOW, NULL, err, sizeof(err)),
        WR_HISTORY_ENOTFOUND);
    /* a unique prefix of the failed run is not its id */
    assert_int_equal(
        wr_history_retry(fx->wdb, "run_018f3a2b4c5d1b", false, NOW, NULL, err, sizeof(err)),
        WR_HISTORY_ENOTFOUND);
    assert_int_equal(wr_history_retry(fx->wdb, "run_zz", false, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);

    /* Nothing changed, and no transaction was left open. */
    assert_int_equal(query_int(fx, "SELECT updated_at FROM runs WHERE id = '" RUN_D "'"),
                     NOW - 29 * MINUTE);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM steps WHERE status = 'pending'"), 0);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM runs WHERE workflow_hash = ''"), 0);
    assert_false(wr_db_in_transaction(fx->wdb));
}

static void test_cancel(void **state)
{
    struct fixture *fx = *state;
    struct json_object *after = NULL;
    char err[WR_ERR_MAX];

    exec_sql(fx, "UPDATE runs SET status = 'running' WHERE id = '" RUN_B "'");
    /* A prefix, even of the only queued run, cancels nothing (issue #13: the admin API's
       POST /api/runs/r/cancel cancelled the only run). */
    assert_int_equal(wr_history_cancel(fx->wdb, "run_018f3a2b4d", NOW, &after, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_null(after);
    assert_int_equal(wr_history_cancel(fx->wdb, "r", NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    char *st = query_text(fx, "SELECT status FROM runs WHERE id = '" RUN_E "'");
    assert_string_equal(st, "queued");
    free(st);
    const char *open_runs[] = {RUN_B, RUN_C, RUN_D, RUN_E};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            wr_history_cancel(fx->wdb, open_runs[i], NOW + (int64_t)i, &after, err, sizeof(err)),
            0);
        assert_string_equal(str(after, "status"), "cancelled");
        assert_string_equal(str(after, "error"), "cancelled by weir cancel");
        assert_int_equal(num(after, "updated_at"), NOW + (int64_t)i);
        json_object_put(after);
        after = NULL;
    }
    /* The steps record what happened: cancel leaves them alone. */
    assert_int_equal(query_int(fx, "SELECT count(*) FROM steps WHERE status = 'waiting'"), 1);
    assert_int_equal(query_int(fx, "SELECT next_at FROM runs WHERE id = '" RUN_C "'"),
                     NOW + 24 * HOUR);

    /* Finished runs, a cancelled one included, are refused. */
    assert_int_equal(wr_history_cancel(fx->wdb, RUN_A, NOW, &after, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_null(after);
    assert_string_equal(err, "run " RUN_A " has status failed: only a run not finished yet "
                             "(queued, running, retrying, waiting) can be cancelled");
    assert_int_equal(wr_history_cancel(fx->wdb, RUN_E, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    assert_non_null(strstr(err, "has status cancelled:"));
    exec_sql(fx, "UPDATE runs SET status = 'succeeded' WHERE id = '" RUN_E "'");
    assert_int_equal(wr_history_cancel(fx->wdb, RUN_E, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    exec_sql(fx, "UPDATE runs SET status = 'succeeded_with_errors' WHERE id = '" RUN_E "'");
    assert_int_equal(wr_history_cancel(fx->wdb, RUN_E, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ESTATE);
    char *s = query_text(fx, "SELECT error FROM runs WHERE id = '" RUN_A "'");
    assert_string_equal(s, A_ERROR);
    free(s);
    assert_int_equal(wr_history_cancel(fx->wdb, "x", NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_ENOTFOUND);
    assert_false(wr_db_in_transaction(fx->wdb));
}

/*
 * A write waits for the daemon's transaction, then goes through. SQLite: the daemon's write
 * lock, waited out by the busy timeout at BEGIN IMMEDIATE. PostgreSQL: the daemon's change of
 * the run holds its row, waited out when cancel reads the status FOR UPDATE.
 */
static void test_cancel_while_locked(void **state)
{
    struct fixture *fx = *state;
    char err[WR_ERR_MAX];
    struct wr_db *other = wr_journal_open_reader(fx->state, err, sizeof(err));
    assert_non_null(other);
    assert_int_equal(wr_db_begin(other, true, err, sizeof(err)), 0);
    if (pg) {
        exec_on(other, "UPDATE runs SET updated_at = updated_at + 1 WHERE id = '" RUN_C "'");
        exec_sql(fx, "SET lock_timeout = '50ms'");
    } else {
        exec_sql(fx, "PRAGMA busy_timeout = 50");
    }
    /* With the lock held the short timeout expires: an error, nothing half done. */
    assert_int_equal(wr_history_cancel(fx->wdb, RUN_C, NOW, NULL, err, sizeof(err)),
                     WR_HISTORY_EDB);
    assert_non_null(strstr(err, pg ? "reading the run" : "starting a write transaction"));
    assert_false(wr_db_in_transaction(fx->wdb));
    assert_int_equal(wr_db_commit(other, err, sizeof(err)), 0);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM runs WHERE status = 'cancelled'"), 0);
    assert_int_equal(wr_history_cancel(fx->wdb, RUN_C, NOW, NULL, err, sizeof(err)), 0);
    wr_journal_close_reader(other);
}

/* }====== */

/* {====== formats ====== */

static struct wr_workflow *load_workflow(struct fixture *fx)
{
    struct wr_diags d = {0};
    struct wr_workflow *wf = NULL;
    char *path = wr_xasprintf("%s/workflows/onboard.yaml", fx->dir);
    if (wr_workflow_load(path, fx->dir, NULL, &wf, &d) != 0) {
        wr_diags_print(&d, stderr);
        fail_msg("the test workflow does not load");
    }
    wr_diags_clear(&d);
    free(path);
    return wf;
}

static size_t cols(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return n;
}

static void test_format_table(void **state)
{
    struct fixture *fx = *state;
    struct wr_workflow *wf = load_workflow(fx);
    struct wr_workflow_set set = {.items = &wf, .count = 1};
    exec_sql(fx, "UPDATE runs SET workflow_hash = %s WHERE id IN ('" RUN_A "', '" RUN_D "')",
             q(fx, wf->hash));
    struct json_object *runs = list(fx, &(struct wr_history_filter){0});
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
        wr_history_annotate(json_object_array_get_idx(runs, i), &set);
    }
    /* Annotated only at the version the run uses. */
    assert_int_equal(num(json_object_array_get_idx(runs, 4), "steps_total"), 3);
    assert_int_equal(num(json_object_array_get_idx(runs, 4), "on_error_total"), 1);
    assert_string_equal(str(member(json_object_array_get_idx(runs, 4), "last_step"), "action"),
                        "assign-license");
    assert_null(member(json_object_array_get_idx(runs, 3), "steps_total"));

    char *table = wr_history_format_table(runs, NOW, 137);
    /* 137 columns: STEP gives up columns so that ERROR keeps 16; USER would be next. */
    const char *want =
        "RUN                 WORKFLOW  STATUS                 TRIGGER  USER             STARTED"
        "           DURATION  STEP          ERROR\n"
        "run_018f3a2b4d7f4   offboard  queued                 manual   bob@contoso.com  "
        "2024-05-01T13:59  1m00s     -\n"
        "run_018f3a2b4c6e3   onboard   retrying               manual   bob@contoso.com  "
        "2024-05-01T13:30  30m00s    1/3 account   Graph 503 Servi…\n"
        "run_018f3a2b4c6e2   offboard  waiting                manual   bob@contoso.com  "
        "2024-05-01T13:00  1h00m     2 pause\n"
        "run_018f3a2b4c5d1b  onboard   succeeded_with_errors  webhook  -                "
        "2024-05-01T12:00  1m00s     3\n"
        "run_018f3a2b4c5d1a  onboard   failed                 webhook  -                "
        "2024-05-01T11:00  8.1s      2/3 assign-…  Graph 403 Autho…\n";
    if (strcmp(table, want) != 0) {
        fail_msg("got:\n%s\nwant:\n%s", table, want);
    }
    free(table);

    /* Narrower: USER gives up columns after STEP, down to 12. */
    table = wr_history_format_table(runs, NOW, 120);
    assert_non_null(strstr(table, "  manual   bob@contoso…  2024-05-01T13:59"));
    free(table);

    /* Without the long status, cutting STEP is enough to stay within 126 columns. */
    json_object_array_del_idx(runs, 3, 1);
    table = wr_history_format_table(runs, NOW, 126);
    size_t widest = 0;
    for (const char *line = table; *line;) {
        size_t len = strcspn(line, "\n");
        widest = cols(line, len) > widest ? cols(line, len) : widest;
        line += len + 1;
    }
    assert_int_equal(widest, 126);
    assert_non_null(strstr(table, "  2/3 assign-li…  Graph 403 Autho…\n"));
    free(table);

    /* Wider: nothing is cut but the error, to its first line. */
    table = wr_history_format_table(runs, NOW, 166);
    assert_non_null(strstr(table, "  2/3 assign-license  Graph 403 Authorization_RequestDenied: "
                                  "Insufficient…\n"));
    free(table);
    table = wr_history_format_table(runs, NOW, 326);
    assert_non_null(strstr(table, "Insufficient privileges to complete the operation.\n"));
    assert_null(strstr(table, "request-id"));
    free(table);
    json_object_put(runs);

    /* An empty list is a header. */
    runs = json_object_new_array();
    table = wr_history_format_table(runs, NOW, 100);
    assert_string_equal(table,
                        "RUN  WORKFLOW  STATUS  TRIGGER  USER  STARTED  DURATION  STEP  ERROR\n");
    free(table);
    json_object_put(runs);
    wr_workflow_free(wf);
}

static void test_format_run(void **state)
{
    struct fixture *fx = *state;
    struct wr_workflow *wf = load_workflow(fx);
    struct wr_workflow_set set = {.items = &wf, .count = 1};
    exec_sql(fx, "UPDATE runs SET workflow_hash = %s WHERE id = '" RUN_A "'", q(fx, wf->hash));
    struct json_object *run = show(fx, RUN_A);
    wr_history_annotate(run, &set);
    char *text = wr_history_format_run(run, NOW);
    char *head = wr_xasprintf("run       " RUN_A "\n"
                              "workflow  onboard, version %.12s\n"
                              "status    failed\n"
                              "key       e1\n"
                              "created   2024-05-01T11:00:00+00:00\n"
                              "updated   2024-05-01T11:00:08+00:00 (8.1s after creation)\n"
                              "error     Graph 403 Authorization_RequestDenied: Insufficient "
                              "privileges to complete the operation.\n"
                              "          request-id: 5f1c\n"
                              "\n"
                              "Trigger event %s from webhook:/hooks/hr, received "
                              "2024-05-01T14:00:00+00:00, key k1:\n"
                              "  {\n"
                              "    \"name\": \"Ada\",\n"
                              "    \"email\": \"ada@contoso.com\"\n"
                              "  }\n"
                              "\n"
                              "Steps:\n"
                              "  1/3 account (create-user): succeeded, 1 attempt\n"
                              "      started 2024-05-01T11:00:00+00:00, took 400ms\n"
                              "      args:\n"
                              "        {\n"
                              "          \"set\": {\n"
                              "            \"displayName\": \"Ada\"\n"
                              "          }\n"
                              "        }\n"
                              "      output:\n"
                              "        {\n"
                              "          \"id\": \"u1\"\n"
                              "        }\n"
                              "  2/3 assign-license: failed, 3 attempts\n"
                              "      started 2024-05-01T11:00:00+00:00, took 7.5s\n",
                              wf->hash, str(run, "event_id"));
    if (strncmp(text, head, strlen(head)) != 0) {
        fail_msg("got:\n%s\nwant a start of:\n%s", text, head);
    }
    /* Graph's answer in full, and the hook's traceback indented under its message. */
    assert_non_null(strstr(text, "      error:\n"
                                 "        Graph 403 Authorization_RequestDenied: Insufficient "
                                 "privileges to complete the operation.\n"
                                 "          request-id: 5f1c\n"));
    assert_non_null(strstr(text, "  on_error 1/1 http-request: retrying, 1 attempt\n"
                                 "      started 2024-05-01T11:00:08+00:00\n"
                                 "      args: {}\n"
                                 "      error:\n"
                                 "        scripts/alert.lua:12: boom\n"
                                 "          stack traceback:\n"
                                 "            [C]: in function 'error'\n"
                                 "            scripts/alert.lua:12: in function 'map'\n"));
    free(head);
    free(text);
    json_object_put(run);

    /* A run waiting, without annotation: when it resumes; the current version after retry. */
    run = show(fx, RUN_C);
    text = wr_history_format_run(run, NOW);
    assert_non_null(strstr(text, "resumes   2024-05-02T14:00:00+00:00 (in 1d00h)\n"));
    assert_non_null(strstr(text, "  2 pause: waiting, 1 attempt\n"));
    free(text);
    json_object_put(run);
    char err[WR_ERR_MAX];
    assert_int_equal(wr_history_retry(fx->wdb, RUN_B, false, NOW, &run, err, sizeof(err)), 0);
    text = wr_history_format_run(run, NOW);
    assert_non_null(strstr(text, "workflow  onboard, current version (retried without "
                                 "--same-version)\n"));
    assert_non_null(strstr(text, "      args: not json {\n"));
    free(text);
    json_object_put(run);

    run = show(fx, RUN_E);
    text = wr_history_format_run(run, NOW);
    assert_non_null(strstr(text, "Steps: none ran yet\n"));
    free(text);
    json_object_put(run);
    wr_workflow_free(wf);
}

/* }====== */

/* {====== the commands ====== */

static int cli(struct fixture *fx, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {"weir", (char *)a1, "-c", fx->config, (char *)a2, (char *)a3, NULL};
    int argc = 4 + (a2 != NULL) + (a2 && a3);
    return wr_cli_main(argc, argv);
}

static void test_commands(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(cli(fx, "runs", NULL, NULL), WR_EXIT_OK);
    assert_int_equal(cli(fx, "runs", "--json", NULL), WR_EXIT_OK);
    assert_int_equal(cli(fx, "runs", "--status", "failed"), WR_EXIT_OK);
    assert_int_equal(cli(fx, "runs", "--workflow", "nope"), WR_EXIT_OK);
    assert_int_equal(cli(fx, "runs", "--status", "done"), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "runs", "--since", "2 h"), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "runs", "--limit", "0"), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "runs", "extra", NULL), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "show", "run_018f3a2b4c5d1a", NULL), WR_EXIT_OK);
    assert_int_equal(cli(fx, "show", RUN_C, "--json"), WR_EXIT_OK);
    assert_int_equal(cli(fx, "show", "run_018f3a2b4c5d1", NULL), WR_EXIT_INVALID);
    assert_int_equal(cli(fx, "show", NULL, NULL), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "show", RUN_A, RUN_B), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "retry", RUN_D, NULL), WR_EXIT_INVALID);
    assert_int_equal(cli(fx, "retry", RUN_A, "--same-version"), WR_EXIT_OK);
    assert_int_equal(query_int(fx, "SELECT workflow_hash = 'h1' FROM runs WHERE id = '" RUN_A "'"),
                     1);
    assert_int_equal(cli(fx, "retry", RUN_B, NULL), WR_EXIT_OK);
    assert_int_equal(query_int(fx, "SELECT workflow_hash = '' FROM runs WHERE id = '" RUN_B "'"),
                     1);
    assert_int_equal(cli(fx, "retry", RUN_A, "--json"), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "cancel", RUN_C, NULL), WR_EXIT_OK);
    assert_int_equal(cli(fx, "cancel", RUN_C, NULL), WR_EXIT_INVALID);
    assert_int_equal(cli(fx, "cancel", RUN_C, "--same-version"), WR_EXIT_USAGE);
    assert_int_equal(cli(fx, "runs", "--help", NULL), WR_EXIT_OK);
}

static void test_commands_without_store(void **state)
{
    SQLITE_ONLY("the store is a file removed here; a database has no such state");
    struct fixture *fx = *state;
    wr_journal_close_reader(fx->wdb);
    fx->wdb = NULL;
    assert_int_equal(unlink(fx->state), 0);
    assert_int_equal(cli(fx, "runs", NULL, NULL), WR_EXIT_INVALID);
    assert_int_equal(cli(fx, "show", RUN_A, NULL), WR_EXIT_INVALID);
}

static void test_commands_empty(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(cli(fx, "runs", NULL, NULL), WR_EXIT_OK);
    assert_int_equal(cli(fx, "show", "run_", NULL), WR_EXIT_INVALID);
}

/* }====== */

/* PostgreSQL: reads the cluster's URL from url_file into pg_admin_url and makes pg_url. */
static int pg_urls(const char *url_file)
{
    if (!wr_pgtest_read_url("test_history", url_file, pg_admin_url, sizeof(pg_admin_url))) {
        return -1;
    }
    /* Every connection of weir's (the reader, migrate, the CLI's) lands in the test's schema. */
    char *url = wr_pgtest_schema_url(pg_admin_url, PG_SCHEMA);
    snprintf(pg_url, sizeof(pg_url), "%s", url);
    free(url);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "postgres") == 0) {
        pg = true;
        if (pg_urls(argv[2]) != 0) {
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: test_history | test_history postgres URL_FILE\n");
        return 2;
    }
    /* Local times in the formats are pinned to UTC. */
    setenv("TZ", "UTC", 1);
    tzset();
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statuses),
        cmocka_unit_test_setup_teardown(test_list_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_text_and_trigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_of_any_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_uses_an_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_stored_once_and_capped, setup, teardown),
        cmocka_unit_test(test_text_cap),
        cmocka_unit_test_setup_teardown(test_list_empty, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_locked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_without_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_empty, setup_empty, teardown),
    };
    return cmocka_run_group_tests_name(pg ? "test_history (postgresql)" : "test_history (sqlite)",
                                       tests, NULL, NULL);
}
