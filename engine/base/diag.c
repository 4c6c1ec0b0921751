/*
 * diag — collected user-facing error messages; see diag.h. Nothing here is specific to the
 * workflow format: the loader, the config reader and the registries all report through it.
 */
#include "engine/base/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strutil.h"

static void add_at(struct wr_diags *d, int line, int col, const char *msg)
{
    if (d->count == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = wr_xrealloc(d->items, d->cap * sizeof(*d->items));
        d->lines = wr_xrealloc(d->lines, d->cap * sizeof(*d->lines));
        d->cols = wr_xrealloc(d->cols, d->cap * sizeof(*d->cols));
    }
    d->lines[d->count] = line;
    d->cols[d->count] = col;
    d->items[d->count++] = wr_xstrdup(msg);
}

void wr_diags_add_raw(struct wr_diags *d, const char *msg)
{
    add_at(d, 0, 0, msg);
}

void wr_diags_sort_from(struct wr_diags *d, size_t start)
{
    /* Insertion sort: stable, and a file rarely has more than a handful of errors. */
    for (size_t i = start + 1; i < d->count; i++) {
        char *item = d->items[i];
        int line = d->lines[i], col = d->cols[i];
        size_t j = i;
        while (j > start &&
               (d->lines[j - 1] > line || (d->lines[j - 1] == line && d->cols[j - 1] > col))) {
            d->items[j] = d->items[j - 1];
            d->lines[j] = d->lines[j - 1];
            d->cols[j] = d->cols[j - 1];
            j--;
        }
        d->items[j] = item;
        d->lines[j] = line;
        d->cols[j] = col;
    }
}

void wr_diags_add(struct wr_diags *d, const char *file, int line, int col, const char *path,
                  const char *fmt, ...)
{
    struct wr_buf b = {0};
    va_list ap;

    if (file) {
        wr_buf_addf(&b, "%s:", file);
        if (line > 0) {
            wr_buf_addf(&b, "%d:%d:", line, col > 0 ? col : 1);
        }
        wr_buf_add(&b, " ");
    }
    if (path && *path) {
        wr_buf_addf(&b, "%s: ", path);
    }
    va_start(ap, fmt);
    wr_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    add_at(d, file ? line : 0, col, wr_buf_str(&b));
    wr_buf_free(&b);
}

void wr_diags_print(const struct wr_diags *d, FILE *f)
{
    for (size_t i = 0; i < d->count; i++) {
        fprintf(f, "%s\n", d->items[i]);
    }
}

void wr_diags_clear(struct wr_diags *d)
{
    if (!d) {
        return;
    }
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i]);
    }
    free(d->items);
    free(d->lines);
    free(d->cols);
    d->items = NULL;
    d->lines = d->cols = NULL;
    d->count = d->cap = 0;
}
