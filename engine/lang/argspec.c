/*
 * argspec — applying key tables to json-c mappings; see argspec.h.
 */
#include "engine/lang/argspec.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lang/cron.h"
#include "engine/base/duration.h"
#include "engine/lua/lua_host.h"
#include "engine/base/strutil.h"
#include "engine/lua/template.h"

void wr_check_error(struct wr_check *c, const char *path, bool at_key, const char *fmt, ...)
{
    struct wr_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    wr_srcdoc_error(c->doc, c->d, path, at_key, "%s", wr_buf_str(&b));
    wr_buf_free(&b);
    c->errors++;
}

const struct wr_argspec *wr_argspec_find(const struct wr_argspec *spec, const char *name)
{
    for (const struct wr_argspec *a = spec; a && a->name; a++) {
        if (strcmp(a->name, name) == 0) {
            return a;
        }
    }
    return NULL;
}

bool wr_secret_ref_valid(const char *s)
{
    if (strncmp(s, "env:", 4) == 0) {
        const char *n = s + 4;
        if (!*n || isdigit((unsigned char)*n)) {
            return false;
        }
        for (; *n; n++) {
            if (!isalnum((unsigned char)*n) && *n != '_') {
                return false;
            }
        }
        return true;
    }
    return strncmp(s, "file:", 5) == 0 && s[5] != '\0';
}

static const char *type_label(const struct wr_argspec *a)
{
    if (a->expect) {
        return a->expect;
    }
    switch (a->type) {
    case WR_ARG_LIST:
        return "a list";
    case WR_ARG_STRING:
        return "a string";
    case WR_ARG_STRINGS:
        return "a list of strings";
    case WR_ARG_OBJECT:
        return "a mapping";
    case WR_ARG_BOOL:
        return "true or false";
    case WR_ARG_INT:
        return "an integer";
    case WR_ARG_DURATION:
        return "a duration such as 30s, 15m, 2h or 30d";
    case WR_ARG_ENUM:
        return "one of the listed values";
    case WR_ARG_ANY:
        return "any value";
    case WR_ARG_EXPR:
        return "a Lua expression";
    case WR_ARG_SECRET:
        return "env:NAME or file:PATH";
    case WR_ARG_SECRETS:
        return "env:NAME or file:PATH, or a list of them";
    case WR_ARG_CRON:
        return "a cron expression";
    case WR_ARG_TZ:
        return "a time zone name";
    case WR_ARG_LISTEN:
        return "HOST:PORT";
    case WR_ARG_URL:
        return "an http(s) URL";
    case WR_ARG_URLPATH:
        return "a URL path starting with /";
    }
    return "a value";
}

const char *wr_argspec_type_name(const struct wr_argspec *a)
{
    static const char *const names[] = {
        [WR_ARG_STRING] = "string",     [WR_ARG_STRINGS] = "list",
        [WR_ARG_OBJECT] = "mapping",    [WR_ARG_BOOL] = "bool",
        [WR_ARG_INT] = "integer",       [WR_ARG_DURATION] = "duration",
        [WR_ARG_ENUM] = "enum",         [WR_ARG_ANY] = "any",
        [WR_ARG_EXPR] = "expression",   [WR_ARG_SECRET] = "secret",
        [WR_ARG_CRON] = "cron",         [WR_ARG_TZ] = "timezone",
        [WR_ARG_LISTEN] = "host:port",  [WR_ARG_URL] = "url",
        [WR_ARG_URLPATH] = "path",      [WR_ARG_LIST] = "list",
        [WR_ARG_SECRETS] = "secret(s)",
    };
    return names[a->type];
}

/*
 * Compiles the templates of s, reporting a failure at path; returns false when it failed.
 * Not inlined: its message buffer then lives only while a string is compiled, not in every
 * frame of the recursive walks that call it (wr_check_templates, wr_argspec_check_value).
 */
static __attribute__((noinline)) bool check_template_string(struct wr_check *c, const char *s,
                                                            const char *path)
{
    char err[WR_ERR_MAX];
    if (!c->lua) { /* a file without Lua (weir.yaml): nothing would render it */
        if (wr_template_has(s)) {
            wr_check_error(c, path, false, "templates ('{{ }}') are not allowed here");
            return false;
        }
        return true;
    }
    if (wr_lua_compile_string(c->lua, s, err, sizeof(err)) != 0) {
        wr_check_error(c, path, false, "%s", err);
        return false;
    }
    return true;
}

void wr_check_templates(struct wr_check *c, struct json_object *v, const char *path)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        check_template_string(c, json_object_get_string(v), path);
        break;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            char *p = wr_path_index(path, i);
            wr_check_templates(c, json_object_array_get_idx(v, i), p);
            free(p);
        }
        break;
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            char *p = wr_path_key(path, key);
            wr_check_templates(c, val, p);
            free(p);
        }
        break;
    }
    default:
        break;
    }
}

static bool listen_valid(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) {
        return false;
    }
    if (s[0] == '[' && colon[-1] != ']') {
        return false;
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5) {
        return false;
    }
    for (const char *q = p; *q; q++) {
        if (!isdigit((unsigned char)*q)) {
            return false;
        }
    }
    return atol(p) <= 65535;
}

/* Is the segment s[0..n) "." or "..", also when its dots are percent-encoded (%2e)? */
static int dot_segment(const char *s, size_t n)
{
    int dots = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '.') {
            i++;
        } else if (i + 2 < n && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e') {
            i += 3;
        } else {
            return 0;
        }
        dots++;
    }
    return dots <= 2 ? dots : 0;
}

/*
 * Why a URL path would never be matched as written, or NULL. HTTP clients resolve "." and
 * ".." segments before sending (RFC 3986 section 5.2.4), proxies merge "//", a leading "//"
 * reads as a host name, and characters outside ASCII go out percent-encoded: a webhook path
 * holding any of them would take no request.
 */
static const char *urlpath_problem(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x21 || *p >= 0x7f) {
            return "has a character outside printable ASCII, which clients percent-encode "
                   "before sending; write it percent-encoded";
        }
        if (*p == '\\') {
            return "has a backslash, which some clients turn into '/'; use '/' or %5C";
        }
    }
    for (const char *seg = s + 1;; seg++) {
        size_t n = strcspn(seg, "/");
        int dots = dot_segment(seg, n);
        if (dots == 2) {
            return "has a '..' segment, which clients resolve away before sending; write the "
                   "path without it";
        }
        if (dots == 1) {
            return "has a '.' segment, which clients remove before sending; write the path "
                   "without it";
        }
        if (n == 0 && seg[0] == '/') {
            return "has an empty segment ('//'), which proxies and clients may merge or read "
                   "as a host name; use single slashes";
        }
        seg += n;
        if (!*seg) {
            return NULL;
        }
    }
}

static void check_string_value(struct wr_check *c, const struct wr_argspec *a, const char *s,
                               const char *path)
{
    char err[WR_ERR_MAX];
    switch (a->type) {
    case WR_ARG_DURATION: {
        int64_t ms;
        if (wr_duration_parse(s, &ms, err, sizeof(err)) != 0) {
            wr_check_error(c, path, false, "%s", err);
        }
        break;
    }
    case WR_ARG_CRON: {
        struct wr_cron cron;
        if (wr_cron_parse(s, &cron, err, sizeof(err)) != 0) {
            wr_check_error(c, path, false, "%s", err);
        }
        break;
    }
    case WR_ARG_TZ:
        if (wr_tz_check(s, err, sizeof(err)) != 0) {
            wr_check_error(c, path, false, "%s", err);
        }
        break;
    case WR_ARG_ENUM: {
        for (size_t i = 0; a->choices[i]; i++) {
            if (strcmp(s, a->choices[i]) == 0) {
                return;
            }
        }
        struct wr_buf list = {0};
        for (size_t i = 0; a->choices[i]; i++) {
            wr_buf_addf(&list, "%s%s", i ? ", " : "", a->choices[i]);
        }
        const char *sug = wr_suggest(s, a->choices);
        if (sug) {
            wr_check_error(c, path, false, "unknown value '%s' (did you mean '%s'?)", s, sug);
        } else {
            wr_check_error(c, path, false, "unknown value '%s' (expected one of: %s)", s,
                           wr_buf_str(&list));
        }
        wr_buf_free(&list);
        break;
    }
    case WR_ARG_EXPR:
        if (wr_lua_compile(c->lua, s, strlen(s), err, sizeof(err)) != 0) {
            wr_check_error(c, path, false, "invalid expression '%.*s': %s", wr_utf8_prec(s, 80), s,
                           err);
        }
        break;
    case WR_ARG_SECRET:
        /* Never echo the value: an inline value here is most likely the secret itself. */
        if (!wr_secret_ref_valid(s)) {
            wr_check_error(c, path, false,
                           "must be env:NAME or file:PATH (secrets are never written inline)");
        }
        break;
    case WR_ARG_LISTEN:
        if (!listen_valid(s)) {
            wr_check_error(c, path, false, "'%s' is not HOST:PORT (e.g. 127.0.0.1:8080)", s);
        }
        break;
    case WR_ARG_URL:
        if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) {
            wr_check_error(c, path, false, "'%.*s' is not an http:// or https:// URL",
                           wr_utf8_prec(s, 80), s);
        }
        break;
    case WR_ARG_URLPATH: {
        const char *why = urlpath_problem(s);
        if (s[0] != '/' || strchr(s, '?') || strchr(s, '#') || strchr(s, ' ')) {
            wr_check_error(c, path, false,
                           "'%.*s' is not a URL path (it starts with / and has no query)",
                           wr_utf8_prec(s, 80), s);
        } else if (why) {
            wr_check_error(c, path, false, "'%.*s' %s", wr_utf8_prec(s, 80), s, why);
        }
        break;
    }
    default:
        break;
    }
}

void wr_argspec_check_value(struct wr_check *c, const struct wr_argspec *a, struct json_object *v,
                            const char *path)
{
    enum json_type t = json_object_get_type(v);

    /* A template stands for a value only known at run time: check its syntax, not its type. */
    if (t == json_type_string && wr_template_has(json_object_get_string(v))) {
        const char *s = json_object_get_string(v);
        const char *expr;
        size_t len;
        /* No Lua state (weir.yaml): nothing would ever render a template, so none is allowed. */
        if (a->flags & WR_ARG_NO_TEMPLATE || a->type == WR_ARG_SECRET ||
            a->type == WR_ARG_SECRETS || a->type == WR_ARG_EXPR || !c->lua) {
            wr_check_error(c, path, false, "templates ('{{ }}') are not allowed here");
            return;
        }
        if (!check_template_string(c, s, path)) {
            return;
        }
        bool whole = wr_template_whole(s, &expr, &len);
        if (whole || a->type == WR_ARG_STRING || a->type == WR_ARG_ENUM || a->type == WR_ARG_URL ||
            a->type == WR_ARG_ANY || a->type == WR_ARG_URLPATH) {
            return;
        }
        wr_check_error(c, path, false, "expected %s; text around '{{ }}' always makes a string",
                       type_label(a));
        return;
    }

    if (t == json_type_null && (a->flags & WR_ARG_NULL_OK)) {
        return;
    }
    switch (a->type) {
    case WR_ARG_ANY:
        if (!(a->flags & WR_ARG_OWN_CHECK)) {
            wr_check_templates(c, v, path);
        }
        return;
    case WR_ARG_LIST:
        if (t != json_type_array) {
            break;
        }
        if (!(a->flags & WR_ARG_OWN_CHECK)) {
            wr_check_templates(c, v, path);
        }
        return;
    case WR_ARG_OBJECT:
        if (t != json_type_object) {
            break;
        }
        if (a->flags & WR_ARG_OWN_CHECK) {
            return;
        }
        if (a->fields) {
            char *what = wr_xasprintf("'%s'", a->name);
            wr_argspec_check(c, a->fields, v, path, what, NULL);
            free(what);
        } else {
            wr_check_templates(c, v, path);
        }
        return;
    case WR_ARG_STRINGS:
        if (t != json_type_array) {
            break;
        }
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            struct json_object *e = json_object_array_get_idx(v, i);
            char *p = wr_path_index(path, i);
            if (!json_object_is_type(e, json_type_string)) {
                wr_check_error(c, p, false, "expected a string, got %s", wr_json_type_name(e));
            } else if (a->choices) {
                /* A list drawn from a fixed set: each element is checked as an enum. */
                struct wr_argspec one = *a;
                one.type = WR_ARG_ENUM;
                wr_argspec_check_value(c, &one, e, p);
            } else {
                wr_check_templates(c, e, p);
            }
            free(p);
        }
        return;
    case WR_ARG_SECRETS: {
        if (t == json_type_string) {
            struct wr_argspec one = *a;
            one.type = WR_ARG_SECRET;
            wr_argspec_check_value(c, &one, v, path);
            return;
        }
        if (t != json_type_array) {
            break;
        }
        size_t n = json_object_array_length(v);
        if (n == 0 || n > WR_ARG_SECRETS_MAX) {
            wr_check_error(c, path, false, "a list of 1 to %d secrets, got %zu", WR_ARG_SECRETS_MAX,
                           n);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(v, i);
            char *p = wr_path_index(path, i);
            struct wr_argspec one = *a;
            one.type = WR_ARG_SECRET;
            wr_argspec_check_value(c, &one, e, p);
            free(p);
        }
        return;
    }
    case WR_ARG_BOOL:
        if (t != json_type_boolean) {
            break;
        }
        return;
    case WR_ARG_INT:
        if (t != json_type_int) {
            break;
        }
        if (a->min != 0 || a->max != 0) {
            int64_t n = json_object_get_int64(v);
            if (n < a->min || n > a->max) {
                wr_check_error(c, path, false, "%lld is out of range %lld-%lld", (long long)n,
                               a->min, a->max);
            }
        }
        return;
    default:
        /* Everything else is a string with its own syntax. */
        if (t != json_type_string) {
            break;
        }
        if (!(a->flags & WR_ARG_EMPTY_OK) &&
            strspn(json_object_get_string(v), " \t\r\n") == (size_t)json_object_get_string_len(v)) {
            wr_check_error(c, path, false, "is empty (expected %s)", type_label(a));
            return;
        }
        check_string_value(c, a, json_object_get_string(v), path);
        return;
    }
    wr_check_error(c, path, false, "expected %s, got %s", type_label(a), wr_json_type_name(v));
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++) {
        if (strcmp(list[i], s) == 0) {
            return true;
        }
    }
    return false;
}

int wr_argspec_check(struct wr_check *c, const struct wr_argspec *spec, struct json_object *obj,
                     const char *path, const char *what, const char *const *skip)
{
    int before = c->errors;

    if (!json_object_is_type(obj, json_type_object)) {
        wr_check_error(c, path, false, "expected a mapping, got %s", wr_json_type_name(obj));
        return c->errors - before;
    }
    json_object_object_foreach(obj, key, val)
    {
        char *p = wr_path_key(path, key);
        const struct wr_argspec *a = wr_argspec_find(spec, key);
        if (a) {
            wr_argspec_check_value(c, a, val, p);
        } else if (!in_list(skip, key)) {
            /* Offer the closest known key, from this table and from the skip list. */
            size_t n = 0;
            for (const struct wr_argspec *s = spec; s && s->name; s++) {
                n++;
            }
            for (size_t i = 0; skip && skip[i]; i++) {
                n++;
            }
            const char **names = wr_xcalloc(n + 1, sizeof(*names));
            size_t k = 0;
            for (const struct wr_argspec *s = spec; s && s->name; s++) {
                names[k++] = s->name;
            }
            for (size_t i = 0; skip && skip[i]; i++) {
                names[k++] = skip[i];
            }
            const char *sug = wr_suggest(key, names);
            if (sug) {
                wr_check_error(c, p, true, "unknown key '%s' in %s (did you mean '%s'?)", key, what,
                               sug);
            } else {
                wr_check_error(c, p, true, "unknown key '%s' in %s", key, what);
            }
            free(names);
        }
        free(p);
    }
    for (const struct wr_argspec *a = spec; a && a->name; a++) {
        if ((a->flags & WR_ARG_REQUIRED) && !json_object_object_get_ex(obj, a->name, NULL)) {
            wr_check_error(c, path, false, "%s needs '%s' (%s)", what, a->name, type_label(a));
        }
    }
    return c->errors - before;
}

void wr_argspec_print(const struct wr_argspec *spec, FILE *f, int indent)
{
    size_t width = 4;
    for (const struct wr_argspec *a = spec; a && a->name; a++) {
        if (strlen(a->name) > width) {
            width = strlen(a->name);
        }
    }
    for (const struct wr_argspec *a = spec; a && a->name; a++) {
        fprintf(f, "%*s%-*s  %-10s %-9s %s", indent, "", (int)width, a->name,
                wr_argspec_type_name(a), a->flags & WR_ARG_REQUIRED ? "required" : "",
                a->help ? a->help : "");
        if ((a->type == WR_ARG_ENUM || a->type == WR_ARG_STRINGS) && a->choices) {
            fputs(" (", f);
            for (size_t i = 0; a->choices[i]; i++) {
                fprintf(f, "%s%s", i ? ", " : "", a->choices[i]);
            }
            fputs(")", f);
        }
        fputc('\n', f);
        if (a->type == WR_ARG_OBJECT && a->fields) {
            wr_argspec_print(a->fields, f, indent + 2);
        }
    }
}

/* {====== rendered values ====== */

/* "the integer 42", "the string 'x'", "null", "a mapping", for messages. */
static void describe(struct json_object *v, char *buf, size_t len)
{
    char q[WR_QUOTE_MAX + 4];
    switch (json_object_get_type(v)) {
    case json_type_string:
        wr_quote_input(json_object_get_string(v), q);
        snprintf(buf, len, "the string '%s'", q);
        break;
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        wr_quote_input(json_object_to_json_string(v), q);
        snprintf(buf, len, "%s %s", wr_json_type_name(v), q);
        break;
    default:
        snprintf(buf, len, "%s", wr_json_type_name(v));
        break;
    }
}

/* Does the rendered value v fit the entry a? Sets *want to what was expected when not. */
static bool rendered_fits(const struct wr_argspec *a, struct json_object *v, const char **want,
                          char *buf, size_t buflen)
{
    enum json_type t = json_object_get_type(v);
    *want = type_label(a);
    switch (a->type) {
    case WR_ARG_ANY:
        return true;
    case WR_ARG_LIST:
        return t == json_type_array;
    case WR_ARG_OBJECT:
        return t == json_type_object;
    case WR_ARG_BOOL:
        return t == json_type_boolean;
    case WR_ARG_INT:
        if (a->min != 0 || a->max != 0) {
            snprintf(buf, buflen, "an integer from %lld to %lld", a->min, a->max);
            *want = buf;
        }
        return t == json_type_int &&
               ((a->min == 0 && a->max == 0) ||
                (json_object_get_int64(v) >= a->min && json_object_get_int64(v) <= a->max));
    case WR_ARG_STRINGS:
        if (t != json_type_array) {
            return false;
        }
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) {
                *want = "a list of strings";
                return false;
            }
        }
        return true;
    case WR_ARG_ENUM:
        if (t != json_type_string) {
            return false;
        }
        for (size_t i = 0; a->choices[i]; i++) {
            if (strcmp(json_object_get_string(v), a->choices[i]) == 0) {
                return true;
            }
        }
        return false;
    default:
        return t == json_type_string;
    }
}

int wr_argspec_check_rendered(const struct wr_argspec *spec, struct json_object *raw,
                              struct json_object *rendered, const char *path, char *err,
                              size_t errlen)
{
    json_object_object_foreach(raw, key, val)
    {
        const struct wr_argspec *a = wr_argspec_find(spec, key);
        struct json_object *got = NULL;
        const char *want;
        char wbuf[64];
        if (!a || !json_object_is_type(val, json_type_string) ||
            !wr_template_has(json_object_get_string(val)) ||
            !json_object_object_get_ex(rendered, key, &got) ||
            rendered_fits(a, got, &want, wbuf, sizeof(wbuf))) {
            continue; /* checked at load, or a template that gave what the argument takes */
        }
        char what[96], *p = wr_path_key(path, key);
        describe(got, what, sizeof(what));
        if (a->type == WR_ARG_STRING && a->help) {
            snprintf(err, errlen, "%s: expected %s (%s), got %s from '%.*s'", p, want, a->help,
                     what, wr_utf8_prec(json_object_get_string(val), 80),
                     json_object_get_string(val));
        } else {
            snprintf(err, errlen, "%s: expected %s, got %s from '%.*s'", p, want, what,
                     wr_utf8_prec(json_object_get_string(val), 80), json_object_get_string(val));
        }
        free(p);
        return -1;
    }
    return 0;
}

/* }====== */
