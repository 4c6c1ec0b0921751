/*
 * file — the file trigger: CSV, JSON or NDJSON files dropped into a directory, one event per
 * row. This file declares the trigger's arguments and checks them, and the run-time slots;
 * triggers/file/watch runs it.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/base/duration.h"
#include "engine/base/size.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow_set.h"
#include "engine/lua/template.h"
#include "triggers/file/watch.h"
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
     .help = "file name glob; default *",
     .schema = "{\"pattern\": \"^[^/]+$\"}"}, /* file_validate: a file name, no '/' */
    {.name = "format",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_NO_TEMPLATE,
     .choices = formats,
     .help = "how rows are read; default csv"},
    {.name = "max_bytes",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a size such as 64MiB or 1000000",
     .schema = "{\"$ref\": \"#/$defs/size\"}",
     .help = "larger files go to failed/ unread, 1B-1GiB; default 64MiB"},
    {.name = "max_rows",
     .type = WR_ARG_INT,
     .flags = WR_ARG_NO_TEMPLATE,
     .min = 1,
     .max = 10000000,
     .help = "files with more rows go to failed/; default 200000"},
    {.name = "settle",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how long a file written in place must stay unchanged after its writer closed it "
             "before it is read (a renamed file is read at once), 0s-1h; default 2s"},
    {.name = "columns",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "names every file must have (CSV header columns; JSON keys of every row); a file "
             "without them goes to failed/"},
    {0},
};

static void file_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *pattern = NULL, *max = NULL;
    if (json_object_object_get_ex(args, "max_bytes", &max) &&
        !(json_object_is_type(max, json_type_string) &&
          wr_template_has(json_object_get_string(max)))) {
        char err[WR_ERR_MAX];
        uint64_t n = 0;
        char *p = wr_path_key(path, "max_bytes");
        if (wr_size_get(max, &n, err, sizeof(err)) != 0) {
            wr_check_error(c, p, false, "%s", err);
        } else if (n < 1 || n > WR_FILE_MAX_BYTES_LIMIT) {
            wr_check_error(c, p, false, "%s is out of range 1B-1GiB", json_object_get_string(max));
        }
        free(p);
    }
    struct json_object *settle = NULL;
    int64_t ms = 0;
    if (json_object_object_get_ex(args, "settle", &settle) &&
        json_object_is_type(settle, json_type_string) &&
        wr_duration_parse(json_object_get_string(settle), &ms, NULL, 0) == 0 &&
        ms > WR_FILE_MAX_SETTLE_MS) {
        char *p = wr_path_key(path, "settle");
        wr_check_error(c, p, false, "%s is out of range 0s-1h", json_object_get_string(settle));
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

static const char file_notes[] =
    "How to drop a file: write it under a name the trigger ignores — a hidden name\n"
    "(.users.csv), or one ending in .tmp or .part — or in another directory of the same file\n"
    "system, then rename it into the directory. A renamed file is read at once. A file\n"
    "written in place is read once its writer has closed it and it stayed unchanged for\n"
    "`settle` (default 2s): a writer that opens and closes it several times must not pause\n"
    "longer than that in between, or the parts are taken as separate files (and a part that\n"
    "starts without the header goes to failed/, see below).\n"
    "\n"
    "Each row is one event: event.row (for CSV, {column: text}), event.file, event.line.\n"
    "Once every row is stored the file moves to done/ (a row stored before, by the content\n"
    "of its file, is not stored again). A file that cannot be taken whole moves to failed/\n"
    "with NAME.error beside it giving every reason, and none of its rows is stored: bad\n"
    "rows, over max_bytes or max_rows, not UTF-8 text (UTF-16, an .xlsx workbook), not a\n"
    "regular file (a FIFO, socket or symbolic link), or a CSV whose first line is no header\n"
    "— it lacks the `columns`, or it shares no column name with the header of the previous\n"
    "file this workflow took and has as many fields, as the rest of a file written in pieces\n"
    "does. A file refused for looking like such a rest is taken when it is dropped again\n"
    "unchanged. Directories in the watched directory are left alone (logged once).\n"
    "\n"
    "Big files are read and parsed off the event loop and their rows stored in chunks, so\n"
    "webhooks are answered meanwhile. If weir stops (or the file is written again) half way,\n"
    "the file stays where it is and is taken again; the rows already stored are duplicates.\n";

/* {====== at run time: the watch, and the one a reload is about to switch to ====== */

struct file_rt {
    struct event_base *base;
    struct wr_ingest *ingest;
    const char *base_dir;
    struct wr_file_watch *now;
    struct wr_file_watch *next; /* made by prepare */
};

static struct wr_file_watch *watch_new(const struct file_rt *rt, const struct wr_workflow_set *set,
                                       char *err, size_t errlen)
{
    return wr_file_watch_new(rt->base, rt->ingest, (const struct wr_workflow *const *)set->items,
                             set->count, rt->base_dir, NULL, err, errlen);
}

static void *file_start(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                        char *err, size_t errlen)
{
    struct file_rt *rt = wr_xcalloc(1, sizeof(*rt));
    rt->base = env->base;
    rt->ingest = env->ingest;
    rt->base_dir = env->base_dir;
    rt->now = watch_new(rt, set, err, errlen);
    if (!rt->now) {
        free(rt);
        return NULL;
    }
    return rt;
}

/* Files present are taken on a later loop turn: the new watch is safe to drop until then. */
static int file_prepare(void *p, const struct wr_workflow_set *set, char *err, size_t errlen)
{
    struct file_rt *rt = p;
    wr_file_watch_free(rt->next);
    rt->next = watch_new(rt, set, err, errlen);
    return rt->next ? 0 : -1;
}

/* The old watch goes: a commit in flight is cancelled safely and its file taken again later
   (see wr_file_watch_free); nothing is carried over. */
static void file_commit(void *p, const struct wr_workflow_set *set)
{
    struct file_rt *rt = p;
    (void)set;
    wr_file_watch_free(rt->now);
    rt->now = rt->next;
    rt->next = NULL;
}

static void file_abort(void *p)
{
    struct file_rt *rt = p;
    wr_file_watch_free(rt->next);
    rt->next = NULL;
}

static size_t file_pending(void *p)
{
    struct file_rt *rt = p;
    return wr_file_watch_pending(rt->now);
}

static void file_free(void *p)
{
    struct file_rt *rt = p;
    if (rt) {
        wr_file_watch_free(rt->now);
        wr_file_watch_free(rt->next);
        free(rt);
    }
}

/* }====== */

/* The console's one line for a workflow of this kind. */
static char *file_summarize(const struct wr_workflow *wf)
{
    static const struct wr_trigger_summary_part parts[] = {{.key = "dir"}, {.key = "pattern"}, {0}};
    return wr_trigger_summary(wf, parts);
}

const struct wr_trigger_kind wr_trigger_file = {
    .name = "file",
    .summary = "files dropped into a directory (CSV, JSON or NDJSON), one event per row",
    .args = file_args,
    .notes = file_notes,
    .validate = file_validate,
    .what = "file triggers",
    .leader_only = true,
    .start = file_start,
    .prepare = file_prepare,
    .commit = file_commit,
    .abort = file_abort,
    .pending = file_pending,
    .free = file_free,
    .summarize = file_summarize,
};
