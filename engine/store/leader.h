/*
 * leader — which of several weirs on one PostgreSQL store runs the triggers that must run
 * once (schedules, folders, directory polls: the leader_only kinds of triggers/trigger.h).
 *
 * The leader holds a PostgreSQL session-level advisory lock (WR_LEADER_LOCK, and the store's
 * schema as the second key: WR_LOCK_SCOPE_SQL) on a connection of
 * its own; the server drops it with the session, however the process ends, and another instance
 * takes it at its next try (wr_leader_check every second or so: a new leader within seconds).
 * An instance that loses its connection is no longer the leader: the lock went with it. With a
 * SQLite store there is one daemon (engine/store/journal's claim), always the leader.
 */
#ifndef WR_LEADER_H
#define WR_LEADER_H

#include <stdbool.h>
#include <stddef.h>

#define WR_LEADER_LOCK 0x7765696c /* "weil" */

struct wr_leader;

/* For the store at state (borrowed: a path or a postgresql:// URL). Returns the leader (owned:
   wr_leader_free), or NULL with a message in err (PostgreSQL unreachable). */
struct wr_leader *wr_leader_new(const char *state, char *err, size_t errlen);

/*
 * Whether this instance leads now: takes the lock when free, or checks that the session holding
 * it is still there. Blocks for one round trip (PostgreSQL); never for a lock held elsewhere.
 * A failure (err set, may be NULL) counts as not leading.
 */
bool wr_leader_check(struct wr_leader *l, char *err, size_t errlen);

/* Gives the lock up (ends the session). NULL is fine. */
void wr_leader_free(struct wr_leader *l);

#endif
