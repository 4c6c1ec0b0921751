/*
 * fuzz_xml — wr_xml_parse (engine/base/xml), the XML/SOAP body decoder, on arbitrary bytes,
 * with the default limits and small ones (depth 3, 8 elements and attributes) so those paths
 * are reached too.
 *
 * Invariants, from xml.h: a failure has a message, a line of at least 1 and no tree; a success
 * is an object of exactly one key whose values are strings, objects of them and arrays of
 * at least two, no deeper than the depth limit allows, and writes back (json-c) to strict JSON
 * (so all text is UTF-8 without NUL).
 */
#include <string.h>

#include "engine/base/json.h"
#include "engine/base/xml.h"
#include "tests/fuzz/fuzz.h"

/* Checks the shape of an element's value; depth counts elements. */
static void check_value(struct json_object *v, int depth, int max_depth)
{
    if (depth > max_depth) {
        wr_fuzz_fail("wr_xml_parse: deeper than the limit");
    }
    if (json_object_is_type(v, json_type_string)) {
        return;
    }
    if (!json_object_is_type(v, json_type_object)) {
        wr_fuzz_fail("wr_xml_parse: a value neither string nor object");
    }
    json_object_object_foreach(v, key, val)
    {
        if (key[0] == '@' || strcmp(key, "#text") == 0) {
            if (!json_object_is_type(val, json_type_string) &&
                !(key[0] == '@' && json_object_is_type(val, json_type_array))) {
                wr_fuzz_fail("wr_xml_parse: an attribute or text that is not a string");
            }
            if (strcmp(key, "#text") == 0 && json_object_get_string_len(val) == 0) {
                wr_fuzz_fail("wr_xml_parse: an empty #text");
            }
            continue;
        }
        if (json_object_is_type(val, json_type_array)) {
            size_t n = json_object_array_length(val);
            if (n < 2) {
                wr_fuzz_fail("wr_xml_parse: an array of fewer than two values");
            }
            for (size_t i = 0; i < n; i++) {
                check_value(json_object_array_get_idx(val, i), depth + 1, max_depth);
            }
        } else {
            check_value(val, depth + 1, max_depth);
        }
    }
}

static void check(const char *buf, size_t len, const struct wr_xml_opts *opts)
{
    struct json_object *v = (struct json_object *)1, *again = NULL;
    struct wr_xml_error e;

    memset(&e, 0, sizeof(e));
    if (wr_xml_parse(buf, len, opts, &v, &e) != 0) {
        if (v != NULL || e.msg[0] == '\0' || e.line < 1 || strchr(e.msg, '\n') != NULL) {
            wr_fuzz_fail("wr_xml_parse: a failure without a clean error");
        }
        return;
    }
    if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) != 1) {
        wr_fuzz_fail("wr_xml_parse: not an object of one key");
    }
    /* the limit counts from the document root; a SOAP result (two levels down) is shallower */
    int max_depth = opts && opts->max_depth ? opts->max_depth : WR_XML_MAX_DEPTH;
    json_object_object_foreach(v, root, value)
    {
        (void)root;
        check_value(value, 1, max_depth);
    }
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    struct wr_json_opts strict = {.max_depth = 1000};
    if (text == NULL || wr_json_parse(text, n, &strict, &again, NULL) != 0 ||
        !json_object_equal(v, again)) {
        wr_fuzz_fail("wr_xml_parse: the tree is not strict JSON");
    }
    json_object_put(again);
    json_object_put(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Not NUL-terminated, as xml.h allows. */
    const char *buf = (const char *)data;
    struct wr_xml_opts small = {.max_depth = 3, .max_nodes = 8};

    check(buf, size, NULL);
    check(buf, size, &small);
    return 0;
}
