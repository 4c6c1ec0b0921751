/*
 * file — the file trigger: CSV, JSON or NDJSON files dropped into a directory, one event per
 * row. This file declares the trigger's arguments; watching the directory arrives with the
 * ingest work.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/size.h"
#include "engine/template.h"
#include "triggers/file_watch.h"
#include "triggers/trigger.h"

static const char *const formats[] = {"csv", "json", "ndjson", NULL};

static const struct wr_argspec file_args[] = {
    {.name = "dir",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "directory to watch (relative to weir.yaml's directory)"},
    {.name = "pattern",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "file name glob; default *"},
    {.name = "format",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_NO_TEMPLATE,
     .choices = formats,
     .help = "how rows are read; default csv"},
    {.name = "max_bytes",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a size such as 64MiB or 1000000",
     .help = "larger files go to failed/ unread, 1B-1GiB; default 64MiB"},
    {.name = "max_rows",
     .type = WR_ARG_INT,
     .flags = WR_ARG_NO_TEMPLATE,
     .min = 1,
     .max = 10000000,
     .help = "files with more rows go to failed/; default 200000"},
    {0},
};

static void file_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *pattern = NULL, *max = NULL;
    if (json_object_object_get_ex(args, "max_bytes", &max) &&
        !(json_object_is_type(max, json_type_string) &&
          wr_template_has(json_object_get_string(max)))) {
        char err[256];
        uint64_t n = 0;
        char *p = wr_path_key(path, "max_bytes");
        if (wr_size_get(max, &n, err, sizeof(err)) != 0) {
            wr_check_error(c, p, false, "%s", err);
        } else if (n < 1 || n > WR_FILE_MAX_BYTES_LIMIT) {
            wr_check_error(c, p, false, "%s is out of range 1B-1GiB", json_object_get_string(max));
        }
        free(p);
    }
    if (json_object_object_get_ex(args, "pattern", &pattern) &&
        json_object_is_type(pattern, json_type_string)) {
        const char *s = json_object_get_string(pattern);
        if (!*s || strchr(s, '/')) {
            char *p = wr_path_key(path, "pattern");
            wr_check_error(c, p, false, "'%s' is not a file name pattern (no '/', not empty)", s);
            free(p);
        }
    }
}

const struct wr_trigger_kind wr_trigger_file = {
    .name = "file",
    .summary = "files dropped into a directory (CSV, JSON or NDJSON), one event per row",
    .args = file_args,
    .validate = file_validate,
};
