/*
 * srcdoc — YAML/JSON into a json-c tree with a key-path -> position side table; see srcdoc.h.
 *
 * YAML is read event by event with libyaml and built into json-c nodes on an explicit stack
 * (bounded by WR_SRCDOC_MAX_DEPTH), so a deeply nested file cannot overflow the C stack.
 * JSON goes through weir's one strict reader (engine/base/json), which records the position of
 * every key and value as it reads. Both formats hold to the same rules: UTF-8 text, no NUL,
 * no duplicate keys, numbers kept exactly or refused (an integer beyond 64 bits, or a number
 * a double cannot hold, such as 1e400, is an error in either), the same depth and size
 * limits.
 */
#include "engine/base/srcdoc.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/linkhash.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"

struct positions {
    struct wr_pos key;
    struct wr_pos value;
};

/* {====== paths ====== */

static bool is_plain_key(const char *key)
{
    if (!*key) {
        return false;
    }
    for (const char *p = key; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '$' && *p != '@') {
            return false;
        }
    }
    return true;
}

char *wr_path_key(const char *parent, const char *key)
{
    struct wr_buf b = {0};
    wr_buf_add(&b, parent ? parent : "");
    if (is_plain_key(key)) {
        if (b.len > 0) {
            wr_buf_addc(&b, '.');
        }
        wr_buf_add(&b, key);
    } else {
        wr_buf_add(&b, "[\"");
        for (const char *p = key; *p; p++) {
            if (*p == '"' || *p == '\\') {
                wr_buf_addc(&b, '\\');
            }
            if ((unsigned char)*p < 0x20) {
                wr_buf_addf(&b, "\\x%02x", (unsigned char)*p);
            } else {
                wr_buf_addc(&b, *p);
            }
        }
        wr_buf_add(&b, "\"]");
    }
    return wr_buf_take(&b);
}

char *wr_path_index(const char *parent, size_t index)
{
    return wr_xasprintf("%s[%zu]", parent ? parent : "", index);
}

const char *wr_json_type_name(const struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_int:
        return "an integer";
    case json_type_double:
        return "a number";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "a list";
    case json_type_object:
        return "a mapping";
    }
    return "a value";
}

/* }====== */

/* {====== position table ====== */

static void pos_entry_free(struct lh_entry *e)
{
    free((void *)lh_entry_k(e));
    free(lh_entry_v(e));
}

static void pos_record(struct wr_srcdoc *doc, const char *path, struct wr_pos key,
                       struct wr_pos value)
{
    struct positions *p = wr_xmalloc(sizeof(*p));
    p->key = key;
    p->value = value;
    if (lh_table_insert(doc->pos, wr_xstrdup(path), p) != 0) {
        fputs("weir: out of memory\n", stderr);
        abort();
    }
}

/* Strips the last component of a path in place; returns false at the root. */
static bool path_parent(char *path)
{
    size_t n = strlen(path);
    if (n == 0) {
        return false;
    }
    if (path[n - 1] == ']') {
        /* Either [N] or ["key"]: find the opening bracket, skipping escaped quotes. */
        size_t i = n - 1;
        bool quoted = n >= 2 && path[n - 2] == '"';
        while (i > 0) {
            i--;
            if (path[i] == '[' && (!quoted || path[i + 1] == '"')) {
                if (!quoted || i == 0 || path[i - 1] != '\\') {
                    break;
                }
            }
        }
        path[i] = '\0';
        return true;
    }
    char *dot = strrchr(path, '.');
    char *br = strrchr(path, ']');
    if (dot && (!br || dot > br)) {
        *dot = '\0';
    } else if (br) {
        br[1] = '\0';
    } else {
        path[0] = '\0';
    }
    return true;
}

struct wr_pos wr_srcdoc_pos(const struct wr_srcdoc *doc, const char *path, bool at_key)
{
    struct wr_pos none = {0, 0};
    if (!doc || !doc->pos) {
        return none;
    }
    char *p = wr_xstrdup(path ? path : "");
    for (;;) {
        void *v = NULL;
        if (lh_table_lookup_ex(doc->pos, p, &v)) {
            const struct positions *pp = v;
            free(p);
            return at_key && pp->key.line ? pp->key : pp->value;
        }
        /* A missing key falls back to its parent's value (the mapping that lacks it). */
        at_key = false;
        if (!path_parent(p)) {
            break;
        }
    }
    free(p);
    return none;
}

void wr_srcdoc_error(const struct wr_srcdoc *doc, struct wr_diags *d, const char *path, bool at_key,
                     const char *fmt, ...)
{
    struct wr_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    struct wr_pos pos = wr_srcdoc_pos(doc, path, at_key);
    wr_diags_add(d, doc->file, pos.line, pos.col, path, "%s", wr_buf_str(&b));
    wr_buf_free(&b);
}

/* }====== */

/* {====== scalars (YAML 1.2 core schema) ====== */

static bool match_int(const char *s, int64_t *out, bool *overflow)
{
    const char *p = s;
    int base = 10;
    bool neg = false;
    *overflow = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && s == p) {
        base = p[1] == 'x' ? 16 : 8;
        p += 2;
    }
    if (!*p) {
        return false;
    }
    for (const char *q = p; *q; q++) {
        if (base == 16 ? !isxdigit((unsigned char)*q)
                       : (*q < '0' || *q > (base == 8 ? '7' : '9'))) {
            return false;
        }
    }
    errno = 0;
    unsigned long long v = strtoull(p, NULL, base);
    if (errno == ERANGE || v > (unsigned long long)INT64_MAX + (neg ? 1u : 0u)) {
        *overflow = true;
        return true;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool match_float(const char *s, double *out)
{
    const char *p = s;
    bool digits = false;
    if (*p == '-' || *p == '+') {
        p++;
    }
    if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0 ||
        strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0) {
        return false; /* not useful in workflows; keep them as strings */
    }
    while (isdigit((unsigned char)*p)) {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits = true;
        }
    }
    if (!digits) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') {
            p++;
        }
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    if (*p) {
        return false;
    }
    *out = strtod(s, NULL);
    return true;
}

/*
 * Converts one scalar event into a json-c value. Quoted scalars are always strings; plain ones
 * follow the YAML 1.2 core schema (so "yes"/"no"/"on" stay strings, unlike YAML 1.1).
 * Numbers follow the JSON reader's rule: kept exactly or refused, never changed.
 * Returns 0 and sets *out (NULL for null), or -1 with *why set (possibly to why_buf).
 */
static int scalar_value(const yaml_event_t *ev, struct json_object **out, const char **why,
                        char *why_buf, size_t why_len)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;

    *out = NULL;
    if (memchr(s, '\0', len)) {
        *why = "value contains a NUL byte";
        return -1;
    }
    if (tag && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0) {
        *why = "YAML tags are not supported (only !!str)";
        return -1;
    }
    if (tag || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        *out = json_object_new_string_len(s, (int)len);
        return 0;
    }
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0) {
        return 0;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        *out = json_object_new_boolean(1);
        return 0;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        *out = json_object_new_boolean(0);
        return 0;
    }
    int64_t iv;
    bool overflow;
    if (match_int(s, &iv, &overflow)) {
        if (overflow) {
            wr_json_int_range_error(s, len, why_buf, why_len);
            *why = why_buf;
            return -1;
        }
        *out = json_object_new_int64(iv);
        return 0;
    }
    double dv;
    if (match_float(s, &dv)) {
        /* 1e400 would become infinity and be written out as "Infinity", which is no JSON */
        if (wr_json_double_check(dv, s, len, why_buf, why_len) != 0) {
            *why = why_buf;
            return -1;
        }
        /* Keep the text when it is also a JSON number, so the value is written out as it was
           read; YAML's other spellings (+1.5, .5, 1.) are written by json-c. */
        struct json_object *jv = NULL;
        if (wr_json_parse(s, len, NULL, &jv, NULL) == 0 &&
            json_object_is_type(jv, json_type_double)) {
            *out = jv;
        } else {
            json_object_put(jv);
            *out = json_object_new_double(dv);
        }
        return 0;
    }
    *out = json_object_new_string_len(s, (int)len);
    return 0;
}

/* }====== */

/* {====== the YAML event walk ====== */

struct frame {
    struct json_object *node; /* borrowed: owned by its parent, or by the builder for the root */
    char *path;               /* owned */
    char *key;                /* owned: a mapping's pending key, NULL when a key is expected */
    struct wr_pos keypos;
    size_t index; /* next index of a sequence */
};

struct builder {
    const char *buf; /* the source, for reader errors that carry only an offset */
    size_t len;
    struct wr_srcdoc *doc;
    struct wr_diags *d;
    struct frame stack[WR_SRCDOC_MAX_DEPTH + 1];
    int depth;
    size_t nodes;
    bool have_root;
    bool failed;
};

static struct wr_pos mark_pos(yaml_mark_t m)
{
    struct wr_pos p = {(int)m.line + 1, (int)m.column + 1};
    return p;
}

static void fail(struct builder *b, struct wr_pos pos, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct builder *b, struct wr_pos pos, const char *path, const char *fmt, ...)
{
    struct wr_buf m = {0};
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(&m, fmt, ap);
    va_end(ap);
    wr_diags_add(b->d, b->doc->file, pos.line, pos.col, path, "%s", wr_buf_str(&m));
    wr_buf_free(&m);
    b->failed = true;
}

/*
 * Places a finished value into the current container (or as the root). Takes ownership of v.
 * Returns the path the value was stored under (owned) or NULL after an error.
 */
static char *attach(struct builder *b, struct json_object *v, struct wr_pos pos,
                    const char *scalar_key)
{
    if (b->depth == 0) {
        if (b->have_root) {
            json_object_put(v);
            fail(b, pos, NULL, "a file holds exactly one document; found a second one");
            return NULL;
        }
        b->doc->root = v;
        b->have_root = true;
        pos_record(b->doc, "", pos, pos);
        return wr_xstrdup("");
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (json_object_is_type(f->node, json_type_array)) {
        char *path = wr_path_index(f->path, f->index++);
        json_object_array_add(f->node, v);
        pos_record(b->doc, path, pos, pos);
        return path;
    }
    if (!f->key) {
        /* A value where a key is expected: only scalars can be keys. */
        json_object_put(v);
        if (!scalar_key) {
            fail(b, pos, f->path, "a mapping key must be a plain string");
            return NULL;
        }
        return NULL;
    }
    char *path = wr_path_key(f->path, f->key);
    json_object_object_add(f->node, f->key, v);
    pos_record(b->doc, path, f->keypos, pos);
    free(f->key);
    f->key = NULL;
    return path;
}

static void push(struct builder *b, struct json_object *node, char *path, struct wr_pos pos)
{
    if (b->depth >= WR_SRCDOC_MAX_DEPTH) {
        free(path);
        fail(b, pos, NULL, "nesting is deeper than %d levels", WR_SRCDOC_MAX_DEPTH);
        return;
    }
    struct frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof(*f));
    f->node = node;
    f->path = path;
}

static void pop(struct builder *b)
{
    struct frame *f = &b->stack[--b->depth];
    free(f->path);
    free(f->key);
}

/* The path the next value in the current container will get (owned). */
static char *next_path(const struct builder *b)
{
    const struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (!f) {
        return wr_xstrdup("");
    }
    if (json_object_is_type(f->node, json_type_array)) {
        return wr_path_index(f->path, f->index);
    }
    return f->key ? wr_path_key(f->path, f->key) : wr_xstrdup(f->path);
}

static void on_scalar(struct builder *b, const yaml_event_t *ev)
{
    struct wr_pos pos = mark_pos(ev->start_mark);
    struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;

    if (f && json_object_is_type(f->node, json_type_object) && !f->key) {
        const char *k = (const char *)ev->data.scalar.value;
        if (memchr(k, '\0', ev->data.scalar.length)) {
            fail(b, pos, f->path, "key contains a NUL byte");
            return;
        }
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(k, "<<") == 0) {
            /* A merge key would copy keys in from elsewhere (YAML 1.1); it reads here as a
               key named "<<" that nothing expects. Say what it is. */
            char *kp = wr_path_key(f->path, k);
            fail(b, pos, kp,
                 "YAML merge keys ('<<') are not supported; write the keys out in full (quote "
                 "it, \"<<\", for a key that is really named <<)");
            free(kp);
            return;
        }
        if (json_object_object_get_ex(f->node, k, NULL)) {
            char *kp = wr_path_key(f->path, k);
            struct wr_pos first = wr_srcdoc_pos(b->doc, kp, true);
            fail(b, pos, kp, "duplicate key (first defined at line %d)", first.line);
            free(kp);
            return;
        }
        f->key = wr_xstrdup(k);
        f->keypos = pos;
        return;
    }
    struct json_object *v = NULL;
    const char *why = NULL;
    char why_buf[WR_ERR_MAX];
    if (scalar_value(ev, &v, &why, why_buf, sizeof(why_buf)) != 0) {
        char *p = next_path(b);
        fail(b, pos, p, "%s", why);
        free(p);
        return;
    }
    free(attach(b, v, pos, "scalar"));
}

static void on_container(struct builder *b, const yaml_event_t *ev, bool mapping)
{
    struct wr_pos pos = mark_pos(ev->start_mark);
    struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    const char *tag = mapping ? (const char *)ev->data.mapping_start.tag
                              : (const char *)ev->data.sequence_start.tag;

    if (f && json_object_is_type(f->node, json_type_object) && !f->key) {
        fail(b, pos, f->path, "a mapping key must be a plain string, not a %s",
             mapping ? "mapping" : "list");
        return;
    }
    if (tag && strcmp(tag, mapping ? YAML_MAP_TAG : YAML_SEQ_TAG) != 0) {
        char *p = next_path(b);
        fail(b, pos, p, "YAML tags are not supported");
        free(p);
        return;
    }
    struct json_object *node = mapping ? json_object_new_object() : json_object_new_array();
    char *path = attach(b, node, pos, NULL);
    if (!path) {
        return;
    }
    push(b, node, path, pos);
}

/* Converts a byte offset into a 1-based line and column (columns count UTF-8 characters). */
static struct wr_pos offset_pos(const char *buf, size_t len, size_t off)
{
    struct wr_pos p = {1, 1};
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            p.line++;
            p.col = 1;
        } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
            p.col++;
        }
    }
    return p;
}

static void report_yaml_error(struct builder *b, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "unreadable input";
    if (parser->error == YAML_READER_ERROR) {
        /* The reader knows only a byte offset (bad UTF-8, control characters). */
        struct wr_pos pos = offset_pos(b->buf, b->len, parser->problem_offset);
        fail(b, pos, NULL, "%s (the file must be UTF-8 text)", problem);
        return;
    }
    struct wr_pos at = mark_pos(parser->problem_mark);
    if (parser->context && parser->error == YAML_SCANNER_ERROR) {
        /* "while scanning a quoted scalar": the start of the token is where to look (an
           unclosed quote fails only at the end of the file). */
        struct wr_pos from = mark_pos(parser->context_mark);
        if (from.line != at.line) {
            fail(b, from, NULL, "syntax error: %s %s (which fails at line %d, column %d)", problem,
                 parser->context, at.line, at.col);
        } else {
            fail(b, from, NULL, "syntax error: %s %s", problem, parser->context);
        }
        return;
    }
    if (parser->context) {
        fail(b, at, NULL, "syntax error: %s %s", problem, parser->context);
        return;
    }
    fail(b, at, NULL, "syntax error: %s", problem);
}

static void builder_walk(struct builder *b, yaml_parser_t *parser)
{
    bool done = false;
    int documents = 0;

    while (!done && !b->failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) {
            report_yaml_error(b, parser);
            break;
        }
        if (++b->nodes > WR_SRCDOC_MAX_NODES) {
            fail(b, mark_pos(ev.start_mark), NULL, "more than %d YAML nodes", WR_SRCDOC_MAX_NODES);
            yaml_event_delete(&ev);
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                fail(b, mark_pos(ev.start_mark), NULL,
                     "a file holds exactly one document; found a second one");
            }
            break;
        case YAML_SCALAR_EVENT:
            on_scalar(b, &ev);
            break;
        case YAML_ALIAS_EVENT: {
            /* Aliases would let a small file expand into a huge tree ("billion laughs"). */
            char *p = next_path(b);
            fail(b, mark_pos(ev.start_mark), p, "YAML aliases (*%s) are not supported",
                 (const char *)ev.data.alias.anchor);
            free(p);
            break;
        }
        case YAML_MAPPING_START_EVENT:
            on_container(b, &ev, true);
            break;
        case YAML_SEQUENCE_START_EVENT:
            on_container(b, &ev, false);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (b->depth > 0) {
                pop(b);
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    while (b->depth > 0) {
        pop(b);
    }
}

/* }====== */

/* {====== JSON: the strict reader, positions recorded as it goes ====== */

static void json_value_pos(void *arg, const char *path, int key_line, int key_col, int line,
                           int col)
{
    struct wr_pos key = {key_line, key_col}, value = {line, col};
    pos_record(arg, path, key, value);
}

/* Parses JSON into doc->root and the position table. Returns 0 or -1 (reported to d). */
static int parse_json(struct wr_srcdoc *doc, const char *buf, size_t len, struct wr_diags *d)
{
    struct wr_json_opts opts = {
        .max_depth = WR_SRCDOC_MAX_DEPTH,
        .max_values = WR_SRCDOC_MAX_NODES,
        .what = "file", /* not a trigger kind: "unexpected end of file" */
        .on_value = json_value_pos,
        .arg = doc,
    };
    struct wr_json_error e;
    struct json_object *v = NULL;
    if (wr_json_parse(buf, len, &opts, &v, &e) == 0) {
        doc->root = v;
        return 0;
    }
    const char *path = e.path[0] ? e.path : NULL;
    switch (e.code) {
    case WR_JSON_EDUPKEY: {
        /* the first one was recorded on the way */
        struct wr_pos first = wr_srcdoc_pos(doc, e.path, true);
        wr_diags_add(d, doc->file, e.line, e.col, path, "duplicate key (first defined at line %d)",
                     first.line);
        break;
    }
    case WR_JSON_ESYNTAX:
    case WR_JSON_EEOF:
    case WR_JSON_EDEPTH:
        wr_diags_add(d, doc->file, e.line, e.col, NULL, "JSON syntax error: %s", e.msg);
        break;
    default:
        /* the same words as for YAML: a value that cannot be held, not a syntax error */
        wr_diags_add(d, doc->file, e.line, e.col, path, "%s", e.msg);
        break;
    }
    return -1;
}

/* }====== */

int wr_srcdoc_parse(const char *file, const char *buf, size_t len, bool json,
                    struct wr_srcdoc **out, struct wr_diags *d)
{
    struct wr_srcdoc *doc = NULL;
    struct builder *b = NULL;
    yaml_parser_t parser;
    bool parser_ready = false;

    *out = NULL;
    if (len > WR_SRCDOC_MAX_BYTES) {
        wr_diags_add(d, file, 0, 0, NULL, "file is larger than %d bytes", WR_SRCDOC_MAX_BYTES);
        goto err;
    }
    if (memchr(buf, '\0', len)) {
        struct wr_pos p =
            offset_pos(buf, len, (size_t)((const char *)memchr(buf, '\0', len) - buf));
        wr_diags_add(d, file, p.line, p.col, NULL, "file contains a NUL byte (not a text file?)");
        goto err;
    }
    /* A UTF-8 byte order mark (Windows editors write one) is not part of the document. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    doc = wr_xcalloc(1, sizeof(*doc));
    doc->file = wr_xstrdup(file);
    doc->pos = lh_kchar_table_new(64, pos_entry_free);
    if (!doc->pos) {
        wr_diags_add(d, file, 0, 0, NULL, "out of memory");
        goto err;
    }
    if (json) {
        size_t blank = 0;
        while (blank < len && strchr(" \t\r\n", buf[blank])) {
            blank++;
        }
        if (blank == len) {
            wr_diags_add(d, file, 1, 1, NULL, "file is empty");
            goto err;
        }
        if (parse_json(doc, buf, len, d) != 0) {
            goto err;
        }
        *out = doc;
        return 0;
    }
    if (!yaml_parser_initialize(&parser)) {
        wr_diags_add(d, file, 0, 0, NULL, "out of memory");
        goto err;
    }
    parser_ready = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    b = wr_xcalloc(1, sizeof(*b));
    b->buf = buf;
    b->len = len;
    b->doc = doc;
    b->d = d;
    builder_walk(b, &parser);
    if (b->failed) {
        goto err;
    }
    if (!b->have_root) {
        wr_diags_add(d, file, 1, 1, NULL, "file is empty");
        goto err;
    }
    yaml_parser_delete(&parser);
    free(b);
    *out = doc;
    return 0;
err:
    if (parser_ready) {
        yaml_parser_delete(&parser);
    }
    free(b);
    wr_srcdoc_free(doc);
    return -1;
}

bool wr_srcdoc_is_source_name(const char *name)
{
    return wr_str_has_suffix(name, ".yaml") || wr_str_has_suffix(name, ".yml") ||
           wr_str_has_suffix(name, ".json");
}

int wr_srcdoc_load(const char *file, struct wr_srcdoc **out, struct wr_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = wr_read_file(file, WR_SRCDOC_MAX_BYTES, &buf, &len);

    *out = NULL;
    if (rc == -EFBIG) {
        wr_diags_add(d, file, 0, 0, NULL, "file is larger than %d bytes", WR_SRCDOC_MAX_BYTES);
        return -1;
    }
    if (rc != 0) {
        char why[WR_ERR_MAX];
        wr_diags_add(d, file, 0, 0, NULL, "cannot read: %s",
                     wr_read_file_error(file, rc, why, sizeof(why)));
        return -1;
    }
    rc = wr_srcdoc_parse(file, buf, len, wr_str_has_suffix(file, ".json"), out, d);
    free(buf);
    return rc;
}

void wr_srcdoc_free(struct wr_srcdoc *doc)
{
    if (!doc) {
        return;
    }
    if (doc->pos) {
        lh_table_free(doc->pos);
    }
    json_object_put(doc->root);
    free(doc->file);
    free(doc);
}
