/*
 * history — run history read back from the journal, retry and cancel; see history.h.
 *
 * Everything here runs on one caller-owned connection from wr_journal_open_reader(), a SQLite
 * file or a PostgreSQL database, through engine/store/db only. Reads are single statements or
 * a handful, each with its own snapshot (SQLite's WAL, PostgreSQL's READ COMMITTED), which is
 * enough for a screen of history: a run that changes between two statements shows its newer
 * state. Retry and cancel read the status and write inside one write transaction (SQLite's
 * BEGIN IMMEDIATE; on PostgreSQL the status is read FOR UPDATE), so the check and the change
 * cannot be split by a commit of the daemon.
 *
 * The SQL is written once where both back ends read it alike; where SQLite's is not
 * PostgreSQL's (JSON1, byte-capped reads, instr, char(), bare columns of max()), the two texts
 * stand side by side and wr_db_kind picks one.
 */
#include "engine/store/history.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/db.h"
#include "engine/store/journal.h"

/* A short id keeps "run_" and the 12 hex digits of its creation millisecond, plus one. */
#define SHORT_ID_MIN 17

/*
 * What started a run, from its event: the event's source ("webhook /hooks/hr", "user-date
 * onboard", "manual") and its user — body.user when that is a string, else
 * body.user.userPrincipalName or body.user.id — cut to 256 characters (a body that is not JSON
 * has none).
 */
#define SOURCE_EXPR "(SELECT source FROM events AS e WHERE e.id = runs.event_id)"
/* SQLite: JSON1 on the body's text; json_valid keeps a body that is not JSON out. */
#define USER_EXPR_SQLITE                                                                           \
    "(SELECT CASE WHEN json_valid(e.body) THEN CASE json_type(e.body, '$.user') "                  \
    "WHEN 'text' THEN substr(json_extract(e.body, '$.user'), 1, 256) "                             \
    "WHEN 'object' THEN substr(coalesce(json_extract(e.body, '$.user.userPrincipalName'), "        \
    "json_extract(e.body, '$.user.id')), 1, 256) END END "                                         \
    "FROM events AS e WHERE e.id = runs.event_id)"
/*
 * PostgreSQL: the same through jsonb. A failed cast would fail the whole list, and PostgreSQL
 * has no json_valid, so only a body that can hold a user is cast: one that starts as an object
 * (a scalar or an array has no body.user, as in SQLite) and has no \u0000 (jsonb refuses it).
 * Event bodies are JSON text, so nothing else is left out; an object cut short would still
 * fail. jsonb_typeof picks a string or an object user, as json_type does.
 */
#define USER_EXPR_PG                                                                               \
    "(SELECT CASE jsonb_typeof(b -> 'user') "                                                      \
    "WHEN 'string' THEN substr(b ->> 'user', 1, 256) "                                             \
    "WHEN 'object' THEN substr(coalesce(b -> 'user' ->> 'userPrincipalName', "                     \
    "b -> 'user' ->> 'id'), 1, 256) END "                                                          \
    "FROM (SELECT CASE WHEN e.body ~ '^[ \\t\\n\\r]*\\{' AND strpos(e.body, '\\u0000') = 0 "       \
    "THEN e.body::jsonb END AS b FROM events AS e WHERE e.id = runs.event_id) AS ev)"

/*
 * A text column read as its first bytes and its length in bytes (a text that may be long is
 * never read whole into an answer): a printf format taking the cap plus one; col_capped()
 * reads the pair. SQLite: through a BLOB cast, so substr counts bytes.
 */
#define CAPPED_SQLITE(col) "substr(CAST(" col " AS BLOB), 1, %zu), length(CAST(" col " AS BLOB))"
/* PostgreSQL: the text's UTF-8 bytes as a bytea (read with wr_db_column_blob). */
#define CAPPED_PG(col)                                                                             \
    "substring(convert_to(" col ", 'UTF8') from 1 for %zu), octet_length(" col ")"

/*
 * The run columns run_from_row() reads, with `concurrency_key` and `error` capped (each a pair of
 * columns): a printf format taking those two caps plus one.
 */
/* clang-format off */
#define RUN_COLUMNS(capped, user_expr)                                                             \
    "id, workflow, workflow_hash, status, event_id, "                                              \
    capped("concurrency_key") ", created_at, updated_at, next_at, "                                \
    capped("error") ", " SOURCE_EXPR ", " user_expr
/* clang-format on */

/*
 * Matching f->text (see add_conditions): a substring of the run id, the event id, the
 * concurrency key or the event's user, ASCII case ignored. A position, not LIKE, so that the
 * text is taken literally ('%' and '_' are not wildcards): SQLite's instr is PostgreSQL's
 * strpos. The text is bound four times.
 */
#define TEXT_CONDITION(find, user_expr)                                                            \
    " AND (" find "(lower(id), lower(?)) > 0 OR " find "(lower(event_id), lower(?)) > 0"           \
    " OR " find "(lower(coalesce(concurrency_key, '')), lower(?)) > 0"                             \
    " OR " find "(lower(coalesce(" user_expr ", '')), lower(?)) > 0)"

static bool is_pg(const struct wr_db *db)
{
    return wr_db_kind(db) == WR_DB_POSTGRES;
}

/* Not finished: queued, running, retrying, waiting; finished: the rest. */
static const char *const statuses[] = {
    "queued",    "running",   "retrying", "waiting",
    "held",      "succeeded", "failed",   "succeeded_with_errors",
    "cancelled", NULL,
};

const char *const *wr_history_run_statuses(void)
{
    return statuses;
}

bool wr_history_status_valid(const char *s)
{
    for (size_t i = 0; statuses[i]; i++) {
        if (strcmp(s, statuses[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_finished(const char *status)
{
    return strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
           strcmp(status, "succeeded_with_errors") == 0 || strcmp(status, "cancelled") == 0;
}

/* {====== reading rows ====== */

/* "what: msg" into err, msg being the back end's (wr_db_errmsg or a call's err). */
static int db_error(char *err, size_t errlen, const char *what, const char *msg)
{
    wr_errf_marked(err, errlen, "%s: %s", what, msg);
    return WR_HISTORY_EDB;
}

/* The longest run id (or prefix) a message repeats; more is cut with a marker. */
#define ECHO_MAX 64

/* "no run 'ID'" into err, for an id that matches nothing; hint follows it. */
static int not_found(char *err, size_t errlen, const char *id, const char *hint)
{
    char *shown = wr_text_cap(id, ECHO_MAX);
    snprintf(err, errlen, "no run '%s'%s", shown, hint);
    free(shown);
    return WR_HISTORY_ENOTFOUND;
}

/* The column as a JSON string, or NULL (JSON null) when it is SQL NULL. */
static struct json_object *col_text(struct wr_db_stmt *st, int i)
{
    const char *s = wr_db_column_text(st, i);
    if (wr_db_column_is_null(st, i) || !s) {
        return NULL;
    }
    return json_object_new_string_len(s, wr_db_column_bytes(st, i));
}

static struct json_object *col_int(struct wr_db_stmt *st, int i)
{
    if (wr_db_column_is_null(st, i)) {
        return NULL;
    }
    return json_object_new_int64(wr_db_column_int64(st, i));
}

/*
 * The column's JSON text parsed into a tree. Text that does not parse whole (it should not
 * happen: the executor writes JSON) is kept as a string, so nothing stored is hidden.
 */
static struct json_object *col_json(struct wr_db_stmt *st, int i)
{
    const char *s = wr_db_column_text(st, i);
    if (wr_db_column_is_null(st, i) || !s) {
        return NULL;
    }
    int len = wr_db_column_bytes(st, i);
    /* The strict reader: what `weir show --json` and /api/runs/ID write back must be JSON,
       so a stored text that is not (NaN from an older version) comes out as a string. */
    struct json_object *o = NULL;
    struct wr_json_opts opts = {.allow_nul = true}; /* a step output may hold one */
    if (wr_json_parse(s, (size_t)len, &opts, &o, NULL) != 0) {
        return json_object_new_string_len(s, len);
    }
    return o;
}

/*
 * A text column read as its first bytes (column i, at least max + 1 of them when there are
 * more: CAPPED_SQLITE or CAPPED_PG) and its length in bytes (column i + 1), as a JSON string
 * of at most max bytes cut at a UTF-8 boundary with "… (N bytes more)"; NULL for SQL NULL.
 */
static struct json_object *col_capped(struct wr_db_stmt *st, int i, size_t max)
{
    if (wr_db_column_is_null(st, i)) {
        return NULL;
    }
    size_t n = 0;
    const char *s = wr_db_column_blob(st, i, &n);
    int64_t total = wr_db_column_int64(st, i + 1);
    if (!s || (int64_t)n >= total) {
        return json_object_new_string_len(s ? s : "", (int)n);
    }
    size_t keep = wr_utf8_prefix(s, n, max < n ? max : n);
    struct wr_buf b = {0};
    wr_buf_addn(&b, s, keep);
    wr_buf_addf(&b, "… (%lld bytes more)", (long long)(total - (int64_t)keep));
    struct json_object *o = json_object_new_string_len(b.data, (int)b.len);
    wr_buf_free(&b);
    return o;
}

/* The RUN_COLUMNS select list of db's back end for these caps, owned. */
static char *run_columns(const struct wr_db *db, size_t key_max, size_t error_max)
{
    /* Each back end's text, side by side: SQLite's as it always was, PostgreSQL's with jsonb
       and bytea in place of JSON1 and BLOB casts. */
    static const char lite[] = RUN_COLUMNS(CAPPED_SQLITE, USER_EXPR_SQLITE);
    static const char pg[] = RUN_COLUMNS(CAPPED_PG, USER_EXPR_PG);
    return wr_xasprintf(is_pg(db) ? pg : lite, key_max + 1, error_max + 1);
}

/* The capped columns of a step's error (CAPPED_SQLITE or CAPPED_PG) for this cap, owned. */
static char *step_error_columns(const struct wr_db *db, size_t max)
{
    return wr_xasprintf(is_pg(db) ? CAPPED_PG("error") : CAPPED_SQLITE("error"), max + 1);
}

/* A run object from a row selected with run_columns(db, key_max, error_max). */
static struct json_object *run_from_row(struct wr_db_stmt *st, size_t key_max, size_t error_max)
{
    struct json_object *run = json_object_new_object();
    json_object_object_add(run, "id", col_text(st, 0));
    json_object_object_add(run, "workflow", col_text(st, 1));
    json_object_object_add(run, "workflow_hash", col_text(st, 2));
    json_object_object_add(run, "status", col_text(st, 3));
    json_object_object_add(run, "event_id", col_text(st, 4));
    json_object_object_add(run, "concurrency_key", col_capped(st, 5, key_max));
    json_object_object_add(run, "created_at", col_int(st, 7));
    json_object_object_add(run, "updated_at", col_int(st, 8));
    json_object_object_add(run, "next_at", col_int(st, 9));
    json_object_object_add(run, "error", col_capped(st, 10, error_max));
    json_object_object_add(run, "trigger", col_text(st, 12));
    json_object_object_add(run, "user", col_text(st, 13));
    return run;
}

/*
 * A failed run's error is stored once, in the row of the step that failed (the executor
 * leaves the run's own error NULL then). Gives run `error` the error of step (borrowed) when
 * the run is failed, has no error of its own and step is a main step that failed.
 */
static void inherit_error(struct json_object *run, struct json_object *step)
{
    struct json_object *e = NULL, *v = NULL;
    const char *status = NULL, *step_status = NULL;
    if (json_object_object_get_ex(run, "status", &v)) {
        status = json_object_get_string(v);
    }
    if (!step || !status || strcmp(status, "failed") != 0 ||
        (json_object_object_get_ex(run, "error", &e) && e)) {
        return;
    }
    if (json_object_object_get_ex(step, "status", &v)) {
        step_status = json_object_get_string(v);
    }
    if (step_status && strcmp(step_status, "failed") == 0 &&
        json_object_object_get_ex(step, "idx", &v) && json_object_get_int64(v) < WR_ON_ERROR_BASE &&
        json_object_object_get_ex(step, "error", &e) && e) {
        json_object_object_add(run, "error", json_object_get(e));
    }
}

/* Borrowed string member, or NULL when missing or not a string. */
static const char *get_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

static bool get_int(struct json_object *o, const char *key, int64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        return false;
    }
    *out = json_object_get_int64(v);
    return true;
}

static int64_t get_int_or(struct json_object *o, const char *key, int64_t dflt)
{
    int64_t v;
    return get_int(o, key, &v) ? v : dflt;
}

/* }====== */

/* {====== list ====== */

static size_t common_prefix(const char *a, const char *b)
{
    size_t n = 0;
    while (a[n] && a[n] == b[n]) {
        n++;
    }
    return n;
}

/*
 * The neighbour (before: the greatest id below; else the least id above) of id, into out;
 * -1 on an error (wr_db_errmsg(st) says which).
 */
static int neighbour(struct wr_db_stmt *st, const char *id, char *out, size_t outlen)
{
    out[0] = '\0';
    wr_db_bind_text(st, 1, id, -1);
    int rc = wr_db_step(st);
    if (rc == WR_DB_ROW && !wr_db_column_is_null(st, 0)) {
        snprintf(out, outlen, "%s", wr_db_column_text(st, 0));
    }
    wr_db_reset(st);
    wr_db_clear_bindings(st);
    return rc == WR_DB_ROW ? 0 : -1;
}

/*
 * The step a run reached, from its step rows (st, bound to the run, in idx order): among the
 * main steps the first one not finished, else the furthest; among the on_error steps the same
 * way only when there is no main step row. Returns an owned {idx, step_id, status, error} or
 * NULL when there are no rows, and sets *count to the number of rows; -1 on an error
 * (wr_db_errmsg(st) says which).
 */
static struct json_object *reached_step(struct wr_db_stmt *st, int *count)
{
    struct json_object *pick[2] = {NULL, NULL}; /* main, on_error */
    bool open_picked[2] = {false, false};
    int rc;

    *count = 0;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        int idx = (int)wr_db_column_int64(st, 0), kind = idx >= WR_ON_ERROR_BASE;
        const char *status = wr_db_column_text(st, 2);
        bool open = status && (strcmp(status, "pending") == 0 || strcmp(status, "running") == 0 ||
                               strcmp(status, "retrying") == 0 || strcmp(status, "waiting") == 0 ||
                               strcmp(status, "held") == 0);
        (*count)++;
        if (open_picked[kind]) {
            continue; /* rows come in idx order: the first open one wins */
        }
        json_object_put(pick[kind]);
        pick[kind] = json_object_new_object();
        json_object_object_add(pick[kind], "idx", json_object_new_int(idx));
        json_object_object_add(pick[kind], "step_id", col_text(st, 1));
        json_object_object_add(pick[kind], "status", col_text(st, 2));
        json_object_object_add(pick[kind], "error", col_capped(st, 3, WR_HISTORY_SUMMARY_MAX));
        open_picked[kind] = open;
    }
    wr_db_reset(st);
    if (rc != WR_DB_DONE) {
        *count = -1;
        json_object_put(pick[0]);
        json_object_put(pick[1]);
        return NULL;
    }
    if (pick[0]) {
        json_object_put(pick[1]);
        return pick[0];
    }
    return pick[1];
}

struct list_stmts {
    struct wr_db_stmt *steps, *prev, *next;
};

/* The neighbours' queries of add_short_id (the same on both back ends). */
#define PREV_ID_SQL "SELECT max(id) FROM runs WHERE id < ?"
#define NEXT_ID_SQL "SELECT min(id) FROM runs WHERE id > ?"

/*
 * Adds short_id to run (whose id is id): the shortest prefix no neighbour shares. 0, or
 * WR_HISTORY_EDB with err.
 */
static int add_short_id(struct wr_db_stmt *prev_st, struct wr_db_stmt *next_st,
                        struct json_object *run, const char *id, char *err, size_t errlen)
{
    char prev[128], next[128];
    if (neighbour(prev_st, id, prev, sizeof(prev)) != 0) {
        return db_error(err, errlen, "reading run ids", wr_db_errmsg(prev_st));
    }
    if (neighbour(next_st, id, next, sizeof(next)) != 0) {
        return db_error(err, errlen, "reading run ids", wr_db_errmsg(next_st));
    }
    size_t a = common_prefix(id, prev), b = common_prefix(id, next);
    size_t len = (a > b ? a : b) + 1;
    len = len < SHORT_ID_MIN ? SHORT_ID_MIN : len;
    len = len > strlen(id) ? strlen(id) : len;
    json_object_object_add(run, "short_id", json_object_new_string_len(id, (int)len));
    return 0;
}

int wr_history_add_short_ids(struct wr_db *db, struct json_object *runs, char *err, size_t errlen)
{
    struct wr_db_stmt *prev = NULL, *next = NULL;
    char msg[WR_ERR_MAX];
    int rc = 0;
    if (wr_db_prepare(db, PREV_ID_SQL, &prev, msg, sizeof(msg)) != 0 ||
        wr_db_prepare(db, NEXT_ID_SQL, &next, msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "reading run ids", msg);
    }
    for (size_t i = 0; rc == 0 && i < json_object_array_length(runs); i++) {
        struct json_object *run = json_object_array_get_idx(runs, i);
        const char *id = get_str(run, "id");
        if (id) {
            rc = add_short_id(prev, next, run, id, err, errlen);
        }
    }
    wr_db_finalize(prev);
    wr_db_finalize(next);
    return rc;
}

/* Adds short_id, steps_recorded and last_step to a run object. */
static int add_list_fields(struct list_stmts *s, struct json_object *run, char *err, size_t errlen)
{
    const char *id = get_str(run, "id");
    int rc = add_short_id(s->prev, s->next, run, id, err, errlen);
    if (rc != 0) {
        return rc;
    }

    int count;
    wr_db_bind_text(s->steps, 1, id, -1);
    struct json_object *step = reached_step(s->steps, &count);
    wr_db_clear_bindings(s->steps);
    if (count < 0) {
        return db_error(err, errlen, "reading steps", wr_db_errmsg(s->steps));
    }
    json_object_object_add(run, "steps_recorded", json_object_new_int(count));
    json_object_object_add(run, "last_step", step);
    inherit_error(run, step);
    return 0;
}

/* A cursor: "<created_at>.<id>" of the last run of a page. */
static bool parse_cursor(const char *c, int64_t *created, const char **id)
{
    size_t digits = strspn(c, "0123456789");
    if (digits == 0 || digits > 18 || c[digits] != '.') {
        return false;
    }
    const char *rest = c + digits + 1;
    size_t n = strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    if (n == 0 || rest[n] || n >= WR_HISTORY_CURSOR_MAX - 20) {
        return false;
    }
    *created = strtoll(c, NULL, 10);
    *id = rest;
    return true;
}

bool wr_history_cursor_valid(const char *cursor)
{
    int64_t created;
    const char *id;
    return parse_cursor(cursor, &created, &id);
}

/*
 * The conditions of f but its cursor (and its status unless with_status), each " AND ...", on
 * the runs table, in db's dialect; bind_conditions binds them in the same order from parameter
 * n on and returns the next parameter's number.
 */
static void add_conditions(const struct wr_db *db, struct wr_buf *sql,
                           const struct wr_history_filter *f, bool with_status)
{
    if (f->workflow) {
        wr_buf_add(sql, " AND workflow = ?");
    }
    if (with_status && f->status) {
        wr_buf_add(sql, " AND status = ?");
    }
    if (f->since_ms > 0) {
        wr_buf_add(sql, " AND created_at >= ?");
    }
    if (f->until_ms > 0) {
        wr_buf_add(sql, " AND created_at < ?");
    }
    if (f->trigger) {
        /* The kind is the source's first word ("webhook /hooks/hr"), or what comes before a
           colon ("kind:rest"), as the CLI's TRIGGER column reads it. */
        wr_buf_add(sql, " AND EXISTS (SELECT 1 FROM events AS e WHERE e.id = runs.event_id AND "
                        "(e.source = ? OR substr(e.source, 1, length(?) + 1) IN (? || ' ', "
                        "? || ':')))");
    }
    if (f->text) {
        /* SQLite: instr and JSON1; PostgreSQL: strpos and jsonb (see TEXT_CONDITION). */
        wr_buf_add(sql, is_pg(db) ? TEXT_CONDITION("strpos", USER_EXPR_PG)
                                  : TEXT_CONDITION("instr", USER_EXPR_SQLITE));
    }
}

static int bind_conditions(struct wr_db_stmt *st, const struct wr_history_filter *f, int64_t now,
                           bool with_status, int n)
{
    if (f->workflow) {
        wr_db_bind_text(st, n++, f->workflow, -1);
    }
    if (with_status && f->status) {
        wr_db_bind_text(st, n++, f->status, -1);
    }
    if (f->since_ms > 0) {
        wr_db_bind_int64(st, n++, now - f->since_ms);
    }
    if (f->until_ms > 0) {
        wr_db_bind_int64(st, n++, now - f->until_ms);
    }
    for (int i = 0; f->trigger && i < 4; i++) {
        wr_db_bind_text(st, n++, f->trigger, -1);
    }
    for (int i = 0; f->text && i < 4; i++) {
        wr_db_bind_text(st, n++, f->text, -1);
    }
    return n;
}

int wr_history_list_page(struct wr_db *db, const struct wr_history_filter *f, int64_t now,
                         struct json_object **out, char *next, size_t nextlen, char *err,
                         size_t errlen)
{
    struct wr_buf sql = {0};
    struct wr_db_stmt *st = NULL;
    struct list_stmts s = {0};
    struct json_object *list = NULL;
    char msg[WR_ERR_MAX];
    int rc = WR_HISTORY_EDB, n = 1, step;
    int limit = f->limit <= 0                     ? WR_HISTORY_DEFAULT_LIMIT
                : f->limit > WR_HISTORY_MAX_LIMIT ? WR_HISTORY_MAX_LIMIT
                                                  : f->limit;
    int64_t after_created = 0;
    const char *after_id = NULL;
    char *columns = run_columns(db, WR_HISTORY_SUMMARY_MAX, WR_HISTORY_SUMMARY_MAX);
    char *step_error = step_error_columns(db, WR_HISTORY_SUMMARY_MAX);

    *out = NULL;
    if (nextlen > 0) {
        next[0] = '\0';
    }
    if (f->cursor && !parse_cursor(f->cursor, &after_created, &after_id)) {
        snprintf(err, errlen, "not a cursor of this list");
        rc = WR_HISTORY_ENOTFOUND;
        goto out;
    }
    /* The page's ids are picked (and sorted) first, so the sort holds ids, not errors; one
       more than the page tells whether another page follows. (WHERE true, not SQLite's
       WHERE 1: PostgreSQL wants a boolean.) */
    wr_buf_addf(&sql, "SELECT %s FROM (SELECT id FROM runs WHERE true", columns);
    add_conditions(db, &sql, f, true);
    if (after_id) {
        /* A row value: the index is searched from the cursor on (an OR would be scanned from
           the newest run down to the cursor, page after page). */
        wr_buf_add(&sql, " AND (created_at, id) < (?, ?)");
    }
    wr_buf_add(&sql, " ORDER BY created_at DESC, id DESC LIMIT ?) AS page JOIN runs USING (id) "
                     "ORDER BY created_at DESC, id DESC");
    char *steps_sql = wr_xasprintf("SELECT idx, step_id, status, %s FROM steps WHERE run_id = ? "
                                   "ORDER BY idx",
                                   step_error);
    bool prepared = wr_db_prepare(db, wr_buf_str(&sql), &st, msg, sizeof(msg)) == 0 &&
                    wr_db_prepare(db, steps_sql, &s.steps, msg, sizeof(msg)) == 0 &&
                    wr_db_prepare(db, PREV_ID_SQL, &s.prev, msg, sizeof(msg)) == 0 &&
                    wr_db_prepare(db, NEXT_ID_SQL, &s.next, msg, sizeof(msg)) == 0;
    free(steps_sql);
    if (!prepared) {
        db_error(err, errlen, "listing runs", msg);
        goto out;
    }
    n = bind_conditions(st, f, now, true, n);
    if (after_id) {
        wr_db_bind_int64(st, n++, after_created);
        wr_db_bind_text(st, n++, after_id, -1);
    }
    wr_db_bind_int64(st, n, limit + 1);

    list = json_object_new_array();
    int rows = 0;
    while ((step = wr_db_step(st)) == WR_DB_ROW) {
        if (++rows > limit) {
            /* Another page follows: it starts after the last run of this one. */
            struct json_object *last = json_object_array_get_idx(list, (size_t)limit - 1);
            if (nextlen > 0) {
                snprintf(next, nextlen, "%lld.%s", (long long)get_int_or(last, "created_at", 0),
                         get_str(last, "id"));
            }
            step = WR_DB_DONE;
            break;
        }
        struct json_object *run = run_from_row(st, WR_HISTORY_SUMMARY_MAX, WR_HISTORY_SUMMARY_MAX);
        json_object_array_add(list, run);
        if (add_list_fields(&s, run, err, errlen) != 0) {
            goto out;
        }
    }
    if (step != WR_DB_DONE) {
        db_error(err, errlen, "listing runs", wr_db_errmsg(st));
        goto out;
    }
    *out = list;
    list = NULL;
    rc = 0;
out:
    json_object_put(list);
    wr_db_finalize(st);
    wr_db_finalize(s.steps);
    wr_db_finalize(s.prev);
    wr_db_finalize(s.next);
    wr_buf_free(&sql);
    free(columns);
    free(step_error);
    return rc;
}

int wr_history_list(struct wr_db *db, const struct wr_history_filter *f, int64_t now,
                    struct json_object **out, char *err, size_t errlen)
{
    return wr_history_list_page(db, f, now, out, NULL, 0, err, errlen);
}

int wr_history_count(struct wr_db *db, int64_t *n, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db, "SELECT count(*) FROM runs", &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "counting runs", msg);
    }
    int rc = WR_HISTORY_EDB;
    if (wr_db_step(st) == WR_DB_ROW) {
        *n = wr_db_column_int64(st, 0);
        rc = 0;
    } else {
        db_error(err, errlen, "counting runs", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return rc;
}

int wr_history_count_matching(struct wr_db *db, const struct wr_history_filter *f, int64_t now,
                              struct json_object **out, char *err, size_t errlen)
{
    struct wr_buf sql = {0};
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    int rc = WR_HISTORY_EDB, step;
    struct json_object *counts = json_object_new_object();

    *out = NULL;
    for (size_t i = 0; statuses[i]; i++) {
        json_object_object_add(counts, statuses[i], json_object_new_int64(0));
    }
    wr_buf_add(&sql, "SELECT status, count(*) FROM runs WHERE true");
    add_conditions(db, &sql, f, false);
    wr_buf_add(&sql, " GROUP BY status");
    if (wr_db_prepare(db, wr_buf_str(&sql), &st, msg, sizeof(msg)) != 0) {
        db_error(err, errlen, "counting runs", msg);
        goto out;
    }
    bind_conditions(st, f, now, false, 1);
    while ((step = wr_db_step(st)) == WR_DB_ROW) {
        const char *status = wr_db_column_text(st, 0);
        json_object_object_add(counts, status ? status : "?",
                               json_object_new_int64(wr_db_column_int64(st, 1)));
    }
    if (step != WR_DB_DONE) {
        db_error(err, errlen, "counting runs", wr_db_errmsg(st));
        goto out;
    }
    *out = counts;
    counts = NULL;
    rc = 0;
out:
    json_object_put(counts);
    wr_db_finalize(st);
    wr_buf_free(&sql);
    return rc;
}

int wr_history_last_runs(struct wr_db *db, struct json_object **out, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    int step;
    *out = NULL;
    /* SQLite: one pass over the runs, taking the bare columns of max()'s row.
       PostgreSQL has no bare columns: DISTINCT ON keeps each workflow's first row in the
       order given, its newest run (the greater id among runs of one millisecond). */
    const char *sql = is_pg(db) ? "SELECT DISTINCT ON (workflow) workflow, id, status, created_at "
                                  "FROM runs ORDER BY workflow, created_at DESC, id DESC"
                                : "SELECT workflow, id, status, max(created_at) FROM runs "
                                  "GROUP BY workflow";
    if (wr_db_prepare(db, sql, &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "reading the last runs", msg);
    }
    struct json_object *last = json_object_new_object();
    while ((step = wr_db_step(st)) == WR_DB_ROW) {
        struct json_object *run = json_object_new_object();
        json_object_object_add(run, "id", col_text(st, 1));
        json_object_object_add(run, "status", col_text(st, 2));
        json_object_object_add(run, "at", col_int(st, 3));
        json_object_object_add(last, wr_db_column_text(st, 0), run);
    }
    if (step != WR_DB_DONE) {
        json_object_put(last);
        db_error(err, errlen, "reading the last runs", wr_db_errmsg(st));
        wr_db_finalize(st);
        return WR_HISTORY_EDB;
    }
    wr_db_finalize(st);
    *out = last;
    return 0;
}

bool wr_history_readable(struct wr_db *db, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db, "SELECT 1 FROM runs LIMIT 1", &st, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "%s", msg);
        return false;
    }
    int rc = wr_db_step(st);
    bool ok = rc == WR_DB_ROW || rc == WR_DB_DONE;
    if (!ok) {
        wr_errf_marked(err, errlen, "%s", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return ok;
}

int wr_history_count_by_state(struct wr_db *db, wr_history_count_fn fn, void *arg, char *err,
                              size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db,
                      "SELECT workflow, status, count(*) FROM runs GROUP BY workflow, status "
                      "ORDER BY workflow, status",
                      &st, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "%s", msg);
        return WR_HISTORY_EDB;
    }
    /* PostgreSQL checks the statement when it is first stepped: a first step that fails is
       a count that cannot start. After some rows, the ones read stand (as they always did). */
    int rc = wr_db_step(st);
    if (rc != WR_DB_ROW && rc != WR_DB_DONE) {
        wr_errf_marked(err, errlen, "%s", wr_db_errmsg(st));
        wr_db_finalize(st);
        return WR_HISTORY_EDB;
    }
    for (; rc == WR_DB_ROW; rc = wr_db_step(st)) {
        fn(arg, wr_db_column_text(st, 0), wr_db_column_text(st, 1), wr_db_column_int64(st, 2));
    }
    wr_db_finalize(st);
    return 0;
}

/* }====== */

/* {====== one run ====== */

int wr_history_resolve(struct wr_db *db, const char *prefix, char *id, size_t idlen, char *err,
                       size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    struct wr_buf found = {0};
    char msg[WR_ERR_MAX];
    int rc = WR_HISTORY_EDB, matches = 0, step;

    if (!prefix[0]) {
        snprintf(err, errlen, "no run id given");
        return WR_HISTORY_ENOTFOUND;
    }
    /* Ids are ASCII, so every id starting with prefix sorts below prefix + U+10FFFF: a range
       the primary key's index answers. An exact id sorts first and is taken as is. The
       character is SQLite's char(), PostgreSQL's chr(). */
    const char *sql = is_pg(db)
                          ? "SELECT id, workflow, status FROM runs "
                            "WHERE id >= ?1 AND id < ?1 || chr(1114111) ORDER BY id LIMIT 11"
                          : "SELECT id, workflow, status FROM runs "
                            "WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 11";
    if (wr_db_prepare(db, sql, &st, msg, sizeof(msg)) != 0) {
        db_error(err, errlen, "looking up the run", msg);
        goto out;
    }
    wr_db_bind_text(st, 1, prefix, -1);
    while ((step = wr_db_step(st)) == WR_DB_ROW) {
        const char *rid = wr_db_column_text(st, 0);
        if (matches == 0) {
            snprintf(id, idlen, "%s", rid);
        }
        if (strcmp(rid, prefix) == 0) {
            snprintf(id, idlen, "%s", rid);
            matches = 1;
            break;
        }
        matches++;
        if (matches <= 10) {
            wr_buf_addf(&found, "\n  %s  %s  %s", rid, wr_db_column_text(st, 1),
                        wr_db_column_text(st, 2));
        }
    }
    if (step != WR_DB_ROW && step != WR_DB_DONE) {
        db_error(err, errlen, "looking up the run", wr_db_errmsg(st));
        goto out;
    }
    if (matches == 0) {
        rc = not_found(err, errlen, prefix, " (`weir runs` lists them)");
    } else if (matches > 1) {
        char *shown = wr_text_cap(prefix, ECHO_MAX);
        snprintf(err, errlen, "run id '%s' is ambiguous; it matches%s:%s%s", shown,
                 matches > 10 ? " more than 10 runs, among them" : "", wr_buf_str(&found),
                 "\ngive more of the id");
        free(shown);
        rc = WR_HISTORY_EAMBIGUOUS;
    } else {
        rc = 0;
    }
out:
    if (rc != 0 && idlen > 0) {
        id[0] = '\0';
    }
    wr_db_finalize(st);
    wr_buf_free(&found);
    return rc;
}

/*
 * Graph's answer inside a step's error, as the action runner words it ("...: Graph 404
 * Request_ResourceNotFound: Resource 'x' does not exist (request-id R, client-request-id C)",
 * or "Graph request failed (timeout): ..."): an owned {"status" (null without an HTTP answer),
 * "code", "message", "request_id"}, or NULL when text (may be NULL) holds none. The message
 * ends at the line's end or at the ids.
 */
static struct json_object *graph_error_of(const char *text)
{
    for (const char *p = text ? strstr(text, "Graph ") : NULL; p; p = strstr(p + 1, "Graph ")) {
        const char *q = p + 6, *code, *msg;
        long status = -1;
        size_t codelen;
        if (q[0] >= '1' && q[0] <= '5' && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
            q[2] <= '9' && q[3] == ' ') {
            status = strtol(q, NULL, 10);
            code = q + 4;
            codelen = strcspn(code, " :\n");
            msg = code + codelen;
            if (codelen == 0 || strncmp(msg, ": ", 2) != 0) {
                continue;
            }
            msg += 2;
        } else if (strncmp(q, "request failed (", 16) == 0) {
            code = q + 16;
            codelen = strcspn(code, ")\n");
            msg = code + codelen;
            if (codelen == 0 || strncmp(msg, "): ", 3) != 0) {
                continue;
            }
            msg += 3;
        } else {
            continue;
        }
        size_t msglen = strcspn(msg, "\n");
        const char *ids = NULL;
        for (const char *m = msg; (m = strstr(m, " (")) && m < msg + msglen; m++) {
            if (strncmp(m, " (request-id ", 13) == 0 ||
                strncmp(m, " (client-request-id ", 20) == 0) {
                ids = m;
                break;
            }
        }
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "status", status >= 0 ? json_object_new_int64(status) : NULL);
        json_object_object_add(o, "code", json_object_new_string_len(code, (int)codelen));
        json_object_object_add(
            o, "message",
            json_object_new_string_len(msg, (int)(ids ? (size_t)(ids - msg) : msglen)));
        struct json_object *rid = NULL;
        if (ids && strncmp(ids, " (request-id ", 13) == 0) {
            const char *r = ids + 13;
            rid = json_object_new_string_len(r, (int)strcspn(r, ",)\n"));
        }
        json_object_object_add(o, "request_id", rid);
        return o;
    }
    return NULL;
}

/* The run with this exact id (no prefix), with its event and steps. */
static int show_exact(struct wr_db *db, const char *id, struct json_object **out, char *err,
                      size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    struct json_object *run = NULL, *steps = NULL, *failed = NULL;
    char msg[WR_ERR_MAX];
    int rc = WR_HISTORY_EDB, step;
    char *columns = run_columns(db, WR_STORED_ERROR_MAX, WR_STORED_ERROR_MAX);
    char *step_error = step_error_columns(db, WR_STORED_ERROR_MAX);
    char *sql = wr_xasprintf("SELECT %s FROM runs WHERE id = ?", columns);

    *out = NULL;
    step = wr_db_prepare(db, sql, &st, msg, sizeof(msg));
    free(sql);
    if (step != 0) {
        db_error(err, errlen, "reading the run", msg);
        goto out;
    }
    wr_db_bind_text(st, 1, id, -1);
    step = wr_db_step(st);
    if (step == WR_DB_DONE) {
        rc = not_found(err, errlen, id, " (a full run id; `weir runs` lists them)");
        goto out;
    }
    if (step != WR_DB_ROW) {
        db_error(err, errlen, "reading the run", wr_db_errmsg(st));
        goto out;
    }
    run = run_from_row(st, WR_STORED_ERROR_MAX, WR_STORED_ERROR_MAX);
    wr_db_finalize(st);
    st = NULL;

    if (wr_db_prepare(db,
                      "SELECT id, source, idem_key, received_at, headers, body, status, "
                      "idem_scope FROM events WHERE id = ?",
                      &st, msg, sizeof(msg)) != 0) {
        db_error(err, errlen, "reading the run's event", msg);
        goto out;
    }
    wr_db_bind_text(st, 1, get_str(run, "event_id"), -1);
    step = wr_db_step(st);
    struct json_object *event = NULL;
    if (step == WR_DB_ROW) {
        event = json_object_new_object();
        json_object_object_add(event, "id", col_text(st, 0));
        json_object_object_add(event, "source", col_text(st, 1));
        json_object_object_add(event, "idem_key", col_text(st, 2));
        json_object_object_add(event, "idem_scope", col_text(st, 7));
        json_object_object_add(event, "received_at", col_int(st, 3));
        json_object_object_add(event, "headers", col_json(st, 4));
        json_object_object_add(event, "body", col_json(st, 5));
        json_object_object_add(event, "status", col_text(st, 6));
    } else if (step != WR_DB_DONE) {
        db_error(err, errlen, "reading the run's event", wr_db_errmsg(st));
        goto out;
    }
    json_object_object_add(run, "event", event);
    wr_db_finalize(st);
    st = NULL;

    sql = wr_xasprintf("SELECT idx, step_id, status, attempts, started_at, finished_at, args, "
                       "output, %s FROM steps WHERE run_id = ? ORDER BY idx",
                       step_error);
    step = wr_db_prepare(db, sql, &st, msg, sizeof(msg));
    free(sql);
    if (step != 0) {
        db_error(err, errlen, "reading the run's steps", msg);
        goto out;
    }
    wr_db_bind_text(st, 1, id, -1);
    steps = json_object_new_array();
    while ((step = wr_db_step(st)) == WR_DB_ROW) {
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "idx", col_int(st, 0));
        json_object_object_add(s, "step_id", col_text(st, 1));
        json_object_object_add(s, "status", col_text(st, 2));
        json_object_object_add(s, "attempts", col_int(st, 3));
        json_object_object_add(s, "started_at", col_int(st, 4));
        json_object_object_add(s, "finished_at", col_int(st, 5));
        json_object_object_add(s, "args", col_json(st, 6));
        json_object_object_add(s, "output", col_json(st, 7));
        json_object_object_add(s, "error", col_capped(st, 8, WR_STORED_ERROR_MAX));
        json_object_object_add(s, "graph_error", graph_error_of(get_str(s, "error")));
        const char *status = get_str(s, "status");
        if (status && strcmp(status, "failed") == 0 && get_int_or(s, "idx", 0) < WR_ON_ERROR_BASE) {
            failed = s; /* the last main step that failed: the run's error when it has none */
        }
        json_object_array_add(steps, s);
    }
    if (step != WR_DB_DONE) {
        db_error(err, errlen, "reading the run's steps", wr_db_errmsg(st));
        goto out;
    }
    json_object_object_add(run, "steps", steps);
    steps = NULL;
    inherit_error(run, failed);
    *out = run;
    run = NULL;
    rc = 0;
out:
    wr_db_finalize(st);
    json_object_put(steps);
    json_object_put(run);
    free(columns);
    free(step_error);
    return rc;
}

int wr_history_show(struct wr_db *db, const char *id, struct json_object **out, char *err,
                    size_t errlen)
{
    return show_exact(db, id, out, err, errlen);
}

/* }====== */

/* {====== retry and cancel ====== */

/*
 * Runs one statement with ?1 bound to id and, when with_now, ?2 to now. 0, or -1 with the
 * back end's message in msg.
 */
static int run_update(struct wr_db *db, const char *sql, const char *id, bool with_now, int64_t now,
                      char *msg, size_t msglen)
{
    struct wr_db_stmt *st = NULL;
    if (wr_db_prepare(db, sql, &st, msg, msglen) != 0) {
        return -1;
    }
    wr_db_bind_text(st, 1, id, -1);
    if (with_now) {
        wr_db_bind_int64(st, 2, now);
    }
    int rc = wr_db_step(st);
    if (rc != WR_DB_DONE) {
        snprintf(msg, msglen, "%s", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return rc == WR_DB_DONE ? 0 : -1;
}

/* Reads the run's status (inside the caller's transaction) into status. */
static int read_status(struct wr_db *db, const char *id, char *status, size_t len, char *err,
                       size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    char msg[WR_ERR_MAX];
    int rc = WR_HISTORY_EDB;
    /* SQLite's BEGIN IMMEDIATE already holds the write lock; PostgreSQL's READ COMMITTED
       locks the row here, so no commit can change it between this read and our UPDATE. */
    const char *sql = is_pg(db) ? "SELECT status FROM runs WHERE id = ? FOR UPDATE"
                                : "SELECT status FROM runs WHERE id = ?";
    if (wr_db_prepare(db, sql, &st, msg, sizeof(msg)) != 0) {
        return db_error(err, errlen, "reading the run", msg);
    }
    wr_db_bind_text(st, 1, id, -1);
    int step = wr_db_step(st);
    if (step == WR_DB_ROW) {
        snprintf(status, len, "%s", wr_db_column_text(st, 0));
        rc = 0;
    } else if (step == WR_DB_DONE) {
        rc = not_found(err, errlen, id, " (a full run id; `weir runs` lists them)");
    } else {
        db_error(err, errlen, "reading the run", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return rc;
}

enum change { CHANGE_RETRY, CHANGE_RETRY_SAME_VERSION, CHANGE_CANCEL };

/* Retries or cancels the run with exactly this id (never a prefix: see history.h). */
static int change_run(struct wr_db *db, const char *id, enum change what, int64_t now,
                      struct json_object **out, char *err, size_t errlen)
{
    char status[64], msg[WR_ERR_MAX];
    bool in_tx = false;
    int rc;

    if (out) {
        *out = NULL;
    }
    /* A write transaction: SQLite's BEGIN IMMEDIATE takes the write lock now, so the status
       read below is the one we change (PostgreSQL: see read_status). */
    if (wr_db_begin(db, true, msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "starting a write transaction", msg);
        goto out;
    }
    in_tx = true;
    rc = read_status(db, id, status, sizeof(status), err, errlen);
    if (rc != 0) {
        goto out;
    }
    if (what == CHANGE_CANCEL) {
        if (is_finished(status)) {
            snprintf(err, errlen,
                     "run %s has status %s: only a run not finished yet (queued, "
                     "running, retrying, waiting) can be cancelled",
                     id, status);
            rc = WR_HISTORY_ESTATE;
            goto out;
        }
        if (run_update(db,
                       "UPDATE runs SET status = 'cancelled', error = 'cancelled by weir "
                       "cancel', updated_at = ?2 WHERE id = ?1",
                       id, true, now, msg, sizeof(msg)) != 0) {
            rc = db_error(err, errlen, "cancelling the run", msg);
            goto out;
        }
    } else {
        if (strcmp(status, "failed") != 0 && strcmp(status, "succeeded_with_errors") != 0) {
            snprintf(err, errlen,
                     "run %s has status %s: only failed or succeeded_with_errors runs "
                     "can be retried",
                     id, status);
            rc = WR_HISTORY_ESTATE;
            goto out;
        }
        const char *sql = what == CHANGE_RETRY_SAME_VERSION
                              ? "UPDATE runs SET status = 'queued', next_at = NULL, error = NULL, "
                                "updated_at = ?2 WHERE id = ?1"
                              : "UPDATE runs SET status = 'queued', next_at = NULL, error = NULL, "
                                "updated_at = ?2, workflow_hash = '' WHERE id = ?1";
        if (run_update(db, sql, id, true, now, msg, sizeof(msg)) != 0 ||
            run_update(db,
                       "UPDATE steps SET status = 'pending' WHERE run_id = ?1 AND status IN "
                       "('failed', 'retrying')",
                       id, false, now, msg, sizeof(msg)) != 0) {
            rc = db_error(err, errlen, "queueing the run again", msg);
            goto out;
        }
    }
    if (wr_db_commit(db, msg, sizeof(msg)) != 0) {
        rc = db_error(err, errlen, "committing", msg);
        goto out;
    }
    in_tx = false;
    if (out) {
        rc = show_exact(db, id, out, err, errlen);
    }
out:
    if (in_tx) {
        wr_db_rollback(db);
    }
    return rc;
}

int wr_history_retry(struct wr_db *db, const char *id, bool same_version, int64_t now,
                     struct json_object **out, char *err, size_t errlen)
{
    return change_run(db, id, same_version ? CHANGE_RETRY_SAME_VERSION : CHANGE_RETRY, now, out,
                      err, errlen);
}

int wr_history_cancel(struct wr_db *db, const char *id, int64_t now, struct json_object **out,
                      char *err, size_t errlen)
{
    return change_run(db, id, CHANGE_CANCEL, now, out, err, errlen);
}

/* }====== */

/* {====== annotate ====== */

static const char *step_kind_label(const struct wr_step *s)
{
    switch (s->kind) {
    case WR_STEP_ACTION:
        return s->action ? s->action->name : "action";
    case WR_STEP_SCRIPT:
        return "script";
    case WR_STEP_WAIT:
        return "wait";
    case WR_STEP_APPROVAL:
        return "approval request";
    case WR_STEP_APPROVAL_WAIT:
        return "approval";
    }
    return "step";
}

static void annotate_step(struct json_object *step, const struct wr_workflow *wf)
{
    int64_t idx;
    if (!step || !get_int(step, "idx", &idx) || idx < 0) {
        return;
    }
    const struct wr_step *s = NULL;
    if (idx < WR_ON_ERROR_BASE && (size_t)idx < wf->nsteps) {
        s = &wf->steps[idx];
    } else if (idx >= WR_ON_ERROR_BASE && (size_t)(idx - WR_ON_ERROR_BASE) < wf->non_error) {
        s = &wf->on_error[idx - WR_ON_ERROR_BASE];
    }
    if (s) {
        json_object_object_add(step, "action", json_object_new_string(step_kind_label(s)));
    }
}

void wr_history_annotate(struct json_object *run, const struct wr_workflow_set *set)
{
    const char *name = get_str(run, "workflow"), *hash = get_str(run, "workflow_hash");
    const struct wr_workflow *wf = set && name ? wr_workflow_set_find(set, name) : NULL;
    if (!wf || !hash || (hash[0] && strcmp(hash, wf->hash) != 0)) {
        return;
    }
    json_object_object_add(run, "steps_total", json_object_new_int64((int64_t)wf->nsteps));
    json_object_object_add(run, "on_error_total", json_object_new_int64((int64_t)wf->non_error));
    struct json_object *steps, *last;
    if (json_object_object_get_ex(run, "steps", &steps) &&
        json_object_is_type(steps, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(steps); i++) {
            annotate_step(json_object_array_get_idx(steps, i), wf);
        }
    }
    if (json_object_object_get_ex(run, "last_step", &last)) {
        annotate_step(last, wf);
    }
}

/* }====== */

/* {====== formatting ====== */

/* Compact, rounded duration for people: 412ms, 12.3s, 4m05s, 2h13m, 3d04h. */
static const char *human_duration(int64_t ms, char *buf, size_t len)
{
    if (ms < 0) {
        ms = 0;
    }
    int64_t s = ms / 1000;
    if (ms < 1000) {
        snprintf(buf, len, "%lldms", (long long)ms);
    } else if (s < 60) {
        snprintf(buf, len, "%lld.%llds", (long long)s, (long long)(ms % 1000 / 100));
    } else if (s < 3600) {
        snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    } else if (s < 86400) {
        snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    } else {
        snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    }
    return buf;
}

/* Local time: "2024-05-01T14:05" (minute) or "2024-05-01T14:05:12+02:00" (full). */
static const char *local_time(int64_t ms, bool full, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char zone[8];
    if (!localtime_r(&t, &tm)) {
        snprintf(buf, len, "@%lld", (long long)ms);
        return buf;
    }
    if (!full) {
        strftime(buf, len, "%Y-%m-%dT%H:%M", &tm);
        return buf;
    }
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof(zone), "%z", &tm); /* +0200 → +02:00 */
    if (strlen(zone) == 5) {
        snprintf(buf, len, "%s%.3s:%s", base, zone, zone + 3);
    } else {
        snprintf(buf, len, "%s%s", base, zone);
    }
    return buf;
}

/* Display columns of UTF-8 text: one per code point (weir's texts hold no wide characters). */
static size_t text_cols(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

/* Appends the first line of s, at most max columns ("…" marks a cut), never splitting a
   UTF-8 sequence. */
static void add_first_line(struct wr_buf *b, const char *s, size_t max)
{
    size_t end = strcspn(s, "\r\n");
    size_t cols = 0, i = 0, cut = 0;
    bool over = false;
    for (i = 0; i < end; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80) {
            continue;
        }
        if (cols == (max > 0 ? max - 1 : 0)) {
            cut = i; /* where the ellipsis goes if the rest does not fit */
        }
        if (++cols > max) {
            over = true;
            break;
        }
    }
    if (over) {
        wr_buf_addn(b, s, cut);
        wr_buf_add(b, "…");
    } else {
        wr_buf_addn(b, s, end);
    }
}

static void add_padded(struct wr_buf *b, const char *s, size_t width)
{
    wr_buf_add(b, s);
    for (size_t n = text_cols(s); n < width; n++) {
        wr_buf_addc(b, ' ');
    }
}

/* "3/8", "3", "on_error 1/2": where a step sits in its workflow. */
static void add_step_position(struct wr_buf *b, struct json_object *run, struct json_object *step)
{
    int64_t idx = get_int_or(step, "idx", 0), total;
    bool on_error = idx >= WR_ON_ERROR_BASE;
    if (on_error) {
        idx -= WR_ON_ERROR_BASE;
        wr_buf_add(b, "on_error ");
    }
    wr_buf_addf(b, "%lld", (long long)idx + 1);
    if (get_int(run, on_error ? "on_error_total" : "steps_total", &total)) {
        wr_buf_addf(b, "/%lld", (long long)total);
    }
}

/* The step's name for people: its id, else its action when the workflow told us. */
static void add_step_name(struct wr_buf *b, struct json_object *step, bool with_action)
{
    const char *id = get_str(step, "step_id"), *action = get_str(step, "action");
    if (id) {
        wr_buf_add(b, id);
        if (with_action && action && strcmp(action, id) != 0) {
            wr_buf_addf(b, " (%s)", action);
        }
    } else if (action) {
        wr_buf_add(b, action);
    }
}

enum {
    COL_RUN,
    COL_WORKFLOW,
    COL_STATUS,
    COL_TRIGGER,
    COL_USER,
    COL_STARTED,
    COL_DURATION,
    COL_STEP,
    COL_ERROR,
    NCOLS
};
_Static_assert(COL_ERROR == sizeof(((struct wr_history_table *)0)->widths) / sizeof(size_t),
               "wr_history_table.widths holds the columns before ERROR");

/* Narrowest the flexible columns get when the width is short, and the gap between columns. */
#define MIN_ERROR_COLS 16
#define MIN_CUT_COLS   12
#define GAP            2

/* The table's cells, header row first: n + 1 rows of NCOLS owned strings. */
static char **table_cells(struct json_object *runs, size_t n, int64_t now)
{
    static const char *const heads[NCOLS] = {"RUN",     "WORKFLOW", "STATUS", "TRIGGER", "USER",
                                             "STARTED", "DURATION", "STEP",   "ERROR"};
    char **cells = wr_xcalloc((n + 1) * NCOLS, sizeof(*cells));

    for (int c = 0; c < NCOLS; c++) {
        cells[c] = wr_xstrdup(heads[c]);
    }
    for (size_t r = 0; r < n; r++) {
        struct json_object *run = json_object_array_get_idx(runs, r), *step = NULL;
        char **row = &cells[(r + 1) * NCOLS], buf[64];
        const char *status = get_str(run, "status");
        const char *workflow = get_str(run, "workflow"), *id = get_str(run, "id");
        const char *short_id = get_str(run, "short_id");
        int64_t created = get_int_or(run, "created_at", 0);
        int64_t end = status && is_finished(status) ? get_int_or(run, "updated_at", now) : now;

        row[COL_RUN] = wr_xstrdup(short_id ? short_id : id ? id : "?");
        row[COL_WORKFLOW] = wr_xstrdup(workflow ? workflow : "?");
        row[COL_STATUS] = wr_xstrdup(status ? status : "?");
        /* The kind: the source's first word ("webhook /hooks/hr" is a webhook; a source
           written "kind:rest" is cut at the colon). */
        const char *source = get_str(run, "trigger"), *user = get_str(run, "user");
        row[COL_TRIGGER] = source ? wr_xstrndup(source, strcspn(source, " :")) : wr_xstrdup("-");
        row[COL_USER] = wr_xstrdup(user && *user ? user : "-");
        row[COL_STARTED] = wr_xstrdup(local_time(created, false, buf, sizeof(buf)));
        row[COL_DURATION] = wr_xstrdup(human_duration(end - created, buf, sizeof(buf)));
        struct wr_buf s = {0}, name = {0};
        if (json_object_object_get_ex(run, "last_step", &step) && step) {
            add_step_position(&s, run, step);
            add_step_name(&name, step, false);
            if (name.len > 0) {
                wr_buf_addf(&s, " %s", wr_buf_str(&name));
            }
            wr_buf_free(&name);
        } else {
            wr_buf_add(&s, "-");
        }
        row[COL_STEP] = wr_buf_take(&s);
        /* A run still retrying has no error of its own yet: its step's last one says why. */
        const char *error = get_str(run, "error");
        if (!error && step && status && strcmp(status, "retrying") == 0) {
            error = get_str(step, "error");
        }
        row[COL_ERROR] = wr_xstrdup(error ? error : "");
    }
    return cells;
}

void wr_history_table_init(struct wr_history_table *t, int width)
{
    memset(t, 0, sizeof(*t));
    t->width = width;
}

/* Fixes t's column widths from the first page's cells (header row included). */
static void table_layout(struct wr_history_table *t, char **cells, size_t n)
{
    size_t used = 0;
    for (size_t r = 0; r <= n; r++) {
        for (int c = 0; c < COL_ERROR; c++) {
            size_t w = text_cols(cells[r * NCOLS + c]);
            t->widths[c] = w > t->widths[c] ? w : t->widths[c];
        }
    }
    for (int c = 0; c < COL_ERROR; c++) {
        used += t->widths[c] + GAP;
    }
    /* ERROR gets what is left of the width. When that is too little to read, STEP and then
       USER and then WORKFLOW give up columns (their cells are cut with "…"), down to
       MIN_CUT_COLS each.
       Without any error to show, ERROR only needs its heading. */
    size_t error_need = text_cols("ERROR");
    for (size_t r = 1; r <= n; r++) {
        size_t w = text_cols(cells[r * NCOLS + COL_ERROR]);
        error_need = w > error_need ? w : error_need;
    }
    error_need = error_need < MIN_ERROR_COLS ? error_need : MIN_ERROR_COLS;
    size_t limit = t->width > 0 ? (size_t)t->width : SIZE_MAX / 2;
    while (used + error_need > limit &&
           (t->widths[COL_STEP] > MIN_CUT_COLS || t->widths[COL_USER] > MIN_CUT_COLS ||
            t->widths[COL_WORKFLOW] > MIN_CUT_COLS)) {
        t->widths[t->widths[COL_STEP] > MIN_CUT_COLS   ? COL_STEP
                  : t->widths[COL_USER] > MIN_CUT_COLS ? COL_USER
                                                       : COL_WORKFLOW]--;
        used--;
    }
    t->room = used + MIN_ERROR_COLS > limit ? MIN_ERROR_COLS : limit - used;
}

char *wr_history_format_table_page(struct wr_history_table *t, struct json_object *runs,
                                   int64_t now)
{
    size_t n = json_object_array_length(runs);
    char **cells = table_cells(runs, n, now);
    struct wr_buf out = {0};

    if (!t->started) {
        table_layout(t, cells, n);
    }
    for (size_t r = t->started ? 1 : 0; r <= n; r++) {
        struct wr_buf line = {0}, cell = {0};
        for (int c = 0; c < COL_ERROR; c++) {
            /* Only the flexible columns are cut; a wider cell of a later page (a longer short
               id) pushes its line right rather than losing characters. */
            bool flexible = c == COL_STEP || c == COL_WORKFLOW || c == COL_USER;
            add_first_line(&cell, cells[r * NCOLS + c], flexible ? t->widths[c] : SIZE_MAX / 2);
            add_padded(&line, wr_buf_str(&cell), t->widths[c] + GAP);
            wr_buf_free(&cell);
        }
        add_first_line(&line, cells[r * NCOLS + COL_ERROR], t->room);
        /* No trailing blanks when the error is empty. */
        while (line.len > 0 && line.data[line.len - 1] == ' ') {
            line.data[--line.len] = '\0';
        }
        wr_buf_add(&out, wr_buf_str(&line));
        wr_buf_addc(&out, '\n');
        wr_buf_free(&line);
    }
    t->started = true;
    for (size_t i = 0; i < (n + 1) * NCOLS; i++) {
        free(cells[i]);
    }
    free(cells);
    return wr_buf_take(&out);
}

char *wr_history_format_table(struct json_object *runs, int64_t now, int width)
{
    struct wr_history_table t;
    wr_history_table_init(&t, width);
    return wr_history_format_table_page(&t, runs, now);
}

/* Appends text with every line indented by `indent` spaces; lines after the first get `more`
   extra, and a leading tab becomes two spaces (Lua tracebacks indent with tabs). */
static void add_indented(struct wr_buf *b, const char *text, int indent, int more)
{
    bool first = true;
    while (*text) {
        size_t len = strcspn(text, "\n");
        int pad = indent + (first ? 0 : more);
        const char *line = text;
        while (*line == '\t' && line < text + len) {
            pad += 2;
            line++;
        }
        wr_buf_addf(b, "%*s", pad, "");
        wr_buf_addn(b, line, len - (size_t)(line - text));
        wr_buf_addc(b, '\n');
        text += len;
        if (*text == '\n') {
            text++;
        }
        first = false;
    }
}

static void add_json(struct wr_buf *b, struct json_object *o, int indent)
{
    if (json_object_is_type(o, json_type_string)) {
        /* Text the executor stored that is not JSON: show it as it is. */
        add_indented(b, json_object_get_string(o), indent, 0);
        return;
    }
    add_indented(b,
                 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                       JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE),
                 indent, 0);
}

/* "label: {}" on one line for an empty or scalar value, else the label over an indented
   block. */
static void add_json_field(struct wr_buf *b, const char *label, struct json_object *o, int indent)
{
    bool container =
        json_object_is_type(o, json_type_object) || json_object_is_type(o, json_type_array);
    bool empty = (json_object_is_type(o, json_type_object) && json_object_object_length(o) == 0) ||
                 (json_object_is_type(o, json_type_array) && json_object_array_length(o) == 0);
    bool one_line_text =
        json_object_is_type(o, json_type_string) && !strchr(json_object_get_string(o), '\n');
    if (empty) {
        wr_buf_addf(b, "%s %s\n", label, json_object_is_type(o, json_type_object) ? "{}" : "[]");
    } else if (one_line_text || !container) {
        wr_buf_addf(b, "%s %s\n", label,
                    json_object_is_type(o, json_type_string) ? json_object_get_string(o)
                                                             : json_object_to_json_string(o));
    } else {
        wr_buf_addf(b, "%s\n", label);
        add_json(b, o, indent);
    }
}

static void add_field(struct wr_buf *b, const char *label, const char *value)
{
    wr_buf_addf(b, "%-10s%s\n", label, value);
}

static void format_step(struct wr_buf *b, struct json_object *run, struct json_object *step,
                        int64_t now)
{
    char t[64], d[32];
    const char *status = get_str(step, "status");
    int64_t attempts = get_int_or(step, "attempts", 0), started, finished;
    struct json_object *v;

    wr_buf_add(b, "  ");
    add_step_position(b, run, step);
    size_t len = b->len;
    wr_buf_addc(b, ' ');
    add_step_name(b, step, true);
    if (b->len == len + 1) {
        b->data[--b->len] = '\0'; /* no name to separate */
    }
    wr_buf_addf(b, ": %s", status ? status : "?");
    if (attempts > 0) {
        wr_buf_addf(b, ", %lld attempt%s", (long long)attempts, attempts == 1 ? "" : "s");
    }
    wr_buf_addc(b, '\n');
    if (get_int(step, "started_at", &started)) {
        wr_buf_addf(b, "      started %s", local_time(started, true, t, sizeof(t)));
        if (get_int(step, "finished_at", &finished)) {
            wr_buf_addf(b, ", took %s", human_duration(finished - started, d, sizeof(d)));
        } else if (status && strcmp(status, "running") == 0) {
            wr_buf_addf(b, ", running for %s", human_duration(now - started, d, sizeof(d)));
        }
        wr_buf_addc(b, '\n');
    }
    if (json_object_object_get_ex(step, "args", &v) && v) {
        add_json_field(b, "      args:", v, 8);
    }
    if (json_object_object_get_ex(step, "output", &v) && v) {
        add_json_field(b, "      output:", v, 8);
    }
    const char *error = get_str(step, "error");
    if (error) {
        wr_buf_add(b, "      error:\n");
        add_indented(b, error, 8, 2);
    }
}

char *wr_history_format_run(struct json_object *run, int64_t now)
{
    struct wr_buf b = {0};
    char t[64], d[32];
    const char *status = get_str(run, "status"), *hash = get_str(run, "workflow_hash");
    const char *key = get_str(run, "concurrency_key"), *error = get_str(run, "error");
    int64_t created = get_int_or(run, "created_at", 0), updated, next_at;
    struct json_object *event = NULL, *steps = NULL;

    add_field(&b, "run", get_str(run, "id"));
    wr_buf_addf(&b, "%-10s%s, ", "workflow", get_str(run, "workflow"));
    if (hash && hash[0]) {
        wr_buf_addf(&b, "version %.12s\n", hash);
    } else {
        wr_buf_add(&b, "current version (retried without --same-version)\n");
    }
    add_field(&b, "status", status ? status : "?");
    if (key) {
        add_field(&b, "key", key);
    }
    add_field(&b, "created", local_time(created, true, t, sizeof(t)));
    if (get_int(run, "updated_at", &updated) && updated != created) {
        wr_buf_addf(&b, "%-10s%s (%s after creation)\n", "updated",
                    local_time(updated, true, t, sizeof(t)),
                    human_duration(updated - created, d, sizeof(d)));
    }
    if (get_int(run, "next_at", &next_at) && status && !is_finished(status)) {
        wr_buf_addf(&b, "%-10s%s (%s %s)\n", "resumes", local_time(next_at, true, t, sizeof(t)),
                    next_at >= now ? "in" : "due, late by",
                    human_duration(next_at >= now ? next_at - now : now - next_at, d, sizeof(d)));
    }
    if (error) {
        wr_buf_addf(&b, "%-10s", "error");
        add_indented(&b, error, 0, 10);
    }

    wr_buf_addc(&b, '\n');
    if (json_object_object_get_ex(run, "event", &event) && event) {
        const char *source = get_str(event, "source"), *ikey = get_str(event, "idem_key");
        struct json_object *body;
        wr_buf_addf(&b, "Trigger event %s from %s, received %s", get_str(event, "id"),
                    source ? source : "?",
                    local_time(get_int_or(event, "received_at", 0), true, t, sizeof(t)));
        if (ikey) {
            const char *scope = get_str(event, "idem_scope");
            wr_buf_addf(&b, ", key %s", ikey);
            if (scope && (!source || strcmp(scope, source) != 0)) {
                wr_buf_addf(&b, " (scope %s)", scope);
            }
        }
        wr_buf_add(&b, ":\n");
        if (json_object_object_get_ex(event, "body", &body) && body) {
            add_json(&b, body, 2);
        }
    } else {
        wr_buf_addf(&b, "Trigger event %s: not in the store\n", get_str(run, "event_id"));
    }

    wr_buf_addc(&b, '\n');
    size_t nsteps = 0;
    if (json_object_object_get_ex(run, "steps", &steps) && steps) {
        nsteps = json_object_array_length(steps);
    }
    if (nsteps == 0) {
        wr_buf_add(&b, "Steps: none ran yet\n");
    } else {
        wr_buf_add(&b, "Steps:\n");
    }
    for (size_t i = 0; i < nsteps; i++) {
        format_step(&b, run, json_object_array_get_idx(steps, i), now);
    }
    return wr_buf_take(&b);
}

/* }====== */
