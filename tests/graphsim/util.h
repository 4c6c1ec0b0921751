/*
 * util.h: small helpers shared by graphsim's modules.
 *
 * A string-keyed hash map (case-sensitive or not, unique or multi-valued), GUIDs from a fast
 * non-cryptographic generator, clocks and Graph's timestamp formats, base64url, SHA-256 hex,
 * percent-decoding and strict JSON parsing. graphsim is a test tool: allocation failure aborts
 * the process (gs_xmalloc) instead of being threaded through every caller. Nothing here knows
 * about HTTP or the tenant.
 */
#ifndef GS_UTIL_H
#define GS_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* {====== memory ====== */

/* malloc/calloc/realloc/strdup that abort with a message instead of returning NULL. */
void *gs_xmalloc(size_t n);
void *gs_xcalloc(size_t n, size_t size);
void *gs_xrealloc(void *p, size_t n);
char *gs_xstrdup(const char *s);
char *gs_xstrndup(const char *s, size_t n);

/* Returns an owned printf-formatted string. */
char *gs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* }====== */

/* {====== hash map ====== */

struct gs_map;

/* Releases one stored value; passed to gs_map_free/gs_map_clear. */
typedef void gs_map_free_fn(void *value);

/* Called for each entry by gs_map_foreach; the key is borrowed for the call only. */
typedef void gs_map_each_fn(const char *key, void *value, void *arg);

/* Returns a new empty map; nocase makes key comparison ASCII case-insensitive. Keys are copied. */
struct gs_map *gs_map_new(bool nocase);

/* Frees the map and its key copies; each value is passed to free_value when it is not NULL.
 * NULL is accepted. */
void gs_map_free(struct gs_map *m, gs_map_free_fn *free_value);

/* Removes every entry (values go to free_value when not NULL) and keeps the map usable. */
void gs_map_clear(struct gs_map *m, gs_map_free_fn *free_value);

/* Returns the value of the first entry with key, or NULL. */
void *gs_map_get(const struct gs_map *m, const char *key);

/* Sets key to value, replacing an existing entry; returns the replaced value (the caller owns
 * it) or NULL. */
void *gs_map_put(struct gs_map *m, const char *key, void *value);

/* Adds an entry even when the key exists already (a multi-map). */
void gs_map_add(struct gs_map *m, const char *key, void *value);

/* Removes the entry with key and value (any value when value is NULL); returns whether one was
 * removed. The value itself is not freed. */
bool gs_map_remove(struct gs_map *m, const char *key, const void *value);

/* Iterates over the entries with key: start with *cursor = NULL; returns the next value, or NULL
 * when there are no more. The map must not change during the iteration. */
void *gs_map_next(const struct gs_map *m, const char *key, const void **cursor);

/* Calls fn for every entry, in no particular order. */
void gs_map_foreach(const struct gs_map *m, gs_map_each_fn *fn, void *arg);

/* Returns the number of entries. */
size_t gs_map_count(const struct gs_map *m);

/* }====== */

/* {====== ids, clocks, encodings ====== */

/* Seeds the id generator from the kernel's random source; call once at start-up. */
void gs_random_init(void);

/* Returns 64 pseudo-random bits (not for secrets). */
uint64_t gs_random64(void);

/* Writes a random version-4 GUID, lower case, NUL-terminated, into out. */
void gs_guid_new(char out[37]);

/* Returns whether s is a GUID in 8-4-4-4-12 hex form. */
bool gs_is_guid(const char *s);

/* Seconds from an arbitrary monotonic origin; used for token expiry and Retry-After. */
double gs_now_mono(void);

/* Seconds since the Unix epoch. */
double gs_now_wall(void);

/* Formats a wall-clock time as Graph's innerError date ("2025-01-06T12:25:59", no zone) when zone
 * is false, or as an ISO 8601 UTC timestamp with a trailing Z when zone is true. */
void gs_time_format(char out[32], double wall, bool zone);

/* Returns whether s is an Edm.DateTimeOffset literal: YYYY-MM-DDTHH:MM[:SS[.fff]] followed by Z
 * or +HH:MM / -HH:MM. */
bool gs_is_datetimeoffset(const char *s);

/* Returns an owned base64url string (no padding) of len bytes. */
char *gs_base64url(const void *data, size_t len);

/* Returns an owned standard base64 string (with padding) of len bytes. */
char *gs_base64(const void *data, size_t len);

/* Decodes standard base64 (with padding) into an owned NUL-terminated buffer; returns NULL on
 * malformed input. *len receives the decoded length when len is not NULL. */
char *gs_base64_decode(const char *s, size_t *len);

/* Writes the lower-case hex SHA-256 of data into out (65 bytes with the NUL). */
void gs_sha256_hex(const void *data, size_t len, char out[65]);

/* Decodes %XX escapes in place (and '+' as a space when plus_space); returns false on a malformed
 * escape or an embedded NUL. */
bool gs_pct_decode(char *s, bool plus_space);

/* Returns an owned copy of s with ASCII letters lowered. */
char *gs_lower_dup(const char *s);

/* }====== */

/* {====== JSON ====== */

/* Parses a complete JSON text of len bytes strictly (no trailing garbage). Returns an owned
 * object, or NULL with a reason in err. A valid "null" text also returns NULL, with err set. */
json_object *gs_json_parse(const char *buf, size_t len, char *err, size_t errlen);

/* Serialises obj compactly without escaping '/'; the string is borrowed from obj. */
const char *gs_json_str(json_object *obj);

/* Returns the string member key of obj, or NULL when missing or not a string. */
const char *gs_json_get_str(json_object *obj, const char *key);

/* Adds key = a new string (NULL adds JSON null) to obj. */
void gs_json_add_str(json_object *obj, const char *key, const char *value);

/* }====== */

#endif
