/*
 * undo — the reverse plan of a run and the workflow that carries it out; see undo.h.
 */
#include "engine/exec/undo.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "engine/store/journal.h"

static const char *str(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* "disable (disable-user)", "steps[3]": how a step of the run is named in the plan. */
static struct json_object *step_entry(struct json_object *step, const char *why)
{
    struct json_object *e = json_object_new_object(), *idx = NULL;
    const char *id = str(step, "step_id");
    char label[64];
    int64_t i = json_object_object_get_ex(step, "idx", &idx) ? json_object_get_int64(idx) : -1;
    if (i >= WR_ON_ERROR_BASE) {
        snprintf(label, sizeof(label), "on_error[%lld]", (long long)(i - WR_ON_ERROR_BASE));
    } else {
        snprintf(label, sizeof(label), "steps[%lld]", (long long)i);
    }
    json_object_object_add(e, "step", json_object_new_string(id ? id : label));
    const char *action = str(step, "action");
    json_object_object_add(e, "action", action ? json_object_new_string(action) : NULL);
    if (why) {
        json_object_object_add(e, "why", json_object_new_string(why));
    }
    return e;
}

/* A step kind that changes nothing outside weir (annotated by wr_history_annotate). */
static bool inert(const char *action)
{
    static const char *const kinds[] = {"script", "wait", "approval", "approval request", NULL};
    for (size_t i = 0; action && kinds[i]; i++) {
        if (strcmp(action, kinds[i]) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * A recorded value is data, never a template: a string holding "{{" (an old jobTitle can) is
 * written as a Lua string literal of decimal escapes, "{{ "\\123\\123..." }}", which yields it
 * as it is.
 * Returns v itself or its replacement (owned either way: v taken).
 */
static struct json_object *literal(struct json_object *v)
{
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, val)
        {
            struct json_object *l = literal(json_object_get(val));
            json_object_object_add(v, key, l);
        }
        return v;
    }
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            struct json_object *l = literal(json_object_get(json_object_array_get_idx(v, i)));
            json_object_array_put_idx(v, i, l);
        }
        return v;
    }
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || !strstr(s, "{{")) {
        return v;
    }
    /* Every byte as a decimal escape: the literal holds neither "{{" nor "}}" nor a quote. */
    size_t n = strlen(s);
    char *t = wr_xcalloc(n * 4 + 16, 1), *p = t;
    p += sprintf(p, "{{ \"");
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "\\%03u", (unsigned char)s[i]);
    }
    sprintf(p, "\" }}");
    json_object_put(v);
    v = json_object_new_string(t);
    free(t);
    return v;
}

struct json_object *wr_undo_plan(struct json_object *run)
{
    struct json_object *plan = json_object_new_object(), *steps = NULL;
    struct json_object *rev = json_object_new_array(), *impossible = json_object_new_array();
    struct json_object *unrecorded = json_object_new_array();
    json_object_object_add(plan, "undo_of",
                           str(run, "id") ? json_object_new_string(str(run, "id")) : NULL);
    json_object_object_add(plan, "workflow",
                           str(run, "workflow") ? json_object_new_string(str(run, "workflow"))
                                                : NULL);
    json_object_object_get_ex(run, "steps", &steps);
    size_t n = json_object_is_type(steps, json_type_array) ? json_object_array_length(steps) : 0;
    /* Rows come in idx order (main steps, then on_error): the last one done is undone first. */
    for (size_t k = n; k-- > 0;) {
        struct json_object *step = json_object_array_get_idx(steps, k), *out = NULL, *u = NULL;
        const char *status = str(step, "status");
        if (!status || strcmp(status, "succeeded") != 0 || inert(str(step, "action"))) {
            continue;
        }
        json_object_object_get_ex(step, "output", &out);
        /* undo_impossible alone: nothing can be put back; beside undo: only part of it can. */
        const char *why = str(out, "undo_impossible");
        if (why) {
            json_object_array_add(impossible, step_entry(step, why));
        }
        if (!json_object_object_get_ex(out, "undo", &u) ||
            !json_object_is_type(u, json_type_array)) {
            if (!why) {
                json_object_array_add(unrecorded, step_entry(step, NULL));
            }
            continue;
        }
        for (size_t i = 0; i < json_object_array_length(u); i++) {
            struct json_object *r = json_object_array_get_idx(u, i);
            if (!json_object_is_type(r, json_type_object) || !str(r, "action")) {
                continue;
            }
            struct json_object *copy = NULL;
            json_object_deep_copy(r, &copy, NULL);
            copy = literal(copy);
            /* One refusal must not hide the rest: every reverse step goes on after a failure. */
            json_object_object_add(copy, "continue_on_error", json_object_new_boolean(true));
            json_object_array_add(rev, copy);
        }
    }
    json_object_object_add(plan, "steps", rev);
    json_object_object_add(plan, "impossible", impossible);
    json_object_object_add(plan, "unrecorded", unrecorded);
    return plan;
}

int wr_undo_workflow(struct json_object *plan, const char *const *env_allow,
                     struct wr_workflow **out, struct wr_diags *d)
{
    struct json_object *steps = NULL;
    struct wr_srcdoc *doc = NULL;
    *out = NULL;
    json_object_object_get_ex(plan, "steps", &steps);
    if (!json_object_is_type(steps, json_type_array) || json_object_array_length(steps) == 0) {
        wr_diags_add(d, WR_UNDO_WORKFLOW, 0, 0, NULL, "the run recorded nothing to undo");
        return -1;
    }
    /* The workflow's own document: {"steps": [...]}, parsed so the loader's paths resolve. */
    struct json_object *root = json_object_new_object();
    json_object_object_add(root, "steps", json_object_get(steps));
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    int rc = wr_srcdoc_parse(WR_UNDO_WORKFLOW ".json", text, strlen(text), true, &doc, d);
    json_object_put(root);
    if (rc != 0) {
        return -1;
    }
    struct json_object *s = NULL;
    json_object_object_get_ex(doc->root, "steps", &s);
    if (wr_workflow_from_steps(WR_UNDO_WORKFLOW, doc, s, "steps", ".", env_allow, out, d) != 0) {
        wr_srcdoc_free(doc);
        return -1;
    }
    (*out)->doc_borrowed = false; /* the workflow owns its generated document */
    return 0;
}
