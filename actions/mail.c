/*
 * mail — send-mail (POST /users/{from}/sendMail) and set-auto-reply (PATCH
 * /users/{id}/mailboxSettings).
 *
 * send-mail is not idempotent: Graph keeps no trace of a sent message that weir could read back
 * and compare (a message in Sent Items is not there when save_to_sent is false, nor at once),
 * so the rule is "at most once": the POST goes through wr_action_write_once (alone, on a fresh
 * connection, retried by the Graph client only when Graph certainly did not act on it: 429, 503
 * with Retry-After), and a failure after which Graph may have accepted the mail (no answer,
 * a timeout, a 5xx) fails the step non-retriably with an error that says so — a person decides
 * whether to send it again (`weir retry`). 4xx answers say Graph did not take it: they fail as
 * Graph says (429 and 503 with Retry-After are retried by the run like any throttling).
 *
 * HTML bodies: templates render values as they are. `format: html` (the default) sends the
 * body as written, so a value from an event goes in through weir.html ({{ weir.html(event.name)
 * }}), which escapes & < > " and '. `format: text` needs no escaping.
 *
 * set-auto-reply reads the mailbox's automaticRepliesSetting first and writes only when a value
 * the step names differs. Exchange keeps a plain reply message as HTML (it reads back wrapped
 * in <html><body><div>), so messages are compared by their text: tags dropped, the five basic
 * entities and &nbsp; decoded, white space collapsed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actions/action.h"
#include "engine/base/strutil.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"

#define UNDO_IMPOSSIBLE "a sent mail cannot be recalled"

/* {====== arguments ====== */

static const char *const formats[] = {"html", "text", NULL};
static const char *const reply_statuses[] = {"disabled", "alwaysEnabled", "scheduled", NULL};
static const char *const audiences[] = {"none", "contactsOnly", "all", NULL};

#define RECIPIENTS_HELP                                                                            \
    "an address, a user reference (no @: object id or employeeId:VALUE; {user: REF} for any "      \
    "reference) or {manager-of: USER} (that user's manager's mail), or a list of them"

/* For `weir schema`: the shape check_recipient checks, one recipient or a list of them. */
#define RECIPIENT_SCHEMA                                                                           \
    "{\"anyOf\": [{\"type\": \"string\", \"minLength\": 1}, {\"type\": \"object\", "               \
    "\"properties\": {\"user\": {\"type\": \"string\"}, \"manager-of\": {\"type\": \"string\"}}, " \
    "\"minProperties\": 1, \"maxProperties\": 1, \"additionalProperties\": false}]}"
#define RECIPIENTS_SCHEMA                                                                          \
    "{\"anyOf\": [" RECIPIENT_SCHEMA ", {\"type\": \"array\", \"items\": " RECIPIENT_SCHEMA "}]}"

static const struct wr_argspec send_mail_args[] = {
    {.name = "from",
     .type = WR_ARG_STRING,
     .help = "the sending mailbox (object id, userPrincipalName, mail or employeeId:VALUE); "
             "default weir.yaml mail.from, and required when that is not set"},
    {.name = "to",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_OWN_CHECK,
     .expect = "an address, a user reference, {manager-of: USER}, or a list of them",
     .help = RECIPIENTS_HELP,
     .schema = RECIPIENTS_SCHEMA},
    {.name = "cc",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_OWN_CHECK,
     .expect = "an address, a user reference, {manager-of: USER}, or a list of them",
     .help = "as to:",
     .schema = RECIPIENTS_SCHEMA},
    {.name = "bcc",
     .type = WR_ARG_ANY,
     .flags = WR_ARG_OWN_CHECK,
     .expect = "an address, a user reference, {manager-of: USER}, or a list of them",
     .help = "as to:",
     .schema = RECIPIENTS_SCHEMA},
    {.name = "subject",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_EMPTY_OK,
     .help = "the subject line"},
    {.name = "body",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_REQUIRED | WR_ARG_EMPTY_OK,
     .help = "the message; with format html it is sent as written: put values from events in "
             "through {{ weir.html(...) }}, which escapes them"},
    {.name = "format", .type = WR_ARG_ENUM, .choices = formats, .help = "html (default) or text"},
    {.name = "save_to_sent",
     .type = WR_ARG_BOOL,
     .help = "keep a copy in the sender's Sent Items; default true"},
    /* for `weir schema`: send_mail_validate's "at least one recipient" */
    {.schema = "{\"anyOf\": [{\"required\": [\"to\"]}, {\"required\": [\"cc\"]}, "
               "{\"required\": [\"bcc\"]}]}"},
};

static const struct wr_argspec set_auto_reply_args[] = {
    WR_ARGSPEC_USER,
    {.name = "status",
     .type = WR_ARG_ENUM,
     .flags = WR_ARG_REQUIRED,
     .choices = reply_statuses,
     .help = "disabled, alwaysEnabled, or scheduled (between start and end)"},
    {.name = "internal_message",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_EMPTY_OK,
     .help = "the reply to senders inside the organisation (HTML or text)"},
    {.name = "external_message",
     .type = WR_ARG_STRING,
     .flags = WR_ARG_EMPTY_OK,
     .help = "the reply to senders outside it"},
    {.name = "external_audience",
     .type = WR_ARG_ENUM,
     .choices = audiences,
     .help = "who outside gets external_message: none, contactsOnly or all"},
    {.name = "start",
     .type = WR_ARG_STRING,
     .help = "status scheduled: when replies start, a local date-time such as "
             "2025-03-01T08:00:00 in time_zone"},
    {.name = "end", .type = WR_ARG_STRING, .help = "status scheduled: when they end (same form)"},
    {.name = "time_zone",
     .type = WR_ARG_STRING,
     .help = "the zone of start and end as Graph names it (UTC, W. Europe Standard Time, or an "
             "IANA name); default UTC"},
    /* for `weir schema`: set_auto_reply_validate's "status scheduled needs start and end" */
    {.schema = "{\"if\": {\"required\": [\"status\"], \"properties\": {\"status\": "
               "{\"const\": \"scheduled\"}}}, \"then\": {\"required\": [\"start\", \"end\"]}}"},
};

/* One recipient value as written (a string or a mapping); reports problems through c. */
static void check_recipient(struct wr_check *c, struct json_object *v, const char *path)
{
    if (json_object_is_type(v, json_type_string)) {
        if (json_object_get_string_len(v) == 0) {
            wr_check_error(c, path, false, "is empty: name an address or a user");
        }
        return;
    }
    if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) != 1) {
        wr_check_error(c, path, false,
                       "expected an address, a user reference, {user: REF} or "
                       "{manager-of: USER}");
        return;
    }
    json_object_object_foreach(v, key, val)
    {
        char *p = wr_path_key(path, key);
        if (strcmp(key, "manager-of") != 0 && strcmp(key, "user") != 0) {
            wr_check_error(c, p, true, "unknown key '%s': use user or manager-of", key);
        } else if (!json_object_is_type(val, json_type_string)) {
            wr_check_error(c, p, false, "expected a user reference (a string)");
        }
        free(p);
    }
}

static void send_mail_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    static const char *const fields[] = {"to", "cc", "bcc"};
    bool any = false, templated = false;
    for (size_t f = 0; f < 3; f++) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(args, fields[f], &v)) {
            continue;
        }
        char *p = wr_path_key(path, fields[f]);
        if (json_object_is_type(v, json_type_string) &&
            strstr(json_object_get_string(v), "{{") != NULL) {
            templated = true; /* a template: its value is known when the step runs */
        } else if (json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                char *pi = wr_path_index(p, i);
                check_recipient(c, json_object_array_get_idx(v, i), pi);
                free(pi);
            }
            any = any || json_object_array_length(v) > 0;
        } else {
            check_recipient(c, v, p);
            any = true;
        }
        free(p);
    }
    if (!any && !templated) {
        wr_check_error(c, path, false, "send-mail needs at least one recipient in to, cc or bcc");
    }
}

static void set_auto_reply_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    const char *status = json_object_get_string(json_object_object_get(args, "status"));
    if (status && strcmp(status, "scheduled") == 0 &&
        (!json_object_object_get_ex(args, "start", NULL) ||
         !json_object_object_get_ex(args, "end", NULL))) {
        wr_check_error(c, path, false, "status scheduled needs start and end");
    }
}

/* }====== */

/* {====== send-mail ====== */

enum rcpt_kind { RCPT_ADDRESS, RCPT_USER, RCPT_MANAGER };

struct rcpt {
    int field; /* 0 to, 1 cc, 2 bcc */
    enum rcpt_kind kind;
    char *ref;     /* as written */
    char *address; /* resolved */
};

/* One execution's state (wr_action_state): the engine frees it, after send_clear. */
struct send_op {
    struct wr_action_ctx *ctx;
    char *from;      /* the sender's object id */
    char *from_mail; /* its mail address, or NULL */
    struct rcpt *r;
    size_t n, cap;
    size_t next;      /* the recipient being resolved */
    char *manager_of; /* RCPT_MANAGER: the user's object id, while its manager is read */
    struct json_object *body;
};

static void send_clear(void *state)
{
    struct send_op *op = state;
    free(op->from);
    free(op->from_mail);
    for (size_t i = 0; i < op->n; i++) {
        free(op->r[i].ref);
        free(op->r[i].address);
    }
    free(op->r);
    free(op->manager_of);
    json_object_put(op->body);
}

static const char *const field_names[] = {"to", "cc", "bcc"};

/* Adds one rendered recipient value; false (the step failed) when it is not one. */
static bool add_rcpt(struct send_op *op, int field, struct json_object *v)
{
    struct rcpt r = {.field = field};
    if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
        const char *s = json_object_get_string(v);
        r.kind = strchr(s, '@') ? RCPT_ADDRESS : RCPT_USER;
        r.ref = wr_xstrdup(s);
        if (r.kind == RCPT_ADDRESS) {
            r.address = wr_xstrdup(s);
        }
    } else if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 1) {
        json_object_object_foreach(v, key, val)
        {
            if ((strcmp(key, "manager-of") == 0 || strcmp(key, "user") == 0) &&
                json_object_is_type(val, json_type_string)) {
                r.kind = strcmp(key, "user") == 0 ? RCPT_USER : RCPT_MANAGER;
                r.ref = wr_xstrdup(json_object_get_string(val));
            }
        }
    }
    if (!r.ref) {
        wr_action_fail(op->ctx, NULL, false,
                       "%s: %s is not an address, a user reference, {user: REF} or "
                       "{manager-of: USER}",
                       field_names[field],
                       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return false;
    }
    if (op->n == op->cap) {
        op->cap = op->cap ? op->cap * 2 : 4;
        op->r = wr_xrealloc(op->r, op->cap * sizeof(*op->r));
    }
    op->r[op->n++] = r;
    return true;
}

static struct json_object *address_list(const struct send_op *op, int field, bool graph_form)
{
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; i < op->n; i++) {
        if (op->r[i].field != field) {
            continue;
        }
        struct json_object *s = json_object_new_string(op->r[i].address);
        if (graph_form) {
            struct json_object *ea = json_object_new_object();
            struct json_object *o = json_object_new_object();
            json_object_object_add(ea, "address", s);
            json_object_object_add(o, "emailAddress", ea);
            s = o;
        }
        json_object_array_add(a, s);
    }
    return a;
}

static void send_succeed(struct send_op *op, const char *note)
{
    struct json_object *out = json_object_new_object();
    bool dry = wr_action_dry_run(op->ctx);
    json_object_object_add(out, "changed", json_object_new_boolean(true));
    json_object_object_add(out, "sent", json_object_new_boolean(!dry));
    json_object_object_add(out, "from", json_object_new_string(op->from));
    if (op->from_mail) {
        json_object_object_add(out, "from_address", json_object_new_string(op->from_mail));
    }
    for (int f = 0; f < 3; f++) {
        json_object_object_add(out, field_names[f], address_list(op, f, false));
    }
    json_object_object_add(out, "undo_impossible", json_object_new_string(UNDO_IMPOSSIBLE));
    if (note) {
        json_object_object_add(out, "note", json_object_new_string(note));
    }
    wr_action_succeed(op->ctx, out);
}

static void sent(void *arg, const struct wr_graph_result *res)
{
    struct send_op *op = arg;
    if (res->ok) {
        /* 202 Accepted (dry run: the planned 204): Graph took the mail. */
        send_succeed(op, NULL);
    } else if (res->status >= 200 && res->status <= 299) {
        /* A 2xx Graph's client could not read: Graph took it all the same. */
        send_succeed(op, "Graph accepted the mail; its answer was not readable");
    } else if (!res->retriable && (res->status == 0 || res->status >= 500)) {
        wr_action_fail(op->ctx, res, false,
                       "POST /users/%s/sendMail: the mail may have been sent (Graph may have "
                       "accepted it before the failure), so it was not sent again; check the "
                       "recipients' mailboxes, and `weir retry` the run to send it anyway",
                       op->from);
    } else {
        /* Graph refused it (4xx), or throttled it (429, 503 with Retry-After: not processed,
           res->retriable): fails as Graph said; a throttled step is retried by the run. */
        wr_action_fail(op->ctx, res, false, "POST /users/%s/sendMail", op->from);
    }
}

static void send_now(struct send_op *op)
{
    struct json_object *args = wr_action_args(op->ctx);
    const char *format = wr_action_arg_str(op->ctx, "format");
    struct json_object *save = json_object_object_get(args, "save_to_sent");
    struct json_object *msg = json_object_new_object();
    struct json_object *body = json_object_new_object();
    json_object_object_add(msg, "subject",
                           json_object_new_string(wr_action_arg_str(op->ctx, "subject")
                                                      ? wr_action_arg_str(op->ctx, "subject")
                                                      : ""));
    json_object_object_add(
        body, "contentType",
        json_object_new_string(format && strcmp(format, "text") == 0 ? "Text" : "HTML"));
    const char *content = wr_action_arg_str(op->ctx, "body");
    json_object_object_add(body, "content", json_object_new_string(content ? content : ""));
    json_object_object_add(msg, "body", body);
    static const char *const graph_fields[] = {"toRecipients", "ccRecipients", "bccRecipients"};
    for (int f = 0; f < 3; f++) {
        struct json_object *a = address_list(op, f, true);
        if (json_object_array_length(a) > 0) {
            json_object_object_add(msg, graph_fields[f], a);
        } else {
            json_object_put(a);
        }
    }
    op->body = json_object_new_object();
    json_object_object_add(op->body, "message", msg);
    json_object_object_add(op->body, "saveToSentItems",
                           json_object_new_boolean(json_object_is_type(save, json_type_boolean)
                                                       ? json_object_get_boolean(save)
                                                       : true));
    char *path = wr_directory_user_path(op->from, "/sendMail");
    if (wr_action_write_once(op->ctx, "POST", path, op->body, sent, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST %s", path);
    }
    free(path);
}

static void resolve_next(struct send_op *op);

/* The user (or manager) whose mail a recipient is: its address, or a failure. */
static bool take_mail(struct send_op *op, struct json_object *user, const char *who)
{
    const char *mail = json_object_get_string(json_object_object_get(user, "mail"));
    struct rcpt *r = &op->r[op->next];
    if (!mail || !*mail) {
        wr_action_fail(op->ctx, NULL, false, "%s: %s has no mail address", field_names[r->field],
                       who);
        return false;
    }
    r->address = wr_xstrdup(mail);
    op->next++;
    return true;
}

static void manager_read(void *arg, const struct wr_graph_result *res)
{
    struct send_op *op = arg;
    struct rcpt *r = &op->r[op->next];
    if (!res->ok && res->status == 404) {
        wr_action_fail(op->ctx, NULL, false, "%s: manager-of %s: the user has no manager",
                       field_names[r->field], r->ref);
        return;
    }
    if (!res->ok) {
        wr_action_fail(op->ctx, res, false, "%s: reading the manager of %s", field_names[r->field],
                       r->ref);
        return;
    }
    char *why = NULL;
    bool retriable = false;
    struct json_object *m = wr_graph_answer_entity(res, "the manager", "id", &why, &retriable);
    if (!m) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "%s: reading the manager of %s", field_names[r->field],
                       r->ref);
        free(why);
        return;
    }
    char *who = wr_xasprintf("the manager of %s (%s)", r->ref,
                             json_object_get_string(json_object_object_get(m, "id")));
    bool ok = take_mail(op, m, who);
    free(who);
    if (ok) {
        resolve_next(op);
    }
}

static void rcpt_found(void *arg, const struct wr_directory_result *res)
{
    struct send_op *op = arg;
    struct rcpt *r = &op->r[op->next];
    if (!res->ok) {
        wr_action_fail_lookup(op->ctx, field_names[r->field], res);
        return;
    }
    if (r->kind == RCPT_USER) {
        char *who = wr_xasprintf("user %s", r->ref);
        bool ok = take_mail(op, res->object, who);
        free(who);
        if (ok) {
            resolve_next(op);
        }
        return;
    }
    free(op->manager_of);
    op->manager_of = wr_xstrdup(res->id);
    char *path = wr_directory_user_path(res->id, "/manager?$select=id,mail,userPrincipalName");
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", path, NULL, 0, manager_read, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused GET %s", path);
    }
    free(path);
}

/* Resolves the recipients one after another, then sends. */
static void resolve_next(struct send_op *op)
{
    while (op->next < op->n && op->r[op->next].kind == RCPT_ADDRESS) {
        op->next++;
    }
    if (op->next == op->n) {
        send_now(op);
        return;
    }
    struct rcpt *r = &op->r[op->next];
    wr_action_find_user(op->ctx, field_names[r->field], r->ref,
                        r->kind == RCPT_USER ? "mail" : NULL, rcpt_found, op);
}

static void from_found(void *arg, const struct wr_directory_result *res)
{
    struct send_op *op = arg;
    if (!res->ok) {
        wr_action_fail_lookup(op->ctx, "from", res);
        return;
    }
    op->from = wr_xstrdup(res->id);
    const char *mail = json_object_get_string(json_object_object_get(res->object, "mail"));
    op->from_mail = mail && *mail ? wr_xstrdup(mail) : NULL;
    resolve_next(op);
}

static void send_mail_run(struct wr_action_ctx *ctx)
{
    struct send_op *op = wr_action_state(ctx, sizeof(*op), send_clear);
    op->ctx = ctx;
    struct json_object *args = wr_action_args(ctx);
    for (int f = 0; f < 3; f++) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(args, field_names[f], &v) || v == NULL) {
            continue;
        }
        if (json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                if (!add_rcpt(op, f, json_object_array_get_idx(v, i))) {
                    return;
                }
            }
        } else if (!add_rcpt(op, f, v)) {
            return;
        }
    }
    if (op->n == 0) {
        wr_action_fail(ctx, NULL, false, "send-mail needs at least one recipient in to, cc or bcc");
        return;
    }
    const char *from = wr_action_arg_str(ctx, "from");
    if (!from || !*from) {
        from = wr_action_mail_from(ctx);
    }
    if (!from || !*from) {
        wr_action_fail(ctx, NULL, false,
                       "send-mail has no sender: give the step a from:, or set mail.from in "
                       "weir.yaml");
        return;
    }
    wr_action_find_user(ctx, "from", from, "mail", from_found, op);
}

/* }====== */

/* {====== set-auto-reply ====== */

/* One execution's state (wr_action_state): the engine frees it, after reply_clear. */
struct reply_op {
    struct wr_action_ctx *ctx;
    char *id;
    struct json_object *before; /* the automaticRepliesSetting read, a reference */
    struct json_object *body;
};

static void reply_clear(void *state)
{
    struct reply_op *op = state;
    free(op->id);
    json_object_put(op->before);
    json_object_put(op->body);
}

/* The text of an HTML or plain message: tags dropped, basic entities decoded, white space
   collapsed and trimmed. Owned. */
static char *message_text(const char *s)
{
    static const struct {
        const char *entity;
        char c;
    } entities[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
                    {"&quot;", '"'}, {"&#39;", '\''}, {"&nbsp;", ' '}};
    struct wr_buf b = {0};
    bool space = false;
    for (const char *p = s ? s : ""; *p;) {
        char c = *p;
        if (c == '<') {
            const char *end = strchr(p, '>');
            if (end) {
                p = end + 1;
                space = true; /* a tag separates words (</div><div>) */
                continue;
            }
        }
        size_t len = 1;
        if (c == '&') {
            for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
                size_t n = strlen(entities[i].entity);
                if (strncmp(p, entities[i].entity, n) == 0) {
                    c = entities[i].c;
                    len = n;
                    break;
                }
            }
        }
        p += len;
        if (isspace((unsigned char)c)) {
            space = true;
            continue;
        }
        if (space && b.len > 0) {
            wr_buf_add(&b, " ");
        }
        space = false;
        char one[2] = {c, '\0'};
        wr_buf_add(&b, one);
    }
    char *out = wr_xstrdup(wr_buf_str(&b));
    wr_buf_free(&b);
    return out;
}

static bool same_message(const char *want, const char *have)
{
    char *a = message_text(want), *b = message_text(have);
    bool same = strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

/* Graph's dateTime ("2025-03-01T08:00:00.0000000") against the step's: the first 19
   characters (to the second); a zone by name, case-insensitively. */
static bool same_when(const char *want, const char *zone, struct json_object *have)
{
    const char *dt = json_object_get_string(json_object_object_get(have, "dateTime"));
    const char *tz = json_object_get_string(json_object_object_get(have, "timeZone"));
    return dt && tz && strncmp(want, dt, 19) == 0 && strlen(want) >= 19 && strlen(dt) >= 19 &&
           strcasecmp(zone, tz) == 0;
}

static struct json_object *when_json(const char *dt, const char *zone)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "dateTime", json_object_new_string(dt));
    json_object_object_add(o, "timeZone", json_object_new_string(zone));
    return o;
}

/* The step that puts back what op->before says, as the action's own arguments. */
static struct json_object *undo_step(const struct reply_op *op)
{
    struct json_object *b = op->before;
    struct json_object *s = json_object_new_object();
    json_object_object_add(s, "action", json_object_new_string("set-auto-reply"));
    json_object_object_add(s, "user", json_object_new_string(op->id));
    static const char *const map[][2] = {{"status", "status"},
                                         {"internalReplyMessage", "internal_message"},
                                         {"externalReplyMessage", "external_message"},
                                         {"externalAudience", "external_audience"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        struct json_object *v = json_object_object_get(b, map[i][0]);
        if (json_object_is_type(v, json_type_string)) {
            json_object_object_add(s, map[i][1], json_object_get(v));
        }
    }
    const char *status = json_object_get_string(json_object_object_get(b, "status"));
    struct json_object *st = json_object_object_get(b, "scheduledStartDateTime");
    struct json_object *en = json_object_object_get(b, "scheduledEndDateTime");
    if (status && strcmp(status, "scheduled") == 0 && st && en) {
        json_object_object_add(s, "start", json_object_get(json_object_object_get(st, "dateTime")));
        json_object_object_add(s, "end", json_object_get(json_object_object_get(en, "dateTime")));
        json_object_object_add(s, "time_zone",
                               json_object_get(json_object_object_get(st, "timeZone")));
    }
    struct json_object *undo = json_object_new_array();
    json_object_array_add(undo, s);
    return undo;
}

static void reply_succeed(struct reply_op *op, bool changed)
{
    struct json_object *out = json_object_new_object();
    json_object_object_add(out, "id", json_object_new_string(op->id));
    json_object_object_add(out, "changed", json_object_new_boolean(changed));
    json_object_object_add(out, "before", json_object_get(op->before));
    if (changed) {
        json_object_object_add(
            out, "set",
            json_object_get(json_object_object_get(op->body, "automaticRepliesSetting")));
    }
    json_object_object_add(out, "undo", changed ? undo_step(op) : json_object_new_array());
    wr_action_succeed(op->ctx, out);
}

static void reply_written(void *arg, const struct wr_graph_result *res)
{
    struct reply_op *op = arg;
    if (!res->ok) {
        wr_action_fail(op->ctx, res, false, "PATCH /users/%s/mailboxSettings", op->id);
        return;
    }
    char *why = NULL;
    bool retriable = false;
    if (!wr_graph_answer_done(res, NULL, &why, &retriable)) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "PATCH /users/%s/mailboxSettings", op->id);
        free(why);
        return;
    }
    reply_succeed(op, true);
}

static void settings_read(void *arg, const struct wr_graph_result *res)
{
    struct reply_op *op = arg;
    struct wr_action_ctx *ctx = op->ctx;
    if (!res->ok) {
        /* 404 MailboxNotEnabledForRESTAPI: the user has no (online) mailbox. */
        wr_action_fail(ctx, res, false, "reading the mailbox settings of user %s", op->id);
        return;
    }
    /* An object with an automaticRepliesSetting object; anything else is not Graph's answer. */
    struct json_object *have = json_object_is_type(res->body, json_type_object)
                                   ? json_object_object_get(res->body, "automaticRepliesSetting")
                                   : NULL;
    if (!json_object_is_type(have, json_type_object)) {
        struct wr_graph_result u = wr_graph_result_unusable(
            res, "expected the mailbox settings with an automaticRepliesSetting object",
            res->body == NULL);
        wr_action_fail(ctx, &u, false, "reading the mailbox settings of user %s", op->id);
        return;
    }
    op->before = json_object_get(have);

    struct json_object *want = json_object_new_object();
    bool differs = false;
    static const char *const strs[][2] = {{"status", "status"},
                                          {"external_audience", "externalAudience"}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = wr_action_arg_str(ctx, strs[i][0]);
        if (v) {
            json_object_object_add(want, strs[i][1], json_object_new_string(v));
            const char *h = json_object_get_string(json_object_object_get(have, strs[i][1]));
            differs = differs || !h || strcmp(v, h) != 0;
        }
    }
    static const char *const msgs[][2] = {{"internal_message", "internalReplyMessage"},
                                          {"external_message", "externalReplyMessage"}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = wr_action_arg_str(ctx, msgs[i][0]);
        if (v) {
            json_object_object_add(want, msgs[i][1], json_object_new_string(v));
            differs =
                differs ||
                !same_message(v, json_object_get_string(json_object_object_get(have, msgs[i][1])));
        }
    }
    const char *zone = wr_action_arg_str(ctx, "time_zone");
    zone = zone && *zone ? zone : "UTC";
    static const char *const whens[][2] = {{"start", "scheduledStartDateTime"},
                                           {"end", "scheduledEndDateTime"}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = wr_action_arg_str(ctx, whens[i][0]);
        if (v) {
            json_object_object_add(want, whens[i][1], when_json(v, zone));
            differs = differs || !same_when(v, zone, json_object_object_get(have, whens[i][1]));
        }
    }
    if (!differs) {
        json_object_put(want);
        reply_succeed(op, false);
        return;
    }
    op->body = json_object_new_object();
    json_object_object_add(op->body, "automaticRepliesSetting", want);
    char *path = wr_directory_user_path(op->id, "/mailboxSettings");
    if (wr_action_write(ctx, "PATCH", path, op->body, reply_written, op) != 0) {
        wr_action_fail(ctx, NULL, false, "the Graph client refused PATCH %s", path);
    }
    free(path);
}

static void reply_user_found(void *arg, const struct wr_directory_result *r)
{
    struct reply_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->id = wr_xstrdup(r->id);
    char *path = wr_directory_user_path(op->id, "/mailboxSettings");
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", path, NULL, 0, settings_read, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused GET %s", path);
    }
    free(path);
}

static void set_auto_reply_run(struct wr_action_ctx *ctx)
{
    struct reply_op *op = wr_action_state(ctx, sizeof(*op), reply_clear);
    op->ctx = ctx;
    const char *status = wr_action_arg_str(ctx, "status");
    if (status && strcmp(status, "scheduled") == 0 &&
        (!wr_action_arg_str(ctx, "start") || !wr_action_arg_str(ctx, "end"))) {
        wr_action_fail(ctx, NULL, false, "status scheduled needs start and end");
        return;
    }
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, reply_user_found, op);
}

/* }====== */

const struct wr_action wr_action_send_mail = {
    .name = "send-mail",
    .summary = "send a mail from a mailbox (POST /users/{from}/sendMail); sent at most once: a "
               "failure after Graph may have taken it is not retried",
    .args = send_mail_args,
    .validate = send_mail_validate,
    .execute = send_mail_run,
    .destructive = WR_DESTRUCTIVE_NO,
};

const struct wr_action wr_action_set_auto_reply = {
    .name = "set-auto-reply",
    .summary = "set a mailbox's automatic replies (PATCH /users/{id}/mailboxSettings); the same "
               "setting already there is success",
    .args = set_auto_reply_args,
    .validate = set_auto_reply_validate,
    .execute = set_auto_reply_run,
    .destructive = WR_DESTRUCTIVE_NO,
};
