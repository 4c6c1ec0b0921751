/*
 * test_tables — engine/store/tables describes the journal's schema faithfully.
 *
 *   test_tables              SQLite only: a journal migrated by engine/store/journal from
 *                            nothing has exactly the tables, columns, keys, foreign keys and
 *                            indexes the description's SQLite DDL creates
 *   test_tables URL_FILE     also PostgreSQL (tests/pg's cluster): the description's DDL runs
 *                            there, in a schema of its own, and keeps the same promises (the
 *                            idempotency key is unique per scope, NULL keys are not)
 *
 * Both: engine/store/trigger_state reads what triggers remember through engine/store/db.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/journal.h"
#include "engine/store/migrate.h"
#include "engine/store/tables.h"
#include "engine/store/trigger_state.h"

static const char *pg_url_file;

/* Everything SQLite says about the schema of the database at path, as comparable text: per
   table its columns (name, type, not null, default, primary key position), WITHOUT ROWID, its
   foreign keys, and per index its table, uniqueness, columns and partial condition. */
static char *describe_sqlite(const char *path)
{
    struct wr_db *db = NULL;
    char err[512];
    if (wr_db_open(path, WR_DB_READONLY, &db, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    struct wr_buf b = {0};
    struct wr_db_stmt *tabs = NULL;
    assert_int_equal(wr_db_prepare(db,
                                   "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                   "ORDER BY name",
                                   &tabs, err, sizeof(err)),
                     0);
    while (wr_db_step(tabs) == WR_DB_ROW) {
        const char *name = wr_db_column_text(tabs, 0);
        const char *sql = wr_db_column_text(tabs, 1);
        wr_buf_addf(&b, "table %s%s\n", name, strstr(sql, "WITHOUT ROWID") ? " without rowid" : "");
        char *q = wr_xasprintf("SELECT name, type, \"notnull\", dflt_value, pk FROM "
                               "pragma_table_info('%s') ORDER BY name",
                               name);
        struct wr_db_stmt *cols = NULL;
        assert_int_equal(wr_db_prepare(db, q, &cols, err, sizeof(err)), 0);
        while (wr_db_step(cols) == WR_DB_ROW) {
            wr_buf_addf(&b, "  column %s type=%s notnull=%lld default=%s pk=%lld\n",
                        wr_db_column_text(cols, 0), wr_db_column_text(cols, 1),
                        (long long)wr_db_column_int64(cols, 2),
                        wr_db_column_is_null(cols, 3) ? "-" : wr_db_column_text(cols, 3),
                        (long long)wr_db_column_int64(cols, 4));
        }
        wr_db_finalize(cols);
        free(q);
        q = wr_xasprintf("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('%s') "
                         "ORDER BY \"from\"",
                         name);
        struct wr_db_stmt *fks = NULL;
        assert_int_equal(wr_db_prepare(db, q, &fks, err, sizeof(err)), 0);
        while (wr_db_step(fks) == WR_DB_ROW) {
            wr_buf_addf(&b, "  foreign key %s -> %s(%s)\n", wr_db_column_text(fks, 1),
                        wr_db_column_text(fks, 0), wr_db_column_text(fks, 2));
        }
        wr_db_finalize(fks);
        free(q);
    }
    wr_db_finalize(tabs);

    struct wr_db_stmt *idx = NULL;
    assert_int_equal(wr_db_prepare(db,
                                   "SELECT m.name, m.tbl_name, l.\"unique\", l.partial, m.sql "
                                   "FROM sqlite_master m JOIN pragma_index_list(m.tbl_name) l "
                                   "ON l.name = m.name WHERE m.type = 'index' AND m.sql IS NOT "
                                   "NULL ORDER BY m.name",
                                   &idx, err, sizeof(err)),
                     0);
    while (wr_db_step(idx) == WR_DB_ROW) {
        const char *name = wr_db_column_text(idx, 0);
        const char *sql = wr_db_column_text(idx, 4);
        const char *where = strstr(sql, " WHERE ");
        wr_buf_addf(&b, "index %s on %s unique=%lld where=%s columns=", name,
                    wr_db_column_text(idx, 1), (long long)wr_db_column_int64(idx, 2),
                    wr_db_column_int64(idx, 3) && where ? where + 7 : "-");
        char *q = wr_xasprintf("SELECT name FROM pragma_index_info('%s') ORDER BY seqno", name);
        struct wr_db_stmt *cols = NULL;
        assert_int_equal(wr_db_prepare(db, q, &cols, err, sizeof(err)), 0);
        while (wr_db_step(cols) == WR_DB_ROW) {
            wr_buf_addf(&b, "%s,", wr_db_column_text(cols, 0));
        }
        wr_buf_addc(&b, '\n');
        wr_db_finalize(cols);
        free(q);
    }
    wr_db_finalize(idx);
    wr_db_close(db);
    return wr_buf_take(&b);
}

static char tmpdir[64];

static void test_sqlite_migrations_reach_the_description(void **state)
{
    (void)state;
    char err[512];
    /* the journal as weir makes it: every migration from an empty file */
    char *migrated = wr_xasprintf("%s/migrated.db", tmpdir);
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    struct wr_journal *j = wr_journal_open(base, migrated, 0, err, sizeof(err));
    if (!j) {
        fail_msg("%s", err);
    }
    wr_journal_close(j);
    event_base_free(base);

    /* the description's DDL in a fresh file */
    char *described = wr_xasprintf("%s/described.db", tmpdir);
    struct wr_db *db = NULL;
    assert_int_equal(wr_db_open(described, WR_DB_CREATE, &db, err, sizeof(err)), 0);
    char *ddl = wr_tables_ddl(WR_DB_SQLITE);
    if (wr_db_exec(db, ddl, err, sizeof(err)) != 0) {
        fail_msg("%s\n%s", err, ddl);
    }
    free(ddl);
    wr_db_close(db);

    char *a = describe_sqlite(migrated);
    char *b = describe_sqlite(described);
    /* journal_meta holds the health probe's row: a table, not a schema difference */
    if (strcmp(a, b) != 0) {
        fail_msg("the migrated journal:\n%s\nthe description (engine/store/tables.c):\n%s", a, b);
    }
    assert_non_null(strstr(a, "table trigger_state without rowid"));
    assert_non_null(strstr(a, "index events_idem on events unique=1 where=idem_key IS NOT NULL "
                              "columns=idem_scope,idem_key,"));
    assert_non_null(strstr(a, "foreign key run_id -> runs(id)"));
    free(a);
    free(b);
    free(migrated);
    free(described);
}

static struct wr_db *pg_open(void)
{
    char url[2048], err[512];
    FILE *f = fopen(pg_url_file, "r");
    if (!f || !fgets(url, sizeof(url), f)) {
        fail_msg("cannot read the PostgreSQL URL from %s", pg_url_file);
    }
    fclose(f);
    url[strcspn(url, "\r\n")] = '\0';
    struct wr_db *db = NULL;
    if (wr_db_open(url, 0, &db, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    return db;
}

static void exec_ok(struct wr_db *db, const char *sql)
{
    char err[512];
    if (wr_db_exec(db, sql, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", sql, err);
    }
}

/* Whether name is one of the comma-separated names of list. */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0) {
            return true;
        }
        p += len;
        while (*p == ',' || *p == ' ') {
            p++;
        }
    }
    return false;
}

static void test_postgres_ddl(void **state)
{
    (void)state;
    char err[512];
    struct wr_db *db = pg_open();
    exec_ok(db, "DROP SCHEMA IF EXISTS test_tables CASCADE; CREATE SCHEMA test_tables; "
                "SET search_path TO test_tables");
    char *ddl = wr_tables_ddl(WR_DB_POSTGRES);
    if (wr_db_exec(db, ddl, err, sizeof(err)) != 0) {
        fail_msg("%s\n%s", err, ddl);
    }
    free(ddl);
    /* every described column is there, with its type */
    struct wr_db_stmt *st = NULL;
    assert_int_equal(wr_db_prepare(db,
                                   "SELECT data_type, is_nullable FROM information_schema.columns "
                                   "WHERE table_schema = 'test_tables' AND table_name = ? AND "
                                   "column_name = ?",
                                   &st, err, sizeof(err)),
                     0);
    int ncols = 0;
    for (const struct wr_table *t = wr_tables(); t->name; t++) {
        for (const struct wr_column *c = t->columns; c->name; c++, ncols++) {
            wr_db_bind_text(st, 1, t->name, -1);
            wr_db_bind_text(st, 2, c->name, -1);
            if (wr_db_step(st) != WR_DB_ROW) {
                fail_msg("column %s.%s missing: %s", t->name, c->name, wr_db_errmsg(st));
            }
            assert_string_equal(wr_db_column_text(st, 0),
                                c->type == WR_COL_INT ? "bigint" : "text");
            bool in_key = in_list(t->primary_key, c->name);
            assert_string_equal(wr_db_column_text(st, 1), c->not_null || in_key ? "NO" : "YES");
            wr_db_reset(st);
        }
    }
    wr_db_finalize(st);
    assert_true(ncols > 50);

    /* the promises the indexes keep: one event per scope and key; NULL keys are no keys */
    struct wr_db_stmt *ins = NULL;
    assert_int_equal(wr_db_prepare(db,
                                   "INSERT INTO events (id, source, idem_scope, idem_key, "
                                   "received_at, body, status) VALUES (?, 'webhook /h', ?, ?, 1, "
                                   "'{}', 'stored')",
                                   &ins, err, sizeof(err)),
                     0);
    static const struct {
        const char *id, *scope, *key;
        int rc;
    } rows[] = {
        {"ev1", "webhook /h", "k1", WR_DB_DONE}, {"ev2", "webhook /h", "k1", WR_DB_CONSTRAINT},
        {"ev3", "webhook /g", "k1", WR_DB_DONE}, {"ev4", "webhook /h", NULL, WR_DB_DONE},
        {"ev5", "webhook /h", NULL, WR_DB_DONE}, {"ev1", "webhook /h", "k9", WR_DB_CONSTRAINT},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        wr_db_bind_text(ins, 1, rows[i].id, -1);
        wr_db_bind_text(ins, 2, rows[i].scope, -1);
        wr_db_bind_text(ins, 3, rows[i].key, -1);
        int rc = wr_db_step(ins);
        if (rc != rows[i].rc) {
            fail_msg("row %zu: %d, expected %d (%s)", i, rc, rows[i].rc, wr_db_errmsg(ins));
        }
        wr_db_reset(ins);
    }
    wr_db_finalize(ins);
    /* a run must name a stored event; the guard's "user" column is usable as written */
    assert_int_equal(wr_db_exec(db,
                                "INSERT INTO runs (id, event_id, workflow, workflow_hash, "
                                "created_at, updated_at) VALUES ('r1', 'nope', 'w', 'h', 1, 1)",
                                err, sizeof(err)),
                     WR_DB_CONSTRAINT);
    exec_ok(db, "INSERT INTO runs (id, event_id, workflow, workflow_hash, created_at, updated_at) "
                "VALUES ('r1', 'ev1', 'w', 'h', 1, 1)");
    exec_ok(db, "INSERT INTO guard_window (\"user\", run_id, at) VALUES ('u', 'r1', 1)");
    exec_ok(db, "DROP SCHEMA test_tables CASCADE");
    wr_db_close(db);
}

/* {====== trigger_state reads through engine/store/db, on both back ends ====== */

struct seen {
    char names[8][32];
    int n;
};

static void on_entry(void *arg, const char *name, const char *value, int64_t updated_at)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    snprintf(s->names[s->n++], sizeof(s->names[0]), "%s=%s@%lld", name, value,
             (long long)updated_at);
}

/* Fills target's trigger_state and reads it back with wr_trigger_state_load. */
static void trigger_state_round(const char *target)
{
    char err[512];
    struct wr_migrate_result m;
    if (wr_store_migrate(target, &m, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    struct wr_db *db = NULL;
    assert_int_equal(wr_db_open(target, 0, &db, err, sizeof(err)), 0);
    exec_ok(db, "INSERT INTO trigger_state (scope, name, value, updated_at) VALUES "
                "('user-date hires', 'due:b', '2', 20), ('user-date hires', 'due:a', '1', 10), "
                "('user-date hires', 'fired:a', 'x', 30), ('user-date other', 'due:c', '3', 40), "
                "('user-date hires', 'du', 'short', 50)");
    wr_db_close(db);
    struct seen s = {0};
    assert_int_equal(
        wr_trigger_state_load(target, "user-date hires", "due:", on_entry, &s, err, sizeof(err)),
        2);
    assert_string_equal(s.names[0], "due:a=1@10");
    assert_string_equal(s.names[1], "due:b=2@20");
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        wr_trigger_state_load(target, "user-date hires", NULL, on_entry, &s, err, sizeof(err)), 4);
    assert_string_equal(s.names[0], "du=short@50");
    assert_int_equal(
        wr_trigger_state_load(target, "user-date none", "", NULL, NULL, err, sizeof(err)), 0);
}

static void test_trigger_state_sqlite(void **state)
{
    (void)state;
    char err[512];
    char *path = wr_xasprintf("%s/ts/weir.db", tmpdir);
    /* no journal yet: nothing remembered, no error, no file made */
    assert_int_equal(wr_trigger_state_load(path, "s", NULL, NULL, NULL, err, sizeof(err)), 0);
    trigger_state_round(path);
    free(path);
}

static void test_trigger_state_postgres(void **state)
{
    (void)state;
    struct wr_db *db = pg_open();
    exec_ok(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    wr_db_close(db);
    char url[2048], err[512];
    FILE *f = fopen(pg_url_file, "r");
    assert_non_null(f);
    assert_non_null(fgets(url, sizeof(url), f));
    fclose(f);
    url[strcspn(url, "\r\n")] = '\0';
    /* an empty database: no table yet, nothing remembered */
    assert_int_equal(wr_trigger_state_load(url, "s", NULL, NULL, NULL, err, sizeof(err)), 0);
    trigger_state_round(url);
}

/* }====== */

int main(int argc, char **argv)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/weir-test-tables-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    pg_url_file = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test(test_sqlite_migrations_reach_the_description),
        cmocka_unit_test(test_trigger_state_sqlite),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_postgres_ddl),
        cmocka_unit_test(test_trigger_state_postgres),
    };
    int rc = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
    if (pg_url_file) {
        rc += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_tables: could not remove %s\n", tmpdir);
    }
    return rc;
}
