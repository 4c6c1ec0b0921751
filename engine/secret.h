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

#endif
