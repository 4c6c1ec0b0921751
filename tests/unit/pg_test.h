/*
 * pg_test — what the unit tests that also run on PostgreSQL share: the throw-away cluster's URL
 * (the ctest fixture weir_pg writes it to a file, tests/pg/README.md), a schema of the test's
 * own (so tests never touch the public schema, nor each other's), and waiting until another
 * session blocks on a lock (for the race cases). cmocka's fail_msg on any error.
 */
#ifndef WR_PG_TEST_H
#define WR_PG_TEST_H

#include <stdbool.h>
#include <stddef.h>

/* Reads the URL in path's first line into out (len bytes); false, with a message on stderr
   naming who (the test program), when there is no postgresql:// URL. */
bool wr_pgtest_read_url(const char *who, const char *path, char *out, size_t len);

/* base (borrowed) with its connections' search_path set to schema: owned. */
char *wr_pgtest_schema_url(const char *base, const char *schema);

/* Drops schema on base's database (with all it holds) and creates it empty; returns
   wr_pgtest_schema_url(base, schema) (owned). */
char *wr_pgtest_fresh_schema(const char *base, const char *schema);

/* wr_pgtest_fresh_schema, migrated to weir's schema: *state gets the schema's URL (owned); the
   return is a connection to it (owned: wr_db_close). */
struct wr_db;
struct wr_db *wr_pgtest_fresh_store(const char *base, const char *schema, char **state);

/* Until a session of url's database waits for a lock in a statement LIKE like (up to 10 s). */
void wr_pgtest_wait_lock(const char *url, const char *like);

#endif
