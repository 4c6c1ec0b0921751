/*
 * pg_test — shared helpers of the unit tests on PostgreSQL; see pg_test.h.
 */
#include "tests/unit/pg_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/migrate.h"

bool wr_pgtest_read_url(const char *who, const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    bool ok = f && fgets(out, (int)len, f);
    if (f) {
        fclose(f);
    }
    if (!ok) {
        out[0] = '\0';
    }
    out[strcspn(out, "\r\n")] = '\0';
    if (!ok || !wr_db_is_postgres_url(out)) {
        fprintf(stderr,
                "%s: no postgresql:// URL in %s (is the weir_pg fixture, tests/pg/pg_cluster, "
                "running?)\n",
                who, path);
        out[0] = '\0';
        return false;
    }
    return true;
}

char *wr_pgtest_schema_url(const char *base, const char *schema)
{
    return wr_xasprintf("%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
                        schema);
}

char *wr_pgtest_fresh_schema(const char *base, const char *schema)
{
    char err[WR_ERR_MAX];
    struct wr_db *admin = NULL;
    if (wr_db_open(base, 0, &admin, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    char *sql = wr_xasprintf("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    if (wr_db_exec(admin, sql, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", sql, err);
    }
    free(sql);
    wr_db_close(admin);
    return wr_pgtest_schema_url(base, schema);
}

struct wr_db *wr_pgtest_fresh_store(const char *base, const char *schema, char **state)
{
    char err[WR_ERR_MAX];
    struct wr_migrate_result m;
    struct wr_db *db = NULL;
    *state = wr_pgtest_fresh_schema(base, schema);
    if (wr_store_migrate(*state, &m, err, sizeof(err)) != 0) {
        fail_msg("migrate: %s", err);
    }
    if (wr_db_open(*state, 0, &db, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    return db;
}

void wr_pgtest_wait_lock(const char *url, const char *like)
{
    char err[WR_ERR_MAX];
    struct wr_db *db = NULL;
    struct wr_db_stmt *st = NULL;
    if (wr_db_open(url, 0, &db, err, sizeof(err)) != 0 ||
        wr_db_prepare(db,
                      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND wait_event_type = 'Lock' AND query LIKE ?",
                      &st, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    for (int i = 0;; i++) {
        wr_db_bind_text(st, 1, like, -1);
        assert_int_equal(wr_db_step(st), WR_DB_ROW);
        int64_t n = wr_db_column_int64(st, 0);
        wr_db_reset(st);
        if (n > 0) {
            break;
        }
        if (i >= 1000) {
            fail_msg("no session waited for a lock in a statement like '%s' within 10 s", like);
        }
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    wr_db_finalize(st);
    wr_db_close(db);
}
