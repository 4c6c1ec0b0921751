/*
 * http_reply — JSON and text answers for evhttp requests; see http_reply.h.
 */
#include "engine/net/http_reply.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdarg.h>

#include "engine/base/strutil.h"

void wr_http_reply_json(struct evhttp_request *req, int code, const char *reason,
                        struct json_object *body)
{
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_printf(out, "%s\n",
                        json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
    json_object_put(body);
}

void wr_http_reply_error(struct evhttp_request *req, int code, const char *reason, const char *fmt,
                         ...)
{
    struct wr_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    wr_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(wr_buf_str(&b)));
    wr_buf_free(&b);
    wr_http_reply_json(req, code, reason, o);
}

void wr_http_reply_text(struct evhttp_request *req, int code, const char *reason,
                        const char *content_type, const char *text, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type);
    evbuffer_add(out, text, len);
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

void wr_http_add_page_headers(struct evhttp_request *req, const char *csp)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cache-Control", "no-store");
}
