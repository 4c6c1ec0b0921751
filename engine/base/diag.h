/*
 * diag — a list of user-facing error messages collected while loading input.
 *
 * Loading a workflow set reports every problem it finds, not just the first, so the loader
 * appends to a wr_diags instead of returning at the first error. Each message is one line in
 * the form "file:line:col: key.path: what is wrong". This module only stores and prints
 * messages; it knows nothing about files or YAML.
 */
#ifndef WR_DIAG_H
#define WR_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct wr_diags {
    char **items; /* owned messages, in the order they were added */
    int *lines;   /* each message's line and column (0 when it has none), for sorting */
    int *cols;
    size_t count;
    size_t cap;
};

/*
 * Appends one message built from file, line, col, key path and a printf-style text.
 * file may be NULL (then the location prefix is omitted); line/col of 0 omit the position;
 * path may be NULL or "" (then no key path is printed). Allocation failure aborts: a loader
 * that cannot record its errors has nothing sensible to do.
 */
void wr_diags_add(struct wr_diags *d, const char *file, int line, int col, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Appends an already formatted line (copied). */
void wr_diags_add_raw(struct wr_diags *d, const char *msg);

/*
 * Orders the messages from index `start` on by line, then column, keeping the order of equal
 * positions. A loader that checks one file in several passes calls it so that the file's
 * errors read top to bottom.
 */
void wr_diags_sort_from(struct wr_diags *d, size_t start);

/* Prints every message on its own line to f. */
void wr_diags_print(const struct wr_diags *d, FILE *f);

/* Releases every message; the struct can be reused afterwards. NULL is fine. */
void wr_diags_clear(struct wr_diags *d);

#endif
