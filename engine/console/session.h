/*
 * session — the console's login sessions: an in-memory table of at most WR_SESSION_MAX
 * sessions, each a random cookie value (RAND_bytes, 64 hex digits) handed to the browser once
 * and kept here only as its SHA-256, with its own CSRF token.
 *
 * The CSRF token is not stored either: it is HMAC-SHA256 of the cookie value under a key drawn
 * at wr_sessions_new, so the table holds digests and times only, and the token can be handed
 * out again (GET /api/session after a page reload) by whoever presents the cookie. Lookups and
 * CSRF checks compare digests with CRYPTO_memcmp, walking every slot, so their time does not
 * depend on which session matched or how many bytes did.
 *
 * A session expires after WR_SESSION_IDLE_MS without use; the 65th session evicts the one
 * used least recently. Times come from an injectable clock (engine/base/clock.h; monotonic by
 * default), so a test moves time instead of waiting. The table lives as long as the admin API
 * (a SIGHUP keeps it; a restart does not). Not here: HTTP, cookies' syntax, the admin token.
 */
#ifndef WR_SESSION_H
#define WR_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/clock.h"

#define WR_SESSION_MAX     64
#define WR_SESSION_IDLE_MS ((int64_t)12 * 60 * 60 * 1000)
/* A cookie value and a CSRF token: 32 random (or HMAC) bytes as lowercase hex. */
#define WR_SESSION_HEX_LEN 64

struct wr_sessions;

/*
 * An empty table (owned: wr_sessions_free) reading the time from clock(clock_arg) in ms, or
 * from wr_clock_mono_ms when clock is NULL. NULL with err when no random key can be drawn.
 */
struct wr_sessions *wr_sessions_new(wr_clock_fn clock, void *clock_arg, char *err, size_t errlen);

/*
 * Starts a session: writes its cookie value and its CSRF token (each WR_SESSION_HEX_LEN hex
 * digits and a NUL) into cookie and csrf. When the table is full, the session used least
 * recently goes first. Returns 0, or -1 with err when no random bytes can be drawn (nothing
 * changes then).
 */
int wr_sessions_create(struct wr_sessions *s, char cookie[WR_SESSION_HEX_LEN + 1],
                       char csrf[WR_SESSION_HEX_LEN + 1], char *err, size_t errlen);

/*
 * Whether cookie (borrowed; any text) is the value of a live session. A live one counts as
 * used now (its idle time starts again) and, when csrf is not NULL, gets its CSRF token written
 * there. Expired sessions are dropped on the way.
 */
bool wr_sessions_find(struct wr_sessions *s, const char *cookie, char csrf[WR_SESSION_HEX_LEN + 1]);

/*
 * Whether token (borrowed; NULL is false) is the CSRF token of the live session whose cookie
 * value is cookie (borrowed; NULL is false). Compared in constant time.
 */
bool wr_sessions_csrf_ok(struct wr_sessions *s, const char *cookie, const char *token);

/* Ends the session of cookie (borrowed); false when there was none. */
bool wr_sessions_drop(struct wr_sessions *s, const char *cookie);

/* The live sessions (expired ones are dropped first). */
size_t wr_sessions_count(struct wr_sessions *s);

/* Frees the table; every digest and the key are wiped first. NULL is fine. */
void wr_sessions_free(struct wr_sessions *s);

#endif
