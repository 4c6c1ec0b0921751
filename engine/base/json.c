/*
 * json — a strict RFC 8259 reader into json-c trees; see json.h.
 *
 * A recursive descent over the bytes (the depth is bounded, so the C stack is too) that builds
 * the json-c nodes directly: one pass, no tokener state machine, strings without escapes
 * copied straight from the text. json-c's own tokener is not used because even in strict mode
 * it takes single quotes, NaN, raw tabs and duplicate keys, and clamps integers.
 */
#include "engine/base/json.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"

#define NUMBER_QUOTE_MAX 40 /* digits of a refused number quoted in its message */

struct frame {
    bool array;
    bool member;  /* a key (or an item) has been started: the frame adds to the path */
    size_t index; /* array: the current item */
    char *key;    /* object: the current key, decoded, NUL-terminated (owned) */
    size_t keycap;
};

struct parser {
    const char *buf;
    size_t len;
    size_t i;
    int max_depth;
    size_t max_values, values;
    bool allow_nul;
    const char *what;
    wr_json_value_fn on_value;
    void *arg;
    struct wr_json_error *err;
    bool failed;
    struct frame *frames; /* max_depth of them, made on the first container */
    int depth;            /* frames in use */
    size_t key_off;       /* offset of the key of the value about to be read, or SIZE_MAX */
    struct wr_buf scratch;
    /* a monotonic cursor turning offsets into line and column for on_value */
    size_t cur_off;
    int cur_line, cur_col;
};

static struct json_object *must(struct json_object *o)
{
    if (!o) {
        fputs("weir: out of memory\n", stderr);
        abort();
    }
    return o;
}

/* {====== positions and errors ====== */

static void advance(struct parser *p, size_t off, int *line, int *col)
{
    if (off < p->cur_off) {
        p->cur_off = 0;
        p->cur_line = p->cur_col = 1;
    }
    for (; p->cur_off < off && p->cur_off < p->len; p->cur_off++) {
        unsigned char c = (unsigned char)p->buf[p->cur_off];
        if (c == '\n') {
            p->cur_line++;
            p->cur_col = 1;
        } else if ((c & 0xc0) != 0x80) {
            p->cur_col++;
        }
    }
    *line = p->cur_line;
    *col = p->cur_col;
}

/* The key path of the frames in use (owned; "" at the top). */
static char *frame_path(const struct parser *p)
{
    char *path = wr_xstrdup("");
    for (int d = 0; d < p->depth; d++) {
        const struct frame *f = &p->frames[d];
        if (!f->member) {
            break;
        }
        char *next = f->array ? wr_path_index(*path ? path : NULL, f->index)
                              : wr_path_key(*path ? path : NULL, f->key);
        free(path);
        path = next;
    }
    return path;
}

static void fail(struct parser *p, enum wr_json_errcode code, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct parser *p, enum wr_json_errcode code, size_t off, const char *fmt, ...)
{
    if (p->failed) {
        return;
    }
    p->failed = true;
    if (!p->err) {
        return;
    }
    struct wr_json_error *e = p->err;
    va_list ap;
    e->code = code;
    e->offset = off;
    advance(p, off, &e->line, &e->col);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    char *path = frame_path(p);
    size_t n = strlen(path);
    if (n < sizeof(e->path)) {
        memcpy(e->path, path, n + 1);
    } else {
        /* keep the end: the innermost keys are the ones that tell */
        snprintf(e->path, sizeof(e->path), "...%s", path + n - (sizeof(e->path) - 4));
    }
    free(path);
}

static void notify(struct parser *p, size_t value_off)
{
    int kl, kc, vl, vc;
    size_t key_off = p->key_off == SIZE_MAX ? value_off : p->key_off;
    advance(p, key_off, &kl, &kc);
    advance(p, value_off, &vl, &vc);
    char *path = frame_path(p);
    p->on_value(p->arg, path, kl, kc, vl, vc);
    free(path);
}

/* }====== */

/* {====== numbers ====== */

int wr_json_int_range_error(const char *text, size_t len, char *err, size_t errlen)
{
    if (len > NUMBER_QUOTE_MAX) {
        return wr_errf(err, errlen,
                       "integer out of range: %.*s... (%zu digits) needs more than 64 bits (as a "
                       "string it is kept exactly)",
                       NUMBER_QUOTE_MAX, text, len);
    }
    return wr_errf(err, errlen,
                   "integer out of range: %.*s needs more than 64 bits (as a string it is kept "
                   "exactly)",
                   (int)len, text);
}

int wr_json_double_check(double d, const char *text, size_t len, char *err, size_t errlen)
{
    const char *why = NULL;
    if (d != d) {
        why = "is not a number";
    } else if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308) {
        why = "is too large for a double";
    } else if (d == 0) {
        /* zero is fine when the text says zero: any non-zero digit before the exponent
           means the value underflowed */
        for (size_t k = 0; k < len && text[k] != 'e' && text[k] != 'E'; k++) {
            if (text[k] >= '1' && text[k] <= '9') {
                why = "is too small for a double (it would become 0)";
                break;
            }
        }
    }
    if (!why) {
        return 0;
    }
    int n = len > NUMBER_QUOTE_MAX ? NUMBER_QUOTE_MAX : (int)len;
    return wr_errf(err, errlen, "number out of range: %.*s%s %s", n, text,
                   len > NUMBER_QUOTE_MAX ? "..." : "", why);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
           c == '.' || c == '+' || c == '-';
}

static struct json_object *parse_number(struct parser *p)
{
    const char *b = p->buf;
    size_t start = p->i, i = p->i, len = p->len;
    bool neg = false, isint = true;

    if (b[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= len || !is_digit(b[i])) {
        if (len - i >= 8 && memcmp(b + i, "Infinity", 8) == 0) {
            fail(p, WR_JSON_ESYNTAX, start, "NaN and Infinity are not JSON numbers");
        } else {
            fail(p, WR_JSON_ESYNTAX, start, "not a JSON number (a digit must follow '-')");
        }
        return NULL;
    }
    if (b[i] == '0') {
        i++;
        if (i < len && is_digit(b[i])) {
            fail(p, WR_JSON_ESYNTAX, start, "not a JSON number (no leading zeros)");
            return NULL;
        }
    } else {
        while (i < len && is_digit(b[i])) {
            i++;
        }
    }
    if (i < len && b[i] == '.') {
        isint = false;
        i++;
        if (i >= len || !is_digit(b[i])) {
            fail(p, WR_JSON_ESYNTAX, start, "not a JSON number (a digit must follow '.')");
            return NULL;
        }
        while (i < len && is_digit(b[i])) {
            i++;
        }
    }
    if (i < len && (b[i] == 'e' || b[i] == 'E')) {
        isint = false;
        i++;
        if (i < len && (b[i] == '+' || b[i] == '-')) {
            i++;
        }
        if (i >= len || !is_digit(b[i])) {
            fail(p, WR_JSON_ESYNTAX, start, "not a JSON number (a digit must follow the exponent)");
            return NULL;
        }
        while (i < len && is_digit(b[i])) {
            i++;
        }
    }
    if (i < len && is_word_char(b[i])) {
        fail(p, WR_JSON_ESYNTAX, start, "not a JSON number");
        return NULL;
    }
    p->i = i;
    const char *text = b + start;
    size_t n = i - start;
    char msg[WR_ERR_MAX];
    if (isint) {
        /* Exact: digit by digit with an overflow check, never a clamp. */
        uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t k = neg ? 1 : 0; k < n; k++) {
            unsigned d = (unsigned)(text[k] - '0');
            if (v > (limit - d) / 10) {
                wr_json_int_range_error(text, n, msg, sizeof(msg));
                fail(p, WR_JSON_ERANGE, start, "%s", msg);
                return NULL;
            }
            v = v * 10 + d;
        }
        int64_t iv = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
        return must(json_object_new_int64(iv));
    }
    char small[64], *tmp = n < sizeof(small) ? small : wr_xmalloc(n + 1);
    memcpy(tmp, text, n);
    tmp[n] = '\0';
    double d = strtod(tmp, NULL);
    struct json_object *o = NULL;
    if (wr_json_double_check(d, text, n, msg, sizeof(msg)) != 0) {
        fail(p, WR_JSON_ERANGE, start, "%s", msg);
    } else {
        /* the source text rides along, so the number is written back as it was read */
        o = must(json_object_new_double_s(d, tmp));
    }
    if (tmp != small) {
        free(tmp);
    }
    return o;
}

/* }====== */

/* {====== strings ====== */

/* Length of the UTF-8 sequence at s (n bytes available), or 0 when it is not well-formed. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp, min;
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

static void put_utf8(struct wr_buf *b, unsigned cp)
{
    char u[4];
    if (cp < 0x80) {
        wr_buf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        wr_buf_addn(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        wr_buf_addn(b, u, 3);
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        wr_buf_addn(b, u, 4);
    }
}

/* Four hex digits at s (n bytes available) into *v; false when they are not there. */
static bool hex4(const char *s, size_t n, unsigned *v)
{
    if (n < 4) {
        return false;
    }
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (unsigned)((c | 0x20) - 'a' + 10);
        } else {
            return false;
        }
        *v = *v * 16 + d;
    }
    return true;
}

/* Decodes the escapes of the string body buf[from..to) into p->scratch. */
static bool decode_escapes(struct parser *p, size_t from, size_t to, bool key)
{
    const char *b = p->buf;
    p->scratch.len = 0;
    for (size_t i = from; i < to;) {
        size_t run = i;
        while (run < to && b[run] != '\\') {
            run++;
        }
        wr_buf_addn(&p->scratch, b + i, run - i);
        if (run >= to) {
            break;
        }
        i = run;
        char e = b[i + 1];
        unsigned cp;
        static const char from_c[] = "\"\\/bfnrt", to_c[] = "\"\\/\b\f\n\r\t";
        const char *m = e ? strchr(from_c, e) : NULL;
        if (m) {
            wr_buf_addc(&p->scratch, to_c[m - from_c]);
            i += 2;
            continue;
        }
        if (e != 'u') {
            if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f) {
                fail(p, WR_JSON_ESYNTAX, i, "invalid escape '\\%c' in a string", e);
            } else {
                fail(p, WR_JSON_ESYNTAX, i, "invalid escape in a string");
            }
            return false;
        }
        if (!hex4(b + i + 2, to - i - 2, &cp)) {
            fail(p, WR_JSON_ESYNTAX, i, "invalid \\u escape: four hex digits must follow \\u");
            return false;
        }
        size_t at = i;
        i += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail(p, WR_JSON_ETEXT, at,
                 "a lone UTF-16 surrogate (\\u%04x) is not a character (a low surrogate needs a "
                 "high one before it)",
                 cp);
            return false;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned lo;
            if (i + 1 < to && b[i] == '\\' && b[i + 1] == 'u' && hex4(b + i + 2, to - i - 2, &lo) &&
                lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            } else {
                fail(p, WR_JSON_ETEXT, at,
                     "a lone UTF-16 surrogate (\\u%04x) is not a character (a high surrogate "
                     "needs a low one after it)",
                     cp);
                return false;
            }
        }
        if (cp == 0 && (key || !p->allow_nul)) {
            fail(p, WR_JSON_ETEXT, at, "%s contains a NUL byte (\\u0000)", key ? "key" : "value");
            return false;
        }
        put_utf8(&p->scratch, cp);
    }
    return true;
}

/*
 * Reads the string at p->i (on its opening quote). Sets *s and *n to its decoded bytes: borrowed
 * from the text when it has no escapes, else from p->scratch. Returns false on error.
 */
static bool scan_string(struct parser *p, bool key, const char **s, size_t *n)
{
    const char *b = p->buf;
    size_t open = p->i, i = p->i + 1, len = p->len;
    bool escapes = false;
    while (i < len) {
        unsigned char c = (unsigned char)b[i];
        if (c == '"') {
            break;
        }
        if (c == '\\') {
            char e = i + 1 < len ? b[i + 1] : '\0';
            if (e && !strchr("\"\\/bfnrtu", e)) {
                if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f) {
                    fail(p, WR_JSON_ESYNTAX, i, "invalid escape '\\%c' in a string", e);
                } else {
                    fail(p, WR_JSON_ESYNTAX, i, "invalid escape in a string");
                }
                return false;
            }
            escapes = true;
            i += 2;
            continue;
        }
        if (c < 0x20) {
            if (c == 0) {
                fail(p, WR_JSON_ETEXT, i, "a NUL byte inside a string");
            } else {
                fail(p, WR_JSON_ETEXT, i,
                     "a control character inside a string (write it as \\t, \\n or \\uXXXX)");
            }
            return false;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_len((const unsigned char *)b + i, len - i);
        if (k == 0) {
            fail(p, WR_JSON_ETEXT, i, "a string that is not valid UTF-8");
            return false;
        }
        i += k;
    }
    if (i >= len) {
        fail(p, WR_JSON_EEOF, open, "a string that is never closed (unexpected end of %s)",
             p->what);
        return false;
    }
    p->i = i + 1;
    if (!escapes) {
        *s = b + open + 1;
        *n = i - open - 1;
        return true;
    }
    if (!decode_escapes(p, open + 1, i, key)) {
        return false;
    }
    *s = wr_buf_str(&p->scratch);
    *n = p->scratch.len;
    return true;
}

/* }====== */

/* {====== values ====== */

static struct json_object *parse_value(struct parser *p, int depth);

static void skip_ws(struct parser *p)
{
    while (p->i < p->len) {
        char c = p->buf[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }
        p->i++;
    }
}

static void fail_eof(struct parser *p)
{
    fail(p, WR_JSON_EEOF, p->len, "unexpected end of %s", p->what);
}

/* Is the word b[0..w) one of the spellings of NaN or Infinity, in any case and sign? */
static bool nan_or_inf(const char *b, size_t w)
{
    static const char *const words[] = {"nan", "inf", "infinity", NULL};
    if (w > 0 && (b[0] == '+' || b[0] == '-')) {
        b++;
        w--;
    }
    for (size_t k = 0; words[k]; k++) {
        if (strlen(words[k]) == w && strncasecmp(b, words[k], w) == 0) {
            return true;
        }
    }
    return false;
}

/* An error for the character at p->i where a value should start. */
static void fail_not_value(struct parser *p)
{
    const char *b = p->buf + p->i;
    size_t n = p->len - p->i;
    unsigned char c = (unsigned char)*b;
    size_t w = 0;
    while (w < n && w < 16 && is_word_char(b[w])) {
        w++;
    }
    if (c == '\'') {
        fail(p, WR_JSON_ESYNTAX, p->i, "JSON strings use double quotes, not single quotes");
    } else if (nan_or_inf(b, w)) {
        fail(p, WR_JSON_ESYNTAX, p->i, "NaN and Infinity are not JSON numbers");
    } else if (c == '+' || c == '.') {
        fail(p, WR_JSON_ESYNTAX, p->i, "not a JSON number");
    } else if (c == '/') {
        fail(p, WR_JSON_ESYNTAX, p->i, "comments are not JSON");
    } else if (p->i == 0 && n >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0) {
        fail(p, WR_JSON_ESYNTAX, 0, "a byte order mark (BOM) before the JSON text");
    } else if (w > 0) {
        fail(p, WR_JSON_ESYNTAX, p->i,
             "not a JSON value: '%.*s' (strings need double quotes; true, false and null are "
             "lowercase)",
             (int)w, b);
    } else if (c >= 0x20 && c < 0x7f) {
        fail(p, WR_JSON_ESYNTAX, p->i, "unexpected character '%c'", c);
    } else {
        fail(p, WR_JSON_ESYNTAX, p->i, "unexpected byte 0x%02x", c);
    }
}

static struct frame *push_frame(struct parser *p, int depth, bool array)
{
    if (!p->frames) {
        p->frames = wr_xcalloc((size_t)p->max_depth, sizeof(*p->frames));
    }
    struct frame *f = &p->frames[depth];
    f->array = array;
    f->member = false;
    f->index = 0;
    p->depth = depth + 1;
    return f;
}

static struct json_object *parse_object(struct parser *p, int depth)
{
    struct frame *f = push_frame(p, depth, false);
    struct json_object *obj = must(json_object_new_object());
    p->i++; /* { */
    skip_ws(p);
    if (p->i < p->len && p->buf[p->i] == '}') {
        p->i++;
        p->depth = depth;
        return obj;
    }
    for (;;) {
        skip_ws(p);
        if (p->i >= p->len) {
            fail_eof(p);
            break;
        }
        char c = p->buf[p->i];
        if (c != '"') {
            if (c == '}' && f->member) {
                fail(p, WR_JSON_ESYNTAX, p->i,
                     "a comma before '}' (JSON allows no trailing comma)");
            } else if (c == '\'') {
                fail(p, WR_JSON_ESYNTAX, p->i,
                     "a key must be a string in double quotes, not single quotes");
            } else {
                fail(p, WR_JSON_ESYNTAX, p->i, "a key must be a string in double quotes");
            }
            break;
        }
        size_t key_off = p->i;
        const char *s;
        size_t n;
        if (!scan_string(p, true, &s, &n)) {
            break;
        }
        if (memchr(s, '\0', n)) {
            fail(p, WR_JSON_ETEXT, key_off, "key contains a NUL byte (\\u0000)");
            break;
        }
        if (n + 1 > f->keycap) {
            f->keycap = n + 1 > 32 ? n + 1 : 32;
            f->key = wr_xrealloc(f->key, f->keycap);
        }
        memcpy(f->key, s, n);
        f->key[n] = '\0';
        f->member = true;
        if (json_object_object_get_ex(obj, f->key, NULL)) {
            char q[WR_QUOTE_MAX + 4];
            wr_quote_input(f->key, q);
            fail(p, WR_JSON_EDUPKEY, key_off, "duplicate key \"%s\"", q);
            break;
        }
        skip_ws(p);
        if (p->i >= p->len) {
            fail_eof(p);
            break;
        }
        if (p->buf[p->i] != ':') {
            fail(p, WR_JSON_ESYNTAX, p->i, "expected ':' after the key");
            break;
        }
        p->i++;
        p->key_off = key_off;
        struct json_object *v = parse_value(p, depth + 1);
        if (p->failed) {
            json_object_put(v);
            break;
        }
        json_object_object_add_ex(obj, f->key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW);
        skip_ws(p);
        if (p->i >= p->len) {
            fail_eof(p);
            break;
        }
        c = p->buf[p->i];
        if (c == ',') {
            p->i++;
            continue;
        }
        if (c == '}') {
            p->i++;
            p->depth = depth;
            return obj;
        }
        fail(p, WR_JSON_ESYNTAX, p->i, "expected ',' or '}' after a member");
        break;
    }
    json_object_put(obj);
    return NULL;
}

static struct json_object *parse_array(struct parser *p, int depth)
{
    struct frame *f = push_frame(p, depth, true);
    struct json_object *arr = must(json_object_new_array());
    p->i++; /* [ */
    skip_ws(p);
    if (p->i < p->len && p->buf[p->i] == ']') {
        p->i++;
        p->depth = depth;
        return arr;
    }
    for (size_t index = 0;; index++) {
        skip_ws(p);
        if (index > 0 && p->i < p->len && p->buf[p->i] == ']') {
            fail(p, WR_JSON_ESYNTAX, p->i, "a comma before ']' (JSON allows no trailing comma)");
            break;
        }
        f->member = true;
        f->index = index;
        p->key_off = SIZE_MAX;
        struct json_object *v = parse_value(p, depth + 1);
        if (p->failed) {
            json_object_put(v);
            break;
        }
        json_object_array_add(arr, v);
        skip_ws(p);
        if (p->i >= p->len) {
            fail_eof(p);
            break;
        }
        char c = p->buf[p->i];
        if (c == ',') {
            p->i++;
            continue;
        }
        if (c == ']') {
            p->i++;
            p->depth = depth;
            return arr;
        }
        fail(p, WR_JSON_ESYNTAX, p->i, "expected ',' or ']' after an item");
        break;
    }
    json_object_put(arr);
    return NULL;
}

static struct json_object *parse_literal(struct parser *p)
{
    static const char *const words[] = {"true", "false", "null"};
    const char *b = p->buf + p->i;
    size_t n = p->len - p->i;
    for (int k = 0; k < 3; k++) {
        size_t w = strlen(words[k]);
        if (n >= w && memcmp(b, words[k], w) == 0 && !(n > w && is_word_char(b[w]))) {
            p->i += w;
            return k == 2 ? NULL : must(json_object_new_boolean(k == 0));
        }
    }
    fail_not_value(p);
    return NULL;
}

static struct json_object *parse_value(struct parser *p, int depth)
{
    skip_ws(p);
    size_t key_off = p->key_off;
    p->key_off = SIZE_MAX;
    if (p->i >= p->len) {
        fail_eof(p);
        return NULL;
    }
    if (p->max_values && ++p->values > p->max_values) {
        fail(p, WR_JSON_ENODES, p->i, "more than %zu values", p->max_values);
        return NULL;
    }
    if (p->on_value) {
        p->key_off = key_off;
        notify(p, p->i);
        p->key_off = SIZE_MAX;
    }
    char c = p->buf[p->i];
    if (c == '{' || c == '[') {
        if (depth >= p->max_depth) {
            fail(p, WR_JSON_EDEPTH, p->i, "nesting is deeper than %d levels", p->max_depth);
            return NULL;
        }
        return c == '{' ? parse_object(p, depth) : parse_array(p, depth);
    }
    if (c == '"') {
        const char *s;
        size_t n;
        if (!scan_string(p, false, &s, &n)) {
            return NULL;
        }
        return must(json_object_new_string_len(s, (int)n));
    }
    if (c == '-' || is_digit(c)) {
        return parse_number(p);
    }
    if (c == 't' || c == 'f' || c == 'n') {
        return parse_literal(p);
    }
    fail_not_value(p);
    return NULL;
}

/* }====== */

int wr_json_parse(const char *buf, size_t len, const struct wr_json_opts *opts,
                  struct json_object **out, struct wr_json_error *err)
{
    struct parser p = {0};
    p.buf = buf ? buf : "";
    p.len = buf ? len : 0;
    p.max_depth = opts && opts->max_depth > 0 ? opts->max_depth : WR_JSON_MAX_DEPTH;
    p.max_values = opts ? opts->max_values : 0;
    p.allow_nul = opts && opts->allow_nul;
    p.what = opts && opts->what ? opts->what : "the data";
    p.on_value = opts ? opts->on_value : NULL;
    p.arg = opts ? opts->arg : NULL;
    p.err = err;
    p.key_off = SIZE_MAX;
    p.cur_line = p.cur_col = 1;
    if (err) {
        memset(err, 0, sizeof(*err));
    }

    *out = NULL;
    struct json_object *v = NULL;
    if (p.len > INT_MAX) {
        fail(&p, WR_JSON_ESYNTAX, 0, "the text is larger than 2 GiB");
    } else {
        skip_ws(&p);
        if (p.i >= p.len) {
            fail(&p, WR_JSON_EEOF, p.len, "no JSON value (%s is empty)", p.what);
        } else {
            v = parse_value(&p, 0);
        }
    }
    if (!p.failed) {
        skip_ws(&p);
        if (p.i < p.len) {
            p.depth = 0;
            fail(&p, WR_JSON_ESYNTAX, p.i, "%s after the JSON value",
                 p.buf[p.i] ? "unexpected data" : "a NUL byte");
        }
    }
    for (int d = 0; p.frames && d < p.max_depth; d++) {
        free(p.frames[d].key);
    }
    free(p.frames);
    wr_buf_free(&p.scratch);
    if (p.failed) {
        json_object_put(v);
        return -1;
    }
    *out = v;
    return 0;
}

void wr_json_object_gather(struct json_object *obj, const char *key, struct json_object *value)
{
    struct json_object *old;
    if (!json_object_object_get_ex(obj, key, &old)) {
        json_object_object_add(obj, key, value);
        return;
    }
    if (json_object_is_type(old, json_type_array)) {
        json_object_array_add(old, value);
        return;
    }
    /* the key keeps its place: json-c replaces a value where it stands */
    struct json_object *arr = must(json_object_new_array());
    json_object_array_add(arr, json_object_get(old));
    json_object_array_add(arr, value);
    json_object_object_add(obj, key, arr);
}

struct json_object *wr_json_parse_str(const char *s)
{
    struct json_object *v = NULL;
    if (!s || wr_json_parse(s, strlen(s), NULL, &v, NULL) != 0) {
        return NULL;
    }
    return v;
}
