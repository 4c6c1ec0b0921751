/*
 * tables — the journal's tables and indexes as data, once for both back ends (issue 21).
 *
 * The SQLite journal reaches this shape through its migrations (journal.c, PRAGMA
 * user_version); test_tables checks that a migrated journal has exactly the tables, columns,
 * keys and indexes described here. A PostgreSQL database is created at this shape directly by
 * the DDL wr_tables_ddl renders for it (BIGINT for integers, BYTEA for blobs, every identifier
 * quoted: `user` is a reserved word there), and its version kept in weir_schema.
 */
#ifndef WR_TABLES_H
#define WR_TABLES_H

#include <stdbool.h>

#include "engine/store/db.h"

/* The schema version this description is (SQLite's user_version after every migration). */
#define WR_TABLES_VERSION 9

enum wr_column_type {
    WR_COL_TEXT,
    WR_COL_INT, /* 64-bit: INTEGER in SQLite, BIGINT in PostgreSQL */
    WR_COL_ANY, /* no declared type in SQLite (journal_meta.value); TEXT in PostgreSQL */
};

struct wr_column {
    const char *name;
    enum wr_column_type type;
    bool not_null;
    const char *default_sql; /* a literal ("'queued'", "0"), or NULL */
    const char *references;  /* "events(id)", or NULL */
};

struct wr_table {
    const char *name;
    const struct wr_column *columns; /* ends with a {0} entry */
    const char *primary_key;         /* "id" or "run_id, idx" */
    bool without_rowid;              /* SQLite only */
    bool rowid;                      /* read in insertion order by rowid (the executor's queue):
                                        SQLite's implicit one; PostgreSQL gets a rowid column
                                        (an identity), never exported: an import renumbers */
};

struct wr_index {
    const char *name;
    const char *table;
    const char *columns; /* "status, next_at" */
    bool unique;
    const char *where; /* a partial index's condition, or NULL */
};

/* The tables and the indexes, in creation order; each list ends with a {0} entry. Static. */
const struct wr_table *wr_tables(void);
const struct wr_index *wr_table_indexes(void);

struct wr_buf;

/* Adds list (borrowed: comma-separated names, "run_id, idx") to b as "a, b", each name in
   double quotes when quote (as PostgreSQL needs for `user`; SQLite takes them too). */
void wr_tables_add_names(struct wr_buf *b, const char *list, bool quote);

/* The CREATE TABLE and CREATE INDEX statements of the whole schema for kind (owned text,
   statements separated by ";\n"). */
char *wr_tables_ddl(enum wr_db_kind kind);

#endif
