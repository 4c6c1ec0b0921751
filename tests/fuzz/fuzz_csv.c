/*
 * fuzz_csv — wr_csv_read (triggers/file/csv) on arbitrary bytes in each format: RFC 4180 CSV
 * (quotes, line breaks inside fields, BOM, CRLF and lone CR), a JSON array of objects and NDJSON,
 * with a small row limit so that limit's path is reached too. The error list is formatted each
 * time.
 *
 * Invariants, from csv.h: a clean read has no errors and at most max_rows rows, each an
 * object; a failed read has errors and no rows (a file is taken whole or not at all); errors
 * are sorted by line and at most WR_CSV_MAX_ERRORS are kept.
 */
#include <stdlib.h>

#include "triggers/file/csv.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ROWS 64

static void check_errors(const struct wr_csv_errors *e)
{
    char *text;

    if (e->count > WR_CSV_MAX_ERRORS) {
        wr_fuzz_fail("wr_csv_read: more errors kept than WR_CSV_MAX_ERRORS");
    }
    for (size_t i = 0; i < e->count; i++) {
        if (e->items[i].message == NULL || (i > 0 && e->items[i].line < e->items[i - 1].line)) {
            wr_fuzz_fail("wr_csv_read: an error without a message, or errors out of line order");
        }
    }
    text = wr_csv_errors_format(e);
    if (text == NULL || ((e->count > 0) != (text[0] != '\0'))) {
        wr_fuzz_fail("wr_csv_errors_format: text does not match the error list");
    }
    free(text);
}

static void read_as(enum wr_csv_format format, const char *buf, size_t len)
{
    struct wr_csv_records r = {0};
    int rc = wr_csv_read(format, buf, len, MAX_ROWS, &r);

    if (rc == 0) {
        if (r.errors.count != 0 || r.errors.more != 0 || r.count > MAX_ROWS) {
            wr_fuzz_fail("wr_csv_read: a clean read with errors or over max_rows");
        }
        for (size_t i = 0; i < r.count; i++) {
            if (!json_object_is_type(r.items[i].row, json_type_object)) {
                wr_fuzz_fail("wr_csv_read: a row that is not an object");
            }
        }
    } else if (r.count != 0 || r.errors.count == 0) {
        wr_fuzz_fail("wr_csv_read: a failed read with rows, or without errors");
    }
    check_errors(&r.errors);
    wr_csv_records_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Not NUL-terminated, as csv.h allows: ASan sees any read past size (libFuzzer and the
     * replay driver both pass exact-size heap buffers). */
    const char *buf = (const char *)data;

    read_as(WR_CSV_FORMAT_CSV, buf, size);
    read_as(WR_CSV_FORMAT_JSON, buf, size);
    read_as(WR_CSV_FORMAT_NDJSON, buf, size);
    return 0;
}
