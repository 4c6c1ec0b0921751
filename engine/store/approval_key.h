/*
 * approval_key — where the key of approval links lives, for each back end.
 *
 * SQLite: its own file beside the journal, `<state>.approval-key` (engine/base/captoken's
 * wr_captoken_key_load: mode 0600, created on first use). PostgreSQL: the journal_meta row
 * `approval_key` (hex), made once by whichever instance comes first, so that every instance on
 * the database makes and checks the same links. `weir export` leaves that row out: an export
 * file grants nothing.
 */
#ifndef WR_APPROVAL_KEY_H
#define WR_APPROVAL_KEY_H

#include <stddef.h>

#include "engine/base/captoken.h"

/* The name of the PostgreSQL key's journal_meta row. */
#define WR_APPROVAL_KEY_ROW "approval_key"

/*
 * Loads the key of the store at state (borrowed: a file path or a postgresql:// URL) into key,
 * creating it when there is none. Returns 0, or -1 with a message in err (never the key).
 */
int wr_approval_key_load(const char *state, unsigned char key[WR_CAPTOKEN_KEY_LEN], char *err,
                         size_t errlen);

#endif
