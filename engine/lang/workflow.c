/*
 * workflow — checking one workflow document and building its model; see workflow.h.
 *
 * The check reports every problem it can find in one pass; the model is built only when the
 * check found none, so the builder can trust types and skip re-checking.
 */
#include "engine/lang/workflow.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/duration.h"
#include "engine/lua/lua_host.h"
#include "engine/base/strutil.h"

/* {====== schema tables ====== */

static const struct wr_argspec retry_fields[] = {
    {.name = "attempts",
     .type = WR_ARG_INT,
     .flags = WR_ARG_NO_TEMPLATE,
     .min = 1,
     .max = 100,
     .help = "total attempts including the first; default 5"},
    {.name = "initial",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "first backoff; default 2s"},
    {.name = "max",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "backoff ceiling; default 10m"},
    {.name = "throttle_limit",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how long a step may wait out Graph throttling (429, 503 with Retry-After) in all; "
             "throttled attempts never count against attempts; default 6h"},
    {0},
};

static const struct wr_argspec guard_destructive_fields[] = {
    {.name = "max",
     .type = WR_ARG_INT,
     .flags = WR_ARG_NO_TEMPLATE,
     .min = 1,
     .max = 10000000,
     .help = "distinct users destructive steps may change within the window"},
    {.name = "percent",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a number of percent, more than 0 and at most 100",
     .schema = "{\"type\": \"number\", \"exclusiveMinimum\": 0, \"maximum\": 100}",
     .help = "the same as a share of the tenant's users (read from Graph, cached for an hour); "
             "rounded down, at least 1 user; the lower of max and percent wins"},
    {.name = "window",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "the sliding window the users are counted in, at most 30d; default 1h"},
    {0},
};

static const struct wr_argspec workflow_guard_fields[] = {
    {.name = "destructive",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .fields = guard_destructive_fields,
     /* wr_guard_check: max, percent or both */
     .schema = "{\"anyOf\": [{\"required\": [\"max\"]}, {\"required\": [\"percent\"]}]}",
     .help = "limits on destructive steps (disable, delete, remove licences, groups, roles, "
             "sessions): a run that would pass them is held before the step"},
    {0},
};

const struct wr_argspec *wr_workflow_guard_spec(void)
{
    return workflow_guard_fields;
}

const struct wr_argspec *wr_guard_destructive_spec(void)
{
    return guard_destructive_fields;
}

static const struct wr_argspec workflow_keys[] = {
    {.name = "name",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "unique name, lowercase letters, digits and '-'",
     .schema = "{\"pattern\": \"^[a-z0-9-]{1,64}$\"}"}, /* check_name */
    {.name = "description",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "what it is for"},
    {.name = "enabled", .type = WR_ARG_BOOL, .help = "false keeps it loaded but unmatched"},
    {.name = "trigger",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .help = "one trigger kind (weir help triggers lists them)",
     .schema = "{\"$ref\": \"#/$defs/trigger\"}"},
    {.name = "when", .type = WR_ARG_EXPR, .help = "Lua condition over `event`"},
    {.name = "vars", .type = WR_ARG_OBJECT, .help = "constants the steps share as vars.NAME"},
    {.name = "steps",
     .type = WR_ARG_LIST,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a list of steps",
     .help = "the steps, in order",
     .schema = "{\"$ref\": \"#/$defs/steps\"}"},
    {.name = "retry",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_NO_TEMPLATE,
     .fields = retry_fields,
     .help = "default retry policy of every step"},
    {.name = "on_error",
     .type = WR_ARG_LIST,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a list of steps",
     .help = "steps run after a step fails for good",
     .schema = "{\"$ref\": \"#/$defs/steps\"}"},
    {.name = "concurrency_key",
     .type = WR_ARG_STRING,
     .help = "template; runs with the same key execute one at a time"},
    {.name = "guard",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_NO_TEMPLATE,
     .fields = workflow_guard_fields,
     .help = "this workflow's own mass-change brake, instead of weir.yaml's guard.destructive"},
    {0},
};

/* Keys every step may have, whatever it does. */
static const struct wr_argspec step_common_keys[] = {
    {.name = "id",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "name for steps.ID",
     .schema = "{\"pattern\": \"^[A-Za-z_][A-Za-z0-9_]*$\"}"}, /* is_identifier */
    {.name = "name", .type = WR_ARG_STRING, .flags = WR_ARG_NO_TEMPLATE, .help = "a label"},
    {.name = "when", .type = WR_ARG_EXPR, .help = "Lua condition; false skips the step"},
    {.name = "retry",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_NO_TEMPLATE,
     .fields = retry_fields,
     .help = "retry policy"},
    {.name = "continue_on_error", .type = WR_ARG_BOOL, .help = "a failure does not stop the run"},
    {.name = "action", .type = WR_ARG_STRING, .help = "an action (see `weir help actions`)"},
    {0},
};

/* The keys of the step kinds that are not actions (an action's come from its descriptor). */
static const struct wr_argspec script_step_keys[] = {
    {.name = "script",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "a Lua mapping hook file"},
    {.name = "function",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "the hook's function; default map",
     .schema = "{\"pattern\": \"^[A-Za-z_][A-Za-z0-9_]*$\"}"}, /* is_identifier */
    {0},
};

static const struct wr_argspec wait_step_keys[] = {
    {.name = "wait",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .help = "a durable delay, e.g. 30d"},
    {0},
};

static const struct wr_argspec approval_fields[] = {
    {.name = "approvers",
     .type = WR_ARG_STRINGS,
     .flags = WR_ARG_REQUIRED,
     .help = "who may decide: addresses or names (templates), each gets their own link",
     .schema = "{\"minItems\": 1}"},
    {.name = "message",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "what is asked (a template), shown on the decision page"},
    {.name = "timeout",
     .type = WR_ARG_DURATION,
     .flags = WR_ARG_NO_TEMPLATE,
     .help = "how long a decision may take; then the step fails; default 3d"},
    {.name = "notify",
     .type = WR_ARG_LIST,
     .flags = WR_ARG_NO_TEMPLATE | WR_ARG_OWN_CHECK,
     .expect = "a list of steps",
     .schema = "{\"$ref\": \"#/$defs/steps\"}",
     .help = "steps run once the request is stored, with approval.message, approval.links[WHO], "
             "approval.url (one approver), approval.approvers and approval.expires_at in scope"},
    {0},
};

static const struct wr_argspec approval_step_keys[] = {
    {.name = "approval",
     .type = WR_ARG_OBJECT,
     .flags = WR_ARG_REQUIRED | WR_ARG_NO_TEMPLATE,
     .fields = approval_fields,
     .help = "asks people to approve, and waits: approved, the run goes on with "
             "steps.ID.decision, .by, .at; rejected or timed out, the step fails"},
    {0},
};

#define WR_APPROVAL_DEFAULT_TIMEOUT_MS (3LL * 24 * 3600 * 1000)

static const struct wr_argspec wait_until_step_keys[] = {
    {.name = "wait_until",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED,
     .help = "an ISO-8601 time to wait for"},
    {0},
};

const struct wr_argspec *wr_workflow_spec(void)
{
    return workflow_keys;
}

const struct wr_argspec *wr_workflow_step_spec(void)
{
    return step_common_keys;
}

const struct wr_argspec *wr_workflow_step_kind_spec(const char *kind)
{
    return strcmp(kind, "script") == 0       ? script_step_keys
           : strcmp(kind, "wait") == 0       ? wait_step_keys
           : strcmp(kind, "wait_until") == 0 ? wait_until_step_keys
           : strcmp(kind, "approval") == 0   ? approval_step_keys
                                             : NULL;
}

/* The keys that decide what a step is, in the order they are reported. */
static const char *const step_kind_keys[] = {"action",     "script",   "wait",
                                             "wait_until", "approval", NULL};

const char *const *wr_workflow_step_kinds(void)
{
    return step_kind_keys;
}

/* }====== */

/* {====== checking ====== */

struct loader {
    struct wr_check c;
    struct json_object *ids; /* step id -> first path, to find duplicates */
    bool in_notify;          /* checking an approval's notify: steps */
};

static void check_steps(struct loader *ld, struct json_object *steps, const char *key,
                        bool required);

static const char **spec_names(const struct wr_argspec *spec)
{
    size_t n = 0;
    for (const struct wr_argspec *a = spec; a->name; a++) {
        n++;
    }
    const char **names = wr_xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++) {
        names[i] = spec[i].name;
    }
    return names;
}

static bool is_identifier(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_')) {
        return false;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_') {
            return false;
        }
    }
    return true;
}

static void check_retry_order(struct wr_check *c, struct json_object *retry, const char *path)
{
    struct json_object *vi = NULL, *vm = NULL;
    int64_t initial, max;
    char err[WR_ERR_MAX];
    if (!json_object_object_get_ex(retry, "initial", &vi) ||
        !json_object_object_get_ex(retry, "max", &vm) ||
        !json_object_is_type(vi, json_type_string) || !json_object_is_type(vm, json_type_string)) {
        return;
    }
    if (wr_duration_parse(json_object_get_string(vi), &initial, err, sizeof(err)) == 0 &&
        wr_duration_parse(json_object_get_string(vm), &max, err, sizeof(err)) == 0 &&
        initial > max) {
        char *p = wr_path_key(path, "initial");
        wr_check_error(c, p, false, "initial backoff %s is longer than max %s",
                       json_object_get_string(vi), json_object_get_string(vm));
        free(p);
    }
}

/*
 * Is the file at full (which exists) inside base_dir, once both are resolved (realpath: no
 * "..", no symbolic links)? Sets *real and *base to the resolved paths (owned, NULL when
 * they cannot be resolved, which counts as outside).
 */
static bool script_inside(const char *base_dir, const char *full, char **real, char **base)
{
    *real = realpath(full, NULL);
    *base = realpath(base_dir && *base_dir ? base_dir : ".", NULL);
    if (!*real || !*base) {
        return false;
    }
    size_t n = strlen(*base);
    if (n == 1 && (*base)[0] == '/') {
        return true; /* weir.yaml at the root of the file system: everything is below it */
    }
    return strncmp(*real, *base, n) == 0 && (*real)[n] == '/';
}

/* Loads a hook script into the workflow's sandbox: syntax, top level and function. */
static void check_script(struct loader *ld, struct json_object *step, const char *path)
{
    struct wr_check *c = &ld->c;
    struct json_object *v = NULL, *fn = NULL;
    struct stat st;
    char err[WR_ERR_MAX];

    json_object_object_get_ex(step, "script", &v);
    const char *rel = json_object_get_string(v);
    if (!json_object_is_type(v, json_type_string) || !*rel) {
        return; /* the table check reports the type */
    }
    const char *function = "map";
    if (json_object_object_get_ex(step, "function", &fn)) {
        if (!json_object_is_type(fn, json_type_string) ||
            !is_identifier(json_object_get_string(fn))) {
            return; /* reported as a bad function name */
        }
        function = json_object_get_string(fn);
    }
    char *full = wr_path_join(c->base_dir, rel);
    char *real = NULL, *base = NULL;
    if (stat(full, &st) == 0 && !S_ISREG(st.st_mode)) {
        wr_check_error(c, path, false, "script '%s' is %s, not a regular file", full,
                       wr_file_kind(st.st_mode));
    } else if (stat(full, &st) != 0) {
        if (strcmp(rel, full) == 0) {
            wr_check_error(c, path, false, "script '%s' not found", rel);
        } else {
            wr_check_error(c, path, false, "script '%s' not found (looked at %s)", rel, full);
        }
    } else if (!script_inside(c->base_dir, full, &real, &base)) {
        /* Never loaded, so nothing of it (a Lua syntax error quotes the text) is shown. */
        wr_check_error(c, path, false,
                       "script '%s' is outside '%s' (the directory of weir.yaml, or the current "
                       "one without it): scripts must live there or below, and a symbolic link "
                       "counts where it leads",
                       rel, c->base_dir && *c->base_dir ? c->base_dir : ".");
    } else if (wr_lua_load_hook(c->lua, full, function, err, sizeof(err)) < 0) {
        wr_check_error(c, path, false, "%s", err);
    }
    free(real);
    free(base);
    free(full);
}

static void check_step(struct loader *ld, struct json_object *step, const char *path)
{
    struct wr_check *c = &ld->c;
    const char *found[4];
    size_t nfound = 0;

    if (!json_object_is_type(step, json_type_object)) {
        wr_check_error(c, path, false, "a step must be a mapping, got %s", wr_json_type_name(step));
        return;
    }
    for (size_t i = 0; step_kind_keys[i]; i++) {
        if (json_object_object_get_ex(step, step_kind_keys[i], NULL)) {
            found[nfound++] = step_kind_keys[i];
        }
    }
    if (nfound == 0) {
        /* A misspelt kind ("acton:") is the likely cause: say so at that key. */
        json_object_object_foreach(step, key, val)
        {
            (void)val;
            const char *sug = wr_suggest(key, step_kind_keys);
            if (sug) {
                char *p = wr_path_key(path, key);
                wr_check_error(c, p, true,
                               "unknown key '%s' (did you mean '%s'?): a step needs one of "
                               "'action', 'script', 'wait', 'wait_until' or 'approval'",
                               key, sug);
                free(p);
                return;
            }
        }
        wr_check_error(c, path, false,
                       "a step needs one of 'action', 'script', 'wait', 'wait_until' or "
                       "'approval'");
        return;
    }
    if (nfound > 1) {
        char *p = wr_path_key(path, found[1]);
        wr_check_error(c, p, true,
                       "a step has one of 'action', 'script', 'wait', 'wait_until' or "
                       "'approval', not both '%s' and '%s'",
                       found[0], found[1]);
        free(p);
        return;
    }

    /*
     * The kind's own keys (an action's arguments, or script/function, or wait) are checked
     * against its table; the common step keys are known there too, so a typo in either is
     * reported once, with the closest name from both.
     */
    struct json_object *v = NULL;
    const struct wr_argspec *kind_spec = wr_workflow_step_kind_spec(found[0]);
    const struct wr_action *act = NULL;
    char *what = wr_xasprintf("a '%s' step", found[0]);
    if (!kind_spec) {
        json_object_object_get_ex(step, "action", &v);
        char *ap = wr_path_key(path, "action");
        if (!json_object_is_type(v, json_type_string)) {
            wr_check_error(c, ap, false, "expected an action name, got %s", wr_json_type_name(v));
        } else if (!(act = wr_action_find(json_object_get_string(v)))) {
            const char *name = json_object_get_string(v);
            const char *sug = wr_suggest(name, wr_action_names());
            if (sug) {
                wr_check_error(c, ap, false, "unknown action '%s' (did you mean '%s'?)", name, sug);
            } else {
                wr_check_error(c, ap, false, "unknown action '%s' (see `weir help actions`)", name);
            }
        }
        free(ap);
        if (!act) {
            free(what);
            return;
        }
        kind_spec = act->args;
        free(what);
        what = wr_xstrdup(act->name);
    }
    const char **common = spec_names(step_common_keys);
    wr_argspec_check(c, kind_spec, step, path, what, common);
    free(common);
    free(what);
    for (const struct wr_argspec *a = step_common_keys; a->name; a++) {
        if (strcmp(a->name, "action") != 0 && json_object_object_get_ex(step, a->name, &v)) {
            char *kp = wr_path_key(path, a->name);
            wr_argspec_check_value(c, a, v, kp);
            free(kp);
        }
    }
    if (act && act->validate) {
        act->validate(c, step, path);
    }
    if (kind_spec == script_step_keys) {
        char *sp = wr_path_key(path, "script");
        check_script(ld, step, sp);
        free(sp);
    }
    if (kind_spec == script_step_keys && json_object_object_get_ex(step, "function", &v) &&
        json_object_is_type(v, json_type_string) && !is_identifier(json_object_get_string(v))) {
        char *fp = wr_path_key(path, "function");
        wr_check_error(c, fp, false, "'%s' is not a Lua function name", json_object_get_string(v));
        free(fp);
    }
    if (kind_spec == wait_step_keys && json_object_object_get_ex(step, "wait", &v) &&
        json_object_is_type(v, json_type_string)) {
        int64_t ms = 0;
        char err[WR_ERR_MAX];
        if (wr_duration_parse(json_object_get_string(v), &ms, err, sizeof(err)) == 0 && ms <= 0) {
            char *wp = wr_path_key(path, "wait");
            wr_check_error(c, wp, false, "must be longer than 0");
            free(wp);
        }
    }

    if (kind_spec == approval_step_keys && json_object_object_get_ex(step, "approval", &v) &&
        json_object_is_type(v, json_type_object)) {
        struct json_object *n = NULL, *t = NULL;
        char *ap = wr_path_key(path, "approval");
        if (ld->in_notify) {
            wr_check_error(c, ap, false, "an approval's notify: steps cannot ask for an approval");
        }
        if (json_object_object_get_ex(v, "timeout", &t) &&
            json_object_is_type(t, json_type_string)) {
            int64_t ms = 0;
            char err[WR_ERR_MAX];
            if (wr_duration_parse(json_object_get_string(t), &ms, err, sizeof(err)) == 0 &&
                ms < 1000) {
                char *tp = wr_path_key(ap, "timeout");
                wr_check_error(c, tp, false, "must be at least 1s");
                free(tp);
            }
        }
        if (json_object_object_get_ex(v, "approvers", &t) &&
            json_object_is_type(t, json_type_array) && json_object_array_length(t) == 0) {
            char *tp = wr_path_key(ap, "approvers");
            wr_check_error(c, tp, false, "names nobody: give at least one approver");
            free(tp);
        }
        if (json_object_object_get_ex(v, "notify", &n) && !ld->in_notify) {
            char *np = wr_path_key(ap, "notify");
            ld->in_notify = true;
            check_steps(ld, n, np, false);
            ld->in_notify = false;
            free(np);
        }
        free(ap);
    }
    if (json_object_object_get_ex(step, "retry", &v) && json_object_is_type(v, json_type_object)) {
        char *rp = wr_path_key(path, "retry");
        check_retry_order(c, v, rp);
        free(rp);
    }
    if (json_object_object_get_ex(step, "id", &v) && json_object_is_type(v, json_type_string)) {
        const char *id = json_object_get_string(v);
        char *ip = wr_path_key(path, "id");
        struct json_object *first = NULL;
        if (!is_identifier(id)) {
            wr_check_error(c, ip, false,
                           "'%s' is not a valid step id (letters, digits and _, not starting "
                           "with a digit, so that steps.%s works in expressions)",
                           id, id);
        } else if (json_object_object_get_ex(ld->ids, id, &first)) {
            wr_check_error(c, ip, false, "duplicate step id '%s' (also at %s)", id,
                           json_object_get_string(first));
        } else {
            json_object_object_add(ld->ids, id, json_object_new_string(path));
        }
        free(ip);
    }
}

static void check_steps(struct loader *ld, struct json_object *steps, const char *key,
                        bool required)
{
    struct wr_check *c = &ld->c;
    if (!steps) {
        return;
    }
    if (!json_object_is_type(steps, json_type_array)) {
        return; /* the table check reported the type */
    }
    if (json_object_array_length(steps) == 0) {
        wr_check_error(c, key, false, "%s",
                       required ? "a workflow needs at least one step"
                                : "is empty; leave it out instead");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(steps); i++) {
        char *p = wr_path_index(key, i);
        check_step(ld, json_object_array_get_idx(steps, i), p);
        free(p);
    }
}

static void check_trigger(struct loader *ld, struct json_object *trig)
{
    struct wr_check *c = &ld->c;
    if (!json_object_is_type(trig, json_type_object)) {
        return; /* the table check reported it */
    }
    int n = json_object_object_length(trig);
    if (n > 1) {
        /* Point at the second kind: the first one is presumably the intended trigger. */
        int i = 0;
        json_object_object_foreach(trig, second, unused)
        {
            (void)unused;
            if (i++ == 1) {
                char *p = wr_path_key("trigger", second);
                wr_check_error(c, p, true,
                               "a trigger holds exactly one kind; write one workflow per trigger");
                free(p);
            }
        }
        return;
    }
    if (n == 0) {
        wr_check_error(c, "trigger", false, "needs one trigger kind: %s", wr_trigger_names_text());
        return;
    }
    json_object_object_foreach(trig, kind, args)
    {
        char *p = wr_path_key("trigger", kind);
        const struct wr_trigger_kind *k = wr_trigger_find(kind);
        if (!k) {
            const char *sug = wr_suggest(kind, wr_trigger_names());
            if (sug) {
                wr_check_error(c, p, true, "unknown trigger '%s' (did you mean '%s'?)", kind, sug);
            } else {
                wr_check_error(c, p, true, "unknown trigger '%s' (expected %s)", kind,
                               wr_trigger_names_text());
            }
        } else {
            char *what = wr_xasprintf("the %s trigger", kind);
            int before = c->errors;
            wr_argspec_check(c, k->args, args, p, what, NULL);
            if (c->errors == before && k->validate) {
                k->validate(c, args, p);
            }
            free(what);
        }
        free(p);
    }
}

static void check_name(struct wr_check *c, struct json_object *v)
{
    if (!json_object_is_type(v, json_type_string)) {
        return;
    }
    const char *s = json_object_get_string(v);
    bool ok = *s && strlen(s) <= 64;
    for (const char *p = s; ok && *p; p++) {
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
    }
    if (!ok) {
        wr_check_error(c, "name", false,
                       "'%s' is not a valid workflow name (1-64 of a-z, 0-9 and '-')", s);
    }
}

static void check_document(struct loader *ld, struct json_object *root)
{
    struct wr_check *c = &ld->c;
    struct json_object *v = NULL;

    if (!json_object_is_type(root, json_type_object)) {
        wr_check_error(c, "", false,
                       "a workflow file holds a mapping (name, trigger, steps), "
                       "got %s",
                       wr_json_type_name(root));
        return;
    }
    wr_argspec_check(c, workflow_keys, root, "", "a workflow", NULL);
    if (json_object_object_get_ex(root, "name", &v)) {
        check_name(c, v);
    }
    if (json_object_object_get_ex(root, "trigger", &v)) {
        check_trigger(ld, v);
    }
    if (json_object_object_get_ex(root, "retry", &v) && json_object_is_type(v, json_type_object)) {
        check_retry_order(c, v, "retry");
    }
    struct json_object *g = NULL;
    if (json_object_object_get_ex(root, "guard", &v) && json_object_is_type(v, json_type_object) &&
        json_object_object_get_ex(v, "destructive", &g)) {
        wr_guard_check(c, g, "guard.destructive");
    }
    v = NULL;
    json_object_object_get_ex(root, "steps", &v);
    check_steps(ld, v, "steps", true);
    v = NULL;
    json_object_object_get_ex(root, "on_error", &v);
    check_steps(ld, v, "on_error", false);
}

void wr_guard_check(struct wr_check *c, struct json_object *destructive, const char *path)
{
    struct json_object *v = NULL;
    if (!json_object_is_type(destructive, json_type_object)) {
        return; /* the table reported the type */
    }
    if (json_object_object_get_ex(destructive, "percent", &v)) {
        char *pp = wr_path_key(path, "percent");
        double p = json_object_get_double(v);
        if ((!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) ||
            !(p > 0 && p <= 100)) {
            wr_check_error(c, pp, false,
                           "expected a number of percent, more than 0 and at most 100, got %s",
                           json_object_to_json_string(v));
        }
        free(pp);
    }
    if (!json_object_object_get_ex(destructive, "max", NULL) &&
        !json_object_object_get_ex(destructive, "percent", NULL)) {
        wr_check_error(c, path, false, "needs max, percent or both (the lower one wins)");
    }
    const char *w = NULL;
    int64_t ms = 0;
    char err[WR_ERR_MAX];
    if (json_object_object_get_ex(destructive, "window", &v) &&
        json_object_is_type(v, json_type_string) && (w = json_object_get_string(v)) &&
        wr_duration_parse(w, &ms, err, sizeof(err)) == 0 &&
        (ms <= 0 || ms > WR_GUARD_MAX_WINDOW_MS)) {
        char *wp = wr_path_key(path, "window");
        wr_check_error(c, wp, false, "must be longer than 0 and at most 30d");
        free(wp);
    }
}

struct wr_guard_limits wr_guard_limits_read(struct json_object *destructive)
{
    struct wr_guard_limits g = {.window_ms = WR_GUARD_DEFAULT_WINDOW_MS};
    struct json_object *v = NULL;
    char err[WR_ERR_MAX];
    if (!json_object_is_type(destructive, json_type_object)) {
        return g;
    }
    g.set = true;
    if (json_object_object_get_ex(destructive, "max", &v)) {
        g.max = json_object_get_int64(v);
    }
    if (json_object_object_get_ex(destructive, "percent", &v)) {
        g.percent = json_object_get_double(v);
    }
    int64_t ms;
    if (json_object_object_get_ex(destructive, "window", &v) &&
        wr_duration_parse(json_object_get_string(v), &ms, err, sizeof(err)) == 0) {
        g.window_ms = ms;
    }
    return g;
}

/* }====== */

/* {====== building the model (input already checked) ====== */

static const char *get_str(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return NULL;
}

static int64_t get_duration(struct json_object *obj, const char *key, int64_t dflt)
{
    const char *s = get_str(obj, key);
    int64_t ms;
    char err[WR_ERR_MAX];
    return s && wr_duration_parse(s, &ms, err, sizeof(err)) == 0 ? ms : dflt;
}

static struct wr_retry build_retry(struct json_object *obj, struct wr_retry base)
{
    struct json_object *v = NULL;
    if (!obj) {
        return base;
    }
    if (json_object_object_get_ex(obj, "attempts", &v)) {
        base.attempts = (int)json_object_get_int64(v);
    }
    base.initial_ms = get_duration(obj, "initial", base.initial_ms);
    base.max_ms = get_duration(obj, "max", base.max_ms);
    base.throttle_limit_ms = get_duration(obj, "throttle_limit", base.throttle_limit_ms);
    return base;
}

/* Fills s from the step mapping obj at path (a step of the file, not an approval). */
static void build_one(struct wr_workflow *wf, struct json_object *obj, const char *path,
                      const char *base_dir, struct wr_step *s)
{
    struct json_object *v = NULL;
    s->path = wr_xstrdup(path);
    s->pos = wr_srcdoc_pos(wf->doc, s->path, false);
    s->approval = WR_NO_APPROVAL;
    s->id = get_str(obj, "id");
    s->name = get_str(obj, "name");
    s->when = get_str(obj, "when");
    s->continue_on_error =
        json_object_object_get_ex(obj, "continue_on_error", &v) && json_object_get_boolean(v);
    v = NULL;
    json_object_object_get_ex(obj, "retry", &v);
    s->retry = build_retry(v, wf->retry);
    if (get_str(obj, "action")) {
        s->kind = WR_STEP_ACTION;
        s->action = wr_action_find(get_str(obj, "action"));
        s->args = obj;
    } else if (get_str(obj, "script")) {
        char err[WR_ERR_MAX];
        s->kind = WR_STEP_SCRIPT;
        s->script = wr_path_join(base_dir, get_str(obj, "script"));
        s->function = get_str(obj, "function") ? get_str(obj, "function") : "map";
        /* Already loaded by the check: this is a lookup of the same path and function. */
        s->hook = wr_lua_load_hook(wf->lua, s->script, s->function, err, sizeof(err));
    } else {
        s->kind = WR_STEP_WAIT;
        s->wait_ms = get_duration(obj, "wait", 0);
        s->wait_until = get_str(obj, "wait_until");
    }
}

/* The notify: steps of an approval step (NULL when none). */
static struct json_object *approval_notify(struct json_object *obj)
{
    struct json_object *a = NULL, *n = NULL;
    if (json_object_object_get_ex(obj, "approval", &a) &&
        json_object_object_get_ex(a, "notify", &n) && json_object_is_type(n, json_type_array)) {
        return n;
    }
    return NULL;
}

static void build_steps(struct wr_workflow *wf, struct json_object *arr, const char *key,
                        const char *base_dir, struct wr_step **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!arr) {
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        struct json_object *obj = json_object_array_get_idx(arr, i), *nt = approval_notify(obj);
        bool approval = json_object_object_get_ex(obj, "approval", NULL);
        total += approval ? 2 + (nt ? json_object_array_length(nt) : 0) : 1;
    }
    *out = wr_xcalloc(total, sizeof(**out));
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        struct json_object *obj = json_object_array_get_idx(arr, i), *a = NULL, *v = NULL;
        char *path = wr_path_index(key, i);
        if (!json_object_object_get_ex(obj, "approval", &a)) {
            build_one(wf, obj, path, base_dir, &(*out)[(*n)++]);
            free(path);
            continue;
        }
        /* The request, the notify steps, the wait: see enum wr_step_kind. */
        size_t req = *n;
        struct wr_step *s = &(*out)[(*n)++];
        s->kind = WR_STEP_APPROVAL;
        s->path = wr_xstrdup(path);
        s->pos = wr_srcdoc_pos(wf->doc, s->path, false);
        s->name = get_str(obj, "name");
        s->when = get_str(obj, "when");
        s->approval_args = a;
        s->timeout_ms = get_duration(a, "timeout", WR_APPROVAL_DEFAULT_TIMEOUT_MS);
        s->approval = req;
        v = NULL;
        json_object_object_get_ex(obj, "retry", &v);
        s->retry = build_retry(v, wf->retry);
        struct json_object *nt = approval_notify(obj);
        char *ap = wr_path_key(path, "approval"), *np = wr_path_key(ap, "notify");
        for (size_t j = 0; nt && j < json_object_array_length(nt); j++) {
            char *sp = wr_path_index(np, j);
            struct wr_step *ns = &(*out)[(*n)++];
            build_one(wf, json_object_array_get_idx(nt, j), sp, base_dir, ns);
            ns->approval = req;
            free(sp);
        }
        free(np);
        free(ap);
        struct wr_step *w = &(*out)[(*n)++];
        w->kind = WR_STEP_APPROVAL_WAIT;
        w->path = wr_xstrdup(path);
        w->pos = (*out)[req].pos;
        w->id = get_str(obj, "id");
        w->name = get_str(obj, "name");
        w->approval = req;
        w->retry = (*out)[req].retry;
        w->continue_on_error =
            json_object_object_get_ex(obj, "continue_on_error", &v) && json_object_get_boolean(v);
        (*out)[req].continue_on_error = w->continue_on_error;
        free(path);
    }
}

static void hash_hex(const char *buf, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < mdlen && i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    out[64] = '\0';
}

/* }====== */

int wr_workflow_parse(const char *file, const char *buf, size_t len, const char *base_dir,
                      const char *const *env_allow, struct wr_workflow **out, struct wr_diags *d)
{
    struct wr_srcdoc *doc = NULL;
    struct wr_workflow *wf = NULL;
    struct loader ld = {0};
    struct json_object *root, *v = NULL;
    struct wr_lua *lua = NULL;

    *out = NULL;
    if (wr_srcdoc_parse(file, buf, len, wr_str_has_suffix(file, ".json"), &doc, d) != 0) {
        return -1;
    }
    lua = wr_lua_new(NULL, env_allow);
    if (!lua) {
        wr_diags_add(d, file, 0, 0, NULL, "cannot create a Lua state (out of memory)");
        wr_srcdoc_free(doc);
        return -1;
    }
    ld.c.doc = doc;
    ld.c.d = d;
    ld.c.lua = lua;
    ld.c.base_dir = base_dir;
    ld.ids = json_object_new_object();
    root = doc->root;
    size_t first_diag = d->count;
    check_document(&ld, root);
    wr_diags_sort_from(d, first_diag);
    json_object_put(ld.ids);
    if (ld.c.errors > 0) {
        wr_srcdoc_free(doc);
        wr_lua_free(lua);
        return -1;
    }

    wf = wr_xcalloc(1, sizeof(*wf));
    wf->doc = doc;
    wf->lua = lua;
    wf->file = wr_xstrdup(file);
    hash_hex(buf, len, wf->hash);
    wf->name = get_str(root, "name");
    wf->description = get_str(root, "description");
    wf->enabled = !json_object_object_get_ex(root, "enabled", &v) || json_object_get_boolean(v);
    json_object_object_get_ex(root, "trigger", &v);
    json_object_object_foreach(v, kind, args)
    {
        wf->trigger = wr_trigger_find(kind);
        wf->trigger_args = args;
    }
    wf->when = get_str(root, "when");
    wf->concurrency_key = get_str(root, "concurrency_key");
    v = NULL;
    json_object_object_get_ex(root, "vars", &v);
    wf->vars = v;
    struct wr_retry dflt = {WR_RETRY_DEFAULT_ATTEMPTS, WR_RETRY_DEFAULT_INITIAL_MS,
                            WR_RETRY_DEFAULT_MAX_MS, WR_RETRY_DEFAULT_THROTTLE_MS};
    v = NULL;
    json_object_object_get_ex(root, "retry", &v);
    wf->retry = build_retry(v, dflt);
    v = NULL;
    struct json_object *gd = NULL;
    if (json_object_object_get_ex(root, "guard", &v)) {
        json_object_object_get_ex(v, "destructive", &gd);
    }
    wf->guard = wr_guard_limits_read(gd);
    v = NULL;
    json_object_object_get_ex(root, "steps", &v);
    build_steps(wf, v, "steps", base_dir, &wf->steps, &wf->nsteps);
    v = NULL;
    json_object_object_get_ex(root, "on_error", &v);
    build_steps(wf, v, "on_error", base_dir, &wf->on_error, &wf->non_error);
    *out = wf;
    return 0;
}

int wr_workflow_from_steps(const char *name, struct wr_srcdoc *doc, struct json_object *steps,
                           const char *path, const char *base_dir, const char *const *env_allow,
                           struct wr_workflow **out, struct wr_diags *d)
{
    struct loader ld = {0};
    *out = NULL;
    struct wr_lua *lua = wr_lua_new(NULL, env_allow);
    if (!lua) {
        wr_diags_add(d, doc->file, 0, 0, NULL, "cannot create a Lua state (out of memory)");
        return -1;
    }
    ld.c.doc = doc;
    ld.c.d = d;
    ld.c.lua = lua;
    ld.c.base_dir = base_dir;
    ld.ids = json_object_new_object();
    size_t first_diag = d->count;
    check_steps(&ld, steps, path, true);
    wr_diags_sort_from(d, first_diag);
    json_object_put(ld.ids);
    if (ld.c.errors > 0) {
        wr_lua_free(lua);
        return -1;
    }
    struct wr_workflow *wf = wr_xcalloc(1, sizeof(*wf));
    wf->doc = doc;
    wf->doc_borrowed = true;
    wf->lua = lua;
    wf->file = wr_xstrdup(doc->file);
    wf->name = name;
    wf->enabled = true;
    const char *text = json_object_to_json_string_ext(steps, JSON_C_TO_STRING_PLAIN);
    hash_hex(text, strlen(text), wf->hash);
    wf->retry = (struct wr_retry){WR_RETRY_DEFAULT_ATTEMPTS, WR_RETRY_DEFAULT_INITIAL_MS,
                                  WR_RETRY_DEFAULT_MAX_MS, WR_RETRY_DEFAULT_THROTTLE_MS};
    build_steps(wf, steps, path, base_dir, &wf->steps, &wf->nsteps);
    *out = wf;
    return 0;
}

int wr_workflow_load(const char *file, const char *base_dir, const char *const *env_allow,
                     struct wr_workflow **out, struct wr_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = wr_read_file(file, WR_SRCDOC_MAX_BYTES, &buf, &len);

    *out = NULL;
    if (rc != 0) {
        if (rc == -EFBIG) {
            wr_diags_add(d, file, 0, 0, NULL, "file is larger than %d bytes", WR_SRCDOC_MAX_BYTES);
        } else {
            char why[WR_ERR_MAX];
            wr_diags_add(d, file, 0, 0, NULL, "cannot read: %s",
                         wr_read_file_error(file, rc, why, sizeof(why)));
        }
        return -1;
    }
    rc = wr_workflow_parse(file, buf, len, base_dir, env_allow, out, d);
    free(buf);
    return rc;
}

static void free_steps(struct wr_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)steps[i].path);
        free(steps[i].script);
    }
    free(steps);
}

void wr_workflow_free(struct wr_workflow *wf)
{
    if (!wf) {
        return;
    }
    free_steps(wf->steps, wf->nsteps);
    free_steps(wf->on_error, wf->non_error);
    if (!wf->doc_borrowed) {
        wr_srcdoc_free(wf->doc);
    }
    wr_lua_free(wf->lua);
    free(wf->file);
    free(wf);
}

/* {====== canonical JSON of the model ====== */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Deep copy with object keys in sorted order, so key order in the source does not matter. */
static struct json_object *canonical(struct json_object *v, const char *const *drop)
{
    if (json_object_is_type(v, json_type_array)) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object_array_add(a, canonical(json_object_array_get_idx(v, i), NULL));
        }
        return a;
    }
    if (json_object_is_type(v, json_type_double)) {
        /* by value: 1e3 and 1000.0 keep their source text, but they are one number */
        return json_object_new_double(json_object_get_double(v));
    }
    if (!json_object_is_type(v, json_type_object)) {
        return json_object_get(v);
    }
    size_t n = (size_t)json_object_object_length(v), k = 0;
    const char **keys = wr_xcalloc(n + 1, sizeof(*keys));
    json_object_object_foreach(v, key, val)
    {
        (void)val;
        bool skip = false;
        for (size_t i = 0; drop && drop[i]; i++) {
            skip = skip || strcmp(drop[i], key) == 0;
        }
        if (!skip) {
            keys[k++] = key;
        }
    }
    qsort(keys, k, sizeof(*keys), cmp_str);
    struct json_object *o = json_object_new_object();
    for (size_t i = 0; i < k; i++) {
        struct json_object *child = NULL;
        json_object_object_get_ex(v, keys[i], &child);
        json_object_object_add(o, keys[i], canonical(child, NULL));
    }
    free(keys);
    return o;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static struct json_object *retry_json(struct wr_retry r)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "attempts", json_object_new_int(r.attempts));
    json_object_object_add(o, "initial_ms", json_object_new_int64(r.initial_ms));
    json_object_object_add(o, "max_ms", json_object_new_int64(r.max_ms));
    json_object_object_add(o, "throttle_limit_ms", json_object_new_int64(r.throttle_limit_ms));
    return o;
}

static struct json_object *steps_json(const struct wr_step *steps, size_t n)
{
    static const char *const step_keys[] = {"id",     "name", "when", "retry", "continue_on_error",
                                            "action", NULL};
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const struct wr_step *s = &steps[i];
        struct json_object *o = json_object_new_object();
        static const char *const kinds[] = {"action", "script", "wait", "approval",
                                            "approval_wait"};
        add_str(o, "kind", kinds[s->kind]);
        add_str(o, "id", s->id);
        add_str(o, "name", s->name);
        add_str(o, "when", s->when);
        json_object_object_add(o, "retry", retry_json(s->retry));
        json_object_object_add(o, "continue_on_error",
                               json_object_new_boolean(s->continue_on_error));
        if (s->kind == WR_STEP_ACTION) {
            add_str(o, "action", s->action->name);
            json_object_object_add(o, "args", canonical(s->args, step_keys));
        } else if (s->kind == WR_STEP_SCRIPT) {
            add_str(o, "script", s->script);
            add_str(o, "function", s->function);
        } else if (s->kind == WR_STEP_APPROVAL) {
            json_object_object_add(o, "approval", canonical(s->approval_args, NULL));
            json_object_object_add(o, "timeout_ms", json_object_new_int64(s->timeout_ms));
        } else if (s->kind == WR_STEP_APPROVAL_WAIT) {
            json_object_object_add(o, "approval", json_object_new_int64((int64_t)s->approval));
        } else {
            json_object_object_add(o, "wait_ms", json_object_new_int64(s->wait_ms));
            add_str(o, "wait_until", s->wait_until);
        }
        json_object_array_add(a, o);
    }
    return a;
}

char *wr_workflow_to_json(const struct wr_workflow *wf)
{
    struct json_object *o = json_object_new_object();
    add_str(o, "name", wf->name);
    add_str(o, "description", wf->description);
    json_object_object_add(o, "enabled", json_object_new_boolean(wf->enabled));
    struct json_object *t = json_object_new_object();
    add_str(t, "kind", wf->trigger->name);
    json_object_object_add(t, "args", canonical(wf->trigger_args, NULL));
    json_object_object_add(o, "trigger", t);
    add_str(o, "when", wf->when);
    add_str(o, "concurrency_key", wf->concurrency_key);
    json_object_object_add(o, "vars", wf->vars ? canonical(wf->vars, NULL) : NULL);
    json_object_object_add(o, "retry", retry_json(wf->retry));
    json_object_object_add(o, "steps", steps_json(wf->steps, wf->nsteps));
    json_object_object_add(o, "on_error", steps_json(wf->on_error, wf->non_error));
    char *s = wr_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* }====== */
