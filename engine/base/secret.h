/*
 * secret — resolving `env:NAME` and `file:PATH` references into secret values.
 *
 * weir.yaml never holds a secret, only where to find it. A file holding one must not be
 * readable by group or others (weir refuses it, as ssh does with keys). Values are returned
 * to the caller, never logged; error messages name the reference, never the value.
 */
#ifndef WR_SECRET_H
#define WR_SECRET_H

#include <stddef.h>

/*
 * Resolves ref. Relative file paths resolve against base_dir. A file's trailing newline is
 * dropped. Returns 0 and an owned value in *out, or -1 with a message in err.
 */
int wr_secret_resolve(const char *ref, const char *base_dir, char **out, char *err, size_t errlen);

/* Overwrites and frees a secret value. NULL is fine. */
void wr_secret_free(char *value);

/* {====== masking ======
 *
 * Every secret value weir holds is registered here: what wr_secret_resolve returned (client
 * secret and key, webhook secrets, the admin token), Graph access tokens, and environment
 * values that scripts and templates read (env.NAME), since a template may copy one into a
 * URL, a header or a message. wr_secret_mask then replaces each registered value (and its
 * JSON-escaped form) by WR_SECRET_MASK wherever text leaves weir: log lines, the journal's
 * run and step records (so history, `weir show` and the admin API), and printed errors.
 * Values shorter than WR_SECRET_MIN_LEN are not registered: masking "DE" or "1" everywhere
 * would garble every log line, and such a value protects nothing. Thread-safe.
 */

#define WR_SECRET_MASK    "[redacted]"
#define WR_SECRET_MIN_LEN 6

/* Remembers value (copied) as a secret for good. NULL or short values are ignored. */
void wr_secret_register(const char *value);

/* Remembers a Graph access token; only the last few are kept (they expire). */
void wr_secret_register_token(const char *token);

/* s with every registered secret masked: an owned copy, or NULL when s contains none. */
char *wr_secret_mask(const char *s);

/* Forgets every registered value (tests). */
void wr_secret_reset(void);

/* }====== */

#endif
