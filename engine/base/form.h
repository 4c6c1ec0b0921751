/*
 * form — the decoder of application/x-www-form-urlencoded bodies (what an HTML form posts, and
 * what some webhook senders use instead of JSON) into json-c objects.
 *
 * `a=1&b=2` becomes {"a":"1","b":"2"}. It is the WHATWG URL Standard's urlencoded parser made
 * strict: a malformed percent-escape, bytes that are not UTF-8 after decoding, or a NUL is an
 * error instead of being passed on or replaced. Values stay strings: no number or boolean
 * guessing, and no PHP/Rails bracket syntax (`a[b]=1` is the key "a[b]").
 *
 * What this module is not: a query-string builder, or a reader of multipart/form-data.
 */
#ifndef WR_FORM_H
#define WR_FORM_H

#include <json-c/json.h>
#include <stddef.h>

#define WR_FORM_MAX_PAIRS 10000 /* the default limit on pairs */

struct wr_form_error {
    char msg[160]; /* what is wrong, without the position */
    size_t offset; /* the byte of the input where it went wrong */
};

/*
 * Decodes an application/x-www-form-urlencoded body (borrowed data[0..len), not NUL-terminated;
 * data may be NULL when len is 0) into an owned JSON object in *out: `a=1&b=2` →
 * {"a":"1","b":"2"}, keys in the order of their first appearance. A repeated key → an array of
 * its values in order ({"g":["x","y"]}); `+` is a space (`%2B` is a plus); %XX is decoded (hex
 * digits of either case); a key without `=` → the value ""; empty pairs (`a=1&&b=2`, a trailing
 * `&`) are skipped, so an empty body is {}. Keys and values must be valid UTF-8 after decoding
 * and hold no NUL. At most max_pairs non-empty pairs (0 = WR_FORM_MAX_PAIRS).
 * Returns 0, or -1 with *e filled (a bad %-escape, invalid UTF-8, NUL, too many pairs) and *out
 * NULL. e may be NULL.
 */
int wr_form_parse(const char *data, size_t len, size_t max_pairs, struct json_object **out,
                  struct wr_form_error *e);

#endif
