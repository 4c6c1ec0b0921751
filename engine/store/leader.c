/*
 * leader — the leader's advisory lock; see leader.h.
 */
#include "engine/store/leader.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/base/strutil.h"
#include "engine/store/db.h"
#include "engine/store/migrate.h"

struct wr_leader {
    struct wr_db *db; /* NULL: SQLite, always leading */
    struct wr_db_stmt *take, *alive;
    unsigned gen; /* the session the lock was taken on */
    bool leading;
};

struct wr_leader *wr_leader_new(const char *state, char *err, size_t errlen)
{
    struct wr_leader *l = wr_xcalloc(1, sizeof(*l));
    if (!wr_db_is_postgres_url(state)) {
        l->leading = true;
        return l;
    }
    char msg[WR_ERR_MAX], sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%d, " WR_LOCK_SCOPE_SQL ")",
             WR_LEADER_LOCK);
    if (wr_db_open(state, 0, &l->db, msg, sizeof(msg)) != 0 ||
        wr_db_prepare(l->db, sql, &l->take, msg, sizeof(msg)) != 0 ||
        wr_db_prepare(l->db, "SELECT 1", &l->alive, msg, sizeof(msg)) != 0) {
        wr_errf(err, errlen, "the leader's lock: %s", msg);
        wr_leader_free(l);
        return NULL;
    }
    return l;
}

bool wr_leader_check(struct wr_leader *l, char *err, size_t errlen)
{
    if (!l->db) {
        return true;
    }
    /* Leading: the lock is there as long as the session is. A new session (db reconnected
       after a loss) holds nothing: the lock is taken again, or not. */
    if (l->leading && wr_db_generation(l->db) == l->gen) {
        int rc = wr_db_step(l->alive);
        if (rc < 0 && err) {
            wr_errf(err, errlen, "%s", wr_db_errmsg(l->alive));
        }
        wr_db_reset(l->alive);
        if (rc == WR_DB_ROW && wr_db_generation(l->db) == l->gen) {
            return true;
        }
        l->leading = false;
        return false;
    }
    l->leading = false;
    int rc = wr_db_step(l->take);
    if (rc == WR_DB_ROW && wr_db_column_int64(l->take, 0) == 1) {
        l->leading = true;
        l->gen = wr_db_generation(l->db);
    } else if (rc < 0 && err) {
        wr_errf(err, errlen, "%s", wr_db_errmsg(l->take));
    }
    wr_db_reset(l->take);
    return l->leading;
}

void wr_leader_free(struct wr_leader *l)
{
    if (!l) {
        return;
    }
    wr_db_finalize(l->take);
    wr_db_finalize(l->alive);
    wr_db_close(l->db);
    free(l);
}
