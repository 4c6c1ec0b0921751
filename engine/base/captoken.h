/*
 * captoken — capability tokens: the secrets inside approval links.
 *
 * A token is HMAC-SHA256 under a 32-byte key of what it grants (a run, a step, an approver) and
 * a random nonce, written as base64url without padding (43 characters, 256 bits). Whoever
 * holds the link may decide for that approver; nobody can make one without the key. The key
 * lives in its own file beside a SQLite journal (`<state>.approval-key`, mode 0600, created on
 * first use; engine/store/approval_key keeps a PostgreSQL store's in the database); the journal
 * stores only the SHA-256 of each token (wr_captoken_hash), so a copy of the journal grants
 * nothing.
 *
 * This module knows nothing of approvals or the journal: it makes, hashes and checks the shape
 * of tokens, and loads the key. Lookups and decisions are engine/store/approval's.
 */
#ifndef WR_CAPTOKEN_H
#define WR_CAPTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_CAPTOKEN_KEY_LEN 32
#define WR_CAPTOKEN_LEN     43 /* base64url of 32 bytes, no padding */

/*
 * Reads the key file at path into key, creating it when missing: 32 random bytes, mode 0600,
 * never over an existing file (written under a temporary name with O_EXCL, fsync'ed, then
 * linked into place, so a concurrent reader never sees it half written). Refuses a file that
 * group or others may read or write, one that is not a regular file, and one that is not
 * exactly 32 bytes. Returns 0, or -1 with a message naming the path in err.
 */
int wr_captoken_key_load(const char *path, unsigned char key[WR_CAPTOKEN_KEY_LEN], char *err,
                         size_t errlen);

/* A new key: 32 random bytes into key. Aborts when the system has no randomness to give. */
void wr_captoken_new_key(unsigned char key[WR_CAPTOKEN_KEY_LEN]);
/* 16 random bytes as 32 lower-case hex characters and a NUL into out. Aborts when the system
   has no randomness to give (as an allocation failure does). */
void wr_captoken_nonce(char out[33]);

/*
 * The token for (run_id, step_idx, approver, nonce), all borrowed: HMAC-SHA256(key, run_id
 * "\0" decimal(step_idx) "\0" approver "\0" nonce) as base64url without padding, NUL-terminated,
 * into out. Deterministic: the same inputs and key give the same token.
 */
void wr_captoken_make(const unsigned char key[WR_CAPTOKEN_KEY_LEN], const char *run_id,
                      int64_t step_idx, const char *approver, const char *nonce,
                      char out[WR_CAPTOKEN_LEN + 1]);

/* The hex SHA-256 of token (lower case, 64 characters and a NUL) into out: what the journal
   stores and looks a token up by. */
void wr_captoken_hash(const char *token, char out[65]);

/*
 * True when token (NULL is fine: false) has the shape of a token: exactly 43 characters of the
 * base64url alphabet, the last one of the four a 256-bit value can end in. Checked before any
 * lookup, so garbage never reaches the journal.
 */
bool wr_captoken_well_formed(const char *token);

#endif
