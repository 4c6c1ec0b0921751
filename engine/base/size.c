/*
 * size — parsing and formatting of "1MiB"-style sizes; see size.h for the grammar.
 *
 * Pure string work apart from wr_size_get's look at a json-c value: no allocation, no locale
 * (the character classes are spelled out, as in duration.c).
 */
#include "engine/base/size.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"

static const struct {
    const char *name;
    uint64_t bytes;
} units[] = {
    {"B", 1},
    {"KB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"TB", (uint64_t)1000 * 1000 * 1000 * 1000},
    {"KiB", (uint64_t)1 << 10},
    {"MiB", (uint64_t)1 << 20},
    {"GiB", (uint64_t)1 << 30},
    {"TiB", (uint64_t)1 << 40},
};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int wr_size_parse(const char *s, uint64_t *out, char *err, size_t errlen)
{
    char q[WR_QUOTE_MAX + 4];
    const char *p = s;
    uint64_t n = 0;
    bool too_big = false;

    if (!s || !*s) {
        return wr_errf(err, errlen, "empty size (e.g. 1MiB, 64KB or 4096)");
    }
    wr_quote_input(s, q);
    for (const char *w = s; *w; w++) {
        if (is_space(*w)) {
            return wr_errf(err, errlen, "whitespace in size '%s' (write e.g. 1MiB)", q);
        }
    }
    if (*s == '-') {
        return wr_errf(err, errlen, "negative size '%s'", q);
    }
    if (!is_digit(*p)) {
        return wr_errf(err, errlen, "invalid size '%s' (expected e.g. 1MiB, 64KB or 4096)", q);
    }
    for (; is_digit(*p); p++) {
        /* Saturate instead of overflowing; anything this big is refused below. */
        if (n > WR_SIZE_MAX) {
            too_big = true;
        } else {
            n = n * 10 + (uint64_t)(*p - '0');
        }
    }
    if (*p == '.') {
        return wr_errf(err, errlen, "'%s' is not a whole number (write e.g. 1536KiB for 1.5MiB)",
                       q);
    }
    uint64_t mul = 1;
    if (*p) {
        size_t u = 0;
        while (u < N_UNITS && strcmp(p, units[u].name) != 0) {
            u++;
        }
        if (u == N_UNITS) {
            return wr_errf(err, errlen,
                           "unknown unit '%.*s' in '%s' (use B, KB, MB, GB, TB, KiB, MiB, GiB or "
                           "TiB)",
                           wr_utf8_prec(p, 16), p, q);
        }
        mul = units[u].bytes;
    }
    if (too_big || n > WR_SIZE_MAX / mul) {
        return wr_errf(err, errlen, "size '%s' is larger than 1TiB", q);
    }
    *out = n * mul;
    return 0;
}

int wr_size_get(struct json_object *v, uint64_t *out, char *err, size_t errlen)
{
    if (json_object_is_type(v, json_type_string)) {
        return wr_size_parse(json_object_get_string(v), out, err, errlen);
    }
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n < 0) {
            return wr_errf(err, errlen, "negative size %" PRId64, n);
        }
        if ((uint64_t)n > WR_SIZE_MAX) {
            return wr_errf(err, errlen, "size %" PRId64 " is larger than 1TiB", n);
        }
        *out = (uint64_t)n;
        return 0;
    }
    return wr_errf(err, errlen, "expected a size such as 1MiB, 64KB or 4096, got %s",
                   wr_json_type_name(v));
}

const char *wr_size_format(uint64_t bytes, char *buf, size_t buflen)
{
    if (!buf || buflen == 0) {
        return buf;
    }
    /* The binary units from the largest down; the first that divides exactly is used. */
    for (size_t u = N_UNITS; u-- > 0;) {
        if (units[u].name[1] == 'i' && bytes > 0 && bytes % units[u].bytes == 0) {
            snprintf(buf, buflen, "%" PRIu64 "%s", bytes / units[u].bytes, units[u].name);
            return buf;
        }
    }
    snprintf(buf, buflen, "%" PRIu64 "B", bytes);
    return buf;
}
