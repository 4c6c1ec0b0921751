/*
 * fuzz_webhook_request — the webhook request → event path (triggers/webhook/request): content
 * type, the strict JSON body, `split:` fan-out, idempotency keys from the `id:` template or the
 * delivery headers, and the audit headers. wr_webhook_decode runs for every input against four
 * webhook workflows loaded once: plain; `id:` only; `split:` with an `id:`; `split:` keyed by
 * the delivery header; accepting form and XML bodies; a SuccessFactors preset (XML only, its
 * event id from the body) split over weir.list of its events.
 *
 * Input: header lines "Name: value" (LF or CRLF) up to the first empty line, then the body
 * bytes, like an HTTP request without its request line. Lines evhttp would refuse are dropped.
 *
 * Invariants: the status is 0 or one of 400, 413, 415, 422, with a reason and a message when
 * not 0; a delivery that is not split is one event whose text is the body, and that text is
 * what webhook_request promises to store verbatim: no NUL byte, valid UTF-8; a split delivery
 * keyed by a header has keys "<header>:<index>"; no credential header reaches the audit
 * headers.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "engine/base/diag.h"
#include "engine/lua/lua_host.h"
#include "engine/base/strutil.h"
#include "engine/lang/workflow.h"
#include "tests/fuzz/fuzz.h"
#include "triggers/webhook/request.h"

#define STEPS "steps:\n  - action: disable-user\n    user: \"{{ event.upn }}\"\n"

static const char *const workflows[] = {
    "name: plain\ntrigger:\n  webhook: {path: /hooks/plain}\n" STEPS,
    "name: keyed\ntrigger:\n  webhook: {path: /hooks/keyed, id: \"{{ event.delivery_id }}\"}\n"
    "vars: {prefix: hr}\n" STEPS,
    "name: split-keyed\ntrigger:\n  webhook:\n    path: /hooks/split\n    split: event.employees\n"
    "    id: \"{{ vars.prefix }}-{{ event.id }}\"\nvars: {prefix: hr}\n" STEPS,
    "name: split-header\ntrigger:\n  webhook: {path: /hooks/batch, split: event}\n" STEPS,
    /* issue 19: form and XML bodies; a vendor preset's event id over the whole body, split
       over an element that may or may not repeat */
    "name: bodies\ntrigger:\n  webhook: {path: /hooks/bodies, accept: [json, form, xml]}\n" STEPS,
    "name: sf\ntrigger:\n  webhook:\n    path: /hooks/sf\n"
    "    auth: {type: successfactors, secret: env:SF}\n"
    "    split: weir.list(event.ExternalEvent.events.event)\n" STEPS,
};

#define NWORKFLOWS (sizeof(workflows) / sizeof(workflows[0]))

static struct wr_workflow *loaded[NWORKFLOWS];
static bool ready;

static void free_workflows(void)
{
    for (size_t i = 0; i < NWORKFLOWS; i++) {
        wr_workflow_free(loaded[i]);
    }
}

static void setup(void)
{
    for (size_t i = 0; i < NWORKFLOWS; i++) {
        struct wr_diags d = {0};

        if (wr_workflow_parse("webhook.yaml", workflows[i], strlen(workflows[i]), ".", NULL,
                              &loaded[i], &d) != 0) {
            wr_diags_print(&d, stderr);
            wr_fuzz_fail("wr_workflow_parse: a test workflow is refused");
        }
        wr_diags_clear(&d);
    }
    atexit(free_workflows);
    ready = true;
}

/* Reads the header block into h; returns where the body starts. */
static size_t parse_headers(const uint8_t *data, size_t size, struct evkeyvalq *h)
{
    size_t pos = 0;

    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : size, line_end = end;
        const uint8_t *colon;

        if (line_end > pos && data[line_end - 1] == '\r') {
            line_end--;
        }
        if (line_end == pos) {
            return end < size ? end + 1 : size; /* the empty line: the body follows */
        }
        colon = memchr(data + pos, ':', line_end - pos);
        if (colon != NULL) {
            size_t vpos = (size_t)(colon - data) + 1;
            char *name, *value;

            while (vpos < line_end && (data[vpos] == ' ' || data[vpos] == '\t')) {
                vpos++;
            }
            name = wr_fuzz_strndup(data + pos, (size_t)(colon - data) - pos);
            value = wr_fuzz_strndup(data + vpos, line_end - vpos);
            evhttp_add_header(h, name, value); /* refuses what evhttp never lets through */
            free(name);
            free(value);
        }
        pos = end < size ? end + 1 : size;
    }
    return size;
}

static void check(const struct wr_workflow *wf, const struct evkeyvalq *h, const char *body,
                  size_t len, const struct wr_webhook_decoded *d)
{
    struct json_object *v = NULL;
    bool split = json_object_object_get_ex(wf->trigger_args, "split", &v);
    /* A preset (auth:) may bring its own event id: keyed too. */
    bool keyed = json_object_object_get_ex(wf->trigger_args, "id", &v) ||
                 json_object_object_get_ex(wf->trigger_args, "auth", &v);
    const char *hkey = evhttp_find_header(h, "webhook-id");

    if (d->status != 0) {
        if ((d->status != 400 && d->status != 413 && d->status != 415 && d->status != 422) ||
            d->reason == NULL || d->error[0] == '\0') {
            wr_fuzz_fail("wr_webhook_decode: an unexpected status, or one without its words");
        }
        return;
    }
    if (!split) {
        /* A JSON body is stored as received; a form or XML one as the JSON it became. */
        bool as_sent = d->events[0].text != NULL;
        bool other = json_object_object_get_ex(wf->trigger_args, "accept", &v);
        if (d->count != 1 ||
            (as_sent && (d->events[0].text != body || d->events[0].text_len != len)) ||
            (!as_sent && !other)) {
            wr_fuzz_fail("wr_webhook_decode: a delivery that is not split is not one event");
        }
        if (as_sent && (memchr(body, '\0', len) != NULL || !wr_utf8_valid(body, len))) {
            wr_fuzz_fail("wr_webhook_decode: event text with a NUL byte or invalid UTF-8");
        }
    }
    for (size_t i = 0; split && !keyed && hkey != NULL && *hkey != '\0' && i < d->count; i++) {
        char want[64];

        snprintf(want, sizeof(want), ":%zu", i);
        if (d->events[i].key == NULL || strncmp(d->events[i].key, hkey, strlen(hkey)) != 0 ||
            strcmp(d->events[i].key + strlen(hkey), want) != 0) {
            wr_fuzz_fail("wr_webhook_decode: a split event's key is not <webhook-id>:<index>");
        }
    }
    json_object_object_foreach(d->headers, name, value)
    {
        (void)value;
        if (wr_webhook_secret_header(name)) {
            wr_fuzz_fail("wr_webhook_decode: a credential header among the audit headers");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evkeyvalq headers;
    size_t start;
    const char *body;

    if (!ready) {
        setup();
    }
    TAILQ_INIT(&headers);
    start = parse_headers(data, size, &headers);
    /* As the server passes it: no pointer for an empty body. */
    body = size > start ? (const char *)data + start : NULL;
    for (size_t i = 0; i < NWORKFLOWS; i++) {
        struct wr_webhook_decoded d;

        wr_webhook_decode(loaded[i], &headers, body, size - start, &d);
        check(loaded[i], &headers, body, size - start, &d);
        wr_webhook_decoded_clear(&d);
        /* Collect now what this input left to Lua's collector: libFuzzer counts mallocs and
         * frees per input and runs a full leak scan whenever they differ. */
        lua_gc(wr_lua_state(loaded[i]->lua), LUA_GCCOLLECT);
    }
    evhttp_clear_headers(&headers);
    return 0;
}
