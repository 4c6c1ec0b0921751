/*
 * approval_page — the decision page of approval links; see approval_page.h.
 *
 * Everything answers on the spot on the page's own SQLite connection, like the admin API: a
 * lookup by the token's hash, and for a POST one short write transaction.
 */
#include "engine/approval_page.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/base/captoken.h"
#include "engine/base/clock.h"
#include "engine/base/json.h"
#include "engine/base/log.h"
#include "engine/base/strutil.h"
#include "engine/net/http_reply.h"
#include "engine/store/approval.h"
#include "engine/store/approval_key.h"
#include "engine/store/journal.h"

struct wr_approval_page {
    struct wr_db *db; /* read-write: lookups and decisions */
    unsigned char key[WR_CAPTOKEN_KEY_LEN];
    void (*wake)(void *arg);
    void *wake_arg;
};

/* {====== HTML ====== */

/* Appends s HTML-escaped (text and attribute values alike). */
static void html_add(struct wr_buf *b, const char *s)
{
    for (; s && *s; s++) {
        const char *e = wr_html_entity(*s);
        if (e) {
            wr_buf_add(b, e);
        } else {
            wr_buf_addc(b, *s);
        }
    }
}

static void page_begin(struct wr_buf *b, const char *title)
{
    wr_buf_add(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<meta name=\"robots\" content=\"noindex, nofollow\"><title>");
    html_add(b, title);
    wr_buf_add(b, " · weir</title><style>"
                  "body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;"
                  "padding:0 1em;color:#222}"
                  "dt{font-weight:600;margin-top:.6em}dd{margin-left:0}"
                  "pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap;"
                  "word-break:break-all}"
                  ".message{font-size:1.2em;border-left:4px solid #888;padding-left:.6em}"
                  "button{font-size:1.1em;padding:.4em 1.4em;margin-right:1em}"
                  "input[type=text]{width:100%;font-size:1em;padding:.3em}"
                  ".state{font-weight:600}"
                  "</style></head><body>\n<h1>");
    html_add(b, title);
    wr_buf_add(b, "</h1>\n");
}

/* Sends the page in b (freed) with the page's security headers. */
static void page_send(struct evhttp_request *req, int code, const char *reason, struct wr_buf *b)
{
    wr_buf_add(b, "</body></html>\n");
    wr_http_add_page_headers(req, "default-src 'none'; style-src 'unsafe-inline'; "
                                  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    const char *text = wr_buf_str(b);
    wr_http_reply_text(req, code, reason, "text/html; charset=utf-8", text, strlen(text));
    wr_buf_free(b);
}

/* A page with a title and one sentence, naming nothing of the request. */
static void page_generic(struct evhttp_request *req, int code, const char *reason,
                         const char *title, const char *text)
{
    struct wr_buf b = {0};
    page_begin(&b, title);
    wr_buf_add(&b, "<p>");
    html_add(&b, text);
    wr_buf_add(&b, "</p>\n");
    page_send(req, code, reason, &b);
}

static void not_found(struct evhttp_request *req)
{
    page_generic(req, 404, "Not Found", "Not found", "This approval link is not valid.");
}

static void expired(struct evhttp_request *req)
{
    page_generic(req, 410, "Gone", "Expired", "This approval link has expired.");
}

static void store_failed(struct evhttp_request *req, const char *err)
{
    wr_log(WR_LOG_ERROR, "approval page: the journal cannot be read or written", "error", err,
           NULL);
    page_generic(req, 500, "Internal Server Error", "Error",
                 "The request cannot be handled now; try again later.");
}

/* Unix ms as "2024-05-01T14:00:00Z". */
static void iso_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, 32, "%lld", (long long)ms);
    }
}

/* The plan (JSON text of [{step, action, args}]) as a list; text that is not such an array is
   shown as it is. */
static void plan_add(struct wr_buf *b, const char *plan)
{
    struct json_object *p = plan ? wr_json_parse_str(plan) : NULL;
    if (!p || !json_object_is_type(p, json_type_array)) {
        if (plan) {
            wr_buf_add(b, "<pre>");
            html_add(b, plan);
            wr_buf_add(b, "</pre>\n");
        }
        json_object_put(p);
        return;
    }
    if (json_object_array_length(p) == 0) {
        wr_buf_add(b, "<p>No further steps.</p>\n");
    }
    wr_buf_add(b, "<ol>\n");
    for (size_t i = 0; i < json_object_array_length(p); i++) {
        struct json_object *s = json_object_array_get_idx(p, i), *v = NULL;
        wr_buf_add(b, "<li>");
        if (json_object_object_get_ex(s, "step", &v) && v) {
            wr_buf_add(b, "<strong>");
            html_add(b, json_object_get_string(v));
            wr_buf_add(b, "</strong> ");
        }
        if (json_object_object_get_ex(s, "action", &v) && v) {
            wr_buf_add(b, "<code>");
            html_add(b, json_object_get_string(v));
            wr_buf_add(b, "</code>");
        }
        if (json_object_object_get_ex(s, "args", &v) && v) {
            wr_buf_add(b, "<pre>");
            html_add(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
            wr_buf_add(b, "</pre>");
        }
        wr_buf_add(b, "</li>\n");
    }
    wr_buf_add(b, "</ol>\n");
    json_object_put(p);
}

static void field_add(struct wr_buf *b, const char *name, const char *value)
{
    wr_buf_add(b, "<dt>");
    html_add(b, name);
    wr_buf_add(b, "</dt><dd>");
    html_add(b, value);
    wr_buf_add(b, "</dd>\n");
}

/* The page of an open or decided (not expired) request. */
static void page_request(struct evhttp_request *req, const struct wr_approval *a,
                         const char *approver)
{
    struct wr_buf b = {0};
    char when[32];
    bool open = !a->decision;

    page_begin(&b, "Approval requested");
    wr_buf_add(&b, "<p class=\"message\">");
    html_add(&b, a->message);
    wr_buf_add(&b, "</p>\n<p>You are asked as <strong>");
    html_add(&b, approver);
    wr_buf_add(&b, "</strong>.</p>\n<dl>\n");
    field_add(&b, "Workflow", a->workflow);
    field_add(&b, "Run", a->run_id);
    if (a->step_id) {
        field_add(&b, "Step", a->step_id);
    }
    wr_buf_add(&b, "<dt>State</dt><dd class=\"state\">");
    if (open) {
        iso_time(a->expires_at, when);
        wr_buf_add(&b, "open, until ");
        html_add(&b, when);
    } else {
        iso_time(a->decided_at, when);
        html_add(&b, a->decision);
        wr_buf_add(&b, " by ");
        html_add(&b, a->decided_by);
        wr_buf_add(&b, " at ");
        html_add(&b, when);
        if (a->reason && *a->reason) {
            wr_buf_add(&b, ": ");
            html_add(&b, a->reason);
        }
    }
    wr_buf_add(&b, "</dd>\n</dl>\n");
    if (a->plan) {
        wr_buf_add(&b, "<h2>What happens when approved</h2>\n");
        plan_add(&b, a->plan);
    }
    if (open) {
        /* No action attribute: the form posts to this very URL (form-action 'self'). */
        wr_buf_add(&b, "<form method=\"post\">\n<p><label for=\"reason\">Reason (optional)</label>"
                       "<br><input type=\"text\" id=\"reason\" name=\"reason\" maxlength=\"1000\" "
                       "autocomplete=\"off\"></p>\n<p><button type=\"submit\" name=\"decision\" "
                       "value=\"approve\">Approve</button><button type=\"submit\" "
                       "name=\"decision\" value=\"reject\">Reject</button></p>\n</form>\n");
    }
    page_send(req, 200, "OK", &b);
}

/* }====== */

/* {====== the form ====== */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A form value or key (s, n bytes) decoded ('+' is a space, %XX a byte): owned, or NULL when
   it is malformed, holds a NUL or is not UTF-8. */
static char *form_decode(const char *s, size_t n)
{
    char *out = wr_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!wr_utf8_valid(out, o)) {
        free(out);
        return NULL;
    }
    return out;
}

/* Reads `decision=approve|reject[&reason=TEXT]` from body (len bytes): 0 with *approve and
 *reason (owned, NULL when absent or empty), -1 when it is anything else. */
static int form_parse(const char *body, size_t len, bool *approve, char **reason)
{
    const char *p = body, *end = body + len;
    bool have_decision = false;
    *reason = NULL;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop == p) { /* "a=1&&b=2": an empty pair */
            p = stop + 1;
            continue;
        }
        char *k = form_decode(p, (size_t)((eq ? eq : stop) - p));
        char *v = eq ? form_decode(eq + 1, (size_t)(stop - eq - 1)) : wr_xstrdup("");
        bool ok = k && v;
        if (ok && strcmp(k, "decision") == 0 && !have_decision) {
            have_decision = true;
            ok = strcmp(v, "approve") == 0 || strcmp(v, "reject") == 0;
            *approve = ok && v[0] == 'a';
        } else if (ok && strcmp(k, "reason") == 0 && !*reason) {
            *reason = v[0] ? v : NULL;
            v = *reason ? NULL : v;
        } else {
            ok = false;
        }
        free(k);
        free(v);
        if (!ok) {
            free(*reason);
            *reason = NULL;
            return -1;
        }
        p = amp ? amp + 1 : end;
    }
    if (!have_decision) {
        free(*reason);
        *reason = NULL;
        return -1;
    }
    return 0;
}

static bool is_form(struct evhttp_request *req)
{
    static const char type[] = "application/x-www-form-urlencoded";
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (!ct || strncasecmp(ct, type, sizeof(type) - 1) != 0) {
        return false;
    }
    ct += sizeof(type) - 1;
    return *ct == '\0' || *ct == ';' || *ct == ' ';
}

/* }====== */

/* {====== serving ====== */

/*
 * The request behind the token in the request's path: 1 with *a and *approver (owned), 0 when
 * the answer was sent (404 for a malformed, unknown or tampered token, 500).
 */
static int lookup(struct wr_approval_page *p, struct evhttp_request *req, struct wr_approval *a,
                  char **approver)
{
    const char *target = evhttp_request_get_uri(req);
    static const char prefix[] = WR_APPROVAL_PAGE_PREFIX;
    char token[WR_CAPTOKEN_LEN + 1];
    char hash[65], expect[WR_CAPTOKEN_LEN + 1], err[WR_ERR_MAX];

    memset(a, 0, sizeof(*a));
    *approver = NULL;
    if (!target || strncmp(target, prefix, sizeof(prefix) - 1) != 0) {
        not_found(req);
        return 0;
    }
    target += sizeof(prefix) - 1;
    size_t n = strcspn(target, "?#");
    /* The shape first: garbage never reaches the journal. */
    if (n != WR_CAPTOKEN_LEN) {
        not_found(req);
        return 0;
    }
    memcpy(token, target, n);
    token[n] = '\0';
    if (!wr_captoken_well_formed(token)) {
        not_found(req);
        return 0;
    }
    wr_captoken_hash(token, hash);
    int rc = wr_approval_find_token(p->db, hash, a, approver, err, sizeof(err));
    if (rc < 0) {
        store_failed(req, err);
        return 0;
    }
    if (rc == 0) {
        not_found(req);
        return 0;
    }
    /* The stored hash matched; the token must also be the one the key makes for this request
       and approver (a row of another request, or a key replaced since, is refused). */
    wr_captoken_make(p->key, a->run_id, a->step_idx, *approver, a->nonce, expect);
    bool same = CRYPTO_memcmp(expect, token, WR_CAPTOKEN_LEN) == 0;
    OPENSSL_cleanse(expect, sizeof(expect));
    OPENSSL_cleanse(token, sizeof(token));
    if (!same) {
        wr_approval_clear(a);
        free(*approver);
        *approver = NULL;
        not_found(req);
        return 0;
    }
    return 1;
}

static void decide(struct wr_approval_page *p, struct evhttp_request *req,
                   const struct wr_approval *a, const char *approver)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char err[WR_ERR_MAX];
    bool approve = false;
    char *reason = NULL;

    if (len > WR_APPROVAL_PAGE_MAX_BODY) {
        page_generic(req, 413, "Payload Too Large", "Bad request", "The form is too large.");
        return;
    }
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    if (!is_form(req) || form_parse(body, len, &approve, &reason) != 0) {
        page_generic(req, 400, "Bad Request", "Bad request",
                     "Send decision=approve or decision=reject as a form.");
        return;
    }
    int rc = wr_approval_decide(p->db, a->run_id, a->step_idx, approve, approver, reason,
                                wr_clock_wall_ms(), err, sizeof(err));
    free(reason);
    switch (rc) {
    case 0:
        break;
    case WR_APPROVAL_EDECIDED:
        page_generic(req, 409, "Conflict", "Already decided",
                     "This request was already decided; nothing was changed.");
        return;
    case WR_APPROVAL_EEXPIRED:
        expired(req);
        return;
    case WR_APPROVAL_ENOTFOUND:
        not_found(req); /* replaced between the lookup and now */
        return;
    default:
        store_failed(req, err);
        return;
    }
    char idx[24];
    snprintf(idx, sizeof(idx), "%lld", (long long)a->step_idx);
    wr_log(WR_LOG_INFO, "approval decided on its page", "run", a->run_id, "step", idx, "decision",
           approve ? "approved" : "rejected", "by", approver, NULL);
    const char *title = approve ? "Approved" : "Rejected";
    struct wr_buf b = {0};
    page_begin(&b, title);
    wr_buf_add(&b, "<p>");
    html_add(&b, title);
    wr_buf_add(&b, " as <strong>");
    html_add(&b, approver);
    wr_buf_add(&b, "</strong>: run ");
    html_add(&b, a->run_id);
    wr_buf_add(&b, " of ");
    html_add(&b, a->workflow);
    wr_buf_add(&b, approve ? " goes on.</p>\n" : " stops at this step.</p>\n");
    page_send(req, 200, "OK", &b);
    if (p->wake) {
        p->wake(p->wake_arg);
    }
}

void wr_approval_page_serve(struct evhttp_request *req, void *arg)
{
    struct wr_approval_page *p = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct wr_approval a;
    char *approver = NULL;

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD && cmd != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD, POST");
        page_generic(req, 405, "Method Not Allowed", "Method not allowed",
                     "Open this link in a browser.");
        return;
    }
    if (lookup(p, req, &a, &approver) == 0) {
        return;
    }
    if (!a.decision && wr_clock_wall_ms() >= a.expires_at) {
        expired(req);
    } else if (cmd == EVHTTP_REQ_POST) {
        decide(p, req, &a, approver);
    } else {
        page_request(req, &a, approver);
    }
    wr_approval_clear(&a);
    free(approver);
}

/* }====== */

struct wr_approval_page *wr_approval_page_new(const char *state_path, void (*wake)(void *arg),
                                              void *arg, char *err, size_t errlen)
{
    struct wr_approval_page *p = wr_xcalloc(1, sizeof(*p));
    if (wr_approval_key_load(state_path, p->key, err, errlen) != 0) {
        goto err;
    }
    p->db = wr_journal_open_reader(state_path, err, errlen);
    if (!p->db) {
        goto err;
    }
    p->wake = wake;
    p->wake_arg = arg;
    return p;
err:
    wr_approval_page_free(p);
    return NULL;
}

void wr_approval_page_free(struct wr_approval_page *p)
{
    if (!p) {
        return;
    }
    wr_journal_close_reader(p->db);
    OPENSSL_cleanse(p->key, sizeof(p->key));
    free(p);
}
