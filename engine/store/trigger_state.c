/*
 * trigger_state — a polling trigger's memory in the journal; see trigger_state.h.
 */
#include "engine/store/trigger_state.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/clock.h"
#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/ingest.h"
#include "engine/store/journal.h"

void wr_trigger_state_put(struct wr_ingest_batch *b, const char *scope, const char *name,
                          const char *value)
{
    struct wr_journal_batch *jb = wr_ingest_batch_journal(b);
    if (!value) {
        wr_journal_batch_add_op(jb, "DELETE FROM trigger_state WHERE scope = ? AND name = ?", "tt",
                                scope, name);
        return;
    }
    wr_journal_batch_add_op(jb,
                            "INSERT INTO trigger_state (scope, name, value, updated_at) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (scope, name) DO UPDATE SET "
                            "value = excluded.value, updated_at = excluded.updated_at",
                            "ttti", scope, name, value, wr_clock_wall_ms());
}

void wr_trigger_state_clear(struct wr_ingest_batch *b, const char *scope)
{
    wr_journal_batch_add_op(wr_ingest_batch_journal(b), "DELETE FROM trigger_state WHERE scope = ?",
                            "t", scope);
}

int64_t wr_trigger_state_load(const char *state_path, const char *scope, const char *prefix,
                              wr_trigger_state_fn each, void *arg, char *err, size_t errlen)
{
    struct stat st;
    bool pg = wr_db_is_postgres_url(state_path);
    if (!pg && stat(state_path, &st) != 0 && errno == ENOENT) {
        return 0;
    }
    struct wr_db *db = NULL;
    char msg[WR_ERR_MAX];
    if (wr_db_open(state_path, pg ? WR_DB_READONLY : 0, &db, msg, sizeof(msg)) != 0) {
        wr_errf_marked(err, errlen, "reading what the trigger '%s' remembers: %s", scope, msg);
        return -1;
    }
    struct wr_db_stmt *q = NULL;
    int64_t n = 0;
    /* A journal no daemon has migrated to schema 7 yet has no table: it remembers nothing. */
    const char *exists_sql =
        pg ? "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
             "current_schema() AND table_name = 'trigger_state'"
           : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'trigger_state'";
    if (wr_db_prepare(db, exists_sql, &q, msg, sizeof(msg)) != 0) {
        goto fail_msg;
    }
    if (wr_db_step(q) != WR_DB_ROW) {
        goto fail;
    }
    bool exists = wr_db_column_int64(q, 0) > 0;
    wr_db_finalize(q);
    q = NULL;
    if (!exists) {
        wr_db_close(db);
        return 0;
    }
    /* Names that start with the prefix; the scope part of the key narrows the scan. */
    const char *pre = prefix ? prefix : "";
    if (wr_db_prepare(db,
                      "SELECT name, value, updated_at FROM trigger_state WHERE scope = ?1 "
                      "AND substr(name, 1, length(?2)) = ?2 ORDER BY name",
                      &q, msg, sizeof(msg)) != 0) {
        goto fail_msg;
    }
    wr_db_bind_text(q, 1, scope, -1);
    wr_db_bind_text(q, 2, pre, -1);
    int rc;
    while ((rc = wr_db_step(q)) == WR_DB_ROW) {
        const char *name = wr_db_column_text(q, 0);
        const char *value = wr_db_column_text(q, 1);
        if (each) {
            each(arg, name ? name : "", value ? value : "", wr_db_column_int64(q, 2));
        }
        n++;
    }
    if (rc != WR_DB_DONE) {
        goto fail;
    }
    wr_db_finalize(q);
    wr_db_close(db);
    return n;
fail:
    snprintf(msg, sizeof(msg), "%s", wr_db_errmsg(q));
fail_msg:
    /* never the URL: the file's path, or the kind of store */
    wr_errf_marked(err, errlen, "%s: reading what the trigger '%s' remembers: %s",
                   pg ? "postgresql" : state_path, scope, msg);
    wr_db_finalize(q);
    wr_db_close(db);
    return -1;
}
