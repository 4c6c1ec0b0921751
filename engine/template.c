/*
 * template — splitting "{{ expr }}" strings and compiling their expressions; see template.h.
 */
#include "engine/template.h"

#include <ctype.h>
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
