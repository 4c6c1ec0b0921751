/*
 * diag — collected user-facing error messages; see diag.h. Nothing here is specific to the
 * workflow format: the loader, the config reader and the registries all report through it.
 */
#include "engine/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine/strutil.h"

void wr_diags_add_raw(struct wr_diags *d, const char *msg)
{
    if (d->count == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = wr_xrealloc(d->items, d->cap * sizeof(*d->items));
    }
    d->items[d->count++] = wr_xstrdup(msg);
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
    wr_diags_add_raw(d, wr_buf_str(&b));
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
    d->items = NULL;
    d->count = d->cap = 0;
}
