/*
 * http_reply — the answers weir's HTTP listeners (webhooks, admin API, the approval page) send:
 * JSON, one body shape for successes and {"error": "..."} for failures, or a text of a given
 * type, each with the right Content-Type.
 */
#ifndef WR_HTTP_REPLY_H
#define WR_HTTP_REPLY_H

#include <json-c/json.h>
#include <stddef.h>

struct evhttp_request;

/* Sends body (taken: released here) as application/json with the given status. */
void wr_http_reply_json(struct evhttp_request *req, int code, const char *reason,
                        struct json_object *body);

/* Sends {"error": <printf-style message>} with the given status. */
void wr_http_reply_error(struct evhttp_request *req, int code, const char *reason, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

/* Sends text (borrowed, len bytes) as content_type (e.g. "text/html; charset=utf-8") with the
   given status. Headers the caller added before stay. */
void wr_http_reply_text(struct evhttp_request *req, int code, const char *reason,
                        const char *content_type, const char *text, size_t len);

/* Adds the headers of a page a browser shows (the console, the approval page) to req's answer,
   before it is sent: Content-Security-Policy csp (borrowed), X-Frame-Options DENY,
   X-Content-Type-Options nosniff, Referrer-Policy no-referrer, Cache-Control no-store. */
void wr_http_add_page_headers(struct evhttp_request *req, const char *csp);

#endif
