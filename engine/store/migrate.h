/*
 * migrate — `weir migrate`: brings a store, a SQLite journal or a PostgreSQL database, to the
 * schema this weir knows (engine/store/tables describes it for both).
 */
#ifndef WR_MIGRATE_H
#define WR_MIGRATE_H

#include "engine/store/db.h"

/* The PostgreSQL advisory lock every migration holds: two instances never migrate at once. */
#define WR_MIGRATE_LOCK 0x77656972 /* "weir" */
/* The second key of weir's advisory locks: the schema the store lives in, so that two weirs in
   two schemas of one database (search_path in the URL) lock each their own. SQL, an int4. */
#define WR_LOCK_SCOPE_SQL "hashtext(current_schema())"

struct wr_migrate_result {
    enum wr_db_kind kind;
    int from; /* the version the store had (0: empty) */
    int to;   /* the version it has now */
};

/* The schema version of the store db (borrowed) is at: SQLite's user_version, PostgreSQL's
   weir_schema row; 0 for an empty store. -1 with err when it cannot be read. */
int wr_store_version(struct wr_db *db, char *err, size_t errlen);

/*
 * Migrates the store at target (borrowed: a file path, or a postgresql:// URL) into *out.
 * SQLite: engine/store/journal's migrations, one transaction each. PostgreSQL: under the
 * advisory lock WR_MIGRATE_LOCK, an empty database gets the whole schema and its version row
 * (weir_schema) in one transaction; a database at this version is left alone; a newer one is
 * refused. Returns 0, or -1 with err (never the URL's password: URLs with one are refused
 * before they get here).
 */
int wr_store_migrate(const char *target, struct wr_migrate_result *out, char *err, size_t errlen);

#endif
