/*
 * template — splitting "{{ expr }}" strings and compiling their expressions; see template.h.
 */
#include "engine/lua/template.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/strutil.h"

const char wr_template_help[] =
    "Templates, values and what weir refuses to change\n"
    "\n"
    "  \"{{ expr }}\" alone takes the Lua expression's value (a table, number, boolean);\n"
    "  \"text {{ expr }} text\" makes a string. Expressions see event, steps, vars, run,\n"
    "  env and the weir.* helpers.\n"
    "\n"
    "Missing values are never sent as null\n"
    "  An action argument whose template yields nil fails the step, naming the step, the\n"
    "  argument and the expression:\n"
    "    steps[0].set.officeLocation: template '{{ event.employee.office }}' is nil; ...\n"
    "  Graph reads null as \"clear this property\", so null is sent only when the workflow\n"
    "  says so: weir.null is null on purpose (and so is a null the sender wrote in the\n"
    "  event). To clear a property when the field is missing:\n"
    "    officeLocation: \"{{ event.employee.office or weir.null }}\"\n"
    "  To skip the step instead, give it a when:. A table built in Lua has no nil values: a\n"
    "  missing field leaves its key out (the property is not touched); weir.null writes null.\n"
    "  Inside text, nil and weir.null are errors too: \"x {{ nil }}\" never becomes \"x \"\n"
    "  (write {{ event.x or \"\" }} for an empty part). tostring(weir.null) is \"weir.null\".\n"
    "  A template's result must also fit its argument: user: \"{{ event.id }}\" yielding the\n"
    "  integer 42 fails the step (a user reference is a string).\n"
    "\n"
    "Numbers are kept exactly or refused\n"
    "  Everywhere JSON or YAML comes in (webhook bodies, weir fire/map --event, workflow and\n"
    "  config files, JSON and NDJSON file drops, weir.json_decode, http-request and Graph\n"
    "  answers): an integer must fit in 64 bits (-9223372036854775808 to\n"
    "  9223372036854775807) and any other number in a double (1e400 and 1e-400 do not).\n"
    "  Anything else is refused with its position; send such a number as a string to keep it\n"
    "  exact. Text around {{ }} writes numbers exactly: 12345678901234567 stays as it is.\n"
    "\n"
    "JSON is RFC 8259, nothing more\n"
    "  No NaN or Infinity, single quotes, comments, trailing commas, leading zeros,\n"
    "  duplicate keys, \\u0000 (NUL), lone \\ud800 surrogates or invalid UTF-8. A webhook\n"
    "  body must be an object (a list only where split: takes it apart; each item an\n"
    "  object): 400 names the line and column of a JSON error, 422 a body of the wrong shape.\n"
    "\n"
    "Form and XML bodies (a webhook's accept:)\n"
    "  A form body is an object of strings (a repeated key: a list of them). An XML body is\n"
    "  {ROOT: ...} by local names (a SOAP envelope unwrapped), attributes as \"@name\", text\n"
    "  beside children as \"#text\"; an element that repeats is a list, one that does not is\n"
    "  not: weir.list(x) is always a list (nil -> {}), and weir.index(records, key, value)\n"
    "  turns name/value records into a table by name (defaults \"name\" and \"value\").\n"
    "\n"
    "Timestamps (wait_until:, weir.date)\n"
    "  YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][.fraction][Z|+HH:MM|-HH:MM]; no zone means UTC, a\n"
    "  date alone its midnight UTC. Impossible times (2099-02-30, 25:61, +99:00, leap second\n"
    "  :60) are refused with the field named. wait_until never wakes before the instant.\n"
    "\n"
    "Scripts\n"
    "  script: files must live in the directory of weir.yaml or below it (without a config,\n"
    "  the current directory); a symbolic link counts where it leads.\n";

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
