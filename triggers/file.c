/*
 * file — the file trigger: CSV, JSON or NDJSON files dropped into a directory, one event per
 * row. This file declares the trigger's arguments; watching the directory arrives with the
 * ingest work.
 */
#include <stdlib.h>
#include <string.h>

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
    {0},
};

static void file_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *pattern = NULL;
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
