/*
 * srcdoc — a YAML or JSON source file parsed into a json-c tree that remembers where every
 * value came from.
 *
 * Workflow and config files are written by people, so every error must point at a file, line
 * and column. json-c trees carry no positions, so a srcdoc keeps a side table from the key path
 * of every node ("steps[2].action") to the position of its key and of its value. Both YAML
 * (libyaml, YAML 1.2 core schema scalars) and JSON (engine/base/json, weir's strict RFC 8259
 * reader) load into the same kind of tree under the same rules — UTF-8, no NUL, no duplicate
 * keys, no YAML merge keys or aliases, numbers kept exactly or refused (an integer beyond 64
 * bits, 1e400), the same depth and size limits — so the rest of the engine sees one model.
 * This module does no schema checking: that is the workflow and config loaders' job.
 */
#ifndef WR_SRCDOC_H
#define WR_SRCDOC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/base/diag.h"

/* Limits that keep a hostile or broken file from exhausting memory or the stack. */
#define WR_SRCDOC_MAX_BYTES (1024 * 1024)
#define WR_SRCDOC_MAX_DEPTH 64
#define WR_SRCDOC_MAX_NODES 100000

struct wr_pos {
    int line; /* 1-based; 0 = unknown */
    int col;  /* 1-based */
};

struct wr_srcdoc {
    char *file;               /* owned; the name used in messages */
    struct json_object *root; /* owned; NULL when the document is an explicit null */
    struct lh_table *pos;     /* key path -> struct positions */
};

/*
 * Parses buf (len bytes, need not be NUL-terminated) as JSON when `json` is true, else YAML.
 * On success returns 0 and an owned document in *out. On failure returns -1, leaves *out NULL
 * and adds one message naming file:line:col to d.
 */
int wr_srcdoc_parse(const char *file, const char *buf, size_t len, bool json,
                    struct wr_srcdoc **out, struct wr_diags *d);

/*
 * Reads and parses a file; the format follows the extension (.json, else YAML). Files over
 * WR_SRCDOC_MAX_BYTES, unreadable or missing files are errors reported to d. Returns 0 or -1.
 */
int wr_srcdoc_load(const char *file, struct wr_srcdoc **out, struct wr_diags *d);

/* True when the name ends in .yaml, .yml or .json. */
bool wr_srcdoc_is_source_name(const char *name);

void wr_srcdoc_free(struct wr_srcdoc *doc);

/*
 * Position of the value at `path` (or of its key when at_key is true). A path with no entry
 * (e.g. a key that is missing) falls back to its nearest recorded ancestor, so "missing key"
 * errors point at the mapping that lacks it.
 */
struct wr_pos wr_srcdoc_pos(const struct wr_srcdoc *doc, const char *path, bool at_key);

/* Adds "file:line:col: path: message" to d, positioned at path's value (or key). */
void wr_srcdoc_error(const struct wr_srcdoc *doc, struct wr_diags *d, const char *path, bool at_key,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Owned child paths: wr_path_key("steps[2]", "user") = "steps[2].user"; keys that are not
   plain identifiers are quoted: headers["Content Type"]. */
char *wr_path_key(const char *parent, const char *key);
char *wr_path_index(const char *parent, size_t index);

/* Human name of a json-c value's type for messages: "a string", "a list", "null", ... */
const char *wr_json_type_name(const struct json_object *v);

#endif
