/*
 * template — splitting "{{ expr }}" strings and compiling their expressions; see template.h.
 */
#include "engine/template.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "engine/strutil.h"

bool wr_template_has(const char *s)
{
    return strstr(s, "{{") != NULL;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1])) {
        (*len)--;
    }
}

bool wr_template_whole(const char *s, const char **expr, size_t *len)
{
    const char *p = s;
    size_t n = strlen(s);
    trim(&p, &n);
    if (n < 4 || strncmp(p, "{{", 2) != 0 || strncmp(p + n - 2, "}}", 2) != 0) {
        return false;
    }
    const char *inner = p + 2;
    size_t inner_len = n - 4;
    /* "{{ a }} and {{ b }}" starts and ends with braces but is an interpolation. */
    for (size_t i = 0; i + 1 < inner_len; i++) {
        if ((inner[i] == '}' && inner[i + 1] == '}') || (inner[i] == '{' && inner[i + 1] == '{')) {
            return false;
        }
    }
    trim(&inner, &inner_len);
    *expr = inner;
    *len = inner_len;
    return true;
}

int wr_template_split(const char *s, wr_template_part_fn fn, void *arg, char *err, size_t errlen)
{
    const char *p = s;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open) {
            if (*p) {
                int rc = fn(arg, false, p, strlen(p));
                if (rc) {
                    return rc;
                }
            }
            return 0;
        }
        if (open > p) {
            int rc = fn(arg, false, p, (size_t)(open - p));
            if (rc) {
                return rc;
            }
        }
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            snprintf(err, errlen, "'{{' without a closing '}}'");
            return -1;
        }
        const char *e = open + 2;
        size_t len = (size_t)(close - e);
        trim(&e, &len);
        if (len == 0) {
            snprintf(err, errlen, "empty expression '{{ }}'");
            return -1;
        }
        int rc = fn(arg, true, e, len);
        if (rc) {
            return rc;
        }
        p = close + 2;
    }
}

int wr_expr_check(struct lua_State *L, const char *expr, size_t len, char *err, size_t errlen)
{
    struct wr_buf src = {0};
    /* Newlines keep a trailing "-- comment" in the expression from eating the parenthesis. */
    wr_buf_add(&src, "return (\n");
    wr_buf_addn(&src, expr, len);
    wr_buf_add(&src, "\n)");
    int rc = luaL_loadbufferx(L, src.data, src.len, "=expr", "t");
    wr_buf_free(&src);
    if (rc == LUA_OK) {
        lua_pop(L, 1);
        return 0;
    }
    const char *msg = lua_tostring(L, -1);
    /* Lua says "expr:2: message"; the line is always the wrapper's, so drop it. */
    const char *colon = msg ? strchr(msg, ':') : NULL;
    if (colon && (colon = strchr(colon + 1, ':')) != NULL) {
        msg = colon + 1;
        while (*msg == ' ') {
            msg++;
        }
    }
    snprintf(err, errlen, "%s", msg ? msg : "cannot compile");
    /* The wrapper's closing parenthesis sits on its own line: name it as the end instead. */
    char *nl = strstr(err, "near '\n)'");
    if (nl) {
        snprintf(nl, errlen - (size_t)(nl - err), "at the end of the expression");
    }
    lua_pop(L, 1);
    return -1;
}

struct check_ctx {
    struct lua_State *L;
    char *err;
    size_t errlen;
};

static int check_part(void *arg, bool is_expr, const char *text, size_t len)
{
    struct check_ctx *c = arg;
    char msg[256];
    if (!is_expr) {
        return 0;
    }
    if (wr_expr_check(c->L, text, len, msg, sizeof(msg)) != 0) {
        snprintf(c->err, c->errlen, "in '{{ %.*s }}': %s", (int)(len > 80 ? 80 : len), text, msg);
        return -1;
    }
    return 0;
}

int wr_template_check(struct lua_State *L, const char *s, char *err, size_t errlen)
{
    struct check_ctx c = {L, err, errlen};
    if (!wr_template_has(s)) {
        return 0;
    }
    return wr_template_split(s, check_part, &c, err, errlen) == 0 ? 0 : -1;
}
