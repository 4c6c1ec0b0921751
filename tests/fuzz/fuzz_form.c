/*
 * fuzz_form — wr_form_parse (engine/base/form), the application/x-www-form-urlencoded decoder,
 * on arbitrary bytes, with the default pair limit and a small one.
 *
 * Invariants, from form.h: a failure has a message, an offset within the input and no tree; a
 * success is an object of strings and arrays of strings, within the pair limit, that writes
 * back (json-c) to strict JSON (so every key and value is UTF-8 without NUL), and that encodes
 * back to a form body decoding to an equal tree.
 */
#include <string.h>

#include "engine/base/form.h"
#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "tests/fuzz/fuzz.h"

static void encode(struct wr_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '*') {
            wr_buf_addc(b, (char)c);
        } else if (c == ' ') {
            wr_buf_addc(b, '+');
        } else {
            wr_buf_addc(b, '%');
            wr_buf_addc(b, hex[c >> 4]);
            wr_buf_addc(b, hex[c & 15]);
        }
    }
}

static void add_pair(struct wr_buf *b, const char *key, struct json_object *v, size_t *pairs)
{
    if (!json_object_is_type(v, json_type_string)) {
        wr_fuzz_fail("wr_form_parse: a value that is not a string");
    }
    encode(b, key, strlen(key));
    wr_buf_addc(b, '=');
    encode(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    wr_buf_addc(b, '&');
    ++*pairs;
}

static void check(const char *buf, size_t len, size_t max_pairs)
{
    struct json_object *v = (struct json_object *)1, *again = NULL;
    struct wr_form_error e;

    memset(&e, 0, sizeof(e));
    if (wr_form_parse(buf, len, max_pairs, &v, &e) != 0) {
        if (v != NULL || e.msg[0] == '\0' || e.offset >= len) {
            wr_fuzz_fail("wr_form_parse: a failure without a clean error");
        }
        return;
    }
    if (!json_object_is_type(v, json_type_object)) {
        wr_fuzz_fail("wr_form_parse: not an object");
    }
    struct wr_buf body = {0};
    size_t pairs = 0;
    json_object_object_foreach(v, key, val)
    {
        if (json_object_is_type(val, json_type_array)) {
            size_t n = json_object_array_length(val);
            if (n < 2) {
                wr_fuzz_fail("wr_form_parse: an array of fewer than two values");
            }
            for (size_t i = 0; i < n; i++) {
                add_pair(&body, key, json_object_array_get_idx(val, i), &pairs);
            }
        } else {
            add_pair(&body, key, val, &pairs);
        }
    }
    if (pairs > (max_pairs ? max_pairs : WR_FORM_MAX_PAIRS)) {
        wr_fuzz_fail("wr_form_parse: more pairs than the limit");
    }
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (text == NULL || wr_json_parse(text, n, NULL, &again, NULL) != 0 ||
        !json_object_equal(v, again)) {
        wr_fuzz_fail("wr_form_parse: the tree is not strict JSON");
    }
    json_object_put(again);
    again = NULL;
    if (wr_form_parse(body.data, body.len, max_pairs, &again, NULL) != 0 ||
        !json_object_equal(v, again)) {
        wr_fuzz_fail("wr_form_parse: the tree encoded again does not decode the same");
    }
    json_object_put(again);
    wr_buf_free(&body);
    json_object_put(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Not NUL-terminated, as form.h allows. */
    check((const char *)data, size, 0);
    check((const char *)data, size, 3);
    return 0;
}
