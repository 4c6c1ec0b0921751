/*
 * template — the `{{ expr }}` syntax inside workflow strings, and syntax checks of Lua
 * expressions at load time.
 *
 * A string that is exactly "{{ expr }}" (spaces around allowed) is a whole-value template: it
 * takes the expression's value, whatever its type. Any other string holding "{{ }}" interpolates
 * to a string. This module splits strings into literal and expression parts and checks that
 * nothing else: compiling and evaluating expressions is the Lua host's job.
 */
#ifndef WR_TEMPLATE_H
#define WR_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The text of `weir help templates`: the template syntax and the value rules (nil, weir.null,
 * numbers, timestamps, JSON input) that the loader, the Lua host and the executor apply.
 */
extern const char wr_template_help[];

/* True when s contains "{{". */
bool wr_template_has(const char *s);

/*
 * When s is a whole-value template, returns true and sets *expr and *len to the expression text
 * (borrowed from s, trimmed).
 */
bool wr_template_whole(const char *s, const char **expr, size_t *len);

/* Called for each part of a template, in order. Returns 0 to continue, non-zero to stop. */
typedef int (*wr_template_part_fn)(void *arg, bool is_expr, const char *text, size_t len);

/*
 * Splits s into literal text and trimmed expressions. Returns 0, the callback's non-zero
 * value, or -1 with a message in err for an unclosed "{{" or an empty "{{ }}".
 */
int wr_template_split(const char *s, wr_template_part_fn fn, void *arg, char *err, size_t errlen);

#endif
