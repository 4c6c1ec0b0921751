/*
 * transfer — `weir export` and `weir import`: a whole journal as one portable file, read from
 * either back end and written into either (issue 21: a SQLite journal moves into PostgreSQL,
 * and back).
 *
 * The file is NDJSON, one object a line: first {"weir_export": 1, "schema": VERSION, "kind":
 * "sqlite"|"postgresql", "tables": [names]}, then {"table": NAME, "row": {column: value}} for
 * every row of every table of engine/store/tables, in that order (events before the runs that
 * name them), then {"end": true, "rows": N} — so a cut-off file is refused, not half imported.
 * Integers are JSON numbers, text JSON strings, NULL null.
 */
#ifndef WR_TRANSFER_H
#define WR_TRANSFER_H

#include <stdint.h>
#include <stdio.h>

/*
 * Writes the journal at state (borrowed: a SQLite file or a postgresql:// URL; it must be at
 * this weir's schema version) to out (borrowed), read in one transaction so the file is one
 * moment of it. *rows counts the rows written. Returns 0, or -1 with err.
 */
int wr_export(const char *state, FILE *out, int64_t *rows, char *err, size_t errlen);

/*
 * Reads an export from in (borrowed; name, borrowed, for messages) into the journal at state
 * (borrowed), which is migrated first and must hold no events: everything in one transaction,
 * nothing when any line is wrong (the message names the line). *rows counts the rows imported.
 * Returns 0, or -1 with err.
 */
int wr_import(const char *state, FILE *in, const char *name, int64_t *rows, char *err,
              size_t errlen);

#endif
