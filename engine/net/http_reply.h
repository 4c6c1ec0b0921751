/*
 * http_reply — the JSON answers weir's HTTP listeners (webhooks, admin API) send: one body
 * shape for successes and {"error": "..."} for failures, with the right Content-Type.
 */
#ifndef WR_HTTP_REPLY_H
#define WR_HTTP_REPLY_H

#include <json-c/json.h>

struct evhttp_request;

/* Sends body (taken: released here) as application/json with the given status. */
void wr_http_reply_json(struct evhttp_request *req, int code, const char *reason,
                        struct json_object *body);

/* Sends {"error": <printf-style message>} with the given status. */
void wr_http_reply_error(struct evhttp_request *req, int code, const char *reason, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

#endif
