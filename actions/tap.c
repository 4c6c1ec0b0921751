/*
 * tap — create-tap: a Temporary Access Pass for a user (a new hire's first sign-in),
 * POST /users/{id}/authentication/temporaryAccessPassMethods.
 *
 * The pass Graph answers is a secret: it is registered with wr_secret_register at once, so it
 * is masked wherever text leaves weir (log lines, the journal's step records and with them
 * `weir show` and the admin API), while the step's output in memory holds it for later steps'
 * templates as steps.<id>.pass. After a restart a run reads its outputs back from the journal,
 * masked: the pass is not kept across restarts, and a later step whose arguments would carry
 * the mask fails saying so (engine/exec/run.c) rather than mailing "[redacted]". A dry run
 * creates nothing: its pass is the mask.
 *
 * A new pass replaces the user's existing one (Graph documents it: a user has at most one), so
 * the pass this step hands out must be the user's current one. The step reads the user's
 * passes before (the one it replaces goes into "before") and after creating: another pass
 * created after this one, or at the same moment (a resent request that landed late, another
 * run for the same user, someone in the portal) means this one no longer works, and the step
 * fails without retry rather than hand it out. A 404 for a user weir created moments ago
 * (create-user, then create-tap) is replica lag, retried. A step retried after
 * a failure creates a new pass: the pass of a failed attempt never reached a later step (later
 * steps run only once this step's success is stored), so nothing that was handed out is
 * replaced. A pass cannot be taken back once handed out: the output says so (undo_impossible).
 *
 * Graph refuses with 400 badRequest when the tenant's TAP policy is off or excludes the user,
 * when the lifetime is outside the policy's minimum and maximum, when the policy allows only
 * one-time passes, and for a guest from another tenant; its code does not tell these apart, so
 * the error carries Graph's message and names the likely causes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "actions/action.h"
#include "engine/base/duration.h"
#include "engine/base/secret.h"
#include "engine/base/srcdoc.h"
#include "engine/base/strutil.h"
#include "engine/base/timestamp.h"
#include "engine/graph/directory.h"
#include "engine/graph/graph.h"
#include "engine/graph/graph_parse.h"

/* Graph's bounds on lifetimeInMinutes: 10 minutes to 30 days. */
#define TAP_MIN_MINUTES 10
#define TAP_MAX_MINUTES 43200

#define TAP_UNDO_IMPOSSIBLE                                                                        \
    "a Temporary Access Pass cannot be taken back once handed out (delete the method in Entra "    \
    "if needed)"

static const struct wr_argspec create_tap_args[] = {
    WR_ARGSPEC_USER,
    {.name = "start",
     .type = WR_ARG_STRING,
     .help = "when the pass becomes usable: an ISO-8601 time (2027-01-04T08:00:00+01:00); "
             "default: at once"},
    {.name = "lifetime",
     .type = WR_ARG_DURATION,
     .help = "how long it stays usable, whole minutes from 10m to 30d (the tenant's TAP policy "
             "narrows it, by default to 1h..8h); default: the policy's"},
    {.name = "usable_once", .type = WR_ARG_BOOL, .help = "a one-time pass; default: the policy's"},
    {0},
};

/* Minutes in a lifetime string, or -1 with a message in err. */
static long lifetime_minutes(const char *s, char *err, size_t errlen)
{
    int64_t ms = 0;
    if (wr_duration_parse(s, &ms, err, errlen) != 0) {
        return -1;
    }
    if (ms % 60000 != 0) {
        snprintf(err, errlen, "'%s' is not a whole number of minutes", s);
        return -1;
    }
    int64_t min = ms / 60000;
    if (min < TAP_MIN_MINUTES || min > TAP_MAX_MINUTES) {
        snprintf(err, errlen, "'%s' is outside what Graph accepts (10m to 30d)", s);
        return -1;
    }
    return (long)min;
}

/* "YYYY-MM-DDTHH:MM:SSZ" for start s into out, or -1 with a message in err. */
static int start_utc(const char *s, char *out, size_t outlen, char *err)
{
    int64_t sec = 0;
    int32_t nsec = 0;
    if (wr_timestamp_parse(s, strlen(s), &sec, &nsec, err) != 0) {
        return -1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

static void create_tap_validate(struct wr_check *c, struct json_object *args, const char *path)
{
    char err[WR_ERR_MAX];
    struct json_object *v = NULL;
    if (json_object_object_get_ex(args, "lifetime", &v) &&
        json_object_is_type(v, json_type_string) && !strstr(json_object_get_string(v), "{{") &&
        lifetime_minutes(json_object_get_string(v), err, sizeof(err)) < 0) {
        char *p = wr_path_key(path, "lifetime");
        wr_check_error(c, p, false, "%s", err);
        free(p);
    }
    char when[32];
    if (json_object_object_get_ex(args, "start", &v) && json_object_is_type(v, json_type_string) &&
        !strstr(json_object_get_string(v), "{{") &&
        start_utc(json_object_get_string(v), when, sizeof(when), err) != 0) {
        char *p = wr_path_key(path, "start");
        wr_check_error(c, p, false, "%s", err);
        free(p);
    }
}

/* {====== execution ====== */

/* One execution's state (wr_action_state): the engine frees it, after op_clear. */
struct tap_op {
    struct wr_action_ctx *ctx;
    char *user;                   /* the user's object id */
    struct json_object *body;     /* the POST's body */
    struct json_object *replaced; /* the pass the user had before (summary), or NULL */
    struct json_object *made;     /* Graph's answer: the new pass method (holds the pass) */
    char *path;                   /* /users/{id}/authentication/temporaryAccessPassMethods */
};

static void op_clear(void *state)
{
    struct tap_op *op = state;
    free(op->user);
    json_object_put(op->body);
    json_object_put(op->replaced);
    json_object_put(op->made);
    free(op->path);
}

/* A pass method without its secret, for "before" and messages: owned. */
static struct json_object *summary(struct json_object *m)
{
    static const char *const keep[] = {
        "id",           "createdDateTime", "startDateTime",         "lifetimeInMinutes",
        "isUsableOnce", "isUsable",        "methodUsabilityReason", NULL};
    struct json_object *o = json_object_new_object();
    for (size_t i = 0; keep[i]; i++) {
        struct json_object *v = NULL;
        if (json_object_object_get_ex(m, keep[i], &v)) {
            json_object_object_add(o, keep[i], json_object_get(v));
        }
    }
    return o;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Milliseconds since the epoch of Graph's timestamp s (it has a fraction: two passes made in
   the same second are told apart), or -1 when it is none. */
static int64_t when_of(const char *s)
{
    int64_t sec = 0;
    int32_t nsec = 0;
    char why[WR_ERR_MAX];
    if (!s || wr_timestamp_parse(s, strlen(s), &sec, &nsec, why) != 0) {
        return -1;
    }
    return sec * 1000 + nsec / 1000000;
}

/* A failed request about op->path: replica lag when it is a 404 for a user weir created moments
   ago (create-user, then create-tap: the onboarding order), else Graph's answer. */
static void op_fail(struct tap_op *op, const struct wr_graph_result *res, const char *method)
{
    int64_t age =
        res->status == 404 ? wr_directory_created_ago(wr_action_directory(op->ctx), op->user) : -1;
    if (age >= 0) {
        wr_action_fail_lag(op->ctx, res, age, "%s %s", method, op->path);
    } else {
        wr_action_fail(op->ctx, res, false, "%s %s", method, op->path);
    }
}

static void op_succeed(struct tap_op *op, const char *pass)
{
    struct json_object *m = op->made;
    struct json_object *out = json_object_new_object();
    const char *id = m ? str_of(m, "id") : NULL;
    json_object_object_add(out, "id", id ? json_object_new_string(id) : NULL);
    json_object_object_add(out, "user", json_object_new_string(op->user));
    json_object_object_add(out, "changed", json_object_new_boolean(true));
    json_object_object_add(out, "pass", json_object_new_string(pass));
    static const char *const copy[] = {"createdDateTime",
                                       "startDateTime",
                                       "lifetimeInMinutes",
                                       "isUsableOnce",
                                       "isUsable",
                                       "methodUsabilityReason",
                                       NULL};
    struct json_object *src = m ? m : op->body; /* a dry run: what was asked */
    for (size_t i = 0; copy[i]; i++) {
        struct json_object *v = NULL;
        if (json_object_object_get_ex(src, copy[i], &v)) {
            json_object_object_add(out, copy[i], json_object_get(v));
        }
    }
    struct json_object *before = json_object_new_object();
    json_object_object_add(before, "replaced", json_object_get(op->replaced));
    json_object_object_add(out, "before", before);
    json_object_object_add(out, "undo_impossible", json_object_new_string(TAP_UNDO_IMPOSSIBLE));
    wr_action_succeed(op->ctx, out);
}

/* After creating: the new pass must be the user's current one. */
static void checked(void *arg, const struct wr_graph_result *res)
{
    struct tap_op *op = arg;
    if (!res->ok) {
        /* Unconfirmed: retried, the step makes a new pass (this one reached nobody). */
        wr_action_fail(op->ctx, res, true,
                       "reading back the Temporary Access Pass just created for user %s", op->user);
        return;
    }
    char *why = NULL;
    bool retriable = false;
    struct json_object *list =
        wr_graph_answer_items(res, "the Temporary Access Pass methods", "id", &why, &retriable);
    if (!list) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, true, "reading back the Temporary Access Pass of user %s",
                       op->user);
        free(why);
        return;
    }
    const char *mine = str_of(op->made, "id");
    int64_t made_at = when_of(str_of(op->made, "createdDateTime"));
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        struct json_object *m = json_object_array_get_idx(list, i);
        const char *id = str_of(m, "id");
        int64_t at = when_of(str_of(m, "createdDateTime"));
        if (id && mine && strcasecmp(id, mine) != 0 && (at < 0 || made_at < 0 || at >= made_at)) {
            /* Another pass, made after this one (or at the same time: Graph keeps one, so it
               is the one kept): this one no longer works. An older one still listed is a
               replica that has not seen the new pass yet. */
            wr_action_fail(op->ctx, NULL, false,
                           "the Temporary Access Pass %s created for user %s was replaced at once "
                           "by pass %s (created %s): not handing out a pass that no longer works; "
                           "check the user's authentication methods in Entra before running again",
                           mine, op->user, id, str_of(m, "createdDateTime"));
            return;
        }
    }
    op_succeed(op, str_of(op->made, "temporaryAccessPass"));
}

static void created(void *arg, const struct wr_graph_result *res)
{
    struct tap_op *op = arg;
    if (res->ok && wr_action_dry_run(op->ctx)) {
        /* Planned, not sent: no pass exists; later steps see the mask, as with any secret. */
        op_succeed(op, WR_SECRET_MASK);
        return;
    }
    if (!res->ok) {
        if (res->status == 400) {
            wr_action_fail(op->ctx, res, false,
                           "POST %s (Graph refuses a pass when the tenant's Temporary Access Pass "
                           "policy is off or excludes the user, when the lifetime is outside the "
                           "policy's minimum and maximum or a multi-use pass is not allowed, and "
                           "for guests from another tenant)",
                           op->path);
        } else {
            op_fail(op, res, "POST");
        }
        return;
    }
    char *why = NULL;
    bool retriable = false;
    struct json_object *m =
        wr_graph_answer_entity(res, "the Temporary Access Pass", "id", &why, &retriable);
    const char *pass = m ? str_of(m, "temporaryAccessPass") : NULL;
    if (!m || !pass || !*pass) {
        /* Graph never shows a pass again: one was made, most likely, that nobody can use.
           A retry makes a new one, which replaces it. */
        struct wr_graph_result u = wr_graph_result_unusable(
            res, why ? why : "the answer holds no temporaryAccessPass", true);
        wr_action_fail(op->ctx, &u, true, "POST %s", op->path);
        free(why);
        return;
    }
    wr_secret_register(pass); /* before anything can print it */
    op->made = json_object_get(m);
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", op->path, NULL, 0, checked, op) != 0) {
        wr_action_fail(op->ctx, NULL, true, "the Graph client refused GET %s", op->path);
    }
}

static void existing_read(void *arg, const struct wr_graph_result *res)
{
    struct tap_op *op = arg;
    if (!res->ok) {
        op_fail(op, res, "GET");
        return;
    }
    char *why = NULL;
    bool retriable = false;
    struct json_object *list =
        wr_graph_answer_items(res, "the Temporary Access Pass methods", "id", &why, &retriable);
    if (!list) {
        struct wr_graph_result u = wr_graph_result_unusable(res, why, retriable);
        wr_action_fail(op->ctx, &u, false, "GET %s", op->path);
        free(why);
        return;
    }
    if (json_object_array_length(list) > 0) {
        op->replaced = summary(json_object_array_get_idx(list, 0));
    }
    if (wr_action_write(op->ctx, "POST", op->path, op->body, created, op) != 0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused POST %s", op->path);
    }
}

static void user_found(void *arg, const struct wr_directory_result *r)
{
    struct tap_op *op = arg;
    if (!r->ok) {
        wr_action_fail_lookup(op->ctx, NULL, r);
        return;
    }
    op->user = wr_xstrdup(r->id);
    op->path = wr_directory_user_path(op->user, "/authentication/temporaryAccessPassMethods");
    if (wr_graph_request(wr_action_graph(op->ctx), "GET", op->path, NULL, 0, existing_read, op) !=
        0) {
        wr_action_fail(op->ctx, NULL, false, "the Graph client refused GET %s", op->path);
    }
}

static void create_tap_run(struct wr_action_ctx *ctx)
{
    struct tap_op *op = wr_action_state(ctx, sizeof(*op), op_clear);
    op->ctx = ctx;
    struct json_object *args = wr_action_args(ctx);
    char err[WR_ERR_MAX];
    op->body = json_object_new_object();
    const char *start = wr_action_arg_str(ctx, "start");
    if (start && *start) {
        char when[32];
        if (start_utc(start, when, sizeof(when), err) != 0) {
            wr_action_fail(ctx, NULL, false, "start: %s", err);
            return;
        }
        json_object_object_add(op->body, "startDateTime", json_object_new_string(when));
    }
    const char *lifetime = wr_action_arg_str(ctx, "lifetime");
    if (lifetime && *lifetime) {
        long min = lifetime_minutes(lifetime, err, sizeof(err));
        if (min < 0) {
            wr_action_fail(ctx, NULL, false, "lifetime: %s", err);
            return;
        }
        json_object_object_add(op->body, "lifetimeInMinutes", json_object_new_int64(min));
    }
    struct json_object *once = NULL;
    if (json_object_object_get_ex(args, "usable_once", &once) &&
        json_object_is_type(once, json_type_boolean)) {
        json_object_object_add(op->body, "isUsableOnce",
                               json_object_new_boolean(json_object_get_boolean(once)));
    }
    wr_action_find_user(ctx, NULL, wr_action_arg_str(ctx, "user"), NULL, user_found, op);
}

/* }====== */

const struct wr_action wr_action_create_tap = {
    .name = "create-tap",
    .summary = "create a Temporary Access Pass (a secret: steps.<id>.pass, masked when stored); "
               "it replaces the user's existing pass",
    .args = create_tap_args,
    .validate = create_tap_validate,
    .execute = create_tap_run,
    .destructive = WR_DESTRUCTIVE_NO,
    .destructive_note = "replaces the user's existing pass, but takes no access away",
};
