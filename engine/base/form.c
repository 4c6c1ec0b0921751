/*
 * form — application/x-www-form-urlencoded bodies decoded into json-c objects; see form.h.
 *
 * One pass over the pairs: each key and value is percent-decoded into a scratch buffer, checked
 * (no NUL, UTF-8) and added to the object, a repeated key gathering its values in an array.
 */
#include "engine/base/form.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"

static int fail(struct wr_form_error *e, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct wr_form_error *e, size_t offset, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        e->offset = offset;
    }
    return -1;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The index of the first byte of s[0..len) that does not start a well-formed UTF-8 sequence, or
   len when there is none. */
static size_t utf8_bad_at(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (n > len - i || !wr_utf8_valid(s + i, n)) {
            return i;
        }
        i += n;
    }
    return len;
}

/* The offset in data of the source of decoded byte `index` of the text data[from..): a %XX
   escape is one decoded byte for three source bytes. */
static size_t source_offset(const char *data, size_t from, size_t index)
{
    size_t off = from;
    for (; index > 0; index--) {
        off += data[off] == '%' ? 3 : 1;
    }
    return off;
}

/*
 * Decodes data[from..to) (a key, or the value of key) into out (emptied first). Returns 0, or
 * -1 with *e filled. key is NULL while decoding the key itself.
 */
static int decode(const char *data, size_t from, size_t to, const char *key, struct wr_buf *out,
                  struct wr_form_error *e)
{
    char where[WR_QUOTE_MAX + 32];
    if (key) {
        char q[WR_QUOTE_MAX + 4];
        wr_quote_input(key, q);
        snprintf(where, sizeof(where), "the value of \"%s\"", q);
    } else {
        snprintf(where, sizeof(where), "a key");
    }
    out->len = 0;
    wr_buf_addn(out, "", 0);
    for (size_t i = from; i < to; i++) {
        char c = data[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 1 < to ? hex_digit(data[i + 1]) : -1;
            int lo = i + 2 < to ? hex_digit(data[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                char bad[4] = {'%', 0, 0, 0}, q[WR_QUOTE_MAX + 4];
                for (size_t k = 1; k < 3 && i + k < to; k++) {
                    bad[k] = data[i + k];
                }
                wr_quote_input(bad, q);
                return fail(e, i,
                            "bad percent-escape \"%s\" in %s: '%%' must be followed by two hex "
                            "digits (a literal '%%' is %%25)",
                            q, where);
            }
            c = (char)(hi << 4 | lo);
            if (c == '\0') {
                return fail(e, i, "NUL (%%00) in %s", where);
            }
            wr_buf_addc(out, c);
            i += 2;
            continue;
        }
        if (c == '\0') {
            return fail(e, i, "NUL byte in %s", where);
        }
        wr_buf_addc(out, c);
    }
    size_t bad = utf8_bad_at(out->data, out->len);
    if (bad < out->len) {
        return fail(e, source_offset(data, from, bad), "invalid UTF-8 in %s", where);
    }
    return 0;
}

int wr_form_parse(const char *data, size_t len, size_t max_pairs, struct json_object **out,
                  struct wr_form_error *e)
{
    struct json_object *obj = json_object_new_object();
    struct wr_buf key = {0}, val = {0};
    size_t pairs = 0;
    *out = NULL;
    if (max_pairs == 0) {
        max_pairs = WR_FORM_MAX_PAIRS;
    }
    if (len > INT_MAX) {
        /* json-c's string lengths are ints */
        fail(e, 0, "the body is larger than %d bytes", INT_MAX);
        goto err;
    }
    for (size_t start = 0; start < len;) {
        const char *amp = memchr(data + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - data) : len;
        if (end > start) {
            if (++pairs > max_pairs) {
                fail(e, start, "more than %zu pairs", max_pairs);
                goto err;
            }
            const char *eq = memchr(data + start, '=', end - start);
            size_t key_end = eq ? (size_t)(eq - data) : end;
            if (decode(data, start, key_end, NULL, &key, e) != 0 ||
                decode(data, eq ? key_end + 1 : end, end, key.data, &val, e) != 0) {
                goto err;
            }
            wr_json_object_gather(obj, key.data,
                                  json_object_new_string_len(val.data, (int)val.len));
        }
        start = end + 1;
    }
    wr_buf_free(&key);
    wr_buf_free(&val);
    *out = obj;
    return 0;
err:
    wr_buf_free(&key);
    wr_buf_free(&val);
    json_object_put(obj);
    return -1;
}
