/*
 * trigger_state — a polling trigger's memory in the journal; see trigger_state.h.
 */
#include "engine/store/trigger_state.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/clock.h"
#include "engine/base/strutil.h"
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
    if (stat(state_path, &st) != 0 && errno == ENOENT) {
        return 0;
    }
    sqlite3 *db = wr_journal_open_reader(state_path, err, errlen);
    if (!db) {
        return -1;
    }
    sqlite3_stmt *st_ = NULL;
    int64_t n = 0;
    /* A journal no daemon has migrated to schema 7 yet has no table: it remembers nothing. */
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                           "name = 'trigger_state'",
                           -1, &st_, NULL) != SQLITE_OK ||
        sqlite3_step(st_) != SQLITE_ROW) {
        goto fail;
    }
    bool exists = sqlite3_column_int(st_, 0) > 0;
    sqlite3_finalize(st_);
    st_ = NULL;
    if (!exists) {
        wr_journal_close_reader(db);
        return 0;
    }
    /* Names that start with the prefix; the scope part of the key narrows the scan. */
    const char *pre = prefix ? prefix : "";
    if (sqlite3_prepare_v2(db,
                           "SELECT name, value, updated_at FROM trigger_state WHERE scope = ?1 "
                           "AND substr(name, 1, length(?2)) = ?2 ORDER BY name",
                           -1, &st_, NULL) != SQLITE_OK) {
        goto fail;
    }
    sqlite3_bind_text(st_, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st_, 2, pre, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st_)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st_, 0);
        const char *value = (const char *)sqlite3_column_text(st_, 1);
        if (each) {
            each(arg, name ? name : "", value ? value : "", sqlite3_column_int64(st_, 2));
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        goto fail;
    }
    sqlite3_finalize(st_);
    wr_journal_close_reader(db);
    return n;
fail:
    wr_errf_marked(err, errlen, "%s: reading what the trigger '%s' remembers: %s", state_path,
                   scope, sqlite3_errmsg(db));
    sqlite3_finalize(st_);
    wr_journal_close_reader(db);
    return -1;
}
