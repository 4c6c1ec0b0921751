/*
 * json — the one strict JSON reader for every JSON text weir did not write itself: webhook
 * bodies, `weir fire --event` and `weir map --event` files, JSON workflow and config files,
 * JSON and NDJSON drops of the file trigger, weir.json_decode, http-request and Graph
 * responses, and the journal's stored events read back.
 *
 * It reads RFC 8259 JSON and nothing else, into a json-c tree: no NaN or Infinity, no single
 * quotes, no comments, no trailing commas, no leading zeros, nothing after the value but
 * whitespace; strings must be UTF-8 and may not hold raw control characters or lone UTF-16
 * surrogates (\ud800); a key may not repeat within an object (json-c would keep the last one
 * silently) and may not hold NUL (\u0000), and a string value may not either unless the
 * caller allows it. Numbers are kept exactly or refused, never changed: an integer must fit
 * in 64 bits (json-c would clamp 2^64 to INT64_MAX), a number with a fraction or exponent
 * must be finite and not underflow to zero as a double (1e400, 1e-400), and a double keeps
 * its source text so it is written back as it was read. Nesting and the number of values
 * are bounded. Errors carry the byte offset, line and column (columns count UTF-8
 * characters) and the key path of the value concerned.
 *
 * What this module is not: a writer (json-c writes), or a schema check (the callers decide
 * what the top-level value must be).
 */
#ifndef WR_JSON_H
#define WR_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/base/strutil.h"

#define WR_JSON_MAX_DEPTH 64 /* default nesting limit: objects and arrays inside each other */

enum wr_json_errcode {
    WR_JSON_OK = 0,
    WR_JSON_ESYNTAX, /* not JSON */
    WR_JSON_EEOF,    /* the text ends before the value does (or holds no value) */
    WR_JSON_ETEXT,   /* not UTF-8, a control character, a lone surrogate, a NUL */
    WR_JSON_ERANGE,  /* a number weir cannot hold exactly */
    WR_JSON_EDUPKEY, /* a key repeated within one object */
    WR_JSON_EDEPTH,  /* nesting deeper than the limit */
    WR_JSON_ENODES,  /* more values than the limit */
};

struct wr_json_error {
    enum wr_json_errcode code;
    size_t offset;  /* byte offset of the problem in the text */
    int line;       /* 1-based */
    int col;        /* 1-based, in UTF-8 characters */
    char path[256]; /* key path of the value (or key) concerned, "" for the top; cut with "..." */
    char msg[WR_ERR_MAX]; /* what is wrong, without the position: "duplicate key \"id\"" */
};

/*
 * Called for every value in document order, with its key path ("steps[2].user") and the
 * positions of its key (the value's own position for array items and the top value) and of
 * the value. path is borrowed for the call.
 */
typedef void (*wr_json_value_fn)(void *arg, const char *path, int key_line, int key_col, int line,
                                 int col);

struct wr_json_opts {
    int max_depth;             /* 0 = WR_JSON_MAX_DEPTH */
    size_t max_values;         /* 0 = no limit */
    bool allow_nul;            /* string values may hold \u0000 (keys never may) */
    const char *what;          /* names the text: "unexpected end of WHAT", "no JSON value (WHAT
                                  is empty)"; a noun phrase, default "the data" */
    wr_json_value_fn on_value; /* optional */
    void *arg;
};

/*
 * Parses buf[0..len) (need not be NUL-terminated) as one JSON text. opts may be NULL for the
 * defaults. On success returns 0 and sets *out to the owned tree (NULL for a top-level
 * null). On failure returns -1, sets *out to NULL and fills *err (err may be NULL).
 */
int wr_json_parse(const char *buf, size_t len, const struct wr_json_opts *opts,
                  struct json_object **out, struct wr_json_error *err);

/* The same for a NUL-terminated string, with default options and no error details: the tree
   or NULL (for text that is not strict JSON, or the JSON null). For text weir wrote itself. */
struct json_object *wr_json_parse_str(const char *s);

/*
 * Adds value (taken) to obj under key, gathering a repeated key's values in an array, in
 * order: the first value is stored as is; the second turns it into [first, second]; later
 * ones are appended to that array. For trees whose values are never arrays of their own (the
 * form and XML decoders): an array already under key is taken for such a gathering.
 */
void wr_json_object_gather(struct json_object *obj, const char *key, struct json_object *value);

/*
 * The number rules, for readers of other formats (YAML) that must apply them too. Both write
 * the message for a number given as text[0..len) into err and return -1:
 * wr_json_int_range_error for an integer that does not fit in 64 bits;
 * wr_json_double_check for a double d read from text, only when d is infinite or an
 * underflow to zero (returns 0 otherwise, leaving err alone).
 */
int wr_json_int_range_error(const char *text, size_t len, char *err, size_t errlen);
int wr_json_double_check(double d, const char *text, size_t len, char *err, size_t errlen);

#endif
