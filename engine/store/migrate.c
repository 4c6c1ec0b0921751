/*
 * migrate — `weir migrate` for both back ends; see migrate.h.
 */
#include "engine/store/migrate.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/base/strutil.h"
#include "engine/store/journal.h"
#include "engine/store/tables.h"

/* The first column of sql's first row, or -1 with err. */
static int scalar(struct wr_db *db, const char *sql, char *err, size_t errlen)
{
    struct wr_db_stmt *st = NULL;
    int v = -1;
    char msg[WR_ERR_MAX];
    if (wr_db_prepare(db, sql, &st, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "cannot read the schema version: %s", msg);
        return -1;
    }
    if (wr_db_step(st) == WR_DB_ROW) {
        v = (int)wr_db_column_int64(st, 0);
    } else {
        wr_errf(err, errlen, "cannot read the schema version: %s", wr_db_errmsg(st));
    }
    wr_db_finalize(st);
    return v;
}

int wr_store_version(struct wr_db *db, char *err, size_t errlen)
{
    if (wr_db_kind(db) == WR_DB_SQLITE) {
        return scalar(db, "PRAGMA user_version", err, errlen);
    }
    /* an empty database has no version table yet (it is created with the schema) */
    int has = scalar(db,
                     "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                     "current_schema() AND table_name = 'weir_schema'",
                     err, errlen);
    if (has <= 0) {
        return has;
    }
    return scalar(db, "SELECT coalesce(max(version), 0) FROM weir_schema", err, errlen);
}

/* PostgreSQL databases were first made at version 8; pg_steps[i] goes from 8 + i to 9 + i, with
   what journal.c's SQLite migration of the same number does. Never edit a shipped entry. */
static const char *const pg_steps[] = {
    /* 9: run leases */
    "ALTER TABLE runs ADD COLUMN owner TEXT; ALTER TABLE runs ADD COLUMN lease_until BIGINT",
};
_Static_assert(8 + sizeof(pg_steps) / sizeof(pg_steps[0]) == WR_TABLES_VERSION,
               "a SQLite migration without its PostgreSQL step");

/* Brings a PostgreSQL database from version v (8 or later) up, one transaction per step. */
static int pg_step_up(struct wr_db *db, int v, struct wr_migrate_result *out, char *err,
                      size_t errlen)
{
    char msg[WR_ERR_MAX], version[96];
    if (v < 8) {
        wr_errf(err, errlen, "schema version %d has no migration to %d", v, WR_TABLES_VERSION);
        return -1;
    }
    for (; v < WR_TABLES_VERSION; v++) {
        snprintf(version, sizeof(version), "UPDATE weir_schema SET version = %d", v + 1);
        if (wr_db_begin(db, true, msg, sizeof(msg)) != 0 ||
            wr_db_exec(db, pg_steps[v - 8], msg, sizeof(msg)) != 0 ||
            wr_db_exec(db, version, msg, sizeof(msg)) != 0 ||
            wr_db_commit(db, msg, sizeof(msg)) != 0) {
            wr_db_rollback(db);
            wr_errf(err, errlen, "migrating from version %d to %d failed: %s", v, v + 1, msg);
            return -1;
        }
        out->to = v + 1;
    }
    return 0;
}

static int pg_migrate(struct wr_db *db, struct wr_migrate_result *out, char *err, size_t errlen)
{
    char lock[128], msg[WR_ERR_MAX];
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%d, " WR_LOCK_SCOPE_SQL ")",
             WR_MIGRATE_LOCK);
    if (wr_db_exec(db, lock, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "cannot take the migration lock: %s", msg);
        return -1;
    }
    int rc = -1;
    int v = wr_store_version(db, err, errlen);
    if (v < 0) {
        goto out;
    }
    out->from = v;
    out->to = v;
    if (v > WR_TABLES_VERSION) {
        wr_errf(err, errlen, "written by a newer weir (schema %d; this weir knows up to %d)", v,
                WR_TABLES_VERSION);
        goto out;
    }
    if (v == WR_TABLES_VERSION) {
        rc = 0;
        goto out;
    }
    if (v != 0) {
        rc = pg_step_up(db, v, out, err, errlen);
        goto out;
    }
    char *ddl = wr_tables_ddl(WR_DB_POSTGRES);
    char version[160];
    snprintf(version, sizeof(version),
             "CREATE TABLE weir_schema (version BIGINT NOT NULL); "
             "INSERT INTO weir_schema (version) VALUES (%d)",
             WR_TABLES_VERSION);
    if (wr_db_begin(db, true, msg, sizeof(msg)) != 0 ||
        wr_db_exec(db, ddl, msg, sizeof(msg)) != 0 ||
        wr_db_exec(db, version, msg, sizeof(msg)) != 0 || wr_db_commit(db, msg, sizeof(msg)) != 0) {
        wr_db_rollback(db);
        wr_errf(err, errlen, "creating the schema (version %d) failed: %s", WR_TABLES_VERSION, msg);
    } else {
        out->to = WR_TABLES_VERSION;
        rc = 0;
    }
    free(ddl);
out:
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_unlock(%d, " WR_LOCK_SCOPE_SQL ")",
             WR_MIGRATE_LOCK);
    wr_db_exec(db, lock, msg, sizeof(msg)); /* and the connection's end releases it anyway */
    return rc;
}

int wr_store_migrate(const char *target, struct wr_migrate_result *out, char *err, size_t errlen)
{
    *out = (struct wr_migrate_result){0};
    if (!wr_db_is_postgres_url(target)) {
        out->kind = WR_DB_SQLITE;
        if (wr_journal_migrate(target, &out->from, err, errlen) != 0) {
            return -1;
        }
        out->to = WR_TABLES_VERSION;
        return 0;
    }
    out->kind = WR_DB_POSTGRES;
    struct wr_db *db = NULL;
    if (wr_db_open(target, 0, &db, err, errlen) != 0) {
        return -1;
    }
    int rc = pg_migrate(db, out, err, errlen);
    wr_db_close(db);
    return rc;
}
