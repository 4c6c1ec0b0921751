/*
 * workflow_set — loading a directory of workflows and the rules across files; see
 * workflow_set.h.
 */
#include "engine/lang/workflow_set.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/strutil.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the workflow files of dir (sorted) to *files. Returns the number added, -1 on error. */
static int list_dir(const char *dir, char ***files, size_t *n, struct wr_diags *d)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    size_t start = *n;
    bool bad = false;
    if (!dh) {
        wr_diags_add(d, dir, 0, 0, NULL, "cannot open directory: %s", strerror(errno));
        return -1;
    }
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.' || !wr_srcdoc_is_source_name(de->d_name)) {
            continue;
        }
        char *full = wr_path_join(dir, de->d_name);
        struct stat st;
        if (stat(full, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
            /* A FIFO or socket named like a workflow: an error, neither read nor skipped
               silently (reading a FIFO would wait for a writer). */
            wr_diags_add(d, full, 0, 0, NULL, "%s, not a regular file", wr_file_kind(st.st_mode));
            free(full);
            bad = true;
            continue;
        }
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        *files = wr_xrealloc(*files, (*n + 1) * sizeof(**files));
        (*files)[(*n)++] = full;
    }
    closedir(dh);
    if (*n > start) {
        qsort(*files + start, *n - start, sizeof(**files), cmp_str);
    }
    return bad ? -1 : (int)(*n - start);
}

/* Reports names used twice, at the later file. */
static int check_names(struct wr_workflow_set *set, struct wr_diags *d)
{
    int errors = 0;
    for (size_t i = 0; i < set->count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(set->items[i]->name, set->items[j]->name) == 0) {
                struct wr_pos a = wr_srcdoc_pos(set->items[i]->doc, "name", false);
                struct wr_pos b = wr_srcdoc_pos(set->items[j]->doc, "name", false);
                wr_diags_add(d, set->items[i]->file, a.line, a.col, "name",
                             "duplicate workflow name '%s' (also in %s:%d:%d)", set->items[i]->name,
                             set->items[j]->file, b.line, b.col);
                errors++;
                break;
            }
        }
    }
    return errors;
}

/* Workflows sharing a trigger route (a webhook path) must agree on the shared arguments. */
static int check_routes(struct wr_workflow_set *set, struct wr_diags *d)
{
    int errors = 0;
    for (size_t i = 0; i < set->count; i++) {
        const struct wr_workflow *a = set->items[i];
        const struct wr_trigger_kind *k = a->trigger;
        struct json_object *ra = NULL;
        if (!k->route_arg || !json_object_object_get_ex(a->trigger_args, k->route_arg, &ra)) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const struct wr_workflow *b = set->items[j];
            struct json_object *rb = NULL;
            if (b->trigger != k || !json_object_object_get_ex(b->trigger_args, k->route_arg, &rb) ||
                strcmp(json_object_get_string(ra), json_object_get_string(rb)) != 0) {
                continue;
            }
            for (size_t s = 0; k->shared_args[s]; s++) {
                struct json_object *va = NULL, *vb = NULL;
                json_object_object_get_ex(a->trigger_args, k->shared_args[s], &va);
                json_object_object_get_ex(b->trigger_args, k->shared_args[s], &vb);
                if (json_object_equal(va, vb)) {
                    continue;
                }
                char *tp = wr_path_key("trigger", k->name);
                char *p = wr_path_key(tp, va ? k->shared_args[s] : k->route_arg);
                struct wr_pos pos = wr_srcdoc_pos(a->doc, p, false);
                wr_diags_add(d, a->file, pos.line, pos.col, p,
                             "%s %s %s is shared with workflow '%s' (%s), which has a different "
                             "'%s'; workflows on one %s must agree on it",
                             k->name, k->route_arg, json_object_get_string(ra), b->name, b->file,
                             k->shared_args[s], k->route_arg);
                free(p);
                free(tp);
                errors++;
                break;
            }
        }
    }
    return errors;
}

int wr_workflow_set_load(const char *const *paths, size_t npaths, const char *base_dir,
                         const char *const *env_allow, struct wr_workflow_set **out,
                         struct wr_diags *d)
{
    char **files = NULL;
    size_t nfiles = 0;
    int errors = 0;
    struct wr_workflow_set *set = wr_xcalloc(1, sizeof(*set));

    *out = NULL;
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            wr_diags_add(d, paths[i], 0, 0, NULL, "%s", strerror(errno));
            errors++;
        } else if (S_ISDIR(st.st_mode)) {
            int n = list_dir(paths[i], &files, &nfiles, d);
            if (n == 0) {
                wr_diags_add(d, paths[i], 0, 0, NULL,
                             "no workflow files (*.yaml, *.yml, *.json) in this directory");
            }
            errors += n <= 0;
        } else if (!wr_srcdoc_is_source_name(paths[i])) {
            wr_diags_add(d, paths[i], 0, 0, NULL,
                         "not a workflow file (expected .yaml, .yml or .json)");
            errors++;
        } else {
            files = wr_xrealloc(files, (nfiles + 1) * sizeof(*files));
            files[nfiles++] = wr_xstrdup(paths[i]);
        }
    }
    for (size_t i = 0; i < nfiles; i++) {
        struct wr_workflow *wf = NULL;
        if (wr_workflow_load(files[i], base_dir, env_allow, &wf, d) != 0) {
            errors++;
            continue;
        }
        set->items = wr_xrealloc(set->items, (set->count + 1) * sizeof(*set->items));
        set->items[set->count++] = wf;
    }
    errors += check_names(set, d);
    errors += check_routes(set, d);
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i]);
    }
    free(files);
    if (errors > 0) {
        wr_workflow_set_free(set);
        return -1;
    }
    *out = set;
    return 0;
}

const struct wr_workflow *wr_workflow_set_find(const struct wr_workflow_set *set, const char *name)
{
    for (size_t i = 0; set && i < set->count; i++) {
        if (strcmp(set->items[i]->name, name) == 0) {
            return set->items[i];
        }
    }
    return NULL;
}

void wr_workflow_set_free(struct wr_workflow_set *set)
{
    if (!set) {
        return;
    }
    for (size_t i = 0; i < set->count; i++) {
        wr_workflow_free(set->items[i]);
    }
    free(set->items);
    free(set);
}
