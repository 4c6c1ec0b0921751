/*
 * trigger_state — what a polling trigger remembers between rounds, in the journal's
 * trigger_state table: (scope, name) → value, all text. A scope is one trigger of one workflow
 * ("user-change mover"); the names and values are the kind's own (a delta link, a user's
 * watched attributes as JSON, a user due later, the date that already fired for a user).
 *
 * Writes ride on an ingest batch, so they commit in the SAME transaction as the events and runs
 * the round starts: a crash between Graph's answer and the commit repeats the round (nothing
 * lost, nothing doubled), a commit that fails stores neither. Reads open their own connection
 * (wr_journal_open_reader), once at a runtime's start, and by `weir scope`.
 */
#ifndef WR_TRIGGER_STATE_H
#define WR_TRIGGER_STATE_H

#include <stddef.h>
#include <stdint.h>

struct wr_ingest_batch;

/* Sets (scope, name) to value in b's transaction; value NULL removes it. All copied. */
void wr_trigger_state_put(struct wr_ingest_batch *b, const char *scope, const char *name,
                          const char *value);

/* Removes every name of scope in b's transaction (a later put in b still applies). */
void wr_trigger_state_clear(struct wr_ingest_batch *b, const char *scope);

/* One remembered entry, borrowed for the callback. */
typedef void (*wr_trigger_state_fn)(void *arg, const char *name, const char *value,
                                    int64_t updated_at);

/*
 * Calls each(arg, name, value, updated_at) for every name of scope (borrowed) that starts with
 * prefix (NULL or "" = all), in name order, from state_path's journal (a SQLite file or a
 * postgresql:// URL, through engine/store/db). A journal that does not exist yet, or has no
 * trigger_state table, holds nothing: 0 and no call. Returns the number of entries, or -1 with a
 * message in err (the file unreadable, a newer schema).
 */
int64_t wr_trigger_state_load(const char *state_path, const char *scope, const char *prefix,
                              wr_trigger_state_fn each, void *arg, char *err, size_t errlen);

#endif
