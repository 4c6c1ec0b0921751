/*
 * webhook_setup — handshakes and `weir webhooks`; see setup.h.
 */
#include "triggers/webhook/setup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "engine/lang/workflow_set.h"
#include "engine/store/trigger_state.h"
#include "triggers/trigger.h"
#include "triggers/webhook/auth.h"
#include "triggers/webhook/preset.h"
#include "triggers/webhook/server.h"

/* The body as a JSON object (owned), or NULL when it is not strict JSON or not an object. */
static struct json_object *body_object(const char *body, size_t len)
{
    struct json_object *o = NULL;
    struct wr_json_opts opts = {.max_depth = 8, .what = "the body"};
    if (!body || len == 0 || wr_json_parse(body, len, &opts, &o, NULL) != 0) {
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

bool wr_webhook_verification(const struct wr_webhook_preset *p, const char *sig, const char *body,
                             size_t len, char **token)
{
    if (!p || p->handshake != WR_WEBHOOK_HANDSHAKE_VERIFICATION_TOKEN || sig) {
        return false;
    }
    struct json_object *o = body_object(body, len), *t = NULL;
    bool ok = o && json_object_object_length(o) == 1 &&
              json_object_object_get_ex(o, "verification_token", &t) &&
              json_object_is_type(t, json_type_string);
    if (ok) {
        const char *s = json_object_get_string(t);
        size_t n = strlen(s);
        ok = n > 0 && n <= WR_WEBHOOK_TOKEN_MAX && (size_t)json_object_get_string_len(t) == n;
        for (size_t i = 0; ok && i < n; i++) {
            ok = s[i] > 0x20 && s[i] < 0x7f;
        }
        if (ok) {
            *token = wr_xstrdup(s);
        }
    }
    json_object_put(o);
    return ok;
}

bool wr_webhook_ping(const struct wr_webhook_preset *p, const char *body, size_t len)
{
    if (!p || p->handshake != WR_WEBHOOK_HANDSHAKE_PING) {
        return false;
    }
    if (len == 0) {
        return true;
    }
    struct json_object *o = body_object(body, len), *t = NULL;
    bool ping = false;
    if (o && json_object_object_length(o) == 0) {
        ping = true;
    } else if (o && json_object_object_get_ex(o, "type", &t) &&
               json_object_is_type(t, json_type_string)) {
        const char *s = json_object_get_string(t);
        ping = strcmp(s, "ping") == 0 || strcmp(s, "test") == 0 || strcmp(s, "webhook.test") == 0;
    }
    json_object_put(o);
    return ping;
}

char *wr_webhook_setup_scope(const char *path)
{
    return wr_xasprintf("webhook %s", path);
}

char *wr_webhook_verification_record(const char *token, const char *peer, int64_t received_at)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "token", json_object_new_string(token));
    json_object_object_add(o, "peer", json_object_new_string(peer ? peer : "unknown"));
    json_object_object_add(o, "received_at", json_object_new_int64(received_at));
    char *s = wr_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* {====== weir webhooks ====== */

static const char *str_arg(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The string at KEY of O, or "" when absent (borrowed): printing never meets NULL. */
static const char *str_or(struct json_object *o, const char *key)
{
    const char *s = str_arg(o, key);
    return s ? s : "";
}

struct load {
    struct json_object *list; /* pending verifications */
    const struct wr_webhook_auth *auth;
};

static void on_state(void *arg, const char *name, const char *value, int64_t updated_at)
{
    struct load *l = arg;
    struct json_object *rec = NULL;
    (void)updated_at;
    if (strcmp(name, "verification") != 0 ||
        wr_json_parse(value, strlen(value), NULL, &rec, NULL) != 0) {
        return;
    }
    const char *token = str_arg(rec, "token");
    json_object_object_add(rec, "configured",
                           json_object_new_boolean(wr_webhook_auth_is_key(l->auth, token)));
    json_object_array_add(l->list, rec);
}

/* Describes one path (its first workflow wf speaks for it) into an owned object. */
static struct json_object *describe_path(const struct wr_trigger_env *env,
                                         const struct wr_workflow_set *set,
                                         const struct wr_workflow *wf, const char *path, char *err,
                                         size_t errlen)
{
    struct json_object *o = json_object_new_object(), *auth = NULL, *accept = NULL;
    struct json_object *names = json_object_new_array();
    for (size_t i = 0; i < set->count; i++) {
        const struct wr_workflow *w = set->items[i];
        if (w->trigger == wf->trigger && str_arg(w->trigger_args, "path") &&
            strcmp(str_arg(w->trigger_args, "path"), path) == 0) {
            json_object_array_add(names, json_object_new_string(w->name));
        }
    }
    json_object_object_get_ex(wf->trigger_args, "auth", &auth);
    const char *type = auth                                  ? str_arg(auth, "type")
                       : str_arg(wf->trigger_args, "secret") ? "standard-webhooks"
                                                             : "none";
    const struct wr_webhook_preset *p = wr_webhook_preset_find(type);
    json_object_object_add(o, "path", json_object_new_string(path));
    json_object_object_add(o, "workflows", names);
    json_object_object_add(o, "auth", json_object_new_string(type));
    unsigned mask = p ? p->accept : WR_WEBHOOK_BODY_JSON;
    if (json_object_object_get_ex(wf->trigger_args, "accept", &accept)) {
        mask = 0;
        for (size_t i = 0; i < json_object_array_length(accept); i++) {
            mask |=
                wr_webhook_body_bit(json_object_get_string(json_object_array_get_idx(accept, i)));
        }
    }
    struct json_object *bodies = json_object_new_array();
    static const char *const words[] = {"json", "form", "xml"};
    for (size_t i = 0; i < 3; i++) {
        if (mask & wr_webhook_body_bit(words[i])) {
            json_object_array_add(bodies, json_object_new_string(words[i]));
        }
    }
    json_object_object_add(o, "accept", bodies);
    const char *id = str_arg(wf->trigger_args, "id");
    json_object_object_add(
        o, "id",
        json_object_new_string(id ? id
                               : p && p->default_id
                                   ? p->default_id
                                   : "the webhook-id, X-GitHub-Delivery or X-Request-Id header"));

    /* The secret resolved as the daemon would: whether it is available, and which pending
       token it already holds. */
    char why[WR_ERR_MAX] = "";
    char *dir = wr_path_dirname(wf->file);
    struct wr_webhook_auth *a = wr_webhook_auth_new(wf->trigger_args, dir, why, sizeof(why));
    free(dir);
    json_object_object_add(o, "secret", json_object_new_string(a ? "available" : "unavailable"));
    if (!a) {
        json_object_object_add(o, "secret_error", json_object_new_string(why));
    }
    struct load l = {.list = json_object_new_array(), .auth = a};
    if (p && p->handshake == WR_WEBHOOK_HANDSHAKE_VERIFICATION_TOKEN) {
        char *scope = wr_webhook_setup_scope(path);
        int64_t n = wr_trigger_state_load(env->state_path, scope, "verification", on_state, &l, err,
                                          errlen);
        free(scope);
        if (n < 0) {
            json_object_put(l.list);
            json_object_put(o);
            wr_webhook_auth_free(a);
            return NULL;
        }
    }
    json_object_object_add(o, "verifications", l.list);
    wr_webhook_auth_free(a);
    return o;
}

int wr_webhook_describe(const struct wr_trigger_env *env, const struct wr_workflow_set *set,
                        struct json_object **out, char *err, size_t errlen)
{
    struct json_object *paths = json_object_new_array();
    for (size_t i = 0; set && i < set->count; i++) {
        const struct wr_workflow *wf = set->items[i];
        const char *path = str_arg(wf->trigger_args, "path");
        if (wf->trigger != &wr_trigger_webhook || !path) {
            continue;
        }
        bool seen = false;
        for (size_t j = 0; j < json_object_array_length(paths) && !seen; j++) {
            seen = strcmp(str_or(json_object_array_get_idx(paths, j), "path"), path) == 0;
        }
        if (seen) {
            continue;
        }
        struct json_object *o = describe_path(env, set, wf, path, err, errlen);
        if (!o) {
            json_object_put(paths);
            return -1;
        }
        json_object_array_add(paths, o);
    }
    *out = paths;
    return 0;
}

void wr_webhook_print_description(struct json_object *d, FILE *f)
{
    size_t n = json_object_array_length(d);
    if (n == 0) {
        fputs("No workflow is triggered by a webhook.\n", f);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_array_get_idx(d, i), *v = NULL;
        fprintf(f, "%s%s\n", i ? "\n" : "", str_or(o, "path"));
        json_object_object_get_ex(o, "workflows", &v);
        fprintf(f, "  workflows  %s\n",
                json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        fprintf(f, "  auth       %s (secret %s%s%s)\n", str_or(o, "auth"), str_or(o, "secret"),
                *str_or(o, "secret_error") ? ": " : "", str_or(o, "secret_error"));
        json_object_object_get_ex(o, "accept", &v);
        fprintf(f, "  accept     %s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        fprintf(f, "  id         %s\n", str_or(o, "id"));
        json_object_object_get_ex(o, "verifications", &v);
        for (size_t j = 0; j < json_object_array_length(v); j++) {
            struct json_object *r = json_object_array_get_idx(v, j), *c = NULL, *at = NULL;
            json_object_object_get_ex(r, "configured", &c);
            json_object_object_get_ex(r, "received_at", &at);
            time_t t = (time_t)(json_object_get_int64(at) / 1000);
            char when[32] = "?";
            struct tm tm;
            if (localtime_r(&t, &tm)) {
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
            }
            if (json_object_get_boolean(c)) {
                fprintf(f, "  verified   the token received %s from %s is the configured secret\n",
                        when, str_or(r, "peer"));
            } else {
                fprintf(f,
                        "  PENDING    verification token %s (received %s from %s): put it in "
                        "this path's secret, then verify the subscription at the vendor\n",
                        str_or(r, "token"), when, str_or(r, "peer"));
            }
        }
    }
}

/* }====== */
