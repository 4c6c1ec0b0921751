/*
 * http_request — the http-request action: one HTTP call to another service (Slack, a ticketing
 * system, another SaaS), with a JSON or text body and an expected status.
 */
#include <stdlib.h>

#include "actions/action.h"

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

static const struct wr_argspec http_request_args[] = {
    {.name = "method",
     .type = WR_ARG_ENUM,
     .choices = methods,
     .help = "HTTP method; default POST when there is a body, else GET"},
    {.name = "url", .type = WR_ARG_URL, .flags = WR_ARG_REQUIRED, .help = "http(s) URL"},
    {.name = "headers", .type = WR_ARG_OBJECT, .help = "extra request headers (name: value)"},
    {.name = "body", .type = WR_ARG_ANY, .help = "a mapping or list (sent as JSON) or a string"},
    {.name = "expect",
     .type = WR_ARG_ANY,
     .help = "accepted status code or list of codes; default any 2xx"},
    {0},
};

static void http_request_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    struct json_object *headers = NULL, *expect = NULL;
    if (json_object_object_get_ex(args, "headers", &headers) &&
        json_object_is_type(headers, json_type_object)) {
        json_object_object_foreach(headers, name, value)
        {
            if (!json_object_is_type(value, json_type_string)) {
                char *hp = wr_path_key(path, "headers");
                char *p = wr_path_key(hp, name);
                wr_check_error(c, p, false, "a header value must be a string, got %s",
                               wr_json_type_name(value));
                free(p);
                free(hp);
            }
        }
    }
    if (json_object_object_get_ex(args, "expect", &expect)) {
        bool ok = true;
        if (json_object_is_type(expect, json_type_int)) {
            int64_t code = json_object_get_int64(expect);
            ok = code >= 100 && code <= 599;
        } else if (json_object_is_type(expect, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(expect); i++) {
                struct json_object *e = json_object_array_get_idx(expect, i);
                int64_t code = json_object_get_int64(e);
                ok = ok && json_object_is_type(e, json_type_int) && code >= 100 && code <= 599;
            }
        } else {
            ok = false;
        }
        if (!ok) {
            char *p = wr_path_key(path, "expect");
            wr_check_error(c, p, false, "expected a status code (100-599) or a list of them");
            free(p);
        }
    }
}

const struct wr_action wr_action_http_request = {
    .name = "http-request",
    .summary = "call another service over HTTP(S), e.g. a Slack webhook or a ticketing API",
    .args = http_request_args,
    .validate = http_request_validate,
};
