/*
 * test_db — engine/store/db's conformance suite: the same cases against SQLite and PostgreSQL.
 *
 *   test_db sqlite               a fresh file in a temporary directory
 *   test_db postgres URL_FILE    the database named by the URL in URL_FILE (tests/pg's
 *                                throw-away cluster; ctest starts it as the weir_pg fixture)
 *
 * Each case works in tables of its own (dropped first), so a PostgreSQL database can be reused.
 * A missing or unreachable PostgreSQL fails the suite: nothing is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"

static char target[4096]; /* the file path or the URL */
static char tmpdir[64];

static struct wr_db *open_db(void)
{
    struct wr_db *db = NULL;
    char err[512];
    int rc = wr_db_open(target, WR_DB_CREATE, &db, err, sizeof(err));
    if (rc != 0) {
        fail_msg("open: %s", err);
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

static struct wr_db_stmt *prep(struct wr_db *db, const char *sql)
{
    struct wr_db_stmt *st = NULL;
    char err[512];
    if (wr_db_prepare(db, sql, &st, err, sizeof(err)) != 0) {
        fail_msg("prepare %s: %s", sql, err);
    }
    return st;
}

/* Steps st to its end; the number of rows it gave. */
static int drain(struct wr_db_stmt *st)
{
    int rc, rows = 0;
    while ((rc = wr_db_step(st)) == WR_DB_ROW) {
        rows++;
    }
    if (rc != WR_DB_DONE) {
        fail_msg("step: %d %s", rc, wr_db_errmsg(st));
    }
    return rows;
}

static int64_t scalar(struct wr_db *db, const char *sql)
{
    struct wr_db_stmt *st = prep(db, sql);
    assert_int_equal(wr_db_step(st), WR_DB_ROW);
    int64_t v = wr_db_column_int64(st, 0);
    wr_db_finalize(st);
    return v;
}

static void table(struct wr_db *db, const char *name, const char *columns)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
    exec_ok(db, sql);
    snprintf(sql, sizeof(sql), "CREATE TABLE %s (%s)", name, columns);
    exec_ok(db, sql);
}

/* {====== cases ====== */

static void test_kind(void **state)
{
    (void)state;
    struct wr_db *db = open_db();
    bool pg = wr_db_is_postgres_url(target);
    assert_int_equal(wr_db_kind(db), pg ? WR_DB_POSTGRES : WR_DB_SQLITE);
    assert_string_equal(wr_db_kind_name(db), pg ? "postgresql" : "sqlite");
    wr_db_close(db);
}

/* Integers (the whole int64 range), text (UTF-8, empty, quotes), NULLs and blobs read back. */
static void test_values_round_trip(void **state)
{
    (void)state;
    struct wr_db *db = open_db();
    bool pg = wr_db_kind(db) == WR_DB_POSTGRES;
    table(db, "t_values",
          pg ? "id BIGINT PRIMARY KEY, n BIGINT, s TEXT, b BYTEA"
             : "id BIGINT PRIMARY KEY, n BIGINT, s TEXT, b BLOB");
    static const int64_t ns[] = {0, -1, 42, INT64_MAX, INT64_MIN, 1765000000000};
    static const char *const ss[] = {
        "", "plain", "it's \"quoted\" ? -- not a comment", "Zoë 東京 🙂", "line\nbreak", NULL};
    const unsigned char blob[] = {0, 1, 2, 0xff, 0x5c, 0x78, 0};
    struct wr_db_stmt *ins = prep(db, "INSERT INTO t_values (id, n, s, b) VALUES (?, ?, ?, ?)");
    for (int i = 0; i < 6; i++) {
        assert_int_equal(wr_db_bind_int64(ins, 1, i), 0);
        assert_int_equal(wr_db_bind_int64(ins, 2, ns[i]), 0);
        assert_int_equal(wr_db_bind_text(ins, 3, ss[i], -1), 0);
        if (i % 2) {
            assert_int_equal(wr_db_bind_blob(ins, 4, blob, sizeof(blob)), 0);
        } else {
            assert_int_equal(wr_db_bind_null(ins, 4), 0);
        }
        assert_int_equal(wr_db_step(ins), WR_DB_DONE);
        assert_int_equal(wr_db_changes(ins), 1);
        wr_db_reset(ins);
    }
    wr_db_finalize(ins);

    struct wr_db_stmt *sel = prep(db, "SELECT id, n, s, b FROM t_values ORDER BY id");
    for (int i = 0; i < 6; i++) {
        assert_int_equal(wr_db_step(sel), WR_DB_ROW);
        assert_int_equal(wr_db_column_count(sel), 4);
        assert_int_equal(wr_db_column_int64(sel, 0), i);
        assert_true(wr_db_column_int64(sel, 1) == ns[i]);
        if (ss[i]) {
            assert_false(wr_db_column_is_null(sel, 2));
            assert_string_equal(wr_db_column_text(sel, 2), ss[i]);
        } else {
            assert_true(wr_db_column_is_null(sel, 2));
            assert_null(wr_db_column_text(sel, 2));
        }
        size_t len = 99;
        const void *p = wr_db_column_blob(sel, 3, &len);
        if (i % 2) {
            assert_int_equal(len, sizeof(blob));
            assert_memory_equal(p, blob, sizeof(blob));
        } else {
            assert_null(p);
            assert_int_equal(len, 0);
            assert_true(wr_db_column_is_null(sel, 3));
        }
    }
    assert_int_equal(wr_db_step(sel), WR_DB_DONE);
    wr_db_finalize(sel);
    wr_db_close(db);
}

/* A statement is stepped again after reset with new values; its bindings survive a reset. */
static void test_reuse_and_bindings(void **state)
{
    (void)state;
    struct wr_db *db = open_db();
    table(db, "t_reuse", "k TEXT PRIMARY KEY, v BIGINT NOT NULL");
    struct wr_db_stmt *ins = prep(db, "INSERT INTO t_reuse (k, v) VALUES (?, ?)");
    assert_int_equal(wr_db_bind_int64(ins, 2, 7), 0);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%03d", i);
        wr_db_bind_text(ins, 1, k, -1);
        assert_int_equal(wr_db_step(ins), WR_DB_DONE);
        wr_db_reset(ins);
    }
    wr_db_finalize(ins);
    assert_int_equal(scalar(db, "SELECT count(*) FROM t_reuse WHERE v = 7"), 100);

    struct wr_db_stmt *sel = prep(db, "SELECT v FROM t_reuse WHERE k = ?");
    wr_db_bind_text(sel, 1, "k050", -1);
    assert_int_equal(drain(sel), 1);
    wr_db_reset(sel);
    assert_int_equal(drain(sel), 1); /* the same binding after reset */
    wr_db_reset(sel);
    wr_db_bind_text(sel, 1, "k999", -1);
    assert_int_equal(drain(sel), 0);
    wr_db_reset(sel);
    wr_db_clear_bindings(sel); /* k = NULL matches nothing */
    assert_int_equal(drain(sel), 0);
    wr_db_finalize(sel);

    /* a parameter out of range is an error at bind and at the next step */
    struct wr_db_stmt *one = prep(db, "SELECT v FROM t_reuse WHERE k = ?");
    assert_int_equal(wr_db_bind_text(one, 2, "x", -1), WR_DB_ERROR);
    assert_int_equal(wr_db_step(one), WR_DB_ERROR);
    assert_non_null(strstr(wr_db_errmsg(one), wr_db_kind_name(db)));
    wr_db_finalize(one);
    wr_db_close(db);
}

/* `?` inside literals, quoted identifiers and comments is text, not a parameter. */
static void test_placeholders(void **state)
{
    (void)state;
    int n = -1;
    char *s = wr_db_pg_sql("SELECT '?', \"a?\", ? -- why?\n, 'it''s ?', ? /* ? */ , ?", &n);
    assert_string_equal(s, "SELECT '?', \"a?\", $1 -- why?\n, 'it''s ?', $2 /* ? */ , $3");
    assert_int_equal(n, 3);
    free(s);
    s = wr_db_pg_sql("SELECT 1", &n);
    assert_string_equal(s, "SELECT 1");
    assert_int_equal(n, 0);
    free(s);
    s = wr_db_pg_sql("SELECT ?2, ?1, ?, ?2 WHERE x = ?10", &n); /* SQLite's numbering */
    assert_string_equal(s, "SELECT $2, $1, $3, $2 WHERE x = $10");
    assert_int_equal(n, 10);
    free(s);
    s = wr_db_pg_sql("SELECT 'unterminated ?", &n); /* the server will refuse it */
    assert_string_equal(s, "SELECT 'unterminated ?");
    assert_int_equal(n, 0);
    free(s);

    struct wr_db *db = open_db();
    struct wr_db_stmt *st = prep(db, "SELECT '?', ?, 'it''s', ?");
    wr_db_bind_text(st, 1, "one", -1);
    wr_db_bind_int64(st, 2, 2);
    assert_int_equal(wr_db_step(st), WR_DB_ROW);
    assert_string_equal(wr_db_column_text(st, 0), "?");
    assert_string_equal(wr_db_column_text(st, 1), "one");
    assert_string_equal(wr_db_column_text(st, 2), "it's");
    assert_int_equal(wr_db_column_int64(st, 3), 2);
    wr_db_finalize(st);

    /* numbered: one value, used twice */
    st = prep(db, "SELECT ?1 || '-' || ?2 || '-' || ?1");
    wr_db_bind_text(st, 1, "a", -1);
    wr_db_bind_text(st, 2, "b", -1);
    assert_int_equal(wr_db_step(st), WR_DB_ROW);
    assert_string_equal(wr_db_column_text(st, 0), "a-b-a");
    wr_db_finalize(st);
    wr_db_close(db);
}

/* Constraint violations are classified, and the connection goes on working after one. */
static void test_constraints(void **state)
{
    (void)state;
    struct wr_db *db = open_db();
    table(db, "t_keys", "k TEXT PRIMARY KEY, v BIGINT NOT NULL");
    struct wr_db_stmt *ins = prep(db, "INSERT INTO t_keys (k, v) VALUES (?, ?)");
    wr_db_bind_text(ins, 1, "a", -1);
    wr_db_bind_int64(ins, 2, 1);
    assert_int_equal(wr_db_step(ins), WR_DB_DONE);
    wr_db_reset(ins);
    assert_int_equal(wr_db_step(ins), WR_DB_CONSTRAINT); /* the same key again */
    assert_non_null(strstr(wr_db_errmsg(ins), wr_db_kind_name(db)));
    wr_db_reset(ins);
    wr_db_bind_text(ins, 1, "b", -1);
    wr_db_bind_null(ins, 2);
    assert_int_equal(wr_db_step(ins), WR_DB_CONSTRAINT); /* NOT NULL */
    wr_db_reset(ins);
    wr_db_bind_int64(ins, 2, 2);
    assert_int_equal(wr_db_step(ins), WR_DB_DONE);
    wr_db_finalize(ins);
    assert_int_equal(scalar(db, "SELECT count(*) FROM t_keys"), 2);

    /* a bad statement is an error, not a constraint */
    struct wr_db_stmt *bad = NULL;
    char err[512];
    int rc = wr_db_prepare(db, "SELECT nope FROM t_keys", &bad, err, sizeof(err));
    if (rc == 0) { /* PostgreSQL checks at the first step */
        assert_int_equal(wr_db_step(bad), WR_DB_ERROR);
        assert_non_null(strstr(wr_db_errmsg(bad), "nope"));
        wr_db_finalize(bad);
    } else {
        assert_int_equal(rc, WR_DB_ERROR);
        assert_non_null(strstr(err, "nope"));
    }
    wr_db_close(db);
}

/* The upsert and RETURNING of the common dialect; changes() counts what changed. */
static void test_upsert_returning(void **state)
{
    (void)state;
    struct wr_db *db = open_db();
    table(db, "t_up",
          "scope TEXT NOT NULL, name TEXT NOT NULL, value TEXT, n BIGINT, "
          "PRIMARY KEY (scope, name)");
    struct wr_db_stmt *up = prep(db, "INSERT INTO t_up (scope, name, value, n) VALUES (?, ?, ?, 1) "
                                     "ON CONFLICT (scope, name) DO UPDATE SET value = "
                                     "excluded.value, n = t_up.n + 1 RETURNING n");
    for (int i = 1; i <= 3; i++) {
        wr_db_bind_text(up, 1, "s", -1);
        wr_db_bind_text(up, 2, "x", -1);
        char v[8];
        snprintf(v, sizeof(v), "v%d", i);
        wr_db_bind_text(up, 3, v, -1);
        assert_int_equal(wr_db_step(up), WR_DB_ROW);
        assert_int_equal(wr_db_column_int64(up, 0), i);
        assert_int_equal(wr_db_step(up), WR_DB_DONE);
        wr_db_reset(up);
    }
    wr_db_finalize(up);
    struct wr_db_stmt *sel = prep(db, "SELECT value FROM t_up WHERE scope = 's' AND name = 'x'");
    assert_int_equal(wr_db_step(sel), WR_DB_ROW);
    assert_string_equal(wr_db_column_text(sel, 0), "v3");
    wr_db_finalize(sel);

    struct wr_db_stmt *ign = prep(db, "INSERT INTO t_up (scope, name) VALUES (?, ?) "
                                      "ON CONFLICT (scope, name) DO NOTHING");
    wr_db_bind_text(ign, 1, "s", -1);
    wr_db_bind_text(ign, 2, "x", -1);
    assert_int_equal(wr_db_step(ign), WR_DB_DONE);
    assert_int_equal(wr_db_changes(ign), 0);
    wr_db_reset(ign);
    wr_db_bind_text(ign, 2, "y", -1);
    assert_int_equal(wr_db_step(ign), WR_DB_DONE);
    assert_int_equal(wr_db_changes(ign), 1);
    wr_db_finalize(ign);

    struct wr_db_stmt *del = prep(db, "DELETE FROM t_up WHERE scope = ?");
    wr_db_bind_text(del, 1, "s", -1);
    assert_int_equal(wr_db_step(del), WR_DB_DONE);
    assert_int_equal(wr_db_changes(del), 2);
    wr_db_finalize(del);
    wr_db_close(db);
}

/* Rollback undoes, commit keeps; a failed statement inside a transaction fails its commit. */
static void test_transactions(void **state)
{
    (void)state;
    char err[512];
    struct wr_db *db = open_db();
    table(db, "t_tx", "k TEXT PRIMARY KEY");
    assert_false(wr_db_in_transaction(db));
    assert_int_equal(wr_db_begin(db, true, err, sizeof(err)), 0);
    assert_true(wr_db_in_transaction(db));
    exec_ok(db, "INSERT INTO t_tx (k) VALUES ('gone')");
    assert_int_equal(wr_db_rollback(db), 0);
    assert_false(wr_db_in_transaction(db));
    assert_int_equal(scalar(db, "SELECT count(*) FROM t_tx"), 0);

    assert_int_equal(wr_db_begin(db, true, err, sizeof(err)), 0);
    exec_ok(db, "INSERT INTO t_tx (k) VALUES ('kept')");
    assert_int_equal(wr_db_commit(db, err, sizeof(err)), 0);
    assert_int_equal(scalar(db, "SELECT count(*) FROM t_tx"), 1);

    /* a duplicate inside a transaction: the caller rolls back; nothing of it stays */
    assert_int_equal(wr_db_begin(db, true, err, sizeof(err)), 0);
    exec_ok(db, "INSERT INTO t_tx (k) VALUES ('new')");
    assert_int_equal(wr_db_exec(db, "INSERT INTO t_tx (k) VALUES ('kept')", err, sizeof(err)),
                     WR_DB_CONSTRAINT);
    if (wr_db_kind(db) == WR_DB_POSTGRES) {
        /* PostgreSQL's transaction is dead now: its commit must say so, not pretend */
        assert_int_equal(wr_db_commit(db, err, sizeof(err)), WR_DB_ERROR);
        assert_false(wr_db_in_transaction(db));
        assert_int_equal(scalar(db, "SELECT count(*) FROM t_tx"), 1);
    } else {
        assert_int_equal(wr_db_rollback(db), 0);
        assert_int_equal(scalar(db, "SELECT count(*) FROM t_tx"), 1);
    }
    assert_int_equal(wr_db_rollback(db), 0); /* none open: fine */
    wr_db_close(db);
}

/* Two connections: one's commit is the other's to read; a uniqueness race has one winner. */
static void test_two_connections(void **state)
{
    (void)state;
    char err[512];
    struct wr_db *a = open_db();
    struct wr_db *b = open_db();
    table(a, "t_two", "k TEXT PRIMARY KEY");
    assert_int_equal(wr_db_begin(a, true, err, sizeof(err)), 0);
    exec_ok(a, "INSERT INTO t_two (k) VALUES ('x')");
    assert_int_equal(scalar(b, "SELECT count(*) FROM t_two"), 0); /* not committed yet */
    assert_int_equal(wr_db_commit(a, err, sizeof(err)), 0);
    assert_int_equal(scalar(b, "SELECT count(*) FROM t_two"), 1);
    assert_int_equal(wr_db_exec(b, "INSERT INTO t_two (k) VALUES ('x')", err, sizeof(err)),
                     WR_DB_CONSTRAINT);
    wr_db_close(a);
    wr_db_close(b);
}

/* A read-only connection reads and refuses to write. */
static void test_read_only(void **state)
{
    (void)state;
    char err[512];
    struct wr_db *db = open_db();
    table(db, "t_ro", "k TEXT");
    exec_ok(db, "INSERT INTO t_ro (k) VALUES ('r')");
    wr_db_close(db);
    struct wr_db *ro = NULL;
    assert_int_equal(wr_db_open(target, WR_DB_READONLY, &ro, err, sizeof(err)), 0);
    assert_int_equal(scalar(ro, "SELECT count(*) FROM t_ro"), 1);
    assert_true(wr_db_exec(ro, "INSERT INTO t_ro (k) VALUES ('w')", err, sizeof(err)) < 0);
    wr_db_close(ro);
}

/* Opening what is not there fails with a message naming the back end, and no password. */
static void test_open_failures(void **state)
{
    (void)state;
    char err[512] = "";
    struct wr_db *db = (struct wr_db *)1;
    if (wr_db_is_postgres_url(target)) {
        int rc = wr_db_open("postgresql://weir:s3cret-pw@127.0.0.1:1/none?connect_timeout=5", 0,
                            &db, err, sizeof(err));
        assert_int_equal(rc, WR_DB_GONE);
        assert_null(db);
        assert_non_null(strstr(err, "postgresql"));
        assert_null(strstr(err, "s3cret-pw"));
    } else {
        char path[128];
        snprintf(path, sizeof(path), "%s/missing/x.db", tmpdir);
        assert_true(wr_db_open(path, WR_DB_CREATE, &db, err, sizeof(err)) < 0);
        assert_null(db);
        assert_non_null(strstr(err, "sqlite"));
        assert_non_null(strstr(err, path));
    }
}

/* }====== */

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sqlite") == 0) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/weir-test-db-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            return 2;
        }
        snprintf(target, sizeof(target), "%s/db.sqlite", tmpdir);
    } else if (argc >= 3 && strcmp(argv[1], "postgres") == 0) {
        FILE *f = fopen(argv[2], "r");
        if (!f || !fgets(target, sizeof(target), f)) {
            fprintf(stderr,
                    "test_db: cannot read the PostgreSQL URL from %s (is the weir_pg "
                    "fixture, tests/pg/pg_cluster, running?)\n",
                    argv[2]);
            return 2;
        }
        fclose(f);
        target[strcspn(target, "\r\n")] = '\0';
        if (!wr_db_is_postgres_url(target)) {
            fprintf(stderr, "test_db: %s holds no postgresql:// URL\n", argv[2]);
            return 2;
        }
    } else {
        fprintf(stderr, "usage: test_db sqlite | test_db postgres URL_FILE\n");
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_values_round_trip),
        cmocka_unit_test(test_reuse_and_bindings),
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_upsert_returning),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_two_connections),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_open_failures),
    };
    int rc = cmocka_run_group_tests_name(argv[1], tests, NULL, NULL);
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            fprintf(stderr, "test_db: could not remove %s\n", tmpdir);
        }
    }
    return rc;
}
