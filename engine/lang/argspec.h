/*
 * argspec — declarative tables of the keys a mapping may hold, and the checker that applies
 * them.
 *
 * Actions, triggers, the workflow file itself and weir.yaml each declare their keys once, as a
 * table of struct wr_argspec (name, type, flags, choices, help). One checker turns a table into
 * load-time errors (unknown key with a suggestion, missing required key, wrong type, bad enum
 * value, bad duration/cron/zone, expression syntax) and `weir help NAME` prints the same table.
 * The checker reads; it never changes the tree.
 */
#ifndef WR_ARGSPEC_H
#define WR_ARGSPEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "engine/base/diag.h"
#include "engine/base/srcdoc.h"

struct wr_lua;

enum wr_argtype {
    WR_ARG_STRING,   /* a string (numbers are not silently accepted) */
    WR_ARG_STRINGS,  /* a list of strings */
    WR_ARG_OBJECT,   /* a mapping; nested keys checked when .fields is set */
    WR_ARG_BOOL,     /* true or false */
    WR_ARG_INT,      /* an integer in [min, max] */
    WR_ARG_DURATION, /* "30s", "15m", "2h", "30d" */
    WR_ARG_ENUM,     /* one of .choices */
    WR_ARG_ANY,      /* any value; templates inside are still checked */
    WR_ARG_EXPR,     /* a Lua expression (not a template), compiled at load */
    WR_ARG_SECRET,   /* env:NAME or file:PATH; the value is never printed */
    WR_ARG_CRON,     /* a 5-field cron string or @macro */
    WR_ARG_TZ,       /* an IANA time zone name present on this system */
    WR_ARG_LISTEN,   /* HOST:PORT */
    WR_ARG_URL,      /* http:// or https:// URL */
    WR_ARG_URLPATH,  /* an absolute URL path such as /hooks/hr */
    WR_ARG_LIST,     /* a list of anything */
    WR_ARG_SECRETS,  /* WR_ARG_SECRET, or a list of them (a key rotation: any one may match) */
};

/* WR_ARG_SECRETS: how many keys a list may hold (a rotation needs two or three). */
#define WR_ARG_SECRETS_MAX 8

#define WR_ARG_REQUIRED    0x1u  /* the key must be present */
#define WR_ARG_NO_TEMPLATE 0x2u  /* "{{ }}" is not allowed in this value */
#define WR_ARG_OWN_CHECK   0x4u  /* the owner checks the contents; the table checks the type */
#define WR_ARG_EMPTY_OK    0x8u  /* "" is a valid string here */
#define WR_ARG_NULL_OK     0x10u /* a literal null is valid here (a template must not give one) */

struct wr_argspec {
    const char *name;
    enum wr_argtype type;
    unsigned flags;
    const char *const *choices;      /* WR_ARG_ENUM, or each of WR_ARG_STRINGS: NULL-terminated */
    const struct wr_argspec *fields; /* WR_ARG_OBJECT: nested table, or NULL for free-form */
    long long min, max;              /* WR_ARG_INT bounds (both 0 = unbounded) */
    const char *expect;              /* what messages say is expected; default from type */
    const char *help;                /* one line for `weir help` */
    /*
     * For `weir schema` only (engine/lang/schema.h; the checker never reads it): a JSON Schema
     * (draft 2020-12) fragment, as JSON text, for what the type cannot say — a name's pattern,
     * "an integer or off", a list of steps. Its keys are merged into the schema the type gives
     * (replacing a key of the same name); templates are still accepted as the flags say. It may
     * refer to the definitions schema.h lists ("$ref": "#/$defs/steps"). On a table's
     * terminating entry (name NULL) it holds rules across the table's keys ("add or remove"),
     * merged into the schema of the whole mapping. NULL: nothing to add.
     */
    const char *schema;
};

/* What a check needs: where to report, where positions come from, a Lua state to compile in. */
struct wr_check {
    const struct wr_srcdoc *doc;
    struct wr_diags *d;
    struct wr_lua *lua;   /* the workflow sandbox: expressions are compiled (not run) in it */
    const char *base_dir; /* relative paths (scripts) resolve against it */
    int errors;           /* incremented for every error reported through this check */
};

/* Reports an error at path (its key when at_key) and counts it in c->errors. */
void wr_check_error(struct wr_check *c, const char *path, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Checks the mapping obj at path against the NULL-name-terminated table spec. `what` names
 * the owner in messages ("assign-license", "the webhook trigger"). Keys listed in `skip`
 * (NULL-terminated, may be NULL) belong to someone else and are neither checked nor unknown;
 * they are offered as suggestions for unknown keys. Errors go to c; returns the number found.
 */
int wr_argspec_check(struct wr_check *c, const struct wr_argspec *spec, struct json_object *obj,
                     const char *path, const char *what, const char *const *skip);

/* Checks a single value against one spec entry (used for values outside mappings). */
void wr_argspec_check_value(struct wr_check *c, const struct wr_argspec *a, struct json_object *v,
                            const char *path);

/* Checks every template string anywhere inside v (strings, lists, mappings). */
void wr_check_templates(struct wr_check *c, struct json_object *v, const char *path);

/*
 * Checks action arguments after their templates ran (raw: the step as written, rendered: the
 * result): a template may yield anything, and an argument that takes a user reference must
 * not go out as the integer 42 or as null. Only arguments written as templates are checked
 * (the rest were checked at load). Returns 0, or -1 with "PATH.KEY: expected a string
 * (object id, ...), got the integer 42 from '{{ event.employee.id }}'" in err.
 */
int wr_argspec_check_rendered(const struct wr_argspec *spec, struct json_object *raw,
                              struct json_object *rendered, const char *path, char *err,
                              size_t errlen);

/* Finds a spec entry by name, or NULL. */
const struct wr_argspec *wr_argspec_find(const struct wr_argspec *spec, const char *name);

/* Prints the table as an aligned list: name, type, required, help (nested tables indented). */
void wr_argspec_print(const struct wr_argspec *spec, FILE *f, int indent);

/* The short name of a's type in those tables ("string", "mapping", "host:port"...); static. */
const char *wr_argspec_type_name(const struct wr_argspec *a);

/* True when s is env:NAME or file:PATH. */
bool wr_secret_ref_valid(const char *s);

#endif
