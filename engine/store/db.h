/*
 * db — one SQL interface over the journal's two back ends (issue 21): SQLite, a file (the
 * embedded default), and PostgreSQL, a `postgresql://` URL (libpq).
 *
 * The store writes its SQL once, in the dialect both speak: `?` and `?NNN` placeholders (made
 * $1, $2... for PostgreSQL here, outside quoted literals and identifiers), INSERT ... ON CONFLICT
 * (...) DO NOTHING / DO UPDATE SET x = excluded.x, RETURNING, BIGINT and TEXT columns, BYTEA/BLOB
 * only through wr_db_bind_blob and wr_db_column_blob. What cannot be said in that dialect
 * (pragmas, advisory locks, SKIP LOCKED) is asked of wr_db_kind and written for each.
 *
 * A statement is prepared once and stepped like SQLite's: bind, step until WR_DB_DONE, reset.
 * On PostgreSQL the first step sends the statement (prepared on the server the first time, then
 * by name) and receives the whole result; later steps walk its rows. Values travel as text
 * (blobs as binary), so an integer column reads back exactly on both.
 *
 * Errors are classified, so the store can decide without reading messages: a unique or other
 * constraint violated, a lock or serialisation conflict worth retrying, the connection gone
 * (PostgreSQL), or anything else. A lost PostgreSQL connection is opened again by the next call
 * made outside a transaction (its prepared statements prepared again as they are used), with
 * attempts backing off from 100 ms to 5 s while the server stays away: each call meanwhile
 * fails at once with WR_DB_GONE. Messages name the back end and never carry a
 * bound value or the URL's password. Nothing here logs. A connection is not thread-safe: one
 * thread at a time.
 */
#ifndef WR_DB_H
#define WR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wr_db_kind {
    WR_DB_SQLITE,
    WR_DB_POSTGRES,
};

/* Results of wr_db_step (>= 0) and errors (< 0) of every call that returns int. */
enum {
    WR_DB_DONE = 0,        /* the statement finished (no more rows) */
    WR_DB_ROW = 1,         /* a row is there to read */
    WR_DB_ERROR = -1,      /* anything else: syntax, types, I/O, out of memory */
    WR_DB_CONSTRAINT = -2, /* a UNIQUE, PRIMARY KEY, NOT NULL, CHECK or foreign key refused it */
    WR_DB_BUSY = -3,       /* a lock, deadlock or serialisation conflict: the transaction may
                              be retried from its start */
    WR_DB_GONE = -4,       /* the connection is lost (PostgreSQL): reopen and retry */
};

/* wr_db_open flags. */
enum {
    WR_DB_READONLY =
        1 << 0,            /* SQLite: opened read-only; PostgreSQL: default_transaction_read_only */
    WR_DB_CREATE = 1 << 1, /* SQLite: create the file when missing (PostgreSQL: ignored) */
};

struct wr_db;
struct wr_db_stmt;

/* The SQLite handle of a SQLite connection, NULL for PostgreSQL. Borrowed. For tests that
   look at SQLite itself (query plans through its trace hook); the store never needs it. */
struct sqlite3 *wr_db_sqlite(struct wr_db *db);

/* True when target names a PostgreSQL database (postgresql:// or postgres://). */
bool wr_db_is_postgres_url(const char *target);

/* True when the PostgreSQL URL url carries a password (user:PASSWORD@ or password=): weir.yaml
   refuses it, so it can never reach a log line or a message. */
bool wr_db_url_has_password(const char *url);

/*
 * Opens target (borrowed): a postgresql:// URL, else a SQLite file path, into *out (owned:
 * wr_db_close). flags: WR_DB_READONLY, WR_DB_CREATE. SQLite waits up to 10 s for another
 * writer's lock. Returns 0, or a WR_DB_* error with why in err (no password in it).
 */
int wr_db_open(const char *target, unsigned flags, struct wr_db **out, char *err, size_t errlen);

/* Closes db (NULL is fine). Statements of db must be finalized first. */
void wr_db_close(struct wr_db *db);

enum wr_db_kind wr_db_kind(const struct wr_db *db);

/* Which session the connection is on: changes each time a lost PostgreSQL connection is opened
   again (what the old session held, its advisory locks, is gone). Always 0 for SQLite. */
unsigned wr_db_generation(const struct wr_db *db);

/* "sqlite" or "postgresql": for messages. Static. */
const char *wr_db_kind_name(const struct wr_db *db);

/*
 * Runs sql (borrowed: one or more statements, no parameters, no rows wanted). Returns 0 or a
 * WR_DB_* error with why in err.
 */
int wr_db_exec(struct wr_db *db, const char *sql, char *err, size_t errlen);

/*
 * Transactions. wr_db_begin(db, write): SQLite BEGIN IMMEDIATE for a write (the write lock at
 * once, so a conflict shows here and not at COMMIT) or BEGIN DEFERRED; PostgreSQL BEGIN (READ
 * COMMITTED). Each returns 0 or a WR_DB_* error with why in err; wr_db_rollback is safe
 * without a transaction.
 */
int wr_db_begin(struct wr_db *db, bool write, char *err, size_t errlen);
int wr_db_commit(struct wr_db *db, char *err, size_t errlen);
int wr_db_rollback(struct wr_db *db);

/* Whether a transaction is open on db. */
bool wr_db_in_transaction(const struct wr_db *db);

/*
 * Prepares sql (borrowed; one statement, `?` placeholders) into *out (owned: wr_db_finalize;
 * it borrows db, which must outlive it). Returns 0 or a WR_DB_* error with why in err (SQLite
 * checks the SQL here, PostgreSQL at the first step).
 */
int wr_db_prepare(struct wr_db *db, const char *sql, struct wr_db_stmt **out, char *err,
                  size_t errlen);

/* Finalizes st (NULL is fine). */
void wr_db_finalize(struct wr_db_stmt *st);

/*
 * Binding, i from 1. Text and blobs are copied (len -1: up to the NUL). A value stays bound
 * across wr_db_reset until bound again or wr_db_clear_bindings. Each returns 0, or WR_DB_ERROR
 * for an index out of range (the message is kept for the next step to report).
 */
int wr_db_bind_int64(struct wr_db_stmt *st, int i, int64_t v);
int wr_db_bind_text(struct wr_db_stmt *st, int i, const char *s, int len);
int wr_db_bind_blob(struct wr_db_stmt *st, int i, const void *p, size_t len);
int wr_db_bind_null(struct wr_db_stmt *st, int i);
void wr_db_clear_bindings(struct wr_db_stmt *st);

/*
 * Steps st: WR_DB_ROW (read the row with wr_db_column_*), WR_DB_DONE, or a WR_DB_* error with
 * the message in wr_db_errmsg. After WR_DB_DONE or an error, wr_db_reset before stepping again.
 */
int wr_db_step(struct wr_db_stmt *st);

/* Makes st ready to step again from the start; bindings stay. */
void wr_db_reset(struct wr_db_stmt *st);

/* Rows the last finished INSERT, UPDATE or DELETE of st changed. */
int64_t wr_db_changes(const struct wr_db_stmt *st);

/*
 * The current row's columns, i from 0. Text and blobs are borrowed until the next step, reset
 * or finalize; a NULL reads as 0, NULL, or a NULL blob of length 0.
 */
int wr_db_column_count(const struct wr_db_stmt *st);
bool wr_db_column_is_null(const struct wr_db_stmt *st, int i);
int64_t wr_db_column_int64(const struct wr_db_stmt *st, int i);
const char *wr_db_column_text(const struct wr_db_stmt *st, int i);
/* The length in bytes of column i read as text (0 for NULL). */
int wr_db_column_bytes(const struct wr_db_stmt *st, int i);

const void *wr_db_column_blob(struct wr_db_stmt *st, int i, size_t *len);

/* The last error of st's step (borrowed until the next call on st): names the back end. */
const char *wr_db_errmsg(const struct wr_db_stmt *st);

/*
 * Rewrites sql (borrowed) for PostgreSQL: outside '...' literals, "..." identifiers and -- or
 * / * comments, each `?NNN` becomes $NNN and each bare `?` the next number after the largest so
 * far ($1, $2, ...: SQLite's numbering). Returns the text (owned) and the number of parameters
 * in *nparams. Exposed for the tests.
 */
char *wr_db_pg_sql(const char *sql, int *nparams);

#endif
