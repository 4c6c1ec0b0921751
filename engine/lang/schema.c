/*
 * schema — JSON Schema from the argument tables; see schema.h.
 *
 * One walk turns a table into a mapping's schema (table_schema) and an entry into its value's
 * (value_schema); the step, trigger and action schemas are definitions ($defs) referred to by
 * name, built when something first refers to them, so each document holds only what it uses.
 */
#include "engine/lang/schema.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "triggers/trigger.h"

/* {====== patterns ======
 *
 * The syntax the loader's parsers accept, as ECMA-262 regular expressions (JSON Schema's
 * dialect; Python's re reads these alike). They may be laxer than the parser, never stricter:
 * a duration's whole milliseconds, a port's 65535 and a cron field's ranges are the loader's.
 */

/* engine/base/duration.h: NUMBER UNIT segments, largest unit first, each at most once. */
#define DURATION_SEGMENT(u) "([0-9]+(\\.[0-9]+)?" u ")?"
static const char duration_re[] = "^(?=[0-9])" DURATION_SEGMENT("w") DURATION_SEGMENT("d")
    DURATION_SEGMENT("h") DURATION_SEGMENT("m") DURATION_SEGMENT("s") DURATION_SEGMENT("ms") "$";

/* wr_secret_ref_valid (argspec.c). */
static const char secret_re[] = "^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$";

/* engine/lang/cron.h: five fields or an @macro, surrounding blanks ignored. */
static const char cron_re[] = "^\\s*(@[A-Za-z]+|\\S+(\\s+\\S+){4})\\s*$";

/* listen_valid (argspec.c): HOST:PORT, an IPv6 host in brackets. */
static const char listen_re[] = "^(\\[.*\\]|[^\\[].*):[0-9]{1,5}$";

static const char url_re[] = "^https?://";

/* urlpath_problem (argspec.c): starts with /; printable ASCII without ?, # or \; no empty
   segment; no "." or ".." segment, also when its dots are written %2e. */
static const char urlpath_re[] = "^/(?!.*[?#\\\\])(?!.*//)(?!(.*/)?(\\.|%2[eE]){1,2}(/|$))[!-~]*$";

/* engine/base/size.h: digits and an optional unit. */
static const char size_re[] = "^[0-9]+(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$";

/* wr_template_has and wr_template_whole (engine/lua/template.h). */
static const char template_re[] = "\\{\\{";
static const char whole_template_re[] = "^\\s*\\{\\{((?!\\{\\{|\\}\\})[\\s\\S])*\\}\\}\\s*$";

/* A string that is not only blanks: the checker's "is empty" (WR_ARG_EMPTY_OK lifts it). */
static const char nonblank_re[] = "\\S";

/* }====== */

/* {====== building blocks ====== */

struct gen {
    bool templates; /* the table being walked may hold templates (a workflow's, not weir.yaml's) */
    char *err;
    size_t errlen;
    bool failed; /* err holds the first problem; the walk goes on harmlessly */
};

static void fail(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct gen *g, const char *fmt, ...)
{
    if (g->failed) {
        return;
    }
    g->failed = true;
    va_list ap;
    va_start(ap, fmt);
    if (g->err && g->errlen) {
        vsnprintf(g->err, g->errlen, fmt, ap);
    }
    va_end(ap);
}

static void put(struct json_object *o, const char *key, struct json_object *v)
{
    json_object_object_add(o, key, v);
}

static void put_str(struct json_object *o, const char *key, const char *s)
{
    json_object_object_add(o, key, json_object_new_string(s));
}

static struct json_object *typed(const char *type)
{
    struct json_object *o = json_object_new_object();
    put_str(o, "type", type);
    return o;
}

/* {"type": "string"}, with pattern when not NULL. */
static struct json_object *string_schema(const char *pattern)
{
    struct json_object *o = typed("string");
    if (pattern) {
        put_str(o, "pattern", pattern);
    }
    return o;
}

/* s with "description" first (readers of the file meet it before the rules); s is taken. */
static struct json_object *described(struct json_object *s, const char *description)
{
    if (!description) {
        return s;
    }
    struct json_object *o = json_object_new_object();
    put_str(o, "description", description);
    json_object_object_foreach(s, key, v)
    {
        put(o, key, json_object_get(v));
    }
    json_object_put(s);
    return o;
}

static struct json_object *ref(const char *def)
{
    struct json_object *o = json_object_new_object();
    char *r = wr_xasprintf("#/$defs/%s", def);
    put_str(o, "$ref", r);
    free(r);
    return o;
}

static struct json_object *string_list(const char *const *list)
{
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; list && list[i]; i++) {
        json_object_array_add(a, json_object_new_string(list[i]));
    }
    return a;
}

static struct json_object *required_one(const char *key)
{
    struct json_object *o = json_object_new_object();
    struct json_object *r = json_object_new_array();
    json_object_array_add(r, json_object_new_string(key));
    put(o, "required", r);
    return o;
}

/* Merges the keys of the JSON object text fragment into o (a key of the same name is replaced). */
static void merge_fragment(struct gen *g, struct json_object *o, const char *fragment,
                           const char *what, const char *name)
{
    struct json_object *f = NULL;
    struct wr_json_error je;
    if (wr_json_parse(fragment, strlen(fragment), NULL, &f, &je) != 0) {
        fail(g, "%s: the .schema of %s%s%s is not JSON: %s at line %d column %d", what,
             name ? "'" : "", name ? name : "the table", name ? "'" : "", je.msg, je.line, je.col);
        return;
    }
    if (!json_object_is_type(f, json_type_object)) {
        fail(g, "%s: the .schema of %s%s%s is not a JSON object", what, name ? "'" : "",
             name ? name : "the table", name ? "'" : "");
        json_object_put(f);
        return;
    }
    json_object_object_foreach(f, key, v)
    {
        json_object_object_add(o, key, json_object_get(v));
    }
    json_object_put(f);
}

/* }====== */

/* {====== tables and values ====== */

static struct json_object *table_schema(struct gen *g, const struct wr_argspec *spec,
                                        const char *what);

/* The schema of a value of entry a's type (before its fragment, templates and null). */
static struct json_object *type_schema(struct gen *g, const struct wr_argspec *a, bool tmpl,
                                       const char *what)
{
    struct json_object *s = NULL, *item = NULL;
    switch (a->type) {
    case WR_ARG_STRING:
        return string_schema(a->flags & WR_ARG_EMPTY_OK ? NULL : nonblank_re);
    case WR_ARG_STRINGS:
        if (a->choices) {
            /* Each element is checked as an enum, which takes a template as the flags say. */
            item = json_object_new_object();
            put(item, "enum", string_list(a->choices));
            if (tmpl) {
                struct json_object *alts = json_object_new_array();
                json_object_array_add(alts, item);
                json_object_array_add(alts, ref("template"));
                item = json_object_new_object();
                put(item, "anyOf", alts);
            }
        } else {
            item = typed("string");
        }
        s = typed("array");
        put(s, "items", item);
        return s;
    case WR_ARG_OBJECT:
        if (a->fields) {
            char *sub = wr_xasprintf("%s.%s", what, a->name);
            s = table_schema(g, a->fields, sub);
            free(sub);
            return s;
        }
        return typed("object");
    case WR_ARG_BOOL:
        return typed("boolean");
    case WR_ARG_INT:
        s = typed("integer");
        if (a->min != 0 || a->max != 0) {
            put(s, "minimum", json_object_new_int64(a->min));
            put(s, "maximum", json_object_new_int64(a->max));
        }
        return s;
    case WR_ARG_DURATION:
        return string_schema(duration_re);
    case WR_ARG_ENUM:
        s = json_object_new_object();
        put(s, "enum", string_list(a->choices));
        return s;
    case WR_ARG_ANY:
        return json_object_new_object();
    case WR_ARG_EXPR:
        s = string_schema(nonblank_re);
        put(s, "not", ref("template"));
        return s;
    case WR_ARG_SECRET:
        s = string_schema(secret_re);
        put(s, "not", ref("template"));
        return s;
    case WR_ARG_SECRETS: {
        struct json_object *one = string_schema(secret_re), *list = typed("array");
        put(one, "not", ref("template"));
        put(list, "minItems", json_object_new_int(1));
        put(list, "maxItems", json_object_new_int(WR_ARG_SECRETS_MAX));
        put(list, "items", json_object_get(one));
        struct json_object *alts = json_object_new_array();
        json_object_array_add(alts, one);
        json_object_array_add(alts, list);
        s = json_object_new_object();
        put(s, "anyOf", alts);
        return s;
    }
    case WR_ARG_CRON:
        return string_schema(cron_re);
    case WR_ARG_TZ:
        return string_schema(nonblank_re);
    case WR_ARG_LISTEN:
        return string_schema(listen_re);
    case WR_ARG_URL:
        return string_schema(url_re);
    case WR_ARG_URLPATH:
        return string_schema(urlpath_re);
    case WR_ARG_LIST:
        return typed("array");
    }
    return json_object_new_object();
}

/* Types whose strings would take a template where none is allowed, unless the schema says no. */
static bool template_would_fit(enum wr_argtype t)
{
    return t == WR_ARG_STRING || t == WR_ARG_CRON || t == WR_ARG_TZ || t == WR_ARG_LISTEN ||
           t == WR_ARG_URL || t == WR_ARG_URLPATH;
}

/* Types that take a template with text around it (a string comes out); the others take only a
   whole-value template (wr_argspec_check_value). */
static bool interpolates(enum wr_argtype t)
{
    return t == WR_ARG_STRING || t == WR_ARG_ENUM || t == WR_ARG_URL || t == WR_ARG_ANY ||
           t == WR_ARG_URLPATH;
}

/* The schema of the value of entry a of the table `what`. */
static struct json_object *value_schema(struct gen *g, const struct wr_argspec *a, const char *what)
{
    /* As wr_argspec_check_value decides: no template without Lua, where the flags refuse one,
       or in a secret or an expression. */
    bool tmpl = g->templates && !(a->flags & WR_ARG_NO_TEMPLATE) && a->type != WR_ARG_SECRET &&
                a->type != WR_ARG_SECRETS && a->type != WR_ARG_EXPR;
    struct json_object *s = type_schema(g, a, tmpl, what);

    if (!tmpl && template_would_fit(a->type)) {
        put(s, "not", ref("template"));
    }
    if (a->schema) {
        merge_fragment(g, s, a->schema, what, a->name);
    }

    /* A string, list or mapping that takes anything needs no template alternative. */
    bool takes_templates =
        !a->schema && (a->type == WR_ARG_STRING || a->type == WR_ARG_TZ || a->type == WR_ARG_ANY);
    struct json_object *alts = json_object_new_array();
    json_object_array_add(alts, s);
    if (a->flags & WR_ARG_NULL_OK) {
        json_object_array_add(alts, typed("null"));
    }
    if (tmpl && !takes_templates) {
        json_object_array_add(alts, ref(interpolates(a->type) ? "template" : "whole-template"));
    }
    if (json_object_array_length(alts) > 1) {
        s = json_object_new_object();
        put(s, "anyOf", alts);
    } else {
        json_object_get(s);
        json_object_put(alts);
    }
    return described(s, a->help);
}

/* Adds the entries of spec to props and their required names to req; returns the table's
   terminating entry (its .schema holds rules across keys). */
static const struct wr_argspec *add_table(struct gen *g, const struct wr_argspec *spec,
                                          const char *what, struct json_object *props,
                                          struct json_object *req)
{
    const struct wr_argspec *a = spec;
    for (; a->name; a++) {
        put(props, a->name, value_schema(g, a, what));
        if (a->flags & WR_ARG_REQUIRED) {
            json_object_array_add(req, json_object_new_string(a->name));
        }
    }
    return a;
}

/* A mapping with properties, required and no other keys, plus the rules of term. */
static struct json_object *mapping(struct gen *g, struct json_object *props,
                                   struct json_object *req, const struct wr_argspec *term,
                                   const char *what, const char *description)
{
    struct json_object *s = typed("object");
    put(s, "properties", props);
    if (json_object_array_length(req) > 0) {
        put(s, "required", req);
    } else {
        json_object_put(req);
    }
    put(s, "additionalProperties", json_object_new_boolean(0));
    if (term && term->schema) {
        merge_fragment(g, s, term->schema, what, NULL);
    }
    return described(s, description);
}

static struct json_object *table_schema(struct gen *g, const struct wr_argspec *spec,
                                        const char *what)
{
    struct json_object *props = json_object_new_object(), *req = json_object_new_array();
    const struct wr_argspec *term = add_table(g, spec, what, props, req);
    return mapping(g, props, req, term, what, NULL);
}

/* }====== */

/* {====== steps and triggers ====== */

/*
 * One kind of step: key is the kind ("action", "script", ...); for an action, act is it and
 * spec its arguments, else spec is the kind's table. The step's common keys are known too
 * (the loader checks the kind's table with them as its skip list).
 */
static struct json_object *step_kind_def(struct gen *g, const struct wr_action *act,
                                         const struct wr_argspec *spec, const char *what,
                                         const char *description)
{
    struct json_object *props = json_object_new_object(), *req = json_object_new_array();
    if (act) {
        struct json_object *name = json_object_new_object();
        put(name, "const", json_object_new_string(act->name));
        put_str(name, "description", act->summary);
        put(props, "action", name);
        json_object_array_add(req, json_object_new_string("action"));
    }
    const struct wr_argspec *term = add_table(g, spec, what, props, req);
    for (const struct wr_argspec *a = wr_workflow_step_spec(); a->name; a++) {
        /* An argument of the same name as a common key is the action's (checked as both). */
        if (strcmp(a->name, "action") != 0 && !json_object_object_get_ex(props, a->name, NULL)) {
            char *def = wr_xasprintf("step-key.%s", a->name);
            put(props, a->name, ref(def));
            free(def);
        }
    }
    return mapping(g, props, req, term, what, description);
}

/* Every step: exactly one kind, then that kind's keys. */
static struct json_object *step_def(struct gen *g)
{
    const char *const *kinds = wr_workflow_step_kinds();
    struct json_object *s = json_object_new_object();
    struct json_object *props = json_object_new_object();
    struct json_object *one_of = json_object_new_array(), *all_of = json_object_new_array();

    put_str(s, "description",
            "a step: exactly one of action (with the action's arguments), script, wait, "
            "wait_until or approval, and the keys every step takes");
    put_str(s, "type", "object");
    /* The kind keys and the common keys, so that an editor offers them in a new step. */
    for (size_t i = 0; kinds[i]; i++) {
        const struct wr_argspec *spec = wr_workflow_step_kind_spec(kinds[i]);
        if (spec) {
            put(props, kinds[i], value_schema(g, wr_argspec_find(spec, kinds[i]), "step"));
        } else {
            struct json_object *names = json_object_new_object();
            const struct wr_argspec *a = wr_argspec_find(wr_workflow_step_spec(), kinds[i]);
            if (a && a->help) {
                put_str(names, "description", a->help);
            }
            put(names, "enum", string_list(wr_action_names()));
            put(props, kinds[i], names);
        }
        json_object_array_add(one_of, required_one(kinds[i]));
    }
    for (const struct wr_argspec *a = wr_workflow_step_spec(); a->name; a++) {
        if (!json_object_object_get_ex(props, a->name, NULL)) {
            char *def = wr_xasprintf("step-key.%s", a->name);
            put(props, a->name, ref(def));
            free(def);
        }
    }
    put(s, "properties", props);
    put(s, "oneOf", one_of);

    /* Which keys a step may hold follows from its kind (and, for an action, its name). */
    for (const char *const *n = wr_action_names(); *n; n++) {
        struct json_object *rule = json_object_new_object(), *cond = required_one("action");
        struct json_object *cprops = json_object_new_object(), *name = json_object_new_object();
        put(name, "const", json_object_new_string(*n));
        put(cprops, "action", name);
        put(cond, "properties", cprops);
        put(rule, "if", cond);
        char *def = wr_xasprintf("action.%s", *n);
        put(rule, "then", ref(def));
        free(def);
        json_object_array_add(all_of, rule);
    }
    for (size_t i = 0; kinds[i]; i++) {
        if (wr_workflow_step_kind_spec(kinds[i])) {
            struct json_object *rule = json_object_new_object();
            put(rule, "if", required_one(kinds[i]));
            char *def = wr_xasprintf("step.%s", kinds[i]);
            put(rule, "then", ref(def));
            free(def);
            json_object_array_add(all_of, rule);
        }
    }
    put(s, "allOf", all_of);
    return s;
}

/* A workflow's trigger: one key, the kind, with its arguments. */
static struct json_object *trigger_def(struct gen *g)
{
    struct json_object *s = json_object_new_object(), *props = json_object_new_object();
    put_str(s, "description",
            "what starts the workflow: exactly one trigger kind with its arguments");
    put_str(s, "type", "object");
    for (const char *const *n = wr_trigger_names(); *n; n++) {
        const struct wr_trigger_kind *k = wr_trigger_find(*n);
        char *what = wr_xasprintf("the %s trigger", k->name);
        struct json_object *args = table_schema(g, k->args, what);
        free(what);
        put(props, k->name, described(args, k->summary));
    }
    put(s, "properties", props);
    put(s, "additionalProperties", json_object_new_boolean(0));
    put(s, "minProperties", json_object_new_int(1));
    put(s, "maxProperties", json_object_new_int(1));
    return s;
}

/* }====== */

/* {====== definitions and documents ====== */

/* The definition called name (owned), or NULL when there is none of that name. */
static struct json_object *build_def(struct gen *g, const char *name)
{
    struct json_object *s = NULL;
    bool saved = g->templates;
    g->templates = true; /* every definition is workflow material (guard.notify's steps too) */
    if (strcmp(name, "template") == 0) {
        s = described(string_schema(template_re),
                      "a template: {{ expression }} in a string, a Lua expression over event, "
                      "steps, vars and run (weir help templates)");
    } else if (strcmp(name, "whole-template") == 0) {
        s = described(string_schema(whole_template_re),
                      "a whole-value template, exactly {{ expression }}: the value keeps its "
                      "type (table, number, boolean); text around it would make a string");
    } else if (strcmp(name, "size") == 0) {
        struct json_object *alts = json_object_new_array(), *n = typed("integer");
        put(n, "minimum", json_object_new_int(0));
        json_object_array_add(alts, n);
        json_object_array_add(alts, string_schema(size_re));
        s = json_object_new_object();
        put_str(s, "description",
                "a number of bytes, or digits and a unit: B, KB, MB, GB, TB (powers of 1000), "
                "KiB, MiB, GiB, TiB (powers of 1024)");
        put(s, "anyOf", alts);
    } else if (strcmp(name, "guard-destructive") == 0) {
        /* weir.yaml's guard.destructive reads the workflow's table (engine/config.c). */
        s = value_schema(g, wr_argspec_find(wr_workflow_guard_spec(), "destructive"), "guard");
    } else if (strcmp(name, "steps") == 0) {
        s = described(typed("array"), "steps, run in order");
        put(s, "minItems", json_object_new_int(1));
        put(s, "items", ref("step"));
    } else if (strcmp(name, "step") == 0) {
        s = step_def(g);
    } else if (strcmp(name, "trigger") == 0) {
        s = trigger_def(g);
    } else if (strncmp(name, "action.", 7) == 0 && wr_action_find(name + 7)) {
        const struct wr_action *act = wr_action_find(name + 7);
        s = step_kind_def(g, act, act->args, act->name, act->summary);
    } else if (strncmp(name, "step-key.", 9) == 0 &&
               wr_argspec_find(wr_workflow_step_spec(), name + 9)) {
        /* A key every step takes, written once for all the kinds. */
        s = value_schema(g, wr_argspec_find(wr_workflow_step_spec(), name + 9), "step");
    } else if (strncmp(name, "step.", 5) == 0 && wr_workflow_step_kind_spec(name + 5)) {
        char *what = wr_xasprintf("a '%s' step", name + 5);
        s = step_kind_def(g, NULL, wr_workflow_step_kind_spec(name + 5), what, NULL);
        free(what);
    }
    g->templates = saved;
    return s;
}

/* Builds, into defs, every definition node refers to that defs lacks, and theirs in turn. */
static void resolve_refs(struct gen *g, struct json_object *node, struct json_object *defs)
{
    if (json_object_is_type(node, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(node); i++) {
            resolve_refs(g, json_object_array_get_idx(node, i), defs);
        }
        return;
    }
    if (!json_object_is_type(node, json_type_object)) {
        return;
    }
    json_object_object_foreach(node, key, v)
    {
        if (strcmp(key, "$ref") != 0) {
            resolve_refs(g, v, defs);
            continue;
        }
        const char *r = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string) || strncmp(r, "#/$defs/", 8) != 0) {
            fail(g, "a $ref must name one of the definitions in schema.h (#/$defs/NAME), got %s",
                 json_object_to_json_string(v));
            continue;
        }
        if (json_object_object_get_ex(defs, r + 8, NULL)) {
            continue;
        }
        struct json_object *d = build_def(g, r + 8);
        if (!d) {
            fail(g, "no definition '%s' (a $ref in a .schema fragment; schema.h lists them)",
                 r + 8);
            continue;
        }
        json_object_object_add(defs, r + 8, d);
        resolve_refs(g, d, defs);
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* defs with its keys sorted (owned; defs is released). */
static struct json_object *sorted(struct json_object *defs)
{
    size_t n = (size_t)json_object_object_length(defs), i = 0;
    const char **names = wr_xcalloc(n + 1, sizeof(*names));
    json_object_object_foreach(defs, key, unused)
    {
        (void)unused;
        names[i++] = key;
    }
    qsort(names, n, sizeof(*names), compare_names);
    struct json_object *out = json_object_new_object();
    for (i = 0; i < n; i++) {
        put(out, names[i], json_object_get(json_object_object_get(defs, names[i])));
    }
    free(names);
    json_object_put(defs);
    return out;
}

/* The document around body (taken): dialect, title, description, body's keys, $defs. */
static struct json_object *document(struct gen *g, const char *title, const char *description,
                                    const char *command, struct json_object *body)
{
    struct json_object *doc = json_object_new_object(), *defs = json_object_new_object();
    put_str(doc, "$schema", WR_SCHEMA_DIALECT);
    char *comment = wr_xasprintf("Generated by `%s` from weir's argument tables; do not edit: "
                                 "scripts/schema regenerates it.",
                                 command);
    put_str(doc, "$comment", comment);
    free(comment);
    put_str(doc, "title", title);
    put_str(doc, "description", description);
    json_object_object_foreach(body, key, v)
    {
        put(doc, key, json_object_get(v));
    }
    json_object_put(body);
    resolve_refs(g, doc, defs);
    if (json_object_object_length(defs) > 0) {
        put(doc, "$defs", sorted(defs));
    } else {
        json_object_put(defs);
    }
    if (g->failed) {
        json_object_put(doc);
        return NULL;
    }
    return doc;
}

struct json_object *wr_schema_workflow(char *err, size_t errlen)
{
    struct gen g = {.templates = true, .err = err, .errlen = errlen};
    return document(&g, "weir workflow",
                    "A weir workflow file (YAML or JSON, one workflow per file): its trigger, an "
                    "optional condition, and the steps run for each event that matches "
                    "(weir help workflow).",
                    "weir schema workflow", table_schema(&g, wr_workflow_spec(), "a workflow"));
}

struct json_object *wr_schema_config(const struct wr_argspec *config_spec, char *err, size_t errlen)
{
    struct gen g = {.templates = false, .err = err, .errlen = errlen};
    return document(&g, "weir.yaml",
                    "weir's configuration: listeners, the workflows directory, the journal, the "
                    "Microsoft Graph connection and the engine's limits (weir help config); "
                    "relative paths resolve against the file's directory.",
                    "weir schema config", table_schema(&g, config_spec, "weir.yaml"));
}

char *wr_schema_text(struct json_object *schema)
{
    const char *s = json_object_to_json_string_ext(
        schema, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    return wr_xasprintf("%s\n", s);
}

/* }====== */
