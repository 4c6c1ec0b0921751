/*
 * fuzz_json — wr_json_parse (engine/base/json), the one strict reader of outside JSON, on arbitrary
 * bytes, with and without NUL allowed in strings and with a small depth and value limit so
 * those paths are reached too.
 *
 * Invariants, from json.h: a failure has a code, a message, an offset within the input and a
 * position of at least 1:1, and no tree; a success writes back (json-c) to text that parses
 * again to an equal tree, so nothing read is changed on its way through weir.
 */
#include <string.h>

#include "engine/base/json.h"
#include "tests/fuzz/fuzz.h"

static void check(const char *buf, size_t len, const struct wr_json_opts *opts)
{
    struct json_object *v = (struct json_object *)1, *again = NULL;
    struct wr_json_error e;

    if (wr_json_parse(buf, len, opts, &v, &e) != 0) {
        if (v != NULL || e.code == WR_JSON_OK || e.msg[0] == '\0' || e.offset > len || e.line < 1 ||
            e.col < 1 || strlen(e.path) >= sizeof(e.path)) {
            wr_fuzz_fail("wr_json_parse: a failure without a clean error");
        }
        return;
    }
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    struct wr_json_opts again_opts = {.allow_nul = opts && opts->allow_nul};
    if (text == NULL || wr_json_parse(text, n, &again_opts, &again, NULL) != 0 ||
        !json_object_equal(v, again)) {
        wr_fuzz_fail("wr_json_parse: what it read does not read back the same");
    }
    json_object_put(again);
    json_object_put(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Not NUL-terminated, as json.h allows. */
    const char *buf = (const char *)data;
    struct wr_json_opts nul = {.allow_nul = true};
    struct wr_json_opts small = {.max_depth = 3, .max_values = 8, .what = "the body"};

    check(buf, size, NULL);
    check(buf, size, &nul);
    check(buf, size, &small);
    return 0;
}
