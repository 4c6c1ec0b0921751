/*
 * webhook_preset — the HR vendors' webhook recipes as data; see preset.h.
 */
#include "triggers/webhook/preset.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static const char *const body_only[] = {"body", NULL};
/* BambooHR: HMAC-SHA256 of the raw body followed by the X-BambooHR-Timestamp value. */
static const char *const bamboohr_signed[] = {"body", "header:X-BambooHR-Timestamp", NULL};
/* Deel: HMAC-SHA256 of the text "POST" followed by the raw body. */
static const char *const deel_signed[] = {"text:POST", "body", NULL};

const struct wr_webhook_preset wr_webhook_presets[] = {
    {.name = "bamboohr",
     .vendor = "BambooHR",
     .scheme = "hmac",
     .header = "X-BambooHR-Signature",
     .algorithm = "sha256",
     .encoding = "hex",
     .signed_parts = bamboohr_signed,
     .timestamp_header = "X-BambooHR-Timestamp",
     .timestamp_format = "unix",
     .accept = WR_WEBHOOK_BODY_JSON,
     .secret_help = "the webhook's private key (BambooHR: Webhooks > Private Key)"},
    {.name = "hibob",
     .vendor = "HiBob",
     .scheme = "hmac",
     .header = "Bob-Signature",
     .algorithm = "sha512",
     .encoding = "base64",
     .signed_parts = body_only,
     .accept = WR_WEBHOOK_BODY_JSON,
     .handshake = WR_WEBHOOK_HANDSHAKE_PING,
     .secret_help = "the webhook's secret (Bob: Integrations > Webhooks)"},
    {.name = "gusto",
     .vendor = "Gusto",
     .scheme = "hmac",
     .header = "X-Gusto-Signature",
     .algorithm = "sha256",
     .encoding = "hex",
     .signed_parts = body_only,
     .accept = WR_WEBHOOK_BODY_JSON,
     .default_id = "{{ event.uuid }}",
     .handshake = WR_WEBHOOK_HANDSHAKE_VERIFICATION_TOKEN,
     .secret_help = "the verification_token Gusto posts when the subscription is created"},
    {.name = "deel",
     .vendor = "Deel",
     .scheme = "hmac",
     .header = "x-deel-signature",
     .algorithm = "sha256",
     .encoding = "hex",
     .signed_parts = deel_signed,
     .accept = WR_WEBHOOK_BODY_JSON,
     .secret_help = "the signing key shown when the webhook is created"},
    {.name = "rippling",
     .vendor = "Rippling",
     .scheme = "bearer",
     .accept = WR_WEBHOOK_BODY_FORM | WR_WEBHOOK_BODY_JSON,
     .secret_help = "the bearer token configured on Rippling's side"},
    {.name = "successfactors",
     .vendor = "SAP SuccessFactors",
     .scheme = "basic",
     .accept = WR_WEBHOOK_BODY_XML,
     .default_id = "{{ event.ExternalEvent.externalEventMeta.externalEventId }}",
     .secret_help = "user:password of the endpoint's basic authentication"},
    {.name = "workday",
     .vendor = "Workday",
     .scheme = "basic",
     .accept = WR_WEBHOOK_BODY_XML,
     .secret_help = "user:password of the endpoint's basic authentication"},
    {0},
};

const struct wr_webhook_preset *wr_webhook_preset_find(const char *name)
{
    for (const struct wr_webhook_preset *p = wr_webhook_presets; name && p->name; p++) {
        if (strcmp(p->name, name) == 0) {
            return p;
        }
    }
    return NULL;
}

static const struct {
    const char *word;
    unsigned bit;
} bodies[] = {
    {"json", WR_WEBHOOK_BODY_JSON},
    {"form", WR_WEBHOOK_BODY_FORM},
    {"xml", WR_WEBHOOK_BODY_XML},
};

unsigned wr_webhook_body_bit(const char *word)
{
    for (size_t i = 0; word && i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (strcmp(bodies[i].word, word) == 0) {
            return bodies[i].bit;
        }
    }
    return 0;
}

void wr_webhook_body_names(unsigned mask, char *buf, size_t buflen)
{
    size_t n = 0;
    if (buflen == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (mask & bodies[i].bit) {
            int w = snprintf(buf + n, buflen - n, "%s%s", n ? ", " : "", bodies[i].word);
            if (w < 0 || (size_t)w >= buflen - n) {
                return;
            }
            n += (size_t)w;
        }
    }
}

void wr_webhook_preset_help(FILE *f)
{
    fputs("Webhook verification (trigger: {webhook: {auth: {type: TYPE, secret: ...}}}).\n"
          "Every request is verified on its raw bytes before anything parses it; a refusal is\n"
          "401 (403 for allow_from) with a generic body, and nothing of it is stored. `secret:`\n"
          "may be a list during a key rotation: any one of them may match.\n\n"
          "Generic types:\n"
          "  standard-webhooks  webhook-id/-timestamp/-signature (v1, HMAC-SHA256, whsec_ key)\n"
          "  github             X-Hub-Signature-256: sha256=HEX of the body\n"
          "  hmac               a recipe: header, algorithm (sha256|sha512), encoding\n"
          "                     (hex|base64), prefix, signed: [body | method | path |\n"
          "                     header:NAME | text:LITERAL ...] (default [body]), timestamp:\n"
          "                     {header, format: unix|unix_ms|iso8601, tolerance: 5m}\n"
          "  bearer             Authorization: Bearer SECRET\n"
          "  basic              Authorization: Basic base64(user:password)\n\n"
          "Presets (a vendor's recipe, its bodies and its event id):\n",
          f);
    for (const struct wr_webhook_preset *p = wr_webhook_presets; p->name; p++) {
        char accept[32];
        wr_webhook_body_names(p->accept, accept, sizeof(accept));
        fprintf(f, "  %-15s %s: ", p->name, p->vendor);
        if (strcmp(p->scheme, "hmac") == 0) {
            fprintf(f, "%s = %s HMAC-%s of", p->header, p->encoding,
                    strcmp(p->algorithm, "sha512") == 0 ? "SHA512" : "SHA256");
            for (size_t i = 0; p->signed_parts[i]; i++) {
                fprintf(f, "%s %s", i ? " +" : "", p->signed_parts[i]);
            }
            fputc('\n', f);
        } else {
            fprintf(f, "%s authentication\n", p->scheme);
        }
        if (p->timestamp_header) {
            fprintf(f, "  %-15s   timestamp %s (%s), refused when more than 5m away\n", "",
                    p->timestamp_header, p->timestamp_format);
        }
        fprintf(f, "  %-15s   bodies: %s; id: %s\n", "", accept,
                p->default_id ? p->default_id : "(none sent: set id: or rely on the body)");
        if (p->handshake == WR_WEBHOOK_HANDSHAKE_VERIFICATION_TOKEN) {
            fprintf(f,
                    "  %-15s   setup: its unsigned verification_token POST is answered 200 and\n"
                    "  %-15s   the token logged (warn) and listed by `weir webhooks`\n",
                    "", "");
        } else if (p->handshake == WR_WEBHOOK_HANDSHAKE_PING) {
            fprintf(f, "  %-15s   its test POST ({} or type ping/test) is answered 200, no run\n",
                    "");
        }
        fprintf(f, "  %-15s   secret: %s\n", "", p->secret_help);
    }
    fputs("\n`tolerance:` (default 5m) applies to standard-webhooks and the presets that send a\n"
          "timestamp; `accept:` and `id:` given in the trigger win over the preset's.\n",
          f);
}
