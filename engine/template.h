/*
 * template — the `{{ expr }}` syntax inside workflow strings, and syntax checks of Lua
 * expressions at load time.
 *
 * A string that is exactly "{{ expr }}" (spaces around allowed) is a whole-value template: it
 * takes the expression's value, whatever its type. Any other string holding "{{ }}" interpolates
 * to a string. This module splits strings into literal and expression parts and checks that
 * each expression compiles; evaluating them is the Lua host's job, not this module's.
 */
#ifndef WR_TEMPLATE_H
#define WR_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

struct lua_State;

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

/*
 * Checks that a Lua expression compiles (text only, never bytecode) in L, which needs no
 * libraries: the expression is compiled, not run. Returns 0, or -1 with a short message such
 * as "unexpected symbol near '='" in err.
 */
int wr_expr_check(struct lua_State *L, const char *expr, size_t len, char *err, size_t errlen);

/*
 * Checks every expression in a template string. Returns 0 (also for plain strings), or -1
 * with "in '{{ expr }}': message" in err.
 */
int wr_template_check(struct lua_State *L, const char *s, char *err, size_t errlen);

#endif
